"""Which datasets are on disk under a ``--dataset_root`` template, and how to get the others.

Roots come from :func:`zsbench.datasets.roots.resolve_dataset_root`, the resolver ``zsbench eval`` uses, so both
commands agree on where a dataset is (with no template, the built-in ``shapes`` datasets are in the data cache).

``present`` means every path the spec requires exists and nothing cheap to check is wrong (image counts are only
verified when the dataset is loaded); ``incomplete`` means the root exists but a required path is missing, a
required file is empty or a required folder has nothing in it, or a catalog file with a known sha256 (annotation
files, small: hashed here) has other bytes; ``missing`` means the root does not exist, or, for a built-in dataset
(whose root is a shared folder), that it has not been generated yet. Annotation files that ``download=True`` or
``zsbench datasets --download`` can fetch are named in the advice.

Rows are grouped by CLIP_benchmark's collections (``--dataset vtab`` ...), passed in by the caller (the collections
live in the engine, which this package must not import). A name that is in several collections is listed once,
under the first one in the collections' order, and its row says which others hold it; names in none are "other".
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zsbench.datasets.roots import check_dataset_root_template, resolve_dataset_root
from zsbench.errors import ZsbenchError

OTHER = "other"
# Catalog files with a sha256 are hashed for the status only up to this size (annotation files are far smaller).
_HASH_LIMIT = 256 << 20


def _check(root: Path, required: tuple[str, ...]) -> list[str]:
    """The required entries (``a|b`` = either) that do not exist under ``root``."""
    return [entry for entry in required if not any((root / alt).exists() for alt in entry.split("|"))]


def _damaged(root: Path, spec: Any) -> list[str]:
    """Cheap signs of a broken copy: empty required files or folders, catalog files whose sha256 differs."""
    from zsbench.paths import file_sha256

    problems = []
    for entry in spec.required:
        for alt in entry.split("|"):
            path = root / alt
            if path.is_file() and path.stat().st_size == 0:
                problems.append(f"{path} is empty")
            elif path.is_dir():
                with os.scandir(path) as it:
                    if next(it, None) is None:
                        problems.append(f"{path} is an empty folder")
    for rf in spec.files:
        path = root / rf.name
        if rf.sha256 and path.is_file() and path.stat().st_size <= _HASH_LIMIT and file_sha256(path) != rf.sha256:
            problems.append(f"{path} is not the catalog's file (sha256 differs): delete it and fetch it again")
    return problems


def collection_of(names: Sequence[str], collections: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """name -> the collections that hold it, in the collections' order (empty list: none)."""
    out: dict[str, list[str]] = {name: [] for name in names}
    for group, members in collections.items():
        for name in members:
            if name in out and group not in out[name]:
                out[name].append(group)
    return out


def _ordered_names(
    names: Sequence[str], collections: Mapping[str, Sequence[str]], only: str | None
) -> list[tuple[str, str]]:
    """(group shown, name): each name once under its first collection, collection order inside a group."""
    if only is not None and only != OTHER and only not in collections:
        valid = ", ".join([*collections, OTHER])
        raise ZsbenchError(f"unknown collection {only!r} for --collection; valid choices: {valid}")
    known = set(names)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for group, members in collections.items():
        for name in members:
            if name not in known:
                continue
            if only == group:
                out.append((group, name))  # --collection lists every member, whichever group shows it first
            elif only is None and name not in seen:
                out.append((group, name))
            seen.add(name)
    if only in (None, OTHER):
        out += [(OTHER, name) for name in names if name not in seen]
    return out


