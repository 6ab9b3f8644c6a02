/* Test helper: a simulated container, made the way a container engine makes one, for the
 * deploy tests (no engine runs on our machines). It runs COMMAND as PID 1 of new user, mount,
 * PID, network, IPC and UTS namespaces, on a root of its own (the directories of --rootfs
 * bound read-only beneath a tmpfs, fresh /proc, /dev, /tmp, /run), as the container user
 * (default 10001) with every capability dropped and no_new_privs, and loads a seccomp profile
 * in the format Docker, Podman and the kubelet read (Docker's default one, or stockade's)
 * right before exec, applied as Docker applies it to a container without capabilities.
 * --mask-proc masks /proc and /sys as Docker does by default. --join PID enters such a
 * container instead (`docker exec`): same namespaces, user, filter.
 *
 * usage: sim-container [--rootfs DIR] [--seccomp FILE] [--mask-proc] [--uid N] [--gid N]
 *                      [--volume HOST:GUEST]... [--tmpfs GUEST]... [--marker GUEST]...
 *                      [--env K=V]... [--pidfile FILE] [--workdir DIR] -- COMMAND [ARG...]
 *        sim-container --join PID [--seccomp FILE] [--uid N] [--gid N] [--env K=V]...
 *                      [--workdir DIR] -- COMMAND [ARG...]
 *        sim-container --print-rules --seccomp FILE   (the rules it would load, one a line)
 * As root the container's uids 0-65535 are host uids 1000000-1065535 (a remapped engine); as
 * another user, the container user is that user (rootless, one uid). Exit status: COMMAND's,
 * 128+N for a signal, 2 for the helper's own failure (one line on stderr). */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ITEMS 16
#define ROOT_MAP_BASE 1000000u
#define NEW_ROOT_TEMPLATE "/tmp/sim-container-root-XXXXXX"

struct options {
	const char *rootfs, *seccomp, *pidfile, *workdir;
	bool mask_proc;
	unsigned uid, gid;
	pid_t join;
	const char *volumes[MAX_ITEMS], *tmpfs[MAX_ITEMS], *markers[MAX_ITEMS], *env[MAX_ITEMS];
	int volume_count, tmpfs_count, marker_count, env_count;
	char **argv;
};

static bool is_printing_rules; /* --print-rules: say each rule instead of loading it */

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "sim-container: %s%s%s: %s\n", what, detail ? " " : "",
		detail ? detail : "", errno ? strerror(errno) : "failed");
	exit(2);
}

/* ---- the seccomp profile: Docker's format, as moby applies it ---- */

/* An action by its name; false for a name this helper does not know. */
static bool parse_action(const char *name, json_t *errno_ret, uint32_t *action)
{
	int ret = json_is_integer(errno_ret) ? (int)json_integer_value(errno_ret) : EPERM;

	if (!name)
		return false;
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*action = SCMP_ACT_ALLOW;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*action = SCMP_ACT_ERRNO(ret);
	else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		*action = SCMP_ACT_TRACE(ret);
	else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*action = SCMP_ACT_KILL;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*action = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*action = SCMP_ACT_TRAP;
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*action = SCMP_ACT_LOG;
	else
		return false;
	return true;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token, or 0. */
static uint32_t parse_arch(const char *name)
{
	char lower[32];
	size_t i;

	if (!name || strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name) - 10 >= sizeof(lower))
		return 0;
	for (i = 0; name[10 + i]; i++)
		lower[i] = (char)tolower((unsigned char)name[10 + i]);
	lower[i] = '\0';
	return seccomp_arch_resolve_name(lower);
}

static bool kernel_at_least(const char *want)
{
	struct utsname u;
	unsigned have_major = 0, have_minor = 0, want_major = 0, want_minor = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &have_major, &have_minor) != 2 ||
	    sscanf(want, "%u.%u", &want_major, &want_minor) != 2)
		return false;
	return have_major > want_major || (have_major == want_major && have_minor >= want_minor);
}

