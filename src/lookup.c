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
/* Markers of a directory that only its xattr listing tells. */
struct dir_marks {
	bool protattr;	/* overlay.protattr: immutable, append-only */
	bool redirect;	/* overlay.redirect: look below elsewhere */
	bool impure;	/* holds copies that record their inode number */
	bool origin;	/* is such a copy */
};

static int dir_markers(int dirfd, bool want_opaque, bool *opaque,
		       bool *xwhiteouts, struct dir_marks *m)
{
	static const char *const names[] = {
		"trusted.overlay.opaque", "user.overlay.opaque",
		"user.fuseoverlayfs.opaque",
	};
	struct xobj dir = { .fd = dirfd };
	struct xnames x;
	struct stat st;
	bool impure;

	*opaque = false;
	*xwhiteouts = false;
	if (m)
		memset(m, 0, sizeof(*m));

	xnames_read(&x, &dir);
	xnames_each(&x, name) {
		char val[8];
		ssize_t vlen;

		if (!xattr_is_marker(name))
			continue;
		if (!strcmp(name, "trusted.overlay.whiteouts") ||
		    !strcmp(name, "user.overlay.whiteouts")) {
			*xwhiteouts = true;
			continue;
		}
		if (m && (!strcmp(name, "trusted.overlay.protattr") ||
			  !strcmp(name, "user.overlay.protattr"))) {
			m->protattr = true;
			continue;
		}
		if (m && (!strcmp(name, "trusted.overlay.redirect") ||
			  !strcmp(name, "user.overlay.redirect"))) {
			m->redirect = true;
			continue;
		}
		if (m && origin_xattr_name(name, &impure)) {
			if (impure)
				m->impure = true;
			else
				m->origin = true;
			continue;
		}
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strcmp(name, names[i]))
				continue;
			vlen = fgetxattr(dirfd, name, val, sizeof(val));
			opaque_value(val, vlen, opaque, xwhiteouts);
		}
	}
	xnames_free(&x);
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
	struct xobj o = { .fd = dirfd, .at = name };

	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	return xobj_get(&o, "trusted.overlay.whiteout", NULL, 0) >= 0 ||
	       xobj_get(&o, "user.overlay.whiteout", NULL, 0) >= 0;
}

/* Is NAME (attributes ST) in DIRFD a metacopy file, whose data the
 * kernel's overlay with metacopy=on finds in a layer below? Such a file
 * is sparse, all holes but for a block of xattrs at most, which spares
 * the xattr lookup for nearly every file (an empty one is not caught).
 * A file that fits in one block looks the same whether the block holds
 * its data or the xattrs (the kernel's metacopy and origin xattrs take
 * one on ext4 with 256-byte inodes): it is asked in the UPPER layer,
 * where the kernel's overlay leaves such files, and not in lower layers,
 * where the question would cost every small file's first lookup. The
 * kernel's default (metacopy=off) refuses to follow one, and so does
 * layerfs: EPERM. */
