"""The KV cache inside the modules computes what full recomputation computes (tokens equal, logits within 1e-5).

That a prefix run with a cache equals the whole sequence, module by module, is in test_properties.py;
here: generation, the cache object, its checks, and that the default path copies no weight.
"""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_model
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from gptblock import GPTModel, KVCache, TransformerBlock, generate, generate_text_simple
from gptblock.generation import can_use_cache, next_token_logits

TINY = {"vocab_size": 99, "context_length": 8, "emb_dim": 32, "n_heads": 4, "n_layers": 2,
        "drop_rate": 0.1, "qkv_bias": False}


def stepwise_logits(model: GPTModel, prompt: torch.Tensor, steps: int, context_size: int, use_cache: bool):
    """Greedy decoding that records every step's logits, through the same code generate uses."""
    window = min(context_size, model.cfg["context_length"])
    cache = KVCache(model.cfg, prompt.shape[0], max_len=window) if use_cache else None
    idx, all_logits = prompt, []
    for _ in range(steps):
        with torch.no_grad():
            logits = next_token_logits(model, idx, context_size, cache)
        all_logits.append(logits)
        idx = torch.cat((idx, logits.argmax(dim=-1, keepdim=True)), dim=1)
    return idx, torch.stack(all_logits)


@pytest.mark.parametrize("context_size", [8, 5])
def test_cached_steps_match_full_recomputation_past_the_context(context_size):
    model = tiny_model(**TINY)
    prompt = torch.randint(0, 99, (3, 3))
    # 3 + 25 tokens: the window fills after a few steps, then slides for about twenty more.
    cached_ids, cached = stepwise_logits(model, prompt, 25, context_size, use_cache=True)
    full_ids, full = stepwise_logits(model, prompt, 25, context_size, use_cache=False)
    assert torch.equal(cached_ids, full_ids)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


@pytest.mark.parametrize("prompt_len", [1, 8, 11])
def test_generate_greedy_same_tokens_with_and_without_cache(prompt_len):
    model = tiny_model(seed=prompt_len, **{**TINY, "qkv_bias": True})
    prompt = torch.randint(0, 99, (2, prompt_len))
    with_cache = generate(model, prompt, max_new_tokens=20, context_size=8)
    without = generate(model, prompt, max_new_tokens=20, context_size=8, use_cache=False)
    assert with_cache.shape == (2, prompt_len + 20)
    assert torch.equal(with_cache, without)
    assert torch.equal(with_cache, generate_text_simple(model, prompt, max_new_tokens=20, context_size=8))


def test_sampling_and_the_eos_stop_are_the_same_with_and_without_cache():
    model = tiny_model(seed=3, **TINY)
    prompt = torch.randint(0, 99, (4, 2))
    outs = []
    for use_cache in (True, False):
        torch.manual_seed(42)
        outs.append(generate(model, prompt, max_new_tokens=15, context_size=6, temperature=1.3, top_k=20,
                             use_cache=use_cache))
    assert torch.equal(outs[0], outs[1])
    greedy = generate(model, prompt[:2], max_new_tokens=12, context_size=8, use_cache=False)
    eos = int(greedy[0, 6])  # a token the first sequence produces on its way
    assert torch.equal(generate(model, prompt[:2], 12, 8, eos_id=eos),
                       generate(model, prompt[:2], 12, 8, eos_id=eos, use_cache=False))


def test_gpt2_124m_size_cached_logits_match(gpt2_124m):
    """Over 3 s: the point is the 124M size, float32 rounding across 12 blocks of width 768."""
    model = gpt2_124m.eval()
    try:
        prompt = torch.randint(0, 50257, (2, 6), generator=torch.Generator().manual_seed(0))
        cached_ids, cached = stepwise_logits(model, prompt, 3, 1024, use_cache=True)
        full_ids, full = stepwise_logits(model, prompt, 3, 1024, use_cache=False)
    finally:
        model.train()  # the session's model is left as it was built
    assert torch.equal(cached_ids, full_ids)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=0)


def test_the_cache_is_preallocated_moves_with_to_and_is_never_saved():
    model = tiny_model(**TINY)
    cache = KVCache(model.cfg, batch_size=2, max_len=6)
    assert len(cache.layers) == 2 and cache.layers[0].keys.shape == (2, 4, 6, 8)  # (batch, heads, max_len, head_dim)
    assert (cache.length, cache.max_len, cache.batch_size) == (0, 6, 2)
    storage = cache.layers[1].values.data_ptr()
    with torch.no_grad():
        model(torch.zeros(2, 4, dtype=torch.long), cache=cache)
        model(torch.zeros(2, 1, dtype=torch.long), cache=cache)
    assert cache.length == 5 and cache.layers[1].values.data_ptr() == storage  # written in place
    cache.reset()
    assert cache.length == 0
    assert cache.to(torch.float64).dtype == torch.float64  # a module: .to() moves its buffers
    assert cache.state_dict() == {} and not any("cache" in name for name in model.state_dict())