static bool list_has(json_t *list, const char *value)
{
	json_t *item;
	size_t i;

	json_array_foreach(list, i, item)
	{
		if (json_is_string(item) && strcmp(json_string_value(item), value) == 0)
			return true;
	}
	return false;
}

/* moby's rule selection for a container with no capabilities on amd64: every capability an
 * "includes" names must be held (none is), any an "excludes" names must not be; the arch and
 * kernel conditions likewise. */
static bool rule_applies(json_t *rule)
{
	json_t *inc = json_object_get(rule, "includes"), *exc = json_object_get(rule, "excludes");
	const char *min;

	if (json_array_size(json_object_get(inc, "caps")) > 0)
		return false;
	if (json_array_size(json_object_get(inc, "arches")) > 0 &&
	    !list_has(json_object_get(inc, "arches"), "amd64"))
		return false;
	min = json_string_value(json_object_get(inc, "minKernel"));
	if (min && !kernel_at_least(min))
		return false;
	if (list_has(json_object_get(exc, "arches"), "amd64"))
		return false;
	min = json_string_value(json_object_get(exc, "minKernel"));
	if (min && kernel_at_least(min))
		return false;
	return true;
}

static enum scmp_compare parse_op(const char *op)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
		   {"SCMP_CMP_LT", SCMP_CMP_LT},
		   {"SCMP_CMP_LE", SCMP_CMP_LE},
		   {"SCMP_CMP_EQ", SCMP_CMP_EQ},
		   {"SCMP_CMP_GE", SCMP_CMP_GE},
		   {"SCMP_CMP_GT", SCMP_CMP_GT},
		   {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};

	for (size_t i = 0; op && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i].name) == 0)
			return ops[i].op;
	return _SCMP_CMP_MIN;
}

/* One syscall's rule. Several conditions on one argument cannot be ANDed by libseccomp: runc
 * then adds each as a rule of its own, and so do we. */
static void add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, json_t *args, const char *name)
{
	struct scmp_arg_cmp cmp[6];
	unsigned count = 0, seen = 0;
	bool is_split = false;
	json_t *arg;
	size_t i;

	if (is_printing_rules) {
		printf("%s %#x", name, action);
		json_array_foreach(args, i, arg)
		{
			json_t *two = json_object_get(arg, "valueTwo");
			printf(
			    " %s:%lld:%llu:%llu", json_string_value(json_object_get(arg, "op")),
			    (long long)json_integer_value(json_object_get(arg, "index")),
			    (unsigned long long)json_integer_value(json_object_get(arg, "value")),
			    (unsigned long long)(two ? json_integer_value(two) : 0));
		}
		printf("\n");
		return;
	}
	json_array_foreach(args, i, arg)
	{
		unsigned index = (unsigned)json_integer_value(json_object_get(arg, "index"));
		enum scmp_compare op = parse_op(json_string_value(json_object_get(arg, "op")));
		if (count == 6 || index > 5 || op == _SCMP_CMP_MIN)
			die("seccomp profile: bad argument condition for", name);
		if (seen & (1u << index))
			is_split = true;
		seen |= 1u << index;
		cmp[count++] = (struct scmp_arg_cmp){
		    .arg = index,
		    .op = op,
		    .datum_a = (scmp_datum_t)json_integer_value(json_object_get(arg, "value")),
		    .datum_b = (scmp_datum_t)json_integer_value(json_object_get(arg, "valueTwo"))};
	}
	for (unsigned c = 0; is_split && c < count; c++)
		if (seccomp_rule_add_array(ctx, action, nr, 1, &cmp[c]) < 0)
			die("seccomp profile: rule for", name);
	if (!is_split && seccomp_rule_add_array(ctx, action, nr, count, cmp) < 0)
		die("seccomp profile: rule for", name);
}

/* The OCI form is a plain list; Docker's a map from each native arch to its sub-arches (we
 * take x86_64's). An arch libseccomp cannot add here is left out, as runc does. */
