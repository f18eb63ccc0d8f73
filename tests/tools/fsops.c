/*
 * fsops: a multi-call helper for the layerfs test suite.  It does the
 * file-system calls the shell cannot make directly.
 *
 *   fsops SUBCOMMAND ARGS...
 *
 * Every PATH may be longer than PATH_MAX: it is resolved one component at a
 * time with openat(), so deep trees can be reached.  On failure the
 * symbolic errno name (e.g. "EEXIST") is printed on stdout and the exit
 * status is 1; a usage error exits 2.  If the environment variable
 * FSOPS_BARRIER names a file, the command waits (at most 60 s) until that
 * file exists before doing its work, so that several processes can be
 * started together.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/fanotify.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <signal.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/falloc.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

static const char *prog_cmd = "fsops";

static void fail_errno(int err)
{
	const char *name = strerrorname_np(err);
	printf("%s\n", name ? name : "EUNKNOWN");
	fflush(stdout);
	exit(1);
}

static void die(void)
{
	fail_errno(errno);
}

static void usage(void)
{
	fprintf(stderr, "%s: bad arguments (see tests/tools/fsops.c)\n", prog_cmd);
	exit(2);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int wait_for_file(const char *path, int seconds)
{
	long i;
	for (i = 0; i < (long)seconds * 1000; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		sleep_ms(1);
	}
	return -1;
}

/*
 * Resolve PATH to (directory fd, last component).  The directory
 * components are opened one at a time; symlinks in them are followed by
 * openat itself, like a path walk would.  The returned name points into a
 * static copy.
 */
static int resolve(const char *path, const char **last)
{
	static char *copy;
	char *p, *slash, *comp;
	int dfd, nfd;

	free(copy);
	copy = strdup(path);
	if (!copy)
		die();
	p = copy;
	if (*p == '/') {
		dfd = open("/", O_PATH | O_DIRECTORY);
		while (*p == '/')
			p++;
	} else {
		dfd = open(".", O_PATH | O_DIRECTORY);
	}
	if (dfd < 0)
		die();
	/* strip trailing slashes */
	size_t len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	if (*p == '\0') {
		*last = ".";
		return dfd;
	}
	for (;;) {
		slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = '\0';
		comp = p;
		p = slash + 1;
		while (*p == '/')
			p++;
		if (*comp == '\0')
			continue;
		nfd = openat(dfd, comp, O_PATH | O_DIRECTORY);
		if (nfd < 0)
			die();
		close(dfd);
		dfd = nfd;
	}
	*last = p;
	return dfd;
}

static int open_path(const char *path, int flags, mode_t mode)
{
	const char *name;
	int dfd = resolve(path, &name);
	int fd = openat(dfd, name, flags, mode);
	if (fd < 0)
		die();
	close(dfd);
	return fd;
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "unknown";
}

static void print_stat(const struct stat *st)
{
	printf("type=%s mode=%04o nlink=%lu size=%lld ino=%llu uid=%u gid=%u\n",
	       type_name(st->st_mode), (unsigned)(st->st_mode & 07777),
	       (unsigned long)st->st_nlink, (long long)st->st_size,
	       (unsigned long long)st->st_ino, st->st_uid, st->st_gid);
}

/* mkdirs PATH: mkdir -p with *at calls */
static int cmd_mkdirs(char **argv)
{
	char *copy = strdup(argv[0]), *p = copy, *slash;
	int dfd, nfd;
	if (*p == '/') {
		dfd = open("/", O_PATH | O_DIRECTORY);
		while (*p == '/')
			p++;
	} else {
		dfd = open(".", O_PATH | O_DIRECTORY);
	}
	if (dfd < 0)
		die();
	while (*p) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (*p) {
			if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST)
				die();
			nfd = openat(dfd, p, O_PATH | O_DIRECTORY);
			if (nfd < 0)
				die();
			close(dfd);
			dfd = nfd;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	close(dfd);
	free(copy);
	return 0;
}

static int cmd_write(char **argv, int extra_flags)
{
	int fd = open_path(argv[0], O_WRONLY | O_CREAT | extra_flags, 0644);
	size_t len = strlen(argv[1]);
	if (write(fd, argv[1], len) != (ssize_t)len)
		die();
	if (close(fd) < 0)
		die();
	return 0;
}

static int cmd_cat(char **argv)
{
	char buf[65536];
	ssize_t n;
	int fd = open_path(argv[0], O_RDONLY, 0);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, n, stdout);
	if (n < 0)
		die();
	close(fd);
	return 0;
}

