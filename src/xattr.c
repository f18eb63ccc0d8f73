/* Extended attributes: passed through to the top-most real object, except
 * the overlay's own markers, which never show in the merged view. Any
 * change copies the object up first. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

static const char *const internal_prefixes[] = {
	"trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.",
};

bool xattr_is_internal(const char *name)
{
	for (size_t i = 0; i < sizeof(internal_prefixes) / sizeof(internal_prefixes[0]); i++)
		if (!strncmp(name, internal_prefixes[i], strlen(internal_prefixes[i])))
			return true;
	return false;
}

static bool acl_name(const char *name)
{
	return !strncmp(name, "system.posix_acl_", 17);
}

/* The four operations on a node's top-most object. Directories have a
 * real descriptor; other objects are reached through their O_PATH fd. */
enum xop { XGET, XLIST, XSET, XREMOVE };

/* A symlink cannot be opened, and /proc/self/fd/N would name the link in
 * /proc itself: reach it by name from its directory in the same layer. */
static int symlink_path(struct node *n, char *buf, size_t len)
{
	int layer = node_lset(n)->r[0].layer;
	struct node *parent;
	struct lset *pls;
	char *name;
	int err = node_parent_name(n, &parent, &name);

	if (err)
		return err;
	err = -ENOENT;
	pls = node_lset(parent);
	for (int i = 0; i < pls->n; i++)
		if (pls->r[i].layer == layer)
			err = fd_path_at(pls->r[i].fd, name, buf, len);
	node_put(parent);
	free(name);
	return err;
}

static ssize_t xattr_do(struct node *n, enum xop op, const char *name,
			void *buf, size_t size, int flags)
{
	int fd = node_lset(n)->r[0].fd;
	char path[PATH_MAX];
	ssize_t r;
	int err;

	if (S_ISDIR(n->type)) {
		switch (op) {
		case XGET: r = fgetxattr(fd, name, buf, size); break;
		case XLIST: r = flistxattr(fd, buf, size); break;
		case XSET: r = fsetxattr(fd, name, buf, size, flags); break;
		default: r = fremovexattr(fd, name); break;
		}
		if (r >= 0 || errno != EBADF)
			return r;
	}
	if (S_ISLNK(n->type)) {
		err = symlink_path(n, path, sizeof(path));
		if (err) {
			errno = -err;
			return -1;
		}
		switch (op) {
		case XGET: return lgetxattr(path, name, buf, size);
		case XLIST: return llistxattr(path, buf, size);
		case XSET: return lsetxattr(path, name, buf, size, flags);
		default: return lremovexattr(path, name);
		}
	}
	fd_path(fd, path, sizeof(path));
	switch (op) {
	case XGET: return getxattr(path, name, buf, size);
	case XLIST: return listxattr(path, buf, size);
	case XSET: return setxattr(path, name, buf, size, flags);
	default: return removexattr(path, name);
	}
}

ssize_t node_getxattr(struct node *n, const char *name, void *buf, size_t size)
{
	return xattr_do(n, XGET, name, buf, size, 0);
}

void lfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct node *n = node_from_id(ino);
	char *buf = NULL;
	ssize_t r;

	if (xattr_is_internal(name)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (fs.cfg->noacl && acl_name(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (size)
		buf = xmalloc(size);
	r = xattr_do(n, XGET, name, buf, size, 0);
	if (r < 0)
		fuse_reply_err(req, errno);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)r);
	else
		fuse_reply_xattr(req, (size_t)r);
	free(buf);
}

void lfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct node *n = node_from_id(ino);
	ssize_t len = xattr_do(n, XLIST, NULL, NULL, 0, 0);
	char *list, *out;
	size_t olen = 0;

	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	list = xmalloc((size_t)len + 1);
	len = xattr_do(n, XLIST, NULL, list, (size_t)len, 0);
	if (len < 0) {
		fuse_reply_err(req, errno == ERANGE ? EAGAIN : errno);
		free(list);
		return;
	}
	out = xmalloc((size_t)len + 1);
	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(list + off) + 1) {
		const char *x = list + off;
		size_t l = strlen(x) + 1;

		if (xattr_is_internal(x) || (fs.cfg->noacl && acl_name(x)))
			continue;
		memcpy(out + olen, x, l);
		olen += l;
	}
	if (size == 0)
		fuse_reply_xattr(req, olen);
	else if (olen > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, olen);
	free(list);
	free(out);
}

void lfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags)
{
	struct node *n = node_from_id(ino);
	int err;

	if (xattr_is_internal(name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (fs.cfg->noacl && acl_name(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	err = copyup(n, 0);
	if (!err && xattr_do(n, XSET, name, (void *)value, size, flags) < 0)
		err = -errno;
	fuse_reply_err(req, -err);
}

void lfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct node *n = node_from_id(ino);
	int err;

	if (xattr_is_internal(name)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (fs.cfg->noacl && acl_name(name)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	/* removing what is not there changes nothing: no copy-up */
	if (xattr_do(n, XGET, name, NULL, 0, 0) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = copyup(n, 0);
	if (!err && xattr_do(n, XREMOVE, name, NULL, 0, 0) < 0)
		err = -errno;
	fuse_reply_err(req, -err);
}
