/* layerfs: internal declarations shared between the source files.
 *
 * A node is one object of the merged view (what the kernel knows as an
 * inode). It holds open descriptors on the real objects behind it, one per
 * layer for a merged directory, so that every access is an *at() call
 * relative to a descriptor and never a path walk through a layer.
 */
#ifndef LAYERFS_H
#define LAYERFS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#define LAYERFS_STAGING "layerfs"	/* directory inside workdir */
#define SHARED_WH "whiteout"		/* in it: the device whiteouts link (whiteout.c) */

/* ---- configuration (options.c) ---- */

struct idmap_range {
	uint32_t from, to, count;
};

struct config {
	char **lowerdirs;	/* top-most first, as given to lowerdir= */
	int nlower;
	bool lowerdir_list;	/* lowerdir= seen: no lowerdir+= after it */
	char *upperdir;
	char *workdir;
	char *mountpoint;
	bool fsync;		/* honour fsync and make copy-ups durable */
	bool static_nlink;
	bool noacl;
	bool noxattrs;		/* no xattr requests served (main.c) */
	bool userxattr;		/* write overlay xattrs as user.overlay.* (caps.c) */
	bool readonly;
	double timeout;		/* entry and attribute cache lifetime */
	bool threaded;
	bool spin;		/* poll for the next request after a reply (reader.c) */
	bool idlepoll;		/* idle CPUs poll while requests come (idlepoll.c) */
	bool passthrough;	/* file data straight to the upper (passthrough.c) */
	bool prefetch;		/* read directories ahead of a walk (prefetch.c) */
	bool detach_unseen;	/* detach a mount no process sees (mountwatch.c) */
	bool noopen;		/* open(2) sends no request (file.c) */
	bool noopen_set;	/* noopen given; else chosen in lfs_init() */
	bool writeback;		/* the kernel's writeback cache where allowed (ops.c) */
	unsigned max_read;	/* max_read= given, or 0 for the default (main.c) */
	bool foreground;
	bool debug;
	bool allow_other_given;
	bool fsname_given;	/* fsname= given: SOURCE does not replace it */
	/* id mapping between the disk and the mount (idmap.c) */
	struct idmap_range *uidmap, *gidmap;
	int nuidmap, ngidmap;
	bool squash_to_root;
	int64_t squash_uid, squash_gid;	/* -1: not set */
	int xattr_permissions;
	char *fuse_opts;	/* options handed to libfuse, comma separated */
	/* the generic mount(8) flags given (mntflags.c): MS_* bits, the
	 * last of a pair winning */
	unsigned long ms_set, ms_clr;
	bool passthrough_set;	/* passthrough= given */
	bool remount;		/* -o remount: mntflags.c instead of a daemon */
};

enum opt_result { OPT_OK, OPT_EXIT_OK, OPT_ERROR, OPT_REMOUNT };

void config_defaults(struct config *cfg);
enum opt_result options_parse(int argc, char **argv, struct config *cfg);
void options_free(struct config *cfg);
void usage(FILE *out, const char *prog);
bool fuseblk_option(const char *key);
void config_fuse_opt(struct config *cfg, const char *key, const char *val);

/* the generic mount(8) flags (mntflags.c) */
bool mount_flag_known(const char *flag);
bool mount_flag_add(struct config *cfg, const char *flag);
bool config_noatime(const struct config *cfg);
void mount_flags_check(const struct config *cfg);
int mount_flags_apply(const struct config *cfg);
int remount_run(const struct config *cfg);

int daemon_run(struct config *cfg, const char *argv0);

/* ---- subcommands (cmd.c and cmd_*.c): layerfs SUBCOMMAND ARGS ---- */

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);	/* argv[0] is the name */
	const char *summary;
};

const struct subcommand *subcommand_find(const char *name);
int subcommand_run(int argc, char **argv);
void subcommands_help(FILE *out);
int cmd_features(int argc, char **argv);

/* ---- layers (layer.c) ---- */

struct layer {
	int idx;		/* 0 = upper; 1..n = lowers, top-most first */
	char *path;
	int fd;			/* O_RDONLY|O_DIRECTORY on the layer root */
	dev_t dev;
	int fsidx;		/* index of the layer's filesystem among all */
	bool present;
	bool noatime;		/* reached through a private read-only, noatime mount */
	const char *override_xattr;	/* owner/mode overrides are read from it */
};

enum wh_style { WH_CHARDEV, WH_FILE };
enum opaque_style { OPQ_TRUSTED, OPQ_USER, OPQ_FILE };

