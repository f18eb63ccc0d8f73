/* The command line: fuse-overlayfs's form (-o lowerdir=...,upperdir=...)
 * and mount.fuse3's (SOURCE MOUNTPOINT -o ...), parsed into one struct
 * config. Options libfuse understands are handed on; unknown ones are
 * warned about and ignored, since container tools pass extras. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

static const char *const fuse_passthrough_kv[] = {
	"fsname", "subtype", "max_read", NULL,
};

/* layerfs finds its own mounts (umount, check, a second mount on one
 * mount point, commit and reset refusing a mounted stack) by their type,
 * fuse.layerfs: another subtype hid them (mount.fuse3 passes this one). */
bool subtype_taken(const char *val)
{
	return val && !strcmp(val, "layerfs");
}

void usage(FILE *out, const char *prog)
{
	fprintf(out,
"Usage: %s [-f] [-d] [-s] -o lowerdir=LOWER[:LOWER...][,upperdir=UPPER,workdir=WORK][,OPTIONS] MOUNTPOINT\n"
"       %s SOURCE MOUNTPOINT -o OPTIONS     (the form mount.fuse3 uses)\n"
"\n"
"Merge read-only lower layers with a writable upper layer, as the kernel's\n"
"overlayfs does, in a FUSE filesystem.\n"
"\n"
"General options:\n"
"  -f                     stay in the foreground (messages stay on stderr;\n"
"                         in the background they go to the system log)\n"
"  -d, --debug, -o debug  log every request (implies -f)\n"
"  -s                     single-threaded request loop (same as -o threaded=0)\n"
"  -o OPT[,OPT...]        mount options, see below\n"
"  -V, --version          print layerfs's and libfuse's versions\n"
"  -h, --help             print this help\n"
"\n"
"Mount options:\n"
"  lowerdir=DIR[:DIR...]  read-only layers, top-most first; \\: escapes a colon\n"
"  lowerdir+=DIR          add one layer below those given so far (colons are\n"
"                         part of the name); may not follow lowerdir=\n"
"  upperdir=DIR           writable layer (without it the mount is read-only)\n"
"  workdir=DIR            staging area on the same mount as upperdir\n"
"  fsync=0|1              honour fsync and make copy-ups durable (default 1)\n"
"  volatile               same as fsync=0\n"
"  static_nlink           report st_nlink 1 for every directory\n"
"  noacl                  disable POSIX ACLs\n"
"  noxattrs[=0|1]         no xattrs: reading, listing, setting or removing\n"
"                         one fails with EOPNOTSUPP (default 0)\n"
"  userxattr              write opaque markers and layerfs's own xattrs as\n"
"                         user.overlay.* (as the kernel's overlayfs does with\n"
"                         userxattr), also where trusted.* is allowed\n"
"  timeout=SECONDS        how long the kernel caches names and attributes\n"
"                         (default 86400)\n"
"  threaded=0|1           multi-threaded request loop (default 1)\n"
"  spin=0|1               after a reply, poll for the next request for up to\n"
"                         100 us (50 while read-ahead has work) before\n"
"                         sleeping, while that pays and no task waits\n"
"                         for a CPU (default 1)\n"
"  idlepoll=0|1           as root, once requests come at least every 200 us\n"
"                         (until slower than one per 400 us), idle CPUs poll\n"
"                         instead of halting (a CPU latency request of 0 us\n"
"                         through /dev/cpu_dma_latency), so a reply wakes its\n"
"                         caller sooner (default 1)\n"
"  passthrough=0|1        as root, file data of the upper layer bypasses the\n"
"                         daemon (FUSE passthrough, Linux 6.9+; default 1,\n"
"                         0 with noatime)\n"
"  prefetch=0|1           read ahead of a walk, in an idle thread: the\n"
"                         subdirectories a listing names, and the next files of\n"
"                         a directory read file by file; and small lower files\n"
"                         at their open (default 1)\n"
"  detach_unseen=0|1      when no process but layerfs daemons has seen the mount\n"
"                         for 15-20 s (its mount namespace is gone), detach it\n"
"                         and exit, as the kernel's overlay goes with its\n"
"                         namespace (default 1)\n"
"  noopen[=0|1]           open(2) and close(2) of a file send no request: the\n"
"                         kernel opens files itself, layerfs reaches the real\n"
"                         file at each read or write and copies up at the first\n"
"                         change of data (no passthrough then; writes go\n"
"                         through the kernel's writeback cache unless\n"
"                         writeback=0; default 1 for a user namespace's root,\n"
"                         where passthrough is not possible, 0 otherwise)\n"
"  writeback=0|1          where file data does not pass through, the kernel\n"
"                         gathers writes in its page cache (default 1); 0: each\n"
"                         write is a request, and a stat after a close is not\n"
"                         (with noopen: no request for a cached file at all)\n"
"  uidmapping=D:S:N[:D:S:N...]  show the owner D+i on disk as S+i in the mount\n"
"                         (i < N), and map back on writes; others show as 65534\n"
"  gidmapping=D:S:N[...]  the same for groups\n"
"  squash_to_root         show every object as owned by root\n"
"  squash_to_uid=UID, squash_to_gid=GID   show every object as owned by UID/GID\n"
"  xattr_permissions=0|1|2  keep owner and mode in an xattr instead of on disk:\n"
"                         1 security.fuseoverlayfs.override_stat,\n"
"                         2 user.fuseoverlayfs.override_stat (default 0: only\n"
"                         where chown is not permitted, user.containers.override_stat)\n"
"  max_read=BYTES         largest read request (default 524288: a read and its\n"
"                         header fit a pipe, so file data is spliced, under\n"
"                         an open-file limit of 384 or more)\n"
"  suid, dev              as root (also of a user namespace) the default, as\n"
"                         on a kernel overlay; nosuid, nodev turn them off\n"
"  allow_other, default_permissions, fsname=, subtype=, ro, nosuid, nodev,\n"
"  noexec, noatime, ...   handed to libfuse and the kernel; relatime,\n"
"                         strictatime, nodiratime, nosymfollow: set by layerfs\n"
"  context=, fscontext=, defcontext=, rootcontext=  SELinux labels, handed to\n"
"                         the kernel where SELinux is on, else left out\n"
"  remount                with SOURCE MOUNTPOINT (mount -o remount,ro runs it\n"
"                         through mount.fuse3): change the generic flags of the\n"
"                         layerfs mount there (ro/rw, nosuid, nodev, noexec,\n"
"                         atime rules) and exit; layers and options stay\n"
"  fast_ino=0|1, plugins=, redirect_dir=off|follow  fuse-overlayfs's, accepted:\n"
"                         change nothing (plugins= naming one, redirect_dir=on\n"
"                         or nofollow are refused)\n"
"Commas between double quotes do not split options (context=\"...:c1,c2\").\n"
"Other options are warned about and ignored.\n",
		prog, prog);
	subcommands_help(out);
}

