/* Stack files: a JSON document describing one stack of layers (see
 * layerfs-stack(5)). Reading is strict: every unknown key, wrong type,
 * missing directory or impossible arrangement is reported with the JSON
 * path of the value at fault, and nothing is touched until the whole file
 * checks out. Writing replaces the file atomically. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stack.h"

/* ---- error values ---- */

int lerr_add(struct lerr *e, const char *fmt, ...)
{
	size_t old = e->msg ? strlen(e->msg) : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	e->msg = xrealloc(e->msg, old + (size_t)n + 2);
	if (old)
		e->msg[old++] = '\n';
	va_start(ap, fmt);
	vsnprintf(e->msg + old, (size_t)n + 1, fmt, ap);
	va_end(ap);
	e->count++;
	return -1;
}

void lerr_print(struct lerr *e)
{
	char *line = e->msg;

	while (line && *line) {
		char *nl = strchr(line, '\n');

		fprintf(stderr, "layerfs: %.*s\n",
			nl ? (int)(nl - line) : (int)strlen(line), line);
		line = nl ? nl + 1 : NULL;
	}
	lerr_free(e);
}

void lerr_free(struct lerr *e)
{
	free(e->msg);
	e->msg = NULL;
	e->count = 0;
}

/* ---- paths ---- */

/* PATH as given in a stack file, relative to DIR unless absolute. */
char *path_resolve(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/')
		return xstrdup(path);
	out = xmalloc(strlen(dir) + strlen(path) + 2);
	sprintf(out, "%s/%s", dir, path);
	return out;
}

/* For diff and export, which compare the upper with the layers by path:
 * dir_redirect_elsewhere() of the upper directory FD, named NAME in
 * PARENT, kept only where a layer of ST has a directory there, whose
 * entries the mount then shows in FD. NULL otherwise. */
char *stack_redirect_target(const struct stack *st, int fd, const char *parent,
			    const char *name)
{
	char *to = dir_redirect_elsewhere(fd, parent, name);

	for (int i = 0; to && i < st->nlayers; i++) {
		int lfd = open(st->layers[i].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat lsb;
		bool found;

		if (lfd < 0)
			continue;
		found = fstatat(lfd, to, &lsb, AT_SYMLINK_NOFOLLOW) == 0 &&
			S_ISDIR(lsb.st_mode);
		close(lfd);
		if (found)
			return to;
	}
	free(to);
	return NULL;
}

char *path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *out;

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	out = xstrdup(path);
	out[slash - path] = '\0';
	return out;
}

/* DIR/PREFIX BASE SUFFIX for PATH = DIR/BASE: a name for temporaries and
 * journals that stays in the same directory, hence on the same
 * filesystem, so that rename(2) can install them atomically. */
char *path_sibling(const char *path, const char *prefix, const char *suffix)
{
	char *dir = path_dirname(path);
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *out = xmalloc(strlen(dir) + strlen(prefix) + strlen(base) +
			    strlen(suffix) + 2);

	sprintf(out, "%s/%s%s%s", dir, prefix, base, suffix);
	free(dir);
	return out;
}

/* DIR/.layerfs-TAG-XXXXXX for PATH = DIR/BASE, a template for mkstemp()
 * and the like: beside PATH as path_sibling()'s names are, but of a
 * length of its own, so that a BASE of up to NAME_MAX bytes leaves room
 * for it. */
char *path_temp(const char *path, const char *tag)
{
	char *dir = path_dirname(path);
	char *out = xmalloc(strlen(dir) + strlen(tag) + sizeof("/.layerfs--XXXXXX"));

	sprintf(out, "%s/.layerfs-%s-XXXXXX", dir, tag);
	free(dir);
	return out;
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* ---- reading ---- */

/* Typos must not be silently ignored: every key of OBJ is one of KEYS. */
static void check_keys(json_t *obj, const char *const *keys, const char *file,
		       const char *jprefix, struct lerr *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		const char *const *k;

		for (k = keys; *k; k++)
			if (!strcmp(*k, key))
				break;
		if (!*k)
			lerr_add(err, "%s: %s%s: unknown key", file, jprefix, key);
	}
}

