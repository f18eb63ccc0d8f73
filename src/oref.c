/* How a node's real objects are reached: its top-most object as a
 * directory descriptor and a name (an oref) for *at() calls, or its own
 * descriptor; opening and stating through one; pinning a non-directory
 * with an O_PATH descriptor of its own when a name alone may not find it
 * any more (docs/architecture.md, "Nodes and how objects are reached"). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

bool node_in_upper(struct node *n)
{
	struct lset *ls = node_lset(n);

	return fs.has_upper && ls->r[0].layer == 0;
}

int node_upper_fd(struct node *n)
{
	struct lset *ls = node_lset(n);

	return (fs.has_upper && ls->r[0].layer == 0) ? ls->r[0].fd : -1;
}

/* Snapshot of where the node lives; the caller puts *parent and frees
 * *name. Returns -ENOENT for the root and for unlinked nodes. */
int node_parent_name(struct node *n, struct node **parent, char **name)
{
	int ret = 0;

	pthread_mutex_lock(name_lock_of(n));
	if (!n->parent || node_has(n, NODE_UNLINKED)) {
		ret = -ENOENT;
	} else {
		*parent = node_get(n->parent);
		*name = xstrdup(n->name);
	}
	pthread_mutex_unlock(name_lock_of(n));
	return ret;
}

/* The object R holds an fd of its own for (a directory, a pinned file):
 * reached through that fd, no name. */
void oref_of_lref(const struct lref *r, struct oref *o)
{
	o->hold = NULL;
	o->ls = NULL;
	o->mseq = 0;
	o->buf[0] = '\0';
	o->name = o->buf;
	o->layer = r->layer;
	o->dirfd = r->fd;
}

/* Resolve where the node's top-most object can be reached now. A name
 * found here may be given to another object before the caller uses it:
 * a rename over it pins the node first (node_pin()), a rename of the node
 * itself counts in its move count. The kernel keeps renames apart from
 * whatever changes the objects they move (inode locks), but not from
 * reads: a caller that only reads asks oref_put_moved() afterwards, and
 * reads again where the name may have led elsewhere. */
int node_oref(struct node *n, struct oref *o)
{
	/* A parent without the layer N was read in: N was copied up after
	 * its set was read here, and its parent made upper-only since (the
	 * tree copy of a rename, copyup_tree.c, sets the children first):
	 * a write of a file open through the moved directory failed with
	 * ESTALE. Read N's set again. */
	for (int tries = 0;; tries++) {
		uint16_t mseq = __atomic_load_n(&n->mseq, __ATOMIC_SEQ_CST);
		struct lset *ls = node_lset(n), *pls;

		oref_of_lref(&ls->r[0], o);
		o->ls = ls;
		o->mseq = mseq;
		if (ls->r[0].fd >= 0)
			return 0;
		pthread_mutex_lock(name_lock_of(n));
		if (!n->parent) {
			pthread_mutex_unlock(name_lock_of(n));
			return -ESTALE;
		}
		o->hold = node_get(n->parent);
		snprintf(o->buf, sizeof(o->buf), "%s", n->name);
		pthread_mutex_unlock(name_lock_of(n));
		test_pause("oref", o->buf);
		pls = node_lset(o->hold);
		for (int i = 0; i < pls->n; i++) {
			if (pls->r[i].layer == o->layer) {
				o->dirfd = pls->r[i].fd;
				return 0;
			}
		}
		oref_put(o);
		if (node_lset(n) == ls || tries == 3)
			return -ESTALE;
	}
}

void oref_put(struct oref *o)
{
	if (o->hold)
		node_put(o->hold);
	o->hold = NULL;
}

/* Put O, resolved by node_oref(N, O). True if what was done through it
 * may have reached another object: O went by name, and since then the
 * node was pinned or copied up (a new set), or a rename of it began. */
bool oref_put_moved(struct node *n, struct oref *o)
{
	oref_put(o);
	if (!o->name[0])
		return false;	/* the object's own fd */
	if (node_lset(n) == o->ls && !(o->mseq & 1) &&
	    __atomic_load_n(&n->mseq, __ATOMIC_SEQ_CST) == o->mseq)
		return false;
	sched_yield();		/* a rename may still be under way */
	return true;
}

/* A rename moves N's object to another name: odd from before the
 * rename(2) until the node's name is the new one. The kernel holds the
 * inode lock of what a rename moves, so no two overlap on one node. */
void node_move_begin(struct node *n)
{
	__atomic_add_fetch(&n->mseq, 1, __ATOMIC_SEQ_CST);
}

void node_move_end(struct node *n)
{
	__atomic_add_fetch(&n->mseq, 1, __ATOMIC_SEQ_CST);
}

int oref_open(const struct oref *o, int flags)
{
	if (layer_wants_noatime(o->layer, false))
		flags |= O_NOATIME;
	if (!o->name[0])
		return reopen_fd(o->dirfd, flags);
	return layer_openat(o->dirfd, o->name, flags | O_NOFOLLOW | O_CLOEXEC);
}

/* Open the node's top-most object with FLAGS (oref_open()), again if a
 * rename moved its name meanwhile; returns an fd or -errno. */
int node_open(struct node *n, int flags)
{
	struct oref o;
	int fd, err;

	for (;;) {
		err = node_oref(n, &o);
		if (err)
			return err;
		fd = oref_open(&o, flags);
		if (fd < 0)
			fd = -errno;
		if (!oref_put_moved(n, &o))
			return fd;
		if (fd >= 0)
			close(fd);
	}
}

int oref_path(const struct oref *o, char *buf, size_t len)
{
	if (!o->name[0]) {
		fd_path(o->dirfd, buf, len);
		return 0;
	}
	return fd_path_at(o->dirfd, o->name, buf, len);
}

int oref_stat(const struct oref *o, struct stat *st)
{
	int flags = AT_SYMLINK_NOFOLLOW | (o->name[0] ? 0 : AT_EMPTY_PATH);

	if (fstatat(o->dirfd, o->name, st, flags) < 0)
		return -errno;
	override_apply(o->layer, o->dirfd, o->name, st);
	return 0;
}

/* Give a non-directory its own O_PATH fd, so that it stays reachable
 * after its name goes or when it has several names. */
int node_pin(struct node *n)
{
	struct lset *ls, *nls;
	struct oref o;
	int fd, err;

	if (S_ISDIR(n->type) || node_lset(n)->r[0].fd >= 0)
		return 0;
	for (;;) {
		err = node_oref(n, &o);
		if (err)
			return err;
		fd = fdrelief_openat(o.dirfd, o.name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		err = fd < 0 ? -errno : 0;
		oref_put(&o);
		if (err)
			return err;
		node_lock_settled(n);
		ls = node_lset(n);
		if (ls->r[0].fd < 0 && ls->r[0].layer == o.layer)
			break;
		node_unlock(n);
		close(fd);
		if (ls->r[0].fd >= 0)
			return 0;
		/* copied up meanwhile: resolve again */
	}
	nls = lset_new(1);
	nls->r[0] = ls->r[0];
	nls->r[0].fd = fd;
	node_set_lset(n, nls);
	node_unlock(n);
	return 0;
}
