/* The spec document (see doc.h and docs/spec.md): read, parsed strictly, checked for shape,
 * then turned field by field into the `stockade run` flag each field matches. Positions of
 * errors found after parsing come from spec/jsonpos.c, asked only when there is an error. */
#define _GNU_SOURCE
#include "spec/doc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* In the order they are applied. network.mode comes after the rules: a rule implies the
 * allowlist (as --allow-net does), and a document that also says "mode" means its mode. */
const struct spec_field spec_fields[] = {
    {NULL, "env", "env", SPEC_LIST},
    {NULL, "workdir", "workdir", SPEC_STRING},
    {NULL, "uid", "uid", SPEC_INT},
    {NULL, "hostname", "hostname", SPEC_STRING},
    {NULL, "rootfs", "rootfs", SPEC_STRING},
    {NULL, "volumes", "volume", SPEC_LIST},
    {NULL, "keep_volumes", "keep-volumes", SPEC_BOOL},
    {NULL, "workspace", "workspace", SPEC_STRING},
    {NULL, "workspace_name", "workspace-name", SPEC_STRING},
    {NULL, "workspace_copy", "workspace-copy", SPEC_BOOL},
    {NULL, "apply_on_success", "apply-on-success", SPEC_BOOL},
    {NULL, "secrets", "secret", SPEC_LIST},
    {NULL, "credentials", "credential", SPEC_LIST},
    {"network", "allow", "allow-net", SPEC_LIST},
    {"network", "deny", "deny-net", SPEC_LIST},
    {"network", "dns_server", "dns-server", SPEC_STRING},
    {"network", "hosts_file", "hosts-file", SPEC_STRING},
    {"network", "ca_file", "ca-file", SPEC_STRING},
    {"network", "mode", "network", SPEC_STRING},
    {"limits", "memory", "memory", SPEC_SIZE},
    {"limits", "pids", "pids-limit", SPEC_INT},
    {"limits", "cpus", "cpus", SPEC_NUMBER},
    {"limits", "timeout", "timeout", SPEC_NUMBER},
    {"limits", "output", "output-limit", SPEC_SIZE},
    {"limits", "tmpfs", "tmpfs-size", SPEC_SIZE},
    {NULL, "allow_degraded", "allow-degraded", SPEC_LIST},
    {NULL, "tty", "tty", SPEC_STRING},
    {NULL, "report", "report", SPEC_STRING},
    {NULL, "audit", "audit", SPEC_STRING},
    {NULL, "quiet", "quiet", SPEC_BOOL},
    {"require", "landlock_abi", "require", SPEC_INT},
};
const size_t spec_field_count = sizeof(spec_fields) / sizeof(spec_fields[0]);

/* Keys of the top level that are not fields of the table. */
static const char *const top_keys[] = {"stockade", "profile", "command",
				       "network",  "limits",  "require"};

/* ---- issues ---- */

static int issue_compare(const void *a, const void *b)
{
	const struct spec_issue *x = a, *y = b;

	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return 0;
}

void spec_issues_sort(struct spec_issues *issues, size_t from)
{
	/* Insertion sort: stable, and the lists are short. */
	for (size_t i = from + 1; i < issues->count; i++) {
		struct spec_issue item = issues->list[i];
		size_t j = i;
		while (j > from && issue_compare(&issues->list[j - 1], &item) > 0) {
			issues->list[j] = issues->list[j - 1];
			j--;
		}
		issues->list[j] = item;
	}
}

void spec_issues_free(struct spec_issues *issues)
{
	free(issues->list);
	memset(issues, 0, sizeof(*issues));
}

static struct spec_issue *issue_new(struct spec_issues *issues)
{
	struct spec_issue *list;

	if (issues->count >= SPEC_ISSUES_MAX) {
		issues->dropped++;
		return NULL;
	}
	list = realloc(issues->list, (issues->count + 1) * sizeof(*list));
	if (!list) {
		issues->dropped++;
		return NULL;
	}
	issues->list = list;
	memset(&list[issues->count], 0, sizeof(*list));
	return &list[issues->count++];
}

void spec_issues_add(struct spec_issues *issues, const struct sk_err *err)
{
	struct spec_issue *issue = issue_new(issues);

	if (issue)
		issue->err = *err;
}

