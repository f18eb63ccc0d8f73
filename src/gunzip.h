/* The bytes of `layerfs import`'s FILE.tar, gunzipped here when the file
 * is gzip (gunzip.c). libarchive's gzip reader checks neither the CRC32
 * nor the length in a member's trailer, so a layer whose data was
 * corrupted imported without a word, where tar(1), gzip(1) and podman
 * refuse it. zlib checks both; libarchive gets the plain tar. */
#ifndef LAYERFS_GUNZIP_H
#define LAYERFS_GUNZIP_H

#include <sys/types.h>

struct gunzip;

/* A reader of FD (which stays the caller's). A file that does not
 * start with gzip's magic bytes (1f 8b) is passed on as it is, for
 * libarchive to read (tar, or another compression). */
struct gunzip *gunzip_open(int fd);

/* The next bytes, in *BUF until the next call: their count, 0 at the
 * end, -1 when the data is corrupt, cut short or cannot be read
 * (gunzip_why()). Concatenated gzip members are one stream, as gzip -d
 * reads them, and zero bytes after the last are ignored, as tar -xz
 * ignores them; anything else after it fails. */
ssize_t gunzip_read(struct gunzip *g, const void **buf);

/* The rest of the gzip data read and checked, for the trailer that comes
 * after the end of the tar: 0, or -1 (gunzip_why()). */
int gunzip_finish(struct gunzip *g);

/* Why the last read failed, or NULL. */
const char *gunzip_why(const struct gunzip *g);

void gunzip_close(struct gunzip *g);

#endif
