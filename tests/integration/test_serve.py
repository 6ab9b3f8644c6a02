"""`stockade serve` (issue 15, first slice): the daemon's socket (0660 from birth, in a directory
of its own, every peer checked with SO_PEERCRED), /livez, /healthz that tells the truth (503
with the failing layer the moment one breaks, 200 again once it is back; 503 from the first
request where a layer is missing), /metrics in Prometheus text (parsed with the
prometheus_client parser), and a clean stop on SIGTERM."""
import http.client
import json
import os
import signal
import socket
import subprocess
import time

import harness
from harness import expect


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(path, url, method="GET"):
    c = UnixHTTP(path)
    c.request(method, url)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), body


class Daemon:
    def __init__(self, ctx, *extra, prefix=(), env=None, pass_fds=()):
        self.dir = ctx.tmpdir(mode=0o700)
        self.sock = os.path.join(self.dir, "stockade.sock")
        self.home = ctx.fresh_state()
        self.p = ctx.popen(list(prefix) + [ctx.stockade_path, "serve", "--socket", self.sock,
                                           *extra],
                           env=dict({"STOCKADE_HOME": self.home}, **(env or {})),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds)
        deadline = time.time() + 20
        while time.time() < deadline and not os.path.exists(self.sock):
            if self.p.poll() is not None:
                raise AssertionError(f"serve exited: {self.p.communicate()}")
            time.sleep(0.05)
        expect(os.path.exists(self.sock), "no socket after 20 s")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return harness.finish(self.p, timeout=30)


