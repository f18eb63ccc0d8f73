/* The mount table, /proc/self/mountinfo, as layerfs reads it: read once
 * for all the directories one check places (dirloc.c), and for the mount
 * on a mount point (umount, check, a second mount on one mount point,
 * commit and reset refusing a mounted stack). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stack.h"

struct mnt_table *mnt_table_read(void)
{
	struct mnt_table *t = xcalloc(1, sizeof(*t));
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, r[PATH_MAX + 1], p[PATH_MAX + 1], type[256];
	unsigned long long id, parent;
	size_t cap = 0;
	const char *sep;

	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE ... */
	while (f && getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%llu %llu %*s %4096s %4096s", &id, &parent, r, p) != 4 ||
		    !(sep = strstr(line, " - ")) || sscanf(sep + 3, "%255s", type) != 1)
			continue;
		mountinfo_unescape(r);
		mountinfo_unescape(p);
		t->m = xrealloc(t->m, (t->n + 1) * sizeof(*t->m));
		t->m[t->n++] = (struct mnt){ id, parent, xstrdup(r), xstrdup(p),
					     xstrdup(type) };
	}
	if (f)
		fclose(f);
	free(line);
	return t;
}

void mnt_table_free(struct mnt_table *t)
{
	for (size_t i = 0; t && i < t->n; i++) {
		free(t->m[i].root);
		free(t->m[i].point);
		free(t->m[i].type);
	}
	if (t)
		free(t->m);
	free(t);
}

const struct mnt *mnt_find(const struct mnt_table *t, uint64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->m[i].id == id)
			return &t->m[i];
	return NULL;
}

/* MP without the trailing "/" and "/." that name the directory itself
 * ("mnt/", "mnt/."): stripped by hand, since resolving them would walk
 * into the mount. */
static char *strip_self(const char *mp)
{
	char *p = xstrdup(mp);
	size_t n;

	for (;;) {
		n = strlen(p);
		if (n > 1 && p[n - 1] == '/')
			p[n - 1] = '\0';
		else if (n > 2 && !strcmp(p + n - 2, "/."))
			p[n - 2] = '\0';
		else
			return p;
	}
}

/* The canonical form of a mount point without stat'ing it: a FUSE mount
 * whose daemon died answers ENOTCONN, yet is still mounted. Only its
 * parent is resolved, and its last name if that is a symbolic link
 * (lstat(2) of a link does not enter what it names), DEPTH links deep
 * so far. */
static char *canonical_at(const char *mp, int depth)
{
	char *p = strip_self(mp), *dir = path_dirname(p), *rdir, *out = NULL;
	const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
	char target[PATH_MAX];
	struct stat sb;
	ssize_t n;

	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		out = realpath(p, NULL);
		goto done;
	}
	rdir = realpath(dir, NULL);
	if (!rdir)
		goto done;
	out = xmalloc(strlen(rdir) + strlen(base) + 2);
	sprintf(out, "%s%s%s", rdir, strcmp(rdir, "/") ? "/" : "", base);
	if (depth < 40 && lstat(out, &sb) == 0 && S_ISLNK(sb.st_mode) &&
	    (n = readlink(out, target, sizeof(target) - 1)) > 0) {
		char *next;

		target[n] = '\0';
		next = path_resolve(rdir, target);
		free(out);
		out = canonical_at(next, depth + 1);
		free(next);
	}
	free(rdir);
done:
	free(dir);
	free(p);
	return out;
}

char *mountpoint_canonical(const char *mp)
{
	return canonical_at(mp, 0);
}

/* The top-most of T's mounts on the mount point WANT: a mount made on
 * top of another there has that one as its parent, so it is the one no
 * other has as its parent. Where several are (one was mounted there before the
 * directory holding the mount point was covered, another after), the
 * last listed, which was mounted last. NULL when there is none. */
static const struct mnt *mount_top(const struct mnt_table *t, const char *want)
{
	for (size_t i = t->n; i-- > 0;) {
		bool covered = false;

		if (strcmp(t->m[i].point, want))
			continue;
		for (size_t j = 0; j < t->n && !covered; j++)
			covered = t->m[j].parent == t->m[i].id &&
				  !strcmp(t->m[j].point, want);
		if (!covered)
			return &t->m[i];
	}
	return NULL;
}

/* What is mounted on MOUNTPOINT: is a layerfs mount (fstype
 * fuse.layerfs, its daemon alive or not) there, on top or under another
 * mount? In *TOP (unless NULL) the type of the top-most mount there,
 * which umount(2) of the path would take away (malloc'd), or NULL when
 * nothing is mounted there. */
bool mount_lookup(const char *mountpoint, char **top)
{
	char *want = mountpoint_canonical(mountpoint);
	struct mnt_table *t = want ? mnt_table_read() : NULL;
	const struct mnt *m = t ? mount_top(t, want) : NULL;
	bool layerfs = false;

	if (top)
		*top = m ? xstrdup(m->type) : NULL;
	for (size_t i = 0; t && i < t->n; i++)
		layerfs = layerfs || (!strcmp(t->m[i].point, want) &&
				      !strcmp(t->m[i].type, "fuse.layerfs"));
	mnt_table_free(t);
	free(want);
	return layerfs;
}

/* Is a layerfs mount live on MOUNTPOINT (on top or not)? A stack whose
 * mount is covered by another mount is still mounted: its daemon still
 * writes the upper and holds the work dir. */
bool mount_is_live(const char *mountpoint)
{
	return mount_lookup(mountpoint, NULL);
}

