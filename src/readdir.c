/* Merged directory listings: the union of a directory's layers, read
 * upper first, each name once, without whiteouts, the names they hide, or
 * the layers' internal entries.
 *
 * The kernel opens directories without asking us (zero-message opendir),
 * so READDIR carries no handle: an offset has to mean the same thing in
 * every listing of the directory, whatever changed in between. It is a
 * cookie made from the name (cookie.c), and a listing is served in cookie
 * order. A listing is cached while its stream lasts (see listing_get). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layerfs.h"
#include "listing.h"

/* A set of names seen so far in higher layers (shown or hidden). */
struct nameset {
	size_t cap, n;
	char **slot;
};

static bool nameset_add(struct nameset *ns, const char *name)
{
	size_t i;

	if ((ns->n + 1) * 2 > ns->cap) {
		struct nameset big = { ns->cap ? ns->cap * 2 : 64, 0, NULL };

		big.slot = xcalloc(big.cap, sizeof(char *));
		for (i = 0; i < ns->cap; i++) {
			if (ns->slot[i]) {
				size_t j = name_hash(ns->slot[i]) & (big.cap - 1);
				while (big.slot[j])
					j = (j + 1) & (big.cap - 1);
				big.slot[j] = ns->slot[i];
				big.n++;
			}
		}
		free(ns->slot);
		*ns = big;
	}
	i = name_hash(name) & (ns->cap - 1);
	while (ns->slot[i]) {
		if (!strcmp(ns->slot[i], name))
			return false;
		i = (i + 1) & (ns->cap - 1);
	}
	ns->slot[i] = xstrdup(name);
	ns->n++;
	return true;
}

static bool nameset_has(struct nameset *ns, const char *name)
{
	size_t i;

	if (!ns->cap)
		return false;
	i = name_hash(name) & (ns->cap - 1);
	while (ns->slot[i]) {
		if (!strcmp(ns->slot[i], name))
			return true;
		i = (i + 1) & (ns->cap - 1);
	}
	return false;
}

static void nameset_free(struct nameset *ns)
{
	for (size_t i = 0; i < ns->cap; i++)
		free(ns->slot[i]);
	free(ns->slot);
}

static void list_add(struct dentry_list *l, const char *name, ino_t ino,
		     unsigned char type, int layer)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	l->e[l->n].name = xstrdup(name);
	l->e[l->n].ino = ino;
	l->e[l->n].type = type;
	l->e[l->n].layer = layer;
	l->n++;
}

void dentry_list_free(struct dentry_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l->st);
	free(l);
}

size_t dentry_list_count(struct dentry_list *l)
{
	return l->n;
}

const char *dentry_list_name(struct dentry_list *l, size_t i)
{
	return l->e[i].name;
}

int dentry_list_layer(struct dentry_list *l, size_t i)
{
	return l->e[i].layer;
}

unsigned char dentry_list_type(struct dentry_list *l, size_t i)
{
	return l->e[i].type;
}

/* Read one layer's directory into the listing. getdents64 straight into
 * BUF (LISTBUF bytes): one call for most directories, and none of
 * opendir's extra system calls (a cold walk lists thousands of them). */
#define LISTBUF (64 * 1024)

