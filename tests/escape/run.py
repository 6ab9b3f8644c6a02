#!/usr/bin/env python3
"""The escape runner: hostile programs inside real sandboxes, one line per technique.

    BLOCKED  the attempt's specific failure was seen inside AND the host-side checks of that
             technique (stockade's hash, a marker file, a server that must hear nothing, a
             sentinel process, the host's hostname, mount table, /proc values) show no change
    ESCAPED  the attempt succeeded inside, or a host-side check changed
    ERROR    anything else: an unexpected outcome, a missing result, or a probe that could not
             be shown to work unsandboxed (the differential) without a recorded reason

Differential: every hostile program also runs unsandboxed, as the same caller, in a throwaway
PID namespace (and for the unprivileged caller in a throwaway user namespace, once with
--map-current-user and once with --map-root-user, where it holds every capability over its
own namespaces). There it must succeed, or at least get past the check the sandbox adds
(arguments are harmless: see the programs), unless README.md's table says why this kernel
answers the same way natively.

Positive probes (ordinary programs that must keep working) are reported OK / BROKEN.
The summary line is `escape [MODE]: N blocked, N escaped, N error; ...`. Exit status 1 if
anything escaped, errored or broke.

usage: tests/escape/run.py --build BUILD [--mode root|user|both] [-k SUBSTRING]
(as root; tests/integration/test_escape.py runs the same thing inside tests/run.py)
"""
import argparse
import fcntl
import hashlib
import importlib.util
import os
import pty
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, os.path.dirname(HERE))  # tests/run.py's own imports (skips)

import harness  # noqa: E402

SIGUSR2 = int(signal.SIGUSR2)

# ---------------------------------------------------------------------------------------------
# The techniques. try-syscall probes: (group, probe, outcome that shows the defence).

TRY = [
    ("terminal", "tiocsti", "errno=EPERM"),
    ("terminal", "tiocsti_hi", "errno=EPERM"),
    ("terminal", "tioclinux", "errno=EPERM"),
    ("runtime", "proc1_exe_write", "errno=EACCES"),
    ("runtime", "proc1_mem_write", "errno=EACCES"),
    ("runtime", "proc1_environ", "errno=EACCES"),
    ("runtime", "ptrace_traceme", "errno=EPERM"),
    ("runtime", "ptrace_attach", "errno=EPERM"),
    ("runtime", "ptrace_attach_pid1", "errno=EPERM"),
    ("runtime", "process_vm_writev", "errno=EPERM"),
    ("runtime", "pidfd_getfd", "errno=EPERM"),
    ("runtime", "setuid0", "errno=EINVAL"),
    ("runtime", "setgid0", "errno=EINVAL"),
    ("runtime", "setgroups", "errno=EPERM"),
    ("runtime", "fd_leak", "ok"),
    ("runtime", "cwd", "ok"),
    ("runtime", "caps", "ok"),
    ("mounts", "mount", "errno=EPERM"),
    ("mounts", "umount", "errno=EPERM"),
    ("mounts", "pivot_root", "errno=EPERM"),
    ("mounts", "chroot", "errno=EPERM"),
    ("mounts", "open_tree", "errno=EPERM"),
    ("mounts", "move_mount", "errno=EPERM"),
    ("mounts", "fsopen", "errno=EPERM"),
    ("mounts", "fsconfig", "errno=EPERM"),
    ("mounts", "fsmount", "errno=EPERM"),
    ("mounts", "fspick", "errno=EPERM"),
    ("mounts", "mount_setattr", "errno=EPERM"),
    ("mounts", "listmount", "errno=EPERM"),
    ("mounts", "statmount", "errno=EPERM"),
    ("kernel", "unshare_user", "errno=EPERM"),
    ("kernel", "unshare_ns", "errno=EPERM"),
    ("kernel", "clone_newuser", "errno=EPERM"),
    ("kernel", "clone3", "errno=ENOSYS"),
    ("kernel", "setns", "errno=EPERM"),
    ("kernel", "io_uring_setup", "errno=EPERM"),
    ("kernel", "userfaultfd", "errno=EPERM"),
    ("kernel", "keyctl", "errno=EPERM"),
    ("kernel", "add_key", "errno=EPERM"),
    ("kernel", "request_key", "errno=EPERM"),
    ("kernel", "bpf", "errno=EPERM"),
    ("kernel", "perf_event_open", "errno=EPERM"),
    ("kernel", "kexec_load", "errno=EPERM"),
    ("kernel", "init_module", "errno=EPERM"),
    ("kernel", "finit_module", "errno=EPERM"),
    ("kernel", "delete_module", "errno=EPERM"),
    ("kernel", "open_by_handle_at", "errno=EPERM"),
    ("kernel", "name_to_handle_at", "errno=EPERM"),
    ("kernel", "personality", "errno=EPERM"),
    ("kernel", "socket_packet", "errno=EAFNOSUPPORT"),
    ("kernel", "socket_netlink_audit", "errno=EPROTONOSUPPORT"),
    ("kernel", "socket_vsock", "errno=EAFNOSUPPORT"),
    ("kernel", "socket_alg", "errno=EAFNOSUPPORT"),
    ("kernel", "x32_getpid", "signal=31"),
    ("kernel", "int80_getpid", "signal=31"),
    ("kernel", "sethostname", "errno=EPERM"),
    ("kernel", "syslog", "errno=EPERM"),
    ("kernel", "reboot", "errno=EPERM"),
    ("kernel", "swapon", "errno=EPERM"),
    ("kernel", "acct", "errno=EPERM"),
    ("kernel", "clock_settime", "errno=EPERM"),
    ("kernel", "iopl", "errno=EPERM"),
    ("kernel", "ioperm", "errno=EPERM"),
    ("kernel", "modify_ldt", "errno=EPERM"),
    ("kernel", "kcmp", "errno=EPERM"),
    ("kernel", "lookup_dcookie", "errno=EPERM"),
    ("kernel", "quotactl", "errno=EPERM"),
    ("kernel", "vhangup", "errno=EPERM"),
]

ZERO_CAPS = "0000000000000000"


# A volume the escape-fs batch mounts read-only: a file in it belongs to the sandbox user and
# is mode 0666, so only the mount's read-only flag can refuse a write (setup_env makes it).
RO_VOLUME, RO_VOLUME_GUEST = "escape-ro", "/ro"


