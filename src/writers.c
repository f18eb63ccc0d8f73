/* Handles open for writing, per node.
 *
 * Without the writeback cache, a SETATTR that sets nothing means one of
 * two things: a chown(2) to -1:-1, or the kernel's order to clear set-id
 * bits (and a file capability) before a write or a fallocate, which for
 * a file that passes through comes before a non-owner's first write. A
 * non-owner's chown of a set-id file needs CAP_FOWNER, the order does
 * not, and nothing in the request tells them apart (attr.c). The order
 * comes only while a handle has the file open for writing (writes and
 * fallocates go through one), so without one it is the chown. Counted
 * from the open's reply to its RELEASE. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "layerfs.h"

#define BUCKETS 1024

struct wcount {
	const struct node *n;
	unsigned count;
	struct wcount *next;
};

static struct wcount *table[BUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct wcount **slot(const struct node *n)
{
	struct wcount **pp = &table[((uintptr_t)n >> 4) % BUCKETS];

	while (*pp && (*pp)->n != n)
		pp = &(*pp)->next;
	return pp;
}

/* Only attr.c's question needs the count, and only without the writeback
 * cache and with open requests (both settled in lfs_init(), before any
 * open): elsewhere an open pays for no lock. */
static bool counted(int flags)
{
	return !fs.writeback && !fs.noopen && (flags & O_ACCMODE) != O_RDONLY;
}

/* Add DELTA to N's count of handles open for writing. */
static void count(const struct node *n, int delta)
{
	struct wcount **pp, *e;

	pthread_mutex_lock(&lock);
	pp = slot(n);
	if (!*pp && delta > 0) {
		e = xcalloc(1, sizeof(*e));
		e->n = n;
		*pp = e;
	}
	e = *pp;
	if (e) {
		e->count += delta;
		if (e->count == 0) {
			*pp = e->next;
			free(e);
		}
	}
	pthread_mutex_unlock(&lock);
}

/* A handle of N opened with FLAGS is about to be answered. */
void writers_opened(const struct node *n, int flags)
{
	if (counted(flags))
		count(n, 1);
}

/* ... and released (or never taken by the kernel). */
void writers_closed(const struct node *n, int flags)
{
	if (counted(flags))
		count(n, -1);
}

/* May a handle have N open for writing? Where handles are not counted,
 * it may. */
bool writers_any(const struct node *n)
{
	bool any;

	if (!counted(O_WRONLY))
		return true;
	pthread_mutex_lock(&lock);
	any = *slot(n) != NULL;
	pthread_mutex_unlock(&lock);
	return any;
}
