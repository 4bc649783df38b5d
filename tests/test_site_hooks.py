"""The site's MkDocs hooks, on small inputs: notebook pages, per-language search, page language."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import ClassVar

import jupytext
import markdown
import nbformat
import pytest
from mkdocs.config import load_config
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs_jupyter import convert
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))
try:
    import notebook_pages
    import page_language
    import search_per_language
finally:
    sys.path.remove(str(ROOT / "hooks"))

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


@pytest.fixture(scope="module")
def jupyter() -> dict:
    """mkdocs-jupyter's options as mkdocs.yml sets them."""
    return dict(load_config(str(ROOT / "mkdocs.yml")).plugins["mkdocs-jupyter"].config)


@pytest.fixture(scope="module")
def site_markdown():
    """The site's Markdown conversion: mkdocs.yml's extensions and settings."""
    config = load_config(str(ROOT / "mkdocs.yml"))
    return lambda text: markdown.Markdown(extensions=config.markdown_extensions,
                                          extension_configs=config.mdx_configs).convert(text)


def converted(folder: Path, *cells: nbformat.NotebookNode) -> tuple[str, list]:
    """A notebook with the given cells and outputs, converted by mkdocs-jupyter (nbconvert, no kernel) with
    its prompts, and the cells as the hook reads them."""
    path = folder / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=list(cells), metadata={"kernelspec": KERNELSPEC}), path)
    return convert.nb2html(str(path), no_prompt=False), jupytext.read(path).cells


def code(source: str, outputs: list, **metadata) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata=metadata, execution_count=1)
    cell.outputs = outputs
    return cell


def printed(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def figure(width: int = 600) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                                  metadata={"image/png": {"width": width, "height": 300}})


def test_a_notebook_page_gets_the_markup_of_a_markdown_page(tmp_path: Path, site_markdown) -> None:
    html, cells = converted(
        tmp_path,
        nbformat.v4.new_markdown_cell("# Title\n\nSee [the part](../page.md#part) or [this](https://x.example).\n\n"
                                      "## Part two"),
        code("print('a')\nprint('b')", [printed("a\n"), printed("b\n")]),
        code("plt.show()", [figure()], alt='Two "curves" <and> a dot'),
        code("x", [nbformat.v4.new_output("execute_result", data={"text/plain": "```3```"}, execution_count=1)]),
    )
    assert "In\xa0[1]:" in html and "Copied!" in html, "nbconvert's rendering, as the hook receives it"
    page = notebook_pages.site_html(html, cells, render=site_markdown, heading_ids=["title", "part-two"],
                                    link=lambda href: f"resolved:{href}", where="nb.py")
    for leftover in ("jp-", "<style", "<script", "In&nbsp;[", "In\xa0[", "Copied!", "Copy to Clipboard",
                     "No description", "anchor-link", "highlight-ipynb", "cdnjs"):
        assert leftover not in page, f"{leftover!r} left on the page"
    markdown_page = site_markdown("```python\nprint('a')\nprint('b')\n```\n\n```text\na\nb\n```")
    assert markdown_page in page, "code and output as a Markdown page renders them (prints merged)"
    assert page.startswith('<h1 id="title">Title<a class="headerlink" href="#title" title="Permanent link">¶</a>')
    assert '<h2 id="part-two">Part two<a class="headerlink" href="#part-two" title="Permanent link">¶</a></h2>' in page
    assert 'href="resolved:../page.md#part"' in page and 'href="resolved:https://x.example"' in page
    alt = "Two &quot;curves&quot; &lt;and&gt; a dot"
    assert f'<figure class="notebook-figure">\n<img src="data:image/png;base64,{PNG}" alt="{alt}" width="600" ' \
           'height="300">\n</figure>' in page
    assert "```3```" in page and "<p>```" not in page, "a fence longer than the backticks inside"
    assert page.index("Part two") < page.index("print") < page.index("notebook-figure") < page.index("```3```")


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (code("plt.show()", [figure()]), "has no alt text"),
        (code("plt.show()", [figure()], alt="  "), "has no alt text"),
        (code("show twice", [figure(), figure()], alt="One"), "draws 2 figures"),
        (code("print(1)", [printed("1\n")], alt="A plot"), "draws no figure"),
        (code("html", [nbformat.v4.new_output("display_data", data={"text/html": "<b>table</b>"})]),
         "printed text and figures only"),
    ],
)
def test_a_figure_needs_exactly_one_alt_text(tmp_path: Path, cell: nbformat.NotebookNode, message: str) -> None:
    html, cells = converted(tmp_path, cell)
    with pytest.raises(PluginError, match=message):
        notebook_pages.site_html(html, cells, render=str, heading_ids=[], link=str, where="docs/es/notebooks/x.py")


