"""Text generation: repeatedly predict the next token and append it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from numbers import Real

import torch
from torch import nn

from gptblock.checks import check_token_ids, check_token_range
from gptblock.kv_cache import KVCache
from gptblock.model import GPTModel


def _check_generation_args(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int,
                           who: str) -> None:
    for name, value, lowest in (("max_new_tokens", max_new_tokens, 0), ("context_size", context_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise ValueError(f"{name} must be an integer >= {lowest}, got {value!r}")
    context_length = _config(model, "context_length")
    if context_length is not None and context_size > context_length:
        raise ValueError(f"context_size={context_size} is larger than the model's context_length={context_length}; "
                         f"the model sees at most {context_length} tokens (pass context_size={context_length})")
    # The prompt may be longer than the context: it is cropped below, so only its ids are checked here,
    # once (the model's forward does not read the values of ids off the CPU; see gptblock.checks).
    check_token_ids(idx, "generate")
    vocab_size = _config(model, "vocab_size")
    if vocab_size is not None:
        check_token_range(idx.cpu(), vocab_size, "generate")
    dropout = max((m.p for m in model.modules() if isinstance(m, nn.Dropout)), default=0.0)
    if model.training and dropout > 0:
        warnings.warn(f"{who}: the model is in training mode, so dropout (p={dropout}) makes its predictions "
                      "random; call model.eval() first (generation leaves the mode as it is)", stacklevel=3)


def _config(model: nn.Module, key: str) -> int | None:
    cfg = getattr(model, "cfg", None)
    return cfg[key] if isinstance(cfg, dict) else None


def _check_finite(logits: torch.Tensor, step: int, who: str) -> None:
    """A NaN or infinite logit is a broken model, not a prediction: argmax would silently pick token 0."""
    finite = torch.isfinite(logits).all(dim=-1)  # (b,): one check per step on the step's logits only
    if not bool(finite.all()):
        row = int((~finite).nonzero()[0, 0])
        raise ValueError(
            f"{who}: the model's logits are not finite (NaN or infinity) at new token {step + 1} of sequence "
            f"{row}: its weights hold a NaN or an infinity, or its activations overflowed (float16?); "
            "check the weights with torch.isfinite"
        )


def generate_text_simple(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int) -> torch.Tensor:
    """Greedy decoding: append the most likely next token, ``max_new_tokens`` times.

    Like the book's, it leaves the model's mode as it is: call ``model.eval()`` first (a model in
    training mode with dropout gets a warning, since its predictions are random).

    Args:
        model: a model mapping ``(batch, T)`` ids to ``(batch, T, vocab_size)`` logits.
        idx: ``(batch, T)`` token ids of the prompt.
        max_new_tokens: how many tokens to add.
        context_size: how many of the latest tokens the model sees (older ones are cropped); at most
            the model's ``context_length``.

    Returns:
        ``(batch, T + max_new_tokens)`` token ids.

    Raises:
        TypeError, ValueError: a bad argument (the message names it).
        ValueError: the model's logits are not finite (a NaN in its weights, an overflow).
    """
    _check_generation_args(model, idx, max_new_tokens, context_size, "generate_text_simple")
    for step in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # crop to the context the model supports
        with torch.no_grad():
            logits = model(idx_cond)  # (b, T, vocab_size)
        logits = logits[:, -1, :]  # only the last position predicts the next token
        _check_finite(logits, step, "generate_text_simple")
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
    divided by ``temperature`` and sampled from with ``torch.multinomial``. Any finite temperature
    above 0 samples; as it nears 0 the draw becomes the greedy choice.

    The model's mode is left as it is, as in the book: call ``model.eval()`` first. In training mode
    dropout makes every prediction random, and a warning says so.

    Args:
        model: a model mapping ``(batch, T)`` ids to ``(batch, T, vocab_size)`` logits.
        idx: ``(batch, T)`` token ids of the prompt.
        max_new_tokens: the most tokens to add.
        context_size: how many of the latest tokens the model sees; at most the model's ``context_length``.
        temperature: 0 for greedy decoding; higher is more random.
        top_k: keep only the ``top_k`` most likely tokens before sampling (exactly ``top_k``, ties
            broken by ``torch.topk``).
        eos_id: stop once every sequence has produced this token (it is not appended; a sequence
            that finished early is padded with it while the others go on).
        use_cache: keep every block's keys and values in a :class:`~gptblock.KVCache`: the prompt runs
            once, then one position per step. The tokens are the same as with ``use_cache=False``,
            which runs the model on the whole window at every step (the book's way). It applies to a
            :class:`~gptblock.GPTModel` whose dropout draws nothing (``eval()`` or a rate of 0); other
            models are always run on the whole window. No weight is copied either way.

    Returns:
        ``(batch, T + n)`` token ids, ``n <= max_new_tokens``.

    Raises:
        TypeError, ValueError: a bad argument (the message names it).
        ValueError: the model's logits are not finite (a NaN in its weights, an overflow): a broken
            model, refused instead of decoded as token 0.

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
    new_tokens = list(generate_stream(model, idx, max_new_tokens, context_size, temperature, top_k, eos_id,
                                      use_cache))
    return torch.cat([idx, *new_tokens], dim=1)


def generate_stream(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    context_size: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
) -> Iterator[torch.Tensor]:
    """:func:`generate`, one step at a time: an iterator over the new ``(batch, 1)`` tokens, as each is chosen.

    The arguments are :func:`generate`'s, and checked when this is called (not at the first step).
    The command line prints each token as it comes.
    """
    _check_generation_args(model, idx, max_new_tokens, context_size, "generate")
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not 0 <= temperature < math.inf:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    vocab_size = _config(model, "vocab_size")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
                              or (vocab_size is not None and top_k > vocab_size)):
        raise ValueError(f"top_k must be an integer in [1, vocab_size={vocab_size}], got {top_k!r}")
    if eos_id is not None and (isinstance(eos_id, bool) or not isinstance(eos_id, int) or eos_id < 0
                               or (vocab_size is not None and eos_id >= vocab_size)):
        raise ValueError(f"eos_id must be a token id in [0, vocab_size={vocab_size}), got {eos_id!r}")
    if not isinstance(use_cache, bool):
        raise ValueError(f"use_cache must be True or False, got {use_cache!r}")

    cache = None
    if use_cache and max_new_tokens > 0 and idx.shape[0] > 0 and can_use_cache(model):
        # Room for the whole text, but never more than the window the model sees.
        window = min(context_size, idx.shape[1] + max_new_tokens)
        weight = model.tok_emb.weight
        cache = KVCache(model.cfg, batch_size=idx.shape[0], max_len=window, dtype=weight.dtype, device=weight.device)
    return _steps(model, idx, max_new_tokens, context_size, float(temperature), top_k, eos_id, cache)


def _steps(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, context_size: int, temperature: float,
           top_k: int | None, eos_id: int | None, cache: KVCache | None) -> Iterator[torch.Tensor]:
    """The loop of :func:`generate_stream`, its arguments checked."""
    finished = torch.zeros(idx.shape[0], 1, dtype=torch.bool, device=idx.device)
    for step in range(max_new_tokens):
        # inference_mode rather than no_grad: the step's new tensors carry no version counter and no view
        # bookkeeping, which a one-token step, hundreds of small operations, feels. The logits it returns
        # are read-only outside it; everything computed from them below (and yielded) is an ordinary tensor.
        with torch.inference_mode():
            logits = next_token_logits(model, idx, context_size, cache)  # (b, vocab_size)
        _check_finite(logits, step, "generate")

        if top_k is not None:  # exactly the k best: ties at the k-th logit would let more through a threshold
            top_logits, top_ids = torch.topk(logits, top_k)  # (b, k)
            logits = torch.full_like(logits, -torch.inf).scatter_(-1, top_ids, top_logits)

        if temperature > 0.0:
            idx_next = sample(logits, temperature)  # (b, 1)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (b, 1)

        if eos_id is not None:
            finished |= idx_next == eos_id
            if finished.all():
                return
            idx_next = idx_next.masked_fill(finished, eos_id)
        idx = torch.cat((idx, idx_next), dim=1)
        yield idx_next


def sample(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Draw one token per row from ``softmax(logits / temperature)``: ``(b, vocab_size) -> (b, 1)``.

    A tiny temperature overflows ``logits / temperature`` to infinity (or every logit to minus
    infinity), and softmax then gives NaN. Only then are the logits shifted first, by their row's
    best (softmax does not change): the scaled logits are at most 0 and the best is exactly 0. A
    temperature below the smallest normal number of the logits' dtype would round to 0 there, and is
    raised to it. Both give the greedy choice (shared among tied logits); ordinary temperatures keep
    the book's formula, number for number.
    """
    scaled = logits / temperature  # (b, vocab_size)
    if not bool(torch.isfinite(scaled.amax(dim=-1)).all()):  # overflow: one check on the step's logits
        temperature = max(temperature, torch.finfo(logits.dtype).tiny)
        scaled = (logits - logits.amax(dim=-1, keepdim=True)) / temperature  # <= 0, the best is 0
    probs = torch.softmax(scaled, dim=-1)
    return torch.multinomial(probs, num_samples=1)


