"""`stockade doctor` and the gate in front of `stockade run`: the layer probes, their table and
JSON, the per-boot cache, and refusals in broken environments built for real (a seccomp
filter around stockade, a masked /proc, a read-only cgroup tree). Each test that needs the
gate to probe gets an empty STOCKADE_HOME (no cache)."""
import errno
import json
import os
import shutil
import subprocess
import tempfile
import time

import harness
from harness import expect
from test_failclosed import _marker, _max_userns_zero_root, _workload, read_report

LAYERS = ["userns", "mountns", "pidns", "netns", "ipcns", "utsns", "cgroupns", "seccomp",
          "landlock", "cgroup", "overlay"]


def doctor_json(ctx, wrap=(), env=None):
    r = ctx.run(list(wrap) + [ctx.stockade_path, "doctor", "--json"], env=env)
    expect(r.returncode in (0, 1), f"doctor --json: {r}")
    data = json.loads(r.out)
    return r, data, {layer["name"]: layer for layer in data["layers"]}


def test_doctor_healthy(ctx):
    t0 = time.monotonic()
    r = ctx.stockade("doctor")
    wall_ms = (time.monotonic() - t0) * 1000
    expect(r.returncode == 0, f"doctor on a healthy machine: {r}")
    for name in LAYERS:
        expect(name in r.out, f"{name} missing from the table: {r.out}")
    r, data, layers = doctor_json(ctx)
    expect(r.returncode == 0 and data["ok"] is True, f"{data}")
    expect(data["schema"] == 1 and data["root"] == ctx.is_root, f"{data}")
    expect(data["landlock_abi"] >= 1 and data["seccomp_arch"] == "x86_64", f"{data}")
    expect(data["kernel"].startswith("Linux "), f"{data}")
    expect(data["reserve"]["known"] and data["reserve"]["path"].endswith("/.reserve"),
           f"{data.get('reserve')}")
    expect(set(layers) == set(LAYERS), f"layers: {sorted(layers)}")
    for name, layer in layers.items():
        expect(set(layer) >= {"name", "required", "status", "op", "errno", "diagnosis",
                              "remedy", "detail", "duration_ms"}, f"{name}: {layer}")
        if layer["required"]:
            expect(layer["status"] == "ok", f"{name}: {layer}")
    expect(layers["cgroup"]["required"] is False, f"{layers['cgroup']}")
    if ctx.is_root:
        expect(layers["cgroup"]["status"] == "ok", f"{layers['cgroup']}")
    elif not os.path.exists("/sys/fs/cgroup/cgroup.subtree_control"):
        expect(layers["cgroup"]["status"] == "unavailable" and
               "--allow-degraded cgroup" in layers["cgroup"]["remedy"] + layers["cgroup"]
               ["diagnosis"], f"{layers['cgroup']}")
    expect(data["duration_ms"] < 1000, f"probing took {data['duration_ms']} ms")
    print(f"  note: doctor as {ctx.mode}: probes {data['duration_ms']:.1f} ms, "
          f"whole command {wall_ms:.1f} ms wall")


def test_doctor_bad_argument(ctx):
    r = ctx.stockade("doctor", "--bogus")
    expect(r.returncode == 125 and r.err.count("\n") == 1 and "--bogus" in r.err, f"{r}")


def deny(ctx, syscalls, errnum=None):
    argv = [ctx.helper("deny-syscall")]
    if errnum is not None:
        argv += ["-e", str(errnum)]
    return argv + [",".join(syscalls), "--"]


def expect_refused(ctx, r, layer, words=(), marker=None):
    expect(r.returncode == 125, f"{layer}: run should refuse: {r}")
    expect("RAN" not in r.out, f"{layer}: the command ran: {r}")
    lines = r.err.splitlines()
    expect(len(lines) == 1 and lines[0].startswith(f"stockade: {layer}: "),
           f"{layer}: one line naming the layer expected, got {r.err!r}")
    for word in words:
        expect(word in lines[0], f"{layer}: {word!r} missing from {lines[0]!r}")
    return lines[0]


