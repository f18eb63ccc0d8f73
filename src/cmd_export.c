/* `layerfs export STACK FILE.tar`: the upper as an OCI image layer.
 * Whiteouts of every form become ".wh.NAME" entries, opaque directories
 * get a ".wh..wh..opq" entry, and ownership, modes, times, xattrs (not
 * the overlay's own) and hard links are kept. The tarball is written to a
 * temporary file renamed over FILE.tar only once complete, so a full disk
 * or a kill leaves no broken FILE.tar behind; the temporary file has no
 * name until it is complete, so a kill leaves nothing else either. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "archive_load.h"
#include "stack.h"
#include "tarfix.h"

#define WH_PREFIX ".wh."
#define OPQ_NAME ".wh..wh..opq"

/* A device node with several names, by the first name written. */
struct devlink {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct exporter {
	struct archive *a;
	struct tarfix fix;
	struct archive_entry_linkresolver *links;
	struct devlink *devs;	/* see link_device() */
	size_t ndevs, capdevs;
	const char *override;	/* the upper keeps owners in this xattr */
	struct stack *st;	/* its layers, for redirects (see displaced()) */
	const char *out;	/* FILE.tar, for messages */
	struct lerr *err;
};

static int archive_fail(struct exporter *x, const char *what)
{
	return lerr_add(x->err, "%s: %s: %s", x->out, what,
			x->fix.err ? strerror(x->fix.err) : archive_why(x->a));
}

/* A pax record is "LENGTH KEY=VALUE": an xattr name holding '=' cannot
 * be told from its value there (Go's archive/tar refuses such a key). */
static bool xattr_name_writable(const char *name)
{
	return !strchr(name, '=');
}

/* An object's xattrs, but for the overlay's markers and the ownership
 * overrides (whose content becomes the entry's owner and mode). Escaped
 * attributes go as the upper keeps them: an overlay that takes the
 * layer shows them unescaped. SHOWN is the entry's name, for messages. */
static void add_xattrs(struct exporter *x, struct archive_entry *e,
		       const char *path, const char *shown, struct stat *sb)
{
	struct xobj o = { .path = path };
	struct xnames names;
	char *val = NULL;
	size_t cap = 0;

	xnames_read(&names, &o);
	xnames_each(&names, name) {
		ssize_t vlen = xattr_value(&o, name, &val, &cap);

		if (vlen < 0)
			continue;
		if (x->override && !strcmp(name, x->override) && !S_ISLNK(sb->st_mode)) {
			unsigned uid, gid, mode;

			val[vlen] = '\0';
			if (sscanf(val, "%u:%u:%o", &uid, &gid, &mode) == 3) {
				sb->st_uid = uid;
				sb->st_gid = gid;
				sb->st_mode = (sb->st_mode & S_IFMT) | (mode & 07777);
			}
			continue;
		}
		if (xattr_is_internal(name))
			continue;
		if (!xattr_name_writable(name)) {
			fprintf(stderr, "layerfs: warning: upper: %s: xattr '%s': a name with '=' cannot go in a pax header, skipped\n",
				shown, name);
			continue;
		}
		archive_entry_xattr_add_entry(e, name, val, (size_t)vlen);
	}
	xnames_free(&names);
	free(val);
}

/* The SIZE bytes of data the entry's header gave, and not one more or
 * less: libarchive pads a short entry with zeros and cuts a long one, so
 * a file that shrank or grew since its stat (written to while export
 * runs) would go into the tarball corrupt without a word. GNU tar warns
 * and pads; a layer is better not written. */
static int write_data(struct exporter *x, int dirfd, const char *name,
		      const char *path, int64_t size)
{
	char buf[65536];
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int64_t done = 0;
	ssize_t n = 0;
	int ret = -1;

	if (fd < 0)
		return lerr_add(x->err, "upper: %s: %s", path, strerror(errno));
	while (done < size) {
		n = read(fd, buf, size - done < (int64_t)sizeof(buf) ?
				  (size_t)(size - done) : sizeof(buf));
		if (n <= 0)
			break;
		if (archive_write_data(x->a, buf, (size_t)n) < 0) {
			archive_fail(x, "cannot write");
			goto out;
		}
		done += n;
	}
	if (done == size)	/* the end of the file, or more? */
		n = read(fd, buf, 1);
	if (n < 0)
		lerr_add(x->err, "upper: %s: %s", path, strerror(errno));
	else if (done < size)
		lerr_add(x->err, "upper: %s: the file shrank from %jd to %jd bytes while it was read (written to during the export?): its entry would be padded with zeros",
			 path, (intmax_t)size, (intmax_t)done);
	else if (n > 0)
		lerr_add(x->err, "upper: %s: the file grew past its %jd bytes while it was read (written to during the export?): its entry would be cut short",
			 path, (intmax_t)size);
	else
		ret = 0;
out:
	close(fd);
	return ret;
}

static int write_entry(struct exporter *x, struct archive_entry *e,
		       int dirfd, const char *name)
{
	struct archive_entry *sparse = NULL;
	const char *path = archive_entry_pathname(e);
	int r;

	archive_entry_linkify(x->links, &e, &sparse);
	if (!e)
		return 0;
	r = archive_write_header(x->a, e);
	if (r < ARCHIVE_WARN)
		return archive_fail(x, path);
	if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) &&
	    archive_entry_size(e) > 0 &&
	    write_data(x, dirfd, name, path, archive_entry_size(e)))
		return -1;
	if (archive_write_finish_entry(x->a) < ARCHIVE_WARN)
		return archive_fail(x, path);
	return 0;
}

