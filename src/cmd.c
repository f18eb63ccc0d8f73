/* Subcommands: `layerfs NAME ...`. A thin dispatcher; each subcommand
 * lives in a file of its own. The fuse-overlayfs-compatible mount form
 * (options and a mount point, no subcommand name) is handled in main.c. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "layerfs.h"

static const struct subcommand subcommands[] = {
	{ "features", cmd_features, "show capabilities and the on-disk forms chosen" },
	{ NULL, NULL, NULL },
};

const struct subcommand *subcommand_find(const char *name)
{
	for (const struct subcommand *c = subcommands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int subcommand_run(int argc, char **argv)
{
	const struct subcommand *c = subcommand_find(argv[0]);

	return c ? c->run(argc, argv) : 1;
}
