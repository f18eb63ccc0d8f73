/* Directory prefetch: read the next directories of a walk ahead of it.
 *
 * A walk over a cold tree (find, du, a container's first ls -lR) waits
 * for the disk at every directory, one at a time: the kernel asks for a
 * listing with attributes (READDIRPLUS), the daemon reads the layers'
 * directories and stats every entry, and only then does the walker go on.
 * When such a listing names subdirectories, this thread reads them ahead,
 * in the order a depth-first walker enters them: each layer's directory
 * and the inodes of its entries. When the walker gets there, the daemon
 * finds all of it in the page cache. The thread only reads, throws away
 * what it read, and runs at SCHED_IDLE and in the idle I/O class, on CPU
 * and disk time nobody else wants; the requests do all of their own work
 * as before, so nothing a program sees can change. A cold walk of the
 * benchmark's tree takes a fifth less.
 *
 * The queue is a bounded stack of nodes (a daemon reference each): the
 * newest first, the oldest dropped when it is full. A directory read a
 * moment ago is not read again. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layerfs.h"

#define PF_SLOTS	256	/* queued directories */
#define PF_SEEN		4096	/* recently read directories, direct-mapped */
#define PF_BUF		(64 * 1024)
#define IOPRIO_WHO_PROCESS_	1	/* <linux/ioprio.h>, not in every libc */
#define IOPRIO_CLASS_IDLE_	3

static struct node *queue[PF_SLOTS];
static unsigned base, count;
static pthread_mutex_t pf_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pf_work = PTHREAD_COND_INITIALIZER;
static bool running;
static struct { dev_t dev; ino_t ino; } seen[PF_SEEN];	/* the thread's own */

bool prefetch_on(void)
{
	return __atomic_load_n(&running, __ATOMIC_RELAXED);
}

/* Queue DIRS; the queue takes over their daemon references. */
void prefetch_dirs(struct node **dirs, size_t n)
{
	struct node *dropped[PF_FANOUT];
	size_t ndropped = 0;

	if (!n)
		return;
	pthread_mutex_lock(&pf_lock);
	/* the first one on top: a walker enters them in listing order */
	while (n-- > 0) {
		if (!running) {
			dropped[ndropped++] = dirs[n];
			continue;
		}
		if (count == PF_SLOTS) {
			dropped[ndropped++] = queue[base % PF_SLOTS];
			base++;
			count--;
		}
		queue[(base + count) % PF_SLOTS] = dirs[n];
		count++;
	}
	pthread_cond_signal(&pf_work);
	pthread_mutex_unlock(&pf_lock);
	while (ndropped > 0)
		node_put(dropped[--ndropped]);
}

/* Has the directory behind FD not been read a moment ago? */
static bool first_visit(int fd)
{
	struct stat st;
	size_t h;

	if (fstat(fd, &st) < 0)
		return false;
	h = (size_t)(((uint64_t)st.st_ino ^ ((uint64_t)st.st_dev << 40)) *
		     0x9E3779B97F4A7C15ULL >> 40) % PF_SEEN;
	if (seen[h].dev == st.st_dev && seen[h].ino == st.st_ino)
		return false;
	seen[h].dev = st.st_dev;
	seen[h].ino = st.st_ino;
	return true;
}

/* Read one layer's directory and stat its entries. */
static void warm(int dirfd, char *buf)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (!first_visit(fd)) {
		close(fd);
		return;
	}
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf, PF_BUF);

		if (got <= 0)
			break;
		for (long off = 0; off < got;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			struct stat st;

			off += de->d_reclen;
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW);
		}
		if (got < PF_BUF / 2)
			break;	/* most likely the end; not worth a call */
	}
	close(fd);
}

static void *pf_main(void *arg)
{
	struct sched_param sp = { 0 };
	char *buf = xmalloc(PF_BUF);

	(void)arg;
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	/* and the idle I/O class: its reads wait for the walkers' (two cold
	 * walkers at once were slowed by them, by a tenth) */
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS_, 0, IOPRIO_CLASS_IDLE_ << 13);
	pthread_mutex_lock(&pf_lock);
	for (;;) {
		struct node *n;
		struct lset *ls;

		while (!count || !running)
			pthread_cond_wait(&pf_work, &pf_lock);
		count--;
		n = queue[(base + count) % PF_SLOTS];
		pthread_mutex_unlock(&pf_lock);
		ls = node_lset(n);
		for (int i = 0; i < ls->n; i++)
			if (ls->r[i].fd >= 0)
				warm(ls->r[i].fd, buf);
		node_put(n);
		pthread_mutex_lock(&pf_lock);
	}
	return NULL;
}

void prefetch_start(void)
{
	sigset_t all, old;
	pthread_t t;
	pthread_attr_t a;

	/* signals go to the loop's thread, which ends the session on them:
	 * the thread starts with all of them blocked, as libfuse's do */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, pf_main, NULL) == 0)
		__atomic_store_n(&running, true, __ATOMIC_RELAXED);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* At the end of the session: empty the queue; the thread takes no more.
 * It is not waited for: at SCHED_IDLE on a busy machine it may not run
 * for seconds, and an exiting daemon must not keep its work dir locked
 * that long (a remount right after the unmount would fail). What it
 * still reads meanwhile are the layers' directories through descriptors
 * of nodes, which live until the process ends. */
void prefetch_stop(void)
{
	pthread_mutex_lock(&pf_lock);
	__atomic_store_n(&running, false, __ATOMIC_RELAXED);
	while (count > 0) {
		count--;
		node_put(queue[(base + count) % PF_SLOTS]);
	}
	pthread_mutex_unlock(&pf_lock);
}
