/* FUSE passthrough: reads, writes and mmap of a file of the upper layer go
 * from the kernel straight to the real file, without a request to us
 * (Linux 6.9 and later). Registering a real file with the kernel needs
 * CAP_SYS_ADMIN in the initial user namespace, so only a root daemon
 * passes through; the kernel then refuses its writeback cache, and
 * rootless daemons keep that instead (ops.c). libfuse 3.14 knows nothing
 * of passthrough: session_io.c adds it to the INIT reply and the backing
 * file's id to the open replies.
 *
 * The kernel keeps one mode per inode. While a file is open through its
 * page cache, no open of it may pass through; while one passes through,
 * every open of it must, with the same backing file. Lower files always
 * go through the page cache: a copy-up would change the real file under
 * an open that passed through to the lower one. This table counts both
 * kinds of opens per node. Pages that a cached open left in the page
 * cache are stale once writes passed through, so the next cached open of
 * such a node drops them (no keep_cache). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Kept from the first open of a node that passed through until the node
 * dies (pt_forget), to know that its page cache may be stale. */
struct popen {
	struct node *n;
	int backing;		/* registered id, 0 for none */
	unsigned pt;		/* opens passing through */
	unsigned cached;	/* opens through the page cache */
	bool pt_used;		/* passed through since the last cached open */
	struct popen *next;
};

#define PT_BUCKETS 4096
static struct popen *table[PT_BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct popen **slot(struct node *n)
{
	struct popen **pp = &table[((uintptr_t)n >> 4) % PT_BUCKETS];

	while (*pp && (*pp)->n != n)
		pp = &(*pp)->next;
	return pp;
}

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

int pt_open(struct node *n, int fd, bool *keep_cache)
{
	struct popen **pp, *e;

	*keep_cache = true;
	if (!fs.passthrough || !S_ISREG(n->type))
		return 0;
	pthread_mutex_lock(&table_lock);
	pp = slot(n);
	if (!*pp) {
		e = xcalloc(1, sizeof(*e));
		e->n = n;
		*pp = e;
	}
	e = *pp;
	if (node_in_upper(n) && e->cached == 0) {
		if (!e->backing) {
			struct fuse_backing_map_v1 m = { .fd = fd };
			int id = ioctl(fuse_session_fd(fs.se), DEV_IOC_BACKING_OPEN, &m);

			if (id > 0)
				e->backing = id;
			else if (fs.cfg->debug)
				lfs_log("no passthrough for an open: %s", strerror(errno));
		}
		if (e->backing) {
			e->pt++;
			e->pt_used = true;
			pthread_mutex_unlock(&table_lock);
			return e->backing;
		}
	}
	e->cached++;
	*keep_cache = !e->pt_used;
	e->pt_used = false;
	pthread_mutex_unlock(&table_lock);
	return 0;
}

void pt_release(struct node *n, int backing)
{
	struct popen **pp, *e;

	if (!fs.passthrough || !S_ISREG(n->type))
		return;
	pthread_mutex_lock(&table_lock);
	pp = slot(n);
	e = *pp;
	if (!e) {
		pthread_mutex_unlock(&table_lock);
		return;
	}
	if (backing) {
		if (--e->pt == 0) {
			uint32_t id = (uint32_t)e->backing;

			ioctl(fuse_session_fd(fs.se), DEV_IOC_BACKING_CLOSE, &id);
			e->backing = 0;
		}
	} else {
		e->cached--;
	}
	if (!e->pt && !e->cached && !e->pt_used) {
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&table_lock);
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

/* N dies: nothing of it can be open any more. */
void pt_forget(struct node *n)
{
	struct popen **pp, *e;

	if (!fs.passthrough)
		return;
	pthread_mutex_lock(&table_lock);
	pp = slot(n);
	e = *pp;
	if (e) {
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&table_lock);
}