def check_detail(probe, detail, env):
    """For the probes whose outcome is "ok" with a detail: is the detail the defended one?"""
    if probe == "fd_leak":
        return detail == "fds:none"
    if probe == "cwd":
        return detail == "/home/sandbox"
    if probe == "caps":
        fields = dict(kv.split(":", 1) for kv in detail.split(",") if ":" in kv)
        return (all(fields.get(c) == ZERO_CAPS for c in
                    ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"))
                and fields.get("NoNewPrivs") == "1" and fields.get("Seccomp") == "2"
                and fields.get("Uid", "").split("/")[0] == "10001")
    if probe == "read_masked:kallsyms":
        return detail == "bytes=0"
    if "@" in probe:  # run_terminal: it acted on a terminal, which must not be the caller's
        return detail.startswith("terminal:") and detail not in env.get("caller_ttys", ())
    return True


def fs_probes(env, native):
    """escape-fs probes: (group, name, argument, outcomes that show the defence).
    native=True gives the unsandboxed run's arguments (its own marker and node directory).
    An argument of None is a technique this host gave the runner no target for: it is still
    listed, and the batch check reports it as a missing result (env["absent"] says why)."""
    d = env["dir"]
    probes = [
        ("mounts", "write_append:usr", "/usr/lib/os-release", {"errno=EROFS", "errno=EACCES"}),
        # The read-only mounts alone: a name created under /usr, core_pattern opened with
        # O_TRUNC, and files the sandbox user owns (its /etc copies in the root tmpfs, a
        # volume mounted :ro). The kernel answers EROFS before it looks at permissions (a
        # new name, O_TRUNC) or the owner may write (the owned files): only the mount's
        # read-only flag gives EROFS, and Landlock, which would refuse next, says EACCES.
        ("mounts", "create:usr", os.path.join(d, "nodes", "created") if native
         else "/usr/stockade-escape-created", {"errno=EROFS"}),
        ("mounts", "write_append:etc", "/etc/passwd", {"errno=EROFS"}),
        ("mounts", "write_append:ro_volume", env["ro_volume_file"] if native
         else RO_VOLUME_GUEST + "/file", {"errno=EROFS"}),
        ("mounts", "marker:host_file", os.path.join(d, "native-marker" if native else "marker"),
         {"errno=ENOENT"}),
        ("mounts", "open_read:host_dir", d, {"errno=ENOENT"}),
        ("mounts", "open_read:dotdot_shadow", "/../../../etc/shadow", {"errno=ENOENT"}),
        ("mounts", "open_read:proc1_root", "/proc/1/root/etc/passwd", {"errno=EACCES"}),
        ("mounts", "open_write:core_pattern", "/proc/sys/kernel/core_pattern",
         {"errno=EACCES", "errno=EROFS"}),
        ("mounts", "open_trunc:core_pattern", "/proc/sys/kernel/core_pattern", {"errno=EROFS"}),
        ("mounts", "read_masked:kallsyms", "/proc/kallsyms", {"ok"}),
        ("mounts", "mknod_mem:dev_mem", os.path.join(d, "nodes") if native else "/tmp",
         {"errno=EPERM"}),
        ("mounts", "open_write:release_agent", env.get("release_agent"), {"errno=ENOENT"}),
        ("mounts", "open_read:block_device", env.get("block_device"), {"errno=ENOENT"}),
    ]
    # Through exec, the caller's terminal on stderr never enters the sandbox at all (the exec
    # client relays it through a pipe): fd 2 is then no terminal, a stronger answer.
    probes.append(("terminal", "tiocsti:caller_terminal", "2",
                   {"errno=EPERM", "errno=ENOTTY"} if VIA_EXEC else {"errno=EPERM"}))
    # The caller's terminal is stockade's controlling terminal: the workload runs in a new
    # session, so /dev/tty (the controlling terminal) does not open (ENXIO).
    probes.append(("terminal", "open_read:controlling_tty", "/dev/tty", {"errno=ENXIO"}))
    return probes


def kill_probe(env):
    return ("runtime", "kill:host_process", f"{env['sentinel_pid']}:{SIGUSR2}",
            {"errno=ESRCH", "errno=EPERM"})


def net_probes(env):
    s = env["servers"]
    host_ip = env.get("host_ip")
    return [
        ("network", "tcp:host_loopback", f"127.0.0.1:{s.tcp_port}", {"errno=ECONNREFUSED"}),
        ("network", "tcp6:host_loopback6", f"::1,{s.tcp6_port}", {"errno=ECONNREFUSED"}),
        ("network", "udp:host_loopback", f"127.0.0.1:{s.udp_port}", {"errno=ECONNREFUSED"}),
        ("network", "raw:icmp", "-", {"errno=EPERM"}),
        ("network", "unix_abstract:host", s.abstract_name, {"errno=EPERM", "errno=ECONNREFUSED"}),
        ("network", "unix_path:host", s.unix_path, {"errno=ENOENT"}),
        ("network", "tcp:host_address", host_ip and f"{host_ip}:{s.tcp_port}",
         {"errno=ENETUNREACH"}),
        ("network", "udp:host_address", host_ip and f"{host_ip}:{s.udp_port}",
         {"errno=ENETUNREACH"}),
    ]


# Through the egress proxy of an allowlist run (--allow-net of one name on the SNI server's
# port): a tunnel to the allowed name that stays silent past the proxy's peek time (1 s),
# then starts TLS for another name on the same address. The proxy must have closed it; the
# SNI server must never see the other name. Natively the same program goes through a relay
# that checks nothing (NaiveRelay), and the server answers for the hidden name.
EGRESS_NAME = "front.escape.test"
EGRESS_HIDDEN = "hidden.escape.test"


def egress_probes(env, native):
    s = env["sni"]
    target = f"{EGRESS_NAME}:{s.port}"
    blocked = {"errno=ECONNRESET", "errno=EPIPE"}
    probes = []
    for kind, proxy_port in (("connect", 3128), ("socks5", 1080)):
        proxy = f"127.0.0.1:{env['relay'].port if native else proxy_port}"
        probes.append(("network", f"tunnel_{kind}:silent_then_other_sni",
                       f"{proxy},{target},{EGRESS_HIDDEN},2000", blocked))
    return probes


# Shell techniques: (group, name, command, stderr text of the specific failure).
SHELL = [
    ("kernel", "sh:unshare_U", "unshare -U true", "Operation not permitted"),
    ("kernel", "sh:unshare_r", "unshare -r id -u", "Operation not permitted"),
    # busybox: util-linux's mount(8) and hostname(1) refuse a non-root caller themselves,
    # before any syscall; busybox makes the call and prints the kernel's answer.
    ("mounts", "sh:mount_tmpfs", "busybox mount -t tmpfs none /tmp",
     "permission denied (are you root?)"),
    ("kernel", "sh:hostname", "busybox hostname stockade-escaped",
     "sethostname: Operation not permitted"),
    ("kernel", "sh:setarch_no_aslr", "setarch x86_64 -R true", "not permitted"),
    ("runtime", "sh:setpriv_ambient",
     "setpriv --inh-caps=+net_bind_service --ambient-caps=+net_bind_service true",
     "not permitted"),
]

# What the kernel answers natively exactly as the sandbox does, per mode: the differential
# cannot show these here. Copied into README.md; a probe that turns "same natively" without
# an entry here is an ERROR (it no longer shows the attack).
SAME_NATIVELY = {
    ("root", "socket_alg"): "no CONFIG_CRYPTO_USER_API on this kernel: EAFNOSUPPORT natively",
    ("user", "socket_alg"): "no CONFIG_CRYPTO_USER_API on this kernel: EAFNOSUPPORT natively",
    ("user", "userfaultfd"): "vm.unprivileged_userfaultfd=0: EPERM natively (needs "
                             "CAP_SYS_PTRACE in the initial user namespace)",
    ("user", "bpf"): "kernel.unprivileged_bpf_disabled=2: EPERM natively",
    ("user", "proc1_exe_write"): "the native PID 1 runs a root-owned binary: EACCES natively",
    ("user", "setgroups"): "setgroups is denied in every unprivileged user namespace",
    ("user", "syslog"): "dmesg_restrict: CAP_SYSLOG in the initial user namespace",
    ("user", "swapon"): "CAP_SYS_ADMIN in the initial user namespace",
    ("user", "acct"): "CAP_SYS_PACCT in the initial user namespace",
    ("user", "vhangup"): "CAP_SYS_TTY_CONFIG in the initial user namespace",
    ("user", "raw:icmp"): "CAP_NET_RAW over the host's network namespace (a user namespace "
                          "gets it only over a network namespace of its own)",
    ("user", "mknod_mem:dev_mem"): "mknod of a device needs CAP_MKNOD in the initial user "
                                   "namespace",
    ("user", "write_append:usr"): "/usr belongs to host root: EACCES natively (as root the "
                                  "differential shows it: ok natively)",
    ("user", "open_write:core_pattern"): "owned by host root: EACCES natively",
}


# ---------------------------------------------------------------------------------------------
# Host side: servers that must hear nothing, a sentinel process, snapshots


class Servers:
    """TCP (v4 and v6), UDP, abstract and path unix servers on the host; each counts what it
    receives. The runner reads the counts around each run."""

    def __init__(self, directory, owner):
        self.hits = {}
        self.lock = threading.Lock()
        self.stop = False
        self.tcp = self._bind(socket.AF_INET, socket.SOCK_STREAM, ("0.0.0.0", 0))
        self.tcp_port = self.tcp.getsockname()[1]
        self.tcp6 = self._bind(socket.AF_INET6, socket.SOCK_STREAM, ("::", 0), v6only=True)
        self.tcp6_port = self.tcp6.getsockname()[1]
        self.udp = self._bind(socket.AF_INET, socket.SOCK_DGRAM, ("0.0.0.0", 0))
        self.udp_port = self.udp.getsockname()[1]
        self.abstract_name = f"stockade-escape-{os.getpid()}-{time.monotonic_ns()}"
        self.abstract = self._bind(socket.AF_UNIX, socket.SOCK_STREAM, "\0" + self.abstract_name)
        self.unix_path = os.path.join(directory, "host.sock")
        self.unix = self._bind(socket.AF_UNIX, socket.SOCK_STREAM, self.unix_path)
        os.chmod(self.unix_path, 0o777)
        os.chown(self.unix_path, owner[0], owner[1])
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    @staticmethod
    def _bind(family, kind, addr, v6only=False):
        s = socket.socket(family, kind)
        if v6only:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(addr)
        if kind == socket.SOCK_STREAM:
            s.listen(16)
        return s

    def _count(self, name):
        with self.lock:
            self.hits[name] = self.hits.get(name, 0) + 1

    def _loop(self):
        names = {self.tcp: "tcp", self.tcp6: "tcp6", self.udp: "udp",
                 self.abstract: "unix_abstract", self.unix: "unix_path"}
        while not self.stop:
            ready, _, _ = select.select(list(names), [], [], 0.2)
            for s in ready:
                if s is self.udp:
                    data, peer = s.recvfrom(4096)
                    self._count("udp")
                    s.sendto(b"echo:" + data[:32], peer)
                    continue
                conn, _ = s.accept()
                self._count(names[s])
                conn.close()

    def snapshot(self):
        with self.lock:
            return dict(self.hits)

    def close(self):
        self.stop = True
        self.thread.join(timeout=2)
        for s in (self.tcp, self.tcp6, self.udp, self.abstract, self.unix):
            s.close()


class SniServer(harness.LoopbackServer):
    """A TLS server's front door: reads a ClientHello, records its server_name and answers
    "sni-seen:NAME" (no handshake: the name reaching it is the escape)."""

    def __init__(self):
        self.seen = []
        self.lock = threading.Lock()
        super().__init__(backlog=16)

    @staticmethod
    def server_name(data):
        """The host_name of the ClientHello in one record at the start of data, or None."""
        try:
            pos = 9 + 2 + 32
            pos += 1 + data[pos]
            pos += 2 + int.from_bytes(data[pos:pos + 2], "big")
            pos += 1 + data[pos]
            end = pos + 2 + int.from_bytes(data[pos:pos + 2], "big")
            pos += 2
            while pos + 4 <= end:
                kind = int.from_bytes(data[pos:pos + 2], "big")
                size = int.from_bytes(data[pos + 2:pos + 4], "big")
                if kind == 0:
                    name_len = int.from_bytes(data[pos + 7:pos + 9], "big")
                    return data[pos + 9:pos + 9 + name_len].decode("ascii", "replace")
                pos += 4 + size
        except (IndexError, ValueError):
            pass
        return None

    def _serve(self, conn):
        conn.settimeout(5)
        data = b""
        try:
            while len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big"):
                chunk = conn.recv(16384)
                if not chunk:
                    break
                data += chunk
            name = self.server_name(data)
            if name is not None:
                with self.lock:
                    self.seen.append(name)
                conn.sendall(f"sni-seen:{name}\n".encode())
        except OSError:
            pass
        conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.seen)

    def close(self):
        self.sock.close()


