"""pytest plugin: the README's results (and the CPU cases) as parametrized regression cases.

Cases come from snapshot files under ``expected/`` (see :mod:`zsbench.engine.snapshots`). Each case runs the
real evaluation through session-scoped fixtures: one engine (a model loads once per worker)
with one embedding cache (so the five ImageNet-1k language cases encode the 50,000 images once). Heavy cases
carry the ``gpu`` marker. ``--snapshot-update`` (syrupy's flag) rewrites the ``expected`` block of the cases that
ran; zsbench writes the files itself because syrupy's cleanup would delete the snapshots of skipped cases.

A snapshot file that is not a valid case (bad JSON, a missing key, a negative tolerance, ...) becomes one case that
errors at setup with a message naming the file and the problem; every other case runs as usual.

The plugin is opt-in, so installing zsbench changes no one else's test run: this repository's ``conftest.py`` loads it
(``pytest_plugins = ["zsbench.pytest_plugin"]``); elsewhere use that line or ``pytest -p zsbench.pytest_plugin``.
Speed cases are skipped by their ``perf`` marker alone, and the Markdown report is written only when asked
(``--zs-report PATH`` or the ``zs_report`` ini option).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from zsbench.engine import (
    Case,
    Engine,
    EvalConfig,
    InvalidCase,
    Plan,
    build_plan,
    compare_case,
    marker_name,
    resolve_weights,
    scan_cases,
    update_snapshot,
    write_report,
)
from zsbench.errors import CheckpointError, DatasetNotFoundError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zsbench", "zsbench regression cases")
    group.addoption(
        "--zs-pretrained-dir",
        default=os.environ.get("ZSBENCH_PRETRAINED_DIR", "pretrained"),
        help="folder with the checkpoints (default ./pretrained, env ZSBENCH_PRETRAINED_DIR)",
    )
    group.addoption(
        "--zs-data-root",
        default=os.environ.get("ZSBENCH_DATA_ROOT", "data"),
        help="folder with the datasets (default ./data, env ZSBENCH_DATA_ROOT)",
    )
    group.addoption(
        "--zs-expected-dir",
        default=os.environ.get("ZSBENCH_EXPECTED_DIR", "expected"),
        help="snapshot folder (default ./expected)",
    )
    group.addoption(
        "--zs-tolerance",
        type=float,
        default=None,
        help="absolute tolerance for every metric (default: each snapshot's, 0.002)",
    )
    group.addoption("--zs-batch-size", type=int, default=int(os.environ.get("ZSBENCH_BATCH_SIZE", "64")))
    group.addoption("--zs-num-workers", type=int, default=int(os.environ.get("ZSBENCH_NUM_WORKERS", "4")))
    group.addoption("--zs-precision", default=os.environ.get("ZSBENCH_PRECISION", "auto"))
    group.addoption(
        "--zs-cache-dir",
        default=os.environ.get("ZSBENCH_CACHE_DIR"),
        help="embedding cache folder (default ~/.cache/zsbench)",
    )
    group.addoption(
        "--zs-report",
        default=os.environ.get("ZSBENCH_REPORT"),
        help="write a Markdown report of the cases that ran here (default: the zs_report ini option, else none)",
    )
    parser.addini("zs_report", "Markdown report of the regression cases (default: none)", default="")
    group.addoption("--zs-perf", action="store_true", help="run the pytest-benchmark speed cases (benchmarks/perf)")


_CASES_KEY = pytest.StashKey[list]()


def snapshot_entries(config: pytest.Config) -> list[Case | InvalidCase]:
    """Every snapshot file under --zs-expected-dir, read and validated once per session."""
    if _CASES_KEY not in config.stash:
        config.stash[_CASES_KEY] = scan_cases(config.getoption("--zs-expected-dir"))
    return config.stash[_CASES_KEY]


def pytest_configure(config: pytest.Config) -> None:
    tolerance = config.getoption("--zs-tolerance")
    # nan would fail every metric, inf (or >= 1) pass every one, a negative value fail all: none is a tolerance.
    if tolerance is not None and not (math.isfinite(tolerance) and 0 <= tolerance < 1):
        raise pytest.UsageError(f"--zs-tolerance must be a finite number >= 0 and < 1, got {tolerance}")
    for name, text in [
        ("gpu", "heavy case: needs a GPU, real weights and data (the paper reproductions)"),
        ("zs_case", "a zsbench regression case generated from expected/"),
        ("perf", "pytest-benchmark speed case; runs with --zs-perf"),
    ]:
        config.addinivalue_line("markers", f"{name}: {text}")
    # Markers named by the snapshots (model family, task, dataset) so -m "gpu and internvl_c and retrieval" works.
    for case in snapshot_entries(config):
        for m in case.markers:
            config.addinivalue_line("markers", f"{m}: zsbench case marker")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--zs-perf"):
        return
    skip = pytest.mark.skip(reason="speed benchmark: run with --zs-perf (see README, 'Speed')")
    for item in items:
        # The marker, not item.keywords: keywords also hold folder names, and a test under any perf/ folder would skip.
        if item.get_closest_marker("perf") is not None:
            item.add_marker(skip)


def zs_case_params(config: pytest.Config) -> list[Any]:
    """One ``pytest.param`` per snapshot file, with markers and an xdist group per model (invalid files too: the
    ``zs_case`` fixture fails them one by one)."""
    params = []
    for case in snapshot_entries(config):
        marks = [getattr(pytest.mark, m) for m in case.markers]
        if isinstance(case, Case):
            marks.append(pytest.mark.xdist_group(marker_name(case.model_key)))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "zs_case" in metafunc.fixturenames:
        metafunc.parametrize("zs_case", zs_case_params(metafunc.config), indirect=True)


@pytest.fixture
def zs_case(request: pytest.FixtureRequest) -> Case:
    """The case of this test; an invalid snapshot file errors here, naming the file and what is wrong."""
    case = request.param
    if isinstance(case, InvalidCase):
        outcome = {"id": case.id, "model": "invalid snapshots", "status": "INVALID", "reason": case.error}
        request.node.user_properties.append(("zsbench_outcome", outcome))
        pytest.fail(case.error, pytrace=False)
    return case


def worker_device() -> str | None:
    """Under pytest-xdist, worker i uses GPU i modulo the visible GPUs; None lets zsbench choose."""
    import torch

    if not torch.cuda.is_available():
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw") or 0) % torch.cuda.device_count()
    return f"cuda:{index}"


@pytest.fixture(scope="session")
def zs_engine(pytestconfig: pytest.Config) -> Engine:
    """One engine per worker session: one model pool (each model loads once) and one embedding cache."""
    config = EvalConfig(
        batch_size=pytestconfig.getoption("--zs-batch-size"),
        num_workers=pytestconfig.getoption("--zs-num-workers"),
        precision=pytestconfig.getoption("--zs-precision"),
        device=worker_device(),
        cache_dir=pytestconfig.getoption("--zs-cache-dir"),
        progress=False,
        verbose=False,
        write_results=False,
    )
    return Engine(config)


@pytest.fixture
def zs_pretrained(zs_case: Case, pytestconfig: pytest.Config) -> Path:
    """The case's checkpoint path; skips, naming the file and where to get it, when it is absent."""
    try:
        path = resolve_weights(zs_case.pretrained, pytestconfig.getoption("--zs-pretrained-dir"))
    except CheckpointError as e:  # a built-in checkpoint that cannot be built here (e.g. no tokenizer file)
        pytest.skip(str(e))
    if not path.exists():
        how = f"get them from {zs_case.pretrained_source}" if zs_case.pretrained_source else "see pretrained/README.md"
        pytest.skip(f"missing weights {path}: {how} (or pass --zs-pretrained-dir)")
    return path


