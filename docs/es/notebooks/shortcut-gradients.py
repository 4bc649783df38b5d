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
# # Gradientes con y sin atajos
#
# El teléfono descompuesto, medido. La señal de corrección (el gradiente) nace en la última capa y
# viaja hacia atrás; sin atajos se apaga capa a capa, con atajos llega entera. Este cuaderno repite
# el experimento de [4. Conexiones de acceso directo](../shortcuts.md) —la misma pila y la misma
# semilla— y lo dibuja en escala logarítmica, y después lo repite con una pila de 20 capas.

# %%
from itertools import pairwise

import matplotlib.pyplot as plt
import torch
from torch import nn

from gptblock import GELU


class DeepStack(nn.Module):
    def __init__(self, layer_sizes, use_shortcut):
        super().__init__()
        self.use_shortcut = use_shortcut
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Linear(n_in, n_out), GELU())
            for n_in, n_out in pairwise(layer_sizes)
        )

    def forward(self, x):
        for layer in self.layers:
            out = layer(x)
            if self.use_shortcut and out.shape == x.shape:
                x = x + out  # shortcut: the input travels on untouched
            else:
                x = out
        return x


def mean_gradients(model):
    x = torch.tensor([[1.0, 0.0, -1.0]])
    target = torch.tensor([[0.0]])
    loss = nn.functional.mse_loss(model(x), target)
    loss.backward()
    return [layer[0].weight.grad.abs().mean().item() for layer in model.layers]


def compare(depth):
    layer_sizes = [3] * depth + [1]
    torch.manual_seed(123)
    plain = mean_gradients(DeepStack(layer_sizes, use_shortcut=False))
    torch.manual_seed(123)
    highway = mean_gradients(DeepStack(layer_sizes, use_shortcut=True))
    return plain, highway


plain9, highway9 = compare(9)
print("layer   no shortcut   shortcut")
for i, (g_plain, g_highway) in enumerate(zip(plain9, highway9, strict=True)):
    print(f"{i:>5}   {g_plain:>11.2e}   {g_highway:>8.2e}")

# %% [markdown]
# ## Nueve capas
#
# Los mismos números que en la página. Sin atajos, el gradiente medio cae unas dieciocho mil veces
# entre la última capa y la primera; con atajos, ninguna capa se apaga.

# %% alt="Gradiente medio por capa, escala log: sin atajos se desvanece hacia la primera capa; con atajos, no"
def plot(ax, plain, highway, title):
    layers = range(len(plain))
    ax.semilogy(layers, plain, marker="o", color="tab:red", label="sin atajos")
    ax.semilogy(layers, highway, marker="o", color="tab:green", label="con atajos")
    ax.set_xlabel("capa (0 = la primera)")
    ax.set_ylabel("media de |gradiente| de los pesos")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()


plain20, highway20 = compare(20)
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6, 6.5))
plot(ax1, plain9, highway9, "9 capas")
plot(ax2, plain20, highway20, "20 capas")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Veinte capas
#
# Con más capas la fila es más larga y el susurro se pierde del todo: sin atajos, la primera capa
# recibe 3,8 × 10⁻¹⁶, nada que un paso de aprendizaje pueda usar. Con atajos, la autopista sigue
# llevando el mensaje hasta el principio, aunque no con el mismo volumen en todas las capas: la
# primera recibe 3,4, la última 81 (24 veces más) y la que menos, 0,35. Una diferencia de decenas
# de veces, no de billones: ninguna capa se queda sin señal.
#
# Con atajos, los valores absolutos crecen con la profundidad: cada capa suma algo a lo que ya
# traía la autopista. En GPT-2 pasa lo mismo. Sus controles de volumen, `norm1` y `norm2`, están
# a la entrada de cada subbloque (pre-LN) y no tocan la autopista: el flujo residual crece de
# bloque en bloque, y solo la `final_norm` del modelo lo devuelve a su escala al final. El
# cuaderno [Pre-LN frente a post-LN](pre-post-ln.py) lo mide.

# %%
print(f"20 layers, no shortcut: first {plain20[0]:.1e}, last {plain20[-1]:.1e}")
print(f"20 layers, shortcut:    first {highway20[0]:.1f}, last {highway20[-1]:.0f}, smallest {min(highway20):.2f}")
print(f"20 layers, shortcut:    last / first = {highway20[-1] / highway20[0]:.0f}")
# the numbers the text above quotes
assert f"{plain20[0]:.1e}" == "3.8e-16" and round(highway20[-1] / highway20[0]) == 24
assert (f"{highway20[0]:.1f}", f"{highway20[-1]:.0f}", f"{min(highway20):.2f}") == ("3.4", "81", "0.35")
