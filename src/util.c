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

/* New objects are created by the daemon and then handed to the caller
 * (mapped to disk ids); a setgid parent passes on its group and, to
 * directories, its bit. PARENT_ST is the parent's logical attributes. */
int set_creds_owner(int dirfd, const char *name, const struct fuse_ctx *ctx,
		    const struct stat *parent_st, bool isdir)
{
	bool sgid = parent_st && (parent_st->st_mode & S_ISGID);
	uid_t uid;
	gid_t gid;
	struct stat st;
	mode_t mode;
	int err;

	if (uid_to_disk(ctx->uid, &uid))
		uid = OVERFLOW_ID;
	if (gid_to_disk(ctx->gid, &gid))
		gid = OVERFLOW_ID;
	if (sgid)
		gid = parent_st->st_gid;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	mode = st.st_mode & 07777;
	if (isdir && sgid)
		mode |= S_ISGID;
	if (!fs.override_xattr && st.st_uid == uid && st.st_gid == gid)
		err = 0;	/* the daemon's own ids: nothing to change */
	else
		err = set_owner_at(dirfd, name, uid, gid, mode);
	if (err == -EPERM || err == -EINVAL) {
		/* ids the daemon may not give: keep its own, as a
		 * filesystem without chown support would */
		err = 0;
	}
	if (!err && !fs.override_xattr && mode != (st.st_mode & 07777) &&
	    !S_ISLNK(st.st_mode) && fchmodat(dirfd, name, mode, 0) < 0)
		err = -errno;
	return err;
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