def broken(ctx, syscalls, layer, status, words, errnum=None, opts=()):
    """In an environment where `syscalls` fail: doctor names `layer` with `status` and a
    diagnosis containing `words`, exits 1; run (probing, no cache) refuses and never starts."""
    wrap = deny(ctx, syscalls, errnum)
    r, data, layers = doctor_json(ctx, wrap=wrap, env={"STOCKADE_HOME": ctx.fresh_state()})
    got = layers[layer]
    expect(r.returncode == 1 and data["ok"] is False, f"doctor should fail: {data}")
    expect(got["status"] == status, f"{layer}: want {status}, got {got}")
    text = got["op"] + " " + got["diagnosis"] + " " + got["remedy"]
    for word in words:
        expect(word in text, f"{layer}: {word!r} missing from {got}")
    expect(got["op"] and got["diagnosis"] and got["remedy"], f"{layer}: incomplete: {got}")
    others = [n for n, l in layers.items() if n != layer and l["required"] and l["status"] != "ok"]
    m = _marker()
    r = ctx.run(wrap + [ctx.stockade_path, "run"] + list(opts) + ["--"] + _workload(m),
                env={"STOCKADE_HOME": ctx.fresh_state()})
    return r, others


def test_userns_blocked_by_seccomp(ctx):
    r, _ = broken(ctx, ["clone", "clone3", "unshare"], "userns", "unavailable", ["seccomp"])
    expect_refused(ctx, r, "userns", words=["seccomp", "Operation not permitted"])


def test_max_user_namespaces_zero(ctx):
    env = {"STOCKADE_HOME": ctx.fresh_state()}
    if ctx.is_root:
        r = _max_userns_zero_root(ctx, None, args=["doctor", "--json"], env=env)
    else:
        script = 'echo 0 > /proc/sys/user/max_user_namespaces || exit 99; exec "$@"'
        r = ctx.run(["unshare", "--user", "--map-current-user", "--keep-caps", "sh", "-c",
                     script, "sh", ctx.stockade_path, "doctor", "--json"], env=env)
    if r.returncode == 99:
        raise harness.Skip(f"cannot set user.max_user_namespaces here: {r.err.strip()}")
    layers = {layer["name"]: layer for layer in json.loads(r.out)["layers"]}
    expect(r.returncode == 1, f"doctor should fail: {r}")
    got = layers["userns"]
    expect(got["status"] == "unavailable" and got["errno"] == errno.ENOSPC and
           "max_user_namespaces" in got["diagnosis"] + got["remedy"], f"{got}")


def test_mount_blocked(ctx):
    r, _ = broken(ctx, ["mount"], "mountns", "unavailable", ["mount"])
    expect_refused(ctx, r, "mountns")


def test_landlock_blocked_then_allowed_degraded(ctx):
    r, others = broken(ctx, ["landlock_create_ruleset"], "landlock", "unavailable",
                       ["Landlock", "--allow-degraded landlock"], errnum=errno.ENOSYS)
    expect(not others, f"other layers failed too: {others}")
    expect_refused(ctx, r, "landlock", words=["--allow-degraded landlock"])
    report = os.path.join(ctx.tmpdir(), "r.json")
    r = ctx.run(deny(ctx, ["landlock_create_ruleset"], errno.ENOSYS) +
                [ctx.stockade_path, "run", "--allow-degraded", "landlock", "--report", report,
                 "--", "echo", "RAN"], env={"STOCKADE_HOME": ctx.fresh_state()})
    expect(r.returncode == 0 and r.out == "RAN\n", f"{r}")
    rep = read_report(report)
    expect(rep["degraded"] == ["landlock"] and rep["layers"]["landlock"]["degraded"], rep)
    expect(rep["layers"]["seccomp"]["applied"], rep)


def test_seccomp_blocked(ctx):
    r, _ = broken(ctx, ["seccomp"], "seccomp", "unavailable", ["seccomp"])
    expect_refused(ctx, r, "seccomp")
    # Named, it runs without the filter and the report says so.
    report = os.path.join(ctx.tmpdir(), "r.json")
    r = ctx.run(deny(ctx, ["seccomp"]) + [ctx.stockade_path, "run", "--allow-degraded",
                                          "seccomp", "--report", report, "--", "echo", "RAN"],
                env={"STOCKADE_HOME": ctx.fresh_state()})
    expect(r.returncode == 0 and r.out == "RAN\n", f"{r}")
    rep = read_report(report)
    expect(rep["degraded"] == ["seccomp"] and rep["layers"]["landlock"]["applied"], rep)
    # Naming another layer does not let it through.
    r = ctx.run(deny(ctx, ["seccomp"]) + [ctx.stockade_path, "run", "--allow-degraded",
                                          "landlock", "--", "echo", "RAN"],
                env={"STOCKADE_HOME": ctx.fresh_state()})
    expect_refused(ctx, r, "seccomp")