struct fs {
	struct config *cfg;
	struct layer *layers;	/* layers[0] is the upper slot */
	int nlayers;		/* 1 + number of lowers */
	bool has_upper;
	bool writeback;		/* the kernel caches writes (ops.c) */
	bool passthrough;	/* file data of the upper bypasses us (passthrough.c) */
	bool noopen;		/* the kernel opens files without asking (file.c) */
	bool no_opendir;	/* the kernel opens directories without us (readdir.c) */
	unsigned max_read;	/* the mount's max_read= (main.c) */
	int workfd;		/* the staging dir inside workdir */
	bool staging_made;	/* staging_prepare created it (main.c) */
	int procfd;		/* /proc/self/fd */
	bool same_fs;		/* all layers on one filesystem: real st_ino */
	enum wh_style wh_style;
	enum opaque_style opq_style;
	bool can_chown;		/* chown to other ids works on the upper */
	bool dac_override;	/* the daemon may open files whatever their mode */
	bool selinux_host;	/* SELinux is enabled here (xattr.c) */
	const char *override_xattr;	/* upper keeps owner/mode here, or NULL */
	unsigned long namemax;
	double timeout;
	uint64_t tmpcounter;
	struct fuse_session *se;
};

extern struct fs fs;

int layers_open(struct fs *f, struct config *cfg);
int staging_prepare(struct fs *f);
int proc_open(struct fs *f);
bool layer_wants_noatime(int layer, bool dir);
int layer_openat(int dirfd, const char *name, int flags);
void layers_close(struct fs *f);
void layers_let_trees_go(void);
bool same_object(int fd, const struct stat *st);

#include "node.h"

/* ---- inode numbers shown (ino.c) ---- */

ino_t ino_of(int layer, const struct stat *st);
void ino_remap_add(dev_t dev, ino_t ino, ino_t shown);
ino_t ino_remap_get(dev_t dev, ino_t ino, ino_t fallback);
void ino_remap_del(dev_t dev, ino_t ino);

/* ---- lookup (lookup.c) ---- */

struct lookup_res {
	struct stat st;		/* of the top-most object */
	struct lset *ls;	/* newly opened refs (caller owns) */
	bool opaque;
	bool protattr;		/* upper dir with an overlay.protattr xattr */
	bool impure;		/* upper dir holding recorded copies */
	bool redirected;	/* a redirect was followed */
	ino_t origin;		/* inode number recorded by a copy-up, or 0 */
};

/* An AUFS-style whiteout: ".wh.NAME" hides NAME in the layers below. */
#define WH_PREFIX ".wh."
#define WH_PREFIX_LEN 4

bool name_is_internal(const char *name);
int check_name(const char *name);
bool stat_is_whiteout(const struct stat *st);
int lookup_layers(struct node *dir, const char *name, int from_layer,
		  const struct stat *known, struct lookup_res *res);
int lookup_node_hint(struct node *dir, const char *name, int from_layer,
		     uint32_t gen, const struct stat *known, struct node **out,
		     struct stat *st);
int lookup_node(struct node *dir, const char *name, struct node **out,
		struct stat *st);
int lower_has_name(struct node *dir, const char *name);
int dir_opaque_state(int dirfd, bool *opaque, bool *xwhiteouts);
char *dir_redirect_elsewhere(int fd, const char *parent, const char *name);
bool is_xwhiteout(int dirfd, const char *name, const struct stat *st);
bool lower_lacks(const struct lref *r, const char *name);
void lower_missed(const struct lref *r);
void namefilter_forget(int fd);
void lfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void lfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void lfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets);

/* ---- readdir (readdir.c) ---- */

struct dentry_list;
int merged_list(struct node *dir, bool quiet, struct dentry_list **out);
void dentry_list_free(struct dentry_list *l);
int merged_is_empty(struct node *dir);
size_t dentry_list_count(struct dentry_list *l);
const char *dentry_list_name(struct dentry_list *l, size_t i);
unsigned char dentry_list_type(struct dentry_list *l, size_t i);
int dentry_list_layer(struct dentry_list *l, size_t i);
uint32_t dentry_list_gen(struct dentry_list *l);
off_t dentry_list_cookie(struct dentry_list *l, size_t i);
int listing_sorted(struct node *dir, struct dentry_list **out);
size_t listing_seek(struct dentry_list *l, off_t off);
off_t name_cookie(const char *name);
void listing_forget(struct node *dir);
bool listing_ahead(struct node *dir);

