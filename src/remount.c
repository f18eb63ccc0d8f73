/* `mount -o remount,...` of a layerfs mount. mount(8) hands a remount of
 * a fuse.layerfs mount to mount.fuse3, which starts `layerfs SOURCE
 * MOUNTPOINT -o remount,...` with the mount's flags and options as
 * mountinfo lists them. A FUSE superblock takes a remount from mount(2)
 * itself, so this process makes the call and exits; the daemon serving
 * the mount is not involved. As on the kernel's overlay, only the generic
 * flags change (ro/rw, nosuid, nodev, noexec, the access-time rules,
 * nosymfollow, sync, dirsync, lazytime); the layers and layerfs's own
 * options keep the values the mount was made with. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "layerfs.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW	256
#endif

static const struct {
	const char *name;
	unsigned long set, clr;
} ms_flags[] = {
	{ "ro", MS_RDONLY, 0 },		{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },	{ "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },	{ "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },	{ "exec", 0, MS_NOEXEC },
	{ "sync", MS_SYNCHRONOUS, 0 },	{ "async", 0, MS_SYNCHRONOUS },
	{ "dirsync", MS_DIRSYNC, 0 },
	{ "noatime", MS_NOATIME, 0 },	{ "atime", 0, MS_NOATIME },
	{ "nodiratime", MS_NODIRATIME, 0 }, { "diratime", 0, MS_NODIRATIME },
	{ "relatime", MS_RELATIME, 0 },	{ "norelatime", 0, MS_RELATIME },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "nostrictatime", 0, MS_STRICTATIME },
	{ "lazytime", MS_LAZYTIME, 0 },	{ "nolazytime", 0, MS_LAZYTIME },
	{ "nosymfollow", MS_NOSYMFOLLOW, 0 },
	{ "symfollow", 0, MS_NOSYMFOLLOW },
	{ "bind", MS_BIND, 0 },
};

/* Note the generic flag FLAG (given without a value) for a remount, in
 * the order given: the last of a pair wins, as with mount(8). */
void remount_flag_note(struct config *cfg, const char *flag)
{
	for (size_t i = 0; i < sizeof(ms_flags) / sizeof(ms_flags[0]); i++) {
		if (strcmp(ms_flags[i].name, flag))
			continue;
		cfg->ms_flags = (cfg->ms_flags & ~ms_flags[i].clr) | ms_flags[i].set;
		return;
	}
}

/* Remount CFG's mount point with the flags noted; 0 or 1 (exit status). */
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
	if (mount(NULL, path, NULL, MS_REMOUNT | cfg->ms_flags, NULL) < 0) {
		fprintf(stderr, "layerfs: cannot remount '%s': %s\n",
			cfg->mountpoint, strerror(errno));
		return 1;
	}
	return 0;
}
