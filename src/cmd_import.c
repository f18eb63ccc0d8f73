/* `layerfs import FILE.tar LAYERDIR`: unpack an OCI image layer into a
 * new layer directory. Whiteouts stay ".wh.NAME" files and opaque markers
 * ".wh..wh..opq" files, forms layerfs reads as they are.
 *
 * A tarball is untrusted input. Every entry is checked before anything is
 * written: absolute names, ".." and hard links to such names are refused,
 * and files are created one component at a time relative to directory
 * descriptors with O_NOFOLLOW, so an entry can never be written through
 * a symlink an earlier entry planted. Symlinks themselves are stored as
 * data: their targets mean the container's root, and neither this code
 * nor the daemon ever follows them. Everything goes into a temporary
 * directory renamed to LAYERDIR at the end: a refused or failed import
 * leaves nothing behind. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "archive_load.h"
#include "gunzip.h"
#include "stack.h"

struct dirtime {
	char *path;
	struct timespec ts[2];
	mode_t mode;
	void *dacl;		/* its default ACL (an xattr value), or NULL */
	size_t dacl_len;
	bool stale;		/* a later entry names the same directory */
};

/* A directory's default ACL is set last, with its mode and times, as tar
 * sets a directory's attributes: set at once, it would be inherited by
 * every entry made in the directory, which then had an ACL of its own
 * (granting what it names) that the tarball did not give it. */
#define DEFAULT_ACL "system.posix_acl_default"

struct importer {
	struct archive *a;
	struct gunzip *gz;	/* what libarchive reads the tar from */
	int root;		/* the temporary layer directory */
	const char *tar;	/* for messages */
	struct dirtime *dirs;	/* set last: creating entries changes them */
	size_t ndirs, capdirs;
	bool warned_owner, warned_xattr, warned_acl, warned_dev;
	char **left_out;	/* device nodes not made, and links to them */
	size_t nleft, capleft;
	struct lerr *err;
};

/* Normalise an entry name in place ("./a//b/" -> "a/b"); refuse names
 * that leave the layer. An empty result is the layer root. */
static int clean_name(struct importer *im, const char *what, char *name)
{
	char *out = name, *p = name;

	if (name[0] == '/')
		return lerr_add(im->err, "%s: %s '%s': absolute path: refusing an entry outside the layer directory",
				im->tar, what, name);
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 2 && !strncmp(p, "..", 2))
			return lerr_add(im->err, "%s: %s '%s': '..' escapes the layer directory: refused",
					im->tar, what, name);
		if (len && !(len == 1 && p[0] == '.')) {
			if (out != name)
				*out++ = '/';
			memmove(out, p, len);
			out += len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	*out = '\0';
	return 0;
}

#define PARENT_CREATE	0x1	/* make missing directories */
#define PARENT_QUIET	0x2	/* a failure is no error of the import */

/* The directory holding NAME's last component, walked from the root one
 * component at a time, never through a symlink; missing directories are
 * made with PARENT_CREATE. *LEAF points into NAME. */
static int open_parent(struct importer *im, char *name, unsigned how,
		       const char **leaf)
{
	bool create = how & PARENT_CREATE;
	int fd = dup(im->root);
	char *p = name, *slash;

	while (fd >= 0 && (slash = strchr(p, '/'))) {
		int next;

		*slash = '\0';
		next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, p, 0755) == 0)
				next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int e = errno;

			*slash = '/';
			if (!(how & PARENT_QUIET))
				lerr_add(im->err, "%s: entry '%s': '%.*s' %s", im->tar, name,
					 (int)(slash - name), name,
					 e == ELOOP || e == ENOTDIR ?
					 "is not a directory (a symlink?): refusing to go through it" :
					 strerror(e));
			close(fd);
			return -1;
		}
		*slash = '/';
		close(fd);
		fd = next;
		p = slash + 1;
	}
	*leaf = p;
	return fd;
}

static void warn_once(bool *flag, const char *msg)
{
	if (!*flag)
		fprintf(stderr, "layerfs: warning: %s\n", msg);
	*flag = true;
}

/* An xattr of the object at PATH; -1 when the disk refuses to take it,
 * a warning (once) when this system or file cannot have it. */
static int set_xattr(struct importer *im, const char *path, const char *xname,
		     const void *val, size_t vlen, const char *name)
{
	if (lsetxattr(path, xname, val, vlen, 0) == 0)
		return 0;
	if (errno == ENOSPC || errno == EDQUOT || errno == EIO)
		return lerr_add(im->err, "%s: xattr %s: %s", name, xname, strerror(errno));
	warn_once(&im->warned_xattr, "some xattrs could not be set here and were dropped");
	return 0;
}

