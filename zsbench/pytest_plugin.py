"""pytest plugin: the README's results (and the CPU cases) as parametrized regression cases.

Cases come from snapshot files under ``expected/`` (see :mod:`zsbench.engine.snapshots`). Each case runs the
real evaluation through session-scoped fixtures: one engine (a model loads once per worker)
with one embedding cache (so the five ImageNet-1k language cases encode the 50,000 images once). Heavy cases
carry the ``gpu`` marker. A case's ``settings`` (the linear probe's ``fewshot_k``, ...) apply to its run only.

Snapshots the syrupy way, with syrupy's flags (zsbench writes the files itself because syrupy's cleanup would
delete the snapshots of skipped cases): a case without ``expected`` (a new checkpoint) fails;
``--snapshot-update`` records the numbers of the cases that ran, writing a file only when they changed and never
its ``published`` block; ``--snapshot-update-new-only`` records only the cases without numbers;
``--snapshot-warn-unused`` lists the snapshot files that no collected case used (not checked under xdist).

Each case attaches ``zsbench.<metric>.measured`` / ``.expected`` / ``.tolerance`` (``equal`` for a setting such as
the probe's ``fewshot_k``) and ``zsbench.case`` / ``zsbench.verdict`` / ``zsbench.expected_entry`` (the entry of
an ``expected`` keyed by device and precision, e.g. ``cpu/fp32``; else ``default``) as JUnit XML properties, and
the terminal summary prints the table of the cases that ran.

A snapshot file that is not a valid case (bad JSON, a missing key, a negative tolerance, ...) becomes one case that
errors at setup with a message naming the file and the problem; every other case runs as usual.

The plugin is opt-in, so installing zsbench changes no one else's test run: this repository's ``conftest.py`` loads it
(``pytest_plugins = ["zsbench.pytest_plugin"]``); elsewhere use that line or ``pytest -p zsbench.pytest_plugin``.
Speed cases are skipped by their ``perf`` marker alone, and the Markdown report is written only when asked
(``--zs-report PATH`` or the ``zs_report`` ini option).
"""

from __future__ import annotations

import json
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
    open_clip_tag_weights,
    require_matplotlib,
    resolve_weights,
    scan_cases,
    update_snapshot,
    write_regression_html,
    write_report,
)
from zsbench.errors import CheckpointError, DatasetNotFoundError, ZsbenchError


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
    _outcomes.clear()  # an in-process pytester run must not report the previous run's cases
    tolerance = config.getoption("--zs-tolerance")
    # nan would fail every metric, inf (or >= 1) pass every one, a negative value fail all: none is a tolerance.
    if tolerance is not None and not (math.isfinite(tolerance) and 0 <= tolerance < 1):
        raise pytest.UsageError(f"--zs-tolerance must be a finite number >= 0 and < 1, got {tolerance}")
    report = config.getoption("--zs-report")
    report = config.getini("zs_report") if report is None else report
    if str(report).lower().endswith((".html", ".htm")):  # an HTML report draws its charts with matplotlib
        try:
            require_matplotlib(f"--zs-report {report}")
        except ZsbenchError as e:
            raise pytest.UsageError(str(e)) from None
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
        request.node.user_properties.append(("zsbench.snapshot", case.path.as_posix()))
        request.node.user_properties.append(("zsbench.verdict", "INVALID"))
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
def zs_pretrained(zs_case: Case, pytestconfig: pytest.Config) -> Path | str:
    """The case's checkpoint path, or an open_clip pretrained tag (its weights downloaded into the HF hub cache
    first); skips, naming the file or the download and where to get it, when it is absent."""
    try:
        path = resolve_weights(zs_case.pretrained, pytestconfig.getoption("--zs-pretrained-dir"),
                               model_type=zs_case.model_type, model=zs_case.model)  # fmt: skip
        if isinstance(path, str):  # an open_clip tag such as "openai": open_clip downloads it, not a file here
            open_clip_tag_weights(zs_case.model, path)
            return path
    except CheckpointError as e:  # a built-in checkpoint that cannot be built here, a tag's failed download
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
        # the case's task settings (e.g. the linear probe's fewshot_k), validated as EvalConfig fields on load
        **case.settings,
    )
    return build_plan(config)


def _is_incomplete(error: Exception) -> bool:
    # A partially extracted dataset must fail loudly, not skip: it would otherwise hide a wrong number.
    return "incomplete" in str(error).lower()


def run_case(case: Case, engine: Engine, pretrained: Path, data_root: Path) -> dict[str, Any]:
    """Evaluate one case through the engine; a missing dataset skips (naming it) before the model loads."""
    jobs = case_plan(case, engine, pretrained, data_root).jobs  # each job carries the case's task settings
    try:
        [record] = engine.run_jobs(jobs)
    except DatasetNotFoundError as e:
        if _is_incomplete(e):
            raise
        pytest.skip(f"missing dataset: {e} (or pass --zs-data-root)")
    return record


def _property_value(value: Any) -> str:
    return json.dumps(value) if value is None or isinstance(value, bool) else str(value)


def _record_properties(node: pytest.Item, case: Case, rows: list[dict[str, Any]], verdict: str) -> None:
    """Each metric's measured and expected value and tolerance as JUnit XML properties, where CI tools read them."""
    props = node.user_properties
    props.append(("zsbench.case", case.id))
    props.append(("zsbench.snapshot", case.path.as_posix()))
    props.append(("zsbench.verdict", verdict))
    props.append(("zsbench.expected_entry", case.entry))  # "default", or e.g. "cpu/fp32" of a keyed snapshot
    for r in rows:
        metric = r["metric"]
        props.append((f"zsbench.{metric}.measured", _property_value(r["measured"])))
        props.append((f"zsbench.{metric}.expected", _property_value(r["expected"])))
        tolerance = "equal" if r.get("kind") == "setting" else _property_value(r["tolerance"])
        props.append((f"zsbench.{metric}.tolerance", tolerance))


