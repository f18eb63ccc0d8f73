/* The "options" and "idmap" sections of a stack file. The options are the
 * -o options of the mount form with typed values (booleans, numbers,
 * strings), mapped onto the same struct config fields; unlike -o, where
 * container tools pass extras that must be tolerated, an unknown key here
 * is an error. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack.h"

/* Options with a value that options.c hands to libfuse; the mount(8)
 * flags are mntflags.c's (mount_flag_known()). */
static const char *const fuse_strings[] = {
	"fsname", "subtype", "context", "fscontext", "defcontext",
	"rootcontext", NULL,
};

static int want_bool(json_t *v, const char *file, const char *key,
		     struct lerr *err)
{
	if (json_is_boolean(v))
		return json_is_true(v);
	return lerr_add(err, "%s: options.%s: expected true or false, got %s",
			file, key, json_type_name(v));
}

/* An integer in [MIN, MAX], or -1 with a message. */
static int want_int(json_t *v, const char *file, const char *jpath,
		    long long min, long long max, long long *out,
		    struct lerr *err)
{
	if (!json_is_integer(v))
		return lerr_add(err, "%s: %s: expected an integer, got %s",
				file, jpath, json_type_name(v));
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return lerr_add(err, "%s: %s: %lld is out of range (%lld to %lld)",
				file, jpath, (long long)json_integer_value(v), min, max);
	*out = json_integer_value(v);
	return 0;
}

static int apply_option(struct config *cfg, const char *key, json_t *v,
			const char *file, struct lerr *err)
{
	char jpath[128];
	long long n;
	int b;

	snprintf(jpath, sizeof(jpath), "options.%s", key);
	if (!strcmp(key, "lowerdir") || !strcmp(key, "upperdir") ||
	    !strcmp(key, "workdir"))
		return lerr_add(err, "%s: %s: not an option here: use the top-level \"%s\"",
				file, jpath, key[0] == 'l' ? "layers" :
				key[0] == 'u' ? "upper" : "work");
	if (!strcmp(key, "uidmapping") || !strcmp(key, "gidmapping"))
		return lerr_add(err, "%s: %s: not an option here: use the \"idmap\" section",
				file, jpath);
	if (fuseblk_option(key))
		return lerr_add(err, "%s: %s: for FUSE mounts of a block device only, "
				"which layerfs does not make", file, jpath);
	if (!strcmp(key, "timeout")) {
		if (!json_is_number(v) || json_number_value(v) < 0)
			return lerr_add(err, "%s: %s: expected a number of seconds, got %s",
					file, jpath, json_is_number(v) ?
					"a negative number" : json_type_name(v));
		cfg->timeout = json_number_value(v);
		return 0;
	}
	if (!strcmp(key, "squash_to_uid") || !strcmp(key, "squash_to_gid")) {
		if (want_int(v, file, jpath, 0, (long long)UINT32_MAX - 1, &n, err))
			return -1;
		*(key[10] == 'u' ? &cfg->squash_uid : &cfg->squash_gid) = n;
		return 0;
	}
	if (!strcmp(key, "xattr_permissions")) {
		if (want_int(v, file, jpath, 0, 2, &n, err))
			return -1;
		cfg->xattr_permissions = (int)n;
		return 0;
	}
	if (str_in_list(fuse_strings, key)) {
		if (!json_is_string(v) || !*json_string_value(v))
			return lerr_add(err, "%s: %s: expected a non-empty string, got %s",
					file, jpath, json_is_string(v) ? "an empty one" :
					json_type_name(v));
		if (!strcmp(key, "subtype") && !subtype_taken(json_string_value(v)))
			return lerr_add(err, "%s: %s: \"%s\": %s", file, jpath,
					json_string_value(v), SUBTYPE_WHY);
		config_fuse_opt(cfg, key, json_string_value(v));
		return 0;
	}
	if (!strcmp(key, "max_read")) {
		if (want_int(v, file, jpath, 1, UINT32_MAX, &n, err))
			return -1;
		cfg->max_read = (unsigned)n;	/* build_fuse_args() writes it */
		return 0;
	}

	/* the rest are flags */
	if (!strcmp(key, "fsync") || !strcmp(key, "volatile") ||
	    !strcmp(key, "static_nlink") || !strcmp(key, "noacl") ||
	    !strcmp(key, "noxattrs") ||
	    !strcmp(key, "userxattr") || !strcmp(key, "threaded") ||
	    !strcmp(key, "passthrough") || !strcmp(key, "spin") ||
	    !strcmp(key, "idlepoll") ||
	    !strcmp(key, "prefetch") || !strcmp(key, "noopen") ||
	    !strcmp(key, "detach_unseen") ||
	    !strcmp(key, "writeback") ||
	    !strcmp(key, "squash_to_root") ||
	    !strcmp(key, "ro") || mount_flag_known(key)) {
		b = want_bool(v, file, key, err);
		if (b < 0)
			return -1;
	} else {
		return lerr_add(err, "%s: %s: unknown option", file, jpath);
	}
	if (!strcmp(key, "fsync"))
		cfg->fsync = b;
	else if (!strcmp(key, "volatile"))
		cfg->fsync = cfg->fsync && !b;
	else if (!strcmp(key, "static_nlink"))
		cfg->static_nlink = b;
	else if (!strcmp(key, "noacl"))
		cfg->noacl = b;
	else if (!strcmp(key, "noxattrs"))
		cfg->noxattrs = b;
	else if (!strcmp(key, "userxattr"))
		cfg->userxattr = b;
	else if (!strcmp(key, "threaded"))
		cfg->threaded = b;
	else if (!strcmp(key, "spin"))
		cfg->spin = b;
	else if (!strcmp(key, "idlepoll"))
		cfg->idlepoll = b;
	else if (!strcmp(key, "passthrough")) {
		cfg->passthrough = b;
		cfg->passthrough_set = true;
	}
	else if (!strcmp(key, "prefetch"))
		cfg->prefetch = b;
	else if (!strcmp(key, "detach_unseen"))
		cfg->detach_unseen = b;
	else if (!strcmp(key, "noopen")) {
		cfg->noopen = b;
		cfg->noopen_set = true;
	}
	else if (!strcmp(key, "writeback"))
		cfg->writeback = b;
	else if (!strcmp(key, "squash_to_root"))
		cfg->squash_to_root = b;
	else if (!strcmp(key, "ro")) {
		cfg->readonly = b;
		if (b)
			config_fuse_opt(cfg, key, NULL);
	} else {
		/* "allow_other": false stops the default root adds */
		if (!strcmp(key, "allow_other"))
			cfg->allow_other_given = true;
		if (b) {
			mount_flag_add(cfg, key);
		} else {
			/* "suid": false is "nosuid", "noatime": false is
			 * "atime", and so on */
			char neg[32];

			snprintf(neg, sizeof(neg), "no%s", key);
			if (mount_flag_known(neg))
				mount_flag_add(cfg, neg);
			else if (!strncmp(key, "no", 2) && mount_flag_known(key + 2))
				mount_flag_add(cfg, key + 2);
		}
	}
	return 0;
}

