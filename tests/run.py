#!/usr/bin/env python3
"""The whole test suite: unit tests (cmocka binaries) and integration tests (real sandboxes),
each run as root and as an unprivileged user created here. Prints one line per test and
ends with `N passed, N failed, N skipped`. Exit status 0 only if nothing failed.

usage: tests/run.py --build BUILD_DIR [--mode root|user|both] [-k SUBSTRING]
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

import harness  # noqa: E402

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
    names = {"stockade": os.path.join(build, "stockade")}
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mode", default="both", choices=["root", "user", "both"])
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("tests/run.py must run as root: it runs every test as root and as an "
              "unprivileged user it creates", file=sys.stderr)
        return 2
    user = ensure_test_user()
    bin_dir = stage(os.path.abspath(args.build))
    modes = ["root", "user"] if args.mode == "both" else [args.mode]
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures = []
    start = time.monotonic()
    for mode in modes:
        ctx = harness.Context(mode, bin_dir, user)
        tests = [(f"unit:{name}", harness.unit_test_runner(name)) for name in unit_tests(bin_dir)]
        for module_name in MODULES:
            module = importlib.import_module(module_name)
            tests += [(f"{module_name[5:]}:{fn.__name__[5:]}", fn) for fn in harness.collect(module)]
        for name, fn in tests:
            if args.k not in name:
                continue
            if mode not in getattr(fn, "modes", ("root", "user")):
                continue
            ctx.reset()
            t0 = time.monotonic()
            try:
                fn(ctx)
                status, detail = "PASS", ""
            except harness.Skip as e:
                status, detail = "SKIP", str(e)
            except AssertionError as e:
                status, detail = "FAIL", str(e) or traceback.format_exc(limit=2)
            except Exception:  # a crashed test is a failed test
                status, detail = "FAIL", traceback.format_exc(limit=3)
            finally:
                ctx.cleanup()
            took = time.monotonic() - t0
            key = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[status]
            counts[key] += 1
            line = f"{status} [{mode}] {name} ({took:.2f}s)"
            if detail:
                line += ": " + detail.strip().replace("\n", "\n    ")
            print(line, flush=True)
            if status == "FAIL":
                failures.append(f"[{mode}] {name}")
    shutil.rmtree(bin_dir, ignore_errors=True)
    print(f"\n{len(failures)} failures: {', '.join(failures) if failures else 'none'}")
    print(f"took {time.monotonic() - start:.1f}s")
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
