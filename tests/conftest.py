"""Shared fixtures: a tiny configuration and the 124M model."""

from __future__ import annotations

import pytest
import torch
from helpers import TINY_CFG

from gptblock import GPT_CONFIG_124M, GPTModel

# The tests run tiny tensors: one intra-op thread is much faster than two on a busy machine,
# where idle OpenMP workers spin against other processes (measured ~20x on the tiny model's forward).
torch.set_num_threads(1)


@pytest.fixture
def tiny_cfg() -> dict:
    """A GPT-2-shaped configuration small enough for fast tests (dropout on)."""
    return dict(TINY_CFG)


@pytest.fixture
def tiny_cfg_no_dropout() -> dict:
    return {**TINY_CFG, "drop_rate": 0.0}


@pytest.fixture(scope="session")
def gpt2_124m() -> GPTModel:
    """The full 124M model, built once for the tests whose point is its published figures."""
    torch.manual_seed(123)
    return GPTModel(GPT_CONFIG_124M)
