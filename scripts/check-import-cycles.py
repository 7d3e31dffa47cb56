#!/usr/bin/env python3
"""Fails on an import cycle among the files of a crate's src/ (issue 15).

An edge a -> b when file a names `crate::b…` or `super::…` resolving to a module file b
(`use` lines and paths in code alike; comments and `#[cfg(test)] mod` blocks do not count).
A child module naming its own parent or ancestor (`super::Conversation` in
`conversation/push.rs`) is part of that module and makes no edge. A cycle is a strongly
connected set of two or more files.

Usage: check-import-cycles.py SRC_DIR...   (exit 1 on any cycle, each printed)
"""
import os
import re
import sys


def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(root, f)
            rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel[-1] in ("mod", "lib", "main"):
                rel = rel[:-1]
            mods[tuple(rel)] = p
    return mods


def code_of(path):
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    # An in-file test module comes last by convention; it is not the module's dependency.
    return re.split(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)[0]


def resolve(path, mods):
    for n in range(len(path), 0, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return None


def graph(src):
    mods = modules(src)
    out = {m: set() for m in mods}
    for m, p in mods.items():
        for ref in re.finditer(r"\b(crate|super)((?:::\w+)+)", code_of(p)):
            head, rest = ref.group(1), ref.group(2).split("::")[1:]
            base = [] if head == "crate" else list(m[:-1])
            target = resolve(base + rest, mods)
            if target is None or target == m:
                continue
            if len(target) < len(m) and m[: len(target)] == target:
                continue  # a child naming its ancestor
            out[m].add(target)
    return out


def cycles(g):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    bad = 0
    for src in argv:
        for comp in cycles(graph(src)):
            print(f"import cycle: {src.rstrip('/')}: " + ", ".join("::".join(c) for c in comp))
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
