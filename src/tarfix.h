/* The tar stream of `layerfs export` on its way to the file: xattr
 * names in pax extended headers unescaped (tarfix.c). */
#ifndef LAYERFS_TARFIX_H
#define LAYERFS_TARFIX_H

#include <archive.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libarchive writes the name of an xattr %-escaped in its SCHILY.xattr
 * record when the name holds a byte outside printable ASCII, '%' or '='
 * ("user.caf%C3%A9"), and the readers of image layers take the name as
 * it stands: Go's archive/tar (podman, docker) and libarchive itself (so
 * layerfs import) do; GNU tar undoes only "%25" and "%3D". The attribute
 * would come out under another name. So the tar stream goes
 * through a filter on its way to the file (tarfix_write()), which unescapes
 * those names in each extended header and writes that header with its
 * new size and checksum. */
struct tarfix {
	int fd;
	int err;		/* errno of a failed write */
	unsigned char hdr[512];
	size_t hlen;		/* bytes of hdr collected */
	unsigned char *x;	/* an extended header's data, collected */
	size_t xlen, xcap, xsize;
	bool in_x;
	uint64_t skip;		/* bytes of entry data to pass through */
	int64_t pax_size;	/* "size" of the last extended header, or -1 */
};

/* An archive_write_open() write callback; DATA is a struct tarfix with
 * fd set, pax_size -1 and the rest zero. Frees nothing: x is the
 * caller's to free. */
la_ssize_t tarfix_write(struct archive *a, void *data, const void *buf, size_t n);

#endif
