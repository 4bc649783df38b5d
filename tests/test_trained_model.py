"""The committed trained model (training/model.safetensors) and its log (training/train-log.jsonl)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from gptblock import generate, load_checkpoint, load_gpt2_tokenizer
from gptblock.dataset import find_text_files, read_documents, tiled_windows, tokenize_split
from gptblock.train import Distributed, TrainOptions, evaluate, machine, train

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "training"
MODEL, LOG = TRAINING / "model.safetensors", TRAINING / "train-log.jsonl"

RECORDS = [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines()]
RUN = RECORDS[0]["run"]


def run_options(**changes) -> TrainOptions:
    """The options of the committed run, as its log records them (paths relative to the repository)."""
    return TrainOptions(**{**RUN["options"], "steps": RUN["steps"], "progress": False, **changes})


def test_the_log_is_one_record_per_step_with_its_losses():
    assert [r["step"] for r in RECORDS] == list(range(1, RUN["steps"] + 1))
    assert all(math.isfinite(r["loss"]) for r in RECORDS)
    evaluated = [r for r in RECORDS if "val_loss" in r]
    assert evaluated[0]["step"] == 1 and evaluated[-1]["step"] == RUN["steps"]
    assert evaluated[-1]["train_loss"] < evaluated[0]["train_loss"] - 4  # from ln(50257) ≈ 10.8 to well below


def test_the_committed_model_fits_loads_as_float32_and_is_the_logged_one():
    assert MODEL.stat().st_size <= 16 * 2**20
    stored = load_checkpoint(MODEL)
    assert stored.tok_emb.weight.dtype == torch.float16  # stored in half precision to fit
    model = stored.float()  # the documented way back to float32
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.out_head.weight is model.tok_emb.weight
    assert model.cfg == run_options().model_config()
    assert RUN["parameters"] == sum(p.numel() for p in model.parameters())


def test_the_committed_model_has_the_logged_validation_loss(monkeypatch, tokenizer_dir):
    """Re-measured on the committed corpus: the final val_loss of the log, up to float16 storage (3e-5 here)."""
    monkeypatch.chdir(ROOT)
    options = run_options()
    split = tokenize_split(read_documents(find_text_files(options.corpus)), load_gpt2_tokenizer(tokenizer_dir),
                           options.val_fraction)
    assert split.fingerprint() == RUN["corpus_fingerprint"]  # the snapshot is the one the model was trained on
    model = load_checkpoint(MODEL).float()
    val = evaluate(model, tiled_windows(split.val, options.context_length), 16, Distributed(0, 1, torch.device("cpu")))
    assert val == pytest.approx(RECORDS[-1]["val_loss"], abs=1e-3)
    assert val < math.log(50257) - 3


@pytest.mark.parametrize("prompt", ["La atención", "The attention"])
def test_the_committed_model_writes_the_corpus_words(prompt, tokenizer_dir):
    """Greedy continuations use only tokens the corpus holds: an untrained model picks among all 50,257."""
    tokenizer = load_gpt2_tokenizer(tokenizer_dir)
    model = load_checkpoint(MODEL).float()
    corpus_ids = set(tokenize_split(read_documents(find_text_files([TRAINING / "corpus"])), tokenizer, 0.0)
                     .train.tolist())
    ids = torch.tensor([tokenizer.encode(prompt)])
    out = generate(model, ids, max_new_tokens=20, context_size=model.cfg["context_length"])
    new = out[0, ids.shape[1]:].tolist()
    assert len(new) == 20
    assert set(new) <= corpus_ids
    assert tokenizer.decode(new).strip()


def test_re_running_the_first_steps_reproduces_the_logged_losses(monkeypatch, tokenizer_env):
    """Determinism: the first two steps of the committed run, run again, log the same losses.

    Training is deterministic on a given machine: every random draw comes from the seed and the step,
    the data order is fixed, and the thread count is the logged one. Exactly equal is therefore the check
    on a machine like the one that wrote the log (same CPU model, vector unit and torch version). Elsewhere
    (CI also runs on AVX-512 machines; the log was written on an AVX2 one) the matrix products may round
    their last bits differently, so there the losses must agree to 1e-4 relative, which two steps of
    rounding noise stay far below while any change to the data, the model or the update would not.
    Two steps of the real model (1,024 tokens each, GPT-2's 50,257-word head) take about 2-3 s on two
    quiet cores: the price of checking the committed run itself rather than a stand-in.
    """
    monkeypatch.chdir(ROOT)
    threads = torch.get_num_threads()
    try:
        records = train(run_options(threads=RUN["threads"]), stop_after=2)
    finally:
        torch.set_num_threads(threads)
    here = machine()
    same_machine = all(here[key] == RUN[key] for key in ("cpu", "capability", "torch"))
    logged = [r["loss"] for r in RECORDS[:2]]
    rerun = [r["loss"] for r in records]
    if same_machine:
        assert rerun == logged
    else:
        assert rerun == pytest.approx(logged, rel=1e-4, abs=0)
