/* `stockade volume create|ls|inspect|rm|prune|import|export`: the store of managed volumes from
 * the host's side. Data moves between the host and a volume only through import and export,
 * which copy with safepath.c and never follow a link the sandbox planted; export does not
 * recreate one that would lead out of the exported tree either (--links). */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/safepath.h"
#include "store/volume.h"
#include "util/clock.h"
#include "util/parse.h"

static const char *const volume_usage =
    "usage: stockade volume create [--size SIZE] NAME | ls [--json] | inspect [--json] NAME | "
    "rm NAME | prune | import NAME HOSTPATH | export [--links=safe|skip|keep] NAME HOSTPATH";

/* Skipped links listed on stderr; the rest are only counted (a sandbox can plant millions). */
#define SKIPPED_LINKS_LISTED 100

static int usage_error(struct sk_err *err, const char *what)
{
	return sk_fail(err, "cli", 0, volume_usage, "volume: %s", what);
}

static const char *kind_name(enum volume_kind kind)
{
	return kind == VOLUME_NAMED ? "named" : "anonymous";
}

static void format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "BKMGTP";
	double value = (double)bytes;
	int unit = 0;

	while (value >= 1024 && unit < 5) {
		value /= 1024;
		unit++;
	}
	if (unit == 0)
		snprintf(buf, size, "%lluB", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.1f%c", value, units[unit]);
}

static json_t *info_json(const struct volume_info *info)
{
	char created[32], used[32];

	clock_format_utc(info->created, created, sizeof(created));
	clock_format_utc(info->last_used, used, sizeof(used));
	return json_pack("{s:s, s:s, s:s, s:I, s:o, s:s, s:s, s:b}", "name", info->name, "kind",
			 kind_name(info->kind), "path", info->path, "size_bytes",
			 (json_int_t)info->size_bytes, "limit_bytes",
			 info->limit_bytes ? json_integer((json_int_t)info->limit_bytes)
					   : json_null(),
			 "created", created, "last_used", used, "in_use", info->is_in_use);
}

static int print_json(json_t *value, struct sk_err *err)
{
	return cli_print_json(value, JSON_PRESERVE_ORDER, "volume", err);
}

static void print_row(const struct volume_info *info)
{
	char size[16], limit[16], created[32], used[32];

	format_size(info->size_bytes, size, sizeof(size));
	if (info->limit_bytes)
		format_size(info->limit_bytes, limit, sizeof(limit));
	else
		snprintf(limit, sizeof(limit), "-");
	clock_format_utc(info->created, created, sizeof(created));
	clock_format_utc(info->last_used, used, sizeof(used));
	printf("%-24s %-9s %8s %8s %-20s %-20s %s\n", info->name, kind_name(info->kind), size,
	       limit, created, used, info->is_in_use ? "yes" : "no");
}

static int do_ls(struct volume_store *store, bool is_json, struct sk_err *err)
{
	struct volume_info *infos;
	size_t count;
	json_t *array;

	if (volume_list(store, &infos, &count, err) < 0)
		return -1;
	if (is_json) {
		array = json_array();
		for (size_t i = 0; i < count; i++)
			json_array_append_new(array, info_json(&infos[i]));
		free(infos);
		return print_json(array, err);
	}
	printf("%-24s %-9s %8s %8s %-20s %-20s %s\n", "NAME", "KIND", "SIZE", "LIMIT", "CREATED",
	       "LAST USED", "IN USE");
	for (size_t i = 0; i < count; i++)
		print_row(&infos[i]);
	free(infos);
	return 0;
}

static int do_inspect(struct volume_store *store, const char *name, bool is_json,
		      struct sk_err *err)
{
	struct volume_info info;
	char size[16], created[32], used[32];

	if (volume_inspect(store, name, &info, err) < 0)
		return -1;
	if (is_json)
		return print_json(info_json(&info), err);
	format_size(info.size_bytes, size, sizeof(size));
	clock_format_utc(info.created, created, sizeof(created));
	clock_format_utc(info.last_used, used, sizeof(used));
	printf("name: %s\nkind: %s\npath: %s\nsize: %s (%llu bytes)\nlimit: %llu bytes\n"
	       "created: %s\nlast used: %s\nin use: %s\n",
	       info.name, kind_name(info.kind), info.path, size,
	       (unsigned long long)info.size_bytes, (unsigned long long)info.limit_bytes, created,
	       used, info.is_in_use ? "yes" : "no");
	return 0;
}

/* A name or link text the sandbox chose, made safe for a terminal: printable ASCII as it is,
 * '\\' doubled, every other byte as \xHH (no control sequence reaches the caller's terminal),
 * cut with "..." when it does not fit. */