/* A path value: a non-empty string, resolved against the stack's dir. */
static char *get_path(struct stack *st, json_t *v, const char *jpath,
		      struct lerr *err)
{
	if (!json_is_string(v)) {
		lerr_add(err, "%s: %s: expected a path string, got %s",
			 st->arg, jpath, json_type_name(v));
		return NULL;
	}
	if (!*json_string_value(v)) {
		lerr_add(err, "%s: %s: empty path", st->arg, jpath);
		return NULL;
	}
	return path_resolve(st->dir, json_string_value(v));
}

/* PATH must be an existing directory; its canonical form goes to *REAL. */
/* PATH, named at JPATH, is a directory: its attributes in *SB, where it
 * lies in *LOC (its mount found in MT). */
static int check_dir(struct stack *st, const char *path, const char *jpath,
		     const struct mnt_table *mt, struct stat *sb,
		     struct dirloc *loc, struct lerr *err)
{
	int e;

	if (stat(path, sb) < 0)
		return lerr_add(err, "%s: %s: %s: %s", st->arg, jpath, path,
				strerror(errno));
	if (!S_ISDIR(sb->st_mode))
		return lerr_add(err, "%s: %s: %s: %s", st->arg, jpath, path,
				strerror(ENOTDIR));
	e = dirloc_get(mt, path, loc);
	if (e)
		return lerr_add(err, "%s: %s: %s: %s", st->arg, jpath, path,
				strerror(-e));
	return 0;
}

static bool valid_layer_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* One element of "layers": a path string or {"path": ..., "name": ...}. */
static int parse_layer(struct stack *st, json_t *v, int i,
		       struct stack_layer *l, struct lerr *err)
{
	static const char *const keys[] = { "path", "name", NULL };
	char jpath[64], jprefix[64];
	json_t *p, *n;

	snprintf(jpath, sizeof(jpath), "layers[%d]", i);
	if (json_is_string(v)) {
		l->path = get_path(st, v, jpath, err);
		return l->path ? 0 : -1;
	}
	if (!json_is_object(v))
		return lerr_add(err, "%s: %s: expected a path string or an object with \"path\", got %s",
				st->arg, jpath, json_type_name(v));
	snprintf(jprefix, sizeof(jprefix), "layers[%d].", i);
	check_keys(v, keys, st->arg, jprefix, err);
	p = json_object_get(v, "path");
	n = json_object_get(v, "name");
	snprintf(jpath, sizeof(jpath), "layers[%d].path", i);
	if (!p)
		return lerr_add(err, "%s: %s: missing", st->arg, jpath);
	l->path = get_path(st, p, jpath, err);
	if (n) {
		snprintf(jpath, sizeof(jpath), "layers[%d].name", i);
		if (!json_is_string(n))
			return lerr_add(err, "%s: %s: expected a string, got %s",
					st->arg, jpath, json_type_name(n));
		if (!valid_layer_name(json_string_value(n)))
			return lerr_add(err, "%s: %s: \"%s\": a name is a non-empty word without '/'",
					st->arg, jpath, json_string_value(n));
		l->name = xstrdup(json_string_value(n));
	}
	return l->path ? 0 : -1;
}

static const char *layer_jpath(json_t *layers, int i, char *buf, size_t len)
{
	snprintf(buf, len, json_is_object(json_array_get(layers, (size_t)i)) ?
		 "layers[%d].path" : "layers[%d]", i);
	return buf;
}

/* Which of the upper and the work dir (real paths; WORK counts only with
 * an UPPER) the directory REAL lies in, as a mount point may not: commit
 * and reset rename and empty them. "upper", "work dir", or NULL. */
