"""Causal multi-head attention: its two paths, its mask, its gradients."""

from __future__ import annotations

import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_impl import RefMultiHeadAttention

from gptblock import MultiHeadAttention


def make_mha(d_in=32, d_out=32, context_length=16, dropout=0.0, num_heads=2, qkv_bias=False, seed=0):
    torch.manual_seed(seed)
    return MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads, qkv_bias=qkv_bias)


def explicit_formula(mha: MultiHeadAttention, x: torch.Tensor) -> torch.Tensor:
    """softmax(mask(Q Kᵀ) / sqrt(head_dim)) V, head by head, written without the module's helpers."""
    b, t, _ = x.shape
    h, hd = mha.num_heads, mha.head_dim
    q = mha.W_query(x).view(b, t, h, hd).transpose(1, 2)
    k = mha.W_key(x).view(b, t, h, hd).transpose(1, 2)
    v = mha.W_value(x).view(b, t, h, hd).transpose(1, 2)
    scores = q @ k.transpose(-2, -1)
    future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")) / hd**0.5, dim=-1)
    context = (weights @ v).transpose(1, 2).reshape(b, t, h * hd)
    return mha.out_proj(context)


def spy_explicit(monkeypatch, mha):
    calls = []
    original = mha.explicit_attention

    def spy(*args):
        calls.append(args[0].shape)
        return original(*args)

    monkeypatch.setattr(mha, "explicit_attention", spy)
    return calls


def test_parameters_in_reference_order():
    mha = make_mha(qkv_bias=True)
    assert [n for n, _ in mha.named_parameters()] == [
        "W_query.weight", "W_query.bias", "W_key.weight", "W_key.bias", "W_value.weight", "W_value.bias",
        "out_proj.weight", "out_proj.bias",
    ]
    no_bias = make_mha()
    assert no_bias.W_query.bias is None and no_bias.W_key.bias is None and no_bias.W_value.bias is None
    assert no_bias.out_proj.bias is not None


def test_mask_is_a_bool_buffer_outside_the_state_dict():
    mha = make_mha(context_length=5)
    assert mha.mask.dtype == torch.bool
    assert torch.equal(mha.mask, torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1))
    assert "mask" in dict(mha.named_buffers())
    assert "mask" not in mha.state_dict()


def test_which_path_runs():
    mha = make_mha(dropout=0.1)
    assert mha.uses_fused_path() is False  # a fresh module is in train mode, with dropout
    mha.eval()
    assert mha.uses_fused_path() is True
    mha.allow_fused = False
    assert mha.uses_fused_path() is False
    no_drop = make_mha(dropout=0.0)
    assert no_drop.training and no_drop.uses_fused_path() is True


def test_train_with_dropout_takes_the_explicit_path(monkeypatch):
    mha = make_mha(dropout=0.5)
    calls = spy_explicit(monkeypatch, mha)
    mha(torch.randn(2, 4, 32))
    assert calls == [torch.Size([2, 2, 4, 16])]
    mha.eval()
    mha(torch.randn(2, 4, 32))
    assert len(calls) == 1  # eval went through the fused kernel


SHAPES = [  # (batch, tokens, d_out, heads, context_length)
    (1, 1, 8, 2, 4),
    (2, 5, 12, 3, 8),
    (3, 16, 32, 4, 16),
    (2, 7, 64, 1, 7),
    (2, 33, 96, 12, 64),
]


@pytest.mark.parametrize(("b", "t", "d", "h", "ctx"), SHAPES)
@pytest.mark.parametrize("mode", ["eval", "train-dropout-0"])
def test_fused_path_equals_explicit_formula(b, t, d, h, ctx, mode):
    mha = make_mha(d_in=d, d_out=d, context_length=ctx, num_heads=h, dropout=0.0 if mode != "eval" else 0.2,
                   qkv_bias=True, seed=b * 100 + t)
    mha.train(mode != "eval")
    assert mha.uses_fused_path()
    x = torch.randn(b, t, d)
    fused = mha(x)
    torch.testing.assert_close(fused, explicit_formula(mha, x), atol=1e-6, rtol=0)
    mha.allow_fused = False
    torch.testing.assert_close(fused, mha(x), atol=1e-6, rtol=0)


def test_train_with_dropout_matches_the_reference_module_under_the_same_seed():
    torch.manual_seed(7)
    ours = MultiHeadAttention(32, 32, 16, 0.3, 4)
    torch.manual_seed(7)
    ref = RefMultiHeadAttention(32, 32, 16, 0.3, 4)
    x = torch.randn(3, 9, 32)
    torch.manual_seed(11)
    out_ours = ours(x)
    torch.manual_seed(11)
    out_ref = ref(x)
    assert torch.equal(out_ours, out_ref)
    # and the draw really is random: another seed gives other numbers
    torch.manual_seed(12)
    assert not torch.allclose(ours(x), out_ours)


