/* Prefetch: read ahead of a walk, in a few threads on idle time.
 *
 * Directories. A walk over a cold tree (find, du, a container's first
 * ls -lR) waits for the disk at every directory, one at a time: the
 * kernel asks for a listing with attributes (READDIRPLUS), the daemon
 * reads the layers' directories and stats every entry, and only then
 * does the walker go on. When such a listing names subdirectories,
 * PF_THREADS - 1 threads read them ahead, side by side, in the order a
 * depth-first walker enters them: each layer's directory and the inodes
 * of its entries. When the walker gets there, the daemon finds all of it
 * in the page cache. A cold walk of the benchmark's tree takes a quarter
 * less. A directory only in lower layers, whose entries cannot change
 * while it stays so, is read as the walker's listing (readdir.c,
 * listing_ahead()): its first READDIRPLUS takes that listing, with the
 * attributes of its entries, instead of reading the layers again; a
 * quarter less again.
 *
 * File data. A program that reads a directory's files one after the
 * other in listing order (tar, cp -r, rsync, a checksum over a tree)
 * waits for the disk once per file. When a process opens a file of a
 * directory whose listing it read, or four read-only opens in a row in
 * one directory come in listing order, the first thread reads ahead the start
 * (up to SMALL_FILE_MAX) of the next RA_FILES regular files, and the
 * next batch when the reader is halfway through this one. Opens in any
 * other order by other processes (a program loading its libraries)
 * rarely read anything ahead (four random opens rise one time in 24); a
 * process that listed the directory and opens files in any order (an
 * interpreter importing modules) gets one batch. FUSE names the calling
 * thread, not the process: "a process" is one thread here.
 *
 * The threads only read, and run at SCHED_IDLE and at the lowest
 * best-effort I/O priority (the readers served are waiting for exactly
 * that data). Files are read with readahead(2) into the layers' page
 * cache and directories with system calls whose answers are thrown away,
 * but for the listings of lower-only directories, which a listing
 * request takes only while the directory's generation is the one they
 * were read at (any change through the mount moves it on). So nothing a
 * program sees can change.
 *
 * The directory queue is a bounded stack of nodes (a daemon reference
 * each): the newest first, the oldest dropped when it is full. A
 * directory read a moment ago is not read again. */
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
#define PF_THREADS	6	/* threads in all, see pf_main() */
#define IOPRIO_WHO_PROCESS_	1	/* <linux/ioprio.h>, not in every libc */
#define IOPRIO_CLASS_BE_	2
#define IOPRIO_BE_LOWEST	((IOPRIO_CLASS_BE_ << 13) | 7)

#define RA_RUN		4	/* opens in listing order that start it */
#define RA_FILES	32	/* files read ahead per batch */
#define RA_DIRS		64	/* directories whose opens are followed */
#define RA_JOBS		8	/* batches waiting for the first thread */
#define RA_NEVER	((off_t)INT64_MAX)	/* a cookie no file has */
#define NR_CACHESTAT	451	/* Linux 6.5, the same number everywhere */

struct cachestat_range_ { uint64_t off, len; };
struct cachestat_ {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted,
		 nr_recently_evicted;
};

static struct node *queue[PF_SLOTS];
static unsigned base, count;
static unsigned active;		/* threads reading (atomic) */
static pthread_mutex_t pf_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pf_work = PTHREAD_COND_INITIALIZER;	/* the first thread */
static pthread_cond_t pf_dirs = PTHREAD_COND_INITIALIZER;	/* the others */
static unsigned dir_threads;	/* the others started (under pf_lock) */
/* Directories read, whose references the threads leave to requests to
 * drop (under pf_lock): dropping one takes the node table's lock, which a
 * SCHED_IDLE thread descheduled on a busy machine would keep from every
 * request until a CPU has nothing else to do. */
static struct node *done[PF_SLOTS];
static unsigned ndone;
static bool running;
static uint64_t seen[PF_SEEN];	/* keys of directories read, see first_visit() */

/* Opens followed per directory (under pf_lock). DIR is only a key: a
 * node freed and reused for another directory costs one wrong guess. */
