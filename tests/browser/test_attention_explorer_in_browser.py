"""The attention explorer (docs/*/attention-explorer.md) as Chromium shows it, in both languages.

One visit per language on a desktop drives the explorer the way a reader does (the mouse over a token, the
keyboard along the tokens, each control changed in turn) and records what it shows after each step; one
visit per language on a phone measures its width. The tests compare what is shown with the JSON files the
site serves: the same weights, rows that sum to 1, nothing above the diagonal. axe runs on the drawn
explorer in the light and the dark palette (the site-wide crawl may reach the page before it is drawn).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from site_crawl import CHECKS, PAGE_TIMEOUT_MS, missing_browser_tools, new_site_page

pytestmark = pytest.mark.browser

if missing_browser_tools():
    pytest.skip(missing_browser_tools(), allow_module_level=True)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The rules the site-wide crawl runs (conftest.py), on the explorer once it is drawn; colour contrast is
# run on the page's content, in both palettes.
AXE_RULES = [
    "color-contrast", "image-alt", "svg-img-alt", "role-img-alt", "scrollable-region-focusable",
    "aria-allowed-attr", "aria-prohibited-attr", "aria-valid-attr-value", "aria-required-attr",
    "button-name", "label", "select-name", "nested-interactive", "duplicate-id-aria", "valid-lang",
]
PAGES = {"es": "attention-explorer/", "en": "en/attention-explorer/"}
ROOT = "[data-attention-explorer]"

# What the explorer shows, read from its markup: the tokens, the heat map's cells (row by row, the weight
# each carries or None above the diagonal), the chosen token's row as listed below the tokens, the controls.
SNAPSHOT = """() => {
  const root = document.querySelector("[data-attention-explorer]");
  const weight = (el) => el.getAttribute("data-weight") === "" ? null : Number(el.getAttribute("data-weight"));
  const control = (key) => root.querySelector(`[data-control="${key}"]`);
  return {
    names: root.getAttribute("data-sentences").split(/\\s+/),
    // Layers and heads as the explorer numbers them (from 1); the sentence by its place in the list.
    sentence: control("sentence").selectedIndex, layer: Number(control("layer").value), head: control("head").value,
    shown: Number(root.getAttribute("data-shown-token")),
    caption: root.querySelector(".attention-explorer__caption").textContent,
    tokens: [...root.querySelectorAll("button[data-token]")].map((b) => b.textContent),
    pressed: [...root.querySelectorAll("button[data-token]")].map((b) => b.getAttribute("aria-pressed")),
    focused: document.activeElement ? document.activeElement.getAttribute("data-token") : null,
    cells: [...root.querySelectorAll("svg g[data-row]")].map((g) => [...g.querySelectorAll("rect")]
      .map((c) => ({ future: c.classList.contains("is-future"), weight: weight(c) }))),
    row: [...root.querySelectorAll(".attention-explorer__item")].map((li) => ({
      future: li.classList.contains("is-future"), weight: weight(li),
      text: li.querySelector(".attention-explorer__value").textContent })),
  };
}"""


@dataclass
class ExplorerVisit:
    """What the explorer showed on one page, step by step (``steps``: name -> snapshot)."""

    language: str
    steps: dict[str, dict] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    off_site_requests: list[str] = field(default_factory=list)
    axe_light: list[dict] = field(default_factory=list)
    axe_dark: list[dict] = field(default_factory=list)
    width: dict = field(default_factory=dict)  # on the phone
    error: str = ""


async def _open(context, base: str, language: str, visit: ExplorerVisit):
    page = await new_site_page(context, base, visit.console_errors, visit.off_site_requests)
    await page.goto(base + PAGES[language], wait_until="load")
    await page.wait_for_selector(f"{ROOT}[data-rendered]")
    return page


async def _drive(context, base: str, language: str, axe_source: str) -> ExplorerVisit:
    visit = ExplorerVisit(language)
    page = None
    try:
        page = await _open(context, base, language, visit)

        async def snap(step: str) -> None:
            visit.steps[step] = await page.evaluate(SNAPSHOT)

        await snap("start")
        await page.hover(f'{ROOT} button[data-token="1"]')
        await snap("hover 1")
        await page.focus(f'{ROOT} [data-control="head"]')
        await page.keyboard.press("Tab")
        await snap("tab")
        await page.keyboard.press("ArrowRight")
        await page.keyboard.press("ArrowRight")
        await snap("arrow right twice")
        await page.select_option(f'{ROOT} [data-control="layer"]', value="3")
        await snap("layer 3")
        await page.select_option(f'{ROOT} [data-control="head"]', value="mean")
        await snap("average")
        await page.select_option(f'{ROOT} [data-control="sentence"]', index=1)
        await snap("sentence 2")
        await page.add_script_tag(content=axe_source)
        visit.axe_light = await page.evaluate("(rules) => __siteChecks.axe(rules)", AXE_RULES)
        await page.evaluate("() => __siteChecks.darkPalette()")
        visit.axe_dark = await page.evaluate("(rules) => __siteChecks.axe(rules)", AXE_RULES)
    except Exception as error:
        visit.error = f"{type(error).__name__}: {error}"
    finally:
        if page is not None:
            await page.close()
    return visit


async def _measure_phone(context, base: str, language: str) -> ExplorerVisit:
    visit = ExplorerVisit(language)
    page = None
    try:
        page = await _open(context, base, language, visit)
        await page.tap(f'{ROOT} button[data-token="2"]')
        visit.steps["tap 2"] = await page.evaluate(SNAPSHOT)
        visit.width = await page.evaluate("""(root) => {
          const box = document.querySelector(root).getBoundingClientRect();
          return { page: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
                   left: box.left, right: box.right };
        }""", ROOT)
    except Exception as error:
        visit.error = f"{type(error).__name__}: {error}"
    finally:
        if page is not None:
            await page.close()
    return visit


async def _visit_all(executable: str, base: str, axe_source: str) -> dict[tuple[str, str], ExplorerVisit]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        desktop = await browser.new_context(viewport=DESKTOP, reduced_motion="reduce", color_scheme="light")
        phone = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, reduced_motion="reduce",
                                          color_scheme="light")
        for context in (desktop, phone):
            context.set_default_timeout(PAGE_TIMEOUT_MS)
            await context.add_init_script(path=CHECKS)
        languages = list(PAGES)
        visits = await asyncio.gather(*(_drive(desktop, base, lang, axe_source) for lang in languages),
                                      *(_measure_phone(phone, base, lang) for lang in languages))
        await browser.close()
    keys = [(lang, "desktop") for lang in languages] + [(lang, "phone") for lang in languages]
    return dict(zip(keys, visits, strict=True))


@pytest.fixture(scope="module")
def explorer(chromium: str, base_url: str, axe_source: str) -> dict[tuple[str, str], ExplorerVisit]:
    visits = asyncio.run(_visit_all(chromium, base_url, axe_source))
    broken = [f"{key}: {visit.error}" for key, visit in visits.items() if visit.error]
    assert not broken, "the explorer could not be driven:\n" + "\n".join(broken)
    return visits


@pytest.fixture(scope="module")
def served(site: Path) -> dict[str, dict]:
    """The JSON files the site serves, by sentence name."""
    files = sorted((site / "assets" / "attention").glob("*-attention.json"))
    assert files, "the built site has no assets/attention/*-attention.json"
    return {data["name"]: data for data in (json.loads(f.read_text(encoding="utf-8")) for f in files)}


def expected_matrix(served: dict[str, dict], snapshot: dict) -> list[list[float]]:
    """The matrix the controls of ``snapshot`` select, from the served files."""
    layer = served[snapshot["names"][snapshot["sentence"]]]["weights"][snapshot["layer"] - 1]
    if snapshot["head"] == "mean":
        return [[sum(head[i][j] for head in layer) / len(layer) for j in range(len(layer[0]))]
                for i in range(len(layer[0]))]
    return layer[int(snapshot["head"]) - 1]


def _listed(problems: list[str], most: int = 12) -> str:
    more = f"\n... and {len(problems) - most} more" if len(problems) > most else ""
    return f"{len(problems)} problem(s):\n" + "\n".join(problems[:most]) + more


def desktop_steps(explorer: dict) -> list[tuple[str, str, dict]]:
    return [(key[0], step, snapshot) for key, visit in explorer.items() if key[1] == "desktop"
            for step, snapshot in visit.steps.items()]


def test_the_explorer_draws_the_served_weights(explorer: dict, served: dict[str, dict]) -> None:
    """Each step shows every token and the whole T x T matrix of the chosen sentence, layer and head (or
    their average), equal to the served file's numbers."""
    problems = []
    for language, step, snap in desktop_steps(explorer):
        data = served[snap["names"][snap["sentence"]]]
        count = len(data["tokens"])
        if len(snap["tokens"]) != count or len(snap["cells"]) != count or any(len(r) != count for r in snap["cells"]):
            problems.append(f"{language} {step}: {len(snap['tokens'])} tokens, {len(snap['cells'])} rows of cells "
                            f"for a sentence of {count} tokens")
            continue
        expected = expected_matrix(served, snap)
        worst = max(abs(cell["weight"] - expected[i][j]) for i, row in enumerate(snap["cells"])
                    for j, cell in enumerate(row) if j <= i and cell["weight"] is not None)
        if worst > 1e-6:
            problems.append(f"{language} {step}: a cell differs from the served weight by {worst:.2g}")
    assert len(desktop_steps(explorer)) >= 14
    assert not problems, _listed(problems)


