/* The merged listing of a directory, as readdir.c builds it and
 * cookie.c orders it: private to the two. */
#ifndef LAYERFS_LISTING_H
#define LAYERFS_LISTING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct node;

struct dent {
	char *name;
	ino_t ino;
	unsigned char type;
	bool moved;		/* keeps a cookie other than its hash's */
	int layer;		/* top-most layer holding the name */
	off_t cookie;		/* the offset after this entry (listing_sort) */
};

struct dentry_list {
	size_t n, cap;
	struct dent *e;
	struct stat *st;	/* of each entry in its layer (listing_ahead),
				 * st_mode 0 where unknown; or NULL */
	struct node *dir;	/* of a listing read ahead: whose it is */
	uint32_t gen;		/* the directory's generation when listed */
	uint32_t refs;		/* of a cached listing (listing_get) */
	off_t next_off;		/* where the last reply ended: the offset a
				 * stream going on asks for next */
};

void listing_sort(struct node *dir, struct dentry_list *l);
void cookies_forget(struct node *dir);

#endif
