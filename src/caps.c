/* Privileges: find out what the daemon may really do on the upper layer
 * and choose the on-disk forms of whiteouts and opaque directories from
 * that, instead of meeting EPERM in the middle of an operation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layerfs.h"

static bool have_cap(cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t caps = cap_get_proc();

	if (!caps)
		return false;
	cap_get_flag(caps, cap, CAP_EFFECTIVE, &v);
	cap_free(caps);
	return v == CAP_SET;
}

/* May the xattr NAME be set on directory FD? Removed again at once. */
static bool xattr_probe(int fd, const char *name)
{
	if (fsetxattr(fd, name, "y", 1, 0) < 0)
		return false;
	fremovexattr(fd, name);
	return true;
}

/* The opaque-marker form directory FD takes: OPQ_FILE where neither
 * xattr can be set (errno says why). With USER_ONLY (userxattr) trusted.*
 * is not tried. */
static enum opaque_style opq_probe(int fd, bool user_only)
{
	if (!user_only && xattr_probe(fd, "trusted.overlay.opaque"))
		return OPQ_TRUSTED;
	if (xattr_probe(fd, "user.overlay.opaque"))
		return OPQ_USER;
	return OPQ_FILE;
}

void caps_probe(struct fs *f)
{
	bool user_only = f->cfg && f->cfg->userxattr;
	uid_t other = geteuid() == 1 ? 2 : 1;
	char name[STAGING_LEN];
	int fd;

	f->can_chown = have_cap(CAP_CHOWN);
	f->dac_override = have_cap(CAP_DAC_OVERRIDE);
	f->wh_style = WH_FILE;
	f->opq_style = OPQ_FILE;
	if (f->workfd < 0)
		return;

	/* whiteouts: a 0:0 character device where mknod allows it (root,
	 * and since Linux 5.8 also unprivileged users for this device) */
	staging_name(name, sizeof(name));
	if (mknodat(f->workfd, name, S_IFCHR | 0000, makedev(0, 0)) == 0)
		f->wh_style = WH_CHARDEV;

	/* ownership: can the daemon give files to other ids? (in a user
	 * namespace with a single id mapped it cannot) Asked of that device
	 * where there is one: on ext4 soon after deletions (a fresh work
	 * dir) each inode made here costs the mount more than its calls */
	if (f->wh_style == WH_CHARDEV) {
		f->can_chown = fchownat(f->workfd, name, other, other,
					AT_SYMLINK_NOFOLLOW) == 0;
		unlinkat(f->workfd, name, 0);
	} else {
		staging_name(name, sizeof(name));
		fd = openat(f->workfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd >= 0) {
			f->can_chown = fchown(fd, other, other) == 0;
			close(fd);
			unlinkat(f->workfd, name, 0);
		}
	}

	/* opaque markers: trusted.* needs CAP_SYS_ADMIN in the initial
	 * namespace; user.* works wherever the filesystem has user xattrs.
	 * Tried on the staging directory itself: a directory made and
	 * removed for it cost a freed block, 0.45 ms of a 5 ms mount on
	 * ext4 with discard. Only where user.* is refused there (a staging
	 * directory of another owner) does a new directory tell. */
	f->opq_style = opq_probe(f->workfd, user_only);
	if (f->opq_style != OPQ_FILE || (errno != EPERM && errno != EACCES))
		return;
	staging_name(name, sizeof(name));
	if (mkdirat(f->workfd, name, 0700) < 0)
		return;
	fd = openat(f->workfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		f->opq_style = opq_probe(fd, user_only);
		close(fd);
	}
	unlinkat(f->workfd, name, AT_REMOVEDIR);
}

/* What the daemon keeps once mounted: acting on files for any owner,
 * creating device nodes and whiteouts, setting file capabilities, and
 * CAP_SYS_ADMIN for trusted.* xattrs and for unmounting itself. (The
 * immutable and append-only flags live in xattrs, fileattr.c.) */
static const cap_value_t keep_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
	CAP_FSETID, CAP_MKNOD, CAP_SETFCAP, CAP_SYS_ADMIN,
};

static bool kept(cap_value_t c)
{
	for (size_t i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
		if (keep_caps[i] == c)
			return true;
	return false;
}

/* Drop every other capability, from the bounding set too where we may, so
 * that a compromised daemon holds as little as possible. */
int caps_drop(void)
{
	cap_t cur = cap_get_proc(), next = cap_init();
	int ret = -1;

	if (!cur || !next)
		goto out;
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (!kept(c)) {
			if (CAP_IS_SUPPORTED(c))
				cap_drop_bound(c);	/* fails without CAP_SETPCAP */
			continue;
		}
		cap_get_flag(cur, c, CAP_PERMITTED, &v);
		if (v == CAP_SET) {
			cap_set_flag(next, CAP_PERMITTED, 1, &c, CAP_SET);
			cap_set_flag(next, CAP_EFFECTIVE, 1, &c, CAP_SET);
		}
	}
	ret = cap_set_proc(next);
out:
	if (cur)
		cap_free(cur);
	if (next)
		cap_free(next);
	return ret;
}

/* A line per capability the daemon holds, for `layerfs features`. */
void caps_print(FILE *out)
{
	cap_t cur = cap_get_proc();
	bool any = false;

	fputs("capabilities:", out);
	for (cap_value_t c = 0; cur && c <= CAP_LAST_CAP; c++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (!CAP_IS_SUPPORTED(c))
			continue;
		cap_get_flag(cur, c, CAP_EFFECTIVE, &v);
		if (v == CAP_SET) {
			char *name = cap_to_name(c);
			fprintf(out, " %s", name);
			cap_free(name);
			any = true;
		}
	}
	fputs(any ? "\n" : " none\n", out);
	if (cur)
		cap_free(cur);
}

const char *wh_style_name(enum wh_style s)
{
	return s == WH_CHARDEV ? "character device 0:0" : ".wh.NAME file";
}

const char *opq_style_name(enum opaque_style s)
{
	switch (s) {
	case OPQ_TRUSTED: return "xattr trusted.overlay.opaque=y";
	case OPQ_USER: return "xattr user.overlay.opaque=y";
	default: return ".wh..wh..opq file";
	}
}