static int cmd_stat(char **argv, int follow)
{
	const char *name;
	struct stat st;
	int dfd = resolve(argv[0], &name);
	if (fstatat(dfd, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0)
		die();
	print_stat(&st);
	return 0;
}

static int cmd_rename(int argc, char **argv)
{
	const char *n1, *n2;
	unsigned flags = 0;
	int d1, d2, i;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "noreplace"))
			flags |= RENAME_NOREPLACE;
		else if (!strcmp(argv[i], "exchange"))
			flags |= RENAME_EXCHANGE;
		else if (!strcmp(argv[i], "whiteout"))
			flags |= RENAME_WHITEOUT;
		else
			usage();
	}
	d1 = resolve(argv[0], &n1);
	n1 = strdup(n1);
	d2 = resolve(argv[1], &n2);
	if (renameat2(d1, n1, d2, n2, flags) < 0)
		die();
	return 0;
}

static int cmd_simple(const char *op, char **argv)
{
	const char *name;
	int dfd = resolve(argv[0], &name);
	int r;
	if (!strcmp(op, "unlink"))
		r = unlinkat(dfd, name, 0);
	else if (!strcmp(op, "rmdir"))
		r = unlinkat(dfd, name, AT_REMOVEDIR);
	else if (!strcmp(op, "mkdir"))
		r = mkdirat(dfd, name, 0755);
	else if (!strcmp(op, "mkfifo"))
		r = mkfifoat(dfd, name, 0644);
	else
		usage();
	if (r < 0)
		die();
	return 0;
}

static void rmtree_at(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		die();
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		DIR *d;
		struct dirent *de;
		if (fd < 0)
			die();
		d = fdopendir(fd);
		if (!d)
			die();
		/* collect names first: removing while reading is allowed but
		 * keep it simple and deterministic */
		char **names = NULL;
		size_t n = 0, i;
		while ((errno = 0, de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			names = realloc(names, (n + 1) * sizeof *names);
			names[n++] = strdup(de->d_name);
		}
		if (errno)
			die();
		for (i = 0; i < n; i++) {
			rmtree_at(dirfd(d), names[i]);
			free(names[i]);
		}
		free(names);
		closedir(d);
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
			die();
	} else if (unlinkat(dfd, name, 0) < 0) {
		die();
	}
}

static int cmd_rmtree(char **argv)
{
	const char *name;
	int dfd = resolve(argv[0], &name);
	rmtree_at(dfd, name);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_ls(char **argv)
{
	int fd = open_path(argv[0], O_RDONLY | O_DIRECTORY, 0);
	DIR *d = fdopendir(fd);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	if (!d)
		die();
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = realloc(names, (n + 1) * sizeof *names);
		names[n++] = strdup(de->d_name);
	}
	if (errno)
		die();
	qsort(names, n, sizeof *names, cmp_str);
	for (i = 0; i < n; i++)
		printf("%s\n", names[i]);
	return 0;
}

static int cmd_link(char **argv)
{
	const char *n1, *n2;
	int d1 = resolve(argv[0], &n1), d2;
	n1 = strdup(n1);
	d2 = resolve(argv[1], &n2);
	if (linkat(d1, n1, d2, n2, 0) < 0)
		die();
	return 0;
}

static int cmd_symlink(char **argv)
{
	const char *name;
	int dfd = resolve(argv[1], &name);
	if (symlinkat(argv[0], dfd, name) < 0)
		die();
	return 0;
}

static int cmd_readlink(char **argv)
{
	const char *name;
	char buf[PATH_MAX + 1];
	int dfd = resolve(argv[0], &name);
	ssize_t n = readlinkat(dfd, name, buf, PATH_MAX);
	if (n < 0)
		die();
	buf[n] = '\0';
	printf("%s\n", buf);
	return 0;
}

/* socket PATH: bind an AF_UNIX socket at PATH (leaves it there) */
static int cmd_socket(char **argv)
{
	const char *name;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd = resolve(argv[0], &name);
	int s;
	if (strlen(name) >= sizeof sa.sun_path)
		usage();
	if (fchdir(dfd) < 0)
		die();
	strcpy(sa.sun_path, name);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		die();
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0)
		die();
	close(s);
	return 0;
}

/* unlinkstat PATH: open PATH, unlink it, fstat the descriptor */
static int cmd_unlinkstat(char **argv)
{
	const char *name;
	struct stat st;
	int dfd = resolve(argv[0], &name);
	int fd = openat(dfd, name, O_RDONLY);
	char c;
	if (fd < 0)
		die();
	if (unlinkat(dfd, name, 0) < 0)
		die();
	if (fstat(fd, &st) < 0)
		die();
	print_stat(&st);
	/* the descriptor must still read the data */
	if (st.st_size > 0 && pread(fd, &c, 1, 0) != 1)
		die();
	close(fd);
	return 0;
}

static int cmd_seek(char **argv)
{
	int fd = open_path(argv[0], O_RDONLY, 0);
	int whence;
	off_t r;
	if (!strcmp(argv[1], "data"))
		whence = SEEK_DATA;
	else if (!strcmp(argv[1], "hole"))
		whence = SEEK_HOLE;
	else
		usage();
	r = lseek(fd, strtoll(argv[2], NULL, 0), whence);
	if (r < 0)
		die();
	printf("%lld\n", (long long)r);
	return 0;
}

