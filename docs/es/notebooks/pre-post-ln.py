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
# # Pre-LN frente a post-LN
#
# El Transformer original pone el control de volumen **después** de la suma de cada atajo:
# x ← LN(x + f(x)) (post-LN). GPT-2 lo pone **antes** de cada subbloque,
# dentro de la rama, y deja la autopista sin tocar: x ← x + f(LN(x))
# (pre-LN), con una normalización más, `final_norm`, a la salida del último bloque. Es lo que hace
# `TransformerBlock` ([6. El bloque transformador](../transformer-block.md)).
#
# Este cuaderno monta las dos disposiciones con las mismas piezas: doce bloques aleatorios del
# tamaño de GPT-2 de 124M, sin entrenar, y los recorre con la misma entrada. Mide dos cosas por
# bloque: el tamaño del flujo residual (la raíz de la media de sus cuadrados) y el tamaño del
# gradiente que reciben los pesos de su red feed-forward.

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
# ## El tamaño del flujo residual
#
# En post-LN, el flujo sale de cada bloque recién normalizado: 1,00 siempre, por construcción. En
# pre-LN, cada bloque suma su salida a la autopista y nada la encoge: el flujo crece de 1,03 tras
# el primer bloque a 1,44 tras el duodécimo, y seguiría creciendo con más bloques. Por eso GPT-2
# necesita la `final_norm`: devuelve a escala lo que la cabeza de salida va a leer.

# %% alt="Por bloque: el flujo crece en pre-LN, se queda en 1 en post-LN; el gradiente de pre-LN baja, el de post-LN no"
blocks_axis = range(1, 13)
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.4, 6), sharex=True)
ax1.plot(blocks_axis, pre_sizes, marker="o", color="tab:blue", label="pre-LN (GPT-2)")
ax1.plot(blocks_axis, post_sizes, marker="s", color="tab:orange", label="post-LN")
ax1.set_ylabel("tamaño del flujo (RMS)")
ax1.grid(alpha=0.3)
ax1.legend()
ax2.plot(blocks_axis, pre_grads, marker="o", color="tab:blue", label="pre-LN (GPT-2)")
ax2.plot(blocks_axis, post_grads, marker="s", color="tab:orange", label="post-LN")
ax2.set_xlabel("bloque")
ax2.set_ylabel("|gradiente| de ff.layers[0]")
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
# ## El gradiente
#
# Con pesos aleatorios y doce bloques, ninguna disposición pierde el gradiente: el primer bloque
# recibe lo mismo en las dos, 0,248. En pre-LN baja hacia el final, hasta 0,176 en el bloque 12,
# porque la normalización de cada rama divide por un flujo cada vez más grande; en post-LN se queda
# plano, entre 0,244 y 0,257.

# %%
# the numbers the text above quotes
assert f"{pre_grads[0]:.3f}" == f"{post_grads[0]:.3f}" == "0.248" and f"{pre_grads[-1]:.3f}" == "0.176"
assert (f"{min(post_grads):.3f}", f"{max(post_grads):.3f}") == ("0.244", "0.257")

# %% [markdown]
# ## Por qué GPT-2 movió la normalización
#
# Esta foto, tomada antes de entrenar, no muestra un desastre en post-LN, y no hay que
# exagerarla. La diferencia aparece al entrenar. El artículo de GPT-2 cambia la disposición sin
# dar la razón; la da un trabajo posterior, *On Layer Normalization in the Transformer
# Architecture* (Xiong y otros): en post-LN, los gradientes de las últimas capas son grandes al
# empezar el entrenamiento, y hace falta un paso de aprendizaje pequeño que crezca poco a poco
# (*warm-up*) para no romper el modelo; en pre-LN, la autopista va de la salida a la entrada sin
# ninguna normalización en medio, el gradiente llega a cada bloque por un camino que no lo cambia
# (página [4. Conexiones de acceso directo](../shortcuts.md)), y el modelo entrena sin ese
# cuidado, también con muchos más bloques. El precio es el que muestra el primer gráfico: el flujo
# crece, y hace falta la `final_norm`.
