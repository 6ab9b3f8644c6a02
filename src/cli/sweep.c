/* What runs killed with SIGKILL leave behind, removed by the next run and by doctor: their
 * cgroup directories and their anonymous volumes. (Their processes, mounts and proxy die with
 * them: PID 1 and the proxy have PDEATHSIG, and the mounts live in the sandbox's namespace.) */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/cgroup.h"
#include "store/volume.h"
#include "util/paths.h"

/* True when dir has an entry other than . and .. (one getdents in the common, empty case). */
static bool has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d)) != NULL)
		found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return found;
}

unsigned cli_sweep_volumes(void)
{
	char home[PATH_MAX], path[PATH_MAX + 32];
	struct volume_store store;
	struct sk_err ignored;
	unsigned removed = 0;

	/* The store is opened (and so created) only when it has anonymous volumes already. */
	memset(&ignored, 0, sizeof(ignored));
	if (paths_home(home, sizeof(home), &ignored) < 0 ||
	    snprintf(path, sizeof(path), "%s/volumes/anonymous", home) >= (int)sizeof(path) ||
	    !has_entries(path))
		return 0;
	if (volume_store_open(&store, &ignored) < 0)
		return 0;
	(void)volume_sweep_ephemeral(&store, &removed, &ignored);
	volume_store_close(&store);
	return removed;
}

void cli_sweep_leftovers(struct cli_swept *swept)
{
	swept->cgroups = cgroup_sweep_stale();
	swept->volumes = cli_sweep_volumes();
}
