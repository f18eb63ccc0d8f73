/* Snapshots: commit (the upper becomes the new top layer) and reset (the
 * upper is emptied), made safe against being killed at any point.
 *
 * A commit is a few renames that cannot be done as one: the upper moves
 * to layers/NAME, a fresh upper takes its place and the stack file gains
 * the layer. An intent journal next to the stack file (.STACK.commit)
 * makes it one step: it is written, atomically, before anything moves,
 * and holds everything needed to finish. Every step after it is redone
 * or skipped by looking at what is on disk, so whoever finds the journal
 * (the next layerfs command on this stack) rolls the commit forward:
 *
 *   journal?  layer dir?  upper?   meaning
 *   no        -           -        nothing started (or all done)
 *   yes       no          yes      start from step 2
 *   yes       yes         no       upper moved: make the fresh upper
 *   yes       yes         yes      fresh upper in place: rewrite stack file
 *
 * The layer dir did not exist before the journal (checked under the
 * lock), so its presence proves the upper was moved. No file of the upper
 * is ever copied: it is either the upper or the new layer. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "stack.h"

/* Test hook: LAYERFS_TEST_CRASH_AT=N kills the process with SIGKILL right
 * after commit step N, as kill -9 or a power cut would. Used by
 * tests/snapshot.bats to check that the stack survives at every step. */
static void crash_point(int step)
{
	const char *s = getenv("LAYERFS_TEST_CRASH_AT");

	if (s && atoi(s) == step)
		raise(SIGKILL);
}

static bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static bool root_xattr_kept(const char *name)
{
	return !xattr_is_marker(name);
}

/* labels or namespaces the new upper's file system refuses are left out */
static bool root_xattr_fatal(const char *name, int err)
{
	(void)name;
	return err != ENOTSUP && err != EPERM;
}

/* Commit and reset rename the upper: a mount point (a bind mount of the
 * directory, say) cannot be renamed, and a commit journalled first could
 * then neither finish nor be undone. */
static int upper_renamable(const struct stack *st, const char *verb,
			   struct lerr *err)
{
	struct statx sx;

