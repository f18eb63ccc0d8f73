/* The node table: one node per object of the merged view the kernel holds,
 * found by the device and inode of its top-most real object so that hard
 * links in a layer share a node, and freed when both the kernel's lookup
 * count and the daemon's own references reach zero. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node **table;
static size_t table_size;
static size_t table_count;
static struct node *root;

static void table_grow(void)
{
	size_t nsize = table_size * 2;
	struct node **nt = xcalloc(nsize, sizeof(*nt));

	for (size_t i = 0; i < table_size; i++) {
		struct node *n = table[i], *next;
		for (; n; n = next) {
			size_t h = key_hash(n->kdev, n->kino, nsize);
			next = n->hnext;
			n->hnext = nt[h];
			nt[h] = n;
		}
	}
	free(table);
	table = nt;
	table_size = nsize;
}

static void hash_insert(struct node *n)
{
	size_t h;

	/* up to one node per slot: the table is 8 bytes a slot, and a
	 * walk of a big tree keeps a node per entry */
	if (table_count >= table_size)
		table_grow();
	h = key_hash(n->kdev, n->kino, table_size);
	n->hnext = table[h];
	table[h] = n;
	node_flag_set(n, NODE_HASHED);
	table_count++;
}

static void hash_remove(struct node *n)
{
	struct node **pp;

	if (!node_has(n, NODE_HASHED))
		return;
	pp = &table[key_hash(n->kdev, n->kino, table_size)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	}
	node_flag_clear(n, NODE_HASHED);
	table_count--;
}

/* The node of object (DEV, INO) seen as PARENT/NAME. A node found by
 * name (NODE_BYNAME, whose parent and name do not change) stands for
 * that name only; BYNAME: the caller wants such a node, no other node of
 * the object will do. */
static struct node *hash_find(dev_t dev, ino_t ino, struct node *parent,
			      const char *name, bool byname)
{
	struct node *n = table[key_hash(dev, ino, table_size)];

	for (; n; n = n->hnext) {
		if (n->kdev != dev || n->kino != ino)
			continue;
		if (!node_has(n, NODE_BYNAME)) {
			if (byname)
				continue;
		} else if (n->parent != parent || strcmp(n->name, name)) {
			continue;
		}
		return n;
	}
	return NULL;
}

struct lset *lset_new(int n)
{
	struct lset *ls = xcalloc(1, sizeof(*ls) + (size_t)n * sizeof(ls->r[0]));

	ls->n = n;
	ls->rdfd = -1;
	for (int i = 0; i < n; i++)
		ls->r[i].fd = -1;
	return ls;
}

/* The set of one object of the upper layer, reached through FD (-1: by
 * name through its parent). */
struct lset *lset_upper(int fd)
{
	struct lset *ls = lset_new(1);

	ls->r[0].fd = fd;
	return ls;
}

/* The index of LAYER's ref in LS, or -1 where LS has none. */
int lset_index(const struct lset *ls, int layer)
{
	for (int i = 0; i < ls->n; i++)
		if (ls->r[i].layer == layer)
			return i;
	return -1;
}

void lset_free(struct lset *ls)
{
	if (!ls)
		return;
	if (ls->rdfd >= 0)
		read_fd_drop(ls->rdfd);
	for (int i = 0; i < (ls->borrowed ? 1 : ls->n); i++)
		if (ls->r[i].fd >= 0) {
			if (ls->r[i].layer > 0)
				namefilter_forget(ls->r[i].fd);
			close(ls->r[i].fd);
		}
	if (!ls->embedded)
		free(ls);
}

struct lset *node_lset(struct node *n)
{
	return __atomic_load_n(&n->ls, __ATOMIC_ACQUIRE);
}

/* Publish a new set; the old one stays open until the node dies. Callers
 * hold node_lock(n). */
void node_set_lset(struct node *n, struct lset *ls)
{
	struct lset *old = n->ls;

	__atomic_store_n(&n->ls, ls, __ATOMIC_RELEASE);
	node_xattrs_changed(n);
	if (old) {
		old->retired_next = n->retired;
		n->retired = old;
	}
}

/* Is NAME the first name, kept in N's own allocation after its first
 * set (node_alloc()), which stays there, unchanged, while N lives? */
static bool name_inline(const struct node *n, const char *name)
{
	const struct lset *first = (const struct lset *)(n + 1);

	return name == (const char *)&first->r[first->n];
}

/* A node, its first set of objects (a copy of LS, which is freed) and
 * its first name in one allocation: a walk of a big tree keeps a node
 * per entry for as long as the kernel holds its inode, and three
 * allocations (their headers and rounding) and a table of two slots per
 * node took 215 bytes an entry against 165 now. Sets that replace the
 * first one and names given by renames are allocated on their own. */
