"""The site's notebooks (jupytext percent ``docs/<lang>/notebooks/*.py``) run without a kernel.

The site build executes them in a Jupyter kernel; here each one runs as a plain script (``runpy``)
with matplotlib's non-interactive Agg backend, so a notebook that breaks fails the tests too.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import jupytext
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "docs").glob("*/notebooks/*.py"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks under docs/*/notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT / "docs").as_posix() for p in NOTEBOOKS])
def test_notebook_is_a_python_percent_notebook(path: Path) -> None:
    notebook = jupytext.read(path)
    assert notebook.metadata.get("kernelspec", {}).get("language") == "python", f"{path}: no Python kernelspec"
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds and kinds[0] == "markdown", f"{path}: the first cell should be Markdown with the page title"
    assert notebook.cells[0].source.lstrip().startswith("# "), f"{path}: the first cell should start with '# Title'"
    assert "code" in kinds, f"{path}: no code cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT / "docs").as_posix() for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the site build runs them: mkdocs-jupyter starts the kernel in the build's working directory,
    # the repository root, from which a notebook finds training/model.safetensors. None writes files.
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(plt, "show", lambda *args, **kwargs: None)
    plt.close("all")
    try:
        runpy.run_path(str(path), run_name="__main__")
        figures = plt.get_fignums()
    finally:
        plt.close("all")
    assert figures, f"{path} ran but drew no figure"
