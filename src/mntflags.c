/* The generic mount(8) flags (ro, nosuid, the access-time rules, ...):
 * one table of their MS_* bits, read at a mount and at a remount.
 *
 * At a mount, libfuse 3.14 applies the flags it knows itself; layerfs
 * sets the others on the new mount (mount_flags_apply()). The
 * access-time ones change nothing the kernel does on a FUSE mount (it
 * leaves atime to the daemon); they tell the daemon how to treat the
 * upper layer's, as the kernel's overlay passes its own mount's rules on
 * to the upper (config_noatime()).
 *
 * `mount -o remount,...`: mount(8) hands a remount of a fuse.layerfs
 * mount to mount.fuse3, which starts `layerfs SOURCE MOUNTPOINT -o
 * remount,...` with the mount's flags and options as mountinfo lists
 * them. A FUSE superblock takes a remount from mount(2) itself, so this
 * process makes the call and exits (remount_run()); the daemon serving
 * the mount is not involved. As on the kernel's overlay, only the
 * generic flags change; the layers and layerfs's own options keep the
 * values the mount was made with. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>

#include "layerfs.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW	256
#endif

#define MS_ATIME_RULES	(MS_NOATIME | MS_RELATIME | MS_STRICTATIME)

enum applied_by {
	BY_LIBFUSE,	/* handed to libfuse at a mount */
	BY_LAYERFS,	/* set by mount_flags_apply() */
	AT_REMOUNT,	/* means something at a remount only */
};

static const struct {
	const char *name;
	unsigned long set, clr;
	enum applied_by by;
} flags[] = {
	{ "ro", MS_RDONLY, 0, BY_LIBFUSE },
	{ "rw", 0, MS_RDONLY, BY_LIBFUSE },
	{ "nosuid", MS_NOSUID, 0, BY_LIBFUSE },
	{ "suid", 0, MS_NOSUID, BY_LIBFUSE },
	{ "nodev", MS_NODEV, 0, BY_LIBFUSE },
	{ "dev", 0, MS_NODEV, BY_LIBFUSE },
	{ "noexec", MS_NOEXEC, 0, BY_LIBFUSE },
	{ "exec", 0, MS_NOEXEC, BY_LIBFUSE },
	{ "sync", MS_SYNCHRONOUS, 0, BY_LIBFUSE },
	{ "async", 0, MS_SYNCHRONOUS, BY_LIBFUSE },
	{ "dirsync", MS_DIRSYNC, 0, BY_LIBFUSE },
	{ "noatime", MS_NOATIME, 0, BY_LIBFUSE },
	{ "atime", 0, MS_NOATIME, BY_LIBFUSE },
	{ "relatime", MS_RELATIME, 0, BY_LAYERFS },
	{ "norelatime", 0, MS_RELATIME, BY_LAYERFS },
	{ "strictatime", MS_STRICTATIME, 0, BY_LAYERFS },
	{ "nostrictatime", 0, MS_STRICTATIME, BY_LAYERFS },
	{ "nodiratime", MS_NODIRATIME, 0, BY_LAYERFS },
	{ "diratime", 0, MS_NODIRATIME, BY_LAYERFS },
	{ "nosymfollow", MS_NOSYMFOLLOW, 0, BY_LAYERFS },
	{ "symfollow", 0, MS_NOSYMFOLLOW, BY_LAYERFS },
	/* timestamps are the upper's business: a remount passes it on */
	{ "lazytime", MS_LAZYTIME, 0, BY_LAYERFS },
	{ "nolazytime", 0, MS_LAZYTIME, BY_LAYERFS },
	{ "bind", MS_BIND, 0, AT_REMOUNT },
};

/* libfuse's options without a value that are no mount flags */
static const char *const fuse_only[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions",
	NULL,
};

static int flag_index(const char *name)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strcmp(flags[i].name, name))
			return (int)i;
	return -1;
}

/* Is FLAG a valueless option a mount takes (a stack file's key)? */
bool mount_flag_known(const char *flag)
{
	int i = flag_index(flag);

	return (i >= 0 && flags[i].by != AT_REMOUNT) || str_in_list(fuse_only, flag);
}

/* Take the valueless option FLAG: note a generic flag's bits (the last of
 * a pair wins, as with mount(8)) and hand libfuse what it applies. False
 * for names that are no such option. */
