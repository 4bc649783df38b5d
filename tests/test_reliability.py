"""What an adversarial pass broke (issue 11), one regression test or more per item of the issue.

Silent wrong answers first (items 1-4), then crashes and untyped errors (5-13) and the decisions the
issue asked for (a model in training mode, a config that lies about its heads, shards outside their
folder). The command line's items (14-18) are in tests/test_cli.py, the tokenizer's (7) in
tests/test_tokenizer.py.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_CFG, tiny_model
from safetensors.torch import load_file, save_file

import gptblock.hf_gpt2 as hf_module
from gptblock import (
    GPTModel,
    LayerNorm,
    export_gpt2_weights,
    generate,
    generate_text_simple,
    load_checkpoint,
    load_gpt2_weights,
    save_checkpoint,
)
from gptblock.train import STATE_FORMAT, read_state

CFG = {**TINY_CFG, "drop_rate": 0.0, "qkv_bias": True}


def tied_model(seed: int = 0, **overrides) -> GPTModel:
    """A tiny model whose output head is its token embedding, as GPT-2's files require."""
    model = tiny_model(seed, **{**CFG, **overrides})
    model.out_head.weight = model.tok_emb.weight
    return model


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ------------------------------------------------------------------ 1. float16 LayerNorm overflows
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_layer_norm_keeps_a_large_feature(dtype):
    torch.manual_seed(0)
    x = torch.randn(1, 32).to(dtype)
    x[0, 0] = 300  # its square, 90,000, is beyond float16's largest number (65,504)
    out = LayerNorm(32).to(dtype)(x)
    expected = F.layer_norm(x.float(), (32,), eps=1e-5)
    assert out.dtype == dtype
    assert torch.isfinite(out).all() and out.abs().max() > 5  # not all zeros
    torch.testing.assert_close(out.float(), expected, atol=2e-2, rtol=1e-2)


def test_float32_layer_norm_is_still_the_formula_bit_for_bit():
    torch.manual_seed(0)
    norm = LayerNorm(32)
    with torch.no_grad():
        norm.scale.normal_()
        norm.shift.normal_()
    x = torch.randn(3, 5, 32) * 10
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    formula = norm.scale * ((x - mean) / torch.sqrt(var + 1e-5)) + norm.shift
    assert torch.equal(norm(x), formula)


def test_a_half_model_predicts_what_the_float_model_predicts():
    model = tiny_model(**CFG)
    with torch.no_grad():
        model.tok_emb.weight[:, 0] = 300.0  # a large feature, as trained GPT-2s have
    ids = torch.tensor([[1, 2, 3, 4]])
    expected = model(ids)
    half = tiny_model(**CFG)
    half.load_state_dict(model.state_dict())
    logits = half.half()(ids)
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), expected, atol=0.05, rtol=0.02)
    assert torch.equal(logits[:, -1].argmax(-1), expected[:, -1].argmax(-1))


def test_a_float16_checkpoint_comes_back_float16_and_predicts_the_same(tmp_path):
    model = tiny_model(**CFG)
    with torch.no_grad():
        model.tok_emb.weight[:, 0] = 300.0
    ids = torch.tensor([[5, 6, 7]])
    save_checkpoint(model.half(), tmp_path / "half.safetensors")
    loaded = load_checkpoint(tmp_path / "half.safetensors")
    assert loaded.tok_emb.weight.dtype == torch.float16
    logits, expected = loaded(ids), loaded.float()(ids)
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), expected, atol=0.05, rtol=0.02)


# ------------------------------------------------------------------ 2. non-finite weights
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_gpt2_file_with_a_non_finite_tensor_is_refused_naming_it(tmp_path, bad):
    folder = tmp_path / "gpt2"
    file = export_gpt2_weights(tied_model(), folder)
    tensors = load_file(str(file))
    tensors["h.1.mlp.c_fc.weight"][3, 4] = bad
    save_file(tensors, str(file), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"tensor 'h\.1\.mlp\.c_fc\.weight' holds 1 non-finite value\(s\)"):
        load_gpt2_weights(folder)


