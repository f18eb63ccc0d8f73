/* Small helpers shared by the operations. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "layerfs.h"

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "layerfs: out of memory\n");
		abort();
	}
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "layerfs: out of memory\n");
		abort();
	}
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (!p) {
		fprintf(stderr, "layerfs: out of memory\n");
		abort();
	}
	return p;
}

/* FNV-1a of a name: quick, but it mixes its last bytes poorly; where
 * the high bits matter, finish it with hash_mix(). */
uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

uint64_t hash_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		fprintf(stderr, "layerfs: out of memory\n");
		abort();
	}
	return p;
}

/* Whether S is one of the strings of LIST, which ends with NULL. */
bool str_in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* Is A the same as B or below it? Both are canonical paths. */
bool path_within(const char *a, const char *b)
{
	size_t lb = strlen(b);

	if (!strcmp(b, "/"))
		return true;
	return !strncmp(a, b, lb) && (a[lb] == '\0' || a[lb] == '/');
}

/* Where the daemon's messages go: the caller's stderr, until the daemon
 * goes to the background, where stderr is /dev/null; from then on the
 * system log (facility daemon, "layerfs[PID]"), libfuse's messages too,
 * as a sysadmin finds the kernel overlay's warnings in the kernel log.
 * The warnings of the mount itself (a mount that fails exits before)
 * are written there too, once it is in the background: podman, for one,
 * shows a mount program's stderr only when the mount fails. Once
 * mounted, each message starts with the mount point: a system log holds
 * the messages of every mount, and the pid of one that has exited says
 * nothing. */
#define LOG_KEPT 16
static bool log_to_syslog;
static bool log_keeping = true;	/* till the daemon's threads start */
static char *log_kept[LOG_KEPT];
static unsigned int log_nkept;
static char *log_mnt;		/* the mount point, once mounted */

/* Say MSG where messages go now, after the mount point once mounted. */
static void log_emit(int level, const char *msg)
{
	const char *mnt = log_mnt ? log_mnt : "", *sep = log_mnt ? ": " : "";

	if (log_to_syslog)
		syslog(level, "%s%s%s", mnt, sep, msg);
	else
		fprintf(stderr, "layerfs: %s%s%s\n", mnt, sep, msg);
}

/* libfuse's levels are syslog's; its messages end in a newline */
static void fuse_log_syslog(enum fuse_log_level level, const char *fmt,
			    va_list ap)
{
	char msg[1024];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_emit((int)level, msg);
}

/* The file system is mounted on MOUNTPOINT: messages name it from now on.
 * Before the threads start. */
void lfs_log_mounted(const char *mountpoint)
{
	log_mnt = xstrdup(mountpoint);
}

/* The daemon is about to serve, in the BACKGROUND or not, before its
 * threads start: from here no message is kept, and in the background
 * they go to the system log, those kept till now first. */
