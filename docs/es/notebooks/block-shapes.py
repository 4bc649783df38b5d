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
# # Formas dentro del bloque
#
# Un bloque transformador es como una oficina por la que pasan expedientes del mismo tamaño: cada
# especialista los lee, les añade notas y los devuelve con el mismo formato. Este cuaderno sigue al
# tensor de entrada `[2, 4, 768]` (2 secuencias, 4 tokens, 768 números por token) por cada paso del
# bloque de `gptblock` e imprime su forma. Solo la red *feed-forward* cambia la anchura por dentro:
# la expande a 4 · 768 = 3072 y la devuelve a 768.
#
# Este cuaderno se ejecuta al construir el sitio: las formas y el gráfico salen del código.

# %%
import matplotlib.pyplot as plt
import torch

from gptblock import GPT_CONFIG_124M, TransformerBlock

torch.manual_seed(123)
block = TransformerBlock(GPT_CONFIG_124M)
block.eval()  # sin dropout: el recorrido paso a paso debe dar lo mismo que block(x)
x = torch.rand(2, 4, 768)  # [batch_size, num_tokens, emb_dim]

# %% [markdown]
# ## El recorrido, paso a paso
#
# Los mismos pasos que `TransformerBlock.forward`, uno a uno, anotando la forma tras cada uno.

# %%
steps = []


def record(name, tensor):
    steps.append((name, list(tensor.shape)))
    return tensor


with torch.no_grad():
    h = record("x", x)
    shortcut = h  # conexión de acceso directo del subbloque de atención
    h = record("norm1", block.norm1(h))
    h = record("att", block.att(h))
    h = record("drop_shortcut", block.drop_shortcut(h))
    h = record("x + shortcut", h + shortcut)
    shortcut = h  # conexión de acceso directo del subbloque feed-forward
    h = record("norm2", block.norm2(h))
    h = record("ff.layers[0] Linear", block.ff.layers[0](h))
    h = record("ff.layers[1] GELU", block.ff.layers[1](h))
    h = record("ff.layers[2] Linear", block.ff.layers[2](h))
    h = record("drop_shortcut", block.drop_shortcut(h))
    h = record("x + shortcut", h + shortcut)

for name, shape in steps:
    print(f"{name:<22} {shape}")

# %% [markdown]
# El recorrido a mano y `block(x)` dan el mismo tensor:

# %%
with torch.no_grad():
    torch.testing.assert_close(h, block(x))
print("same output:", True)

# %% [markdown]
# ## Dentro de la atención
#
# El paso `att` esconde su propio recorrido. Las tres proyecciones dan tensores de `[2, 4, 768]`;
# cada uno se parte en 12 cabezas de 64 números y se reordena a `[2, 12, 4, 64]` (lote, cabeza,
# token, número), para que cada cabeza trabaje aparte. Las puntuaciones y los pesos de atención
# son `[2, 12, 4, 4]`: para cada cabeza, una tabla de 4 × 4 tokens, cada fila un token que mira a
# los de antes. Al final las cabezas se vuelven a juntar en `[2, 4, 768]` y `out_proj` las mezcla.
# Los pasos, los mismos que `MultiHeadAttention.forward`:

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
# ## La anchura de cada paso
#
# La última dimensión de la forma, paso a paso: 768 en todo el bloque salvo dentro de la red
# *feed-forward*, que la multiplica por cuatro y la devuelve.

# %% alt="Barras con la anchura de cada paso del bloque: 768 en todos salvo 3072 dentro de la red feed-forward"
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