static struct node *node_alloc(struct node *parent, const char *name,
			       const struct stat *st, struct lset *ls)
{
	size_t lsize = (size_t)((const char *)&ls->r[ls->n] - (const char *)ls);
	size_t nlen = strlen(name) + 1;
	struct node *n;
	struct lset *els;

	/* the set right after the node, then the name */
	_Static_assert(sizeof(struct node) % _Alignof(struct lset) == 0,
		       "a set after a node is aligned");
	n = xcalloc(1, sizeof(*n) + lsize + nlen);
	els = (struct lset *)(n + 1);
	memcpy(els, ls, lsize);
	els->embedded = true;
	free(ls);		/* its descriptors are the copy's now */
	ls = els;
	n->name = (char *)&els->r[els->n];
	memcpy(n->name, name, nlen);
	n->parent = parent;
	n->type = st->st_mode & S_IFMT;
	n->kdev = (uint32_t)st->st_dev;
	n->kino = st->st_ino;
	n->ls = ls;
	if (!S_ISDIR(st->st_mode) && ls->r[0].layer != 0 && st->st_nlink > 1)
		node_flag_set(n, NODE_LOWER_LINK | NODE_BYNAME);
	n->ino = ino_remap_get(st->st_dev, st->st_ino,
			       ino_of(ls->r[0].layer, st));
	return n;
}

static void node_free(struct node *n)
{
	struct lset *r, *next;

	opens_forget(n);
	if (n->type == S_IFDIR)
		listing_forget(n);
	lset_free(n->ls);
	for (r = n->retired; r; r = next) {
		next = r->retired_next;
		lset_free(r);
	}
	if (!name_inline(n, n->name))
		free(n->name);
	free(n);
}

int nodes_init(void)
{
	struct lset *ls;
	struct stat st;
	int k = 0;

	table_size = 1024;
	table = xcalloc(table_size, sizeof(*table));

	ls = lset_new(fs.nlayers);
	for (int i = 0; i < fs.nlayers; i++) {
		if (!fs.layers[i].present)
			continue;
		ls->r[k].layer = i;
		ls->r[k].fd = dup(fs.layers[i].fd);
		if (ls->r[k].fd < 0)
			return -errno;
		k++;
	}
	ls->n = k;
	/* an opaque marker on a layer's root hides nothing: the kernel's
	 * overlay looks for one only in the directories it looks up */
	for (int i = 0; i < k; i++) {
		bool opq = false, xwh = false;

		dir_opaque_state(ls->r[i].fd, &opq, &xwh);
		ls->r[i].xwhiteouts = xwh;
	}
	if (fstat(ls->r[0].fd, &st) < 0)
		return -errno;
	root = node_alloc(NULL, "", &st, ls);	/* frees LS */
	ls = root->ls;
	root->nlookup = 1;
	root->refs = 1;
	if (ls->r[0].layer == 0 && origin_dir_impure(ls->r[0].fd))
		node_flag_set(root, NODE_IMPURE);
	hash_insert(root);
	return 0;
}

struct node *node_root(void)
{
	return root;
}

struct node *node_from_id(fuse_ino_t id)
{
	if (id == FUSE_ROOT_ID)
		return root;
	return (struct node *)(uintptr_t)id;
}

fuse_ino_t node_id(struct node *n)
{
	if (n == root)
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)n;
}

/* Node locks are striped: a node does without a 40-byte mutex of its
 * own (they added 4 MB to a 100k-entry walk). A stripe may be shared by
 * several nodes, so no code holds two node locks at once. */
#define NODE_LOCKS 256
static pthread_mutex_t node_locks[NODE_LOCKS] = {
	[0 ... NODE_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};

/* Which of 2^BITS stripes N's locks are in (node locks, privkeep.c's). */
unsigned node_stripe(const struct node *n, unsigned bits)
{
	uint64_t h = (uint64_t)(uintptr_t)n * 0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> (64 - bits));
}

static pthread_mutex_t *node_lock_of(struct node *n)
{
	return &node_locks[node_stripe(n, 8)];
}

/* A node's parent and name change under its node lock and, for the few
 * instructions of the change, under its name lock: a snapshot of them
 * takes the name lock alone, so that it does not wait for what a node
 * lock covers (changes of several system calls: a removal, a copy-up's
 * placement; on a stripe shared with other nodes). */
