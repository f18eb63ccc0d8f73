/* sizelie MOUNTPOINT SIZE DATA: a FUSE file system holding one file, "f",
 * whose stat(2) size is SIZE and whose content is DATA, as a file that
 * shrank (or grew) between the stat and the read shows itself to a
 * reader, without the race of changing a real file. direct_io has the
 * kernel ask for every read, past SIZE too, as it does for the files of
 * lxcfs. Goes to the background once mounted; unmounting ends it. */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static off_t size;
static const char *data;

static int lie_getattr(const char *path, struct stat *sb, struct fuse_file_info *fi)
{
	(void)fi;
	memset(sb, 0, sizeof(*sb));
	if (!strcmp(path, "/")) {
		sb->st_mode = S_IFDIR | 0755;
		sb->st_nlink = 2;
	} else if (!strcmp(path, "/f")) {
		sb->st_mode = S_IFREG | 0644;
		sb->st_nlink = 1;
		sb->st_size = size;
	} else {
		return -ENOENT;
	}
	return 0;
}

static int lie_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	if (strcmp(path, "/"))
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "f", NULL, 0, 0);
	return 0;
}

static int lie_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/f"))
		return -ENOENT;
	fi->direct_io = 1;
	return 0;
}

static int lie_read(const char *path, char *buf, size_t n, off_t off,
		    struct fuse_file_info *fi)
{
	size_t len = strlen(data);

	(void)path, (void)fi;
	if ((size_t)off >= len)
		return 0;
	if (n > len - (size_t)off)
		n = len - (size_t)off;
	memcpy(buf, data + off, n);
	return (int)n;
}

static const struct fuse_operations ops = {
	.getattr = lie_getattr,
	.readdir = lie_readdir,
	.open = lie_open,
	.read = lie_read,
};

int main(int argc, char **argv)
{
	char *args[] = { argv[0], "-s", argc == 4 ? argv[1] : NULL, NULL };

	if (argc != 4) {
		fprintf(stderr, "usage: sizelie MOUNTPOINT SIZE DATA\n");
		return 2;
	}
	size = (off_t)strtoll(argv[2], NULL, 10);
	data = argv[3];
	return fuse_main(3, args, &ops, NULL);
}
