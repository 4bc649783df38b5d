"""The browser suite's fixtures: the built site served on a free port, Chromium, axe-core, and one
crawl of every page per viewport (desktop, phone), shared by the tests.

Chromium is Debian's package (``apt-get install chromium``): Playwright's own browser download cannot
work offline. axe-core comes from the npm registry (``npm ci``, pinned in package-lock.json). Both are
installed by ``bash .ci/run``; where one is missing, the browser tests are skipped with one line that says
how to install it (``-rs`` in pytest's options prints it).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from site_crawl import AXE, PageReport, chromium_path, crawl, missing_browser_tools, site_pages

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# axe rules whose outcome the project decides: heading levels, text alternatives of images and SVG
# diagrams, scroll regions reachable by keyboard, the page's language and title, and colour contrast
# (the project's CSS overrides the code colours Material greys too lightly). Not checked: rules that only
# Material's own chrome breaks (the search dialog's name, the code blocks' unnamed <nav> landmarks,
# links told apart from text by colour alone), which this project does not style.
AXE_RULES = [
    "heading-order", "page-has-heading-one", "empty-heading",
    "image-alt", "svg-img-alt", "role-img-alt", "object-alt",
    "scrollable-region-focusable",
    "html-has-lang", "html-lang-valid", "valid-lang",
    "document-title",
    "color-contrast",
    "aria-allowed-attr", "aria-prohibited-attr", "aria-valid-attr-value",
]
PHONE_AXE_RULES = ["scrollable-region-focusable"]  # what a narrow viewport changes
DARK_AXE_RULES = ["color-contrast"]


@pytest.fixture(scope="session")
def chromium() -> str:
    if missing_browser_tools():
        pytest.skip(missing_browser_tools())
    return chromium_path()


@pytest.fixture(scope="session")
def axe_source(chromium: str) -> str:
    return AXE.read_text(encoding="utf-8")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture(scope="session")
def base_url(site: Path, chromium: str) -> Iterator[str]:
    """The built site, served from a thread on a free port of the loopback interface."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def pages(site: Path) -> list[str]:
    found = site_pages(site)
    assert len(found) >= 30, f"only {len(found)} pages in the built site"
    return found


@pytest.fixture(scope="session")
def desktop(site: Path, base_url: str, chromium: str, axe_source: str, pages: list[str]) -> dict[str, PageReport]:
    """Every page at 1280 x 900: the project's axe rules in the light palette, colour contrast again in the
    dark one, then the language switcher."""
    return crawl(site, base_url, pages, executable=chromium, viewport=DESKTOP, mobile=False,
                 axe_source=axe_source, axe_rules=AXE_RULES, dark_axe_rules=DARK_AXE_RULES, switch_languages=True)


@pytest.fixture(scope="session")
def phone(site: Path, base_url: str, chromium: str, axe_source: str, pages: list[str]) -> dict[str, PageReport]:
    """Every page on a 390 x 844 phone, light palette."""
    return crawl(site, base_url, pages, executable=chromium, viewport=PHONE, mobile=True,
                 axe_source=axe_source, axe_rules=PHONE_AXE_RULES)
