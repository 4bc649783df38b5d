"""Text generation: repeatedly predict the next token and append it."""

from __future__ import annotations

import math
from numbers import Real

import torch
from torch import nn

from gptblock.checks import check_token_ids
from gptblock.kv_cache import CachedGPT, can_use_cache


def _check_generation_args(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int) -> None:
    for name, value, lowest in (("max_new_tokens", max_new_tokens, 0), ("context_size", context_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise ValueError(f"{name} must be an integer >= {lowest}, got {value!r}")
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"generate expects token ids as a torch.Tensor, got {type(idx).__name__}")
    vocab_size = _vocab_size(model)
    # The prompt may be longer than the context: it is cropped below, so only its ids are checked here.
    check_token_ids(idx, vocab_size if vocab_size is not None else torch.iinfo(torch.int64).max,
                    idx.shape[-1] if idx.dim() == 2 else 0, "generate")


def _vocab_size(model: nn.Module) -> int | None:
    cfg = getattr(model, "cfg", None)
    return cfg["vocab_size"] if isinstance(cfg, dict) else None


def generate_text_simple(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int) -> torch.Tensor:
    """Greedy decoding: append the most likely next token, ``max_new_tokens`` times.

    Args:
        model: a model mapping ``(batch, T)`` ids to ``(batch, T, vocab_size)`` logits.
        idx: ``(batch, T)`` token ids of the prompt.
        max_new_tokens: how many tokens to add.
        context_size: how many of the latest tokens the model sees (older ones are cropped).

    Returns:
        ``(batch, T + max_new_tokens)`` token ids.
    """
    _check_generation_args(model, idx, max_new_tokens, context_size)
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # crop to the context the model supports
        with torch.no_grad():
            logits = model(idx_cond)  # (b, T, vocab_size)
        logits = logits[:, -1, :]  # only the last position predicts the next token
        idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (b, 1)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    context_size: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Generate with optional top-k filtering, temperature sampling and an end-of-text stop.

    With ``temperature=0`` this is greedy decoding (the same tokens as
    :func:`generate_text_simple`). Otherwise the logits are cut to the ``top_k`` best (if given),
    divided by ``temperature`` and sampled from with ``torch.multinomial``.

    Args:
        model: a model mapping ``(batch, T)`` ids to ``(batch, T, vocab_size)`` logits.
        idx: ``(batch, T)`` token ids of the prompt.
        max_new_tokens: the most tokens to add.
        context_size: how many of the latest tokens the model sees.
        temperature: 0 for greedy decoding; higher is more random.
        top_k: keep only the ``top_k`` most likely tokens before sampling.
        eos_id: stop once every sequence has produced this token (it is not appended; a sequence
            that finished early is padded with it while the others go on).
        use_cache: keep every block's keys and values (:class:`gptblock.kv_cache.CachedGPT`): the
            prompt runs once, then one position per step, and only the last position's logits are
            computed. The tokens are the same as with ``use_cache=False``, which runs the model on the
            whole window at every step (the book's way). It applies to a :class:`~gptblock.GPTModel`
            whose dropout is off (``eval()``); other models are always run on the whole window.

    Returns:
        ``(batch, T + n)`` token ids, ``n <= max_new_tokens``.

    Example:
        >>> import torch
        >>> from gptblock import GPTModel, generate
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> tiny = {"vocab_size": 99, "context_length": 8, "emb_dim": 32, "n_heads": 2,
        ...         "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
        >>> out = generate(GPTModel(tiny).eval(), torch.tensor([[1, 2, 3]]), max_new_tokens=10,
        ...                context_size=8, temperature=1.0, top_k=5)
        >>> out.shape
        torch.Size([1, 13])
    """
    _check_generation_args(model, idx, max_new_tokens, context_size)
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not 0 <= temperature < math.inf:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    vocab_size = _vocab_size(model)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
                              or (vocab_size is not None and top_k > vocab_size)):
        raise ValueError(f"top_k must be an integer in [1, vocab_size={vocab_size}], got {top_k!r}")
    if eos_id is not None and (isinstance(eos_id, bool) or not isinstance(eos_id, int) or eos_id < 0
                               or (vocab_size is not None and eos_id >= vocab_size)):
        raise ValueError(f"eos_id must be a token id in [0, vocab_size={vocab_size}), got {eos_id!r}")

    if not isinstance(use_cache, bool):
        raise ValueError(f"use_cache must be True or False, got {use_cache!r}")
    decoder = None
    if use_cache and max_new_tokens > 0 and idx.shape[0] > 0 and can_use_cache(model):
        decoder = CachedGPT(model, batch_size=idx.shape[0], max_len=min(context_size, model.cfg["context_length"]))

    finished = torch.zeros(idx.shape[0], 1, dtype=torch.bool, device=idx.device)
    for _ in range(max_new_tokens):
        if decoder is not None:
            logits = _cached_logits(decoder, idx, context_size)  # (b, vocab_size)
        else:
            idx_cond = idx[:, -context_size:]
            with torch.no_grad():
                logits = model(idx_cond)
            logits = logits[:, -1, :]  # (b, vocab_size)

        if top_k is not None:
            top_logits, _ = torch.topk(logits, top_k)
            min_val = top_logits[:, -1:]  # (b, 1): the k-th best logit of each row
            logits = torch.where(logits < min_val, torch.tensor(float("-inf"), device=logits.device), logits)

        if temperature > 0.0:
            logits = logits / temperature
            probs = torch.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)  # (b, 1)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (b, 1)

        if eos_id is not None:
            finished |= idx_next == eos_id
            if finished.all():
                break
            idx_next = idx_next.masked_fill(finished, eos_id)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def _cached_logits(decoder: CachedGPT, idx: torch.Tensor, context_size: int) -> torch.Tensor:
    """The next-token logits through the cache: only the newest token, unless the window moved."""
    if 0 < decoder.length == idx.shape[1] - 1 and idx.shape[1] <= decoder.max_len:
        return decoder(idx[:, -1:])  # one new position
    # The first step, or the sequence outgrew the window: once cropped, every token sits at a new
    # position (absolute position embeddings), so the cropped window is run again from position 0.
    decoder.reset()
    return decoder(idx[:, -context_size:])