static void append_lower(struct config *cfg, const char *dir)
{
	cfg->lowerdirs = xrealloc(cfg->lowerdirs, (size_t)(cfg->nlower + 1) * sizeof(char *));
	cfg->lowerdirs[cfg->nlower++] = xstrdup(dir);
}

static void clear_lowers(struct config *cfg)
{
	for (int i = 0; i < cfg->nlower; i++)
		free(cfg->lowerdirs[i]);
	cfg->nlower = 0;
}

/* Copy SRC into DST up to the first STOP that no backslash escapes, or to
 * the end, each backslash taking the next character as it is (the
 * kernel's ovl_unescape(); one at the end goes); DST ends there. Returns
 * where the copy stopped in SRC; *LEN gets the length of DST. */
static const char *unescape_until(const char *src, char stop, char *dst, size_t *len)
{
	size_t n = 0;

	while (*src && *src != stop) {
		if (*src == '\\' && !*++src)
			break;
		dst[n++] = *src++;
	}
	dst[n] = '\0';
	*len = n;
	return src;
}

/* lowerdir=A:B:C. A leading or trailing colon is tolerated, as
 * fuse-overlayfs does; "A::B" is the kernel's mark of data-only layers
 * (reached only through metacopy files, which layerfs does not follow),
 * refused rather than merged into the view as ordinary layers. */
