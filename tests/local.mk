# C helpers and scripts used by the bats tests (built by `make check`).
check_PROGRAMS += tests/tools/fsops
tests_tools_fsops_SOURCES = tests/tools/fsops.c
check_PROGRAMS += tests/tools/renamerace
tests_tools_renamerace_SOURCES = tests/tools/renamerace.c
check_PROGRAMS += tests/tools/truncrace
tests_tools_truncrace_SOURCES = tests/tools/truncrace.c
tests_tools_truncrace_CFLAGS = $(WARN_CFLAGS) -pthread
tests_tools_truncrace_LDFLAGS = -pthread
check_PROGRAMS += tests/tools/stress
tests_tools_stress_SOURCES = tests/tools/stress.c
tests_tools_stress_CFLAGS = $(WARN_CFLAGS) $(SAN_CFLAGS) -pthread
tests_tools_stress_LDFLAGS = $(SAN_LDFLAGS) -pthread
check_PROGRAMS += tests/tools/sizelie
tests_tools_sizelie_SOURCES = tests/tools/sizelie.c
tests_tools_sizelie_CFLAGS = $(WARN_CFLAGS) $(FUSE3_CFLAGS)
tests_tools_sizelie_LDADD = $(FUSE3_LIBS)

EXTRA_DIST += \
	tests/tools/scenario.sh \
	tests/tools/dumptree.sh \
	tests/tools/sysworkload.sh \
	tests/tools/setid.sh \
	tests/tools/difffuzz.py \
	tests/tools/fuzzops.py \
	tests/tools/capwrite.py \
	tests/tools/mapstat.py \
	tests/tools/times.py \
	tests/tools/logsink.py \
	tests/tools/stress.sh
