/* Who reads the next request from /dev/fuse, and how.
 *
 * A request costs two wake-ups: the kernel wakes a daemon thread that
 * sleeps in read(2), and the reply wakes the caller. On a VM, waking a
 * sleeping CPU is most of a round trip (docs/architecture.md, "Round
 * trips"). So one thread at a time holds the turn to read, and after a
 * reply it polls the device without sleeping for up to SPIN_US: a caller
 * that sends its next request at once (tar, rm -r, find, ls -l) finds
 * the daemon awake and pays for one wake-up instead of two. A walk of
 * cached directories asks for a directory's attributes after it has
 * gone through the entries before it, 60-100 us later: 50 us missed
 * most of those. While read-ahead has work the poll is shorter
 * (SPIN_BUSY_US): the read-ahead threads run at SCHED_IDLE, on the CPU
 * time the poll would take, and a cold walk took 5 % longer. It polls only
 * while that pays: when no other thread is serving a request (several
 * callers at once keep the CPUs busy on their own), while most polls
 * end with a request (a caller that thinks between its requests would
 * only burn a CPU), and while other tasks do not wait for a CPU (the poll
 * would keep one from them, cpus_busy()); otherwise it sleeps in the
 * kernel at once.
 *
 * The other threads wait here, not in the kernel: a thread sleeping in
 * read(2) would be woken by every request and lose the race to the
 * reader. One of them takes the turn
 *  - when the reader finds a request there at once and another behind
 *    it (several callers at once): they are then read and served in
 *    parallel;
 *  - when a request has been served for longer than WATCH_US (waiting for
 *    the disk, or for the kernel in a notification): one waiting thread,
 *    the watcher, looks every WATCH_US while a request is served, every
 *    DOZE_US while the reader sleeps in the kernel between requests that
 *    come close together, and after DOZES_IDLE looks without one sleeps
 *    until the reader wakes it (a request stuck behind a long one then
 *    waits up to DOZE_US + WATCH_US).
 * libfuse counts the threads waiting here as idle and starts another
 * when none is, as it does for threads sleeping in read(2), so there is
 * a watcher while fewer than its maximum of threads serve requests. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "layerfs.h"

#define SPIN_US		100	/* polling on after a reply */
#define SPIN_BUSY_US	50	/* the same while read-ahead has work */
#define WATCH_US	200	/* a request served longer lets another read */
#define DOZE_US		1000	/* the watcher's look while the reader sleeps */
#define DOZES_IDLE	4	/* that many in a row with nothing read: idle */
#define PREEMPTED_US	20	/* a gap in the polling loop this long */
#define LOAD_SAMPLE_US	200	/* CPUs wanted: looked at no more often */
#define CREDIT_MAX	8	/* polls that ended with a request, minus misses */
#define BUF_KEEP	(64 * 1024)	/* of a request buffer, kept touched */
#define BUF_IDLE_MS	1000	/* idle this long: the rest goes back */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv;		/* timed waits: CLOCK_MONOTONIC */
static pthread_cond_t watch_cv;		/* timed waits: CLOCK_MONOTONIC */
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static bool reading;		/* a thread holds the turn */
static bool watching;		/* a thread is the watcher */
static bool watcher_asleep;	/* it waits for the reader to wake it */
static bool helper_wanted;	/* requests were queued: one more may read */
static bool kernel_wait;	/* the reader sleeps in the kernel */
static uint64_t taken;		/* requests read so far */
static bool last_housekeeping;	/* the last one read: FORGET, RELEASE, INTERRUPT */
static unsigned turn_waiters;
static int credit = CREDIT_MAX / 2;	/* whether polling pays (atomic) */
static __thread int tl_fd = -1;	/* this thread's fd, made non-blocking */
static __thread char *tl_buf;	/* libfuse's request buffer of this thread */
static __thread size_t tl_dirty;	/* how far a request filled it, past
					 * BUF_KEEP (0: not) */

/* turn_cv and watch_cv, whose timed waits count on CLOCK_MONOTONIC */
static void cv_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&watch_cv, &a);
	pthread_cond_init(&turn_cv, &a);
	pthread_condattr_destroy(&a);
}