static void add_arches(scmp_filter_ctx ctx, json_t *profile)
{
	json_t *entry, *sub;
	size_t i, j;

	json_array_foreach(json_object_get(profile, "architectures"), i, entry)
	{
		uint32_t arch = parse_arch(json_string_value(entry));
		if (arch)
			(void)seccomp_arch_add(ctx, arch);
	}
	json_array_foreach(json_object_get(profile, "archMap"), i, entry)
	{
		const char *name = json_string_value(json_object_get(entry, "architecture"));
		if (!name || strcmp(name, "SCMP_ARCH_X86_64") != 0)
			continue;
		json_array_foreach(json_object_get(entry, "subArchitectures"), j, sub)
		{
			uint32_t arch = parse_arch(json_string_value(sub));
			if (arch)
				(void)seccomp_arch_add(ctx, arch);
		}
	}
}

/* Whether one of the x86 ABIs has the call (an ARM-only name resolves to a pseudo-number that
 * would match nothing here). */
static bool is_x86_syscall(const char *name)
{
	return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name) >= 0 ||
	       seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86, name) >= 0 ||
	       seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, name) >= 0;
}

/* Builds the filter from the profile; loaded later, right before exec. */
static scmp_filter_ctx load_profile(const char *path)
{
	json_error_t error;
	json_t *profile = json_load_file(path, 0, &error), *rule, *name;
	uint32_t fallback;
	scmp_filter_ctx ctx = NULL;
	size_t i, j;

	if (!profile) {
		errno = 0;
		die("cannot read the seccomp profile", path);
	}
	if (!parse_action(json_string_value(json_object_get(profile, "defaultAction")),
			  json_object_get(profile, "defaultErrnoRet"), &fallback) ||
	    !(ctx = seccomp_init(fallback)))
		die("seccomp profile: bad defaultAction in", path);
	add_arches(ctx, profile);
	json_array_foreach(json_object_get(profile, "syscalls"), i, rule)
	{
		uint32_t action;
		if (!parse_action(json_string_value(json_object_get(rule, "action")),
				  json_object_get(rule, "errnoRet"), &action))
			die("seccomp profile: bad action in", path);
		if (!rule_applies(rule) || action == fallback)
			continue;
		json_array_foreach(json_object_get(rule, "names"), j, name)
		{
			int nr = seccomp_syscall_resolve_name(json_string_value(name));
			if (nr == __NR_SCMP_ERROR || !is_x86_syscall(json_string_value(name)))
				continue; /* not a syscall here: runc skips it, the kernel never
					     sees it */
			add_rule(ctx, action, nr, json_object_get(rule, "args"),
				 json_string_value(name));
		}
	}
	json_decref(profile);
	return ctx;
}

/* ---- the container's root ---- */

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags,
			 const char *data)
{
	if (mount(src, dst, type, flags, data) < 0)
		die("mount", dst);
}

static void make_readonly(const char *path, bool is_recursive)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};

	if (syscall(SYS_mount_setattr, AT_FDCWD, path, is_recursive ? AT_RECURSIVE : 0, &attr,
		    sizeof(attr)) < 0)
		die("mount_setattr(RDONLY)", path);
}

static void bind_node(const char *src, const char *dst, bool is_dir)
{
	if (is_dir) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			die("mkdir", dst);
	} else {
		int fd = open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create", dst);
		close(fd);
	}
	mount_or_die(src, dst, NULL, MS_BIND | MS_REC, NULL);
}

/* The rootfs's top-level entries, bound (directories, files) or copied (links) into the new
 * root, except those a container gets fresh. */
