"""Causal multi-head attention: its two paths, its mask, its gradients."""

from __future__ import annotations

import pytest
import torch
from reference_impl import RefMultiHeadAttention

from gptblock import MultiHeadAttention
from gptblock.attention import causal_mask


def make_mha(d_in=32, d_out=32, context_length=16, dropout=0.0, num_heads=2, qkv_bias=False, seed=0,
             attn_impl="auto"):
    torch.manual_seed(seed)
    return MultiHeadAttention(d_in, d_out, context_length, dropout, num_heads, qkv_bias=qkv_bias, attn_impl=attn_impl)


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


def test_the_mask_is_built_when_asked_and_never_stored():
    mha = make_mha(context_length=5)
    assert mha.mask.dtype == torch.bool
    assert torch.equal(mha.mask, torch.triu(torch.ones(5, 5, dtype=torch.bool), diagonal=1))
    assert dict(mha.named_buffers()) == {}
    assert "mask" not in mha.state_dict()


@pytest.mark.parametrize(("start", "end"), [(0, 1), (0, 6), (2, 6), (5, 6), (3, 4)])
def test_causal_mask_rows_are_rows_of_the_full_mask(start, end):
    full = torch.triu(torch.ones(end, end, dtype=torch.bool), diagonal=1)
    assert torch.equal(causal_mask(start, end), full[start:end])


@pytest.mark.parametrize(("attn_impl", "train_with_dropout", "evaluation", "train_without_dropout"), [
    ("auto", False, True, True),  # explicit only when dropout draws random numbers
    ("explicit", False, False, False),
    ("sdpa", True, True, True),
])
def test_which_path_runs(attn_impl, train_with_dropout, evaluation, train_without_dropout):
    mha = make_mha(dropout=0.1, attn_impl=attn_impl)
    assert mha.uses_fused_path() is train_with_dropout  # a fresh module is in train mode
    assert mha.eval().uses_fused_path() is evaluation
    assert make_mha(dropout=0.0, attn_impl=attn_impl).uses_fused_path() is train_without_dropout
    assert mha.attn_impl == attn_impl


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
def test_fused_path_equals_explicit_formula(b, t, d, h, ctx):
    mha = make_mha(d_in=d, d_out=d, context_length=ctx, num_heads=h, dropout=0.2, qkv_bias=True, seed=b * 100 + t)
    explicit = make_mha(d_in=d, d_out=d, context_length=ctx, num_heads=h, dropout=0.2, attn_impl="explicit",
                        qkv_bias=True)
    explicit.load_state_dict(mha.state_dict())
    x = torch.randn(b, t, d)
    for module in (mha.eval(), explicit.eval()):
        torch.testing.assert_close(module(x), explicit_formula(mha, x), atol=1e-6, rtol=0)
    assert mha.uses_fused_path() and not explicit.uses_fused_path()


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


def test_shorter_sequences_use_the_top_left_corner_of_the_mask():
    mha = make_mha(context_length=16).eval()
    x = torch.randn(1, 16, 32)
    torch.testing.assert_close(mha(x[:, :5]), mha(x)[:, :5], atol=1e-6, rtol=0)


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
        ({"attn_impl": "flash"}, r"attn_impl must be one of 'auto', 'explicit', 'sdpa', got 'flash'"),
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


def test_sdpa_draws_dropout_inside_the_fused_function():
    """attn_impl="sdpa" in training: dropout_p goes to scaled_dot_product_attention, random and repeatable.

    On an accelerator, SDPA's fused kernels draw their own random numbers; PyTorch's CPU build computes
    SDPA with dropout by the formula, which happens to draw the reference's numbers. The page says both.
    """
    sdpa = make_mha(dropout=0.3, attn_impl="sdpa", seed=7)
    explicit = make_mha(dropout=0.3, attn_impl="explicit", seed=7)
    x = torch.randn(3, 9, 32)
    torch.manual_seed(11)
    first = sdpa(x)
    torch.manual_seed(11)
    assert torch.equal(sdpa(x), first)  # repeatable under a seed
    assert not torch.allclose(sdpa(x), first)  # and random
    assert not torch.allclose(first, sdpa.eval()(x))  # dropout did bite
    torch.testing.assert_close(sdpa(x), explicit.eval()(x), atol=1e-6, rtol=0)
    torch.manual_seed(11)
    on_cpu = explicit.train()(x)
    torch.testing.assert_close(first, on_cpu, atol=1e-6, rtol=0)  # the CPU build: the formula's draw
