"""pytest runs the examples: every Python block of every page in docs/ and every docstring example.

* Pages (``docs/**/*.md``, both languages): each fenced block whose language is ``python`` runs, and
  a block that starts with ``>>>`` is a doctest whose printed output is compared. Unlike Sybil's
  stock Markdown parser, fences with attributes (```` ```python title="x.py" ````) and the ``py`` and
  ``pycon`` spellings run too instead of being skipped silently; ``tests/test_docs_fences.py``
  checks that every fence of the pages was collected. Directives in HTML comments:
  ``<!-- skip: next -->``, ``<!-- invisible-code-block: python -->``, ``<!-- clear-namespace -->``.
  The blocks of one page share one namespace; pages do not share.
* Docstrings of ``gptblock/*.py``: their ``>>>`` examples.

Both use ``ELLIPSIS | NORMALIZE_WHITESPACE``. The site's notebooks (``docs/*/notebooks/*.py``) are
run by ``tests/test_docs_notebooks.py``.
"""

from __future__ import annotations

import os
import re
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.parsers.abstract import AbstractCodeBlockParser
from sybil.parsers.abstract.codeblock import PythonDocTestOrCodeBlockParser
from sybil.parsers.markdown import ClearNamespaceParser, SkipParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer
from sybil.parsers.rest import DocTestParser

ROOT = Path(__file__).resolve().parent
OPTIONFLAGS = ELLIPSIS | NORMALIZE_WHITESPACE

# The info string of a Python fence: the language, then anything (attributes) after a space.
PYTHON_LANGUAGES = ("python", "py", "pycon", "python3")
PYTHON_FENCE_INFO = re.compile(
    r"[ \t]*\{?\.?(?P<language>" + "|".join(PYTHON_LANGUAGES) + r")\b(?![-.])[^\n]*$\n", re.MULTILINE
)

# The read-only material beside the checkout (in CI, a sibling folder of the clone): the one place
# the tests find it. The pages' examples and the tokenizer tests read the tokenizer through the
# environment variable; the tests that need a file ask for the fixtures below.
SHARED = ROOT.parent / "shared"
TOKENIZER_DIR = SHARED / "gpt2-tokenizer"
SEED_FILE = SHARED / "seed" / "000_5d20c83c76bf70d9.txt"
if TOKENIZER_DIR.is_dir() and not os.environ.get("GPTBLOCK_TOKENIZER_DIR"):
    os.environ["GPTBLOCK_TOKENIZER_DIR"] = str(TOKENIZER_DIR)
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many worker processes ``-n auto`` (in pyproject.toml's addopts) starts.

    A whole run (``python -m pytest``, with or without ``-m``/``-k``): one per core, at most four (each
    worker imports torch and collects every test; the tests run one intra-op thread each,
    tests/conftest.py). A command line that names files or folders runs them in this process: starting
    workers would cost more than it saves.
    """
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


@pytest.fixture(scope="session")
def tokenizer_dir() -> Path:
    """The folder with GPT-2's vocab.bpe and encoder.json; the test is skipped without it."""
    if not (TOKENIZER_DIR / "vocab.bpe").is_file():
        pytest.skip(f"the GPT-2 tokenizer files are not in {TOKENIZER_DIR} (they sit beside the repository in CI)")
    return TOKENIZER_DIR


@pytest.fixture
def tokenizer_env(tokenizer_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tokenizer_dir``, with ``GPTBLOCK_TOKENIZER_DIR`` pointing at it for the test (and its subprocesses)."""
    monkeypatch.setenv("GPTBLOCK_TOKENIZER_DIR", str(tokenizer_dir))
    return tokenizer_dir


@pytest.fixture(scope="session")
def seed_file() -> Path | None:
    """The seed chapter's text, or None on a checkout without ../shared."""
    return SEED_FILE if SEED_FILE.is_file() else None


class AnyPythonFenceParser(AbstractCodeBlockParser):
    """Markdown code blocks in Python, whatever attributes follow the language in the fence."""

    def __init__(self, language: str | None = None, evaluator=None) -> None:
        super().__init__(
            [
                _NormalisedFenceLexer(),
                DirectiveInHTMLCommentLexer(directive=r"(invisible-)?code(-block)?", arguments=".+"),
            ],
            language or "python",
            evaluator,
        )


class _NormalisedFenceLexer(RawFencedCodeBlockLexer):
    def __init__(self) -> None:
        super().__init__(info_pattern=PYTHON_FENCE_INFO, mapping={"language": "arguments", "source": "source"})

    def __call__(self, document):
        for region in super().__call__(document):
            region.lexemes["arguments"] = "python"
            yield region


class PythonBlockParser(PythonDocTestOrCodeBlockParser):
    """Runs Python blocks; those starting with ``>>>`` are doctests."""

    codeblock_parser_class = AnyPythonFenceParser

    def __init__(self) -> None:
        super().__init__(doctest_optionflags=OPTIONFLAGS)


def docs_sybil() -> Sybil:
    """The Sybil that collects the pages' examples (also used by the fence-count test)."""
    return Sybil(
        parsers=[PythonBlockParser(), SkipParser(), ClearNamespaceParser()],
        path=str(ROOT / "docs"),
        patterns=["*.md"],
        name="docs",
    )


def package_sybil() -> Sybil:
    """The Sybil that collects the docstring examples of the package."""
    return Sybil(
        parsers=[DocTestParser(optionflags=OPTIONFLAGS)],
        path=str(ROOT / "gptblock"),
        patterns=["*.py"],
        name="gptblock",
    )


pytest_collect_file = (docs_sybil() + package_sybil()).pytest()


@pytest.fixture(scope="session")
def make_docs_sybil():
    """The factory of the pages' Sybil, for the tests that check what it collects."""
    return docs_sybil
