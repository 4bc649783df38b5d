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
# # Means and variances before and after LayerNorm
#
# The volume control, seen from afar. Eight tokens arrive at very different volumes: some whisper
# (variance near 0), others shout (variance in the thousands) and each one is shifted its own way.
# `LayerNorm` brings them all to mean 0 and variance 1, without changing the shape of the tensor.
#
# It runs when the site is built; back to [2. Layer normalization](../layer-norm.md).

# %%
import matplotlib.pyplot as plt
import torch

from gptblock import LayerNorm

torch.manual_seed(123)
num_tokens, emb_dim = 8, 768
scales = torch.logspace(-1, 2, num_tokens).unsqueeze(1)  # from 0.1 to 100
offsets = torch.linspace(-20, 20, num_tokens).unsqueeze(1)
x = torch.randn(num_tokens, emb_dim) * scales + offsets  # (num_tokens, emb_dim)

norm = LayerNorm(emb_dim)
with torch.no_grad():
    y = norm(x)

before_mean, before_var = x.mean(dim=-1).numpy(), x.var(dim=-1, unbiased=False).numpy()
after_mean, after_var = y.mean(dim=-1).numpy(), y.var(dim=-1, unbiased=False).numpy()
print(f"{'token':>5} {'mean before':>12} {'var before':>12} {'mean after':>11} {'var after':>10}")
for t in range(num_tokens):
    print(f"{t:>5} {before_mean[t]:>12.3f} {before_var[t]:>12.3f} "
          f"{round(float(after_mean[t]), 3) + 0.0:>11.3f} {after_var[t]:>10.3f}")

# %% [markdown]
# ## Before and after, token by token
#
# At the top, the input: each token has its own mean and its own variance (on a logarithmic
# scale: from about 0.01 to 10,000). At the bottom, the output of `LayerNorm`: every mean at 0 and
# every variance at 1. Almost: the most whispering token stays at 0.999, because with a variance
# of 0.01 the cushion ε = 10⁻⁵ in the denominator starts to show.

# %%
# The numbers the text quotes, checked:
assert round(float(before_var[0]), 2) == 0.01 and round(float(before_var[-1]), -4) == 10_000
assert round(float(after_var[0]), 3) == 0.999 and norm.eps == 1e-5

# %% alt="Four charts per token: scattered means and variances before LayerNorm; after it, means 0 and variances 1"
tokens = range(num_tokens)
fig, axes = plt.subplots(2, 2, figsize=(6.4, 4.8), sharex=True)
axes[0, 0].bar(tokens, before_mean, color="tab:gray")
axes[0, 0].set_title("Mean before")
axes[0, 1].bar(tokens, before_var, color="tab:gray")
axes[0, 1].set_yscale("log")
axes[0, 1].set_title("Variance before (log scale)")
axes[1, 0].axhline(0, color="tab:gray", linewidth=0.8)
axes[1, 0].plot(tokens, after_mean, "o", color="tab:blue")  # bars of height 0 would not show
axes[1, 0].set_ylim(-1, 1)
axes[1, 0].set_title("Mean after")
axes[1, 1].bar(tokens, after_var, color="tab:blue")
axes[1, 1].set_ylim(0, 1.5)
axes[1, 1].set_title("Variance after")
for ax in axes[1]:
    ax.set_xlabel("token")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What does not change: the pattern of each vector
#
# Normalizing does not erase information: each vector keeps its pattern, only its scale and
# position change. The first 60 numbers of the loudest token, before (in hundreds) and after (in
# units): the same silhouette, with another vertical axis.

# %% alt="Token 7 before (in hundreds) and after LayerNorm (in units): the same silhouette on another scale"
loud = num_tokens - 1
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6, 4.5), sharex=True)
ax1.plot(x[loud, :60], color="tab:gray")
ax1.set_title(f"Token {loud}, before")
ax2.plot(y[loud, :60], color="tab:blue")
ax2.set_title(f"Token {loud}, after LayerNorm")
for ax in (ax1, ax2):
    ax.set_xlabel("position inside the vector")
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