static void escape_name(const char *in, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		size_t need = c >= 0x20 && c < 0x7f ? (c == '\\' ? 2 : 1) : 4;

		if (n + need + 4 > size) {
			sk_strlcpy(out + n, "...", size - n);
			return;
		}
		if (need == 1) {
			out[n++] = (char)c;
		} else if (need == 2) {
			out[n++] = '\\';
			out[n++] = '\\';
		} else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
}

static void print_skipped_link(void *arg, const char *path, const char *target, const char *why)
{
	uint64_t *listed = arg;
	char shown_path[256], shown_target[256];

	if ((*listed)++ >= SKIPPED_LINKS_LISTED)
		return;
	escape_name(path, shown_path, sizeof(shown_path));
	escape_name(target, shown_target, sizeof(shown_target));
	fprintf(stderr, "stockade: skipped link %s -> %s (%s)\n", shown_path, shown_target, why);
}

static void print_copy(const char *verb, const char *name, const struct safepath_copy_stats *s)
{
	char first[256];

	printf("%s %llu files, %llu directories, %llu symlinks (%llu bytes, %llu reflinked) %s "
	       "volume %s",
	       verb, (unsigned long long)s->files, (unsigned long long)s->dirs,
	       (unsigned long long)s->symlinks, (unsigned long long)s->bytes,
	       (unsigned long long)s->reflinked, strcmp(verb, "imported") == 0 ? "into" : "from",
	       name);
	if (s->links_skipped)
		printf("; %llu links skipped", (unsigned long long)s->links_skipped);
	printf("\n");
	if (s->links_skipped > SKIPPED_LINKS_LISTED)
		fprintf(stderr, "stockade: volume: %llu more skipped links not listed\n",
			(unsigned long long)(s->links_skipped - SKIPPED_LINKS_LISTED));
	escape_name(s->first_skipped, first, sizeof(first));
	if (s->skipped)
		fprintf(stderr,
			"stockade: volume: skipped %llu special file(s) (devices, fifos, sockets "
			"are never copied), e.g. %s\n",
			(unsigned long long)s->skipped, first);
}

/* import: the host directory the caller named (its own path may hold symlinks: the caller
 * chose it) into the volume, created if missing; nothing below it is followed. */
static int do_import(struct volume_store *store, const char *name, const char *host,
		     struct sk_err *err)
{
	struct volume_handle handle;
	struct safepath_copy_stats stats;
	struct sk_err none;
	enum volume_kind kind = VOLUME_NAMED;
	bool is_root = geteuid() == 0;
	/* Every link is kept: they are the caller's own, and inside the sandbox they resolve
	 * against the sandbox's root; on the host nothing follows a link in the store. As root the
	 * files must belong to the sandbox's host uid, like the volume. */
	struct safepath_copy_opts opts = {
	    .chown_uid = is_root ? store->owner_uid : (uid_t)-1,
	    .chown_gid = is_root ? store->owner_gid : (gid_t)-1,
	    .links = SAFEPATH_LINKS_KEEP,
	};
	int src, rc;

	memset(&none, 0, sizeof(none));
	(void)volume_find(store, name, &kind, &none);
	src = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		return sk_fail(err, "volume", errno, "import takes a host directory",
			       "import: open %.200s", host);
	if (volume_acquire(store, kind, name, true, &handle, err) < 0) {
		close(src);
		return -1;
	}
	rc = safepath_copy_tree(src, handle.dir_fd, &opts, &stats, err);
	close(src);
	volume_release(store, &handle, rc < 0 && handle.is_new);
	if (rc < 0)
		return -1;
	print_copy("imported", name, &stats);
	return 0;
}

/* export: the volume into the host directory the caller named (created 0700 if missing). The
 * copy is the host's from then on, so links that lead out of it are left out (`links`). */
static int do_export(struct volume_store *store, const char *name, const char *host,
		     enum safepath_links links, struct sk_err *err)
{
	struct volume_handle handle;
	struct safepath_copy_stats stats;
	uint64_t listed = 0;
	struct safepath_copy_opts opts = {.chown_uid = (uid_t)-1,
					  .chown_gid = (gid_t)-1,
					  .links = links,
					  .on_skipped_link = print_skipped_link,
					  .arg = &listed};
	enum volume_kind kind;
	int dst, rc;

