/* Staying under the open-file limit.
 *
 * Every directory node the kernel holds keeps a descriptor per layer that
 * has the directory (lookup.c), and the kernel holds what it caches for as
 * long as memory allows. A walk of a tree with more directories than the
 * limit allows would fail with EMFILE, where the kernel's overlay and
 * fuse-overlayfs go on: a root without CAP_SYS_RESOURCE cannot raise a hard
 * limit of, say, 20000, nor a user one of 1024.
 *
 * So once a descriptor number comes within HEADROOM of the limit (half
 * of a limit under 512), a thread asks the kernel to drop the dentries of
 * the inodes it holds that nothing uses (FUSE_NOTIFY_PRUNE, Linux 6.18 and
 * later). The kernel then forgets those inodes, and their nodes close
 * their descriptors. Open files, working directories and mount points are
 * in use and stay; what goes is only cache, looked up again when next
 * used. An open that meets EMFILE anyway waits for a round and tries
 * again, up to TRIES times. On older kernels the notification is refused,
 * and the limit stays a hard one. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "layerfs.h"

#define NOTIFY_PRUNE	9	/* FUSE_NOTIFY_PRUNE, protocol 7.45 */
#define PRUNE_CHUNK	4096	/* node ids per notification */
#define ROUND_GAP_MS	100	/* a round at most this often */
#define WAIT_MS		500	/* how long an open waits for a round */
#define TRIES		5	/* rounds an open at EMFILE waits for */
#define FORGET_POLLS	20	/* tries after a round, as FORGETs come */
#define FORGET_POLL_US	1000
#define HEADROOM	256	/* descriptors kept free of nodes' */
#define THREAD_FDS	3	/* a request thread's: a /dev/fuse clone, a pipe */

