"""open_clip checkpoints (``--pretrained FILE``) that must be refused in one line, never evaluated.

Each test writes one bad variant of the embedded tiny model's weights and runs ``zsbench eval`` on it: exit 2, one
``zsbench: error:`` line naming the file and the problem, no result written, no pickled code run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from tests.reliability.conftest import CliResult, leftovers, run_cli  # noqa: E402
from tests.reliability.malicious import GARBAGE, WritesMarker

TINY = "zsbench-tiny-shapes"


@pytest.fixture(scope="module")
def tiny_state():
    from safetensors.torch import load_file

    from zsbench.models.tiny import tiny_weights_path

    return load_file(str(tiny_weights_path()))


def _eval(tmp_path: Path, pretrained: Path | str, model: str = TINY) -> CliResult:
    return run_cli(
        "eval", "--model_type", "open_clip", "--model", model, "--pretrained", pretrained, "--dataset", "shapes",
        "--dataset_root", tmp_path / "data", "--cache_dir", tmp_path / "cache", "--num_workers", "0",
        "--output", tmp_path / "out" / "{dataset}_{model}.json", "--quiet",
    )  # fmt: skip


def _assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.safetensors"))
    assert leftovers(tmp_path) == []


def _save_safetensors(state, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


# -- key mismatches ----------------------------------------------------------------------------------------
def test_missing_key_is_named(tmp_path, tiny_state):
    state = dict(tiny_state)
    del state["text_projection"]
    bad = _save_safetensors(state, tmp_path / "missing.safetensors")
    line = _eval(tmp_path, bad).assert_one_line_error(str(bad), "missing keys 1: text_projection")
    assert "Error(s) in loading state_dict" not in line
    _assert_nothing_written(tmp_path)


def test_many_missing_keys_give_the_first_few_and_the_count(tmp_path, tiny_state):
    state = {k: v for k, v in tiny_state.items() if not k.startswith("transformer.")}
    bad = _save_safetensors(state, tmp_path / "no_text_tower.safetensors")
    n = sum(k.startswith("transformer.") for k in tiny_state)
    line = _eval(tmp_path, bad).assert_one_line_error(f"missing keys {n}: transformer.resblocks.0.", "more)")
    assert line.count("transformer.resblocks") <= 8
    _assert_nothing_written(tmp_path)


def test_unexpected_key_is_named(tmp_path, tiny_state):
    import torch

    bad = _save_safetensors({**tiny_state, "extra_head.weight": torch.zeros(3)}, tmp_path / "extra.safetensors")
    _eval(tmp_path, bad).assert_one_line_error(str(bad), "unexpected keys 1: extra_head.weight")
    _assert_nothing_written(tmp_path)


def test_wrong_shape_names_both_shapes(tmp_path, tiny_state):
    bad = _save_safetensors(
        {**tiny_state, "text_projection": tiny_state["text_projection"][:, :32]}, tmp_path / "shape.safetensors"
    )
    line = _eval(tmp_path, bad).assert_one_line_error(str(bad), "text_projection [64, 32] (expected [64, 64])")
    assert "size mismatch" not in line
    _assert_nothing_written(tmp_path)


def test_wrong_architecture_names_keys(tmp_path):
    from zsbench.models.tiny import tiny_weights_path

    _eval(tmp_path, tiny_weights_path(), model="RN50").assert_one_line_error("missing keys", "wrong shapes", "RN50")
    _assert_nothing_written(tmp_path)


# -- damaged files, every format ---------------------------------------------------------------------------
def _write(tmp_path: Path, tiny_state, fmt: str) -> Path:
    import torch

    if fmt == "safetensors":
        return _save_safetensors(tiny_state, tmp_path / "w.safetensors")
    name = {"pth-zip": "w.pth", "pt-legacy": "w.pt", "bin": "open_clip_pytorch_model.bin"}[fmt]
    torch.save(dict(tiny_state), tmp_path / name, _use_new_zipfile_serialization=fmt != "pt-legacy")
    return tmp_path / name


FORMATS = ["safetensors", "pth-zip", "pt-legacy", "bin"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_damaged_checkpoint_is_one_line(tmp_path, tiny_state, fmt, damage, monkeypatch):
    import open_clip

    path = _write(tmp_path, tiny_state, fmt)
    data = path.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(GARBAGE)

    # refused before open_clip builds anything: the file is checked first
    def no_build(*args, **kwargs):
        raise AssertionError("the model was built before the checkpoint was checked")

    monkeypatch.setattr(open_clip, "create_model_and_transforms", no_build)
    want = {"empty": "empty (0 bytes)", "truncated": "truncated", "garbage": "re-download"}[damage]
    _eval(tmp_path, path).assert_one_line_error(str(path), want, "re-download")
    _assert_nothing_written(tmp_path)


def test_safetensors_cut_in_the_tensor_data(tmp_path, tiny_state):
    path = _save_safetensors(tiny_state, tmp_path / "w.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[:-100])  # header intact, the last tensor short by 100 bytes
    _eval(tmp_path, path).assert_one_line_error(str(path), "truncated", "tensor data")
    _assert_nothing_written(tmp_path)


# -- pickles: Python objects and code ----------------------------------------------------------------------
def test_checkpoint_with_python_objects_says_how_to_convert(tmp_path, tiny_state):
    import torch

    path = tmp_path / "train_ckpt.pth"
    torch.save({"state_dict": dict(tiny_state), "args": argparse.Namespace(lr=0.1)}, path)
    _eval(tmp_path, path).assert_one_line_error(
        str(path), "pickled Python objects", "argparse.Namespace", "will not execute", "re-save", "state_dict"
    )
    _assert_nothing_written(tmp_path)


@pytest.mark.parametrize("fmt", ["pth-zip", "pt-legacy", "bin", "raw-pickle"])
def test_malicious_pickle_never_runs(tmp_path, tiny_state, fmt):
    import pickle

    import torch

    marker = tmp_path / "pwned"
    payload = {**tiny_state, "x": WritesMarker(marker)}
    path = tmp_path / {"pth-zip": "a.pth", "pt-legacy": "a.pt", "bin": "pytorch_model.bin", "raw-pickle": "r.bin"}[fmt]
    if fmt == "raw-pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=fmt != "pt-legacy")

    _eval(tmp_path, path).assert_one_line_error(str(path), "pickled python objects", "will not execute")
    assert not marker.exists(), "zsbench ran code from the checkpoint"
    _assert_nothing_written(tmp_path)

    # the file really is malicious: an unsafe load runs its code (so the test above can fail)
    if fmt == "raw-pickle":
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


def test_torchscript_archive_is_refused(tmp_path):
    import torch

    path = tmp_path / "scripted.pt"
    with warnings.catch_warnings():  # torch.jit is deprecated, still what old openai checkpoints are
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    _eval(tmp_path, path).assert_one_line_error(str(path), "TorchScript", "will not run")
    _assert_nothing_written(tmp_path)


# -- folders -----------------------------------------------------------------------------------------------
def test_local_dir_without_weights_is_refused_not_random(tmp_path):
    from zsbench.models.tiny import PRETRAINED_DIR

    folder = tmp_path / "oc_folder"
    folder.mkdir()
    shutil.copy(PRETRAINED_DIR / "open_clip_config.json", folder)
    _eval(tmp_path, folder).assert_one_line_error(str(folder), "no weights")
    _assert_nothing_written(tmp_path)


def test_wrapped_pth_still_loads_the_same_weights(tmp_path, tiny_state):
    """The good path through zsbench's own reader: a training checkpoint (``state_dict``, ``module.``) loads."""
    import torch

    import zsbench
    from zsbench.models.tiny import tiny_weights_path

    path = tmp_path / "wrapped.pth"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in tiny_state.items()}}, path)
    a = zsbench.load_model("open_clip", TINY, str(path), device="cpu")
    b = zsbench.load_model("open_clip", TINY, str(tiny_weights_path()), device="cpu")
    for (ka, va), (kb, vb) in zip(a.module.state_dict().items(), b.module.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
