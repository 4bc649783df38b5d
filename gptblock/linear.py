"""The linear layer of every module: ``nn.Linear``, with one row multiplied at the speed of memory.

Generating a token multiplies one row by every weight matrix of the model, so each weight is read
once from memory for very little arithmetic. For such a product PyTorch's CPU kernel (MKL's
matrix-vector product) reads the weight no faster than one thread reads memory, and one thread
cannot read it as fast as two or more (on the Performance page's machine: about 18 against 30
GB/s). :class:`Linear` splits the weight's rows into :data:`ROW_BLOCKS` blocks, views (no copy),
and multiplies the row by all of them in one batched product, which PyTorch spreads over its
threads. Each output is the same dot product as before, so the result equals ``nn.Linear``'s up to
float rounding (the tests compare them).

Several rows into an output width that is not a multiple of 64 floats (GPT-2's head: 50,257 logits
per position) are the other special case. Each row of the result then starts at an address that is
not aligned for MKL's stores, and the product runs markedly slower than into rows of an aligned
width. Without gradients, :class:`Linear` computes such a product :data:`COLUMN_BLOCK` columns at a
time, each block into an aligned buffer that is then copied into its columns of the result (a plain,
contiguous tensor): copies included, faster (the Performance page measures GPT-2's head). Any other
input (two or three rows, a width that is a multiple of 64, anything that needs gradients, as in
training) goes through ``nn.Linear`` unchanged.

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
#: An output width that is a multiple of this many values (256 bytes in float32) keeps every row aligned.
ROW_ALIGNMENT = 64
#: Output columns computed at a time into an aligned buffer when the width is not such a multiple.
COLUMN_BLOCK = 4096
#: From this many rows on, the column blocks pay for their copies (GPT-2's head, measured at 2 to 1024 rows).
COLUMN_BLOCK_MIN_ROWS = 4


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
        return linear(x, self.weight, self.bias)  # (..., in_features) -> (..., out_features)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, with the two faster cases of this module: one row, or several rows
    into an output width that is not a multiple of :data:`ROW_ALIGNMENT`."""
    out_features, in_features = weight.shape
    if (x.numel() == in_features and x.is_cpu and weight.is_contiguous()
            and (bias is None or bias.is_contiguous())):
        return one_row_product(x, weight, bias).view(*x.shape[:-1], out_features)
    if (out_features % ROW_ALIGNMENT and out_features > COLUMN_BLOCK and x.is_cpu
            and x.numel() >= COLUMN_BLOCK_MIN_ROWS * in_features
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))):
        return column_block_product(x, weight, bias)
    return F.linear(x, weight, bias)


def one_row_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear`` of a single row ``x`` (any shape with ``in_features`` elements), as ``(1, out_features)``.

    The first ``ROW_BLOCKS * (out_features // ROW_BLOCKS)`` rows of ``weight`` (contiguous, as ``bias``) are viewed
    as ``ROW_BLOCKS`` blocks and multiplied in one batched product, the bias added in the same call;
    the few rows left over, if any (GPT-2's 50,257 outputs leave one), by ``F.linear``.
    """
    out_features, in_features = weight.shape
    rows = out_features // ROW_BLOCKS
    split = rows * ROW_BLOCKS
    if rows == 0:
        return F.linear(x.reshape(1, in_features), weight, bias)
    row = x.reshape(1, 1, in_features).expand(ROW_BLOCKS, 1, in_features)
    # The first `split` rows as ROW_BLOCKS blocks, each transposed: (ROW_BLOCKS, in_features, rows). One
    # strided view (at the weight's own offset) instead of a slice, a view and a transpose: a one-row
    # product is short enough that every extra operation shows in the time of a token.
    blocks = weight.as_strided((ROW_BLOCKS, in_features, rows), (rows * in_features, 1, in_features))
    if bias is None:
        first = torch.bmm(row, blocks)
    else:
        first = torch.baddbmm(bias.as_strided((ROW_BLOCKS, 1, rows), (rows, rows, 1)), row, blocks)
    first = first.view(1, split)  # (ROW_BLOCKS, 1, rows) -> (1, split)
    if split == out_features:
        return first
    rest = F.linear(x.reshape(1, in_features), weight[split:], None if bias is None else bias[split:])
    return torch.cat([first, rest], dim=1)


def column_block_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for several rows, :data:`COLUMN_BLOCK` output columns at a time.

    Each block is computed into an aligned buffer (rows of ``COLUMN_BLOCK`` values) and copied into
    its columns of the result, a plain contiguous tensor; the last, narrower block is written in place.
    No gradient flows through it (``torch.mm`` with ``out=``): :class:`Linear` calls it only when none
    is needed.
    """
    out_features, in_features = weight.shape
    rows = x.reshape(-1, in_features)  # (n, in_features)
    out = torch.empty(rows.shape[0], out_features, dtype=x.dtype)  # (n, out_features)
    block = torch.empty(rows.shape[0], COLUMN_BLOCK, dtype=x.dtype)  # (n, COLUMN_BLOCK), rows aligned
    for start in range(0, out_features, COLUMN_BLOCK):
        end = min(start + COLUMN_BLOCK, out_features)
        target = block if end - start == COLUMN_BLOCK else out[:, start:end]
        if bias is None:
            torch.mm(rows, weight[start:end].t(), out=target)
        else:
            torch.addmm(bias[start:end], rows, weight[start:end].t(), out=target)
        if target is block:
            out[:, start:end] = block
    return out.view(*x.shape[:-1], out_features)
