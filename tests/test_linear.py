"""gptblock.linear.Linear: nn.Linear's parameters and numbers, with the one-row product split in row blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import gptblock.linear as linear_module
from gptblock import GPTModel
from gptblock.linear import COLUMN_BLOCK, COLUMN_BLOCK_MIN_ROWS, ROW_ALIGNMENT, ROW_BLOCKS, Linear


class Calls:
    """Counts the calls of one of linear.py's products (``one_row_product`` unless named)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str = "one_row_product") -> None:
        self.calls = 0
        original = getattr(linear_module, name)

        def counted(*args):
            self.calls += 1
            return original(*args)

        monkeypatch.setattr(linear_module, name, counted)


# out_features: fewer than the blocks, a multiple of them, and one with rows left over (GPT-2's head leaves one).
@pytest.mark.parametrize("out_features", [5, 3 * ROW_BLOCKS, 50 * ROW_BLOCKS + 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(64,), (1, 64), (1, 1, 64)])
def test_one_row_equals_f_linear(out_features, bias, shape, monkeypatch):
    torch.manual_seed(0)
    layer, x = Linear(64, out_features, bias=bias), torch.randn(shape)
    products = Calls(monkeypatch)
    out = layer(x)
    assert products.calls == 1, "a single row did not take the row-block product"
    assert out.shape == (*shape[:-1], out_features)
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), rtol=1e-6, atol=1e-6)


def test_several_rows_and_other_weights_take_f_linear_itself(monkeypatch):
    torch.manual_seed(0)
    layer = Linear(64, 96)
    products = Calls(monkeypatch)
    for x in (torch.randn(2, 64), torch.randn(1, 3, 64)):
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
    assert products.calls == 0
    transposed = Linear(64, 96)
    with torch.no_grad():  # a weight that is a non-contiguous view cannot be split into views
        transposed.weight = nn.Parameter(torch.randn(64, 96).t())
    x = torch.randn(1, 64)
    assert torch.equal(transposed(x), F.linear(x, transposed.weight, transposed.bias))
    strided_bias = Linear(64, 96)
    with torch.no_grad():  # every other value of a longer tensor: not one block of memory either
        strided_bias.bias = nn.Parameter(torch.randn(2 * 96)[::2])
    assert torch.equal(strided_bias(x), F.linear(x, strided_bias.weight, strided_bias.bias))
    assert products.calls == 0


def test_one_row_of_a_weight_that_starts_inside_a_larger_tensor(monkeypatch):
    """Stacked parameters (see optimize.stack_projections) are views at an offset into one tensor."""
    torch.manual_seed(0)
    weights, biases = torch.randn(3 * 40, 64), torch.randn(3 * 40)
    x = torch.randn(1, 1, 64)
    products = Calls(monkeypatch)
    for part in range(3):
        weight, bias = weights[40 * part:40 * (part + 1)], biases[40 * part:40 * (part + 1)]
        torch.testing.assert_close(linear_module.linear(x, weight, bias), F.linear(x, weight, bias),
                                   rtol=1e-5, atol=1e-5)
    assert products.calls == 3


def test_gradients_equal_those_of_nn_linear():
    torch.manual_seed(0)
    ours = Linear(32, 8 * ROW_BLOCKS + 1)
    plain = nn.Linear(32, 8 * ROW_BLOCKS + 1)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(1, 32, requires_grad=True)
    x_plain = x.detach().clone().requires_grad_()
    ours(x).square().sum().backward()
    plain(x_plain).square().sum().backward()
    torch.testing.assert_close(x.grad, x_plain.grad)
    torch.testing.assert_close(ours.weight.grad, plain.weight.grad)
    torch.testing.assert_close(ours.bias.grad, plain.bias.grad)


def test_it_is_nn_linear_with_the_same_initialisation_and_state_dict():
    torch.manual_seed(3)
    ours = Linear(16, 24)
    torch.manual_seed(3)
    plain = nn.Linear(16, 24)
    assert isinstance(ours, nn.Linear) and repr(ours) == repr(plain)
    assert ours.state_dict().keys() == plain.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), plain.state_dict().values(), strict=True))


def test_greedy_decoding_of_a_model_is_unchanged_by_the_row_blocks(tiny_cfg_no_dropout, monkeypatch):
    """The model's logits for one new token, row blocks against F.linear in every layer."""
    torch.manual_seed(0)
    model = GPTModel({**tiny_cfg_no_dropout, "vocab_size": 8 * ROW_BLOCKS + 5}).eval()
    ids = torch.tensor([[3]])
    with torch.no_grad():
        blocked = model(ids)
        monkeypatch.setattr(Linear, "forward", nn.Linear.forward)
        plain = model(ids)
    torch.testing.assert_close(blocked, plain, rtol=1e-5, atol=1e-6)


def test_one_row_on_the_meta_device_has_the_shape_of_the_output():
    with torch.device("meta"):
        layer = Linear(64, 80)
        out = layer(torch.empty(1, 1, 64))
    assert out.shape == (1, 1, 80) and out.is_meta


# Several rows into a width that is not a multiple of ROW_ALIGNMENT (as GPT-2's head): column blocks.
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(COLUMN_BLOCK_MIN_ROWS, 16), (2, COLUMN_BLOCK_MIN_ROWS // 2 + 3, 16)])
def test_many_rows_into_an_unaligned_width_equal_f_linear_and_come_back_contiguous(bias, shape, monkeypatch):
    torch.manual_seed(0)
    layer, x = Linear(16, 2 * COLUMN_BLOCK + 5, bias=bias), torch.randn(shape)  # two whole blocks and 5 columns
    blocks = Calls(monkeypatch, "column_block_product")
    with torch.no_grad():
        out = layer(x)
    assert blocks.calls == 1
    assert out.shape == (*shape[:-1], layer.out_features) and out.is_contiguous()
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), rtol=1e-6, atol=1e-6)


def test_column_blocks_only_without_gradients_many_rows_and_a_wide_unaligned_width(monkeypatch):
    torch.manual_seed(0)
    blocks = Calls(monkeypatch, "column_block_product")
    unaligned = Linear(16, COLUMN_BLOCK + 1)
    aligned, narrow = Linear(16, COLUMN_BLOCK + ROW_ALIGNMENT), Linear(16, COLUMN_BLOCK - 1)
    many, few = torch.randn(COLUMN_BLOCK_MIN_ROWS, 16), torch.randn(COLUMN_BLOCK_MIN_ROWS - 1, 16)
    out = unaligned(many)  # the weight needs a gradient: F.linear, which records one
    assert out.grad_fn is not None
    with torch.no_grad():
        assert torch.equal(unaligned(few), F.linear(few, unaligned.weight, unaligned.bias))
        for layer in (aligned, narrow):  # aligned rows already, or a single block: nothing to gain
            assert torch.equal(layer(many), F.linear(many, layer.weight, layer.bias))
    assert blocks.calls == 0
    with torch.no_grad():
        unaligned(many)
    assert blocks.calls == 1
