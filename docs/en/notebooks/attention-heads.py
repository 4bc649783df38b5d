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
# # The attention heads
#
# The context analyst's detectives, each with its own table of weights. A real sentence goes
# through the GPT-2 tokenizer, which gives the labels of the axes; each token gets a random card
# (not GPT-2's), and a four-head `MultiHeadAttention` module
# computes, step by step as in [5. Causal multi-head attention](../attention.md), the attention
# weights of each head.
#
# The module is untrained: what each head looks at is chance. What is law is the triangle: in
# gray, the cells that the causal mask covers, because no token may look at the ones that come
# after it.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from gptblock import MultiHeadAttention, load_gpt2_tokenizer

sentence = "The robot picked up the apple because it was ripe"
try:
    tokenizer = load_gpt2_tokenizer()
    ids = tokenizer.encode(sentence)
    labels = [tokenizer.decode([i]) for i in ids]
except OSError:  # no tokenizer files and no internet: split by hand, one token per word
    labels = [(" " if n else "") + w for n, w in enumerate(sentence.split())]
num_tokens = len(labels)
print(num_tokens, "tokens:", labels)

# %% [markdown]
# ## Attention weights per head
#
# Cards of 16 numbers (random, multiplied by 3 so that the preferences show, as on the page), four
# heads of 4 numbers. Queries and keys are split into heads and multiplied, the future is covered
# with -∞, the scores are scaled by √4 and softmax is applied row by row.

# %%
torch.manual_seed(123)
emb_dim, num_heads = 16, 4
x = 3 * torch.randn(1, num_tokens, emb_dim)
mha = MultiHeadAttention(d_in=emb_dim, d_out=emb_dim, context_length=num_tokens, dropout=0.0,
                         num_heads=num_heads).eval()

with torch.no_grad():
    def split_heads(t):  # (1, T, emb_dim) -> (1, num_heads, T, head_dim)
        return t.view(1, num_tokens, num_heads, mha.head_dim).transpose(1, 2)

    queries, keys = split_heads(mha.W_query(x)), split_heads(mha.W_key(x))
    scores = (queries @ keys.transpose(2, 3)).masked_fill(mha.mask, -torch.inf)
    weights = torch.softmax(scores / mha.head_dim**0.5, dim=-1)[0]  # (num_heads, T, T)

print("rows sum to 1:", bool(torch.allclose(weights.sum(dim=-1), torch.ones(num_heads, num_tokens))))
print("future is zero:", bool((weights[:, mha.mask] == 0).all()))

# %% alt="Four heatmaps of attention weights, one per head; the triangle of the future, in gray"
fig, axes = plt.subplots(2, num_heads // 2, figsize=(6, 6.6), sharex=True, sharey=True)
cmap = plt.get_cmap("viridis").with_extremes(bad="lightgray")
future = mha.mask.numpy()
for head, ax in enumerate(axes.flat):
    shown = np.ma.masked_where(future, weights[head].numpy())
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    ax.set_title(f"Head {head}")
    ax.set_xticks(range(num_tokens), labels, rotation=90)
    ax.set_yticks(range(num_tokens), labels)
for ax in axes[-1]:
    ax.set_xlabel("looks at (key)")
for ax in axes[:, 0]:
    ax.set_ylabel("token asking (query)")
fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
plt.show()

# %% [markdown]
# Each row sums to 1. The first row has a single cell: the first token can only look at itself.
# The four heads spread their attention differently over the same tokens, because each has its
# own weights, random ones: here the patterns say nothing about the sentence. Trained, each
# detective learns to look for its own kind of relation; with GPT-2's cards and weights
# ([Loading the GPT-2 weights](../weights.md)), those patterns stop being chance.