static const char *in_upper_or_work(const char *real, const char *upper,
				    const char *work)
{
	if (upper && path_within(real, upper))
		return "upper";
	if (upper && work && path_within(real, work))
		return "work dir";
	return NULL;
}

/* The directories exist, none is listed twice, the upper and work are
 * outside every layer (and the layers outside them), by path and by what
 * a bind mount shows (dirloc.c), and the work dir is on the upper's
 * mount, as rename(2) from one to the other needs. */
static void check_arrangement(struct stack *st, unsigned flags, struct lerr *err)
{
	json_t *layers = json_object_get(st->root, "layers");
	char jp[64], jp2[64];
	struct stat *sb = xcalloc((size_t)st->nlayers, sizeof(struct stat));
	struct dirloc *loc = xcalloc((size_t)st->nlayers, sizeof(*loc));
	struct dirloc uloc = { 0 }, wloc = { 0 };
	struct mnt_table *mt = mnt_table_read();
	struct stat usb, wsb;

	for (int i = 0; i < st->nlayers; i++) {
		if (!st->layers[i].path)
			continue;
		layer_jpath(layers, i, jp, sizeof(jp));
		if (check_dir(st, st->layers[i].path, jp, mt, &sb[i], &loc[i], err))
			continue;
		for (int j = 0; j < i; j++) {
			if (!loc[j].real)
				continue;
			layer_jpath(layers, j, jp2, sizeof(jp2));
			if (sb[j].st_dev == sb[i].st_dev &&
			    sb[j].st_ino == sb[i].st_ino) {
				lerr_add(err, "%s: %s: %s: listed twice (also %s)",
					 st->arg, jp, st->layers[i].path, jp2);
				break;
			}
			if (dirloc_within(&loc[i], &loc[j]) || dirloc_within(&loc[j], &loc[i])) {
				bool in = dirloc_within(&loc[i], &loc[j]);

				lerr_add(err, "%s: %s: %s: %s %s (%s): layers must not overlap",
					 st->arg, jp, st->layers[i].path,
					 in ? "inside" : "contains", jp2, loc[j].real);
				break;
			}
		}
		if (st->layers[i].name) {
			for (int j = 0; j < i; j++) {
				if (st->layers[j].name &&
				    !strcmp(st->layers[j].name, st->layers[i].name)) {
					lerr_add(err, "%s: layers[%d].name: \"%s\": already the name of layers[%d]",
						 st->arg, i, st->layers[i].name, j);
					break;
				}
			}
		}
	}
	if (st->upper && check_dir(st, st->upper, "upper", mt, &usb, &uloc, err) == 0) {
		/* the directory itself from here on: commit and reset rename
		 * it, and "upper/", "upper/." or a symlink to it would have
		 * them rename something else */
		free(st->upper);
		st->upper = xstrdup(uloc.real);
		for (int i = 0; i < st->nlayers; i++) {
			if (!loc[i].real)
				continue;
			layer_jpath(layers, i, jp, sizeof(jp));
			if (dirloc_within(&uloc, &loc[i]))
				lerr_add(err, "%s: upper: %s: inside %s (%s)",
					 st->arg, st->upper, jp, loc[i].real);
			else if (dirloc_within(&loc[i], &uloc))
				lerr_add(err, "%s: %s: %s: inside upper (%s)",
					 st->arg, jp, st->layers[i].path, uloc.real);
		}
	}
	if (st->work && check_dir(st, st->work, "work", mt, &wsb, &wloc, err) == 0) {
		free(st->work);
		st->work = xstrdup(wloc.real);
		for (int i = 0; i < st->nlayers; i++) {
			if (loc[i].real && (dirloc_within(&wloc, &loc[i]) ||
					dirloc_within(&loc[i], &wloc)))
				lerr_add(err, "%s: work: %s: overlaps %s (%s)",
					 st->arg, st->work,
					 layer_jpath(layers, i, jp, sizeof(jp)), loc[i].real);
		}
		if (uloc.real && (dirloc_within(&wloc, &uloc) || dirloc_within(&uloc, &wloc)))
			lerr_add(err, "%s: work: %s: overlaps upper (%s): they must be separate directories",
				 st->arg, st->work, uloc.real);
		else if (uloc.real && wsb.st_dev != usb.st_dev)
			lerr_add(err, "%s: work: %s: on another filesystem than upper (%s)",
				 st->arg, st->work, st->upper);
		else if (uloc.real && dirloc_other_mount(&wloc, &uloc))
			lerr_add(err, "%s: work: %s: on another mount than upper (%s), a bind mount?: copy-ups rename from one to the other, which needs one mount",
				 st->arg, st->work, st->upper);
	}
	if (st->mountpoint && (flags & STACK_NEED_MOUNTPOINT)) {
		struct dirloc mloc = { 0 };
		struct stat msb;
		const char *in;

		if (check_dir(st, st->mountpoint, "mountpoint", mt, &msb, &mloc, err) == 0 &&
		    (in = in_upper_or_work(mloc.real, uloc.real, wloc.real)))
			lerr_add(err, "%s: mountpoint: %s: inside the %s", st->arg,
				 st->mountpoint, in);
		dirloc_free(&mloc);
	}
	for (int i = 0; i < st->nlayers; i++)
		dirloc_free(&loc[i]);
	free(loc);
	dirloc_free(&uloc);
	dirloc_free(&wloc);
	mnt_table_free(mt);
	free(sb);
}

