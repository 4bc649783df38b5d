"""One explicit step for inference on the CPU: fused layer norms; for a few rows, linear layers packed for oneDNN.

Generating tokens for a few sequences at once multiplies a few rows by every weight matrix of the
model. PyTorch's default kernel for ``nn.Linear`` on the CPU (MKL) is made for large matrices;
oneDNN, given its weights once in the blocked layout it computes with, can run products with a few
rows faster (the Performance page measures by how much on its machine). A single row, one sequence
generated token by token, is another case: :class:`gptblock.linear.Linear` already spreads it over
the threads, and on the Performance page's machine that is faster than oneDNN's packed product.
:func:`optimize_for_cpu` makes the conversion once, layer by layer, and drops the plain weight of
each layer it converts: no second copy of the model is kept. It also computes every layer norm with
PyTorch's fused kernel, which is what one-row generation gains most from, and, for one row, lays
each attention's query, key and value weights one after another in memory, so that one product
computes all three (:class:`StackedAttention`).

PyTorch exposes oneDNN's prepacked linear layer only through two private operators
(``torch.ops.mkldnn._reorder_linear_weight`` and ``torch.ops.mkldnn._linear_pointwise``, those
``torch.compile`` uses on the CPU). The public ``torch.utils.mkldnn.to_mkldnn`` converts every input
and output between layouts on each call, which costs more than it saves at a few rows. So the
private pair is used here, and only here: a probe runs it once against ``nn.Linear`` and, if this
PyTorch lacks it or computes something else, the layers are left as they are.
"""

from __future__ import annotations

from functools import cache

import torch
from torch import nn
from torch.nn import functional as F

from gptblock.attention import MultiHeadAttention
from gptblock.checks import check_hidden_states
from gptblock.config import check_positive_int
from gptblock.layer_norm import LayerNorm
from gptblock.linear import Linear, linear


class PackedLinear(nn.Module):
    """An ``nn.Linear`` whose weight lives in oneDNN's blocked layout: inference only, no gradient.

    ``state_dict()`` still holds ``weight`` and ``bias`` in the plain layout (unpacked when asked),
    so an optimized model can be saved as any other; load weights before optimizing, not after.

    Args:
        linear: the layer to convert (CPU, float32); its weight is not kept.
        rows_hint: how many rows the products will usually have (oneDNN picks its layout for them).
    """

    def __init__(self, linear: nn.Linear, rows_hint: int = 1) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        with torch.no_grad():
            packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), rows_hint)
            bias = None if linear.bias is None else linear.bias.detach().clone()
        self.register_buffer("packed_weight", packed, persistent=False)
        self.register_buffer("bias", bias, persistent=False)

    @property
    def weight(self) -> torch.Tensor:
        """The weight in the plain ``(out_features, in_features)`` layout: a new copy on every access."""
        return self.packed_weight.to_dense()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.requires_grad and torch.is_grad_enabled():  # the packed operator has no backward: say so if asked
            return _NoGradient.apply(x, self.packed_weight, self.bias)
        return _packed_linear(x, self.packed_weight, self.bias)  # (..., out_features)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + "weight"] = self.weight
        if self.bias is not None:
            destination[prefix + "bias"] = self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _packed_linear(x: torch.Tensor, packed_weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed_weight, bias, "none", [], "")


class _NoGradient(torch.autograd.Function):
    """The packed product inside a graph that needs gradients: a clear error if one is ever asked of it."""

    @staticmethod
    def forward(ctx, x, packed_weight, bias):
        return _packed_linear(x, packed_weight, bias)

    @staticmethod
    def backward(ctx, grad_output):
        raise RuntimeError("a layer packed by optimize_for_cpu is for inference: it computes no gradient "
                           "(train the model before optimizing it)")


@cache
def onednn_linear_works() -> bool:
    """Whether this PyTorch runs oneDNN's prepacked linear layer and gets ``nn.Linear``'s numbers."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():  # the caller's random numbers stay as they were
            layer = nn.Linear(24, 40)
            x = torch.randn(2, 3, 24)
            got, expected = PackedLinear(layer)(x), layer(x)
    except (AttributeError, NotImplementedError, RuntimeError, TypeError):
        return False
    return got.shape == expected.shape and torch.allclose(got, expected, rtol=1e-5, atol=1e-5)


class FusedLayerNorm(LayerNorm):
    """:class:`~gptblock.LayerNorm` computed by PyTorch's ``layer_norm`` kernel: the same formula in one
    pass over the vector instead of about ten operations (equal within float rounding), the same
    ``scale``, ``shift`` and ``eps``. With one token at a time, those operations cost more than the
    arithmetic they do."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._checks_input:
            check_hidden_states(x, self.emb_dim, "LayerNorm", dims=None)
        return F.layer_norm(x, (self.emb_dim,), self.scale, self.shift, self.eps)


class StackedAttention(MultiHeadAttention):
    """:class:`~gptblock.MultiHeadAttention` whose ``W_query``, ``W_key`` and ``W_value`` weights lie one
    after another in one tensor (as :func:`stack_projections` lays them out): one product computes the
    queries, keys and values, and the weights are read in one pass. Each layer keeps its own parameter
    (a view of that tensor), so the ``state_dict`` and the numbers stay those of the plain module. If
    the weights no longer lie together (a layer's weight replaced, or the model converted with
    ``.to()``), the three products are computed one by one, as the plain module does."""

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        query, key, value = self.W_query, self.W_key, self.W_value
        weight = consecutive(query.weight, key.weight, value.weight)
        bias = None if query.bias is None else consecutive(query.bias, key.bias, value.bias)
        if weight is None or (bias is None and query.bias is not None):
            return super().project(x)
        return linear(x, weight, bias).chunk(3, dim=-1)  # (b, T, 3 * d_out) -> 3 x (b, T, d_out)


