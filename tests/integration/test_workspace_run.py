"""`stockade run --workspace DIR`: the project seen copy-on-write (docs/workspaces.md). Checked
from inside (the sandbox sees and changes the project at /work) and from the host (the project
is byte-for-byte what it was; the changes are in the workspace volume's upper layer)."""
import errno
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

from harness import Home, Skip, expect, one_line_125
from test_failclosed import denied, expect_fail_closed, _marker


def tree_state(top):
    """Everything a change could touch, per entry below top (and top itself): type, mode,
    owner, size, mtime, ctime, link target or content hash. atime is left out (reads)."""
    state = {}
    for d, dirs, files in os.walk(top):
        for name in (["."] if d == top else []) + dirs + files:
            path = os.path.join(d, name)
            st = os.lstat(path)
            rel = os.path.relpath(os.path.normpath(path), top)
            entry = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                     st.st_ctime_ns, st.st_nlink, st.st_ino)
            if os.path.islink(path):
                entry += (os.readlink(path),)
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    entry += (hashlib.sha256(f.read()).hexdigest(),)
            state[rel] = entry
    return state


def make_project(ctx, name="proj"):
    """A caller-owned project directory: files, a subdirectory, a link, an executable."""
    top = os.path.join(ctx.tmpdir(), name)
    os.makedirs(os.path.join(top, "src", "deep"))
    files = {"README": "readme\n", "src/main.c": "int main(void) { return 0; }\n",
             "src/deep/data": "x" * 5000, "run.sh": "#!/bin/sh\necho run\n",
             "gone": "to delete\n", "moved": "to rename\n"}
    for rel, text in files.items():
        with open(os.path.join(top, rel), "w") as f:
            f.write(text)
    os.chmod(os.path.join(top, "run.sh"), 0o755)
    os.symlink("src/main.c", os.path.join(top, "link"))
    for d, dirs, fs in os.walk(top):
        for n in dirs + fs + ["."]:
            os.lchown(os.path.join(d, n), ctx.caller_uid, ctx.caller_gid)
    return top


def upper(home, name):
    return os.path.join(home.home, "volumes", "named", f"ws-{name}", "upper")


# Every kind of change a command can make, each checked inside afterwards.
CHANGES = """
set -e
echo changed >> README
rm gone
mv moved src/moved
chmod 600 src/main.c
ln src/deep/data hard
ln -sf /etc/passwd link
mkfifo fifo
mkdir -p new/dir && echo new > new/dir/file
truncate -s 10 src/deep/data
rm -rf src/deep && mkdir src/deep && echo again > src/deep/again
touch -d '2001-01-01' run.sh
cat README; ls; ls -l src/main.c | cut -c1-10; readlink link; cat src/deep/again
echo DONE
"""


def test_workspace_host_tree_unchanged_by_any_change(ctx):
    h = Home(ctx)
    project = make_project(ctx)
    before = tree_state(project)
    time.sleep(0.01)
    r = h.cli("run", "--workspace", project, "--", "sh", "-c", CHANGES)
    expect(r.returncode == 0 and "DONE" in r.out, f"the changes failed inside: {r}")
    expect("readme\nchanged\n" in r.out and "-rw-------" in r.out and "/etc/passwd" in r.out
           and "again" in r.out, f"the sandbox did not see its own changes: {r.out}")
    after = tree_state(project)
    diff = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    expect(not diff, f"the host project changed: {sorted(diff)}")
    up = upper(h, "proj")
    expect(open(os.path.join(up, "README")).read() == "readme\nchanged\n",
           f"the change is not in the workspace's upper layer: {os.listdir(up)}")
    st = os.lstat(os.path.join(up, "gone"))
    expect(os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0 and
           (st.st_mode & 0o170000) == 0o020000, "a deletion is a 0:0 whiteout in upper")
    # A second run sees the first one's changes: the workspace outlives the run.
    r = h.cli("run", "--workspace", project, "--", "sh", "-c", "cat README; test ! -e gone")
    expect(r.returncode == 0 and r.out == "readme\nchanged\n", f"second run: {r}")


