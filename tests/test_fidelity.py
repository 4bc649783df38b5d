"""Fidelity: the seed's own class and a literal reference implementation give gptblock's numbers.

Two yardsticks:

* the seed chapter's ``TransformerBlock`` class, cut out of the seed file at test time (or, on a
  checkout without ``shared/``, from the verbatim copy below) with its three local imports
  replaced by imports from ``gptblock``;
* ``reference_impl``, a plain re-implementation of the reference behaviour (float mask saved in
  the state_dict, GELU written out, explicit masked softmax, dropout on the attention weights
  then on the shortcuts).

Same seed in, same parameters and same outputs out, in train mode with dropout too: a different
order of random draws would change the dropout masks, and the numbers with them.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch
from reference_impl import (
    RefGPTModel,
    RefMultiHeadAttention,
    RefTransformerBlock,
    ref_generate,
    ref_generate_text_simple,
)

from gptblock import (
    GPTModel,
    MultiHeadAttention,
    TransformerBlock,
    generate,
    generate_text_simple,
)

SEED_NAME = "seed/000_5d20c83c76bf70d9.txt"  # in ../shared: the root conftest's seed_file fixture finds it

# The seed's two code cells, pasted verbatim (only trailing spaces dropped) as a fallback for a
# checkout without shared/; a test below checks that this copy still matches the seed file.
SEED_BLOCK_CELL = '''from multiHeadAttention import MultiHeadAttention
from feedForward import FeedForward
from layerNorm import LayerNorm
import torch
import torch.nn as nn

GPT_CONFIG_124M = {
    "vocab_size": 50257,
    "context_length": 1024,
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False
}

class TransformerBlock(nn.Module):
    def __init__(self, cfg=GPT_CONFIG_124M):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            dropout=cfg["drop_rate"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"]
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        ## Bloque 1 atencion
        shortcut = x    #conexion de acceso directo para el bloque de atencion
        x = self.norm1(x)
        x = self.att(x)
        x = self.drop_shortcut(x)
        x = x + shortcut

        #Bloque 2: Red neuronal feed_forward
        shortcut = x    #conexion de acceso directo para el bloque de avence
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut    #agregaci´on de entrada principal
        return x
'''  # noqa: RUF001 (the seed's own typo, kept verbatim)

SEED_EXAMPLE_CELL = '''torch.manual_seed(123)
x = torch.rand(2, 4, 768) #[batch_size, num_tokens, emb_dim]
block = TransformerBlock(GPT_CONFIG_124M)
output = block(x)

print("Input shape:", x.shape)
print("Output shape:", output.shape)
'''

SEED_EXAMPLE_OUTPUT = "Input shape: torch.Size([2, 4, 768])\nOutput shape: torch.Size([2, 4, 768])\n"

SEED_IMPORTS = {
    "from multiHeadAttention import MultiHeadAttention": "from gptblock import MultiHeadAttention",
    "from feedForward import FeedForward": "from gptblock import FeedForward",
    "from layerNorm import LayerNorm": "from gptblock import LayerNorm",
}


def strip_trailing_spaces(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n"))


def seed_cells_from_file(text: str) -> tuple[str, str, str]:
    """Cut the block cell, the example cell and the example's printed output out of the seed text."""
    block = re.search(r"In \[16\]:\n(.*?\n        return x\n)", text, re.S)
    example = re.search(r"In \[17\]:\n(.*?print\(\"Output shape:\", output.shape\)\n)\n(.*?)\n\n", text, re.S)
    if block is None or example is None:
        raise AssertionError(f"the seed file {SEED_NAME} no longer has the cells these tests expect")
    return block.group(1), example.group(1), example.group(2) + "\n"


def seed_cells(seed_file: Path | None) -> tuple[str, str, str]:
    """The seed's (block cell, example cell, printed output): from the seed file when it is there."""
    if seed_file is not None:
        return seed_cells_from_file(seed_file.read_text(encoding="utf-8"))
    return SEED_BLOCK_CELL, SEED_EXAMPLE_CELL, SEED_EXAMPLE_OUTPUT


def seed_namespace(seed_file: Path | None) -> dict:
    """Run the seed's block cell, its three local imports replaced by imports from gptblock."""
    block_cell, _, _ = seed_cells(seed_file)
    for old, new in SEED_IMPORTS.items():
        if old not in block_cell:
            raise AssertionError(f"the seed's block cell no longer contains {old!r}")
        block_cell = block_cell.replace(old, new)
    namespace: dict = {"__name__": "seed_chapter"}
    exec(compile(block_cell, SEED_NAME, "exec"), namespace)
    return namespace


def build(cls, cfg, seed):
    torch.manual_seed(seed)
    return cls(cfg)


