"""Hostile workloads: the techniques of docs/THREATS.md "Terminal and session", "The runtime's own
processes" and "Kernel attack surface", each tried from inside a real sandbox, plus a few
positive tests showing that ordinary programs still work there.

Every hostile test asserts
  (a) the specific outcome inside (EPERM from a seccomp denial, ENOSYS for clone3, SIGSYS for
      another syscall ABI, EACCES for a non-dumpable PID 1, ...), chosen so that it cannot
      happen by accident;
  (b) the differential: the same probe run natively, as the same caller, gives a different
      answer, which proves the probe really exercises the attack. "Natively" means
      ctx.native_probe (a throwaway PID namespace; for the unprivileged caller also a user
      namespace with --map-current-user) and, for the unprivileged caller, also a throwaway
      user namespace with --map-root-user (+ mount, UTS and PID namespaces): there the probe
      holds every capability over its own namespaces, which is the most the kernel gives an
      unprivileged user without a sandbox. (Note: with --map-current-user the probe keeps
      uid 1001 inside the namespace and so loses all capabilities at execve; it is
      effectively an unprivileged host process.) Where every native answer equals the
      sandbox's on this kernel, the table of that test says why and only the sandbox side is
      asserted;
  (c) where the technique aims at the host, that nothing changed there: the stockade binary's
      hash, a marker file, the hostname and domain name, the host's mount table.

Probe names and native answers: tests/helpers/try-syscall.c (each probe's comment)."""
import fcntl
import hashlib
import json
import os
import pty
import re
import select
import shutil
import subprocess
import time

import harness
from harness import expect

# ---------------------------------------------------------------------------------------------
# helpers


def unique_sleep_arg():
    """An argument no other process has, to find the sandbox's processes from the host."""
    return f"1000.{time.monotonic_ns() % 10**9:09d}"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def host_snapshot(ctx):
    """What a successful escape would change on the host."""
    st = os.stat(ctx.stockade_path)
    with open("/proc/self/mountinfo") as f:
        mounts = f.read()
    with open("/proc/sys/kernel/domainname") as f:
        domain = f.read()
    return {"stockade sha256": sha256(ctx.stockade_path),
            "stockade mtime/size/mode": (st.st_mtime_ns, st.st_size, st.st_mode, st.st_uid),
            "hostname": os.uname().nodename,
            "domainname": domain,
            "host mountinfo": mounts}


def expect_host_unchanged(ctx, before, what):
    after = host_snapshot(ctx)
    for key, value in before.items():
        if after[key] == value:
            continue
        if key == "host mountinfo":
            old, new = set(value.splitlines()), set(after[key].splitlines())
            raise AssertionError(f"{what}: the host's mount table changed: "
                                 f"new {sorted(new - old)} gone {sorted(old - new)}")
        raise AssertionError(f"{what}: host {key} changed: {value!r} -> {after[key]!r}")


def native_prefixes(ctx):
    """(label, argv prefix) of every native run for this mode; see the module docstring."""
    if ctx.is_root:
        return [("native-root", ["unshare", "--pid", "--fork", "--mount-proc"])]
    return [("native-user", ["unshare", "--user", "--map-current-user", "--pid", "--fork",
                             "--mount-proc"]),
            ("native-userns-root", ["unshare", "--user", "--map-root-user", "--mount", "--uts",
                                    "--pid", "--fork", "--mount-proc"])]


def native_probes(ctx, names):
    """[(label, {probe: (outcome, detail)})]: ctx.native_probe, plus for the unprivileged caller
    the same probes as root of a throwaway user namespace."""
    runs = [(native_prefixes(ctx)[0][0], ctx.native_probe(*names))]
    for label, pre in native_prefixes(ctx)[1:]:
        r = ctx.run(pre + [ctx.helper("try-syscall")] + list(names))
        assert r.returncode == 0, f"{label} try-syscall failed: {r}"
        runs.append((label, ctx.parse_probes(r.out)))
    return runs


def check_probes(ctx, expected, same_natively=None):
    """Runs the probes in a sandbox and natively. expected: {probe: outcome inside} ("ok",
    "errno=EPERM", "signal=31"). same_natively: {probe: why} for the probes whose native answer
    on this kernel, in this mode, equals the sandbox's: their differential is not asserted.
    A probe expected "ok" inside is one that must stay allowed: there it is checked that the
    native run agrees. Every mismatch is reported, not just the first."""
    same_natively = same_natively or {}
    names = list(expected)
    inside = ctx.probe(*names)
    natives = native_probes(ctx, names)
    problems = []
    for name in names:
        got, detail = inside[name]
        native = {label: res[name][0] for label, res in natives}
        if got != expected[name]:
            problems.append(f"{name}: expected {expected[name]} in the sandbox, got {got} "
                            f"(detail {detail}; native {native})")
            continue
        if expected[name] == "ok":
            if not any(v == "ok" for v in native.values()):
                problems.append(f"{name}: works in the sandbox but not natively ({native})?")
            continue
        if name in same_natively:
            continue
        if all(v == got for v in native.values()):
            problems.append(f"{name}: native answer {native} equals the sandbox's ({got}): "
                            f"the probe does not show the attack here")
    expect(not problems, f"[{ctx.mode}] " + "\n".join(problems))
    return inside, natives


# Python run inside the sandbox (and natively) for the probes try-syscall does not have: raw
# syscalls through ctypes, output in try-syscall's format so that ctx.parse_probes reads it.
PY_PROLOGUE = r'''
import ctypes, errno, os, sys
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
def _arg(x):
    return ctypes.c_ulong(x & (2**64 - 1)) if isinstance(x, int) else x
def ename(e):
    return "errno=" + errno.errorcode.get(e, str(e))
def sc(nr, *args, close=False):
    """A raw syscall: "ok" or "errno=NAME"; close=True closes a returned fd."""
    ctypes.set_errno(0)
    r = _libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    if r == -1:
        return ename(ctypes.get_errno())
    if close and r >= 0:
        os.close(r)
    return "ok"
def report(name, outcome, detail="-"):
    outcome = "result=ok" if outcome == "ok" else outcome
    print(name, outcome, "detail=" + (str(detail).replace(" ", "_") or "-"), flush=True)
'''


def py_inside(ctx, body, opts=(), **kw):
    return ctx.sandbox(["python3", "-c", PY_PROLOGUE + body], opts=opts, **kw)


def py_native(ctx, body, prefix):
    return ctx.run(prefix + ["python3", "-c", PY_PROLOGUE + body])


def check_py_probes(ctx, body, expected, same_natively=None):
    """check_probes for a PY_PROLOGUE script."""
    same_natively = same_natively or {}
    r = py_inside(ctx, body)
    expect(r.returncode == 0, f"[{ctx.mode}] probe script failed in the sandbox: {r}")
    inside = ctx.parse_probes(r.out)
    natives = []
    for label, pre in native_prefixes(ctx):
        n = py_native(ctx, body, pre)
        expect(n.returncode == 0, f"[{ctx.mode}] probe script failed natively ({label}): {n}")
        natives.append((label, ctx.parse_probes(n.out)))
    problems = []
    for name, want in expected.items():
        got, detail = inside.get(name, ("missing", ""))
        native = {label: res.get(name, ("missing",))[0] for label, res in natives}
        if got != want:
            problems.append(f"{name}: expected {want} in the sandbox, got {got} "
                            f"(detail {detail}; native {native})")
        elif want != "ok" and name not in same_natively and all(v == got for v in
                                                                   native.values()):
            problems.append(f"{name}: native answer {native} equals the sandbox's ({got})")
    expect(not problems, f"[{ctx.mode}] " + "\n".join(problems))
    return inside, natives


