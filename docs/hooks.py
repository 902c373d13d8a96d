"""MkDocs hook: pages carry generated parts, made at build time from the sources they describe.

A page writes ``<!-- qmri: NAME -->`` where a generated part goes; NAME is a key of ``PARTS``.
Nothing here is copied by hand: the config reference comes from the schema, the rule graph from
``snakemake --rulegraph``, the options from the CLI's parser, the model cards from the packaged
weights and the performance tables from ``docs/measurements.csv``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the generated parts read qmri from this checkout
MARKER = re.compile(r"<!-- qmri: ([a-z-]+) -->")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _types(node: dict) -> str:
    if "enum" in node:
        return " / ".join(f"`{v if isinstance(v, str) else json.dumps(v)}`" for v in node["enum"])
    kind = node.get("type", "object" if "properties" in node else "")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(k for k in kinds if k)
    bounds = [f"{sign} {node[key]}" for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                       ("maximum", "<="), ("exclusiveMaximum", "<")) if key in node]
    if "items" in node and "type" in node["items"]:
        text += f" of {node['items']['type']}"
    return ", ".join([text, *bounds]) if bounds else text


def _lookup(config: dict, path: list[str]) -> object:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config


def _rows(node: dict, path: list[str], config: dict, rows: list[tuple[str, str, str, str]]) -> None:
    key = ".".join(path)
    if path:
        default = _lookup(config, path)
        shown = "" if default is None or isinstance(default, dict) else f"`{json.dumps(default)}`"
        if len(shown) > 60:
            shown = shown[:57] + "...`"
        rows.append((f"`{key}`", _cell(_types(node)), shown, _cell(node.get("description", ""))))
    for name, child in node.get("properties", {}).items():
        _rows(child, [*path, name], config, rows)
    named = dict(node.get("patternProperties", {}))
    if isinstance(node.get("additionalProperties"), dict):
        named["<name>"] = node["additionalProperties"]
    for child in named.values():
        if "properties" in child:
            for name, grandchild in child["properties"].items():
                _rows(grandchild, [*path, "<name>", name], {}, rows)


def config_reference() -> str:
    """Every key of the schema with its type, its value in config.yaml and its description."""
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    rows: list[tuple[str, str, str, str]] = []
    _rows(schema, [], config, rows)
    lines = ["| key | type | default (`config.yaml`) | description |", "|---|---|---|---|"]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def presets() -> str:
    """Each preset with the comment block that opens it."""
    parts = []
    for path in sorted((ROOT / "presets").glob("*.yaml")):
        comment = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            comment.append(line[2:] if line.startswith("# ") else line[1:])
        parts.append(f"### `presets/{path.name}`\n\n```text\n" + "\n".join(comment) + "\n```")
    return "\n\n".join(parts)


def rule_graph() -> str:
    """The workflow's rules and their dependencies: ``snakemake --rulegraph mermaid-js``, as a Mermaid block."""
    done = subprocess.run([sys.executable, "-m", "snakemake", "all_figures", "--rulegraph", "mermaid-js",
                           "--quiet", "all"], cwd=ROOT, capture_output=True, text=True, check=True)
    graph = done.stdout[done.stdout.index("flowchart"):]  # past the YAML title block
    if "-->" not in graph:
        raise RuntimeError("snakemake --rulegraph gave no edges")
    return "```mermaid\n" + graph.strip() + "\n```"


def fit_options() -> str:
    """``qmri fit --help`` as the command prints it."""
    from qmri.cli import build_parser

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
        build_parser().parse_args(["fit", "--help"])
    return "```text\n" + printed.getvalue() + "```"


def _flatten(value: object, key: str = "") -> list[tuple[str, str]]:
    """Return ``(dotted key, value)`` for every leaf of a nested dict."""
    if isinstance(value, dict):
        return [row for name, inner in value.items() for row in _flatten(inner, f"{key}.{name}" if key else name)]
    return [(key, json.dumps(value) if isinstance(value, list) else str(value))]


def model_cards() -> str:
    """The model card of each network packaged in qmri, flattened into a table."""
    parts = []
    for path in sorted((ROOT / "src/qmri/estimators/networks/weights").glob("*.json")):
        table = "\n".join(f"| `{_cell(k)}` | {_cell(v)} |" for k, v in _flatten(json.loads(path.read_text())))
        parts.append(f"### `{path.stem}`\n\n| field | value |\n|---|---|\n{table}")
    return "\n\n".join(parts)


def performance() -> str:
    """One table per CPU kind from ``docs/measurements.csv``: what was measured, the value, the command."""
    with open(ROOT / "docs/measurements.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_cpu: dict[str, list[dict]] = {}
    for row in rows:
        by_cpu.setdefault(row["cpu"], []).append(row)
    parts = []
    for cpu, measured in by_cpu.items():
        lines = [f"### {cpu}", "", "| measured | value | command | revision, date |", "|---|---|---|---|"]
        lines += [f"| {_cell(r['what'])} | {_cell(r['value'])} | `{_cell(r['command'])}` | "
                  f"{_cell(r['revision'])}, {_cell(r['date'])} |" for r in measured]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def margins() -> str:
    """The audit's margins, one per kind of wording (``qmri.paper.audit.judges.MARGINS``)."""
    from qmri.paper.audit.judges import MARGINS

    rows = [f"| {_cell(m.wording)} | {_cell(m.quantity)} | {_cell(m.margin)} | {_cell(m.test)} |" for m in MARGINS]
    return "\n".join(["| wording | quantity | margin | test |", "|---|---|---|---|", *rows])


PARTS: dict[str, Callable[[], str]] = {
    "margins": margins,
    "config-reference": config_reference, "presets": presets, "rule-graph": rule_graph,
    "fit-options": fit_options, "model-cards": model_cards, "performance": performance,
}


def on_page_markdown(markdown: str, **kwargs) -> str:
    """Replace each marker with its generated part; an unknown marker stops the build."""

    def part(match: re.Match) -> str:
        name = match.group(1)
        if name not in PARTS:
            raise KeyError(f"unknown generated part {name!r} (known: {', '.join(PARTS)})")
        return PARTS[name]()

    return MARKER.sub(part, markdown)
