"""The KV cache computes what full recomputation computes (tokens equal, logits within 1e-5)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from gptblock import GPT_CONFIG_124M, GPTModel, generate, generate_text_simple
from gptblock.generation import _cached_logits
from gptblock.kv_cache import CachedGPT, KVCache, _Linear, can_use_cache

TINY = {"vocab_size": 99, "context_length": 8, "emb_dim": 32, "n_heads": 4, "n_layers": 2,
        "drop_rate": 0.1, "qkv_bias": False}


def tiny_model(seed: int = 0, **overrides) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel({**TINY, **overrides}).eval()


def stepwise_logits(model: GPTModel, prompt: torch.Tensor, steps: int, context_size: int, use_cache: bool):
    """Greedy decoding that records every step's logits, through the same code generate uses."""
    decoder = CachedGPT(model, prompt.shape[0], max_len=min(context_size, model.cfg["context_length"]))
    idx, all_logits = prompt, []
    for _ in range(steps):
        if use_cache:
            logits = _cached_logits(decoder, idx, context_size)
        else:
            with torch.no_grad():
                logits = model(idx[:, -context_size:])[:, -1]
        all_logits.append(logits)
        idx = torch.cat((idx, logits.argmax(dim=-1, keepdim=True)), dim=1)
    return idx, torch.stack(all_logits)


@pytest.mark.parametrize("context_size", [8, 5])
def test_cached_steps_match_full_recomputation_past_the_context(context_size):
    model = tiny_model()
    prompt = torch.randint(0, 99, (3, 3))
    # 3 + 25 tokens: the window fills after a few steps, then slides for about twenty more.
    cached_ids, cached = stepwise_logits(model, prompt, 25, context_size, use_cache=True)
    full_ids, full = stepwise_logits(model, prompt, 25, context_size, use_cache=False)
    assert torch.equal(cached_ids, full_ids)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("prompt_len", [1, 4, 8, 11])
def test_generate_greedy_same_tokens_with_and_without_cache(prompt_len):
    model = tiny_model(seed=prompt_len, qkv_bias=True)
    prompt = torch.randint(0, 99, (2, prompt_len))
    with_cache = generate(model, prompt, max_new_tokens=20, context_size=8)
    without = generate(model, prompt, max_new_tokens=20, context_size=8, use_cache=False)
    assert with_cache.shape == (2, prompt_len + 20)
    assert torch.equal(with_cache, without)
    assert torch.equal(with_cache, generate_text_simple(model, prompt, max_new_tokens=20, context_size=8))


def test_sampling_with_a_seed_gives_the_same_tokens():
    model = tiny_model(seed=3)
    prompt = torch.randint(0, 99, (4, 2))
    outs = []
    for use_cache in (True, False):
        torch.manual_seed(42)
        outs.append(generate(model, prompt, max_new_tokens=15, context_size=6, temperature=1.3, top_k=20,
                             use_cache=use_cache))
    assert torch.equal(outs[0], outs[1])


def test_eos_stop_is_the_same_with_and_without_cache():
    model = tiny_model(seed=5)
    prompt = torch.randint(0, 99, (2, 3))
    greedy = generate(model, prompt, max_new_tokens=12, context_size=8, use_cache=False)
    eos = int(greedy[0, 6])  # a token the first sequence produces on its way
    with_cache = generate(model, prompt, max_new_tokens=12, context_size=8, eos_id=eos)
    assert torch.equal(with_cache, generate(model, prompt, max_new_tokens=12, context_size=8, eos_id=eos,
                                            use_cache=False))


def test_gpt2_124m_size_cached_logits_match():
    torch.manual_seed(0)
    model = GPTModel(GPT_CONFIG_124M).eval()
    prompt = torch.randint(0, GPT_CONFIG_124M["vocab_size"], (2, 6))
    cached_ids, cached = stepwise_logits(model, prompt, 3, 1024, use_cache=True)
    full_ids, full = stepwise_logits(model, prompt, 3, 1024, use_cache=False)
    assert torch.equal(cached_ids, full_ids)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


def test_several_new_positions_after_cached_ones():
    model = tiny_model(seed=7)
    ids = torch.randint(0, 99, (2, 8))
    decoder = CachedGPT(model, batch_size=2)
    decoder(ids[:, :3])
    logits = decoder(ids[:, 3:7])  # four positions at once, causal among themselves
    torch.testing.assert_close(logits, model(ids[:, :7])[:, -1], atol=1e-5, rtol=0)
    assert decoder.length == 7
    decoder.reset()
    torch.testing.assert_close(decoder(ids), model(ids)[:, -1], atol=1e-5, rtol=0)


def test_stacked_linear_equals_the_separate_ones():
    torch.manual_seed(0)
    linears = [nn.Linear(16, 12, bias=True), nn.Linear(16, 12, bias=False), nn.Linear(16, 4)]
    x = torch.randn(2, 3, 16)
    stacked = _Linear(*linears, rows_hint=6)
    expected = torch.cat([F.linear(x, lin.weight, lin.bias) for lin in linears], dim=-1)
    torch.testing.assert_close(stacked(x), expected, atol=1e-5, rtol=0)


def test_kv_cache_is_preallocated():
    cache = KVCache(batch_size=2, num_heads=4, max_len=10, head_dim=8)
    assert cache.keys.shape == cache.values.shape == (2, 4, 10, 8)
    assert cache.length == 0


def test_which_models_use_the_cache():
    model = tiny_model()
    assert can_use_cache(model)
    assert not can_use_cache(model.train())  # dropout 0.1 draws random numbers per position
    assert can_use_cache(tiny_model(drop_rate=0.0).train())
    assert not can_use_cache(nn.Identity())


def test_generate_runs_other_models_on_the_whole_window():
    class Counter(nn.Module):  # logits favour (last token + 1) mod 10
        def forward(self, idx):
            return F.one_hot((idx + 1) % 10, 10).float()

    out = generate(Counter(), torch.tensor([[3]]), max_new_tokens=4, context_size=2)
    assert out.tolist() == [[3, 4, 5, 6, 7]]


def test_cached_gpt_errors():
    model = tiny_model()
    with pytest.raises(TypeError, match="GPTModel"):
        CachedGPT(nn.Identity(), batch_size=1)
    with pytest.raises(ValueError, match="max_len"):
        CachedGPT(model, batch_size=1, max_len=9)
    with pytest.raises(ValueError, match="batch_size"):
        CachedGPT(model, batch_size=0)
    decoder = CachedGPT(model, batch_size=2, max_len=4)
    with pytest.raises(ValueError, match="batch_size=2"):
        decoder(torch.zeros(1, 2, dtype=torch.long))
    decoder(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"3 positions held \+ 2 new exceed max_len=4"):
        decoder(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="use_cache"):
        generate(model, torch.zeros(1, 2, dtype=torch.long), 1, 8, use_cache="yes")


def test_context_size_beyond_the_model_fails_like_the_full_path():
    model = tiny_model()
    prompt = torch.zeros(1, 6, dtype=torch.long)
    for use_cache in (True, False):
        with pytest.raises(ValueError, match="context_length"):
            generate(model, prompt, max_new_tokens=5, context_size=12, use_cache=use_cache)
