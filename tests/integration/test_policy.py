"""Spec files (issue 13, items 1-3; docs/spec.md): each `stockade run` flag and its field in a
policy file give the same sandbox (the same `policy show`, the same run report, the same output
inside); show round-trips through check and run; the merge order; profiles (built-in, the
caller's directory, unsafe files refused); bad files refused with FILE:LINE:COL: PATH, exit
125, nothing created; `policy check`; the JSON Schema against the documented examples. Each
test has its own STOCKADE_HOME."""
import json
import os
import re
import shutil
import subprocess

import harness
from harness import expect, one_line_125

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SCHEMA = os.path.join(TOP, "docs", "stockade-spec.schema.json")
SPEC_DOC = os.path.join(TOP, "docs", "spec.md")
EXAMPLES = os.path.join(TOP, "examples")


class Home:
    """stockade with one fresh STOCKADE_HOME, and files for it in a directory of the caller's."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.home = ctx.fresh_state()
        self.env = {"STOCKADE_HOME": self.home}
        self.dir = ctx.tmpdir()

    def cli(self, *args, env=None, **kw):
        return self.ctx.stockade(*args, env=dict(self.env, **(env or {})), **kw)

    def write(self, name, data, mode=0o644):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data, indent=2))
        os.chmod(path, mode)
        os.chown(path, self.ctx.caller_uid, self.ctx.caller_gid)
        return path

    def show(self, *args):
        r = self.cli("policy", "show", *args)
        expect(r.returncode == 0, f"policy show {args}: {r}")
        return json.loads(r.out)

    def profiles_dir(self):
        d = os.path.join(self.home, "profiles")
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        os.chown(d, self.ctx.caller_uid, self.ctx.caller_gid)
        return d

    def volumes(self):
        r = self.cli("volume", "ls", "--json")
        expect(r.returncode == 0, f"volume ls: {r}")
        return json.loads(r.out)


def normalized_report(path):
    """The run report without what differs between two runs of the same sandbox."""
    with open(path) as f:
        report = json.load(f)
    for key in ("duration_ms", "max_rss_kb", "kernel"):
        report.pop(key, None)
    layers = report.get("layers", {})
    layers.pop("gate", None)   # "probed now" or "cached": the probe cache, not the sandbox
    if "cgroup" in layers:
        layers["cgroup"]["detail"] = re.sub(r"stockade-\d+-\d+", "stockade-PID-TIME",
                                            layers["cgroup"]["detail"])
    return report


def cgroup_opts(ctx):
    """Limits need a cgroup: the unprivileged user has none here and names the opt-out."""
    return [] if ctx.is_root else ["--allow-degraded", "cgroup"]


# --- each flag and its field -------------------------------------------------------------------

# (what, flags, the field as a document, command run inside, extra caller environment)
PROBE = "id; pwd; hostname; env | sort; df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2"


def rows(ctx, h):
    hosts = h.write("hosts", "127.0.0.1 api.test\n")
    secret = h.write("secret", "api-value", mode=0o600)
    project = os.path.join(h.dir, "project")
    os.makedirs(project, exist_ok=True)
    with open(os.path.join(project, "f"), "w") as f:
        f.write("in the project\n")
    return [
        ("env", ["-e", "A=1", "-e", "PASSME"], {"env": ["A=1", "PASSME"]}, PROBE,
         {"PASSME": "from-caller"}),
        ("workdir", ["-w", "/tmp"], {"workdir": "/tmp"}, PROBE, {}),
        ("uid", ["--uid", "2000"], {"uid": 2000}, PROBE, {}),
        ("hostname", ["--hostname", "box-7"], {"hostname": "box-7"}, PROBE, {}),
        ("volumes", ["-v", "/scratch", "-v", "pol:/data:ro"],
         {"volumes": ["/scratch", "pol:/data:ro"]},
         "stat -c '%n %a %u' /scratch /data; touch /scratch/x /data/x 2>&1; echo done", {}),
        ("keep_volumes", ["--keep-volumes", "-v", "/kept"],
         {"keep_volumes": True, "volumes": ["/kept"]}, "touch /kept/x; ls /kept", {}),
        ("workspace", ["--workspace", f"{project}:/src", "--workspace-name", "pol"],
         {"workspace": f"{project}:/src", "workspace_name": "pol"},
         "pwd; cat f; stat -c '%U' f; ls /home/sandbox >/dev/null", {}),
        ("secrets", ["--secret", f"api=@{secret},env=API_KEY", "--secret", "gh=env:SRC"],
         {"secrets": [f"api=@{secret},env=API_KEY", "gh=env:SRC"]},
         "printenv API_KEY; cat /run/secrets/gh; echo; stat -c '%a %U' /run/secrets/*",
         {"SRC": "gh-value"}),
        ("network.mode", ["--network", "allowlist"], {"network": {"mode": "allowlist"}},
         "env | grep -i _proxy | sort", {}),
        ("network.mode public", ["--network", "public", "--allow-net", ":8443", "--allow-net",
                                 "host.stockade.internal:11434", "--deny-net", ":80"],
         {"network": {"mode": "public", "allow": [":8443", "host.stockade.internal:11434"],
                      "deny": [":80"]}},
         "env | grep -i _proxy | sort", {}),
        ("network.allow/deny", ["--allow-net", "api.test:9", "--allow-net", "*.other.test",
                                "--deny-net", "no.other.test"],
         {"network": {"allow": ["api.test:9", "*.other.test"], "deny": ["no.other.test"]}},
         "env | grep -c _proxy", {}),
        ("network.dns_server/hosts_file",
         ["--allow-net", "api.test:9", "--dns-server", "127.0.0.1:5353", "--hosts-file", hosts],
         {"network": {"allow": ["api.test:9"], "dns_server": "127.0.0.1:5353",
                      "hosts_file": hosts}}, "true", {}),
        ("limits.memory/pids/cpus",
         ["--memory", "256m", "--pids-limit", "64", "--cpus", "0.5"] + cgroup_opts(ctx),
         {"limits": {"memory": "256m", "pids": 64, "cpus": 0.5},
          "allow_degraded": cgroup_opts(ctx)[1:]}, PROBE, {}),
        ("limits.timeout", ["--timeout", "0.3"], {"limits": {"timeout": 0.3}},
         "sleep 30; echo after", {}),
        # (endless, so that it is always the limit's SIGKILL that ends it, never its own exit;
        # a flood from the first instruction is 153 like any other: basics:output_flood_*)
        ("limits.output", ["--output-limit", "1k"], {"limits": {"output": 1024}},
         "yes policy", {}),
        ("limits.tmpfs", ["--tmpfs-size", "48m"], {"limits": {"tmpfs": "48m"}}, PROBE, {}),
        ("allow_degraded", ["--allow-degraded", "landlock"], {"allow_degraded": ["landlock"]},
         PROBE, {}),
        ("tty", ["--tty", "never"], {"tty": "never"}, "test -t 1; echo $?", {}),
        ("quiet/audit", ["--allow-net", "api.test:9", "--quiet", "--audit", "AUDIT"],
         {"network": {"allow": ["api.test:9"]}, "quiet": True, "audit": "AUDIT"},
         "true", {}),
    ]


def run_both(ctx, h, flags, doc, cmd, env, name):
    """Runs the sandbox from the flags and from the document; returns both results, with the
    reports read back (each written where the side asked)."""
    results = []
    for side in ("flags", "file"):
        report = os.path.join(h.dir, f"report-{side}.json")
        audit = os.path.join(h.dir, f"audit-{side}.log")
        if side == "flags":
            args = [audit if a == "AUDIT" else a for a in flags] + ["--report", report]
        else:
            d = json.loads(json.dumps(doc).replace('"AUDIT"', json.dumps(audit)))
            args = ["--policy", h.write(f"{name}.json", dict({"stockade": 1}, **d)),
                    "--report", report]
        shown = h.show(*args)
        # the outputs are named differently on each side: only whether there is one counts
        shown["report"], shown["audit"] = bool(shown["report"]), bool(shown["audit"])
        r = h.cli("run", *args, "--", "sh", "-c", cmd, env=env, timeout=60)
        expect(os.path.exists(report), f"{name} ({side}): no report: {r}")
        results.append((shown, r, normalized_report(report), audit))
    return results


def test_each_flag_and_its_field_give_the_same_sandbox(ctx):
    h = Home(ctx)
    for name, flags, doc, cmd, env in rows(ctx, h):
        (show_f, run_f, rep_f, audit_f), (show_d, run_d, rep_d, audit_d) = \
            run_both(ctx, h, flags, doc, cmd, env, name.replace("/", "_"))
        expect(show_f == show_d, f"{name}: policy show differs:\n{show_f}\n{show_d}")
        expect(run_f.returncode == run_d.returncode and run_f.out == run_d.out,
               f"{name}: the runs differ:\n{run_f}\n{run_d}")
        expect(rep_f == rep_d, f"{name}: the reports differ:\n{rep_f}\n{rep_d}")
        if "AUDIT" in flags:
            expect(os.path.exists(audit_f) and os.path.exists(audit_d),
                   f"{name}: an audit file missing")
    # The fields did something: a few effects seen from inside (the runs above were equal).
    kept = [v for v in h.volumes() if v.get("kind") == "anonymous"]
    expect(len(kept) == 2, f"keep_volumes: two kept anonymous volumes expected: {kept}")
    report = os.path.join(h.dir, "eff-report.json")
    r = h.cli("run", "--policy", h.write("eff.json", {
        "stockade": 1, "hostname": "eff", "uid": 2000, "workdir": "/tmp",
        "env": ["A=1"], "limits": {"tmpfs": "48m", "timeout": 2}, "report": report}),
        "--", "sh", "-c", PROBE + "; sleep 30")
    expect(r.returncode == 124, f"timeout from the file: {r}")
    with open(report) as f:
        expect(json.load(f)["exit"]["timed_out"], "the file's report")
    expect("uid=2000" in r.out and "\n/tmp\neff\n" in r.out and "A=1\n" in r.out
           and r.out.rstrip().endswith("49152"), f"the file's fields inside: {r.out!r}")


def test_rootfs_field_equals_flag(ctx):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        raise harness.Skip("busybox-static is not installed (make deps installs it)")
    h = Home(ctx)
    root = ctx.tmpdir()
    for d in ("bin", "etc", "proc", "dev", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    for tool in ("sh", "cat", "ls"):
        os.symlink("busybox", os.path.join(root, "bin", tool))
    with open(os.path.join(root, "etc", "motd"), "w") as f:
        f.write("policy-rootfs\n")
    (show_f, run_f, rep_f, _), (show_d, run_d, rep_d, _) = run_both(
        ctx, h, ["--rootfs", root], {"rootfs": root}, "cat /etc/motd; ls /usr 2>&1", {},
        "rootfs")
    expect(show_f == show_d and show_f["rootfs"] == root, f"{show_f}\n{show_d}")
    expect(run_f.out == run_d.out and "policy-rootfs" in run_f.out, f"{run_f}\n{run_d}")
    expect(rep_f == rep_d, f"{rep_f}\n{rep_d}")


# --- show, check, run: one spec -----------------------------------------------------------------

EVERYTHING = ["-e", "A=1", "-e", "B", "-w", "/tmp", "--uid", "2000", "--hostname", "all",
              "-v", "/scratch", "-v", "named:/data:ro", "--keep-volumes",
              "--allow-net", "api.test:9", "--deny-net", "x.api.test", "--dns-server", "127.0.0.1",
              "--timeout", "90", "--output-limit", "10m", "--tmpfs-size", "64m",
              "--allow-degraded", "landlock", "--tty", "never", "--quiet"]


def test_show_round_trips_through_check_and_run(ctx):
    h = Home(ctx)
    shown = h.cli("policy", "show", *EVERYTHING, "--", "echo", "hi")
    expect(shown.returncode == 0, f"{shown}")
    # canonical: every field, in the documented order
    doc = json.loads(shown.out)
    expect(list(doc) == ["stockade", "command", "env", "workdir", "uid", "hostname", "rootfs",
                         "volumes", "keep_volumes", "workspace", "workspace_name",
                         "workspace_copy", "apply_on_success", "secrets", "credentials",
                         "network", "limits",
                         "allow_degraded",
                         "tty", "report", "audit", "quiet", "require"], f"order: {list(doc)}")
    expect(list(doc["network"]) == ["mode", "allow", "deny", "dns_server", "hosts_file",
                                    "ca_file"] and
           list(doc["limits"]) == ["memory", "pids", "cpus", "timeout", "output", "tmpfs"],
           f"{doc}")
    expect(doc["limits"]["timeout"] == "90s" and doc["command"] == ["echo", "hi"], f"{doc}")
    # check - accepts it; show of it is the same text
    r = h.cli("policy", "check", "-", input=shown.raw_out)
    expect(r.returncode == 0 and r.out == "-: ok\n", f"{r}")
    again = h.cli("policy", "show", "--policy", "-", input=shown.raw_out)
    expect(again.returncode == 0 and again.out == shown.out,
           f"show | show --policy - changed it:\n{shown.out}\n{again.out}")
    # run --policy <(show FLAGS) is the sandbox of FLAGS: the same report and output
    reports = []
    for side in ("flags", "file"):
        report = os.path.join(h.dir, f"rt-{side}.json")
        if side == "flags":
            argv = [ctx.stockade_path, "run", *EVERYTHING, "--report", report, "--", "sh", "-c",
                    PROBE]
            r = ctx.run(argv, env=h.env)
        else:
            script = ('exec "$1" run --policy <("$1" policy show "${@:3}") --report "$2" '
                      '-- sh -c "$PROBE"')
            r = ctx.run(["bash", "-c", script, "bash", ctx.stockade_path, report, *EVERYTHING],
                        env=dict(h.env, PROBE=PROBE))
        expect(r.returncode == 0, f"{side}: {r}")
        reports.append((r.out, normalized_report(report)))
    expect(reports[0] == reports[1], f"flags and <(show flags) differ:\n{reports}")


def test_command_from_the_file_and_replaced(ctx):
    h = Home(ctx)
    p = h.write("cmd.json", {"stockade": 1, "command": ["sh", "-c", "echo from-file $0", "x"]})
    r = h.cli("run", "--policy", p)
    expect(r.returncode == 0 and r.out == "from-file x\n", f"{r}")
    r = h.cli("run", "--policy", p, "--", "echo", "from-line")
    expect(r.returncode == 0 and r.out == "from-line\n", f"{r}")
    r = h.cli("run", "--policy", h.write("nocmd.json", {"stockade": 1}))
    one_line_125(r, "no command given")
    r = h.cli("run", "--policy", "-", "--", "true", input=b'{"stockade": 1}')
    one_line_125(r, "--policy -: stdin is the command's")


def test_merge_order_and_lists(ctx):
    h = Home(ctx)
    with open(os.path.join(h.profiles_dir(), "base.json"), "w") as f:
        json.dump({"stockade": 1, "hostname": "profile", "workdir": "/tmp", "env": ["P=1"],
                   "limits": {"tmpfs": "32m", "output": "1m"}}, f)
    p = h.write("m.json", {"stockade": 1, "profile": "base", "hostname": "file",
                           "env": ["F=1"], "limits": {"tmpfs": "48m"}})
    r = h.cli("run", "--policy", p, "-e", "G=1", "--", "sh", "-c",
              "hostname; pwd; env | grep -E '^[PFG]=' | sort | tr '\\n' ' '; "
              "df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2")
    expect(r.returncode == 0 and r.out == "file\n/tmp\nF=1 G=1 P=1 49152\n", f"{r}")
    r = h.cli("run", "--hostname", "flag", "--policy", p, "--clear", "env", "-e", "H=1", "--",
              "sh", "-c", "hostname; env | grep -E '^[PFGH]='")
    expect(r.returncode == 0 and r.out == "flag\nH=1\n", f"flags over the file, --clear: {r}")
    shown = h.show("--policy", p, "--profile", "strict")
    expect(shown["hostname"] == "file" and shown["limits"]["memory"] == "512m" and
           shown["limits"]["tmpfs"] == "48m" and shown["env"] == ["F=1"],
           f"--profile replaces the file's profile: {shown}")


# --- profiles ----------------------------------------------------------------------------------

def test_builtin_profiles(ctx):
    h = Home(ctx)
    r = h.cli("policy", "profiles")
    expect(r.returncode == 0, f"{r}")
    for name in ("default", "strict", "build"):
        expect(re.search(rf"^{name} +built-in: ", r.out, re.M), f"{name}: {r.out}")
    expect(h.show("--profile", "default") == h.show(), "default is not today's defaults")
    strict, build = h.show("--profile", "strict"), h.show("--profile", "build")
    expect(strict["limits"]["tmpfs"] == "128m" and strict["limits"]["memory"] == "512m",
           f"{strict}")
    expect(build["limits"]["memory"] == "8g" and build["network"]["mode"] == "none", f"{build}")
    # strict for real: its tmpfs inside; its limits need the cgroup (fail closed without one)
    r = h.cli("run", "--profile", "strict", *cgroup_opts(ctx), "--", "sh", "-c",
              "df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2")
    expect(r.returncode == 0 and r.out == "131072\n", f"{r}")
    if not ctx.is_root:
        r = h.cli("run", "--profile", "strict", "--", "echo", "RAN")
        expect(r.returncode == 125 and "RAN" not in r.out and "cgroup" in r.err, f"{r}")


def test_profiles_of_the_caller(ctx):
    h = Home(ctx)
    d = h.profiles_dir()
    mine = os.path.join(d, "mine.json")
    with open(mine, "w") as f:
        json.dump({"stockade": 1, "hostname": "mine", "limits": {"tmpfs": "16m"}}, f)
    os.chown(mine, ctx.caller_uid, ctx.caller_gid)
    r = h.cli("policy", "profiles")
    expect(re.search(rf"^mine +{re.escape(mine)}$", r.out, re.M), f"{r.out}")
    r = h.cli("run", "--profile", "mine", "--", "hostname")
    expect(r.returncode == 0 and r.out == "mine\n", f"{r}")
    p = h.write("uses.json", {"stockade": 1, "profile": "mine", "command": ["hostname"]})
    r = h.cli("run", "--policy", p)
    expect(r.returncode == 0 and r.out == "mine\n", f"{r}")
    # a file that someone else could have changed, or that leads elsewhere: refused, not run
    os.chmod(mine, 0o664)
    r = h.cli("run", "--profile", "mine", "--", "echo", "RAN")
    one_line_125(r, "profile 'mine'", "writable by group or others")
    expect("RAN" not in r.out, f"{r}")
    r = h.cli("run", "--policy", p)
    one_line_125(r, f"{p}:3:14: profile: profile 'mine'", "writable by group or others")
    r = h.cli("policy", "profiles")
    expect(re.search(r"^mine .*refused: writable by group or others", r.out, re.M), r.out)
    os.chmod(mine, 0o644)
    os.symlink(mine, os.path.join(d, "link.json"))
    r = h.cli("run", "--profile", "link", "--", "echo", "RAN")
    one_line_125(r, "a symlink")
    r = h.cli("run", "--profile", "nothere", "--", "true")
    one_line_125(r, "no profile 'nothere'")
    # a built-in name is the built-in, whatever the directory holds
    with open(os.path.join(d, "strict.json"), "w") as f:
        json.dump({"stockade": 1, "hostname": "not-strict"}, f)
    expect(h.show("--profile", "strict")["hostname"] == "stockade", "strict was shadowed")


@harness.root_only
def test_profile_owned_by_another_user_refused(ctx):
    h = Home(ctx)
    other = os.path.join(h.profiles_dir(), "other.json")
    with open(other, "w") as f:
        json.dump({"stockade": 1}, f)
    os.chown(other, 12345, 12345)
    r = h.cli("run", "--profile", "other", "--", "echo", "RAN")
    one_line_125(r, "owned by another user")
    os.chown(other, 0, 0)
    r = h.cli("run", "--profile", "other", "--", "echo", "RAN")
    expect(r.returncode == 0 and r.out == "RAN\n", f"{r}")


@harness.root_only
def test_system_profiles(ctx):
    """/etc/stockade/profiles: read after the caller's directory, listed with its path. Only
    what this test made there is removed afterwards."""
    h = Home(ctx)
    made = []
    for d in ("/etc/stockade", "/etc/stockade/profiles"):
        if not os.path.isdir(d):
            os.mkdir(d, 0o755)
            made.append(d)
    name = f"test-site-{os.getpid()}"
    path = f"/etc/stockade/profiles/{name}.json"
    try:
        with open(path, "w") as f:
            json.dump({"stockade": 1, "hostname": "site"}, f)
        os.chmod(path, 0o644)
        expect(h.show("--profile", name)["hostname"] == "site", "the system's profile")
        r = h.cli("policy", "profiles")
        expect(re.search(rf"^{name} +{re.escape(path)}$", r.out, re.M), r.out)
        with open(os.path.join(h.profiles_dir(), f"{name}.json"), "w") as f:
            json.dump({"stockade": 1, "hostname": "mine"}, f)
        expect(h.show("--profile", name)["hostname"] == "mine", "the caller's comes first")
        r = h.cli("policy", "profiles")
        expect(re.search(rf"^{name} +{re.escape(path)}: shadowed by ", r.out, re.M), r.out)
    finally:
        os.unlink(path)
        for d in reversed(made):
            os.rmdir(d)


# --- refusals ------------------------------------------------------------------------------------

# Line 1 of each bad file asks for a report and an audit log; line 2 for a named volume and a
# network (so that the audit log would be opened), unless the error is there.
BAD_HEAD = '{"stockade": 1, "report": REPORT, "audit": AUDIT,\n'
VOL_NET = ' "volumes": ["keep:/k"], "network": {"mode": "allowlist"},\n'
BAD = [
    # (the rest of the document, line:col, path and words)
    (VOL_NET + ' "limits": {"memory": "12q"}}', "3:23", "limits.memory: invalid --memory '12q'"),
    (VOL_NET + ' "hostname": "a",\n "hostname": "b"}', "4:2", "hostname: duplicate key"),
    (' "volumes": ["keep:/k"],\n "network": {"mode": "allowlist", "alow": ["x.test"]}}', "3:35",
     "network.alow: unknown key"),
    (VOL_NET + ' "env": ["A=1", 7]}', "3:17", "env[1]: expected a string, got an integer"),
    (VOL_NET + ' "uid": 0}', "3:9", "uid: invalid --uid 0"),
    (' "network": {"mode": "allowlist"},\n "volumes": ["pol:/data", "/etc/x"]}', "3:27",
     "volumes[1]: invalid -v '/etc/x'"),
    (VOL_NET + ' "hostname": "x",}', "3:18", "string or '}' expected"),
]


def test_bad_files_refused_and_nothing_created(ctx):
    h = Home(ctx)
    for i, (rest, place, words) in enumerate(BAD):
        report = os.path.join(h.dir, f"bad-{i}.report")
        audit = os.path.join(h.dir, f"bad-{i}.audit")
        head = BAD_HEAD.replace("REPORT", json.dumps(report)).replace("AUDIT", json.dumps(audit))
        path = h.write(f"bad-{i}.json", head + rest)
        r = h.cli("run", "--policy", path, "--", "sh", "-c", "echo RAN; touch /k/x")
        one_line_125(r, f"stockade: policy: {path}:{place}: {words}")
        expect("RAN" not in r.out, f"{r}")
        expect(not os.path.exists(report) and not os.path.exists(audit),
               f"{words}: an output file was created: {os.listdir(h.dir)}")
        expect(h.volumes() == [], f"{words}: a volume was created: {h.volumes()}")
        r = h.cli("policy", "check", path)
        expect(r.returncode == 1 and r.out.startswith(f"{path}:{place}: {words}"), f"{r}")
    # the same words from the flag's door, without the file's place
    r = h.cli("run", "--memory", "12q", "--", "true")
    one_line_125(r, "stockade: cli: invalid --memory '12q' (a size of at least 1m, e.g. 512m)")
    # the file's line is the same but for its place
    r = h.cli("run", "--policy", h.write("m.json", '{"stockade": 1, "limits": {"memory": "12q"}}'),
              "--", "true")
    expect(r.err.split(": ", 3)[3] == "limits.memory: invalid --memory '12q' (a size of at least "
           "1m, e.g. 512m)\n", f"{r.err!r}")


def test_policy_check(ctx):
    h = Home(ctx)
    good = h.write("good.json", {"stockade": 1, "hostname": "ok"})
    bad = h.write("bad.json", '{"stockade": 1,\n "uid": "x",\n "tty": "maybe",\n "x": 1}')
    r = h.cli("policy", "check", good)
    expect(r.returncode == 0 and r.out == f"{good}: ok\n" and r.err == "", f"{r}")
    r = h.cli("policy", "check", good, bad, os.path.join(h.dir, "missing.json"))
    expect(r.returncode == 1 and r.err == "", f"{r}")
    expect(r.out.splitlines() == [
        f"{good}: ok",
        f"{bad}:2:9: uid: expected an integer, got a string",
        f"{bad}:3:9: tty: invalid --tty 'maybe' (one of auto, always, never)",
        f"{bad}:4:2: x: unknown key (known here: stockade, profile, command, network, limits, "
        "require, env, workdir, uid, hostname, rootfs, volumes, keep_volumes, workspace, workspace_name, workspace_copy, "
        "apply_on_success, secrets, credentials, allow_degraded, "
        "tty, report, audit, quiet)",
        f"open {h.dir}/missing.json: No such file or directory"], f"{r.out}")
    r = h.cli("policy", "check", "-", input=b'{"stockade": 1, "limits": {"pids": 0}}')
    expect(r.returncode == 1 and r.out.startswith("-:1:36: limits.pids: invalid --pids-limit"),
           f"{r}")
    r = h.cli("policy", "check")
    one_line_125(r, "no file given")
    r = h.cli("policy", "frobnicate")
    expect(r.returncode == 125 and "unknown policy command" in r.err, f"{r}")


def test_help_names_the_spec(ctx):
    r = ctx.stockade("run", "--help")
    expect(r.returncode == 0 and all(f in r.out for f in ("--policy FILE", "--profile NAME",
                                                          "--clear LIST")), f"{r}")
    r = ctx.stockade("help")
    expect(r.returncode == 0 and "stockade policy check|show|profiles" in r.out, f"{r}")
    r = ctx.stockade("policy", "--help")
    expect(r.returncode == 0 and "policy show" in r.out and "docs/spec.md" in r.out, f"{r}")


# --- the schema ----------------------------------------------------------------------------------

def documented_examples():
    """The ```json blocks of docs/spec.md: (valid, text). A block that starts with a line
    `// invalid` is an example of a refusal (that line removed)."""
    with open(SPEC_DOC) as f:
        text = f.read()
    found = []
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        if block.startswith("// invalid\n"):
            found.append((False, block.split("\n", 1)[1]))
        else:
            found.append((True, block))
    return found


