/* Top-down lookup through the layers: the first layer holding a name wins,
 * a whiteout hides the name in every layer below, and a directory merges
 * with same-named directories below it until one of them is opaque. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

#define WH_PREFIX ".wh."
#define WH_PREFIX_LEN 4
#define OPQ_MARKER ".wh..wh..opq"

bool name_is_internal(const char *name)
{
	return strncmp(name, WH_PREFIX, WH_PREFIX_LEN) == 0;
}

int check_name(const char *name)
{
	if (strlen(name) > fs.namemax)
		return -ENAMETOOLONG;
	return 0;
}

bool stat_is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

static bool opaque_value(const char *val, ssize_t len, bool *opaque, bool *xwh)
{
	if (len == 1 && val[0] == 'y') {
		*opaque = true;
		return true;
	}
	if (len == 1 && val[0] == 'x') {
		*xwh = true;
		return true;
	}
	return false;
}

/* Read the markers of a directory in one layer: opaque, and "holds xattr
 * whiteouts". The common case, a directory without xattrs, costs one
 * listxattr, and one fstatat for the opaque marker file, which is looked
 * for only if WANT_OPAQUE (opacity matters only with layers below). */
static int dir_markers(int dirfd, bool want_opaque, bool *opaque,
		       bool *xwhiteouts, bool *protattr)
{
	static const char *const names[] = {
		"trusted.overlay.opaque", "user.overlay.opaque",
		"user.fuseoverlayfs.opaque",
	};
	char small[512], *list = small;
	ssize_t len;
	struct stat st;

	*opaque = false;
	*xwhiteouts = false;
	if (protattr)
		*protattr = false;

	len = flistxattr(dirfd, list, sizeof(small));
	if (len < 0 && errno == ERANGE) {
		len = flistxattr(dirfd, NULL, 0);
		if (len > 0) {
			list = xmalloc((size_t)len);
			len = flistxattr(dirfd, list, (size_t)len);
		}
	}
	for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(list + off) + 1) {
		const char *x = list + off;
		char val[8];
		ssize_t vlen;

		if (strncmp(x, "trusted.overlay.", 16) && strncmp(x, "user.overlay.", 13) &&
		    strncmp(x, "user.fuseoverlayfs.", 19))
			continue;
		if (!strcmp(x, "trusted.overlay.whiteouts") ||
		    !strcmp(x, "user.overlay.whiteouts")) {
			*xwhiteouts = true;
			continue;
		}
		if (protattr && (!strcmp(x, "trusted.overlay.protattr") ||
				 !strcmp(x, "user.overlay.protattr"))) {
			*protattr = true;
			continue;
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strcmp(x, names[i]))
				continue;
			vlen = fgetxattr(dirfd, x, val, sizeof(val));
			opaque_value(val, vlen, opaque, xwhiteouts);
		}
	}
	if (list != small)
		free(list);
	if (want_opaque && fstatat(dirfd, OPQ_MARKER, &st, AT_SYMLINK_NOFOLLOW) == 0)
		*opaque = true;
	return 0;
}

int dir_opaque_state(int dirfd, bool *opaque, bool *xwhiteouts)
{
	return dir_markers(dirfd, true, opaque, xwhiteouts, NULL);
}

/* The kernel's xattr whiteout: an empty regular file carrying
 * overlay.whiteout, inside a directory marked as holding such files. */
bool is_xwhiteout(int dirfd, const char *name, const struct stat *st)
{
	char path[PATH_MAX];

	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	if (fd_path_at(dirfd, name, path, sizeof(path)) < 0)
		return false;
	if (lgetxattr(path, "trusted.overlay.whiteout", NULL, 0) >= 0)
		return true;
	return lgetxattr(path, "user.overlay.whiteout", NULL, 0) >= 0;
}

/* Is NAME (attributes ST) in DIRFD a metacopy file, whose data the
 * kernel's overlay with metacopy=on finds in a layer below? Such a file
 * has a size but no blocks of its own, which spares the xattr lookup for
 * nearly every file. The kernel's default (metacopy=off) refuses to
 * follow one, and so does layerfs: EPERM. */
static bool is_metacopy(int dirfd, const char *name, const struct stat *st)
{
	char path[PATH_MAX];

	if (!S_ISREG(st->st_mode) || st->st_size == 0 || st->st_blocks != 0)
		return false;
	if (fd_path_at(dirfd, name, path, sizeof(path)) < 0)
		return false;
	return lgetxattr(path, "trusted.overlay.metacopy", NULL, 0) >= 0 ||
	       lgetxattr(path, "user.overlay.metacopy", NULL, 0) >= 0;
}

