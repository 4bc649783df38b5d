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
# # Medias y varianzas antes y después de LayerNorm
#
# El control de volumen, visto de lejos. Ocho tokens llegan con volúmenes muy distintos: unos
# susurran (varianza cercana a 0), otros gritan (varianza de miles) y cada uno está desplazado a
# su manera. `LayerNorm` los deja a todos en media 0 y varianza 1, sin cambiar la forma del tensor.
#
# Se ejecuta al construir el sitio; vuelve a [2. Normalización de capas](../layer-norm.md).

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
# ## Antes y después, token a token
#
# Arriba, la entrada: cada token tiene su propia media y su propia varianza (en escala
# logarítmica: del orden de 0,01 a 10 000). Abajo, la salida de `LayerNorm`: todas las medias en
# 0 y todas las varianzas en 1. Casi: el token que más susurra se queda en 0,999, porque con una
# varianza de 0,01 el colchón ε = 10⁻⁵ del denominador ya se nota.

# %%
# Los números que cita el texto, comprobados:
assert round(float(before_var[0]), 2) == 0.01 and round(float(before_var[-1]), -4) == 10_000
assert round(float(after_var[0]), 3) == 0.999 and norm.eps == 1e-5

# %% alt="Cuatro gráficos por token: medias y varianzas dispares antes de LayerNorm; después, medias 0 y varianzas 1"
tokens = range(num_tokens)
fig, axes = plt.subplots(2, 2, figsize=(6.4, 4.8), sharex=True)
axes[0, 0].bar(tokens, before_mean, color="tab:gray")
axes[0, 0].set_title("Media antes")
axes[0, 1].bar(tokens, before_var, color="tab:gray")
axes[0, 1].set_yscale("log")
axes[0, 1].set_title("Varianza antes (escala log)")
axes[1, 0].axhline(0, color="tab:gray", linewidth=0.8)
axes[1, 0].plot(tokens, after_mean, "o", color="tab:blue")  # bars of height 0 would not show
axes[1, 0].set_ylim(-1, 1)
axes[1, 0].set_title("Media después")
axes[1, 1].bar(tokens, after_var, color="tab:blue")
axes[1, 1].set_ylim(0, 1.5)
axes[1, 1].set_title("Varianza después")
for ax in axes[1]:
    ax.set_xlabel("token")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Lo que no cambia: el dibujo de cada vector
#
# Normalizar no borra la información: cada vector conserva su dibujo, solo cambia de escala y de
# posición. Los primeros 60 números del token que más grita, antes (en cientos) y después (en
# unidades): la misma silueta, con otro eje vertical.

# %% alt="El token 7 antes (en cientos) y después de LayerNorm (en unidades): la misma silueta en otra escala"
loud = num_tokens - 1
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6, 4.5), sharex=True)
ax1.plot(x[loud, :60], color="tab:gray")
ax1.set_title(f"Token {loud}, antes")
ax2.plot(y[loud, :60], color="tab:blue")
ax2.set_title(f"Token {loud}, después de LayerNorm")
for ax in (ax1, ax2):
    ax.set_xlabel("posición dentro del vector")
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
