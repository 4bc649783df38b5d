"""The linear layer of every module: ``nn.Linear``, with one row multiplied at the speed of memory.

Generating a token multiplies one row by every weight matrix of the model, so each weight is read
once from memory for very little arithmetic. For such a product PyTorch's CPU kernel (MKL's
matrix-vector product) reads the weight no faster than one thread reads memory, and one thread
cannot read it as fast as two or more (on the Performance page's machine: about 18 against 30
GB/s). :class:`Linear` splits the weight's rows into :data:`ROW_BLOCKS` blocks, views (no copy),
and multiplies the row by all of them in one batched product, which PyTorch spreads over its
threads. Each output is the same dot product as before, so the result equals ``nn.Linear``'s up to
float rounding (the tests compare them); any other input (several rows, as in training or a
prompt) goes through ``nn.Linear`` unchanged.

``Linear`` is an ``nn.Linear`` (``isinstance`` holds), but code that picks layers by their exact
class, such as the default mapping of ``torch.ao.quantization.quantize_dynamic``, must be given
``Linear`` as well.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Blocks of weight rows for a one-row product: enough for up to this many threads to share it.
ROW_BLOCKS = 8


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, initialisation and ``state_dict``) with a faster one-row product.

    Example:
        >>> import torch
        >>> from gptblock.linear import Linear
        >>> torch.manual_seed(0)
        <torch._C.Generator object at ...>
        >>> layer = Linear(768, 3072)
        >>> one_row = torch.randn(1, 1, 768)
        >>> layer(one_row).shape
        torch.Size([1, 1, 3072])
        >>> torch.allclose(layer(one_row), torch.nn.functional.linear(one_row, layer.weight, layer.bias),
        ...                atol=1e-5)
        True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == self.in_features and x.is_cpu and self.weight.is_contiguous():
            return one_row_product(x, self.weight, self.bias).view(*x.shape[:-1], self.out_features)
        return F.linear(x, self.weight, self.bias)  # (..., in_features) -> (..., out_features)


def one_row_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear`` of a single row ``x`` (any shape with ``in_features`` elements), as ``(1, out_features)``.

    The first ``ROW_BLOCKS * (out_features // ROW_BLOCKS)`` rows of ``weight`` (contiguous) are viewed
    as ``ROW_BLOCKS`` blocks and multiplied in one batched product, the bias added in the same call;
    the few rows left over, if any (GPT-2's 50,257 outputs leave one), by ``F.linear``.
    """
    out_features, in_features = weight.shape
    rows = out_features // ROW_BLOCKS
    split = rows * ROW_BLOCKS
    if rows == 0:
        return F.linear(x.reshape(1, in_features), weight, bias)
    row = x.reshape(1, 1, in_features).expand(ROW_BLOCKS, 1, in_features)
    blocks = weight[:split].view(ROW_BLOCKS, rows, in_features).transpose(1, 2)  # a view, not a copy
    if bias is None:
        first = torch.bmm(row, blocks)
    else:
        first = torch.baddbmm(bias[:split].view(ROW_BLOCKS, 1, rows), row, blocks)
    first = first.view(1, split)  # (ROW_BLOCKS, 1, rows) -> (1, split)
    if split == out_features:
        return first
    rest = F.linear(x.reshape(1, in_features), weight[split:], None if bias is None else bias[split:])
    return torch.cat([first, rest], dim=1)
