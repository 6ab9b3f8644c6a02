"""Long-lived sandboxes (issue 14; README "Long-lived sandboxes"): `run -d` returns once the
sandbox runs, `exec` runs a command in it through its PID 1 (the same uid, capabilities,
no_new_privs, seccomp, Landlock domain and namespaces as the first command), exit statuses and
signals come back, `ps`/`inspect`/`logs` show it, `stop` and `rm` end and remove it, and a
supervisor killed with SIGKILL takes the sandbox with it. Each test has its own
STOCKADE_HOME."""
import json
import os
import shutil
import signal
import subprocess
import time

import harness
from harness import expect


class Boxes(harness.Home):
    """harness.Home, with run -d and the supervisor's pid."""

    def start(self, *args):
        r = self.cli("run", "-d", *args, timeout=30)
        expect(r.returncode == 0 and r.out.strip(), f"run -d {args}: {r}")
        return r.out.strip()

    def supervisor(self, name):
        with open(os.path.join(self.home, "sandboxes", name, "state.json")) as f:
            return json.load(f)["supervisor_pid"]

    def pid1(self, name):
        """PID 1's host pid: the supervisor's child in a PID namespace of its own."""
        supervisor = self.supervisor(name)
        own = os.stat(f"/proc/{supervisor}/ns/pid").st_ino
        with open(f"/proc/{supervisor}/task/{supervisor}/children") as f:
            inside = [int(c) for c in f.read().split()
                      if os.stat(f"/proc/{c}/ns/pid").st_ino != own]
        expect(len(inside) == 1, f"PID 1 among the supervisor's children: {inside}")
        return inside[0]


def _pidns_members(pid):
    """Host pids of every process in pid's PID namespace."""
    ns = os.stat(f"/proc/{pid}/ns/pid").st_ino
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}/ns/pid").st_ino == ns:
                    out.append(int(name))
            except OSError:
                pass
    return out


LAYERS = ("{ id -u; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "
          "/proc/self/status; for n in user mnt pid net ipc uts cgroup; do "
          "readlink /proc/self/ns/$n; done; cat /proc/self/attr/current 2>/dev/null; "
          "touch /etc/x 2>&1 | sed 's/.*: //'; echo done; }")


def expect_only_pid1_left(b, name, message):
    """Within 5 s, sandbox name holds its PID 1 alone (its execs' processes gone)."""
    deadline = time.time() + 5
    while time.time() < deadline and b.ps()[name]["processes"] > 1:
        time.sleep(0.05)
    expect(b.ps()[name]["processes"] == 1, f"{message}: {b.ps()}")


def test_lifecycle_and_the_layers_of_an_exec(ctx):
    b = Boxes(ctx)
    # the first command records its layers, then waits
    name = b.start("--name", "life", "--", "sh", "-c", LAYERS + " > /tmp/first; exec sleep 60")
    expect(name == "life", name)
    listed = b.ps()
    expect(listed["life"]["status"] == "running" and listed["life"]["processes"] >= 2,
           f"{listed}")
    time.sleep(0.3)
    first = b.cli("exec", "life", "--", "cat", "/tmp/first")
    mine = b.cli("exec", "life", "--", "sh", "-c", LAYERS)
    expect(first.returncode == 0 and mine.returncode == 0, f"{first}\n{mine}")
    expect(first.out == mine.out, f"an exec's layers differ from the first command's:\n"
                                  f"{first.out}\n{mine.out}")
    expect("NoNewPrivs:\t1" in mine.out and "Seccomp:\t2" in mine.out and
           "CapEff:\t0000000000000000" in mine.out and mine.out.startswith("10001\n"),
           mine.out)
    # exit statuses, stdin, environment, workdir, command not found
    r = b.cli("exec", "life", "--", "sh", "-c", "exit 7")
    expect(r.returncode == 7, f"{r}")
    r = b.cli("exec", "-i", "-e", "A=1", "-w", "/tmp", "life", "--", "sh", "-c",
              "read x; echo $x $A $(pwd)", input=b"hello\n")
    expect(r.returncode == 0 and r.out == "hello 1 /tmp\n", f"{r}")
    r = b.cli("exec", "life", "--", "no-such-command")
    expect(r.returncode == 127 and "not found" in r.err, f"{r}")
    r = b.cli("exec", "life", "--", "/etc/passwd")
    expect(r.returncode == 126 and "Permission denied" in r.err, f"{r}")
    r = b.cli("exec", "life", "--", "sh", "-c", "kill -TERM $$")
    expect(r.returncode == 128 + 15, f"{r}")
    # the name is taken while it lives
    r = b.cli("run", "-d", "--name", "life", "--", "true")
    expect(r.returncode == 125 and "exists and is running" in r.err, f"{r}")
    r = b.cli("rm", "life")
    expect(r.returncode == 125 and "is running" in r.err, f"{r}")
    # stop: SIGTERM to everything; sleep dies of it, the sandbox ends, nothing is left
    supervisor = b.supervisor("life")
    r = b.cli("stop", "-t", "5", "life")
    expect(r.returncode == 0, f"{r}")
    expect(not os.path.exists(f"/proc/{supervisor}") or
           open(f"/proc/{supervisor}/stat").read().split()[2] == "Z", "the supervisor lives")
    listed = b.ps()
    expect(listed["life"]["status"] == "exited" and
           listed["life"]["exit"]["signal"] == 15, f"{listed}")
    r = b.cli("exec", "life", "--", "true")
    expect(r.returncode == 125 and "not running" in r.err, f"{r}")
    r = b.cli("rm", "life")
    expect(r.returncode == 0 and b.ps() == {}, f"{r}")
    expect(os.listdir(os.path.join(b.home, "sandboxes")) == [], "rm left something")
    # the name can be used again
    expect(b.start("--name", "life", "--", "true") == "life", "reuse")


