"""DataComp's WILDS and fairness webdatasets (``djghosh/wds_<task>_test``): labels plus per-sample group metadata.

Each sample of these shards holds an image, its class (``.cls``) and a ``.npy`` row of metadata whose columns DataComp's
evaluators name (``zsbench.datasets.catalog.datacomp.GROUP_EVALS``: e.g. FMoW ``region, year, y``). DataComp reads
the rows with webdataset's default ``.npy`` decoder; here they are read with ``allow_pickle=False`` (data, never
code). The grouping columns must hold integers >= 0 (WILDS' ``CombinatorialGrouper`` refuses negative groups and
truncates fractions; a fraction here is refused), and a column with a fixed group count (FMoW's 6 regions) must stay
inside it. A sample without its row, a row of another length, or an unreadable row is one line naming the shard
and the sample.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zsbench.datasets.base import ClassificationData, DatasetSpec
from zsbench.datasets.catalog.datacomp import GROUP_EVALS, datacomp_folder
from zsbench.datasets.loaders import _common as c
from zsbench.datasets.loaders.webdataset import _index_shards, read_prompt_files, use_shard_templates
from zsbench.errors import DatasetNotFoundError


@dataclass
class GroupClassificationData(ClassificationData):
    """Classification data with DataComp's group metadata: ``metadata[i]`` is sample ``i``'s ``.npy`` row (float64,
    one column per ``metadata_fields`` entry); ``evaluator`` names DataComp's evaluator of the dataset."""

    metadata: Any = None
    metadata_fields: tuple[str, ...] = ()
    evaluator: str = ""


def shard_root(spec: DatasetSpec, root: Path, split: str) -> Path:
    """``root`` itself, or DataComp's ``<data_dir>/wds_<task>_test`` when ``root`` is that data dir."""
    if not (root / split / "nshards.txt").exists():
        inner = root / datacomp_folder(spec.name)
        if (inner / split / "nshards.txt").exists():
            return inner
    return root


def _metadata_row(sample: dict[str, Any], root: Path, n_fields: int, fields: tuple[str, ...]) -> Any:
    import numpy as np

    where = f"webdataset shard {root / sample['shard']} sample {sample['key']!r}"
    if "npy" not in sample:
        raise DatasetNotFoundError(
            f"{where} has no .npy group metadata member (DataComp's evaluator needs its {', '.join(fields)} row); "
            "re-download the shard (download_evalsets.py or zsbench download --collection datacomp)"
        )
    try:
        row = np.load(io.BytesIO(sample["npy"]), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:  # a pickled object array is a ValueError with allow_pickle=False
        raise DatasetNotFoundError(f"{where}: the .npy metadata member is unreadable ({e})") from e
    if row.dtype.kind not in "biuf" or row.ndim != 1 or len(row) != n_fields:
        raise DatasetNotFoundError(
            f"{where}: the .npy metadata row has shape {tuple(row.shape)} and dtype {row.dtype}, expected {n_fields} "
            f"numbers ({', '.join(fields)}); this is not DataComp's shard"
        )
    return row.astype(np.float64)


def check_group_column(name: str, root: Path, metadata: Any, fields: tuple[str, ...], field_name: str) -> None:
    """The grouping column ``field_name``: integers >= 0, and inside the dataset's fixed group count if it has one."""
    import numpy as np

    col = metadata[:, fields.index(field_name)] if len(metadata) else np.zeros(0)
    bad = np.flatnonzero((col < 0) | (col != np.floor(col)) | ~np.isfinite(col))
    if len(bad):
        raise DatasetNotFoundError(
            f"dataset {name!r} at {root}: sample {int(bad[0])} has {field_name} = {col[bad[0]]!r}; group values "
            "must be integers >= 0 (DataComp's WILDS grouper refuses negative groups)"
        )
    limit = dict(GROUP_EVALS[name].n_groups).get(field_name)
    if limit is not None and len(col) and int(col.max()) >= limit:
        i = int(np.argmax(col))
        raise DatasetNotFoundError(
            f"dataset {name!r} at {root}: sample {i} has unknown {field_name} group {int(col[i])}; the dataset has "
            f"{limit} ({field_name} 0..{limit - 1}); this is not DataComp's shard"
        )


def load_group_wds(
    root: Path, *, split: str = "test", language: str = "en", spec: DatasetSpec, **options: Any
) -> GroupClassificationData:
    import numpy as np

    c.check_options(spec, options)
    c.check_split(spec, split)
    root = shard_root(spec, Path(root), split)
    c.require_root(spec, root)
    group_eval = GROUP_EVALS[spec.name]
    samples, shard_info = _index_shards(root, split, options)
    missing = [s["key"] for s in samples if "image" not in s]
    if missing:
        raise DatasetNotFoundError(f"webdataset at {root}: samples without an image: {missing[:3]}")
    fields = group_eval.fields
    targets: list[int] = []
    rows = []
    for s in samples:
        if "cls" not in s:
            raise DatasetNotFoundError(f"webdataset shard {root / s['shard']} sample {s['key']!r} has no .cls member")
        try:
            targets.append(int(s["cls"].decode().strip()))
        except (ValueError, UnicodeDecodeError) as e:
            raise DatasetNotFoundError(
                f"webdataset shard {root / s['shard']}: the .cls member of sample {s['key']!r} is unreadable ({e})"
            ) from e
        rows.append(_metadata_row(s, root, len(fields), fields))
    metadata = np.stack(rows) if rows else np.zeros((0, len(fields)))
    images = c.ArchiveImageSet(root, [s["image"] for s in samples])
    opts = dict(options)
    names, templates = read_prompt_files(root, opts)
    bad = [i for i, t in enumerate(targets) if not 0 <= t < len(names)] if names else []
    if bad:
        raise DatasetNotFoundError(
            f"webdataset at {root}: sample {samples[bad[0]]['key']!r} has class {targets[bad[0]]}, outside the "
            f"{len(names)} classes of classnames.txt"
        )
    info = {"wds_dataset_type": "classification", "group_fields": list(fields), **shard_info}
    base = c.classification(
        spec, root, split, language, images, targets, opts, dataset_classnames=names or None, info=info
    )
    use_shard_templates(base, templates, spec, opts)
    data = GroupClassificationData(
        base.images,
        base.targets,
        base.classnames,
        base.templates,
        info=base.info,
        metadata=metadata,
        metadata_fields=fields,
        evaluator=group_eval.evaluator,
    )
    for field_name in group_eval.group_by:
        check_group_column(spec.name, root, metadata, fields, field_name)
    return data


__all__ = ["GroupClassificationData", "check_group_column", "load_group_wds", "shard_root"]
