/* truncrace FILE UPPERFILE ROUNDS: an open with O_TRUNC and a write at
 * once, ROUNDS times; afterwards the size the mount shows for FILE must
 * be the size of its real file UPPERFILE in the upper layer.
 *
 * Each round one thread opens FILE with O_RDWR and writes 4160 bytes at
 * offset 3 (the file ends at 4163), the other opens it with O_WRONLY |
 * O_TRUNC and closes it. Either order is right, as long as the mount and
 * the upper agree on the outcome (0 or 4163 bytes).
 *
 * Prints how many rounds disagreed, with the first few; exits 1 if any. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file;
static pthread_barrier_t start;

static void *writer(void *arg)
{
	static char buf[4160];
	int fd;

	(void)arg;
	memset(buf, 'w', sizeof(buf));
	pthread_barrier_wait(&start);
	fd = open(file, O_RDWR);
	if (fd >= 0) {
		if (pwrite(fd, buf, sizeof(buf), 3) != (ssize_t)sizeof(buf))
			perror("truncrace: pwrite");
		close(fd);
	}
	return NULL;
}

static void *truncater(void *arg)
{
	int fd;

	(void)arg;
	pthread_barrier_wait(&start);
	fd = open(file, O_WRONLY | O_TRUNC);
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	long rounds, bad = 0;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: truncrace FILE UPPERFILE ROUNDS\n");
		return 2;
	}
	file = argv[1];
	rounds = atol(argv[3]);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "abc", 3) != 3) {
		perror("truncrace: FILE");
		return 2;
	}
	close(fd);
	for (long i = 0; i < rounds; i++) {
		struct stat shown, real;
		pthread_t a, b;

		pthread_barrier_init(&start, NULL, 2);
		pthread_create(&a, NULL, writer, NULL);
		pthread_create(&b, NULL, truncater, NULL);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		pthread_barrier_destroy(&start);
		if (stat(file, &shown) < 0 || stat(argv[2], &real) < 0) {
			perror("truncrace: stat");
			return 2;
		}
		if (shown.st_size != real.st_size && ++bad <= 5)
			printf("round %ld: the mount shows %lld bytes, the upper holds %lld\n",
			       i, (long long)shown.st_size, (long long)real.st_size);
	}
	printf("%ld of %ld rounds disagreed\n", bad, rounds);
	return bad ? 1 : 0;
}
