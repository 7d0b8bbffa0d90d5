"""Adapters on one checkpoint share the network while a model is alive; nothing is kept alive by the sharing."""

from __future__ import annotations

import gc

import pytest

from zsbench.models.internvl import load
from zsbench.testing.shared import require_shared


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from zsbench.testing.internvl_tiny import write_tiny_checkpoints

    tokenizer = require_shared("seed_data/internvl_tokenizer/tokenizer.model")
    return write_tiny_checkpoints(tmp_path_factory.mktemp("ck"), tokenizer)


def test_classification_and_retrieval_adapters_share_one_network(ckpt):
    folder = str(ckpt.hf_folder)
    cls = load("internvl_c_classification_hf", folder, device="cpu", precision="fp32")
    ret = load("internvl_c_retrieval_hf", folder, device="cpu", precision="fp32")
    assert ret.module is cls.module
    assert repr(ret.transform) != repr(cls.transform)  # only the transform differs
    g = load("internvl_g_retrieval_hf", folder, device="cpu", precision="fp32")
    assert g.module is not cls.module  # G mode needs the query branch: another network
    bf16 = load("internvl_c_retrieval_hf", folder, device="cpu", precision="bf16")
    assert bf16.module is not cls.module


def test_sharing_keeps_nothing_alive(ckpt):
    import weakref

    m = load("internvl_c_classification_hf", str(ckpt.hf_folder), device="cpu", precision="fp32")
    ref = weakref.ref(m.module)
    del m
    gc.collect()
    assert ref() is None
