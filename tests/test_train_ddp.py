"""Two processes under torchrun (gloo, DistributedDataParallel) log the losses of one process.

``--batch-size`` is the global batch: each process takes half of the same windows, DDP averages the
two halves' gradients, and the logged loss is the mean over the processes. With dropout 0 nothing
else differs, so the losses agree up to the order in which floats are summed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gptblock import load_checkpoint
from gptblock.train import main

# Every run here reads the tokenizer; without its files (../shared) the tests skip.
pytestmark = pytest.mark.usefixtures("tokenizer_env")

TEXT = ("Each process takes its share of the same global batch; DDP averages the gradients. "
        "Cada proceso toma su parte del mismo lote global; DDP promedia los gradientes. ") * 6
RUN = ["--emb-dim", "16", "--n-layers", "2", "--n-heads", "2", "--context-length", "16", "--batch-size", "4",
       "--dropout", "0", "--lr", "3e-3", "--warmup", "1", "--steps", "4", "--eval-every", "2", "--threads", "1",
       "--no-progress"]


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_two_processes_log_the_losses_of_one(tmp_path, monkeypatch):
    """Over 3 s: torchrun starts two fresh interpreters that each import torch and set up gloo."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    args = ["--corpus", str(corpus), *RUN]

    assert main([*args, "--log", str(tmp_path / "one.jsonl")]) == 0
    # torchrun's own parser would take --log for an abbreviation of its --log-dir: the alias --log-file.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "gptblock.train",
         *args, "--log-file", str(tmp_path / "two.jsonl"), "--out", str(tmp_path / "two.safetensors")],
        capture_output=True, text=True, env=env, timeout=600, check=False, cwd=tmp_path,
    )
    assert two.returncode == 0, two.stderr[-3000:]

    one, both = read_log(tmp_path / "one.jsonl"), read_log(tmp_path / "two.jsonl")
    assert [r["step"] for r in both] == [1, 2, 3, 4]  # rank 0 alone writes: each step once
    assert both[0]["run"]["world_size"] == 2 and one[0]["run"]["world_size"] == 1
    for a, b in zip(one, both, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4, abs=0)
        for key in ("train_loss", "val_loss"):
            assert (key in a) == (key in b)
            if key in a:
                assert b[key] == pytest.approx(a[key], rel=1e-4, abs=0)
    assert one[-1]["loss"] < one[0]["loss"]  # the steps did change the weights: the equality is not trivial
    assert load_checkpoint(tmp_path / "two.safetensors").cfg["n_layers"] == 2
    assert two.stdout.count("step 4: loss") == 1  # and rank 0 alone reports


def test_torchrun_passes_every_option_through_but_log():
    """torchrun parses its command line before the script's: an option of ours that abbreviates one of its
    own (argparse accepts prefixes) would be taken, or refused as ambiguous. Only --log does, hence --log-file."""
    from torch.distributed.run import get_args_parser

    from gptblock.train import build_parser

    ours = [s for action in build_parser()._actions for s in action.option_strings if s.startswith("--")]
    assert "--log-file" in ours and "--corpus" in ours
    clashing = []
    for option in ours:
        try:
            parsed = get_args_parser().parse_args(["--standalone", "-m", "gptblock.train", option, "1"])
        except SystemExit:
            clashing.append(option)
            continue
        if parsed.training_script_args != [option, "1"]:
            clashing.append(option)
    assert clashing == ["--log"]
