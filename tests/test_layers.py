"""The import rules of docs/design.md ("Layers"), read from the source with `ast`.

Every module's dependencies are its import statements (at any depth, so a function-level
import counts), the package modules it names in string constants ("empirics.x",
"empirics.x:function") and the modules given to `importlib.import_module`. Rules:

- stages: paper_figs -> bridge -> empirics -> theory -> runstore; a library module imports
  only its own stage or those to its right;
- commands (`COMMANDS`, the `python -m` shells) may import any library module; no module
  imports a command;
- inside empirics: the engine imports neither models nor capture (nor the toy's adapter);
  models import nothing else of empirics; records and the report import only records;
- no cycle among the modules;
- runstore, empirics' records, the report, bridge and paper_figs import without torch, and so
  does theory but for the toy nets (`theory.toy`), device resolution and its command.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("runstore", "theory", "empirics", "bridge", "paper_figs")
COMMANDS = {"theory.simulate", "empirics.match", "empirics.analyze", "empirics.anchors",
            "empirics.sweep", "empirics.toy.__main__", "empirics.corpus", "empirics.train",
            "empirics.importance", "empirics.export", "empirics.toy_study", "empirics.filter",
            "empirics.judge",
            "empirics.report.__main__",
            "bridge.compare",
            "paper_figs.__main__"}
TORCH_FREE = ("runstore", "empirics.records", "empirics.report", "bridge", "paper_figs")
NAMED = re.compile(r"^((?:%s)(?:\.\w+)*)(?::\w+)?$" % "|".join(STAGES))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for stage in STAGES for p in sorted((ROOT / stage).rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The package module `name` is, or is inside (`a.b.function` -> `a.b`)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def _absolute(node: ast.ImportFrom, here: str) -> str:
    if not node.level:
        return node.module or ""
    package = here if modules()[here].name == "__init__.py" else here.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _logger_names(tree: ast.AST) -> set[int]:
    """ids of the string constants that name a logger (`getLogger("empirics.match")`)."""
    return {id(node.args[0]) for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "getLogger"
            and node.args}


@cache
def dependencies(name: str, *, named: bool = True) -> frozenset[str]:
    """The package modules `name` imports and, with `named`, names in strings (itself and
    its parent packages excluded; logger names are not dependencies)."""
    tree = ast.parse(modules()[name].read_text())
    found, loggers = set(), _logger_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, name)
            found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
        elif (named and isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in loggers):
            match = NAMED.match(node.value.strip())
            if match:
                found.add(match.group(1))
    resolved = {resolve(n) for n in found}
    return frozenset(d for d in resolved if d and d != name and not name.startswith(d + "."))


def stage(name: str) -> str:
    return name.split(".")[0]


def area(name: str) -> str:
    """empirics' subpackage of a module ("models", "engine", ...), or its own name."""
    parts = name.split(".")
    return parts[1] if len(parts) > 2 else name


def test_the_rules_see_named_modules_and_function_level_imports():
    assert "empirics.toy.sweep" in dependencies("theory.simulate")  # inside a function
    assert "empirics.engine.entry" in dependencies("empirics.pipeline.match")
    assert resolve("empirics.records.match.MatchRecord") == "empirics.records.match"
    assert NAMED.match("empirics.toy.sweep:run_toy_sweep").group(1) == "empirics.toy.sweep"


def stage_offences(deps=dependencies) -> list[str]:
    """Each library module's imports of a later stage (commands are exempt)."""
    found = []
    for name in sorted(modules()):
        if name in COMMANDS:
            continue
        allowed = set(STAGES[: STAGES.index(stage(name)) + 1])
        bad = sorted(d for d in deps(name) if stage(d) not in allowed)
        if bad:
            found.append(f"{name} imports {bad}")
    return found


def command_offences(deps=dependencies) -> list[str]:
    """Each module's imports of a command (a command may still name another, to run it in a
    subprocess)."""
    found = []
    for name in sorted(modules()):
        bad = sorted(deps(name, named=name not in COMMANDS) & COMMANDS)
        if bad:
            found.append(f"{name} imports the command(s) {bad}")
    return found


