"""GPT-2's tokenizer through tiktoken, built offline from the files in <repo>/../shared/gpt2-tokenizer.

The root conftest's ``tokenizer_dir`` fixture finds that folder and skips these tests without it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import tiktoken

import gptblock.tokenizer
from gptblock import load_gpt2_tokenizer
from gptblock.tokenizer import TOKENIZER_DIR_ENV

pytestmark = pytest.mark.usefixtures("tokenizer_dir")

TEXTS = [
    "Every effort moves you",
    "Hello, I am",
    "¡Hola! ¿Qué tal? El modelo lee «bytes», no letras: ñandú, 你好, 🙂.",
    "  leading spaces, trailing spaces   \n\n\tand tabs\r\n",
    "It's 2019; we'll see they've done 1,234.5 things",
]


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir: Path) -> tiktoken.Encoding:
    return load_gpt2_tokenizer(tokenizer_dir)


def test_known_token_ids(tokenizer):
    assert tokenizer.encode("Every effort moves you") == [6109, 3626, 6100, 345]
    assert tokenizer.encode("Hello, I am") == [15496, 11, 314, 716]
    assert tokenizer.decode([6109, 3626, 6100, 345]) == "Every effort moves you"


def test_end_of_text_is_50256(tokenizer):
    assert tokenizer.n_vocab == 50257
    assert tokenizer.eot_token == 50256
    assert tokenizer.encode("Hi<|endoftext|>", allowed_special={"<|endoftext|>"}) == [17250, 50256]
    assert tokenizer.decode([50256]) == "<|endoftext|>"
    with pytest.raises(ValueError, match="special token"):
        tokenizer.encode("<|endoftext|>")  # tiktoken refuses it unless allowed: text cannot smuggle it in


@pytest.mark.parametrize("text", TEXTS)
def test_decode_inverts_encode(tokenizer, text):
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_same_ids_as_tiktokens_own_gpt2_encoding(tokenizer, tokenizer_dir, tmp_path, monkeypatch):
    """tiktoken's get_encoding("gpt2"), fed the same files through its cache, encodes exactly as ours."""
    urls = {"vocab.bpe": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
            "encoder.json": "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json"}
    for name, url in urls.items():  # tiktoken looks for each file under the sha1 of its URL
        shutil.copy(tokenizer_dir / name, tmp_path / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv(TOKENIZER_DIR_ENV, raising=False)
    monkeypatch.setattr(gptblock.tokenizer, "SHARED_TOKENIZER_DIR", tmp_path / "absent")
    reference = load_gpt2_tokenizer()  # no folder, no variable: tiktoken's own encoding
    assert reference is tiktoken.get_encoding("gpt2")
    for text in TEXTS:
        assert tokenizer.encode(text) == reference.encode(text)


def test_environment_variable_names_the_folder(tokenizer_dir, monkeypatch):
    monkeypatch.setenv(TOKENIZER_DIR_ENV, str(tokenizer_dir))
    assert load_gpt2_tokenizer().encode("Every effort moves you") == [6109, 3626, 6100, 345]


def test_a_folder_without_the_files_is_a_clear_error(tokenizer_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"lacks the GPT-2 tokenizer file\(s\) vocab\.bpe, encoder\.json"):
        load_gpt2_tokenizer(tmp_path)
    shutil.copy(tokenizer_dir / "vocab.bpe", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"file\(s\) encoder\.json \(it needs"):
        load_gpt2_tokenizer(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such tokenizer directory"):
        load_gpt2_tokenizer(tmp_path / "missing")


def test_files_that_disagree_are_refused(tokenizer_dir, tmp_path):
    shutil.copy(tokenizer_dir / "encoder.json", tmp_path)
    lines = (tokenizer_dir / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    (tmp_path / "vocab.bpe").write_text("\n".join(lines[:1000]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="do not describe the same vocabulary"):
        load_gpt2_tokenizer(tmp_path)


def test_offline_without_a_folder_says_what_to_do(monkeypatch):
    def offline(name):
        raise ConnectionError("no network")

    monkeypatch.delenv(TOKENIZER_DIR_ENV, raising=False)
    monkeypatch.setattr(gptblock.tokenizer, "SHARED_TOKENIZER_DIR", Path("/nonexistent/gpt2-tokenizer"))
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    with pytest.raises(OSError, match=f"set {TOKENIZER_DIR_ENV} to a folder holding vocab.bpe and encoder.json"):
        load_gpt2_tokenizer()


def test_without_the_variable_the_shared_folder_beside_the_clone_is_read(tokenizer_dir, monkeypatch):
    # issue 11, item 18: the command line, the tests and the site find the files the same way
    assert gptblock.tokenizer.SHARED_TOKENIZER_DIR == tokenizer_dir.resolve()
    monkeypatch.delenv(TOKENIZER_DIR_ENV, raising=False)
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: pytest.fail("tiktoken was asked to download"))
    assert load_gpt2_tokenizer().encode("Every effort moves you") == [6109, 3626, 6100, 345]


def _damaged(tokenizer_dir: Path, folder: Path, name: str, content: bytes | str) -> Path:
    for other in ("vocab.bpe", "encoder.json"):
        shutil.copy(tokenizer_dir / other, folder)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    (folder / name).write_bytes(data)
    return folder / name


def _merges(tokenizer_dir: Path) -> list[str]:
    return (tokenizer_dir / "vocab.bpe").read_text(encoding="utf-8").split("\n")


@pytest.mark.parametrize(("name", "damage", "message"), [
    ("encoder.json", lambda d: "[1, 2, 3]", r"encoder\.json must hold a JSON object \(token -> id\), got a list"),
    ("encoder.json", lambda d: (d / "encoder.json").read_text(encoding="utf-8")[:5000],
     r"encoder\.json is not valid JSON"),
    ("encoder.json", lambda d: bytes(range(128, 256)) * 4, r"encoder\.json is not UTF-8 text"),
    ("encoder.json", lambda d: '{"\u4e00": 1}', r"encoder\.json, token '\u4e00': character '\u4e00' is not one of"),
    ("vocab.bpe", lambda d: bytes(range(128, 256)) * 4, r"vocab\.bpe is not UTF-8 text"),
    ("vocab.bpe", lambda d: "\n".join([*_merges(d)[:5], "a b c", *_merges(d)[5:]]),
     r"vocab\.bpe, line 6: a merge is two tokens separated by a space, got 'a b c'"),
    ("vocab.bpe", lambda d: "\n".join([*_merges(d)[:3], "\u4e00 b", *_merges(d)[3:]]),
     r"vocab\.bpe, line 4: character '\u4e00' is not one of GPT-2's 256 byte stand-ins"),
])
def test_damaged_tokenizer_files_are_a_value_error_naming_the_file(tokenizer_dir, tmp_path, name, damage, message):
    # issue 11, item 7: not AttributeError / KeyError / JSONDecodeError / UnicodeDecodeError / unpacking
    file = _damaged(tokenizer_dir, tmp_path, name, damage(tokenizer_dir))
    with pytest.raises(ValueError, match=message) as caught:
        load_gpt2_tokenizer(tmp_path)
    assert str(file) in str(caught.value)


def test_a_consistent_but_smaller_vocabulary_is_refused(tokenizer_dir, tmp_path):
    lines = _merges(tokenizer_dir)
    (tmp_path / "vocab.bpe").write_text("\n".join(lines[:11]) + "\n", encoding="utf-8")
    encoder = json.loads((tokenizer_dir / "encoder.json").read_text(encoding="utf-8"))
    small = {text: rank for text, rank in encoder.items() if rank < 266}
    (tmp_path / "encoder.json").write_text(json.dumps(small), encoding="utf-8")
    with pytest.raises(ValueError, match=r"describe 266 tokens, GPT-2's tokenizer has 50256"):
        load_gpt2_tokenizer(tmp_path)


@pytest.mark.parametrize("directory", [123, ["gpt2-tokenizer"], b"gpt2-tokenizer"])
def test_the_directory_must_be_a_path(directory):
    with pytest.raises(TypeError, match=rf"directory must be a str or os\.PathLike, got {type(directory).__name__}"):
        load_gpt2_tokenizer(directory)
