"""Layer normalization: the "volume control" of every token vector."""

from __future__ import annotations

import torch
from torch import nn

from gptblock.checks import check_hidden_states
from gptblock.config import check_positive_int


class LayerNorm(nn.Module):
    """Normalise each vector to mean 0 and variance 1, then rescale and shift it.

    ``y = scale * (x - mean) / sqrt(var + eps) + shift``, with the mean and the (biased) variance
    taken over the last dimension, and ``scale``/``shift`` learned, one value per feature.

    A float16 or bfloat16 input is normalised in float32 and the result returned in the input's
    dtype, as ``torch.nn.functional.layer_norm`` does: float16 squares overflow from 256 on (a single
    feature of 300 would make the variance infinite and the whole vector 0). Other dtypes are computed
    in their own precision, by the formula above.

    Args:
        emb_dim: the width of the vectors (the last dimension of the input).

    Example:
        >>> import torch
        >>> from gptblock import LayerNorm
        >>> norm = LayerNorm(4)
        >>> y = norm(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
        >>> round(y.mean().item(), 6), round(y.var(unbiased=False).item(), 3)
        (0.0, 1.0)
    """

    def __init__(self, emb_dim: int) -> None:
        super().__init__()
        check_positive_int("emb_dim", emb_dim)
        self.emb_dim = emb_dim
        self.eps = 1e-5  # keeps the division finite when a vector is constant
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))
        self._checks_input = True  # False when a parent module checks the input (see gptblock.checks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._checks_input:
            check_hidden_states(x, self.emb_dim, "LayerNorm", dims=None)
        dtype = x.dtype
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # the statistics in float32: a float16 square overflows from 256 on
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        centered = x - mean  # (..., emb_dim)
        var = (centered**2).mean(dim=-1, keepdim=True)  # (..., 1), biased (divided by emb_dim) as in GPT-2
        norm_x = centered / torch.sqrt(var + self.eps)  # (..., emb_dim)
        return (self.scale * norm_x + self.shift).to(dtype)  # .to() returns float32 itself, untouched

    def extra_repr(self) -> str:
        return f"{self.emb_dim}, eps={self.eps}"
