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
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from gptblock import MultiHeadAttention, load_checkpoint, load_gpt2_tokenizer

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
    ax.set_title(f"Head {head + 1}")
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
# detective learns to look for its own kind of relation: we see it next with the small model of
# [9. Training the model](../training.md). With GPT-2's cards and weights
# ([Loading the GPT-2 weights](../weights.md)) the same would happen, on a larger scale.

# %% [markdown]
# ## With the trained model
#
# The model of [Training the model](../training.md) (four blocks of four heads, trained on this
# site's text) reads a sentence in the style of that text. Its cards and its weights are no longer
# random. Each block normalizes its input with `norm1` before attention; a *hook* collects that
# normalized input, and each head's weights are computed from it as above. The table sums up each
# head with two numbers, counted from the third token on: the weight each token gives itself and the
# largest weight of each row, on average. Blocks and heads are numbered from 1, as in the [attention
# explorer](../attention-explorer.md).

# %%
def find_in_repository(relative: str) -> Path:
    """The file at ``relative`` in this repository, found from wherever the notebook runs."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / relative).is_file():
            return folder / relative
    raise FileNotFoundError(f"{relative} is not in {Path.cwd()} or any folder above it")


model = load_checkpoint(find_in_repository("training/model.safetensors")).float().eval()
tokenizer = load_gpt2_tokenizer()
trained_ids = tokenizer.encode("El modelo predice el siguiente token.")
trained_labels = [tokenizer.decode([i]) for i in trained_ids]
T = len(trained_ids)
print(T, "tokens:", trained_labels)

normed = {}  # block number -> what its attention reads: norm1's output, (1, T, emb_dim)
hooks = [block.norm1.register_forward_hook(lambda module, args, out, n=n: normed.__setitem__(n, out))
         for n, block in enumerate(model.trf_blocks)]
with torch.no_grad():
    model(torch.tensor([trained_ids]))
for hook in hooks:
    hook.remove()


@torch.no_grad()
def head_weights(att, x):  # (1, T, emb_dim) -> (num_heads, T, T), as att's explicit path computes them
    def split(t):
        return t.view(1, T, att.num_heads, att.head_dim).transpose(1, 2)

    scores = split(att.W_query(x)) @ split(att.W_key(x)).transpose(2, 3)
    scores = scores.masked_fill(att.mask[:T, :T], -torch.inf)
    return torch.softmax(scores / att.head_dim**0.5, dim=-1)[0]


trained = torch.stack([head_weights(block.att, normed[n]) for n, block in enumerate(model.trf_blocks)])
print("weights:", tuple(trained.shape), "= (blocks, heads, T, T)")

later = slice(2, None)  # rows from the third token on: a row with one or two tokens has little choice
on_itself = trained.diagonal(dim1=-2, dim2=-1)[..., later].mean(-1)  # (blocks, heads)
largest = trained.amax(dim=-1)[..., later].mean(-1)  # each row's largest weight, on average
print("block head  on itself  largest")  # numbered from 1, as in the attention explorer
for block in range(trained.shape[0]):
    for head in range(trained.shape[1]):
        print(f"{block + 1:>5} {head + 1:>4} {on_itself[block, head]:>10.2f} {largest[block, head]:>8.2f}")
self_block, self_head = divmod(int(on_itself.argmax()), trained.shape[1])
focus_block, focus_head = divmod(int(largest.argmax()), trained.shape[1])
print("most on itself: block", self_block + 1, "head", self_head + 1)
print("most focused:   block", focus_block + 1, "head", focus_head + 1,
      "-> looks at", [trained_labels[j] for j in trained[focus_block, focus_head].argmax(-1).tolist()])
assert on_itself[self_block, self_head] > 0.5 and largest[focus_block, focus_head] > 0.8
assert (self_block, self_head) != (focus_block, focus_head)

# %% alt="Trained model heat maps: one head marks the diagonal, another looks almost always at the «o»"
fig, axes = plt.subplots(2, 1, figsize=(5.2, 9.6), sharex=True)
future = np.triu(np.ones((T, T), dtype=bool), k=1)
for ax, (block, head) in zip(axes, [(self_block, self_head), (focus_block, focus_head)], strict=True):
    shown = np.ma.masked_where(future, trained[block, head].numpy())
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    ax.set_title(f"Block {block + 1}, head {head + 1}")
    ax.set_xticks(range(T), trained_labels, rotation=90)
    ax.set_yticks(range(T), trained_labels)
    ax.set_ylabel("token asking")
axes[-1].set_xlabel("looks at")
fig.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
plt.show()

# %% [markdown]
# Two styles that training has given two different heads (the tests assert both thresholds). At the
# top, the head that leaves the most weight on the token itself, more than half on average: the
# diagonal. At the bottom, the most focused head: almost all of its rows put their weight on a single
# token, the same one for almost all of them, the «o» that ends «modelo». Other heads spread their
# weight over several tokens. These are patterns of one sentence and of a seven-million-parameter
# model trained on a CPU: the [attention explorer](../attention-explorer.md) lets you look
# at every block and every head over several sentences, in Spanish and in English.
