/* Writing whiteouts and opaque markers into the upper layer, in the form
 * the daemon's privileges allow (see caps.c), and installing staged
 * objects over them. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

#define OPQ_MARKER ".wh..wh..opq"

static int wh_file_name(const char *name, char *buf, size_t len)
{
	if (strlen(name) + 4 > NAME_MAX)
		return -ENAMETOOLONG;
	snprintf(buf, len, ".wh.%s", name);
	return 0;
}

/* Create the empty marker file NAME in DIRFD (an existing one stays). */
static int marker_create(int dirfd, const char *name)
{
	int fd = fdrelief_openat(dirfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Whiteouts share one inode, as the kernel's overlay makes them (Linux
 * 5.8+): the staging directory keeps a 0:0 device under SHARED_WH and
 * every new whiteout is a link to it. A link allocates no inode, where
 * each mknod allocates one (on ext4 without a journal, soon after many
 * deletions, an allocation walks past every recently freed inode).
 * When the device has all the links the filesystem allows, a new one
 * replaces it; when linking fails otherwise (another filesystem, an LSM)
 * every whiteout gets its own inode again (SHARED_WH, layerfs.h). */

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static bool shared_off;
static unsigned shared_gen;	/* bumped at each renewal */

/* Put a fresh device under SHARED_WH, unless another thread renewed it
 * since GEN was read. 0 or -errno. */
static int shared_renew(unsigned gen)
{
	char tmp[64];
	int err = 0;

	pthread_mutex_lock(&shared_lock);
	if (__atomic_load_n(&shared_gen, __ATOMIC_ACQUIRE) != gen)
		goto out;
	staging_name(tmp, sizeof(tmp));
	if (mknodat(fs.workfd, tmp, S_IFCHR | 0000, makedev(0, 0)) < 0) {
		err = -errno;
		goto out;
	}
	if (renameat(fs.workfd, tmp, fs.workfd, SHARED_WH) < 0) {
		err = -errno;
		unlinkat(fs.workfd, tmp, 0);
		goto out;
	}
	__atomic_add_fetch(&shared_gen, 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&shared_lock);
	return err;
}

/* Link the shared whiteout as NAME in DIRFD: 0, -errno from the link
 * (EEXIST: NAME exists), or 1 when the caller must make its own. */
static int shared_link(int dirfd, const char *name)
{
	struct stat st;

	for (int tries = 0; tries < 3; tries++) {
		unsigned gen = __atomic_load_n(&shared_gen, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&shared_off, __ATOMIC_RELAXED))
			return 1;
		if (linkat(fs.workfd, SHARED_WH, dirfd, name, 0) == 0)
			return 0;
		switch (errno) {
		case ENOENT:
			/* none yet, or DIRFD was removed */
			if (fstatat(fs.workfd, SHARED_WH, &st, AT_SYMLINK_NOFOLLOW) == 0)
				return -ENOENT;
			/* fall through */
		case EMLINK:	/* it has all the links it can have */
			if (shared_renew(gen) < 0)
				return 1;
			continue;
		case ENOSPC:
		case EDQUOT:
			/* a link takes an inode of its own on some file
			 * systems (tmpfs): a shared device nothing links
			 * to yet holds the last one, which the whiteout
			 * itself needs (the kernel's overlay makes it) */
		{
			int err = -errno;

			if (fstatat(fs.workfd, SHARED_WH, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_nlink == 1 &&
			    unlinkat(fs.workfd, SHARED_WH, 0) == 0)
				return 1;
			return err;	/* the link's, not the look's */
		}
		case EPERM:
		case EXDEV:
		case EOPNOTSUPP:
			lfs_log("whiteouts: cannot link a shared one here (%s); "
				"each whiteout gets an inode of its own", strerror(errno));
			__atomic_store_n(&shared_off, true, __ATOMIC_RELAXED);
			return 1;
		default:
			return -errno;
		}
	}
	return 1;
}

/* Create a whiteout for NAME, which does not exist in DIRFD. */
int whiteout_create(int dirfd, const char *name)
{
	char whname[NAME_MAX + 1];
	int err;

	if (fs.wh_style == WH_CHARDEV) {
		err = shared_link(dirfd, name);
		if (err <= 0)
			return err;
		if (mknodat(dirfd, name, S_IFCHR | 0000, makedev(0, 0)) == 0)
			return 0;
		if (errno != EPERM)
			return -errno;
		fs.wh_style = WH_FILE;	/* learned the hard way */
	}
	err = wh_file_name(name, whname, sizeof(whname));
	return err ? err : marker_create(dirfd, whname);
}

/* Move the upper entry DIRFD/NAME to NEWDIRFD/NEWNAME (replacing what is
 * there) and leave a whiteout at NAME, or fail having changed nothing:
 * the whiteout is made before the move, as a marker file beside NAME or
 * a device in the staging area that takes NAME's place after it. Only
 * that last step failing, which needs no new inode, could leave a target
 * replaced; the move is then undone. */
int whiteout_rename(int dirfd, const char *name, int newdirfd, const char *newname)
{
	char tmp[64], whname[NAME_MAX + 1];
	int err;

	if (fs.wh_style == WH_CHARDEV) {
		if (renameat2(dirfd, name, newdirfd, newname, RENAME_WHITEOUT) == 0)
			return 0;
		staging_name(tmp, sizeof(tmp));
		err = shared_link(fs.workfd, tmp);
		if (err == 1)
			err = mknodat(fs.workfd, tmp, S_IFCHR | 0000, makedev(0, 0)) < 0 ?
			      -errno : 0;
		if (!err) {
			if (renameat(dirfd, name, newdirfd, newname) < 0) {
				err = -errno;
			} else if (renameat(fs.workfd, tmp, dirfd, name) == 0) {
				return 0;
			} else {
				err = -errno;
				if (renameat2(newdirfd, newname, dirfd, name, RENAME_NOREPLACE) < 0)
					lfs_log("rename: '%s' moved but left no whiteout (%s)",
						name, strerror(-err));
			}
			unlinkat(fs.workfd, tmp, 0);
			return err;
		}
		if (err != -EPERM)
			return err;
		fs.wh_style = WH_FILE;	/* learned the hard way */
	}
	err = wh_file_name(name, whname, sizeof(whname));
	if (!err)
		err = marker_create(dirfd, whname);
	if (!err && renameat(dirfd, name, newdirfd, newname) < 0) {
		err = -errno;
		unlinkat(dirfd, whname, 0);
	}
	return err;
}

/* Turn the existing upper object NAME into a whiteout, or fail having
 * changed nothing. Where possible the swap is atomic: the name never
 * disappears from the upper. Once the old object is out of the view, it
 * is removed in the staging area; what cannot be removed there is left
 * for the next mount to clear and does not fail the call (the kernel's
 * overlay, too, only warns when its cleanup fails). */
int whiteout_replace(int dirfd, const char *name)
{
	char tmp[64], whname[NAME_MAX + 1];
	int err;

	staging_name(tmp, sizeof(tmp));
	if (fs.wh_style == WH_CHARDEV) {
		err = shared_link(fs.workfd, tmp);
		if (err == 0) {
			if (renameat2(fs.workfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0)
				goto swapped;
			unlinkat(fs.workfd, tmp, 0);
		}
		if (renameat2(dirfd, name, fs.workfd, tmp, RENAME_WHITEOUT) == 0)
			goto swapped;
		if (mknodat(fs.workfd, tmp, S_IFCHR | 0000, makedev(0, 0)) == 0) {
			if (renameat2(fs.workfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0)
				goto swapped;
			err = -errno;
			unlinkat(fs.workfd, tmp, 0);
			return err;
		}
		if (errno != EPERM)
			return -errno;
		fs.wh_style = WH_FILE;
	}
	/* the marker hides NAME before NAME goes */
	err = wh_file_name(name, whname, sizeof(whname));
	if (!err)
		err = marker_create(dirfd, whname);
	if (!err) {
		err = entry_put_aside(dirfd, name);
		if (err)
			unlinkat(dirfd, whname, 0);
	}
	return err;
swapped:
	remove_tree_at(fs.workfd, tmp);
	return 0;
}

/* Take the upper entry DIRFD/NAME (a directory may still hold whiteouts)
 * out of the view in one step, into the staging area, and remove it
 * there; what cannot be removed is left for the next mount to clear.
 * Fails only if the entry could not be moved. */
int entry_put_aside(int dirfd, const char *name)
{
	char tmp[64];

	staging_name(tmp, sizeof(tmp));
	if (renameat(dirfd, name, fs.workfd, tmp) < 0)
		return -errno;
	remove_tree_at(fs.workfd, tmp);
	return 0;
}

/* Remove a whiteout for NAME from DIRFD, if there is one. */
int whiteout_clear(int dirfd, const char *name, bool *had)
{
	char whname[NAME_MAX + 1];
	struct stat st;

	*had = false;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    stat_is_whiteout(&st)) {
		if (unlinkat(dirfd, name, 0) < 0)
			return -errno;
		*had = true;
	}
	if (wh_file_name(name, whname, sizeof(whname)) == 0 &&
	    fstatat(dirfd, whname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (unlinkat(dirfd, whname, 0) < 0)
			return -errno;
		*had = true;
	}
	return 0;
}

int opaque_set(int dirfd)
{
	switch (fs.opq_style) {
	case OPQ_TRUSTED:
		if (fsetxattr(dirfd, "trusted.overlay.opaque", "y", 1, 0) == 0)
			return 0;
		break;
	case OPQ_USER:
		if (fsetxattr(dirfd, "user.overlay.opaque", "y", 1, 0) == 0)
			return 0;
		break;
	case OPQ_FILE:
		break;
	}
	if (fs.opq_style != OPQ_FILE && errno != ENOTSUP && errno != EPERM)
		return -errno;
	return marker_create(dirfd, OPQ_MARKER);
}

/* Remove NAME below DIRFD, recursively when it is a directory. A
 * directory without its owner's read, write or search bit (0555, 0000:
 * go and other tools make such trees) gets them first, so that a caller
 * without CAP_DAC_OVERRIDE that owns it can empty it, as rm -rf does. */
int remove_tree_at(int pfd, const char *name)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, err = 0;

	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (unlinkat(pfd, name, AT_REMOVEDIR) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & S_IRWXU) != S_IRWXU)
		fchmodat(pfd, name, (st.st_mode & 07777) | S_IRWXU, 0);
	fd = fdrelief_openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = remove_tree_at(dirfd(d), de->d_name);
		if (err)
			break;
	}
	closedir(d);
	if (err)
		return err;
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0)
		return -errno;
	return 0;
}