static int add_lower(struct config *cfg, const char *spec)
{
	const char *p = spec;
	char *buf = xmalloc(strlen(spec) + 1);
	int before = cfg->nlower, ret = 0;

	while (*p) {
		size_t n;

		p = unescape_until(p, ':', buf, &n);
		if (*p == ':')
			p++;
		if (n == 0 && cfg->nlower > before && *p) {
			fprintf(stderr, "layerfs: lowerdir '%s': '::' marks data-only layers, "
				"which serve metacopy files only; layerfs does not follow "
				"metacopy files (use ':')\n", spec);
			ret = -1;
			break;
		}
		if (n)
			append_lower(cfg, buf);
	}
	free(buf);
	return ret;
}

/* A copy of the upperdir= or workdir= value VAL unescaped as the
 * kernel's overlay reads them (upperdir=a\:b names "a:b"). lowerdir+=
 * keeps its backslashes, as the kernel's does. */
static char *unescape_dir(const char *val)
{
	char *out = xmalloc(strlen(val) + 1);
	size_t n;

	unescape_until(val, '\0', out, &n);
	return out;
}

static int parse_bool(const char *key, const char *val, bool *out)
{
	if (val && !strcmp(val, "1")) {
		*out = true;
		return 0;
	}
	if (val && !strcmp(val, "0")) {
		*out = false;
		return 0;
	}
	fprintf(stderr, "layerfs: option '%s%s%s': expected %s=0 or %s=1\n", key,
		val ? "=" : "", val ? val : "", key, key);
	return -1;
}

/* "A:B:N[:A:B:N...]", podman adds a leading colon. A later option
 * replaces the list, as fuse-overlayfs takes it (and as a later lowerdir=
 * replaces its list); a range of no ids, or one sharing ids with another,
 * is refused, as in a stack file. */
static int parse_idmap(const char *key, const char *val,
		       struct idmap_range **out, int *count)
{
	const char *p = val;
	unsigned long v[3];
	int k = 0;

	free(*out);
	*out = NULL;
	*count = 0;
	if (!val || !*val)
		goto bad;
	if (*p == ':')
		p++;
	while (*p) {
		char *end;

		errno = 0;
		v[k] = strtoul(p, &end, 10);
		if (errno || end == p || (*end && *end != ':') || v[k] > UINT32_MAX)
			goto bad;
		p = *end ? end + 1 : end;
		if (++k == 3) {
			/* D+i and S+i must stay valid ids: no wrap-around */
			if (v[0] + v[2] > UINT32_MAX || v[1] + v[2] > UINT32_MAX) {
				fprintf(stderr, "layerfs: option '%s=%s': range %lu:%lu:%lu runs past id %lu\n",
					key, val, v[0], v[1], v[2], (unsigned long)UINT32_MAX - 1);
				return -1;
			}
			if (v[2] == 0 || idmap_range_clashes(*out, *count, (uint32_t)v[0],
							     (uint32_t)v[1], (uint32_t)v[2])) {
				fprintf(stderr, "layerfs: option '%s=%s': range %lu:%lu:%lu %s\n",
					key, val, v[0], v[1], v[2],
					v[2] ? "shares ids with an earlier range" : "maps no ids");
				return -1;
			}
			*out = xrealloc(*out, (size_t)(*count + 1) * sizeof(**out));
			(*out)[*count].from = (uint32_t)v[0];
			(*out)[*count].to = (uint32_t)v[1];
			(*out)[*count].count = (uint32_t)v[2];
			(*count)++;
			k = 0;
		}
	}
	if (k == 0 && *count > 0)
		return 0;
bad:
	fprintf(stderr, "layerfs: option '%s=%s': expected FROM:TO:COUNT triples\n",
		key, val ? val : "");
	return -1;
}

/* SELinux's mount options. mount(8) leaves them out where SELinux is off
 * (so `mount -o context=...` of any file system, the kernel's overlay
 * included, works there), and podman hands its mount program a context=
 * only where SELinux is on; the kernel's FUSE refuses them without it. */
static bool selinux_option(const char *key)
{
	static const char *const names[] = {
		"context", "fscontext", "defcontext", "rootcontext", NULL,
	};

	return str_in_list(names, key);
}