def test_a_nan_in_the_embedding_of_a_gpt2_file_is_named_not_called_a_different_head(tmp_path):
    file = export_gpt2_weights(tied_model(), tmp_path / "gpt2")
    tensors = load_file(str(file))
    tensors["wte.weight"][0, 0] = float("nan")
    tensors["lm_head.weight"] = tensors["wte.weight"].clone()  # a head equal to wte, NaN and all
    save_file(tensors, str(file), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"tensor 'lm_head\.weight' holds 1 non-finite"):
        load_gpt2_weights(tmp_path / "gpt2")


def test_a_float64_value_that_overflows_float32_is_refused(tmp_path):
    file = export_gpt2_weights(tied_model(), tmp_path / "gpt2")
    tensors = {name: t.double() for name, t in load_file(str(file)).items()}
    tensors["ln_f.bias"][0] = 1e300  # finite in the file, infinite once converted to float32
    save_file(tensors, str(file), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"tensor 'ln_f\.bias' holds 1 non-finite"):
        load_gpt2_weights(tmp_path / "gpt2")


def test_a_checkpoint_with_a_non_finite_tensor_is_refused_naming_it(tmp_path):
    model = tied_model()
    with torch.no_grad():
        model.trf_blocks[0].norm2.shift[1] = float("-inf")
    save_checkpoint(model, tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match=r"bad\.safetensors: tensor 'trf_blocks\.0\.norm2\.shift' holds 1 non-finite"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_a_training_state_with_a_non_finite_tensor_is_refused_naming_it(tmp_path):
    path = tmp_path / "state.safetensors"
    save_file({"model.w": torch.tensor([1.0, float("nan")])}, str(path),
              metadata={"format": "pt", "gptblock_train_state": STATE_FORMAT})
    with pytest.raises(ValueError, match=r"state\.safetensors: tensor 'model\.w' holds 1 non-finite"):
        read_state(path)


@pytest.mark.parametrize("attn_impl", ["explicit", "sdpa"])
@pytest.mark.parametrize("use_cache", [True, False])
def test_generate_refuses_non_finite_logits_instead_of_picking_token_0(attn_impl, use_cache):
    model = GPTModel(CFG, attn_impl=attn_impl).eval()
    with torch.no_grad():
        model.pos_emb.weight[1, 0] = float("nan")  # one number, at a position every later one attends to
    ids = torch.tensor([[3, 4, 5]])
    with pytest.raises(ValueError, match=r"generate: the model's logits are not finite \(NaN or infinity\) at "
                                         r"new token 1 of sequence 0"):
        generate(model, ids, max_new_tokens=5, context_size=16, use_cache=use_cache)
    with pytest.raises(ValueError, match="generate_text_simple: the model's logits are not finite"):
        generate_text_simple(model, ids, max_new_tokens=5, context_size=16)


def test_the_fused_path_shows_the_nan_the_explicit_path_shows():
    torch.manual_seed(0)
    explicit = GPTModel(CFG, attn_impl="explicit").eval()
    fused = GPTModel(CFG, attn_impl="sdpa").eval()
    fused.load_state_dict(explicit.state_dict())
    with torch.no_grad():
        for model in (explicit, fused):
            model.trf_blocks[0].att.W_value.weight[0, 0] = float("nan")
    ids = torch.tensor([[3, 4, 5, 6]])
    assert torch.equal(torch.isnan(explicit(ids)), torch.isnan(fused(ids)))
    assert torch.isnan(fused(ids)[:, -1]).all()


# ------------------------------------------------------------------ 3. atomic folder exports
def test_a_failed_export_leaves_the_previous_export_intact(tmp_path, monkeypatch):
    folder = tmp_path / "gpt2"
    export_gpt2_weights(tied_model(seed=0), folder)
    before = files_in(folder)

    def disk_full(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hf_module, "save_file", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        export_gpt2_weights(tied_model(seed=1), folder)
    assert files_in(folder) == before  # no new config.json, no temporary file left behind
    monkeypatch.undo()
    assert torch.equal(load_gpt2_weights(folder).tok_emb.weight, tied_model(seed=0).tok_emb.weight)


def test_a_failed_config_write_leaves_the_previous_weights_too(tmp_path, monkeypatch):
    folder = tmp_path / "gpt2"
    export_gpt2_weights(tied_model(seed=0), folder)
    before = files_in(folder)
    real_write_text = Path.write_text

    def failing_write_text(self, *args, **kwargs):
        if "config.json" in self.name:
            raise OSError(28, "No space left on device")
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing_write_text)
    with pytest.raises(OSError):
        export_gpt2_weights(tied_model(seed=1), folder)
    monkeypatch.undo()
    assert files_in(folder) == before


def test_a_failed_export_into_a_new_folder_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_module, "save_file", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "disk full")))
    with pytest.raises(OSError):
        export_gpt2_weights(tied_model(), tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_new_weights_beside_an_old_config_are_refused(tmp_path):
    """What a reader sees between the two renames of an export: the weights of one, the config of another."""
    old, new = tmp_path / "old", tmp_path / "new"
    export_gpt2_weights(tied_model(seed=0), old)
    export_gpt2_weights(tied_model(seed=1), new)  # same shapes: only the export records tell them apart
    (old / "model.safetensors").write_bytes((new / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match=r"config\.json and .*model\.safetensors come from different exports"):
        load_gpt2_weights(old)


# ------------------------------------------------------------------ 4. checkpoints keep each dtype
def test_load_checkpoint_keeps_the_saved_dtype_of_every_tensor(tmp_path):
    model = tied_model()
    model.final_norm.double()
    model.trf_blocks[1].half()
    save_checkpoint(model, tmp_path / "mixed.safetensors")
    loaded = load_checkpoint(tmp_path / "mixed.safetensors")
    for name, tensor in model.state_dict().items():
        assert loaded.state_dict()[name].dtype == tensor.dtype, name
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert loaded.out_head.weight is loaded.tok_emb.weight


# ------------------------------------------------------------------ 5. tiny temperatures
@pytest.mark.parametrize("temperature", [1e-45, 5e-46, 1e-300, 1e-30])
@pytest.mark.parametrize("use_cache", [True, False])
def test_any_finite_temperature_above_0_samples_and_tends_to_greedy(temperature, use_cache):
    model = tied_model()
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    greedy = generate(model, ids, max_new_tokens=6, context_size=16)
    sampled = generate(model, ids, max_new_tokens=6, context_size=16, temperature=temperature, use_cache=use_cache)
    assert torch.equal(sampled, greedy)


def test_tiny_temperature_with_top_k_and_negative_logits():
    model = tied_model()
    with torch.no_grad():
        model.final_norm.shift.fill_(-50.0)  # every logit far below 0: logits / T is -inf everywhere
    ids = torch.tensor([[1, 2, 3]])
    greedy = generate(model, ids, max_new_tokens=4, context_size=16)
    assert torch.equal(generate(model, ids, 4, 16, temperature=1e-40, top_k=5), greedy)


# ------------------------------------------------------------------ 6. top_k keeps exactly k
class Tied(torch.nn.Module):
    """A model whose logits are all equal: every token ties."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*idx.shape, 10)


def test_top_k_keeps_exactly_k_among_tied_logits():
    torch.manual_seed(0)
    out = generate(Tied(), torch.zeros(1, 1, dtype=torch.long), max_new_tokens=40, context_size=4,
                   temperature=1.0, top_k=1)
    assert len(set(out[0, 1:].tolist())) == 1
    out = generate(Tied(), torch.zeros(1, 1, dtype=torch.long), max_new_tokens=200, context_size=4,
                   temperature=1.0, top_k=3)
    assert len(set(out[0, 1:].tolist())) == 3


# ------------------------------------------------------------------ 7. sharded indexes
def _sharded(tmp_path: Path, weight_map) -> Path:
    folder = tmp_path / "sharded"
    export_gpt2_weights(tied_model(), folder)
    (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("shard", "message"), [
    (7, r"the shard of tensor 'wte\.weight' must be a file name, got 7"),
    (None, r"the shard of tensor 'wte\.weight' must be a file name, got None"),
    (".", r"shard '\.' \(of tensor 'wte\.weight'\) must name a file inside"),
    ("", r"shard '' \(of tensor 'wte\.weight'\) must name a file inside"),
    ("../model.safetensors", r"shard '\.\./model\.safetensors' \(of tensor 'wte\.weight'\) must name a file inside"),
    ("/etc/passwd", r"shard '/etc/passwd' \(of tensor 'wte\.weight'\) must name a file inside"),
    ("missing.safetensors", r"shard 'missing\.safetensors' \(of tensor 'wte\.weight'\) is not a file in"),
])
def test_a_bad_shard_in_the_index_is_a_value_error_naming_the_index(tmp_path, shard, message):
    folder = _sharded(tmp_path, {"wte.weight": shard})
    with pytest.raises(ValueError, match=message) as caught:
        load_gpt2_weights(folder)
    assert "model.safetensors.index.json" in str(caught.value)


@pytest.mark.parametrize("content", ['{"weight_map": []}', '{"weight_map": {}}', "[1]", "{", '{"other": 1}'])
def test_a_malformed_index_is_a_value_error_naming_it(tmp_path, content):
    folder = _sharded(tmp_path, {})
    (folder / "model.safetensors.index.json").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"model\.safetensors\.index\.json"):
        load_gpt2_weights(folder)


def test_a_good_index_still_loads(tmp_path):
    names = load_file(str(export_gpt2_weights(tied_model(), tmp_path / "plain")))
    folder = _sharded(tmp_path, dict.fromkeys(names, "model-00001-of-00001.safetensors"))
    assert torch.equal(load_gpt2_weights(folder).tok_emb.weight, tied_model().tok_emb.weight)


# ------------------------------------------------------------------ 8. context_size > context_length
@pytest.mark.parametrize("fn", [generate, generate_text_simple])
def test_a_context_size_beyond_the_model_is_refused_up_front(fn):
    model = tied_model()
    with pytest.raises(ValueError, match=r"context_size=17 is larger than the model's context_length=16"):
        fn(model, torch.tensor([[1, 2, 3]]), max_new_tokens=20, context_size=17)


# ------------------------------------------------------------------ 9. paths are str or PathLike
@pytest.mark.parametrize("path", [None, 123, ["a.safetensors"], b"a.safetensors", "model-itself", ""])
def test_paths_must_be_str_or_pathlike(tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    model = tied_model()
    path = model if path == "model-itself" else path
    error = ValueError if path == "" else TypeError
    message = "path is empty" if path == "" else rf"path must be a str or os\.PathLike, got {type(path).__name__}"
    for call in (lambda: save_checkpoint(model, path), lambda: export_gpt2_weights(model, path),
                 lambda: load_checkpoint(path), lambda: load_gpt2_weights(path)):
        with pytest.raises(error, match=message):
            call()
    assert list(tmp_path.iterdir()) == []  # no file named "None" or "123"


# ------------------------------------------------------------------ 10. drop_rate of any real type
@pytest.mark.parametrize("drop_rate", [Fraction(1, 10), np.float32(0.1), np.float64(0.1)])
def test_a_drop_rate_of_another_real_type_is_normalised_and_saves(tmp_path, drop_rate):
    model = GPTModel({**CFG, "drop_rate": drop_rate})
    assert type(model.cfg["drop_rate"]) is float
    assert model.drop_emb.p == float(drop_rate) and type(model.trf_blocks[0].att.dropout.p) is float
    model.out_head.weight = model.tok_emb.weight
    save_checkpoint(model, tmp_path / "m.safetensors")
    assert load_checkpoint(tmp_path / "m.safetensors").cfg["drop_rate"] == float(drop_rate)
    export_gpt2_weights(model, tmp_path / "hf")
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["resid_pdrop"] == float(drop_rate)


# ------------------------------------------------------------------ 11. no context² mask per layer
def test_constructing_a_long_context_model_allocates_no_mask():
    cfg = {**CFG, "context_length": 100_000, "n_layers": 2}
    with torch.device("meta"):  # sizes without memory: a (100,000)² mask per layer would be 20 GB
        model = GPTModel(cfg)
    stored = sum(t.numel() for t in model.buffers()) + sum(p.numel() for p in model.parameters())
    assert stored == sum(p.numel() for p in model.parameters())
    assert stored < 100_000 * 64  # parameters only: pos_emb is the largest


@pytest.mark.parametrize("attn_impl", ["explicit", "sdpa"])
def test_a_long_context_model_runs_a_short_sequence(attn_impl):
    torch.manual_seed(0)
    model = GPTModel({**CFG, "context_length": 100_000}, attn_impl=attn_impl).eval()
    short = GPTModel(CFG, attn_impl="explicit").eval()
    state = model.state_dict()
    state["pos_emb.weight"] = state["pos_emb.weight"][:16]
    short.load_state_dict(state)
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    torch.testing.assert_close(model(ids), short(ids))


# ------------------------------------------------------------------ 12. files follow the umask
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        model = tied_model()
        save_checkpoint(model, tmp_path / "m.safetensors")
        export_gpt2_weights(model, tmp_path / "hf")
    finally:
        os.umask(old)
    for file in (tmp_path / "m.safetensors", tmp_path / "hf" / "model.safetensors", tmp_path / "hf" / "config.json"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o666 & ~umask, file


# ------------------------------------------------------------------ 13. neither a file nor a folder
def test_a_device_is_not_a_file_or_a_folder():
    with pytest.raises(ValueError, match=r"/dev/zero is not a file or a folder"):
        load_gpt2_weights("/dev/zero")
    with pytest.raises(ValueError, match=r"/dev/zero is not a file"):
        load_checkpoint("/dev/zero")


# ------------------------------------------------------------------ decided: training mode
def test_generate_in_training_mode_warns_and_leaves_the_mode():
    model = tiny_model()  # TINY_CFG has dropout 0.1
    model.train()
    with pytest.warns(UserWarning, match=r"generate: the model is in training mode, so dropout \(p=0\.1\)"):
        generate(model, torch.tensor([[1, 2]]), max_new_tokens=2, context_size=16)
    with pytest.warns(UserWarning, match="generate_text_simple: the model is in training mode"):
        generate_text_simple(model, torch.tensor([[1, 2]]), max_new_tokens=2, context_size=16)
    assert model.training  # left as it was, as in the book


def test_no_warning_in_eval_mode_or_without_dropout():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate(tiny_model().eval(), torch.tensor([[1, 2]]), max_new_tokens=2, context_size=16)
        generate(tiny_model(drop_rate=0.0).train(), torch.tensor([[1, 2]]), max_new_tokens=2, context_size=16)


# ------------------------------------------------------------------ decided: a config that lies about n_head
def test_an_exported_folder_whose_config_changes_the_heads_is_refused(tmp_path):
    folder = tmp_path / "gpt2"
    export_gpt2_weights(tied_model(), folder)
    config = json.loads((folder / "config.json").read_text())
    config["n_head"] = 4  # 32 / 4 heads: the same shapes, a different model
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config\.json gives n_head=4 but .* was exported with n_head=2"):
        load_gpt2_weights(folder)


def test_an_exported_file_alone_records_its_heads(tmp_path):
    model = tied_model(n_heads=4)
    file = export_gpt2_weights(model, tmp_path / "alone.safetensors")  # no config.json: width 32 is not GPT-2's
    loaded = load_gpt2_weights(file)
    assert loaded.cfg["n_heads"] == 4
    ids = torch.tensor([[1, 2, 3]])
    torch.testing.assert_close(loaded(ids), model(ids))
