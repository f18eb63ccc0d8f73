/* Stopping on SIGINT, SIGTERM and SIGHUP (a service stopped, ^C).
 *
 * libfuse's handlers end the request loop at once, and the connection
 * with it. The pages the kernel's writeback cache held for files still
 * open were then dropped without reaching the upper layer: what write(2)
 * had taken from a writer (dd in the middle of a copy), a shared
 * mapping's stores. Only the writer's later fsync(2) or close(2) told,
 * with ENOTCONN. An unmount, umount -l as well, has them written back
 * first, and so does the kernel's overlay, whose pages are the upper's.
 *
 * So the signal only wakes a thread that has the kernel write the mount's
 * dirty pages back (syncfs(2) on its root, whose requests the loop, still
 * running, serves) and then ends the loop as libfuse's handler would.
 * What is written after that still fails with ENOTCONN: the daemon goes,
 * as it was told to. A second signal ends the loop at once, should the
 * write-back not end (a disk that hangs). Signals ignored when the daemon
 * started stay ignored (a background job of a script ignores SIGINT),
 * as with libfuse's handlers. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs.h"

#define STOP_LOOK_US	10000	/* between two looks at the loop */
#define STOP_QUIET	3	/* looks in a row with nothing to do */
#define STOP_LOOKS	1000	/* looks at most */

static const int stop_sigs[] = { SIGINT, SIGTERM, SIGHUP };
#define NSIGS (sizeof(stop_sigs) / sizeof(stop_sigs[0]))

static sem_t wake;		/* posted by the first signal */
static volatile sig_atomic_t got;	/* that signal, 0 before */
static volatile sig_atomic_t loop_done;	/* the loop returned */
static volatile sig_atomic_t stopper_up;	/* the thread below runs */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;	/* loop_done vs. uses of fs.se */
static pthread_t loop_thread;
static bool ours[NSIGS];	/* which of stop_sigs have our handler */
static char *mnt_path;		/* the mount point, absolute */
static dev_t mnt_dev;		/* our mount's device, 0 if not known */

static void on_signal(int sig)
{
	if (loop_done)
		return;
	if (got || !stopper_up) {
		/* the second one, the stopper waking the loop, or one that
		 * came before the loop served (nothing to write back) */
		if (!got)
			got = sig;
		fuse_session_exit(fs.se);
		return;
	}
	got = sig;
	sem_post(&wake);
}

/* Has the loop nothing to do: no request waits in the kernel, none is
 * being served? Or has it returned (a second signal), and the session
 * may be gone? */
static bool loop_idle(void)
{
	struct pollfd p = { .events = POLLIN };
	bool idle = true;

	pthread_mutex_lock(&mu);
	if (!loop_done) {
		p.fd = fuse_session_fd(fs.se);
		idle = session_serving() == 0 && poll(&p, 1, 0) == 0;
	}
	pthread_mutex_unlock(&mu);
	return idle;
}

/* Have the kernel write back the dirty pages of our mount on MNT_PATH:
 * of our mount only, not of one mounted on top of it since, nor of what
 * lies below once it was detached. */
static void write_back(void)
{
	struct stat st;
	int fd, i, quiet = 0;

	if (!mnt_dev)
		return;
	fd = fdrelief_open_spare(mnt_path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		lfs_log("cannot write back before the exit: %s", strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != mnt_dev) {
		close(fd);
		fdrelief_spare_again();
		return;
	}
	if (syncfs(fd) < 0)
		lfs_log("writing back before the exit: %s", strerror(errno));
	close(fd);
	fdrelief_spare_again();
	/* syncfs(2) sends the WRITE requests but does not wait for a FUSE
	 * mount's replies (Linux 6.18: one to two MiB of three were
	 * missing on the upper, one exit in four). A reply puts the next
	 * background request in the queue before it returns: the writes
	 * are done once the loop has had nothing to do for a few looks in a
	 * row. At most 10 s, for a caller that keeps it busy. */
	for (i = 0; i < STOP_LOOKS && quiet < STOP_QUIET; i++) {
		quiet = loop_idle() ? quiet + 1 : 0;
		usleep(STOP_LOOK_US);
	}
}

static void *stopper(void *arg)
{
	(void)arg;
	while (sem_wait(&wake) < 0)
		;
	write_back();
	/* the loop sleeps until a signal interrupts it: send ours until it
	 * has returned (one that came just before it began to sleep would
	 * be lost); never after, when the session is gone */
	for (;;) {
		pthread_mutex_lock(&mu);
		if (loop_done) {
			pthread_mutex_unlock(&mu);
			return NULL;
		}
		fuse_session_exit(fs.se);
		pthread_kill(loop_thread, got);
		pthread_mutex_unlock(&mu);
		usleep(100 * 1000);
	}
}

/* Take SIGINT, SIGTERM and SIGHUP (those not ignored) instead of
 * libfuse's fuse_set_signal_handlers(), and ignore SIGPIPE as it does.
 * Call from the thread that runs the loop. */
int stop_handlers_set(void)
{
	struct sigaction sa = { .sa_handler = on_signal }, old;
	size_t i;

	if (sem_init(&wake, 0, 0) < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIGS; i++) {
		if (sigaction(stop_sigs[i], NULL, &old) < 0)
			return -1;
		if (old.sa_handler != SIG_DFL)
			continue;
		if (sigaction(stop_sigs[i], &sa, NULL) < 0)
			return -1;
		ours[i] = true;
	}
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Start the thread that stops the daemon, once in the process that will
 * serve MOUNTPOINT (after fuse_daemonize()), from the loop's thread. */
void stop_start(const char *mountpoint)
{
	char dev[32];

	loop_thread = pthread_self();
	if (mountinfo_dev("/proc/self/mountinfo", mountpoint, dev, sizeof(dev),
			  NULL, 0))
		mnt_dev = devno_parse(dev);
	mnt_path = xstrdup(mountpoint);
	if (spawn_detached(stopper, NULL))
		stopper_up = 1;
	else
		lfs_log("cannot start the thread that stops the daemon: "
			"SIGINT, SIGTERM and SIGHUP end it without having the "
			"kernel write back first");
}

/* May the daemon unmount MOUNTPOINT by its path (libfuse's
 * fuse_session_unmount())? Only while our mount is the top-most there:
 * with a file system mounted on top of it since (a second mount on the
 * same directory), or ours detached and another one there, umount2(2)
 * of the path took that one away, and left ours, dead, under it. Ours is
 * then left as a killed daemon's is: it answers ENOTCONN until unmounted.
 * Where our device is not known, as libfuse does. */
bool stop_may_unmount(void)
{
	char dev[32];

	if (!mnt_dev)
		return true;
	if (own_mount_dev(mnt_path, dev, sizeof(dev)) &&
	    devno_parse(dev) == mnt_dev)
		return true;
	lfs_log("another mount lies on top of ours, or ours is gone from "
		"there: not unmounted by its path");
	return false;
}

/* The loop has returned: no signal touches the session from here. Was
 * it a signal that ended it? */
bool stop_loop_done(void)
{
	pthread_mutex_lock(&mu);
	loop_done = 1;
	pthread_mutex_unlock(&mu);
	return got != 0;
}

/* Back to the default action for the signals we took. */
void stop_handlers_remove(void)
{
	size_t i;

	for (i = 0; i < NSIGS; i++)
		if (ours[i])
			signal(stop_sigs[i], SIG_DFL);
}