/* Options of FUSE mounts of a block device (fuseblk), which layerfs
 * never makes. */
bool fuseblk_option(const char *key)
{
	return !strcmp(key, "blksize") || !strcmp(key, "blkdev");
}

/* Append KEY or KEY=VAL to the options handed to libfuse. Its option
 * splitter takes a backslash as escaping the next character, so a comma
 * in a value (a quoted SELinux context: "...:s0:c1,c2") stays in it. */
void config_fuse_opt(struct config *cfg, const char *key, const char *val)
{
	size_t old = cfg->fuse_opts ? strlen(cfg->fuse_opts) : 0;
	char *p;

	if (selinux_option(key) && access("/sys/fs/selinux/enforce", F_OK) != 0)
		return;
	cfg->fuse_opts = xrealloc(cfg->fuse_opts, old + strlen(key) +
				  (val ? 2 * strlen(val) + 1 : 0) + 2);
	p = cfg->fuse_opts + old;
	if (old)
		*p++ = ',';
	p = stpcpy(p, key);
	if (val) {
		*p++ = '=';
		for (; *val; val++) {
			if (*val == ',' || *val == '\\')
				*p++ = '\\';
			*p++ = *val;
		}
	}
	*p = '\0';
}

/* fuse-overlayfs's options that change nothing in layerfs, or that ask
 * for what it cannot do. True when OPT is one; *RET then is 0 or -1 with a
 * message. */
static bool fuse_overlayfs_option(const char *opt, const char *val, int *ret)
{
	bool unused;

	*ret = 0;
	/* a speed hint: fuse-overlayfs then lists entries without looking
	 * up their inode numbers in the layers below, which may then change
	 * at a lookup; layerfs offers no such trade */
	if (!strcmp(opt, "fast_ino")) {
		*ret = parse_bool(opt, val, &unused);
		return true;
	}
	/* libraries that serve a layer of another format (fuse-overlayfs's
	 * lowerdir=//PLUGIN/...); an empty list loads none */
	if (!strcmp(opt, "plugins")) {
		if (val && *val) {
			fprintf(stderr, "layerfs: option 'plugins=%s': layerfs loads no "
				"fuse-overlayfs plugins; its layers are directories\n", val);
			*ret = -1;
		}
		return true;
	}
	/* layerfs follows the redirects the kernel's overlay wrote, as that
	 * does with redirect_dir=follow, or =off (with its default
	 * redirect_always_follow), and renames a merged directory by copying
	 * it up: it writes none */
	if (!strcmp(opt, "redirect_dir")) {
		if (!val || (strcmp(val, "off") && strcmp(val, "follow"))) {
			fprintf(stderr, "layerfs: option 'redirect_dir%s%s': layerfs writes no "
				"redirects and always follows those of the kernel's overlay "
				"(redirect_dir=off or follow)\n", val ? "=" : "", val ? val : "");
			*ret = -1;
		}
		return true;
	}
	return false;
}

