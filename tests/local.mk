# C helpers used by the bats tests (built by `make check`).
