"""The architecture of DESIGN.md, read from the code's own imports: the rooms stand on floors, an
import never goes up a floor, the peers (probes/, local/, assess/) never import each other, and
only ui/ (and the PDF renderer) may import Qt. A failure names the offending import's line."""

import ast
import subprocess
import sys
from pathlib import Path

import connectcheck

PACKAGE = Path(connectcheck.__file__).parent
QT_MODULES = ("PySide6", "shiboken6")

# Each room and its floor: a module may import its own room and the rooms of lower floors only.
FLOORS = {
    "core": 0,  # model, tasks, words, paths, files: the ground every room stands on
    "probes": 1, "local": 1, "assess": 1,  # peers: measurements of the network, of this computer, judging
    "config": 2,  # settings, the organisation profile, what is in force
    "policy": 3,  # the procedure, the 7-day window, the support e-mail
    "history": 4,  # the SQLite store
    "check": 5,  # one check
    "monitor": 6,  # one monitored lesson
    "report": 7,  # gathers and renders
    "ui": 8,  # all the Qt
    "cli": 9,  # the command line (it starts the tray app)
}
PEERS = {"probes", "local", "assess"}
# Beyond the floors: what gathers never runs a measurement, and the store knows no run.
FORBIDDEN = {"report": {"check", "monitor"}, "history": {"check", "monitor"}}
TOP_FILES = {"__init__", "__main__"}  # the package's own __init__ (version) and ``python -m`` entry


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "connectcheck":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, int]]:
    """(module, line) of every connectcheck import in the file, at any depth (lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, node.lineno))
            # ``from connectcheck import model`` names the room in the alias
            if node.module == "connectcheck":
                found += [(f"connectcheck.{a.name}", node.lineno)
                          for a in node.names if a.name != "__version__"]
    return [(m, line) for m, line in found if m.startswith("connectcheck")]


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        room = rel.parts[0].removesuffix(".py")
        out.append((path, room))
    return out


def test_every_module_is_in_a_room():
    rooms = {room for _path, room in _modules()}
    assert rooms - TOP_FILES <= set(FLOORS), sorted(rooms - TOP_FILES - set(FLOORS))


def test_no_import_goes_up_a_floor_or_across_to_a_peer():
    offenders = []
    for path, room in _modules():
        if room in TOP_FILES:
            continue
        for module, line in _imports(path):
            target = _room(module)
            if target is None or target == room or target == "__init__":
                continue
            where = f"{path.relative_to(PACKAGE)}:{line} imports {module}"
            if target not in FLOORS:
                offenders.append(f"{where} (no such room)")
            elif FLOORS[target] > FLOORS[room]:
                offenders.append(f"{where} ({room} is below {target})")
            elif room in PEERS and target in PEERS:
                offenders.append(f"{where} (peers never import each other)")
            elif target in FORBIDDEN.get(room, ()):
                offenders.append(f"{where} ({room} never imports {target})")
    assert offenders == []


def test_no_import_circle_between_modules():
    """Module-level imports (lazy ones inside functions excluded) form no circle."""
    graph: dict[str, set[str]] = {}
    names = {}
    for path, _room_name in _modules():
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        names[path] = name
    known = set(names.values())
    for path, name in names.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps = set()
        for node in tree.body:  # top level only
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("connectcheck"):
                deps.add(node.module)
                deps |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in known and d != name}
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    # a package's __init__ importing its own modules, and they importing a sibling, is not a circle
    circles = [c for c in circles
               if not all(p.startswith(c.split(" -> ")[0] + ".") for p in c.split(" -> ")[1:-1])]
    assert circles == []


def _allowed_qt(path: Path) -> bool:
    rel = path.relative_to(PACKAGE).as_posix()
    return rel.startswith("ui/") or rel.startswith("report/pdf")


def test_no_qt_import_outside_ui():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if _allowed_qt(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in QT_MODULES for n in names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_importing_the_non_ui_packages_loads_no_qt():
    modules = sorted(
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        for p in PACKAGE.rglob("*.py")
        if not _allowed_qt(p) and p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m.removesuffix('.__init__'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
