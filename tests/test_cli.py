"""The command line, run as a user runs it: a subprocess on a tiny random checkpoint written here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from gptblock import generate, load_gpt2_tokenizer, load_gpt2_weights

TOKENIZER_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "gpt2-tokenizer"
pytestmark = pytest.mark.skipif(
    not (TOKENIZER_DIR / "vocab.bpe").is_file(),
    reason=f"the GPT-2 tokenizer files are not in {TOKENIZER_DIR} (they sit beside the repository in CI)",
)
PROMPT = "Every effort moves you"


def run_cli(*args: str, command: tuple[str, ...] = (sys.executable, "-m", "gptblock")) -> subprocess.CompletedProcess:
    env = {**os.environ, "GPTBLOCK_TOKENIZER_DIR": str(TOKENIZER_DIR)}
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gptblock: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """save_pretrained of a tiny random GPT2LMHeadModel with GPT-2's full vocabulary (so the tokenizer fits)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(n_embd=16, n_layer=2, n_head=2, n_positions=64, vocab_size=50257)
    folder = tmp_path_factory.mktemp("cli-gpt2")
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def test_greedy_generation_prints_the_prompt_and_its_continuation(checkpoint):
    result = run_cli("generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens", "8")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(PROMPT)
    # The same tokens as the library computes in this process (greedy is the default: temperature 0).
    tokenizer = load_gpt2_tokenizer(TOKENIZER_DIR)
    model = load_gpt2_weights(checkpoint)
    ids = generate(model, torch.tensor([tokenizer.encode(PROMPT)]), max_new_tokens=8, context_size=64,
                   eos_id=50256)
    assert result.stdout == tokenizer.decode(ids[0].tolist()) + "\n"
    assert len(result.stdout) > len(PROMPT) + 1
    # tqdm's progress bars, on stderr
    assert "loading weights" in result.stderr
    assert "generating" in result.stderr


def test_sampling_is_repeatable_with_a_seed_and_the_script_works(checkpoint):
    script = Path(sys.executable).parent / ("gptblock.exe" if os.name == "nt" else "gptblock")
    if not script.is_file():
        pytest.skip(f"the gptblock script is not installed beside {sys.executable} (pip install -e .)")
    args = ("generate", "--weights", str(checkpoint / "model.safetensors"), "--prompt", "Hello, I am",
            "--max-new-tokens", "6", "--temperature", "1.5", "--top-k", "50", "--seed", "123", "--no-progress")
    first = run_cli(*args, command=(str(script),))
    second = run_cli(*args)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout
    assert first.stdout.startswith("Hello, I am")
    assert first.stderr == ""  # --no-progress


def test_help_in_the_usual_style():
    result = run_cli("generate", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: gptblock generate")
    for option in ("--weights PATH", "--prompt TEXT", "--max-new-tokens N", "--temperature T", "--top-k K",
                   "--seed S"):
        assert option in result.stdout


def test_missing_file(tmp_path):
    result = run_cli("generate", "--weights", str(tmp_path / "gpt2" / "model.safetensors"), "--prompt", "Hi")
    assert_one_line_error(result, "no such file or directory", "model.safetensors")


def test_wrong_files(tmp_path, checkpoint):
    text = tmp_path / "model.safetensors"
    text.write_text("I am a text file, not weights.\n")
    assert_one_line_error(run_cli("generate", "--weights", str(text), "--prompt", "Hi"),
                          "is not a readable safetensors file")

    tensors = load_file(str(checkpoint / "model.safetensors"))
    del tensors["transformer.h.1.mlp.c_fc.bias"]
    bad = tmp_path / "bad"
    bad.mkdir()
    save_file(tensors, str(bad / "model.safetensors"), metadata={"format": "pt"})
    (bad / "config.json").write_text((checkpoint / "config.json").read_text())
    assert_one_line_error(run_cli("generate", "--weights", str(bad), "--prompt", "Hi"),
                          "missing tensor 'h.1.mlp.c_fc.bias'")


def test_bad_arguments_exit_with_usage():
    result = run_cli("generate", "--weights", "x", "--prompt", "Hi", "--max-new-tokens", "-3")
    assert result.returncode == 2
    assert "--max-new-tokens: must be an integer >= 0" in result.stderr


def test_the_progress_bar_advances_once_per_generated_token(checkpoint, monkeypatch, capsys):
    """In-process: the bar's hook fires once per step, with the KV cache (the default) as without it."""
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
    monkeypatch.setenv("GPTBLOCK_TOKENIZER_DIR", str(TOKENIZER_DIR))
    assert cli.main(["generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens", "7"]) == 0
    assert sum(updates) == 7
    assert capsys.readouterr().out.startswith(PROMPT)
