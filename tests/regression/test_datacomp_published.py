"""expected/datacomp_open_clip/ holds open_clip's published DataComp results of two models, one case per task, and
they are the numbers of the file they name: checked cell by cell against the rows transcribed below, and the rows
against themselves (the CSV's own "Average perf. on 38 datasets", the retrieval table's recall@1 values)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pytest

from zsbench.engine.aggregate import DATACOMP_MAIN, aggregate_datacomp, datacomp_task
from zsbench.engine.snapshots import from_seed_readme, load_cases

ROOT = Path(__file__).resolve().parents[2]
COMMIT = "f862f86cd92123615a8695ce8bcb6ecc066af452"

# mlfoundations/open_clip docs/openclip_results.csv at COMMIT: the header and the two rows, verbatim.
RESULTS_CSV = """\
name,pretrained,params (M),FLOPs (B),Average perf. on 38 datasets,ImageNet 1k,Caltech-101,CIFAR-10,CIFAR-100,CLEVR Counts,CLEVR Distance,Country211,Describable Textures,EuroSAT,FGVC Aircraft,Food-101,GTSRB,ImageNet Sketch,ImageNet v2,ImageNet-A,ImageNet-O,ImageNet-R,KITTI Vehicle Distance,MNIST,ObjectNet,Oxford Flowers-102,Oxford-IIIT Pet,Pascal VOC 2007,PatchCamelyon,Rendered SST2,RESISC45,Stanford Cars,STL-10,SUN397,SVHN,Flickr,MSCOCO,WinoGAViL,iWildCam,Camelyon17,FMoW,Dollar Street,GeoDE
ViT-B-32,laion2b_s34b_b79k,151.28,14.78,0.5694,0.6656,0.9105,0.9358,0.7555,0.1535,0.2451,0.1667,0.5569,0.4806,0.2453,0.8269,0.4933,0.5366,0.5814,0.2627,0.4995,0.7643,0.2630,0.6996,0.4883,0.7024,0.9076,0.7910,0.5993,0.5728,0.6106,0.8607,0.9656,0.6872,0.4257,0.7544,0.4783,0.4479,0.0930,0.6392,0.1479,0.5666,0.8543
ViT-B-32,openai,151.28,14.78,0.5245,0.6332,0.8758,0.8983,0.6423,0.2320,0.2335,0.1720,0.4436,0.5044,0.1953,0.8400,0.3258,0.4229,0.5592,0.3155,0.4775,0.6933,0.2743,0.4839,0.4431,0.6670,0.8700,0.7640,0.6224,0.5865,0.5362,0.5963,0.9713,0.6248,0.3159,0.6884,0.4028,0.4125,0.0732,0.6061,0.1676,0.5386,0.8217
"""  # noqa: E501
# docs/openclip_retrieval_results.csv at COMMIT, the same two rows: (image R@1, text R@1) of Flickr and MSCOCO and
# "WinoGAViL jaccard score 10-12", a second publication of three of the 38 numbers.
RETRIEVAL = {
    "laion2b_s34b_b79k": {"Flickr": (0.6678, 0.8410), "MSCOCO": (0.3934, 0.5632), "WinoGAViL": 0.4479},
    "openai": {"Flickr": (0.5878, 0.7890), "MSCOCO": (0.3044, 0.5012), "WinoGAViL": 0.4125},
}
HALF_UNIT = 0.00005  # every number in these files is rounded to 4 decimals


def _rows():
    return {row["pretrained"]: row for row in csv.DictReader(io.StringIO(RESULTS_CSV))}


def _cases():
    return [c for c in load_cases(ROOT / "expected") if "datacomp" in c.markers]


def test_each_transcribed_average_is_the_mean_of_its_38_numbers():
    # A typo of 0.004 in one cell moves the mean by 0.0001: more than two roundings allow.
    for pretrained, row in _rows().items():
        cells = [float(v) for k, v in row.items() if k in {t.name for t in DATACOMP_MAIN}]
        assert len(cells) == 38
        mean = math.fsum(cells) / 38
        assert abs(mean - float(row["Average perf. on 38 datasets"])) <= 2 * HALF_UNIT, pretrained


def test_retrieval_cells_agree_with_the_retrieval_table():
    for pretrained, row in _rows().items():
        other = RETRIEVAL[pretrained]
        for name in ("Flickr", "MSCOCO"):  # mean_recall@1 = 0.5 * (text R@1 + image R@1)
            image, text = other[name]
            assert abs(0.5 * (image + text) - float(row[name])) <= 2 * HALF_UNIT, (pretrained, name)
        assert float(row["WinoGAViL"]) == other["WinoGAViL"]


def test_cases_are_the_transcribed_numbers_one_per_task_and_model():
    rows = _rows()
    cases = _cases()
    assert len(cases) == 76
    seen = set()
    for case in cases:
        task = datacomp_task(case.dataset)
        assert task is not None, case.path
        assert (case.model, case.model_type, case.language) == ("ViT-B-32", "open_clip", "en")
        # only the main metric is published; the run's other metrics are shown, not compared
        assert case.published == {task.metric: float(rows[case.pretrained][task.name])}, case.path
        assert case.expected == case.published and case.only_expected_metrics, case.path
        assert case.is_gpu and not from_seed_readme(case)
        assert "docs/openclip_results.csv" in case.source and COMMIT in case.source and task.name in case.source
        assert "datacomp" in case.id and case.path.parent.name == f"{case.model}-{case.pretrained}"
        seen.add((case.pretrained, task.key))
    assert seen == {(p, t.key) for p in rows for t in DATACOMP_MAIN}


def test_the_published_cases_aggregate_to_the_published_average():
    """zsbench build --aggregate datacomp on the published numbers gives the CSV's Average (to its rounding)."""
    records = [{"dataset": c.dataset, "model": c.model, "pretrained": c.pretrained, "task": c.task,
                "language": c.language, "metrics": dict(c.published)} for c in _cases()]  # fmt: skip
    rows = _rows()
    for agg in aggregate_datacomp(records):
        assert agg.n == 38
        assert abs(agg.scores["Average"] - float(rows[agg.pretrained]["Average perf. on 38 datasets"])) <= 2 * HALF_UNIT
        assert agg.scores["ImageNet"] == float(rows[agg.pretrained]["ImageNet 1k"])


