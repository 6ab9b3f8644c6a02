"""Managed volumes (issue 6): the -v grammar and its two phases, persistence, :ro from inside,
ownership, anonymous cleanup, rm of a volume in use, links planted by the sandbox or on the
host side (export, rm and prune must never touch their targets; export recreates only links
that stay inside what it exported, --links=safe|skip|keep), symlink races during
import/export/rm, and the disk reserve on a small file system (fill, ENOSPC hint, release,
hysteresis, recovery). Each test has its own STOCKADE_HOME."""
import gzip
import json
import os
import re
import shutil
import stat
import subprocess
import time

import harness
from harness import expect

PY = "/usr/bin/python3"


class Store:
    """stockade with one fresh STOCKADE_HOME."""

    def __init__(self, ctx, home=None):
        self.ctx = ctx
        self.home = home or ctx.fresh_state()
        self.env = {"STOCKADE_HOME": self.home}

    def run(self, cmd, opts=(), **kw):
        return self.ctx.sandbox(cmd, opts=opts, env=self.env, **kw)

    def cli(self, *args, **kw):
        return self.ctx.stockade(*args, env=self.env, **kw)

    def path(self, kind, name=""):
        return os.path.join(self.home, "volumes", kind, name)

    def names(self, kind):
        p = self.path(kind)
        return sorted(os.listdir(p)) if os.path.isdir(p) else []


def one_line_125(r, needle):
    expect(r.returncode == 125, f"expected 125: {r}")
    expect(r.err.count("\n") == 1 and r.err.startswith("stockade: "), f"one line: {r.err!r}")
    expect(needle in r.err, f"{needle!r} not in {r.err!r}")


def tree_snapshot(top):
    """Names, types, modes, sizes, mtimes and contents below top (links not followed)."""
    snap = {}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            data = b""
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    data = f.read()
            snap[os.path.relpath(p, top)] = (st.st_mode, st.st_size, st.st_mtime_ns, data)
    return snap


def marker_dir(ctx):
    """A host directory the sandbox's links will point at; it must never change."""
    d = ctx.tmpdir()
    with open(os.path.join(d, "keep"), "w") as f:
        f.write("precious\n")
    os.chown(os.path.join(d, "keep"), ctx.caller_uid, ctx.caller_gid)
    os.mkdir(os.path.join(d, "sub"))
    os.chown(os.path.join(d, "sub"), ctx.caller_uid, ctx.caller_gid)
    os.chmod(d, 0o777)  # writable by the sandbox's host uid: only stockade's care protects it
    return d


GOOD_SPECS = [
    (["-v", "/data"], "/data", "rw"),
    (["-v", "/data:ro"], "/data", "ro"),
    (["-v", "/data:rw"], "/data", "rw"),
    (["-v", "work:/work"], "/work", "rw"),
    (["-v", "work:/work:ro"], "/work", "ro"),
    (["-v", "w.x_1-2:/tmp/inner"], "/tmp/inner", "rw"),
    (["-v", "w:/home/sandbox/proj"], "/home/sandbox/proj", "rw"),
    (["--volume", "a:/opt/a", "-v", "b:/opt/b"], "/opt/b", "rw"),
]

BAD_SPECS = [
    ("/etc/passwd:/data", "host paths cannot be mounted", "stockade volume import"),
    ("/home/me/proj:/proj:ro", "host paths cannot be mounted", "stockade volume import"),
    ("./proj:/proj", "host paths cannot be mounted", "stockade volume import"),
    ("~/proj:/proj", "host paths cannot be mounted", None),
    ("a/b:/proj", "host paths cannot be mounted", None),
    ("data", "must be absolute", None),
    ("name:data", "must be absolute", None),
    ("name:/a/../etc", "'..'", None),
    ("/a/..", "'..'", None),
    ("name:/a/./b", "'.'", None),
    ("name:/a//b", "empty component", None),
    ("name:/a/", "trailing", None),
    ("/usr/local/x", "system tree", None),
    ("n:/etc", "system tree", None),
    ("n:/proc/x", "system tree", None),
    ("n:/dev", "system tree", None),
    ("n:/sys", "system tree", None),
    ("n:/bin", "system tree", None),
    ("n:/lib64/x", "system tree", None),
    ("n:/", "cannot cover", None),
    ("n:/home", "cannot cover", None),
    ("-bad:/x", "bad volume name", None),
    (".hidden:/x", "host paths", None),
    ("bad$name:/x", "bad volume name", None),
    ("n" * 65 + ":/x", "bad volume name", None),
    (":/x", "bad volume name", None),
    ("n:/x:rx", "unknown option", None),
    ("/x:", "unknown option", None),
    ("n:/x:ro:rw", "too many ':'", None),
    ("", "must be absolute", None),
]


def test_grammar_accepted(ctx):
    s = Store(ctx)
    for opts, guest, mode in GOOD_SPECS:
        r = s.run(f"grep ' {guest} ' /proc/self/mounts", opts=opts)
        expect(r.returncode == 0, f"{opts}: {r}")
        expect(f" {mode}," in r.out or f" {mode} " in r.out, f"{opts}: not {mode}: {r.out}")


