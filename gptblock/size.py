"""How big a model is: parameter counts and memory."""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module) -> int:
    """All parameters of ``model`` (a weight shared between two modules counts once)."""
    return sum(p.numel() for p in model.parameters())


def count_parameters_tied(model: nn.Module) -> int:
    """Parameters of a GPT model whose output head reuses the token embedding, as GPT-2 does.

    If ``out_head`` is not already tied to ``tok_emb``, its weight is left out of the count.
    """
    total = count_parameters(model)
    if model.out_head.weight is model.tok_emb.weight:
        return total
    return total - model.out_head.weight.numel()


def model_size_mb(model: nn.Module, bytes_per_parameter: int = 4) -> float:
    """Memory the parameters take, in MB (2**20 bytes); float32 by default."""
    return count_parameters(model) * bytes_per_parameter / (1024 * 1024)
