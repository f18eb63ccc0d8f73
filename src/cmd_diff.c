/* `layerfs diff STACK [--json]`: what the upper changes relative to the
 * layers below, as podman diff shows it: A (added), C (changed; a
 * directory present below and in the upper is changed) and D (deleted:
 * whited out, or hidden by an opaque directory). Reads the upper and the
 * layers directly with *at() calls that never follow a symlink, so it
 * works whether the stack is mounted or not. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stack.h"

#define WH_PREFIX ".wh."
#define OPQ_NAME ".wh..wh..opq"

struct change {
	char kind;		/* 'A', 'C' or 'D' */
	char *path;
};

struct changes {
	struct change *v;
	size_t n, cap;
	const struct stack *st;	/* the layers, for redirects */
};

/* The directories at one path of the lower layers, top-most first, down
 * to the first opaque one: what the layers below show there, which the
 * upper's directory merges with unless an opaque directory hides it. */
struct lowers {
	int n;
	int fd[];
};

static void add_change(struct changes *c, char kind, const char *dir,
		       const char *name)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n].kind = kind;
	c->v[c->n].path = xmalloc(strlen(dir) + strlen(name) + 2);
	sprintf(c->v[c->n].path, "%s/%s", dir, name);
	c->n++;
}

static struct lowers *lowers_new(int n)
{
	return xcalloc(1, sizeof(struct lowers) + (size_t)n * sizeof(int));
}

static void lowers_free(struct lowers *lo)
{
	for (int i = 0; lo && i < lo->n; i++)
		close(lo->fd[i]);
	free(lo);
}