static struct ra_state {
	const struct node *dir;
	off_t last;		/* cookie of the last file opened */
	off_t mark;		/* an open from here on asks for the next batch;
				 * RA_NEVER: the listing ended */
	off_t until;		/* the last file read ahead so far, 0: none yet */
	unsigned run;		/* opens in listing order so far */
	pid_t lister;		/* who read the listing last, or 0 */
	bool busy;		/* a batch is queued or being read */
} ra[RA_DIRS];

/* Batches to read, newest last (under pf_lock); a reference on DIR each */
static struct ra_job {
	struct node *dir;
	off_t after;		/* the files after this cookie */
} jobs[RA_JOBS];
static unsigned njobs;

bool prefetch_on(void)
{
	return __atomic_load_n(&running, __ATOMIC_RELAXED);
}

/* Requests never wait for pf_lock: the thread that holds it may be a
 * prefetch thread, and a SCHED_IDLE thread descheduled while holding it
 * runs again only when a CPU has nothing else to do. A request that
 * finds it taken leaves the prefetch alone this once. */
static bool pf_trylock(void)
{
	return pthread_mutex_trylock(&pf_lock) == 0;
}

/* Under pf_lock: wake a thread for each queued directory, at most one
 * per thread; the first one reads them only until it has started the
 * others (or when it could not). */
static void wake_dir_threads(void)
{
	if (dir_threads == 0)
		pthread_cond_signal(&pf_work);
	for (unsigned i = 0; i < count && i < dir_threads; i++)
		pthread_cond_signal(&pf_dirs);
}

/* Move the references of the directories read (done[]) to OUT, for the
 * caller to drop once it has let go of pf_lock, which it holds; returns
 * how many. */
static size_t take_done(struct node **out)
{
	size_t k = 0;

	while (ndone > 0)
		out[k++] = done[--ndone];
	return k;
}

/* Queue DIRS; the queue takes over their daemon references. */
void prefetch_dirs(struct node **dirs, size_t n)
{
	struct node *dropped[PF_FANOUT + PF_SLOTS];
	size_t ndropped;

	if (!n)
		return;
	if (!pf_trylock()) {
		while (n > 0)
			node_put(dirs[--n]);
		return;
	}
	ndropped = take_done(dropped);
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
	wake_dir_threads();
	pthread_mutex_unlock(&pf_lock);
	while (ndropped > 0)
		node_put(dropped[--ndropped]);
}

static struct ra_state *ra_of(const struct node *dir)
{
	return &ra[((uintptr_t)dir >> 4) * 0x9E3779B97F4A7C15ULL >> 58 & (RA_DIRS - 1)];
}

/* PID began to read DIR's listing. */
void prefetch_listed(const struct node *dir, pid_t pid)
{
	struct ra_state *r;

	if (!prefetch_on() || !pf_trylock())
		return;
	r = ra_of(dir);
	if (r->dir != dir || !r->busy)
		*r = (struct ra_state){ .dir = dir };	/* a new walk begins */
	r->lister = pid;
	pthread_mutex_unlock(&pf_lock);
}

/* Does FD have any of its first SMALL_FILE_MAX bytes in the page cache?
 * cachestat(2) looks without reading (a read would update the file's
 * atime); before Linux 6.5 the answer is no. */
static bool head_cached(int fd)
{
	struct cachestat_range_ r = { 0, SMALL_FILE_MAX };
	struct cachestat_ cs;

	return syscall(NR_CACHESTAT, fd, &r, &cs, 0) == 0 && cs.nr_cache > 0;
}

/* PID opened FILE read-only, through our descriptor FD: the next files of
 * its directory are worth reading ahead if PID read the directory's
 * listing (a program walking a tree), or if this is one more open in
 * listing order; but not while the files opened are in the page cache
 * already, which says their directory was read a moment ago (a container
 * started again from the same image): opening the next files only to
 * find them there costs the reader more than it saves. FD -1: opened
 * without a descriptor, its data handed to the kernel before (file.c,
 * open_without_fd()), so cached. */
