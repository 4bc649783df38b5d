"""TransformerBlock: the seed's forward, line for line, and its properties."""

from __future__ import annotations

import pickle

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from gptblock import GPT_CONFIG_124M, FeedForward, LayerNorm, MultiHeadAttention, TransformerBlock

BLOCK_PARAMETERS = [
    "att.W_query.weight",
    "att.W_key.weight",
    "att.W_value.weight",
    "att.out_proj.weight",
    "att.out_proj.bias",
    "ff.layers.0.weight",
    "ff.layers.0.bias",
    "ff.layers.2.weight",
    "ff.layers.2.bias",
    "norm1.scale",
    "norm1.shift",
    "norm2.scale",
    "norm2.shift",
]


def make_block(cfg, seed=0):
    torch.manual_seed(seed)
    return TransformerBlock(cfg)


def test_parts_and_parameter_order(tiny_cfg):
    block = make_block(tiny_cfg)
    assert isinstance(block.att, MultiHeadAttention)
    assert isinstance(block.ff, FeedForward)
    assert isinstance(block.norm1, LayerNorm) and isinstance(block.norm2, LayerNorm)
    assert isinstance(block.drop_shortcut, nn.Dropout) and block.drop_shortcut.p == tiny_cfg["drop_rate"]
    assert block.att.dropout.p == tiny_cfg["drop_rate"]
    assert (block.att.num_heads, block.att.context_length) == (2, 16)
    assert [n for n, _ in block.named_parameters()] == BLOCK_PARAMETERS
    assert list(block.state_dict()) == BLOCK_PARAMETERS  # no mask saved


def test_qkv_bias_adds_three_biases(tiny_cfg):
    block = make_block({**tiny_cfg, "qkv_bias": True})
    names = [n for n, _ in block.named_parameters()]
    assert names[:6] == ["att.W_query.weight", "att.W_query.bias", "att.W_key.weight", "att.W_key.bias",
                         "att.W_value.weight", "att.W_value.bias"]


def test_default_config_is_124m():
    block = TransformerBlock()
    assert block.att.d_in == 768 and block.att.num_heads == 12 and block.att.context_length == 1024
    assert sum(p.numel() for p in block.parameters()) == 7_085_568


def test_forward_is_pre_layernorm_with_two_shortcuts(tiny_cfg_no_dropout):
    block = make_block(tiny_cfg_no_dropout, seed=1)
    with torch.no_grad():
        for norm in (block.norm1, block.norm2):
            norm.scale.normal_()
            norm.shift.normal_()
    x = torch.randn(2, 6, 32)
    h = x + block.att(block.norm1(x))
    expected = h + block.ff(block.norm2(h))
    torch.testing.assert_close(block(x), expected)


def test_shape_is_kept(tiny_cfg):
    block = make_block(tiny_cfg)
    for shape in [(1, 1, 32), (3, 16, 32)]:
        assert block(torch.randn(shape)).shape == shape


def test_eval_is_deterministic_train_is_not(tiny_cfg):
    block = make_block(tiny_cfg)
    x = torch.randn(2, 8, 32)
    block.eval()
    assert torch.equal(block(x), block(x))
    block.train()
    assert not torch.equal(block(x), block(x))


def test_batch_equals_rows_one_by_one(tiny_cfg):
    block = make_block(tiny_cfg).eval()
    x = torch.randn(3, 9, 32)
    rows = torch.cat([block(x[i: i + 1]) for i in range(3)])
    torch.testing.assert_close(block(x), rows, atol=1e-6, rtol=0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), num_tokens=st.integers(2, 16), data=st.data())
def test_causality(tiny_cfg, seed, num_tokens, data):
    t = data.draw(st.integers(0, num_tokens - 2), label="t")
    block = make_block(tiny_cfg, seed=seed).eval()
    x = torch.randn(1, num_tokens, 32)
    changed = x.clone()
    changed[:, t + 1:] += torch.randn(1, num_tokens - t - 1, 32)
    out, out_changed = block(x), block(changed)
    torch.testing.assert_close(out[:, : t + 1], out_changed[:, : t + 1], atol=1e-6, rtol=0)
    assert not torch.allclose(out[:, t + 1:], out_changed[:, t + 1:])


def test_every_parameter_gets_a_gradient(tiny_cfg):
    block = make_block(tiny_cfg)
    block(torch.randn(2, 5, 32)).square().sum().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("fused", [True, False])
def test_gradcheck_float64(fused):
    cfg = {"vocab_size": 5, "context_length": 4, "emb_dim": 4, "n_heads": 2, "n_layers": 1,
           "drop_rate": 0.0, "qkv_bias": True}
    block = make_block(cfg, seed=2).double().eval()
    block.att.allow_fused = fused
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))


def test_state_dict_round_trip(tiny_cfg):
    block = make_block(tiny_cfg, seed=3).eval()
    other = make_block(tiny_cfg, seed=4).eval()
    x = torch.randn(2, 5, 32)
    assert not torch.allclose(block(x), other(x))
    other.load_state_dict(block.state_dict(), strict=True)
    assert torch.equal(block(x), other(x))


def test_pickle_round_trip(tiny_cfg):
    block = make_block(tiny_cfg, seed=5).eval()
    clone = pickle.loads(pickle.dumps(block))
    x = torch.randn(2, 5, 32)
    assert torch.equal(clone(x), block(x))


def test_the_seed_example_prints_its_two_lines(capsys):
    torch.manual_seed(123)
    x = torch.rand(2, 4, 768)  # [batch_size, num_tokens, emb_dim]
    block = TransformerBlock(GPT_CONFIG_124M)
    output = block(x)
    print("Input shape:", x.shape)
    print("Output shape:", output.shape)
    assert capsys.readouterr().out == "Input shape: torch.Size([2, 4, 768])\nOutput shape: torch.Size([2, 4, 768])\n"
