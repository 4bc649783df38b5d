"""The command line on a tiny random checkpoint written here: in-process through ``main(argv)``, plus one
smoke test of the installed command in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from gptblock import generate, load_gpt2_tokenizer, load_gpt2_weights
from gptblock.cli import main

PROMPT = "Every effort moves you"
pytestmark = pytest.mark.usefixtures("tokenizer_dir")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """save_pretrained of a tiny random GPT2LMHeadModel with GPT-2's full vocabulary (so the tokenizer fits)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(n_embd=16, n_layer=2, n_head=2, n_positions=64, vocab_size=50257)
    folder = tmp_path_factory.mktemp("cli-gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``gptblock ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(argv))
    except SystemExit as exit_:  # argparse: --help, or bad arguments
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status: int, out: str, err: str, *fragments: str) -> None:
    assert status == 1 and out == ""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gptblock: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_greedy_generation_prints_the_prompt_and_its_continuation(checkpoint, tokenizer_dir, capsys):
    status, out, err = run(capsys, "generate", "--weights", str(checkpoint), "--prompt", PROMPT,
                           "--max-new-tokens", "8", "--tokenizer-dir", str(tokenizer_dir))
    assert status == 0, err
    # The same tokens as the library computes without optimize_for_cpu (greedy is the default: temperature 0).
    tokenizer = load_gpt2_tokenizer(tokenizer_dir)
    ids = generate(load_gpt2_weights(checkpoint), torch.tensor([tokenizer.encode(PROMPT)]), max_new_tokens=8,
                   context_size=64, eos_id=50256)
    assert out == tokenizer.decode(ids[0].tolist()) + "\n"
    assert out.startswith(PROMPT) and len(out) > len(PROMPT) + 1
    assert "loading weights" in err and "generating" in err  # tqdm's progress bars, on stderr


def test_sampling_is_repeatable_with_a_seed(checkpoint, capsys):
    args = ("generate", "--weights", str(checkpoint / "model.safetensors"), "--prompt", "Hello, I am",
            "--max-new-tokens", "6", "--temperature", "1.5", "--top-k", "50", "--seed", "123", "--no-progress")
    first, second = run(capsys, *args), run(capsys, *args)
    assert first == second
    assert first[0] == 0 and first[1].startswith("Hello, I am") and first[2] == ""  # --no-progress


def test_help_in_the_usual_style(capsys):
    status, out, _ = run(capsys, "generate", "--help")
    assert status == 0
    assert out.startswith("usage: gptblock generate")
    for option in ("--weights PATH", "--prompt TEXT", "--max-new-tokens N", "--temperature T", "--top-k K",
                   "--seed S"):
        assert option in out


def test_missing_file(tmp_path, capsys):
    result = run(capsys, "generate", "--weights", str(tmp_path / "gpt2" / "model.safetensors"), "--prompt", "Hi")
    assert_one_line_error(*result, "no such file or directory", "model.safetensors")


def test_wrong_files(tmp_path, checkpoint, capsys):
    text = tmp_path / "model.safetensors"
    text.write_text("I am a text file, not weights.\n")
    assert_one_line_error(*run(capsys, "generate", "--weights", str(text), "--prompt", "Hi"),
                          "is not a readable safetensors file")

    tensors = load_file(str(checkpoint / "model.safetensors"))
    del tensors["transformer.h.1.mlp.c_fc.bias"]
    bad = tmp_path / "bad"
    bad.mkdir()
    save_file(tensors, str(bad / "model.safetensors"), metadata={"format": "pt"})
    (bad / "config.json").write_text((checkpoint / "config.json").read_text())
    assert_one_line_error(*run(capsys, "generate", "--weights", str(bad), "--prompt", "Hi"),
                          "missing tensor 'h.1.mlp.c_fc.bias'")


def test_bad_arguments_exit_with_usage(capsys):
    status, _, err = run(capsys, "generate", "--weights", "x", "--prompt", "Hi", "--max-new-tokens", "-3")
    assert status == 2
    assert "--max-new-tokens: must be an integer >= 0" in err


def test_the_progress_bar_advances_once_per_generated_token(checkpoint, monkeypatch, capsys):
    """The bar's hook fires once per step, with the KV cache (the default) as without it."""
    import gptblock.cli as cli

    updates = []

    class RecordingBar:
        def __init__(self, *args, total=None, **kwargs):
            self.total = total

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def update(self, n):
            updates.append(n)

    monkeypatch.setattr(cli, "tqdm", RecordingBar)
    assert run(capsys, "generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens", "7")[0] == 0
    assert sum(updates) == 7


def test_the_installed_command_runs(checkpoint, tokenizer_dir, capsys):
    """The one subprocess: the ``gptblock`` script (or ``python -m gptblock``) prints what main() prints.

    Over 3 s: a fresh interpreter imports torch before it generates anything.
    """
    script = Path(sys.executable).parent / ("gptblock.exe" if os.name == "nt" else "gptblock")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "gptblock"]
    args = ["generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens", "5", "--no-progress"]
    env = {**os.environ, "GPTBLOCK_TOKENIZER_DIR": str(tokenizer_dir)}
    result = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert (0, result.stdout, result.stderr) == run(capsys, *args)
