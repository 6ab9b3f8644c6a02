#!/usr/bin/env python3
"""Layer-removal check: for each isolation layer, a copy of stockade with that layer removed
(a text edit of the source) must turn the tests that claim the layer red. A mutation names the
exact test ids that must fail, and optionally a text the FAIL line must contain (the expected
reason); it is "detected" only when one of them fails so. Other tests failing are shown but do
not count. A layer whose removal leaves its named tests green is a claim without a test.

How it runs: the tree is copied once and built once (meson setup, ninja); the named tests of
every selected mutation run first on that unmutated build (the baseline: all must pass, else
"baseline red" and exit 1); then per mutation the edits are applied, ninja rebuilds
incrementally, the named tests run, and the files are restored (the next ninja rebuilds them).
Each run.py invocation is its own process group with a timeout; afterwards every process whose
executable lies in the staging directory that invocation created (/tmp/stockade-tests-*) is
SIGKILLed -- a mutant without PDEATHSIG leaves sandboxes behind, and killing their PID 1 ends
their namespaces. Nothing else is killed.

    sudo python3 tests/mutation.py [--only NAME,...] [--mode root|user|both] [--list]
    sudo python3 tests/mutation.py --ci     # CI: 4 mutations chosen by HEAD's hash, root mode

One line per mutation (detected / UNDETECTED / DOES NOT APPLY / BUILD FAILED / timeout), then a
summary; exit 1 unless every selected mutation is detected. Measured on the 2-core dev VM
(other test runs beside it): `--ci` 23-44 s (copy, meson setup and full build, then the
baseline of its tests and four mutations); all 34 mutations (before the 3 of stockade mcp,
detected in 89 s on their own) in root mode 189 s (all detected), in user mode 150 s (safepath-resolve UNDETECTED there: another check of the
volume refuses the replaced directory first; cgroup's tests run as root only).

Detected through another layer's refusal, not by a test seeing the layer gone (exit 125 from
the run: removing the layer alone cannot go unnoticed, but the test does not prove the layer
itself): setresuid (the probe's uid check), no-new-privs (Landlock requires it), pidns (proc
mount), utsns (sethostname), devfs (a Landlock rule path), readonly-binds (the mount probe).
landlock-scopes is seen only by unit:test_landlock (the plan): inside a sandbox the network
and PID namespaces refuse abstract sockets and signals first.
"""
import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 300  # seconds per run.py invocation
CI_COUNT = 4


def M(edits, tests, reason=None, root_only=False):
    """edits: [(file, old text, new text)]; tests: ids that must go red; reason: a text the
    FAIL line must contain to count (None: any failure of a named test); root_only: the edit
    changes nothing for an unprivileged caller, so user mode does not run it."""
    return {"edits": edits, "tests": tests, "reason": reason, "root_only": root_only}


