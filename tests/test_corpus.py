"""The corpus snapshot: what the prose extraction keeps and drops, and the committed snapshot itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptblock.corpus import main, markdown_prose, notebook_prose, write_snapshot

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "training" / "corpus"

PAGE = '''---
title: front matter
---
# 5. Causal attention

Each token asks a **question** (the *query*) and wears a
label, the `W_key` projection: see [the block](transformer-block.md)[^1].

<!-- skip: next -->
```python
>>> print("code is dropped")
code is dropped
```

$$
\\mathrm{softmax}(x)_i = e^{x_i} / \\sum_j e^{x_j}
$$

Scores are divided by \\(\\sqrt{d_k}\\) first.

| name | shape |
| --- | --- |
| `W_query` | (768, 768) |

- a list item
  that wraps;
1. a numbered one.

!!! note "Why divide?"
    Without it the softmax saturates.

    ~~~python
    x = "dropped too"
    ~~~

> A quoted line.

<figure markdown="span">
<img src="x.svg" alt="dropped">
<figcaption>Figure 1: the <em>block</em>.</figcaption>
</figure>

![an image](img.png)

[^1]: A footnote.

---

[← Home](index.md) · [6. The block →](transformer-block.md)
'''


def test_markdown_prose_keeps_the_text_a_reader_reads():
    assert markdown_prose(PAGE).split("\n\n") == [
        "5. Causal attention",
        "Each token asks a question (the query) and wears a label, the W_key projection: see the block.",
        "Scores are divided by \\sqrt{d_k} first.",
        "- a list item that wraps;",
        "1. a numbered one.",
        "Why divide?",
        "Without it the softmax saturates.",
        "A quoted line.",
        "Figure 1: the block.",
        "A footnote.",
    ]


def test_markdown_prose_drops_code_maths_tables_html_and_navigation():
    prose = markdown_prose(PAGE)
    for dropped in ("front matter", "print", "dropped", "softmax}(x)", "(768, 768)", "skip", "img.png", "Home",
                    "**", "`", "](", "$$"):
        assert dropped not in prose, dropped


def test_a_fence_longer_than_three_backticks_hides_inner_fences():
    page = "Before.\n\n````markdown\n```python\nx = 1\n```\n````\n\nAfter.\n"
    assert markdown_prose(page) == "Before.\n\nAfter."


def test_notebook_prose_reads_only_the_markdown_cells():
    notebook = (
        "# ---\n# jupyter:\n#   jupytext:\n#     formats: py:percent\n# ---\n\n"
        "# %% [markdown]\n# # The heads\n#\n# Four heads look at\n# one sentence.\n\n"
        "# %%\n# a comment in code\nimport torch\n\n"
        "# %% [markdown]\n# Each row sums to 1.\n"
    )
    assert notebook_prose(notebook) == "The heads\n\nFour heads look at one sentence.\n\nEach row sums to 1."


def test_write_snapshot_mirrors_both_languages_and_removes_stale_files(tmp_path):
    docs = tmp_path / "docs"
    for language, text in (("es", "Hola."), ("en", "Hello.")):
        (docs / language / "notebooks").mkdir(parents=True)
        (docs / language / "page.md").write_text(f"# {text}\n\n```python\nx = 1\n```\n", encoding="utf-8")
        (docs / language / "notebooks" / "plot.py").write_text(f"# %% [markdown]\n# {text}\n", encoding="utf-8")
    out = tmp_path / "corpus"
    (out / "es").mkdir(parents=True)
    (out / "es" / "removed-page.txt").write_text("old", encoding="utf-8")
    (out / "README.md").write_text("kept", encoding="utf-8")

    written = write_snapshot(docs, out)

    assert [p.relative_to(out).as_posix() for p in written] == [
        "es/page.txt", "es/notebooks/plot.txt", "en/page.txt", "en/notebooks/plot.txt"]
    assert (out / "en" / "page.txt").read_text(encoding="utf-8") == "Hello.\n"
    assert not (out / "es" / "removed-page.txt").exists()
    assert (out / "README.md").read_text(encoding="utf-8") == "kept"


def test_the_command_line(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 1
    assert "nowhere" in capsys.readouterr().err
    assert main([str(ROOT / "docs"), str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    assert sorted((tmp_path / "out" / "es").rglob("*.txt"))


# ------------------------------------------------------------------------------------ the snapshot
SNAPSHOT_FILES = {lang: sorted(p.relative_to(SNAPSHOT / lang) for p in (SNAPSHOT / lang).rglob("*.txt"))
                  for lang in ("es", "en")}


def test_the_committed_snapshot_has_both_languages_page_for_page():
    assert len(SNAPSHOT_FILES["es"]) >= 10
    assert SNAPSHOT_FILES["es"] == SNAPSHOT_FILES["en"]


@pytest.mark.parametrize("path", [SNAPSHOT / lang / p for lang, files in SNAPSHOT_FILES.items() for p in files],
                         ids=lambda p: p.relative_to(SNAPSHOT).as_posix())
def test_every_snapshot_file_is_prose(path):
    text = path.read_text(encoding="utf-8")
    assert text.strip(), f"{path} is empty"
    for marker in ("```", ">>> ", "<!--", "$$", "| --- |"):
        assert marker not in text, f"{path} holds {marker!r}: not prose"
