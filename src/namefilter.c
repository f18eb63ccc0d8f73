/* Which names a lower layer's directory holds, so that a lookup skips the
 * layers that have neither the name nor a ".wh." file hiding it.
 *
 * A lookup probes every layer of the parent from the top: a stat of the
 * name and, where it is missing, a stat of ".wh.NAME". Over a deep stack
 * a file of the bottom layer costs two system calls per layer above it,
 * and a name that is nowhere costs two per layer. Lower layers do not
 * change under a mount (the assumption behind their long cache timeouts),
 * so once probes of a directory of one have found nothing often enough,
 * the daemon
 * reads its names once into a Bloom filter: a name the filter has never
 * seen is surely absent, and its probe is skipped; any other is probed as
 * before, so a false positive costs only the stat it would have cost.
 *
 * A filter belongs to the open descriptor of the layer directory (a
 * node's lref), found by its number in a table: no node or lref grows by
 * it. lset_free() drops it before the descriptor is closed, so a reused
 * number starts afresh. A slot holds, in its two low bits:
 *   00  a filter (or 0: never probed)
 *   01  a count of probes that found nothing (bits 2-31) and, once known,
 *       the count that pays for reading the directory (bits 32-63)
 *   10  a thread is reading the directory
 *   11  no filter: unreadable, too large, or over the memory budget
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "layerfs.h"

#define CHUNK_SHIFT 10			/* 1024 slots, 8 KiB, per chunk */
#define CHUNKS 4096			/* descriptors up to 4M */
#define TAG_COUNT 1u
#define TAG_BUSY 2u
#define TAG_NEVER 3u
#define TAG_MASK 3u

/* Probes that found nothing before a directory is read: a few, and one
 * more per KiB of the directory (reading its names costs about what one
 * probe does per few dozen names). */
#define FIRST_MISSES 4
#define MISSES_PER_KIB 1
#define MAX_NAMES (1u << 20)
#define BUDGET (8u << 20)		/* bytes of filters in all */
#define DENTS_BUF (8 * 1024)
#define SMALL_DIR 512			/* names hashed on the stack */

struct namefilter {
	uint64_t mask;			/* bits - 1; bits is a power of two */
	bool has_wh;			/* some ".wh." name is in the directory */
	uint64_t bits[];
};

static uint64_t *chunks[CHUNKS];
static size_t budget_used;

static uint64_t *slot_of(int fd, bool make)
{
	size_t c = (size_t)fd >> CHUNK_SHIFT;
	uint64_t *chunk;

	if (fd < 0 || c >= CHUNKS)
		return NULL;
	chunk = __atomic_load_n(&chunks[c], __ATOMIC_ACQUIRE);
	if (!chunk && make) {
		uint64_t *fresh = xcalloc((size_t)1 << CHUNK_SHIFT, sizeof(*fresh));

		if (__atomic_compare_exchange_n(&chunks[c], &chunk, fresh, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			chunk = fresh;
		else
			free(fresh);
	}
	return chunk ? &chunk[fd & ((1 << CHUNK_SHIFT) - 1)] : NULL;
}

/* Four bit positions from one 64-bit hash of a name (double hashing). */
static void filter_bits(const struct namefilter *f, uint64_t h, uint64_t pos[4])
{
	uint64_t b = (h >> 32 | h << 32) | 1;

	for (int i = 0; i < 4; i++)
		pos[i] = (h + (uint64_t)i * b) & f->mask;
}

static uint64_t hash_of(const char *name)
{
	return hash_mix(name_hash(name));
}

static void filter_add(struct namefilter *f, uint64_t h)
{
	uint64_t pos[4];

	filter_bits(f, h, pos);
	for (int i = 0; i < 4; i++)
		f->bits[pos[i] >> 6] |= 1ULL << (pos[i] & 63);
}

static bool filter_has(const struct namefilter *f, const char *name)
{
	uint64_t pos[4];

	filter_bits(f, hash_of(name), pos);
	for (int i = 0; i < 4; i++)
		if (!(f->bits[pos[i] >> 6] & (1ULL << (pos[i] & 63))))
			return false;
	return true;
}

static void filter_free(struct namefilter *f)
{
	if (!f)
		return;
	__atomic_sub_fetch(&budget_used, sizeof(*f) + (f->mask + 1) / 8,
			   __ATOMIC_RELAXED);
	free(f);
}

#ifndef FS_CASEFOLD_FL
#define FS_CASEFOLD_FL 0x40000000
#endif
#ifndef F2FS_SUPER_MAGIC
#define F2FS_SUPER_MAGIC 0xF2F52010
#endif
#ifndef EROFS_SUPER_MAGIC_V1
#define EROFS_SUPER_MAGIC_V1 0xE0F5E1E2
#endif

/* Does a lookup in directory FD find exactly the names its listing
 * shows, byte for byte? Not where names fold case or are normalised
 * (casefolded ext4, f2fs and tmpfs directories; vfat, exfat, ntfs3,
 * cifs, ZFS with normalization=): there a filter of the listed names
 * would hide other spellings that a probe finds. Only file systems
 * known to compare bytes qualify. */
static bool names_exact(int fd)
{
	struct statfs sf;
	int fl = 0;

	if (fstatfs(fd, &sf) < 0)
		return false;
	switch ((unsigned long)sf.f_type) {
	case EXT4_SUPER_MAGIC:	/* ext2 and ext3 too */
	case F2FS_SUPER_MAGIC:
	case TMPFS_MAGIC:
		return ioctl(fd, FS_IOC_GETFLAGS, &fl) == 0 && !(fl & FS_CASEFOLD_FL);
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case SQUASHFS_MAGIC:
	case EROFS_SUPER_MAGIC_V1:
		return true;
	default:
		return false;
	}
}

/* The names of layer LAYER's directory FD, or NULL. The directory is
 * read once: its names' hashes are kept until their number is known
 * (on the stack for a small directory: no memory to fault in). */
static struct namefilter *filter_build(int fd, int layer)
{
	int dfd = layer_openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC |
			       (layer_wants_noatime(layer, true) ? O_NOATIME : 0));
	uint64_t small[SMALL_DIR], *hashes = small;
	size_t n = 0, cap = SMALL_DIR, bits, bytes;
	struct namefilter *f = NULL;
	bool ok, has_wh = false;
	char buf[DENTS_BUF];

	if (dfd < 0)
		return NULL;
	ok = names_exact(dfd);
	while (ok) {
		long got = syscall(SYS_getdents64, dfd, buf, sizeof(buf));

		if (got <= 0) {
			ok = got == 0;
			break;
		}
		for (long off = 0; ok && off < got;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);

			off += de->d_reclen;
			if (n == cap) {
				uint64_t *more = NULL;

				if (cap < MAX_NAMES)
					more = malloc(2 * cap * sizeof(*more));
				if (!more) {
					ok = false;
					break;
				}
				memcpy(more, hashes, n * sizeof(*more));
				if (hashes != small)
					free(hashes);
				hashes = more;
				cap *= 2;
			}
			hashes[n++] = hash_of(de->d_name);
			if (!strncmp(de->d_name, WH_PREFIX, WH_PREFIX_LEN))
				has_wh = true;
		}
	}
	close(dfd);
	for (bits = 512; ok && bits < n * 16; bits *= 2)
		;
	bytes = sizeof(*f) + bits / 8;
	if (ok && __atomic_add_fetch(&budget_used, bytes, __ATOMIC_RELAXED) > BUDGET) {
		__atomic_sub_fetch(&budget_used, bytes, __ATOMIC_RELAXED);
		ok = false;
	}
	if (ok) {
		f = xcalloc(1, bytes);
		f->mask = bits - 1;
		f->has_wh = has_wh;
		for (size_t i = 0; i < n; i++)
			filter_add(f, hashes[i]);
	}
	if (hashes != small)
		free(hashes);
	return f;
}