def post(path, url, body):
    c = UnixHTTP(path)
    c.request("POST", url, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def health(d):
    status, _, body = get(d.sock, "/healthz")
    return status, json.loads(body)


def prometheus_parser():
    """Debian's python3-prometheus-client (make deps), also under another python3 of the same
    version (CI's PATH may name one): its parser of the text format."""
    import sys
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            raise AssertionError("python3-prometheus-client is missing (make deps installs it)")
    return text_string_to_metric_families


def test_health_metrics_and_the_socket(ctx):
    text_string_to_metric_families = prometheus_parser()
    d = Daemon(ctx)
    try:
        st = os.stat(d.sock)
        expect(oct(st.st_mode & 0o777) == "0o660" and st.st_uid == ctx.caller_uid,
               f"socket mode {oct(st.st_mode)}, owner {st.st_uid}")
        status, kind, body = get(d.sock, "/livez")
        expect(status == 200 and kind == "application/json" and
               json.loads(body) == {"status": "ok"}, f"{status} {body!r}")
        status, doc = health(d)
        expect(status == 200 and doc["status"] == "ok" and doc["failing"] == [] and
               doc["layers"].get("landlock") is True and doc["layers"].get("userns") is True,
               f"{status} {doc}")
        status, kind, body = get(d.sock, "/metrics")
        expect(status == 200 and kind.startswith("text/plain"), f"{status} {kind}")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        for name in ("stockade_build_info", "stockade_layer_up", "stockade_sandboxes",
                     "stockade_http_requests", "stockade_refused_peers"):
            expect(name in families, f"{name} missing: {sorted(families)}")
        up = {s.labels["layer"]: s.value for s in families["stockade_layer_up"].samples}
        expect(up.get("landlock") == 1 and up.get("seccomp") == 1, f"{up}")
        status, _, body = get(d.sock, "/nope")
        expect(status == 404 and json.loads(body)["error"]["code"] == "not_found", f"{body!r}")
        status, _, body = get(d.sock, "/livez", method="POST")
        expect(status == 405, f"{status} {body!r}")
    finally:
        r = d.stop()
    expect(r.returncode == 0 and not os.path.exists(d.sock), f"SIGTERM: {r}")


def test_one_daemon_per_socket_and_a_stale_one_replaced(ctx):
    d = Daemon(ctx)
    try:
        r = ctx.run([ctx.stockade_path, "serve", "--socket", d.sock], timeout=30)
        expect(r.returncode == 125 and "already listens" in r.err, f"{r}")
        d.p.kill()  # dies without removing its socket
        d.p.wait()
        expect(os.path.exists(d.sock), "the killed daemon's socket should still be there")
        again = Daemon.__new__(Daemon)
        again.dir, again.sock, again.home = d.dir, d.sock, d.home
        again.p = ctx.popen([ctx.stockade_path, "serve", "--socket", d.sock],
                            env={"STOCKADE_HOME": d.home}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
        deadline = time.time() + 20
        status = None
        while time.time() < deadline and status != 200:
            try:
                status, _, _ = get(d.sock, "/livez")
            except OSError:
                time.sleep(0.05)
        expect(status == 200, "the stale socket was not replaced")
        again.stop()
    finally:
        if d.p.poll() is None:
            d.stop()
    r = ctx.run([ctx.stockade_path, "serve", "--socket", "relative.sock"])
    expect(r.returncode == 125 and "absolute path" in r.err, f"{r}")


def test_another_uid_is_refused_by_peer_credentials(ctx):
    d = Daemon(ctx)
    other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    script = ("import http.client, socket, sys\n"
              "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
              "c = http.client.HTTPConnection('x'); c.sock = s\n"
              "c.request('GET', '/livez'); r = c.getresponse()\n"
              "print(r.status, r.read().decode().replace(chr(10), ' '))\n")
    try:
        # The way in opened on disk, as a careless chmod would: the peer check still holds.
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        r = subprocess.run(other + ["python3", "-c", script, d.sock], capture_output=True,
                           text=True, timeout=30)
        expect(r.stdout.startswith("403 ") and '"forbidden"' in r.stdout, f"{r}")
        _, _, body = get(d.sock, "/metrics")
        expect("stockade_refused_peers_total 1" in body.decode(), body.decode()[-400:])
    finally:
        d.stop()
    # --allow-gid names others; the daemon's own uid stays allowed (its health probe)
    d = Daemon(ctx, "--allow-gid", "65534")
    try:
        r = ctx.run(["python3", "-c", script, d.sock], timeout=30)  # as the daemon's uid
        expect(r.out.startswith("200 "), f"the daemon's own uid: {r}")
    finally:
        d.stop()
    # --allow-uid lets that uid in
    d = Daemon(ctx, "--allow-uid", "65534")
    try:
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        r = subprocess.run(other + ["python3", "-c", script, d.sock], capture_output=True,
                           text=True, timeout=30)
        expect(r.stdout.startswith("200 "), f"{r}")
    finally:
        d.stop()


CLIENT = ("import http.client, socket, sys\n"
          "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
          "c = http.client.HTTPConnection('x'); c.sock = s\n"
          "body = sys.argv[3].encode() if len(sys.argv) > 3 else None\n"
          "c.request('POST' if body else 'GET', sys.argv[2], body=body); r = c.getresponse()\n"
          "print(r.status); print(r.read().decode())\n")


@harness.user_only
def test_healthz_turns_503_when_a_layer_breaks_and_recovers(ctx):
    """A layer breaks under a running daemon and comes back: the daemon runs in a user
    namespace of its own (as in a rootless container), whose max_user_namespaces the test
    sets to 0 and back. As the unprivileged caller only: the host's own limit cannot be
    changed here (a container's /proc/sys), and root mapped onto itself in a namespace is
    refused by design (no uid 10001 there); the daemon's code path is the same in both. /healthz turns 503 naming userns, /livez stays 200; then 200 again.
    The test asks as the daemon's own user (inside, uid 0), whom the peer check lets in."""
    d = Daemon(ctx, prefix=["unshare", "--user", "--map-root-user", "--"])

    def ask(url, *body):
        r = ctx.run(["python3", "-c", CLIENT, d.sock, url, *body], timeout=60)
        expect(r.returncode == 0, f"{r}")
        status, _, body = r.out.partition("\n")
        return int(status), json.loads(body)

    def set_limit(value):
        r = subprocess.run(["nsenter", "--user", "--target", str(d.p.pid), "--", "sh", "-c",
                            f"echo {value} > /proc/sys/user/max_user_namespaces"],
                           capture_output=True, text=True, timeout=30)
        expect(r.returncode == 0, f"set max_user_namespaces={value}: {r}")

    def wait_for(status_wanted):
        deadline, got = time.time() + 20, None
        while time.time() < deadline:
            got = ask("/healthz")
            if got[0] == status_wanted:
                break
            time.sleep(0.3)
        return got

    try:
        with open(f"/proc/{d.p.pid}/status") as f:  # the daemon itself, in its namespace
            expect("NSpid" in f.read(), "no daemon process")
        expect(ask("/healthz")[0] == 200, f"not healthy at the start: {ask('/healthz')}")
        set_limit(0)
        status, doc = wait_for(503)
        expect(status == 503 and doc["status"] == "failing" and
               "userns" in [f["layer"] for f in doc["failing"]], f"{status} {doc}")
        failing = [f for f in doc["failing"] if f["layer"] == "userns"][0]
        expect(failing.get("diagnosis") and failing.get("op"), f"doctor's data: {failing}")
        expect(ask("/livez")[0] == 200, "livez must not follow the layers")
        status, doc = ask("/v1/sandboxes?name=while-broken", '{"stockade": 1}')
        expect(status == 503 and doc["error"]["code"] == "degraded" and
               "userns" in doc["error"]["message"], f"create while broken: {status} {doc}")
        set_limit(1000)
        status, doc = wait_for(200)
        expect(status == 200 and doc["failing"] == [], f"did not recover: {status} {doc}")
        status, doc = ask("/v1/sandboxes?name=recovered", '{"stockade": 1}')
        expect(status == 201 and doc["status"] == "running", f"create after: {status} {doc}")
        status, doc = ask("/v1/sandboxes/recovered/exec?wait=1", '{"cmd": ["id", "-u"]}')
        expect(status == 200 and doc["stdout"] == "10001\n", f"exec after: {status} {doc}")
    finally:
        d.stop()


def test_healthz_is_503_from_the_first_request_without_landlock(ctx):
    import errno
    deny = [ctx.helper("deny-syscall"), "-e", str(errno.ENOSYS), "landlock_create_ruleset", "--"]
    d = Daemon(ctx, prefix=deny)
    try:
        status, doc = health(d)
        expect(status == 503 and [f["layer"] for f in doc["failing"]] == ["landlock"] and
               doc["layers"]["landlock"] is False, f"{status} {doc}")
        expect(get(d.sock, "/livez")[0] == 200, "the daemon must serve while a layer is broken")
        status, body = post(d.sock, "/v1/sandboxes", b'{"stockade": 1}')
        expect(status == 503 and json.loads(body)["error"]["code"] == "degraded" and
               "landlock" in json.loads(body)["error"]["message"], f"{status} {body!r}")
        expect(not os.path.isdir(os.path.join(d.home, "sandboxes")) or
               not os.listdir(os.path.join(d.home, "sandboxes")), "a sandbox was made")
        _, _, body = get(d.sock, "/metrics")
        expect('stockade_layer_up{layer="landlock"} 0' in body.decode(), body.decode()[:800])
    finally:
        d.stop()


def test_healthz_names_each_broken_layer_and_refuses_sandboxes(ctx):
    """The broken environments the doctor tests build (a syscall a layer needs fails for the
    daemon and everything it starts): /healthz is 503 naming that layer with doctor's
    diagnosis, a create is refused with 503, /livez stays 200. An operator policy that lets
    the layer degrade keeps /healthz at 200 with the layer under "degraded", and a create
    then works (its sandbox runs without that layer, as `run --allow-degraded` does)."""
    import errno
    cases = [("mountns", ["mount"], None), ("seccomp", ["seccomp"], None),
             ("landlock", ["landlock_create_ruleset"], errno.ENOSYS)]
    for layer, syscalls, errnum in cases:
        deny = [ctx.helper("deny-syscall")] + (["-e", str(errnum)] if errnum else []) + \
            [",".join(syscalls), "--"]
        d = Daemon(ctx, prefix=deny)
        try:
            status, doc = health(d)
            expect(status == 503 and layer in [f["layer"] for f in doc["failing"]],
                   f"{layer}: {status} {doc}")
            failing = [f for f in doc["failing"] if f["layer"] == layer][0]
            expect(failing["diagnosis"] and failing["remedy"], f"{layer}: {failing}")
            status, body = post(d.sock, "/v1/sandboxes", b'{"stockade": 1}')
            expect(status == 503 and layer in json.loads(body)["error"]["message"],
                   f"{layer}: create: {status} {body!r}")
            expect(get(d.sock, "/livez")[0] == 200, f"{layer}: livez")
        finally:
            d.stop()
    # Degradable by the operator's policy: landlock and seccomp (not mountns).
    for layer, syscalls, errnum in cases[1:]:
        deny = [ctx.helper("deny-syscall")] + (["-e", str(errnum)] if errnum else []) + \
            [",".join(syscalls), "--"]
        policy = os.path.join(ctx.tmpdir(), "policy.json")
        with open(policy, "w") as f:
            json.dump({"stockade": 1, "allow_degraded": [layer]}, f)
        os.chmod(policy, 0o644)
        d = Daemon(ctx, "--policy", policy, prefix=deny)
        try:
            status, doc = health(d)
            # (cgroup may be listed too: not required, and an unprivileged caller here has none)
            expect(status == 200 and doc["failing"] == [] and
                   layer in [g["layer"] for g in doc["degraded"]], f"{layer}: {doc}")
            status, body = post(d.sock, "/v1/sandboxes?name=degraded", b'{"stockade": 1}')
            expect(status == 201, f"{layer}: create: {status} {body!r}")
            status, body = post(d.sock, "/v1/sandboxes/degraded/exec?wait=1",
                                b'{"cmd": ["echo", "ran"]}')
            expect(status == 200 and json.loads(body)["stdout"] == "ran\n", f"{body!r}")
        finally:
            d.stop()