static int parse_one(struct config *cfg, char *opt)
{
	char *val = strchr(opt, '=');
	int ret;

	if (val)
		*val++ = '\0';

	/* As on the kernel's overlay: lowerdir= gives the whole list (a
	 * later one replaces it), lowerdir+= adds one directory, its colons
	 * taken literally, and may not follow a lowerdir= */
	if (!strcmp(opt, "lowerdir")) {
		if (!val || !*val) {
			fprintf(stderr, "layerfs: option 'lowerdir' needs at least one directory\n");
			return -1;
		}
		clear_lowers(cfg);
		cfg->lowerdir_list = true;
		return add_lower(cfg, val);
	}
	if (!strcmp(opt, "lowerdir+")) {
		if (!val || !*val) {
			fprintf(stderr, "layerfs: option 'lowerdir+' needs a directory\n");
			return -1;
		}
		if (cfg->lowerdir_list) {
			fprintf(stderr, "layerfs: option 'lowerdir+=%s' cannot follow lowerdir=\n", val);
			return -1;
		}
		append_lower(cfg, val);
		return 0;
	}
	if (!strcmp(opt, "datadir+")) {
		fprintf(stderr, "layerfs: option 'datadir+=%s': data-only layers serve metacopy "
			"files only, which layerfs does not follow\n", val ? val : "");
		return -1;
	}
	if (!strcmp(opt, "upperdir") || !strcmp(opt, "workdir")) {
		char **dst = opt[0] == 'u' ? &cfg->upperdir : &cfg->workdir;
		if (!val || !*val) {
			fprintf(stderr, "layerfs: option '%s' needs a directory\n", opt);
			return -1;
		}
		free(*dst);
		*dst = unescape_dir(val);
		return 0;
	}
	if (!strcmp(opt, "fsync"))
		return parse_bool(opt, val, &cfg->fsync);
	if (!strcmp(opt, "threaded"))
		return parse_bool(opt, val, &cfg->threaded);
	if (!strcmp(opt, "spin"))
		return parse_bool(opt, val, &cfg->spin);
	if (!strcmp(opt, "idlepoll"))
		return parse_bool(opt, val, &cfg->idlepoll);
	if (!strcmp(opt, "passthrough")) {
		cfg->passthrough_set = true;
		return parse_bool(opt, val, &cfg->passthrough);
	}
	if (!strcmp(opt, "prefetch"))
		return parse_bool(opt, val, &cfg->prefetch);
	if (!strcmp(opt, "detach_unseen"))
		return parse_bool(opt, val, &cfg->detach_unseen);
	if (!strcmp(opt, "writeback"))
		return parse_bool(opt, val, &cfg->writeback);
	if (!strcmp(opt, "noxattrs")) {
		if (!val) {
			cfg->noxattrs = true;
			return 0;
		}
		return parse_bool(opt, val, &cfg->noxattrs);
	}
	if (fuse_overlayfs_option(opt, val, &ret))
		return ret;
	if (!strcmp(opt, "volatile") && !val) {
		cfg->fsync = false;
		return 0;
	}
	if (!strcmp(opt, "static_nlink") && !val) {
		cfg->static_nlink = true;
		return 0;
	}
	if (!strcmp(opt, "noacl") && !val) {
		cfg->noacl = true;
		return 0;
	}
	if (!strcmp(opt, "userxattr") && !val) {
		cfg->userxattr = true;
		return 0;
	}
	if (!strcmp(opt, "noopen")) {
		cfg->noopen_set = true;
		if (!val) {
			cfg->noopen = true;
			return 0;
		}
		return parse_bool(opt, val, &cfg->noopen);
	}
	if (!strcmp(opt, "timeout")) {
		char *end;
		double t = val ? strtod(val, &end) : -1;
		if (!val || !*val || *end || !isfinite(t) || t < 0) {
			fprintf(stderr, "layerfs: option 'timeout=%s': expected a number of seconds\n",
				val ? val : "");
			return -1;
		}
		cfg->timeout = t;
		return 0;
	}
	if (!strcmp(opt, "uidmapping"))
		return parse_idmap(opt, val, &cfg->uidmap, &cfg->nuidmap);
	if (!strcmp(opt, "gidmapping"))
		return parse_idmap(opt, val, &cfg->gidmap, &cfg->ngidmap);
	if (!strcmp(opt, "squash_to_root") && !val) {
		cfg->squash_to_root = true;
		return 0;
	}
	if (!strcmp(opt, "squash_to_uid") || !strcmp(opt, "squash_to_gid")) {
		char *end;
		unsigned long id = val ? strtoul(val, &end, 10) : 0;
		if (!val || !*val || *end || id > UINT32_MAX - 1) {
			/* 4294967295 is (uid_t)-1, "no change" to chown(2) */
			fprintf(stderr, "layerfs: option '%s=%s': expected an id from 0 to %lu\n",
				opt, val ? val : "", (unsigned long)UINT32_MAX - 1);
			return -1;
		}
		if (opt[10] == 'u')
			cfg->squash_uid = (int64_t)id;
		else
			cfg->squash_gid = (int64_t)id;
		return 0;
	}
	if (!strcmp(opt, "xattr_permissions")) {
		if (!val || strlen(val) != 1 || val[0] < '0' || val[0] > '2') {
			fprintf(stderr, "layerfs: option 'xattr_permissions=%s': expected 0, 1 or 2\n",
				val ? val : "");
			return -1;
		}
		cfg->xattr_permissions = val[0] - '0';
		return 0;
	}
	/* the last of ro and rw wins, as mount(8) takes them */
	if (!strcmp(opt, "ro") && !val)
		cfg->readonly = true;
	if (!strcmp(opt, "rw") && !val)
		cfg->readonly = false;
	if (!strcmp(opt, "allow_other") && !val)
		cfg->allow_other_given = true;
	if (val && !strcmp(opt, "max_read")) {
		char *end;
		unsigned long long v = strtoull(val, &end, 10);

		/* as the kernel takes it: 32 bits, no sign */
		if (!*val || *end || val[0] == '-' || v < 1 || v > UINT32_MAX) {
			fprintf(stderr, "layerfs: option '%s=%s': expected a number from 1 to %lu\n",
				opt, val, (unsigned long)UINT32_MAX);
			return -1;
		}
		cfg->max_read = (unsigned)v;	/* build_fuse_args() writes it */
		return 0;
	}
	/* fuseblk's options: the kernel refuses blksize= on a FUSE mount of
	 * no block device, and libfuse's blkdev mounts SOURCE as one, so
	 * either failed the mount without saying why. fuse-overlayfs
	 * ignores them too. */
	if (fuseblk_option(opt)) {
		fprintf(stderr, "layerfs: warning: option '%s%s%s' is for FUSE mounts of a "
			"block device only; ignored\n", opt, val ? "=" : "", val ? val : "");
		return 0;
	}
	/* fuse-overlayfs's and libfuse's -o debug: the same as -d */
	if (!strcmp(opt, "debug") && !val) {
		cfg->debug = true;
		cfg->foreground = true;
		return 0;
	}
	if (!strcmp(opt, "remount") && !val) {
		cfg->remount = true;
		return 0;
	}
	/* the FUSE superblock's own, which mount(8) repeats at a remount
	 * from mountinfo; libfuse sets them itself */
	if (val && (!strcmp(opt, "user_id") || !strcmp(opt, "group_id") ||
		    !strcmp(opt, "rootmode")))
		return 0;
	if (!val && mount_flag_add(cfg, opt))
		return 0;
	if (!strcmp(opt, "subtype") && !subtype_taken(val)) {
		fprintf(stderr, "layerfs: option 'subtype=%s': %s\n", val ? val : "",
			SUBTYPE_WHY);
		return -1;
	}
	if (val && (str_in_list(fuse_passthrough_kv, opt) || selinux_option(opt))) {
		if (!strcmp(opt, "fsname"))
			cfg->fsname_given = true;
		config_fuse_opt(cfg, opt, val);
		return 0;
	}
	if (!strncmp(opt, "x-", 2))
		return 0;	/* fstab hints for other programs */
	fprintf(stderr, "layerfs: warning: unknown option '%s%s%s' ignored\n",
		opt, val ? "=" : "", val ? val : "");
	return 0;
}

