"""The page reader behind the language-sync tests sees each kind of difference it is meant to see.

Today's pages use only some of the constructs the structural and numeric tests compare (no content
tabs, no collapsible blocks, few tables); these cases try the reader (``tests/docs_text.py``) on small
twin texts, so that a construct the pages start using later is not compared blindly.
"""

from __future__ import annotations

import pytest
from docs_text import find_numbers, read_markdown

MINUS, TIMES = "\u2212", "\u00d7"


def signatures(text: str, language: str) -> list[tuple]:
    return [block.signature for block in read_markdown(text, language)]


def values(text: str, language: str) -> list[str]:
    return [number.value for number in find_numbers(text, language)]


SAME_STRUCTURE = [
    ("# Título\n\nUn párrafo.\n", "# Title\n\nA paragraph.\n"),
    ("- uno\n- dos\n", "- one\n- two\n"),
    ("| a | b |\n| --- | --- |\n| 1 | 2 |\n", "| a | b |\n| --- | --- |\n| 1 | 2 |\n"),
    ('!!! note "Nota"\n    Texto.\n', '!!! note "Note"\n    Text.\n'),
    ('??? tip "Más"\n    Texto.\n', '??? tip "More"\n    Text.\n'),
    ('=== "Uno"\n    Texto.\n\n=== "Dos"\n    Texto.\n', '=== "One"\n    Text.\n\n=== "Two"\n    Text.\n'),
    ("<details><summary>Más</summary>\n\nTexto.\n\n</details>\n",
     "<details><summary>More</summary>\n\nText.\n\n</details>\n"),
    ("$$\n\\text{Atención} = x^2\n$$\n", "$$\n\\text{Attention} = x^2\n$$\n"),
    ('```mermaid\nflowchart TB\n    A["Entrada"] --> B["Salida"]\n```\n',
     '```mermaid\nflowchart TB\n    A["Input"] --> B["Output"]\n```\n'),
    ('```mermaid\nflowchart TB\n    accTitle: Un título largo\n    accDescr: De la entrada a la salida.\n'
     '    A --> B\n```\n',
     '```mermaid\nflowchart TB\n    accTitle: A title\n    accDescr: From the input to the output.\n'
     '    A --> B\n```\n'),
    ("```bash\npip install x  # instala\n```\n", "```bash\npip install x  # installs\n```\n"),
    ("[página](page.md) y ![figura](img.svg)\n", "[page](page.md) and ![figure](img.svg)\n"),
]

DIFFERENT_STRUCTURE = {
    "a paragraph missing": ("Uno.\n\nDos.\n", "One.\n"),
    "a heading level": ("## Título\n", "### Title\n"),
    "a list item missing": ("- uno\n- dos\n", "- one\n"),
    "a numbered list for a bulleted one": ("1. uno\n2. dos\n", "- one\n- two\n"),
    "a table column missing": ("| a | b |\n| --- | --- |\n| 1 | 2 |\n", "| a |\n| --- |\n| 1 |\n"),
    "a table row missing": ("| a |\n| --- |\n| 1 |\n| 2 |\n", "| a |\n| --- |\n| 1 |\n"),
    "an admonition type": ('!!! note "Nota"\n    Texto.\n', '!!! warning "Note"\n    Text.\n'),
    "collapsible for plain": ('??? note "Nota"\n    Texto.\n', '!!! note "Note"\n    Text.\n'),
    "a tab missing": ('=== "Uno"\n    Texto.\n\n=== "Dos"\n    Texto.\n', '=== "One"\n    Text.\n'),
    "a details block missing": ("<details><summary>Más</summary>\n\nTexto.\n\n</details>\n", "Text.\n"),
    "a formula": ("$$\nx^2\n$$\n", "$$\nx^3\n$$\n"),
    "a Mermaid edge": ('```mermaid\nflowchart TB\n    A --> B\n    B --> C\n```\n',
                       '```mermaid\nflowchart TB\n    A --> B\n    A --> C\n```\n'),
    "a shell command": ("```bash\npip install x\n```\n", "```bash\npip install y\n```\n"),
    "a link target": ("[página](page.md)\n", "[page](other.md)\n"),
    "an image": ("![figura](a.svg)\n", "![figure](b.svg)\n"),
    "a quote for a paragraph": ("> Clave.\n", "Key.\n"),
}


@pytest.mark.parametrize(("es", "en"), SAME_STRUCTURE)
def test_translated_twins_have_the_same_signatures(es: str, en: str) -> None:
    assert signatures(es, "es") == signatures(en, "en")


@pytest.mark.parametrize("case", list(DIFFERENT_STRUCTURE))
def test_a_structural_difference_changes_the_signatures(case: str) -> None:
    es, en = DIFFERENT_STRUCTURE[case]
    assert signatures(es, "es") != signatures(en, "en"), case


@pytest.mark.parametrize(
    ("es", "en"),
    [
        ("0,80", "0.80"),
        ("2.360.064", "2,360,064"),
        ("2 360 064", "2,360,064"),
        ("el 88 %", "88%"),
        (f"{MINUS}0,17", f"{MINUS}0.17"),
        (f"2,4 {TIMES} 10⁻³", f"2.4 {TIMES} 10⁻³"),
        ("GPT-2 124M", "GPT-2 124M"),
        ("torch 2.13.0", "torch 2.13.0"),
        ("la forma (2, 4, 768)", "the shape (2, 4, 768)"),
    ],
)
def test_numbers_are_read_with_each_language_conventions(es: str, en: str) -> None:
    assert values(es, "es") == values(en, "en") != []


@pytest.mark.parametrize(
    ("es", "en"),
    [("0,8", "0.80"), ("2.360.064", "2.360.064"), ("1,5", "1,5"), ("25", "26"), ("gpt2", "GPT-2")],
)
def test_different_numbers_are_told_apart(es: str, en: str) -> None:
    assert values(es, "es") != values(en, "en")


def test_spanish_decimal_points_are_slips_except_versions_and_figures() -> None:
    numbers = find_numbers("probabilidad 0.1, Figura 4.13, Ejercicio 4.2, Python 3.10 y 0,5", "es")
    assert [n.text for n in numbers] == ["0.1", "4.13", "4.2", "3.10", "0,5"]
    assert [n.text for n in numbers if n.decimal_point] == ["0.1"]
