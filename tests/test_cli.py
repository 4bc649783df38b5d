"""The command line on a tiny random checkpoint written here: in-process through ``main(argv)`` (``python -m
gptblock`` through runpy), plus one smoke test of the installed command in a subprocess, as a user runs it."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import gptblock
from gptblock import GPTModel, generate, load_gpt2_tokenizer, load_gpt2_weights
from gptblock.cli import main
from gptblock.tokenizer import ENDOFTEXT_ID

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


def test_python_m_gptblock_prints_what_main_prints(checkpoint, monkeypatch, capsys):
    """``python -m gptblock ARGS`` (the package's ``__main__``), run in this process."""
    import runpy

    args = ["generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens", "5", "--no-progress"]
    expected = run(capsys, *args)
    monkeypatch.setattr(sys, "argv", ["gptblock", *args])
    monkeypatch.delitem(sys.modules, "gptblock.__main__", raising=False)
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("gptblock", run_name="__main__")
    captured = capsys.readouterr()
    assert (exit_.value.code, captured.out, captured.err) == expected
    assert expected[0] == 0 and expected[1].startswith(PROMPT)


def test_the_installed_script_is_the_launcher():
    """What ``pip install`` writes as the ``gptblock`` script calls ``gptblock_launcher.main``."""
    from importlib.metadata import entry_points

    import gptblock_launcher

    (script,) = entry_points(group="console_scripts", name="gptblock")
    assert script.load() is gptblock_launcher.main


def test_the_installed_command_in_a_real_closed_pipe(checkpoint, tokenizer_dir):
    """The one subprocess: ``gptblock generate ... | true``, the reader gone before the first write.

    The installed script as a user runs it, from a fresh interpreter to its exit: only a real pipe whose
    reader has exited shows what a user then sees (status 141 and nothing on stderr, not even Python's
    "Exception ignored" at shutdown); the in-process tests cover the output and the handling itself.
    """
    script = Path(sys.executable).parent / ("gptblock.exe" if os.name == "nt" else "gptblock")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "gptblock"]
    env = {**os.environ, "GPTBLOCK_TOKENIZER_DIR": str(tokenizer_dir)}
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait(timeout=60)
    writer = subprocess.run([*command, "generate", "--weights", str(checkpoint), "--prompt", PROMPT,
                             "--max-new-tokens", "3", "--no-progress"], stdout=reader.stdin,
                            stderr=subprocess.PIPE, text=True, env=env, timeout=300, check=False)
    reader.stdin.close()
    assert (writer.returncode, writer.stderr) == (141, "")


# ------------------------------------------------------------------ issue 11: reliability (items 2, 5, 14-18)
CONTINUATION = " ñandú 👍 día"  # ñ, ú, í and 👍 are each split over two byte-level tokens


def scripted_model(tokenizer, prompt: str, continuation: str) -> GPTModel:
    """A GPT-2-vocabulary model whose greedy continuation of ``prompt`` is ``continuation``, then <|endoftext|>.

    Attention and the feed-forward add nothing and positions are zero, so the logits depend on the last
    token only: token ``t_k`` of the chain embeds as ``u_k = e_2k - e_2k+1`` and the output row of
    ``t_k+1`` is ``10 u_k``.
    """
    chain = [tokenizer.encode(prompt)[-1], *tokenizer.encode(continuation), ENDOFTEXT_ID]
    assert len(set(chain)) == len(chain) <= 17, "the chain needs distinct tokens"
    torch.manual_seed(0)
    model = GPTModel({"vocab_size": 50257, "context_length": 64, "emb_dim": 32, "n_heads": 2, "n_layers": 1,
                      "drop_rate": 0.0, "qkv_bias": True}).eval()
    block = model.trf_blocks[0]
    with torch.no_grad():
        for tensor in (model.tok_emb.weight, model.pos_emb.weight, model.out_head.weight, block.att.out_proj.weight,
                       block.att.out_proj.bias, block.ff.layers[2].weight, block.ff.layers[2].bias):
            tensor.zero_()
        for k, (token, following) in enumerate(itertools.pairwise(chain)):
            model.tok_emb.weight[token, 2 * k], model.tok_emb.weight[token, 2 * k + 1] = 1.0, -1.0
            model.out_head.weight[following] += 10 * model.tok_emb.weight[token]
    return model


