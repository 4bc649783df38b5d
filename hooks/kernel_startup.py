"""Run by the Jupyter kernel before the first cell of every notebook the site executes.

``hooks/site_env.py`` points ``PYTHONSTARTUP`` at this file, and IPython runs that file when a kernel
starts. It is not a MkDocs hook and prints nothing; a change to it executes the notebooks again
(``hooks/notebook_pages.py`` names the notebook cache after it).

Figures are drawn at 2x ("retina"): sharp text on high-density screens, while the ``<img>`` keeps the
1x size in its ``width`` and ``height``. With 12 pt text, a figure drawn as wide as the text column
stays legible when a phone shrinks it to about half.
"""

import matplotlib
from IPython import get_ipython

get_ipython().run_line_magic("config", 'InlineBackend.figure_formats = ["retina"]')
matplotlib.rcParams.update({"figure.dpi": 100, "font.size": 12})
