"""The ``gptblock`` command line: ``gptblock generate --weights PATH --prompt TEXT``; ``gptblock train ...``."""

from __future__ import annotations

import argparse
import codecs
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import torch
from tqdm import tqdm

from gptblock import __version__
from gptblock.generation import generate_stream
from gptblock.hf_gpt2 import load_gpt2_weights
from gptblock.optimize import optimize_for_cpu
from gptblock.tokenizer import ENDOFTEXT, ENDOFTEXT_ID, TOKENIZER_DIR_ENV, load_gpt2_tokenizer

PROG = "gptblock"
#: ``torch.manual_seed`` takes any integer in [0, 2**64).
SEED_LIMIT = 2**64
#: The exit status of a command whose reader closed the pipe (128 + SIGPIPE), and of Ctrl-C (128 + SIGINT).
EXIT_BROKEN_PIPE, EXIT_INTERRUPTED = 141, 130


def _argument_type(name: str, convert: Callable[[str], float], accept: Callable[[float], bool],
                   wanted: str) -> Callable[[str], float]:
    """An argparse ``type`` whose error says what is wanted (argparse would print the function's name)."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = name
    return parse


_positive_int = _argument_type("positive integer", int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type("integer", int, lambda v: v >= 0, "an integer >= 0")
_temperature = _argument_type("number", float, lambda v: 0.0 <= v < math.inf, "a finite number >= 0")
_seed = _argument_type("seed", int, lambda v: 0 <= v < SEED_LIMIT, f"an integer in [0, 2**64) (0 to {SEED_LIMIT - 1})")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gptblock`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="GPT-2, built from its transformer block, on the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = commands.add_parser(
        "generate",
        help="continue a prompt with a GPT-2 checkpoint",
        description=(
            "Load GPT-2 weights in the Hugging Face layout (a model.safetensors file, or a folder with "
            "model.safetensors and config.json) and print the prompt followed by its continuation. "
            f"Generation stops early at {ENDOFTEXT}."
        ),
        epilog=(
            f"The tokenizer files (vocab.bpe, encoder.json) are read from --tokenizer-dir, else from the folder "
            f"named by ${TOKENIZER_DIR_ENV}, else from shared/gpt2-tokenizer beside the clone of gptblock, "
            "else tiktoken downloads and caches them. The text is printed as it is generated; the progress "
            "bars go to stderr. "
            "Example: gptblock generate --weights gpt2/model.safetensors --prompt 'Every effort moves you'"
        ),
    )
    gen.add_argument("--weights", required=True, metavar="PATH",
                     help="model.safetensors file or save_pretrained folder (safetensors only)")
    gen.add_argument("--prompt", required=True, metavar="TEXT", help="the text to continue")
    gen.add_argument("--max-new-tokens", type=_non_negative_int, default=50, metavar="N",
                     help="how many tokens to add at most (default: %(default)s)")
    gen.add_argument("--temperature", type=_temperature, default=0.0, metavar="T",
                     help="0 decodes greedily; higher values sample more freely (default: %(default)s)")
    gen.add_argument("--top-k", type=_positive_int, default=None, metavar="K",
                     help="sample only among the K most likely tokens (default: all)")
    gen.add_argument("--seed", type=_seed, default=None, metavar="S",
                     help="random seed in [0, 2**64), for repeatable sampling")
    gen.add_argument("--tokenizer-dir", default=None, metavar="DIR",
                     help=f"folder with vocab.bpe and encoder.json (default: ${TOKENIZER_DIR_ENV})")
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    # `gptblock train` is gptblock.train's own command line: main() hands it over before parsing.
    commands.add_parser("train", add_help=False, help="train a small GPT on text files (gptblock train --help)")
    return parser


class TextOut:
    """Token bytes to a text stream as they come: whole characters only, flushed at once.

    GPT-2's tokens are bytes, and a character of two to four UTF-8 bytes may be split over tokens
    (an emoji often is): an incremental decoder holds back the bytes of an unfinished character.
    Text the stream's encoding cannot represent (an ASCII terminal) is written as backslash escapes.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # as tiktoken's decode

    def text(self, text: str) -> None:
        if text:
            self.stream.write(text.encode(self.encoding, "backslashreplace").decode(self.encoding))
            self.stream.flush()

    def token_bytes(self, data: bytes, final: bool = False) -> None:
        self.text(self.decoder.decode(data, final))


def run_generate(args: argparse.Namespace, out: TextOut) -> None:
    """Load, encode, generate: print the prompt, then each new token as it is decoded."""
    progress = not args.no_progress
    model = optimize_for_cpu(load_gpt2_weights(args.weights, progress=progress))  # inference, one row at a time
    vocab_size, context = model.cfg["vocab_size"], model.cfg["context_length"]
    if vocab_size <= ENDOFTEXT_ID:
        raise ValueError(
            f"{args.weights}: the model knows {vocab_size} tokens but GPT-2's tokenizer has {ENDOFTEXT_ID + 1}"
        )
    tokenizer = load_gpt2_tokenizer(args.tokenizer_dir)
    if args.top_k is not None and args.top_k > vocab_size:
        raise ValueError(f"--top-k {args.top_k} is larger than the vocabulary ({vocab_size})")
    if args.seed is not None:
        torch.manual_seed(args.seed)

    # An empty prompt starts from <|endoftext|>, as GPT-2's unconditional samples do.
    ids = tokenizer.encode(args.prompt, allowed_special={ENDOFTEXT}) or [ENDOFTEXT_ID]
    steps = generate_stream(model, torch.tensor([ids]), max_new_tokens=args.max_new_tokens, context_size=context,
                            temperature=args.temperature, top_k=args.top_k, eos_id=ENDOFTEXT_ID)
    out.text(args.prompt)  # as typed
    # On a terminal the text itself shows the progress; a bar would be drawn over it.
    show_bar = progress and not (hasattr(out.stream, "isatty") and out.stream.isatty())
    with tqdm(total=args.max_new_tokens, desc="generating", unit="token", disable=not show_bar, leave=False) as bar:
        for token in steps:  # (1, 1)
            out.token_bytes(tokenizer.decode_single_token_bytes(int(token)))
            bar.update(1)
    out.token_bytes(b"", final=True)
    out.text("\n")


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null, so that Python's final flush finds nothing to report."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):  # not a real file (a test's stream)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gptblock`` command (and of ``python -m gptblock``).

    Returns:
        The exit status: 0 on success, 1 for a missing or unusable file or a broken model, 2 for bad
        arguments (argparse), 130 after Ctrl-C (one line, at any moment), 141 when the reader of
        stdout went away (``gptblock generate ... | head -c 10``), quietly.
    """
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        if argv[:1] == ["train"]:  # the training command parses its own options
            from gptblock.train import main as train_main

            return train_main(argv[1:])
        args = build_parser().parse_args(argv)
        run_generate(args, TextOut(sys.stdout))
    except (OSError, ValueError) as exc:
        if isinstance(exc, BrokenPipeError):
            _quiet_stdout()
            return EXIT_BROKEN_PIPE
        message = " ".join(str(exc).split())  # one line, whatever the exception said
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
