"""``zsbench download``: pre-fetch webdatasets from the HF hub into the cache (``eval`` then reads them, offline too).

``--dataset wds/<name> ... --dataset_root <hub URL template>`` fetches what ``zsbench eval`` with the same flags
would read; ``--collection datacomp`` fetches DataComp's evaluation webdatasets from the repositories its
``download_evalsets.py`` uses (:func:`zsbench.datasets.hub.datacomp_sets`); any other collection name, like
``--dataset``, expands as in ``eval``. Every name and URL is checked before the first request; a failure stops
with one line, and what was fetched before it stays in the cache (a rerun resumes).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from zsbench.errors import ZsbenchError

__all__ = ["add_download_parser", "cmd_download", "download_targets"]

DATACOMP = "datacomp"
DATACOMP_ROOT = "https://huggingface.co/datasets/djghosh/wds_{dataset_cleaned}_test/tree/main"


def add_download_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``download`` subcommand to ``zsbench``'s subparsers."""
    p = sub.add_parser(
        "download",
        help="pre-fetch wds/ webdatasets from the HF hub into the cache, checked against the hub's checksums",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--dataset", nargs="+", default=None, help="wds/<name> datasets, collections or txt files")
    what.add_argument(
        "--collection",
        nargs="+",
        default=None,
        help=f"'{DATACOMP}' (DataComp's evaluation webdatasets, djghosh/wds_<name>_test) or any dataset collection",
    )
    p.add_argument(
        "--dataset_root",
        default=None,
        help="hub URL template with {dataset} / {dataset_cleaned}, as for eval, e.g. "
        "https://huggingface.co/datasets/clip-benchmark/wds_{dataset_cleaned}/tree/main "
        f"(--collection {DATACOMP}: default {DATACOMP_ROOT})",
    )
    p.add_argument("--revision", default=None, help="branch, tag or commit (default: the URL's, else main)")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--wds_cache_dir", default=None, help="where shards are kept (default: <zsbench cache>/wds), as for eval"
    )
    p.add_argument("--quiet", dest="verbose", action="store_false")
    p.set_defaults(func=cmd_download)
    return p


def download_targets(
    datasets: list[str] | None, collections: list[str] | None, dataset_root: str | None
) -> tuple[list[tuple[str, str]], list[str]]:
    """``[(dataset, root URL)]`` to fetch and notes on what is skipped; every name and URL checked, nothing fetched."""
    from zsbench.datasets import get_spec, resolve_dataset_root
    from zsbench.datasets.hub import datacomp_sets, is_remote, parse_hub_url
    from zsbench.engine.plan import expand_datasets

    names: list[str] = []
    skipped: list[str] = []
    datacomp = False
    for value in collections or []:
        if value == DATACOMP:
            datacomp = True
            for s in datacomp_sets():
                if s.webdataset:
                    names.append(s.dataset)
                else:
                    skipped.append(
                        f"skipped {s.task}: DataComp reads {s.repo} with HF `datasets` (not a webdataset); "
                        "zsbench download fetches webdatasets only"
                    )
        else:
            from zsbench.engine.plan import DATASET_COLLECTIONS

            if value not in DATASET_COLLECTIONS:
                known = ", ".join([DATACOMP, *sorted(DATASET_COLLECTIONS)])
                raise ZsbenchError(f"--collection {value!r} is not a collection; known: {known}")
            names.extend(d for d, _ in expand_datasets([value]))
    names.extend(d for d, _ in expand_datasets(datasets or []))
    template = dataset_root if dataset_root is not None else DATACOMP_ROOT if datacomp else None
    targets: list[tuple[str, str]] = []
    for name in dict.fromkeys(names):
        if not name.startswith("wds/"):
            raise ZsbenchError(
                f"zsbench download fetches wds/<name> webdatasets from the HF hub; {name!r} is not one (name it "
                f"wds/{name} with a hub --dataset_root, or use 'zsbench eval --download' for annotation files)"
            )
        get_spec(name)
        if template is None:
            raise ZsbenchError(
                f"--dataset_root is needed: the hub URL of {name} (a template such as "
                "https://huggingface.co/datasets/<org>/wds_{dataset_cleaned}/tree/main)"
            )
        root = resolve_dataset_root(name, template)
        if not is_remote(root):
            raise ZsbenchError(
                f"--dataset_root {root!r} of {name} is a local folder: zsbench download fetches from the HF hub "
                "(https://huggingface.co/datasets/<org>/<repo>/tree/<revision>)"
            )
        parse_hub_url(root)  # a malformed URL is one line before the first request
        targets.append((name, root))
    return targets, skipped


def cmd_download(args: argparse.Namespace) -> int:
    """Fetch each target's split into the cache; one line per dataset (and per skipped DataComp set)."""
    from zsbench.datasets.hub import fetch_wds, human_size, parse_hub_url

    targets, skipped = download_targets(args.dataset, args.collection, args.dataset_root)
    refs = [(name, parse_hub_url(root, args.revision)) for name, root in targets]  # --revision conflicts: now
    for note in skipped:
        if args.verbose:
            print(note)
    for name, ref in refs:
        local, record = fetch_wds(
            ref, args.split, cache_dir=args.wds_cache_dir, progress=None if args.verbose else False
        )
        if args.verbose:
            print(
                f"{name}: {record['repo']}@{record['commit']} {args.split}: {record['shards']} shards, "
                f"{human_size(record['bytes'] or 0)} ({record['source']}) -> {local}"
            )
    if args.verbose:
        template = args.dataset_root or (DATACOMP_ROOT if args.collection and DATACOMP in args.collection else "")
        print(
            f"{len(refs)} webdataset(s) ready; 'zsbench eval --dataset <name> --dataset_root {template}' reads them "
            "from the cache (offline too: a branch uses the commit it resolved to here)",
            file=sys.stdout,
        )
    return 0