/* libarchive's link resolver passes device nodes through as they are
 * (old tar formats had no links to them), so each name of a hard-linked
 * node would become a node of its own: the names after the first become
 * hard links to it here, as GNU tar and containers-storage write them. */
static void link_device(struct exporter *x, struct archive_entry *e,
			const struct stat *sb)
{
	if (!(S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode)) || sb->st_nlink < 2)
		return;
	for (size_t i = 0; i < x->ndevs; i++) {
		if (x->devs[i].dev == sb->st_dev && x->devs[i].ino == sb->st_ino) {
			archive_entry_set_hardlink(e, x->devs[i].path);
			return;
		}
	}
	if (x->ndevs == x->capdevs) {
		x->capdevs = x->capdevs ? 2 * x->capdevs : 16;
		x->devs = xrealloc(x->devs, x->capdevs * sizeof(*x->devs));
	}
	x->devs[x->ndevs].dev = sb->st_dev;
	x->devs[x->ndevs].ino = sb->st_ino;
	x->devs[x->ndevs].path = xstrdup(archive_entry_pathname(e));
	x->ndevs++;
}

/* A marker entry (".wh.NAME" or the opaque marker): an empty file. */
static int write_marker(struct exporter *x, const char *dir, const char *name,
			const struct stat *like)
{
	struct archive_entry *e = archive_entry_new();
	char *path = xmalloc(strlen(dir) + strlen(name) + 2);
	int ret;

	sprintf(path, "%s%s", dir, name);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 0);
	archive_entry_set_nlink(e, 1);	/* never taken for a hard link */
	archive_entry_set_uid(e, like ? like->st_uid : 0);
	archive_entry_set_gid(e, like ? like->st_gid : 0);
	if (like)
		archive_entry_set_mtime(e, like->st_mtim.tv_sec, 0);
	ret = write_entry(x, e, -1, NULL);
	archive_entry_free(e);
	free(path);
	return ret;
}

static int export_dir(struct exporter *x, int dfd, const char *dir);

/* The path (from the layers' roots) where the directory DIR NAME of the
 * upper, which the kernel's overlay renamed with redirect_dir=on, finds
 * what the layers below give it, when that is not its own path and a
 * layer has a directory there: a tarball holds names only, so that would
 * be lost. Its parent is not displaced (export refuses first). NULL
 * otherwise. */
static char *displaced(struct exporter *x, int dfd, const char *dir,
		       const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char *to;

	if (fd < 0)
		return NULL;
	to = stack_redirect_target(x->st, fd, dir, name);
	close(fd);
	return to;
}

/* One object of the upper; DIR is its parent's path in the archive
 * ("" or ending in '/'). */
