/* The cgroup layer: finds the cgroup hierarchies from /proc/self/mountinfo and /proc/self/cgroup,
 * makes one cgroup per hierarchy beneath stockade's own (a delegated v2 subtree first, v1
 * controllers as root on hybrid hosts), writes the limits, and later reads usage and removes it. */
#include "sandbox/cgroup.h"
#include "util/macros.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CPU_PERIOD_US 100000
#define CPU_MIN_QUOTA_US 1000 /* the kernel refuses smaller quotas (EINVAL) */
#define RETRY_ROUNDS 100      /* kill and rmdir retries, RETRY_SLEEP_MS apart */
#define RETRY_SLEEP_MS 10

enum cgroup_controller { CTRL_MEMORY, CTRL_PIDS, CTRL_CPU, CTRL_COUNT };

static const char *const controller_names[CTRL_COUNT] = {"memory", "pids", "cpu"};

/* One line of /proc/self/mountinfo that is a cgroup or cgroup2 filesystem. */
struct cgroup_mount {
	bool is_v2;
	char root[PATH_MAX];  /* the cgroup at the root of this mount, as seen from our cgroupns */
	char point[PATH_MAX]; /* where it is mounted */
	char options[512];    /* super options: "rw,cpu,cpuacct" */
};

/* Why one hierarchy version could not be used: a sentence and the errno behind it, if any. */
struct cgroup_attempt {
	char reason[256];
	int errnum;
};

static const char hint_hybrid[] =
    "run as root on this hybrid host, or delegate a cgroup v2 subtree (systemd: Delegate=yes, "
    "or `systemd-run --user --scope -p Delegate=yes`), or pass --allow-degraded cgroup to run "
    "without these limits";
static const char hint_v2[] =
    "delegate a cgroup v2 subtree with these controllers to stockade (systemd: Delegate=yes, "
    "or `systemd-run --user --scope -p Delegate=yes`), or pass --allow-degraded cgroup to run "
    "without these limits";
static const char hint_refused[] =
    "check the cgroup mounts and the values of --memory, --pids-limit and --cpus, or pass "
    "--allow-degraded cgroup to run without these limits";

static bool wants(const struct sandbox_spec *spec, enum cgroup_controller controller)
{
	switch (controller) {
	case CTRL_MEMORY:
		return spec->memory_bytes != 0;
	case CTRL_PIDS:
		return spec->pids_limit != 0;
	case CTRL_CPU:
		return spec->cpus_milli != 0;
	default:
		return false;
	}
}

/* "memory,pids,cpu": the controllers spec needs, for messages. */
static void wanted_list(const struct sandbox_spec *spec, char *out, size_t size)
{
	out[0] = '\0';
	for (int c = 0; c < CTRL_COUNT; c++) {
		if (!wants(spec, c))
			continue;
		if (out[0])
			sk_strlcat(out, ",", size);
		sk_strlcat(out, controller_names[c], size);
	}
}

static void attempt_set(struct cgroup_attempt *attempt, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void attempt_set(struct cgroup_attempt *attempt, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(attempt->reason, sizeof(attempt->reason), fmt, ap);
	va_end(ap);
	attempt->errnum = errnum;
}

/* Puts prefix in front of the reason ("cgroup v1: "), truncating its end if need be. */
static void attempt_prefix(struct cgroup_attempt *attempt, const char *prefix)
{
	char reason[sizeof(attempt->reason)];

	sk_strlcpy(reason, prefix, sizeof(reason));
	sk_strlcat(reason, attempt->reason, sizeof(reason));
	sk_strlcpy(attempt->reason, reason, sizeof(attempt->reason));
}

/* True when `word` is one of the items of `list`, items separated by any of `separators`. */
static bool list_has(const char *list, const char *word, const char *separators)
{
	size_t length = strlen(word);

	while (*list) {
		size_t item = strcspn(list, separators);

		if (item == length && strncmp(list, word, length) == 0)
			return true;
		list += item;
		list += strspn(list, separators);
	}
	return false;
}

static void sleep_ms(long ms)
{
	struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&left, &left) == -1 && errno == EINTR)
		;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* out = dir "/" leaf. -1 with ENAMETOOLONG when it does not fit. */