void prefetch_opened(struct node *file, pid_t pid, int fd)
{
	struct node *dir, *dropped = NULL;
	struct ra_state *r;
	char *name;
	off_t c;

	if (!prefetch_on() || !S_ISREG(file->type) ||
	    node_parent_name(file, &dir, &name) != 0)
		return;
	c = name_cookie(name);
	free(name);
	if (!pf_trylock()) {
		node_put(dir);
		return;
	}
	r = ra_of(dir);
	if (r->dir != dir) {
		*r = (struct ra_state){ .dir = dir, .last = c, .run = 1 };
		goto out;
	}
	/* the same file again (its open, then its first read) */
	if (c != r->last)
		r->run = c > r->last ? r->run + 1 : 1;
	r->last = c;
	if (!running || r->busy || r->mark == RA_NEVER)
		goto out;	/* a batch is on its way, or the listing ended */
	if (r->until == 0) {
		/* no batch yet: one of the two signs */
		if (r->run < RA_RUN && (!pid || r->lister != pid))
			goto out;
		if (fd < 0 || head_cached(fd))
			goto out;	/* asked again at the next open */
	} else if (c < r->mark || (c > r->until && r->run < RA_RUN)) {
		/* the next batch for a reader inside this one, or past it
		 * but still in listing order: one that opens files anywhere
		 * (a program importing modules from a directory it listed)
		 * gets one batch per directory */
		goto out;
	}
	r->busy = true;
	if (njobs == RA_JOBS) {
		struct ra_state *d = ra_of(jobs[0].dir);

		dropped = jobs[0].dir;
		if (d->dir == dropped)
			d->busy = false;	/* never read: may be asked again */
		memmove(jobs, jobs + 1, (RA_JOBS - 1) * sizeof(jobs[0]));
		njobs--;
	}
	jobs[njobs].dir = dir;
	jobs[njobs].after = c > r->until ? c : r->until;
	njobs++;
	dir = NULL;		/* the job's reference now */
	pthread_cond_signal(&pf_work);
out:
	pthread_mutex_unlock(&pf_lock);
	if (dir)
		node_put(dir);
	if (dropped)
		node_put(dropped);
}

/* Record the outcome of a batch for DIR: MARK and UNTIL as below, or, with
 * MARK 0 and UNTIL 0, a directory whose state starts afresh. */
static void ra_done(const struct node *dir, off_t mark, off_t until)
{
	struct ra_state *r;

	pthread_mutex_lock(&pf_lock);
	r = ra_of(dir);
	if (r->dir == dir) {
		r->mark = mark;
		r->until = until;
		r->busy = false;
	}
	pthread_mutex_unlock(&pf_lock);
}

/* Start reading the first SMALL_FILE_MAX bytes of NAME in DIRFD, if it is
 * still a regular file (the listing may be seconds old: a FIFO would
 * block the open, a device must not be opened at all). */
static bool read_file_ahead(int dirfd, const char *name)
{
	struct stat st;
	int fd = layer_openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
			      O_NONBLOCK | O_NOATIME | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	if (ok)
		readahead(fd, 0, SMALL_FILE_MAX);
	close(fd);
	return ok;
}

/* Read ahead the regular files after J->after in J->dir's listing. The
 * listing is kept for the next batch while the directory is unchanged,
 * and let go when a batch reaches its end. */