class NaiveRelay(harness.LoopbackServer):
    """The differential's proxy: HTTP CONNECT and SOCKS5 (no authentication) to 127.0.0.1 at
    the requested port, whatever the name, and then a raw relay — what a tunnel is when
    nothing checks what it carries."""

    def __init__(self):
        super().__init__(backlog=16)

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, conn):
        try:
            first = conn.recv(3)
            if first[:1] == b"\x05":
                conn.sendall(b"\x05\x00")
                head = conn.recv(5)
                rest = conn.recv(head[4] + 2)
                port = int.from_bytes(rest[-2:], "big")
                answer = b"\x05\x00\x00\x01\x7f\x00\x00\x01" + rest[-2:]
            else:
                head = first
                while b"\r\n\r\n" not in head:
                    head += conn.recv(1024)
                port = int(head.split(b" ")[1].rsplit(b":", 1)[1])
                answer = b"HTTP/1.1 200 Connection established\r\n\r\n"
            upstream = socket.create_connection(("127.0.0.1", port))
            conn.sendall(answer)
        except (OSError, IndexError, ValueError):
            conn.close()
            return
        threading.Thread(target=self._pipe, args=(conn, upstream), daemon=True).start()
        self._pipe(upstream, conn)

    def close(self):
        self.sock.close()


SENTINEL = r'''
import os, signal, sys, time
path = sys.argv[1]
def hit(*_):
    with open(path, "a") as f:
        f.write("signalled\n")
signal.signal(signal.SIGUSR2, hit)
open(path + ".ready", "w").close()
while True:
    time.sleep(60)
'''


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return f"<{e.strerror}>"


def host_mounts(env):
    """The host's mount table, without the mounts other test runs make in their own
    /tmp/stockade-* directories (the volume tests mount tmpfs there; on a shared machine they
    may run at the same time as this runner)."""
    lines = []
    for line in read("/proc/self/mountinfo").splitlines():
        point = line.split()[4] if len(line.split()) > 4 else ""
        if point.startswith("/tmp/stockade-") and not point.startswith(env["dir"]):
            continue
        lines.append(line)
    return sorted(lines)


def host_state(ctx, env):
    """Everything a technique could change on the host, read from the host."""
    st = os.stat(ctx.stockade_path)
    return {
        "stockade sha256": sha256(ctx.stockade_path),
        "stockade inode/mode/mtime": (st.st_ino, st.st_mode, st.st_mtime_ns, st.st_uid),
        "hostname": os.uname().nodename,
        "domainname": read("/proc/sys/kernel/domainname"),
        "core_pattern": read("/proc/sys/kernel/core_pattern"),
        "host mountinfo": host_mounts(env),
        "marker": read(os.path.join(env["dir"], "marker")),
        "host dir": sorted(os.listdir(env["dir"])),
        "plant dir": sorted(os.listdir(os.path.join(env["dir"], "plant"))),
        "sentinel": (read(env["sentinel_file"]), env["sentinel"].poll()),
        "servers": env["servers"].snapshot(),
        "sni": env["sni"].snapshot(),
        "pty input": env.get("pty_input", ""),
        "caller terminal": env.get("caller_terminal", ""),
        "scope target": read(env["scope_record"]) if env.get("scope_record") else "",
    }


def diff_state(before, after, keys):
    changed = []
    for key in keys:
        if before.get(key) != after.get(key):
            if isinstance(before.get(key), dict) and isinstance(after.get(key), dict):
                changed += [f"{key}: {k} {before[key].get(k)!r} -> {after[key].get(k)!r}"
                            for k in before[key] if before[key].get(k) != after[key].get(k)]
            elif key == "host mountinfo":
                new = sorted(set(after[key]) - set(before[key]))
                gone = sorted(set(before[key]) - set(after[key]))
                changed.append(f"host mount table changed: new {new[:3]} gone {gone[:3]}")
            else:
                changed.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    return changed


ALWAYS = ["stockade sha256", "stockade inode/mode/mtime", "hostname", "domainname",
          "core_pattern", "host mountinfo", "marker", "host dir", "plant dir"]
_BASE = ("stockade hash+inode, hostname, domainname, core_pattern, mount table, marker, "
         "host dirs")
HOST_CHECKS = {"network": _BASE + ", servers and the in-namespace target heard nothing, SNI "
                          "server saw no name",
               "terminal": _BASE + ", pty input, the caller's terminal (settings, window size, "
                                   "output flowing, no SIGWINCH/SIGINT to its foreground group)",
               "runtime": _BASE + ", sentinel and in-namespace target not signalled",
               "mounts": _BASE, "kernel": _BASE}
HOST_KEYS = {"network": ALWAYS + ["servers", "scope target", "sni"],
             "terminal": ALWAYS + ["pty input", "caller terminal"],
             "runtime": ALWAYS + ["sentinel", "scope target"], "mounts": ALWAYS,
             "kernel": ALWAYS}


# ---------------------------------------------------------------------------------------------
# Running the programs


def feed_script(stdin_redirect="</dev/null"):
    return 'cat > /tmp/h && chmod 700 /tmp/h && exec /tmp/h "$@" ' + stdin_redirect


