/* What libfuse 3.14 does not pass on: FUSE_HANDLE_KILLPRIV_V2,
 * FUSE_PASSTHROUGH (Linux 5.11 and 6.9), FUSE_TMPFILE (6.1) and the
 * extended SETXATTR arguments (5.16), whose one flag asks to clear the
 * set-group-ID bit with an ACL.
 *
 * Without the first the kernel asks us for security.capability before
 * every write(2) to a file (a round trip each), and reads the mode back
 * before a chown or truncate to clear set-id bits itself. With it, the
 * kernel leaves that to the server and marks the requests that must clear
 * the bits: FUSE_WRITE_KILL_SUIDGID, FATTR_KILL_SUIDGID,
 * FUSE_OPEN_KILL_SUIDGID. The capability xattr needs nothing from us: the
 * real file system drops it when the daemon writes, truncates or chowns.
 * The second lets an open reply name a backing file (passthrough.c).
 * The third is an open(O_TMPFILE): its arguments and reply are those of
 * a CREATE, so it reaches lfs_create() as one, marked (tmpfile.c).
 * FUSE_STATX (6.6), which the kernel sends only for a statx(2) that asks
 * for the birth time, starts with the arguments of a GETATTR: it reaches
 * lfs_getattr() as one, marked, and the attributes it answers are
 * rewritten into a statx reply with the real object's birth time. The
 * kernel caches it with the attributes, and invalidations mark only the
 * basic fields stale: after a copy-up, a statx asking for the birth time
 * alone may show the lower one until the attributes time out.
 *
 * libfuse 3.14 offers neither in its INIT reply, shows us none of those
 * request flags and has no field for a backing id, so the session reads
 * and writes /dev/fuse through the hooks below. They note the flags of
 * each request as it is read (the thread that reads a request also
 * handles it and sends its reply), and patch the INIT reply and the open
 * replies that passthrough.c asked for.
 *
 * They also tell attrfresh.c which requests answer with attributes and
 * when each reply went out, and send its notifications after the reply.
 *
 * With spin=1 the read itself is reader.c's: the threads take turns.
 *
 * No splice_receive hook: a request that arrived through a pipe could not
 * be looked at here, so requests are read into memory (one read(2) where
 * the spliced path takes two). Replies may still splice file data. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "stack.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

/* Linux 6.9's additions, absent from older headers */
#define K_FUSE_PASSTHROUGH	(1ull << 37)
#define K_FUSE_NO_EXPORT	(1ull << 38)	/* FUSE_NO_EXPORT_SUPPORT, 6.8 */
#define K_FOPEN_PASSTHROUGH	(1u << 7)
#define K_FUSE_INIT_EXT		(1u << 30)
#define INIT_OUT_FLAGS2		32	/* byte offsets in fuse_init_out */
#define INIT_OUT_STACK_DEPTH	36
#define OPEN_OUT_FLAGS		8	/* and in fuse_open_out */
#define OPEN_OUT_BACKING_ID	12
#define K_FUSE_TMPFILE		51	/* opcodes */
#define K_FUSE_STATX		52
#define K_STATX_BASIC_STATS	0x7ffu
#define K_STATX_BTIME		0x800u

/* FUSE_STATX's reply (protocol 7.39) */
struct k_sx_time {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};

struct k_statx_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t flags;
	uint64_t spare[2];
	struct {
		uint32_t mask;
		uint32_t blksize;
		uint64_t attributes;
		uint32_t nlink;
		uint32_t uid;
		uint32_t gid;
		uint16_t mode;
		uint16_t spare0;
		uint64_t ino;
		uint64_t size;
		uint64_t blocks;
		uint64_t attributes_mask;
		struct k_sx_time atime, btime, ctime, mtime;
		uint32_t rdev_major, rdev_minor;
		uint32_t dev_major, dev_minor;
		uint64_t spare2[14];
	} stat;
};

/* What a thread notes about the request it read, for its handler and
 * its reply. The reply is the write with the request's unique: before
 * the handler runs, libfuse may answer a queued INTERRUPT from the same
 * thread. */
