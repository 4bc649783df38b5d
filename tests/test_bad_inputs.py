"""Bad input gets a clear error, in Python, before any matmul; edge cases that are fine stay fine."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from gptblock import (
    FeedForward,
    GPTModel,
    LayerNorm,
    MultiHeadAttention,
    TransformerBlock,
    generate,
    generate_text_simple,
)


@pytest.fixture
def model(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


@pytest.fixture
def block(tiny_cfg):
    torch.manual_seed(0)
    return TransformerBlock(tiny_cfg).eval()


@pytest.fixture
def attention():
    torch.manual_seed(0)
    return MultiHeadAttention(32, 32, 16, 0.0, 2).eval()


@pytest.fixture
def no_matmul(monkeypatch):
    """Fail loudly if a linear layer runs: the check must come first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a matmul ran before the input was checked")

    monkeypatch.setattr(torch.nn.functional, "linear", forbidden)
    monkeypatch.setattr(torch.nn.functional, "embedding", forbidden)


def test_the_no_matmul_guard_works(block, model, no_matmul):
    with pytest.raises(AssertionError, match="a matmul ran"):
        block(torch.zeros(1, 2, 32))
    with pytest.raises(AssertionError, match="a matmul ran"):
        model(torch.zeros(1, 2, dtype=torch.long))


# --- the wrong dtype -------------------------------------------------------------------------

def test_int_tensor_into_layer_norm():
    with pytest.raises(TypeError, match=r"LayerNorm expects a floating-point tensor, got dtype torch.int64"):
        LayerNorm(32)(torch.ones(2, 32, dtype=torch.int64))


def test_int_tensor_into_block(block, no_matmul):
    with pytest.raises(TypeError, match=r"TransformerBlock expects a floating-point tensor, got dtype torch.int64"):
        block(torch.ones(2, 4, 32, dtype=torch.int64))


def test_int_tensor_into_attention(attention, no_matmul):
    with pytest.raises(TypeError, match=r"MultiHeadAttention expects a floating-point tensor, got dtype torch.int32"):
        attention(torch.ones(2, 4, 32, dtype=torch.int32))


def test_int_tensor_into_feed_forward(tiny_cfg):
    with pytest.raises(TypeError, match=r"FeedForward expects a floating-point tensor"):
        FeedForward(tiny_cfg)(torch.ones(2, 4, 32, dtype=torch.int64))


def test_list_into_block(block):
    with pytest.raises(TypeError, match=r"TransformerBlock expects a torch.Tensor, got list"):
        block([[0.0] * 32])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int16, torch.uint8, torch.bool])