/* Owner, mode and xattrs of the object LEAF in PFD (already created). A
 * directory's mode comes last, with its times (set_dir_times()): a
 * read-only one must take its entries first, as tar(1) does it. */
static int set_meta(struct importer *im, int pfd, const char *leaf,
		    struct archive_entry *e, const char *name)
{
	char path[PATH_MAX];
	bool link = archive_entry_filetype(e) == AE_IFLNK;
	bool dir = archive_entry_filetype(e) == AE_IFDIR;
	const char *xname;
	const void *val;
	size_t vlen;

	if (fchownat(pfd, leaf, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0) {
		/* EINVAL: an id the user namespace we run in does not map */
		if (errno != EPERM && errno != EINVAL)
			return lerr_add(im->err, "%s: cannot set the owner: %s", name, strerror(errno));
		warn_once(&im->warned_owner, "not permitted to set owners: files keep yours");
	}
	/* after chown, which clears set-id bits */
	if (!link && !dir && fchmodat(pfd, leaf, archive_entry_perm(e), 0) < 0)
		return lerr_add(im->err, "%s: cannot set the mode: %s", name, strerror(errno));
	if (fd_path_at(pfd, leaf, path, sizeof(path)) < 0)
		return lerr_add(im->err, "%s: name too long", name);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xname, &val, &vlen) == ARCHIVE_OK) {
		if (dir && !strcmp(xname, DEFAULT_ACL))
			continue;	/* set_dir_times() */
		if (set_xattr(im, path, xname, val, vlen, name))
			return -1;
	}
	/* ACLs as tar --acls records them (SCHILY.acl.*), not as xattrs */
	if (archive_entry_acl_reset(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS |
				       ARCHIVE_ENTRY_ACL_TYPE_DEFAULT) > 0)
		warn_once(&im->warned_acl, "POSIX ACLs recorded as SCHILY.acl.* (tar --acls) are not imported: only ACLs stored as system.posix_acl_* xattrs are");
	return 0;
}

/* Why reading the tarball failed: gunzip's reason, which libarchive saw
 * only as a failed read, or libarchive's. */
static const char *read_why(struct importer *im)
{
	const char *why = gunzip_why(im->gz);

	return why ? why : archive_why(im->a);
}

/* libarchive's read callback */
static la_ssize_t read_tar(struct archive *a, void *gz, const void **buf)
{
	return gunzip_read(gz, buf);
}

static int write_file_data(struct importer *im, int fd, struct archive_entry *e,
			   const char *name)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(im->a, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *p = buf;

		while (size > 0) {
			ssize_t n = pwrite(fd, p, size, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return lerr_add(im->err, "%s: cannot write: %s", name, strerror(errno));
			p += n;
			off += n;
			size -= (size_t)n;
		}
	}
	if (r != ARCHIVE_EOF)
		return lerr_add(im->err, "%s: %s: %s", im->tar, name, read_why(im));
	/* a sparse tail is a hole: give the file its full size */
	if (ftruncate(fd, archive_entry_size(e)) < 0)
		return lerr_add(im->err, "%s: cannot write: %s", name, strerror(errno));
	return 0;
}

static void remember_dir_time(struct importer *im, const char *name,
			      struct archive_entry *e)
{
	struct dirtime *d;
	const char *xname;
	const void *val;
	size_t vlen;

	if (im->ndirs == im->capdirs) {
		im->capdirs = im->capdirs ? 2 * im->capdirs : 64;
		im->dirs = xrealloc(im->dirs, im->capdirs * sizeof(*im->dirs));
	}
	d = &im->dirs[im->ndirs++];
	d->path = xstrdup(name);
	d->stale = false;
	d->ts[0].tv_sec = archive_entry_atime_is_set(e) ? archive_entry_atime(e) : archive_entry_mtime(e);
	d->ts[0].tv_nsec = archive_entry_atime_is_set(e) ? archive_entry_atime_nsec(e) : archive_entry_mtime_nsec(e);
	d->ts[1].tv_sec = archive_entry_mtime(e);
	d->ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	d->mode = archive_entry_perm(e);
	d->dacl = NULL;
	d->dacl_len = 0;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xname, &val, &vlen) == ARCHIVE_OK) {
		if (strcmp(xname, DEFAULT_ACL))
			continue;
		free(d->dacl);
		d->dacl = xmalloc(vlen ? vlen : 1);
		memcpy(d->dacl, val, vlen);
		d->dacl_len = vlen;
	}
}