/* Split an -o argument on commas and parse each option; empty options,
 * as podman produces, are skipped. A backslash escapes a comma, and
 * commas between double quotes do not split, which keep their quotes
 * (libmount's rules: an SELinux context="...:c1,c2"). */
static int parse_opts(struct config *cfg, const char *arg)
{
	char *buf = xmalloc(strlen(arg) + 1);
	const char *p = arg;
	int ret = 0;

	while (*p && !ret) {
		bool quoted = false;
		size_t n = 0;

		while (*p && (*p != ',' || quoted)) {
			if (*p == '"')
				quoted = !quoted;
			if (*p == '\\' && p[1] == ',')
				p++;
			else if (*p == '\\' && p[1]) {
				/* keep escapes meant for the lowerdir splitter */
				buf[n++] = *p++;
			}
			buf[n++] = *p++;
		}
		buf[n] = '\0';
		if (quoted) {
			fprintf(stderr, "layerfs: option '%s': a double quote is not closed\n", buf);
			ret = -1;
			break;
		}
		if (*p == ',')
			p++;
		if (n)
			ret = parse_one(cfg, buf);
	}
	free(buf);
	return ret;
}

static void print_version(void)
{
	printf("layerfs: version %s\n", PACKAGE_VERSION);
	printf("FUSE library version %s\n", fuse_pkgversion());
}

