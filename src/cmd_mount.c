/* `layerfs mount STACK [MOUNTPOINT]` and `layerfs umount STACK|MOUNTPOINT`.
 * A stack mounts through the same daemon_run as the -o form: the stack
 * file only fills the struct config. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stack.h"

/* Mount ST on MOUNTPOINT (or its own) and serve it; returns the exit
 * status (in the background, the parent's exit is fuse_daemonize's). */
int mount_stack_daemon(struct stack *st, const char *mountpoint,
		       bool foreground, bool debug, const char *argv0)
{
	struct lerr err = { 0 };
	struct config cfg;
	int ret = 1;

	if (stack_fill_config(st, mountpoint, &cfg, &err)) {
		lerr_print(&err);
		work_lock_drop_held();
		return 1;
	}
	cfg.foreground = foreground || debug;
	cfg.debug = debug;
	if (mount_is_live(cfg.mountpoint)) {
		fprintf(stderr, "layerfs: %s: already a layerfs mount\n", cfg.mountpoint);
		goto out;
	}
	/* Taken here too, so that a stack mount is locked even by a daemon
	 * that does not lock itself; daemon_run's work_lock_acquire takes
	 * this very lock over. */
	if (cfg.workdir && work_lock_take(cfg.workdir, "mount", &err) < 0) {
		lerr_print(&err);
		goto out;
	}
	ret = daemon_run(&cfg, argv0);
out:
	/* the lock the caller took for the daemon, if daemon_run did not
	 * take it over: a refused mount removes the lock file it made */
	work_lock_drop_held();
	options_free(&cfg);
	return ret;
}

static int mount_usage(FILE *out)
{
	fprintf(out, "Usage: layerfs mount [-f] [-d] STACK [MOUNTPOINT]\n"
		"Mount the stack described by the file STACK (see layerfs-stack(5)) on\n"
		"MOUNTPOINT, or on its \"mountpoint\".\n"
		"  -f   stay in the foreground (else messages go to the system log)\n"
		"  -d   log every request (implies -f)\n");
	return out == stdout ? 0 : 1;
}

int cmd_mount(int argc, char **argv)
{
	const char *pos[2] = { NULL, NULL };
	bool fg = false, debug = false;
	struct lerr err = { 0 };
	struct stack st;
	int npos = 0, lock, ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return mount_usage(stdout);
		if (!strcmp(argv[i], "-f"))
			fg = true;
		else if (!strcmp(argv[i], "-d") || !strcmp(argv[i], "--debug"))
			debug = true;
		else if (argv[i][0] == '-' || npos == 2)
			return mount_usage(stderr);
		else
			pos[npos++] = argv[i];
	}
	if (npos == 0)
		return mount_usage(stderr);
	/* the lock is kept for the daemon, which takes it over */
	if (stack_open_locked(pos[0], pos[1] ? 0 : STACK_NEED_MOUNTPOINT, "mount",
			      &st, &lock, &err)) {
		lerr_print(&err);
		stack_free(&st);
		return 1;
	}
	ret = mount_stack_daemon(&st, pos[1], fg, debug, "layerfs");
	stack_free(&st);
	return ret;
}

/* fusermount3 -u, which an unprivileged owner of the mount may run;
 * its complaints are kept quiet since umount2 is tried next. */
static int run_fusermount(const char *mountpoint)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("fusermount3", "fusermount3", "-u", "--", mountpoint, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Refuse MOUNTPOINT unless its top-most mount is layerfs: fusermount3
 * and umount2(2) of the path take away whatever is on top, and a file
 * system mounted over a layerfs mount is not ours to unmount. */
static int umount_check(const char *mountpoint, struct lerr *err)
{
	char *top;
	bool layerfs = mount_lookup(mountpoint, &top);
	int ret = 0;

	if (!layerfs)
		ret = top ? lerr_add(err, "%s: not a layerfs mount (the mount there is %s)",
				     mountpoint, top)
			  : lerr_add(err, "%s: not mounted (no layerfs mount there)", mountpoint);
	else if (strcmp(top, "fuse.layerfs"))
		ret = lerr_add(err, "%s: a %s mount lies on top of the layerfs mount there: "
			       "unmount it first", mountpoint, top);
	free(top);
	return ret;
}

int umount_path(const char *mountpoint, struct lerr *err)
{
	/* by the path the mount table has: "mnt/." or a symbolic link to
	 * it would walk into a mount whose daemon may be gone (ENOTCONN) */
	char *canon;
	int ret = 0;

	if (umount_check(mountpoint, err))
		return -1;
	canon = mountpoint_canonical(mountpoint);
	if (!canon)
		return lerr_add(err, "%s: %s", mountpoint, strerror(errno));
	if (run_fusermount(canon) != 0 && umount2(canon, 0) < 0)
		ret = lerr_add(err, "%s: cannot unmount: %s", mountpoint, strerror(errno));
	free(canon);
	return ret;
}

/* The daemon leaves shortly after its mount goes: wait for it to drop the
 * work lock, so that a commit or reset right after umount finds it free. */
static void wait_lock_free(const char *work)
{
	for (int i = 0; i < 100 && work_lock_holder(work) != 0; i++)
		usleep(50000);
}

int cmd_umount(int argc, char **argv)
{
	struct lerr err = { 0 };
	struct stack st;
	struct stat sb;
	const char *mp;
	int ret = 1;

	if (argc != 2 || argv[1][0] == '-') {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		fprintf(help ? stdout : stderr, "Usage: layerfs umount STACK|MOUNTPOINT\n");
		return help ? 0 : 1;
	}
	memset(&st, 0, sizeof(st));
	/* A dead daemon's mount point answers ENOTCONN: still a mount point. */
	if (stat(argv[1], &sb) == 0 && S_ISREG(sb.st_mode)) {
		/* A stack whose layer vanished must still unmount: only the
		 * mount point (and work dir) are needed from it. */
		stack_open(argv[1], STACK_NO_RECOVER, &st, &err);
		if (!st.mountpoint) {
			if (!err.count)
				lerr_add(&err, "%s: the stack has no \"mountpoint\": give the mount point instead",
					 argv[1]);
			lerr_print(&err);
			goto out;
		}
		lerr_free(&err);
		mp = st.mountpoint;
	} else {
		mp = argv[1];
	}
	if (umount_path(mp, &err)) {
		lerr_print(&err);
		goto out;
	}
	if (st.work)
		wait_lock_free(st.work);
	ret = 0;
out:
	stack_free(&st);
	return ret;
}
