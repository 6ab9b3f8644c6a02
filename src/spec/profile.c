/* Profiles (see profile.h): the built-ins, and an operator's files opened so that nobody but
 * the caller or root decides what they say. */
#define _GNU_SOURCE
#include "spec/profile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/doc.h"
#include "util/paths.h"

/* Limits need a cgroup: where there is none, these profiles fail closed like --memory does
 * (docs/spec.md). Neither opens the network: rules still have to be given. */
const struct profile_builtin profile_builtins[] = {
    {"default", "the built-in defaults: no limits, 1g tmpfs, no network", "{\"stockade\": 1}\n"},
    {"strict",
     "tight limits for untrusted one-off commands: 512m memory, 256 processes, 1 CPU, 10m, "
     "64m output, 128m tmpfs",
     "{\n"
     "  \"stockade\": 1,\n"
     "  \"limits\": {\n"
     "    \"memory\": \"512m\",\n"
     "    \"pids\": 256,\n"
     "    \"cpus\": \"1\",\n"
     "    \"timeout\": \"10m\",\n"
     "    \"output\": \"64m\",\n"
     "    \"tmpfs\": \"128m\"\n"
     "  }\n"
     "}\n"},
    {"build",
     "generous limits for compilers and package installs: 8g memory, 4096 processes, 2h, "
     "8g tmpfs",
     "{\n"
     "  \"stockade\": 1,\n"
     "  \"limits\": {\n"
     "    \"memory\": \"8g\",\n"
     "    \"pids\": 4096,\n"
     "    \"timeout\": \"2h\",\n"
     "    \"tmpfs\": \"8g\"\n"
     "  }\n"
     "}\n"},
};
const size_t profile_builtin_count = sizeof(profile_builtins) / sizeof(profile_builtins[0]);

void profile_dirs_default(struct profile_dirs *dirs)
{
	char home[400];
	struct sk_err ignored = {0};

	memset(dirs, 0, sizeof(*dirs));
	if (paths_home(home, sizeof(home), &ignored) == 0)
		snprintf(dirs->user, sizeof(dirs->user), "%s/profiles", home);
	sk_strlcpy(dirs->system, PROFILE_SYSTEM_DIR, sizeof(dirs->system));
}

int profile_check_name(const char *name, struct sk_err *err)
{
	size_t len = strlen(name);
	bool is_valid = len >= 1 && len <= PROFILE_NAME_MAX;

	for (size_t i = 0; i < len && is_valid; i++) {
		char c = name[i];
		bool is_alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		is_valid = is_alnum || (i > 0 && (c == '_' || c == '-'));
	}
	if (!is_valid)
		return sk_fail(err, "cli", 0,
			       "a name is 1-64 of A-Z a-z 0-9 _ -, starting with a letter or digit",
			       "invalid profile name '%.64s'", name);
	return 0;
}

static const struct profile_builtin *builtin_find(const char *name)
{
	for (size_t i = 0; i < profile_builtin_count; i++)
		if (strcmp(profile_builtins[i].name, name) == 0)
			return &profile_builtins[i];
	return NULL;
}

/* Whoever can replace the file decides what runs in the sandbox, so: owned by the caller or
 * root, and not writable by group or others. */
static const char *unsafe_owner_or_mode(const struct stat *st)
{
	if (st->st_uid != getuid() && st->st_uid != 0)
		return "owned by another user (only yours or root's are read)";
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return "writable by group or others (chmod go-w)";
	return NULL;
}

/* The directory of profiles, or -1 and *fd_out -1 when it does not exist. */
static int dir_open(const char *dir, int *fd_out, struct sk_err *err)
{
	struct stat st;
	const char *why;
	int fd;

	*fd_out = -1;
	if (!dir[0])
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return sk_fail(err, "policy", errno == ELOOP ? 0 : errno,
			       "a directory of profiles must be a directory, not a symlink",
			       "profiles directory %.300s%s", dir,
			       errno == ELOOP || errno == ENOTDIR ? ": not a directory" : "");
	if (fstat(fd, &st) < 0) {
		close(fd);
		return sk_fail(err, "policy", errno, NULL, "fstat %.300s", dir);
	}
	why = unsafe_owner_or_mode(&st);
	if (why) {
		close(fd);
		return sk_fail(err, "policy", 0, "fix it, or remove it",
			       "profiles directory %.300s refused: %s", dir, why);
	}
	*fd_out = fd;
	return 0;
}

/* NAME.json in an open directory: 1 and out filled, 0 when there is none, -1 with err (and
 * *why_refused when the file is there but not safe to read). */
static int file_load(int dir_fd, const char *dir, const char *name, struct profile_text *out,
		     const char **why_refused, struct sk_err *err)
{
	char file[PROFILE_NAME_MAX + 8];
	struct stat st;
	const char *why = NULL;
	int fd;

	*why_refused = NULL;
	snprintf(out->origin, sizeof(out->origin), "%.400s/%s.json", dir, name);
	snprintf(file, sizeof(file), "%s.json", name);
	/* O_NONBLOCK: a fifo planted under the name must not hang us (refused below). */
	fd = openat(dir_fd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && errno == ELOOP)
		why = "a symlink (profiles are read only from regular files)";
	else if (fd < 0)
		return sk_fail(err, "policy", errno, NULL, "open %.500s", out->origin);
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		why = "not a regular file";
	else
		why = unsafe_owner_or_mode(&st);
	if (why) {
		if (fd >= 0)
			close(fd);
		*why_refused = why;
		return sk_fail(err, "policy", 0, "fix it, or remove it",
			       "profile '%s': %.500s refused: %s", name, out->origin, why);
	}
	int rc = spec_read_fd(fd, out->origin, &out->text, &out->len, err);
	close(fd);
	return rc < 0 ? -1 : 1;
}