def test_logs_and_a_sandbox_without_a_command(ctx):
    b = Boxes(ctx)
    name = b.start("--", "sh", "-c", "echo out; echo err >&2; exec sleep 60")
    expect(name and "-" in name, f"a made-up name: {name!r}")
    time.sleep(0.3)
    r = b.cli("logs", name)
    expect(r.returncode == 0 and sorted(r.out.split()) == ["err", "out"], f"{r}")
    r = b.cli("rm", "-f", name)
    expect(r.returncode == 0 and name not in b.ps(), f"{r}")
    # no command: PID 1 waits for execs until stopped
    idle = b.start("--name", "idle")
    r = b.cli("exec", "idle", "--", "sh", "-c", "echo $$; ps -o pid= -p 1 >/dev/null; echo ok")
    expect(r.returncode == 0 and r.out.split()[-1] == "ok", f"{r}")
    r = b.cli("stop", "idle")
    expect(r.returncode == 0 and b.ps()["idle"]["status"] == "exited", f"{r}")


def test_signals_timeout_and_a_gone_client(ctx):
    b = Boxes(ctx)
    b.start("--name", "sig")
    # SIGTERM to the exec client goes to the exec'd command
    p = ctx.popen([ctx.stockade_path, "exec", "sig", "--", "sh", "-c",
                   "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done"],
                  env=b.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "the exec did not start")
    p.send_signal(signal.SIGTERM)
    r = harness.finish(p, timeout=20)
    expect(r.returncode == 3 and "got-term" in r.out, f"{r}")
    r = b.cli("exec", "--timeout", "0.5", "sig", "--", "sleep", "30", timeout=20)
    expect(r.returncode == 124, f"{r}")
    # a client killed with SIGKILL: its exec goes with it
    p = ctx.popen([ctx.stockade_path, "exec", "sig", "--", "sh", "-c",
                   "echo ready; exec sleep 300"], env=b.env, stdout=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "the exec did not start")
    p.kill()
    p.wait()
    expect_only_pid1_left(b, "sig", "the exec outlived its client")
    # rm -f of a busy sandbox: the running exec ends with it, nothing of it is left
    p = ctx.popen([ctx.stockade_path, "exec", "sig", "--", "sh", "-c",
                   "echo ready; exec sleep 300"], env=b.env, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "the exec did not start")
    supervisor = b.supervisor("sig")
    r = b.cli("rm", "-f", "sig")
    expect(r.returncode == 0 and "sig" not in b.ps(), f"rm -f: {r}")
    r = harness.finish(p, timeout=20)
    expect(r.returncode == 125 and "ended during the exec" in r.err, f"{r}")
    expect(not os.path.exists(f"/proc/{supervisor}") or
           open(f"/proc/{supervisor}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
           "the supervisor outlived rm -f")


def test_exec_timeout_holds_when_pid1_never_answers(ctx):
    """`exec --timeout` is a bound even when PID 1 (the workload's, if it took PID 1 over)
    never answers: the client sends its SIGKILL, waits a short grace for the end, then exits
    124 with one line on stderr instead of waiting forever (mcp and CI callers rely on the
    bound). PID 1 is stopped from the host here, so it neither starts the exec nor answers.
    Resumed, it still ends the exec it then starts: its caller and answer pipe are gone."""
    b = Boxes(ctx)
    b.start("--name", "mute")
    pid1 = b.pid1("mute")
    os.kill(pid1, signal.SIGSTOP)
    # Its stdio: files, not pipes (the request holds copies of the client's fds 0-2 in PID 1's
    # socket queue, so a pipe would not end with the client).
    err = os.path.join(b.home, "mute.err")
    try:
        started = time.time()
        with open(err, "wb") as f:
            p = ctx.popen([ctx.stockade_path, "exec", "--timeout", "1", "mute", "--", "sleep",
                           "300"], env=b.env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=f)
        try:
            code = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            code = f"still waiting after 30 s (killed: {p.wait()})"
        took = time.time() - started
    finally:
        os.kill(pid1, signal.SIGCONT)
    with open(err) as f:
        said = f.read()
    expect(code == 124 and said.count("\n") == 1 and said.startswith("stockade: "),
           f"exec --timeout with a mute PID 1: {code} {said!r}")
    expect(took < 15, f"the bound took {took:.1f} s")
    expect_only_pid1_left(b, "mute", "the exec outlived its caller")
    expect(b.cli("rm", "-f", "mute").returncode == 0, "rm -f")


def test_a_forged_exec_end_cannot_write_to_the_callers_terminal(ctx):
    """The exec's end comes from PID 1 (through the answer pipe; or the supervisor, passed on
    as is), which the workload may have taken over: its error text must not reach the
    caller's terminal raw. A stand-in for the sandbox's side (the dead sandbox's control.sock,
    rebound here) writes a SYNC_EXEC_DONE into the client's answer pipe whose err fields carry
    escape sequences and no terminating NUL: the client prints one line of printable
    characters, within its fields, and exits 125."""
    import socket
    import struct
    import threading
    b = Boxes(ctx)
    b.start("--name", "forged")
    os.kill(b.supervisor("forged"), signal.SIGKILL)
    deadline = time.time() + 5
    while time.time() < deadline and b.ps()["forged"]["status"] != "dead":
        time.sleep(0.05)
    sock = os.path.join(b.home, "sandboxes", "forged", "control.sock")
    os.unlink(sock)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(sock)
    os.chmod(sock, 0o666)
    server.listen(1)
    evil = (b"\x1b]0;owned\x07" + b"L" * 24)[:24]
    evil_op = (b"\x1b[2J\x1b[31m" + b"O" * 384)[:384]
    evil_hint = (b"\x07\x1b[8m" + b"H" * 768)[:768]
    done = (struct.pack("<IiqIiq", 11, 0, 0, 0, 0, 0) + evil + evil_op +
            struct.pack("<i", 0) + evil_hint + struct.pack("<i", 0))
    expect(len(done) == 1216, "struct sync_msg is 1216 bytes")
    seen = {}

    def serve():
        conn, _ = server.accept()
        conn.settimeout(10)
        for _ in range(2):
            msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
            seen.setdefault("fds", []).append(len(fds))
            if len(fds) == 1:
                os.write(fds[0], done)
            for fd in fds:
                os.close(fd)
        conn.recv(16)  # until the client hangs up
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r = b.cli("exec", "forged", "--", "true", timeout=20)
    t.join(10)
    server.close()
    expect(seen.get("fds") == [3, 1], f"the stand-in got the request and the pipe: {seen}")
    raw = r.err.encode("utf-8", "surrogateescape")
    bad = sorted({c for c in raw[:-1] if c < 0x20 or c == 0x7f})
    expect(r.returncode == 125 and raw.endswith(b"\n") and not bad and
           raw.count(b"\n") == 1 and len(raw) < 1300,
           f"a forged end reached the terminal raw (control bytes {bad}): {r.returncode} {raw!r}")


def _stat(pid):
    """(state, ppid, pgrp, session, tty_nr) of /proc/PID/stat, as the reader's namespace
    numbers them."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])


def test_an_exec_is_a_process_group_in_pid1s_session(ctx):
    """An exec without -t is a process group of its own in PID 1's session, not a session of
    its own (a session per command is a scheduler autogroup per command: bench/README.md,
    "Where an exec's time goes"); -t keeps its own session, the sandbox's pty as its
    controlling terminal. Inside and from the host; a signal to the client still reaches the
    exec's whole group."""
    b = Boxes(ctx)
    b.start("--name", "grp")
    pid1 = b.pid1("grp")
    stat = "cut -d' ' -f5,6,7 /proc/$$/stat; echo $$"
    r = b.cli("exec", "grp", "--", "sh", "-c", stat)
    expect(r.returncode == 0, f"{r}")
    pgrp, session, tty, pid = (int(x) for x in r.out.split())
    expect(pgrp == pid and session == 1 and tty == 0,
           f"inside: pgrp {pgrp}, session {session}, tty {tty} of pid {pid}")
    r = b.cli("exec", "-t", "grp", "--", "sh", "-c", stat)
    expect(r.returncode == 0, f"{r}")
    pgrp, session, tty, pid = (int(x) for x in r.out.split())
    expect(pgrp == pid and session == pid and tty != 0,
           f"-t inside: pgrp {pgrp}, session {session}, tty {tty} of pid {pid}")
    # From the host: the command (here `sleep`, its shell exec'd into it) leads its group, in
    # the session PID 1 leads.
    p = ctx.popen([ctx.stockade_path, "exec", "grp", "--", "sh", "-c",
                   "sleep 300 & sleep 301 & echo ready; wait"], env=b.env,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "the exec did not start")
    members = {m: _stat(m) for m in _pidns_members(pid1) if m != pid1}
    leaders = [m for m, st in members.items() if st[2] == m]
    expect(len(leaders) == 1 and len(members) == 3, f"the exec's processes: {members}")
    expect(all(st[2] == leaders[0] and st[3] == pid1 for st in members.values()),
           f"from the host: one group in PID 1's session ({pid1}): {members}")
    # SIGTERM to the client: the shell and both of its children end (only the shell, and
    # the two sleeps would stay behind as PID 1's).
    p.send_signal(signal.SIGTERM)
    r = harness.finish(p, timeout=20)
    expect(r.returncode == 128 + signal.SIGTERM, f"{r}")
    expect_only_pid1_left(b, "grp", "the signal missed part of the group")
    expect(b.cli("rm", "-f", "grp").returncode == 0, "rm -f")


def test_a_signal_as_the_request_goes_is_the_commands(ctx):
    """A SIGTERM to `stockade exec` once its request is on its way reaches the command: the
    client blocks its signals before it sends, not after, so there is no moment where the
    command runs and the signal ends the client instead (its status lost, the command
    killed by the supervisor later). strace holds the client in the request's second send
    (the body) for 300 ms; the command says it runs meanwhile, then the client gets SIGTERM."""
    strace = shutil.which("strace")
    if not strace:
        raise harness.Skip("strace is not installed (it holds the client in a send)")
    b = Boxes(ctx)
    b.start("--name", "early")
    p = ctx.popen([strace, "-o", "/dev/null", "-e", "trace=sendmsg", "-e",
                   "inject=sendmsg:delay_exit=300000:when=2", ctx.stockade_path, "exec",
                   "early", "--", "sh", "-c", "echo ready; exec sleep 30"], env=b.env,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "the exec did not start")
    with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
        client = [int(c) for c in f.read().split()]
    expect(len(client) == 1, f"strace's child: {client}")
    os.kill(client[0], signal.SIGTERM)
    r = harness.finish(p, timeout=20)
    expect(r.returncode == 128 + signal.SIGTERM,
           f"the client, not the command, took the SIGTERM: {r}")
    expect(b.cli("rm", "-f", "early").returncode == 0, "rm -f")


def test_supervisor_killed_takes_the_sandbox_with_it(ctx):
    b = Boxes(ctx)
    b.start("--name", "doomed", "--", "sleep", "300")
    p = ctx.popen([ctx.stockade_path, "exec", "doomed", "--", "sh", "-c",
                   "echo ready; exec sleep 300"], env=b.env, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "the exec did not start")
    supervisor = b.supervisor("doomed")
    members = [m for m in _pidns_members(supervisor) if m != supervisor]
    # PID 1 is the supervisor's child in its own namespace
    children = [int(c) for c in open(f"/proc/{supervisor}/task/{supervisor}/children")
                .read().split()]
    pid1 = [c for c in children if os.stat(f"/proc/{c}/ns/pid").st_ino !=
            os.stat(f"/proc/{supervisor}/ns/pid").st_ino]
    expect(len(pid1) == 1, f"PID 1 among {children}")
    inside = _pidns_members(pid1[0])
    expect(len(inside) >= 3, f"PID 1, sleep, the exec: {inside}")
    os.kill(supervisor, signal.SIGKILL)
    r = harness.finish(p, timeout=20)
    expect(r.returncode == 125 and "ended during the exec" in r.err, f"{r}")
    deadline = time.time() + 5
    while time.time() < deadline and any(os.path.exists(f"/proc/{m}") for m in inside):
        time.sleep(0.05)
    left = [m for m in inside if os.path.exists(f"/proc/{m}")]
    expect(not left, f"processes of the sandbox outlived its supervisor: {left}")
    del members
    expect(b.ps()["doomed"]["status"] == "dead", f"{b.ps()}")
    r = b.cli("exec", "doomed", "--", "true")
    expect(r.returncode == 125 and "not running" in r.err, f"{r}")
    r = b.cli("rm", "doomed")
    expect(r.returncode == 0 and b.ps() == {}, f"{r}")


def test_refusals_leave_nothing(ctx):
    b = Boxes(ctx)
    for args, needle in ((["--name", "bad/name", "--", "true"], "invalid sandbox name"),
                         (["--name", "x", "--rootfs", "/nonexistent", "--", "true"],
                          "--rootfs"),
                         (["--name", "y", "--", "/no/such/program"], "not found")):
        r = b.cli("run", "-d", *args)
        expect(r.returncode in (125, 127) and needle in r.err and r.out == "", f"{args}: {r}")
        expect(b.ps() == {}, f"{args}: left {b.ps()}")
    r = b.cli("run", "--name", "z", "--", "true")
    expect(r.returncode == 125 and "--name without -d" in r.err, f"{r}")
    for cmd in (["exec", "nobody-here", "--", "true"], ["logs", "nobody-here"],
                ["stop", "nobody-here"], ["rm", "nobody-here"], ["inspect", "nobody-here"]):
        r = b.cli(*cmd)
        expect(r.returncode == 125 and "no sandbox nobody-here" in r.err, f"{cmd}: {r}")


def test_control_socket_refuses_another_uid(ctx):
    b = Boxes(ctx)
    b.start("--name", "mine")
    d = os.path.join(b.home, "sandboxes", "mine")
    # Open the way on disk (as a careless chmod would): the supervisor still checks who
    # connects (SO_PEERCRED), so another uid gets nothing.
    for path, mode in ((b.home, 0o755), (os.path.join(b.home, "sandboxes"), 0o755),
                       (d, 0o755), (os.path.join(d, "control.sock"), 0o666)):
        os.chmod(path, mode)
    # SYNC_INFO (src/sandbox/sync.h: kind 14) in a struct sync_msg of 1216 bytes. As the
    # unprivileged caller the home is below /tmp, reachable once opened as above.
    script = ("import socket, struct, sys\n"
              "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
              "s.connect(sys.argv[1])\n"
              "try:\n"
              "    s.send(struct.pack('<I', 14) + bytes(1212))\n"
              "    print('answer', len(s.recv(4096)))\n"
              "except (BrokenPipeError, ConnectionResetError):\n"
              "    print('answer 0')\n")
    sock = os.path.join(d, "control.sock")
    r = subprocess.run(ctx.wrap(["python3", "-c", script, sock]), capture_output=True,
                       text=True, timeout=20)
    expect(r.stdout.strip() == "answer 1216", f"the owner must be answered: {r}")
    other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    r = subprocess.run(other + ["python3", "-c", script, sock], capture_output=True, text=True,
                       timeout=20)
    expect(r.returncode == 0 and r.stdout.strip() == "answer 0", f"nobody was answered: {r}")
    for path in (b.home, os.path.join(b.home, "sandboxes"), d):
        os.chmod(path, 0o700)
    r = b.cli("rm", "-f", "mine")
    expect(r.returncode == 0, f"rm -f: {r}")


# A client of the control socket speaking the protocol itself (src/sandbox/sync.h): one
# SYNC_EXEC_REQ (kind 9; struct sync_msg, 1216 bytes: kind, wait_status, max_rss_kb, exec_id,
# pid, value, then struct sk_err) with fds 0-2, then the body (service.h). Prints the kinds of
# the messages that come back, up to SYNC_EXEC_DONE (11), and that one's wait status.
RAW_EXEC = """
import os, select, socket, struct, sys
sock, value, kind, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sock)
null = os.open("/dev/null", os.O_RDWR)
req = struct.pack("<IiqIiq", 9, 0, 0, 0, 0, value) + bytes(1216 - 32)
socket.send_fds(s, [req], [null, null, null])
body = (kind[0] + "\\0\\0").encode() + b"\\0".join(
    x.encode() for x in [str(len(argv))] + argv + ["0"]) + b"\\0"
if kind.endswith("+pipe"):   # the answer pipe's write end attached to the body
    answer, w = os.pipe()
    socket.send_fds(s, [body], [w])
    os.close(w)
else:
    answer = None
    s.send(body)
kinds, piped, status = [], None, None
while status is None:
    ready = select.select([s] + ([answer] if answer is not None and piped is None else []),
                          [], [], 20)[0]
    if not ready:
        sys.exit("no answer in 20 s: " + " ".join(map(str, kinds)))
    if answer in ready:
        got = os.read(answer, 4096)
        piped = str(struct.unpack_from("<I", got)[0]) if len(got) == 1216 else "EOF"
        if piped == "11":
            status = struct.unpack_from("<Ii", got)[1]
        continue
    msg, fds, _, _ = socket.recv_fds(s, 4096, 4)
    for fd in fds:
        os.close(fd)
    if not msg:
        sys.exit("the connection ended before SYNC_EXEC_DONE: " + " ".join(map(str, kinds)))
    kinds.append(struct.unpack_from("<I", msg)[0])
    if kinds[-1] == 11:
        status = struct.unpack_from("<Ii", msg)[1]
if answer is not None and piped is None and select.select([answer], [], [], 2)[0]:
    piped = "EOF" if not os.read(answer, 4096) else "more"
if piped == "11" and select.select([s], [], [], 0.5)[0]:   # the supervisor must not answer too
    kinds.append("then " + str(struct.unpack_from("<I", s.recv(4096) or bytes(4))[0]))
print(" ".join(map(str, kinds)), "| pipe", piped, "|", status)
"""


# A caller that gives up its answer pipe's read end while its connection stays open: the pipe's
# reader gone is the caller gone, for PID 1 (src/sandbox/sync.h).
DROP_PIPE = """
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
null = os.open("/dev/null", os.O_RDWR)
socket.send_fds(s, [struct.pack("<IiqIiq", 9, 0, 0, 0, 0, 1) + bytes(1216 - 32)],
                [null, null, null])
answer, w = os.pipe()
socket.send_fds(s, [b"-\\0\\0" + b"2\\0sleep\\0" + b"300\\0" + b"0\\0"], [w])
os.close(w)
print("sent", flush=True)
sys.stdin.readline()
os.close(answer)
print("dropped", flush=True)
sys.stdin.readline()
"""


def test_exec_answers_only_at_the_end_when_asked(ctx):
    """SYNC_EXEC_DONE_ONLY (the request's value 1, what `stockade exec` sends): PID 1 answers
    with SYNC_EXEC_DONE alone, the wait status in it, no SYNC_EXEC_BEGUN first (one message
    less each way through the supervisor); without it (stockade serve, cp) SYNC_EXEC_BEGUN
    still comes first. A command that could not start is one SYNC_EXEC_DONE either way (its
    error in err, status 0)."""
    b = Boxes(ctx)
    b.start("--name", "raw")
    sock = os.path.join(b.home, "sandboxes", "raw", "control.sock")
    for value, argv, want in ((1, ["sh", "-c", "exit 3"], "11 | pipe None | 768"),
                              (0, ["sh", "-c", "exit 3"], "10 11 | pipe None | 768"),
                              (1, ["sh", "-c", "kill -9 $$"], "11 | pipe None | 9"),
                              (1, ["/nonexistent"], "11 | pipe None | 0"),
                              (0, ["/nonexistent"], "11 | pipe None | 0")):
        r = subprocess.run(ctx.wrap(["python3", "-c", RAW_EXEC, sock, str(value), "-"] + argv),
                           capture_output=True, text=True, timeout=20)
        expect(r.returncode == 0 and r.stdout.strip() == want,
               f"value {value}, {argv}: want {want!r}, got {r.stdout!r} {r.stderr!r}")
    expect(b.cli("rm", "-f", "raw").returncode == 0, "rm -f")


def _fd_links(pid):
    """{fd: readlink} of a process (as root: PID 1 is not dumpable)."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def test_exec_answer_comes_through_the_callers_pipe(ctx):
    """The answer pipe (src/sandbox/sync.h): a caller that asks for the end only
    (SYNC_EXEC_DONE_ONLY) of a plain command and attaches a pipe's write end to its request gets
    SYNC_EXEC_DONE in the pipe, from PID 1, and nothing through the supervisor (which is not
    woken for it); a caller whose pipe's reader goes loses its exec, its connection still open.
    The supervisor closes the pipe unused for anything else (-t, whose end follows its pty's
    master; a caller that reads BEGUN), which then answers as before. While an exec of
    `stockade exec` runs,
    PID 1 holds the write end of a pipe whose read end the client holds, and no socket but the
    one to its supervisor: no connection to a host process. The exec'd command holds neither
    (fds 0-2 only)."""
    b = Boxes(ctx)
    b.start("--name", "pipe")
    sock = os.path.join(b.home, "sandboxes", "pipe", "control.sock")
    for value, kind, argv, want in (
            (1, "-+pipe", ["sh", "-c", "exit 5"], ["| pipe 11 | 1280"]),
            (1, "-+pipe", ["sh", "-c", "kill -9 $$"], ["| pipe 11 | 9"]),
            (1, "-+pipe", ["/nonexistent"], ["| pipe 11 | 0"]),
            (0, "-+pipe", ["sh", "-c", "exit 5"], ["10 11 | pipe EOF | 1280"]),
            # -t: BEGUN (its pty's master, closed here at once: the command may die of the
            # SIGHUP) then DONE, both through the supervisor
            (1, "t+pipe", ["sh", "-c", "exit 5"], ["10 11 | pipe EOF | 1280",
                                                   "10 11 | pipe EOF | 1"]),
            (1, "t+pipe", ["/nonexistent"], ["11 | pipe EOF | 0"])):
        r = subprocess.run(ctx.wrap(["python3", "-c", RAW_EXEC, sock, str(value), kind] + argv),
                           capture_output=True, text=True, timeout=30)
        expect(r.returncode == 0 and r.stdout.strip() in want,
               f"{value} {kind} {argv}: want {want}, got {r.stdout!r} {r.stderr!r}")
    # A caller whose pipe's reader goes (its connection still open) loses its exec: PID 1
    # ends it, the supervisor, which saw no hangup, does not need to.
    pid1 = b.pid1("pipe")

    def sleeps():
        out = []
        for pid in _pidns_members(pid1):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "sleep":
                        out.append(pid)
            except OSError:
                pass
        return out

    p = ctx.popen(["python3", "-c", DROP_PIPE, sock], stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"sent\n", "the raw client did not send")
    deadline = time.time() + 10
    while time.time() < deadline and not sleeps():
        time.sleep(0.02)
    expect(len(sleeps()) == 1, f"the exec did not start: {sleeps()}")
    p.stdin.write(b"\n")
    p.stdin.flush()
    expect(p.stdout.readline() == b"dropped\n", "the raw client did not drop its pipe")
    deadline = time.time() + 5
    while time.time() < deadline and sleeps():
        time.sleep(0.02)
    left = sleeps()
    harness.finish(p, input=b"\n", timeout=10)
    expect(not left, f"the exec outlived its caller's answer pipe: {left}")
    # (no pipeline: the shell would hold its pipe meanwhile)
    r = b.cli("exec", "pipe", "--", "sh", "-c", "ls /proc/$$/fd")
    expect(r.returncode == 0 and r.out.split() == ["0", "1", "2"], f"the exec's fds: {r}")
    before = _fd_links(pid1)
    p = ctx.popen([ctx.stockade_path, "exec", "pipe", "--", "sh", "-c",
                   "echo ready; exec sleep 300"], env=b.env, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "the exec did not start")
    during = _fd_links(pid1)
    client = {link for fd, link in _fd_links(p.pid).items() if fd > 2}
    shared = [link for link in during.values() if link in client and link.startswith("pipe:")]
    expect(len(shared) == 1 and shared[0].startswith("pipe:"),
           f"PID 1 and the client share {shared}: PID 1 {during}, the client {client}")
    sockets = [link for link in during.values() if link.startswith("socket:")]
    expect(len(sockets) == 1 and sockets == [link for link in before.values()
                                             if link.startswith("socket:")],
           f"PID 1's sockets while an exec runs: {sockets} (before: {before})")
    p.send_signal(signal.SIGTERM)
    r = harness.finish(p, timeout=20)
    expect(r.returncode == 128 + signal.SIGTERM, f"{r}")
    # (PID 1 closes it right after writing; the client may have read it first.)
    def kept():
        return [link for link in _fd_links(pid1).values() if link.startswith("pipe:") and
                link not in before.values()]
    deadline = time.time() + 5
    while time.time() < deadline and kept():
        time.sleep(0.02)
    expect(not kept(), f"PID 1 kept the answer pipe after the exec: {kept()}")
    expect(b.cli("rm", "-f", "pipe").returncode == 0, "rm -f")


# A caller that attaches something other than an anonymous pipe's write end as its answer
# pipe: a named FIFO of the host (opened write-only, its reader held open), a socket, a
# pipe's read end, an O_PATH fd of a FIFO. Prints, for each, where the SYNC_EXEC_DONE came
# from ("conn" or "fifo": the attached fd itself) and whether it was the supervisor's refusal.
ODD_ANSWER = """
import os, select, socket, struct, sys, tempfile
sock = sys.argv[1]
d = tempfile.mkdtemp()
fifo = os.path.join(d, "answer")
os.mkfifo(fifo, 0o600)
reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
r, w = os.pipe()
odd = {"fifo": (os.open(fifo, os.O_WRONLY), reader), "socket": (a.fileno(), b.fileno()),
       "readend": (r, w), "opath": (os.open(fifo, os.O_PATH), reader)}
null = os.open("/dev/null", os.O_RDWR)
for name, (give, watch) in odd.items():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock)
    socket.send_fds(s, [struct.pack("<IiqIiq", 9, 0, 0, 0, 0, 1) + bytes(1216 - 32)],
                    [null, null, null])
    socket.send_fds(s, [b"-\\0\\0" + b"3\\0sh\\0-c\\0exit 7\\0" + b"0\\0"], [give])
    got = None
    while got is None:
        ready = select.select([s, watch], [], [], 20)[0]
        if not ready:
            sys.exit(name + ": no answer in 20 s")
        if s in ready:
            msg = s.recv(4096)
            if not msg or struct.unpack_from("<I", msg)[0] == 11:
                got = ("conn", msg)
        elif watch in ready:
            try:
                msg = os.read(watch, 4096)
            except BlockingIOError:
                continue
            if len(msg) == 1216 and struct.unpack_from("<I", msg)[0] == 11:
                got = ("fifo", msg)
    print(name, got[0], "refused" if b"malformed exec request" in got[1] else
          "status %d" % struct.unpack_from("<Ii", got[1])[1])
    s.close()
