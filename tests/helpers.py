"""What several test modules share: the tiny configuration the fast tests run at."""

from __future__ import annotations

import torch

from gptblock import GPTModel

TINY_CFG = {
    "vocab_size": 99,
    "context_length": 16,
    "emb_dim": 32,
    "n_heads": 2,
    "n_layers": 2,
    "drop_rate": 0.1,
    "qkv_bias": False,
}


def tiny_model(seed: int = 0, **overrides) -> GPTModel:
    """A seeded GPTModel at the tiny size, in eval mode."""
    torch.manual_seed(seed)
    return GPTModel({**TINY_CFG, **overrides}).eval()
