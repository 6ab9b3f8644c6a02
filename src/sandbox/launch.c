/* The ordered pipeline of a launch: sandbox_run() is the parent's story, child_setup() the
 * child's. Parent: check the spec, ask the gate, prepare every layer (may allocate, may fail
 * with a message), clone3 into new namespaces, write the identity maps and attach the cgroup,
 * let the child go, then supervise it (supervise.c) and collect the outcome. Child (PID 1 of
 * the sandbox): apply the layers in the order of child_setup() and hand over to init_run().
 * Every layer's failure stops the launch: the command never runs with fewer layers than the
 * caller asked for. */
#define _GNU_SOURCE
#include "sandbox/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/devfs.h"
#include "sandbox/egress.h"
#include "sandbox/env.h"
#include "sandbox/gate.h"
#include "sandbox/init.h"
#include "sandbox/landlock.h"
#include "sandbox/mount.h"
#include "sandbox/net.h"
#include "sandbox/proc.h"
#include "sandbox/rlimit.h"
#include "sandbox/seccomp.h"
#include "sandbox/credentials.h"
#include "sandbox/secrets.h"
#include "sandbox/service.h"
#include "sandbox/spec_check.h"
#include "sandbox/supervise.h"
#include "sandbox/sync.h"
#include "sandbox/tty.h"
#include "sandbox/userns.h"
#include "util/clock.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/syscalls.h"

struct launch_plan {
	const struct sandbox_spec *spec;
	const struct sandbox_host *host;
	struct userns_plan userns;
	struct mount_plan mount;
	struct proc_plan proc;
	struct caps_plan caps;
	struct rlimit_plan rlimit;
	struct env_plan env;
	struct secrets_plan secrets;
	struct credentials_plan credentials;
	struct landlock_plan landlock;
	struct seccomp_plan seccomp;
	struct cgroup_plan cgroup;
	bool has_landlock;
	struct egress_plan egress;
	struct tty_plan tty;
	/* [stdout, stderr][read, write]: relayed by the supervisor (--output-limit without a pty;
	 * stderr also when it is the caller's terminal and there is no pty), else -1 */
	int output_pipe[2][2];
	struct sync_exec *exec; /* shared with PID 1 (struct init_config, sync.h) */
};

static int launch_prepare(struct launch_plan *plan, struct run_report *report, struct sk_err *err);
static int launch_spawn(struct launch_plan *plan, struct sandbox_result *result,
			struct run_report *report, struct sk_err *err);
static void launch_cleanup(struct launch_plan *plan);

/* The parent's story (docs/ARCHITECTURE.md, "A launch, in order"). */
int sandbox_run(const struct sandbox_spec *spec, const struct sandbox_host *host,
		struct sandbox_result *result, struct run_report *report, struct sk_err *err)
{
	struct launch_plan plan = {.spec = spec, .host = host, .output_pipe = {{-1, -1}, {-1, -1}}};
	int rc;

	memset(result, 0, sizeof(*result));
	/* Every front end checked the spec already; the engine holds it to that. A long-lived
	 * sandbox needs no first command. */
	if ((host->service && !spec->argv ? spec_check_values(spec, err) : spec_check(spec, err)) <
	    0)
		return -1;
	/* Refuse before anything exists when the host offers less than the spec requires, or a
	 * needed layer is known not to work here. */
	if (gate_require(spec, err) < 0 || gate_check(spec, report, err) < 0)
		return -1;
	/* Every layer prepared: what may allocate or fail loudly happens here, before clone. */
	rc = launch_prepare(&plan, report, err);
	/* clone3, the maps and the cgroup, GO; then supervise until the command is done. */
	if (rc == 0)
		rc = launch_spawn(&plan, result, report, err);
	launch_cleanup(&plan);
	/* A layer failed although the probes said it works: probe again next time. */
	if (rc < 0 && err->exit_code == 125)
		gate_forget();
	return rc;
}

/* ---- child: PID 1 of the sandbox, async-signal-safe, on what the parent prepared ---- */

