"""Fail closed (docs/DESIGN.md principle 1): when a layer cannot be applied for real, the command
does not run. Each test breaks one layer in a real way (a seccomp filter around stockade that
fails the syscall the layer needs, a sysctl, a read-only cgroup mount, a partly masked /proc)
and checks: exit 125; exactly one stderr line "stockade: LAYER: ...: ERRNO-TEXT ..."; the
command did not run (its stdout marker is absent); nothing was left behind (no stockade-PID-*
cgroup directory, no process with the run's marker). --allow-degraded LAYER makes exactly that
layer optional, and the skip is recorded in the report.

The broken environments come from tests/helpers/deny-syscall (`deny-syscall [-e ERRNO]
SYSCALL[,...] -- COMMAND`), which execs its command, so the pid of the process we start is
stockade's pid, and stockade names its cgroups stockade-<pid>-<time>."""
import errno
import json
import os
import re
import subprocess
import time

import harness
from harness import expect

CGROUP_ROOT = "/sys/fs/cgroup"
ENOSYS = errno.ENOSYS


def _marker():
    return f"failclosed-{os.getpid()}-{time.monotonic_ns() % 10**12}"


def _workload(marker, extra=""):
    """A command that prints RAN (and what `extra` prints) if it ever runs; the marker in its
    command line finds any process of the run left behind (the sandbox's PID 1 carries
    stockade's argv, so it carries the marker too)."""
    return ["sh", "-c", f"echo RAN; {extra} : {marker}"]


def _stockade_dirs(pid=None):
    """Every cgroup directory named after stockade process `pid` (any stockade process when
    None), in every hierarchy."""
    found = []
    prefix = "stockade-" if pid is None else f"stockade-{pid}-"
    for top, dirs, _files in os.walk(CGROUP_ROOT):
        for d in dirs:
            if d.startswith(prefix):
                found.append(os.path.join(top, d))
    return found


def _strays(marker):
    r = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in r.stdout.splitlines() if "pgrep" not in line]


def _finish(p, input=None, timeout=60):
    r = harness.finish(p, input=input, timeout=timeout)
    r.pid = p.pid
    return r


def run_as_caller(ctx, argv, env=None, timeout=60):
    """Runs argv as this mode's caller; the result carries the pid (stockade's, as every
    wrapper used here execs)."""
    p = ctx.popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    return _finish(p, timeout=timeout)


def warm_probe_cache(ctx):
    """One healthy run first, so the probe cache of this boot says every layer works: the run
    under the filter then gets past the gate and must fail closed in the layer itself (a cached
    "ok" must never hide a layer that fails now). test_doctor.py covers the gate's own refusals
    with an empty cache."""
    r = ctx.sandbox("true")
    expect(r.returncode == 0, f"healthy warm-up run failed: {r}")


def denied(ctx, syscalls, opts=(), cmd=None, errnum=None, marker=None):
    """stockade run OPTS -- CMD, under a filter that fails `syscalls` with errnum (EPERM)."""
    warm_probe_cache(ctx)
    argv = [ctx.helper("deny-syscall")]
    if errnum is not None:
        argv += ["-e", str(errnum)]
    argv += [",".join(syscalls), "--", ctx.stockade_path, "run"] + list(opts) + ["--"]
    argv += cmd if cmd is not None else _workload(marker or _marker())
    return run_as_caller(ctx, argv)


def expect_fail_closed(r, layer, errnum=None, words=(), marker=None):
    """Exit 125, one line 'stockade: LAYER: ...' naming the errno, the command never ran,
    nothing of the run left behind."""
    expect(r.returncode == 125, f"{layer}: expected exit 125 (fail closed), got {r}")
    expect("RAN" not in r.out, f"{layer}: the command ran although the layer failed: {r}")
    lines = r.err.splitlines()
    expect(len(lines) == 1 and r.err.endswith("\n"),
           f"{layer}: expected exactly one line on stderr, got {r.err!r}")
    line = lines[0]
    expect(line.startswith(f"stockade: {layer}: "),
           f"expected a line starting 'stockade: {layer}: ', got {line!r}")
    if errnum is not None:
        expect(os.strerror(errnum) in line,
               f"{layer}: errno text {os.strerror(errnum)!r} missing from {line!r}")
    for word in words:
        expect(word in line, f"{layer}: {word!r} missing from {line!r}")
    expect_nothing_left(r, marker)
    return line


