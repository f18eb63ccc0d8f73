/* layerfs: stack files (a JSON description of one layer stack), the
 * work directory lock, and the snapshot subcommands built on them:
 * mount, umount, check, diff, commit, reset, export, import.
 *
 * Errors are values: a function that fails adds a message to a struct
 * lerr and returns -1; the subcommand prints the messages and exits. */
#ifndef LAYERFS_STACK_H
#define LAYERFS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "layerfs.h"

#define STACK_VERSION	1
#define WORK_LOCK_NAME	"layerfs.lock"	/* in the workdir, never in the upper */
#define LAYERS_SUBDIR	"layers"	/* where commit puts new layers */

/* ---- error values (stack.c) ---- */

struct lerr {
	char *msg;		/* messages, one per line, or NULL */
	int count;
};

int lerr_add(struct lerr *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void lerr_print(struct lerr *e);	/* prints "layerfs: " lines, frees */
void lerr_free(struct lerr *e);

/* ---- stack files (stack.c, stack_options.c) ---- */

struct stack_layer {
	char *path;		/* absolute: resolved against the stack's dir */
	char *name;		/* NULL when the file gives none */
};

struct stack {
	char *arg;		/* the stack file as named on the command line */
	char *file;		/* its canonical path */
	char *dir;		/* the directory holding it */
	json_t *root;		/* the document as read, kept for rewriting */
	struct stack_layer *layers;	/* base first, as written in the file */
	int nlayers;
	char *upper, *work;	/* absolute, or NULL for a read-only stack */
	char *mountpoint;	/* absolute, or NULL */
	struct config cfg;	/* options and idmap, in daemon_run's terms */
};

/* stack_open flags */
#define STACK_NEED_MOUNTPOINT	0x1	/* the mount point must exist */
#define STACK_NEED_UPPER	0x2	/* refuse a read-only stack */
#define STACK_NO_RECOVER	0x4	/* do not finish an interrupted commit */
#define STACK_LOCKED		0x8	/* the caller holds the work dir lock */

int stack_open(const char *file, unsigned flags, struct stack *st,
	       struct lerr *err);
void stack_free(struct stack *st);
int stack_fill_config(const struct stack *st, const char *mountpoint,
		      struct config *cfg, struct lerr *err);
int stack_write_atomic(const char *file, json_t *root, struct lerr *err);
char *path_resolve(const char *dir, const char *path);
char *stack_redirect_target(const struct stack *st, int fd, const char *parent,
			    const char *name);
int fsync_dir(const char *path);
char *path_dirname(const char *path);
char *path_sibling(const char *path, const char *prefix, const char *suffix);
char *path_temp(const char *path, const char *tag);

int options_from_json(json_t *obj, struct config *cfg, const char *file,
		      struct lerr *err);
int idmap_from_json(json_t *obj, struct config *cfg, const char *file,
		    struct lerr *err);
const char *json_type_name(const json_t *v);

/* ---- the work directory lock and mount state (lock.c) ---- */

int work_lock_acquire(const char *workdir, char *errbuf, size_t len);
int upper_lock_attach(const char *upperdir, const char *workdir, int work_fd,
		      char *errbuf, size_t len);
bool upper_lock_busy(const char *upperdir);
int upper_lock_wait_free(const char *upperdir, const char *workdir,
			 char *errbuf, size_t len);
int work_lock_private(int lockfd, const char *workdir, int workfd,
		      int upperfd, char *errbuf, size_t len);
void work_lock_set_pid(int fd);
int work_lock_take(const char *workdir, const char *role, struct lerr *err);
void work_lock_release(int fd);
void work_lock_abandon(int fd);
void work_lock_end(int fd, bool refused);
void work_lock_drop_held(void);
int work_lock_holder(const char *workdir);	/* pid, 0 if free, -1 unknown */
void work_lock_hand_over(int stagingfd);
void work_lock_leaving(void);
void work_lock_mark_drop(void);
bool staging_is_mark(const char *name);
bool staging_entry_held(int dirfd, const char *name, int *pid);
int work_detached_holder(const char *workdir);	/* pid, 0 if none */
char *mountpoint_canonical(const char *mp);
bool mount_is_live(const char *mountpoint);
bool mount_lookup(const char *mountpoint, char **top);
int stack_refuse_if_mounted(const struct stack *st, struct lerr *err);
int stack_open_locked(const char *file, unsigned flags, const char *role,
		      struct stack *st, int *lock, struct lerr *err);

/* ---- snapshots: commit journal, fresh uppers (snapshot.c) ---- */

int commit_recover(const char *stackfile, bool locked, struct lerr *err);
int commit_run(struct stack *st, const char *name, struct lerr *err);
int upper_reset(struct stack *st, struct lerr *err);
int work_clean(const char *work, struct lerr *err);

/* ---- subcommands ---- */

int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);

int umount_path(const char *mountpoint, struct lerr *err);
int mount_stack_daemon(struct stack *st, const char *mountpoint,
		       bool foreground, bool debug, const char *argv0);

#endif
