"""Repository-wide pytest setup. The zsbench plugin itself is registered by the package (pytest11 entry point)."""

from __future__ import annotations

import os
import tempfile

# Tests never reach a model hub: an offline lookup fails at once instead of retrying for a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Keep test caches (embeddings, generated procedural data) out of the user's ~/.cache unless asked otherwise.
os.environ.setdefault("ZSBENCH_CACHE_DIR", tempfile.mkdtemp(prefix="zsbench-test-cache-"))