def test_grammar_refused(ctx):
    s = Store(ctx)
    for spec, needle, hint in BAD_SPECS:
        r = s.run("echo RAN", opts=["-v", spec])
        one_line_125(r, needle)
        expect("RAN" not in r.out, f"{spec}: the command ran")
        if hint:
            expect(hint in r.err, f"{spec}: no hint {hint!r}: {r.err}")
    for opts, needle in [(["-v", "a:/x", "-v", "b:/x"], "already used"),
                         (["-v", "a:/x", "-v", "b:/x/y"], "inside another"),
                         (["-v", "a:/x/y", "-v", "/x"], "inside another"),
                         ([a for i in range(17) for a in ("-v", f"/v{i}")], "too many volumes")]:
        r = s.run("echo RAN", opts=opts)
        one_line_125(r, needle)
    expect(s.names("named") == [] and s.names("anonymous") == [], "a refused run left volumes")


def test_two_phase_bad_third_spec_leaves_nothing(ctx):
    s = Store(ctx)
    r = s.run("echo RAN", opts=["-v", "first:/a", "-v", "/b", "-v", "/etc/shadow:/c"])
    one_line_125(r, "host paths cannot be mounted")
    expect(s.names("named") == [] and s.names("anonymous") == [], "phase 1 created volumes")
    meta = s.path("meta")
    expect(not os.path.isdir(meta) or os.listdir(meta) == [], f"metadata left: {meta}")
    # A run that fails after the volumes were made (the command never starts) takes back
    # what it created too.
    r = s.run("echo RAN", opts=["-v", "first:/a", "-w", "/no/such/dir"])
    expect(r.returncode == 125 and "RAN" not in r.out, f"{r}")
    expect(s.names("named") == [], f"a run that never started left {s.names('named')}")


def test_persistence_and_ownership(ctx):
    s = Store(ctx)
    r = s.run("echo hello > /data/f && mkdir /data/d && echo x > /data/d/g", opts=["-v", "keep:/data"])
    expect(r.returncode == 0, f"{r}")
    r = s.run("cat /data/f /data/d/g; id -u", opts=["-v", "keep:/data:ro"])
    expect(r.returncode == 0 and r.out.startswith("hello\nx\n"), f"{r}")
    vol = s.path("named", "keep")
    st = os.lstat(vol)
    expect(stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode))
    for p in (vol, os.path.join(vol, "f"), os.path.join(vol, "d", "g")):
        expect(os.lstat(p).st_uid == ctx.host_uid, f"{p} owned by {os.lstat(p).st_uid}, "
               f"want {ctx.host_uid}")
    # The store itself belongs to the caller and nobody else can enter it.
    for p in (os.path.join(s.home, "volumes"), s.path("named"), s.path("meta")):
        st = os.lstat(p)
        expect(st.st_uid == ctx.caller_uid and stat.S_IMODE(st.st_mode) == 0o700, p)
    r = s.cli("volume", "ls", "--json")
    data = json.loads(r.out)
    expect(r.returncode == 0 and [v["name"] for v in data] == ["keep"], f"{r}")
    expect(data[0]["kind"] == "named" and data[0]["size_bytes"] > 0 and not data[0]["in_use"],
           f"{data}")
    expect(data[0]["created"].endswith("Z") and data[0]["last_used"] >= data[0]["created"],
           f"{data}")


def test_readonly_enforced_from_inside(ctx):
    s = Store(ctx)
    expect(s.run("echo 1 > /d/f", opts=["-v", "ro1:/d"]).returncode == 0, "seed")
    probe = ("import errno,os\n"
             "for op in (lambda: open('/d/new','w'), lambda: open('/d/f','a'),"
             " lambda: os.mkdir('/d/x'), lambda: os.unlink('/d/f'), lambda: os.chmod('/d/f',0o777)):\n"
             "    try:\n        op(); print('OK')\n"
             "    except OSError as e: print(errno.errorcode[e.errno])\n")
    r = s.run([PY, "-c", probe], opts=["-v", "ro1:/d:ro"])
    expect(r.returncode == 0 and r.out.split() == ["EROFS"] * 5, f"{r}")
    r = s.run("grep ' /d ' /proc/self/mounts", opts=["-v", "ro1:/d:ro"])
    expect(" ro," in r.out and "nosuid" in r.out and "nodev" in r.out, r.out)
    # Writable ones are writable (Landlock has a rule for them), and still nosuid,nodev.
    r = s.run("touch /d/ok && grep ' /d ' /proc/self/mounts", opts=["-v", "ro1:/d"])
    expect(r.returncode == 0 and " rw," in r.out and "nosuid" in r.out, f"{r}")


def test_anonymous_cleanup_keep_and_prune(ctx):
    s = Store(ctx)
    r = s.run("echo x > /scratch/f; ls /scratch", opts=["-v", "/scratch"])
    expect(r.returncode == 0 and r.out == "f\n", f"{r}")
    expect(s.names("anonymous") == [], f"anonymous volume left: {s.names('anonymous')}")
    r = s.run("exit 3", opts=["-v", "/scratch"])
    expect(r.returncode == 3 and s.names("anonymous") == [], "removed after a failing command")
    r = s.run("echo x > /scratch/f", opts=["-v", "/scratch", "--keep-volumes"])
    kept = s.names("anonymous")
    expect(r.returncode == 0 and len(kept) == 1 and kept[0] in r.err, f"{r} {kept}")
    r = s.cli("volume", "inspect", kept[0])
    expect(r.returncode == 0 and "kind: anonymous" in r.out, f"{r}")
    r = s.cli("volume", "prune")
    expect(r.returncode == 0 and "removed 1" in r.out and s.names("anonymous") == [], f"{r}")


