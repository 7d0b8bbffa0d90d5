"""The engine's public API: what the CLI, ``zsbench.evaluate``, the pytest plugin and the perf scripts use.

    plan = build_plan(config)            # plain data: jobs with their task, dataset root and output path
    records = Engine(config).run(plan)   # models load once, image sets are encoded once (through the cache)

``Engine`` owns model lifetime (``ModelPool``), dataset loading and the embedding cache; ``resolve_weights`` turns a
snapshot's ``pretrained`` value (``builtin:<name>``, a path relative to a weights folder) into a path; how a run
spreads over processes is a strategy (``LocalStrategy``, ``ShardedStrategy``, ``strategy_from_env``).
"""

from zsbench.engine.config import EvalConfig
from zsbench.engine.distributed import LocalStrategy, ShardedStrategy, World, strategy_from_env, world_from_env
from zsbench.engine.evaluate import evaluate
from zsbench.engine.html_report import require_matplotlib, write_regression_html
from zsbench.engine.models import ModelPool
from zsbench.engine.plan import Job, ModelRef, Plan, build_plan, expand_datasets, expand_models, resolve_task
from zsbench.engine.results import SCHEMA_VERSION, ResultRecord
from zsbench.engine.runner import Engine
from zsbench.engine.snapshots import (
    Case,
    InvalidCase,
    compare_case,
    marker_name,
    report_markdown,
    scan_cases,
    update_snapshot,
    write_report,
)
from zsbench.engine.weights import open_clip_tag_weights, resolve_weights

__all__ = [
    "Case",
    "Engine",
    "EvalConfig",
    "InvalidCase",
    "Job",
    "LocalStrategy",
    "ModelPool",
    "ModelRef",
    "Plan",
    "ResultRecord",
    "SCHEMA_VERSION",
    "ShardedStrategy",
    "World",
    "build_plan",
    "compare_case",
    "evaluate",
    "expand_datasets",
    "expand_models",
    "marker_name",
    "require_matplotlib",
    "open_clip_tag_weights",
    "report_markdown",
    "resolve_task",
    "resolve_weights",
    "scan_cases",
    "strategy_from_env",
    "update_snapshot",
    "world_from_env",
    "write_regression_html",
    "write_report",
]