static void parse_document(struct stack *st, unsigned flags, struct lerr *err)
{
	static const char *const keys[] = {
		"version", "layers", "upper", "work", "mountpoint", "options",
		"idmap", NULL,
	};
	json_t *v, *layers;
	size_t i;

	if (!json_is_object(st->root)) {
		lerr_add(err, "%s: expected an object at the top, got %s",
			 st->arg, json_type_name(st->root));
		return;
	}
	v = json_object_get(st->root, "version");
	if (!v) {
		lerr_add(err, "%s: version: missing (this layerfs reads version %d)",
			 st->arg, STACK_VERSION);
		return;
	}
	if (!json_is_integer(v)) {
		lerr_add(err, "%s: version: expected an integer, got %s",
			 st->arg, json_type_name(v));
		return;
	}
	if (json_integer_value(v) != STACK_VERSION) {
		/* the rest may follow another schema: say only this */
		lerr_add(err, "%s: version: unsupported stack file version %lld (this layerfs reads version %d)",
			 st->arg, (long long)json_integer_value(v), STACK_VERSION);
		return;
	}
	check_keys(st->root, keys, st->arg, "", err);

	layers = json_object_get(st->root, "layers");
	if (!layers) {
		lerr_add(err, "%s: layers: missing: list the read-only layers, base first",
			 st->arg);
	} else if (!json_is_array(layers)) {
		lerr_add(err, "%s: layers: expected an array, got %s",
			 st->arg, json_type_name(layers));
	} else if (json_array_size(layers) == 0) {
		lerr_add(err, "%s: layers: empty: at least one layer is needed", st->arg);
	} else {
		st->nlayers = (int)json_array_size(layers);
		st->layers = xcalloc(json_array_size(layers), sizeof(*st->layers));
		json_array_foreach(layers, i, v)
			parse_layer(st, v, (int)i, &st->layers[i], err);
	}

	if ((v = json_object_get(st->root, "upper")))
		st->upper = get_path(st, v, "upper", err);
	if ((v = json_object_get(st->root, "work")))
		st->work = get_path(st, v, "work", err);
	if ((v = json_object_get(st->root, "mountpoint")))
		st->mountpoint = get_path(st, v, "mountpoint", err);
	if (json_object_get(st->root, "upper") && !json_object_get(st->root, "work"))
		lerr_add(err, "%s: work: missing: an upper needs a work dir on the same filesystem",
			 st->arg);
	if (json_object_get(st->root, "work") && !json_object_get(st->root, "upper"))
		lerr_add(err, "%s: work: given without an upper", st->arg);
	if ((flags & STACK_NEED_UPPER) && !json_object_get(st->root, "upper"))
		lerr_add(err, "%s: upper: missing: this is a read-only stack", st->arg);

	config_defaults(&st->cfg);
	if ((v = json_object_get(st->root, "options")))
		options_from_json(v, &st->cfg, st->arg, err);
	if ((v = json_object_get(st->root, "idmap")))
		idmap_from_json(v, &st->cfg, st->arg, err);
	check_arrangement(st, flags, err);
}

