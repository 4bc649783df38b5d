"""Structural parity: each English page and notebook is built like its Spanish source.

Twin pages (``docs/es/X`` and ``docs/en/X``) must hold the same sequence of blocks: headings with the
same levels, paragraphs, lists with the same number of items, tables with the same rows and columns,
admonitions and collapsible blocks of the same type, figures (HTML tags, Mermaid diagrams with the same
nodes and edges), display formulas with identical TeX (words inside ``\\text{}`` may be translated),
code blocks of the same language (shell listings with the same commands) and links to the same targets
(an anchor counts as the heading it points to, since anchors are translated with their headings).
Notebooks are compared cell by cell, their Markdown cells block by block.

A failure names the page, the section and the first place where the two sides part, and shows both.
The pages are read by ``tests/docs_text.py``.
"""

from __future__ import annotations

import pytest
from docs_text import SOURCE, TARGET, structure_problem, twin_files

TWINS = sorted(twin_files(SOURCE) & twin_files(TARGET))


@pytest.mark.parametrize("relative", TWINS)
def test_twins_have_the_same_structure(relative: str) -> None:
    problem = structure_problem(relative)
    assert problem is None, problem