/* Each thread reads requests into a buffer of libfuse's, 1 MiB and more
 * (max_write): a burst of large WRITEs (the writeback cache of noopen and
 * rootless mounts) touches all of it in every request thread, and those
 * pages stayed resident for the daemon's life, 16 MiB and more after one
 * `dd`, where an idle daemon needs 3. A thread that has waited for work
 * BUF_IDLE_MS gives back what lies past BUF_KEEP (only its own buffer,
 * and only while it reads nothing into it): a stream of writes keeps its
 * pages, an idle mount does not. */
static void buf_note(ssize_t n)
{
	if (n > BUF_KEEP && (size_t)n > tl_dirty)
		tl_dirty = (size_t)n;
}

static void buf_give_back(void)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t from = ((uintptr_t)tl_buf + BUF_KEEP + page - 1) & ~(page - 1);
	uintptr_t to = ((uintptr_t)tl_buf + tl_dirty) & ~(page - 1);

	if (to > from)
		madvise((void *)from, to - from, MADV_DONTNEED);
	tl_dirty = 0;
}

/* Wait on CV under mu; with a buffer to give back, for BUF_IDLE_MS only,
 * and give it back if nothing came. The callers look at what they wait
 * for again after each return: a timed wait that ends may have missed
 * the signal sent as it timed out (the signaller found no waiter, or
 * glibc passed it on to another), and waiting again at once would sleep
 * through the change it announced (the reader's wake-up of the watcher:
 * no thread would read while the request served waits for another). */
/* Not instrumented by AddressSanitizer: a thread cancelled in its wait
 * (the end of libfuse's loop) leaves through glibc's own longjmp to the
 * cleanup in reader_read(), which ASan does not see, and the redzones of
 * TS stayed poisoned below: the cleanup's next call hit them and the
 * sanitizer build aborted at a SIGTERM instead of unmounting. */