static int path_join(char *out, size_t size, const char *dir, const char *leaf)
{
	int n = snprintf(out, size, "%s/%s", dir, leaf);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Reads up to size-1 bytes of a small file, NUL-terminated. Returns the length or -1 (errno). */
static ssize_t read_small_file(const char *path, char *buf, size_t size)
{
	size_t used = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	while (used + 1 < size) {
		ssize_t n = read(fd, buf + used, size - 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	close(fd);
	return (ssize_t)used;
}

/* Writes value to a cgroup file in one write(2), so the kernel's verdict is seen here. */
static int write_file(const char *path, const char *value)
{
	size_t length = strlen(value);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	n = RETRY_EINTR(write(fd, value, length));
	if (n < 0 || (size_t)n != length) {
		int saved = n < 0 ? errno : EIO;

		close(fd);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0 && errno != EINTR)
		return -1;
	return 0;
}

/* Writes the decimal value to dir/file. On failure `attempt` names the file. */
static int write_u64_at(const char *dir, const char *file, uint64_t value,
			struct cgroup_attempt *attempt)
{
	char path[PATH_MAX];
	char text[24];

	sk_utoa(value, text, sizeof(text));
	if (path_join(path, sizeof(path), dir, file) < 0 || write_file(path, text) < 0) {
		attempt_set(attempt, errno, "writing %s to %s", text, path);
		return -1;
	}
	return 0;
}

/* Same, only when dir/file exists (optional knobs such as memory.swap.max). */
static int write_u64_if_present(const char *dir, const char *file, uint64_t value,
				struct cgroup_attempt *attempt)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), dir, file) < 0 || !path_exists(path))
		return 0;
	return write_u64_at(dir, file, value, attempt);
}

/* Decodes the octal escapes (\040 for a space) mountinfo uses in paths, in place. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* Parses one mountinfo line ("36 25 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory")
 * into mount when it is a cgroup filesystem. Returns true then. The line is modified. */
static bool parse_mount_line(char *line, struct cgroup_mount *mount)
{
	char *fields[6] = {NULL};
	char *save = NULL;
	char *token = strtok_r(line, " \n", &save);
	int count = 0;

	while (token && count < 5) { /* id, parent, device, root, mount point */
		fields[count++] = token;
		token = strtok_r(NULL, " \n", &save);
	}
	while (token && strcmp(token, "-") != 0) /* mount options, optional fields */
		token = strtok_r(NULL, " \n", &save);
	char *fstype = strtok_r(NULL, " \n", &save);
	char *source = strtok_r(NULL, " \n", &save);
	char *options = strtok_r(NULL, " \n", &save);

	if (count < 5 || !fstype || !source || !options)
		return false;
	if (strcmp(fstype, "cgroup2") != 0 && strcmp(fstype, "cgroup") != 0)
		return false;
	mount->is_v2 = strcmp(fstype, "cgroup2") == 0;
	unescape_octal(fields[3]);
	unescape_octal(fields[4]);
	sk_strlcpy(mount->root, fields[3], sizeof(mount->root));
	sk_strlcpy(mount->point, fields[4], sizeof(mount->point));
	sk_strlcpy(mount->options, options, sizeof(mount->options));
	return true;
}

/* Iterates over the cgroup mounts: returns true and fills mount for the next one. */
static bool next_cgroup_mount(FILE *mountinfo, struct cgroup_mount *mount)
{
	char *line = NULL;
	size_t capacity = 0;
	bool found = false;

	while (!found && getline(&line, &capacity, mountinfo) > 0)
		found = parse_mount_line(line, mount);
	free(line);
	return found;
}

