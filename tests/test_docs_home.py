"""The home pages: the README's two commands, verbatim, and links to every page in reading order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def readme_commands() -> list[str]:
    match = re.search(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert match, "README.md has no ```bash block with the commands"
    commands = [line for line in match.group(1).splitlines() if line.strip()]
    assert len(commands) == 2, f"README.md should give two commands, it gives {commands}"
    return commands


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's nav, in reading order."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)
    pages: list[str] = []

    def walk(items) -> None:
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            if isinstance(value, list):
                walk(value)
            else:
                pages.append(value)

    walk(config["nav"])
    return pages


@pytest.mark.parametrize("language", ["es", "en"])
def test_home_page_gives_the_readme_commands(language: str) -> None:
    home = (ROOT / "docs" / language / "index.md").read_text(encoding="utf-8")
    for command in readme_commands():
        assert command in home.splitlines(), f"docs/{language}/index.md lacks the README command:\n{command}"


@pytest.mark.parametrize("language", ["es", "en"])
def test_home_page_links_every_chapter_in_reading_order(language: str) -> None:
    home = (ROOT / "docs" / language / "index.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\(([\w/.-]+\.md)\)", home)
    chapters = [page for page in nav_pages() if page.endswith(".md") and page != "index.md"]
    order = [page for page in dict.fromkeys(linked) if page in chapters]
    assert order == chapters, f"docs/{language}/index.md links {order}, the nav reads {chapters}"
