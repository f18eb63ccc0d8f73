/* renamerace DIR ROUNDS: reads of an open file while renames move names
 * around it must keep answering for that file.
 *
 * DIR/s is a file of 'a's (size ASIZE) with the xattr user.t=a and, where
 * the file system takes it, the noatime flag. A child moves it away and
 * back ROUNDS times: rename s -> t, a new file of 'b's (another size,
 * user.t=b, no flags) renamed over s, then t renamed back over s. So s
 * names another file half of the time, and the file is renamed twice and
 * replaces another once per round. Meanwhile the parent, holding one
 * descriptor on the file, asks through it for its attributes (a statx the
 * kernel may not answer from its cache), its data (its cached pages
 * dropped first), its xattr and its flags. Every answer must be the
 * file's own: nothing else is open, and only the renames change names.
 *
 * Prints how many answers were checked and how many were wrong, with the
 * first few; exits 1 if any was. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define ASIZE 4000

static char dir[4096];
static long wrong;

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* A file named NAME of SIZE bytes of C, with user.t=C; -1 on failure. */
static int make_file(const char *name, char c, size_t size)
{
	char path[4200], buf[ASIZE];
	int fd;

	path_of(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	memset(buf, c, size);
	if (write(fd, buf, size) != (ssize_t)size ||
	    fsetxattr(fd, "user.t", &c, 1, 0) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int move(const char *from, const char *to)
{
	char a[4200], b[4200];

	path_of(a, sizeof(a), from);
	path_of(b, sizeof(b), to);
	if (rename(a, b) < 0) {
		fprintf(stderr, "renamerace: rename %s %s: %s\n", a, b, strerror(errno));
		return -1;
	}
	return 0;
}

static void mover(long rounds)
{
	for (long i = 0; i < rounds; i++) {
		int fd;

		if (move("s", "t") < 0)
			_exit(2);
		fd = make_file("n", 'b', 1 + (size_t)i % 300);
		if (fd < 0) {
			perror("renamerace: new file");
			_exit(2);
		}
		close(fd);
		if (move("n", "s") < 0 || move("t", "s") < 0)
			_exit(2);
	}
	_exit(0);
}

static void bad(const char *what, long got)
{
	if (++wrong <= 5)
		fprintf(stderr, "renamerace: %s: got %ld\n", what, got);
}

/* Ask through FD once for each thing; INO is the file's inode number. */
static long check(int fd, unsigned long long ino, int with_flags)
{
	char buf[ASIZE + 1], val[8];
	struct statx sx;
	long flags = 0;
	ssize_t r;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx) < 0)
		bad("statx failed, errno", errno);
	else if (sx.stx_size != ASIZE || sx.stx_ino != ino)
		bad("statx size", (long)sx.stx_size);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	r = pread(fd, buf, sizeof(buf), 0);
	if (r != ASIZE || buf[0] != 'a' || buf[r - 1] != 'a')
		bad("read bytes", (long)r);
	r = fgetxattr(fd, "user.t", val, sizeof(val));
	if (r != 1 || val[0] != 'a')
		bad("fgetxattr length", r < 0 ? -errno : (long)r);
	if (!with_flags)
		return 3;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
		bad("FS_IOC_GETFLAGS failed, errno", errno);
	else if (!(flags & FS_NOATIME_FL))
		bad("FS_IOC_GETFLAGS flags", flags);
	return 4;
}

int main(int argc, char **argv)
{
	long rounds, checked = 0, noatime = FS_NOATIME_FL;
	char path[4200];
	int fd, status, with_flags;
	struct stat st;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: renamerace DIR ROUNDS\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	rounds = atol(argv[2]);
	fd = make_file("s", 'a', ASIZE);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror("renamerace: DIR/s");
		return 2;
	}
	close(fd);
	path_of(path, sizeof(path), "s");
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror("renamerace: open DIR/s");
		return 2;
	}
	with_flags = ioctl(fd, FS_IOC_SETFLAGS, &noatime) == 0;
	pid = fork();
	if (pid < 0) {
		perror("renamerace: fork");
		return 2;
	}
	if (pid == 0)
		mover(rounds);
	while (waitpid(pid, &status, WNOHANG) == 0)
		checked += check(fd, st.st_ino, with_flags);
	checked += check(fd, st.st_ino, with_flags);
	close(fd);
	printf("%ld answers checked, %ld wrong%s\n", checked, wrong,
	       with_flags ? "" : " (no inode flags here)");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "renamerace: the renaming child failed\n");
		return 2;
	}
	return wrong ? 1 : 0;
}
