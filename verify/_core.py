"""The verdict contract and the claim registry (DESIGN.md, "Contracts")."""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

KINDS = ("identity", "inequality", "rate", "probability", "symbolic")
EXPECTED = ("holds", "erratum")
MODES = ("quick", "full")
PAPERS = ("rdml", "kd", "sd", "sot", "air")

__all__ = ["KINDS", "EXPECTED", "MODES", "PAPERS", "plain", "Outcome", "Verdict", "Run", "Claim", "REGISTRY",
           "claim", "load_paper_modules", "load_all", "claims", "get_claim", "run_claim"]


def plain(value: Any, where: str = "details") -> Any:
    """Convert numbers, arrays and containers to JSON-ready Python values.

    Non-finite floats are an error (a verdict never carries a silent NaN);
    a claim that needs to report an infinite value writes the string ``"inf"``.
    """
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), where)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if not math.isfinite(x):
            raise ValueError(f"verdict: {where} must be finite (write 'inf' as a string), got {x}")
        return x
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"verdict: {where} has a value of type {type(value).__name__} that JSON cannot carry")


@dataclass(frozen=True)
class Outcome:
    """What a claim function measured.

    ``holds`` says whether the statement, as the claim function reads it, held
    on every instance examined; ``measured relation reference`` is the key
    number shown in tables (e.g. worst ratio ``<=`` 1), ``tolerance`` the
    tier used, ``details`` every number that matters (worst instance,
    confidence interval, fitted slope, counterexample).
    """

    holds: bool
    measured: float
    reference: float
    relation: str
    tolerance: float = 0.0
    details: dict = field(default_factory=dict)
    decided_by: str = ""


@dataclass(frozen=True)
class Verdict:
    """One claim run (DESIGN.md, "Contracts"); serialisable with :meth:`to_json`."""

    id: str
    paper: str
    ref: str
    statement: str
    kind: str
    expected: str
    observed: str
    ok: bool
    measured: float
    reference: float
    relation: str
    tolerance: float
    details: dict
    seed: int
    mode: str
    seconds: float
    decided_by: str = ""

    def to_dict(self) -> dict:
        return plain(asdict(self), "verdict")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)


@dataclass(frozen=True)
class Run:
    """Everything a claim function receives.

    ``rng`` is seeded from ``(seed, id)``, so a claim draws the same numbers
    whether it runs alone, in a batch or in a worker process. ``control``
    asks for the claim's negative control: the same check on a perturbed
    statement (bound scaled down, hypothesis violated, wrong constant) that
    must come out "fails". ``positive`` asks an erratum claim for its positive
    control: the same check on a true neighbour of the printed statement (the
    corrected constant, the hypotheses where it holds) that must come out
    "holds", so that a check which always says "fails" is caught.
    """

    id: str
    mode: str = "quick"
    seed: int = 0
    control: bool = False
    positive: bool = False

    def __post_init__(self) -> None:
        if self.control and self.positive:
            raise ValueError("Run: control and positive are exclusive (one control per run)")

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    def size(self, quick: Any, full: Any) -> Any:
        """The quick-mode or full-mode value of a budget."""
        return quick if self.quick else full

    @property
    def rng(self) -> np.random.Generator:
        """A fresh generator seeded from ``(seed, crc32(id), control)`` (a positive control adds a word)."""
        words = [self.seed, zlib.crc32(self.id.encode()), int(self.control)] + ([2] if self.positive else [])
        return np.random.default_rng(words)


