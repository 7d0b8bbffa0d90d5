"""A task's loader defaults: captioning scores against raw references (CLIP_benchmark's), retrieval keeps the fork's
``pre_caption``; an explicit ``--caption_preprocess`` wins for both."""

from __future__ import annotations

import pytest

from zsbench.cli import build_parser, config_from_args
from zsbench.engine import build_plan


def _options(*argv: str) -> dict:
    args = build_parser().parse_args(["eval", "--dataset", "mscoco_captions", "--dataset_root", "x", *argv])
    (job,) = build_plan(config_from_args(args)).jobs
    return dict(job.dataset_options)


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        ((), None),  # retrieval: the loader's default, fork
        (("--task", "captioning"), "none"),
        (("--task", "captioning", "--caption_preprocess", "fork"), "fork"),
        (("--caption_preprocess", "none"), "none"),
        (("--caption_preprocess", "fork"), "fork"),
    ],
)
def test_caption_preprocess_default_follows_the_task(argv, want):
    assert _options(*argv).get("caption_preprocess") == want


def test_the_captioning_result_records_raw_references(tmp_path):
    from zsbench.datasets import load_dataset
    from zsbench.testing.replicas import write_coco_karpathy

    write_coco_karpathy(tmp_path, 3)
    raw = load_dataset("mscoco_captions", tmp_path, allow_incomplete=True, **_options("--task", "captioning"))
    assert raw.captions[0][0].startswith("A Photo (") and raw.info["caption_preprocess"] == "none"
