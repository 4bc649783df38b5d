"""The GELU activation and the position-wise feed-forward network ("the individual processor")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from gptblock.checks import check_hidden_states
from gptblock.config import check_config
from gptblock.linear import Linear


class GELU(nn.Module):
    """GELU in the tanh approximation that GPT-2 was trained with.

    ``GELU(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``

    The formula is evaluated by PyTorch's fused kernel (``approximate="tanh"``): the same
    numbers as the formula above (the tests compare them), in one pass over memory instead of
    eight. :meth:`formula` spells it out term by term.

    Example:
        >>> import torch
        >>> from gptblock import GELU
        >>> GELU()(torch.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1588,  0.0000,  0.8412])
    """

    @staticmethod
    def formula(x: torch.Tensor) -> torch.Tensor:
        """The tanh approximation written out, as in the chapter."""
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate="tanh")


class FeedForward(nn.Module):
    """Two linear layers with a GELU between them, applied to each token on its own.

    The hidden layer is four times wider than the token vectors: ``emb_dim -> 4*emb_dim -> emb_dim``.

    Args:
        cfg: a model configuration (see :data:`gptblock.GPT_CONFIG_124M`); only ``emb_dim`` is used.

    Example:
        >>> import torch
        >>> from gptblock import FeedForward, GPT_CONFIG_124M
        >>> ff = FeedForward(GPT_CONFIG_124M)
        >>> ff.layers
        Sequential(
          (0): Linear(in_features=768, out_features=3072, bias=True)
          (1): GELU()
          (2): Linear(in_features=3072, out_features=768, bias=True)
        )
        >>> ff(torch.rand(2, 3, 768)).shape
        torch.Size([2, 3, 768])
    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        cfg = check_config(cfg)
        self.emb_dim = cfg["emb_dim"]
        self._checks_input = True  # False when a parent module checks the input (see gptblock.checks)
        self.layers = nn.Sequential(
            Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),  # expand
            GELU(),
            Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),  # contract back
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._checks_input:
            check_hidden_states(x, self.emb_dim, "FeedForward", dims=None)
        return self.layers(x)  # (..., emb_dim) -> (..., 4*emb_dim) -> (..., emb_dim)