int options_from_json(json_t *obj, struct config *cfg, const char *file,
		      struct lerr *err)
{
	const char *key;
	json_t *v;
	int before = err->count;

	if (!json_is_object(obj))
		return lerr_add(err, "%s: options: expected an object, got %s",
				file, json_type_name(obj));
	/* "fsync" and "volatile" are applied in this order whatever the
	 * file's order, so that "volatile": true always wins */
	if ((v = json_object_get(obj, "fsync")))
		apply_option(cfg, "fsync", v, file, err);
	json_object_foreach(obj, key, v)
		if (strcmp(key, "fsync"))
			apply_option(cfg, key, v, file, err);
	return err->count > before ? -1 : 0;
}

/* ---- idmap ---- */

/* "uid" or "gid": [{"from": DISK, "to": SHOWN, "count": N}, ...], the
 * uidmapping= triples of the -o form. */
static int parse_ranges(json_t *arr, const char *which, struct idmap_range **out,
			int *count, const char *file, struct lerr *err)
{
	static const char *const keys[] = { "from", "to", "count", NULL };
	size_t i;
	json_t *r;
	int before = err->count;

	if (!json_is_array(arr))
		return lerr_add(err, "%s: idmap.%s: expected an array of {\"from\", \"to\", \"count\"}, got %s",
				file, which, json_type_name(arr));
	*out = xcalloc(json_array_size(arr) + 1, sizeof(**out));
	json_array_foreach(arr, i, r) {
		char jp[64], prefix[64];
		long long val[3] = { 0, 0, 0 };
		bool ok = true;

		snprintf(prefix, sizeof(prefix), "idmap.%s[%zu].", which, i);
		if (!json_is_object(r)) {
			lerr_add(err, "%s: idmap.%s[%zu]: expected an object, got %s",
				 file, which, i, json_type_name(r));
			continue;
		}
		{
			const char *key;
			json_t *x;

			json_object_foreach(r, key, x)
				if (!str_in_list(keys, key))
					lerr_add(err, "%s: %s%s: unknown key", file, prefix, key);
		}
		for (int k = 0; k < 3; k++) {
			json_t *x = json_object_get(r, keys[k]);

			snprintf(jp, sizeof(jp), "%s%s", prefix, keys[k]);
			if (!x) {
				lerr_add(err, "%s: %s: missing", file, jp);
				ok = false;
			} else if (want_int(x, file, jp, k == 2 ? 1 : 0,
					    (long long)UINT32_MAX - 1, &val[k], err)) {
				ok = false;
			}
		}
		if (!ok)
			continue;
		if (val[0] + val[2] > (long long)UINT32_MAX ||
		    val[1] + val[2] > (long long)UINT32_MAX) {
			lerr_add(err, "%s: idmap.%s[%zu]: the range runs past id %u",
				 file, which, i, UINT32_MAX - 1);
			continue;
		}
		if (idmap_range_clashes(*out, *count, (uint32_t)val[0],
					(uint32_t)val[1], (uint32_t)val[2])) {
			lerr_add(err, "%s: idmap.%s[%zu]: overlaps an earlier range",
				 file, which, i);
			continue;
		}
		(*out)[*count].from = (uint32_t)val[0];
		(*out)[*count].to = (uint32_t)val[1];
		(*out)[*count].count = (uint32_t)val[2];
		(*count)++;
	}
	return err->count > before ? -1 : 0;
}

int idmap_from_json(json_t *obj, struct config *cfg, const char *file,
		    struct lerr *err)
{
	const char *key;
	json_t *v;
	int before = err->count;

	if (!json_is_object(obj))
		return lerr_add(err, "%s: idmap: expected an object with \"uid\" and \"gid\", got %s",
				file, json_type_name(obj));
	json_object_foreach(obj, key, v) {
		if (!strcmp(key, "uid"))
			parse_ranges(v, "uid", &cfg->uidmap, &cfg->nuidmap, file, err);
		else if (!strcmp(key, "gid"))
			parse_ranges(v, "gid", &cfg->gidmap, &cfg->ngidmap, file, err);
		else
			lerr_add(err, "%s: idmap.%s: unknown key", file, key);
	}
	return err->count > before ? -1 : 0;
}
