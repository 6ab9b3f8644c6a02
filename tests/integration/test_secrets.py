"""Secrets (issue 13, item 4; docs/spec.md, SECURITY.md): `--secret NAME=@FILE|env:VAR[,env=KEY]`
delivers the value as /run/secrets/NAME (0400, the sandbox user's, a read-only noexec tmpfs of its
own) and, with env=, as $KEY - and nowhere else. A unique value is searched for, from the host,
in every host-side stockade process (argv, environment and all of its memory, which is more
than a core file holds) while the sandbox runs, and afterwards in the output, the report, the
audit log, `policy show`, the volume store and every error message. The scan is shown to work
on the workload process, which does hold the value."""
import hashlib
import json
import os
import secrets as pyrandom
import subprocess
import time

import harness
from harness import expect, one_line_125

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def unique_value():
    return "stk-secret-" + pyrandom.token_hex(16)


def write_file(ctx, value, name="value", mode=0o600):
    path = os.path.join(ctx.tmpdir(), name)
    with open(path, "w") as f:
        f.write(value)
    os.chmod(path, mode)
    os.chown(path, ctx.caller_uid, ctx.caller_gid)
    return path


def test_file_secret_is_a_read_only_file_of_the_sandbox_user(ctx):
    value = unique_value()
    path = write_file(ctx, value)
    r = ctx.sandbox(
        "cat /run/secrets/api; echo; stat -c '%a %u %g %F' /run/secrets /run/secrets/api; "
        "grep ' /run/secrets ' /proc/self/mountinfo | cut -d' ' -f6; "
        "{ echo x > /run/secrets/api; } 2>&1 | sed 's/.*: //'; "
        "touch /run/secrets/new 2>&1 | sed 's/.*: //'; chmod 644 /run/secrets/api 2>&1 | "
        "sed 's/.*: //'; env | grep -c stk-secret-",
        opts=["--secret", f"api=@{path}"])
    lines = r.out.splitlines()
    expect(r.returncode == 1 and lines[0] == value, f"the value inside: {r}")
    expect(lines[1] == "500 10001 10001 directory" and
           lines[2] == "400 10001 10001 regular file", f"owner and modes: {lines}")
    opts = set(lines[3].split(","))
    expect({"ro", "nosuid", "nodev", "noexec"} <= opts, f"mount options: {lines[3]}")
    expect(lines[4:7] == ["Read-only file system"] * 3, f"writes must be EROFS: {lines}")
    expect(lines[7] == "0", f"the value is not in the environment without env=: {lines}")


def test_variable_secret_and_env_delivery(ctx):
    value = unique_value()
    r = ctx.sandbox("printenv GH_TOKEN; cat /run/secrets/gh; echo; printenv SRC_TOKEN; echo $?",
                    opts=["--secret", "gh=env:SRC_TOKEN,env=GH_TOKEN"],
                    env={"SRC_TOKEN": value})
    expect(r.returncode == 0 and r.out.splitlines() == [value, value, "1"], f"{r}")


