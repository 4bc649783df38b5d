"""The attention explorer's data (docs/assets/attention/*-attention.json): their shape, what attention
weights must satisfy, that they are what the committed model computes, and the hook that writes them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from mkdocs.exceptions import PluginError

from gptblock import GPTModel, load_gpt2_tokenizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))
try:
    import attention_data
    import attention_explorer
finally:
    sys.path.remove(str(ROOT / "hooks"))

NAMES = [name for name, _, _ in attention_data.SENTENCES]
MAX_TOKENS = 16  # the explorer's grid must stay readable on a phone


@pytest.fixture(scope="module")
def model() -> GPTModel:
    return attention_data.load_model()


@pytest.fixture(scope="module")
def fresh(model: GPTModel, tokenizer_dir: Path) -> dict[str, dict]:
    """Every sentence's data, recomputed now from the committed model."""
    tokenizer = load_gpt2_tokenizer(tokenizer_dir)
    return {data["name"]: data for data in attention_data.all_sentence_data(model, tokenizer)}


def committed(name: str) -> dict:
    path = attention_data.output_path(name)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run python hooks/attention_data.py"
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_sentences_in_both_languages() -> None:
    languages = [language for _, language, _ in attention_data.SENTENCES]
    assert languages.count("es") >= 2 and languages.count("en") >= 2, languages
    assert len(set(NAMES)) == len(NAMES), "two sentences share a file name"
    assert all("attention" in attention_data.output_path(name).name for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_file_has_tokens_ids_and_weights_of_the_right_shape(name: str, model: GPTModel) -> None:
    data = committed(name)
    tokens, ids, weights = data["tokens"], data["ids"], data["weights"]
    num_tokens = len(ids)
    assert 2 <= num_tokens <= MAX_TOKENS, f"{name}: {num_tokens} tokens"
    assert len(tokens) == num_tokens, f"{name}: {len(tokens)} tokens for {num_tokens} ids"
    assert all(isinstance(t, str) for t in tokens)
    assert all(isinstance(i, int) and 0 <= i < model.tok_emb.num_embeddings for i in ids)
    layers, heads = len(model.trf_blocks), model.trf_blocks[0].att.num_heads
    shape = torch.tensor(weights).shape
    assert shape == (layers, heads, num_tokens, num_tokens), f"{name}: weights of shape {tuple(shape)}"


@pytest.mark.parametrize("name", NAMES)
def test_rows_sum_to_one_and_the_future_gets_nothing(name: str) -> None:
    weights = torch.tensor(committed(name)["weights"], dtype=torch.float64)  # (layers, heads, T, T)
    num_tokens = weights.shape[-1]
    # Each of the T rounded entries is off by at most half a unit of the last decimal.
    tolerance = num_tokens * 0.5 * 10 ** -attention_data.DECIMALS
    sums = weights.sum(dim=-1)
    worst = (sums - 1).abs().max().item()
    assert worst <= tolerance, f"{name}: a row sums to 1 +- {worst:.5f}"
    future = torch.triu(torch.ones(num_tokens, num_tokens, dtype=torch.bool), diagonal=1)
    above = weights[..., future]
    assert (above == 0).all(), f"{name}: {int((above != 0).sum())} weights above the diagonal"
    assert (weights >= 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_committed_file_is_what_the_model_computes(name: str, fresh: dict[str, dict]) -> None:
    data, now = committed(name), fresh[name]
    assert {k: v for k, v in data.items() if k != "weights"} == {k: v for k, v in now.items() if k != "weights"}, (
        f"{name}: text, tokens or ids changed: run python hooks/attention_data.py")
    difference = (torch.tensor(data["weights"]) - torch.tensor(now["weights"])).abs().max().item()
    # Rounded to DECIMALS places: another CPU may round the last digit the other way.
    assert difference <= 1.5 * 10 ** -attention_data.DECIMALS, (
        f"{name}: committed weights differ from the model's by {difference}: run python hooks/attention_data.py")


def test_weights_reproduce_each_attention_modules_output(model: GPTModel, fresh: dict[str, dict]) -> None:
    """The weights, applied to each head's values, give what the model's own ``att`` modules output in
    its forward pass: the walk through the blocks saw the same inputs as the model does."""
    ids = torch.tensor(fresh[NAMES[0]]["ids"])
    weights = attention_data.attention_weights(model, ids)  # (layers, heads, T, T)
    seen = []
    hooks = [block.att.register_forward_hook(lambda module, args, output: seen.append((args[0], output)))
             for block in model.trf_blocks]
    try:
        with torch.no_grad():
            model(ids.unsqueeze(0))
    finally:
        for hook in hooks:
            hook.remove()
    assert len(seen) == len(model.trf_blocks)
    for layer, (block, (att_input, att_output)) in enumerate(zip(model.trf_blocks, seen, strict=True)):
        att = block.att
        num_tokens = ids.shape[0]
        with torch.no_grad():
            values = att.W_value(att_input[0]).view(num_tokens, att.num_heads, att.head_dim).transpose(0, 1)
            context = (weights[layer] @ values).transpose(0, 1).reshape(num_tokens, att.d_out)
            output = att.out_proj(context)
        torch.testing.assert_close(output, att_output[0], atol=1e-5, rtol=1e-4,
                                   msg=lambda m, layer=layer: f"block {layer}: {m}")


def test_the_file_is_written_only_when_its_content_changes(tmp_path: Path) -> None:
    path = tmp_path / "x-attention.json"
    assert attention_data.write_if_changed(path, "one\n")
    assert not attention_data.write_if_changed(path, "one\n")
    assert attention_data.write_if_changed(path, "two\n")
    assert path.read_text(encoding="utf-8") == "two\n"


def test_to_json_reads_back_as_the_same_data(fresh: dict[str, dict]) -> None:
    data = fresh[NAMES[-1]]
    assert json.loads(attention_data.to_json(data)) == data


def copy_of_the_committed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokenizer_dir: Path):
    """A docs folder with the committed data, the hook's stamps kept under tmp_path: (config, data folder)."""
    docs = tmp_path / "docs"
    out = docs / "assets" / "attention"
    out.mkdir(parents=True)
    for name in NAMES:
        (out / attention_data.output_path(name).name).write_bytes(attention_data.output_path(name).read_bytes())
    monkeypatch.setattr(attention_explorer, "STAMP_DIR", tmp_path / "stamps")
    monkeypatch.setenv("GPTBLOCK_TOKENIZER_DIR", str(tokenizer_dir))
    return type("Config", (), {"docs_dir": str(docs)})(), out


def test_hook_rewrites_nothing_when_the_files_are_current(tokenizer_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    config, out = copy_of_the_committed_files(tmp_path, monkeypatch, tokenizer_dir)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    attention_explorer.on_pre_build(config)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_hook_skips_the_model_until_an_input_or_a_file_changes(tokenizer_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config, out = copy_of_the_committed_files(tmp_path, monkeypatch, tokenizer_dir)
    computed = []
    original = attention_data.all_sentence_data
    monkeypatch.setattr(attention_data, "all_sentence_data", lambda **kw: computed.append(1) or original(**kw))
    attention_explorer.on_pre_build(config)
    attention_explorer.on_pre_build(config)
    assert computed == [1], "the second build ran the model again with nothing changed"
    edited = out / f"{NAMES[0]}-attention.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace("0.", "1.", 1), encoding="utf-8")
    attention_explorer.on_pre_build(config)
    assert computed == [1, 1], "a file edited by hand was kept"
    assert edited.read_bytes() == attention_data.output_path(NAMES[0]).read_bytes()
    monkeypatch.setattr(attention_explorer, "MODEL_FILE", tmp_path / "another-model.safetensors")
    attention_explorer.on_pre_build(config)  # an input the hash cannot read: computed again, not skipped
    assert computed == [1, 1, 1]


def test_hook_says_so_when_the_tokenizer_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPTBLOCK_TOKENIZER_DIR", str(tmp_path))  # a folder without vocab.bpe
    with pytest.raises(PluginError, match="GPTBLOCK_TOKENIZER_DIR"):
        attention_explorer.on_pre_build(type("Config", (), {"docs_dir": str(tmp_path / "docs")})())
    assert not (tmp_path / "docs").exists(), "the hook wrote files without a tokenizer"
