"""The key/value cache: what attention keeps between two generation steps.

Without a cache, every generated token runs the model over the whole window again, although the
keys and values of the earlier positions have not changed: position ``i`` only ever looks at
positions ``<= i`` (the causal mask), so its keys and values are final once computed. A
:class:`KVCache` keeps them, one :class:`LayerKVCache` per transformer block, in memory allocated
once. The modules themselves use it: ``model(ids, cache=cache)`` runs the new positions only, each
attention layer appending their keys and values to its part of the cache and letting the new
queries attend to every position kept so far.

The cache is a module whose tensors are non-persistent buffers: ``cache.to(device)`` moves it like
a model, and a model's ``state_dict`` never contains one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from gptblock.config import check_config, check_positive_int


class LayerKVCache(nn.Module):
    """One attention layer's keys and values for positions ``0 .. length - 1``.

    ``keys`` and ``values`` have shape ``(batch, num_heads, max_len, head_dim)``, allocated once;
    :meth:`append` writes new positions in place.

    Args:
        batch_size: number of sequences.
        num_heads: attention heads of the layer.
        max_len: the most positions the cache can hold.
        head_dim: width of one head.
        dtype: floating-point type of the keys and values (the model's).
        device: where to allocate them (the model's device).
    """

    def __init__(
        self,
        batch_size: int,
        num_heads: int,
        max_len: int,
        head_dim: int,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        shape = (batch_size, num_heads, max_len, head_dim)
        self.register_buffer("keys", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("values", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.length = 0  # positions filled

    @property
    def max_len(self) -> int:
        return self.keys.shape[2]

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``(batch, num_heads, t, head_dim)`` new keys and values; return all of them so far.

        The caller (the model's forward) has checked that ``t`` more positions fit.
        """
        start, end = self.length, self.length + keys.shape[2]
        self.keys[:, :, start:end] = keys
        self.values[:, :, start:end] = values
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]  # (batch, num_heads, end, head_dim)

    def reset(self) -> None:
        """Forget every position (the memory is kept and overwritten)."""
        self.length = 0

    def extra_repr(self) -> str:
        return f"shape={tuple(self.keys.shape)}, length={self.length}"


class KVCache(nn.Module):
    """The keys and values of every block of a :class:`~gptblock.GPTModel`, for ``model(ids, cache=cache)``.

    Args:
        cfg: the model's configuration (``model.cfg``).
        batch_size: number of sequences generated together.
        max_len: the most positions to hold; defaults to ``context_length``. Memory is
            ``2 * n_layers * batch_size * max_len * emb_dim`` numbers.
        dtype: the model's floating-point type (default: PyTorch's default, float32).
        device: the model's device.

    Raises:
        ValueError: a bad configuration, ``batch_size`` or ``max_len``.

    Example:
        >>> import torch
        >>> from gptblock import GPTModel, KVCache
        >>> tiny = {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2,
        ...         "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
        >>> model = GPTModel(tiny).eval()
        >>> ids = torch.tensor([[5, 7, 11, 13]])
        >>> cache = KVCache(model.cfg, batch_size=1)
        >>> with torch.no_grad():
        ...     prompt_logits = model(ids[:, :3], cache=cache)  # positions 0, 1, 2
        ...     step_logits = model(ids[:, 3:], cache=cache)  # position 3 only
        >>> cache.length, tuple(step_logits.shape)
        (4, (1, 1, 99))
        >>> torch.allclose(step_logits[:, -1], model(ids)[:, -1], atol=1e-5)
        True
    """

    def __init__(
        self,
        cfg: Mapping[str, Any],
        batch_size: int,
        max_len: int | None = None,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        cfg = check_config(cfg)
        check_positive_int("batch_size", batch_size)
        context_length = cfg["context_length"]
        max_len = context_length if max_len is None else max_len
        if isinstance(max_len, bool) or not isinstance(max_len, int) or not 1 <= max_len <= context_length:
            raise ValueError(f"max_len must be an integer in [1, context_length={context_length}], got {max_len!r}")
        head_dim = cfg["emb_dim"] // cfg["n_heads"]
        self.layers = nn.ModuleList(
            LayerKVCache(batch_size, cfg["n_heads"], max_len, head_dim, dtype=dtype, device=device)
            for _ in range(cfg["n_layers"])
        )

    @property
    def length(self) -> int:
        """Positions held so far (the position of the next token)."""
        return self.layers[0].length

    @property
    def max_len(self) -> int:
        return self.layers[0].max_len

    @property
    def batch_size(self) -> int:
        return self.layers[0].keys.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.layers[0].keys.dtype

    @property
    def device(self) -> torch.device:
        return self.layers[0].keys.device

    def reset(self) -> None:
        """Empty the cache, to start again on a new (or cropped) sequence."""
        for layer in self.layers:
            layer.reset()
