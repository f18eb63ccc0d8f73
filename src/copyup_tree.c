/* Copying a whole directory tree up, so that a directory with lower
 * content can be renamed (copyup_tree()): every entry below it is made
 * to exist in the upper, then the directory is made opaque.
 *
 * A lower file with several names in the tree is copied once, at the
 * first name met; the others become links to that copy, so the moved
 * tree keeps its links, as mv(1) keeps them when the kernel's overlay
 * answers EXDEV and mv copies the tree. The table of first copies
 * belongs to the copying thread (copyup_obj() consults it). It holds no
 * descriptor: a copy is found again by its directory's node and name,
 * and checked to be the same inode before anything is linked to it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "layerfs.h"

struct tree_link {
	dev_t dev;		/* the lower file; 0 marks a free slot */
	ino_t ino;
	struct node *dir;	/* where its first copy is */
	char *name;
	dev_t udev;		/* and which inode that copy is */
	ino_t uino;
	unsigned prot;
};

struct tree_links {
	struct tree_link *slot;
	size_t cap, n;		/* cap: a power of two */
	struct node *cur;	/* the directory being copied */
};

static __thread struct tree_links *tl_links;

static size_t slot_of(const struct tree_links *t, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9E3779B97F4A7C15ull) ^ (uint64_t)ino;

	h *= 0xff51afd7ed558ccdull;
	return (size_t)(h ^ (h >> 29)) & (t->cap - 1);
}

static struct tree_link *tree_link_find(const struct stat *st)
{
	struct tree_links *t = tl_links;

	if (!t->cap)
		return NULL;
	for (size_t i = slot_of(t, st->st_dev, st->st_ino);; i = (i + 1) & (t->cap - 1)) {
		struct tree_link *l = &t->slot[i];

		if (!l->dev)
			return NULL;
		if (l->dev == st->st_dev && l->ino == st->st_ino)
			return l;
	}
}

static void tree_links_grow(struct tree_links *t)
{
	struct tree_links bigger = { .cap = t->cap ? 2 * t->cap : 64 };

	bigger.slot = xcalloc(bigger.cap, sizeof(*bigger.slot));
	for (size_t i = 0; i < t->cap; i++) {
		struct tree_link *l = &t->slot[i];
		size_t k;

		if (!l->dev)
			continue;
		for (k = slot_of(&bigger, l->dev, l->ino); bigger.slot[k].dev;
		     k = (k + 1) & (bigger.cap - 1))
			;
		bigger.slot[k] = *l;
	}
	free(t->slot);
	t->slot = bigger.slot;
	t->cap = bigger.cap;
}

/* Is the lower object LST one whose first copy the table keeps? */
bool tree_link_wanted(const struct stat *lst)
{
	return tl_links && tl_links->cur && !S_ISDIR(lst->st_mode) &&
	       lst->st_nlink > 1 && lst->st_dev != 0;
}

/* The lower object LST was copied as NAME of the directory being copied
 * (NST: the copy). */
void tree_link_note(const struct stat *lst, const char *name,
		    const struct stat *nst, unsigned prot)
{
	struct tree_links *t = tl_links;
	struct tree_link *l;
	size_t i;

	if ((t->n + 1) * 2 > t->cap)
		tree_links_grow(t);
	for (i = slot_of(t, lst->st_dev, lst->st_ino); t->slot[i].dev;
	     i = (i + 1) & (t->cap - 1))
		if (t->slot[i].ino == lst->st_ino && t->slot[i].dev == lst->st_dev)
			break;
	l = &t->slot[i];
	if (l->dev) {
		/* the copy noted went meanwhile: this one is the first now */
		node_put(l->dir);
		free(l->name);
		t->n--;
	}
	*l = (struct tree_link){
		.dev = lst->st_dev, .ino = lst->st_ino,
		.dir = node_get(t->cur), .name = xstrdup(name),
		.udev = nst->st_dev, .uino = nst->st_ino, .prot = prot,
	};
	t->n++;
}

/* Make NAME in PARENT_FD a link to the first copy of the lower object
 * LST, if there is one; as copyup_obj(). Nonzero: there is none, or it
 * is gone or replaced (the caller copies the file then); -EBUSY: it is
 * there, but the name is HELD (COPYUP_HELD) while a node stands for the
 * first copy: linked, the file would be two inodes in the kernel, each
 * with a size and pages of its own that its writeback cache trusts (a
 * write through one name, then an append through the other, would
 * write over the first), so the name gets a copy apart, as a lower hard
 * link changed outside a moved tree. */
