"""The task objects: what they ask the engine for, and that they score exactly like the metric functions they call."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from zsbench.errors import UnknownNameError, ZsbenchError
from zsbench.tasks import EVAL_IMAGES, TASKS, ImageEmbeddings, Task, TaskSettings, TextEmbeddings, Texts
from zsbench.tasks.base import TaskRegistry
from zsbench.tasks.classification import (
    class_prompts,
    class_weights,
    clip_benchmark_accuracy,
    evaluate_classification,
)
from zsbench.tasks.retrieval import caption_texts, evaluate_retrieval

CLS = TASKS.get("zeroshot_classification")
RET = TASKS.get("zeroshot_retrieval")


def _cls_data(n: int = 20, multilabel: bool = False):
    g = torch.Generator().manual_seed(0)
    targets = (torch.rand(n, 3, generator=g) < 0.5).int().numpy() if multilabel else [i % 3 for i in range(n)]
    return SimpleNamespace(
        task="zeroshot_classification",
        images=list(range(n)),
        classnames=["cat", "dog", "cow"],
        templates=["a {c}.", "photo of {c}"],
        targets=targets,
        multilabel=multilabel,
    )


def _embeddings(n: int, d: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_registry_holds_task_objects():
    assert isinstance(CLS, Task) and CLS.name == "zeroshot_classification"
    assert RET.data_kinds == ("zeroshot_retrieval",)
    assert TASKS.accepting("zeroshot_classification") == [
        "zeroshot_classification",
        "linear_probe",
        "group_classification",
    ]


def test_class_prompts_templates_and_cupl():
    assert class_prompts(["a", "b"], ["x {c}", "{c}!"]) == (["x a", "a!", "x b", "b!"], [0, 0, 1, 1])
    assert class_prompts(["a", "b"], {"b": ["bee"], "a": ["ay", "aa"]}) == (["ay", "aa", "bee"], [0, 0, 1])


def test_classification_texts_and_score_equal_the_metric_functions():
    data = _cls_data()
    image = ImageEmbeddings(_embeddings(20), n_images=20)
    texts = CLS.texts(data, {EVAL_IMAGES: image}, TaskSettings())
    assert texts == Texts(*class_prompts(data.classnames, data.templates))
    text = TextEmbeddings(texts, _embeddings(6, seed=1), cache="disk")
    metrics, info = CLS.score({EVAL_IMAGES: image}, text, data, TaskSettings(batch_size=7))
    weights = class_weights(text.embeddings, torch.tensor(texts.owner), 3)
    assert metrics == evaluate_classification(image.embeddings, weights, torch.tensor(data.targets), batch_size=7)
    prompts_sha = hashlib.sha256("\0".join(texts.texts).encode()).hexdigest()
    assert info == {"n_classes": 3, "n_prompts": 6, "prompts_sha256": prompts_sha, "text_cache": "disk"}
    assert CLS.recorded_settings(TaskSettings()) == {}


def test_classification_leaves_skipped_images_out_of_the_targets():
    data = _cls_data(multilabel=True)
    image = ImageEmbeddings(_embeddings(17), n_images=20, skipped=(0, 5, 19))
    assert image.kept == [i for i in range(20) if i not in (0, 5, 19)]
    text = TextEmbeddings(CLS.texts(data, {EVAL_IMAGES: image}, TaskSettings()), _embeddings(6, seed=1))
    metrics, _ = CLS.score({EVAL_IMAGES: image}, text, data, TaskSettings())
    weights = class_weights(text.embeddings, torch.tensor(text.texts.owner), 3)
    targets = torch.as_tensor(np.asarray(data.targets)[image.kept])
    assert metrics == evaluate_classification(image.embeddings, weights, targets, multilabel=True)
    assert list(metrics) == ["mean_average_precision"]


def test_loaded_classifier_replaces_the_prompts_and_is_saved():
    data = _cls_data()
    image = ImageEmbeddings(_embeddings(20), n_images=20)
    classifier = torch.nn.functional.normalize(_embeddings(6, seed=2)[:3].t(), dim=0)  # (D=6, C=3)
    saved = []
    settings = TaskSettings(classifier=classifier, classifier_source="--load_clfs a.pt", save_classifier=saved.append)
    assert CLS.texts(data, {EVAL_IMAGES: image}, settings) is None  # nothing to encode
    metrics, info = CLS.score({EVAL_IMAGES: image}, None, data, settings)
    assert metrics == evaluate_classification(image.embeddings, classifier, torch.tensor(data.targets))
    assert info["text_cache"] == "loaded" and info["n_prompts"] == 6
    assert len(saved) == 1 and saved[0] is classifier


def test_loaded_classifier_of_the_wrong_shape_is_one_line_before_saving():
    data = _cls_data()
    saved = []
    settings = TaskSettings(
        classifier=torch.ones(6, 4), classifier_source="--load_clfs a.pt", save_classifier=saved.append
    )
    image = ImageEmbeddings(_embeddings(20), n_images=20)
    with pytest.raises(ZsbenchError, match=r"--load_clfs a.pt: classifier shape \(6, 4\) .* = \(6, 3\)"):
        CLS.score({EVAL_IMAGES: image}, None, data, settings)
    assert saved == []


def test_caption_texts_renumber_the_kept_images():
    captions = [["a0", "a1"], ["b0"], ["c0", "c1", "c2"]]
    assert caption_texts(captions) == (["a0", "a1", "b0", "c0", "c1", "c2"], [0, 0, 1, 2, 2, 2])
    assert caption_texts(captions, [0, 2]) == (["a0", "a1", "c0", "c1", "c2"], [0, 0, 1, 1, 1])


def test_retrieval_texts_and_score_equal_the_metric_function():
    data = SimpleNamespace(
        task="zeroshot_retrieval", images=list(range(5)), captions=[[f"{i}-{j}" for j in range(2)] for i in range(5)]
    )
    image = ImageEmbeddings(_embeddings(4), n_images=5, skipped=(3,), cache="memory")
    texts = RET.texts(data, {EVAL_IMAGES: image}, TaskSettings())
    assert texts.texts == ["0-0", "0-1", "1-0", "1-1", "2-0", "2-1", "4-0", "4-1"]
    assert texts.owner == [0, 0, 1, 1, 2, 2, 3, 3]
    text = TextEmbeddings(texts, _embeddings(8, seed=3))
    settings = TaskSettings(recall_k=(2, 1))
    metrics, info = RET.score({EVAL_IMAGES: image}, text, data, settings)
    assert metrics == evaluate_retrieval(image.embeddings, text.embeddings, torch.tensor(texts.owner), (2, 1))
    assert list(info) == ["n_captions", "text_cache", "captions_sha256"] and info["n_captions"] == 8
    assert RET.recorded_settings(settings) == {"recall_k": [2, 1]}


def test_retrieval_bad_k_is_a_value_error_for_the_engine_to_name():
    data = SimpleNamespace(task="zeroshot_retrieval", images=[0, 1], captions=[["a"], ["b"]])
    image = ImageEmbeddings(_embeddings(2), n_images=2)
    text = TextEmbeddings(RET.texts(data, {EVAL_IMAGES: image}, TaskSettings()), _embeddings(2, seed=1))
    with pytest.raises(ValueError, match="recall_k"):
        RET.score({EVAL_IMAGES: image}, text, data, TaskSettings(recall_k=(5,)))


@pytest.mark.parametrize("topk", [(1,), (1, 5), (5, 1, 3)])
def test_clip_benchmark_accuracy_drop_in_equals_the_upstream_arithmetic(topk, fakes):
    g = torch.Generator().manual_seed(7)
    logits = torch.randint(0, 3, (500, 8), generator=g).float()  # many ties
    targets = torch.randint(0, 8, (500,), generator=g)
    assert clip_benchmark_accuracy(logits, targets, topk) == fakes.accuracy(logits, targets, topk)


def test_registry_refuses_unregisters_and_checks_names():
    reg = TaskRegistry()
    reg.register("a", "some.module:TASK")
    reg.refuse("b", "c")
    assert reg.unsupported() == ["b", "c"]
    with pytest.raises(ZsbenchError, match="task 'b' is not supported by zsbench; supported: a"):
        reg.canonical("b")
    with pytest.raises(UnknownNameError, match="unknown task 'x'"):
        reg.canonical("x")
    task = type("B", (Task,), {"name": "b"})()
    reg.register("b", task, aliases=("bee",))
    assert reg.canonical("bee") == "b" and reg.unsupported() == ["c"]
    reg.unregister("bee")
    assert "bee" not in reg and reg.unsupported() == ["b", "c"]


def test_texts_need_one_owner_each():
    with pytest.raises(ValueError, match="2 texts but 1 owners"):
        Texts(["a", "b"], [0])
