"""The built site as Chromium shows it: every page of both languages on a desktop (1280 x 900) and a phone
(390 x 844), the language switcher and search.

Most tests read the reports of one crawl of the whole site per viewport (``conftest.py``) and list every
page that breaks their rule. Without Chromium, Playwright or axe-core the whole module is skipped, with
one line that says how to install what is missing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from site_crawl import PageReport, missing_browser_tools, search

pytestmark = pytest.mark.browser

if missing_browser_tools():
    pytest.skip(missing_browser_tools(), allow_module_level=True)

# A notebook figure is drawn at most as wide as the text column with 12 pt text (hooks/kernel_startup.py):
# shown at its own size on a desktop, and at no less than this share of it on a phone, its smallest
# text stays at about 9 px or more.
PHONE_FIGURE_SCALE = 0.55


def _failures(reports: dict[str, PageReport], check) -> list[str]:
    found = []
    for path, report in sorted(reports.items()):
        problems = [f"page did not load: {report.error}"] if report.error else check(report)
        found += [f"/{path}: {problem}" for problem in problems]
    return found


def _assert_none(failures: list[str], what: str) -> None:
    assert not failures, f"{what} ({len(failures)}):\n" + "\n".join(failures)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_no_console_error(viewport: str, request: pytest.FixtureRequest) -> None:
    reports = request.getfixturevalue(viewport)
    _assert_none(_failures(reports, lambda r: r.console_errors), f"console errors on the {viewport}")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_no_failed_or_off_site_request(viewport: str, request: pytest.FixtureRequest) -> None:
    reports = request.getfixturevalue(viewport)
    failures = _failures(reports, lambda r: r.failed_requests + [f"off-site: {url}" for url in r.off_site_requests])
    _assert_none(failures, f"failed or off-site requests on the {viewport}")


def test_every_mermaid_diagram_becomes_a_described_svg(desktop: dict[str, PageReport]) -> None:
    def check(report: PageReport) -> list[str]:
        diagrams = report.measures["diagrams"]
        problems = []
        if len(diagrams) != report.expected_diagrams or not all(d["svg"] for d in diagrams):
            drawn = sum(d["svg"] for d in diagrams)
            problems.append(f"{drawn} of {report.expected_diagrams} Mermaid diagrams drawn as SVG")
        problems += [f"diagram {n} has no text alternative (accTitle/accDescr)"
                     for n, d in enumerate(diagrams, 1) if d["svg"] and not (d["name"] and d["description"])]
        return problems

    assert sum(r.expected_diagrams for r in desktop.values()) >= 6, "the site should have Mermaid diagrams"
    _assert_none(_failures(desktop, check), "Mermaid diagrams")


def test_no_raw_tex_is_visible(desktop: dict[str, PageReport]) -> None:
    _assert_none(_failures(desktop, lambda r: [f"raw TeX: {text!r}" for text in r.raw_tex]), "raw TeX shown")


def test_formulas_are_read_to_screen_readers(desktop: dict[str, PageReport]) -> None:
    def check(report: PageReport) -> list[str]:
        m = report.measures
        if m["spoken"] == m["formulas"]:
            return []
        return [f"{m['spoken']} of {m['formulas']} formulas carry assistive MathML"]

    assert sum(r.measures.get("formulas", 0) for r in desktop.values()) >= 20, "the site should have formulas"
    _assert_none(_failures(desktop, check), "formulas silent to screen readers")


def test_no_page_scrolls_sideways_on_a_phone(phone: dict[str, PageReport]) -> None:
    def check(report: PageReport) -> list[str]:
        m = report.measures
        if m["scrollWidth"] > m["viewport"]:
            return [f"page is {m['scrollWidth']} px wide in a {m['viewport']} px viewport"]
        return []

    _assert_none(_failures(phone, check), "pages wider than a phone")


def _cut_off(report: PageReport, may_scroll: bool) -> list[str]:
    problems = []
    for box in report.measures["boxes"]:
        where = f"{box['kind']} in {box['box']}" + (f" {box['label']!r}" if box["label"] else "")
        if box["left"] < -1 or box["right"] > box["viewport"] + 1:
            span = f"{box['left']:.0f}..{box['right']:.0f} px"
            problems.append(f"{where} spans {span}, outside the {box['viewport']} px viewport")
        elif box["scrollWidth"] > box["clientWidth"] + 1:
            overflow = f"{box['scrollWidth']} px of content in {box['clientWidth']} px"
            if not may_scroll:
                problems.append(f"{where} is cut off: {overflow}")
            elif not (box["scrolls"] and box["focusable"]):
                problems.append(f"{where} is cut off: {overflow}, in a box that cannot be scrolled by keyboard")
    return problems


def test_no_formula_or_table_is_cut_off_on_a_desktop(desktop: dict[str, PageReport]) -> None:
    """On a desktop every display formula and table fits its column."""
    failures = _failures(desktop, lambda r: _cut_off(r, may_scroll=False))
    _assert_none(failures, "formulas or tables cut off on the desktop")


def test_no_formula_or_table_is_cut_off_on_a_phone(phone: dict[str, PageReport]) -> None:
    """On a phone a wide formula or table may scroll sideways, in its own box, reachable by keyboard."""
    _assert_none(_failures(phone, lambda r: _cut_off(r, may_scroll=True)), "formulas or tables cut off on the phone")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_images_fit_and_notebook_figures_stay_legible(viewport: str, request: pytest.FixtureRequest) -> None:
    reports = request.getfixturevalue(viewport)
    least = 0.99 if viewport == "desktop" else PHONE_FIGURE_SCALE

    def check(report: PageReport) -> list[str]:
        problems = []
        for image in report.measures["images"]:
            if image["left"] < -1 or image["right"] > image["viewport"] + 1:
                problems.append(f"image {image['src']!r} is cut off by the viewport")
            if image["notebook"] and image["shown"] < least * image["width"]:
                problems.append(f"notebook figure drawn {image['width']} px wide is shown at {image['shown']:.0f} px "
                                f"(less than {least:.0%}): its text is too small to read")
        return problems

    figures = sum(image["notebook"] for r in reports.values() for image in r.measures.get("images", []))
    assert figures >= 10, f"only {figures} notebook figures found"
    _assert_none(_failures(reports, check), f"images on the {viewport}")


def test_pages_have_their_language_and_a_title(desktop: dict[str, PageReport]) -> None:
    """Both languages title their pages alike: a home page by its heading, which names the site; any
    other page '<page> - gptblock'."""

    def check(report: PageReport) -> list[str]:
        language = "en" if report.path.startswith("en/") else "es"
        title = report.measures["title"]
        lang = report.measures["lang"]
        problems = [] if lang == language else [f'lang="{lang}", not "{language}"']
        if report.path in ("", "en/"):
            if not title.startswith("gptblock") or title.endswith(" - gptblock"):
                problems.append(f"home page titled {title!r}, not by its heading")
        elif not (title.endswith(" - gptblock") and len(title) > len(" - gptblock")):
            problems.append(f"title {title!r} is not '<page> - gptblock'")
        return problems

    _assert_none(_failures(desktop, check), "languages and titles")


def _axe(reports: dict[str, PageReport], where: str) -> None:
    def check(report: PageReport) -> list[str]:
        return [f"axe {v['id']} ({v['help']}): " + "; ".join(v["nodes"][:4]) + (" ..." if len(v["nodes"]) > 4 else "")
                for v in report.axe]

    _assert_none(_failures(reports, check), f"accessibility violations, {where}")


def test_axe_desktop_light(desktop: dict[str, PageReport]) -> None:
    _axe(desktop, "desktop, light palette")


def test_axe_phone(phone: dict[str, PageReport]) -> None:
    _axe(phone, "phone, light palette")


def test_axe_desktop_dark(desktop: dict[str, PageReport]) -> None:
    assert all(r.dark_scheme == "slate" for r in desktop.values() if not r.error), "the dark palette was not applied"
    dark = {path: PageReport(path, error=r.error, axe=r.dark_axe) for path, r in desktop.items()}
    _axe(dark, "desktop, dark palette")


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
