/* Merged directory listings: the union of a directory's layers, upper
 * first, each name once, without whiteouts, the names they hide, or the
 * layers' internal entries. A listing is taken whole at opendir (and at
 * rewinddir), so offsets are stable indexes into it. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

struct dent {
	char *name;
	ino_t ino;
	unsigned char type;
	int layer;		/* top-most layer holding the name */
};

struct dentry_list {
	size_t n, cap;
	struct dent *e;
	uint32_t gen;		/* the directory's generation when listed */
};

/* A set of names seen so far in higher layers (shown or hidden). */
struct nameset {
	size_t cap, n;
	char **slot;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

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
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		if (!l->e)
			abort();
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

unsigned char dentry_list_type(struct dentry_list *l, size_t i)
{
	return l->e[i].type;
}

/* Read one layer's directory into the listing. */
static int list_layer(struct dentry_list *l, struct nameset *seen,
		      const struct lref *r, bool merged)
{
	struct dirent *de;
	DIR *d;
	int fd = openat(r->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int err = -errno;
		close(fd);
		return err;
	}
	errno = 0;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		struct stat st;

		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		if (name_is_internal(name)) {
			/* ".wh.NAME" hides NAME below; the opaque marker
			 * was handled at lookup */
			if (merged && strcmp(name, ".wh..wh..opq"))
				nameset_add(seen, name + 4);
			continue;
		}
		if (merged && nameset_has(seen, name))
			continue;
		if (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN ||
		    (r->xwhiteouts && de->d_type == DT_REG)) {
			if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				if (stat_is_whiteout(&st) ||
				    (r->xwhiteouts && is_xwhiteout(dirfd(d), name, &st))) {
					if (merged)
						nameset_add(seen, name);
					continue;
				}
				if (de->d_type == DT_UNKNOWN)
					de->d_type = IFTODT(st.st_mode);
			}
		}
		if (merged)
			nameset_add(seen, name);
		{
			struct stat key = { .st_dev = fs.layers[r->layer].dev,
					    .st_ino = de->d_ino };
			list_add(l, name,
				 ino_remap_get(key.st_dev, key.st_ino,
					       ino_of(r->layer, &key)),
				 de->d_type, r->layer);
		}
		errno = 0;
	}
	closedir(d);
	return 0;
}

int merged_list(struct node *dir, struct dentry_list **out)
{
	struct dentry_list *l = xcalloc(1, sizeof(*l));
	struct nameset seen = { 0, 0, NULL };
	struct lset *ls;
	bool merged;
	int err = 0;

	/* before the layers are read: any change meanwhile voids the hints */
	l->gen = __atomic_load_n(&dir->gen, __ATOMIC_ACQUIRE);
	ls = node_lset(dir);
	merged = ls->n > 1;
	list_add(l, ".", dir->ino, DT_DIR, 0);
	list_add(l, "..", dir->parent ? dir->parent->ino : dir->ino, DT_DIR, 0);
	for (int i = 0; i < ls->n; i++) {
		err = list_layer(l, &seen, &ls->r[i], merged);
		if (err)
			break;
	}
	nameset_free(&seen);
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
	int err = merged_list(dir, &l);

	if (err)
		return err;
	err = l->n <= 2;
	dentry_list_free(l);
	return err;
}

struct dirh {
	pthread_mutex_t lock;
	struct dentry_list *list;
};

void lfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *dh = xcalloc(1, sizeof(*dh));

	pthread_mutex_init(&dh->lock, NULL);
	fi->fh = (uintptr_t)dh;
	/* Every change to a directory passes through the daemon, and the
	 * kernel drops its cached listing on each one it sends: listings
	 * may be cached. */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;
	struct node *dir = node_from_id(ino);
	char *buf, *p;
	size_t rem = size;
	int err = 0;

	pthread_mutex_lock(&dh->lock);
	if (off == 0 || !dh->list) {
		dentry_list_free(dh->list);
		dh->list = NULL;
		err = merged_list(dir, &dh->list);
		if (err) {
			pthread_mutex_unlock(&dh->lock);
			fuse_reply_err(req, -err);
			return;
		}
	}
	buf = xmalloc(size);
	p = buf;
	for (size_t i = (size_t)off; i < dh->list->n; i++) {
		struct dent *d = &dh->list->e[i];
		size_t entsize;

		if (!plus) {
			struct stat st = { .st_ino = d->ino,
					   .st_mode = (mode_t)d->type << 12 };
			entsize = fuse_add_direntry(req, p, rem, d->name, &st,
						    (off_t)i + 1);
		} else if (i < 2) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			e.attr.st_ino = d->ino;
			e.attr.st_mode = S_IFDIR;
			entsize = fuse_add_direntry_plus(req, p, rem, d->name, &e,
							 (off_t)i + 1);
		} else {
			struct fuse_entry_param e;
			struct node *child;
			struct stat st;

			if (lookup_node_hint(dir, d->name, d->layer,
					     dh->list->gen, &child, &st))
				continue;	/* gone since the listing */
			fill_entry(&e, child, &st);
			entsize = fuse_add_direntry_plus(req, p, rem, d->name, &e,
							 (off_t)i + 1);
			if (entsize > rem)
				node_forget(child, 1);
		}
		if (entsize > rem)
			break;
		p += entsize;
		rem -= entsize;
	}
	pthread_mutex_unlock(&dh->lock);
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void lfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void lfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void lfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *dh = (struct dirh *)(uintptr_t)fi->fh;

	dentry_list_free(dh->list);
	pthread_mutex_destroy(&dh->lock);
	free(dh);
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
