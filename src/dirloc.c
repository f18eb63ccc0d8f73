/* Where a directory lies, to tell whether two overlap: by its real path,
 * and by its path in its file system, which a bind mount does not change.
 * A lower layer bound elsewhere is still that layer, and a directory bound
 * out of a layer still lies inside it: the kernel's overlay compares the
 * directories themselves and refuses both ("conflicting lowerdir path",
 * "overlapping lowerdir path"), where comparing real paths let an upper
 * that was a lower layer's bind mount be written through the mount.
 *
 * The path in the file system is the mount's root as mountinfo gives it
 * (the directory of the file system the mount shows at its mount point),
 * joined with the rest of the real path below the mount point. Where the
 * kernel does not tell a path's mount (statx without STATX_MNT_ID, before
 * Linux 5.8) only real paths are compared. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layerfs.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

/* REAL's path in its file system: ROOT joined with what follows POINT. */
static char *fs_path(const char *real, const char *root, const char *point)
{
	const char *rest = real;
	char *out;

	if (strcmp(point, "/")) {
		if (!path_within(real, point))
			return NULL;	/* not below its own mount point? */
		rest = real + strlen(point);
	}
	if (!strcmp(root, "/"))
		return xstrdup(*rest ? rest : "/");
	out = xmalloc(strlen(root) + strlen(rest) + 1);
	sprintf(out, "%s%s", root, rest);
	return out;
}

/* Fill D for the directory PATH, its mount found in T: 0, or -errno
 * where its real path cannot be had. */
int dirloc_get(const struct mnt_table *t, const char *path, struct dirloc *d)
{
	const struct mnt *m;
	struct statx sx;

	memset(d, 0, sizeof(*d));
	d->real = realpath(path, NULL);
	if (!d->real)
		return -errno;
	if (statx(AT_FDCWD, d->real, AT_NO_AUTOMOUNT, STATX_MNT_ID, &sx) < 0 ||
	    !(sx.stx_mask & STATX_MNT_ID))
		return 0;
	d->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	d->mnt = sx.stx_mnt_id;
	m = mnt_find(t, d->mnt);
	if (m)
		d->fs = fs_path(d->real, m->root, m->point);
	return 0;
}

void dirloc_free(struct dirloc *d)
{
	free(d->real);
	free(d->fs);
	memset(d, 0, sizeof(*d));
}

/* Is A the directory B, or inside it? */
bool dirloc_within(const struct dirloc *a, const struct dirloc *b)
{
	return path_within(a->real, b->real) ||
	       (a->fs && b->fs && a->dev == b->dev && path_within(a->fs, b->fs));
}

/* Are A and B one directory? */
bool dirloc_same(const struct dirloc *a, const struct dirloc *b)
{
	return !strcmp(a->real, b->real) ||
	       (a->fs && b->fs && a->dev == b->dev && !strcmp(a->fs, b->fs));
}

/* Are A and B on different mounts (as far as the kernel says)? rename(2)
 * between them fails with EXDEV even on one file system. */
bool dirloc_other_mount(const struct dirloc *a, const struct dirloc *b)
{
	return a->mnt && b->mnt && a->mnt != b->mnt;
}
