/* What the caller of a request may do beyond its ids: its capabilities,
 * as the kernel would count them for an object of this mount. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs.h"

/* Read /proc/PID/FILE (PID 0: self) into BUF; its length, or -1. */
static ssize_t proc_read(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[48];
	ssize_t n = -1;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", file);
	fd = fdrelief_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Is ID (ours) mapped in the user namespace of PID, whose uid_map or
 * gid_map, MAP, read from our namespace gives each range's start as
 * ours? */
static bool id_mapped(const char *map, unsigned id)
{
	unsigned inside, outside, count;
	int used;

	while (sscanf(map, "%u %u %u%n", &inside, &outside, &count, &used) == 3) {
		if (id >= outside && id - outside < count)
			return true;
		map += used;
	}
	return false;
}

/* Our own uid_map, as we read it, read once. */
static char own_map[1024];
static ssize_t own_maplen;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;

static void own_map_read(void)
{
	own_maplen = proc_read(0, "uid_map", own_map, sizeof(own_map));
}

/* Do PID's capabilities count here? They do when it is in our user
 * namespace; in another one (a container's, or anyone's `unshare -U`),
 * only over an object OBJ (attributes as shown) whose owner and group
 * that namespace maps, as the kernel's capable_wrt_inode_uidgid()
 * decides. The namespace is told by its uid_map, which anyone may read
 * (its /proc/PID/ns link needs ptrace rights the daemon gave up): read
 * from our namespace, a process of ours shows our own map; one of
 * another namespace, that namespace's ranges in our ids. */
static bool caller_userns_counts(pid_t pid, const struct stat *obj)
{
	char map[1024];
	ssize_t n;

	n = proc_read(pid, "uid_map", map, sizeof(map));
	if (n < 0)
		return true;	/* its status was readable a moment ago */
	pthread_once(&own_once, own_map_read);
	if (n == own_maplen && !memcmp(map, own_map, (size_t)n))
		return true;
	if (!obj || !id_mapped(map, obj->st_uid))
		return false;
	return proc_read(pid, "gid_map", map, sizeof(map)) >= 0 &&
	       id_mapped(map, obj->st_gid);
}

/* Is the caller of REQ's capability CAP in its effective set? 1 or 0,
 * from /proc/PID/status (a container's root often runs without some:
 * podman --cap-drop); -1 for a caller outside our pid namespace (pid 0),
 * or one whose status cannot be read or names another fsuid (a /proc of
 * another pid namespace). */
static int caller_cap_effective(fuse_req_t req, int cap)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	char buf[4096], *uid, *eff;
	unsigned long long set;
	unsigned ruid, euid, suid, fsuid;
	ssize_t n = -1;

	if (c->pid > 0)
		n = proc_read(c->pid, "status", buf, sizeof(buf));
	if (n > 0) {
		uid = strstr(buf, "\nUid:");
		eff = strstr(buf, "\nCapEff:");
		if (uid && eff &&
		    sscanf(uid + 5, "%u %u %u %u", &ruid, &euid, &suid, &fsuid) == 4 &&
		    fsuid == c->uid && sscanf(eff + 8, "%llx", &set) == 1)
			return !!(set & (1ULL << cap));
	}
	return -1;
}

/* Does the caller of REQ hold capability CAP, over the object whose
 * attributes as shown are OBJ (or over the mount's objects in general,
 * OBJ NULL)? Where its user namespace lets it count (above). A caller
 * whose capabilities cannot be read is taken to hold it when it is
 * root. */
bool caller_has_cap(fuse_req_t req, int cap, const struct stat *obj)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	int held = caller_cap_effective(req, cap);

	if (held < 0)
		return c->uid == 0;
	return held && caller_userns_counts(c->pid, obj);
}

/* CAP_FSETID keeps set-id bits at writes, truncates and chowns. Asked
 * only where a set-id bit is at stake: it costs a read of /proc. This
 * is the check for a set-group-ID bit where the group may not execute
 * (the kernel's in_group_or_capable()): held in any namespace that maps
 * the file's ids. */
bool caller_has_fsetid(fuse_req_t req, const struct stat *obj)
{
	return caller_has_cap(req, CAP_FSETID, obj);
}

/* Is PID in the initial user namespace? Its uid_map, read from ours,
 * is one range of all 4294967295 ids from 0; another namespace's
 * covers less, but for one made with that whole map as it is (root's
 * `unshare -U` writing "0 0 4294967295"), taken for the initial one. */
static bool caller_in_init_userns(pid_t pid)
{
	char map[1024];
	unsigned inside, outside, count;
	int used;

	if (proc_read(pid, "uid_map", map, sizeof(map)) < 0)
		return true;	/* its status was readable a moment ago */
	return sscanf(map, "%u %u %u%n", &inside, &outside, &count, &used) == 3 &&
	       inside == 0 && count == 4294967295U &&
	       strspn(map + used, " \n") == strlen(map + used);
}

/* Does the caller of REQ keep the set-id bits of a file it writes,
 * truncates or chowns? Only with CAP_FSETID in the initial user
 * namespace (the kernel's capable() in setattr_should_drop_suidgid()):
 * root of any other namespace, even one that maps the file's ids, loses
 * set-user-ID, and set-group-ID where the group may execute. */
bool caller_has_fsetid_init(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	int held = caller_cap_effective(req, CAP_FSETID);

	if (held < 0)
		return c->uid == 0;
	return held && caller_in_init_userns(c->pid);
}