static bool is_metacopy(int dirfd, const char *name, const struct stat *st,
			bool upper)
{
	struct xobj o = { .fd = dirfd, .at = name };

	if (!S_ISREG(st->st_mode) || st->st_size == 0 || st->st_blocks > 8 ||
	    ((off_t)st->st_blocks * 512 >= st->st_size &&
	     (st->st_size > 4096 || !upper)))
		return false;
	return xobj_get(&o, "trusted.overlay.metacopy", NULL, 0) >= 0 ||
	       xobj_get(&o, "user.overlay.metacopy", NULL, 0) >= 0;
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

/* What NAME is in the layer directory PFD (XWH: it holds xattr
 * whiteouts): NAME_FOUND, with its attributes in ST (taken from KNOWN
 * when the caller has them), NAME_HIDDEN by a whiteout, so that nothing
 * below shows, NAME_ABSENT, or -errno. */
enum { NAME_ABSENT, NAME_HIDDEN, NAME_FOUND };

static int layer_name(int pfd, bool xwh, const char *name,
		      const struct stat *known, struct stat *st)
{
	if (known) {
		*st = *known;
	} else if (fstatat(pfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		return has_wh_file(pfd, name) ? NAME_HIDDEN : NAME_ABSENT;
	}
	if (stat_is_whiteout(st) || (xwh && is_xwhiteout(pfd, name, st)))
		return NAME_HIDDEN;
	return NAME_FOUND;
}

/* A lookup under way: the refs found so far, and where to look next. */
struct probe {
	struct lset *ls;	/* N refs found, room for CAP */
	int n, cap;
	struct lookup_res *res;
	char *redirect;		/* of the last directory found, if any */
	bool redirected;	/* a redirect was followed */
	bool impure;		/* the upper parent holds recorded copies */
};

/* Read the redirect of the directory FD (the kernel's overlay writes
 * one when it renames a merged directory with redirect_dir=on, and
 * follows it by default): a name in the same parent, or a path from the
 * layers' roots. 0 with *OUT NULL (none) or set; 1 when it leads nowhere
 * (a name too long for a name: the kernel finds nothing below); -EINVAL
 * for a malformed one, -EACCES for one with "." or "..", which fail the
 * lookup as on the kernel. */
static int read_redirect(int fd, char **out)
{
	static const char *const names[] = {
		"trusted.overlay.redirect", "user.overlay.redirect",
	};
	char buf[PATH_MAX];

	*out = NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ssize_t len = fgetxattr(fd, names[i], buf, sizeof(buf) - 1);
		const char *c;

		if (len < 0)
			continue;
		if (len == 0)
			return -EINVAL;
		buf[len] = '\0';
		if (buf[0] != '/') {
			if (strchr(buf, '/'))
				return -EINVAL;
			if (!strcmp(buf, ".") || !strcmp(buf, ".."))
				return -EACCES;	/* as the kernel's lookup of them */
			if (len > NAME_MAX)
				return 1;
			*out = xstrdup(buf);
			return 0;
		}
		for (c = buf; *c == '/'; ) {
			const char *e = strchrnul(c + 1, '/');
			size_t l = (size_t)(e - c - 1);

			if (l == 0)
				return -EINVAL;
			if ((l == 1 && c[1] == '.') || (l == 2 && c[1] == '.' && c[2] == '.'))
				return -EACCES;
			if (l > NAME_MAX)
				return 1;
			c = e;
		}
		*out = xstrdup(buf);
		return 0;
	}
	return 0;
}

/* For the snapshot tools, which compare the upper with the layers by
 * path: where the redirect of the upper directory FD, named NAME in the
 * directory PARENT ("" or a path from the root ending in '/'), leads,
 * when that is not PARENT NAME itself and FD is not opaque (then the
 * mount shows in it what the layers hold there): a path from the
 * layers' roots, without the leading '/'. NULL otherwise. */
char *dir_redirect_elsewhere(int fd, const char *parent, const char *name)
{
	bool opaque = false, xwh = false;
	char *r = NULL, *to;
	size_t n = strlen(parent);

	if (read_redirect(fd, &r) != 0 || !r)
		return NULL;
	dir_opaque_state(fd, &opaque, &xwh);
	if (r[0] == '/') {
		const char *p = r;

		while (*p == '/')
			p++;
		to = xstrdup(p);
	} else {
		to = xmalloc(n + strlen(r) + 1);
		sprintf(to, "%s%s", parent, r);
	}
	free(r);
	if (opaque || (!strncmp(to, parent, n) && !strcmp(to + n, name))) {
		free(to);
		return NULL;
	}
	return to;
}

/* PATH (absolute) with its last component replaced by NAME. */
static char *path_with_last(const char *path, const char *name)
{
	size_t keep = (size_t)(strrchr(path, '/') - path) + 1;
	char *joined = xmalloc(keep + strlen(name) + 1);

	memcpy(joined, path, keep);
	strcpy(joined + keep, name);
	return joined;
}

/* A descriptor of the directory NAME in PFD: readable where permitted,
 * else O_PATH (a directory we may not list can still be looked into);
 * -1 with errno. */
static int open_dir(int pfd, const char *name)
{
	int fd = fdrelief_openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);

	if (fd < 0 && (errno == EACCES || errno == EPERM))
		fd = fdrelief_openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	return fd;
}

