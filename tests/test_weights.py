"""Weights I/O: the Hugging Face GPT-2 layout (load, export, round trips, bad files) and gptblock checkpoints.

The files here are written with gptblock's own exporter and edited with safetensors, so these tests do not
need transformers; tests/test_transformers_equality.py loads files that transformers itself wrote.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import gptblock.hf_gpt2 as hf_module
from gptblock import (
    GPTModel,
    export_gpt2_weights,
    load_checkpoint,
    load_gpt2_weights,
    optimize_for_cpu,
    save_checkpoint,
)
from gptblock.hf_gpt2 import GPT2_HEADS_BY_WIDTH, gptblock_to_hf, hf_gpt2_shapes, hf_name_table, tensors_from_hf

TINY = {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2, "n_layers": 2,
        "drop_rate": 0.0, "qkv_bias": True}


def random_gpt(cfg: dict = TINY, seed: int = 0, tie: bool = True) -> GPTModel:
    """A model whose every parameter, LayerNorms and biases included, is random (so a swap would show)."""
    torch.manual_seed(seed)
    model = GPTModel(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    if tie:
        model.out_head.weight = model.tok_emb.weight
    return model


def assert_same_state(a: GPTModel, b: GPTModel) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        assert torch.equal(sa[name], sb[name]), name


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A save_pretrained-style folder (model.safetensors + config.json) of a random tiny GPT-2."""
    export_gpt2_weights(random_gpt(), tmp_path / "tiny")
    return tmp_path / "tiny"


def rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a safetensors file through ``edit(tensors) -> tensors``."""
    tensors = load_file(str(src))
    save_file(edit(dict(tensors)), str(dst), metadata={"format": "pt"})
    return dst


# ------------------------------------------------------------------------------------------ mapping
def test_hf_shapes_of_gpt2_124m_count_its_parameters():
    from gptblock import GPT_CONFIG_124M
    shapes = hf_gpt2_shapes(GPT_CONFIG_124M)
    assert len(shapes) == 2 + 12 * 12 + 2
    assert sum(torch.Size(s).numel() for s in shapes.values()) == 124_439_808  # the published count
    assert shapes["h.0.attn.c_attn.weight"] == (768, 3 * 768)  # Conv1D: (in, out)


def test_conv1d_is_the_transpose_of_linear():
    """x @ W_conv + b (Conv1D) equals nn.Linear with W_conv.T, and c_attn's columns are [q | k | v]."""
    model = random_gpt()
    hf = gptblock_to_hf(model)
    att = model.trf_blocks[1].att
    x = torch.randn(3, 5, TINY["emb_dim"])
    fused = x @ hf["h.1.attn.c_attn.weight"] + hf["h.1.attn.c_attn.bias"]  # (3, 5, 3*emb)
    q, k, v = fused.split(TINY["emb_dim"], dim=-1)
    torch.testing.assert_close(q, att.W_query(x), rtol=0, atol=1e-6)
    torch.testing.assert_close(k, att.W_key(x), rtol=0, atol=1e-6)
    torch.testing.assert_close(v, att.W_value(x), rtol=0, atol=1e-6)
    ff = model.trf_blocks[1].ff.layers[0]
    torch.testing.assert_close(x @ hf["h.1.mlp.c_fc.weight"] + hf["h.1.mlp.c_fc.bias"], ff(x), rtol=0, atol=1e-6)


def test_tensors_from_hf_inverts_gptblock_to_hf():
    model = random_gpt()
    hf = gptblock_to_hf(model)
    assert list(hf) == [name for name, _, _ in hf_name_table(TINY["n_layers"])] == list(hf_gpt2_shapes(TINY))
    converted = dict(tensors_from_hf(hf.__getitem__, TINY))
    reference = model.state_dict()
    assert set(converted) == set(reference) - {"out_head.weight"}  # the head is the token embedding
    for name, tensor in converted.items():
        assert torch.equal(tensor, reference[name]), name


def test_every_parameter_is_in_the_name_table_once():
    with torch.device("meta"):
        parameters = [name for name, _ in GPTModel({**TINY, "qkv_bias": True}).named_parameters()]
    in_table = [name for _, names, _ in hf_name_table(TINY["n_layers"]) for name in names]
    assert sorted(in_table) == sorted(parameters[:-1]) and parameters[-1] == "out_head.weight"


# ------------------------------------------------------------------------------------- round trips
def test_load_gives_the_exported_model(tiny_dir):
    model = load_gpt2_weights(tiny_dir)
    original = random_gpt()
    assert_same_state(model, original)
    assert model.cfg == TINY  # from config.json; drop_rate 0
    assert model.out_head.weight is model.tok_emb.weight
    assert not model.training
    x = torch.randint(0, TINY["vocab_size"], (2, 9))
    with torch.no_grad():
        assert torch.equal(model(x), original(x))