static __thread uint64_t tl_unique;	/* the request being served */
static __thread bool tl_kill;		/* this request must clear set-id bits */
static __thread bool tl_init;		/* this request is the INIT */
static __thread bool tl_acl_kill_sgid;	/* this ACL set clears set-group-ID */
static __thread int tl_backing;		/* passthrough id for the open reply */
static __thread bool tl_tmpfile;	/* this CREATE is an O_TMPFILE open */
static __thread bool tl_statx;		/* this GETATTR is a FUSE_STATX */
static __thread bool tl_btime_set;	/* and the birth time for its reply */
static __thread struct k_sx_time tl_btime;
static uint64_t kernel_flags;		/* what the kernel's INIT offered */
static bool want_killpriv;		/* set by lfs_init() */
static bool want_parallel_dirops;	/* set by lfs_init() */
static bool want_passthrough;
static bool setxattr_ext;		/* the INIT reply took FUSE_SETXATTR_EXT */

bool req_kill_suidgid(void)
{
	return tl_kill;
}

bool req_acl_kill_sgid(void)
{
	return tl_acl_kill_sgid;
}

bool req_tmpfile(void)
{
	return tl_tmpfile;
}

bool req_statx(void)
{
	return tl_statx;
}

/* The birth time for the statx reply of this thread's GETATTR. */
void session_reply_btime(int64_t sec, uint32_t nsec)
{
	tl_btime.tv_sec = sec;
	tl_btime.tv_nsec = nsec;
	tl_btime_set = true;
}

void session_want_killpriv_v2(void)
{
	want_killpriv = true;
}

/* libfuse 3.14 turns FUSE_CAP_PARALLEL_DIROPS on by default but never
 * puts FUSE_PARALLEL_DIROPS in the INIT reply: the kernel then
 * takes a directory's lock around every LOOKUP and READDIR in it, so one
 * lookup waiting for a slow layer holds up every other in that directory,
 * and walkers of one directory queue behind each other. */
void session_want_parallel_dirops(void)
{
	want_parallel_dirops = true;
}

bool session_kernel_passthrough(void)
{
	return kernel_flags & K_FUSE_PASSTHROUGH;
}

void session_want_passthrough(void)
{
	want_passthrough = true;
}

/* The next open or create reply of this thread passes through to BACKING. */
void session_reply_backing(int backing)
{
	tl_backing = backing;
}

/* Note what this request carries that libfuse does not pass on; returns
 * its length, shortened where its arguments are made those libfuse
 * knows. */
static size_t note_request(void *buf, size_t len)
{
	struct fuse_in_header *h = buf;
	char *arg = (char *)(h + 1);
	size_t alen = len - sizeof(*h);

	tl_unique = h->unique;

	switch (h->opcode) {
	case FUSE_INIT:
		if (alen >= offsetof(struct fuse_init_in, flags) + sizeof(uint32_t)) {
			const struct fuse_init_in *in = (const void *)arg;

			kernel_flags = in->flags;
			if ((in->flags & K_FUSE_INIT_EXT) &&
			    alen >= offsetof(struct fuse_init_in, flags2) + sizeof(uint32_t))
				kernel_flags |= (uint64_t)in->flags2 << 32;
			tl_init = true;
		}
		break;
	case FUSE_WRITE:
		if (alen >= sizeof(struct fuse_write_in))
			tl_kill = ((const struct fuse_write_in *)arg)->write_flags &
				  FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_SETATTR:
		if (alen >= sizeof(struct fuse_setattr_in))
			tl_kill = ((const struct fuse_setattr_in *)arg)->valid &
				  FATTR_KILL_SUIDGID;
		break;
	case FUSE_OPEN:
		if (alen >= sizeof(struct fuse_open_in))
			tl_kill = ((const struct fuse_open_in *)arg)->open_flags &
				  FUSE_OPEN_KILL_SUIDGID;
		break;
	case FUSE_SETXATTR:
		/* the extended arguments, as the older ones libfuse reads */
		if (setxattr_ext && alen >= sizeof(struct fuse_setxattr_in)) {
			size_t cut = sizeof(struct fuse_setxattr_in) -
				     FUSE_COMPAT_SETXATTR_IN_SIZE;

			tl_acl_kill_sgid = ((const struct fuse_setxattr_in *)arg)->setxattr_flags &
					   FUSE_SETXATTR_ACL_KILL_SGID;
			memmove(arg + FUSE_COMPAT_SETXATTR_IN_SIZE,
				arg + sizeof(struct fuse_setxattr_in),
				alen - sizeof(struct fuse_setxattr_in));
			h->len -= (uint32_t)cut;
			return len - cut;
		}
		break;
	case K_FUSE_TMPFILE:
		h->opcode = FUSE_CREATE;
		tl_tmpfile = true;
		break;
	case K_FUSE_STATX:
		/* fuse_statx_in begins as fuse_getattr_in does */
		if (alen >= sizeof(struct fuse_getattr_in)) {
			h->opcode = FUSE_GETATTR;
			tl_statx = true;
		}
		break;
	}
	return len;
}

