"""Spec data shared by the catalog files: downloadable files and the paths ``zsbench datasets`` checks.

Kept free of heavy imports: the catalog imports it at registration time.
"""

from __future__ import annotations

from dataclasses import dataclass

from zsbench.datasets.base import DatasetSpec


@dataclass(frozen=True)
class RemoteFile:
    """A file that ``download=True`` fetches into the dataset root.

    ``name`` is the path under the root; ``sha256`` is checked when given (empty = unknown upstream digest);
    ``languages`` lists the languages that need the file (empty = all).
    """

    name: str
    url: str
    sha256: str = ""
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class CatalogSpec(DatasetSpec):
    """A :class:`DatasetSpec` plus ``files`` (fetched by ``download=True``) and ``required`` paths.

    ``required`` entries are paths under the root that ``zsbench datasets`` checks (``a|b``: either one).
    ``sizes`` may hold ``"<split>@<lang>"`` / ``"<split>@<lang>/captions"`` keys where a language changes the
    split (COCO-CN is 1000 images, the English Karpathy test 5000).
    """

    files: tuple[RemoteFile, ...] = ()
    required: tuple[str, ...] = ()
