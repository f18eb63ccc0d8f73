/* Inode flags (chattr, lsattr): FS_IOC_GETFLAGS and FS_IOC_FSGETXATTR
 * read the flags of the object that shows, in whatever layer it is;
 * FS_IOC_SETFLAGS and FS_IOC_FSSETXATTR copy it up first and change the
 * upper object. The kernel asks for these through FUSE_IOCTL after its
 * own checks (owner, CAP_LINUX_IMMUTABLE for +i and +a), with a
 * descriptor it opened for the purpose, so the request's file handle is
 * not used.
 *
 * Immutable and append-only are kept as the kernel's overlay keeps them:
 * in an overlay.protattr xattr ("a", "i" or "ai") of the upper object,
 * never on the real file or directory, which must still take the
 * daemon's own changes (a copy of a lower file below a directory, a
 * rootless daemon's writes) and go away with the upper when a container
 * is removed. NODE_PROTATTR marks the nodes that may have one: an upper
 * directory's own lookup sees it in the xattr listing it reads anyway,
 * and a file's is read where its parent is marked impure (origin.c).
 *
 * prot_check() then refuses, before any copy-up, what the kernel refuses
 * an immutable or append-only inode, for lower objects (their real
 * flags, one statx) and upper ones (the marker). A copy-up carries the
 * flags of a lower object, the sync and noatime ones to the real copy
 * (fileattr_copy()). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

#define PROT_FLAGS	(FS_IMMUTABLE_FL | FS_APPEND_FL)

/* Inode flags a copy keeps, as the kernel's copy-up does: from the
 * object IN to its copy OUT, sync and noatime on the real copy;
 * immutable and append-only in its marker, returned in *PROT for the
 * node to know. Flags are a nicety where the file systems have none. */
void fileattr_copy(int in, int out, unsigned int *prot)
{
	const unsigned int copied = FS_SYNC_FL | FS_NOATIME_FL;
	unsigned int fl, ofl;

	if (ioctl(in, FS_IOC_GETFLAGS, &fl) < 0)
		return;
	if ((fl & PROT_FLAGS) && protattr_set(out, fl & PROT_FLAGS) == 0)
		*prot = fl & PROT_FLAGS;
	if (!(fl & copied) || ioctl(out, FS_IOC_GETFLAGS, &ofl) < 0)
		return;
	ofl |= fl & copied;
	ioctl(out, FS_IOC_SETFLAGS, &ofl);
}

/* The marker of the object FD (an O_PATH one too), or with FD < 0 of
 * the object PATH names without following it, as FS_*_FL. */
unsigned int protattr_get(int fd, const char *path)
{
	static const char *const names[] = {
		"trusted.overlay.protattr", "user.overlay.protattr",
	};
	char val[8], proc[64];
	unsigned int fl = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ssize_t len = fd >= 0 ? fgetxattr(fd, names[i], val, sizeof(val)) :
					lgetxattr(path, names[i], val, sizeof(val));

		if (len < 0 && errno == EBADF && fd >= 0) {
			/* O_PATH: the /proc link leads to the object */
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			len = getxattr(proc, names[i], val, sizeof(val));
		}

		for (ssize_t k = 0; k < len; k++)
			fl |= val[k] == 'a' ? FS_APPEND_FL : val[k] == 'i' ? FS_IMMUTABLE_FL : 0;
		if (len >= 0)
			break;
	}
	return fl;
}

/* Record FL's immutable and append-only bits on the upper object FD
 * (none: remove the marker). -ENOTSUP where there is no xattr to keep
 * them in. */
int protattr_set(int fd, unsigned int fl)
{
	const char *ns = overlay_xattr_ns();
	char name[32], val[3];
	int len = 0;

	if (!ns)
		return -ENOTSUP;
	snprintf(name, sizeof(name), "%soverlay.protattr", ns);
	if (fl & FS_APPEND_FL)
		val[len++] = 'a';
	if (fl & FS_IMMUTABLE_FL)
		val[len++] = 'i';
	if (len)
		return fsetxattr(fd, name, val, (size_t)len, 0) < 0 ? -errno : 0;
	if (fremovexattr(fd, name) < 0 && errno != ENODATA)
		return -errno;
	return 0;
}

