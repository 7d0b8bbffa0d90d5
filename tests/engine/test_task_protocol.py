"""A task is one registry object: a toy task defined in this file runs through the real engine with no engine edit."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from zsbench.cli import main
from zsbench.engine import Engine, build_plan, resolve_task
from zsbench.engine.config import EvalConfig
from zsbench.errors import ZsbenchError
from zsbench.tasks import EVAL_IMAGES, TASKS, Task, Texts
from zsbench.testing import fake


class MeanCosine(Task):
    """Mean cosine between each image and the first-template prompt of its own class."""

    name = "toy_mean_cosine"
    data_kinds = ("zeroshot_classification",)

    def __init__(self) -> None:
        self.seen: list = []  # the settings of every job, to check what reached the task

    def texts(self, data, images, settings):
        names = data.classnames
        return Texts([data.templates[0].format(c=c) for c in names], list(range(len(names))))

    def score(self, images, texts, data, settings):
        self.seen.append(settings)
        image = images[EVAL_IMAGES]
        targets = torch.as_tensor(image.take(data.targets), dtype=torch.long)
        cos = (F.normalize(image.embeddings, dim=-1) * F.normalize(texts.embeddings, dim=-1)[targets]).sum(-1)
        return {"mean_cosine": cos.mean().item()}, {"n_prompts": len(texts.texts.texts), "text_cache": texts.cache}


@pytest.fixture
def toy():
    fake.register()
    for key in fake.CALLS:
        fake.CALLS[key] = 0
    task = MeanCosine()
    TASKS.register(task.name, task)
    yield task
    TASKS.unregister(task.name)


@pytest.fixture
def expected(tmp_path) -> float:
    """The toy metric computed by hand: the fake model on every image and on the three prompts, no engine."""
    from zsbench.datasets import load_dataset
    from zsbench.models import load_model

    fake.register()
    model = load_model("fake", "m", "p", device="cpu", precision="fp32")
    data = load_dataset("fake_cls", tmp_path / "data", split="test", language="en")
    pixels = torch.stack([model.transform(data.images.load_image(i)) for i in range(len(data.images))])
    images = model.encode_image(pixels)
    prompts = model.encode_text(model.tokenize([f"a photo of {c}." for c in data.classnames]))
    value = F.cosine_similarity(images, prompts[torch.tensor(data.targets)], dim=-1).mean().item()
    for key in fake.CALLS:
        fake.CALLS[key] = 0
    return value


def _config(tmp_path, **kw) -> EvalConfig:
    base = dict(
        model_type="fake",
        models=[("m", "p")],
        datasets=[("fake_cls", None)],
        dataset_root=str(tmp_path / "data"),
        output=str(tmp_path / "out" / "{dataset}_{language}_{task}.json"),
        cache_dir="",
        num_workers=0,
        batch_size=7,
        progress=False,
        verbose=False,
        device="cpu",
    )
    return EvalConfig(**{**base, **kw})


def test_registered_task_runs_through_the_engine_on_the_classification_images(toy, expected, tmp_path):
    classification = Engine(_config(tmp_path))
    [cls_record] = classification.run()
    assert fake.CALLS["images"] == 30
    # A second engine on the same embedding cache, with the toy task: the images are not encoded again.
    [record] = Engine(_config(tmp_path, task=toy.name), cache=classification.cache).run()
    assert fake.CALLS["images"] == 30
    assert record["zsbench"]["cache"]["image_embeddings"] == "memory"
    assert cls_record["zsbench"]["cache"]["image_embeddings"] == "miss"
    assert record["task"] == "toy_mean_cosine" and record["dataset"] == "fake_cls"
    assert list(record["metrics"]) == ["mean_cosine"]
    assert record["metrics"]["mean_cosine"] == pytest.approx(expected, rel=1e-6)
    assert record["zsbench"]["n_prompts"] == 3 and record["zsbench"]["recall_k"] is None
    written = json.loads((tmp_path / "out" / "fake_cls_en_toy_mean_cosine.json").read_text())
    assert written["metrics"] == record["metrics"]


def test_registered_task_runs_from_the_cli_on_cached_images(toy, expected, tmp_path):
    def run(*extra: str) -> dict:
        out = tmp_path / "out" / "{dataset}_{task}.json"
        code = main(["eval", "--model_type", "fake", "--model", "m", "--pretrained", "p", "--num_workers", "0",
                     "--dataset", "fake_cls", "--dataset_root", str(tmp_path / "data"),
                     "--cache_dir", str(tmp_path / "cache"), "--output", str(out), "--quiet", *extra])  # fmt: skip
        assert code == 0
        task = extra[-1] if extra else "zeroshot_classification"
        return json.loads((tmp_path / "out" / f"fake_cls_{task}.json").read_text())

    first = run()
    encoded = fake.CALLS["images"]
    assert encoded == 30 and first["zsbench"]["cache"]["image_embeddings"] == "miss"
    record = run("--task", toy.name)
    assert fake.CALLS["images"] == encoded  # the classification run's cache entry, read from disk
    assert record["zsbench"]["cache"]["image_embeddings"] == "disk"
    assert record["metrics"]["mean_cosine"] == pytest.approx(expected, rel=1e-6)


def test_settings_reach_the_task_per_job_without_touching_the_config(toy, tmp_path):
    evaluator = Engine(_config(tmp_path, task=toy.name, recall_k=[1, 5]))
    [(ref, [job])] = build_plan(evaluator.config).by_model()
    model = evaluator.model(ref)
    evaluator.run_job(model, dataclasses.replace(job, recall_k=(2,)))
    evaluator.run_job(model, job)
    first, second = toy.seen
    assert first.recall_k == (2,) and second.recall_k == (1, 5)
    assert first.batch_size == second.batch_size == 7
    assert evaluator.config.recall_k == [1, 5]
    assert first.classifier is None and first.save_classifier is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.recall_k = (3,)


def test_task_names_and_refusals_come_from_the_registry(toy):
    assert resolve_task("fake_cls", toy.name) == toy.name
    assert resolve_task("fake_cls", "auto") == "zeroshot_classification"
    assert TASKS.unsupported() == ["zeroshot_retrieval_with_itm"]
    with pytest.raises(ZsbenchError, match="'zeroshot_retrieval_with_itm' is not supported") as refused:
        resolve_task("fake_cls", "zeroshot_retrieval_with_itm")
    assert (
        "zeroshot_classification, zeroshot_retrieval, linear_probe, image_caption_selection, group_classification, "
        "datacomp_retrieval, image_association, captioning, toy_mean_cosine" in str(refused.value)
    )
    with pytest.raises(ZsbenchError, match="unknown task 'toy_mean_cosin' \\(did you mean 'toy_mean_cosine'\\?\\)"):
        resolve_task("fake_cls", "toy_mean_cosin")
    # Registering a task under a refused name makes it supported; removing it refuses the name again.
    probe = type("Probe", (MeanCosine,), {"name": "zeroshot_retrieval_with_itm"})()
    TASKS.register("zeroshot_retrieval_with_itm", probe)
    try:
        assert resolve_task("fake_cls", "zeroshot_retrieval_with_itm") == "zeroshot_retrieval_with_itm"
        assert "zeroshot_retrieval_with_itm" not in TASKS.unsupported()
    finally:
        TASKS.unregister("zeroshot_retrieval_with_itm")
    with pytest.raises(ZsbenchError, match="not supported"):
        resolve_task("fake_cls", "zeroshot_retrieval_with_itm")


def test_task_must_accept_the_datasets_data(toy, tmp_path):
    with pytest.raises(ZsbenchError, match="'fake_ret' is a zeroshot_retrieval dataset; run it with --task "
                       "zeroshot_retrieval or datacomp_retrieval or captioning or auto"):  # fmt: skip
        resolve_task("fake_ret", toy.name)
    # A job built by hand (as the pytest plugin does) is checked against the loaded data too.
    evaluator = Engine(_config(tmp_path, datasets=[("fake_ret", None)]))
    [(ref, [job])] = build_plan(evaluator.config).by_model()
    with pytest.raises(ZsbenchError, match="'fake_ret' gives zeroshot_retrieval data but task 'toy_mean_cosine'"):
        evaluator.run_job(evaluator.model(ref), dataclasses.replace(job, task=toy.name))


def test_a_task_without_the_jobs_own_images_is_one_line(toy, tmp_path):
    no_images = type("NoImages", (MeanCosine,), {"name": "toy_no_images", "image_sets": lambda self, data: {}})()
    TASKS.register(no_images.name, no_images)
    try:
        evaluator = Engine(_config(tmp_path, task=no_images.name))
        with pytest.raises(ZsbenchError, match="'toy_no_images' asks for no 'eval' image set"):
            evaluator.run()
    finally:
        TASKS.unregister(no_images.name)
    assert fake.CALLS["images"] == 0


def test_registering_under_another_name_is_refused():
    with pytest.raises(ValueError, match="'toy_mean_cosine' registered under another name, 'other'"):
        TASKS.register("other", MeanCosine())
    assert "other" not in TASKS


def test_engine_modules_hold_no_task_specific_code():
    """The engine reaches tasks only through the registry: no task's names, data classes or metric functions."""
    from pathlib import Path

    engine = Path(__file__).resolve().parents[2] / "zsbench" / "engine"
    forbidden = ("ClassificationData", "RetrievalData", "class_weights", "evaluate_classification", "evaluate_retrieval",
                 "CLASSIFICATION", "RETRIEVAL", "isinstance(data")  # fmt: skip
    for name in ("evaluate.py", "runner.py", "records.py"):
        text = (engine / name).read_text()
        found = [f for f in forbidden if f in text]
        assert not found, f"engine/{name} mentions {found}"