static int child_fds(const struct launch_plan *plan, int sync_fd, struct sk_err *err);
static int child_identity(const struct launch_plan *plan, int sync_fd, struct sk_err *err);
static int child_optional(int rc, bool is_allowed, int sync_fd, struct sk_err *err);

/* The child's story. The order is the security argument; each step says why it stands where
 * it does. */
static int child_setup(const struct launch_plan *plan, int sync_fd, int *net_helper_pidfd,
		       struct sk_err *err)
{
	const struct sandbox_spec *spec = plan->spec;
	struct net_helper net;

	/* Nothing of the parent's or the caller's but fds 0-2, our socket and the volumes. */
	if (child_fds(plan, sync_fd, err) < 0)
		return -1;
	/* Identity first: as root our kernel uid is still host 0 until now. */
	if (child_identity(plan, sync_fd, err) < 0)
		return -1;
	/* The network namespace is built beside the mounts; joined before anything uses it. */
	if (net_helper_start(&net, err) < 0)
		return -1;
	/* The cgroup namespace is made after the parent attached us, so its root is the
	 * sandbox's own cgroup and the host's hierarchy above it stays invisible. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		return sk_fail_safe(err, "cgroupns", errno, "unshare(CLONE_NEWCGROUP)", NULL, NULL);
	/* Mounts need CAP_SYS_ADMIN in our namespace; /proc while the host's is still visible. */
	/* Secrets into their tmpfs while the new root is still being built. */
	if (mount_apply(&plan->mount, err) < 0 || secrets_apply(&plan->secrets, err) < 0 ||
	    devfs_apply(err) < 0 || proc_apply(&plan->proc, err) < 0 ||
	    mount_finish(&plan->mount, err) < 0)
		return -1;
	/* The sandbox's own terminal, from the devpts just mounted: the caller's fds 0-2 leave
	 * the sandbox here, before anything of the workload exists. */
	if (tty_apply(&plan->tty, sync_fd, err) < 0)
		return -1;
	if (sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return sk_fail_safe(err, "uts", errno, "sethostname", spec->hostname, NULL);
	*net_helper_pidfd = net.pidfd; /* reaped by PID 1 once the command runs */
	if (net_helper_join(&net, err) < 0)
		return -1;
	/* With egress, the proxy's sockets are made here (this namespace) and handed out. */
	if (egress_apply(&plan->egress, sync_fd, err) < 0 || rlimit_apply(&plan->rlimit, err) < 0)
		return -1;
	/* PID 1's own session; the command gets another in init_run. */
	if (setsid() < 0)
		return sk_fail_safe(err, "launch", errno, "setsid", NULL, NULL);
	/* Capabilities last among the privileged steps, then no_new_privs, which Landlock
	 * and seccomp require of an unprivileged caller. */
	if (caps_apply(&plan->caps, err) < 0 || caps_set_no_new_privs(err) < 0)
		return -1;
	if (plan->has_landlock &&
	    child_optional(landlock_apply(&plan->landlock, err),
			   spec->allow_degraded & LAYER_LANDLOCK, sync_fd, err) < 0)
		return -1;
	/* No credential change since may have made us dumpable again. */
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return sk_fail_safe(err, "launch", EPERM, "verify PID 1 is not dumpable", NULL,
				    NULL);
	/* seccomp last: it denies mount, unshare and the rest that the steps above used. */
	if (child_optional(seccomp_apply(&plan->seccomp, err), spec->allow_degraded & LAYER_SECCOMP,
			   sync_fd, err) < 0)
		return -1;
	return 0;
}

static int child_fds(const struct launch_plan *plan, int sync_fd, struct sk_err *err)
{
	int keep[1 + MOUNT_MAX_CHILD_FDS + SECRETS_MAX_FILES];
	int count;

	for (int i = 0; i < 2; i++)
		if (plan->output_pipe[i][1] >= 0 && dup2(plan->output_pipe[i][1], i + 1) < 0)
			return sk_fail_safe(err, "launch", errno, "dup2(output pipes)", NULL, NULL);
	/* Nothing of the parent's or the caller's reaches the sandbox but 0-2 and our socket;
	 * the volumes' fds only until mount_apply() has mounted and closed them, the secrets'
	 * until secrets_apply() has copied and closed them. */
	keep[0] = sync_fd;
	count = 1 + mount_child_fds(&plan->mount, keep + 1, MOUNT_MAX_CHILD_FDS);
	count += secrets_child_fds(&plan->secrets, keep + count, SECRETS_MAX_FILES);
	if (fds_close_except(keep, count) < 0)
		return sk_fail_safe(err, "launch", errno, "close_range", NULL, NULL);
	return 0;
}

static bool parent_is_gone(int sync_fd)
{
	struct pollfd pfd = {.fd = sync_fd, .events = 0};

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR));
}

