"""Locate ``../shared`` (reference data that CI has and a user's clone does not) and skip cleanly without it."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_root() -> Path:
    """``$ZSBENCH_SHARED`` if set, else the ``shared`` folder beside the repository."""
    return Path(os.environ.get("ZSBENCH_SHARED", REPO_ROOT.parent / "shared"))


def require_shared(relpath: str) -> Path:
    """Path of ``shared/<relpath>``; skips the calling test, naming the missing file, when it is absent."""
    import pytest

    path = shared_root() / relpath
    if not path.exists():
        pytest.skip(
            f"needs {path} (reference data from the project's shared folder; set ZSBENCH_SHARED to its location)"
        )
    return path