bool mount_flag_add(struct config *cfg, const char *flag)
{
	int i = flag_index(flag);

	if (i < 0) {
		if (!str_in_list(fuse_only, flag))
			return false;
		config_fuse_opt(cfg, flag, NULL);
		return true;
	}
	cfg->ms_set = (cfg->ms_set & ~flags[i].clr) | flags[i].set;
	cfg->ms_clr = (cfg->ms_clr & ~flags[i].set) | flags[i].clr;
	if (flags[i].by == BY_LIBFUSE)
		config_fuse_opt(cfg, flag, NULL);
	return true;
}

/* The access-time rule the mount ends with, as mount(2) decides it from
 * any order of flags: strictatime wins, then noatime, else relatime. */
bool config_noatime(const struct config *cfg)
{
	return (cfg->ms_set & MS_NOATIME) && !(cfg->ms_set & MS_STRICTATIME);
}

/* Say which flags given do nothing here; at a mount, that is "bind"
 * (mount(8) makes bind mounts itself). */
void mount_flags_check(const struct config *cfg)
{
	if (cfg->remount)
		return;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (flags[i].by == AT_REMOUNT && (cfg->ms_set & flags[i].set))
			fprintf(stderr, "layerfs: warning: option '%s' means something with remount only; ignored\n",
				flags[i].name);
}

/* Set the flags libfuse does not know on the new mount. Root and a user
 * namespace's root may; through fusermount3 nobody may, and only
 * nosymfollow, which changes what programs may do, is worth a word then. */
int mount_flags_apply(const struct config *cfg)
{
	unsigned long given = cfg->ms_set | cfg->ms_clr;
	struct mount_attr attr = { 0 };

	if (given & MS_ATIME_RULES) {
		attr.attr_clr |= MOUNT_ATTR__ATIME;
		attr.attr_set |= (cfg->ms_set & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME :
				 config_noatime(cfg) ? MOUNT_ATTR_NOATIME : MOUNT_ATTR_RELATIME;
	}
	if (cfg->ms_set & MS_NODIRATIME)
		attr.attr_set |= MOUNT_ATTR_NODIRATIME;
	if (cfg->ms_clr & MS_NODIRATIME)
		attr.attr_clr |= MOUNT_ATTR_NODIRATIME;
	if (cfg->ms_set & MS_NOSYMFOLLOW)
		attr.attr_set |= MOUNT_ATTR_NOSYMFOLLOW;
	if (cfg->ms_clr & MS_NOSYMFOLLOW)
		attr.attr_clr |= MOUNT_ATTR_NOSYMFOLLOW;
	if (!attr.attr_set && !attr.attr_clr)
		return 0;
	/* the mount point is an absolute path without symlinks (layers_open):
	 * the walk only crosses into the new mount's root, which asks the
	 * daemon nothing while it does not serve requests yet */
	if (mount_setattr(AT_FDCWD, cfg->mountpoint, 0, &attr, sizeof(attr)) == 0)
		return 0;
	if (!(cfg->ms_set & MS_NOSYMFOLLOW))
		return 0;	/* the access-time rules are the daemon's anyway */
	lfs_log("nosymfollow: cannot set it: %s", strerror(errno));
	return -1;
}

/* Remount CFG's mount point with the flags given; 0 or 1 (exit status). */
int remount_run(const struct config *cfg)
{
	char path[PATH_MAX], dev[32], type[64];

	if (!realpath(cfg->mountpoint, path)) {
		fprintf(stderr, "layerfs: cannot remount '%s': %s\n",
			cfg->mountpoint, strerror(errno));
		return 1;
	}
	if (!mountinfo_dev("/proc/self/mountinfo", path, dev, sizeof(dev),
			   type, sizeof(type))) {
		fprintf(stderr, "layerfs: cannot remount '%s': nothing is mounted there\n",
			cfg->mountpoint);
		return 1;
	}
	if (strcmp(type, "fuse.layerfs")) {
		fprintf(stderr, "layerfs: cannot remount '%s': it is a %s mount, not layerfs\n",
			cfg->mountpoint, type);
		return 1;
	}
	if (mount(NULL, path, NULL, MS_REMOUNT | cfg->ms_set, NULL) < 0) {
		fprintf(stderr, "layerfs: cannot remount '%s': %s\n",
			cfg->mountpoint, strerror(errno));
		return 1;
	}
	return 0;
}
