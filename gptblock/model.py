"""The GPT-2 model: embeddings, a stack of transformer blocks, a final norm and the output head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from gptblock.block import TransformerBlock
from gptblock.checks import check_token_ids
from gptblock.config import check_config
from gptblock.layer_norm import LayerNorm


class GPTModel(nn.Module):
    """GPT-2: token ids in, one logit per vocabulary entry and position out.

    Args:
        cfg: a model configuration, e.g. :data:`gptblock.GPT_CONFIG_124M`.

    Shapes:
        ``(batch, num_tokens)`` int64/int32 ids ``-> (batch, num_tokens, vocab_size)`` logits

    Example:
        >>> import torch
        >>> from gptblock import GPTModel
        >>> tiny = {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2,
        ...         "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
        >>> model = GPTModel(tiny)
        >>> model(torch.tensor([[1, 2, 3]])).shape
        torch.Size([1, 3, 99])
    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        cfg = check_config(cfg)
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx: torch.Tensor) -> torch.Tensor:
        check_token_ids(in_idx, self.cfg["vocab_size"], self.cfg["context_length"], "GPTModel")
        _batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)  # (b, T, emb_dim)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))  # (T, emb_dim)
        x = tok_embeds + pos_embeds  # broadcast over the batch
        x = self.drop_emb(x)
        x = self.trf_blocks(x)  # (b, T, emb_dim)
        x = self.final_norm(x)
        logits = self.out_head(x)  # (b, T, vocab_size)
        return logits
