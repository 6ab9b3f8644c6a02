/* `stockade workspace ls|diff|apply|discard`: a workspace's changes from the host's side
 * (docs/workspaces.md). The change list is store/wsdiff.c's, the apply store/wsapply.c's; this
 * file parses the arguments and prints (names the sandbox chose are always escaped). */
#define _GNU_SOURCE
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/workspace.h"
#include "store/wsapply.h"
#include "store/wsdiff.h"
#include "util/clock.h"
#include "util/textenc.h"

static const char *const workspace_usage =
    "usage: stockade workspace ls [--json] | diff NAME [--stat|--patch] [--json] | "
    "apply NAME [--dry-run] [--skip-refused] [--keep] | discard NAME";

static int usage_error(struct sk_err *err, const char *what)
{
	return sk_fail(err, "cli", 0, workspace_usage, "workspace: %s", what);
}

/* A name or text from the sandbox as a JSON string: invalid UTF-8 becomes U+FFFD (jansson
 * escapes control characters itself). */
static json_t *json_text(const char *text)
{
	char *fixed;
	json_t *value;

	if (!text)
		return json_null();
	fixed = textenc_utf8_repair(text, strlen(text), NULL, NULL);
	value = fixed ? json_string(fixed) : NULL;
	free(fixed);
	return value;
}

static json_t *json_mode(mode_t mode)
{
	char text[8];

	if (mode == 0)
		return json_null();
	snprintf(text, sizeof(text), "%04o", (unsigned)(mode & 07777));
	return json_string(text);
}

static json_t *change_json(const struct wsdiff_change *c)
{
	bool is_file = S_ISREG(c->new_mode) && c->kind != WSDIFF_DELETED;

	return json_pack(
	    "{s:s, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "kind", wsdiff_kind_name(c->kind),
	    "path", json_text(c->path), "from", json_text(c->from), "type",
	    wsdiff_type_name(c->kind == WSDIFF_DELETED ? c->old_mode : c->new_mode), "old_type",
	    wsdiff_type_name(c->old_mode), "old_mode", json_mode(c->old_mode), "new_mode",
	    json_mode(c->kind == WSDIFF_DELETED ? 0 : c->new_mode), "size",
	    is_file ? json_integer((json_int_t)c->new_size) : json_null(), "target",
	    json_text(c->target), "refused", json_text(c->refusal));
}

static json_t *summary_json(const struct wsdiff_list *list)
{
	struct wsdiff_summary sum;
	json_t *obj = json_object();

	wsdiff_summarize(list, &sum);
	for (int k = 0; k < 6; k++)
		json_object_set_new(obj, wsdiff_kind_name((enum wsdiff_kind)k),
				    json_integer((json_int_t)sum.by_kind[k]));
	json_object_set_new(obj, "refused", json_integer((json_int_t)sum.refused));
	json_object_set_new(obj, "total", json_integer((json_int_t)list->count));
	return obj;
}

static int print_diff_json(const struct wsdiff_workspace *ws, const struct wsdiff_list *list,
			   struct sk_err *err)
{
	json_t *changes = json_array();

	for (size_t i = 0; i < list->count; i++)
		json_array_append_new(changes, change_json(&list->items[i]));
	return cli_print_json(json_pack("{s:i, s:s, s:o, s:s, s:o, s:o}", "version", 1, "workspace",
					ws->name, "dir", json_text(ws->meta.dir), "guest",
					ws->meta.guest, "changes", changes, "summary",
					summary_json(list)),
			      JSON_PRESERVE_ORDER, "workspace", err);
}

enum diff_format { DIFF_STAT, DIFF_PATCH };

/* --patch on a terminal. The sandbox wrote the contents a patch prints: a line holding
 * "\033[2K\r" or a bare "\r" would redraw what the reviewer reads (hide an added line behind
 * another). There, every control character but tab and newline is shown as cat -v shows it
 * (^[, ^M, ^?, and M-^[ for a C1 control in UTF-8, C2 80..9F); into a pipe or a file the
 * patch stays byte-exact, for git apply. */
struct shown {
	FILE *out;
	bool has_c2; /* a 0xC2 byte held back: it may start a C1 control */
};