static void populate_root(const char *rootfs, const char *root)
{
	static const char *const fresh[] = {"proc", "sys", "dev", "tmp", "run"};
	char src[4096], dst[4096], target[4096];
	DIR *dir = opendir(rootfs);
	struct dirent *e;

	if (!dir)
		die("opendir", rootfs);
	while ((e = readdir(dir))) {
		/* Dot files too: a host's own /.dockerenv is not this container's marker. */
		bool skip = e->d_name[0] == '.';
		for (size_t i = 0; i < sizeof(fresh) / sizeof(fresh[0]); i++)
			skip = skip || strcmp(e->d_name, fresh[i]) == 0;
		if (skip)
			continue;
		snprintf(src, sizeof(src), "%s/%s", strcmp(rootfs, "/") ? rootfs : "", e->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", root, e->d_name);
		struct stat st;
		if (lstat(src, &st) < 0)
			die("lstat", src);
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(src, target, sizeof(target) - 1);
			if (n < 0)
				die("readlink", src);
			target[n] = '\0';
			if (symlink(target, dst) < 0)
				die("symlink", dst);
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			bind_node(src, dst, S_ISDIR(st.st_mode));
			make_readonly(dst, true);
		}
	}
	closedir(dir);
}

static void make_dev(const char *root)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
	char path[4096], src[64];

	snprintf(path, sizeof(path), "%s/dev", root);
	mkdir(path, 0755);
	mount_or_die("tmpfs", path, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k");
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(path, sizeof(path), "%s/dev/%s", root, nodes[i]);
		snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
		bind_node(src, path, false);
	}
	snprintf(path, sizeof(path), "%s/dev/pts", root);
	mkdir(path, 0755);
	mount_or_die("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=0620");
	snprintf(path, sizeof(path), "%s/dev/ptmx", root);
	if (symlink("pts/ptmx", path) < 0)
		die("symlink", path);
	snprintf(path, sizeof(path), "%s/dev/shm", root);
	mkdir(path, 01777);
	mount_or_die("shm", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m");
}

/* Docker's defaults (moby daemon/pkg/oci/defaults.go): masked paths get /dev/null or an empty
 * read-only tmpfs over them, read-only paths are bound onto themselves read-only. */
