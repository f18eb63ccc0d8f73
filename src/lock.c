/* The work directory lock: one flock(2) on WORKDIR/layerfs.lock, held by
 * a daemon for its whole life and by commit, reset and the recovery of an
 * interrupted commit while they run, so that two daemons never share an
 * upper and work dir and nothing rewrites an upper a daemon is serving.
 *
 * The lock file sits in the workdir because the upper becomes a layer at
 * commit and must not carry it. It holds "PID ROLE" of the holder, so the
 * party turned away can be told whom it waits for. A flock belongs to the
 * open file description, so it survives the daemon's fork into the
 * background; the pid written must then be updated (work_lock_set_pid). */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stack.h"

/* A lock a subcommand took before starting the daemon in-process: handed
 * over to daemon_run's work_lock_acquire instead of being taken twice
 * (a second flock from this process would conflict with the first). */
static int held_fd = -1;

/* The upper's flock that a daemon, a commit or a reset holds beside the
 * work dir lock WITH_WORK, released with it (upper_lock_attach). Shared
 * (UPPER_OP LOCK_SH) beside a detached daemon of the same work dir, which
 * keeps a shared one (work_lock_hand_over()); else exclusive. */
static int upper_fd = -1, upper_with_work = -1, upper_op = LOCK_EX;

static char *lock_path(const char *workdir)
{
	char *p = xmalloc(strlen(workdir) + sizeof(WORK_LOCK_NAME) + 2);

	sprintf(p, "%s/%s", workdir, WORK_LOCK_NAME);
	return p;
}

static void write_holder(int fd, const char *role)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%d %s\n", (int)getpid(), role);

	/* best effort: the lock itself is the flock, this is a courtesy.
	 * Written over, then cut to length: a truncation to 0 first freed
	 * the file's block and the write took a new one (0.3-0.5 ms of the
	 * daemon's start on ext4 here, before it answered INIT) */
	if (pwrite(fd, buf, (size_t)n, 0) == n)
		(void)!ftruncate(fd, n);
}

/* The pid (and role) written by the holder, or 0 when none can be read. */
static int read_holder(int fd, char *role, size_t rlen)
{
	char buf[64];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;
	long pid;

	if (role && rlen)
		role[0] = '\0';
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || pid <= 0)
		return 0;
	if (role && *end == ' ') {
		end[strcspn(end, "\n")] = '\0';
		snprintf(role, rlen, "%s", end + 1);
	}
	return (int)pid;
}

static void describe_holder(int fd, const char *workdir, char *errbuf,
			    size_t len)
{
	char role[32];
	int pid = read_holder(fd, role, sizeof(role));

	if (pid > 0)
		snprintf(errbuf, len, "workdir '%s' is in use by layerfs pid %d (%s)",
			 workdir, pid, role[0] ? role : "unknown");
	else
		snprintf(errbuf, len, "workdir '%s' is in use by another layerfs process",
			 workdir);
}

#define WAIT_TRIES	100	/* of 50 ms each: five seconds */

/* An exclusive flock on FD. A holder may be a `layerfs check` peeking
 * for an instant, or a daemon still leaving after umount(8) returned
 * (podman unmounts and mounts again at a restart; on a busy machine the
 * exit can take a while): wait five seconds at most. 0 or -errno,
 * -EWOULDBLOCK when the time is up. */
static int flock_wait_op(int fd, int op)
{
	for (int tries = 0; flock(fd, op | LOCK_NB) < 0; tries++) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (tries == WAIT_TRIES)
			return -EWOULDBLOCK;
		usleep(50000);
	}
	return 0;
}

static int flock_wait(int fd)
{
	return flock_wait_op(fd, LOCK_EX);
}

/* The lock file this process created, removed again by
 * work_lock_abandon() when the mount it was made for is refused: a
 * refused mount leaves the work dir as it found it. */
static struct {
	char *path;
	dev_t dev;
	ino_t ino;
} made;

