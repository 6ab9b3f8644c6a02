"""Each isolation layer observed from inside a real sandbox, and where it can be, from the
host: identity, namespaces, network, mount table, /proc, /dev, Landlock, rootfs."""
import os
import socket
import subprocess
import threading
import time

from harness import Skip, expect

NAMESPACES = ["user", "mnt", "pid", "net", "ipc", "uts", "cgroup"]


def status_fields(text):
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return fields


def test_identity_and_privilege_inside(ctx):
    r = ctx.sandbox("id -u; id -g; id -G; cat /proc/self/status")
    expect(r.returncode == 0, f"{r}")
    lines = r.out.splitlines()
    expect(lines[:3] == ["10001", "10001", "10001"], f"id: {lines[:3]}")
    st = status_fields(r.out)
    expect(st["Uid"] == ["10001"] * 4 and st["Gid"] == ["10001"] * 4, f"{st['Uid']} {st['Gid']}")
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        expect(st[cap] == ["0000000000000000"], f"{cap}={st[cap]}")
    expect(st["NoNewPrivs"] == ["1"] and st["Seccomp"] == ["2"], f"{st['NoNewPrivs']} {st['Seccomp']}")
    r = ctx.sandbox("id -u", opts=["--uid", "2000"])
    expect(r.out == "2000\n", f"--uid: {r}")


