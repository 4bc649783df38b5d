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
# # Shapes inside the block
#
# A transformer block is like an office that files of one size pass through: each specialist reads
# them, adds notes and hands them back in the same format. This notebook follows the input tensor
# `[2, 4, 768]` (2 sequences, 4 tokens, 768 numbers per token) through each step of the `gptblock`
# block and prints its shape. Only the feed-forward network changes the width inside: it expands
# it to 4 · 768 = 3072 and brings it back to 768.
#
# This notebook runs when the site is built: the shapes and the plot come from the code.

# %%
import matplotlib.pyplot as plt
import torch

from gptblock import GPT_CONFIG_124M, TransformerBlock

torch.manual_seed(123)
block = TransformerBlock(GPT_CONFIG_124M)
block.eval()  # no dropout: the step-by-step walk must give the same as block(x)
x = torch.rand(2, 4, 768)  # [batch_size, num_tokens, emb_dim]

# %% [markdown]
# ## The walk, step by step
#
# The same steps as `TransformerBlock.forward`, one by one, noting the shape after each.

# %%
steps = []


def record(name, tensor):
    steps.append((name, list(tensor.shape)))
    return tensor


with torch.no_grad():
    h = record("x", x)
    shortcut = h  # shortcut connection of the attention sub-block
    h = record("norm1", block.norm1(h))
    h = record("att", block.att(h))
    h = record("drop_shortcut", block.drop_shortcut(h))
    h = record("x + shortcut", h + shortcut)
    shortcut = h  # shortcut connection of the feed-forward sub-block
    h = record("norm2", block.norm2(h))
    h = record("ff.layers[0] Linear", block.ff.layers[0](h))
    h = record("ff.layers[1] GELU", block.ff.layers[1](h))
    h = record("ff.layers[2] Linear", block.ff.layers[2](h))
    h = record("drop_shortcut", block.drop_shortcut(h))
    h = record("x + shortcut", h + shortcut)

for name, shape in steps:
    print(f"{name:<22} {shape}")

# %% [markdown]
# The walk by hand and `block(x)` give the same tensor:

# %%
with torch.no_grad():
    torch.testing.assert_close(h, block(x))
print("same output:", True)

# %% [markdown]
# ## Inside attention
#
# The `att` step hides a journey of its own. The three projections give `[2, 4, 768]` tensors;
# each is split into 12 heads of 64 numbers and reordered to `[2, 12, 4, 64]` (batch, head, token,
# number), so that each head works on its own. The scores and the attention weights are
# `[2, 12, 4, 4]`: for each head, a table of 4 × 4 tokens, each row a token looking at the ones
# before it. At the end the heads are merged back into `[2, 4, 768]` and `out_proj` mixes them.
# The steps, the same as `MultiHeadAttention.forward`:

# %%
att = block.att
inner = []
with torch.no_grad():
    a = block.norm1(x)  # what att receives: [2, 4, 768]
    b, num_tokens, _ = a.shape
    queries = att.W_query(a)
    inner.append(("W_query(x)", list(queries.shape)))
    queries = queries.view(b, num_tokens, att.num_heads, att.head_dim).transpose(1, 2)
    keys = att.W_key(a).view(b, num_tokens, att.num_heads, att.head_dim).transpose(1, 2)
    values = att.W_value(a).view(b, num_tokens, att.num_heads, att.head_dim).transpose(1, 2)
    inner.append(("queries, keys, values", list(queries.shape)))
    scores = queries @ keys.transpose(2, 3)
    inner.append(("queries @ keys^T", list(scores.shape)))
    scores = scores.masked_fill(att.mask[:num_tokens, :num_tokens], -torch.inf)
    weights = torch.softmax(scores / att.head_dim**0.5, dim=-1)
    inner.append(("attention weights", list(weights.shape)))
    context = weights @ values
    inner.append(("weights @ values", list(context.shape)))
    context = context.transpose(1, 2).contiguous().view(b, num_tokens, att.d_out)
    inner.append(("heads merged", list(context.shape)))
    out = att.out_proj(context)
    inner.append(("out_proj", list(out.shape)))
    torch.testing.assert_close(out, att(a))  # the same as the module

for name, shape in inner:
    print(f"{name:<22} {shape}")
# the shapes the text above quotes
assert dict(inner)["queries, keys, values"] == [2, 12, 4, 64] and dict(inner)["attention weights"] == [2, 12, 4, 4]

# %% [markdown]
# ## The width at each step
#
# The last dimension of the shape, step by step: 768 throughout the block except inside the
# feed-forward network, which multiplies it by four and brings it back.

# %% alt="Bars with the width of each step of the block: 768 everywhere but 3072 inside the feed-forward network"
labels = [name for name, _ in steps]
widths = [shape[-1] for _, shape in steps]
fig, ax = plt.subplots(figsize=(6, 4))
bars = ax.barh(range(len(steps)), widths, color=["tab:orange" if w > 768 else "tab:blue" for w in widths])
ax.bar_label(bars, padding=3)
ax.set_yticks(range(len(steps)), labels)
ax.invert_yaxis()
ax.set_xlabel("shape[-1]")
ax.set_xlim(0, 3600)
ax.set_title("TransformerBlock: [2, 4, 768] -> [2, 4, 768]")
fig.tight_layout()
plt.show()