def test_load_export_load_is_bit_exact(tiny_dir, tmp_path):
    first = load_gpt2_weights(tiny_dir / "model.safetensors")
    again_file = export_gpt2_weights(first, tmp_path / "again")  # a folder: weights + config.json
    second = load_gpt2_weights(again_file, drop_rate=0.0)
    assert_same_state(first, second)
    # And the two files hold the same tensors, bit for bit.
    original, exported = load_file(str(tiny_dir / "model.safetensors")), load_file(str(again_file))
    assert list(original) == list(exported)
    for name in original:
        assert torch.equal(original[name], exported[name]), name


def test_transformer_prefix_mask_buffers_and_tied_head_are_accepted(tiny_dir, tmp_path):
    def hf_style(tensors):
        out = {"transformer." + name: t for name, t in tensors.items()}
        for i in range(TINY["n_layers"]):  # the causal-mask buffers older GPT-2 files carry
            out[f"transformer.h.{i}.attn.bias"] = torch.ones(1, 1, 16, 16).tril()
            out[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
        out["lm_head.weight"] = tensors["wte.weight"].clone()
        return out

    path = rewrite(tiny_dir / "model.safetensors", tmp_path / "model.safetensors", hf_style)
    (tmp_path / "config.json").write_text((tiny_dir / "config.json").read_text())
    assert_same_state(load_gpt2_weights(path), load_gpt2_weights(tiny_dir))


def test_sharded_folder_loads(tiny_dir, tmp_path):
    tensors = load_file(str(tiny_dir / "model.safetensors"))
    names = list(tensors)
    shards = {"model-00001-of-00002.safetensors": names[:10], "model-00002-of-00002.safetensors": names[10:]}
    folder = tmp_path / "sharded"
    folder.mkdir()
    for shard, shard_names in shards.items():
        save_file({n: tensors[n] for n in shard_names}, str(folder / shard), metadata={"format": "pt"})
    weight_map = {n: shard for shard, shard_names in shards.items() for n in shard_names}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "config.json").write_text((tiny_dir / "config.json").read_text())
    assert_same_state(load_gpt2_weights(folder), load_gpt2_weights(tiny_dir))


