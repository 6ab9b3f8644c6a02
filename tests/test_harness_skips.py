#!/usr/bin/env python3
"""Self-checks of the test harness's own logic, on made-up outcomes (no sandbox, no root):
the expected-skips list (tests/skips.py) and how tests/run.py counts against it, the reading
of cmocka's output (harness.parse_cmocka), and the fuzz runner's verdict on a libFuzzer log
(tests/fuzz/run.py). tests/run.py runs these first, as `harness:NAME`; by hand:
`python3 tests/test_harness_skips.py`."""
import contextlib
import importlib.util
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "integration"))

import harness  # noqa: E402
import skips  # noqa: E402

LIST = """# a comment
root  volumes:size_limit_enforced  no project quota in this kernel   # trailing comment
user  unit:test_cgroup/test_root_limits_are_written  needs root
"""


def _fuzz_runner():
    spec = importlib.util.spec_from_file_location("fuzz_run", os.path.join(HERE, "fuzz", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raises(fn, *words):
    try:
        fn()
    except ValueError as e:
        assert all(w in str(e) for w in words), f"{e} lacks {words}"
        return
    raise AssertionError(f"no ValueError (wanted {words})")


def test_list_is_parsed():
    entries = skips.parse(LIST, "x.txt")
    assert sorted(entries) == [("root", "volumes:size_limit_enforced"),
                               ("user", "unit:test_cgroup/test_root_limits_are_written")]
    e = entries[("root", "volumes:size_limit_enforced")]
    assert e.reason == "no project quota in this kernel" and e.where == "x.txt:2", e


def test_bad_lists_are_refused():
    _raises(lambda: skips.parse("root volumes:x\n", "f"), "f:1", "MODE TEST-ID REASON")
    _raises(lambda: skips.parse("both volumes:x why\n", "f"), "f:1", "root or user")
    _raises(lambda: skips.parse("root a:b why\n\nroot a:b again\n", "f"), "f:3", "twice", "f:1")


def test_checked_in_list_parses():
    skips.load(skips.DEFAULT_LIST)


def test_unexpected_skip_is_a_problem():
    ledger = skips.Ledger(skips.parse(LIST, "list"), "list")
    problem = ledger.skipped("user", "volumes:size_limit_enforced",
                             "no project quota in this kernel")
    assert problem and "unexpected skip" in problem and "[user]" in problem, problem
    # It names the line that would list it.
    line = "`user  volumes:size_limit_enforced  no project quota in this kernel`"
    assert line in problem, problem
    assert ledger.skipped("root", "layers:rootfs", "busybox missing"), "unlisted test"


def test_expected_skip_passes_by_reason_prefix():
    ledger = skips.Ledger(skips.parse(LIST, "list"), "list")
    assert ledger.skipped("root", "volumes:size_limit_enforced",
                          "no project quota in this kernel: mount said  EINVAL") is None
    problem = ledger.skipped("root", "volumes:size_limit_enforced", "mkfs.ext4 not installed")
    assert problem and "another reason" in problem and "list:2" in problem, problem


def test_stale_expected_skip_is_a_problem():
    ledger = skips.Ledger(skips.parse(LIST, "list"), "list")
    problem = ledger.passed("root", "volumes:size_limit_enforced")
    assert problem and "stale expected skip" in problem and "list:2" in problem, problem
    assert ledger.passed("root", "volumes:grammar_accepted") is None


def test_listed_test_that_never_ran_is_a_problem():
    ledger = skips.Ledger(skips.parse(LIST, "list"), "list")
    ledger.skipped("root", "volumes:size_limit_enforced", "no project quota in this kernel")
    problems = ledger.never_ran()
    assert len(problems) == 1 and "list:3" in problems[0][1], problems
    assert problems[0][0].test == "unit:test_cgroup/test_root_limits_are_written", problems
    ledger.failed("user", "unit:test_cgroup/test_root_limits_are_written")
    assert ledger.never_ran() == []


CMOCKA_OUT = """[==========] Running 4 test(s).
[ RUN      ] test_ok
note: something
[       OK ] test_ok
[ RUN      ] test_skip_with_reason
skip reason: needs root
[  SKIPPED ] test_skip_with_reason
[ RUN      ] test_bare_skip
[  SKIPPED ] test_bare_skip
[ RUN      ] test_broken
[  ERROR   ] --- 0 != 1
[   LINE   ] --- x.c:10: error: Failure!
[  FAILED  ] test_broken
[==========] 4 test(s) run.
[  PASSED  ] 1 test(s).
[  SKIPPED ] 2 test(s), listed below:
[  SKIPPED ] test_skip_with_reason
[  SKIPPED ] test_bare_skip
[  FAILED  ] 1 test(s), listed below:
[  FAILED  ] test_broken
"""


def test_cmocka_output_is_read():
    got = harness.parse_cmocka(CMOCKA_OUT)
    assert got == {"test_ok": ("ok", ""), "test_skip_with_reason": ("skipped", "needs root"),
                   "test_bare_skip": ("skipped", ""), "test_broken": ("failed", "")}, got


def _tally(text):
    import run
    tally = run.Tally(skips.Ledger(skips.parse(text, "list"), "list"))
    return tally, io.StringIO()


def test_run_counts_an_unexpected_skip_as_a_failure():
    tally, out = _tally(LIST)
    with contextlib.redirect_stdout(out):
        tally.outcome("root", "layers:rootfs", "SKIP", 0.1, "busybox-static is not installed")
        tally.unit_outcomes("root", "unit:test_cgroup",
                            harness.parse_cmocka(CMOCKA_OUT.replace("test_broken", "test_x")))
    assert tally.counts == {"passed": 0, "failed": 3, "skipped": 3}, (tally.counts, out.getvalue())
    lines = out.getvalue().splitlines()
    assert lines[0] == "SKIP [root] layers:rootfs (0.10s): busybox-static is not installed", lines
    assert lines[1].startswith("FAIL [root] expected-skips:layers:rootfs: unexpected skip"), lines
    assert "SKIP [root] unit:test_cgroup/test_bare_skip: (no reason given)" in lines, lines


def test_run_counts_a_stale_expected_skip_as_a_failure():
    tally, out = _tally(LIST)
    with contextlib.redirect_stdout(out):
        tally.outcome("root", "volumes:size_limit_enforced", "PASS", 1.0, "")
        tally.outcome("user", "unit:test_cgroup", "PASS", 1.0, "")
        tally.unit_outcomes("user", "unit:test_cgroup",
                            {"test_root_limits_are_written": ("ok", "")})
    assert tally.counts == {"passed": 2, "failed": 2, "skipped": 0}, (tally.counts, out.getvalue())
    assert tally.failures == ["[root] expected-skips:volumes:size_limit_enforced",
                              "[user] expected-skips:unit:test_cgroup/test_root_limits_are_written"
                              ], tally.failures


def test_run_accepts_the_expected_skips():
    tally, out = _tally(LIST)
    with contextlib.redirect_stdout(out):
        tally.outcome("root", "volumes:size_limit_enforced", "SKIP", 0.1,
                      "no project quota in this kernel (ext4 needs CONFIG_QFMT_V2)")
        tally.unit_outcomes("user", "unit:test_cgroup",
                            {"test_root_limits_are_written": ("skipped", "needs root")})
    assert tally.counts == {"passed": 0, "failed": 0, "skipped": 2}, (tally.counts, out.getvalue())
    assert tally.ledger.never_ran() == []


DONE_LOG = """INFO: Seed: 1
INFO:       12 files found in /src/tests/fuzz/corpus/parse
#13\tINITED cov: 100 ft: 120 corp: 10/200b exec/s: 0 rss: 30Mb
#4096\tpulse  cov: 110 ft: 150 corp: 14/300b lim: 40 exec/s: 2048 rss: 31Mb
#60123\tDONE   cov: 112 ft: 160 corp: 15/320b lim: 60 exec/s: 2004 rss: 32Mb
Done 60123 runs in 31 second(s)
stat::number_of_executed_units: 60123
stat::average_exec_per_sec:     2004
"""


def test_fuzz_verdict_on_a_real_run():
    fuzz = _fuzz_runner()
    assert fuzz.verdict(0, DONE_LOG, [], seeds=12) == (60123, None)
    assert fuzz.verdict(0, DONE_LOG, [], 12, "/src/tests/fuzz/corpus/parse") == (60123, None)


def test_fuzz_verdict_fails_a_run_that_did_not_fuzz():
    fuzz = _fuzz_runner()
    exited = "INFO: Seed: 1\nINFO:       12 files found in /c\n"  # the target exit()ed at once
    execs, why = fuzz.verdict(0, exited, [], seeds=12)
    assert execs == 0 and "no `#N DONE` line" in why, why
    zero = DONE_LOG.replace("60123", "0").replace("#0\tDONE", "#0\tDONE")
    execs, why = fuzz.verdict(0, zero, [], seeds=12)
    assert execs == 0 and "0 executions" in why, why
    execs, why = fuzz.verdict(0, DONE_LOG, [], seeds=0)
    assert "no seed corpus" in why, why
    execs, why = fuzz.verdict(1, DONE_LOG, ["crash-1"], seeds=12)
    assert "found a crash" in why, why
    execs, why = fuzz.verdict(0, DONE_LOG, [], seeds=12, seeds_dir="/elsewhere")
    assert "did not read the seed corpus /elsewhere" in why, why


def main():
    failed = 0
    for fn in harness.collect(sys.modules[__name__]):
        try:
            fn()
            print(f"PASS harness:{fn.__name__[5:]}")
        except Exception as e:
            failed += 1
            print(f"FAIL harness:{fn.__name__[5:]}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