/* The defaults of every option, shared by the -o form and stack files. */
void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->fsync = true;
	cfg->threaded = true;
	cfg->spin = true;
	cfg->idlepoll = true;
	cfg->passthrough = true;
	cfg->prefetch = true;
	cfg->detach_unseen = true;
	cfg->writeback = true;
	cfg->timeout = 86400;
	cfg->squash_uid = -1;
	cfg->squash_gid = -1;
}

enum opt_result options_parse(int argc, char **argv, struct config *cfg)
{
	char *pos[2] = { NULL, NULL };
	int npos = 0, nopts = 0;

	config_defaults(cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout, "layerfs");
			return OPT_EXIT_OK;
		}
		if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			print_version();
			return OPT_EXIT_OK;
		}
		if (!strcmp(a, "-f")) {
			cfg->foreground = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug") ||
			   !strcmp(a, "-odebug")) {
			cfg->debug = true;
			cfg->foreground = true;
		} else if (!strcmp(a, "-s")) {
			cfg->threaded = false;
		} else if (!strcmp(a, "-o")) {
			nopts++;
			if (++i == argc) {
				fprintf(stderr, "layerfs: option '-o' needs an argument\n");
				return OPT_ERROR;
			}
			if (parse_opts(cfg, argv[i]))
				return OPT_ERROR;
		} else if (!strncmp(a, "-o", 2)) {
			nopts++;
			if (parse_opts(cfg, a + 2))
				return OPT_ERROR;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "layerfs: unknown argument '%s' (see layerfs --help)\n", a);
			return OPT_ERROR;
		} else {
			if (npos == 2) {
				fprintf(stderr, "layerfs: too many arguments: '%s' (see layerfs --help)\n", a);
				return OPT_ERROR;
			}
			pos[npos++] = argv[i];
		}
	}
	if (npos == 0) {
		fprintf(stderr, "layerfs: no mount point given (see layerfs --help)\n");
		return OPT_ERROR;
	}
	cfg->mountpoint = xstrdup(pos[npos - 1]);
	/* mount.fuse3's form: the SOURCE of the fstab line or of mount(8)
	 * is the mount's source in the mount table, as for the kernel's
	 * overlay, so that `mount -a` finds the line mounted and `umount
	 * SOURCE` works; an fsname= given wins */
	if (npos == 2 && *pos[0] && !cfg->fsname_given)
		config_fuse_opt(cfg, "fsname", pos[0]);
	if (cfg->remount)
		return OPT_REMOUNT;
	mount_flags_check(cfg);
	if (cfg->nlower == 0) {
		/* `layerfs moutn stack.json`: a word that names nothing and
		 * was meant as a command, not as a mount's SOURCE */
		if (npos == 2 && !nopts && !strchr(pos[0], '/') && access(pos[0], F_OK) < 0)
			fprintf(stderr, "layerfs: unknown command '%s' (see layerfs --help)\n", pos[0]);
		else
			fprintf(stderr, "layerfs: no lowerdir given: -o lowerdir=DIR[:DIR...] is required\n");
		return OPT_ERROR;
	}
	if (cfg->upperdir && !cfg->workdir) {
		fprintf(stderr, "layerfs: upperdir '%s' needs a workdir (-o workdir=DIR)\n", cfg->upperdir);
		return OPT_ERROR;
	}
	if (cfg->workdir && !cfg->upperdir) {
		fprintf(stderr, "layerfs: workdir '%s' given without an upperdir\n", cfg->workdir);
		return OPT_ERROR;
	}
	return OPT_OK;
}

void options_free(struct config *cfg)
{
	clear_lowers(cfg);
	free(cfg->lowerdirs);
	free(cfg->upperdir);
	free(cfg->workdir);
	free(cfg->mountpoint);
	free(cfg->uidmap);
	free(cfg->gidmap);
	free(cfg->fuse_opts);
}
