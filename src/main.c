/* layerfs: entry point. Parses the command line, opens and checks the
 * layers, mounts, and runs the request loop until unmounted. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs.h"
#include "stack.h"

struct fs fs = { .workfd = -1, .procfd = -1 };

/* Every node the kernel holds keeps descriptors open: allow as many as
 * the system does where we may raise the hard limit, else the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	unsigned long nr_open = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (nr_open > rl.rlim_max) {
		struct rlimit big = { nr_open, nr_open };
		if (setrlimit(RLIMIT_NOFILE, &big) == 0)
			return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The largest READ the kernel sends. libfuse splices a read's data to
 * the kernel only if the pipe holds the reply whole, and an unprivileged
 * process cannot grow a pipe past fs.pipe-max-size (1 MiB), which a
 * 1 MiB read plus its header overflows: libfuse then reads into a fresh
 * buffer and copies it, five times slower for a cold sequential read.
 * Half a MiB splices. A max_read= of the caller's own replaces it; it is
 * written here once, in decimal, the value lfs_init() repeats to libfuse. */
#define DEFAULT_MAX_READ	(512u << 10)

static int build_fuse_args(struct fuse_args *args, struct config *cfg,
			   const char *argv0)
{
	char opts[4096];
	int n;

	fs.max_read = cfg->max_read ? cfg->max_read : DEFAULT_MAX_READ;

	/* The kernel checks permissions against the merged attributes;
	 * root mounts are shared with every user, as kernel overlays are.
	 * Mounted by root (of any user namespace), set-id programs and
	 * device nodes work as on a kernel overlay (libfuse would mount
	 * nosuid,nodev); nosuid or nodev of the caller's come later and
	 * win. fusermount3 forces both for plain users anyway. */
	n = snprintf(opts, sizeof(opts), "default_permissions,max_read=%u,fsname=layerfs,subtype=layerfs%s%s%s%s%s",
		     fs.max_read, geteuid() == 0 ? ",suid,dev" : "",
		     (geteuid() == 0 && !cfg->allow_other_given) ? ",allow_other" : "",
		     fs.has_upper ? "" : ",ro",
		     cfg->fuse_opts ? "," : "", cfg->fuse_opts ? cfg->fuse_opts : "");
	if (n < 0 || (size_t)n >= sizeof(opts)) {
		lfs_log("mount options too long");
		return -1;
	}
	if (fuse_opt_add_arg(args, argv0) || fuse_opt_add_arg(args, "-o") ||
	    fuse_opt_add_arg(args, opts))
		return -1;
	if (cfg->debug && fuse_opt_add_arg(args, "-d"))
		return -1;
	return 0;
}

static void bdi_set(const char *dev, const char *knob, const char *value)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/class/bdi/%s/%s", dev, knob);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0) {
		/* the kernel's default stays */
	}
	close(fd);
}

/* Settings of the mount's backing device that only root may change; for
 * others the kernel's defaults stay. The device is the mount's: a plain
 * stat of the mount point would be a request to ourselves, which nobody
 * serves yet, but with AT_STATX_DONT_SYNC the kernel answers from the
 * root inode it made at the mount (the device number is all we read;
 * mountinfo, read before, grows with every mount of the host).
 * - read_ahead_kb: the kernel reads ahead 128 KiB on a FUSE mount, a
 *   request per 128 KiB of a sequential read. 4 MiB keeps eight
 *   max_read requests in flight, so the threads wait for the layers'
 *   disk side by side; with 1 MiB (two at a time) a cold 1 GiB read
 *   took 0.34-0.92 s, with 4 MiB 0.34-0.43 s (the kernel's overlay:
 *   0.25 s, reading ahead what the disk's own read_ahead_kb says).
 * - max_ratio: a FUSE mount may hold only 1 % of the dirty page limit, so
 *   a writer soon waits for the writeback of every page it dirties (4k
 *   random writes over 256 MiB: 130k IOPS instead of the 320k of the
 *   kernel's overlayfs). The pages are the upper layer's, written by the
 *   daemon to the disk below, which has no such cap: neither do we. */
static void tune_bdi(const char *mountpoint, bool writable)
{
	char dev[32], kb[16];
	struct statx sx;

	if (statx(AT_FDCWD, mountpoint, AT_STATX_DONT_SYNC | AT_NO_AUTOMOUNT, 0, &sx) < 0)
		return;
	snprintf(dev, sizeof(dev), "%u:%u", sx.stx_dev_major, sx.stx_dev_minor);
	snprintf(kb, sizeof(kb), "%d", READAHEAD_KB);
	bdi_set(dev, "read_ahead_kb", kb);
	if (writable)
		bdi_set(dev, "max_ratio", "100");
}

/* The request loop's result as the exit status. SIGINT, SIGTERM and
 * SIGHUP (stop.c) are how a service is told to stop (`systemctl stop`,
 * ^C), and the file system is unmounted next: 0, as after an unmount. */
static int loop_status(int res, bool signalled)
{
	return res == 0 || signalled ? 0 : 1;
}

