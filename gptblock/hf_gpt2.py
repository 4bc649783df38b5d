"""GPT-2 in the Hugging Face layout: OpenAI's published weights in, and back out.

The Hugging Face layout of GPT-2 (``openai-community/gpt2`` and its medium, large and xl sizes) names
the tensors differently from gptblock and stores every linear layer as a ``Conv1D``: a weight of shape
``(in_features, out_features)`` used as ``x @ W + b``, the transpose of ``nn.Linear``'s
``(out_features, in_features)`` used as ``x @ W.T + b``. Its attention fuses the query, key and value
projections into one ``c_attn`` of shape ``(emb_dim, 3 * emb_dim)``.

One table, :func:`hf_name_table`, says which gptblock parameters each file tensor holds and whether
it is a ``Conv1D`` weight; the expected shapes (:func:`hf_gpt2_shapes`), the loading
(:func:`load_gpt2_weights`) and the export (:func:`export_gpt2_weights`) are all derived from it, so
that a load -> export -> load round trip is exact.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

import torch
from safetensors.torch import save_file
from torch.overrides import TorchFunctionMode
from tqdm import tqdm

from gptblock.checkpoint import CHECKPOINT_FORMAT
from gptblock.config import check_config
from gptblock.files import PathLike, check_path, write_atomically
from gptblock.model import GPTModel
from gptblock.safetensors_files import SafetensorsFiles, check_finite, check_tensors

#: Number of attention heads of the four published GPT-2 sizes, by width (``n_embd``). A file without
#: a ``config.json`` beside it only tells the width; the heads come from this table.
GPT2_HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 20, 1600: 25}

#: Activations of Hugging Face's GPT-2 config that compute GPT-2's tanh-approximated GELU.
_TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")
#: Defaults of transformers' ``GPT2Config`` for keys a ``config.json`` may leave out.
_HF_DEFAULTS = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}
#: The causal-mask buffers some GPT-2 files carry: rebuilt by the model, never loaded.
_HF_BUFFER = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")
#: What :func:`export_gpt2_weights` records in both files of a folder: the export they come from
#: (in the weights' metadata and in ``config.json``) and the heads (which no tensor shape tells).
EXPORT_KEY = "gptblock_export"
EXPORT_ID_KEY = "gptblock_export_id"


# ------------------------------------------------------------------------------------ the name table
# (name in the file, the gptblock parameters it holds side by side, whether it is a Conv1D weight).
_EMBEDDING_ROWS = (("wte.weight", ("tok_emb.weight",), False), ("wpe.weight", ("pos_emb.weight",), False))
_BLOCK_ROWS = (  # inside block i: "h.{i}." in the file, "trf_blocks.{i}." in gptblock
    ("ln_1.weight", ("norm1.scale",), False),
    ("ln_1.bias", ("norm1.shift",), False),
    ("attn.c_attn.weight", ("att.W_query.weight", "att.W_key.weight", "att.W_value.weight"), True),
    ("attn.c_attn.bias", ("att.W_query.bias", "att.W_key.bias", "att.W_value.bias"), False),
    ("attn.c_proj.weight", ("att.out_proj.weight",), True),
    ("attn.c_proj.bias", ("att.out_proj.bias",), False),
    ("ln_2.weight", ("norm2.scale",), False),
    ("ln_2.bias", ("norm2.shift",), False),
    ("mlp.c_fc.weight", ("ff.layers.0.weight",), True),
    ("mlp.c_fc.bias", ("ff.layers.0.bias",), False),
    ("mlp.c_proj.weight", ("ff.layers.2.weight",), True),
    ("mlp.c_proj.bias", ("ff.layers.2.bias",), False),
)
_FINAL_ROWS = (("ln_f.weight", ("final_norm.scale",), False), ("ln_f.bias", ("final_norm.shift",), False))


def hf_name_table(n_layers: int) -> list[tuple[str, tuple[str, ...], bool]]:
    """Every tensor of a Hugging Face GPT-2 file, in file order: ``(hf_name, gptblock_names, is_conv1d)``.

    A row with several gptblock names (``c_attn``) holds them side by side: along the columns for a
    ``Conv1D`` weight (each transposed), along the only dimension for a bias. The output head is not
    in the table: GPT-2 reuses the token embedding ``wte`` as its head.

    Example:
        >>> hf_name_table(12)[4]
        ('h.0.attn.c_attn.weight', ('trf_blocks.0.att.W_query.weight', 'trf_blocks.0.att.W_key.weight', \
'trf_blocks.0.att.W_value.weight'), True)
    """
    rows = list(_EMBEDDING_ROWS)
    for i in range(n_layers):
        rows += [(f"h.{i}.{hf}", tuple(f"trf_blocks.{i}.{name}" for name in ours), conv1d)
                 for hf, ours, conv1d in _BLOCK_ROWS]
    return rows + list(_FINAL_ROWS)


class _SkipInitialisation(TorchFunctionMode):
    """Leaves ``torch.nn.init`` functions undone: a meta tensor has no values to fill, and the meta
    kernel of ``normal_`` imports ``torch._dynamo``, a second of the command line's start-up."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__module__", None) == "torch.nn.init":
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))


