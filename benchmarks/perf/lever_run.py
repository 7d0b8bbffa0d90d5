"""``zsbench eval`` with changes applied from outside, for ``levers.py``'s on/off measurements.

    python benchmarks/perf/lever_run.py [--with CHANGE]... -- <zsbench eval arguments>

A change switches off one of zsbench's default levers (zsbench has no switch for them: they do not change a
number) or tries one that is not a default (channels-last, one compute thread). The process is otherwise
``python -m zsbench eval ...``; both sides of a measurement run through this script, so its own cost is on both.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _full_imports() -> None:
    # open_clip imported the ordinary way before zsbench can import it light (transformers, timm, torch._dynamo).
    import open_clip  # noqa: F401


def _random_init_mha() -> None:
    # zsbench's _no_init as before: only torch.nn.init's functions, so nn.MultiheadAttention still draws its
    # random in_proj weights (the names it bound from torch.nn.init at import).
    import contextlib

    import torch

    import zsbench.models.open_clip as oc

    original = oc._no_init

    @contextlib.contextmanager
    def partial_no_init(enabled: bool):  # type: ignore[no-untyped-def]
        bound = {n: getattr(torch.nn.modules.activation, n) for n in ("xavier_uniform_", "xavier_normal_", "constant_")}
        with original(enabled):
            for n, fn in bound.items():  # put the real ones back where MultiheadAttention looks them up
                setattr(torch.nn.modules.activation, n, fn)
            yield

    oc._no_init = partial_no_init


def _default_malloc() -> None:
    # glibc's own mmap/trim thresholds: zsbench.engine.encode.keep_freed_memory does nothing.
    import zsbench.engine.encode as encode

    encode._allocator_tuned = False


def _untrimmed_text() -> None:
    # open_clip's own encode_text over all 77 positions (CLIP_benchmark's); the cache key says "full".
    import zsbench.models.open_clip as oc

    oc._trimmed_encode_text = lambda module: None


def _no_mha_fastpath() -> None:
    import torch

    torch.backends.mha.set_fastpath_enabled(False)


def _no_mkldnn() -> None:
    import torch

    torch.backends.mkldnn.enabled = False


def _channels_last() -> None:
    # Channels-last input batches (and image tower) instead of contiguous NCHW.
    import torch

    import zsbench.models.base as base

    original = base.ZeroShotModel.encode_image

    def encode_image(self, pixels):  # type: ignore[no-untyped-def]
        if self.module is not None and not getattr(self, "_zs_cl", False):
            self.module.visual.to(memory_format=torch.channels_last)
            self._zs_cl = True
        return original(self, pixels.contiguous(memory_format=torch.channels_last))

    base.ZeroShotModel.encode_image = encode_image


def _threads(n: int) -> Callable[[], None]:
    def apply() -> None:
        import torch

        torch.set_num_threads(n)

    return apply


CHANGES: dict[str, Callable[[], None]] = {
    "full_imports": _full_imports,
    "default_malloc": _default_malloc,
    "random_init_mha": _random_init_mha,
    "untrimmed_text": _untrimmed_text,
    "no_mha_fastpath": _no_mha_fastpath,
    "no_mkldnn": _no_mkldnn,
    "channels_last": _channels_last,
    "threads1": _threads(1),
}


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if "--" not in argv:
        print("usage: lever_run.py [--with CHANGE]... -- <zsbench eval arguments>", file=sys.stderr)
        return 2
    cut = argv.index("--")
    ours, rest = argv[:cut], argv[cut + 1 :]
    for i, arg in enumerate(ours):
        if arg == "--with":
            name = ours[i + 1]
            if name not in CHANGES:
                print(f"unknown change {name!r}; valid: {', '.join(CHANGES)}", file=sys.stderr)
                return 2
            CHANGES[name]()
    from zsbench.cli import main as zsbench_main
    from zsbench.models.open_clip_import import enable_light_imports

    enable_light_imports()  # as `python -m zsbench` does (main() with argv given leaves it to the caller)
    return zsbench_main(["eval", *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