def test_masked_proc(ctx):
    script = 'mount --bind /dev/null /proc/uptime || exit 99; exec "$@"'
    pre = ["unshare", "--mount"] if ctx.is_root else \
        ["unshare", "--user", "--map-current-user", "--keep-caps", "--mount"]
    env = {"STOCKADE_HOME": ctx.fresh_state()}
    r = ctx.run(pre + ["sh", "-c", script, "sh", ctx.stockade_path, "doctor", "--json"], env=env)
    if r.returncode == 99:
        raise harness.Skip(f"cannot mount over /proc/uptime here: {r.err.strip()}")
    layers = {layer["name"]: layer for layer in json.loads(r.out)["layers"]}
    expect(r.returncode == 1 and layers["pidns"]["status"] != "ok", f"{layers['pidns']}")
    expect("proc" in layers["pidns"]["diagnosis"], f"{layers['pidns']}")
    r = ctx.run(pre + ["sh", "-c", script, "sh", ctx.stockade_path, "run", "--"] +
                _workload(_marker()), env=env)
    expect_refused(ctx, r, "pidns")


@harness.root_only
def test_readonly_cgroup_tree(ctx):
    """cgroup is needed only for limits: doctor still passes, a run with limits is refused by
    the gate's probe, a run without limits goes on."""
    point = "/sys/fs/cgroup/memory"
    if not os.path.isdir(point):
        raise harness.Skip("no cgroup v1 memory hierarchy on this host")
    pre = ["unshare", "--mount", "sh", "-c",
           f'mount -o remount,ro,bind {point} || exit 99; exec "$@"', "sh", ctx.stockade_path]
    d = ctx.run(pre + ["doctor", "--json"], env={"STOCKADE_HOME": ctx.fresh_state()})
    if d.returncode == 99:
        raise harness.Skip("cannot remount the memory hierarchy read-only")
    data = json.loads(d.out)
    layers = {layer["name"]: layer for layer in data["layers"]}
    expect(d.returncode == 0 and data["ok"], f"doctor should pass without cgroup: {data}")
    expect(layers["cgroup"]["status"] != "ok" and layers["cgroup"]["errno"] == errno.EROFS,
           f"{layers['cgroup']}")
    r = ctx.run(pre + ["run", "--memory", "64m", "--"] + _workload(_marker()),
                env={"STOCKADE_HOME": ctx.fresh_state()})
    expect_refused(ctx, r, "cgroup", words=["Read-only file system"])
    r = ctx.run(pre + ["run", "--", "echo", "RAN"], env={"STOCKADE_HOME": ctx.fresh_state()})
    expect(r.returncode == 0 and r.out == "RAN\n", f"a run without limits: {r}")


def test_cache_is_used_and_keyed(ctx):
    state = ctx.fresh_state()
    report = os.path.join(ctx.tmpdir(), "r.json")
    env = {"STOCKADE_HOME": state}
    r = ctx.stockade("run", "--report", report, "--", "true", env=env)
    expect(r.returncode == 0, f"{r}")
    expect("probed now" in read_report(report)["layers"]["gate"]["detail"], "first run probes")
    cache = os.path.join(state, "probe-cache")
    text = open(cache).read()
    boot = open("/proc/sys/kernel/random/boot_id").read().strip()
    expect(text.startswith("stockade-probe-cache 1\n") and f"boot {boot}" in text, text[:200])
    r = ctx.stockade("run", "--report", report, "--", "true", env=env)
    expect("cache" in read_report(report)["layers"]["gate"]["detail"], "second run uses it")
    # Another boot's cache is not used.
    open(cache, "w").write(text.replace(f"boot {boot}", "boot 00000000-0000-0000-0000-0000000"))
    r = ctx.stockade("run", "--report", report, "--", "true", env=env)
    expect("probed now" in read_report(report)["layers"]["gate"]["detail"], "stale cache used")
    # A cached failure is never trusted: it is probed again (and here the layer works).
    text = open(cache).read()
    lines = [("landlock\t2\t1\tlandlock_create_ruleset\tforged\tforged" if
              line.startswith("landlock\t") else line) for line in text.splitlines()]
    open(cache, "w").write("\n".join(lines) + "\n")
    r = ctx.stockade("run", "--report", report, "--", "echo", "RAN", env=env)
    expect(r.returncode == 0 and r.out == "RAN\n", f"a cached failure refused the run: {r}")