RULES = {  # empirics subpackage -> subpackages of empirics it may not import
    "engine": {"models", "capture", "analysis", "report", "pipeline", "toy"},
    "models": {"capture", "engine", "analysis", "records", "report", "pipeline", "toy"},
    "records": {"models", "capture", "engine", "analysis", "report", "pipeline", "toy"},
    "report": {"models", "capture", "engine", "analysis", "pipeline", "toy"},
}


def room_offences(deps=dependencies) -> list[str]:
    """Each module of a ruled empirics subpackage importing a subpackage it may not."""
    found = []
    for name in sorted(n for n in modules() if n.startswith("empirics.") and area(n) in RULES):
        forbidden = RULES[area(name)]
        bad = sorted(d for d in deps(name) if d.startswith("empirics.") and area(d) in forbidden)
        if bad:
            found.append(f"{name} ({area(name)}) imports {bad}")
    return found


def test_a_library_module_imports_only_its_stage_and_those_below():
    offences = stage_offences()
    assert not offences, f"{len(offences)} module(s) import a later stage:\n" + "\n".join(offences)


def test_no_module_imports_a_command():
    offences = command_offences()
    assert not offences, f"{len(offences)} module(s) import a command:\n" + "\n".join(offences)


def test_empirics_subpackages_keep_their_rooms():
    offences = room_offences()
    assert not offences, (f"{len(offences)} module(s) leave their room:\n"
                          + "\n".join(offences))


def test_each_rule_lists_every_offender():
    """Planted imports: every breaking module is named, not only the first."""
    def room(sub):
        return sorted(n for n in modules() if n.startswith(f"empirics.{sub}."))

    engine, store = room("engine"), min(n for n in modules() if n.startswith("runstore."))
    plant = {"runstore": {"bridge"}, "theory": {"empirics.records"},
             engine[0]: {room("models")[0]}, engine[-1]: {room("pipeline")[0]},
             store: {"theory.simulate"}}

    def deps(name, named=True):
        return dependencies(name, named=named) | plant.get(name, set())

    stages, commands, rooms = stage_offences(deps), command_offences(deps), room_offences(deps)
    assert any(o.startswith("runstore imports") and "'bridge'" in o for o in stages)
    assert any(o.startswith("theory imports") for o in stages)
    assert [o for o in commands if o.startswith(f"{store} ")]
    assert {o.split()[0] for o in rooms} >= {engine[0], engine[-1]}


def test_there_is_no_import_cycle():
    state, cycles = {}, []

    def visit(name, path):
        state[name] = "open"
        for dep in sorted(dependencies(name)):
            if state.get(dep) == "open":
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[name] = "done"

    for name in sorted(modules()):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


#: Makes `import torch` fail in a subprocess (without a None entry in sys.modules, which
#: libraries that probe sys.modules for torch would trip over).
BLOCK_TORCH = """import importlib, importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked")
sys.meta_path.insert(0, NoTorch())
"""


def test_records_report_bridge_and_figures_import_without_torch():
    names = sorted(n for n in modules() if n.startswith(TORCH_FREE) and not n.endswith("__main__"))
    code = (BLOCK_TORCH + f"for name in {names!r}:\n    importlib.import_module(name)\n"
            "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(names) > 30


#: theory's modules that may use torch: the toy nets (`theory.toy`, but its config, flags and
#: figures, which records and figures import), device resolution and the command.
THEORY_TORCH = ("theory.toy", "theory.simulate")
THEORY_TOY_TORCH_FREE = ("theory.toy.config", "theory.toy.flags", "theory.toy.plot")


def test_the_allocation_model_loads_without_torch():
    names = sorted(n for n in modules() if stage(n) == "theory"
                   and (not n.startswith(THEORY_TORCH) or n in THEORY_TOY_TORCH_FREE))
    code = (BLOCK_TORCH + f"for name in {names!r}:\n    importlib.import_module(name)\n"
            "assert 'torch' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"theory.allocation", "theory.sweep", "theory.symbolic", "theory.plot"} <= set(names)