def read_status(path):
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


CAP_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")

# ---------------------------------------------------------------------------------------------
# Terminal and session


def test_tiocsti_tioclinux_denied_by_seccomp_low32(ctx):
    # try-syscall's stdin is a pipe here: natively ENOTTY (the kernel looks at the fd),
    # inside EPERM (the filter looks only at the request, and only at its low 32 bits, so
    # TIOCSTI|1<<32, which the kernel truncates to TIOCSTI, is refused as well).
    check_probes(ctx, {"tiocsti": "errno=EPERM", "tiocsti_hi": "errno=EPERM",
                       "tioclinux": "errno=EPERM"})


TTY_SCRIPT = r'''
import ctypes, errno, fcntl, os, sys, termios
mark, mark_hi = sys.argv[1], sys.argv[2]
def en(e):
    return errno.errorcode.get(e, str(e))
res = {}
try:
    os.close(os.open("/dev/tty", os.O_RDWR))
    res["devtty"] = "ok"
except OSError as e:
    res["devtty"] = en(e.errno)
try:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    res["sctty"] = "ok"
except OSError as e:
    res["sctty"] = en(e.errno)
seen = set()
for c in mark + "\n":
    try:
        fcntl.ioctl(0, termios.TIOCSTI, c.encode())
        seen.add("ok")
    except OSError as e:
        seen.add(en(e.errno))
res["tiocsti"] = "+".join(sorted(seen))
# fcntl.ioctl truncates the request to 32 bits itself: the high-bit variant goes through ctypes.
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
seen = set()
for c in mark_hi + "\n":
    r = libc.syscall(ctypes.c_long(16), ctypes.c_long(0),
                     ctypes.c_ulong(termios.TIOCSTI | (1 << 32)), ctypes.c_char_p(c.encode()))
    seen.add("ok" if r == 0 else en(ctypes.get_errno()))
res["tiocsti_hi"] = "+".join(sorted(seen))
try:
    fcntl.ioctl(0, 0x541C, b"\x03")  # TIOCLINUX, subcode 3 (paste selection)
    res["tioclinux"] = "ok"
except OSError as e:
    res["tioclinux"] = en(e.errno)
print("RESULT " + " ".join(f"{k}={v}" for k, v in sorted(res.items())), flush=True)
'''


def drain(fd, quiet):
    data = b""
    while True:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            return data
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk


def run_on_terminal(ctx, argv, timeout=20):
    """Runs argv with a fresh pty as its controlling terminal and as stdin/stdout/stderr, the
    way a user's interactive shell runs stockade (setsid --ctty). Returns (exit status, what
    the terminal displayed, what arrived on the terminal as input)."""
    master, slave = pty.openpty()
    try:
        p = ctx.popen(["setsid", "--ctty", "--wait"] + list(argv), stdin=slave, stdout=slave,
                      stderr=slave)
        shown = b""
        deadline = time.monotonic() + timeout
        while p.poll() is None:
            if time.monotonic() > deadline:
                p.kill()
                p.wait()
                raise AssertionError(f"timed out on the terminal: {argv}; shown {shown!r}")
            shown += drain(master, 0.05)
        shown += drain(master, 0.2)
        # Whatever TIOCSTI pushed waits in the slave's input queue, line by line.
        fcntl.fcntl(slave, fcntl.F_SETFL, fcntl.fcntl(slave, fcntl.F_GETFL) | os.O_NONBLOCK)
        typed = b""
        while True:
            try:
                chunk = os.read(slave, 4096)
            except BlockingIOError:
                break
            if not chunk:
                break
            typed += chunk
        return p.returncode, shown.decode("utf-8", "replace"), typed.decode("utf-8", "replace")
    finally:
        os.close(master)
        os.close(slave)


def parse_result_line(text):
    m = re.search(r"RESULT (.*?)\r?\n", text)
    return dict(kv.split("=", 1) for kv in m.group(1).split()) if m else None


def test_tiocsti_real_terminal_no_injection(ctx):
    """stockade on a real terminal (its caller's controlling tty). With --tty=never the
    workload holds that terminal itself, in another session without a controlling terminal:
    TIOCSTI (plain and with a high bit) is EPERM. By default it holds a pty of its own, its
    controlling terminal, and TIOCSTI into that is EPERM too. Either way nothing typed arrives
    on the caller's terminal, as echo or as input."""
    with open("/proc/sys/dev/tty/legacy_tiocsti") as f:
        legacy = f.read().strip()  # "1" on the test host (Debian 12 kernel 6.18 build)
    tag = f"{time.monotonic_ns() % 10**8:08x}"
    mark, mark_hi = f"qz{tag}", f"qh{tag}"
    for tty in ("never", "auto"):
        rc, shown, typed = run_on_terminal(
            ctx, [ctx.stockade_path, "run", f"--tty={tty}", "--", "python3", "-c", TTY_SCRIPT,
                  mark, mark_hi])
        res = parse_result_line(shown)
        expect(rc == 0 and res, f"[{ctx.mode}] --tty={tty} on a pty: exit {rc}, shown {shown!r}")
        expect(res["tiocsti"] == "EPERM" and res["tiocsti_hi"] == "EPERM",
               f"--tty={tty}: TIOCSTI: expected EPERM (plain and 1<<32), got {res}")
        expect(res["tioclinux"] == "EPERM", f"--tty={tty}: TIOCLINUX: expected EPERM, {res}")
        if tty == "never":
            # setsid: no controlling terminal, and the caller's cannot be taken.
            expect(res["devtty"] == "ENXIO", f"/dev/tty: expected ENXIO (no ctty), {res}")
            expect(res["sctty"] == "EPERM", f"TIOCSCTTY on the caller's tty: expected EPERM, {res}")
        else:
            # The sandbox's own pty is the controlling terminal already.
            expect(res["devtty"] == "ok" and res["sctty"] == "ok", f"own pty as ctty: {res}")
        for m in (mark, mark_hi):
            expect(m not in shown, f"--tty={tty}: injected {m!r} was echoed on the caller's "
                                   f"terminal: {shown!r}")
            expect(m not in typed, f"--tty={tty}: injected {m!r} arrived as input on the "
                                   f"caller's terminal: {typed!r}")
        expect(typed == "", f"--tty={tty}: unexpected input on the caller's terminal: {typed!r}")

    # Differential: the same script run natively on its own controlling terminal injects.
    rc, shown_n, typed_n = run_on_terminal(ctx, ["python3", "-c", TTY_SCRIPT, mark, mark_hi])
    native = parse_result_line(shown_n)
    expect(rc == 0 and native, f"native run on a pty: exit {rc}, shown {shown_n!r}")
    # TIOCLINUX needs a virtual console: a pty answers ENOTTY natively.
    expect(native["tioclinux"] != "EPERM", f"native TIOCLINUX: {native}")
    if legacy == "0" and not ctx.is_root:
        # dev.tty.legacy_tiocsti=0: the kernel refuses TIOCSTI (EIO) without CAP_SYS_ADMIN,
        # so the native side cannot show the injection for the unprivileged caller.
        expect(native["tiocsti"] == "EIO", f"native with legacy_tiocsti=0: {native}")
        return
    expect(native["tiocsti"] == "ok" and native["tiocsti_hi"] == "ok",
           f"native TIOCSTI should inject (legacy_tiocsti={legacy}): {native}")
    expect(f"{mark}\n" in typed_n and f"{mark_hi}\n" in typed_n,
           f"native injection did not arrive as input: {typed_n!r}")


