/* Loading libarchive and zlib at run time (see archive_load.h). */
#include "config.h"

#define LFS_ARCHIVE_LOADER
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "archive_load.h"

#define LFS_ARCHIVE_DEFINE(f) __typeof__(f) *lfs_##f;
LFS_ARCHIVE_FUNCS(LFS_ARCHIVE_DEFINE)
LFS_ZLIB_FUNCS(LFS_ARCHIVE_DEFINE)
#undef LFS_ARCHIVE_DEFINE

struct lib {
	const char *what, *package;	/* for messages */
	const char *names[3];		/* sonames to try, NULL-terminated */
};

struct sym {
	const char *name;
	void **fn;
};

#define LFS_ARCHIVE_SYM(f) { #f, (void **)&lfs_##f },
static const struct sym archive_syms[] = { LFS_ARCHIVE_FUNCS(LFS_ARCHIVE_SYM) };
static const struct sym zlib_syms[] = { LFS_ZLIB_FUNCS(LFS_ARCHIVE_SYM) };
#undef LFS_ARCHIVE_SYM

/* LIB's functions SYMS; 0, or -1 after printing why. */
static int load_lib(const struct lib *lib, const struct sym *syms, size_t nsyms)
{
	void *h = NULL;

	for (size_t i = 0; !h && lib->names[i]; i++)
		h = dlopen(lib->names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "layerfs: cannot load %s (%s); install it "
			"(Debian: apt-get install %s)\n", lib->what, dlerror(), lib->package);
		return -1;
	}
	for (size_t i = 0; i < nsyms; i++) {
		if (!(*syms[i].fn = dlsym(h, syms[i].name))) {
			fprintf(stderr, "layerfs: %s lacks %s\n", lib->what, syms[i].name);
			return -1;
		}
	}
	return 0;
}

int archive_load(void)
{
	static const struct lib archive = {
		"libarchive", "libarchive13", { "libarchive.so.13", "libarchive.so" }
	};
	static const struct lib zlib = { "zlib", "zlib1g", { "libz.so.1", "libz.so" } };
	static int loaded;

	if (loaded)
		return 0;
	if (load_lib(&archive, archive_syms, sizeof(archive_syms) / sizeof(archive_syms[0])) < 0 ||
	    load_lib(&zlib, zlib_syms, sizeof(zlib_syms) / sizeof(zlib_syms[0])) < 0)
		return -1;
	loaded = 1;
	return 0;
}

/* libarchive's text, with the errno's where that is a system error the
 * text leaves out; some failures come with no text and no errno at all
 * (its decompressors', for a stream cut short). */
const char *archive_why(struct archive *a)
{
	static char buf[1024];
	const char *s = lfs_archive_error_string(a);
	int e = lfs_archive_errno(a);
	/* what libarchive's private ARCHIVE_ERRNO_FILE_FORMAT and
	 * ARCHIVE_ERRNO_PROGRAMMER stand for on Linux: codes of its own,
	 * whose strerror() ("Invalid or incomplete multibyte or wide
	 * character") would mislead */
	bool sys = e > 0 && e != EILSEQ && e != EINVAL;

	if (!s)
		return sys ? strerror(e) : "truncated or corrupt data";
	if (!sys || strstr(s, strerror(e)))
		return s;
	snprintf(buf, sizeof(buf), "%s: %s", s, strerror(e));
	return buf;
}
