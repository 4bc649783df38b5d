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
# # Pre-LN versus post-LN
#
# The original Transformer puts the volume control **after** the addition of each shortcut:
# x ← LN(x + f(x)) (post-LN). GPT-2 puts it **before** each sub-block,
# inside the branch, and leaves the highway untouched: x ← x + f(LN(x))
# (pre-LN), with one more normalization, `final_norm`, at the exit of the last block. That is what
# `TransformerBlock` does ([6. The transformer block](../transformer-block.md)).
#
# This notebook builds both arrangements from the same pieces: twelve random blocks the size of
# the 124M GPT-2, untrained, and runs them on the same input. It measures two things per block:
# the size of the residual stream (the root of the mean of its squares) and the size of the
# gradient that the weights of its feed-forward network get.

# %%
import matplotlib.pyplot as plt
import torch

from gptblock import GPT_CONFIG_124M, LayerNorm, TransformerBlock

torch.manual_seed(123)
blocks = [TransformerBlock(GPT_CONFIG_124M).eval() for _ in range(12)]  # random, untrained
final_norm = LayerNorm(GPT_CONFIG_124M["emb_dim"])
x = torch.randn(1, 8, 768)  # [batch, tokens, emb_dim], variance 1
target = torch.randn(1, 8, 768)


def pre_ln(block, x):
    return block(x)  # GPT-2: x + f(LN(x)), twice


def post_ln(block, x):
    x = block.norm1(x + block.drop_shortcut(block.att(x)))  # LN(x + f(x))
    return block.norm2(x + block.drop_shortcut(block.ff(x)))


def run(arrangement):
    """Residual-stream size after each block, and each block's weight-gradient size."""
    for block in blocks:
        block.zero_grad()
    h, sizes = x, []
    for block in blocks:
        h = arrangement(block, h)
        sizes.append(h.pow(2).mean().sqrt().item())  # root mean square of the stream
    out = final_norm(h) if arrangement is pre_ln else h  # post-LN ends normalized already
    torch.nn.functional.mse_loss(out, target).backward()
    grads = [block.ff.layers[0].weight.grad.norm().item() for block in blocks]
    return sizes, grads


pre_sizes, pre_grads = run(pre_ln)
post_sizes, post_grads = run(post_ln)
print("block   stream pre-LN  post-LN   gradient pre-LN  post-LN")
for i in range(12):
    print(f"{i + 1:>5}   {pre_sizes[i]:>13.2f}  {post_sizes[i]:>7.2f}   {pre_grads[i]:>15.3f}  {post_grads[i]:>7.3f}")

# %% [markdown]
# ## The size of the residual stream
#
# In post-LN, the stream leaves each block freshly normalized: 1.00 always, by construction. In
# pre-LN, each block adds its output to the highway and nothing shrinks it: the stream grows from
# 1.03 after the first block to 1.44 after the twelfth, and would keep growing with more blocks.
# That is why GPT-2 needs the `final_norm`: it brings back to scale what the output head is about
# to read.

# %% alt="Per block: the stream grows in pre-LN, stays at 1 in post-LN; the pre-LN gradient falls, post-LN's does not"
blocks_axis = range(1, 13)
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.4, 6), sharex=True)
ax1.plot(blocks_axis, pre_sizes, marker="o", color="tab:blue", label="pre-LN (GPT-2)")
ax1.plot(blocks_axis, post_sizes, marker="s", color="tab:orange", label="post-LN")
ax1.set_ylabel("stream size (RMS)")
ax1.grid(alpha=0.3)
ax1.legend()
ax2.plot(blocks_axis, pre_grads, marker="o", color="tab:blue", label="pre-LN (GPT-2)")
ax2.plot(blocks_axis, post_grads, marker="s", color="tab:orange", label="post-LN")
ax2.set_xlabel("block")
ax2.set_ylabel("|gradient| of ff.layers[0]")
ax2.set_ylim(bottom=0)
ax2.grid(alpha=0.3)
ax2.legend()
fig.tight_layout()
plt.show()

# %%
# the numbers the text above quotes
assert {f"{s:.2f}" for s in post_sizes} == {"1.00"}
assert (f"{pre_sizes[0]:.2f}", f"{pre_sizes[-1]:.2f}") == ("1.03", "1.44")

# %% [markdown]
# ## The gradient
#
# With random weights and twelve blocks, neither arrangement loses the gradient: the first block
# gets the same in both, 0.248. In pre-LN it falls toward the end, down to 0.176 at block 12,
# because the normalization of each branch divides by an ever larger stream; in post-LN it stays
# flat, between 0.244 and 0.257.

# %%
# the numbers the text above quotes
assert f"{pre_grads[0]:.3f}" == f"{post_grads[0]:.3f}" == "0.248" and f"{pre_grads[-1]:.3f}" == "0.176"
assert (f"{min(post_grads):.3f}", f"{max(post_grads):.3f}") == ("0.244", "0.257")

# %% [markdown]
# ## Why GPT-2 moved the normalization
#
# This snapshot, taken before training, shows no disaster in post-LN, and it should not be
# overstated. The difference shows up in training. The GPT-2 paper changes the arrangement without
# giving the reason; a later work gives it, *On Layer Normalization in the Transformer
# Architecture* (Xiong et al.): in post-LN, the gradients of the last layers are large when
# training starts, and a small learning rate that grows little by little (*warm-up*) is needed not
# to break the model; in pre-LN, the highway goes from the output to the input with no
# normalization in between, the gradient reaches each block along a path that does not change it
# (page [4. Shortcut connections](../shortcuts.md)), and the model trains without that care, also
# with many more blocks. The price is the one the first plot shows: the stream grows, and the
# `final_norm` is needed.