def test_dropout_1_zeroes_every_attention_weight():
    mha = make_mha(dropout=1.0)
    out = mha(torch.randn(2, 4, 32))
    # the context is all zeros, so only out_proj's bias is left
    torch.testing.assert_close(out, mha.out_proj.bias.expand(2, 4, 32))


def test_first_token_sees_only_itself():
    mha = make_mha().eval()
    x = torch.randn(1, 6, 32)
    value = mha.out_proj(mha.W_value(x[:, :1]))
    torch.testing.assert_close(mha(x)[:, :1], value, atol=1e-6, rtol=0)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    num_tokens=st.integers(2, 16),
    data=st.data(),
    fused=st.booleans(),
)
def test_causality(seed, num_tokens, data, fused):
    t = data.draw(st.integers(0, num_tokens - 2), label="t")
    mha = make_mha(seed=seed).eval()
    mha.allow_fused = fused
    x = torch.randn(2, num_tokens, 32)
    changed = x.clone()
    changed[:, t + 1:] = torch.randn(2, num_tokens - t - 1, 32) * 5
    out, out_changed = mha(x), mha(changed)
    torch.testing.assert_close(out[:, : t + 1], out_changed[:, : t + 1], atol=1e-6, rtol=0)
    assert not torch.allclose(out[:, t + 1:], out_changed[:, t + 1:])


def test_eval_is_deterministic_train_with_dropout_is_not():
    mha = make_mha(dropout=0.3)
    x = torch.randn(2, 6, 32)
    assert not torch.equal(mha(x), mha(x))
    mha.eval()
    assert torch.equal(mha(x), mha(x))


def test_batch_equals_rows_one_by_one():
    mha = make_mha(seed=4).eval()
    x = torch.randn(4, 10, 32)
    rows = torch.cat([mha(x[i: i + 1]) for i in range(4)])
    torch.testing.assert_close(mha(x), rows, atol=1e-6, rtol=0)


def test_shorter_sequences_use_the_top_left_corner_of_the_mask():
    mha = make_mha(context_length=16).eval()
    x = torch.randn(1, 16, 32)
    torch.testing.assert_close(mha(x[:, :5]), mha(x)[:, :5], atol=1e-6, rtol=0)


@pytest.mark.parametrize("fused", [True, False])
def test_gradcheck_float64(fused):
    mha = make_mha(d_in=6, d_out=4, context_length=5, num_heads=2, qkv_bias=True, seed=5).double().eval()
    mha.allow_fused = fused
    x = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(mha, (x,))


def test_every_parameter_gets_a_gradient():
    mha = make_mha(qkv_bias=True, dropout=0.1)
    mha(torch.randn(2, 5, 32)).square().sum().backward()
    for name, p in mha.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_state_dict_round_trip_and_pickle():
    mha = make_mha(seed=8).eval()
    other = make_mha(seed=9).eval()
    x = torch.randn(2, 5, 32)
    assert not torch.allclose(other(x), mha(x))
    other.load_state_dict(mha.state_dict(), strict=True)
    assert torch.equal(other(x), mha(x))
    clone = pickle.loads(pickle.dumps(mha))
    assert torch.equal(clone(x), mha(x))
    assert clone.mask.dtype == torch.bool


def test_loads_a_reference_state_dict_with_its_float_mask():
    torch.manual_seed(3)
    ref = RefMultiHeadAttention(32, 32, 16, 0.0, 2)
    state = ref.state_dict()
    assert state["mask"].dtype == torch.float32
    mha = make_mha(seed=99)
    result = mha.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert "mask" in state  # the caller's dict is left as it was
    x = torch.randn(2, 7, 32)
    torch.testing.assert_close(mha.eval()(x), ref.eval()(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d_out": 30, "num_heads": 4}, r"\(30\).*\(4\)"),
        ({"dropout": 1.5}, r"dropout must be a number in \[0, 1\], got 1.5"),
        ({"num_heads": 0}, r"num_heads must be a positive integer, got 0"),
        ({"context_length": 2.5}, r"context_length must be a positive integer, got 2.5"),
        ({"qkv_bias": 1}, r"qkv_bias must be True or False, got 1"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, message):
    args = {"d_in": 32, "d_out": 32, "context_length": 16, "dropout": 0.0, "num_heads": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(**args)