def test_a_float64_model_runs_with_a_float64_cache():
    model = tiny_model(**TINY).double()
    ids = torch.randint(0, 99, (1, 5))
    out = generate(model, ids, 4, 8)
    assert torch.equal(out, generate(model, ids, 4, 8, use_cache=False))


def test_which_models_use_the_cache():
    model = tiny_model(**TINY)
    assert can_use_cache(model)
    assert not can_use_cache(model.train())  # dropout 0.1 draws random numbers per position
    assert can_use_cache(tiny_model(**{**TINY, "drop_rate": 0.0}).train())
    assert not can_use_cache(nn.Identity())


def test_generate_runs_other_models_on_the_whole_window():
    class Counter(nn.Module):  # logits favour (last token + 1) mod 10
        def forward(self, idx):
            return F.one_hot((idx + 1) % 10, 10).float()

    out = generate(Counter(), torch.tensor([[3]]), max_new_tokens=4, context_size=2)
    assert out.tolist() == [[3, 4, 5, 6, 7]]


class LargestNewTensor(TorchFunctionMode):
    """Records the largest tensor any torch function creates that does not share a parameter's memory."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(tensor, torch.Tensor) and tensor.untyped_storage().data_ptr() not in self.parameters:
                self.largest = max(self.largest, tensor.numel())
        return out


def test_the_default_path_copies_no_weight():
    """Weights much larger than a step's activations: no tensor as large as the smallest one is ever made."""
    model = tiny_model(vocab_size=500, context_length=8, emb_dim=64, n_heads=4, n_layers=2, drop_rate=0.0)
    smallest = min(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))  # 64 x 64
    prompt = torch.randint(0, 500, (1, 4))
    with LargestNewTensor(model) as spy:
        generate(model, prompt, max_new_tokens=3, context_size=8)
    assert 0 < spy.largest < smallest
    with LargestNewTensor(model) as spy:  # the check can fail: a copy of the weights is seen
        torch.cat([model.trf_blocks[0].att.W_query.weight, model.trf_blocks[0].att.W_key.weight])
    assert spy.largest >= smallest


def test_cache_errors_at_the_boundary():
    model = tiny_model(**TINY)
    with pytest.raises(ValueError, match=r"max_len must be an integer in \[1, context_length=8\], got 9"):
        KVCache(model.cfg, batch_size=1, max_len=9)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        KVCache(model.cfg, batch_size=0)
    cache = KVCache(model.cfg, batch_size=2, max_len=4)
    with pytest.raises(ValueError, match=r"GPTModel: the cache was built for batch_size=2, got a batch of 1"):
        model(torch.zeros(1, 2, dtype=torch.long), cache=cache)
    model(torch.zeros(2, 3, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match=r"3 positions held \+ 2 new exceed the cache's max_len=4"):
        model(torch.zeros(2, 2, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match=r"the cache holds torch.float64 but the model computes in torch.float32"):
        model(torch.zeros(2, 1, dtype=torch.long), cache=KVCache(model.cfg, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"the cache has 3 layers but the model has 2"):
        model(torch.zeros(2, 1, dtype=torch.long), cache=KVCache({**TINY, "n_layers": 3}, 2))
    with pytest.raises(TypeError, match=r"GPTModel: cache must be a KVCache, got dict"):
        model(torch.zeros(2, 1, dtype=torch.long), cache={})
    with pytest.raises(TypeError, match=r"TransformerBlock: cache must be a LayerKVCache, got KVCache"):
        TransformerBlock(TINY)(torch.zeros(2, 1, 32), cache=cache)
    with pytest.raises(ValueError, match="use_cache must be True or False"):
        generate(model, torch.zeros(1, 2, dtype=torch.long), 1, 8, use_cache="yes")


def test_positions_past_the_context_fail_like_the_full_path():
    model = tiny_model(**TINY)
    cache = KVCache(model.cfg, batch_size=1)
    model(torch.zeros(1, 6, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match=r"GPTModel: the sequence has 6 cached positions \+ 3 tokens but "
                                         r"context_length is 8"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=cache)
    prompt = torch.zeros(1, 6, dtype=torch.long)
    for use_cache in (True, False):
        with pytest.raises(ValueError, match="context_length"):
            generate(model, prompt, max_new_tokens=5, context_size=12, use_cache=use_cache)