/* The largest stack file read: a stack of thousands of layers, with
 * options and id maps, is well under 1 MiB. Anything much larger is not
 * a stack file, and would be read whole into memory. */
#define STACK_FILE_MAX	(16 << 20)

/* What a file that is not a regular one is, for a message. */
static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "of an unknown kind";
}

static int too_large(const char *file, struct lerr *err)
{
	return lerr_add(err, "%s: larger than the %d MiB a stack file may have",
			file, STACK_FILE_MAX >> 20);
}

/* FD, open on FILE, is a regular file of at most STACK_FILE_MAX bytes. */
static int check_readable(int fd, const char *file, struct lerr *err)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return lerr_add(err, "%s: %s", file, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return lerr_add(err, "%s: not a regular file (%s): a stack file is a JSON file",
				file, file_kind(sb.st_mode));
	if (sb.st_size > STACK_FILE_MAX)
		return too_large(file, err);
	return 0;
}

static char *read_file(const char *file, size_t *lenp, struct lerr *err)
{
	size_t len = 0, cap = 4096;
	ssize_t n;
	char *buf;
	/* O_NONBLOCK: the open of a FIFO would wait for a writer */
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		lerr_add(err, "%s: %s", file, strerror(errno));
		return NULL;
	}
	if (check_readable(fd, file, err)) {
		close(fd);
		return NULL;
	}
	buf = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len > STACK_FILE_MAX)
			break;	/* it grew as it was read */
	}
	close(fd);
	if (n < 0 || len > STACK_FILE_MAX) {
		if (n < 0)
			lerr_add(err, "%s: %s", file, strerror(errno));
		else
			too_large(file, err);
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

/* Read and check FILE. An interrupted commit of this stack is finished
 * first (unless STACK_NO_RECOVER), so that the file read is the one a
 * completed commit would have left. */
int stack_open(const char *file, unsigned flags, struct stack *st,
	       struct lerr *err)
{
	json_error_t jerr;
	size_t len;
	char *buf;

	memset(st, 0, sizeof(*st));
	config_defaults(&st->cfg);
	st->arg = xstrdup(file);
	st->file = realpath(file, NULL);
	if (!st->file)
		return lerr_add(err, "%s: %s", file, strerror(errno));
	st->dir = path_dirname(st->file);
	if (!(flags & STACK_NO_RECOVER) &&
	    commit_recover(st->file, flags & STACK_LOCKED, err) < 0)
		return -1;
	buf = read_file(st->file, &len, err);
	if (!buf)
		return -1;
	st->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!st->root)
		return lerr_add(err, "%s:%d:%d: %s", file, jerr.line, jerr.column,
				jerr.text);
	parse_document(st, flags, err);
	return err->count ? -1 : 0;
}

void stack_free(struct stack *st)
{
	for (int i = 0; i < st->nlayers; i++) {
		free(st->layers[i].path);
		free(st->layers[i].name);
	}
	free(st->layers);
	free(st->file);
	free(st->arg);
	free(st->dir);
	free(st->upper);
	free(st->work);
	free(st->mountpoint);
	options_free(&st->cfg);
	if (st->root)
		json_decref(st->root);
	memset(st, 0, sizeof(*st));
}

