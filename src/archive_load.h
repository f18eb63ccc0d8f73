/* libarchive, loaded when a subcommand needs it. Linking it would load
 * it, libxml2 and ICU into every daemon start (a few milliseconds on each
 * mount podman makes) for the two subcommands that read or write tar.
 * zlib comes with it, for the gzip layers import decompresses itself
 * (gunzip.c): libarchive links it anyway, so it costs nothing more. */
#ifndef LAYERFS_ARCHIVE_LOAD_H
#define LAYERFS_ARCHIVE_LOAD_H

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#define LFS_ARCHIVE_FUNCS(X) \
	X(archive_entry_acl_reset) \
	X(archive_entry_atime) \
	X(archive_entry_atime_is_set) \
	X(archive_entry_atime_nsec) \
	X(archive_entry_copy_stat) \
	X(archive_entry_filetype) \
	X(archive_entry_free) \
	X(archive_entry_gid) \
	X(archive_entry_hardlink) \
	X(archive_entry_linkify) \
	X(archive_entry_linkresolver_free) \
	X(archive_entry_linkresolver_new) \
	X(archive_entry_linkresolver_set_strategy) \
	X(archive_entry_mtime) \
	X(archive_entry_mtime_nsec) \
	X(archive_entry_new) \
	X(archive_entry_pathname) \
	X(archive_entry_perm) \
	X(archive_entry_rdevmajor) \
	X(archive_entry_rdevminor) \
	X(archive_entry_set_filetype) \
	X(archive_entry_set_gid) \
	X(archive_entry_set_hardlink) \
	X(archive_entry_set_mtime) \
	X(archive_entry_set_nlink) \
	X(archive_entry_set_pathname) \
	X(archive_entry_set_perm) \
	X(archive_entry_set_size) \
	X(archive_entry_set_symlink) \
	X(archive_entry_set_uid) \
	X(archive_entry_size) \
	X(archive_entry_symlink) \
	X(archive_entry_uid) \
	X(archive_entry_unset_atime) \
	X(archive_entry_unset_birthtime) \
	X(archive_entry_unset_ctime) \
	X(archive_entry_xattr_add_entry) \
	X(archive_entry_xattr_next) \
	X(archive_entry_xattr_reset) \
	X(archive_errno) \
	X(archive_error_string) \
	X(archive_format) \
	X(archive_read_data_block) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header2) \
	X(archive_read_open) \
	X(archive_read_support_filter_all) \
	X(archive_read_support_format_tar) \
	X(archive_write_close) \
	X(archive_write_data) \
	X(archive_write_finish_entry) \
	X(archive_write_free) \
	X(archive_write_header) \
	X(archive_write_new) \
	X(archive_write_open) \
	X(archive_write_set_bytes_in_last_block) \
	X(archive_write_set_format_option) \
	X(archive_write_set_format_pax_restricted)

/* (inflateInit2() is a macro calling inflateInit2_) */
#define LFS_ZLIB_FUNCS(X) \
	X(inflate) \
	X(inflateEnd) \
	X(inflateInit2_) \
	X(inflateReset)

#define LFS_ARCHIVE_DECLARE(f) extern __typeof__(f) *lfs_##f;
LFS_ARCHIVE_FUNCS(LFS_ARCHIVE_DECLARE)
LFS_ZLIB_FUNCS(LFS_ARCHIVE_DECLARE)
#undef LFS_ARCHIVE_DECLARE

/* Load both libraries; 0, or -1 after printing why to stderr. */
int archive_load(void);

/* Why the last call on A failed, for a message (valid until the next
 * call). */
const char *archive_why(struct archive *a);

