/* Directory operations: creating, linking, removing and renaming names.
 * Every change happens in the upper layer after the parents are copied
 * up; removals of names that also exist below leave whiteouts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

struct new_obj {
	mode_t type;		/* S_IFREG, S_IFDIR, S_IFLNK, other, or 0 = link */
	mode_t mode;
	dev_t rdev;
	const char *target;	/* symlink target */
	struct node *src;	/* hard link source */
	int open_flags;		/* for S_IFREG via create */
};

static int check_new_name(const char *name)
{
	if (strlen(name) > fs.namemax)
		return -ENAMETOOLONG;
	if (name_is_internal(name))
		return -EPERM;
	return 0;
}

static void dir_changed(struct node *dir)
{
	__atomic_add_fetch(&dir->gen, 1, __ATOMIC_RELEASE);
	attrfresh_dir_changed(dir);
}

/* Create the object in DIRFD/NAME; returns an fd (for regular files the
 * open file, for directories an O_RDONLY fd, else -2 meaning "none"). */
static int make_object(int dirfd, const char *name, const struct new_obj *o)
{
	int fd;

	switch (o->type) {
	case S_IFREG:
		fd = fdrelief_openat(dirfd, name, (o->open_flags & ~(O_TRUNC | O_NOFOLLOW)) |
				     O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, o->mode);
		return fd < 0 ? -errno : fd;
	case S_IFDIR:
		if (mkdirat(dirfd, name, o->mode) < 0)
			return -errno;
		fd = fdrelief_openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	case S_IFLNK:
		if (symlinkat(o->target, dirfd, name) < 0)
			return -errno;
		return -2;
	case 0: {
		struct oref src;
		int err = node_oref(o->src, &src);

		if (err)
			return err;
		if (src.name[0])
			err = linkat(src.dirfd, src.name, dirfd, name, 0);
		else
			err = link_fd_at(src.dirfd, dirfd, name);
		err = err < 0 ? -errno : 0;
		oref_put(&src);
		return err ? err : -2;
	}
	default:
		if (mknodat(dirfd, name, o->mode, o->rdev) < 0)
			return -errno;
		return -2;
	}
}

/* The upper directory of PARENT, copied up if need be, to make a new
 * entry in: its descriptor, or -errno; its logical attributes (owner and
 * mode as shown, which a new entry inherits from) in *PST. */
int new_entry_dir(struct node *parent, struct stat *pst)
{
	int pfd, err = copyup(parent, 0);

	if (err)
		return err;
	pfd = node_upper_fd(parent);
	if (fstat(pfd, pst) < 0)
		return -errno;
	override_apply(0, pfd, "", pst);
	return pfd;
}

/* Create NAME in PARENT. On success *out is the node (one lookup
 * reference taken), *st its attributes and, for a regular file, *openfd
 * the open descriptor. */
