#!/usr/bin/env python3
"""An agent's loop over `stockade serve`: one sandbox kept across steps, each step an exec
whose output decides the next. The "model" here is a fixed script (write code, run its test,
read the failure, fix, run again) so that the example runs anywhere; a real agent puts a model
call where `next_step` is.

    stockade serve --socket /tmp/stockade.sock &
    python3 examples/agent_loop.py /tmp/stockade.sock
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients",
                                "python"))
from stockade_client import Client, StockadeError  # noqa: E402

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
TEST = ("from calc import add\n"
        "assert add(2, 3) == 5, f'add(2, 3) gave {add(2, 3)}'\n"
        "print('tests pass')\n")


def next_step(history):
    """What to do after the steps so far: (action, argument), or None when done."""
    if not history:
        return ("write", ("calc.py", BUGGY))
    last_action, last_result = history[-1]
    if last_action == "write":
        # -B: no .pyc; one written in the same second as a same-sized fix would hide it.
        return ("exec", ["python3", "-B", "test_calc.py"])
    if last_result.exit_code == 0:
        return None
    if b"gave -1" in last_result.stderr:
        return ("write", ("calc.py", FIXED))
    raise RuntimeError(f"no idea what to do about: {last_result.stderr!r}")


def main():
    client = Client(sys.argv[1] if len(sys.argv) > 1 else None)
    box = client.create({"stockade": 1, "limits": {"timeout": "5m"}},
                        idle_timeout="10m")["name"]
    work = "/home/sandbox"
    try:
        client.write_file(box, f"{work}/test_calc.py", TEST.encode())
        history = []
        while (step := next_step(history)) is not None:
            action, arg = step
            if action == "write":
                name, text = arg
                client.write_file(box, f"{work}/{name}", text.encode())
                print(f"[agent] wrote {name}")
                history.append((action, None))
            else:
                result = client.exec(box, arg, cwd=work, timeout=60)
                print(f"[agent] ran {' '.join(arg)}: exit {result.exit_code}")
                sys.stdout.write(result.stdout.decode() + result.stderr.decode())
                history.append((action, result))
        print(f"[agent] done in {len(history)} steps")
    except StockadeError as e:
        print(f"[agent] stockade refused: {e}", file=sys.stderr)
        return 1
    finally:
        client.delete(box)
    return 0


if __name__ == "__main__":
    sys.exit(main())
