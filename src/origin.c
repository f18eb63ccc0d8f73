/* Inode numbers that survive a remount. A lower object shows its own
 * inode number; its copy-up would show the upper file's, so the copy
 * records the number shown before (the kernel's overlay keeps the same
 * promise with its origin xattr), and while mounted the daemon maps the
 * upper object to it (ino_remap, node.c). Records are read where they
 * can be: a directory's shows in the xattr listing its lookup reads
 * anyway; for other objects the parent directory carries an "impure"
 * mark, and only in such directories are upper files asked for theirs.
 *
 * The names are layerfs's own, in the overlay namespaces that never
 * show through the mount: trusted.overlay.layerfs.ino (or user.*, as
 * the opaque markers go) holding the number shown and the copy's own
 * inode number, in decimal, and trusted.overlay.layerfs.impure on
 * directories. A record whose copy no longer has that number (the upper
 * was copied elsewhere, restored from a backup) is ignored: its number
 * could belong to another file by now. A lower file with
 * several links is not recorded: its copy is a new file apart from the
 * other names, as with the kernel without index=on.
 *
 * The same mark sends lookups after the overlay.protattr marker of a
 * file (fileattr.c), and the kernel's own overlay.impure, which it puts
 * on the parents of its copies, counts too. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "layerfs.h"

#define ORIGIN_SUFFIX "overlay.layerfs.ino"
#define IMPURE_SUFFIX "overlay.layerfs.impure"

/* The namespace of the overlay xattrs this daemon writes: "trusted.",
 * "user.", or NULL where it writes none (fileattr.c uses it too). */
const char *overlay_xattr_ns(void)
{
	switch (fs.opq_style) {
	case OPQ_TRUSTED:
		return "trusted.";
	case OPQ_USER:
		return "user.";
	default:
		return NULL;
	}
}

bool origin_xattr_name(const char *x, bool *impure)
{
	const char *s;

	if (!strncmp(x, "trusted.", 8))
		s = x + 8;
	else if (!strncmp(x, "user.", 5))
		s = x + 5;
	else
		return false;
	if (!strcmp(s, ORIGIN_SUFFIX)) {
		*impure = false;
		return true;
	}
	if (!strcmp(s, IMPURE_SUFFIX) || !strcmp(s, "overlay.impure")) {
		*impure = true;
		return true;
	}
	return false;
}

/* Record SHOWN on the staged copy O, whose own inode number is OWN.
 * Best effort: user.* xattrs do not go on symlinks or device nodes, and
 * a copy without a record only renumbers later. */
void origin_record(const struct xobj *o, ino_t shown, ino_t own)
{
	const char *p = overlay_xattr_ns();
	char name[64], val[48];
	int len;

	if (!p)
		return;
	snprintf(name, sizeof(name), "%s" ORIGIN_SUFFIX, p);
	len = snprintf(val, sizeof(val), "%" PRIu64 " %" PRIu64, (uint64_t)shown,
		       (uint64_t)own);
	xobj_set(o, name, val, (size_t)len, 0);
}

/* The upper directory of PARENT now holds a recorded object. */
void origin_mark_parent(struct node *parent)
{
	const char *p = overlay_xattr_ns();
	char name[64];

	if (!p || node_has(parent, NODE_IMPURE))
		return;
	snprintf(name, sizeof(name), "%s" IMPURE_SUFFIX, p);
	if (fsetxattr(node_upper_fd(parent), name, "y", 1, 0) == 0)
		node_flag_set(parent, NODE_IMPURE);
}

/* A record for the copy whose inode number is OWN. */
static bool parse(const char *val, ssize_t len, ino_t own, ino_t *shown)
{
	char buf[48], *end;
	uint64_t v, o;

	if (len <= 0 || (size_t)len >= sizeof(buf))
		return false;
	memcpy(buf, val, (size_t)len);
	buf[len] = '\0';
	v = strtoull(buf, &end, 10);
	if (*end != ' ' || v == 0)
		return false;
	o = strtoull(end + 1, &end, 10);
	if (*end || o != (uint64_t)own)
		return false;
	*shown = (ino_t)v;
	return true;
}

/* The record of the object NAME in DIRFD (by FD when FD >= 0), whose
 * inode number is OWN. Only the namespace this daemon writes is asked:
 * listings ask every upper entry of a marked directory. */
bool origin_read(int dirfd, const char *name, int fd, ino_t own, ino_t *shown)
{
	const char *p = overlay_xattr_ns();
	struct xobj o = { .fd = fd >= 0 ? fd : dirfd, .at = fd >= 0 ? NULL : name };
	char xname[64], val[48];

	if (!p)
		return false;
	snprintf(xname, sizeof(xname), "%s" ORIGIN_SUFFIX, p);
	return parse(val, xobj_get(&o, xname, val, sizeof(val)), own, shown);
}

/* Is the upper directory DIRFD marked as holding recorded copies? */
bool origin_dir_impure(int dirfd)
{
	static const char *const names[] = {
		"trusted." IMPURE_SUFFIX, "user." IMPURE_SUFFIX,
		"trusted.overlay.impure", "user.overlay.impure",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (fgetxattr(dirfd, names[i], NULL, 0) >= 0)
			return true;
	return false;
}

/* The records of the upper file NAME in a marked directory DIRFD: its
 * inode number (*SHOWN, left alone without one) and whether it has an
 * overlay.protattr marker. One listing, and a read where there is one. */
void origin_child_records(int dirfd, const char *name, ino_t own, ino_t *shown,
			  bool *protattr)
{
	struct xobj o = { .fd = dirfd, .at = name };
	struct xnames x;
	char val[48];

	xnames_read(&x, &o);
	xnames_each(&x, xname) {
		bool impure;

		if (!strcmp(xname, "trusted.overlay.protattr") ||
		    !strcmp(xname, "user.overlay.protattr")) {
			*protattr = true;
		} else if (origin_xattr_name(xname, &impure) && !impure) {
			parse(val, xobj_get(&o, xname, val, sizeof(val)), own, shown);
		}
	}
	xnames_free(&x);
}