void lfs_log_serving(bool background)
{
	unsigned int i;

	log_keeping = false;
	if (background) {
		/* the socket now, while descriptors are plenty */
		openlog("layerfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		fuse_set_log_func(fuse_log_syslog);
		log_to_syslog = true;
	}
	/* said before the mount point was known, or after: it leads now */
	for (i = 0; i < log_nkept; i++) {
		if (background)
			log_emit(LOG_WARNING, log_kept[i]);
		free(log_kept[i]);
	}
	log_nkept = 0;
}

void lfs_log(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	log_emit(LOG_WARNING, msg ? msg : fmt);
	if (msg && log_keeping && log_nkept < LOG_KEPT)
		log_kept[log_nkept++] = msg;
	else
		free(msg);
}

/* Open a new description of the object an O_PATH descriptor refers to.
 * The /proc magic link is the only way from O_PATH to a readable file
 * without knowing a name for it. */
int reopen_fd(int fd, int flags)
{
	char name[24];

	snprintf(name, sizeof(name), "%d", fd);
	return layer_openat(fs.procfd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
}

/* Give the object behind FD (any descriptor, O_PATH and unnamed files
 * too) the name NAME in DIRFD: linkat(2) through its /proc link, as
 * linkat(AT_EMPTY_PATH) wants CAP_DAC_READ_SEARCH, which a rootless
 * daemon may lack. -1 and errno on failure. */
int link_fd_at(int fd, int dirfd, const char *name)
{
	char fdname[24];

	snprintf(fdname, sizeof(fdname), "%d", fd);
	return linkat(fs.procfd, fdname, dirfd, name, AT_SYMLINK_FOLLOW);
}

char *fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

int fd_path_at(int dirfd, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/self/fd/%d/%s", dirfd, name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* New objects are created by the daemon and then handed to the caller
 * (mapped to disk ids); a setgid parent passes on its group and, to
 * directories, its bit. PARENT_ST is the parent's logical attributes.
 * An empty NAME means DIRFD itself (an O_TMPFILE file). */
int set_creds_owner(int dirfd, const char *name, const struct fuse_ctx *ctx,
		    const struct stat *parent_st, bool isdir)
{
	bool sgid = parent_st && (parent_st->st_mode & S_ISGID);
	uid_t uid;
	gid_t gid;
	struct stat st;
	mode_t mode;
	int err;

	if (uid_to_disk(ctx->uid, &uid))
		uid = OVERFLOW_ID;
	if (gid_to_disk(ctx->gid, &gid))
		gid = OVERFLOW_ID;
	if (sgid)
		gid = parent_st->st_gid;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH)) < 0)
		return -errno;
	mode = st.st_mode & 07777;
	if (isdir && sgid)
		mode |= S_ISGID;
	if (!override_fits(st.st_mode) && st.st_uid == uid && st.st_gid == gid) {
		err = 0;	/* the daemon's own ids: nothing to change */
	} else {
		err = set_owner_at(dirfd, name, uid, gid, mode);
		/* a chown clears set-id bits of what is not a directory:
		 * those the caller asked for go back below */
		if (!err && !override_fits(st.st_mode) && (mode & (S_ISUID | S_ISGID)) &&
		    !S_ISDIR(st.st_mode) &&
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW |
			    (name[0] ? 0 : AT_EMPTY_PATH)) < 0)
			return -errno;
	}
	if (err == -EPERM || err == -EINVAL) {
		/* ids the daemon may not give: keep its own, as a
		 * filesystem without chown support would */
		err = 0;
	}
	if (!err && !override_fits(st.st_mode) && mode != (st.st_mode & 07777) &&
	    !S_ISLNK(st.st_mode) &&
	    (name[0] ? fchmodat(dirfd, name, mode, 0) : fchmod(dirfd, mode)) < 0)
		err = -errno;
	return err;
}

/* The kernel leaves the umask to us (FUSE_CAP_DONT_MASK) so that a
 * default ACL on the parent can take its place, as on a local disk. */
bool has_default_acl(int parent_upper_fd)
{
	return !fs.cfg->noacl &&
	       fgetxattr(parent_upper_fd, "system.posix_acl_default", NULL, 0) > 0;
}

mode_t apply_umask(bool default_acl, mode_t mode, const struct fuse_ctx *ctx)
{
	return default_acl ? mode : mode & ~ctx->umask;
}

/* How long the kernel may keep N's attributes. */
double attr_timeout(const struct node *n)
{
	return node_has(n, NODE_MAPPED) ? 0 : fs.timeout;
}

void fill_entry(struct fuse_entry_param *e, struct node *n,
		const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = node_id(n);
	e->attr = *st;
	e->attr_timeout = attr_timeout(n);
	e->entry_timeout = fs.timeout;
}

/* mountinfo escapes blanks, tabs, newlines and backslashes as \ooo:
 * undo it in place. */
void mountinfo_unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory FD, sorted, without "." and "..": 0 with
 * *NAMES (free with names_free) and *COUNT set, or -errno. FD is read
 * from its start, through a duplicate that shares its offset. */
