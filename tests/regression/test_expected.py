"""expected/ holds the seed README's 54 results exactly as published, one readable case each, and the four
fine-tuned retrieval results of InternVL's internvl_g/README.md (a different document, which names itself)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.snapshot_project import run_project, start_project
from zsbench.engine.snapshots import from_seed_readme, load_cases
from zsbench.testing.shared import require_shared

ROOT = Path(__file__).resolve().parents[2]
pytest_plugins = ["pytester"]


def _paper_cases():
    return [c for c in load_cases(ROOT / "expected") if from_seed_readme(c)]


def _finetuned_cases():
    return [c for c in load_cases(ROOT / "expected") if "finetuned" in c.markers]


def test_every_gpu_case_is_from_the_seed_readme_or_the_fine_tuned_readme():
    # a GPU case of neither document (nor open_clip's DataComp table, tests/regression/test_datacomp_published.py)
    # would be checked against no published source at all
    gpu = {c.id for c in load_cases(ROOT / "expected") if c.is_gpu}
    datacomp = {c.id for c in load_cases(ROOT / "expected") if "datacomp" in c.markers}
    assert gpu == {c.id for c in _paper_cases()} | {c.id for c in _finetuned_cases()} | datacomp
    assert len(gpu) == 58 + 76


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


# internvl_g/README.md at commit bc288c4e4b150a849bbabfdb1d7ee2479f403af6, "Fine-tuned Image-Text Retrieval": the
# tables' rows (percent, one decimal: image-to-text R@1 R@5 R@10, text-to-image R@1 R@5 R@10), a second
# publication of the numbers each case's "Expected results" block gives in full.
FINETUNED_TABLES = {
    ("internvl_c_retrieval_hf", "en"): (97.2, 100.0, 100.0, 88.5, 98.4, 99.2),
    ("internvl_g_retrieval_hf", "en"): (97.9, 100.0, 100.0, 89.6, 98.6, 99.2),
    ("internvl_c_retrieval_hf", "cn"): (96.5, 99.9, 100.0, 85.2, 97.0, 98.5),
    ("internvl_g_retrieval_hf", "cn"): (96.9, 99.9, 100.0, 85.9, 97.1, 98.7),
}
FINETUNED_WEIGHTS = {"en": "internvl_stage2_finetune_flickr_364_bs1024_ep10",
                     "cn": "internvl_stage2_finetune_flickrcn_364_bs1024_ep10"}  # fmt: skip


def test_finetuned_cases_are_the_internvl_g_readme_numbers_and_name_it():
    cases = {(c.model, c.language): c for c in _finetuned_cases()}
    assert set(cases) == set(FINETUNED_TABLES)
    for key, table in FINETUNED_TABLES.items():
        case = cases[key]
        assert case.is_gpu and case.dataset == "flickr30k" and case.task == "zeroshot_retrieval"
        assert case.published == case.expected, case.path  # nothing re-snapshotted over a published number
        m = case.published
        full = [m[f"text_retrieval_recall@{k}"] for k in (1, 5, 10)] + [
            m[f"image_retrieval_recall@{k}"] for k in (1, 5, 10)
        ]
        assert tuple(round(100 * v, 1) for v in full) == table, case.path
        # the file names its source document and commit, and never claims to be from the seed README
        assert "internvl_g/README.md" in case.source and "bc288c4e4b150a849bbabfdb1d7ee2479f403af6" in case.source
        assert not from_seed_readme(case)
        assert case.pretrained == f"work_dirs/{FINETUNED_WEIGHTS[key[1]]}"
        assert "InternVL-14B-" in case.pretrained_source and "FT-364px" in case.pretrained_source


def test_finetuned_commands_parse_into_their_cases():
    """The internvl_g README's commands (python3 clip_benchmark/cli.py -> zsbench) mean what the case says, with
    the README's --pretrained path, which the case stores relative to the weights folder."""
    import shlex

    from zsbench.cli import build_parser, config_from_args

    parser = build_parser()
    for case in _finetuned_cases():
        argv = shlex.split(case.command)
        config = config_from_args(parser.parse_args(argv[1:]))
        [(model, pretrained)] = config.models
        assert (model, config.model_type, config.task) == (case.model, "internvl", case.task)
        assert pretrained == f"./{case.pretrained}/"  # exactly the README's ./work_dirs/<run>/
        assert config.datasets == [(case.dataset, None)] and config.languages == [case.language]
        assert config.recall_k == [1, 5, 10]


def test_missing_finetuned_weights_skip_naming_the_folder_and_the_download(pytester):
    """What `pytest -m finetuned benchmarks/` says without the weights: each case skips at setup (no model, no
    data), naming the missing folder and the download of the released fine-tuned checkpoint."""
    start_project(pytester)
    empty = pytester.mkdir("no_weights")
    result = run_project(pytester, "--zs-expected-dir", str(ROOT / "expected"), "--zs-pretrained-dir", str(empty),
                         "-m", "finetuned", "-rs")  # fmt: skip
    result.assert_outcomes(skipped=4)
    for lang, run in FINETUNED_WEIGHTS.items():
        hf = "InternVL-14B-Flickr30K-FT-364px" if lang == "en" else "InternVL-14B-FlickrCN-FT-364px"
        result.stdout.fnmatch_lines([f"*missing weights {empty}/work_dirs/{run}: get them from huggingface-cli "
                                     f"download OpenGVLab/{hf}*"])  # fmt: skip
