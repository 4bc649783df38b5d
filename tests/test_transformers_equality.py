"""Proof that gptblock's GPT-2 is Hugging Face's GPT-2: same logits, same greedy tokens, same block.

Every model is built here from a random configuration; nothing is downloaded. transformers is a test
dependency (the ``test`` extra), so these tests run, not skip, wherever the suite runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.models.gpt2.modeling_gpt2 import GPT2Block

from gptblock import (
    GPT_CONFIG_124M,
    GPTModel,
    TransformerBlock,
    export_gpt2_weights,
    generate,
    generate_text_simple,
    load_gpt2_weights,
)
from gptblock.hf_gpt2 import hf_gpt2_shapes, tensors_from_hf

ATOL = 1e-5
TINY_HF = {"n_embd": 32, "n_layer": 2, "n_head": 2, "vocab_size": 99, "n_positions": 16}


def randomize_(module: torch.nn.Module, seed: int, scale: float) -> None:
    """Random values for every parameter, LayerNorm gains and biases included: a swapped tensor shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen) * scale
            p.copy_(noise + 1.0 if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")) else noise)


@pytest.fixture(scope="module")
def hf_and_ours(tmp_path_factory) -> tuple[GPT2LMHeadModel, torch.nn.Module, Path]:
    """A tiny random GPT2LMHeadModel saved with save_pretrained, and gptblock's model loaded from that folder."""
    config = GPT2Config(**TINY_HF, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(config)
    randomize_(hf, seed=1, scale=0.2)  # large enough that greedy decoding does not just repeat a token
    hf.eval()
    folder = tmp_path_factory.mktemp("hf-tiny")
    hf.save_pretrained(folder)
    return hf, load_gpt2_weights(folder), folder


def test_save_pretrained_folder_is_what_we_expect(hf_and_ours):
    _, ours, folder = hf_and_ours
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert ours.cfg == {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2, "n_layers": 2,
                        "drop_rate": 0.0, "qkv_bias": True}
    assert ours.out_head.weight is ours.tok_emb.weight


@pytest.mark.parametrize("shape", [(1, 1), (1, 16), (3, 7), (4, 16), (2, 5)])
def test_logits_equal_transformers(hf_and_ours, shape):
    hf, ours, _ = hf_and_ours
    ids = torch.randint(0, TINY_HF["vocab_size"], shape, generator=torch.Generator().manual_seed(sum(shape)))
    with torch.no_grad():
        expected = hf(ids).logits
        got = ours(ids)
    assert got.shape == expected.shape == (*shape, TINY_HF["vocab_size"])
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)
    assert expected.abs().max() > 0.1  # the comparison is not between two near-zero tensors


def test_explicit_attention_path_equals_transformers_too(hf_and_ours):
    hf, ours, _ = hf_and_ours
    ids = torch.randint(0, TINY_HF["vocab_size"], (2, 16), generator=torch.Generator().manual_seed(5))
    explicit = GPTModel(ours.cfg, attn_impl="explicit").eval()
    explicit.load_state_dict(ours.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(explicit(ids), hf(ids).logits, rtol=0, atol=ATOL)


@pytest.mark.parametrize(("batch", "prompt_len", "new"), [(1, 3, 12), (3, 5, 10)])
def test_greedy_generation_equals_transformers_generate(hf_and_ours, batch, prompt_len, new):
    hf, ours, _ = hf_and_ours
    prompt = torch.randint(0, TINY_HF["vocab_size"], (batch, prompt_len),
                           generator=torch.Generator().manual_seed(batch * 100 + prompt_len))
    with torch.no_grad():
        # No end-of-text token is configured, so generate runs the full max_new_tokens.
        expected = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new,
                               min_new_tokens=new, do_sample=False, pad_token_id=0)
    assert expected.shape == (batch, prompt_len + new)
    context = TINY_HF["n_positions"]
    assert torch.equal(generate(ours, prompt, max_new_tokens=new, context_size=context), expected)
    assert torch.equal(generate_text_simple(ours, prompt, max_new_tokens=new, context_size=context), expected)
    assert len(set(expected[:, prompt_len:].flatten().tolist())) > 1  # not one token repeated


def test_exported_weights_load_into_transformers(hf_and_ours, tmp_path):
    """export_gpt2_weights writes the real layout: transformers' own loader reads it and computes the same."""
    hf, ours, _ = hf_and_ours
    export_gpt2_weights(ours, tmp_path / "exported")
    again = GPT2LMHeadModel.from_pretrained(tmp_path / "exported").eval()
    ids = torch.randint(0, TINY_HF["vocab_size"], (2, 16), generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        assert torch.equal(again(ids).logits, hf(ids).logits)
    for name, tensor in hf.state_dict().items():
        assert torch.equal(again.state_dict()[name], tensor), name


def causal_additive_mask(num_tokens: int) -> torch.Tensor:
    """(1, 1, T, T): 0 where a token may look, -inf on the future (added to the scores before softmax)."""
    return torch.full((num_tokens, num_tokens), float("-inf")).triu(diagonal=1)[None, None]


@pytest.fixture(scope="module")
def block_pair() -> tuple[GPT2Block, TransformerBlock]:
    """One full-size GPT-2 124M block from transformers and ours, with the same (random) weights."""
    config = GPT2Config(attn_implementation="eager")  # 768 wide, 12 heads, like GPT-2 124M
    assert (config.n_embd, config.n_head, config.n_positions) == (768, 12, 1024)
    hf_block = GPT2Block(config, layer_idx=0)
    randomize_(hf_block, seed=2, scale=0.05)
    hf_block.eval()
    cfg = {**GPT_CONFIG_124M, "qkv_bias": True, "drop_rate": 0.0, "n_layers": 1}
    ours = TransformerBlock(cfg).eval()
    hf_tensors = {f"h.0.{name}": t for name, t in hf_block.state_dict().items()}
    shapes = hf_gpt2_shapes(cfg)

    def get(name: str) -> torch.Tensor:  # the block's tensors; zeros for the embeddings and final norm
        return hf_tensors[name] if name in hf_tensors else torch.zeros(shapes[name])

    converted = {name.removeprefix("trf_blocks.0."): t for name, t in tensors_from_hf(get, cfg)
                 if name.startswith("trf_blocks.0.")}
    ours.load_state_dict(converted, strict=True)
    return hf_block, ours


@pytest.mark.parametrize("shape", [(2, 4), (1, 64), (3, 17)])
def test_full_size_block_equals_gpt2block(block_pair, shape):
    hf_block, ours = block_pair
    x = torch.randn(*shape, 768, generator=torch.Generator().manual_seed(shape[1]))
    with torch.no_grad():
        expected = hf_block(x, attention_mask=causal_additive_mask(shape[1]))
        got = ours(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=ATOL)


def test_gpt2block_without_a_mask_is_not_causal(block_pair):
    """The trap the comparison above avoids: in eager mode, no mask means every token sees the future."""
    hf_block, ours = block_pair
    x = torch.randn(1, 8, 768, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        unmasked = hf_block(x)
        got = ours(x)
    assert not torch.allclose(unmasked, got, atol=1e-3)
    torch.testing.assert_close(unmasked[:, -1], got[:, -1], rtol=0, atol=ATOL)  # the last token sees all anyway
