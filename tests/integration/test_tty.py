"""The caller's terminal stays the caller's (--tty). stockade runs here the way an interactive
shell runs it: on a real pty (the "caller's terminal") as stdin, stdout, stderr and controlling
terminal, under a small wrapper that stands for the caller's shell: a host process in the
terminal's foreground process group that records every SIGWINCH and SIGINT it receives.

The workload gets a pty of its own: whatever it does to its terminal (settings, flow control,
window size) stays on that pty; the caller's terminal is in raw mode while the run lasts and has
its own settings back afterwards on every exit path; its window size (and later changes of it)
reach the sandbox; what the workload writes counts against --output-limit. --tty=never keeps
the inherited fds."""
import fcntl
import hashlib
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import harness
from harness import expect

WRAPPER = harness.CALLER_SHELL

ROWS, COLS = 37, 123


def winsize(fd):
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def set_winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Run:
    def __init__(self, rc, out, record):
        self.rc, self.out, self.record = rc, out, record

    def signals(self):
        return [line for line in self.record.splitlines() if not line.startswith("pid ")]

    def __repr__(self):
        return f"<exit {self.rc} out={self.out[-1500:]!r} record={self.record!r}>"


class CallerTerminal:
    """A pty whose slave is the caller's terminal. The test drives the master side."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.master, self.slave = pty.openpty()
        os.chown(os.ttyname(self.slave), ctx.caller_uid, -1)
        set_winsize(self.master, ROWS, COLS)
        self.settings = termios.tcgetattr(self.slave)
        ctx._cleanup.append(self.close)

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def run(self, opts, cmd, steps=(), timeout=30, stdin_data=None):
        """Runs stockade on this terminal. steps: [(text, action)]: once text has appeared in
        the output (after the previous step's), action(self) runs, or its bytes are typed.
        stdin_data: stdin is a pipe with these bytes (< 64 KiB) instead of the terminal."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        record = self.record = os.path.join(self.ctx.tmpdir(), "record")
        open(record, "w").close()
        os.chown(record, self.ctx.caller_uid, self.ctx.caller_gid)
        argv = ["python3", "-c", WRAPPER, record, self.ctx.stockade_path, "run", *opts, "--",
                *cmd]
        stdin = self.slave if stdin_data is None else subprocess.PIPE
        p = self.ctx.popen(argv, stdin=stdin, stdout=self.slave, stderr=self.slave)
        if stdin_data is not None:
            p.stdin.write(stdin_data)
            p.stdin.close()
        out, pos, pending = b"", 0, list(steps)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out after {timeout}s: {cmd}; shown {out!r}")
                ready, _, _ = select.select([self.master], [], [], 0.05)
                if ready:
                    try:
                        out += os.read(self.master, 65536)
                    except OSError:
                        pass
                while pending and pending[0][0].encode() in out[pos:]:
                    text, action = pending.pop(0)
                    pos = out.index(text.encode(), pos) + len(text)
                    if callable(action):
                        action(self)
                    else:
                        os.write(self.master, action)
                if not ready and p.poll() is not None:
                    break
        finally:
            if p.poll() is None:
                self._kill(record)
                p.kill()
                p.wait()
        with open(record) as f:
            return Run(p.returncode, out.decode("utf-8", "replace"), f.read())

    @staticmethod
    def _kill(record):
        with open(record) as f:
            for line in f:
                if line.startswith("pid "):
                    try:
                        os.kill(int(line.split()[1]), signal.SIGKILL)
                    except OSError:
                        pass

    def assert_settings_kept(self, what):
        now = termios.tcgetattr(self.slave)
        expect(now == self.settings,
               f"{what}: the caller's terminal settings changed:\n before {self.settings}\n "
               f"after  {now}")

    def is_raw(self):
        lflag = termios.tcgetattr(self.master)[3]
        return not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)

    def passes_output(self):
        """Is the caller's terminal still passing output? (A stopped tty does not.)"""
        flags = fcntl.fcntl(self.slave, fcntl.F_GETFL)
        fcntl.fcntl(self.slave, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        try:
            os.write(self.slave, b"still-flowing\n")
        except BlockingIOError:
            return False
        finally:
            fcntl.fcntl(self.slave, fcntl.F_SETFL, flags)
        got = b""
        deadline = time.monotonic() + 2
        while b"still-flowing" not in got and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.1)[0]:
                got += os.read(self.master, 4096)
        return b"still-flowing" in got


