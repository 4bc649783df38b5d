"""MkDocs hook: the environment the site's executed notebooks run in.

Notebooks run in a Jupyter kernel that inherits this process's environment, so the hook sets it up
before the first page is built:

* ``GPTBLOCK_TOKENIZER_DIR`` points at ``<repo>/../shared/gpt2-tokenizer`` when that folder exists
  and the variable is not set already, so :func:`gptblock.load_gpt2_tokenizer` works offline.
* ``MPLBACKEND`` is removed when it names a non-interactive backend such as ``Agg`` (as test runners
  often set it): the kernel then picks its inline backend and the plots reach the page.
* ``PYTHONSTARTUP`` names ``hooks/kernel_startup.py``, which IPython runs when the kernel starts: how
  figures are drawn (2x, 12 pt text). mkdocs-jupyter has no option to run code before a notebook,
  and the notebooks stay free of set-up cells that readers would see.
"""

from __future__ import annotations

import os
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig

TOKENIZER_ENV = "GPTBLOCK_TOKENIZER_DIR"
KERNEL_STARTUP = Path(__file__).with_name("kernel_startup.py")


def tokenizer_dir(config_file: str | os.PathLike[str]) -> Path | None:
    """The shared GPT-2 tokenizer folder beside the repository, or ``None`` when it is absent."""
    candidate = Path(config_file).resolve().parent.parent / "shared" / "gpt2-tokenizer"
    return candidate if candidate.is_dir() else None


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    found = tokenizer_dir(config.config_file_path)
    if found is not None and not os.environ.get(TOKENIZER_ENV):
        os.environ[TOKENIZER_ENV] = str(found)
    if os.environ.get("MPLBACKEND", "").lower() in {"agg", "pdf", "svg", "ps", "cairo", "template"}:
        del os.environ["MPLBACKEND"]
    os.environ["PYTHONSTARTUP"] = str(KERNEL_STARTUP)
    return config
