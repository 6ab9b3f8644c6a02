"""The run contract: exit statuses, signals, timeout, environment, workdir, hostname, report,
outputs opened before the command (--report, --audit), bad input. Each test runs real sandboxes, as root and as the unprivileged test user."""
import contextlib
import json
import os
import signal
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from harness import expect, finish


def unique_sleep():
    """A command line no other process has, to find the sandbox's processes from the host."""
    return f"sleep 1000.{time.monotonic_ns() % 10**9:09d}"


def test_exit_status_propagates(ctx):
    for code in (0, 1, 42, 255):
        r = ctx.sandbox(f"exit {code}")
        expect(r.returncode == code, f"exit {code} gave {r}")


def test_killed_by_signal_is_128_plus_n(ctx):
    r = ctx.sandbox("kill -TERM $$")
    expect(r.returncode == 128 + signal.SIGTERM, f"{r}")
    r = ctx.sandbox("kill -KILL $$")
    expect(r.returncode == 128 + signal.SIGKILL, f"{r}")


def test_command_not_found_127_not_executable_126(ctx):
    r = ctx.sandbox(["no-such-command-xyz"])
    expect(r.returncode == 127, f"{r}")
    expect("command not found" in r.err and r.err.count("\n") == 1, f"one line: {r.err!r}")
    r = ctx.sandbox(["/etc/passwd"])
    expect(r.returncode == 126, f"{r}")
    r = ctx.sandbox(["/no/such/path"])
    expect(r.returncode == 127, f"{r}")


def test_stdin_stdout_stderr_pass_through(ctx):
    r = ctx.sandbox("tr a-z A-Z; echo err >&2", input=b"hello\n")
    expect(r.returncode == 0 and r.out == "HELLO\n" and r.err == "err\n", f"{r}")


def marker_pids(marker):
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return out.split()


