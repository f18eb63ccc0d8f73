/* Ownership between the disk and the mount.
 *
 * uidmapping=D:S:N shows an object owned by D+i on disk as owned by S+i in
 * the mount (i < N) and maps back on every write: the owner of created
 * objects, chown, and the ids stored inside POSIX ACLs and v3 file
 * capabilities. Ids outside the mapping show as 65534 and cannot be
 * written. This is fuse-overlayfs's order, which containers-storage relies
 * on ("container id : host id : size").
 *
 * Where the daemon may not chown (one id mapped, as in `unshare -Ur`), or
 * when asked with xattr_permissions=, the owner and mode live in an xattr
 * ("UID:GID:MODE", mode in octal) that containers-storage and
 * fuse-overlayfs also use; such xattrs are read from any layer whose root
 * carries one. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

#define OVERRIDE_CONTAINERS "user.containers.override_stat"
#define OVERRIDE_USER "user.fuseoverlayfs.override_stat"
#define OVERRIDE_SECURITY "security.fuseoverlayfs.override_stat"

static const char *const override_names[] = {
	OVERRIDE_CONTAINERS, OVERRIDE_USER, OVERRIDE_SECURITY,
};

/* Does the range FROM:TO:COUNT share an id, on disk or as shown, with one
 * of the N ranges R? Either way one id would have two meanings. */
bool idmap_range_clashes(const struct idmap_range *r, int n, uint32_t from,
			 uint32_t to, uint32_t count)
{
	for (int i = 0; i < n; i++)
		if (((uint64_t)r[i].from < (uint64_t)from + count &&
		     (uint64_t)from < (uint64_t)r[i].from + r[i].count) ||
		    ((uint64_t)r[i].to < (uint64_t)to + count &&
		     (uint64_t)to < (uint64_t)r[i].to + r[i].count))
			return true;
	return false;
}

bool idmap_active(void)
{
	struct config *c = fs.cfg;

	return c->nuidmap || c->ngidmap || c->squash_to_root ||
	       c->squash_uid >= 0 || c->squash_gid >= 0;
}

static uint32_t map_id(const struct idmap_range *r, int n, uint32_t id,
		       bool to_shown, bool *ok)
{
	*ok = true;
	if (n == 0)
		return id;
	for (int i = 0; i < n; i++) {
		uint32_t src = to_shown ? r[i].from : r[i].to;
		uint32_t dst = to_shown ? r[i].to : r[i].from;

		if (id >= src && id - src < r[i].count)
			return dst + (id - src);
	}
	*ok = false;
	return OVERFLOW_ID;
}

uid_t uid_to_shown(uid_t disk)
{
	bool ok;

	if (fs.cfg->squash_to_root)
		return 0;
	if (fs.cfg->squash_uid >= 0)
		return (uid_t)fs.cfg->squash_uid;
	return map_id(fs.cfg->uidmap, fs.cfg->nuidmap, disk, true, &ok);
}

gid_t gid_to_shown(gid_t disk)
{
	bool ok;

	if (fs.cfg->squash_to_root)
		return 0;
	if (fs.cfg->squash_gid >= 0)
		return (gid_t)fs.cfg->squash_gid;
	return map_id(fs.cfg->gidmap, fs.cfg->ngidmap, disk, true, &ok);
}

int uid_to_disk(uid_t shown, uid_t *disk)
{
	bool ok;

	*disk = map_id(fs.cfg->uidmap, fs.cfg->nuidmap, shown, false, &ok);
	return ok ? 0 : -EINVAL;
}

int gid_to_disk(gid_t shown, gid_t *disk)
{
	bool ok;

	*disk = map_id(fs.cfg->gidmap, fs.cfg->ngidmap, shown, false, &ok);
	return ok ? 0 : -EINVAL;
}

bool xattr_is_override(const char *name)
{
	for (size_t i = 0; i < sizeof(override_names) / sizeof(override_names[0]); i++)
		if (!strcmp(name, override_names[i]))
			return true;
	return false;
}

/* Can an object of type MODE carry the upper's ownership override? The
 * kernel takes user.* xattrs on regular files and directories only, and
 * symlinks keep the daemon's ownership: the others keep their owner and
 * mode in the real object. */
bool override_fits(mode_t mode)
{
	if (!fs.override_xattr || S_ISLNK(mode))
		return false;
	return strncmp(fs.override_xattr, "user.", 5) != 0 ||
	       S_ISREG(mode) || S_ISDIR(mode);
}

/* After an access ACL was set on DIRFD/NAME, whose owner lives in the
 * override: the real file system derived the permission bits from the
 * ACL, and the override's mode follows (its set-id bits stay). */
int override_follow_acl(int dirfd, const char *name)
{
	struct stat real, shown;
	int flags = AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH);

	if (fstatat(dirfd, name, &real, flags) < 0)
		return -errno;
	if (!override_fits(real.st_mode))
		return 0;
	shown = real;
	override_apply(0, dirfd, name, &shown);
	if ((shown.st_mode & 0777) == (real.st_mode & 0777))
		return 0;
	return override_write(dirfd, name, shown.st_uid, shown.st_gid,
			      (shown.st_mode & 07000) | (real.st_mode & 0777));
}

