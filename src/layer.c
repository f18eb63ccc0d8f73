/* Layers: opening and validating the directories of a stack before
 * anything is mounted or written, and preparing the staging area. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "stack.h"

static int open_layer_dir(const char *what, const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		lfs_log("%s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0) {
		lfs_log("%s '%s': %s", what, path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A detached mount tree's descriptor. Closing the last one dissolves the
 * tree: the kernel unmounts it and waits for an RCU grace period, which
 * took 0.1-1.5 ms here, most of a mount's time. The trees are held until
 * the daemon serves (layers_let_trees_go()), so that the wait falls
 * outside the mount. Where descriptors are few, one is let go at once. */
static int *held_trees;	/* ends with -1 */
static int nheld, hold_max;

/* How many trees of NLAYERS layers may be held: each is a descriptor
 * more while the daemon sets up, and that takes a descriptor or two per
 * layer and some of its own (the device, the lock, /proc, the roots of
 * nodes_init()). The trees get what is left of half the open-file limit
 * after a margin of four per layer and 64, none under a small limit (a
 * bound on the descriptors' numbers alone took the room of twenty
 * layers under 64: the mount failed with EMFILE). */
static void trees_room(int nlayers)
{
	struct rlimit rl;
	long long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	room = (long long)(rl.rlim_cur / 2) - 4LL * nlayers - 64;
	hold_max = room < 0 ? 0 : room > nlayers ? nlayers : (int)room;
}

static void tree_done(int mfd)
{
	if (nheld >= hold_max) {
		close(mfd);
		return;
	}
	held_trees = xrealloc(held_trees, (size_t)(nheld + 2) * sizeof(int));
	held_trees[nheld++] = mfd;
	held_trees[nheld] = -1;
}

/* Close the held trees: once the daemon serves, from main.c's
 * late_start() (a thread, so that the waits keep nobody waiting), or when
 * the daemon ends or never started (layers_close()). */
void layers_let_trees_go(void)
{
	int *fds = held_trees;

	if (!nheld)
		return;
	held_trees = NULL;
	nheld = 0;
	for (int i = 0; fds[i] >= 0; i++)
		close(fds[i]);
	free(fds);
}

/* The kernel's overlay reads its lower layers through private mounts,
 * read-only and noatime: reading through the overlay never writes to a
 * layer, not even an access time, and image layers shared by many
 * containers stay as they were. Do the same with a detached copy of the
 * layer's mount (open_tree, mount_setattr), which root may make, and the
 * owner of a mount namespace unless the mount's atime setting is locked
 * (mounts a user namespace inherited). Returns a descriptor of the layer
 * root through that mount, or -1 where it cannot be made; lower files
 * and directories are then opened O_NOATIME where the daemon may
 * (layer_wants_noatime()). */
static int private_lower_mount(int fd)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME,
		.attr_clr = MOUNT_ATTR__ATIME,
	};
	unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
	/* the layer's own mount alone: a file system mounted on one of its
	 * directories is not part of the layer, and the kernel's overlay
	 * shows the directory underneath */
	int mfd = open_tree(fd, "", flags);
	int rfd;

	/* where a user namespace locked the mounts below (EINVAL), they
	 * cannot be left out: clone them too */
	if (mfd < 0 && errno == EINVAL)
		mfd = open_tree(fd, "", flags | AT_RECURSIVE);
	if (mfd < 0)
		return -1;
	if (mount_setattr(mfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
		close(mfd);
		return -1;
	}
	/* a plain O_RDONLY descriptor, as every layer root is */
	rfd = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd >= 0)
		tree_done(mfd);
	else
		close(mfd);
	return rfd;
}

