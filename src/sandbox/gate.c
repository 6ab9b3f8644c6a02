/* The gate and its per-boot cache of probe results. The cache is a small text file in the
 * state directory, keyed by the boot id, stockade's version and binary, and the effective uid;
 * anything else (a missing, stale, foreign or malformed file) means probing again. */
#include "sandbox/gate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/landlock.h"
#include "util/macros.h"
#include "util/paths.h"

#define CACHE_MAGIC "stockade-probe-cache 1"
#define CACHE_MAX 16384

/* Which --allow-degraded bit lets a run go on without each probed layer (0: none does). */
static unsigned degradable_bit(enum probe_layer layer)
{
	switch (layer) {
	case PROBE_LANDLOCK:
		return LAYER_LANDLOCK;
	case PROBE_SECCOMP:
		return LAYER_SECCOMP;
	case PROBE_CGROUP:
		return LAYER_CGROUP;
	default:
		return 0;
	}
}

/* Every required layer, the cgroup when the run asks for limits, overlay for a workspace. */
static bool is_needed(const struct sandbox_spec *spec, const struct probe_result *r)
{
	bool has_limits = spec->memory_bytes || spec->pids_limit || spec->cpus_milli;
	bool has_overlay = spec->workspace.is_set && !spec->workspace.is_copy;

	return r->is_required || (r->layer == PROBE_CGROUP && has_limits) ||
	       (r->layer == PROBE_OVERLAY && has_overlay);
}

/* The key: boot, version, binary (inode, size, mtime) and uid. */
static int cache_key(char *buf, size_t size)
{
	char boot[64] = {0};
	struct stat st;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, boot, sizeof(boot) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0 || stat("/proc/self/exe", &st) < 0)
		return -1;
	boot[strcspn(boot, "\n")] = '\0';
	snprintf(buf, size, "%s\nboot %s\nversion %s\nexe %llu:%lld:%lld\nuid %u\n", CACHE_MAGIC,
		 boot, STOCKADE_VERSION, (unsigned long long)st.st_ino, (long long)st.st_size,
		 (long long)st.st_mtime, (unsigned)geteuid());
	return 0;
}

int gate_cache_path(char *buf, size_t size, struct sk_err *err)
{
	char home[4096];

	if (paths_home(home, sizeof(home), err) < 0)
		return -1;
	if (snprintf(buf, size, "%s/probe-cache", home) >= (int)size)
		return sk_fail(err, "state", ENAMETOOLONG, NULL, "probe cache path");
	return 0;
}

/* Copies a field without the tabs and newlines that delimit the cache's records. */
static void put_field(char *dst, size_t size, const char *src)
{
	size_t n = sk_strlcpy(dst, src, size);

	for (size_t i = 0; i < n; i++)
		if (dst[i] == '\t' || dst[i] == '\n')
			dst[i] = ' ';
}

static int parse_record(char *line, struct probe_result results[PROBE_COUNT])
{
	char *fields[6];
	int count = 0;

	for (char *p = line; count < 6; count++) {
		fields[count] = p;
		p = strchr(p, '\t');
		if (!p) {
			count++;
			break;
		}
		*p++ = '\0';
	}
	if (count != 6)
		return -1;
	for (int i = 0; i < PROBE_COUNT; i++) {
		if (strcmp(results[i].name, fields[0]) != 0)
			continue;
		results[i].status = (enum probe_status)atoi(fields[1]);
		results[i].errnum = atoi(fields[2]);
		put_field(results[i].op, sizeof(results[i].op), fields[3]);
		put_field(results[i].diagnosis, sizeof(results[i].diagnosis), fields[4]);
		put_field(results[i].remedy, sizeof(results[i].remedy), fields[5]);
		return results[i].status <= PROBE_BROKEN ? 1 : -1;
	}
	return -1;
}

int gate_cache_parse(char *text, size_t size, const char *key,
		     struct probe_result results[PROBE_COUNT])
{
	size_t key_len = strlen(key);
	int filled = 0;

	if (size <= key_len || memcmp(text, key, key_len) != 0)
		return -1;
	text[size] = '\0';
	for (char *line = text + key_len, *end; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			return -1;
		*end = '\0';
		if (parse_record(line, results) != 1)
			return -1;
		filled++;
	}
	return filled == PROBE_COUNT ? 0 : -1;
}

/* Loads the cache if its key matches; returns 0 with every layer filled, -1 otherwise. */
static int cache_load(const char *path, const char *key, struct probe_result results[PROBE_COUNT])
{
	char text[CACHE_MAX + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, text, CACHE_MAX);
	close(fd);
	return n < 0 ? -1 : gate_cache_parse(text, (size_t)n, key, results);
}

