"""`stockade health`: the static binary's client of a running `stockade serve`'s /healthz (the
image's HEALTHCHECK, deploy/Dockerfile): exit 0 on 200, 1 on anything else with the failing
layers in one line on stderr, 125 for a bad argument. Against real daemons: a healthy one, one
whose Landlock is denied by a seccomp filter around it, a killed one, one that refuses the
caller's uid, and a socket that never answers."""
import errno
import os
import socket
import subprocess
import threading
import time

import harness
from harness import expect, one_line_125
from test_serve import Daemon, health


def one_line_1(r, *needles):
    expect(r.returncode == 1, f"expected exit 1: {r}")
    expect(r.err.count("\n") == 1 and r.err.startswith("stockade: health: unhealthy"),
           f"one line: {r.err!r}")
    for needle in needles:
        expect(needle in r.err, f"{needle!r} not in {r.err!r}")


def test_health_is_0_when_the_daemon_is_healthy(ctx):
    d = Daemon(ctx)
    try:
        status, doc = health(d)
        expect(status == 200, f"the daemon itself: {status} {doc}")
        r = ctx.stockade("health", "--socket", d.sock, timeout=30)
        expect(r.returncode == 0 and r.err == "" and
               r.out.startswith("healthy: every required layer works"), f"{r}")
        # A layer no run needs by default (cgroup, for limits) that fails is named, not fatal.
        for layer in doc["degraded"]:
            expect(layer["layer"] in r.out, f"{layer['layer']} not in {r.out!r}")
        expect(("degraded" in r.out) == bool(doc["degraded"]), f"{r.out!r} vs {doc}")
    finally:
        d.stop()


def test_health_is_1_naming_the_failing_layer(ctx):
    deny = [ctx.helper("deny-syscall"), "-e", str(errno.ENOSYS), "landlock_create_ruleset", "--"]
    d = Daemon(ctx, prefix=deny)
    try:
        r = ctx.stockade("health", "--socket", d.sock, timeout=30)
        one_line_1(r, "HTTP 503", "failing: landlock", "landlock_create_ruleset",
                   "ENOSYS", d.sock)
        expect("userns" not in r.err, f"only landlock fails here: {r.err!r}")
        expect(r.out == "", f"nothing on stdout: {r.out!r}")
    finally:
        d.stop()


def test_livez_is_0_while_healthz_is_1(ctx):
    """--livez (a liveness probe) asks /livez: the daemon answers although Landlock is
    denied around it, so a broken layer takes it out of service (readiness on /healthz)
    without restarting it; with no daemon, --livez is 1 too."""
    deny = [ctx.helper("deny-syscall"), "-e", str(errno.ENOSYS), "landlock_create_ruleset", "--"]
    d = Daemon(ctx, prefix=deny)
    try:
        r = ctx.stockade("health", "--socket", d.sock, "--livez", timeout=30)
        expect(r.returncode == 0 and r.out == "live: the daemon answers\n" and r.err == "",
               f"{r}")
        one_line_1(ctx.stockade("health", "--socket", d.sock, timeout=30), "HTTP 503")
    finally:
        d.stop()
    one_line_1(ctx.stockade("health", "--socket", d.sock, "--livez", timeout=30),
               "cannot connect")


def test_health_is_1_without_a_daemon(ctx):
    d = Daemon(ctx)
    d.p.kill()  # dies without removing its socket: a stale name, nobody listening
    d.p.wait()
    r = ctx.stockade("health", "--socket", d.sock, timeout=30)
    one_line_1(r, "cannot connect", "Connection refused", d.sock)
    r = ctx.stockade("health", "--socket", os.path.join(d.dir, "none.sock"), timeout=30)
    one_line_1(r, "cannot connect", "No such file or directory")


def test_health_is_1_for_a_refused_peer(ctx):
    """A daemon that serves only its own uid: health run as another uid gets 403, which is
    not healthy (the HEALTHCHECK must run as the daemon's user or an allowed one)."""
    d = Daemon(ctx)
    try:
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        r = harness.finish(subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
             ctx.stockade_path, "health", "--socket", d.sock], env=harness.BASE_ENV,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        one_line_1(r, "HTTP 403", "not allowed")
    finally:
        d.stop()


def test_health_times_out_on_a_silent_socket(ctx):
    d = ctx.tmpdir()
    path = os.path.join(d, "silent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o666)
    server.listen(4)
    held = []
    threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
    try:
        t0 = time.monotonic()
        r = ctx.stockade("health", "--socket", path, "--timeout", "1s", timeout=30)
        took = time.monotonic() - t0
        one_line_1(r, "no answer in time", "Connection timed out")
        expect(0.9 < took < 10, f"took {took:.2f}s for a 1 s timeout")
        expect(held, "the client never connected")
    finally:
        server.close()


@harness.user_only
def test_health_finds_the_default_socket(ctx):
    """No --socket: the socket `stockade serve` makes by default for this user,
    $XDG_RUNTIME_DIR/stockade.sock (root's is /run/stockade/stockade.sock, which a test
    leaves alone)."""
    runtime = ctx.tmpdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": runtime, "STOCKADE_HOME": ctx.fresh_state()}
    p = ctx.popen([ctx.stockade_path, "serve"], env=env, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not os.path.exists(os.path.join(runtime,
                                                                          "stockade.sock")):
            time.sleep(0.05)
        r = ctx.stockade("health", env={"XDG_RUNTIME_DIR": runtime}, timeout=30)
        expect(r.returncode == 0 and r.out.startswith("healthy"), f"{r}")
        r = ctx.stockade("health", env={"XDG_RUNTIME_DIR": ""}, timeout=30)
        one_line_125(r, "XDG_RUNTIME_DIR", "--socket")
    finally:
        p.terminate()
        harness.finish(p, timeout=30)


def test_health_bad_arguments(ctx):
    for args, needle in ((["--socket", "relative.sock"], "absolute path"),
                         (["--timeout", "soon", "--socket", "/x"], "--timeout"),
                         (["--timeout", "0", "--socket", "/x"], "--timeout"),
                         (["--bogus"], "unknown option"),
                         (["--livez=1"], "unknown option"),
                         (["--socket", "/x", "extra"], "unexpected argument")):
        r = ctx.stockade("health", *args)
        one_line_125(r, needle)
