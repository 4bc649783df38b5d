"""Loads every page of the built site in Chromium and records what a reader's browser shows.

One browser, a few tabs at a time (``TABS``): each page is opened once per viewport and everything the
tests check is measured in that visit (console, requests, diagrams, formulas, widths, axe in the light
palette, colour contrast again in the dark palette, then a click on the language switcher). The tests
then assert on these reports. The measurements are in ``page_checks.js``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # npm ci
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
TABS = 4
SETTLE_TIMEOUT_MS = 20_000
PAGE_TIMEOUT_MS = 60_000  # the machine may be shared: generous, a broken page fails anyway
CHECKS = Path(__file__).with_name("page_checks.js")  # window.__siteChecks, injected before the page's scripts

RAW_TEX = re.compile(
    r"\\[(\[]|\\[)\]]|\$\$|\\(?:frac|mathrm|text|begin|end|sum|sqrt|mu|sigma|varepsilon|odot|operatorname)\b"
)


def chromium_path() -> str | None:
    """The system's Chromium: ``$CHROMIUM`` if set, else the first of ``CHROMIUM_CANDIDATES`` on the PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((found for name in CHROMIUM_CANDIDATES if (found := shutil.which(name))), None)


def missing_browser_tools() -> str:
    """Why the browser tests cannot run here, with how to install what is missing; "" when they can."""
    missing = []
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("Playwright (pip install -e '.[test]')")
    if chromium_path() is None:
        missing.append("Chromium (apt-get install chromium)")
    if not AXE.is_file():
        missing.append("axe-core (npm ci)")
    if not missing:
        return ""
    return "browser tests need " + ", ".join(missing) + "; bash .ci/run installs them"


@dataclass
class PageReport:
    """What one page showed in one browser configuration."""

    path: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    off_site_requests: list[str] = field(default_factory=list)
    expected_diagrams: int = 0
    measures: dict = field(default_factory=dict)
    axe: list[dict] = field(default_factory=list)
    dark_scheme: str = ""  # the palette the dark axe run saw
    dark_axe: list[dict] = field(default_factory=list)
    switched_to: str = ""  # where the language switcher led
    error: str = ""

    @property
    def raw_tex(self) -> list[str]:
        return [text.strip()[:80] for text in self.measures.get("texts", []) if RAW_TEX.search(text)]


def site_pages(site: Path) -> list[str]:
    """Every page of the built site, as a path under its root: ``""``, ``"layer-norm/"``, ``"en/404.html"``."""
    pages = [p.parent.relative_to(site).as_posix() + "/" for p in site.rglob("index.html")]
    pages = ["" if p == "./" else p for p in pages]
    pages += [p.relative_to(site).as_posix() for p in site.rglob("404.html")]
    return sorted(pages)


def expected_diagrams(site: Path, path: str) -> int:
    file = site / path if path.endswith(".html") else site / path / "index.html"
    return len(re.findall(r'<pre class="mermaid"', file.read_text(encoding="utf-8")))


async def new_site_page(context, base: str, console_errors: list[str], off_site_requests: list[str]):
    """A new tab that records console errors and uncaught exceptions into ``console_errors``, and aborts
    every request that leaves the site at ``base``, recording its address in ``off_site_requests``."""
    page = await context.new_page()
    host = urlsplit(base).netloc
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))

    async def only_this_site(route):
        if urlsplit(route.request.url).netloc == host:
            await route.continue_()
        else:
            off_site_requests.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_this_site)
    return page


