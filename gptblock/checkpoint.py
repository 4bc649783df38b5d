"""gptblock's own checkpoints: a ``GPTModel``'s weights and configuration in one safetensors file.

The file holds the model's ``state_dict`` under its own names, and its metadata the configuration
and whether the output head is tied to the token embedding (stored once: safetensors refuses two
names for one tensor). For OpenAI's GPT-2 files, see :mod:`gptblock.hf_gpt2`.
"""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file

from gptblock.config import check_config
from gptblock.files import PathLike, check_path, write_atomically
from gptblock.model import GPTModel
from gptblock.safetensors_files import SafetensorsFiles, check_finite, check_tensors

#: The value of the ``gptblock`` metadata key that marks a file as a gptblock checkpoint.
CHECKPOINT_FORMAT = "gptblock-checkpoint-1"


def save_checkpoint(model: GPTModel, path: PathLike) -> None:
    """Save a ``GPTModel`` (weights and config) to one safetensors file.

    safetensors refuses two names for one tensor, so a tied ``out_head`` is stored once, as
    ``tok_emb.weight``, and the file's metadata records the tie; :func:`load_checkpoint` re-ties it.
    The file is written beside ``path`` and renamed into place when complete (a failed save leaves
    the previous file as it was), with the permissions of any new file (0o666 less the umask).

    Args:
        model: the model to save.
        path: the file to write (conventionally ``*.safetensors``); its folder must exist.

    Raises:
        TypeError: ``model`` is not a ``GPTModel``, or ``path`` is not a ``str`` or ``os.PathLike``.

    Example:
        >>> import tempfile, torch
        >>> from pathlib import Path
        >>> from gptblock import GPTModel, save_checkpoint, load_checkpoint
        >>> tiny = {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2,
        ...         "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
        >>> model = GPTModel(tiny)
        >>> model.out_head.weight = model.tok_emb.weight
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_checkpoint(model, Path(folder) / "tiny.safetensors")
        ...     again = load_checkpoint(Path(folder) / "tiny.safetensors")
        >>> again.out_head.weight is again.tok_emb.weight
        True
        >>> all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
        True
    """
    if not isinstance(model, GPTModel):
        raise TypeError(f"save_checkpoint needs a GPTModel, got {type(model).__name__}")
    path = check_path(path)
    tied = _is_tied(model)
    state = {name: t.detach().contiguous() for name, t in model.state_dict().items()
             if not (tied and name == "out_head.weight")}
    metadata = {"format": "pt", "gptblock": CHECKPOINT_FORMAT, "config": json.dumps(model.cfg),
                "tied": json.dumps(tied)}
    write_atomically([(path, lambda tmp: save_file(state, str(tmp), metadata=metadata))])


def load_checkpoint(path: PathLike) -> GPTModel:
    """Load a model written by :func:`save_checkpoint` (a new model, in eval mode, ties restored).

    Args:
        path: the ``.safetensors`` file.

    Returns:
        The model, each weight in the dtype it was saved in.

    Raises:
        TypeError: ``path`` is not a ``str`` or ``os.PathLike``.
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a file, the file is not a gptblock checkpoint, or a tensor is
            missing, unexpected, of the wrong shape or holds a NaN or an infinity (the message names
            the first one).
    """
    path = check_path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    with SafetensorsFiles([path]) as source:
        meta = source.metadata
        if meta.get("gptblock") != CHECKPOINT_FORMAT:
            hint = " (it looks like a Hugging Face GPT-2 file: use load_gpt2_weights)" if any(
                name.removeprefix("transformer.") == "wte.weight" for name in source.handles) else ""
            raise ValueError(f"{path} is not a gptblock checkpoint{hint}")
        try:
            cfg = check_config(json.loads(meta["config"]))
            tied = json.loads(meta.get("tied", "false"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable config in the checkpoint metadata ({exc})") from None
        with torch.random.fork_rng(devices=[]):
            model = GPTModel(cfg)
        if tied:
            model.out_head.weight = model.tok_emb.weight
        expected = {name: tuple(t.shape) for name, t in model.state_dict().items()
                    if not (tied and name == "out_head.weight")}
        check_tensors(expected, source, {name: name for name in expected if name in source.handles}, str(path))
        params = model.state_dict(keep_vars=True)
        for name in expected:
            tensor = source.tensor(name)
            check_finite(tensor, name, str(path))
            params[name].data = tensor  # the saved dtype, tensor by tensor (copy_ would cast to the model's)
    return model.eval()


def _is_tied(model: GPTModel) -> bool:
    head, emb = model.out_head.weight, model.tok_emb.weight
    return head is emb or (head.data_ptr() == emb.data_ptr() and head.shape == emb.shape)

