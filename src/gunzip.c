/* Gzip layers decompressed with zlib, whose inflate() checks each
 * member's CRC32 and length (see gunzip.h for why). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive_load.h"
#include "gunzip.h"
#include "layerfs.h"

enum gz_state {
	GZ_START,	/* nothing read yet */
	GZ_PLAIN,	/* not gzip: passed on as it is */
	GZ_MEMBER,	/* inside a gzip member */
	GZ_BETWEEN,	/* after a member: another one, zeros or the end */
	GZ_ZEROS,	/* zeros after the last member, up to the end */
	GZ_END,
	GZ_FAILED,
};

struct gunzip {
	int fd;
	enum gz_state state;
	bool zinit;		/* inflateInit2() done: inflateEnd() it */
	unsigned members;	/* begun so far, for messages */
	z_stream zs;		/* its next_in and avail_in for plain data too */
	char why[256];
	unsigned char in[65536], out[65536];
};

/* windowBits for a gzip stream, whose header and trailer zlib reads */
#define GZIP_WINDOW (15 + 16)

__attribute__((format(printf, 2, 3)))
static int fail(struct gunzip *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->why, sizeof(g->why), fmt, ap);
	va_end(ap);
	g->state = GZ_FAILED;
	return -1;
}

/* The member being read is bad: which one, where there are several. */
static int bad_member(struct gunzip *g, const char *reason)
{
	if (g->members > 1)
		return fail(g, "gzip member %u: %s", g->members, reason);
	return fail(g, "gzip: %s", reason);
}

/* zlib's reason for R, which it does not always give in msg */
static const char *zreason(const struct gunzip *g, int r)
{
	if (g->zs.msg)
		return g->zs.msg;
	return r == Z_MEM_ERROR ? strerror(ENOMEM) : "zlib error";
}

/* More input after what is left: the bytes read, 0 at the end of the
 * file, -1. */
static ssize_t fill(struct gunzip *g)
{
	ssize_t n;

	if (g->zs.avail_in)
		memmove(g->in, g->zs.next_in, g->zs.avail_in);
	g->zs.next_in = g->in;
	do
		n = read(g->fd, g->in + g->zs.avail_in, sizeof(g->in) - g->zs.avail_in);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(g, "read: %s", strerror(errno));
	g->zs.avail_in += (uInt)n;
	return n;
}

static int start_member(struct gunzip *g)
{
	int r = g->zinit ? inflateReset(&g->zs) : inflateInit2(&g->zs, GZIP_WINDOW);

	if (r != Z_OK)
		return fail(g, "gzip: %s", zreason(g, r));
	g->zinit = true;
	g->members++;
	g->state = GZ_MEMBER;
	return 0;
}

/* gzip or not, by the first two bytes */
static int sniff(struct gunzip *g)
{
	ssize_t n = 1;

	while (g->zs.avail_in < 2 && n > 0)
		n = fill(g);
	if (n < 0)
		return -1;
	if (g->zs.avail_in >= 2 && g->in[0] == 0x1f && g->in[1] == 0x8b)
		return start_member(g);
	g->state = GZ_PLAIN;
	return 0;
}

static ssize_t read_plain(struct gunzip *g, const void **buf)
{
	ssize_t n = g->zs.avail_in;

	if (!n && (n = fill(g)) <= 0) {
		if (n == 0)
			g->state = GZ_END;
		return n;
	}
	*buf = g->zs.next_in;
	g->zs.next_in += n;
	g->zs.avail_in = 0;
	return n;
}

static int inflate_some(struct gunzip *g)
{
	int r = inflate(&g->zs, Z_NO_FLUSH);

	if (r == Z_STREAM_END)
		g->state = GZ_BETWEEN;
	else if (r != Z_OK)
		return bad_member(g, zreason(g, r));
	return 0;
}

/* After a member, another one, or zeros to the end of the file (a tarball
 * padded to a block after compression): GNU gzip and tar take both and
 * refuse anything else as trailing garbage. */
static int after_member(struct gunzip *g)
{
	if (g->zs.next_in[0] == 0x1f)
		return start_member(g);
	if (g->zs.next_in[0] != 0)
		return fail(g, "gzip: trailing garbage after the compressed data");
	g->state = GZ_ZEROS;
	return 0;
}

static int skip_zeros(struct gunzip *g)
{
	while (g->zs.avail_in && !g->zs.next_in[0]) {
		g->zs.next_in++;
		g->zs.avail_in--;
	}
	if (g->zs.avail_in)
		return fail(g, "gzip: trailing garbage after the compressed data");
	return 0;
}

/* Input, while there is some, at what the state says it is. */
static int consume(struct gunzip *g)
{
	switch (g->state) {
	case GZ_MEMBER:
		return inflate_some(g);
	case GZ_BETWEEN:
		return after_member(g);
	case GZ_ZEROS:
		return skip_zeros(g);
	default:
		return fail(g, "gzip: internal error: state %d", (int)g->state);
	}
}

static ssize_t read_gzip(struct gunzip *g, const void **buf)
{
	g->zs.next_out = g->out;
	g->zs.avail_out = sizeof(g->out);
	while (g->zs.avail_out == sizeof(g->out) && g->state != GZ_END) {
		ssize_t n = g->zs.avail_in ? (ssize_t)g->zs.avail_in : fill(g);

		if (n < 0)
			return -1;
		if (n == 0 && g->state == GZ_MEMBER)
			return bad_member(g, "unexpected end of file");
		if (n == 0)
			g->state = GZ_END;
		else if (consume(g) < 0)
			return -1;
	}
	*buf = g->out;
	return (ssize_t)(sizeof(g->out) - g->zs.avail_out);
}

struct gunzip *gunzip_open(int fd)
{
	struct gunzip *g = xcalloc(1, sizeof(*g));

	g->fd = fd;
	return g;
}

ssize_t gunzip_read(struct gunzip *g, const void **buf)
{
	if (g->state == GZ_START && sniff(g) < 0)
		return -1;
	switch (g->state) {
	case GZ_FAILED:
		return -1;
	case GZ_END:
		return 0;
	case GZ_PLAIN:
		return read_plain(g, buf);
	default:
		return read_gzip(g, buf);
	}
}

int gunzip_finish(struct gunzip *g)
{
	const void *buf;
	ssize_t n;

	/* what follows a plain tar's end is none of ours to read */
	if (g->state == GZ_PLAIN)
		return 0;
	while ((n = gunzip_read(g, &buf)) > 0)
		;
	return (int)n;
}

const char *gunzip_why(const struct gunzip *g)
{
	return g->state == GZ_FAILED ? g->why : NULL;
}

void gunzip_close(struct gunzip *g)
{
	if (g->zinit)
		inflateEnd(&g->zs);
	free(g);
}