static int list_layer(struct dentry_list *l, struct nameset *seen,
		      const struct lref *r, bool merged, bool impure, bool quiet,
		      char *buf)
{
	int fd = layer_openat(r->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			      (quiet || layer_wants_noatime(r->layer, true) ? O_NOATIME : 0));
	/* names ".wh.NAME" hides: in the layers below, not beside it (a
	 * lookup finds NAME in this layer first) */
	struct nameset hidden = { 0, 0, NULL };
	int err = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		long got = syscall(SYS_getdents64, fd, buf, LISTBUF);

		if (got < 0) {
			err = -errno;
			break;
		}
		if (got == 0)
			break;
		for (long off = 0; off < got;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			const char *name = de->d_name;
			unsigned char type = de->d_type;
			struct stat st;
			ino_t ino, own;

			off += de->d_reclen;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			if (name_is_internal(name)) {
				/* ".wh.NAME" hides NAME below; the opaque
				 * marker was handled at lookup */
				if (merged && strcmp(name, ".wh..wh..opq"))
					nameset_add(&hidden, name + 4);
				continue;
			}
			if (merged && nameset_has(seen, name))
				continue;
			if (type == DT_CHR || type == DT_UNKNOWN ||
			    (r->xwhiteouts && type == DT_REG)) {
				test_pause("list_entry", name);
				if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
					if (stat_is_whiteout(&st) ||
					    (r->xwhiteouts && is_xwhiteout(fd, name, &st))) {
						if (merged)
							nameset_add(seen, name);
						continue;
					}
					if (type == DT_UNKNOWN)
						type = IFTODT(st.st_mode);
				} else if (errno == ENOENT) {
					/* Gone since it was read: not an
					 * entry, and maybe a whiteout, so it
					 * still hides the name below. The tree
					 * copy of a rename purges the whiteouts
					 * of a directory it just made opaque
					 * while a listing of the new set reads
					 * it: a purged one counted as an entry,
					 * and rmdir failed with ENOTEMPTY. */
					if (merged)
						nameset_add(seen, name);
					continue;
				}
			}
			if (merged)
				nameset_add(seen, name);
			st.st_dev = fs.layers[r->layer].dev;
			st.st_ino = de->d_ino;
			own = ino_of(r->layer, &st);
			ino = ino_remap_get(st.st_dev, st.st_ino, own);
			/* a copy not looked up since the mount: its record */
			if (impure && ino == own &&
			    origin_read(fd, name, -1, st.st_ino, &ino))
				ino_remap_add(st.st_dev, st.st_ino, ino);
			list_add(l, name, ino, type, r->layer);
		}
	}
	close(fd);
	for (size_t i = 0; i < hidden.cap; i++)
		if (hidden.slot[i])
			nameset_add(seen, hidden.slot[i]);
	nameset_free(&hidden);
	return err;
}

/* DIR's entries from the layers of LS into L. */
static int list_set(struct node *dir, struct lset *ls, bool quiet,
		    struct dentry_list *l)
{
	struct nameset seen = { 0, 0, NULL };
	char *buf = xmalloc(LISTBUF);
	bool merged = ls->n > 1;
	int err = 0;

	list_add(l, ".", dir->ino, DT_DIR, 0);
	list_add(l, "..", dir->parent ? dir->parent->ino : dir->ino, DT_DIR, 0);
	for (int i = 0; i < ls->n; i++) {
		err = list_layer(l, &seen, &ls->r[i], merged,
				 ls->r[i].layer == 0 && node_has(dir, NODE_IMPURE), quiet,
				 buf);
		if (err)
			break;
	}
	free(buf);
	nameset_free(&seen);
	return err;
}

/* The test pause point "listing" (util.c), named by DIR's name. */
static void listing_pause(struct node *dir)
{
	struct node *parent;
	char *name;

	if (!test_pause_wanted("listing") || node_parent_name(dir, &parent, &name) < 0)
		return;
	test_pause("listing", name);
	node_put(parent);
	free(name);
}

/* DIR's entries, from every layer. QUIET: for the daemon's own use (an
 * emptiness check, a tree copied up), which leaves access times alone.
 *
 * The node lock is not taken: a set that changes while it is read is
 * read again. The tree copy of a rename (copyup_tree.c) gives a merged
 * directory its upper alone, then purges the whiteouts there; a listing
 * of the merged set that read the upper after the purge showed the
 * deleted lower names again, and rmdir of a directory whose last entry
 * had just been removed failed with ENOTEMPTY. Sets a node retired stay
 * with it, so a changed pointer is a changed set. */
int merged_list(struct node *dir, bool quiet, struct dentry_list **out)
{
	struct dentry_list *l = NULL;
	struct lset *ls = NULL;
	int err;

	do {
		if (l)
			dentry_list_free(l);
		l = xcalloc(1, sizeof(*l));
		/* before the layers are read: any change meanwhile voids
		 * the hints */
		l->gen = __atomic_load_n(&dir->gen, __ATOMIC_ACQUIRE);
		ls = node_lset(dir);
		listing_pause(dir);
		err = list_set(dir, ls, quiet, l);
	} while (!err && node_lset(dir) != ls);
	if (err) {
		dentry_list_free(l);
		return err;
	}
	*out = l;
	return 0;
}

