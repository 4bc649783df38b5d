"""MkDocs hook: one search index per language, so that a reader searches the pages of their language.

The i18n plugin gathers the search entries of every language into one index, ``search/search_index.json``,
whose lunr pipeline stems every word in both languages, and Material's search loads that one index on
every page (``<base>/search/search_index.json``, where ``base`` is the site's root). After the last
language is built, this hook splits it:

* ``search/search_index.json`` keeps the default language's pages, with its stemmer only;
* ``<language>/search/search_index.json`` holds that language's pages, their locations made relative to
  ``<language>/``, with its stemmer only;
* each page of another language than the default gets ``<language>/`` as Material's ``base``, so its
  search loads its language's index, and Material finds that language's ``sitemap.xml`` there (written
  here: the site map's entries for that language).
"""

from __future__ import annotations

import json
import logging
import pathlib
import re
import xml.etree.ElementTree as ET

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.search_per_language")

INDEX = pathlib.PurePosixPath("search") / "search_index.json"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# Material's configuration of the page: <script id="__config" type="application/json">{..., "base": "../..", ...
_CONFIG_BASE = re.compile(r'(<script id="__config"[^>]*>\{[^<]*?"base": ")([^"]*)(")')


def _i18n(config: MkDocsConfig):
    return config.plugins.get("i18n")


def split_index(index: dict, languages: list[str], default: str) -> dict[str, dict]:
    """The entries of ``index`` per language, each index with its language's stemmer only.

    A location that starts with ``<language>/`` belongs to that language and loses the prefix; every
    other location belongs to the default language.
    """
    others = [language for language in languages if language != default]
    split = {language: {"config": {**index["config"], "lang": [language]}, "docs": []} for language in languages}
    for entry in index["docs"]:
        language = next((lang for lang in others if entry["location"].startswith(f"{lang}/")), default)
        if language != default:
            entry = {**entry, "location": entry["location"][len(language) + 1 :]}
        split[language]["docs"].append(entry)
    return split


def language_sitemap(sitemap: str, site_url: str, language: str) -> str:
    """The entries of ``sitemap`` (the whole site's) whose address is under ``<site_url><language>/``."""
    ET.register_namespace("", SITEMAP_NS)
    ET.register_namespace("xhtml", "http://www.w3.org/1999/xhtml")
    root = ET.fromstring(sitemap)
    prefix = site_url.rstrip("/") + f"/{language}/"
    for url in list(root):
        loc = url.find(f"{{{SITEMAP_NS}}}loc")
        if loc is None or not (loc.text or "").startswith(prefix):
            root.remove(url)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _language_base(output: str, config: MkDocsConfig) -> str:
    """``output`` with Material's ``base`` moved from the site's root to the root of the page's language."""
    i18n = _i18n(config)
    if i18n is None or i18n.current_language == i18n.default_language:
        return output
    language = i18n.current_language
    return _CONFIG_BASE.sub(lambda m: f"{m[1]}{m[2].rstrip('/')}/{language}/{m[3]}", output, count=1)


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    return _language_base(output, config)


def on_post_template(output: str, template_name: str, config: MkDocsConfig) -> str:
    return _language_base(output, config) if template_name == "404.html" else output


@event_priority(-200)  # after the i18n plugin has built every language and written the merged index
def on_post_build(config: MkDocsConfig) -> None:
    i18n = _i18n(config)
    if i18n is None or i18n.building:  # the build of one language inside the i18n plugin
        return
    site = pathlib.Path(config.site_dir)
    merged = site / INDEX
    if not merged.is_file():
        return
    languages = [language.locale for language in i18n.config.languages if language.build]
    split = split_index(json.loads(merged.read_text(encoding="utf-8")), languages, i18n.default_language)
    sitemap = site / "sitemap.xml"
    for language, index in split.items():
        folder = site if language == i18n.default_language else site / language
        (folder / INDEX).parent.mkdir(parents=True, exist_ok=True)
        (folder / INDEX).write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        if folder != site and sitemap.is_file():
            own = language_sitemap(sitemap.read_text(encoding="utf-8"), config.site_url or "/", language)
            (folder / "sitemap.xml").write_text(own, encoding="utf-8")
        log.info("search index for %s: %d entries", language, len(index["docs"]))
