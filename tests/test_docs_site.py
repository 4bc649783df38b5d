"""The built site, read as files: offline, both languages, the seed pages, notebooks rendered as pages.

The site is built once per test session (the ``site`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import base64
import posixpath
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOK_STEMS = sorted(p.stem for p in (DOCS / "es" / "notebooks").glob("*.py"))
PAGES = sorted(p.relative_to(DOCS / "es").as_posix() for p in (DOCS / "es").rglob("*.md"))

OFF_SITE = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//", re.ASCII)  # http://, https://, //host
# Attributes that make the browser fetch something when the page loads.
FETCHED = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
    "input": ("src",),
    "link": ("href", "imagesrcset"),
    "use": ("href", "xlink:href"),
    "image": ("href", "xlink:href"),
}
# <link rel=...> values that name a document rather than fetch it.
NOT_FETCHED_LINKS = {"canonical", "alternate", "prev", "next", "author", "license", "help", "search"}
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])\s*((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//[^'")\s]+)""")
SCRIPT_URL = re.compile(r"""(?:import\(|\bfrom\s|src\s*=\s*)\s*['"`]((?:https?:)?//[^'"`]+)""")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.tags.append((tag, values))
        if "style" in values:
            self.styles.append(values["style"])
        self._in = tag if tag in ("style", "script") else None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in = None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "script":
            self.scripts.append(data)


def parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def off_site_requests(path: Path) -> list[str]:
    """Everything on the page that would make the browser fetch from another site."""
    found = []
    page = parse(path)
    for tag, attrs in page.tags:
        if tag == "link" and set(attrs.get("rel", "").lower().split()) & NOT_FETCHED_LINKS:
            continue
        for name in FETCHED.get(tag, ()):
            value = attrs.get(name, "")
            candidates = [part.strip().split(" ")[0] for part in value.split(",")] if "srcset" in name else [value]
            found += [f"<{tag} {name}={v!r}>" for v in candidates if OFF_SITE.match(v)]
    for css in page.styles:
        found += [f"CSS {url}" for url in CSS_URL.findall(css)]
    for script in page.scripts:
        found += [f"inline script loads {url}" for url in SCRIPT_URL.findall(script)]
    return found


