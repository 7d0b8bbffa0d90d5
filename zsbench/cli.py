"""``zsbench`` command line: a thin layer over :mod:`zsbench.engine`, with CLIP_benchmark's flags and defaults.

Every command of the InternVL evaluation README runs unchanged with ``python3 clip_benchmark/cli.py`` replaced
by ``zsbench``. Where zsbench differs, it says so in the flag's help.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from zsbench.engine.compare import add_compare_parser
from zsbench.engine.hub_download import add_download_parser
from zsbench.errors import ZsbenchError

log = logging.getLogger("zsbench")


def _eval_parser(sub: Any, command: str = "eval") -> None:
    """``eval``'s flags; ``zsbench plan`` gets the very same ones (plus its own, see ``_plan_arguments``)."""
    p = sub.add_parser(command, help=_COMMAND_HELP[command])
    p.add_argument(
        "--dataset",
        type=str,
        nargs="+",
        default=None,
        help="dataset names, collections or txt files ('name' or 'name,language' per line); "
        "default: the embedded procedural datasets shapes and shapes_captions",
    )
    p.add_argument(
        "--dataset_root",
        default=None,
        help="template with {dataset} / {dataset_cleaned}; default 'root' (zsbench's data cache for "
        "the built-in procedural datasets)",
    )
    p.add_argument("--split", "--test_split", dest="split", default="test")
    p.add_argument(
        "--model",
        type=str,
        nargs="+",
        default=None,
        help="model names; default: the embedded tiny CLIP (zsbench-tiny-shapes)",
    )
    p.add_argument(
        "--pretrained",
        type=str,
        nargs="+",
        default=None,
        help="pretrained tags or checkpoint paths, crossed with --model",
    )
    p.add_argument(
        "--pretrained_model",
        type=str,
        nargs="+",
        default=[""],
        help="'model,pretrained' entries, collection names or txt files; overrides --model/--pretrained",
    )
    p.add_argument("--model_type", default="open_clip", help="open_clip, hf or internvl")
    p.add_argument(
        "--task",
        default="auto",
        help="zeroshot_classification, zeroshot_retrieval, linear_probe, image_caption_selection, captioning "
        "(open_clip CoCa on a captions dataset; never chosen by auto) or auto (the dataset's own task)",
    )
    p.add_argument("--language", type=str, nargs="+", default=["en"], help="languages; zh = cn, ja = jp")
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--num_workers", type=int, default=4)
    p.add_argument(
        "--recall_k",
        type=int,
        nargs="+",
        default=[1, 5, 10],
        help="the InternVL fork's default 1 5 10 (upstream: 5; a superset keeps its keys)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--output",
        default="{dataset}_{pretrained}_{model}_{language}_{task}.json",
        help="output template ({dataset} {model} {pretrained} {pretrained_full_path} {task} {language})",
    )
    p.add_argument("--skip_existing", action="store_true", help="skip jobs whose result is already written")
    amp = p.add_mutually_exclusive_group()
    amp.add_argument(
        "--amp",
        dest="precision",
        action="store_const",
        const="amp",
        help="CLIP_benchmark's autocast (fp16 on CUDA, bf16 on CPU)",
    )
    amp.add_argument("--no_amp", dest="precision", action="store_const", const="fp32", help="run in fp32")
    amp.add_argument(
        "--precision",
        dest="precision",
        choices=["auto", "amp", "amp_fp16", "amp_bf16", "fp32", "fp16", "bf16"],
        help="auto (default): bf16 autocast on GPUs that support it (fp16 for InternVL, as its reference), fp32 on CPU",
    )
    p.set_defaults(precision="auto")
    p.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda if available)")
    p.add_argument("--compile", action="store_true", help="torch.compile the image tower")
    p.add_argument(
        "--gpu_decode",
        action="store_true",
        help="decode JPEG datasets on the GPU (faster for small models; not bit-identical to PIL)",
    )
    p.add_argument("--model_cache_dir", default=None, help="passed to open_clip as cache_dir")
    p.add_argument("--cache_dir", default=None, help="embedding cache (default $ZSBENCH_CACHE_DIR or ~/.cache/zsbench)")
    p.add_argument("--no_cache", action="store_true", help="keep embeddings in memory only for this run")
    p.add_argument(
        "--fingerprint",
        choices=["stat", "content"],
        default="stat",
        help="how image files enter the cache key: stat (names, sizes, mtimes, resolved dataset root; default) or "
        "content (hash every file's bytes: slower, catches files replaced with their mtime restored)",
    )
    p.add_argument("--annotation_file", default="", help="override the caption file of coco/flickr")
    p.add_argument(
        "--caption_preprocess",
        choices=("fork", "none"),
        default=None,
        help="fork (retrieval's default, the README numbers): the InternVL fork's lower-casing and punctuation "
        "stripping of Flickr30k/COCO captions; none (captioning's default): captions as written, as upstream "
        "CLIP_benchmark",
    )
    p.add_argument("--custom_classname_file", default=None)
    p.add_argument("--custom_template_file", default=None)
    p.add_argument("--cupl", action="store_true", help="templates are CuPL class -> prompts dicts")
    p.add_argument("--dump_classnames", action="store_true")
    p.add_argument("--dump_templates", action="store_true")
    p.add_argument("--save_clf", default=None)
    p.add_argument("--load_clfs", nargs="+", default=[])
    p.add_argument(
        "--skip_corrupt",
        action="store_true",
        help="skip images that cannot be decoded (their count is recorded in the result)",
    )
    p.add_argument(
        "--allow_incomplete",
        action="store_true",
        help="evaluate a split whose size differs from the full one (the result is marked as such)",
    )
    p.add_argument("--download", action="store_true", help="fetch missing public files (annotations, datasets)")
    p.add_argument("--tokenizer", default=None, help="InternVL .pth: path of tokenizer.model")
    p.add_argument(
        "--model_config",
        default=None,
        help="InternVL: a config.json overriding the sizes (a .pth has none; default: the real C-13B)",
    )
    p.add_argument("--quiet", dest="verbose", action="store_false")
    p.add_argument("--no_progress", dest="progress", action="store_false")
    p.add_argument(
        "--wds_cache_dir",
        default=None,
        help="where wds/ shards from the HF hub are kept (default: <zsbench cache>/wds); local shards are read in place",
    )
    p.add_argument(
        "--revision",
        default=None,
        help="wds/ on the HF hub: the branch, tag or commit to read (default: the URL's, else main; the commit read "
        "is recorded in the result)",
    )
    probe = p.add_argument_group(
        "linear probe (--task linear_probe)",
        "CLIP_benchmark's flags and defaults; the split flags take one value for all datasets or one per dataset",
    )
    probe.add_argument("--train_split", nargs="+", default=["train"], help="split the head trains on (train)")
    # --val_split and --val_proportion exclude each other (checked with the other settings: one line, exit 2)
    probe.add_argument("--val_split", nargs="+", default=None, help="split for the weight-decay sweep")
    probe.add_argument(
        "--val_proportion",
        type=float,
        nargs="+",
        default=None,
        help="share of the train split held out for the weight-decay sweep (drawn with --seed)",
    )
    probe.add_argument("--fewshot_k", type=int, default=-1, help="training samples per class; -1: all (default)")
    probe.add_argument("--fewshot_epochs", type=int, default=10)
    probe.add_argument("--fewshot_lr", type=float, default=0.1)
    probe.add_argument(
        "--fewshot_seeds",
        type=int,
        nargs="+",
        default=None,
        help="several few-shot draws in one run (zsbench only); the metrics are their mean, *_std their standard "
        "deviation, each draw's numbers are in the result's zsbench block",
    )
    probe.add_argument(
        "--normalize",
        default="true",
        help="L2-normalise the features: true (default) or false (CLIP_benchmark reads any value as true)",
    )
    # CLIP_benchmark's flags that zsbench accepts and ignores: listed in --help as such, so a copied command runs
    # and nobody believes they did something.
    ignored = p.add_argument_group(
        "accepted for CLIP_benchmark compatibility and IGNORED",
        "--feature_root and --skip_load (linear-probe features live in zsbench's embedding cache, keyed by model, "
        "split and image files), and --distributed (zsbench shards each dataset over the ranks whenever torchrun "
        "or srun start several processes)",
    )
    ignored.add_argument("--feature_root", default=None, help="ignored")
    ignored.add_argument("--skip_load", action="store_true", help="ignored")
    ignored.add_argument("--distributed", action="store_true", help="ignored (see above)")
    _plan_arguments(p, command)


