/* Inode numbers the merged view shows: of a layer's object, and those
 * copies keep from before their copy-up. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "layerfs.h"

ino_t ino_of(int layer, const struct stat *st)
{
	uint64_t fsidx;

	if (fs.same_fs)
		return st->st_ino;
	/* Layers on several filesystems: keep numbers unique by putting the
	 * filesystem's index in the high bits, as the kernel's xino does. */
	fsidx = (uint64_t)fs.layers[layer].fsidx;
	if (((uint64_t)st->st_ino >> 48) == 0)
		return (ino_t)((fsidx << 48) | (uint64_t)st->st_ino);
	return (ino_t)(((uint64_t)st->st_ino * 0x9E3779B97F4A7C15ULL) | (1ULL << 63));
}

/* Objects copied up while mounted keep the inode number they showed
 * before; readdir and later lookups consult this map. */
struct remap {
	struct remap *next;
	dev_t dev;
	ino_t ino, shown;
};

/* Lookups and listings read it (every new node, every listed entry);
 * records read back after a remount fill it, one entry per copy. */
#define REMAP_BUCKETS 16384
static pthread_rwlock_t remap_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct remap *remap_table[REMAP_BUCKETS];

void ino_remap_add(dev_t dev, ino_t ino, ino_t shown)
{
	size_t h = key_hash(dev, ino, REMAP_BUCKETS);
	struct remap *r;

	pthread_rwlock_wrlock(&remap_lock);
	for (r = remap_table[h]; r; r = r->next)
		if (r->dev == dev && r->ino == ino)
			break;
	if (!r) {
		r = xmalloc(sizeof(*r));
		r->dev = dev;
		r->ino = ino;
		r->next = remap_table[h];
		remap_table[h] = r;
	}
	r->shown = shown;
	pthread_rwlock_unlock(&remap_lock);
}

/* The upper object died; its inode number may be reused by a new one. */
void ino_remap_del(dev_t dev, ino_t ino)
{
	size_t h = key_hash(dev, ino, REMAP_BUCKETS);
	struct remap **pp, *r;

	pthread_rwlock_wrlock(&remap_lock);
	for (pp = &remap_table[h]; (r = *pp); pp = &r->next)
		if (r->dev == dev && r->ino == ino) {
			*pp = r->next;
			free(r);
			break;
		}
	pthread_rwlock_unlock(&remap_lock);
}

ino_t ino_remap_get(dev_t dev, ino_t ino, ino_t fallback)
{
	size_t h = key_hash(dev, ino, REMAP_BUCKETS);
	struct remap *r;
	ino_t ret = fallback;

	if (!__atomic_load_n(&remap_table[h], __ATOMIC_ACQUIRE))
		return fallback;
	pthread_rwlock_rdlock(&remap_lock);
	for (r = remap_table[h]; r; r = r->next)
		if (r->dev == dev && r->ino == ino) {
			ret = r->shown;
			break;
		}
	pthread_rwlock_unlock(&remap_lock);
	return ret;
}
