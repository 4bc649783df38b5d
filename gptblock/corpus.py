"""The training corpus: the prose of the site's own pages, as plain text.

``python -m gptblock.corpus docs training/corpus`` turns every Markdown page of ``docs/es`` and
``docs/en`` and the text cells of their jupytext notebooks (``notebooks/*.py``) into one ``.txt`` file
each, at the same relative path: ``docs/es/attention.md`` becomes ``training/corpus/es/attention.txt``.
The snapshot is frozen (committed) so that a trained model and its log stay reproducible while the
pages go on changing; run the command again to take a new one.

What is kept is what a reader reads as running text: headings, paragraphs, list items, block
quotes, the titles and bodies of admonitions, figure captions and footnotes. A paragraph that the
page wraps over several lines becomes one line, and paragraphs are separated by a blank line.
Inline markup is reduced to its text: ``[label](url)`` keeps the label, ```code``` and ``\\(math\\)``
keep what is inside, emphasis markers go. What is dropped is what is not prose: code blocks (with
the output they print), display maths, tables (mostly numbers and code names), raw HTML and diagrams,
images, HTML comments (the test directives), front matter and the navigation lines at the foot of
the pages.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

LANGUAGES = ("es", "en")
PROG = "python -m gptblock.corpus"

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*$")
_LIST_ITEM = re.compile(r"^([-*+]|\d+[.)])\s+(.*)$")
_ADMONITION = re.compile(r"^(?:!!!|\?\?\?\+?)\s*[\w-]+(?:\s+[\w-]+)*\s*(?:\"(.*)\")?\s*$")
_TAB = re.compile(r"^===\+?\s")
_RULE = re.compile(r"^(?:-{3,}|\*{3,}|_{3,})$")
_FOOTNOTE_DEF = re.compile(r"^\[\^[^\]]+\]:\s*(.*)$")
_CAPTION = re.compile(r"<figcaption[^>]*>(.*?)</figcaption>", re.S)

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]]+\]")
_INLINE_MATH = re.compile(r"\\\((.+?)\\\)")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_ATTR_LIST = re.compile(r"\{\s*[:.#][^}]*\}")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_NAVIGATION = re.compile(r"^[\s·|←→⟵⟶-]*$")


def markdown_prose(text: str) -> str:
    """The prose of a Markdown page: one paragraph per line, paragraphs separated by a blank line.

    Args:
        text: the page's Markdown source.

    Returns:
        The text a reader reads, without code, maths, tables, HTML or markup (see the module docstring).

    Example:
        >>> page = '''# Title
        ...
        ... A paragraph with **bold**, `code` and a [link](other.md),
        ... wrapped over two lines.
        ...
        ... ```python
        ... print("dropped")
        ... ```
        ...
        ... | a | table |
        ... | --- | --- |
        ... '''
        >>> print(markdown_prose(page))
        Title
        <BLANKLINE>
        A paragraph with bold, code and a link, wrapped over two lines.
    """
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines = lines[end + 1:]

    paragraphs: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    fence = ""  # the opening fence while inside a code block
    in_math = False
    for raw in lines:
        line = raw.strip()
        if fence:
            if line.startswith(fence[0] * len(fence)) and not line.strip(fence[0]):
                fence = ""
            continue
        if in_math:
            in_math = not (line.endswith("$$") or line.endswith("\\]"))
            continue
        if match := _FENCE.match(line):
            close()
            fence = match.group(1)
            continue
        if line.startswith(("$$", "\\[")):
            close()
            single = len(line) > 2 and (line.endswith("$$") or line.endswith("\\]"))
            in_math = not single
            continue
        if not line or _RULE.match(line) or _TAB.match(line) or line.startswith("|"):
            close()
            continue
        if line.startswith("<"):
            close()
            paragraphs.extend(caption for caption in _CAPTION.findall(line))
            continue
        if match := _ADMONITION.match(line):
            close()
            if match.group(1):
                paragraphs.append(match.group(1))
            continue
        if match := _HEADING.match(line):
            close()
            paragraphs.append(match.group(1))
            continue
        if match := _FOOTNOTE_DEF.match(line):
            close()
            current.append(match.group(1))
            continue
        if match := _LIST_ITEM.match(line):
            close()
            current.append(line)
            continue
        current.append(line.lstrip("> ").strip() if line.startswith(">") else line)
    close()

    prose = (_inline_text(p) for p in paragraphs if not _is_navigation(p))
    return "\n\n".join(p for p in prose if p)


def notebook_prose(text: str) -> str:
    """The prose of a jupytext percent notebook: its Markdown cells, through :func:`markdown_prose`.

    Args:
        text: the notebook's ``.py`` source (cells start with ``# %%``, text cells with ``# %% [markdown]``).

    Returns:
        The prose of the text cells, in order; code cells are dropped.

    Example:
        >>> print(notebook_prose('# %% [markdown]\\n# ## Heads\\n#\\n# Four heads.\\n\\n# %%\\nx = 1\\n'))
        Heads
        <BLANKLINE>
        Four heads.
    """
    cells = re.split(r"^# %%(.*)$", text, flags=re.M)
    markdown: list[str] = []
    for header, body in zip(cells[1::2], cells[2::2], strict=True):
        if "[markdown]" not in header:
            continue
        lines = [re.sub(r"^# ?", "", line) for line in body.splitlines() if line.startswith("#")]
        markdown.append("\n".join(lines))
    return markdown_prose("\n\n".join(markdown))


def _inline_text(paragraph: str) -> str:
    """A paragraph's text without inline markup; code spans are kept verbatim."""
    spans: list[str] = []

    def keep(match: re.Match) -> str:  # protect code from the emphasis rules (emb_dim, x*y)
        spans.append(match.group(2).strip())
        return f"\x00{len(spans) - 1}\x00"

    text = _CODE_SPAN.sub(keep, paragraph)
    text = _IMAGE.sub("", text)
    text = _FOOTNOTE_REF.sub("", text)
    for _ in range(2):  # a link inside emphasis, or emphasis inside a link
        text = _LINK.sub(r"\1", text)
        text = _STRONG.sub(r"\2", text)
        text = _EMPHASIS.sub(r"\2", text)
    text = _INLINE_MATH.sub(lambda m: m.group(1).strip(), text)
    text = _TAG.sub("", text)
    text = _ATTR_LIST.sub("", text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], text)
    return " ".join(text.split())


