"""``kdt verify`` / ``python -m kdtheory.verify``: list and run registered claims.

Usage errors (unknown id, bad ``--seed`` or ``--jobs``, a paper with no claims yet, an
argument outside a claim's hypotheses) print one line on stderr and exit 2. ``-j N`` runs
claims in N spawned worker processes (at most the number of usable cores), each with BLAS
limited to one thread, as the serial run is, so the numbers are identical whatever N.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time

from kdtheory.verify._core import PAPERS, Claim, Verdict, claims, run_claim

__all__ = ["UsageError", "suggest", "usable_cores", "check_seed", "check_jobs", "guard_output",
           "markdown_claims", "key_number", "verdict_table", "summary", "paper_totals", "run_many", "main"]


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


def suggest(name: str, known: list[str], what: str, listing: str) -> UsageError:
    """The error for an unknown id, with the closest known ids (matched case-insensitively)."""
    lower = {k.lower(): k for k in known}
    close = [lower[m] for m in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.5)]
    hint = f"; did you mean {', '.join(close)}?" if close else f"; see '{listing}'"
    return UsageError(f"unknown {what} id {name!r}{hint}")


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_seed(seed: int) -> int:
    if seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {seed}")
    return seed


def check_jobs(jobs: int) -> int:
    """``--jobs`` validated and capped at the usable cores (a note on stderr when capped)."""
    if jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {jobs}")
    cores = usable_cores()
    if jobs > cores:
        print(f"kdt: note: --jobs {jobs} capped at the {cores} usable core(s)", file=sys.stderr)
        return cores
    return jobs


def guard_output() -> None:
    """Make stdout/stderr safe for any terminal: characters the encoding lacks are escaped."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):  # pragma: no cover - replaced streams
            pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kdt verify", description="List and run the papers' claims.")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list registered claims (runs nothing)")
    ls.add_argument("--paper", choices=PAPERS)
    ls.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    for name in ("run", "all"):
        sp = sub.add_parser(name, help="run the given claims" if name == "run" else "run every claim")
        if name == "run":
            sp.add_argument("ids", nargs="+", metavar="ID")
        else:
            sp.add_argument("--paper", choices=PAPERS)
        sp.add_argument("--full", action="store_true", help="full mode: tighter statistics, slower")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--json", action="store_true", help="print a JSON list of verdicts on stdout")
        sp.add_argument("-j", "--jobs", type=int, default=None,
                        help="claims in N worker processes, capped at the usable cores (default: "
                             + ("1" if name == "run" else "the usable cores, or 1 for a dozen claims or fewer") + ")")
    return p


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_claims(selected: list[Claim]) -> str:
    """The claim table as Markdown (used by ``list --format markdown`` and the README)."""
    rows = ["| id | ref | kind | expected | statement |", "|---|---|---|---|---|"]
    rows += [f"| `{c.id}` | {_cell(c.ref)} | {c.kind} | {c.expected} | {_cell(c.statement)} |" for c in selected]
    return "\n".join(rows)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def key_number(v: Verdict) -> str:
    """The numbers that decided the verdict, prefixed by the deciding sub-check when there are several."""
    number = f"{v.measured:.4g} {v.relation} {v.reference:.4g}"
    return f"{v.decided_by}: {number}" if v.decided_by else number


def verdict_table(verdicts: list[Verdict]) -> str:
    rows = [[v.id, v.expected, v.observed, "ok" if v.ok else "NOT OK", key_number(v), f"{v.seconds:.2f}"]
            for v in verdicts]
    return _table(["id", "expected", "observed", "ok", "key number (deciding check)", "seconds"], rows)


def summary(verdicts: list[Verdict]) -> str:
    n_ok = sum(v.ok for v in verdicts)
    errata = sum(v.ok and v.expected == "erratum" for v in verdicts)
    return f"{len(verdicts)} claims: {n_ok} ok, {len(verdicts) - n_ok} not ok; errata confirmed: {errata}"