#ifndef LFS_ARCHIVE_LOADER
#define archive_entry_acl_reset (*lfs_archive_entry_acl_reset)
#define archive_entry_atime (*lfs_archive_entry_atime)
#define archive_entry_atime_is_set (*lfs_archive_entry_atime_is_set)
#define archive_entry_atime_nsec (*lfs_archive_entry_atime_nsec)
#define archive_entry_copy_stat (*lfs_archive_entry_copy_stat)
#define archive_entry_filetype (*lfs_archive_entry_filetype)
#define archive_entry_free (*lfs_archive_entry_free)
#define archive_entry_gid (*lfs_archive_entry_gid)
#define archive_entry_hardlink (*lfs_archive_entry_hardlink)
#define archive_entry_linkify (*lfs_archive_entry_linkify)
#define archive_entry_linkresolver_free (*lfs_archive_entry_linkresolver_free)
#define archive_entry_linkresolver_new (*lfs_archive_entry_linkresolver_new)
#define archive_entry_linkresolver_set_strategy (*lfs_archive_entry_linkresolver_set_strategy)
#define archive_entry_mtime (*lfs_archive_entry_mtime)
#define archive_entry_mtime_nsec (*lfs_archive_entry_mtime_nsec)
#define archive_entry_new (*lfs_archive_entry_new)
#define archive_entry_pathname (*lfs_archive_entry_pathname)
#define archive_entry_perm (*lfs_archive_entry_perm)
#define archive_entry_rdevmajor (*lfs_archive_entry_rdevmajor)
#define archive_entry_rdevminor (*lfs_archive_entry_rdevminor)
#define archive_entry_set_filetype (*lfs_archive_entry_set_filetype)
#define archive_entry_set_gid (*lfs_archive_entry_set_gid)
#define archive_entry_set_hardlink (*lfs_archive_entry_set_hardlink)
#define archive_entry_set_mtime (*lfs_archive_entry_set_mtime)
#define archive_entry_set_nlink (*lfs_archive_entry_set_nlink)
#define archive_entry_set_pathname (*lfs_archive_entry_set_pathname)
#define archive_entry_set_perm (*lfs_archive_entry_set_perm)
#define archive_entry_set_size (*lfs_archive_entry_set_size)
#define archive_entry_set_symlink (*lfs_archive_entry_set_symlink)
#define archive_entry_set_uid (*lfs_archive_entry_set_uid)
#define archive_entry_size (*lfs_archive_entry_size)
#define archive_entry_symlink (*lfs_archive_entry_symlink)
#define archive_entry_uid (*lfs_archive_entry_uid)
#define archive_entry_unset_atime (*lfs_archive_entry_unset_atime)
#define archive_entry_unset_birthtime (*lfs_archive_entry_unset_birthtime)
#define archive_entry_unset_ctime (*lfs_archive_entry_unset_ctime)
#define archive_entry_xattr_add_entry (*lfs_archive_entry_xattr_add_entry)
#define archive_entry_xattr_next (*lfs_archive_entry_xattr_next)
#define archive_entry_xattr_reset (*lfs_archive_entry_xattr_reset)
#define archive_errno (*lfs_archive_errno)
#define archive_error_string (*lfs_archive_error_string)
#define archive_format (*lfs_archive_format)
#define archive_read_data_block (*lfs_archive_read_data_block)
#define archive_read_free (*lfs_archive_read_free)
#define archive_read_new (*lfs_archive_read_new)
#define archive_read_next_header2 (*lfs_archive_read_next_header2)
#define archive_read_open (*lfs_archive_read_open)
#define archive_read_support_filter_all (*lfs_archive_read_support_filter_all)
#define archive_read_support_format_tar (*lfs_archive_read_support_format_tar)
#define archive_write_close (*lfs_archive_write_close)
#define archive_write_data (*lfs_archive_write_data)
#define archive_write_finish_entry (*lfs_archive_write_finish_entry)
#define archive_write_free (*lfs_archive_write_free)
#define archive_write_header (*lfs_archive_write_header)
#define archive_write_new (*lfs_archive_write_new)
#define archive_write_open (*lfs_archive_write_open)
#define archive_write_set_bytes_in_last_block (*lfs_archive_write_set_bytes_in_last_block)
#define archive_write_set_format_option (*lfs_archive_write_set_format_option)
#define archive_write_set_format_pax_restricted (*lfs_archive_write_set_format_pax_restricted)
#define inflate (*lfs_inflate)
#define inflateEnd (*lfs_inflateEnd)
#define inflateInit2_ (*lfs_inflateInit2_)
#define inflateReset (*lfs_inflateReset)
#endif

#endif