/* Open PATH, creating it if need be; *CREATED tells which. */
static int lock_open(const char *path, bool *created)
{
	for (;;) {
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

		*created = fd >= 0;
		if (fd >= 0 || errno != EEXIST)
			return fd;
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		/* removed between the two opens: create it after all */
	}
}

static void note_made(const char *path, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return;
	free(made.path);
	made.path = xstrdup(path);
	made.dev = st.st_dev;
	made.ino = st.st_ino;
}

static int lock_take(const char *workdir, const char *role, char *errbuf,
		     size_t len)
{
	char *path = lock_path(workdir);
	struct stat st;
	bool created;
	int fd, err;

	if (held_fd >= 0 && stat(path, &st) == 0 && same_object(held_fd, &st)) {
		fd = held_fd;
		held_fd = -1;
		write_holder(fd, role);
		free(path);
		return fd;
	}
	for (;;) {
		fd = lock_open(path, &created);
		if (fd < 0) {
			snprintf(errbuf, len, "workdir '%s': cannot open %s: %s", workdir,
				 WORK_LOCK_NAME, strerror(errno));
			free(path);
			return -1;
		}
		err = flock_wait(fd);
		if (err == -EWOULDBLOCK)
			describe_holder(fd, workdir, errbuf, len);
		else if (err)
			snprintf(errbuf, len, "workdir '%s': cannot lock %s: %s",
				 workdir, WORK_LOCK_NAME, strerror(-err));
		if (err) {
			close(fd);
			free(path);
			return -1;
		}
		/* The holder before us may have abandoned the file, removing
		 * it: a lock on it locks nothing, try the name again. */
		if (lstat(path, &st) == 0 && same_object(fd, &st))
			break;
		close(fd);
	}
	if (created)
		note_made(path, fd);
	free(path);
	write_holder(fd, role);
	return fd;
}

static void upper_busy_message(const char *upperdir, char *errbuf, size_t len)
{
	snprintf(errbuf, len, "upperdir '%s' is the upper of another layerfs mount "
		 "(with another workdir): one upper takes one mount at a time", upperdir);
}

/* A daemon also holds a flock on its upper directory itself (no file is
 * put there: the upper becomes a layer), so that a second mount of the
 * same upper with another work dir is turned away: two daemons would
 * each take the other's changes for their own, and undo them. Returns
 * the fd to keep open, -1 with a message in ERRBUF, or -2 where the
 * upper's file system takes no flock (nothing is checked then). A
 * detached daemon of WORKDIR (DETACHED_MARK) keeps a shared flock on
 * the upper: with it, the upper is taken shared too, at once; a mount
 * with another work dir, which wants it exclusive, is still turned away. */