static void cache_store(const char *path, const char *key,
			const struct probe_result results[PROBE_COUNT])
{
	char text[CACHE_MAX], tmp[4200];
	size_t used = sk_strlcpy(text, key, sizeof(text));
	struct sk_err err = {0};
	char home[4096];
	int fd;

	if (paths_ensure_home(home, sizeof(home), &err) < 0)
		return; /* no cache: every run probes, which is slower but as safe */
	for (int i = 0; i < PROBE_COUNT && used < sizeof(text); i++) {
		char op[sizeof(results[i].op)], diagnosis[sizeof(results[i].diagnosis)],
		    remedy[sizeof(results[i].remedy)];
		put_field(op, sizeof(op), results[i].op);
		put_field(diagnosis, sizeof(diagnosis), results[i].diagnosis);
		put_field(remedy, sizeof(remedy), results[i].remedy);
		used += (size_t)snprintf(
		    text + used, sizeof(text) - used, "%s\t%d\t%d\t%s\t%s\t%s\n", results[i].name,
		    (int)results[i].status, results[i].errnum, op, diagnosis, remedy);
	}
	if (used >= sizeof(text))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (write(fd, text, used) != (ssize_t)used || close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

static void results_init(struct probe_result results[PROBE_COUNT])
{
	/* Names and requiredness come from the probe table; probing one layer is not needed
	 * for that, so take them from a cheap, never-run template. */
	static struct probe_result template[PROBE_COUNT];
	static bool has_template;

	if (!has_template) {
		probe_describe(template);
		has_template = true;
	}
	memcpy(results, template, sizeof(template));
}

static int refuse(const struct probe_result *r, struct sk_err *err)
{
	char hint[768];

	snprintf(hint, sizeof(hint), "%s; %s; `stockade doctor` explains", r->diagnosis, r->remedy);
	return sk_fail(err, r->name, r->errnum, hint, "%s (%s)", r->op[0] ? r->op : "probe",
		       probe_status_name(r->status));
}

/* The first layer the run needs that does not work, or NULL. */
static const struct probe_result *first_missing(const struct sandbox_spec *spec,
						const struct probe_result results[PROBE_COUNT])
{
	for (int i = 0; i < PROBE_COUNT; i++)
		if (results[i].status != PROBE_OK && is_needed(spec, &results[i]))
			return &results[i];
	return NULL;
}

int gate_check(const struct sandbox_spec *spec, struct run_report *report, struct sk_err *err)
{
	struct probe_result results[PROBE_COUNT];
	char key[512] = "", path[4200] = "";
	struct sk_err ignored = {0};
	bool is_cached = false;

	results_init(results);
	if (cache_key(key, sizeof(key)) < 0 || gate_cache_path(path, sizeof(path), &ignored) < 0)
		key[0] = path[0] = '\0';
	else
		is_cached = cache_load(path, key, results) == 0;
	/* Only an "ok" is taken from the cache: a refusal is always decided by probing now, so
	 * an operator who fixed the host is not refused on the word of an old probe. */
	if (is_cached && first_missing(spec, results))
		is_cached = false;
	if (!is_cached) {
		probe_all(results);
		if (key[0] && path[0])
			cache_store(path, key, results);
	}
	for (int i = 0; i < PROBE_COUNT; i++) {
		const struct probe_result *r = &results[i];
		/* Named by the caller: the layer's own prepare/apply records what it skips. */
		if (r->status != PROBE_OK && is_needed(spec, r) &&
		    !(spec->allow_degraded & degradable_bit(r->layer)))
			return refuse(r, err);
	}
	report_layer(report, "gate", true, false,
		     is_cached ? "layer probes from this boot's cache" : "layers probed now");
	return 0;
}

/* The first Linux release of each Landlock ABI: what to tell the operator of an older kernel. */
static const char *const landlock_abi_kernels[] = {NULL,  "5.13", "5.19", "6.2",
						   "6.7", "6.10", "6.12", "6.15"};

int gate_require(const struct sandbox_spec *spec, struct sk_err *err)
{
	const unsigned want = spec->require_landlock_abi;
	const unsigned known = (unsigned)ARRAY_SIZE(landlock_abi_kernels) - 1;
	struct probe_result probe;
	struct sk_err no_landlock = {0};
	char hint[300];
	int abi;

	if (want == 0)
		return 0;
	/* Why a floor at all: an ABI adds restrictions (2 refer, 3 truncate, 5 device ioctls, 6
	 * abstract-unix and signal scoping) that a policy reviewed on one kernel may count on;
	 * landlock_prepare uses the best ABI there is and would silently use less elsewhere. */
	abi = landlock_probe_abi(&no_landlock);
	if (abi < 0) {
		/* Doctor's words for the layer: the real probe, only on this refusal path. */
		probe_one(PROBE_LANDLOCK, &probe);
		return sk_fail(err, "landlock", no_landlock.errnum,
			       "`stockade doctor` explains; run where the kernel offers it",
			       "require.landlock_abi: Landlock is %s here (%s), the spec requires "
			       "ABI %u or later",
			       probe_status_name(probe.status),
			       probe.diagnosis[0] ? probe.diagnosis : no_landlock.op, want);
	}
	if ((unsigned)abi >= want)
		return 0;
	if (want <= known)
		snprintf(hint, sizeof(hint), "ABI %u came with Linux %s", want,
			 landlock_abi_kernels[want]);
	else
		snprintf(hint, sizeof(hint),
			 "ABI %u is newer than any this stockade knows of (%u, Linux %s)", want,
			 known, landlock_abi_kernels[known]);
	sk_strlcat(hint,
		   "; run on a kernel that offers it, or lower the requirement; "
		   "`stockade doctor` shows the ABI",
		   sizeof(hint));
	return sk_fail(err, "landlock", 0, hint,
		       "require.landlock_abi: this kernel offers Landlock ABI %d, the spec "
		       "requires %u or later",
		       abi, want);
}

void gate_forget(void)
{
	char path[4200];
	struct sk_err ignored = {0};

	if (gate_cache_path(path, sizeof(path), &ignored) == 0)
		unlink(path);
}
