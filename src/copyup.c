/* Copy-up: before anything changes an object that lives only in a lower
 * layer, copy it into the upper layer. Parents go first; the object is
 * built in the staging directory (data, owner, xattrs, mode, times), a
 * regular file as an unnamed one, and linked or renamed into place, so
 * the upper never holds a partial copy. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

char *staging_name(char *buf, size_t len)
{
	uint64_t c = __atomic_add_fetch(&fs.tmpcounter, 1, __ATOMIC_RELAXED);

	snprintf(buf, len, "#%x.%llx", (unsigned)getpid(), (unsigned long long)c);
	return buf;
}

/* Overlay markers stay behind; ownership overrides are rewritten from
 * the logical attributes in the upper's own form. */
static bool xattr_copyable(const char *name)
{
	return !xattr_is_internal(name) && !xattr_is_override(name);
}

/* Which xattr the copy cannot do without, as the kernel's overlay
 * decides (ovl_copy_xattr()): a POSIX ACL never (left behind, it could
 * widen access), user data unless the upper keeps no xattrs at all, and
 * none that the upper refuses for want of room (ENOSPC, E2BIG: the
 * kernel fails those too). Security labels and trusted.* the daemon may
 * not set (a user namespace) or the upper does not keep are dropped,
 * where the kernel fails on labels: its LSM hooks drop the labels they
 * recompute, and a rootless daemon could copy up no file of an image
 * built where labels are kept. */
static bool copyup_fatal(const char *name, int err)
{
	if (!strcmp(name, "system.posix_acl_access") ||
	    !strcmp(name, "system.posix_acl_default"))
		return true;
	if (!strncmp(name, "user.", 5))
		return err != ENOTSUP;
	return err != ENOTSUP && err != EPERM && err != EACCES;
}

/* Copy xattrs between two descriptors (regular files and directories). */
int copy_xattrs(int src, int dst)
{
	return xattrs_copy_fd(src, dst, xattr_copyable, copyup_fatal);
}

/* Same, by path, for objects that cannot be opened (symlinks, fifos,
 * devices); a symlink's own xattrs (security labels, trusted.*), not its
 * target's. SRC is a name in a directory, or a /proc/self/fd link to
 * the object itself (FOLLOW: that link leads to the object, a symlink
 * included, and is not followed further). */
static int copy_xattrs_path(const char *src, bool follow, const char *dst)
{
	struct xobj s = { .path = src, .follow = follow }, d = { .path = dst };

	return xattrs_copy(&s, &d, xattr_copyable, copyup_fatal);
}