def paper_totals(verdicts: list[Verdict]) -> str:
    """Per-paper claims, ok, errata confirmed and seconds, papers in DESIGN order."""
    rows = []
    for paper in PAPERS:
        vs = [v for v in verdicts if v.paper == paper]
        if vs:
            rows.append([paper, str(len(vs)), str(sum(v.ok for v in vs)),
                         str(sum(v.ok and v.expected == "erratum" for v in vs)), f"{sum(v.seconds for v in vs):.1f}"])
    return _table(["paper", "claims", "ok", "errata", "seconds"], rows)


def _resolve(ids: list[str]) -> list[Claim]:
    known = {c.id: c for c in claims()}
    out = []
    for i in ids:
        if i not in known:
            raise suggest(i, list(known), "claim", "kdt verify list")
        out.append(known[i])
    return out


def _progress(i: int, n: int, v: Verdict) -> None:
    mark = "ok" if v.ok else "NOT OK"
    print(f"[{i}/{n}] {v.id:<32} {v.observed:<6} {mark:<6} {v.seconds:7.2f} s", file=sys.stderr, flush=True)


def _worker_init() -> None:
    """Start-up of a worker process: one BLAS/OpenMP thread (docs/threads.md), claim modules imported once."""
    from kdtheory.numerics._threads import worker_limits

    worker_limits()
    claims()


def run_many(selected: list[Claim], mode: str, seed: int, jobs: int) -> list[Verdict]:
    """Run claims serially or in ``jobs`` spawned processes; verdicts come back in registry order."""
    n = len(selected)
    if jobs <= 1 or n <= 1:
        verdicts = []
        from kdtheory.numerics._threads import one_blas_thread

        with one_blas_thread():
            for i, c in enumerate(selected, 1):
                verdicts.append(c.run(mode=mode, seed=seed))
                _progress(i, n, verdicts[-1])
        return verdicts
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from kdtheory.numerics._threads import WORKER_ENV, worker_environment

    # Environment for the spawned interpreters: one OpenMP/BLAS/Numba thread each from the start
    # (N workers already fill N cores; threads inside them would only oversubscribe).
    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(worker_environment())
    done: dict[str, Verdict] = {}
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, n), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(run_claim, c.id, mode, seed): c.id for c in selected}
            for i, fut in enumerate(as_completed(futures), 1):
                done[futures[fut]] = fut.result()
                _progress(i, n, done[futures[fut]])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return [done[c.id] for c in selected]


def _list(args) -> int:
    selected = claims(args.paper)
    if args.format == "json":
        print(json.dumps([{"id": c.id, "paper": c.paper, "ref": c.ref, "kind": c.kind,
                           "expected": c.expected, "statement": c.statement} for c in selected], indent=1))
    elif args.format == "markdown":
        print(markdown_claims(selected))
    else:
        print(_table(["id", "ref", "kind", "expected", "statement"],
                     [[c.id, c.ref, c.kind, c.expected, c.statement] for c in selected]))
    return 0


def _run(args) -> int:
    check_seed(args.seed)
    jobs = check_jobs(args.jobs) if args.jobs is not None else None
    if args.command == "run":
        selected = _resolve(args.ids)
    else:
        selected = claims(args.paper)
        if not selected:
            raise UsageError(f"paper {args.paper!r} has no claims yet; see 'kdt verify list'")
    if jobs is None:  # 'all' uses the cores when there is enough work to pay for the workers' start-up (~1.5 s)
        jobs = usable_cores() if args.command == "all" and len(selected) > 12 else 1
    mode = "full" if args.full else "quick"
    start = time.perf_counter()
    verdicts = run_many(selected, mode, args.seed, jobs)
    wall = time.perf_counter() - start
    if args.json:
        print(json.dumps([v.to_dict() for v in verdicts], indent=1, allow_nan=False))
    else:
        print(verdict_table(verdicts))
        if args.command == "all":
            print()
            print(paper_totals(verdicts))
        print(summary(verdicts))
    print(f"{summary(verdicts)} ({wall:.1f} s wall, mode {mode}, seed {args.seed}, jobs {jobs})", file=sys.stderr)
    return 0 if all(v.ok for v in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    guard_output()
    args = _parser().parse_args(argv)
    try:
        return _list(args) if args.command == "list" else _run(args)
    except (UsageError, ValueError) as exc:
        print(f"kdt verify: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