int dir_names_sorted(int fd, char ***names, size_t *count)
{
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;
	int dfd = dup(fd), err;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;

	*names = NULL;
	*count = 0;
	if (!d) {
		err = -errno;
		if (dfd >= 0)
			close(dfd);
		return err;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*names = v;
	*count = n;
	return 0;
}

void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The monotonic clock in microseconds. */
uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Start FN(ARG) in a thread that takes no signals (they are for the
 * thread that ends the session: main.c, stop.c), detached or, with T,
 * to be joined through *T. */
static bool spawn_masked(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t own;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&a);
	if (!t)
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	err = pthread_create(t ? t : &own, &a, fn, arg);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err == 0;
}

bool spawn_detached(void *(*fn)(void *), void *arg)
{
	return spawn_masked(NULL, fn, arg);
}

bool spawn_joinable(pthread_t *t, void *(*fn)(void *), void *arg)
{
	return spawn_masked(t, fn, arg);
}

/* Test hook: LAYERFS_TEST_PAUSE=POINT:NAME:MS[:N] makes the Nth request (the
 * first by default) that reaches POINT for an entry called NAME sleep MS
 * milliseconds there, so that a test can run another request in the
 * middle of it (tests/rename.bats renames a tree while a lookup in it is
 * under way). Up to PAUSE_SPECS such specs, separated by ';', each count
 * their own hits (a test that holds two requests at once). Points:
 * "lookup", any lookup of a name (a LOOKUP or a
 * listing's entry) once the layers are read; "lookup_request", a LOOKUP
 * request before anything is opened; "install", a new object staged to
 * replace a whiteout, after the whiteout was found in its way; "open",
 * an OPEN once the file is open, before the reply; "oref", the daemon's
 * way to a lower object by its name, between reading the object's
 * layers and its parent's; "write_failed", a failed WRITE from the
 * writeback cache after its reply (NAME empty); "listing", a listing of
 * the directory NAME between taking its layers and reading them;
 * "list_entry", a listing that read the name NAME of a device or of an
 * entry of unknown type, before it stats it; "purge", the tree copy of
 * a rename (copyup_tree.c) that gave the directory NAME its upper alone,
 * before it removes the whiteouts there; "idlepoll", idlepoll.c's thread
 * after a count that saw requests (NAME empty); "late_start", the thread
 * that starts the helper threads while the loop starts (main.c; NAME
 * empty). */
#define PAUSE_SPECS 4

static struct pause {
	char point[32], name[NAME_MAX + 1];
	unsigned ms, nth, hits;
} pauses[PAUSE_SPECS];
static unsigned npauses;
static pthread_once_t pauses_once = PTHREAD_ONCE_INIT;

static void pauses_read(void)
{
	const char *env = getenv("LAYERFS_TEST_PAUSE");
	char *copy, *spec, *save = NULL;

	if (!env)
		return;
	copy = xstrdup(env);
	for (spec = strtok_r(copy, ";", &save); spec && npauses < PAUSE_SPECS;
	     spec = strtok_r(NULL, ";", &save)) {
		struct pause *p = &pauses[npauses];
		char *name = strchr(spec, ':'), *ms, *nth;

		if (!name || !(ms = strchr(name + 1, ':')))
			continue;
		*name++ = '\0';
		*ms++ = '\0';
		nth = strchr(ms, ':');
		snprintf(p->point, sizeof(p->point), "%s", spec);
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->ms = (unsigned)atoi(ms);
		p->nth = nth ? (unsigned)atoi(nth + 1) : 1u;
		npauses++;
	}
	free(copy);
}

/* Is a pause asked for at POINT (for callers that must work to name it)? */
bool test_pause_wanted(const char *point)
{
	pthread_once(&pauses_once, pauses_read);
	for (unsigned i = 0; i < npauses; i++)
		if (!strcmp(pauses[i].point, point))
			return true;
	return false;
}

void test_pause(const char *point, const char *name)
{
	pthread_once(&pauses_once, pauses_read);
	for (unsigned i = 0; i < npauses; i++) {
		struct pause *p = &pauses[i];

		if (!strcmp(p->point, point) && !strcmp(p->name, name) &&
		    __atomic_add_fetch(&p->hits, 1, __ATOMIC_RELAXED) == p->nth)
			usleep((useconds_t)p->ms * 1000);
	}
}