static pthread_mutex_t name_locks[NODE_LOCKS] = {
	[0 ... NODE_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};

pthread_mutex_t *name_lock_of(struct node *n)
{
	return &name_locks[node_lock_of(n) - node_locks];
}

void node_lock(struct node *n)
{
	pthread_mutex_lock(node_lock_of(n));
}

/* One condition per stripe, for the end of a copy-up's data copy. */
static pthread_cond_t node_conds[NODE_LOCKS] = {
	[0 ... NODE_LOCKS - 1] = PTHREAD_COND_INITIALIZER
};

/* The node lock, once no copy-up copies the node's data: what changes a
 * node (its name, its objects, its flags on disk) takes it this way. */
void node_lock_settled(struct node *n)
{
	pthread_mutex_t *m = node_lock_of(n);

	pthread_mutex_lock(m);
	while (node_has(n, NODE_COPYING))
		pthread_cond_wait(&node_conds[m - node_locks], m);
}

/* Under the node lock: the copy-up's data copy is over. */
void node_copying_end(struct node *n)
{
	node_flag_clear(n, NODE_COPYING);
	pthread_cond_broadcast(&node_conds[node_lock_of(n) - node_locks]);
}

bool node_trylock(struct node *n)
{
	return pthread_mutex_trylock(node_lock_of(n)) == 0;
}

void node_unlock(struct node *n)
{
	pthread_mutex_unlock(node_lock_of(n));
}

struct node *node_get(struct node *n)
{
	pthread_mutex_lock(&table_lock);
	n->refs++;
	pthread_mutex_unlock(&table_lock);
	return n;
}

/* Drop references with table_lock held; frees n (and maybe its parents)
 * when nothing refers to it any more. */
static void node_release_locked(struct node *n)
{
	while (n && n != root && n->nlookup == 0 && n->refs == 0) {
		struct node *parent = n->parent;

		hash_remove(n);
		node_free(n);
		n = parent;
		if (n)
			n->refs--;
	}
}

void node_put(struct node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&table_lock);
	n->refs--;
	node_release_locked(n);
	pthread_mutex_unlock(&table_lock);
}

void node_forget(struct node *n, uint64_t nlookup)
{
	pthread_mutex_lock(&table_lock);
	if (n->nlookup < nlookup)
		n->nlookup = 0;
	else
		n->nlookup -= nlookup;
	node_release_locked(n);
	pthread_mutex_unlock(&table_lock);
}

/* Return the node for the object described by st (found in ls), creating
 * it under parent/name when the kernel does not hold it yet. Either way
 * one kernel lookup reference is added. When an existing node is reused,
 * ls is freed. FLAGS: NODE_OPAQUE and NODE_BYNAME for a new node; with
 * NODE_BYNAME only a node of this parent and name is reused. */
struct node *node_find_or_insert(struct node *parent, const char *name,
				 const struct stat *st, struct lset *ls,
				 unsigned flags, bool *reused)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = hash_find(st->st_dev, st->st_ino, parent, name, flags & NODE_BYNAME);
	if (n && !node_has(n, NODE_UNLINKED)) {
		n->nlookup++;
		pthread_mutex_unlock(&table_lock);
		lset_free(ls);
		if (reused)
			*reused = true;
		return n;
	}
	n = node_alloc(parent, name, st, ls);
	if (flags & (NODE_OPAQUE | NODE_BYNAME))
		node_flag_set(n, flags & (NODE_OPAQUE | NODE_BYNAME));
	n->nlookup = 1;
	parent->refs++;
	hash_insert(n);
	pthread_mutex_unlock(&table_lock);
	if (reused)
		*reused = false;
	return n;
}

/* A node for an upper file made with O_TMPFILE in PARENT's directory:
 * no name, and not found by lookups, until a link gives it one
 * (node_adopt()). One kernel lookup reference is taken. */
struct node *node_new_unnamed(struct node *parent, const struct stat *st,
			      struct lset *ls)
{
	struct node *n = node_alloc(parent, "", st, ls);

	node_flag_set(n, NODE_UNLINKED | NODE_TMPFILE);
	pthread_mutex_lock(&table_lock);
	n->nlookup = 1;
	parent->refs++;
	pthread_mutex_unlock(&table_lock);
	return n;
}

struct held {
	unsigned depth;
	uint64_t id;
};