static void issue_add(struct spec_issues *issues, struct jsonpos pos, const char *name,
		      const char *path, const struct sk_err *what)
{
	struct spec_issue *issue = issue_new(issues);

	if (!issue)
		return;
	issue->pos = pos;
	sk_strlcpy(issue->path, path ? path : "", sizeof(issue->path));
	issue->err = *what;
	issue->err.exit_code = 125;
	sk_strlcpy(issue->err.layer, "policy", sizeof(issue->err.layer));
	char place[64] = "";
	if (pos.line > 0)
		snprintf(place, sizeof(place), ":%d:%d", pos.line, pos.col);
	char line[sizeof(issue->err.op) + 400];
	snprintf(line, sizeof(line), "%.100s%s: %s%s%s", name, place, path ? path : "",
		 path && path[0] ? ": " : "", what->op);
	sk_strlcpy(issue->err.op, line, sizeof(issue->err.op));
}

void spec_doc_issue(const struct spec_doc *doc, struct spec_issues *issues,
		    const struct jsonpos_seg *path, size_t depth, bool want_key,
		    const struct sk_err *what)
{
	struct jsonpos pos = {0, 0};
	char shown[200];

	if (jsonpos_find(doc->text, doc->len, path, depth, want_key, &pos) < 0)
		pos = (struct jsonpos){0, 0};
	issue_add(issues, pos, doc->name, jsonpos_format(path, depth, shown, sizeof(shown)), what);
}

static void issue_fmt(const struct spec_doc *doc, struct spec_issues *issues,
		      const struct jsonpos_seg *path, size_t depth, bool want_key, const char *hint,
		      const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void issue_fmt(const struct spec_doc *doc, struct spec_issues *issues,
		      const struct jsonpos_seg *path, size_t depth, bool want_key, const char *hint,
		      const char *fmt, ...)
{
	struct sk_err what = {0};
	va_list ap;

	(void)sk_fail(&what, "policy", 0, hint, "%s", "");
	va_start(ap, fmt);
	vsnprintf(what.op, sizeof(what.op), fmt, ap);
	va_end(ap);
	spec_doc_issue(doc, issues, path, depth, want_key, &what);
}

/* ---- reading ---- */

int spec_read_fd(int fd, const char *name, char **text, size_t *len, struct sk_err *err)
{
	struct stat st;
	size_t used = 0, size = 4096;
	char *buf;

	*text = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0)
		return sk_fail(err, "policy", errno, NULL, "fstat %.200s", name);
	if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && strcmp(name, "-") != 0))
		return sk_fail(err, "policy", 0, "a spec is read from a file, a pipe or stdin (-)",
			       "%.200s: not a file", name);
	if (S_ISREG(st.st_mode) && st.st_size >= 0 && (size_t)st.st_size < SPEC_TEXT_MAX)
		size = (size_t)st.st_size + 1;
	buf = malloc(size + 1);
	if (!buf)
		return sk_fail(err, "policy", ENOMEM, NULL, "reading %.200s", name);
	for (;;) {
		if (used == size) {
			char *bigger = size > SPEC_TEXT_MAX ? NULL : realloc(buf, size * 2 + 1);
			if (!bigger) {
				free(buf);
				return sk_fail(err, "policy", size > SPEC_TEXT_MAX ? 0 : ENOMEM,
					       "a spec is at most 1 MiB", "%.200s: too large",
					       name);
			}
			buf = bigger;
			size *= 2;
		}
		ssize_t n = read(fd, buf + used, size - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return sk_fail(err, "policy", errno, NULL, "read %.200s", name);
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > SPEC_TEXT_MAX) {
		free(buf);
		return sk_fail(err, "policy", 0, "a spec is at most 1 MiB", "%.200s: too large",
			       name);
	}
	buf[used] = '\0';
	*text = buf;
	*len = used;
	return 0;
}

int spec_read_path(const char *path, char **text, size_t *len, struct sk_err *err)
{
	int fd, rc;

	if (strcmp(path, "-") == 0)
		return spec_read_fd(STDIN_FILENO, "-", text, len, err);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return sk_fail(err, "policy", errno, NULL, "open %.200s", path);
	rc = spec_read_fd(fd, path, text, len, err);
	close(fd);
	return rc;
}

/* ---- shape ---- */