/* 1 if the merged directory holds nothing but "." and "..". */
int merged_is_empty(struct node *dir)
{
	struct dentry_list *l;
	int err = merged_list(dir, true, &l);

	if (err)
		return err;
	err = l->n <= 2;
	dentry_list_free(l);
	return err;
}

static int sorted_list(struct node *dir, bool quiet, struct dentry_list **out)
{
	int err = merged_list(dir, quiet, out);

	if (!err)
		listing_sort(dir, *out);
	return err;
}

/* DIR's listing in the order READDIR serves it. */
int listing_sorted(struct node *dir, struct dentry_list **out)
{
	return sorted_list(dir, false, out);
}

uint32_t dentry_list_gen(struct dentry_list *l)
{
	return l->gen;
}

/* Listings being read, at most one per slot. A directory is read in
 * several requests (a READDIRPLUS per 4 KiB or so, then one that finds
 * the end), so its listing is kept from the first until the last; the
 * kernel then caches the whole stream itself. Offsets are cookies, so
 * losing a listing to a slot's next owner costs a new listing, never a
 * wrong one. */
#define LISTING_SLOTS 64

static struct {
	struct node *dir;
	struct dentry_list *l;
} listings[LISTING_SLOTS];
static pthread_mutex_t listings_lock = PTHREAD_MUTEX_INITIALIZER;

/* Listings read ahead of a walker (listing_ahead), until a stream
 * begins with one or another takes its slot: more slots than the
 * prefetch threads keep directories queued, and about AHEAD_ENTRIES
 * entries in all, with their attributes (~200 bytes each, ~3 MiB). A
 * slot is one pointer, swapped atomically: a prefetch thread at
 * SCHED_IDLE takes no lock a request could wait for. Whoever swaps a
 * listing out owns it, and one taken out for another directory is
 * dropped, never put back: its directory's node may have been freed
 * meanwhile (listing_forget found the slot empty) and its address
 * reused. */
#define AHEAD_SLOTS 512
#define AHEAD_ENTRIES 16384

static struct dentry_list *ahead[AHEAD_SLOTS];
static size_t ahead_entries;	/* in ahead[] */
static unsigned ahead_hand;	/* the next slot emptied to make room */

static size_t dir_hash(struct node *dir, size_t slots)
{
	return (size_t)(((uintptr_t)dir >> 4) * 0x9E3779B97F4A7C15ULL >> 40) &
	       (slots - 1);
}

static void listing_put(struct dentry_list *l)
{
	if (l && !__atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL))
		dentry_list_free(l);
}

/* Put L (or nothing) in ahead slot A; return what the slot held. */
static struct dentry_list *ahead_swap(size_t a, struct dentry_list *l)
{
	struct dentry_list *old;

	if (l)
		__atomic_add_fetch(&ahead_entries, l->n, __ATOMIC_RELAXED);
	old = __atomic_exchange_n(&ahead[a], l, __ATOMIC_ACQ_REL);
	if (old)
		__atomic_sub_fetch(&ahead_entries, old->n, __ATOMIC_RELAXED);
	return old;
}

/* Take the listing out of ahead slot A, if any. */
static struct dentry_list *ahead_take(size_t a)
{
	if (!__atomic_load_n(&ahead[a], __ATOMIC_RELAXED))
		return NULL;
	return ahead_swap(a, NULL);
}

/* Would N more entries overfill ahead[]? */
static bool ahead_full(size_t n)
{
	return __atomic_load_n(&ahead_entries, __ATOMIC_RELAXED) + n > AHEAD_ENTRIES;
}

/* DIR's listing for a request at offset OFF. A stream that has begun
 * goes on with the listing it began with, as it would with a handle of
 * its own: it asks where the last reply ended. Any other request (a
 * stream's first, or one that starts with a seekdir to an offset an
 * older stream gave) sees every change before it, and a listing read
 * ahead serves only while DIR has not changed since. Two streams of one
 * directory taking turns each look like a seek to the other: they get
 * a listing of the moment, which the cookies keep in step. */