OWN_PTY_SCRIPT = r'''
import fcntl, struct, termios
mark = sys.argv[1]
m, s = os.openpty()
try:
    os.setsid()
except OSError:
    pass  # in the sandbox the workload is a session leader already
try:
    fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    report("sctty", "ok")
except OSError as e:
    report("sctty", ename(e.errno))
seen = set()
for c in mark + "\n":
    seen.add(sc(16, s, termios.TIOCSTI, ctypes.c_char_p(c.encode())))
report("own_tiocsti", "+".join(sorted(seen)))
report("own_tiocsti_hi", sc(16, s, termios.TIOCSTI | (1 << 32), ctypes.c_char_p(b"Q")))
report("own_tiocsetd", sc(16, s, termios.TIOCSETD, ctypes.byref(ctypes.c_int(0))))
report("own_tiocsetd_hi", sc(16, s, termios.TIOCSETD | (1 << 32), ctypes.byref(ctypes.c_int(0))))
for fd in (m, s):
    fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK)
got = b""
for fd in (m, s):
    try:
        got += os.read(fd, 4096)
    except OSError:
        pass
report("own_injected", "result=ok", "yes" if mark.encode() in got else "no")
'''


def test_tiocsti_own_pty_seccomp_alone(ctx):
    """The workload opens a pty of its own inside the sandbox and makes it its controlling
    terminal: the kernel would let it type into it, so the EPERM comes from seccomp alone
    (the low-32-bit ioctl rule), not from setsid. TIOCSETD (line discipline) likewise."""
    mark = f"qo{time.monotonic_ns() % 10**8:08x}"
    body = "sys.argv[1:] = [%r]\n" % mark + OWN_PTY_SCRIPT
    inside, natives = check_py_probes(ctx, body, {
        "own_tiocsti": "errno=EPERM", "own_tiocsti_hi": "errno=EPERM",
        "own_tiocsetd": "errno=EPERM", "own_tiocsetd_hi": "errno=EPERM"})
    expect(inside["own_injected"][1] == "no", f"injected into the sandbox's pty: {inside}")
    with open("/proc/sys/dev/tty/legacy_tiocsti") as f:
        legacy = f.read().strip()
    if legacy == "1" or ctx.is_root:
        for label, res in natives:
            expect(res["own_tiocsti"][0] == "ok" and res["own_injected"][1] == "yes",
                   f"{label}: native TIOCSTI on its own pty should inject: {res}")


# ---------------------------------------------------------------------------------------------
# The runtime's own processes


def test_proc1_exe_overwrite_cve_2019_5736(ctx):
    """PID 1 of the sandbox is a fork of the stockade binary: /proc/1/exe must not open for
    writing (nor be reopened through O_PATH, nor even be resolved), and the binary on the
    host stays byte-identical."""
    before = host_snapshot(ctx)
    # Natively, as root, the open passes the permission checks and fails only on ETXTBSY (PID 1
    # is running it); as the unprivileged user the root-owned binary gives EACCES natively too.
    same = {} if ctx.is_root else {
        "proc1_exe_write": "the native PID 1 runs a root-owned binary: EACCES natively too"}
    check_probes(ctx, {"proc1_exe_write": "errno=EACCES"}, same)
    body = r'''
try:
    report("exe_readlink", "ok", os.readlink("/proc/1/exe"))
except OSError as e:
    report("exe_readlink", ename(e.errno))
try:
    fd = os.open("/proc/1/exe", os.O_PATH)
    report("exe_opath", "ok")
    try:
        os.close(os.open(f"/proc/self/fd/{fd}", os.O_WRONLY))
        report("exe_reopen_write", "ok")
    except OSError as e:
        report("exe_reopen_write", ename(e.errno))
except OSError as e:
    report("exe_opath", ename(e.errno))
for flags, name in ((os.O_WRONLY | os.O_TRUNC, "exe_trunc"), (os.O_RDONLY, "exe_read")):
    try:
        os.close(os.open("/proc/1/exe", flags))
        report(name, "ok")
    except OSError as e:
        report(name, ename(e.errno))
'''
    r = py_inside(ctx, body)
    got = ctx.parse_probes(r.out)
    for name in ("exe_readlink", "exe_opath", "exe_trunc", "exe_read"):
        expect(got.get(name, ("missing",))[0] == "errno=EACCES",
               f"{name}: expected errno=EACCES (PID 1 is not dumpable), got {got.get(name)}; {r}")
    expect("exe_reopen_write" not in got, f"O_PATH handle to /proc/1/exe obtained: {got}")
    expect_host_unchanged(ctx, before, "/proc/1/exe overwrite attempt")


def test_proc1_mem_and_environ(ctx):
    """/proc/1/mem (write) and /proc/1/environ of the sandbox's PID 1 are EACCES. PID 1 is a fork
    of stockade and still holds the caller's whole environment: a secret put there must not be
    readable anywhere in the sandbox."""
    check_probes(ctx, {"proc1_mem_write": "errno=EACCES", "proc1_environ": "errno=EACCES"})
    secret = f"stockade-secret-{time.monotonic_ns()}"
    r = ctx.sandbox("for f in /proc/[0-9]*/environ /proc/[0-9]*/task/*/environ; do "
                    "cat $f 2>/dev/null; done | tr '\\0' '\\n'; "
                    "ls /proc/1/fd 2>&1; ls /proc/1/task/1/fd 2>&1; readlink -v /proc/1/cwd 2>&1; "
                    "readlink -v /proc/1/root 2>&1; echo done",
                    env={"STOCKADE_TEST_SECRET": secret})
    expect(r.returncode == 0 and r.out.endswith("done\n"), f"{r}")
    expect(secret not in r.out and secret not in r.err,
           f"the caller's environment (PID 1's) leaked into the sandbox: {r.out[-600:]!r}")
    expect(r.out.count("Permission denied") >= 4,
           f"/proc/1/fd, task fd, cwd and root of PID 1 should all be EACCES: {r.out!r}")


DUMPABLE_SCRIPT = r"""
for path, flags, name in (("/proc/1/mem", os.O_RDWR, "proc1_mem_rw"),
                          ("/proc/1/environ", os.O_RDONLY, "proc1_environ")):
    try:
        fd = os.open(path, flags)
        data = os.read(fd, 65536) if name == "proc1_environ" else b""
        os.close(fd)
        leaked = os.environ.get("NEEDLE", "-") in data.decode("utf-8", "replace")
        report(name, "ok", "secret-leaked" if leaked else "opened")
    except OSError as e:
        report(name, ename(e.errno))
"""