/* Threads serving a request: they read one and have not read again. */
static unsigned serving;
static __thread bool tl_serving;

unsigned session_serving(void)
{
	return __atomic_load_n(&serving, __ATOMIC_ACQUIRE);
}

/* Threads at the device: from just before a read of it (reader.c's
 * turn, or the read itself) until that read fails, or, when it gave a
 * request, until the thread comes back for the next one. Every use of a
 * descriptor for a request lies in between. The thread that closes every
 * descriptor at the end (conn_ended()) is the last to leave, and sets
 * USERS_CLOSED as it does: a thread that comes to the device after that
 * waits for the exit instead of reading a closed descriptor, or one whose
 * number an open in between gave to another file. */
#define USERS_CLOSED	(1u << 31)
static unsigned users;
static __thread bool tl_user;

void session_read_begin(void)
{
	unsigned u = __atomic_load_n(&users, __ATOMIC_ACQUIRE);

	do {
		if (u & USERS_CLOSED) {
			/* the closing thread calls _exit() next */
			for (;;)
				pause();
		}
	} while (!__atomic_compare_exchange_n(&users, &u, u + 1, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	tl_user = true;
}

/* This thread leaves the device. With CLOSE, if it is the last one there,
 * none may come any more: returns true, and the caller closes. */
static bool session_read_end(bool close)
{
	unsigned u, v;

	if (!tl_user)
		return false;
	tl_user = false;
	u = __atomic_load_n(&users, __ATOMIC_ACQUIRE);
	do {
		v = close && u == 1 ? USERS_CLOSED : u - 1;
	} while (!__atomic_compare_exchange_n(&users, &u, v, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return v == USERS_CLOSED;
}

/* The kernel ended the connection: the file system was unmounted, or the
 * connection aborted. umount(8) has returned, and the caller's next step
 * may be to unmount the file system that holds the upper or work
 * directory, which our open files keep busy. The kernel's overlayfs lets
 * go of its layers within umount(2). The exit libfuse would do next
 * (stopping and joining every worker thread) takes milliseconds, so when
 * no other thread is at the device (reading, or serving a request it
 * read), the daemon lets go at once: nothing is left to write, the layers
 * are as a crash would leave them (whole), and libfuse finds nothing to
 * unmount after a connection the kernel has ended. The check that none
 * is there also keeps any from coming (session_read_begin()): a thread
 * that read the device between the close and the _exit() got EBADF
 * ("fuse: reading device: Bad file descriptor"). The threads that write
 * notifications of their own are done first. An abort with requests under
 * way (`umount -f`, the connection's abort file) takes the usual way, so
 * they finish first. Returns if it is not the last one.
 *
 * libfuse stops its other workers with pthread_cancel() once the first
 * leaves its loop, cancellation points being enabled while they read: a
 * worker cancelled in its read, or just after the read returned ENODEV
 * (glibc acts on the cancel at the system call's return), would stay
 * counted at the device for ever, and no thread would be the last. So a
 * worker cancelled there leaves too (read_cancelled()), and the last one
 * closes; the one that closes cannot be cancelled on its way. */
static bool conn_gone;

static void conn_ended(void)
{
	int cs;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
	__atomic_store_n(&conn_gone, true, __ATOMIC_RELEASE);
	if (!session_read_end(true)) {
		pthread_setcancelstate(cs, NULL);
		return;
	}
	mountwatch_stop();
	fdrelief_stop();
	inval_entries_wait();
	work_lock_mark_drop();
	close_range(3, ~0u, 0);
#ifdef __SANITIZE_ADDRESS__
	/* _exit() skips LeakSanitizer's check at exit: an --enable-sanitizers
	 * build reports leaks at an unmount only this way */
	__lsan_do_leak_check();
#endif
	_exit(0);
}

/* A worker cancelled while at the device (conn_ended()). */
static void read_cancelled(void *arg)
{
	(void)arg;
	if (__atomic_load_n(&conn_gone, __ATOMIC_ACQUIRE))
		conn_ended();
	else
		session_read_end(false);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n;
	int e;

	(void)userdata;
	/* what the last request left undone (it sent no reply) */
	attrfresh_replied();
	if (tl_serving) {
		tl_serving = false;
		__atomic_sub_fetch(&serving, 1, __ATOMIC_RELEASE);
	}
	session_read_end(false);
	pthread_cleanup_push(read_cancelled, NULL);
	if (fs.cfg->spin) {
		n = reader_read(fd, buf, len);
	} else {
		session_read_begin();
		n = read(fd, buf, len);
	}
	pthread_cleanup_pop(0);
	if (n > 0) {
		tl_serving = true;
		__atomic_add_fetch(&serving, 1, __ATOMIC_ACQ_REL);
	} else {
		/* libfuse reads the read's errno */
		e = errno;
		if (n < 0 && e == ENODEV)
			conn_ended();
		else
			session_read_end(false);
		errno = e;
	}
	tl_unique = 0;
	tl_kill = false;
	tl_init = false;
	tl_tmpfile = false;
	tl_backing = 0;
	tl_statx = false;
	tl_btime_set = false;
	tl_acl_kill_sgid = false;
	if (n >= (ssize_t)sizeof(struct fuse_in_header)) {
		const struct fuse_in_header *in = buf;

		n = (ssize_t)note_request(buf, (size_t)n);
		attrfresh_request(in->opcode, in->pid);
		if (!request_unawaited(in->opcode))
			idlepoll_note();
	}
	return n;
}

/* Put passthrough into an open reply: a fuse_open_out alone, or after the
 * fuse_entry_out of a create. */
static void patch_open_reply(struct iovec *iov, int count)
{
	char *out;

	if (count < 2)
		return;
	if (iov[1].iov_len == sizeof(struct fuse_open_out))
		out = iov[1].iov_base;
	else if (iov[1].iov_len == sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out))
		out = (char *)iov[1].iov_base + sizeof(struct fuse_entry_out);
	else
		return;
	*(uint32_t *)(out + OPEN_OUT_FLAGS) |= K_FOPEN_PASSTHROUGH;
	*(int32_t *)(out + OPEN_OUT_BACKING_ID) = tl_backing;
}

/* Offer what lfs_init() wanted and the kernel offered in the INIT reply. */
static void patch_init_reply(struct iovec *iov, int count)
{
	struct fuse_out_header *out = iov[0].iov_base;
	struct fuse_init_out *init;
	char *b;

	if (count < 2 || iov[0].iov_len < sizeof(*out) || out->error != 0 ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) + sizeof(uint32_t))
		return;
	init = iov[1].iov_base;
	b = iov[1].iov_base;
	if (want_passthrough && (kernel_flags & K_FUSE_PASSTHROUGH) &&
	    iov[1].iov_len >= INIT_OUT_STACK_DEPTH + sizeof(uint32_t)) {
		init->flags |= K_FUSE_INIT_EXT;
		*(uint32_t *)(b + INIT_OUT_FLAGS2) |= (uint32_t)(K_FUSE_PASSTHROUGH >> 32);
		/* backing files on a plain file system only; mounts stacked
		 * on this one stay possible */
		*(uint32_t *)(b + INIT_OUT_STACK_DEPTH) = 1;
		if (fs.cfg->debug)
			lfs_log("file data of the upper passes through (FUSE passthrough)");
	}
	/* Nodes are forgotten with the kernel's inodes, so a file handle
	 * (name_to_handle_at) could not be opened once its inode was
	 * evicted: say so, and the kernel refuses to make one (EOPNOTSUPP),
	 * as its overlay does without nfs_export. Handles for fanotify's
	 * file ids (AT_HANDLE_FID) are still made. */
	if ((kernel_flags & K_FUSE_NO_EXPORT) &&
	    iov[1].iov_len >= INIT_OUT_FLAGS2 + sizeof(uint32_t)) {
		init->flags |= K_FUSE_INIT_EXT;
		*(uint32_t *)(b + INIT_OUT_FLAGS2) |= (uint32_t)(K_FUSE_NO_EXPORT >> 32);
	}
	if (want_parallel_dirops && (kernel_flags & FUSE_PARALLEL_DIROPS))
		init->flags |= FUSE_PARALLEL_DIROPS;
	/* set-group-ID cleared by an ACL set (libfuse 3.14 knows only the
	 * older arguments: note_request() turns them into those) */
	if ((init->flags & FUSE_POSIX_ACL) && (kernel_flags & FUSE_SETXATTR_EXT)) {
		init->flags |= FUSE_SETXATTR_EXT;
		setxattr_ext = true;
	}
	if (want_killpriv && (kernel_flags & FUSE_HANDLE_KILLPRIV_V2)) {
		init->flags |= FUSE_HANDLE_KILLPRIV_V2;
		init->flags &= ~(uint32_t)FUSE_HANDLE_KILLPRIV;
		if (fs.cfg->debug)
			lfs_log("set-id bits are cleared by the daemon (FUSE_HANDLE_KILLPRIV_V2)");
	}
}

/* The attributes of a GETATTR reply, as the statx reply the kernel asked
 * for: the same fields, the birth time where the real object has one. */
static ssize_t write_statx_reply(int fd, struct iovec *iov)
{
	const struct fuse_attr_out *in = iov[1].iov_base;
	const struct fuse_attr *a = &in->attr;
	struct fuse_out_header out = *(struct fuse_out_header *)iov[0].iov_base;
	struct k_statx_out sx;
	struct iovec v[2];

	memset(&sx, 0, sizeof(sx));
	sx.attr_valid = in->attr_valid;
	sx.attr_valid_nsec = in->attr_valid_nsec;
	sx.stat.mask = K_STATX_BASIC_STATS | (tl_btime_set ? K_STATX_BTIME : 0);
	sx.stat.blksize = a->blksize;
	sx.stat.nlink = a->nlink;
	sx.stat.uid = a->uid;
	sx.stat.gid = a->gid;
	sx.stat.mode = (uint16_t)a->mode;
	sx.stat.ino = a->ino;
	sx.stat.size = a->size;
	sx.stat.blocks = a->blocks;
	sx.stat.atime.tv_sec = (int64_t)a->atime;
	sx.stat.atime.tv_nsec = a->atimensec;
	sx.stat.mtime.tv_sec = (int64_t)a->mtime;
	sx.stat.mtime.tv_nsec = a->mtimensec;
	sx.stat.ctime.tv_sec = (int64_t)a->ctime;
	sx.stat.ctime.tv_nsec = a->ctimensec;
	if (tl_btime_set)
		sx.stat.btime = tl_btime;
	/* the 32-bit device number of fuse_attr, as the kernel decodes it */
	sx.stat.rdev_major = (a->rdev & 0xfff00u) >> 8;
	sx.stat.rdev_minor = (a->rdev & 0xffu) | ((a->rdev >> 12) & 0xfff00u);
	out.len = sizeof(out) + sizeof(sx);
	v[0].iov_base = &out;
	v[0].iov_len = sizeof(out);
	v[1].iov_base = &sx;
	v[1].iov_len = sizeof(sx);
	return writev(fd, v, 2) < 0 ? -1 : (ssize_t)(iov[0].iov_len + iov[1].iov_len);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	ssize_t n;
	int e;

	(void)userdata;
	if (!tl_unique || out->unique != tl_unique)
		return writev(fd, iov, count);
	/* the reply of the request this thread read (io_read() forgets the
	 * notes at the next read) */
	if (tl_backing)
		patch_open_reply(iov, count);
	if (tl_init)
		patch_init_reply(iov, count);
	if (tl_statx && count == 2 && iov[1].iov_len == sizeof(struct fuse_attr_out))
		n = write_statx_reply(fd, iov);
	else
		n = writev(fd, iov, count);
	e = errno;
	attrfresh_replied();
	errno = e;
	return n;
}

static ssize_t io_splice_send(int fdin, off_t *offin, int fdout, off_t *offout,
			      size_t len, unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int session_io_attach(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
		.splice_send = io_splice_send,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
