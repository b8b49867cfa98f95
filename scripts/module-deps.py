#!/usr/bin/env python3
"""Prints the dependencies between the top-level modules of shared/src and fails on a cycle.

A module depends on another when its non-test code names `crate::<other>` (in a `use`, a
path or a brace group). Doc comments and `#[cfg(test)]` modules do not count. `make lint`
runs it: dependencies point one way (functions -> api/worker -> domain -> adapters -> SDK).
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "shared" / "src"


def top_module(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return rel.parts[0]


def code_of(text: str) -> str:
    text = text.split("#[cfg(test)]\nmod tests")[0]
    lines = [l for l in text.splitlines() if not l.lstrip().startswith("//")]
    return "\n".join(lines)


def groups(text: str, start: int) -> str:
    depth, i = 0, start
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
        i += 1
    return text[start + 1 :]


def split_top(inner: str):
    depth, cur = 0, ""
    for c in inner:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            yield cur.strip()
            cur = ""
        else:
            cur += c
    if cur.strip():
        yield cur.strip()


def deps_of(text: str):
    out = set()
    for m in re.finditer(r"crate::(\{|[a-z_][a-z0-9_]*)", text):
        if m.group(1) == "{":
            for item in split_top(groups(text, m.start(1))):
                name = re.match(r"[a-z_][a-z0-9_]*", item)
                if name and name.group(0) != "self":
                    out.add(name.group(0))
        else:
            out.add(m.group(1))
    return out


def main() -> int:
    graph = {}
    for path in sorted(ROOT.rglob("*.rs")):
        mod = top_module(path)
        if mod == "lib":
            continue
        deps = deps_of(code_of(path.read_text()))
        graph.setdefault(mod, set()).update(d for d in deps if d != mod)
    cycles = []
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    if "-v" in sys.argv:
        for mod in sorted(graph):
            print(f"{mod:12} -> {', '.join(sorted(graph[mod])) or '-'}")
    for c in cycles:
        print("module cycle in shared/src: " + " -> ".join(c), file=sys.stderr)
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