_COMMAND_HELP = {
    "eval": "evaluate models on datasets (CLIP_benchmark-compatible flags)",
    "plan": "print what 'zsbench eval' with the same flags would load, encode and reuse, and what it would cost, "
    "without loading a model (--readme: the 54 README cases)",
}


def _plan_arguments(p: argparse.ArgumentParser, command: str) -> None:
    """``eval --dry_run`` and ``plan``'s own flags (the rest are eval's)."""
    group = p.add_argument_group("plan (zsbench plan, zsbench eval --dry_run)")
    if command == "eval":
        group.add_argument(
            "--dry_run",
            action="store_true",
            help="print the plan (model loads, image sets, cache, cost) and exit: no model loads, nothing written",
        )
    group.add_argument(
        "--throughput",
        type=float,
        default=None,
        metavar="IMAGES_PER_S",
        help="images/s for the time estimate (default: an assumed rate per architecture, labelled as such)",
    )
    if command == "eval":
        p.set_defaults(func=cmd_eval, format="text", readme=False, from_expected=None)
        return
    group.add_argument("--format", choices=["text", "json"], default="text")
    source = group.add_mutually_exclusive_group()
    source.add_argument(
        "--readme",
        action="store_true",
        help="plan the README's published cases (the snapshots under ./expected with published numbers)",
    )
    source.add_argument(
        "--from_expected",
        "--from-expected",
        metavar="DIR",
        default=None,
        help="plan every snapshot case under DIR (as 'pytest benchmarks/' runs them)",
    )
    group.add_argument(
        "--data_root",
        default=os.environ.get("ZSBENCH_DATA_ROOT", "data"),
        help="with --readme/--from_expected: the datasets folder (default $ZSBENCH_DATA_ROOT or ./data)",
    )
    group.add_argument(
        "--pretrained_dir",
        default=os.environ.get("ZSBENCH_PRETRAINED_DIR", "pretrained"),
        help="with --readme/--from_expected: the weights folder (default $ZSBENCH_PRETRAINED_DIR or ./pretrained)",
    )
    p.set_defaults(func=cmd_plan, dry_run=True)


