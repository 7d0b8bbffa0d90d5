"""expected/ holds the seed README's 54 results exactly as published, one readable case each."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from zsbench.engine.snapshots import load_cases
from zsbench.testing.shared import require_shared

ROOT = Path(__file__).resolve().parents[2]


def _paper_cases():
    return [c for c in load_cases(ROOT / "expected") if c.is_gpu]


def test_54_paper_cases_by_adapter():
    cases = _paper_cases()
    assert Counter(c.model for c in cases) == {
        "internvl_c_classification": 30,
        "internvl_c_retrieval": 12,
        "internvl_g_retrieval_hf": 12,
    }
    ids = [c.id for c in cases]
    assert len(set(ids)) == 54
    assert "internvl_c_classification-imagenet1k-en" in ids
    assert "internvl_g_retrieval_hf-multilingual_mscoco_captions-jp" in ids
    for c in cases:
        assert c.published == c.expected, c.path  # nothing has been re-snapshotted over a paper number
        assert c.path == ROOT / "expected" / c.model / f"{c.dataset.replace('/', '-')}__{c.language}.json"


def test_renderedsst2_nan_became_null():
    case = next(c for c in _paper_cases() if c.dataset == "renderedsst2")
    assert case.published["acc5"] is None


def test_snapshots_equal_the_readme():
    readme = require_shared("seed/internvl_clip_benchmark_README.md")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "expected_from_readme.py"), str(readme),
                           str(ROOT / "expected"), "--check"], capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "54 results checked; 0 differ" in proc.stdout


def test_every_readme_command_parses_into_its_case():
    """The README's commands, with `python3 clip_benchmark/cli.py` replaced by `zsbench`, mean what the case says."""
    import shlex

    from zsbench.cli import build_parser, config_from_args

    parser = build_parser()
    for case in _paper_cases():
        argv = shlex.split(case.command)
        assert argv[0] == "zsbench"
        config = config_from_args(parser.parse_args(argv[1:]))
        assert config.model_type == "internvl"
        assert config.models == [(case.model, "./pretrained/" + case.pretrained)]
        assert config.datasets == [(case.dataset, None)]
        assert config.languages == [case.language]
        assert config.task == case.task
        assert config.recall_k == [1, 5, 10]  # the fork's default, which the README's retrieval results show
