"""stockade in a simulated container (tests/helpers/sim-container: user, mount, PID, network,
IPC, UTS namespaces, the container user 10001 without capabilities, a Docker-format seccomp
profile loaded before exec, optionally Docker's masked /proc and an engine's marker), on the
host's own /usr: deploy/seccomp/stockade.json is Docker's default profile plus exactly what
stockade needs (every probe passes under it, each addition is needed), and under Docker's
defaults doctor fails with the fix in the words of the engine it finds itself in."""
import json
import os
import shutil
import subprocess

import harness
from harness import expect

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROFILES = os.path.join(ROOT, "deploy", "seccomp")
# What stockade.json adds to Docker's default, and what it takes away (clone3's ENOSYS).
ADDED = {"clone3", "unshare", "setns", "mount", "umount2", "open_tree", "move_mount",
         "mount_setattr", "pivot_root", "sethostname", "fsopen", "fsconfig", "fsmount"}
ENGINES = {  # engine: (how the test makes the container look like its, words of its fix)
    "docker": (["--marker", "/.dockerenv"], "docker run --security-opt"),
    "podman": (["--marker", "/run/.containerenv"], "podman run --security-opt"),
    "kubernetes": (["--env", "KUBERNETES_SERVICE_HOST=10.0.0.1"], "hostUsers: false"),
    "other": ([], "docker or podman run"),
}


def profiles(ctx):
    """The profiles where this mode's caller can read them (the checkout may be root's)."""
    d = ctx.tmpdir()
    for name in ("docker-default.json", "stockade.json"):
        shutil.copy(os.path.join(PROFILES, name), d)
    return {name[:-5]: os.path.join(d, name) for name in os.listdir(d)}


def in_container(ctx, argv, seccomp=None, mask=False, engine=None, timeout=60):
    """argv (stockade ARGS...) in a simulated container: the staged binaries at /run/bin,
    STOCKADE_HOME on a tmpfs of the container user's."""
    cmd = [ctx.helper("sim-container"), "--volume", f"{ctx.bin}:/run/bin",
           "--tmpfs", "/run/home", "--env", "STOCKADE_HOME=/run/home"]
    if seccomp:
        cmd += ["--seccomp", seccomp]
    if mask:
        cmd += ["--mask-proc"]
    if engine:
        cmd += ENGINES[engine][0]
    return ctx.run(cmd + ["--", "/run/bin/stockade"] + list(argv), timeout=timeout)


def doctor(ctx, **kw):
    r = in_container(ctx, ["doctor", "--json"], **kw)
    expect(r.returncode in (0, 1), f"doctor in the container: {r}")
    data = json.loads(r.out)
    return r.returncode, data, {layer["name"]: layer for layer in data["layers"]}


def test_stockade_profile_is_docker_default_plus_exactly_what_stockade_needs(ctx):
    """Two readings of the profiles agree: the generator's (deploy/seccomp/generate --check:
    stockade.json is what it writes from docker-default.json) and the simulated container's
    loader (C, moby's rule selection for a container without capabilities). In the loader's
    rules, stockade.json is Docker's default plus an ALLOW for each of ADDED, less clone3's
    ENOSYS, and nothing else."""
    r = subprocess.run(["python3", os.path.join(PROFILES, "generate"), "--check"],
                       capture_output=True, text=True, timeout=60)
    expect(r.returncode == 0, f"generate --check: {r}")
    p = profiles(ctx)
    rules = {}
    for name, path in p.items():
        r = ctx.run([ctx.helper("sim-container"), "--print-rules", "--seccomp", path])
        expect(r.returncode == 0 and r.out, f"{name}: {r}")
        rules[name] = set(r.out.splitlines())
    allow = "0x7fff0000"
    added = rules["stockade"] - rules["docker-default"]
    removed = rules["docker-default"] - rules["stockade"]
    expect(added == {f"{n} {allow}" for n in ADDED}, f"added: {sorted(added)}")
    expect(removed == {"clone3 0x50026"}, f"removed: {sorted(removed)}")  # ERRNO(ENOSYS)
    with open(p["stockade"]) as f:
        doc = json.load(f)
    expect(not any("includes" in rule or "excludes" in rule for rule in doc["syscalls"]),
           "a condition the kubelet's runtimes would ignore")


