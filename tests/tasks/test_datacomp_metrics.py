"""DataComp's metrics (group_classification, datacomp_retrieval, image_association) on hand-made cases, against
scikit-learn where DataComp / WILDS call it, and against the ``wilds`` package's own metric code when installed
(``pip install wilds``; its metrics need only pandas besides torch and scikit-learn)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from zsbench.tasks.base import EVAL_IMAGES, ImageEmbeddings, TaskSettings, TextEmbeddings, Texts
from zsbench.tasks.datacomp_retrieval import TASK as RETRIEVAL
from zsbench.tasks.group_classification import datacomp_group_metrics, group_eval, macro_f1_recall
from zsbench.tasks.winogavil import cue_prompt, jaccard_scores, predict_associations, winogavil_metrics


def _logits_for(pred: list[int], n_classes: int) -> torch.Tensor:
    """Logits whose argmax is ``pred`` and whose ranking after it is class order."""
    logits = -torch.arange(n_classes, dtype=torch.float32).repeat(len(pred), 1)
    for i, p in enumerate(pred):
        logits[i, p] = 10.0
    return logits


# -- group metrics ---------------------------------------------------------------------------------------------
def test_group_eval_hand_made():
    element = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    groups = torch.tensor([0, 0, 2, 2, 2])
    out = group_eval(element, groups, 3, "acc", "region")
    assert out["acc_avg"] == pytest.approx(0.6)
    assert out["acc_region:0"] == 0.5 and out["count_region:0"] == 2.0
    assert out["acc_region:1"] is None and out["count_region:1"] == 0.0  # empty: DataComp's 0/0 = NaN
    assert out["acc_region:2"] == np.float32(2) / np.float32(3)  # float32, as DataComp's scatter mean
    assert out["acc_wg"] == 0.5  # the empty group is left out of the minimum


def test_fmow_worst_region_includes_other_as_datacomp():
    # region 5 (WILDS' "Other") is the worst: DataComp's evaluator has no region names, so it is not skipped
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    pred = [0, 1, 2, 0, 1, 0]  # only the last sample is wrong
    meta = torch.tensor([[0, 3, 0], [0, 3, 1], [1, 4, 2], [1, 4, 0], [5, 4, 1], [5, 5, 2]], dtype=torch.float64)
    out = datacomp_group_metrics("fmow", _logits_for(pred, 3), targets, meta, ("region", "year", "y"))
    assert out["acc_region:5"] == 0.5 and out["acc_worst_region"] == 0.5
    assert out["acc_region:2"] is None and out["count_region:2"] == 0.0
    assert out["acc_year:5"] == 0.0 and out["acc_worst_year"] == 0.0
    assert "acc_wg" not in out and out["acc_avg"] == pytest.approx(5 / 6)


def test_dollar_street_top5_and_geode():
    targets = torch.tensor([6, 0, 1, 2])
    logits = -torch.arange(8, dtype=torch.float32).repeat(4, 1)  # top-5 = classes 0..4 for every sample
    meta = torch.tensor([[0, 10.5, 1], [0, 20.0, 1], [1, 30.0, 2], [1, 40.0, 2]], dtype=torch.float64)
    out = datacomp_group_metrics("dollar_street", logits, targets, meta, ("income_ds", "income_meta", "region"))
    assert out["acc_top5_income_ds:0"] == 0.5 and out["acc_top5_income_ds:1"] == 1.0
    assert out["acc_top5_wg"] == 0.5 and out["acc_top5_avg"] == 0.75
    geode = datacomp_group_metrics("geode", _logits_for([6, 0, 0, 2], 8), targets, meta[:, [0, 2]], ("region", "c"))
    assert geode["acc_region:0"] == 1.0 and geode["acc_region:1"] == 0.5 and geode["acc_wg"] == 0.5


def test_iwildcam_macro_f1_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for n_classes in (2, 7, 30):
        y = torch.as_tensor(rng.integers(0, n_classes, 200))
        p = torch.as_tensor(np.where(rng.random(200) < 0.5, y.numpy(), rng.integers(0, n_classes + 3, 200)))
        f1, recall = macro_f1_recall(p, y)
        labels = np.unique(y.numpy())
        assert f1 == pytest.approx(metrics.f1_score(y.numpy(), p.numpy(), average="macro", labels=labels), abs=1e-15)
        assert recall == pytest.approx(
            metrics.recall_score(y.numpy(), p.numpy(), average="macro", labels=labels), abs=1e-15
        )
    out = datacomp_group_metrics("iwildcam", _logits_for([0, 1, 1], 3), torch.tensor([0, 1, 2]),
                                 torch.zeros(3, 9, dtype=torch.float64), ("location",) + ("x",) * 8)  # fmt: skip
    assert out["F1-macro_all"] == pytest.approx((1 + 2 / 3 + 0) / 3) and out["recall-macro_all"] == pytest.approx(2 / 3)


def test_unknown_evaluator_and_negative_group_are_refused():
    from zsbench.errors import ZsbenchError

    with pytest.raises(ZsbenchError, match="evaluator"):
        datacomp_group_metrics("nope", torch.zeros(1, 2), torch.tensor([0]), torch.zeros(1, 1), ("x",))
    with pytest.raises(ValueError, match=">= 0"):
        datacomp_group_metrics(
            "geode", torch.zeros(1, 2), torch.tensor([0]), torch.tensor([[-1.0, 0]]), ("region", "c")
        )


# -- retrieval --------------------------------------------------------------------------------------------------
def test_mean_recall_at_1_is_the_mean_of_both_directions():
    images = torch.eye(3)
    texts = torch.tensor([[1.0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0.9, 0.1]])  # caption 1 and 3 point elsewhere
    owner = [0, 1, 2, 2]
    metrics, _ = RETRIEVAL.score(
        {EVAL_IMAGES: ImageEmbeddings(images, 3)},
        TextEmbeddings(Texts(["a", "b", "c", "d"], owner), texts),
        None,
        TaskSettings(recall_k=(2,)),  # 1 is added: DataComp's main metric needs it
    )
    assert metrics["image_retrieval_recall@1"] == pytest.approx(0.25)  # only caption 0 finds its image
    assert metrics["text_retrieval_recall@1"] == pytest.approx(1 / 3)  # image 0's best caption is its own
    assert metrics["mean_recall@1"] == 0.5 * (metrics["text_retrieval_recall@1"] + metrics["image_retrieval_recall@1"])
    assert "image_retrieval_recall@2" in metrics


# -- WinoGAViL --------------------------------------------------------------------------------------------------
def test_cue_prompt():
    assert cue_prompt("Owl") == "An owl"
    assert cue_prompt("moon") == "A moon"
    assert cue_prompt("Umbrella stand") == "An umbrella stand"


def test_jaccard_and_groups_hand_made():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.2])
    pred = predict_associations(scores, 2)
    assert pred.tolist() == [False, True, False, True, False]
    truth = np.array([False, True, True, False, False])
    assert jaccard_scores(truth, pred) == pytest.approx(1 / 3)
    sk = pytest.importorskip("sklearn.metrics")
    assert jaccard_scores(truth, pred) == sk.jaccard_score(truth, pred)
    out = winogavil_metrics([1 / 3, 1.0, 0.5], [5, 10, 12])
    assert out["jaccard_score_6"] is None  # no 6-candidate instance: DataComp's mean of nothing is NaN
    assert out["jaccard_score_5-6"] == pytest.approx(1 / 3) and out["jaccard_score_10-12"] == pytest.approx(0.75)
    assert out["avg_jaccard_score"] == pytest.approx((1 / 3 + 1.5) / 3)


# -- against the wilds package's own metric code (DataComp's evaluators call it) ----------------------------------
@pytest.fixture
def wilds_metrics(monkeypatch):
    pytest.importorskip("wilds", reason="pip install wilds: DataComp's group metrics are the wilds package's")
    import wilds.common.metrics.metric as metric_mod
    import wilds.common.utils as utils

    def avg_over_groups(v, g, n_groups):  # DataComp's stand-in for torch_scatter's mean (a float32 sum / count)
        counts = utils.get_counts(g, n_groups)
        sums = torch.zeros(n_groups, dtype=torch.float).scatter_(0, index=g, src=v, reduce="add")
        return sums / counts, counts

    monkeypatch.setattr(utils, "avg_over_groups", avg_over_groups)
    monkeypatch.setattr(metric_mod, "avg_over_groups", avg_over_groups)
    from wilds.common.grouper import CombinatorialGrouper
    from wilds.common.metrics.all_metrics import F1, Accuracy, Recall
    from wilds.datasets.wilds_dataset import WILDSDataset

    class Meta(WILDSDataset):
        def __init__(self, metadata, fields):
            self._metadata_array = metadata
            self._metadata_fields = list(fields)

    return Meta, CombinatorialGrouper, Accuracy, Recall, F1


def _same(ours: dict, theirs: dict) -> None:
    assert set(theirs) <= set(ours), sorted(set(theirs) - set(ours))
    for key, value in theirs.items():
        if isinstance(value, float) and math.isnan(value):
            assert ours[key] is None, key
        else:
            assert ours[key] == value, (key, ours[key], value)


def test_group_metrics_equal_wilds(wilds_metrics):
    meta_cls, grouper_cls, accuracy, recall, f1 = wilds_metrics
    rng = np.random.default_rng(1)
    n, n_classes = 300, 12
    logits = torch.as_tensor(rng.normal(size=(n, n_classes)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(0, n_classes, n))
    pred = logits.argmax(1)
    top5 = torch.topk(logits, 5, dim=1)[1]

    def wilds_group_eval(metric, field, fields, metadata, y_pred):
        ds = meta_cls(metadata, fields)
        return ds.standard_group_eval(metric, grouper_cls(dataset=ds, groupby_fields=[field]), y_pred, y, metadata)[0]

    # GeoDE (regions 0..5, region 3 empty), Camelyon17 (slides 20..29), Dollar Street (top-5 by income_ds)
    geode = torch.as_tensor(np.stack([rng.choice([0, 1, 2, 4, 5], n), rng.integers(0, 9, n)], 1))
    _same(datacomp_group_metrics("geode", logits, y, geode.double(), ("region", "country")),
          wilds_group_eval(accuracy(), "region", ["region", "country"], geode, pred))  # fmt: skip
    cam = torch.as_tensor(np.stack([np.full(n, 2), rng.integers(20, 30, n), y.numpy()], 1))
    _same(datacomp_group_metrics("camelyon17", logits, y, cam.double(), ("hospital", "slide", "y")),
          wilds_group_eval(accuracy(), "slide", ["hospital", "slide", "y"], cam, pred))  # fmt: skip

    class TopK(accuracy):  # DataComp's TopKAccuracy: the label among the predicted top-k
        def _compute_element_wise(self, y_pred, y_true):
            return (y_pred == y_true.unsqueeze(-1)).any(-1).float()

    ds_meta = torch.as_tensor(np.stack([rng.integers(0, 4, n), rng.integers(1, 99, n), rng.integers(0, 5, n)], 1))
    _same(datacomp_group_metrics("dollar_street", logits, y, ds_meta.double(), ("income_ds", "income_meta", "region")),
          wilds_group_eval(TopK(name="acc_top5"), "income_ds", ["income_ds", "income_meta", "region"], ds_meta, top5))  # fmt: skip

    # iWildCam: overall accuracy and the macro averages over the labels present
    expected = {}
    for metric in (accuracy(), recall(average="macro"), f1(average="macro")):
        expected.update(metric.compute(pred, y))
    iw = torch.zeros(n, 9)
    ours = datacomp_group_metrics("iwildcam", logits, y, iw.double(), ("location",) * 9)
    assert ours["acc_avg"] == expected["acc_avg"]
    # WILDS wraps scikit-learn's value in torch.tensor: float64 with DataComp's pinned scikit-learn 1.1.3 (an
    # np.float64), float32 with today's (a Python float); zsbench keeps float64, so compare at float32 precision
    for key in ("recall-macro_all", "F1-macro_all"):
        assert ours[key] == pytest.approx(expected[key], rel=1e-7), key

    # FMoW: by year (worst renamed acc_worst_year), by region: every non-empty region's accuracy and their minimum
    fm = torch.as_tensor(np.stack([rng.integers(0, 6, n), rng.integers(0, 16, n), y.numpy()], 1))
    by_year = wilds_group_eval(accuracy(), "year", ["region", "year", "y"], fm, pred)
    by_year["acc_worst_year"] = by_year.pop("acc_wg")
    by_region = wilds_group_eval(accuracy(), "region", ["region", "year", "y"], fm, pred)
    region_values = [v for k, v in by_region.items() if k.startswith("acc_region:") and not math.isnan(v)]
    by_year.update({k: v for k, v in by_region.items() if k.startswith(("acc_region:", "count_region:"))})
    by_year["acc_worst_region"] = min(region_values)
    _same(datacomp_group_metrics("fmow", logits, y, fm.double(), ("region", "year", "y")), by_year)