	if (statx(AT_FDCWD, st->upper, AT_SYMLINK_NOFOLLOW, 0, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return lerr_add(err, "%s: upper: %s is a mount point: %s renames the upper, which a mount point cannot be; name the directory itself",
				st->arg, st->upper, verb);
	return 0;
}

/* Owner, mode, times and xattrs of the directory SRC onto DST: the merged
 * root shows the upper root's attributes, so a fresh upper must carry the
 * old one's for the view not to change. */
static int copy_root_attrs(int src, int dst)
{
	struct timespec ts[2];
	struct stat sb;

	if (fstat(src, &sb) < 0 || fchown(dst, sb.st_uid, sb.st_gid) < 0 ||
	    fchmod(dst, sb.st_mode & 07777) < 0)
		return -1;
	if (xattrs_copy_fd(src, dst, root_xattr_kept, root_xattr_fatal) < 0)
		return -1;
	ts[0] = sb.st_atim;
	ts[1] = sb.st_mtim;
	return futimens(dst, ts) < 0 ? -1 : 0;
}

/* TEMPLATE's root attributes onto the new upper NFD; where a plain user
 * may not read TEMPLATE or give its owner, FALLBACK's instead, when there
 * is one. */
static int fresh_root_attrs(int nfd, const char *template,
			    const char *fallback, const char *upper)
{
	int tfd = open(template, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = -1, e = errno;

	if (tfd >= 0) {
		ret = copy_root_attrs(tfd, nfd);
		e = errno;
		close(tfd);
	}
	/* the fchown comes first: nothing was copied when it failed */
	if (ret == 0 || !fallback || (e != EPERM && e != EINVAL && e != EACCES)) {
		errno = e;
		return ret;
	}
	fprintf(stderr, "layerfs: %s: cannot give the upper's root the owner and attributes of %s (%s): it keeps its own\n",
		upper, template, strerror(e));
	return fresh_root_attrs(nfd, fallback, NULL, upper);
}

/* A new empty directory with TEMPLATE's root attributes (or FALLBACK's,
 * see above), made aside as .UPPER.layerfs-new and fsynced. Returns its
 * path. */
static char *make_fresh_upper(const char *upper, const char *template,
			      const char *fallback, struct lerr *err)
{
	char *tmp = path_sibling(upper, ".", ".layerfs-new");
	char *parent = path_dirname(upper);
	int pfd = -1, nfd = -1, e;

	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		lerr_add(err, "%s: %s", parent, strerror(errno));
		goto fail;
	}
	e = remove_tree_at(pfd, strrchr(tmp, '/') + 1);	/* an old attempt */
	if (e < 0) {
		lerr_add(err, "%s: cannot remove: %s", tmp, strerror(-e));
		goto fail;
	}
	if (mkdir(tmp, 0700) < 0 ||
	    (nfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fresh_root_attrs(nfd, template, fallback, upper) < 0 ||
	    fsync(nfd) < 0 || fsync(pfd) < 0) {
		lerr_add(err, "%s: cannot create a fresh upper: %s", tmp, strerror(errno));
		if (nfd >= 0)
			close(nfd);
		rmdir(tmp);
		goto fail;
	}
	close(nfd);
	close(pfd);
	free(parent);
	return tmp;
fail:
	if (pfd >= 0)
		close(pfd);
	free(parent);
	free(tmp);
	return NULL;
}

/* Empty WORK but for the lock file (which its holder, we, must keep). */
int work_clean(const char *work, struct lerr *err)
{
	struct dirent *de;
	int fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;
	DIR *d;

	if (fd < 0)
		return lerr_add(err, "work: %s: %s", work, strerror(errno));
	d = fdopendir(dup(fd));
	if (!d) {
		close(fd);
		return lerr_add(err, "work: %s: %s", work, strerror(errno));
	}
	while ((de = readdir(d))) {
		int e;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, WORK_LOCK_NAME))
			continue;
		e = remove_tree_at(fd, de->d_name);
		if (e < 0) {
			ret = lerr_add(err, "work: %s/%s: cannot remove: %s", work,
				       de->d_name, strerror(-e));
			break;
		}
	}
	closedir(d);
	if (ret == 0 && fsync(fd) < 0)
		ret = lerr_add(err, "work: %s: fsync: %s", work, strerror(errno));
	close(fd);
	return ret;
}

static int rename_durable(const char *from, const char *to, struct lerr *err)
{
	char *a = path_dirname(from), *b = path_dirname(to);
	int ret = 0;

	if (rename(from, to) < 0)
		ret = lerr_add(err, "cannot rename %s to %s: %s", from, to, strerror(errno));
	else if (fsync_dir(a) < 0 || (strcmp(a, b) && fsync_dir(b) < 0))
		ret = lerr_add(err, "fsync after renaming %s: %s", to, strerror(errno));
	free(a);
	free(b);
	return ret;
}

/* The upper could not be moved to the layer (step 2), and nothing has
 * moved: the commit is given up, its journal removed, and the stack is as
 * it was before. Kept, the journal would stop every later command on the
 * stack at the same rename. */
static int commit_abandon(const char *journal, struct lerr *err)
{
	char *jdir = path_dirname(journal);

	if (unlink(journal) < 0 || fsync_dir(jdir) < 0)
		lerr_add(err, "%s: cannot remove the journal of the commit given up: %s; remove it to use the stack",
			 journal, strerror(errno));
	else
		lerr_add(err, "nothing was moved: the commit is given up (journal %s removed)",
			 journal);
	free(jdir);
	return -1;
}

/* Steps 2 to 7, each skipped when already done (see the table above). */
static int commit_steps(const char *stackfile, const char *journal,
			const char *layer, const char *upper, const char *work,
			json_t *stack, struct lerr *err)
{
	char *fresh, *jdir;

	if (!exists(layer)) {
		if (!exists(upper))
			return lerr_add(err, "%s: neither the upper %s nor the new layer %s exists",
					journal, upper, layer);
		/* a failed fsync after the rename leaves the upper moved */
		if (rename_durable(upper, layer, err))
			return exists(layer) ? -1 : commit_abandon(journal, err);
	}
	crash_point(2);
	if (!exists(upper)) {
		fresh = make_fresh_upper(upper, layer, NULL, err);
		if (!fresh)
			return -1;
		crash_point(3);
		if (rename_durable(fresh, upper, err)) {
			free(fresh);
			return -1;
		}
		free(fresh);
	}
	crash_point(4);
	if (stack_write_atomic(stackfile, stack, err))
		return -1;
	crash_point(5);
	if (work_clean(work, err))
		return -1;
	crash_point(6);
	jdir = path_dirname(journal);
	if (unlink(journal) < 0 || fsync_dir(jdir) < 0) {
		lerr_add(err, "%s: cannot remove: %s", journal, strerror(errno));
		free(jdir);
		return -1;
	}
	free(jdir);
	crash_point(7);
	return 0;
}

/* The journal names the layer, upper and work dir as the stack file
 * does, relative to its directory DIR where they are relative (JSON
 * holds only UTF-8, which the directory's own path need not be). */
static int commit_finish(const char *stackfile, const char *dir,
			 const char *journal, json_t *jdoc, struct lerr *err)
{
	const char *layer = json_string_value(json_object_get(jdoc, "layer"));
	const char *upper = json_string_value(json_object_get(jdoc, "upper"));
	const char *work = json_string_value(json_object_get(jdoc, "work"));
	json_t *stack = json_object_get(jdoc, "stack");
	char *l, *u, *w;
	int ret;

	if (!layer || !upper || !work || !json_is_object(stack))
		return lerr_add(err, "%s: not a commit journal: move it away to use the stack",
				journal);
	l = path_resolve(dir, layer);
	u = path_resolve(dir, upper);
	w = path_resolve(dir, work);
	ret = commit_steps(stackfile, journal, l, u, w, stack, err);
	free(l);
	free(u);
	free(w);
	return ret;
}

/* Finish a commit of STACKFILE that was interrupted, if there is one.
 * Takes the work dir lock unless the caller holds it (LOCKED). */
int commit_recover(const char *stackfile, bool locked, struct lerr *err)
{
	char *journal = path_sibling(stackfile, ".", ".commit");
	char *dir = path_dirname(stackfile);
	json_t *jdoc = NULL;
	json_error_t jerr;
	const char *work;
	int lock = -1, ret = -1;

	if (!exists(journal)) {
		ret = 0;
		goto out;
	}
	jdoc = json_load_file(journal, 0, &jerr);
	if (!jdoc || !(work = json_string_value(json_object_get(jdoc, "work")))) {
		lerr_add(err, "%s: unreadable commit journal (%s): move it away to use the stack",
			 journal, jdoc ? "no work dir" : jerr.text);
		goto out;
	}
	if (!locked) {
		char *w = path_resolve(dir, work);

		lock = work_lock_take(w, "commit", err);
		free(w);
		if (lock < 0)
			goto out;
	}
	if (!exists(journal)) {		/* its committer finished meanwhile */
		ret = 0;
		goto out;
	}
	ret = commit_finish(stackfile, dir, journal, jdoc, err);
	if (ret == 0)
		fprintf(stderr, "layerfs: %s: finished an interrupted commit\n", stackfile);
	else if (exists(journal))
		lerr_add(err, "%s: an interrupted commit (journal %s) could not be finished",
			 stackfile, journal);
out:
	work_lock_release(lock);
	if (jdoc)
		json_decref(jdoc);
	free(journal);
	free(dir);
	return ret;
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

static bool name_in_use(const struct stack *st, const char *name,
			const char *layers)
{
	char *p = path_resolve(layers, name);
	bool used = exists(p);

	free(p);
	for (int i = 0; !used && i < st->nlayers; i++)
		used = st->layers[i].name && !strcmp(st->layers[i].name, name);
	return used;
}

/* PATH relative to the stack file's directory where it lies below it,
 * as the journal keeps it (that directory's own path need not be UTF-8,
 * which JSON takes only) */
static const char *in_stack_dir(const struct stack *st, const char *path)
{
	size_t n = strlen(st->dir);

	if (!strncmp(path, st->dir, n) && path[n] == '/' && path[n + 1])
		return path + n + 1;
	return path;
}

/* Can S be a JSON string (valid UTF-8)? */
static bool json_takes(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Commit ST's upper as a new top layer ST->dir/layers/NAME. The caller
 * holds the work lock and has checked that nothing is mounted. */
int commit_run(struct stack *st, const char *name, struct lerr *err)
{
	char *layers = path_resolve(st->dir, LAYERS_SUBDIR);
	char *journal = path_sibling(st->file, ".", ".commit");
	char gen[32], *layer = NULL, *rel = NULL;
	json_t *doc = NULL, *jdoc = NULL, *entry;
	struct stat usb, lsb;
	struct statfs lsf;
	bool made_layers = false;
	int ufd, ret = -1;

	if (dir_is_empty(st->upper)) {
		lerr_add(err, "%s: nothing to commit: the upper %s is empty",
			 st->arg, st->upper);
		goto out;
	}
	if (upper_renamable(st, "commit", err))
		goto out;
	if (!name) {
		for (int n = 1; ; n++) {
			snprintf(gen, sizeof(gen), "commit-%d", n);
			if (!name_in_use(st, gen, layers))
				break;
		}
		name = gen;
	}
	if (!*name || strchr(name, '/') || name[0] == '.') {
		lerr_add(err, "--name '%s': a layer name is a file name not starting with '.'",
			 name);
		goto out;
	}
	if (!json_takes(name)) {
		lerr_add(err, "--name '%s': not valid UTF-8, which the stack file (JSON) needs",
			 name);
		goto out;
	}
	if (name_in_use(st, name, layers)) {
		lerr_add(err, "--name '%s': %s/%s exists or a layer has this name: choose another",
			 name, layers, name);
		goto out;
	}
	if (mkdir(layers, 0755) == 0)
		made_layers = true;
	else if (errno != EEXIST) {
		lerr_add(err, "%s: %s", layers, strerror(errno));
		goto out;
	}
	if (stat(st->upper, &usb) < 0) {
		lerr_add(err, "%s: %s", st->upper, strerror(errno));
		goto out;
	}
	if (stat(layers, &lsb) < 0) {
		lerr_add(err, "%s: %s", layers, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(lsb.st_mode)) {
		lerr_add(err, "%s: not a directory: commit moves the upper into it",
			 layers);
		goto out;
	}
	if (statfs(layers, &lsf) == 0 && strlen(name) > (size_t)lsf.f_namelen) {
		lerr_add(err, "--name '%s': longer than the %ld bytes a name may have in %s",
			 name, (long)lsf.f_namelen, layers);
		goto out;
	}
	if (usb.st_dev != lsb.st_dev) {
		lerr_add(err, "%s: upper %s and %s are on different filesystems: commit moves the upper into a layer with rename(2)",
			 st->arg, st->upper, layers);
		goto out;
	}
	layer = path_resolve(layers, name);
	rel = xmalloc(strlen(LAYERS_SUBDIR) + strlen(name) + 2);
	sprintf(rel, "%s/%s", LAYERS_SUBDIR, name);

	/* what the upper holds must be on disk before a layer names it */
	ufd = open(st->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0 || syncfs(ufd) < 0) {
		lerr_add(err, "upper: %s: %s", st->upper, strerror(errno));
		if (ufd >= 0)
			close(ufd);
		goto out;
	}
	close(ufd);

	doc = json_deep_copy(st->root);
	entry = json_pack("{s:s, s:s}", "path", rel, "name", name);
	json_array_append_new(json_object_get(doc, "layers"), entry);
	jdoc = json_pack("{s:i, s:s, s:s, s:s, s:O}", "version", 1, "layer", rel,
			 "upper", in_stack_dir(st, st->upper),
			 "work", in_stack_dir(st, st->work), "stack", doc);
	if (!jdoc) {
		lerr_add(err, "%s: cannot write the commit journal: the path of the upper (%s) or work dir (%s) is not valid UTF-8, which JSON needs",
			 st->arg, st->upper, st->work);
		goto out;
	}
	/* step 1: from here on the commit will complete, now or later */
	if (stack_write_atomic(journal, jdoc, err))
		goto out;
	crash_point(1);
	ret = commit_finish(st->file, st->dir, journal, jdoc, err);
	if (ret == 0)
		printf("committed %s as layer %s (%s)\n", st->upper, name, layer);
out:
	/* a commit refused before its journal, or given up at its first
	 * rename, leaves nothing behind */
	if (made_layers && ret && !exists(journal))
		rmdir(layers);
	if (doc)
		json_decref(doc);
	if (jdoc)
		json_decref(jdoc);
	free(layers);
	free(journal);
	free(layer);
	free(rel);
	return ret;
}

/* Swap an empty upper for the old one, atomically, then delete the old
 * contents and empty the work dir. A kill in between leaves
 * .UPPER.layerfs-new behind, removed next time. The merged root shows
 * the upper's root: the empty upper takes the top layer's root
 * attributes, as the layers alone show them, so that a chmod, chown or
 * xattr of the mount's root goes with the rest of the sandbox's changes
 * (as containers-storage makes a container's upper from its image's top
 * layer). */
int upper_reset(struct stack *st, struct lerr *err)
{
	const char *top = st->nlayers ? st->layers[st->nlayers - 1].path : st->upper;
	char *fresh = NULL;
	char *parent = path_dirname(st->upper);
	int pfd = -1, ret = -1, e;

	if (upper_renamable(st, "reset", err))
		goto out;
	fresh = make_fresh_upper(st->upper, top, st->upper, err);
	if (!fresh)
		goto out;
	if (renameat2(AT_FDCWD, fresh, AT_FDCWD, st->upper, RENAME_EXCHANGE) < 0) {
		lerr_add(err, "upper: %s: cannot swap in an empty upper: %s",
			 st->upper, strerror(errno));
		rmdir(fresh);
		goto out;
	}
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fsync(pfd) < 0) {
		lerr_add(err, "%s: fsync: %s", parent, strerror(errno));
		goto out;
	}
	e = remove_tree_at(pfd, strrchr(fresh, '/') + 1);
	if (e < 0) {
		lerr_add(err, "%s: cannot remove the old upper: %s", fresh, strerror(-e));
		goto out;
	}
	ret = work_clean(st->work, err);
out:
	if (pfd >= 0)
		close(pfd);
	free(fresh);
	free(parent);
	return ret;
}
