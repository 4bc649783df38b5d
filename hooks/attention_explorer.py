"""MkDocs hook: the attention explorer's data, computed from the committed model when the site is built.

Before the site's files are collected, ``hooks/attention_data.py`` runs the trained model
(``training/model.safetensors``) over the explorer's example sentences and writes
``docs/assets/attention/<name>-attention.json``, each file only when its content changed: ``mkdocs
serve`` watches ``docs/`` and would otherwise rebuild in a loop, and a clean checkout rebuilds the
committed files byte for byte.

A build whose inputs (the model, the package, ``attention_data.py``, the tokenizer files) and
outputs are those of the last computation skips it, and with it the import of torch (about two
seconds a build, twice per build since each language runs this hook): the hash of both sides is
kept in ``.cache/attention-explorer/``, one file per output folder.

The sentences are tokenized with GPT-2's tokenizer (``GPTBLOCK_TOKENIZER_DIR``, set by
``hooks/site_env.py``). Where it cannot be loaded the build fails with a message that says so,
rather than keep files that might no longer match the sentences or the model: the site's notebooks
need the same tokenizer anyway.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
STAMP_DIR = ROOT / ".cache" / "attention-explorer"
MODEL_FILE = ROOT / "training" / "model.safetensors"
TOKENIZER_FILES = ("vocab.bpe", "encoder.json")

log = logging.getLogger("mkdocs.hooks.attention_explorer")


def _stamp_path(out_dir: Path) -> Path:
    return STAMP_DIR / hashlib.sha256(str(out_dir.resolve()).encode()).hexdigest()[:16]


def inputs_and_outputs_hash(out_dir: Path) -> str | None:
    """A hash of everything the data depend on (a new sentence changes ``attention_data.py``) and of the
    files as they stand; ``None`` when the tokenizer folder is not named by ``GPTBLOCK_TOKENIZER_DIR``, a
    file is missing or no data were written yet: then the data are computed."""
    tokenizer_dir = os.environ.get("GPTBLOCK_TOKENIZER_DIR")
    outputs = sorted(out_dir.glob("*-attention.json"))
    if not tokenizer_dir or not outputs:
        return None
    sources = [MODEL_FILE, ROOT / "hooks" / "attention_data.py", *sorted((ROOT / "gptblock").rglob("*.py")),
               *(Path(tokenizer_dir) / name for name in TOKENIZER_FILES),
               *outputs]
    hasher = hashlib.sha256()
    for source in sources:
        if not source.is_file():
            return None
        hasher.update(source.name.encode())
        hasher.update(source.read_bytes())
    return hasher.hexdigest()


def on_pre_build(config: MkDocsConfig) -> None:
    out_dir = Path(config.docs_dir) / "assets" / "attention"
    stamp = _stamp_path(out_dir)
    current = inputs_and_outputs_hash(out_dir)
    if current is not None and stamp.is_file() and stamp.read_text(encoding="utf-8") == current:
        return

    sys.path.insert(0, str(ROOT / "hooks"))
    try:
        import attention_data
    finally:
        sys.path.pop(0)
    from gptblock import load_gpt2_tokenizer

    try:
        tokenizer = load_gpt2_tokenizer()
    except Exception as error:
        raise PluginError(
            f"attention explorer: GPT-2's tokenizer could not be loaded ({type(error).__name__}: {error}); "
            "set GPTBLOCK_TOKENIZER_DIR to a folder with vocab.bpe and encoder.json (see README.md)"
        ) from error
    for data in attention_data.all_sentence_data(tokenizer=tokenizer):
        path = attention_data.output_path(data["name"], out_dir)
        if attention_data.write_if_changed(path, attention_data.to_json(data)):
            log.info("attention explorer: wrote %s", path)
    computed = inputs_and_outputs_hash(out_dir)
    if computed is not None:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(computed, encoding="utf-8")
