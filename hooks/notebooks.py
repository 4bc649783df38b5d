"""MkDocs hook: the site's notebooks, executed when the site is built and rendered as ordinary pages.

A notebook is a jupytext percent file ``docs/<language>/notebooks/<name>.py``. When MkDocs reads such
a page, this hook executes it in a Jupyter kernel and hands MkDocs Markdown instead of the source:

* Markdown cells as they are;
* code cells as ```` ```python ```` blocks, so they get Material's code style and copy button;
* printed output as ```` ```text ```` blocks;
* each figure as an ``<img>`` whose alternative text is the code cell's ``alt`` metadata, written in
  the cell marker in the notebook's own language: ``# %% alt="Two curves: ..."``. A cell that draws
  a figure without one fails the build, as does a cell that raises.

MkDocs then renders the page like any other: heading permalinks, the table of contents, search
entries and formulas all come from the site's own Markdown extensions, with no prompt gutter, no
second stylesheet and no interface text of another language.

The kernel draws figures at 2x for sharp text on high-density screens (the ``<img>`` keeps the 1x
size) with the font size set below, so that a figure drawn as wide as the text column stays legible
when a phone shrinks it to half. The output of each notebook is cached in ``.cache/notebooks`` under a
hash of its text, of the package sources it imports and of this rendering, so a rebuild executes
only the notebooks that changed.

MkDocs counts only ``.md`` files as pages, and the i18n plugin rebuilds every file as a plain MkDocs
``File`` (ultrabug/mkdocs-static-i18n#198): here every ``notebooks/*.py`` file counts as a
documentation page, whoever built its ``File``.
"""

from __future__ import annotations

import hashlib
import html
import logging
import pathlib
import re

import jupytext
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.notebooks")

NOTEBOOK_FOLDER = "notebooks"
CACHE_FOLDER = pathlib.Path(".cache") / "notebooks"
CELL_TIMEOUT_S = 600
# Run before the notebook's first cell; it prints nothing and is not shown on the page.
SETUP_CODE = """\
%config InlineBackend.figure_formats = ["retina"]
import matplotlib
matplotlib.rcParams.update({"figure.dpi": 100, "font.size": 12})
"""
# Changing how pages are rendered changes this, so cached pages are rendered again.
RENDERING = "notebook-markdown-1\n" + SETUP_CODE

_MARKDOWN_IS_DOCUMENTATION_PAGE = File.is_documentation_page


def is_notebook_uri(src_uri: str) -> bool:
    """True for ``<anything>/notebooks/<name>.py``: a jupytext notebook of the site."""
    parts = src_uri.split("/")
    return src_uri.endswith(".py") and len(parts) >= 2 and parts[-2] == NOTEBOOK_FOLDER


def _is_documentation_page(self: File) -> bool:
    return _MARKDOWN_IS_DOCUMENTATION_PAGE(self) or is_notebook_uri(self.src_uri)


def package_hash(repo: pathlib.Path) -> str:
    """A short hash of the package sources that the notebooks import."""
    hasher = hashlib.sha256()
    for source in sorted((repo / "gptblock").rglob("*.py")):
        hasher.update(source.relative_to(repo).as_posix().encode())
        hasher.update(source.read_bytes())
    return hasher.hexdigest()[:16]


def cache_path(repo: pathlib.Path, notebook: pathlib.Path, packages: str) -> pathlib.Path:
    """Where the rendered Markdown of ``notebook`` is cached, given the package hash."""
    hasher = hashlib.sha256(RENDERING.encode())
    hasher.update(packages.encode())
    hasher.update(notebook.read_bytes())
    return repo / CACHE_FOLDER / f"{notebook.stem}-{hasher.hexdigest()[:20]}.md"


def notebook_cache_paths(repo: pathlib.Path, docs_dir: pathlib.Path) -> set[pathlib.Path]:
    """The cache file of every notebook of every language, as the sources stand now."""
    packages = package_hash(repo)
    return {cache_path(repo, nb, packages) for nb in sorted(docs_dir.glob(f"*/{NOTEBOOK_FOLDER}/*.py"))}