/* The filter a slot's value V holds, or NULL (empty, or tagged). */
static struct namefilter *as_filter(uint64_t v)
{
	return v && !(v & TAG_MASK) ? (struct namefilter *)(uintptr_t)v : NULL;
}

/* The filter of R, or NULL while there is none. */
static struct namefilter *filter_of(const struct lref *r)
{
	uint64_t *slot = slot_of(r->fd, false);

	return slot ? as_filter(__atomic_load_n(slot, __ATOMIC_ACQUIRE)) : NULL;
}

bool lower_lacks(const struct lref *r, const char *name)
{
	char whname[NAME_MAX + 1];
	struct namefilter *f;

	if (r->layer == 0 || r->fd < 0 || !(f = filter_of(r)) || filter_has(f, name))
		return false;
	if (!f->has_wh || strlen(name) + WH_PREFIX_LEN > NAME_MAX)
		return true;
	snprintf(whname, sizeof(whname), WH_PREFIX "%s", name);
	return !filter_has(f, whname);
}

/* A probe of R found neither the name nor its .wh. file: count it, and
 * read the directory once such probes have cost about what that does.
 * Probes that find something are not counted: a filter would not have
 * spared them. */
void lower_missed(const struct lref *r)
{
	uint64_t *slot = r->layer > 0 ? slot_of(r->fd, true) : NULL;
	uint64_t v, next;
	struct namefilter *f;

	if (!slot)
		return;
	v = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	for (;;) {
		uint64_t count, need;

		if (v && (v & TAG_MASK) != TAG_COUNT)
			return;		/* a filter, being read, or never */
		count = ((v >> 2) & 0x3fffffff) + 1;
		need = v >> 32;
		if (count == FIRST_MISSES && !need) {
			struct stat st;

			need = FIRST_MISSES;
			if (fstat(r->fd, &st) == 0)
				need += (uint64_t)st.st_size / 1024 * MISSES_PER_KIB;
			if (need > 0x3fffffff)
				need = 0x3fffffff;
		}
		next = need && count >= need ? TAG_BUSY :
		       need << 32 | count << 2 | TAG_COUNT;
		if (__atomic_compare_exchange_n(slot, &v, next, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
	}
	if (next != TAG_BUSY)
		return;
	f = filter_build(r->fd, r->layer);
	v = TAG_BUSY;
	if (!__atomic_compare_exchange_n(slot, &v, f ? (uint64_t)(uintptr_t)f : TAG_NEVER,
					 false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		filter_free(f);	/* dropped meanwhile (not while in use) */
}

void namefilter_forget(int fd)
{
	uint64_t *slot = slot_of(fd, false);

	if (slot)
		filter_free(as_filter(__atomic_exchange_n(slot, 0, __ATOMIC_ACQ_REL)));
}