async def _visit(context, base: str, path: str, report: PageReport, axe_source: str | None, axe_rules: list[str],
                 dark_axe_rules: list[str], switch_language: str | None) -> None:
    page = await new_site_page(context, base, report.console_errors, report.off_site_requests)
    host = urlsplit(base).netloc
    page.on("requestfailed", lambda request: report.failed_requests.append(f"{request.failure} {request.url}")
            if urlsplit(request.url).netloc == host else None)
    page.on("response", lambda response: report.failed_requests.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    try:
        await page.goto(base + path, wait_until="load")
        await page.evaluate("([n, ms]) => __siteChecks.settle(n, ms)", [report.expected_diagrams, SETTLE_TIMEOUT_MS])
        report.measures = await page.evaluate("() => __siteChecks.measure()")
        if axe_source is not None and axe_rules:
            await page.add_script_tag(content=axe_source)
            report.axe = await page.evaluate("(rules) => __siteChecks.axe(rules)", axe_rules)
            if dark_axe_rules:
                report.dark_scheme = await page.evaluate("() => __siteChecks.darkPalette()")
                report.dark_axe = await page.evaluate("(rules) => __siteChecks.axe(rules)", dark_axe_rules)
        await page.wait_for_load_state("networkidle", timeout=5_000)
        if switch_language and not path.endswith(".html"):
            menu = page.locator(".md-header__option .md-select").filter(
                has=page.locator(f'a[hreflang="{switch_language}"]'))
            await menu.hover()
            async with page.expect_navigation(wait_until="load"):
                await menu.locator(f'a[hreflang="{switch_language}"]').click()
            report.switched_to = page.url
    except Exception as error:  # reported per page, so one broken page does not hide the others
        report.error = f"{type(error).__name__}: {error}"
    finally:
        await page.close()


async def _crawl(site: Path, base: str, paths: list[str], *, executable: str, viewport: dict, mobile: bool,
                 axe_source: str | None, axe_rules: list[str], dark_axe_rules: list[str] = (),
                 switch_languages: bool = False) -> dict[str, PageReport]:
    from playwright.async_api import async_playwright

    reports = {path: PageReport(path, expected_diagrams=expected_diagrams(site, path)) for path in paths}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        context = await browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                            device_scale_factor=1, reduced_motion="reduce", color_scheme="light")
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        await context.add_init_script(path=CHECKS)
        tabs = asyncio.Semaphore(TABS)

        async def visit(path: str) -> None:
            async with tabs:
                other = ("es" if path.startswith("en/") else "en") if switch_languages else None
                await _visit(context, base, path, reports[path], axe_source, axe_rules, list(dark_axe_rules), other)

        await asyncio.gather(*(visit(path) for path in paths))
        await browser.close()
    return reports


def crawl(site: Path, base: str, paths: list[str], **options) -> dict[str, PageReport]:
    """Visits ``paths`` of the site served at ``base`` in one browser; see ``_crawl`` for the options."""
    return asyncio.run(_crawl(site, base, paths, **options))


async def _search(context, base: str, home: str, query: str) -> list[dict]:
    """Types ``query`` into the search box of ``home`` and returns the results Material lists."""
    page = await context.new_page()
    try:
        await page.goto(base + home, wait_until="load")
        box = page.locator("input.md-search__input")
        await box.click()  # Material starts loading the index when search opens
        await box.fill(query)
        results = page.locator(".md-search-result__list > li")
        deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT_MS / 1000
        # A query typed before the index is ready is dropped: type its last letter again until it runs.
        while not await results.count() and asyncio.get_running_loop().time() < deadline:
            await page.wait_for_timeout(300)
            await box.press("Backspace")
            await box.type(query[-1])
        return await page.evaluate("""() => [...document.querySelectorAll(".md-search-result__list a")]
            .map(a => ({href: a.href, title: (a.querySelector("h1, h2") || {}).textContent || "",
                        text: a.textContent}))""")
    except Exception as error:
        return [{"href": "", "title": "", "text": f"error: {type(error).__name__}: {error}"}]
    finally:
        await page.close()


async def _interact(executable: str, jobs: list[tuple]) -> list:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        tabs = asyncio.Semaphore(TABS)

        async def run(job):
            function, *arguments = job
            async with tabs:
                return await function(context, *arguments)

        results = await asyncio.gather(*(run(job) for job in jobs))
        await browser.close()
    return results


def search(executable: str, base: str, queries: list[tuple[str, str]]) -> list[list[dict]]:
    """For each (home path, query): the search results shown."""
    return asyncio.run(_interact(executable, [(_search, base, home, query) for home, query in queries]))
