"""Differential test: zsbench's metrics equal CLIP_benchmark's on the same model and the same data.

Same random-weight open_clip model (the tiny zsbench architecture, so the test runs in seconds), same images in
the same order, same prompts; CLIP_benchmark's own evaluate functions on one side, ``zsbench.evaluate`` (planner,
cache, batched prompts, pure metrics) on the other. Every metric must agree within 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

cb_cls = pytest.importorskip(
    "clip_benchmark.metrics.zeroshot_classification", reason="needs clip-benchmark (pip install -e '.[test]')"
)
cb_ret = pytest.importorskip("clip_benchmark.metrics.zeroshot_retrieval")

import zsbench  # noqa: E402
from zsbench.models.tiny import TINY_MODEL_NAME, register_open_clip_configs  # noqa: E402


def _accuracy_item(output, target, topk=(1,)):
    # clip-benchmark 1.6.2's accuracy() calls float() on a shape-(1,) array, which NumPy >= 2.4 rejects;
    # this is the same arithmetic ending in .item() (bit-identical results).
    pred = output.topk(max(topk), 1, True, True)[1].t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    n = len(target)
    return [float(correct[:k].reshape(-1).float().sum(0, keepdim=True).cpu().numpy().item()) / n for k in topk]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    import open_clip

    register_open_clip_configs()
    torch.manual_seed(1234)
    model = open_clip.create_model(TINY_MODEL_NAME, pretrained=None)
    path = tmp_path_factory.mktemp("weights") / "random_tiny.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def reference(model_file):
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL_NAME, pretrained=str(model_file))
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(TINY_MODEL_NAME)


class _Pairs(torch.utils.data.Dataset):
    def __init__(self, images, targets, transform, classes=()):
        self.images, self.targets, self.transform = images, targets, transform
        self.classes = list(classes)  # CLIP_benchmark reads dataset.classes to decide whether acc5 exists

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images.load_image(i)), self.targets[i]


def _zsbench(model_file, dataset, root, **kw):
    records = zsbench.evaluate(model_type="open_clip", model=TINY_MODEL_NAME, pretrained=str(model_file),
                               datasets=[dataset], dataset_root=str(root), precision="fp32", batch_size=64,
                               num_workers=0, cache_dir="", write_results=False, progress=False, verbose=False,
                               device="cpu", **kw)  # fmt: skip
    return records[0]["metrics"]


def _assert_close(ours: dict, theirs: dict) -> None:
    assert set(ours) == set(theirs), (ours, theirs)
    for key, value in theirs.items():
        if isinstance(value, float) and np.isnan(value):
            assert ours[key] is None, key
        else:
            assert abs(ours[key] - float(value)) <= 1e-6, (key, ours[key], value)


def test_classification_matches(monkeypatch, tmp_path, model_file, reference):
    monkeypatch.setattr(cb_cls, "accuracy", _accuracy_item)
    model, preprocess, tokenizer = reference
    data = zsbench.load_dataset("shapes", tmp_path)
    loader = torch.utils.data.DataLoader(_Pairs(data.images, data.targets, preprocess, data.classnames), batch_size=64)
    theirs = cb_cls.evaluate(model, loader, tokenizer, data.classnames, data.templates, device="cpu", amp=False,
                             verbose=False)  # fmt: skip
    ours = _zsbench(model_file, "shapes", tmp_path)
    _assert_close(ours, theirs)


def test_multilabel_matches(monkeypatch, tmp_path, model_file, reference):
    from zsbench.testing.replicas import write_voc2007

    model, preprocess, tokenizer = reference
    write_voc2007(tmp_path, 12)
    data = zsbench.load_dataset("voc2007_multilabel", tmp_path, allow_incomplete=True)
    targets = [torch.as_tensor(np.asarray(t), dtype=torch.float32) for t in data.targets]
    loader = torch.utils.data.DataLoader(_Pairs(data.images, targets, preprocess, data.classnames), batch_size=64)
    theirs = cb_cls.evaluate(model, loader, tokenizer, data.classnames, data.templates, device="cpu", amp=False,
                             verbose=False)  # fmt: skip
    ours = _zsbench(model_file, "voc2007_multilabel", tmp_path, dataset_options={"allow_incomplete": True})
    _assert_close(ours, theirs)


def test_retrieval_matches(tmp_path, model_file, reference):
    from clip_benchmark.datasets.builder import image_captions_collate_fn

    model, preprocess, tokenizer = reference
    data = zsbench.load_dataset("shapes_captions", tmp_path)
    loader = torch.utils.data.DataLoader(_Pairs(data.images, data.captions, preprocess), batch_size=64,
                                         collate_fn=image_captions_collate_fn)  # fmt: skip
    theirs = cb_ret.evaluate(model, loader, tokenizer, recall_k_list=[1, 5, 10], device="cpu", amp=False)
    ours = _zsbench(model_file, "shapes_captions", tmp_path)
    _assert_close(ours, theirs)
