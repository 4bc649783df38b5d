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
# # GELU versus ReLU
#
# Two doormen for the neurons of the feed-forward network. ReLU keeps every negative number at the
# door and lets every positive one through untouched; GELU, GPT-2's activation, grades near zero.
# This notebook draws both curves and, above all, their **slopes**, because the gradient flows
# through the slope: where the slope is 0, the neuron does not learn.
#
# It runs when the site is built; back to [3. GELU and the feed-forward network](../feed-forward.md).

# %%
import matplotlib.pyplot as plt
import torch

from gptblock import GELU

x = torch.linspace(-4, 4, 401, requires_grad=True)
gelu = GELU()(x)
relu = torch.relu(x)

# The slopes, from autograd: d(sum f(x))/dx = f'(x) element by element
(gelu_slope,) = torch.autograd.grad(gelu.sum(), x)
(relu_slope,) = torch.autograd.grad(relu.sum(), x)

i_min = int(torch.argmin(gelu))
print(f"GELU min: {gelu[i_min].item():.4f} at x = {x[i_min].item():.2f}")
print(f"GELU slope at x = -1: {gelu_slope[150].item():.4f}   ReLU slope at x = -1: {relu_slope[150].item():.1f}")

# %% [markdown]
# ## The curves and their slopes
#
# On the left, the two functions: far from zero they almost coincide. On the right, their slopes:
# ReLU's jumps from 0 to 1 at the origin and is exactly 0 for every negative number; GELU's is
# smooth, dips slightly below zero and only approaches 0 far to the left.

# %% alt="GELU and ReLU almost coincide away from 0; ReLU's slope jumps from 0 to 1, GELU's is smooth"
xs = x.detach()
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6, 3.2))
ax1.plot(xs, gelu.detach(), label="GELU", color="tab:blue")
ax1.plot(xs, relu.detach(), label="ReLU", color="tab:orange", linestyle="--")
ax1.scatter([xs[i_min]], [gelu[i_min].item()], color="tab:blue", zorder=3)
ax1.set_title("Activation")
ax1.set_xlabel("x")
ax1.legend()
ax1.grid(alpha=0.3)

ax2.plot(xs, gelu_slope, label="GELU'", color="tab:blue")
ax2.plot(xs, relu_slope, label="ReLU'", color="tab:orange", linestyle="--")
ax2.set_title("Slope (derivative)")
ax2.set_xlabel("x")
ax2.legend()
ax2.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The exact definition and the approximation
#
# GELU's definition is x·Φ(x), with Φ the distribution function of a
# standard normal; GPT-2 uses the approximation with the hyperbolic tangent. Their difference,
# along the whole axis, peaks at about 0.00047 (at x = 2.69): invisible in the first plot, so here it
# is drawn on its own.

# %%
grid = torch.linspace(-6, 6, 12001)
exact = torch.nn.functional.gelu(grid)  # x·Φ(x), with erf
tanh_approx = GELU()(grid)  # the approximation GPT-2 was trained with
gap = tanh_approx - exact
i_gap = int(gap.abs().argmax())
print(f"largest gap: {gap[i_gap].item():+.5f} at x = {grid[i_gap].item():.2f}")
assert (f"{gap.abs().max().item():.5f}", f"{grid[i_gap].item():.2f}") == ("0.00047", "2.69")  # quoted above

# %% alt="Tanh GELU minus exact GELU: a small wave that vanishes at 0 and far from 0"
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(grid, gap, color="tab:purple")
ax.axhline(0, color="gray", linewidth=0.8)
ax.set_title("tanh GELU minus exact GELU")
ax.set_xlabel("x")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
