/* Attributes: what stat shows of a merged object, and changing them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "layerfs.h"

/* Adjust a real object's attributes to what the merged view shows. */
void fix_stat(struct node *n, struct stat *st)
{
	struct lset *ls = node_lset(n);

	st->st_ino = n->ino;
	if (idmap_active()) {
		st->st_uid = uid_to_shown(st->st_uid);
		st->st_gid = gid_to_shown(st->st_gid);
	}
	if (S_ISDIR(st->st_mode)) {
		/* Counting subdirectories across layers is not worth it;
		 * nlink 1 tells find(1) not to rely on it, as overlayfs does. */
		if (fs.cfg->static_nlink || ls->n > 1)
			st->st_nlink = 1;
		return;
	}
	/* a lower file keeps its layer's link count when names of it are
	 * whited out, as in the kernel's overlayfs */
	if (node_has(n, NODE_UNLINKED))
		st->st_nlink = 0;
}

/* The birth time of the real object O, for the statx that asked for it
 * (session_io.c): the kernel's overlay shows that of the top-most one. */
static void note_btime(const struct oref *o)
{
	struct statx sx;

	if (statx(o->dirfd, o->name, AT_SYMLINK_NOFOLLOW | (o->name[0] ? 0 : AT_EMPTY_PATH),
		  STATX_BTIME, &sx) == 0 && (sx.stx_mask & STATX_BTIME))
		session_reply_btime(sx.stx_btime.tv_sec, sx.stx_btime.tv_nsec);
}

/* The attributes shown for N, and with BTIME its real object's birth time
 * for this request's reply: both from one real object. */
static int stat_of(struct node *n, struct stat *st, bool btime)
{
	struct oref o;
	int err;

	do {
		err = node_oref(n, &o);
		if (err)
			return err;
		err = oref_stat(&o, st);
		if (!err && btime)
			note_btime(&o);
	} while (oref_put_moved(n, &o));
	if (!err)
		fix_stat(n, st);
	return err;
}

int node_stat(struct node *n, struct stat *st)
{
	return stat_of(n, st, false);
}

void lfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	struct node *n = node_from_id(ino);
	int err = stat_of(n, &st, req_statx());

	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout(n));
}