def test_under_stockade_profile_every_probe_passes(ctx):
    """Each probe's status under stockade.json is what it is with no filter at all in the
    same container (every required layer ok; cgroup, for limits only, is as unavailable as
    for any unprivileged container without a delegated cgroup), and a real sandbox runs."""
    p = profiles(ctx)
    _, _, bare = doctor(ctx)
    code, data, ours = doctor(ctx, seccomp=p["stockade"])
    expect(code == 0 and data["ok"], f"doctor under stockade.json: {data}")
    for name, layer in ours.items():
        expect(layer["status"] == bare[name]["status"],
               f"{name}: {layer['status']} under stockade.json, {bare[name]['status']} bare")
        if layer["required"]:
            expect(layer["status"] == "ok", f"{name}: {layer}")
    expect(data["container"]["pid1_seccomp"] and data["container"]["detected"],
           f"the container's filter on PID 1 is evidence: {data['container']}")
    r = in_container(ctx, ["run", "--", "sh", "-c", "echo RAN; id -u; grep Seccomp: "
                           "/proc/self/status"], seccomp=p["stockade"])
    expect(r.returncode == 0 and r.out.split() == ["RAN", "10001", "Seccomp:", "2"], f"{r}")


def test_each_addition_is_needed(ctx):
    """Nothing more than stockade needs: with any one of ADDED taken out of stockade.json,
    doctor fails or names a layer that stops working (overlay, for workspaces only), or a
    run fails."""
    p = profiles(ctx)
    with open(p["stockade"]) as f:
        doc = json.load(f)
    d = ctx.tmpdir()
    for name in sorted(ADDED):
        less = json.loads(json.dumps(doc))
        for rule in less["syscalls"]:
            rule["names"] = [n for n in rule["names"] if n != name]
        path = os.path.join(d, f"without-{name}.json")
        with open(path, "w") as f:
            json.dump(less, f)
        code, data, layers = doctor(ctx, seccomp=path)
        if code == 0 and all(layer["status"] == "ok" for layer in layers.values()):
            r = in_container(ctx, ["run", "--", "true"], seccomp=path)
            expect(r.returncode == 125,
                   f"without {name}: doctor passed and a run did not fail: {r}")


def test_under_docker_default_doctor_names_stockade_profile(ctx):
    """Docker's default profile as Docker applies it: the user namespace is refused (clone3
    answers ENOSYS), doctor exits 1 and its remedy names deploy/seccomp/stockade.json in the
    engine's words; a run is refused in one line that names it too."""
    p = profiles(ctx)
    for engine, (_, words) in ENGINES.items():
        code, data, layers = doctor(ctx, seccomp=p["docker-default"], engine=engine)
        userns = layers["userns"]
        expect(code == 1 and not data["ok"] and userns["status"] == "unavailable" and
               userns["errno_name"] == "ENOSYS", f"{engine}: {userns}")
        expect(data["container"]["engine"] == engine, f"{engine}: {data['container']}")
        expect("deploy/seccomp/stockade.json" in userns["remedy"] and
               words in userns["remedy"], f"{engine}: {userns['remedy']}")
        if engine in ("docker", "podman"):
            expect("--security-opt seccomp=stockade.json" in userns["remedy"],
                   f"{engine}: {userns['remedy']}")
        if engine == "kubernetes":
            expect("localhostProfile: stockade.json" in userns["remedy"] and
                   "/var/lib/kubelet/seccomp/" in userns["remedy"], userns["remedy"])
    r = in_container(ctx, ["run", "--", "echo", "RAN"], seccomp=p["docker-default"],
                     engine="docker")
    expect(r.returncode == 125 and "RAN" not in r.out and r.err.count("\n") == 1 and
           r.err.startswith("stockade: userns: ") and "stockade.json" in r.err, f"{r}")


def test_masked_proc_names_the_engines_unmask(ctx):
    """Docker's masked /proc under stockade.json: the PID namespace's procfs is refused, and
    the remedy is the engine's own way to unmask it."""
    p = profiles(ctx)
    fixes = {"docker": "systempaths=unconfined", "podman": "unmask=ALL",
             "kubernetes": "procMount: Unmasked", "other": "procMount: Unmasked"}
    for engine, fix in fixes.items():
        code, _, layers = doctor(ctx, seccomp=p["stockade"], mask=True, engine=engine)
        pidns = layers["pidns"]
        expect(code == 1 and pidns["status"] == "unavailable" and
               pidns["errno_name"] == "EPERM" and fix in pidns["remedy"],
               f"{engine}: {pidns}")
        if engine == "kubernetes":
            expect("hostUsers: false" in pidns["remedy"], pidns["remedy"])
        if engine == "other":
            expect("systempaths=unconfined" in pidns["remedy"] and
                   "unmask=ALL" in pidns["remedy"], pidns["remedy"])
    # Without a container around it, the same failure keeps the general words.
    r = in_container(ctx, ["doctor", "--json"], mask=True)
    layers = {layer["name"]: layer for layer in json.loads(r.out)["layers"]}
    expect(json.loads(r.out)["container"]["detected"] is False, r.out[:300])
    expect("systempaths=unconfined" in layers["pidns"]["remedy"] and
           "docker run --security-opt" not in layers["pidns"]["remedy"], layers["pidns"])
