"""The embedded tiny CLIP with seeded noise on its image tower: a model that is right about half the time.

Differential tests against CLIP_benchmark need a model whose metrics sit well between chance and 1.0: a
random-weight model predicts one class for every image, and the clean tiny model gets everything right, so neither
would notice labels, classifier columns or captions in the wrong order. Noise 0.15 puts shapes acc1 near 0.5 and
shapes_captions recall@1 near 0.3 (image->text) and 0.15 (text->image).
"""

from __future__ import annotations

from pathlib import Path

NOISE = 0.15
NOISE_SEED = 0


def write_noisy_tiny(path: Path, noise: float = NOISE, seed: int = NOISE_SEED) -> Path:
    """Write the tiny CLIP's state dict (fp32) with ``noise * std`` Gaussian noise on the image tower's matrices."""
    import torch
    from safetensors.torch import load_file

    from zsbench.models.tiny import WEIGHTS_FILE

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in load_file(str(WEIGHTS_FILE)).items():
        if value.is_floating_point():
            value = value.float()
            if key.startswith("visual.") and value.ndim >= 2:
                value = value + noise * value.std() * torch.randn(value.shape, generator=generator)
        state[key] = value
    path = Path(path)
    torch.save(state, path)
    return path