def test_tty_settings_survive_stty(ctx):
    """A workload that turns echo off, moves the interrupt character and goes raw changes its
    own terminal: the caller's settings are byte-identical afterwards, and the run report says
    a pty was used."""
    term = CallerTerminal(ctx)
    report = os.path.join(ctx.tmpdir(), "report.json")
    script = "stty -echo intr '^A' && stty raw && stty -a | tr -s ' ' && echo changed-inside"
    r = term.run(["--report", report], script)
    expect(r.rc == 0 and "changed-inside" in r.out, f"[{ctx.mode}] workload: {r}")
    expect("-echo" in r.out and "intr = ^A" in r.out, f"the workload's stty did not apply: {r}")
    term.assert_settings_kept(f"[{ctx.mode}] stty -echo intr ^A; stty raw")
    with open(report) as f:
        tty = json.load(f).get("tty")
    expect(tty == {"mode": "auto", "pty": True}, f"report: tty {tty!r}")


def test_tty_flow_stop_stays_inside(ctx):
    """TCXONC(TCOOFF) inside stops the sandbox's own terminal, not the caller's: after the run,
    output still flows on the caller's terminal."""
    term = CallerTerminal(ctx)
    script = ("echo before-stop; python3 -c 'import termios; termios.tcflow(1, termios.TCOOFF)'"
              "; echo stopped-inside >&2")
    # With its own pty stopped, the workload's last echo cannot finish: the timeout ends it.
    r = term.run(["--timeout", "2"], script)
    expect("before-stop" in r.out, f"[{ctx.mode}] workload: {r}")
    expect(term.passes_output(), f"[{ctx.mode}] the caller's terminal is stopped after the "
                                 f"run (TCOOFF reached it): {r}")
    term.assert_settings_kept("TCOOFF inside")
    expect(r.rc == 124, f"expected the workload to hang on its own stopped pty (124): {r}")


def test_tty_window_size(ctx):
    """The caller's window size is seen inside; a resize inside changes only the sandbox's pty
    (the caller's size stays, no SIGWINCH to a host process on the caller's terminal); a resize
    of the caller's terminal reaches the workload as its own SIGWINCH and new size."""
    term = CallerTerminal(ctx)
    r = term.run([], "stty size; stty rows 5 cols 7; stty size")
    lines = [x.strip() for x in r.out.splitlines() if x.strip()]
    expect(r.rc == 0 and lines[:2] == [f"{ROWS} {COLS}", "5 7"],
           f"[{ctx.mode}] sizes seen inside: {r}")
    expect(winsize(term.slave) == (ROWS, COLS),
           f"the caller's window size changed to {winsize(term.slave)}: {r}")
    expect(r.signals() == [], f"a host process on the caller's terminal was signalled: {r}")

    # The caller resizes while the workload waits for SIGWINCH.
    script = ("trap 'stty size; exit 0' WINCH; echo waiting-for-winch; sleep 10 & wait; "
              "echo no-winch")
    r = term.run([], script, steps=[("waiting-for-winch", lambda t: set_winsize(t.master, 40,
                                                                                  100))])
    expect(r.rc == 0 and "40 100" in r.out and "no-winch" not in r.out,
           f"[{ctx.mode}] the caller's resize did not reach the workload: {r}")
    expect(r.signals() == ["SIGWINCH"], f"expected exactly the caller's own SIGWINCH: {r}")
    expect(winsize(term.slave) == (40, 100), f"caller's size now {winsize(term.slave)}")


def test_tty_output_limit_and_drain(ctx):
    """Writing without end to the terminal (stdout, or the terminal on fd 0) hits
    --output-limit: exit 153, and the caller receives about the limit, not more. Without a
    limit, all that was written arrives, also what was still in the pty when the command
    exited (the master is drained before the exit is reported)."""
    # stockade is stopped while the workload fills the pty (12 KB: less than a pty holds)
    # and exits; when stockade goes on, the exit report and the output are there together.
    term = CallerTerminal(ctx)
    size = 12000
    writer = ("import os, sys, time\n"
              "print('ready', flush=True)\n"
              "time.sleep(1)\n"
              f"sys.stdout.buffer.write(b'z' * {size} + b'END-OF-OUTPUT\\n')\n"
              "sys.stdout.flush()\n"
              "os._exit(0)\n")

    def pause_stockade(t):
        with open(t.record) as f:
            stockade_pid = int(next(x for x in f if x.startswith("pid ")).split()[1])
        os.kill(stockade_pid, signal.SIGSTOP)
        time.sleep(2.5)
        os.kill(stockade_pid, signal.SIGCONT)

    r = term.run([], ["python3", "-c", writer], steps=[("ready", pause_stockade)])
    expect(r.rc == 0 and r.out.count("z") == size and r.out.endswith("END-OF-OUTPUT\r\n"),
           f"[{ctx.mode}] exit {r.rc}, {r.out.count('z')} of {size} bytes, ends "
           f"{r.out[-40:]!r}")

    limit = 64 * 1024
    for target in (">&0", ""):
        term = CallerTerminal(ctx)
        r = term.run(["--output-limit", "64k", "--timeout", "5"], f"yes {target}")
        got = r.out.count("y\r\n")
        expect(r.rc == 153, f"[{ctx.mode}] `yes {target}`: expected exit 153, got {r.rc}; "
                            f"{got} y received")
        expect(limit // 3 - 1 <= got <= limit // 3,
               f"`yes {target}`: {got} 'y' received for a {limit}-byte limit ('y\\r\\n' each)")
        expect("output limit" in r.out, f"no output-limit message: {r.out[-300:]!r}")
        term.assert_settings_kept("output limit")