/* Replace owner and permission bits by the layer's override, if any. */
void override_apply(int layer, int dirfd, const char *name, struct stat *st)
{
	const char *x = fs.layers[layer].override_xattr;
	struct xobj o = { .fd = dirfd, .at = name };
	unsigned int uid, gid, mode;
	char buf[64];
	ssize_t n;

	if (!x || S_ISLNK(st->st_mode))
		return;
	n = xobj_get(&o, x, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (sscanf(buf, "%u:%u:%o", &uid, &gid, &mode) != 3)
		return;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_mode = (st->st_mode & S_IFMT) | (mode & 07777);
}

static int override_set(int dirfd, const char *name, const char *buf, int len)
{
	struct xobj o = { .fd = dirfd, .at = name };

	return xobj_set(&o, fs.override_xattr, buf, (size_t)len, 0) < 0 ? -errno : 0;
}

/* Record owner and mode of DIRFD/NAME (NAME "" for DIRFD itself) in the
 * override xattr. Writing a user.* xattr needs write permission on the
 * file, which a daemon without CAP_DAC_OVERRIDE lacks on its own files
 * of mode 0444 (git makes its objects so): it lends itself the owner's
 * write bit for the moment of the write. */
int override_write(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	char buf[64], path[PATH_MAX];
	int len = snprintf(buf, sizeof(buf), "%u:%u:0%o", (unsigned)uid,
			   (unsigned)gid, (unsigned)(mode & 07777));
	struct stat st;
	int err = override_set(dirfd, name, buf, len);

	if (err != -EACCES)
		return err;
	if (name[0]) {
		if (fd_path_at(dirfd, name, path, sizeof(path)) < 0 || lstat(path, &st) < 0)
			return err;
	} else if (!fd_path(dirfd, path, sizeof(path)) || stat(path, &st) < 0) {
		return err;
	}
	if (S_ISLNK(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & S_IWUSR))
		return err;
	if (chmod(path, (st.st_mode & 07777) | S_IWUSR) < 0)
		return err;
	err = override_set(dirfd, name, buf, len);
	if (chmod(path, st.st_mode & 07777) < 0 && !err)
		err = -errno;
	return err;
}

/* Give an upper object its owner (disk ids) and, where the owner lives in
 * an xattr, its permission bits too. Symlinks cannot carry user xattrs:
 * they keep the daemon's ownership there; device nodes, fifos and
 * sockets get a real chown (override_fits()). */
int set_owner_at(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;
	int flags = AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH);

	if (fs.override_xattr) {
		if (fstatat(dirfd, name, &st, flags) < 0)
			return -errno;
		if (S_ISLNK(st.st_mode))
			return 0;
		if (override_fits(st.st_mode))
			return override_write(dirfd, name, uid, gid, mode);
	}
	if (fchownat(dirfd, name, uid, gid, flags) < 0)
		return -errno;
	return 0;
}

/* The ownership override a layer's root directory ROOTFD carries (the
 * layer keeps owners in it), or NULL. */
const char *override_of_layer(int rootfd)
{
	for (size_t k = 0; k < sizeof(override_names) / sizeof(override_names[0]); k++)
		if (fgetxattr(rootfd, override_names[k], NULL, 0) > 0)
			return override_names[k];
	return NULL;
}

/* Decide where ownership overrides are read (every layer whose root has
 * one) and whether the upper writes them. */
void override_detect_layers(struct fs *f)
{
	for (int i = 0; i < f->nlayers; i++) {
		struct layer *l = &f->layers[i];

		if (l->present)
			l->override_xattr = override_of_layer(l->fd);
	}
	if (!f->has_upper)
		return;
	if (f->cfg->xattr_permissions == 1)
		f->override_xattr = OVERRIDE_SECURITY;
	else if (f->cfg->xattr_permissions == 2)
		f->override_xattr = OVERRIDE_USER;
	else if (f->layers[0].override_xattr)
		f->override_xattr = f->layers[0].override_xattr;
	else if (!f->can_chown)
		f->override_xattr = OVERRIDE_CONTAINERS;
	if (f->override_xattr)
		f->layers[0].override_xattr = f->override_xattr;
}

/* Can the override xattr that xattr_permissions= asked for be written
 * at all? Tried on the staging directory, removed at once; -errno if
 * not (security.* in a user namespace, user.* on a file system without
 * user xattrs), so that the mount fails with a message instead of every
 * chmod, chown and copy-up later. */
int override_probe(const struct fs *f)
{
	if (!f->override_xattr || f->workfd < 0 || !f->cfg->xattr_permissions)
		return 0;
	if (fsetxattr(f->workfd, f->override_xattr, "0:0:0700", 8, 0) < 0)
		return -errno;
	fremovexattr(f->workfd, f->override_xattr);
	return 0;
}

/* Once mounted: mark the upper root, so that whoever stacks this layer
 * later knows to read the overrides. */