def consecutive(*parts: torch.Tensor) -> torch.Tensor | None:
    """``torch.cat(parts)`` without a copy, as a view, if the contiguous ``parts`` lie one after another in
    memory; otherwise ``None``."""
    first = parts[0]
    start, size, storage = first.data_ptr(), first.nbytes, first.untyped_storage().data_ptr()
    for i, part in enumerate(parts):
        if (part.data_ptr() != start + i * size or part.shape != first.shape or part.dtype != first.dtype
                or not part.is_contiguous() or part.untyped_storage().data_ptr() != storage):
            return None
    return first.as_strided((len(parts) * first.shape[0], *first.shape[1:]), first.stride())


def stack_projections(attention: MultiHeadAttention) -> None:
    """Move ``attention``'s query, key and value parameters into one tensor each (weights, biases),
    one after another, and make it a :class:`StackedAttention`. The old tensors are freed: no copy is kept."""
    layers = (attention.W_query, attention.W_key, attention.W_value)
    with torch.no_grad():
        for name in ("weight", "bias"):
            if getattr(attention.W_query, name) is None:
                continue
            stacked = torch.cat([getattr(layer, name) for layer in layers])  # (3 * d_out, ...)
            for layer, part in zip(layers, stacked.chunk(len(layers)), strict=True):
                setattr(layer, name, nn.Parameter(part, requires_grad=getattr(layer, name).requires_grad))
    attention.__class__ = StackedAttention


def optimize_for_cpu(model: nn.Module, rows: int = 1) -> nn.Module:
    """Prepare ``model`` for inference on the CPU, in place, for products of ``rows`` rows.

    Every :class:`~gptblock.LayerNorm` becomes a :class:`FusedLayerNorm` (the same parameters, one
    kernel). With ``rows`` above 1 (several sequences at once, or short prompts), every float32
    ``nn.Linear`` on the CPU also becomes a :class:`PackedLinear`, its weight packed for oneDNN in the
    layout chosen for that many rows and its plain weight dropped, so memory does not grow, with one
    exception: an output head tied to the token embedding (as GPT-2's) gets its own packed copy,
    because the embedding lookup keeps reading the plain rows. With ``rows=1`` (one sequence generated
    token by token, the command line's case) the linear layers stay as they are: their one-row product
    (:class:`gptblock.linear.Linear`) is faster than oneDNN's on the Performance page's machine.
    Instead (and wherever nothing is packed, as without oneDNN), every
    :class:`~gptblock.MultiHeadAttention` becomes a :class:`StackedAttention`: its
    ``W_query``, ``W_key`` and ``W_value`` parameters are moved into one tensor (each layer keeps its
    own parameter, a view of it; the old tensors are freed) and one product computes the three.
    ``copy.deepcopy`` copies those parameters one by one: optimize the copy, not the original.

    Everything computes the same numbers within float rounding (1e-5). Packed layers have no
    gradient and stay on the CPU in float32: optimize last, after loading, moving and converting, and
    keep an unoptimized model for training. Where PyTorch lacks oneDNN, nothing is packed.

    oneDNN spreads every product over all of PyTorch's threads: on cores busy with other processes
    its threads wait for each other, and a packed model can be slower than the plain one. Measure on
    the machine that will run it (``benchmarks/bench.py``).

    Args:
        model: any module (a :class:`~gptblock.GPTModel` typically).
        rows: how many rows the products will have: ``batch * new positions`` per call.

    Returns:
        ``model`` itself, converted.

    Example:
        >>> import torch
        >>> from gptblock import GPTModel, optimize_for_cpu
        >>> tiny = {"vocab_size": 99, "context_length": 16, "emb_dim": 32, "n_heads": 2,
        ...         "n_layers": 2, "drop_rate": 0.0, "qkv_bias": False}
        >>> model = GPTModel(tiny).eval()
        >>> ids = torch.tensor([[1, 2, 3]])
        >>> before = model(ids)
        >>> optimize_for_cpu(model) is model
        True
        >>> torch.allclose(model(ids), before, atol=1e-5)
        True
    """
    check_positive_int("rows", rows)
    for module in model.modules():
        if type(module) is LayerNorm:
            module.__class__ = FusedLayerNorm  # the same module and parameters; only forward changes
    if rows == 1 or not onednn_linear_works():
        for module in model.modules():
            if type(module) is MultiHeadAttention and all(type(layer) is Linear for layer in
                                                         (module.W_query, module.W_key, module.W_value)):
                stack_projections(module)
        return model
    for module in model.modules():
        if type(module) is StackedAttention:  # optimized for one row before: packed layers are read one by one
            module.__class__ = MultiHeadAttention
    names = [name for name, module in model.named_modules()
             if name and type(module) in (nn.Linear, Linear) and module.weight.device.type == "cpu"
             and module.weight.dtype == torch.float32]
    for name in names:  # by name, holding no layer: each plain weight is freed as soon as it is packed
        parent_name, _, child_name = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child_name, PackedLinear(getattr(parent, child_name), rows_hint=rows))
    return model
