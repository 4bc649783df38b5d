"""A key/value cache: generate one token per step without recomputing the whole sequence.

Without a cache, every generated token runs the model over the whole window again, although the
keys and values of the earlier positions have not changed: position ``i`` only ever looks at
positions ``<= i`` (the causal mask), so its keys and values are final once computed. A
:class:`KVCache` keeps them, one slot per block and position, allocated once. :class:`CachedGPT`
then runs a :class:`~gptblock.GPTModel`'s own modules on the *new* positions only: the prompt once
(the "prefill"), then one position per step, each new query attending to every key kept so far.

Only the last position's logits are computed: the output head is the largest matrix of GPT-2
124M (768 x 50257), and generation needs one row of it per step.

The model's embeddings, layer norms and GELU are used as they are. The linear layers' weights are
copied once per :class:`CachedGPT` into the layout the CPU's fastest kernel for a few rows wants:
query, key and value stacked into one matrix (one product instead of three), and every weight,
the output head's included, packed for oneDNN when PyTorch has it (float32 on the CPU). The copies
are made without gradients; a cache is for inference.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gptblock.block import TransformerBlock
from gptblock.checks import check_sequence_length, check_token_ids
from gptblock.config import check_positive_int
from gptblock.model import GPTModel


class KVCache:
    """One block's keys and values for the positions seen so far, in memory allocated once.

    ``keys`` and ``values`` have shape ``(batch, num_heads, max_len, head_dim)``; positions
    ``0 .. length - 1`` are filled.

    Args:
        batch_size: number of sequences generated together.
        num_heads: attention heads per block.
        max_len: the most positions the cache can hold (at most the model's ``context_length``).
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
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        shape = (batch_size, num_heads, max_len, head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)
        self.max_len = max_len
        self.length = 0  # positions filled

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``(batch, num_heads, t, head_dim)`` new keys and values; return all of them so far."""
        start, end = self.length, self.length + keys.shape[2]
        check_sequence_length(end, self.max_len, "KVCache")
        self.keys[:, :, start:end] = keys
        self.values[:, :, start:end] = values
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def reset(self) -> None:
        """Forget every position (the memory is kept and overwritten)."""
        self.length = 0


class _Linear:
    """``y = x Wᵀ + b`` for one or more ``nn.Linear`` stacked side by side, with the weight copied once.

    On the CPU in float32, the copy is packed for oneDNN, whose kernels run products with a few rows
    2-3x faster than the default ones on the machines measured (see the Performance page); elsewhere
    the stacked weight is used with ``F.linear``.
    """

    def __init__(self, *linears: nn.Linear, rows_hint: int = 1) -> None:
        with torch.no_grad():
            weight = torch.cat([lin.weight for lin in linears]) if len(linears) > 1 else linears[0].weight.detach()
            biases = [lin.bias for lin in linears]
            if all(b is None for b in biases):
                bias = None
            else:
                bias = torch.cat([b if b is not None else weight.new_zeros(lin.out_features)
                                  for b, lin in zip(biases, linears, strict=True)]).detach()
            self.packed = False
            if _can_pack(weight):
                try:
                    packed = torch.ops.mkldnn._reorder_linear_weight(weight, rows_hint)
                    # These ops are private: prove that this PyTorch runs them as expected before relying on them.
                    probe = weight.new_ones(1, weight.shape[1])
                    expected = F.linear(probe, weight, bias)
                    got = torch.ops.mkldnn._linear_pointwise(probe, packed, bias, "none", [], "")
                    if got.shape == expected.shape and torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
                        weight, self.packed = packed, True
                except (RuntimeError, TypeError):  # a PyTorch whose oneDNN cannot do it: the plain weight works
                    pass
        self.weight = weight
        self.bias = bias

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.packed:
            return F.linear(x, self.weight, self.bias)
        lead = x.shape[:-1]
        y = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.shape[-1]), self.weight, self.bias, "none", [], "")
        return y.view(*lead, y.shape[-1])


def _can_pack(weight: torch.Tensor) -> bool:
    return (
        weight.device.type == "cpu"
        and weight.dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )


def can_use_cache(model: nn.Module) -> bool:
    """True when :class:`CachedGPT` gives the same results as running ``model`` on the whole window.

    That needs a :class:`~gptblock.GPTModel` whose dropout draws no random numbers (``eval()``
    mode, or a dropout rate of 0): dropout is drawn per position, which a cache cannot replay.
    """
    if not isinstance(model, GPTModel):
        return False
    return not model.training or all(m.p == 0 for m in model.modules() if isinstance(m, nn.Dropout))


class CachedBlock:
    """A :class:`~gptblock.TransformerBlock` run on new positions only, its keys and values kept.

    Same steps as ``TransformerBlock.forward``; the attention writes the new positions' keys and
    values into its :class:`KVCache` and lets the new queries attend to every position kept so far.

    Args:
        block: the block; its layer norms and GELU are used as they are, its linear weights are
            copied now (fused query/key/value), so build a new one after changing them.
        batch_size: number of sequences.
        max_len: the most positions to hold; defaults to the block's ``context_length``.
    """

    def __init__(self, block: TransformerBlock, batch_size: int, max_len: int | None = None) -> None:
        att = block.att
        max_len = att.context_length if max_len is None else max_len
        if isinstance(max_len, bool) or not isinstance(max_len, int) or not 1 <= max_len <= att.context_length:
            raise ValueError(f"max_len must be an integer in [1, context_length={att.context_length}], "
                             f"got {max_len!r}")
        check_positive_int("batch_size", batch_size)
        self.block = block
        weight = att.W_query.weight
        self.cache = KVCache(batch_size, att.num_heads, max_len, att.head_dim, dtype=weight.dtype,
                             device=weight.device)
        # The linear layers' weights, laid out once for products with a few rows (see _Linear).
        self.qkv = _Linear(att.W_query, att.W_key, att.W_value, rows_hint=batch_size)  # one product, three results
        self.out_proj = _Linear(att.out_proj, rows_hint=batch_size)
        self.ff_in = _Linear(block.ff.layers[0], rows_hint=batch_size)
        self.gelu = block.ff.layers[1]
        self.ff_out = _Linear(block.ff.layers[2], rows_hint=batch_size)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, t, emb_dim)`` vectors of the next ``t`` positions; returns the same shape."""
        block = self.block
        # Sub-block 1: attention over the cached positions and the new ones
        shortcut = x
        x = block.norm1(x)
        x = self.attention(x)
        x = block.drop_shortcut(x)
        x = x + shortcut

        # Sub-block 2: feed-forward network
        shortcut = x
        x = block.norm2(x)
        x = self.ff_out(self.gelu(self.ff_in(x)))  # linear, GELU, linear
        x = block.drop_shortcut(x)
        x = x + shortcut
        return x

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Causal multi-head attention of the new positions over the cached ones and themselves."""
        att, cache = self.block.att, self.cache
        b, t, _ = x.shape
        if b != cache.keys.shape[0]:
            raise ValueError(f"the cache was built for batch_size={cache.keys.shape[0]}, got shape {tuple(x.shape)}")
        start, end = cache.length, cache.length + t
        check_sequence_length(end, cache.max_len, "CachedBlock")
        queries, keys, values = self.qkv(x).split(att.d_out, dim=-1)  # 3 x (b, t, d_out)
        queries = queries.view(b, t, att.num_heads, att.head_dim).transpose(1, 2)  # (b, heads, t, head_dim)
        keys = keys.view(b, t, att.num_heads, att.head_dim).transpose(1, 2)
        values = values.view(b, t, att.num_heads, att.head_dim).transpose(1, 2)

        keys, values = cache.append(keys, values)  # (b, heads, end, head_dim): every position so far
        if t == 1:  # one new position: it may look at everything before it
            context = F.scaled_dot_product_attention(queries, keys, values)
        elif start == 0:  # a whole prompt: the usual causal mask
            context = F.scaled_dot_product_attention(queries, keys, values, is_causal=True)
        else:  # several new positions after cached ones: rows start..end-1 of the causal mask
            context = F.scaled_dot_product_attention(queries, keys, values, attn_mask=~att.mask[start:end, :end])

        context = context.transpose(1, 2).contiguous().view(b, t, att.d_out)  # merge the heads
        return self.out_proj(context)


class CachedGPT:
    """A :class:`~gptblock.GPTModel` run incrementally, one :class:`CachedBlock` per block.

    Calling it with the prompt fills the caches (the prefill); each later call with new token ids
    appends their positions and returns the logits of the last one: within float rounding,
    ``model(all_ids)[:, -1]``.

    Args:
        model: the model; its linear weights are copied now, so build a new one after changing them.
        batch_size: number of sequences.
        max_len: the most positions to hold; defaults to the model's ``context_length``.

    Example:
        >>> import torch
        >>> from gptblock import GPTModel
        >>> from gptblock.kv_cache import CachedGPT
        >>> tiny = {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2,
        ...         "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
        >>> model = GPTModel(tiny).eval()
        >>> ids = torch.tensor([[5, 7, 11, 13]])
        >>> decoder = CachedGPT(model, batch_size=1)
        >>> step_logits = decoder(ids[:, :3])  # the prompt: positions 0, 1, 2
        >>> step_logits = decoder(ids[:, 3:])  # one new position: 3
        >>> decoder.length
        4
        >>> torch.allclose(step_logits, model(ids)[:, -1], atol=1e-5)
        True
    """

    def __init__(self, model: GPTModel, batch_size: int, max_len: int | None = None) -> None:
        if not isinstance(model, GPTModel):
            raise TypeError(f"CachedGPT needs a GPTModel, got {type(model).__name__}")
        self.model = model
        self.blocks = [CachedBlock(block, batch_size, max_len) for block in model.trf_blocks]
        self.out_head = _Linear(model.out_head, rows_hint=batch_size)  # 154 MB in GPT-2 124M, read once a step

    @property
    def length(self) -> int:
        """Positions held so far."""
        return self.blocks[0].cache.length

    @property
    def max_len(self) -> int:
        """The most positions the caches can hold."""
        return self.blocks[0].cache.max_len

    def reset(self) -> None:
        """Empty the caches, to start again on a new (or cropped) sequence."""
        for block in self.blocks:
            block.cache.reset()

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        """Append the positions of ``idx`` ``(batch, t)``; return the last one's logits ``(batch, vocab_size)``."""
        model = self.model
        check_token_ids(idx, model.cfg["vocab_size"], model.cfg["context_length"], "CachedGPT")
        if self.length + idx.shape[1] > self.max_len:
            raise ValueError(f"CachedGPT: {self.length} positions held + {idx.shape[1]} new exceed "
                             f"max_len={self.max_len}; call reset() and run the cropped window again")
        positions = torch.arange(self.length, self.length + idx.shape[1], device=idx.device)
        x = model.tok_emb(idx) + model.pos_emb(positions)  # (b, t, emb_dim)
        x = model.drop_emb(x)
        for block in self.blocks:
            x = block(x)
        x = model.final_norm(x[:, -1, :])  # only the last position predicts the next token
        return self.out_head(x)  # (b, vocab_size)
