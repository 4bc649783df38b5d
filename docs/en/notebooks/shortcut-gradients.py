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
# The same numbers as on the page. Without shortcuts, the mean gradient drops about eighteen
# thousand times between the last layer and the first; with shortcuts, no layer dies out.

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
# first layer gets 3.8 × 10⁻¹⁶, nothing a learning step can use. With shortcuts, the highway still
# carries the message to the start, though not at the same volume in every layer: the first gets
# 3.4, the last 81 (24 times more) and the smallest, 0.35. A difference of tens of times, not of
# trillions: no layer is left without a signal.
#
# With shortcuts, the absolute values grow with depth: each layer adds something to what the
# highway was already carrying. The same happens in GPT-2. Its volume controls, `norm1` and
# `norm2`, sit at the entrance of each sub-block (pre-LN) and do not touch the highway: the
# residual stream grows from block to block, and only the model's `final_norm` brings it back to
# scale at the end. The notebook [Pre-LN versus post-LN](pre-post-ln.py) measures it.

# %%
print(f"20 layers, no shortcut: first {plain20[0]:.1e}, last {plain20[-1]:.1e}")
print(f"20 layers, shortcut:    first {highway20[0]:.1f}, last {highway20[-1]:.0f}, smallest {min(highway20):.2f}")
print(f"20 layers, shortcut:    last / first = {highway20[-1] / highway20[0]:.0f}")
# the numbers the text above quotes
assert f"{plain20[0]:.1e}" == "3.8e-16" and round(highway20[-1] / highway20[0]) == 24
assert (f"{highway20[0]:.1f}", f"{highway20[-1]:.0f}", f"{min(highway20):.2f}") == ("3.4", "81", "0.35")
