/* srt settings -> stockade spec (see srt.h): the walk of the document, its fields and what
 * becomes of each, the filesystem and the credentials; the network is srt_net.c's. srt's
 * fields and their meaning are those of @anthropic-ai/sandbox-runtime 0.0.78
 * (dist/sandbox/sandbox-config.js: the schema; README.md: the read and write precedence). */
#define _GNU_SOURCE
#include "cli/srt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/srt_internal.h"
#include "spec/spec.h"
#include "util/macros.h"

#define SRT_PATH_MAX 4096

/* ---- notes ---- */

void srt_push_key(struct srt_walk *w, const char *key)
{
	if (w->depth < JSONPOS_MAX_DEPTH)
		w->path[w->depth] = (struct jsonpos_seg){.key = key};
	w->depth++;
}

void srt_push_index(struct srt_walk *w, size_t index)
{
	if (w->depth < JSONPOS_MAX_DEPTH)
		w->path[w->depth] = (struct jsonpos_seg){.key = NULL, .index = index};
	w->depth++;
}

void srt_pop(struct srt_walk *w)
{
	w->depth--;
}

void srt_note(struct srt_walk *w, bool is_error, bool want_key, const char *fmt, ...)
{
	struct srt_notes *notes = w->notes;
	size_t depth = w->depth < JSONPOS_MAX_DEPTH ? w->depth : JSONPOS_MAX_DEPTH;
	struct srt_note *n;
	va_list ap;

	if (is_error)
		notes->errors++;
	if (notes->count >= SRT_NOTES_MAX) {
		notes->dropped++;
		return;
	}
	n = &notes->list[notes->count++];
	memset(n, 0, sizeof(*n));
	n->is_error = is_error;
	if (jsonpos_find(w->text, w->len, w->path, depth, want_key, &n->pos) < 0)
		n->pos = (struct jsonpos){0, 0};
	jsonpos_format(w->path, depth, n->path, sizeof(n->path));
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
}

static int note_compare(const struct srt_note *a, const struct srt_note *b)
{
	if (a->pos.line != b->pos.line)
		return a->pos.line < b->pos.line ? -1 : 1;
	return a->pos.col < b->pos.col ? -1 : a->pos.col > b->pos.col;
}

/* In the order a reader meets them (stable: notes of one place keep their order). */
static void notes_sort(struct srt_notes *notes)
{
	for (size_t i = 1; i < notes->count; i++) {
		struct srt_note item = notes->list[i];
		size_t j = i;
		while (j > 0 && note_compare(&notes->list[j - 1], &item) > 0) {
			notes->list[j] = notes->list[j - 1];
			j--;
		}
		notes->list[j] = item;
	}
}

/* ---- the fields srt has, and what becomes of each ---- */

static const char no_helper[] = "srt's own helper program; stockade needs none";

static const struct srt_key top_keys[] = {
    {"network", SRT_OWN, true, NULL},
    {"filesystem", SRT_OWN, true, NULL},
    {"credentials", SRT_OWN, false, NULL},
    {"ignoreViolations", SRT_WARN_SET, false,
     "stockade has no per-command filter of what it reports: every egress decision goes to "
     "--audit, the first 10 denials to stderr"},
    {"enableWeakerNestedSandbox", SRT_WARN_TRUE, false,
     "stockade has no weaker mode: a layer that cannot be applied stops the run, unless "
     "--allow-degraded names it (and the report records it)"},
    {"enableWeakerNetworkIsolation", SRT_WARN_TRUE, false,
     "macOS only (trustd); no host service is reachable from a stockade sandbox"},
    {"allowAppleEvents", SRT_WARN_TRUE, false,
     "macOS only; a stockade sandbox can start nothing outside itself"},
    {"ripgrep", SRT_WARN_SET, false, no_helper},
    {"mandatoryDenySearchDepth", SRT_WARN_SET, false,
     "nothing of the host is writable in stockade, so the files srt searches for (.bashrc, "
     ".git/hooks, ...) stay unwritable at every depth"},
    {"allowPty", SRT_SAME, false, NULL},
    {"seccomp", SRT_WARN_SET, false,
     "srt's own seccomp helper; stockade loads its built-in filter itself"},
    {"bwrapPath", SRT_WARN_SET, false, no_helper},
    {"socatPath", SRT_WARN_SET, false, no_helper},
    {"javaAgentJarPath", SRT_WARN_SET, false,
     "no agent is put into the sandbox's JVMs: they reach stockade's proxy through "
     "HTTP(S)_PROXY only if they read it"},
    {"windows", SRT_WARN_SET, false, "Windows only"},
    {"git", SRT_WARN_SET, false,
     "stockade sets no git configuration (safe.directory): files in a volume belong to the "
     "sandbox's own user"},
};