def dataset_status(
    root_template: str | None = None,
    *,
    collections: Mapping[str, Sequence[str]] | None = None,
    collection: str | None = None,
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per registered dataset: name, collection, task, path, status, problems, how to obtain.

    ``root_template`` is ``--dataset_root`` (``None``: not given, as ``zsbench eval`` without the flag).
    ``collections`` (CLIP_benchmark's, ``zsbench.engine.plan.DATASET_COLLECTIONS``) groups and orders the rows;
    ``collection`` keeps one of them (or ``"other"``); ``names`` keeps only those datasets.
    """
    from zsbench.datasets import get_spec, list_datasets

    if root_template is not None:
        check_dataset_root_template(root_template)  # one line before any work, not a traceback per dataset
    registered = list_datasets()  # list_datasets() loads the catalog first
    if names is not None:
        registered = [get_spec(n).name for n in names]  # an unknown name is one line naming the valid ones
    groups = dict(collections or {})
    member_of = collection_of(registered, groups)
    rows = []
    for group, name in _ordered_names(registered, groups, collection):
        spec = get_spec(name)
        root = Path(resolve_dataset_root(name, root_template))
        missing = _check(root, spec.required)
        problems: list[str] = []
        if spec.builtin and spec.required:
            # The root is a shared folder (the data cache) whose existence says nothing: the dataset's own
            # folder is either there (generated atomically, so complete) or not generated yet.
            status, missing = ("missing" if missing else "present"), [str(root / entry) for entry in missing]
        elif not root.exists():
            status, missing = "missing", [str(root)]
        else:
            problems = _damaged(root, spec)
            status = "present" if not missing and not problems else "incomplete"
        fetchable = [f.name for f in spec.files if any(f.name in m.split("|") for m in missing)]
        how = spec.source
        if spec.builtin:
            how = f"`zsbench eval --dataset {name}` generates it; {how}"
        if fetchable:
            how = f"download=True fetches {', '.join(fetchable)} (as does zsbench datasets --download); {how}"
        rows.append(
            {
                "name": name,
                "collection": group,
                "collections": member_of[name],
                "task": spec.task,
                "path": str(root),
                "status": status,
                "missing": missing,
                "problems": problems,
                "layout": spec.layout,
                "how_to_obtain": how,
                "downloadable": [f.name for f in spec.files],
            }
        )
    return rows


def format_status_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table per collection (name, task, status, path, other collections); then one 'how to obtain'
    line per dataset not present, and the count present."""
    header = ("dataset", "task", "status", "path", "also in")

    def cells(r: dict[str, Any]) -> tuple[str, ...]:
        also = [c for c in r.get("collections", []) if c != r.get("collection")]
        return (r["name"], r["task"], r["status"], r["path"], ", ".join(also))

    table = [header] + [cells(r) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()

    lines: list[str] = []
    group = None
    for r in rows:
        if r.get("collection", OTHER) != group:
            group = r.get("collection", OTHER)
            n = sum(x.get("collection", OTHER) == group for x in rows)
            lines += ([""] if lines else []) + [f"{group} ({n})", line(header), line(["-" * w for w in widths])]
        lines.append(line(cells(r)))
    todo = [r for r in rows if r["status"] != "present"]
    if todo:
        lines.append("")
        for r in todo:
            why = list(r["missing"]) + list(r.get("problems", [])) if r["status"] == "incomplete" else []
            miss = f" (missing: {', '.join(why)})" if why else ""
            lines.append(f"{r['name']}{miss}: expected {r['layout']}; {r['how_to_obtain']}")
    n_present = sum(r["status"] == "present" for r in rows)
    lines.append(f"{n_present}/{len(rows)} datasets present")
    return "\n".join(lines)


def fetch_public_files(rows: list[dict[str, Any]], *, progress: bool = False) -> Iterator[dict[str, Any]]:
    """Download the catalog files (``spec.files``) that are missing under each row's path; one result per file.

    Each download is checked by its sha256 where the catalog has one, else by the length the server announces;
    a file with neither is refused (:func:`zsbench.datasets.loaders.download.download`). A failure is reported
    in its result (``status: "failed"``) and the other files are still tried.
    """
    from zsbench.datasets import get_spec
    from zsbench.datasets.loaders.download import download

    for row in rows:
        spec = get_spec(row["name"])
        root = Path(row["path"])
        for rf in spec.files:
            target = root / rf.name
            result = {"dataset": row["name"], "file": rf.name, "path": str(target), "url": rf.url}
            if target.exists():
                yield result | {"status": "present", "detail": "already there"}
                continue
            try:
                download(rf.url, target, rf.sha256 or None, progress=progress)
            except ZsbenchError as e:
                yield result | {"status": "failed", "detail": str(e)}
                continue
            check = "sha256 verified" if rf.sha256 else "length verified (the catalog has no sha256)"
            yield result | {"status": "fetched", "detail": f"{target.stat().st_size} bytes, {check}"}


__all__ = ["OTHER", "collection_of", "dataset_status", "fetch_public_files", "format_status_table"]
