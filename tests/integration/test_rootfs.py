"""A hostile --rootfs (issue 11): stockade builds the new root while the host's tree is still
its root, so a symlink in a rootfs must never lead what stockade makes (mount points, files,
links) or reads (the rootfs's etc) into the host. Each refused run: exit 125, one line naming
the path, the command did not run, and the host directory the links point at is unchanged.
A normal rootfs, with its own in-tree links, still works. busybox-static builds the rootfs."""
import os
import shutil
import subprocess

import harness
from harness import expect

BUSYBOX = "/bin/busybox"


def make_rootfs(ctx, layout=()):
    """A rootfs with busybox in usr/bin (bin -> usr/bin, as a usr-merged system has it), an etc
    with a motd, and what `layout` adds: ("dir", path) or ("link", path, target)."""
    if not os.path.exists(BUSYBOX):
        raise harness.Skip("busybox-static is not installed (make deps installs it)")
    root = ctx.tmpdir()
    os.makedirs(os.path.join(root, "usr", "bin"))
    shutil.copy(BUSYBOX, os.path.join(root, "usr", "bin", "busybox"))
    for tool in ("sh", "cat", "touch", "ls", "grep", "echo", "mkdir"):
        os.symlink("busybox", os.path.join(root, "usr", "bin", tool))
    os.symlink("usr/bin", os.path.join(root, "bin"))
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc", "motd"), "w") as f:
        f.write("rootfs-motd\n")
    for item in layout:
        path = os.path.join(root, item[1])
        if item[0] == "dir":
            os.makedirs(path, exist_ok=True)
        else:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            os.symlink(item[2], path)
    # Readable by the sandbox's host uid; chmod -R does not follow the links on its way.
    subprocess.run(["chmod", "-R", "a+rX", root], check=True)
    return root


def host_dir(ctx):
    """A host directory the rootfs's links point at, writable by the sandbox's host uid (so only
    stockade's care keeps things out of it), with a file a sandbox must never see."""
    d = ctx.tmpdir()
    with open(os.path.join(d, "motd"), "w") as f:
        f.write("HOST-SECRET\n")
    os.chmod(d, 0o777)
    return d


def listing(d):
    return sorted(os.path.relpath(os.path.join(r, n), d)
                  for r, dirs, files in os.walk(d) for n in dirs + files)


def run_refused(ctx, root, opts, needle, host):
    before = listing(host)
    r = ctx.sandbox(["/bin/sh", "-c", "echo RAN"], opts=["--rootfs", root] + opts,
                    env={"STOCKADE_HOME": ctx.fresh_state()})
    expect(listing(host) == before, f"{opts}: the host directory changed: {listing(host)}")
    expect(r.returncode == 125, f"{opts}: expected 125: {r}")
    expect("RAN" not in r.out, f"{opts}: the command ran")
    expect(r.err.count("\n") == 1 and r.err.startswith("stockade: "), f"one line: {r.err!r}")
    expect(needle in r.err, f"{opts}: {needle!r} not in {r.err!r}")
    return r


def test_rootfs_symlink_on_the_way_to_a_mount_point_is_refused(ctx):
    """`work -> HOST` with -v vol:/work/x made x in HOST (mkdir through the rootfs's link before
    pivot_root); likewise a relative link climbing out of the rootfs, a link one level down,
    and a link as the mount point itself."""
    host = host_dir(ctx)
    up = "../" * 12 + host.lstrip("/")
    cases = [
        ([("link", "work", host)], "vol:/work/x", "/work is a symlink, on the way to /work/x"),
        ([("link", "work", up)], "vol:/work/x", "/work is a symlink"),
        ([("dir", "opt"), ("link", "opt/x", host)], "vol:/opt/x/y",
         "/opt/x is a symlink, on the way to /opt/x/y"),
        ([("dir", "opt"), ("link", "opt/x", host)], "vol:/opt/x", "/opt/x is a symlink"),
        ([("link", "work", host)], "/work/deeper/x", "/work is a symlink"),
    ]
    for layout, spec, needle in cases:
        root = make_rootfs(ctx, layout)
        run_refused(ctx, root, ["-v", spec], needle, host)


def test_rootfs_etc_symlink_is_refused(ctx):
    """The rootfs's etc is read by stockade (as root: any file) to build the sandbox's /etc;
    `etc -> HOST` copied HOST's files into the sandbox (`etc -> /etc`: the host's shadow)."""
    host = host_dir(ctx)
    for target in (host, "/etc", "../" * 12 + host.lstrip("/")):
        root = make_rootfs(ctx, [("link", "etc", target)])
        r = run_refused(ctx, root, [], "etc is a symlink", host)
        expect("HOST-SECRET" not in r.out, "the host's file reached the sandbox")


def test_rootfs_own_names_symlinked_stay_ours(ctx):
    """tmp, home, dev, proc (and sys) are stockade's own: a rootfs's links by those names are
    not taken, so volumes and files below them land in the sandbox's tmpfs, not in HOST."""
    host = host_dir(ctx)
    before = listing(host)
    root = make_rootfs(ctx, [("link", n, host) for n in ("tmp", "home", "dev", "proc", "sys")])
    cmd = ("echo t > /tmp/f && echo v > /tmp/vol/f && echo h > $HOME/f && echo w > $HOME/w/f "
           "&& cat /tmp/motd 2>/dev/null; grep -c ' /tmp tmpfs ' /proc/self/mounts; "
           "echo /dev/null:; echo > /dev/null && echo ok")
    r = ctx.sandbox(["/bin/sh", "-c", cmd], opts=["--rootfs", root, "-v", "/tmp/vol",
                                                  "-v", "w:/home/sandbox/w"],
                    env={"STOCKADE_HOME": ctx.fresh_state()})
    expect(r.returncode == 0, f"{r}")
    expect(r.out == "1\n/dev/null:\nok\n", f"{r}")
    expect(listing(host) == before, f"the host directory changed: {listing(host)}")


def test_rootfs_normal_still_works(ctx):
    """A rootfs with in-tree links (bin -> usr/bin), a real directory to mount a volume in and
    a link that stays inside: runs, sees its own etc, and the volume keeps what was written."""
    root = make_rootfs(ctx, [("dir", "work/x"), ("link", "data", "work"),
                             ("link", "etc/issue", "motd")])
    state = ctx.fresh_state()
    cmd = "cat /etc/motd /etc/issue; echo kept > /work/x/f; ls /data; echo > /srv/v/g && echo ok"
    r = ctx.sandbox(["/bin/sh", "-c", cmd],
                    opts=["--rootfs", root, "-v", "vol:/work/x", "-v", "/srv/v"],
                    env={"STOCKADE_HOME": state})
    expect(r.returncode == 0, f"{r}")
    expect(r.out == "rootfs-motd\nrootfs-motd\nx\nok\n", f"{r}")
    r = ctx.sandbox(["/bin/sh", "-c", "cat /work/x/f"], opts=["--rootfs", root, "-v",
                                                              "vol:/work/x"],
                    env={"STOCKADE_HOME": state})
    expect(r.returncode == 0 and r.out == "kept\n", f"{r}")
    expect(os.listdir(os.path.join(root, "work", "x")) == [], "written into the rootfs itself")