static int set_times(const struct oref *o, const struct stat *attr, int to_set)
{
	struct timespec tv[2];
	char path[PATH_MAX];

	tv[0].tv_nsec = UTIME_OMIT;
	tv[1].tv_nsec = UTIME_OMIT;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;

	if (o->name[0])
		return utimensat(o->dirfd, o->name, tv, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	/* the object's own fd, O_PATH ones included (Linux 5.8 and later
	 * take an empty path; older ones go by /proc) */
	if (utimensat(o->dirfd, "", tv, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOENT)
		return -errno;
	oref_path(o, path, sizeof(path));
	return utimensat(AT_FDCWD, path, tv, 0) < 0 ? -errno : 0;
}

/* ftruncate(2) and open(O_TRUNC) move the mtime and ctime even where
 * the size stays; truncate(2) (a SETATTR with neither a file handle nor
 * a time) to the size the file has leaves that to the file system (tmpfs
 * keeps them for an empty file, ext4 moves them). The kernel's overlay
 * passes truncate(2) on as it is: so do we, through the fd's path. Not
 * where the size changes: a copy-up without data (COPYUP_NODATA) may
 * already have left the real file at the new size. */
static int truncate_fd(int fd, off_t size, bool as_path)
{
	char path[32];

	if (as_path) {
		if (truncate(fd_path(fd, path, sizeof(path)), size) == 0)
			return 0;
		if (errno != ENOENT)
			return -errno;
	}
	return ftruncate(fd, size) < 0 ? -errno : 0;
}

/* AS_PATH: a truncate(2) to the size the file has (truncate_fd()) */
static int set_size(struct node *n, const struct oref *o, off_t size,
		    bool as_path, struct fuse_file_info *fi)
{
	int fd = -1, err;

	if (fi) {
		struct fhandle *fh = (struct fhandle *)(uintptr_t)fi->fh;
		/* a handle passing through keeps no fd (file.c) */
		if (fh && fh->fd >= 0 && fh->gen == n->gen &&
		    (fh->flags & O_ACCMODE) != O_RDONLY)
			return truncate_fd(fh->fd, size, as_path);
	}
	fd = oref_open(o, O_WRONLY);
	if (fd < 0)
		return -errno;
	err = truncate_fd(fd, size, as_path);
	close(fd);
	return err;
}

/* A squashed id is shown fixed whatever the disk holds: changing it
 * changes nothing, while the other id is set as usual. */
static int owner_fields(int to_set)
{
	struct config *c = fs.cfg;

	if (c->squash_to_root || c->squash_uid >= 0)
		to_set &= ~FUSE_SET_ATTR_UID;
	if (c->squash_to_root || c->squash_gid >= 0)
		to_set &= ~FUSE_SET_ATTR_GID;
	return to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID);
}

/* Can the new owner be stored at all? Checked before any copy-up. */
static int owner_check(const struct stat *attr, int to_set)
{
	uid_t uid;
	gid_t gid;

	to_set = owner_fields(to_set);
	if ((to_set & FUSE_SET_ATTR_UID) && uid_to_disk(attr->st_uid, &uid))
		return -EINVAL;
	if ((to_set & FUSE_SET_ATTR_GID) && gid_to_disk(attr->st_gid, &gid))
		return -EINVAL;
	return 0;
}

/* chown: ids come in the mount's terms and go to disk mapped back. */
static int set_owner(struct node *n, const struct oref *o,
		     const struct stat *attr, int to_set)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct stat cur;
	int err;

	to_set = owner_fields(to_set);
	if (!to_set)
		return 0;
	if ((to_set & FUSE_SET_ATTR_UID) && uid_to_disk(attr->st_uid, &uid))
		return -EINVAL;
	if ((to_set & FUSE_SET_ATTR_GID) && gid_to_disk(attr->st_gid, &gid))
		return -EINVAL;
	if (override_fits(n->type)) {
		mode_t mode;

		err = oref_stat(o, &cur);
		if (err)
			return err;
		if (uid == (uid_t)-1)
			uid = cur.st_uid;
		if (gid == (gid_t)-1)
			gid = cur.st_gid;
		/* chown drops set-id bits of non-directories */
		mode = cur.st_mode;
		if (!S_ISDIR(cur.st_mode) && (uid != cur.st_uid || gid != cur.st_gid))
			mode &= ~(mode_t)(S_ISUID | ((mode & S_IXGRP) ? S_ISGID : 0));
		return override_write(o->dirfd, o->name, uid, gid, mode);
	}
	/* -1 leaves that id as it is */
	if (fchownat(o->dirfd, o->name, uid, gid,
		     AT_SYMLINK_NOFOLLOW | (o->name[0] ? 0 : AT_EMPTY_PATH)) < 0)
		return -errno;
	return 0;
}

/* chmod of O's real object */
static int real_chmod(const struct oref *o, mode_t mode)
{
	char path[PATH_MAX];

	if (o->name[0])
		return fchmodat(o->dirfd, o->name, mode, 0) < 0 ? -errno : 0;
	/* the object's own fd: a directory's is open for reading; a pinned
	 * file's is O_PATH, which fchmod() refuses, so that one goes by /proc */
	if (fchmod(o->dirfd, mode) == 0)
		return 0;
	if (errno != EBADF)
		return -errno;
	oref_path(o, path, sizeof(path));
	return chmod(path, mode) < 0 ? -errno : 0;
}

static int set_mode(struct node *n, const struct oref *o, mode_t mode)
{
	struct stat cur;
	int err;

	if (S_ISLNK(n->type))
		return -EOPNOTSUPP;
	mode &= 07777;
	if (override_fits(n->type)) {
		err = oref_stat(o, &cur);
		if (!err)
			err = override_write(o->dirfd, o->name, cur.st_uid,
					     cur.st_gid, mode);
		if (err)
			return err;
		/* the real mode follows, for readers of the upper that
		 * ignore the override and for the mask of an access ACL,
		 * but never with set-id bits: the real owner is the
		 * daemon's, not the one the override names; a directory
		 * stays open to a daemon that needs the owner's bits to
		 * walk it. Its failure fails nothing: the override is the
		 * mode. */
		real_chmod(o, (mode & 01777) |
			   (S_ISDIR(n->type) && !fs.dac_override ? S_IRWXU : 0));
		return 0;
	}
	return real_chmod(o, mode);
}

