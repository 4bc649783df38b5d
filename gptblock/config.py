"""GPT-2 model configurations and the one place where a configuration is checked.

A configuration is a plain ``dict``, written exactly as the chapter writes it, so that
``cfg["emb_dim"]`` keeps working everywhere. Every class that takes a configuration passes it
through :func:`check_config` when it is built, so a typo or an impossible size fails at once, with
a message that names the problem, instead of deep inside a matrix multiplication later.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

GPT_CONFIG_124M = {
    "vocab_size": 50257,     # vocabulary size of the GPT-2 byte-pair encoding
    "context_length": 1024,  # longest sequence the model can attend over
    "emb_dim": 768,          # width of every token vector
    "n_heads": 12,           # attention heads per block
    "n_layers": 12,          # transformer blocks in the stack
    "drop_rate": 0.1,        # dropout probability
    "qkv_bias": False,       # bias in the query, key and value projections
}

# The larger GPT-2 sizes differ only in width, depth and number of heads.
GPT_CONFIG_355M = {**GPT_CONFIG_124M, "emb_dim": 1024, "n_layers": 24, "n_heads": 16}
GPT_CONFIG_774M = {**GPT_CONFIG_124M, "emb_dim": 1280, "n_layers": 36, "n_heads": 20}
GPT_CONFIG_1558M = {**GPT_CONFIG_124M, "emb_dim": 1600, "n_layers": 48, "n_heads": 25}

GPT2_CONFIGS = {
    "gpt2-small (124M)": GPT_CONFIG_124M,
    "gpt2-medium (355M)": GPT_CONFIG_355M,
    "gpt2-large (774M)": GPT_CONFIG_774M,
    "gpt2-xl (1558M)": GPT_CONFIG_1558M,
}

CONFIG_KEYS = tuple(GPT_CONFIG_124M)
_SIZE_KEYS = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers")


def check_positive_int(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive ``int`` (``bool`` is not a size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_probability(name: str, value: Any) -> float:
    """``value`` as a ``float``; ``ValueError`` unless it is a real number in [0, 1].

    Any real number is accepted (a ``Fraction``, a NumPy float) and returned as a plain ``float``, so
    that it can be saved as JSON later.
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def check_heads(emb_dim: int, n_heads: int) -> None:
    """Raise ``ValueError`` unless the heads split the width evenly."""
    if emb_dim % n_heads != 0:
        raise ValueError(
            f"emb_dim ({emb_dim}) must be divisible by n_heads ({n_heads}): "
            "every head gets an equal slice of the width"
        )


def check_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Check a model configuration and return it as a plain ``dict``.

    Args:
        cfg: a mapping with exactly the keys of :data:`GPT_CONFIG_124M`.

    Returns:
        A new ``dict`` with the same items, ``drop_rate`` as a plain ``float`` (a ``Fraction`` or a
        NumPy float is accepted, and would not survive saving as JSON).

    Raises:
        TypeError: ``cfg`` is not a mapping.
        ValueError: a key is unknown or missing, or a value is out of range.

    Example:
        >>> check_config({**GPT_CONFIG_124M, "n_head": 12})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: unknown config key 'n_head'; known keys: vocab_size, context_length, emb_dim, n_heads, ...
    """
    if not isinstance(cfg, Mapping):
        raise TypeError(f"a config must be a dict, got {type(cfg).__name__}")
    known = ", ".join(CONFIG_KEYS)
    for key in cfg:
        if key not in CONFIG_KEYS:
            raise ValueError(f"unknown config key {key!r}; known keys: {known}")
    for key in CONFIG_KEYS:
        if key not in cfg:
            raise ValueError(f"missing config key {key!r}; a config needs: {known}")
    for key in _SIZE_KEYS:
        check_positive_int(key, cfg[key])
    check_heads(cfg["emb_dim"], cfg["n_heads"])
    drop_rate = check_probability("drop_rate", cfg["drop_rate"])
    if not isinstance(cfg["qkv_bias"], bool):
        raise ValueError(f"qkv_bias must be True or False, got {cfg['qkv_bias']!r}")
    return {**cfg, "drop_rate": drop_rate}
