"""Causal multi-head self-attention ("the context analyst")."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gptblock.checks import check_hidden_states, check_sequence_length
from gptblock.config import check_heads, check_positive_int, check_probability


class MultiHeadAttention(nn.Module):
    """Masked (causal) multi-head self-attention, as in GPT-2.

    Each token builds a query, a key and a value; a token's new vector is the average of the values
    of itself and the tokens *before* it, weighted by how well its query matches their keys.
    ``num_heads`` heads do this side by side on slices of the width, and ``out_proj`` mixes them.

    Two paths compute the same thing. The explicit one materialises the ``(T, T)`` score matrix,
    masks the future, applies softmax and dropout on the weights: it runs in training with dropout,
    so that the random numbers are drawn exactly as in the reference implementation. When nothing
    is random (``eval()`` mode or ``dropout=0``), PyTorch's fused
    ``scaled_dot_product_attention`` gives the same result faster and without the score matrix.
    Set ``allow_fused = False`` to always take the explicit path.

    Args:
        d_in: width of the input vectors.
        d_out: width of the output vectors (split evenly over the heads).
        context_length: longest sequence accepted (size of the causal mask).
        dropout: dropout probability on the attention weights.
        num_heads: number of heads.
        qkv_bias: whether the query, key and value projections have a bias.

    Shapes:
        ``(batch, num_tokens, d_in) -> (batch, num_tokens, d_out)``

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
    ) -> None:
        super().__init__()
        for name, value in (("d_in", d_in), ("d_out", d_out), ("context_length", context_length),
                            ("num_heads", num_heads)):
            check_positive_int(name, value)
        check_heads(d_out, num_heads)
        check_probability("dropout", dropout)
        if not isinstance(qkv_bias, bool):
            raise ValueError(f"qkv_bias must be True or False, got {qkv_bias!r}")
        self.d_in = d_in
        self.d_out = d_out
        self.context_length = context_length
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.allow_fused = True

        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # mixes the heads' outputs
        self.dropout = nn.Dropout(dropout)
        # True above the diagonal: the future a token must not see. Rebuilt from context_length,
        # so it is not saved with the weights (12 float masks would add 48 MiB to a 124M checkpoint).
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), diagonal=1),
            persistent=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_hidden_states(x, self.d_in, "MultiHeadAttention")
        b, num_tokens, _ = x.shape
        check_sequence_length(num_tokens, self.context_length, "MultiHeadAttention")

        keys = self.W_key(x)  # (b, T, d_out)
        queries = self.W_query(x)
        values = self.W_value(x)

        # Split the width into heads: (b, T, d_out) -> (b, num_heads, T, head_dim)
        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)
        values = values.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

        if self.uses_fused_path():
            context = F.scaled_dot_product_attention(queries, keys, values, is_causal=True)
        else:
            context = self.explicit_attention(queries, keys, values)  # (b, num_heads, T, head_dim)

        # Merge the heads back: (b, num_heads, T, head_dim) -> (b, T, d_out)
        context = context.transpose(1, 2).contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context)

    def uses_fused_path(self) -> bool:
        """True when attention is deterministic (no dropout is drawn) and fusing is allowed."""
        return self.allow_fused and not (self.training and self.dropout.p > 0)

    def explicit_attention(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """softmax(Q Kᵀ / sqrt(head_dim), future masked) · V, with dropout on the weights."""
        num_tokens = queries.shape[-2]
        attn_scores = queries @ keys.transpose(2, 3)  # (b, num_heads, T, T)
        attn_scores.masked_fill_(self.mask[:num_tokens, :num_tokens], -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)
        return attn_weights @ values  # (b, num_heads, T, head_dim)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The reference implementation saves its float mask with the weights; ours is rebuilt
        # from context_length, so a saved one is dropped instead of being reported as unexpected.
        state_dict.pop(prefix + "mask", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}, head_dim={self.head_dim}, context_length={self.context_length}"