/* A real object's attributes with the ids as shown. */
static struct stat shown_ids(const struct stat *st)
{
	struct stat sh = *st;

	if (idmap_active()) {
		sh.st_uid = uid_to_shown(st->st_uid);
		sh.st_gid = gid_to_shown(st->st_gid);
	}
	return sh;
}

/* Is the caller of REQ in group GID (as shown)? */
static bool caller_member(fuse_req_t req, gid_t gid)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	gid_t some[64], *groups = some;
	int i, n;
	bool in = false;

	if (c->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	if (n > 64) {
		/* it says how many there are: read them all */
		groups = xcalloc((size_t)n, sizeof(*groups));
		n = fuse_req_getgroups(req, n, groups);
	}
	for (i = 0; i < n && !in; i++)
		in = groups[i] == gid;
	if (groups != some)
		free(groups);
	return in;
}

/* Is the caller of REQ in the group of the object whose attributes as
 * shown are OBJ, or privileged over it? */
static bool caller_in_group(fuse_req_t req, const struct stat *obj)
{
	return caller_member(req, obj->st_gid) || caller_has_fsetid(req, obj);
}

/* May the caller of REQ, not the owner, write N (attributes as shown
 * in ST) by its access ACL? 1 or 0 as the kernel's check decides: a
 * named user's entry, else every group entry that matches (the owning
 * group's, named groups') and one of them must grant, else other's; all
 * but other's within the mask. -1 where N has no access ACL (or one of
 * more than 64 entries, which no tool writes): the mode bits decide. */
static int acl_may_write(fuse_req_t req, struct node *n, const struct stat *st)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	unsigned char buf[8 * 64 + 4];
	unsigned mask = 07, other = 0, user = 0, group = 0;
	bool named_user = false, in_group = false;
	ssize_t len = node_getxattr(n, "system.posix_acl_access", buf, sizeof(buf));
	size_t count;

	if (len < 4)
		return -1;
	len = xattr_value_to_shown("system.posix_acl_access", buf, len);
	count = acl_count(buf, (size_t)len);
	if (!count)
		return -1;
	for (size_t i = 0; i < count; i++) {
		struct acl_entry e = acl_get(buf, i);

		if (e.tag == ACL_TAG_MASK)
			mask = e.perm;
		else if (e.tag == ACL_TAG_OTHER)
			other = e.perm;
		else if (e.tag == ACL_TAG_USER && e.id == c->uid) {
			named_user = true;
			user = e.perm;
		} else if ((e.tag == ACL_TAG_GROUP_OBJ && caller_member(req, st->st_gid)) ||
			   (e.tag == ACL_TAG_GROUP && caller_member(req, e.id))) {
			in_group = true;
			group |= e.perm;
		}
	}
	if (named_user)
		return !!(user & mask & ACL_PERM_WRITE);
	if (in_group)
		return !!(group & mask & ACL_PERM_WRITE);
	return !!(other & ACL_PERM_WRITE);
}

/* What a write, truncate or chown by a process without CAP_FSETID does
 * on Linux: clear set-user-ID, and set-group-ID where the group may
 * execute or the caller is not in the file's group. The kernel asks us
 * to (session_io.c); O is a copied-up file, ST its attributes. The
 * group that counts is the one the file had before the request: GROUP,
 * the real one of a chown's file before it (NULL: ST's). Returns 1 if
 * the mode changed. */
static int kill_suidgid(fuse_req_t req, struct node *n, const struct oref *o,
			const struct stat *st, const struct stat *group)
{
	mode_t m = st->st_mode & 07777, kill = 0;
	struct stat sh = shown_ids(group ? group : st);
	int err;

	if (S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode))
		return 0;
	if (m & S_ISUID)
		kill |= S_ISUID;
	if ((m & S_ISGID) && ((m & S_IXGRP) || !caller_in_group(req, &sh)))
		kill |= S_ISGID;
	if (!kill)
		return 0;
	err = set_mode(n, o, m & ~kill);
	return err ? err : 1;
}

/* The same for a write or an O_TRUNC open, whose replies carry no
 * attributes: the kernel still holds the old mode, so tell it to ask. */