os.unlink(fifo)
os.rmdir(d)
"""


def test_an_answer_pipe_is_an_anonymous_pipe_only(ctx):
    """The answer pipe goes to PID 1, which a hostile workload may have taken over: it must be
    an anonymous pipe's write end, nothing else. A named FIFO of the host passed the old check
    (S_ISFIFO), and PID 1 then held an fd of the host's file system (its /proc magic link
    names a host path, and reopens that FIFO wherever the FIFO's mode lets the sandbox's uid).
    Each odd fd is refused (125's "malformed exec request", through the connection), the
    command is not run, and nothing comes through the fd itself."""
    b = Boxes(ctx)
    b.start("--name", "odd")
    sock = os.path.join(b.home, "sandboxes", "odd", "control.sock")
    r = subprocess.run(ctx.wrap(["python3", "-c", ODD_ANSWER, sock]), capture_output=True,
                       text=True, timeout=60)
    want = ["fifo conn refused", "socket conn refused", "readend conn refused",
            "opath conn refused"]
    expect(r.returncode == 0 and r.stdout.split("\n")[:-1] == want,
           f"odd answer fds: want {want}, got {r.stdout!r} {r.stderr!r}")
    expect(b.cli("rm", "-f", "odd").returncode == 0, "rm -f")


def test_an_exec_while_the_sandbox_stops(ctx):
    """An exec that arrives while the sandbox stops (its first command still in its grace) is
    refused (125, one line) and nothing else happens: PID 1 used to read the refused request's
    body as the next message from the supervisor, take it for the supervisor's end, and kill
    the sandbox there and then, its first command's own end lost. An exec running when the
    stop comes gets the SIGTERM and its status back."""
    b = Boxes(ctx)
    b.start("--name", "ending", "--", "sh", "-c",
            "trap 'sleep 2; exit 0' TERM; sleep 300 & wait")
    running = ctx.popen([ctx.stockade_path, "exec", "ending", "--", "sh", "-c",
                         "echo ready; exec sleep 300"], env=b.env, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
    expect(running.stdout.readline() == b"ready\n", "the exec did not start")
    stop = ctx.popen([ctx.stockade_path, "stop", "-t", "10", "ending"], env=b.env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    r = harness.finish(running, timeout=20)
    expect(r.returncode == 128 + signal.SIGTERM, f"the running exec: {r}")
    r = b.cli("exec", "ending", "--", "true", timeout=20)
    harness.one_line_125(r, "the sandbox is stopping")
    r = harness.finish(stop, timeout=30)
    expect(r.returncode == 0, f"stop: {r}")
    listed = b.ps()["ending"]
    expect(listed["status"] == "exited" and listed["exit"]["code"] == 0 and
           listed["exit"]["signal"] is None, f"the first command's own end: {listed}")
    expect(b.cli("rm", "ending").returncode == 0, "rm")


def test_exec_tty_and_output_limit(ctx):
    import pty
    import select
    b = Boxes(ctx)
    b.start("--name", "term")
    # -t: a pty of the sandbox's own (its devpts), the controlling terminal, the window size
    # of the caller's terminal; -i relays the caller's input into it
    import fcntl
    import struct
    import termios
    pid, fd = pty.fork()
    if pid == 0:
        # the caller's window size, set before the client reads it
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        os.environ.update(b.env)
        os.execvp(ctx.wrap([ctx.stockade_path])[0], ctx.wrap([
            ctx.stockade_path, "exec", "-it", "term", "--", "sh", "-c",
            "tty; stty size; test -t 0 && echo stdin-tty; read x; echo got:$x; exit 3"]))
    time.sleep(0.5)
    os.write(fd, b"typed\n")
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    lines = out.decode().replace("\r", "").split("\n")
    expect(os.waitstatus_to_exitcode(status) == 3, f"exit {status}: {out!r}")
    expect(lines[0].startswith("/dev/pts/") and "33 101" in lines and "stdin-tty" in lines and
           "got:typed" in lines, f"{out!r}")
    # --output-limit per exec: killed past it, exit 153, no more than the limit passed on
    r = b.cli("exec", "--output-limit", "1k", "term", "--", "sh", "-c", "yes | head -c 100000")
    expect(r.returncode == 153 and len(r.out) == 1024 and "output limit" in r.err, f"{r}")
    r = b.cli("exec", "--output-limit", "1k", "term", "--", "echo", "small")
    expect(r.returncode == 0 and r.out == "small\n", f"{r}")
    expect(b.cli("rm", "-f", "term").returncode == 0, "rm -f")


def _tree(top):
    """{relative path: ('f', content) | ('l', target) | ('d',)} of a host tree."""
    out = {}
    for base, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                out[rel] = ("l", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("d",)
            else:
                with open(path) as f:
                    out[rel] = ("f", f.read())
    return out


def test_cp_both_ways(ctx):
    b = Boxes(ctx)
    b.start("--name", "files")
    src = os.path.join(ctx.tmpdir(), "src")
    os.makedirs(os.path.join(src, "sub"))
    with open(os.path.join(src, "a.txt"), "w") as f:
        f.write("alpha\n")
    with open(os.path.join(src, "sub", "b"), "w") as f:
        f.write("beta\n")
    os.chmod(os.path.join(src, "a.txt"), 0o640)
    os.symlink("a.txt", os.path.join(src, "link"))
    for base, dirs, files in os.walk(src):
        for n in [base] + [os.path.join(base, x) for x in dirs + files]:
            os.lchown(n, ctx.caller_uid, ctx.caller_gid)
    r = b.cli("cp", src, "files:/tmp")
    expect(r.returncode == 0, f"cp in: {r}")
    r = b.cli("exec", "files", "--", "sh", "-c",
              "stat -c '%n %a %u' /tmp/src/a.txt /tmp/src/sub/b; readlink /tmp/src/link; "
              "cat /tmp/src/link; ln -s /etc/passwd /tmp/src/abs; ln -s ../../.. /tmp/src/up")
    expect(r.returncode == 0 and r.out.split("\n")[:4] ==
           ["/tmp/src/a.txt 640 10001", "/tmp/src/sub/b 644 10001", "a.txt", "alpha"], f"{r}")
    dst = os.path.join(ctx.tmpdir(), "back")
    r = b.cli("cp", "files:/tmp/src", dst)
    expect(r.returncode == 0, f"cp out: {r}")
    got = _tree(dst)
    expect(got == {"a.txt": ("f", "alpha\n"), "sub": ("d",), "sub/b": ("f", "beta\n"),
                   "link": ("l", "a.txt")}, f"what came out: {got}")
    expect("skipped link abs -> /etc/passwd" in r.err and "skipped link up" in r.err, f"{r}")
    one = os.path.join(ctx.tmpdir(), "one")
    r = b.cli("cp", "files:/tmp/src/sub/b", one)
    expect(r.returncode == 0 and open(one).read() == "beta\n", f"a file: {r}")
    for args, needle in ((["files:/no/such", one], "/no/such"),
                         ([src, "files:/no/such/dir/x"], "no such directory"),
                         ([src, one], "one path in a sandbox"),
                         (["nobody-here:/x", one], "no sandbox nobody-here")):
        r = b.cli("cp", *args)
        expect(r.returncode == 125 and r.err.count("\n") == 1 and needle in r.err,
               f"{args}: {r}")
    expect(b.cli("rm", "-f", "files").returncode == 0, "rm -f")


def test_cp_a_file_through_stdin_and_stdout(ctx):
    """`cp - NAME:/path` makes stdin's bytes the file path (from a pipe or a regular file), and
    `cp NAME:/path -` writes a file's bytes to stdout: no host path at all (stockade mcp's
    read_file and write_file). A directory at either end is refused, and stdin's file is never
    put inside a directory of that name."""
    b = Boxes(ctx)
    b.start("--name", "bytes")
    data = bytes(range(256)) * 600 + b"\nend"  # binary, NULs, past a pipe's buffer
    r = b.cli("cp", "-", "bytes:/tmp/piped", input=data)
    expect(r.returncode == 0 and r.err == "", f"cp - from a pipe: {r}")
    src = os.path.join(ctx.tmpdir(), "regular")
    with open(src, "wb") as f:
        f.write(b"skip-me:" + data)
    with open(src, "rb") as f:
        f.seek(len(b"skip-me:"))  # from stdin's offset on, as cat would read it
        r = b.cli("cp", "-", "bytes:/tmp/regular", stdin=f)
    expect(r.returncode == 0, f"cp - from a regular file: {r}")
    for name in ("piped", "regular"):
        r = b.cli("cp", f"bytes:/tmp/{name}", "-")
        expect(r.returncode == 0 and r.raw_out == data, f"cp {name} -: {len(r.raw_out)} bytes, "
                                                        f"{r.err!r}")
    r = b.cli("exec", "bytes", "--", "sh", "-c", "stat -c '%a %u %s' /tmp/piped; ls /tmp")
    expect(r.out == f"644 10001 {len(data)}\npiped\nregular\n", f"inside: {r}")
    # a directory: refused at both ends, nothing made inside it
    r = b.cli("cp", "-", "bytes:/tmp", input=b"x")
    harness.one_line_125(r, "/tmp", "Is a directory")
    r = b.cli("cp", "bytes:/tmp", "-")
    harness.one_line_125(r, "/tmp", "copies one file to stdout")
    r = b.cli("exec", "bytes", "--", "ls", "/tmp")
    expect(r.out == "piped\nregular\n", f"cp - wrote into the directory: {r}")
    expect(b.cli("rm", "-f", "bytes").returncode == 0, "rm -f")


def test_cp_of_one_file_reads_the_stream_to_its_end(ctx):
    """A file's copy stream ends with an end record; the copier used to exit before reading
    it, and the host's last write then met a closed pipe (EPIPE: a copy that was made,
    reported failed, a few times in a hundred). Every copy of a file must succeed."""
    b = Boxes(ctx)
    b.start("--name", "ends")
    src = os.path.join(ctx.tmpdir(), "one")
    with open(src, "w") as f:
        f.write("x\n")
    os.chown(src, ctx.caller_uid, ctx.caller_gid)
    failed = []
    for i in range(150):
        for args, data in (([src, "ends:/tmp/one"], None), (["-", "ends:/tmp/two"], b"y\n")):
            r = b.cli("cp", *args, input=data)
            if r.returncode != 0:
                failed.append(r.err.strip())
    expect(not failed, f"{len(failed)} of 300 copies failed: {failed[:3]}")
    expect(b.cli("rm", "-f", "ends").returncode == 0, "rm -f")


def test_cp_out_never_follows_a_planted_link(ctx):
    """docker cp's CVE-2018-15664: the container swaps a path component for a symlink to / while
    the host copies. Here the host never resolves a sandbox path: the copier inside does, in the
    sandbox's own view, and the host copies beneath the directory it was handed, following no
    link. A marker only the host has must never come out."""
    b = Boxes(ctx)
    marker_dir = ctx.tmpdir(mode=0o700)
    marker = "host-only-" + os.urandom(8).hex()
    with open(os.path.join(marker_dir, "secret"), "w") as f:
        f.write(marker)
    b.start("--name", "racer", "--", "sh", "-c",
            "mkdir -p /tmp/r; while :; do rm -rf /tmp/r/d; mkdir /tmp/r/d; "
            "echo inside > /tmp/r/d/secret; rm -rf /tmp/r/d; "
            f"ln -s {marker_dir} /tmp/r/d; done")
    outs = ctx.tmpdir()
    for i in range(40):
        for src in ("racer:/tmp/r", "racer:/tmp/r/d", "racer:/tmp/r/d/secret"):
            dst = os.path.join(outs, f"{i}-{src.rsplit('/', 1)[1]}")
            b.cli("cp", src, dst)
    found = []
    for base, dirs, files in os.walk(outs):
        for name in files:
            path = os.path.join(base, name)
            if not os.path.islink(path) and marker in open(path, errors="replace").read():
                found.append(path)
        for name in dirs + files:
            path = os.path.join(base, name)
            if os.path.islink(path) and os.readlink(path).startswith("/"):
                found.append(path + " -> " + os.readlink(path))
    expect(not found, f"the host's file or a link out came out of the sandbox: {found[:5]}")
    copied = sum(len(files) for _, _, files in os.walk(outs))
    expect(copied > 0, "nothing was copied at all: the race was not run")
    expect(b.cli("rm", "-f", "racer").returncode == 0, "rm -f")


def test_idle_timeout_and_max_lifetime(ctx):
    b = Boxes(ctx)
    b.start("--name", "idle", "--idle-timeout", "1")
    b.start("--name", "short", "--max-lifetime", "1", "--", "sleep", "100")
    # an exec longer than the idle timeout: used, so not stopped under it
    r = b.cli("exec", "idle", "--", "sleep", "1.5")
    expect(r.returncode == 0, f"an exec was cut by the idle timeout: {r}")
    expect(b.ps()["idle"]["status"] == "running", "stopped while in use")
    deadline = time.time() + 10
    while time.time() < deadline and {v["status"] for v in b.ps().values()} != {"exited"}:
        time.sleep(0.2)
    listed = b.ps()
    expect(listed["idle"]["status"] == "exited" and listed["short"]["status"] == "exited",
           f"{listed}")
    expect(listed["short"]["exit"]["signal"] == 15, f"{listed['short']}")
    r = b.cli("run", "--idle-timeout", "1", "--", "true")
    expect(r.returncode == 125 and "--idle-timeout without -d" in r.err, f"{r}")


def test_fifty_execs_at_once(ctx):
    """50 execs started at once into one sandbox (bench/run, section 7, times the same): all
    run at the same time inside, each gets its own output and exit status back, and nothing of
    them is left after. The barrier makes each command wait until all 50 are in the sandbox,
    so a sandbox that served fewer at once would time out, not pass."""
    b = Boxes(ctx)
    b.start("--name", "many")
    supervisor = b.supervisor("many")
    n = 50
    barrier = (f'touch /tmp/at-once-$1; i=0; while set -- /tmp/at-once-*; [ $# -lt {n} ]; do '
               f'i=$((i+1)); [ $i -gt 400 ] && exit 99; sleep 0.05; done; echo "$0 $#"; '
               'exit $(($0 % 5))')
    procs = [ctx.popen([ctx.stockade_path, "exec", "many", "--", "sh", "-c", barrier, str(i),
                        str(i)], env=b.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(n)]
    results = [harness.finish(p, timeout=60, what=f"exec {i}") for i, p in enumerate(procs)]
    wrong = [(i, r) for i, r in enumerate(results)
             if r.returncode != i % 5 or r.out != f"{i} {n}\n"]
    expect(not wrong, f"{len(wrong)} of {n} execs at once came back wrong, first: {wrong[:2]}")
    listed = b.ps()["many"]
    expect(listed["status"] == "running" and listed["processes"] == 1,
           f"something of the execs is left, or the sandbox ended: {listed}")
    expect(b.supervisor("many") == supervisor and os.path.exists(f"/proc/{supervisor}"),
           "the supervisor changed or went")
    expect(b.cli("rm", "-f", "many").returncode == 0, "rm -f")


def test_the_65th_exec_at_once_is_refused(ctx):
    """At most 64 execs at once per sandbox (docs/ARCHITECTURE.md, "Long-lived sandboxes"): with
    64 running, one more exits 125 and the sandbox goes on; once they end, execs work again."""
    b = Boxes(ctx)
    b.start("--name", "full")
    pid1 = int(open(f"/proc/{b.supervisor('full')}/task/{b.supervisor('full')}/children")
               .read().split()[0])
    held = [ctx.popen([ctx.stockade_path, "exec", "-i", "full", "--", "cat"], env=b.env,
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(64)]

    def cats():
        n = 0
        for pid in _pidns_members(pid1):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    n += f.read().strip() == "cat"
            except OSError:
                pass
        return n

    deadline = time.time() + 30
    while time.time() < deadline and cats() < 64:
        time.sleep(0.1)
    expect(cats() == 64, f"{cats()} of 64 execs running")
    r = b.cli("exec", "full", "--", "true", timeout=20)
    expect(r.returncode == 125, f"a 65th exec at once: {r}")
    expect(b.ps()["full"]["status"] == "running", "the sandbox ended")
    results = [harness.finish(p, input=b"", timeout=30, what="a held exec") for p in held]
    expect(all(r.returncode == 0 for r in results),
           f"{sum(r.returncode != 0 for r in results)} of the 64 held execs failed")
    r = b.cli("exec", "full", "--", "true", timeout=20)
    expect(r.returncode == 0, f"an exec after the 64 ended: {r}")
    expect(b.cli("rm", "-f", "full").returncode == 0, "rm -f")
