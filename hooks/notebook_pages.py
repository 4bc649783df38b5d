"""MkDocs hook: the notebooks that mkdocs-jupyter executes, shown as pages of this site.

mkdocs-jupyter executes each jupytext notebook ``docs/<language>/notebooks/<name>.py`` in a kernel (a
cell that raises fails the build: ``allow_errors: false`` in mkdocs.yml) and converts it with nbconvert
into JupyterLab's markup. That markup does not belong on this site: JupyterLab's stylesheets and code
colours, its own copy buttons (with English text, "Copied!"), a hidden second copy of each cell's code
(indexed by search), "¶" anchors inside headings (search titles show them), figures described as "No
description has been provided for this image", links left as written, and loaders that fetch
MathJax 2 and Mermaid from a CDN. This hook turns the converted page into the markup of the site's
Markdown pages (``on_page_content``, before search indexes the page):

* only the cells are kept: nbconvert's stylesheets and scripts go, CDN loaders included;
* a code cell's source becomes a ```` ```python ```` block and its printed output a ```` ```text ````
  block, both rendered by the site's own Markdown extensions, so they get exactly the highlighting
  classes, colours and copy button of a Markdown page, in both palettes; prompts and editor chrome go;
* each figure becomes ``<figure class="notebook-figure"><img ...>``, described by its cell's ``alt``
  metadata, written in the notebook's language in the cell marker: ``# %% alt="..."``. A figure
  without one, or alt text without a figure, fails the build;
* in Markdown cells, each heading takes the id of its entry in the table of contents (which
  mkdocs-jupyter builds with MkDocs' slugs) and MkDocs' heading link; a link to a page by its file
  (``../attention.md``) becomes that page's address, as MkDocs does on Markdown pages, and a link to
  a file the site does not have fails the build.

How the kernel draws figures is set in ``hooks/kernel_startup.py`` (``hooks/site_env.py``).

Three more things go wrong when mkdocs-jupyter meets the i18n plugin, and none of them fails a build:

1. The i18n plugin rebuilds every file as a plain MkDocs ``File``, dropping mkdocs-jupyter's wrapper
   that makes a ``.py`` notebook count as a page (ultrabug/mkdocs-static-i18n#198): the notebook is
   published as its raw source. Here every ``notebooks/*.py`` file counts as a documentation page.
2. The es and en builds run one after the other with the same plugin, and each one's cache eviction
   deletes the other language's executed notebooks. Here both languages' entries are kept.
3. mkdocs-jupyter's cache key is the notebook's text: a change to ``gptblock/`` (or to the kernel's
   start-up) would not execute the notebooks again. Here the cache folder is named after a hash of both.
"""

from __future__ import annotations

import hashlib
import html
import posixpath
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jupytext
import markdown
from bs4 import BeautifulSoup, Tag
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink
from nbformat import NotebookNode

NOTEBOOK_FOLDER = "notebooks"
JUPYTER_PLUGIN = "mkdocs-jupyter"
CACHE_ROOT = Path(".cache") / "mkdocs-jupyter"
KERNEL_STARTUP = Path("hooks") / "kernel_startup.py"
TRAINED_MODEL = Path("training") / "model.safetensors"
# Between the code blocks of one page, rendered in one pass so that their line anchors are numbered
# through the page as on a Markdown page (__codelineno-0-1, __codelineno-1-1, ...).
BLOCK_BREAK = "<!-- notebook block -->"

_MARKDOWN_IS_DOCUMENTATION_PAGE = File.is_documentation_page


def is_notebook_uri(src_uri: str) -> bool:
    """True for ``<anything>/notebooks/<name>.py``: a jupytext notebook of the site."""
    parts = src_uri.split("/")
    return src_uri.endswith(".py") and len(parts) >= 2 and parts[-2] == NOTEBOOK_FOLDER


def _is_documentation_page(self: File) -> bool:
    return _MARKDOWN_IS_DOCUMENTATION_PAGE(self) or is_notebook_uri(self.src_uri)


def execution_hash(repo: Path) -> str:
    """A short hash of what an executed notebook depends on besides its text: the package sources it
    imports, the kernel's start-up file and the trained model that the attention notebook loads."""
    hasher = hashlib.sha256()
    for source in [*sorted((repo / "gptblock").rglob("*.py")), repo / KERNEL_STARTUP, repo / TRAINED_MODEL]:
        hasher.update(source.relative_to(repo).as_posix().encode())
        hasher.update(source.read_bytes())
    return hasher.hexdigest()[:16]


