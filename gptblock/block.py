"""The transformer block: attention and a feed-forward network, each behind a shortcut."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from gptblock.attention import MultiHeadAttention
from gptblock.checks import check_cache, check_hidden_states, check_positions, mark_inner
from gptblock.config import GPT_CONFIG_124M, check_config
from gptblock.feed_forward import FeedForward
from gptblock.kv_cache import LayerKVCache
from gptblock.layer_norm import LayerNorm


class TransformerBlock(nn.Module):
    """One GPT-2 transformer block (pre-LayerNorm), repeated ``n_layers`` times in the model.

    ``x + drop(att(norm1(x)))``, then ``x + drop(ff(norm2(x)))``: the shape never changes.

    Args:
        cfg: a model configuration; defaults to :data:`gptblock.GPT_CONFIG_124M`.
        attn_impl: the attention path, ``"auto"``, ``"explicit"`` or ``"sdpa"``
            (see :class:`~gptblock.MultiHeadAttention`).

    Shapes:
        ``(batch, num_tokens, emb_dim) -> (batch, num_tokens, emb_dim)``

    Raises:
        ValueError: a bad configuration or ``attn_impl``.

    Example:
        >>> import torch
        >>> from gptblock import TransformerBlock
        >>> block = TransformerBlock()
        >>> sum(p.numel() for p in block.parameters())
        7085568
        >>> block(torch.rand(2, 4, 768)).shape
        torch.Size([2, 4, 768])
    """

    def __init__(self, cfg: Mapping[str, Any] = GPT_CONFIG_124M, *, attn_impl: str = "auto") -> None:
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
            attn_impl=attn_impl,
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])
        self._checks_input = True  # False inside a GPTModel, whose forward checks the input
        mark_inner(self.att, self.ff, self.norm1, self.norm2)  # the block checks their input

    def forward(self, x: torch.Tensor, cache: LayerKVCache | None = None) -> torch.Tensor:
        """Run the block on ``x``; with a ``cache``, ``x`` holds the positions after the cached ones."""
        if self._checks_input:
            check_hidden_states(x, self.emb_dim, "TransformerBlock")
            if cache is not None:
                check_cache(cache, x.shape[0], x.dtype, "TransformerBlock")
            start = 0 if cache is None else cache.length
            check_positions(start, x.shape[1], self.att.context_length, "TransformerBlock", cache)

        # Sub-block 1: attention
        shortcut = x  # shortcut connection around the attention sub-block
        x = self.norm1(x)
        x = self.att(x, cache=cache)  # (b, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut

        # Sub-block 2: feed-forward network
        shortcut = x  # shortcut connection around the feed-forward sub-block
        x = self.norm2(x)
        x = self.ff(x)  # (b, T, emb_dim)
        x = self.drop_shortcut(x)
        x = x + shortcut  # add the original input back
        return x
