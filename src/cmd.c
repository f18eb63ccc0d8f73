/* Subcommands: `layerfs NAME ...`. A thin dispatcher; each subcommand
 * lives in a file of its own. The fuse-overlayfs-compatible mount form
 * (options and a mount point, no subcommand name) is handled in main.c. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "layerfs.h"
#include "stack.h"

static const struct subcommand subcommands[] = {
	{ "features", cmd_features, "show capabilities and the on-disk forms chosen" },
	{ "mount", cmd_mount, "mount a stack file: layerfs mount STACK [MOUNTPOINT]" },
	{ "umount", cmd_umount, "unmount a stack or a mount point" },
	{ "check", cmd_check, "validate a stack file and show its state" },
	{ "diff", cmd_diff, "list what the upper adds, changes and deletes" },
	{ "commit", cmd_commit, "turn the upper into a new top layer" },
	{ "reset", cmd_reset, "discard the upper: back to the pristine layers" },
	{ "export", cmd_export, "write the upper as an OCI layer tarball" },
	{ "import", cmd_import, "unpack an OCI layer tarball into a new layer dir" },
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

/* The subcommand list for --help. */
void subcommands_help(FILE *out)
{
	fprintf(out, "\nSubcommands (layerfs NAME --help for each):\n");
	for (const struct subcommand *c = subcommands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
}