/* Is NAME whited out in this layer directory by a ".wh.NAME" file? */
static bool has_wh_file(int dirfd, const char *name)
{
	char whname[NAME_MAX + 1];
	struct stat st;

	if (strlen(name) + WH_PREFIX_LEN > NAME_MAX)
		return false;
	snprintf(whname, sizeof(whname), WH_PREFIX "%s", name);
	return fstatat(dirfd, whname, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Find NAME below DIR. On success res->ls holds one ref per layer that
 * contributes, top-most first, and res->st describes the top-most.
 * Layers above FROM_LAYER are known to hold neither NAME nor a whiteout
 * of it (0: probe them all). */
int lookup_layers(struct node *dir, const char *name, int from_layer,
		  struct lookup_res *res)
{
	struct lset *dls = node_lset(dir);
	struct lset *ls = lset_new(dls->n);
	int n = 0, err = -ENOENT;

	memset(&res->st, 0, sizeof(res->st));
	res->opaque = false;
	res->protattr = false;
	res->ls = NULL;

	if (strlen(name) > fs.namemax) {
		lset_free(ls);
		return -ENAMETOOLONG;
	}
	if (name_is_internal(name)) {
		lset_free(ls);
		return -ENOENT;
	}

	for (int i = 0; i < dls->n; i++) {
		const struct lref *d = &dls->r[i];
		struct stat st;
		bool opq, xwh;
		int fd;

		if (d->layer < from_layer)
			continue;
		if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && errno != ENOTDIR) {
				err = -errno;
				goto fail;
			}
			if (has_wh_file(d->fd, name))
				break;
			continue;
		}
		if (stat_is_whiteout(&st) ||
		    (d->xwhiteouts && is_xwhiteout(d->fd, name, &st)))
			break;
		if (n > 0 && !S_ISDIR(st.st_mode))
			break;	/* a non-directory below a directory ends the merge */
		if (n == 0 && is_metacopy(d->fd, name, &st)) {
			err = -EPERM;
			goto fail;
		}
		if (n == 0) {
			res->st = st;
			override_apply(d->layer, d->fd, name, &res->st);
		}
		ls->r[n].layer = d->layer;
		if (!S_ISDIR(st.st_mode)) {
			/* reached by name from the parent; upper hard links
			 * get an fd of their own since their node has several
			 * names (a lower one has a node per name) */
			if (st.st_nlink > 1 && d->layer == 0) {
				ls->r[n].fd = openat(d->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
				if (ls->r[n].fd < 0) {
					err = -errno;
					goto fail;
				}
			}
			n++;
			break;
		}
		fd = openat(d->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && (errno == EACCES || errno == EPERM))
			fd = openat(d->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			goto fail;
		}
		ls->r[n].fd = fd;
		/* nothing below the parent's last layer shows through here */
		dir_markers(fd, i + 1 < dls->n, &opq, &xwh,
			    n == 0 && d->layer == 0 ? &res->protattr : NULL);
		ls->r[n].xwhiteouts = xwh;
		n++;
		if (opq) {
			if (n == 1)
				res->opaque = true;
			break;
		}
	}
	if (n == 0)
		goto fail;
	ls->n = n;
	res->ls = ls;
	return 0;
fail:
	ls->n = n;
	lset_free(ls);
	return err;
}

/* Does any lower layer below DIR's upper show NAME? Decides whether a
 * removal must leave a whiteout. Returns 1, 0 or -errno. */
int lower_has_name(struct node *dir, const char *name)
{
	struct lset *dls = node_lset(dir);
	struct stat st;

	for (int i = 0; i < dls->n; i++) {
		const struct lref *d = &dls->r[i];

		if (d->layer == 0)
			continue;
		if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return -errno;
			if (has_wh_file(d->fd, name))
				return 0;
			continue;
		}
		if (stat_is_whiteout(&st) ||
		    (d->xwhiteouts && is_xwhiteout(d->fd, name, &st)))
			return 0;
		return 1;
	}
	return 0;
}

/* Look NAME up in DIR. A directory listing taken while DIR's generation
 * was HINT_GEN saw NAME first in layer FROM_LAYER: while DIR has not
 * changed since, the layers above need no probing. */
int lookup_node_hint(struct node *dir, const char *name, int from_layer,
		     uint32_t hint_gen, struct node **out, struct stat *st)
{
	struct lookup_res res;
	struct node *n;
	int err;

	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	for (;;) {
		uint32_t gen = __atomic_load_n(&dir->gen, __ATOMIC_ACQUIRE);
		bool reused;

		if (gen != hint_gen)
			from_layer = 0;
		err = lookup_layers(dir, name, from_layer, &res);
		if (err)
			return err;
		n = node_find_or_insert(dir, name, &res.st, res.ls, res.opaque,
					&reused);
		if (res.protattr)
			node_flag_set(n, NODE_PROTATTR);
		/* A copy-up or rename in DIR raced with us: what we found
		 * may already be stale, so look again. */
		if (reused || __atomic_load_n(&dir->gen, __ATOMIC_ACQUIRE) == gen)
			break;
		node_forget(n, 1);
	}
	*st = res.st;
	fix_stat(n, st);
	*out = n;
	return 0;
}

int lookup_node(struct node *dir, const char *name, struct node **out,
		struct stat *st)
{
	return lookup_node_hint(dir, name, 0, 0, out, st);
}

void lfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct node *n;
	struct stat st;
	int err;

	err = lookup_node(node_from_id(parent), name, &n, &st);
	if (err == -ENOENT) {
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs.timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fill_entry(&e, n, &st);
	fuse_reply_entry(req, &e);
}

void lfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(node_from_id(ino), nlookup);
	fuse_reply_none(req);
}

void lfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets)
{
	static size_t since_trim;

	for (size_t i = 0; i < count; i++)
		node_forget(node_from_id(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
	/* The kernel forgets in batches when it drops its caches: hand the
	 * memory of the nodes freed back to the system, not just to malloc. */
	if (__atomic_add_fetch(&since_trim, count, __ATOMIC_RELAXED) >= 4096) {
		__atomic_store_n(&since_trim, 0, __ATOMIC_RELAXED);
		malloc_trim(0);
	}
}