int restore_dir_times(int dirfd, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (futimens(dirfd, ts) < 0 && utimensat(dirfd, "", ts, AT_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

/* The staging directory's file system has no unnamed files (O_TMPFILE
 * was refused once): regular files are staged under a name too. */
static bool no_unnamed;

/* An unnamed file in the staging directory (O_TMPFILE), or -errno:
 * -EOPNOTSUPP where there is none to have. It is put in place through
 * its /proc link (link_fd_at()). */
static int unnamed_open(void)
{
	int fd;

	if (fs.procfd < 0 || __atomic_load_n(&no_unnamed, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	fd = fdrelief_openat(fs.workfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
		__atomic_store_n(&no_unnamed, true, __ATOMIC_RELAXED);
		return -EOPNOTSUPP;
	}
	return -errno;
}

/* Turn the unnamed copy's read-write descriptor *FD into an O_PATH one
 * (a node keeping it open for writing would make the file unrunnable:
 * ETXTBSY). On failure *FD is closed and -1. */
static int fd_to_path(int *fd)
{
	int pfd = reopen_fd(*fd, O_PATH);
	int err = pfd < 0 ? -errno : 0;

	close(*fd);
	*fd = pfd;
	return err;
}

/* Build a copy of the object SRC (an lref, with attributes ST) in the
 * staging directory under a new name written to TMP, or, for a regular
 * file where UNNAMED allows and the file system can, as an unnamed file
 * (TMP is left empty then). Returns an fd to keep for the new object
 * (O_RDONLY for a directory, O_RDWR for an unnamed file, O_PATH
 * otherwise) or -errno. The immutable and append-only flags it keeps go
 * to *PROT.
 *
 * Unnamed is the kernel's overlay's way too: on ext4 the fsync of a
 * file that has a new name also writes its directory's block and inode
 * (without a journal, one more synchronous write per copy-up), and the
 * staging directory is left alone. */
static int stage_copy(const struct oref *src, const struct stat *st,
		      char tmp[STAGING_LEN], unsigned flags, unsigned *prot,
		      bool unnamed)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	mode_t type = st->st_mode & S_IFMT;
	mode_t real_mode = st->st_mode & 07777;
	char spath[PATH_MAX], dpath[PATH_MAX];
	int in = -1, out = -1, keep = -1, err = 0;

	/* a name only for what is not an unnamed file */
	tmp[0] = '\0';
	if (type != S_IFREG)
		staging_name(tmp, STAGING_LEN);
	switch (type) {
	case S_IFREG:
		in = oref_open(src, O_RDONLY);
		if (in < 0)
			return -errno;
		out = unnamed ? unnamed_open() : -EOPNOTSUPP;
		if (out == -EOPNOTSUPP) {
			staging_name(tmp, STAGING_LEN);
			out = fdrelief_openat(fs.workfd, tmp, O_CREAT | O_EXCL |
					      O_RDWR | O_CLOEXEC, 0600);
			if (out < 0)
				out = -errno;
		}
		if (out < 0) {
			err = out;
			out = -1;
			goto out;
		}
		if (!(flags & COPYUP_NODATA))
			err = copy_data(in, out, st);
		break;
	case S_IFDIR:
		if (mkdirat(fs.workfd, tmp, 0700) < 0)
			return -errno;
		in = fdrelief_dup(src->dirfd);
		out = in < 0 ? -1 : fdrelief_openat(fs.workfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
		if (out < 0)
			err = -errno;
		break;
	case S_IFLNK: {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(src->dirfd, src->name, target, sizeof(target) - 1);

		if (n < 0)
			return -errno;
		target[n] = '\0';
		if (symlinkat(target, fs.workfd, tmp) < 0)
			return -errno;
		break;
	}
	default:
		if (mknodat(fs.workfd, tmp, type | 0600, st->st_rdev) < 0)
			return -errno;
		break;
	}
	if (err)
		goto out;

	/* With the owner in an override xattr the copy belongs to the daemon:
	 * it must not carry set-id bits for that owner. */
	if (fs.override_xattr)
		real_mode &= ~(mode_t)(S_ISUID | S_ISGID);
	/* owner first: chown drops capabilities and set-id bits */
	if (out >= 0) {
		if (fs.override_xattr) {
			err = override_write(out, "", st->st_uid, st->st_gid, st->st_mode);
			if (err)
				goto out;
		} else if (fchown(out, st->st_uid, st->st_gid) < 0 && fs.can_chown) {
			err = -errno;
			goto out;
		}
		err = copy_xattrs(in, out);
		if (err)
			goto out;
		fileattr_copy(in, out, prot);
		if (fchmod(out, real_mode) < 0) {
			err = -errno;
			goto out;
		}
		if (type == S_IFREG && fs.cfg->fsync && fsync(out) < 0) {
			err = -errno;
			goto out;
		}
		if (futimens(out, ts) < 0) {
			err = -errno;
			goto out;
		}
	} else {
		err = set_owner_at(fs.workfd, tmp, st->st_uid, st->st_gid, st->st_mode);
		if (err && fs.can_chown && !fs.override_xattr)
			goto out;
		err = 0;
		fd_path_at(fs.workfd, tmp, dpath, sizeof(dpath));
		oref_path(src, spath, sizeof(spath));
		err = copy_xattrs_path(spath, !src->name[0], dpath);
		if (err)
			goto out;
		if (type != S_IFLNK && fchmodat(fs.workfd, tmp, real_mode, 0) < 0) {
			err = -errno;
			goto out;
		}
		if (utimensat(fs.workfd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (type == S_IFDIR || !tmp[0]) {
		keep = out;
		out = -1;
	} else {
		keep = fdrelief_openat(fs.workfd, tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
		if (keep < 0)
			err = -errno;
	}
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err) {
		if (keep >= 0)
			close(keep);
		if (tmp[0] && unlinkat(fs.workfd, tmp, type == S_IFDIR ? AT_REMOVEDIR : 0) < 0)
			remove_tree_at(fs.workfd, tmp);
		return err;
	}
	return keep;
}

/* Move the staged copy TMP to NAME in the upper directory PARENT_FD. Where
 * a lower file is copied up the upper holds nothing by that name, so a
 * file never replaces anything there: EEXIST tells that a rename has put
 * another file under the name meanwhile (copyup() then copies aside). */
static int rename_into_place(const char *tmp, int parent_fd, const char *name,
			     const struct stat *st)
{
	if (!S_ISDIR(st->st_mode)) {
		if (renameat2(fs.workfd, tmp, parent_fd, name, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EINVAL)	/* a filesystem without the flag */
			return -1;
	}
	return renameat(fs.workfd, tmp, parent_fd, name);
}

/* A copy made in the staging directory, not yet in place. */
struct staged {
	struct stat st;		/* of the source */
	struct stat nst;	/* of the copy */
	char tmp[STAGING_LEN];	/* its staging name; "": an unnamed file */
	int fd;			/* kept for the copy; -1: nothing staged */
	unsigned prot;		/* immutable and append-only flags kept */
	bool tree_linked;	/* maybe a link to a copy in a tree copy */
};

/* Drop what is staged; ERR is returned. */
static int unstage(struct staged *s, int err)
{
	close(s->fd);
	if (s->tmp[0])
		remove_tree_at(fs.workfd, s->tmp);
	s->fd = -1;
	return err;
}

static int stage_now(const struct oref *src, unsigned flags, struct staged *s,
		     bool unnamed)
{
	int fd;

	s->prot = 0;
	fd = stage_copy(src, &s->st, s->tmp, flags, &s->prot, unnamed);
	if (fd < 0)
		return fd;
	s->fd = fd;
	if (fstat(s->fd, &s->nst) < 0)
		return unstage(s, -errno);
	if (S_ISDIR(s->st.st_mode) || s->st.st_nlink == 1) {
		/* a named file by its name: its fd is an O_PATH one */
		bool by_fd = S_ISDIR(s->st.st_mode) || !s->tmp[0];
		struct xobj o = { .fd = by_fd ? s->fd : fs.workfd,
				  .at = by_fd ? NULL : s->tmp };

		origin_record(&o, ino_remap_get(s->st.st_dev, s->st.st_ino,
						ino_of(src->layer, &s->st)),
			      s->nst.st_ino);
	}
	return 0;
}

/* Give the unnamed copy S the name NAME in PARENT_FD (EEXIST: the name
 * is taken, as RENAME_NOREPLACE says for a named one). Its descriptor
 * is kept as an O_PATH one if WANT_FD (fd_to_path()), else closed. */
static int link_into_place(struct staged *s, int parent_fd, const char *name,
			   bool want_fd)
{
	int err;

	if (link_fd_at(s->fd, parent_fd, name) < 0)
		return -errno;
	if (want_fd) {
		err = fd_to_path(&s->fd);
		if (err) {
			unlinkat(parent_fd, name, 0);
			return err;
		}
	} else {
		close(s->fd);
		s->fd = -1;
	}
	s->nst.st_nlink = 1;
	return 0;
}

/* First half of a copy-up: copy the object SRC into the staging
 * directory. A file that a tree copy may link to the copy of another of
 * its names is left to copyup_place(). */
static int copyup_stage(const struct oref *src, unsigned flags, struct staged *s)
{
	int err;

	s->fd = -1;
	err = oref_stat(src, &s->st);
	if (err)
		return err;
	/* With noopen a name the kernel holds may be open for writing
	 * without a copy-up yet (file.c): its writes must reach no other
	 * name, as after the copy-up at the open of the kernel's overlay
	 * (or ours by default), so it is neither linked to another name's
	 * copy nor one that later names link to. */
	s->tree_linked = tree_link_wanted(&s->st) &&
			 !(fs.noopen && (flags & COPYUP_HELD));
	return s->tree_linked ? 0 : stage_now(src, flags, s, true);
}

/* Second half: move the staged copy to NAME in the upper directory
 * PARENT_FD (or link it to the copy of another name). On success *NEWFD
 * is the fd kept for it (none if NEWFD is NULL) and *PROT the flags it
 * kept; on failure nothing staged is left. */
static int copyup_place(const struct oref *src, unsigned flags, struct staged *s,
			int parent_fd, const char *name, int *newfd,
			struct stat *nst, unsigned *prot)
{
	struct stat pst;
	int err, fd;

	if (s->tree_linked) {
		err = tree_link_try(&s->st, flags & COPYUP_HELD, parent_fd, name,
				    &fd, nst, prot);
		if (err == 0) {
			if (newfd)
				*newfd = fd;
			else
				close(fd);
			return 0;
		}
		/* a copy apart: the first copy stays the one to link to */
		if (err == -EBUSY)
			s->tree_linked = false;
		err = stage_now(src, flags, s, true);
		if (err)
			return err;
	}
	if (fstat(parent_fd, &pst) < 0)
		return unstage(s, -errno);
	if (!s->tmp[0]) {
		err = link_into_place(s, parent_fd, name, newfd != NULL);
		if (err && err != -EPERM && err != -EACCES && err != -EXDEV &&
		    err != -ENOENT)
			return unstage(s, err);	/* EEXIST too, as for a rename */
		if (err) {
			/* not linkable here (fs.protected_hardlinks and a
			 * set-id file the daemon may not own, or /proc
			 * unlike itself): a named copy */
			unstage(s, 0);
			err = stage_now(src, flags, s, false);
			if (err)
				return err;
		}
	}
	if (s->tmp[0] && rename_into_place(s->tmp, parent_fd, name, &s->nst) < 0)
		return unstage(s, -errno);
	/* the parent's times are part of what was copied, not changed */
	restore_dir_times(parent_fd, &pst);
	if (s->tree_linked)
		tree_link_note(&s->st, name, &s->nst, s->prot);
	if (newfd)
		*newfd = s->fd;
	else if (s->fd >= 0)
		close(s->fd);
	*nst = s->nst;
	*prot = s->prot;
	s->fd = -1;
	return 0;
}

/* Copy the object SRC into the upper directory PARENT_FD under NAME. On
 * success *newfd is the fd kept for it (none if NEWFD is NULL), and
 * *PROT the immutable and append-only flags it kept. The copy records
 * the inode number the object showed (origin.c), except for a file with
 * several links, whose copy is a file apart (or, in a tree copied up to
 * be moved, a link to the copy of another of its names). */
int copyup_obj(const struct oref *src, int parent_fd, const char *name,
	       unsigned flags, int *newfd, struct stat *nst, unsigned *prot)
{
	struct staged s;
	int err;

	err = copyup_stage(src, flags, &s);
	if (err)
		return err;
	return copyup_place(src, flags, &s, parent_fd, name, newfd, nst, prot);
}

/* Where the object NAME of layer LAYER below PARENT is: the parent's
 * directory in that layer. */
int oref_in(struct node *parent, const char *name, int layer, struct oref *o)
{
	struct lset *pls = node_lset(parent);
	int i = lset_index(pls, layer);

	o->hold = NULL;
	o->layer = layer;
	snprintf(o->buf, sizeof(o->buf), "%s", name);
	o->name = o->buf;
	if (i < 0)
		return -ESTALE;
	o->dirfd = pls->r[i].fd;
	return 0;
}

/* A lower file whose name went while a program still has it open (with
 * noopen, even open for writing, file.c), or whose name a rename is
 * taking over: copy it to a staging name removed at once. The program
 * then changes a copy of its own and reads its changes back, as if the
 * file had been copied up before; the name is never touched. The node
 * keeps its inode number and stays out of the node table. */
static int copyup_orphan(struct node *n, unsigned flags)
{
	struct lset *ls;
	struct oref src;
	struct stat st;
	char tmp[STAGING_LEN];
	unsigned prot = 0;	/* the copy has no name to protect */
	int fd, err = 0;
	bool copied = false;

	node_lock_settled(n);
	if (node_in_upper(n))
		goto unlock;
	ls = node_lset(n);
	if (ls->r[0].fd < 0) {	/* not pinned: nothing left to copy */
		err = -ENOENT;
		goto unlock;
	}
	oref_of_lref(&ls->r[0], &src);
	err = oref_stat(&src, &st);
	if (err)
		goto unlock;
	fd = stage_copy(&src, &st, tmp, flags, &prot, true);
	if (fd < 0) {
		err = fd;
		goto unlock;
	}
	if (!tmp[0]) {
		/* unnamed already; the node keeps an O_PATH descriptor */
		err = fd_to_path(&fd);
		if (err)
			goto unlock;
	} else if (unlinkat(fs.workfd, tmp, 0) < 0) {
		err = -errno;
		close(fd);
		goto unlock;
	}
	node_set_lset(n, lset_upper(fd));
	__atomic_add_fetch(&n->gen, 1, __ATOMIC_RELEASE);
	copied = true;
unlock:
	node_unlock(n);
	if (copied && fs.se)
		fuse_lowlevel_notify_inval_inode(fs.se, node_id(n), -1, 0);
	return err;
}

/* Copy-ups under way, by parent and name. From the moment the copy
 * lands in the upper until its node is filed under it (node_rekey()), a
 * lookup of the name finds the copy and no node for it: it would make a
 * second node for the object, and the kernel a second inode, whose
 * cached size and data would miss what is written through the first.
 * A lookup that finds the name in the upper while its copy-up is listed
 * waits for it instead (copyup_wait()); one that finds the lower object
 * (the data still being copied) goes on. The node itself carries
 * NODE_COPYING meanwhile, for those who would change it (node.c). */
struct copying {
	struct node *node;
	struct node *dir;
	const char *name;
	struct copying *next;
};

static pthread_mutex_t copying_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t copying_done = PTHREAD_COND_INITIALIZER;
static struct copying *copying_list;
static unsigned copying_count;	/* read without the lock */

/* Under N's node lock: N, NAME in DIR, is about to be copied up. */
static void copying_start(struct copying *c, struct node *n,
			  struct node *dir, const char *name)
{
	c->node = n;
	c->dir = dir;
	c->name = name;
	node_flag_set(n, NODE_COPYING);
	pthread_mutex_lock(&copying_lock);
	c->next = copying_list;
	copying_list = c;
	__atomic_add_fetch(&copying_count, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&copying_lock);
}

/* Under the node lock again: the copy-up is over, done or failed. */
static void copying_end(struct copying *c)
{
	struct copying **pp;

	node_copying_end(c->node);
	pthread_mutex_lock(&copying_lock);
	for (pp = &copying_list; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	__atomic_sub_fetch(&copying_count, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&copying_done);
	pthread_mutex_unlock(&copying_lock);
}

static bool copying_now(struct node *dir, const char *name)
{
	for (struct copying *c = copying_list; c; c = c->next)
		if (c->dir == dir && !strcmp(c->name, name))
			return true;
	return false;
}

/* If a copy-up of NAME in DIR is under way, wait for its end and return
 * true: the caller looks again, and meets the node filed under the copy.
 * A copy is put in place only while its copy-up is listed, so a lookup
 * that found it and then finds no copy-up listed finds its node. */
bool copyup_wait(struct node *dir, const char *name)
{
	bool waited = false;

	if (!__atomic_load_n(&copying_count, __ATOMIC_SEQ_CST))
		return false;
	pthread_mutex_lock(&copying_lock);
	while (copying_now(dir, name)) {
		waited = true;
		pthread_cond_wait(&copying_done, &copying_lock);
	}
	pthread_mutex_unlock(&copying_lock);
	return waited;
}

int copyup(struct node *n, unsigned flags)
{
	struct node *parent = NULL;
	struct lset *ls, *nls = NULL;
	struct oref src;
	struct stat nst;
	char *name = NULL;
	struct copying cp = { .node = NULL };
	struct staged staged;
	unsigned prot = 0;
	int err, newfd = -1;
	bool copied = false, renumbered = false, alias = false;

	if (!fs.has_upper)
		return -EROFS;
	if (node_in_upper(n))
		return 0;
again:
	if (!S_ISDIR(n->type) && node_has(n, NODE_UNLINKED))
		return copyup_orphan(n, flags);
	err = node_parent_name(n, &parent, &name);
	if (err)
		return err;
	err = copyup(parent, 0);
	if (err)
		goto out;

	node_lock_settled(n);
	if (node_in_upper(n))
		goto unlock;
	/* removed or moved since the snapshot (remove_name() and renames
	 * change both under this lock): start over */
	if (node_has(n, NODE_UNLINKED) || n->parent != parent ||
	    strcmp(n->name, name) != 0) {
		node_unlock(n);
		node_put(parent);
		free(name);
		parent = NULL;
		name = NULL;
		goto again;
	}
	ls = node_lset(n);
	if (ls->r[0].fd >= 0) {
		oref_of_lref(&ls->r[0], &src);
	} else {
		err = oref_in(parent, name, ls->r[0].layer, &src);
		if (err)
			goto unlock;
	}
	/* The data is copied without the node lock (its stripe is shared,
	 * and a large file takes seconds); whatever would change the node
	 * meanwhile waits for NODE_COPYING to go (node_lock_settled()). */
	copying_start(&cp, n, parent, name);
	node_unlock(n);
	err = copyup_stage(&src, flags, &staged);
	node_lock(n);
	if (!err && S_ISDIR(n->type)) {
		/* the directory keeps its lower descriptors: the new set
		 * borrows the old one's, which stays, retired, until the node
		 * dies (node_set_lset()). Dup'd, a directory the kernel holds
		 * kept its lower layers open twice, and under a limit of 64
		 * eleven directories of two layers with a file open in each
		 * ran out of descriptors at the eighth copy-up. */
		nls = lset_new(ls->n + 1);
		nls->borrowed = true;
		for (int i = 0; i < ls->n; i++)
			nls->r[i + 1] = ls->r[i];
	}
	/* a file needs no descriptor of its own unless it stays pinned
	 * (below) */
	if (!err)
		err = copyup_place(&src, flags, &staged, node_upper_fd(parent),
				   name, S_ISDIR(n->type) || ls->r[0].fd >= 0 ||
				   staged.tree_linked ? &newfd : NULL, &nst, &prot);
	if (err == -EEXIST && !S_ISDIR(n->type)) {
		/* a rename over the name is under way (its name_removed()
		 * comes next): the file keeps its data apart */
		copying_end(&cp);
		node_unlock(n);
		err = copyup_orphan(n, flags);
		goto out;
	}
	if (err)
		goto unlock;
	/* The copy is in place: count the change now, before the node is
	 * filed under the copy (node_rekey), so that a lookup that found the
	 * lower object and then no node for it (filed already) sees the
	 * parent changed and looks again instead of keeping a second node
	 * of the name. One that finds the copy before the rekey waits
	 * (copyup_wait()). */
	__atomic_add_fetch(&parent->gen, 1, __ATOMIC_RELEASE);
	if (!S_ISDIR(n->type)) {
		nls = lset_new(1);
		/* a copy with several names stays pinned (node.c): removing
		 * or replacing another name need not go through this node */
		if (ls->r[0].fd < 0 && nst.st_nlink < 2 && newfd >= 0) {
			/* reached by name again, now in the upper */
			close(newfd);
			newfd = -1;
		}
	}
	nls->r[0].fd = newfd;	/* the new upper object (layer 0) */
	if (prot)
		node_flag_set(n, NODE_PROTATTR);
	if (!node_has(n, NODE_LOWER_LINK))
		node_flag_set(n, NODE_ORIGIN);
	/* where lookups read the copy's records (origin.c) */
	if (!node_has(n, NODE_LOWER_LINK) || (prot && !S_ISDIR(n->type)))
		origin_mark_parent(parent);
	renumbered = node_has(n, NODE_LOWER_LINK);
	alias = !node_rekey(n, &nst);
	node_set_lset(n, nls);
	nls = NULL;
	__atomic_add_fetch(&n->gen, 1, __ATOMIC_RELEASE);
	copied = true;
unlock:
	lset_free(nls);		/* a directory's, if the copy-up failed */
	if (cp.node)
		copying_end(&cp);
	node_unlock(n);
	if (copied && fs.se) {
		/* The copy is what stat shows now: a link count of 1 where
		 * the lower file had several names, 1 for a directory that is
		 * merged now, a new ctime. The kernel's copy of the attributes
		 * may be a day old. */
		fuse_lowlevel_notify_inval_inode(fs.se, node_id(n), -1, 0);
		/* The parent's upper directory has a new entry, so a new
		 * ctime the kernel's overlay shows at once. And a copy of one
		 * name of a lower hard link shows a number of its own: the
		 * listing the kernel keeps of the parent has the old one. */
		fuse_lowlevel_notify_inval_inode(fs.se, node_id(parent),
						 renumbered ? 0 : -1, 0);
	}
	/* the name is a link to a copy another node stands for: the kernel
	 * must look it up again and meet that node, or the two inodes it
	 * holds would cache the file's data and size apart (the tree copy
	 * holds one lookup of its own) */
	if (alias && fs.se && node_lookups(n) > 1)
		inval_entry_later(parent, name);
out:
	node_put(parent);
	free(name);
	return err;
}