def check_case(request: pytest.FixtureRequest, case: Case, record: dict[str, Any]) -> None:
    """Compare with the snapshot (or record it under --snapshot-update / --snapshot-update-new-only) and record the
    outcome for the JUnit XML, the terminal summary and the report.

    A case without numbers (a new checkpoint's) fails unless an update flag records them: a run never passes by
    having nothing to compare with. An update rewrites ``expected`` only when the numbers changed, never
    ``published``.
    """
    config = request.config
    measured = record["metrics"]
    run = record.get("zsbench", {})
    case = case.for_run(run.get("device"), run.get("precision"))  # a keyed snapshot's entry for this device
    update_all = config.getoption("update_snapshots", default=False)
    # syrupy's flags (syrupy is a dependency): zsbench writes its snapshot files itself, see the module docstring
    update_new = config.getoption("update_new_snapshots_only", default=False)
    status = None
    # Like syrupy, a file is written only when its numbers change (no churn of the provenance's date).
    changed = case.is_new or dict(measured) != case.expected
    if changed and (update_all or (update_new and case.is_new)):
        status = "created" if case.is_new else "updated"
        case = update_snapshot(case, measured, record.get("zsbench", {}))
    result = compare_case(case, measured, config.getoption("--zs-tolerance"))
    new = case.is_new
    verdict = "NEW" if new else status or ("pass" if result.passed else "FAIL")
    _record_properties(request.node, case, result.rows, verdict)
    # user_properties travel to the xdist controller, which writes the report and the summary.
    outcome = {"id": case.id, "model": case.model, "status": verdict, "rows": result.rows, "entry": case.entry}
    request.node.user_properties.append(("zsbench_outcome", outcome))
    if new:
        pytest.fail(
            f"{case.id}: {case.path} has no expected numbers{_for_entry(case)} yet (a new checkpoint?); run with "
            "--snapshot-update "
            f"(or --snapshot-update-new-only) to record these:\n{result.table()}",
            pytrace=False,
        )
    if not result.passed:
        pytest.fail(f"{case.id} differs from {case.path}{_for_entry(case)}:\n{result.table()}", pytrace=False)


def _for_entry(case: Case) -> str:
    # a keyed snapshot names the device/precision entry the run was compared with
    return "" if case.expectations is None else f" for {case.entry}"


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
    if str(path).lower().endswith((".html", ".htm")):  # the same report with a pass/fail grid, images beside it
        write_regression_html(path, _outcomes)
        return
    write_report(path, _outcomes)


def _fmt(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def summary_lines(outcomes: list[dict[str, Any]]) -> list[str]:
    """The case table of the terminal summary: one line per metric of every case that ran (and one per skipped or
    invalid case, with its reason)."""
    head = ("case", "metric", "expected", "measured", "difference", "verdict")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []  # skipped and invalid cases: one line each, after the table (a reason is long)
    for o in outcomes:
        if not o.get("rows"):
            notes.append(f"{o['id']}  {o['status']}: {o.get('reason', '')}".rstrip(": "))
            continue
        for r in o["rows"]:
            if r.get("kind") == "setting":
                diff = "" if r["ok"] else "differs"
            else:
                diff = "" if r["diff"] is None else f"{r['diff']:+.4f}"
            # NEW (no numbers yet), created, updated: the case's status; otherwise each metric's own verdict
            verdict = "ok" if r["ok"] else "FAIL"
            if o["status"] in ("NEW", "created", "updated"):
                verdict = o["status"]
            rows.append((o["id"], r["metric"], _fmt(r["expected"]), _fmt(r["measured"]), diff, verdict))
    out: list[str] = []
    if rows:
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
        out.append("  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
        out.append("  ".join("-" * w for w in widths))
        out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return out + notes


_USED_KEY = pytest.StashKey[set]()


def pytest_itemcollected(item: pytest.Item) -> None:
    # Before -k/-m deselect anything: a case that was collected "used" its snapshot file even when deselected.
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "zs_case" in callspec.params:
        item.config.stash.setdefault(_USED_KEY, set()).add(Path(callspec.params["zs_case"].path))


def unused_snapshots(config: pytest.Config) -> list[Path]:
    """Snapshot files under --zs-expected-dir that no collected case used; empty when no case was collected at all
    (a run of other tests says nothing about the snapshots)."""
    used = config.stash.get(_USED_KEY, set())
    if not used:
        return []
    return [e.path for e in snapshot_entries(config) if Path(e.path) not in used]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if _outcomes:
        terminalreporter.write_sep("=", "zsbench regression cases")
        for line in summary_lines(_outcomes):
            terminalreporter.write_line(line)
    if config.getoption("warn_unused_snapshots", default=False):
        if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
            terminalreporter.write_line(
                "zsbench: --snapshot-warn-unused is not checked under pytest-xdist (run without -n)"
            )
            return
        unused = unused_snapshots(config)
        if unused:
            terminalreporter.write_sep("=", f"zsbench: {len(unused)} unused snapshot file(s)", yellow=True)
            for path in unused:
                terminalreporter.write_line(f"unused snapshot: {path} (no collected case ran it)", yellow=True)
