"""No number typed by hand: a number in a page's prose comes from code that runs on that page.

Every number in the prose of a page or notebook (paragraphs, list items, table rows, captions and
alt texts, admonition titles, diagram labels) must be either

* among the numbers of the code of its own section (from its heading to the next heading): the
  Python examples and their printed outputs, the invisible blocks (``<!-- invisible-code-block:
  python ... -->``, where a sentence's number is asserted from the code beside it), the shell
  commands, a notebook's code cells; a percentage may quote a printed fraction (88 % for 0.88). A
  figure (caption, alt text, Mermaid or text diagram) and the page's introduction (the section of
  its title) speak of the page as a whole: their numbers may come from any code on the page; the
  step numbers of a text diagram ("3. att(x)") are labels. Or
* a reviewed definition listed in ``tests/prose_numbers.py`` (GPT-2's configuration, a year, a version,
  a figure number, a fact from outside such as a file's size on the Hub), each with its reason.

Headings and link texts are not read here (they hold chapter numbers and names). Values compare as
numbers (0,80 = 0.8) and without their sign. The Performance pages are checked by their own test
(their measured numbers are generated from the committed benchmark result), so they are skipped here.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from docs_text import LANGUAGES, SOURCE, TARGET, Block, Number, Page, read_page, shorten, twin_files
from prose_numbers import EVERYWHERE, GENERATED, PAGES

PROSE_KINDS = {"paragraph", "list item", "row", "html", "admonition", "mermaid", "diagram"}
_STEP = re.compile(r"\.\s")
FIGURE_KINDS = {"html", "mermaid", "diagram"}  # captions, alt texts, diagram labels
TWINS = sorted(twin_files(SOURCE) & twin_files(TARGET))
CHECKED = [relative for relative in TWINS if relative not in GENERATED]


def _value(text: str) -> Decimal | str:
    """A number's value without its sign; a version (2.13.0) stays as written."""
    return text if text.count(".") > 1 else abs(Decimal(text))


def prose_numbers(page: Page) -> list[tuple[Block, Number]]:
    """The numbers of the page's prose, without those of link texts."""
    found = []
    for block in page.blocks:
        if block.kind not in PROSE_KINDS:
            continue
        in_links = [n.value for n in block.link_numbers]
        for number in block.numbers:
            if number.value in in_links:
                in_links.remove(number.value)
                continue
            if block.kind == "diagram" and _STEP.match(block.text, number.start + len(number.text)) and \
                    not re.search(r"\w", block.text[block.text.rfind("\n", 0, number.start) + 1 : number.start]):
                continue  # "3. att(x)" at the start of a line of a text diagram: a step number
            found.append((block, number))
    return found


def unexplained(page: Page) -> list[tuple[Block, Number]]:
    """The prose numbers that neither the code beside them nor the reviewed list explains."""
    allowed = {_value(v) for v in EVERYWHERE} | {_value(v) for v in PAGES.get(page.relative, {})}
    whole_page = {_value(n.value) for n in page.code_numbers}
    first = next((block.part for block in page.blocks if block.kind == "heading"), 0)  # the title's section
    missing = []
    for block, number in prose_numbers(page):
        if block.kind in FIGURE_KINDS or block.part == first:
            pool = whole_page  # a figure, or the page's introduction, speaks of the page as a whole
        else:
            pool = {_value(n.value) for n in page.sections[block.part].code_numbers}
        value = _value(number.value)
        if value in pool or value in allowed:
            continue
        if number.percent and isinstance(value, Decimal) and value / 100 in pool:
            continue
        if (block, number.value) not in [(b, n.value) for b, n in missing]:
            missing.append((block, number))
    return missing


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("relative", CHECKED)
def test_prose_numbers_come_from_the_page_code(relative: str, language: str) -> None:
    page = read_page(relative, language)
    missing = unexplained(page)
    lines = [
        f"  line {block.line}, section «{block.section}»: {number.text!r} in: {shorten(block.text, 240, number.text)}"
        for block, number in missing
    ]
    assert not missing, (
        f"docs/{language}/{relative}: {len(missing)} number(s) in the prose that no code on the page prints "
        "or asserts. Print them in an example, assert them in an invisible block beside the sentence, or, "
        "for a definition (not a measurement), list them with their reason in tests/prose_numbers.py:\n"
        + "\n".join(lines)
    )


def test_every_listed_definition_is_used() -> None:
    """An entry of tests/prose_numbers.py that no prose needs any more is removed, so the list stays short."""
    used_anywhere: set[Decimal] = set()
    problems = []
    for relative in CHECKED:
        for language in LANGUAGES:
            page = read_page(relative, language)
            used_anywhere |= {_value(n.value) for _, n in prose_numbers(page)}
        pages = [read_page(relative, language) for language in LANGUAGES]
        pool = {_value(n.value) for page in pages for n in page.code_numbers}
        prose = {_value(n.value) for page in pages for _, n in prose_numbers(page)}
        for value, reason in PAGES.get(relative, {}).items():
            if not reason.strip():
                problems.append(f"{relative}: {value} has no reason")
            if _value(value) not in prose:
                problems.append(f"{relative}: {value} is no longer in the page's prose")
            elif _value(value) in pool:
                problems.append(f"{relative}: {value} is in the page's code already; the entry is not needed")
    for value, reason in EVERYWHERE.items():
        if not reason.strip() or _value(value) not in used_anywhere:
            problems.append(f"EVERYWHERE: {value} is not used by any page's prose (or has no reason)")
    unknown = sorted(set(PAGES) - set(TWINS)) + sorted(set(GENERATED) - set(TWINS))
    problems += [f"{relative}: no such page" for relative in unknown]
    assert not problems, "tests/prose_numbers.py has entries to remove or fix:\n" + "\n".join(problems)