/* Stockade's own cgroup path in one hierarchy, from /proc/self/cgroup: the v2 one ("0::/path")
 * when controller is NULL, else the v1 hierarchy listing that controller. -1 when absent. */
static int own_cgroup_path(const char *controller, char *out, size_t size)
{
	FILE *file = fopen("/proc/self/cgroup", "re");
	char *line = NULL;
	size_t capacity = 0;
	int rc = -1;

	if (!file)
		return -1;
	while (rc < 0 && getline(&line, &capacity, file) > 0) {
		char *first = strchr(line, ':');
		char *second = first ? strchr(first + 1, ':') : NULL;

		if (!second)
			continue;
		*first = '\0';
		*second = '\0';
		line[strcspn(line, "\n")] = '\0';
		second[1 + strcspn(second + 1, "\n")] = '\0';
		bool matches = controller ? list_has(first + 1, controller, ",")
					  : strcmp(line, "0") == 0 && first[1] == '\0';
		if (matches && strlen(second + 1) < size) {
			sk_strlcpy(out, second + 1, size);
			rc = 0;
		}
	}
	free(line);
	fclose(file);
	if (rc < 0)
		errno = ENOENT;
	return rc;
}

/* The directory of cgroup `own` (a path in the hierarchy) under mount; -1 when the mount does
 * not show it (mounted from a cgroup that is not an ancestor of ours). */
static int dir_in_mount(const struct cgroup_mount *mount, const char *own, char *out, size_t size)
{
	size_t root_length = strcmp(mount->root, "/") == 0 ? 0 : strlen(mount->root);
	int n;

	if (strncmp(own, mount->root, root_length) != 0 ||
	    (own[root_length] != '/' && own[root_length] != '\0'))
		return -1;
	n = snprintf(out, size, "%s%s", mount->point, own + root_length);
	if (n < 0 || (size_t)n >= size)
		return -1;
	/* "/sys/fs/cgroup/" for the root cgroup: drop the trailing slash. */
	if (n > 1 && out[n - 1] == '/')
		out[n - 1] = '\0';
	return 0;
}

/* Makes dir (mode 0755) and records it in plan for removal. An existing dir is an error:
 * it is someone else's, and removing it later would be wrong. */
static int make_dir(struct cgroup_plan *plan, const char *dir, struct cgroup_attempt *attempt)
{
	if (plan->dir_count >= CGROUP_MAX_DIRS) {
		attempt_set(attempt, 0, "more than %d cgroup hierarchies needed", CGROUP_MAX_DIRS);
		return -1;
	}
	if (mkdir(dir, 0755) < 0) {
		attempt_set(attempt, errno, "mkdir %s", dir);
		return -1;
	}
	sk_strlcpy(plan->dirs[plan->dir_count++], dir, sizeof(plan->dirs[0]));
	return 0;
}

static void remove_dir(const char *dir)
{
	for (int round = 0; round < RETRY_ROUNDS; round++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			return;
		sleep_ms(RETRY_SLEEP_MS);
	}
}

/* Removes every directory of the plan, newest first; nothing was attached yet. */
static void remove_all(struct cgroup_plan *plan)
{
	while (plan->dir_count > 0)
		remove_dir(plan->dirs[--plan->dir_count]);
}