/* Let go of the work dir lock LOCKFD. A mount REFUSED after taking it
 * (the upper in use, a failed probe, the mount itself) leaves the work
 * dir as it found it: the staging dir and the lock file go again if it
 * created them. */
static void work_let_go(int lockfd, bool refused)
{
	char *staging;

	if (refused && lockfd >= 0 && fs.staging_made) {
		staging = path_resolve(fs.cfg->workdir, LAYERFS_STAGING);
		rmdir(staging);
		free(staging);
	}
	work_lock_end(lockfd, refused);
}

/* fuse_daemonize(), with the child made on the CPU this process runs on,
 * where it starts as soon as the parent waits for it: the mount command
 * returns only after the child's first steps, and a child the scheduler
 * put on the other CPU (halted, on a VM) started later (mounts of three
 * layers: 6.5-6.9 ms against 7.1-7.2 ms, docs/architecture.md). The
 * child gets back the CPUs it may use before it starts any thread. */
static int daemonize(bool foreground)
{
	cpu_set_t was, here;
	bool pinned = false;
	int cpu, res;

	if (!foreground && (cpu = sched_getcpu()) >= 0 &&
	    sched_getaffinity(0, sizeof(was), &was) == 0) {
		CPU_ZERO(&here);
		CPU_SET(cpu, &here);
		pinned = sched_setaffinity(0, sizeof(here), &here) == 0;
	}
	res = fuse_daemonize(foreground);
	if (pinned && sched_setaffinity(0, sizeof(was), &was) < 0)
		lfs_log("warning: the daemon keeps to CPU %d (cannot set its "
			"CPUs back: %s)", cpu, strerror(errno));
	return res;
}

/* What may start while the loop serves already: the read-ahead, idle
 * polling, the descriptor relief and the mount watch, and the close of
 * the layers' mount trees (layer.c). The mount is usable once INIT is
 * answered, and its caller (podman, runc) uses it at once: done in line,
 * each thread made here took 0.3-1 ms before INIT on this project's VM
 * (page faults cost 11-20 us there) and fdrelief_start()'s dlopen up to
 * 3 ms. A thread that waited for INIT to begin did them while the
 * caller's first requests were served, which came out slower still. */
static void *late_start(void *arg)
{
	struct config *cfg = arg;

	test_pause("late_start", "");
	if (cfg->prefetch)
		prefetch_start();
	if (cfg->idlepoll)
		idlepoll_start();
	fdrelief_start();
	mountwatch_start(cfg->mountpoint);
	layers_let_trees_go();
	return NULL;
}

/* Check the layers, mount CFG->mountpoint and serve requests until
 * unmounted. Returns the process exit status. Shared by the -o form and
 * the stack subcommands. */