int tree_link_try(const struct stat *lst, bool held, int parent_fd, const char *name,
		  int *newfd, struct stat *nst, unsigned *prot)
{
	const struct tree_link *l = tree_link_find(lst);
	struct stat pst, cst;
	int dirfd, fd;

	if (!l)
		return -ENOENT;
	dirfd = node_upper_fd(l->dir);
	if (dirfd < 0 || fstatat(dirfd, l->name, &cst, AT_SYMLINK_NOFOLLOW) < 0 ||
	    cst.st_dev != l->udev || cst.st_ino != l->uino)
		return -ENOENT;
	if (held && node_key_known(l->udev, l->uino))
		return -EBUSY;
	if (fstat(parent_fd, &pst) < 0 || linkat(dirfd, l->name, parent_fd, name, 0) < 0)
		return -errno;
	fd = fdrelief_openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0 || fstat(fd, nst) < 0 || nst->st_ino != l->uino || nst->st_dev != l->udev) {
		/* replaced between the check and the link: take it back */
		if (fd >= 0)
			close(fd);
		unlinkat(parent_fd, name, 0);
		return -ENOENT;
	}
	restore_dir_times(parent_fd, &pst);
	*prot = l->prot;
	*newfd = fd;
	return 0;
}

/* Requests for the kernel to drop an entry, or cached pages, sent by
 * threads of their own; the daemon waits for them before its session
 * ends. */
static unsigned inval_running;
static pthread_mutex_t inval_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inval_done = PTHREAD_COND_INITIALIZER;

struct inval_job {
	struct node *node;	/* if not NULL: its pages from OFF, LEN bytes */
	off_t off, len;
	struct node *parent;	/* if not NULL: its entry NAME */
	char *name;
};

static void *inval_thread(void *arg)
{
	struct inval_job *j = arg;

	if (j->node)
		fuse_lowlevel_notify_inval_inode(fs.se, node_id(j->node), j->off,
						 j->len);
	if (j->parent) {
		fuse_lowlevel_notify_inval_entry(fs.se, node_id(j->parent), j->name,
						 strlen(j->name));
		node_put(j->parent);
	}
	/* and the names nothing uses that we do not know (hard links) */
	if (j->node) {
		fdrelief_prune_node(node_id(j->node));
		node_put(j->node);
	}
	free(j->name);
	free(j);
	pthread_mutex_lock(&inval_lock);
	if (--inval_running == 0)
		pthread_cond_broadcast(&inval_done);
	pthread_mutex_unlock(&inval_lock);
	return NULL;
}

static void inval_start(struct inval_job *j)
{
	pthread_mutex_lock(&inval_lock);
	inval_running++;
	pthread_mutex_unlock(&inval_lock);
	/* a thread that takes no signals: they are for the loop's (stop.c) */
	if (!spawn_detached(inval_thread, j)) {
		node_put(j->node);
		node_put(j->parent);
		free(j->name);
		free(j);
		pthread_mutex_lock(&inval_lock);
		inval_running--;
		pthread_mutex_unlock(&inval_lock);
	}
}

/* Have the kernel drop its entry NAME in PARENT, from a thread of its
 * own: the request being served (a rename) may hold PARENT's lock in the
 * kernel, which the invalidation waits for. */
void inval_entry_later(struct node *parent, const char *name)
{
	struct inval_job *j = xcalloc(1, sizeof(*j));

	j->parent = node_get(parent);
	j->name = xstrdup(name);
	inval_start(j);
}

/* A page written back from the kernel's cache could not be written
 * (the upper is full, read-only, the file immutable): have the kernel
 * drop N's pages from OFF, LEN bytes, its entry of N's name and the
 * unused entries of its other names (FUSE_NOTIFY_PRUNE, Linux 6.18), so
 * that the inode goes with its last user and the next lookup takes the
 * real file's size (the writeback cache never takes a size from us for
 * an inode it holds). From a thread of its own: a page the WRITE being
 * served writes back cannot be dropped before the reply ends its
 * writeback, which the invalidation waits for. The caller holds a
 * reference to N since before that reply: the kernel may forget N once
 * the writeback ended. The job holds one of its own, so that N's number
 * names no other node before the kernel is told. */
void inval_failed_write_later(struct node *n, off_t off, off_t len)
{
	struct inval_job *j = xcalloc(1, sizeof(*j));

	j->node = node_get(n);
	j->off = off;
	j->len = len;
	if (node_parent_name(n, &j->parent, &j->name) < 0)
		j->parent = NULL;
	inval_start(j);
}

/* At the end of the session: no invalidation may outlive it. One that
 * waits for a request nobody will answer (the loop ended on a signal)
 * is given up after a few seconds. */
void inval_entries_wait(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&inval_lock);
	while (inval_running &&
	       pthread_cond_timedwait(&inval_done, &inval_lock, &until) == 0)
		;
	pthread_mutex_unlock(&inval_lock);
}

/* Was N removed while its tree was copied? An rmdir holds its node lock
 * until the name is gone (dir.c), so this waits for one under way. */
static bool removed_meanwhile(struct node *n)
{
	bool gone;

	node_lock_settled(n);
	gone = node_has(n, NODE_UNLINKED);
	node_unlock(n);
	return gone;
}

/* Is NAME no longer in DIR's merged view? */
static bool name_gone(struct node *dir, const char *name)
{
	struct node *n;
	struct stat st;
	int err = lookup_node(dir, name, &n, &st);

	if (!err)
		node_forget(n, 1);
	return err == -ENOENT;
}

