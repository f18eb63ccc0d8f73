/* `layerfs check STACK`: validate a stack file and summarise it: the
 * layers, the upper, and whether a layerfs daemon serves it now (a live
 * mount on its mount point, a holder of its work dir lock, or both). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "stack.h"

static void print_state(const struct stack *st)
{
	bool live = st->mountpoint && mount_is_live(st->mountpoint);
	int holder = st->work ? work_lock_holder(st->work) : 0, detached;

	if (live && holder > 0)
		printf("state: mounted on %s (daemon pid %d)\n", st->mountpoint, holder);
	else if (live)
		printf("state: mounted on %s\n", st->mountpoint);
	else if (holder > 0)
		printf("state: in use by layerfs pid %d (mounted elsewhere, or a commit or reset running)\n",
		       holder);
	else if (holder < 0)
		printf("state: in use by another layerfs process\n");
	else if (st->upper && upper_lock_busy(st->upper))
		printf("state: its upper is served by another layerfs mount (with another workdir)\n");
	else
		printf("state: not mounted\n");
	if (st->work && (detached = work_detached_holder(st->work)))
		printf("detached: layerfs pid %d still serves a mount of the upper that was "
		       "unmounted lazily (a process holds a file in it)\n", detached);
}

int cmd_check(int argc, char **argv)
{
	struct lerr err = { 0 };
	struct stack st;
	int ret = 1;

	if (argc != 2 || argv[1][0] == '-') {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		fprintf(help ? stdout : stderr, "Usage: layerfs check STACK\n"
			"Validate the stack file STACK and summarise it.\n");
		return help ? 0 : 1;
	}
	if (stack_open(argv[1], STACK_NEED_MOUNTPOINT, &st, &err)) {
		lerr_print(&err);
		goto out;
	}
	printf("stack: %s (version %d)\n", st.file, STACK_VERSION);
	printf("layers (base first): %d\n", st.nlayers);
	for (int i = 0; i < st.nlayers; i++)
		printf("  %d. %s%s%s\n", i + 1, st.layers[i].path,
		       st.layers[i].name ? "  name " : "",
		       st.layers[i].name ? st.layers[i].name : "");
	if (st.upper) {
		printf("upper: %s\n", st.upper);
		printf("work: %s\n", st.work);
	} else {
		printf("upper: none (read-only stack)\n");
	}
	printf("mountpoint: %s\n", st.mountpoint ? st.mountpoint : "none");
	print_state(&st);
	ret = 0;
out:
	stack_free(&st);
	return ret;
}