static ssize_t shown_write(void *cookie, const char *buf, size_t size)
{
	struct shown *s = cookie;

	for (size_t i = 0; i < size; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (s->has_c2) {
			s->has_c2 = false;
			if (c >= 0x80 && c <= 0x9f) {
				fprintf(s->out, "M-^%c", c - 0x80 + '@');
				continue;
			}
			fputc(0xc2, s->out);
		}
		if (c == 0xc2)
			s->has_c2 = true;
		else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
			fprintf(s->out, "^%c", c == 0x7f ? '?' : c + '@');
		else
			fputc(c, s->out);
	}
	return ferror(s->out) ? -1 : (ssize_t)size;
}

static int shown_close(void *cookie)
{
	struct shown *s = cookie;

	if (s->has_c2)
		fputc(0xc2, s->out);
	return fflush(s->out) == 0 ? 0 : -1;
}

static int print_patch(struct wsdiff_workspace *ws, const struct wsdiff_list *list,
		       struct sk_err *err)
{
	static const cookie_io_functions_t io = {.write = shown_write, .close = shown_close};
	struct shown shown = {.out = stdout};
	FILE *out;
	int rc;

	if (!isatty(STDOUT_FILENO))
		return wsdiff_print_patch(stdout, list, ws->upper_fd, ws->host_fd, err);
	out = fopencookie(&shown, "w", io);
	if (!out)
		return sk_fail(err, "workspace", errno, NULL, "diff --patch");
	rc = wsdiff_print_patch(out, list, ws->upper_fd, ws->host_fd, err);
	if (fclose(out) != 0 && rc == 0)
		rc = sk_fail(err, "workspace", errno, NULL, "diff --patch: write");
	return rc;
}

static int do_diff(const char *name, enum diff_format format, bool is_json, struct sk_err *err)
{
	struct wsdiff_workspace ws;
	struct wsdiff_list list;
	int rc;

	if (is_json && format == DIFF_PATCH)
		return usage_error(err, "--json goes with --stat, not --patch");
	/* A shared lock: a sandbox may be using it (the list is then the changes so far), but
	 * it cannot be discarded or applied under us. */
	if (wsdiff_open(name, false, &ws, err) < 0)
		return -1;
	rc = wsdiff_scan(ws.upper_fd, ws.host_fd, ws.meta.is_copy, &list, err);
	if (rc == 0) {
		if (is_json)
			rc = print_diff_json(&ws, &list, err);
		else if (format == DIFF_PATCH)
			rc = print_patch(&ws, &list, err);
		else
			wsdiff_print_stat(stdout, &list);
		wsdiff_free(&list);
	}
	wsdiff_close(&ws, false);
	return rc;
}

/* ---- ls ---- */

struct ls_row {
	char name[WORKSPACE_NAME_MAX + 1];
	char dir[PATH_MAX];
	char created[32];
	bool is_in_use;
	long long changes; /* -1: could not be read (problem says why) */
	char problem[256];
};

static void fill_row(const struct volume_info *info, struct ls_row *row)
{
	struct wsdiff_workspace ws;
	struct wsdiff_list list;
	struct sk_err err;

	memset(row, 0, sizeof(*row));
	memset(&err, 0, sizeof(err));
	sk_strlcpy(row->name, info->name + strlen(WORKSPACE_VOLUME_PREFIX), sizeof(row->name));
	clock_format_utc(info->created, row->created, sizeof(row->created));
	row->is_in_use = info->is_in_use;
	row->changes = -1;
	if (wsdiff_open(row->name, false, &ws, &err) < 0) {
		sk_format(&err, row->problem, sizeof(row->problem));
		/* The record may still name the directory when only the directory is wrong. */
		if (ws.meta.dir[0])
			sk_strlcpy(row->dir, ws.meta.dir, sizeof(row->dir));
		return;
	}
	sk_strlcpy(row->dir, ws.meta.dir, sizeof(row->dir));
	if (wsdiff_scan(ws.upper_fd, ws.host_fd, ws.meta.is_copy, &list, &err) == 0) {
		row->changes = (long long)list.count;
		wsdiff_free(&list);
	} else {
		sk_format(&err, row->problem, sizeof(row->problem));
	}
	wsdiff_close(&ws, false);
}