/* getxattrs PATH NAME N: N getxattr calls one after another (a request
 * each on a FUSE mount: the kernel keeps no user.* xattr); prints how many
 * answered what the first did, and that value. */
static int cmd_getxattrs(char **argv)
{
	long n = strtol(argv[2], NULL, 0), same = 0;
	char first[256], b[256];
	ssize_t len = 0, l;

	for (long i = 0; i < n; i++) {
		l = getxattr(argv[0], argv[1], i ? b : first, sizeof(b) - 1);
		if (l < 0)
			die();
		if (i == 0)
			len = l;
		if (l == len && (i == 0 || !memcmp(b, first, (size_t)l)))
			same++;
	}
	first[len] = '\0';
	printf("%ld %s\n", same, first);
	return 0;
}

/* statxstorm PATH N: N statx calls asking for the birth time, while a
 * second process stats PATH in a loop and a third interrupts it with
 * signals every 20 us (the kernel then sends INTERRUPTs, some for
 * requests already answered, which libfuse answers from whichever thread
 * reads next). Prints the failed calls and those without a birth time;
 * fails if any call failed. */
static void storm_handler(int sig)
{
	(void)sig;
}

static int cmd_statxstorm(char **argv)
{
	long n = strtol(argv[1], NULL, 0), errs = 0, nobtime = 0;
	struct sigaction sa = { 0 };
	pid_t looper, sender;
	struct statx sx;
	int status;

	looper = fork();
	if (looper < 0)
		die();
	if (looper == 0) {
		struct stat st;
		char b[64];

		sa.sa_handler = storm_handler;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGUSR1, &sa, NULL);
		for (;;) {
			stat(argv[0], &st);
			getxattr(argv[0], "user.storm", b, sizeof(b));
		}
	}
	sender = fork();
	if (sender < 0)
		die();
	if (sender == 0) {
		struct timespec ts = { 0, 20000 };

		while (kill(looper, SIGUSR1) == 0)
			nanosleep(&ts, NULL);
		_exit(0);
	}
	for (long i = 0; i < n; i++) {
		if (statx(AT_FDCWD, argv[0], AT_STATX_FORCE_SYNC,
			  STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
			errs++;
		else if (!(sx.stx_mask & STATX_BTIME))
			nobtime++;
	}
	kill(sender, SIGKILL);
	kill(looper, SIGKILL);
	waitpid(sender, &status, 0);
	waitpid(looper, &status, 0);
	printf("%ld failed, %ld without birth time, of %ld\n", errs, nobtime, n);
	return errs ? 1 : 0;
}

/* segments PATH: print "OFFSET LENGTH" for each data segment */
static int cmd_segments(char **argv)
{
	int fd = open_path(argv[0], O_RDONLY, 0);
	struct stat st;
	off_t pos = 0, data, hole;
	if (fstat(fd, &st) < 0)
		die();
	while (pos < st.st_size) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;
			die();
		}
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			die();
		printf("%lld %lld\n", (long long)data, (long long)(hole - data));
		pos = hole;
	}
	return 0;
}

static int cmd_fallocate(char **argv)
{
	int fd = open_path(argv[0], O_RDWR, 0);
	int mode = 0;
	if (!strcmp(argv[1], "keep"))
		mode = FALLOC_FL_KEEP_SIZE;
	else if (!strcmp(argv[1], "punch"))
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (strcmp(argv[1], "0"))
		usage();
	if (fallocate(fd, mode, strtoll(argv[2], NULL, 0), strtoll(argv[3], NULL, 0)) < 0)
		die();
	return 0;
}

/* cfr SRC DST: copy_file_range the whole of SRC into DST (created/truncated) */
static int cmd_cfr(char **argv)
{
	int in = open_path(argv[0], O_RDONLY, 0);
	int out = open_path(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct stat st;
	long long total = 0;
	ssize_t n;
	if (fstat(in, &st) < 0)
		die();
	while (total < st.st_size) {
		n = copy_file_range(in, NULL, out, NULL, st.st_size - total, 0);
		if (n < 0)
			die();
		if (n == 0)
			break;
		total += n;
	}
	printf("%lld\n", total);
	if (close(out) < 0)
		die();
	return 0;
}

static int take_lock(int fd, const char *kind, int wait)
{
	if (!strcmp(kind, "flock"))
		return flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
	if (!strcmp(kind, "posix") || !strcmp(kind, "ofd")) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int cmd = !strcmp(kind, "ofd") ? (wait ? F_OFD_SETLKW : F_OFD_SETLK)
		                               : (wait ? F_SETLKW : F_SETLK);
		return fcntl(fd, cmd, &fl);
	}
	usage();
	return -1;
}