/* Look NAME up in PFD, the directory of layer LAYER where the lookup
 * goes on (XWH: it holds xattr whiteouts; MERGE: directories of the
 * next layers may merge with what is found, so its opaque marker file
 * matters; BELOW: there are layers below, which a redirect may reach).
 * Returns 1 to go on to the layers below, 0 when nothing below shows
 * through, or -errno. */
static int probe_layer(struct probe *p, int pfd, int layer, bool xwh,
		       const char *name, bool merge, bool below,
		       const struct stat *known)
{
	struct lookup_res *res = p->res;
	struct dir_marks m;
	struct stat st;
	bool opq, dxwh;
	int fd, tries = 0, r;

again:
	r = layer_name(pfd, xwh, name, known, &st);
	if (r != NAME_FOUND)
		return r < 0 ? r : r == NAME_ABSENT;
	if (p->n > 0 && !S_ISDIR(st.st_mode))
		return 0;	/* a non-directory below a directory ends the merge */
	if (p->n == 0 && is_metacopy(pfd, name, &st, layer == 0))
		return -EPERM;
	if (p->n == p->cap) {
		struct lset *nls = lset_new(fs.nlayers);

		memcpy(nls->r, p->ls->r, sizeof(nls->r[0]) * (size_t)p->n);
		p->ls->n = 0;
		lset_free(p->ls);
		p->ls = nls;
		p->cap = fs.nlayers;
	}
	if (p->n == 0) {
		res->st = st;
		override_apply(layer, pfd, name, &res->st);
		/* a copy keeps the inode number it showed before, and
		 * may be immutable or append-only */
		if (layer == 0 && p->impure && !S_ISDIR(st.st_mode))
			origin_child_records(pfd, name, st.st_ino, &res->origin,
					     &res->protattr);
	}
	p->ls->r[p->n].layer = layer;
	if (!S_ISDIR(st.st_mode)) {
		/* reached by name from the parent; upper hard links get an
		 * fd of their own since their node has several names (a
		 * lower one has a node per name) */
		if (st.st_nlink > 1 && layer == 0) {
			fd = fdrelief_openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
			if (fd < 0)
				return -errno;
			p->ls->r[p->n].fd = fd;
		}
		p->n++;
		return 0;
	}
	fd = open_dir(pfd, name);
	if (fd < 0 && (errno == ENOTDIR || errno == ENOENT) && tries++ < 3) {
		/* replaced or removed since the stat (an rmdir swaps the
		 * directory for its whiteout): look at the name again */
		known = NULL;
		goto again;
	}
	if (fd < 0)
		return -errno;
	p->ls->r[p->n].fd = fd;
	dir_markers(fd, merge, &opq, &dxwh, &m);
	p->ls->r[p->n].xwhiteouts = dxwh;
	if (p->n == 0 && layer == 0) {
		res->protattr = m.protattr;
		res->impure = m.impure;
		if (p->impure && m.origin)
			origin_read(-1, NULL, fd, st.st_ino, &res->origin);
	} else if (p->n == 1 && p->ls->r[0].layer == 0 && !res->origin) {
		/* an upper directory merged with this one and recording no
		 * number of its own (made by another overlay, or by hand):
		 * it shows this one's, as on the kernel's overlay, which
		 * numbers a merged directory after its top lower one */
		res->origin = ino_of(layer, &st);
	}
	p->n++;
	if (opq) {
		if (p->n == 1)
			res->opaque = true;
		return 0;
	}
	if (m.redirect && below) {
		r = read_redirect(fd, &p->redirect);
		if (r)
			return r < 0 ? r : 0;
		p->redirected = true;
	}
	return 1;
}