void override_mark_upper(struct fs *f)
{
	char buf[64];
	struct stat st;

	if (!f->override_xattr ||
	    fgetxattr(f->layers[0].fd, f->override_xattr, buf, sizeof(buf)) > 0)
		return;
	if (fstat(f->layers[0].fd, &st) == 0)
		override_write(f->layers[0].fd, "", st.st_uid, st.st_gid, st.st_mode);
}

/* ---- ids stored inside xattr values ---- */

#define VFS_CAP_REVISION_MASK 0xFF000000
#define VFS_CAP_REVISION_3 0x03000000
#define VFS_CAP_V3_SIZE 24

bool xattr_is_acl(const char *name)
{
	return !strcmp(name, "system.posix_acl_access") ||
	       !strcmp(name, "system.posix_acl_default");
}

size_t acl_count(const void *val, size_t len)
{
	uint32_t ver;

	if (len < 4)
		return 0;
	memcpy(&ver, val, 4);
	return ver == ACL_XATTR_VERSION ? (len - 4) / 8 : 0;
}

struct acl_entry acl_get(const void *val, size_t i)
{
	const unsigned char *p = (const unsigned char *)val + 4 + 8 * i;
	struct acl_entry e;

	memcpy(&e.tag, p, 2);
	memcpy(&e.perm, p + 2, 2);
	memcpy(&e.id, p + 4, 4);
	return e;
}

void acl_put(void *val, size_t i, const struct acl_entry *e)
{
	unsigned char *p = (unsigned char *)val + 4 + 8 * i;

	memcpy(p, &e->tag, 2);
	memcpy(p + 2, &e->perm, 2);
	memcpy(p + 4, &e->id, 4);
}

/* Ids inside ACLs and v3 capabilities name users, not the object's
 * owner: they follow the mapping only, never squashing. */
static int translate(const char *name, void *val, size_t len, bool to_shown)
{
	const struct config *c = fs.cfg;
	unsigned char *p = val;
	bool ok;

	if (xattr_is_acl(name)) {
		for (size_t i = 0, n = acl_count(val, len); i < n; i++) {
			struct acl_entry e = acl_get(val, i);

			if (e.tag == ACL_TAG_USER)
				e.id = map_id(c->uidmap, c->nuidmap, e.id, to_shown, &ok);
			else if (e.tag == ACL_TAG_GROUP)
				e.id = map_id(c->gidmap, c->ngidmap, e.id, to_shown, &ok);
			else
				continue;
			if (!ok && !to_shown)
				return -EINVAL;
			/* an id outside the mapping would show as the
			 * overflow id, and give its rights to whoever has
			 * that id in the mount: marked to be left out */
			if (!ok)
				e.id = (uint32_t)-1;
			acl_put(val, i, &e);
		}
		return 0;
	}
	if (!strcmp(name, "security.capability") && len == VFS_CAP_V3_SIZE) {
		uint32_t magic, rootid;

		memcpy(&magic, p, 4);
		if ((magic & VFS_CAP_REVISION_MASK) != VFS_CAP_REVISION_3)
			return 0;
		memcpy(&rootid, p + 20, 4);
		rootid = map_id(c->uidmap, c->nuidmap, rootid, to_shown, &ok);
		if (!ok && !to_shown)
			return -EINVAL;
		memcpy(p + 20, &rootid, 4);
	}
	return 0;
}

/* Named entries of a POSIX ACL (NAME, its value VAL of LEN bytes) whose
 * id the daemon's user namespace does not map: the kernel gives them to
 * the daemon as (uid_t)-1, which no file system and no FUSE reply takes
 * back (EINVAL). They are left out, what is left moved up; the new
 * length. Only processes of the mount's namespace reach the mount, and
 * none of them has such an id, so the merged view grants and refuses
 * what it did. */
ssize_t acl_drop_unmapped(const char *name, void *val, ssize_t len)
{
	size_t n, out = 0;

	if (!val || len < 4 || !xattr_is_acl(name))
		return len;
	n = acl_count(val, (size_t)len);
	if (!n)
		return len;
	for (size_t i = 0; i < n; i++) {
		struct acl_entry e = acl_get(val, i);

		if ((e.tag == ACL_TAG_USER || e.tag == ACL_TAG_GROUP) && e.id == (uint32_t)-1)
			continue;
		if (out != i)
			acl_put(val, out, &e);
		out++;
	}
	return (ssize_t)(4 + 8 * out);
}

static bool idmap_mapped(void)
{
	return fs.cfg->nuidmap || fs.cfg->ngidmap;
}

/* VAL as the mount shows it: ids mapped, ACL entries naming ids that
 * neither the mapping nor the daemon's user namespace maps left out. */
ssize_t xattr_value_to_shown(const char *name, void *val, ssize_t len)
{
	if (len > 0 && val && idmap_mapped())
		translate(name, val, (size_t)len, true);
	return acl_drop_unmapped(name, val, len);
}

int xattr_value_to_disk(const char *name, void *val, size_t len)
{
	if (!idmap_mapped())
		return 0;
	return translate(name, val, len, false);
}