def test_workspace_view_owner_workdir_and_guest(ctx):
    h = Home(ctx)
    project = make_project(ctx)
    probe = ("pwd; stat -c '%u %a' README run.sh; id -u; "
             "grep ' /work ' /proc/self/mountinfo")
    r = h.cli("run", "--workspace", project, "--", "sh", "-c", probe)
    lines = r.out.splitlines()
    expect(r.returncode == 0 and lines[0] == "/work", f"cwd is the workspace: {r}")
    expect(lines[1:3] == ["10001 644", "10001 755"] and lines[3] == "10001",
           f"the project's files are the sandbox user's: {r.out}")
    # mount point, options, file system type (after the " - " separator)
    mounts = [" ".join(m.split()[4:6] + [m.split(" - ")[1].split()[0]]) for m in lines[4:]]
    expect(len(mounts) == 2 and mounts[0].startswith("/work ro,nosuid,nodev") and
           mounts[1].startswith("/work rw,nosuid,nodev") and mounts[1].endswith(" overlay"),
           f"a read-only lower under an overlay at /work: {mounts}")
    expect(("idmapped" in mounts[0]) == ctx.is_root, f"idmapped as root only: {mounts}")
    r = h.cli("run", "--workspace", f"{project}:/src", "--workspace-name", "other", "--",
              "sh", "-c", "pwd; cat README")
    expect(r.returncode == 0 and r.out == "/src\nreadme\n", f"guest path /src: {r}")
    r = h.cli("run", "-w", "/tmp", "--workspace", project, "--", "sh", "-c",
              "pwd; cat /work/README")
    expect(r.returncode == 0 and r.out == "/tmp\nreadme\n", f"-w wins: {r}")
    # Writable only there: Landlock grants the workspace, the root stays read-only.
    r = h.cli("run", "--workspace", project, "--", "sh", "-c",
              "touch /work/ok && echo W; touch /usr/x 2>/dev/null || echo RO")
    expect(r.returncode == 0 and r.out == "W\nRO\n", f"{r}")


def test_workspace_is_named_after_its_directory_and_kept_to_it(ctx):
    h = Home(ctx)
    project = make_project(ctx)
    r = h.cli("run", "--workspace", project, "--", "true")
    expect(r.returncode == 0 and "workspace proj:" in r.err and
           "stockade workspace diff proj" in r.err, f"{r}")
    expect(os.path.isdir(upper(h, "proj")), "ws-proj made")
    # Another directory of the same name may not take this workspace.
    other = make_project(ctx)
    r = h.cli("run", "--workspace", other, "--", "true")
    one_line_125(r, "workspace 'proj' belongs to", project, "--workspace-name")
    r = h.cli("run", "--workspace", other, "--workspace-name", "proj-2", "--", "true")
    expect(r.returncode == 0 and os.path.isdir(upper(h, "proj-2")), f"{r}")
    # The same directory by another path (a symlink to a parent) is the same workspace.
    alias = os.path.join(ctx.tmpdir(), "alias")
    os.symlink(os.path.dirname(project), alias)
    r = h.cli("run", "--workspace", os.path.join(alias, "proj"), "--", "true")
    expect(r.returncode == 0, f"the same directory through a parent link: {r}")


