"""The properties every module must have: one parametrised test per property, applied to each module.

The modules: LayerNorm, FeedForward, and MultiHeadAttention, TransformerBlock and GPTModel once per
attention path (``attn_impl``). Each is built at the tiny size of ``conftest.TINY_CFG`` with every
parameter randomized, so that a twin built from another seed really differs.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from helpers import TINY_CFG
from torch import nn

from gptblock import FeedForward, GPTModel, KVCache, LayerNorm, MultiHeadAttention, TransformerBlock
from gptblock.attention import ATTN_IMPLS
from gptblock.kv_cache import LayerKVCache

WIDTH, VOCAB, CONTEXT = TINY_CFG["emb_dim"], TINY_CFG["vocab_size"], TINY_CFG["context_length"]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[dict], nn.Module]  # a configuration -> the module
    takes_ids: bool = False  # GPTModel: token ids in; the others: vectors of width emb_dim
    has_dropout: bool = True
    has_cache: bool = False

    def build(self, seed: int = 0, **cfg_overrides) -> nn.Module:
        torch.manual_seed(seed)
        module = self.make({**TINY_CFG, "qkv_bias": True, **cfg_overrides})
        with torch.no_grad():
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.2)
        return module

    def input(self, batch: int, tokens: int, seed: int = 0, cfg: dict | None = None) -> torch.Tensor:
        cfg = cfg or TINY_CFG
        generator = torch.Generator().manual_seed(seed)
        if self.takes_ids:
            return torch.randint(0, cfg["vocab_size"], (batch, tokens), generator=generator)
        return torch.randn(batch, tokens, cfg["emb_dim"], generator=generator)


def attention(cfg: dict, impl: str) -> MultiHeadAttention:
    return MultiHeadAttention(cfg["emb_dim"], cfg["emb_dim"], cfg["context_length"], cfg["drop_rate"], cfg["n_heads"],
                              qkv_bias=cfg["qkv_bias"], attn_impl=impl)


CASES = [
    Case("LayerNorm", lambda cfg: LayerNorm(cfg["emb_dim"]), has_dropout=False),
    Case("FeedForward", FeedForward, has_dropout=False),
    *[Case(f"MultiHeadAttention[{impl}]", lambda cfg, impl=impl: attention(cfg, impl), has_cache=True)
      for impl in ATTN_IMPLS],
    *[Case(f"TransformerBlock[{impl}]", lambda cfg, impl=impl: TransformerBlock(cfg, attn_impl=impl), has_cache=True)
      for impl in ATTN_IMPLS],
    *[Case(f"GPTModel[{impl}]", lambda cfg, impl=impl: GPTModel(cfg, attn_impl=impl), takes_ids=True, has_cache=True)
      for impl in ATTN_IMPLS],
]
by_name = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
with_cache = pytest.mark.parametrize("case", [c for c in CASES if c.has_cache],
                                     ids=[c.name for c in CASES if c.has_cache])


def change_after(case: Case, x: torch.Tensor, t: int) -> torch.Tensor:
    """``x`` with every position after ``t`` changed (another id, or another vector)."""
    changed = x.clone()
    if case.takes_ids:
        changed[:, t + 1:] = (changed[:, t + 1:] + 1 + torch.arange(x.shape[1] - t - 1)) % VOCAB
    else:
        changed[:, t + 1:] += 3 * torch.randn_like(changed[:, t + 1:])
    return changed


@by_name
def test_the_past_does_not_see_the_future(case):
    module = case.build().eval()
    x = case.input(2, 12)
    out = module(x)
    for t in (0, 5, 10):
        changed = module(change_after(case, x, t))
        torch.testing.assert_close(changed[:, : t + 1], out[:, : t + 1], atol=1e-5, rtol=0)
        assert not torch.allclose(changed[:, t + 1:], out[:, t + 1:], atol=1e-3)


@by_name
def test_eval_is_deterministic_and_training_draws_dropout(case):
    module = case.build().eval()
    x = case.input(2, 9)
    assert torch.equal(module(x), module(x))
    module.train()
    if case.has_dropout:
        assert not torch.equal(module(x), module(x))
    else:
        assert torch.equal(module(x), module.eval()(x))


@by_name
def test_a_batch_equals_its_rows_one_by_one(case):
    module = case.build().eval()
    x = case.input(4, 11)
    rows = torch.cat([module(x[i: i + 1]) for i in range(4)])
    torch.testing.assert_close(module(x), rows, atol=1e-5, rtol=0)


@by_name
def test_non_contiguous_input_gives_the_same_output(case):
    module = case.build().eval()
    x = case.input(6, 7)[::2]  # every other row: a strided view
    assert not x.is_contiguous()
    torch.testing.assert_close(module(x), module(x.contiguous()), atol=1e-6, rtol=0)


@by_name
def test_state_dict_and_pickle_round_trips(case):
    module, twin = case.build(seed=1).eval(), case.build(seed=2).eval()
    x = case.input(2, 6)
    assert not torch.allclose(twin(x), module(x))
    twin.load_state_dict(module.state_dict(), strict=True)
    assert torch.equal(twin(x), module(x))
    assert not any("mask" in name or "cache" in name for name in module.state_dict())
    clone = pickle.loads(pickle.dumps(module))
    assert torch.equal(clone(x), module(x))


@by_name
def test_every_parameter_gets_a_gradient(case):
    module = case.build().train()
    module(case.input(3, 8)).square().sum().backward()
    missing = [name for name, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


@by_name
def test_gradcheck_in_float64(case):
    small = {"vocab_size": 5, "context_length": 4, "emb_dim": 4, "n_heads": 2, "n_layers": 1, "drop_rate": 0.0}
    module = case.build(seed=3, **small).double().eval()
    x = case.input(2, 3, cfg={**TINY_CFG, **small})
    if case.takes_ids:  # ids have no gradient: check the one through the token embedding instead
        def fn(weight):
            return torch.func.functional_call(module, {"tok_emb.weight": weight}, (x,))
        arg = module.tok_emb.weight.detach().clone().requires_grad_()
    else:
        fn, arg = module, x.double().requires_grad_()
    assert torch.autograd.gradcheck(fn, (arg,))


@with_cache
def test_running_with_a_cache_equals_running_the_whole_sequence(case):
    module = case.build().eval()
    x = case.input(2, 10)
    if case.takes_ids:
        cache = KVCache(TINY_CFG, batch_size=2)
    else:  # one attention layer's cache
        cache = LayerKVCache(2, TINY_CFG["n_heads"], CONTEXT, WIDTH // TINY_CFG["n_heads"])
    with torch.no_grad():
        pieces = [module(x[:, :4], cache=cache), module(x[:, 4:5], cache=cache), module(x[:, 5:], cache=cache)]
        whole = module(x)
    assert cache.length == 10
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, atol=1e-5, rtol=0)