/* The immutable and append-only flags of N's object, as FS_*_FL. */
unsigned int prot_flags(struct node *n)
{
	unsigned long long attrs;
	char path[PATH_MAX];
	struct statx stx;
	struct oref o;
	unsigned int fl;

	if (node_in_upper(n) && !node_has(n, NODE_PROTATTR))
		return 0;
	do {
		if (node_oref(n, &o) < 0)
			return 0;
		fl = 0;
		if (o.layer == 0) {
			if (!o.name[0])
				fl = protattr_get(o.dirfd, NULL);
			else if (fd_path_at(o.dirfd, o.name, path, sizeof(path)) == 0)
				fl = protattr_get(-1, path);
		} else if (statx(o.dirfd, o.name, AT_SYMLINK_NOFOLLOW |
				 (o.name[0] ? 0 : AT_EMPTY_PATH), 0, &stx) == 0) {
			attrs = stx.stx_attributes & stx.stx_attributes_mask;
			fl = (attrs & STATX_ATTR_IMMUTABLE ? FS_IMMUTABLE_FL : 0) |
			     (attrs & STATX_ATTR_APPEND ? FS_APPEND_FL : 0);
		}
	} while (oref_put_moved(n, &o));
	return fl;
}

bool prot_append_only(struct node *n)
{
	return prot_flags(n) & FS_APPEND_FL;
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
	return node_open(n, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY);
}

/* An upper object's immutable and append-only flags are its marker's:
 * add them to what its real file says. */
static void prot_flags_get(struct node *n, unsigned int cmd, unsigned int *flags,
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

/* Set the flags of the upper object FD (node N): immutable and
 * append-only in the marker, the rest on the real file. Without an
 * xattr to keep them in, setting either is refused, as by the kernel.
 * A positive errno. */
static int prot_flags_set(struct node *n, int fd, unsigned int cmd,
			  unsigned int *flags, struct fsxattr *fsx)
{
	struct node *parent = NULL;
	char *name = NULL;
	unsigned int prot;
	int err;

	if (cmd == FS_IOC_SETFLAGS) {
		prot = *flags & PROT_FLAGS;
	} else {
		prot = (fsx->fsx_xflags & FS_XFLAG_IMMUTABLE ? FS_IMMUTABLE_FL : 0) |
		       (fsx->fsx_xflags & FS_XFLAG_APPEND ? FS_APPEND_FL : 0);
	}
	if (!prot && !node_has(n, NODE_PROTATTR) && !protattr_get(fd, NULL))
		goto rest;
	/* a file's marker is looked for where its parent says so */
	if (prot && !S_ISDIR(n->type) && node_parent_name(n, &parent, &name) == 0) {
		origin_mark_parent(parent);
		node_put(parent);
		free(name);
	}
	node_lock_settled(n);
	err = protattr_set(fd, prot);
	if (!err && prot)
		node_flag_set(n, NODE_PROTATTR);
	else if (!err)
		node_flag_clear(n, NODE_PROTATTR);
	node_unlock(n);
	if (err)
		return err == -ENOTSUP ? EPERM : -err;
rest:
	/* FLAGS and FSX share their memory: change the one in use */
	if (cmd == FS_IOC_SETFLAGS)
		*flags &= ~PROT_FLAGS;
	else
		fsx->fsx_xflags &= ~(unsigned)(FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND);
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
	if (set) {
		err = prot_flags_set(n, fd, cmd, &v.flags, &v.fsx);
	} else {
		err = ioctl(fd, cmd, &v) < 0 ? errno : 0;
		if (!err && node_in_upper(n))
			prot_flags_get(n, cmd, &v.flags, &v.fsx);
	}
	close(fd);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_ioctl(req, 0, set ? NULL : &v, set ? 0 : size);
}