/* Count a change in N's parent (lookup_node_hint() checks it). */
static void parent_changed(struct node *n)
{
	struct node *parent;
	char *name;

	if (node_parent_name(n, &parent, &name) == 0) {
		__atomic_add_fetch(&parent->gen, 1, __ATOMIC_RELEASE);
		node_put(parent);
		free(name);
	}
}

/* A merged directory that recorded no number of its own showed that of
 * the directory below it (lookup.c): record it before the directory is
 * made opaque, where its parent will look for it, so that it keeps it
 * once nothing below is merged any more. */
static void record_number(struct node *dir)
{
	ino_t shown = __atomic_load_n(&dir->ino, __ATOMIC_RELAXED);
	struct node *parent = NULL;
	char *name = NULL;
	struct xobj o = { .fd = node_upper_fd(dir) };
	struct stat ust;

	if (!node_has(dir, NODE_ORIGIN) || fstat(o.fd, &ust) < 0 ||
	    shown == ino_of(0, &ust))
		return;
	origin_record(&o, shown, ust.st_ino);
	if (node_parent_name(dir, &parent, &name) == 0) {
		origin_mark_parent(parent);
		node_put(parent);
		free(name);
	}
}

static int copy_tree(struct node *dir)
{
	struct dentry_list *list = NULL;
	struct node *outer = tl_links->cur;
	struct lset *ls;
	int err, ufd;

	err = copyup(dir, 0);
	if (err)
		return err;
	ls = node_lset(dir);
	if (ls->n == 1)
		return 0;	/* nothing below the upper */
	err = merged_list(dir, true, &list);
	if (err)
		return err;
	tl_links->cur = dir;
	for (size_t i = 0; i < dentry_list_count(list); i++) {
		const char *name = dentry_list_name(list, i);
		struct node *child;
		struct stat st;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		/* the directory is not locked: a name removed or moved out
		 * since the listing is skipped, as it is no longer here */
		err = lookup_node(dir, name, &child, &st);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err)
			break;
		if (S_ISDIR(child->type)) {
			err = copy_tree(child);
			tl_links->cur = dir;
		} else if (node_in_upper(child)) {
			/* in the upper already: an upper file, maybe known
			 * by another of its names */
		} else if (!node_named(child, dir, name)) {
			/* a lower hard link known under another name: copy
			 * this name without moving the shared node */
			struct stat nst;
			struct oref src;
			unsigned prot = 0;

			err = oref_in(dir, name, node_lset(child)->r[0].layer, &src);
			if (!err)
				err = copyup_obj(&src, node_upper_fd(dir), name, 0,
						 NULL, &nst, &prot);
			if (!err && prot)
				origin_mark_parent(dir);
		} else {
			/* a name the kernel holds a node of: see
			 * tree_link_try() and copyup_stage() */
			err = copyup(child, (fs.writeback || fs.noopen) &&
					    node_lookups(child) > 1 ? COPYUP_HELD : 0);
		}
		/* it went meanwhile: whatever failed of a subtree an rmdir
		 * took while it was read is no longer in the view, nor is a
		 * name no longer there */
		if (err && removed_meanwhile(child))
			err = 0;
		node_forget(child, 1);
		if (err == -ENOENT && name_gone(dir, name))
			err = 0;
		if (err)
			break;
	}
	tl_links->cur = outer;
	dentry_list_free(list);
	if (err)
		return err;

	record_number(dir);
	node_lock_settled(dir);
	ls = node_lset(dir);
	ufd = fdrelief_dup(ls->r[0].fd);
	err = ufd < 0 ? -errno : opaque_set(ufd);
	if (!err) {
		/* The upper alone first, then the whiteouts go: a lookup or
		 * listing that read the layers before, and probes the upper
		 * after the purge, would find a deleted lower name; the move
		 * of the generation after it makes that one look again. */
		node_set_lset(dir, lset_upper(ufd));
		node_flag_set(dir, NODE_OPAQUE);
		test_pause("purge", dir->name);
		purge_internal_entries(ufd);	/* the lock keeps the set */
		__atomic_add_fetch(&dir->gen, 1, __ATOMIC_RELEASE);
	} else if (ufd >= 0) {
		close(ufd);
	}
	node_unlock(dir);
	/* A lookup of this directory that read its layers before (merged
	 * then) and finds no node for it (the kernel did not hold it, and
	 * the loop above let it go) would file one with the lower layers:
	 * their entries, whited out and purged here, would come back. A
	 * change in the parent makes that lookup look again. */
	if (!err)
		parent_changed(dir);
	/* a stat since its copy-up (a merged directory then) showed a link
	 * count of 1, which the kernel would keep for a day */
	if (!err && fs.se)
		fuse_lowlevel_notify_inval_inode(fs.se, node_id(dir), -1, 0);
	return err;
}

int copyup_tree(struct node *dir)
{
	struct tree_links links = { 0 };
	int err;

	tl_links = &links;
	err = copy_tree(dir);
	tl_links = NULL;
	for (size_t i = 0; i < links.cap; i++) {
		if (!links.slot[i].dev)
			continue;
		node_put(links.slot[i].dir);
		free(links.slot[i].name);
	}
	free(links.slot);
	return err;
}
