"""The shape of the package at a git revision, read from its own imports: rooms, floors, arrows
between rooms, import circles, loose modules, the largest modules, and how many copies of the
small shared helpers issue 12 counted.

    python -m benchmarks.layout [REV ...]     (default: HEAD; e.g. 3d6ff4e HEAD side by side)

A room is a folder under ``src/connectcheck/`` or a loose module at its top (``__init__`` and
``__main__`` left out). An arrow is "room A imports room B" (any import, lazy ones too). Floors
are the levels of the room graph once its circles are folded into one node (the longest chain of
arrows below a room, plus one). An arrow back up is one inside a circle of rooms.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict

PKG = "src/connectcheck/"
# (what, pattern over the source text of every module): the helpers issue 12 found copied.
COPIES = {
    "date/time-in-words functions": r"^def (_?when\w*|_?clock\w*|describe_date|describe_time|time_words|stamp"
                                    r"|sortable_stamp|relative_time|_dt|parse_time)\(",
    "verdict-state orders": r"^[A-Z_]+ = (\{\"good\": 0|\(\"good\", \"degraded\", \"fail\")",
    "STATE_WORDS dicts": r"^STATE_WORDS = \{",
    "'go ahead(,) with limits' wordings": r"go ahead,? with limits\"",
    "BUSY_PROGRAM_MBPS definitions": r"^BUSY_PROGRAM_MBPS = |busy_program_mbps = \d",
    "read-a-bundled-TOML blocks": r"tomllib\.loads?\(",
}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def modules(rev: str) -> dict[str, str]:
    """path -> source of every module of the package at ``rev``."""
    names = [n for n in git("ls-tree", "-r", "--name-only", rev, PKG).split() if n.endswith(".py")]
    return {n: git("show", f"{rev}:{n}") for n in names}


def room_of(path: str) -> str | None:
    rel = path[len(PKG):]
    head = rel.split("/", 1)[0].removesuffix(".py")
    return None if head in ("__init__", "__main__") else head


def imported_rooms(source: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
            if node.module == "connectcheck":
                names += [f"connectcheck.{a.name}" for a in node.names if a.name != "__version__"]
        out |= {n.split(".")[1] for n in names if n.startswith("connectcheck.") and len(n.split(".")) > 1}
    return out


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected parts with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = set()
            while True:
                w = stack.pop()
                on.discard(w)
                part.add(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(part)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def floors(graph: dict[str, set[str]], parts: list[set[str]]) -> int:
    node = {v: min(p) for p in parts for v in p}
    folded: dict[str, set[str]] = defaultdict(set)
    for v, ws in graph.items():
        folded[node.get(v, v)] |= {node.get(w, w) for w in ws if node.get(w, w) != node.get(v, v)}
    depth: dict[str, int] = {}

    def level(v: str) -> int:
        if v not in depth:
            depth[v] = 1 + max((level(w) for w in folded.get(v, ())), default=0)
        return depth[v]

    return max((level(v) for v in list(folded)), default=0)


def measure(rev: str) -> dict[str, object]:
    mods = modules(rev)
    graph: dict[str, set[str]] = defaultdict(set)
    module_graph: dict[str, set[str]] = defaultdict(set)
    dotted = {p: p[len("src/"):].removesuffix(".py").replace("/", ".").removesuffix(".__init__")
              for p in mods}
    known = set(dotted.values())
    for path, source in mods.items():
        room = room_of(path)
        if room is None:
            continue
        graph[room] |= imported_rooms(source) - {room}
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("connectcheck"):
                # ``from connectcheck.local import wifi`` imports the module local.wifi
                subs = {f"{node.module}.{a.name}" for a in node.names} & known
                module_graph[dotted[path]] |= subs or {node.module}
    rooms = sorted(graph)
    parts = circles(graph)
    arrows = sum(len(ws) for ws in graph.values())
    back = sum(1 for p in parts for v in p for w in graph[v] if w in p)
    loose = sorted(p[len(PKG):] for p in mods if "/" not in p[len(PKG):] and room_of(p))
    largest = sorted(((len(s.splitlines()), p[len(PKG):]) for p, s in mods.items()), reverse=True)[:5]
    copies = {what: sum(len(re.findall(rx, s, re.M)) for s in mods.values()) for what, rx in COPIES.items()}
    return {
        "rooms": len(rooms), "floors": floors(graph, parts), "arrows": arrows,
        "arrows inside circles of rooms": back, "circles of rooms": len(parts),
        "circles of modules": len(circles(module_graph)), "loose modules": len(loose),
        "largest modules": ", ".join(f"{p} {n}" for n, p in largest), **copies,
    }


def main(argv: list[str]) -> None:
    revs = argv or ["HEAD"]
    results = {rev: measure(rev) for rev in revs}
    keys = list(next(iter(results.values())))
    print("| | " + " | ".join(revs) + " |")
    print("|---|" + "---|" * len(revs))
    for k in keys:
        print(f"| {k} | " + " | ".join(str(results[r][k]) for r in revs) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