def test_tty_never_keeps_the_inherited_fds(ctx):
    """--tty=never: fds 0-2 are the caller's terminal itself (the old behaviour) with the old
    protections: no controlling terminal, TIOCSTI refused. The default gives a terminal of the
    sandbox's own devpts instead. A bad --tty value is refused in one line (exit 125)."""
    probe = ("import errno, fcntl, os, termios\n"
             "st = os.fstat(0)\n"
             "try:\n    os.close(os.open('/dev/tty', os.O_RDWR)); devtty = 'ok'\n"
             "except OSError as e:\n    devtty = errno.errorcode[e.errno]\n"
             "try:\n    fcntl.ioctl(0, termios.TIOCSTI, b'x'); sti = 'ok'\n"
             "except OSError as e:\n    sti = errno.errorcode[e.errno]\n"
             "print(f'STDIN {st.st_dev}:{st.st_ino} devtty={devtty} tiocsti={sti} end')\n")
    term = CallerTerminal(ctx)
    caller = os.fstat(term.slave)
    caller_id = f"{caller.st_dev}:{caller.st_ino}"

    def parse(r):
        for line in r.out.splitlines():
            if line.startswith("STDIN ") and line.rstrip().endswith(" end"):
                return line.split()
        raise AssertionError(f"[{ctx.mode}] no probe line: {r}")

    r = term.run(["--tty=never"], ["python3", "-c", probe])
    fields = parse(r)
    expect(r.rc == 0 and fields[1] == caller_id,
           f"--tty=never: stdin should be the caller's terminal {caller_id}: {r}")
    expect(fields[2] == "devtty=ENXIO" and fields[3] == "tiocsti=EPERM",
           f"--tty=never lost a protection: {fields}")

    r = term.run([], ["python3", "-c", probe])
    fields = parse(r)
    expect(r.rc == 0 and fields[1] != caller_id,
           f"default: stdin is still the caller's terminal {caller_id}: {r}")
    expect(fields[2] == "devtty=ok" and fields[3] == "tiocsti=EPERM",
           f"default: the sandbox's pty should be the controlling terminal, TIOCSTI still "
           f"refused: {fields}")

    for bad in ("yes", "", "AUTO", "never,always"):
        b = ctx.stockade("run", f"--tty={bad}", "--", "true")
        lines = b.err.strip().splitlines()
        expect(b.returncode == 125 and len(lines) == 1 and "--tty" in lines[0],
               f"--tty={bad!r}: expected one line and exit 125: {b}")


def test_tty_input_reaches_the_command(ctx):
    """What the caller types reaches the command through the sandbox's pty (which is its
    controlling terminal: /dev/tty opens); the caller's terminal is raw meanwhile and has its
    settings back afterwards. With --tty=always and a pipe as stdin, the end of the input is
    forwarded as VEOF (also after a last line without a newline)."""
    term = CallerTerminal(ctx)
    raw_seen = []
    script = ("tty; echo ready; read x; echo got:$x; read y </dev/tty; echo tty-got:$y; "
              "echo via-dev-stdout >/dev/stdout")

    def check_raw_and_type(t):
        raw_seen.append(t.is_raw())
        os.write(t.master, b"hello world\r")

    r = term.run([], script, steps=[("ready", check_raw_and_type), ("got:", b"second line\r")])
    expect(r.rc == 0 and "got:hello world" in r.out and "tty-got:second line" in r.out,
           f"[{ctx.mode}] typed input did not reach the command: {r}")
    expect("/dev/pts/0" in r.out and "via-dev-stdout" in r.out,
           f"the command's stdin is not the sandbox's pty, or /dev/stdout did not open: {r}")
    expect(raw_seen == [True], f"the caller's terminal was not raw during the run: {raw_seen}")
    term.assert_settings_kept("typed input")

    # Piped input with the terminal on stdout: the pty is stdout and stderr, but the pipe is
    # passed as it is, not through a line discipline (every byte value, ^C and ^D included,
    # and a line longer than a terminal's 4 KiB line buffer).
    data = bytes(range(256)) * 64 + b"x" * 10000 + b"\n"
    r = term.run([], "sha256sum; [ -t 0 ] || echo stdin-not-a-terminal; [ -t 1 ] && "
                     "echo stdout-is-a-terminal", stdin_data=data)
    expect(r.rc == 0 and hashlib.sha256(data).hexdigest() in r.out and
           "stdin-not-a-terminal" in r.out and "stdout-is-a-terminal" in r.out,
           f"[{ctx.mode}] piped input with a terminal on stdout: {r}")
    term.assert_settings_kept("piped input")

    p = ctx.stockade("run", "--tty=always", "--", "sh", "-c", "cat; echo cat-ended",
                     input=b"line one\nlast line without newline", timeout=30)
    expect(p.returncode == 0 and "cat-ended" in p.out and "last line without newline" in p.out,
           f"[{ctx.mode}] --tty=always with a pipe: the end of input was not forwarded: {p}")


