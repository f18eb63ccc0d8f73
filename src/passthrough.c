/* FUSE passthrough: reads, writes and mmap of a file of the upper layer go
 * from the kernel straight to the real file, without a request to us
 * (Linux 6.9 and later). Registering a real file with the kernel needs
 * CAP_SYS_ADMIN in the initial user namespace, so only a root daemon
 * passes through; the kernel then refuses its writeback cache, and
 * rootless daemons keep that instead (ops.c). libfuse 3.14 knows nothing
 * of passthrough: session_io.c adds it to the INIT reply and the backing
 * file's id to the open replies.
 *
 * Which opens pass through, and with which backing file, is kept per
 * node in opens.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "layerfs.h"

struct fuse_backing_map_v1 {	/* <linux/fuse.h> of Linux 6.9 */
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define DEV_IOC_BACKING_OPEN _IOW(229, 1, struct fuse_backing_map_v1)
#define DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* Is the daemon in the initial user namespace (where CAP_SYS_ADMIN lets
 * it register backing files)? That namespace maps every id to itself. */
bool initial_userns(void)
{
	FILE *f = fopen("/proc/self/uid_map", "re");
	unsigned long a, b, c;
	int n;

	if (!f)
		return false;
	n = fscanf(f, "%lu %lu %lu", &a, &b, &c);
	fclose(f);
	return n == 3 && a == 0 && b == 0 && c == 4294967295ul;
}

/* Can the upper layer serve as backing files? The kernel takes none from
 * a stacked file system (overlayfs, FUSE) below a passthrough mount. */
static bool unstacked(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	return sf.f_type != 0x794c7630 /* overlayfs */ &&
	       sf.f_type != 0x65735546 /* FUSE */ &&
	       sf.f_type != 0xf15f /* ecryptfs */;
}

/* May a daemon whose upper layer is on the file system of FD pass file
 * data through, if the kernel offers it? */
bool passthrough_possible(int fd)
{
	/* a passed-through read sets the upper's atime by the upper's rules,
	 * since the kernel opens the backing file with the caller's flags:
	 * with noatime, only if passthrough=1 was asked for */
	if (config_noatime(fs.cfg) && !fs.cfg->passthrough_set)
		return false;
	return fs.cfg->passthrough && geteuid() == 0 && initial_userns() &&
	       unstacked(fd);
}

/* Register FD with the kernel as a backing file: its id, or 0 if the
 * kernel refused (the open then goes through the page cache). */
int pt_register(int fd)
{
	struct fuse_backing_map_v1 m = { .fd = fd };
	int id = ioctl(fuse_session_fd(fs.se), DEV_IOC_BACKING_OPEN, &m);

	if (id > 0)
		return id;
	if (fs.cfg->debug)
		lfs_log("no passthrough for an open: %s", strerror(errno));
	return 0;
}

/* The last open passing through with backing file ID has gone. */
void pt_unregister(int id)
{
	uint32_t u = (uint32_t)id;

	ioctl(fuse_session_fd(fs.se), DEV_IOC_BACKING_CLOSE, &u);
}

/* An open of N with FLAGS got BACKING: if it may map the real file for
 * writing (shared, read-write), stores through the mapping change the
 * file's times and blocks behind the kernel's copy of its attributes,
 * which nothing would tell it of (the kernel's overlay asks the real file
 * at every stat). Mark N (NODE_MAPPED: its attributes are given with no
 * time to keep them from now on); true if this open marked it, and the
 * kernel's copy taken before must then go. */
bool pt_mapped(struct node *n, int backing, int flags)
{
	if (!backing || (flags & O_ACCMODE) != O_RDWR || node_has(n, NODE_MAPPED))
		return false;
	node_flag_set(n, NODE_MAPPED);
	return true;
}