static int upper_lock_acquire(const char *upperdir, const char *workdir,
			      char *errbuf, size_t len)
{
	int fd = open(upperdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -2;	/* layers_open() checked it: nothing to add */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return fd;
	if (errno == EWOULDBLOCK && workdir && work_detached_holder(workdir) &&
	    flock(fd, LOCK_SH | LOCK_NB) == 0) {
		upper_op = LOCK_SH;
		return fd;
	}
	err = flock_wait(fd);
	if (!err)
		return fd;
	close(fd);
	if (err != -EWOULDBLOCK)
		return -2;
	upper_busy_message(upperdir, errbuf, len);
	return -1;
}

/* Take UPPERDIR's flock and tie it to the work dir lock WORK_FD, so that
 * work_lock_release() lets go of both. 0, or -1 with a message in ERRBUF
 * when another daemon holds it. */
int upper_lock_attach(const char *upperdir, const char *workdir, int work_fd,
		      char *errbuf, size_t len)
{
	int fd = upper_lock_acquire(upperdir, workdir, errbuf, len);

	if (fd == -1)
		return -1;
	if (fd >= 0) {
		upper_fd = fd;
		upper_with_work = work_fd;
	}
	return 0;
}

/* Does a daemon hold UPPERDIR's flock? Peeks as work_lock_holder does. */
bool upper_lock_busy(const char *upperdir)
{
	int fd = open(upperdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool busy;

	if (fd < 0)
		return false;
	busy = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

/* Wait as flock_wait() does, holding no lock, until no daemon holds
 * UPPERDIR's flock: a mount, commit or reset refused since another mount
 * serves its upper must not hold its work dir's lock while it waits, or a
 * mount of that work dir meanwhile waits as long and is turned away.
 * While WORKDIR's lock is held too (most likely by the same daemon), the
 * work dir lock is waited for instead, whose holder can be named. Taken
 * after the work dir lock, the upper's flock is still waited for
 * (upper_lock_attach), should another have taken it in between. 0, or -1
 * with a message in ERRBUF. */
int upper_lock_wait_free(const char *upperdir, const char *workdir,
			 char *errbuf, size_t len)
{
	for (int tries = 0; upper_lock_busy(upperdir); tries++) {
		if (work_lock_holder(workdir) != 0)
			return 0;
		if (tries == WAIT_TRIES) {
			upper_busy_message(upperdir, errbuf, len);
			return -1;
		}
		usleep(50000);
	}
	return 0;
}

/* For daemon_run: lock WORKDIR for the daemon's lifetime. Returns the fd
 * to keep open, or -1 with a message naming the holder's pid. */
int work_lock_acquire(const char *workdir, char *errbuf, size_t len)
{
	return lock_take(workdir, "mount", errbuf, len);
}

/* Let go of the upper's flock tied to the work dir lock. */
static void upper_lock_drop(void)
{
	close(upper_fd);
	upper_fd = upper_with_work = -1;
	upper_op = LOCK_EX;
}

/* Take OLD's flock over to a descriptor of the same object opened as NAME
 * in DIRFD (OFLAGS): the new one, OLD if it cannot be opened there, or -1
 * if someone else holds the lock now. A flock belongs to one open file
 * description and cannot pass to another: OLD's goes, and the new one is
 * waited for as any taker waits (flock_wait()), since another taker that
 * waited may get it in between, only to be refused (or to leave) at
 * once; the name must still be that object then. */
static int relock(int old, int dirfd, const char *name, int oflags, int op)
{
	struct stat st;
	int fd = openat(dirfd, name, oflags | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return old;
	if (fstat(old, &st) < 0 || !same_object(fd, &st)) {
		close(fd);
		return old;
	}
	close(old);
	if (flock_wait_op(fd, op) < 0 ||
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !same_object(fd, &st)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The daemon reaches its upper and work dirs through a private clone of
 * their mount (layer.c), as the kernel's overlay does, so that the mount
 * they were given is free to unmount once the union is unmounted, while
 * the daemon may still be exiting. Its two flocks were taken by path,
 * through that mount, and kept it busy ("umount: target is busy") until
 * the daemon was gone: move them onto descriptors opened through WORKFD
 * and UPPERFD, the clones' directories. Whoever took a lock in the moment
 * between wins, and this daemon gives up before it wrote anything.
 * Returns the work lock's new fd, or -1 with a message in ERRBUF (the
 * locks released). */
int work_lock_private(int lockfd, const char *workdir, int workfd,
		      int upperfd, char *errbuf, size_t len)
{
	/* read-only: a descriptor open for writing, idle for the daemon's
	 * whole life, would refuse "mount -o remount,ro" of the upper's file
	 * system (EBUSY), which the kernel's overlay lets happen (its changes
	 * then fail with EROFS); work_lock_set_pid writes through a
	 * descriptor of its own */
	int fd = relock(lockfd, workfd, WORK_LOCK_NAME, O_RDONLY, LOCK_EX);

	if (fd < 0) {
		snprintf(errbuf, len, "workdir '%s' was locked by another process "
			 "while this one took its lock", workdir);
		if (lockfd == upper_with_work)
			upper_lock_drop();
		return -1;
	}
	if (lockfd == upper_with_work) {
		upper_with_work = fd;
		upper_fd = relock(upper_fd, upperfd, ".", O_RDONLY | O_DIRECTORY, upper_op);
		if (upper_fd < 0) {
			upper_with_work = -1;
			snprintf(errbuf, len, "the upper of workdir '%s' was locked by "
				 "another process while this one took its lock", workdir);
			work_lock_release(fd);
			return -1;
		}
	}
	return fd;
}

/* A mount unmounted lazily (umount -l; podman's MNT_DETACH when a plain
 * unmount found it busy) leaves its daemon serving whoever still holds a
 * file or working directory in it, for as long as they do, while the
 * mount point is free for a new mount of the same upper (podman starts
 * the container again). The kernel's overlay mounts such an upper again
 * with a warning, and so does layerfs. The detached daemon, told by the
 * mount watch (work_lock_hand_over()), first makes the file DETACHED_MARK
 * in its staging dir and takes a flock on it, kept until the process
 * ends; then it lets go of the work dir lock and turns the upper's
 * exclusive flock into a shared one, which the next daemon of the same
 * work dir shares (upper_lock_acquire(); one with another work dir is
 * turned away as before). Its staging entries are named "#PID." too
 * (staging_name()): a new daemon leaves them alone while the mark's flock
 * is held, and warns (staging_prepare()); commit and reset refuse
 * meanwhile (stack_open_locked()). */
#define DETACHED_MARK	"#%x.detached"

static pthread_mutex_t hand_mu = PTHREAD_MUTEX_INITIALIZER;
static int daemon_fd = -1;	/* the running daemon's work dir lock */
static bool handed_over, leaving;
static int mark_dir = -1;	/* where our mark is, once handed over */
static char mark_name[32];

/* After fuse_daemonize: the lock is the same, the holder's pid is not. */
void work_lock_set_pid(int fd)
{
	char name[32];
	int wfd;

	pthread_mutex_lock(&hand_mu);
	daemon_fd = fd;
	pthread_mutex_unlock(&hand_mu);

	fd_path(fd, name, sizeof(name));
	wfd = open(name, O_WRONLY | O_CLOEXEC);
	if (wfd < 0) {
		/* not reopened (no /proc): FD is all there is */
		write_holder(fd, "mount");
		return;
	}
	write_holder(wfd, "mount");
	close(wfd);
}

/* For subcommands. With ROLE "mount" the lock is kept for daemon_run. */
int work_lock_take(const char *workdir, const char *role, struct lerr *err)
{
	char msg[PATH_MAX + 128];
	int fd = lock_take(workdir, role, msg, sizeof(msg));

	if (fd < 0)
		return lerr_add(err, "%s", msg);
	if (!strcmp(role, "mount"))
		held_fd = fd;
	return fd;
}

void work_lock_release(int fd)
{
	bool handed;

	if (fd < 0)
		return;
	pthread_mutex_lock(&hand_mu);
	handed = fd == daemon_fd && handed_over;
	if (fd == daemon_fd)
		daemon_fd = -1;
	pthread_mutex_unlock(&hand_mu);
	if (handed)
		work_lock_mark_drop();
	if (fd == held_fd)
		held_fd = -1;
	if (fd == upper_with_work)
		upper_lock_drop();
	/* leave the file: without the flock it holds nothing (only a refused
	 * mount removes the one it made, work_lock_abandon); once handed
	 * over, what it says is the next holder's */
	if (!handed && ftruncate(fd, 0) < 0) {
		/* nothing to do: a stale pid is ignored without the flock */
	}
	close(fd);
}

/* The daemon's mount has been unmounted lazily and is still in use: mark
 * our staging entries in STAGINGFD as ours for as long as we live, and
 * let go of the work dir's flock, the upper's going shared (see
 * DETACHED_MARK).
 * Where the mark cannot be made, the locks stay. */
void work_lock_hand_over(int stagingfd)
{
	char name[32];
	int fd;

	pthread_mutex_lock(&hand_mu);
	if (daemon_fd < 0 || handed_over || leaving)
		goto out;
	snprintf(name, sizeof(name), DETACHED_MARK, (unsigned)getpid());
	fd = openat(stagingfd, name, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		mark_dir = stagingfd;
		snprintf(mark_name, sizeof(mark_name), "%s", name);
	}
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		lfs_log("unmounted lazily, still in use; the work dir stays "
			"locked (cannot mark the staging dir: %s)", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	/* FD stays open, and locked, until the process ends. The upper's
	 * flock goes shared: the next mount of this work dir takes it shared
	 * too (upper_lock_acquire()), one with another work dir is still
	 * turned away. */
	if (daemon_fd == upper_with_work && upper_fd >= 0 &&
	    flock(upper_fd, LOCK_SH | LOCK_NB) < 0)
		lfs_log("the upper's lock could not be kept shared: %s",
			strerror(errno));
	flock(daemon_fd, LOCK_UN);
	handed_over = true;
	lfs_log("unmounted lazily, still in use: the upper and work dir "
		"are free for a new mount; this daemon serves the old one until "
		"it is let go");
out:
	pthread_mutex_unlock(&hand_mu);
}

/* The daemon is leaving: a mark it made goes (the next mount would
 * remove it anyway; a work dir nobody mounts again kept it). Whatever of
 * ours is left in the staging dir is then left as by any daemon. */
void work_lock_mark_drop(void)
{
	pthread_mutex_lock(&hand_mu);
	if (mark_dir >= 0)
		unlinkat(mark_dir, mark_name, 0);
	mark_dir = -1;
	pthread_mutex_unlock(&hand_mu);
}

/* The daemon is about to unmount its mount itself (main.c): the mount
 * watch that sees it leave the table after this hands nothing over.
 * libfuse's unmount closes the FUSE device first, and as root detaches
 * lazily: the watch cannot tell that from umount -l by the connection. */
void work_lock_leaving(void)
{
	pthread_mutex_lock(&hand_mu);
	leaving = true;
	pthread_mutex_unlock(&hand_mu);
}

/* Is NAME a detached daemon's mark (in form; held or not)? */
bool staging_is_mark(const char *name)
{
	size_t n = strlen(name);

	return name[0] == '#' && n > 9 && !strcmp(name + n - 9, ".detached");
}

/* Is NAME, an entry of the staging dir DIRFD, one of a detached daemon
 * that still lives (its mark held)? Its pid in *PID. */
bool staging_entry_held(int dirfd, const char *name, int *pid)
{
	char mark[32], *end;
	unsigned long p;
	int fd;
	bool held;

	if (name[0] != '#')
		return false;
	p = strtoul(name + 1, &end, 16);
	if (end == name + 1 || *end != '.' || p == 0 || p > 0x7fffffff)
		return false;
	snprintf(mark, sizeof(mark), DETACHED_MARK, (unsigned)p);
	fd = openat(dirfd, mark, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	if (held)
		*pid = (int)p;
	return held;
}

/* The pid of a detached daemon whose mark in the staging dir DIRFD is
 * held, or 0. */
static int staging_held_pid(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int pid = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (!pid && (e = readdir(d)))
		if (staging_is_mark(e->d_name))
			staging_entry_held(dirfd, e->d_name, &pid);
	closedir(d);
	return pid;
}

/* The pid of a detached daemon that still serves the upper of WORKDIR,
 * or 0. */
int work_detached_holder(const char *workdir)
{
	char *path = path_resolve(workdir, LAYERFS_STAGING);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int pid = fd >= 0 ? staging_held_pid(fd) : 0;

	free(path);
	if (fd >= 0)
		close(fd);
	return pid;
}

/* Release the lock FD of a mount, commit or reset that was refused,
 * removing the lock file if this process created it. Safe under the
 * lock: a taker waiting on the removed file finds it gone once it has
 * the flock, and opens the name again (lock_take). */
void work_lock_abandon(int fd)
{
	struct stat st;

	if (fd >= 0 && made.path && lstat(made.path, &st) == 0 &&
	    st.st_dev == made.dev && st.st_ino == made.ino && same_object(fd, &st))
		unlink(made.path);
	work_lock_release(fd);
}

/* Let go of the lock FD as a command ends: one that failed (REFUSED)
 * leaves the work dir as it found it, without a lock file it made. */
void work_lock_end(int fd, bool refused)
{
	if (refused)
		work_lock_abandon(fd);
	else
		work_lock_release(fd);
}

/* Close a lock kept for daemon_run that it did not take over: the mount
 * was refused before daemon_run locked. */
void work_lock_drop_held(void)
{
	work_lock_abandon(held_fd);
}

/* Who holds WORKDIR's lock: a pid, 0 when nobody, -1 when unknown. Peeks
 * with a shared lock released at once, and creates nothing. */
int work_lock_holder(const char *workdir)
{
	char *path = lock_path(workdir);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int pid;

	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	pid = read_holder(fd, NULL, 0);
	close(fd);
	return pid > 0 ? pid : -1;
}

/* commit, reset and import write where a daemon would: refuse when the
 * stack is mounted, even by a daemon that holds no lock. */
int stack_refuse_if_mounted(const struct stack *st, struct lerr *err)
{
	if (st->mountpoint && mount_is_live(st->mountpoint))
		return lerr_add(err, "%s: mounted on %s: unmount it first (layerfs umount %s)",
				st->arg, st->mountpoint, st->arg);
	return 0;
}

/* commit and reset rewrite the upper: besides the work dir lock they
 * take the upper's own flock, which a daemon serving that upper with
 * another work dir holds, until the work dir lock WORK_FD is released. A
 * mount leaves it to its daemon, which takes it itself: a second flock
 * from one process would conflict. */
static int upper_lock_take(const struct stack *st, const char *role,
			   int work_fd, struct lerr *err)
{
	char msg[PATH_MAX + 128];

	if (strcmp(role, "mount") && st->upper &&
	    upper_lock_attach(st->upper, st->work, work_fd, msg, sizeof(msg)) < 0)
		return lerr_add(err, "%s", msg);
	return 0;
}

/* Open the stack FILE and take its work dir lock for ROLE (a read-only
 * stack has none: *LOCK stays -1), and for commit and reset the upper's
 * own. The file is read again once the lock is held, since a commit
 * holding it may just have rewritten it; an interrupted commit is
 * finished under the lock. Returns -2 when a lock is held by someone
 * else. */
int stack_open_locked(const char *file, unsigned flags, const char *role,
		      struct stack *st, int *lock, struct lerr *err)
{
	char *work;
	int ret = -1, holder;

	*lock = -1;
	if (stack_open(file, flags, st, err))
		return -1;
	if (!st->work)
		return 0;
	if (st->upper) {
		char msg[PATH_MAX + 128];

		if (upper_lock_wait_free(st->upper, st->work, msg, sizeof(msg)) < 0) {
			lerr_add(err, "%s", msg);
			return -2;
		}
	}
	work = xstrdup(st->work);
	*lock = work_lock_take(work, role, err);
	if (*lock < 0) {
		ret = -2;
		goto out;
	}
	stack_free(st);
	if (stack_open(file, flags | STACK_LOCKED, st, err))
		goto out;
	if (!st->work || strcmp(st->work, work)) {
		lerr_add(err, "%s: the stack file changed its work dir meanwhile: try again", file);
		goto out;
	}
	if (upper_lock_take(st, role, *lock, err)) {
		ret = -2;
		goto out;
	}
	if ((flags & STACK_NEED_UPPER) && (holder = work_detached_holder(work))) {
		lerr_add(err, "upperdir '%s' is still written by layerfs pid %d: its mount "
			 "was unmounted lazily and is still in use", st->upper, holder);
		ret = -2;
		goto out;
	}
	ret = 0;
out:
	if (ret && *lock >= 0) {
		work_lock_abandon(*lock);
		*lock = -1;
	}
	free(work);
	return ret;
}