@pytest.fixture
def zs_data_root(pytestconfig: pytest.Config) -> Path:
    return Path(pytestconfig.getoption("--zs-data-root"))


def case_plan(case: Case, engine: Engine, pretrained: Path, data_root: Path) -> Plan:
    """The one-job plan of ``case``, built by the engine from the session's settings and the case's own."""
    config = replace(
        engine.config,
        model_type=case.model_type,
        models=[(case.model, str(pretrained))],
        datasets=[(case.dataset, case.language)],
        languages=[case.language],
        task=case.task,
        split=case.split,
        # None: the built-in datasets' own place (zsbench's data cache), as `zsbench eval` finds them
        dataset_root=None if case.dataset_root is None else str(data_root / case.dataset_root),
        recall_k=list(case.recall_k or engine.config.recall_k),
    )
    return build_plan(config)


def _is_incomplete(error: Exception) -> bool:
    # A partially extracted dataset must fail loudly, not skip: it would otherwise hide a wrong number.
    return "incomplete" in str(error).lower()


def run_case(case: Case, engine: Engine, pretrained: Path, data_root: Path) -> dict[str, Any]:
    """Evaluate one case through the engine; a missing dataset skips (naming it) before the model loads."""
    try:
        [record] = engine.run_jobs(case_plan(case, engine, pretrained, data_root).jobs)
    except DatasetNotFoundError as e:
        if _is_incomplete(e):
            raise
        pytest.skip(f"missing dataset: {e} (or pass --zs-data-root)")
    return record


def check_case(request: pytest.FixtureRequest, case: Case, record: dict[str, Any]) -> None:
    """Compare with the snapshot (or rewrite it under --snapshot-update) and record the outcome for the report."""
    config = request.config
    measured = record["metrics"]
    if config.getoption("update_snapshots", default=False):
        case = update_snapshot(case, measured, record.get("zsbench", {}))
    result = compare_case(case, measured, config.getoption("--zs-tolerance"))
    # user_properties travel to the xdist controller, which writes the report.
    outcome = {"id": case.id, "model": case.model, "status": "pass" if result.passed else "FAIL", "rows": result.rows}
    request.node.user_properties.append(("zsbench_outcome", outcome))
    if not result.passed:
        pytest.fail(f"{case.id} differs from {case.path}:\n{result.table()}", pytrace=False)


_outcomes: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        # an invalid snapshot is reported from its setup; a case that ran, from its call
        if name == "zsbench_outcome" and report.when == ("setup" if value["status"] == "INVALID" else "call"):
            _outcomes.append(value)
    # Skipped cases go into the report too, with the reason (e.g. the missing checkpoint).
    if report.skipped and "zs_case" in report.keywords and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _outcomes.append({"id": report.nodeid.split("[", 1)[-1].rstrip("]"), "status": "skipped",
                          "reason": reason.removeprefix("Skipped: "), "model": "skipped cases"})  # fmt: skip


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--zs-report")
    if path is None:
        path = session.config.getini("zs_report")
    if not path or not _outcomes or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    write_report(path, _outcomes)