def test_pid1_not_dumpable_whatever_fs_suid_dumpable(ctx):
    """PID 1 (a fork of stockade, holding the caller's environment and the socket to the
    supervisor) must stay non-dumpable whatever the host's fs.suid_dumpable. The kernel resets
    the dumpable flag to fs.suid_dumpable at every change of euid/egid/fsuid/fsgid, so
    PR_SET_DUMPABLE(0) must come after the last credential change. fs.suid_dumpable is set to 1
    (a supported host setting) only while the sandbox starts: it is restored as soon as the
    workload reports it is running, before the workload looks at PID 1."""
    path = "/proc/sys/fs/suid_dumpable"
    with open(path) as f:
        old = f.read().strip()
    secret = f"stockade-secret-{time.monotonic_ns()}"
    needle = "STOCKADE_TEST_SECRET=" + secret
    script = PY_PROLOGUE + DUMPABLE_SCRIPT
    try:
        with open(path, "w") as f:
            f.write("1")
        p = ctx.popen([ctx.stockade_path, "run", "-e", f"NEEDLE={needle}", "--", "sh", "-c",
                       'echo ready; read x; exec python3 -c "$0"', script],
                      env={"STOCKADE_TEST_SECRET": secret}, stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        first = p.stdout.readline()
    finally:
        with open(path, "w") as f:
            f.write(old)
    with open(path) as f:
        expect(f.read().strip() == old, "fs.suid_dumpable not restored")
    out, err = p.communicate(b"go\n", timeout=30)
    expect(first == b"ready\n" and p.returncode == 0, f"exit {p.returncode} {first!r} {err!r}")
    got = ctx.parse_probes(out.decode())
    problems = [f"{name}: expected errno=EACCES, got {got.get(name)}"
                for name in ("proc1_mem_rw", "proc1_environ")
                if got.get(name, ("missing",))[0] != "errno=EACCES"]
    expect(not problems,
           f"[{ctx.mode}] ENGINE BUG (src/sandbox/launch.c child_setup: PR_SET_DUMPABLE(0) is "
           f"called before userns_apply(); as root, setresuid() then moves the euid from host "
           f"0 to 10001 and the kernel resets PID 1's dumpable flag to fs.suid_dumpable=1): "
           f"with fs.suid_dumpable=1 at start-up the workload opens PID 1's memory read-write "
           f"and reads its environment, which is the caller's ({needle.split('=')[0]} leaked: "
           f"{'secret-leaked' in out.decode()}): " + "; ".join(problems))


def test_ptrace_process_vm_pidfd_getfd_against_pid1(ctx):
    """ptrace (TRACEME, attach to the parent which is PID 1, attach to PID 1),
    process_vm_writev/readv and pidfd_getfd against PID 1 are all EPERM."""
    check_probes(ctx, {"ptrace_traceme": "errno=EPERM", "ptrace_attach": "errno=EPERM",
                       "ptrace_attach_pid1": "errno=EPERM",
                       "process_vm_writev": "errno=EPERM", "pidfd_getfd": "errno=EPERM"})
    # process_vm_readv (310) of address 0 of PID 1: natively EFAULT (permitted, nothing
    # mapped at 0), inside EPERM. pidfd_open itself stays allowed (a harmless handle).
    body = r'''
buf = ctypes.create_string_buffer(1)
local = (ctypes.c_ulong * 2)(ctypes.addressof(buf), 1)
remote = (ctypes.c_ulong * 2)(0, 1)
report("process_vm_readv", sc(310, 1, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
report("pidfd_open", sc(434, 1, 0, close=True))
'''
    check_py_probes(ctx, body, {"process_vm_readv": "errno=EPERM", "pidfd_open": "ok"})
    # PID 1 is not traced after all that.
    r = ctx.sandbox("grep TracerPid /proc/1/status")
    expect(r.out.split() == ["TracerPid:", "0"], f"{r}")


def test_leaked_fds_and_cwd_cve_2024_21626(ctx):
    """fds the caller leaks into stockade (a host file opened read-write, a host directory)
    never reach the workload, and the cwd of the caller never becomes the workload's: the
    workdir is /home/sandbox (or -w), never "(unreachable)/..."."""
    d = ctx.tmpdir()
    marker = os.path.join(d, "marker")
    with open(marker, "w") as f:
        f.write("untouched\n")
    os.chmod(marker, 0o666)
    os.chown(marker, ctx.caller_uid, ctx.caller_gid)
    file_fd = os.open(marker, os.O_RDWR)
    dir_fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    high_fd = os.dup2(file_fd, 100)
    leaked = (file_fd, dir_fd, high_fd)
    try:
        with open(ctx.helper("try-syscall"), "rb") as f:
            helper = f.read()
        script = ('cat > /tmp/h && chmod 700 /tmp/h && '
                  + "".join(f"(echo pwned > /proc/self/fd/{n}) 2>/dev/null && echo WROTE{n}; "
                          for n in leaked)
                  + f"(cd /proc/self/fd/{dir_fd}) 2>/dev/null && echo ENTERED; "
                  'exec /tmp/h "$@" </dev/null')
        for opts, want_cwd in (((), "/home/sandbox"), (("-w", "/tmp"), "/tmp")):
            p = ctx.popen([ctx.stockade_path, "run", *opts, "--", "sh", "-c", script, "sh",
                           "fd_leak", "cwd"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, pass_fds=leaked, cwd=d)
            out, err = p.communicate(helper, timeout=30)
            out = out.decode()
            expect(p.returncode == 0, f"exit {p.returncode}: {out!r} {err!r}")
            got = ctx.parse_probes(out)
            expect(got["fd_leak"] == ("ok", "fds:none"),
                   f"fds leaked into the sandbox: {got['fd_leak']} (passed {leaked})")
            expect(got["cwd"] == ("ok", want_cwd),
                   f"cwd inside: expected {want_cwd}, got {got['cwd']} (host cwd {d})")
            expect("WROTE" not in out and "ENTERED" not in out, f"leaked fd usable: {out!r}")
        # Differential: natively the same fds and the host cwd are there.
        prefix = native_prefixes(ctx)[0][1]
        p = ctx.popen(prefix + [ctx.helper("try-syscall"), "fd_leak", "cwd"],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=leaked, cwd=d)
        out, _ = p.communicate(timeout=30)
        native = ctx.parse_probes(out.decode())
        for n in leaked:
            expect(re.search(rf"(^|[:,]){n}(,|$)", native["fd_leak"][1]),
                   f"native run does not see leaked fd {n}: {native['fd_leak']}")
        expect(native["cwd"] == ("ok", d), f"native cwd: {native['cwd']}")
    finally:
        for fd in leaked:
            os.close(fd)
    with open(marker) as f:
        expect(f.read() == "untouched\n", "the host marker file was written through a leak")
    expect(sorted(os.listdir(d)) == ["marker"], f"new files in the host cwd: {os.listdir(d)}")


# The privilege state every process of the sandbox must show in /proc/PID/status.
PRIV_SCRIPT = r'''
import json, os, subprocess, sys
import time
sleeper = subprocess.Popen(["sleep", os.environ["SLEEP_ARG"]])
shell = subprocess.Popen(["sh", "-c", "sleep " + os.environ["SLEEP_ARG"] + "1; :"])
deadline = time.monotonic() + 10
while len([p for p in os.listdir("/proc") if p.isdigit()]) < 5 and time.monotonic() < deadline:
    time.sleep(0.01)  # PID 1, python, sleep, sh and its sleep
states = {}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/status") as f:
                states[pid] = dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)
        except OSError as e:
            states[pid] = {"error": str(e)}
print(json.dumps(states), flush=True)
print("ready", flush=True)
sys.stdin.readline()
for p in (sleeper, shell):
    p.kill()
    p.wait()
'''


def expect_unprivileged(where, st, uid, gid):
    expect(st.get("Uid", "").split() == [str(uid)] * 4, f"{where}: Uid {st.get('Uid')}, "
                                                        f"expected {uid} x4")
    expect(st.get("Gid", "").split() == [str(gid)] * 4, f"{where}: Gid {st.get('Gid')}, "
                                                        f"expected {gid} x4")
    for cap in CAP_SETS:
        expect(st.get(cap) == "0000000000000000", f"{where}: {cap} {st.get(cap)}")
    expect(st.get("NoNewPrivs") == "1", f"{where}: NoNewPrivs {st.get('NoNewPrivs')}")
    expect(st.get("Seccomp") == "2", f"{where}: Seccomp {st.get('Seccomp')}")


def test_privilege_state_of_every_process(ctx):
    """bubblewrap CVE-2020-5291: every process of the sandbox, PID 1 included, shows uid/gid
    10001 and five empty capability sets inside, and from the host a non-root uid (10001 as
    root, the caller's own otherwise) with empty sets."""
    # try-syscall's own view (a grandchild of PID 1).
    inside, natives = check_probes(ctx, {"caps": "ok"})
    detail = dict(kv.split(":", 1) for kv in inside["caps"][1].split(","))
    for cap in CAP_SETS:
        expect(detail[cap] == "0000000000000000", f"try-syscall inside: {cap} {detail[cap]}")
    expect(detail["NoNewPrivs"] == "1" and detail["Seccomp"] == "2", f"{detail}")
    expect(detail["Uid"] == "10001/10001/10001/10001", f"{detail}")
    native = dict(kv.split(":", 1) for kv in natives[-1][1]["caps"][1].split(","))
    expect(native["CapEff"] != "0000000000000000", f"native {natives[-1][0]} holds no "
                                                   f"capability?: {native}")

    arg = unique_sleep_arg()
    host_gid = 10001 if ctx.is_root else ctx.user.pw_gid
    p = ctx.popen([ctx.stockade_path, "run", "-e", f"SLEEP_ARG={arg}", "--", "python3", "-c",
                   PRIV_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                  stderr=subprocess.PIPE)
    try:
        states = json.loads(p.stdout.readline() or b"{}")
        expect(p.stdout.readline() == b"ready\n", "the sandbox did not get ready")
        expect("1" in states and len(states) >= 5, f"processes seen inside: {list(states)}")
        for pid, st in states.items():
            expect_unprivileged(f"inside /proc/{pid}/status ({st.get('Name')})", st, 10001,
                                10001)
        # From the host: every process in the sandbox's PID namespace.
        found = subprocess.run(["pgrep", "-f", f"^sleep {re.escape(arg)}$"],
                               capture_output=True, text=True).stdout.split()
        expect(len(found) == 1, f"sleep {arg} on the host: {found}")
        pidns = os.readlink(f"/proc/{found[0]}/ns/pid")
        members = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.readlink(f"/proc/{pid}/ns/pid") == pidns:
                        members.append(pid)
                except OSError:
                    pass
        expect(len(members) == len(states), f"host sees {len(members)} processes in the "
                                            f"sandbox, the sandbox {len(states)}")
        init = None
        for pid in members:
            st = read_status(f"/proc/{pid}/status")
            expect_unprivileged(f"host /proc/{pid}/status ({st.get('Name')})", st,
                                ctx.host_uid, host_gid)
            expect(st["Uid"].split()[0] != "0", "a sandbox process is host root")
            if st["NSpid"].split()[-1] == "1":
                init = st
        expect(init is not None and init["Name"] == "stockade",
               f"PID 1 of the sandbox not found from the host: {members}")
        expect(int(init["PPid"]) == p.pid, f"PID 1's parent is {init['PPid']}, not stockade")
    finally:
        try:
            out, err = p.communicate(b"\n", timeout=20)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            p.kill()
            out, err = p.communicate()
    expect(p.returncode == 0, f"exit {p.returncode}: {err!r}")


CAPS_TRY_SCRIPT = r'''
PR_CAP_AMBIENT, RAISE, IS_SET = 47, 2, 1
CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN = 10, 21
# capset: inheritable NET_BIND_SERVICE, permitted/effective unchanged (empty inside); then the
# ambient raise, which needs the capability permitted and inheritable (so natively root can).
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()
sc(125, ctypes.byref(hdr), ctypes.byref(data))  # capget
data[2] |= 1 << CAP_NET_BIND_SERVICE
report("capset_inheritable", sc(126, ctypes.byref(hdr), ctypes.byref(data)))
report("ambient_raise", sc(157, PR_CAP_AMBIENT, RAISE, CAP_NET_BIND_SERVICE, 0, 0))
data[1] |= 1 << CAP_SYS_ADMIN
data[0] |= 1 << CAP_SYS_ADMIN
report("capset_sys_admin", sc(126, ctypes.byref(hdr), ctypes.byref(data)))
report("set_securebits_0", sc(157, 28, 0, 0, 0, 0))  # PR_SET_SECUREBITS
'''


def test_no_inheritable_or_ambient_caps_after_exec_cve_2022_27650(ctx):
    """A process two execs down the tree still has all five sets empty, and no capability can
    be put into the inheritable or ambient set (crun CVE-2022-27650)."""
    r = ctx.sandbox("sh -c 'sh -c \"grep -E ^Cap /proc/self/status\"'")
    expect(r.returncode == 0 and r.out.count("\n") == 5, f"{r}")
    for line in r.out.splitlines():
        key, value = line.split(":")
        expect(value.strip() == "0000000000000000", f"after two execs inside: {line}")
    # Differential: natively the bounding set (and as root every set) is full.
    n = ctx.run(native_prefixes(ctx)[0][1] + ["sh", "-c",
                                             "sh -c 'grep -E ^Cap /proc/self/status'"])
    native = dict(l.replace("\t", "").split(":") for l in n.out.splitlines())
    expect(native.get("CapBnd", "0" * 16) != "0" * 16, f"native: {n.out!r}")
    if ctx.is_root:
        expect(native["CapEff"] != "0" * 16, f"native root: {n.out!r}")

    # Raising ambient/inheritable: EPERM inside; natively root can, an unprivileged caller
    # can raise nothing outside a user namespace either (so its differential is the userns).
    inside, natives = check_py_probes(ctx, CAPS_TRY_SCRIPT, {
        "ambient_raise": "errno=EPERM", "capset_inheritable": "errno=EPERM",
        "capset_sys_admin": "errno=EPERM", "set_securebits_0": "errno=EPERM"})
    # set_securebits_0's EPERM is CAP_SETPCAP's absence, whatever the bits are:
    # test_securebits_locked reads them.
    r = ctx.sandbox(["setpriv", "--inh-caps=+net_bind_service",
                     "--ambient-caps=+net_bind_service", "true"])
    expect(r.returncode != 0 and "not permitted" in r.err, f"setpriv inside: {r}")
    if ctx.is_root:
        n = ctx.run(["setpriv", "--inh-caps=+net_bind_service",
                     "--ambient-caps=+net_bind_service", "true"])
        expect(n.returncode == 0, f"native setpriv as root should work: {n}")


# linux/securebits.h: what PID 1 locks before it becomes the sandbox user (userns.c).
SECBIT_NOROOT, SECBIT_NOROOT_LOCKED = 1 << 0, 1 << 1
SECBIT_NO_SETUID_FIXUP, SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 2, 1 << 3
SECBIT_KEEP_CAPS, SECBIT_KEEP_CAPS_LOCKED = 1 << 4, 1 << 5
SECBIT_NO_CAP_AMBIENT_RAISE, SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 6, 1 << 7
LOCKED_SECUREBITS = (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)


def test_securebits_locked(ctx):
    """The securebits every process of the sandbox has: NOROOT, NO_SETUID_FIXUP and
    NO_CAP_AMBIENT_RAISE set and locked, KEEP_CAPS off and locked (PR_GET_SECUREBITS, read in
    a process two execs below PID 1 and in one of its children: the bits are inherited).
    An EPERM from PR_SET_SECUREBITS says only that CAP_SETPCAP is missing; this reads the
    bits themselves. Natively they are all clear."""
    body = r'''
report("securebits", "ok", _libc.prctl(27, 0, 0, 0, 0))  # PR_GET_SECUREBITS
pid = os.fork()
if pid == 0:
    report("securebits_child", "ok", _libc.prctl(27, 0, 0, 0, 0))
    os._exit(0)
os.waitpid(pid, 0)
'''
    r = ctx.sandbox(["sh", "-c", 'exec python3 -c "$0"', PY_PROLOGUE + body])
    got = ctx.parse_probes(r.out)
    expect(r.returncode == 0 and "securebits_child" in got, f"{r}")
    for name in ("securebits", "securebits_child"):
        expect(got[name] == ("ok", str(LOCKED_SECUREBITS)),
               f"{name} inside: {got[name][1]}, expected {LOCKED_SECUREBITS:#x} (locked "
               f"NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE; KEEP_CAPS off and locked)")
    for label, pre in native_prefixes(ctx):
        n = py_native(ctx, body, pre)
        native = ctx.parse_probes(n.out).get("securebits", ("missing", ""))
        expect(n.returncode == 0 and native == ("ok", "0"), f"{label}: securebits {native}")


# ---------------------------------------------------------------------------------------------
# Kernel attack surface


def test_nested_user_namespaces_denied(ctx):
    """CVE-2022-0185/0492: no new user namespace (unshare, clone), clone3 answers ENOSYS so libc
    falls back to clone, and `unshare -U` fails; no other namespace either."""
    check_probes(ctx, {"unshare_user": "errno=EPERM", "clone_newuser": "errno=EPERM",
                       "clone3": "errno=ENOSYS", "unshare_ns": "errno=EPERM",
                       "setns": "errno=EPERM"})
    for argv in (["unshare", "-U", "true"], ["unshare", "-r", "id", "-u"],
                 ["unshare", "-n", "true"]):
        r = ctx.sandbox(argv)
        expect(r.returncode != 0 and "Operation not permitted" in r.err,
               f"{' '.join(argv)} inside should fail with EPERM: {r}")
    n = ctx.run(["unshare", "-U", "true"])
    expect(n.returncode == 0, f"native `unshare -U true` should work: {n}")
    n = ctx.run(["unshare", "-r", "id", "-u"])
    expect(n.returncode == 0 and n.out == "0\n", f"native `unshare -r id -u`: {n}")


def test_mount_api_and_mount_family_denied(ctx):
    """The new mount API, mount/umount/pivot_root/chroot and listmount/statmount: EPERM, and the
    host's mount table is unchanged."""
    before = host_snapshot(ctx)
    expected = {name: "errno=EPERM" for name in (
        "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
        "mount", "umount", "pivot_root", "chroot", "listmount", "statmount")}
    # As the unprivileged caller, ctx.native_probe answers EPERM for move_mount, fsopen,
    # fsmount, fspick, mount_setattr and pivot_root (privilege checked first); the
    # --map-root-user run differs for all (EBADF, ok, ENOENT...).
    check_probes(ctx, expected)
    # open_tree_attr (467, Linux 6.15): same verdict as open_tree. Natively EBADF.
    check_py_probes(ctx, 'report("open_tree_attr", sc(467, -1, b"", 0x1000, 0, 0, close=True))',
                    {"open_tree_attr": "errno=EPERM"})
    r = ctx.sandbox("mount -t tmpfs none /tmp; echo rc=$?; umount /proc; echo rc=$?")
    expect(r.out == "rc=32\nrc=32\n", f"mount(8)/umount(8) inside: {r}")
    expect_host_unchanged(ctx, before, "mount attempts")


def test_io_uring_denied(ctx):
    """io_uring's operations are invisible to seccomp: setup, enter and register are EPERM."""
    check_probes(ctx, {"io_uring_setup": "errno=EPERM"})
    body = r'''
report("io_uring_enter", sc(426, -1, 0, 0, 0, 0, 0))     # natively EBADF
report("io_uring_register", sc(427, -1, 0, 0, 0))        # natively EBADF
'''
    check_py_probes(ctx, body, {"io_uring_enter": "errno=EPERM",
                                "io_uring_register": "errno=EPERM"})


def test_userfaultfd_denied(ctx):
    # vm.unprivileged_userfaultfd=0: natively EPERM for the unprivileged caller even in a user
    # namespace (it needs CAP_SYS_PTRACE in the initial one), hence the USER_MODE_ONLY variant
    # below, which the kernel grants everyone.
    same = {} if ctx.is_root else {"userfaultfd": "vm.unprivileged_userfaultfd=0"}
    check_probes(ctx, {"userfaultfd": "errno=EPERM"}, same)
    check_py_probes(ctx, 'report("userfaultfd_user_mode_only", sc(323, 0o2000000 | 1, close=True))',
                    {"userfaultfd_user_mode_only": "errno=EPERM"})


def test_keyrings_denied(ctx):
    check_probes(ctx, {"keyctl": "errno=EPERM", "add_key": "errno=EPERM",
                       "request_key": "errno=EPERM"})


def test_bpf_and_perf_denied(ctx):
    # kernel.unprivileged_bpf_disabled=2: the unprivileged native answer is EPERM as well;
    # the oversized-attr variant below fails natively with E2BIG before any privilege check.
    same = {} if ctx.is_root else {"bpf": "kernel.unprivileged_bpf_disabled"}
    check_probes(ctx, {"bpf": "errno=EPERM", "perf_event_open": "errno=EPERM"}, same)
    body = r'''
attr = ctypes.create_string_buffer(b"\x01" * 8192)
report("bpf_big_attr", sc(321, 5, attr, 8192, close=True))
'''
    check_py_probes(ctx, body, {"bpf_big_attr": "errno=EPERM"})


def test_kexec_and_modules_denied(ctx):
    # This kernel has no CONFIG_KEXEC nor CONFIG_MODULES: natively ENOSYS, which still
    # differs from the filter's EPERM (the filter answers before the kernel's table).
    check_probes(ctx, {"kexec_load": "errno=EPERM", "init_module": "errno=EPERM",
                       "finit_module": "errno=EPERM", "delete_module": "errno=EPERM"})
    check_py_probes(ctx, 'report("kexec_file_load", sc(320, -1, -1, 0, 0, 0))',
                    {"kexec_file_load": "errno=EPERM"})


def test_open_by_handle_shocker_denied(ctx):
    check_probes(ctx, {"open_by_handle_at": "errno=EPERM", "name_to_handle_at": "errno=EPERM"})


def test_personality_flags_denied_query_allowed(ctx):
    """personality: the query (0xffffffff) stays allowed (libc does it), flags such as
    ADDR_NO_RANDOMIZE (no ASLR) and READ_IMPLIES_EXEC are EPERM, also with high bits set. The
    policy allows the query only (seccomp_policy.c), so PER_LINUX/PER_LINUX32 are not
    asserted either way."""
    check_probes(ctx, {"personality": "errno=EPERM", "personality_query": "ok"})
    body = r'''
def persona(name, value):
    old = _libc.personality(ctypes.c_ulong(0xffffffff))
    res = sc(135, value)
    _libc.personality(ctypes.c_ulong(old))
    report(name, res)
persona("read_implies_exec", 0x0400000)
persona("addr_no_randomize_hi", 0x0040000 | (1 << 32))
persona("addr_compat_layout", 0x0200000)
'''
    check_py_probes(ctx, body, {"read_implies_exec": "errno=EPERM",
                                "addr_no_randomize_hi": "errno=EPERM",
                                "addr_compat_layout": "errno=EPERM"})
    r = ctx.sandbox(["setarch", "x86_64", "-R", "true"])
    expect(r.returncode != 0 and "not permitted" in r.err, f"setarch -R inside: {r}")
    n = ctx.run(["setarch", "x86_64", "-R", "true"])
    expect(n.returncode == 0, f"native setarch -R: {n}")


def test_socket_families(ctx):
    # AF_ALG: this kernel has no CONFIG_CRYPTO_USER_API, so natively EAFNOSUPPORT too, the
    # same answer the filter gives for every refused family.
    same = {"socket_alg": "no CONFIG_CRYPTO_USER_API: EAFNOSUPPORT natively too"}
    check_probes(ctx, {"socket_packet": "errno=EAFNOSUPPORT",
                       "socket_netlink_audit": "errno=EPROTONOSUPPORT",
                       "socket_vsock": "errno=EAFNOSUPPORT", "socket_alg": "errno=EAFNOSUPPORT",
                       "socket_inet": "ok", "socket_unix": "ok",
                       "socket_netlink_route": "ok"}, same)
    # High bits in the family or the netlink protocol: the kernel takes ints and drops them.
    body = r'''
HI = 1 << 32
report("packet_hi", sc(41, 17 | HI, 3, 0, close=True))
report("netlink_hi_audit", sc(41, 16 | HI, 3, 9, close=True))
report("netlink_audit_hi", sc(41, 16, 3, 9 | HI, close=True))
report("vsock_hi", sc(41, 40 | HI, 1, 0, close=True))
report("inet6", sc(41, 10, 1, 0, close=True))
report("netlink_route_dgram", sc(41, 16, 2, 0, close=True))
bad = []
for fam in range(0, 46):
    if fam in (1, 2, 10, 16):
        continue
    res = sc(41, fam, 1, 0, close=True)
    if res != "errno=EAFNOSUPPORT":
        bad.append(f"{fam}:{res}")
report("other_families", "ok", ",".join(bad) or "all-EAFNOSUPPORT")
'''
    inside, _ = check_py_probes(ctx, body, {
        "packet_hi": "errno=EAFNOSUPPORT", "netlink_hi_audit": "errno=EAFNOSUPPORT",
        "netlink_audit_hi": "errno=EPROTONOSUPPORT", "vsock_hi": "errno=EAFNOSUPPORT",
        "inet6": "ok", "netlink_route_dgram": "ok"})
    expect(inside["other_families"][1] == "all-EAFNOSUPPORT",
           f"families 0-45 other than unix/inet/inet6/netlink not refused with EAFNOSUPPORT: "
           f"{inside['other_families'][1]}")


# int 0x80 getpid (i386 #20) and an x32 getpid, each from a second thread: the filter kills
# the whole process (KILL_PROCESS), not just the thread.
OTHER_ABI_THREAD = r'''
import mmap, resource, threading
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGSYS dumps core by default: no core file
which = sys.argv[1]
if which == "int80":
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(b"\xb8\x14\x00\x00\x00\xcd\x80\xc3")  # mov eax,20; int 0x80; ret
    fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
else:
    fn = lambda: _libc.syscall(ctypes.c_long(0x40000000 | 39))
out = []
t = threading.Thread(target=lambda: out.append(fn()))
t.start()
t.join()
print("survived", out, os.getpid(), flush=True)
'''


def test_other_syscall_abis_killed(ctx):
    """x32 and i386 (int 0x80) syscalls: SIGSYS inside (31), natively int 0x80 works and x32
    is ENOSYS (no CONFIG_X86_X32_ABI here)."""
    check_probes(ctx, {"x32_getpid": "signal=31", "int80_getpid": "signal=31"})
    for which in ("int80", "x32"):
        body = f"sys.argv[1:] = [{which!r}]\n" + OTHER_ABI_THREAD
        r = py_inside(ctx, body)
        expect(r.returncode == 128 + 31 and "survived" not in r.out,
               f"{which} from a thread: expected the whole process killed by SIGSYS "
               f"(exit 159), got {r}")
        n = py_native(ctx, body, native_prefixes(ctx)[0][1])
        expect(n.returncode == 0 and "survived" in n.out, f"{which} natively: {n}")
        if which == "int80":
            # getpid through the i386 table returns the real pid natively.
            expect(re.search(r"survived \[(\d+)\] \1$", n.out.strip()), f"native int80: {n}")


def test_sethostname_denied_host_unchanged(ctx):
    before = host_snapshot(ctx)
    # Natively the length -1 is refused (EINVAL) right after the privilege check, by real
    # root or by root of a user namespace owning a new UTS namespace (--map-root-user --uts);
    # the unprivileged caller's --map-current-user run answers EPERM.
    check_probes(ctx, {"sethostname": "errno=EPERM"})
    check_py_probes(ctx, 'report("setdomainname", sc(171, b"evil", -1))',
                    {"setdomainname": "errno=EPERM"})
    evil = f"evil{time.monotonic_ns() % 10**6}"
    r = ctx.sandbox(f"hostname {evil}; echo rc=$?; echo {evil} > /proc/sys/kernel/hostname; "
                    f"echo rc=$?; hostname")
    expect("rc=0" not in r.out and evil not in r.out.splitlines()[-1], f"{r}")
    expect_host_unchanged(ctx, before, "sethostname attempts")


def test_setuid_root_and_setgroups_denied(ctx):
    # Inside, uid/gid 0 are not mapped: EINVAL. setgroups is denied for the namespace
    # (/proc/self/setgroups "deny"): EPERM. As the unprivileged caller setgroups is EPERM
    # natively too (unshare --map-root-user writes "deny" as well).
    same = {} if ctx.is_root else {"setgroups": "setgroups denied in every unprivileged userns"}
    check_probes(ctx, {"setuid0": "errno=EINVAL", "setgid0": "errno=EINVAL",
                       "setgroups": "errno=EPERM"}, same)
    r = ctx.sandbox(["python3", "-c", "import os\ntry:\n os.setresuid(0,0,0)\nexcept OSError "
                     "as e: print(e.errno)\nprint(os.getresuid())"])
    expect(r.out == "22\n(10001, 10001, 10001)\n", f"{r}")
    r = ctx.sandbox("cat /proc/self/setgroups /proc/self/uid_map /proc/self/gid_map")
    fields = r.out.split()
    expect(fields == ["deny", "10001", str(ctx.host_uid), "1", "10001",
                      str(10001 if ctx.is_root else ctx.user.pw_gid), "1"], f"{r}")


def test_host_wide_calls_denied(ctx):
    """syslog, reboot, swapon, acct, clock_settime, iopl/ioperm, modify_ldt, kcmp,
    lookup_dcookie, quotactl, vhangup: EPERM."""
    before = host_snapshot(ctx)
    # No CONFIG_X86_IOPL_IOPERM here, lookup_dcookie is gone: natively ENOSYS, which differs.
    same = {}
    if not ctx.is_root:
        # Privilege checked in the initial user namespace first: EPERM natively too.
        same = {"syslog": "dmesg_restrict / CAP_SYSLOG", "swapon": "CAP_SYS_ADMIN",
                "acct": "CAP_SYS_PACCT", "vhangup": "CAP_SYS_TTY_CONFIG"}
    check_probes(ctx, {name: "errno=EPERM" for name in (
        "syslog", "reboot", "swapon", "acct", "clock_settime", "iopl", "ioperm", "modify_ldt",
        "kcmp", "lookup_dcookie", "quotactl", "vhangup")}, same)
    r = ctx.sandbox("dmesg >/dev/null; echo rc=$?")
    expect(r.out == "rc=1\n", f"dmesg inside: {r}")
    expect_host_unchanged(ctx, before, "host-wide calls")


# ---------------------------------------------------------------------------------------------
# Ordinary programs still work


def test_positive_shell_pipeline(ctx):
    r = ctx.sandbox("seq 1 1000 | grep 7 | sort -rn | awk '{s += $1} END {print s}' | "
                    "sed 's/^/sum=/' | tee /tmp/out >/dev/null; cat /tmp/out; "
                    "echo hi | wc -c; cd /tmp && mkdir -p a/b && touch a/b/c && find a | sort")
    expect(r.returncode == 0, f"{r}")
    want = sum(i for i in range(1, 1001) if "7" in str(i))
    expect(r.out == f"sum={want}\n3\na\na/b\na/b/c\n", f"{r}")


PY_POSITIVE = r'''
import mmap, multiprocessing, os, signal, socket, subprocess, threading
def square(x):
    return x * x
if __name__ == "__main__":
    out = []
    n = []
    threads = [threading.Thread(target=lambda i=i: n.append(i)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    out.append(f"threads={len(n)}")
    out.append("subprocess=" + subprocess.run(["echo", "sub"], capture_output=True,
                                              text=True).stdout.strip())
    a, b = socket.socketpair()
    a.sendall(b"ping")
    out.append("socketpair=" + b.recv(4).decode())
    m = mmap.mmap(-1, 8192)
    m[:5] = b"hello"
    out.append("mmap=" + m[:5].decode())
    got = []
    signal.signal(signal.SIGUSR1, lambda *a: got.append("usr1"))
    os.kill(os.getpid(), signal.SIGUSR1)
    out.append("signal=" + ",".join(got))
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=q.put, args=("mp",))
    p.start()
    out.append("process=" + q.get(timeout=20))
    p.join()
    with multiprocessing.Pool(2) as pool:
        out.append("pool=" + str(sum(pool.map(square, range(10)))))
    lock = multiprocessing.Semaphore(1)
    out.append("semaphore=" + str(lock.acquire(timeout=5)))
    out.append("shm=" + str(os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)))
    print(" ".join(out))
'''


def test_positive_python(ctx):
    r = ctx.sandbox(["python3", "-c", PY_POSITIVE], timeout=60)
    expect(r.returncode == 0, f"{r}")
    expect(r.out == "threads=8 subprocess=sub socketpair=ping mmap=hello signal=usr1 "
                    "process=mp pool=285 semaphore=True shm=True\n", f"{r}")


def test_positive_c_compile_and_run(ctx):
    if not shutil.which("gcc"):
        raise harness.Skip("gcc is not installed on the host")
    src = r'''
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
static void *run(void *arg) { return arg; }
int main(void) {
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, run, (void *)42);
    pthread_join(t, &ret);
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    int st;
    waitpid(pid, &st, 0);
    printf("hello from C uid=%d thread=%ld child=%d\n", (int)getuid(), (long)ret, st >> 8);
    return 0;
}
'''
    r = ctx.sandbox("cd /tmp && cat > hello.c && gcc -O1 -pthread -include sys/wait.h "
                    "-o hello hello.c && ./hello", input=src.encode(), timeout=60)
    expect(r.returncode == 0, f"{r}")
    expect(r.out == "hello from C uid=10001 thread=42 child=7\n", f"{r}")


def test_positive_loopback_tcp(ctx):
    script = r'''
import socket, threading
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
port = srv.getsockname()[1]
def serve():
    c, _ = srv.accept()
    c.sendall(c.recv(100).upper())
    c.close()
t = threading.Thread(target=serve)
t.start()
cli = socket.create_connection(("127.0.0.1", port), timeout=5)
cli.sendall(b"hello over loopback")
print(cli.recv(100).decode())
t.join()
print(sorted(n for _, n in socket.if_nameindex()))
'''
    r = ctx.sandbox(["python3", "-c", script])
    expect(r.returncode == 0 and r.out == "HELLO OVER LOOPBACK\n['lo']\n", f"{r}")


def test_positive_devices_and_pty(ctx):
    script = r'''
import os, pty
with open("/dev/null", "w") as f:
    f.write("discard")
with open("/dev/null", "rb") as f:
    assert f.read() == b""
with open("/dev/urandom", "rb") as f:
    a, b = f.read(32), f.read(32)
assert len(a) == 32 and a != b
with open("/dev/zero", "rb") as f:
    assert f.read(16) == bytes(16)
assert len(os.urandom(16)) == 16
import select, termios
m, s = pty.openpty()
name = os.ttyname(s)
attrs = termios.tcgetattr(s)
attrs[3] &= ~termios.ECHO
termios.tcsetattr(s, termios.TCSANOW, attrs)
os.write(m, b"typed\n")
line = os.read(s, 100)
os.write(s, b"shown\n")
back = b""
while b"shown\r\n" not in back and select.select([m], [], [], 5)[0]:
    back += os.read(m, 100)
print(name.startswith("/dev/pts/"), line, b"shown\r\n" in back)
'''
    r = ctx.sandbox(["python3", "-c", script])
    expect(r.returncode == 0 and r.out == "True b'typed\\n' True\n", f"{r}")
    r = ctx.sandbox("head -c 16 /dev/urandom | wc -c; echo x > /dev/null && echo null-ok")
    expect(r.out == "16\nnull-ok\n", f"{r}")
