"""GPT-2's byte-pair tokenizer, through tiktoken, built offline from OpenAI's two files.

GPT-2's tokenizer is defined by two files: ``encoder.json`` (each token's text and its id) and
``vocab.bpe`` (the merges, in the order they were learned). Both spell bytes with printable stand-in
characters (a space is ``Ġ``), so that every one of the 256 bytes has a visible form. tiktoken's
``get_encoding("gpt2")`` downloads them; :func:`load_gpt2_tokenizer` can read them from a local
folder instead, which is what the tests and the site build do.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import tiktoken

from gptblock.files import check_path

#: Environment variable naming a folder that holds ``vocab.bpe`` and ``encoder.json``.
TOKENIZER_DIR_ENV = "GPTBLOCK_TOKENIZER_DIR"
#: The folder read when the variable is not set: ``shared/gpt2-tokenizer`` beside a clone of the
#: repository (``<clone>/../shared/gpt2-tokenizer``), where the tests and the site build find it too.
SHARED_TOKENIZER_DIR = Path(__file__).resolve().parents[2] / "shared" / "gpt2-tokenizer"
#: GPT-2's one special token: it ends (and begins) every document it was trained on.
ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256
#: How GPT-2 splits text into pieces before merging bytes inside each piece (its published regex).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_FILES = ("vocab.bpe", "encoder.json")


def _stand_in_to_byte() -> dict[str, int]:
    """GPT-2's printable stand-in character for each byte, reversed: character -> byte."""
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    table = {chr(b): b for b in printable}
    others = [b for b in range(256) if b not in table.values()]
    table.update({chr(256 + n): b for n, b in enumerate(others)})  # the rest move past 255, in order
    return table


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start}); is it GPT-2's {path.name}?") from None


def _mergeable_ranks(vocab_bpe: Path, encoder_json: Path) -> dict[bytes, int]:
    """The byte sequences tiktoken may merge, with their ranks, checked against ``encoder.json``.

    Raises:
        ValueError: a file is not what GPT-2's is (not UTF-8, not JSON, a merge line that is not two
            tokens, a character outside GPT-2's byte table...); the message names the file and the place.
    """
    to_byte = _stand_in_to_byte()

    def to_bytes(text: str, where: str) -> bytes:
        try:
            return bytes(to_byte[ch] for ch in text)
        except KeyError as exc:
            raise ValueError(f"{where}: character {exc.args[0]!r} is not one of GPT-2's 256 byte stand-ins") from None

    # Ids 0-255 are the single bytes (printable ones first); each merge then gets the next id.
    ranks = {bytes([b]): rank for rank, b in enumerate(to_byte.values())}
    lines = _read_text(vocab_bpe).split("\n")
    for number, line in enumerate(lines[1:], start=2):  # the first line is a version header
        if line.strip():
            where = f"{vocab_bpe}, line {number}"
            pair = line.split()
            if len(pair) != 2:
                raise ValueError(f"{where}: a merge is two tokens separated by a space, got {line[:80]!r}")
            ranks[to_bytes(pair[0], where) + to_bytes(pair[1], where)] = len(ranks)

    try:
        encoder = json.loads(_read_text(encoder_json))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{encoder_json} is not valid JSON ({exc})") from None
    if not isinstance(encoder, dict):
        raise ValueError(f"{encoder_json} must hold a JSON object (token -> id), got a {type(encoder).__name__}")
    expected = {to_bytes(text, f"{encoder_json}, token {text[:40]!r}"): rank
                for text, rank in encoder.items() if text != ENDOFTEXT}
    if ranks != expected:
        raise ValueError(f"{vocab_bpe} and {encoder_json} do not describe the same vocabulary")
    return ranks


@lru_cache(maxsize=4)
def _encoding_from(directory: Path) -> tiktoken.Encoding:
    missing = [name for name in _FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{directory} lacks the GPT-2 tokenizer file(s) {', '.join(missing)} (it needs vocab.bpe and encoder.json)"
        )
    ranks = _mergeable_ranks(directory / "vocab.bpe", directory / "encoder.json")
    if len(ranks) != ENDOFTEXT_ID:  # consistent, but not GPT-2's 50,256 tokens (tiktoken would assert)
        raise ValueError(f"{directory}: vocab.bpe and encoder.json describe {len(ranks)} tokens, "
                         f"GPT-2's tokenizer has {ENDOFTEXT_ID} (plus {ENDOFTEXT})")
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: ENDOFTEXT_ID},
        explicit_n_vocab=ENDOFTEXT_ID + 1,
    )


def load_gpt2_tokenizer(directory: str | os.PathLike | None = None) -> tiktoken.Encoding:
    """GPT-2's tokenizer as a ``tiktoken.Encoding``.

    The files come from ``directory`` if given, else from the folder named by the environment variable
    ``GPTBLOCK_TOKENIZER_DIR``, else from :data:`SHARED_TOKENIZER_DIR` (``../shared/gpt2-tokenizer``
    beside the clone) when it exists, else tiktoken's own ``get_encoding("gpt2")`` is used (which
    downloads them once and caches them). The command line, the tests and the site all read it so.

    Args:
        directory: a folder holding ``vocab.bpe`` and ``encoder.json``.

    Returns:
        The encoding: ``encode``, ``decode``, ``n_vocab == 50257``; ``<|endoftext|>`` is id 50256
        (pass ``allowed_special={"<|endoftext|>"}`` to ``encode`` to let text contain it).

    Raises:
        TypeError: ``directory`` is not a ``str`` or ``os.PathLike``.
        FileNotFoundError: the folder does not exist or lacks one of the two files.
        OSError: no folder was named and tiktoken could not download the files.
        ValueError: a file is damaged or not GPT-2's, or the two files disagree (the message names the file).

    Example:
        >>> tokenizer = load_gpt2_tokenizer()  # doctest: +SKIP
        >>> tokenizer.encode("Every effort moves you")  # doctest: +SKIP
        [6109, 3626, 6100, 345]
    """
    if directory is None:
        directory = os.environ.get(TOKENIZER_DIR_ENV) or None
        if directory is None and SHARED_TOKENIZER_DIR.is_dir():
            directory = SHARED_TOKENIZER_DIR
        if directory is None:
            try:
                return tiktoken.get_encoding("gpt2")
            except OSError as exc:  # offline: tiktoken could not download the files
                raise OSError(
                    f"tiktoken could not fetch GPT-2's tokenizer files ({type(exc).__name__}); "
                    f"set {TOKENIZER_DIR_ENV} to a folder holding vocab.bpe and encoder.json"
                ) from exc
    path = check_path(directory, "directory").expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"no such tokenizer directory: {path}")
    return _encoding_from(path)
