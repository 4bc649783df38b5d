"""The transformer block: attention and a feed-forward network, each behind a shortcut."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from gptblock.attention import MultiHeadAttention
from gptblock.checks import check_hidden_states, check_sequence_length
from gptblock.config import GPT_CONFIG_124M, check_config
from gptblock.feed_forward import FeedForward
from gptblock.layer_norm import LayerNorm


class TransformerBlock(nn.Module):
    """One GPT-2 transformer block (pre-LayerNorm), repeated ``n_layers`` times in the model.

    ``x + drop(att(norm1(x)))``, then ``x + drop(ff(norm2(x)))``: the shape never changes.

    Args:
        cfg: a model configuration; defaults to :data:`gptblock.GPT_CONFIG_124M`.

    Shapes:
        ``(batch, num_tokens, emb_dim) -> (batch, num_tokens, emb_dim)``

    Example:
        >>> import torch
        >>> from gptblock import TransformerBlock
        >>> block = TransformerBlock()
        >>> sum(p.numel() for p in block.parameters())
        7085568
        >>> block(torch.rand(2, 4, 768)).shape
        torch.Size([2, 4, 768])
    """

    def __init__(self, cfg: Mapping[str, Any] = GPT_CONFIG_124M) -> None:
        super().__init__()
        cfg = check_config(cfg)
        self.emb_dim = cfg["emb_dim"]
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            dropout=cfg["drop_rate"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_hidden_states(x, self.emb_dim, "TransformerBlock")
        check_sequence_length(x.shape[1], self.att.context_length, "TransformerBlock")
        # Sub-block 1: attention
        shortcut = x  # shortcut connection around the attention sub-block
        x = self.norm1(x)
        x = self.att(x)  # (b, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut

        # Sub-block 2: feed-forward network
        shortcut = x  # shortcut connection around the feed-forward sub-block
        x = self.norm2(x)
        x = self.ff(x)  # (b, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut  # add the original input back
        return x