/* Tell a test waiting for READYFILE that this command is set up. */
static void create_ready(const char *readyfile)
{
	int fd = open(readyfile, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

	if (fd < 0)
		die();
	close(fd);
}

/* lockhold KIND PATH READYFILE RELEASEFILE */
static int cmd_lockhold(char **argv)
{
	int fd = open_path(argv[1], O_RDWR, 0);
	if (take_lock(fd, argv[0], 1) < 0)
		die();
	create_ready(argv[2]);
	if (wait_for_file(argv[3], 60) < 0) {
		printf("timeout\n");
		return 1;
	}
	close(fd);
	return 0;
}

/* locktry KIND PATH: non-blocking attempt, prints "locked" */
static int cmd_locktry(char **argv)
{
	int fd = open_path(argv[1], O_RDWR, 0);
	if (take_lock(fd, argv[0], 0) < 0)
		die();
	printf("locked\n");
	return 0;
}

static int cmd_fsync(char **argv, int dir, int data)
{
	int fd = open_path(argv[0], dir ? O_RDONLY | O_DIRECTORY : O_RDWR, 0);
	if ((data ? fdatasync(fd) : fsync(fd)) < 0)
		die();
	printf("ok\n");
	return 0;
}

static int cmd_access(char **argv)
{
	const char *name;
	int mode = 0, dfd = resolve(argv[0], &name);
	const char *m;
	for (m = argv[1]; *m; m++) {
		switch (*m) {
		case 'r': mode |= R_OK; break;
		case 'w': mode |= W_OK; break;
		case 'x': mode |= X_OK; break;
		case 'f': mode |= F_OK; break;
		default: usage();
		}
	}
	if (faccessat(dfd, name, mode, 0) < 0)
		die();
	printf("ok\n");
	return 0;
}

static void parse_time(const char *s, struct timespec *ts)
{
	if (!strcmp(s, "now")) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else if (!strcmp(s, "omit")) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	} else {
		char *dot;
		ts->tv_sec = strtoll(s, &dot, 10);
		ts->tv_nsec = *dot == '.' ? strtol(dot + 1, NULL, 10) : 0;
	}
}

/* utimens PATH ATIME MTIME  (each "now", "omit" or SEC[.NSEC]); nofollow */
static int cmd_utimens(char **argv)
{
	const char *name;
	struct timespec ts[2];
	int dfd = resolve(argv[0], &name);
	parse_time(argv[1], &ts[0]);
	parse_time(argv[2], &ts[1]);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		die();
	return 0;
}

/* times PATH: print "atime mtime" as SEC.NSEC */
static int cmd_times(char **argv)
{
	const char *name;
	struct stat st;
	int dfd = resolve(argv[0], &name);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		die();
	printf("%lld.%09ld %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	return 0;
}

static int cmd_statfs(char **argv)
{
	struct statfs sf;
	int fd = open_path(argv[0], O_RDONLY, 0);
	if (fstatfs(fd, &sf) < 0)
		die();
	printf("namemax=%ld bsize=%ld blocks=%llu files=%llu\n", (long)sf.f_namelen,
	       (long)sf.f_bsize, (unsigned long long)sf.f_blocks,
	       (unsigned long long)sf.f_files);
	return 0;
}

static int cmd_truncate(char **argv)
{
	const char *name;
	int dfd = resolve(argv[0], &name);
	int fd = openat(dfd, name, O_WRONLY);
	if (fd < 0)
		die();
	if (ftruncate(fd, strtoll(argv[1], NULL, 0)) < 0)
		die();
	return 0;
}

/* open PATH FLAGS: open with r, w, rw, a (append) and optional t (trunc),
 * c (create), x (excl), then close */
static int cmd_open(char **argv)
{
	int flags = 0, rd = 0, wr = 0, fd;
	const char *f;
	for (f = argv[1]; *f; f++) {
		switch (*f) {
		case 'r': rd = 1; break;
		case 'w': wr = 1; break;
		case 'a': flags |= O_APPEND; wr = 1; break;
		case 't': flags |= O_TRUNC; break;
		case 'c': flags |= O_CREAT; break;
		case 'x': flags |= O_EXCL; break;
		default: usage();
		}
	}
	flags |= wr ? (rd ? O_RDWR : O_WRONLY) : O_RDONLY;
	fd = open_path(argv[0], flags, 0644);
	if (close(fd) < 0)
		die();
	printf("ok\n");
	return 0;
}

/* holdcached READYFILE PATH...: keep each PATH open and its pages in the
 * page cache (mapped and locked: no reclaim may drop them, DAMON's
 * proactive reclaim on this project's VM among them), create READYFILE,
 * and wait to be killed */
static int cmd_holdcached(int n, char **argv)
{
	for (int i = 1; i < n; i++) {
		int fd = open_path(argv[i], O_RDONLY, 0);
		struct stat st;
		void *m;

		if (fd < 0 || fstat(fd, &st) < 0)
			die();
		if (st.st_size == 0)
			continue;
		m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED || mlock(m, (size_t)st.st_size) < 0)
			die();
	}
	create_ready(argv[0]);
	for (;;)
		pause();
}

