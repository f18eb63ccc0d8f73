/* Reading and copying the xattrs of a real object, reached by descriptor
 * or by path. The list of names and a value can grow between the call
 * that sizes them and the call that reads them; these helpers retry
 * rather than lose a name. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "layerfs.h"

static ssize_t xobj_list(const struct xobj *o, char *buf, size_t size)
{
	if (!o->path)
		return flistxattr(o->fd, buf, size);
	return o->follow ? listxattr(o->path, buf, size) : llistxattr(o->path, buf, size);
}

static ssize_t xobj_get(const struct xobj *o, const char *name, void *buf, size_t size)
{
	if (!o->path)
		return fgetxattr(o->fd, name, buf, size);
	return o->follow ? getxattr(o->path, name, buf, size) :
			   lgetxattr(o->path, name, buf, size);
}

static int xobj_set(const struct xobj *o, const char *name, const void *val, size_t size)
{
	if (!o->path)
		return fsetxattr(o->fd, name, val, size, 0);
	return o->follow ? setxattr(o->path, name, val, size, 0) :
			   lsetxattr(o->path, name, val, size, 0);
}

/* Read the names of O's xattrs into X: X->len bytes of names, each
 * NUL-terminated, at X->list; X->len is 0 on an error (errno set, -1
 * returned). Free with xnames_free(). */
int xnames_read(struct xnames *x, const struct xobj *o)
{
	x->list = x->small;
	x->len = xobj_list(o, x->small, sizeof(x->small));
	while (x->len < 0 && errno == ERANGE) {
		ssize_t need = xobj_list(o, NULL, 0);

		if (need < 0)
			break;
		if (x->list != x->small)
			free(x->list);
		x->list = xmalloc((size_t)need + 1);
		x->len = xobj_list(o, x->list, (size_t)need + 1);
	}
	if (x->len < 0) {
		int err = errno;

		xnames_free(x);
		x->len = 0;
		errno = err;
		return -1;
	}
	return 0;
}

void xnames_free(struct xnames *x)
{
	if (x->list != x->small)
		free(x->list);
	x->list = x->small;
}

/* The value of O's xattr NAME into *BUF, grown as needed (*CAP is its
 * size), with room for a NUL after it. Returns the value's length, or
 * -1 with errno set. */
ssize_t xattr_value(const struct xobj *o, const char *name, char **buf, size_t *cap)
{
	for (;;) {
		ssize_t len;

		/* a size of 0 would only ask for the length: read with room
		 * for one byte at least */
		if (*cap > 1) {
			len = xobj_get(o, name, *buf, *cap - 1);
			if (len >= 0 || errno != ERANGE)
				return len;
		}
		len = xobj_get(o, name, NULL, 0);
		if (len < 0)
			return -1;
		if ((size_t)len + 1 > *cap || !*buf) {
			free(*buf);
			*cap = (size_t)len + 1;
			*buf = xmalloc(*cap);
		}
		if (len == 0)
			return 0;
	}
}

/* Copy the xattrs of SRC that KEEP accepts onto DST. A value DST refuses
 * ends the copy with -errno when FATAL(name, errno) says so, and is
 * skipped otherwise. */
int xattrs_copy(const struct xobj *src, const struct xobj *dst,
		bool (*keep)(const char *name),
		bool (*fatal)(const char *name, int err))
{
	struct xnames x;
	char *val = NULL;
	size_t cap = 0;
	int err = 0;

	if (xnames_read(&x, src) < 0)
		return 0;	/* nothing to copy where xattrs are not supported */
	xnames_each(&x, name) {
		ssize_t vlen;

		if (!keep(name))
			continue;
		vlen = xattr_value(src, name, &val, &cap);
		if (vlen < 0)
			continue;
		if (xobj_set(dst, name, val, (size_t)vlen) < 0 && fatal(name, errno)) {
			err = -errno;
			break;
		}
	}
	free(val);
	xnames_free(&x);
	return err;
}

int xattrs_copy_fd(int src, int dst, bool (*keep)(const char *name),
		   bool (*fatal)(const char *name, int err))
{
	struct xobj s = { .fd = src }, d = { .fd = dst };

	return xattrs_copy(&s, &d, keep, fatal);
}
