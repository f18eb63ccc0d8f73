/* open(O_TMPFILE) on the merged view: an unnamed file in the upper copy
 * of the directory, as the kernel's overlay makes it. The kernel sends
 * FUSE_TMPFILE, which reaches lfs_create() as a CREATE (session_io.c).
 *
 * The real file is opened without O_EXCL, so that it stays linkable:
 * whether the caller may link it is the kernel's to decide, on its own
 * inode. Its node has no name and no place in the hash table until a
 * link gives it one (node_adopt(), from create_obj()); the node's O_PATH
 * descriptor keeps the file alive in between, and is how every other
 * request reaches it, as for a file with several upper names. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs.h"

/* The file, open with FLAGS; its attributes in *ST. *ACL tells whether
 * it inherited a default ACL. Returns the descriptor or -errno. */
static int tmpfile_open(struct node *dir, mode_t mode, int flags,
			const struct fuse_ctx *ctx, struct stat *st, bool *acl)
{
	struct stat pst;
	int pfd, fd, err;

	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	err = prot_check(dir, PROT_ADD);
	if (err)
		return err;
	pfd = new_entry_dir(dir, &pst);
	if (pfd < 0)
		return pfd;
	*acl = has_default_acl(pfd);
	mode = apply_umask(*acl, mode, ctx) & 07777;
	flags &= ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_TMPFILE);
	fd = fdrelief_openat(pfd, ".", flags | O_TMPFILE | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	err = set_creds_owner(fd, "", ctx, &pst, false);
	if (!err && fstat(fd, st) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	override_apply(0, fd, "", st);
	return fd;
}

void tmpfile_create(fuse_req_t req, struct node *dir, mode_t mode,
		    struct fuse_file_info *fi)
{
	struct node *n;
	struct stat st;
	bool acl = false;
	int fd, pathfd;

	fd = tmpfile_open(dir, mode, io_flags(fi->flags), fuse_req_ctx(req), &st, &acl);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	pathfd = reopen_fd(fd, O_PATH);
	if (pathfd < 0) {
		fuse_reply_err(req, errno);
		close(fd);
		return;
	}
	n = node_new_unnamed(dir, &st, lset_upper(pathfd));
	fix_stat(n, &st);
	/* it carries no xattr unless it inherited an ACL or an LSM
	 * labelled it: spare the first getxattr its listxattr */
	if (!acl && !fs.selinux_host)
		node_xattrs_new(n);
	reply_create_open(req, n, &st, fd, fi);
}