static int create_obj(fuse_req_t req, struct node *parent, const char *name,
		      struct new_obj *o, struct node **out, struct stat *st,
		      int *openfd)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat pst, cur;
	char tmp[80], acldir[64] = "", whname[NAME_MAX + 1];
	bool staged = false, has_whfile = false, default_acl;
	const char *tname;
	struct lset *ls;
	int pfd, tfd, fd, err;

	err = check_new_name(name);
	if (err)
		return err;
	err = prot_check(parent, PROT_ADD);
	if (err)
		return err;
	if (o->type == 0) {
		if (S_ISDIR(o->src->type))
			return -EPERM;
		err = prot_check(o->src, PROT_NAME);
		if (!err)
			err = copyup(o->src, 0);
		if (!err)
			err = node_pin(o->src);	/* it is getting a second name */
		if (err)
			return err;
	}
	pfd = new_entry_dir(parent, &pst);
	if (pfd < 0)
		return pfd;
	default_acl = o->type != 0 && o->type != S_IFLNK && has_default_acl(pfd);
	if (o->type != 0 && o->type != S_IFLNK)
		o->mode = (o->type | (apply_umask(default_acl, o->mode, ctx) & 07777));

	if (fstatat(pfd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!stat_is_whiteout(&cur))
			return -EEXIST;
		staged = true;
	} else if (errno != ENOENT) {
		return -errno;
	} else if (strlen(name) + 4 <= NAME_MAX) {
		snprintf(whname, sizeof(whname), ".wh.%s", name);
		has_whfile = fstatat(pfd, whname, &cur, AT_SYMLINK_NOFOLLOW) == 0;
		/* a directory replacing a deleted one must be opaque before
		 * the name shows, so it is built aside */
		staged = has_whfile && o->type == S_IFDIR;
	}

	tfd = staged ? fs.workfd : pfd;
	tname = staged ? staging_name(tmp, sizeof(tmp)) : name;
	if (staged && default_acl) {
		/* built aside, it inherits as in its parent */
		err = staging_acl_dir(pfd, acldir, sizeof(acldir));
		if (err)
			return err;
		if (acldir[0])
			snprintf(tmp, sizeof(tmp), "%s/n", acldir);
	}
	fd = make_object(tfd, tname, o);
	if (fd < 0 && fd != -2) {
		if (acldir[0])
			unlinkat(fs.workfd, acldir, AT_REMOVEDIR);
		return fd;
	}
	if (o->type != 0) {
		err = set_creds_owner(tfd, tname, ctx, &pst, o->type == S_IFDIR);
		if (err)
			goto fail;
	}
	if (staged && o->type == S_IFDIR) {
		err = opaque_set(fd);
		if (err)
			goto fail;
	}
	if (staged) {
		err = install_staged(pfd, name, tmp, o->type == S_IFDIR);
		if (err)
			goto fail;
		if (acldir[0])
			unlinkat(fs.workfd, acldir, AT_REMOVEDIR);
	} else if (has_whfile) {
		unlinkat(pfd, whname, 0);
	}
	/* a new name of a copy that records its inode number */
	if (o->type == 0 && node_has(o->src, NODE_ORIGIN))
		origin_mark_parent(parent);

	ls = lset_new(1);
	ls->r[0].layer = 0;
	if (o->type == S_IFDIR) {
		ls->r[0].fd = fd;
		fd = -1;
	}
	if (fstatat(pfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		lset_free(ls);
		goto out_fd;
	}
	override_apply(0, pfd, name, st);
	if (o->type == 0 && node_adopt(o->src, parent, name)) {
		/* the first name of an O_TMPFILE file */
		lset_free(ls);
		*out = o->src;
	} else {
		*out = node_find_or_insert(parent, name, st, ls,
					   staged && o->type == S_IFDIR ? NODE_OPAQUE : 0,
					   NULL);
	}
	fix_stat(*out, st);
	/* a new object carries no xattr unless it inherited a default ACL
	 * or an LSM labelled it: spare the first getxattr its listxattr */
	if (o->type != 0 && !default_acl && !fs.selinux_host)
		node_xattrs_new(*out);
	dir_changed(parent);
	if (o->type == S_IFREG && openfd) {
		*openfd = fd;
		fd = -1;
	}
out_fd:
	if (fd >= 0)
		close(fd);
	return err;
fail:
	if (fd >= 0)
		close(fd);
	if (staged)
		remove_tree_at(fs.workfd, acldir[0] ? acldir : tmp);
	else
		remove_tree_at(pfd, name);
	return err;
}

static void reply_created(fuse_req_t req, int err, struct node *n,
			  struct stat *st)
{
	struct fuse_entry_param e;

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fill_entry(&e, n, st);
	fuse_reply_entry(req, &e);
}

void lfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct new_obj o = { .type = S_IFDIR, .mode = mode };
	struct node *n = NULL;
	struct stat st;
	int err = create_obj(req, node_from_id(parent), name, &o, &n, &st, NULL);

	reply_created(req, err, n, &st);
}

void lfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, dev_t rdev)
{
	struct new_obj o = { .type = mode & S_IFMT, .mode = mode, .rdev = rdev };
	struct node *n = NULL;
	struct stat st;
	int err;

	/* a 0/0 character device is a whiteout in the upper layer: the
	 * kernel lets anyone make one (vfs_mknod), and the kernel's overlay
	 * refuses it, as the name would vanish from the merged view */
	if (o.type == S_IFCHR && rdev == 0) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (o.type == S_IFREG) {
		o.open_flags = O_WRONLY;
		int fd = -1;
		err = create_obj(req, node_from_id(parent), name, &o, &n, &st, &fd);
		if (fd >= 0)
			close(fd);
	} else {
		err = create_obj(req, node_from_id(parent), name, &o, &n, &st, NULL);
	}
	reply_created(req, err, n, &st);
}

void lfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name)
{
	struct new_obj o = { .type = S_IFLNK, .target = link };
	struct node *n = NULL;
	struct stat st;
	int err = create_obj(req, node_from_id(parent), name, &o, &n, &st, NULL);

	reply_created(req, err, n, &st);
}

void lfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname)
{
	struct new_obj o = { .type = 0, .src = node_from_id(ino) };
	struct node *n = NULL, *dir = NULL;
	struct stat st;
	int err = create_obj(req, node_from_id(newparent), newname, &o, &n, &st, NULL);

	/* the new name's entry holds the inode as a looked-up one does: one
	 * whose writeback failed goes again after the reply (lookup.c) */
	if (!err && node_has(n, NODE_WB_FAILED))
		dir = node_get(node_from_id(newparent));
	reply_created(req, err, n, &st);
	if (dir) {
		inval_entry_later(dir, newname);
		node_put(dir);
	}
}

/* Answer a CREATE with the new file N (attributes ST), open on FD. When
 * the opener was interrupted, the kernel took neither the node nor the
 * open: the node's lookup goes (an O_TMPFILE file with it). */
void reply_create_open(fuse_req_t req, struct node *n, const struct stat *st,
		       int fd, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct fhandle *fh;
	int r;

	fill_entry(&e, n, st);
	if (fs.noopen) {
		/* Once the kernel opens files itself it sends no RELEASE, not
		 * even for created ones: reach this one per request too. */
		close(fd);
		fi->fh = 0;
		fi->keep_cache = 1;
		/* no direct_io for O_DIRECT, which would keep the file from
		 * being mapped shared (reply_opened()) */
		r = fuse_reply_create(req, &e, fi);
	} else {
		fh = xcalloc(1, sizeof(*fh));
		fh->fd = fd;
		fh->upper = true;
		fh->flags = fi->flags;
		fh->gen = __atomic_load_n(&n->gen, __ATOMIC_ACQUIRE);
		fh->node = n;
		pthread_mutex_init(&fh->lock, NULL);
		r = reply_opened(req, fi, fh, &e);
	}
	if (r == -ENOENT)
		node_forget(n, 1);
}

void lfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi)
{
	struct new_obj o = { .type = S_IFREG, .mode = mode,
			     .open_flags = io_flags(fi->flags) };
	struct node *n = NULL;
	struct stat st;
	int fd = -1, err;

	if (req_tmpfile()) {
		tmpfile_create(req, node_from_id(parent), mode, fi);
		return;
	}
	err = create_obj(req, node_from_id(parent), name, &o, &n, &st, &fd);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	reply_create_open(req, n, &st, fd, fi);
}

/* A name left the merged view (the node was pinned before, so it can
 * still be reached); the node dies with its last name. A lower-only node
 * has one name (see NODE_BYNAME). */