class RecordingStdout(io.StringIO):
    """stdout that records each write, and how many tokens the model had produced by then."""

    def __init__(self, steps: list[int]) -> None:
        super().__init__()
        self.steps, self.writes, self.flushes = steps, [], 0

    def write(self, text: str) -> int:
        self.writes.append((text, len(self.steps), self.flushes))
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def test_tokens_are_streamed_as_whole_characters(tokenizer_dir, monkeypatch, capsys):
    import gptblock.cli as cli

    tokenizer = load_gpt2_tokenizer(tokenizer_dir)
    pieces = [tokenizer.decode_single_token_bytes(t) for t in tokenizer.encode(CONTINUATION)]
    split = [piece for piece in pieces if _is_not_utf8(piece)]
    assert len(split) >= 4  # the test's point: characters cut between tokens
    model = scripted_model(tokenizer, "Hola", CONTINUATION)
    steps: list[int] = []
    model.final_norm.register_forward_hook(lambda *_: steps.append(1))
    monkeypatch.setattr(cli, "load_gpt2_weights", lambda path, progress: model)
    stdout = RecordingStdout(steps)
    monkeypatch.setattr(sys, "stdout", stdout)
    status = main(["generate", "--weights", "scripted", "--prompt", "Hola", "--max-new-tokens", "30"])
    assert status == 0, capsys.readouterr().err
    assert stdout.getvalue() == "Hola" + CONTINUATION + "\n"
    texts = [text for text, _, _ in stdout.writes]
    assert texts[0] == "Hola" and texts[-1] == "\n"
    assert "".join(texts[1:-1]) == CONTINUATION and "\ufffd" not in "".join(texts)  # never half a character
    assert "ñ" in texts and "👍" in texts  # the two halves of a character wait for each other, then go together
    written_after = [count for _, count, _ in stdout.writes[1:-1]]
    assert written_after == sorted(written_after) and written_after[0] < written_after[-1]  # as they come
    flushes = [flushes for _, _, flushes in stdout.writes] + [stdout.flushes]
    assert all(a < b for a, b in itertools.pairwise(flushes))  # a flush after every write


def _is_not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_an_ascii_stdout_gets_escapes_not_a_traceback(checkpoint, monkeypatch, capsys):
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
    monkeypatch.setattr(sys, "stdout", stdout)
    status = main(["generate", "--weights", str(checkpoint), "--prompt", "¿Qué? 🙂", "--max-new-tokens", "3",
                   "--no-progress"])
    assert status == 0, capsys.readouterr().err
    assert raw.getvalue().startswith(b"\\xbfQu\\xe9? \\U0001f642")


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_exits_quietly(checkpoint, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    status = main(["generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens", "3",
                   "--no-progress"])
    assert status == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("args", "message"), [
    (("--seed", str(2**64)), "argument --seed: must be an integer in [0, 2**64) (0 to 18446744073709551615), "
                             "got '18446744073709551616'"),
    (("--seed", "-1"), "argument --seed: must be an integer in [0, 2**64)"),
    (("--max-new-tokens", "ten"), "argument --max-new-tokens: must be an integer >= 0, got 'ten'"),
    (("--top-k", "0"), "argument --top-k: must be a positive integer, got '0'"),
    (("--top-k", "1.5"), "argument --top-k: must be a positive integer, got '1.5'"),
    (("--temperature", "inf"), "argument --temperature: must be a finite number >= 0, got 'inf'"),
    (("--temperature", "nan"), "argument --temperature: must be a finite number >= 0, got 'nan'"),
])
def test_bad_numbers_are_refused_by_argparse_naming_the_flag(capsys, args, message):
    status, out, err = run(capsys, "generate", "--weights", "never-read", "--prompt", "Hi", *args)
    assert status == 2 and out == ""
    assert message in err
    assert "invalid" not in err and "_int" not in err and "Traceback" not in err


