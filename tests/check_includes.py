#!/usr/bin/env python3
"""The include graph of src/ runs one way: run by `make check-tree` (and CI).

Reads every `#include "..."` line under src/ and fails (exit 1, one line per finding) on
  - an upward arrow: a file including a header of a layer above its own, or of another layer
    of the same rank (store and net know nothing of each other);
  - a cycle between modules (a module is a directory and a file's stem up to its first '_':
    sandbox/probe.c and sandbox/probe_advice.c are one module, net/hostmatch and
    net/addrpolicy two, which must not include each other);
  - an include of a file that is not there.

The layers, lowest first (docs/ARCHITECTURE.md, "Layers"):
    util < spec < store, net < sandbox < cli < main.c, serve_main.c, tls_main.c
A layer may include its own headers and those of every layer below it.

    usage: python3 tests/check_includes.py [SRC_DIR]
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANK = {"util": 0, "spec": 1, "store": 2, "net": 2, "sandbox": 3, "cli": 4, "main.c": 5,
        "serve_main.c": 5, "tls_main.c": 5}
# Headers the build makes (meson.build): not in src/, and of no layer.
GENERATED = {"proxy_wire_stamp.h"}  # tools/wire_stamp.py
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(rel):
    """The layer of a path relative to src/: its first directory, or main.c itself."""
    return rel.split("/", 1)[0]


def module_of(rel):
    head, name = os.path.split(rel)
    stem = os.path.splitext(name)[0].split("_", 1)[0]
    return f"{head}/{stem}" if head else stem


def read_includes(src):
    """[(file, line number, included path)] for every quoted include under src."""
    found = []
    for top, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(top, name)
            rel = os.path.relpath(path, src)
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m:
                        found.append((rel, n, m.group(1)))
    return found


def arrow_findings(src, includes):
    for rel, n, target in includes:
        here, there = layer_of(rel), layer_of(target)
        if target in GENERATED:
            continue
        if not os.path.isfile(os.path.join(src, target)):
            yield f"src/{rel}:{n}: includes {target}, which is not in src/"
        elif here not in RANK or there not in RANK:
            unknown = here if here not in RANK else there
            yield f"src/{rel}:{n}: {unknown} is no known layer (add it to RANK and to " \
                  "docs/ARCHITECTURE.md)"
        elif here != there and RANK[there] >= RANK[here]:
            why = "a layer of the same rank" if RANK[there] == RANK[here] else "a layer above"
            yield f"src/{rel}:{n}: {here} includes {target}: {there} is {why}"


def cycle_findings(includes):
    edges, where = {}, {}
    for rel, n, target in includes:
        a, b = module_of(rel), module_of(target)
        if a != b:
            edges.setdefault(a, set()).add(b)
            where.setdefault((a, b), f"src/{rel}:{n}")
    seen, on_path, cycles = set(), [], []

    def visit(node):
        if node in on_path:
            cycles.append(on_path[on_path.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        on_path.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        on_path.pop()

    for node in sorted(edges):
        visit(node)
    for cycle in cycles:
        steps = ", ".join(where[(a, b)] for a, b in zip(cycle, cycle[1:]))
        yield f"cycle: {' -> '.join(cycle)} ({steps})"


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "src")
    includes = read_includes(src)
    problems = list(arrow_findings(src, includes)) + list(cycle_findings(includes))
    for line in problems:
        print(line)
    if problems:
        print(f"check_includes: {len(problems)} finding(s) in {len(includes)} includes")
        return 1
    print(f"check_includes: {len(includes)} includes, every arrow downward, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