def test_schema_agrees_with_the_parser(ctx):
    try:
        import jsonschema
    except ImportError:
        raise AssertionError("python3-jsonschema is missing (make deps installs it)")
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    h = Home(ctx)
    docs = documented_examples()
    expect(sum(1 for ok, _ in docs if ok) >= 4 and any(not ok for ok, _ in docs),
           f"docs/spec.md has too few examples: {len(docs)}")
    for name in sorted(n for n in os.listdir(EXAMPLES) if n.endswith(".json")):
        with open(os.path.join(EXAMPLES, name)) as f:
            docs.append((True, f.read()))
    for name in ("default", "strict", "build"):
        docs.append((True, h.cli("policy", "show", "--profile", name).out))
    docs.append((True, h.cli("policy", "show", *EVERYTHING, "--", "x").out))
    for ok, text in docs:
        errors = list(validator.iter_errors(json.loads(text)))
        r = h.cli("policy", "check", "-", input=text.encode())
        if ok:
            expect(not errors, f"the schema refuses a valid example: "
                   f"{[e.message for e in errors]}\n{text}")
            expect(r.returncode == 0, f"stockade refuses a documented example: {r}\n{text}")
        else:
            expect(errors, f"the schema accepts an invalid example:\n{text}")
            expect(r.returncode == 1, f"stockade accepts an invalid example: {r}\n{text}")
    # the schema names exactly the fields `policy show` prints, and no others are allowed
    shown = json.loads(h.cli("policy", "show").out)
    props = schema["properties"]
    expect(set(props) - {"profile"} == set(shown), f"{sorted(props)} vs {sorted(shown)}")
    for section in ("network", "limits", "require"):
        expect(set(props[section]["properties"]) == set(shown[section]), section)
        expect(props[section].get("additionalProperties") is False, section)
    expect(schema.get("additionalProperties") is False, "unknown keys must be refused")