/* holdopen PATH FLAGS READYFILE RELEASEFILE CMD: keep PATH open (r or w);
 * after RELEASEFILE appears, do CMD on the descriptor: "read" prints the
 * content, "stat" the fstat result, "none" nothing */
static int cmd_holdopen(char **argv)
{
	int fd = open_path(argv[0], !strcmp(argv[1], "w") ? O_RDWR : O_RDONLY, 0);
	create_ready(argv[2]);
	if (wait_for_file(argv[3], 60) < 0) {
		printf("timeout\n");
		return 1;
	}
	if (!strcmp(argv[4], "read")) {
		char buf[65536];
		ssize_t n;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			fwrite(buf, 1, n, stdout);
		if (n < 0)
			die();
	} else if (!strcmp(argv[4], "stat")) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			die();
		print_stat(&st);
	}
	return 0;
}

/* fill PATH SIZE SEED: write SIZE bytes of a deterministic pattern */
static int cmd_fill(char **argv)
{
	int fd = open_path(argv[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long long size = strtoll(argv[1], NULL, 0), done = 0;
	uint64_t x = strtoull(argv[2], NULL, 0) * 2654435761u + 1;
	static uint64_t buf[8192];
	while (done < size) {
		size_t i, chunk = sizeof buf;
		for (i = 0; i < sizeof buf / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		if ((long long)chunk > size - done)
			chunk = size - done;
		if (write(fd, buf, chunk) != (ssize_t)chunk)
			die();
		done += chunk;
	}
	if (close(fd) < 0)
		die();
	return 0;
}

/* tmpfile DIR MODE TEXT [LINK [MORE]]: open(O_TMPFILE) in DIR, write
 * TEXT, print "nlink=N mode=0M uid=U gid=G"; with LINK, give the file
 * that name through /proc/self/fd, write MORE after it and print the
 * link count again ("linked nlink=N"); with LINK "excl", open with
 * O_EXCL and try to link it as MORE */
static int cmd_tmpfile(int n, char **argv)
{
	int excl = n >= 4 && !strcmp(argv[3], "excl");
	int fd = open_path(argv[0], O_TMPFILE | O_RDWR | (excl ? O_EXCL : 0),
			   (mode_t)strtoul(argv[1], NULL, 8));
	char proc[64];
	struct stat st;

	if (write(fd, argv[2], strlen(argv[2])) < 0 || fstat(fd, &st) < 0)
		die();
	printf("nlink=%lu mode=0%o uid=%u gid=%u\n", (unsigned long)st.st_nlink,
	       (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid);
	if (n < 4)
		return 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, excl ? argv[4] : argv[3],
		   AT_SYMLINK_FOLLOW) < 0)
		die();
	if (n >= 5 && !excl && write(fd, argv[4], strlen(argv[4])) < 0)
		die();
	if (fstat(fd, &st) < 0)
		die();
	printf("linked nlink=%lu\n", (unsigned long)st.st_nlink);
	return 0;
}

/* watchaccess READYFILE SECONDS PATH...: watch each PATH for reads of
 * itself (IN_ACCESS: read(2) of a file, getdents of a directory, by
 * anyone, with O_NOATIME too); create READYFILE once watching, then for
 * SECONDS print each PATH the first time it is read */
static int cmd_watchaccess(int n, char **argv)
{
	int fd = inotify_init1(IN_CLOEXEC), i, wds[64] = { 0 }, seen[64] = { 0 };
	int count = n - 2 < 64 ? n - 2 : 64;
	long deadline = (long)time(NULL) + strtol(argv[1], NULL, 0);
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	if (fd < 0)
		die();
	for (i = 0; i < count; i++) {
		wds[i] = inotify_add_watch(fd, argv[2 + i], IN_ACCESS);
		if (wds[i] < 0)
			die();
	}
	create_ready(argv[0]);
	while ((long)time(NULL) < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t len;
		char *at;

		if (poll(&p, 1, 200) <= 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			die();
		for (at = buf; at < buf + len; ) {
			const struct inotify_event *ev = (const void *)at;

			for (i = 0; i < count; i++)
				if (wds[i] == ev->wd && !ev->len && !seen[i]) {
					seen[i] = 1;
					printf("%s\n", argv[2 + i]);
				}
			at += sizeof(*ev) + ev->len;
		}
	}
	return 0;
}

/* holdopens READYFILE SECONDS DIR...: hold every open of each DIR
 * itself by a thread at SCHED_IDLE (the daemon's read-ahead threads),
 * with a fanotify permission event left unanswered; let every other
 * open through. Create READYFILE once watching, print each DIR the first
 * time an open of it is held, and after SECONDS (or at exit: the kernel
 * lets held opens through when the group goes) let them all go on.
 * Exits 77 where the kernel has no fanotify permission events. */
static int cmd_holdopens(int n, char **argv)
{
	int fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_REPORT_TID,
			       O_RDONLY | O_CLOEXEC);
	int count = n - 2 < 64 ? n - 2 : 64, held[1024], nheld = 0, i;
	long deadline = (long)time(NULL) + strtol(argv[1], NULL, 0);
	dev_t devs[64];
	ino_t inos[64];
	int seen[64] = { 0 };
	char buf[4096] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));

	if (fd < 0 && (errno == EINVAL || errno == EPERM || errno == ENOSYS))
		return 77;
	if (fd < 0)
		die();
	for (i = 0; i < count; i++) {
		struct stat st;

		if (stat(argv[2 + i], &st) < 0)
			die();
		if (fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN_PERM | FAN_ONDIR,
				  AT_FDCWD, argv[2 + i]) < 0)
			return errno == EINVAL ? 77 : (die(), 1);
		devs[i] = st.st_dev;
		inos[i] = st.st_ino;
	}
	create_ready(argv[0]);
	while ((long)time(NULL) < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		struct fanotify_event_metadata *m;
		ssize_t len;

		if (poll(&p, 1, 200) <= 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			die();
		for (m = (void *)buf; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
			struct fanotify_response r = { .fd = m->fd, .response = FAN_ALLOW };
			struct stat st;

			if (m->fd < 0)
				continue;
			if (sched_getscheduler(m->pid) == SCHED_IDLE &&
			    nheld < (int)(sizeof(held) / sizeof(held[0]))) {
				held[nheld++] = m->fd;
				if (fstat(m->fd, &st) < 0)
					die();
				for (i = 0; i < count; i++)
					if (devs[i] == st.st_dev && inos[i] == st.st_ino && !seen[i]) {
						seen[i] = 1;
						printf("%s\n", argv[2 + i]);
						fflush(stdout);
					}
				continue;
			}
			if (write(fd, &r, sizeof(r)) != sizeof(r))
				die();
			close(m->fd);
		}
	}
	for (i = 0; i < nheld; i++) {
		struct fanotify_response r = { .fd = held[i], .response = FAN_ALLOW };

		if (write(fd, &r, sizeof(r)) != sizeof(r))
			die();
		close(held[i]);
	}
	return 0;
}