__attribute__((no_sanitize_address))
static void idle_wait(pthread_cond_t *cv)
{
	struct timespec ts;

	if (!tl_dirty) {
		pthread_cond_wait(cv, &mu);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += BUF_IDLE_MS / 1000;
	if (pthread_cond_timedwait(cv, &mu, &ts) == ETIMEDOUT) {
		/* not under mu: the reader may want it meanwhile */
		pthread_mutex_unlock(&mu);
		buf_give_back();
		pthread_mutex_lock(&mu);
	}
}

/* Does a request wait on FD? (The queue is the connection's: any
 * thread's clone fd shows it.) */
static bool request_waiting(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static void unlock_mu(void *arg)
{
	(void)arg;
	pthread_mutex_unlock(&mu);
}

/* The watcher, under mu: returns when this thread should take the turn,
 * i.e. no thread reads and either queued requests want a helper or the
 * request taken last has been served for WATCH_US. */
static void watch(void)
{
	uint64_t seen = 0, dozed_at = UINT64_MAX;
	unsigned dozes = 0;
	bool armed = false;
	long wait_us;
	struct timespec ts;

	for (;;) {
		if (!reading && (helper_wanted || (armed && taken == seen)))
			return;
		wait_us = WATCH_US;
		if (!reading) {
			armed = true;	/* request number TAKEN is being served */
			seen = taken;
		} else {
			armed = false;
			if (kernel_wait) {
				/* The reader sleeps in the kernel. While
				 * requests come close together, look every
				 * DOZE_US (waking this thread at each request
				 * instead cost the daemon a sixth of its CPU
				 * in a walk); once none came for DOZES_IDLE
				 * looks, sleep until the reader wakes us: a
				 * request now and then costs one wake-up of
				 * this thread, and an idle mount none. */
				dozes = taken == dozed_at ? dozes + 1 : 1;
				dozed_at = taken;
				if (dozes > DOZES_IDLE) {
					watcher_asleep = true;
					idle_wait(&watch_cv);
					watcher_asleep = false;
					continue;
				}
				wait_us = DOZE_US;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += wait_us * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&watch_cv, &mu, &ts);
	}
}

static void credit_add(int d)
{
	int c = __atomic_load_n(&credit, __ATOMIC_RELAXED) + d;

	__atomic_store_n(&credit, c < 0 ? 0 : c > CREDIT_MAX ? CREDIT_MAX : c,
			 __ATOMIC_RELAXED);
}

/* Whether other tasks wait for a CPU. A poll holds its CPU: when every
 * CPU has work, the thread woken for a request takes its CPU from a busy
 * task (one that slept, as the thread did, is favoured), answers, and
 * polls while that task waits; the kernel does not hand the CPU back
 * before the poll ends. /proc/loadavg counts the tasks running or ready
 * to run, on all CPUs: more of them than CPUs means some wait. The count
 * includes the polling thread, the read-ahead threads reading (they run
 * at SCHED_IDLE and give way to anyone: left out), and for a moment the
 * caller just answered, the daemon's other threads and the kernel's
 * workers; one reading in five saw more than two tasks on a 2-CPU machine
 * with one caller and nothing else running. So the poll stops only while
 * three in four of the recent readings, taken at most every
 * LOAD_SAMPLE_US, saw CPUs wanted. */
static int loadavg_fd = -1;
static long ncpus;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static uint64_t sampled_at;	/* atomic */
static int busy_share;		/* of the recent readings with CPUs wanted,
				 * in 1/256 (atomic) */

static void load_init(void)
{
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > 0)
		loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
}

/* One reading: more tasks want a CPU than there are CPUs? ("0.52 0.58
 * 0.59 3/170 4242": the running count starts the fourth field.) */
static bool cpus_wanted(void)
{
	char b[128], *p = b;
	ssize_t n;

	pthread_once(&load_once, load_init);
	if (loadavg_fd < 0 || (n = pread(loadavg_fd, b, sizeof(b) - 1, 0)) <= 0)
		return false;
	b[n] = '\0';
	for (int i = 0; i < 3 && p; i++)
		if ((p = strchr(p, ' ')))
			p++;
	return p && strtol(p, NULL, 10) - (long)prefetch_active() > ncpus;
}

static bool cpus_busy(uint64_t now)
{
	uint64_t at = __atomic_load_n(&sampled_at, __ATOMIC_RELAXED);
	int share = __atomic_load_n(&busy_share, __ATOMIC_RELAXED);

	if (now - at >= LOAD_SAMPLE_US &&
	    __atomic_compare_exchange_n(&sampled_at, &at, now, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		/* a moving average, each reading weighing 1/8 */
		share += ((cpus_wanted() ? 256 : 0) - share) / 8;
		__atomic_store_n(&busy_share, share, __ATOMIC_RELAXED);
	}
	return share >= 192;	/* three in four */
}

static bool may_spin(uint64_t now)
{
	return __atomic_load_n(&credit, __ATOMIC_RELAXED) > 0 &&
	       session_serving() == 0 && !cpus_busy(now);
}

/* Sleep in the kernel until FD has a request. */
static int kernel_poll(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	pthread_mutex_lock(&mu);
	kernel_wait = true;
	pthread_mutex_unlock(&mu);
	if (!tl_dirty || (r = poll(&p, 1, BUF_IDLE_MS)) == 0) {
		if (tl_dirty)
			buf_give_back();
		r = poll(&p, 1, -1);
	}
	pthread_mutex_lock(&mu);
	kernel_wait = false;
	if (watcher_asleep)
		pthread_cond_signal(&watch_cv);
	pthread_mutex_unlock(&mu);
	return r;
}

/* Read one request on FD, this thread holding the turn. *QUEUED: it was
 * there at once. */
static ssize_t turn_read(int fd, void *buf, size_t len, bool *queued)
{
	uint64_t start = 0, end = 0, last = 0, spin_us = 0;
	bool spun = false;
	ssize_t n;

	*queued = true;
	for (;;) {
		n = read(fd, buf, len);
		if (n >= 0 || errno != EAGAIN)
			break;
		*queued = false;
		if (!start) {
			start = mono_us();
			spun = may_spin(start);
			spin_us = prefetch_pending() ? SPIN_BUSY_US : SPIN_US;
			end = spun ? start + spin_us : start;
			last = start;
		}
		if (fs.se && fuse_session_exited(fs.se)) {
			/* a signal ended the session (one thread: nobody
			 * cancels this one); libfuse leaves its loop */
			errno = EINTR;
			return -1;
		}
		if (spun) {
			uint64_t t = mono_us();

			if (t - last > PREEMPTED_US) {
				/* the CPU went to another task, which has
				 * better use for it than this loop: one
				 * more look (that task may have been the
				 * caller), then sleep */
				__atomic_store_n(&credit, 0, __ATOMIC_RELAXED);
				spun = false;
				continue;
			} else if (t < end) {
				last = t;
				for (int i = 0; i < 50; i++)
					cpu_relax();
				continue;
			}
		}
		if (spun) {
			credit_add(-2);	/* polled in vain */
			spun = false;
		}
		if (kernel_poll(fd) < 0 && errno == EINTR)
			return -1;
	}
	if (n > 0 && start) {
		if (spun)
			credit_add(1);
		else if (mono_us() - start < spin_us &&
			 session_serving() == 0)
			credit_add(1);	/* polling would have caught it */
	}
	return n;
}

/* A request that no caller waits for: a FORGET, a release, an INTERRUPT
 * (also idlepoll's count leaves these out, session_io.c). */
bool request_unawaited(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET ||
	       opcode == FUSE_INTERRUPT || opcode == FUSE_RELEASE ||
	       opcode == FUSE_RELEASEDIR;
}

static bool is_housekeeping(const void *buf, ssize_t n)
{
	const struct fuse_in_header *h = buf;

	return n >= (ssize_t)sizeof(*h) && request_unawaited(h->opcode);
}

/* session_io.c's read: one request into BUF, as read(2) on FD would. */
ssize_t reader_read(int fd, void *buf, size_t len)
{
	bool queued, hk;
	ssize_t n;

	pthread_once(&cv_once, cv_init);
	/* a wait below gives back pages of BUF only: libfuse 3.14 keeps a
	 * thread's buffer for the thread's life, but a library that replaces
	 * it (3.17 at an EINVAL after INIT) has freed the one noted */
	if (buf != tl_buf) {
		tl_buf = buf;
		tl_dirty = 0;
	}
	if (tl_fd != fd) {
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
			/* not expected: read as without spin=1 */
			session_read_begin();
			n = read(fd, buf, len);
			while (n < 0 && errno == EAGAIN && kernel_poll(fd) >= 0)
				n = read(fd, buf, len);
			return n;
		}
		tl_fd = fd;
	}

	pthread_mutex_lock(&mu);
	pthread_cleanup_push(unlock_mu, NULL);
	while (reading) {
		if (!watching) {
			watching = true;
			watch();
			watching = false;
			break;
		}
		turn_waiters++;
		idle_wait(&turn_cv);
		turn_waiters--;
	}
	/* threads waiting for the turn always have a watcher: wake one,
	 * which becomes it (or, finding the turn free again, takes it and
	 * wakes the next) */
	if (!watching && turn_waiters)
		pthread_cond_signal(&turn_cv);
	reading = true;
	helper_wanted = false;
	pthread_cleanup_pop(1);

	/* at the device from here (session_io.c): none while waiting for
	 * the turn, or the thread that read the end could never be the
	 * last there */
	session_read_begin();
	n = turn_read(fd, buf, len, &queued);

	buf_note(n);
	pthread_mutex_lock(&mu);
	reading = false;
	taken++;
	hk = is_housekeeping(buf, n);
	if (queued && n > 0 && !hk && !last_housekeeping &&
	    request_waiting(fd)) {
		/* requests wait already (not one sent while this thread
		 * took a FORGET the last reply caused), and another after
		 * this one: another thread reads the next. One request
		 * there at once says little: its caller, answered last, was
		 * only quicker than this thread's way back (with a copy-up's
		 * fsync, 4 in 10 requests of a chown -R), and a second thread
		 * woken for it sleeps in poll(2), where this one would have
		 * caught the next request polling (three callers at once
		 * cost the daemon about one voluntary switch a request that
		 * way, 0.4 without). Asked under mu, and only here: asked
		 * after every request found at once, it made rm -rf slower */
		helper_wanted = true;
		if (turn_waiters)
			pthread_cond_signal(&turn_cv);
		else if (watching)
			pthread_cond_signal(&watch_cv);
	}
	last_housekeeping = hk;
	pthread_mutex_unlock(&mu);
	return n;
}
