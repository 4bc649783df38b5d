"""What a reader does in Chromium: switch language from any page, and search in each language."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from site_crawl import PageReport, search

pytestmark = pytest.mark.browser

# Words found on pages of both languages, and what search must never show of a notebook.
QUERIES = ["LayerNorm", "GELU", "TransformerBlock", "softmax"]
RAW_NOTEBOOK = ["In [", "In\xa0[", "Copied!", "¶", "# %%"]


def test_language_switcher_lands_on_the_twin(base_url: str, desktop: dict[str, PageReport]) -> None:
    wrong, tried = [], 0
    for path, report in sorted(desktop.items()):
        if path.endswith(".html"):
            continue
        tried += 1
        twin = path[len("en/"):] if path.startswith("en/") else f"en/{path}"
        if report.error or report.switched_to != base_url + twin:
            wrong.append(f"/{path}: landed on {report.switched_to or report.error}, expected /{twin}")
    assert tried >= 30
    assert not wrong, f"the language switcher missed the twin ({len(wrong)}):\n" + "\n".join(wrong)


@pytest.mark.parametrize("language", ["es", "en"])
def test_search_returns_only_the_pages_of_its_language(chromium: str, base_url: str, language: str) -> None:
    home = "" if language == "es" else "en/"
    results = search(chromium, base_url, [(home, query) for query in QUERIES])
    problems = []
    for query, found in zip(QUERIES, results, strict=True):
        if not found:
            problems.append(f"{query!r}: no result")
        for result in found:
            path = urlsplit(result["href"]).path
            if not result["href"].startswith(base_url) or path.startswith("/en/") != (language == "en"):
                problems.append(f"{query!r}: result of another language or site: {result['href'] or result['text']}")
            leftovers = [raw for raw in RAW_NOTEBOOK if raw in result["title"] or raw in result["text"]]
            if leftovers:
                problems.append(f"{query!r}: result {path} shows {leftovers}: {result['text'][:120]!r}")
    assert not problems, f"search from /{home} ({len(problems)}):\n" + "\n".join(problems)
