"""MkDocs hook: every page speaks its own language, and asks nothing of the server that is not there.

* Heading links: Python-Markdown titles them "Permanent link" whatever the page's language; here they
  get the title of the page's language (``PERMALINK_TITLES``).
* The 404 page: each language's build writes ``404.html`` at the site's root, so the last language
  built (English) used to win although Spanish is the default. Here the default language's page stays
  at ``404.html`` (the one a static host serves) and every other language's goes to
  ``<language>/404.html``.
* ``<link rel="alternate" hreflang=...>`` in the page's head: the i18n plugin points them at the page's
  twins, and Material fetches ``sitemap.xml`` beside each of them, a request that fails on every page
  but the homes. They are removed: the language switcher's own links already lead to the twin, and
  ``sitemap.xml`` lists every page's alternates (``xhtml:link rel="alternate" hreflang``) for search
  engines.
"""

from __future__ import annotations

import pathlib
import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

PERMALINK_TITLES = {"es": "Enlace permanente", "en": "Permanent link"}
_HEADERLINK_TITLE = re.compile(r'(<a class="headerlink" href="[^"]*" title=")Permanent link(")')
_ALTERNATE_LINK = re.compile(r'[ \t]*<link rel="alternate" href="[^"]*" hreflang="[^"]*">\n?')

_not_found_pages: dict[str, str] = {}


def _language(config: MkDocsConfig) -> tuple[str, str]:
    """The language being built and the default language."""
    i18n = config.plugins.get("i18n")
    if i18n is None:
        language = config.theme["language"]
        return language, language
    return i18n.current_language, i18n.default_language


def on_page_content(html: str, page: Page, config: MkDocsConfig, files) -> str:
    language, _ = _language(config)
    title = PERMALINK_TITLES.get(language)
    return _HEADERLINK_TITLE.sub(lambda m: f"{m[1]}{title}{m[2]}", html) if title else html


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return _ALTERNATE_LINK.sub("", output)


def on_post_template(output: str, template_name: str, config: MkDocsConfig) -> str:
    if template_name == "404.html":
        language, _ = _language(config)
        _not_found_pages[language] = _ALTERNATE_LINK.sub("", output)
    return output


@event_priority(-200)  # after the i18n plugin has built every language
def on_post_build(config: MkDocsConfig) -> None:
    i18n = config.plugins.get("i18n")
    if i18n is not None and i18n.building:  # the build of one language inside the i18n plugin
        return
    _, default = _language(config)
    site = pathlib.Path(config.site_dir)
    for language, page in _not_found_pages.items():
        target = site / "404.html" if language == default else site / language / "404.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    _not_found_pages.clear()