/* Writes the limits of one controller into a freshly made cgroup. */
static int write_limits(const char *dir, int version, enum cgroup_controller controller,
			const struct sandbox_spec *spec, struct cgroup_attempt *attempt)
{
	uint64_t quota = spec->cpus_milli * 100; /* thousandths of a CPU -> us per 100000 us */
	char path[PATH_MAX];
	char text[48];

	if (controller == CTRL_PIDS)
		return write_u64_at(dir, "pids.max", spec->pids_limit, attempt);
	if (controller == CTRL_MEMORY && version == 2) {
		/* Swap would let the sandbox hold memory beyond its limit. */
		if (write_u64_at(dir, "memory.max", spec->memory_bytes, attempt) < 0)
			return -1;
		return write_u64_if_present(dir, "memory.swap.max", 0, attempt);
	}
	if (controller == CTRL_MEMORY) {
		/* memsw counts memory+swap, so an equal value leaves no room for swap. It goes
		 * second: memory.limit_in_bytes may never exceed it. */
		if (write_u64_at(dir, "memory.limit_in_bytes", spec->memory_bytes, attempt) < 0 ||
		    write_u64_if_present(dir, "memory.memsw.limit_in_bytes", spec->memory_bytes,
					 attempt) < 0)
			return -1;
		/* v1 charges TCP socket buffers to their own counter, not to limit_in_bytes, and
		 * accounts them only once this limit is set: without it a sandbox queued ~630 MiB
		 * in loopback buffers under --memory 64m. The same bound caps them here (so the
		 * worst case is twice the limit); required, since a --memory that leaves socket
		 * memory unbounded is not the limit the caller asked for. */
		return write_u64_at(dir, "memory.kmem.tcp.limit_in_bytes", spec->memory_bytes,
				    attempt);
	}
	if (version == 1) {
		if (write_u64_at(dir, "cpu.cfs_period_us", CPU_PERIOD_US, attempt) < 0)
			return -1;
		return write_u64_at(dir, "cpu.cfs_quota_us", quota, attempt);
	}
	snprintf(text, sizeof(text), "%" PRIu64 " %d", quota, CPU_PERIOD_US);
	if (path_join(path, sizeof(path), dir, "cpu.max") < 0 || write_file(path, text) < 0) {
		attempt_set(attempt, errno, "writing \"%s\" to %s", text, path);
		return -1;
	}
	return 0;
}

/* Reads the space-separated controller list dir/file ("cgroup.controllers" or
 * "cgroup.subtree_control") and sets *missing to the first wanted controller it lacks, or NULL.
 * -1 (errno) when it cannot be read. */
static int find_missing(const char *dir, const char *file, const struct sandbox_spec *spec,
			char *list, size_t size, const char **missing)
{
	char path[PATH_MAX];

	*missing = NULL;
	if (path_join(path, sizeof(path), dir, file) < 0 || read_small_file(path, list, size) < 0)
		return -1;
	list[strcspn(list, "\n")] = '\0';
	for (int c = 0; c < CTRL_COUNT && !*missing; c++)
		if (wants(spec, c) && !list_has(list, controller_names[c], " "))
			*missing = controller_names[c];
	return 0;
}

/* Checks one cgroup2 mount for v2 use: it offers the controllers, stockade's cgroup there
 * delegates them (has them in cgroup.subtree_control) and is writable. Fills own_dir. */
static int v2_check_mount(const struct cgroup_mount *mount, const struct sandbox_spec *spec,
			  const char *own, char *own_dir, size_t size,
			  struct cgroup_attempt *attempt)
{
	char list[256];
	const char *missing;