/* Open the directory holding the last component of the absolute PATH
 * in the layer whose root is ROOT; *LAST points to that component.
 * -ENOENT where the layer does not have it, -ENOTDIR where a whiteout
 * or a non-directory on the way hides it and all layers below. As the
 * kernel's walk does, a directory on the way that is opaque sets *STOP
 * (no layer below is searched), and one with a redirect gives the path
 * the layers below are searched at, in *REWRITE (the caller frees it). */
static int walk_parent(int root, const char *path, const char **last,
		       bool *stop, char **rewrite)
{
	char comp[NAME_MAX + 1];
	const char *c = path + 1, *e;
	struct dir_marks m;
	struct stat st;
	bool opq, xwh;
	int fd = fdrelief_dup(root), nfd, r;

	if (fd < 0)
		return -errno;
	for (;;) {
		e = strchrnul(c, '/');
		if (!*e) {
			*last = c;
			return fd;
		}
		snprintf(comp, sizeof(comp), "%.*s", (int)(e - c), c);
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			nfd = errno == ENOENT && !has_wh_file(fd, comp) ? -ENOENT : -ENOTDIR;
			close(fd);
			return nfd;
		}
		if (!S_ISDIR(st.st_mode)) {
			close(fd);
			return -ENOTDIR;
		}
		nfd = open_dir(fd, comp);
		close(fd);
		if (nfd < 0)
			return -errno;
		fd = nfd;
		dir_markers(fd, true, &opq, &xwh, &m);
		if (opq)
			*stop = true;
		if (m.redirect) {
			char *to, *head, *named;
			size_t rest = strlen(e);

			r = read_redirect(fd, &to);
			if (r) {
				close(fd);
				return r < 0 ? r : -ENOTDIR;
			}
			if (to) {
				if (to[0] != '/') {	/* beside this component */
					head = xmalloc((size_t)(e - path) + 1);
					memcpy(head, path, (size_t)(e - path));
					head[e - path] = '\0';
					named = path_with_last(head, to);
					free(head);
					free(to);
					to = named;
				}
				free(*rewrite);
				*rewrite = xmalloc(strlen(to) + rest + 1);
				strcpy(*rewrite, to);
				strcat(*rewrite, e);
				free(to);
			}
		}
		c = e + 1;
	}
}

/* Follow the absolute redirect P->redirect through the layers below
 * FROM, and the redirects found on the way. 0 or -errno. */
static int follow_redirects(struct probe *p, int from)
{
	char *path = p->redirect;
	int err = 0;

	p->redirect = NULL;
	for (int layer = from; path && layer < fs.nlayers; layer++) {
		const char *last;
		char *rewrite = NULL;
		bool xwh = false, opq, stop = false;
		int pfd, r = 1;

		if (!fs.layers[layer].present)
			continue;
		pfd = walk_parent(fs.layers[layer].fd, path, &last, &stop, &rewrite);
		if (pfd < 0 && pfd != -ENOENT) {
			if (pfd != -ENOTDIR)
				err = pfd;
			free(rewrite);
			break;
		}
		if (pfd >= 0) {
			dir_markers(pfd, true, &opq, &xwh, NULL);
			stop = stop || opq;
			r = probe_layer(p, pfd, layer, xwh, last, layer + 1 < fs.nlayers,
					layer + 1 < fs.nlayers, NULL);
			close(pfd);
		}
		if (rewrite) {
			free(path);
			path = rewrite;
		}
		if (r <= 0) {
			err = r;
			break;
		}
		if (p->redirect) {
			char *next = p->redirect;

			p->redirect = NULL;
			if (next[0] != '/') {	/* a name beside the last one */
				char *joined = path_with_last(path, next);

				free(next);
				next = joined;
			}
			free(path);
			path = next;
		}
		if (stop)
			break;
	}
	free(path);
	return err;
}