static int deeper_first(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

/* The ids of the nodes the kernel holds, but the root, deepest first
 * (fdrelief.c): a directory's dentry is in use while dentries below it
 * are cached, so a prune must reach those first. *COUNT: how many. */
uint64_t *nodes_held(size_t *count)
{
	struct held *h;
	uint64_t *ids;
	size_t n = 0;

	pthread_mutex_lock(&table_lock);
	h = xmalloc((table_count + 1) * sizeof(*h));
	for (size_t i = 0; i < table_size; i++) {
		for (struct node *e = table[i]; e; e = e->hnext) {
			unsigned d = 0;

			if (e == root || e->nlookup == 0)
				continue;
			/* parents stay while a child refers to them, and a
			 * rename must take table_lock to let one go */
			for (struct node *p = __atomic_load_n(&e->parent, __ATOMIC_RELAXED);
			     p && d < 65536; p = __atomic_load_n(&p->parent, __ATOMIC_RELAXED))
				d++;
			h[n].depth = d;
			h[n].id = node_id(e);
			n++;
		}
	}
	pthread_mutex_unlock(&table_lock);
	qsort(h, n, sizeof(*h), deeper_first);
	ids = xmalloc((n + 1) * sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		ids[i] = h[i].id;
	free(h);
	*count = n;
	return ids;
}

/* The lookups the kernel (and a request in flight) holds on N. */
uint64_t node_lookups(struct node *n)
{
	uint64_t v;

	pthread_mutex_lock(&table_lock);
	v = n->nlookup;
	pthread_mutex_unlock(&table_lock);
	return v;
}

/* N, made with O_TMPFILE, was just linked as NAME in PARENT: it is that
 * name's node from now on, as the kernel keeps one inode for both. One
 * kernel lookup reference is added. False when N is not such a node,
 * or already has a name. */
bool node_adopt(struct node *n, struct node *parent, const char *name)
{
	node_lock(n);
	if (!node_has(n, NODE_TMPFILE)) {
		node_unlock(n);
		return false;
	}
	node_flag_clear(n, NODE_TMPFILE);
	node_set_parent_name(n, parent, name);
	node_unlock(n);
	pthread_mutex_lock(&table_lock);
	node_flag_clear(n, NODE_UNLINKED);
	hash_insert(n);
	n->nlookup++;
	pthread_mutex_unlock(&table_lock);
	return true;
}

/* The top-most real object changed (copy-up): file the node under the new
 * key and remember the inode number shown for it. False when another
 * node already stands for the copy (a name of a lower hard link that
 * became a link to the copy of another name, copyup_tree()): this one
 * then stays out of the table, so that lookups find the other, and the
 * caller has the kernel drop the name it holds with this one. */
bool node_rekey(struct node *n, const struct stat *st)
{
	bool lower_link = false, alone = true;

	pthread_mutex_lock(&table_lock);
	hash_remove(n);
	n->kdev = (uint32_t)st->st_dev;
	n->kino = st->st_ino;
	if (node_has(n, NODE_LOWER_LINK)) {
		/* the copy is a new object, apart from the other names: it
		 * shows its own inode number, as in the kernel's overlayfs */
		node_flag_clear(n, NODE_LOWER_LINK);
		__atomic_store_n(&n->ino, ino_of(0, st), __ATOMIC_RELAXED);
		lower_link = true;
		alone = !hash_find(st->st_dev, st->st_ino, n->parent, n->name, false);
	}
	/* the copy is this name's own object */
	node_flag_clear(n, NODE_BYNAME);
	if (!node_has(n, NODE_UNLINKED) && alone)
		hash_insert(n);
	pthread_mutex_unlock(&table_lock);
	if (!lower_link)
		ino_remap_add(st->st_dev, st->st_ino, n->ino);
	return alone;
}

/* Does a node stand for the object (DEV, INO) (not one found by name)? */
bool node_key_known(dev_t dev, ino_t ino)
{
	bool known;

	pthread_mutex_lock(&table_lock);
	known = hash_find(dev, ino, NULL, "", false) != NULL;
	pthread_mutex_unlock(&table_lock);
	return known;
}

/* The node's object left the merged view; a later lookup of an object
 * reusing its key must not find it. */
void node_unhash(struct node *n)
{
	pthread_mutex_lock(&table_lock);
	hash_remove(n);
	node_flag_set(n, NODE_UNLINKED);
	pthread_mutex_unlock(&table_lock);
}

/* Is N the object NAME in PARENT? */
bool node_named(struct node *n, struct node *parent, const char *name)
{
	bool same;

	pthread_mutex_lock(name_lock_of(n));
	same = n->parent == parent && n->name && !strcmp(n->name, name);
	pthread_mutex_unlock(name_lock_of(n));
	return same;
}

/* After a rename or a link: move the node under a new parent and name.
 * The caller holds node_lock(n). */
void node_set_parent_name(struct node *n, struct node *parent, const char *name)
{
	struct node *old = n->parent;
	char *oldname = n->name, *copy = xstrdup(name);

	if (parent != old)
		node_get(parent);
	pthread_mutex_lock(name_lock_of(n));
	n->parent = parent;
	n->name = copy;
	pthread_mutex_unlock(name_lock_of(n));
	if (!name_inline(n, oldname))
		free(oldname);
	if (parent != old)
		node_put(old);
}