def test_secrets_from_a_pipe_and_refusals(ctx):
    value = unique_value()
    # @FILE also takes a pipe: `--secret x=@<(pass show x)` in a shell
    r = ctx.run(["bash", "-c", f'exec "$0" run --secret p=@<(printf %s {value}) -- '
                 'cat /run/secrets/p', ctx.stockade_path])
    expect(r.returncode == 0 and r.out == value, f"a pipe: {r}")
    d = ctx.tmpdir()
    report = os.path.join(d, "report.json")
    nul = write_file(ctx, "a\0b", "nul")
    empty = write_file(ctx, "", "empty")
    cases = [
        # an inline value is refused, and not echoed
        (["--secret", f"api={value}"], {}, "must be @FILE or env:VAR"),
        (["--secret", f".hidden=@{nul}"], {}, "no valid NAME="),
        (["--secret", "a=env:NOT_SET_ANYWHERE"], {}, "$NOT_SET_ANYWHERE is not set"),
        (["--secret", "a=@/nonexistent/x"], {}, "open /nonexistent/x"),
        (["--secret", f"a=@{empty}"], {}, "is empty"),
        (["--secret", "a=env:T", "-e", "T"], {"T": value}, "passes the source of --secret a"),
        (["--secret", "a=env:T,env=X", "-e", "X=1"], {"T": value}, "sets X, and so does -e"),
        (["--secret", "a=env:T,env=PATH"], {"T": value}, "stockade sets PATH itself"),
        (["--secret", "a=env:T,env=K", "--secret", "b=env:T,env=K"], {"T": value},
         "set the same variable"),
        (["--secret", f"a=@{nul},env=A"], {}, "cannot carry a NUL byte"),
        (["--secret", "a=@/dev/null"], {}, "not a file"),
    ]
    for opts, env, needle in cases:
        r = ctx.stockade("run", "--report", report, *opts, "--", "touch", "/tmp/ran",
                         env=env)
        one_line_125(r, needle)
        expect(value not in r.err and value not in r.out, f"the value in a message: {r}")
        # refused before the outputs are opened, or (NUL, PATH) before the command started
        if os.path.exists(report):
            with open(report) as f:
                text = f.read()
            expect(value not in text and not json.loads(text).get("exit", {}).get("started"),
                   f"{opts}: {text}")
            os.unlink(report)
    # the NUL file itself is fine without env=
    r = ctx.sandbox("od -An -c /run/secrets/a | tr -s ' '", opts=["--secret", f"a=@{nul}"])
    expect(r.returncode == 0 and r.out.strip() == "a \\0 b", f"{r}")