static const struct srt_key filesystem_keys[] = {
    {"disabled", SRT_OWN, false, NULL},
    {"denyRead", SRT_OWN, true, NULL},
    {"allowRead", SRT_OWN, false, NULL},
    {"allowWrite", SRT_OWN, true, NULL},
    {"denyWrite", SRT_OWN, true, NULL},
    {"allowGitConfig", SRT_WARN_TRUE, false,
     "nothing of the host is writable, .git/config included"},
};

static const struct srt_key credentials_keys[] = {
    {"files", SRT_OWN, false, NULL},
    {"envVars", SRT_OWN, false, NULL},
    /* The machinery of masked credentials, said once with them (walk_credentials). */
    {"allowPlaintextInject", SRT_SAME, false, NULL},
    {"awsPairs", SRT_OWN, false, NULL},
    {"sigv4", SRT_OWN, false, NULL},
};

static bool is_set(const json_t *value)
{
	if (json_is_null(value) || json_is_false(value))
		return false;
	if (json_is_array(value))
		return json_array_size(value) > 0;
	if (json_is_object(value))
		return json_object_size(value) > 0;
	if (json_is_string(value))
		return json_string_length(value) > 0;
	return true;
}

static const struct srt_key *key_find(const struct srt_key *keys, size_t count, const char *key)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(keys[i].key, key) == 0)
			return &keys[i];
	return NULL;
}

/* An unknown key is refused: srt strips a key it does not know, so whether the author (or a
 * later srt) meant a restriction by it cannot be known here. */
void srt_walk_keys(struct srt_walk *w, const json_t *object, const struct srt_key *keys,
		   size_t count)
{
	char known[600];

	for (void *it = json_object_iter((json_t *)object); it;
	     it = json_object_iter_next((json_t *)object, it)) {
		const char *key = json_object_iter_key(it);
		const json_t *value = json_object_iter_value(it);
		const struct srt_key *k = key_find(keys, count, key);

		srt_push_key(w, key);
		if (!k) {
			known[0] = '\0';
			for (size_t i = 0; i < count; i++) {
				sk_strlcat(known, i ? ", " : "", sizeof(known));
				sk_strlcat(known, keys[i].key, sizeof(known));
			}
			srt_note(
			    w, true, true,
			    "unknown srt field: whether it restricts cannot be known here, so it "
			    "cannot be dropped (known here: %s)",
			    known);
		} else if ((k->action == SRT_SAME || k->action == SRT_WARN_TRUE) &&
			   !json_is_boolean(value)) {
			srt_note(w, true, false,
				 "expected true or false (srt refuses anything else)");
		} else if ((k->action == SRT_WARN_TRUE || k->action == SRT_WARN_SET) &&
			   is_set(value)) {
			srt_note(w, false, true, "not carried over: %s", k->why);
		} else if (k->action == SRT_REFUSE_SET && is_set(value)) {
			srt_note(w, true, true, "cannot be carried over: %s", k->why);
		}
		srt_pop(w);
	}
	for (size_t i = 0; i < count; i++)
		if (keys[i].is_required && !json_object_get(object, keys[i].key))
			srt_note(w, true, false,
				 "%s: missing (srt refuses a settings file without it)",
				 keys[i].key);
}

const json_t *srt_strings_at(struct srt_walk *w, const json_t *object, const char *key)
{
	const json_t *list = json_object_get(object, key);
	bool is_valid = true;
	size_t i;
	json_t *item;

	if (!list)
		return NULL;
	srt_push_key(w, key);
	if (!json_is_array(list)) { /* null too: srt takes a list or no key at all */
		srt_note(w, true, false, "expected a list of strings (srt refuses anything else)");
		srt_pop(w);
		return NULL;
	}
	json_array_foreach(list, i, item)
	{
		if (json_is_string(item))
			continue;
		srt_push_index(w, i);
		srt_note(w, true, false, "expected a string (srt refuses anything else)");
		srt_pop(w);
		is_valid = false;
	}
	srt_pop(w);
	return is_valid ? list : NULL;
}