def can_use_cache(model: nn.Module) -> bool:
    """True when running ``model`` with a :class:`~gptblock.KVCache` gives what running it on the whole window gives.

    That needs a :class:`~gptblock.GPTModel` whose dropout draws no random numbers (``eval()``
    mode, or a dropout rate of 0): dropout is drawn per position, which a cache cannot replay.
    """
    if not isinstance(model, GPTModel):
        return False
    return not model.training or all(m.p == 0 for m in model.modules() if isinstance(m, nn.Dropout))


def next_token_logits(model: nn.Module, idx: torch.Tensor, context_size: int, cache: KVCache | None) -> torch.Tensor:
    """The logits ``(batch, vocab_size)`` that predict the token after ``idx``.

    Without a cache, the model runs on the last ``context_size`` tokens. With one, only the newest
    token runs, unless the window moved: once the text is cropped, every token sits at a new position
    (GPT-2's positions are absolute), so the cropped window is run again from position 0.
    """
    if cache is None:
        return model(idx[:, -context_size:])[:, -1]
    if 0 < cache.length == idx.shape[1] - 1 and idx.shape[1] <= cache.max_len:
        return model(idx[:, -1:], cache=cache)[:, -1]  # one new position
    cache.reset()
    return model(idx[:, -context_size:], cache=cache)[:, -1]
