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
# # GELU frente a ReLU
#
# Dos porteros para las neuronas de la red *feed-forward*. ReLU deja en la puerta todo número
# negativo y deja pasar intacto todo positivo; GELU, la activación de GPT-2, gradúa cerca de cero.
# Este cuaderno dibuja las dos curvas y, sobre todo, sus **pendientes**, porque por la pendiente
# fluye el gradiente: donde la pendiente es 0, la neurona no aprende.
#
# Se ejecuta al construir el sitio; vuelve a [3. GELU y la red feed-forward](../feed-forward.md).

# %%
import matplotlib.pyplot as plt
import torch

from gptblock import GELU

x = torch.linspace(-4, 4, 401, requires_grad=True)
gelu = GELU()(x)
relu = torch.relu(x)

# The slopes, from autograd: d(sum f(x))/dx = f'(x) element by element
(gelu_slope,) = torch.autograd.grad(gelu.sum(), x)
(relu_slope,) = torch.autograd.grad(relu.sum(), x)

i_min = int(torch.argmin(gelu))
print(f"GELU min: {gelu[i_min].item():.4f} at x = {x[i_min].item():.2f}")
print(f"GELU slope at x = -1: {gelu_slope[150].item():.4f}   ReLU slope at x = -1: {relu_slope[150].item():.1f}")

# %% [markdown]
# ## Las curvas y sus pendientes
#
# A la izquierda, las dos funciones: lejos de cero casi coinciden. A la derecha, sus pendientes:
# la de ReLU salta de 0 a 1 en el origen y vale exactamente 0 para todo negativo; la de GELU es
# suave, se hace un poco negativa y solo se acerca a 0 muy lejos a la izquierda.

# %% alt="GELU y ReLU casi coinciden lejos de 0; la pendiente de ReLU salta de 0 a 1, la de GELU es suave"
xs = x.detach()
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6, 3.2))
ax1.plot(xs, gelu.detach(), label="GELU", color="tab:blue")
ax1.plot(xs, relu.detach(), label="ReLU", color="tab:orange", linestyle="--")
ax1.scatter([xs[i_min]], [gelu[i_min].item()], color="tab:blue", zorder=3)
ax1.set_title("Activación")
ax1.set_xlabel("x")
ax1.legend()
ax1.grid(alpha=0.3)

ax2.plot(xs, gelu_slope, label="GELU'", color="tab:blue")
ax2.plot(xs, relu_slope, label="ReLU'", color="tab:orange", linestyle="--")
ax2.set_title("Pendiente (derivada)")
ax2.set_xlabel("x")
ax2.legend()
ax2.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## La definición exacta y la aproximación
#
# La definición de GELU es x·Φ(x), con Φ la función de distribución de una
# normal estándar; GPT-2 usa la aproximación con tangente hiperbólica. Su diferencia, a lo largo de
# todo el eje, llega a unas 0,00047 como mucho (en x = 2,69): invisible en la primera gráfica, así que aquí se
# dibuja sola.

# %%
grid = torch.linspace(-6, 6, 12001)
exact = torch.nn.functional.gelu(grid)  # x·Φ(x), with erf
tanh_approx = GELU()(grid)  # the approximation GPT-2 was trained with
gap = tanh_approx - exact
i_gap = int(gap.abs().argmax())
print(f"largest gap: {gap[i_gap].item():+.5f} at x = {grid[i_gap].item():.2f}")
assert (f"{gap.abs().max().item():.5f}", f"{grid[i_gap].item():.2f}") == ("0.00047", "2.69")  # quoted above

# %% alt="GELU con tanh menos GELU exacta: una onda pequeña que se anula en 0 y lejos de 0"
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(grid, gap, color="tab:purple")
ax.axhline(0, color="gray", linewidth=0.8)
ax.set_title("GELU con tanh menos GELU exacta")
ax.set_xlabel("x")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