/* prefetch.c */
#define PF_FANOUT 64	/* subdirectories queued per listing request */
/* A small file: its data comes with its open (file.c, preload), and
 * this much of a file is read ahead when a directory is read in order */
#define SMALL_FILE_MAX (64 * 1024)
/* How far the kernel reads a file ahead: set on the mount's device
 * before INIT (main.c, tune_bdi()) and offered in INIT (ops.c), which
 * must agree, since the kernel takes the smaller of the two */
#define READAHEAD_KB 4096
/* the request loop's threads at most (main.c) */
#define REQUEST_THREADS	16

/* fdrelief.c: the kernel forgets unused inodes near the open-file limit */
void fdrelief_limits(void);
void fdrelief_start(void);
void fdrelief_stop(void);
int fdrelief_openat(int dirfd, const char *name, int flags, mode_t mode);
int fdrelief_dup(int fd);
bool fdrelief_thread_fds(void);
int fdrelief_open_spare(const char *path, int flags);
void fdrelief_spare_again(void);
void fdrelief_nowait(bool on);
void fdrelief_prune_node(fuse_ino_t id);

void prefetch_start(void);
void prefetch_stop(void);
void prefetch_release(void);
void prefetch_drop_done(void);
bool prefetch_pending(void);
unsigned prefetch_active(void);
bool prefetch_on(void);
void prefetch_dirs(struct node **dirs, size_t n);
void prefetch_listed(const struct node *dir, pid_t pid);
void prefetch_opened(struct node *file, pid_t pid, int fd);
void lfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void lfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void lfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi);

/* ---- the mount in the mount table (mountwatch.c) ---- */

bool mountinfo_dev(const char *mountinfo, const char *mountpoint,
		   char *dev, size_t len, char *fstype, size_t flen);
bool own_mount_dev(const char *mountpoint, char *dev, size_t len);
dev_t devno_parse(const char *dev);
void mountwatch_start(const char *mountpoint);
void mountwatch_stop(void);

/* ---- stopping on SIGINT, SIGTERM, SIGHUP (stop.c) ---- */

int stop_handlers_set(void);
void stop_start(const char *mountpoint);
bool stop_loop_done(void);
bool stop_may_unmount(void);
void stop_handlers_remove(void);

/* ---- copy-up (copyup.c) ---- */

#define COPYUP_NODATA 0x1	/* the caller truncates to zero right after */
#define COPYUP_HELD 0x2		/* a tree copy's name whose node the kernel
				 * holds, with its writeback cache or noopen
				 * (copyup_tree.c) */

int copyup(struct node *n, unsigned flags);
bool copyup_wait(struct node *dir, const char *name);
int copyup_obj(const struct oref *src, int parent_fd, const char *name,
	       unsigned flags, int *newfd, struct stat *nst, unsigned *prot);
int oref_in(struct node *parent, const char *name, int layer, struct oref *o);

/* copydata.c */
int copy_data(int in, int out, const struct stat *st);

/* copyup_tree.c */
int copyup_tree(struct node *dir);
bool tree_link_wanted(const struct stat *lst);
void tree_link_note(const struct stat *lst, const char *name,
		    const struct stat *nst, unsigned prot);
int tree_link_try(const struct stat *lst, bool held, int parent_fd, const char *name,
		  int *newfd, struct stat *nst, unsigned *prot);
void inval_entry_later(struct node *parent, const char *name);
void inval_failed_write_later(struct node *n, off_t off, off_t len);
void inval_entries_wait(void);
#define STAGING_LEN 64	/* room for a staging_name() */
char *staging_name(char *buf, size_t len);
int copy_xattrs(int src, int dst);
int restore_dir_times(int dirfd, const struct stat *st);

/* ---- xattrs of real objects (xattr_io.c) ---- */

/* An object: by PATH, whose last symlink is followed when FOLLOW is set;
 * or name AT in directory FD, not followed; or, AT NULL or "", the
 * object of descriptor FD (an O_PATH one too). */
struct xobj {
	int fd;
	const char *at;
	const char *path;
	bool follow;
};

/* The names of an object's xattrs: LEN bytes at LIST, NUL-separated. */
struct xnames {
	char *list;
	ssize_t len;
	char small[512];
};

#define xnames_each(x, name) \
	for (const char *name = (x)->list; name < (x)->list + (x)->len; \
	     name += strlen(name) + 1)

