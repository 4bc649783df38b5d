# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Gradients with and without shortcuts
#
# Chinese whispers, measured. The correction signal (the gradient) is born at the last layer and
# travels backwards; without shortcuts it fades layer by layer, with shortcuts it arrives whole.
# This notebook repeats the experiment of [4. Shortcut connections](../shortcuts.md) —the same
# stack and the same seed—, plots it on a logarithmic scale, and then repeats it with a stack of
# 20 layers.

# %%
from itertools import pairwise

import matplotlib.pyplot as plt
import torch
from torch import nn

from gptblock import GELU


class DeepStack(nn.Module):
    def __init__(self, layer_sizes, use_shortcut):
        super().__init__()
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(n_in, n_out), GELU())
            for n_in, n_out in pairwise(layer_sizes)
        )

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            if self.use_shortcut and out.shape == x.shape:
                x = x + out  # shortcut: the input travels on untouched
            else:
                x = out
        return x


def mean_gradients(model):
    x = torch.tensor([[1.0, 0.0, -1.0]])
    target = torch.tensor([[0.0]])
    loss = nn.functional.mse_loss(model(x), target)
    loss.backward()
    return [layer[0].weight.grad.abs().mean().item() for layer in model.layers]


def compare(depth):
    layer_sizes = [3] * depth + [1]
    torch.manual_seed(123)
    plain = mean_gradients(DeepStack(layer_sizes, use_shortcut=False))
    torch.manual_seed(123)
    highway = mean_gradients(DeepStack(layer_sizes, use_shortcut=True))
    return plain, highway


plain9, highway9 = compare(9)
print("layer   no shortcut   shortcut")
for i, (g_plain, g_highway) in enumerate(zip(plain9, highway9, strict=True)):
    print(f"{i:>5}   {g_plain:>11.2e}   {g_highway:>8.2e}")

# %% [markdown]
# ## Nine layers
#
# The same numbers as on the page. Without shortcuts, the mean gradient drops about twenty
# thousand times between the last layer and the first; with shortcuts, it stays of the same order
# in all of them.

# %% alt="Mean gradient per layer, log scale: without shortcuts it vanishes toward the first layer; with them, not"
def plot(ax, plain, highway, title):
    layers = range(len(plain))
    ax.semilogy(layers, plain, marker="o", color="tab:red", label="no shortcuts")
    ax.semilogy(layers, highway, marker="o", color="tab:green", label="shortcuts")
    ax.set_xlabel("layer (0 = the first)")
    ax.set_ylabel("mean |gradient| of the weights")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()


plain20, highway20 = compare(20)
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6, 6.5))
plot(ax1, plain9, highway9, "9 layers")
plot(ax2, plain20, highway20, "20 layers")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Twenty layers
#
# With more layers the row is longer and the whisper is lost completely: without shortcuts, the
# first layers get gradients so small that in practice they learn nothing. With shortcuts, the
# highway still carries the message to the start: the first and the last layer get gradients of
# a comparable order.
#
# With shortcuts, though, the absolute values grow with depth: each layer adds something to what
# the highway was already carrying. In the transformer block, the volume controls (`norm1`,
# `norm2` and the model's `final_norm`) keep that sum in check.

# %%
print(f"20 layers, no shortcut: first {plain20[0]:.1e}, last {plain20[-1]:.1e}")
print(f"20 layers, shortcut:    first {highway20[0]:.1e}, last {highway20[-1]:.1e}")