def test_workspace_refuses_bad_directories_and_leaves_nothing(ctx):
    h = Home(ctx)
    project = make_project(ctx)
    link = os.path.join(ctx.tmpdir(), "link")
    os.symlink(project, link)
    someone = ctx.tmpdir()
    os.chown(someone, 12345, 12345)
    fake_home = make_project(ctx, "myhome")
    inside_store = os.path.join(h.home, "proj")
    os.makedirs(inside_store)
    os.chown(inside_store, ctx.caller_uid, ctx.caller_gid)
    cases = [
        (link, "symbolic link"), ("/", "too wide"), ("/etc", "system tree"),
        ("/usr/lib", "system tree"), ("/tmp", "too wide"), ("/opt", "too wide"),
        ("/var/tmp", "too wide"), ("/var/lib", "system tree"), ("/var/log", "system tree"),
        (os.path.join(project, "README"), "Not a directory"),
        (os.path.join(project, "nothing"), "No such file"),
        (someone, "owned by someone else"), (inside_store, "stockade's home"),
        (fake_home, "your whole home directory"),
        (project, "stockade's home"),
    ]
    for path, words in cases:
        env = {"HOME": fake_home}
        if path == project:  # a store inside the project: the sandbox would read it
            env["STOCKADE_HOME"] = os.path.join(project, ".stockade")
        r = h.cli("run", "--workspace", path, "--", "echo", "RAN", env=env)
        one_line_125(r, words)
        expect("RAN" not in r.out, f"{path}: ran")
    named = os.path.join(h.home, "volumes", "named")
    left = os.listdir(named) if os.path.isdir(named) else []
    expect(not left, f"refused runs left workspaces behind: {left}")
    # /var/tmp is scratch space, not the system's: a project below it is one.
    scratch = tempfile.mkdtemp(prefix="stockade-t-", dir="/var/tmp")
    try:
        os.chown(scratch, ctx.caller_uid, ctx.caller_gid)
        r = h.cli("run", "--workspace", scratch, "--", "pwd")
        expect(r.returncode == 0 and r.out == "/work\n", f"/var/tmp/...: {r}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    # The spec's own checks, before anything is opened.
    for args, words in [
            (["--workspace-name", "x"], "--workspace-name needs --workspace"),
            (["--apply-on-success"], "needs --workspace"),
            (["--workspace", f"{project}:/usr/x"], "guest path"),
            (["--workspace", project, "-v", "/work/v"], "overlap"),
            (["--workspace", project, "--workspace-name", "-bad"], "--workspace-name")]:
        r = h.cli("run", *args, "--", "echo", "RAN")
        one_line_125(r, words)


def test_workspace_one_sandbox_at_a_time(ctx):
    h = Home(ctx)
    project = make_project(ctx)
    first = ctx.popen([ctx.stockade_path, "run", "--workspace", project, "--", "sh", "-c",
                       "echo up; sleep 20"], env=h.env, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    try:
        expect(first.stdout.readline() == b"up\n", "the first sandbox started")
        r = h.cli("run", "--workspace", project, "--", "echo", "RAN")
        one_line_125(r, "workspace 'proj' is in use")
    finally:
        first.kill()
        first.communicate()


def test_workspace_without_overlay_fails_closed(ctx):
    h = Home(ctx)
    project = make_project(ctx)
    m = _marker()
    r = denied(ctx, ["fsopen"], errnum=errno.ENODEV, marker=m,
               opts=["--workspace", project])
    expect_fail_closed(r, "mount", errno.ENODEV, words=["overlay", "--workspace-copy"],
                       marker=m)
    named = os.path.join(ctx.state, "volumes", "named")
    left = [n for n in os.listdir(named) if n == "ws-proj"] if os.path.isdir(named) else []
    expect(not left, f"the refused run left its workspace: {left}")
    del h


def test_workspace_git_works_inside(ctx):
    git = shutil.which("git")
    if not git:
        raise Skip("git is not installed on this host")
    h = Home(ctx)
    project = make_project(ctx)
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": project}
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
        ctx.run([git, "-C", project] + args, env=env)
    before = tree_state(project)
    script = ("git -c safe.directory='*' status --short; echo more >> README; "
              "git -c safe.directory='*' -c user.name=a -c user.email=a@a commit -qam agent "
              "&& git -c safe.directory='*' log --oneline | wc -l")
    r = h.cli("run", "--workspace", project, "--", "sh", "-c", script)
    expect(r.returncode == 0 and r.out.strip().endswith("2"), f"git inside: {r}")
    expect(tree_state(project) == before, "the host repository is unchanged")


def test_workspace_gate_refuses_without_overlay_only_for_workspaces(ctx):
    """With an empty probe cache the gate probes overlay for a workspace run only: the run
    is refused with doctor's diagnosis, a run without a workspace is not affected, and
    doctor shows the layer unavailable but still exits 0 (no run needs it by default)."""
    h = Home(ctx)
    project = make_project(ctx)
    deny = [ctx.helper("deny-syscall"), "-e", str(errno.ENOSYS), "fsopen", "--"]
    r = ctx.run(deny + [ctx.stockade_path, "run", "--", "echo", "RAN"], env=h.env)
    expect(r.returncode == 0 and r.out == "RAN\n", f"a run without a workspace: {r}")
    r = ctx.run(deny + [ctx.stockade_path, "run", "--workspace", project, "--", "echo", "RAN"],
                env=h.env)
    one_line_125(r, "overlay", "fsopen")
    r = ctx.run(deny + [ctx.stockade_path, "doctor", "--json"], env=h.env)
    layers = {l["name"]: l for l in json.loads(r.out)["layers"]}
    expect(r.returncode == 0 and layers["overlay"]["status"] == "unavailable" and
           layers["overlay"]["errno_name"] == "ENOSYS", f"doctor: {r.returncode} {layers}")


def test_workspace_of_a_long_lived_sandbox_takes_its_name(ctx):
    """run -d --workspace DIR --name N: every exec sees and changes the same overlay; the
    workspace is N's, in use while N runs, and keeps the changes once N has stopped."""
    h = Home(ctx)
    project = make_project(ctx)
    before = tree_state(project)
    r = h.cli("run", "-d", "--name", "agent", "--workspace", project)
    expect(r.returncode == 0 and r.out == "agent\n", f"run -d: {r}")
    r = h.cli("exec", "agent", "sh", "-c", "pwd; echo one >> README")
    expect(r.returncode == 0 and r.out == "/work\n", f"exec 1: {r}")
    r = h.cli("exec", "agent", "sh", "-c", "echo two >> README; cat README")
    expect(r.returncode == 0 and r.out == "readme\none\ntwo\n", f"exec 2: {r}")
    r = h.cli("run", "--workspace", project, "--workspace-name", "agent", "--", "true")
    one_line_125(r, "workspace 'agent' is in use")
    r = h.cli("stop", "agent")
    expect(r.returncode == 0, f"stop: {r}")
    expect(tree_state(project) == before, "the host project is unchanged")
    with open(os.path.join(upper(h, "agent"), "README")) as f:
        expect(f.read() == "readme\none\ntwo\n", "the changes stay in ws-agent")
    r = h.cli("run", "--workspace", project, "--workspace-name", "agent", "--", "cat", "README")
    expect(r.returncode == 0 and r.out == "readme\none\ntwo\n", f"after stop: {r}")


def test_serve_takes_workspaces_only_beneath_its_roots(ctx):
    """A client of the API never names an arbitrary host path: without --workspace-root a
    workspace is refused (403, path "workspace"); with one, a directory beneath it works
    (its overlay as for the CLI, host unchanged) and one outside it, or reached through a
    link out of it, is refused."""
    from test_serve_api import start, error_of
    root = ctx.tmpdir()
    project = make_project(ctx)
    inside = os.path.join(root, "proj")
    shutil.move(project, inside)
    outside = make_project(ctx, "elsewhere")
    os.symlink(outside, os.path.join(root, "link-out"))
    before = tree_state(inside)
    d = start(ctx)
    try:
        e = error_of(lambda: d.client.create({"stockade": 1, "workspace": inside}))
        expect(e.status == 403 and e.path == "workspace" and "no --workspace-root" in str(e),
               f"no roots: {e}")
    finally:
        d.stop()
    d = start(ctx, "--workspace-root", root)
    c = d.client
    try:
        for bad in (outside, os.path.join(root, "link-out"), "relative/dir"):
            e = error_of(lambda: c.create({"stockade": 1, "workspace": bad}))
            expect(e.status in (400, 403) and e.path == "workspace", f"{bad}: {e}")
        expect(c.list() == [], f"a refused request made a sandbox: {c.list()}")
        box = c.create({"stockade": 1, "workspace": inside}, name="ws")
        expect(box["spec"]["workspace"] == f"{inside}:/work", f"{box['spec']}")
        # The run was handed the directory the daemon opened beneath the root, and held to
        # it: a path component swapped for a link in between would lead nowhere else.
        with open(f"/proc/{box['supervisor_pid']}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        expect(b"--workspace-fd" in argv, f"the run's arguments: {argv}")
        r = c.exec("ws", ["sh", "-c", "pwd; echo api >> README; cat README"])
        expect(r.exit_code == 0 and r.stdout == b"/work\nreadme\napi\n", f"{r}")
        c.delete("ws")
    finally:
        d.stop()
    expect(tree_state(inside) == before, "the host project is unchanged")


def test_workspace_copy_needs_no_overlay(ctx):
    """--workspace-copy: the project imported into the workspace once (nothing below it
    followed), mounted as a volume; works where overlay is refused, host unchanged, and a
    workspace made as a copy is not then used as an overlay (or the reverse)."""
    h = Home(ctx)
    project = make_project(ctx)
    os.symlink("/etc/shadow", os.path.join(project, "planted"))
    before = tree_state(project)
    deny = [ctx.helper("deny-syscall"), "-e", str(errno.ENODEV), "fsopen", "--"]
    r = ctx.run(deny + [ctx.stockade_path, "run", "--workspace", project, "--workspace-copy",
                        "--", "sh", "-c", CHANGES], env=h.env)
    expect(r.returncode == 0 and "DONE" in r.out, f"copy under a filter denying fsopen: {r}")
    expect(tree_state(project) == before, "the host project is unchanged")
    up = upper(h, "proj")
    expect(os.readlink(os.path.join(up, "planted")) == "/etc/shadow" and
           open(os.path.join(up, "README")).read() == "readme\nchanged\n",
           "the copy holds the project (links as links) and the changes")
    r = h.cli("run", "--workspace", project, "--", "true")
    one_line_125(r, "workspace 'proj' was made as a copy")


def test_apply_on_success_applies_only_a_clean_success(ctx):
    """--apply-on-success: a command that exits 0 has its changes applied (the summary on
    stderr, stdout the command's alone) and the workspace goes; one that fails keeps them for
    review, the host untouched; a hostile change stops the apply (125, one line per entry,
    nothing applied, workspace kept); -d is refused."""
    h = Home(ctx)
    project = make_project(ctx)
    r = h.cli("run", "--workspace", project, "--apply-on-success", "--", "sh", "-c",
              "echo more >> README; rm gone; echo new > added; echo OUT")
    expect(r.returncode == 0 and r.out == "OUT\n", f"{r}")
    expect("M README" in r.err and "D gone" in r.err and "A added" in r.err and
           "applied 3 change(s); workspace removed" in r.err, f"summary: {r.err}")
    expect(open(os.path.join(project, "README")).read() == "readme\nmore\n" and
           not os.path.exists(os.path.join(project, "gone")) and
           open(os.path.join(project, "added")).read() == "new\n", "applied to the project")
    expect(not os.path.exists(upper(h, "proj")), "the workspace went")
    before = tree_state(project)
    r = h.cli("run", "--workspace", project, "--apply-on-success", "--", "sh", "-c",
              "echo again >> README; exit 3")
    expect(r.returncode == 3 and "not applied (the command failed)" in r.err, f"{r}")
    expect(tree_state(project) == before and os.path.isdir(upper(h, "proj")),
           "a failed command's changes stay in the workspace")
    r = h.cli("workspace", "discard", "proj")
    expect(r.returncode == 0, f"discard: {r}")
    r = h.cli("run", "--workspace", project, "--apply-on-success", "--", "sh", "-c",
              "echo fine >> README; ln -s /etc/shadow leak")
    lines = r.err.splitlines()
    expect(r.returncode == 125 and len(lines) == 2 and "A leak: refused" in lines[0] and
           "nothing applied" in lines[1], f"one line per refused entry, then why: {r}")
    expect(tree_state(project) == before and os.path.isdir(upper(h, "proj")),
           "nothing applied, the workspace kept")
    r = h.cli("run", "-d", "--workspace", project, "--apply-on-success")
    one_line_125(r, "--apply-on-success", "not -d")


def test_workspace_fd_holds_the_run_to_the_checked_directory(ctx):
    """run --workspace-fd N (what stockade serve passes): the workspace's directory, opened
    by path, must be the directory open on fd N, else the run is refused and nothing made."""
    h = Home(ctx)
    project = make_project(ctx)
    other = make_project(ctx, "other")
    fd = os.open(other, os.O_RDONLY | os.O_DIRECTORY)
    try:
        r = ctx.run([ctx.stockade_path, "run", "--workspace-fd", str(fd), "--workspace",
                     project, "--", "echo", "RAN"], env=h.env, pass_fds=(fd,))
        one_line_125(r, "is not the directory that was checked")
        expect(not os.path.exists(upper(h, "proj")), "the refused run left its workspace")
        r = ctx.run([ctx.stockade_path, "run", "--workspace-fd", str(fd), "--workspace",
                     other, "--", "echo", "RAN"], env=h.env, pass_fds=(fd,))
        expect(r.returncode == 0 and r.out == "RAN\n", f"the same directory: {r}")
        r = ctx.run([ctx.stockade_path, "run", "--workspace-fd", str(fd), "--", "true"],
                    env=h.env, pass_fds=(fd,))
        one_line_125(r, "--workspace-fd needs --workspace")
    finally:
        os.close(fd)
