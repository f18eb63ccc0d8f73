/*
 * stress: a randomised data-integrity test for an overlay mount.
 *
 *   stress prepare [OPTIONS] REFDIR LOWERDIR...
 *       Create each worker's initial files, spread over the LOWERDIRs (the
 *       lower layers, before they are mounted), and the same files in
 *       REFDIR, a plain directory that serves as the reference.
 *   stress run [OPTIONS] MNT REFDIR
 *       Workers (PROCS processes x THREADS threads) each do ROUNDS random
 *       operations on their own files, the same operation with the same
 *       data on MNT and on REFDIR: pwrite, write, append, truncate up and
 *       down, mmap writes (MAP_SHARED + msync), reads compared on the spot
 *       (also through a descriptor opened before the file was copied up),
 *       copy_file_range between two of the worker's files, fsync, reopen.
 *       Then every file is compared byte for byte.
 *   stress verify [OPTIONS] MNT REFDIR
 *       Only the comparison (e.g. after a remount).
 *
 * Options (use the same -p -t -f for all three steps):
 *   -s SEED      seed (default 1); a worker's operations depend only on the
 *                seed, its number and the files' contents, so any run can
 *                be repeated exactly
 *   -r ROUNDS    operations per worker (default 1000)
 *   -p PROCS     processes (default 2)       -t THREADS  threads each (default 3)
 *   -f FILES     lower files and new files per worker (default 3 each)
 *   -m BYTES     largest file size (default 1 MiB)
 *   -X           self-test: flip one byte of the reference before the
 *                final comparison, which must then fail
 *
 * Worker N owns the directory shared/wNN: lower files lI, new files nI
 * (shared/ is in the lower layers only: the workers copy it up at once).
 * Exit status: 0 if everything matched, 1 on a mismatch or a failed
 * system call on the mount (the first mismatch is printed: file, offset,
 * bytes, the operation just done), 2 on a usage error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_IO (64 * 1024)

/*
 * A worker's directory: SHARED_DIR/wNN.  SHARED_DIR exists only in the
 * lower layers, so the workers' first writes copy it up all at once.
 */
#define SHARED_DIR "shared"

struct config {
	uint64_t seed;
	long rounds;
	int procs;
	int threads;
	int files;
	off_t max_size;
	bool flip;
};

static struct config cfg = {
	.seed = 1, .rounds = 1000, .procs = 2, .threads = 3, .files = 3,
	.max_size = 1024 * 1024,
};

enum op {
	OP_PWRITE, OP_WRITE, OP_APPEND, OP_TRUNCATE, OP_MMAP, OP_READ,
	OP_COPY_RANGE, OP_FSYNC, OP_REOPEN, OP_STAT, OP_NUM
};

static const char *const op_names[OP_NUM] = {
	"pwrite", "write", "append", "truncate", "mmap-write", "read",
	"copy_file_range", "fsync", "reopen", "stat",
};

/* relative weights of the operations */
static const int op_weight[OP_NUM] = { 22, 6, 8, 8, 10, 22, 10, 4, 5, 5 };

struct wfile {
	char name[16];
	int mfd;	/* read-write on the mount, -1 until first used */
	int rfd;	/* read-write on the reference */
	int ofd;	/* read-only on the mount, opened early (before copy-up) */
};

struct worker {
	int id;
	uint64_t rng;
	int mdir, rdir;	/* the worker's directory on the mount, in the reference */
	int nfiles;
	struct wfile *files;
	long op_no;
	enum op op;
	unsigned long counts[OP_NUM];
	unsigned long cfr_fallbacks;
	bool failed;
	unsigned char *buf, *buf2;
};

static const char *prog = "stress";

/* ------------------------------------------------------------ randomness */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? splitmix(s) % n : 0;
}

/* mostly small I/O, some page sized, a few large */
static size_t rnd_len(uint64_t *s)
{
	switch (rnd(s, 8)) {
	case 0: case 1: case 2:
		return 1 + rnd(s, 512);
	case 3: case 4:
		return 1 + rnd(s, 8192);
	case 5:
		return 4096 * (1 + rnd(s, 4));
	default:
		return 1 + rnd(s, MAX_IO);
	}
}

static void fill(uint64_t *s, unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = splitmix(s);
		size_t n = len - i < 8 ? len - i : 8;

		memcpy(buf + i, &v, n);
	}
}

