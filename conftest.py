"""Repository-wide pytest setup, and the opt-in zsbench plugin (installing zsbench changes no one else's test run)."""

from __future__ import annotations

import os
import tempfile

pytest_plugins = ["zsbench.pytest_plugin"]

# Tests never reach a model hub: an offline lookup fails at once instead of retrying for a minute.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Keep test caches (embeddings, generated procedural data) out of the user's ~/.cache unless asked otherwise.
os.environ.setdefault("ZSBENCH_CACHE_DIR", tempfile.mkdtemp(prefix="zsbench-test-cache-"))
