"""One plotting style for every figure: Agg backend, paper-column size, readable fonts."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLUMN_WIDTH = 3.4  # inches, one column of a two-column paper
FULL_WIDTH = 7.0

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
}


def subplots(nrows: int = 1, ncols: int = 1, *, width: float | None = None, height: float | None = None, **kw):
    """``plt.subplots`` in the house style; width defaults to a column (one panel) or the page."""
    plt.rcParams.update(RC)
    width = width or (COLUMN_WIDTH if ncols == 1 else FULL_WIDTH)
    height = height or 2.4 * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kw)


def save(fig, out: Path, name: str, *, pdf: bool = False) -> list[Path]:
    """Write ``out/name.png`` (and ``.pdf`` on request), close the figure, return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.png"]
    if pdf:
        paths.append(out / f"{name}.pdf")
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    return paths


def save_table(markdown: str, out: Path, name: str) -> list[Path]:
    """Write a Markdown table to ``out/name.md`` and return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.md"
    path.write_text(markdown.rstrip() + "\n")
    return [path]
