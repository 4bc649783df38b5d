"""Translation parity of the code: the Spanish and English sites hold the same pages and the same code.

Every page (``.md``) and notebook (``notebooks/*.py``) in ``docs/es`` has its twin at the same
relative path in ``docs/en`` and the other way round. Twin pages have the same sequence of Python
blocks and the same Sybil directives (skip, invisible code, clear-namespace). Blocks are compared
through their AST, so comments may be translated, and with every string literal masked, so printed
labels may be translated too ("media" / "mean"); the expressions inside f-strings and their format
specs still count. Doctest outputs are compared with the page's string literals masked (those of
either language) and white space normalised: every other character, every number, must be the same.
Twin notebooks have the same code cells, compared the same way.

The prose around the code is held by ``test_docs_structure.py``, ``test_docs_numbers.py``,
``test_docs_prose_numbers.py`` and ``test_docs_translation.py``.
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
        return ast.dump(_mask_strings(ast.parse(source)))
    except SyntaxError as error:  # shown as such, so that the two sides still compare
        return f"SyntaxError: {error.msg} in {source!r}"


def mask_output(want: str, strings: set[str]) -> str:
    """A doctest's expected output with the given strings masked (longest first) and white space
    normalised. Only strings that hold a letter and two characters or more are masked, each where it
    stands as a whole word: masking "a" or "1" would hide numbers and words alike."""
    text = " ".join(want.split())
    for string in sorted({" ".join(s.split()) for s in strings}, key=len, reverse=True):
        if len(string) < 2 or not re.search(r"[^\W\d_]", string):
            continue
        before = r"(?<!\w)" if re.match(r"\w", string) else ""
        after = r"(?!\w)" if re.search(r"\w$", string) else ""
        text = re.sub(before + re.escape(string) + after, "<str>", text)
    return " ".join(text.split())


def _doctest_key(source: str, strings: set[str]) -> list[tuple[str, str]]:
    examples = doctest.DocTestParser().get_examples(textwrap.dedent(source))
    return [(_code_key(e.source), mask_output(e.want, strings)) for e in examples]


def python_sources(path: Path) -> list[tuple[int, str, str]]:
    """(offset, kind, source) of the page's Python fences and invisible code blocks."""
    text = path.read_text(encoding="utf-8")
    found = []
    for region in RawFencedCodeBlockLexer(info_pattern=ANY_INFO)(Document(text, str(path))):
        info = region.lexemes["info"].strip()
        language = re.match(r"\{?\s*\.?([\w+-]*)", info).group(1).lower()
        if language in PYTHONISH:
            found.append((region.start, "fence", str(region.lexemes["source"])))
    for match in DIRECTIVE.finditer(text):
        if match.group("name").startswith("invisible-code"):
            found.append((match.start(), "invisible", match.group("body") or ""))
    return found


def page_strings(path: Path) -> set[str]:
    """Every string literal of the page's Python code: the labels a translation may change."""
    strings: set[str] = set()
    for _, _, source in python_sources(path):
        strings |= string_literals(source)
    return strings


def page_items(path: Path, strings: set[str]) -> list[tuple[str, object]]:
    """The page's Python blocks and Sybil directives, in order, as comparable keys (doctest outputs
    with ``strings`` masked)."""
    text = path.read_text(encoding="utf-8")
    items: list[tuple[int, str, object, str]] = []
    for start, kind, source in python_sources(path):
        if kind == "fence":
            if source.lstrip().startswith(">>>"):
                items.append((start, "doctest block", _doctest_key(source, strings), source))
            else:
                items.append((start, "code block", _code_key(source), source))
    for match in DIRECTIVE.finditer(text):
        name = match.group("name")
        if name.startswith("invisible-code"):
            body = match.group("body") or ""
            key = _doctest_key(body, strings) if body.lstrip().startswith(">>>") else _code_key(body)
            items.append((match.start(), f"invisible {match.group('argument')} block", key, body))
        else:
            argument = " ".join(match.group("argument").split())
            items.append((match.start(), f"<!-- {name} -->", argument, match.group(0)))
    items.sort(key=lambda item: item[0])
    return [(kind, (key, text.count("\n", 0, start) + 1, source)) for start, kind, key, source in items]


class _MaskStrings(ast.NodeTransformer):
    """Every string literal becomes ``<str>``; an f-string keeps only its replacement fields (the
    expression, the conversion and the format spec, which decide the printed value)."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant("<str>"), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        fields = [value for value in node.values if isinstance(value, ast.FormattedValue)]
        for field in fields:
            field.value = self.visit(field.value)  # the format spec stays as written
        node.values = fields
        return node


def _mask_strings(tree: ast.AST) -> ast.AST:
    return _MaskStrings().visit(tree)


def string_literals(source: str) -> set[str]:
    """The string literals of some code (doctest prompts included), f-strings' literal parts included."""
    source = textwrap.dedent(source)
    if source.lstrip().startswith(">>>"):
        source = "\n".join(e.source for e in doctest.DocTestParser().get_examples(source))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def notebook_cells(path: Path) -> list[tuple[str, object]]:
    notebook = jupytext.read(path)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        cells.append(("code cell", (_code_key(source), None, cell.source)))
    return cells


def _describe(kind: str, line: int | None, source: str) -> str:
    where = f" (line {line})" if line else ""
    return f"{kind}{where}:\n{textwrap.indent(source.rstrip(), '    | ')}"


def _first_example(key_a: object, key_b: object, src_a: str) -> str:
    """For two doctest blocks: which example parts first, and how (its code, or its output)."""
    if not (isinstance(key_a, list) and isinstance(key_b, list)):
        return ""
    examples_a = doctest.DocTestParser().get_examples(textwrap.dedent(src_a))
    for n, (a, b) in enumerate(zip(key_a, key_b, strict=False)):
        if a != b:
            what = "its code" if a[0] != b[0] else f"its output (strings masked): {a[1]!r} / {b[1]!r}"
            return f": example {n + 1}, >>> {examples_a[n].source.strip()!r}, differs in {what}"
    return f": {len(key_a)} examples in es, {len(key_b)} in en"


def compare(relative: str, left: list, right: list) -> list[str]:
    problems = []
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        (kind_a, (key_a, line_a, src_a)), (kind_b, (key_b, line_b, src_b)) = a, b
        if kind_a != kind_b or key_a != key_b:
            detail = _first_example(key_a, key_b, src_a)
            problems.append(
                f"{relative}: block #{index} differs between the languages{detail}\n"
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
    if relative.endswith(".py"):
        problems = compare(relative, notebook_cells(es), notebook_cells(en))
    else:
        strings = page_strings(es) | page_strings(en)  # the labels of either language
        problems = compare(relative, page_items(es, strings), page_items(en, strings))
    assert not problems, "\n".join(problems)
