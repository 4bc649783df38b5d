"""optimize_for_cpu: fused layer norms and, for several rows, linear layers packed for oneDNN, in place, the same
numbers within 1e-5."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_model
from torch import nn

import gptblock.optimize as optimize_module
from gptblock import GPT_CONFIG_124M, LayerNorm, MultiHeadAttention, generate, optimize_for_cpu
from gptblock.linear import Linear
from gptblock.optimize import FusedLayerNorm, PackedLinear, StackedAttention, consecutive, onednn_linear_works

needs_onednn = pytest.mark.skipif(not onednn_linear_works(), reason="this PyTorch has no working oneDNN linear")


def linears(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]


@needs_onednn
def test_every_linear_layer_is_packed_in_place_and_its_plain_weight_dropped():
    model = tiny_model()
    names = linears(model)
    state_names = list(model.state_dict())
    plain_parameters = sum(p.numel() for p in model.parameters())
    assert optimize_for_cpu(model, rows=8) is model
    assert linears(model) == []
    assert [name for name, m in model.named_modules() if isinstance(m, PackedLinear)] == names
    dropped = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, PackedLinear))
    biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, PackedLinear) and m.bias is not None)
    assert sum(p.numel() for p in model.parameters()) == plain_parameters - dropped - biases  # no second copy
    assert list(model.state_dict()) == state_names  # saved as the plain model is


def projections(attention: nn.Module) -> list[nn.Linear]:
    return [attention.W_query, attention.W_key, attention.W_value]


def storage_bytes(model: nn.Module) -> int:
    """The bytes of every distinct storage behind the model's parameters."""
    storages = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes() for p in model.parameters()}
    return sum(storages.values())


def test_one_row_fuses_the_layer_norms_and_leaves_the_linear_layers_and_the_weights():
    model = tiny_model()
    norms = [name for name, m in model.named_modules() if isinstance(m, LayerNorm)]
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    assert optimize_for_cpu(model) is model
    assert [name for name, m in model.named_modules() if type(m) is FusedLayerNorm] == norms
    assert all(type(m) is Linear for m in model.modules() if isinstance(m, nn.Linear)) and len(linears(model)) == 13
    assert [type(block.att) for block in model.trf_blocks] == [StackedAttention] * 2
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in state.items())
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        optimize_for_cpu(model, rows=0)