static int listing_get(struct node *dir, off_t off, struct dentry_list **out)
{
	size_t s = dir_hash(dir, LISTING_SLOTS), a = dir_hash(dir, AHEAD_SLOTS);
	struct dentry_list *l = NULL, *old;
	uint32_t gen = __atomic_load_n(&dir->gen, __ATOMIC_ACQUIRE);
	int err;

	pthread_mutex_lock(&listings_lock);
	if (listings[s].dir == dir &&
	    (listings[s].l->gen == gen ||
	     (off > 0 && off == __atomic_load_n(&listings[s].l->next_off, __ATOMIC_RELAXED)))) {
		l = listings[s].l;
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&listings_lock);
	if (l) {
		*out = l;
		return 0;
	}
	l = ahead_take(a);
	if (l && (l->dir != dir || l->gen != gen)) {
		listing_put(l);		/* another's, or out of date */
		l = NULL;
	}
	if (!l) {
		err = listing_sorted(dir, &l);
		if (err)
			return err;
	}
	l->refs = 2;		/* the slot's and the caller's */
	pthread_mutex_lock(&listings_lock);
	old = listings[s].l;
	listings[s].dir = dir;
	listings[s].l = l;
	pthread_mutex_unlock(&listings_lock);
	listing_put(old);
	*out = l;
	return 0;
}

/* Read DIR's listing ahead of a walker (in a prefetch thread, holding a
 * reference on DIR), with the attributes of its entries, and leave it
 * where the walker's first READDIR(PLUS) finds it. Only a directory that
 * no upper layer holds: its layers' entries do not change under a mount
 * (the kernel's overlay assumes the same), and any change through the
 * mount first copies the directory up, which moves its generation on and
 * voids the listing. The walker's requests then skip the listing's
 * system calls and a stat per entry. False, having done nothing, for
 * any other directory. */
bool listing_ahead(struct node *dir)
{
	struct lset *ls = node_lset(dir);
	size_t a = dir_hash(dir, AHEAD_SLOTS);
	struct dentry_list *l, *old = NULL;

	for (int k = 0; k < ls->n; k++)
		if (ls->r[k].layer == 0 || ls->r[k].fd < 0)
			return false;
	if (sorted_list(dir, true, &l) != 0)
		return true;
	if (l->n <= AHEAD_ENTRIES)
		l->st = xcalloc(l->n, sizeof(*l->st));
	for (size_t i = 2; i < l->n; i++) {
		struct stat tmp, *st = l->st ? &l->st[i] : &tmp;
		int k = lset_index(ls, l->e[i].layer);

		if (k < 0 ||
		    fstatat(ls->r[k].fd, l->e[i].name, st, AT_SYMLINK_NOFOLLOW) < 0) {
			st->st_mode = 0;
			continue;
		}
		/* a subdirectory merges with those below it: its lookup
		 * will look there too */
		if (S_ISDIR(st->st_mode))
			while (++k < ls->n)
				fstatat(ls->r[k].fd, l->e[i].name, &tmp,
					AT_SYMLINK_NOFOLLOW);
	}
	l->refs = 1;		/* the slot's */
	l->dir = dir;
	if (l->st && !node_has(dir, NODE_LISTED)) {
		/* room: listings nobody took go, slot after slot round
		 * the table */
		for (int tries = 0; tries < 16 && ahead_full(l->n); tries++)
			listing_put(ahead_take(__atomic_fetch_add(&ahead_hand, 1,
								  __ATOMIC_RELAXED) %
					       AHEAD_SLOTS));
		if (!ahead_full(l->n)) {
			old = ahead_swap(a, l);
			l = NULL;
		}
	}
	listing_put(old);
	listing_put(l);
	return true;
}

/* Drop DIR's listing being read (L only, if given): the stream reached
 * its end, or the node is going away. */
static void listing_drop(struct node *dir, struct dentry_list *l)
{
	size_t s = dir_hash(dir, LISTING_SLOTS);
	struct dentry_list *old = NULL;

	pthread_mutex_lock(&listings_lock);
	if (listings[s].dir == dir && (!l || listings[s].l == l)) {
		old = listings[s].l;
		listings[s].dir = NULL;
		listings[s].l = NULL;
	}
	pthread_mutex_unlock(&listings_lock);
	listing_put(old);
}