def cmd_plan(args: argparse.Namespace) -> int:
    """``zsbench plan``: eval's plan for the same flags, or the regression cases' (``--readme``)."""
    from zsbench.engine import Engine

    config = config_from_args(args)
    expected = "expected" if args.readme else args.from_expected
    if expected is None:
        # The checks eval makes before any model loads, so a plan never shows what eval would refuse.
        return _print_plan(args, config, Engine(config).validate())
    given = [flag for flag, value in (("--model", args.model), ("--pretrained", args.pretrained),
             ("--pretrained_model", any(args.pretrained_model) or None), ("--dataset", args.dataset),
             ("--dataset_root", args.dataset_root)) if value is not None]  # fmt: skip
    if given:
        raise ZsbenchError(
            f"{', '.join(given)} cannot be combined with --readme/--from_expected: the snapshot files name the models "
            "and datasets (use --data_root and --pretrained_dir to say where they are)"
        )
    from zsbench.engine.checks import check_settings
    from zsbench.engine.estimate import cases_plan

    check_settings(config)
    plan, cases, invalid = cases_plan(
        expected,
        config,
        data_root=args.data_root,
        pretrained_dir=args.pretrained_dir,
        published_only=args.readme,
    )
    what = "README cases (published numbers)" if args.readme else "snapshot cases"
    source = {"expected": str(expected), "cases": len(cases), "invalid_snapshots": invalid}
    return _print_plan(args, config, plan, cases=cases, source=source, title=f"zsbench plan: {len(cases)} {what}")


