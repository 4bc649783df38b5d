"""The attention explorer's data: the trained model's attention weights over a few example sentences.

For each sentence of ``SENTENCES`` this module tokenizes the text with GPT-2's tokenizer, runs the
committed model (``training/model.safetensors``) over it and writes
``docs/assets/attention/<name>-attention.json``::

    {"name": ..., "language": "es" | "en", "text": ...,
     "tokens": [str, ...],          # each token's text, as the tokenizer decodes it alone
     "ids": [int, ...],             # GPT-2 token ids
     "weights": [[[[float]]]]}      # [layers][heads][T][T], row i = how much token i attends to each token

The weights are recomputed block by block from each block's own input, exactly as the explicit
attention path computes them (``gptblock.MultiHeadAttention.explicit_attention``), and rounded to
``DECIMALS`` places. ``hooks/attention_explorer.py`` writes the files when the site is built;
``tests/test_attention_explorer.py`` recomputes them and compares.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from gptblock import GPTModel, load_checkpoint, load_gpt2_tokenizer

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILE = ROOT / "training" / "model.safetensors"
OUT_DIR = ROOT / "docs" / "assets" / "attention"
DECIMALS = 4

#: (file name stem, language, text): short sentences in the corpus's own domain (this site's prose).
SENTENCES: list[tuple[str, str, str]] = [
    ("es-atencion", "es", "La atención mezcla los tokens anteriores."),
    ("es-modelo", "es", "El modelo predice el siguiente token."),
    ("es-capa", "es", "La capa de normalización centra cada vector."),
    ("en-block", "en", "Each transformer block has an attention layer and a feed-forward network."),
    ("en-shortcut", "en", "The shortcut adds the input to the output of the attention."),
    ("en-model", "en", "The model predicts the next token."),
]


def output_path(name: str, out_dir: Path = OUT_DIR) -> Path:
    """Where the data of sentence ``name`` go."""
    return out_dir / f"{name}-attention.json"


def load_model(path: Path = MODEL_FILE) -> GPTModel:
    """The committed trained model in float32, in eval mode."""
    return load_checkpoint(path).float().eval()


@torch.no_grad()
def attention_weights(model: GPTModel, ids: torch.Tensor) -> torch.Tensor:
    """Every block's attention weights over one sequence of token ids.

    Args:
        model: a ``GPTModel``.
        ids: token ids, shape ``(T,)``.

    Returns:
        Tensor of shape ``(n_layers, n_heads, T, T)``: entry ``[l, h, i, j]`` is how much token ``i``
        attends to token ``j`` in head ``h`` of block ``l`` (zero for ``j > i``; each row sums to 1).
    """
    num_tokens = ids.shape[0]
    positions = torch.arange(num_tokens)
    x = model.drop_emb(model.tok_emb(ids) + model.pos_emb(positions)).unsqueeze(0)  # (1, T, emb_dim)
    layers = []
    for block in model.trf_blocks:
        att = block.att
        normed = block.norm1(x)  # what the attention module sees
        # (1, T, d_out) -> (n_heads, T, head_dim)
        queries = att.W_query(normed).view(num_tokens, att.num_heads, att.head_dim).transpose(0, 1)
        keys = att.W_key(normed).view(num_tokens, att.num_heads, att.head_dim).transpose(0, 1)
        scores = queries @ keys.transpose(1, 2)  # (n_heads, T, T)
        scores.masked_fill_(att.mask[:num_tokens, :num_tokens], -torch.inf)
        layers.append(torch.softmax(scores / att.head_dim**0.5, dim=-1))
        x = block(x)  # the next block's input
    return torch.stack(layers)


def sentence_data(model: GPTModel, tokenizer, name: str, language: str, text: str) -> dict:
    """The explorer's data for one sentence (see the module's docstring), weights rounded."""
    ids = tokenizer.encode(text)
    weights = attention_weights(model, torch.tensor(ids))
    return {
        "name": name,
        "language": language,
        "text": text,
        "tokens": [tokenizer.decode([i]) for i in ids],
        "ids": ids,
        "weights": [[[[round(w, DECIMALS) for w in row] for row in head] for head in layer]
                    for layer in weights.tolist()],
    }


def to_json(data: dict) -> str:
    """The file's text: one line per row of weights, so a diff shows which rows changed."""
    def rows(head: list) -> str:
        return ",\n".join("   " + json.dumps(row) for row in head)

    def heads(layer: list) -> str:
        return ",\n".join("  [\n" + rows(head) + "\n  ]" for head in layer)

    layers = ",\n".join(" [\n" + heads(layer) + "\n ]" for layer in data["weights"])
    rest = json.dumps({key: value for key, value in data.items() if key != "weights"}, ensure_ascii=False)
    return rest[:-1] + ', "weights": [\n' + layers + "\n]}\n"


def write_if_changed(path: Path, text: str) -> bool:
    """Writes ``text`` to ``path`` unless it holds it already (so ``mkdocs serve`` does not rebuild in a
    loop); returns whether it wrote."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def all_sentence_data(model: GPTModel | None = None, tokenizer=None) -> list[dict]:
    """The data of every sentence of ``SENTENCES``, from the committed model and GPT-2's tokenizer."""
    model = load_model() if model is None else model
    tokenizer = load_gpt2_tokenizer() if tokenizer is None else tokenizer
    # Sixteen tokens of width 128: a second thread has nothing to do but wait, and on a busy two-core
    # machine that waiting made the build's computation 100 times slower (19 s against 0.17 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [sentence_data(model, tokenizer, *sentence) for sentence in SENTENCES]
    finally:
        torch.set_num_threads(threads)


def write_all(out_dir: Path = OUT_DIR) -> list[Path]:
    """Writes the files that are missing or out of date; returns those it wrote."""
    written = []
    for data in all_sentence_data():
        path = output_path(data["name"], out_dir)
        if write_if_changed(path, to_json(data)):
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print("wrote", path.relative_to(ROOT))