def test_headings_follow_the_table_of_contents(tmp_path: Path) -> None:
    html, cells = converted(tmp_path, nbformat.v4.new_markdown_cell("# Title"))
    with pytest.raises(PluginError, match="'Title' is not in the table of contents"):
        notebook_pages.site_html(html, cells, render=str, heading_ids=[], link=str, where="x.py")
    with pytest.raises(PluginError, match=r"without a heading on the page: \['other'\]"):
        notebook_pages.site_html(html, cells, render=str, heading_ids=["title", "other"], link=str, where="x.py")
    page = notebook_pages.site_html(html, cells, render=str, heading_ids=["title"], link=str, where="x.py")
    assert page == '<h1 id="title">Title<a class="headerlink" href="#title" title="Permanent link">¶</a></h1>\n'


def test_links_in_a_notebook_lead_to_the_pages_they_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # The i18n plugin's plain File: a notebook counts as a page only through the hook (static-i18n#198).
    monkeypatch.setattr(File, "is_documentation_page", notebook_pages._is_documentation_page)
    files = Files([File(path, "/docs", "/site", use_directory_urls=True)
                   for path in ("attention.md", "notebooks/nb.py")])
    notebook = files.get_file_from_path("notebooks/nb.py")
    assert notebook.url == "notebooks/nb/"
    resolve = notebook_pages.link_resolver(notebook, files)
    assert resolve("../attention.md#la-mascara") == "../../attention/#la-mascara"
    for kept in ("https://x.example/a.md", "#here", "mailto:a@x.example"):
        assert resolve(kept) == kept
    with pytest.raises(PluginError, match=r"names missing\.md, which is not a file of the site"):
        resolve("../missing.md")


def test_a_cell_that_raises_fails_the_build(tmp_path: Path, jupyter: dict) -> None:
    """Over 3 s: it starts a real Jupyter kernel, as the site build does."""
    path = tmp_path / "notebooks" / "broken.py"
    path.parent.mkdir()
    path.write_text("# %% [markdown]\n# # Broken\n\n# %%\n1 / 0\n", encoding="utf-8")
    assert jupyter["execute"] and jupyter["include"] == ["notebooks/*.py"]
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        convert.nb2html(str(path), execute=jupyter["execute"], allow_errors=jupyter["allow_errors"],
                        kernel_name=jupyter["kernel_name"])


def test_the_notebook_cache_follows_the_package_the_kernel_startup_and_the_trained_model(tmp_path: Path) -> None:
    for folder in ("gptblock", "hooks", "training"):
        (tmp_path / folder).mkdir()
    module, startup = tmp_path / "gptblock" / "block.py", tmp_path / "hooks" / "kernel_startup.py"
    model = tmp_path / "training" / "model.safetensors"
    module.write_text("A = 1\n", encoding="utf-8")
    startup.write_text("B = 1\n", encoding="utf-8")
    model.write_bytes(b"weights 1")
    seen = {notebook_pages.cache_dir(tmp_path)}
    module.write_text("A = 2\n", encoding="utf-8")
    seen.add(notebook_pages.cache_dir(tmp_path))
    startup.write_text("B = 2\n", encoding="utf-8")
    seen.add(notebook_pages.cache_dir(tmp_path))
    model.write_bytes(b"weights 2")
    seen.add(notebook_pages.cache_dir(tmp_path))
    assert len(seen) == 4
    assert all(folder.parent == tmp_path / ".cache" / "mkdocs-jupyter" for folder in seen)


