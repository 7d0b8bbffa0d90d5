#!/usr/bin/env python
"""Train zsbench's embedded tiny CLIP on the procedural shapes stream and save it under pretrained/.

    HF_HUB_OFFLINE=1 python scripts/train_tiny_clip.py

Deterministic: fixed seed, fixed step count (never wall time: a step takes 0.3-0.5 s on a shared 2-core
machine), fixed thread count (changing it changes the bits). Training samples come from
``SPLIT_SEEDS["train"]``, which the evaluation splits never use. The final evaluation follows
CLIP_benchmark's protocol (normalised, template-averaged classifier; R@k as hit@k) on the fp16 weights
as saved, and the numbers go into ``training.json`` next to the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before open_clip/transformers are imported
# On a shared machine, spinning OpenMP threads made steps 10x slower (0.2 s -> 2-5 s); passive waiting
# keeps them at ~0.4 s. It does not change the arithmetic, so the weights stay bit-identical.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from zsbench.datasets.loaders import shapes  # noqa: E402
from zsbench.models import tiny  # noqa: E402
from zsbench.tasks.classification import class_prompts, class_weights, evaluate_classification  # noqa: E402
from zsbench.tasks.retrieval import caption_texts, evaluate_retrieval  # noqa: E402


class TrainStream(torch.utils.data.Dataset):
    """Sample ``i`` of the training stream: (pixels, tokens), a pure function of ``i``."""

    def __init__(self, n: int, preprocess: Any, tokenizer: Any) -> None:
        self.n = n
        self.preprocess = preprocess
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        seed = shapes.SPLIT_SEEDS["train"]
        s = shapes.render_sample(seed, i)
        # Besides the five reference captions, shape-only texts: zero-shot prompts name only the shape.
        texts = [*s.captions, f"a {s.shape}", f"a {s.size} {s.shape}"]
        rng = np.random.default_rng([seed, i, 1])
        text = texts[int(rng.integers(len(texts)))]
        return self.preprocess(s.image), self.tokenizer([text])[0]


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


@torch.no_grad()
def evaluate(model: Any, preprocess: Any, tokenizer: Any, data_root: Path) -> dict[str, float]:
    """acc1/acc5/mean-per-class recall on ``shapes`` and R@1/R@5 both ways on ``shapes_captions``.

    The metrics are zsbench's own task functions (CLIP_benchmark's definitions); only the encoding is done here,
    on the training model as it is.
    """
    model.eval()
    cls = shapes.load_shapes(data_root)
    prompts, prompt_class = class_prompts(cls.classnames, cls.templates)
    weights = class_weights(model.encode_text(tokenizer(prompts)), torch.tensor(prompt_class), len(cls.classnames))
    pix = torch.stack([preprocess(cls.images.load_image(i)) for i in range(len(cls.images))])
    out: dict[str, Any] = evaluate_classification(model.encode_image(pix), weights, torch.tensor(cls.targets))

    ret = shapes.load_shapes_captions(data_root)
    pix = torch.stack([preprocess(ret.images.load_image(i)) for i in range(len(ret.images))])
    captions, owner = caption_texts(ret.captions)
    out.update(
        evaluate_retrieval(
            model.encode_image(pix), model.encode_text(tokenizer(captions)), torch.tensor(owner), recall_k=(1, 5)
        )
    )
    return {k: round(v, 4) for k, v in out.items() if v is not None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch_size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight_decay", type=float, default=0.1)
    ap.add_argument("--warmup", type=float, default=0.05, help="fraction of steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--eval_every", type=int, default=600)
    ap.add_argument("--data_root", type=Path, default=Path(os.path.expanduser("~/.cache/zsbench/datasets")))
    ap.add_argument("--out", type=Path, default=tiny.PRETRAINED_DIR)
    args = ap.parse_args(argv)

    import open_clip
    from safetensors.torch import save_file

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tiny.register_open_clip_configs()
    model, _, preprocess = open_clip.create_model_and_transforms(tiny.TINY_MODEL_NAME, pretrained=None)
    tokenizer = open_clip.get_tokenizer(tiny.TINY_MODEL_NAME)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {tiny.TINY_MODEL_NAME}: {n_params / 1e6:.2f} M parameters", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "logit_scale" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "logit_scale" in n]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    warm = max(1, int(args.warmup * args.steps))

    def lr_at(step: int) -> float:
        if step < warm:
            return args.lr * (step + 1) / warm
        return 0.5 * args.lr * (1 + math.cos(math.pi * (step - warm) / max(1, args.steps - warm)))

    loader = torch.utils.data.DataLoader(
        TrainStream(args.steps * args.batch_size, preprocess, tokenizer),
        batch_size=args.batch_size,
        shuffle=False,  # the stream is already random; sequential keeps runs identical
        num_workers=args.workers,
        worker_init_fn=_worker_init,
        persistent_workers=args.workers > 0,
    )
    history = []
    t0 = time.time()
    model.train()
    for step, (pix, tok) in enumerate(loader):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        img, txt, scale = model(pix, tok)[:3]
        logits = scale * img @ txt.T
        labels = torch.arange(len(pix))
        loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():  # CLIP's clamp of the temperature
            model.logit_scale.clamp_(0, math.log(100))
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:5d} loss {loss.item():.4f} lr {lr_at(step):.2e} {time.time() - t0:6.0f}s", flush=True)
        if args.eval_every and step and step % args.eval_every == 0:
            m = evaluate(model, preprocess, tokenizer, args.data_root)
            history.append({"step": step, **m})
            print(f"eval step {step}: {m}", flush=True)
            model.train()
    train_s = time.time() - t0

    # Save fp16 (the fp32 file would exceed the 10 MB budget; the metrics agree to the third decimal).
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / tiny.WEIGHTS_FILE.name
    sd = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(weights), metadata={"format": "pt", "model": tiny.TINY_MODEL_NAME})
    cfg = json.loads(tiny.CONFIG_PATH.read_text())
    pp = {k: v for k, v in preprocess_cfg_of(model).items()}
    (args.out / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": cfg, "preprocess_cfg": pp}, indent=2) + "\n"
    )

    # Final numbers: the saved fp16 file, loaded the way users load it (fp32 compute, eval mode).
    final_model, _, final_pp = open_clip.create_model_and_transforms(tiny.TINY_MODEL_NAME, pretrained=str(weights))
    final_model.eval()
    metrics = evaluate(final_model, final_pp, tokenizer, args.data_root)
    print(f"final (fp16 weights as saved): {metrics}", flush=True)
    targets = {"acc1": 0.80, "text_retrieval_recall@5": 0.80}
    met = all(metrics[k] >= v for k, v in targets.items())
    settings = {
        "model": tiny.TINY_MODEL_NAME,
        "architecture": cfg,
        "parameters": n_params,
        "command": "HF_HUB_OFFLINE=1 python scripts/train_tiny_clip.py " + " ".join(argv or sys.argv[1:]),
        "args": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in ("out", "data_root")
        },
        "data": {
            "generator": shapes.__name__,
            "generator_version": shapes.GENERATOR_VERSION,
            "train_seed": shapes.SPLIT_SEEDS["train"],
            "eval_seeds": {k: v for k, v in shapes.SPLIT_SEEDS.items() if k != "train"},
            "text_choice": "uniform over the 5 reference captions + 'a {shape}' + 'a {size} {shape}'",
        },
        "optimizer": "AdamW betas (0.9, 0.98) eps 1e-6, no decay on 1-d params and logit_scale; warm-up then cosine",
        "loss": "symmetric InfoNCE with the learned logit_scale (clamped to 100)",
        "train_seconds": round(train_s, 1),
        "weights_file": weights.name,
        "weights_dtype": "float16",
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "weights_bytes": weights.stat().st_size,
        "final_metrics": metrics,
        "eval_protocol": "CLIP_benchmark: normalised template-averaged classifier; recall@k = hit@k; fp32, eval()",
        "targets": targets,
        "targets_met": met,
        "history": history,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "open_clip": open_clip.__version__,
            "numpy": np.__version__,
        },
    }
    (args.out / tiny.SETTINGS_FILE.name).write_text(json.dumps(settings, indent=2) + "\n")
    print(f"saved {weights} ({weights.stat().st_size / 1e6:.2f} MB); targets {'MET' if met else 'MISSED'}", flush=True)
    return 0 if met else 1


def preprocess_cfg_of(model: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from open_clip.transform import PreprocessCfg

    cfg = getattr(model.visual, "preprocess_cfg", None) or asdict(PreprocessCfg())
    return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}


if __name__ == "__main__":
    raise SystemExit(main())