def test_token_ids_that_are_not_int32_or_int64(model, no_matmul, dtype):
    with pytest.raises(TypeError, match=rf"GPTModel expects integer token ids \(torch.int64 or torch.int32\), "
                                        rf"got dtype {dtype}"):
        model(torch.ones(1, 3, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_int32_and_int64_ids_are_fine(model, dtype):
    x = torch.tensor([[1, 2, 3]], dtype=dtype)
    assert model(x).shape == (1, 3, 99)


def test_float_prompt_into_generate(model, no_matmul):
    with pytest.raises(TypeError, match=r"generate expects integer token ids"):
        generate(model, torch.ones(1, 3), max_new_tokens=2, context_size=16)


def test_list_prompt_into_generate(model):
    with pytest.raises(TypeError, match=r"generate expects token ids as a torch.Tensor, got list"):
        generate(model, [[1, 2, 3]], max_new_tokens=2, context_size=16)


# --- token ids out of the vocabulary ---------------------------------------------------------

def test_token_id_at_or_above_vocab_size(model, no_matmul):
    with pytest.raises(ValueError, match=r"token id 99 is out of range for vocab_size=99"):
        model(torch.tensor([[1, 99, 3]]))
    with pytest.raises(ValueError, match=r"token id 5000 is out of range for vocab_size=99"):
        model(torch.tensor([[5000, 2]]))


def test_negative_token_id(model, no_matmul):
    with pytest.raises(ValueError, match=r"token id -1 is negative; ids must lie in \[0, vocab_size=99\)"):
        model(torch.tensor([[1, -1, 3]]))


def test_out_of_range_id_in_generate(model):
    with pytest.raises(ValueError, match=r"generate: token id 120 is out of range for vocab_size=99"):
        generate_text_simple(model, torch.tensor([[1, 120]]), 2, 16)


# --- lengths and shapes ----------------------------------------------------------------------

def test_sequence_longer_than_context_into_model(model, no_matmul):
    with pytest.raises(ValueError, match=r"the sequence has 17 tokens but context_length is 16"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_sequence_longer_than_context_into_block_and_attention(block, attention, no_matmul):
    for module, name in ((block, "TransformerBlock"), (attention, "MultiHeadAttention")):
        with pytest.raises(ValueError, match=rf"{name}: the sequence has 20 tokens but context_length is 16"):
            module(torch.zeros(1, 20, 32))


def test_generate_crops_a_long_prompt_instead(model):
    prompt = torch.zeros(1, 17, dtype=torch.long)
    assert generate(model, prompt, max_new_tokens=2, context_size=16).shape == (1, 19)
    assert generate_text_simple(model, prompt, max_new_tokens=2, context_size=16).shape == (1, 19)


def test_empty_sequence_into_model(model, no_matmul):
    with pytest.raises(ValueError, match=r"GPTModel needs at least one token per sequence, got shape \(1, 0\)"):
        model(torch.zeros(1, 0, dtype=torch.long))


@pytest.mark.parametrize("fn", [generate, generate_text_simple])
def test_empty_prompt_into_generate(model, fn):
    with pytest.raises(ValueError, match=r"generate needs at least one token per sequence, got shape \(2, 0\)"):
        fn(model, torch.zeros(2, 0, dtype=torch.long), 3, 16)


@pytest.mark.parametrize("shape", [(5,), (1, 2, 3)])
def test_ids_of_the_wrong_rank(model, no_matmul, shape):
    with pytest.raises(ValueError, match=re.escape(f"expects token ids of shape (batch, seq), got shape {shape}")):
        model(torch.zeros(shape, dtype=torch.long))


def test_1d_ids_into_generate(model):
    with pytest.raises(ValueError, match=r"shape \(batch, seq\).*ids.unsqueeze\(0\)"):
        generate(model, torch.tensor([1, 2, 3]), 2, 16)


def test_last_dimension_not_emb_dim(block, attention, no_matmul):
    for module, name in ((block, "TransformerBlock"), (attention, "MultiHeadAttention")):
        with pytest.raises(ValueError, match=rf"{name} expects a last dimension of 32, got shape \(2, 4, 31\)"):
            module(torch.zeros(2, 4, 31))
    with pytest.raises(ValueError, match=r"LayerNorm expects a last dimension of 32, got shape \(4, 33\)"):
        LayerNorm(32)(torch.zeros(4, 33))


def test_hidden_states_of_the_wrong_rank(block, no_matmul):
    with pytest.raises(ValueError, match=r"TransformerBlock expects a tensor of shape \(batch, num_tokens, 32\)"):
        block(torch.zeros(4, 32))


# --- generation arguments --------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [-0.5, -1, "1.0", None, float("nan"), float("inf")])
def test_generate_bad_temperature(model, temperature):
    with pytest.raises(ValueError, match=rf"temperature must be a finite number >= 0, got {temperature!r}"):
        generate(model, torch.tensor([[1]]), 2, 16, temperature=temperature)


@pytest.mark.parametrize("eos_id", [-1, 99, 1.0, True])
def test_generate_bad_eos_id(model, eos_id):
    with pytest.raises(ValueError, match=rf"eos_id must be a token id in \[0, vocab_size=99\), got {eos_id!r}"):
        generate(model, torch.tensor([[1]]), 2, 16, eos_id=eos_id)


@pytest.mark.parametrize("top_k", [0, -3, 100, 2.0, True])
def test_generate_bad_top_k(model, top_k):
    with pytest.raises(ValueError, match=rf"top_k must be an integer in \[1, vocab_size=99\], got {top_k!r}"):
        generate(model, torch.tensor([[1]]), 2, 16, temperature=1.0, top_k=top_k)


@pytest.mark.parametrize("fn", [generate, generate_text_simple])
@pytest.mark.parametrize("value", [-1, 2.0, None])
def test_generate_bad_max_new_tokens(model, fn, value):
    with pytest.raises(ValueError, match=rf"max_new_tokens must be an integer >= 0, got {value!r}"):
        fn(model, torch.tensor([[1]]), value, 16)


@pytest.mark.parametrize("fn", [generate, generate_text_simple])
@pytest.mark.parametrize("value", [0, -4, 8.0])
def test_generate_bad_context_size(model, fn, value):
    with pytest.raises(ValueError, match=rf"context_size must be an integer >= 1, got {value!r}"):
        fn(model, torch.tensor([[1]]), 2, value)


# --- edge cases that must just work ----------------------------------------------------------

def test_batch_0_gives_an_empty_output_and_no_warning(tiny_cfg):
    torch.manual_seed(0)
    model = GPTModel(tiny_cfg)
    block = TransformerBlock(tiny_cfg)
    attention = MultiHeadAttention(32, 32, 16, 0.1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in (True, False):  # train (explicit attention) and eval (fused)
            for module in (model, block, attention):
                module.train(mode)
            assert model(torch.zeros(0, 5, dtype=torch.long)).shape == (0, 5, 99)
            assert block(torch.zeros(0, 5, 32)).shape == (0, 5, 32)
            assert attention(torch.zeros(0, 5, 32)).shape == (0, 5, 32)
            assert LayerNorm(32)(torch.zeros(0, 5, 32)).shape == (0, 5, 32)
            assert FeedForward(tiny_cfg)(torch.zeros(0, 5, 32)).shape == (0, 5, 32)
        model.eval()
        empty = torch.zeros(0, 4, dtype=torch.long)
        assert generate_text_simple(model, empty, 3, 16).shape == (0, 7)
        assert generate(model, empty, 3, 16).shape == (0, 7)
        assert generate(model, empty, 3, 16, temperature=1.0, top_k=5).shape == (0, 7)


def test_non_contiguous_token_ids(model):
    grid = torch.randint(0, 99, (8, 3))
    ids = grid.t()  # (3, 8), a transposed view
    assert not ids.is_contiguous()
    torch.testing.assert_close(model(ids), model(ids.contiguous()), atol=1e-6, rtol=0)
    assert torch.equal(generate_text_simple(model, ids, 3, 16), generate_text_simple(model, ids.contiguous(), 3, 16))


def test_no_assert_in_the_package():
    """The checks are `if ... raise`, not `assert`, which `python -O` strips."""
    import ast
    from pathlib import Path

    import gptblock

    package = Path(gptblock.__file__).parent
    files = sorted(package.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert asserts == [], f"{path.name} uses assert at lines {asserts}"
