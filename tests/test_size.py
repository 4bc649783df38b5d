"""The published figures: parameter counts and memory of GPT-2 124M, and of the larger sizes."""

from __future__ import annotations

import pytest
import torch

from gptblock import (
    GPT2_CONFIGS,
    GPT_CONFIG_124M,
    GPTModel,
    TransformerBlock,
    count_parameters,
    count_parameters_tied,
    model_size_mb,
)


def test_124m_total_parameters(gpt2_124m):
    total = count_parameters(gpt2_124m)
    assert total == 163_009_536
    assert f"Total number of parameters: {total:,}" == "Total number of parameters: 163,009,536"


def test_124m_parameters_with_tied_output_head(gpt2_124m):
    tied = count_parameters_tied(gpt2_124m)
    assert tied == 124_412_160
    assert f"{tied:,}" == "124,412,160"
    # the difference is exactly the output head, the same shape as the token embedding
    assert gpt2_124m.out_head.weight.shape == gpt2_124m.tok_emb.weight.shape == (50257, 768)
    assert count_parameters(gpt2_124m) - tied == 50257 * 768


def test_124m_size_in_megabytes(gpt2_124m):
    size = model_size_mb(gpt2_124m)
    assert f"Total size of the model: {size:.2f} MB" == "Total size of the model: 621.83 MB"
    assert size == 163_009_536 * 4 / 1024**2
    assert all(p.dtype == torch.float32 for p in gpt2_124m.parameters())
    assert model_size_mb(gpt2_124m, bytes_per_parameter=2) == size / 2


def test_124m_one_block(gpt2_124m):
    assert count_parameters(gpt2_124m.trf_blocks[0]) == 7_085_568
    assert all(count_parameters(b) == 7_085_568 for b in gpt2_124m.trf_blocks)
    assert len(gpt2_124m.trf_blocks) == 12
    # the block alone, as the seed builds it
    assert count_parameters(TransformerBlock(GPT_CONFIG_124M)) == 7_085_568


def test_124m_parts_add_up(gpt2_124m):
    emb = 50257 * 768 + 1024 * 768
    final_norm = 2 * 768
    head = 50257 * 768
    assert emb + 12 * 7_085_568 + final_norm + head == 163_009_536


def test_tying_the_head_really_shares_the_weight(tiny_cfg):
    torch.manual_seed(0)
    model = GPTModel(tiny_cfg)
    untied_total = count_parameters(model)
    untied_tied = count_parameters_tied(model)
    assert untied_total - untied_tied == 99 * 32
    model.out_head.weight = model.tok_emb.weight
    assert count_parameters(model) == untied_tied  # a shared weight counts once
    assert count_parameters_tied(model) == untied_tied


@pytest.mark.parametrize(
    ("name", "tied_with_qkv_bias"),
    [
        # OpenAI's checkpoints have query/key/value biases; these are their published counts.
        ("gpt2-small (124M)", 124_439_808),
        ("gpt2-medium (355M)", 354_823_168),
        ("gpt2-large (774M)", 774_030_080),
        ("gpt2-xl (1558M)", 1_557_611_200),
    ],
)
def test_all_sizes_on_the_meta_device(name, tied_with_qkv_bias):
    cfg = GPT2_CONFIGS[name]
    with torch.device("meta"):  # shapes only, no memory
        plain = GPTModel(cfg)
        biased = GPTModel({**cfg, "qkv_bias": True})
    assert count_parameters_tied(biased) == tied_with_qkv_bias
    # without the biases, 3 * emb_dim fewer per layer
    assert count_parameters_tied(plain) == tied_with_qkv_bias - cfg["n_layers"] * 3 * cfg["emb_dim"]
    assert count_parameters(plain) == count_parameters_tied(plain) + cfg["vocab_size"] * cfg["emb_dim"]