/* The sandbox user, its share of the per-user kernel objects, and a PID 1 nobody can inspect
 * and that dies with its parent. */
static int child_identity(const struct launch_plan *plan, int sync_fd, struct sk_err *err)
{
	if (userns_apply(&plan->userns, err) < 0)
		return -1;
	/* While CAP_SYS_RESOURCE in the new namespace is ours: the sandbox's share of the
	 * per-user kernel objects, before anything of the workload can hold any. */
	if (userns_limits_apply(&plan->userns, err) < 0)
		return -1;
	/* Non-dumpable: the workload (same uid) cannot open /proc/1/{mem,exe,environ} nor
	 * ptrace us; /proc/1/exe is the stockade binary (runc CVE-2019-5736) and our memory
	 * holds the caller's environment. After the uid change: the kernel resets the flag to
	 * fs.suid_dumpable whenever the effective uid changes. Verified again before exec. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return sk_fail_safe(err, "launch", errno, "prctl(PR_SET_DUMPABLE)", NULL, NULL);
	/* A change of effective uid clears the parent-death signal: set it again, then make
	 * sure the parent did not die in between (its end of the socket would have closed). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return sk_fail_safe(err, "launch", errno, "prctl(PR_SET_PDEATHSIG)", NULL, NULL);
	if (parent_is_gone(sync_fd))
		_exit(125);
	return 0;
}

static void child_report(int sync_fd, enum sync_kind kind, const struct sk_err *err)
{
	struct sync_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.kind = kind;
	msg.err = *err;
	sync_send(sync_fd, &msg);
}

/* A layer the caller allowed to be degraded is reported and skipped; any other fails. */
static int child_optional(int rc, bool is_allowed, int sync_fd, struct sk_err *err)
{
	if (rc == 0 || !is_allowed)
		return rc;
	child_report(sync_fd, SYNC_DEGRADED, err);
	return 0;
}

static void __attribute__((noreturn)) child_main(const struct launch_plan *plan, int sync_fd)
{
	struct init_config config = {.argv = plan->spec->argv,
				     .envp = plan->env.envp,
				     .path = plan->env.path,
				     .exec = plan->exec,
				     .net_helper_pidfd = -1,
				     .has_tty = plan->tty.has_pty,
				     .is_service = plan->host->service != NULL};
	struct sk_err err;
	struct sync_msg msg;

	memset(&err, 0, sizeof(err));
	/* While the parent writes our maps: off the critical path, and before seccomp. The
	 * signals PID 1 forwards stay blocked, as the parent blocked them before clone3. */
	init_default_signals();
	/* Die with the parent. Set before waiting for GO: if the parent is already gone, GO
	 * never comes and recv sees EOF. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(125);
	if (sync_recv(sync_fd, &msg) != 1 || msg.kind != SYNC_GO)
		_exit(125);
	if (child_setup(plan, sync_fd, &config.net_helper_pidfd, &err) < 0) {
		child_report(sync_fd, SYNC_ERROR, &err);
		_exit(125);
	}
	if (config.is_service)
		service_run(&config, sync_fd);
	init_run(&config, sync_fd);
}

/* ---- parent ---- */

static bool allowed(const struct sandbox_spec *spec, enum sandbox_layer layer)
{
	return (spec->allow_degraded & layer) != 0;
}

static int prepare_optional_layers(struct launch_plan *plan, struct run_report *report,
				   struct sk_err *err)
{
	const char *writable[4 + SANDBOX_MAX_VOLUMES];
	const struct sandbox_spec *spec = plan->spec;
	size_t writable_count =
	    mount_writable_paths(&plan->mount, writable, ARRAY_SIZE(writable) - 1);

	/* The mount plan's tmpfs mounts and writable volumes, and devfs's: nowhere else. */
	writable[writable_count++] = DEVFS_SHM;
	if (landlock_prepare(&plan->landlock, writable, writable_count, err) == 0) {
		plan->has_landlock = true;
		report_layer(report, "landlock", true, false, plan->landlock.detail);
	} else if (allowed(spec, LAYER_LANDLOCK)) {
		report_layer(report, "landlock", false, true, err->op);
		memset(err, 0, sizeof(*err)); /* recorded, not an error */
	} else {
		return -1;
	}
	/* The program is built in; only its loading, in the child, can fail (child_optional). */
	seccomp_prepare(&plan->seccomp);
	report_layer(report, "seccomp", true, false, plan->seccomp.detail);
	return 0;
}

static int prepare_output_pipes(struct launch_plan *plan, struct sk_err *err)
{
	for (int i = 0; i < 2; i++) {
		/* With a pty, the output limit is counted at its master instead. A long-lived
		 * sandbox's first command writes into its log, through the supervisor. */
		bool is_limited =
		    (plan->spec->output_limit_bytes || plan->host->service) && !plan->tty.has_pty;
		bool is_terminal = i == 1 && plan->tty.should_pipe_stderr;

		plan->output_pipe[i][0] = plan->output_pipe[i][1] = -1;
		if ((is_limited || is_terminal) && pipe2(plan->output_pipe[i], O_CLOEXEC) < 0)
			return sk_fail(err, "launch", errno, NULL, "pipe2 (output relay)");
	}
	return 0;
}

static int launch_prepare(struct launch_plan *plan, struct run_report *report, struct sk_err *err)
{
	const struct sandbox_spec *spec = plan->spec;
	const struct sandbox_host *host = plan->host;
	char name[64];

	/* Landlock before egress: the proxy confines itself with the sandbox's ABI. */
	if (userns_prepare(&plan->userns, spec, err) < 0 ||
	    secrets_prepare(&plan->secrets, spec, host->secret_fds, err) < 0 ||
	    mount_prepare(&plan->mount, spec, host->volumes, host->workspace, err) < 0 ||
	    proc_prepare(&plan->proc, err) < 0 || caps_prepare(&plan->caps, err) < 0 ||
	    rlimit_prepare(&plan->rlimit, spec, err) < 0 ||
	    env_prepare(&plan->env, spec, host->caller_env, err) < 0 ||
	    prepare_optional_layers(plan, report, err) < 0 ||
	    egress_prepare(&plan->egress, spec, host->audit_fd,
			   plan->has_landlock ? plan->landlock.abi : 0, &plan->env, err) < 0 ||
	    tty_prepare(&plan->tty, spec, err) < 0 || prepare_output_pipes(plan, err) < 0)
		return -1;
	/* After egress (the proxy's table) and before the secrets' variables: a secret's may
	 * replace neither a placeholder nor the bundle variables. */
	if (credentials_prepare(&plan->credentials, spec, host->credential_fds, plan->egress.config,
				&plan->mount, &plan->env, &plan->secrets, err) < 0)
		return -1;
	/* After every other variable is set: a secret's may not replace one of stockade's. */
	if (secrets_env_add(&plan->secrets, &plan->env, err) < 0)
		return -1;
	snprintf(name, sizeof(name), "stockade-%d-%lld", (int)getpid(), (long long)time(NULL));
	if (cgroup_prepare(&plan->cgroup, spec, name, err) < 0)
		return -1;
	report_layer(report, "userns", true, false, plan->userns.detail);
	report_layer(report, "namespaces", true, false, "user mount pid net ipc uts cgroup");
	report_layer(report, "mount", true, false, plan->mount.detail);
	report_layer(report, "caps", true, false, "all sets empty, bounding cleared, no_new_privs");
	if (plan->secrets.count)
		report_layer(report, "secrets", true, false, plan->secrets.detail);
	if (plan->credentials.count)
		report_layer(report, "credentials", true, false, plan->credentials.detail);
	if (plan->cgroup.version || plan->cgroup.is_degraded)
		report_layer(report, "cgroup", plan->cgroup.version != 0, plan->cgroup.is_degraded,
			     plan->cgroup.detail);
	return 0;
}

static void launch_cleanup(struct launch_plan *plan)
{
	egress_plan_free(&plan->egress);
	credentials_plan_free(&plan->credentials);
	cgroup_destroy(&plan->cgroup);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			if (plan->output_pipe[i][j] >= 0)
				close(plan->output_pipe[i][j]);
	seccomp_plan_free(&plan->seccomp);
	env_plan_free(&plan->env);
	secrets_plan_free(&plan->secrets);
	mount_plan_free(&plan->mount);
}

static pid_t launch_clone(int *pidfd)
{
	/* The cgroup namespace is unshared by the child once it is in its cgroup. */
	/* The network namespace is made by PID 1's helper, in parallel (net.h). */
	return sys_clone3(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
			      CLONE_PIDFD,
			  pidfd, SIGCHLD);
}

static int launch_from_parent(const struct launch_plan *plan, pid_t pid, int sync_fd,
			      struct sk_err *err)
{
	struct sync_msg go;

	/* Identity maps and cgroup before the child does anything: it waits for GO. */
	if (userns_from_parent(&plan->userns, pid, err) < 0 ||
	    cgroup_attach(&plan->cgroup, pid, err) < 0)
		return -1;
	/* The parent holds nothing the sandbox should read, but it runs as the sandbox's host
	 * uid when unprivileged: keep it out of reach of ptrace and /proc all the same. Not
	 * before clone: the child would inherit it, and its /proc/PID/uid_map would then be
	 * owned by root and unwritable for an unprivileged parent. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return sk_fail(err, "launch", errno, NULL, "prctl(PR_SET_DUMPABLE)");
	memset(&go, 0, sizeof(go));
	go.kind = SYNC_GO;
	if (sync_send(sync_fd, &go) < 0)
		return sk_fail(err, "launch", errno, NULL, "send GO to the sandbox");
	/* While the child builds the sandbox (off the command's start-up path): the cgroups that
	 * runs killed with SIGKILL left behind go (~50 system calls). */
	(void)cgroup_sweep_stale();
	return 0;
}

/* Whether the command started, from the state the vfork child and the kernel wrote (sync.h),
 * exact whatever ended the sandbox: the parent kills only once an exec under way has ended
 * (supervise_kill). A command that never ran is an error (exit 125, or 126/127 for an exec
 * that failed, even when PID 1 was killed before it could say so). */
static void launch_outcome(const struct launch_plan *plan, const struct supervisor *sv,
			   struct sandbox_result *result, struct sk_err *err)
{
	int errnum;
	enum sync_exec_outcome outcome = sync_exec_outcome(plan->exec, &errnum);

	/* A long-lived sandbox without a first command started once PID 1 said it was ready. */
	result->started = outcome == SYNC_EXEC_STARTED ||
			  (!plan->spec->argv && sv->control && sv->control->is_ready);
	if (result->started || sv->has_failed_setup)
		return;
	if (outcome == SYNC_EXEC_FAILURE && plan->spec->argv)
		init_exec_error(err, errnum, plan->spec->argv[0]);
	else if (result->timed_out)
		sk_fail(err, "launch", 0,
			"setting up a sandbox takes some milliseconds: give --timeout more",
			"--timeout (%llu ms) ended the sandbox before the command started",
			(unsigned long long)plan->spec->timeout_ms);
	else
		sk_fail(err, "launch", 0, "run `stockade doctor` to see which layer fails",
			"the sandbox ended before the command started");
}

static int launch_spawn(struct launch_plan *plan, struct sandbox_result *result,
			struct run_report *report, struct sk_err *err)
{
	struct supervisor sv;
	struct control control;
	int pair[2], rc = 0;
	sigset_t old_mask;
	double start = clock_now_ms();

	/* Anonymous and shared: PID 1 keeps the mapping across clone3; the command's execve
	 * drops it (it only ever shared PID 1's memory through vfork). */
	plan->exec = mmap(NULL, sizeof(*plan->exec), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (plan->exec == MAP_FAILED) {
		plan->exec = NULL;
		return sk_fail(err, "launch", errno, NULL, "mmap(MAP_SHARED)");
	}
	sync_exec_init(plan->exec);
	supervise_init(&sv);
	if (plan->host->service) {
		if (control_init(&control, plan->host->service, &plan->cgroup, err) < 0) {
			munmap(plan->exec, sizeof(*plan->exec));
			return -1;
		}
		sv.control = &control;
	}
	sv.output_limit = plan->spec->output_limit_bytes;
	sv.tty_plan = &plan->tty;
	sv.egress = &plan->egress;
	sv.cgroup = &plan->cgroup;
	sv.result = result;
	sv.report = report;
	sv.err = err;
	sv.exec = plan->exec;
	result->has_pty = plan->tty.has_pty;
	sv.signal_fd = supervise_signalfd(plan->tty.has_pty, &old_mask, err);
	if (sv.signal_fd < 0) {
		if (sv.control)
			control_close(sv.control);
		munmap(plan->exec, sizeof(*plan->exec));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		rc = sk_fail(err, "launch", errno, NULL, "socketpair");
		goto out_signal;
	}
	sv.pid = launch_clone(&sv.pidfd);
	if (sv.pid < 0) {
		rc = sk_fail(err, "namespaces", errno,
			     "unprivileged user namespaces may be disabled "
			     "(sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, "
			     "or an AppArmor/seccomp policy); run `stockade doctor`",
			     "clone3(NEWUSER|NEWNS|NEWPID|NEWIPC|NEWUTS)");
		close(pair[0]);
		close(pair[1]);
		goto out_signal;
	}
	if (sv.pid == 0) {
		close(pair[0]);
		child_main(plan, pair[1]);
	}
	close(pair[1]);
	sv.sync_fd = pair[0];
	if (sv.control)
		sv.control->pid1 = sv.pid;
	for (int i = 0; i < 2; i++) {
		sv.out_fd[i] = plan->output_pipe[i][0];
		if (plan->output_pipe[i][1] >= 0)
			close(plan->output_pipe[i][1]);
		plan->output_pipe[i][0] = plan->output_pipe[i][1] = -1;
	}
	if (supervise_timer(&sv, plan->spec->timeout_ms, err) < 0 ||
	    launch_from_parent(plan, sv.pid, sv.sync_fd, err) < 0) {
		supervise_kill(&sv);
		rc = -1;
	} else {
		supervise_loop(&sv);
		launch_outcome(plan, &sv, result, err);
		rc = sv.has_failed_setup || !result->started ? -1 : 0;
	}
	supervise_finish(&sv);
	/* Every path out of a started sandbox passes here: the caller's terminal settings come
	 * back before anything more is printed (exit, signal, timeout, output limit, a failed
	 * setup or exec). */
	tty_relay_finish(&sv.tty);
	egress_finish(&plan->egress, result, report);
	result->duration_ms = (uint64_t)(clock_now_ms() - start);
	supervise_close(&sv);
out_signal:
	if (sv.control)
		control_close(sv.control);
	close(sv.signal_fd);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	munmap(plan->exec, sizeof(*plan->exec));
	plan->exec = NULL;
	return rc;
}
