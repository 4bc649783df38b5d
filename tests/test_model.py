"""GPTModel: embeddings, the stack of blocks, the final norm and the output head."""

from __future__ import annotations

import pickle

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


def test_eval_is_deterministic_train_is_not(tiny_cfg):
    model = make_model(tiny_cfg)
    x = ids(2, 8)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_batch_equals_rows_one_by_one(tiny_cfg):
    model = make_model(tiny_cfg).eval()
    x = ids(4, 11, seed=1)
    rows = torch.cat([model(x[i: i + 1]) for i in range(4)])
    torch.testing.assert_close(model(x), rows, atol=1e-5, rtol=0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**16), num_tokens=st.integers(2, 16), data=st.data())
def test_causality(tiny_cfg, seed, num_tokens, data):
    t = data.draw(st.integers(0, num_tokens - 2), label="t")
    model = make_model(tiny_cfg, seed=seed).eval()
    x = ids(1, num_tokens, seed=seed)
    changed = x.clone()
    changed[:, t + 1:] = (changed[:, t + 1:] + 1 + ids(1, num_tokens - t - 1, vocab=98, seed=seed + 1)) % 99
    assert (changed[:, t + 1:] != x[:, t + 1:]).all()
    out, out_changed = model(x), model(changed)
    torch.testing.assert_close(out[:, : t + 1], out_changed[:, : t + 1], atol=1e-5, rtol=0)
    assert not torch.allclose(out[:, t + 1:], out_changed[:, t + 1:])


def test_every_parameter_gets_a_gradient(tiny_cfg):
    model = make_model(tiny_cfg)
    # every vocabulary entry appears, so every row of tok_emb gets a gradient; the full context is used
    x = torch.arange(99 + 13).remainder(99)[:112].view(7, 16)
    logits = model(x)
    nn.functional.cross_entropy(logits.flatten(0, 1), ids(7 * 16, seed=2)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert (p.grad.abs().sum(dim=-1) > 0).all(), name  # every row, not just some


def test_state_dict_round_trip(tiny_cfg):
    model = make_model(tiny_cfg, seed=1).eval()
    state = model.state_dict()
    assert not any(key.endswith("mask") for key in state)
    other = make_model(tiny_cfg, seed=2).eval()
    x = ids(2, 6)
    assert not torch.allclose(model(x), other(x))
    other.load_state_dict(state, strict=True)
    assert torch.equal(model(x), other(x))


def test_pickle_round_trip(tiny_cfg):
    model = make_model(tiny_cfg, seed=3).eval()
    clone = pickle.loads(pickle.dumps(model))
    x = ids(2, 6)
    assert torch.equal(clone(x), model(x))
    assert clone.cfg == model.cfg


def test_qkv_bias_model(tiny_cfg):
    model = make_model({**tiny_cfg, "qkv_bias": True})
    assert model.trf_blocks[1].att.W_key.bias is not None
