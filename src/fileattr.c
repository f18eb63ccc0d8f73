/* Inode flags (chattr, lsattr): FS_IOC_GETFLAGS and FS_IOC_FSGETXATTR
 * read the flags of the object that shows, in whatever layer it is;
 * FS_IOC_SETFLAGS and FS_IOC_FSSETXATTR copy it up first and change the
 * upper file. The kernel asks for these through FUSE_IOCTL after its own
 * checks (owner, CAP_LINUX_IMMUTABLE for +i and +a), with a descriptor
 * it opened for the purpose, so the request's file handle is not used.
 *
 * An immutable or append-only upper file then refuses what the real one
 * refuses: the daemon's own writes, unlink, rename, link, chmod. Unlike
 * the kernel's overlay, which keeps those two flags in an xattr and off
 * the real file, an immutable upper directory also refuses the copy-up
 * of a lower child into it.
 *
 * A lower object cannot refuse anything by itself, since changes go to
 * a copy: prot_check() refuses, before any copy-up, what the kernel
 * refuses an immutable or append-only inode. A copy-up carries those
 * flags, and the sync and noatime ones, to the upper file (copyup.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "layerfs.h"

/* May OP be done to N (or, for PROT_ADD and PROT_DEL, inside it)? The
 * flags of an upper object are its real file's, which refuses by itself;
 * those of a lower one are read here, one statx. 0 or -EPERM. */
int prot_check(struct node *n, enum prot_op op)
{
	struct statx stx;
	struct oref o;
	unsigned long long attrs;
	bool imm, app;
	int r;

	if (!fs.has_upper || node_in_upper(n) || node_oref(n, &o) < 0)
		return 0;
	r = statx(o.dirfd, o.name, AT_SYMLINK_NOFOLLOW | (o.name[0] ? 0 : AT_EMPTY_PATH),
		  0, &stx);
	oref_put(&o);
	if (r < 0)
		return 0;
	attrs = stx.stx_attributes & stx.stx_attributes_mask;
	imm = attrs & STATX_ATTR_IMMUTABLE;
	app = attrs & STATX_ATTR_APPEND;
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
	err = ioctl(fd, cmd, &v) < 0 ? errno : 0;
	close(fd);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_ioctl(req, 0, set ? NULL : &v, set ? 0 : size);
}
