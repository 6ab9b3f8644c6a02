/* Real probes of each isolation layer. Each probe does the real operation in a throwaway child
 * (clone3 with the namespace flags and the uid/gid maps written exactly as launch.c does, or a
 * plain fork for seccomp and Landlock), which reports a struct probe_result over a pipe. The
 * parent bounds every child with a timeout and kills and reaps it on every path. */
#define _GNU_SOURCE
#include "sandbox/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/mount.h"
#include "sandbox/net.h"
#include "net/proxy.h"
#include "sandbox/seccomp.h"
#include "sandbox/userns.h"
#include "sandbox/probe_advice.h"
#include "util/clock.h"
#include "util/macros.h"
#include "util/syscalls.h"

#define PROBE_TIMEOUT_MS 2000
#define MIB (1024ull * 1024ull)

/* The cgroup a probe child is moved into, and must then find itself in. */
struct cgroup_probe {
	struct cgroup_plan plan;
	char name[64];
};

/* What a probe's parent prepares before its child runs. */
union probe_state {
	struct seccomp_plan seccomp;
	struct landlock_plan landlock;
	struct cgroup_probe cgroup;
};

/* One layer's probe: how its child is made, what the parent prepares, what the child does. */
struct probe_spec {
	const char *name;
	bool is_required;
	uint64_t flags;		  /* CLONE_NEW* for clone3 (0: fork); NEWUSER: maps written */
	const char *clone_op;	  /* the operation named when clone3 fails */
	const struct ns_info *ns; /* the namespace a clone3 failure is blamed on */
	const char *detail;	  /* the detail when ok, unless the child wrote one */
	const void *arg;	  /* for the child; NULL: the state prepare() filled */
	/* Parent, before the child: what it needs (the seccomp program, ...); or NULL. */
	int (*prepare)(union probe_state *state, struct probe_result *result);
	/* Parent, after clone and the maps, before the child goes (cgroup attach); or NULL. */
	int (*from_parent)(const void *arg, pid_t pid, struct probe_result *result);
	/* Child, after taking the sandbox identity: the operation and the check that it worked.
	 * Async-signal-safe; fills result and returns -1 on failure. */
	int (*body)(const void *arg, struct probe_result *result);
	void (*cleanup)(union probe_state *state); /* parent, after the child; or NULL */
};

enum child_outcome { CHILD_NOT_STARTED, CHILD_REPORTED, CHILD_DIED, CHILD_TIMED_OUT };

/* ---- filling results (async-signal-safe: usable in the child) ---- */

static int probe_fail(struct probe_result *result, enum probe_status status, int errnum,
		      const char *op, const char *diagnosis, const char *remedy)
{
	result->status = status;
	result->errnum = errnum;
	if (op != result->op)
		sk_strlcpy(result->op, op ? op : "", sizeof(result->op));
	/* One line: userns.c's op quotes the map text with its newline. */
	for (char *c = result->op; *c; c++)
		if (*c == '\n')
			*c = ' ';
	sk_strlcpy(result->diagnosis, diagnosis ? diagnosis : "", sizeof(result->diagnosis));
	sk_strlcpy(result->remedy, remedy ? remedy : "", sizeof(result->remedy));
	return -1;
}

static int broken(struct probe_result *r, int errnum, const char *op, const char *diagnosis)
{
	return probe_fail(r, PROBE_BROKEN, errnum, op, diagnosis, remedy_report);
}

static void join3(char *out, size_t size, const char *a, const char *b, const char *c)
{
	sk_strlcpy(out, a, size);
	sk_strlcat(out, b, size);
	sk_strlcat(out, c, size);
}

/* EACCES (an LSM) and EOPNOTSUPP (Landlock off) are looked up as EPERM and ENOSYS. */
static int advise(const struct advice *table, int errnum, const char *op, struct probe_result *r)
{
	int key = errnum == EACCES ? EPERM : errnum == EOPNOTSUPP ? ENOSYS : errnum;

	while (table->errnum && table->errnum != key)
		table++;
	probe_fail(r, table->status, errnum, op, table->diagnosis, table->remedy);
	r->fix = table->fix;
	return -1;
}