def gate_detail(ctx, argv, state, as_other=False):
    """The gate's detail in the report of `argv run -- true` with STOCKADE_HOME=state, run as
    this mode's caller or (as_other) as the other one: root <-> the test user."""
    report = os.path.join(state, "report.json")
    cmd = list(argv) + ["run", "--report", report, "--", "true"]
    if as_other:
        if ctx.is_root:
            cmd = ["setpriv", f"--reuid={ctx.user.pw_uid}", f"--regid={ctx.user.pw_gid}",
                   "--clear-groups", "--"] + cmd
        env = dict(harness.BASE_ENV, STOCKADE_HOME=state,
                   HOME=ctx.user.pw_dir if ctx.is_root else "/root")
        env.update({k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")})
        r = harness.finish(subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE),
                           what=cmd)
    else:
        r = ctx.run(cmd, env={"STOCKADE_HOME": state})
    expect(r.returncode == 0, f"{cmd}: {r}")
    return read_report(report)["layers"]["gate"]["detail"]


def state_of(uid, gid):
    d = tempfile.mkdtemp(prefix="stockade-state-cache-")
    os.chown(d, uid, gid)
    os.chmod(d, 0o700)
    return d


def test_cache_is_keyed_by_binary_and_euid(ctx):
    """A cache written by one binary or one euid is not trusted by another: another stockade
    binary (a copy: same bytes, size and mtime, another inode) with the same state probes
    again, and so does the other caller (root <-> the test user) given this caller's cache
    file. Controls: the same binary and euid use the cache, also from a copied file."""
    other_uid, other_gid = ((ctx.user.pw_uid, ctx.user.pw_gid) if ctx.is_root else (0, 0))
    mine = state_of(ctx.caller_uid, ctx.caller_gid)
    copy_dir = ctx.tmpdir()
    theirs = state_of(other_uid, other_gid)
    same = state_of(ctx.caller_uid, ctx.caller_gid)
    for d in (mine, theirs, same):
        ctx._cleanup.append(lambda d=d: shutil.rmtree(d, ignore_errors=True))
    expect("probed now" in gate_detail(ctx, [ctx.stockade_path], mine), "first run")
    expect("cache" in gate_detail(ctx, [ctx.stockade_path], mine), "the cache is not used")
    cache = os.path.join(mine, "probe-cache")
    with open(cache) as f:
        text = f.read()
    # The same caller and binary take a copy of the file as it is: it carries no other key.
    for d, uid, gid in ((same, ctx.caller_uid, ctx.caller_gid), (theirs, other_uid, other_gid)):
        with open(os.path.join(d, "probe-cache"), "w") as f:
            f.write(text)
        os.chown(os.path.join(d, "probe-cache"), uid, gid)
        os.chmod(os.path.join(d, "probe-cache"), 0o600)
    expect("cache" in gate_detail(ctx, [ctx.stockade_path], same), "a copied cache not used")
    detail = gate_detail(ctx, [ctx.stockade_path], theirs, as_other=True)
    expect("probed now" in detail, f"uid {other_uid} trusted uid {ctx.caller_uid}'s cache: "
                                   f"{detail}")
    expect("cache" in gate_detail(ctx, [ctx.stockade_path], theirs, as_other=True),
           f"uid {other_uid} does not use its own cache")
    # Another binary: the staged one copied with its size and mtime, so only the inode differs.
    other_binary = os.path.join(copy_dir, "stockade")
    shutil.copy2(ctx.stockade_path, other_binary)
    os.chmod(copy_dir, 0o755)
    st, st_copy = os.stat(ctx.stockade_path), os.stat(other_binary)
    expect((st.st_size, int(st.st_mtime)) == (st_copy.st_size, int(st_copy.st_mtime)) and
           st.st_ino != st_copy.st_ino, "the copy differs in more than its inode")
    detail = gate_detail(ctx, [other_binary], mine)
    expect("probed now" in detail, f"another binary trusted this one's cache: {detail}")


def test_cached_ok_never_hides_a_failing_layer(ctx):
    state = ctx.fresh_state()
    env = {"STOCKADE_HOME": state}
    r = ctx.stockade("run", "--", "true", env=env)  # caches "every layer works"
    expect(r.returncode == 0 and os.path.exists(os.path.join(state, "probe-cache")), f"{r}")
    r = ctx.run(deny(ctx, ["landlock_restrict_self"]) + [ctx.stockade_path, "run", "--",
                                                         "echo", "RAN"], env=env)
    expect(r.returncode == 125 and "RAN" not in r.out and "landlock" in r.err, f"{r}")
    expect(not os.path.exists(os.path.join(state, "probe-cache")),
           "the cache that called landlock ok survived its failure")
