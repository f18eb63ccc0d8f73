/* `layerfs export` writes its tarball through this filter: see tarfix.h
 * for why. Entry data passes through as it comes; only the extended
 * headers are collected and, where libarchive escaped an xattr name,
 * written again. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"
#include "tarfix.h"

/* Write all of BUF to the file. */
static int fix_put(struct tarfix *f, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(f->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			f->err = errno;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* N bytes as the tar stream holds them: in whole 512-byte blocks */
static uint64_t tar_padded(uint64_t n)
{
	return (n + 511) & ~(uint64_t)511;
}

static uint64_t tar_number(const unsigned char *field, size_t len)
{
	uint64_t v = 0;

	if (field[0] & 0x80) {		/* base-256 */
		for (size_t i = 1; i < len; i++)
			v = (v << 8) | field[i];
		return v;
	}
	for (size_t i = 0; i < len && field[i] >= '0' && field[i] <= '7'; i++)
		v = (v << 3) | (uint64_t)(field[i] - '0');
	return v;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One record "LEN KEY=VALUE\n" into OUT, its length prefix recomputed. */
static void put_record(unsigned char *out, size_t *olen, const unsigned char *key,
		       size_t klen, const unsigned char *val, size_t vlen)
{
	size_t body = 1 + klen + 1 + vlen + 1, len = body + 1;
	char num[24];

	while ((size_t)snprintf(num, sizeof(num), "%zu", len) + body != len)
		len = (size_t)snprintf(num, sizeof(num), "%zu", len) + body;
	*olen += (size_t)sprintf((char *)out + *olen, "%zu ", len);
	memcpy(out + *olen, key, klen);
	*olen += klen;
	out[(*olen)++] = '=';
	memcpy(out + *olen, val, vlen);
	*olen += vlen;
	out[(*olen)++] = '\n';
}

#define XATTR_KEY "SCHILY.xattr."

/* Write the collected extended header, its xattr names unescaped; note
 * its "size" record, which the next entry's data follows. */
static int fix_flush_x(struct tarfix *f)
{
	unsigned char *out = xmalloc(f->xsize + 512), *key = xmalloc(f->xsize + 1);
	size_t olen = 0, pos = 0, sum = 0;
	int ret;

	f->pax_size = -1;
	while (pos < f->xsize) {
		unsigned char *rec = f->x + pos, *sp, *eq;
		size_t len, klen = 0;

		len = strtoul((char *)rec, (char **)&sp, 10);
		eq = memchr(rec, '=', f->xsize - pos);
		if (*sp != ' ' || !eq || len < 5 || len > f->xsize - pos || eq >= rec + len ||
		    rec[len - 1] != '\n') {
			/* not a record: leave the rest as it is */
			memcpy(out + olen, rec, f->xsize - pos);
			olen += f->xsize - pos;
			break;
		}
		for (unsigned char *k = sp + 1; k < eq; k++) {
			int hi, lo;

			if (*k == '%' && eq - k > 2 && (hi = hexval(k[1])) >= 0 &&
			    (lo = hexval(k[2])) >= 0 && klen >= strlen(XATTR_KEY) &&
			    !memcmp(key, XATTR_KEY, strlen(XATTR_KEY))) {
				key[klen++] = (unsigned char)(hi << 4 | lo);
				k += 2;
			} else {
				key[klen++] = *k;
			}
		}
		if (klen == 4 && !memcmp(key, "size", 4))
			f->pax_size = (int64_t)strtoull((char *)eq + 1, NULL, 10);
		put_record(out, &olen, key, klen, eq + 1, (size_t)(rec + len - 1 - (eq + 1)));
		pos += len;
	}
	if (olen == f->xsize && !memcmp(out, f->x, olen)) {
		/* nothing was escaped: the header goes as libarchive wrote it */
		ret = fix_put(f, f->hdr, 512) < 0 ||
		      fix_put(f, f->x, tar_padded(f->xsize)) < 0 ? -1 : 0;
		free(out);
		free(key);
		return ret;
	}
	/* the ustar header of the extended header: new size, checksum, in
	 * libarchive's form */
	snprintf((char *)f->hdr + 124, 12, "%011zo", olen);
	f->hdr[135] = ' ';
	memset(f->hdr + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += f->hdr[i];
	snprintf((char *)f->hdr + 148, 8, "%06zo", sum);
	f->hdr[155] = ' ';
	memset(out + olen, 0, 511);
	ret = fix_put(f, f->hdr, 512) < 0 || fix_put(f, out, tar_padded(olen)) < 0 ? -1 : 0;
	free(out);
	free(key);
	return ret;
}

/* A complete 512-byte header: an extended header is collected, any
 * other goes out with its data passed through after it. */
static int fix_header(struct tarfix *f)
{
	uint64_t size = tar_number(f->hdr + 124, 12);
	bool zero = true;

	for (size_t i = 0; i < 512 && zero; i++)
		zero = !f->hdr[i];
	f->hlen = 0;
	if (zero)
		return fix_put(f, f->hdr, 512);
	if (f->hdr[156] == 'x') {
		f->in_x = true;
		f->xsize = (size_t)size;
		f->xlen = 0;
		if (f->xcap < tar_padded(f->xsize)) {
			f->xcap = tar_padded(f->xsize);
			f->x = xrealloc(f->x, f->xcap);
		}
		return 0;
	}
	if (f->pax_size >= 0)
		size = (uint64_t)f->pax_size;
	f->pax_size = -1;
	f->skip = tar_padded(size);
	return fix_put(f, f->hdr, 512);
}

/* libarchive's write callback. */
la_ssize_t tarfix_write(struct archive *a, void *data, const void *buf, size_t n)
{
	struct tarfix *f = data;
	const unsigned char *p = buf;
	size_t left = n;

	(void)a;
	while (left > 0) {
		size_t k;

		if (f->skip) {
			k = left < f->skip ? left : (size_t)f->skip;
			if (fix_put(f, p, k) < 0)
				return -1;
			f->skip -= k;
		} else if (f->in_x) {
			size_t want = tar_padded(f->xsize) - f->xlen;

			k = left < want ? left : want;
			memcpy(f->x + f->xlen, p, k);
			f->xlen += k;
			if (f->xlen == tar_padded(f->xsize)) {
				f->in_x = false;
				/* the entry's own header comes next */
				if (fix_flush_x(f) < 0)
					return -1;
			}
		} else {
			k = 512 - f->hlen < left ? 512 - f->hlen : left;
			memcpy(f->hdr + f->hlen, p, k);
			f->hlen += k;
			if (f->hlen == 512 && fix_header(f) < 0)
				return -1;
		}
		p += k;
		left -= k;
	}
	return (la_ssize_t)n;
}

