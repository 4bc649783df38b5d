"""``gptblock train``: the schedule, the model it starts from, the loop, its files, resume and bad arguments.

Everything runs in-process through ``main(argv)`` (``python -m gptblock.train`` through runpy) on a tiny
model (width 16, one block) and a short text. The subprocesses are in ``test_train_ddp.py``: torchrun runs
``python -m gptblock.train`` in two real processes. The committed model is in ``test_trained_model.py``.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import gptblock.train as train_module
from gptblock import load_checkpoint
from gptblock.cli import main as cli_main
from gptblock.train import TrainOptions, build_model, build_optimizer, learning_rate, main, read_state

# Every run here reads the tokenizer; without its files (../shared) the tests skip.
pytestmark = pytest.mark.usefixtures("tokenizer_env")

TEXT = (
    "Un modelo GPT es una cadena de montaje: los tokens entran por un extremo convertidos en fichas, "
    "pasan por bloques transformadores idénticos y salen como una apuesta por la palabra siguiente. "
) * 4
TINY = ["--emb-dim", "16", "--n-layers", "1", "--n-heads", "2", "--context-length", "16", "--batch-size", "4",
        "--lr", "3e-3", "--warmup", "2", "--eval-every", "3", "--no-progress"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    (folder / "es").mkdir(parents=True)
    (folder / "es" / "a.txt").write_text(TEXT, encoding="utf-8")
    (folder / "b.txt").write_text(TEXT.upper(), encoding="utf-8")
    return folder


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def one_line_error(err: str, *fragments: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gptblock train: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------ the pieces
def test_the_learning_rate_warms_up_then_decays_on_a_cosine():
    options = TrainOptions(lr=1e-3, min_lr=1e-4, warmup=10, steps=110)
    rates = [learning_rate(step, options) for step in range(1, 111)]
    assert rates[:10] == pytest.approx([1e-4 * s for s in range(1, 11)])  # linear, up to the peak at step 10
    assert rates[60 - 1] == pytest.approx((1e-3 + 1e-4) / 2)  # half-way down the cosine
    assert rates[-1] == pytest.approx(1e-4)
    assert all(a > b for a, b in itertools.pairwise(rates[9:]))
    assert learning_rate(5, TrainOptions(lr=2e-3, min_lr=2e-3, warmup=0, steps=20)) == pytest.approx(2e-3)
    assert TrainOptions(lr=1e-3).final_lr() == pytest.approx(1e-4)  # the default floor: a tenth of the peak


def test_the_model_starts_tied_and_near_the_loss_of_a_uniform_guess():
    model = build_model(TrainOptions(emb_dim=32, n_layers=1, n_heads=2, context_length=16).model_config(), seed=0)
    assert model.out_head.weight is model.tok_emb.weight
    ids = torch.randint(0, 50257, (4, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        loss = F.cross_entropy(model.eval()(ids).flatten(0, 1), ids.roll(-1, 1).flatten())
    assert abs(float(loss) - math.log(50257)) < 0.1  # PyTorch's N(0, 1) embedding would start far above


def test_weight_decay_applies_to_matrices_only():
    model = build_model(TrainOptions(emb_dim=16, n_layers=1, n_heads=2, context_length=8).model_config(), seed=0)
    decayed, kept = build_optimizer(model, TrainOptions(weight_decay=0.1)).param_groups
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decayed["params"])
    assert any(p is model.trf_blocks[0].norm1.scale for p in kept["params"])
    assert len(decayed["params"]) + len(kept["params"]) == len(list(model.parameters()))


# ------------------------------------------------------------------------------------ a run
def test_a_run_writes_its_log_and_a_model_that_load_checkpoint_reads(corpus, tmp_path, capsys):
    log, out = tmp_path / "run" / "log.jsonl", tmp_path / "run" / "model.safetensors"
    assert main(["--corpus", str(corpus), *TINY, "--steps", "7", "--log", str(log), "--out", str(out)]) == 0

    records = read_log(log)
    assert [r["step"] for r in records] == list(range(1, 8))
    assert all(isinstance(r["loss"], float) and r["loss"] > 0 for r in records)
    assert [r["tokens"] for r in records] == [64 * s for s in range(1, 8)]
    assert [r["step"] for r in records if "val_loss" in r] == [1, 3, 6, 7]  # first, every 3rd, last
    assert records[-1]["train_loss"] < records[0]["train_loss"]  # it learns
    run = records[0]["run"]
    assert run["options"]["emb_dim"] == 16 and run["world_size"] == 1 and run["resumed_from"] is None
    assert run["documents"] == 2 and run["train_tokens"] > run["val_tokens"] > 0
    assert all("run" not in r for r in records[1:])

    model = load_checkpoint(out)
    assert model.cfg["emb_dim"] == 16 and model.cfg["vocab_size"] == 50257
    assert model.out_head.weight is model.tok_emb.weight
    assert model.tok_emb.weight.dtype == torch.float32
    summary = capsys.readouterr().out.splitlines()
    assert summary[-1].startswith(f"step 7: loss {records[-1]['loss']:.4f}")
    assert f"wrote {out}" in summary[-1]


def test_half_precision_storage_and_the_way_back_to_float32(corpus, tmp_path):
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    common = ["--corpus", str(corpus), *TINY, "--steps", "2"]
    assert main([*common, "--out", str(full)]) == 0
    assert main([*common, "--out", str(half), "--out-dtype", "float16"]) == 0
    assert half.stat().st_size < 0.6 * full.stat().st_size
    stored = load_checkpoint(half)
    assert stored.tok_emb.weight.dtype == torch.float16
    restored = stored.float()
    assert restored.out_head.weight is restored.tok_emb.weight  # .float() keeps the tie
    for a, b in zip(restored.state_dict().values(), load_checkpoint(full).state_dict().values(), strict=True):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)  # float16 keeps about 3 decimal digits


def test_resuming_gives_the_same_losses_as_running_straight_through(corpus, tmp_path):
    """Every random draw of a step comes from (seed, step): stopping and resuming changes nothing."""
    common = ["--corpus", str(corpus), *TINY, "--steps", "6", "--dropout", "0.2"]
    straight = tmp_path / "straight.jsonl"
    assert main([*common, "--log", str(straight), "--out", str(tmp_path / "straight.safetensors")]) == 0

    log, state = tmp_path / "log.jsonl", tmp_path / "state.safetensors"
    halfway = [*common, "--log", str(log), "--state", str(state), "--save-every", "3"]
    stop_at_step_5 = InterruptAt(5)
    with stop_at_step_5:
        assert main(halfway) == 130  # Ctrl-C during step 5: steps 1-4 logged, the state holds step 3
    assert [r["step"] for r in read_log(log)] == [1, 2, 3, 4]
    assert read_state(state, tensors=False)[0]["step"] == "3"

    assert main(["--resume", str(state), "--log", str(log), "--out", str(tmp_path / "resumed.safetensors"),
                 "--no-progress"]) == 0
    resumed = read_log(log)
    assert [r["step"] for r in resumed] == [1, 2, 3, 4, 5, 6]  # step 4 was redone, not repeated
    assert resumed[3]["run"]["resumed_from"] == 3
    assert [r["loss"] for r in resumed] == [r["loss"] for r in read_log(straight)]  # bit for bit
    a = load_checkpoint(tmp_path / "straight.safetensors").state_dict()
    b = load_checkpoint(tmp_path / "resumed.safetensors").state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_a_resumed_run_can_be_made_longer_but_not_different(corpus, tmp_path, capsys):
    state = tmp_path / "state.safetensors"
    assert main(["--corpus", str(corpus), *TINY, "--steps", "2", "--state", str(state)]) == 0
    assert main(["--resume", str(state), "--steps", "3", "--no-progress"]) == 0
    assert read_state(state, tensors=False)[0]["step"] == "3"
    capsys.readouterr()
    assert main(["--resume", str(state), "--no-progress"]) == 1
    one_line_error(capsys.readouterr().err, "is at step 3: --steps 3 leaves nothing to do")
    with pytest.raises(SystemExit) as exit_info:
        main(["--resume", str(state), "--emb-dim", "32"])
    assert exit_info.value.code == 2
    one_line_error(capsys.readouterr().err, "--emb-dim 32 differs from 16, the value of the run being resumed")


def test_a_changed_corpus_is_refused_on_resume(corpus, tmp_path, capsys):
    state = tmp_path / "state.safetensors"
    assert main(["--corpus", str(corpus), *TINY, "--steps", "1", "--state", str(state)]) == 0
    (corpus / "b.txt").write_text("Otro texto. " * 40, encoding="utf-8")
    assert main(["--resume", str(state), "--steps", "2", "--no-progress"]) == 1
    one_line_error(capsys.readouterr().err, "the corpus has changed since this state was saved")


def test_ctrl_c_exits_130_with_one_line(corpus, capsys):
    with InterruptAt(2):
        assert main(["--corpus", str(corpus), *TINY, "--steps", "5"]) == 130
    assert capsys.readouterr().err.strip() == "gptblock train: interrupted at step 2"


def test_gptblock_train_is_the_same_command(corpus, tmp_path):
    via_cli, direct = tmp_path / "cli.jsonl", tmp_path / "direct.jsonl"
    assert cli_main(["train", "--corpus", str(corpus), *TINY, "--steps", "2", "--log", str(via_cli)]) == 0
    assert main(["--corpus", str(corpus), *TINY, "--steps", "2", "--log", str(direct)]) == 0
    assert [r["loss"] for r in read_log(via_cli)] == [r["loss"] for r in read_log(direct)]


def test_the_progress_bar_counts_the_steps_and_hides_on_request(corpus, monkeypatch):
    bars = []

    class RecordingBar:
        def __init__(self, *args, disable=None, **kwargs):
            self.disable, self.steps = disable, 0
            bars.append(self)

        def update(self, n):
            self.steps += n

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

        write = staticmethod(print)

    monkeypatch.setattr(train_module, "tqdm", RecordingBar)
    args = ["--corpus", str(corpus), *[a for a in TINY if a != "--no-progress"], "--steps", "3"]
    assert main(args) == 0
    assert main([*args, "--no-progress"]) == 0
    assert [(bar.disable, bar.steps) for bar in bars] == [(None, 3), (True, 3)]  # None: tqdm hides it off a TTY


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(("args", "message"), [
    (["--steps", "0"], "argument --steps: must be a positive integer, got 0"),
    (["--lr", "nan"], "argument --lr: must be a number > 0, got nan"),
    (["--dropout", "1"], "argument --dropout: must be a number in [0, 1), got 1"),
    (["--emb-dim", "30", "--n-heads", "4"], "--emb-dim 30 is not divisible by --n-heads 4"),
    (["--lr", "1e-4", "--min-lr", "1e-3"], "--min-lr 0.001 is above --lr 0.0001"),
    (["--out-dtype", "int8"], "argument --out-dtype: invalid choice: 'int8'"),
])
def test_bad_arguments_are_one_line_and_exit_2(corpus, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["--corpus", str(corpus), *args])
    assert exit_info.value.code == 2
    one_line_error(capsys.readouterr().err, message)


def test_a_corpus_is_required_and_the_batch_must_split_over_the_processes(corpus, capsys, monkeypatch):
    with pytest.raises(SystemExit):
        main(["--steps", "3"])
    one_line_error(capsys.readouterr().err, "the following arguments are required: --corpus")
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun --nproc_per_node=2 sets it
    with pytest.raises(SystemExit):
        main(["--corpus", str(corpus), "--batch-size", "5"])
    one_line_error(capsys.readouterr().err, "--batch-size 5 does not split evenly over 2 processes")


def test_unusable_files_exit_1_with_one_line(corpus, tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nowhere"), *TINY]) == 1
    one_line_error(capsys.readouterr().err, "no such corpus file or folder:", "nowhere")

    short = tmp_path / "short.txt"
    short.write_text("Too short.", encoding="utf-8")
    assert main(["--corpus", str(short), *TINY]) == 1
    one_line_error(capsys.readouterr().err, "training tokens: too few for one window of --context-length 16")

    not_state = tmp_path / "model.safetensors"
    assert main(["--corpus", str(corpus), *TINY, "--steps", "1", "--out", str(not_state)]) == 0
    capsys.readouterr()
    assert main(["--resume", str(not_state)]) == 1
    one_line_error(capsys.readouterr().err, "is not a gptblock training state")
    assert main(["--resume", str(short)]) == 1
    one_line_error(capsys.readouterr().err, "short.txt is not a readable safetensors file")
    assert main(["--resume", str(tmp_path / "gone.safetensors")]) == 1
    one_line_error(capsys.readouterr().err, "no such state file")


def test_python_m_gptblock_train_exits_with_main_s_status(corpus, tmp_path, monkeypatch, capsys):
    """``python -m gptblock.train``, run in this process through runpy: the module's ``__main__`` guard passes
    main's status to the interpreter (torchrun's test runs the module the same way, in real processes)."""
    import runpy

    command = ["--corpus", str(corpus), *TINY]
    for argv, status in [([*command, "--steps", "2", "--out", str(tmp_path / "m.safetensors")], 0),
                         ([*command, "--batch-size", "-1"], 2)]:
        monkeypatch.setattr(sys, "argv", ["gptblock.train", *argv])
        with warnings.catch_warnings(), pytest.raises(SystemExit) as exit_:
            # runpy warns that the module is imported already (this test file imports it): expected here.
            warnings.filterwarnings("ignore", "'gptblock.train' found in sys.modules", RuntimeWarning)
            runpy.run_module("gptblock.train", run_name="__main__")
        assert exit_.value.code == status
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("step 2: loss ")
    assert load_checkpoint(tmp_path / "m.safetensors").cfg["n_layers"] == 1
    assert "Traceback" not in err
    one_line_error(err, "argument --batch-size: must be a positive integer, got -1")


class InterruptAt:
    """Raise KeyboardInterrupt when step ``step`` draws its batch, as a Ctrl-C would."""

    def __init__(self, step: int) -> None:
        self.step, self.calls = step, 0
        self.patch = pytest.MonkeyPatch()

    def __enter__(self):
        original = train_module.random_windows

        def draw(*args, **kwargs):
            self.calls += 1
            if self.calls == self.step:
                raise KeyboardInterrupt
            return original(*args, **kwargs)

        self.patch.setattr(train_module, "random_windows", draw)
        return self

    def __exit__(self, *exc):
        self.patch.undo()
