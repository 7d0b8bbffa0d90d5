"""zsbench build --aggregate: DataComp's Average and group means, VTAB's groups, average rank, on hand-made results."""

from __future__ import annotations

import csv
import json

import pytest

from zsbench.cli import main
from zsbench.engine.aggregate import (
    DATACOMP_MAIN,
    aggregate_datacomp,
    aggregate_vtab,
    average_rank,
    datacomp_task,
    ranks,
    vtab_task,
)

# DataComp's 38 scored tasks (tasklist.yml at 4afedc4, in its order) with their main metrics, transcribed here
# independently of zsbench/engine/aggregate.py. Value of task i (1-based): i / 100.
TASKS = [
    ("vtab/caltech101", "mean_per_class_recall"), ("cifar10", "acc1"), ("vtab/cifar100", "acc1"),
    ("vtab/clevr_count_all", "acc1"), ("vtab/clevr_closest_object_distance", "acc1"), ("country211", "acc1"),
    ("vtab/dtd", "acc1"), ("vtab/eurosat", "acc1"), ("fgvc_aircraft", "mean_per_class_recall"), ("food101", "acc1"),
    ("gtsrb", "acc1"), ("imagenet1k", "acc1"), ("imagenet_sketch", "acc1"), ("imagenetv2", "acc1"),
    ("imagenet-a", "acc1"), ("imagenet-o", "acc1"), ("imagenet-r", "acc1"),
    ("vtab/kitti_closest_vehicle_distance", "acc1"), ("mnist", "acc1"), ("objectnet", "acc1"),
    ("vtab/flowers", "mean_per_class_recall"), ("vtab/pets", "mean_per_class_recall"), ("voc2007", "acc1"),
    ("vtab/pcam", "acc1"), ("renderedsst2", "acc1"), ("vtab/resisc45", "acc1"), ("cars", "acc1"), ("stl10", "acc1"),
    ("sun397", "acc1"), ("vtab/svhn", "acc1"), ("retrieval/flickr_1k_test_image_text_retrieval", "mean_recall@1"),
    ("retrieval/mscoco_2014_5k_test_image_text_retrieval", "mean_recall@1"), ("misc/winogavil", "jaccard_score_10-12"),
    ("wilds/iwildcam", "F1-macro_all"), ("wilds/camelyon17", "acc1"), ("wilds/fmow", "acc_worst_region"),
    ("fairness/dollar_street", "acc_top5_wg"), ("fairness/geode", "acc_wg"),
]  # fmt: skip
# What aggregate_scores.py reports for values i/100, worked out by hand from its DATASET_GROUPS.
KNOWN = {
    "ImageNet": 0.12,  # ImageNet 1k is task 12
    "ImageNet dist. shifts": (13 + 14 + 15 + 16 + 17 + 20) / 6 / 100,  # Sketch, v2, A, O, R, ObjectNet
    "VTAB": (1 + 3 + 4 + 5 + 7 + 8 + 18 + 21 + 22 + 24 + 26 + 29 + 30) / 13 / 100,
    "Retrieval": (31 + 32 + 33) / 3 / 100,  # Flickr, MSCOCO, WinoGAViL
    "Average": 19.5 / 100,  # mean of 1..38 is 19.5
}


def _record(dataset, metrics, model="ViT-B-32", pretrained="openai", **extra):
    return {"dataset": dataset, "model": model, "pretrained": pretrained, "task": "zeroshot_classification",
            "metrics": metrics, "language": "en", **extra}  # fmt: skip


def datacomp_records(model="ViT-B-32", pretrained="openai", skip=(), value=lambda i: i / 100):
    """One result per DataComp task, in the name forms zsbench writes: plain, wds/<task>, wds/ without fairness/;
    each with other metrics beside the main one, and retrieval as the two recall@1 values only for one of them."""
    out = []
    for i, (key, metric) in enumerate(TASKS, 1):
        if key in skip:
            continue
        v = value(i)
        if key.startswith("fairness/"):
            name = "wds/" + key.removeprefix("fairness/")
        elif i % 3 == 0:
            name = "wds/" + key
        else:
            name = key
        if key.startswith("retrieval/flickr"):
            # mean_recall@1 = 0.5 * (text R@1 + image R@1), as DataComp's retr_eval.py defines it
            metrics = {"text_retrieval_recall@1": v + 0.25, "image_retrieval_recall@1": v - 0.25}
            out.append({**_record(name, metrics, model, pretrained), "task": "zeroshot_retrieval"})
            continue
        metrics = {metric: v, "acc5": 0.999} if metric != "acc1" else {"acc1": v, "acc5": 0.999}
        if metric == "mean_per_class_recall":
            metrics["acc1"] = 0.001  # not the main metric: must not be used
        out.append(_record(name, metrics, model, pretrained))
    return out


