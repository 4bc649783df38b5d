"""The glossary (``docs/<lang>/glossary.md``) is the single source of the site's terms.

Each row of its tables gives a concept: the Spanish term, the English term, its names in the code and,
in the last column ("no se usa" / "not used"), the variants that pages of *that page's language* do not
write, each in *italics*. Nothing else lists them: to reject a variant, add it to the glossary.

* No page or notebook of a language writes a variant its glossary rejects, in its prose: headings,
  paragraphs, list items, table rows, admonitions, captions and alt texts, diagram labels (code and
  `code spans` are not read). The chapter's original text, which ``docs/es/transformer-block.md`` keeps
  word for word (``tests/test_docs_seed.py``), is exempt: its variants stay, and the glossary says so.
* The names in the column "en el código" exist in ``gptblock``.
* Both glossaries describe the same concepts: their first three columns are the same.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from docs_text import DOCS, LANGUAGES, SOURCE, TARGET, Block, read_page, shorten, twin_files
from markdown_it import MarkdownIt
from test_docs_seed import mend, plain

import gptblock

GLOSSARY = "glossary.md"
SEED_PAGE = "transformer-block.md"
PROSE_KINDS = {"heading", "paragraph", "list item", "row", "html", "admonition", "mermaid", "diagram"}
_CODE_SPAN = re.compile(r"`[^`]*`")


@dataclass(frozen=True)
class Entry:
    """One row of a glossary table."""

    line: int
    spanish: str
    english: str
    code_names: tuple[str, ...]
    rejected: tuple[str, ...]  # the variants in italics in the last column


def _cell(children) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A table cell's plain text, its `code spans` and its *italic* spans."""
    text, code, italics, in_em = [], [], [], None
    for child in children:
        if child.type == "em_open":
            in_em = []
        elif child.type == "em_close":
            italics.append("".join(in_em or []).strip())
            in_em = None
        elif child.type == "code_inline":
            code.append(child.content)
            text.append(f"`{child.content}`")
        elif child.type == "text":
            text.append(child.content)
            if in_em is not None:
                in_em.append(child.content)
    return " ".join("".join(text).split()), tuple(code), tuple(italics)


def glossary(language: str) -> list[Entry]:
    """The rows of the glossary of ``language``, in order."""
    tokens = MarkdownIt("commonmark").enable("table").parse((DOCS / language / GLOSSARY).read_text(encoding="utf-8"))
    entries, row, line, in_body = [], [], 0, False
    for token in tokens:
        if token.type == "tbody_open":
            in_body = True
        elif token.type == "tbody_close":
            in_body = False
        elif in_body and token.type == "tr_open":
            row, line = [], token.map[0] + 1 if token.map else 0
        elif in_body and token.type == "inline":
            row.append(_cell(token.children or []))
        elif in_body and token.type == "tr_close":
            assert len(row) == 4, f"docs/{language}/{GLOSSARY}, line {line}: a row has {len(row)} cells, not 4"
            entries.append(Entry(line, row[0][0], row[1][0], row[2][1], row[3][2]))
    return entries


@pytest.fixture(scope="module")
def seed_plain(seed_file: Path | None) -> str | None:
    """The seed chapter reduced to its words, as the seed test reads it; None without the file."""
    return plain(mend(seed_file.read_text(encoding="utf-8"))) if seed_file else None


def _words(block: Block) -> str:
    """A prose block's text without its code spans, one space between words."""
    return " ".join(_CODE_SPAN.sub(" ", block.text).split())


def _is_seed_text(block: Block, seed_plain: str) -> bool:
    return plain(block.text) in seed_plain