static int export_one(struct exporter *x, int dfd, const char *dir,
		      const char *name, bool dir_xwh)
{
	char procpath[PATH_MAX], *redirect, *path;
	struct archive_entry *e;
	struct stat sb;
	int ret = -1;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return lerr_add(x->err, "upper: %s%s: %s", dir, name, strerror(errno));
	if (stat_is_whiteout(&sb) || (dir_xwh && is_xwhiteout(dfd, name, &sb))) {
		char wh[NAME_MAX + 8];

		snprintf(wh, sizeof(wh), WH_PREFIX "%s", name);
		return write_marker(x, dir, wh, &sb);
	}
	/* the kernel's overlay with metacopy=on leaves a copied-up file's
	 * data below: the upper file is all holes, and would go as zeros */
	if (S_ISREG(sb.st_mode) &&
	    fd_path_at(dfd, name, procpath, sizeof(procpath)) == 0 &&
	    (lgetxattr(procpath, "trusted.overlay.metacopy", NULL, 0) >= 0 ||
	     lgetxattr(procpath, "user.overlay.metacopy", NULL, 0) >= 0))
		return lerr_add(x->err, "upper: %s%s: a metacopy file (the kernel's overlay with metacopy=on) keeps its data in a lower layer, which export does not follow: its data would be lost",
				dir, name);
	if (S_ISDIR(sb.st_mode) && (redirect = displaced(x, dfd, dir, name))) {
		ret = lerr_add(x->err, "upper: %s%s: a directory the kernel's overlay renamed (redirect_dir=on): its files from the layers below are at /%s, and a tarball, which names files by their paths, would lose them",
			       dir, name, redirect);
		free(redirect);
		return ret;
	}
	if (S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "layerfs: warning: upper: %s%s: a socket cannot go in a tarball, skipped\n",
			dir, name);
		return 0;
	}
	path = xmalloc(strlen(dir) + strlen(name) + 2);
	sprintf(path, "%s%s%s", dir, name, S_ISDIR(sb.st_mode) ? "/" : "");
	e = archive_entry_new();
	if (fd_path_at(dfd, name, procpath, sizeof(procpath)) == 0)
		add_xattrs(x, e, procpath, path, &sb);
	archive_entry_copy_stat(e, &sb);
	archive_entry_set_pathname(e, path);
	/* whole seconds, as docker and containers-storage write layers:
	 * the restricted pax format would keep nanoseconds only on the
	 * entries that need an extended header anyway (xattrs, long names),
	 * so equal uppers could give tarballs that differ in what they keep */
	archive_entry_set_mtime(e, sb.st_mtim.tv_sec, 0);
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
	if (S_ISLNK(sb.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		if (n < 0) {
			lerr_add(x->err, "upper: %s: %s", path, strerror(errno));
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
		archive_entry_set_size(e, 0);
	} else if (!S_ISREG(sb.st_mode)) {
		archive_entry_set_size(e, 0);
	}
	link_device(x, e, &sb);
	if (write_entry(x, e, dfd, name))
		goto out;
	if (S_ISDIR(sb.st_mode)) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0) {
			lerr_add(x->err, "upper: %s: %s", path, strerror(errno));
			goto out;
		}
		ret = export_dir(x, fd, path);
		close(fd);
		goto out;
	}
	ret = 0;
out:
	archive_entry_free(e);
	free(path);
	return ret;
}

/* The entries of DFD in name order, so that the same upper gives the
 * same tarball. */
static int export_dir(struct exporter *x, int dfd, const char *dir)
{
	bool opaque = false, xwh = false, has_marker;
	char **names;
	size_t n;
	struct stat sb;
	int ret = 0, err = dir_names_sorted(dfd, &names, &n);

	if (err)
		return lerr_add(x->err, "upper: %s: %s", *dir ? dir : "/", strerror(-err));

	dir_opaque_state(dfd, &opaque, &xwh);
	has_marker = fstatat(dfd, OPQ_NAME, &sb, AT_SYMLINK_NOFOLLOW) == 0;
	/* the root's marker hides nothing in a mount (node.c), and in a
	 * tarball would tell its reader to drop every lower file */
	if (opaque && *dir && !has_marker && fstat(dfd, &sb) == 0)
		ret = write_marker(x, dir, OPQ_NAME, &sb);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (!*dir && !strcmp(names[i], OPQ_NAME))
			continue;
		if (!strncmp(names[i], WH_PREFIX, strlen(WH_PREFIX)))
			ret = fstatat(dfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) == 0 ?
			      write_marker(x, dir, names[i], &sb) :
			      lerr_add(x->err, "upper: %s%s: %s", dir, names[i], strerror(errno));
		else
			ret = export_one(x, dfd, dir, names[i], xwh);
	}
	names_free(names, n);
	return ret;
}

static int export_upper(struct stack *st, const char *out, int outfd,
			struct lerr *err)
{
	struct exporter x = { .out = out, .err = err, .st = st,
			      .fix = { .fd = outfd, .pax_size = -1 } };
	const char *upper = st->upper;
	int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = -1;

	if (ufd < 0)
		return lerr_add(err, "upper: %s: %s", upper, strerror(errno));
	x.override = override_of_layer(ufd);
	x.a = archive_write_new();
	x.links = archive_entry_linkresolver_new();
	/* xattrs as SCHILY.xattr records only, the form OCI tools read */
	if (archive_write_set_format_pax_restricted(x.a) != ARCHIVE_OK ||
	    archive_write_set_format_option(x.a, "pax", "xattrheader", "SCHILY") < ARCHIVE_OK ||
	    /* no padding after the end: a file, as archive_write_open_fd()
	     * writes one */
	    archive_write_set_bytes_in_last_block(x.a, 1) != ARCHIVE_OK ||
	    archive_write_open(x.a, &x.fix, NULL, tarfix_write, NULL) != ARCHIVE_OK) {
		archive_fail(&x, "cannot start the archive");
		goto out;
	}
	archive_entry_linkresolver_set_strategy(x.links, archive_format(x.a));
	if (export_dir(&x, ufd, ""))
		goto out;
	if (archive_write_close(x.a) != ARCHIVE_OK) {
		archive_fail(&x, "cannot write");
		goto out;
	}
	ret = 0;
out:
	archive_entry_linkresolver_free(x.links);
	archive_write_free(x.a);
	free(x.fix.x);
	for (size_t i = 0; i < x.ndevs; i++)
		free(x.devs[i].path);
	free(x.devs);
	close(ufd);
	return ret;
}