def _is_navigation(paragraph: str) -> bool:
    """A line made only of links and arrows, such as the previous/next links at the foot of a page."""
    return bool(_LINK.search(paragraph)) and bool(_NAVIGATION.match(_LINK.sub("", paragraph)))


def page_prose(path: Path) -> str:
    """The prose of one page (``.md``) or notebook (``.py``)."""
    text = path.read_text(encoding="utf-8")
    return notebook_prose(text) if path.suffix == ".py" else markdown_prose(text)


def site_sources(docs: Path) -> list[Path]:
    """The pages and notebooks of every language under ``docs``, in a fixed order."""
    sources: list[Path] = []
    for language in LANGUAGES:
        folder = docs / language
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not a folder: the docs folder needs es/ and en/")
        sources += sorted(folder.rglob("*.md"))
        sources += sorted(folder.glob("notebooks/*.py"))
    return sources


def write_snapshot(docs: str | Path, out: str | Path) -> list[Path]:
    """Write the prose of every page and notebook under ``docs`` to ``out``, one ``.txt`` file each.

    ``.txt`` files left in ``out/es`` and ``out/en`` from an older snapshot are removed, so that a page
    deleted from the site leaves the corpus too.

    Args:
        docs: the site's docs folder (with ``es/`` and ``en/``).
        out: the snapshot folder.

    Returns:
        The files written.

    Raises:
        FileNotFoundError: ``docs`` lacks ``es/`` or ``en/``.
    """
    docs, out = Path(docs), Path(out)
    written: list[Path] = []
    for source in site_sources(docs):
        target = (out / source.relative_to(docs)).with_suffix(".txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page_prose(source) + "\n", encoding="utf-8")
        written.append(target)
    for language in LANGUAGES:
        for stale in sorted((out / language).rglob("*.txt")):
            if stale not in written:
                stale.unlink()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gptblock.corpus DOCS OUT``: regenerate the corpus snapshot.

    Returns:
        The exit status: 0 on success, 1 when ``DOCS`` is not a site's docs folder, 2 for bad arguments.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write the prose of the site's pages (docs/es, docs/en and their notebooks) as plain text, "
                    "one .txt file per page, for training.",
    )
    parser.add_argument("docs", type=Path, help="the docs folder, holding es/ and en/")
    parser.add_argument("out", type=Path, help="the snapshot folder (its .txt files are replaced)")
    args = parser.parse_args(argv)
    try:
        written = write_snapshot(args.docs, args.out)
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in written)
    print(f"wrote {len(written)} files, {size:,} bytes, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