/* ---- filesystem: what a stockade sandbox shows of the host ---- */

/* The host paths every stockade sandbox without --rootfs shows, read-only (spec.h's lists),
 * and its own /proc and /dev, which show the kernel's and the devices' files. */
static const char *const system_dirs[] = {SANDBOX_SYSTEM_DIRS};
static const char *const etc_entries[] = {SANDBOX_CURATED_ETC};

/* An absolute path made lexical: "//" and "." gone, ".." taken back, no trailing '/'. srt
 * resolves a path the same way (path.resolve). False when the text does not start at "/":
 * relative to srt's working directory or to "~", neither of which stockade shows. */
static bool path_normalize(const char *in, size_t in_len, char *out, size_t size)
{
	size_t used = 0;

	if (in_len == 0 || in[0] != '/' || size < 2)
		return false;
	for (size_t i = 0; i < in_len;) {
		size_t start, len;
		while (i < in_len && in[i] == '/')
			i++;
		start = i;
		while (i < in_len && in[i] != '/')
			i++;
		len = i - start;
		if (len == 0 || (len == 1 && in[start] == '.'))
			continue;
		if (len == 2 && in[start] == '.' && in[start + 1] == '.') {
			while (used > 0 && out[used - 1] != '/') /* back over the last component */
				used--;
			if (used > 0)
				used--;
			continue;
		}
		if (used + 1 + len >= size)
			return false;
		out[used++] = '/';
		memcpy(out + used, in + start, len);
		used += len;
	}
	if (used == 0)
		out[used++] = '/';
	out[used] = '\0';
	return true;
}

/* inner is outer or beneath it */
static bool is_within(const char *inner, const char *outer)
{
	size_t len = strlen(outer);

	if (strcmp(outer, "/") == 0)
		return true;
	return strncmp(inner, outer, len) == 0 && (inner[len] == '\0' || inner[len] == '/');
}

/* srt's read precedence: an allowRead entry lifts a deny of the region it covers, unless the
 * deny is more specific than it (the README: "a denyRead entry that is more specific than the
 * allowRead region it falls inside still stays denied"). */
static bool is_carved_out(const char *denied, const char *region, const json_t *allow_read)
{
	char allowed[SRT_PATH_MAX];
	size_t i;
	json_t *item;

	json_array_foreach(allow_read, i, item)
	{
		const char *text = json_string_value(item);
		if (text && path_normalize(text, strlen(text), allowed, sizeof(allowed)) &&
		    is_within(region, allowed) && is_within(allowed, denied))
			return true;
	}
	return false;
}

/* The first path stockade shows that the denied path (or pattern) overlaps and that srt would
 * hide, or NULL. */
static const char *shown_and_denied(const char *entry, const json_t *allow_read, char *shown,
				    size_t size)
{
	char denied[SRT_PATH_MAX];
	size_t literal = strcspn(entry, "*?[{");
	bool is_pattern = entry[literal] != '\0';
	const char *roots[ARRAY_SIZE(system_dirs) + ARRAY_SIZE(etc_entries) + 2];
	size_t count = 0;

	/* A pattern is judged by the directory it starts from: anything beneath may match. */
	if (is_pattern)
		while (literal > 0 && entry[literal - 1] != '/')
			literal--;
	if (!path_normalize(entry, is_pattern ? literal : strlen(entry), denied, sizeof(denied)))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++)
		roots[count++] = system_dirs[i];
	for (size_t i = 0; i < ARRAY_SIZE(etc_entries); i++)
		roots[count++] = etc_entries[i];
	roots[count++] = "proc";
	roots[count++] = "dev";
	for (size_t i = 0; i < count; i++) {
		bool is_etc = i >= ARRAY_SIZE(system_dirs) && i < count - 2;
		bool is_own = i >= count - 2; /* the sandbox's own /proc and /dev */
		snprintf(shown, size, "%s/%s", is_etc ? "/etc" : "", roots[i]);
		/* srt's deny of "/" leaves /proc, /dev and /sys alone */
		if (is_own && strcmp(denied, "/") == 0 && !is_pattern)
			continue;
		if (!is_within(shown, denied) && !is_within(denied, shown))
			continue;
		if (!is_pattern && allow_read &&
		    is_carved_out(denied, is_within(shown, denied) ? shown : denied, allow_read))
			continue;
		return shown;
	}
	return NULL;
}

/* A path srt hides from reads (denyRead, a credential file's deny) that stockade shows is a
 * restriction lost: an error. The rest stockade never shows. */