/* Find NAME below DIR. On success res->ls holds one ref per layer that
 * contributes, top-most first, and res->st describes the top-most.
 * Layers above FROM_LAYER are known to hold neither NAME nor a whiteout
 * of it (0: probe them all), and KNOWN, if given, is what a stat of NAME
 * in FROM_LAYER found (a lower layer's, which cannot change). A
 * directory's redirect sends the lookup in the layers below it to
 * another name or path. */
int lookup_layers(struct node *dir, const char *name, int from_layer,
		  const struct stat *known, struct lookup_res *res)
{
	struct lset *dls = node_lset(dir);
	struct probe p = { .ls = lset_new(dls->n), .cap = dls->n, .res = res,
			   .impure = dls->r[0].layer == 0 && node_has(dir, NODE_IMPURE) };
	const char *cur = name;
	char *renamed = NULL;
	int err = 0, r = 1;

	memset(&res->st, 0, sizeof(res->st));
	res->opaque = false;
	res->protattr = false;
	res->impure = false;
	res->redirected = false;
	res->origin = 0;
	res->ls = NULL;

	if (strlen(name) > fs.namemax) {
		lset_free(p.ls);
		return -ENAMETOOLONG;
	}
	if (name_is_internal(name)) {
		lset_free(p.ls);
		return -ENOENT;
	}

	for (int i = 0; i < dls->n && r > 0; i++) {
		const struct lref *d = &dls->r[i];
		const struct stat *kn = d->layer == from_layer && d->layer > 0 ? known : NULL;
		int found = p.n;

		if (d->layer < from_layer)
			continue;
		if (!kn && lower_lacks(d, cur))
			continue;	/* neither NAME nor its .wh. file */
		r = probe_layer(&p, d->fd, d->layer, d->xwhiteouts, cur,
				i + 1 < dls->n, d->layer + 1 < fs.nlayers, kn);
		if (r == 1 && p.n == found)
			lower_missed(d);
		if (r <= 0 || !p.redirect)
			continue;
		if (p.redirect[0] == '/') {
			r = follow_redirects(&p, d->layer + 1);
			break;
		}
		free(renamed);
		cur = renamed = p.redirect;
		p.redirect = NULL;
	}
	free(renamed);
	free(p.redirect);
	res->redirected = p.redirected;
	if (r < 0)
		err = r;
	else if (p.n == 0)
		err = -ENOENT;
	if (err) {
		p.ls->n = p.n;
		lset_free(p.ls);
		return err;
	}
	p.ls->n = p.n;
	res->ls = p.ls;
	return 0;
}

/* Does any lower layer below DIR's upper show NAME? Decides whether a
 * removal must leave a whiteout. Returns 1, 0 or -errno. */
int lower_has_name(struct node *dir, const char *name)
{
	struct lset *dls = node_lset(dir);
	struct stat st;

	for (int i = 0; i < dls->n; i++) {
		const struct lref *d = &dls->r[i];
		int r;

		if (d->layer == 0 || lower_lacks(d, name))
			continue;
		r = layer_name(d->fd, d->xwhiteouts, name, NULL, &st);
		if (r != NAME_ABSENT)
			return r < 0 ? r : r == NAME_FOUND;
		lower_missed(d);
	}
	return 0;
}

/* Look NAME up in DIR. A directory listing taken while DIR's generation
 * was HINT_GEN saw NAME first in layer FROM_LAYER: while DIR has not
 * changed since, the layers above need no probing. */
