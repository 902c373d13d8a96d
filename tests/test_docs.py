"""The docs site: it builds with no warning, its examples run, and what it generates covers its sources."""

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def schema_keys(node: dict, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], dict]]:
    """Every property of the config schema, with its path (``<name>`` for a name the user chooses)."""
    found = [(path, node)] if path else []
    for name, child in node.get("properties", {}).items():
        found += schema_keys(child, (*path, name))
    named = list(node.get("patternProperties", {}).values())
    if isinstance(node.get("additionalProperties"), dict):
        named.append(node["additionalProperties"])
    for child in named:
        for name, grandchild in child.get("properties", {}).items():
            found += schema_keys(grandchild, (*path, "<name>", name))
    return found


def test_every_config_key_has_a_description():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    keys = schema_keys(schema)
    assert len(keys) > 80
    missing = [".".join(path) for path, node in keys if not node.get("description")]
    assert not missing, missing


@pytest.mark.parametrize("page", ["api.md"])
def test_the_docs_examples_run(page):
    result = doctest.testfile(str(ROOT / "docs" / page), module_relative=False)
    assert result.attempted > 5 and result.failed == 0


def test_the_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "dates belong in the docs' performance page"
    assert not re.search(r"\b[0-9a-f]{7,40}\b", text), "commit hashes belong in the docs' performance page"
    assert 'pip install -e ".[workflow]" && snakemake --cores 8 all_figures' in text
    ci = (ROOT / ".ci/run").read_text()
    test_command = re.search(r"^(python3 -m venv .*pytest.*)$", ci, re.M).group(1)
    assert test_command in text, "CI must run the README's test command"


@pytest.mark.slow
def test_the_docs_build_with_no_warning(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    pages = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("index.html")}
    assert {"fit/index.html", "api/index.html", "config/index.html", "performance/index.html"} <= pages
    config_page = (tmp_path / "site/config/index.html").read_text()
    assert "training.rim.protocols.&lt;name&gt;.start" in config_page  # the generated reference is there
    assert "flowchart" in (tmp_path / "site/pipeline/index.html").read_text()  # and the rule graph



def test_every_measurement_names_its_cpu_and_has_every_column():
    import csv

    with open(ROOT / "docs/measurements.csv", newline="") as stream:
        rows = list(csv.reader(stream))
    header, body = rows[0], rows[1:]
    assert header == ["cpu", "what", "value", "command", "revision", "date"]
    assert body and all(len(row) == len(header) and row[0].strip() and row[2].strip() for row in body), [
        row[:2] for row in body if len(row) != len(header)]