/* The four xattr operations: NAME and the BUF of SIZE bytes as each call
 * takes them (XSET: the value and FLAGS) */
enum xop { XGET, XLIST, XSET, XREMOVE };

ssize_t xobj_do(const struct xobj *o, enum xop op, const char *name,
		void *buf, size_t size, int flags);
ssize_t xobj_list(const struct xobj *o, char *buf, size_t size);
ssize_t xobj_get(const struct xobj *o, const char *name, void *buf, size_t size);
int xobj_set(const struct xobj *o, const char *name, const void *val, size_t size,
	     int flags);
int xnames_read(struct xnames *x, const struct xobj *o);
void xnames_free(struct xnames *x);
ssize_t xattr_value(const struct xobj *o, const char *name, char **buf, size_t *cap);
int xattrs_copy(const struct xobj *src, const struct xobj *dst,
		bool (*keep)(const char *name),
		bool (*fatal)(const char *name, int err));
int xattrs_copy_fd(int src, int dst, bool (*keep)(const char *name),
		   bool (*fatal)(const char *name, int err));

/* ---- whiteouts and opaque markers (whiteout.c) ---- */

int whiteout_create(int dirfd, const char *name);
int whiteout_replace(int dirfd, const char *name);
int whiteout_rename(int dirfd, const char *name, int newdirfd, const char *newname);
int whiteout_clear(int dirfd, const char *name, bool *had);
int opaque_set(int dirfd);
int remove_tree_at(int dirfd, const char *name);
int entry_put_aside(int dirfd, const char *name);
int purge_internal_entries(int dirfd);
int staging_acl_dir(int parent_fd, char *dir, size_t len);
int install_staged(int dirfd, const char *name, const char *tmp, bool isdir);

/* ---- directory operations (dir.c) ---- */

void lfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void lfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode, dev_t rdev);
void lfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name);
void lfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname);
void lfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void lfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void lfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags);
void lfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi);
int new_entry_dir(struct node *parent, struct stat *pst);
void reply_create_open(fuse_req_t req, struct node *n, const struct stat *st,
		       int fd, struct fuse_file_info *fi);
/* tmpfile.c */
void tmpfile_create(fuse_req_t req, struct node *dir, mode_t mode,
		    struct fuse_file_info *fi);
void lfs_readlink(fuse_req_t req, fuse_ino_t ino);

/* ---- files (file.c) ---- */

struct fhandle {
	int fd;			/* -1 for one passing through (file.c) */
	uint32_t gen;		/* node->gen at open */
	int flags;
	struct node *node;
	int backing;		/* passthrough id, 0 through the page cache */
	bool append;		/* fd of an append-only file (file.c) */
	bool upper;		/* fd is the upper layer's file */
	bool nofd;		/* opened without one: reads use read_fd() */
	pthread_mutex_t lock;
};

int io_flags(int flags);
void read_fd_drop(int fd);
int file_open_handle(struct node *n, int flags, struct fhandle **out);
void lfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
int reply_opened(fuse_req_t req, struct fuse_file_info *fi, struct fhandle *fh,
		 const struct fuse_entry_param *e);
void lfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi);
void lfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		   off_t off, struct fuse_file_info *fi);
void lfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
int req_fd(fuse_ino_t ino, struct fuse_file_info *fi, bool writing,
	   bool *append, int *tmp);
void close_tmp(int tmp);
void kill_suidgid_unmarked(fuse_req_t req, struct node *n);

/* filedata.c */
void lfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi);
void lfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		   off_t length, struct fuse_file_info *fi);
void lfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags);
void lfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi);

/* ---- inode numbers kept across remounts (origin.c) ---- */

const char *overlay_xattr_ns(void);
bool origin_xattr_name(const char *x, bool *impure);
void origin_record(const struct xobj *o, ino_t shown, ino_t own);
void origin_mark_parent(struct node *parent);
bool origin_read(int dirfd, const char *name, int fd, ino_t own, ino_t *shown);
bool origin_dir_impure(int dirfd);
void origin_child_records(int dirfd, const char *name, ino_t own, ino_t *shown,
			  bool *protattr);

/* ---- inode flags, chattr and lsattr (fileattr.c) ---- */

