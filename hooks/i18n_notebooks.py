"""MkDocs hook: executed notebooks (mkdocs-jupyter) in a bilingual site (mkdocs-static-i18n).

Three things go wrong when the two plugins meet, and none of them fails the build:

1. The i18n plugin rebuilds every file as a plain MkDocs ``File``, dropping mkdocs-jupyter's wrapper
   that makes a ``.py`` notebook count as a page (ultrabug/mkdocs-static-i18n#198). The notebook is
   then copied as raw source and the English page's language switcher falls back to the home page.
   Here every ``notebooks/*.py`` file counts as a documentation page, whoever built its ``File``.
2. The es and en builds run one after the other with the same plugin, and each one's cache eviction
   deletes the other language's cached notebooks, so every build executes every notebook again.
   Here the cache entries of every notebook in every language are kept.
3. mkdocs-jupyter's cache key is the notebook's text only: a change in the package the notebook
   imports would not re-execute it. Here the cache folder is named after a hash of ``gptblock/``.

Notebook pages also carry nbconvert's loaders for MathJax 2 and Mermaid from a CDN; the site serves
its own copies of both, so those loaders are removed and no request leaves the site.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
import shutil

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.structure.pages import Page

NOTEBOOK_FOLDER = "notebooks"
JUPYTER_PLUGIN = "mkdocs-jupyter"
CACHE_ROOT = pathlib.Path(".cache") / "mkdocs-jupyter"

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


def _jupyter(config: MkDocsConfig):
    return config.plugins.get(JUPYTER_PLUGIN)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    File.is_documentation_page = _is_documentation_page  # type: ignore[method-assign]
    jupyter = _jupyter(config)
    if jupyter is not None and jupyter.config["cache"]:
        repo = pathlib.Path(config.config_file_path).resolve().parent
        jupyter.config["cache_dir"] = str(repo / CACHE_ROOT / package_hash(repo))
    return config


def _notebook_cache_paths(config: MkDocsConfig, jupyter) -> set[pathlib.Path]:
    """The cache file of every notebook of every language, as mkdocs-jupyter 0.26 names them."""
    from mkdocs_jupyter.plugin import _compute_cache_key, _get_cache_path

    paths = set()
    for notebook in sorted(pathlib.Path(config.docs_dir).glob(f"*/{NOTEBOOK_FOLDER}/*.py")):
        execute = jupyter.config["execute"]
        if any(pathlib.PurePath(notebook).match(p) for p in jupyter.config["execute_ignore"]):
            execute = False
        key = _compute_cache_key(str(notebook), jupyter.config, execute)
        paths.add(_get_cache_path(jupyter.config["cache_dir"], key))
    return paths


@event_priority(100)  # before mkdocs-jupyter evicts the entries this language's build did not use
def on_post_build(config: MkDocsConfig) -> None:
    jupyter = _jupyter(config)
    used = getattr(jupyter, "_used_cache_paths", None)
    if jupyter is None or not jupyter.config["cache"] or used is None:
        return
    used |= _notebook_cache_paths(config, jupyter)
    current = pathlib.Path(jupyter.config["cache_dir"])
    if current.parent.is_dir():
        for stale in current.parent.iterdir():
            if stale.is_dir() and stale != current:
                shutil.rmtree(stale, ignore_errors=True)


_CDN_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_CDN_MERMAID = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{\s*'
    r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
    re.S,
)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files) -> str:
    if is_notebook_uri(page.file.src_uri):
        html = _CDN_MATHJAX.sub("", html)
        html = _CDN_MERMAID.sub("", html)
    return html