static uint64_t worker_seed(uint64_t seed, int id, uint64_t salt)
{
	uint64_t s = seed ^ (0x51ed270b2f9c3a1dULL * (uint64_t)(id + 1)) ^ salt;

	splitmix(&s);
	return s;
}

/* ------------------------------------------------------------ reporting */

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&print_lock);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&print_lock);
}

/* the first failure of a worker is reported; it then stops */
static bool wfail(struct worker *w, struct wfile *f, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (w->failed)
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say("MISMATCH seed=%llu worker=%d file=" SHARED_DIR "/w%02d/%s after op #%ld (%s): %s",
	    (unsigned long long)cfg.seed, w->id, w->id, f ? f->name : "-",
	    w->op_no, op_names[w->op], msg);
	w->failed = true;
	return false;
}

/* the reference is a plain directory: a failure there is the test's own */
static void ref_die(struct worker *w, const char *what)
{
	say("reference directory: %s (worker %d): %s", what, w->id, strerror(errno));
	exit(1);
}

static off_t ref_size(struct worker *w, struct wfile *f)
{
	struct stat st;

	if (fstat(f->rfd, &st) < 0)
		ref_die(w, "fstat");
	return st.st_size;
}

/* offset of the first differing byte of two buffers, or -1 */
static ssize_t first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i;

	if (memcmp(a, b, n) == 0)
		return -1;
	for (i = 0; a[i] == b[i]; i++)
		;
	return i;
}

/* ------------------------------------------------------------ files */

static int open_dir(const char *root, int id, bool create)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/" SHARED_DIR, root);
	if (create && mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/" SHARED_DIR "/w%02d", root, id);
	if (create && mkdir(path, 0755) < 0 && errno != EEXIST)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY);
}

static bool open_file(struct worker *w, struct wfile *f)
{
	if (f->mfd >= 0)
		return true;
	f->rfd = openat(w->rdir, f->name, O_RDWR | O_CREAT, 0644);
	if (f->rfd < 0)
		ref_die(w, "open");
	f->mfd = openat(w->mdir, f->name, O_RDWR | O_CREAT, 0644);
	if (f->mfd < 0)
		return wfail(w, f, "open O_RDWR: %s", strerror(errno));
	if (f->ofd < 0) {
		f->ofd = openat(w->mdir, f->name, O_RDONLY);
		if (f->ofd < 0)
			return wfail(w, f, "open O_RDONLY: %s", strerror(errno));
	}
	return true;
}

static void close_file(struct wfile *f)
{
	if (f->mfd >= 0)
		close(f->mfd);
	if (f->rfd >= 0)
		close(f->rfd);
	if (f->ofd >= 0)
		close(f->ofd);
	f->mfd = f->rfd = f->ofd = -1;
}

/* ------------------------------------------------------------ operations */

/* a random range [*off, *off + *len) that keeps the file within max_size */
static void pick_range(struct worker *w, off_t size, off_t *off, size_t *len)
{
	*len = rnd_len(&w->rng);
	*off = rnd(&w->rng, size + MAX_IO);
	if (*off + (off_t)*len > cfg.max_size)
		*off = rnd(&w->rng, cfg.max_size - *len);
}

static bool check_rw(struct worker *w, struct wfile *f, const char *call,
		     ssize_t got, size_t want, off_t off)
{
	if (got < 0)
		return wfail(w, f, "%s at offset %lld: %s", call, (long long)off, strerror(errno));
	if ((size_t)got != want)
		return wfail(w, f, "%s at offset %lld: %zd bytes instead of %zu",
			     call, (long long)off, got, want);
	return true;
}

static bool do_pwrite(struct worker *w, struct wfile *f)
{
	off_t off;
	size_t len;

	pick_range(w, ref_size(w, f), &off, &len);
	fill(&w->rng, w->buf, len);
	if (pwrite(f->rfd, w->buf, len, off) != (ssize_t)len)
		ref_die(w, "pwrite");
	return check_rw(w, f, "pwrite", pwrite(f->mfd, w->buf, len, off), len, off);
}