enum prot_op {
	PROT_DATA,	/* write anywhere, truncate */
	PROT_APPEND,	/* append, set times to now */
	PROT_META,	/* chmod, chown, set times, xattrs */
	PROT_NAME,	/* unlink, rename or link the object */
	PROT_ADD,	/* a new name in the directory */
	PROT_DEL,	/* a name removed from the directory */
};
int prot_check(struct node *n, enum prot_op op);
int protattr_set(int fd, unsigned int fl);
void fileattr_copy(int in, int out, unsigned int *prot);
unsigned int protattr_get(int fd, const char *path);
unsigned int prot_flags(struct node *n);
bool prot_append_only(struct node *n);
void lfs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	       struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	       size_t in_bufsz, size_t out_bufsz);

/* ---- the caller's capabilities (caller.c) ---- */

bool caller_has_cap(fuse_req_t req, int cap, const struct stat *obj);
bool caller_has_fsetid(fuse_req_t req, const struct stat *obj);
bool caller_has_fsetid_init(fuse_req_t req);

/* ---- attributes (attr.c) ---- */

int node_stat(struct node *n, struct stat *st);
void node_kill_suidgid(fuse_req_t req, struct node *n);
int node_clear_sgid(struct node *n);
int node_acl_remove_kill_sgid(fuse_req_t req, struct node *n);
int node_override_follow_acl(struct node *n);
bool nop_chown_refused(fuse_req_t req, struct node *n);
void fix_stat(struct node *n, struct stat *st);
void lfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void lfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		 int to_set, struct fuse_file_info *fi);
void lfs_access(fuse_req_t req, fuse_ino_t ino, int mask);
void lfs_statfs(fuse_req_t req, fuse_ino_t ino);

/* ---- privileges kept across writes from the page cache (privkeep.c) ---- */

struct privkeep {
	bool held;		/* the stripe held, shared or alone */
	struct node *node;
	int fd;
	mode_t setid;		/* set-id bits to keep */
	ssize_t caplen;		/* 0: no capability to keep */
	char cap[64];		/* struct vfs_ns_cap_data is 24 bytes */
};
void privs_keep_begin(struct privkeep *k, struct node *n, int fd);
void privs_keep_end(struct privkeep *k);
void privs_lock(struct node *n);
void privs_unlock(struct node *n);

/* ---- xattrs (xattr.c) ---- */

bool xattr_is_marker(const char *name);
bool xattr_is_internal(const char *name);
bool node_xattrs_known_none(struct node *n);
ssize_t node_getxattr(struct node *n, const char *name, void *buf, size_t size);
void lfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  size_t size);
void lfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void lfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags);
void lfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- id mapping and ownership overrides (idmap.c) ---- */

#define OVERFLOW_ID 65534

bool idmap_active(void);
bool idmap_range_clashes(const struct idmap_range *r, int n, uint32_t from,
			 uint32_t to, uint32_t count);
uid_t uid_to_shown(uid_t disk);
gid_t gid_to_shown(gid_t disk);
int uid_to_disk(uid_t shown, uid_t *disk);
int gid_to_disk(gid_t shown, gid_t *disk);
bool xattr_is_override(const char *name);
void override_apply(int layer, int dirfd, const char *name, struct stat *st);
bool override_fits(mode_t mode);
int override_follow_acl(int dirfd, const char *name);
int override_write(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode);
const char *override_of_layer(int rootfd);
void override_detect_layers(struct fs *f);
int override_probe(const struct fs *f);
/* POSIX ACLs as xattr values (system.posix_acl_*): a version word, then
 * 8-byte entries of tag (16 bits), permissions (16) and id (32) */
#define ACL_XATTR_VERSION 2
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_GROUP 0x08
#define ACL_TAG_MASK 0x10
#define ACL_TAG_OTHER 0x20
#define ACL_PERM_WRITE 02
struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};
bool xattr_is_acl(const char *name);
/* The entries of the ACL value VAL of LEN bytes: how many (0 for a
 * value of another version), entry I read, and written back. */
size_t acl_count(const void *val, size_t len);
struct acl_entry acl_get(const void *val, size_t i);
void acl_put(void *val, size_t i, const struct acl_entry *e);
ssize_t acl_drop_unmapped(const char *name, void *val, ssize_t len);
void override_mark_upper(struct fs *f);
int set_owner_at(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode);
ssize_t xattr_value_to_shown(const char *name, void *val, ssize_t len);
int xattr_value_to_disk(const char *name, void *val, size_t len);

/* ---- privileges (caps.c) ---- */

void caps_probe(struct fs *f);
int caps_drop(void);
void caps_print(FILE *out);
const char *wh_style_name(enum wh_style s);
const char *opq_style_name(enum opaque_style s);

/* ---- helpers (util.c) ---- */

