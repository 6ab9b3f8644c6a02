"""The spec's `require` (docs/spec.md, "require"): a run whose spec demands more than this
machine offers (a Landlock ABI) is refused with exit 125 and one line, before anything is
created or started; one whose demand is met runs. The ABI this machine offers is doctor's.
Each test has its own STOCKADE_HOME."""
import errno
import json
import os

from harness import expect


class Home:
    def __init__(self, ctx):
        self.ctx = ctx
        self.env = {"STOCKADE_HOME": ctx.fresh_state()}
        self.dir = ctx.tmpdir()

    def cli(self, *args, **kw):
        return self.ctx.stockade(*args, env=self.env, **kw)

    def write(self, name, doc):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
        os.chown(path, self.ctx.caller_uid, self.ctx.caller_gid)
        return path

    def volumes(self):
        r = self.cli("volume", "ls", "--json")
        expect(r.returncode == 0, f"volume ls: {r}")
        return sorted(v["name"] for v in json.loads(r.out))


def landlock_abi(h):
    r = h.cli("doctor", "--json")
    abi = json.loads(r.out)["landlock_abi"]
    expect(isinstance(abi, int) and abi >= 1, f"doctor reports no Landlock ABI: {r.out[:300]}")
    return abi


# The command leaves a mark in a named volume (seen from the host afterwards) and on stdout:
# a refused run must have neither, nor the volume, nor its report.
MARK = "echo RAN > /data/marker; echo RAN"


def run_policy(h, name, require, *flags):
    report = os.path.join(h.dir, f"{name}.report.json")
    doc = {"stockade": 1, "volumes": [f"{name}:/data"], "report": report,
           "command": ["sh", "-c", MARK]}
    if require is not None:
        doc["require"] = {"landlock_abi": require}
    r = h.cli("run", "--policy", h.write(f"{name}.json", doc), *flags)
    return r, report


def expect_refused(h, r, report, name, want, have):
    expect(r.returncode == 125, f"require {want} on ABI {have}: expected 125: {r}")
    expect(r.err.count("\n") == 1 and r.err.startswith(
        f"stockade: landlock: require.landlock_abi: this kernel offers Landlock ABI {have}, "
        f"the spec requires {want} or later ("), f"one line naming the layer: {r.err!r}")
    expect("stockade doctor" in r.err, f"doctor named: {r.err!r}")
    expect("RAN" not in r.out, f"the command ran: {r}")
    expect(not os.path.exists(report), f"a report was written for a run that never started")
    expect(name not in h.volumes(), f"the volume {name} was created: {h.volumes()}")


def test_require_met_runs_unmet_refused_before_anything(ctx):
    h = Home(ctx)
    abi = landlock_abi(h)
    # what this machine offers: runs, its mark in the volume
    r, report = run_policy(h, "met", abi)
    expect(r.returncode == 0 and r.out == "RAN\n", f"require {abi} on ABI {abi}: {r}")
    expect(os.path.exists(report) and "met" in h.volumes(), f"{h.volumes()}")
    out = os.path.join(ctx.tmpdir(), "out")
    e = h.cli("volume", "export", "met", out)
    expect(e.returncode == 0 and open(os.path.join(out, "marker")).read() == "RAN\n", f"{e}")
    # a lower floor runs too
    r, _ = run_policy(h, "lower", 1)
    expect(r.returncode == 0 and r.out == "RAN\n", f"require 1 on ABI {abi}: {r}")
    # one more than this kernel has, and far more: refused, nothing made
    for i, want in enumerate((abi + 1, 99)):
        r, report = run_policy(h, f"unmet{i}", want)
        expect_refused(h, r, report, f"unmet{i}", want, abi)


