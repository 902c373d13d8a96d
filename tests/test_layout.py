"""The package's layering, read from the source: physics and data, estimators, simulation, training, the paper's
experiments, the pipeline's helpers, the benchmarks, the command line; nothing imports a layer above it."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "qmri"

#: what each part of the package may import from qmri (every part may use the package root and qmri.errors)
ALLOWED = {
    "physics": {"physics"},
    "data": {"data"},
    "estimators": {"physics", "data", "estimators"},
    "simulation": {"physics", "data", "simulation"},
    "training": {"physics", "data", "estimators", "simulation", "training", "provenance"},
    "paper": {"physics", "data", "estimators", "simulation", "paper", "logs", "provenance", "allocator"},
    "pipeline": {"physics", "data", "estimators", "simulation", "training", "paper", "pipeline", "logs", "provenance",
                 "allocator"},
    "bench": {"physics", "data", "estimators", "simulation", "training", "paper", "pipeline", "bench", "provenance"},
    "relaxometry": {"physics", "data", "estimators", "relaxometry"},
    "cli": {"physics", "data", "estimators", "relaxometry", "pipeline", "bench", "allocator"},
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
    above = ("paper", "pipeline", "bench", "cli", "__main__")
    core = [p for p in PACKAGE.rglob("*.py") if part_of(p) not in above]
    assert len(core) > 10
    offenders = {str(p.relative_to(PACKAGE)) for p in core
                 if any(imported_part(m) in above for m in qmri_imports(p))}
    assert not offenders, sorted(offenders)


def test_the_checker_sees_function_level_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from qmri.pipeline.study import Study\n    import qmri.cli\n")
    assert qmri_imports(source) == {"qmri.pipeline.study", "qmri.cli"}


def test_every_part_of_the_package_has_its_place_in_the_layers():
    leaves = {"__init__", "__main__", "errors", "logs", "provenance", "allocator"}
    parts = {part_of(p) for p in PACKAGE.rglob("*.py")}
    assert parts - leaves == set(ALLOWED)


def test_every_study_script_imports_what_exists():
    """studies/ holds one-off measurements run by hand: each must still parse and name qmri modules and functions
    that exist (ruff lints them with the package)."""
    import importlib.util

    scripts = sorted((PACKAGE.parents[1] / "studies").rglob("*.py"))
    assert scripts
    missing = []
    for path in scripts:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qmri":
                if importlib.util.find_spec(node.module) is None:
                    missing.append(f"{path.name}: {node.module}")
                    continue
                module = importlib.import_module(node.module)
                missing += [f"{path.name}: {node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)
                            and importlib.util.find_spec(f"{node.module}.{a.name}") is None]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "qmri" and importlib.util.find_spec(alias.name) is None:
                        missing.append(f"{path.name}: {alias.name}")
    assert not missing, missing
