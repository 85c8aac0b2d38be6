"""Import direction: paper_figs -> bridge -> empirics -> theory (docs/design.md).

A module may import only packages to its right; bridge and paper_figs must read records
without torch.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["paper_figs", "bridge", "empirics", "theory"]
TORCH_FREE = {"paper_figs", "bridge"}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ORDER)
def test_packages_import_only_to_their_right(package):
    forbidden = set(ORDER[: ORDER.index(package)])
    if package in TORCH_FREE:
        forbidden |= {"torch"}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_packages(path) & forbidden
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_records_and_closed_forms_load_without_torch():
    import subprocess
    import sys

    code = (
        "import sys; import runstore, theory.allocation, theory.sweep;"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
