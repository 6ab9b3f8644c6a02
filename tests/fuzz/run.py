#!/usr/bin/env python3
"""Runs every libFuzzer target of a -Dfuzz=true build for a while, each from its committed seed
corpus (tests/fuzz/corpus/NAME/, read only: new inputs go to a scratch directory), and reports
the executions and findings per target. A target fails if it found something (the reproducer
is kept and its path printed), exited non-zero, has no seed corpus or did not load it, or did
not really fuzz: no `#N DONE` line (libFuzzer's end of a timed run) or zero executions. Exit
status 1 if any target failed, 2 for usage errors.

usage: tests/fuzz/run.py --build BUILD_FUZZ [--seconds 60] [--jobs 2] [--only NAME]
                         [--keep DIR]     (keep the grown corpora and artifacts there)
                         [--corpus DIR]   (the seed corpora, one directory per target;
                                           default tests/fuzz/corpus)
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def targets(build):
    d = os.path.join(build, "tests", "fuzz")
    if not os.path.isdir(d):
        return []
    return sorted(n[len("fuzz_"):] for n in os.listdir(d)
                  if n.startswith("fuzz_") and os.access(os.path.join(d, n), os.X_OK)
                  and os.path.isfile(os.path.join(d, n)))


def verdict(rc, log, found, seeds, seeds_dir=None):
    """(executions, None) for a target that fuzzed cleanly, else (executions, why not). seeds:
    how many committed seed files it was given; seeds_dir: their directory, which libFuzzer's
    log must show it read."""
    done = re.search(r"^#(\d+)\s+DONE\b", log, re.MULTILINE)
    stat = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    execs = int(stat.group(1)) if stat else int(done.group(1)) if done else 0
    if found:
        return execs, "it found a crash, a leak or a timeout (reproducers below)"
    if rc != 0:
        return execs, f"exit {rc}"
    if seeds == 0:
        return execs, "no seed corpus (its directory is missing or empty)"
    if not done:
        return execs, ("no `#N DONE` line: the timed run did not finish (the target exited or "
                       "was killed before the time was up)")
    if execs == 0:
        return execs, "0 executions"
    if seeds_dir:
        loaded = re.search(r"INFO:\s*(\d+) files found in " + re.escape(seeds_dir) + "$", log,
                           re.MULTILINE)
        if not loaded or int(loaded.group(1)) == 0:
            return execs, f"libFuzzer did not read the seed corpus {seeds_dir}"
    return execs, None


def run_one(build, name, seconds, work, corpus):
    exe = os.path.join(build, "tests", "fuzz", "fuzz_" + name)
    seeds = os.path.join(corpus, name)
    grown = os.path.join(work, name, "corpus")
    artifacts = os.path.join(work, name, "artifacts") + "/"
    os.makedirs(grown, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    env = dict(os.environ)
    # Leaks are findings too; UBSan reports abort so libFuzzer keeps the input.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1")
    seed_count = len(os.listdir(seeds)) if os.path.isdir(seeds) else 0
    cmd = [exe, f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
           "-print_final_stats=1", f"-artifact_prefix={artifacts}", grown]
    if seed_count:
        cmd.append(seeds)
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env,
                       timeout=seconds + 300)
    log = r.stdout + r.stderr
    with open(os.path.join(work, name, "log"), "w") as f:
        f.write(log)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    found = sorted(os.listdir(artifacts))
    execs, why = verdict(r.returncode, log, found, seed_count, seeds)
    return {"name": name, "rc": r.returncode, "execs": execs, "why": why,
            "cov": cov[-1] if cov else ("?", "?"), "found": found, "artifacts": artifacts,
            "corpus": len(os.listdir(grown)), "tail": log[-3000:]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--only", default="")
    ap.add_argument("--keep", default="")
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    corpus = os.path.abspath(args.corpus)
    build = os.path.abspath(args.build)
    names = [n for n in targets(build) if args.only in n]
    if not names:
        print(f"no fuzz targets in {build}/tests/fuzz (configure it with -Dfuzz=true)",
              file=sys.stderr)
        return 2
    work = args.keep or tempfile.mkdtemp(prefix="stockade-fuzz-")
    print(f"fuzzing {len(names)} targets for {args.seconds}s each, {args.jobs} at a time",
          flush=True)
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for res in pool.map(lambda n: run_one(build, n, args.seconds, work, corpus), names):
            ok = res["why"] is None
            print(f"{'PASS' if ok else 'FAIL'} fuzz:{res['name']}: {res['execs']} execs, "
                  f"cov {res['cov'][0]} ft {res['cov'][1]}, corpus {res['corpus']}, "
                  f"{len(res['found'])} findings" + ("" if ok else f": {res['why']}"),
                  flush=True)
            if not ok:
                failed.append(res["name"])
                print(f"    exit {res['rc']}; reproducers in {res['artifacts']}: "
                      f"{res['found']}\n    " + res["tail"].replace("\n", "\n    "))
    if not args.keep and not failed:
        shutil.rmtree(work, ignore_errors=True)
    print(f"fuzz: {len(names) - len(failed)} clean, {len(failed)} failed"
          + (f" (kept in {work})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