def test_the_largest_seed_is_accepted(checkpoint, capsys):
    status, out, err = run(capsys, "generate", "--weights", str(checkpoint), "--prompt", "Hi", "--max-new-tokens",
                           "2", "--temperature", "1", "--seed", str(2**64 - 1), "--no-progress")
    assert status == 0 and out.startswith("Hi"), err


def test_a_tiny_temperature_samples_the_greedy_text(checkpoint, capsys):
    common = ("generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens", "5", "--no-progress")
    greedy = run(capsys, *common)
    assert greedy[0] == 0
    assert run(capsys, *common, "--temperature", "1e-45", "--seed", "1") == greedy


def test_a_model_with_a_nan_is_an_error_not_a_text(checkpoint, tmp_path, capsys):
    tensors = load_file(str(checkpoint / "model.safetensors"))
    tensors["transformer.h.0.attn.c_proj.weight"][0, 0] = float("nan")
    (tmp_path / "nan").mkdir()
    save_file(tensors, str(tmp_path / "nan" / "model.safetensors"), metadata={"format": "pt"})
    (tmp_path / "nan" / "config.json").write_text((checkpoint / "config.json").read_text())
    assert_one_line_error(*run(capsys, "generate", "--weights", str(tmp_path / "nan"), "--prompt", "Hello",
                              "--no-progress"),
                          "tensor 'transformer.h.0.attn.c_proj.weight' holds 1 non-finite value(s)")


@pytest.mark.parametrize("phase", ["parse", "load", "tokenizer", "generate", "print"])
def test_ctrl_c_at_any_moment_exits_130_with_one_line(checkpoint, monkeypatch, capsys, phase):
    import gptblock.cli as cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    target = {"parse": (cli, "build_parser"), "load": (cli, "load_gpt2_weights"),
              "tokenizer": (cli, "load_gpt2_tokenizer"), "generate": (cli, "generate_stream"),
              "print": (cli.TextOut, "token_bytes")}[phase]
    monkeypatch.setattr(*target, interrupt)
    status, _, err = run(capsys, "generate", "--weights", str(checkpoint), "--prompt", "Hi", "--max-new-tokens", "2")
    assert status == 130
    assert err.strip().splitlines()[-1] == "gptblock: interrupted" and "Traceback" not in err


def test_ctrl_c_while_torch_is_imported_exits_130_with_one_line(monkeypatch, capsys):
    """The installed script's entry point catches an interrupt during the import of the package itself."""
    import gptblock_launcher

    class InterruptedImport:
        def find_spec(self, name, path=None, target=None):
            if name == "gptblock.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "gptblock.cli")
    monkeypatch.setattr(sys, "meta_path", [InterruptedImport(), *sys.meta_path])
    assert gptblock_launcher.main(["--version"]) == 130
    assert capsys.readouterr().err == "gptblock: interrupted\n"


def test_the_launcher_runs_the_command(capsys):
    import gptblock_launcher

    with pytest.raises(SystemExit) as exit_:
        gptblock_launcher.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"gptblock {gptblock.__version__}\n"


def test_without_the_variable_the_tokenizer_is_found_beside_the_clone(checkpoint, monkeypatch, capsys):
    monkeypatch.delenv("GPTBLOCK_TOKENIZER_DIR", raising=False)
    status, out, err = run(capsys, "generate", "--weights", str(checkpoint), "--prompt", PROMPT, "--max-new-tokens",
                           "2", "--no-progress")
    assert status == 0 and out.startswith(PROMPT), err