static void mask_proc(void)
{
	static const char *const masked[] = {
	    "/proc/acpi",	 "/proc/asound",  "/proc/interrupts",
	    "/proc/kcore",	 "/proc/keys",	  "/proc/latency_stats",
	    "/proc/sched_debug", "/proc/scsi",	  "/proc/timer_list",
	    "/proc/timer_stats", "/sys/firmware", "/sys/devices/virtual/powercap"};
	static const char *const readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					       "/proc/sysrq-trigger"};
	struct stat st;

	for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		if (stat(masked[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			mount_or_die("tmpfs", masked[i], "tmpfs", MS_RDONLY, "size=0");
		else
			mount_or_die("/dev/null", masked[i], NULL, MS_BIND, NULL);
	}
	for (size_t i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++) {
		if (stat(readonly[i], &st) < 0)
			continue;
		mount_or_die(readonly[i], readonly[i], NULL, MS_BIND | MS_REC, NULL);
		make_readonly(readonly[i], true);
	}
}

static void build_root(const struct options *o, const char *root)
{
	char path[4096];

	mount_or_die(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	mount_or_die("tmpfs", root, "tmpfs", MS_NOSUID, "mode=0755,size=1m");
	populate_root(o->rootfs ? o->rootfs : "/", root);
	make_dev(root);
	static const char *const dirs[] = {"proc", "sys", "tmp", "run"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/sys", root);
	bind_node("/sys", path, true);
	make_readonly(path, true);
	snprintf(path, sizeof(path), "%s/tmp", root);
	mount_or_die("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=256m");
	snprintf(path, sizeof(path), "%s/run", root);
	mount_or_die("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m");
	for (int i = 0; i < o->marker_count; i++) {
		snprintf(path, sizeof(path), "%s%s", root, o->markers[i]);
		int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create marker", path);
		close(fd);
	}
	for (int i = 0; i < o->volume_count; i++) {
		char host[4096];
		const char *colon = strchr(o->volumes[i], ':');
		if (!colon)
			die("--volume HOST:GUEST, not", o->volumes[i]);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - o->volumes[i]), o->volumes[i]);
		snprintf(path, sizeof(path), "%s%s", root, colon + 1);
		mkdir(path, 0755); /* in /run or /tmp; elsewhere the image has it */
		mount_or_die(host, path, NULL, MS_BIND, NULL);
	}
	for (int i = 0; i < o->tmpfs_count; i++) {
		char data[128];
		snprintf(path, sizeof(path), "%s%s", root, o->tmpfs[i]);
		mkdir(path, 0755);
		snprintf(data, sizeof(data), "mode=0700,uid=%u,gid=%u,size=512m", o->uid, o->gid);
		mount_or_die("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, data);
	}
	/* procfs before the host's /proc goes: the kernel mounts a new one in a user namespace only
	 * while a fully visible one is in the mount namespace. Ours is PID 1's PID namespace's. */
	snprintf(path, sizeof(path), "%s/proc", root);
	mount_or_die("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	/* pivot_root(".", ".") then detach the old root: the host's tree is gone. */
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		die("pivot_root into", root);
	if (o->mask_proc)
		mask_proc();
	make_readonly("/", false); /* readOnlyRootFilesystem; the tmpfs mounts stay writable */
}

/* ---- the container's process ---- */

/* Every capability gone (bounding set, ambient, then the rest with the uid change or capset),
 * no_new_privs, the filter, exec. */
static void become_workload(const struct options *o, scmp_filter_ctx filter)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	char *env[MAX_ITEMS + 3];
	int n = 0;

	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			die("PR_CAPBSET_DROP", NULL);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		die("PR_CAP_AMBIENT_CLEAR_ALL", NULL);
	if (setresgid(o->gid, o->gid, o->gid) < 0 || setresuid(o->uid, o->uid, o->uid) < 0)
		die("setresuid to the container user", NULL);
	if (syscall(SYS_capset, &header, data) < 0)
		die("capset", NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS", NULL);
	if (o->workdir && chdir(o->workdir) < 0)
		die("chdir", o->workdir);
	env[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	env[n++] = "HOME=/";
	for (int i = 0; i < o->env_count; i++)
		env[n++] = (char *)o->env[i];
	env[n] = NULL;
	if (filter && seccomp_load(filter) < 0)
		die("seccomp_load", NULL);
	execvpe(o->argv[0], o->argv, env);
	die("exec", o->argv[0]);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
		die("write", path);
}

static void write_maps(pid_t pid)
{
	char path[64], map[64];

	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	write_file(path, "deny");
	for (int i = 0; i < 2; i++) {
		unsigned outside = i == 0 ? getuid() : getgid();
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid,
			 i == 0 ? "uid_map" : "gid_map");
		if (outside == 0)
			snprintf(map, sizeof(map), "0 %u 65536\n", ROOT_MAP_BASE);
		else
			snprintf(map, sizeof(map), "10001 %u 1\n", outside);
		write_file(path, map);
	}
}

static pid_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int wait_for(pid_t pid)
{
	int status;

	signal(SIGTERM, forward);
	signal(SIGINT, forward);
	signal(SIGHUP, forward);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid", NULL);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_container(const struct options *o, scmp_filter_ctx filter)
{
	char root[] = NEW_ROOT_TEMPLATE;
	int go[2];
	char byte;

	if (!mkdtemp(root) || pipe2(go, O_CLOEXEC) < 0)
		die("mkdtemp/pipe", NULL);
	child_pid = (pid_t)syscall(SYS_clone,
				   CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
				       CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD,
				   NULL, NULL, NULL, 0);
	if (child_pid < 0)
		die("clone", NULL);
	if (child_pid == 0) {
		close(go[1]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || read(go[0], &byte, 1) != 1)
			_exit(2);
		/* Root of the container (a remapped root) while the root is built, when it has one.
		 */
		if (getuid() == 65534)
			(void)(setresgid(0, 0, 0) || setresuid(0, 0, 0));
		if (sethostname("container", 9) < 0)
			die("sethostname", NULL);
		build_root(o, root);
		become_workload(o, filter);
	}
	close(go[0]);
	write_maps(child_pid);
	if (o->pidfile) {
		FILE *f = fopen(o->pidfile, "we");
		if (!f || fprintf(f, "%d\n", (int)child_pid) < 0 || fclose(f) != 0)
			die("write", o->pidfile);
	}
	if (write(go[1], "g", 1) != 1)
		die("write GO", NULL);
	close(go[1]);
	int status = wait_for(child_pid);
	rmdir(root);
	return status;
}

/* `docker exec`: the user namespace first (it owns the others), then the rest; a fork puts us
 * in the PID namespace. setns(mnt) takes the container's root as ours. */
static int join_container(const struct options *o, scmp_filter_ctx filter)
{
	static const char *const kinds[] = {"user", "mnt", "pid", "net", "ipc", "uts"};
	int fds[6];
	char path[64];

	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)o->join, kinds[i]);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die("open", path);
	}
	for (int i = 0; i < 6; i++)
		if (setns(fds[i], 0) < 0)
			die("setns", kinds[i]);
	child_pid = fork();
	if (child_pid < 0)
		die("fork", NULL);
	if (child_pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			_exit(2);
		if (getuid() == 65534)
			(void)(setresgid(0, 0, 0) || setresuid(0, 0, 0));
		become_workload(o, filter);
	}
	return wait_for(child_pid);
}

static void usage(void)
{
	errno = 0;
	die("usage: see the opening comment of tests/helpers/sim-container.c", NULL);
}

static unsigned parse_number(const char *text)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (!*text || *end || v > 0xfffffffful)
		usage();
	return (unsigned)v;
}

