/* Privileges a write from the kernel's page cache must leave alone.
 *
 * A write to a real file makes its file system drop the file's capability
 * (security.capability) and, unless the writer holds CAP_FSETID in the
 * initial user namespace, its set-id bits (file_remove_privs()), as a
 * write(2) through the mount must. But the kernel sends some writes from
 * its page cache (FUSE_WRITE_CACHE: a page stored to through a shared
 * mapping, and with the writeback cache every write), and those were dealt
 * with when the page was dirtied: for a write(2) the kernel removed the
 * capability then (a REMOVEXATTR) and marked the write that must clear
 * set-id bits, and a store through a mapping keeps both, on the kernel's
 * overlay as on a local file system. Such a write also comes late: a file
 * written and then given a capability (a setxattr, unlike a chmod, chown
 * or utimes, does not make the kernel write back first) is written back
 * at its close. So a write from the page cache puts back what it made the
 * file system drop: the capability as root and in a user namespace, the
 * set-id bits in a user namespace (a daemon there never holds CAP_FSETID
 * where the file system asks).
 *
 * A lock per node orders that with the daemon's own changes to those
 * privileges (chmod, chown, clearing set-id bits, xattr changes: attr.c,
 * xattr.c), so that none is undone. A truncation needs
 * none: the kernel lets the page cache's writes end first. Files with
 * neither privilege, nearly all, take it shared: writes of them go on in
 * parallel, and the look that found none (one fstat and, unless the node
 * is known to carry no xattr, one getxattr per write) stays true until
 * the write is done. Before, that look took no lock: a capability set
 * (or a set-id bit, in a user namespace) between it and the write was
 * dropped by the write, and so were the privileges another write of the
 * file had put back while this one was on its way. A file with either
 * takes the lock alone for its write and the putting back. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "layerfs.h"

#define CAPS "security.capability"
#define SETID (S_ISUID | S_ISGID)

/* Striped by node, as node locks are (node.c); nobody holds two. Writers
 * first: a stream of written back pages does not hold a chmod back. */
#define STRIPE_BITS 6
static pthread_rwlock_t stripes[1 << STRIPE_BITS] = {
	[0 ... (1 << STRIPE_BITS) - 1] = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
};

static pthread_rwlock_t *stripe(const struct node *n)
{
	return &stripes[node_stripe(n, STRIPE_BITS)];
}

void privs_lock(struct node *n)
{
	pthread_rwlock_wrlock(stripe(n));
}

void privs_unlock(struct node *n)
{
	pthread_rwlock_unlock(stripe(n));
}

/* Does FD, N's object, carry a capability or a set-id bit? */
static bool privileged(struct node *n, int fd)
{
	struct stat st;

	if (!node_xattrs_known_none(n) && fgetxattr(fd, CAPS, NULL, 0) > 0)
		return true;
	return fstat(fd, &st) == 0 && (st.st_mode & SETID);
}

/* Before a write from the page cache to FD, N's top-most object: note in
 * K the privileges it carries. The lock is held until privs_keep_end():
 * shared where there are none, alone where there are. */
void privs_keep_begin(struct privkeep *k, struct node *n, int fd)
{
	struct stat st;

	k->held = true;
	k->node = n;
	k->fd = fd;
	k->setid = 0;
	k->caplen = 0;
	pthread_rwlock_rdlock(stripe(n));
	if (!privileged(n, fd))
		return;
	pthread_rwlock_unlock(stripe(n));
	privs_lock(n);
	/* again, alone: a change may have come in between */
	if (fstat(fd, &st) == 0)
		k->setid = st.st_mode & SETID;
	k->caplen = fgetxattr(fd, CAPS, k->cap, sizeof(k->cap));
	if (k->caplen < 0)
		k->caplen = 0;
}

/* After that write: put back what it dropped. */
void privs_keep_end(struct privkeep *k)
{
	struct stat st;

	if (!k->held)
		return;
	if (k->setid && fstat(k->fd, &st) == 0 && (k->setid & ~st.st_mode) &&
	    fchmod(k->fd, (st.st_mode & 07777) | k->setid) < 0)
		lfs_log("a write from the page cache dropped set-id bits "
			"that could not be set back: %s", strerror(errno));
	if (k->caplen && fgetxattr(k->fd, CAPS, NULL, 0) < 0 && errno == ENODATA &&
	    fsetxattr(k->fd, CAPS, k->cap, (size_t)k->caplen, 0) < 0)
		lfs_log("a write from the page cache dropped a file capability "
			"that could not be set back: %s", strerror(errno));
	privs_unlock(k->node);
	k->held = false;
}