/* NAME was left out (a device node a plain user may not make): a hard
 * link to it is left out too, not a failed import. */
static void leave_out(struct importer *im, const char *name)
{
	if (im->nleft == im->capleft) {
		im->capleft = im->capleft ? 2 * im->capleft : 16;
		im->left_out = xrealloc(im->left_out, im->capleft * sizeof(*im->left_out));
	}
	im->left_out[im->nleft++] = xstrdup(name);
}

static bool was_left_out(const struct importer *im, const char *name)
{
	for (size_t i = 0; i < im->nleft; i++)
		if (!strcmp(im->left_out[i], name))
			return true;
	return false;
}

static int make_hardlink(struct importer *im, int pfd, const char *leaf,
			 struct archive_entry *e, const char *name)
{
	char *target = xstrdup(archive_entry_hardlink(e));
	const char *tleaf;
	struct stat sb;
	int tfd = -1, ret = -1;

	if (clean_name(im, "hard link target", target))
		goto out;
	if (!*target) {
		lerr_add(im->err, "%s: entry '%s': hard link to the layer root: refused", im->tar, name);
		goto out;
	}
	tfd = open_parent(im, target, 0, &tleaf);
	if (tfd < 0)
		goto out;
	if (fstatat(tfd, tleaf, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT && was_left_out(im, target)) {
			leave_out(im, name);
			ret = 0;
			goto out;
		}
		lerr_add(im->err, "%s: entry '%s': hard link target '%s' is not in the layer "
			 "(links must point to earlier entries)", im->tar, name, target);
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		lerr_add(im->err, "%s: entry '%s': hard link target '%s' is a directory",
			 im->tar, name, target);
		goto out;
	}
	if (linkat(tfd, tleaf, pfd, leaf, 0) < 0) {
		lerr_add(im->err, "%s: cannot link to %s: %s", name, target, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (tfd >= 0)
		close(tfd);
	free(target);
	return ret;
}

/* Is E a hard link to NAME itself (tar -cf t.tar d d/f names d/f twice,
 * the second time as such a link)? A bad target is make_hardlink()'s to
 * report. */
static bool links_to_itself(struct importer *im, struct archive_entry *e,
			    const char *name)
{
	char *target = xstrdup(archive_entry_hardlink(e));
	struct lerr *keep = im->err, quiet = { 0 };
	bool self;

	im->err = &quiet;
	self = clean_name(im, "hard link target", target) == 0 && !strcmp(target, name);
	im->err = keep;
	lerr_free(&quiet);
	free(target);
	return self;
}

static int import_entry(struct importer *im, struct archive_entry *e)
{
	char *name = xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	mode_t type = archive_entry_filetype(e);
	const char *leaf;
	struct stat sb;
	int pfd = -1, fd, ret = -1, r;

	if (clean_name(im, "entry", name))
		goto out;
	if (!*name) {		/* "./": the layer root's own attributes */
		if (type == AE_IFDIR && set_meta(im, im->root, ".", e, "/") == 0) {
			remember_dir_time(im, "", e);
			ret = 0;
		} else if (type != AE_IFDIR) {
			lerr_add(im->err, "%s: entry '%s': the layer root must be a directory",
				 im->tar, archive_entry_pathname(e));
		}
		goto out;
	}
	pfd = open_parent(im, name, PARENT_CREATE, &leaf);
	if (pfd < 0)
		goto out;
	/* ".wh.NAME" of a NAME over 251 bytes cannot be a file name: such a
	 * whiteout can only be the kernel's form, a 0/0 character device */
	if (!strncmp(leaf, ".wh.", 4) && strlen(leaf) > NAME_MAX) {
		if (type != AE_IFREG || archive_entry_hardlink(e)) {
			lerr_add(im->err, "%s: entry '%s': name too long", im->tar, name);
			goto out;
		}
		if (mknodat(pfd, leaf + 4, S_IFCHR, makedev(0, 0)) < 0) {
			lerr_add(im->err, "%s: entry '%s': a whiteout of a %zu-byte name, too long for a .wh. file, and the character device 0/0 that would stand for it cannot be made here: %s",
				 im->tar, name, strlen(leaf + 4), strerror(errno));
			goto out;
		}
		ret = 0;
		goto out;
	}
	/* a later entry replaces an earlier one, but a directory stays, and
	 * a file named again as a hard link to itself is there already */
	if (fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(S_ISDIR(sb.st_mode) && type == AE_IFDIR && !archive_entry_hardlink(e))) {
		if (archive_entry_hardlink(e) && !S_ISDIR(sb.st_mode) &&
		    links_to_itself(im, e, name)) {
			ret = 0;
			goto out;
		}
		r = remove_tree_at(pfd, leaf);
		if (r < 0) {
			lerr_add(im->err, "%s: cannot replace: %s", name, strerror(-r));
			goto out;
		}
	}
	if (archive_entry_hardlink(e)) {
		ret = make_hardlink(im, pfd, leaf, e, name);
		goto out;
	}
	switch (type) {
	case AE_IFDIR:
		if (mkdirat(pfd, leaf, 0700) < 0 && errno != EEXIST) {
			lerr_add(im->err, "%s: %s", name, strerror(errno));
			goto out;
		}
		remember_dir_time(im, name, e);
		break;
	case AE_IFREG:
		fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			lerr_add(im->err, "%s: %s", name, strerror(errno));
			goto out;
		}
		r = write_file_data(im, fd, e, name);
		close(fd);
		if (r)
			goto out;
		break;
	case AE_IFLNK:
		if (symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "",
			      pfd, leaf) < 0) {
			lerr_add(im->err, "%s: %s", name, strerror(errno));
			goto out;
		}
		break;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if (mknodat(pfd, leaf, type | 0600, makedev(archive_entry_rdevmajor(e),
							   archive_entry_rdevminor(e))) < 0) {
			/* a plain user, in a user namespace too, may make no
			 * device node: left out, as docker and
			 * containers-storage leave them out there */
			if (errno == EPERM && type != AE_IFIFO) {
				warn_once(&im->warned_dev, "not permitted to make device nodes: they were left out");
				leave_out(im, name);
				ret = 0;
				goto out;
			}
			lerr_add(im->err, "%s: %s", name, strerror(errno));
			goto out;
		}
		break;
	default:
		fprintf(stderr, "layerfs: warning: %s: entry '%s': unsupported type, skipped\n",
			im->tar, name);
		ret = 0;
		goto out;
	}
	if (set_meta(im, pfd, leaf, e, name))
		goto out;
	if (type != AE_IFDIR) {
		struct timespec ts[2] = {
			{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
			{ archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
		};

		if (utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			lerr_add(im->err, "%s: cannot set times: %s", name, strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	if (pfd >= 0)
		close(pfd);
	free(name);
	return ret;
}

static int cmp_dirtime(const void *a, const void *b)
{
	const struct dirtime *x = *(struct dirtime *const *)a;
	const struct dirtime *y = *(struct dirtime *const *)b;
	int r = strcmp(x->path, y->path);

	return r ? r : (x < y ? -1 : x > y);
}

/* A directory named by several entries takes the last one's mode and
 * times, as with tar -x: mark the earlier records. */
static void mark_stale_dirs(struct importer *im)
{
	struct dirtime **v;

	if (im->ndirs < 2)
		return;
	v = xmalloc(im->ndirs * sizeof(*v));
	for (size_t i = 0; i < im->ndirs; i++)
		v[i] = &im->dirs[i];
	qsort(v, im->ndirs, sizeof(*v), cmp_dirtime);
	for (size_t i = 0; i + 1 < im->ndirs; i++)
		if (!strcmp(v[i]->path, v[i + 1]->path))
			v[i]->stale = true;
	free(v);
}

static int set_dir_acl(struct importer *im, int pfd, const char *leaf,
		       const struct dirtime *d)
{
	char path[PATH_MAX];

	if (fd_path_at(pfd, leaf, path, sizeof(path)) < 0)
		return lerr_add(im->err, "%s: name too long", d->path);
	return set_xattr(im, path, DEFAULT_ACL, d->dacl, d->dacl_len,
			 *d->path ? d->path : "/");
}

/* Directory modes, default ACLs and times last, deepest first: creating
 * entries changed the times, needed the write bit, and would have taken
 * the default ACL. A directory a later entry replaced is left alone. */
static int set_dir_times(struct importer *im)
{
	mark_stale_dirs(im);
	for (size_t i = im->ndirs; i-- > 0;) {
		struct dirtime *d = &im->dirs[i];
		const char *leaf = ".";
		int pfd;
		struct stat sb;

		if (d->stale)
			continue;
		pfd = *d->path ? open_parent(im, d->path, PARENT_QUIET, &leaf) :
		      dup(im->root);
		/* a later entry replaced the directory or one above it */
		if (pfd < 0)
			continue;
		if (fstatat(pfd, leaf, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode)) {
			close(pfd);
			continue;
		}
		if (fchmodat(pfd, leaf, d->mode, 0) < 0) {
			close(pfd);
			return lerr_add(im->err, "%s: cannot set the mode: %s",
					*d->path ? d->path : "/", strerror(errno));
		}
		if (d->dacl && set_dir_acl(im, pfd, leaf, d) < 0) {
			close(pfd);
			return -1;
		}
		utimensat(pfd, leaf, d->ts, AT_SYMLINK_NOFOLLOW);
		close(pfd);
	}
	return 0;
}

static int import_archive(struct importer *im)
{
	struct archive_entry *e = archive_entry_new();
	int r, ret = -1;

	while ((r = archive_read_next_header2(im->a, e)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		if (import_entry(im, e))
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		lerr_add(im->err, "%s: %s", im->tar, read_why(im));
		goto out;
	}
	/* the end of the tar comes before the end of the gzip data, whose
	 * trailer is checked only when read */
	if (gunzip_finish(im->gz) < 0) {
		lerr_add(im->err, "%s: %s", im->tar, gunzip_why(im->gz));
		goto out;
	}
	if (set_dir_times(im))
		goto out;
	if (syncfs(im->root) < 0) {
		lerr_add(im->err, "%s: sync: %s", im->tar, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	archive_entry_free(e);
	return ret;
}

/* FILE.tar, opened here rather than by libarchive, whose message for an
 * open that failed leaves out why. */
static int open_tarball(const char *tar, struct lerr *err)
{
	struct stat sb;
	int fd = open(tar, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		close(fd);
		fd = -1;
		errno = EISDIR;
	}
	if (fd < 0)
		lerr_add(err, "%s: %s", tar, strerror(errno));
	return fd;
}

int cmd_import(int argc, char **argv)
{
	struct importer im = { .root = -1 };
	struct lerr err = { 0 };
	char *tmp = NULL, *parent = NULL, *dest;
	struct stat sb;
	size_t len;
	int tarfd = -1, ret = 1;

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		fprintf(help ? stdout : stderr, "Usage: layerfs import FILE.tar LAYERDIR\n"
			"Unpack an OCI image layer into the new directory LAYERDIR.\n");
		return help ? 0 : 1;
	}
	if (archive_load() < 0)
		return 1;
	im.tar = argv[1];
	im.err = &err;
	dest = argv[2];
	for (len = strlen(dest); len > 1 && dest[len - 1] == '/'; len--)
		dest[len - 1] = '\0';
	if (lstat(argv[2], &sb) == 0) {
		lerr_add(&err, "%s: already exists: import makes a new layer directory", argv[2]);
		goto out;
	}
	tarfd = open_tarball(argv[1], &err);
	if (tarfd < 0)
		goto out;
	tmp = path_temp(argv[2], "import");
	if (!mkdtemp(tmp)) {
		lerr_add(&err, "%s: cannot create a directory there: %s", argv[2], strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	im.root = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	im.a = archive_read_new();
	archive_read_support_filter_all(im.a);
	archive_read_support_format_tar(im.a);
	/* mkdtemp made it 0700; a "./" entry may set it again */
	if (im.root < 0 || fchmod(im.root, 0755) < 0) {
		lerr_add(&err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	im.gz = gunzip_open(tarfd);
	if (archive_read_open(im.a, im.gz, NULL, read_tar, NULL) != ARCHIVE_OK) {
		lerr_add(&err, "%s: %s", argv[1], read_why(&im));
		goto out;
	}
	if (import_archive(&im))
		goto out;
	parent = path_dirname(argv[2]);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, argv[2], RENAME_NOREPLACE) < 0) {
		lerr_add(&err, "%s: %s", argv[2], strerror(errno));
		goto out;
	}
	fsync_dir(parent);
	printf("imported %s into %s\n", argv[1], argv[2]);
	ret = 0;
out:
	if (im.a)
		archive_read_free(im.a);
	if (im.gz)
		gunzip_close(im.gz);
	if (im.root >= 0)
		close(im.root);
	if (tarfd >= 0)
		close(tarfd);
	if (ret && tmp) {
		char *tparent = path_dirname(tmp);
		int pfd = open(tparent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (pfd >= 0) {
			remove_tree_at(pfd, strrchr(tmp, '/') + 1);
			close(pfd);
		}
		free(tparent);
	}
	for (size_t i = 0; i < im.ndirs; i++) {
		free(im.dirs[i].path);
		free(im.dirs[i].dacl);
	}
	free(im.dirs);
	names_free(im.left_out, im.nleft);
	free(tmp);
	free(parent);
	lerr_print(&err);
	return ret;
}