def write(tmp_path, records, name="results.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_table_is_datacomp_tasklist_minus_the_unscored():
    from zsbench.datasets.hub import DATACOMP_TASKS, DATACOMP_UNSCORED

    assert [t.key for t in DATACOMP_MAIN] == [k for k in DATACOMP_TASKS if k not in DATACOMP_UNSCORED]
    assert [(t.key, t.metric) for t in DATACOMP_MAIN] == TASKS
    groups = {}
    for t in DATACOMP_MAIN:
        groups.setdefault(t.group, []).append(t.name)
    assert sorted(groups["ImageNet dist. shifts"]) == sorted(
        ["ImageNet Sketch", "ImageNet v2", "ImageNet-A", "ImageNet-O", "ImageNet-R", "ObjectNet"]
    )
    assert len(groups["VTAB"]) == 13 and groups["Retrieval"] == ["Flickr", "MSCOCO", "WinoGAViL"]


@pytest.mark.parametrize(
    "name, key",
    [("vtab/caltech101", "vtab/caltech101"), ("wds/vtab/caltech101", "vtab/caltech101"), ("cifar10", "cifar10"),
     ("wds/cifar10", "cifar10"), ("fairness/dollar_street", "fairness/dollar_street"),
     ("wds/fairness/dollar_street", "fairness/dollar_street"), ("wds/dollar_street", "fairness/dollar_street"),
     ("caltech101", None), ("cifar100", None), ("dollar_street", None), ("retrieval/flickr30k", None),
     ("flickr30k", None)],
)  # fmt: skip
def test_a_result_is_matched_to_a_datacomp_task_by_its_name(name, key):
    task = datacomp_task(name)
    assert (task.key if task else None) == key


def test_full_set_gives_the_known_average_and_groups():
    [agg] = aggregate_datacomp(datacomp_records())
    assert (agg.n, agg.of, agg.missing) == (38, 38, [])
    for column, value in KNOWN.items():
        assert agg.scores[column] == pytest.approx(value, abs=1e-12), column


def test_one_main_metric_changed_moves_the_average_by_delta_over_38():
    delta = 0.0123
    base = aggregate_datacomp(datacomp_records())[0].scores
    for changed in (1, 12, 31, 37):  # caltech101 (mean_per_class_recall), imagenet1k, flickr (derived), dollar_street
        moved = aggregate_datacomp(datacomp_records(value=lambda i, c=changed: i / 100 + (delta if i == c else 0)))
        assert moved[0].scores["Average"] - base["Average"] == pytest.approx(delta / 38, abs=1e-12), changed
    # a metric that is not the main one (acc1 of a mean_per_class_recall task, acc5) changes nothing
    records = datacomp_records()
    for r in records:
        r["metrics"]["acc5"] = 0.5
        if r["dataset"].endswith("caltech101"):
            r["metrics"]["acc1"] = 0.9
    assert aggregate_datacomp(records)[0].scores == base


def test_non_english_linear_probe_and_other_names_are_not_datacomp_results():
    records = datacomp_records()
    records.append(_record("imagenet1k", {"acc1": 0.99}, language="cn"))  # another language of the same model
    records.append({**_record("cifar10", {"lp_acc1": 0.99}), "task": "linear_probe"})
    records.append(_record("caltech101", {"mean_per_class_recall": 0.99}))  # not VTAB's split
    assert aggregate_datacomp(records)[0].scores["Average"] == pytest.approx(0.195, abs=1e-12)


def test_partial_set_is_averaged_only_when_asked_and_says_what_is_missing():
    records = datacomp_records(skip=("wilds/fmow",))
    [agg] = aggregate_datacomp(records, allow_partial=True)
    assert (agg.n, agg.missing) == (37, ["wilds/fmow"])
    assert agg.scores["Average"] == pytest.approx((741 - 36) / 37 / 100, abs=1e-12)
    assert agg.scores["VTAB"] == pytest.approx(KNOWN["VTAB"], abs=1e-12)  # groups it does not touch


def test_build_refuses_37_in_one_line_and_writes_nothing(tmp_path, capsys):
    results = write(tmp_path, datacomp_records(skip=("wilds/fmow",)))
    out = tmp_path / "b.csv"
    rc = main(["build", str(results), "--output", str(out), "--aggregate", "datacomp"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for needle in ("37 of DataComp's 38", "wilds/fmow", "--allow_partial", "ViT-B-32 openai"):
        assert needle in err
    assert not out.exists()


def test_build_aggregate_prints_and_writes_csv_rows_and_markdown(tmp_path, capsys):
    records = datacomp_records() + datacomp_records(pretrained="laion2b_s34b_b79k", value=lambda i: i / 100 + 0.01)
    results = write(tmp_path, records)
    out, md = tmp_path / "b.csv", tmp_path / "b.md"
    assert main(["build", str(results), "--output", str(out), "--markdown", str(md), "--aggregate", "datacomp"]) == 0
    printed = capsys.readouterr().out
    assert "| ViT-B-32 | openai | 38/38 | 0.1200 | 0.1583 | 0.1523 | 0.3200 | 0.1950 |" in printed
    assert "| ViT-B-32 | laion2b_s34b_b79k | 38/38 |" in printed and "0.2050 |" in printed
    rows = [r for r in csv.DictReader(out.open()) if r["task"] == "aggregate"]
    assert [(r["dataset"], r["pretrained"]) for r in rows] == [("datacomp", "openai"),
                                                               ("datacomp", "laion2b_s34b_b79k")]  # fmt: skip
    assert float(rows[0]["Average"]) == pytest.approx(0.195, abs=1e-12) and float(rows[0]["tasks"]) == 38
    assert "DataComp: main metrics averaged" in md.read_text() and "0.1950" in md.read_text()


def test_build_allow_partial_marks_the_partial_average(tmp_path, capsys):
    results = write(tmp_path, datacomp_records(skip=("wilds/fmow", "misc/winogavil")))
    out = tmp_path / "b.csv"
    assert main(["build", str(results), "--output", str(out), "--aggregate", "datacomp", "--allow_partial"]) == 0
    printed = capsys.readouterr().out
    assert "| 36/38 |" in printed and "PARTIAL: ViT-B-32 openai averages 36 of 38 tasks; missing: misc/winogavil, " \
        "wilds/fmow" in printed  # fmt: skip
    [row] = [r for r in csv.DictReader(out.open()) if r["task"] == "aggregate"]
    assert float(row["tasks"]) == 36


VTAB_NAMES = {
    "natural": ["vtab/caltech101", "vtab/cifar100", "vtab/dtd", "vtab/flowers", "vtab/pets", "sun397", "vtab/svhn"],
    "specialized": ["vtab/pcam", "vtab/eurosat", "vtab/resisc45", "vtab/diabetic_retinopathy"],
    "structured": ["vtab/clevr_count_all", "vtab/clevr_closest_object_distance", "vtab/dmlab",
                   "vtab/kitti_closest_vehicle_distance", "vtab/dsprites_label_x_position",
                   "vtab/dsprites_label_orientation", "vtab/smallnorb_label_azimuth", "vtab/smallnorb_label_elevation"],
}  # fmt: skip


def test_vtab_groups_cover_clip_benchmarks_vtab_collection():
    from zsbench.engine.plan import DATASET_COLLECTIONS

    assert sorted(n for names in VTAB_NAMES.values() for n in names) == sorted(DATASET_COLLECTIONS["vtab"])
    assert vtab_task("wds/vtab/dmlab") == "vtab/dmlab" and vtab_task("wds/sun397") == "sun397"
    assert vtab_task("cifar100") is None


def test_vtab_group_means():
    group_value = {"natural": 0.7, "specialized": 0.8, "structured": 0.3}
    records = [_record(n, {"acc1": group_value[g] + (0.01 if i == 0 else 0)})
               for g, names in VTAB_NAMES.items() for i, n in enumerate(names)]  # fmt: skip
    records.append(_record("vtab/cifar10", {"acc1": 0.99}))  # vtab+ only: not one of VTAB's 19
    [agg] = aggregate_vtab(records)
    assert agg.scores["natural"] == pytest.approx(0.7 + 0.01 / 7, abs=1e-12)
    assert agg.scores["specialized"] == pytest.approx(0.8 + 0.01 / 4, abs=1e-12)
    assert agg.scores["structured"] == pytest.approx(0.3 + 0.01 / 8, abs=1e-12)
    assert agg.scores["mean"] == pytest.approx((7 * 0.7 + 4 * 0.8 + 8 * 0.3 + 0.03) / 19, abs=1e-12)
    with pytest.raises(Exception, match="18 of VTAB's 19"):
        aggregate_vtab(records[1:])


def test_ranks_share_ties_as_the_mean_rank():
    assert ranks([0.5, 0.9, 0.5, 0.1]) == [2.5, 1.0, 2.5, 4.0]
    assert ranks([0.3, 0.3, 0.3]) == [2.0, 2.0, 2.0]


def test_average_rank_over_the_datasets_every_model_has(tmp_path, capsys):
    m = [("A", "a"), ("B", "b"), ("C", "c")]
    scores = {"cifar10": (0.9, 0.8, 0.8), "mnist": (0.5, 0.6, 0.7), "vtab/caltech101": (0.4, 0.4, 0.9)}
    records = []
    for dataset, values in scores.items():
        for (model, pre), v in zip(m, values, strict=True):
            # vtab/caltech101 ranks on DataComp's main metric, mean_per_class_recall, not on acc1
            metrics = {"mean_per_class_recall": v, "acc1": 1 - v} if dataset == "vtab/caltech101" else {"acc1": v}
            records.append(_record(dataset, metrics, model, pre))
    records.append(_record("stl10", {"acc1": 0.99}, "A", "a"))  # only A: left out, not ranked
    records.append({**_record("flickr30k", {"image_retrieval_recall@1": 0.2, "text_retrieval_recall@1": 0.4},
                              "A", "a"), "task": "zeroshot_retrieval"})  # fmt: skip
    table = average_rank(records)
    # cifar10: A 1, B 2.5, C 2.5; mnist: C 1, B 2, A 3; caltech101 (mean_per_class_recall): C 1, A 2.5, B 2.5
    assert table.mean_rank == {("A", "a"): pytest.approx(6.5 / 3), ("B", "b"): pytest.approx(7 / 3),
                               ("C", "c"): pytest.approx(4.5 / 3)}  # fmt: skip
    assert table.models == [("C", "c"), ("A", "a"), ("B", "b")]
    assert table.left_out == ["stl10 [en]", "flickr30k [en]"]
    results = write(tmp_path, records)
    assert main(["build", str(results), "--output", str(tmp_path / "b.csv"), "--aggregate", "rank"]) == 0
    printed = capsys.readouterr().out
    assert "| C | c | 1.50 |" in printed and "| B | b | 2.33 |" in printed
    assert "vtab/caltech101 [en] (mean_per_class_recall)" in printed and "Left out" in printed
    # ranks are lower-is-better: never CSV rows that `zsbench compare` would read as scores
    assert all(r["task"] != "aggregate" for r in csv.DictReader((tmp_path / "b.csv").open()))


def test_compare_gates_on_the_datacomp_average_of_two_builds(tmp_path, capsys):
    base = write(tmp_path, datacomp_records(), "base.jsonl")
    worse = write(tmp_path, datacomp_records(value=lambda i: i / 100 - (0.38 if i == 1 else 0)), "new.jsonl")
    for results, out in ((base, "base.csv"), (worse, "new.csv")):
        assert main(["build", str(results), "--output", str(tmp_path / out), "--aggregate", "datacomp"]) == 0
    capsys.readouterr()
    # one main metric 38 points lower: the Average drops by exactly 1 point
    assert main(["compare", str(tmp_path / "base.csv"), str(tmp_path / "new.csv"), "--fail", "Average:0.9pp"]) == 1
    assert main(["compare", str(tmp_path / "base.csv"), str(tmp_path / "new.csv"), "--fail", "Average:1.1pp"]) == 0