static json_t *row_json(const struct ls_row *row)
{
	return json_pack("{s:s, s:o, s:s, s:b, s:o, s:o}", "name", row->name, "dir",
			 row->dir[0] ? json_text(row->dir) : json_null(), "created", row->created,
			 "in_use", row->is_in_use, "changes",
			 row->changes >= 0 ? json_integer(row->changes) : json_null(), "error",
			 row->problem[0] ? json_text(row->problem) : json_null());
}

static int do_ls(bool is_json, struct sk_err *err)
{
	struct volume_store store;
	struct volume_info *infos;
	size_t count;
	json_t *array = json_array();
	struct ls_row row;

	if (volume_store_open(&store, err) < 0)
		return -1;
	if (volume_list(&store, &infos, &count, err) < 0) {
		volume_store_close(&store);
		return -1;
	}
	volume_store_close(&store);
	if (!is_json)
		printf("%-24s %-20s %-6s %7s %s\n", "NAME", "CREATED", "IN USE", "CHANGES", "DIR");
	for (size_t i = 0; i < count; i++) {
		if (infos[i].kind != VOLUME_NAMED || strncmp(infos[i].name, WORKSPACE_VOLUME_PREFIX,
							     strlen(WORKSPACE_VOLUME_PREFIX)) != 0)
			continue;
		fill_row(&infos[i], &row);
		if (is_json) {
			json_array_append_new(array, row_json(&row));
			continue;
		}
		char dir[PATH_MAX + 64], changes[24];
		wsdiff_quote("", row.dir[0] ? row.dir : "-", dir, sizeof(dir));
		snprintf(changes, sizeof(changes), "%lld", row.changes);
		printf("%-24s %-20s %-6s %7s %s\n", row.name, row.created,
		       row.is_in_use ? "yes" : "no", row.changes >= 0 ? changes : "?", dir);
		if (row.problem[0])
			fprintf(stderr, "stockade: workspace %s: %s\n", row.name, row.problem);
	}
	free(infos);
	if (is_json)
		return cli_print_json(array, JSON_PRESERVE_ORDER, "workspace", err);
	json_decref(array);
	return 0;
}

/* ---- apply, discard ---- */

static void print_refused(void *arg, const struct wsdiff_change *c)
{
	char path[PATH_MAX + 64];

	(void)arg;
	wsdiff_quote("", c->path, path, sizeof(path));
	fprintf(stderr, "stockade: workspace: %s %s: %s %s\n", wsdiff_kind_letter(c->kind), path,
		c->refusal ? "refused:" : "conflict:", c->refusal ? c->refusal : c->conflict);
}

/* arg: the FILE the summary goes to (stdout for `workspace apply`, stderr for `run
 * --apply-on-success`, whose stdout is the command's). */
static void print_changes(void *arg, const struct wsdiff_list *list)
{
	workspace_print_stat(arg, list);
	fflush(arg);
}

static int apply_to(FILE *out, const char *name, struct workspace_apply_opts *opts,
		    struct sk_err *err)
{
	struct workspace_apply_stats stats;

	opts->on_refused = print_refused;
	opts->on_changes = print_changes;
	opts->arg = out;
	if (workspace_apply(name, opts, &stats, err) < 0)
		return -1;
	if (opts->is_dry_run)
		fprintf(out,
			"dry run: %zu change(s) would be applied, %zu refused, %zu conflict(s)\n",
			stats.changes - stats.refused - stats.conflicts, stats.refused,
			stats.conflicts);
	else
		fprintf(out, "applied %zu change(s)%s%s\n", stats.applied,
			stats.refused + stats.conflicts ? "; skipped the refused (workspace kept)"
							: "",
			stats.was_removed ? "; workspace removed" : "");
	return 0;
}

static int do_apply(const char *name, struct workspace_apply_opts *opts, struct sk_err *err)
{
	return apply_to(stdout, name, opts, err);
}

static int apply_after_run(const char *name, struct sk_err *err)
{
	struct workspace_apply_opts opts = {0};

	return apply_to(stderr, name, &opts, err);
}

/* After a run with a workspace (its locks dropped): --apply-on-success applies when the command
 * exited 0 (a refusal is stockade's, 125, the workspace kept for review); else a line says
 * where the changes are. */
