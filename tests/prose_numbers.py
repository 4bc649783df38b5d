"""Numbers the pages' prose may write although no code on the page prints them.

Read by ``tests/test_docs_prose_numbers.py``. Only *definitions* belong here: GPT-2's configuration and
names, a year, a version, a figure number, a fact from outside the project (a file's size on the Hub).
A measured or computed number does not: print it in an example, or assert it in an invisible block
beside its sentence. Every entry says why it is here, and an entry that no page needs any more fails
the test (CONTRIBUTING.md explains the rule).
"""

from __future__ import annotations

#: Allowed on every page: 0 and 1, and the numbers that name and define GPT-2 124M (``GPT_CONFIG_124M``).
EVERYWHERE: dict[str, str] = {
    "0": "zero: an identity, a first index, never a measurement",
    "1": "one: an identity, a count, never a measurement",
    "2": "GPT-2, the model's name",
    "124": "GPT-2 124M, the model's name (124 million parameters)",
    "768": "emb_dim of GPT-2 124M",
    "12": "n_heads and n_layers of GPT-2 124M",
    "1024": "context_length of GPT-2 124M",
    "50257": "vocab_size of GPT-2",
    "3072": "the feed-forward width, 4 x emb_dim",
    "64": "head_dim of GPT-2 124M, emb_dim / n_heads",
}

#: Allowed on one page (path relative to docs/es and docs/en).
PAGES: dict[str, dict[str, str]] = {
    "gpt-model.md": {
        "3": "position 3: the last of the example's four tokens",
        "4.2": "the number of the book's exercise this page poses",
        "4.3": "the number of the book's exercise this page poses",
    },
    "index.md": {
        "3.10": "the lowest Python version the project supports (pyproject.toml: requires-python)",
        "2.2": "the oldest torch the project supports (pyproject.toml: torch>=2.2)",
        "190": "the size in MB of torch's CPU wheel (torch-2.13.0+cpu, Linux x86_64)",
        "3": "about 3 GB: the CUDA libraries that torch from PyPI pulls on Linux",
    },
    "transformer-block.md": {
        "4.13": "the number of the book's figure this page redraws",
        "4.14": "the number of the book's figure this page redraws",
        "4.1": "the number of the book's exercise this page poses",
    },
    "weights.md": {"548": "the size in MB of model.safetensors on the Hugging Face Hub, which the reader downloads"},
}

#: Pages whose measured numbers are generated from a committed result and checked by their own test.
GENERATED: dict[str, str] = {
    "performance.md": "written by `python benchmarks/bench.py --update-docs` from benchmarks/results/*.json",
}
