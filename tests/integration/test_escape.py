"""The escape runner (tests/escape/run.py) inside the suite: every technique of docs/THREATS.md
that exists in the code, as this mode's caller, one BLOCKED / ESCAPED / ERROR line each (and
OK / BROKEN for the positive probes), then its summary line `escape [MODE]: N blocked,
N escaped, N error; ...`. One test per mode: it fails if anything escaped, errored or broke."""
import importlib.util
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def load_runner():
    spec = importlib.util.spec_from_file_location(
        "escape_runner", os.path.join(os.path.dirname(HERE), "escape", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner(ctx):
    rep = load_runner().run_mode(ctx)
    bad = [line for line in rep.lines if line.split(" ", 1)[0] in ("ESCAPED", "ERROR", "BROKEN")]
    assert not rep.failed(), f"{rep.summary()}\n" + "\n".join(bad)


def test_runner_through_exec(ctx):
    """The hostile programs again, each as `stockade exec` into a long-lived sandbox made with
    the same options: an exec carries every layer of `run` (issue 14)."""
    runner = load_runner()
    runner.VIA_EXEC = True
    rep = runner.run_mode(ctx, only=("try-syscall", "escape-fs", "escape-net",
                                     "escape-egress"))
    bad = [line for line in rep.lines if line.split(" ", 1)[0] in ("ESCAPED", "ERROR", "BROKEN")]
    assert not rep.failed(), f"{rep.summary()}\n" + "\n".join(bad)
    assert len(rep.lines) > 50, f"too few techniques ran through exec: {rep.summary()}"
