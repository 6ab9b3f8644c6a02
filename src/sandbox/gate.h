/* The fail-closed gate in front of every launch: the layer probes (probe.h), cached per boot,
 * decide before anything is created whether the layers a run needs work here; if one does not
 * and the caller did not name it in --allow-degraded, the run is refused with the probe's
 * diagnosis. The cache only ever speeds up a refusal or a start: a layer it calls ok still
 * fails closed on its own if it fails now. */
#ifndef STOCKADE_GATE_H
#define STOCKADE_GATE_H

#include "sandbox/probe.h"
#include "sandbox/report.h"
#include "spec/spec.h"
#include "util/err.h"

/* Returns 0 when the run may go on (degraded layers the caller named are recorded in
 * report), -1 with err (exit 125) when it must not start. */
int gate_check(const struct sandbox_spec *spec, struct run_report *report, struct sk_err *err);

/* The spec's `require`: 0 when this machine offers what the spec's author demanded (a Landlock
 * ABI at least spec->require_landlock_abi), -1 with err (layer "landlock", exit 125) when not.
 * Not cached: one landlock_create_ruleset(VERSION) call. The CLI asks before it opens an output
 * or takes a volume; sandbox_run asks again before the probes. */
int gate_require(const struct sandbox_spec *spec, struct sk_err *err);

/* Drops the cache (after a launch failed in a layer the cache called ok). */
void gate_forget(void);

/* Parses a probe cache's text (size bytes; text has room for a NUL at text[size], and is
 * modified): 0 when it starts with key and fills every layer of results, -1 otherwise. Split
 * from the file reading so the parser can be fuzzed (tests/fuzz/fuzz_gate_cache.c). */
int gate_cache_parse(char *text, size_t size, const char *key,
		     struct probe_result results[PROBE_COUNT]);

/* The cache file's path, for tests and doctor. */
int gate_cache_path(char *buf, size_t size, struct sk_err *err);

#endif
