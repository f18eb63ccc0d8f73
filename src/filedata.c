/* Requests on an open file's data besides READ and WRITE: FSYNC,
 * FALLOCATE, COPY_FILE_RANGE and LSEEK. Each works on the descriptor
 * file.c finds for the request (req_fd()): the handle's, or one opened
 * for the request alone without a handle (noopen). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "layerfs.h"

void lfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi)
{
	int tmp, fd, err = 0;

	if (!fs.cfg->fsync) {
		fuse_reply_err(req, 0);
		return;
	}
	fd = req_fd(ino, fi, false, NULL, &tmp);
	if (fd < 0)
		err = -fd;
	else if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		err = errno;
	close_tmp(tmp);
	fuse_reply_err(req, err);
}

void lfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		   off_t length, struct fuse_file_info *fi)
{
	int tmp = -1, fd, err;

	/* What vfs_fallocate() refuses an immutable or append-only inode
	 * (all, or all but allocation), which the kernel does not know
	 * ours to be; their real files have no flag to refuse it with
	 * (fileattr.c). A descriptor opened O_APPEND, or before the flag
	 * was set, reaches here: a punched hole lost an append-only
	 * file's data. */
	err = -prot_check(node_from_id(ino),
			  (mode & ~FALLOC_FL_KEEP_SIZE) ? PROT_DATA : PROT_APPEND);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	fd = req_fd(ino, fi, true, NULL, &tmp);
	if (fd < 0)
		err = -fd;
	else if (fallocate(fd, mode, offset, length) < 0)
		err = errno;
	else
		kill_suidgid_unmarked(req, node_from_id(ino));
	close_tmp(tmp);
	fuse_reply_err(req, err);
}

void lfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags)
{
	int tmp_in, tmp_out, fd_in, fd_out, err;
	ssize_t n;

	/* An append-only or immutable file takes none (the kernel refuses
	 * an O_APPEND destination itself): with noopen a descriptor that
	 * does not append reaches here, and the real file has no flag to
	 * refuse it with (fileattr.c) */
	err = prot_check(node_from_id(ino_out), PROT_DATA);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	/* the destination first: its copy-up may be the source's too */
	fd_out = req_fd(ino_out, fi_out, true, NULL, &tmp_out);
	if (fd_out < 0) {
		fuse_reply_err(req, -fd_out);
		return;
	}
	fd_in = req_fd(ino_in, fi_in, false, NULL, &tmp_in);
	if (fd_in < 0) {
		close_tmp(tmp_out);
		fuse_reply_err(req, -fd_in);
		return;
	}
	n = copy_file_range(fd_in, &off_in, fd_out, &off_out, len, (unsigned)flags);
	if (n < 0)
		n = -errno;
	close_tmp(tmp_in);
	close_tmp(tmp_out);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	kill_suidgid_unmarked(req, node_from_id(ino_out));
	fuse_reply_write(req, (size_t)n);
}

void lfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi)
{
	int tmp, fd;
	off_t r;

	/* With the writeback cache the real file lacks what the kernel has
	 * not written yet: it would show holes (or no data at all) where a
	 * program just wrote. ENOSYS makes the kernel answer SEEK_DATA and
	 * SEEK_HOLE itself from its own size, for every file of the mount:
	 * data up to the end, no holes. */
	if (fs.writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fd = req_fd(ino, fi, false, NULL, &tmp);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	r = lseek(fd, off, whence);
	if (r < 0)
		r = -errno;
	close_tmp(tmp);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_lseek(req, r);
}
