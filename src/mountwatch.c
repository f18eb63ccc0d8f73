/* The mount's place in the mount table, and the mount nobody can reach.
 *
 * The kernel's overlay mount goes with the last mount namespace that holds
 * it. A FUSE daemon is a process of its mount namespace and keeps it
 * alive: started inside `unshare -rm sh -c '...'` whose shell exits
 * without unmounting, it outlived every other process of the namespace,
 * served a mount that nothing could reach and kept its work
 * dir locked, for ever: the next mount of the same upper failed.
 *
 * So a thread looks every WATCH_S seconds whether another process still
 * sees the mount in its mount table: the one it found last (the shell,
 * podman's pause process) for as long as that one does (while it stays in
 * the namespace it was found in, a stat tells), else any in /proc
 * (in any namespace: one made from ours while it had the mount, a
 * container whose root it is). When none has for UNSEEN looks in a row,
 * it detaches the mount (MNT_DETACH): the kernel ends the file system when
 * its last user lets go, at once unless a descriptor or working directory
 * still points into it, and the daemon exits as after any unmount. A
 * process's mount table (/proc/PID/mountinfo) is readable whoever owns the
 * process; one whose root lies outside the mount does not list it, and
 * cannot reach it by a path either. Processes of a namespace already read
 * are skipped where the namespace can be told (/proc/PID/ns/mnt, which
 * needs the right to trace the process). -o detach_unseen=0 keeps such a
 * mount, for those who enter the daemon's namespaces later (nsenter -t).
 *
 * The same thread notices a lazy unmount at once: it waits on our mount
 * table (poll(2) of /proc/self/mountinfo tells each change), and when our
 * mount has left it while the kernel still has the file system (someone
 * holds a file in it), it hands the upper and work dir over to the next
 * mount (lock.c, work_lock_hand_over()), unless another namespace still
 * has the mount (hand_over()). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "stack.h"

#define WATCH_S		5	/* seconds between two looks */
#define UNSEEN		4	/* looks without a viewer before detaching */
#define MAX_NS		1024	/* namespaces remembered during a look */

static char *mnt_path;		/* the mount point, absolute */
static char mnt_dev[32];	/* its MAJ:MIN, as mountinfo writes it */
static dev_t mnt_devno;		/* the same, as stat(2) gives it */
static struct stat self_exe;	/* our executable */
static int session_fd = -1;	/* the FUSE device, as the loop started */
static pid_t witness;		/* the last process found that sees it */
static ino_t witness_ns;	/* its mount namespace, 0 if not known */

/* The device ("MAJ:MIN") of the top-most mount on MOUNTPOINT in the
 * mount table F, in DEV, and its file system type in FSTYPE unless that
 * is NULL; false if nothing is mounted there. Closes F. */
static bool table_dev(FILE *f, const char *mountpoint, char *dev, size_t len,
		      char *fstype, size_t flen)
{
	char line[4096];
	bool found = false;

	while (fgets(line, sizeof(line), f)) {
		char mdev[32], mnt[sizeof(line)], type[64] = "";
		const char *sep;

		if (sscanf(line, "%*s %*s %31s %*s %4095s", mdev, mnt) != 2)
			continue;
		mountinfo_unescape(mnt);
		if (strcmp(mnt, mountpoint))
			continue;
		/* the last one is on top */
		snprintf(dev, len, "%s", mdev);
		if (fstype) {
			sep = strstr(line, " - ");
			if (!sep || sscanf(sep + 3, "%63s", type) != 1)
				type[0] = '\0';
			snprintf(fstype, flen, "%s", type);
		}
		found = true;
	}
	fclose(f);
	return found;
}

/* A device as mountinfo writes it ("MAJ:MIN"), as stat(2) gives it; 0
 * if it is not one. */
dev_t devno_parse(const char *dev)
{
	unsigned maj, min;

	return sscanf(dev, "%u:%u", &maj, &min) == 2 ? makedev(maj, min) : 0;
}

/* table_dev() of the mount table at MOUNTINFO (a /proc/PID/mountinfo);
 * false also where it cannot be read. */
bool mountinfo_dev(const char *mountinfo, const char *mountpoint,
		   char *dev, size_t len, char *fstype, size_t flen)
{
	FILE *f = fopen(mountinfo, "re");

	return f && table_dev(f, mountpoint, dev, len, fstype, flen);
}

/* The same of our own mount table, read at the open-file limit too
 * (fdrelief_open_spare()): the exit must tell whether to unmount. Not
 * for the watch below, which takes a table it cannot read for one that
 * shows the mount seen. */