void node_kill_suidgid(fuse_req_t req, struct node *n)
{
	struct stat st;
	struct oref o;
	bool killed;

	if (node_oref(n, &o))
		return;
	privs_lock(n);
	killed = !oref_stat(&o, &st) && kill_suidgid(req, n, &o, &st, NULL) > 0;
	privs_unlock(n);
	if (killed)
		fuse_lowlevel_notify_inval_inode(fs.se, node_id(n), -1, 0);
	oref_put(&o);
}

/* The override's mode of N's top-most object (copied up) after an
 * access ACL was set on it (override_follow_acl()). */
int node_override_follow_acl(struct node *n)
{
	struct oref o;
	int err = node_oref(n, &o);

	if (err)
		return err;
	privs_lock(n);
	err = override_follow_acl(o.dirfd, o.name);
	privs_unlock(n);
	oref_put(&o);
	return err;
}

/* Clear the set-group-ID bit of N's top-most object (copied up), as the
 * kernel asks with an ACL set by a caller outside the file's group and
 * without CAP_FSETID (FUSE_SETXATTR_ACL_KILL_SGID): the daemon's own
 * setxattr, privileged, keeps it. */
int node_clear_sgid(struct node *n)
{
	struct stat st;
	struct oref o;
	int err = node_oref(n, &o);

	if (err)
		return err;
	privs_lock(n);
	err = oref_stat(&o, &st);
	if (!err && !S_ISLNK(st.st_mode) && (st.st_mode & S_ISGID))
		err = set_mode(n, &o, st.st_mode & 07777 & ~(mode_t)S_ISGID);
	privs_unlock(n);
	oref_put(&o);
	return err;
}

/* Before an access ACL is removed by a caller outside the object's
 * group and without CAP_FSETID, clear its set-group-ID bit (copied up),
 * as the kernel's overlay does (ovl_set_acl(): the removal runs with the
 * mounter's rights, which would keep it). FUSE sends no mark for a
 * removal as it does for a set (FUSE_SETXATTR_ACL_KILL_SGID). The
 * kernel's overlay clears it before it looks for the ACL: the copy-up
 * stays, and the removal then asks the upper file. */
int node_acl_remove_kill_sgid(fuse_req_t req, struct node *n)
{
	struct stat st;
	int err = node_stat(n, &st);

	if (err || S_ISLNK(st.st_mode) || !(st.st_mode & S_ISGID) ||
	    caller_in_group(req, &st))
		return err;
	err = copyup(n, 0);
	return err ? err : node_clear_sgid(n);
}

/* Does this SETATTR clear set-id bits? The kernel marks a chown or a
 * truncate (session_io.c). A SETATTR that sets nothing (but perhaps
 * ctime) is one of two things, and both clear them: chown(2) with both
 * ids -1, where the kernel drops the ids and the mark (set-user-ID goes
 * even for root, set-group-ID where the group may execute), or, from a
 * caller without CAP_FSETID, the order to clear them before a write that
 * passes through to the real file (and then never reaches us). */
static bool sets_nothing(int to_set)
{
	return (to_set & ~FUSE_SET_ATTR_CTIME) == 0;
}

/* A third SETATTR sets nothing: the one after the kernel removed a file
 * capability before a write by a caller with CAP_FSETID, which keeps the
 * set-id bits. With the writeback cache it is told from a chown, which
 * carries the ctime, and the order before a write is a marked WRITE
 * instead; what else sets nothing (the order before a fallocate) clears
 * the bits unless the caller holds CAP_FSETID in the initial user
 * namespace, where the kernel looks for it (caller_has_fsetid_init()).
 * Without the cache a chown
 * and the capability's leftover look the same, and the bits go
 * (docs/architecture.md). */
static bool must_kill(fuse_req_t req, int to_set, const struct stat *st)
{
	if (req_kill_suidgid())
		return true;
	if (!sets_nothing(to_set) || !(st->st_mode & (S_ISUID | S_ISGID)))
		return false;
	return !(fs.writeback && !(to_set & FUSE_SET_ATTR_CTIME) &&
		 caller_has_fsetid_init(req));
}

