"""Input checks shared by the modules: a clear Python error before any matmul.

Plain ``if ... raise`` rather than ``assert``, which disappears under ``python -O``.
"""

from __future__ import annotations

import torch

TOKEN_ID_DTYPES = (torch.int32, torch.int64)


def check_hidden_states(x: torch.Tensor, emb_dim: int, who: str, *, exact_dims: int | None = 3) -> None:
    """Check a float tensor of vectors of width ``emb_dim`` (shape ``(batch, tokens, emb_dim)``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{who} expects a floating-point tensor, got dtype {x.dtype}; "
            "token ids go through GPTModel, whose embedding turns them into vectors"
        )
    if exact_dims is not None and x.dim() != exact_dims:
        raise ValueError(
            f"{who} expects a tensor of shape (batch, num_tokens, {emb_dim}), got shape {tuple(x.shape)}"
        )
    if x.dim() == 0 or x.shape[-1] != emb_dim:
        raise ValueError(f"{who} expects a last dimension of {emb_dim}, got shape {tuple(x.shape)}")


def check_sequence_length(num_tokens: int, context_length: int, who: str) -> None:
    """Check that a sequence fits in the context window."""
    if num_tokens > context_length:
        raise ValueError(
            f"{who}: the sequence has {num_tokens} tokens but context_length is {context_length}; "
            "crop it to the last context_length tokens"
        )


def check_token_ids(idx: torch.Tensor, vocab_size: int, context_length: int, who: str) -> None:
    """Check a ``(batch, seq)`` tensor of integer token ids."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"{who} expects token ids as a torch.Tensor, got {type(idx).__name__}")
    if idx.dtype not in TOKEN_ID_DTYPES:
        raise TypeError(f"{who} expects integer token ids (torch.int64 or torch.int32), got dtype {idx.dtype}")
    if idx.dim() != 2:
        raise ValueError(
            f"{who} expects token ids of shape (batch, seq), got shape {tuple(idx.shape)}; "
            "for a single sequence use ids.unsqueeze(0)"
        )
    if idx.shape[1] == 0:
        raise ValueError(f"{who} needs at least one token per sequence, got shape {tuple(idx.shape)}")
    check_sequence_length(idx.shape[1], context_length, who)
    if idx.numel() == 0:
        return
    lowest, highest = int(idx.min()), int(idx.max())
    if lowest < 0:
        raise ValueError(f"{who}: token id {lowest} is negative; ids must lie in [0, vocab_size={vocab_size})")
    if highest >= vocab_size:
        raise ValueError(f"{who}: token id {highest} is out of range for vocab_size={vocab_size}")