	if (dir_in_mount(mount, own, own_dir, size) < 0) {
		attempt_set(attempt, 0, "cgroup2 at %s does not show stockade's cgroup %s",
			    mount->point, own);
		return -1;
	}
	if (find_missing(mount->point, "cgroup.controllers", spec, list, sizeof(list), &missing) <
	    0) {
		attempt_set(attempt, errno, "reading %s/cgroup.controllers", mount->point);
		return -1;
	}
	if (missing) {
		attempt_set(attempt, 0, "cgroup2 at %s offers only %s", mount->point,
			    list[0] ? list : "no controllers");
		return -1;
	}
	if (find_missing(own_dir, "cgroup.subtree_control", spec, list, sizeof(list), &missing) <
	    0) {
		attempt_set(attempt, errno, "reading %s/cgroup.subtree_control", own_dir);
		return -1;
	}
	if (missing) {
		const char *not_offered = "";
		/* The usual case under systemd: the controllers reach stockade's cgroup, but the
		 * kernel lets no non-root cgroup with processes (stockade) enable them for children
		 * (cgroup v2's "no internal processes" rule). Say which case this is. */
		bool reach_us = find_missing(own_dir, "cgroup.controllers", spec, list,
					     sizeof(list), &not_offered) == 0 &&
				!not_offered;

		attempt_set(attempt, 0,
			    "stockade's cgroup is %s; cgroup.subtree_control lacks %s%s", own,
			    missing,
			    reach_us ? " (offered in cgroup.controllers, but stockade is a process "
				       "of that cgroup)"
				     : "");
		return -1;
	}
	if (access(own_dir, W_OK) < 0) {
		attempt_set(attempt, errno, "stockade's cgroup %s is not writable by uid %u",
			    own_dir, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

/* Makes <own>/<name> in the first cgroup2 mount that can take every needed controller. */
static int try_v2(struct cgroup_plan *plan, const struct sandbox_spec *spec, const char *name,
		  struct cgroup_attempt *attempt)
{
	char own[PATH_MAX];
	char own_dir[PATH_MAX];
	char dir[PATH_MAX];
	struct cgroup_mount mount;
	FILE *mountinfo;
	int rc = -1;

	if (own_cgroup_path(NULL, own, sizeof(own)) < 0) {
		attempt_set(attempt, 0,
			    "stockade is in no cgroup v2 (/proc/self/cgroup has no 0::)");
		return -1;
	}
	mountinfo = fopen("/proc/self/mountinfo", "re");
	if (!mountinfo) {
		attempt_set(attempt, errno, "reading /proc/self/mountinfo");
		return -1;
	}
	attempt_set(attempt, 0, "no cgroup2 filesystem is mounted");
	while (next_cgroup_mount(mountinfo, &mount)) {
		if (!mount.is_v2 ||
		    v2_check_mount(&mount, spec, own, own_dir, sizeof(own_dir), attempt) < 0)
			continue;
		/* This mount is the one; whatever fails from here on is final. */
		if (path_join(dir, sizeof(dir), own_dir, name) < 0)
			attempt_set(attempt, ENAMETOOLONG, "cgroup path under %s", own_dir);
		else if (make_dir(plan, dir, attempt) == 0)
			rc = 0;
		for (int c = 0; c < CTRL_COUNT && rc == 0; c++)
			if (wants(spec, c))
				rc = write_limits(dir, 2, c, spec, attempt);
		break;
	}
	fclose(mountinfo);
	if (rc < 0)
		remove_all(plan);
	return rc;
}

/* The directory of the new cgroup in the v1 hierarchy carrying controller. */
static int v1_dir_for(const char *controller, const char *name, char *dir, size_t size,
		      struct cgroup_attempt *attempt)
{
	char own[PATH_MAX];
	char own_dir[PATH_MAX];
	struct cgroup_mount mount;
	FILE *mountinfo;
	bool found = false;

	if (own_cgroup_path(controller, own, sizeof(own)) < 0) {
		attempt_set(attempt, 0, "no cgroup v1 hierarchy has the %s controller", controller);
		return -1;
	}
	mountinfo = fopen("/proc/self/mountinfo", "re");
	if (!mountinfo) {
		attempt_set(attempt, errno, "reading /proc/self/mountinfo");
		return -1;
	}
	while (!found && next_cgroup_mount(mountinfo, &mount))
		found = !mount.is_v2 && list_has(mount.options, controller, ",") &&
			dir_in_mount(&mount, own, own_dir, sizeof(own_dir)) == 0;
	fclose(mountinfo);
	if (!found) {
		attempt_set(attempt, 0,
			    "the cgroup v1 %s hierarchy is not mounted where stockade "
			    "can see its cgroup %s",
			    controller, own);
		return -1;
	}
	if (path_join(dir, size, own_dir, name) < 0) {
		attempt_set(attempt, ENAMETOOLONG, "cgroup path under %s", own_dir);
		return -1;
	}
	return 0;
}

/* Makes <mount>/<own path>/<name> in the v1 hierarchy of every needed controller; controllers
 * mounted together ("cpu,cpuacct", or memory with pids) share one directory. */
static int try_v1(struct cgroup_plan *plan, const struct sandbox_spec *spec, const char *name,
		  struct cgroup_attempt *attempt)
{
	char dir[PATH_MAX];

	if (geteuid() != 0) {
		attempt_set(attempt, 0, "cgroup v1 controllers need root (running as uid %u)",
			    (unsigned)geteuid());
		return -1;
	}
	for (int c = 0; c < CTRL_COUNT; c++) {
		bool is_new = true;

		if (!wants(spec, c))
			continue;
		if (v1_dir_for(controller_names[c], name, dir, sizeof(dir), attempt) < 0)
			goto fail;
		for (int i = 0; i < plan->dir_count; i++)
			if (strcmp(plan->dirs[i], dir) == 0)
				is_new = false;
		if (is_new && make_dir(plan, dir, attempt) < 0)
			goto fail;
		if (write_limits(dir, 1, c, spec, attempt) < 0)
			goto fail;
	}
	return 0;
fail:
	remove_all(plan);
	attempt_prefix(attempt, "cgroup v1: ");
	return -1;
}

/* plan->detail: "v1: memory,pids,cpu at DIR, DIR, DIR" or "v2: memory,pids at DIR". */
static void describe_plan(struct cgroup_plan *plan, const struct sandbox_spec *spec)
{
	char controllers[32];

	wanted_list(spec, controllers, sizeof(controllers));
	snprintf(plan->detail, sizeof(plan->detail), "v%d: %s at ", plan->version, controllers);
	for (int i = 0; i < plan->dir_count; i++) {
		if (i > 0)
			sk_strlcat(plan->detail, ", ", sizeof(plan->detail));
		sk_strlcat(plan->detail, plan->dirs[i], sizeof(plan->detail));
	}
}

/* What the operator can do: depends on whether v1 controllers exist and whether a kernel
 * refused a value. */
static const char *failure_hint(const struct sandbox_spec *spec, const struct cgroup_attempt *v1)
{
	char own[PATH_MAX];

	if (v1->errnum)
		return hint_refused;
	for (int c = 0; c < CTRL_COUNT; c++)
		if (wants(spec, c) && own_cgroup_path(controller_names[c], own, sizeof(own)) == 0)
			return geteuid() == 0 ? hint_refused : hint_hybrid;
	return hint_v2;
}

static bool name_is_valid(const char *name)
{
	return name && name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strlen(name) < NAME_MAX;
}

int cgroup_prepare(struct cgroup_plan *plan, const struct sandbox_spec *spec, const char *name,
		   struct sk_err *err)
{
	struct cgroup_attempt v2 = {{0}, 0};
	struct cgroup_attempt v1 = {{0}, 0};
	char controllers[32];

	memset(plan, 0, sizeof(*plan));
	wanted_list(spec, controllers, sizeof(controllers));
	if (!controllers[0])
		return 0;
	if (!name_is_valid(name))
		return sk_fail(err, "cgroup", EINVAL, NULL, "cgroup name \"%s\"", name ? name : "");
	if (spec->cpus_milli &&
	    (spec->cpus_milli > UINT64_MAX / 100 || spec->cpus_milli * 100 < CPU_MIN_QUOTA_US))
		return sk_fail(err, "cgroup", EINVAL, "the kernel accepts --cpus from 0.01",
			       "CPU quota of %" PRIu64 " thousandths of a CPU", spec->cpus_milli);

	if (try_v2(plan, spec, name, &v2) == 0)
		plan->version = 2;
	else if (try_v1(plan, spec, name, &v1) == 0)
		plan->version = 1;
	if (plan->version) {
		describe_plan(plan, spec);
		return 0;
	}
	if (spec->allow_degraded & LAYER_CGROUP) {
		plan->is_degraded = true;
		/* Truncation is acceptable here: the report keeps the start of the reason. */
		sk_strlcpy(plan->detail, "not enforced: ", sizeof(plan->detail));
		sk_strlcat(plan->detail, controllers, sizeof(plan->detail));
		sk_strlcat(plan->detail, " limits (", sizeof(plan->detail));
		sk_strlcat(plan->detail, v2.reason, sizeof(plan->detail));
		sk_strlcat(plan->detail, "; ", sizeof(plan->detail));
		sk_strlcat(plan->detail, v1.reason, sizeof(plan->detail));
		sk_strlcat(plan->detail, ")", sizeof(plan->detail));
		return 0;
	}
	return sk_fail(
	    err, "cgroup", v1.errnum ? v1.errnum : v2.errnum, failure_hint(spec, &v1),
	    "cannot enforce %s limits: no writable cgroup v2 subtree with %s controllers "
	    "delegated (%s), and %s",
	    controllers, controllers, v2.reason, v1.reason);
}

int cgroup_attach(const struct cgroup_plan *plan, pid_t pid, struct sk_err *err)
{
	char path[PATH_MAX];
	char text[24];

	sk_utoa((unsigned long long)pid, text, sizeof(text));
	for (int i = 0; i < plan->dir_count; i++) {
		if (path_join(path, sizeof(path), plan->dirs[i], "cgroup.procs") < 0 ||
		    write_file(path, text) < 0)
			return sk_fail(err, "cgroup", errno, NULL, "moving pid %s into %s", text,
				       path);
	}
	return 0;
}

/* Reads "KEY N" from a flat-keyed file (memory.events, memory.oom_control). */
static bool read_keyed_u64(const char *dir, const char *file, const char *key, uint64_t *value)
{
	char path[PATH_MAX];
	char text[1024];
	size_t length = strlen(key);

	if (path_join(path, sizeof(path), dir, file) < 0 ||
	    read_small_file(path, text, sizeof(text)) < 0)
		return false;
	for (char *line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, length) == 0 && line[length] == ' ') {
			*value = strtoull(line + length + 1, NULL, 10);
			return true;
		}
	}
	return false;
}

bool cgroup_oom_killed(const struct cgroup_plan *plan)
{
	for (int i = 0; i < plan->dir_count; i++) {
		const char *dir = plan->dirs[i];
		uint64_t kills = 0;

		/* v1 keeps the count in memory.oom_control, v2 in memory.events. */
		if ((read_keyed_u64(dir, "memory.events", "oom_kill", &kills) ||
		     read_keyed_u64(dir, "memory.oom_control", "oom_kill", &kills)) &&
		    kills > 0)
			return true;
	}
	return false;
}

/* SIGKILLs every process listed in dir/cgroup.procs; returns how many were listed. */
static int kill_listed(const char *dir)
{
	char path[PATH_MAX];
	FILE *procs;
	long pid;
	int count = 0;

	if (path_join(path, sizeof(path), dir, "cgroup.procs") < 0)
		return 0;
	procs = fopen(path, "re");
	if (!procs)
		return 0;
	while (fscanf(procs, "%ld", &pid) == 1) {
		count++;
		/* ESRCH (it exited meanwhile) is the expected failure; a process that survives
		 * is seen again in the next round. */
		if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, SIGKILL) < 0 &&
		    errno != ESRCH)
			break;
	}
	fclose(procs);
	return count;
}