def variants_used(relative: str, language: str, rejected: dict[str, Entry], seed_plain: str | None) -> list[str]:
    """Each place where a page of ``language`` writes a rejected variant, described."""
    patterns = {variant: re.compile(rf"(?<!\w){re.escape(variant)}(?!\w)", re.IGNORECASE) for variant in rejected}
    found = []
    for block in read_page(relative, language).blocks:
        if block.kind not in PROSE_KINDS:
            continue
        if language == SOURCE and relative == SEED_PAGE and seed_plain and _is_seed_text(block, seed_plain):
            continue  # the chapter's own words, kept verbatim
        words = _words(block)
        for variant, pattern in patterns.items():
            for match in pattern.finditer(words):
                entry = rejected[variant]
                term = entry.spanish if language == SOURCE else entry.english
                found.append(
                    f"  docs/{language}/{relative}, line {block.line}: «{match.group(0)}» where the glossary says "
                    f"«{term}» (docs/{language}/{GLOSSARY}, line {entry.line}): {shorten(words, 160, match.group(0))}"
                )
    return found


def test_the_glossaries_are_read() -> None:
    """The reader finds the rows and the rejected variants (an empty reading would make the next test pass)."""
    spanish, english = glossary(SOURCE), glossary(TARGET)
    rejected_es = {v for entry in spanish for v in entry.rejected}
    rejected_en = {v for entry in english for v in entry.rejected}
    assert len(spanish) > 30 and len(spanish) == len(english)
    assert {"sello de asiento", "codiciosa", "librería", "sólo", "abandono"} <= rejected_es
    assert {"favourite", "normalise", "behaviour"} <= rejected_en


def test_both_glossaries_describe_the_same_concepts() -> None:
    for es, en in zip(glossary(SOURCE), glossary(TARGET), strict=True):
        assert (es.spanish, es.english, es.code_names) == (en.spanish, en.english, en.code_names), (
            f"docs/{SOURCE}/{GLOSSARY} line {es.line} and docs/{TARGET}/{GLOSSARY} line {en.line} differ: "
            f"{(es.spanish, es.english, es.code_names)} / {(en.spanish, en.english, en.code_names)}"
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_writes_a_variant_the_glossary_rejects(language: str, seed_plain: str | None) -> None:
    rejected = {variant: entry for entry in glossary(language) for variant in entry.rejected}
    pages = sorted(twin_files(language) - {GLOSSARY})
    if language == SOURCE and seed_plain is None:
        pages.remove(SEED_PAGE)  # without the seed file its verbatim text cannot be told apart
    found = [line for relative in pages for line in variants_used(relative, language, rejected, seed_plain)]
    assert not found, (
        f"{len(found)} place(s) in docs/{language} write a variant that the glossary rejects; use the glossary's "
        "term (or, to change the site's vocabulary, change the glossary first):\n" + "\n".join(found)
    )


def _code_vocabulary() -> set[str]:
    """Every name the package offers: its exports, config keys, the names of a model's modules, parameters,
    buffers and attributes, the arguments of its functions and classes."""
    names = set(gptblock.__all__) | set(gptblock.CONFIG_KEYS)
    with torch.device("meta"):
        model = gptblock.GPTModel(gptblock.GPT_CONFIG_124M)
    for named in (model.named_modules(), model.named_parameters(), model.named_buffers()):
        names |= {part for name, _ in named for part in name.split(".")}
    for module in model.modules():
        names |= {name for name in vars(module) if not name.startswith("_")}  # head_dim, num_heads...
    for export in gptblock.__all__:
        obj = getattr(gptblock, export)
        if callable(obj):
            try:
                names |= set(inspect.signature(obj).parameters)
            except (TypeError, ValueError):
                pass
        if isinstance(obj, type):
            names |= {name for name, _ in inspect.getmembers(obj)}
    return names


def test_the_code_names_exist() -> None:
    known = _code_vocabulary()
    unknown = [
        f"  docs/{SOURCE}/{GLOSSARY}, line {entry.line}: `{name}` ({entry.spanish})"
        for entry in glossary(SOURCE)
        for name in entry.code_names
        for identifier in re.findall(r"[A-Za-z_]\w*", name)
        if identifier not in known
    ]
    assert not unknown, "the glossary names code that gptblock does not have:\n" + "\n".join(unknown)