MUTATIONS = {
    "landlock": M([("src/sandbox/launch.c", "if (plan->has_landlock &&", "if (0 &&")],
                  ["layers:landlock_blocks_writes_through_inherited_dir_fd"]),
    "seccomp": M([("src/sandbox/launch.c", "child_optional(seccomp_apply(&plan->seccomp, err),",
                   "child_optional(0,")],
                 ["layers:identity_and_privilege_inside", "hostile:io_uring_denied"]),
    "caps": M([("src/sandbox/launch.c", "if (caps_apply(&plan->caps, err) < 0 || ", "if (")],
              ["layers:identity_and_privilege_inside"]),
    "dumpable": M([("src/sandbox/launch.c",
                    "if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)\n\t\treturn sk_fail_safe",
                    "if (0)\n\t\treturn sk_fail_safe"),
                   # and its check before exec, which would refuse the run by itself
                   ("src/sandbox/launch.c", "if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)",
                    "if (0)")],
                  ["hostile:pid1_not_dumpable_whatever_fs_suid_dumpable",
                   "hostile:proc1_mem_and_environ"]),
    "pdeathsig": M([("src/sandbox/launch.c",
                     "\tif (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)\n\t\treturn sk_fail_safe",
                     "\tif (0)\n\t\treturn sk_fail_safe"),
                    # and the first one, before GO: without a uid change (an unprivileged
                    # caller) it survives and alone kills PID 1 with the parent
                    ("src/sandbox/launch.c",
                     "if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)\n\t\t_exit(125);",
                     "if (0)\n\t\t_exit(125);")],
                   ["basics:dies_with_parent"], "outlived stockade"),
    # Both sessions: PID 1's own setsid alone also leaves the command without a terminal.
    "setsid": M([("src/sandbox/init.c", "if (setsid() < 0 || prctl(", "if (prctl("),
                 ("src/sandbox/launch.c", "if (setsid() < 0)", "if (0)")],
                ["hostile:tiocsti_real_terminal_no_injection"]),
    # Both closings: PID 1 closes inherited fds, the command marks the rest close-on-exec.
    "close-fds": M([("src/sandbox/init.c",
                     "if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)\n\t\tworkload_fail",
                     "if (0)\n\t\tworkload_fail"),
                    ("src/sandbox/launch.c", "if (fds_close_except(keep, count) < 0)", "if (0)")],
                   ["hostile:leaked_fds_and_cwd_cve_2024_21626"]),
    "readonly-root": M([("src/sandbox/mount.c",
                         "if (mount_make_readonly(MOUNT_NEWROOT, 0, err) < 0)", "if (0)")],
                       ["layers:filesystem_view", "layers:mount_table"]),
    # The read-only bind mounts of the host's system directories (mount.c bind_entry).
    "readonly-binds": M([("src/sandbox/mount.c",
                          "rc = restrict_mount(tree, NULL, inside(e->dst), is_dir,\n"
                          "\t\t\t    MOUNT_RESTRICT_RDONLY | ",
                          "rc = restrict_mount(tree, NULL, inside(e->dst), is_dir,\n\t\t\t    ")],
                        ["layers:filesystem_view", "layers:mount_table"]),
    "readonly-volumes": M([("src/sandbox/mount.c",
                            "(is_readonly ? MOUNT_ATTR_RDONLY : 0)", "0")],
                          ["volumes:readonly_enforced_from_inside"]),
    "proc-masks": M([("src/sandbox/launch.c", "proc_apply(&plan->proc, err) < 0 ||",
                      "(mount(\"proc\", MOUNT_NEWROOT \"/proc\", \"proc\", 0, NULL), 0) ||")],
                    ["layers:proc_is_the_sandbox_own_and_masked"]),
    "netns": M([("src/sandbox/net.c", "} else if (setns(h->pidfd, CLONE_NEWNET) < 0) {",
                 "} else if (0) {")],
               ["layers:network_has_only_loopback", "layers:namespaces_are_new"]),
    "proxy-confine": M([("src/net/proxy.c",
                         "proxy_drop_privileges() < 0 || proxy_confine(config, p.dns, &err) < 0",
                         "proxy_drop_privileges() < 0")],
                       ["egress:proxy_confines_itself"], "proxy seccomp"),
    "env-scrub": M([("src/sandbox/launch.c", ".envp = plan->env.envp,", ".envp = environ,")],
                   ["basics:environment_is_scrubbed"], "SECRET_TOKEN"),
    "cgroup": M([("src/sandbox/launch.c", "cgroup_attach(&plan->cgroup, pid, err) < 0)", "0)")],
                ["limits:memory_limit_oom_kills_inside_only", "limits:fork_bomb_is_contained"]),
    # Without the gate a blocked layer still fails closed, but in the layer, not named by it.
    "gate": M([("src/sandbox/launch.c", "if (gate_check(spec, report, err) < 0)", "if (0)")],
              ["doctor:userns_blocked_by_seccomp", "doctor:mount_blocked", "doctor:masked_proc",
               "doctor:cached_ok_never_hides_a_failing_layer"]),
    "timeout": M([("src/sandbox/supervise.c",
                   "sv->result->timed_out = true;\n\t\t\tsupervise_kill(sv);",
                   "sv->result->timed_out = true;")],
                 ["basics:timeout_kills_whole_sandbox_exit_124"]),
    # The egress address policy: no address is forbidden any more.
    "addrpolicy": M([("src/net/addrpolicy.c", "why = forbidden_reason(policy, &canonical);",
                      "why = NULL;")],
                    ["unit:test_addrpolicy", "egress:forbidden_ranges_refused_before_connecting"]),
    # Tunnels: any SNI passes; a tunnelled HTTP request whose Host disagrees passes.
    "tunnel-sni": M([("src/net/tunnelpeek.c", "return strcmp(sni, host->text) == 0",
                      "return 1")],
                    ["unit:test_tunnelpeek", "egress:sni_must_name_the_tunnel_host"]),
    "tunnel-host": M([("src/net/tunnelpeek.c",
                       "case HTTPREQ_BAD:\n\t\treturn refuse(out, out->req.reason, "
                       "out->req.status_code);",
                       "case HTTPREQ_BAD:\n\t\tbreak;")],
                     ["unit:test_tunnelpeek", "egress:tunnel_to_a_name_carries_only_that_name"]),
    # The workload's uid maps onto host root (as root: an unprivileged caller may not write
    # such a map, which fails the run by itself).
    "uid-map": M([("src/sandbox/userns.c",
                   "snprintf(map, sizeof(map), \"%u %u 1\\n\", (unsigned)plan->uid, "
                   "(unsigned)plan->host_uid);",
                   "snprintf(map, sizeof(map), \"%u 0 1\\n\", (unsigned)plan->uid);")],
                 ["layers:workload_host_uid_is_never_root",
                  "hostile:setuid_root_and_setgroups_denied"]),
    # Root only: for an unprivileged caller the uid map alone already makes it uid 10001.
    "setresuid": M([("src/sandbox/userns.c", "if (sys_setresuid(plan->uid) < 0)", "if (0)")],
                   ["layers:identity_and_privilege_inside",
                    "layers:workload_host_uid_is_never_root"], root_only=True),
    # Root only: the kernel requires "deny" before an unprivileged caller's gid_map.
    "setgroups-deny": M([("src/sandbox/userns.c",
                          "if (write_proc_file(pid, \"setgroups\", \"deny\", err) < 0)",
                          "if (geteuid() != 0 && write_proc_file(pid, \"setgroups\", \"deny\", "
                          "err) < 0)")],
                        ["hostile:setuid_root_and_setgroups_denied"], root_only=True),
    "securebits": M([("src/sandbox/userns.c", "if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)",
                      "if ((void)bits, 0)")],
                    ["hostile:securebits_locked"], "securebits inside"),
    "no-new-privs": M([("src/sandbox/caps.c",
                        "if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)\n\t\treturn "
                        "sk_fail_safe(err, \"caps\", errno, \"prctl(PR_SET_NO_NEW_PRIVS)\", NULL, "
                        "NULL);\n\tif (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)",
                        "if (0)")],
                      ["layers:identity_and_privilege_inside",
                       "hostile:privilege_state_of_every_process"]),
    "pidns": M([("src/sandbox/launch.c", "CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC",
                 "CLONE_NEWNS | CLONE_NEWIPC")],
               ["layers:namespaces_are_new"]),
    "ipcns": M([("src/sandbox/launch.c", "CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS",
                 "CLONE_NEWPID | CLONE_NEWUTS")],
               ["layers:namespaces_are_new"], "ipc namespace is the host's"),
    "utsns": M([("src/sandbox/launch.c", "CLONE_NEWIPC | CLONE_NEWUTS |", "CLONE_NEWIPC |")],
               ["layers:namespaces_are_new", "hostile:sethostname_denied_host_unchanged"]),
    "cgroupns": M([("src/sandbox/launch.c", "if (unshare(CLONE_NEWCGROUP) < 0)", "if (0)")],
                  ["layers:namespaces_are_new"], "cgroup namespace is the host's"),
    # /dev: the host's /dev shows through instead of the sandbox's own six devices.
    "devfs": M([("src/sandbox/launch.c", "devfs_apply(err) < 0 ||", "0 ||")],
               ["layers:filesystem_view", "hostile:positive_devices_and_pty"]),
    "rlimits": M([("src/sandbox/rlimit.c",
                   "if (setrlimit(plan->items[i].resource, &plan->items[i].limit) < 0)",
                   "if (0)")],
                 ["limits:rlimits"], "core dumps allowed"),
    "output-limit": M([("src/sandbox/supervise.c",
                        "if (limit && sv->output_total + (uint64_t)n > limit) {",
                        "if (0) {")],
                      ["basics:output_limit", "basics:output_limit_counts_stdout_and_stderr_together"]),
    "safepath-resolve": M([("src/store/safepath.c",
                            "RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |\n"
                            "\t\t\t     RESOLVE_NO_XDEV);",
                            "0);")],
                          ["unit:test_safepath", "volumes:volume_dir_symlinked_on_host_side",
                           "volumes:volume_directory_replaced_is_refused"]),
    "landlock-scopes": M([("src/sandbox/landlock.c",
                           "plan->scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | "
                           "LANDLOCK_SCOPE_SIGNAL;",
                           "plan->scoped = 0;")],
                         ["unit:test_landlock", "hostile:socket_families",
                          "hostile:ptrace_process_vm_pidfd_getfd_against_pid1"]),
    # stockade mcp: what stands between a model and a wider policy or a longer life
    "mcp-profiles": M([("src/cli/mcp_tools.c",
                        "return \"one of the profiles the operator allows (describe_policy lists "
                        "them)\";", "return NULL;")],
                      ["mcp:sdk_client_cannot_widen_the_policy"], reason="profileNotAllowed"),
    "mcp-arguments": M([("src/cli/mcp_tools.c", "\t\tif (!f->name) {\n",
                         "\t\tif (!f->name)\n\t\t\tcontinue;\n\t\tif (!f->name) {\n")],
                       ["mcp:sdk_client_cannot_widen_the_policy"], reason="networkArgument"),
    "mcp-end": M([("src/cli/mcp.c",
                   "if (s->sandboxes[k].state != MCP_BOX_FREE)\n\t\t\t(void)mcp_child_start",
                   "if (0)\n\t\t\t(void)mcp_child_start")],
                 ["mcp:sandboxes_go_when_stdin_closes_or_on_sigterm"], reason="left behind"),
    # Workspaces: no overlay, and the project bound writable at the guest path.
    "workspace-overlay": M([("src/sandbox/mount_overlay.c",
                             "#define LOWER_ATTR (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | "
                             "MOUNT_ATTR_NODEV)",
                             "#define LOWER_ATTR (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)"),
                            ("src/sandbox/mount_overlay.c",
                             "rc = mount_overlay(lower, upper, work, lower, err);",
                             "rc = 0, (void)mount_overlay;")],
                           ["workspace_run:workspace_host_tree_unchanged_by_any_change"],
                           reason="the host project changed"),
    # workspace apply: host paths resolved like any path (a planted link is followed).
    "workspace-apply-resolve": M([("src/store/wsdiff.c",
                                   "RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | "
                                   "RESOLVE_NO_MAGICLINKS |\n\t\t\t       RESOLVE_NO_XDEV);",
                                   "0);")],
                                 ["workspace:planted_symlink_race_during_apply"]),
    # Credentials: the placeholder may go to any host.
    "credential-elsewhere": M([("src/net/credinject.c",
                                "if (contains_nocase(buf, len, credentials[i].placeholder))",
                                "if (0 && contains_nocase(buf, len, "
                                "credentials[i].placeholder))")],
                              ["credentials:credential_reaches_its_host_and_only_its_host"],
                              reason="answers inside"),
}