def test_rows_sum_to_one_and_nothing_is_above_the_diagonal(explorer: dict) -> None:
    problems = []
    for language, step, snap in desktop_steps(explorer):
        count = len(snap["cells"])
        for i, row in enumerate(snap["cells"]):
            above = [j for j, cell in enumerate(row) if j > i and (not cell["future"] or cell["weight"] is not None)]
            below = [j for j, cell in enumerate(row) if j <= i and (cell["future"] or cell["weight"] is None)]
            if above:
                problems.append(f"{language} {step}: row {i} shows weight above the diagonal, columns {above}")
            if below:
                problems.append(f"{language} {step}: row {i} grays out visible columns {below}")
            total = sum(cell["weight"] or 0 for cell in row)
            if abs(total - 1) > count * 5e-5 + 1e-6:  # each stored weight is rounded to 4 decimals
                problems.append(f"{language} {step}: row {i} of the map sums to {total:.5f}")
        listed = snap["row"]
        shown = snap["shown"]
        future = [j for j, item in enumerate(listed) if item["future"]]
        if future != list(range(shown + 1, count)):
            problems.append(f"{language} {step}: token {shown}'s row grays out {future}")
        # The numbers as written (two decimals, the page's decimal separator) add up to 1 within their rounding.
        separator = "," if language == "es" else "."
        written = [item["text"] for item in listed if not item["future"]]
        if any(separator not in text for text in written):
            problems.append(f"{language} {step}: numbers {written} not written with {separator!r}")
        total = sum(float(text.replace(",", ".")) for text in written)
        if abs(total - 1) > 0.005 * len(written) + 1e-9:
            problems.append(f"{language} {step}: the numbers shown for token {shown} add up to {total:.2f}")
    assert not problems, _listed(problems)


