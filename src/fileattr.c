/* Inode flags (chattr, lsattr): FS_IOC_GETFLAGS and FS_IOC_FSGETXATTR
 * read the flags of the object that shows, in whatever layer it is;
 * FS_IOC_SETFLAGS and FS_IOC_FSSETXATTR copy it up first and change the
 * upper file. The kernel asks for these through FUSE_IOCTL after its own
 * checks (owner, CAP_LINUX_IMMUTABLE for +i and +a), with a descriptor
 * it opened for the purpose, so the request's file handle is not used.
 *
 * An immutable or append-only upper file then refuses what the real one
 * refuses: the daemon's own writes, unlink, rename, link, chmod (the
 * kernel's overlay keeps those two flags of files in an xattr too).
 *
 * A lower object cannot refuse anything by itself, since changes go to
 * a copy: prot_check() refuses, before any copy-up, what the kernel
 * refuses an immutable or append-only inode. A copy-up carries those
 * flags, and the sync and noatime ones, to the upper file (copyup.c).
 *
 * Directories keep immutable and append-only as the kernel's overlay
 * does, in an overlay.protattr xattr ("a", "i" or "ai") and not on the
 * real directory, which must still take the copies of lower files below
 * it; NODE_PROTATTR marks the upper directories that may have one. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

#define PROT_FLAGS	(FS_IMMUTABLE_FL | FS_APPEND_FL)

/* The xattr names of the marker: the one this daemon writes first. */
static const char *protattr_name(void)
{
	switch (fs.opq_style) {
	case OPQ_TRUSTED:
		return "trusted.overlay.protattr";
	case OPQ_USER:
		return "user.overlay.protattr";
	default:
		return NULL;
	}
}

unsigned int protattr_get(int dirfd)
{
	static const char *const names[] = {
		"trusted.overlay.protattr", "user.overlay.protattr",
	};
	unsigned int fl = 0;
	char val[8];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ssize_t len = fgetxattr(dirfd, names[i], val, sizeof(val));

		for (ssize_t k = 0; k < len; k++)
			fl |= val[k] == 'a' ? FS_APPEND_FL : val[k] == 'i' ? FS_IMMUTABLE_FL : 0;
		if (len >= 0)
			break;
	}
	return fl;
}

/* Record FL's immutable and append-only bits on the upper directory
 * DIRFD (none: remove the marker). -ENOTSUP where there is no xattr
 * to keep them in. */
int protattr_set(int dirfd, unsigned int fl)
{
	const char *name = protattr_name();
	char val[3];
	int len = 0;

	if (!name)
		return -ENOTSUP;
	if (fl & FS_APPEND_FL)
		val[len++] = 'a';
	if (fl & FS_IMMUTABLE_FL)
		val[len++] = 'i';
	if (len)
		return fsetxattr(dirfd, name, val, (size_t)len, 0) < 0 ? -errno : 0;
	if (fremovexattr(dirfd, name) < 0 && errno != ENODATA)
		return -errno;
	return 0;
}

/* The immutable and append-only flags of N's object, as FS_*_FL. */
static unsigned int prot_flags(struct node *n)
{
	unsigned long long attrs;
	struct statx stx;
	struct oref o;
	int r;

	if (node_in_upper(n)) {
		/* a real file refuses by itself */
		if (!S_ISDIR(n->type) || !node_has(n, NODE_PROTATTR))
			return 0;
		return protattr_get(node_upper_fd(n));
	}
	if (node_oref(n, &o) < 0)
		return 0;
	r = statx(o.dirfd, o.name, AT_SYMLINK_NOFOLLOW | (o.name[0] ? 0 : AT_EMPTY_PATH),
		  0, &stx);
	oref_put(&o);
	if (r < 0)
		return 0;
	attrs = stx.stx_attributes & stx.stx_attributes_mask;
	return (attrs & STATX_ATTR_IMMUTABLE ? FS_IMMUTABLE_FL : 0) |
	       (attrs & STATX_ATTR_APPEND ? FS_APPEND_FL : 0);
}

/* May OP be done to N (or, for PROT_ADD and PROT_DEL, inside it)? The
 * flags of a lower object cost one statx, those of an upper directory
 * one getxattr where it was seen with the marker. 0 or -EPERM. */
