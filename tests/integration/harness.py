"""Test harness for the integration tests: a Context runs stockade (and anything else) as
the mode's caller, root or the unprivileged test user, and keeps the helpers at hand.

A test is a function `test_*(ctx)` that raises AssertionError to fail and Skip(reason) to be
counted as skipped, with its reason printed; a skip must be listed in tests/expected-skips.txt
(tests/skips.py) or the run fails. Decorate with @root_only / @user_only to restrict: a test
that has no meaning in the other mode is not run there, which is not a skip."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import inspect


class Skip(Exception):
    pass


def remove_tree(path):
    """Removes a directory a test made, whatever sandboxes left in it: volumes owned by the
    sandbox's host uid with 0700 (or, chmod'ed from inside, 000) directories. The harness runs
    as root, which may enter them all; a directory it still cannot empty is made u+rwx and
    tried again. Whatever stays is said on stderr, not ignored."""
    def fix_and_retry(function, failed, _exc):
        parent = os.path.dirname(failed)
        for d in (parent, failed):
            try:
                if os.path.isdir(d) and not os.path.islink(d):
                    os.chmod(d, 0o700)
            except OSError:
                pass
        function(failed)

    if not os.path.lexists(path):
        return
    try:
        shutil.rmtree(path, onerror=fix_and_retry)
    except OSError as e:
        print(f"harness: could not remove {path}: {e}", file=sys.stderr)


def root_only(fn):
    fn.modes = ("root",)
    return fn


def user_only(fn):
    fn.modes = ("user",)
    return fn


def collect(module):
    fns = [v for k, v in vars(module).items() if k.startswith("test_") and callable(v)]
    return sorted(fns, key=lambda f: inspect.getsourcelines(f)[1])


SKIP_REASON = "skip reason: "  # what tests/unit/skip.h prints right before cmocka's skip()


def parse_cmocka(out):
    """One cmocka binary's output (CMOCKA_MESSAGE_OUTPUT=stdout): {test: (status, reason)},
    status "ok", "skipped" or "failed" (in run order). A skip's reason is the last
    `skip reason:` line the test printed. The summary after `[==========] N test(s) run.`
    repeats names and is not read."""
    results, current, reason = {}, None, ""
    for line in out.splitlines():
        m = re.match(r"\[ *(RUN|OK|SKIPPED|FAILED|ERROR) *\] (\S+)$", line)
        if re.match(r"\[=+\] \d+ test\(s\) run\.", line):
            break
        if line.startswith(SKIP_REASON):
            reason = line[len(SKIP_REASON):].strip()
        elif m and m.group(1) == "RUN":
            current, reason = m.group(2), ""
        elif m and m.group(2) == current:
            status = {"OK": "ok", "SKIPPED": "skipped"}.get(m.group(1), "failed")
            results[current] = (status, reason if status == "skipped" else "")
            current = None
    return results


def unit_test_runner(name):
    """The test of one cmocka binary. It fails if the binary does; each cmocka test that
    passed or skipped is put in ctx.unit_outcomes for run.py to count (a skip is a skip,
    with its reason, checked against the expected list like any other)."""
    def run_unit(ctx):
        r = ctx.run([os.path.join(ctx.bin, name)], timeout=120,
                    env={"CMOCKA_MESSAGE_OUTPUT": "stdout"})
        out = r.out + r.err
        ctx.unit_outcomes = parse_cmocka(r.out)
        assert r.returncode == 0, f"exit {r.returncode}\n{out[-3000:]}"
        assert ctx.unit_outcomes, f"no cmocka test ran:\n{out[-3000:]}"
    run_unit.__name__ = "test_" + name
    return run_unit


class Result:
    def __init__(self, proc, out, err):
        self.returncode = proc.returncode
        self.out = out.decode("utf-8", "replace")
        self.err = err.decode("utf-8", "replace")
        self.raw_out = out

    def __repr__(self):
        return f"<exit {self.returncode} out={self.out[-800:]!r} err={self.err[-800:]!r}>"


def finish(p, input=None, timeout=60, what=""):
    """Waits for a started process with a time limit; its Result (out, err, returncode)."""
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"timed out after {timeout}s: {what}\n{err[-500:]!r}")
    return Result(p, out, err)


BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8"}


class Context:
    def __init__(self, mode, bin_dir, user):
        self.mode = mode
        self.bin = bin_dir
        self.stockade_path = os.path.join(bin_dir, "stockade")
        self.user = user
        self.is_root = mode == "root"
        self.caller_uid = 0 if self.is_root else user.pw_uid
        self.caller_gid = 0 if self.is_root else user.pw_gid
        # The host uid the sandbox user lands on: never 0.
        self.host_uid = 10001 if self.is_root else user.pw_uid
        self._cleanup = []
        self.unit_outcomes = {}
        # stockade's state (the probe cache) for this mode: a directory of this run's own,
        # so the host's /var/lib/stockade or ~/.local/share/stockade is never touched.
        self.state = tempfile.mkdtemp(prefix=f"stockade-state-{mode}-")
        os.chown(self.state, self.caller_uid, self.caller_gid)
        os.chmod(self.state, 0o700)

    def fresh_state(self):
        """A new, empty STOCKADE_HOME for one test (no probe cache yet)."""
        d = tempfile.mkdtemp(prefix=f"stockade-state-{self.mode}-")
        os.chown(d, self.caller_uid, self.caller_gid)
        os.chmod(d, 0o700)
        self._cleanup.append(lambda: remove_tree(d))
        return d

    def reset(self):
        self._cleanup = []
        self.unit_outcomes = {}

    def cleanup(self):
        for fn in reversed(self._cleanup):
            try:
                fn()
            except Exception:
                pass
        self._cleanup = []

    def close(self):
        """After the mode's last test: its STOCKADE_HOME goes (probe cache, disk reserve,
        volumes), as every test's own directories went after the test."""
        remove_tree(self.state)

    def helper(self, name):
        return os.path.join(self.bin, name)

    def tmpdir(self, mode=0o755):
        """A fresh host directory owned by the caller of this mode."""
        d = tempfile.mkdtemp(prefix="stockade-t-")
        os.chmod(d, mode)
        os.chown(d, self.caller_uid, self.caller_gid)
        self._cleanup.append(lambda: remove_tree(d))
        return d

    def wrap(self, argv):
        if self.is_root:
            return list(argv)
        return ["setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                "--clear-groups", "--"] + list(argv)

    def popen(self, argv, env=None, **kw):
        full_env = dict(BASE_ENV)
        full_env["HOME"] = "/root" if self.is_root else self.user.pw_dir
        full_env["STOCKADE_HOME"] = self.state
        # A sanitizer build's settings (CI's ASan+UBSan run) reach every stockade started here.
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                full_env[key] = os.environ[key]
        full_env.update(env or {})
        return subprocess.Popen(self.wrap(argv), env=full_env, **kw)

    def run(self, argv, input=None, timeout=60, env=None, stdin=None, pass_fds=()):
        if input is not None and stdin is not None:
            raise ValueError("input or stdin, not both")
        p = self.popen(argv, env=env, stdin=subprocess.PIPE if input is not None else
                       (stdin if stdin is not None else subprocess.DEVNULL),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds)
        return finish(p, input=input, timeout=timeout, what=argv)

    def stockade(self, *args, **kw):
        return self.run([self.stockade_path] + list(args), **kw)

    def sandbox(self, cmd, opts=(), **kw):
        """Runs cmd (a list, or a string for sh -c) in a sandbox with the given run options."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        return self.stockade("run", *opts, "--", *cmd, **kw)

    def feed(self, helper, args, opts=(), **kw):
        """Runs a static helper inside a sandbox: there are no host bind mounts, so its bytes
        come in on stdin and are written to the sandbox's /tmp first."""
        with open(self.helper(helper), "rb") as f:
            data = f.read()
        script = 'cat > /tmp/h && chmod 700 /tmp/h && exec /tmp/h "$@" </dev/null'
        return self.sandbox(["sh", "-c", script, "sh"] + list(args), opts=opts, input=data,
                            **kw)

    @staticmethod
    def parse_probes(text):
        results = {}
        for line in text.splitlines():
            parts = line.split(" ")
            if len(parts) >= 2 and "=" in parts[1]:
                kind, _, value = parts[1].partition("=")
                detail = parts[2].partition("=")[2] if len(parts) > 2 else ""
                results[parts[0]] = (kind if kind == "result" and value == "ok" else
                                     f"{kind}={value}", detail)
        return {k: ("ok" if v[0] == "result" else v[0], v[1]) for k, v in results.items()}

    def probe(self, *names, opts=()):
        """try-syscall inside a sandbox: {probe: ("ok" | "errno=EPERM" | "signal=31", detail)}"""
        r = self.feed("try-syscall", names, opts=opts)
        assert r.returncode == 0, f"try-syscall failed in the sandbox: {r}"
        got = self.parse_probes(r.out)
        missing = [n for n in names if n not in got]
        assert not missing, f"no result for {missing}: {r}"
        return got

    def native_probe(self, *names):
        """try-syscall unsandboxed, as this mode's caller, in a throwaway PID namespace (so the
        host's PID 1 is never a target) - and for the unprivileged caller in a throwaway user
        namespace too, which is the most the kernel gives it without a sandbox."""
        pre = ["unshare", "--pid", "--fork", "--mount-proc"]
        if not self.is_root:
            pre = ["unshare", "--user", "--map-current-user", "--pid", "--fork", "--mount-proc"]
        r = self.run(pre + [self.helper("try-syscall")] + list(names))
        assert r.returncode == 0, f"native try-syscall failed: {r}"
        return self.parse_probes(r.out)


def expect(cond, message):
    if not cond:
        raise AssertionError(message)


class Home:
    """A STOCKADE_HOME of the test's own for long-lived sandboxes, and the stockade commands
    run in it; whatever the test leaves running goes when it ends, before the home does (a
    supervisor has no other end)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.home = ctx.fresh_state()
        self.env = {"STOCKADE_HOME": self.home}
        ctx._cleanup.append(self.remove_all)

    def remove_all(self):
        for name in self.names():
            self.cli("rm", "-f", name, timeout=30)

    def names(self):
        top = os.path.join(self.home, "sandboxes")
        return sorted(os.listdir(top)) if os.path.isdir(top) else []

    def cli(self, *args, **kw):
        return self.ctx.stockade(*args, env=dict(self.env, **kw.pop("env", {})), **kw)

    def ps(self):
        r = self.cli("ps", "--json")
        expect(r.returncode == 0, f"ps: {r}")
        return {b["name"]: b for b in json.loads(r.out)}


def one_line_125(r, *needles):
    """stockade's own refusal: exit 125, one line on stderr, naming each needle."""
    expect(r.returncode == 125, f"expected 125: {r}")
    expect(r.err.count("\n") == 1 and r.err.startswith("stockade: "), f"one line: {r.err!r}")
    for needle in needles:
        expect(needle in r.err, f"{needle!r} not in {r.err!r}")


# The caller's shell on a terminal, for tests that put stockade on one: its own session with
# the terminal as controlling terminal, the program (argv[2:]) as its child in the same
# foreground group, so a signal to that group reaches this host process too; it records those
# signals (and the child's pid, as "pid N") in argv[1], and exits with the child's status
# (128+N for a signal).
CALLER_SHELL = r'''
import fcntl, os, signal, sys, termios
record = sys.argv[1]
def note(sig, frame):
    with open(record, "a") as f:
        f.write(signal.Signals(sig).name + "\n")
os.setsid()
fcntl.ioctl(next(fd for fd in (0, 1, 2) if os.isatty(fd)), termios.TIOCSCTTY, 0)
for s in (signal.SIGWINCH, signal.SIGINT):
    signal.signal(s, note)
pid = os.fork()
if pid == 0:
    for s in (signal.SIGPIPE, signal.SIGXFSZ):  # python ignores them; stockade gets defaults
        signal.signal(s, signal.SIG_DFL)
    os.execvp(sys.argv[2], sys.argv[2:])
with open(record, "a") as f:
    f.write(f"pid {pid}\n")
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
'''


class LoopbackServer:
    """A TCP server on 127.0.0.1 (an ephemeral port) that serves each connection in a thread of
    its own: subclasses define _serve(conn). For the test servers that record what reached
    them (virtual hosts, SNIs, raw bytes)."""

    def __init__(self, backlog=64):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        raise NotImplementedError

    def close(self):
        self.sock.close()