bool own_mount_dev(const char *mountpoint, char *dev, size_t len)
{
	int fd = fdrelief_open_spare("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
	bool found = false;

	if (f)
		found = table_dev(f, mountpoint, dev, len, NULL, 0);
	else if (fd >= 0)
		close(fd);
	fdrelief_spare_again();
	return found;
}

/* Does the mount table MOUNTINFO list a mount of our file system? 1, 0,
 * or -1 where it cannot be read. */
static int table_has_ours(const char *mountinfo)
{
	FILE *f = fopen(mountinfo, "re");
	char line[4096];
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		char mdev[32];

		found = sscanf(line, "%*s %*s %31s", mdev) == 1 && !strcmp(mdev, mnt_dev);
	}
	fclose(f);
	return found;
}

/* Does PID see a mount of our file system? /proc/PID/mountinfo is the
 * table of its mount namespace as seen from its root, readable whoever
 * owns the process (unreadable: gone, or a zombie). */
static bool sees_mount(pid_t pid)
{
	char path[48];

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	return table_has_ours(path) > 0;
}

/* PID's mount namespace, or 0 where it may not be told. */
static ino_t ns_ino(pid_t pid)
{
	char path[48];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)pid);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* The views (a mount namespace and a root) read during one look, none
 * with our mount. */
struct seen {
	struct view { ino_t ns; dev_t rdev; ino_t rino; } v[MAX_NS];
	size_t n;
};

/* Has PID the view of a process already read during this look?
 * Remembers it. False where that may not be told (its namespace and root
 * need the right to trace it). */
static bool view_seen(pid_t pid, struct seen *s)
{
	ino_t ns = ns_ino(pid);
	char path[48];
	struct stat root;

	if (!ns)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	if (stat(path, &root) < 0)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].ns == ns && s->v[i].rdev == root.st_dev &&
		    s->v[i].rino == root.st_ino)
			return true;
	if (s->n < MAX_NS)
		s->v[s->n++] = (struct view){ ns, root.st_dev, root.st_ino };
	return false;
}

/* Is PID another layerfs daemon? Two mounted in one namespace see each
 * other's mounts, and would keep each other for ever once the rest of the
 * namespace went. (One whose layers lie in our mount holds them open, and
 * with them our file system, after the detach.) */
static bool same_exe(pid_t pid)
{
	char path[48];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	return stat(path, &st) == 0 && st.st_ino == self_exe.st_ino &&
	       st.st_dev == self_exe.st_dev;
}