/* Is FD the object ST describes? */
bool same_object(int fd, const struct stat *st)
{
	struct stat now;

	return fstat(fd, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

/* The kernel's overlay also reaches its upper through a private clone of
 * the upper's mount: a file system mounted inside the upper afterwards,
 * or the overlay mounted on a directory of its own upper, is not seen
 * through (layerfs then showed itself inside itself). Copy-ups, whiteout
 * links and renames go between the work dir and the upper, which must
 * therefore share one mount: clone the mount of their nearest common
 * directory alone (open_tree) and reopen both through it. The clone
 * takes no mounts made later, even where the original is shared. Where
 * it cannot be made (mounts a user namespace locked below it) or does
 * not reach the same two directories (they lie on two mounts of one file
 * system), *UFD and *WFD (described by UST and WST) stay as they are. */
static void private_upper_mount(const char *upper, const char *work, int *ufd, int *wfd,
				const struct stat *ust, const struct stat *wst)
{
	char *ru = realpath(upper, NULL), *rw = realpath(work, NULL);
	size_t common = 0;
	int afd = -1, mfd = -1, nu = -1, nw = -1;

	if (!ru || !rw)
		goto out;
	/* the longest common prefix ending at a path component */
	for (size_t i = 0; ru[i] && ru[i] == rw[i]; i++)
		if (ru[i] == '/')
			common = i;
	ru[common] = '\0';
	afd = open(common ? ru : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ru[common] = '/';
	if (afd < 0)
		goto out;
	mfd = open_tree(afd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (mfd < 0)
		goto out;
	nu = openat(mfd, ru + common + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	nw = openat(mfd, rw + common + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nu < 0 || nw < 0 || !same_object(nu, ust) || !same_object(nw, wst))
		goto out;
	close(*ufd);
	close(*wfd);
	*ufd = nu;
	*wfd = nw;
	nu = nw = -1;
	tree_done(mfd);
	mfd = -1;
out:
	if (nu >= 0)
		close(nu);
	if (nw >= 0)
		close(nw);
	if (mfd >= 0)
		close(mfd);
	if (afd >= 0)
		close(afd);
	free(ru);
	free(rw);
}

/* Reading LAYER (a directory of it: DIR) through the daemon's own
 * descriptors must not change access times, and its mount does not see
 * to that: open with O_NOATIME (layer_openat()). A lower layer's reads never do; the
 * upper's, as the mount's noatime and nodiratime say, as the kernel's
 * overlay passes its own mount's rules on to the upper. */
bool layer_wants_noatime(int layer, bool dir)
{
	if (layer > 0)
		return !fs.layers[layer].noatime;
	return config_noatime(fs.cfg) || (dir && (fs.cfg->ms_set & MS_NODIRATIME));
}

/* openat() for the daemon's own reading: O_NOATIME in FLAGS is kept
 * where the daemon may use it (it owns the file or holds CAP_FOWNER over
 * its owner) and dropped elsewhere. */
int layer_openat(int dirfd, const char *name, int flags)
{
	int fd = fdrelief_openat(dirfd, name, flags, 0);

	if (fd < 0 && errno == EPERM && (flags & O_NOATIME))
		fd = fdrelief_openat(dirfd, name, flags & ~O_NOATIME, 0);
	return fd;
}

static int check_writable(const char *what, const char *path, int fd)
{
	struct statvfs sv;

	if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY)) {
		lfs_log("%s '%s': %s", what, path, strerror(EROFS));
		return -1;
	}
	if (faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
		lfs_log("%s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Layers, upper and work dir are directories apart, by path and by
 * what a bind mount shows (dirloc.c), as the kernel's overlay checks the
 * directories themselves; and the work dir is on the upper's mount,
 * since copy-ups rename from one to the other. */
static int check_overlap(struct config *cfg)
{
	struct dirloc *loc = xcalloc((size_t)cfg->nlower, sizeof(*loc));
	struct dirloc upper = { 0 }, work = { 0 };
	struct mnt_table *mt = mnt_table_read();
	int ret = -1, err;

	for (int i = 0; i < cfg->nlower; i++) {
		err = dirloc_get(mt, cfg->lowerdirs[i], &loc[i]);
		if (err) {
			lfs_log("lowerdir '%s': %s", cfg->lowerdirs[i], strerror(-err));
			goto out;
		}
		for (int j = 0; j < i; j++) {
			if (dirloc_same(&loc[i], &loc[j])) {
				lfs_log("lowerdir '%s' is listed twice (also as '%s')",
					cfg->lowerdirs[i], cfg->lowerdirs[j]);
				goto out;
			}
			/* as the kernel's overlay refuses them: the same
			 * directories would show at two places, one number */
			if (dirloc_within(&loc[i], &loc[j]) || dirloc_within(&loc[j], &loc[i])) {
				bool in = dirloc_within(&loc[i], &loc[j]);

				lfs_log("lowerdir '%s' is inside lowerdir '%s': lower layers must not overlap",
					cfg->lowerdirs[in ? i : j], cfg->lowerdirs[in ? j : i]);
				goto out;
			}
		}
	}
	if (cfg->upperdir) {
		err = dirloc_get(mt, cfg->upperdir, &upper);
		if (!err)
			err = dirloc_get(mt, cfg->workdir, &work);
		if (err) {
			lfs_log("%s '%s': %s", upper.real ? "workdir" : "upperdir",
				upper.real ? cfg->workdir : cfg->upperdir, strerror(-err));
			goto out;
		}
		for (int i = 0; i < cfg->nlower; i++) {
			if (dirloc_within(&upper, &loc[i])) {
				lfs_log("upperdir '%s' is inside lowerdir '%s'",
					cfg->upperdir, cfg->lowerdirs[i]);
				goto out;
			}
			if (dirloc_within(&loc[i], &upper)) {
				lfs_log("lowerdir '%s' is inside upperdir '%s'",
					cfg->lowerdirs[i], cfg->upperdir);
				goto out;
			}
			if (dirloc_within(&work, &loc[i]) || dirloc_within(&loc[i], &work)) {
				lfs_log("workdir '%s' and lowerdir '%s' overlap",
					cfg->workdir, cfg->lowerdirs[i]);
				goto out;
			}
		}
		if (dirloc_within(&work, &upper) || dirloc_within(&upper, &work)) {
			lfs_log("workdir '%s' and upperdir '%s' overlap: they must be separate directories",
				cfg->workdir, cfg->upperdir);
			goto out;
		}
		if (dirloc_other_mount(&work, &upper)) {
			lfs_log("workdir '%s' and upperdir '%s' are on different mounts (a bind mount?): copy-ups rename from one to the other, which needs one mount",
				cfg->workdir, cfg->upperdir);
			goto out;
		}
	}
	ret = 0;
out:
	for (int i = 0; i < cfg->nlower; i++)
		dirloc_free(&loc[i]);
	free(loc);
	dirloc_free(&upper);
	dirloc_free(&work);
	mnt_table_free(mt);
	return ret;
}

/* Open every layer and check the stack makes sense. Prints a message
 * naming the offending path and returns -1 on error; nothing on disk is
 * touched. */
int layers_open(struct fs *f, struct config *cfg)
{
	struct stat st, wst;
	struct statvfs sv;
	dev_t devs[64];
	int ndevs = 0, fd;

	f->cfg = cfg;
	f->nlayers = 1 + cfg->nlower;
	f->layers = xcalloc((size_t)f->nlayers, sizeof(*f->layers));
	f->workfd = -1;
	trees_room(f->nlayers);

	for (int i = 0; i < cfg->nlower; i++) {
		struct layer *l = &f->layers[i + 1];

		l->idx = i + 1;
		l->path = cfg->lowerdirs[i];
		l->fd = open_layer_dir("lowerdir", l->path, &st);
		if (l->fd < 0)
			return -1;
		fd = private_lower_mount(l->fd);
		if (fd >= 0) {
			close(l->fd);
			l->fd = fd;
			l->noatime = true;
		}
		l->dev = st.st_dev;
		l->present = true;
	}
	if (cfg->upperdir) {
		struct layer *u = &f->layers[0];
		int wfd;

		u->path = cfg->upperdir;
		u->fd = open_layer_dir("upperdir", u->path, &st);
		if (u->fd < 0 || check_writable("upperdir", u->path, u->fd))
			return -1;
		u->dev = st.st_dev;
		u->present = true;
		f->has_upper = !cfg->readonly;

		wfd = open_layer_dir("workdir", cfg->workdir, &wst);
		if (wfd < 0 || check_writable("workdir", cfg->workdir, wfd))
			return -1;
		if (wst.st_dev != st.st_dev) {
			lfs_log("workdir '%s' is on a different filesystem than upperdir '%s'",
				cfg->workdir, cfg->upperdir);
			close(wfd);
			return -1;
		}
		private_upper_mount(cfg->upperdir, cfg->workdir, &u->fd, &wfd, &st, &wst);
		f->workfd = wfd;	/* the workdir itself until staging_prepare */
	}
	if (check_overlap(cfg))
		return -1;
	if (stat(cfg->mountpoint, &st) < 0) {
		lfs_log("mount point '%s': %s", cfg->mountpoint, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		lfs_log("mount point '%s': %s", cfg->mountpoint, strerror(ENOTDIR));
		return -1;
	}
	{
		/* libfuse unmounts by this path after the daemon has left
		 * its working directory: make it absolute */
		char *abs = realpath(cfg->mountpoint, NULL);

		if (!abs) {
			lfs_log("mount point '%s': %s", cfg->mountpoint, strerror(errno));
			return -1;
		}
		free(cfg->mountpoint);
		cfg->mountpoint = abs;
	}

	/* number the filesystems for inode numbers that stay unique */
	for (int i = 0; i < f->nlayers; i++) {
		struct layer *l = &f->layers[i];
		int k;

		if (!l->present)
			continue;
		for (k = 0; k < ndevs; k++)
			if (devs[k] == l->dev)
				break;
		if (k == ndevs && ndevs < 64)
			devs[ndevs++] = l->dev;
		l->fsidx = k;
	}
	f->same_fs = ndevs == 1;

	if (fstatvfs(f->layers[f->layers[0].present ? 0 : 1].fd, &sv) == 0 && sv.f_namemax)
		f->namemax = sv.f_namemax;
	else
		f->namemax = NAME_MAX;
	return proc_open(f);
}

/* /proc/self resolves to a pid when opened: call again after a fork. */
int proc_open(struct fs *f)
{
	if (f->procfd >= 0)
		close(f->procfd);
	f->procfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->procfd < 0) {
		lfs_log("/proc/self/fd: %s (is /proc mounted?)", strerror(errno));
		return -1;
	}
	return 0;
}

/* Create (or clean) WORKDIR/layerfs, where copy-ups are staged. Entries
 * left there by a daemon that was killed are half-made copies: drop them. */
int staging_prepare(struct fs *f)
{
	struct dirent *de;
	bool detached = false;
	DIR *d;
	int wfd = f->workfd, fd;

	if (wfd < 0)
		return 0;
	f->staging_made = mkdirat(wfd, LAYERFS_STAGING, 0700) == 0;
	if (!f->staging_made && errno != EEXIST) {
		lfs_log("workdir '%s': cannot create %s/: %s", f->cfg->workdir,
			LAYERFS_STAGING, strerror(errno));
		return -1;
	}
	fd = openat(wfd, LAYERFS_STAGING, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		lfs_log("workdir '%s': cannot open %s/: %s", f->cfg->workdir,
			LAYERFS_STAGING, strerror(errno));
		return -1;
	}
	close(wfd);
	f->workfd = fd;
	/* copies and new objects are made here: a default ACL inherited
	 * from the work dir would land on each of them (the kernel's
	 * overlay strips its work dir's ACLs too) */
	for (int i = 0; i < 2; i++) {
		const char *acl = i ? "system.posix_acl_access" : "system.posix_acl_default";

		if (fremovexattr(fd, acl) < 0 && errno != ENODATA &&
		    errno != EOPNOTSUPP) {
			lfs_log("workdir '%s': cannot remove %s of %s/: %s",
				f->cfg->workdir, acl, LAYERFS_STAGING, strerror(errno));
			return -1;
		}
	}

	if (f->staging_made)
		return 0;	/* nothing left in it to look at */
	/* left by an earlier daemon, but for a detached one's that still
	 * serves its old mount (lock.c, DETACHED_MARK) */
	d = fdopendir(dup(fd));
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		int pid;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, SHARED_WH))
			continue;
		if (!staging_entry_held(fd, de->d_name, &pid)) {
			remove_tree_at(fd, de->d_name);
			continue;
		}
		detached = true;
		if (staging_is_mark(de->d_name))
			lfs_log("upperdir '%s' is also written by layerfs pid %d, whose "
				"mount was unmounted lazily and is still in use: changes "
				"made through one mount may not show in the other until "
				"that ends", f->cfg->upperdir, pid);
	}
	closedir(d);
	/* the shared whiteout, which a detached daemon may be linking, stays
	 * while one lives */
	if (!detached)
		remove_tree_at(fd, SHARED_WH);
	return 0;
}

void layers_close(struct fs *f)
{
	layers_let_trees_go();
	for (int i = 0; i < f->nlayers; i++)
		if (f->layers[i].present)
			close(f->layers[i].fd);
	if (f->workfd >= 0)
		close(f->workfd);
	if (f->procfd >= 0)
		close(f->procfd);
	free(f->layers);
}