def test_model_without_qkv_bias_exports_zero_biases_and_computes_the_same(tmp_path):
    model = random_gpt({**TINY, "qkv_bias": False})
    loaded = load_gpt2_weights(export_gpt2_weights(model, tmp_path / "m"))
    assert loaded.cfg["qkv_bias"] is True
    assert torch.count_nonzero(loaded.trf_blocks[0].att.W_key.bias) == 0
    x = torch.randint(0, TINY["vocab_size"], (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=1e-6)


def test_export_refuses_an_untied_head_and_non_models(tmp_path):
    with pytest.raises(ValueError, match=r"out_head\.weight differs from tok_emb\.weight"):
        export_gpt2_weights(random_gpt(tie=False), tmp_path / "x")
    with pytest.raises(TypeError, match="GPTModel"):
        export_gpt2_weights(torch.nn.Linear(2, 2), tmp_path / "y")


def test_loading_does_not_move_the_callers_random_numbers(tiny_dir):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    load_gpt2_weights(tiny_dir)
    assert torch.equal(torch.rand(3), expected)


# ------------------------------------------------------------------------------ config inference
def _widened_file(tmp_path: Path, emb: int, n_layers: int = 1) -> Path:
    """A GPT-2 file of width ``emb`` but a toy vocabulary and context, with no config.json.

    Its metadata is OpenAI's (``format`` only): without gptblock's export record, nothing in it tells the heads.
    """
    cfg = {"vocab_size": 10, "context_length": 8, "emb_dim": emb, "n_heads": 2, "n_layers": n_layers,
           "drop_rate": 0.0, "qkv_bias": True}
    folder = tmp_path / f"w{emb}"
    folder.mkdir()
    file = export_gpt2_weights(random_gpt(cfg), folder / "model.safetensors")
    return rewrite(file, file, lambda tensors: tensors)


def test_config_is_inferred_from_the_tensors_for_gpt2_widths(tmp_path):
    assert GPT2_HEADS_BY_WIDTH == {768: 12, 1024: 16, 1280: 20, 1600: 25}
    model = load_gpt2_weights(_widened_file(tmp_path, 768, n_layers=2))
    assert model.cfg == {"vocab_size": 10, "context_length": 8, "emb_dim": 768, "n_heads": 12, "n_layers": 2,
                         "drop_rate": 0.0, "qkv_bias": True}


def test_unknown_width_without_config_json_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"width 64 is not one of GPT-2's .*config\.json"):
        load_gpt2_weights(_widened_file(tmp_path, 64))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("activation_function", "gelu", r"activation_function is 'gelu'"),
    ("layer_norm_epsilon", 1e-6, r"layer_norm_epsilon is 1e-06"),
    ("model_type", "gpt_neo", r"model_type is 'gpt_neo'"),
    ("n_inner", 100, r"n_inner is 100"),
    ("scale_attn_by_inverse_layer_idx", True, r"scale_attn_by_inverse_layer_idx"),
    ("n_head", 3, r"emb_dim \(32\) must be divisible by n_heads \(3\)"),
])
def test_config_json_that_is_not_gpt2_is_refused(tiny_dir, key, value, message):
    config = json.loads((tiny_dir / "config.json").read_text())
    config[key] = value
    (tiny_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        load_gpt2_weights(tiny_dir)


def test_old_config_json_with_n_ctx_and_tanh_gelu_variants(tiny_dir):
    config = json.loads((tiny_dir / "config.json").read_text())
    config["n_ctx"] = config.pop("n_positions")
    config["activation_function"] = "gelu_pytorch_tanh"
    (tiny_dir / "config.json").write_text(json.dumps(config))
    assert load_gpt2_weights(tiny_dir).cfg["context_length"] == 16


# ------------------------------------------------------------------------------------ bad files
@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: {k: v for k, v in t.items() if k != "h.1.ln_2.weight"},
     r"missing tensor 'h\.1\.ln_2\.weight' \(expected shape \[32\]\)"),
    (lambda t: {**t, "h.0.attn.c_attn.extra": torch.zeros(2)}, r"unexpected tensor 'h\.0\.attn\.c_attn\.extra'"),
    (lambda t: {**t, "h.0.mlp.c_fc.weight": t["h.0.mlp.c_fc.weight"].T.contiguous()},
     r"tensor 'h\.0\.mlp\.c_fc\.weight' has shape \[128, 32\], expected \[32, 128\]"),
    (lambda t: {**t, "h.2.ln_1.weight": torch.ones(32)}, r"unexpected tensor 'h\.2\.ln_1\.weight'"),
    (lambda t: {**t, "ln_f.bias": torch.zeros(32, dtype=torch.int64)}, r"'ln_f\.bias' has dtype I64"),
    (lambda t: {**t, "lm_head.weight": t["wte.weight"] + 1}, r"'lm_head\.weight' differs from 'wte\.weight'"),
])
def test_a_mismatched_file_names_the_first_bad_tensor(tiny_dir, edit, message):
    rewrite(tiny_dir / "model.safetensors", tiny_dir / "model.safetensors", edit)
    with pytest.raises(ValueError, match=message):
        load_gpt2_weights(tiny_dir)


def test_errors_count_the_other_problems(tiny_dir):
    rewrite(tiny_dir / "model.safetensors", tiny_dir / "model.safetensors",
            lambda t: {k: v for k, v in t.items() if not k.startswith("h.1.")})
    with pytest.raises(ValueError, match=r"missing tensor 'h\.1\.ln_1\.weight'.*\(and 11 more problems\)"):
        load_gpt2_weights(tiny_dir)


def test_every_tensor_is_checked_before_a_model_is_built(tiny_dir, monkeypatch):
    """The last tensor is the bad one: the error comes before any model exists to be half-written."""
    built, real = [], GPTModel

    def spy(cfg, **kwargs):  # the meta-device models that give the expected shapes are not counted
        if torch.get_default_device().type != "meta":
            built.append(cfg)
        return real(cfg, **kwargs)

    monkeypatch.setattr(hf_module, "GPTModel", spy)
    rewrite(tiny_dir / "model.safetensors", tiny_dir / "model.safetensors",
            lambda t: {**t, "ln_f.bias": torch.zeros(33)})
    with pytest.raises(ValueError, match=r"'ln_f\.bias' has shape \[33\], expected \[32\]"):
        load_gpt2_weights(tiny_dir)
    assert built == []


def test_missing_paths_and_files_that_are_not_safetensors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        load_gpt2_weights(tmp_path / "nowhere.safetensors")
    with pytest.raises(FileNotFoundError, match=r"holds no model\.safetensors"):
        load_gpt2_weights(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("these are not weights\n")
    with pytest.raises(ValueError, match=r"notes\.txt is not a readable safetensors file"):
        load_gpt2_weights(text)
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ValueError, match=r"pytorch_model\.bin but no model\.safetensors: .*only reads safetensors"):
        load_gpt2_weights(tmp_path)


