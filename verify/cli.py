"""``kdt verify`` / ``python -m kdtheory.verify``: list and run registered claims."""

from __future__ import annotations

import argparse
import difflib
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

from kdtheory.verify._core import PAPERS, Claim, Verdict, claims, run_claim


class UsageError(Exception):
    """A bad command line: one line on stderr, exit status 2."""


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
        sp.add_argument("-j", "--jobs", type=int, default=1, help="claims in N worker processes")
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
    return f"{v.measured:.4g} {v.relation} {v.reference:.4g}"


def verdict_table(verdicts: list[Verdict]) -> str:
    rows = [[v.id, v.expected, v.observed, "ok" if v.ok else "NOT OK", key_number(v), f"{v.seconds:.2f}"]
            for v in verdicts]
    return _table(["id", "expected", "observed", "ok", "key number", "seconds"], rows)


def summary(verdicts: list[Verdict]) -> str:
    n_ok = sum(v.ok for v in verdicts)
    errata = sum(v.ok and v.expected == "erratum" for v in verdicts)
    return f"{len(verdicts)} claims: {n_ok} ok, {len(verdicts) - n_ok} not ok; errata confirmed: {errata}"


def _resolve(ids: list[str]) -> list[Claim]:
    known = {c.id: c for c in claims()}
    out = []
    for i in ids:
        if i not in known:
            close = difflib.get_close_matches(i, list(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see 'kdt verify list'"
            raise UsageError(f"unknown claim id {i!r}{hint}")
        out.append(known[i])
    return out


def _progress(i: int, n: int, v: Verdict) -> None:
    mark = "ok" if v.ok else "NOT OK"
    print(f"[{i}/{n}] {v.id:<28} {v.observed:<6} {mark:<6} {v.seconds:7.2f} s", file=sys.stderr, flush=True)


def run_many(selected: list[Claim], mode: str, seed: int, jobs: int) -> list[Verdict]:
    """Run claims serially or in ``jobs`` spawned processes; verdicts come back in registry order."""
    n = len(selected)
    if jobs <= 1 or n <= 1:
        verdicts = []
        for i, c in enumerate(selected, 1):
            verdicts.append(c.run(mode=mode, seed=seed))
            _progress(i, n, verdicts[-1])
        return verdicts
    done: dict[str, Verdict] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_claim, c.id, mode, seed): c.id for c in selected}
        for i, fut in enumerate(as_completed(futures), 1):
            done[futures[fut]] = fut.result()
            _progress(i, n, done[futures[fut]])
    return [done[c.id] for c in selected]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
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
        if args.seed < 0:
            raise UsageError(f"--seed must be a non-negative integer, got {args.seed}")
        if args.jobs < 1:
            raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
        selected = _resolve(args.ids) if args.command == "run" else claims(args.paper)
        mode = "full" if args.full else "quick"
        start = time.perf_counter()
        verdicts = run_many(selected, mode, args.seed, args.jobs)
        if args.json:
            print(json.dumps([v.to_dict() for v in verdicts], indent=1, allow_nan=False))
        else:
            print(verdict_table(verdicts))
            print(summary(verdicts))
        print(f"{summary(verdicts)} ({time.perf_counter() - start:.1f} s, mode {mode}, seed {args.seed})",
              file=sys.stderr)
        return 0 if all(v.ok for v in verdicts) else 1
    except (UsageError, ValueError) as exc:
        print(f"kdt verify: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