def wait_in_use(s, name, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = s.cli("volume", "inspect", "--json", name)
        if r.returncode == 0 and json.loads(r.out)["in_use"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"volume {name} never showed as in use")


def test_rm_and_prune_refuse_a_volume_in_use(ctx):
    s = Store(ctx)
    p = ctx.popen([ctx.stockade_path, "run", "-v", "busy:/b", "-v", "/anon", "--keep-volumes",
                   "--", "sh", "-c", "echo up; exec sleep 30"], env=s.env,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_in_use(s, "busy")
        # The workload runs: PID 1 has long closed its copy of the lock fd (child_fds), so
        # from here only stockade holds the lock and killing stockade releases it at once.
        expect(p.stdout.readline() == b"up\n", "the workload never started")
        r = s.cli("volume", "rm", "busy")
        one_line_125(r, "in use")
        anon = s.names("anonymous")
        r = s.cli("volume", "prune")
        expect(r.returncode == 0 and s.names("anonymous") == anon, f"pruned one in use: {r}")
        expect(s.names("named") == ["busy"], "removed while in use")
    finally:
        p.kill()
        p.wait()
    # PID 1 dies with stockade; the lock goes with stockade's fds.
    r = s.cli("volume", "rm", "busy")
    expect(r.returncode == 0 and s.names("named") == [], f"{r}")
    r = s.cli("volume", "rm", "busy")
    one_line_125(r, "no volume named busy")


def test_links_planted_inside_are_never_followed(ctx):
    """The sandbox replaces a subdirectory with a symlink to /etc and to a host marker dir, and
    plants links to single files; export, rm and prune must leave the targets alone."""
    s = Store(ctx)
    m = marker_dir(ctx)
    before = tree_snapshot(m)
    etc_before = tree_snapshot("/etc/ssl") if os.path.isdir("/etc/ssl") else {}
    plant = (f"mkdir -p /v/sub/deep && echo x > /v/sub/deep/f && rm -rf /v/sub && "
             f"ln -s /etc /v/sub && ln -s {m} /v/marker && ln -s {m}/keep /v/keepfile && "
             f"ln -s /etc/ssl /v/ssl && mkdir /v/d && ln -s {m}/sub /v/d/inner && "
             f"mkfifo /v/fifo && chmod 000 /v/d")
    for opts in (["-v", "evil:/v"], ["-v", "/v", "--keep-volumes"]):
        r = s.run(plant, opts=opts)
        expect(r.returncode == 0, f"{r}")
    out = ctx.tmpdir()
    # --links=keep: the links are recreated as links (and never followed while copying).
    r = s.cli("volume", "export", "--links=keep", "evil", os.path.join(out, "x"))
    expect(r.returncode == 0, f"{r}")
    expect("skipped 1 special file" in r.err, f"fifo not reported: {r.err}")
    x = os.path.join(out, "x")
    for name in ("sub", "marker", "keepfile", "ssl"):
        expect(os.path.islink(os.path.join(x, name)), f"{name} was not copied as a link")
    expect(not os.path.exists(os.path.join(x, "fifo")), "fifo copied")
    anon = s.names("anonymous")
    expect(len(anon) == 1, f"{anon}")
    r = s.cli("volume", "rm", "evil")
    expect(r.returncode == 0 and s.names("named") == [], f"{r}")
    r = s.cli("volume", "prune")
    expect(r.returncode == 0 and s.names("anonymous") == [], f"{r}")
    expect(tree_snapshot(m) == before, "the marker directory changed")
    expect(os.path.exists("/etc/passwd") and os.path.isdir("/etc/ssl"), "/etc damaged")
    if etc_before:
        expect(tree_snapshot("/etc/ssl") == etc_before, "/etc/ssl changed")


def links_leading_out(top):
    """Every link below top (not followed while walking) whose resolution leaves top."""
    real_top = os.path.realpath(top)
    bad = []
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(root, name)
            if os.path.islink(p):
                dest = os.path.realpath(p)
                if dest != real_top and not dest.startswith(real_top + "/"):
                    bad.append((os.path.relpath(p, top), os.readlink(p), dest))
    return bad


# Planted by a real sandbox in a volume; OUT is the host directory holding the export (`exp`)
# and a host file `secret` beside it. Links that lead out, then links that stay in.
PLANT_LINKS = r"""
set -e
cd /v
echo data > file
mkdir -p sub/deeper
echo deep > sub/deeper/g
ln -s /etc/shadow abs                   # absolute, to a file
ln -s MARKER absdir                     # absolute, to a host directory
ln -s .. updir                          # climbs to the export's parent directory
ln -s ../secret climb                   # climbs to a host file
ln -s ../../x sub/climb2                # climbs from one level down
ln -s a/../../secret lexclimb           # climbs with '..' after a name
ln -s . dot                             # in-tree on its own ...
ln -s dot/../secret chain               # ... but this one climbs through it: two steps
ln -s .. sub/top                        # in-tree on its own (the export's top) ...
ln -s top/../secret sub/chain2          # ... and the second step climbs again
ln -s "$(printf '/\033[31mred\007')" "$(printf 'esc\033]0;title\007')"
ln -s file inlink                       # in-tree: a file
ln -s ../../file sub/deeper/back        # in-tree: a file, from two levels down
ln -s sub/deeper dirlink                # in-tree: a directory
ln -s deeper/g sub/glink
"""
LEADING_OUT = {"abs", "absdir", "updir", "climb", "sub/climb2", "lexclimb", "chain",
               "sub/chain2", r"esc\x1b]0;title\x07"}
STAYING_IN = {"dot", "sub/top", "inlink", "sub/deeper/back", "dirlink", "sub/glink"}


def planted_links_volume(ctx):
    s = Store(ctx)
    m = marker_dir(ctx)
    r = s.run(PLANT_LINKS.replace("MARKER", m), opts=["-v", "ln:/v"])
    expect(r.returncode == 0, f"planting: {r}")
    out = ctx.tmpdir()
    with open(os.path.join(out, "secret"), "w") as f:
        f.write("host secret\n")
    os.chmod(out, 0o777)
    return s, m, out


def test_export_leaves_out_links_that_lead_out(ctx):
    """--links=safe (the default): absolute links, links that climb (by depth and '..' in
    order) and chains that climb through another link are not created, each is named on
    stderr (escaped) and counted; links inside are kept and work; nothing outside changes."""
    s, m, out = planted_links_volume(ctx)
    before, secret_before = tree_snapshot(m), tree_snapshot(out)
    exp = os.path.join(out, "exp")
    r = s.cli("volume", "export", "ln", exp)
    expect(r.returncode == 0, f"{r}")
    expect(f"{len(STAYING_IN)} symlinks" in r.out and
           f"{len(LEADING_OUT)} links skipped" in r.out, f"summary: {r.out!r}")
    lines = r.err.splitlines()
    named = {l.split(" ")[3] for l in lines if l.startswith("stockade: skipped link ")}
    expect(named == LEADING_OUT, f"stderr names {sorted(named)}, want {sorted(LEADING_OUT)}")
    expect("stockade: skipped link abs -> /etc/shadow (absolute target)" in lines, r.err)
    expect("stockade: skipped link climb -> ../secret (climbs out of the export)" in lines,
           r.err)
    expect(any(l.startswith("stockade: skipped link chain -> dot/../secret (") for l in lines),
           r.err)
    expect("\x1b" not in r.err and "\x07" not in r.err and "\\x1b[31mred" in r.err,
           f"a control character reached stderr: {r.err!r}")
    for rel in LEADING_OUT:
        if not rel.startswith("esc"):
            expect(not os.path.lexists(os.path.join(exp, rel)), f"{rel} was exported")
    expect(not [n for n in os.listdir(exp) if n.startswith("esc")], "esc link exported")
    for rel in STAYING_IN:
        expect(os.path.islink(os.path.join(exp, rel)), f"{rel} is not a link in the export")
    expect(links_leading_out(exp) == [], f"links lead out: {links_leading_out(exp)}")
    with open(os.path.join(exp, "inlink")) as f:
        expect(f.read() == "data\n", "inlink")
    with open(os.path.join(exp, "sub", "deeper", "back")) as f:
        expect(f.read() == "data\n", "sub/deeper/back")
    with open(os.path.join(exp, "dirlink", "g")) as f:
        expect(f.read() == "deep\n", "dirlink/g")
    with open(os.path.join(exp, "sub", "glink")) as f:
        expect(f.read() == "deep\n", "sub/glink")
    expect(os.path.samefile(os.path.join(exp, "sub", "top"), exp), "sub/top")
    expect(tree_snapshot(m) == before, "the marker directory changed")
    after = tree_snapshot(out)
    expect({k: v for k, v in after.items() if not k.startswith("exp")} == secret_before,
           "something beside the export changed")


def test_export_links_skip_and_keep(ctx):
    """--links=skip drops every link; --links=keep is the old behaviour (every link as it is:
    the chain then really reaches the host's file, which is why it is not the default); a safe
    export into the same directory takes away the links the earlier one left that lead out;
    a bad --links value is one line, exit 125, nothing exported."""
    s, m, out = planted_links_volume(ctx)
    before = tree_snapshot(m)
    skip = os.path.join(out, "skip")
    r = s.cli("volume", "export", "--links", "skip", "ln", skip)
    total = len(LEADING_OUT) + len(STAYING_IN)
    expect(r.returncode == 0 and f"0 symlinks" in r.out and f"{total} links skipped" in r.out,
           f"{r}")
    expect(r.err.count("stockade: skipped link ") == total and "(--links=skip)" in r.err, r.err)
    expect(all(not os.path.islink(os.path.join(root, n)) for root, dirs, files in os.walk(skip)
               for n in dirs + files), "a link was exported with --links=skip")
    expect(os.path.isfile(os.path.join(skip, "sub", "deeper", "g")), "files missing")
    keep = os.path.join(out, "keep")
    r = s.cli("volume", "export", "--links=keep", "ln", keep)
    expect(r.returncode == 0 and f"{total} symlinks" in r.out and "skipped" not in r.out,
           f"{r}")
    expect(os.readlink(os.path.join(keep, "abs")) == "/etc/shadow", "abs")
    with open(os.path.join(keep, "chain")) as f:  # the differential: this is what safe stops
        expect(f.read() == "host secret\n", "the two-step chain does not reach the host file")
    with open(os.path.join(keep, "sub", "chain2")) as f:
        expect(f.read() == "host secret\n", "sub/chain2")
    expect(links_leading_out(keep) != [], "keep exported no link leading out")
    r = s.cli("volume", "export", "ln", keep)
    expect(r.returncode == 0 and f"{len(LEADING_OUT)} links skipped" in r.out, f"{r}")
    expect(links_leading_out(keep) == [], f"left behind: {links_leading_out(keep)}")
    for value in ("bogus", "", "SAFE"):
        bad = os.path.join(out, "bad")
        r = s.cli("volume", "export", f"--links={value}", "ln", bad)
        one_line_125(r, "--links")
        expect(not os.path.exists(bad), "a refused export created its directory")
    r = s.cli("volume", "import", "--links=skip", "ln", out)
    one_line_125(r, "volume")
    expect(tree_snapshot(m) == before, "the marker directory changed")


def test_volume_dir_symlinked_on_host_side(ctx):
    """A volume directory replaced by a symlink (or a file, or a dir of another owner) is
    never mounted, imported into or exported; rm removes the link, not its target."""
    s = Store(ctx)
    m = marker_dir(ctx)
    before = tree_snapshot(m)
    expect(s.cli("volume", "create", "v").returncode == 0, "create")
    vol = s.path("named", "v")
    os.rmdir(vol)
    os.symlink(m, vol)
    r = s.run("ls /data; touch /data/owned", opts=["-v", "v:/data"])
    one_line_125(r, "open volume v")
    src = ctx.tmpdir()
    with open(os.path.join(src, "payload"), "w") as f:
        f.write("x")
    r = s.cli("volume", "import", "v", src)
    one_line_125(r, "open volume v")
    r = s.cli("volume", "export", "v", os.path.join(ctx.tmpdir(), "out"))
    one_line_125(r, "open volume v")
    r = s.cli("volume", "rm", "v")
    expect(r.returncode == 0 and not os.path.lexists(vol), f"{r}")
    expect(tree_snapshot(m) == before, "the marker directory changed")
    if ctx.is_root:
        # A real directory of the wrong owner is refused too.
        os.mkdir(vol, 0o700)
        r = s.run("true", opts=["-v", "v:/data"])
        one_line_125(r, "not a directory owned by uid 10001")


DEVICE_PROBE = r"""
import errno, os, sys
for path, flags, label in ((sys.argv[1], os.O_RDWR, "rw"), (sys.argv[2], os.O_RDONLY, "ro")):
    try:
        os.close(os.open(path, flags))
        print(label, "opened")
    except OSError as e:
        print(label, errno.errorcode[e.errno])
"""


def test_device_node_in_a_volume_cannot_be_opened(ctx):
    """A character device put into a volume on the host side (here /dev/null's 1:3, mode
    0666, owned by the sandbox's host uid) does not open inside: volumes are mounted nodev,
    writable ones too. Landlock does not stand in the way (a writable volume's rule grants
    every right, and read access covers the read-only one), so EACCES is nodev's answer. On
    the host the same node opens."""
    s = Store(ctx)
    for name in ("wdev", "rdev"):
        expect(s.cli("volume", "create", name).returncode == 0, f"create {name}")
        node = os.path.join(s.path("named", name), "null")
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(node, 0o666)
        os.chown(node, ctx.host_uid, ctx.host_uid if ctx.is_root else ctx.caller_gid)
    r = s.run([PY, "-c", DEVICE_PROBE, "/w/null", "/r/null"],
              opts=["-v", "wdev:/w", "-v", "rdev:/r:ro"])
    expect(r.returncode == 0 and r.out.split("\n")[:2] == ["rw EACCES", "ro EACCES"],
           f"device nodes in volumes: {r}")
    r = s.run("grep -E ' /(w|r) ' /proc/self/mountinfo", opts=["-v", "wdev:/w", "-v", "rdev:/r:ro"])
    for line in r.out.splitlines():
        expect("nodev" in line.split()[5].split(","), f"volume mount without nodev: {line}")
    expect(len(r.out.splitlines()) == 2, f"{r}")
    native = ctx.run([PY, "-c", DEVICE_PROBE, os.path.join(s.path("named", "wdev"), "null"),
                      os.path.join(s.path("named", "rdev"), "null")])
    expect(native.out.split("\n")[:2] == ["rw opened", "ro opened"], f"on the host: {native}")


def test_volume_directory_replaced_is_refused(ctx):
    """A volume whose directory was replaced on the host side is never mounted: by a bind
    mount of another directory of the same file system and owner (only the no-mount-crossing
    rule of the open tells it apart), by a tmpfs of the right owner (another device), by a
    file. Exit 125 naming the volume, the command not run, the bound directory untouched.
    (A symlink: test_volume_dir_symlinked_on_host_side.)"""
    if not shutil.which("mount"):
        raise harness.Skip("mount(8) is not installed")
    s = Store(ctx)
    expect(s.cli("volume", "create", "v").returncode == 0, "create")
    vol = s.path("named", "v")
    other = ctx.tmpdir(0o700)  # same file system as the store, the volume's owner
    os.chown(other, ctx.host_uid, -1)
    with open(os.path.join(other, "keep"), "w") as f:
        f.write("precious\n")
    before = tree_snapshot(other)
    gid = ctx.host_uid if ctx.is_root else ctx.caller_gid
    for how in ("bind", "tmpfs"):
        args = (["--bind", other, vol] if how == "bind" else
                ["-t", "tmpfs", "-o", f"mode=0700,uid={ctx.host_uid},gid={gid},size=1m",
                 "stockade-test", vol])
        subprocess.run(["mount"] + args, check=True)
        try:
            expect(os.stat(vol).st_uid == ctx.host_uid, f"{how}: owner")
            r = s.run("echo RAN; touch /data/planted", opts=["-v", "v:/data"])
        finally:
            subprocess.run(["umount", vol], check=True)
        one_line_125(r, "volume v")
        expect("RAN" not in r.out, f"{how}: the command ran: {r}")
    os.rmdir(vol)
    with open(vol, "w") as f:
        f.write("not a directory\n")
    os.chown(vol, ctx.host_uid, -1)
    r = s.run("echo RAN", opts=["-v", "v:/data"])
    one_line_125(r, "volume v")
    expect("RAN" not in r.out, f"file: the command ran: {r}")
    expect(tree_snapshot(other) == before, "the directory bound over the volume changed")
    # Control: the same volume, a directory again, mounts.
    os.unlink(vol)
    os.mkdir(vol, 0o700)
    os.chown(vol, ctx.host_uid, -1)
    r = s.run("echo RAN", opts=["-v", "v:/data"])
    expect(r.returncode == 0 and r.out == "RAN\n", f"the restored volume: {r}")


def test_import_export_roundtrip(ctx):
    s = Store(ctx)
    src = ctx.tmpdir()
    os.makedirs(os.path.join(src, "a", "b"))
    files = {"top": (0o640, b"top\n"), "a/exe": (0o755, b"#!/bin/sh\necho ok\n"),
             "a/b/suid": (0o4755, b"x"), "a/b/big": (0o600, os.urandom(300000))}
    for rel, (mode, data) in files.items():
        p = os.path.join(src, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
        os.utime(p, ns=(1_000_000_000_000_000_000, 1_100_000_000_123_456_789))
    os.symlink("../top", os.path.join(src, "a", "link"))
    os.mkfifo(os.path.join(src, "fifo"))
    os.chmod(os.path.join(src, "a", "b"), 0o750)
    os.utime(os.path.join(src, "a", "b"), ns=(1_000_000_000_000_000_000, 1_200_000_000_000_000_000))
    for root, dirs, names in os.walk(src):
        for n in dirs + names:
            os.lchown(os.path.join(root, n), ctx.caller_uid, ctx.caller_gid)
    r = s.cli("volume", "import", "rt", src)
    expect(r.returncode == 0 and "imported 4 files" in r.out, f"{r}")
    expect("skipped 1 special file" in r.err and "fifo" in r.err, r.err)
    vol = s.path("named", "rt")
    for root, dirs, names in os.walk(vol):
        for n in dirs + names:
            st = os.lstat(os.path.join(root, n))
            expect(st.st_uid == ctx.host_uid, f"{n} owned by {st.st_uid}")
    r = s.run("./a/exe && cat top && test ! -u a/b/suid", opts=["-v", "rt:/home/sandbox:ro"])
    expect(r.returncode == 0 and r.out == "ok\ntop\n", f"{r}")
    out = os.path.join(ctx.tmpdir(), "out")
    r = s.cli("volume", "export", "rt", out)
    expect(r.returncode == 0, f"{r}")
    for rel, (mode, data) in files.items():
        st = os.lstat(os.path.join(out, rel))
        expect(stat.S_IMODE(st.st_mode) == mode & 0o777, f"{rel}: {oct(st.st_mode)}")
        expect(st.st_mtime_ns == 1_100_000_000_123_456_789, f"{rel}: mtime {st.st_mtime_ns}")
        with open(os.path.join(out, rel), "rb") as f:
            expect(f.read() == data, f"{rel}: content differs")
    st = os.lstat(os.path.join(out, "a", "b"))
    expect(stat.S_IMODE(st.st_mode) == 0o750 and st.st_mtime_ns == 1_200_000_000_000_000_000,
           f"dir a/b: {oct(st.st_mode)} {st.st_mtime_ns}")
    expect(os.readlink(os.path.join(out, "a", "link")) == "../top", "link")
    # Importing again replaces files, never writing through a link planted at their names.
    m = marker_dir(ctx)
    before = tree_snapshot(m)
    r = s.run(f"rm /v/top && ln -s {m}/keep /v/top", opts=["-v", "rt:/v"])
    expect(r.returncode == 0, f"{r}")
    r = s.cli("volume", "import", "rt", src)
    expect(r.returncode == 0 and tree_snapshot(m) == before, f"{r}")
    expect(not os.path.islink(os.path.join(vol, "top")), "the planted link stayed")


RACER = r"""
import os, sys, time
base, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
swaps = 0
side = f".real{os.getpid()}"  # this racer's own: an export may have copied another's
def swap(name):
    p = os.path.join(base, name)
    try:
        if os.path.islink(p):
            os.unlink(p)
            if os.path.isdir(p + side):
                os.rename(p + side, p)
            else:
                os.mkdir(p)
        elif os.path.isdir(p):
            os.rename(p, p + side)
            os.symlink(target, p)
        else:
            return 0
        return 1
    except OSError:
        return 0
# Earlier rounds may have left this tree without an a or b (an import copied a racer's
# renamed directory, a.realPID, and no a): give the racer its two names back first.
for name in ("a", "b"):
    try:
        if not os.path.lexists(os.path.join(base, name)):
            os.mkdir(os.path.join(base, name))
    except OSError:
        pass
# The first swap before the command starts (the test waits for this line), so every race has
# begun by the time the command runs, however fast it is.
start = time.monotonic()
while swaps == 0 and time.monotonic() < start + 5:
    swaps += swap("a") + swap("b")
print("racing" if swaps else "nothing to swap: " + " ".join(sorted(os.listdir(base))),
      flush=True)
end = time.monotonic() + seconds
while swaps and time.monotonic() < end:
    swaps += swap("a") + swap("b")
# Leave the tree as it was: directories, not links.
for name in ("a", "b"):
    p = os.path.join(base, name)
    try:
        if os.path.islink(p):
            os.unlink(p)
        if os.path.isdir(p + side):
            os.rename(p + side, p)
    except OSError:
        pass
print(swaps)
"""


def start_racer(ctx, base, target, seconds):
    """A racer that has swapped at least once already (or failed the test)."""
    racer = ctx.popen([PY, "-c", RACER, base, target, str(seconds)], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    first = racer.stdout.readline().decode().strip()
    if first != "racing":
        racer.kill()
        raise AssertionError(f"the racer could not start in {base}: {first!r} "
                             f"{racer.communicate()[1][-300:]!r}")
    return racer


def test_symlink_races_during_import_export_rm(ctx):
    """A process swaps path components between a directory and a symlink to a marker dir in a
    loop while import, export and rm run: they may fail, but never touch the marker."""
    s = Store(ctx)
    m = marker_dir(ctx)
    before = tree_snapshot(m)
    src = ctx.tmpdir()
    for name in ("a", "b"):
        os.makedirs(os.path.join(src, name, "deep"))
        for i in range(50):
            with open(os.path.join(src, name, "deep", f"f{i}"), "w") as f:
                f.write("data")
    for root, dirs, names in os.walk(src):
        for n in dirs + names:
            os.lchown(os.path.join(root, n), ctx.caller_uid, ctx.caller_gid)
    vol = s.path("named", "race")
    out = os.path.join(ctx.tmpdir(), "out")
    outcomes = []
    swaps = {}  # what each racer swapped, per target: a race that never swapped tests nothing

    def race(where, base, command):
        racer = start_racer(ctx, base, m, 0.6)
        outcomes.append(command())
        done = harness.finish(racer, timeout=10)
        expect(done.returncode == 0 and done.out.strip().isdigit(), f"racer: {done}")
        swaps.setdefault(where, []).append(int(done.out))

    deadline = time.monotonic() + 8
    rounds = 0
    while time.monotonic() < deadline and rounds < 6:
        rounds += 1
        race("import source", src, lambda: s.cli("volume", "import", "race", src).returncode)
        if not os.path.isdir(vol):
            continue
        race("volume during export", vol,
             lambda: s.cli("volume", "export", "race", out).returncode)
        for name in ("a", "b"):  # what the racer swaps (the export may have copied the
            os.makedirs(os.path.join(out, name), exist_ok=True)  # volume's while renamed)
            os.chown(os.path.join(out, name), ctx.caller_uid, ctx.caller_gid)
        race("export destination", out,
             lambda: s.cli("volume", "export", "race", out).returncode)
        race("volume during rm", vol, lambda: s.cli("volume", "rm", "race").returncode)
        expect(tree_snapshot(m) == before, f"round {rounds}: the marker directory changed")
    expect(all(rc in (0, 125) for rc in outcomes), f"unexpected exit: {outcomes}")
    expect(tree_snapshot(m) == before, "the marker directory changed")
    # Every target was raced: each racer swapped its directories for links before the command
    # started and counts every swap (a wrong path or a failing racer swaps nothing).
    expect(set(swaps) == {"import source", "volume during export", "export destination",
                          "volume during rm"}, f"targets raced: {swaps}")
    expect(all(count > 0 for counts in swaps.values() for count in counts),
           f"a racer swapped nothing: {swaps}")


def mount_small_fs(ctx, size="160m"):
    if not ctx.is_root:
        raise harness.Skip("needs root to mount a small tmpfs (the reserve's lifecycle)")
    d = ctx.tmpdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "stockade-test", d],
                   check=True)
    ctx._cleanup.append(lambda: subprocess.run(["umount", "-l", d]))
    home = os.path.join(d, "home")
    os.mkdir(home, 0o700)
    return d, home


def fill(path):
    with open(path, "wb") as f:
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass


def test_reserve_lifecycle_on_a_small_filesystem(ctx):
    d, home = mount_small_fs(ctx)
    s = Store(ctx, home=home)
    reserve = os.path.join(home, ".reserve")
    r = s.cli("volume", "ls")
    expect(r.returncode == 0 and r.err == "", f"{r}")
    expect(os.lstat(reserve).st_blocks * 512 >= 64 << 20, "reserve not allocated")
    r = s.cli("reserve", "status")
    expect("64 MiB allocated" in r.out, r.out)
    # Self-healing: a shrunk reserve is topped up, a deleted one re-created (space allows).
    os.truncate(reserve, 1 << 20)
    s.cli("volume", "ls")
    expect(os.lstat(reserve).st_blocks * 512 >= 64 << 20, "not topped up")
    os.unlink(reserve)
    s.cli("volume", "ls")
    expect(os.path.exists(reserve), "not re-created")
    # Fill the disk: a stockade command failing with ENOSPC names the way out.
    fill(os.path.join(d, "filler"))
    src = ctx.tmpdir()
    with open(os.path.join(src, "big"), "wb") as f:
        f.write(os.urandom(4 << 20))
    r = s.cli("volume", "import", "v", src)
    lines = r.err.strip().split("\n")
    expect(r.returncode == 125 and "No space left on device" in lines[0], f"{r}")
    expect(len(lines) == 2 and "stockade reserve release" in lines[-1], f"hint: {r.err!r}")
    r = s.cli("reserve", "release")
    expect(r.returncode == 0 and "released 64 MiB" in r.out and not os.path.exists(reserve),
           f"{r}")
    r = s.cli("reserve", "status")
    expect("released" in r.out, r.out)
    # Hysteresis: free space is now ~64 MiB, below twice the reserve: not re-created, and said.
    r = s.cli("volume", "import", "v", src)
    expect(r.returncode == 0, f"the released space was not usable: {r}")
    expect("reserve: not re-created" in r.err and not os.path.exists(reserve), f"{r}")
    # Recovery: once space is freed, the next command re-creates it.
    os.unlink(os.path.join(d, "filler"))
    r = s.cli("volume", "ls")
    expect(r.returncode == 0 and r.err == "" and os.path.exists(reserve), f"{r}")


def test_reserve_release_without_reserve_and_usage(ctx):
    s = Store(ctx)
    expect(s.cli("reserve", "release").returncode == 0, "release")
    r = s.cli("reserve", "release")
    expect(r.returncode == 0 and "no reserve" in r.out, f"{r}")
    r = s.cli("reserve", "bogus")
    one_line_125(r, "reserve")
    # status does not re-create it; any other command does.
    r = s.cli("reserve", "status")
    expect("released" in r.out and not os.path.exists(os.path.join(s.home, ".reserve")), r.out)
    s.cli("volume", "ls")
    expect(os.path.exists(os.path.join(s.home, ".reserve")), "not re-created")


def test_size_limit_refused_without_project_quota(ctx):
    """Where project quota is missing, --size is refused with the way out and nothing is left
    behind: as root on a tmpfs (tmpfs has no project quota), as the test user anywhere (only
    root may set a project quota)."""
    if ctx.is_root:
        _, home = mount_small_fs(ctx)
        s = Store(ctx, home=home)
    else:
        s = Store(ctx)
    r = s.cli("volume", "create", "--size", "10m", "lim")
    one_line_125(r, "volume size limit")
    expect(("project quota" in r.err and "prjquota" in r.err) if ctx.is_root else
           "only root" in r.err, f"no way out given: {r.err!r}")
    expect(s.names("named") == [], "a refused create left the volume")


def kernel_config(option):
    """'y', 'm', 'n' (not set) or None (no /proc/config.gz to tell)."""
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        return None
    m = re.search(rf"^{option}=(\w+)$", text, re.MULTILINE)
    return m.group(1) if m else "n"


def mount_project_quota_fs(ctx):
    """As root: a 256 MiB ext4 image made with project quota, loop-mounted with prjquota; its
    mount point. Skips, saying why, where this machine cannot make one."""
    mkfs = shutil.which("mkfs.ext4", path=harness.BASE_ENV["PATH"])
    if not mkfs:
        raise harness.Skip("mkfs.ext4 is not installed (`make deps` installs e2fsprogs)")
    d = ctx.tmpdir()
    image, point = os.path.join(d, "prjquota.img"), os.path.join(d, "mnt")
    with open(image, "wb") as f:
        f.truncate(256 << 20)
    subprocess.run([mkfs, "-q", "-F", "-O", "quota,project", "-E", "quotatype=prjquota", image],
                   check=True)
    os.mkdir(point, 0o755)
    r = subprocess.run(["mount", "-o", "loop,prjquota", image, point], capture_output=True,
                       text=True)
    if r.returncode != 0:
        missing = [o for o in ("CONFIG_QUOTA", "CONFIG_QFMT_V2") if kernel_config(o) == "n"]
        if missing:
            raise harness.Skip(f"no project quota in this kernel ({', '.join(missing)} not set): "
                               f"an ext4 image made with it does not mount")
        raise harness.Skip(f"cannot loop-mount an ext4 image with project quota: "
                           f"{r.stderr.strip()}")
    ctx._cleanup.append(lambda: subprocess.run(["umount", "-l", point]))
    return point


@harness.root_only
def test_size_limit_enforced(ctx):
    """On a file system with project quota, --size holds inside a real sandbox: a write past
    10 MiB fails (EDQUOT; ENOSPC on XFS) while the file system has room, the sandbox's df
    shows the limit, and what was written stays under it on the host."""
    point = mount_project_quota_fs(ctx)
    home = os.path.join(point, "home")
    os.mkdir(home, 0o700)
    s = Store(ctx, home=home)
    r = s.cli("volume", "create", "--size", "10m", "lim")
    expect(r.returncode == 0, f"create --size on a project-quota file system: {r}")
    r = s.run("df -k /q | tail -n 1; dd if=/dev/zero of=/q/f bs=1M count=20; echo rc=$?",
              opts=["-v", "lim:/q"])
    expect(r.returncode == 0, f"{r}")
    df_kib = int(r.out.split("\n")[0].split()[1])
    expect(9 * 1024 <= df_kib <= 11 * 1024, f"df in the sandbox does not show 10 MiB: {r.out!r}")
    expect("rc=0" not in r.out, f"wrote 20 MiB past a 10 MiB limit: {r}")
    expect("Disk quota exceeded" in r.err or "No space left on device" in r.err, f"{r.err!r}")
    vfs = os.statvfs(point)
    expect(vfs.f_bavail * vfs.f_frsize > 100 << 20, "the file system itself was full")
    size = os.stat(os.path.join(s.path("named", "lim"), "f")).st_size
    expect(8 << 20 <= size <= 10 << 20, f"{size} bytes written under a 10 MiB limit")
    # The limit is the volume's, not a broken file system: after a delete the space is back.
    r = s.run("rm /q/f && dd if=/dev/zero of=/q/g bs=1M count=5 2>/dev/null && echo WROTE",
              opts=["-v", "lim:/q"])
    expect(r.returncode == 0 and "WROTE" in r.out, f"{r}")


def test_volume_cli_usage_errors(ctx):
    s = Store(ctx)
    for args, needle in [(["volume"], "no subcommand"), (["volume", "frob"], "unknown"),
                         (["volume", "create"], "create takes"),
                         (["volume", "create", "bad/name"], "bad volume name"),
                         (["volume", "inspect", "nope"], "no volume named nope"),
                         (["volume", "rm", "../x"], "bad volume name"),
                         (["volume", "export", "nope", "/tmp/x"], "no volume named nope")]:
        one_line_125(s.cli(*args), needle)
    expect(s.cli("volume", "create", "dup").returncode == 0, "create")
    one_line_125(s.cli("volume", "create", "dup"), "File exists")
