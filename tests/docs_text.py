"""The site's pages and notebooks read as sequences of blocks, for the tests that hold the languages together.

A page (``docs/<lang>/X.md``) or a notebook (``docs/<lang>/notebooks/X.py``, jupytext percent format) is
parsed with markdown-it (CommonMark, tables, admonitions, TeX math, definition lists, footnotes) into a
flat sequence of :class:`Block`: headings, paragraphs, lists, table rows, admonitions, quotes, figures,
formulas, code blocks. Each block carries

* a *signature*: what must be the same in the two languages (the kind, the heading level, the item
  count, the rows and columns, the admonition type, the TeX, the Mermaid graph, the link targets);
* its *numbers*, read with the conventions of its language (Spanish 0,80 and 2.360.064 or 2 360 064,
  English 0.80 and 2,360,064; inside `code spans`, Python's);
* where it is (line, section heading) and its text, to show an editor both sides of a difference.

``python tests/stamp_translations.py`` and the tests ``tests/test_docs_*.py`` use this module;
``tests/test_docs_text.py`` checks that it sees each kind of difference.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
import textwrap
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path

import jupytext
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.texmath import texmath_plugin

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCE, TARGET = "es", "en"  # Spanish is the source, English its translation
SHARED_FOLDERS = ("assets/",)  # served once for both languages (docs/assets)
LANGUAGES = (SOURCE, TARGET)


def twin_files(language: str) -> set[str]:
    """Pages and notebooks of one language, as paths relative to ``docs/<language>``."""
    base = DOCS / language
    pages = {p.relative_to(base).as_posix() for p in base.rglob("*.md")}
    notebooks = {p.relative_to(base).as_posix() for p in base.glob("**/notebooks/*.py")}
    return pages | notebooks


def is_notebook(relative: str) -> bool:
    return relative.endswith(".py")


# --------------------------------------------------------------------------------------------------
# Numbers


@dataclass(frozen=True)
class Number:
    """A number as written (``text``, ``start`` in its text) and its value in a canonical spelling
    (``value``: ``-2360064``, ``0.80``, ``2.4e-3``), which keeps the digits written: 0,80 and 0.8 differ."""

    text: str
    value: str
    start: int = 0
    percent: bool = False  # followed by "%"
    decimal_point: bool = False  # Spanish prose writing a decimal with a point (0.5 for 0,5): a slip

    def decimal(self) -> Decimal:
        return Decimal(self.value)


_SIGN = "(?:(?<![\\w.,)\\]])[-\u2212])?"  # a minus sign, unless it joins a range such as 3-5
_NOT_AFTER = r"(?<![\w.,])"  # not the tail of an identifier (gpt2, W_1) or of another number
_NOT_BEFORE = r"(?!\d)"
_SPACES = "[ \u00a0\u202f\u2009]"
_EXP = r"(?P<exp>[eE][-+]?\d+)?"
_PATTERNS = {
    # Spanish: 2.360.064, 2 360 064 (thousands), 0,80 (decimals); a lone 0.80 is read as 0.80 too. As the
    # RAE writes them, spaces group only numbers of five digits or more: "GPT-2 124M" is two numbers.
    "es": re.compile(
        _SIGN + _NOT_AFTER + rf"(?P<int>[1-9]\d{{0,2}}(?:\.\d{{3}})+(?!\d)"
        rf"|(?:[1-9]\d{{1,2}}(?:{_SPACES}\d{{3}})+|[1-9](?:{_SPACES}\d{{3}}){{2,}})(?![\d.,]\d)|\d+)"
        r"(?P<frac>[,.]\d+)?" + _EXP + _NOT_BEFORE
    ),
    # English: 2,360,064 (thousands), 0.80 (decimals).
    "en": re.compile(
        _SIGN + _NOT_AFTER + r"(?P<int>[1-9]\d{0,2}(?:,\d{3})+(?!\d)|\d+)(?P<frac>\.\d+)?" + _EXP + _NOT_BEFORE
    ),
    # Python literals and printed values: 1_000, 0.80, 1e-5, and 163,009,536 as printed by f"{n:,}".
    "code": re.compile(
        _SIGN + _NOT_AFTER + r"(?P<int>[1-9]\d{0,2}(?:,\d{3})+(?!\d)|\d[\d_]*)(?P<frac>\.\d+)?" + _EXP + _NOT_BEFORE
    ),
}
_TEX_POWER = re.compile(r"(?<![\w.])10\^\{?(?P<power>[-+]?\d+)\}?")  # 10^{-5} in TeX: 1e-5
_SPANISH_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")
_VERSION = re.compile(r"(?<![\w.,])\d+(?:\.\d+){2,}(?![\w.]*\d)")  # 2.13.0, one number in any language
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile("[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
# After these words, a Spanish number with a point is a figure number or a version, not a decimal.
_NOT_DECIMAL = re.compile(
    r"(?:Figura|figura|Fig\.|Ejercicio|ejercicio|Python|torch|PyTorch|versión|transformers|sección|capítulo)\s*$"
)
# 10⁻⁵ alone is 1e-5 (after a multiplication sign, _TIMES_TEN reads it with the number before).
_TEN_TO_THE = re.compile("(?<![\\w.,])(?<![\u00d7x\u00b7] )(?<![\u00d7x\u00b7])10(?P<power>[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_TIMES_TEN = re.compile("\\s*[\u00d7x\u00b7]\\s*10(?P<power>[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")  # 2,4 (times) 10⁻³


def find_numbers(text: str, convention: str) -> list[Number]:
    """The numbers written in ``text`` under ``convention`` (``"es"``, ``"en"`` or ``"code"``), in order.

    A version (2.13.0) is one number; 2,4 x 10⁻³ (with a multiplication sign) is one number (2.4e-3),
    and so are 10⁻⁵ and 10^{-5} (TeX); other superscripts (2²⁰)
    are numbers of their own. Digits glued to letters or underscores (``gpt2``, ``W_1``) are part of
    a name; 124M and GPT-2 hold the numbers 124 and 2.
    """
    numbers: list[Number] = []
    for match in _VERSION.finditer(text):
        if convention == "es" and _SPANISH_THOUSANDS.fullmatch(match.group(0)):
            continue  # 2.360.064: thousands, read below
        numbers.append(Number(match.group(0), match.group(0), match.start()))
        text = text[: match.start()] + " " * len(match.group(0)) + text[match.end() :]
    for match in _TEX_POWER.finditer(text):
        numbers.append(Number(match.group(0), "1e" + match.group("power").lstrip("+"), match.start()))
    text = _TEX_POWER.sub(lambda m: " " * len(m.group(0)), text)
    for match in _TEN_TO_THE.finditer(text):
        power = match.group("power").translate(_SUPERSCRIPTS).lstrip("+")
        numbers.append(Number(match.group(0), "1e" + power, match.start()))
    text = _TEN_TO_THE.sub(lambda m: " " * len(m.group(0)), text)
    taken = [False] * len(text)
    for match in _PATTERNS[convention].finditer(text):
        if taken[match.start()]:
            continue  # the 10 of 2,4 x 10⁻³
        whole = match.group(0)
        digits = re.sub(r"[^\d]", "", match.group("int")).lstrip("0") or "0"
        frac = match.group("frac")
        value = digits + ("." + frac[1:] if frac else "") + (match.group("exp") or "").lower()
        end = match.end()
        power = _TIMES_TEN.match(text, end)
        if power and not match.group("exp"):
            value += "e" + power.group("power").translate(_SUPERSCRIPTS).replace("+", "")
            end = power.end()
            whole = text[match.start() : end]
        if whole[0] in "-\u2212":
            value = "-" + value
        taken[match.start() : end] = [True] * (end - match.start())
        percent = text[end:].lstrip(" \u00a0\u202f")[:1] == "%"
        point = convention == "es" and bool(frac) and frac[0] == "." and not _NOT_DECIMAL.search(text[: match.start()])
        numbers.append(Number(whole, value, match.start(), percent, point))
    for match in _SUPERSCRIPT_RUN.finditer(text):
        if not taken[match.start()]:
            numbers.append(Number(match.group(0), match.group(0).translate(_SUPERSCRIPTS), match.start()))
    return sorted(numbers, key=lambda n: n.start)


# --------------------------------------------------------------------------------------------------
# Blocks


@dataclass
class Block:
    """One block of a page: what must match its twin (``signature``) and what to show about it."""

    kind: str  # "heading", "paragraph", "list item", "list", "table", "row", "admonition", "figure"...
    shape: tuple = ()  # level, item count, rows x columns, admonition type, TeX, Mermaid graph...
    line: int | None = None  # 1-based, in the source file
    section: str = ""  # the heading above it ("" before the first heading)
    part: int = 0  # the index of its section in Page.sections
    text: str = ""  # readable text, for messages
    links: tuple[str, ...] = ()  # link and image targets, normalised (see _link_key)
    numbers: list[Number] = field(default_factory=list)  # in the text, language conventions applied
    link_numbers: list[Number] = field(default_factory=list)  # those of them inside link texts

    @property
    def signature(self) -> tuple:
        return (self.kind, self.shape, self.links)

    def describe(self) -> str:
        """``paragraph (line 12)`` or ``list of 3 items (line 40)``, as an editor would look for it."""
        what = self.kind
        if self.kind == "heading":
            what = f"heading h{self.shape[0]}"
        elif self.kind == "list":
            what = f"{self.shape[0]} list of {self.shape[1]} items"
        elif self.kind == "table":
            what = f"table of {self.shape[0]} rows x {self.shape[1]} columns"
        elif self.kind in ("admonition", "code", "diagram"):
            what = f"{self.kind} {' '.join(str(s) for s in self.shape)}"
        elif self.kind == "mermaid":
            nodes, edges = self.shape[0], self.shape[1]
            what = f"Mermaid diagram of {len(nodes)} nodes and {len(edges)} edges"
        where = f" (line {self.line})" if self.line else ""
        return f"{what}{where}"


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.use(admon_plugin).use(deflist_plugin).use(footnote_plugin)
    md.use(dollarmath_plugin, allow_space=True, double_inline=False)
    md.use(texmath_plugin, delimiters="brackets")  # \( ... \) and \[ ... \], as pymdownx.arithmatex
    return md


_MD = _markdown()
# A region written by a program in both languages (the benchmark's tables): <!-- name:start --> ...
# <!-- name:end -->. Its blocks are compared like any others but left out of the translation stamps.
_GENERATED = re.compile(r"<!--\s*[\w-]+:(?P<edge>start|end)\s*-->$")
# Material's content tabs (=== "Title") nest like admonitions: read them as admonitions of type "tab".
_TAB = re.compile(r'^(?P<indent>[ \t]*)===(?P<plus>\+?)[ \t]+(?P<title>".*")[ \t]*$', re.MULTILINE)


def _inline_parts(token: Token) -> tuple[list[tuple[str, str]], list[str]]:
    """An inline token as (text, kind) parts, kind being "text", "code", "math" or "link text" (an
    image counts by its alt text), and its link and image targets."""
    parts: list[tuple[str, str]] = []
    links: list[str] = []
    in_link = 0
    for child in token.children or []:
        if child.type == "link_open":
            links.append(str(child.attrs.get("href", "")))
            in_link += 1
        elif child.type == "link_close":
            in_link -= 1
        elif child.type == "image":
            links.append(str(child.attrs.get("src", "")))
            parts.append((child.content, "text"))
        elif child.type == "code_inline":
            parts.append((child.content, "code"))
        elif child.type in ("math_inline", "math_single", "math_inline_double"):
            parts.append((child.content, "math"))
        elif child.type in ("softbreak", "hardbreak"):
            parts.append((" ", "text"))
        elif child.type == "html_inline":
            continue
        elif child.content:
            parts.append((child.content, "link text" if in_link else "text"))
    return parts, links


def _numbers_of(parts: list[tuple[str, str]], language: str) -> tuple[list[Number], list[Number]]:
    numbers: list[Number] = []
    in_links: list[Number] = []
    for text, kind in parts:
        found = find_numbers(text, "code" if kind in ("code", "math") else language)
        numbers += found
        if kind == "link text":
            in_links += found
    return numbers, in_links


def _text_of(parts: list[tuple[str, str]]) -> str:
    return "".join(f"`{text}`" if kind == "code" else text for text, kind in parts)


_HTML_TAG = re.compile(r"<(?P<close>/?)(?P<name>[a-zA-Z][\w-]*)(?P<attrs>[^>]*)>")
_HTML_ATTR = re.compile(r'(?P<name>[\w-]+)\s*=\s*"(?P<value>[^"]*)"')
_STRUCTURAL_TAGS = {"figure", "figcaption", "img", "details", "summary", "div", "table", "video", "iframe", "picture"}


def _html_blocks(content: str, language: str) -> list[tuple[str, tuple, str, list[str], list[Number]]]:
    """The structural tags of an HTML block (figure, figcaption, img, details...) with their targets,
    and the text inside (a caption), with its numbers."""
    shape = []
    links = []
    for match in _HTML_TAG.finditer(content):
        name = match.group("name").lower()
        if name not in _STRUCTURAL_TAGS:
            continue
        attrs = dict((a.group("name"), a.group("value")) for a in _HTML_ATTR.finditer(match.group("attrs")))
        shape.append(f"{match.group('close')}{name}")
        for attr in ("src", "href"):
            if attr in attrs:
                links.append(attrs[attr])
    text = " ".join(_HTML_TAG.sub(" ", content).split())
    alt = " ".join(a.group("value") for a in _HTML_ATTR.finditer(content) if a.group("name") in ("alt", "title"))
    readable = " ".join(filter(None, [text, alt]))
    return [("html", tuple(shape), readable, links, find_numbers(readable, language))]


_MERMAID_LABEL = re.compile(r'"[^"]*"|\|[^|]*\|')
_MERMAID_SHAPE = re.compile(r"(?<=\w)(\(\(|\[\[|\[\(|\(\[|\{\{|[\[({>])[^\])}]*(\)\)|\]\]|\)\]|\]\)|\}\}|[\])}])")
_MERMAID_ARROW = re.compile(r"<?(?:-{2,}|-\.+-|={2,})(?:>|x|o)?|<?-\.+->|\.->")
_MERMAID_SKIP = re.compile(
    r"^\s*(?:%%|acc(?:Title|Descr)\s*:|classDef\b|class\b|style\b|linkStyle\b|click\b|direction\b|end\s*$)"
)


def mermaid_graph(source: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], list[str]]:
    """A Mermaid flowchart's node ids, its edges (source id, target id) and its labels.

    Ids are the same in both languages (``ATT["Atención..."]`` / ``ATT["Attention..."]``); labels are
    translated, and only their numbers are compared.
    """
    nodes: dict[str, None] = {}
    edges: list[tuple[str, str]] = []
    labels: list[str] = []
    for line in source.splitlines()[1:]:  # the first line is the diagram type (flowchart TB)
        if not line.strip() or _MERMAID_SKIP.match(line):
            continue
        labels += [label.strip('"|') for label in _MERMAID_LABEL.findall(line)]
        bare = _MERMAID_LABEL.sub("", line)
        labels += [m.group(0)[1:-1] for m in _MERMAID_SHAPE.finditer(bare) if m.group(0).strip("()[]{}> ")]
        bare = _MERMAID_SHAPE.sub(" ", bare)
        if bare.strip().startswith("subgraph"):
            ids = re.findall(r"[A-Za-z_][\w]*", bare.strip()[len("subgraph") :])
            nodes.update(dict.fromkeys(ids[:1]))
            continue
        chain = [re.findall(r"[A-Za-z_][\w]*", piece) for piece in _MERMAID_ARROW.split(bare)]
        for group in chain:
            nodes.update(dict.fromkeys(group))
        for left, right in itertools.pairwise(chain):
            edges += [(a, b) for a in left for b in right]
    return tuple(sorted(nodes)), tuple(sorted(edges)), labels


_TEXT_IN_TEX = re.compile(r"\\(?:text|textrm|textit|textbf|mbox|operatorname)\s*\{[^{}]*\}")


def tex_key(tex: str) -> str:
    """A display formula as compared between languages: words inside ``\\text{...}`` may be translated."""
    masked = _TEXT_IN_TEX.sub(lambda m: m.group(0).split("{", 1)[0] + "{…}", tex)
    return " ".join(masked.split())


def _strip_shell_comments(source: str) -> str:
    lines = [re.sub(r"(^|\s)#(?![!{]).*$", "", line).rstrip() for line in source.splitlines()]
    return "\n".join(line for line in lines if line.strip())


_HEADING_ID = re.compile(r"\s*\{[^}]*#(?P<id>[\w-]+)[^}]*\}\s*$")


def slugify(text: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default ``slugify``)."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


@dataclass
class Section:
    """From one heading (any level) to the next; the text before the first heading has heading ""."""

    heading: str
    chunks: list[tuple[int, str]] = field(default_factory=list)  # (line, source) of each top-level block
    code_numbers: list[Number] = field(default_factory=list)  # in its code, outputs and invisible blocks


@dataclass
class Page:
    """A page or notebook of one language, read."""

    relative: str
    language: str
    path: Path
    blocks: list[Block]
    sections: list[Section]
    anchors: list[str]  # heading anchors, in order (index = heading number)

    @property
    def code_numbers(self) -> list[Number]:
        return [number for section in self.sections for number in section.code_numbers]


def _anchors(headings: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    anchors = []
    for heading in headings:
        custom = _HEADING_ID.search(heading)
        slug = custom.group("id") if custom else slugify(heading)
        if slug in seen:
            seen[slug] += 1
            slug = f"{slug}_{seen[slug]}"
        else:
            seen[slug] = 0
        anchors.append(slug)
    return anchors


class _Reader:
    """Walks markdown-it's tokens of one Markdown text and appends its blocks."""

    def __init__(self, language: str, line_offset: int, sections: list[Section]) -> None:
        self.language = language
        self.line_offset = line_offset
        self.sections = sections  # shared with the other cells of a notebook
        self.blocks: list[Block] = []
        self.headings: list[str] = []
        self.generated = False  # inside <!-- name:start --> ... <!-- name:end -->

    @property
    def section(self) -> Section:
        return self.sections[-1]

    def line(self, token: Token) -> int | None:
        return token.map[0] + 1 + self.line_offset if token.map else None

    def add(self, kind: str, token: Token | None, shape: tuple = (), parts=(), links=(), **extra) -> Block:
        numbers, link_numbers = _numbers_of(list(parts), self.language)
        block = Block(
            kind=kind,
            shape=shape,
            line=self.line(token) if token is not None else None,
            section=self.section.heading,
            part=len(self.sections) - 1,
            text=_text_of(list(parts)),
            links=tuple(links),
            numbers=numbers,
            link_numbers=link_numbers,
            **extra,
        )
        self.blocks.append(block)
        return block

    def read(self, text: str) -> None:
        text = _TAB.sub(lambda m: f'{m.group("indent")}!!! tab {m.group("title")}', text)
        lines = text.splitlines()
        tokens = _MD.parse(text)
        index = 0
        list_item_start = False
        while index < len(tokens):
            token = tokens[index]
            kind = token.type
            if kind == "heading_open":
                self.sections.append(Section(tokens[index + 1].content.strip()))
            if kind == "html_block" and (marker := _GENERATED.match(token.content.strip())):
                self.generated = marker.group("edge") == "start"
            elif token.level == 0 and token.map and not kind.endswith("_close") and not self.generated:
                chunk = " ".join(" ".join(lines[token.map[0] : token.map[1]]).split())
                self.section.chunks.append((self.line(token) or 0, chunk))
            if kind == "heading_open":
                inline = tokens[index + 1]
                self.headings.append(self.section.heading)
                parts, links = _inline_parts(inline)
                self.add("heading", token, (int(token.tag[1]),), parts, links)
                index += 3
                continue
            if kind == "paragraph_open":
                inline = tokens[index + 1]
                parts, links = _inline_parts(inline)
                self.add("list item" if list_item_start else "paragraph", token, (), parts, links)
                list_item_start = False
                index += 3
                continue
            if kind in ("bullet_list_open", "ordered_list_open"):
                items = _count_children(tokens, index, "list_item_open")
                self.add("list", token, ("ordered" if kind == "ordered_list_open" else "bulleted", items))
            elif kind == "list_item_open":
                list_item_start = True
            elif kind == "dl_open":
                self.add("definition list", token, (_count_children(tokens, index, "dt_open"),))
            elif kind in ("dt_open", "dd_open"):
                list_item_start = False
            elif kind == "table_open":
                index = self._table(tokens, index)
                continue
            elif kind == "admonition_open":
                tag = token.meta.get("tag", "")
                title = tokens[index + 2] if tokens[index + 1].type == "admonition_title_open" else None
                parts, links = _inline_parts(title) if title is not None else ([], [])
                self.add("admonition", token, (token.markup, tag), parts, links)
                index += 4 if title is not None else 1  # past the title: open, inline, close
                continue
            elif kind == "blockquote_open":
                self.add("quote", token)
            elif kind == "hr":
                self.add("rule", token)
            elif kind == "fence":
                self._fence(token)
            elif kind == "code_block":
                self.add("code", token, ("indented",))
            elif kind in ("math_block", "math_block_eqno", "math_block_end"):
                self.add("formula", token, (tex_key(token.content),), [(token.content, "math")])
            elif kind == "html_block":
                if token.content.lstrip().startswith("<!--"):
                    # Sybil's directives and invisible code blocks: what they assert counts as code.
                    self.section.code_numbers += find_numbers(token.content, "code")
                else:
                    for _, shape, readable, links, numbers in _html_blocks(token.content, self.language):
                        block = self.add("html", token, shape, [], links)
                        block.text, block.numbers = readable, numbers
            elif kind == "footnote_block_open":
                self.add("footnotes", token, (_count_children(tokens, index, "footnote_open"),))
            index += 1

    def _table(self, tokens: list[Token], index: int) -> int:
        table = tokens[index]
        rows: list[tuple[Token, list]] = []
        columns = 0
        index += 1
        while tokens[index].type != "table_close":
            token = tokens[index]
            if token.type == "tr_open":
                rows.append((token, []))
            elif token.type == "inline":
                rows[-1][1].append(_inline_parts(token))
            index += 1
        columns = max((len(cells) for _, cells in rows), default=0)
        table_block = self.add("table", table, (len(rows), columns))
        for row_token, cells in rows:
            parts: list[tuple[str, str]] = []
            links: list[str] = []
            for n, (cell_parts, cell_links) in enumerate(cells):
                if n:
                    parts.append((" | ", "text"))
                parts += cell_parts
                links += cell_links
            row = self.add("row", row_token if row_token.map else table, (), parts, links)
            table_block.text = table_block.text or f"header: {row.text}"
        return index + 1

    def _fence(self, token: Token) -> None:
        language = (re.match(r"\{?\s*\.?([\w+-]*)", token.info.strip()).group(1) or "").lower()
        if language == "mermaid":
            nodes, edges, labels = mermaid_graph(token.content)
            parts = [(label, "text") for label in labels]
            block = self.add("mermaid", token, (nodes, edges), parts)
            block.text = " / ".join(labels)
        elif language in PYTHON_LANGUAGES:
            self.section.code_numbers += find_numbers(token.content, "code")
            self.add("code", token, ("python",))  # compared by tests/test_docs_parity.py
        elif language in SHELL_LANGUAGES:
            self.section.code_numbers += find_numbers(token.content, "code")
            # Commands: the same in both languages, comments aside.
            self.add("code", token, (language, _strip_shell_comments(token.content)))
        else:
            # Other listings (text diagrams...) may be translated; their numbers are compared.
            block = self.add("diagram", token, (language or "text",), [(token.content, "code")])
            block.text = token.content


