"""Import hygiene: the three registries stay independent, and listing things does not import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "zsbench"
INDEPENDENT = ("models", "datasets", "tasks")


def _zsbench_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("zsbench"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("zsbench"))
    return names


def test_models_datasets_tasks_do_not_import_each_other():
    problems = []
    for area in INDEPENDENT:
        for path in (PKG / area).rglob("*.py"):
            for module in _zsbench_imports(path):
                parts = module.split(".")
                if len(parts) > 1 and parts[1] in INDEPENDENT and parts[1] != area:
                    problems.append(f"{path.relative_to(PKG)} imports {module}")
                if len(parts) > 1 and parts[1] in ("engine", "cli", "pytest_plugin"):
                    problems.append(f"{path.relative_to(PKG)} imports {module}")
    assert not problems, "\n".join(problems)


def test_nothing_imports_the_cli_or_the_plugin():
    for path in PKG.rglob("*.py"):
        if path.name in ("cli.py", "__main__.py", "pytest_plugin.py"):
            continue
        for module in _zsbench_imports(path):
            assert module not in ("zsbench.cli", "zsbench.pytest_plugin"), f"{path} imports {module}"


def test_import_and_registries_stay_light():
    code = (
        "import sys, zsbench, zsbench.models, zsbench.tasks, zsbench.datasets;"
        "zsbench.list_datasets(); zsbench.list_model_types();"
        "heavy = [m for m in ('torch', 'open_clip', 'transformers', 'torchvision') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing zsbench and listing registries imported: {out}"
