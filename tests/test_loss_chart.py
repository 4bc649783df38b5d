"""The loss curves of the "Training the model" page: drawn from the committed log, in each language and palette.

``training/loss_chart.py`` draws them; ``test_the_committed_charts_are_what_the_log_gives`` is the one
that fails when a chart was drawn from another log, edited by hand, or left behind by a change to the script.
"""

from __future__ import annotations

import importlib.util
import posixpath
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("loss_chart", ROOT / "training" / "loss_chart.py")
loss_chart = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loss_chart)

RECORDS = loss_chart.read_log()
CHARTS = [(lang, palette) for lang in loss_chart.LANGUAGES for palette in ("light", "dark")]


@pytest.mark.parametrize(("lang", "palette"), CHARTS)
def test_the_committed_charts_are_what_the_log_gives(lang, palette):
    path = loss_chart.chart_paths(lang)[palette]
    committed = path.read_text(encoding="utf-8")
    drawn = loss_chart.draw(RECORDS, lang, palette)
    lines = zip(committed.splitlines(), drawn.splitlines(), strict=False)
    first = next((n for n, (a, b) in enumerate(lines, 1) if a != b), min(len(committed), len(drawn)))
    assert committed == drawn, (f"{path.relative_to(ROOT)} is not what training/train-log.jsonl gives "
                                f"(first difference on line {first}); redraw it: python training/loss_chart.py")


def curve(svg: str, name: str) -> list[tuple[float, float]]:
    """The (step, loss) points of one curve, read back from the drawing's coordinates."""
    points = re.search(rf'<polyline id="{name}"[^>]* points="([^"]+)"', svg).group(1)
    pairs = [tuple(map(float, p.split(","))) for p in points.split()]
    width = loss_chart.WIDTH - loss_chart.LEFT - loss_chart.RIGHT
    return [((x - loss_chart.LEFT) * loss_chart.X_MAX / width, loss_chart.loss_at(y)) for x, y in pairs]


@pytest.mark.parametrize("lang", loss_chart.LANGUAGES)
def test_the_curves_read_back_as_the_logged_losses(lang):
    """Independent of the drawing code's own output: the committed points, mapped back, are the log's losses."""
    svg = loss_chart.chart_paths(lang)["light"].read_text(encoding="utf-8")
    evaluated = [r for r in RECORDS if "val_loss" in r]
    for name, key, records in (("batch", "loss", RECORDS), ("train", "train_loss", evaluated),
                               ("val", "val_loss", evaluated)):
        drawn = curve(svg, name)
        assert [round(step) for step, _ in drawn] == [r["step"] for r in records], name
        assert [loss for _, loss in drawn] == pytest.approx([r[key] for r in records], abs=0.01), name


def test_a_changed_log_changes_the_chart():
    """The staleness check can fail: one validation loss moved by 0.05 moves its point in both languages."""
    changed = [dict(r) for r in RECORDS]
    changed[-1]["val_loss"] += 0.05
    for lang in loss_chart.LANGUAGES:
        assert loss_chart.draw(changed, lang, "light") != loss_chart.draw(RECORDS, lang, "light")


def test_each_chart_speaks_its_language():
    last = RECORDS[-1]["val_loss"]
    words = {"es": ("paso", "pérdida", "validación", f"{last:.2f}".replace(".", ",")),
             "en": ("step", "loss", "validation", f"{last:.2f}")}
    for lang, other in (("es", "en"), ("en", "es")):
        for palette in ("light", "dark"):
            svg = loss_chart.chart_paths(lang)[palette].read_text(encoding="utf-8")
            texts = re.findall(r">([^<>]+)</text>", svg)
            assert all(any(w in t for t in texts) for w in words[lang]), (lang, palette, texts)
            assert not any(w in t for t in texts for w in words[other][:3]), (lang, palette, texts)


@pytest.mark.parametrize("lang", loss_chart.LANGUAGES)
def test_the_page_shows_both_palettes_with_alt_text(lang):
    page = (ROOT / "docs" / lang / "training.md").read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', page)
    served_at = "training/" if lang == "es" else "en/training/"
    site_root = "" if lang == "es" else "en/"
    found = {}
    for src, alt in images:
        path, _, palette = src.partition("#only-")
        served = posixpath.normpath(posixpath.join(served_at, path))  # where the browser fetches it
        assert served.startswith(site_root + "charts/training-loss"), src
        found[palette] = (ROOT / "docs" / lang / served.removeprefix(site_root), alt)
    assert found.keys() == {"light", "dark"}, images
    for palette, (path, alt) in found.items():
        assert path == loss_chart.chart_paths(lang)[palette], (palette, path)
        assert len(alt.split()) >= 8, f"the {palette} chart's alt text says too little: {alt!r}"