/* True when the first byte of a /proc/sys file is `value` (a missing file is false). */
static bool sysctl_is(const char *path, char value)
{
	char byte = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	bool is = read(fd, &byte, 1) == 1 && byte == value;
	close(fd);
	return is;
}

static bool runs_under_seccomp(void)
{
	return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2;
}

static int explain_userns_refused(int errnum, const char *op, struct probe_result *r)
{
	bool is_root = geteuid() == 0;
	int why = USERNS_ANY;

	if (!is_root && sysctl_is("/proc/sys/kernel/unprivileged_userns_clone", '0'))
		why = USERNS_SYSCTL;
	else if (!is_root &&
		 sysctl_is("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", '1'))
		why = USERNS_APPARMOR;
	else if (runs_under_seccomp())
		why = USERNS_SECCOMP;
	probe_fail(r, PROBE_UNAVAILABLE, errnum, op, userns_refused[why].diagnosis,
		   userns_refused[why].remedy);
	r->fix = userns_refused[why].fix;
	return -1;
}

/* A failure to create a namespace (clone3 in the parent, unshare in the child). */
static int explain_ns(const struct ns_info *ns, const char *op, int errnum, struct probe_result *r)
{
	if ((errnum == EPERM || errnum == EACCES) && ns == &ns_user)
		return explain_userns_refused(errnum, op, r);
	if (errnum != ENOSPC && errnum != EINVAL)
		return advise(ns_advice, errnum, op, r);
	probe_fail(r, PROBE_UNAVAILABLE, errnum, op, NULL, NULL);
	if (errnum == EINVAL) {
		join3(r->diagnosis, sizeof(r->diagnosis), "the kernel was built without ",
		      ns->config, "");
		join3(r->remedy, sizeof(r->remedy), "use a kernel built with ", ns->config, "=y");
		return -1;
	}
	join3(r->diagnosis, sizeof(r->diagnosis), ns->sysctl,
	      " is 0 or exhausted: the kernel refuses another namespace of this kind", "");
	join3(r->remedy, sizeof(r->remedy), "sysctl -w ", ns->sysctl,
	      "=15000 (persist it in /etc/sysctl.d/); in a container, its user namespace's "
	      "limit applies");
	return -1;
}

/* ---- the child ---- */

static void __attribute__((noreturn)) child_main(const struct probe_spec *spec, const void *arg,
						 const struct userns_plan *identity, int sync_fd)
{
	struct probe_result report;
	struct sk_err err;
	char go;

	memset(&report, 0, sizeof(report));
	memset(&err, 0, sizeof(err));
	/* Die with the prober; if it died before this line, GO never comes (EOF). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || read(sync_fd, &go, 1) != 1)
		_exit(1);
	/* The sandbox's PID 1's first step: become the mapped sandbox user. EPERM there means
	 * the namespace came without capabilities, which is what AppArmor's restriction does. */
	if ((spec->flags & CLONE_NEWUSER) && userns_apply(identity, &err) < 0) {
		if (err.errnum == EPERM)
			explain_userns_refused(err.errnum, err.op, &report);
		else
			broken(&report, err.errnum, err.op, "the sandbox identity cannot be taken");
	} else if (spec->body(arg, &report) == 0) {
		report.status = PROBE_OK;
	}
	/* One SOCK_SEQPACKET message: the parent reads all of it or nothing. */
	if (write(sync_fd, &report, sizeof(report)) != (ssize_t)sizeof(report))
		_exit(1);
	_exit(0);
}

/* ---- the parent ---- */

/* The identity launch.c gives the sandbox: uid 10001 inside, mapped onto 10001 as root, onto
 * the caller otherwise. Not userns_prepare(): as root it drops the caller's groups. */
static void probe_identity_plan(struct userns_plan *plan)
{
	struct identity id;
	struct sk_err ignored;

	memset(plan, 0, sizeof(*plan));
	plan->uid = plan->gid = SANDBOX_DEFAULT_UID;
	/* No safe uid (root whose uid 0 is uid 0 outside, without uid 10001): try 10001 all
	 * the same, so that the map write fails and rootless_advice says why. */
	if (identity_find(&id, &ignored) < 0) {
		id.uid = id.gid = SANDBOX_DEFAULT_HOST_UID;
		id.is_privileged_root = true;
	}
	plan->is_root_caller = id.is_privileged_root;
	plan->host_uid = id.uid;
	plan->host_gid = id.gid;
}