/* writeat PATH OFFSET TEXT: pwrite without truncating */
static int cmd_writeat(char **argv)
{
	int fd = open_path(argv[0], O_WRONLY, 0);
	size_t len = strlen(argv[2]);
	if (pwrite(fd, argv[2], len, strtoll(argv[1], NULL, 0)) != (ssize_t)len)
		die();
	if (close(fd) < 0)
		die();
	return 0;
}

/* mknod PATH c|b MAJOR MINOR */
static int cmd_mknod(char **argv)
{
	const char *name;
	int dfd = resolve(argv[0], &name);
	mode_t type = !strcmp(argv[1], "b") ? S_IFBLK : S_IFCHR;
	if (mknodat(dfd, name, type | 0644, makedev(atoi(argv[2]), atoi(argv[3]))) < 0)
		die();
	return 0;
}

/* drain DIR...: read all the directories at once, a few entries at a
 * time and in turn, removing each entry read; print "DIR/NAME" for each.
 * Every directory is mid-stream while the others change. */
static int cmd_drain(int n, char **argv)
{
	int *fds = calloc((size_t)n, sizeof(int));
	int left = n;
	char buf[256];

	for (int i = 0; i < n; i++) {
		fds[i] = open_path(argv[i], O_RDONLY | O_DIRECTORY, 0);
		if (fds[i] < 0)
			die();
	}
	while (left) {
		for (int i = 0; i < n; i++) {
			long got;

			if (fds[i] < 0)
				continue;
			got = syscall(SYS_getdents64, fds[i], buf, sizeof(buf));
			if (got < 0)
				die();
			if (got == 0) {
				close(fds[i]);
				fds[i] = -1;
				left--;
				continue;
			}
			for (long off = 0; off < got;) {
				struct dirent64 *de = (struct dirent64 *)(buf + off);

				off += de->d_reclen;
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				printf("%s/%s\n", argv[i], de->d_name);
				if (unlinkat(fds[i], de->d_name, 0) < 0)
					die();
			}
		}
	}
	free(fds);
	return 0;
}

/* Install the seccomp filter F (K instructions) and exec ARGV. */
static int filter_exec(struct sock_filter *f, unsigned k, char **argv)
{
	struct sock_fprog prog;

	prog.len = k;
	prog.filter = f;
	/* root may filter without no_new_privs; anyone else needs it */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		if (errno != EACCES || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			die();
	}
	execvp(argv[0], argv);
	die();
	return 1;
}

/* The start of a filter: other architectures' calls pass, and the
 * system call number is loaded. Returns the instructions written. */
static unsigned filter_start(struct sock_filter *f)
{
	unsigned k = 0;

#if defined(__x86_64__)
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
					      AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
#endif
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	return k;
}

/* enosys NR[,NR...] CMD [ARGS...]: run CMD with those system calls
 * failing with ENOSYS, as on a kernel that lacks them (a seccomp filter,
 * which the daemon's threads and children inherit) */
