"""``kdt figures`` / ``python -m kdtheory.figures``: list and make the papers' figures.

Usage errors (unknown id, bad ``--seed``, an ``--out`` that is a file, lies under a file or
cannot be written) print one line on stderr and exit 2, before any figure is computed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kdtheory.figures._core import figure_specs, make_figure
from kdtheory.verify.cli import UsageError, check_seed, guard_output, suggest

__all__ = ["writable_folder", "main"]


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


def writable_folder(path: str | Path, option: str = "--out") -> Path:
    """``path`` as a folder that exists (created if needed) and accepts a file, else a UsageError."""
    out = Path(path)
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                where = "is" if parent == out else f"lies under {str(parent)!r}, which is"
                raise UsageError(f"{option} {str(out)!r} {where} not a folder")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".kdt-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"{option} {str(out)!r} cannot be written: {exc.strerror or exc}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    guard_output()
    args = _parser().parse_args(argv)
    try:
        specs = figure_specs()
        if args.command == "list":
            for f in specs:
                print(f"{f.id:<20} {f.title}")
            return 0
        check_seed(args.seed)
        known = [f.id for f in specs]
        ids = args.ids if args.command == "make" else known
        for i in ids:
            if i not in known:
                raise suggest(i, known, "figure", "kdt figures list")
        out = writable_folder(args.out)
        for n, i in enumerate(ids, 1):
            start = time.perf_counter()
            paths = make_figure(i, out, quick=args.quick, pdf=args.pdf, seed=args.seed)
            print(f"[{n}/{len(ids)}] {i:<20} {time.perf_counter() - start:6.1f} s  "
                  + " ".join(str(p) for p in paths), file=sys.stderr, flush=True)
    except (UsageError, ValueError) as exc:
        print(f"kdt figures: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # output piped into e.g. `head`: handled by the kdt entry point
    except OSError as exc:  # the disk filled up or the folder vanished while writing a figure
        print(f"kdt figures: error: cannot write {exc.filename or args.out!s}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