def cache_dir(repo: Path) -> Path:
    """Where mkdocs-jupyter caches the executed notebooks, as the package and the kernel start-up stand."""
    return repo / CACHE_ROOT / execution_hash(repo)


def notebook_cache_paths(docs_dir: Path, jupyter_config) -> set[Path]:
    """The cache file of every notebook of every language, named as mkdocs-jupyter 0.26 names them."""
    from mkdocs_jupyter.plugin import _compute_cache_key, _get_cache_path

    execute = jupyter_config["execute"]
    return {
        _get_cache_path(jupyter_config["cache_dir"], _compute_cache_key(str(notebook), jupyter_config, execute))
        for notebook in sorted(docs_dir.glob(f"*/{NOTEBOOK_FOLDER}/*.py"))
    }


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    File.is_documentation_page = _is_documentation_page  # type: ignore[method-assign]
    jupyter = config.plugins.get(JUPYTER_PLUGIN)
    if jupyter is not None and jupyter.config["cache"]:
        jupyter.config["cache_dir"] = str(cache_dir(Path(config.config_file_path).resolve().parent))
    return config


@event_priority(100)  # before mkdocs-jupyter evicts the entries this language's build did not use
def on_post_build(config: MkDocsConfig) -> None:
    jupyter = config.plugins.get(JUPYTER_PLUGIN)
    used = getattr(jupyter, "_used_cache_paths", None)
    if jupyter is None or not jupyter.config["cache"] or used is None:
        return
    used |= notebook_cache_paths(Path(config.docs_dir), jupyter.config)
    current = Path(jupyter.config["cache_dir"])
    for stale in current.parent.iterdir() if current.parent.is_dir() else []:
        if stale.is_dir() and stale != current:
            shutil.rmtree(stale, ignore_errors=True)


