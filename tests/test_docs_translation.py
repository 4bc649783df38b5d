"""Translation provenance: every English page and notebook is stamped with the Spanish it translates.

The stamps live in ``tests/translation_stamps.json`` (see ``tests/stamp_translations.py``). When a
section of a Spanish page changes and its English twin has not been re-stamped, the test names the
page, the section and the Spanish blocks that changed since the stamp. The translator updates the
English, then runs ``python tests/stamp_translations.py docs/en/<page>``.
"""

from __future__ import annotations

import pytest
from docs_text import SOURCE, TARGET, twin_files
from stamp_translations import COMMAND, load_stamps, stale_message, stale_sections

TWINS = sorted(twin_files(SOURCE) & twin_files(TARGET))


@pytest.mark.parametrize("relative", TWINS)
def test_translation_is_stamped_with_its_current_source(relative: str) -> None:
    problems = stale_sections(relative)
    assert not problems, stale_message(relative, problems)


def test_every_stamp_names_a_page() -> None:
    gone = sorted(set(load_stamps()) - set(TWINS))
    assert not gone, f"tests/translation_stamps.json stamps pages that no longer exist: {gone}; run {COMMAND} --all"
