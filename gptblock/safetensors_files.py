"""Reading safetensors files safely: named tensors checked before a single number is copied.

A `safetensors <https://huggingface.co/docs/safetensors>`_ file is a JSON header that names every
tensor, its dtype and its shape, followed by the raw numbers. Nothing here ever unpickles a file (a
pickle can run arbitrary code when it is opened). Both weight formats gptblock reads, Hugging Face's
GPT-2 (:mod:`gptblock.hf_gpt2`) and its own checkpoints (:mod:`gptblock.checkpoint`), go through
:class:`SafetensorsFiles` and :func:`check_tensors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

FLOAT_DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64}


class SafetensorsFiles:
    """Read-only view of the tensors of one or more safetensors files (memory-mapped, loaded on demand).

    Raises:
        ValueError: a file is not safetensors, or two files hold a tensor of the same name.
    """

    def __init__(self, files: list[Path]) -> None:
        self._stack = ExitStack()
        self.handles: dict[str, Any] = {}
        self.metadata: dict[str, str] = {}
        try:
            for file in files:
                try:
                    handle = self._stack.enter_context(safe_open(str(file), framework="pt"))
                except SafetensorError as exc:
                    raise ValueError(f"{file} is not a readable safetensors file ({exc})") from None
                self.metadata.update(handle.metadata() or {})
                for name in handle.keys():
                    if name in self.handles:
                        raise ValueError(f"{file}: tensor {name!r} appears twice")
                    self.handles[name] = handle
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> SafetensorsFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.handles[name].get_slice(name).get_shape())

    def dtype(self, name: str) -> str:
        return self.handles[name].get_slice(name).get_dtype()

    def tensor(self, name: str) -> torch.Tensor:
        return self.handles[name].get_tensor(name)


def check_tensors(expected: Mapping[str, tuple[int, ...]], files: SafetensorsFiles,
                  names: Mapping[str, str], where: str, ignored: frozenset[str] = frozenset()) -> None:
    """Raise ``ValueError`` naming the first missing, unexpected, misshapen or non-float tensor.

    ``expected`` maps names to shapes; ``names`` maps those names to the names in the file (errors
    quote the file's names); ``ignored`` are file names that may be there and are not loaded.
    """
    problems = []
    for name, shape in expected.items():
        if name not in names:
            problems.append(f"missing tensor {name!r} (expected shape {list(shape)})")
            continue
        found = files.shape(names[name])
        if found != shape:
            problems.append(f"tensor {names[name]!r} has shape {list(found)}, expected {list(shape)}")
        elif files.dtype(names[name]) not in FLOAT_DTYPES:
            problems.append(f"tensor {names[name]!r} has dtype {files.dtype(names[name])}, expected a float dtype")
    used = {names[name] for name in expected if name in names} | ignored
    problems += [f"unexpected tensor {name!r}" for name in files.handles if name not in used]
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ValueError(f"{where}: {problems[0]}{more}")


def check_finite(tensor: torch.Tensor, name: str, where: str) -> None:
    """Raise ``ValueError`` naming the tensor when it holds a NaN or an infinity.

    One NaN in a weight spreads to every logit it reaches, and greedy decoding then picks token 0
    forever; refusing the file at load says where the damage is.
    """
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        bad = tensor.numel() - int(torch.isfinite(tensor).sum())
        raise ValueError(f"{where}: tensor {name!r} holds {bad} non-finite value(s) (NaN or infinity) "
                         f"out of {tensor.numel()}; the weights are damaged (or training diverged)")