@pytest.mark.parametrize("language", list(PAGES))
def test_hover_and_keyboard_focus_choose_the_token_shown(explorer: dict, language: str) -> None:
    steps = explorer[(language, "desktop")].steps
    start = steps["start"]
    last = len(start["tokens"]) - 1
    assert start["shown"] == last, f"the explorer starts on token {start['shown']}, not the last ({last})"
    assert steps["hover 1"]["shown"] == 1, "hovering token 1 did not show its row"
    assert steps["hover 1"]["caption"] != start["caption"], "the caption did not follow the hovered token"
    assert steps["hover 1"]["pressed"][1] == "true" and steps["hover 1"]["pressed"].count("true") == 1
    assert steps["tab"]["focused"] == "0" and steps["tab"]["shown"] == 0, (
        "Tab from the last control should reach the first token and show its row: "
        f"focus on {steps['tab']['focused']!r}, row {steps['tab']['shown']}")
    moved = steps["arrow right twice"]
    assert moved["focused"] == "2" and moved["shown"] == 2, (
        f"two presses of the right arrow: focus on {moved['focused']!r}, row {moved['shown']}")


@pytest.mark.parametrize("language", list(PAGES))
def test_each_control_changes_what_is_shown(explorer: dict, language: str) -> None:
    steps = explorer[(language, "desktop")].steps
    order = ["arrow right twice", "layer 3", "average", "sentence 2"]
    for before, after in itertools.pairwise(order):
        assert steps[before]["cells"] != steps[after]["cells"], f"{before} -> {after}: the heat map did not change"
    assert (steps["layer 3"]["layer"], steps["average"]["head"], steps["sentence 2"]["sentence"]) == (3, "mean", 1)
    assert steps["sentence 2"]["tokens"] != steps["start"]["tokens"]


@pytest.mark.parametrize("language", list(PAGES))
def test_no_console_error_nor_off_site_request(explorer: dict, language: str) -> None:
    for viewport in ("desktop", "phone"):
        visit = explorer[(language, viewport)]
        assert not visit.console_errors, f"{language} {viewport}: console errors {visit.console_errors}"
        assert not visit.off_site_requests, f"{language} {viewport}: off-site requests {visit.off_site_requests}"


@pytest.mark.parametrize("language", list(PAGES))
def test_the_explorer_fits_a_phone(explorer: dict, language: str) -> None:
    visit = explorer[(language, "phone")]
    width = visit.width
    assert width["page"] <= width["viewport"], f"the page is {width['page']} px wide on a {width['viewport']} px phone"
    assert width["left"] >= 0 and width["right"] <= width["viewport"] + 0.5, f"the explorer spans {width}"
    assert visit.steps["tap 2"]["shown"] == 2, "tapping a token on the phone did not show its row"


@pytest.mark.parametrize("language", list(PAGES))
@pytest.mark.parametrize("palette", ["light", "dark"])
def test_axe_passes_on_the_drawn_explorer(explorer: dict, language: str, palette: str) -> None:
    violations = getattr(explorer[(language, "desktop")], f"axe_{palette}")
    assert not violations, "\n".join(f"axe {v['id']} ({v['help']}): " + "; ".join(v["nodes"][:4]) for v in violations)
