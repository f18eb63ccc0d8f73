/* `layerfs commit STACK [--name NAME]` and `layerfs reset STACK
 * [--remount]`: the command lines around snapshot.c. Both rewrite the
 * upper, so both hold the work dir lock and refuse a mounted stack. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stack.h"

static int commit_usage(FILE *out)
{
	fprintf(out, "Usage: layerfs commit STACK [--name NAME]\n"
		"Turn the upper into a new top layer, %s/NAME next to the stack file,\n"
		"add it to the stack file and start again with an empty upper.\n",
		LAYERS_SUBDIR);
	return out == stdout ? 0 : 1;
}

int cmd_commit(int argc, char **argv)
{
	const char *file = NULL, *name = NULL;
	struct lerr err = { 0 };
	struct stack st;
	int lock = -1, ret = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return commit_usage(stdout);
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strncmp(argv[i], "--name=", 7))
			name = argv[i] + 7;
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else
			return commit_usage(stderr);
	}
	if (!file)
		return commit_usage(stderr);
	memset(&st, 0, sizeof(st));
	switch (stack_open_locked(file, STACK_NEED_UPPER, "commit", &st, &lock, &err)) {
	case 0:
		break;
	case -2:
		lerr_add(&err, "%s: cannot commit while the upper is in use", file);
		/* fall through */
	default:
		goto out;
	}
	if (stack_refuse_if_mounted(&st, &err) || commit_run(&st, name, &err))
		goto out;
	ret = 0;
out:
	work_lock_end(lock, ret != 0);
	lerr_print(&err);
	stack_free(&st);
	return ret;
}

static int reset_usage(FILE *out)
{
	fprintf(out, "Usage: layerfs reset STACK [--remount]\n"
		"Discard the upper and work contents: back to the pristine layers.\n"
		"  --remount   unmount a mounted stack, reset it and mount it again\n");
	return out == stdout ? 0 : 1;
}

int cmd_reset(int argc, char **argv)
{
	const char *file = NULL;
	bool remount = false, was_mounted;
	struct lerr err = { 0 };
	struct stack st;
	int lock = -1, holder, ret = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return reset_usage(stdout);
		if (!strcmp(argv[i], "--remount"))
			remount = true;
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else
			return reset_usage(stderr);
	}
	if (!file)
		return reset_usage(stderr);
	memset(&st, 0, sizeof(st));
	if (stack_open(file, STACK_NEED_UPPER, &st, &err))
		goto out;
	was_mounted = st.mountpoint && mount_is_live(st.mountpoint);
	holder = work_lock_holder(st.work);
	if (was_mounted && !remount) {
		lerr_add(&err, "%s: mounted on %s: unmount it first (layerfs umount %s), or use reset --remount",
			 st.arg, st.mountpoint, file);
		goto out;
	}
	if (was_mounted) {
		if (umount_path(st.mountpoint, &err))
			goto out;
		/* the daemon drops its lock as it leaves */
		for (int i = 0; i < 100 && work_lock_holder(st.work) != 0; i++)
			usleep(50000);
	} else if (holder != 0 && remount) {
		lerr_add(&err, "%s: in use, but not mounted on its mount point %s: --remount cannot remount it",
			 st.arg, st.mountpoint ? st.mountpoint : "(none)");
		goto out;
	}
	/* with --remount the lock is kept for the daemon: nobody slips in */
	stack_free(&st);
	switch (stack_open_locked(file, STACK_NEED_UPPER, was_mounted ? "mount" : "reset",
				  &st, &lock, &err)) {
	case 0:
		break;
	case -2:
		lerr_add(&err, "%s: cannot reset while the upper is in use", file);
		/* fall through */
	default:
		goto out;
	}
	if (upper_reset(&st, &err))
		goto out;
	if (was_mounted) {
		ret = mount_stack_daemon(&st, NULL, false, false, "layerfs");
		lock = -1;	/* handed over to, and released by, the daemon */
		goto out;
	}
	ret = 0;
out:
	work_lock_end(lock, ret != 0);
	if (ret)
		work_lock_drop_held();
	lerr_print(&err);
	stack_free(&st);
	return ret;
}
