"""Weights in and out: OpenAI's GPT-2 in the Hugging Face layout, and gptblock's own checkpoints.

Both formats are `safetensors <https://huggingface.co/docs/safetensors>`_ files: a JSON header that
names every tensor, its dtype and its shape, followed by the raw numbers. Nothing here ever unpickles
a file (a pickle can run arbitrary code when it is opened), so a ``pytorch_model.bin`` is refused.

The Hugging Face layout of GPT-2 (``openai-community/gpt2`` and its medium, large and xl sizes) names
the tensors differently and stores every linear layer as a ``Conv1D``: a weight of shape
``(in_features, out_features)`` used as ``x @ W + b``, the transpose of ``nn.Linear``'s
``(out_features, in_features)`` used as ``x @ W.T + b``. Its attention fuses the query, key and value
projections into one ``c_attn`` of shape ``(emb_dim, 3 * emb_dim)``. :func:`load_gpt2_weights` maps
the names, transposes, splits ``c_attn`` in three and ties ``out_head`` to ``tok_emb``;
:func:`export_gpt2_weights` does the reverse, so that a load -> export -> load round trip is exact.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from gptblock.config import check_config
from gptblock.model import GPTModel

PathLike = str | os.PathLike

#: Number of attention heads of the four published GPT-2 sizes, by width (``n_embd``). A file without
#: a ``config.json`` beside it only tells the width; the heads come from this table.
GPT2_HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 20, 1600: 25}

#: Activations of Hugging Face's GPT-2 config that compute GPT-2's tanh-approximated GELU.
_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
#: Defaults of transformers' ``GPT2Config`` for keys a ``config.json`` may leave out.
_HF_DEFAULTS = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}
#: The causal-mask buffers some GPT-2 files carry: rebuilt by the model, never loaded.
_HF_BUFFER = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")
_FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
_CHECKPOINT_FORMAT = "gptblock-checkpoint-1"


# ----------------------------------------------------------------------------------------- names
def hf_gpt2_shapes(cfg: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The tensors of a Hugging Face GPT-2 file for ``cfg``, in file order, with their shapes.

    Args:
        cfg: a gptblock model configuration.

    Returns:
        ``{name: shape}`` without the optional ``transformer.`` prefix.

    Example:
        >>> from gptblock import GPT_CONFIG_124M
        >>> shapes = hf_gpt2_shapes(GPT_CONFIG_124M)
        >>> len(shapes), shapes["h.0.attn.c_attn.weight"], shapes["h.11.mlp.c_proj.weight"]
        (148, (768, 2304), (3072, 768))
    """
    cfg = check_config(cfg)
    emb, vocab, ctx = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"]
    shapes: dict[str, tuple[int, ...]] = {"wte.weight": (vocab, emb), "wpe.weight": (ctx, emb)}
    for i in range(cfg["n_layers"]):
        h = f"h.{i}."
        shapes.update({
            h + "ln_1.weight": (emb,), h + "ln_1.bias": (emb,),
            h + "attn.c_attn.weight": (emb, 3 * emb), h + "attn.c_attn.bias": (3 * emb,),
            h + "attn.c_proj.weight": (emb, emb), h + "attn.c_proj.bias": (emb,),
            h + "ln_2.weight": (emb,), h + "ln_2.bias": (emb,),
            h + "mlp.c_fc.weight": (emb, 4 * emb), h + "mlp.c_fc.bias": (4 * emb,),
            h + "mlp.c_proj.weight": (4 * emb, emb), h + "mlp.c_proj.bias": (emb,),
        })
    shapes.update({"ln_f.weight": (emb,), "ln_f.bias": (emb,)})
    return shapes


