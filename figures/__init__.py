"""Figures: one module per paper, one registered function per figure or table.

A figure function is registered with :func:`kdtheory.figures.figure` under its id
(``<paper>.fig<N>``, ``<paper>.table<N>``, or a short name for figures the
papers lack), takes the output folder and ``quick``/``pdf``/``seed``, draws
with the shared style of :mod:`kdtheory.figures.style` (Agg backend, paper-column
size) and returns the paths it wrote. Titles say "reproduces Fig. N" or
"analogue of Fig. N (...)". ``kdt figures`` and ``python -m kdtheory.figures`` list and
make them.
"""

from kdtheory.figures._core import FIGURES, FigureSpec, figure, figure_specs, make_figure

__all__ = ["FIGURES", "FigureSpec", "figure", "figure_specs", "make_figure"]
