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
    ax.set_title(f"Cabeza {head}")
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
# Entrenado, cada detective aprende a buscar su propio tipo de relación; con las fichas y los pesos
# de GPT-2 ([Cargar los pesos de GPT-2](../weights.md)), esos patrones dejan de ser azar.
