"""Nothing is left after kill -9: a run killed with SIGKILL in the middle leaves no process,
proxy, mount, cgroup or anonymous volume once the next command has run; stale cgroups of killed
probes go too, while those of live runs stay (src/cli/sweep.c, cgroup_sweep_stale)."""
import glob
import os
import subprocess
import time

from harness import Skip, expect, root_only

MARKER = "31.5"  # the workload's `sleep 31.5`: no other process on the machine has it


def marked_pids():
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(f"{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if MARKER.encode() in argv or b"exec sleep " + MARKER.encode() in argv:
            pids.append(int(d[6:]))
    return pids


def stockade_cgroups():
    return sorted(glob.glob("/sys/fs/cgroup/*/**/stockade-*", recursive=True))


def anonymous_volumes(state):
    d = os.path.join(state, "volumes", "anonymous")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def mount_count():
    with open("/proc/self/mountinfo") as f:
        return sum(1 for _ in f)


def kill_midway(ctx, state, opts):
    """Starts a run with opts and `sleep 31.5`, waits until the workload runs, kills stockade
    with SIGKILL. Returns nothing; the caller looks at what is left."""
    p = ctx.popen([ctx.stockade_path, "run", *opts, "--", "sh", "-c",
                   f"echo ready; exec sleep {MARKER}"], env={"STOCKADE_HOME": state},
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    p.kill()
    p.wait()
    # (stderr is read only now: reading it before the kill would wait for the sleep's end)
    expect(line == "ready\n", f"the workload did not start: {line!r} {p.stderr.read()[-300:]}")


def expect_nothing_left(ctx, state, mounts_before, cgroups_before):
    # The next command, of any kind, sweeps what the killed run left.
    r = ctx.sandbox("true", env={"STOCKADE_HOME": state})
    expect(r.returncode == 0, f"next run failed: {r}")
    deadline = time.monotonic() + 3  # the kernel tears a dead PID namespace down asynchronously
    while marked_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(marked_pids() == [], f"processes of the killed run remain: {marked_pids()}")
    left = set(stockade_cgroups()) - set(cgroups_before)
    expect(not left, f"cgroups left: {sorted(left)}")
    expect(anonymous_volumes(state) == [], f"anonymous volumes left: {anonymous_volumes(state)}")
    expect(mount_count() == mounts_before, "the host's mount table changed")


@root_only
def test_kill9_leaves_nothing_root(ctx):
    state, mounts, cgroups = ctx.fresh_state(), mount_count(), stockade_cgroups()
    kill_midway(ctx, state, ["--memory", "256m", "--pids-limit", "64", "-v", "/scratch",
                             "--allow-net", "example.invalid"])
    expect(len(stockade_cgroups()) > len(cgroups), "the killed run made no cgroup to leave")
    expect(len(anonymous_volumes(state)) == 1, f"no anonymous volume: {anonymous_volumes(state)}")
    expect_nothing_left(ctx, state, mounts, cgroups)


def test_kill9_leaves_nothing(ctx):
    """Both modes: the volume, the proxy and the workload (no cgroup as the user here)."""
    state, mounts, cgroups = ctx.fresh_state(), mount_count(), stockade_cgroups()
    kill_midway(ctx, state, ["-v", "/scratch", "--allow-net", "example.invalid"])
    expect(len(anonymous_volumes(state)) == 1, f"no anonymous volume: {anonymous_volumes(state)}")
    expect_nothing_left(ctx, state, mounts, cgroups)


def test_kept_anonymous_volume_survives_sweep(ctx):
    state = ctx.fresh_state()
    env = {"STOCKADE_HOME": state}
    r = ctx.sandbox("echo data > /keep/f", opts=["-v", "/keep", "--keep-volumes"], env=env)
    expect(r.returncode == 0 and "kept anonymous volume" in r.err, f"{r}")
    kept = anonymous_volumes(state)
    expect(len(kept) == 1, f"{kept}")
    r = ctx.sandbox("true", opts=["-v", "/other"], env=env)
    expect(r.returncode == 0 and anonymous_volumes(state) == kept,
           f"a kept volume was swept: {anonymous_volumes(state)} (was {kept})")


def own_memory_cgroup_dir():
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                return "/sys/fs/cgroup/memory" + (path if path != "/" else "")
    return None


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@root_only
def test_stale_cgroups_swept_live_ones_kept(ctx):
    own = own_memory_cgroup_dir()
    if not own or not os.path.isdir(own):
        raise Skip("no cgroup v1 memory hierarchy on this machine")
    gone = dead_pid()
    now = int(time.time())
    # A probe and a run killed between set-up and clean-up (their maker is gone), a run whose
    # PID was taken by a younger process (this test, younger than the name's time 1000), and
    # a live run's cgroup (this process, made now): only the first three are stale.
    stale = [f"{own}/stockade-probe-{gone}-0", f"{own}/stockade-{gone}-{now}",
             f"{own}/stockade-{os.getpid()}-1000"]
    live = f"{own}/stockade-{os.getpid()}-{now}"
    for d in stale + [live]:
        os.mkdir(d)
    try:
        r = ctx.stockade("doctor", "--json")
        left = [d for d in stale if os.path.isdir(d)]
        expect(left == [], f"stale cgroups not removed by doctor: {left}")
        expect(os.path.isdir(live), "a live run's cgroup was removed")
        expect('"cgroups": 3' in r.out, f"doctor did not report the sweep: {r.out[-400:]}")
    finally:
        for d in stale + [live]:
            if os.path.isdir(d):
                os.rmdir(d)