def _print_plan(
    args: argparse.Namespace,
    config: Any,
    plan: Any,
    *,
    cases: list[Any] | None = None,
    source: dict[str, Any] | None = None,
    title: str = "zsbench plan",
) -> int:
    from zsbench.engine.estimate import describe_plan, format_text, report_json

    report = describe_plan(plan, config, throughput=args.throughput, cases=cases)
    if source is not None:
        report = {"source": source, **report}
    if args.format == "json":
        print(report_json(report))
        return 0
    lines = [format_text(report, title=title)]
    for error in (source or {}).get("invalid_snapshots", []):
        lines.append(f"note: not a valid case, left out: {error}")
    print("\n".join(lines))
    return 0


def config_from_args(args: argparse.Namespace) -> Any:
    from zsbench.engine import EvalConfig, expand_datasets, expand_models

    config = EvalConfig()
    if args.model is not None or args.pretrained is not None or any(args.pretrained_model):
        models = expand_models(
            args.model or ["ViT-B-32-quickgelu"], args.pretrained or ["laion400m_e32"], args.pretrained_model
        )
    else:
        models = config.models
    options: dict[str, Any] = {}
    for key in ("custom_classname_file", "custom_template_file", "annotation_file", "wds_cache_dir", "revision"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    if args.cupl:
        options["cupl"] = True
    if args.caption_preprocess:  # else the task's default (retrieval: fork, captioning: none); results record it
        options["caption_preprocess"] = args.caption_preprocess
    if args.allow_incomplete:
        options["allow_incomplete"] = True
    model_options = {"tokenizer": args.tokenizer} if args.tokenizer else {}
    if args.model_config:
        model_options["config"] = args.model_config
    return EvalConfig(
        model_type=args.model_type,
        models=models,
        datasets=expand_datasets(args.dataset) if args.dataset else config.datasets,
        dataset_root=args.dataset_root,
        split=args.split,
        languages=args.language,
        task=args.task,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        recall_k=args.recall_k,
        precision=args.precision,
        device=args.device,
        output=args.output,
        skip_existing=args.skip_existing,
        cache_dir="" if args.no_cache else args.cache_dir,
        fingerprint=args.fingerprint,
        seed=args.seed,
        skip_corrupt=args.skip_corrupt,
        download=args.download,
        dump_classnames=args.dump_classnames,
        dump_templates=args.dump_templates,
        save_clf=args.save_clf,
        load_clfs=args.load_clfs,
        verbose=args.verbose,
        progress=args.progress and args.verbose,
        model_cache_dir=args.model_cache_dir,
        compile=args.compile,
        gpu_decode=args.gpu_decode,
        model_options=model_options,
        dataset_options=options,
        train_split=args.train_split,
        val_split=args.val_split,
        val_proportion=args.val_proportion,
        fewshot_k=args.fewshot_k,
        fewshot_epochs=args.fewshot_epochs,
        fewshot_lr=args.fewshot_lr,
        fewshot_seeds=args.fewshot_seeds,
        normalize=_parse_bool(args.normalize, "--normalize"),
    )


def _parse_bool(value: Any, flag: str) -> bool:
    """``true``/``false`` (and 1/0, yes/no); anything else is one line, never silently True as in CLIP_benchmark."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ZsbenchError(f"{flag} takes true or false, got {value!r}")


def cmd_eval(args: argparse.Namespace) -> int:
    from zsbench.engine import Engine, strategy_from_env

    config = config_from_args(args)
    # Under torchrun or srun (several ranks) the images of each dataset are sharded over the ranks.
    strategy = strategy_from_env()
    engine = Engine(config, strategy=strategy)
    # Names, settings, templates, output folders and classifier files: one line each, before any model loads.
    plan = engine.validate()
    if args.dry_run:
        return _print_plan(args, config, plan)
    with strategy:
        records = engine.run(plan)
    if args.verbose and strategy.is_writer:
        print(_summary(records))
    return 0


def _summary(records: list[dict[str, Any]]) -> str:
    lines = []
    for r in records:
        # settings among the metrics (the linear probe's weight_decay, epochs, fewshot_k, ...) print as they are
        metrics = ", ".join(
            f"{k}={'null' if v is None else f'{v:g}' if k == 'weight_decay' else f'{v:.4f}' if isinstance(v, float) else v}"
            for k, v in r["metrics"].items()
        )
        cache = r.get("zsbench", {}).get("cache", {}).get("image_embeddings", "")
        lines.append(f"{r['dataset']} [{r['language']}] {r['model']}: {metrics}  (image embeddings: {cache})")
    return "\n".join(lines) if lines else "nothing to do (all results exist)"


def _write_text(path: str, text: str, flag: str) -> None:
    """Write an output file atomically; an OS error (read-only folder, full disk) is one line naming it."""
    from zsbench.engine.atomic import atomic_write_text, describe_os_error
    from zsbench.errors import OutputError

    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise OutputError(f"cannot write {flag} {path}: {describe_os_error(e)}") from e


def cmd_build(args: argparse.Namespace) -> int:
    from zsbench.engine.checks import check_writable_file
    from zsbench.engine.results import collect, to_csv, to_markdown

    if args.html:
        from zsbench.engine.html_report import check_html_path, results_report

        check_html_path(args.html)  # matplotlib and the path, before any file is read
    for path, flag in ((args.output, "--output"), (args.markdown, "--markdown"), (args.report, "--report")):
        if path:
            check_writable_file(path, flag)
    records = collect(args.files)
    extra = None
    if args.aggregate:  # computed (and a short DataComp/VTAB set refused) before anything is written
        from zsbench.engine.aggregate import aggregate

        extra = aggregate(records, args.aggregate, allow_partial=args.allow_partial)
    html = results_report(records, args.html, args.files) if args.html else None  # charts drawn before any write
    report = None
    if args.report:
        from zsbench.engine.snapshots import report_from_records

        # Built before anything is written: a bad snapshot must not leave a CSV behind.
        report = report_from_records(records, args.expected)
    rows = records + (extra.records if extra else [])  # aggregate rows: task "aggregate", dataset datacomp/vtab
    _write_text(args.output, to_csv(rows), "--output")
    if args.markdown:
        _write_text(args.markdown, to_markdown(records) + (f"\n{extra.markdown}" if extra else ""), "--markdown")
    if report is not None:
        _write_text(args.report, report, "--report")
    if html is not None:
        html.write()
    written = [p for p in (args.output, args.markdown, args.report, args.html) if p]
    if extra:
        print(extra.markdown)
    print(f"wrote {len(records)} results to {', '.join(written)}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    import json

    from zsbench.datasets.status import dataset_status, fetch_public_files, format_status_table
    from zsbench.engine.plan import DATASET_COLLECTIONS

    def rows() -> list[dict[str, Any]]:
        return dataset_status(args.dataset_root, collections=DATASET_COLLECTIONS, collection=args.collection,
                              names=args.dataset or None)  # fmt: skip

    table = rows()  # bad --collection/--dataset/--dataset_root: one line before any download
    fetched: list[dict[str, Any]] = []
    if args.download:
        for result in fetch_public_files(table):
            fetched.append(result)
            if args.format == "text":
                print(f"{result['status']:8} {result['dataset']}: {result['path']} ({result['detail']})", flush=True)
        table = rows()
    if args.format == "json":
        doc: dict[str, Any] = {"datasets": table, "present": sum(r["status"] == "present" for r in table)}
        if args.download:
            doc["downloads"] = fetched
        print(json.dumps(doc, indent=2))
    else:
        print(format_status_table(table))
    failed = [r for r in fetched if r["status"] == "failed"]
    if failed:
        raise ZsbenchError(f"{len(failed)} of {len(fetched)} files could not be fetched; first: {failed[0]['detail']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from zsbench.models import MODEL_TYPES

    for name in MODEL_TYPES.names():
        print(name)
    return 0


def cmd_export_wds(args: argparse.Namespace) -> int:
    from zsbench.datasets import load_dataset, resolve_dataset_root
    from zsbench.datasets.loaders.webdataset import export_wds

    options = {"allow_incomplete": True} if args.allow_incomplete else {}
    root = resolve_dataset_root(args.dataset, args.dataset_root)  # the same templating and defaults as eval
    data = load_dataset(args.dataset, root, split=args.split, language=args.language, **options)
    export_wds(data, args.output, split=args.split, image_format=args.image_format, max_count=args.max_count)
    print(f"exported {args.dataset} ({args.split}) to {args.output}")
    return 0


def _snapshot_parser(sub: Any) -> None:
    """``zsbench snapshot new``: regression case files for a checkpoint without published numbers."""
    s = sub.add_parser("snapshot", help="write regression case files (snapshots under expected/)")
    actions = s.add_subparsers(dest="action", required=True)
    p = actions.add_parser(
        "new",
        help="one case file per (dataset, language) of the plan, without numbers: it fails until "
        "'pytest --snapshot-update' records them",
    )
    p.add_argument("--model_type", default="open_clip", help="open_clip, hf or internvl")
    p.add_argument("--model", nargs="+", required=True)
    p.add_argument("--pretrained", nargs="+", required=True, help="checkpoint paths or tags, crossed with --model")
    p.add_argument("--dataset", nargs="+", required=True, help="names, collections or txt files, as for eval")
    p.add_argument("--language", nargs="+", default=["en"])
    p.add_argument("--task", default="auto", help="as for eval (auto: the dataset's own task)")
    p.add_argument("--dataset_root", default=None, help="template as for eval; stored relative to --data_root")
    p.add_argument("--expected_dir", default="expected", help="snapshot folder (default ./expected)")
    p.add_argument("--name", default=None, help="folder under --expected_dir and case id prefix (default: the model)")
    p.add_argument(
        "--pretrained_dir",
        default=os.environ.get("ZSBENCH_PRETRAINED_DIR", "pretrained"),
        help="weights under this folder are stored relative to it, as --zs-pretrained-dir reads them "
        "(default $ZSBENCH_PRETRAINED_DIR or ./pretrained)",
    )
    p.add_argument(
        "--data_root",
        default=os.environ.get("ZSBENCH_DATA_ROOT", "data"),
        help="dataset roots under this folder are stored relative to it, as --zs-data-root reads them "
        "(default $ZSBENCH_DATA_ROOT or ./data)",
    )
    p.add_argument("--force", action="store_true", help="replace existing case files")
    p.add_argument(
        "--by_device",
        action="store_true",
        help='"expected" keyed by device and precision ({"default": null}): each --snapshot-update records the '
        "run's own <device>/<precision> entry (e.g. cpu/fp32, cuda/bf16), compared only with runs like it",
    )
    p.set_defaults(func=cmd_snapshot_new)


def cmd_snapshot_new(args: argparse.Namespace) -> int:
    import shlex
    from pathlib import Path

    from zsbench.datasets.languages import canonical_language
    from zsbench.engine import Engine, EvalConfig, build_plan, expand_datasets, expand_models
    from zsbench.engine.snapshots import (
        default_case_id,
        new_case_data,
        portable_pretrained,
        relative_to_folder,
        snapshot_file_name,
        write_new_cases,
    )

    config = EvalConfig(
        model_type=args.model_type,
        models=expand_models(args.model, args.pretrained, []),
        datasets=expand_datasets(args.dataset),
        dataset_root=args.dataset_root,
        languages=args.language,
        task=args.task,
        cache_dir="",
        write_results=False,
        verbose=False,
        progress=False,
    )
    # eval's checks before any model loads (model type, datasets, tasks, languages): unknown names are one line
    plan = build_plan(config)
    Engine(config).validate(plan)
    cases = []
    for job in plan.jobs:
        language = canonical_language(job.language)
        name = args.name or job.model.model
        root = None
        if args.dataset_root is not None:
            # the plugin joins a case's dataset_root to --zs-data-root
            root = relative_to_folder(job.dataset_root, args.data_root) or str(Path(job.dataset_root).resolve())
        command = ["zsbench", "eval", "--model_type", job.model.model_type, "--language", language, "--task", job.task,
                   "--dataset", job.dataset, *(["--dataset_root", args.dataset_root] if args.dataset_root else []),
                   "--model", job.model.model, "--pretrained", job.model.pretrained]  # fmt: skip
        data = new_case_data(
            case_id=default_case_id(name, job.dataset, language, job.task),
            model_type=job.model.model_type,
            model=job.model.model,
            pretrained=portable_pretrained(job.model.pretrained, args.pretrained_dir),
            dataset=job.dataset,
            dataset_root=root,
            language=language,
            task=job.task,
            recall_k=list(job.recall_k),
            command=shlex.join(command),
            by_device=args.by_device,
        )
        path = Path(args.expected_dir) / name.replace("/", "-") / snapshot_file_name(job.dataset, language, job.task)
        cases.append((path, data))
    write_new_cases(cases, args.expected_dir, force=args.force)
    for path, data in cases:
        print(f"wrote {path} (case {data['id']}; fails until 'pytest --snapshot-update' records its numbers)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zsbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    _eval_parser(sub)
    _eval_parser(sub, "plan")
    b = sub.add_parser("build", help="merge result JSON files into a CSV (stable columns) and a Markdown table")
    b.add_argument("files", nargs="+")
    b.add_argument("--output", default="benchmark.csv")
    b.add_argument("--markdown", default=None, help="also write a Markdown table here")
    b.add_argument(
        "--report",
        default=None,
        help="also write the regression report (measured vs expected/ snapshots, pass/fail) here",
    )
    b.add_argument("--expected", default="expected", help="snapshot folder for --report")
    b.add_argument("--html", default=None, help="also write an HTML report with charts here (needs matplotlib)")
    b.add_argument("--aggregate", action="append", default=[], choices=["datacomp", "vtab", "rank"],
                   help="also print (and add to --output/--markdown) DataComp's Average and group means, VTAB's "
                   "group means, or each model's average rank; repeatable")  # fmt: skip
    b.add_argument("--allow_partial", action="store_true",
                   help="--aggregate datacomp/vtab over fewer than all of the collection's tasks (says which)")  # fmt: skip
    b.set_defaults(func=cmd_build)
    d = sub.add_parser("datasets", help="where each dataset is expected, whether it is there, how to get it")
    d.add_argument(
        "--dataset_root",
        default=None,
        help="template with {dataset}/{dataset_cleaned}; default: CLIP_benchmark's 'root', zsbench's data cache for "
        "the built-in shapes datasets (where eval puts them)",
    )
    d.add_argument("--collection", default=None, help="only this collection (e.g. vtab, retrieval) or 'other'")
    d.add_argument("--dataset", action="append", default=[], help="only this dataset (repeatable)")
    d.add_argument("--format", choices=["text", "json"], default="text")
    d.add_argument(
        "--download",
        action="store_true",
        help="fetch the listed datasets' public catalog files (annotations) that are missing, each checked by its "
        "sha256 (or the announced length where the catalog has none; neither: refused)",
    )
    d.set_defaults(func=cmd_datasets)
    m = sub.add_parser("models", help="list model types")
    m.set_defaults(func=cmd_models)
    w = sub.add_parser("export-wds", help="write a dataset as webdataset shards (CLIP_benchmark layout)")
    w.add_argument("--dataset", "-d", required=True)
    w.add_argument(
        "--dataset_root", "--dataset-root", "-r", default=None, help="template as for eval (default: as for eval)"
    )
    w.add_argument("--split", "-s", default="test")
    w.add_argument("--language", default="en")
    w.add_argument("--output", "-o", required=True)
    w.add_argument("--image_format", "--image-format", default="webp", choices=["webp", "png", "jpg"])
    w.add_argument("--max_count", "--max-count", type=int, default=10000)
    w.add_argument("--allow_incomplete", action="store_true", help="export a split smaller than the full one")
    w.set_defaults(func=cmd_export_wds)
    _snapshot_parser(sub)
    add_compare_parser(sub)  # zsbench compare BASE NEW: its flags live beside the code that reads them
    add_download_parser(sub)  # zsbench download: pre-fetch webdatasets from the HF hub
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if argv is None:  # started as a program (console script, python -m zsbench): the process is this command's
        from zsbench.models.open_clip_import import enable_light_imports

        enable_light_imports()  # cold start: open_clip without transformers/timm/torch._dynamo for plain CLIPs
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ZsbenchError as e:
        print(f"zsbench: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
