"""Workspaces, the host side (issue 16, items 2 and 3): `stockade workspace ls|diff|apply|
discard` over the upper layers real sandboxes leave: make_workspace runs the changes in
`stockade run --workspace`.

Each kind of change has its exact diff (table-driven); apply reproduces the overlay's view in
the project (both trees hashed), refuses every hostile entry with nothing applied, or skips it
with --skip-refused; a host change after the start is a conflict; a symlink planted in the
project, before or during the apply, never leads a write out of it; a git commit made in the
overlay applies and git status agrees; --patch is taken by git apply and patch -p1."""
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import threading
import time

import harness
from harness import Home, expect, one_line_125, root_only

SANDBOX_HOST_UID = 10001

# A program printing a JSON manifest of a tree: per path, its type, permission bits and
# content hash or link text (owners and times aside: they differ by design).
MANIFEST = r'''
import hashlib, json, os, stat, sys
top = sys.argv[1]
out = {}
for root, dirs, files in os.walk(top):
    dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    for name in sorted(dirs + files):
        p = os.path.join(root, name)
        st = os.lstat(p)
        rel = os.path.relpath(p, top).encode("utf-8", "surrogateescape").hex()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ["link", os.readlink(p).encode("utf-8", "surrogateescape").hex()]
        elif stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                out[rel] = ["file", oct(st.st_mode & 0o7777), hashlib.sha256(f.read()).hexdigest()]
        else:
            out[rel] = [stat.filemode(st.st_mode)[0], oct(st.st_mode & 0o7777)]
print("===MANIFEST===")
print(json.dumps(out, sort_keys=True))
'''

BASE_FILES = {
    "a.txt": "one\ntwo\nthree\n",
    "b.txt": "bee\n",
    "mv.txt": "move me, I am long enough to be a rename\n",
    "sub/c.txt": "see\n",
    "sub/d.txt": "dee\n",
}


def manifest(ctx, top):
    r = ctx.run(["python3", "-c", MANIFEST, top])
    expect(r.returncode == 0, f"manifest: {r}")
    return json.loads(r.out.split("===MANIFEST===\n", 1)[1])


def differences(a, b):
    """What differs between two manifests, readable."""
    keys = set(a) | set(b)
    return sorted((bytes.fromhex(k).decode("utf-8", "replace"), a.get(k), b.get(k))
                  for k in keys if a.get(k) != b.get(k))