/* Turn a checked stack into the configuration daemon_run takes. The
 * config lists lower layers top-most first, as lowerdir= does: the
 * reverse of the stack file's order. */
/* A mount point given on the command line, held to the rule of the
 * stack's own "mountpoint" (check_arrangement()). */
static int mountpoint_in_upper(const struct stack *st, const char *mountpoint,
			       struct lerr *err)
{
	/* not stat'ed: a dead mount there is for the caller to name */
	char *real = mountpoint_canonical(mountpoint);
	const char *in;
	int ret = 0;

	if (!real)
		return lerr_add(err, "%s: %s", mountpoint, strerror(errno));
	in = in_upper_or_work(real, st->upper, st->work);
	if (in)
		ret = lerr_add(err, "%s: mount point %s: inside the %s", st->arg,
			       mountpoint, in);
	free(real);
	return ret;
}

int stack_fill_config(const struct stack *st, const char *mountpoint,
		      struct config *cfg, struct lerr *err)
{
	const struct config *o = &st->cfg;

	if (!mountpoint && !st->mountpoint)
		return lerr_add(err, "%s: no mount point: give one on the command line or as \"mountpoint\"",
				st->arg);
	if (mountpoint && mountpoint_in_upper(st, mountpoint, err))
		return -1;
	*cfg = *o;
	cfg->lowerdirs = xcalloc((size_t)st->nlayers, sizeof(char *));
	cfg->nlower = st->nlayers;
	for (int i = 0; i < st->nlayers; i++)
		cfg->lowerdirs[i] = xstrdup(st->layers[st->nlayers - 1 - i].path);
	cfg->upperdir = st->upper ? xstrdup(st->upper) : NULL;
	cfg->workdir = st->work ? xstrdup(st->work) : NULL;
	cfg->mountpoint = xstrdup(mountpoint ? mountpoint : st->mountpoint);
	cfg->uidmap = NULL;
	cfg->gidmap = NULL;
	if (o->nuidmap) {
		cfg->uidmap = xcalloc((size_t)o->nuidmap, sizeof(*o->uidmap));
		memcpy(cfg->uidmap, o->uidmap, (size_t)o->nuidmap * sizeof(*o->uidmap));
	}
	if (o->ngidmap) {
		cfg->gidmap = xcalloc((size_t)o->ngidmap, sizeof(*o->gidmap));
		memcpy(cfg->gidmap, o->gidmap, (size_t)o->ngidmap * sizeof(*o->gidmap));
	}
	cfg->fuse_opts = o->fuse_opts ? xstrdup(o->fuse_opts) : NULL;
	return 0;
}

/* ---- writing ---- */

/* Replace FILE by ROOT: a temporary file in the same directory, written
 * and fsynced, renamed over FILE, and the directory fsynced. A reader (or
 * a crash) sees the old document or the new one, never a mix. */
int stack_write_atomic(const char *file, json_t *root, struct lerr *err)
{
	char *tmp = path_sibling(file, ".", ".tmp");
	char *dir = path_dirname(file);
	struct stat sb;
	bool had = stat(file, &sb) == 0;
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  had ? sb.st_mode & 07777 : 0644);
	if (fd < 0) {
		lerr_add(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	/* the file stays its owner's, with its mode (the umask applied to
	 * the open); a caller who may not chown keeps what it could */
	if (had && (fchown(fd, sb.st_uid, sb.st_gid) < 0 && errno != EPERM)) {
		lerr_add(err, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (had)
		fchmod(fd, sb.st_mode & 07777);
	errno = 0;
	if (json_dumpfd(root, fd, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		/* json_dumpfd keeps errno from the failed write */
		lerr_add(err, "%s: cannot write: %s", tmp,
			 strerror(errno ? errno : EIO));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, file) < 0) {
		lerr_add(err, "%s: cannot replace: %s", file, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (fsync_dir(dir) < 0) {
		lerr_add(err, "%s: fsync: %s", dir, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	free(dir);
	return ret;
}