static pid_t probe_clone(uint64_t flags)
{
	/* No namespace: a plain fork, so that seccomp and Landlock are probed, not clone3. */
	return flags == 0 ? fork() : sys_clone3(flags, NULL, SIGCHLD);
}

/* True when uid exists in our own user namespace: only then can a child map onto it. */
static bool uid_is_mapped(uid_t uid)
{
	unsigned long inside, outside, count;
	bool is_mapped = false;
	FILE *map = fopen("/proc/self/uid_map", "re");

	if (!map)
		return true; /* unknown: let the general diagnosis speak */
	while (!is_mapped && fscanf(map, "%lu %lu %lu", &inside, &outside, &count) == 3)
		is_mapped = uid >= inside && uid - inside < count;
	fclose(map);
	return is_mapped;
}

static int write_maps(const struct userns_plan *identity, pid_t pid, struct probe_result *r)
{
	struct sk_err err;

	memset(&err, 0, sizeof(err));
	if (userns_from_parent(identity, pid, &err) == 0)
		return 0;
	if (err.errnum == EPERM && !uid_is_mapped(identity->host_uid))
		return advise(rootless_advice, err.errnum, err.op, r);
	if (err.errnum == EPERM)
		return explain_userns_refused(err.errnum, err.op, r);
	return broken(r, err.errnum, err.op,
		      "the probe child's /proc/PID files cannot be "
		      "written: /proc is another PID namespace's, or mounted with hidepid=, or "
		      "the caller is non-dumpable");
}

/* Waits for the child's report until the deadline. */
static enum child_outcome await_report(int fd, struct probe_result *report)
{
	double deadline = clock_now_ms() + PROBE_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		double left = deadline - clock_now_ms();
		int n = poll(&pfd, 1, left > 0 ? (int)left + 1 : 0);
		ssize_t got;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CHILD_TIMED_OUT;
		got = read(fd, report, sizeof(*report));
		if (got < 0 && errno == EINTR)
			continue;
		return got == (ssize_t)sizeof(*report) ? CHILD_REPORTED : CHILD_DIED;
	}
}

/* The child ended without a report: say how. */
static int explain_death(int status, struct probe_result *r)
{
	char op[64] = "probe child ended with wait status ";
	char digits[24];

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		return advise(sigsys_advice, 0, "probe child killed by SIGSYS", r);
	sk_strlcat(op, sk_utoa((unsigned)status, digits, sizeof(digits)), sizeof(op));
	return broken(r, 0, op, "the probe child ended without reporting");
}

/* Kills (whatever its state: it has nothing left to do) and reaps the child, then turns the
 * outcome into the result. */
static int reap_child(pid_t pid, enum child_outcome outcome, const struct probe_result *report,
		      struct probe_result *r)
{
	int status = 0;

	kill(pid, SIGKILL);
	(void)RETRY_EINTR(waitpid(pid, &status, 0));
	switch (outcome) {
	case CHILD_NOT_STARTED:
		return -1; /* r already says why */
	case CHILD_REPORTED:
		r->status = report->status;
		r->errnum = report->errnum;
		r->fix = report->fix;
		sk_strlcpy(r->op, report->op, sizeof(r->op));
		sk_strlcpy(r->diagnosis, report->diagnosis, sizeof(r->diagnosis));
		sk_strlcpy(r->remedy, report->remedy, sizeof(r->remedy));
		sk_strlcpy(r->detail, report->detail, sizeof(r->detail));
		return r->status == PROBE_OK ? 0 : -1;
	case CHILD_TIMED_OUT:
		return advise(timeout_advice, ETIMEDOUT, "waiting for the probe child", r);
	default:
		return explain_death(status, r);
	}
}

static int supervise(const struct probe_spec *spec, const void *arg,
		     const struct userns_plan *identity, pid_t pid, int sync_fd,
		     struct probe_result *r)
{
	struct probe_result report;
	enum child_outcome outcome = CHILD_NOT_STARTED;
	int rc = 0;

