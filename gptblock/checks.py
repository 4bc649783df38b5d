"""Input checks at the boundary: a clear Python error before any matmul, and nothing checked twice.

The module a user calls checks its input once; the modules it built itself (a block's attention,
feed-forward and norms, a model's blocks) were marked by :func:`mark_inner` and trust their parent,
so a 12-layer forward runs one check, not one per nested module.

Plain ``if ... raise`` rather than ``assert``, which disappears under ``python -O``. Every check reads
only shapes and dtypes, except :func:`check_token_range`, which reads the ids themselves: it runs on
the CPU in eager mode only, so that compiling sees no data-dependent branch and an accelerator no
host synchronisation.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gptblock.kv_cache import KVCache, LayerKVCache

TOKEN_ID_DTYPES = (torch.int32, torch.int64)


def mark_inner(*modules: nn.Module) -> None:
    """Mark modules built by a parent whose forward checks their input already."""
    for module in modules:
        module._checks_input = False


def check_hidden_states(x: Any, width: int, who: str, *, dims: int | None = 3) -> None:
    """Check a float tensor of vectors of width ``width`` (shape ``(batch, tokens, width)`` when ``dims=3``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} expects a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{who} expects a floating-point tensor, got dtype {x.dtype}; "
            "token ids go through GPTModel, whose embedding turns them into vectors"
        )
    if dims is not None and x.dim() != dims:
        raise ValueError(f"{who} expects a tensor of shape (batch, num_tokens, {width}), got shape {tuple(x.shape)}")
    if x.dim() == 0 or x.shape[-1] != width:
        raise ValueError(f"{who} expects a last dimension of {width}, got shape {tuple(x.shape)}")


def check_token_ids(idx: Any, who: str) -> None:
    """Check the type, dtype and shape of a ``(batch, seq)`` tensor of token ids (not their values)."""
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


def check_token_range(idx: torch.Tensor, vocab_size: int, who: str) -> None:
    """Check that every id lies in ``[0, vocab_size)``: in eager mode, for ids on the CPU.

    Reading the values is a data-dependent branch (a graph break under ``torch.compile``) and, on
    an accelerator, a host synchronisation per call; there the ids are checked where they enter
    (``generate``, the command line) and the embedding's own bounds check is the last line.
    """
    if torch.compiler.is_compiling() or idx.device.type != "cpu" or idx.numel() == 0:
        return
    lowest, highest = (int(v) for v in torch.aminmax(idx))
    if lowest < 0:
        raise ValueError(f"{who}: token id {lowest} is negative; ids must lie in [0, vocab_size={vocab_size})")
    if highest >= vocab_size:
        raise ValueError(f"{who}: token id {highest} is out of range for vocab_size={vocab_size}")


def check_positions(start: int, num_tokens: int, context_length: int, who: str, cache: Any = None) -> None:
    """Check that positions ``start .. start + num_tokens - 1`` fit in the context window, and in ``cache`` if given."""
    if start + num_tokens > context_length:
        held = f"{start} cached positions + " if start else ""
        raise ValueError(
            f"{who}: the sequence has {held}{num_tokens} tokens but context_length is {context_length}; "
            "crop it to the last context_length tokens"
        )
    if cache is not None and start + num_tokens > cache.max_len:
        raise ValueError(f"{who}: {start} positions held + {num_tokens} new exceed the cache's "
                         f"max_len={cache.max_len}; call cache.reset() and run the cropped window again")


def check_cache(cache: Any, batch_size: int, dtype: torch.dtype, who: str, n_layers: int | None = None) -> None:
    """Check that a cache fits this call: its kind, its batch and its dtype (its room: :func:`check_positions`).

    ``n_layers`` given: ``cache`` must be a model's :class:`~gptblock.KVCache` with that many layers;
    otherwise one layer's :class:`~gptblock.kv_cache.LayerKVCache`.
    """
    expected = LayerKVCache if n_layers is None else KVCache
    if not isinstance(cache, expected):
        raise TypeError(f"{who}: cache must be a {expected.__name__}, got {type(cache).__name__}")
    if n_layers is not None and len(cache.layers) != n_layers:
        raise ValueError(f"{who}: the cache has {len(cache.layers)} layers but the model has {n_layers}")
    layer = cache if n_layers is None else cache.layers[0]
    if layer.keys.shape[0] != batch_size:
        raise ValueError(f"{who}: the cache was built for batch_size={layer.keys.shape[0]}, "
                         f"got a batch of {batch_size}")
    if layer.keys.dtype != dtype:
        raise ValueError(f"{who}: the cache holds {layer.keys.dtype} but the model computes in {dtype}; "
                         "build it with the model's dtype")