def _count_children(tokens: list[Token], index: int, child: str) -> int:
    level = tokens[index].level + 1
    close = tokens[index].type.replace("_open", "_close")
    count = 0
    for token in tokens[index + 1 :]:
        if token.type == close and token.level == level - 1:
            break
        if token.type == child and token.level == level:
            count += 1
    return count


PYTHON_LANGUAGES = {"python", "py", "python3", "pycon"}
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "zsh"}


@dataclass
class Cell:
    kind: str  # "markdown" or "code"
    source: str
    line: int  # 1-based line of the cell's first source line


def notebook_cells(path: Path) -> list[Cell]:
    """The cells of a jupytext percent notebook, with the line where each one's source starts."""
    notebook = jupytext.read(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    markers = [n for n, line in enumerate(lines) if line.startswith("# %%")]
    cells = []
    for n, cell in enumerate(notebook.cells):
        start = markers[n] + 2 if len(markers) == len(notebook.cells) else 0
        cells.append(Cell(cell.cell_type, cell.source, start))
    return cells


def read_markdown(text: str, language: str) -> list[Block]:
    """The blocks of a Markdown text, links as written (``tests/test_docs_text.py`` tries the reader)."""
    reader = _Reader(language, 0, [Section("")])
    reader.read(text)
    return reader.blocks


@cache
def read_page(relative: str, language: str) -> Page:
    """Page ``docs/<language>/<relative>`` (Markdown or notebook), read. Cached: the files do not change
    during a test session."""
    path = DOCS / language / relative
    sections = [Section("")]
    if not is_notebook(relative):
        reader = _Reader(language, 0, sections)
        reader.read(path.read_text(encoding="utf-8"))
        blocks, headings = reader.blocks, reader.headings
    else:
        blocks, headings = [], []
        for cell in notebook_cells(path):
            part = len(sections) - 1
            if cell.kind == "markdown":
                reader = _Reader(language, cell.line - 1, sections)
                blocks.append(Block("markdown cell", (), cell.line, sections[-1].heading, part))
                reader.read(cell.source)
                blocks += reader.blocks
                headings += reader.headings
            else:
                blocks.append(Block("code cell", (), cell.line, sections[-1].heading, part, text=cell.source))
                sections[-1].chunks.append((cell.line, " ".join(cell.source.split())))
                sections[-1].code_numbers += find_numbers(cell.source, "code")
    page = Page(relative, language, path, blocks, sections, _anchors(headings))
    for block in page.blocks:
        url_relative = is_notebook(relative) or block.kind == "html"
        block.links = tuple(_link_key(relative, language, link, url_relative) for link in block.links)
    return page


def page_url(relative: str, language: str) -> str:
    """The address of a page on the site: ``/attention/`` in Spanish, ``/en/attention/`` in English."""
    stem = relative.rsplit(".", 1)[0]
    stem = "" if stem == "index" else stem.removesuffix("/index")
    prefix = "" if language == SOURCE else f"/{language}"
    return f"{prefix}/" + (stem + "/" if stem else "")


def _link_key(relative: str, language: str, href: str, url_relative: bool) -> str:
    """A link target as compared between languages.

    Markdown links in pages are paths to files, which MkDocs resolves: they compare as written. Raw
    HTML (``<img src>``) and notebooks' links are addresses relative to the page's address, one level
    deeper in English (/en/...): they compare as the address they reach, language prefix removed. An
    anchor into a page of the site (``#la-cache-kv`` / ``#the-kv-cache``) is translated with its
    heading, so it compares as the heading's position (``generation.md#heading-7``); an anchor that
    names no heading compares as written. External addresses compare as written.
    """
    if re.match(r"^[a-z][\w+.-]*:", href) or href.startswith("/"):
        return href
    if url_relative:
        path, _, anchor = href.partition("#")
        resolved = _normalise(page_url(relative, language) + path)
        if resolved is None:
            return f"{href} (outside the site)"
        resolved += "/" if path.endswith("/") and resolved else ""
        english = TARGET + "/"
        if resolved.startswith(english):
            resolved = resolved[len(english) :] if language == TARGET else f"{resolved} (the {TARGET} site)"
        elif language == TARGET and not resolved.startswith(SHARED_FOLDERS):
            resolved = f"{resolved} (the {SOURCE} site)"
        return "/" + resolved + (f"#{anchor}" if anchor else "")
    if "#" not in href:
        return href
    target, anchor = href.split("#", 1)
    if target and not target.endswith((".md", ".py")):
        return href
    target_path = _normalise((Path(relative).parent / target).as_posix() if target else relative)
    if target_path and (DOCS / language / target_path).is_file():
        anchors = read_page(target_path, language).anchors
        if anchor in anchors:
            return f"{target}#heading-{anchors.index(anchor) + 1}"
    return href


def _normalise(path: str) -> str | None:
    """``a/b/../c`` as ``a/c``; None when ``..`` climbs above the root."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


# --------------------------------------------------------------------------------------------------
# Sections and their stamps (translation provenance)


def sections(page: Page) -> list[tuple[str, list[tuple[int, str]]]]:
    """The page's sections in order, as (heading, [(line, normalised source of each top-level block)]).

    A block's source is normalised by collapsing white space, so that re-wrapping a paragraph changes
    nothing. Generated regions (``<!-- name:start -->`` ... ``<!-- name:end -->``) are left out: a
    program writes them in both languages. An empty top of page (the page starts with its title) is
    left out too.
    """
    return [(section.heading, section.chunks) for section in page.sections if section.chunks]


def chunk_hash(chunk: str) -> str:
    return hashlib.sha256(chunk.encode("utf-8")).hexdigest()[:12]


def section_stamps(page: Page) -> list[dict]:
    """What the stamp of a translation records: each Spanish section's heading and its blocks' hashes."""
    return [{"section": heading, "blocks": [chunk_hash(c) for _, c in chunks]} for heading, chunks in sections(page)]


def shorten(text: str, width: int = 300, around: str = "") -> str:
    """``text`` on one line, cut to about ``width`` characters, keeping ``around`` in view if given."""
    text = " ".join(text.split())
    if not text:
        return "(no text)"
    focus = text.find(around) if around else -1
    if len(text) <= width or focus < width // 2:
        return textwrap.shorten(text, width=width, placeholder=" […]")
    start = max(0, min(focus - width // 2, len(text) - width))
    end = start + width
    return ("[…] " if start else "") + text[start:end] + (" […]" if end < len(text) else "")


# --------------------------------------------------------------------------------------------------
# Comparing twins


def _key(block: Block) -> str:
    return repr(block.signature)


def align(source: list[Block], target: list[Block]) -> list[tuple[str, int, int, int, int]]:
    """difflib's opcodes between two block sequences, compared by signature."""
    matcher = difflib.SequenceMatcher(a=[_key(b) for b in source], b=[_key(b) for b in target], autojunk=False)
    return matcher.get_opcodes()


def show(language: str, block: Block | None, width: int = 400, around: str = "") -> str:
    if block is None:
        return f"  {language}: (end of page)"
    return f"  {language}: {block.describe()}: {shorten(block.text, width, around)}"


def where(relative: str, es_block: Block | None, en_block: Block | None) -> str:
    sections = [f"«{b.section}»" if b and b.section else "(top of page)" for b in (es_block, en_block)]
    return f"{relative}, section {sections[0]} / {sections[1]}"


def _difference(es: Block, en: Block) -> str:
    if es.kind != en.kind:
        return f"a {es.kind} in docs/{SOURCE} where docs/{TARGET} has a {en.kind}"
    if es.shape != en.shape:
        if es.kind == "heading":
            return f"heading level h{es.shape[0]} in docs/{SOURCE}, h{en.shape[0]} in docs/{TARGET}"
        if es.kind == "mermaid":
            lines = []
            for name, a, b in (("nodes", es.shape[0], en.shape[0]), ("edges", es.shape[1], en.shape[1])):
                if a != b:
                    only_es, only_en = sorted(set(a) - set(b)), sorted(set(b) - set(a))
                    lines.append(f"{name} only in {SOURCE}: {only_es}; only in {TARGET}: {only_en}")
            return "the diagrams differ: " + "; ".join(lines)
        return f"{es.kind} differs: {es.shape!r} in docs/{SOURCE}, {en.shape!r} in docs/{TARGET}"
    return f"the link targets differ: {list(es.links)} in docs/{SOURCE}, {list(en.links)} in docs/{TARGET}"


def structure_problem(relative: str) -> str | None:
    """The first place where docs/en/<relative> parts from docs/es/<relative>, described; None if none."""
    es, en = read_page(relative, SOURCE).blocks, read_page(relative, TARGET).blocks
    for tag, i1, i2, j1, j2 in align(es, en):
        if tag == "equal":
            continue
        es_block = es[i1] if i1 < len(es) else None
        en_block = en[j1] if j1 < len(en) else None
        if tag == "delete":
            what = f"docs/{SOURCE} has {i2 - i1} block(s) here that docs/{TARGET} lacks"
        elif tag == "insert":
            what = f"docs/{TARGET} has {j2 - j1} block(s) here that docs/{SOURCE} lacks"
        else:
            what = _difference(es[i1], en[j1])
        extra = ""
        if tag == "delete":
            extra = "\n" + "\n".join(show(f"{SOURCE} (missing in {TARGET})", b) for b in es[i1:i2][:3])
        elif tag == "insert":
            extra = "\n" + "\n".join(show(f"{TARGET} (not in {SOURCE})", b) for b in en[j1:j2][:3])
        return (
            f"{where(relative, es_block, en_block)}: the two languages part at block #{i1 + 1}: {what}\n"
            f"{show(SOURCE, es_block)}\n{show(TARGET, en_block)}{extra}"
        )
    return None


def _values(block: Block) -> Counter:
    return Counter(n.value for n in block.numbers)


def number_problems(relative: str) -> list[str]:
    es, en = read_page(relative, SOURCE).blocks, read_page(relative, TARGET).blocks
    problems = []
    for tag, i1, i2, j1, j2 in align(es, en):
        if tag != "equal":
            continue  # tests/test_docs_structure.py reports where the blocks part
        for es_block, en_block in zip(es[i1:i2], en[j1:j2], strict=True):
            a, b = _values(es_block), _values(en_block)
            if a != b:
                only_es = sorted((a - b).elements())
                only_en = sorted((b - a).elements())
                problems.append(
                    f"{where(relative, es_block, en_block)}: the numbers differ "
                    f"(only in {SOURCE}: {only_es}; only in {TARGET}: {only_en})\n"
                    f"{show(SOURCE, es_block, around=_first_text(es_block, only_es))}\n"
                    f"{show(TARGET, en_block, around=_first_text(en_block, only_en))}"
                )
    return problems


def _first_text(block: Block, values: list[str]) -> str:
    """How the first of ``values`` is written in ``block``, to show the text around it."""
    return next((n.text for n in block.numbers if n.value in values), "")
