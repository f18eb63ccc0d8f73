/* Per node, its open handles: how many pass through to the real file and
 * the backing file they share, how many go through the page cache, and
 * how many may write. Counted from the open's reply (file.c,
 * reply_opened()) to its RELEASE.
 *
 * Passthrough (passthrough.c): the kernel keeps one mode per inode. While
 * a file is open through its page cache, no open of it may pass through;
 * while one passes through, every open of it must, with the same backing
 * file (direct_io opens too). Lower files always go through the page
 * cache: a copy-up would change the real file under an open that passed
 * through to the lower one. So do append-only files, whose opens for
 * writing go without passthrough (direct_io, file.c). Pages that a
 * cached open left in the page cache are stale once writes passed
 * through, so the next cached open of such a node drops them (no
 * keep_cache); the record stays from the first open that passed through
 * until the node dies (opens_forget()) to know that.
 *
 * Writers: without the writeback cache, a SETATTR that sets nothing means
 * one of two things: a chown(2) to -1:-1, or the kernel's order to clear
 * set-id bits (and a file capability) before a write or a fallocate,
 * which for a file that passes through comes before a non-owner's first
 * write. A non-owner's chown of a set-id file needs CAP_FOWNER, the order
 * does not, and nothing in the request tells them apart (attr.c). The
 * order comes only while a handle has the file open for writing (writes
 * and fallocates go through one), so without one it is the chown. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "layerfs.h"

struct nopens {
	const struct node *n;
	int backing;		/* registered id, 0 for none */
	unsigned pt;		/* opens passing through */
	unsigned cached;	/* opens through the page cache */
	unsigned writers;	/* opens that may write (where counted) */
	bool pt_used;		/* passed through since the last cached open */
	struct nopens *next;
};

#define BUCKETS 4096
static struct nopens *table[BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct nopens **slot(const struct node *n)
{
	struct nopens **pp = &table[((uintptr_t)n >> 4) % BUCKETS];

	while (*pp && (*pp)->n != n)
		pp = &(*pp)->next;
	return pp;
}

/* Writers are counted for attr.c's question only, asked only without the
 * writeback cache and with open requests (both settled in lfs_init(),
 * before any open). */
static bool writers_counted(int flags)
{
	return !fs.writeback && !fs.noopen && (flags & O_ACCMODE) != O_RDONLY;
}

/* Does an open of N with FLAGS take part in N's passthrough mode? An
 * append-only file open for writing does not (see reply_opened()). */
static bool pt_mode(const struct node *n, bool append)
{
	return fs.passthrough && S_ISREG(n->type) && !append;
}

/* Drop *PP if nothing is left to know of it; table_lock held. */
static void put_locked(struct nopens **pp)
{
	struct nopens *e = *pp;

	if (e && !e->pt && !e->cached && !e->writers && !e->pt_used) {
		*pp = e->next;
		free(e);
	}
}

/* An open of N with FLAGS (FD its real file, UPPER if that is the upper
 * layer's; APPEND for an append-only file open for writing, which goes
 * without a page cache) is about to be answered: the backing id it passes
 * through with, or 0 to go through the page cache, and then *KEEP_CACHE
 * says whether the pages in the kernel's cache may stay. A lower file
 * opened just before a copy-up finished is never a backing file: every
 * open passing through would share it. */
int opens_opened(struct node *n, int fd, bool upper, int flags, bool append,
		 bool *keep_cache)
{
	bool pt = pt_mode(n, append), w = writers_counted(flags);
	struct nopens **pp, *e;
	int backing = 0;
	bool cached_only;

	*keep_cache = !append;
	if (!pt && !w)
		return 0;
	/* The other opens of an append-only file go through the page cache
	 * too: while one passed through, the kernel refused the open of an
	 * append (EIO), which does not. Not where one already passes
	 * through (the flag came after its open): the kernel would refuse
	 * this one. Asked before the lock: a marker is an xattr to read. */
	cached_only = pt && upper && node_has(n, NODE_PROTATTR) && prot_append_only(n);
	pthread_mutex_lock(&table_lock);
	pp = slot(n);
	if (!*pp) {
		e = xcalloc(1, sizeof(*e));
		e->n = n;
		*pp = e;
	}
	e = *pp;
	if (w)
		e->writers++;
	if (pt && upper && e->cached == 0 && (!cached_only || e->pt)) {
		if (!e->backing)
			e->backing = pt_register(fd);
		backing = e->backing;
	}
	if (backing) {
		e->pt++;
		e->pt_used = true;
	} else if (pt) {
		e->cached++;
		*keep_cache = !e->pt_used;
		e->pt_used = false;
	}
	pthread_mutex_unlock(&table_lock);
	return backing;
}

/* ... and released (or never taken by the kernel): BACKING as the open
 * got it. */
void opens_closed(struct node *n, int backing, int flags, bool append)
{
	bool pt = pt_mode(n, append), w = writers_counted(flags);
	struct nopens **pp, *e;

	if (!pt && !w)
		return;
	pthread_mutex_lock(&table_lock);
	pp = slot(n);
	e = *pp;
	if (e) {
		if (w)
			e->writers--;
		if (backing) {
			if (--e->pt == 0) {
				pt_unregister(e->backing);
				e->backing = 0;
			}
		} else if (pt) {
			e->cached--;
		}
		put_locked(pp);
	}
	pthread_mutex_unlock(&table_lock);
}

/* May a handle have N open for writing? Where handles are not counted,
 * it may. */
bool writers_any(const struct node *n)
{
	struct nopens *e;
	bool any;

	if (!writers_counted(O_WRONLY))
		return true;
	pthread_mutex_lock(&table_lock);
	e = *slot(n);
	any = e && e->writers;
	pthread_mutex_unlock(&table_lock);
	return any;
}

/* N dies: nothing of it can be open any more. */
void opens_forget(struct node *n)
{
	struct nopens **pp, *e;

	/* no open of this mount makes a record */
	if (!fs.passthrough && !writers_counted(O_WRONLY))
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
