"""Import hygiene: the three registries stay independent, leaf modules stay leaves, no shim modules, and listing
things does not import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "zsbench"
INDEPENDENT = ("models", "datasets", "tasks")
# Leaf modules: what every layer may import, so they import (almost) nothing from zsbench themselves.
LEAVES = {"paths.py": {"zsbench.errors"}, "errors.py": set()}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _zsbench_imports(path: Path, source: str | None = None) -> set[str]:
    """Every zsbench module ``path`` imports, at any depth (lazy imports in functions count too).

    ``from zsbench import x`` counts as ``zsbench.x`` and relative imports are resolved, so neither hides an
    import from the checks below.
    """
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    names: set[str] = set()
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            if base == "zsbench":
                names.update(f"zsbench.{a.name}" for a in node.names)
            elif base.startswith("zsbench."):
                names.add(base)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name == "zsbench" or a.name.startswith("zsbench."))
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


def test_leaf_modules_import_only_errors():
    """``zsbench.paths`` (cache folder, path templates) is shared by the engine, datasets, CLI and plugin: a leaf."""
    for name, allowed in LEAVES.items():
        path = PKG / name
        assert path.is_file(), f"{path} is missing"
        extra = _zsbench_imports(path) - allowed
        assert not extra, f"{path.relative_to(PKG)} imports {sorted(extra)}; a leaf may import only {sorted(allowed)}"


def test_import_scanner_sees_every_form():
    """The scanner above must not miss ``from zsbench import x``, relative or function-level imports."""
    src = "from zsbench import engine\nfrom ..base import X\ndef f():\n    import zsbench.models.tiny\n"
    found = _zsbench_imports(PKG / "datasets" / "loaders" / "probe.py", source=src)
    assert found == {"zsbench.engine", "zsbench.datasets.base", "zsbench.models.tiny"}


def test_no_shim_modules():
    """A module whose whole body is imports (plus ``__all__``) is a shim: import from the real module instead."""
    shims = []
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "__init__.py":  # a package's __init__ re-exports its public names on purpose
            continue
        body = ast.parse(path.read_text(encoding="utf-8")).body
        real = [
            node
            for node in body
            if not isinstance(node, (ast.Import, ast.ImportFrom))
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))  # docstring
            and not (isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets))
        ]
        if not real:
            shims.append(str(path.relative_to(PKG)))
    assert not shims, f"shim modules (only re-exports): {shims}"


def test_nothing_imports_the_cli_or_the_plugin():
    for path in PKG.rglob("*.py"):
        if path.name in ("cli.py", "__main__.py", "pytest_plugin.py"):
            continue
        for module in _zsbench_imports(path):
            assert module not in ("zsbench.cli", "zsbench.pytest_plugin"), f"{path} imports {module}"


def test_the_plugin_uses_only_the_engines_public_api():
    """The pytest plugin is a thin layer: it imports the ``zsbench.engine`` package (its public API) and errors."""
    imports = _zsbench_imports(PKG / "pytest_plugin.py")
    assert imports <= {"zsbench.engine", "zsbench.errors"}, sorted(imports)


def _callers(function: str) -> set[str]:
    """Modules of the run path (engine, CLI, plugin) that call ``function(...)`` by name."""
    found = set()
    for path in [*(PKG / "engine").rglob("*.py"), PKG / "cli.py", PKG / "pytest_plugin.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == function:
                    found.add(str(path.relative_to(PKG)))
    return found


def test_one_place_loads_models_and_one_loads_datasets_for_a_run():
    assert _callers("load_model") == {"engine/models.py"}
    # cli.py's export-wds reads a dataset to rewrite it, which is not an evaluation run
    assert _callers("load_dataset") - {"cli.py"} == {"engine/runner.py"}


def test_import_and_registries_stay_light():
    code = (
        "import sys, zsbench, zsbench.models, zsbench.tasks, zsbench.datasets, zsbench.engine, zsbench.cli;"
        "import zsbench.testing.fake, zsbench.testing.replicas, zsbench.testing.shared;"
        "zsbench.list_datasets(); zsbench.list_model_types();"
        "heavy = [m for m in ('torch', 'open_clip', 'transformers', 'torchvision') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing zsbench (engine, CLI, test helpers) and listing registries imported: {out}"
