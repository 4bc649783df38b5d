"""Text for training: files to token ids, a train/validation split, and windows of next-token pairs.

A training example is a window of ``context_length + 1`` consecutive token ids: the first
``context_length`` are the input, the same ids shifted by one are the targets, so that every
position learns to predict the token that follows it (the book's ``input_chunk``/``target_chunk``).

Every document is split on its own: its first ``1 - val_fraction`` of tokens go to training, the rest
to validation, and each part ends with ``<|endoftext|>``. So the validation text holds the end of every
page rather than a few whole pages, and both languages are in it. The site's pages come in twins (a
Spanish page and its English translation), whose tails are held out together: the model does not
train on the translation of what it is validated on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import tiktoken
import torch

from gptblock.tokenizer import ENDOFTEXT_ID

PathLike = str | os.PathLike


def find_text_files(paths: Iterable[PathLike]) -> list[Path]:
    """The files to read: each file as given, and every ``*.txt`` under each folder (sorted).

    Args:
        paths: files and folders.

    Returns:
        The files, in the order given (each folder's files sorted by path), without repeats.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a folder holds no ``.txt`` file, or no path was given.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.rglob("*.txt"))
            if not found:
                raise ValueError(f"corpus folder {path} holds no .txt file")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such corpus file or folder: {path}")
    if not files:
        raise ValueError("no corpus given: name at least one file or folder")
    return list(dict.fromkeys(files))


def read_documents(files: Sequence[Path]) -> list[str]:
    """Read each file as UTF-8 text.

    Raises:
        ValueError: a file is not UTF-8 text (the message names it).
    """
    documents = []
    for file in files:
        try:
            documents.append(file.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"corpus file {file} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return documents


@dataclass(frozen=True)
class TokenSplit:
    """The corpus as two streams of token ids, ready to cut into windows.

    Attributes:
        train: 1-D ``int64`` ids of the training part of every document, each ending with ``<|endoftext|>``.
        val: the same for the validation part (empty when ``val_fraction`` is 0).
        documents: how many documents the streams come from.
    """

    train: torch.Tensor
    val: torch.Tensor
    documents: int

    def fingerprint(self) -> str:
        """A short hash of both streams: two runs on the same fingerprint trained on the same tokens."""
        digest = hashlib.sha256()
        for ids in (self.train, self.val):
            digest.update(ids.numpy().tobytes())
            digest.update(b"|")
        return digest.hexdigest()[:16]


def tokenize_split(documents: Sequence[str], tokenizer: tiktoken.Encoding, val_fraction: float) -> TokenSplit:
    """Tokenize every document and split each one into its training head and validation tail.

    ``<|endoftext|>`` written inside a document is ordinary text (the site's pages mention it); only the
    separators added here are the special token.

    Args:
        documents: the texts.
        tokenizer: GPT-2's tokenizer (:func:`gptblock.load_gpt2_tokenizer`).
        val_fraction: the share of each document held out for validation, in [0, 1).

    Returns:
        The two streams.

    Raises:
        ValueError: ``val_fraction`` is out of range.
    """
    if isinstance(val_fraction, bool) or not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    train: list[int] = []
    val: list[int] = []
    for text in documents:
        ids = tokenizer.encode(text, disallowed_special=())
        if not ids:
            continue
        cut = len(ids) - round(len(ids) * val_fraction)
        train += [*ids[:cut], ENDOFTEXT_ID]
        if cut < len(ids):
            val += [*ids[cut:], ENDOFTEXT_ID]
    return TokenSplit(torch.tensor(train, dtype=torch.int64), torch.tensor(val, dtype=torch.int64), len(documents))


def random_windows(
    ids: torch.Tensor, batch_size: int, context_length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` windows at random offsets: inputs and their next-token targets.

    Args:
        ids: 1-D token ids, at least ``context_length + 1`` of them.
        batch_size: how many windows.
        context_length: tokens per window.
        generator: the source of the offsets (seed it to draw the same batch again).

    Returns:
        ``(inputs, targets)``, both ``(batch_size, context_length)``; ``targets`` is ``inputs`` shifted by one.
    """
    starts = torch.randint(0, len(ids) - context_length, (batch_size,), generator=generator)
    windows = torch.stack([ids[s:s + context_length + 1] for s in starts.tolist()])  # (b, T + 1)
    return windows[:, :-1], windows[:, 1:]


def tiled_windows(ids: torch.Tensor, context_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Consecutive, non-overlapping windows over the whole stream (a shorter tail is left out).

    Args:
        ids: 1-D token ids.
        context_length: tokens per window.

    Returns:
        ``(inputs, targets)``, both ``(n, context_length)`` with ``n = (len(ids) - 1) // context_length``.
    """
    n = (len(ids) - 1) // context_length
    inputs = ids[:n * context_length].view(n, context_length)
    targets = ids[1:n * context_length + 1].view(n, context_length)
    return inputs, targets


def spread_windows(ids: torch.Tensor, context_length: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` of the tiled windows, evenly spaced over the stream (all of them if there are fewer).

    Estimating the training loss on windows from every part of the corpus, and on the same ones at every
    evaluation, makes its curve comparable with the validation curve.
    """
    inputs, targets = tiled_windows(ids, context_length)
    if count >= len(inputs):
        return inputs, targets
    picks = torch.linspace(0, len(inputs) - 1, count).round().long()
    return inputs[picks], targets[picks]