def staging_dirs():
    return set(glob.glob("/tmp/stockade-tests-*"))


def exe_of(pid):
    try:
        path = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    return path[:-len(" (deleted)")] if path.endswith(" (deleted)") else path


def session_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[4])
    except (OSError, ValueError, IndexError):
        return None


def pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def in_dir(path, directory):
    return path is not None and path.startswith(directory.rstrip("/") + "/")


class Invocation:
    """One run.py run in its own session; learns which staging directory is its own: a
    directory that appeared during the run and holds the executable of a process of the
    session (other engineers' runs create such directories too)."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.ours = set()
        self.new = set()
        self.killed = 0

    def watch(self, before, proc, done):
        while not done.is_set():
            self.new |= staging_dirs() - before
            for pid in pids():
                if session_of(pid) == proc.pid:
                    exe = exe_of(pid)
                    for d in self.new:
                        if in_dir(exe, d):
                            self.ours.add(d)
            done.wait(0.2)

    def run(self, timeout):
        before = staging_dirs()
        proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        done = threading.Event()
        watcher = threading.Thread(target=self.watch, args=(before, proc, done), daemon=True)
        watcher.start()
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        done.set()
        watcher.join()
        self.new |= staging_dirs() - before
        # A run too short for the watcher to tie a process to its directory: the only new
        # directory is ours if no other appeared meanwhile and it is gone (run.py removes its
        # own on exit; another engineer's live run keeps its directory).
        if not self.ours and len(self.new) == 1 and not os.path.exists(next(iter(self.new))):
            self.ours = set(self.new)
        self.reap()
        return out, timed_out

    def reap(self):
        for d in self.ours:
            for pid in pids():
                if in_dir(exe_of(pid), d):
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.killed += 1
                    except ProcessLookupError:
                        pass
            shutil.rmtree(d, ignore_errors=True)


def run_tests(build, tests, mode, timeout):
    """{test id: (status, line)} for the named tests (exact ids: -k is a substring), and the
    other FAIL lines seen, and whether any invocation timed out."""
    results, others, timed_out = {}, [], False
    for test in tests:
        cmd = [sys.executable, os.path.join(TOP, "tests", "run.py"), "--build", build,
               "--mode", mode, "-k", test]
        inv = Invocation(cmd)
        out, t = inv.run(timeout)
        timed_out |= t
        if inv.killed:
            others.append(f"({inv.killed} leftover processes of {test} killed)")
        for line in out.splitlines():
            parts = line.split(" ", 2)
            if len(parts) < 3 or parts[0] not in ("PASS", "FAIL", "SKIP"):
                continue
            name = parts[2].split(" ", 1)[0].rstrip(":")
            if name == test or name.startswith(test + "/"):
                rank = {"FAIL": 3, "PASS": 2, "SKIP": 1}
                if rank[parts[0]] > rank.get(results.get(test, ("", ""))[0], 0):
                    results[test] = (parts[0], line)
            elif parts[0] == "FAIL" and not name.startswith("expected-skips:"):
                others.append(line)
        if test not in results:
            results[test] = ("MISSING", "timeout" if t else "no such test")
    return results, others, timed_out


def why(line):
    """The reason of a FAIL line, short: its first line, or a traceback's last."""
    lines = [x.strip() for x in line.split(": ", 1)[-1].splitlines() if x.strip()]
    text = lines[-1] if lines and lines[0].startswith("Traceback") else (lines or [""])[0]
    return text[:160]