static void check_read_deny(struct srt_walk *w, const char *entry, const json_t *allow_read)
{
	char shown[SRT_PATH_MAX];

	if (!shown_and_denied(entry, allow_read, shown, sizeof(shown)))
		return;
	if (strcmp(shown, "/proc") == 0 || strcmp(shown, "/dev") == 0)
		srt_note(
		    w, true, false,
		    "\"%s\" cannot be hidden: every stockade sandbox has a %s of its own, with the "
		    "kernel's files in it, and no rule hides a path there",
		    entry, shown);
	else
		srt_note(w, true, false,
			 "\"%s\" cannot be hidden: every stockade sandbox shows the host's %s, "
			 "read-only, and no rule hides a path there",
			 entry, shown);
}

static void walk_filesystem(struct srt_walk *w, const json_t *fs, struct srt_found *f)
{
	const json_t *list, *disabled;
	size_t i;
	json_t *item;

	if (!json_is_object(fs)) {
		srt_note(w, true, false, "expected an object (srt refuses anything else)");
		return;
	}
	srt_walk_keys(w, fs, filesystem_keys, ARRAY_SIZE(filesystem_keys));
	disabled = json_object_get(fs, "disabled");
	srt_push_key(w, "disabled");
	if (disabled && !json_is_boolean(disabled))
		srt_note(w, true, false, "expected true or false (srt refuses anything else)");
	else if (json_is_true(disabled))
		srt_note(
		    w, false, true,
		    "not carried over: srt would give the command the host's whole file system, "
		    "read and write; stockade shows it only its system tree, read-only");
	srt_pop(w);
	f->is_fs_disabled = json_is_true(disabled);
	f->allow_read = srt_strings_at(w, fs, "allowRead");
	if ((list = srt_strings_at(w, fs, "denyRead"))) {
		srt_push_key(w, "denyRead");
		srt_note(
		    w, false, true,
		    "srt lets the command read the host's files but these; stockade shows it only "
		    "its system tree (/usr, /bin, /lib*, a curated /etc), read-only: bring other "
		    "files in as volumes (stockade volume import)");
		json_array_foreach(list, i, item)
		{
			if (f->is_fs_disabled) /* srt enforces no path rule then */
				break;
			srt_push_index(w, i);
			check_read_deny(w, json_string_value(item), f->allow_read);
			srt_pop(w);
		}
		srt_pop(w);
	}
	if (f->allow_read && json_array_size(f->allow_read) > 0) {
		srt_push_key(w, "allowRead");
		srt_note(
		    w, false, true,
		    "not carried over: no host path outside the system tree is shown in stockade; "
		    "bring files in as volumes (stockade volume import)");
		srt_pop(w);
	}
	if ((list = srt_strings_at(w, fs, "allowWrite")) && json_array_size(list) > 0) {
		srt_push_key(w, "allowWrite");
		srt_note(
		    w, false, true,
		    "not carried over: nothing of the host is writable in stockade (/tmp and $HOME "
		    "are the sandbox's own); work in a volume and take it out with stockade volume "
		    "export");
		srt_pop(w);
	}
	if ((list = srt_strings_at(w, fs, "denyWrite")) && json_array_size(list) > 0) {
		srt_push_key(w, "denyWrite");
		srt_note(w, false, true,
			 "holds without a rule: nothing of the host is writable in stockade");
		srt_pop(w);
	}
}

/* ---- credentials ---- */

/* The variables of the caller's environment that reach a stockade sandbox (sandbox/env.c):
 * LANG and TERM; PATH, HOME, USER and LOGNAME are stockade's own values. */
static bool is_passed_variable(const char *name)
{
	return strcmp(name, "LANG") == 0 || strcmp(name, "TERM") == 0;
}

/* Each entry: {"path"|"name": ..., "mode": "deny"|"mask", ...}; true when it is a mask. */
static bool credential_entry(struct srt_walk *w, const json_t *entry, bool is_file,
			     const struct srt_found *f)
{
	const char *mode = json_string_value(json_object_get(entry, "mode"));
	const char *what = json_string_value(json_object_get(entry, is_file ? "path" : "name"));

	if (!json_is_object(entry) || !what || !mode ||
	    (strcmp(mode, "deny") != 0 && strcmp(mode, "mask") != 0)) {
		srt_note(
		    w, true, false,
		    "srt refuses this entry: it needs \"%s\" and \"mode\" (\"deny\" or \"mask\")",
		    is_file ? "path" : "name");
		return false;
	}
	if (!is_file && is_passed_variable(what))
		srt_note(
		    w, true, false,
		    "\"%s\" cannot be hidden: stockade passes the caller's %s into the sandbox",
		    what, what);
	else if (is_file && !f->is_fs_disabled)
		check_read_deny(w, what, NULL); /* a credential's deny wins over allowRead */
	return strcmp(mode, "mask") == 0;
}

