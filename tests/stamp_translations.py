"""Translation stamps: which Spanish text each English page and notebook was translated from.

``tests/translation_stamps.json`` records, for every twin ``docs/en/X``, the sections of its Spanish
source ``docs/es/X`` as they were when the English was last brought up to date: each section's heading
and a short hash of each of its blocks (paragraph, list, table, code block..., white space collapsed).
``tests/test_docs_translation.py`` fails when a Spanish section no longer matches its stamp, naming
the page, the section and the Spanish blocks that changed. Only the Spanish text is stamped: fixing a
typo in the English needs no new stamp.

After updating the English to match the Spanish, re-stamp the page::

    python tests/stamp_translations.py docs/en/attention.md     # one page (es/ or en/ path, or attention.md)
    python tests/stamp_translations.py --all                    # every page and notebook
    python tests/stamp_translations.py                          # no change: list what is out of date

A page is re-stamped only when its English has the structure and the numbers of its Spanish source
(the checks of ``test_docs_structure.py`` and ``test_docs_numbers.py``); ``--force`` skips that check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from docs_text import (
    DOCS,
    ROOT,
    SOURCE,
    TARGET,
    chunk_hash,
    number_problems,
    read_page,
    section_stamps,
    sections,
    shorten,
    structure_problem,
    twin_files,
)

STAMPS = Path(__file__).with_name("translation_stamps.json")
COMMAND = "python tests/stamp_translations.py"
ABOUT = (
    f"For each docs/{TARGET} page: the sections of its docs/{SOURCE} source it was translated from "
    f"(heading, hashes of its blocks). Written by `{COMMAND}`; see CONTRIBUTING.md."
)


def load_stamps() -> dict[str, list[dict]]:
    if not STAMPS.is_file():
        return {}
    return json.loads(STAMPS.read_text(encoding="utf-8"))["pages"]


def save_stamps(stamps: dict[str, list[dict]]) -> None:
    """One line per section, pages in alphabetical order: a re-stamp shows as a small diff."""
    lines = ["{", f'  "about": {json.dumps(ABOUT, ensure_ascii=False)},', '  "pages": {']
    pages = sorted(stamps)
    for n, page in enumerate(pages):
        lines.append(f"    {json.dumps(page)}: [")
        entries = [json.dumps(entry, ensure_ascii=False) for entry in stamps[page]]
        lines += [f"      {entry}," for entry in entries[:-1]] + [f"      {entry}" for entry in entries[-1:]]
        lines.append("    ]" + ("," if n < len(pages) - 1 else ""))
    lines += ["  }", "}"]
    STAMPS.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _keyed(headings: list[str]) -> list[tuple[str, int]]:
    """(heading, occurrence) for each section, so that two sections with one heading stay apart."""
    seen: dict[str, int] = {}
    keys = []
    for heading in headings:
        seen[heading] = seen.get(heading, 0) + 1
        keys.append((heading, seen[heading]))
    return keys


def stale_sections(relative: str, stamps: dict[str, list[dict]] | None = None) -> list[str]:
    """What changed in docs/es/<relative> since docs/en/<relative> was stamped, one message per section."""
    stamps = load_stamps() if stamps is None else stamps
    if relative not in stamps:
        return ["  no stamp: the page was never stamped"]
    current = sections(read_page(relative, SOURCE))
    stamped_keys = _keyed([entry["section"] for entry in stamps[relative]])
    stamped = {key: entry["blocks"] for key, entry in zip(stamped_keys, stamps[relative], strict=True)}
    problems = []
    current_keys = _keyed([heading for heading, _ in current])
    for key, (heading, chunks) in zip(current_keys, current, strict=True):
        name = f"«{heading}»" if heading else "(top of page, before the first heading)"
        hashes = [chunk_hash(chunk) for _, chunk in chunks]
        if key not in stamped:
            changed = chunks
            what = "is new, or its heading changed, since the stamp"
        elif hashes != stamped[key]:
            changed = [(line, chunk) for line, chunk in chunks if chunk_hash(chunk) not in stamped[key]]
            removed = sum(1 for h in stamped[key] if h not in hashes)
            details = [f"{removed} stamped block(s) changed or removed"] if removed else []
            if not changed and not removed:
                details.append("its blocks were reordered or repeated")
            what = "changed since the stamp" + (f" ({'; '.join(details)})" if details else "")
        else:
            continue
        shown = "\n".join(f"    es line {line}: {shorten(chunk, 600)}" for line, chunk in changed[:6])
        if len(changed) > 6:
            shown += f"\n    ... and {len(changed) - 6} more block(s)"
        problems.append(f"  section {name} {what}" + (f"; its new Spanish text:\n{shown}" if shown else ""))
    for key in stamped:
        if key not in current_keys:
            problems.append(f"  section «{key[0]}» of the stamp is gone from the Spanish (removed or renamed)")
    return problems


def stale_message(relative: str, problems: list[str]) -> str:
    return (
        f"docs/{TARGET}/{relative} is not stamped with the current docs/{SOURCE}/{relative}:\n"
        + "\n".join(problems)
        + f"\nUpdate the English to match, then run: {COMMAND} docs/{TARGET}/{relative}"
    )


def _relative(argument: str) -> str:
    path = Path(argument)
    for language in (SOURCE, TARGET):
        base = DOCS / language
        for candidate in (path, ROOT / path):
            try:
                return candidate.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                continue
    return path.as_posix()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="See CONTRIBUTING.md.")
    parser.add_argument("pages", nargs="*", help="pages to re-stamp: docs/en/X.md, docs/es/X.md or X.md")
    parser.add_argument("--all", action="store_true", help="re-stamp every page and notebook")
    parser.add_argument("--force", action="store_true", help="re-stamp even if structure or numbers differ")
    args = parser.parse_args(argv)

    twins = sorted(twin_files(SOURCE) & twin_files(TARGET))
    stamps = load_stamps()
    if not args.pages and not args.all:
        out_of_date = [relative for relative in twins if stale_sections(relative, stamps)]
        gone = sorted(set(stamps) - set(twins))
        for relative in out_of_date:
            print(stale_message(relative, stale_sections(relative, stamps)), end="\n\n")
        for relative in gone:
            print(f"the stamp of {relative} names no page: run {COMMAND} --all")
        if not out_of_date and not gone:
            print(f"every translation stamp is up to date ({len(twins)} pages and notebooks)")
        return 1 if out_of_date or gone else 0

    chosen = twins if args.all else [_relative(page) for page in args.pages]
    unknown = [relative for relative in chosen if relative not in twins]
    if unknown:
        print(f"not a page with a twin in docs/{SOURCE} and docs/{TARGET}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    refused = []
    for relative in chosen:
        problems = [] if args.force else [p for p in [structure_problem(relative)] if p] + number_problems(relative)
        if problems:
            refused.append(relative)
            print(f"not stamped: docs/{TARGET}/{relative} does not match its source yet:", file=sys.stderr)
            print("\n".join(problems[:3]), file=sys.stderr)
            continue
        if stamps.get(relative) != section_stamps(read_page(relative, SOURCE)):
            print(f"stamped docs/{TARGET}/{relative}")
        stamps[relative] = section_stamps(read_page(relative, SOURCE))
    for relative in sorted(set(stamps) - set(twins)):
        del stamps[relative]  # a page that no longer exists
    save_stamps(stamps)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