int daemon_run(struct config *cfg, const char *argv0)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc = NULL;
	struct fuse_lowlevel_ops ops;
	struct fuse_session *se;
	char lockerr[PATH_MAX + 128];
	int lockfd = -1, probe_err, res;
	bool served = false, starter_up = false;
	pthread_t starter;
	int ret = 1;

	umask(0);
	fs.timeout = cfg->timeout;
	/* first: layers_open() keeps descriptors as the limit allows */
	raise_fd_limit();
	if (layers_open(&fs, cfg) < 0)
		return 1;
	if (build_fuse_args(&args, cfg, argv0) < 0)
		return 1;

	ops = lfs_ops;
	if (cfg->noxattrs) {
		/* libfuse answers ENOSYS, as fuse-overlayfs does with this
		 * option: the kernel then says EOPNOTSUPP, as a file system
		 * without xattrs does, and stops asking */
		ops.getxattr = NULL;
		ops.listxattr = NULL;
		ops.setxattr = NULL;
		ops.removexattr = NULL;
	}
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se) {
		lfs_log("cannot set up the FUSE session (see the message above)");
		goto out_args;
	}
	fs.se = se;
	/* One daemon per work dir: a second one would wipe the first's
	 * staging area. Nothing is written to the workdir before every check
	 * passed and the lock is ours. */
	if (cfg->workdir) {
		if (upper_lock_wait_free(cfg->upperdir, cfg->workdir, lockerr,
					 sizeof(lockerr)) < 0) {
			lfs_log("%s", lockerr);
			goto out_session;
		}
		lockfd = work_lock_acquire(cfg->workdir, lockerr, sizeof(lockerr));
		if (lockfd < 0) {
			lfs_log("%s", lockerr);
			goto out_session;
		}
		if (upper_lock_attach(cfg->upperdir, cfg->workdir, lockfd, lockerr, sizeof(lockerr)) < 0) {
			lfs_log("%s", lockerr);
			goto out_session;
		}
		lockfd = work_lock_private(lockfd, cfg->workdir, fs.workfd,
					   fs.layers[0].fd, lockerr, sizeof(lockerr));
		if (lockfd < 0) {
			lfs_log("%s", lockerr);
			goto out_session;
		}
	}
	if (staging_prepare(&fs) < 0)
		goto out_session;
	caps_probe(&fs);
	/* lfs_init() keeps opens for such a daemon; said here, since by the
	 * time the kernel's INIT comes a background daemon's stderr is gone */
	if (cfg->noopen_set && cfg->noopen && !fs.dac_override)
		lfs_log("noopen: the daemon cannot open files whatever their mode "
			"(no CAP_DAC_OVERRIDE); opens are sent as usual");
	if (cfg->userxattr && fs.has_upper && fs.opq_style != OPQ_USER) {
		lfs_log("userxattr: workdir '%s' takes no user.* xattrs: "
			"opaque directories could not be marked as asked", cfg->workdir);
		goto out_session;
	}
	fs.selinux_host = access("/sys/fs/selinux/enforce", F_OK) == 0;
	override_detect_layers(&fs);
	if ((probe_err = override_probe(&fs)) < 0) {
		lfs_log("xattr_permissions=%d: cannot write %s in workdir '%s': %s",
			cfg->xattr_permissions, fs.override_xattr, cfg->workdir,
			strerror(-probe_err));
		goto out_session;
	}
	if (nodes_init() < 0) {
		lfs_log("cannot read the layer roots: %s", strerror(errno));
		goto out_session;
	}
	if (cfg->debug)
		lfs_log("whiteouts: %s; opaque directories: %s",
			wh_style_name(fs.wh_style), opq_style_name(fs.opq_style));
	if (stop_handlers_set() != 0)
		goto out_session;
	if (fuse_session_mount(se, cfg->mountpoint) != 0) {
		lfs_log("cannot mount on '%s'", cfg->mountpoint);
		goto out_signals;
	}
	lfs_log_mounted(cfg->mountpoint);
	if (mount_flags_apply(cfg) < 0)
		goto out_unmount;
	if (session_io_attach(se) != 0) {
		lfs_log("cannot set up the FUSE session's I/O");
		goto out_unmount;
	}
	if (daemonize(cfg->foreground) != 0)
		goto out_unmount;
	lfs_log_serving(!cfg->foreground);
	if (proc_open(&fs) < 0)
		goto out_unmount;
	/* after the fork, outside the mount's time, but before the loop
	 * answers INIT: the kernel reads ahead the smaller of the device's
	 * setting and the daemon's offer */
	tune_bdi(cfg->mountpoint, fs.has_upper);
	stop_start(cfg->mountpoint);
	if (lockfd >= 0)
		work_lock_set_pid(lockfd);
	override_mark_upper(&fs);
	if (caps_drop() < 0 && cfg->debug)
		lfs_log("could not drop capabilities: %s", strerror(errno));

	served = true;
	fdrelief_limits();
	/* taking no signals, as the threads it starts: only the loop's
	 * thread takes SIGINT, SIGTERM and SIGHUP (stop.c) */
	starter_up = spawn_joinable(&starter, late_start, cfg);
	if (!starter_up)
		late_start(cfg);
	if (cfg->threaded) {
		lc = fuse_loop_cfg_create();
		/* under a low open-file limit, no descriptor of their own */
		fuse_loop_cfg_set_clone_fd(lc, fdrelief_thread_fds());
		fuse_loop_cfg_set_max_threads(lc, REQUEST_THREADS);
		/* threads that start for a burst of requests stay: with
		 * fewer idle ones allowed, a sequential read started and ended
		 * ninety threads per GiB (docs/architecture.md) */
		fuse_loop_cfg_set_idle_threads(lc, REQUEST_THREADS);
		res = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	} else {
		res = fuse_session_loop(se);
	}
	ret = loop_status(res, stop_loop_done());
	if (starter_up)
		pthread_join(starter, NULL);
	prefetch_stop();
	fdrelief_stop();
	inval_entries_wait();
out_unmount:
	work_lock_leaving();
	if (stop_may_unmount())
		fuse_session_unmount(se);
	/* This daemon writes no layer from here on (after a lazy unmount,
	 * files that pass through are still written by the kernel, as they
	 * were before the lock went at the end of the exit): a new mount of
	 * the same upper (podman restarting a container) need not wait for
	 * the rest of this exit. */
	work_let_go(lockfd, !served);
	lockfd = -1;
out_signals:
	stop_handlers_remove();
out_session:
	fuse_session_destroy(se);
	work_let_go(lockfd, true);
out_args:
	fuse_opt_free_args(&args);
	layers_close(&fs);
	return ret;
}

int main(int argc, char **argv)
{
	struct config cfg;
	int ret;

	if (argc > 1 && subcommand_find(argv[1]))
		return subcommand_run(argc - 1, argv + 1);
	switch (options_parse(argc, argv, &cfg)) {
	case OPT_EXIT_OK:
		ret = 0;
		break;
	case OPT_ERROR:
		ret = 1;
		break;
	case OPT_REMOUNT:
		ret = remount_run(&cfg);
		break;
	default:
		ret = daemon_run(&cfg, argv[0]);
		break;
	}
	options_free(&cfg);
	return ret;
}