	memset(&report, 0, sizeof(report));
	/* As launch.c: setgroups deny, uid_map, gid_map, written by us after clone. */
	if (spec->flags & CLONE_NEWUSER)
		rc = write_maps(identity, pid, r);
	if (rc == 0 && spec->from_parent)
		rc = spec->from_parent(arg, pid, r);
	if (rc == 0 && write(sync_fd, "g", 1) != 1)
		rc = broken(r, errno, "write(probe GO)", "the probe child cannot be told to go");
	if (rc == 0)
		outcome = await_report(sync_fd, &report);
	return reap_child(pid, outcome, &report, r);
}

/* Runs the probe's child: 0 when it reported success, else -1 with r filled. */
static int run_child(const struct probe_spec *spec, const void *arg, struct probe_result *r)
{
	struct userns_plan identity;
	int sock[2]; /* GO to the child, its report back; EOF when it exits */
	pid_t pid;
	int saved, rc;

	probe_identity_plan(&identity);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
		return broken(r, errno, "socketpair", "out of file descriptors?");
	pid = probe_clone(spec->flags);
	saved = errno;
	if (pid == 0) {
		close(sock[0]);
		child_main(spec, arg, &identity, sock[1]);
	}
	close(sock[1]);
	if (pid < 0)
		rc = explain_ns(spec->ns, spec->clone_op, saved, r);
	else
		rc = supervise(spec, arg, &identity, pid, sock[0], r);
	close(sock[0]);
	return rc;
}

/* ---- the probes: child bodies are async-signal-safe ---- */

static int userns_body(const void *arg, struct probe_result *r)
{
	(void)arg;
	if (getuid() != SANDBOX_DEFAULT_UID || getgid() != SANDBOX_DEFAULT_UID)
		return broken(r, 0, "getuid/getgid after setresuid",
			      "the uid/gid maps were written but are not in effect");
	return 0;
}

/* mountns: the engine's own mount functions on a one-entry plan: a tmpfs root on /sys, /usr
 * bound read-only into it (mount_setattr, recursive), pivot_root(".", ".") and the old root
 * detached. */
static char probe_usr_src[] = MOUNT_HOST "/usr";
static char probe_usr_dst[] = MOUNT_NEWROOT "/usr";
static struct mount_entry probe_usr = {
    .kind = MOUNT_BIND_DIR, .src = probe_usr_src, .dst = probe_usr_dst};
static const struct mount_plan probe_mount_plan = {
    .entries = &probe_usr, .count = 1, .root_data = "mode=0755,size=64k", .workdir = "/"};

static int mountns_body(const void *arg, struct probe_result *r)
{
	struct sk_err err;

	memset(&err, 0, sizeof(err));
	if (mount_apply(arg, &err) < 0 || mount_finish(arg, &err) < 0)
		return advise(mount_advice, err.errnum, err.op, r);
	/* On a read-only mount creating a name fails with EROFS before any permission check;
	 * we are the sandbox user by now, so a writable /usr would give EACCES, not a dir. */
	if (mkdir("/usr/.stockade-probe", 0700) == 0 || errno != EROFS) {
		int saved = errno;

		rmdir("/usr/.stockade-probe");
		return broken(r, saved, "mkdir /usr/.stockade-probe",
			      "a bind made read-only with mount_setattr(MOUNT_ATTR_RDONLY) is "
			      "writable");
	}
	/* Only the plan's /usr is left: the host's /etc went with the old root. */
	if (access("/etc", F_OK) == 0 || errno != ENOENT)
		return broken(r, errno, "access /etc after pivot_root",
			      "the host's root is reachable after pivot_root and detaching it");
	return 0;
}

/* overlay: what a workspace needs, made by the engine's own mount_overlay in a new user and
 * mount namespace on a tmpfs of its own: a file written through it lands in the upper layer,
 * a file deleted through it stays in the lower one. */
