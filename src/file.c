/* File I/O. An open file is a descriptor on the real file; reads and
 * writes go straight to it without touching the node table. Opening for
 * writing copies the file up first. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layerfs.h"

/* FLAGS of an open (or create) for our reopen of the node's file: an
 * O_TMPFILE file is opened by itself, not made again (ENOTDIR) */
static int open_flags(int flags)
{
	return (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_TMPFILE)) |
	       O_CLOEXEC;
}

/* The flags of our own descriptor for an open request. The kernel
 * computes the offsets of appending writes itself, and a writepage of an
 * mmap'ed page or a pwrite(2) through an fcntl'ed descriptor come at
 * offsets of their own, so the descriptor must not append on its own
 * (pwrite would ignore the offset). With the kernel's writeback cache it
 * also reads pages through any open file to complete a partial write, so
 * a write-only open must be able to read. */
int io_flags(int flags)
{
	if (fs.writeback && (flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~O_APPEND;
}

/* Through a write-only open (FLAGS) the kernel reads only to fill a page
 * of the writeback cache before a partial write, which on the kernel's
 * overlay leaves the atime alone: our descriptor (OFLAGS) reads without
 * moving it (O_NOATIME where the daemon may use it, layer_openat()). */
static int fill_noatime(int flags, int oflags)
{
	return (flags & O_ACCMODE) == O_WRONLY ? oflags | O_NOATIME : oflags;
}

/* Our descriptor on the node's top-most object for an open with FLAGS
 * (io_flags()), or -errno. An append-only file (chattr +a) opens for
 * writing only with O_APPEND, and one marked so (fileattr.c) takes only
 * appends: then *APPEND (if given) is set (append_write()). */
static int node_open_io(struct node *n, int flags, bool *append)
{
	int fd = node_open(n, fill_noatime(flags, open_flags(io_flags(flags))));

	if (append)
		*append = fd >= 0 && (flags & O_ACCMODE) != O_RDONLY &&
			  node_has(n, NODE_PROTATTR) && prot_append_only(n);
	if ((fd == -EACCES || fd == -EPERM) && io_flags(flags) != flags) {
		/* no read permission: the caller's access mode */
		if (io_flags(flags) != (flags & ~O_APPEND))
			fd = node_open(n, open_flags(flags & ~O_APPEND));
		if (fd == -EPERM && (flags & O_APPEND)) {
			int rw = (flags & ~O_ACCMODE) | O_RDWR;

			fd = node_open(n, open_flags(rw));
			if (fd == -EACCES)
				fd = node_open(n, open_flags(flags));
			if (append)
				*append = fd >= 0;
		}
	}
	return fd;
}

/* The data of a WRITE request, copied to an aligned buffer *OUT (the
 * caller frees it): in our request buffer it sits right after the
 * headers, which O_DIRECT refuses as misaligned. Its length, or -errno. */
static ssize_t aligned_copy(struct fuse_bufvec *in, char **out)
{
	size_t len = fuse_buf_size(in);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(len);
	void *p;
	ssize_t n;

	if (posix_memalign(&p, 4096, len ? len : 1) != 0)
		return -ENOMEM;
	mem.buf[0].mem = p;
	n = fuse_buf_copy(&mem, in, 0);
	if (n < 0) {
		free(p);
		return n;
	}
	*out = p;
	return n;
}

/* A write through a descriptor of an append-only file, which appends
 * whatever the offset. The writeback cache writes a page back from its
 * start, so an append comes with bytes before the end of the file: those
 * must be what the file holds, and only the rest is written. Any other
 * write is refused, as the file refuses it. The writeback cache sends a
 * large append as several requests at once, which threads may serve in
 * any order: a request that starts past the end waits (a moment at most)
 * for those before it, and the check and the write are one step. */
static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t append_moved = PTHREAD_COND_INITIALIZER;

static ssize_t append_write(int fd, struct fuse_bufvec *in, off_t off)
{
	char *p, *old = NULL;
	struct timespec until;
	struct stat st;
	size_t len, keep = 0;
	/* aligned: the descriptor may be O_DIRECT (write_direct()) */
	ssize_t n = aligned_copy(in, &p);

	if (n < 0)
		return n;
	len = (size_t)n;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&append_lock);
	for (;;) {
		if (fstat(fd, &st) < 0) {
			n = -errno;
			goto out;
		}
		if (off <= st.st_size)
			break;
		if (pthread_cond_timedwait(&append_moved, &append_lock, &until) == ETIMEDOUT) {
			n = -EPERM;
			goto out;
		}
	}
	if (st.st_size - off < (off_t)len)
		keep = (size_t)(st.st_size - off);
	else
		keep = len;
	if (keep) {
		old = xmalloc(keep);
		if (pread(fd, old, keep, off) != (ssize_t)keep ||
		    memcmp(old, p, keep) != 0) {
			n = -EPERM;
			goto out;
		}
	}
	if (len > keep) {
		/* at the end: an O_APPEND descriptor of a +a file goes there
		 * anyway, a marked file's is an ordinary one */
		n = pwrite(fd, p + keep, len - keep, st.st_size);
		n = n < 0 ? -errno : (ssize_t)keep + n;
		pthread_cond_broadcast(&append_moved);
	}
out:
	pthread_mutex_unlock(&append_lock);
	free(old);
	free(p);
	return n;
}

/* A read-only open of a lower file whose data the kernel's page cache
 * was given already (preload()) needs no descriptor: a program reading
 * the file again (a second tar or grep, a compiler's headers) finds its
 * pages, and the READ for a page dropped since reaches the node's top
 * file through read_fd(), as without open requests (noopen): after a
 * copy-up, the upper file. An open and a close fewer per open, one of
 * them while the opener waits. Not with O_NOATIME, which the node's
 * descriptor may not carry, nor O_DIRECT. */
static bool open_without_fd(struct node *n, int flags)
{
	return (flags & O_ACCMODE) == O_RDONLY &&
	       !(flags & (O_TRUNC | O_DIRECT | O_NOATIME)) &&
	       S_ISREG(n->type) && node_has(n, NODE_PRELOADED) && !node_in_upper(n);
}

int file_open_handle(struct node *n, int flags, struct fhandle **out)
{
	bool writing = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	bool nofd = !writing && open_without_fd(n, flags);
	struct fhandle *fh;
	uint32_t gen;
	bool append = false, upper;
	int fd = -1, err;

	/* copyup() answers EROFS without an upper layer */
	if (writing) {
		err = prot_check(n, (flags & O_APPEND) && !(flags & O_TRUNC) ?
				 PROT_APPEND : PROT_DATA);
		if (!err)
			err = copyup(n, (flags & O_TRUNC) ? COPYUP_NODATA : 0);
		if (err)
			return err;
	}
	gen = __atomic_load_n(&n->gen, __ATOMIC_ACQUIRE);
	/* before the open: a copy-up only ever moves a node up */
	upper = node_in_upper(n);
	if (!nofd) {
		fd = node_open_io(n, flags, &append);
		if (fd < 0)
			return fd;
	}
	if (test_pause_wanted("open")) {
		struct node *parent;
		char *name;

		if (node_parent_name(n, &parent, &name) == 0) {
			test_pause("open", name);
			node_put(parent);
			free(name);
		}
	}
	fh = xcalloc(1, sizeof(*fh));
	fh->fd = fd;
	fh->upper = upper;
	fh->append = append;
	fh->gen = gen;
	fh->flags = flags;
	fh->node = n;
	fh->nofd = nofd;
	pthread_mutex_init(&fh->lock, NULL);
	*out = fh;
	return 0;
}

/* A new fd on FH's node's top-most file, as FH opened it (no O_TRUNC
 * again), or -errno. */
static int fh_reopen_as(struct fhandle *fh, int flags)
{
	return node_open(fh->node, fill_noatime(flags, open_flags(io_flags(flags))) & ~O_TRUNC);
}

static int fh_reopen(struct fhandle *fh)
{
	return fh_reopen_as(fh, fh->flags);
}

/* A file opened read-only before another opener copied it up must read
 * the upper copy from then on, as overlayfs does. */
static int fh_fd(struct fhandle *fh)
{
	struct node *n = fh->node;
	int fd;

	if (__atomic_load_n(&n->gen, __ATOMIC_ACQUIRE) == fh->gen)
		return fh->fd;
	pthread_mutex_lock(&fh->lock);
	if (fh->gen != __atomic_load_n(&n->gen, __ATOMIC_ACQUIRE)) {
		uint32_t gen = __atomic_load_n(&n->gen, __ATOMIC_ACQUIRE);
		fd = fh_reopen(fh);
		if (fd >= 0) {
			/* the old fd stays valid for concurrent readers
			 * until release: keep it by dup2 onto the same
			 * number */
			dup2(fd, fh->fd);
			close(fd);
			fh->gen = gen;
		}
	}
	pthread_mutex_unlock(&fh->lock);
	return fh->fd;
}

/* The fd for a READ or WRITE on handle FH that is DIRECT or not, as the
 * request says, or -errno. Where the handle keeps none (one passing
 * through: reply_opened()) or one of the other kind, the request gets
 * one of its own in *TMP, which the caller closes: a page of the
 * writeback cache or of a shared mapping written back through an
 * O_DIRECT handle (a partial block: EINVAL, and the write was lost), or
 * a file whose O_DIRECT fcntl(F_SETFL) changed. */
static int handle_fd_io(struct fhandle *fh, bool direct, int *tmp)
{
	if (fh->fd >= 0 && direct == !!(fh->flags & O_DIRECT))
		return fh_fd(fh);
	return *tmp = fh_reopen_as(fh, (fh->flags & ~O_DIRECT) | (direct ? O_DIRECT : 0));
}

/* The fd for any other request on handle FH: of the kind it was opened
 * with. */
static int handle_fd(struct fhandle *fh, int *tmp)
{
	return handle_fd_io(fh, fh->flags & O_DIRECT, tmp);
}

static struct fhandle *fh_of(struct fuse_file_info *fi)
{
	return (struct fhandle *)(uintptr_t)fi->fh;
}

/* With noopen the kernel opens files without asking us, and a request on
 * such a file comes without a handle (fh 0): it reaches the node's
 * top-most real file by itself, for reading through read_fd(), for
 * writing through an fd opened for it alone (here). A write first
 * copies the file up, as an open for writing does otherwise, so the
 * copy-up comes at the first write (or truncation) instead of at the
 * open. The program's open flags are unknown: a WRITE (APPEND non-NULL)
 * may be an append, and reaches an append-only file through a
 * descriptor that appends (node_open_io()); fallocate and
 * copy_file_range refuse such a file themselves (prot_check()). */
static int noopen_write_fd(struct node *n, bool *append, int direct)
{
	int err;

	if (append)
		*append = false;
	/* an append-only lower file is copied up with its flag, which
	 * then takes appends only (node_open_io()) */
	err = prot_check(n, PROT_APPEND);
	if (!err)
		err = copyup(n, 0);	/* EROFS without an upper layer */
	if (err)
		return err;
	return node_open_io(n, (append ? O_WRONLY | O_APPEND : O_WRONLY) | direct,
			    append);
}

/* Descriptors kept by read_fd(), and how many may be: an eighth of the
 * descriptors we may open, at most 4096 (a node holds its own besides). */
static int read_fds, read_fds_max = -1;

void read_fd_drop(int fd)
{
	close(fd);
	__atomic_sub_fetch(&read_fds, 1, __ATOMIC_RELAXED);
}

static bool read_fd_reserve(void)
{
	int max = __atomic_load_n(&read_fds_max, __ATOMIC_RELAXED);

	if (max < 0) {
		struct rlimit rl;

		max = getrlimit(RLIMIT_NOFILE, &rl) < 0 ? 0 :
		      (int)(rl.rlim_cur / 8 < 4096 ? rl.rlim_cur / 8 : 4096);
		__atomic_store_n(&read_fds_max, max, __ATOMIC_RELAXED);
	}
	if (__atomic_add_fetch(&read_fds, 1, __ATOMIC_RELAXED) <= max)
		return true;
	__atomic_sub_fetch(&read_fds, 1, __ATOMIC_RELAXED);
	return false;
}

/* The fd for reading without a handle (noopen): the node's kept
 * descriptor, or one opened for the request alone, which *TMP then holds
 * (see req_fd()). With KEEP (a READ past offset 0: a file read in more
 * than one request, a large one or random reads) the new descriptor is
 * kept, where an open and a close per request cost a tenth of a 4 KiB
 * random read from the disk cache. It is kept in the node's set of real
 * objects: a copy-up publishes a new set, so reads after it never go to
 * the lower file, and the old set, with the descriptor other threads may
 * still be reading through, stays until the node dies. */
static int read_fd(struct node *n, bool keep, int *tmp)
{
	struct lset *ls = node_lset(n);
	int fd = __atomic_load_n(&ls->rdfd, __ATOMIC_ACQUIRE), none = -1;

	*tmp = -1;
	if (fd >= 0)
		return fd;
	fd = node_open(n, open_flags(O_RDONLY));
	if (fd < 0 || !keep || !read_fd_reserve())
		return *tmp = fd;
	if (__atomic_compare_exchange_n(&ls->rdfd, &none, fd, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return fd;
	read_fd_drop(fd);	/* another thread kept one first */
	return none;
}

/* The fd for a request on FI: the handle's, or without one that of
 * read_fd() or noopen_write_fd(); *TMP holds one opened for this request
 * alone, which the caller closes (-1 otherwise). With APPEND (a WRITE),
 * *APPEND tells whether the fd appends whatever the offset. */
int req_fd(fuse_ino_t ino, struct fuse_file_info *fi, bool writing,
	   bool *append, int *tmp)
{
	struct fhandle *fh = fh_of(fi);

	*tmp = -1;
	if (fh) {
		if (append)
			*append = fh->append;
		return handle_fd(fh, tmp);
	}
	if (!writing)
		return read_fd(node_from_id(ino), false, tmp);
	return *tmp = noopen_write_fd(node_from_id(ino), append, 0);
}

void close_tmp(int tmp)
{
	if (tmp >= 0)
		close(tmp);
}

/* fallocate(2) and copy_file_range(2) change data as a write does, but
 * the kernel marks neither as one that must clear set-id bits. It keeps
 * them for a caller with CAP_FSETID in the initial user namespace only:
 * root of a container loses them, as on the kernel's overlay. */
void kill_suidgid_unmarked(fuse_req_t req, struct node *n)
{
	struct stat st;

	/* the caller's capabilities cost a read of /proc: set-id files only */
	if (!node_stat(n, &st) && (st.st_mode & (S_ISUID | S_ISGID)) &&
	    !caller_has_fsetid_init(req))
		node_kill_suidgid(req, n);
}

/* Hand a small lower file's data to the kernel's page cache with its
 * open (FUSE_NOTIFY_STORE), before the open returns. A program that
 * opens a small file reads it: the reads then find the pages and send
 * no READ, so the kernel also keeps the file's atime and sends no
 * GETATTR for the fstat that tar and friends do after reading: two
 * round trips of the three per small file. Lower files only, whose data
 * cannot change; the node lock keeps a copy-up, after which writes may
 * dirty the pages, from overtaking the store. Once per node: pages the
 * kernel drops later come back through reads, as before. Not with
 * prefetch=0, which turns off all reading ahead of a request, and not
 * with a single thread: a store waits for a page that a reader has
 * locked, and that reader for its READ, which only another thread can
 * answer. The pread updates the lower file's atime at the open (under
 * relatime, at most once a day), where a program's first read would. */
static bool preload_done(struct node *n)
{
	return node_has(n, NODE_PRELOADED) || node_in_upper(n);
}

static void preload(fuse_ino_t ino, struct fhandle *fh)
{
	struct node *n = fh->node;
	struct fuse_bufvec bv;
	struct stat st;
	char *buf;
	ssize_t got;

	if (!S_ISREG(n->type) || (fh->flags & O_DIRECT) || !fs.cfg->threaded ||
	    !fs.cfg->prefetch || preload_done(n))
		return;
	if (fstat(fh->fd, &st) < 0 || st.st_size > SMALL_FILE_MAX)
		return;
	/* an empty file has nothing to store, and is done all the same
	 * (its next opens need no descriptor either) */
	buf = xmalloc((size_t)st.st_size + 1);
	got = st.st_size ? pread(fh->fd, buf, (size_t)st.st_size, 0) : 0;
	bv = (struct fuse_bufvec)FUSE_BUFVEC_INIT(got > 0 ? (size_t)got : 0);
	bv.buf[0].mem = buf;
	/* only tried: the stripe may be held by a change of another node,
	 * and the open would wait for it */
	if ((got > 0 || st.st_size == 0) && node_trylock(n)) {
		if (!node_has(n, NODE_PRELOADED) && !node_in_upper(n) &&
		    (got == 0 || fuse_lowlevel_notify_store(fs.se, ino, 0, &bv, 0) == 0))
			node_flag_set(n, NODE_PRELOADED);
		node_unlock(n);
	}
	free(buf);
}

void lfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fhandle *fh;
	int err;

	/* the kernel then opens every file itself (req_fd()) */
	if (fs.noopen) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	err = file_open_handle(node_from_id(ino), fi->flags, &fh);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	/* O_TRUNC by a process without CAP_FSETID (session_io.c) */
	if (req_kill_suidgid() && (fi->flags & O_TRUNC))
		node_kill_suidgid(req, fh->node);
	else if ((fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & O_TRUNC)) {
		/* the files after this one */
		prefetch_opened(fh->node, fuse_req_ctx(req)->pid, fh->fd);
		preload(ino, fh);
	}
	reply_opened(req, fi, fh, NULL);
}

/* FH's open ends: its parts in the node's tables, its fd, itself. */
static void fh_free(struct fhandle *fh)
{
	opens_closed(fh->node, fh->backing, fh->flags, fh->append);
	if (fh->fd >= 0)
		close(fh->fd);
	pthread_mutex_destroy(&fh->lock);
	free(fh);
}

/* Answer an open or create of FH: through the page cache, or passing
 * through to the real file (passthrough.c). E is the create's entry. */
int reply_opened(fuse_req_t req, struct fuse_file_info *fi, struct fhandle *fh,
		 const struct fuse_entry_param *e)
{
	struct fuse_entry_param ce;
	bool keep_cache, mapped;
	fuse_ino_t id = node_id(fh->node);
	int r;

	/* An O_DIRECT open needs no direct_io: the kernel sends its reads
	 * and writes to us as they come anyway (fuse_direct_IO()), and our
	 * descriptor, O_DIRECT too, checks their alignment. With direct_io
	 * the kernel refused to map the file shared (ENODEV), which the
	 * kernel's overlay allows.
	 *
	 * An append-only file open for writing goes through the daemon
	 * (append_write()) and without a page cache: passing through, or a
	 * shared writable mapping, would change its bytes, which the kernel
	 * does not know to refuse (a shared writable mmap of it is refused
	 * here, as the kernel's overlay refuses it). Such an open takes no
	 * part in the node's passthrough mode. */
	fh->backing = opens_opened(fh->node, fh->fd, fh->upper, fh->flags,
				   fh->append, &keep_cache);
	mapped = pt_mapped(fh->node, fh->backing, fh->flags);
	fi->fh = (uintptr_t)fh;
	/* the kernel takes no open flag but direct_io and noflush with
	 * passthrough (it has no page cache of its own for the file then) */
	fi->keep_cache = !fh->backing && keep_cache;
	if (fh->backing) {
		session_reply_backing(fh->backing);
		/* The kernel holds the backing file itself and asks us for
		 * no reads or writes: the handle's fd would only take one
		 * of the daemon's descriptors per open file (and a file
		 * unlinked while open pins one more), against a hard
		 * limit root may not be allowed to raise. The rare request
		 * that needs it (fsync, fallocate, lseek, copy_file_range,
		 * ftruncate) opens its own (handle_fd()). Before the reply,
		 * so that no request of the handle can meet it half gone. */
		close(fh->fd);
		fh->fd = -1;
	} else if (fh->append) {
		fi->direct_io = 1;
	}
	if (e) {
		ce = *e;
		ce.attr_timeout = attr_timeout(fh->node);
		r = fuse_reply_create(req, &ce, fi);
	} else {
		r = fuse_reply_open(req, fi);
		/* the inode exists: what the kernel kept of it goes. Not
		 * through FH: once the reply is out, the opener may have
		 * closed the file and its RELEASE freed FH in another thread */
		if (r == 0 && mapped)
			fuse_lowlevel_notify_inval_inode(fs.se, id, -1, 0);
	}
	/* the opener was interrupted: nobody will release this */
	if (r == -ENOENT)
		fh_free(fh);
	return r;
}

void lfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct fhandle *fh = fh_of(fi);
	int tmp = -1, fd;

	/* a handle without a descriptor reads as without a handle */
	if (fh && fh->nofd)
		fh = NULL;
	if (fh)
		fd = handle_fd_io(fh, fi->flags & O_DIRECT, &tmp);
	else if (fi->flags & O_DIRECT)
		/* opened without a request (noopen): the READ carries the
		 * file's flags, and the real file checks the alignment of an
		 * O_DIRECT read, as on the kernel's overlay */
		fd = tmp = node_open(node_from_id(ino), open_flags(O_RDONLY | O_DIRECT));
	else if ((fi->flags & O_ACCMODE) == O_WRONLY)
		/* a page filled for a partial write (fill_noatime()) */
		fd = tmp = node_open(node_from_id(ino), open_flags(O_RDONLY | O_NOATIME));
	else
		fd = read_fd(node_from_id(ino), off > 0, &tmp);

	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	/* the first read of a file opened without a request stands for
	 * its open: the files after it may be read ahead. So does that of
	 * one opened without a descriptor, whose open took the kernel's
	 * pages for cached: they have been dropped since */
	if (!fh && off == 0)
		prefetch_opened(node_from_id(ino), fuse_req_ctx(req)->pid, fd);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, 0);
	close_tmp(tmp);
}

