"""``kdt bench``: throughput of every simulator kernel, Numba against its NumPy twin.

A paper module registers a function returning :class:`BenchCase` objects;
each case times the Numba path and the NumPy twin on the same inputs (after a
warm-up call that compiles) and reports work units per second and the
speed-up. Exact engines register their cost against size, with the dense
reference they replace in the second column where it is affordable. The run
starts by printing the thread settings it ran with (BLAS/OpenMP pools from
threadpoolctl, ``NUMBA_NUM_THREADS``, the thread environment variables and the
policy of ``docs/threads.md``). Benchmarks are never run by the tests.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["PAPERS", "BenchCase", "BENCHMARKS", "benchmark", "time_call", "run_benchmarks", "format_rows", "main"]

PAPERS = ("rdml", "kd", "sd", "sot", "air")


@dataclass(frozen=True)
class BenchCase:
    """One timed workload: ``work`` units of ``unit`` done by each call.

    ``numba`` is the engine timed (a Numba kernel, or a structured exact engine); ``numpy`` its NumPy twin
    or the dense reference it replaces (optional); the speed-up is their time ratio.
    """

    label: str
    work: float
    unit: str
    numba: Callable[[], object]
    numpy: Callable[[], object] | None = None


BENCHMARKS: dict[str, tuple[str, Callable[[], list[BenchCase]]]] = {}


def benchmark(id: str) -> Callable:
    """Register ``f() -> list[BenchCase]`` under ``id`` (``<paper>.<name>``)."""
    paper = id.partition(".")[0]
    if paper not in PAPERS:
        raise ValueError(f"benchmark: id must start with a paper in {PAPERS}, got {id!r}")
    if id in BENCHMARKS:
        raise ValueError(f"benchmark: id {id!r} is already registered")

    def register(func):
        BENCHMARKS[id] = (paper, func)
        return func

    return register


def time_call(fn: Callable[[], object], *, min_seconds: float = 0.3, max_reps: int = 50) -> float:
    """Best wall time of one call, after one warm-up call (which compiles)."""
    fn()
    best, total, reps = float("inf"), 0.0, 0
    while reps < 3 or (total < min_seconds and reps < max_reps):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, total, reps = min(best, dt), total + dt, reps + 1
    return best


def run_benchmarks(paper: str | None = None) -> list[dict]:
    import kdtheory.numerics as numerics

    for info in pkgutil.iter_modules(numerics.__path__):
        if not info.name.startswith("_") and info.name != "bench":
            importlib.import_module(f"{numerics.__name__}.{info.name}")
    rows = []
    for bid, (p, func) in sorted(BENCHMARKS.items(), key=lambda item: PAPERS.index(item[1][0])):
        if paper not in (None, p):
            continue
        for case in func():
            t_numba = time_call(case.numba)
            t_numpy = time_call(case.numpy) if case.numpy is not None else None
            row = {"benchmark": bid, "case": case.label, "unit": case.unit, "work": case.work,
                   "numba_seconds": t_numba, "numba_per_s": case.work / t_numba,
                   "numpy_seconds": t_numpy, "numpy_per_s": case.work / t_numpy if t_numpy else None,
                   "speedup": t_numpy / t_numba if t_numpy else None}
            rows.append(row)
            print(f"{bid} [{case.label}] done", file=sys.stderr, flush=True)
    return rows


def format_rows(rows: list[dict]) -> str:
    header = ["benchmark", "case", "unit", "engine /s", "twin|ref /s", "speed-up", "engine s/call"]
    body = [[r["benchmark"], r["case"], r["unit"], f"{r['numba_per_s']:.3g}",
             "-" if r["numpy_per_s"] is None else f"{r['numpy_per_s']:.3g}",
             "-" if r["speedup"] is None else f"{r['speedup']:.1f}x", f"{r['numba_seconds']:.3g}"] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(b) for b in body])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kdt bench", description="Throughput of the simulator kernels.")
    p.add_argument("--paper", choices=PAPERS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from kdtheory.numerics._threads import format_thread_settings, thread_settings

    settings = thread_settings()
    if not args.json:
        print(format_thread_settings(settings), flush=True)
    rows = run_benchmarks(args.paper)
    if args.json:
        print(json.dumps({"threads": settings, "rows": rows}, indent=1))
    else:
        print(format_rows(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
