/* Keeping the kernel's copy of a directory's attributes from going stale.
 *
 * The kernel takes an answer with attributes (GETATTR, LOOKUP, each entry
 * of a READDIRPLUS, SETATTR) unless the inode's attributes were replaced
 * since the request was sent. A change in a directory (an entry made,
 * removed or moved) only marks the directory's attributes stale
 * (fuse_dir_changed()); it does not count as a replacement. So an answer
 * read before the change and taken after it, when another thread asked
 * for the directory's attributes at about the same time, wins: the old
 * link count and times stay for the attribute timeout, a day. (A listing
 * held up while a subdirectory was made showed link count 2 where the
 * directory had 3, until the remount; tests/cache.bats.)
 *
 * FUSE_NOTIFY_INVAL_INODE does count as a replacement: an answer sent
 * before it and taken after it is dropped, and one taken before it is
 * marked stale by it. So after changing a directory the daemon sends one
 * for it when an answer with attributes may be on its way to another
 * thread: while one is being made, or when one went out less than
 * RECENT_MS ago to a thread other than the one that asked for the change
 * (a thread that asked for both took its answer before it asked for the
 * change: a single tar, cp or rm never needs one). The notification goes
 * out after the reply, so the caller does not wait for it. */
#include "config.h"

#include <linux/fuse.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "layerfs.h"

#define RECENT_MS	50	/* an answer this old has been taken */
#define PENDING_MAX	2	/* a rename changes two directories */

static unsigned making;		/* answers with attributes being made */
/* The thread the latest answer with attributes went to, when, and when
 * the latest went to any other (ms): under sent_lock */
static struct {
	uint32_t tid;
	uint64_t at, other_at;
} sent;
static pthread_mutex_t sent_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread bool tl_attrs;	/* this request answers with attributes */
static __thread uint32_t tl_tid;	/* the caller's thread (0: unknown) */
static __thread uint64_t tl_pending[PENDING_MAX];
static __thread int tl_npending;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A request was read (OPCODE, from thread TID of the caller). */
void attrfresh_request(uint32_t opcode, uint32_t tid)
{
	tl_tid = tid;
	tl_attrs = opcode == FUSE_GETATTR || opcode == FUSE_LOOKUP ||
		   opcode == FUSE_READDIRPLUS || opcode == FUSE_SETATTR;
	if (tl_attrs)
		__atomic_add_fetch(&making, 1, __ATOMIC_SEQ_CST);
}

/* The reply of this thread's request went out (or the next request is
 * read, if none did): note when an answer with attributes went, and send
 * the notifications this request's changes call for. */
void attrfresh_replied(void)
{
	int n = tl_npending;

	if (tl_attrs) {
		uint64_t now = now_ms();

		tl_attrs = false;
		pthread_mutex_lock(&sent_lock);
		if (sent.tid != tl_tid || !tl_tid) {
			if (sent.at > sent.other_at)
				sent.other_at = sent.at;
			sent.tid = tl_tid;
		}
		sent.at = now;
		pthread_mutex_unlock(&sent_lock);
		__atomic_sub_fetch(&making, 1, __ATOMIC_SEQ_CST);
	}
	tl_npending = 0;
	for (int i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(fs.se, tl_pending[i], -1, 0);
}

/* May an answer with attributes be on its way to a thread other than
 * this request's caller? */
static bool others_answered(void)
{
	uint64_t now;
	bool r;

	if (__atomic_load_n(&making, __ATOMIC_SEQ_CST) > 0)
		return true;
	now = now_ms();
	pthread_mutex_lock(&sent_lock);
	r = now - sent.other_at < RECENT_MS ||
	    ((sent.tid != tl_tid || !tl_tid) && now - sent.at < RECENT_MS);
	pthread_mutex_unlock(&sent_lock);
	return r;
}

/* The kernel keeps the listings of a directory that a stream read from
 * its start in the directory's page cache, and a later stream from the
 * start goes on filling a cache left unfinished (one that stopped before
 * the end) where it ended, whether or not the directory changed between:
 * the entries of the old part, the removed names among them, and the new
 * stream's rest then form one listing, served after a seekdir (a new
 * name with a cookie below the old part's end was missing, a removed one
 * came back; xfstests generic/637). A complete cache the kernel checks
 * against the directory's version only when a stream starts at offset
 * 0: a stream that starts with a seekdir (to an offset an older stream
 * gave) read a complete cache from before the change. So after a
 * listing went out (NODE_LISTSENT, set by every reply with entries:
 * readdir.c), the first change of the directory drops the pages of its
 * cache, before the change's reply; the kernel then lists the directory
 * from us until a stream reads it again. One notification per directory
 * listed and then changed: `rm -rf` sends one per directory. */
static bool drop_listing_cache(struct node *dir, uint64_t id)
{
	if (!node_has(dir, NODE_LISTSENT))
		return false;
	node_flag_clear(dir, NODE_LISTSENT);
	/* the attributes go with the pages */
	fuse_lowlevel_notify_inval_inode(fs.se, id, 0, 0);
	return true;
}

/* DIR was changed by this thread's request: a notification for it when
 * an answer with its old attributes may be on its way, or when the
 * kernel may hold part of its listing. */
void attrfresh_dir_changed(struct node *dir)
{
	uint64_t id = node_id(dir);

	if (!fs.se || drop_listing_cache(dir, id))
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!others_answered())
		return;
	for (int i = 0; i < tl_npending; i++)
		if (tl_pending[i] == id)
			return;
	if (tl_npending == PENDING_MAX)
		fuse_lowlevel_notify_inval_inode(fs.se, id, -1, 0);
	else
		tl_pending[tl_npending++] = id;
}