def _fence(text: str, info: str) -> str:
    """``text`` in a fenced block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def _figure(png_base64: str, metadata: dict, alt: str) -> str:
    size = "".join(f' {key}="{int(metadata[key])}"' for key in ("width", "height") if key in metadata)
    source = "data:image/png;base64," + "".join(png_base64.split())
    return f'<figure class="notebook-figure">\n<img src="{source}" alt="{html.escape(alt)}"{size}>\n</figure>'


def _outputs(cell: nbformat.NotebookNode, where: str) -> list[str]:
    """The Markdown of a code cell's outputs, consecutive prints of one stream merged."""
    blocks: list[str] = []
    stream: tuple[str, str] | None = None  # (name, text) of the stream being merged
    alt = cell.metadata.get("alt")
    figures = 0
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            if stream and stream[0] == output.name:
                stream = (stream[0], stream[1] + output.text)
            else:
                if stream:
                    blocks.append(_fence(stream[1], "text"))
                stream = (output.name, output.text)
            continue
        if stream:
            blocks.append(_fence(stream[1], "text"))
            stream = None
        data = output.get("data", {})
        if "image/png" in data:
            figures += 1
            if not isinstance(alt, str) or not alt.strip():
                raise PluginError(f'{where} draws a figure but its cell has no alt text: write `# %% alt="..."`')
            if figures > 1:
                raise PluginError(f"{where} draws {figures} figures; one `alt` describes one figure: split the cell")
            blocks.append(_figure(data["image/png"], output.metadata.get("image/png", {}), alt))
        elif "text/plain" in data:
            blocks.append(_fence(data["text/plain"], "text"))
    if stream:
        blocks.append(_fence(stream[1], "text"))
    if alt is not None and not figures:
        raise PluginError(f"{where} has alt text but draws no figure")
    return blocks


def to_markdown(notebook: nbformat.NotebookNode, source: str) -> str:
    """An executed notebook as the Markdown of a site page."""
    blocks: list[str] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.metadata.get("setup"):
            continue
        text = cell.source.strip("\n")
        if cell.cell_type == "markdown":
            blocks.append(text)
        elif cell.cell_type == "code":
            if text.strip():
                blocks.append(_fence(text, "python"))
            blocks += _outputs(cell, f"{source}, cell {number}")
    return "\n\n".join(blocks) + "\n"


def execute(path: pathlib.Path) -> nbformat.NotebookNode:
    """Runs the notebook in a fresh kernel (in its own folder) and returns it with its outputs."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = jupytext.read(path)
    setup = nbformat.v4.new_code_cell(SETUP_CODE, metadata={"setup": True})
    notebook.cells.insert(0, setup)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        raise PluginError(f"notebook {path} failed when the site was built:\n{error}") from error
    return notebook


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    File.is_documentation_page = _is_documentation_page  # type: ignore[method-assign]
    return config


def on_page_read_source(page: Page, config: MkDocsConfig) -> str | None:
    if not is_notebook_uri(page.file.src_uri) or page.file.abs_src_path is None:
        return None
    path = pathlib.Path(page.file.abs_src_path)
    repo = pathlib.Path(config.config_file_path).resolve().parent
    cached = cache_path(repo, path, package_hash(repo))
    if cached.is_file():
        log.debug("notebook cache hit: %s", path)
        return cached.read_text(encoding="utf-8")
    log.info("executing notebook %s", path.relative_to(repo))
    markdown = to_markdown(execute(path), str(path.relative_to(repo)))
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(markdown, encoding="utf-8")
    return markdown


@event_priority(-200)  # after the i18n plugin has built every language
def on_post_build(config: MkDocsConfig) -> None:
    repo = pathlib.Path(config.config_file_path).resolve().parent
    folder = repo / CACHE_FOLDER
    if not folder.is_dir():
        return
    current = notebook_cache_paths(repo, pathlib.Path(config.docs_dir))
    for stale in folder.glob("*.md"):
        if stale not in current:
            stale.unlink()