def test_timeout_kills_whole_sandbox_exit_124(ctx):
    """--timeout ends the whole sandbox: two sleeps (one in a child shell) that were seen
    running from the host before the timeout are gone after it, and the exit is 124."""
    marker = unique_sleep()
    t0 = time.monotonic()
    p = ctx.popen([ctx.stockade_path, "run", "--timeout", "2", "--", "sh", "-c",
                   f"sh -c '{marker}; :' & {marker} & sleep 0.2; echo started; wait"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"started\n", "the workload did not start")
    running = [pid for pid in marker_pids(marker)
               if open(f"/proc/{pid}/comm").read().strip() == "sleep"]
    out, err = p.communicate(timeout=30)
    took = time.monotonic() - t0
    # Before the timeout, both markers ran (else their absence afterwards would prove nothing).
    expect(len(running) == 2, f"marker sleeps running before the timeout: {running}")
    expect(p.returncode == 124, f"exit {p.returncode} {err!r}")
    expect(took < 10, f"took {took:.1f}s")
    expect(b"timeout" in err, err)
    time.sleep(0.2)
    left = marker_pids(marker)
    expect(left == [], f"processes survived the timeout: {left}")


def test_output_limit(ctx):
    r = ctx.sandbox("yes stockade | head -c 10000000", opts=["--output-limit", "1k"])
    expect(r.returncode == 153, f"{r.returncode} {r.err}")
    expect(len(r.raw_out) == 1024, f"got {len(r.raw_out)} bytes")
    r = ctx.sandbox("echo small", opts=["--output-limit", "1k"])
    expect(r.returncode == 0 and r.out == "small\n", f"{r}")


def test_output_limit_counts_stdout_and_stderr_together(ctx):
    """One limit for both streams: 40k on each with a 64k limit is over it (153) though each
    stream alone is under; exactly the limit passes (exit 0, every byte delivered), one byte
    more is 153 with exactly the limit delivered."""
    limit = 64 * 1024
    cases = [(40000, 40000, 153, limit), (limit // 2, limit // 2, 0, limit),
             (limit // 2, limit // 2 + 1, 153, limit)]
    for out_bytes, err_bytes, code, delivered in cases:
        r = ctx.sandbox(f"head -c {out_bytes} /dev/zero; head -c {err_bytes} /dev/zero >&2",
                        opts=["--output-limit", "64k"])
        err = r.err
        if code == 153:  # stockade's own line comes after what the command wrote
            expect("stockade: " in err, f"no message on stderr: {err[-200:]!r}")
            err = err[:err.rindex("stockade: ")]
        got = len(r.raw_out) + len(err.encode())
        expect(r.returncode == code, f"{out_bytes}+{err_bytes} bytes, limit {limit}: exit "
                                     f"{r.returncode}, want {code}; stderr tail {r.err[-200:]!r}")
        expect(got == delivered, f"{out_bytes}+{err_bytes} bytes, limit {limit}: {got} "
                                 f"delivered, want {delivered}")


def test_environment_is_scrubbed(ctx):
    env = {"SECRET_TOKEN": "hunter2", "AWS_SECRET_ACCESS_KEY": "x", "TERM": "xterm-test",
           "PASSME": "passed"}
    r = ctx.sandbox("env", opts=["-e", "ADDED=1", "-e", "PASSME"], env=env)
    expect(r.returncode == 0, f"{r}")
    keys = sorted(line.split("=", 1)[0] for line in r.out.splitlines())
    expect("hunter2" not in r.out and "AWS_SECRET_ACCESS_KEY" not in r.out, r.out)
    expect(set(keys) <= {"PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM", "ADDED", "PASSME",
                         "PWD", "SHLVL", "_", "OLDPWD"}, f"unexpected variables: {keys}")
    expect("ADDED=1" in r.out and "PASSME=passed" in r.out and "TERM=xterm-test" in r.out, r.out)
    expect("HOME=/home/sandbox" in r.out, r.out)


def test_workdir_and_hostname(ctx):
    """-w and --hostname are what the workload sees; without --hostname it sees "stockade",
    never the host's name; and the host's own name is the same after the runs as before."""
    host = os.uname().nodename
    expect(host not in ("box1", "stockade"), f"the host is named {host!r}: the test cannot "
                                             f"tell its name from the sandbox's")
    r = ctx.sandbox("pwd; hostname; grep -c box1 /etc/hosts",
                    opts=["-w", "/tmp", "--hostname", "box1"])
    expect(r.returncode == 0 and r.out == "/tmp\nbox1\n1\n", f"{r}")
    r = ctx.sandbox("pwd; hostname; cat /proc/sys/kernel/hostname")
    expect(r.out == "/home/sandbox\nstockade\nstockade\n", f"default workdir and hostname: {r}")
    expect(host not in r.out, f"the host's name {host!r} is visible inside: {r.out!r}")
    expect(os.uname().nodename == host, f"the host's hostname changed: {host!r} -> "
                                        f"{os.uname().nodename!r}")
    r = ctx.sandbox("true", opts=["-w", "/nonexistent"])
    expect(r.returncode == 125 and "workdir" in r.err, f"{r}")


def test_report_json(ctx):
    d = ctx.tmpdir()
    path = os.path.join(d, "report.json")
    r = ctx.sandbox("exit 3", opts=["--report", path])
    expect(r.returncode == 3, f"{r}")
    report = json.load(open(path))
    expect(report["exit"]["code"] == 3 and report["exit"]["started"], report)
    for layer in ("userns", "mount", "caps", "landlock", "seccomp"):
        expect(report["layers"][layer]["applied"], f"{layer}: {report['layers']}")
    expect(report["degraded"] == [], report)
    expect("ABI" in report["layers"]["landlock"]["detail"], report)
    expect(report["command"] == ["sh", "-c", "exit 3"], report)
    r = ctx.sandbox("kill -9 $$", opts=["--report", path])
    report = json.load(open(path))
    expect(report["exit"]["signal"] == 9 and report["exit"]["code"] is None, report)


OUTPUTS = {"--report": [], "--audit": ["--network", "allowlist"]}


def run_with_outputs(ctx, outputs, timeout=20):
    """A run that would leave a mark in a named volume; the outputs' flags with what they
    need (--audit goes with a network). Returns the result and whether the command ran."""
    state = ctx.fresh_state()
    opts = ["-v", "mark:/mark"]
    for flag, path in outputs:
        opts += [a for a in OUTPUTS[flag] if a not in opts] + [flag, path]
    r = ctx.sandbox("touch /mark/ran; echo RAN", opts=opts, timeout=timeout,
                    env={"STOCKADE_HOME": state})
    ran = os.path.exists(os.path.join(state, "volumes", "named", "mark", "ran"))
    expect(ran == ("RAN" in r.out), f"the marker and stdout disagree: {r}")
    return r, ran


def test_unusable_outputs_refused_before_the_command(ctx):
    """--report and --audit paths that cannot be written are found before the command runs
    (they were found after it, exit 0): a symlink (dangling or not), a fifo with and without
    a reader (must not block), a missing directory, a directory. Exit 125, one line, the
    command did not run, the link's target untouched."""
    d = ctx.tmpdir(0o777)
    target = os.path.join(d, "target")
    with open(target, "w") as f:
        f.write("precious\n")
    os.symlink(target, os.path.join(d, "link"))
    os.symlink(os.path.join(d, "nowhere"), os.path.join(d, "dangling"))
    os.mkfifo(os.path.join(d, "fifo"))
    os.mkfifo(os.path.join(d, "fifo-read"))
    os.mkdir(os.path.join(d, "dir"))
    for name in os.listdir(d):  # the caller's own, so only what they are stops the run
        os.lchown(os.path.join(d, name), ctx.caller_uid, ctx.caller_gid)
    reader = os.open(os.path.join(d, "fifo-read"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        for flag in OUTPUTS:
            for name, words in [("link", "symbolic links"), ("dangling", "symbolic links"),
                                ("fifo", "not a regular file"),
                                ("fifo-read", "not a regular file"),
                                ("missing/out", "No such file"), ("dir", "Is a directory")]:
                path = os.path.join(d, name)
                r, ran = run_with_outputs(ctx, [(flag, path)])
                expect(r.returncode == 125 and not ran, f"{flag} {name}: {r}")
                expect(r.err.count("\n") == 1 and r.err.startswith("stockade: "),
                       f"{flag} {name}: not one line: {r.err!r}")
                expect(f"{flag} {path}" in r.err and words in r.err, f"{flag} {name}: {r.err!r}")
    finally:
        os.close(reader)
    with open(target) as f:
        expect(f.read() == "precious\n", "written through the link")
    expect(not os.path.exists(os.path.join(d, "nowhere")), "created through the dangling link")
    expect(not os.path.exists(os.path.join(d, "missing")), "the missing directory was made")


def test_outputs_all_or_nothing(ctx):
    """A report the run created is removed again when the audit path refuses the run; an
    existing report is left as it was; one file for both is refused; valid paths work, and the
    report of a run refused later (a missing --workdir) is still written, without an audit
    file."""
    d = ctx.tmpdir(0o777)
    report, audit = os.path.join(d, "report.json"), os.path.join(d, "audit.log")
    r, ran = run_with_outputs(ctx, [("--report", report), ("--audit", os.path.join(d, "no", "a"))])
    expect(r.returncode == 125 and not ran and "--audit" in r.err, f"{r}")
    expect(not os.path.exists(report), "the report created for a refused run was left behind")
    with open(report, "w") as f:
        f.write("older report\n")
    os.chmod(report, 0o666)
    r, ran = run_with_outputs(ctx, [("--report", report), ("--audit", d)])
    expect(r.returncode == 125 and not ran, f"{r}")
    with open(report) as f:
        expect(f.read() == "older report\n", "an existing report was changed by a refused run")
    r, ran = run_with_outputs(ctx, [("--report", report), ("--audit", report)])
    expect(r.returncode == 125 and not ran and "the same file" in r.err, f"{r}")
    r, ran = run_with_outputs(ctx, [("--report", report), ("--audit", audit)])
    expect(r.returncode == 0 and ran, f"{r}")
    expect(json.load(open(report))["exit"]["code"] == 0, "report")
    expect(os.path.isfile(audit) and stat.S_IMODE(os.stat(audit).st_mode) == 0o600, "audit")
    os.unlink(audit)
    r = ctx.sandbox("echo RAN", opts=["-w", "/no/such/dir", "--report", report, "--network",
                                      "allowlist", "--audit", audit])
    expect(r.returncode == 125 and "RAN" not in r.out, f"{r}")
    expect(json.load(open(report))["exit"]["started"] is False, "no report of the refused run")
    expect(not os.path.exists(audit), "an empty audit log of a run that never started")


BAD_INPUT = [
    (["run"], "no command"),
    (["run", "--"], "no command"),
    (["run", "--memory", "lots", "--", "true"], "--memory"),
    (["run", "--memory", "-1", "--", "true"], "--memory"),
    (["run", "--timeout", "0", "--", "true"], "--timeout"),
    (["run", "--timeout", "1d", "--", "true"], "--timeout"),
    (["run", "--cpus", "0", "--", "true"], "--cpus"),
    (["run", "--pids-limit", "0", "--", "true"], "--pids-limit"),
    (["run", "--uid", "0", "--", "true"], "--uid"),
    (["run", "--uid", "65534", "--", "true"], "--uid"),
    (["run", "--hostname", "-bad", "--", "true"], "--hostname"),
    (["run", "--hostname", "a" * 64, "--", "true"], "--hostname"),
    (["run", "-w", "relative", "--", "true"], "--workdir"),
    (["run", "-w", "/a/../b", "--", "true"], "--workdir"),
    (["run", "-e", "1BAD=x", "--", "true"], "-e"),
    (["run", "-e", "=x", "--", "true"], "-e"),
    (["run", "--allow-degraded", "everything", "--", "true"], "--allow-degraded"),
    (["run", "--network", "host", "--", "true"], "--network"),
    (["run", "-v", "/etc:/etc", "--", "true"], "-v"),
    (["run", "--rootfs", "/nonexistent-rootfs", "--", "true"], "rootfs"),
    (["run", "--bogus", "--", "true"], "--bogus"),
    (["frobnicate"], "unknown command"),
]


def test_bad_input_one_line_exit_125(ctx):
    for args, word in BAD_INPUT:
        r = ctx.stockade(*args)
        expect(r.returncode == 125, f"{args}: exit {r.returncode}")
        expect(r.err.count("\n") == 1 and r.err.startswith("stockade: "),
               f"{args}: not one line: {r.err!r}")
        expect(word in r.err, f"{args}: {word!r} not in {r.err!r}")
        expect(r.out == "", f"{args}: stdout {r.out!r}")


# Values that were checked only at launch, after the gate's probes (the --allow-net and
# --deny-net rules, network options without a network, -e keys, --dns-server), or only when
# the mount layer copied them (an over-long --workdir). Each must fail at the parse.
LATE_VALUES = [
    (["--allow-net", "a..b"], "a..b"),
    (["--allow-net", "*.co.uk"], "co.uk"),
    (["--network", "allowlist", "--deny-net", "10.1.0.0/8"], "host bits"),
    (["--deny-net", "example.com"], "without network"),
    (["--hosts-file", "/etc/hosts"], "without network"),
    (["-e", "1BAD=x"], "-e"),
    (["--network", "allowlist", "--dns-server", "not-an-address"], "--dns-server"),
    (["--network", "allowlist", "--dns-server", "127.0.0.1:0"], "--dns-server"),
    (["-w", "/" + "w" * 4096], "--workdir"),
]


def state_with_marker_cache(ctx):
    """An empty STOCKADE_HOME but for a probe cache no gate can take: a gate that runs probes
    again and replaces it (or deletes it after a refusal), so it is gone once any probe ran."""
    state = ctx.fresh_state()
    path = os.path.join(state, "probe-cache")
    with open(path, "w") as f:
        f.write("not a probe cache\n")
    os.chown(path, ctx.caller_uid, ctx.caller_gid)
    return state, path


def marker_untouched(path):
    try:
        with open(path) as f:
            return f.read() == "not a probe cache\n"
    except FileNotFoundError:
        return False


def test_bad_values_refused_before_any_probe(ctx):
    """A bad value is refused where the spec is checked, at the parse: exit 125, one line,
    the command not run, and no probe ran (the gate did not touch the probe cache). A good
    run on the same kind of state does replace the cache: the check can fail."""
    for opts, word in LATE_VALUES:
        state, cache = state_with_marker_cache(ctx)
        r = ctx.sandbox("echo RAN", opts=opts, env={"STOCKADE_HOME": state})
        shown = [o[:40] for o in opts]
        expect(r.returncode == 125 and "RAN" not in r.out, f"{shown}: {r}")
        expect(r.err.count("\n") == 1 and r.err.startswith("stockade: cli: "),
               f"{shown}: not one line from the parse: {r.err[:300]!r}")
        expect(word in r.err, f"{shown}: {word!r} not in {r.err[:300]!r}")
        expect(marker_untouched(cache), f"{shown}: the probes ran before the value was refused")
    state, cache = state_with_marker_cache(ctx)
    r = ctx.sandbox("echo RAN", env={"STOCKADE_HOME": state})
    expect(r.returncode == 0 and not marker_untouched(cache),
           f"a good run left the unusable probe cache as it was: {r}")


def test_version_and_help(ctx):
    r = ctx.stockade("version")
    expect(r.returncode == 0 and r.out.startswith("stockade "), f"{r}")
    r = ctx.stockade("run", "--help")
    expect(r.returncode == 0 and "--allow-degraded" in r.out, f"{r}")


def test_signal_forwarded_to_workload(ctx):
    p = ctx.popen([ctx.stockade_path, "run", "--", "sh", "-c",
                   "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    expect(line == b"ready\n", f"{line!r}")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=10)
    expect(p.returncode == 7 and b"got-term" in out, f"{p.returncode} {out!r} {err!r}")


FORWARDED = ("INT", "HUP", "QUIT", "USR1", "USR2")


def test_every_forwarded_signal_reaches_the_command(ctx):
    """INT, HUP, QUIT, USR1 and USR2 sent to stockade from the host reach the command, which
    traps each and says so; TERM then ends it. Each is sent only once the previous one was
    seen, so every line answers one signal."""
    traps = "; ".join(f"trap 'echo got-{name}' {name}" for name in FORWARDED)
    p = ctx.popen([ctx.stockade_path, "run", "--", "sh", "-c",
                   f"{traps}; trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        expect(p.stdout.readline() == b"ready\n", "the command did not start")
        for name in FORWARDED:
            p.send_signal(getattr(signal, f"SIG{name}"))
            line = p.stdout.readline()
            expect(line == f"got-{name}\n".encode(), f"SIG{name}: the command said {line!r} "
                                                     f"(stockade exit {p.poll()})")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    expect(p.returncode == 7 and out == b"", f"exit {p.returncode} {out!r} {err!r}")


def test_dies_with_parent(ctx):
    marker = unique_sleep()
    p = ctx.popen([ctx.stockade_path, "run", "--", "sh", "-c", f"echo ready; exec {marker}"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expect(p.stdout.readline() == b"ready\n", "sandbox did not start")
    time.sleep(0.1)
    expect(subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0,
           "workload not found on the host")
    os.kill(p.pid, signal.SIGKILL)  # setpriv execs stockade: same pid in both modes
    p.wait(timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0:
            return
        time.sleep(0.05)
    raise AssertionError("the sandbox outlived stockade")


def test_zombies_are_reaped(ctx):
    # Orphans re-parent to PID 1, which must reap them: no Z state may remain.
    r = ctx.sandbox("for i in 1 2 3 4 5; do (sleep 0.05 &) ; done; sleep 0.5; "
                    "cat /proc/[0-9]*/stat | awk '{print $3}' | sort | uniq -c")
    expect(r.returncode == 0, f"{r}")
    expect(" Z" not in r.out, f"zombies left: {r.out}")


def test_closed_standard_fds(ctx):
    # Started with stdin and stderr closed, stockade must not hand its own sockets to the
    # command as fd 0 or 2.
    p = ctx.popen([ctx.stockade_path, "run", "--", "sh", "-c",
                   "readlink /proc/self/fd/0 /proc/self/fd/2; ls /proc/self/fd | wc -l"],
                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  preexec_fn=lambda: (os.close(0), os.close(2)))
    out, _ = p.communicate(timeout=30)
    lines = out.decode().split()
    expect(p.returncode == 0, f"exit {p.returncode}: {out!r}")
    expect(lines[:2] == ["/dev/null", "/dev/null"], f"fds 0 and 2: {lines}")
    expect(lines[2] == "4", f"fds open inside: {lines}")  # 0, 1, 2 and ls's own directory fd


def race_runs(count, one, parallel=4):
    """one(i) for i in range(count), `parallel` at a time; their results in order. Runs side
    by side are the contention under which the exec-versus-kill races below show: seen in 0-2%
    of runs one at a time on an idle machine, 0.4-12% four at a time."""
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(count)))


@contextlib.contextmanager
def busy_cpus():
    """A busy loop per CPU while the block runs: every CPU has a task at the sandbox's own
    priority to finish its slice before a woken PID 1 gets it."""
    loops = [subprocess.Popen(["sh", "-c", "while :; do :; done"])
             for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for p in loops:
            p.kill()
            p.wait()


def launch_ms(ctx):
    """The wall time of a run of `true` here, in ms (the best of 5): the scale of the window
    in which a kill can meet the command's exec."""
    times = []
    for _ in range(5):
        t0 = time.monotonic()
        r = ctx.sandbox(["true"])
        expect(r.returncode == 0, f"true: {r}")
        times.append((time.monotonic() - t0) * 1000)
    return min(times)


def tally(results):
    counts = {}
    for key in results:
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_output_flood_at_once_is_153_every_time(ctx):
    """A command that floods its output from its first instruction hits --output-limit, and
    gets the sandbox killed, while PID 1 may not yet have had the CPU after the exec. Whether
    it started must not depend on PID 1: every run says 153 and the limit's line, never 125
    ("ended before the command started"). 300 runs, 2 at a time beside a busy loop per CPU:
    with the flag PID 1 set once vfork returned as the only answer, 29 to 39 of them said 125
    (without the busy loops, as few as 2 of 500)."""
    def one(_):
        # yes itself, not sh -c yes: one exec, so its output comes sooner after it
        r = ctx.sandbox(["yes"], opts=["--output-limit", "1k"])
        return (r.returncode, "output limit" in r.err, len(r.raw_out))
    with busy_cpus():
        results = race_runs(300, one, parallel=2)
    bad = [r for r in results if r != (153, True, 1024)]
    expect(not bad, f"{len(bad)} of 300 floods not reported as the output limit "
                    f"(exit, limit line, bytes): {tally(bad)}")


def timeout_run(ctx, timeout_ms, cmd):
    """cmd under --timeout; its stdout is a pipe read only after stockade exited (a flood
    fills it and blocks, no more). (exit, stdout, stderr)."""
    p = ctx.popen([ctx.stockade_path, "run", "--timeout", f"{timeout_ms}ms", "--"] + cmd,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out, err = p.stdout.read(), p.stderr.read().decode(errors="replace")
    p.stdout.close()
    p.stderr.close()
    return p.returncode, out, err


def test_timeout_at_the_exec_is_exact(ctx):
    """--timeout values swept across the launch (1 ms to twice a run of `true`), 500 runs of
    `yes`, 4 at a time: a run whose command wrote anything started, so it is 124; 125 only
    with nothing written and the line that says the timeout came before the command started.
    Both must occur (else the sweep missed the exec). With the flag PID 1 set once vfork
    returned, 12 to 17 of 500 such runs wrote output and still said 125."""
    span = max(10, int(2 * launch_ms(ctx)))

    def one(i):
        code, out, err = timeout_run(ctx, 1 + i % span, ["yes"])
        return (code, len(out) > 0, "before the command started" in err)
    results = race_runs(500, one)
    counts = tally(results)
    good = {(124, True, False), (124, False, False), (125, False, True)}
    expect(set(counts) <= good, f"(exit, wrote output, 'before the command started'): "
                                f"{counts}")
    expect(counts.get((124, True, False)) and counts.get((125, False, True)),
           f"the sweep 1-{span} ms did not straddle the exec: {counts}")


def test_failed_exec_meeting_a_timeout_never_started(ctx):
    """A command that cannot be exec'd, under --timeout values swept across the launch: 127
    (not found) when the exec was tried, even if the timeout killed PID 1 before it could
    say so; 125 when the timeout came first. Never 124: a failed exec did not start."""
    span = max(10, int(2 * launch_ms(ctx)))

    def one(i):
        code, _, err = timeout_run(ctx, 1 + i % span, ["no-such-command-xyz"])
        return (code, "command not found" in err, "before the command started" in err)
    counts = tally(race_runs(150, one))
    expect(set(counts) <= {(127, True, False), (125, False, True)},
           f"(exit, 'command not found', 'before the command started'): {counts}")
    expect(counts.get((127, True, False)), f"no exec was tried in 1-{span} ms: {counts}")


def test_signal_during_the_launch_reaches_the_command(ctx):
    """SIGTERM sent to stockade while the sandbox is being set up (delays swept across a
    launch), 150 runs, 4 at a time. PID 1 has it blocked from its first instruction, so it
    waits for the command and kills it right after its exec: 143. It is never dropped (PID 1
    of a namespace does not get a signal left at its default action unless it is blocked):
    unblocked during the set-up, 53 to 107 of 150 runs lost it and ran `sleep 2` to the end
    (exit 0). A signal before stockade blocked its own kills stockade (-15), before any
    sandbox exists."""
    scale = launch_ms(ctx)

    def one(i):
        p = ctx.popen([ctx.stockade_path, "run", "--", "sleep", "2"], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        # 0.2 to 2.2 launches: a slower build (ASan) blocks its signals later in the launch
        time.sleep(scale * (0.2 + 2.0 * (i % 25) / 25) / 1000)
        p.send_signal(signal.SIGTERM)
        r = finish(p, timeout=30)
        return r.returncode
    counts = tally(race_runs(150, one))
    expect(set(counts) <= {128 + signal.SIGTERM, -signal.SIGTERM},
           f"exit statuses (143: the command got it, -15: stockade before a sandbox): {counts}")
    expect(counts.get(128 + signal.SIGTERM, 0) >= 30, f"too few reached a sandbox: {counts}")