# Set by the suite's second escape test: each hostile program then runs as `stockade exec` in a
# long-lived sandbox made with the same options (`run -d`), which must carry every layer too.
VIA_EXEC = False
_exec_count = [0]


def run_inside(ctx, program, args, pass_fds=(), cwd=None, stderr=subprocess.PIPE,
               preexec_fn=None, opts=()):
    """A static program fed through stdin into a sandbox; (parsed results, Result-ish)."""
    with open(ctx.helper(program), "rb") as f:
        data = f.read()
    command = ["--", "sh", "-c", feed_script(), "sh"] + list(args)
    name = None
    if VIA_EXEC:
        _exec_count[0] += 1
        name = f"escape-{os.getpid()}-{_exec_count[0]}"
        started = ctx.run([ctx.stockade_path, "run", "-d", "--name", name, *opts])
        if started.returncode != 0:
            raise AssertionError(f"run -d {opts}: {started}")
        argv = [ctx.stockade_path, "exec", "-i", name] + command
    else:
        argv = [ctx.stockade_path, "run", *opts] + command
    p = ctx.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                  pass_fds=pass_fds, cwd=cwd, preexec_fn=preexec_fn)
    try:
        out, err = p.communicate(data, timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError(f"{program} timed out in the sandbox")
    finally:
        if name:
            ctx.run([ctx.stockade_path, "rm", "-f", name])
    r = harness.Result(p, out, err or b"")
    return ctx.parse_probes(r.out), r


def native_prefixes(ctx, with_pidns=True):
    pid = ["--pid", "--fork", "--mount-proc"] if with_pidns else ["--fork"]
    if ctx.is_root:
        return [("native-root", ["unshare"] + pid)] if with_pidns else [("native-root", [])]
    return [("native-user", ["unshare", "--user", "--map-current-user"] + pid),
            ("native-userns-root", ["unshare", "--user", "--map-root-user", "--mount", "--uts"]
             + pid)]


def run_native(ctx, program, args, with_pidns=True, **kw):
    """[(label, results)] of the unsandboxed runs."""
    runs = []
    for label, pre in native_prefixes(ctx, with_pidns):
        p = ctx.popen(pre + [ctx.helper(program)] + list(args), stdin=subprocess.DEVNULL,
                      stdout=subprocess.PIPE, stderr=kw.get("stderr", subprocess.PIPE),
                      pass_fds=kw.get("pass_fds", ()), cwd=kw.get("cwd"),
                      preexec_fn=kw.get("preexec_fn"))
        try:
            out, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        r = harness.Result(p, out, err or b"")
        runs.append((label, ctx.parse_probes(r.out)))
    return runs


class Report:
    def __init__(self, mode):
        self.mode = mode
        self.lines = []
        self.labels = []
        self.counts = {"BLOCKED": 0, "ESCAPED": 0, "ERROR": 0, "OK": 0, "BROKEN": 0}
        self.native_not_shown = []

    def add(self, verdict, name, evidence):
        self.counts[verdict] += 1
        line = f"{verdict:<7} [{self.mode}] {name}: {evidence}"
        self.lines.append(line)
        self.labels.append(name)
        print(line, flush=True)

    def check_batch(self, batch, expected, start, absent):
        """Every technique the batch lists has exactly one line since line `start`: a probe
        that produced no result at all (its target missing on this host, a name dropped
        from the program's arguments, a crash before its line) is an ERROR, not a silent
        gap in the count."""
        got = self.labels[start:]
        for label in expected:
            if label not in got:
                why = absent.get(label)
                self.add("ERROR", label, f"no result: batch {batch} lists this technique but "
                                         f"it produced no line" + (f" ({why})" if why else ""))
        unlisted = sorted(set(got) - set(expected))
        repeated = sorted(label for label in set(got) if got.count(label) > 1)
        if unlisted or repeated:
            self.add("ERROR", f"{batch}/count", f"{len(got)} lines for {len(expected)} listed "
                                                f"techniques: unlisted {unlisted}, repeated "
                                                f"{repeated}")

    def summary(self):
        c = self.counts
        return (f"escape [{self.mode}]: {c['BLOCKED']} blocked, {c['ESCAPED']} escaped, "
                f"{c['ERROR']} error; positive: {c['OK']} ok, {c['BROKEN']} broken; "
                f"differential: {len(self.native_not_shown)} not shown natively (README table)")

    def failed(self):
        c = self.counts
        return c["ESCAPED"] + c["ERROR"] + c["BROKEN"] > 0


def judge(rep, ctx, group, name, blocked, inside, natives, before, after, env):
    """One technique's line."""
    got, detail = inside.get(name, ("missing", ""))
    changed = diff_state(before, after, HOST_KEYS[group])
    label = f"{group}/{name}"
    native_text = ", ".join(f"{lab}: {res.get(name, ('missing',))[0]}" for lab, res in natives)
    if changed:
        rep.add("ESCAPED", label, f"inside {got} ({detail}); HOST CHANGED: {'; '.join(changed)}")
        return
    is_defended = got in blocked and (got != "ok" or check_detail(name, detail, env))
    if got == "ok" and not is_defended:
        rep.add("ESCAPED", label, f"the attempt succeeded inside: {detail}")
        return
    if not is_defended:
        rep.add("ERROR", label, f"inside {got} ({detail}), expected {'|'.join(sorted(blocked))}"
                                f"; native {native_text}")
        return
    # The differential: natively the defended outcome must not occur.
    shown = [lab for lab, res in natives
             if res.get(name, ("missing", ""))[0] not in ("missing",)
             and not (res[name][0] in blocked and (res[name][0] != "ok" or
                                                   check_detail(name, res[name][1], env)))]
    native_part = f"native {native_text}"
    if not shown:
        reason = SAME_NATIVELY.get((ctx.mode, name))
        if reason is None:
            rep.add("ERROR", label, f"blocked inside ({got}) but the same natively "
                                    f"({native_text}): the probe does not show the attack here")
            return
        rep.native_not_shown.append((name, reason))
        native_part += f" (same natively: {reason or 'see README'})"
    rep.add("BLOCKED", label, f"{got} {detail}; {native_part}; host unchanged: "
                              f"{HOST_CHECKS[group]}")


def technique_batch(rep, ctx, env, group_of, blocked_of, program, inside_args, native_args,
                    run_kw=None, native_kw=None, before_hook=None, after_hook=None,
                    with_pidns=True):
    run_kw = run_kw or {}
    native_kw = native_kw or {}
    if before_hook:
        before_hook()
    before = host_state(ctx, env)
    try:
        inside, r = run_inside(ctx, program, inside_args, **run_kw)
    except AssertionError as e:
        for name in group_of:
            rep.add("ERROR", f"{group_of[name]}/{name}", f"sandbox run failed: {e}")
        return
    if after_hook:
        after_hook()
    time.sleep(0.05)  # let the servers' thread count anything that arrived
    after = host_state(ctx, env)
    if r.returncode != 0:
        for name in group_of:
            rep.add("ERROR", f"{group_of[name]}/{name}",
                    f"{program} exited {r.returncode} in the sandbox: {r.err.strip()[-300:]}")
        return
    natives = run_native(ctx, program, native_args, with_pidns=with_pidns, **native_kw)
    for name in group_of:
        judge(rep, ctx, group_of[name], name, blocked_of[name], inside, natives, before, after,
              env)


def read_pty(fd):
    got = b""
    while select.select([fd], [], [], 0.1)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    return got.decode("utf-8", "replace")


def run_try_syscall(rep, ctx, env):
    group_of = {p: g for g, p, _ in TRY}
    blocked_of = {p: {o} for _, p, o in TRY}
    names = [p for _, p, _ in TRY]
    # A host file opened read-write and the host directory as the cwd leak into stockade
    # (CVE-2024-21626): neither may reach the workload.
    leak = os.open(os.path.join(env["dir"], "marker"), os.O_RDWR)
    try:
        technique_batch(rep, ctx, env, group_of, blocked_of, "try-syscall", names, names,
                        run_kw={"pass_fds": (leak,), "cwd": env["dir"]},
                        native_kw={"pass_fds": (leak,), "cwd": env["dir"]})
    finally:
        os.close(leak)


def run_escape_fs(rep, ctx, env):
    # A technique without a target here runs nowhere: the batch check reports it.
    inside_probes = [p for p in fs_probes(env, native=False) if p[2] is not None]
    native_probes = [p for p in fs_probes(env, native=True) if p[2] is not None]
    group_of = {n: g for g, n, _, _ in inside_probes}
    blocked_of = {n: b for _, n, _, b in inside_probes}
    # The terminal: a pty whose slave is stockade's stderr (the caller's terminal). What a
    # TIOCSTI typed into it would be read from the slave, which is checked after the run.
    # --tty=never: the workload holds that terminal itself (by default stockade would relay
    # stderr through a pipe, run_terminal's techniques), so seccomp and the session stand alone.
    master, slave = pty.openpty()
    os.chown(os.ttyname(slave), ctx.caller_uid, -1)

    def drain():
        env["pty_input"] = read_pty_input(slave)

    def controlling_tty():  # in the child: a session whose controlling terminal is the pty
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    try:
        os.set_blocking(slave, False)
        env["pty_input"] = ""
        technique_batch(rep, ctx, env, group_of, blocked_of, "escape-fs",
                        [f"{n}={a}" for _, n, a, _ in inside_probes],
                        [f"{n}={a}" for _, n, a, _ in native_probes],
                        run_kw={"stderr": slave, "preexec_fn": controlling_tty,
                                "opts": ["--tty=never", "-v",
                                         f"{RO_VOLUME}:{RO_VOLUME_GUEST}:ro"]},
                        native_kw={"stderr": slave, "preexec_fn": controlling_tty},
                        before_hook=drain, after_hook=drain)
    finally:
        read_pty(master)
        os.close(master)
        os.close(slave)


def read_pty_input(slave):
    """What is waiting to be read as the terminal's input (typed or injected)."""
    got = b""
    while True:
        try:
            chunk = os.read(slave, 4096)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        got += chunk
    return got.decode("utf-8", "replace")


# The caller's terminal, by default (--tty=auto). (technique, python code acting on fd FD.)
# Layouts: "stdio" - the caller's pty is stockade's stdin, stdout, stderr and controlling
# terminal (an interactive shell's way): the sandbox gets a pty of its own; "stderr" - only
# stderr is the caller's pty: stockade relays it through a pipe. Each succeeds natively and
# leaves the caller's terminal changed (echo off and ^A as interrupt; raw; output stopped;
# another window size, with a SIGWINCH to the terminal's foreground group).
TERMINAL = [
    ("tcsetattr:echo_intr", "a = termios.tcgetattr(FD); a[3] &= ~termios.ECHO; "
                            "a[6][termios.VINTR] = b'\x01'; termios.tcsetattr(FD, "
                            "termios.TCSANOW, a)"),
    ("tcsetattr:raw", "tty.setraw(FD)"),
    # Stopped, the terminal takes no more output: the result line goes first, and is
    # replaced by an errno line if the call fails.
    ("tcxonc:tcooff", "termios.tcflow(FD, termios.TCOOFF)"),
    ("tiocswinsz:5x7", "fcntl.ioctl(FD, termios.TIOCSWINSZ, struct.pack('HHHH', 5, 7, 0, 0))"),
]

TERMINAL_PROBE = r"""
import errno, fcntl, os, struct, sys, termios, tty
name, fd, code = sys.argv[1], int(sys.argv[2]), sys.argv[3]
st = os.fstat(fd)
which = f"terminal:{st.st_dev}:{st.st_ino}" if os.isatty(fd) else "not-a-terminal"
is_stop = "TCOOFF" in code
if is_stop:
    print(f"{name} result=ok detail={which}", flush=True)
try:
    exec(code.replace("FD", str(fd)))
    if not is_stop:
        print(f"{name} result=ok detail={which}", flush=True)
except (OSError, termios.error) as e:
    print(f"{name} errno={errno.errorcode.get(e.args[0], e.args[0])} detail={which}", flush=True)
"""

# The caller's shell: a session on the terminal, the program as its child in the foreground
# group; it records the signals that group gets.
TERMINAL_CALLER = harness.CALLER_SHELL


def caller_terminal_state(master, slave, record):
    """What the workload could have changed on the caller's terminal, read from the host."""
    rows_cols = struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    flags = fcntl.fcntl(slave, fcntl.F_GETFL)
    fcntl.fcntl(slave, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        os.write(slave, b"@flowing@\n")  # a stopped terminal does not take output
        wrote = True
    except BlockingIOError:
        wrote = False
    fcntl.fcntl(slave, fcntl.F_SETFL, flags)
    seen, deadline = b"", time.monotonic() + 1
    while wrote and b"@flowing@" not in seen and time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            seen += os.read(master, 4096)
    return {"termios": termios.tcgetattr(slave), "winsize": rows_cols,
            "output flowing": b"@flowing@" in seen,
            "signals": "".join(l for l in read(record).splitlines(True)
                               if not l.startswith("pid "))}


def on_caller_terminal(ctx, env, argv, layout):
    """argv under TERMINAL_CALLER on a fresh pty (the caller's terminal) in the given layout.
    Returns (results, exit status, terminal state before, after, the terminal's id)."""
    master, slave = pty.openpty()
    os.chown(os.ttyname(slave), ctx.caller_uid, -1)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    record = os.path.join(env["terminal_dir"], "record")
    with open(record, "w"):
        pass
    os.chown(record, ctx.caller_uid, ctx.caller_gid)
    st = os.fstat(slave)
    tty_id = f"terminal:{st.st_dev}:{st.st_ino}"
    stdio = ({"stdin": slave, "stdout": slave, "stderr": slave} if layout == "stdio" else
             {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": slave})
    try:
        before = caller_terminal_state(master, slave, record)
        p = ctx.popen([sys.executable, "-c", TERMINAL_CALLER, record] + argv, **stdio)
        shown, deadline = b"", time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = select.select([master], [], [], 0.05)[0]
            if ready:
                shown += os.read(master, 65536)
            elif p.poll() is not None:
                break
        if p.poll() is None:
            p.kill()
        out = p.stdout.read() if p.stdout else shown
        p.wait()
        after = caller_terminal_state(master, slave, record)
    finally:
        os.close(master)
        os.close(slave)
    return ctx.parse_probes(out.decode("utf-8", "replace")), p.returncode, before, after, tty_id


def run_terminal(rep, ctx, env):
    env["terminal_dir"] = tempfile.mkdtemp(prefix="stockade-escape-tty-")
    os.chown(env["terminal_dir"], ctx.caller_uid, ctx.caller_gid)
    try:
        terminal_batch(rep, ctx, env)
    finally:
        shutil.rmtree(env.pop("terminal_dir"), ignore_errors=True)


def terminal_batch(rep, ctx, env):
    for layout in ("stdio", "stderr"):
        fd = 0 if layout == "stdio" else 2
        for technique, code in TERMINAL:
            name = f"{technique}@{layout}"
            args = [name, str(fd), code]
            blocked = {"ok"} if layout == "stdio" else {"errno=ENOTTY"}
            sandbox = [ctx.stockade_path, "run", "--", "python3", "-c", TERMINAL_PROBE] + args
            before = host_state(ctx, env)
            inside, rc, term_before, term_after, tty_id = on_caller_terminal(
                ctx, env, sandbox, layout)
            env["caller_terminal"] = term_before
            before["caller terminal"] = term_before
            after = host_state(ctx, env)
            after["caller terminal"] = term_after
            if rc != 0:
                rep.add("ERROR", f"terminal/{name}", f"the sandbox run exited {rc}: {inside}")
                continue
            native, rc_n, n_before, n_after, native_tty_id = on_caller_terminal(
                ctx, env, ["python3", "-c", TERMINAL_PROBE] + args, layout)
            # The host-side check must see what the technique does natively, or it proves
            # nothing about the sandbox run.
            if n_before == n_after:
                rep.add("ERROR", f"terminal/{name}", f"natively (exit {rc_n}, {native}) the "
                                                     f"caller's terminal did not change")
                continue
            env["caller_ttys"] = {tty_id, native_tty_id}  # each run had a fresh pty
            judge(rep, ctx, "terminal", name, blocked, inside, [(f"native-{ctx.mode}", native)],
                  before, after, env)
            env.pop("caller_terminal", None)


def run_kill(rep, ctx, env):
    group, name, arg, blocked = kill_probe(env)
    # Natively without a PID namespace: a signal to a host process of the same uid is what
    # the sandbox must stop (inside, that PID does not exist).
    technique_batch(rep, ctx, env, {name: group}, {name: blocked}, "escape-fs",
                    [f"{name}={arg}"], [f"{name}={arg}"], with_pidns=False)


def run_plant(rep, ctx, env):
    """stockade's stderr is a host directory anyone may write to (what `cmd 2<dir` gives):
    creating a file through that fd is stopped by Landlock alone."""
    name = "plant:stderr_host_dir"
    plant = os.path.join(env["dir"], "plant")
    fd = os.open(plant, os.O_RDONLY | os.O_DIRECTORY)
    try:
        technique_batch(rep, ctx, env, {name: "mounts"}, {name: {"errno=EACCES"}}, "escape-fs",
                        [f"{name}=2"], [f"{name}=2"], run_kw={"stderr": fd},
                        native_kw={"stderr": fd})
    finally:
        os.close(fd)
        for leftover in os.listdir(plant):  # the native run's file
            os.unlink(os.path.join(plant, leftover))


def run_host_side(rep, ctx, env):
    """What the sandbox can make stockade do on the host afterwards or before: links it plants
    in a volume, recreated by `volume export`; a hostile --rootfs whose mount point path leads
    to a host directory. The host check is the host directory itself; the differential is the
    same attack with the defence switched off where a switch exists (--links=keep)."""
    target = os.path.join(env["dir"], "hostside")
    os.mkdir(target, 0o777)
    os.chmod(target, 0o777)
    try:
        host_side_export(rep, ctx, env, target)
        host_side_rootfs(rep, ctx, env, target)
    finally:
        shutil.rmtree(target, ignore_errors=True)


def leads_out(root, names):
    """The planted names that, as exported, resolve outside the export."""
    real_root = os.path.realpath(root)
    return [n for n in names if os.path.lexists(os.path.join(root, n)) and
            os.path.commonpath([real_root, os.path.realpath(os.path.join(root, n))]) != real_root]


def host_side_export(rep, ctx, env, target):
    label = "mounts/export:planted_links"
    vol = f"escape-{ctx.mode}-links"
    plant = (f"ln -s {env['dir']}/marker /v/abs && ln -s {target} /v/absdir && "
             "ln -s ../../../../../../../etc/passwd /v/climb && mkdir /v/sub && "
             "ln -s ../../../../../../etc/passwd /v/sub/climb && ln -s . /v/d && "
             "ln -s d/../../../../../../../etc/passwd /v/chain && echo planted")
    names = ["abs", "absdir", "climb", "sub/climb", "chain"]
    r = ctx.sandbox(plant, opts=["-v", f"{vol}:/v"])
    if r.out.strip() != "planted":
        rep.add("ERROR", label, f"planting failed: {r}")
        return
    outs = {}
    try:
        for mode in ("safe", "keep"):
            out = os.path.join(env["dir"], f"export-{mode}")
            e = ctx.stockade("volume", "export", vol, out, f"--links={mode}")
            outs[mode] = (e, leads_out(out, names))
            # Write through what was exported: nothing may land in the host directory.
            if mode == "safe":
                for n in names:
                    try:
                        with open(os.path.join(out, n, "x") if n == "absdir"
                                  else os.path.join(out, n), "a"):
                            pass
                    except OSError:
                        pass
    finally:
        ctx.stockade("volume", "rm", vol)
        for mode in ("safe", "keep"):
            shutil.rmtree(os.path.join(env["dir"], f"export-{mode}"), ignore_errors=True)
    (safe, out_safe), (keep, out_keep) = outs["safe"], outs["keep"]
    if safe.returncode != 0:
        rep.add("ERROR", label, f"export failed: {safe}")
    elif out_safe or os.listdir(target) or read(os.path.join(env["dir"], "marker")) != "untouched\n":
        rep.add("ESCAPED", label, f"exported links lead out: {out_safe}; host dir "
                                  f"{os.listdir(target)}")
    elif sorted(out_keep) != sorted(names):
        rep.add("ERROR", label, f"with --links=keep only {out_keep} lead out: the probe does "
                                f"not show the attack")
    else:
        rep.add("BLOCKED", label, f"{len(names)} links skipped by the default export "
                                  f"({safe.err.count('skipped link')} listed); --links=keep "
                                  f"recreates all {len(out_keep)} leading out; host dir unchanged")


def host_side_rootfs(rep, ctx, env, target):
    label = "mounts/rootfs:mount_point_through_link"
    if not os.path.exists("/bin/busybox"):
        rep.add("ERROR", label, "busybox-static is not installed (make deps installs it)")
        return
    root = os.path.join(env["dir"], "rootfs")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    os.symlink(target, os.path.join(root, "work"))
    os.chmod(root, 0o755)
    try:
        r = ctx.sandbox(["/bin/busybox", "true"],
                        opts=["--rootfs", root, "-v", f"/work/x"])
        made = os.listdir(target)
        shown = os.path.realpath(os.path.join(root, "work")) == os.path.realpath(target)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if made:
        rep.add("ESCAPED", label, f"exit {r.returncode}; made in the host directory: {made}")
    elif r.returncode != 125 or "symlink" not in r.err:
        rep.add("ERROR", label, f"exit {r.returncode}, expected 125 naming the symlink: {r.err[-200:]}")
    else:
        rep.add("BLOCKED", label, f"exit 125 ({r.err.strip()[:120]}); the rootfs's work "
                                  f"{'leads' if shown else 'does not lead'} to the host "
                                  f"directory, which stayed empty")


def run_escape_net(rep, ctx, env):
    probes = [p for p in net_probes(env) if p[2] is not None]
    group_of = {n: g for g, n, _, _ in probes}
    blocked_of = {n: b for _, n, _, b in probes}
    args = [f"{n}={a}" for _, n, a, _ in probes]
    technique_batch(rep, ctx, env, group_of, blocked_of, "escape-net", args, args)


def run_escape_egress(rep, ctx, env):
    inside, native = egress_probes(env, native=False), egress_probes(env, native=True)
    group_of = {n: g for g, n, _, _ in inside}
    blocked_of = {n: b for _, n, _, b in inside}
    port = env["sni"].port
    hosts = os.path.join(env["dir"], "hosts")
    with open(hosts, "w") as f:
        f.write(f"127.0.0.1 {EGRESS_NAME}\n")
    os.chmod(hosts, 0o644)
    opts = ["--allow-net", f"{EGRESS_NAME}:{port}", "--allow-net", f"127.0.0.1:{port}",
            "--hosts-file", hosts, "--quiet"]
    technique_batch(rep, ctx, env, group_of, blocked_of, "escape-net",
                    [f"{n}={a}" for _, n, a, _ in inside], [f"{n}={a}" for _, n, a, _ in native],
                    run_kw={"opts": opts})


# Landlock's scopes, with a target only they can protect. In a normal run nothing outside the
# workload's Landlock domain shares its PID or network namespace (PID 1 restricts itself before
# it starts the command; the network helper has exited by then), so kill:host_process and
# unix_abstract:host are stopped by the namespaces and never reach the scopes. Here the runner
# makes such a process: the sandbox user's uid on the host, joined into the sandbox's PID and
# network namespaces with nsenter (and its user namespace for the unprivileged caller), outside
# any Landlock domain. It takes SIGUSR2 and listens on an abstract unix socket; the workload
# can see it and reach its socket, and the uid allows the signal: only LANDLOCK_SCOPE_SIGNAL
# and LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET stand (EPERM). The differential is the same probe
# joined the same way (same namespaces, same uid, no Landlock): it must reach the target.
SCOPE = [
    ("runtime", "kill:same_pidns_outside_domain", "escape-fs", {"errno=EPERM"}),
    ("network", "unix_abstract:same_netns_outside_domain", "escape-net", {"errno=EPERM"}),
]

SCOPE_TARGET = r"""
import os, signal, socket, sys
record, name = sys.argv[1], sys.argv[2]
def note(text):
    with open(record, "a") as f:
        f.write(text + "\n")
signal.signal(signal.SIGUSR2, lambda *a: note("signalled"))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0" + name)
s.listen(8)
print(os.getpid(), flush=True)  # its PID in the sandbox's PID namespace
while True:
    conn, _ = s.accept()
    note("connected")
    conn.close()
"""


class LineReader:
    """Lines from a pipe, with a deadline (no buffered reader to hide what select sees)."""

    def __init__(self, f):
        self.fd = f.fileno()
        self.buf = b""

    def line(self, timeout=30):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise AssertionError(f"no line within {timeout}s (so far {self.buf[-300:]!r})")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"end of output (so far {self.buf[-300:]!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8", "replace")


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def joined_prefix(ctx, pid):
    """argv prefix: the sandbox's PID and network namespaces (the user namespace too for the
    unprivileged caller, who may join it as its owner), as the sandbox user's host uid."""
    if ctx.is_root:
        return ["nsenter", f"--target={pid}", "--pid", "--net", "--", "setpriv",
                f"--reuid={ctx.host_uid}", f"--regid={ctx.host_uid}", "--clear-groups", "--"]
    return ["nsenter", f"--target={pid}", "--user", "--preserve-credentials", "--pid", "--net",
            "--"]


def run_scope(rep, ctx, env):
    for group, name, program, blocked in SCOPE:
        try:
            scope_technique(rep, ctx, env, group, name, program, blocked)
        except (AssertionError, OSError, ValueError) as e:
            rep.add("ERROR", f"{group}/{name}", f"{type(e).__name__}: {e}")
        finally:
            env.pop("scope_record", None)


def scope_technique(rep, ctx, env, group, name, program, blocked):
    record = os.path.join(env["dir"], f"scope-{name.split(':')[0]}")
    with open(record, "w"):
        pass
    os.chmod(record, 0o666)
    env["scope_record"] = record
    abstract = f"stockade-scope-{os.getpid()}-{time.monotonic_ns()}"
    with open(ctx.helper(program), "rb") as f:
        data = f.read()
    # The program arrives first; its argument (the target's PID or name) once the target is
    # in place; after the probe the sandbox waits, so the target lives for the differential.
    script = (f"head -c {len(data)} > /tmp/h && chmod 700 /tmp/h && echo ready && read -r arg "
              f"&& /tmp/h \"$arg\" </dev/null; echo probed; read -r done")
    sandbox = ctx.popen([ctx.stockade_path, "run", "--", "sh", "-c", script],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    target = None
    try:
        sandbox.stdin.write(data)
        sandbox.stdin.flush()
        out = LineReader(sandbox.stdout)
        if out.line() != "ready":
            raise AssertionError("the sandbox did not get ready")
        pid1 = children(sandbox.pid)
        workload = children(pid1[0]) if len(pid1) == 1 else []
        if len(workload) != 1:
            raise AssertionError(f"the workload not found: stockade's children {pid1}, "
                                 f"PID 1's {workload}")
        prefix = joined_prefix(ctx, workload[0])
        target = ctx.popen(prefix + ["python3", "-c", SCOPE_TARGET, record, abstract],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        try:
            target_pid = int(LineReader(target.stdout).line())
        except AssertionError as e:
            target.kill()
            raise AssertionError(f"the target did not start ({e}): "
                                 f"{target.communicate()[1][-300:]!r}")
        host_pid = children(target.pid)
        for ns in ("pid", "net"):
            if not host_pid or (os.readlink(f"/proc/{host_pid[0]}/ns/{ns}") !=
                                os.readlink(f"/proc/{workload[0]}/ns/{ns}")):
                raise AssertionError(f"the target is not in the sandbox's {ns} namespace")
        arg = f"{target_pid}:{SIGUSR2}" if program == "escape-fs" else abstract
        before = host_state(ctx, env)
        sandbox.stdin.write(f"{name}={arg}\n".encode())
        sandbox.stdin.flush()
        lines = []
        while not lines or lines[-1] != "probed":
            lines.append(out.line())
        time.sleep(0.2)  # a signal or connection that got through is noted by now
        after = host_state(ctx, env)
        inside = ctx.parse_probes("\n".join(lines))
        n = ctx.run(prefix + [ctx.helper(program), f"{name}={arg}"])
        time.sleep(0.2)
        heard = read(record)
        natives = [("native-same-namespaces", ctx.parse_probes(n.out))]
        sandbox.stdin.write(b"done\n")
        sandbox.stdin.flush()
    finally:
        if target is not None:
            target.kill()
            target.wait()
        try:
            sandbox.communicate(timeout=30)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            sandbox.kill()
            sandbox.wait()
    if not heard.strip():
        raise AssertionError(f"natively (joined to the same namespaces, exit {n.returncode}: "
                             f"{n.out.strip()} {n.err.strip()[-200:]}) the target heard "
                             f"nothing: the probe does not show the attack")
    judge(rep, ctx, group, name, blocked, inside, natives, before, after, env)


def run_shell(rep, ctx, env):
    for group, name, cmd, failure in SHELL:
        before = host_state(ctx, env)
        r = ctx.sandbox(cmd)
        after = host_state(ctx, env)
        changed = diff_state(before, after, HOST_KEYS[group])
        label = f"{group}/{name}"
        if changed:
            rep.add("ESCAPED", label, f"`{cmd}` exit {r.returncode}; HOST CHANGED: {changed}")
            continue
        if r.returncode == 0:
            rep.add("ESCAPED", label, f"`{cmd}` succeeded inside: {r.out.strip()[:200]}")
            continue
        if failure not in r.err:
            rep.add("ERROR", label, f"`{cmd}` exit {r.returncode}, stderr {r.err.strip()[:200]!r}"
                                    f" (expected {failure!r})")
            continue
        # Natively in a throwaway PID (and user, mount, UTS) namespace.
        shown = []
        for lab, pre in native_prefixes(ctx):
            if name == "sh:hostname" and ctx.is_root and "--uts" not in pre:
                pre = ["unshare", "--uts"] + pre[1:]  # never the host's own hostname
            n = ctx.run(pre + ["sh", "-c", cmd])
            if n.returncode == 0:
                shown.append(lab)
        note = f"native ok ({', '.join(shown)})" if shown else "native also fails"
        if not shown and (ctx.mode, name) not in SAME_NATIVELY:
            rep.add("ERROR", label, f"failed inside ({failure}) and natively too")
            continue
        if not shown:
            rep.native_not_shown.append((name, SAME_NATIVELY[(ctx.mode, name)]))
        rep.add("BLOCKED", label, f"`{cmd}` exit {r.returncode}: "
                                  f"{r.err.strip().splitlines()[-1][:120]}; {note}; host unchanged")


# ---------------------------------------------------------------------------------------------
# Positive probes: ordinary work that must keep working

POSITIVE = [
    ("shell_pipeline", "seq 1 1000 | grep 7 | sort -rn | awk '{s += $1} END {print s}'",
     f"{sum(i for i in range(1, 1001) if '7' in str(i))}\n"),
    ("python3", "python3 -c 'import sys, json; print(json.dumps({\"v\": sys.version_info[0]}))'",
     '{"v": 3}\n'),
    ("c_compile", "cd /tmp && printf '#include <stdio.h>\\nint main(void){puts(\"compiled\");"
                  "return 0;}\\n' > c.c && gcc -O1 -o c c.c && ./c", "compiled\n"),
    ("threads", "python3 -c 'import threading; n=[]; t=[threading.Thread(target=n.append, "
                "args=(i,)) for i in range(16)]; [x.start() for x in t]; [x.join() for x in t];"
                " print(len(n))'", "16\n"),
    ("pipes", "printf 'b\\na\\nc\\n' | sort | tr a-z A-Z | head -n 2 | tail -n 1", "B\n"),
    ("socketpair", "python3 -c 'import socket; a, b = socket.socketpair(); a.sendall(b\"ping\");"
                   " print(b.recv(4).decode())'", "ping\n"),
    ("mmap", "python3 -c 'import mmap; m = mmap.mmap(-1, 1 << 20); m[:5] = b\"hello\"; "
             "print(m[:5].decode())'", "hello\n"),
    ("signals", "python3 -c 'import os, signal; got = []; signal.signal(signal.SIGUSR1, "
                "lambda *a: got.append(1)); os.kill(os.getpid(), signal.SIGUSR1); "
                "print(len(got))'; sleep 5 & kill -TERM $!; wait $!; echo $?", "1\n143\n"),
    ("dev_shm", "echo shared > /dev/shm/x && cat /dev/shm/x && python3 -c 'from multiprocessing"
                " import shared_memory as s; m = s.SharedMemory(create=True, size=64); "
                "m.buf[:2] = b\"ok\"; print(bytes(m.buf[:2]).decode()); m.close(); m.unlink()'",
     "shared\nok\n"),
    ("fork_exec_wait", "for i in 1 2 3; do sh -c \"exit $i\"; echo -n $?; done; echo",
     "123\n"),
]


def run_positive(rep, ctx):
    for name, cmd, want in POSITIVE:
        if name == "c_compile" and not shutil.which("gcc"):
            rep.add("BROKEN", f"positive/{name}", "gcc is not installed on the host")
            continue
        r = ctx.sandbox(cmd, timeout=120)
        if r.returncode == 0 and r.out == want:
            rep.add("OK", f"positive/{name}", f"output {want.strip()!r}")
        else:
            rep.add("BROKEN", f"positive/{name}", f"exit {r.returncode}, out {r.out[-200:]!r}, "
                                                  f"err {r.err[-300:]!r}")


# ---------------------------------------------------------------------------------------------


def host_ipv4():
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    return m.group(1) if m else None


def release_agent():
    for ctrl in ("memory", "pids", "cpu", "blkio"):
        path = f"/sys/fs/cgroup/{ctrl}/release_agent"
        if os.path.exists(path):
            return path
    return None


def block_device():
    for line in read("/proc/self/mountinfo").splitlines():
        fields = line.split(" - ")
        if line.split()[4] == "/" and len(fields) == 2 and fields[1].split()[1].startswith("/dev/"):
            dev = fields[1].split()[1]
            return dev if os.path.exists(dev) else None
    return None


def setup_env(ctx):
    d = tempfile.mkdtemp(prefix="stockade-escape-")
    os.chmod(d, 0o755)
    os.chown(d, ctx.caller_uid, ctx.caller_gid)
    for name in ("marker", "native-marker"):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write("untouched\n")
        os.chmod(path, 0o666)
        os.chown(path, ctx.caller_uid, ctx.caller_gid)
    os.mkdir(os.path.join(d, "nodes"), 0o755)
    os.mkdir(os.path.join(d, "plant"))
    os.chmod(os.path.join(d, "plant"), 0o777)  # writable by any uid: only Landlock stands
    os.chown(os.path.join(d, "nodes"), ctx.caller_uid, ctx.caller_gid)
    # The sentinel runs as the host uid the sandbox's user maps to: the same uid, so only the
    # sandbox's isolation (PID namespace, Landlock's signal scope) stands in the way.
    sentinel_file = os.path.join(d, "sentinel")
    with open(sentinel_file, "w"):
        pass
    os.chmod(sentinel_file, 0o666)
    os.chmod(d, 0o777)  # the sentinel (host uid 10001 as root) writes its ready file here
    uid = ctx.host_uid
    sentinel = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                                 "--", sys.executable, "-c", SENTINEL, sentinel_file],
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(sentinel_file + ".ready") and time.monotonic() < deadline:
        time.sleep(0.01)
    os.chmod(d, 0o755)
    env = {"dir": d, "sentinel": sentinel, "sentinel_pid": sentinel.pid,
           "sentinel_file": sentinel_file, "host_ip": host_ipv4(),
           "release_agent": release_agent(), "block_device": block_device(),
           "servers": Servers(d, (ctx.caller_uid, ctx.caller_gid)), "sni": SniServer(),
           "relay": NaiveRelay(),
           "ro_volume_file": os.path.join(ctx.state, "volumes", "named", RO_VOLUME, "file")}
    # Why a listed technique may have no target on a host (the batch check quotes it).
    env["absent"] = {
        "mounts/open_write:release_agent": "no cgroup v1 hierarchy with a release_agent",
        "mounts/open_read:block_device": "the root file system's device node was not found",
        "network/tcp:host_address": "the host has no global IPv4 address",
        "network/udp:host_address": "the host has no global IPv4 address",
    }
    r = ctx.sandbox(f"touch {RO_VOLUME_GUEST}/file && chmod 666 {RO_VOLUME_GUEST}/file",
                    opts=["-v", f"{RO_VOLUME}:{RO_VOLUME_GUEST}"])
    if r.returncode != 0 or not os.path.isfile(env["ro_volume_file"]):
        teardown_env(env)
        raise AssertionError(f"could not make the read-only volume's file: {r}")
    return env


def teardown_env(env):
    env["servers"].close()
    env["sni"].close()
    env["relay"].close()
    env["sentinel"].kill()
    env["sentinel"].wait()
    shutil.rmtree(env["dir"], ignore_errors=True)


def batch_labels(ctx, env):
    """What each batch lists: {batch: [group/technique, ...]}, fixed whatever the host has."""
    def labels(probes):
        return [f"{p[0]}/{p[1]}" for p in probes]
    return {
        "try-syscall": labels(TRY),
        "escape-fs": labels(fs_probes(env, native=False)),
        "kill": labels([kill_probe(env)]),
        "plant": ["mounts/plant:stderr_host_dir"],
        "escape-net": labels(net_probes(env)),
        "escape-egress": labels(egress_probes(env, native=False)),
        "scope": labels(SCOPE),
        "shell": labels(SHELL),
        "terminal": [f"terminal/{t}@{layout}" for layout in ("stdio", "stderr")
                     for t, _ in TERMINAL],
        "host-side": ["mounts/export:planted_links", "mounts/rootfs:mount_point_through_link"],
        "positive": [f"positive/{name}" for name, _, _ in POSITIVE],
    }


BATCHES = [("try-syscall", run_try_syscall), ("escape-fs", run_escape_fs), ("kill", run_kill),
           ("plant", run_plant), ("escape-net", run_escape_net),
           ("escape-egress", run_escape_egress), ("scope", run_scope),
           ("shell", run_shell), ("terminal", run_terminal), ("host-side", run_host_side),
           ("positive", lambda rep, ctx, env: run_positive(rep, ctx))]


def run_mode(ctx, k="", only=None):
    """Every technique and positive probe as ctx's caller (or only the batches named in only).
    Returns the Report."""
    rep = Report(ctx.mode)
    env = setup_env(ctx)
    try:
        expected = batch_labels(ctx, env)
        for name, fn in BATCHES:
            if k not in name or (only is not None and name not in only):
                continue
            start = len(rep.labels)
            fn(rep, ctx, env)
            rep.check_batch(name, expected[name], start, env["absent"])
    finally:
        teardown_env(env)
    print(rep.summary(), flush=True)
    return rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mode", default="both", choices=["root", "user", "both"])
    ap.add_argument("-k", default="", help="only the batches whose name contains this "
                                           "(try-syscall, escape-fs, kill, plant, escape-net, "
                                           "escape-egress, scope, shell, terminal, host-side, "
                                           "positive)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("tests/escape/run.py must run as root (it runs as root and as an unprivileged "
              "user)", file=sys.stderr)
        return 2
    # tests/run.py (not this file, also named run.py): the test user and the staging.
    spec = importlib.util.spec_from_file_location(
        "suite", os.path.join(os.path.dirname(HERE), "run.py"))
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    user = suite.ensure_test_user()
    bin_dir = suite.stage(os.path.abspath(args.build))
    failed = False
    summaries = []
    try:
        for mode in (["root", "user"] if args.mode == "both" else [args.mode]):
            ctx = harness.Context(mode, bin_dir, user)
            rep = run_mode(ctx, args.k)
            summaries.append(rep.summary())
            failed |= rep.failed()
            shutil.rmtree(ctx.state, ignore_errors=True)
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    print("\n".join(summaries))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
