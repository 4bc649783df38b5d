"""The ``gptblock`` command line: ``gptblock generate --weights PATH --prompt TEXT``; ``gptblock train ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch
from tqdm import tqdm

from gptblock.generation import generate
from gptblock.hf_gpt2 import load_gpt2_weights
from gptblock.optimize import optimize_for_cpu
from gptblock.tokenizer import ENDOFTEXT, ENDOFTEXT_ID, TOKENIZER_DIR_ENV, load_gpt2_tokenizer

PROG = "gptblock"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gptblock`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="GPT-2, built from its transformer block, on the command line.",
    )
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
            f"named by ${TOKENIZER_DIR_ENV}, else tiktoken downloads and caches them. "
            "Example: gptblock generate --weights gpt2/model.safetensors --prompt 'Every effort moves you'"
        ),
    )
    gen.add_argument("--weights", required=True, metavar="PATH",
                     help="model.safetensors file or save_pretrained folder (safetensors only)")
    gen.add_argument("--prompt", required=True, metavar="TEXT", help="the text to continue")
    gen.add_argument("--max-new-tokens", type=_non_negative_int, default=50, metavar="N",
                     help="how many tokens to add at most (default: %(default)s)")
    gen.add_argument("--temperature", type=_non_negative_float, default=0.0, metavar="T",
                     help="0 decodes greedily; higher values sample more freely (default: %(default)s)")
    gen.add_argument("--top-k", type=_positive_int, default=None, metavar="K",
                     help="sample only among the K most likely tokens (default: all)")
    gen.add_argument("--seed", type=int, default=None, metavar="S",
                     help="random seed, for repeatable sampling")
    gen.add_argument("--tokenizer-dir", default=None, metavar="DIR",
                     help=f"folder with vocab.bpe and encoder.json (default: ${TOKENIZER_DIR_ENV})")
    gen.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    # `gptblock train` is gptblock.train's own command line: main() hands it over before parsing.
    commands.add_parser("train", add_help=False, help="train a small GPT on text files (gptblock train --help)")
    return parser


def run_generate(args: argparse.Namespace) -> str:
    """Load, encode, generate, decode: the text that ``gptblock generate`` prints."""
    progress = not args.no_progress
    model = optimize_for_cpu(load_gpt2_weights(args.weights, progress=progress))  # inference only: pack once
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
    start = 0 if args.prompt else 1  # the start token of an empty prompt is not printed
    idx = torch.tensor([ids])

    with tqdm(total=args.max_new_tokens, desc="generating", unit="token", disable=not progress, leave=False) as bar:
        def advance(*_: object) -> None:  # a forward hook that returned a value would replace the output
            bar.update(1)

        # Every step, with or without the KV cache, passes the model's final norm once: its hook moves the bar.
        hook = model.final_norm.register_forward_hook(advance)
        try:
            out = generate(model, idx, max_new_tokens=args.max_new_tokens, context_size=context,
                           temperature=args.temperature, top_k=args.top_k, eos_id=ENDOFTEXT_ID)
        finally:
            hook.remove()
    new_ids = out[0, len(ids):].tolist()
    return tokenizer.decode(ids[start:] + new_ids)  # byte-exact: the prompt comes back as typed


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gptblock`` command (and of ``python -m gptblock``).

    Returns:
        The exit status: 0 on success, 1 for a missing or unusable file, 2 for bad arguments (argparse).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # the training command parses its own options
        from gptblock.train import main as train_main

        return train_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        text = run_generate(args)
    except (OSError, ValueError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the exception said
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