static void name_removed_locked(struct node *n, bool was_upper)
{
	struct stat st;
	bool gone;

	if (S_ISDIR(n->type) || !was_upper) {
		gone = true;
	} else if (fstatat(node_lset(n)->r[0].fd, "", &st,
			   AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		gone = true;
	} else {
		gone = st.st_nlink == 0;	/* other upper names remain */
	}
	if (gone && was_upper)
		ino_remap_del(n->kdev, n->kino);
	/* under the node lock: copyup() checks NODE_UNLINKED under it */
	if (gone)
		node_unhash(n);
	/* A name of a lower file with several links showed the layer's
	 * count, which the kernel lowers by one at the unlink; with the
	 * writeback cache it keeps that count instead of asking, and an
	 * open file then showed 2 where it has no name left (fix_stat()
	 * says 0) */
	if (gone && fs.writeback && node_has(n, NODE_LOWER_LINK))
		fuse_lowlevel_notify_inval_inode(fs.se, node_id(n), -1, 0);
}

static void name_removed(struct node *n, bool was_upper)
{
	node_lock_settled(n);
	name_removed_locked(n, was_upper);
	node_unlock(n);
}

/* Remove NAME (node CHILD) from the upper of PARENT, leaving a whiteout
 * where a lower layer still holds the name. The object is removed under
 * its node lock, which a copy-up of it takes too (copyup.c): a copy-up
 * either comes first and is removed with the name, or finds the node
 * unlinked, and copies a file aside, never back under the name. A
 * directory too: the copy of a tree being renamed (copyup_tree.c) put a
 * subdirectory over the whiteout an rmdir had just made (ENOTDIR, the
 * rename failed), or the rmdir made its whiteout over the copy (EEXIST). */
static int remove_name(struct node *parent, const char *name, struct node *child)
{
	bool isdir = S_ISDIR(child->type), in_upper;
	int pfd, lower, err;

	err = prot_check(parent, PROT_DEL);
	if (!err)
		err = prot_check(child, PROT_NAME);
	if (!err)
		err = copyup(parent, 0);
	if (!err)
		err = node_pin(child);	/* open files may still use it */
	if (err)
		return err;
	pfd = node_upper_fd(parent);
	node_lock_settled(child);
	in_upper = node_in_upper(child);
	/* an object found in a lower layer answers that by itself */
	lower = !in_upper || node_lset(child)->n > 1 ? 1 : lower_has_name(parent, name);
	if (lower < 0) {
		err = lower;
		goto out;
	}
	if (lower) {
		err = in_upper ? whiteout_replace(pfd, name) : whiteout_create(pfd, name);
	} else if (isdir) {
		err = entry_put_aside(pfd, name);
	} else {
		err = unlinkat(pfd, name, 0) < 0 ? -errno : 0;
	}
	if (!err)
		name_removed_locked(child, in_upper);
out:
	node_unlock(child);
	if (!err)
		dir_changed(parent);
	return err;
}

void lfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_from_id(parent), *child;
	struct stat st;
	int err;

	if (!fs.has_upper) {
		fuse_reply_err(req, EROFS);
		return;
	}
	err = lookup_node(dir, name, &child, &st);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (S_ISDIR(child->type))
		err = -EISDIR;
	else
		err = remove_name(dir, name, child);
	node_forget(child, 1);
	fuse_reply_err(req, -err);
}

void lfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *dir = node_from_id(parent), *child;
	struct stat st;
	int err;

	if (!fs.has_upper) {
		fuse_reply_err(req, EROFS);
		return;
	}
	err = lookup_node(dir, name, &child, &st);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (!S_ISDIR(child->type)) {
		err = -ENOTDIR;
	} else if ((err = prot_check(dir, PROT_DEL)) == 0 &&
		   (err = prot_check(child, PROT_NAME)) == 0) {
		/* refused before "not empty", as by the kernel */
		err = merged_is_empty(child);
		if (err == 0)
			err = -ENOTEMPTY;
		else if (err > 0)
			err = remove_name(dir, name, child);
	}
	node_forget(child, 1);
	fuse_reply_err(req, -err);
}

/* Before replacing an upper directory that is empty in the merged view,
 * drop the whiteouts and markers it may still hold. */
static void empty_upper_dir(int fd)
{
	purge_internal_entries(fd);
	unlinkat(fd, ".wh..wh..opq", 0);
}

/* Put the upper directory SPFD/NAME in the place of the upper entry
 * DPFD/NEWNAME, a whiteout or a directory that is empty in the merged
 * view but may hold whiteouts, so that a failure changes nothing (a
 * deleted name must not come back): the two are exchanged, then what was
 * the target leaves NAME for the staging area, a whiteout taking its
 * place where a lower layer has NAME (SRC_LOWER); if that fails, the
 * exchange is undone. The kernel's overlay makes such a target an empty
 * opaque directory first, for the same reason. */