static void read_files_ahead(const struct ra_job *j)
{
	static struct dentry_list *l;	/* the first thread's own */
	static struct node *ldir;
	struct lset *ls = node_lset(j->dir);
	off_t mark = RA_NEVER, until = j->after;
	size_t i, n = 0;

	if (ldir != j->dir ||
	    dentry_list_gen(l) != __atomic_load_n(&j->dir->gen, __ATOMIC_ACQUIRE)) {
		dentry_list_free(l);
		l = NULL;
		if (ldir)
			node_put(ldir);
		ldir = NULL;
		if (listing_sorted(j->dir, &l) != 0) {
			l = NULL;
			ra_done(j->dir, 0, 0);
			return;
		}
		ldir = node_get(j->dir);
	}
	for (i = listing_seek(l, j->after); i < dentry_list_count(l) && n < RA_FILES; i++) {
		int k = lset_index(ls, dentry_list_layer(l, i));

		if (dentry_list_type(l, i) != DT_REG || k < 0 ||
		    !read_file_ahead(ls->r[k].fd, dentry_list_name(l, i)))
			continue;
		until = dentry_list_cookie(l, i);
		if (++n == RA_FILES / 2)
			mark = until;
	}
	if (i >= dentry_list_count(l)) {
		/* the end of the listing: no next batch, nothing to keep */
		mark = RA_NEVER;
		dentry_list_free(l);
		l = NULL;
		node_put(ldir);
		ldir = NULL;
	}
	ra_done(j->dir, mark, until);
}

/* Has the directory behind FD (a node's top layer) not been read a
 * moment ago? The threads share the table of keys; a collision costs a
 * directory read twice or not at all, never an answer. */
static bool first_visit(int fd)
{
	struct stat st;
	uint64_t key;

	if (fstat(fd, &st) < 0)
		return false;
	key = ((uint64_t)st.st_ino ^ ((uint64_t)st.st_dev << 40)) * 0x9E3779B97F4A7C15ULL;
	key |= 1;	/* 0: an empty slot */
	return __atomic_exchange_n(&seen[(key >> 40) % PF_SEEN], key,
				   __ATOMIC_RELAXED) != key;
}

/* Read one layer's directory and stat its entries. */
static void warm(int dirfd, char *buf)
{
	int fd = layer_openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_NOATIME | O_CLOEXEC);

	if (fd < 0)
		return;
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

static void *pf_main(void *arg);

/* Start a thread with every signal blocked: signals go to the loop's
 * thread, which ends the session on them, as libfuse's threads do. */
static bool pf_spawn(intptr_t index)
{
	return spawn_detached(pf_main, (void *)index);
}

/* The threads. Reading a cold directory is mostly waiting for the disk,
 * so several threads read the stack's directories side by side (the disk
 * serves them at once). The first one reads file data ahead, for a
 * reader waiting for exactly that; it starts with the session and starts
 * the others when it is first given directories, which it then leaves to
 * them (a directory slow to read would hold up the file data): neither
 * the mount nor a mount nobody lists pays for them. */
