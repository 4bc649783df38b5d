"""Shared fixtures: a tiny configuration, the 124M model and the built site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from helpers import TINY_CFG

from gptblock import GPT_CONFIG_124M, GPTModel

# The tests run tiny tensors: one intra-op thread is much faster than two on a busy machine,
# where idle OpenMP workers spin against other processes (measured ~20x on the tiny model's forward).
torch.set_num_threads(1)


@pytest.fixture
def tiny_cfg() -> dict:
    """A GPT-2-shaped configuration small enough for fast tests (dropout on)."""
    return dict(TINY_CFG)


@pytest.fixture
def tiny_cfg_no_dropout() -> dict:
    return {**TINY_CFG, "drop_rate": 0.0}


@pytest.fixture(scope="session")
def gpt2_124m() -> GPTModel:
    """The full 124M model, built once for the tests whose point is its published figures."""
    torch.manual_seed(123)
    return GPTModel(GPT_CONFIG_124M)


ROOT = Path(__file__).resolve().parents[1]
# What the built site is made of: a change to any of them makes site/ stale.
SITE_SOURCES = [ROOT / "mkdocs.yml", ROOT / "docs", ROOT / "hooks", ROOT / "overrides", ROOT / "gptblock",
                ROOT / "training" / "model.safetensors"]  # the attention explorer's data come from it


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if not path.exists():
            continue
        files = [path] if path.is_file() else [
            p for p in path.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"  # written by imports, not edits
        ]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by ``mkdocs build --strict``, once per test run.

    ``site/`` is used as it is when it was built after the last change to the sources (as ``.ci/run``
    does before pytest); otherwise the site is built into a temporary folder. Under pytest-xdist that
    folder is shared by the workers: the first to ask builds it, the others wait on a lock and reuse it.
    """
    built = ROOT / "site"
    marker = built / "sitemap.xml"
    if marker.is_file() and (built / "en" / "index.html").is_file() and marker.stat().st_mtime >= _newest(SITE_SOURCES):
        return built
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # xdist: one base per worker
    out = shared / "built-site"
    with FileLock(str(shared / "built-site.lock")):
        if (out / "sitemap.xml").is_file():
            return out
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
        command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"]
        result = subprocess.run(
            [*command, "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out
