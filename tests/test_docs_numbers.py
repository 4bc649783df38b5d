"""Numeric parity: every number in a block of a Spanish page equals its twin's in the English page.

Blocks are paired as in the structural test (``tests/test_docs_structure.py``); in each pair, the
numbers of the paragraph, list item, heading, table row, caption, admonition title or diagram labels
must be the same, in any order, modulo each language's conventions: Spanish writes 0,80 and 2.360.064
or 2 360 064, English 0.80 and 2,360,064; inside `code spans` and formulas both write Python's 0.80.
The digits written count (0,80 is not 0.8); years, versions, chapter and figure numbers count too.
Numbers written as words (doce, twelve) are not read. Spanish prose must also write its decimals
with a comma, so that 2.360 can only mean two thousand three hundred and sixty.
"""

from __future__ import annotations

import pytest
from docs_text import SOURCE, TARGET, number_problems, read_page, shorten, twin_files

TWINS = sorted(twin_files(SOURCE) & twin_files(TARGET))
MAX_SHOWN = 8


@pytest.mark.parametrize("relative", TWINS)
def test_twins_write_the_same_numbers(relative: str) -> None:
    problems = number_problems(relative)
    shown = problems[:MAX_SHOWN]
    if len(problems) > MAX_SHOWN:
        shown.append(f"... and {len(problems) - MAX_SHOWN} more")
    assert not problems, f"{len(problems)} block(s) of {relative} differ in their numbers:\n" + "\n".join(shown)


@pytest.mark.parametrize("relative", TWINS)
def test_spanish_prose_writes_decimal_commas(relative: str) -> None:
    """Spanish prose writes 0,80: a 0.80 there is a slip (a figure number or a version after "Figura",
    "Python", "torch"... is not). In `code spans` and formulas, Python's 0.80 stays."""
    page = read_page(relative, SOURCE)
    slips = [
        f"  line {block.line}: {number.text!r} in: {shorten(block.text, 200)}"
        for block in page.blocks
        for number in block.numbers
        if number.decimal_point
    ]
    assert not slips, (
        f"docs/{SOURCE}/{relative}: {len(slips)} decimal(s) written with a point in Spanish prose "
        "(write 0,80, or `0.80` when quoting code):\n" + "\n".join(slips)
    )