def make_project(ctx, files=BASE_FILES):
    """A host project owned by the caller, its entries made before any workspace starts."""
    top = ctx.tmpdir()
    for rel, text in files.items():
        p = os.path.join(top, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    for root, dirs, names in os.walk(top):
        for n in dirs + names:
            os.lchown(os.path.join(root, n), ctx.caller_uid, ctx.caller_gid)
    return top


def volume_dir(home, name):
    return os.path.join(home.home, "volumes", "named", "ws-" + name)


def make_workspace(home, project, name, shell_changes):
    """The workspace NAME over project, with shell_changes run by a real sandbox
    (`stockade run --workspace project --workspace-name NAME`), as the sandbox user in its
    overlay. Returns (the changes' output, the manifest of the overlay's view after them,
    taken inside the same sandbox)."""
    script = '( eval "$1" ); python3 -c "$2" "$PWD"'
    r = home.cli("run", "--quiet", "--workspace", project, "--workspace-name", name, "--",
                 "sh", "-c", script, "sh", shell_changes, MANIFEST)
    expect(r.returncode == 0, f"sandbox with the workspace: {r}")
    out, _, view = r.out.partition("===MANIFEST===\n")
    return out, json.loads(view)


def stat_lines(r):
    """The change lines of `workspace diff` (the summary line aside)."""
    expect(r.returncode == 0, f"diff: {r}")
    lines = r.out.splitlines()
    expect(lines and (lines[-1] == "no changes" or " changes: " in lines[-1] or
                      " change: " in lines[-1]), f"no summary: {r.out!r}")
    return lines[:-1]


def workspaces(home):
    r = home.cli("workspace", "ls", "--json")
    expect(r.returncode == 0, f"ls: {r}")
    return {w["name"]: w for w in json.loads(r.out)}


REFUSE_LINK_ABS = "a symlink whose target is absolute"
REFUSE_LINK_UP = "a symlink whose target climbs out of the directory"

# (name, shell run in the overlay, exact `diff` lines, is any refused)
CASES = [
    ("write", "echo four >> a.txt", ["M a.txt"], False),
    ("add", "echo new > n.txt", ["A n.txt"], False),
    ("delete", "rm b.txt", ["D b.txt"], False),
    ("rename", "mv mv.txt moved.txt", ["R mv.txt -> moved.txt"], False),
    ("chmod", "chmod 755 b.txt", ["m b.txt 0644 -> 0755"], False),
    ("mkdir", "mkdir nd", ["A nd/"], False),
    ("rmdir", "rm -r sub", ["D sub/", "D sub/c.txt", "D sub/d.txt"], False),
    ("opaque", "rm -r sub && mkdir sub && echo n > sub/n.txt",
     ["D sub/c.txt", "D sub/d.txt", "A sub/n.txt"], False),
    ("type", "rm b.txt && mkdir b.txt", ["T b.txt/ (file -> dir)"], False),
    ("symlink_inside", "ln -s ../a.txt sub/lnk", ["A sub/lnk -> ../a.txt"], False),
    ("hardlink", "ln a.txt h.txt", ["A h.txt"], False),
    ("no_change", "touch a.txt && chmod 644 b.txt && cat sub/c.txt >/dev/null", [], False),
    ("control_chars", "echo x > \"$(printf 'e\\033[31m\\tz')\"", ['A "e\\033[31m\\tz"'],
     False),
    ("symlink_out", "ln -s /etc/passwd evil",
     [f"A evil -> /etc/passwd  [refused: {REFUSE_LINK_ABS}]"], True),
    ("symlink_climb", "ln -s ../../x sub/up",
     [f"A sub/up -> ../../x  [refused: {REFUSE_LINK_UP}]"], True),
    ("fifo", "mkfifo ff", ["A ff  [refused: a fifo]"], True),
    ("socket", "python3 -c \"import socket; socket.socket(socket.AF_UNIX).bind('sock')\"",
     ["A sock  [refused: a socket]"], True),
    ("setuid", "chmod u+s b.txt", ["m b.txt 0644 -> 4644  [refused: a setuid or setgid bit]"],
     True),
    ("setgid_new", "echo s > s.txt && chmod 2755 s.txt",
     ["A s.txt  [refused: a setuid or setgid bit]"], True),
]


def test_diff_and_apply_each_kind(ctx):
    home = Home(ctx)
    for name, shell, expected, is_refused in CASES:
        project = make_project(ctx)
        before = manifest(ctx, project)
        _, view = make_workspace(home, project, name, shell)
        got = stat_lines(home.cli("workspace", "diff", name))
        expect(got == expected, f"{name}: diff {got} != {expected}")
        r = home.cli("workspace", "apply", name)
        if is_refused:
            one_line = [line for line in r.err.splitlines() if "refused:" in line]
            expect(r.returncode == 125 and len(one_line) == len(expected),
                   f"{name}: not refused line by line: {r}")
            expect("nothing applied" in r.err.splitlines()[-1], f"{name}: {r.err}")
            expect(manifest(ctx, project) == before, f"{name}: the refused apply wrote")
            expect(name in workspaces(home), f"{name}: a refused workspace went")
        else:
            expect(r.returncode == 0, f"{name}: apply: {r}")
            after = manifest(ctx, project)
            expect(after == view, f"{name}: the project is not the overlay's view:\n"
                   f"{differences(after, view)}")
            expect(name not in workspaces(home) and not os.path.exists(volume_dir(home, name)),
                   f"{name}: the applied workspace stayed")


def test_patch_is_taken_by_git_apply_and_patch(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    shell = ("printf 'one\\n2\\nthree\\nfour\\n' > a.txt; rm b.txt; mv mv.txt moved.txt; "
             "chmod 755 sub/c.txt; mkdir -p new/deep; echo deep > new/deep/f.txt; "
             "ln -s ../a.txt sub/lnk; printf 'no newline' > nonl.txt; : > empty.txt; "
             "printf 'bin\\000ary' > blob.bin; echo x > \"$(printf 'q\"uo\\te')\"")
    _, view = make_workspace(home, project, "p", shell)
    r = home.cli("workspace", "diff", "p", "--patch")
    expect(r.returncode == 0, f"--patch: {r}")
    expect("Binary files /dev/null and b/blob.bin differ\n" in r.out, f"binary: {r.out}")
    expect('"b/q\\"uo\\te"' in r.out, f"quoted name: {r.out}")
    patch_file = os.path.join(ctx.tmpdir(), "p.diff")
    with open(patch_file, "w") as f:
        f.write(r.out)
    os.chmod(patch_file, 0o644)
    expected = {k: v for k, v in view.items() if bytes.fromhex(k) != b"blob.bin"}
    for tool in (["git", "apply", patch_file], ["patch", "-s", "-p1", "-i", patch_file]):
        copy = ctx.tmpdir()
        os.rmdir(copy)
        shutil.copytree(project, copy, symlinks=True)
        for root, dirs, files in os.walk(copy):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), ctx.caller_uid, ctx.caller_gid)
        os.chown(copy, ctx.caller_uid, ctx.caller_gid)
        r = ctx.run(["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", copy] + tool)
        expect(r.returncode == 0, f"{tool[0]}: {r}")
        got = manifest(ctx, copy)
        # A patch carries the x bit only (0644/0755), as git does.
        expect(got == expected, f"{tool[0]}: {differences(got, expected)}")