static bool has_wh_file(int dirfd, const char *name)
{
	char whname[NAME_MAX + 1];
	struct stat sb;

	if (strlen(name) + strlen(WH_PREFIX) > NAME_MAX)
		return false;
	snprintf(whname, sizeof(whname), WH_PREFIX "%s", name);
	return fstatat(dirfd, whname, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Is NAME visible below, in the layers of LO? The same rules as the
 * daemon's lookup: the first layer holding the name wins, a whiteout
 * ends the search, directories merge down to an opaque one. With CHILD,
 * a directory's own lowers are returned there. */
static int lower_lookup(const struct lowers *lo, const char *name,
			struct lowers **child)
{
	struct lowers *ch = NULL;
	bool found = false;
	int ret = 0;

	for (int i = 0; i < lo->n; i++) {
		bool opaque = false, xwh = false, dxwh = false;
		struct stat sb;
		int fd;

		dir_opaque_state(lo->fd[i], &opaque, &dxwh);
		if (fstatat(lo->fd[i], name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				break;
			if (has_wh_file(lo->fd[i], name))
				break;
			continue;
		}
		if (stat_is_whiteout(&sb) || (dxwh && is_xwhiteout(lo->fd[i], name, &sb)))
			break;
		if (!S_ISDIR(sb.st_mode)) {
			if (!found)
				ret = 1;
			break;
		}
		found = true;
		ret = 2;
		if (!child)
			break;
		fd = openat(lo->fd[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			break;
		if (!ch)
			ch = lowers_new(lo->n);
		ch->fd[ch->n++] = fd;
		dir_opaque_state(fd, &opaque, &xwh);
		if (opaque)
			break;
	}
	if (child)
		*child = ch ? ch : lowers_new(0);
	return ret;
}

/* The names in directory FD, sorted; none when it cannot be read. */
static char **list_dir(int fd, size_t *count)
{
	char **names;

	dir_names_sorted(fd, &names, count);
	return names;
}

static bool upper_has(int ufd, bool xwh, const char *name)
{
	struct stat sb;

	if (fstatat(ufd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return !stat_is_whiteout(&sb) && !(xwh && is_xwhiteout(ufd, name, &sb));
}

/* Where the upper hides the layers (an opaque upper directory and every
 * directory below it), whatever the lowers show and the upper lacks is
 * deleted. */
static void diff_opaque(int ufd, bool xwh, const struct lowers *lo,
			const char *path, struct changes *c)
{
	for (int i = 0; i < lo->n; i++) {
		size_t n;
		char **names = list_dir(lo->fd[i], &n);

		for (size_t k = 0; k < n; k++) {
			if (!strncmp(names[k], WH_PREFIX, strlen(WH_PREFIX)) ||
			    upper_has(ufd, xwh, names[k]))
				continue;
			if (lower_lookup(lo, names[k], NULL))
				add_change(c, 'D', path, names[k]);
		}
		names_free(names, n);
	}
}

/* A directory the kernel's overlay renamed with redirect_dir=on shows
 * what the layers hold at its old path, which the comparison by path
 * here does not list: say so. */
static void warn_redirect(const struct changes *c, int fd, const char *path,
			  const char *name)
{
	char *parent = xmalloc(strlen(path) + 2), *to;

	sprintf(parent, "%s%s", *path ? path + 1 : "", *path ? "/" : "");
	to = stack_redirect_target(c->st, fd, parent, name);
	if (to)
		fprintf(stderr, "layerfs: warning: upper: %s/%s: a directory the kernel's overlay renamed (redirect_dir=on): what it shows from the layers below, at /%s, is not listed\n",
			path, name, to);
	free(to);
	free(parent);
}

/* HIDDEN: an opaque upper directory above PATH already hides what the
 * layers have here. */
static int diff_dir(int ufd, const struct lowers *lo, bool hidden,
		    const char *path, struct changes *c, struct lerr *err)
{
	bool opaque = false, xwh = false;
	const struct lowers *below = lo;
	char **names;
	size_t n;
	int ret = 0;

	/* An opaque directory's entries are still compared with what the
	 * layers below have at their paths: a name they have is changed,
	 * not added. Nothing below it merges with the layers, whether its
	 * subdirectories are marked opaque or not (a tree renamed away and
	 * back, or made again), so at any depth the names the upper lacks
	 * are deleted. */
	dir_opaque_state(ufd, &opaque, &xwh);
	hidden = hidden || (opaque && *path);
	if (hidden)
		diff_opaque(ufd, xwh, lo, path, c);
	names = list_dir(ufd, &n);
	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *name = names[i];
		struct lowers *child = NULL;
		struct stat sb;
		char *sub;
		int r, fd;

		if (!strncmp(name, WH_PREFIX, strlen(WH_PREFIX))) {
			const char *target = name + strlen(WH_PREFIX);

			/* ".wh.NAME" hides NAME below; the opaque marker
			 * and unmatched internal names show nothing */
			if (strcmp(name, OPQ_NAME) && *target &&
			    !upper_has(ufd, xwh, target) &&
			    lower_lookup(below, target, NULL))
				add_change(c, 'D', path, target);
			continue;
		}
		if (fstatat(ufd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = lerr_add(err, "upper: %s/%s: %s", path, name, strerror(errno));
			break;
		}
		if (stat_is_whiteout(&sb) || (xwh && is_xwhiteout(ufd, name, &sb))) {
			if (lower_lookup(below, name, NULL))
				add_change(c, 'D', path, name);
			continue;
		}
		r = lower_lookup(below, name, S_ISDIR(sb.st_mode) ? &child : NULL);
		add_change(c, r ? 'C' : 'A', path, name);
		if (S_ISDIR(sb.st_mode)) {
			fd = openat(ufd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				ret = lerr_add(err, "upper: %s/%s: %s", path, name, strerror(errno));
			} else {
				warn_redirect(c, fd, path, name);
				sub = xmalloc(strlen(path) + strlen(name) + 2);
				sprintf(sub, "%s/%s", path, name);
				ret = diff_dir(fd, child, hidden, sub, c, err);
				free(sub);
				close(fd);
			}
		}
		lowers_free(child);
	}
	names_free(names, n);
	return ret;
}

/* A layer at or below the mount point of the mounted stack (a mount
 * over its own layer directory) reads as the merged view: say so. */
static int layers_under_mount(const struct stack *st, struct lerr *err)
{
	char *mreal;
	int ret = 0;

	if (!st->mountpoint || !mount_is_live(st->mountpoint))
		return 0;
	mreal = realpath(st->mountpoint, NULL);
	for (int i = 0; mreal && i < st->nlayers && !ret; i++) {
		char *lreal = realpath(st->layers[i].path, NULL);

		if (lreal && path_within(lreal, mreal))
			ret = lerr_add(err, "%s: layer %s is under the mount point %s, which hides it while the stack is mounted: unmount first",
				       st->arg, st->layers[i].path, st->mountpoint);
		free(lreal);
	}
	free(mreal);
	return ret;
}

static int cmp_change(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	int r = strcmp(x->path, y->path);

	return r ? r : x->kind - y->kind;
}

/* Sorted by path; a name hidden twice (".wh.X" in an opaque dir) once. */
static void sort_changes(struct changes *c)
{
	size_t k = 0;

	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), cmp_change);
	for (size_t i = 0; i < c->n; i++) {
		if (k && c->v[i].kind == c->v[k - 1].kind &&
		    !strcmp(c->v[i].path, c->v[k - 1].path)) {
			free(c->v[i].path);
			continue;
		}
		c->v[k++] = c->v[i];
	}
	c->n = k;
}

/* Length of the valid UTF-8 sequence at S (of N bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned int c = s[0], cp;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A JSON string for PATH: a byte that is not UTF-8 (file names need not
 * be) becomes U+FFFD, as podman's JSON output shows it, rather than the
 * path being dropped. */
static json_t *json_path(const char *path)
{
	const unsigned char *p = (const unsigned char *)path;
	size_t n = strlen(path), k = 0;
	char *buf;
	json_t *j = json_string(path);

	if (j)
		return j;
	buf = xmalloc(3 * n + 1);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(p + i, n - i);

		if (len) {
			memcpy(buf + k, p + i, len);
			k += len;
			i += len;
		} else {
			memcpy(buf + k, "\xef\xbf\xbd", 3);
			k += 3;
			i++;
		}
	}
	buf[k] = '\0';
	j = json_string(buf);
	free(buf);
	return j;
}

static void print_changes(struct changes *c, bool json)
{
	static const struct { char kind; const char *key; } kinds[] = {
		{ 'A', "added" }, { 'C', "changed" }, { 'D', "deleted" },
	};
	json_t *doc;

	if (!json) {
		for (size_t i = 0; i < c->n; i++)
			printf("%c %s\n", c->v[i].kind, c->v[i].path);
		return;
	}
	doc = json_object();
	for (size_t k = 0; k < 3; k++) {
		json_t *arr = json_array();

		for (size_t i = 0; i < c->n; i++)
			if (c->v[i].kind == kinds[k].kind)
				json_array_append_new(arr, json_path(c->v[i].path));
		json_object_set_new(doc, kinds[k].key, arr);
	}
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
}

int cmd_diff(int argc, char **argv)
{
	struct stack st;
	struct changes c = { .st = &st };
	struct lerr err = { 0 };
	struct lowers *lo = NULL;
	const char *file = NULL;
	bool json = false;
	int ufd = -1, ret = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else {
			bool help = !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");

			fprintf(help ? stdout : stderr, "Usage: layerfs diff STACK [--json]\n"
				"List what the upper adds (A), changes (C) and deletes (D).\n");
			return help ? 0 : 1;
		}
	}
	if (!file) {
		fprintf(stderr, "Usage: layerfs diff STACK [--json]\n");
		return 1;
	}
	memset(&st, 0, sizeof(st));
	if (stack_open(file, STACK_NEED_UPPER, &st, &err))
		goto out;
	if (layers_under_mount(&st, &err))
		goto out;
	lo = lowers_new(st.nlayers);
	for (int i = st.nlayers - 1; i >= 0; i--) {
		int fd = open(st.layers[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			lerr_add(&err, "%s: %s", st.layers[i].path, strerror(errno));
			goto out;
		}
		/* every layer, as the mount: a root's opaque marker hides
		 * nothing */
		lo->fd[lo->n++] = fd;
	}
	ufd = open(st.upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0) {
		lerr_add(&err, "upper: %s: %s", st.upper, strerror(errno));
		goto out;
	}
	if (diff_dir(ufd, lo, false, "", &c, &err))
		goto out;
	sort_changes(&c);
	print_changes(&c, json);
	ret = 0;
out:
	lerr_print(&err);
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].path);
	free(c.v);
	if (ufd >= 0)
		close(ufd);
	lowers_free(lo);
	stack_free(&st);
	return ret;
}