/* The tarball's file while it is written: an unnamed file in FILE.tar's
 * directory (O_TMPFILE), which a kill leaves nothing of, else a named
 * temporary beside it; *TMP is its name then, NULL for the unnamed one. */
static int open_output(const char *out, const char *dir, char **tmp,
		       struct lerr *err)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

	*tmp = NULL;
	/* no O_TMPFILE on this file system (or kernel) */
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		*tmp = path_temp(out, "export");
		fd = mkostemp(*tmp, O_CLOEXEC);
	}
	if (fd < 0) {
		lerr_add(err, "%s: cannot create a temporary file in %s: %s",
			 out, dir, strerror(errno));
		free(*tmp);
		*tmp = NULL;
	}
	return fd;
}

/* The XXXXXX that ends TEMPLATE (path_temp()'s) in letters and digits
 * that differ from one process and try to the next, as mkstemp() picks
 * them; a name taken already is the caller's to retry. */
static void fill_template(char *template, unsigned try)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char *x = template + strlen(template) - 6;
	struct timespec ts;
	uint64_t v;

	clock_gettime(CLOCK_REALTIME, &ts);
	v = ((uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20) +
	    try * UINT64_C(0x9e3779b97f4a7c15);
	for (int i = 0; i < 6; i++, v /= sizeof(chars) - 1)
		x[i] = chars[v % (sizeof(chars) - 1)];
}

/* Give the unnamed file FD a name beside OUT, into *TMP: a link cannot
 * replace a file, so it gets a fresh name, which rename() then moves. */
static int name_output(int fd, const char *out, char **tmp, struct lerr *err)
{
	char proc[32];

	fd_path(fd, proc, sizeof(proc));
	*tmp = path_temp(out, "export");
	for (unsigned i = 0; ; i++) {
		fill_template(*tmp, i);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, *tmp, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST || i == 100) {
			lerr_add(err, "%s: cannot name the finished tarball %s: %s",
				 out, *tmp, strerror(errno));
			free(*tmp);
			*tmp = NULL;
			return -1;
		}
	}
}

/* OUT must name a file in a directory that exists: found out only at the
 * rename, that would come after the whole upper was read and written. */
static int check_output(const char *out, const char *dir, struct lerr *err)
{
	size_t len = strlen(out);
	struct stat sb;

	if (len && out[len - 1] == '/')
		return lerr_add(err, "%s: ends in '/': FILE.tar names the tarball to write, not a directory", out);
	if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode))
		return lerr_add(err, "%s: is a directory: FILE.tar names the tarball to write", out);
	if (stat(dir, &sb) < 0)
		return lerr_add(err, "%s: %s: %s", out, dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		return lerr_add(err, "%s: %s: %s", out, dir, strerror(ENOTDIR));
	return 0;
}

int cmd_export(int argc, char **argv)
{
	struct lerr err = { 0 };
	struct stack st;
	char *tmp = NULL, *dir = NULL;
	int fd = -1, ret = 1;

	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		fprintf(help ? stdout : stderr, "Usage: layerfs export STACK FILE.tar\n"
			"Write the upper of STACK as an OCI image layer tarball.\n");
		return help ? 0 : 1;
	}
	if (archive_load() < 0)
		return 1;
	memset(&st, 0, sizeof(st));
	dir = path_dirname(argv[2]);
	if (check_output(argv[2], dir, &err) ||
	    stack_open(argv[1], STACK_NEED_UPPER, &st, &err))
		goto out;
	fd = open_output(argv[2], dir, &tmp, &err);
	if (fd < 0)
		goto out;
	if (fchmod(fd, 0644) < 0 || export_upper(&st, argv[2], fd, &err))
		goto out;
	if (fsync(fd) < 0) {
		lerr_add(&err, "%s: cannot write: %s", argv[2], strerror(errno));
		goto out;
	}
	if (!tmp && name_output(fd, argv[2], &tmp, &err))
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		lerr_add(&err, "%s: cannot write: %s", argv[2], strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, argv[2]) < 0) {
		lerr_add(&err, "%s: %s", argv[2], strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	fsync_dir(dir);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dir);
	lerr_print(&err);
	stack_free(&st);
	return ret;
}