static const char *json_kind(const json_t *value)
{
	switch (json_typeof(value)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* NULL when value (not null) has the field's type, else what was expected. */
static const char *type_expected(enum spec_field_type type, const json_t *value)
{
	switch (type) {
	case SPEC_STRING:
		return json_is_string(value) ? NULL : "a string";
	case SPEC_BOOL:
		return json_is_boolean(value) ? NULL : "true or false";
	case SPEC_INT:
		return json_is_integer(value) ? NULL : "an integer";
	case SPEC_SIZE:
		return json_is_string(value) || json_is_integer(value)
			   ? NULL
			   : "a size: a string such as \"512m\", or an integer (bytes)";
	case SPEC_NUMBER:
		return json_is_string(value) || json_is_number(value)
			   ? NULL
			   : "a string such as \"0.5\" or \"30s\", or a number";
	case SPEC_LIST:
		return json_is_array(value) ? NULL : "a list of strings";
	}
	return "?";
}

static const struct spec_field *field_find(const char *section, const char *key)
{
	for (size_t i = 0; i < spec_field_count; i++) {
		const struct spec_field *f = &spec_fields[i];
		bool same_section = (!section && !f->section) ||
				    (section && f->section && strcmp(section, f->section) == 0);
		if (same_section && strcmp(key, f->key) == 0)
			return f;
	}
	return NULL;
}

static void known_keys(const char *section, char *buf, size_t size)
{
	buf[0] = '\0';
	if (!section)
		for (size_t i = 0; i < sizeof(top_keys) / sizeof(top_keys[0]); i++) {
			sk_strlcat(buf, buf[0] ? ", " : "", size);
			sk_strlcat(buf, top_keys[i], size);
		}
	for (size_t i = 0; i < spec_field_count; i++) {
		const struct spec_field *f = &spec_fields[i];
		if ((!section && f->section) ||
		    (section && (!f->section || strcmp(section, f->section) != 0)))
			continue;
		sk_strlcat(buf, buf[0] ? ", " : "", size);
		sk_strlcat(buf, f->key, size);
	}
}

/* A field's value: its type, and a list's elements. */
static void check_field(const struct spec_doc *doc, struct spec_issues *issues,
			const struct spec_field *f, const json_t *value, struct jsonpos_seg *path,
			size_t depth)
{
	const char *expected;
	size_t i;
	json_t *item;

	if (json_is_null(value))
		return;
	expected = type_expected(f->type, value);
	if (expected) {
		issue_fmt(doc, issues, path, depth, false, NULL, "expected %s, got %s", expected,
			  json_kind(value));
		return;
	}
	if (f->type != SPEC_LIST)
		return;
	for (i = 0; i < json_array_size(value); i++) {
		item = json_array_get(value, i);
		if (json_is_string(item))
			continue;
		path[depth] = (struct jsonpos_seg){.key = NULL, .index = i};
		issue_fmt(doc, issues, path, depth + 1, false, NULL, "expected a string, got %s",
			  json_kind(item));
	}
}

static void check_version(const struct spec_doc *doc, struct spec_issues *issues,
			  const json_t *value, struct jsonpos_seg *path)
{
	if (!json_is_integer(value))
		issue_fmt(doc, issues, path, 1, false, "\"stockade\": 1", "expected %d, got %s",
			  SPEC_VERSION, json_kind(value));
	else if (json_integer_value(value) != SPEC_VERSION)
		issue_fmt(doc, issues, path, 1, false, "this stockade reads version 1 of the spec",
			  "version %lld is not supported", (long long)json_integer_value(value));
}

static void check_command(struct spec_doc *doc, struct spec_issues *issues, const json_t *value,
			  struct jsonpos_seg *path)
{
	size_t i, count;
	json_t *item;
	bool is_valid = true;

	doc->has_command = true;
	if (json_is_null(value))
		return;
	if (!json_is_array(value) || json_array_size(value) == 0) {
		issue_fmt(doc, issues, path, 1, false,
			  "the program and its arguments, e.g. [\"make\", \"-j4\"]",
			  "expected a non-empty list of strings, got %s%s", json_kind(value),
			  json_is_array(value) ? " with nothing in it" : "");
		return;
	}
	for (i = 0; i < json_array_size(value); i++) {
		item = json_array_get(value, i);
		path[1] = (struct jsonpos_seg){.key = NULL, .index = i};
		if (!json_is_string(item)) {
			issue_fmt(doc, issues, path, 2, false, NULL, "expected a string, got %s",
				  json_kind(item));
			is_valid = false;
		} else if (i == 0 && json_string_value(item)[0] == '\0') {
			issue_fmt(doc, issues, path, 2, false, NULL, "empty command name");
			is_valid = false;
		}
	}
	count = json_array_size(value);
	if (!is_valid)
		return;
	doc->argv = calloc(count + 1, sizeof(char *));
	if (!doc->argv) {
		issue_fmt(doc, issues, path, 1, false, NULL, "out of memory");
		return;
	}
	for (i = 0; i < count; i++) /* the strings live as long as doc->root */
		doc->argv[i] = (char *)json_string_value(json_array_get(value, i));
}

static void check_section(const struct spec_doc *doc, struct spec_issues *issues,
			  const char *section, const json_t *object, struct jsonpos_seg *path)
{
	const char *key;
	json_t *value;
	char known[400];

	if (!json_is_object(object)) {
		issue_fmt(doc, issues, path, 1, false, NULL, "expected an object, got %s",
			  json_kind(object));
		return;
	}
	for (void *it = json_object_iter((json_t *)object); it;
	     it = json_object_iter_next((json_t *)object, it)) {
		key = json_object_iter_key(it);
		value = json_object_iter_value(it);
		const struct spec_field *f = field_find(section, key);
		path[1] = (struct jsonpos_seg){.key = key};
		if (f) {
			check_field(doc, issues, f, value, path, 2);
		} else {
			known_keys(section, known, sizeof(known));
			issue_fmt(doc, issues, path, 2, true, NULL, "unknown key (known here: %s)",
				  known);
		}
	}
}

static void check_top(struct spec_doc *doc, struct spec_issues *issues, bool is_profile)
{
	struct jsonpos_seg path[3];
	const char *key;
	json_t *value;
	char known[400];

	for (void *it = json_object_iter(doc->root); it;
	     it = json_object_iter_next(doc->root, it)) {
		key = json_object_iter_key(it);
		value = json_object_iter_value(it);
		const struct spec_field *f = field_find(NULL, key);
		path[0] = (struct jsonpos_seg){.key = key};
		if (strcmp(key, "stockade") == 0) {
			check_version(doc, issues, value, path);
		} else if (strcmp(key, "profile") == 0) {
			if (is_profile)
				issue_fmt(doc, issues, path, 1, true, NULL,
					  "a profile cannot name another profile");
			else if (json_is_string(value))
				doc->profile = json_string_value(value);
			else if (!json_is_null(value))
				issue_fmt(doc, issues, path, 1, false,
					  "the name of a profile (stockade policy profiles)",
					  "expected a string, got %s", json_kind(value));
		} else if (strcmp(key, "command") == 0) {
			check_command(doc, issues, value, path);
		} else if (strcmp(key, "network") == 0 || strcmp(key, "limits") == 0 ||
			   strcmp(key, "require") == 0) {
			check_section(doc, issues, key, value, path);
		} else if (f) {
			check_field(doc, issues, f, value, path, 1);
		} else {
			known_keys(NULL, known, sizeof(known));
			issue_fmt(doc, issues, path, 1, true, NULL, "unknown key (known here: %s)",
				  known);
		}
	}
	if (!json_object_get(doc->root, "stockade"))
		issue_fmt(doc, issues, path, 0, false, "a spec starts with \"stockade\": 1",
			  "stockade: missing (the version of the spec)");
}

/* jansson's own error: syntax, or a duplicate key, which gets its path from the text. */
static void parse_issue(struct spec_doc *doc, struct spec_issues *issues, const json_error_t *error)
{
	struct sk_err what = {0};
	struct jsonpos pos = {error->line, error->column > 0 ? error->column : 1};
	char path[200];

	(void)sk_fail(&what, "policy", 0, NULL, "%s", error->text);
	if (json_error_code(error) == json_error_duplicate_key &&
	    jsonpos_key_ending_at(doc->text, doc->len, (size_t)error->position, path, sizeof(path),
				  &pos) == 0) {
		(void)sk_fail(&what, "policy", 0, "each key once", "duplicate key");
		issue_add(issues, pos, doc->name, path, &what);
		return;
	}
	if (error->line < 1)
		pos = (struct jsonpos){0, 0};
	issue_add(issues, pos, doc->name, NULL, &what);
}

int spec_doc_load(struct spec_doc *doc, const char *name, char *text, size_t len, bool is_profile,
		  struct spec_issues *issues)
{
	json_error_t error;

	memset(doc, 0, sizeof(*doc));
	sk_strlcpy(doc->name, name, sizeof(doc->name));
	doc->text = text;
	doc->len = len;
	/* Duplicate keys refused: with two "memory" keys, which one a reader (or another
	 * parser) believes is anyone's guess. */
	doc->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
	if (!doc->root) {
		parse_issue(doc, issues, &error);
		return -1;
	}
	if (!json_is_object(doc->root)) {
		issue_fmt(doc, issues, NULL, 0, false,
			  "a spec is a JSON object: {\"stockade\": 1, ...}",
			  "expected an object, got %s", json_kind(doc->root));
		return -1;
	}
	check_top(doc, issues, is_profile);
	return 0;
}

/* ---- applying ---- */

/* The shortest decimal text that reads back as the same double (0.1 -> "0.1"). */
static void real_text(double value, char *buf, size_t size)
{
	for (int precision = 1; precision <= 17; precision++) {
		snprintf(buf, size, "%.*g", precision, value);
		if (strtod(buf, NULL) == value)
			return;
	}
}

/* The flag's value text for a scalar (not a list); NULL for a flag without a value. Numbers
 * are written into buf: only flags that parse their value at once take numbers, never one that
 * keeps the pointer. */
static const char *scalar_text(const json_t *value, char *buf, size_t size)
{
	if (json_is_string(value))
		return json_string_value(value);
	if (json_is_integer(value)) {
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		return buf;
	}
	if (json_is_real(value)) {
		real_text(json_real_value(value), buf, size);
		return buf;
	}
	return NULL;
}

static bool apply_one(const struct spec_doc *doc, spec_apply_fn fn, void *ctx,
		      const struct spec_field *f, enum spec_apply_kind kind, const char *text,
		      const struct jsonpos_seg *path, size_t depth, struct spec_issues *issues)
{
	struct sk_err what = {0};

	if (fn(ctx, f->flag, kind, text, &what) == 0)
		return true;
	spec_doc_issue(doc, issues, path, depth, false, &what);
	return false;
}

static bool apply_field(const struct spec_doc *doc, const struct spec_field *f, spec_apply_fn fn,
			void *ctx, struct spec_issues *issues)
{
	struct jsonpos_seg path[3];
	size_t depth = 0, i;
	const json_t *value = doc->root;
	json_t *item;
	char buf[64];
	bool is_ok = true;

	if (f->section) {
		value = json_object_get(value, f->section);
		path[depth++] = (struct jsonpos_seg){.key = f->section};
		if (!json_is_object(value))
			return true;
	}
	value = json_object_get(value, f->key);
	path[depth++] = (struct jsonpos_seg){.key = f->key};
	if (!value || (!json_is_null(value) && type_expected(f->type, value)))
		return true; /* absent; or of the wrong type, which spec_doc_load reported */
	if (json_is_null(value) || json_is_false(value))
		return apply_one(doc, fn, ctx, f, SPEC_RESET, NULL, path, depth, issues);
	if (f->section && strcmp(f->section, "require") == 0) {
		/* One flag for the section, its value NAME=VALUE: --require landlock_abi=N */
		char text[96];
		snprintf(text, sizeof(text), "%s=%s", f->key, scalar_text(value, buf, sizeof(buf)));
		return apply_one(doc, fn, ctx, f, SPEC_SET, text, path, depth, issues);
	}
	if (f->type != SPEC_LIST)
		return apply_one(doc, fn, ctx, f, SPEC_SET, scalar_text(value, buf, sizeof(buf)),
				 path, depth, issues);
	for (i = 0; i < json_array_size(value); i++) {
		item = json_array_get(value, i);
		if (!json_is_string(item))
			continue;
		path[depth] = (struct jsonpos_seg){.key = NULL, .index = i};
		is_ok &= apply_one(doc, fn, ctx, f, SPEC_SET, json_string_value(item), path,
				   depth + 1, issues);
	}
	return is_ok;
}

int spec_doc_apply(const struct spec_doc *doc, spec_apply_fn fn, void *ctx,
		   struct spec_issues *issues)
{
	bool is_ok = true;

	for (size_t i = 0; i < spec_field_count; i++)
		is_ok &= apply_field(doc, &spec_fields[i], fn, ctx, issues);
	return is_ok ? 0 : -1;
}

void spec_doc_free(struct spec_doc *doc)
{
	json_decref(doc->root);
	free(doc->argv);
	free(doc->text);
	memset(doc, 0, sizeof(*doc));
}