def test_json_shapes(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "j", "echo x >> a.txt; ln -s /etc/passwd evil; "
                   "mv mv.txt moved.txt; echo e > \"$(printf 'n\\033l')\"")
    r = home.cli("workspace", "diff", "j", "--json")
    expect(r.returncode == 0, f"diff --json: {r}")
    doc = json.loads(r.out)
    expect(doc["version"] == 1 and doc["workspace"] == "j" and doc["guest"] == "/work" and
           doc["dir"] == os.path.realpath(project), f"head: {doc}")
    by_path = {c["path"]: c for c in doc["changes"]}
    expect(by_path["a.txt"] == {"kind": "modified", "path": "a.txt", "from": None,
                                "type": "file", "old_type": "file", "old_mode": "0644",
                                "new_mode": "0644", "size": 16, "target": None,
                                "refused": None}, f"a.txt: {by_path['a.txt']}")
    expect(by_path["evil"]["target"] == "/etc/passwd" and
           by_path["evil"]["refused"] == REFUSE_LINK_ABS, f"evil: {by_path['evil']}")
    expect(by_path["moved.txt"]["kind"] == "renamed" and
           by_path["moved.txt"]["from"] == "mv.txt", f"rename: {by_path}")
    expect("n\x1bl" in by_path and "\\u001b" in r.out.lower() and "\x1b" not in r.out,
           f"control character not escaped: {r.out!r}")
    expect(doc["summary"] == {"added": 2, "modified": 1, "deleted": 0, "renamed": 1,
                              "mode": 0, "type": 0, "refused": 1, "total": 4},
           f"summary: {doc['summary']}")
    r = home.cli("workspace", "diff", "j")
    expect("\x1b" not in r.out and 'A "n\\033l"' in r.out, f"stat escapes: {r.out!r}")
    ls = workspaces(home)
    expect(ls["j"]["dir"] == os.path.realpath(project) and ls["j"]["changes"] == 4 and
           ls["j"]["in_use"] is False and ls["j"]["error"] is None, f"ls: {ls}")
    r = home.cli("workspace", "ls")
    expect(r.returncode == 0 and r.out.splitlines()[1].split()[:4] ==
           ["j", ls["j"]["created"], "no", "4"], f"ls text: {r.out}")