def run_seeded(module, x, seed):
    """Forward under a fixed seed; also return the RNG state after it (how much was drawn)."""
    torch.manual_seed(seed)
    out = module(x)
    return out, torch.get_rng_state()


# --- the seed's own class ---------------------------------------------------------------------

def test_verbatim_copy_matches_the_seed_file(seed_file):
    if seed_file is None:
        pytest.skip(f"no seed file {SEED_NAME} beside the checkout")
    block_cell, example_cell, output = seed_cells_from_file(seed_file.read_text(encoding="utf-8"))
    assert strip_trailing_spaces(block_cell) == SEED_BLOCK_CELL
    assert strip_trailing_spaces(example_cell) == SEED_EXAMPLE_CELL
    assert output == SEED_EXAMPLE_OUTPUT


def test_seed_cell_really_uses_gptblock_parts(seed_file):
    ns = seed_namespace(seed_file)
    seed_block = ns["TransformerBlock"]({**ns["GPT_CONFIG_124M"], "emb_dim": 32, "n_heads": 2})
    assert isinstance(seed_block.att, MultiHeadAttention)
    assert ns["TransformerBlock"] is not TransformerBlock
    assert ns["GPT_CONFIG_124M"] == __import__("gptblock").GPT_CONFIG_124M


@pytest.mark.parametrize("train", [True, False], ids=["train-dropout", "eval"])
def test_seed_class_equals_gptblock_block(tiny_cfg, train, seed_file):
    SeedBlock = seed_namespace(seed_file)["TransformerBlock"]
    seed_block = build(SeedBlock, tiny_cfg, 123).train(train)
    ours = build(TransformerBlock, tiny_cfg, 123).train(train)
    assert list(seed_block.state_dict()) == list(ours.state_dict())
    for (name, a), b in zip(seed_block.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    x = torch.rand(2, 9, 32)
    out_seed, rng_seed = run_seeded(seed_block, x, 7)
    out_ours, rng_ours = run_seeded(ours, x, 7)
    assert torch.equal(out_seed, out_ours)
    assert torch.equal(rng_seed, rng_ours)


def test_the_seed_example_prints_its_lines_and_its_numbers(capsys, seed_file):
    ns = seed_namespace(seed_file)
    _, example_cell, printed = seed_cells(seed_file)
    exec(compile(example_cell, SEED_NAME, "exec"), ns)
    assert capsys.readouterr().out == printed
    assert printed == "Input shape: torch.Size([2, 4, 768])\nOutput shape: torch.Size([2, 4, 768])\n"
    # the same example with gptblock's class gives the same numbers, dropout included
    torch.manual_seed(123)
    x = torch.rand(2, 4, 768)
    block = TransformerBlock()
    output = block(x)
    assert torch.equal(x, ns["x"])
    assert torch.equal(output, ns["output"])


# --- the reference implementation -------------------------------------------------------------

def assert_same_parameters(ref, ours):
    ref_state = {k: v for k, v in ref.state_dict().items() if not k.endswith("mask")}
    assert list(ref_state) == list(ours.state_dict())
    for name, value in ref_state.items():
        assert torch.equal(value, ours.state_dict()[name]), name


def test_attention_matches_reference(tiny_cfg):
    torch.manual_seed(5)
    ref = RefMultiHeadAttention(32, 32, 16, 0.2, 4)
    torch.manual_seed(5)
    ours = MultiHeadAttention(32, 32, 16, 0.2, 4)
    assert_same_parameters(ref, ours)
    x = torch.randn(3, 11, 32)
    out_ref, rng_ref = run_seeded(ref, x, 1)
    out_ours, rng_ours = run_seeded(ours, x, 1)
    assert torch.equal(out_ref, out_ours)
    assert torch.equal(rng_ref, rng_ours)


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_block_matches_reference_in_train_mode(tiny_cfg, qkv_bias):
    cfg = {**tiny_cfg, "drop_rate": 0.25, "qkv_bias": qkv_bias}
    ref = build(RefTransformerBlock, cfg, 11)
    ours = build(TransformerBlock, cfg, 11)
    assert_same_parameters(ref, ours)
    x = torch.randn(2, 16, 32)
    out_ref, rng_ref = run_seeded(ref, x, 3)
    out_ours, rng_ours = run_seeded(ours, x, 3)
    torch.testing.assert_close(out_ours, out_ref, atol=1e-6, rtol=1e-6)  # GELU: fused kernel vs formula
    assert torch.equal(rng_ref, rng_ours)
    # the dropout really bites: another seed, other numbers
    other, _ = run_seeded(ours, x, 4)
    assert (other - out_ours).abs().max() > 1e-2


def test_block_matches_reference_in_eval(tiny_cfg):
    ref = build(RefTransformerBlock, tiny_cfg, 12).eval()
    x = torch.randn(2, 10, 32)
    for attn_impl in ("auto", "explicit", "sdpa"):  # fused, explicit, fused
        torch.manual_seed(12)
        ours = TransformerBlock(tiny_cfg, attn_impl=attn_impl).eval()
        torch.testing.assert_close(ours(x), ref(x), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("train", [True, False], ids=["train-dropout", "eval"])
def test_model_matches_reference(tiny_cfg, train):
    ref = build(RefGPTModel, tiny_cfg, 21).train(train)
    ours = build(GPTModel, tiny_cfg, 21).train(train)
    assert_same_parameters(ref, ours)
    idx = torch.randint(0, 99, (3, 16))
    out_ref, rng_ref = run_seeded(ref, idx, 8)
    out_ours, rng_ours = run_seeded(ours, idx, 8)
    torch.testing.assert_close(out_ours, out_ref, atol=1e-5, rtol=1e-5)
    assert torch.equal(rng_ref, rng_ours)


def test_generation_matches_reference(tiny_cfg):
    ref = build(RefGPTModel, tiny_cfg, 31).eval()
    ours = build(GPTModel, tiny_cfg, 31).eval()
    prompt = torch.tensor([[4, 8, 15, 16, 23, 42]])
    greedy_ref = ref_generate_text_simple(ref, prompt, 20, 16)  # crosses the 16-token context
    assert torch.equal(generate_text_simple(ours, prompt, 20, 16), greedy_ref)
    assert torch.equal(generate(ours, prompt, 20, 16), greedy_ref)
    for temperature, top_k in [(1.0, None), (1.4, 5), (0.7, 25)]:
        torch.manual_seed(2024)
        sampled_ref = ref_generate(ref, prompt, 20, 16, temperature=temperature, top_k=top_k)
        torch.manual_seed(2024)
        sampled_ours = generate(ours, prompt, 20, 16, temperature=temperature, top_k=top_k)
        assert torch.equal(sampled_ours, sampled_ref), (temperature, top_k)
        assert not torch.equal(sampled_ours, greedy_ref)
    # gptblock's generate drives any model that maps ids to logits, the reference one included
    torch.manual_seed(5)
    on_ref = generate(ref, prompt, 20, 16, temperature=1.0, top_k=10)
    torch.manual_seed(5)
    assert torch.equal(on_ref, ref_generate(ref, prompt, 20, 16, temperature=1.0, top_k=10))
    # the reference's end-of-text stop (a batch of one): same tokens, same stop
    eos = greedy_ref[0, 10].item()
    assert torch.equal(generate(ours, prompt, 20, 16, eos_id=eos), ref_generate(ref, prompt, 20, 16, eos_id=eos))


def test_reference_state_dict_with_float_masks_loads(tiny_cfg):
    ref = build(RefGPTModel, tiny_cfg, 41).eval()
    buffer = io.BytesIO()
    torch.save(ref.state_dict(), buffer)  # as a checkpoint file would hold it
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    masks = [k for k in state if k.endswith("mask")]
    assert masks == ["trf_blocks.0.att.mask", "trf_blocks.1.att.mask"]
    assert all(state[k].dtype == torch.float32 for k in masks)
    ours = build(GPTModel, tiny_cfg, 42).eval()
    result = ours.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert not any(k.endswith("mask") for k in ours.state_dict())
    assert set(state) - set(ours.state_dict()) == set(masks)
    idx = torch.randint(0, 99, (2, 12))
    torch.testing.assert_close(ours(idx), ref(idx), atol=1e-5, rtol=1e-5)
    # a single block too, and the masks it rebuilt are still the causal ones
    block_state = ref.trf_blocks[0].state_dict()
    block = build(TransformerBlock, tiny_cfg, 43).eval()
    block.load_state_dict(block_state, strict=True)
    x = torch.randn(2, 7, 32)
    torch.testing.assert_close(block(x), ref.trf_blocks[0](x), atol=1e-6, rtol=1e-6)
    assert torch.equal(block.att.mask, ref.trf_blocks[0].att.mask.bool())


def test_gptblock_state_dict_has_no_mask_but_loads_into_the_reference(tiny_cfg):
    ours = build(GPTModel, tiny_cfg, 51).eval()
    state = ours.state_dict()
    assert not any("mask" in k for k in state)
    ref = build(RefGPTModel, tiny_cfg, 52).eval()
    result = ref.load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == ["trf_blocks.0.att.mask", "trf_blocks.1.att.mask"]
    assert result.unexpected_keys == []
    idx = torch.randint(0, 99, (2, 12))
    torch.testing.assert_close(ours(idx), ref(idx), atol=1e-5, rtol=1e-5)
