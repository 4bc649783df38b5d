"""LayerNorm: every vector brought to mean 0 and variance 1, then rescaled and shifted."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from gptblock import LayerNorm


def test_parameters_start_as_ones_and_zeros():
    norm = LayerNorm(8)
    assert [name for name, _ in norm.named_parameters()] == ["scale", "shift"]
    assert torch.equal(norm.scale, torch.ones(8))
    assert torch.equal(norm.shift, torch.zeros(8))
    assert norm.eps == 1e-5


@pytest.mark.parametrize("shape", [(5, 8), (2, 3, 8), (1, 1, 1, 8)])
def test_rows_have_mean_0_and_variance_1(shape):
    torch.manual_seed(0)
    x = torch.randn(shape) * 7 + 3
    y = LayerNorm(8)(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y.mean(dim=-1), torch.zeros(shape[:-1]), atol=1e-5, rtol=0)
    # biased variance, and eps=1e-5 only nudges it below 1
    torch.testing.assert_close(y.var(dim=-1, unbiased=False), torch.ones(shape[:-1]), atol=1e-4, rtol=0)


def test_equals_torch_layer_norm_with_learned_scale_and_shift():
    torch.manual_seed(1)
    norm = LayerNorm(16)
    with torch.no_grad():
        norm.scale.normal_()
        norm.shift.normal_()
    x = torch.randn(3, 5, 16)
    expected = F.layer_norm(x, (16,), norm.scale, norm.shift, eps=1e-5)
    torch.testing.assert_close(norm(x), expected, atol=1e-6, rtol=1e-5)


def test_constant_vector_stays_finite():
    y = LayerNorm(4)(torch.full((1, 4), 3.0))
    assert torch.isfinite(y).all()
    assert torch.equal(y, torch.zeros(1, 4))


def test_gradcheck_with_respect_to_scale_and_shift():
    """The input's gradient is checked for every module in test_properties.py; here, the parameters'."""
    torch.manual_seed(2)
    norm = LayerNorm(6).double()
    x = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    scale = torch.randn(6, dtype=torch.float64, requires_grad=True)
    shift = torch.randn(6, dtype=torch.float64, requires_grad=True)

    def with_params(inp, s, b):
        return torch.func.functional_call(norm, {"scale": s, "shift": b}, (inp,))

    assert torch.autograd.gradcheck(with_params, (x, scale, shift))


def test_repr_names_width_and_eps():
    assert repr(LayerNorm(8)) == "LayerNorm(8, eps=1e-05)"
