"""Causal multi-head self-attention ("the context analyst")."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gptblock.checks import check_cache, check_hidden_states, check_positions
from gptblock.config import check_heads, check_positive_int, check_probability
from gptblock.kv_cache import LayerKVCache
from gptblock.linear import Linear

#: The attention paths a module can be built with (see :class:`MultiHeadAttention`).
ATTN_IMPLS = ("auto", "explicit", "sdpa")


class MultiHeadAttention(nn.Module):
    """Masked (causal) multi-head self-attention, as in GPT-2.

    Each token builds a query, a key and a value; a token's new vector is the average of the values
    of itself and the tokens *before* it, weighted by how well its query matches their keys.
    ``num_heads`` heads do this side by side on slices of the width, and ``out_proj`` mixes them.

    Two paths compute the same thing. The explicit one materialises the ``(T, T)`` score matrix,
    masks the future, applies softmax and dropout on the weights, drawing the random numbers
    exactly as the reference implementation does. PyTorch's fused ``scaled_dot_product_attention``
    (SDPA) computes it faster, in tiles, without the score matrix. ``attn_impl`` picks the path:

    * ``"auto"`` (the default): explicit in training with dropout, so that a seeded run gives the
      reference's numbers; SDPA whenever nothing is random (``eval()`` or ``dropout=0``).
    * ``"explicit"``: always the explicit path.
    * ``"sdpa"``: always SDPA, dropout included: on an accelerator its fused kernels draw the dropout
      themselves, keeping no weight matrix (less memory in training), and the random numbers are not
      the reference's. PyTorch's CPU build computes SDPA with dropout by the formula, so on the CPU
      it draws the same numbers as the explicit path and saves no memory; nothing guarantees either.

    Args:
        d_in: width of the input vectors.
        d_out: width of the output vectors (split evenly over the heads).
        context_length: longest sequence accepted (positions ``0 .. context_length - 1``).
        dropout: dropout probability on the attention weights.
        num_heads: number of heads.
        qkv_bias: whether the query, key and value projections have a bias.
        attn_impl: ``"auto"``, ``"explicit"`` or ``"sdpa"``.

    Shapes:
        ``(batch, num_tokens, d_in) -> (batch, num_tokens, d_out)``

    Raises:
        ValueError: a size, the dropout or ``attn_impl`` is out of range.

    Example:
        >>> import torch
        >>> from gptblock import MultiHeadAttention
        >>> torch.manual_seed(123)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> mha = MultiHeadAttention(d_in=3, d_out=2, context_length=6, dropout=0.0, num_heads=2)
        >>> mha(torch.rand(2, 6, 3)).shape
        torch.Size([2, 6, 2])
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        num_heads: int,
        qkv_bias: bool = False,
        *,
        attn_impl: str = "auto",
    ) -> None:
        super().__init__()
        for name, value in (("d_in", d_in), ("d_out", d_out), ("context_length", context_length),
                            ("num_heads", num_heads)):
            check_positive_int(name, value)
        check_heads(d_out, num_heads)
        dropout = check_probability("dropout", dropout)
        if not isinstance(qkv_bias, bool):
            raise ValueError(f"qkv_bias must be True or False, got {qkv_bias!r}")
        if attn_impl not in ATTN_IMPLS:
            raise ValueError(f"attn_impl must be one of {', '.join(map(repr, ATTN_IMPLS))}, got {attn_impl!r}")
        self.d_in = d_in
        self.d_out = d_out
        self.context_length = context_length
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.attn_impl = attn_impl
        self._checks_input = True  # False when a parent module checks the input (see gptblock.checks)

        self.W_query = Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = Linear(d_out, d_out)  # mixes the heads' outputs
        self.dropout = nn.Dropout(dropout)
        # No causal mask is stored: the explicit path builds the rows it needs at each call (see
        # causal_mask). A stored (context_length, context_length) mask per layer would cost
        # n_layers * context_length**2 bytes even on the fused path, which never reads it.

    @property
    def mask(self) -> torch.Tensor:
        """The causal mask over the whole context: ``True`` above the diagonal, the future a token must not see.

        ``(context_length, context_length)`` booleans, built when asked (on the device of the weights).
        """
        return causal_mask(0, self.context_length, self.out_proj.weight.device)

    def forward(self, x: torch.Tensor, cache: LayerKVCache | None = None) -> torch.Tensor:
        """Attend over the sequence ``x``; with a ``cache``, ``x`` holds the positions after the cached ones."""
        if self._checks_input:
            check_hidden_states(x, self.d_in, "MultiHeadAttention")
            if cache is not None:
                check_cache(cache, x.shape[0], x.dtype, "MultiHeadAttention")
            start = 0 if cache is None else cache.length
            check_positions(start, x.shape[1], self.context_length, "MultiHeadAttention", cache)
        b, num_tokens, _ = x.shape

        queries, keys, values = self.project(x)  # each (b, T, d_out)

        # Split the width into heads: (b, T, d_out) -> (b, num_heads, T, head_dim)
        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        values = values.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

        start = 0 if cache is None else cache.length  # position of x's first token
        if cache is not None:  # keys and values of every position so far: (b, num_heads, start + T, head_dim)
            keys, values = cache.append(keys, values)

        if self.uses_fused_path():
            context = self.fused_attention(queries, keys, values, start)
        else:
            context = self.explicit_attention(queries, keys, values, start)  # (b, num_heads, T, head_dim)

        # Merge the heads back: (b, num_heads, T, head_dim) -> (b, T, d_out)
        context = context.transpose(1, 2).contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The queries, keys and values of ``x``: ``W_query(x)``, ``W_key(x)``, ``W_value(x)``."""
        return self.W_query(x), self.W_key(x), self.W_value(x)

    def uses_fused_path(self) -> bool:
        """True when this call goes through ``scaled_dot_product_attention`` (see ``attn_impl``)."""
        if self.attn_impl == "auto":
            return not (self.training and self.dropout.p > 0)
        return self.attn_impl == "sdpa"

    def explicit_attention(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, start: int = 0
    ) -> torch.Tensor:
        """softmax(Q Kᵀ / sqrt(head_dim), future masked) · V, with dropout on the weights.

        ``queries`` are positions ``start ..``; ``keys`` and ``values`` positions ``0 ..`` (the
        cached ones first).
        """
        end = keys.shape[-2]
        attn_scores = queries @ keys.transpose(2, 3)  # (b, num_heads, T, end)
        attn_scores.masked_fill_(causal_mask(start, end, queries.device), -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)
        return attn_weights @ values  # (b, num_heads, T, head_dim)

    def fused_attention(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, start: int = 0
    ) -> torch.Tensor:
        """The same as :meth:`explicit_attention` through ``scaled_dot_product_attention``."""
        dropout_p = self.dropout.p if self.training else 0.0  # nonzero only with attn_impl="sdpa"
        num_tokens, end = queries.shape[-2], keys.shape[-2]
        if start == 0:  # a whole sequence: the usual causal mask
            return F.scaled_dot_product_attention(queries, keys, values, dropout_p=dropout_p, is_causal=True)
        if num_tokens == 1:  # one new position after cached ones: it may look at everything
            return F.scaled_dot_product_attention(queries, keys, values, dropout_p=dropout_p)
        # several new positions after cached ones: rows start .. end-1 of the causal mask (True = may look)
        may_look = ~causal_mask(start, end, queries.device)
        return F.scaled_dot_product_attention(queries, keys, values, attn_mask=may_look, dropout_p=dropout_p)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The reference implementation saves its float mask with the weights; ours is built when
        # needed, so a saved one is dropped instead of being reported as unexpected.
        state_dict.pop(prefix + "mask", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        text = f"num_heads={self.num_heads}, head_dim={self.head_dim}, context_length={self.context_length}"
        return text if self.attn_impl == "auto" else f"{text}, attn_impl={self.attn_impl!r}"


def causal_mask(start: int, end: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Rows ``start .. end - 1`` of the causal mask over keys ``0 .. end - 1``: ``True`` where the key is in the future.

    ``(end - start, end)`` booleans; row ``i`` (position ``start + i``) may look at keys ``0 .. start + i``.
    Built at each call, in a fraction of the time and memory of the float scores it masks, and never
    on the fused path without a cache.
    """
    return torch.ones(end - start, end, dtype=torch.bool, device=device).triu_(start + 1)