int prot_check(struct node *n, enum prot_op op)
{
	unsigned int fl;
	bool imm, app;

	if (!fs.has_upper)
		return 0;
	fl = prot_flags(n);
	imm = fl & FS_IMMUTABLE_FL;
	app = fl & FS_APPEND_FL;
	switch (op) {
	case PROT_APPEND:	/* an append, or a time set to now */
	case PROT_ADD:		/* a new name in a directory */
		return imm ? -EPERM : 0;
	default:		/* data, metadata, names, removals */
		return imm || app ? -EPERM : 0;
	}
}

/* A descriptor on N's top-most object that ioctls take. */
static int open_for_flags(struct node *n)
{
	struct oref o;
	int fd, err;

	err = node_oref(n, &o);
	if (err)
		return err;
	fd = oref_open(&o, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
	err = fd < 0 ? -errno : fd;
	oref_put(&o);
	return err;
}

/* An upper directory's immutable and append-only flags live in its
 * protattr marker: add them to what its real directory says. */
static void dir_flags_get(struct node *n, unsigned int cmd, unsigned int *flags,
			  struct fsxattr *fsx)
{
	unsigned int fl = prot_flags(n);

	if (cmd == FS_IOC_GETFLAGS) {
		*flags |= fl;
		return;
	}
	if (fl & FS_IMMUTABLE_FL)
		fsx->fsx_xflags |= FS_XFLAG_IMMUTABLE;
	if (fl & FS_APPEND_FL)
		fsx->fsx_xflags |= FS_XFLAG_APPEND;
}

/* Set the flags of the upper directory FD: immutable and append-only in
 * the marker, the rest on the real directory. Where no marker can be
 * written, all of them go to the real directory. A positive errno. */
static int dir_flags_set(struct node *n, int fd, unsigned int cmd,
			 unsigned int *flags, struct fsxattr *fsx)
{
	unsigned int prot = 0;
	int err;

	if (cmd == FS_IOC_SETFLAGS) {
		prot = *flags & PROT_FLAGS;
	} else {
		prot = (fsx->fsx_xflags & FS_XFLAG_IMMUTABLE ? FS_IMMUTABLE_FL : 0) |
		       (fsx->fsx_xflags & FS_XFLAG_APPEND ? FS_APPEND_FL : 0);
	}
	node_lock(n);
	err = protattr_set(fd, prot);
	if (!err) {
		if (prot)
			node_flag_set(n, NODE_PROTATTR);
		else
			node_flag_clear(n, NODE_PROTATTR);
		/* FLAGS and FSX share their memory: change the one in use */
		if (cmd == FS_IOC_SETFLAGS)
			*flags &= ~PROT_FLAGS;
		else
			fsx->fsx_xflags &= ~(unsigned)(FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND);
	}
	node_unlock(n);
	if (err && err != -ENOTSUP)
		return -err;
	return ioctl(fd, cmd, cmd == FS_IOC_SETFLAGS ? (void *)flags : (void *)fsx) < 0 ?
	       errno : 0;
}

void lfs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	       struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	       size_t in_bufsz, size_t out_bufsz)
{
	struct node *n = node_from_id(ino);
	union {
		unsigned int flags;
		struct fsxattr fsx;
	} v;
	size_t size;
	bool set;
	int fd, err;

	(void)arg;
	(void)fi;
	(void)flags;
	switch (cmd) {
	case FS_IOC_GETFLAGS:
	case FS_IOC_SETFLAGS:
		size = sizeof(v.flags);
		break;
	case FS_IOC_FSGETXATTR:
	case FS_IOC_FSSETXATTR:
		size = sizeof(v.fsx);
		break;
	default:
		fuse_reply_err(req, ENOTTY);
		return;
	}
	set = cmd == FS_IOC_SETFLAGS || cmd == FS_IOC_FSSETXATTR;
	if (set ? in_bufsz < size : out_bufsz < size) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!S_ISREG(n->type) && !S_ISDIR(n->type)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (set) {
		if (!fs.has_upper) {
			fuse_reply_err(req, EROFS);
			return;
		}
		memcpy(&v, in_buf, size);
		err = copyup(n, 0);
		if (err) {
			fuse_reply_err(req, -err);
			return;
		}
	}
	fd = open_for_flags(n);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	if (set && S_ISDIR(n->type))
		err = dir_flags_set(n, fd, cmd, &v.flags, &v.fsx);
	else
		err = ioctl(fd, cmd, &v) < 0 ? errno : 0;
	if (!err && !set && S_ISDIR(n->type) && node_in_upper(n))
		dir_flags_get(n, cmd, &v.flags, &v.fsx);
	close(fd);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_ioctl(req, 0, set ? NULL : &v, set ? 0 : size);
}
