#!/usr/bin/env python3
"""Layer-removal check: for each isolation layer, build a copy of stockade with that layer's
apply call removed and run the tests that claim the layer; at least one must fail. A layer
whose removal leaves every test green is a claim without a test. Not part of `make check`
(it rebuilds once per layer); run by hand after changing a layer or its tests:

    sudo python3 tests/mutation.py [--only NAME] [--mode root|user|both]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name: (file, text to replace, replacement, -k filters of tests that must go red), or a list
# of such edits applied together (the last one's filters are used)
MUTATIONS = {
    "landlock": ("src/sandbox/launch.c", "if (plan->has_landlock &&", "if (0 &&",
                 ["layers:landlock", "hostile:", "escape:"]),
    "seccomp": ("src/sandbox/launch.c", "child_optional(seccomp_apply(&plan->seccomp, err),",
                "child_optional(0,",
                ["layers:identity", "hostile:", "escape:"]),
    "caps": ("src/sandbox/launch.c", "if (caps_apply(&plan->caps, err) < 0 || ",
             "if (", ["layers:identity", "hostile:", "escape:"]),
    "dumpable": ("src/sandbox/launch.c", "if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)\n\t\treturn sk_fail_safe",
                 "if (0)\n\t\treturn sk_fail_safe", ["hostile:proc1"]),
    "pdeathsig": ("src/sandbox/launch.c", "	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)\n		return sk_fail_safe",
                  "	if (0)\n		return sk_fail_safe", ["basics:dies_with_parent"]),
    # Both sessions: PID 1's own setsid alone also leaves the command without a terminal.
    "setsid": [("src/sandbox/init.c", "if (setsid() < 0 || prctl(", "if (prctl(", None),
               ("src/sandbox/launch.c", "if (setsid() < 0)", "if (0)", ["hostile:", "escape:"])],
    # Both closings: PID 1 closes inherited fds, the command marks the rest close-on-exec.
    "close-fds": [("src/sandbox/init.c", "if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {",
                   "if (0) {", None),
                  ("src/sandbox/launch.c", "if (fds_close_except(keep, count) < 0)",
                   "if (0)", ["hostile:"])],
    "readonly-root": ("src/sandbox/mount.c", "if (mount_make_readonly(MOUNT_NEWROOT, 0, err) < 0)",
                      "if (0)", ["layers:filesystem", "layers:mount_table"]),
    "readonly-binds": ("src/sandbox/mount.c", "return is_readonly ? mount_make_readonly(dst, is_dir, err) : 0;",
                       "return 0;", ["layers:filesystem", "layers:mount_table"]),
    "proc-masks": ("src/sandbox/launch.c", "proc_apply(&plan->proc, err) < 0 ||",
                   "(mount(\"proc\", MOUNT_NEWROOT \"/proc\", \"proc\", 0, NULL), 0) ||",
                   ["layers:proc", "escape:"]),
    "netns": ("src/sandbox/net.c", "} else if (setns(h->pidfd, CLONE_NEWNET) < 0) {",
              "} else if (0) {",
              ["layers:network", "layers:namespaces", "escape:"]),
    "proxy-confine": ("src/net/proxy.c",
                      "proxy_drop_privileges() < 0 || proxy_confine(config, p.dns, &err) < 0",
                      "proxy_drop_privileges() < 0", ["egress:proxy_confines"]),
    "env-scrub": ("src/sandbox/launch.c", ".envp = plan->env.envp,",
                  ".envp = environ,", ["basics:environment"]),
    "cgroup": ("src/sandbox/launch.c", "cgroup_attach(&plan->cgroup, pid, err) < 0)",
               "0)", ["limits:"]),
    "gate": ("src/sandbox/launch.c", "if (gate_check(spec, report, err) < 0)", "if (0)",
             ["doctor:"]),
    "timeout": ("src/sandbox/supervise.c", "sv->result->timed_out = true;\n\t\t\tsupervise_kill(sv);",
                "sv->result->timed_out = true;", ["basics:timeout"]),
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def check(name, mutation, mode):
    edits = mutation if isinstance(mutation, list) else [mutation]
    filters = edits[-1][3]
    work = tempfile.mkdtemp(prefix=f"stockade-mut-{name}-")
    try:
        shutil.copytree(TOP, os.path.join(work, "src-tree"), ignore=shutil.ignore_patterns(
            "build*", ".git"))
        tree = os.path.join(work, "src-tree")
        for path, old, new, _ in edits:
            source = os.path.join(tree, path)
            text = open(source).read()
            if old not in text:
                return f"{name}: MUTATION DOES NOT APPLY (text not found in {path})"
            open(source, "w").write(text.replace(old, new, 1))
        build = os.path.join(work, "build")
        r = run(["meson", "setup", build, tree, "-Dwerror=false"])
        if r.returncode == 0:
            r = run(["ninja", "-C", build])
        if r.returncode != 0:
            return f"{name}: BUILD FAILED\n{r.stdout[-1500:]}{r.stderr[-1500:]}"
        red = []
        for k in filters:
            r = run([sys.executable, os.path.join(TOP, "tests", "run.py"), "--build", build,
                     "--mode", mode, "-k", k], timeout=600)
            red += [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
        if not red:
            return f"{name}: STILL GREEN with the layer removed (tests: {filters})"
        first = red[0].split(":", 2)
        return f"{name}: red ({len(red)} failing), e.g. {first[0]}:{first[1]}"
    finally:
        # A mutant may leave a sandbox behind (that is what removing PDEATHSIG does): end the
        # PID 1s started from run.py's staging directories; their namespaces die with them.
        subprocess.run(["pkill", "-KILL", "-f", "^/tmp/stockade-tests-[^ ]*/stockade run"])
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--mode", default="both", choices=["root", "user", "both"])
    args = ap.parse_args()
    results = [check(n, m, args.mode) for n, m in MUTATIONS.items() if args.only in n]
    print("\n".join(results))
    return 1 if any("GREEN" in r or "DOES NOT" in r or "BUILD" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