/* Would the kernel refuse the caller of REQ a chown(2) of N to -1:-1?
 * It does (EPERM) where the chown would clear set-id bits (the mode
 * change needs the owner) and the caller neither owns the file nor holds
 * CAP_FOWNER. Through FUSE that chown reaches us as a SETATTR that sets
 * nothing, after a REMOVEXATTR of the file capability, if any: both are
 * also how the kernel clears them before a write, which must succeed.
 * Only a caller who may write the file (by its access ACL where it has
 * one: a named user's or group's entry) can have written, through a
 * handle open for writing (opens.c; where the kernel opens files
 * itself, noopen, there are none to count); the other is the
 * chown, unless CHOWN says it is one for sure (with the writeback cache
 * a chown carries the ctime, the order before a write does not). N is
 * the node before any copy-up. */
static bool nop_chown_refused_as(fuse_req_t req, struct node *n, bool chown)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct stat st;
	bool member;
	int acl;

	if (node_stat(n, &st) || !S_ISREG(st.st_mode) || c->uid == st.st_uid)
		return false;
	member = caller_in_group(req, &st);
	if (!(st.st_mode & S_ISUID) &&
	    !((st.st_mode & S_ISGID) && ((st.st_mode & S_IXGRP) || !member)))
		return false;
	acl = acl_may_write(req, n, &st);
	if (acl < 0)
		acl = !!(st.st_mode & (member ? S_IWGRP : S_IWOTH));
	return (chown || !acl || !writers_any(n)) &&
	       !caller_has_cap(req, CAP_FOWNER, &st);
}

bool nop_chown_refused(fuse_req_t req, struct node *n)
{
	return nop_chown_refused_as(req, n, false);
}

/* A SETATTR that sets nothing and carries no mark, refused as above. */
static bool nop_chown_denied(fuse_req_t req, struct node *n, int to_set)
{
	return sets_nothing(to_set) && !req_kill_suidgid() &&
	       nop_chown_refused_as(req, n, fs.writeback &&
				    (to_set & FUSE_SET_ATTR_CTIME));
}

/* Does a chown of ST's object clear set-id bits (a regular file's)? */
static bool setid_file(const struct stat *st)
{
	return S_ISREG(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID));
}

/* chown(2) with both ids -1 changes nothing but the ctime, on the real
 * object as on the kernel's overlay (after its copy-up). Only for an
 * object without set-id bits, which the same call on the real file
 * would clear: where those are, must_kill() decides. */
static int touch_ctime(const struct oref *o)
{
	if (fchownat(o->dirfd, o->name, (uid_t)-1, (gid_t)-1,
		     AT_SYMLINK_NOFOLLOW | (o->name[0] ? 0 : AT_EMPTY_PATH)) < 0)
		return -errno;
	return 0;
}

/* Is O's file append-only (chattr +a)? */
static bool append_only(const struct oref *o)
{
	struct statx sx;

	if (statx(o->dirfd, o->name, o->name[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH,
		  0, &sx) < 0)
		return false;
	return sx.stx_attributes & sx.stx_attributes_mask & STATX_ATTR_APPEND;
}

/* What a SETATTR does, for an immutable or append-only file: a size is
 * a change of data, times set to now are allowed on an append-only
 * file, and the rest is metadata. A time set to now comes with its _NOW
 * bit, except the mtime the writeback cache keeps itself, which comes as
 * a value: a value within a few seconds of now, with the atime set to
 * now (touch) or alone with the ctime (after writes), is taken as now. */
static enum prot_op prot_op_of(int to_set, const struct stat *attr)
{
	bool atime = (to_set & FUSE_SET_ATTR_ATIME) && !(to_set & FUSE_SET_ATTR_ATIME_NOW);
	bool mtime = (to_set & FUSE_SET_ATTR_MTIME) && !(to_set & FUSE_SET_ATTR_MTIME_NOW);

	if (to_set & FUSE_SET_ATTR_SIZE)
		return PROT_DATA;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		return PROT_META;
	if (mtime && fs.writeback &&
	    ((to_set & FUSE_SET_ATTR_ATIME_NOW) ||
	     (!(to_set & FUSE_SET_ATTR_ATIME) && (to_set & FUSE_SET_ATTR_CTIME)))) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		if (attr->st_mtim.tv_sec > now.tv_sec - 5 && attr->st_mtim.tv_sec < now.tv_sec + 5)
			mtime = false;
	}
	return atime || mtime ? PROT_META : PROT_APPEND;
}