def test_the_search_index_is_split_by_language() -> None:
    index = {
        "config": {"lang": ["es", "en"], "separator": "[\\s]+"},
        "docs": [
            {"location": "", "title": "Inicio"},
            {"location": "layer-norm/#la-formula", "title": "La fórmula"},
            {"location": "en/", "title": "Home"},
            {"location": "en/layer-norm/#the-formula", "title": "The formula"},
            {"location": "engine/", "title": "Motor"},
        ],
    }
    split = search_per_language.split_index(index, ["es", "en"], "es")
    assert split["es"]["config"] == {"lang": ["es"], "separator": "[\\s]+"}
    assert split["en"]["config"]["lang"] == ["en"]
    assert [d["location"] for d in split["es"]["docs"]] == ["", "layer-norm/#la-formula", "engine/"]
    assert [d["location"] for d in split["en"]["docs"]] == ["", "layer-norm/#the-formula"]


def test_a_language_sitemap_keeps_that_language_only() -> None:
    sitemap = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">
<url><loc>https://x.example/site/</loc></url>
<url><loc>https://x.example/site/en/</loc><xhtml:link rel="alternate" hreflang="es" href="https://x.example/site/"/></url>
<url><loc>https://x.example/site/en/layer-norm/</loc></url>
</urlset>"""
    own = search_per_language.language_sitemap(sitemap, "https://x.example/site/", "en")
    assert own.count("<loc>") == 2 and "<loc>https://x.example/site/</loc>" not in own
    assert 'hreflang="es"' in own


def test_material_base_moves_to_the_root_of_the_language() -> None:
    class I18n:
        current_language, default_language = "en", "es"

    class Config(dict):
        plugins: ClassVar[dict] = {"i18n": I18n()}

    page = '<script id="__config" type="application/json">{"annotate": null, "base": "../..", "features": []}</script>'
    assert '"base": "../../en/"' in search_per_language._language_base(page, Config())
    I18n.current_language = "es"
    assert search_per_language._language_base(page, Config()) == page


def test_heading_links_are_titled_in_the_page_language() -> None:
    class I18n:
        current_language, default_language = "es", "es"

    class Config(dict):
        plugins: ClassVar[dict] = {"i18n": I18n()}

    html = '<h2 id="a">A<a class="headerlink" href="#a" title="Permanent link">&para;</a></h2>'
    assert 'title="Enlace permanente"' in page_language.on_page_content(html, None, Config(), None)
    I18n.current_language = "en"
    assert page_language.on_page_content(html, None, Config(), None) == html


def test_alternate_links_that_make_material_fetch_missing_sitemaps_are_removed() -> None:
    head = '<link rel="canonical" href="x">\n    <link rel="alternate" href="../en/layer-norm/" hreflang="en">\n<title>'
    assert page_language.on_post_page(head, None, None) == '<link rel="canonical" href="x">\n<title>'


def test_each_language_of_the_built_site_has_its_own_search_index(site: Path) -> None:
    for language, folder in (("es", site), ("en", site / "en")):
        index = json.loads((folder / "search" / "search_index.json").read_text(encoding="utf-8"))
        assert index["config"]["lang"] == [language], f"the {language} index stems for {index['config']['lang']}"
        others = [d["location"] for d in index["docs"] if d["location"].startswith("en/")]
        assert not others, f"the {language} index holds pages of /en/: {others[:3]}"
        assert len(index["docs"]) > 50
        raw = [d["title"] for d in index["docs"]
               if "¶" in d["title"] or "In\xa0[" in d["text"] or "Copied!" in d["text"]]
        assert not raw, f"the {language} index shows raw notebook cells: {raw[:3]}"
    assert (site / "en" / "sitemap.xml").is_file(), "Material fetches <language base>/sitemap.xml"
    not_found = (site / "404.html").read_text(encoding="utf-8")
    assert 'lang="es"' in not_found and 'lang="en"' in (site / "en" / "404.html").read_text(encoding="utf-8")


# Interface text one language's pages must not show in the other's.
FOREIGN_INTERFACE_TEXT = {
    "es": ["Permanent link", "Made with", "Copy to clipboard", "Copied!", "No description has been provided",
           "404 - Not found"],
    "en": ["Enlace permanente", "Hecho con", "Copiar al portapapeles", "Página no encontrada"],
}


def test_pages_speak_only_their_language(site: Path) -> None:
    found = []
    for page in sorted(site.rglob("*.html")):
        relative = page.relative_to(site).as_posix()
        language = "en" if relative.startswith("en/") else "es"
        html = page.read_text(encoding="utf-8")
        found += [f"{relative}: {text!r}" for text in FOREIGN_INTERFACE_TEXT[language] if text in html]
    assert not found, "interface text of the other language:\n" + "\n".join(found)