/* Kills what is left in dir: cgroup.kill (v2, Linux 5.14) in one step, else process by process
 * until the list stays empty (a fork bomb may add members while we kill). */
static void kill_members(const char *dir)
{
	char path[PATH_MAX];

	if (path_join(path, sizeof(path), dir, "cgroup.kill") == 0 && path_exists(path) &&
	    write_file(path, "1") == 0)
		return;
	for (int round = 0; round < RETRY_ROUNDS && kill_listed(dir) > 0; round++)
		sleep_ms(RETRY_SLEEP_MS);
}

void cgroup_destroy(struct cgroup_plan *plan)
{
	for (int i = plan->dir_count - 1; i >= 0; i--) {
		kill_members(plan->dirs[i]);
		remove_dir(plan->dirs[i]);
	}
	plan->dir_count = 0;
}

/* ---- stale cgroups of runs that were killed (kill -9 leaves their directories) ---- */

/* When the process `pid` started, in seconds since the epoch; -1 when it does not exist. */
static long long process_start_time(pid_t pid)
{
	char path[64], text[1024], stat_text[4096];
	unsigned long long start_ticks = 0, boot = 0;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small_file(path, text, sizeof(text)) < 0)
		return -1;
	/* Field 22 (starttime), counted after the ")" that ends the command name, which may
	 * itself hold spaces and parentheses. */
	p = strrchr(text, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start_ticks) != 1)
		return -1;
	if (read_small_file("/proc/stat", stat_text, sizeof(stat_text)) < 0 ||
	    !(p = strstr(stat_text, "\nbtime ")) || sscanf(p + 7, "%llu", &boot) != 1)
		return -1;
	return (long long)(boot + start_ticks / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* A cgroup named by a run ("stockade-PID-TIME") or a probe ("stockade-probe-PID-N") is stale
 * when the process that made it is gone — or is another process that took its PID later. */
static bool is_stale(const char *name)
{
	int pid = 0, end = 0;
	long long made = 0;
	unsigned counter;

	if (sscanf(name, "stockade-probe-%d-%u%n", &pid, &counter, &end) == 2 && name[end] == '\0')
		made = -1; /* a probe lives for milliseconds inside its owner: the PID suffices */
	else if (sscanf(name, "stockade-%d-%lld%n", &pid, &made, &end) != 2 || name[end] != '\0')
		return false; /* not ours */
	if (pid <= 0 || pid == (int)getpid())
		return false;
	long long started = process_start_time((pid_t)pid);
	if (started < 0)
		return true;
	/* One second of slack: the name's time and the boot time are both rounded down. */
	return made >= 0 && started > made + 1;
}

/* Removes the stale stockade cgroups beside the ones this process would make. Only empty ones:
 * a killed run's PID 1 dies with it (PDEATHSIG) and takes the sandbox along, and a cgroup that
 * still has members may belong to a stockade in another PID namespace, whose PIDs mean nothing
 * here — rmdir refuses a populated cgroup (EBUSY), so nobody's processes are touched. */
static unsigned sweep_dir(const char *own_dir)
{
	char dir[PATH_MAX];
	unsigned removed = 0;
	DIR *d = opendir(own_dir);
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || strncmp(de->d_name, "stockade-", 9) != 0 ||
		    !is_stale(de->d_name) || path_join(dir, sizeof(dir), own_dir, de->d_name) < 0)
			continue;
		removed += rmdir(dir) == 0;
	}
	closedir(d);
	return removed;
}

unsigned cgroup_sweep_stale(void)
{
	struct cgroup_mount mount;
	char own[PATH_MAX], own_dir[PATH_MAX];
	unsigned removed = 0;
	FILE *mountinfo = fopen("/proc/self/mountinfo", "re");

	if (!mountinfo)
		return 0;
	while (next_cgroup_mount(mountinfo, &mount)) {
		const char *controller = NULL;

		/* v1: the hierarchy of a controller stockade uses; v2: the unified one. */
		for (int c = 0; c < CTRL_COUNT && !mount.is_v2 && !controller; c++)
			if (list_has(mount.options, controller_names[c], ","))
				controller = controller_names[c];
		if ((!mount.is_v2 && !controller) ||
		    own_cgroup_path(controller, own, sizeof(own)) < 0 ||
		    dir_in_mount(&mount, own, own_dir, sizeof(own_dir)) < 0)
			continue;
		removed += sweep_dir(own_dir);
	}
	fclose(mountinfo);
	return removed;
}