static int cmd_enosys(char **argv)
{
	struct sock_filter f[64];
	unsigned k = filter_start(f);
	char *list = argv[0], *tok, *save;

	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (k + 3 > sizeof(f) / sizeof(f[0]))
			usage();
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned)atoi(tok), 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
						      SECCOMP_RET_ERRNO | ENOSYS);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return filter_exec(f, k, argv + 1);
}

/* nochrdev CMD [ARGS...]: run CMD with mknod and mknodat of character
 * devices failing with EPERM, as where whiteout devices may not be made
 * (before Linux 5.8, in a user namespace); fifos and the rest work */
static int cmd_nochrdev(char **argv)
{
	struct sock_filter f[16];
	unsigned k = filter_start(f);

#ifdef __NR_mknod
	/* mknod(path, mode, dev): the mode is argument 1 */
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mknod, 0, 2);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[1]));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 2, 0, 0);
#endif
	/* mknodat(dirfd, path, mode, dev): argument 2 */
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mknodat, 0, 4);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[2]));
	/* the mode, loaded above (low 32 bits, little-endian) */
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, S_IFMT);
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_IFCHR, 0, 1);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return filter_exec(f, k, argv);
}

/* norenamewhiteout CMD [ARGS...]: run CMD with renameat2(RENAME_WHITEOUT)
 * failing with EINVAL, as on a file system that cannot do it */
static int cmd_norenamewhiteout(char **argv)
{
	struct sock_filter f[16];
	unsigned k = filter_start(f);

	/* renameat2(olddirfd, oldpath, newdirfd, newpath, flags) */
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_renameat2, 0, 4);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[4]));
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, RENAME_WHITEOUT);
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RENAME_WHITEOUT, 0, 1);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return filter_exec(f, k, argv);
}

/* tell DIR N: read N entries of DIR, print telldir() after them.
 * seekread DIR POS: open DIR, seekdir() to POS, print the names from
 * there (a stream that starts where an older one left off). */
static int cmd_tell(char **argv)
{
	DIR *d = fdopendir(open_path(argv[0], O_RDONLY | O_DIRECTORY, 0));
	long n = atol(argv[1]);

	if (!d)
		die();
	for (long i = 0; i < n; i++) {
		errno = 0;
		if (!readdir(d)) {
			if (errno)
				die();
			break;
		}
	}
	printf("%ld\n", telldir(d));
	closedir(d);
	return 0;
}

static int cmd_seekread(char **argv)
{
	DIR *d = fdopendir(open_path(argv[0], O_RDONLY | O_DIRECTORY, 0));
	struct dirent *de;

	if (!d)
		die();
	seekdir(d, atol(argv[1]));
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		printf("%s\n", de->d_name);
	}
	if (errno)
		die();
	closedir(d);
	return 0;
}

/* seekdir DIR: note telldir() before every entry, then seekdir() back to
 * each position in reverse order; print "bad NAME" where readdir()
 * returns another entry, a line for a position a 32-bit program could not
 * hold, then "checked N". */
static int cmd_seekdir(char **argv)
{
	DIR *d = fdopendir(open_path(argv[0], O_RDONLY | O_DIRECTORY, 0));
	struct dirent *de;
	long *pos = NULL;
	char **names = NULL;
	size_t n = 0;

	if (!d)
		die();
	for (;;) {
		long p = telldir(d);

		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		pos = realloc(pos, (n + 1) * sizeof(*pos));
		names = realloc(names, (n + 1) * sizeof(*names));
		pos[n] = p;
		names[n++] = strdup(de->d_name);
	}
	if (errno)
		die();
	for (size_t i = n; i-- > 0;) {
		seekdir(d, pos[i]);
		errno = 0;
		de = readdir(d);
		if (!de || strcmp(de->d_name, names[i]))
			printf("bad %s\n", names[i]);
		if (pos[i] < 0 || pos[i] > INT32_MAX)
			printf("offset beyond 2^31 %s\n", names[i]);
	}
	printf("checked %zu\n", n);
	closedir(d);
	return 0;
}

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif

/* handle PATH [fid]: make a file handle of PATH (a fanotify file id with
 * "fid"); prints "ok" and the handle's type. */
static int cmd_handle(int argc, char **argv)
{
	union {
		struct file_handle h;
		char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} u;
	int mnt, flags = argc > 1 && !strcmp(argv[1], "fid") ? AT_HANDLE_FID : 0;

	u.h.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, argv[0], &u.h, &mnt, flags) < 0)
		die();
	printf("ok %d\n", u.h.handle_type);
	return 0;
}

struct cmd {
	const char *name;
	int nargs; /* minimum */
};