def test_tty_ctrl_c_goes_through_the_pty(ctx):
    """^C typed by the caller is a keystroke for the sandbox's line discipline: it interrupts
    the command inside (exit 130) and no host process on the caller's terminal gets SIGINT
    (no double delivery); the caller's settings are restored."""
    term = CallerTerminal(ctx)
    # Not `sh -c 'echo ready; sleep 30'`: dash -c catches SIGINT and, when it arrives before
    # sleep is forked, acts on it only once sleep has ended. This program has SIGINT's default
    # action from before it says ready.
    waiter = ("import signal, time\n"
              "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
              "print('ready', flush=True)\n"
              "time.sleep(30)\n"
              "print('not-interrupted')\n")
    r = term.run([], ["python3", "-c", waiter], steps=[("ready", b"\x03")])
    expect(r.rc == 130 and "not-interrupted" not in r.out,
           f"[{ctx.mode}] ^C did not interrupt the command: {r}")
    expect(r.signals() == [], f"SIGINT reached the caller's side (a host process): {r}")
    term.assert_settings_kept("^C")


def test_tty_settings_restored_on_every_exit(ctx):
    """The caller's settings come back after a --timeout kill, after SIGTERM to stockade, and
    after a command that cannot be executed (the error line then prints on a cooked
    terminal: \\n becomes \\r\\n again)."""
    term = CallerTerminal(ctx)
    r = term.run(["--timeout", "1"], "stty -echo; echo ready; sleep 30")
    expect(r.rc == 124, f"[{ctx.mode}] timeout: {r}")
    term.assert_settings_kept("--timeout")

    def terminate(t):
        with open(t.record) as f:
            stockade_pid = int(next(x for x in f if x.startswith("pid ")).split()[1])
        os.kill(stockade_pid, signal.SIGTERM)

    r = term.run([], "stty -echo; echo ready; sleep 30", steps=[("ready", terminate)])
    expect(r.rc == 143, f"[{ctx.mode}] SIGTERM to stockade: {r}")
    term.assert_settings_kept("SIGTERM to stockade")

    r = term.run([], ["/nonexistent/command"])
    expect(r.rc == 127, f"[{ctx.mode}] exec failure: {r}")
    term.assert_settings_kept("exec failure")
    expect(re.search(r"stockade: [^\r\n]*command not found[^\r\n]*\r\n", r.out),
           f"the exec failure's message was not printed on a cooked terminal: {r}")


def test_tty_stderr_terminal_is_relayed(ctx):
    """stdin and stdout are pipes, stderr is the caller's terminal: no pty (auto), but the
    terminal does not reach the sandbox either: stderr is a pipe inside, its output still
    reaches the caller's terminal, and the caller's settings cannot be changed through it."""
    term = CallerTerminal(ctx)
    p = ctx.popen([ctx.stockade_path, "run", "--", "sh", "-c",
                   "stty -echo intr '^A' <&2; [ -t 2 ] && echo fd2-is-terminal; "
                   "echo to-stderr >&2; echo to-stdout"],
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=term.slave)
    out, _ = p.communicate(timeout=30)
    shown = b""
    while select.select([term.master], [], [], 0.2)[0]:
        shown += os.read(term.master, 65536)
    expect(p.returncode == 0 and out == b"to-stdout\n",
           f"[{ctx.mode}] exit {p.returncode}, stdout {out!r}, terminal {shown!r}")
    expect(b"to-stderr" in shown, f"stderr did not reach the caller's terminal: {shown!r}")
    term.assert_settings_kept("stty through stderr")
