/* `layerfs features [WORKDIR]`: what this daemon can do here. Prints the
 * versions and the capabilities held and, given a work directory, probes
 * it the way a mount does and names the on-disk forms it would write. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layerfs.h"

int cmd_features(int argc, char **argv)
{
	struct config cfg = { .fsync = true, .passthrough = true };
	char dir[64];
	int wfd;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		bool help = argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));

		/* asked for, the usage is the output, as for the other subcommands */
		fprintf(help ? stdout : stderr, "Usage: layerfs features [WORKDIR]\n");
		return help ? 0 : 1;
	}
	printf("layerfs: version %s\n", PACKAGE_VERSION);
	printf("FUSE library version %s\n", fuse_pkgversion());
	caps_print(stdout);
	if (argc < 2)
		return 0;

	wfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wfd < 0) {
		fprintf(stderr, "layerfs: workdir '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* probe in a scratch directory of our own, removed afterwards */
	snprintf(dir, sizeof(dir), ".layerfs-features.%d", (int)getpid());
	if (mkdirat(wfd, dir, 0700) < 0) {
		fprintf(stderr, "layerfs: workdir '%s': %s\n", argv[1], strerror(errno));
		close(wfd);
		return 1;
	}
	fs.cfg = &cfg;
	fs.has_upper = true;
	fs.workfd = openat(wfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	caps_probe(&fs);
	printf("whiteouts: %s\n", wh_style_name(fs.wh_style));
	printf("opaque directories: %s\n", opq_style_name(fs.opq_style));
	printf("ownership: %s\n", fs.can_chown ? "chown on disk" :
	       "kept in the user.containers.override_stat xattr");
	printf("file data of upper files: %s\n", passthrough_possible(wfd) ?
	       "passed through to the real files (where the kernel offers it, Linux 6.9+)" :
	       "through the daemon (passthrough needs root in the initial user namespace)");
	printf("opening files: %s\n", noopen_default() ?
	       "no request to the daemon (noopen, where the kernel offers it)" :
	       fs.dac_override ? "a request to the daemon (noopen is off by default outside a user namespace)" :
	       "a request to the daemon (noopen needs CAP_DAC_OVERRIDE)");
	close(fs.workfd);
	fs.workfd = -1;
	unlinkat(wfd, dir, AT_REMOVEDIR);
	close(wfd);
	return 0;
}
