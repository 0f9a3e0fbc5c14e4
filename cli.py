"""The ``kdt`` command: ``kdt verify ...``, ``kdt figures ...``, ``kdt bench ...``."""

from __future__ import annotations

import sys

USAGE = "usage: kdt {verify,figures,bench} ...  (kdt <command> --help for details)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "verify":
        from kdtheory.verify.cli import main as run
    elif command == "figures":
        from kdtheory.figures.cli import main as run
    elif command == "bench":
        from kdtheory.numerics.bench import main as run
    else:
        print(f"kdt: error: unknown command {command!r}; {USAGE}", file=sys.stderr)
        return 2
    try:
        return run(rest)
    except SystemExit as exc:  # argparse usage errors exit 2 already
        return int(exc.code or 0)
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
