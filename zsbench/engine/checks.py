"""Checks that run before any model loads or image is encoded: each bad setting is one line naming it.

A run that would fail after an hour of encoding (an output folder that cannot be written, a classifier file that
is not one) fails here instead, in a second.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zsbench.datasets.roots import check_dataset_root_template
from zsbench.engine.config import FINGERPRINT_MODES, EvalConfig
from zsbench.engine.plan import OUTPUT_FIELDS
from zsbench.errors import ZsbenchError
from zsbench.paths import check_template


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(config: EvalConfig) -> None:
    """Numbers, modes and templates of ``config``."""
    if not _is_int(config.batch_size) or config.batch_size < 1:
        raise ZsbenchError(f"--batch_size must be an integer >= 1, got {config.batch_size!r}")
    if not _is_int(config.num_workers) or config.num_workers < 0:
        raise ZsbenchError(
            f"--num_workers must be an integer >= 0 (0: load in the main process), got {config.num_workers!r}"
        )
    recall_k = list(config.recall_k) if isinstance(config.recall_k, (list, tuple)) else [config.recall_k]
    if not recall_k or not all(_is_int(k) and k >= 1 for k in recall_k):
        raise ZsbenchError(f"--recall_k takes integers >= 1 (e.g. 1 5 10), got {config.recall_k!r}")
    if config.fingerprint not in FINGERPRINT_MODES:
        raise ZsbenchError(f"--fingerprint must be one of {', '.join(FINGERPRINT_MODES)}, got {config.fingerprint!r}")
    check_template(config.output, "--output", OUTPUT_FIELDS)
    if config.dataset_root is not None:
        check_dataset_root_template(config.dataset_root)


def check_writable_file(path: str | os.PathLike[str], flag: str) -> None:
    """``path`` can be created or replaced: not a folder, and its nearest existing ancestor is a writable folder.

    Catches ``--output somefile.txt/x.json`` (a regular file where a folder should be) and a read-only or
    forbidden folder. ``os.access`` reports a read-only file system even to root.
    """
    p = Path(os.path.abspath(path))
    if p.is_dir():
        raise ZsbenchError(f"{flag} {path} is a folder; give a file path")
    ancestor = p.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    # exists() is False for a path below a regular file (ENOTDIR), so the walk stops at that file.
    if not ancestor.is_dir():
        raise ZsbenchError(f"{flag} {path} cannot be created: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ZsbenchError(f"{flag} {path} cannot be written: folder {ancestor} is not writable; choose another path")


def check_output_file(path: str | os.PathLike[str]) -> None:
    """An ``--output`` path: writable, and if it exists, a result file whose records a new record can join."""
    from zsbench.engine.results import existing_records

    check_writable_file(path, "--output")
    existing_records(Path(path))  # raises OutputError for a file that is not a result file


def load_classifier(path: str | os.PathLike[str]) -> Any:
    """A ``--load_clfs`` file: a finite 2-D float tensor (embedding dim x classes), as ``--save_clf`` writes.

    Read with ``weights_only=True``: a file that needs arbitrary code to load is refused, not run.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise ZsbenchError(f"--load_clfs {path} does not exist or is not a file")
    try:
        tensor = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors, truncated archives, foreign formats: all the same to the user
        raise ZsbenchError(
            f"--load_clfs {path} is not a classifier saved by --save_clf "
            f"(refused by torch.load with weights_only=True: {_load_error_reason(e)})"
        ) from e
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2 or not tensor.is_floating_point():
        what = f"a {tensor.ndim}-D {tensor.dtype} tensor" if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise ZsbenchError(
            f"--load_clfs {path} holds {what}, not a 2-D float tensor (embedding dim x classes) as --save_clf writes"
        )
    if tensor.numel() == 0 or not bool(torch.isfinite(tensor).all()):
        raise ZsbenchError(f"--load_clfs {path} is empty or holds NaN/inf values; save the classifier again")
    return tensor


def _load_error_reason(error: Exception) -> str:
    """The specific cause inside torch's multi-paragraph weights_only message, on one line.

    Never torch's advice to retry with weights_only turned off: that would run whatever code the file carries.
    """
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0].split(". ")[0] if lines else type(error).__name__
    return reason[:200]


def load_classifiers(paths: list[str]) -> Any:
    """The mean of the ``--load_clfs`` classifiers (CLIP_benchmark: a plain mean, no renormalisation)."""
    import torch

    tensors = [load_classifier(p) for p in paths]
    for p, t in zip(paths[1:], tensors[1:]):
        if (t.shape, t.dtype) != (tensors[0].shape, tensors[0].dtype):
            raise ZsbenchError(
                f"--load_clfs {p} is a {tuple(t.shape)} {t.dtype} tensor but {paths[0]} is "
                f"{tuple(tensors[0].shape)} {tensors[0].dtype}; pass classifiers of one model and dataset"
            )
    return torch.stack(tensors).mean(0)
