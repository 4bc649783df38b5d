"""The site's MkDocs hooks, on small inputs: notebook pages, per-language search, page language."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import ClassVar

import nbformat
import pytest
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))
try:
    import notebooks
    import page_language
    import search_per_language
finally:
    sys.path.remove(str(ROOT / "hooks"))

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def executed(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def code(source: str, outputs: list, **metadata) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata=metadata)
    cell.outputs = outputs
    return cell


def figure(width: int = 600) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                                  metadata={"image/png": {"width": width, "height": 300}})


def test_a_notebook_becomes_site_markdown() -> None:
    notebook = executed(
        nbformat.v4.new_code_cell("%config whatever", metadata={"setup": True}),
        nbformat.v4.new_markdown_cell("# Title\n\nSome text."),
        code("print('a')\nprint('b')", [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                                        nbformat.v4.new_output("stream", name="stdout", text="b\n")]),
        code("plt.show()", [figure()], alt='Two "curves" <and> a dot'),
        code("x", [nbformat.v4.new_output("execute_result", data={"text/plain": "```3```"}, execution_count=1)]),
    )
    markdown = notebooks.to_markdown(notebook, "nb.py")
    assert "%config" not in markdown, "the setup cell is not shown"
    assert markdown.startswith("# Title\n\nSome text.\n\n```python\nprint('a')\nprint('b')\n```\n\n```text\na\nb\n```")
    alt = "Two &quot;curves&quot; &lt;and&gt; a dot"
    assert f'<img src="data:image/png;base64,{PNG}" alt="{alt}" width="600" height="300">' in markdown
    assert "````text\n```3```\n````" in markdown, "a fence longer than the backticks inside"


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (code("plt.show()", [figure()]), "has no alt text"),
        (code("plt.show()", [figure()], alt="  "), "has no alt text"),
        (code("show twice", [figure(), figure()], alt="One"), "draws 2 figures"),
        (code("print(1)", [nbformat.v4.new_output("stream", name="stdout", text="")], alt="A plot"), "draws no figure"),
    ],
)
def test_a_figure_needs_exactly_one_alt_text(cell: nbformat.NotebookNode, message: str) -> None:
    with pytest.raises(PluginError, match=message):
        notebooks.to_markdown(executed(cell), "docs/es/notebooks/x.py")


def test_a_failing_notebook_fails_the_build(tmp_path: Path) -> None:
    path = tmp_path / "notebooks" / "broken.py"
    path.parent.mkdir()
    path.write_text("# %% [markdown]\n# # Broken\n\n# %%\n1 / 0\n", encoding="utf-8")
    with pytest.raises(PluginError, match="ZeroDivisionError"):
        notebooks.execute(path)


def test_the_notebook_cache_key_follows_the_notebook_and_the_package(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.py"
    notebook.write_text("# %%\nprint(1)\n", encoding="utf-8")
    first = notebooks.cache_path(tmp_path, notebook, "package-a")
    assert notebooks.cache_path(tmp_path, notebook, "package-b") != first
    notebook.write_text("# %%\nprint(2)\n", encoding="utf-8")
    assert notebooks.cache_path(tmp_path, notebook, "package-a") != first


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
