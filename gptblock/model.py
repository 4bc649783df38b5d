"""The GPT-2 model: embeddings, a stack of transformer blocks, a final norm and the output head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from gptblock.block import TransformerBlock
from gptblock.checks import check_cache, check_positions, check_token_ids, check_token_range, mark_inner
from gptblock.config import check_config
from gptblock.kv_cache import KVCache
from gptblock.layer_norm import LayerNorm
from gptblock.linear import Linear


class GPTModel(nn.Module):
    """GPT-2: token ids in, one logit per vocabulary entry and position out.

    The forward checks its input once (type, shape, length and, for ids on the CPU in eager mode,
    their range); the blocks inside trust it.

    Args:
        cfg: a model configuration, e.g. :data:`gptblock.GPT_CONFIG_124M`.
        attn_impl: the attention path of every block, ``"auto"``, ``"explicit"`` or ``"sdpa"``
            (see :class:`~gptblock.MultiHeadAttention`).

    Shapes:
        ``(batch, num_tokens)`` int64/int32 ids ``-> (batch, num_tokens, vocab_size)`` logits

    Raises:
        ValueError: a bad configuration or ``attn_impl``.

    Example:
        >>> import torch
        >>> from gptblock import GPTModel
        >>> tiny = {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2,
        ...         "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
        >>> model = GPTModel(tiny)
        >>> model(torch.tensor([[1, 2, 3]])).shape
        torch.Size([1, 3, 99])
    """

    def __init__(self, cfg: Mapping[str, Any], *, attn_impl: str = "auto") -> None:
        super().__init__()
        cfg = check_config(cfg)
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(
            *[TransformerBlock(cfg, attn_impl=attn_impl) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        mark_inner(*self.trf_blocks, self.final_norm)  # forward checks the ids once for all of them

    def forward(self, in_idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits for every position of ``in_idx``.

        With a :class:`~gptblock.KVCache`, ``in_idx`` holds the tokens that follow the cached
        ones: only they are run, their keys and values are added to the cache, and the logits are
        theirs (``(batch, num_new_tokens, vocab_size)``).
        """
        check_token_ids(in_idx, "GPTModel")
        batch_size, seq_len = in_idx.shape
        if cache is not None:
            check_cache(cache, batch_size, self.tok_emb.weight.dtype, "GPTModel", self.cfg["n_layers"])
        start = 0 if cache is None else cache.length  # position of the first token of in_idx
        check_positions(start, seq_len, self.cfg["context_length"], "GPTModel", cache)
        check_token_range(in_idx, self.cfg["vocab_size"], "GPTModel")

        tok_embeds = self.tok_emb(in_idx)  # (b, T, emb_dim)
        pos_embeds = self.pos_emb(torch.arange(start, start + seq_len, device=in_idx.device))  # (T, emb_dim)
        x = tok_embeds + pos_embeds  # broadcast over the batch
        x = self.drop_emb(x)
        if cache is None:
            x = self.trf_blocks(x)  # (b, T, emb_dim)
        else:
            for block, layer_cache in zip(self.trf_blocks, cache.layers, strict=True):
                x = block(x, cache=layer_cache)
        x = self.final_norm(x)
        logits = self.out_head(x)  # (b, T, vocab_size)
        return logits