def expect_nothing_left(r, marker=None):
    pid = getattr(r, "pid", None)
    if pid:
        left = _stockade_dirs(pid)
        expect(not left, f"cgroup directories left behind by stockade pid {pid}: {left}")
    if marker:
        deadline = time.monotonic() + 2
        while _strays(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _strays(marker)
        expect(not left, f"processes of the failed run left behind: {left}")


def expect_ran(r, what):
    expect(r.returncode == 0 and "RAN" in r.out, f"{what}: the command should have run: {r}")


def read_report(path):
    with open(path) as f:
        return json.load(f)


def expect_degraded_in_report(report, layer):
    layers = report.get("layers", {})
    expect(layer in layers, f"the report lost the degraded layer {layer!r}: "
                            f"layers={sorted(layers)} degraded={report.get('degraded')}")
    expect(layers[layer]["degraded"] is True and layers[layer]["applied"] is False,
           f"{layer} not recorded as degraded: {layers[layer]}")
    expect(layer in report.get("degraded", []),
           f"{layer!r} missing from the report's degraded list {report.get('degraded')}")
    others = [name for name, v in layers.items() if name != layer and v["degraded"]]
    expect(not others, f"layers other than {layer} reported degraded: {others}")


def status_fields(text):
    return dict(re.findall(r"^(\w+):\s*(.*)$", text, re.M))


# ---- namespaces ----

def test_clone3_forbidden_fails_closed(ctx):
    m = _marker()
    r = denied(ctx, ["clone3", "unshare", "clone"], marker=m)
    expect_fail_closed(r, "namespaces", errno.EPERM, words=["clone3", "doctor"], marker=m)
    # A kernel without clone3 (ENOSYS): no fallback to a weaker clone, still closed.
    m = _marker()
    r = denied(ctx, ["clone3"], errnum=ENOSYS, marker=m)
    expect_fail_closed(r, "namespaces", ENOSYS, marker=m)


def _max_userns_zero_root(ctx, m, args=None, env=None):
    """As host root: stockade ARGS (default: run -- the workload) in a user namespace whose
    user.max_user_namespaces is 0, mapped 0->0 by us (privileged writer: setgroups stays
    allowed, so stockade's root path can drop its groups and gets as far as clone3)."""
    script = ('echo ready; read go; exec sh -c \'echo 0 > /proc/sys/user/max_user_namespaces '
              '|| exit 99; exec "$@"\' sh "$@"')
    argv = ["unshare", "--user", "sh", "-c", script, "sh", ctx.stockade_path]
    argv += args if args is not None else ["run", "--"] + _workload(m)
    p = ctx.popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    try:
        expect(p.stdout.readline() == b"ready\n", "unshare --user did not start")
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{p.pid}/{name}", "w") as f:
                f.write("0 0 4294967295\n")
    except BaseException:
        p.kill()
        p.communicate()
        raise
    return _finish(p, input=b"go\n")


def test_max_user_namespaces_zero_fails_closed(ctx):
    warm_probe_cache(ctx)
    m = _marker()
    if ctx.is_root:
        r = _max_userns_zero_root(ctx, m)
    else:
        # --keep-caps: the shell keeps CAP_SYS_RESOURCE of its own namespace (as ambient
        # caps), which the per-namespace sysctl requires; stockade then runs as a normal user.
        script = ('echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"')
        r = run_as_caller(ctx, ["unshare", "--user", "--map-current-user", "--keep-caps",
                                "sh", "-c", script, "sh", ctx.stockade_path, "run", "--"]
                          + _workload(m))
    if r.returncode == 99:
        raise harness.Skip(f"this kernel refuses writing user.max_user_namespaces in a user "
                           f"namespace: {r.err.strip()}")
    expect_fail_closed(r, "namespaces", errno.ENOSPC, words=["max_user_namespaces"], marker=m)


# ---- mount ----

def test_mount_forbidden_fails_closed(ctx):
    m = _marker()
    r = denied(ctx, ["mount"], marker=m)
    expect_fail_closed(r, "mount", errno.EPERM, marker=m)


def test_pivot_root_forbidden_fails_closed(ctx):
    m = _marker()
    r = denied(ctx, ["pivot_root"], marker=m)
    expect_fail_closed(r, "mount", errno.EPERM, words=["pivot_root"], marker=m)


def test_mount_setattr_unavailable_read_only_root_or_closed(ctx):
    # mount_setattr is required (Linux >= 5.12): no remount fallback, which could not make a
    # recursive bind's submounts read-only. Without it the run stops at the first bind, /usr.
    # If it ever runs, the root must still be read-only.
    m = _marker()
    cmd = _workload(m, extra="touch /usr/x && echo WROTE-USR; touch /x && echo WROTE-ROOT;")
    r = denied(ctx, ["mount_setattr"], errnum=ENOSYS, cmd=cmd)
    expect("WROTE" not in r.out, f"the root was writable without mount_setattr: {r}")
    expect_fail_closed(r, "mount", ENOSYS, words=["mount_setattr", "/usr"], marker=m)
    m = _marker()
    r = denied(ctx, ["mount_setattr"], errnum=errno.EPERM, cmd=_workload(m))
    expect_fail_closed(r, "mount", errno.EPERM, words=["mount_setattr"], marker=m)


# ---- proc ----

def test_proc_not_fully_visible_fails_closed(ctx):
    # deny-syscall cannot fail mount(2) for procfs alone; a real cause instead: a host /proc
    # with something mounted over part of it (as in a container with masked paths). The
    # kernel then refuses a new procfs in a user namespace ("mount too revealing").
    warm_probe_cache(ctx)
    m = _marker()
    script = 'mount --bind /dev/null /proc/uptime || exit 99; exec "$@"'
    pre = ["unshare", "--mount"] if ctx.is_root else \
        ["unshare", "--user", "--map-current-user", "--keep-caps", "--mount"]
    r = run_as_caller(ctx, pre + ["sh", "-c", script, "sh", ctx.stockade_path, "run", "--"]
                      + _workload(m))
    if r.returncode == 99:
        raise harness.Skip(f"cannot mount over /proc/uptime here: {r.err.strip()}")
    expect_fail_closed(r, "proc", errno.EPERM, words=["mount proc"], marker=m)
    # Control: the same wrapper without the overmount runs (so the failure above is /proc's).
    r = run_as_caller(ctx, pre + [ctx.stockade_path, "run", "--"] + _workload(_marker()))
    expect_ran(r, "control without the /proc overmount")


# ---- landlock ----

def test_landlock_unavailable_enosys_fails_closed_with_hint(ctx):
    m = _marker()
    r = denied(ctx, ["landlock_create_ruleset"], errnum=ENOSYS, marker=m)
    expect_fail_closed(r, "landlock", ENOSYS, words=["--allow-degraded landlock"], marker=m)


def test_landlock_forbidden_eperm_fails_closed_with_hint(ctx):
    # A container profile that forbids Landlock answers EPERM; the message must still name
    # the fix (docs/DESIGN.md principle 1: "naming the layer, the errno and the fix").
    m = _marker()
    r = denied(ctx, ["landlock_create_ruleset"], errnum=errno.EPERM, marker=m)
    expect_fail_closed(r, "landlock", errno.EPERM, words=["--allow-degraded landlock"],
                       marker=m)


def test_landlock_unavailable_allowed_degraded_runs_and_is_recorded(ctx):
    d = ctx.tmpdir()
    for errnum in (ENOSYS, errno.EPERM):
        path = os.path.join(d, f"report-{errnum}.json")
        r = denied(ctx, ["landlock_create_ruleset"], errnum=errnum,
                   opts=["--allow-degraded", "landlock", "--report", path])
        expect_ran(r, f"--allow-degraded landlock (errno {errnum})")
        expect_degraded_in_report(read_report(path), "landlock")


def test_landlock_restrict_self_forbidden_fails_closed(ctx):
    # Prepared fine in the parent; fails in the child, after the mounts, at apply time.
    m = _marker()
    r = denied(ctx, ["landlock_restrict_self"], marker=m)
    expect_fail_closed(r, "landlock", errno.EPERM, words=["landlock_restrict_self"], marker=m)


def test_landlock_restrict_self_forbidden_allowed_degraded_is_recorded(ctx):
    path = os.path.join(ctx.tmpdir(), "report.json")
    r = denied(ctx, ["landlock_restrict_self"],
               opts=["--allow-degraded", "landlock", "--report", path])
    expect_ran(r, "--allow-degraded landlock with landlock_restrict_self forbidden")
    expect_degraded_in_report(read_report(path), "landlock")


# ---- seccomp ----

def test_seccomp_forbidden_fails_closed(ctx):
    # The child loads the filter last, after every other layer; with seccomp(2) forbidden
    # the run stops there. (A build that compiles the filter with libseccomp at run time
    # already fails in the parent: libseccomp asks the kernel which actions it supports.)
    m = _marker()
    r = denied(ctx, ["seccomp"], marker=m)
    expect_fail_closed(r, "seccomp", errno.EPERM, words=["SECCOMP_SET_MODE_FILTER"], marker=m)


def test_seccomp_forbidden_allowed_degraded_honest(ctx):
    path = os.path.join(ctx.tmpdir(), "report.json")
    check = ("grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs|CapEff|CapPrm|CapBnd):' "
             "/proc/self/status; "
             "unshare -Urm sh -c 'mount -t tmpfs none /tmp && echo NESTED-MOUNT-OK' 2>/dev/null;"
             " true")
    r = denied(ctx, ["seccomp"], opts=["--allow-degraded", "seccomp", "--report", path],
               cmd=["sh", "-c", "echo RAN; " + check])
    expect_ran(r, "--allow-degraded seccomp")
    st = status_fields(r.out)
    # deny-syscall's own filter is inherited (Seccomp: 2, one filter); stockade's is absent.
    expect(st.get("Seccomp_filters") == "1",
           f"stockade says seccomp is degraded, but the workload has "
           f"{st.get('Seccomp_filters')} filters (deny-syscall's is 1): {r.out}")
    expect(st.get("NoNewPrivs") == "1" and st.get("CapEff") == "0" * 16 and
           st.get("CapPrm") == "0" * 16 and st.get("CapBnd") == "0" * 16,
           f"caps/no_new_privs not applied with seccomp degraded: {r.out}")
    # Landlock still holds: a Landlock domain may not mount, even in a nested user namespace
    # that seccomp (degraded) no longer forbids.
    expect("NESTED-MOUNT-OK" not in r.out, f"Landlock not applied with seccomp degraded: {r}")
    # Control: around a filter that does not touch stockade, its own filter is the second one.
    r2 = denied(ctx, ["acct"], cmd=["sh", "-c", "echo RAN; " + check])
    expect_ran(r2, "control")
    expect(status_fields(r2.out).get("Seccomp_filters") == "2",
           f"control: expected deny-syscall's and stockade's filters: {r2.out}")
    # What the workload saw is what the report says.
    report = read_report(path)
    expect(report["layers"].get("landlock", {}).get("applied"), f"landlock not applied: {report}")
    expect_degraded_in_report(report, "seccomp")


# ---- capabilities, identity, uts ----

def test_capset_forbidden_fails_closed(ctx):
    m = _marker()
    r = denied(ctx, ["capset"], marker=m)
    expect_fail_closed(r, "caps", errno.EPERM, words=["capset"], marker=m)


def test_setresuid_forbidden_fails_closed(ctx):
    m = _marker()
    r = denied(ctx, ["setresuid"], marker=m)
    expect_fail_closed(r, "userns", errno.EPERM, words=["setresuid"], marker=m)
    m = _marker()
    r = denied(ctx, ["setresgid"], marker=m)
    expect_fail_closed(r, "userns", errno.EPERM, words=["setresgid"], marker=m)


def test_network_namespace_join_forbidden_fails_closed(ctx):
    """PID 1 enters the network namespace its helper made with setns(2): refused, no run."""
    m = _marker()
    r = denied(ctx, ["setns"], marker=m)
    expect_fail_closed(r, "net", errno.EPERM, words=["setns(CLONE_NEWNET)"], marker=m)


def test_loopback_setup_failing_in_the_helper_fails_closed(ctx):
    """The helper's own failure (here its socket for bringing lo up) reaches PID 1 and the
    caller as the network layer's error."""
    m = _marker()
    r = denied(ctx, ["socket"], marker=m)
    expect_fail_closed(r, "net", errno.EPERM, words=["socket(AF_INET)"], marker=m)


def test_sethostname_forbidden_fails_closed(ctx):
    m = _marker()
    r = denied(ctx, ["sethostname"], marker=m)
    expect_fail_closed(r, "uts", errno.EPERM, words=["sethostname"], marker=m)


# ---- --allow-degraded names one layer ----

def test_allow_degraded_never_covers_another_layer(ctx):
    cases = [
        (["seccomp"], None, "landlock", "seccomp"),
        (["landlock_create_ruleset"], ENOSYS, "seccomp", "landlock"),
        (["landlock_restrict_self"], None, "seccomp", "landlock"),
        (["landlock_restrict_self"], None, "cgroup", "landlock"),
        (["mount"], None, "landlock", "mount"),
        (["capset"], None, "seccomp", "caps"),
    ]
    for syscalls, errnum, allowed, layer in cases:
        m = _marker()
        r = denied(ctx, syscalls, errnum=errnum, opts=["--allow-degraded", allowed], marker=m)
        expect_fail_closed(r, layer, marker=m)


def test_allow_degraded_both_named_both_recorded(ctx):
    # Both named: both optional, the run goes on and both are recorded.
    path = os.path.join(ctx.tmpdir(), "report.json")
    r = denied(ctx, ["seccomp", "landlock_create_ruleset"], errnum=ENOSYS,
               opts=["--allow-degraded", "seccomp", "--allow-degraded", "landlock",
                     "--report", path])
    expect_ran(r, "both degraded")
    report = read_report(path)
    expect(sorted(report["degraded"]) == ["landlock", "seccomp"], f"{report['degraded']}")


# ---- cgroup ----

@harness.user_only
def test_cgroup_unavailable_to_user_fails_closed(ctx):
    m = _marker()
    path = os.path.join(ctx.tmpdir(), "report.json")
    r = run_as_caller(ctx, [ctx.stockade_path, "run", "--memory", "64m", "--report", path,
                            "--"] + _workload(m))
    if r.returncode == 0:
        layer = read_report(path)["layers"].get("cgroup", {})
        if layer.get("applied"):
            raise harness.Skip(f"the test user has a usable cgroup here: {layer['detail']}")
    expect_fail_closed(r, "cgroup", words=["memory", "--allow-degraded cgroup"], marker=m)
    # The diagnosis says why each hierarchy version was not usable.
    expect("need root" in r.err and "cgroup2" in r.err, f"no diagnosis: {r.err!r}")
    left = [p for p in _stockade_dirs() if os.stat(p).st_uid == ctx.caller_uid]
    expect(not left, f"cgroup directories of the test user left: {left}")

    r = run_as_caller(ctx, [ctx.stockade_path, "run", "--memory", "64m", "--allow-degraded",
                            "cgroup", "--report", path, "--"] + _workload(_marker()))
    expect_ran(r, "--allow-degraded cgroup")
    expect_degraded_in_report(read_report(path), "cgroup")


def _v1_mount(controller):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, post = pre.split(), post.split()
            if post[0] == "cgroup" and controller in post[2].split(","):
                return fields[4]
    return None


def _run_with_ro_cgroup(ctx, controllers, opts, m):
    """As root: stockade in a private mount namespace where the v1 hierarchies of
    `controllers` are read-only. Prints its pid first (the shell execs stockade)."""
    points = []
    for c in controllers:
        point = _v1_mount(c)
        if not point:
            raise harness.Skip(f"no cgroup v1 {c} hierarchy on this host")
        points.append(point)
    remounts = " && ".join(f"mount -o remount,ro,bind {p}" for p in points)
    script = f'{remounts} || exit 99; echo PID=$$; exec "$@"'
    warm_probe_cache(ctx)
    r = run_as_caller(ctx, ["unshare", "--mount", "sh", "-c", script, "sh", ctx.stockade_path,
                            "run"] + opts + ["--"] + _workload(m))
    if r.returncode == 99:
        raise harness.Skip(f"cannot remount the cgroup hierarchy read-only: {r.err.strip()}")
    got = re.match(r"PID=(\d+)\n", r.out)
    expect(got, f"no pid line: {r}")
    r.pid = int(got.group(1))
    r.out = r.out[got.end():]
    return r


@harness.root_only
def test_cgroup_unwritable_as_root_fails_closed(ctx):
    m = _marker()
    r = _run_with_ro_cgroup(ctx, ["memory"], ["--memory", "64m"], m)
    expect_fail_closed(r, "cgroup", errno.EROFS, words=["memory", "--allow-degraded cgroup"],
                       marker=m)
    path = os.path.join(ctx.tmpdir(), "report.json")
    r = _run_with_ro_cgroup(ctx, ["memory"], ["--memory", "64m", "--allow-degraded", "cgroup",
                                              "--report", path], _marker())
    expect_ran(r, "--allow-degraded cgroup")
    expect_degraded_in_report(read_report(path), "cgroup")


@harness.root_only
def test_cgroup_partial_failure_leaves_nothing(ctx):
    # memory is made first (writable), then pids fails (read-only): memory's must go too.
    if _v1_mount("memory") == _v1_mount("pids"):
        raise harness.Skip("memory and pids share one v1 hierarchy here")
    m = _marker()
    r = _run_with_ro_cgroup(ctx, ["pids"], ["--memory", "64m", "--pids-limit", "50"], m)
    expect_fail_closed(r, "cgroup", errno.EROFS, words=["pids"], marker=m)


@harness.root_only
def test_child_failure_after_cgroup_attach_leaves_nothing(ctx):
    # The cgroup is made and the child attached before the child fails (mount, then landlock
    # at apply time): the run must remove the cgroup and leave no process.
    for syscalls in (["mount"], ["landlock_restrict_self"], ["sethostname"]):
        m = _marker()
        r = denied(ctx, syscalls, opts=["--memory", "64m", "--pids-limit", "50"], marker=m)
        expect_fail_closed(r, {"mount": "mount", "landlock_restrict_self": "landlock",
                               "sethostname": "uts"}[syscalls[0]], errno.EPERM, marker=m)
    # Control: the same options work, and their cgroup exists while the command runs.
    r = run_as_caller(ctx, [ctx.stockade_path, "run", "--memory", "64m", "--", "sh", "-c",
                            "cat /proc/self/cgroup"])
    expect(r.returncode == 0 and "memory:/" in r.out, f"control: {r}")