def fence(text: str, info: str) -> str:
    """``text`` in a fenced block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}{info}\n{text.rstrip()}\n{marks}"


def figure(img: Tag, alt: str) -> str:
    """A notebook figure as the site shows it: its PNG at the size nbconvert gave it, described by ``alt``."""
    size = "".join(f' {key}="{int(img[key])}"' for key in ("width", "height") if img.has_attr(key))
    return f'<figure class="notebook-figure">\n<img src="{img["src"]}" alt="{html.escape(alt)}"{size}>\n</figure>'


def _code_cell(cell: NotebookNode, rendered: Tag, where: str) -> list[str]:
    """A code cell as fences (its source, its printed output) and figures, in the order shown."""
    blocks = [fence(cell.source.strip("\n"), "python")] if cell.source.strip() else []
    texts: list[str] = []  # consecutive printed outputs, shown as one block
    alt = cell.metadata.get("alt")
    figures = 0
    for output in rendered.select(".jp-OutputArea-output"):
        classes = output.get("class", [])
        if "jp-RenderedText" in classes:
            texts.append(output.get_text().strip("\n"))
            continue
        if texts:
            blocks.append(fence("\n".join(texts), "text"))
            texts = []
        img = output.find("img") if "jp-RenderedImage" in classes else None
        if img is None:
            raise PluginError(f"{where}: an output nbconvert renders as {' '.join(classes)}; a notebook of this "
                              "site shows printed text and figures only")
        figures += 1
        if not isinstance(alt, str) or not alt.strip():
            raise PluginError(f'{where} draws a figure but has no alt text: write `# %% alt="..."`')
        if figures > 1:
            raise PluginError(f"{where} draws {figures} figures; one `alt` describes one figure: split the cell")
        blocks.append(figure(img, alt))
    if texts:
        blocks.append(fence("\n".join(texts), "text"))
    if alt is not None and not figures:
        raise PluginError(f"{where} has alt text but draws no figure")
    return blocks


def _markdown_cell(rendered: Tag, heading_ids: list[str], link: Callable[[str], str], where: str) -> str:
    """A Markdown cell as nbconvert rendered it, with MkDocs' heading ids and heading links, and its links
    leading to page addresses."""
    content = rendered.find(class_="jp-RenderedMarkdown")
    if content is None:
        raise PluginError(f"{where}: no rendered Markdown found")
    for anchor in content.select("a.anchor-link"):
        anchor.decompose()
    for anchor in content.find_all("a", href=True):
        anchor["href"] = link(anchor["href"])
    for heading in content.find_all(re.compile(r"^h[1-6]$")):
        if not heading_ids:
            raise PluginError(f"{where}: heading {heading.get_text()!r} is not in the table of contents")
        heading["id"] = heading_ids.pop(0)
        heading.append(BeautifulSoup(
            f'<a class="headerlink" href="#{heading["id"]}" title="Permanent link">&para;</a>', "html.parser"))
    return "".join(str(child) for child in content.contents).strip()


def site_html(
    converted: str,
    cells: list[NotebookNode],
    *,
    render: Callable[[str], str],
    heading_ids: list[str],
    link: Callable[[str], str],
    where: str,
) -> str:
    """A notebook page converted by mkdocs-jupyter, in the markup of the site's Markdown pages.

    Args:
        converted: the page's HTML from mkdocs-jupyter (nbconvert's rendering of the executed notebook).
        cells: the notebook's cells as jupytext reads them, for their source and ``alt`` metadata.
        render: the site's Markdown conversion (its extensions and their settings).
        heading_ids: the ids of the page's table of contents, in document order.
        link: turns a link written in a Markdown cell into the address the page should use.
        where: the notebook, for error messages.

    Returns:
        The page's content: Markdown cells as rendered, code and outputs as the site's code blocks,
        figures with their alt text.

    Raises:
        PluginError: the converted page does not match the notebook's cells, a figure has no alt text
            (or alt text no figure), an output is neither text nor a figure, or a heading is missing
            from the table of contents.
    """
    notebook = BeautifulSoup(converted, "html.parser").find(class_="jp-Notebook")
    rendered = notebook.find_all(class_="jp-Cell", recursive=False) if notebook else []
    if len(rendered) != len(cells):
        raise PluginError(f"{where}: nbconvert rendered {len(rendered)} cells, the notebook has {len(cells)}")
    ids = list(heading_ids)
    parts: list[str] = []  # HTML, or a fence that the site's Markdown renders below
    for number, (cell, html_cell) in enumerate(zip(cells, rendered, strict=True), start=1):
        cell_where = f"{where}, cell {number}"
        if cell.cell_type == "markdown":
            parts.append(_markdown_cell(html_cell, ids, link, cell_where))
        elif cell.cell_type == "code":
            parts += _code_cell(cell, html_cell, cell_where)
        else:
            raise PluginError(f"{cell_where} is a {cell.cell_type} cell; the site shows Markdown and code cells")
    if ids:
        raise PluginError(f"{where}: table of contents entries without a heading on the page: {ids}")
    fences = [i for i, part in enumerate(parts) if part.startswith("`")]  # the rest is HTML, which never does
    if fences:
        blocks = render(f"\n\n{BLOCK_BREAK}\n\n".join(parts[i] for i in fences)).split(BLOCK_BREAK)
        for i, block in zip(fences, blocks, strict=True):
            parts[i] = block.strip()
    return "\n".join(parts) + "\n"


def _toc_ids(items: list[AnchorLink]) -> list[str]:
    return [id_ for item in items for id_ in (item.id, *_toc_ids(item.children))]


def link_resolver(source: File, files: Files) -> Callable[[str], str]:
    """Turns a relative link to a file of the site into that file's address relative to ``source``.

    External links and anchors in the page are kept; a relative link to a file that the site does not
    have raises ``PluginError``, as a broken link fails a strict build of a Markdown page.
    """

    def resolve(href: str) -> str:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path or href.startswith("/"):
            return href
        path = posixpath.normpath(posixpath.join(posixpath.dirname(source.src_uri), unquote(parts.path)))
        target = files.get_file_from_path(path)
        if target is None:
            raise PluginError(f"{source.src_uri}: the link {href!r} names {path}, which is not a file of the site")
        return target.url_relative_to(source) + (f"#{parts.fragment}" if parts.fragment else "")

    return resolve


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not is_notebook_uri(page.file.src_uri) or page.file.abs_src_path is None:
        return html
    site_markdown = markdown.Markdown(extensions=config.markdown_extensions, extension_configs=config.mdx_configs)
    return site_html(
        html,
        jupytext.read(page.file.abs_src_path).cells,
        render=site_markdown.convert,
        heading_ids=_toc_ids(page.toc.items),
        link=link_resolver(page.file, files),
        where=page.file.src_path,
    )
