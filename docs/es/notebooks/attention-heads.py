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
# # Las cabezas de atención
#
# Los detectives del analista de contexto, cada uno con su propia tabla de pesos. Una frase de
# verdad pasa por el tokenizador de GPT-2, que da las etiquetas de los ejes; cada token recibe una
# ficha al azar (no la de GPT-2), y un módulo
# `MultiHeadAttention` de cuatro cabezas calcula, paso a paso como en
# [5. Atención multicabezal causal](../attention.md), los pesos de atención de cada cabeza.
#
# El módulo no está entrenado: lo que cada cabeza mira es azar. Lo que sí es ley es el triángulo:
# en gris, las casillas que la máscara causal tapa, porque ningún token puede mirar a los que
# vienen detrás.

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
# ## Pesos de atención por cabeza
#
# Fichas de 16 números (al azar, multiplicadas por 3 para que las preferencias se noten, como en
# la página), cuatro cabezas de 4 números. Las consultas y las claves se dividen por cabezas, se
# multiplican, se tapa el futuro con -∞, se escala por √4 y se aplica softmax fila a fila.

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

# %% alt="Cuatro mapas de calor de pesos de atención, uno por cabeza; el triángulo del futuro, en gris"
fig, axes = plt.subplots(2, num_heads // 2, figsize=(6, 6.6), sharex=True, sharey=True)
cmap = plt.get_cmap("viridis").with_extremes(bad="lightgray")
future = mha.mask.numpy()
for head, ax in enumerate(axes.flat):
    shown = np.ma.masked_where(future, weights[head].numpy())
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    ax.set_title(f"Cabeza {head + 1}")
    ax.set_xticks(range(num_tokens), labels, rotation=90)
    ax.set_yticks(range(num_tokens), labels)
for ax in axes[-1]:
    ax.set_xlabel("mira a (clave)")
for ax in axes[:, 0]:
    ax.set_ylabel("token que pregunta (consulta)")
fig.colorbar(image, ax=axes, shrink=0.8, label="peso de atención")
plt.show()

# %% [markdown]
# Cada fila suma 1. La primera fila solo tiene una casilla: el primer token solo puede mirarse a
# sí mismo. Las cuatro cabezas reparten la atención de formas distintas sobre los mismos tokens,
# porque cada una tiene sus propios pesos, al azar: aquí los patrones no dicen nada de la frase.
# Entrenado, cada detective aprende a buscar su propio tipo de relación: lo vemos a continuación con
# el modelo pequeño de [9. Entrenar el modelo](../training.md). Con las fichas y los pesos de GPT-2
# ([Cargar los pesos de GPT-2](../weights.md)) pasaría lo mismo, a mayor escala.

# %% [markdown]
# ## Con el modelo entrenado
#
# El modelo de [Entrenar el modelo](../training.md) (cuatro bloques de cuatro cabezas, entrenado con
# el texto de este sitio) lee una frase del estilo de ese texto. Sus fichas y sus pesos ya no son
# azar. Cada bloque normaliza su entrada con `norm1` antes de la atención; un *hook* recoge esa
# entrada normalizada y los pesos de cada cabeza se calculan a partir de ella como arriba. La tabla
# resume cada cabeza con dos números, contados desde el tercer token: el peso que cada token se da a
# sí mismo y el mayor peso de cada fila, en promedio. Bloques y cabezas van numerados desde 1, como
# en el [explorador de atención](../attention-explorer.md).

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

# %% alt="Mapas de calor del modelo entrenado: una cabeza marca la diagonal, otra mira casi siempre a la «o»"
fig, axes = plt.subplots(2, 1, figsize=(5.2, 9.6), sharex=True)
future = np.triu(np.ones((T, T), dtype=bool), k=1)
for ax, (block, head) in zip(axes, [(self_block, self_head), (focus_block, focus_head)], strict=True):
    shown = np.ma.masked_where(future, trained[block, head].numpy())
    image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    ax.set_title(f"Bloque {block + 1}, cabeza {head + 1}")
    ax.set_xticks(range(T), trained_labels, rotation=90)
    ax.set_yticks(range(T), trained_labels)
    ax.set_ylabel("token que pregunta")
axes[-1].set_xlabel("mira a")
fig.colorbar(image, ax=axes, shrink=0.6, label="peso de atención")
plt.show()

# %% [markdown]
# Dos estilos que el entrenamiento ha dado a dos cabezas distintas (las pruebas afirman los dos
# umbrales). Arriba, la cabeza que más peso deja en el propio token, más de la mitad de media:
# la diagonal. Abajo, la cabeza más concentrada: casi todas sus filas ponen el peso en un solo token,
# el mismo para casi todas, la «o» con la que termina «modelo». Otras cabezas reparten el peso entre
# varios tokens. Son patrones de una frase y de un modelo de siete millones de parámetros entrenado
# en una CPU: el [explorador de atención](../attention-explorer.md) deja mirar cada bloque y cada
# cabeza sobre varias frases, en español y en inglés.
