/* The table of operations handed to libfuse, and session setup. */
#include "config.h"

#include "layerfs.h"

/* noopen unless told otherwise: where passthrough cannot be had anyway,
 * in a user namespace (rootless podman), and the daemon can open every
 * file whatever its mode, as writes need (file.c) */
bool noopen_default(void)
{
	return fs.dac_override && !initial_userns();
}

static void lfs_init(void *userdata, struct fuse_conn_info *conn)
{
	unsigned want = FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_DONT_MASK |
			FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_SPLICE_WRITE |
			FUSE_CAP_READDIRPLUS |
			FUSE_CAP_ASYNC_READ | FUSE_CAP_CACHE_SYMLINKS |
			FUSE_CAP_IOCTL_DIR;
	bool noopen = false;

	if (!fs.cfg->noacl)
		want |= FUSE_CAP_POSIX_ACL;
	/* Not FUSE_CAP_SPLICE_MOVE: a spliced read reply is copied into the
	 * kernel's pages. A page of the real file's cache cannot be moved
	 * anyway, and the kernel locks and tries each one before it falls
	 * back to the copy (docs/architecture.md, "Reads"). */
	/* a splice takes a pipe per thread, kept as long as the thread */
	if (!fdrelief_thread_fds())
		want &= ~FUSE_CAP_SPLICE_WRITE;
	conn->want |= want & conn->capable;
	/* Every listing request with attributes, not only the first of a
	 * directory and those after a lookup in it (the kernel's "auto"
	 * mode): find, du and rm read a whole directory before they stat or
	 * remove its entries, and would send a LOOKUP for each entry past
	 * the first request's (docs/architecture.md, "Caching") */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->want & FUSE_CAP_PARALLEL_DIROPS)
		session_want_parallel_dirops();
	/* The daemon writes with CAP_FSETID, so the real filesystem would
	 * keep set-id bits on writes; let the kernel clear them... */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* ...unless the kernel marks the requests that must clear them
	 * (FUSE_HANDLE_KILLPRIV_V2, offered in session_io.c): then it also
	 * stops asking for security.capability before every write */
	session_want_killpriv_v2();
	/* With noopen, the kernel opens files without asking (file.c). It
	 * would then take O_TRUNC as done by the open that it never sent,
	 * so it must send the truncation as a setattr. */
	if (!fs.cfg->noopen_set) {
		noopen = noopen_default() &&
			 (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	} else if (fs.cfg->noopen && !fs.dac_override) {
		/* a file created read-only could not be reopened for the
		 * writes that follow (git's objects are made 0444);
		 * daemon_run() said so while stderr was still the caller's */
	} else if (fs.cfg->noopen && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)) {
		noopen = true;
	} else if (fs.cfg->noopen) {
		lfs_log("noopen: the kernel cannot open files without a request; opens are sent as usual");
	}
	if (noopen) {
		conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		fs.noopen = true;
		if (fs.cfg->debug)
			lfs_log("files open without a request (noopen)");
	}
	/* As root, file data of the upper layer bypasses us altogether
	 * (passthrough.c); the kernel then refuses the writeback cache.
	 * Passing through needs an open request, so not with noopen. */
	if (fs.has_upper && !fs.noopen &&
	    passthrough_possible(fs.layers[0].fd) &&
	    session_kernel_passthrough()) {
		session_want_passthrough();
		fs.passthrough = true;
	}
	/* Otherwise small writes gather in the kernel's page cache and reach
	 * us as large ones; only this mount changes the layers, so the
	 * kernel's idea of sizes and times stays right. See io_flags().
	 * The price: the kernel forgets a file's block count at every close,
	 * and the next stat of it asks us (writeback=0 keeps it). */
	if (!fs.passthrough && fs.has_upper && fs.cfg->writeback &&
	    (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		fs.writeback = true;
	} else {
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	}
	/* With the writeback cache the kernel empties its own copy of a file
	 * opened with O_TRUNC after the OPEN, outside the section that holds
	 * writes back: a write that reaches us in between lands after our
	 * truncation, and the kernel shows the file empty while it holds
	 * the data. Sent as a setattr, the truncation waits for writes under
	 * way and keeps others out (tests/tools/truncrace.c). */
	if (fs.writeback)
		conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* Directories open without a round trip (readdir.c) */
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs.no_opendir = true;
	}
	conn->max_write = 1 << 20;
	conn->max_read = fs.max_read;	/* must match the mount option */
	conn->max_readahead = READAHEAD_KB << 10;
	conn->time_gran = 1;
}

/* No .flush: there is nothing to do at close(2), and libfuse's ENOSYS
 * tells the kernel to stop sending FLUSH, a round trip per close. */
struct fuse_lowlevel_ops lfs_ops = {
	.init = lfs_init,
	.lookup = lfs_lookup,
	.forget = lfs_forget,
	.forget_multi = lfs_forget_multi,
	.getattr = lfs_getattr,
	.setattr = lfs_setattr,
	.readlink = lfs_readlink,
	.mknod = lfs_mknod,
	.mkdir = lfs_mkdir,
	.unlink = lfs_unlink,
	.rmdir = lfs_rmdir,
	.symlink = lfs_symlink,
	.rename = lfs_rename,
	.link = lfs_link,
	.open = lfs_open,
	.read = lfs_read,
	.write_buf = lfs_write_buf,
	.release = lfs_release,
	.fsync = lfs_fsync,
	.opendir = lfs_opendir,
	.readdir = lfs_readdir,
	.readdirplus = lfs_readdirplus,
	.releasedir = lfs_releasedir,
	.fsyncdir = lfs_fsyncdir,
	.statfs = lfs_statfs,
	.setxattr = lfs_setxattr,
	.getxattr = lfs_getxattr,
	.listxattr = lfs_listxattr,
	.removexattr = lfs_removexattr,
	.access = lfs_access,
	.create = lfs_create,
	.fallocate = lfs_fallocate,
	.copy_file_range = lfs_copy_file_range,
	.lseek = lfs_lseek,
	.ioctl = lfs_ioctl,
};