static int overlay_body(const void *arg, struct probe_result *r)
{
	static const char *const dirs[] = {"/sys/l", "/sys/u", "/sys/w", "/sys/m"};
	struct sk_err err;
	int fds[4] = {-1, -1, -1, -1}, rc = -1, fd;

	(void)arg;
	memset(&err, 0, sizeof(err));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/sys", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
		return advise(mount_advice, errno, "mount a tmpfs on /sys", r);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdir(dirs[i], 0755) < 0 ||
		    (fds[i] = open(dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			return broken(r, errno, "mkdir on the probe's tmpfs",
				      "a tmpfs is not usable");
	fd = open("/sys/l/f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return broken(r, errno, "create /sys/l/f", "a tmpfs is not usable");
	close(fd);
	if (mount_overlay(fds[0], fds[1], fds[2], fds[3], &err) < 0) {
		rc = advise(overlay_advice, err.errnum, err.op, r);
	} else if ((fd = open("/sys/m/g", O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
		   unlink("/sys/m/f") < 0) {
		rc = broken(r, errno, "write through the overlay", "the overlay is not writable");
	} else if (access("/sys/l/f", F_OK) < 0 || access("/sys/l/g", F_OK) == 0 ||
		   access("/sys/u/g", F_OK) < 0) {
		rc = broken(r, errno, "check the layers",
			    "a change made through the overlay reached its lower layer");
	} else {
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

/* PID 1 of a new PID namespace mounts a fresh procfs, as the engine does while the host's /proc
 * is still visible; the kernel refuses it when that /proc is partly masked. */
static int pidns_body(const void *arg, struct probe_result *r)
{
	char self[16];
	ssize_t n;

	(void)arg;
	if (getpid() != 1)
		return broken(r, 0, "getpid", "the probe child is not PID 1 of its PID namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return advise(mount_advice, errno, "make / private (MS_REC|MS_PRIVATE)", r);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return advise(procfs_advice, errno, "mount proc on /proc", r);
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n != 1 || self[0] != '1')
		return broken(r, n < 0 ? errno : 0, "readlink /proc/self",
			      "the new procfs does not show the new PID namespace");
	return 0;
}

/* net_apply as the engine calls it, then lo must be up. */
static int netns_body(const void *arg, struct probe_result *r)
{
	struct sk_err err;
	struct ifreq ifr;
	int fd;

	(void)arg;
	memset(&err, 0, sizeof(err));
	if (net_apply(&err) < 0)
		return advise(net_advice, err.errnum, err.op, r);
	memset(&ifr, 0, sizeof(ifr));
	sk_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 || !(ifr.ifr_flags & IFF_UP))
		return broken(r, errno, "SIOCGIFFLAGS lo", "lo is not up after SIOCSIFFLAGS");
	close(fd);
	/* The egress proxy's listening sockets, made exactly as a run makes them. */
	int proxy_fds[2];
	if (proxy_listen(proxy_fds, &err) < 0)
		return advise(net_advice, err.errnum, err.op, r);
	close(proxy_fds[0]);
	close(proxy_fds[1]);
	sk_strlcpy(r->detail,
		   "lo up; proxy sockets " PROXY_ADDRESS
		   ":" STRINGIFY(PROXY_HTTP_PORT) ", :" STRINGIFY(PROXY_SOCKS_PORT),
		   sizeof(r->detail));
	return 0;
}

/* IPC, UTS and cgroup namespaces: unshared inside a new user namespace (as the engine does for
 * the cgroup one); the namespace's inode must change. */
struct unshare_probe {
	int flag;
	const char *op;
	const struct ns_info *ns;
	const char *ns_link; /* "/proc/self/ns/ipc" */
	bool sets_hostname;
};

static const struct unshare_probe unshare_ipc = {CLONE_NEWIPC, "unshare(CLONE_NEWIPC)", &ns_ipc,
						 "/proc/self/ns/ipc", false};
static const struct unshare_probe unshare_uts = {CLONE_NEWUTS, "unshare(CLONE_NEWUTS)", &ns_uts,
						 "/proc/self/ns/uts", true};
static const struct unshare_probe unshare_cgroup = {CLONE_NEWCGROUP, "unshare(CLONE_NEWCGROUP)",
						    &ns_cgroup, "/proc/self/ns/cgroup", false};

static int unshare_body(const void *arg, struct probe_result *r)
{
	const struct unshare_probe *probe = arg;
	static const char name[] = "stockade-probe";
	struct stat before, after;
	char seen[sizeof(name) + 1];

	if (stat(probe->ns_link, &before) < 0)
		return broken(r, errno, probe->ns_link, "the namespace link cannot be read");
	if (unshare(probe->flag) < 0)
		return explain_ns(probe->ns, probe->op, errno, r);
	if (stat(probe->ns_link, &after) < 0 || after.st_ino == before.st_ino)
		return broken(r, errno, probe->ns_link,
			      "unshare succeeded but the namespace did not change");
	if (!probe->sets_hostname)
		return 0;
	if (sethostname(name, sizeof(name) - 1) < 0)
		return advise(hostname_advice, errno, "sethostname", r);
	if (gethostname(seen, sizeof(seen)) < 0 || strcmp(seen, name) != 0)
		return broken(r, errno, "gethostname", "the hostname set did not stick");
	return 0;
}

static int seccomp_prepare_probe(union probe_state *state, struct probe_result *r)
{
	(void)r;
	seccomp_prepare(&state->seccomp);
	return 0;
}

static void seccomp_cleanup(union probe_state *state)
{
	seccomp_plan_free(&state->seccomp);
}

static int explain_seccomp(const struct sk_err *err, struct probe_result *r)
{
	/* A filter that fails seccomp(2) itself: mostly EPERM, but ENOSYS and EACCES exist. */
	if ((err->errnum == EPERM || err->errnum == ENOSYS || err->errnum == EACCES) &&
	    runs_under_seccomp())
		return advise(nested_seccomp_advice, err->errnum, err->op, r);
	return advise(seccomp_advice, err->errnum, err->op, r);
}

/* The real filter, then two calls it denies: unshare(0) returns 0 natively for anyone, so EPERM
 * proves the filter is enforced; mount adds a check for root. */
static int seccomp_body(const void *arg, struct probe_result *r)
{
	const struct seccomp_plan *plan = arg;
	struct sk_err err;
	char digits[24];

	memset(&err, 0, sizeof(err));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return broken(r, errno, "prctl(PR_SET_NO_NEW_PRIVS)", "no_new_privs cannot be set");
	if (seccomp_apply(plan, &err) < 0)
		return explain_seccomp(&err, r);
	if (unshare(0) == 0 || errno != EPERM)
		return broken(r, errno, "unshare(0) under the filter",
			      "the filter loaded but is not enforced: unshare was not denied");
	if (mount(NULL, NULL, NULL, 0, NULL) == 0 || errno != EPERM)
		return broken(r, errno, "mount under the filter",
			      "the filter loaded but is not enforced: mount was not denied");
	join3(r->detail, sizeof(r->detail), "x86_64; other ABIs killed; ",
	      sk_utoa(plan->filter_len, digits, sizeof(digits)), " instructions");
	return 0;
}

/* The engine's own plan, without rules: every filesystem right is handled and none granted. */
static int landlock_prepare_probe(union probe_state *state, struct probe_result *r)
{
	struct sk_err err;

	memset(&err, 0, sizeof(err));
	if (landlock_prepare(&state->landlock, NULL, 0, &err) < 0)
		return advise(landlock_advice, err.errnum, err.op, r);
	state->landlock.rule_count = 0;
	return 0;
}

/* landlock_apply as the engine calls it; then even listing "/" must be denied. */
static int landlock_body(const void *arg, struct probe_result *r)
{
	const struct landlock_plan *plan = arg;
	struct sk_err err;
	char digits[24];
	int fd;

	memset(&err, 0, sizeof(err));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return broken(r, errno, "prctl(PR_SET_NO_NEW_PRIVS)", "no_new_privs cannot be set");
	if (landlock_apply(plan, &err) < 0)
		return advise(landlock_advice, err.errnum, err.op, r);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return broken(r, fd >= 0 ? 0 : errno, "open / under the ruleset",
			      "the ruleset was applied but is not enforced: reading / was allowed");
	join3(r->detail, sizeof(r->detail), "ABI ",
	      sk_utoa((unsigned)plan->abi, digits, sizeof(digits)), "");
	return 0;
}

/* cgroup_prepare with small memory and pids limits; a child is attached, then all destroyed. */
static int cgroup_prepare_probe(union probe_state *state, struct probe_result *r)
{
	static unsigned counter;
	struct cgroup_probe *probe = &state->cgroup;
	struct sandbox_spec spec = {.memory_bytes = 64 * MIB, .pids_limit = 64};
	struct sk_err err;

	memset(&err, 0, sizeof(err));
	snprintf(probe->name, sizeof(probe->name), "stockade-probe-%d-%u", (int)getpid(),
		 counter++);
	if (cgroup_prepare(&probe->plan, &spec, probe->name, &err) == 0)
		return 0;
	return probe_fail(r, PROBE_UNAVAILABLE, err.errnum,
			  "cgroup_prepare(memory 64 MiB, pids 64)", err.op, err.hint);
}

static int cgroup_from_parent(const void *arg, pid_t pid, struct probe_result *r)
{
	const struct cgroup_probe *probe = arg;
	struct sk_err err;

	memset(&err, 0, sizeof(err));
	if (cgroup_attach(&probe->plan, pid, &err) == 0)
		return 0;
	return advise(attach_advice, err.errnum, err.op, r);
}

static int cgroup_body(const void *arg, struct probe_result *r)
{
	const struct cgroup_probe *probe = arg;
	char text[1024], digits[24];
	ssize_t n = -1;
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	if (!strstr(text, probe->name))
		return broken(r, n < 0 ? errno : 0, "read /proc/self/cgroup",
			      "the probe child is not in the cgroup it was moved into");
	join3(r->detail, sizeof(r->detail), "v",
	      sk_utoa((unsigned)probe->plan.version, digits, sizeof(digits)), ": memory,pids");
	return 0;
}

static void cgroup_cleanup(union probe_state *state)
{
	cgroup_destroy(&state->cgroup.plan);
}

/* ---- the table and the entry points ---- */

static const struct probe_spec probe_table[PROBE_COUNT] = {
    [PROBE_USERNS] = {.name = "userns",
		      .is_required = true,
		      .flags = CLONE_NEWUSER,
		      .clone_op = "clone3(CLONE_NEWUSER)",
		      .ns = &ns_user,
		      .detail = "uid 10001 mapped, setgroups deny",
		      .body = userns_body},
    [PROBE_MOUNTNS] = {.name = "mountns",
		       .is_required = true,
		       .flags = CLONE_NEWUSER | CLONE_NEWNS,
		       .clone_op = "clone3(CLONE_NEWUSER|CLONE_NEWNS)",
		       .ns = &ns_mount,
		       .detail = "tmpfs root, /usr read-only (mount_setattr), pivot_root",
		       .arg = &probe_mount_plan,
		       .body = mountns_body},
    [PROBE_PIDNS] = {.name = "pidns",
		     .is_required = true,
		     .flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID,
		     .clone_op = "clone3(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID)",
		     .ns = &ns_pid,
		     .detail = "PID 1, fresh procfs",
		     .body = pidns_body},
    [PROBE_NETNS] = {.name = "netns",
		     .is_required = true,
		     .flags = CLONE_NEWUSER | CLONE_NEWNET,
		     .clone_op = "clone3(CLONE_NEWUSER|CLONE_NEWNET)",
		     .ns = &ns_net,
		     .detail = "lo up",
		     .body = netns_body},
    [PROBE_IPCNS] = {.name = "ipcns",
		     .is_required = true,
		     .flags = CLONE_NEWUSER,
		     .clone_op = "clone3(CLONE_NEWUSER)",
		     .ns = &ns_user,
		     .detail = "unshare(CLONE_NEWIPC)",
		     .arg = &unshare_ipc,
		     .body = unshare_body},
    [PROBE_UTSNS] = {.name = "utsns",
		     .is_required = true,
		     .flags = CLONE_NEWUSER,
		     .clone_op = "clone3(CLONE_NEWUSER)",
		     .ns = &ns_user,
		     .detail = "unshare(CLONE_NEWUTS), sethostname",
		     .arg = &unshare_uts,
		     .body = unshare_body},
    [PROBE_CGROUPNS] = {.name = "cgroupns",
			.is_required = true,
			.flags = CLONE_NEWUSER,
			.clone_op = "clone3(CLONE_NEWUSER)",
			.ns = &ns_user,
			.detail = "unshare(CLONE_NEWCGROUP)",
			.arg = &unshare_cgroup,
			.body = unshare_body},
    /* No namespace: a plain fork, so that the layer itself is probed. */
    [PROBE_SECCOMP] = {.name = "seccomp",
		       .is_required = true,
		       .clone_op = "fork",
		       .detail = "",
		       .prepare = seccomp_prepare_probe,
		       .body = seccomp_body,
		       .cleanup = seccomp_cleanup},
    [PROBE_LANDLOCK] = {.name = "landlock",
			.is_required = true,
			.clone_op = "fork",
			.detail = "",
			.prepare = landlock_prepare_probe,
			.body = landlock_body},
    /* Only runs with --memory, --pids-limit or --cpus need it. */
    [PROBE_CGROUP] = {.name = "cgroup",
		      .is_required = false,
		      .clone_op = "fork",
		      .detail = "",
		      .prepare = cgroup_prepare_probe,
		      .from_parent = cgroup_from_parent,
		      .body = cgroup_body,
		      .cleanup = cgroup_cleanup},
    /* Only runs with a workspace need it. */
    [PROBE_OVERLAY] = {.name = "overlay",
		       .is_required = false,
		       .flags = CLONE_NEWUSER | CLONE_NEWNS,
		       .clone_op = "clone3(CLONE_NEWUSER|CLONE_NEWNS)",
		       .ns = &ns_mount,
		       .detail = "in a user namespace (userxattr)",
		       .body = overlay_body},
};

/* In a container, a failure its engine's defaults cause gets that engine's fix as its remedy
 * (container.h); seccomp and Landlock keep their way around it. Detected once per process. */
static void remedy_for_container(struct probe_result *result)
{
	static struct container_info info;
	static bool has_info;
	char remedy[sizeof(result->remedy)];

	if (result->status == PROBE_OK || result->fix == FIX_NONE)
		return;
	if (!has_info) {
		container_detect(&info);
		has_info = true;
	}
	if (!container_remedy(&info, result->fix, remedy, sizeof(remedy)))
		return;
	if (result->layer == PROBE_SECCOMP || result->layer == PROBE_LANDLOCK) {
		sk_strlcat(remedy, "; or run with --allow-degraded ", sizeof(remedy));
		sk_strlcat(remedy, result->name, sizeof(remedy));
	}
	sk_strlcpy(result->remedy, remedy, sizeof(result->remedy));
}

void probe_one(enum probe_layer layer, struct probe_result *result)
{
	const struct probe_spec *spec;
	union probe_state state;
	double start = clock_now_ms();

	memset(result, 0, sizeof(*result));
	result->layer = layer;
	if ((unsigned)layer >= PROBE_COUNT) {
		result->name = "unknown";
		broken(result, EINVAL, "probe_one", "no such layer");
		return;
	}
	spec = &probe_table[layer];
	result->name = spec->name;
	result->is_required = spec->is_required;
	if (!spec->prepare || spec->prepare(&state, result) == 0) {
		if (run_child(spec, spec->arg ? spec->arg : &state, result) == 0 &&
		    !result->detail[0])
			sk_strlcpy(result->detail, spec->detail, sizeof(result->detail));
		if (spec->cleanup)
			spec->cleanup(&state);
	}
	remedy_for_container(result);
	result->duration_ms = clock_now_ms() - start;
}

void probe_describe(struct probe_result results[PROBE_COUNT])
{
	for (int layer = 0; layer < PROBE_COUNT; layer++) {
		memset(&results[layer], 0, sizeof(results[layer]));
		results[layer].layer = (enum probe_layer)layer;
		results[layer].name = probe_table[layer].name;
		results[layer].is_required = probe_table[layer].is_required;
	}
}

void probe_all(struct probe_result results[PROBE_COUNT])
{
	for (int layer = 0; layer < PROBE_COUNT; layer++)
		probe_one((enum probe_layer)layer, &results[layer]);
}

const char *probe_status_name(enum probe_status status)
{
	static const char *const names[] = {"ok", "unavailable", "broken"};

	return (unsigned)status < 3 ? names[status] : "unknown";
}
