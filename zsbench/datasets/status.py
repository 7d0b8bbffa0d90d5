"""Which datasets are on disk under a ``--dataset_root`` template, and how to get the others.

Roots come from :func:`zsbench.datasets.roots.resolve_dataset_root`, the resolver ``zsbench eval`` uses, so both
commands agree on where a dataset is (with no template, the built-in ``shapes`` datasets are in the data cache).

``present`` means every path the spec requires exists (cheap checks only: image counts are verified when the
dataset is loaded); ``incomplete`` means the root exists but some required path is missing; ``missing`` means the
root does not exist, or, for a built-in dataset (whose root is a shared folder), that it has not been generated
yet. Annotation files that ``download=True`` can fetch are named in the advice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zsbench.datasets.roots import check_dataset_root_template, resolve_dataset_root


def _check(root: Path, required: tuple[str, ...]) -> list[str]:
    """The required entries (``a|b`` = either) that do not exist under ``root``."""
    return [entry for entry in required if not any((root / alt).exists() for alt in entry.split("|"))]


def dataset_status(root_template: str | None = None) -> list[dict[str, Any]]:
    """One row per registered dataset: name, task, path, status, missing, how to obtain.

    ``root_template`` is ``--dataset_root`` (``None``: not given, as ``zsbench eval`` without the flag).
    """
    from zsbench.datasets import get_spec, list_datasets

    if root_template is not None:
        check_dataset_root_template(root_template)  # one line before any work, not a traceback per dataset
    rows = []
    for name in list_datasets():  # list_datasets() loads the catalog first
        spec = get_spec(name)
        root = Path(resolve_dataset_root(name, root_template))
        missing = _check(root, spec.required)
        if spec.builtin and spec.required:
            # The root is a shared folder (the data cache) whose existence says nothing: the dataset's own
            # folder is either there (generated atomically, so complete) or not generated yet.
            status, missing = ("missing" if missing else "present"), [str(root / entry) for entry in missing]
        elif not root.exists():
            status, missing = "missing", [str(root)]
        else:
            status = "present" if not missing else "incomplete"
        fetchable = [f.name for f in spec.files if any(f.name in m.split("|") for m in missing)]
        how = spec.source
        if spec.builtin:
            how = f"`zsbench eval --dataset {name}` generates it; {how}"
        if fetchable:
            how = f"download=True fetches {', '.join(fetchable)}; {how}"
        rows.append(
            {
                "name": name,
                "task": spec.task,
                "path": str(root),
                "status": status,
                "missing": missing,
                "layout": spec.layout,
                "how_to_obtain": how,
            }
        )
    return rows


def format_status_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table: name, task, status, path; then one 'how to obtain' line per dataset not present."""
    header = ("dataset", "task", "status", "path")
    table = [header] + [(r["name"], r["task"], r["status"], r["path"]) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    todo = [r for r in rows if r["status"] != "present"]
    if todo:
        lines.append("")
        for r in todo:
            miss = f" (missing: {', '.join(r['missing'])})" if r["status"] == "incomplete" else ""
            lines.append(f"{r['name']}{miss}: expected {r['layout']}; {r['how_to_obtain']}")
    n_present = sum(r["status"] == "present" for r in rows)
    lines.append(f"{n_present}/{len(rows)} datasets present")
    return "\n".join(lines)


__all__ = ["dataset_status", "format_status_table"]
