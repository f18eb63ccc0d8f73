/* Loading libarchive at run time (see archive_load.h). */
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
#undef LFS_ARCHIVE_DEFINE

int archive_load(void)
{
	static const char *const names[] = { "libarchive.so.13", "libarchive.so" };
	static int loaded;
	void *h = NULL;

	if (loaded)
		return 0;
	for (size_t i = 0; !h && i < sizeof(names) / sizeof(names[0]); i++)
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "layerfs: cannot load libarchive (%s); install it "
			"(Debian: apt-get install libarchive13)\n", dlerror());
		return -1;
	}
#define LFS_ARCHIVE_LOOKUP(f)						\
	if (!(*(void **)&lfs_##f = dlsym(h, #f))) {			\
		fprintf(stderr, "layerfs: libarchive lacks %s\n", #f);	\
		return -1;						\
	}
	LFS_ARCHIVE_FUNCS(LFS_ARCHIVE_LOOKUP)
#undef LFS_ARCHIVE_LOOKUP
	loaded = 1;
	return 0;
}

/* libarchive's text, with the errno's where that is a system error the
 * text leaves out; some failures come with no text and no errno at all
 * (the gzip reader's, for a stream that ends inside its trailer). */
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
