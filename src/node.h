/* layerfs: nodes, their sets of real objects, and the ways to reach
 * those objects (node.c). Part of layerfs.h, which includes it after
 * defining FUSE_USE_VERSION and including <fuse_lowlevel.h>; not for
 * inclusion on its own. */
#ifndef LAYERFS_NODE_H
#define LAYERFS_NODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* ---- nodes (node.c) ---- */

/* One real object behind a node. For a directory there is one per layer
 * contributing to the merge, top-most first, each with an open fd. A
 * non-directory is reached by name from its parent's fd in the same layer
 * (fd -1), which keeps descriptors to one per directory; it is pinned
 * with an O_PATH fd only when it has several names or loses its name
 * while the kernel still holds it. */
struct lref {
	int layer;
	int fd;			/* O_RDONLY dir fd, pinned O_PATH fd, or -1 */
	bool xwhiteouts;	/* dir may hold xattr whiteouts */
};

/* Where to reach a node's top-most object: DIRFD + NAME for *at() calls,
 * or the object's own fd with an empty NAME (then use AT_EMPTY_PATH). */
struct oref {
	int dirfd;
	const char *name;
	char buf[NAME_MAX + 1];
	struct node *hold;	/* parent kept alive while in use */
	int layer;
	const struct lset *ls;	/* the node's set it was resolved from */
	uint16_t mseq;		/* and the node's move count then */
};

/* An immutable set of lrefs. A node's set is replaced whole (copy-up,
 * rename), never edited, so readers need no lock; replaced sets are kept
 * until the node dies because another thread may still use their fds. */
struct lset {
	struct lset *retired_next;
	int n;
	int rdfd;	/* r[0]'s object open for reads without a handle, or
			 * -1 (file.c, read_fd()); closed with the set */
	bool borrowed;	/* r[1...]'s descriptors are those of the node's
			 * retired set (a directory's copy-up), closed with it */
	bool embedded;	/* a node's first set, in the node's own allocation
			 * (node.c, node_alloc()): freed with the node */
	struct lref r[];
};

#define NODE_OPAQUE	0x1	/* upper dir hides every lower dir */
#define NODE_UNLINKED	0x2	/* no name left in the merged view */
#define NODE_HASHED	0x4
/* A lower-only non-directory with several hard links: each of its names
 * gets a node of its own, since a copy-up through one name must change
 * that name only (the kernel's overlayfs without index breaks the link
 * the same way), and a copy shows an inode number of its own. Implies
 * NODE_BYNAME. */
#define NODE_LOWER_LINK	0x8
/* Found by parent and name as well as by its object: a lower-only
 * non-directory that may have several names in the merged view, hard
 * links (NODE_LOWER_LINK) or a file in a NODE_REDIRECTED directory,
 * whose lower directory another path may reach too (lookup.c). Parent
 * and name do not change while this is set; a copy-up clears it. */
#define NODE_BYNAME	0x800
/* The data of this lower file went to the kernel's cache with an open
 * (file.c, preload); later opens leave that to reads. */
#define NODE_PRELOADED	0x10
/* An upper directory that may hold an overlay.protattr xattr: immutable
 * or append-only, kept off the real directory (fileattr.c). */
#define NODE_PROTATTR	0x20
/* Upper directory holding copies that record the inode number they
 * showed (origin.c); an upper object that records one. */
#define NODE_IMPURE	0x40
#define NODE_ORIGIN	0x80
/* A directory found by following a redirect, or below one that was
 * (lookup.c): another path may lead to the same lower objects. */
#define NODE_REDIRECTED	0x100
/* Made with O_TMPFILE and not linked yet (tmpfile.c). */
#define NODE_TMPFILE	0x200
/* A directory whose listing a stream began to read: no prefetch thread
 * needs to read it ahead any more (prefetch.c). Set without a lock. */
#define NODE_LISTED	0x400
/* A copy-up of the node is copying its data, without the node lock:
 * whoever would change the node waits (node_lock_settled()). */
#define NODE_COPYING	0x1000
/* Opened for reading and writing passing through (passthrough.c): a
 * shared mapping of the real file changes its data, times and blocks
 * without a request, so the kernel gets this node's attributes with no
 * time to keep them (attr_timeout()). Kept until the node dies, as a
 * mapping outlives the open. */
#define NODE_MAPPED	0x2000
/* A listing of this directory went to the kernel and the stream has not
 * reached the end: the kernel may keep part of it in its cache
 * (readdir.c), which the next change of the directory drops
 * (attrfresh_dir_changed()). */
#define NODE_LISTSENT	0x4000
/* A page of this file written back from the kernel's cache failed: the
 * kernel must drop the inode, which holds the size the failed write made
 * (copyup_tree.c), so each name of it it looks up or links is dropped
 * again after the reply (lookup.c, dir.c), and a listing gives none
 * (readdir.c): kept, it
 * would keep the inode past the last close. Kept until the node dies. */