def ninja(build):
    r = subprocess.run(["ninja", "-C", build], capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr)[-1500:]


def check(name, mutation, tree, build, mode, timeout):
    saved = {}
    try:
        for path, old, new in mutation["edits"]:
            source = os.path.join(tree, path)
            text = saved.get(path) or open(source).read()
            saved.setdefault(path, text)
            current = open(source).read()
            if old not in current:
                return f"DOES NOT APPLY: {name} (text not found in {path})", False
            with open(source, "w") as f:
                f.write(current.replace(old, new, 1))
        ok, log = ninja(build)
        if not ok:
            return f"BUILD FAILED: {name}\n{log}", False
        results, others, timed_out = run_tests(build, mutation["tests"], mode, timeout)
        reason = mutation["reason"]
        red = [(t, line) for t, (s, line) in results.items()
               if s == "FAIL" and (reason is None or reason in line)]
        left = [o for o in others if o.startswith("(")]
        others = [o for o in others if not o.startswith("(")]
        extra = (f" (also failing: {len(others)} others)" if others else "") + "".join(
            " " + o for o in left)
        if red:
            shown = "; ".join(f"{t} failed: {why(line)}" for t, line in red)
            return f"detected: {name} ({shown}){extra}", True
        if timed_out:
            return f"timeout: {name}", False
        missing = [t for t, (s, _) in results.items() if s == "MISSING"]
        note = f" (not found: {', '.join(missing)})" if missing else ""
        return f"UNDETECTED: {name}{note}{extra}", False
    finally:
        for path, text in saved.items():
            with open(os.path.join(tree, path), "w") as f:
                f.write(text)