static int rename_dir_over(int spfd, const char *name, int dpfd,
			   const char *newname, bool src_lower)
{
	int err;

	if (renameat2(spfd, name, dpfd, newname, RENAME_EXCHANGE) < 0)
		return -errno;
	err = src_lower ? whiteout_replace(spfd, name) : entry_put_aside(spfd, name);
	if (err)
		renameat2(spfd, name, dpfd, newname, RENAME_EXCHANGE);
	return err;
}

static int prepare_rename_src(struct node *n)
{
	return S_ISDIR(n->type) ? copyup_tree(n) : copyup(n, 0);
}

static int ensure_opaque(struct node *n)
{
	int err = 0;

	node_lock_settled(n);
	if (!node_has(n, NODE_OPAQUE)) {
		err = opaque_set(node_lset(n)->r[0].fd);
		if (!err)
			node_flag_set(n, NODE_OPAQUE);
	}
	node_unlock(n);
	return err;
}

/* Does DIR (copied up) merge a lower layer? A directory moved into such a parent is
 * made opaque, as the kernel's overlay does, whether or not a lower layer
 * has its new name: it hides nothing now, and would still hide what lies
 * below should the layers change. */
static bool merges_lower(struct node *dir)
{
	return node_lset(dir)->n > 1;	/* an upper one (copied up) and more */
}

static void move_node(struct node *n, struct node *parent, const char *name)
{
	node_lock_settled(n);
	node_set_parent_name(n, parent, name);
	node_unlock(n);
	/* its record of its inode number is read where the parent says */
	if (node_has(n, NODE_ORIGIN))
		origin_mark_parent(parent);
}