def test_require_flag_over_the_file(ctx):
    h = Home(ctx)
    abi = landlock_abi(h)
    # the flag replaces the file's value (merge order): down to what is here, it runs
    r, _ = run_policy(h, "down", 99, "--require", f"landlock_abi={abi}")
    expect(r.returncode == 0 and r.out == "RAN\n", f"--require over the file's 99: {r}")
    # up from what is here, refused before anything
    r, report = run_policy(h, "up", abi, "--require", "landlock_abi=99")
    expect_refused(h, r, report, "up", 99, abi)
    # and the flag alone, without a file
    r = h.cli("run", "--require", "landlock_abi=99", "--", "echo", "RAN")
    expect(r.returncode == 125 and "RAN" not in r.out and r.err.count("\n") == 1, f"{r}")
    r = h.cli("run", "--require", f"landlock_abi={abi}", "--", "echo", "RAN")
    expect(r.returncode == 0 and r.out == "RAN\n", f"{r}")
    # through policy show and back: the same demand, the same answers
    for want, status in ((abi, 0), (abi + 1, 125)):
        r = h.ctx.run(["bash", "-c", 'exec "$1" run --policy <("$1" policy show --require '
                       '"landlock_abi=$2" -- echo RAN)', "bash", ctx.stockade_path, str(want)],
                      env=h.env)
        expect(r.returncode == status and ("RAN" in r.out) == (status == 0), f"{want}: {r}")


def test_require_shown_checked_and_refused_when_malformed(ctx):
    h = Home(ctx)
    shown = json.loads(h.cli("policy", "show").out)
    expect(shown["require"] == {"landlock_abi": None}, f"default: {shown.get('require')}")
    p = h.write("r.json", {"stockade": 1, "require": {"landlock_abi": 99}})
    r = h.cli("policy", "show", "--policy", p)
    expect(r.returncode == 0 and json.loads(r.out)["require"] == {"landlock_abi": 99}, f"{r}")
    # show | check: validated, not probed (99 is a valid demand; only run asks the kernel)
    c = h.cli("policy", "check", "-", input=r.raw_out)
    expect(c.returncode == 0 and c.out == "-: ok\n", f"{c}")
    # bad documents: the place and the words, exit 125 from run, nothing made
    bad = h.write("bad.json", '{"stockade": 1, "volumes": ["bad:/data"],\n'
                  ' "require": {"landlock_abi": 0, "kernel": "6.1"}}')
    r = h.cli("run", "--policy", bad, "--", "echo", "RAN")
    expect(r.returncode == 125 and r.err.startswith(
        f"stockade: policy: {bad}:2:30: require.landlock_abi: invalid --require "
        "'landlock_abi=0'") and "RAN" not in r.out, f"{r}")
    expect(h.volumes() == [], f"{h.volumes()}")
    c = h.cli("policy", "check", bad)
    expect(c.returncode == 1 and c.out.splitlines() == [
        f"{bad}:2:30: require.landlock_abi: invalid --require 'landlock_abi=0' "
        "(landlock_abi=N, N a Landlock ABI version from 1 to 255)",
        f"{bad}:2:33: require.kernel: unknown key (known here: landlock_abi)"], f"{c}")
    # a floor under Landlock, and leave to run without it: contradict, refused
    p = h.write("both.json", {"stockade": 1, "require": {"landlock_abi": 1}})
    r = h.cli("run", "--policy", p, "--allow-degraded", "landlock", "--", "echo", "RAN")
    expect(r.returncode == 125 and r.err.count("\n") == 1 and "contradict" in r.err
           and "RAN" not in r.out, f"{r}")


def test_require_without_landlock_refused_with_doctors_diagnosis(ctx):
    """No Landlock at all (a filter around stockade fails its syscalls with ENOSYS, as a
    kernel without it does): any floor is refused, in the words of doctor's probe."""
    h = Home(ctx)
    report = os.path.join(h.dir, "none.report.json")
    argv = [ctx.helper("deny-syscall"), "-e", str(errno.ENOSYS),
            "landlock_create_ruleset,landlock_add_rule,landlock_restrict_self", "--",
            ctx.stockade_path, "run", "--require", "landlock_abi=1", "-v", "none:/data",
            "--report", report, "--", "sh", "-c", MARK]
    r = ctx.run(argv, env=h.env)
    expect(r.returncode == 125 and "RAN" not in r.out, f"{r}")
    expect(r.err.count("\n") == 1 and r.err.startswith(
        "stockade: landlock: require.landlock_abi: Landlock is unavailable here (Landlock is "
        "not enabled"), f"doctor's diagnosis, one line: {r.err!r}")
    expect(os.strerror(errno.ENOSYS) in r.err, f"{r.err!r}")
    expect(not os.path.exists(report) and h.volumes() == [], f"made something: {h.volumes()}")
