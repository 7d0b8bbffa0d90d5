"""One zsbench process evaluating one dataset under several prompt sets (the Python API).

``zsbench eval`` takes a single ``--custom_template_file``, so this script does what one invocation with several
would: one Engine, one model load, the images encoded once (the later prompt sets hit the embedding cache),
the prompts of each set encoded in large batches. Records go to ``--output`` as JSON Lines.

    python benchmarks/perf/zs_prompt_sets.py --dataset wds/perf_cls --dataset_root DIR --model ViT-B-32 \
        --pretrained W.pt --cache_dir C --output out.jsonl T0.json T1.json ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("templates", nargs="+", help="custom template JSON files, one prompt set each")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--dataset_root", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--pretrained", default="")
    ap.add_argument("--batch_size", type=int, default=64)
    ap.add_argument("--num_workers", type=int, default=4)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--cache_dir", default=None)
    ap.add_argument("--output", required=True)
    args = ap.parse_args(argv)

    from dataclasses import replace

    from zsbench.engine import Engine, EvalConfig, build_plan
    from zsbench.models.open_clip_import import enable_light_imports

    enable_light_imports()  # one process for the run, as the CLI's (zsbench/models/open_clip_import.py)

    config = EvalConfig(
        models=[(args.model, args.pretrained)],
        datasets=[(args.dataset, None)],
        dataset_root=args.dataset_root,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        precision=args.precision,
        cache_dir=args.cache_dir,
        write_results=False,
        verbose=False,
        progress=False,
    )
    engine = Engine(config)  # one engine: one model load, one image cache for every prompt set
    with open(args.output, "w") as f:
        for path in args.templates:
            [record] = engine.run(build_plan(replace(config, dataset_options={"custom_template_file": path})))
            record["custom_template_file"] = path
            f.write(json.dumps(record) + "\n")
            print(f"{path}: {record['metrics']} (image embeddings: {record['zsbench']['cache']['image_embeddings']})")
    assert engine.models.loads == 1, "the model must load once for every prompt set"
    return 0


if __name__ == "__main__":
    sys.exit(main())
