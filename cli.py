"""The ``kdt`` command: ``kdt verify ...``, ``kdt figures ...``, ``kdt bench ...``, ``kdt report ...``.

Exit status: 0 when everything asked for succeeded (every verdict ok), 1 when a verdict is
not ok, 2 for usage errors, which print one line on stderr (an unknown command or id, a bad
option, an output path that cannot be written, an output stream that fails).
"""

from __future__ import annotations

import os
import sys

__all__ = ["USAGE", "main"]

USAGE = "usage: kdt {verify,figures,bench,report} ...  (kdt <command> --help for details)"


def _silence_stdout() -> None:
    """Point the stdout descriptor at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - no real descriptor
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command == "verify":
        from kdtheory.verify.cli import main as run
    elif command == "figures":
        from kdtheory.figures.cli import main as run
    elif command == "bench":
        from kdtheory.numerics.bench import main as run
    elif command == "report":
        from kdtheory.figures.report import main as run
    else:
        print(f"kdt: error: unknown command {command!r}; {USAGE}", file=sys.stderr)
        return 2
    try:
        code = run(rest)
        sys.stdout.flush()
        return code
    except SystemExit as exc:  # argparse usage errors exit 2 already
        return int(exc.code or 0)
    except BrokenPipeError:  # output piped into e.g. `head`
        _silence_stdout()
        return 0
    except OSError as exc:  # stdout on a full device, a closed descriptor...
        _silence_stdout()
        print(f"kdt: error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
