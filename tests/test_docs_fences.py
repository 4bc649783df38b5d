"""Every Python example on the site's pages is collected by Sybil, so none is skipped silently.

Sybil's stock Markdown parser runs a fence only when its info string is exactly ``python``: a fence
such as ```` ```python title="x.py" ```` or ```` ```py ```` would pass without running. Here every
fence of every page is found independently, and each Python-looking one must hold collected
examples: one for a code block, one per ``>>>`` prompt for a doctest block.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sybil import Document
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))

ANY_INFO = re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)
# Spellings a writer may use for Python; a fence in one of them must run.
PYTHONISH = {"python", "py", "python3", "py3", "pycon", "ipython", "ipython3", "pyi"}
INVISIBLE = re.compile(r"<!--+\s*invisible-code(-block)?:?\s*(?P<language>\w+)")


def fence_language(info: str) -> str:
    """``python`` for ```` python title="x" ````, ```` {.python} ```` or ```` py linenums="1" ````."""
    match = re.match(r"\s*\{?\s*\.?([\w+-]*)", info)
    return match.group(1).lower() if match else ""


def python_fences(path: Path) -> list[tuple[int, int, str, str]]:
    """(start, end, info, source) of every fence on the page whose language is Python-like."""
    text = path.read_text(encoding="utf-8")
    document = Document(text, str(path))
    found = []
    for region in RawFencedCodeBlockLexer(info_pattern=ANY_INFO)(document):
        info = region.lexemes["info"]
        if fence_language(info) in PYTHONISH:
            found.append((region.start, region.end, info.strip(), str(region.lexemes["source"])))
    return found


def expected_examples(source: str) -> int:
    stripped = source.lstrip()
    if stripped.startswith(">>>"):
        return sum(1 for line in source.splitlines() if line.lstrip().startswith(">>> "))
    return 1


def test_pages_exist() -> None:
    assert PAGES, f"no Markdown pages under {DOCS}"


@pytest.mark.parametrize("path", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_every_python_fence_is_collected(path: Path, make_docs_sybil) -> None:
    document = make_docs_sybil().parse(path)
    starts = [example.start for example in document.examples()]
    text = path.read_text(encoding="utf-8")
    problems = []
    for index, (start, end, info, source) in enumerate(python_fences(path)):
        collected = sum(1 for s in starts if start <= s < end)
        wanted = expected_examples(source)
        if collected != wanted:
            line = text.count("\n", 0, start) + 1
            problems.append(
                f"{path.relative_to(ROOT)}:{line}: Python fence #{index} ```{info} holds {wanted} "
                f"example(s) but Sybil collected {collected}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_every_invisible_block_is_collected(path: Path, make_docs_sybil) -> None:
    text = path.read_text(encoding="utf-8")
    document = make_docs_sybil().parse(path)
    starts = {example.start for example in document.examples()}
    problems = []
    for match in INVISIBLE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if match.group("language").lower() not in PYTHONISH:
            continue
        if match.group("language") != "python" or match.start() not in starts:
            problems.append(f"{path.relative_to(ROOT)}:{line}: invisible code block not collected by Sybil")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_no_doctest_outside_a_fence(path: Path) -> None:
    """A ``>>>`` line outside any fence is not run by Sybil's Markdown parsers."""
    text = path.read_text(encoding="utf-8")
    document = Document(text, str(path))
    spans = [(r.start, r.end) for r in RawFencedCodeBlockLexer(info_pattern=ANY_INFO)(document)]
    spans += [(m.start(), text.find("-->", m.start())) for m in re.finditer(r"<!--", text)]
    stray = []
    for match in re.finditer(r"^[ \t>]*>>> ", text, re.MULTILINE):
        if not any(start <= match.start() < end for start, end in spans):
            stray.append(text.count("\n", 0, match.start()) + 1)
    assert not stray, f"{path.relative_to(ROOT)}: '>>>' outside a code fence on lines {stray} is never run"
