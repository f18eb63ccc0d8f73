/* Small helpers shared by the operations. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "layerfs: out of memory\n");
		abort();
	}
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (!p) {
		fprintf(stderr, "layerfs: out of memory\n");
		abort();
	}
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		fprintf(stderr, "layerfs: out of memory\n");
		abort();
	}
	return p;
}

void lfs_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("layerfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Open a new description of the object an O_PATH descriptor refers to.
 * The /proc magic link is the only way from O_PATH to a readable file
 * without knowing a name for it. */
int reopen_fd(int fd, int flags)
{
	char name[24];

	snprintf(name, sizeof(name), "%d", fd);
	return openat(fs.procfd, name, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
}

char *fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

int fd_path_at(int dirfd, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/self/fd/%d/%s", dirfd, name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* New objects are created by the daemon and then handed to the caller;
 * a setgid parent passes on its group (and to directories its bit). */
void set_creds_owner(int dirfd, const char *name, int fd,
		     const struct fuse_ctx *ctx, const struct stat *parent_st,
		     bool isdir)
{
	uid_t uid = ctx->uid;
	gid_t gid = ctx->gid;
	bool sgid = parent_st && (parent_st->st_mode & S_ISGID);
	struct stat st;

	if (sgid)
		gid = parent_st->st_gid;
	if (fd >= 0) {
		if (fchown(fd, uid, gid) < 0 && errno != EPERM)
			return;
	} else if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		   errno != EPERM) {
		return;
	}
	if (isdir && sgid) {
		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && !(st.st_mode & S_ISGID))
				fchmod(fd, (st.st_mode & 07777) | S_ISGID);
		} else if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			   !(st.st_mode & S_ISGID)) {
			fchmodat(dirfd, name, (st.st_mode & 07777) | S_ISGID, 0);
		}
	}
}

/* The kernel leaves the umask to us (FUSE_CAP_DONT_MASK) so that a
 * default ACL on the parent can take its place, as on a local disk. */
mode_t apply_umask(int parent_upper_fd, mode_t mode, const struct fuse_ctx *ctx)
{
	if (!fs.cfg->noacl &&
	    fgetxattr(parent_upper_fd, "system.posix_acl_default", NULL, 0) > 0)
		return mode;
	return mode & ~ctx->umask;
}

void fill_entry(struct fuse_entry_param *e, struct node *n,
		const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = node_id(n);
	e->attr = *st;
	e->attr_timeout = fs.timeout;
	e->entry_timeout = fs.timeout;
}