def _embeddings_from_hf(get: Callable[[str], torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"tok_emb.weight": get("wte.weight"), "pos_emb.weight": get("wpe.weight")}


def _block_from_hf(get: Callable[[str], torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    """Block ``i``: names mapped, Conv1D weights transposed, ``c_attn`` split into query, key, value."""
    h, b = f"h.{i}.", f"trf_blocks.{i}."
    # c_attn is one Conv1D (emb, 3*emb) whose columns are [query | key | value], each (in, out).
    q_w, k_w, v_w = get(h + "attn.c_attn.weight").chunk(3, dim=1)
    q_b, k_b, v_b = get(h + "attn.c_attn.bias").chunk(3, dim=0)
    return {
        b + "norm1.scale": get(h + "ln_1.weight"), b + "norm1.shift": get(h + "ln_1.bias"),
        b + "att.W_query.weight": q_w.T, b + "att.W_query.bias": q_b,
        b + "att.W_key.weight": k_w.T, b + "att.W_key.bias": k_b,
        b + "att.W_value.weight": v_w.T, b + "att.W_value.bias": v_b,
        b + "att.out_proj.weight": get(h + "attn.c_proj.weight").T,
        b + "att.out_proj.bias": get(h + "attn.c_proj.bias"),
        b + "norm2.scale": get(h + "ln_2.weight"), b + "norm2.shift": get(h + "ln_2.bias"),
        b + "ff.layers.0.weight": get(h + "mlp.c_fc.weight").T, b + "ff.layers.0.bias": get(h + "mlp.c_fc.bias"),
        b + "ff.layers.2.weight": get(h + "mlp.c_proj.weight").T, b + "ff.layers.2.bias": get(h + "mlp.c_proj.bias"),
    }


def _final_norm_from_hf(get: Callable[[str], torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"final_norm.scale": get("ln_f.weight"), "final_norm.shift": get("ln_f.bias")}


def hf_to_gptblock(hf: Mapping[str, torch.Tensor], n_layers: int) -> dict[str, torch.Tensor]:
    """Turn Hugging Face GPT-2 tensors into a ``GPTModel`` state dict (names mapped, Conv1D transposed).

    Args:
        hf: the tensors named as in :func:`hf_gpt2_shapes` (no prefix, no mask buffers).
        n_layers: the number of transformer blocks.

    Returns:
        A state dict for ``GPTModel`` with ``qkv_bias=True``, ``out_head.weight`` being ``tok_emb.weight``
        (GPT-2 reuses the token embedding as its output head).
    """
    sd = _embeddings_from_hf(hf.__getitem__)
    for i in range(n_layers):
        sd.update(_block_from_hf(hf.__getitem__, i))
    sd.update(_final_norm_from_hf(hf.__getitem__))
    sd["out_head.weight"] = sd["tok_emb.weight"]
    return sd


def gptblock_to_hf(model: GPTModel) -> dict[str, torch.Tensor]:
    """The tensors of ``model`` in the Hugging Face GPT-2 layout (the reverse of :func:`hf_to_gptblock`).

    A model built with ``qkv_bias=False`` gets zero ``c_attn`` biases, which compute the same thing.

    Raises:
        TypeError: ``model`` is not a ``GPTModel``.
        ValueError: ``out_head`` differs from ``tok_emb`` (the GPT-2 layout has one matrix for both).
    """
    if not isinstance(model, GPTModel):
        raise TypeError(f"export needs a GPTModel, got {type(model).__name__}")
    if not torch.equal(model.out_head.weight, model.tok_emb.weight):
        raise ValueError(
            "out_head.weight differs from tok_emb.weight: the GPT-2 layout stores one matrix for both "
            "(tie them with model.out_head.weight = model.tok_emb.weight)"
        )
    with torch.no_grad():
        hf = {"wte.weight": model.tok_emb.weight, "wpe.weight": model.pos_emb.weight}
        for i, block in enumerate(model.trf_blocks):
            h, att = f"h.{i}.", block.att
            biases = [lin.bias if lin.bias is not None else torch.zeros_like(lin.weight[:, 0])
                      for lin in (att.W_query, att.W_key, att.W_value)]
            hf.update({
                h + "ln_1.weight": block.norm1.scale, h + "ln_1.bias": block.norm1.shift,
                h + "attn.c_attn.weight": torch.cat([att.W_query.weight.T, att.W_key.weight.T, att.W_value.weight.T],
                                                    dim=1),
                h + "attn.c_attn.bias": torch.cat(biases),
                h + "attn.c_proj.weight": att.out_proj.weight.T, h + "attn.c_proj.bias": att.out_proj.bias,
                h + "ln_2.weight": block.norm2.scale, h + "ln_2.bias": block.norm2.shift,
                h + "mlp.c_fc.weight": block.ff.layers[0].weight.T, h + "mlp.c_fc.bias": block.ff.layers[0].bias,
                h + "mlp.c_proj.weight": block.ff.layers[2].weight.T, h + "mlp.c_proj.bias": block.ff.layers[2].bias,
            })
        hf.update({"ln_f.weight": model.final_norm.scale, "ln_f.bias": model.final_norm.shift})
        return {name: t.detach().contiguous() for name, t in hf.items()}


# ------------------------------------------------------------------------------------ file access
class _SafetensorsFiles:
    """Read-only view of the tensors of one or more safetensors files (memory-mapped, loaded on demand)."""

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

    def __enter__(self) -> _SafetensorsFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.handles[name].get_slice(name).get_shape())

    def dtype(self, name: str) -> str:
        return self.handles[name].get_slice(name).get_dtype()

    def tensor(self, name: str) -> torch.Tensor:
        return self.handles[name].get_tensor(name)


def _check_tensors(expected: Mapping[str, tuple[int, ...]], files: _SafetensorsFiles,
                   names: Mapping[str, str], where: str, ignored: frozenset[str] = frozenset()) -> None:
    """Raise ``ValueError`` naming the first missing, unexpected, misshapen or non-float tensor.

    ``names`` maps the model's names to the names in the file (errors quote the file's names);
    ``ignored`` are file names that may be there and are not loaded.
    """
    problems = []
    for name, shape in expected.items():
        if name not in names:
            problems.append(f"missing tensor {name!r} (expected shape {list(shape)})")
            continue
        found = files.shape(names[name])
        if found != shape:
            problems.append(f"tensor {names[name]!r} has shape {list(found)}, expected {list(shape)}")
        elif files.dtype(names[name]) not in _FLOAT_DTYPES:
            problems.append(f"tensor {names[name]!r} has dtype {files.dtype(names[name])}, expected a float dtype")
    used = {names[name] for name in expected if name in names} | ignored
    problems += [f"unexpected tensor {name!r}" for name in files.handles if name not in used]
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ValueError(f"{where}: {problems[0]}{more}")


def _resolve_hf_path(path: PathLike) -> tuple[list[Path], Path | None]:
    """The safetensors file(s) and the ``config.json`` (if any) for a file or a ``save_pretrained`` folder."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    if path.is_file():
        config = path.parent / "config.json"
        return [path], config if config.is_file() else None
    config = path / "config.json"
    config_path = config if config.is_file() else None
    if (path / "model.safetensors").is_file():
        return [path / "model.safetensors"], config_path
    index = path / "model.safetensors.index.json"
    if index.is_file():  # a sharded checkpoint (save_pretrained with max_shard_size)
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            shards = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{index} is not a valid safetensors index ({exc})") from None
        return [path / shard for shard in shards], config_path
    pickles = [name for name in ("pytorch_model.bin", "model.bin", "model.pt") if (path / name).exists()]
    if pickles:
        raise ValueError(
            f"{path} holds {pickles[0]} but no model.safetensors: gptblock only reads safetensors files "
            "(a pickled checkpoint can run code when it is opened)"
        )
    raise FileNotFoundError(f"{path} holds no model.safetensors")


def _read_hf_config(config_path: Path) -> dict[str, Any]:
    """A gptblock config (``drop_rate`` 0) from a Hugging Face GPT-2 ``config.json``, checked."""
    try:
        hf = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{config_path} is not a readable JSON file ({exc})") from None
    if not isinstance(hf, dict):
        raise ValueError(f"{config_path} does not hold a JSON object")

    def bad(what: str) -> ValueError:
        return ValueError(f"{config_path}: {what}; gptblock implements GPT-2 exactly as published")

    if hf.get("model_type", "gpt2") != "gpt2":
        raise bad(f"model_type is {hf['model_type']!r}, not 'gpt2'")
    if hf.get("activation_function", "gelu_new") not in _TANH_GELUS:
        raise bad(f"activation_function is {hf['activation_function']!r}, not GPT-2's tanh GELU ('gelu_new')")
    eps = hf.get("layer_norm_epsilon", 1e-5)
    if not isinstance(eps, (int, float)) or not math.isclose(eps, 1e-5, rel_tol=1e-9):
        raise bad(f"layer_norm_epsilon is {eps!r}, not 1e-05")
    for key, wanted in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                        ("add_cross_attention", False)):
        if hf.get(key, wanted) != wanted:
            raise bad(f"{key} is {hf[key]!r}, not {wanted!r}")
    values = {key: hf.get(key, default) for key, default in _HF_DEFAULTS.items()}
    if "n_positions" not in hf and "n_ctx" in hf:  # older configs name the context n_ctx
        values["n_positions"] = hf["n_ctx"]
    if hf.get("n_inner") not in (None, 4 * values["n_embd"]):
        raise bad(f"n_inner is {hf['n_inner']!r}, not 4 * n_embd")
    cfg = {"vocab_size": values["vocab_size"], "context_length": values["n_positions"], "emb_dim": values["n_embd"],
           "n_heads": values["n_head"], "n_layers": values["n_layer"], "drop_rate": 0.0, "qkv_bias": True}
    try:
        return check_config(cfg)
    except ValueError as exc:
        raise ValueError(f"{config_path}: {exc}") from None


def _infer_hf_config(files: _SafetensorsFiles, names: Mapping[str, str], where: str) -> dict[str, Any]:
    """A gptblock config read off the tensor shapes; the heads come from :data:`GPT2_HEADS_BY_WIDTH`."""
    for name in ("wte.weight", "wpe.weight"):
        if name not in names:
            raise ValueError(f"{where}: missing tensor {name!r}; is this a GPT-2 file in the Hugging Face layout?")
    for name in ("wte.weight", "wpe.weight"):
        if len(files.shape(names[name])) != 2:
            raise ValueError(f"{where}: tensor {names[name]!r} has shape {list(files.shape(names[name]))}, "
                             "expected a matrix (rows, width)")
    vocab, emb = files.shape(names["wte.weight"])
    ctx = files.shape(names["wpe.weight"])[0]
    blocks = {int(m.group(1)) for name in names if (m := re.match(r"h\.(\d+)\.", name))}
    if emb not in GPT2_HEADS_BY_WIDTH:
        widths = ", ".join(map(str, GPT2_HEADS_BY_WIDTH))
        raise ValueError(
            f"{where}: width {emb} is not one of GPT-2's ({widths}), so the number of heads is unknown; "
            "put the model's config.json beside the file"
        )
    return {"vocab_size": vocab, "context_length": ctx, "emb_dim": emb, "n_heads": GPT2_HEADS_BY_WIDTH[emb],
            "n_layers": max(blocks) + 1 if blocks else 1, "drop_rate": 0.0, "qkv_bias": True}


def _hf_names(files: _SafetensorsFiles, where: str) -> tuple[dict[str, str], frozenset[str]]:
    """Canonical names (no ``transformer.`` prefix) -> the file's names, and the file names not to load.

    Not loaded: the causal-mask buffers (rebuilt by the model) and ``lm_head.weight`` (checked to be
    the token embedding by :func:`_check_lm_head`).
    """
    names: dict[str, str] = {}
    ignored = set()
    for name in files.handles:
        canonical = name.removeprefix("transformer.")
        if _HF_BUFFER.fullmatch(canonical) or canonical == "lm_head.weight":
            ignored.add(name)
            continue
        if canonical in names:
            raise ValueError(f"{where}: tensor {canonical!r} appears both with and without the 'transformer.' prefix")
        names[canonical] = name
    return names, frozenset(ignored)


def _check_lm_head(files: _SafetensorsFiles, names: Mapping[str, str], where: str) -> None:
    """A stored ``lm_head.weight`` must be the token embedding itself (GPT-2 ties them)."""
    head = next((name for name in files.handles if name.removeprefix("transformer.") == "lm_head.weight"), None)
    if head is None or "wte.weight" not in names:
        return
    wte = names["wte.weight"]
    if files.shape(head) != files.shape(wte) or not torch.equal(files.tensor(head), files.tensor(wte)):
        raise ValueError(
            f"{where}: tensor {head!r} differs from {wte!r}; gptblock's GPT-2 ties its output head to the "
            "token embedding, as OpenAI's GPT-2 does"
        )


# ------------------------------------------------------------------------------------ public API
def load_gpt2_weights(path: PathLike, *, drop_rate: float = 0.0, progress: bool = False) -> GPTModel:
    """Load a GPT-2 checkpoint in the Hugging Face layout into a new :class:`~gptblock.GPTModel`.

    ``path`` is a ``model.safetensors`` file (as published for ``openai-community/gpt2``, ``-medium``,
    ``-large`` and ``-xl``) or a directory written by ``save_pretrained``. The configuration comes from
    the ``config.json`` beside the weights when there is one (any size, e.g. a tiny test model);
    otherwise from the tensor shapes, for the four GPT-2 widths. Every tensor name and shape is checked
    before a single number is copied, and the model is built fresh, so a bad file leaves nothing
    half-loaded. The tensors are converted to float32.

    Args:
        path: a ``.safetensors`` file or a ``save_pretrained`` directory.
        drop_rate: dropout of the returned model (0: published weights are for inference and fine-tuning
            usually sets its own).
        progress: show a progress bar (tqdm, on stderr) while the tensors are copied.

    Returns:
        A ``GPTModel`` in eval mode with ``qkv_bias=True`` and ``out_head`` tied to ``tok_emb``.

    Raises:
        FileNotFoundError: ``path`` does not exist, or a directory holds no ``model.safetensors``.
        ValueError: the file is not safetensors, the config is not GPT-2's, or a tensor is missing,
            unexpected or of the wrong shape (the message names the first one).
    """
    files, config_path = _resolve_hf_path(path)
    where = str(files[0]) if len(files) == 1 else str(path)
    with _SafetensorsFiles(files) as source:
        names, ignored = _hf_names(source, where)
        if source.metadata.get("gptblock") == _CHECKPOINT_FORMAT:
            raise ValueError(f"{where} is a gptblock checkpoint, not a Hugging Face GPT-2 file: use load_checkpoint")
        cfg = _read_hf_config(config_path) if config_path else _infer_hf_config(source, names, where)
        cfg["drop_rate"] = drop_rate
        cfg = check_config(cfg)
        _check_tensors(hf_gpt2_shapes(cfg), source, names, where, ignored)
        _check_lm_head(source, names, where)

        with torch.random.fork_rng(devices=[]):  # building the model must not move the caller's RNG
            model = GPTModel(cfg)
        model.out_head.weight = model.tok_emb.weight
        # Convert part by part: one block's tensors in memory at a time, beside the model.
        params = model.state_dict(keep_vars=True)

        def get(name: str) -> torch.Tensor:
            return source.tensor(names[name]).to(torch.float32)

        parts = [lambda: _embeddings_from_hf(get)]
        parts += [lambda i=i: _block_from_hf(get, i) for i in range(cfg["n_layers"])]
        parts.append(lambda: _final_norm_from_hf(get))
        with torch.no_grad():
            for part in tqdm(parts, desc="loading weights", unit="part", disable=not progress, leave=False):
                for target, tensor in part().items():
                    params[target].copy_(tensor)
    return model.eval()


def export_gpt2_weights(model: GPTModel, path: PathLike) -> Path:
    """Write ``model`` in the Hugging Face GPT-2 layout.

    A ``path`` ending in ``.safetensors`` gets just the weights. Any other ``path`` is a directory
    (created if needed) that receives ``model.safetensors`` and a ``config.json``, as ``save_pretrained``
    writes them, so that ``transformers.GPT2LMHeadModel.from_pretrained(path)`` reads it back.
    The names carry no ``transformer.`` prefix, like OpenAI's published file.

    Args:
        model: a ``GPTModel`` whose ``out_head`` equals ``tok_emb`` (as after :func:`load_gpt2_weights`).
        path: a ``.safetensors`` file or a directory.

    Returns:
        The path of the written ``.safetensors`` file.

    Raises:
        TypeError: ``model`` is not a ``GPTModel``.
        ValueError: ``out_head`` differs from ``tok_emb``.
    """
    tensors = gptblock_to_hf(model)
    path = Path(path)
    if path.suffix == ".safetensors":
        file = path
    else:
        path.mkdir(parents=True, exist_ok=True)
        file = path / "model.safetensors"
        cfg = model.cfg
        hf_config: dict[str, Any] = {
            "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
            "vocab_size": cfg["vocab_size"], "n_positions": cfg["context_length"], "n_embd": cfg["emb_dim"],
            "n_layer": cfg["n_layers"], "n_head": cfg["n_heads"], "n_inner": None,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
            "resid_pdrop": cfg["drop_rate"], "embd_pdrop": cfg["drop_rate"], "attn_pdrop": cfg["drop_rate"],
            "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
            "tie_word_embeddings": True,
        }
        if cfg["vocab_size"] > 50256:  # GPT-2's <|endoftext|> begins and ends every text
            hf_config.update({"bos_token_id": 50256, "eos_token_id": 50256})
        (path / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n", encoding="utf-8")
    save_file(tensors, str(file), metadata={"format": "pt"})
    return file


def save_checkpoint(model: GPTModel, path: PathLike) -> None:
    """Save a ``GPTModel`` (weights and config) to one safetensors file.

    safetensors refuses two names for one tensor, so a tied ``out_head`` is stored once, as
    ``tok_emb.weight``, and the file's metadata records the tie; :func:`load_checkpoint` re-ties it.

    Args:
        model: the model to save.
        path: the file to write (conventionally ``*.safetensors``).

    Raises:
        TypeError: ``model`` is not a ``GPTModel``.

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
    tied = _is_tied(model)
    state = {name: t.detach().contiguous() for name, t in model.state_dict().items()
             if not (tied and name == "out_head.weight")}
    metadata = {"format": "pt", "gptblock": _CHECKPOINT_FORMAT, "config": json.dumps(model.cfg),
                "tied": json.dumps(tied)}
    save_file(state, str(path), metadata=metadata)


def load_checkpoint(path: PathLike) -> GPTModel:
    """Load a model written by :func:`save_checkpoint` (a new model, in eval mode, ties restored).

    Args:
        path: the ``.safetensors`` file.

    Returns:
        The model, with the dtype the weights were saved in.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a gptblock checkpoint, or a tensor is missing, unexpected or of
            the wrong shape (the message names the first one).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with _SafetensorsFiles([path]) as source:
        meta = source.metadata
        if meta.get("gptblock") != _CHECKPOINT_FORMAT:
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
        _check_tensors(expected, source, {name: name for name in expected if name in source.handles}, str(path))
        dtype = _torch_dtype(source.dtype("tok_emb.weight"))
        model.to(dtype)
        params = model.state_dict(keep_vars=True)
        with torch.no_grad():
            for name in expected:
                params[name].copy_(source.tensor(name))
    return model.eval()


def _is_tied(model: GPTModel) -> bool:
    head, emb = model.out_head.weight, model.tok_emb.weight
    return head is emb or (head.data_ptr() == emb.data_ptr() and head.shape == emb.shape)


def _torch_dtype(name: str) -> torch.dtype:
    return {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64}[name]
