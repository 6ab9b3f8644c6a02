"""`stockade serve`'s API under /v1 (issue 15 item 2; docs/api.md), driven through the Python
client (clients/python/stockade_client.py) and raw HTTP: sandboxes made from a spec that may
only narrow the operator's policy, execs streamed as NDJSON (separate stdout and stderr,
bounded, a timeout that keeps the output before it, reattach after a dropped client, kill),
files through the sandbox's own view, one-shot runs, bad input answered with one JSON error
while the daemon goes on. Each exec is checked from inside (it carries the first command's
layers) and the sandboxes from the host (they go when deleted)."""
import base64
import json
import re
import os
import signal
import socket
import subprocess
import sys
import time

import harness
from harness import expect
from test_serve import Daemon, UnixHTTP

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "clients", "python"))
from stockade_client import Client, StockadeError  # noqa: E402


class ApiDaemon(Daemon):
    """A daemon whose sandboxes all go when the test ends, whatever happened."""

    def __init__(self, ctx, *extra, **kw):
        super().__init__(ctx, *extra, **kw)
        self.ctx = ctx
        self.client = Client(self.sock, timeout=60)
        ctx._cleanup.append(self.remove_all)
        ctx._cleanup.append(self.stop_if_running)  # runs first: cleanups go in reverse

    def stop_if_running(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def remove_all(self):
        top = os.path.join(self.home, "sandboxes")
        for name in os.listdir(top) if os.path.isdir(top) else []:
            self.ctx.stockade("rm", "-f", name, env={"STOCKADE_HOME": self.home}, timeout=30)


def start(ctx, *extra, **kw):
    return ApiDaemon(ctx, *extra, **kw)


def raw(d, method, url, body=None, headers=None):
    c = UnixHTTP(d.sock)
    c.request(method, url, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def error_of(call):
    try:
        call()
    except StockadeError as e:
        return e
    raise AssertionError("the daemon accepted what it should refuse")


def supervisor_alive(d, name):
    path = os.path.join(d.home, "sandboxes", name, "state.json")
    try:
        with open(path) as f:
            pid = json.load(f)["supervisor_pid"]
        os.kill(pid, 0)
        return True
    except (OSError, ValueError, KeyError):
        return False


def test_api_sandbox_lifecycle_and_exec_layers(ctx):
    d = start(ctx)
    c = d.client
    try:
        box = c.create({"stockade": 1, "hostname": "api-host"}, name="api1")
        expect(box["name"] == "api1" and box["status"] == "running" and
               box["spec"]["hostname"] == "api-host", f"{box}")
        expect(supervisor_alive(d, "api1"), "no supervisor on the host")
        e = error_of(lambda: c.create(name="api1"))
        expect(e.status == 409 and e.code == "name_in_use", f"{e}")
        expect([b["name"] for b in c.list()] == ["api1"], f"{c.list()}")
        expect(c.get("api1")["status"] == "running", "get")

        # An exec carries the layers of the first command: checked from inside.
        r = c.exec("api1", ["sh", "-c",
                            "id -u; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status;"
                            " echo $$; echo to-stderr >&2; exit 7"])
        lines = r.stdout.decode().split("\n")
        expect(r.exit_code == 7 and r.signal is None and not r.timed_out, f"{r}")
        expect(lines[0] == "10001", f"uid inside: {r.stdout!r}")
        status = dict(l.split(":\t") for l in lines[1:4])
        expect(status == {"NoNewPrivs": "1", "Seccomp": "2", "CapEff": "0000000000000000"},
               f"layers of the exec: {status}")
        expect(int(lines[4]) < 100, f"pid {lines[4]}: not in the sandbox's PID namespace")
        expect(r.stderr == b"to-stderr\n", f"stderr kept apart: {r.stderr!r}")

        # The streamed form: events in order, each stream its own.
        events = list(c.exec_stream("api1", ["sh", "-c", "echo a; echo b >&2; echo c"]))
        kinds = [e.type for e in events]
        expect(kinds[0] == "start" and kinds[-1] == "exit", f"{kinds}")
        expect([e.seq for e in events] == list(range(len(events))), "sequence numbers")
        out = b"".join(e.data for e in events if e.type == "stdout")
        err = b"".join(e.data for e in events if e.type == "stderr")
        expect(out == b"a\nc\n" and err == b"b\n", f"{out!r} {err!r}")
        expect(events[-1].fields["exit_code"] == 0, f"{events[-1]}")

        # A command that is not there: 127 and the reason, as `stockade exec`.
        r = c.exec("api1", ["/no/such/command"])
        expect(r.exit_code == 127 and "No such file" in r.error, f"{r}")
        r = c.exec("api1", ["/etc"])
        expect(r.exit_code == 126 and "Permission denied" in r.error, f"{r}")

        # Files, through the sandbox's own view.
        c.write_file("api1", "/tmp/in.txt", b"written through the API\n", mode=0o600)
        r = c.exec("api1", ["sh", "-c", "cat /tmp/in.txt; stat -c '%a %u' /tmp/in.txt"])
        expect(r.stdout == b"written through the API\n600 10001\n", f"{r.stdout!r}")
        c.exec("api1", ["sh", "-c", "printf 'made inside' > /tmp/out.txt"])
        expect(c.read_file("api1", "/tmp/out.txt") == b"made inside", "read_file")
        names = {e["name"]: e for e in c.list_files("api1", "/tmp")}
        expect(names["out.txt"]["type"] == "file" and names["out.txt"]["size"] == 11,
               f"{names}")
        e = error_of(lambda: c.read_file("api1", "/tmp"))
        expect(e.status == 400 and e.code == "is_a_directory", f"{e}")
        # The host's files are not the sandbox's: /etc/shadow is not in its view.
        e = error_of(lambda: c.read_file("api1", "/etc/shadow"))
        expect(e.status == 400 and e.code == "copy_failed", f"{e}")

        expect(c.delete("api1")["status"] == "removed", "delete")
        expect(not supervisor_alive(d, "api1") and
               not os.path.exists(os.path.join(d.home, "sandboxes", "api1")),
               "the sandbox outlived its DELETE")
        for call in (lambda: c.get("api1"), lambda: c.exec("api1", ["true"]),
                     lambda: c.delete("api1"), lambda: c.read_file("api1", "/tmp/x")):
            e = error_of(call)
            expect(e.status == 404 and e.code == "not_found", f"{e}")
    finally:
        d.stop()


def test_api_exec_timeout_bounds_stdin_binary_and_kill(ctx):
    d = start(ctx)
    c = d.client
    try:
        c.create(name="api2")
        r = c.exec("api2", ["sh", "-c", "echo before; sleep 30"], timeout=0.5)
        expect(r.timed_out and r.exit_code == 124 and r.signal == 9 and
               r.stdout == b"before\n" and r.duration_ms < 10000, f"{r}")
        r = c.exec("api2", ["sh", "-c", "head -c 100000 /dev/zero; echo done >&2"],
                   max_output_bytes=1000)
        expect(r.truncated and len(r.stdout) + len(r.stderr) == 1000 and r.exit_code == 0,
               f"bounded output: {len(r.stdout)} {len(r.stderr)} {r.exit_code}")
        r = c.exec("api2", ["sh", "-c", "cat; echo; wc -c"], stdin=b"given on stdin")
        expect(r.stdout.startswith(b"given on stdin\n") and r.exit_code == 0, f"{r}")
        r = c.exec("api2", ["printf", "\\377\\376binary"])
        expect(r.raw["encoding"] == "base64" and r.stdout == b"\xff\xfebinary", f"{r.raw}")
        # DELETE on a running exec kills it inside.
        events = c.exec_stream("api2", ["sh", "-c", "echo up; sleep 60"])
        first = next(events)
        expect(first.type == "start", f"{first}")
        exec_id = first.fields["id"]
        expect(next(events).data == b"up\n", "output before the kill")
        expect(c.exec_kill("api2", exec_id)["status"] == "killing", "kill")
        last = list(events)[-1]
        expect(last.type == "exit" and last.fields["signal"] == 9, f"{last}")
        r = c.exec("api2", ["sh", "-c", "ps -o comm= | grep -c sleep || true"])
        expect(r.stdout.strip() == b"0", f"the killed exec lives on: {r.stdout!r}")
    finally:
        d.stop()


def test_api_exec_outlives_its_client_and_reattaches(ctx):
    d = start(ctx)
    c = d.client
    try:
        c.create(name="api3")
        body = json.dumps({"cmd": ["sh", "-c", "echo one; sleep 1; echo two; sleep 1; "
                                              "echo three; exit 3"]}).encode()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        s.sendall(b"POST /v1/sandboxes/api3/exec HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: " +
                  str(len(body)).encode() + b"\r\n\r\n" + body)
        seen = b""
        while b'"seq":1' not in seen:
            chunk = s.recv(4096)
            expect(chunk, f"stream ended early: {seen!r}")
            seen += chunk
        exec_id = seen.split(b'"id":"')[1].split(b'"')[0].decode()
        s.close()  # the client drops off after "one"
        time.sleep(2.5)
        events = list(c.exec_follow("api3", exec_id, from_seq=2))
        out = b"".join(e.data for e in events if e.type == "stdout")
        expect(events[0].seq == 2 and out == b"two\nthree\n", f"{[(e.seq, e.data) for e in events]}")
        expect(events[-1].type == "exit" and events[-1].fields["exit_code"] == 3, f"{events}")
        whole = c.exec_status("api3", exec_id)
        expect(whole.stdout == b"one\ntwo\nthree\n" and whole.raw["status"] == "exited",
               f"{whole}")
        e = error_of(lambda: c.exec_status("api3", "0" * 32))
        expect(e.status == 404, f"{e}")
    finally:
        d.stop()


def test_api_run_once_leaves_nothing(ctx):
    d = start(ctx)
    c = d.client
    try:
        r = c.run(["sh", "-c", "echo $((6 * 7)); hostname"],
                  spec={"stockade": 1, "hostname": "oneshot"})
        expect(r.exit_code == 0 and r.stdout == b"42\noneshot\n", f"{r}")
        # Removed after the answer went (the caller does not wait for it): soon gone.
        deadline = time.time() + 15
        while c.list() and time.time() < deadline:
            time.sleep(0.05)
        expect(c.list() == [] and os.listdir(os.path.join(d.home, "sandboxes")) == [],
               f"a one-shot sandbox was left: {c.list()}")
        e = error_of(lambda: c.run(["true"], spec={"stockade": 1, "limits": {"memory": 7}}))
        expect(e.status == 400 and e.path and e.path.startswith("spec.limits.memory"), f"{e}")
    finally:
        d.stop()


def test_api_bad_input_gets_one_error_and_the_daemon_goes_on(ctx):
    d = start(ctx, "--max-body", "64k")
    c = d.client
    try:
        c.create(name="api4")
        cases = [
            ("POST", "/v1/sandboxes", b"{not json", 400, "bad_spec"),
            ("POST", "/v1/sandboxes", b'{"stockade": 1, "limits": {"memroy": "1g"}}', 400,
             "bad_spec"),
            ("POST", "/v1/sandboxes?name=..bad", b'{"stockade": 1}', 400, "bad_request"),
            # A duration run -d refuses is the request's mistake, not a failed create.
            ("POST", "/v1/sandboxes?idle_timeout=0", b'{"stockade": 1}', 400, "bad_request"),
            ("POST", "/v1/sandboxes?max_lifetime=0s", b'{"stockade": 1}', 400, "bad_request"),
            ("POST", "/v1/sandboxes/api4/exec", b'{"cmd": []}', 400, "bad_request"),
            ("POST", "/v1/sandboxes/api4/exec", b'{"cmd": ["true"], "shell": 1}', 400,
             "bad_request"),
            ("POST", "/v1/sandboxes/api4/exec", b'{"cmd": ["true"], "stdin": "@@"}', 400,
             "bad_request"),
            ("POST", "/v1/sandboxes/api4/exec", b"[1, 2]", 400, "bad_request"),
            ("POST", "/v1/sandboxes/api4/exec", b"", 400, "bad_request"),
            ("PUT", "/v1/sandboxes/api4/files?path=relative", b"x", 400, "bad_request"),
            ("GET", "/v1/sandboxes/api4/exec/nope", None, 404, "not_found"),
            ("GET", "/v1/nothing", None, 404, "not_found"),
            ("PATCH", "/v1/sandboxes", None, 405, "method_not_allowed"),
            ("POST", "/v1/sandboxes/api4/files?path=/tmp/x", b"x", 405, "method_not_allowed"),
            ("POST", "/v1/sandboxes", b"x" * 70000, 413, "too_large"),
        ]
        for method, url, body, status, code in cases:
            got, data = raw(d, method, url, body)
            expect(data, f"{method} {url}: {got} and no body")
            doc = json.loads(data)
            expect(data and got == status and doc["error"]["code"] == code and
                   doc["error"]["message"], f"{method} {url}: {got} {data[:300]!r}")
        got, data = raw(d, "POST", "/v1/sandboxes", b'{"stockade": 1, "limits": {"memroy": 1}}')
        expect(json.loads(data)["error"]["path"] == "limits.memroy", f"{data!r}")
        # A body sent in chunks past the limit: 413 as well, and nothing was made.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        s.sendall(b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        answer = b""
        try:
            for _ in range(40):
                s.sendall(b"1000\r\n" + b"y" * 4096 + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the daemon answered and closed: what it should do
        s.settimeout(10)
        try:  # the whole answer (its head and Content-Length bytes), or the end
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
                head, sep, body = answer.partition(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if sep and length and len(body) >= int(length.group(1)):
                    break
        except OSError:
            pass
        s.close()
        expect(answer.startswith(b"HTTP/1.1 413"), f"{answer[:200]!r}")
        # A body announced far past the limit: 413 before a byte of it is sent.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        s.settimeout(10)
        s.sendall(b"PUT /v1/sandboxes/api4/files?path=/tmp/big HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 100000000\r\n\r\n")
        answer = s.recv(4096)
        s.close()
        expect(answer.startswith(b"HTTP/1.1 413"), f"{answer[:200]!r}")
        expect([b["name"] for b in c.list()] == ["api4"], f"{c.list()}")
        # Still serving, and the sandbox still works.
        expect(c.exec("api4", ["echo", "fine"]).stdout == b"fine\n", "after bad input")
    finally:
        d.stop()


def test_api_requests_only_narrow_the_operators_policy(ctx):
    policy = os.path.join(ctx.tmpdir(), "operator.json")
    with open(policy, "w") as f:
        # cgroup may degrade: as an unprivileged caller this hybrid host has no cgroup for the
        # limits (doctor says so); what is checked here is the spec, not the cgroup.
        json.dump({"stockade": 1, "limits": {"memory": "256m", "pids": 100},
                   "network": {"allow": ["example.com:443", "pypi.org"],
                               "deny": ["bad.example.com"]},
                   "allow_degraded": ["cgroup"]}, f)
    os.chmod(policy, 0o644)
    d = start(ctx, "--policy", policy)
    c = d.client
    try:
        widen = [
            ({"limits": {"memory": "512m"}}, "limits.memory"),
            ({"limits": {"memory": None}}, "limits.memory"),
            ({"limits": {"pids": 1000}}, "limits.pids"),
            ({"network": {"allow": ["example.com:443", "evil.example.net"]}},
             "network.allow[1]"),
            ({"network": {"deny": []}}, "network.deny"),
            ({"network": {"mode": "public"}}, "network.mode"),
            ({"uid": 1234}, "uid"),
            ({"allow_degraded": ["landlock"]}, "allow_degraded"),
        ]
        for part, path in widen:
            e = error_of(lambda: c.create(dict({"stockade": 1}, **part)))
            expect(e.status == 403 and e.code == "forbidden_by_policy" and e.path and
                   e.path.startswith(path), f"{part}: {e}")
        expect(c.list() == [], f"a refused request made a sandbox: {c.list()}")
        # A list in a request replaces the operator's (JSON merge patch): a subset narrows.
        box = c.create({"stockade": 1, "limits": {"memory": "128m"},
                        "network": {"allow": ["pypi.org"]}}, name="subset")
        expect(box["spec"]["limits"]["memory"] == "128m" and
               box["spec"]["limits"]["pids"] == 100 and
               box["spec"]["network"]["allow"] == ["pypi.org"] and
               box["spec"]["network"]["deny"] == ["bad.example.com"], f"{box['spec']}")
        box = c.create({"stockade": 1, "network": {"allow": None, "deny": None,
                                                   "mode": "none"}}, name="narrow")
        expect(box["spec"]["network"]["mode"] == "none" and
               box["spec"]["network"]["allow"] == [], f"{box['spec']}")
        e = error_of(lambda: c.create({"stockade": 1, "profile": "default"}))
        expect(e.status == 400 and e.path == "profile", f"{e}")
        # The proxy's decisions reach /metrics when the sandbox is removed: one refused.
        r = c.exec("subset", ["python3", "-c",
                              "import urllib.request\n"
                              "try: urllib.request.urlopen('http://not-granted.example/',"
                              " timeout=10)\n"
                              "except Exception as e: print('refused', e)"])
        expect(b"refused" in r.stdout, f"{r}")
        c.delete("subset")
        _, body = raw(d, "GET", "/metrics")
        expect('stockade_egress_decisions_total{decision="denied"} 1' in body.decode(),
               body.decode()[-1200:])
    finally:
        d.stop()


def test_api_limits_answer_429(ctx):
    d = start(ctx, "--max-sandboxes", "1", "--max-execs", "1")
    c = d.client
    try:
        c.create(name="only")
        e = error_of(lambda: c.create(name="second"))
        expect(e.status == 429 and e.code == "too_many_sandboxes", f"{e}")
        events = c.exec_stream("only", ["sleep", "30"])
        first = next(events)
        e = error_of(lambda: c.exec("only", ["true"]))
        expect(e.status == 429 and e.code == "too_many_execs", f"{e}")
        c.exec_kill("only", first.fields["id"])
        list(events)
        expect(c.exec("only", ["true"]).exit_code == 0, "an exec once the other ended")
        _, body = raw(d, "GET", "/metrics")
        text = body.decode()
        for needle in ('stockade_sandboxes_created_total{result="ok"} 1',
                       'stockade_sandboxes_created_total{result="refused"} 1',
                       'stockade_exec_total{result="exited"} 2',
                       "stockade_exec_duration_seconds_count 2"):
            expect(needle in text, f"{needle} not in /metrics:\n{text[-1500:]}")
    finally:
        d.stop()


def test_api_example_agent_loop_runs(ctx):
    """examples/agent_loop.py against a real daemon: a sandbox kept across steps, a failing
    test read and fixed, the sandbox gone at the end."""
    d = start(ctx)
    try:
        example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                               "examples", "agent_loop.py")
        r = subprocess.run([sys.executable, example, d.sock], capture_output=True, text=True,
                           timeout=120)
        expect(r.returncode == 0 and "exit 1" in r.stdout and "tests pass" in r.stdout and
               "done in 4 steps" in r.stdout, f"{r}")
        expect(d.client.list() == [], f"the example left {d.client.list()}")
    finally:
        d.stop()


def test_api_more_execs_at_once_than_a_sandbox_runs_wait_their_turn(ctx):
    """A sandbox's PID 1 runs 64 execs at once; the 36 past that wait for a slot in the
    daemon instead of failing (docs/api.md). All 100 end with their own output."""
    import threading
    d = start(ctx)
    c = d.client
    results = {}

    def one(i):
        try:
            results[i] = c.exec("many", ["sh", "-c", f"sleep 0.3; echo {i}"])
        except Exception as e:  # recorded, asserted below
            results[i] = e

    try:
        c.create(name="many")
        threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        bad = {i: r for i, r in results.items()
               if not (hasattr(r, "exit_code") and r.exit_code == 0 and
                       r.stdout == f"{i}\n".encode())}
        expect(len(results) == 100 and not bad, f"{len(results)} ended; wrong: "
               f"{list(bad.items())[:3]}")
    finally:
        d.stop()


def _gone(pid, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _supervisor(d, name):
    with open(os.path.join(d.home, "sandboxes", name, "state.json")) as f:
        return json.load(f)["supervisor_pid"]


def test_api_sigterm_drains_execs_then_stops_its_sandboxes(ctx):
    """SIGTERM: new work is refused (503, /readyz 503) while a running exec finishes and its
    stream ends with its exit; then every sandbox the daemon made is stopped and removed. A
    sandbox made with the CLI in the same home is not the daemon's and stays."""
    import threading
    d = start(ctx, "--drain-timeout", "20")
    c = d.client
    env = {"STOCKADE_HOME": d.home}
    r = ctx.stockade("run", "-d", "--name", "by-hand", env=env, timeout=30)
    expect(r.returncode == 0, f"{r}")
    try:
        c.create(name="one")
        c.create(name="two")
        pids = [_supervisor(d, n) for n in ("one", "two")]
        events = []
        stream = c.exec_stream("one", ["sh", "-c", "echo started; sleep 2; echo finished"])
        events.append(next(stream))
        events.append(next(stream))  # "started": the exec runs
        reader = threading.Thread(target=lambda: events.extend(stream))
        reader.start()
        d.p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, body = raw(d, "POST", "/v1/sandboxes", b'{"stockade": 1}')
        expect(status == 503 and json.loads(body)["error"]["code"] == "stopping",
               f"new work while draining: {status} {body!r}")
        status, _ = raw(d, "GET", "/readyz")
        expect(status == 503, f"/readyz while draining: {status}")
        reader.join(30)
        out = b"".join(e.data for e in events if e.type == "stdout")
        expect(out == b"started\nfinished\n" and events[-1].type == "exit" and
               events[-1].fields["exit_code"] == 0, f"the drained exec: {events}")
        r = harness.finish(d.p, timeout=60)
        expect(r.returncode == 0, f"daemon: {r}")
        expect(all(_gone(p, 5) for p in pids), "a supervisor outlived the daemon's drain")
        left = sorted(os.listdir(os.path.join(d.home, "sandboxes")))
        expect(left == ["by-hand"], f"after the drain: {left}")
    finally:
        ctx.stockade("rm", "-f", "by-hand", env=env, timeout=30)


def test_api_sigkill_takes_its_sandboxes_and_a_restart_cleans_up(ctx):
    """kill -9 of the daemon: each sandbox it made stops by itself (its supervisor watches a
    pipe only the daemon held); the next daemon on that home removes what is left."""
    d = start(ctx)
    try:
        d.client.create(name="tied")
        pid = _supervisor(d, "tied")
        d.p.kill()
        d.p.wait()
        expect(_gone(pid, 20), "the sandbox outlived its daemon's SIGKILL")
        expect(os.path.isdir(os.path.join(d.home, "sandboxes", "tied")), "nothing to clean?")
        again = ApiDaemon.__new__(ApiDaemon)
        again.ctx, again.dir, again.sock, again.home = ctx, d.dir, d.sock, d.home
        again.p = ctx.popen([ctx.stockade_path, "serve", "--socket", d.sock],
                            env={"STOCKADE_HOME": d.home}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
        again.client = Client(d.sock, timeout=60)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                again.client.livez()
                break
            except OSError:
                time.sleep(0.05)
        expect(again.client.list() == [] and
               not os.path.exists(os.path.join(d.home, "sandboxes", "tied")),
               f"the restarted daemon left {again.client.list()}")
        r = again.stop()
        expect("left by a daemon that died" in r.err, f"{r}")
    finally:
        if d.p.poll() is None:
            d.stop()


def test_api_warm_pool_serves_creates_and_refills(ctx):
    """--pool 2: two sandboxes of the operator's spec made ahead (not listed until taken);
    /readyz is 503 until one is ready; a create of exactly that spec takes one (its exec has
    the layers of any other) and the pool refills; a named create or another spec is made
    cold; SIGTERM removes the warm ones with the rest."""
    d = start(ctx, "--pool", "2")
    c = d.client

    def metric(name):
        _, body = raw(d, "GET", "/metrics")
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")

    def wait_pool(n):
        deadline = time.time() + 30
        while time.time() < deadline and metric("stockade_pool_available") != n:
            time.sleep(0.05)
        return metric("stockade_pool_available")

    try:
        expect(wait_pool(2) == 2, "the pool did not fill")
        status, body = raw(d, "GET", "/readyz")
        expect(status == 200 and json.loads(body)["pool"] == 2, f"{status} {body!r}")
        warm = sorted(os.listdir(os.path.join(d.home, "sandboxes")))
        expect(len(warm) == 2 and c.list() == [], f"warm: {warm}, listed: {c.list()}")
        box = c.create()
        expect(box["name"] in warm and box["status"] == "running", f"{box} not from {warm}")
        r = c.exec(box["name"], ["sh", "-c", "id -u; grep NoNewPrivs /proc/self/status"])
        expect(r.stdout == b"10001\nNoNewPrivs:\t1\n", f"{r}")
        expect([b["name"] for b in c.list()] == [box["name"]], f"{c.list()}")
        expect(wait_pool(2) == 2, "the pool did not refill")
        named = c.create(name="cold-one")
        other = c.create({"stockade": 1, "hostname": "other"})
        now = set(os.listdir(os.path.join(d.home, "sandboxes")))
        expect(named["name"] == "cold-one" and other["name"] not in warm and
               len(now) == 5, f"{named['name']} {other['name']} {now}")
        r = c.run(["echo", "from the pool"])
        expect(r.stdout == b"from the pool\n", f"{r}")
        r = d.stop()
        expect(r.returncode == 0, f"{r}")
        left = os.listdir(os.path.join(d.home, "sandboxes"))
        expect(left == [], f"after SIGTERM: {left}")
    finally:
        if d.p.poll() is None:
            d.stop()


def test_api_readyz_waits_for_the_pool(ctx):
    """A pool that cannot reach its floor (2 warm sandboxes wanted, --max-sandboxes 1 leaves
    room for one) keeps /readyz at 503, with the counts."""
    d = start(ctx, "--pool", "2", "--pool-floor", "2", "--max-sandboxes", "1")
    try:
        deadline = time.time() + 20  # until the one warm sandbox there is room for is made
        while True:
            status, body = raw(d, "GET", "/readyz")
            doc = json.loads(body)
            if doc.get("pool") == 1 or time.time() > deadline:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # and no second one comes
        status, body = raw(d, "GET", "/readyz")
        doc = json.loads(body)
        expect(status == 503 and doc["pool"] == 1 and doc["floor"] == 2, f"{status} {doc}")
    finally:
        d.stop()


def test_api_over_tcp_needs_the_bearer_token(ctx):
    """--listen 127.0.0.1:PORT --token-file F: the API over loopback TCP, every request with
    the token (401 without it, or with a wrong one, even one that shares its first bytes);
    a non-loopback address, or a token file others can read, stops the daemon at start."""
    import secrets as pysecrets
    d_dir = ctx.tmpdir(mode=0o700)
    token = pysecrets.token_hex(24)
    token_file = os.path.join(d_dir, "token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    os.chmod(token_file, 0o600)
    os.chown(token_file, ctx.caller_uid, ctx.caller_gid)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    d = start(ctx, "--listen", f"127.0.0.1:{port}", "--token-file", token_file)
    try:
        def tcp(method, url, auth=None, body=None):
            c = __import__("http.client").client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Authorization": auth} if auth else {}
            c.request(method, url, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            c.close()
            return r.status, data
        for auth in (None, "Bearer " + token[:-1] + "x", "Bearer " + token[:20],
                     "Basic " + token, "Bearer " + token + "extra"):
            status, data = tcp("GET", "/v1/sandboxes", auth)
            expect(status == 401 and json.loads(data)["error"]["code"] == "unauthorized",
                   f"{auth!r}: {status} {data!r}")
        status, data = tcp("POST", "/v1/sandboxes?name=over-tcp", "Bearer " + token,
                           b'{"stockade": 1}')
        expect(status == 201, f"{status} {data!r}")
        status, data = tcp("POST", "/v1/sandboxes/over-tcp/exec?wait=1", "Bearer " + token,
                           b'{"cmd": ["id", "-u"]}')
        expect(status == 200 and json.loads(data)["stdout"] == "10001\n", f"{data!r}")
        # The unix socket is still the peer-checked way in, no token needed.
        expect([b["name"] for b in d.client.list()] == ["over-tcp"], "unix socket")
    finally:
        d.stop()
    for listen in ("0.0.0.0:%d" % port, "192.0.2.1:80", "localhost:%d" % port):
        r = ctx.stockade("serve", "--socket", os.path.join(d_dir, "x.sock"), "--listen",
                         listen, "--token-file", token_file, timeout=30)
        expect(r.returncode == 125 and "loopback" in r.err, f"{listen}: {r}")
    os.chmod(token_file, 0o644)
    r = ctx.stockade("serve", "--socket", os.path.join(d_dir, "x.sock"), "--listen",
                     f"127.0.0.1:{port}", "--token-file", token_file, timeout=30)
    expect(r.returncode == 125 and "readable by others" in r.err, f"{r}")


def test_api_silent_clients_do_not_hold_up_others(ctx):
    """Connections that send nothing, half a request line, or headers without their body
    (each holds a thread of its own until the 30 s timeout) do not slow anyone else."""
    d = start(ctx)
    silent = []
    try:
        for opening in (b"", b"GET /v1/sandb", b"POST /v1/sandboxes HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 100\r\n\r\n{"):
            for _ in range(10):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(d.sock)
                s.sendall(opening)
                silent.append(s)
        t = time.time()
        box = d.client.create(name="busy")
        r = d.client.exec("busy", ["echo", "served"])
        took = time.time() - t
        expect(box["status"] == "running" and r.stdout == b"served\n" and took < 10,
               f"{took:.1f} s with {len(silent)} silent clients")
    finally:
        for s in silent:
            s.close()
        d.stop()


def test_api_stream_keeps_alive_and_tells_of_a_dead_sandbox(ctx):
    """A quiet exec's stream carries a keepalive line after 5 s (a client can tell a slow
    command from a dead daemon); when the sandbox dies under an exec (its supervisor killed
    with SIGKILL), the stream ends with an exit event that says so."""
    d = start(ctx)
    c = d.client
    try:
        c.create(name="quiet")
        events = list(c.exec_stream("quiet", ["sh", "-c", "sleep 6; echo late"],
                                    keepalives=True))
        kinds = [e.type for e in events]
        expect("keepalive" in kinds and kinds.index("keepalive") < kinds.index("stdout") and
               kinds[-1] == "exit", f"{kinds}")
        stream = c.exec_stream("quiet", ["sleep", "60"])
        expect(next(stream).type == "start", "start")
        os.kill(_supervisor(d, "quiet"), signal.SIGKILL)
        last = list(stream)[-1]
        expect(last.type == "exit" and last.fields["exit_code"] == 125 and
               "ended" in last.fields["error"], f"{last}")
    finally:
        d.stop()


def _metric(d, name):
    _, body = raw(d, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _warm_names(d, known, count, seconds=30):
    """The warm pool's sandboxes (every directory of the home but known), once count are
    ready."""
    deadline = time.time() + seconds
    while time.time() < deadline and _metric(d, "stockade_pool_available") != count:
        time.sleep(0.05)
    expect(_metric(d, "stockade_pool_available") == count, "the pool did not fill")
    return sorted(set(os.listdir(os.path.join(d.home, "sandboxes"))) - set(known))


def test_api_reaches_only_the_sandboxes_it_made(ctx):
    """A request reaches only the sandboxes this daemon made for its clients. Its
    STOCKADE_HOME may hold others: one made with the CLI, under a policy of its own (here a
    secret the operator's API policy does not give), and a warm one of the pool before it is
    taken. Neither is listed, inspected, entered, read, written or removed through the API: a
    404, as for a name that is not there. Checked from the host: both still run; the warm one,
    untouched, is what the next create gets."""
    d = start(ctx, "--pool", "1")
    c = d.client
    env = {"STOCKADE_HOME": d.home}
    secret = os.path.join(ctx.tmpdir(mode=0o700), "token")
    with open(secret, "w") as f:
        f.write("not-for-api-clients\n")
    os.chown(secret, ctx.caller_uid, ctx.caller_gid)
    os.chmod(secret, 0o600)
    r = ctx.stockade("run", "-d", "--name", "by-hand", "--secret", f"tok=@{secret}", env=env,
                     timeout=30)
    expect(r.returncode == 0, f"{r}")
    try:
        (warm,) = _warm_names(d, ["by-hand"], 1)
        for name in ("by-hand", warm):
            calls = {
                "get": lambda n=name: c.get(n),
                "exec": lambda n=name: c.exec(n, ["cat", "/run/secrets/tok"]),
                "read": lambda n=name: c.read_file(n, "/run/secrets/tok"),
                "list": lambda n=name: c.list_files(n, "/tmp"),
                "write": lambda n=name: c.write_file(n, "/tmp/planted", b"planted"),
                "delete": lambda n=name: c.delete(n),
            }
            for what, call in calls.items():
                e = error_of(call)
                expect(e.status == 404 and e.code == "not_found", f"{what} {name}: {e}")
        expect(c.list() == [], f"listed: {c.list()}")
        expect(supervisor_alive(d, "by-hand") and supervisor_alive(d, warm),
               "a sandbox the API may not reach was stopped")
        e = error_of(lambda: c.create(name="by-hand"))
        expect(e.status == 409 and e.code == "name_in_use", f"{e}")
        box = c.create()
        expect(box["name"] == warm and box["status"] == "running", f"{box}, warm: {warm}")
        r = c.exec(warm, ["sh", "-c", "ls -A /tmp"])
        expect(r.exit_code == 0 and r.stdout == b"", f"the warm sandbox was written: {r}")
        expect([b["name"] for b in c.list()] == [warm], f"{c.list()}")
    finally:
        ctx.stockade("rm", "-f", "by-hand", env=env, timeout=30)
        d.stop()


def test_api_max_sandboxes_counts_the_ended_ones_it_keeps(ctx):
    """--max-sandboxes counts every sandbox the daemon keeps, running or ended: one whose
    command has ended stays (its state, until a DELETE), so counting running ones only let a
    client fill the home with ended ones. A sandbox made with the CLI in that home is not the
    daemon's and takes none of its room."""
    d = start(ctx, "--max-sandboxes", "1")
    c = d.client
    env = {"STOCKADE_HOME": d.home}
    r = ctx.stockade("run", "-d", "--name", "by-hand", env=env, timeout=30)
    expect(r.returncode == 0, f"{r}")
    try:
        c.create({"stockade": 1, "command": ["true"]}, name="ends")
        deadline = time.time() + 20
        while time.time() < deadline and c.get("ends")["status"] != "exited":
            time.sleep(0.05)
        expect(c.get("ends")["status"] == "exited", f"{c.get('ends')}")
        e = error_of(lambda: c.create({"stockade": 1, "command": ["true"]}))
        expect(e.status == 429 and e.code == "too_many_sandboxes", f"{e}")
        left = sorted(os.listdir(os.path.join(d.home, "sandboxes")))
        expect(left == ["by-hand", "ends"], f"the refused create made one: {left}")
        c.delete("ends")
        box = c.create(name="after")
        expect(box["status"] == "running", f"{box}")
    finally:
        ctx.stockade("rm", "-f", "by-hand", env=env, timeout=30)
        d.stop()


def test_api_one_daemon_per_home(ctx):
    """A second daemon on the same STOCKADE_HOME (another socket) is refused at start, 125 and
    one line: it would take the first one's sandboxes for its own, removing them on its start
    (ended ones) and on its SIGTERM (all). The first daemon's sandbox still runs."""
    d = start(ctx)
    try:
        d.client.create(name="first")
        other = os.path.join(ctx.tmpdir(mode=0o700), "other.sock")
        p = ctx.popen([ctx.stockade_path, "serve", "--socket", other],
                      env={"STOCKADE_HOME": d.home}, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)  # it started: its drain is what this guards against
        r = harness.finish(p, timeout=60)
        expect(supervisor_alive(d, "first") and d.client.get("first")["status"] == "running",
               f"the second daemon stopped the first one's sandbox: {r}")
        harness.one_line_125(r, "STOCKADE_HOME")
    finally:
        d.stop()


def _pause_run_d(daemon_pid, seconds):
    """SIGSTOPs the first `stockade run -d` the daemon spawns, as soon as it is seen (each
    thread's children, from /proc); its pid, or None."""
    import glob
    deadline = time.time() + seconds
    while time.time() < deadline:
        for path in glob.glob(f"/proc/{daemon_pid}/task/*/children"):
            try:
                with open(path) as f:
                    children = [int(pid) for pid in f.read().split()]
            except OSError:
                continue
            for pid in children:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if b"run" in argv and b"-d" in argv:
                    os.kill(pid, signal.SIGSTOP)
                    return pid
    return None


def test_api_sigterm_removes_a_sandbox_made_while_it_drains(ctx):
    """A create under way when SIGTERM comes (its `run -d` spawned, and paused here by SIGSTOP
    until the drain has begun) makes its sandbox after the drain began: the drain removes it
    with the others, as it lists them once every request has ended. It used to list them as
    it began, and left this one behind, checked from the host."""
    import glob
    import select
    import threading
    d = start(ctx, "--drain-timeout", "0")
    answers = []

    def create():
        try:
            answers.append(d.client.create())
        except Exception as e:  # the connection closes as the daemon stops: recorded
            answers.append(e)

    paused = None
    try:
        for _ in range(5):
            # (an earlier attempt's sandbox, which ran on, is recorded already)
            recorded = set(glob.glob(os.path.join(d.home, "sandboxes", "*", "state.json")))
            creating = threading.Thread(target=create)
            creating.start()
            paused = _pause_run_d(d.p.pid, 20)
            expect(paused, "no run -d was spawned")
            now = set(glob.glob(os.path.join(d.home, "sandboxes", "*", "state.json")))
            if not now - recorded:
                break  # paused before its sandbox was recorded: what this test needs
            os.kill(paused, signal.SIGCONT)  # too late: it ran on; one more
            creating.join(60)
            paused = None
        expect(paused, "could not pause a run -d before its sandbox was recorded")
        d.p.send_signal(signal.SIGTERM)
        said = b""
        deadline = time.time() + 20
        while b"draining" not in said and time.time() < deadline:
            if select.select([d.p.stderr], [], [], 1)[0]:
                said += os.read(d.p.stderr.fileno(), 4096)
        expect(b"draining" in said, f"no drain: {said!r}")
        time.sleep(0.3)
        os.kill(paused, signal.SIGCONT)
        paused = None
        made = False  # the paused create goes on and makes its sandbox: seen from the host
        deadline = time.time() + 20
        while not made and d.p.poll() is None and time.time() < deadline:
            made = bool(set(glob.glob(os.path.join(d.home, "sandboxes", "*", "state.json")))
                        - recorded)
            time.sleep(0.005)
        r = harness.finish(d.p, timeout=60)
        creating.join(60)
        expect(r.returncode == 0, f"{r}")
        left = os.listdir(os.path.join(d.home, "sandboxes"))
        expect(made, f"the paused create made no sandbox: {answers} {r}")
        expect(left == [], f"the drain left {left} (answers: {answers}; {said!r} {r})")
    finally:
        if paused:
            os.kill(paused, signal.SIGCONT)
        if d.p.poll() is None:
            d.stop()


def _follow_raw(d, url, seconds):
    """GET url as a stream: (the body, whether it ended within seconds). Keepalives count as
    nothing: a stream that only sends them has not ended."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.sock)
    s.settimeout(1)
    s.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    got = b""
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return got, True
            got += chunk
        return got, False
    finally:
        s.close()


def test_api_follow_from_past_the_end_of_an_ended_exec_ends(ctx):
    """GET .../exec/{id}?follow=1&from_seq=N of an exec that has ended, N at or past its last
    event: no event will ever come, so the stream ends at once, empty. It used to send
    keepalives for ever (and hold the exec's record while it did). From inside the events, a
    follow still gets the rest, to the exit."""
    d = start(ctx)
    c = d.client
    try:
        c.create(name="past")
        r = c.exec("past", ["echo", "hi"])
        count, exec_id = r.raw["events"], r.raw["id"]
        for from_seq in (count, count + 1, 4000000000):
            url = f"/v1/sandboxes/past/exec/{exec_id}?follow=1&from_seq={from_seq}"
            got, ended = _follow_raw(d, url, 12)
            expect(ended and got.startswith(b"HTTP/1.1 200") and b'"type"' not in got,
                   f"from_seq={from_seq} of {count}: ended={ended} {got[-300:]!r}")
        events = list(c.exec_follow("past", exec_id, from_seq=count - 1))
        expect([e.type for e in events] == ["exit"] and events[0].seq == count - 1,
               f"{events}")
    finally:
        d.stop()


def test_api_files_answer_when_the_sandbox_stops_its_copier(ctx):
    """A file request's copier runs inside the sandbox, where the workload can stop it
    (`kill -STOP -1` in a loop stops every other process of the sandbox). The daemon waits
    for a copier that makes no progress for --copy-timeout (10 s; 2 s here) at most, then
    answers copy_failed: before,
    the request's thread waited for ever (a PUT of 4 MiB in a pipe write, a GET for the fd),
    and SIGTERM's drain, which joins every request, never ended. Checked: every request
    answered, the PUTs (long enough to be caught) with the timeout, the drain done."""
    import threading
    d = start(ctx, "--max-body", "8m", "--copy-timeout", "2")
    c = d.client
    try:
        c.create(name="stopper")
        c.write_file("stopper", "/tmp/f", b"before\n")
        # Begins once this exec has ended (it would stop it too).
        r = c.exec("stopper", ["sh", "-c", "(sleep 0.5; while :; do kill -STOP -1 2>/dev/null;"
                                           " done) </dev/null >/dev/null 2>&1 & echo started"])
        expect(r.stdout == b"started\n", f"{r}")
        time.sleep(1.5)
        answers = {}

        def one(key, call):
            slow = Client(d.sock, timeout=45)
            try:
                answers[key] = call(slow)
            except StockadeError as e:
                answers[key] = e
            except Exception as e:  # no answer: what this test is about
                answers[key] = ("no answer", e)

        calls = {f"get{i}": lambda k: k.read_file("stopper", "/tmp/f") for i in range(3)}
        calls.update({f"put{i}": lambda k, i=i: k.write_file("stopper", f"/tmp/p{i}",
                                                              b"y" * (4 << 20))
                      for i in range(2)})
        threads = [threading.Thread(target=one, args=item) for item in calls.items()]
        began = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        took = time.time() - began
        unanswered = {k: v for k, v in answers.items() if isinstance(v, tuple)}
        expect(len(answers) == len(calls) and not unanswered and took < 35,
               f"after {took:.1f} s: {answers}")
        for key in ("put0", "put1"):
            e = answers[key]
            expect(isinstance(e, StockadeError) and e.code == "copy_failed" and
                   "2 s" in e.message, f"{key}: {e}")
        r = d.stop()
        expect(r.returncode == 0 and
               not os.path.exists(os.path.join(d.home, "sandboxes", "stopper")),
               f"the drain: {r}")
    finally:
        if d.p.poll() is None:
            d.p.kill()
            d.p.wait()


def test_api_delete_stops_a_sandbox_running_all_its_execs(ctx):
    """A sandbox running as many execs as its PID 1 takes (64, each a client of its
    supervisor) is still stopped and removed by DELETE, and inspected meanwhile: the
    supervisor keeps room beyond the execs for a stop, an inspect and a copy. It used to have
    exactly 64 client places, every one an exec's, so the stop was turned away (DELETE: 500
    "is running") until the execs ended, for ever with execs that do not end. Checked from
    the host: the supervisor is gone; every exec's stream ends with its exit."""
    import threading
    d = start(ctx)
    c = d.client
    streams, firsts = [], []
    try:
        c.create(name="full")
        pid = _supervisor(d, "full")

        def one():
            events = c.exec_stream("full", ["sleep", "600"])
            firsts.append(next(events))
            streams.append(events)

        threads = [threading.Thread(target=one) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        expect(len(firsts) == 64 and all(e.type == "start" for e in firsts),
               f"{len(firsts)} execs began")
        box = c.get("full")
        try:
            answer = c.delete("full")
        except StockadeError as e:
            answer = e
        expect(isinstance(answer, dict) and answer["status"] == "removed", f"DELETE: {answer}")
        expect((box.get("processes") or 0) >= 65, f"inspect: {box}")
        expect(_gone(pid, 15) and not os.path.exists(os.path.join(d.home, "sandboxes", "full")),
               "the sandbox outlived its DELETE")
        ends = [list(events)[-1] for events in streams]
        expect(all(e.type == "exit" for e in ends), f"{ends[:3]}")
    finally:
        d.stop()


def test_api_sandboxes_hold_no_descriptor_the_daemon_inherited(ctx):
    """A descriptor the daemon inherited from whoever started it (here the write end of a
    pipe, open without close-on-exec) is not passed on to the `run -d` it spawns. The
    sandbox's supervisor, which lives as long as the sandbox, used to hold it: the pipe's
    reader saw no EOF while any sandbox lived. Checked from the host, in the supervisor's
    descriptors."""
    read_end, write_end = os.pipe()
    inherited = 60  # above the fds a create's spawn places (3, 4): they would replace it
    os.dup2(write_end, inherited)
    os.close(write_end)
    try:
        d = start(ctx, pass_fds=(inherited,))
    finally:
        os.close(inherited)
    try:
        d.client.create(name="fds")
        pid = _supervisor(d, "fds")
        pipe = os.readlink(f"/proc/self/fd/{read_end}")
        held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        expect(pipe not in held, f"the supervisor holds the daemon's inherited {pipe}: {held}")
    finally:
        os.close(read_end)
        d.stop()