def test_skip_refused_applies_the_rest(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    _, view = make_workspace(home, project, "s", "echo four >> a.txt; ln -s /etc/passwd evil; "
                             "mkfifo ff; mkdir -p bad && chmod 2755 bad && echo in > bad/f")
    r = home.cli("workspace", "apply", "s", "--dry-run")
    expect(r.returncode == 125 and r.err.count("refused:") == 3, f"dry run: {r}")
    r = home.cli("workspace", "apply", "s", "--skip-refused", "--dry-run")
    expect(r.returncode == 0 and "1 change(s) would be applied" in r.out, f"dry run: {r}")
    r = home.cli("workspace", "apply", "s", "--skip-refused")
    expect(r.returncode == 0 and r.err.count("refused:") == 3, f"--skip-refused: {r}")
    after = manifest(ctx, project)
    hidden = {bytes(n, "ascii").hex() for n in ("evil", "ff", "bad", "bad/f")}
    expect(after == {k: v for k, v in view.items() if k not in hidden},
           f"not the view without the refused: {after}")
    expect("s" in workspaces(home), "a workspace with refused entries went")
    got = stat_lines(home.cli("workspace", "diff", "s"))
    expect(len(got) == 4 and all("refused" in line or line == "A bad/f" for line in got),
           f"left: {got}")


def test_conflicts_refuse_everything(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "c", "echo sandbox >> a.txt; echo y > b.txt; "
                   "echo z >> sub/c.txt; echo new > n.txt")
    # The host changes a.txt, makes n.txt and removes sub/c.txt after the start. A removal
    # leaves nothing whose ctime could tell: the sandbox's sub/c.txt comes back (documented).
    r = ctx.run(["sh", "-c", 'cd "$1" && echo host >> a.txt && rm sub/c.txt && '
                 'echo host > n.txt', "sh", project])
    expect(r.returncode == 0, f"host change: {r}")
    before = manifest(ctx, project)
    r = home.cli("workspace", "apply", "c")
    lines = r.err.splitlines()
    expect(r.returncode == 125 and "nothing applied" in lines[-1], f"apply: {r}")
    conflicts = sorted(line.split(":")[2].strip() for line in lines if "conflict:" in line)
    expect(conflicts == ["M a.txt", "M n.txt"], f"conflicts: {lines}")
    expect(manifest(ctx, project) == before, "a conflicting apply wrote")
    r = home.cli("workspace", "apply", "c", "--skip-refused")
    expect(r.returncode == 0, f"--skip-refused: {r}")
    with open(os.path.join(project, "b.txt")) as f:
        expect(f.read() == "y\n", "b.txt (no conflict) was not applied")
    with open(os.path.join(project, "a.txt")) as f:
        expect(f.read().endswith("three\nhost\n"), "the host's change was overwritten")


def plant(project, outside):
    """DIR/sub becomes a link to a directory outside DIR."""
    os.rename(os.path.join(project, "sub"), os.path.join(project, "sub.real"))
    os.symlink(outside, os.path.join(project, "sub"))


def outside_dir(ctx):
    d = ctx.tmpdir(0o777)
    with open(os.path.join(d, "c.txt"), "w") as f:
        f.write("outside\n")
    return d


def test_planted_symlink_before_apply(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "l", "echo new > sub/n.txt; echo more >> sub/c.txt; "
                   "rm sub/d.txt; echo top > top.txt")
    outside = outside_dir(ctx)
    plant(project, outside)
    snapshot = manifest(ctx, outside)
    r = home.cli("workspace", "apply", "l")
    expect(r.returncode == 125 and r.err.count("conflict:") == 3, f"apply: {r}")
    r = home.cli("workspace", "apply", "l", "--skip-refused")
    expect(r.returncode == 0, f"--skip-refused: {r}")
    expect(manifest(ctx, outside) == snapshot, "a write went through the planted link")
    expect(os.path.islink(os.path.join(project, "sub")), "the planted link was replaced")
    expect(os.path.exists(os.path.join(project, "top.txt")), "the rest was not applied")


def test_planted_symlink_race_during_apply(ctx):
    """DIR/sub flips between the real directory and a link out while apply writes 300 files
    into sub/deep (from its first file on, after the conflict check): whatever the apply
    manages, nothing lands outside. The link is a parent of where apply writes, not the last
    component, so it is RESOLVE_NO_SYMLINKS (not O_NOFOLLOW) that must stop it."""
    home = Home(ctx)
    project = make_project(ctx, dict(BASE_FILES, **{"sub/deep/keep": "k\n"}))
    make_workspace(home, project, "race",
                   "for i in $(seq 300); do echo $i > sub/deep/f$i; done")
    outside = outside_dir(ctx)
    os.mkdir(os.path.join(outside, "deep"))
    os.chmod(os.path.join(outside, "deep"), 0o777)
    snapshot = manifest(ctx, outside)
    sub, real, done = (os.path.join(project, "sub"), os.path.join(project, "sub.real"),
                       threading.Event())
    flips = [0]

    def flip():
        first = os.path.join(sub, "deep", "f1")
        while not done.is_set() and not os.path.exists(first):
            pass
        while not done.is_set():
            try:
                os.rename(sub, real)
                os.symlink(outside, sub)
                time.sleep(0.002)  # the link stays long enough for writes to meet it
                os.unlink(sub)
                os.rename(real, sub)
                flips[0] += 1
                time.sleep(0.001)
            except OSError:
                return  # apply made a "sub" of its own in the gap: the race is over

    t = threading.Thread(target=flip)
    t.start()
    try:
        r = home.cli("workspace", "apply", "race")
    finally:
        done.set()
        t.join()
    expect(flips[0] > 0, f"the link never flipped: {r}")
    expect(r.returncode in (0, 125), f"apply: {r}")
    expect(manifest(ctx, outside) == snapshot, f"a write went outside: {r}")


def test_git_commit_in_the_overlay(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    r = ctx.run(["sh", "-c", 'cd "$1" && shift && "$@" init -q . && "$@" add -A && '
                 '"$@" commit -qm base', "sh", project] + git)
    expect(r.returncode == 0, f"git init: {r}")
    g = " ".join(git)
    out, view = make_workspace(
        home, project, "g",
        f"echo four >> a.txt && {g} rm -q b.txt && echo new > n.txt && {g} add n.txt && "
        f"{g} commit -qm change && echo dirty >> sub/c.txt && echo u > untracked.txt && "
        f"{g} status --porcelain && {g} log --format=%H%s")
    r = home.cli("workspace", "apply", "g")
    expect(r.returncode == 0, f"apply: {r}")
    after = manifest(ctx, project)  # before git status, which refreshes the index's stat data
    expect(after == view, f"the project is not the overlay's view: {differences(after, view)}")
    r = ctx.run(["sh", "-c", f'cd "$1" && {g} status --porcelain && {g} log --format=%H%s',
                 "sh", project])
    expect(r.returncode == 0 and r.out == out, f"git in DIR: {r.out!r} != {out!r}")
    expect(" M sub/c.txt" in out and "?? untracked.txt" in out and "change" in out,
           f"the overlay's git: {out!r}")


def test_in_use_discard_and_refusals(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "u", "echo x >> a.txt")
    # The volume is the workspace's: no sandbox mounts it whole (it would reach the record).
    one_line_125(home.cli("run", "-v", "ws-u:/data", "--", "true"), "a workspace's volume")
    # A real sandbox holds the workspace.
    p = ctx.popen([ctx.stockade_path, "run", "--workspace", project, "--workspace-name", "u",
                   "--", "sh", "-c", "echo up; read x"], env=home.env, stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        expect(p.stdout.readline() == b"up\n", "the sandbox did not start")
        expect(workspaces(home)["u"]["in_use"] is True, "not in use")
        one_line_125(home.cli("workspace", "apply", "u"), "workspace u is in use")
        one_line_125(home.cli("workspace", "discard", "u"), "workspace u is in use")
        expect(stat_lines(home.cli("workspace", "diff", "u")) == ["M a.txt"], "diff in use")
    finally:
        harness.finish(p, input=b"end\n", timeout=30)
    before = manifest(ctx, project)
    r = home.cli("workspace", "apply", "u", "--dry-run")
    expect(r.returncode == 0 and manifest(ctx, project) == before, f"dry run wrote: {r}")
    r = home.cli("workspace", "discard", "u")
    expect(r.returncode == 0 and not os.path.exists(volume_dir(home, "u")), f"discard: {r}")
    expect(manifest(ctx, project) == before, "discard touched the project")
    one_line_125(home.cli("workspace", "diff", "u"), "no workspace named u")
    one_line_125(home.cli("workspace", "apply", "nope"), "no workspace named nope")
    one_line_125(home.cli("workspace", "diff", "-x"), "usage")
    one_line_125(home.cli("workspace", "diff", "bad/name"), "bad workspace name")
    one_line_125(home.cli("workspace", "diff", "x", "--patch", "--json"), "--json")


def test_another_directory_at_the_path_is_refused(ctx):
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "d", "echo x >> a.txt")
    os.rename(project, project + ".moved")
    ctx._cleanup.append(lambda: harness.remove_tree(project + ".moved"))
    os.mkdir(project)
    os.chown(project, ctx.caller_uid, ctx.caller_gid)
    one_line_125(home.cli("workspace", "diff", "d"), "no longer the directory")
    one_line_125(home.cli("workspace", "apply", "d"), "no longer the directory")
    expect(os.listdir(project) == [], "apply wrote into another directory")


@root_only
def test_device_node_in_the_upper_layer_is_refused(ctx):
    """No sandbox can make one (mknod in a user namespace makes only whiteouts), but the
    upper layer is read as hostile anyway: a device planted there is refused."""
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "dev", "echo x >> a.txt")
    upper = os.path.join(volume_dir(home, "dev"), "upper")
    os.mknod(os.path.join(upper, "null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    got = stat_lines(home.cli("workspace", "diff", "dev"))
    expect(got == ["M a.txt", "A null  [refused: a device node]"], f"diff: {got}")
    before = manifest(ctx, project)
    r = home.cli("workspace", "apply", "dev")
    expect(r.returncode == 125 and manifest(ctx, project) == before, f"apply: {r}")


def test_skip_refused_keeps_a_conflict_below_a_removed_directory(ctx):
    """The sandbox removes sub/ (or makes it a file); the host then changes sub/c.txt. That
    entry is a conflict, left by --skip-refused: so is the removal of the directory holding
    it, which would take the host's change with it."""
    home = Home(ctx)
    for name, shell in (("rmdir", "rm -r sub; echo top > top.txt"),
                        ("todir", "rm -r sub; echo file > sub; echo top > top.txt")):
        project = make_project(ctx)
        make_workspace(home, project, name, shell)
        r = ctx.run(["sh", "-c", 'cd "$1" && echo host >> sub/c.txt', "sh", project])
        expect(r.returncode == 0, f"host change: {r}")
        r = home.cli("workspace", "apply", name, "--skip-refused")
        expect(r.returncode == 0 and "conflict:" in r.err, f"{name}: apply: {r}")
        with open(os.path.join(project, "top.txt")) as f:
            expect(f.read() == "top\n", f"{name}: the rest was not applied")
        path = os.path.join(project, "sub", "c.txt")
        expect(os.path.isfile(path), f"{name}: the host's changed sub/c.txt was removed: {r}")
        with open(path) as f:
            expect(f.read() == "see\nhost\n", f"{name}: the host's change was lost")
        expect(name in workspaces(home), f"{name}: a workspace with a conflict went")


def test_skip_refused_skips_below_a_refused_directory_past_a_sibling(ctx):
    """A refused directory's content is skipped even when a sibling sorts between them
    ("bad", "bad.txt", "bad/f"): apply does not stop midway on a parent it never made."""
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "sib", "mkdir bad && chmod 2755 bad && echo in > bad/f && "
                   "echo t > bad.txt && echo top > top.txt")
    r = home.cli("workspace", "apply", "sib", "--skip-refused")
    expect(r.returncode == 0 and r.err.count("refused:") == 1, f"--skip-refused: {r}")
    for name, text in (("bad.txt", "t\n"), ("top.txt", "top\n")):
        with open(os.path.join(project, name)) as f:
            expect(f.read() == text, f"{name} was not applied: {r}")
    expect(not os.path.exists(os.path.join(project, "bad")), "the refused directory was made")


def test_apply_keeps_a_sparse_file_sparse(ctx):
    """`truncate -s` costs the sandbox no disk: apply must not write the holes out as zeros
    (a sandbox's 1 TiB sparse file would fill the host's disk). 64 MiB apparent, one byte of
    data in the middle: the host copy has the same bytes and about as few blocks."""
    home = Home(ctx)
    project = make_project(ctx)
    _, view = make_workspace(home, project, "sparse",
                             "truncate -s 64M big.bin && printf x | "
                             "dd of=big.bin bs=1 seek=1048576 conv=notrunc 2>/dev/null && "
                             "du -k big.bin")
    r = home.cli("workspace", "apply", "sparse")
    expect(r.returncode == 0, f"apply: {r}")
    after = manifest(ctx, project)
    expect(after == view, f"the project is not the overlay's view: {differences(after, view)}")
    st = os.stat(os.path.join(project, "big.bin"))
    expect(st.st_size == 64 << 20 and st.st_blocks * 512 <= 1 << 20,
           f"the holes were written: {st.st_blocks * 512} bytes on disk for {st.st_size}")


def test_patch_on_a_terminal_shows_control_characters(ctx):
    """The sandbox writes the contents --patch prints: on a reviewer's terminal, an escape
    sequence or a bare carriage return in a line would redraw what is read (here the added
    line 'rm -rf ~' hides behind 'harmless'). On a terminal they are shown as cat -v shows
    them; into a pipe the patch stays byte-exact (git apply takes it)."""
    from test_hostile import run_on_terminal
    home = Home(ctx)
    project = make_project(ctx)
    make_workspace(home, project, "tty", "printf 'rm -rf ~\\033[2K\\rharmless\\n"
                   "back\\rover\\n\\302\\233c1\\n' >> a.txt")
    r = home.cli("workspace", "diff", "tty", "--patch")
    expect(r.returncode == 0 and "+rm -rf ~\x1b[2K\rharmless\n" in r.out and
           "+\u009bc1\n" in r.out, f"a pipe gets the bytes: {r.out!r}")
    status, shown, _ = run_on_terminal(ctx, ["env", f"STOCKADE_HOME={home.home}",
                                             ctx.stockade_path, "workspace", "diff", "tty",
                                             "--patch"])
    shown = shown.replace("\r\n", "\n")  # the terminal's own newline translation
    expect(status == 0 and "+rm -rf ~^[[2K^Mharmless\n" in shown and "+back^Mover\n" in shown
           and "+M-^[c1\n" in shown, f"escapes not shown: {shown!r}")
    expect("\x1b" not in shown and "\r" not in shown and "\u009b" not in shown,
           f"a control character reached the terminal: {shown!r}")


def mount_whole_second_fs(ctx):
    """An ext4 image with 128-byte inodes, whose timestamps are whole seconds, loop-mounted
    (the harness runs as root in both modes); a directory on it owned by the caller."""
    mkfs = shutil.which("mkfs.ext4", path=harness.BASE_ENV["PATH"])
    if not mkfs:
        raise harness.Skip("mkfs.ext4 is not installed (`make deps` installs e2fsprogs)")
    d = ctx.tmpdir()
    image, point = os.path.join(d, "sec.img"), os.path.join(d, "mnt")
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run([mkfs, "-q", "-F", "-I", "128", image], check=True, capture_output=True)
    os.mkdir(point, 0o755)
    r = subprocess.run(["mount", "-o", "loop", image, point], capture_output=True, text=True)
    if r.returncode != 0:
        raise harness.Skip(f"cannot loop-mount an ext4 image: {r.stderr.strip()}")
    ctx._cleanup.append(lambda: subprocess.run(["umount", "-l", point]))
    os.chown(point, ctx.caller_uid, ctx.caller_gid)
    return point


def test_conflict_on_a_file_system_with_whole_second_stamps(ctx):
    """The project on a file system whose ctimes are whole seconds (rounded down): a host
    change in the same second as the workspace's start carries a ctime before the start
    stamp (which has nanoseconds), yet it is a change since: apply must call it a conflict."""
    home = Home(ctx)
    point = mount_whole_second_fs(ctx)
    for attempt in range(5):
        project = os.path.join(point, f"p{attempt}")
        os.mkdir(project)
        with open(os.path.join(project, "a.txt"), "w") as f:
            f.write("one\n")
        for p in (project, os.path.join(project, "a.txt")):
            os.chown(p, ctx.caller_uid, ctx.caller_gid)
        time.sleep(1.05 - time.time() % 1)  # the start early in a second, the change soon
        name = f"sec{attempt}"
        make_workspace(home, project, name, "echo sandbox >> a.txt")
        r = ctx.run(["sh", "-c", 'echo host >> "$1"', "sh", os.path.join(project, "a.txt")])
        expect(r.returncode == 0, f"host change: {r}")
        with open(os.path.join(volume_dir(home, name), "ws.json")) as f:
            started = json.load(f)
        ctime = os.stat(os.path.join(project, "a.txt")).st_ctime_ns
        expect(ctime % 10**9 == 0, f"not a whole-second file system: ctime {ctime}")
        if ctime // 10**9 == started["started_sec"]:
            break
    else:
        raise AssertionError("the host change never fell in the start's second")
    expect(ctime < started["started_sec"] * 10**9 + started["started_nsec"],
           "the host's stamp is not before the start: nothing to test")
    r = home.cli("workspace", "apply", name)
    expect(r.returncode == 125 and "M a.txt: conflict:" in r.err, f"no conflict: {r}")
    with open(os.path.join(project, "a.txt")) as f:
        expect(f.read() == "one\nhost\n", "the host's change was overwritten")