def _parameter_shapes(cfg: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """The shape of every gptblock parameter for ``cfg`` with query/key/value biases (built on the meta device)."""
    with torch.device("meta"), _SkipInitialisation():
        model = GPTModel({**cfg, "qkv_bias": True})
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


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
    ours = _parameter_shapes(cfg)
    shapes = {}
    for hf, names, conv1d in hf_name_table(cfg["n_layers"]):
        parts = [ours[name] for name in names]
        if conv1d:  # (out_i, in) each, stored as (in, sum of out_i)
            shapes[hf] = (parts[0][1], sum(p[0] for p in parts))
        else:  # side by side along the first dimension
            shapes[hf] = (sum(p[0] for p in parts), *parts[0][1:])
    return shapes


def tensors_from_hf(get: Callable[[str], torch.Tensor], cfg: Mapping[str, Any]) -> Iterator[tuple[str, torch.Tensor]]:
    """``(gptblock_name, tensor)`` for every parameter, read one file tensor at a time through ``get(hf_name)``.

    Conv1D weights are transposed and ``c_attn`` is split into query, key and value. The output head
    is not yielded (it is the token embedding).
    """
    ours = _parameter_shapes(cfg)
    for hf, names, conv1d in hf_name_table(cfg["n_layers"]):
        sizes = [ours[name][0] for name in names]
        tensor = get(hf)
        parts = [p.T for p in tensor.split(sizes, dim=1)] if conv1d else tensor.split(sizes, dim=0)
        yield from zip(names, parts, strict=True)


def gptblock_to_hf(model: GPTModel) -> dict[str, torch.Tensor]:
    """The tensors of ``model`` in the Hugging Face GPT-2 layout, named as in :func:`hf_name_table`.

    A model built with ``qkv_bias=False`` gets zero ``c_attn`` biases, which compute the same thing.

    Raises:
        TypeError: ``model`` is not a ``GPTModel``.
        ValueError: ``out_head`` differs from ``tok_emb`` (the GPT-2 layout has one matrix for both).
    """
    if not isinstance(model, GPTModel):
        raise TypeError(f"export needs a GPTModel, got {type(model).__name__}")
    state = model.state_dict()
    if not torch.equal(state["out_head.weight"], state["tok_emb.weight"]):
        raise ValueError(
            "out_head.weight differs from tok_emb.weight: the GPT-2 layout stores one matrix for both "
            "(tie them with model.out_head.weight = model.tok_emb.weight)"
        )
    shapes = _parameter_shapes(model.cfg)
    hf = {}
    for hf_name, names, conv1d in hf_name_table(model.cfg["n_layers"]):
        dtype = state[names[0]].dtype if names[0] in state else state["tok_emb.weight"].dtype
        parts = [state[name] if name in state else torch.zeros(shapes[name], dtype=dtype) for name in names]
        tensor = torch.cat([p.T for p in parts], dim=1) if conv1d else torch.cat(parts, dim=0)
        hf[hf_name] = tensor.detach().contiguous()
    return hf


# ------------------------------------------------------------------------------------ file access
def _resolve_hf_path(path: Path) -> tuple[list[Path], Path | None]:
    """The safetensors file(s) and the ``config.json`` (if any) for a file or a ``save_pretrained`` folder."""
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    if path.is_file():
        config = path.parent / "config.json"
        return [path], config if config.is_file() else None
    if not path.is_dir():
        raise ValueError(f"{path} is not a file or a folder")
    config = path / "config.json"
    config_path = config if config.is_file() else None
    if (path / "model.safetensors").is_file():
        return [path / "model.safetensors"], config_path
    index = path / "model.safetensors.index.json"
    if index.is_file():  # a sharded checkpoint (save_pretrained with max_shard_size)
        return _shards(index), config_path
    pickles = [name for name in ("pytorch_model.bin", "model.bin", "model.pt") if (path / name).exists()]
    if pickles:
        raise ValueError(
            f"{path} holds {pickles[0]} but no model.safetensors: gptblock only reads safetensors files "
            "(a pickled checkpoint can run code when it is opened)"
        )
    raise FileNotFoundError(f"{path} holds no model.safetensors")


def _shards(index: Path) -> list[Path]:
    """The shard files a ``model.safetensors.index.json`` names, each checked to be a file in its folder.

    A shard is named relative to the index's folder and may not leave it (no absolute path, no
    ``..``): an index cannot make gptblock read a file elsewhere. A shard that is a symbolic link is
    followed, as the Hugging Face cache needs (its snapshots link to blobs in another folder).
    """
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{index} is not a valid safetensors index ({type(exc).__name__}: {exc})") from None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(f"{index}: weight_map must be a non-empty JSON object (tensor name -> shard file)")
    shards = []
    for tensor, shard in weight_map.items():
        if not isinstance(shard, str):
            raise ValueError(f"{index}: the shard of tensor {tensor!r} must be a file name, got {shard!r}")
        parts = PurePath(shard).parts
        if not parts or PurePath(shard).is_absolute() or ".." in parts or shard.strip() in ("", "."):
            raise ValueError(f"{index}: shard {shard!r} (of tensor {tensor!r}) must name a file inside {index.parent}")
        if not (index.parent / shard).is_file():
            raise ValueError(f"{index}: shard {shard!r} (of tensor {tensor!r}) is not a file in {index.parent}")
        shards.append(shard)
    return [index.parent / shard for shard in sorted(set(shards))]


def _read_hf_config(config_path: Path) -> tuple[dict[str, Any], str | None]:
    """A gptblock config (``drop_rate`` 0) from a Hugging Face GPT-2 ``config.json``, checked, and its export id.

    The export id is there when :func:`export_gpt2_weights` wrote the file (``None`` otherwise).
    """
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
        return check_config(cfg), hf.get(EXPORT_ID_KEY)
    except ValueError as exc:
        raise ValueError(f"{config_path}: {exc}") from None


def _infer_hf_config(files: SafetensorsFiles, names: Mapping[str, str], where: str,
                     heads: int | None = None) -> dict[str, Any]:
    """A gptblock config read off the tensor shapes.

    No shape tells the number of heads: ``heads`` when the file records it (gptblock's exports do),
    else :data:`GPT2_HEADS_BY_WIDTH`.
    """
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
    if heads is None and emb not in GPT2_HEADS_BY_WIDTH:
        widths = ", ".join(map(str, GPT2_HEADS_BY_WIDTH))
        raise ValueError(
            f"{where}: width {emb} is not one of GPT-2's ({widths}), so the number of heads is unknown; "
            "put the model's config.json beside the file"
        )
    return {"vocab_size": vocab, "context_length": ctx, "emb_dim": emb, "n_heads": heads or GPT2_HEADS_BY_WIDTH[emb],
            "n_layers": max(blocks) + 1 if blocks else 1, "drop_rate": 0.0, "qkv_bias": True}


def _hf_names(files: SafetensorsFiles, where: str) -> tuple[dict[str, str], frozenset[str]]:
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


def _check_lm_head(files: SafetensorsFiles, names: Mapping[str, str], where: str) -> None:
    """A stored ``lm_head.weight`` must be the token embedding itself (GPT-2 ties them)."""
    head = next((name for name in files.handles if name.removeprefix("transformer.") == "lm_head.weight"), None)
    if head is None or "wte.weight" not in names:
        return
    wte = names["wte.weight"]
    if files.shape(head) == files.shape(wte):  # a NaN is never equal to itself: name it as such
        check_finite(files.tensor(head), head, where)
    if files.shape(head) != files.shape(wte) or not torch.equal(files.tensor(head), files.tensor(wte)):
        raise ValueError(
            f"{where}: tensor {head!r} differs from {wte!r}; gptblock's GPT-2 ties its output head to the "
            "token embedding, as OpenAI's GPT-2 does"
        )


def _export_record(files: SafetensorsFiles, where: str) -> tuple[str | None, int | None]:
    """The export id and the heads that :func:`export_gpt2_weights` recorded in the weights (``None`` if not ours)."""
    text = files.metadata.get(EXPORT_KEY)
    if text is None:
        return None, None
    try:
        record = json.loads(text)
        export_id, heads = record["id"], record["n_head"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{where}: unreadable {EXPORT_KEY!r} metadata ({type(exc).__name__}: {exc})") from None
    if not isinstance(export_id, str) or isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise ValueError(f"{where}: unreadable {EXPORT_KEY!r} metadata ({text!r})")
    return export_id, heads


def _check_export_pair(config_path: Path, config_id: str | None, weights_id: str | None, where: str) -> None:
    """``config.json`` and the weights of one folder must come from the same export when both say which."""
    if config_id is not None and weights_id is not None and config_id != weights_id:
        raise ValueError(
            f"{config_path} and {where} come from different exports (export {config_id} and {weights_id}): "
            "an export was interrupted or is still being written; export the model again"
        )


# ------------------------------------------------------------------------------------ public API
def load_gpt2_weights(path: PathLike, *, drop_rate: float = 0.0, progress: bool = False) -> GPTModel:
    """Load a GPT-2 checkpoint in the Hugging Face layout into a new :class:`~gptblock.GPTModel`.

    ``path`` is a ``model.safetensors`` file (as published for ``openai-community/gpt2``, ``-medium``,
    ``-large`` and ``-xl``) or a directory written by ``save_pretrained``. The configuration comes from
    the ``config.json`` beside the weights when there is one (any size, e.g. a tiny test model);
    otherwise from the tensor shapes, for the four GPT-2 widths. Every tensor name and shape is checked
    before a single number is copied, and the model is built fresh, so a bad file leaves nothing
    half-loaded. The tensors are converted to float32, and each must be finite.

    The number of heads is the one thing no tensor shape tells: it is taken from ``config.json`` as
    written (``n_head``). A folder written by :func:`export_gpt2_weights` records its heads and its
    export in both files, and is refused when they disagree (a hand-edited ``n_head``, or the files
    of two different exports side by side).

    Args:
        path: a ``.safetensors`` file or a ``save_pretrained`` directory.
        drop_rate: dropout of the returned model (0: published weights are for inference and fine-tuning
            usually sets its own).
        progress: show a progress bar (tqdm, on stderr) while the tensors are copied.

    Returns:
        A ``GPTModel`` in eval mode with ``qkv_bias=True`` and ``out_head`` tied to ``tok_emb``.

    Raises:
        TypeError: ``path`` is not a ``str`` or ``os.PathLike``.
        FileNotFoundError: ``path`` does not exist, or a directory holds no ``model.safetensors``.
        ValueError: ``path`` is neither a file nor a folder, the file is not safetensors, the config is not
            GPT-2's or disagrees with the weights, a sharded index is malformed or names a shard outside
            its folder, or a tensor is missing, unexpected, of the wrong shape or not finite (the
            message names the first one).
    """
    path = check_path(path)
    files, config_path = _resolve_hf_path(path)
    where = str(files[0]) if len(files) == 1 else str(path)
    with SafetensorsFiles(files) as source:
        names, ignored = _hf_names(source, where)
        if source.metadata.get("gptblock") == CHECKPOINT_FORMAT:
            raise ValueError(f"{where} is a gptblock checkpoint, not a Hugging Face GPT-2 file: use load_checkpoint")
        export_id, exported_heads = _export_record(source, where)
        if config_path:
            cfg, config_id = _read_hf_config(config_path)
            _check_export_pair(config_path, config_id, export_id, where)
            if exported_heads is not None and cfg["n_heads"] != exported_heads:
                raise ValueError(f"{config_path} gives n_head={cfg['n_heads']} but {where} was exported with "
                                 f"n_head={exported_heads}; the weights alone cannot tell, so neither is trusted")
        else:
            cfg = _infer_hf_config(source, names, where, exported_heads)
        cfg["drop_rate"] = drop_rate
        cfg = check_config(cfg)
        check_tensors(hf_gpt2_shapes(cfg), source, names, where, ignored)
        _check_lm_head(source, names, where)

        with torch.random.fork_rng(devices=[]):  # building the model must not move the caller's RNG
            model = GPTModel(cfg)
        model.out_head.weight = model.tok_emb.weight
        params = model.state_dict(keep_vars=True)

        def get(name: str) -> torch.Tensor:  # one file tensor in memory at a time, beside the model
            tensor = source.tensor(names[name]).to(torch.float32)
            check_finite(tensor, names[name], where)  # after the cast: a float64 1e300 is inf in float32
            return tensor

        converted = tensors_from_hf(get, cfg)
        with torch.no_grad():
            for target, tensor in tqdm(converted, total=len(params) - 1, desc="loading weights", unit="tensor",
                                       disable=not progress, leave=False):
                params[target].copy_(tensor)
    return model.eval()


def _hf_config(cfg: Mapping[str, Any], export_id: str) -> dict[str, Any]:
    """The ``config.json`` that ``save_pretrained`` writes for a GPT-2 of configuration ``cfg``."""
    hf_config: dict[str, Any] = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": cfg["vocab_size"], "n_positions": cfg["context_length"], "n_embd": cfg["emb_dim"],
        "n_layer": cfg["n_layers"], "n_head": cfg["n_heads"], "n_inner": None,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "resid_pdrop": cfg["drop_rate"], "embd_pdrop": cfg["drop_rate"], "attn_pdrop": cfg["drop_rate"],
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        "tie_word_embeddings": True, EXPORT_ID_KEY: export_id,
    }
    if cfg["vocab_size"] > 50256:  # GPT-2's <|endoftext|> begins and ends every text
        hf_config.update({"bos_token_id": 50256, "eos_token_id": 50256})
    return hf_config


def export_gpt2_weights(model: GPTModel, path: PathLike) -> Path:
    """Write ``model`` in the Hugging Face GPT-2 layout.

    A ``path`` ending in ``.safetensors`` gets just the weights. Any other ``path`` is a directory
    (created if needed) that receives ``model.safetensors`` and a ``config.json``, as ``save_pretrained``
    writes them, so that ``transformers.GPT2LMHeadModel.from_pretrained(path)`` reads it back.
    The names carry no ``transformer.`` prefix, like OpenAI's published file.

    Both files are written in full beside their targets before either is renamed into place: a failed
    export (a full disk, Ctrl-C) leaves the previous export as it was, and a reader never sees half a
    file. Both record the export they belong to (a random id, and the heads), so that a reader that
    catches the folder between the two renames is refused instead of loading the new weights with the
    old configuration. The files get the permissions of any new file (0o666 less the umask).

    Args:
        model: a ``GPTModel`` whose ``out_head`` equals ``tok_emb`` (as after :func:`load_gpt2_weights`).
        path: a ``.safetensors`` file or a directory.

    Returns:
        The path of the written ``.safetensors`` file.

    Raises:
        TypeError: ``model`` is not a ``GPTModel``, or ``path`` is not a ``str`` or ``os.PathLike``.
        ValueError: ``out_head`` differs from ``tok_emb``.
    """
    path = check_path(path)
    tensors = gptblock_to_hf(model)
    export_id = secrets.token_hex(8)
    metadata = {"format": "pt", EXPORT_KEY: json.dumps({"id": export_id, "n_head": model.cfg["n_heads"]})}
    is_file = path.suffix == ".safetensors"
    folder = path.parent if is_file else path
    file = path if is_file else path / "model.safetensors"
    writes = [(file, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))]
    if not is_file:
        config_text = json.dumps(_hf_config(model.cfg, export_id), indent=2) + "\n"  # fails before any file exists
        writes.append((path / "config.json", lambda tmp: tmp.write_text(config_text, encoding="utf-8")))
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        write_atomically(writes)  # the weights are renamed first, then config.json
    except BaseException:
        if created:  # leave no empty folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return file