struct prune_out {	/* struct fuse_notify_prune_out */
	uint32_t count;
	uint32_t padding;
	uint64_t spare;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kick_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv;		/* timed waits: CLOCK_MONOTONIC */
static bool kicked;
static uint64_t rounds;			/* rounds finished */
static int high;			/* a descriptor this high starts a round */
static bool refused;			/* the kernel knows no prune */
static rlim_t room;			/* descriptors above the threshold */
static rlim_t threshold;		/* the limit less ROOM */
static __thread bool no_wait;		/* fdrelief_nowait() */
static int spare = -1;			/* fdrelief_open_spare()'s */
/* held while a notification is written: after fdrelief_stop() none is,
 * as the session's descriptor may be closed and its number reused */
static pthread_mutex_t send_mu = PTHREAD_MUTEX_INITIALIZER;
static bool stopped;

static void deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

static int send_prune(const uint64_t *ids, uint32_t n)
{
	struct prune_out po = { .count = n };
	struct fuse_out_header oh = {
		.len = (uint32_t)(sizeof(oh) + sizeof(po) + n * sizeof(*ids)),
		.error = NOTIFY_PRUNE,
	};
	struct iovec iov[3] = {
		{ &oh, sizeof(oh) },
		{ &po, sizeof(po) },
		{ (void *)ids, n * sizeof(*ids) },
	};

	return writev(fuse_session_fd(fs.se), iov, 3) < 0 ? -errno : 0;
}

static void prune_round(void)
{
	size_t n, off;
	uint64_t *ids;
	int err = 0;

	/* what read-ahead holds would outlive the kernel's FORGETs */
	prefetch_release();
	ids = nodes_held(&n);

	pthread_mutex_lock(&send_mu);
	for (off = 0; off < n && !err && !stopped; off += PRUNE_CHUNK) {
		uint32_t k = n - off < PRUNE_CHUNK ? (uint32_t)(n - off) : PRUNE_CHUNK;

		err = send_prune(ids + off, k);
	}
	pthread_mutex_unlock(&send_mu);
	free(ids);
	if (err == -EINVAL || err == -ENOSYS) {
		__atomic_store_n(&refused, true, __ATOMIC_RELAXED);
		lfs_log("this kernel cannot be asked to forget inodes "
			"(FUSE_NOTIFY_PRUNE): at the open-file limit, lookups "
			"fail with EMFILE");
	} else if (fs.cfg->debug) {
		lfs_log("near the open-file limit: asked the kernel to forget "
			"what of %zu inodes nothing uses (%s)", n,
			err ? strerror(-err) : "done");
	}
}

static void *relief_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;) {
		struct timespec ts;

		while (!kicked)
			pthread_cond_wait(&kick_cv, &mu);
		pthread_mutex_unlock(&mu);
		prune_round();
		pthread_mutex_lock(&mu);
		kicked = false;
		rounds++;
		pthread_cond_broadcast(&done_cv);
		if (__atomic_load_n(&refused, __ATOMIC_RELAXED))
			break;
		/* what is in use stays: do not spin on it */
		deadline(&ts, ROUND_GAP_MS);
		while (pthread_cond_timedwait(&done_cv, &mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* Start a round unless one is due already; mu held. */
static void kick_locked(void)
{
	if (!kicked) {
		kicked = true;
		pthread_cond_signal(&kick_cv);
	}
}

/* The room above the threshold, from the open-file limit: before the
 * loop is set up, which asks fdrelief_thread_fds(). */
void fdrelief_limits(void)
{
	pthread_condattr_t ca;
	struct rlimit rl;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&done_cv, &ca);
	pthread_condattr_destroy(&ca);
	fdrelief_spare_again();
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	/* room for what requests and read-ahead threads open for a moment
	 * (the files being copied) and for the request threads' own
	 * (fdrelief_thread_fds()): half the limit, at most HEADROOM */
	room = rl.rlim_cur / 2 < HEADROOM ? rl.rlim_cur / 2 : HEADROOM;
	threshold = rl.rlim_cur - room;
}

/* The thread, once the loop serves (main.c, late_start()): until it
 * runs, requests do not wait for rounds (HIGH is 0). */
void fdrelief_start(void)
{
	/* glibc loads libgcc_s at the first pthread_cancel(), which libfuse
	 * sends its threads at the end of the loop: at the limit that open
	 * failed, glibc aborted the daemon ("libgcc_s.so.1 must be installed
	 * for pthread_cancel to work") and the mount stayed, dead. Loaded
	 * now, glibc finds it without opening anything. */
	dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE);
	if (!room)
		return;
	if (spawn_detached(relief_thread, NULL))
		__atomic_store_n(&high, threshold > INT_MAX ? INT_MAX : (int)threshold,
				 __ATOMIC_RELAXED);
}

/* May each request thread keep descriptors of its own? libfuse gives
 * each a clone of /dev/fuse and, at its first spliced reply, a pipe, and
 * keeps them for as long as the thread lives (idle threads stay, main.c):
 * no round frees them. Sixteen threads took 48 descriptors, and under a
 * limit of 64 a burst of reads left two for the nodes: a file seven
 * directories deep failed with EMFILE for good. Fewer threads did worse:
 * with four, two walkers, a writer and a renamer kept every one waiting
 * for a round whose FORGETs no thread was left to read (295 s and 1,700
 * errors where sixteen took 23 s). So where REQUEST_THREADS threads'
 * own would take more than a quarter of the room above the threshold (a
 * limit under 384), they keep none: they share the session's descriptor,
 * and replies copy file data instead of splicing it. After
 * fdrelief_start(). */
bool fdrelief_thread_fds(void)
{
	return !room || (rlim_t)REQUEST_THREADS * THREAD_FDS <= room / 4;
}

/* open(2) of PATH for what must not fail at the limit: the exit's
 * write-back of the mount and reads of the mount table (stop.c,
 * mountwatch.c). A file open through the page cache keeps a descriptor,
 * which no round frees: with as many open as the limit allowed (49 under
 * 64), SIGTERM could open neither, had nothing written back (each file
 * lost what it held) and left the mount behind, dead. So a descriptor is
 * kept aside, and given up for such an open at EMFILE. */
int fdrelief_open_spare(const char *path, int flags)
{
	int fd = open(path, flags), s;

	if (fd >= 0 || errno != EMFILE)
		return fd;
	s = __atomic_exchange_n(&spare, -1, __ATOMIC_ACQ_REL);
	if (s < 0) {
		errno = EMFILE;
		return -1;
	}
	close(s);
	return open(path, flags);
}

/* Once what fdrelief_open_spare() opened is closed: a spare again. */
void fdrelief_spare_again(void)
{
	int fd, none = -1;

	if (__atomic_load_n(&spare, __ATOMIC_ACQUIRE) >= 0)
		return;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !__atomic_compare_exchange_n(&spare, &none, fd, false,
						    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		close(fd);
}

/* Have the kernel drop the dentries of node ID's inode that nothing
 * uses, whatever their names: after a failed writeback the inode must go
 * (copyup_tree.c), and a hard link the kernel looked up would keep it. On
 * kernels without the notification nothing happens. */
void fdrelief_prune_node(fuse_ino_t id)
{
	uint64_t one = id;

	pthread_mutex_lock(&send_mu);
	if (!stopped)
		send_prune(&one, 1);
	pthread_mutex_unlock(&send_mu);
}

/* Before the session's descriptor closes: no more notifications. */
void fdrelief_stop(void)
{
	__atomic_store_n(&high, 0, __ATOMIC_RELAXED);
	pthread_mutex_lock(&send_mu);
	stopped = true;
	pthread_mutex_unlock(&send_mu);
}

/* A descriptor numbered FD is open: near the limit, start a round. */
static void note(int fd)
{
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);

	if (h > 0 && fd >= h && !__atomic_load_n(&refused, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&mu);
		kick_locked();
		pthread_mutex_unlock(&mu);
	}
}

static bool relief_wait(void)
{
	struct timespec ts;
	uint64_t seen;
	bool ran;

	if (no_wait || __atomic_load_n(&high, __ATOMIC_RELAXED) <= 0 ||
	    __atomic_load_n(&refused, __ATOMIC_RELAXED))
		return false;
	pthread_mutex_lock(&mu);
	seen = rounds;
	kick_locked();
	deadline(&ts, WAIT_MS);
	while (rounds == seen &&
	       pthread_cond_timedwait(&done_cv, &mu, &ts) != ETIMEDOUT)
		;
	ran = rounds != seen;
	pthread_mutex_unlock(&mu);
	return ran && !__atomic_load_n(&refused, __ATOMIC_RELAXED);
}

/* FD, just opened (or -1, errno kept), noted: a round starts near the
 * limit, and at it */
static int noted(int fd)
{
	int e = errno;

	note(fd >= 0 ? fd : e == EMFILE ? INT_MAX : -1);
	errno = e;
	return fd;
}

struct opening {
	int fd;			/* the directory, or what to dup */
	const char *name;	/* NULL: a dup */
	int flags;
	mode_t mode;
};

static int try_open(const struct opening *o)
{
	return o->name ? openat(o->fd, o->name, o->flags, o->mode) : dup(o->fd);
}

/* Open what O says. At EMFILE, wait for a round and try again as the
 * kernel's FORGETs close nodes' descriptors (every FORGET_POLL_US, for
 * FORGET_POLLS), TRIES rounds at most.
 *
 * A thread that does not wait never keeps a descriptor numbered past the
 * threshold: what lies between it and the limit is left to the requests
 * that must open something. A listing's entries are nodes whose
 * descriptors no round can free until the kernel has taken the reply,
 * and the kernel stops taking it at an entry a lookup is under way for:
 * a 32 KiB listing of the root took every descriptor up to the limit,
 * and find's lookup of one of its entries waited five rounds for one,
 * the kernel waiting for that lookup, until it failed with EMFILE. The
 * walkers' listings also took every descriptor a round freed before a
 * waiting copy-up (a directory written to) had its turn. */
static int open_relieved(const struct opening *o)
{
	int fd = try_open(o), e;
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);

	if (fd >= 0 && no_wait && h > 0 && fd >= h) {
		close(fd);
		fd = -1;
		errno = EMFILE;
	}
	if (fd >= 0 || errno != EMFILE || no_wait)
		return noted(fd);
	for (int i = 0; i < TRIES && fd < 0 && errno == EMFILE; i++) {
		e = errno;
		if (!relief_wait()) {
			errno = e;
			break;
		}
		for (int k = 0; k < FORGET_POLLS; k++) {
			fd = try_open(o);
			if (fd >= 0 || errno != EMFILE)
				break;
			usleep(FORGET_POLL_US);
		}
	}
	return noted(fd);
}

/* openat(2) (MODE for O_CREAT) for the daemon's descriptors: near the
 * limit, the kernel is asked to let go of unused inodes; at it, the open
 * is tried again after each round, TRIES times at most. */
int fdrelief_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	struct opening o = { dirfd, name, flags, mode };

	return open_relieved(&o);
}

/* While ON, this thread's opens do not wait for a round: a listing
 * (READDIRPLUS) gives an entry without attributes instead. */
void fdrelief_nowait(bool on)
{
	no_wait = on;
}

/* dup(2) of a descriptor a node keeps, as fdrelief_openat(). */
int fdrelief_dup(int fd)
{
	struct opening o = { fd, NULL, 0, 0 };

	return open_relieved(&o);
}
