/* Positions in a JSON text (see jsonpos.h): one forward pass of a small state machine that
 * follows the structure (strings, scalars, nesting) and the path it is at. It runs on text
 * jansson has already accepted, but assumes nothing: any byte sequence ends it cleanly. */
#include "spec/jsonpos.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KEY_MAX 256

struct level {
	bool is_object;
	bool matches; /* the path down to here is the target's prefix */
	size_t index; /* array: the current element */
	char key[KEY_MAX];
	size_t key_len;
	bool is_key_whole; /* the key fitted in key[] (else it matches nothing) */
};

struct walker {
	const char *s;
	size_t len, at;
	int line, col;
	/* the question */
	const struct jsonpos_seg *target;
	size_t target_depth;
	bool want_key;
	bool is_by_key_end;
	size_t key_end;
	/* where we are */
	struct level levels[JSONPOS_MAX_DEPTH];
	size_t depth;
	/* the answer */
	bool is_found;
	struct jsonpos pos;
	char *path_buf;
	size_t path_size;
};

static void advance(struct walker *w)
{
	unsigned char c = (unsigned char)w->s[w->at++];

	if (c == '\n') {
		w->line++;
		w->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		w->col++;
	}
}

static void skip_space(struct walker *w)
{
	while (w->at < w->len && (w->s[w->at] == ' ' || w->s[w->at] == '\t' ||
				  w->s[w->at] == '\n' || w->s[w->at] == '\r'))
		advance(w);
}

/* From an opening quote to past the closing one; false when the text ends first. */
static bool skip_string(struct walker *w)
{
	advance(w);
	while (w->at < w->len) {
		char c = w->s[w->at];
		advance(w);
		if (c == '"')
			return true;
		if (c == '\\' && w->at < w->len)
			advance(w);
	}
	return false;
}

static bool skip_scalar(struct walker *w)
{
	size_t start = w->at;

	while (w->at < w->len && strchr("0123456789+-.eEtruefalsn", w->s[w->at]) && w->s[w->at])
		advance(w);
	return w->at > start;
}

/* A container too deep to track, skipped whole (its nesting only counted). */
static bool skip_container(struct walker *w)
{
	size_t nesting = 0;

	while (w->at < w->len) {
		char c = w->s[w->at];
		if (c == '"') {
			if (!skip_string(w))
				return false;
			continue;
		}
		advance(w);
		if (c == '{' || c == '[')
			nesting++;
		else if ((c == '}' || c == ']') && --nesting == 0)
			return true;
	}
	return false;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool read_hex4(const char *p, const char *end, uint32_t *value)
{
	*value = 0;
	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(p[i]);
		if (d < 0)
			return false;
		*value = *value << 4 | (uint32_t)d;
	}
	return true;
}

static size_t put_utf8(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The bytes a JSON string's body [p, end) stands for, into key (as jansson decodes them). */
static bool decode_key(const char *p, const char *end, struct level *level)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	char buf[4];
	size_t n = 0;

	level->key_len = 0;
	while (p < end) {
		if (*p != '\\') {
			buf[0] = *p++;
			n = 1;
		} else if (p + 1 < end && p[1] != 'u') {
			const char *hit = NULL;
			for (const char *m = simple; *m && !hit; m += 2)
				if (*m == p[1])
					hit = m;
			if (!hit)
				return false;
			buf[0] = hit[1];
			n = 1;
			p += 2;
		} else {
			uint32_t cp, low;
			if (!read_hex4(p + 2, end, &cp))
				return false;
			p += 6;
			if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u' && read_hex4(p + 2, end, &low) && low >= 0xdc00 &&
			    low < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				p += 6;
			}
			n = put_utf8(cp, buf);
		}
		if (level->key_len + n >= KEY_MAX)
			return false;
		memcpy(level->key + level->key_len, buf, n);
		level->key_len += n;
	}
	return true;
}

static bool segment_matches(const struct walker *w, size_t at)
{
	const struct jsonpos_seg *seg = &w->target[at];
	const struct level *level = &w->levels[at];

	if (level->is_object)
		return seg->key && level->is_key_whole && strlen(seg->key) == level->key_len &&
		       memcmp(seg->key, level->key, level->key_len) == 0;
	return !seg->key && seg->index == level->index;
}

/* The current level's segment changed (a new key or element): does the path still match? */
static void update_match(struct walker *w)
{
	size_t at = w->depth - 1;
	bool above = at == 0 || w->levels[at - 1].matches;

	w->levels[at].matches = above && at < w->target_depth && segment_matches(w, at);
}

static void found(struct walker *w, int line, int col)
{
	w->is_found = true;
	w->pos.line = line;
	w->pos.col = col;
}

static void format_levels(const struct walker *w, char *buf, size_t size)
{
	struct jsonpos_seg path[JSONPOS_MAX_DEPTH];

	for (size_t i = 0; i < w->depth; i++) {
		path[i].key = w->levels[i].is_object ? w->levels[i].key : NULL;
		path[i].index = w->levels[i].index;
	}
	jsonpos_format(path, w->depth, buf, size);
}