/* Another process that sees the mount, or 0. */
static pid_t find_viewer(void)
{
	static struct seen seen;
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (!d)
		return -1;	/* cannot tell: as if seen */
	seen.n = 0;
	while (!found && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == (long)getpid() || same_exe((pid_t)pid) ||
		    view_seen((pid_t)pid, &seen))
			continue;
		if (sees_mount((pid_t)pid))
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

/* Does the witness still see the mount? While it stays in the namespace
 * it saw it in, one stat tells; a mount table of a thousand containers'
 * mounts is not read every few seconds. (Our mount unmounted in that
 * namespace alone keeps the mount a while longer; unmounted everywhere,
 * it ends the daemon anyway.) */
static bool still_sees(pid_t pid)
{
	if (witness_ns && ns_ino(pid) == witness_ns)
		return true;
	return sees_mount(pid);
}

/* Is the mount still ours to detach, and seen by no other process? */
static bool unreachable(void)
{
	char dev[32];

	if (witness && still_sees(witness))
		return false;
	witness = find_viewer();
	if (witness) {
		witness_ns = ns_ino(witness);
		return false;
	}
	/* on top of our mount point, in our namespace, is our mount */
	return mountinfo_dev("/proc/self/mountinfo", mnt_path, dev, sizeof(dev),
			     NULL, 0) &&
	       !strcmp(dev, mnt_dev);
}

/* Has our mount left our mount table while the kernel still has the
 * file system? Still on its mount point, a stat tells (a namespace of a
 * thousand containers' mounts changes often, and its table is long);
 * else the table is read. A plain unmount ends the FUSE connection too
 * (the device polls POLLERR), within the unmount's own call: give it
 * 100 ms. A table that cannot be read shows the mount. The device's
 * descriptor was taken at the start: at the exit, libfuse closes it and
 * main.c destroys the session while this thread may look (the hand-over
 * is refused from then on, work_lock_leaving()). */
static bool unmounted_lazily(void)
{
	struct pollfd p = { .fd = session_fd };
	struct stat st;

	if (stat(mnt_path, &st) == 0 && st.st_dev == mnt_devno)
		return false;
	if (table_has_ours("/proc/self/mountinfo") != 0)
		return false;
	/* no events asked: the device's end (POLLERR) wakes it at once */
	return poll(&p, 1, 100) == 0;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Wait until the next look is due or our mount table changes, whichever
 * comes first (TABLE: /proc/self/mountinfo, or -1 to sleep). True when
 * it changed. */
static bool wait_table(int table, double due)
{
	struct pollfd p = { .fd = table, .events = POLLPRI };
	double left = due - now_s();

	if (left <= 0)
		return false;
	if (table >= 0 && poll(&p, 1, (int)(left * 1000) + 1) > 0 && (p.revents & POLLPRI))
		return true;
	/* no table, or it cannot be polled: sleep out the time */
	left = due - now_s();
	if (left > 0)
		usleep((useconds_t)(left * 1e6));
	return false;
}

/* Our mount has left our mount table while the file system lives: hand
 * the upper and work dir over, unless another mount namespace still
 * has the mount (a copy of ours made while it was mounted, unshare -m
 * with private propagation, where umount(8) here did not reach): there
 * it is mounted, not held by a file, for as long as that namespace
 * lives, and the lock stays as it did before the hand-over was there.
 * True once handed over; else asked again at each look. */
static bool hand_over(bool *told)
{
	pid_t viewer = find_viewer();

	if (viewer) {
		if (!*told && viewer > 0)
			lfs_log("unmounted here, but still mounted in the mount "
				"namespace of pid %d: the upper and work dir stay locked "
				"while it is", (int)viewer);
		*told = true;
		return false;
	}
	work_lock_hand_over(fs.workfd);
	return true;
}

/* What the watch has seen and done (its thread's alone). */
static struct {
	bool gone;		/* unmounted lazily */
	bool handed;		/* the upper and work dir handed over */
	bool told;		/* hand_over() said why it could not */
	bool detached;		/* nothing left to detach */
	int unseen;		/* looks in a row without a viewer */
} ws;

/* The look every WATCH_S seconds: hand over what a lazy unmount left to
 * hand over, and detach a mount no other process has seen for UNSEEN
 * looks in a row. */
static void look(void)
{
	/* the one thread that wakes by itself at normal priority */
	prefetch_drop_done();
	if (ws.gone && !ws.handed)
		ws.handed = hand_over(&ws.told);
	if (ws.detached)
		return;
	if (!unreachable()) {
		ws.unseen = 0;
		return;
	}
	if (++ws.unseen < UNSEEN)
		return;
	if (umount2(mnt_path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		lfs_log("no process has seen the mount for %d s (its mount "
			"namespace has no other): detached", WATCH_S * UNSEEN);
	else
		lfs_log("no process has seen the mount for %d s, but detaching "
			"it failed: %s", WATCH_S * UNSEEN, strerror(errno));
	ws.detached = true;
}

/* Held by the watch while it looks; taken for good by mountwatch_stop(). */
static pthread_mutex_t look_mu = PTHREAD_MUTEX_INITIALIZER;

static void *watch(void *arg)
{
	int table = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	double due = now_s() + WATCH_S;
	bool changed;

	(void)arg;
	ws.detached = !fs.cfg->detach_unseen;
	for (;;) {
		changed = wait_table(table, due);
		pthread_mutex_lock(&look_mu);
		if (!changed) {
			due = now_s() + WATCH_S;
			look();
		} else if (!ws.gone && unmounted_lazily()) {
			ws.gone = ws.detached = true;
			ws.handed = hand_over(&ws.told);
		}
		pthread_mutex_unlock(&look_mu);
	}
	return NULL;
}

/* Before the daemon closes its descriptors at the end of the connection
 * (session_io.c): the watch reads the mount tables through descriptors
 * of its own, and the end of the connection, an unmount, is what wakes
 * it. Waits for a look under way; none starts after. */
void mountwatch_stop(void)
{
	pthread_mutex_lock(&look_mu);
}

/* Watch the mount on MOUNTPOINT (absolute, just mounted). Quietly does
 * nothing where the mount is not found in our mount table. */
void mountwatch_start(const char *mountpoint)
{
	if (!mountinfo_dev("/proc/self/mountinfo", mountpoint, mnt_dev,
			   sizeof(mnt_dev), NULL, 0) ||
	    stat("/proc/self/exe", &self_exe) < 0)
		return;
	mnt_devno = devno_parse(mnt_dev);
	mnt_path = xstrdup(mountpoint);
	session_fd = fuse_session_fd(fs.se);
	spawn_detached(watch, NULL);
}