static void add_item(const char **list, int *count, const char *value)
{
	if (*count == MAX_ITEMS)
		usage();
	list[(*count)++] = value;
}

int main(int argc, char **argv)
{
	struct options o = {.uid = 10001, .gid = 10001};
	scmp_filter_ctx filter = NULL;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *opt = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(opt, "--mask-proc") == 0 || strcmp(opt, "--print-rules") == 0) {
			o.mask_proc = o.mask_proc || opt[2] == 'm';
			is_printing_rules = is_printing_rules || opt[2] == 'p';
			continue;
		}
		if (!value)
			usage();
		i++;
		if (strcmp(opt, "--rootfs") == 0)
			o.rootfs = value;
		else if (strcmp(opt, "--seccomp") == 0)
			o.seccomp = value;
		else if (strcmp(opt, "--pidfile") == 0)
			o.pidfile = value;
		else if (strcmp(opt, "--workdir") == 0)
			o.workdir = value;
		else if (strcmp(opt, "--uid") == 0)
			o.uid = parse_number(value);
		else if (strcmp(opt, "--gid") == 0)
			o.gid = parse_number(value);
		else if (strcmp(opt, "--join") == 0)
			o.join = (pid_t)parse_number(value);
		else if (strcmp(opt, "--volume") == 0)
			add_item(o.volumes, &o.volume_count, value);
		else if (strcmp(opt, "--tmpfs") == 0)
			add_item(o.tmpfs, &o.tmpfs_count, value);
		else if (strcmp(opt, "--marker") == 0)
			add_item(o.markers, &o.marker_count, value);
		else if (strcmp(opt, "--env") == 0)
			add_item(o.env, &o.env_count, value);
		else
			usage();
	}
	if (is_printing_rules && o.seccomp) {
		seccomp_release(load_profile(o.seccomp));
		return 0;
	}
	if (i + 1 >= argc)
		usage();
	o.argv = argv + i + 1;
	/* Rootless: the container user is the caller's one uid, mapped as 10001. */
	if (getuid() != 0 && (o.uid != 10001 || o.gid != 10001)) {
		errno = 0;
		die("as a user, the container user can only be 10001", NULL);
	}
	if (o.seccomp)
		filter = load_profile(o.seccomp);
	return o.join ? join_container(&o, filter) : run_container(&o, filter);
}