/* Drop whiteouts (not the opaque marker) from an upper directory whose
 * merged view is empty or opaque, where they no longer hide anything. */
int purge_internal_entries(int pfd)
{
	struct dirent *de;
	DIR *d;
	/* the daemon's own reading: the directory's atime stays */
	int fd = layer_openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_NOATIME | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, OPQ_MARKER))
			continue;
		if (!strncmp(de->d_name, ".wh.", 4)) {
			unlinkat(pfd, de->d_name, 0);
			continue;
		}
		if ((de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) &&
		    fstatat(pfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    stat_is_whiteout(&st))
			unlinkat(pfd, de->d_name, 0);
	}
	closedir(d);
	return 0;
}

/* A directory in the staging area that passes on the default ACL of
 * PARENT_FD: an object built aside (it replaces a whiteout) inherits
 * there what it would have inherited in its parent, by the same rules
 * (access ACL and mode masked by the creator's mode; a directory takes
 * the default ACL too). Its name in DIR (LEN bytes), or "" where the
 * parent has no default ACL after all. */
int staging_acl_dir(int parent_fd, char *dir, size_t len)
{
	const char *acl = "system.posix_acl_default";
	struct xobj parent = { .fd = parent_fd }, d = { .fd = -1 };
	char *val = NULL;
	size_t cap = 0;
	ssize_t vlen;
	int err = 0;

	dir[0] = '\0';
	vlen = xattr_value(&parent, acl, &val, &cap);
	vlen = acl_drop_unmapped(acl, val, vlen);
	if (vlen < 0) {
		err = errno == ENODATA ? 0 : -errno;	/* gone meanwhile */
		goto out;
	}
	staging_name(dir, len);
	if (mkdirat(fs.workfd, dir, 0700) < 0) {
		err = -errno;
		goto out;
	}
	d.fd = fdrelief_openat(fs.workfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (d.fd < 0 || xobj_set(&d, acl, val, (size_t)vlen, 0) < 0) {
		err = -errno;
		unlinkat(fs.workfd, dir, AT_REMOVEDIR);
	}
	if (d.fd >= 0)
		close(d.fd);
out:
	free(val);
	return err;
}

/* Move the staged object TMP to DIRFD/NAME, replacing a whiteout there.
 * A whiteout that goes meanwhile (the purge of a directory being moved:
 * copyup_tree.c) leaves the name free: the move is tried again. */
int install_staged(int dirfd, const char *name, const char *tmp, bool isdir)
{
	struct stat st;

	for (int tries = 0;; tries++) {
		if (renameat2(fs.workfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST)
			return -errno;
		test_pause("install", name);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT && tries < 3)
				continue;
			return -errno;
		}
		if (!stat_is_whiteout(&st))
			return -EEXIST;
		if (!isdir) {
			if (renameat(fs.workfd, tmp, dirfd, name) < 0)
				return -errno;
			break;
		}
		if (renameat2(fs.workfd, tmp, dirfd, name, RENAME_EXCHANGE) == 0) {
			unlinkat(fs.workfd, tmp, 0);
			break;
		}
		if (errno != ENOENT || tries >= 3)
			return -errno;
	}
	/* a ".wh.NAME" file may still hide NAME: it goes last */
	{
		char whname[NAME_MAX + 1];
		if (strlen(name) + 4 <= NAME_MAX) {
			snprintf(whname, sizeof(whname), ".wh.%s", name);
			if (fstatat(dirfd, whname, &st, AT_SYMLINK_NOFOLLOW) == 0)
				unlinkat(dirfd, whname, 0);
		}
	}
	return 0;
}
