"""The figure registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kdtheory.verify._core import PAPERS, load_paper_modules

__all__ = ["FIGURES", "FigureSpec", "figure", "figure_specs", "make_figure", "load_all"]


@dataclass(frozen=True)
class FigureSpec:
    id: str
    paper: str
    title: str
    func: Callable[..., list[Path]]


FIGURES: dict[str, FigureSpec] = {}


def figure(id: str, *, title: str) -> Callable:
    """Register ``f(out: Path, *, quick: bool, pdf: bool, seed: int) -> list[Path]`` as figure ``id``."""
    paper, _, label = id.partition(".")
    if paper not in PAPERS or not label:
        raise ValueError(f"figure: id must be '<paper>.<name>' with paper in {PAPERS}, got {id!r}")
    if id in FIGURES:
        raise ValueError(f"figure: id {id!r} is already registered")

    def register(func):
        FIGURES[id] = FigureSpec(id, paper, title, func)
        return func

    return register


def load_all() -> None:
    """Import every paper module of ``kdtheory.figures`` (registering its figures)."""
    load_paper_modules(__name__.rpartition(".")[0])


def figure_specs(paper: str | None = None) -> list[FigureSpec]:
    load_all()
    return sorted((f for f in FIGURES.values() if paper in (None, f.paper)),
                  key=lambda f: (PAPERS.index(f.paper), list(FIGURES).index(f.id)))


def make_figure(id: str, out: Path | str = "kdt-figures", *, quick: bool = False, pdf: bool = False,
                seed: int = 0) -> list[Path]:
    """Make one figure; returns the written paths (each checked to exist and be non-empty)."""
    load_all()
    if id not in FIGURES:
        raise KeyError(id)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in FIGURES[id].func(out, quick=quick, pdf=pdf, seed=seed)]
    for p in paths:
        if not p.exists() or p.stat().st_size == 0:
            raise RuntimeError(f"figure {id} did not write {p}")
    return paths
