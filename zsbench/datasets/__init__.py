"""Dataset registry: ``--dataset`` name -> :class:`DatasetSpec`. Specs are data; loaders are imported lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zsbench._registry import Registry
from zsbench.datasets.base import (
    CLASSIFICATION,
    RETRIEVAL,
    ClassificationData,
    DatasetData,
    DatasetSpec,
    RemoteFile,
    RetrievalData,
)
from zsbench.datasets.roots import resolve_dataset_root
from zsbench.errors import ZsbenchError

DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register_dataset(spec: DatasetSpec, aliases: tuple[str, ...] = ()) -> DatasetSpec:
    DATASETS.register(spec.name, spec, aliases=aliases)
    return spec


def get_spec(name: str) -> DatasetSpec:
    """The spec for ``name``; ``wds/<name>`` and ``tfds/<builder>`` names get the webdataset / TFDS spec."""
    _ensure_catalog()
    if name.startswith("wds/"):
        from zsbench.datasets.loaders.webdataset import wds_spec

        return wds_spec(name)
    if name.startswith("tfds/"):
        from zsbench.datasets.loaders.tfds import tfds_spec

        return tfds_spec(name)
    return DATASETS.get(name)


def list_datasets() -> list[str]:
    _ensure_catalog()
    return DATASETS.names()


def load_dataset(
    name: str, root: str | Path, *, split: str = "test", language: str = "en", **options: Any
) -> DatasetData:
    """Load split ``split`` of dataset ``name`` from ``root`` with prompts or captions in ``language``."""
    from zsbench._registry import resolve_lazy

    spec = get_spec(name)
    loader = resolve_lazy(spec.loader)
    revision = options.pop("revision", None)
    hub = None
    if isinstance(root, str) and "://" in root:  # a URL (Path would fold its '//'): wds/ on the HF hub, fetched
        from zsbench.datasets.hub import localize_root

        root, hub = localize_root(spec, root, split, {**options, "revision": revision})
    elif revision:
        raise ZsbenchError(f"--revision {revision!r} applies to a --dataset_root URL on the HF hub, not to {root}")
    data = loader(Path(root), split=split, language=language, spec=spec, **options)
    if hub is not None:
        data.info["hub"] = hub  # the commit read and every file's sha256: the result says exactly what was read
    return data


_catalog_loaded = False


def _ensure_catalog() -> None:
    # Catalog modules hold specs only (no torch), so importing them is cheap.
    global _catalog_loaded
    if not _catalog_loaded:
        _catalog_loaded = True
        import zsbench.datasets.catalog  # noqa: F401


__all__ = [
    "CLASSIFICATION",
    "RETRIEVAL",
    "ClassificationData",
    "DATASETS",
    "DatasetSpec",
    "RemoteFile",
    "RetrievalData",
    "get_spec",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "resolve_dataset_root",
]