@dataclass(frozen=True)
class Claim:
    """A registered claim: metadata plus the function that checks it."""

    id: str
    paper: str
    ref: str
    statement: str
    kind: str
    expected: str
    func: Callable[[Run], Outcome]
    recheck: str = ""

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()

    def run(self, mode: str = "quick", seed: int = 0, control: bool = False, positive: bool = False) -> Verdict:
        if mode not in MODES:
            raise ValueError(f"run_claim: mode must be one of {MODES}, got {mode!r}")
        if not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise ValueError(f"run_claim: seed must be a non-negative integer, got {seed!r}")
        start = time.perf_counter()
        if positive and self.expected != "erratum":
            raise ValueError(f"run_claim: a positive control exists for errata only; {self.id} is expected to hold")
        out = self.func(Run(self.id, mode, int(seed), control, positive))
        if not isinstance(out, Outcome):
            raise TypeError(f"claim {self.id} returned {type(out).__name__}, expected Outcome")
        seconds = time.perf_counter() - start
        observed = "holds" if out.holds else "fails"
        return Verdict(
            id=self.id, paper=self.paper, ref=self.ref, statement=self.statement, kind=self.kind,
            expected=self.expected, observed=observed, ok=(observed == "holds") == (self.expected == "holds"),
            measured=plain(out.measured, "measured"), reference=plain(out.reference, "reference"),
            relation=out.relation, tolerance=plain(out.tolerance, "tolerance"),
            details=plain(out.details), seed=int(seed), mode=mode, seconds=round(seconds, 4),
            decided_by=out.decided_by,
        )


REGISTRY: dict[str, Claim] = {}


def claim(id: str, *, ref: str, statement: str, kind: str, expected: str = "holds", recheck: str = "") -> Callable:
    """Register the decorated function ``f(run: Run) -> Outcome`` as claim ``id``.

    ``recheck`` (errata especially) is a few lines of Python, using only the public
    calculators, that recompute the headline counterexample; the erratum sheets of
    ``kdt report`` print it, and a test runs it.
    """
    paper, _, label = id.partition(".")
    if paper not in PAPERS or not label:
        raise ValueError(f"claim: id must be '<paper>.<label>' with paper in {PAPERS}, got {id!r}")
    if kind not in KINDS:
        raise ValueError(f"claim: kind must be one of {KINDS}, got {kind!r}")
    if expected not in EXPECTED:
        raise ValueError(f"claim: expected must be one of {EXPECTED}, got {expected!r}")
    if id in REGISTRY:
        raise ValueError(f"claim: id {id!r} is already registered")

    def register(func: Callable[[Run], Outcome]) -> Callable[[Run], Outcome]:
        REGISTRY[id] = Claim(id, paper, ref, statement, kind, expected, func, recheck.strip())
        return func

    return register


_LOADED: set[str] = set()


def load_paper_modules(package: str) -> None:
    """Import, once, every paper module ``<package>.<paper>`` (each registers its claims or figures).

    Only the five paper names are imported (a module or a package split by sections), so the
    registries of claims and figures are filled by one loader and nothing else is imported.
    """
    if package in _LOADED:
        return
    base = importlib.import_module(package)
    present = {info.name for info in pkgutil.iter_modules(base.__path__)}
    for paper in PAPERS:
        if paper in present:
            importlib.import_module(f"{package}.{paper}")
    _LOADED.add(package)


def load_all() -> None:
    """Import every paper module of ``kdtheory.verify`` (registering its claims)."""
    load_paper_modules(__name__.rpartition(".")[0])


def _order(c: Claim) -> tuple:
    return (PAPERS.index(c.paper), list(REGISTRY).index(c.id))


def claims(paper: str | None = None) -> list[Claim]:
    """All registered claims (of one paper), papers in DESIGN order, claims in source order."""
    load_all()
    if paper is not None and paper not in PAPERS:
        raise ValueError(f"claims: paper must be one of {PAPERS}, got {paper!r}")
    return sorted((c for c in REGISTRY.values() if paper in (None, c.paper)), key=_order)


def get_claim(id: str) -> Claim:
    load_all()
    if id not in REGISTRY:
        raise KeyError(id)
    return REGISTRY[id]


def run_claim(id: str, mode: str = "quick", seed: int = 0, control: bool = False, positive: bool = False) -> Verdict:
    """Run one claim by id (importable and picklable for worker processes)."""
    return get_claim(id).run(mode=mode, seed=seed, control=control, positive=positive)
