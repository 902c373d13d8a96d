"""The package's layering, read from the source: the core never imports the paper's experiments."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "qmri"

#: what each part of the package may import from qmri (every part may use the package root and qmri.errors)
ALLOWED = {
    "physics": {"physics"},
    "data": {"data"},
    "estimators": {"physics", "data", "estimators"},
    "paper": {"physics", "data", "estimators", "paper", "logs", "provenance", "allocator"},
    "relaxometry": {"physics", "data", "estimators"},
    "cli": {"physics", "data", "estimators", "relaxometry", "paper", "allocator"},
}
COMMON = {"", "errors"}


def part_of(path: Path) -> str:
    """The layer of a module: its subpackage, or the top-level module's name."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def qmri_imports(path: Path) -> set[str]:
    """Every qmri module ``path`` imports (at module level or inside functions), as dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qmri":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "qmri"}
    return found


def imported_part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def modules(part: str) -> list[Path]:
    target = PACKAGE / part
    return sorted(target.rglob("*.py")) if target.is_dir() else [PACKAGE / f"{part}.py"]


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_layer_imports_only_what_lies_below_it(part):
    wrong = {f"{path.relative_to(PACKAGE)}: {module}" for path in modules(part) for module in qmri_imports(path)
             if imported_part(module) not in ALLOWED[part] | COMMON}
    assert not wrong, sorted(wrong)


def test_the_core_never_imports_the_paper():
    core = [p for p in PACKAGE.rglob("*.py") if part_of(p) not in ("paper", "cli", "__main__")]
    assert len(core) > 10
    offenders = {str(p.relative_to(PACKAGE)) for p in core
                 if any(imported_part(m) in ("paper", "cli") for m in qmri_imports(p))}
    assert not offenders, sorted(offenders)


def test_the_checker_sees_function_level_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from qmri.paper.study import Study\n    import qmri.cli\n")
    assert qmri_imports(source) == {"qmri.paper.study", "qmri.cli"}