/* An object's key, at the opening quote: decoded, matched against the question. */
static bool read_key(struct walker *w)
{
	struct level *level = &w->levels[w->depth - 1];
	int line = w->line, col = w->col;
	size_t start = w->at;

	if (!skip_string(w))
		return false;
	level->is_key_whole = decode_key(w->s + start + 1, w->s + w->at - 1, level);
	level->key[level->key_len] = '\0';
	update_match(w);
	if (w->is_by_key_end && w->at == w->key_end) {
		format_levels(w, w->path_buf, w->path_size);
		found(w, line, col);
	} else if (w->want_key && level->matches && w->depth == w->target_depth) {
		found(w, line, col);
	}
	return true;
}

static bool push(struct walker *w, bool is_object)
{
	if (w->depth == JSONPOS_MAX_DEPTH)
		return skip_container(w);
	advance(w);
	w->levels[w->depth++] = (struct level){.is_object = is_object};
	if (!is_object)
		update_match(w);
	return true;
}

enum state { VALUE, AFTER_VALUE, KEY, COLON, FIRST_KEY, FIRST_ELEMENT };

/* One step of the walk; false when the walk is over (found, the end, or not JSON). */
static bool step(struct walker *w, enum state *state)
{
	char c;

	skip_space(w);
	if (w->at >= w->len || w->is_found)
		return false;
	c = w->s[w->at];
	switch (*state) {
	case FIRST_ELEMENT:
		if (c == ']') {
			advance(w);
			w->depth--;
			*state = AFTER_VALUE;
			return true;
		}
		*state = VALUE;
		return true;
	case VALUE: {
		bool is_here = w->depth == w->target_depth && !w->want_key && !w->is_by_key_end &&
			       (w->depth == 0 || w->levels[w->depth - 1].matches);
		if (is_here) {
			found(w, w->line, w->col);
			return false;
		}
		size_t depth_before = w->depth;
		if (c == '{' || c == '[') {
			if (!push(w, c == '{'))
				return false;
			*state = w->depth > depth_before ? (c == '{' ? FIRST_KEY : FIRST_ELEMENT)
							 : AFTER_VALUE;
			return true;
		}
		*state = AFTER_VALUE;
		return c == '"' ? skip_string(w) : skip_scalar(w);
	}
	case AFTER_VALUE:
		if (w->depth == 0)
			return false;
		if (c == ',') {
			advance(w);
			struct level *level = &w->levels[w->depth - 1];
			if (!level->is_object) {
				level->index++;
				update_match(w);
			}
			*state = level->is_object ? KEY : VALUE;
			return true;
		}
		if (c == (w->levels[w->depth - 1].is_object ? '}' : ']')) {
			advance(w);
			w->depth--;
			return true;
		}
		return false;
	case FIRST_KEY:
		if (c == '}') {
			advance(w);
			w->depth--;
			*state = AFTER_VALUE;
			return true;
		}
		/* fall through */
	case KEY:
		*state = COLON;
		return c == '"' && read_key(w);
	case COLON:
		*state = VALUE;
		if (c != ':')
			return false;
		advance(w);
		return true;
	}
	return false;
}

static void walk(struct walker *w, const char *text, size_t len)
{
	enum state state = VALUE;

	w->s = text;
	w->len = len;
	w->line = 1;
	w->col = 1;
	while (step(w, &state))
		;
}

int jsonpos_find(const char *text, size_t len, const struct jsonpos_seg *path, size_t depth,
		 bool want_key, struct jsonpos *out)
{
	struct walker w = {.target = path, .target_depth = depth};

	if (depth > JSONPOS_MAX_DEPTH)
		return -1;
	w.want_key = want_key && depth > 0 && path[depth - 1].key;
	walk(&w, text, len);
	if (!w.is_found)
		return -1;
	*out = w.pos;
	return 0;
}

int jsonpos_key_ending_at(const char *text, size_t len, size_t end, char *path_buf,
			  size_t path_size, struct jsonpos *out)
{
	struct walker w = {.is_by_key_end = true, .key_end = end};

	w.path_buf = path_buf;
	w.path_size = path_size;
	walk(&w, text, len);
	if (!w.is_found)
		return -1;
	*out = w.pos;
	return 0;
}

char *jsonpos_format(const struct jsonpos_seg *path, size_t depth, char *path_buf, size_t path_size)
{
	size_t used = 0;

	if (path_size == 0)
		return path_buf;
	path_buf[0] = '\0';
	for (size_t i = 0; i < depth && used + 1 < path_size; i++) {
		if (!path[i].key) {
			int n = snprintf(path_buf + used, path_size - used, "[%zu]", path[i].index);
			used = n < 0 ? used : used + (size_t)n;
			continue;
		}
		if (i > 0)
			path_buf[used++] = '.';
		for (const char *k = path[i].key; *k && used + 1 < path_size; k++) {
			unsigned char c = (unsigned char)*k;
			path_buf[used++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	if (used >= path_size)
		used = path_size - 1;
	path_buf[used] = '\0';
	return path_buf;
}
