/* Reading and copying the xattrs of a real object, reached by descriptor,
 * by name in a directory or by path. The list of names and a value can
 * grow between the call that sizes them and the call that reads them;
 * these helpers retry rather than lose a name. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

/* The *xattrat() calls (Linux 6.13) reach a name in a directory without
 * the path walk through /proc/self/fd that the l*xattr() calls need:
 * half the time per call. Where the kernel lacks them, the first call
 * fails with ENOSYS and objects are reached by that path from then on.
 * Their numbers are shared by the architectures listed; elsewhere -1,
 * which the kernel answers with ENOSYS too. */
#ifndef SYS_getxattrat
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
	defined(__arm__) || defined(__riscv) || defined(__loongarch__) || \
	defined(__s390x__) || defined(__powerpc64__)
#define SYS_setxattrat		463
#define SYS_getxattrat		464
#define SYS_listxattrat		465
#define SYS_removexattrat	466
#else
#define SYS_setxattrat		-1
#define SYS_getxattrat		-1
#define SYS_listxattrat		-1
#define SYS_removexattrat	-1
#endif
#endif

struct xattr_args_v0 {		/* struct xattr_args of linux/xattr.h */
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static bool xattrat_missing;	/* ENOSYS seen (atomic) */

static bool xattrat_ok(void)
{
	return !__atomic_load_n(&xattrat_missing, __ATOMIC_RELAXED);
}

/* R is what an *xattrat() call returned: false when the kernel has no
 * such call, and the path is to be used instead */
static bool xattrat_done(ssize_t r)
{
	if (r >= 0 || errno != ENOSYS)
		return true;
	__atomic_store_n(&xattrat_missing, true, __ATOMIC_RELAXED);
	return false;
}

/* O's path, for the path calls, into BUF (*FOLLOW: whether they may
 * follow it): a name in a directory through that directory's
 * /proc/self/fd link, not followed; the object of a descriptor (an
 * O_PATH one, which the f*xattr() calls refuse) through its link, which
 * leads to the object itself, a symlink too. NULL with errno set when
 * the path does not fit. */
static const char *xobj_path(const struct xobj *o, char *buf, size_t len,
			     bool *follow)
{
	int err;

	*follow = o->follow;
	if (o->path)
		return o->path;
	if (o->at && o->at[0]) {
		err = fd_path_at(o->fd, o->at, buf, len);
		if (err) {
			errno = -err;
			return NULL;
		}
		return buf;
	}
	*follow = true;
	return fd_path(o->fd, buf, len);
}

/* One xattr operation on O: by the *xattrat() call for a name in a
 * directory, by the f*xattr() call for a descriptor's object, and by the
 * path where those are missing (an old kernel; an O_PATH descriptor). */
ssize_t xobj_do(const struct xobj *o, enum xop op, const char *name,
		void *buf, size_t size, int flags)
{
	bool named = !o->path && o->at && o->at[0];
	char pb[PATH_MAX];
	const char *path;
	bool follow;
	ssize_t r;

	if (named && xattrat_ok()) {
		struct xattr_args_v0 a = { .value = (uintptr_t)buf, .size = size,
					   .flags = flags };

		switch (op) {
		case XGET:
			r = syscall(SYS_getxattrat, o->fd, o->at,
				    AT_SYMLINK_NOFOLLOW, name, &a, sizeof(a));
			break;
		case XLIST:
			r = syscall(SYS_listxattrat, o->fd, o->at,
				    AT_SYMLINK_NOFOLLOW, buf, size);
			break;
		case XSET:
			r = syscall(SYS_setxattrat, o->fd, o->at,
				    AT_SYMLINK_NOFOLLOW, name, &a, sizeof(a));
			break;
		default:
			r = syscall(SYS_removexattrat, o->fd, o->at,
				    AT_SYMLINK_NOFOLLOW, name);
			break;
		}
		if (xattrat_done(r))
			return r;
	} else if (!named && !o->path) {
		switch (op) {
		case XGET: r = fgetxattr(o->fd, name, buf, size); break;
		case XLIST: r = flistxattr(o->fd, buf, size); break;
		case XSET: r = fsetxattr(o->fd, name, buf, size, flags); break;
		default: r = fremovexattr(o->fd, name); break;
		}
		if (r >= 0 || errno != EBADF)
			return r;
	}
	if (!(path = xobj_path(o, pb, sizeof(pb), &follow)))
		return -1;
	switch (op) {
	case XGET:
		return follow ? getxattr(path, name, buf, size) :
				lgetxattr(path, name, buf, size);
	case XLIST:
		return follow ? listxattr(path, buf, size) : llistxattr(path, buf, size);
	case XSET:
		return follow ? setxattr(path, name, buf, size, flags) :
				lsetxattr(path, name, buf, size, flags);
	default:
		return follow ? removexattr(path, name) : lremovexattr(path, name);
	}
}

ssize_t xobj_list(const struct xobj *o, char *buf, size_t size)
{
	return xobj_do(o, XLIST, NULL, buf, size, 0);
}

ssize_t xobj_get(const struct xobj *o, const char *name, void *buf, size_t size)
{
	return xobj_do(o, XGET, name, buf, size, 0);
}

int xobj_set(const struct xobj *o, const char *name, const void *val, size_t size,
	     int flags)
{
	return (int)xobj_do(o, XSET, name, (void *)val, size, flags);
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

/* Copy the xattrs of SRC that KEEP accepts onto DST. A value SRC will
 * not give or DST refuses ends the copy with -errno when FATAL(name,
 * errno) says so, and is skipped otherwise; so is one gone since the
 * listing. A listing that fails ends it too, but where SRC's file
 * system keeps no xattrs: nothing to copy (the kernel's overlay copies
 * the same way, ovl_copy_xattr()). A file capability whose root id this
 * user namespace does not map reads as EOVERFLOW: copied without it, the
 * file would silently lose the capability. */
int xattrs_copy(const struct xobj *src, const struct xobj *dst,
		bool (*keep)(const char *name),
		bool (*fatal)(const char *name, int err))
{
	struct xnames x;
	char *val = NULL;
	size_t cap = 0;
	int err = 0;

	if (xnames_read(&x, src) < 0)
		return errno == ENOTSUP ? 0 : -errno;
	xnames_each(&x, name) {
		ssize_t vlen;

		if (!keep(name))
			continue;
		vlen = xattr_value(src, name, &val, &cap);
		if (vlen < 0) {
			if (errno == ENODATA || !fatal(name, errno))
				continue;
			err = -errno;
			break;
		}
		vlen = acl_drop_unmapped(name, val, vlen);
		if (xobj_set(dst, name, val, (size_t)vlen, 0) < 0 && fatal(name, errno)) {
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
