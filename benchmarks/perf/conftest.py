"""Speed suite setup: data once per session, and the ratio table at the end (also written as results.json)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def perf_data() -> dict[str, Any]:
    from make_data import ensure_data

    return ensure_data()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from perf_common import RESULTS, format_table, write_results

    if not RESULTS:
        return
    from make_data import default_dir

    out = Path(os.environ.get("ZSBENCH_PERF_RESULTS", default_dir() / "results.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_results(out, RESULTS)
    terminalreporter.write_sep("=", "zsbench speed ratios")
    terminalreporter.write_line(format_table(RESULTS))
    terminalreporter.write_line(f"(written to {out})")
