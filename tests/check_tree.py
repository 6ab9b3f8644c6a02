#!/usr/bin/env python3
"""The repository stands alone and stays small: run by `make check-tree` (and CI).

Fails (exit 1, one line per finding) when a tracked file
  - is larger than 1 MiB, or lies under a node_modules/ or bench/.cache/ directory
    (third-party trees are installed at run time, never committed);
  - refers to a document outside the repository (a path into the guidance folder beside the
    checkout, or an absolute path of this machine's work tree; OUTSIDE below), or
    names a NAME.md document that the repository does not have.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_BYTES = 1 << 20
OUTSIDE = re.compile(rb"\.\./shared/|/work/shared|\.\./\.library")
PLACEHOLDERS = {b"FILE.md", b"NAME.md"}  # usage lines: a name the user picks
DOC_NAME = re.compile(rb"\b([A-Za-z][A-Za-z0-9_-]*\.md)\b")


def tracked():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True, check=True)
    return [p.decode() for p in out.stdout.split(b"\0") if p]


def findings(paths):
    docs = {os.path.basename(p).encode() for p in paths if p.endswith(".md")}
    for path in paths:
        full = os.path.join(ROOT, path)
        if "node_modules/" in path or path.startswith("bench/.cache/"):
            yield f"{path}: third-party tree committed (install it at run time)"
            continue
        if not os.path.isfile(full) or os.path.islink(full):
            continue
        size = os.path.getsize(full)
        if size > MAX_BYTES:
            yield f"{path}: {size} bytes, over the 1 MiB limit for a tracked file"
            continue
        if path == "tests/check_tree.py":
            continue  # names the patterns it looks for
        with open(full, "rb") as f:
            for n, line in enumerate(f, 1):
                if OUTSIDE.search(line):
                    yield f"{path}:{n}: refers to a document outside the repository"
                for name in DOC_NAME.findall(line):
                    if name not in docs and name not in PLACEHOLDERS:
                        yield f"{path}:{n}: names {name.decode()}, which the repository lacks"


def main():
    bad = list(findings(tracked()))
    for line in bad:
        print(f"check-tree: {line}")
    print(f"check-tree: {len(bad)} finding(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
