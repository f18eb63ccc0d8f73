# C helpers and scripts used by the bats tests (built by `make check`).
check_PROGRAMS += tests/tools/fsops
tests_tools_fsops_SOURCES = tests/tools/fsops.c

EXTRA_DIST += \
	tests/tools/scenario.sh \
	tests/tools/dumptree.sh
