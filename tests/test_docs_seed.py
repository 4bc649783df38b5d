"""The Spanish seed page keeps every paragraph of the seed chapter, in order.

The seed (``<repo>/../shared/seed/000_5d20c83c76bf70d9.txt``) is split into paragraphs at blank
lines. Both the seed and ``docs/es/transformer-block.md`` are reduced to plain text the same way
(whitespace collapsed; Markdown markers for headings, lists, quotes, emphasis, inline code and links
removed), with the text-extraction damage of the seed mended first. Each paragraph must then appear
in the page after the previous one. The seed's notebook cells (``In [n]:``) are checked line by
line against the page (its local-module imports are replaced by ``from gptblock import ...`` on the
page), and each of its figure lines must have a diagram on the page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "000_5d20c83c76bf70d9.txt"
PAGE = ROOT / "docs" / "es" / "transformer-block.md"

# What the text extraction broke, and the mended text the page carries.
EXTRACTION_FIXES = {
    "agregaci\u00b4on": "agregación",  # an acute accent standing apart
    "identifique y  analiza": "identifique y analice",
    "identifique y analiza": "identifique y analice",
}
CELL_START = re.compile(r"^In \[\d+\]:\s*$")
FIGURE = re.compile(r"^!\[[^\]]*\]\([^)]*\)\s*$")
SEED_ONLY_IMPORT = re.compile(r"^from (multiHeadAttention|feedForward|layerNorm) import (\w+)$")


def mend(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    for broken, mended in EXTRACTION_FIXES.items():
        text = text.replace(broken, mended)
    return text


def plain(text: str) -> str:
    """Markdown reduced to its words, one space between them."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^\s*#{1,6}\s+", "", line)  # heading markers
        line = re.sub(r"^\s*(?:>\s*)+", "", line)  # quote markers
        line = re.sub(r"^\s*(?:[*+-]|\d+\.)\s+", "", line)  # list markers
        lines.append(line)
    text = "\n".join(lines)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = text.replace("**", "").replace("`", "")
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", text)  # *emphasis*
    return " ".join(text.split())


def seed_parts(seed: str) -> tuple[list[str], list[list[str]], int]:
    """Prose paragraphs, code cells (their lines) and the number of figure lines of the seed."""
    paragraphs, cells, figures = [], [], 0
    lines = mend(seed).splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if CELL_START.match(line):
            cell = []
            i += 1
            while i < len(lines) and not (re.match(r"^#{1,6} ", lines[i]) or FIGURE.match(lines[i])):
                cell.append(lines[i])
                i += 1
            cells.append(cell)
            continue
        if FIGURE.match(line):
            figures += 1
            i += 1
            continue
        if line.strip():
            block = []
            while i < len(lines) and lines[i].strip() and not FIGURE.match(lines[i]) and not CELL_START.match(lines[i]):
                block.append(lines[i])
                i += 1
            paragraphs.append("\n".join(block))
            continue
        i += 1
    return paragraphs, cells, figures


@pytest.fixture(scope="module")
def seed_text() -> str:
    if not SEED.is_file():
        pytest.skip(f"the seed chapter is not beside the repository: {SEED}")
    return SEED.read_text(encoding="utf-8")


def test_the_seed_is_split_sensibly(seed_text: str) -> None:
    paragraphs, cells, figures = seed_parts(seed_text)
    assert len(paragraphs) > 30 and len(cells) == 2 and figures == 2


def test_every_seed_paragraph_is_on_the_spanish_page_in_order(seed_text: str) -> None:
    page = plain(PAGE.read_text(encoding="utf-8"))
    paragraphs, _, _ = seed_parts(seed_text)
    position, missing = 0, []
    for number, paragraph in enumerate(paragraphs, start=1):
        wanted = plain(paragraph)
        found = page.find(wanted, position)
        if found < 0:
            where = "elsewhere on the page (out of order)" if wanted in page else "nowhere on the page"
            missing.append(f"seed paragraph {number} is {where}:\n    {wanted[:300]}")
            continue
        position = found + len(wanted)
    assert not missing, f"{PAGE.relative_to(ROOT)} lost seed text:\n" + "\n".join(missing)


def test_the_seed_code_and_its_output_are_on_the_page(seed_text: str) -> None:
    page_lines = {" ".join(line.split()) for line in PAGE.read_text(encoding="utf-8").splitlines()}
    _, cells, _ = seed_parts(seed_text)
    missing = []
    for cell in cells:
        for line in cell:
            line = " ".join(line.split())
            if not line:
                continue
            imported = SEED_ONLY_IMPORT.match(line)
            if imported:
                line = f"from gptblock import {imported.group(2)}"
            if line not in page_lines and f">>> {line}" not in page_lines:
                missing.append(line)
    assert not missing, "seed code lines missing from the page:\n" + "\n".join(missing)


def test_each_seed_figure_has_a_diagram(seed_text: str) -> None:
    _, _, figures = seed_parts(seed_text)
    diagrams = len(re.findall(r"^```mermaid\s*$|^<svg\b", PAGE.read_text(encoding="utf-8"), re.MULTILINE))
    assert diagrams >= figures, f"the seed has {figures} figures, the page {diagrams} diagrams"