static int do_rename(struct node *sdir, const char *name, struct node *ddir,
		     const char *newname, unsigned int flags)
{
	struct node *src = NULL, *dst = NULL;
	struct stat st, cur;
	int spfd, dpfd, src_lower, dst_lower, err;
	bool dst_upper = false, moving = false, over = false;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (!fs.has_upper)
		return -EROFS;
	err = check_new_name(newname);
	if (err)
		return err;
	err = lookup_node(sdir, name, &src, &st);
	if (err)
		return err;
	err = lookup_node(ddir, newname, &dst, &st);
	if (err == -ENOENT) {
		dst = NULL;
		if (flags & RENAME_EXCHANGE) {
			err = -ENOENT;
			goto out;
		}
	} else if (err) {
		dst = NULL;
		goto out;
	} else if (flags & RENAME_NOREPLACE) {
		err = -EEXIST;
		goto out;
	}
	err = 0;
	if (dst == src) {
		goto out;	/* same object: nothing to do */
	}
	/* refused before the checks of what is replaced, as by the kernel */
	err = prot_check(sdir, PROT_DEL);
	if (!err)
		err = prot_check(ddir, dst ? PROT_DEL : PROT_ADD);
	if (!err)
		err = prot_check(src, PROT_NAME);
	if (!err && dst)
		err = prot_check(dst, PROT_NAME);
	if (err)
		goto out;
	if (dst && !(flags & RENAME_EXCHANGE)) {
		if (S_ISDIR(dst->type) && !S_ISDIR(src->type)) {
			err = -EISDIR;
			goto out;
		}
		if (!S_ISDIR(dst->type) && S_ISDIR(src->type)) {
			err = -ENOTDIR;
			goto out;
		}
		if (S_ISDIR(dst->type)) {
			err = merged_is_empty(dst);
			if (err <= 0) {
				err = err ? err : -ENOTEMPTY;
				goto out;
			}
			err = 0;
		}
	}

	/* everything that moves must live in the upper, whole */
	err = prepare_rename_src(src);
	if (!err && dst && !(flags & RENAME_EXCHANGE))
		err = node_pin(dst);	/* about to lose its name */
	if (!err && (flags & RENAME_EXCHANGE))
		err = prepare_rename_src(dst);
	if (!err)
		err = copyup(sdir, 0);
	if (!err)
		err = copyup(ddir, 0);
	if (err)
		goto out;
	spfd = node_upper_fd(sdir);
	dpfd = node_upper_fd(ddir);
	src_lower = lower_has_name(sdir, name);
	dst_lower = lower_has_name(ddir, newname);
	if (src_lower < 0 || dst_lower < 0) {
		err = src_lower < 0 ? src_lower : dst_lower;
		goto out;
	}

	if (flags & RENAME_EXCHANGE) {
		/* a directory landing on a name that exists below must hide
		 * what is there */
		if (S_ISDIR(src->type) && (dst_lower || merges_lower(ddir)))
			err = ensure_opaque(src);
		if (!err && S_ISDIR(dst->type) && (src_lower || merges_lower(sdir)))
			err = ensure_opaque(dst);
		if (!err) {
			moving = true;
			node_move_begin(src);
			node_move_begin(dst);
		}
		if (!err && renameat2(spfd, name, dpfd, newname, RENAME_EXCHANGE) < 0)
			err = -errno;
		if (err)
			goto out;
		move_node(src, ddir, newname);
		move_node(dst, sdir, name);
		goto changed;
	}

	/* first what can fail for want of space, while nothing is changed */
	if (S_ISDIR(src->type) && (dst_lower || merges_lower(ddir))) {
		err = ensure_opaque(src);
		if (err)
			goto out;
	}
	if (fstatat(dpfd, newname, &cur, AT_SYMLINK_NOFOLLOW) == 0) {
		dst_upper = true;
		if (S_ISDIR(src->type) && fs.wh_style == WH_CHARDEV &&
		    (S_ISDIR(cur.st_mode) || stat_is_whiteout(&cur))) {
			over = true;
		} else {
			if (S_ISDIR(cur.st_mode) && dst)
				empty_upper_dir(node_upper_fd(dst));
			/* a directory cannot replace a device node */
			if (stat_is_whiteout(&cur) && S_ISDIR(src->type) &&
			    unlinkat(dpfd, newname, 0) < 0) {
				err = -errno;
				goto out;
			}
		}
	}
	/* dst, if any, is pinned: reads of it by name see a new set */
	moving = true;
	node_move_begin(src);
	if (over) {
		err = rename_dir_over(spfd, name, dpfd, newname, src_lower);
		if (err)
			goto out;
		goto moved;
	}
	if (src_lower) {
		err = whiteout_rename(spfd, name, dpfd, newname);
		if (err)
			goto out;
	} else if (renameat(spfd, name, dpfd, newname) < 0) {
		err = -errno;
		goto out;
	}
moved:
	if (strlen(newname) + 4 <= NAME_MAX) {
		char whname[NAME_MAX + 1];
		snprintf(whname, sizeof(whname), ".wh.%s", newname);
		unlinkat(dpfd, whname, 0);
	}
	move_node(src, ddir, newname);
	if (dst)
		name_removed(dst, dst_upper && !stat_is_whiteout(&cur));
changed:
	dir_changed(sdir);
	dir_changed(ddir);
out:
	if (moving) {
		node_move_end(src);
		if (flags & RENAME_EXCHANGE)
			node_move_end(dst);
	}
	if (src)
		node_forget(src, 1);
	if (dst)
		node_forget(dst, 1);
	return err;
}

void lfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	int err = do_rename(node_from_id(parent), name, node_from_id(newparent),
			    newname, flags);

	fuse_reply_err(req, -err);
}

void lfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	struct node *node = node_from_id(ino);
	struct oref o;
	ssize_t n;
	int err;

	do {
		err = node_oref(node, &o);
		if (err) {
			fuse_reply_err(req, -err);
			return;
		}
		n = readlinkat(o.dirfd, o.name, buf, sizeof(buf) - 1);
		err = errno;
	} while (oref_put_moved(node, &o));
	if (n < 0) {
		fuse_reply_err(req, err);
		return;
	}
	buf[n] = '\0';
	fuse_reply_readlink(req, buf);
}