static void *pf_main(void *arg)
{
	struct sched_param sp = { 0 };
	char *buf = xmalloc(PF_BUF);
	bool first = arg == NULL, spawned = !first;

	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	/* out of descriptors, read-ahead gives up instead of waiting */
	fdrelief_nowait(true);
	/* and the lowest best-effort I/O priority: in the idle class the
	 * readers' own reads kept the read-ahead of what they were about to
	 * read back (tar over 30k files took 6.6 s instead of 5.7; cold
	 * walks, serial and parallel, took 2-4 % longer with five threads) */
	syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS_, 0, IOPRIO_BE_LOWEST);
	pthread_mutex_lock(&pf_lock);
	for (;;) {
		struct node *n;
		struct lset *ls;
		bool dirs;

		for (;;) {
			/* directories: the others', and the first one's
			 * while there are no others */
			dirs = count && (!first || dir_threads == 0);
			if (running && (dirs || (first && njobs)))
				break;
			pthread_cond_wait(first ? &pf_work : &pf_dirs, &pf_lock);
		}
		if (first && njobs) {
			struct ra_job j = jobs[--njobs];

			__atomic_add_fetch(&active, 1, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&pf_lock);
			read_files_ahead(&j);
			node_put(j.dir);
			pthread_mutex_lock(&pf_lock);
			__atomic_sub_fetch(&active, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (!spawned) {
			unsigned started = 0;

			spawned = true;
			pthread_mutex_unlock(&pf_lock);
			while (started + 1 < PF_THREADS && pf_spawn(started + 1))
				started++;
			pthread_mutex_lock(&pf_lock);
			dir_threads = started;
			wake_dir_threads();
			continue;
		}
		count--;
		n = queue[(base + count) % PF_SLOTS];
		__atomic_add_fetch(&active, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&pf_lock);
		ls = node_lset(n);
		/* a directory only in lower layers: its listing, read
		 * ahead for the walker (readdir.c); the others: the
		 * layers' caches */
		if (ls->n > 0 && ls->r[0].fd >= 0 && !node_has(n, NODE_LISTED) &&
		    first_visit(ls->r[0].fd) && !listing_ahead(n))
			for (int i = 0; i < ls->n; i++)
				if (ls->r[i].fd >= 0)
					warm(ls->r[i].fd, buf);
		pthread_mutex_lock(&pf_lock);
		__atomic_sub_fetch(&active, 1, __ATOMIC_RELAXED);
		if (ndone < PF_SLOTS) {
			done[ndone++] = n;
		} else {
			/* not expected: requests take them at every listing */
			pthread_mutex_unlock(&pf_lock);
			node_put(n);
			pthread_mutex_lock(&pf_lock);
		}
	}
	return NULL;
}

/* Drop the references to the directories read, which the threads leave
 * to others: at every FORGET (the kernel forgot inodes), and at the mount
 * watch's looks every few seconds (mountwatch.c), since the
 * threads, at SCHED_IDLE, may end their reads after the last FORGET of
 * the nodes (those of a tree `rm -rf` lists come at each rmdir). Dropped
 * at the next listing that named subdirectories only, they kept the
 * nodes, and each one's descriptor per layer, after the kernel had
 * forgotten them, for as long as nobody listed again: up to PF_SLOTS
 * directories, removed ones included, on a mount left alone after a walk. */
void prefetch_drop_done(void)
{
	struct node *dropped[PF_SLOTS];
	size_t n;

	if (!__atomic_load_n(&ndone, __ATOMIC_RELAXED) || !pf_trylock())
		return;
	n = take_done(dropped);
	pthread_mutex_unlock(&pf_lock);
	while (n > 0)
		node_put(dropped[--n]);
}

/* Has read-ahead work queued or under way? A hint, read without the
 * lock: the threads run at SCHED_IDLE, on whatever CPU time is left. */
bool prefetch_pending(void)
{
	return __atomic_load_n(&count, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&njobs, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&active, __ATOMIC_RELAXED);
}

/* How many threads read ahead now (a hint; some may wait for the disk) */
unsigned prefetch_active(void)
{
	return __atomic_load_n(&active, __ATOMIC_RELAXED);
}

void prefetch_start(void)
{
	if (pf_spawn(0))
		__atomic_store_n(&running, true, __ATOMIC_RELAXED);
}

/* At the end of the session: empty the queue; the threads take no more.
 * They are not waited for: at SCHED_IDLE on a busy machine they may not
 * run for seconds, and an exiting daemon must not keep its work dir
 * locked that long (a remount right after the unmount would fail). What
 * they still read meanwhile are the layers' directories through descriptors
 * of nodes, which live until the process ends. */
void prefetch_stop(void)
{
	__atomic_store_n(&running, false, __ATOMIC_RELAXED);
	prefetch_release();
}

/* Drop the references to directories queued, and read ahead, to the
 * readers' listings and the files ahead: at the end of the session, and
 * when the kernel is asked to forget what it does not use (fdrelief.c),
 * since a node held here keeps its descriptors after the FORGET. The lock
 * is wanted only for that. A thread may hold it descheduled, and at
 * SCHED_IDLE on a busy machine it may not run again for seconds: nothing
 * waits for it. */
void prefetch_release(void)
{
	int tries = 0;

	while (pthread_mutex_trylock(&pf_lock) != 0) {
		if (++tries > 20)
			return;
		usleep(1000);
	}
	while (count > 0) {
		count--;
		node_put(queue[(base + count) % PF_SLOTS]);
	}
	while (njobs > 0)
		node_put(jobs[--njobs].dir);
	while (ndone > 0)
		node_put(done[--ndone]);
	pthread_mutex_unlock(&pf_lock);
}
