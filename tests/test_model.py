"""GPTModel: embeddings, the stack of blocks, the final norm and the output head (its properties:
tests/test_properties.py)."""

from __future__ import annotations

import torch
from test_block import BLOCK_PARAMETERS
from torch import nn

from gptblock import GPTModel, LayerNorm, TransformerBlock


def make_model(cfg, seed=0):
    torch.manual_seed(seed)
    return GPTModel(cfg)


def ids(*shape, vocab=99, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, shape, generator=g)


def test_parts(tiny_cfg):
    model = make_model(tiny_cfg)
    assert isinstance(model.tok_emb, nn.Embedding) and model.tok_emb.weight.shape == (99, 32)
    assert isinstance(model.pos_emb, nn.Embedding) and model.pos_emb.weight.shape == (16, 32)
    assert isinstance(model.drop_emb, nn.Dropout) and model.drop_emb.p == 0.1
    assert isinstance(model.trf_blocks, nn.Sequential) and len(model.trf_blocks) == 2
    assert all(isinstance(b, TransformerBlock) for b in model.trf_blocks)
    assert isinstance(model.final_norm, LayerNorm)
    assert isinstance(model.out_head, nn.Linear) and model.out_head.bias is None
    assert model.out_head.weight.shape == (99, 32)
    assert model.cfg == tiny_cfg


def test_parameter_order(tiny_cfg):
    names = [n for n, _ in make_model(tiny_cfg).named_parameters()]
    expected = ["tok_emb.weight", "pos_emb.weight"]
    for i in range(2):
        expected += [f"trf_blocks.{i}.{n}" for n in BLOCK_PARAMETERS]
    expected += ["final_norm.scale", "final_norm.shift", "out_head.weight"]
    assert names == expected


def test_logits_shape_and_int32_ids(tiny_cfg):
    model = make_model(tiny_cfg).eval()
    x = ids(3, 7)
    logits = model(x)
    assert logits.shape == (3, 7, 99) and logits.dtype == torch.float32
    assert torch.equal(model(x.to(torch.int32)), logits)


def test_forward_follows_the_reference_steps(tiny_cfg):
    model = make_model(tiny_cfg).eval()
    x = ids(2, 5)
    h = model.tok_emb(x) + model.pos_emb(torch.arange(5))
    for block in model.trf_blocks:
        h = block(h)
    expected = model.out_head(model.final_norm(h))
    assert torch.equal(model(x), expected)


def test_every_parameter_gets_a_gradient(tiny_cfg):
    model = make_model(tiny_cfg)
    # every vocabulary entry appears, so every row of tok_emb gets a gradient; the full context is used
    x = torch.arange(99 + 13).remainder(99)[:112].view(7, 16)
    logits = model(x)
    nn.functional.cross_entropy(logits.flatten(0, 1), ids(7 * 16, seed=2)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert (p.grad.abs().sum(dim=-1) > 0).all(), name  # every row, not just some


def test_qkv_bias_model(tiny_cfg):
    model = make_model({**tiny_cfg, "qkv_bias": True})
    assert model.trf_blocks[1].att.W_key.bias is not None


def test_attn_impl_reaches_every_block(tiny_cfg):
    model = GPTModel(tiny_cfg, attn_impl="sdpa")
    assert [block.att.attn_impl for block in model.trf_blocks] == ["sdpa", "sdpa"]


def test_a_model_on_the_meta_device_runs_forward(tiny_cfg):
    """Shapes only: no memory, no values to check, and the same shapes out."""
    with torch.device("meta"):
        model = GPTModel(tiny_cfg)
    logits = model(torch.zeros(2, 5, dtype=torch.long, device="meta"))
    assert logits.shape == (2, 5, 99) and logits.device.type == "meta"