def test_workload_host_uid_is_never_root(ctx):
    marker = f"sleep 1000.{os.getpid()}{int.from_bytes(os.urandom(3), 'big')}"
    p = ctx.popen([ctx.stockade_path, "run", "--", "sh", "-c", f"echo ready; exec {marker}"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        expect(p.stdout.readline() == b"ready\n", "sandbox did not start")
        deadline = time.monotonic() + 5  # "ready" comes just before sh execs sleep
        while True:
            pids = subprocess.run(["pgrep", "-f", "^" + marker], capture_output=True,
                                  text=True).stdout.split()
            if pids or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        expect(len(pids) == 1, f"pgrep: {pids}")
        st = status_fields(open(f"/proc/{pids[0]}/status").read())
        expect(st["Uid"] == [str(ctx.host_uid)] * 4, f"host Uid {st['Uid']}, want {ctx.host_uid}")
        expect(st["Gid"][0] != "0" and "0" not in st.get("Groups", []), f"host Gid {st['Gid']} "
               f"Groups {st.get('Groups')}")
        expect(st["CapEff"] == ["0000000000000000"], f"CapEff {st['CapEff']}")
        # Its namespaces are not the host's.
        for ns in NAMESPACES:
            expect(os.readlink(f"/proc/{pids[0]}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"),
                   f"{ns} namespace shared with the host")
    finally:
        p.kill()
        p.wait()


def test_namespaces_are_new(ctx):
    r = ctx.sandbox("for n in " + " ".join(NAMESPACES) + "; do readlink /proc/self/ns/$n; done")
    expect(r.returncode == 0, f"{r}")
    inside = r.out.split()
    host = [os.readlink(f"/proc/self/ns/{n}") for n in NAMESPACES]
    for name, a, b in zip(NAMESPACES, inside, host):
        expect(a != b, f"{name} namespace is the host's: {a}")


def test_network_has_only_loopback(ctx):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(_accept(server)))
    t.start()
    code = f"""
import socket, errno
s = socket.socket()
try:
    s.connect(("127.0.0.1", {port})); print("CONNECTED")
except OSError as e:
    print(errno.errorcode[e.errno])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname()); print("LOOPBACK-OK")
"""
    r = ctx.sandbox(["python3", "-c", code])
    ifaces = ctx.sandbox("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    t.join()
    server.close()
    expect(r.out.splitlines() == ["ECONNREFUSED", "LOOPBACK-OK"], f"{r}")
    expect(accepted == [None], "the host's loopback server saw a connection from the sandbox")
    expect(ifaces.out.split() == ["lo"], f"interfaces: {ifaces.out.split()}")


def _accept(server):
    try:
        return server.accept()
    except socket.timeout:
        return None


def mountinfo(ctx):
    r = ctx.sandbox("cat /proc/self/mountinfo")
    expect(r.returncode == 0, f"{r}")
    mounts = {}
    for line in r.out.splitlines():
        f = line.split()
        mounts[f[4]] = f[5].split(",")
    return mounts


def test_mount_table(ctx):
    mounts = mountinfo(ctx)
    expect("ro" in mounts["/"], f"/ is {mounts['/']}")
    for path in ("/usr", "/etc/ssl"):
        expect("ro" in mounts.get(path, []), f"{path}: {mounts.get(path)}")
    for path in ("/tmp", "/home/sandbox", "/dev/shm"):
        expect("rw" in mounts.get(path, []), f"{path}: {mounts.get(path)}")
    devices = {"/dev/" + d for d in ("null", "zero", "full", "random", "urandom", "tty")}
    for path, opts in mounts.items():
        if path in devices:
            continue  # bound character devices: nosuid/noexec would mean nothing there
        expect("nosuid" in opts, f"{path} lacks nosuid: {opts}")
    expect("noexec" in mounts["/dev/shm"] and "noexec" in mounts["/proc"], "noexec")
    expect(not any("oldroot" in p or "newroot" in p for p in mounts), f"staging left: {mounts}")


WRITE_PROBE = r"""
import errno, os, sys
def attempt(label, fn):
    try:
        fn()
        print(label, "ok")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
for d in sys.argv[1:]:
    attempt("create " + d, lambda: os.close(os.open(d.rstrip("/") + "/x",
                                                    os.O_WRONLY | os.O_CREAT, 0o644)))
st = os.stat("/etc/passwd")
print("owner /etc/passwd", st.st_uid, oct(st.st_mode & 0o777))
attempt("append /etc/passwd", lambda: os.close(os.open("/etc/passwd", os.O_WRONLY | os.O_APPEND)))
"""


def test_filesystem_view(ctx):
    script = """
for p in /tmp /home/sandbox /dev/shm; do touch "$p/x" && echo "ok $p"; done
for p in /root /var /work /old_root /etc/shadow /etc/ssh /home/stockade-test /sys /run; do
  [ -e "$p" ] && echo "VISIBLE $p"; done
ls /dev | tr '\\n' ' '; echo
grep -c . /etc/passwd; grep sandbox /etc/passwd
"""
    r = ctx.sandbox(script)
    expect(r.returncode == 0, f"{r}")
    expect("VISIBLE" not in r.out, r.out)
    expect(r.out.count("ok /") == 3, r.out)
    dev = r.out.splitlines()[3].split()
    expect(sorted(dev) == sorted(["fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr",
                                  "stdin", "stdout", "tty", "urandom", "zero"]), f"/dev: {dev}")
    expect("sandbox:x:10001:10001" in r.out, r.out)
    # The read-only mounts, each answering itself: a new name on a read-only mount is EROFS
    # before the directory's permissions are looked at, and /etc/passwd is the sandbox user's
    # own copy (0644) in the root tmpfs, which its owner could append to on a writable mount.
    # Without the read-only flag the next refusal is Landlock's (EACCES), so EROFS is the
    # mount's answer and nobody else's.
    r = ctx.sandbox(["python3", "-c", WRITE_PROBE, "/", "/usr", "/etc", "/usr/lib"])
    expect(r.returncode == 0, f"{r}")
    got = dict(line.rsplit(" ", 1) for line in r.out.splitlines() if line.count(" ") >= 1
               and not line.startswith("owner "))
    for d in ("/", "/usr", "/etc", "/usr/lib"):
        expect(got.get(f"create {d}") == "EROFS", f"create in {d}: {got.get(f'create {d}')}")
    expect("owner /etc/passwd 10001 0o644" in r.out, f"/etc/passwd inside: {r.out!r}")
    expect(got.get("append /etc/passwd") == "EROFS", f"append to /etc/passwd: {got}")


PROC_SYS_PROBE = r"""
import errno, os
path = "/proc/sys/user/max_inotify_instances"
print("value", open(path).read().strip())
for flags, label in ((os.O_WRONLY | os.O_TRUNC, "trunc"), (os.O_WRONLY, "write")):
    try:
        os.close(os.open(path, flags))
        print(label, "ok")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
"""


def test_proc_is_the_sandbox_own_and_masked(ctx):
    # Live processes only: the network helper PID 1 forked during the set-up may still be a
    # zombie under load (net.h: reaped once the command runs), which is nobody's to see.
    r = ctx.sandbox("grep -h '^State:' /proc/[0-9]*/status | grep -vc Z; cat /proc/1/comm; "
                    "wc -c < /proc/kallsyms; cat /proc/keys | wc -c")
    expect(r.returncode == 0, f"{r}")
    lines = r.out.split()
    expect(int(lines[0]) <= 4, f"{lines[0]} processes visible")
    expect(lines[1] == "stockade", f"/proc/1 is {lines[1]}")
    expect(lines[2] == "0" and lines[-1] == "0", f"kallsyms/keys not masked: {lines}")


def test_proc_sys_is_read_only(ctx):
    """/proc/sys is bound read-only: the mount says so, and a write is refused by that mount.
    The file is a per-user-namespace sysctl PID 1 set itself (an eighth of the caller's
    inotify instances, with CAP_SYS_RESOURCE over the sandbox's user namespace): opened with
    O_TRUNC the kernel asks the mount for write access before anything else, so EROFS is the
    read-only bind's answer; without O_TRUNC the workload's missing capability answers first
    (EACCES), which is why a plain write proves nothing about the mount."""
    mounts = mountinfo(ctx)
    expect("ro" in mounts.get("/proc/sys", []), f"/proc/sys: {mounts.get('/proc/sys')}")
    expect("rw" in mounts.get("/proc", []), f"/proc itself: {mounts.get('/proc')}")
    r = ctx.sandbox(["python3", "-c", PROC_SYS_PROBE])
    expect(r.returncode == 0, f"{r}")
    got = dict(line.split(" ", 1) for line in r.out.splitlines())
    with open("/proc/sys/user/max_inotify_instances") as f:
        host = int(f.read())
    expect(got.get("value") == str(max(1, host // 8)), f"the value PID 1 set: {got} "
                                                       f"(host {host})")
    expect(got.get("trunc") == "EROFS", f"O_TRUNC write: {got}")
    expect(got.get("write") == "EACCES", f"plain write: {got}")


def test_landlock_blocks_writes_through_inherited_dir_fd(ctx):
    """stdin is a host directory the caller may write to. Mounts cannot stop the sandbox from
    creating files through that fd with openat; Landlock must (the rules name no host path)."""
    d = ctx.tmpdir(mode=0o777)
    code = ("import os, errno\n"
            "try:\n    os.close(os.open('planted', os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=5)); "
            "print('CREATED')\n"
            "except OSError as e:\n    print(errno.errorcode[e.errno])\n")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)  # what `cmd < dir` gives
    try:
        # Python refuses a directory as stdin: move it to fd 5 first.
        wrapper = ["sh", "-c", 'exec 5<&0 </dev/null; exec python3 -c "$0"', code]
        r = ctx.sandbox(wrapper, stdin=fd)
        expect(r.out.strip() == "EACCES", f"{r}")
        expect(not os.path.exists(os.path.join(d, "planted")), "file planted on the host")
        # Differential: the same program unsandboxed does create it.
        native = ctx.run(wrapper, stdin=fd)
        expect(native.out.strip() == "CREATED", f"native run: {native}")
    finally:
        os.close(fd)


def test_rootfs(ctx):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        raise Skip("busybox-static is not installed (make deps installs it)")
    root = ctx.tmpdir()
    os.makedirs(os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "etc"))
    with open(busybox, "rb") as src, open(os.path.join(root, "bin", "busybox"), "wb") as dst:
        dst.write(src.read())
    os.chmod(os.path.join(root, "bin", "busybox"), 0o755)
    for tool in ("sh", "ls", "cat", "id", "touch"):
        os.symlink("busybox", os.path.join(root, "bin", tool))
    with open(os.path.join(root, "etc", "motd"), "w") as f:
        f.write("rootfs-motd\n")
    os.system(f"chmod -R a+rX {root}")
    r = ctx.sandbox(["/bin/sh", "-c", "cat /etc/motd; id -u; ls /; touch /bin/x 2>&1; "
                     "ls /usr 2>&1; exit 0"], opts=["--rootfs", root])
    expect(r.returncode == 0, f"{r}")
    expect("rootfs-motd" in r.out and "10001" in r.out, r.out)
    expect("Read-only" in r.out, f"rootfs writable: {r.out}")
    expect("No such file" in r.out, f"host /usr visible with --rootfs: {r.out}")