def _descendants(root_pid):
    """Every process under root_pid (itself included)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _memory_holds(pid, needle, whole=False):
    """Whether any readable mapping of pid holds needle (root reads /proc/PID/mem of a
    non-dumpable process too: CAP_SYS_PTRACE). Read in chunks that overlap by the needle's
    length; a sanitizer's shadow reservations (terabytes, never touched: 1 GiB and up) are
    left out, and so are pages that cannot be read."""
    chunk = 1 << 20
    # An ASan build's runtime reads /proc/self/environ into anonymous memory of its own before
    # main (sanitizer_common's GetEnv): a copy stockade cannot wipe, made only by that build.
    # Its anonymous mappings are therefore left out there; the release build is read whole.
    # (whole: read them all the same, to show that a process does hold a value.)
    skip_anonymous = "ASAN_OPTIONS" in os.environ and not whole
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if fields[1][0] != "r" or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            if skip_anonymous and len(fields) < 6:
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if end - start >= 1 << 30:
                continue
            for at in range(start, end, chunk):
                try:
                    mem.seek(at)
                    data = mem.read(min(chunk + len(needle), end - at))
                except (OSError, ValueError, OverflowError):
                    continue
                if needle in data:
                    return True
    return False


def start_until_ready(ctx, opts, script, env):
    """stockade run OPTS -- sh -c SCRIPT, read until it prints "ready" (or 30 s, or its end):
    the process, and what it printed by then."""
    p = ctx.popen([ctx.stockade_path, "run", *opts, "--", "sh", "-c", script], env=env,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = b""
    deadline = time.time() + 30
    while b"ready" not in out and time.time() < deadline:
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            break
        out += chunk
    return p, out


def _where(pid, needle, whole=False):
    """The places of one process that hold needle: cmdline, environ, memory (whole: every
    mapping, even where a sanitizer build's own copies live)."""
    places = []
    for part in ("cmdline", "environ"):
        with open(f"/proc/{pid}/{part}", "rb") as f:
            if needle in f.read():
                places.append(part)
    if _memory_holds(pid, needle, whole):
        places.append("memory")
    return places


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:  # gone
        return ""


def _host_side(pids):
    """The processes among pids in our own PID namespace: stockade's, not the sandbox's."""
    ours = os.readlink("/proc/self/ns/pid")
    out = []
    for pid in pids:
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") == ours:
                out.append(pid)
        except OSError:
            pass
    return out


def _files_holding(top, needle):
    hits = []
    for base, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(base, name)
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        hits.append(path)
            except OSError:
                pass
    return hits


def test_secret_value_is_found_nowhere_it_must_not_be(ctx):
    from test_egress import servers, hosts_file  # the module's loopback HTTP server
    s = servers()
    from_file, from_env = unique_value(), unique_value()
    path = write_file(ctx, from_file)
    d = ctx.tmpdir(mode=0o777)
    report, audit = os.path.join(d, "report.json"), os.path.join(d, "audit.jsonl")
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1"})
    home = ctx.fresh_state()
    opts = ["--secret", f"file=@{path},env=FROM_FILE", "--secret", "var=env:SRC,env=FROM_ENV",
            "--allow-net", f"api.test:{s.http_port}", "--allow-net", f"127.0.0.1:{s.http_port}",
            "--hosts-file", hosts, "--audit", audit, "--report", report, "-v", "vault:/data",
            "--keep-volumes"]
    # The workload uses its secrets (hashes them, talks to the allowed server) and waits.
    script = ("sha256sum /run/secrets/file /run/secrets/var | cut -d' ' -f1; "
              "printf %s \"$FROM_FILE$FROM_ENV\" | sha256sum | cut -d' ' -f1; "
              f"curl -sS -o /dev/null -w '%{{http_code}}\\n' http://api.test:{s.http_port}/; "
              "echo kept > /data/note; echo ready; exec sleep 20")
    env = {"SRC": from_env, "STOCKADE_HOME": home}
    p, out = start_until_ready(ctx, opts, script, env)
    try:
        expect(b"ready" in out, f"the sandbox did not start: {out!r}")
        # "ready" comes a moment before the shell execs sleep: wait for it to have.
        deadline = time.time() + 10
        while True:
            tree = _descendants(p.pid)
            host = _host_side(tree)
            workload = [pid for pid in tree if pid not in host and _comm(pid) == "sleep"]
            if workload or time.time() > deadline:
                break
            time.sleep(0.02)
        expect(p.pid in host and len(host) >= 2, f"stockade and its proxy: {host} of {tree}")
        expect(len(workload) == 1, f"the workload: {tree}")
        # The scan works: the workload, which was given both values, holds them.
        for value in (from_file, from_env):
            expect("environ" in _where(workload[0], value.encode()),
                   "the scan cannot find a value where it is")
        leaks = {pid: _where(pid, v.encode()) for pid in host for v in (from_file, from_env)
                 if _where(pid, v.encode())}
        expect(not leaks, f"a secret in a host-side stockade process: {leaks}")
    finally:
        p.kill()
        rest, err = p.communicate(timeout=30)
    out += rest
    lines = out.decode().split()
    digest = [hashlib.sha256(v.encode()).hexdigest() for v in (from_file, from_env)]
    expect(lines[:4] == digest + [hashlib.sha256((from_file + from_env).encode()).hexdigest(),
                                  "200"], f"the sandbox had the values: {lines}")
    # Afterwards: output, messages, report, audit, policy show, the volume store.
    shown = ctx.stockade("policy", "show", *opts, env=env)
    expect(shown.returncode == 0, f"{shown}")
    expect(json.loads(shown.out)["secrets"] == [f"file=@{path},env=FROM_FILE",
                                                "var=env:SRC,env=FROM_ENV"], shown.out)
    for value in (from_file, from_env):
        for name, text in (("stdout", out), ("stderr", err), ("policy show", shown.raw_out)):
            expect(value.encode() not in text, f"the value in {name}")
        for f in (report, audit):
            expect(os.path.exists(f), f"{f} missing")
            expect(not _files_holding(os.path.dirname(f), value.encode()),
                   f"the value in {f}")
        expect(not _files_holding(home, value.encode()), "the value in STOCKADE_HOME")
    expect(os.path.getsize(audit) > 0, "no audit line: the proxy was not used")


def test_secret_in_a_policy_file_and_clear(ctx):
    value = unique_value()
    path = write_file(ctx, value)
    d = ctx.tmpdir()
    pol = os.path.join(d, "p.json")
    with open(pol, "w") as f:
        json.dump({"stockade": 1, "secrets": [f"api=@{path},env=API_KEY"],
                   "command": ["sh", "-c", "printenv API_KEY; ls /run/secrets"]}, f)
    os.chmod(pol, 0o644)
    r = ctx.stockade("run", "--policy", pol)
    expect(r.returncode == 0 and r.out.split() == [value, "api"], f"{r}")
    # --clear secret drops the file's secrets: no tmpfs, no /run at all then
    r = ctx.stockade("run", "--policy", pol, "--clear", "secret", "--", "sh", "-c",
                     "test -e /run || echo no-run")
    expect(r.returncode == 0 and r.out == "no-run\n", f"{r}")
    # a flag of the same name replaces the file's
    other = write_file(ctx, "other-value", "other")
    r = ctx.stockade("run", "--policy", pol, "--secret", f"api=@{other}", "--",
                     "sh", "-c", "cat /run/secrets/api; echo; printenv API_KEY || echo unset")
    expect(r.returncode == 0 and r.out.split() == ["other-value", "unset"], f"{r}")
    # an inline value in a file is refused with its place, and not echoed
    with open(pol, "w") as f:
        f.write('{"stockade": 1,\n "secrets": ["api=' + value + '"]}\n')
    r = ctx.stockade("run", "--policy", pol, "--", "true")
    one_line_125(r, "p.json:2:14: secrets[0]: --secret api: its source must be")
    expect(value not in r.err, f"{r}")
    r = ctx.stockade("policy", "check", pol)
    expect(r.returncode == 1 and value not in r.out and "secrets[0]" in r.out, f"{r}")


def test_rootfs_run_gives_way_to_the_secrets(ctx):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        raise harness.Skip("busybox-static is not installed (make deps installs it)")
    import shutil
    root = ctx.tmpdir()
    for d in ("bin", "etc", "proc", "dev", "tmp", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    for tool in ("sh", "cat", "ls"):
        os.symlink("busybox", os.path.join(root, "bin", tool))
    with open(os.path.join(root, "run", "marker"), "w") as f:
        f.write("image\n")
    # an image's run/secrets planted as a link to the host: never used
    os.symlink("/etc", os.path.join(root, "run", "secrets"))
    value = unique_value()
    path = write_file(ctx, value)
    r = ctx.sandbox("ls /run; cat /run/secrets/api", opts=["--rootfs", root, "--secret",
                                                             f"api=@{path}"])
    expect(r.returncode == 0 and r.out.split() == ["secrets", value], f"{r}")
    r = ctx.sandbox("cat /run/marker", opts=["--rootfs", root])
    expect(r.returncode == 0 and r.out == "image\n", f"without secrets, the image's /run: {r}")


def test_secrets_never_meet_the_public_network(ctx):
    value = unique_value()
    path = write_file(ctx, value)
    home = ctx.fresh_state()
    env = {"STOCKADE_HOME": home}
    d = ctx.tmpdir()
    pol = os.path.join(d, "p.json")
    with open(pol, "w") as f:
        json.dump({"stockade": 1, "secrets": [f"api=@{path}"]}, f)
    os.chmod(pol, 0o644)
    for opts in (["--network", "public", "--secret", f"api=@{path}"],
                 ["--secret", f"api=@{path}", "--network", "public", "--allow-net", ":8443"],
                 ["--policy", pol, "--network", "public"]):
        r = ctx.stockade("run", "-v", "proof:/proof", *opts, "--", "touch", "/proof/ran",
                         env=env)
        one_line_125(r, "a run that holds secrets (api) cannot have the public network",
                     "split it in two", "--network public -v deps:/deps",
                     "--secret api=@key.txt --allow-net api.example.com")
        expect(value not in r.err, f"{r}")
    # the command never ran: the volume it would have written to is empty (or was never made)
    r = ctx.stockade("run", "-v", "proof:/proof", "--", "ls", "-A", "/proof", env=env)
    expect(r.returncode == 0 and r.out == "", f"a refused run ran: {r}")
    # the same rule in policy check, and in a file that says both
    with open(pol, "w") as f:
        json.dump({"stockade": 1, "secrets": [f"api=@{path}"],
                   "network": {"mode": "public"}}, f)
    r = ctx.stockade("policy", "check", pol)
    expect(r.returncode == 1 and "cannot have the public network" in r.out, f"{r}")
    # allowlist + secret runs; public without secrets runs
    r = ctx.sandbox("cat /run/secrets/api", opts=["--secret", f"api=@{path}",
                                                  "--allow-net", "api.example.com"])
    expect(r.returncode == 0 and r.out == value, f"{r}")
    r = ctx.sandbox("echo $HTTPS_PROXY", opts=["--network", "public"])
    expect(r.returncode == 0 and "3128" in r.out, f"{r}")
