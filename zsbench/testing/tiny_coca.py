"""A tiny open_clip CoCa with random weights, written as a ``local-dir:`` folder (config + safetensors), for tests of
``--task captioning``: it loads through zsbench's normal ``--pretrained`` path and generates in about a second.

Random weights never emit ``<end_of_text>``, so beam search would run all 30 steps over a 49,408-token vocabulary;
the decoder's output is tilted towards ``<end_of_text>`` (``eos_bias``) so generation ends right after open_clip's
minimum length, still through open_clip's own ``generate``. The captions are nonsense: tests check plumbing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EOS_TOKEN_ID = 49407
WIDTH = 32
CONFIG: dict[str, Any] = {
    "embed_dim": WIDTH,
    "vision_cfg": {
        "image_size": 32,
        "layers": 1,
        "width": WIDTH,
        "patch_size": 8,
        "head_width": 16,
        "attentional_pool": True,
        "attn_pooler_heads": 2,
        "output_tokens": True,
    },
    "text_cfg": {
        "context_length": 76,
        "vocab_size": 49408,  # open_clip's SimpleTokenizer ids (generate's start and end tokens)
        "width": WIDTH,
        "heads": 2,
        "layers": 1,
        "embed_cls": True,
        "output_tokens": True,
    },
    "multimodal_cfg": {
        "context_length": 76,
        "vocab_size": 49408,
        "width": WIDTH,
        "heads": 2,
        "layers": 1,
        "attn_pooler_heads": 2,
    },
    "custom_text": True,
}


def build_tiny_coca(seed: int = 0, eos_bias: float = 3.0) -> Any:
    """The tiny CoCa module in eval mode (seeded)."""
    import open_clip
    import torch

    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = open_clip.CoCa(**{k: v for k, v in CONFIG.items() if k != "custom_text"}).eval()
    finally:
        torch.random.set_rng_state(generator_state)
    with torch.no_grad():
        if eos_bias:
            model.text_decoder.ln_final.bias.add_(1.0)
            model.text_decoder.text_projection[:, EOS_TOKEN_ID] = eos_bias
    return model


def write_tiny_coca(folder: Path, seed: int = 0, eos_bias: float = 3.0) -> Path:
    """``folder`` with ``open_clip_config.json`` and ``open_clip_model.safetensors``; returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = build_tiny_coca(seed, eos_bias)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": CONFIG, "preprocess_cfg": {}}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
    return folder


def greedy_generate(model: Any, image: Any, seq_len: int = 30, min_seq_len: int = 5) -> Any:
    """A stand-in for ``CoCa.generate`` where the installed transformers cannot run open_clip's beam search:
    greedy decoding from the model's own logits, rows shaped as generate returns them (start token first,
    ``<end_of_text>``-terminated, padded with the model's pad id). Only for plumbing tests."""
    import torch

    sot, pad = 49406, getattr(model, "pad_id", 0)
    with torch.no_grad():
        latent, embs = model._encode_image(image)
        out = torch.full((image.shape[0], 1), sot, dtype=torch.long, device=image.device)
        done = torch.zeros(image.shape[0], dtype=torch.bool, device=image.device)
        while out.shape[1] < seq_len and not done.all():
            logits = model(image, out, image_latent=latent, image_embs=embs, output_labels=False)["logits"][:, -1]
            if out.shape[1] < min_seq_len:
                logits[:, EOS_TOKEN_ID] = -float("inf")
            nxt = logits.argmax(-1)
            if out.shape[1] == seq_len - 1:
                nxt[:] = EOS_TOKEN_ID
            nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
            out = torch.cat([out, nxt[:, None]], dim=1)
            done |= nxt == EOS_TOKEN_ID
    return out