	if (volume_find(store, name, &kind, err) < 0 ||
	    volume_acquire(store, kind, name, false, &handle, err) < 0)
		return -1;
	if (mkdir(host, 0700) < 0 && errno != EEXIST) {
		volume_release(store, &handle, false);
		return sk_fail(err, "volume", errno, NULL, "export: create %.200s", host);
	}
	dst = open(host, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dst < 0) {
		volume_release(store, &handle, false);
		return sk_fail(err, "volume", errno, "export takes a host directory",
			       "export: open %.200s", host);
	}
	rc = safepath_copy_tree(handle.dir_fd, dst, &opts, &stats, err);
	close(dst);
	volume_release(store, &handle, false);
	if (rc < 0)
		return -1;
	print_copy("exported", name, &stats);
	return 0;
}

static int parse_links(const char *value, enum safepath_links *links, struct sk_err *err)
{
	if (strcmp(value, "safe") == 0)
		*links = SAFEPATH_LINKS_SAFE;
	else if (strcmp(value, "skip") == 0)
		*links = SAFEPATH_LINKS_SKIP;
	else if (strcmp(value, "keep") == 0)
		*links = SAFEPATH_LINKS_KEEP;
	else
		return sk_fail(err, "cli", 0, "safe (the default), skip or keep",
			       "volume export: invalid --links '%.64s'", value);
	return 0;
}

/* export [--links=MODE | --links MODE] NAME HOSTPATH */
static int export_command(struct volume_store *store, int argc, char **argv, struct sk_err *err)
{
	enum safepath_links links = SAFEPATH_LINKS_SAFE;
	const char *positional[2];
	int count = 0;

	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--links=", 8) == 0) {
			if (parse_links(argv[i] + 8, &links, err) < 0)
				return -1;
		} else if (strcmp(argv[i], "--links") == 0 && i + 1 < argc) {
			if (parse_links(argv[++i], &links, err) < 0)
				return -1;
		} else if (argv[i][0] != '-' && count < 2) {
			positional[count++] = argv[i];
		} else {
			return usage_error(err,
					   "export takes [--links=safe|skip|keep] NAME HOSTPATH");
		}
	}
	if (count != 2)
		return usage_error(err, "export takes [--links=safe|skip|keep] NAME HOSTPATH");
	return do_export(store, positional[0], positional[1], links, err);
}

static int do_create(struct volume_store *store, int argc, char **argv, struct sk_err *err)
{
	uint64_t limit = 0;
	const char *name = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
			if (parse_size(argv[++i], &limit) < 0 || limit < (1u << 20))
				return sk_fail(err, "cli", 0, "a size of at least 1m, e.g. 10g",
					       "invalid --size '%.64s'", argv[i]);
		} else if (!name && argv[i][0] != '-') {
			name = argv[i];
		} else {
			return usage_error(err, "create takes [--size SIZE] NAME");
		}
	}
	if (!name)
		return usage_error(err, "create takes [--size SIZE] NAME");
	if (volume_create(store, name, limit, err) < 0)
		return -1;
	printf("%s\n", name);
	return 0;
}

static int dispatch(struct volume_store *store, int argc, char **argv, struct sk_err *err)
{
	const char *cmd = argv[0];
	bool is_json = argc >= 2 && strcmp(argv[1], "--json") == 0;
	int rest = argc - 1 - (is_json ? 1 : 0); /* positional arguments after the subcommand */
	char **args = argv + 1 + (is_json ? 1 : 0);
	unsigned removed;

	if (strcmp(cmd, "create") == 0)
		return do_create(store, argc, argv, err);
	if (strcmp(cmd, "ls") == 0 && rest == 0)
		return do_ls(store, is_json, err);
	if (strcmp(cmd, "inspect") == 0 && rest == 1)
		return do_inspect(store, args[0], is_json, err);
	if (is_json)
		return usage_error(err, "--json goes with ls and inspect");
	if (strcmp(cmd, "rm") == 0 && rest == 1)
		return volume_remove(store, args[0], err) < 0 ? -1 : 0;
	if (strcmp(cmd, "prune") == 0 && rest == 0) {
		if (volume_prune(store, &removed, err) < 0)
			return -1;
		printf("removed %u unused anonymous volume(s)\n", removed);
		return 0;
	}
	if (strcmp(cmd, "import") == 0 && rest == 2)
		return do_import(store, args[0], args[1], err);
	if (strcmp(cmd, "export") == 0)
		return export_command(store, argc, argv, err);
	return usage_error(err, "unknown subcommand or wrong arguments");
}

int cli_volume(int argc, char **argv, struct sk_err *err)
{
	struct volume_store store;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc < 2)
			return usage_error(err, "no subcommand");
		printf("%s\n", volume_usage);
		return 0;
	}
	if (volume_store_open(&store, err) < 0)
		return -1;
	rc = dispatch(&store, argc - 1, argv + 1, err);
	volume_store_close(&store);
	return rc;
}