/* With the writeback cache the kernel keeps a regular file's mtime and
 * ctime itself, and when it moves the ctime on its own (after an unlink,
 * a link or a rename of the file) it sends both back, the mtime as it
 * was. For a file still in a lower layer, or the orphan of an unlinked
 * one, there is nothing to store: the kernel's overlayfs leaves the lower
 * file's ctime alone there too, and a copy-up for it would copy the
 * file's data, durably, for every file rm -rf removes in a user
 * namespace. True, with the answer in ST, if this SETATTR is that. */
static bool lower_ctime_only(struct node *n, const struct stat *attr,
			     int to_set, struct stat *st)
{
	if ((to_set & ~FUSE_SET_ATTR_CTIME) != FUSE_SET_ATTR_MTIME ||
	    !fs.writeback || !S_ISREG(n->type) || node_in_upper(n) ||
	    node_stat(n, st))
		return false;
	if (st->st_mtim.tv_sec != attr->st_mtim.tv_sec ||
	    st->st_mtim.tv_nsec != attr->st_mtim.tv_nsec)
		return false;
	if (to_set & FUSE_SET_ATTR_CTIME)
		st->st_ctim = attr->st_ctim;
	return true;
}

void lfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		 int to_set, struct fuse_file_info *fi)
{
	struct node *n = node_from_id(ino);
	struct stat st, before;
	unsigned cflags = 0;
	struct oref o = { .hold = NULL };
	bool had_group = false, as_path = false;
	int err;

	if (lower_ctime_only(n, attr, to_set, &st)) {
		fuse_reply_attr(req, &st, attr_timeout(n));
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size == 0 &&
	    !(to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MTIME |
			 FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)))
		cflags |= COPYUP_NODATA;
	err = owner_check(attr, to_set);
	if (!err && nop_chown_denied(req, n, to_set))
		err = -EPERM;
	if (!err)
		err = prot_check(n, prot_op_of(to_set, attr));
	/* truncate(2) (neither a handle nor a time) to the size the file
	 * shows, read before a copy-up without data changes it */
	if (!err && (to_set & FUSE_SET_ATTR_SIZE) && !fi &&
	    !(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) &&
	    node_stat(n, &st) == 0)
		as_path = st.st_size == attr->st_size;
	if (!err)
		err = copyup(n, cflags);
	if (!err)
		err = node_oref(n, &o);
	if (err)
		goto out;

	/* set-id bits and capabilities change under the lock a write from
	 * the page cache keeps them under (privkeep.c) */
	privs_lock(n);
	if ((to_set & FUSE_SET_ATTR_GID) && oref_stat(&o, &before) == 0)
		had_group = true;
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		err = set_owner(n, &o, attr, to_set);
	if (!err && (to_set & FUSE_SET_ATTR_MODE))
		err = set_mode(n, &o, attr->st_mode);
	privs_unlock(n);
	if (err)
		goto out;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		err = set_size(n, &o, attr->st_size, as_path, fi);
		if (err)
			goto out;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
		      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) {
		err = set_times(&o, attr, to_set);
		/* the writeback cache sends the mtime of written pages at
		 * close and fsync; an append-only file refuses to have its
		 * times set, but its mtime moved with our writes */
		if (err == -EPERM &&
		    !(to_set & ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME)) &&
		    append_only(&o))
			err = 0;
		if (err)
			goto out;
	}
	privs_lock(n);
	err = oref_stat(&o, &st);
	if (!err && must_kill(req, to_set, &st) &&
	    (err = kill_suidgid(req, n, &o, &st, had_group ? &before : NULL)) > 0)
		err = oref_stat(&o, &st);
	else if (!err && sets_nothing(to_set) && !setid_file(&st) &&
		 (err = touch_ctime(&o)) == 0)
		err = oref_stat(&o, &st);
	privs_unlock(n);
	if (!err)
		fix_stat(n, &st);
out:
	oref_put(&o);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout(n));
}

void lfs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	if ((mask & W_OK) && !fs.has_upper)
		fuse_reply_err(req, EROFS);
	else
		fuse_reply_err(req, 0);
}

void lfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int fd = fs.has_upper ? fs.layers[0].fd : fs.layers[1].fd;

	if (fstatvfs(fd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = fs.namemax;
	fuse_reply_statfs(req, &sv);
}