def ci_selection():
    """CI_COUNT mutations in a window that moves with HEAD's hash: over successive pushes
    every mutation is exercised."""
    r = subprocess.run(["git", "-C", TOP, "rev-parse", "HEAD"], capture_output=True, text=True)
    seed = int(r.stdout.strip()[:8] or "0", 16) if r.returncode == 0 else 0
    names = list(MUTATIONS)
    start = (seed % ((len(names) + CI_COUNT - 1) // CI_COUNT)) * CI_COUNT
    return [names[(start + i) % len(names)] for i in range(CI_COUNT)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="",
                    help="mutations whose name contains this (comma-separated: any of these)")
    ap.add_argument("--mode", default="both", choices=["root", "user", "both"])
    ap.add_argument("--ci", action="store_true",
                    help=f"{CI_COUNT} mutations chosen by HEAD's hash, root mode")
    ap.add_argument("--timeout", type=float, default=TIMEOUT,
                    help=f"seconds per run.py invocation (default {TIMEOUT})")
    ap.add_argument("--list", action="store_true", help="print the mutations and their tests")
    args = ap.parse_args()
    if args.list:
        for n, m in MUTATIONS.items():
            print(f"{n}: {' '.join(m['tests'])}")
        return 0
    if os.geteuid() != 0:
        print("tests/mutation.py must run as root (tests/run.py does)", file=sys.stderr)
        return 2
    if args.ci:
        names, mode = ci_selection(), "root"
    else:
        names = [n for n in MUTATIONS if any(o in n for o in args.only.split(","))]
        mode = args.mode
    if not names:
        print(f"no mutation matches '{args.only}'", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="stockade-mut-")
    try:
        tree, build = os.path.join(work, "src-tree"), os.path.join(work, "build")
        shutil.copytree(TOP, tree, ignore=shutil.ignore_patterns("build*", ".git"))
        r = subprocess.run(["meson", "setup", build, tree, "--buildtype=debugoptimized",
                            "-Dwerror=false"], capture_output=True, text=True)
        ok, log = (r.returncode == 0, r.stdout + r.stderr) if r.returncode else ninja(build)
        if not ok:
            print(f"baseline build failed:\n{log[-1500:]}")
            return 1
        tests = list(dict.fromkeys(t for n in names for t in MUTATIONS[n]["tests"]))
        print(f"mutations: {' '.join(names)} [{mode}]; baseline of {len(tests)} tests",
              flush=True)
        results, _, _ = run_tests(build, tests, mode, args.timeout)
        # A test run.py does not run (or skips) in user mode alone is left out there, visibly;
        # with root in the modes every named test must run and pass (a typo is baseline red).
        absent = [t for t, (st, why_) in results.items()
                  if mode == "user" and (st == "SKIP" or (st == "MISSING" and why_ != "timeout"))]
        bad = [f"{t} {st}: {line.splitlines()[0][:200]}" for t, (st, line) in results.items()
               if st != "PASS" and t not in absent]
        if bad:
            print("baseline red: " + "; ".join(bad))
            return 1
        if absent:
            print(f"not run in {mode} mode (left out): {' '.join(absent)}")
        print(f"baseline green ({time.monotonic() - t0:.0f}s)", flush=True)
        lines, not_run = [], []
        for n in names:
            mutation = dict(MUTATIONS[n], tests=[t for t in MUTATIONS[n]["tests"]
                                                 if t not in absent])
            if mode == "user" and mutation["root_only"]:
                print(f"not run in {mode} mode: {n} (the edit changes nothing there)")
                not_run.append(n)
                continue
            if not mutation["tests"]:
                print(f"not run in {mode} mode: {n} (none of its tests runs there)")
                not_run.append(n)
                continue
            line, detected = check(n, mutation, tree, build, mode, args.timeout)
            print(line, flush=True)
            lines.append((line, detected))
        found = sum(1 for _, d in lines if d)
        skipped = f", {len(not_run)} not run in {mode} mode" if not_run else ""
        print(f"mutation: {found} of {len(lines)} detected{skipped}, "
              f"took {time.monotonic() - t0:.0f}s")
        return 0 if found == len(lines) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
