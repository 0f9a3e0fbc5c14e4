"""One plotting style for every figure: Agg backend, paper-column size, readable fonts.

Every figure is laid out by Matplotlib's constrained-layout engine, which reserves room for
the suptitle (:func:`title`), panel titles, axis labels, legends placed outside axes and the
caption under the panels (:func:`caption`), so none of them overlap. Do not call
``tight_layout`` or place text with ``fig.text`` at hand-picked coordinates.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["COLUMN_WIDTH", "FULL_WIDTH", "RC", "subplots", "title", "caption", "save", "save_table"]

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
    """``plt.subplots`` in the house style with constrained layout; width defaults to a column
    (one panel) or the page."""
    plt.rcParams.update(RC)
    width = width or (COLUMN_WIDTH if ncols == 1 else FULL_WIDTH)
    height = height or 2.4 * nrows
    kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kw)


def _chars_per_line(fig, fontsize: float) -> int:
    """How many characters of ``fontsize`` points fit across the figure (average glyph ~0.5 em)."""
    return max(30, int(fig.get_figwidth() * 72 / (0.5 * fontsize)))


def title(fig, text: str, *, fontsize: float = 8) -> None:
    """The figure's title ("reproduces Fig. N" / "analogue of Fig. N (...)"), wrapped to the
    figure width; constrained layout keeps it clear of the panel titles."""
    fig.suptitle(textwrap.fill(text, _chars_per_line(fig, fontsize)), fontsize=fontsize)


def caption(fig, text: str, *, fontsize: float = 6.5) -> None:
    """A caption under the panels (what differs from the paper, seeds, bands), wrapped to the
    figure width; constrained layout reserves its room below the x labels."""
    fig.supxlabel(textwrap.fill(text, _chars_per_line(fig, fontsize)), fontsize=fontsize, ha="center")


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