static void walk_credentials(struct srt_walk *w, const json_t *creds, const struct srt_found *f)
{
	static const char *const lists[] = {"files", "envVars"};
	bool has_mask = false;
	size_t i;
	json_t *item;

	if (!json_is_object(creds)) {
		srt_note(w, true, false, "expected an object (srt refuses anything else)");
		return;
	}
	srt_walk_keys(w, creds, credentials_keys, ARRAY_SIZE(credentials_keys));
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const json_t *list = json_object_get(creds, lists[l]);
		if (!list)
			continue;
		srt_push_key(w, lists[l]);
		if (!json_is_array(list))
			srt_note(w, true, false, "expected a list (srt refuses anything else)");
		json_array_foreach(list, i, item)
		{
			srt_push_index(w, i);
			has_mask |= credential_entry(w, item, l == 0, f);
			srt_pop(w);
		}
		srt_pop(w);
	}
	/* Deny entries hold without a word: the sandbox sees no host file outside the system tree
	 * and none of the caller's variables but LANG and TERM. A mask is a permission: the real
	 * value reaches the destinations srt injects it into. */
	if (has_mask || json_object_get(creds, "awsPairs") || json_object_get(creds, "sigv4"))
		srt_note(
		    w, false, true,
		    "not carried over: stockade's proxy injects no credential; the sandbox gets "
		    "neither the value nor a placeholder, so requests that need it fail");
}

/* ---- the document ---- */

static void walk_top(struct srt_walk *w, const json_t *root, struct srt_found *f)
{
	const json_t *value;

	srt_walk_keys(w, root, top_keys, ARRAY_SIZE(top_keys));
	/* The filesystem first: whether it is disabled decides whether credential files count. */
	if ((value = json_object_get(root, "filesystem"))) {
		srt_push_key(w, "filesystem");
		walk_filesystem(w, value, f);
		srt_pop(w);
	}
	if ((value = json_object_get(root, "network"))) {
		srt_push_key(w, "network");
		srt_walk_network(w, value, f);
		srt_pop(w);
	}
	if ((value = json_object_get(root, "credentials"))) {
		srt_push_key(w, "credentials");
		walk_credentials(w, value, f);
		srt_pop(w);
	}
}

/* {"stockade": 1} and, when srt would let anything out, the network rules. With nothing
 * allowed there is no network at all, so srt's denials have nothing left to deny. */
static json_t *spec_document(const struct srt_found *f)
{
	json_t *doc = json_pack("{s:i}", "stockade", 1);

	if (doc && json_array_size(f->allow) > 0)
		json_object_set_new(doc, "network",
				    json_pack("{s:O,s:O}", "allow", f->allow, "deny", f->deny));
	return doc;
}

json_t *srt_translate(const char *text, size_t len, struct srt_notes *notes)
{
	struct srt_walk w = {.text = text, .len = len, .notes = notes};
	struct srt_found f = {.allow = json_array(), .deny = json_array()};
	json_error_t error;
	json_t *root, *doc = NULL;

	memset(notes, 0, sizeof(*notes));
	/* Duplicate keys refused: JSON.parse takes the last one, a reader may take the first. */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
	if (!root) {
		srt_note(&w, true, false, "not valid JSON: %s", error.text);
		notes->list[0].pos =
		    (struct jsonpos){error.line, error.column > 0 ? error.column : 1};
	} else if (!json_is_object(root)) {
		srt_note(&w, true, false,
			 "expected an object: srt's settings are {\"network\": ..., "
			 "\"filesystem\": ...}");
	} else {
		walk_top(&w, root, &f);
	}
	if (notes->errors == 0 && f.allow && f.deny)
		doc = spec_document(&f);
	else if (notes->errors == 0)
		srt_note(&w, true, false, "out of memory");
	notes_sort(notes);
	json_decref(f.allow);
	json_decref(f.deny);
	json_decref(root);
	return doc;
}
