/* Strict parsers of sizes, durations, counts and CPU shares. Each returns 0 or -1 and never
 * accepts a value that would overflow 64 bits. */
#include "util/parse.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util/macros.h"

/* Reads "DIGITS[.DIGITS]" scaled by 10^decimals into *value; returns the end or NULL. */
static const char *parse_fixed(const char *p, unsigned decimals, uint64_t *value)
{
	uint64_t v = 0;
	bool has_digit = false;
	unsigned frac = 0;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
		has_digit = true;
	}
	if (*p == '.' && decimals > 0) {
		p++;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (frac == decimals)
				return NULL;
			if (v > (UINT64_MAX - 9) / 10)
				return NULL;
			v = v * 10 + (uint64_t)(*p - '0');
			frac++;
			has_digit = true;
		}
	}
	if (!has_digit)
		return NULL;
	for (; frac < decimals; frac++) {
		if (v > UINT64_MAX / 10)
			return NULL;
		v *= 10;
	}
	*value = v;
	return p;
}

static int mul_checked(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b != 0 && a > UINT64_MAX / b)
		return -1;
	*out = a * b;
	return 0;
}

int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
	uint64_t v;
	const char *end;

	if (!text)
		return -1;
	end = parse_fixed(text, 0, &v);
	if (!end || *end != '\0' || v < min || v > max)
		return -1;
	*value = v;
	return 0;
}

int parse_size(const char *text, uint64_t *bytes)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
	    {"", 0},	 {"b", 0},  {"k", 10},	{"kb", 10},  {"kib", 10}, {"m", 20},  {"mb", 20},
	    {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},	  {"tb", 40}, {"tib", 40},
	};
	uint64_t v;
	const char *end;
	char suffix[4];
	size_t n;

	if (!text)
		return -1;
	end = parse_fixed(text, 0, &v);
	if (!end)
		return -1;
	n = strlen(end);
	if (n >= sizeof(suffix))
		return -1;
	for (size_t i = 0; i <= n; i++)
		suffix[i] = (char)((end[i] >= 'A' && end[i] <= 'Z') ? end[i] + 32 : end[i]);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(suffix, units[i].suffix) == 0)
			return mul_checked(v, (uint64_t)1 << units[i].shift, bytes);
	}
	return -1;
}

int parse_duration_ms(const char *text, uint64_t *ms)
{
	uint64_t v;
	const char *end;

	if (!text)
		return -1;
	if (strlen(text) > 2 && strcmp(text + strlen(text) - 2, "ms") == 0) {
		char digits[32];
		size_t n = strlen(text) - 2;
		if (n >= sizeof(digits))
			return -1;
		memcpy(digits, text, n);
		digits[n] = '\0';
		return parse_uint(digits, 0, UINT64_MAX, ms);
	}
	end = parse_fixed(text, 3, &v); /* thousandths of the unit */
	if (!end)
		return -1;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		return mul_checked(v, 1, ms);
	if (strcmp(end, "m") == 0)
		return mul_checked(v, 60, ms);
	if (strcmp(end, "h") == 0)
		return mul_checked(v, 3600, ms);
	return -1;
}

int parse_cpus_milli(const char *text, uint64_t *milli)
{
	uint64_t v;
	const char *end;

	if (!text)
		return -1;
	end = parse_fixed(text, 3, &v);
	if (!end || *end != '\0' || v == 0 || v > 1024 * 1000)
		return -1;
	*milli = v;
	return 0;
}