int cli_workspace_after_run(const struct sandbox_spec *spec, const struct workspace_run *ws,
			    const struct sandbox_result *result, struct sk_err *err)
{
	bool has_succeeded = result->exited && result->exit_code == 0 && !result->timed_out &&
			     !result->output_limit_hit;

	if (spec->workspace.should_apply_on_success && has_succeeded)
		return apply_after_run(ws->name, err);
	if (spec->workspace.should_apply_on_success)
		fprintf(stderr,
			"stockade: workspace %s: not applied (the command failed); "
			"`stockade workspace diff %s` shows the changes\n",
			ws->name, ws->name);
	else if (!spec->is_quiet)
		fprintf(stderr,
			"stockade: workspace %s: `stockade workspace diff %s` shows the changes, "
			"`stockade workspace apply %s` applies them to %s\n",
			ws->name, ws->name, ws->name, ws->lower_path);
	return 0;
}

static int do_discard(const char *name, struct sk_err *err)
{
	char volume[SANDBOX_VOLUME_NAME_MAX + 1];
	struct volume_store store;
	struct sk_err none;
	enum volume_kind kind;
	int rc;

	if (workspace_check_name(name) < 0)
		return sk_fail(err, "workspace", EINVAL, NULL, "bad workspace name '%.64s'", name);
	snprintf(volume, sizeof(volume), WORKSPACE_VOLUME_PREFIX "%s", name);
	if (volume_store_open(&store, err) < 0)
		return -1;
	memset(&none, 0, sizeof(none));
	if (volume_find(&store, volume, &kind, &none) < 0 || kind != VOLUME_NAMED) {
		volume_store_close(&store);
		return sk_fail(err, "workspace", ENOENT, "see `stockade workspace ls`",
			       "no workspace named %s", name);
	}
	rc = volume_remove(&store, volume, err);
	volume_store_close(&store);
	if (rc < 0 && err->errnum == EBUSY)
		return sk_fail(err, "workspace", EBUSY, "stop the sandbox using it first",
			       "workspace %s is in use", name);
	if (rc == 0)
		printf("discarded workspace %s\n", name);
	return rc;
}

/* ---- arguments ---- */

static int diff_command(int argc, char **argv, struct sk_err *err)
{
	enum diff_format format = DIFF_STAT;
	const char *name = NULL;
	bool is_json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--stat") == 0)
			format = DIFF_STAT;
		else if (strcmp(argv[i], "--patch") == 0)
			format = DIFF_PATCH;
		else if (strcmp(argv[i], "--json") == 0)
			is_json = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			return usage_error(err, "diff takes NAME [--stat|--patch] [--json]");
	}
	if (!name)
		return usage_error(err, "diff takes NAME [--stat|--patch] [--json]");
	return do_diff(name, format, is_json, err);
}

static int apply_command(int argc, char **argv, struct sk_err *err)
{
	struct workspace_apply_opts opts = {.on_refused = print_refused,
					    .on_changes = print_changes};
	const char *name = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			opts.is_dry_run = true;
		else if (strcmp(argv[i], "--skip-refused") == 0)
			opts.should_skip_refused = true;
		else if (strcmp(argv[i], "--keep") == 0)
			opts.should_keep = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			return usage_error(
			    err, "apply takes NAME [--dry-run] [--skip-refused] [--keep]");
	}
	if (!name)
		return usage_error(err, "apply takes NAME [--dry-run] [--skip-refused] [--keep]");
	return do_apply(name, &opts, err);
}

int cli_workspace(int argc, char **argv, struct sk_err *err)
{
	const char *cmd = argc >= 2 ? argv[1] : NULL;

	if (!cmd)
		return usage_error(err, "no subcommand");
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		printf("%s\n", workspace_usage);
		return 0;
	}
	if (strcmp(cmd, "ls") == 0 && argc == 2)
		return do_ls(false, err);
	if (strcmp(cmd, "ls") == 0 && argc == 3 && strcmp(argv[2], "--json") == 0)
		return do_ls(true, err);
	if (strcmp(cmd, "diff") == 0)
		return diff_command(argc - 1, argv + 1, err);
	if (strcmp(cmd, "apply") == 0)
		return apply_command(argc - 1, argv + 1, err);
	if (strcmp(cmd, "discard") == 0 && argc == 3)
		return do_discard(argv[2], err);
	return usage_error(err, "unknown subcommand or wrong arguments");
}