#define NODE_WB_FAILED	0x8000

struct node {
	struct node *hnext;
	uint64_t nlookup;	/* kernel references (lookup/forget) */
	ino_t kino;		/* hash key: the top-most real object */
	ino_t ino;		/* st_ino shown to the kernel */
	struct node *parent;	/* parent and name: changed under node_lock()
				 * and the name lock (node.c) */
	char *name;
	struct lset *ls;	/* read with node_lset() */
	struct lset *retired;
	uint32_t kdev;		/* hash key (a Linux dev_t fits 32 bits) */
	uint32_t refs;		/* daemon references */
	uint16_t type;		/* S_IFMT bits */
	uint16_t mseq;		/* odd while a rename moves the node's object
				 * under another name: node_move_begin() */
	unsigned flags;		/* NODE_*: node_has(), node_flag_set/clear() */
	uint32_t gen;		/* bumped at copy-up */
	uint32_t xstate;	/* xattr generation << 1 | XSTATE_NONE */
};

/* Flags are changed under different locks (NODE_HASHED and NODE_UNLINKED
 * under table_lock, the others under node_lock()), so every change is
 * one atomic read-modify-write: two at once must not lose either. */
static inline bool node_has(const struct node *n, unsigned f)
{
	return __atomic_load_n(&n->flags, __ATOMIC_RELAXED) & f;
}

static inline void node_flag_set(struct node *n, unsigned f)
{
	__atomic_or_fetch(&n->flags, f, __ATOMIC_RELAXED);
}

static inline void node_flag_clear(struct node *n, unsigned f)
{
	__atomic_and_fetch(&n->flags, ~f, __ATOMIC_RELAXED);
}

/* The top-most object is known to carry no xattr the mount shows, as of
 * the xattr generation in the other bits: getxattr and listxattr are
 * answered without a system call (ls -l asks for two names per file, the
 * kernel one per write). Every change bumps the generation (xattr.c). */
#define XSTATE_NONE	1u

int nodes_init(void);
struct node *node_root(void);
struct node *node_from_id(fuse_ino_t id);
fuse_ino_t node_id(struct node *n);
struct lset *node_lset(struct node *n);
struct lset *lset_new(int n);
struct lset *lset_upper(int fd);
int lset_index(const struct lset *ls, int layer);
void lset_free(struct lset *ls);
void node_set_lset(struct node *n, struct lset *ls);
void node_xattrs_changed(struct node *n);
void node_xattrs_new(struct node *n);
struct node *node_get(struct node *n);
unsigned node_stripe(const struct node *n, unsigned bits);
void node_lock(struct node *n);
/* guards a node's parent and name (node.c, oref.c) */
pthread_mutex_t *name_lock_of(struct node *n);
bool node_trylock(struct node *n);
void node_lock_settled(struct node *n);
void node_copying_end(struct node *n);
void node_unlock(struct node *n);
void node_put(struct node *n);
void node_forget(struct node *n, uint64_t nlookup);
struct node *node_new_unnamed(struct node *parent, const struct stat *st,
			      struct lset *ls);
bool node_adopt(struct node *n, struct node *parent, const char *name);
uint64_t node_lookups(struct node *n);
uint64_t *nodes_held(size_t *count);
struct node *node_find_or_insert(struct node *parent, const char *name,
				 const struct stat *st, struct lset *ls,
				 unsigned flags, bool *reused);
bool node_rekey(struct node *n, const struct stat *st);
bool node_key_known(dev_t dev, ino_t ino);
void node_unhash(struct node *n);
bool node_in_upper(struct node *n);
int node_upper_fd(struct node *n);
int node_parent_name(struct node *n, struct node **parent, char **name);
void oref_of_lref(const struct lref *r, struct oref *o);
int node_oref(struct node *n, struct oref *o);
void oref_put(struct oref *o);
bool oref_put_moved(struct node *n, struct oref *o);
void node_move_begin(struct node *n);
void node_move_end(struct node *n);
int oref_open(const struct oref *o, int flags);
int node_open(struct node *n, int flags);
int oref_path(const struct oref *o, char *buf, size_t len);
int oref_stat(const struct oref *o, struct stat *st);
int node_pin(struct node *n);
void node_set_parent_name(struct node *n, struct node *parent, const char *name);
bool node_named(struct node *n, struct node *parent, const char *name);

/* A real object's key (device, inode) hashed into SIZE buckets, a power
 * of two: the node table's and the inode number map's. */
static inline size_t key_hash(dev_t dev, ino_t ino, size_t size)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev;
	h ^= h >> 29;
	return (size_t)(h & (size - 1));
}

#endif
