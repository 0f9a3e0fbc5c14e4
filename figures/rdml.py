"""Figures of [rdml] (Rényi divergence deep mutual learning), Sec. 2.

* ``rdml.fig1``: Fig. 1, the Rényi divergence of two-event distributions, exactly (analytic).
  Left: Q = (0.4, 0.6) fixed, P = (p, 1 - p), p in [0, 1]. Right: P = (0.4, 0.6) fixed,
  Q = (q, 1 - q), q in [0.001, 0.999] as in the paper. Orders: alpha = 0.5, 1 (KL, orange,
  dashed), 2, 10, 100. Our text copy of the paper names alpha = 10 and 100 and the dashed orange
  KL; the legend itself is not in the text, and 0.5 and 2 are the paper's usual orders (KL drawn
  second gives matplotlib's orange, as the caption says). As rdml.fig1_caption records, the
  alpha = 0.5 curve stays finite at q -> 0 and q -> 1 (it ends at log(1/0.6) and log(1/0.4)).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures import style
from figures._core import figure
from theory.rdml import renyi_divergence
from verify.rdml import FIG1_FIXED, PAPER_FIG1_ALPHAS


def fig1_data(n: int = 999) -> dict:
    """Curves of both panels: ``{"p": grid, "left": {alpha: D}, "q": grid, "right": {alpha: D}}``."""
    p = np.linspace(0.0, 1.0, n)
    q = np.linspace(0.001, 0.999, n)
    left_p = np.column_stack([p, 1 - p])
    right_q = np.column_stack([q, 1 - q])
    left = {a: renyi_divergence(left_p, FIG1_FIXED, a) for a in PAPER_FIG1_ALPHAS}
    right = {a: renyi_divergence(FIG1_FIXED, right_q, a) for a in PAPER_FIG1_ALPHAS}
    return {"p": p, "left": left, "q": q, "right": right}


@figure("rdml.fig1", title="Rényi divergence of two-event distributions; reproduces Fig. 1")
def fig1(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]:
    data = fig1_data(201 if quick else 1999)
    fig, axes = style.subplots(1, 2, height=2.6)
    colors = {0.5: "C0", 1.0: "C1", 2.0: "C2", 10.0: "C3", 100.0: "C4"}
    for ax, x, key, xlabel, title in (
        (axes[0, 0], data["p"], "left", r"$p$  ($P=(p,1-p)$, $Q=(0.4,0.6)$)", r"$D_\alpha(P\|Q)$, $Q$ fixed"),
        (axes[0, 1], data["q"], "right", r"$q$  ($P=(0.4,0.6)$, $Q=(q,1-q)$)", r"$D_\alpha(P\|Q)$, $P$ fixed"),
    ):
        for a in PAPER_FIG1_ALPHAS:
            label = "KL" if a == 1.0 else rf"$\alpha={a:g}$"
            ax.plot(x, data[key][a], color=colors[a], ls="--" if a == 1.0 else "-", label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(r"$D_\alpha(P\|Q)$")
        ax.set_title(title)
    axes[0, 1].set_xlim(0, 1)
    axes[0, 0].legend(loc="upper center")
    fig.suptitle("rdml.fig1 - reproduces Fig. 1 (alpha = 0.5, KL dashed, 2, 10, 100)", fontsize=8, y=1.04)
    return style.save(fig, out, "rdml_fig1", pdf=pdf)
