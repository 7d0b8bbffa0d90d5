"""The InternVL text tokenizer, with sentencepiece directly (no transformers; notes sections 7 and 11).

Reproduces the reference's slow ``LlamaTokenizer`` (legacy mode) as the clip_benchmark wrappers use it:
``'summarize:'`` prefix, BOS, at most 79 ids, then EOS; right padding with id 0, to the longest row (.pth
adapters) or to 80 (HF adapters).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zsbench.errors import CheckpointError
from zsbench.paths import file_sha256

PREFIX = "summarize:"
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
# The slow tokenizer treats its special tokens' literal text as those tokens (an added-token trie split),
# without stripping the spaces around them. ``<unk>`` and ``</s>`` are golden-tested; ``<s>`` follows from the
# same rule (it is the BOS special token) but is not covered by the golden data.
_SPECIAL = {"<unk>": PAD_ID, "<s>": BOS_ID, "</s>": EOS_ID}
_SPLIT = re.compile("(" + "|".join(re.escape(s) for s in _SPECIAL) + ")")
PADDINGS = ("longest", "max_length")


class InternVLTokenizer:
    """``tokenizer(texts)`` -> int64 tensor (B, L) of right-padded ids."""

    def __init__(self, model_file: str | os.PathLike[str], *, padding: str = "longest", context_length: int = 80):
        import sentencepiece as spm

        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, not {padding!r}")
        self.path = Path(model_file)
        try:
            self.sp = spm.SentencePieceProcessor(model_file=str(self.path))
        except (OSError, RuntimeError) as e:
            raise CheckpointError(f"cannot read the sentencepiece model {self.path}: {e}") from e
        self.padding = padding
        self.context_length = context_length
        self.sha256 = file_sha256(self.path)

    @property
    def vocab_size(self) -> int:
        return int(self.sp.get_piece_size())

    def encode(self, text: str) -> list[int]:
        """Ids of one text with BOS and EOS, truncated to ``context_length`` (EOS kept), unpadded."""
        ids = [BOS_ID]
        for chunk in _SPLIT.split(PREFIX + text):
            if chunk in _SPECIAL:
                ids.append(_SPECIAL[chunk])
            elif chunk:  # each chunk is encoded on its own, so it gets its own leading "▁"
                ids.extend(self.sp.encode(chunk))
        return ids[: self.context_length - 1] + [EOS_ID]

    def batch_ids(self, texts: Sequence[str]) -> list[list[int]]:
        rows = [self.encode(t) for t in texts]
        width = self.context_length if self.padding == "max_length" else max((len(r) for r in rows), default=0)
        return [r + [PAD_ID] * (width - len(r)) for r in rows]

    def __call__(self, texts: Sequence[str]) -> Any:
        import torch

        if isinstance(texts, str):
            texts = [texts]
        return torch.tensor(self.batch_ids(list(texts)), dtype=torch.long)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "sentencepiece(legacy LlamaTokenizer rules)",
            "file": str(self.path),
            "sha256": self.sha256,
            "prefix": PREFIX,
            "padding": self.padding,
            "context_length": self.context_length,
        }
