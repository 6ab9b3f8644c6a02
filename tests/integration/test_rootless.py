"""stockade as root of a user namespace (rootless Podman/Docker, pods with hostUsers: false,
CI runners): that root is an unprivileged uid outside, so the sandbox user lands on it, as
for an unprivileged caller; only a root whose uid 0 is uid 0 outside too, without uid 10001
mapped, is refused (src/spec/identity.c, identity_find)."""
import json
import os
import subprocess
import time

from harness import expect, root_only, user_only

UNSHARE = ["unshare", "--user", "--map-root-user", "--"]


@user_only
def test_namespace_root_maps_sandbox_onto_itself(ctx):
    report = os.path.join(ctx.tmpdir(0o777), "r.json")
    p = ctx.popen(UNSHARE + [ctx.stockade_path, "run", "--report", report, "--", "sh", "-c",
                             "id -u; echo ready; exec sleep 30.25"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        uid_inside = p.stdout.readline().strip()
        ready = p.stdout.readline()
        # From the host: the workload's real uid is the unprivileged caller's, never 0.
        # ("ready" comes just before the exec: look until sleep is there.)
        seen = []
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            for pid in os.listdir("/proc"):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if f.read().split(b"\0")[:2] == [b"sleep", b"30.25"]:
                            with open(f"/proc/{pid}/status") as s:
                                seen += [l.split()[1:] for l in s if l.startswith("Uid:")]
                except OSError:
                    pass
            time.sleep(0.02)
    finally:
        p.kill()
        p.wait()
    expect(ready == "ready\n", f"the sandbox did not run: {ready!r} {p.stderr.read()[-400:]}")
    expect(uid_inside == "10001", f"uid inside {uid_inside}")
    expect(seen and all(ids == [str(ctx.caller_uid)] * 4 for ids in seen),
           f"workload's host uids {seen}, caller {ctx.caller_uid}")
    r = ctx.run(UNSHARE + [ctx.stockade_path, "run", "--report", report, "--", "true"])
    expect(r.returncode == 0, f"{r}")
    detail = json.load(open(report))["layers"]["userns"]["detail"]
    expect("root of a user namespace" in detail and f"uid {ctx.caller_uid} outside" in detail,
           detail)


@root_only
def test_namespace_root_that_is_host_root_is_refused(ctx):
    # unshare --map-root-user as root maps uid 0 onto host uid 0 and nothing else: there is
    # no unprivileged uid to put the sandbox user on.
    marker = os.path.join(ctx.tmpdir(), "ran")
    r = ctx.run(UNSHARE + [ctx.stockade_path, "run", "--", "sh", "-c", f"touch {marker}"])
    expect(r.returncode == 125, f"{r}")
    expect(len(r.err.strip().splitlines()) == 1 and "uid 10001" in r.err and
           "uid 0 outside" in r.err, r.err)
    expect(not os.path.exists(marker), "the command ran")


def test_doctor_names_the_userns_cause_once(ctx):
    """With no user namespace to be had (the limit 0 in a namespace of our own), every
    namespace probe fails for that one reason: doctor says it on the userns row and marks the
    seven others (overlay's included) as depending on it, instead of repeating it under other names."""
    script = "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\""
    base = UNSHARE + ["sh", "-c", script, "sh", ctx.stockade_path, "doctor"]
    table = ctx.run(base)
    expect(table.returncode == 1, f"{table}")
    expect(table.out.count("max_user_namespaces") == 2,  # the cause and the fix, once each
           f"the cause is repeated or missing:\n{table.out}")
    expect(table.out.count("needs the user namespace (userns above)") == 7, table.out)
    doc = json.loads(ctx.run(base + ["--json"]).out)
    layers = {l["name"]: l for l in doc["layers"]}
    expect(layers["userns"]["status"] != "ok" and "depends_on" not in layers["userns"], layers)
    for name in ("mountns", "pidns", "netns", "ipcns", "utsns", "cgroupns", "overlay"):
        expect(layers[name].get("depends_on") == "userns", f"{name}: {layers[name]}")
    expect(layers["seccomp"]["status"] == "ok" and "depends_on" not in layers["seccomp"], layers)
    expect("sandbox user onto" in doc["identity"] or "no uid" in doc["identity"], doc)


def test_masked_proc_in_namespace_is_diagnosed(ctx):
    """In a rootless container with masked /proc entries, the proc probe is reached (the
    userns refusal no longer hides it) and names the mask; the run refuses with it."""
    script = 'mount --bind /dev/null /proc/uptime || exit 99; exec "$@"'
    wrap = ["unshare", "--user", "--map-root-user", "--mount", "--", "sh", "-c", script, "sh"]
    if ctx.is_root:
        # As root, uid 0 of such a namespace is host uid 0: refused before any probe.
        r = ctx.run(wrap + [ctx.stockade_path, "run", "--", "true"])
        expect(r.returncode == 125 and "uid 0 outside" in r.err, f"{r}")
        return
    # A state of its own: an "ok" cached by an earlier run would let the run past the gate
    # (the layer then fails closed itself, with its own words).
    env = {"STOCKADE_HOME": ctx.fresh_state()}
    doc = json.loads(ctx.run(wrap + [ctx.stockade_path, "doctor", "--json"], env=env).out)
    layers = {l["name"]: l for l in doc["layers"]}
    expect(layers["userns"]["status"] == "ok", layers["userns"])
    expect(layers["pidns"]["status"] == "unavailable" and
           "masked" in layers["pidns"]["diagnosis"], layers["pidns"])
    r = ctx.run(wrap + [ctx.stockade_path, "run", "--", "true"], env=env)
    expect(r.returncode == 125 and "/proc is masked" in r.err and
           len(r.err.strip().splitlines()) == 1, f"{r}")
