"""Translation parity: the Spanish and English sites hold the same pages and the same code.

Every page (``.md``) and notebook (``notebooks/*.py``) in ``docs/es`` has its twin at the same
relative path in ``docs/en`` and the other way round. Twin pages have the same sequence of Python
blocks, compared through their AST (so comments may be translated and nothing else may differ,
printed strings included), the same doctest outputs, and the same Sybil directives (skip,
invisible code, clear-namespace). Twin notebooks have the same code cells, compared through their
AST with comments removed and string constants masked, so plot labels may be translated.
"""

from __future__ import annotations

import ast
import doctest
import re
import textwrap
from pathlib import Path

import jupytext
import pytest
from sybil import Document
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LANGUAGES = ("es", "en")

ANY_INFO = re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE)
PYTHONISH = {"python", "py", "python3", "py3", "pycon", "ipython", "ipython3", "pyi"}
DIRECTIVE = re.compile(
    r"<!--+\s*(?P<name>skip|clear-namespace|invisible-code(?:-block)?)\b:?[ \t]*(?P<argument>[^\n]*?)"
    r"(?:[ \t]*--+>|$\n(?P<body>.*?)--+>)",
    re.MULTILINE | re.DOTALL,
)


def twin_files(language: str) -> set[str]:
    base = DOCS / language
    pages = {p.relative_to(base).as_posix() for p in base.rglob("*.md")}
    notebooks = {p.relative_to(base).as_posix() for p in base.glob("**/notebooks/*.py")}
    return pages | notebooks


def _code_key(source: str) -> str:
    source = textwrap.dedent(source)
    try:
        return ast.dump(ast.parse(source))
    except SyntaxError as error:  # shown as such, so that the two sides still compare
        return f"SyntaxError: {error.msg} in {source!r}"


def _doctest_key(source: str) -> list[tuple[str, str]]:
    examples = doctest.DocTestParser().get_examples(textwrap.dedent(source))
    return [(_code_key(e.source), " ".join(e.want.split())) for e in examples]


def page_items(path: Path) -> list[tuple[str, object]]:
    """The page's Python blocks and Sybil directives, in order, as comparable keys."""
    text = path.read_text(encoding="utf-8")
    items: list[tuple[int, str, object, str]] = []
    for region in RawFencedCodeBlockLexer(info_pattern=ANY_INFO)(Document(text, str(path))):
        info = region.lexemes["info"].strip()
        language = re.match(r"\{?\s*\.?([\w+-]*)", info).group(1).lower()
        if language not in PYTHONISH:
            continue
        source = str(region.lexemes["source"])
        if source.lstrip().startswith(">>>"):
            items.append((region.start, "doctest block", _doctest_key(source), source))
        else:
            items.append((region.start, "code block", _code_key(source), source))
    for match in DIRECTIVE.finditer(text):
        name = match.group("name")
        if name.startswith("invisible-code"):
            body = match.group("body") or ""
            key = _doctest_key(body) if body.lstrip().startswith(">>>") else _code_key(body)
            items.append((match.start(), f"invisible {match.group('argument')} block", key, body))
        else:
            argument = " ".join(match.group("argument").split())
            items.append((match.start(), f"<!-- {name} -->", argument, match.group(0)))
    items.sort(key=lambda item: item[0])
    return [(kind, (key, text.count("\n", 0, start) + 1, source)) for start, kind, key, source in items]


def _mask_strings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = "<str>"
        elif isinstance(node, ast.JoinedStr):
            node.values = [ast.Constant("<str>")]
    return tree


def notebook_cells(path: Path) -> list[tuple[str, object]]:
    notebook = jupytext.read(path)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        key = ast.dump(_mask_strings(ast.parse(source)))
        cells.append(("code cell", (key, None, cell.source)))
    return cells


def _describe(kind: str, line: int | None, source: str) -> str:
    where = f" (line {line})" if line else ""
    return f"{kind}{where}:\n{textwrap.indent(source.rstrip(), '    | ')}"


def compare(relative: str, left: list, right: list) -> list[str]:
    problems = []
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        (kind_a, (key_a, line_a, src_a)), (kind_b, (key_b, line_b, src_b)) = a, b
        if kind_a != kind_b or key_a != key_b:
            problems.append(
                f"{relative}: block #{index} differs between the languages\n"
                f"  es {_describe(kind_a, line_a, src_a)}\n  en {_describe(kind_b, line_b, src_b)}"
            )
            break  # the first difference is enough to point at the place
    if len(left) != len(right):
        problems.append(f"{relative}: docs/es has {len(left)} Python blocks/directives, docs/en has {len(right)}")
    return problems


def test_every_page_has_its_twin() -> None:
    spanish, english = twin_files("es"), twin_files("en")
    assert spanish, "no pages in docs/es"
    messages = [f"docs/es/{p} has no twin docs/en/{p}" for p in sorted(spanish - english)]
    messages += [f"docs/en/{p} has no twin docs/es/{p}" for p in sorted(english - spanish)]
    assert not messages, "\n".join(messages)


TWINS = sorted(twin_files("es") & twin_files("en"))


@pytest.mark.parametrize("relative", TWINS)
def test_twins_have_the_same_code(relative: str) -> None:
    es, en = DOCS / "es" / relative, DOCS / "en" / relative
    extract = notebook_cells if relative.endswith(".py") else page_items
    problems = compare(relative, extract(es), extract(en))
    assert not problems, "\n".join(problems)