def test_no_page_loads_anything_from_another_site(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 2 * len(PAGES)
    problems = {str(p.relative_to(site)): off_site_requests(p) for p in pages}
    for css in sorted(site.rglob("*.css")):
        urls = CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace"))
        problems[str(css.relative_to(site))] = [f"CSS {url}" for url in urls]
    problems = {page: found for page, found in problems.items() if found}
    assert not problems, "off-site requests:\n" + "\n".join(f"{p}: {f}" for p, f in problems.items())


def test_the_offline_check_sees_off_site_requests(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<link rel="stylesheet" href="https://fonts.example/x.css"><script src="//cdn.example/m.js"></script>'
        '<img src="http://img.example/a.png"><style>@import "https://x.example/y.css";</style>'
        '<script>import("https://cdn.example/mermaid.mjs")</script><link rel="canonical" href="https://site/">',
        encoding="utf-8",
    )
    assert len(off_site_requests(page)) == 5


def _page_file(site: Path, language: str, relative: str) -> Path:
    stem = relative[: -len(".md")] if relative.endswith(".md") else relative[: -len(".py")]
    url = "" if stem == "index" else (stem[: -len("/index")] if stem.endswith("/index") else stem)
    base = site if language == "es" else site / "en"
    return base / url / "index.html" if url else base / "index.html"


def test_both_home_pages_and_both_seed_pages_exist(site: Path) -> None:
    for relative in ("index.html", "en/index.html", "transformer-block/index.html", "en/transformer-block/index.html"):
        assert (site / relative).is_file(), f"site/{relative} is missing"


@pytest.mark.parametrize("relative", PAGES)
def test_every_page_is_built_in_both_languages_with_its_ui_language(site: Path, relative: str) -> None:
    for language in ("es", "en"):
        path = _page_file(site, language, relative)
        assert path.is_file(), f"{relative} ({language}) was not built: {path.relative_to(site)} missing"
        html = path.read_text(encoding="utf-8")
        assert re.search(rf'<html[^>]*\blang="{language}"', html), f"{path.relative_to(site)} is not lang={language}"


def _site_url() -> str:
    from mkdocs.config import load_config

    return load_config(str(ROOT / "mkdocs.yml")).site_url or "/"


def _switcher_target(site: Path, page: Path, language: str) -> Path:
    html = page.read_text(encoding="utf-8")
    links = re.findall(rf'<a href="([^"]*)" hreflang="{language}"', html)
    assert links, f"{page.relative_to(site)} has no language switcher entry for {language}"
    link = links[0]
    if link.startswith("/"):  # absolute: under the path of site_url
        base = urlparse(_site_url()).path or "/"
        assert link.startswith(base), f"{page.relative_to(site)}: switcher link {link} is outside {base}"
        link = "/" + link[len(base) :]
        folder = "/"
    else:
        folder = posixpath.dirname(page.relative_to(site).as_posix())
    target = posixpath.normpath(posixpath.join(folder, link)).lstrip("/") or "."
    target_path = site / ("" if target == "." else target)
    return target_path / "index.html" if not target.endswith(".html") else target_path


@pytest.mark.parametrize("relative", [*PAGES, *(f"notebooks/{s}.py" for s in NOTEBOOK_STEMS)])
def test_language_switcher_leads_to_the_twin(site: Path, relative: str) -> None:
    spanish, english = _page_file(site, "es", relative), _page_file(site, "en", relative)
    assert _switcher_target(site, english, "es").resolve() == spanish.resolve()
    assert _switcher_target(site, spanish, "en").resolve() == english.resolve()


NOTEBOOK_FIGURE = re.compile(
    r'<figure class="notebook-figure">\s*<img src="data:image/png;base64,([^"]+)" alt="([^"]*)" width="(\d+)"'
)


@pytest.mark.parametrize("stem", NOTEBOOK_STEMS)
def test_notebook_pages_are_rendered_as_site_pages(site: Path, stem: str) -> None:
    """A notebook page has the markup of the site's Markdown pages: Material code blocks, outputs and
    described figures, drawn at 2x for high-density screens (hooks/kernel_startup.py)."""
    alts = {}
    for language in ("es", "en"):
        page = _page_file(site, language, f"notebooks/{stem}.py")
        assert page.is_file(), f"notebook {stem} ({language}) has no page at {page.relative_to(site)}"
        html = page.read_text(encoding="utf-8")
        where = page.relative_to(site)
        assert html.lstrip().lower().startswith("<!doctype html"), f"{where} is not an HTML page"
        assert "# %%" not in html, f"{where} shows the notebook's raw source"
        assert not (site / ("" if language == "es" else "en") / "notebooks" / f"{stem}.py").exists()
        blocks = html.count('<div class="highlight"><pre><span></span><code>')
        assert '<span class="kn">import</span>' in html, f"{where} has no Python code block in Material's style"
        assert blocks >= 2, f"{where} has {blocks} code blocks: code and printed output expected (was it executed?)"
        jupyter = ("jp-Cell", "jp-InputPrompt", "In&nbsp;[", "In\xa0[", "Copied!", "No description has been provided",
                   "clipboard-copy", "highlight-ipynb", "anchor-link", "<style")
        for leftover in jupyter:
            assert leftover not in html, f"{where} still carries Jupyter's rendering: {leftover!r}"
        figures = NOTEBOOK_FIGURE.findall(html)
        alts[language] = [alt for _, alt, _ in figures]
        assert all(alt.strip() for alt in alts[language]), f"{where}: a figure without alt text"
        for png, alt, width in figures:
            drawn = int.from_bytes(base64.b64decode(png[:32])[16:20], "big")  # the PNG header's width
            assert drawn // 2 == int(width), f"{where}: figure {alt[:30]!r} drawn {drawn} px wide for {width} px"
    source = (DOCS / "es" / "notebooks" / f"{stem}.py").read_text(encoding="utf-8")
    if "plt.show()" in source:
        assert alts["es"], f"notebook {stem}: no figure on the Spanish page"
    assert len(alts["es"]) == len(alts["en"]), f"notebook {stem}: {alts} figures per language"
    assert not set(alts["es"]) & set(alts["en"]), f"notebook {stem}: the same alt text in both languages"


def test_every_notebook_keeps_its_cached_execution(site: Path) -> None:
    """After the build of both languages, mkdocs-jupyter's cache holds every notebook of each, so a warm
    rebuild executes none (each language's build used to evict the other's entries)."""
    sys.path.insert(0, str(ROOT / "hooks"))
    try:
        import notebook_pages
    finally:
        sys.path.remove(str(ROOT / "hooks"))
    from mkdocs.config import load_config

    jupyter = load_config(str(ROOT / "mkdocs.yml")).plugins["mkdocs-jupyter"].config
    expected = notebook_pages.notebook_cache_paths(DOCS, {**jupyter, "cache_dir": notebook_pages.cache_dir(ROOT)})
    assert len(expected) == 2 * len(NOTEBOOK_STEMS)
    missing = sorted(str(p) for p in expected if not p.is_file())
    assert not missing, f"notebook cache entries missing after the build: {missing}"