def test_no_file_is_ever_unpickled():
    """Every torch.load in the project (package, tests, pages) passes weights_only=True; the readers have none."""
    root = Path(hf_module.__file__).parents[1]
    sources = [p for folder in ("gptblock", "tests", "docs") for p in (root / folder).rglob("*")
               if p.suffix in (".py", ".md")]
    assert len(sources) > 10
    for source in sources:
        for code in _python_code(source):
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Call) and ast.unparse(node.func) == "torch.load":
                    keywords = {k.arg: k.value for k in node.keywords}
                    flag = keywords.get("weights_only")
                    assert isinstance(flag, ast.Constant) and flag.value is True, f"{source}: {ast.unparse(node)}"
    for module in ("hf_gpt2.py", "checkpoint.py", "safetensors_files.py"):
        text = (root / "gptblock" / module).read_text(encoding="utf-8")
        assert "torch.load(" not in text and "import pickle" not in text, module


def _python_code(source: Path) -> list[str]:
    """The Python in a .py file, or in the ```python fences of a page (doctest prompts removed)."""
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".py":
        return [text]
    blocks = re.findall(r"^```(?:python|py|pycon)[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    code = []
    for block in blocks:
        lines = block.splitlines()
        if any(line.startswith(">>>") for line in lines):  # keep the statements, drop the printed output
            lines = [line[4:] for line in lines if line.startswith((">>> ", "... ")) or line in (">>>", "...")]
        code.append("\n".join(lines))
    return code


def test_the_unpickling_check_sees_every_form_of_torch_load(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('```python\n>>> torch.load("model.pth")\n```\n', encoding="utf-8")
    calls = [ast.unparse(n) for c in _python_code(page) for n in ast.walk(ast.parse(c)) if isinstance(n, ast.Call)]
    assert calls == ["torch.load('model.pth')"]


# ------------------------------------------------------------------------------------ checkpoints
def test_checkpoint_round_trip_keeps_the_tie(tmp_path):
    model = random_gpt()
    save_checkpoint(model, tmp_path / "m.safetensors")
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        assert "out_head.weight" not in f.keys()  # stored once: safetensors refuses shared tensors
        assert json.loads(f.metadata()["config"]) == TINY
    again = load_checkpoint(tmp_path / "m.safetensors")
    assert again.out_head.weight is again.tok_emb.weight
    assert again.cfg == TINY
    assert_same_state(model, again)


def test_checkpoint_round_trip_of_an_untied_model(tmp_path):
    model = random_gpt(tie=False)
    save_checkpoint(model, tmp_path / "m.safetensors")
    again = load_checkpoint(tmp_path / "m.safetensors")
    assert again.out_head.weight is not again.tok_emb.weight
    assert_same_state(model, again)


def test_checkpoint_keeps_dtype_and_dropout(tmp_path):
    model = random_gpt({**TINY, "drop_rate": 0.1}).to(torch.bfloat16)
    save_checkpoint(model, tmp_path / "m.safetensors")
    again = load_checkpoint(tmp_path / "m.safetensors")
    assert again.tok_emb.weight.dtype == torch.bfloat16
    assert again.cfg["drop_rate"] == 0.1
    assert_same_state(model, again)


def test_checkpoint_errors(tmp_path, tiny_dir):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "none.safetensors")
    with pytest.raises(ValueError, match=r"not a gptblock checkpoint .*use load_gpt2_weights"):
        load_checkpoint(tiny_dir / "model.safetensors")
    save_checkpoint(random_gpt(), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match=r"is a gptblock checkpoint.*use load_checkpoint"):
        load_gpt2_weights(tmp_path / "m.safetensors")
    tensors = load_file(str(tmp_path / "m.safetensors"))
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        metadata = f.metadata()
    del tensors["trf_blocks.1.att.W_key.bias"]
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata=metadata)
    with pytest.raises(ValueError, match=r"missing tensor 'trf_blocks\.1\.att\.W_key\.bias'"):
        load_checkpoint(tmp_path / "bad.safetensors")
    with pytest.raises(TypeError, match="GPTModel"):
        save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")


def test_an_optimized_model_saves_and_exports_as_the_plain_one(tmp_path):
    model = random_gpt()
    save_checkpoint(model, tmp_path / "plain.safetensors")
    export_gpt2_weights(model, tmp_path / "plain-hf")
    optimize_for_cpu(model)
    save_checkpoint(model, tmp_path / "optimized.safetensors")
    export_gpt2_weights(model, tmp_path / "optimized-hf")
    plain = load_checkpoint(tmp_path / "plain.safetensors").state_dict()
    optimized = load_checkpoint(tmp_path / "optimized.safetensors").state_dict()
    assert list(plain) == list(optimized)
    for name, tensor in plain.items():
        assert torch.equal(optimized[name], tensor), name  # unpacking gives the weights back bit for bit
    assert_same_state(load_gpt2_weights(tmp_path / "plain-hf"), load_gpt2_weights(tmp_path / "optimized-hf"))
