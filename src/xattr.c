/* Extended attributes: passed through to the top-most real object, except
 * the overlay's own markers, which never show in the merged view. Any
 * change copies the object up first. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

/* The overlay's own namespaces. A name in one of them is the overlay's
 * marker (hidden, refused), unless an "overlay." follows the prefix:
 * then it is an ordinary attribute set through a mount, escaped as the
 * kernel's overlay escapes them since 6.7 so that overlays can nest (a
 * user's "trusted.overlay.X" is "trusted.overlay.overlay.X" in the
 * layers, and the layers' "trusted.overlay.overlay.X" shows as
 * "trusted.overlay.X"). */
static const char *const own_prefixes[] = {
	"trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.",
};
#define ESCAPE_INFIX "overlay."
#define ESCAPE_INFIX_LEN (sizeof(ESCAPE_INFIX) - 1)

/* the length of NAME's own prefix, or 0 */
static size_t own_prefix_len(const char *name)
{
	for (size_t i = 0; i < sizeof(own_prefixes) / sizeof(own_prefixes[0]); i++) {
		size_t len = strlen(own_prefixes[i]);

		if (!strncmp(name, own_prefixes[i], len))
			return len;
	}
	return 0;
}

/* Does the real name NAME describe the overlay (a marker, not escaped)? */
bool xattr_is_marker(const char *name)
{
	size_t p = own_prefix_len(name);

	return p && strncmp(name + p, ESCAPE_INFIX, ESCAPE_INFIX_LEN);
}

/* Is the real name NAME hidden from the merged view: a marker or an
 * ownership override? */
bool xattr_is_internal(const char *name)
{
	return xattr_is_marker(name) || xattr_is_override(name);
}

/* The real name of the attribute a caller gets, sets or removes as NAME,
 * in *REAL: NAME itself, or NAME escaped into BUF (room for
 * XATTR_NAME_MAX + 1). -OVERRIDE_ERR for an ownership override (ENODATA
 * to a get, EPERM to a change), -EOPNOTSUPP where the escaped name is too
 * long and -EINVAL for the bare "trusted.overlay.", as from the kernel's
 * overlay; -EOPNOTSUPP for an ACL under noacl. */
static int caller_name(const char *name, int override_err, const char **real,
		       char *buf)
{
	size_t p = own_prefix_len(name);
	const char *ns;

	*real = name;
	if (fs.cfg->noacl && xattr_is_acl(name))
		return -EOPNOTSUPP;
	if (xattr_is_override(name))
		return -override_err;
	if (!p)
		return 0;
	/* the bare prefix of the namespace the overlay reads names none of
	 * its attributes: the kernel's overlay refuses it (its handler
	 * takes names after the prefix only) */
	if (!name[p] && (ns = overlay_xattr_ns()) &&
	    !strncmp(name, ns, strlen(ns)) && !strcmp(name + strlen(ns), "overlay."))
		return -EINVAL;
	if (strlen(name) + ESCAPE_INFIX_LEN > XATTR_NAME_MAX)
		return -EOPNOTSUPP;
	memcpy(buf, name, p);
	strcpy(stpcpy(buf + p, ESCAPE_INFIX), name + p);
	*real = buf;
	return 0;
}

/* The four operations on a node's top-most object. Directories have a
 * real descriptor; other objects are reached by name in their parent,
 * or by their O_PATH fd when pinned. */
static ssize_t xattr_do(struct node *n, enum xop op, const char *name,
			void *buf, size_t size, int flags)
{
	struct xobj x = { 0 };
	struct oref o;
	ssize_t r;
	int err;

	if (S_ISDIR(n->type)) {
		x.fd = node_lset(n)->r[0].fd;
		return xobj_do(&x, op, name, buf, size, flags);
	}
	/* by name from the parent, or by the object's O_PATH fd: the
	 * object itself, symlinks included */
	do {
		err = node_oref(n, &o);
		if (err) {
			errno = -err;
			return -1;
		}
		x.fd = o.dirfd;
		x.at = o.name;
		r = xobj_do(&x, op, name, buf, size, flags);
		err = errno;
		/* changes the kernel keeps apart from renames itself */
	} while (oref_put_moved(n, &o) && (op == XGET || op == XLIST));
	errno = err;
	return r;
}

