"""GELU (tanh approximation) and the feed-forward network."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from gptblock import GELU, FeedForward


def test_gelu_equals_torch_tanh_gelu_and_the_formula():
    x = torch.linspace(-8, 8, 2001)
    y = GELU()(x)
    assert torch.equal(y, F.gelu(x, approximate="tanh"))
    torch.testing.assert_close(y, GELU.formula(x), atol=1e-6, rtol=1e-6)


def test_gelu_formula_term_by_term():
    x = 1.5
    expected = 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    assert GELU.formula(torch.tensor(x, dtype=torch.float64)).item() == pytest.approx(expected, abs=1e-15)


def test_gelu_is_not_the_exact_erf_gelu():
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    gap = (GELU()(x) - F.gelu(x)).abs().max().item()
    assert 1e-4 < gap < 1e-3  # the two GELUs differ by a few 1e-4: GPT-2 uses the tanh one


def test_gelu_known_values():
    y = GELU()(torch.tensor([-1.0, 0.0, 1.0]))
    torch.testing.assert_close(y, torch.tensor([-0.158808, 0.0, 0.841192]), atol=1e-6, rtol=0)


def test_feed_forward_layers(tiny_cfg):
    ff = FeedForward(tiny_cfg)
    assert isinstance(ff.layers, nn.Sequential)
    first, act, second = ff.layers
    assert isinstance(first, nn.Linear) and (first.in_features, first.out_features) == (32, 128)
    assert isinstance(act, GELU)
    assert isinstance(second, nn.Linear) and (second.in_features, second.out_features) == (128, 32)
    assert first.bias is not None and second.bias is not None
    assert [n for n, _ in ff.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
    ]


def test_feed_forward_is_position_wise(tiny_cfg):
    torch.manual_seed(0)
    ff = FeedForward(tiny_cfg)
    x = torch.randn(2, 5, 32)
    y = ff(x)
    assert y.shape == x.shape
    # each token is processed on its own
    torch.testing.assert_close(y[:, 3], ff(x[:, 3]))
    expected = ff.layers[2](F.gelu(ff.layers[0](x), approximate="tanh"))
    torch.testing.assert_close(y, expected)


def test_feed_forward_124m_parameter_count():
    from gptblock import GPT_CONFIG_124M

    ff = FeedForward(GPT_CONFIG_124M)
    assert sum(p.numel() for p in ff.parameters()) == 768 * 3072 + 3072 + 3072 * 768 + 768 == 4_722_432
