/* Directory offsets. The kernel opens directories without asking us, so
 * READDIR carries no handle (readdir.c): an offset has to mean the same
 * thing in every listing of the directory, whatever changed in between.
 * It is a cookie made from the name, and a listing is served in cookie
 * order, so "continue after OFF" skips no name that is still there and
 * repeats none, the way hashed directories of ext4 and xfs behave.
 * Cookies stay below 2^31, so 32-bit programs without large-file support
 * can read them. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs.h"
#include "listing.h"

/* "." and ".." come first, at offsets 1 and 2; names take cookies from
 * COOKIE_MIN up. The hash leaves 2^31 - 2^30 - COOKIE_MIN values above it
 * for the rare names whose hashes collide. */
#define COOKIE_MIN 16

off_t name_cookie(const char *name)
{
	return COOKIE_MIN + (off_t)(hash_mix(name_hash(name)) >> 34);
}

/* Names of a directory whose hash collides with another listed name's
 * take another cookie, and keep it while they stay listed: a cookie
 * given by position in a group of colliding names (the next free value,
 * in name order) moved when another name of the group came or went, and
 * a seekdir() to an offset taken before the change skipped a name that
 * was still there, or listed one again. Collisions are rare (a few in a
 * directory of 100,000 names), so a short list under a lock does. */
struct moved_cookie {
	struct node *dir;
	char *name;
	off_t cookie;
};

static struct moved_cookie *moved;
static size_t nmoved, capmoved;
static pthread_mutex_t moved_lock = PTHREAD_MUTEX_INITIALIZER;

/* Forget DIR's moved cookies (under moved_lock). */
static void moved_drop(struct node *dir)
{
	size_t k = 0;

	for (size_t i = 0; i < nmoved; i++) {
		if (moved[i].dir == dir)
			free(moved[i].name);
		else
			moved[k++] = moved[i];
	}
	__atomic_store_n(&nmoved, k, __ATOMIC_RELEASE);
}

static int dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	if (x->moved != y->moved)
		return x->moved ? -1 : 1;	/* a kept cookie wins */
	return strcmp(x->name, y->name);
}

/* Does a name of L (in cookie order) or one of the N values in NEW
 * have the cookie C? */
static bool cookie_used(const struct dentry_list *l, const off_t *new, size_t n,
			off_t c)
{
	size_t lo = 2, hi = l->n;

	for (size_t i = 0; i < n; i++)
		if (new[i] == c)
			return true;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->e[mid].cookie < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n && l->e[lo].cookie == c;
}

/* Put the names of a fresh listing of DIR in cookie order. A name whose
 * hash another name of the listing has takes a free value above it and
 * keeps it (moved[]) while it stays in DIR's listings. */
void listing_sort(struct node *dir, struct dentry_list *l)
{
	bool clash = false;

	l->e[0].cookie = 1;
	l->e[1].cookie = 2;
	for (size_t i = 2; i < l->n; i++) {
		l->e[i].cookie = name_cookie(l->e[i].name);
		l->e[i].moved = false;
	}
	qsort(l->e + 2, l->n - 2, sizeof(*l->e), dent_cmp);
	for (size_t i = 3; i < l->n && !clash; i++)
		clash = l->e[i].cookie == l->e[i - 1].cookie;
	if (!clash && !__atomic_load_n(&nmoved, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&moved_lock);
	/* found while the listing is in hash order, then given */
	struct dent **kept = xcalloc(nmoved + 1, sizeof(*kept));
	size_t nkept = 0;
	bool had = false;

	for (size_t m = 0; m < nmoved; m++) {
		struct dent key = { .name = moved[m].name,
				    .cookie = name_cookie(moved[m].name) };

		if (moved[m].dir != dir)
			continue;
		had = true;
		kept[nkept] = bsearch(&key, l->e + 2, l->n - 2, sizeof(*l->e),
				      dent_cmp);
		if (kept[nkept])
			nkept++;
	}
	for (size_t m = 0, k = 0; m < nmoved && k < nkept; m++) {
		if (moved[m].dir != dir || strcmp(moved[m].name, kept[k]->name))
			continue;
		kept[k]->cookie = moved[m].cookie;
		kept[k++]->moved = true;
	}
	free(kept);
	if (!clash && !nkept) {
		/* the listing is in order already: another directory's
		 * names were kept, or names of DIR's gone since */
		if (had)
			moved_drop(dir);
		pthread_mutex_unlock(&moved_lock);
		return;
	}
	for (;;) {
		size_t nclash = 0, k = 0;
		size_t *at;
		off_t *to;

		qsort(l->e + 2, l->n - 2, sizeof(*l->e), dent_cmp);
		for (size_t i = 3; i < l->n; i++)
			nclash += l->e[i].cookie == l->e[i - 1].cookie;
		if (!nclash)
			break;
		/* the values first, while the listing is in order */
		at = xmalloc(nclash * sizeof(*at));
		to = xmalloc(nclash * sizeof(*to));
		for (size_t i = 3; i < l->n; i++) {
			off_t c;

			if (l->e[i].cookie != l->e[i - 1].cookie)
				continue;
			for (c = l->e[i].cookie + 1; cookie_used(l, to, k, c); c++)
				;
			at[k] = i;
			to[k++] = c;
		}
		for (k = 0; k < nclash; k++) {
			l->e[at[k]].cookie = to[k];
			l->e[at[k]].moved = true;
		}
		free(at);
		free(to);
	}
	/* what DIR keeps now: the moved names of this listing */
	moved_drop(dir);
	for (size_t i = 2; i < l->n; i++) {
		if (!l->e[i].moved)
			continue;
		if (nmoved == capmoved) {
			capmoved = capmoved ? capmoved * 2 : 16;
			moved = xrealloc(moved, capmoved * sizeof(*moved));
		}
		moved[nmoved].dir = dir;
		moved[nmoved].name = xstrdup(l->e[i].name);
		moved[nmoved].cookie = l->e[i].cookie;
		__atomic_store_n(&nmoved, nmoved + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&moved_lock);
}

/* The index of the first entry after offset OFF. */
size_t listing_seek(struct dentry_list *l, off_t off)
{
	size_t lo = 2, hi = l->n;

	if (off < 2)
		return off < 0 ? 0 : (size_t)off;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->e[mid].cookie <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

off_t dentry_list_cookie(struct dentry_list *l, size_t i)
{
	return l->e[i].cookie;
}

/* DIR is going away: its moved cookies go with it. */
void cookies_forget(struct node *dir)
{
	if (!__atomic_load_n(&nmoved, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&moved_lock);
	moved_drop(dir);
	pthread_mutex_unlock(&moved_lock);
}