static bool do_write(struct worker *w, struct wfile *f)
{
	off_t off;
	size_t len;

	pick_range(w, ref_size(w, f), &off, &len);
	fill(&w->rng, w->buf, len);
	if (lseek(f->rfd, off, SEEK_SET) != off || write(f->rfd, w->buf, len) != (ssize_t)len)
		ref_die(w, "write");
	if (lseek(f->mfd, off, SEEK_SET) != off)
		return wfail(w, f, "lseek to %lld: %s", (long long)off, strerror(errno));
	return check_rw(w, f, "write", write(f->mfd, w->buf, len), len, off);
}

static bool do_truncate(struct worker *w, struct wfile *f)
{
	off_t size = ref_size(w, f), to;

	if (size > 0 && (size >= cfg.max_size || rnd(&w->rng, 2)))
		to = rnd(&w->rng, size);	/* down */
	else
		to = size + rnd(&w->rng, (cfg.max_size - size) / 4 + 1);	/* up */
	if (ftruncate(f->rfd, to) < 0)
		ref_die(w, "ftruncate");
	if (ftruncate(f->mfd, to) < 0)
		return wfail(w, f, "ftruncate to %lld: %s", (long long)to, strerror(errno));
	return true;
}

static bool do_append(struct worker *w, struct wfile *f)
{
	off_t size = ref_size(w, f);
	size_t len = rnd_len(&w->rng);
	int rfd, mfd;
	ssize_t n;

	if (size + (off_t)len > cfg.max_size)
		return do_truncate(w, f);
	fill(&w->rng, w->buf, len);
	rfd = openat(w->rdir, f->name, O_WRONLY | O_APPEND);
	if (rfd < 0 || write(rfd, w->buf, len) != (ssize_t)len)
		ref_die(w, "append");
	close(rfd);
	mfd = openat(w->mdir, f->name, O_WRONLY | O_APPEND);
	if (mfd < 0)
		return wfail(w, f, "open O_APPEND: %s", strerror(errno));
	n = write(mfd, w->buf, len);
	if (close(mfd) < 0 && n >= 0)
		return wfail(w, f, "close after append: %s", strerror(errno));
	return check_rw(w, f, "append", n, len, size);
}

static bool do_mmap_write(struct worker *w, struct wfile *f)
{
	off_t size = ref_size(w, f), off, base;
	long page = sysconf(_SC_PAGESIZE);
	size_t len, maplen;
	unsigned char *p;

	if (size == 0)
		return do_pwrite(w, f);
	off = rnd(&w->rng, size);
	len = rnd_len(&w->rng);
	if ((off_t)len > size - off)
		len = size - off;
	fill(&w->rng, w->buf, len);
	if (pwrite(f->rfd, w->buf, len, off) != (ssize_t)len)
		ref_die(w, "pwrite (mmap)");
	base = off & ~(off_t)(page - 1);
	maplen = off - base + len;
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, f->mfd, base);
	if (p == MAP_FAILED)
		return wfail(w, f, "mmap at %lld: %s", (long long)base, strerror(errno));
	memcpy(p + (off - base), w->buf, len);
	if (msync(p, maplen, MS_SYNC) < 0) {
		munmap(p, maplen);
		return wfail(w, f, "msync at %lld: %s", (long long)off, strerror(errno));
	}
	munmap(p, maplen);
	return true;
}

/* read the same range through the mount and the reference and compare */
static bool do_read(struct worker *w, struct wfile *f)
{
	off_t size = ref_size(w, f), off = rnd(&w->rng, size + 100);
	size_t len = rnd_len(&w->rng);
	bool early = f->ofd >= 0 && rnd(&w->rng, 2);
	int fd = early ? f->ofd : f->mfd;
	ssize_t r, m, d;

	r = pread(f->rfd, w->buf, len, off);
	if (r < 0)
		ref_die(w, "pread");
	m = pread(fd, w->buf2, len, off);
	if (m < 0)
		return wfail(w, f, "pread at %lld (%s descriptor): %s", (long long)off,
			     early ? "early read-only" : "read-write", strerror(errno));
	if (m != r)
		return wfail(w, f, "pread at %lld (%s descriptor): %zd bytes, expected %zd (size %lld)",
			     (long long)off, early ? "early read-only" : "read-write", m, r,
			     (long long)size);
	d = first_diff(w->buf, w->buf2, r);
	if (d >= 0)
		return wfail(w, f, "read (%s descriptor): offset %lld: expected 0x%02x, got 0x%02x",
			     early ? "early read-only" : "read-write", (long long)(off + d),
			     w->buf[d], w->buf2[d]);
	return true;
}