int reopen_fd(int fd, int flags);
int link_fd_at(int fd, int dirfd, const char *name);
char *fd_path(int fd, char *buf, size_t len);
int fd_path_at(int dirfd, const char *name, char *buf, size_t len);
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
void *xcalloc(size_t n, size_t m);
char *xstrdup(const char *s);
bool str_in_list(const char *const *list, const char *s);
bool path_within(const char *a, const char *b);
uint64_t name_hash(const char *s);
uint64_t hash_mix(uint64_t h);
void mountinfo_unescape(char *s);
bool subtype_taken(const char *val);
#define SUBTYPE_WHY "layerfs finds its mounts by their type, fuse.layerfs: only subtype=layerfs is taken"

/* ---- where a directory lies (dirloc.c) ---- */
struct dirloc {
	char *real;	/* its real path */
	char *fs;	/* its path in its file system; NULL: not known */
	dev_t dev;
	uint64_t mnt;	/* its mount's id; 0: not known */
};
/* ---- the mount table (mounts.c) ---- */
struct mnt {
	uint64_t id, parent;
	char *root;	/* the directory of its file system it shows */
	char *point;	/* where it is mounted */
	char *type;
};
struct mnt_table {
	size_t n;
	struct mnt *m;
};
struct mnt_table *mnt_table_read(void);
void mnt_table_free(struct mnt_table *t);
const struct mnt *mnt_find(const struct mnt_table *t, uint64_t id);
int dirloc_get(const struct mnt_table *t, const char *path, struct dirloc *d);
void dirloc_free(struct dirloc *d);
bool dirloc_within(const struct dirloc *a, const struct dirloc *b);
bool dirloc_same(const struct dirloc *a, const struct dirloc *b);
bool dirloc_other_mount(const struct dirloc *a, const struct dirloc *b);
int dir_names_sorted(int fd, char ***names, size_t *count);
void names_free(char **names, size_t n);
int set_creds_owner(int dirfd, const char *name, const struct fuse_ctx *ctx,
		    const struct stat *parent_st, bool isdir);
bool has_default_acl(int parent_upper_fd);
mode_t apply_umask(bool default_acl, mode_t mode, const struct fuse_ctx *ctx);
double attr_timeout(const struct node *n);
void fill_entry(struct fuse_entry_param *e, struct node *n,
		const struct stat *st);
bool spawn_detached(void *(*fn)(void *), void *arg);
bool spawn_joinable(pthread_t *t, void *(*fn)(void *), void *arg);
uint64_t mono_us(void);
void lfs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lfs_log_mounted(const char *mountpoint);
void lfs_log_serving(bool background);
bool test_pause_wanted(const char *point);
void test_pause(const char *point, const char *name);

extern struct fuse_lowlevel_ops lfs_ops;
bool noopen_default(void);

/* passthrough.c */
bool passthrough_possible(int upper_fd);
bool initial_userns(void);
int pt_register(int fd);
void pt_unregister(int id);
bool pt_mapped(struct node *n, int backing, int flags);

/* opens.c: per node, its open handles (passthrough mode, writers) */
int opens_opened(struct node *n, int fd, bool upper, int flags, bool append,
		 bool *keep_cache);
void opens_closed(struct node *n, int backing, int flags, bool append);
bool writers_any(const struct node *n);
void opens_forget(struct node *n);

/* reader.c: the threads' turns to read requests (spin=1) */
ssize_t reader_read(int fd, void *buf, size_t len);
bool request_unawaited(uint32_t opcode);

/* idlepoll.c: idle CPUs poll while requests come close together */
void idlepoll_start(void);
void idlepoll_note(void);

/* attrfresh.c: the kernel's copy of a changed directory's attributes */
void attrfresh_request(uint32_t opcode, uint32_t tid);
void attrfresh_replied(void);
void attrfresh_dir_changed(struct node *dir);

/* session_io.c: FUSE_HANDLE_KILLPRIV_V2 and passthrough behind libfuse's back */
int session_io_attach(struct fuse_session *se);
void session_want_killpriv_v2(void);
void session_want_parallel_dirops(void);
bool session_kernel_passthrough(void);
void session_want_passthrough(void);
void session_reply_backing(int backing);
unsigned session_serving(void);
void session_read_begin(void);
bool req_acl_kill_sgid(void);
bool req_kill_suidgid(void);
bool req_tmpfile(void);
bool req_statx(void);
void session_reply_btime(int64_t sec, uint32_t nsec);

#endif
