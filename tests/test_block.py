"""TransformerBlock: the seed's forward, line for line (its properties: tests/test_properties.py)."""

from __future__ import annotations

import torch
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


def test_the_seed_example_prints_its_two_lines(capsys):
    torch.manual_seed(123)
    x = torch.rand(2, 4, 768)  # [batch_size, num_tokens, emb_dim]
    block = TransformerBlock(GPT_CONFIG_124M)
    output = block(x)
    print("Input shape:", x.shape)
    print("Output shape:", output.shape)
    assert capsys.readouterr().out == "Input shape: torch.Size([2, 4, 768])\nOutput shape: torch.Size([2, 4, 768])\n"
