"""Draw the loss curves of the "Training the model" page from the committed log, per language and palette.

    python training/loss_chart.py

writes ``docs/<lang>/charts/training-loss.svg`` (light palette) and ``training-loss-dark.svg`` (dark
palette) for Spanish and English, from ``training/train-log.jsonl``. The page shows the light chart in
the light palette and the dark one in the dark palette (Material's ``#only-light`` / ``#only-dark``).
``tests/test_loss_chart.py`` fails when a committed chart is not what this script draws from the log.

The SVG is written by hand rather than by matplotlib: the same log gives the same bytes whatever is
installed, which is what lets the test compare the files exactly. Text is real SVG text at 16 px in a
440 px wide figure, so that it stays readable when a phone shrinks the figure to its column.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "training" / "train-log.jsonl"
LANGUAGES = ("es", "en")

WIDTH, HEIGHT = 440, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 64, 16, 52  # margins around the plotting area, in px
X_MAX = 500  # steps shown; the committed run has 500
Y_MIN, Y_MAX = 3.5, 11.0  # loss range shown: from below the last training loss to above ln(50257)
X_TICKS = (0, 100, 200, 300, 400, 500)
Y_TICKS = (4, 6, 8, 10)

WORDS = {
    "es": {"title": "Pérdida de entrenamiento y de validación por paso", "step": "paso", "loss": "pérdida",
           "batch": "lote de cada paso", "train": "entrenamiento", "val": "validación", "decimal": ","},
    "en": {"title": "Training and validation loss by step", "step": "step", "loss": "loss",
           "batch": "each step's batch", "train": "training", "val": "validation", "decimal": "."},
}
PALETTES = {  # text, grid, per-step loss, training, validation; the background stays the page's own
    "light": {"text": "#1f1f1f", "grid": "#d0d0d0", "batch": "#a8a8a8", "train": "#3949ab", "val": "#d84315"},
    "dark": {"text": "#e3e3e3", "grid": "#4a4d57", "batch": "#6e717a", "train": "#9fa8ff", "val": "#ff9e6e"},
}


def read_log(path: Path = LOG) -> list[dict[str, Any]]:
    """The log's records, one per step."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def x_px(step: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * step / X_MAX


def y_px(loss: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (Y_MAX - loss) / (Y_MAX - Y_MIN)


def loss_at(y: float) -> float:
    """The inverse of :func:`y_px` (the test reads the curves back from the drawing)."""
    return Y_MAX - (y - TOP) * (Y_MAX - Y_MIN) / (HEIGHT - TOP - BOTTOM)


def _points(pairs: list[tuple[float, float]]) -> str:
    return " ".join(f"{x_px(step):.1f},{y_px(loss):.2f}" for step, loss in pairs)


def draw(records: list[dict[str, Any]], lang: str, palette: str) -> str:
    """The chart of ``records`` in ``lang`` and ``palette`` ("light" or "dark"), as SVG text."""
    w, c = WORDS[lang], PALETTES[palette]
    evaluated = [r for r in records if "val_loss" in r]
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="Roboto, Helvetica, Arial, sans-serif" '
        f'font-size="16" fill="{c["text"]}">',
        f"<title>{w['title']}</title>",
    ]
    for tick in Y_TICKS:
        out.append(f'<line x1="{LEFT}" y1="{y_px(tick):.2f}" x2="{right}" y2="{y_px(tick):.2f}" '
                   f'stroke="{c["grid"]}" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y_px(tick) + 5:.2f}" text-anchor="end">{tick}</text>')
    for tick in X_TICKS:
        out.append(f'<text x="{x_px(tick):.1f}" y="{bottom + 20}" text-anchor="middle">{tick}</text>')
    out.append(f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{c["text"]}" stroke-width="1"/>')
    out.append(f'<text x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{w["step"]}</text>')
    out.append(f'<text transform="translate(15 {(TOP + bottom) / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{w["loss"]}</text>')

    curves = (
        ("batch", [(r["step"], r["loss"]) for r in records], 1),
        ("train", [(r["step"], r["train_loss"]) for r in evaluated], 2.5),
        ("val", [(r["step"], r["val_loss"]) for r in evaluated], 2.5),
    )
    out.append(f'<clipPath id="plot"><rect x="{LEFT}" y="{TOP}" width="{right - LEFT}" height="{bottom - TOP}"/>'
               "</clipPath>")
    for name, pairs, width in curves:
        out.append(f'<polyline id="{name}" fill="none" stroke="{c[name]}" stroke-width="{width}" '
                   f'stroke-linejoin="round" clip-path="url(#plot)" points="{_points(pairs)}"/>')
    highest = max(records, key=lambda r: r["loss"])
    if highest["loss"] > Y_MAX:  # a spike above the frame: its value where it leaves the chart
        value = f"{highest['loss']:.1f}".replace(".", w["decimal"])
        out.append(f'<text x="{x_px(highest["step"]) + 6:.1f}" y="{TOP + 12}">↑ {value} '
                   f'({w["step"]} {highest["step"]})</text>')
    last = evaluated[-1]
    for name in ("train", "val"):  # the final value beside the end of each curve
        value = f"{last[name + '_loss']:.2f}".replace(".", w["decimal"])
        out.append(f'<text x="{x_px(last["step"]) + 6:.1f}" y="{y_px(last[name + "_loss"]) + 5:.2f}" '
                   f'fill="{c[name]}" font-weight="bold">{value}</text>')

    legend_x, legend_y = right - 190, TOP + 46  # top right, below the spike label, above the curves
    for row, (name, label) in enumerate((("batch", w["batch"]), ("train", w["train"]), ("val", w["val"]))):
        y = legend_y + 22 * row
        out.append(f'<line x1="{legend_x}" y1="{y - 5}" x2="{legend_x + 24}" y2="{y - 5}" stroke="{c[name]}" '
                   f'stroke-width="{1 if name == "batch" else 2.5}"/>')
        out.append(f'<text x="{legend_x + 30}" y="{y}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def chart_paths(lang: str, docs: Path = ROOT / "docs") -> dict[str, Path]:
    """Where the page of ``lang`` finds its two charts, by palette."""
    folder = docs / lang / "charts"
    return {"light": folder / "training-loss.svg", "dark": folder / "training-loss-dark.svg"}


def write_charts(records: list[dict[str, Any]], docs: Path = ROOT / "docs") -> list[Path]:
    """Draw every chart into ``docs``; return the paths written."""
    written = []
    for lang in LANGUAGES:
        for palette, path in chart_paths(lang, docs).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(draw(records, lang, palette), encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for written in write_charts(read_log()):
        print(written.relative_to(ROOT))
    sys.exit(0)