static ssize_t copy_range(int in, off_t off_in, int out, off_t off_out, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = copy_file_range(in, &off_in, out, &off_out, len - done, 0);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/* what copy_file_range must do, for mounts that refuse it */
static ssize_t copy_by_hand(struct worker *w, int in, off_t off_in, int out, off_t off_out, size_t len)
{
	ssize_t n = pread(in, w->buf2, len, off_in);

	if (n <= 0)
		return n;
	return pwrite(out, w->buf2, n, off_out);
}

static bool do_copy_range(struct worker *w, struct wfile *dst)
{
	struct wfile *src = &w->files[rnd(&w->rng, w->nfiles)];
	off_t ssize, dsize, soff, doff;
	size_t len;
	ssize_t r, m;

	if (src == dst || !open_file(w, src))
		return w->failed ? false : do_pwrite(w, dst);
	ssize = ref_size(w, src);
	dsize = ref_size(w, dst);
	if (ssize == 0)
		return do_pwrite(w, dst);
	soff = rnd(&w->rng, ssize);
	len = rnd_len(&w->rng);
	if ((off_t)len > ssize - soff)
		len = ssize - soff;
	doff = rnd(&w->rng, dsize + 1);
	if (doff + (off_t)len > cfg.max_size)
		doff = cfg.max_size - len;
	r = copy_range(src->rfd, soff, dst->rfd, doff, len);
	if (r < 0)
		ref_die(w, "copy_file_range");
	m = copy_range(src->mfd, soff, dst->mfd, doff, len);
	if (m < 0 && (errno == EXDEV || errno == EOPNOTSUPP || errno == ENOSYS)) {
		w->cfr_fallbacks++;
		m = copy_by_hand(w, src->mfd, soff, dst->mfd, doff, len);
	}
	if (m < 0)
		return wfail(w, dst, "copy_file_range from %s at %lld to %lld, %zu bytes: %s",
			     src->name, (long long)soff, (long long)doff, len, strerror(errno));
	if (m != r)
		return wfail(w, dst, "copy_file_range from %s at %lld to %lld: %zd bytes, expected %zd",
			     src->name, (long long)soff, (long long)doff, m, r);
	return true;
}

static bool do_fsync(struct worker *w, struct wfile *f)
{
	int r = rnd(&w->rng, 2) ? fsync(f->mfd) : fdatasync(f->mfd);

	if (r < 0)
		return wfail(w, f, "fsync: %s", strerror(errno));
	return true;
}

static bool do_reopen(struct worker *w, struct wfile *f)
{
	close_file(f);
	return open_file(w, f);
}

static bool do_stat(struct worker *w, struct wfile *f)
{
	off_t size = ref_size(w, f);
	struct stat st;

	if (fstat(f->mfd, &st) < 0)
		return wfail(w, f, "fstat: %s", strerror(errno));
	if (st.st_size != size)
		return wfail(w, f, "fstat: size %lld, expected %lld", (long long)st.st_size,
			     (long long)size);
	if (fstatat(w->mdir, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return wfail(w, f, "stat: %s", strerror(errno));
	if (st.st_size != size)
		return wfail(w, f, "stat: size %lld, expected %lld", (long long)st.st_size,
			     (long long)size);
	return true;
}

static bool (*const op_func[OP_NUM])(struct worker *, struct wfile *) = {
	do_pwrite, do_write, do_append, do_truncate, do_mmap_write, do_read,
	do_copy_range, do_fsync, do_reopen, do_stat,
};

static enum op pick_op(struct worker *w)
{
	int total = 0, i, r;

	for (i = 0; i < OP_NUM; i++)
		total += op_weight[i];
	r = rnd(&w->rng, total);
	for (i = 0; r >= op_weight[i]; i++)
		r -= op_weight[i];
	return i;
}

/* ------------------------------------------------------------ workers */

static void file_name(struct wfile *f, int i, int nlower)
{
	if (i < nlower)
		snprintf(f->name, sizeof(f->name), "l%d", i);
	else
		snprintf(f->name, sizeof(f->name), "n%d", i - nlower);
	f->mfd = f->rfd = f->ofd = -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	long i;

	for (i = 0; i < w->nfiles; i++) {
		struct wfile *f = &w->files[i];

		/* lower files: a read-only descriptor from before the copy-up */
		if (f->name[0] == 'l') {
			f->ofd = openat(w->mdir, f->name, O_RDONLY);
			if (f->ofd < 0) {
				wfail(w, f, "open O_RDONLY (lower file): %s", strerror(errno));
				return NULL;
			}
		}
	}
	for (w->op_no = 1; w->op_no <= cfg.rounds && !w->failed; w->op_no++) {
		struct wfile *f = &w->files[rnd(&w->rng, w->nfiles)];

		w->op = pick_op(w);
		if (!open_file(w, f))
			break;
		w->counts[w->op]++;
		op_func[w->op](w, f);
	}
	for (i = 0; i < w->nfiles; i++)
		close_file(&w->files[i]);
	return NULL;
}

static int run_process(const char *mnt, const char *ref, int proc)
{
	struct worker *ws = calloc(cfg.threads, sizeof(*ws));
	pthread_t *tids = calloc(cfg.threads, sizeof(*tids));
	unsigned long counts[OP_NUM] = { 0 };
	char line[512];
	int t, i, rc = 0, n = 0;

	for (t = 0; t < cfg.threads; t++) {
		struct worker *w = &ws[t];

		w->id = proc * cfg.threads + t;
		w->rng = worker_seed(cfg.seed, w->id, 0);
		w->nfiles = 2 * cfg.files;
		w->files = calloc(w->nfiles, sizeof(*w->files));
		w->buf = malloc(MAX_IO);
		w->buf2 = malloc(MAX_IO);
		for (i = 0; i < w->nfiles; i++)
			file_name(&w->files[i], i, cfg.files);
		w->rdir = open_dir(ref, w->id, false);
		w->mdir = open_dir(mnt, w->id, false);
		if (w->rdir < 0 || w->mdir < 0) {
			say("worker %d: cannot open w%02d in %s: %s (run prepare first, same -p -t)",
			    w->id, w->id, w->rdir < 0 ? ref : mnt, strerror(errno));
			return 1;
		}
		if (pthread_create(&tids[t], NULL, worker_main, w) != 0) {
			say("pthread_create failed");
			return 1;
		}
	}
	for (t = 0; t < cfg.threads; t++) {
		pthread_join(tids[t], NULL);
		for (i = 0; i < OP_NUM; i++)
			counts[i] += ws[t].counts[i];
		if (ws[t].failed)
			rc = 1;
		if (ws[t].cfr_fallbacks && proc == 0 && t == 0)
			say("note: copy_file_range refused on the mount, emulated %lu times",
			    ws[t].cfr_fallbacks);
	}
	for (i = 0; i < OP_NUM; i++)
		n += snprintf(line + n, sizeof(line) - n, " %s %lu", op_names[i], counts[i]);
	printf("%s: process %d:%s\n", prog, proc, line);
	return rc;
}

/* ------------------------------------------------------------ comparing */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted names in a directory; NULL-terminated */
static char **list_dir(int dirfd, size_t *n)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **names = NULL;
	struct dirent *de;
	size_t cap = 0;

	*n = 0;
	if (!d)
		return NULL;
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n + 1 >= cap) {
			cap = cap ? 2 * cap : 16;
			names = realloc(names, cap * sizeof(*names));
		}
		names[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	if (!names)
		names = calloc(1, sizeof(*names));
	qsort(names, *n, sizeof(*names), name_cmp);
	names[*n] = NULL;
	return names;
}

/* compare one file; prints and returns false at its first difference */
static bool compare_file(int mdir, int rdir, const char *dir, const char *name)
{
	unsigned char *a = malloc(MAX_IO), *b = malloc(MAX_IO);
	int rfd = openat(rdir, name, O_RDONLY), mfd = openat(mdir, name, O_RDONLY);
	struct stat rs, ms;
	bool ok = false;
	off_t off = 0;

	if (rfd < 0) {
		say("reference %s/%s: %s", dir, name, strerror(errno));
		goto out;
	}
	if (mfd < 0) {
		say("MISMATCH seed=%llu file=%s/%s: open: %s", (unsigned long long)cfg.seed,
		    dir, name, strerror(errno));
		goto out;
	}
	fstat(rfd, &rs);
	if (fstat(mfd, &ms) < 0 || ms.st_size != rs.st_size) {
		say("MISMATCH seed=%llu file=%s/%s: size %lld, expected %lld",
		    (unsigned long long)cfg.seed, dir, name, (long long)ms.st_size,
		    (long long)rs.st_size);
		goto out;
	}
	for (;;) {
		ssize_t r = pread(rfd, a, MAX_IO, off), m = pread(mfd, b, MAX_IO, off), d;

		if (m < 0 || m != r) {
			say("MISMATCH seed=%llu file=%s/%s: read at %lld: %zd bytes, expected %zd%s%s",
			    (unsigned long long)cfg.seed, dir, name, (long long)off, m, r,
			    m < 0 ? ": " : "", m < 0 ? strerror(errno) : "");
			goto out;
		}
		if (r <= 0)
			break;
		d = first_diff(a, b, r);
		if (d >= 0) {
			say("MISMATCH seed=%llu file=%s/%s: offset %lld: expected 0x%02x, got 0x%02x",
			    (unsigned long long)cfg.seed, dir, name, (long long)(off + d), a[d], b[d]);
			goto out;
		}
		off += r;
	}
	ok = true;
out:
	if (rfd >= 0)
		close(rfd);
	if (mfd >= 0)
		close(mfd);
	free(a);
	free(b);
	return ok;
}

/* every worker's directory: the same names, the same bytes */
static int verify(const char *mnt, const char *ref)
{
	int nworkers = cfg.procs * cfg.threads, id, bad = 0, files = 0;

	for (id = 0; id < nworkers; id++) {
		int rdir = open_dir(ref, id, false), mdir = open_dir(mnt, id, false);
		char dir[32], **rn, **mn;
		size_t nr, nm, i, j;

		snprintf(dir, sizeof(dir), SHARED_DIR "/w%02d", id);
		if (rdir < 0 || mdir < 0) {
			say("MISMATCH seed=%llu: %s missing in %s", (unsigned long long)cfg.seed,
			    dir, rdir < 0 ? ref : mnt);
			return 1;
		}
		rn = list_dir(rdir, &nr);
		mn = list_dir(mdir, &nm);
		for (i = j = 0; i < nr || j < nm;) {
			int c = i == nr ? 1 : j == nm ? -1 : strcmp(rn[i], mn[j]);

			if (c == 0) {
				files++;
				if (!compare_file(mdir, rdir, dir, rn[i]))
					bad++;
				i++, j++;
			} else {
				say("MISMATCH seed=%llu file=%s/%s: only in %s", (unsigned long long)cfg.seed,
				    dir, c < 0 ? rn[i] : mn[j], c < 0 ? "the reference" : "the mount");
				bad++;
				c < 0 ? i++ : j++;
			}
		}
		for (i = 0; i < nr; i++)
			free(rn[i]);
		for (j = 0; j < nm; j++)
			free(mn[j]);
		free(rn);
		free(mn);
		close(rdir);
		close(mdir);
	}
	if (bad) {
		say("%d of %d files differ (seed %llu)", bad, files, (unsigned long long)cfg.seed);
		return 1;
	}
	printf("%s: verify: %d files identical\n", prog, files);
	return 0;
}

/* -X: change one byte of worker 0's first non-empty reference file */
static void flip_reference_byte(const char *ref)
{
	int rdir = open_dir(ref, 0, false), i;

	for (i = 0; i < 2 * cfg.files && rdir >= 0; i++) {
		struct wfile f;
		struct stat st;
		unsigned char c;
		int fd;

		file_name(&f, i, cfg.files);
		fd = openat(rdir, f.name, O_RDWR);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (pread(fd, &c, 1, st.st_size / 2) != 1)
			c = 0;
		c ^= 0x5a;
		if (pwrite(fd, &c, 1, st.st_size / 2) != 1) {
			say("self-test: writing the reference failed: %s", strerror(errno));
			exit(1);
		}
		close(fd);
		say("self-test: flipped the byte at offset %lld of reference " SHARED_DIR "/w00/%s",
		    (long long)(st.st_size / 2), f.name);
		break;
	}
	if (rdir >= 0)
		close(rdir);
}

/* ------------------------------------------------------------ commands */

static int cmd_prepare(int nlower, char **lower, const char *ref)
{
	int nworkers = cfg.procs * cfg.threads, id, i, l;

	for (id = 0; id < nworkers; id++) {
		uint64_t rng = worker_seed(cfg.seed, id, 0x1ea7);
		int rdir = open_dir(ref, id, true);

		if (rdir < 0) {
			say("%s/w%02d: %s", ref, id, strerror(errno));
			return 1;
		}
		for (l = 0; l < nlower; l++) {
			int d = open_dir(lower[l], id, true);

			if (d < 0) {
				say("%s/w%02d: %s", lower[l], id, strerror(errno));
				return 1;
			}
			close(d);
		}
		for (i = 0; i < cfg.files; i++) {
			size_t len = rnd(&rng, 4) ? rnd(&rng, 256 * 1024) : 0;
			unsigned char *buf = malloc(len + 1);
			int ldir = open_dir(lower[(id + i) % nlower], id, false);
			char name[16];
			int fd[2];

			fill(&rng, buf, len);
			snprintf(name, sizeof(name), "l%d", i);
			fd[0] = openat(rdir, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			fd[1] = openat(ldir, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd[0] < 0 || fd[1] < 0 || write(fd[0], buf, len) != (ssize_t)len ||
			    write(fd[1], buf, len) != (ssize_t)len) {
				say("writing w%02d/%s: %s", id, name, strerror(errno));
				return 1;
			}
			close(fd[0]);
			close(fd[1]);
			close(ldir);
			free(buf);
		}
		close(rdir);
	}
	printf("%s: prepare: %d workers x %d lower files in %d layer(s)\n", prog, nworkers,
	       cfg.files, nlower);
	return 0;
}

static int cmd_run(const char *mnt, const char *ref)
{
	int p, status, rc = 0;
	pid_t *pids = calloc(cfg.procs, sizeof(*pids));

	printf("%s: run: seed %llu, %d processes x %d threads, %ld operations each\n", prog,
	       (unsigned long long)cfg.seed, cfg.procs, cfg.threads, cfg.rounds);
	fflush(stdout);
	for (p = 0; p < cfg.procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			say("fork: %s", strerror(errno));
			return 1;
		}
		if (pids[p] == 0)
			_exit(run_process(mnt, ref, p));
	}
	for (p = 0; p < cfg.procs; p++) {
		if (waitpid(pids[p], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			if (WIFSIGNALED(status))
				say("process %d killed by signal %d", p, WTERMSIG(status));
			rc = 1;
		}
	}
	free(pids);
	if (cfg.flip)
		flip_reference_byte(ref);
	if (verify(mnt, ref))
		rc = 1;
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s prepare [-s SEED] [-p PROCS] [-t THREADS] [-f FILES] REFDIR LOWERDIR...\n"
		"       %s run [-s SEED] [-r ROUNDS] [-p PROCS] [-t THREADS] [-f FILES] [-m BYTES] [-X] MNT REFDIR\n"
		"       %s verify [-p PROCS] [-t THREADS] MNT REFDIR\n",
		prog, prog, prog);
	exit(2);
}

static long num(const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || v < min) {
		fprintf(stderr, "%s: bad number: %s\n", prog, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int c;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argv++, argc--;
	while ((c = getopt(argc, argv, "s:r:p:t:f:m:X")) != -1) {
		switch (c) {
		case 's': cfg.seed = strtoull(optarg, NULL, 0); break;
		case 'r': cfg.rounds = num(optarg, 0); break;
		case 'p': cfg.procs = num(optarg, 1); break;
		case 't': cfg.threads = num(optarg, 1); break;
		case 'f': cfg.files = num(optarg, 1); break;
		case 'm': cfg.max_size = num(optarg, 2 * MAX_IO); break;
		case 'X': cfg.flip = true; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "prepare") && argc >= 2)
		return cmd_prepare(argc - 1, argv + 1, argv[0]);
	if (!strcmp(cmd, "run") && argc == 2)
		return cmd_run(argv[0], argv[1]);
	if (!strcmp(cmd, "verify") && argc == 2)
		return verify(argv[0], argv[1]);
	usage();
	return 2;
}