/* Forget what is known of N's xattrs: they may have changed. */
void node_xattrs_changed(struct node *n)
{
	uint32_t old = __atomic_load_n(&n->xstate, __ATOMIC_ACQUIRE);

	while (!__atomic_compare_exchange_n(&n->xstate, &old,
					    (old & ~XSTATE_NONE) + 2, false,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/* N was just created by us and holds no xattr yet; nobody else knows
 * its node id before the reply. */
void node_xattrs_new(struct node *n)
{
	__atomic_or_fetch(&n->xstate, XSTATE_NONE, __ATOMIC_ACQ_REL);
}

static bool xattrs_known_none(struct node *n, uint32_t *state)
{
	*state = __atomic_load_n(&n->xstate, __ATOMIC_ACQUIRE);
	return *state & XSTATE_NONE;
}

/* Record that N showed no xattr, unless they changed since STATE. */
static void xattrs_none(struct node *n, uint32_t state)
{
	__atomic_compare_exchange_n(&n->xstate, &state, state | XSTATE_NONE,
				    false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static bool xattr_visible(const char *name)
{
	return !xattr_is_internal(name) && !(fs.cfg->noacl && xattr_is_acl(name));
}

/* Does N show no xattr at all? Learnt with one listxattr, then known
 * until the next change. */
static bool xattrs_absent(struct node *n)
{
	char small[256];
	uint32_t state;
	ssize_t len;

	if (xattrs_known_none(n, &state))
		return true;
	len = xattr_do(n, XLIST, NULL, small, sizeof(small), 0);
	if (len < 0)
		return false;	/* a long list, or an error: ask for real */
	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(small + off) + 1)
		if (xattr_visible(small + off))
			return false;
	xattrs_none(n, state);
	return true;
}

static bool cap_name(const char *name)
{
	return !strcmp(name, "security.capability");
}

/* Is N's top-most object known to carry no xattr at all? */
bool node_xattrs_known_none(struct node *n)
{
	uint32_t state;

	return xattrs_known_none(n, &state);
}

ssize_t node_getxattr(struct node *n, const char *name, void *buf, size_t size)
{
	return xattr_do(n, XGET, name, buf, size, 0);
}

/* The answer for an attribute the object does not have. On a host
 * without SELinux nothing reads or sets SELinux labels, yet ls -l asks
 * for security.selinux of every file it lists, one round trip each;
 * "not supported" makes it stop asking for the rest of the mount (a
 * label that is there is still returned). The kernel's overlayfs says
 * ENODATA, but answers without a round trip. */
static int absent_errno(const char *name)
{
	if (!fs.selinux_host && !strcmp(name, "security.selinux"))
		return EOPNOTSUPP;
	return ENODATA;
}

void lfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct node *n = node_from_id(ino);
	char *buf = NULL, real[XATTR_NAME_MAX + 1];
	ssize_t r;
	int err;

	err = caller_name(name, ENODATA, &name, real);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (xattrs_absent(n)) {
		fuse_reply_err(req, absent_errno(name));
		return;
	}
	if (size)
		buf = xmalloc(size);
	r = xattr_do(n, XGET, name, buf, size, 0);
	if (r < 0)
		fuse_reply_err(req, errno == ENODATA ? absent_errno(name) : errno);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)xattr_value_to_shown(name, buf, r));
	else
		fuse_reply_xattr(req, (size_t)r);
	free(buf);
}

void lfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct node *n = node_from_id(ino);
	char *list, *out;
	size_t olen = 0;
	uint32_t state;
	ssize_t len;
	int admin = -1;

	if (xattrs_known_none(n, &state)) {
		if (size == 0)
			fuse_reply_xattr(req, 0);
		else
			fuse_reply_buf(req, NULL, 0);
		return;
	}
	len = xattr_do(n, XLIST, NULL, NULL, 0, 0);
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	list = xmalloc((size_t)len + 1);
	len = xattr_do(n, XLIST, NULL, list, (size_t)len, 0);
	if (len < 0) {
		fuse_reply_err(req, errno == ERANGE ? EAGAIN : errno);
		free(list);
		return;
	}
	out = xmalloc((size_t)len + 1);
	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(list + off) + 1) {
		const char *x = list + off;
		size_t l = strlen(x) + 1, p;

		if (!xattr_visible(x))
			continue;
		/* trusted.* names are listed to CAP_SYS_ADMIN only, as by
		 * the kernel's overlay (the daemon, as root, sees them) */
		if (!strncmp(x, "trusted.", 8)) {
			if (admin < 0)
				admin = caller_has_cap(req, CAP_SYS_ADMIN, NULL);
			if (!admin)
				continue;
		}
		p = own_prefix_len(x);
		if (p) {	/* escaped: shown without the infix */
			memcpy(out + olen, x, p);
			memcpy(out + olen + p, x + p + ESCAPE_INFIX_LEN, l - p - ESCAPE_INFIX_LEN);
			olen += l - ESCAPE_INFIX_LEN;
			continue;
		}
		memcpy(out + olen, x, l);
		olen += l;
	}
	if (olen == 0 && admin != 0)
		xattrs_none(n, state);
	if (size == 0)
		fuse_reply_xattr(req, olen);
	else if (olen > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, olen);
	free(list);
	free(out);
}

void lfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags)
{
	struct node *n = node_from_id(ino);
	char real[XATTR_NAME_MAX + 1];
	int err;

	err = caller_name(name, EPERM, &name, real);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	{
		char *val = xmalloc(size ? size : 1);

		memcpy(val, value, size);
		err = xattr_value_to_disk(name, val, size);
		if (!err)
			err = prot_check(n, PROT_META);
		if (!err)
			err = copyup(n, 0);
		if (!err) {
			privs_lock(n);
			node_xattrs_changed(n);
			if (xattr_do(n, XSET, name, val, size, flags) < 0)
				err = -errno;
			node_xattrs_changed(n);
			privs_unlock(n);
		}
		if (!err && fs.override_xattr &&
		    !strcmp(name, "system.posix_acl_access"))
			err = node_override_follow_acl(n);
		if (!err && req_acl_kill_sgid() &&
		    !strcmp(name, "system.posix_acl_access"))
			err = node_clear_sgid(n);
		free(val);
	}
	fuse_reply_err(req, -err);
}

void lfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct node *n = node_from_id(ino);
	char real[XATTR_NAME_MAX + 1];
	int err;

	err = caller_name(name, EPERM, &name, real);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	err = prot_check(n, PROT_META);
	/* the kernel removes a file capability itself before the SETATTR of
	 * a chown or a write: refuse it where that chown is refused */
	if (!err && cap_name(name) &&
	    nop_chown_refused(req, n))
		err = -EPERM;
	if (!err && !strcmp(name, "system.posix_acl_access"))
		err = node_acl_remove_kill_sgid(req, n);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	/* removing what is not there changes nothing: no copy-up (an upper
	 * object's own file system answers, as through the kernel's
	 * overlay: removing a missing ACL succeeds on most) */
	if (!node_in_upper(n) && xattr_do(n, XGET, name, NULL, 0, 0) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = copyup(n, 0);
	privs_lock(n);
	if (!err && xattr_do(n, XREMOVE, name, NULL, 0, 0) < 0)
		err = -errno;
	node_xattrs_changed(n);
	privs_unlock(n);
	fuse_reply_err(req, -err);
}
