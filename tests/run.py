#!/usr/bin/env python3
"""The whole test suite: unit tests (cmocka binaries) and integration tests (real sandboxes),
each run as root and as an unprivileged user created here. Prints one line per test (and one
SKIP line per skipped cmocka test) and ends with `N passed, N failed, N skipped`. Exit status
0 only if nothing failed.

Every skip is checked against the list of skips this machine is expected to have
(tests/expected-skips.txt, CI's; tests/skips.py says how): a skip not listed, or a listed one
whose test passed, is a FAIL line `expected-skips` naming the line to add or remove.

usage: tests/run.py --build BUILD_DIR [--mode root|user|both] [-k SUBSTRING]
                    [--expected-skips FILE]   (default $STOCKADE_EXPECTED_SKIPS, else CI's list)
"""
import argparse
import importlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))
sys.path.insert(0, HERE)  # skips.py, also when this file is loaded by tests/escape/run.py

import harness  # noqa: E402
import skips  # noqa: E402

TEST_USER = "stockade-test"
MODULES = sorted(n[:-3] for n in os.listdir(os.path.join(HERE, "integration"))
                 if n.startswith("test_") and n.endswith(".py"))


def ensure_test_user():
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", "--shell", "/bin/sh", TEST_USER],
                       check=True)
        return pwd.getpwnam(TEST_USER)


def stage(build):
    """Copies what the tests execute to a world-readable place, so the unprivileged user can
    run it wherever the checkout lives (a clone under /root is not reachable by others)."""
    top = tempfile.mkdtemp(prefix="stockade-tests-")
    os.chmod(top, 0o755)
    names = {"stockade": os.path.join(build, "stockade"),
             "stockade-serve": os.path.join(build, "stockade-serve"),
             "stockade-tls": os.path.join(build, "stockade-tls")}
    for tests_dir in (os.path.join(build, "tests"), os.path.join(build, "tests", "escape")):
        for name in os.listdir(tests_dir):
            path = os.path.join(tests_dir, name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                names[name] = path
    for name, path in names.items():
        shutil.copy2(path, os.path.join(top, name))
        os.chmod(os.path.join(top, name), 0o755)
    return top


def unit_tests(bin_dir):
    return sorted(n for n in os.listdir(bin_dir) if n.startswith("test_"))


class Tally:
    """Counts, prints and checks every outcome: one line per test, skips against the list."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.failures = []

    def line(self, status, mode, name, took=None, detail=""):
        key = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[status]
        self.counts[key] += 1
        line = f"{status} [{mode}] {name}" + (f" ({took:.2f}s)" if took is not None else "")
        if detail:
            line += ": " + detail.strip().replace("\n", "\n    ")
        print(line, flush=True)
        if status == "FAIL":
            self.failures.append(f"[{mode}] {name}")

    def list_problem(self, mode, name, problem):
        if problem:
            self.line("FAIL", mode, f"expected-skips:{name}", detail=problem)

    def outcome(self, mode, name, status, took, detail):
        self.line(status, mode, name, took, detail)
        if status == "SKIP":
            self.list_problem(mode, name, self.ledger.skipped(mode, name, detail))
        elif status == "PASS":
            self.list_problem(mode, name, self.ledger.passed(mode, name))
        else:
            self.ledger.failed(mode, name)

    def unit_outcomes(self, mode, name, outcomes):
        """The cmocka tests of one binary: each skip is a SKIP line of its own."""
        for test, (status, reason) in outcomes.items():
            sub = f"{name}/{test}"
            if status == "skipped":
                self.line("SKIP", mode, sub, detail=reason or "(no reason given)")
                self.list_problem(mode, sub, self.ledger.skipped(mode, sub, reason))
            elif status == "ok":
                self.list_problem(mode, sub, self.ledger.passed(mode, sub))
            else:
                self.ledger.failed(mode, sub)


def run_one(ctx, fn):
    ctx.reset()
    t0 = time.monotonic()
    try:
        fn(ctx)
        status, detail = "PASS", ""
    except harness.Skip as e:
        status, detail = "SKIP", str(e) or "(no reason given)"
    except AssertionError as e:
        status, detail = "FAIL", str(e) or traceback.format_exc(limit=2)
    except Exception:  # a crashed test is a failed test
        status, detail = "FAIL", traceback.format_exc(limit=3)
    finally:
        ctx.cleanup()
    return status, detail, time.monotonic() - t0


def self_checks(tally, pattern):
    """The harness's own logic (tests/test_harness_skips.py), once, before any sandbox."""
    import test_harness_skips
    for fn in harness.collect(test_harness_skips):
        name = f"harness:{fn.__name__[5:]}"
        if pattern not in name:
            continue
        t0 = time.monotonic()
        try:
            fn()
            status, detail = "PASS", ""
        except Exception:
            status, detail = "FAIL", traceback.format_exc(limit=3)
        tally.line(status, "self", name, time.monotonic() - t0, detail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mode", default="both", choices=["root", "user", "both"])
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    ap.add_argument("--expected-skips", metavar="FILE",
                    default=os.environ.get("STOCKADE_EXPECTED_SKIPS", skips.DEFAULT_LIST),
                    help="the skips this machine is expected to have (default: "
                         "$STOCKADE_EXPECTED_SKIPS, else tests/expected-skips.txt, CI's)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("tests/run.py must run as root: it runs every test as root and as an "
              "unprivileged user it creates", file=sys.stderr)
        return 2
    try:
        expected = skips.load(args.expected_skips)
    except (OSError, ValueError) as e:
        print(f"tests/run.py: expected skips: {e}", file=sys.stderr)
        return 2
    shown = os.path.relpath(args.expected_skips)
    tally = Tally(skips.Ledger(expected, shown if not shown.startswith("..") else
                               os.path.abspath(args.expected_skips)))
    user = ensure_test_user()
    bin_dir = stage(os.path.abspath(args.build))
    modes = ["root", "user"] if args.mode == "both" else [args.mode]
    start = time.monotonic()
    self_checks(tally, args.k)
    for mode in modes:
        ctx = harness.Context(mode, bin_dir, user)
        tests = [(f"unit:{name}", harness.unit_test_runner(name)) for name in unit_tests(bin_dir)]
        for module_name in MODULES:
            module = importlib.import_module(module_name)
            tests += [(f"{module_name[5:]}:{fn.__name__[5:]}", fn) for fn in harness.collect(module)]
        try:
            for name, fn in tests:
                if args.k not in name:
                    continue
                if mode not in getattr(fn, "modes", ("root", "user")):
                    continue
                status, detail, took = run_one(ctx, fn)
                tally.outcome(mode, name, status, took, detail)
                tally.unit_outcomes(mode, name, ctx.unit_outcomes)
        finally:
            ctx.close()
    if not args.k and args.mode == "both":
        # Only a run of everything can tell that a listed skip belongs to no test at all.
        for entry, problem in tally.ledger.never_ran():
            tally.line("FAIL", entry.mode, f"expected-skips:{entry.test}", detail=problem)
    shutil.rmtree(bin_dir, ignore_errors=True)
    failures = tally.failures
    print(f"\n{len(failures)} failures: {', '.join(failures) if failures else 'none'}")
    print(f"took {time.monotonic() - start:.1f}s")
    counts = tally.counts
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
