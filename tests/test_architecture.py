"""The design, checked: a thin CLI over the public API, capabilities that depend one way,
small modules, and a public API whose every name resolves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

import simulator

PACKAGE = ROOT / "simulator"
MAX_LINES = 400
# What each capability may import from the others (besides errors, options, seeds,
# redaction, runtime, signing and schema, which everything may use).
ALLOWED = {
    "audit": {
        "generation",
        "reports",
        "sending.client",
        "sending.faults",
        "sending.parsing",
        "sending.schedule",
    },
    "generation": set(),
    "reports": set(),
    "receiving": {"sending.schedule"},
    "sending": {"generation", "reports", "receiving"},
    "integrations": {"generation", "reports", "sending"},
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def test_the_cli_imports_only_the_public_api_and_its_own_modules():
    for path in (PACKAGE / "cli").glob("*.py"):
        for name in _imports(path):
            if name.startswith("simulator."):
                top = name.split(".")[1]
                assert top in ("cli", "errors") or (
                    name.count(".") == 1 and hasattr(simulator, name.split(".")[1])
                ), f"{path.name} imports {name}"


def test_click_stays_in_the_cli():
    for path in _modules():
        if "cli" not in path.relative_to(PACKAGE).parts:
            assert "click" not in _imports(path), path


@pytest.mark.parametrize("capability", sorted(ALLOWED))
def test_capabilities_depend_one_way(capability):
    others = set(ALLOWED) - {capability}
    for path in (PACKAGE / capability).rglob("*.py"):
        for name in _imports(path):
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "simulator" and parts[1] in others:
                allowed = ALLOWED[capability]
                assert parts[1] in allowed or ".".join(parts[1:3]) in allowed, (
                    f"{path.relative_to(PACKAGE)} imports {name}"
                )


def test_no_module_is_over_400_lines():
    for path in _modules():
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"


def test_every_public_name_resolves():
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None, name