def test_commands_parse_into_their_cases_and_name_datacomps_folders():
    """Each case's command means what the case says; its data folder is where DataComp's download_evalsets.py
    puts the task under ./data/datacomp (wds_<task>_test, or hf_cache for the HF datasets sets)."""
    import shlex

    from zsbench.cli import build_parser, config_from_args

    parser = build_parser()
    for case in _cases():
        config = config_from_args(parser.parse_args(shlex.split(case.command)[1:]))
        assert config.models == [(case.model, case.pretrained)] and config.model_type == case.model_type
        assert config.datasets == [(case.dataset, None)] and config.languages == [case.language]
        assert config.task == case.task and config.dataset_root == f"./data/{case.dataset_root}"
        key = datacomp_task(case.dataset).key
        folder = "hf_cache" if key.startswith(("retrieval/", "misc/")) else "wds_" + key.removeprefix(
            "fairness/").replace("/", "-") + "_test"  # fmt: skip
        assert case.dataset_root == f"datacomp/{folder}", case.path


def test_case_names_are_zsbench_datacomp_datasets():
    catalog = pytest.importorskip("zsbench.datasets.catalog.datacomp", reason="the DataComp dataset catalog")
    assert {c.dataset for c in _cases()} == set(catalog.DATACOMP_DATASETS)
    for name, task in catalog.DATACOMP_DATASETS.items():
        mine = datacomp_task(name)
        assert (mine.key, mine.name, mine.metric) == (task.key, task.name, task.main_metric), name
        assert catalog.datacomp_folder(name) in {f"{c.dataset_root}".removeprefix("datacomp/") for c in _cases()}


def test_a_case_compares_only_its_published_main_metric(tmp_path):
    import json

    from zsbench.engine.snapshots import InvalidCase, compare_case, load_snapshot, scan_cases

    source = ROOT / "expected/datacomp_open_clip/ViT-B-32-openai/wds-vtab-caltech101__en.json"
    case = load_snapshot(source)
    main = case.published["mean_per_class_recall"]
    measured = {"acc1": 0.1, "acc5": 0.2, "mean_per_class_recall": main + 0.004}  # acc1/acc5: not published
    assert compare_case(case, measured).passed
    assert not compare_case(case, {**measured, "mean_per_class_recall": main + 0.006}).passed  # tolerance 0.005
    assert not compare_case(case, {"acc1": 0.1}).passed  # the main metric not measured at all
    data = json.loads(source.read_text())
    # without the flag (every other case), a measured metric the snapshot does not list fails, as before
    del data["only_expected_metrics"]
    (tmp_path / "a.json").write_text(json.dumps(data))
    assert not compare_case(load_snapshot(tmp_path / "a.json"), measured).passed
    # a flag that is not a boolean makes that file an invalid case naming the key
    (tmp_path / "a.json").write_text(json.dumps({**data, "only_expected_metrics": "yes"}))
    [entry] = scan_cases(tmp_path)
    assert isinstance(entry, InvalidCase) and '"only_expected_metrics" must be true or false' in entry.error
