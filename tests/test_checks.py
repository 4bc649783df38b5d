"""Checks at the boundary: the module a user calls checks its input once, the modules inside trust it.

The messages themselves are in test_bad_inputs.py.
"""

from __future__ import annotations

import pytest
import torch
from helpers import TINY_CFG, tiny_model

import gptblock.attention
import gptblock.block
import gptblock.feed_forward
import gptblock.layer_norm
import gptblock.model
from gptblock import TransformerBlock

MODULES = (gptblock.attention, gptblock.block, gptblock.feed_forward, gptblock.layer_norm, gptblock.model)
CHECKS = ("check_hidden_states", "check_token_ids", "check_token_range", "check_positions", "check_cache")


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    """Every check call, as 'module.check', from every module that checks."""
    seen: list[str] = []
    for module in MODULES:
        short = module.__name__.split(".")[-1]
        for name in CHECKS:
            real = getattr(module, name, None)
            if real is not None:
                def spy(*args, _real=real, _where=f"{short}.{name}", **kwargs):
                    seen.append(_where)
                    return _real(*args, **kwargs)
                monkeypatch.setattr(module, name, spy)
    return seen


def test_a_model_forward_checks_once(calls):
    model = tiny_model(n_layers=12)
    model(torch.randint(0, 99, (2, 5)))
    assert calls == ["model.check_token_ids", "model.check_positions", "model.check_token_range"]


def test_a_block_called_alone_checks_its_input_and_its_parts_do_not(calls):
    TransformerBlock(TINY_CFG)(torch.randn(2, 5, 32))
    assert calls == ["block.check_hidden_states", "block.check_positions"]


def test_ids_off_the_cpu_or_while_compiling_are_not_read(monkeypatch):
    """No data-dependent branch in a compiled graph: the range check steps aside while compiling."""
    model = tiny_model()
    bad = torch.tensor([[1, 99]])
    with pytest.raises(ValueError, match="token id 99 is out of range"):
        model(bad)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    with pytest.raises(IndexError):  # the embedding's own bounds check, the last line
        model(bad)


def test_the_model_forward_compiles_as_one_graph():
    """Over 3 s: TorchDynamo traces the forward (no compiler backend runs)."""
    model = tiny_model()
    explanation = torch._dynamo.explain(model)(torch.randint(0, 99, (2, 5)))
    assert (explanation.graph_count, explanation.graph_break_count) == (1, 0), explanation.break_reasons