static int dir_load(const char *dir, const char *name, struct profile_text *out, struct sk_err *err)
{
	const char *why;
	int dir_fd, rc;

	if (dir_open(dir, &dir_fd, err) < 0)
		return -1;
	if (dir_fd < 0)
		return 0;
	rc = file_load(dir_fd, dir, name, out, &why, err);
	close(dir_fd);
	return rc;
}

int profile_load(const char *name, const struct profile_dirs *dirs, struct profile_text *out,
		 struct sk_err *err)
{
	const struct profile_builtin *builtin = builtin_find(name);
	int rc;

	memset(out, 0, sizeof(*out));
	if (profile_check_name(name, err) < 0)
		return -1;
	if (builtin) {
		out->text = strdup(builtin->text);
		if (!out->text)
			return sk_fail(err, "policy", ENOMEM, NULL, "profile %s", name);
		out->len = strlen(out->text);
		out->is_builtin = true;
		sk_strlcpy(out->origin, "built-in", sizeof(out->origin));
		return 0;
	}
	rc = dir_load(dirs->user, name, out, err);
	if (rc == 0)
		rc = dir_load(dirs->system, name, out, err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return sk_fail(
		    err, "cli", 0,
		    "`stockade policy profiles` lists them; add one as "
		    "$STOCKADE_HOME/profiles/NAME.json or /etc/stockade/profiles/NAME.json",
		    "no profile '%s'", name);
	return 0;
}

void profile_text_free(struct profile_text *text)
{
	free(text->text);
	memset(text, 0, sizeof(*text));
}

/* ---- listing ---- */

static int name_compare(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of DIR/NAME.json with a valid NAME, sorted; *count of them, malloc'd. */
static char **dir_names(int dir_fd, size_t *count)
{
	int fd = dup(dir_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **names = NULL;
	struct dirent *entry;
	struct sk_err ignored = {0};

	*count = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((entry = readdir(d)) != NULL) {
		size_t len = strlen(entry->d_name);
		char name[PROFILE_NAME_MAX + 1];
		if (len <= 5 || len - 5 > PROFILE_NAME_MAX ||
		    strcmp(entry->d_name + len - 5, ".json") != 0)
			continue;
		memcpy(name, entry->d_name, len - 5);
		name[len - 5] = '\0';
		if (profile_check_name(name, &ignored) < 0)
			continue;
		char **more = realloc(names, (*count + 1) * sizeof(*names));
		if (!more)
			break;
		names = more;
		names[*count] = strdup(name);
		if (names[*count])
			(*count)++;
	}
	closedir(d);
	if (names)
		qsort(names, *count, sizeof(*names), name_compare);
	return names;
}

/* Why a profile file cannot be used, or "": refused by file_load, or not of a spec's shape
 * (its values are checked when it is used: `stockade policy show --profile NAME`). */
static void file_status(int dir_fd, const char *dir, const char *name, char *status, size_t size)
{
	struct profile_text text = {0};
	struct sk_err err = {0};
	struct spec_issues issues = {0};
	struct spec_doc doc;
	const char *why;

	status[0] = '\0';
	if (file_load(dir_fd, dir, name, &text, &why, &err) < 0) {
		snprintf(status, size, "refused: %s", why ? why : err.op);
		return;
	}
	char file[PROFILE_NAME_MAX + 8];
	snprintf(file, sizeof(file), "%s.json", name);
	(void)spec_doc_load(&doc, file, text.text, text.len, true, &issues);
	spec_issues_sort(&issues, 0);
	if (issues.count > 0)
		snprintf(status, size, "invalid: %s", issues.list[0].err.op);
	text.text = NULL; /* the doc owns it */
	spec_doc_free(&doc);
	spec_issues_free(&issues);
}

static void list_dir(const char *dir, const char *shadowing_dir, profile_list_fn fn, void *ctx)
{
	char origin[600], status[900];
	struct sk_err err = {0};
	size_t count = 0;
	char **names;
	int dir_fd, shadow_fd = -1;

	if (dir_open(dir, &dir_fd, &err) < 0) {
		fn(ctx, "-", dir, NULL, err.op);
		return;
	}
	if (dir_fd < 0)
		return;
	if (shadowing_dir && dir_open(shadowing_dir, &shadow_fd, &err) < 0)
		shadow_fd = -1;
	names = dir_names(dir_fd, &count);
	for (size_t i = 0; i < count; i++) {
		char file[PROFILE_NAME_MAX + 8];
		struct stat st;

		snprintf(origin, sizeof(origin), "%.400s/%s.json", dir, names[i]);
		snprintf(file, sizeof(file), "%s.json", names[i]);
		if (builtin_find(names[i]))
			snprintf(status, sizeof(status),
				 "ignored: a built-in profile has this name");
		else if (shadow_fd >= 0 && fstatat(shadow_fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0)
			snprintf(status, sizeof(status), "shadowed by %.400s/%s", shadowing_dir,
				 file);
		else
			file_status(dir_fd, dir, names[i], status, sizeof(status));
		fn(ctx, names[i], origin, NULL, status[0] ? status : NULL);
		free(names[i]);
	}
	free(names);
	if (shadow_fd >= 0)
		close(shadow_fd);
	close(dir_fd);
}

void profile_list(const struct profile_dirs *dirs, profile_list_fn fn, void *ctx)
{
	for (size_t i = 0; i < profile_builtin_count; i++)
		fn(ctx, profile_builtins[i].name, "built-in", profile_builtins[i].summary, NULL);
	list_dir(dirs->user, NULL, fn, ctx);
	list_dir(dirs->system, dirs->user, fn, ctx);
}