int lookup_node_hint(struct node *dir, const char *name, int from_layer,
		     uint32_t hint_gen, const struct stat *known,
		     struct node **out, struct stat *st)
{
	struct lookup_res res;
	struct node *n;
	bool changed;
	int err;

	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	for (;;) {
		uint32_t gen = __atomic_load_n(&dir->gen, __ATOMIC_ACQUIRE);
		unsigned flags = 0;
		bool reused, below;

		if (gen != hint_gen) {
			from_layer = 0;
			known = NULL;
		}
		err = lookup_layers(dir, name, from_layer, known, &res);
		if (err)
			return err;
		test_pause("lookup", name);
		if (res.origin)
			ino_remap_add(res.st.st_dev, res.st.st_ino, res.origin);
		if (res.opaque)
			flags |= NODE_OPAQUE;
		/* Found through a redirect, or below a directory that was:
		 * another directory may redirect to the same lower one, so a
		 * lower file here gets a node per path, as a lower hard link
		 * gets one per name, and a copy-up through one path lands in
		 * that path's upper directory. */
		below = res.redirected || node_has(dir, NODE_REDIRECTED);
		if (!S_ISDIR(res.st.st_mode) && res.ls->r[0].layer != 0 && below)
			flags |= NODE_BYNAME;
		/* Found in the upper while a copy-up of the name is under
		 * way: this may be its copy, whose node is still filed under
		 * the lower object (a node made here would be a second one).
		 * The lower object found before the copy is in place needs
		 * no wait: its node is found, or the gen check below sees
		 * the copy-up. */
		if (res.ls->r[0].layer == 0 && copyup_wait(dir, name)) {
			lset_free(res.ls);
			continue;
		}
		n = node_find_or_insert(dir, name, &res.st, res.ls, flags, &reused);
		if (res.protattr)
			node_flag_set(n, NODE_PROTATTR);
		if (res.impure)
			node_flag_set(n, NODE_IMPURE);
		if (res.origin)
			node_flag_set(n, NODE_ORIGIN);
		/* A directory reached by a second path, one of them through
		 * a redirect, would keep the first path's parent and name:
		 * the kernel answers ESTALE (its inode is keyed by the lower
		 * directory, and its upper differs). */
		if (reused && S_ISDIR(n->type) &&
		    (below || node_has(n, NODE_REDIRECTED)) &&
		    !node_named(n, dir, name)) {
			node_forget(n, 1);
			return -ESTALE;
		}
		if (below && S_ISDIR(n->type))
			node_flag_set(n, NODE_REDIRECTED);
		/* A copy-up or rename in DIR raced with us: what we found
		 * may already be stale, so look again; a node that was there
		 * already has its layers right, but the attributes read
		 * before may be older than its change. */
		changed = __atomic_load_n(&dir->gen, __ATOMIC_ACQUIRE) != gen;
		if (reused || !changed)
			break;
		node_forget(n, 1);
	}
	if (!changed || node_stat(n, st) != 0) {
		*st = res.st;
		fix_stat(n, st);
	}
	*out = n;
	return 0;
}

int lookup_node(struct node *dir, const char *name, struct node **out,
		struct stat *st)
{
	return lookup_node_hint(dir, name, 0, 0, NULL, out, st);
}

void lfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct node *n, *dir;
	struct stat st;
	int err;

	test_pause("lookup_request", name);
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
	/* a name looked up while a descriptor still holds an inode whose
	 * writeback failed would keep it after the last close, and with it
	 * the size the failed write made: the entry goes again, after the
	 * reply (read before it: N may be forgotten once it is out) */
	dir = node_has(n, NODE_WB_FAILED) ? node_get(node_from_id(parent)) : NULL;
	fill_entry(&e, n, &st);
	fuse_reply_entry(req, &e);
	if (dir) {
		inval_entry_later(dir, name);
		node_put(dir);
	}
}

void lfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(node_from_id(ino), nlookup);
	fuse_reply_none(req);
	prefetch_drop_done();
}

void lfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets)
{
	static size_t since_trim;

	for (size_t i = 0; i < count; i++)
		node_forget(node_from_id(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
	prefetch_drop_done();
	/* The kernel forgets in batches when it drops its caches: hand the
	 * memory of the nodes freed back to the system, not just to malloc. */
	if (__atomic_add_fetch(&since_trim, count, __ATOMIC_RELAXED) >= 4096) {
		__atomic_store_n(&since_trim, 0, __ATOMIC_RELAXED);
		malloc_trim(0);
	}
}