@pytest.mark.parametrize("rows", [1, pytest.param(8, marks=needs_onednn)])
def test_the_same_numbers_within_1e_5_at_gpt2_width(rows):
    """GPT-2 124M's widths (a smaller vocabulary), two blocks: the optimized model's logits within 1e-5."""
    model = tiny_model(**{**GPT_CONFIG_124M, "vocab_size": 1000, "n_layers": 2, "drop_rate": 0.0})
    ids = torch.randint(0, 1000, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(ids)
        after = optimize_for_cpu(model, rows=rows)(ids)
        one_row = model(ids[:1, :1])
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(one_row, before[:1, :1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_one_row_stacks_query_key_and_value_weights_in_one_tensor_without_a_copy(qkv_bias):
    model = tiny_model(qkv_bias=qkv_bias)
    plain_bytes = storage_bytes(model)
    optimize_for_cpu(model)
    assert storage_bytes(model) == plain_bytes  # moved, not copied
    for block in model.trf_blocks:
        layers = projections(block.att)
        names = ["weight", "bias"] if qkv_bias else ["weight"]
        for name in names:
            parts = [getattr(layer, name) for layer in layers]
            assert all(isinstance(part, nn.Parameter) for part in parts)
            stacked = consecutive(*parts)
            assert stacked is not None and stacked.shape == (3 * parts[0].shape[0], *parts[0].shape[1:])
            assert torch.equal(stacked, torch.cat(parts))


def test_stacked_attention_makes_one_product_and_falls_back_when_the_weights_move(monkeypatch):
    """One product for the three projections; after .to(), which moves each weight on its own, three."""
    model = tiny_model(drop_rate=0.0, qkv_bias=True)
    ids = torch.randint(0, 99, (2, 5), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(ids)
        optimize_for_cpu(model)
        products = []
        original = optimize_module.linear
        monkeypatch.setattr(optimize_module, "linear", lambda *args: products.append(args[1].shape) or original(*args))
        torch.testing.assert_close(model(ids), expected, rtol=1e-5, atol=1e-6)
        assert products == [(3 * 32, 32)] * 2  # one (3 * d_out, d_in) product per layer
        model.double()
        assert consecutive(*(layer.weight for layer in projections(model.trf_blocks[0].att))) is None
        torch.testing.assert_close(model(ids).float(), expected, rtol=1e-5, atol=1e-6)
        assert len(products) == 2  # the three layers' own products, not the stacked one


def test_consecutive_refuses_tensors_that_do_not_lie_together():
    whole = torch.arange(12.0)
    a, b, c = whole[:4], whole[4:8], whole[8:]
    assert torch.equal(consecutive(a, b, c), whole)
    assert consecutive(a, c, b) is None  # out of order
    assert consecutive(a, whole[4:7], whole[7:10]) is None  # other shapes
    assert consecutive(torch.arange(4.0), torch.arange(4.0)) is None  # separate storages
    grid = torch.arange(12.0).view(3, 4)
    assert consecutive(grid[:, :2], grid[:, 2:]) is None  # not contiguous


@needs_onednn
def test_generation_gives_the_same_tokens_after_optimizing():
    model = tiny_model(drop_rate=0.0)
    model.out_head.weight = model.tok_emb.weight  # tied, as GPT-2's: the head gets its own packed copy
    prompt = torch.randint(0, 99, (2, 4), generator=torch.Generator().manual_seed(1))
    expected = generate(model, prompt, max_new_tokens=20, context_size=16)
    optimize_for_cpu(model)  # one row at a time: fused norms only
    assert torch.equal(generate(model, prompt, max_new_tokens=20, context_size=16), expected)
    optimize_for_cpu(model, rows=2)  # the batch of two: packed too
    assert isinstance(model.tok_emb, nn.Embedding) and isinstance(model.out_head, PackedLinear)
    assert all(type(block.att) is MultiHeadAttention for block in model.trf_blocks)  # packed: read one by one
    assert torch.equal(generate(model, prompt, max_new_tokens=20, context_size=16), expected)
    assert torch.equal(model.out_head.weight, model.tok_emb.weight)  # unpacked: the same matrix


@needs_onednn
def test_a_packed_layer_refuses_to_backpropagate_and_the_probe_draws_no_random_number():
    linear = nn.Linear(8, 4)
    layer = PackedLinear(linear)
    x = torch.randn(2, 8, requires_grad=True)
    out = layer(x)  # inside a graph that needs gradients, the forward still works
    torch.testing.assert_close(out, linear(x), atol=1e-6, rtol=0)
    with pytest.raises(RuntimeError, match="for inference: it computes no gradient"):
        out.sum().backward()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    onednn_linear_works.__wrapped__()
    assert torch.equal(torch.rand(3), expected)


def test_layers_that_are_not_float32_on_the_cpu_are_left_alone():
    model = tiny_model().double()
    optimize_for_cpu(model, rows=8)
    assert len(linears(model)) == 2 * 6 + 1


def test_without_onednn_nothing_is_packed(monkeypatch):
    monkeypatch.setattr(optimize_module, "onednn_linear_works", lambda: False)
    model = tiny_model()
    assert optimize_for_cpu(model, rows=8) is model and len(linears(model)) == 2 * 6 + 1


@needs_onednn
def test_the_probe_refuses_an_operator_that_computes_something_else(monkeypatch):
    real = torch.ops.mkldnn._linear_pointwise

    def off_by_one(*args):
        return real(*args) + 1

    def missing(*args):
        raise RuntimeError("no such kernel")

    for fake in (off_by_one, missing):
        monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", fake)
        assert onednn_linear_works.__wrapped__() is False
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", real)
    assert onednn_linear_works.__wrapped__() is True


def test_the_package_model_module_stays_plain():
    """Only optimize.py touches PyTorch's private oneDNN operators."""
    from pathlib import Path

    package = Path(optimize_module.__file__).parent
    users = sorted(p.name for p in package.glob("*.py") if "torch.ops.mkldnn" in p.read_text(encoding="utf-8"))
    assert users == ["optimize.py"]
