"""``kdt figures`` / ``python -m kdtheory.figures``: list and make the papers' figures."""

from __future__ import annotations

import argparse
import difflib
import sys
import time

from kdtheory.figures._core import figure_specs, make_figure


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kdt figures", description="Regenerate the papers' figures.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list registered figures")
    for name in ("make", "all"):
        sp = sub.add_parser(name)
        if name == "make":
            sp.add_argument("ids", nargs="+", metavar="ID")
        sp.add_argument("--out", default="kdt-figures", help="output folder (default ./kdt-figures)")
        sp.add_argument("--quick", action="store_true", help="small budgets: seconds per figure")
        sp.add_argument("--pdf", action="store_true", help="also write PDF")
        sp.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    specs = figure_specs()
    if args.command == "list":
        for f in specs:
            print(f"{f.id:<20} {f.title}")
        return 0
    known = {f.id for f in specs}
    ids = args.ids if args.command == "make" else [f.id for f in specs]
    for i in ids:
        if i not in known:
            close = difflib.get_close_matches(i, sorted(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see 'kdt figures list'"
            print(f"kdt figures: error: unknown figure id {i!r}{hint}", file=sys.stderr)
            return 2
    try:
        for n, i in enumerate(ids, 1):
            start = time.perf_counter()
            paths = make_figure(i, args.out, quick=args.quick, pdf=args.pdf, seed=args.seed)
            print(f"[{n}/{len(ids)}] {i:<20} {time.perf_counter() - start:6.1f} s  "
                  + " ".join(str(p) for p in paths), file=sys.stderr, flush=True)
    except ValueError as exc:
        print(f"kdt figures: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
