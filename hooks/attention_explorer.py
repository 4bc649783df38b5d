"""MkDocs hook: the attention explorer's data, computed from the committed model when the site is built.

Before the site's files are collected, ``hooks/attention_data.py`` runs the trained model
(``training/model.safetensors``) over the explorer's example sentences and writes
``docs/assets/attention/<name>-attention.json``, each file only when its content changed: ``mkdocs
serve`` watches ``docs/`` and would otherwise rebuild in a loop, and a clean checkout rebuilds the
committed files byte for byte.

The sentences are tokenized with GPT-2's tokenizer (``GPTBLOCK_TOKENIZER_DIR``, set by
``hooks/site_env.py``). Where it cannot be loaded the build fails with a message that says so,
rather than keep files that might no longer match the sentences or the model: the site's notebooks
need the same tokenizer anyway.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

sys.path.insert(0, str(Path(__file__).parent))
try:
    import attention_data
finally:
    sys.path.pop(0)

log = logging.getLogger("mkdocs.hooks.attention_explorer")


def on_pre_build(config: MkDocsConfig) -> None:
    from gptblock import load_gpt2_tokenizer

    try:
        tokenizer = load_gpt2_tokenizer()
    except Exception as error:
        raise PluginError(
            f"attention explorer: GPT-2's tokenizer could not be loaded ({type(error).__name__}: {error}); "
            "set GPTBLOCK_TOKENIZER_DIR to a folder with vocab.bpe and encoder.json (see README.md)"
        ) from error
    out_dir = Path(config.docs_dir) / "assets" / "attention"
    for data in attention_data.all_sentence_data(tokenizer=tokenizer):
        path = attention_data.output_path(data["name"], out_dir)
        if attention_data.write_if_changed(path, attention_data.to_json(data)):
            log.info("attention explorer: wrote %s", path)