int main(int argc, char **argv)
{
	const char *b = getenv("FSOPS_BARRIER");
	const char *c;
	char **a;
	int n;

	if (argc < 2)
		usage();
	c = argv[1];
	prog_cmd = c;
	a = argv + 2;
	n = argc - 2;
	if (b && *b && wait_for_file(b, 60) < 0) {
		printf("barrier timeout\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

#define NEED(k) do { if (n < (k)) usage(); } while (0)
	if (!strcmp(c, "mkdirs")) { NEED(1); return cmd_mkdirs(a); }
	if (!strcmp(c, "write")) { NEED(2); return cmd_write(a, O_TRUNC); }
	if (!strcmp(c, "append")) { NEED(2); return cmd_write(a, O_APPEND); }
	if (!strcmp(c, "writeat")) { NEED(3); return cmd_writeat(a); }
	if (!strcmp(c, "cat")) { NEED(1); return cmd_cat(a); }
	if (!strcmp(c, "stat")) { NEED(1); return cmd_stat(a, 0); }
	if (!strcmp(c, "statl")) { NEED(1); return cmd_stat(a, 1); }
	if (!strcmp(c, "rename")) { NEED(2); return cmd_rename(n, a); }
	if (!strcmp(c, "unlink") || !strcmp(c, "rmdir") || !strcmp(c, "mkdir") ||
	    !strcmp(c, "mkfifo")) { NEED(1); return cmd_simple(c, a); }
	if (!strcmp(c, "rmtree")) { NEED(1); return cmd_rmtree(a); }
	if (!strcmp(c, "ls")) { NEED(1); return cmd_ls(a); }
	if (!strcmp(c, "drain")) { NEED(1); return cmd_drain(n, a); }
	if (!strcmp(c, "seekdir")) { NEED(1); return cmd_seekdir(a); }
	if (!strcmp(c, "tell")) { NEED(2); return cmd_tell(a); }
	if (!strcmp(c, "seekread")) { NEED(2); return cmd_seekread(a); }
	if (!strcmp(c, "link")) { NEED(2); return cmd_link(a); }
	if (!strcmp(c, "symlink")) { NEED(2); return cmd_symlink(a); }
	if (!strcmp(c, "readlink")) { NEED(1); return cmd_readlink(a); }
	if (!strcmp(c, "socket")) { NEED(1); return cmd_socket(a); }
	if (!strcmp(c, "mknod")) { NEED(4); return cmd_mknod(a); }
	if (!strcmp(c, "unlinkstat")) { NEED(1); return cmd_unlinkstat(a); }
	if (!strcmp(c, "seek")) { NEED(3); return cmd_seek(a); }
	if (!strcmp(c, "segments")) { NEED(1); return cmd_segments(a); }
	if (!strcmp(c, "getxattrs")) { NEED(3); return cmd_getxattrs(a); }
	if (!strcmp(c, "statxstorm")) { NEED(2); return cmd_statxstorm(a); }
	if (!strcmp(c, "fallocate")) { NEED(4); return cmd_fallocate(a); }
	if (!strcmp(c, "cfr")) { NEED(2); return cmd_cfr(a); }
	if (!strcmp(c, "lockhold")) { NEED(4); return cmd_lockhold(a); }
	if (!strcmp(c, "locktry")) { NEED(2); return cmd_locktry(a); }
	if (!strcmp(c, "fsync")) { NEED(1); return cmd_fsync(a, 0, 0); }
	if (!strcmp(c, "fdatasync")) { NEED(1); return cmd_fsync(a, 0, 1); }
	if (!strcmp(c, "fsyncdir")) { NEED(1); return cmd_fsync(a, 1, 0); }
	if (!strcmp(c, "access")) { NEED(2); return cmd_access(a); }
	if (!strcmp(c, "utimens")) { NEED(3); return cmd_utimens(a); }
	if (!strcmp(c, "times")) { NEED(1); return cmd_times(a); }
	if (!strcmp(c, "statfs")) { NEED(1); return cmd_statfs(a); }
	if (!strcmp(c, "truncate")) { NEED(2); return cmd_truncate(a); }
	if (!strcmp(c, "open")) { NEED(2); return cmd_open(a); }
	if (!strcmp(c, "holdcached")) { NEED(2); return cmd_holdcached(n, a); }
	if (!strcmp(c, "holdopen")) { NEED(5); return cmd_holdopen(a); }
	if (!strcmp(c, "fill")) { NEED(3); return cmd_fill(a); }
	if (!strcmp(c, "tmpfile")) { NEED(3); return cmd_tmpfile(n, a); }
	if (!strcmp(c, "watchaccess")) { NEED(3); return cmd_watchaccess(n, a); }
	if (!strcmp(c, "holdopens")) { NEED(3); return cmd_holdopens(n, a); }
	if (!strcmp(c, "enosys")) { NEED(2); return cmd_enosys(a); }
	if (!strcmp(c, "handle")) { NEED(1); return cmd_handle(n, a); }
	if (!strcmp(c, "nochrdev")) { NEED(1); return cmd_nochrdev(a); }
	if (!strcmp(c, "norenamewhiteout")) { NEED(1); return cmd_norenamewhiteout(a); }
	usage();
	return 2;
}