/* DIR is going away: its listings go, and whatever its ahead slot holds
 * (whoever's it is: see ahead[]). */
void listing_forget(struct node *dir)
{
	listing_drop(dir, NULL);
	cookies_forget(dir);
	listing_put(ahead_take(dir_hash(dir, AHEAD_SLOTS)));
}

/* Opening a directory needs nothing from us. Where the kernel can, it
 * stops asking (ENOSYS: no OPENDIR or RELEASEDIR round trip) and caches
 * the listings it reads; elsewhere the open says the same. Every change
 * to a directory passes through the daemon, and the kernel drops its
 * cached listing on each one it sends. */
void lfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (fs.no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->fh = 0;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       bool plus)
{
	struct node *dir = node_from_id(ino);
	struct dentry_list *l;
	struct node *subdirs[PF_FANOUT];
	char *buf, *p;
	size_t rem = size, i, nsub;
	off_t last = 0;
	int err = listing_get(dir, off, &l);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (off == 0) {
		if (!node_has(dir, NODE_LISTED))
			node_flag_set(dir, NODE_LISTED);
		prefetch_listed(dir, fuse_req_ctx(req)->pid);
	}
	i = listing_seek(l, off);
	if (i >= l->n) {
		/* the end: the kernel has all of it now (a cache it keeps
		 * goes at the next change: attrfresh.c) */
		listing_drop(dir, l);
		listing_put(l);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	buf = xmalloc(size);
	p = buf;
	nsub = 0;
	for (; i < l->n; i++) {
		struct dent *d = &l->e[i];
		size_t entsize;

		if (!plus) {
			struct stat st = { .st_ino = d->ino,
					   .st_mode = (mode_t)d->type << 12 };
			entsize = fuse_add_direntry(req, p, rem, d->name, &st,
						    d->cookie);
		} else if (i < 2) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			e.attr.st_ino = d->ino;
			e.attr.st_mode = S_IFDIR;
			entsize = fuse_add_direntry_plus(req, p, rem, d->name, &e,
							 d->cookie);
		} else {
			struct fuse_entry_param e;
			struct node *child = NULL;
			struct stat st;
			int lerr;

			fdrelief_nowait(true);
			lerr = lookup_node_hint(dir, d->name, d->layer, l->gen,
						l->st && l->st[i].st_mode ? &l->st[i] : NULL,
						&child, &st);
			fdrelief_nowait(false);
			if (lerr == -ENOENT)
				continue;	/* gone since the listing */
			if (lerr) {
				/* listed without attributes: a stat of it
				 * will tell the error (a metacopy file) */
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = d->ino;
				e.attr.st_mode = (mode_t)d->type << 12;
			} else if (node_has(child, NODE_WB_FAILED)) {
				/* no entry for the kernel to keep: it would
				 * keep the inode of a failed writeback past its
				 * last close (lookup.c) */
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = st.st_ino;
				e.attr.st_mode = st.st_mode;
				node_forget(child, 1);
				child = NULL;
			} else {
				fill_entry(&e, child, &st);
			}
			entsize = fuse_add_direntry_plus(req, p, rem, d->name, &e,
							 d->cookie);
			if (!child)
				;
			else if (entsize > rem)
				node_forget(child, 1);
			else if (S_ISDIR(child->type) && nsub < PF_FANOUT &&
				 prefetch_on())
				subdirs[nsub++] = node_get(child);
		}
		if (entsize > rem)
			break;
		p += entsize;
		rem -= entsize;
		last = d->cookie;
	}
	if (last)
		__atomic_store_n(&l->next_off, last, __ATOMIC_RELAXED);
	listing_put(l);
	/* before the reply: a change served meanwhile must see it */
	if (rem < size && !node_has(dir, NODE_LISTSENT))
		node_flag_set(dir, NODE_LISTSENT);
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
	prefetch_dirs(subdirs, nsub);
}

void lfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

void lfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

void lfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

void lfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi)
{
	int fd = node_upper_fd(node_from_id(ino));
	int err = 0;

	if (fd >= 0 && fs.cfg->fsync &&
	    (datasync ? fdatasync(fd) : fsync(fd)) < 0)
		err = errno;
	fuse_reply_err(req, err);
}
