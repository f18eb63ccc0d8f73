/* The data of a copy-up: a lower file's bytes into its staged copy,
 * extents shared where the upper's file system can, holes kept. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs.h"

/* Copy the byte range [off, end) with copy_file_range, falling back to a
 * plain read/write loop where the kernel cannot do it in place (the
 * layers on two file systems). Its buffer lives as long as the call: a
 * thread's own would be lost when libfuse ends an idle thread. *DONE is
 * where the copy ended (before END if the file shrank meanwhile). */
static int copy_range(int in, int out, off_t off, off_t end, off_t *done)
{
	char *buf = NULL;
	bool plain = false;
	int err = 0;

	while (off < end) {
		size_t chunk = (size_t)(end - off) > (1 << 30) ? (1 << 30) : (size_t)(end - off);
		ssize_t n;

		if (!plain) {
			off_t o1 = off, o2 = off;
			n = copy_file_range(in, &o1, out, &o2, chunk, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
				      errno == EINVAL || errno == EOPNOTSUPP)) {
				plain = true;
				continue;
			}
		} else {
			if (!buf)
				buf = xmalloc(1 << 20);
			if (chunk > (1 << 20))
				chunk = 1 << 20;
			n = pread(in, buf, chunk, off);
			for (ssize_t w = 0; n > 0 && w < n;) {
				ssize_t k = pwrite(out, buf + w, (size_t)(n - w), off + w);

				if (k < 0) {
					err = -errno;
					goto out;
				}
				w += k;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0)
			break;	/* file shrank under us; size is fixed below */
		off += n;
	}
out:
	*done = off;
	free(buf);
	return err;
}

/* The upper's file system shares no extents (FICLONE said so once): ext4
 * among others. Its answer does not change while the mount lives. */
static bool no_reflink;

/* Copy file data, keeping holes: share extents where the filesystem can
 * (reflink), else copy only the data segments. A file of one block at
 * most (st_blksize is the block size where it is 4 KiB or less) has no
 * hole to keep unless it has no block at all (or keeps its data in the
 * inode), so it is copied whole without asking where its data lies; the
 * size is set only where the copy stopped short of it (a hole at the
 * end, or a file that shrank meanwhile). */
int copy_data(int in, int out, const struct stat *st)
{
	off_t size = st->st_size, off = 0, done = 0;
	int err;

	if (size == 0)
		return 0;
	if (!__atomic_load_n(&no_reflink, __ATOMIC_RELAXED)) {
		if (ioctl(out, FICLONE, in) == 0)
			return 0;
		if (errno == EOPNOTSUPP || errno == ENOTTY)
			__atomic_store_n(&no_reflink, true, __ATOMIC_RELAXED);
	}
	if (st->st_blocks > 0 && size <= st->st_blksize && st->st_blksize <= 4096) {
		err = copy_range(in, out, 0, size, &done);
		if (err)
			return err;
		off = size;
	}
	while (off < size) {
		off_t data = lseek(in, off, SEEK_DATA);
		off_t hole;

		if (data < 0) {
			if (errno == ENXIO)
				break;	/* only a hole is left */
			/* no SEEK_DATA support: copy everything */
			err = copy_range(in, out, off, size, &done);
			if (err)
				return err;
			break;
		}
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = size;
		err = copy_range(in, out, data, hole, &done);
		if (err)
			return err;
		off = hole;
	}
	if (done != size && ftruncate(out, size) < 0)
		return -errno;
	return 0;
}