/* A write through an O_DIRECT descriptor, from an aligned copy
 * (aligned_copy()). An unaligned offset or length still fails as it
 * would on the real file. */
static ssize_t write_direct(int fd, struct fuse_bufvec *in, off_t off)
{
	char *p;
	ssize_t n = aligned_copy(in, &p);

	if (n < 0)
		return n;
	n = pwrite(fd, p, (size_t)n, off);
	if (n < 0)
		n = -errno;
	free(p);
	return n;
}

void lfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		   off_t off, struct fuse_file_info *fi)
{
	size_t size = fuse_buf_size(in);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(size);
	struct fhandle *fh = fh_of(fi);
	struct privkeep pk = { .held = false };
	struct node *held = NULL;
	bool append = false;
	/* an O_DIRECT write, not a page written back: the real file
	 * checks its alignment (also where the handle's fd is not direct,
	 * or without a handle, noopen) */
	bool direct = !fi->writepage && (fi->flags & O_DIRECT);
	int tmp = -1, fd;
	ssize_t n;

	if (fh && !fh->append) {
		fd = handle_fd_io(fh, direct, &tmp);
	} else if (!fh && direct) {
		fd = tmp = noopen_write_fd(node_from_id(ino), &append, O_DIRECT);
	} else {
		fd = req_fd(ino, fi, true, &append, &tmp);
		direct = fh && (fh->flags & O_DIRECT);
	}

	if (fd < 0) {
		n = fd;
		goto failed;
	}
	/* a write through the page cache (writepage) was checked when it
	 * was made; the kernel marks the others that must clear set-id bits
	 * (session_io.c) */
	if (!fi->writepage && req_kill_suidgid())
		node_kill_suidgid(req, node_from_id(ino));
	/* nor may it drop them, or a file capability (privkeep.c); not for
	 * an append-only file, whose writes may wait for each other */
	if (fi->writepage && !append)
		privs_keep_begin(&pk, node_from_id(ino), fd);
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	if (append)
		n = append_write(fd, in, off);
	else if (direct)
		n = write_direct(fd, in, off);
	else
		n = fuse_buf_copy(&out, in, 0);
	/* A page written back from the kernel's cache: the kernel looks only
	 * at the error of such a WRITE, not at its count, so the part a
	 * short write left out was lost without a word (an upper with
	 * 150 KiB free took 150 KiB of a 400 KiB file, and fsync and close
	 * succeeded). The rest is written on from where it stopped (both
	 * bufvecs moved on), and what the real file refuses fails the
	 * request: fsync and close then report it. */
	while (fi->writepage && !append && !direct && n > 0 && (size_t)n < size) {
		ssize_t more = fuse_buf_copy(&out, in, 0);

		if (more <= 0) {
			n = more < 0 ? more : -EIO;
			break;
		}
		n += more;
	}
	if (fi->writepage && n >= 0 && (size_t)n < size)
		n = -EIO;	/* short without an error to tell */
	privs_keep_end(&pk);
	close_tmp(tmp);
	if (n >= 0) {
		fuse_reply_write(req, (size_t)n);
		return;
	}
failed:
	/* the reply ends the writeback that keeps the kernel's inode, which
	 * may then be forgotten: the node is held from here, and marked
	 * before it, as a lookup after it must find the mark */
	if (fi->writepage) {
		held = node_get(node_from_id(ino));
		node_flag_set(held, NODE_WB_FAILED);
	}
	fuse_reply_err(req, (int)-n);
	/* The failed pages stay in the kernel's cache, clean: readers saw
	 * bytes the upper never got until the kernel dropped the file, and
	 * a later write into such a page wrote them after all. Dropped, they
	 * are read again from the real file. */
	if (held) {
		test_pause("write_failed", "");
		inval_failed_write_later(held, off, (off_t)size);
		node_put(held);
	}
}

void lfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fhandle *fh = fh_of(fi);

	if (!fh) {	/* created with noopen before the kernel knew it */
		fuse_reply_err(req, 0);
		return;
	}
	fh_free(fh);
	fuse_reply_err(req, 0);
}
