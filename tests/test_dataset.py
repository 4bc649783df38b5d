"""Training data: which files are read, how each document is split, and the windows cut from the streams."""

from __future__ import annotations

import pytest
import torch

from gptblock.dataset import (
    TokenSplit,
    find_text_files,
    random_windows,
    read_documents,
    spread_windows,
    tiled_windows,
    tokenize_split,
)
from gptblock.tokenizer import ENDOFTEXT_ID, load_gpt2_tokenizer


def test_find_text_files_reads_folders_sorted_and_files_as_given(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/2.txt", "b/1.txt", "b/skip.md", "a.md"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    found = find_text_files([tmp_path / "b", tmp_path / "a.md", tmp_path / "b" / "1.txt"])
    assert found == [tmp_path / "b" / "1.txt", tmp_path / "b" / "2.txt", tmp_path / "a.md"]


def test_find_text_files_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such corpus file or folder: .*missing"):
        find_text_files([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"corpus folder .*empty holds no \.txt file"):
        find_text_files([tmp_path / "empty"])
    with pytest.raises(ValueError, match="no corpus given"):
        find_text_files([])


def test_read_documents_refuses_what_is_not_utf8(tmp_path):
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("atención".encode("latin-1"))
    with pytest.raises(ValueError, match=r"corpus file .*latin1\.txt is not UTF-8 text"):
        read_documents([latin])


def test_each_document_gives_its_head_to_training_and_its_tail_to_validation(tokenizer_dir):
    tokenizer = load_gpt2_tokenizer(tokenizer_dir)
    first = " ".join(f"word{i}" for i in range(50))
    second = "Una página en español, con su <|endoftext|> escrito como texto."
    split = tokenize_split([first, second], tokenizer, val_fraction=0.2)

    ids = [tokenizer.encode(doc, disallowed_special=()) for doc in (first, second)]
    cuts = [len(d) - round(len(d) * 0.2) for d in ids]
    assert split.train.tolist() == [*ids[0][:cuts[0]], ENDOFTEXT_ID, *ids[1][:cuts[1]], ENDOFTEXT_ID]
    assert split.val.tolist() == [*ids[0][cuts[0]:], ENDOFTEXT_ID, *ids[1][cuts[1]:], ENDOFTEXT_ID]
    # The special token in the text stays text: only the two separators of each stream are id 50256.
    assert (split.train == ENDOFTEXT_ID).sum() == 2
    assert split.documents == 2
    assert split.train.dtype == torch.int64


def test_no_validation_and_bad_fractions(tokenizer_dir):
    tokenizer = load_gpt2_tokenizer(tokenizer_dir)
    split = tokenize_split(["one document"], tokenizer, val_fraction=0.0)
    assert len(split.val) == 0
    assert split.train[-1] == ENDOFTEXT_ID
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="val_fraction must be a number in"):
            tokenize_split(["x"], tokenizer, val_fraction=bad)


def test_the_fingerprint_changes_with_any_token():
    a = TokenSplit(torch.arange(10), torch.arange(3), 1)
    b = TokenSplit(torch.arange(10), torch.tensor([0, 1, 3]), 1)
    assert a.fingerprint() == TokenSplit(torch.arange(10), torch.arange(3), 1).fingerprint()
    assert a.fingerprint() != b.fingerprint()


def test_random_windows_are_next_token_pairs_drawn_again_from_the_same_seed():
    ids = torch.arange(100, 200)
    inputs, targets = random_windows(ids, 6, 8, torch.Generator().manual_seed(1))
    assert inputs.shape == targets.shape == (6, 8)
    assert torch.equal(targets, inputs + 1)  # each target is the token after its input
    assert int(inputs.min()) >= 100 and int(targets.max()) <= 199
    again, _ = random_windows(ids, 6, 8, torch.Generator().manual_seed(1))
    other, _ = random_windows(ids, 6, 8, torch.Generator().manual_seed(2))
    assert torch.equal(inputs, again)
    assert not torch.equal(inputs, other)


def test_random_windows_reach_the_last_token():
    ids = torch.arange(10)
    _, targets = random_windows(ids, 200, 9, torch.Generator().manual_seed(0))  # only one window fits
    assert torch.equal(targets, torch.arange(1, 10).expand(200, 9))


def test_tiled_windows_cover_the_stream_once():
    inputs, targets = tiled_windows(torch.arange(23), 5)
    assert inputs.tolist() == [list(range(s, s + 5)) for s in (0, 5, 10, 15)]
    assert torch.equal(targets, inputs + 1)
    empty, _ = tiled_windows(torch.arange(5), 5)  # 5 tokens hold 4 next-token pairs: no full window
    assert empty.shape == (0, 5)


def test_spread_windows_pick_evenly_from_the_whole_stream():
    inputs, _ = spread_windows(torch.arange(101), 10, 4)
    assert inputs[:, 0].tolist() == [0, 30, 60, 90]
    everything, _ = spread_windows(torch.arange(101), 10, 50)
    assert len(everything) == 10
