"""``kdt report``: one self-contained erratum sheet per paper (HTML and Markdown) and an index.

::

    kdt report [PAPER ...] [--out DIR] [--full] [--seed N] [-j N] [--from FILE]
               [--no-controls] [--no-figures]

For every paper asked for (default: every paper that has claims) the command runs the claims,
the two controls of every erratum (the negative control, which must come out "fails", and the
positive control, which must come out "holds") and the paper's figures, and writes

* ``DIR/<paper>.html``: the paper's title and id, a summary line (claims, holds, errata,
  seconds, seed, mode, kdtheory version), the table of every claim in registry order (reference,
  statement, verdict, key number with the deciding sub-check, tightness of bounds), one section
  per erratum (the statement as printed, the certificate and the counterexample's numbers, a
  few lines of Python that re-check it, the registered correction ``<id>_corrected`` and its
  verdict, the outcome of both controls) and the figures with their captions. Figures are
  embedded as base64 PNG: the page loads no file, no script and nothing from the network,
  and prints to PDF without splitting table rows;
* ``DIR/<paper>.md``: the same content as Markdown, its figures written to ``DIR/figures/``;
* ``DIR/index.html`` and ``DIR/index.md``: one line per paper, linking the pages.

``--from FILE`` reads a verdict list written by ``kdt verify ... --json``: those verdicts are
used as they are (nothing the file has is run again); claims of the selected papers that the
file lacks are run, with the file's mode and seed (``--full``/``--seed``, when given, must agree
with the file). The file does not carry the controls, so they are run unless ``--no-controls``
is given (the erratum sections then say the controls were not run).

All work (claims, controls, figures) is spread over ``-j`` spawned worker processes, each with
one BLAS/Numba thread as in ``kdt verify`` (identical numbers whatever ``-j``); the default is
the number of usable cores. Exit status: 0 when every verdict is ok and every control behaved,
1 otherwise, 2 for usage errors (unknown paper, with a suggestion; an ``--out`` that cannot be
written; a ``--from`` file that is not a verdict list), which print one line on stderr before
any work is done.
"""

from __future__ import annotations

import argparse
import base64
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kdtheory.verify._core import EXPECTED, MODES, PAPERS, Claim, Verdict, claims
from kdtheory.verify.cli import UsageError, check_jobs, check_seed, guard_output, key_number, suggest, usable_cores

__all__ = ["PAPER_TITLES", "TEMPLATES", "MAX_ITEMS", "Task", "Result", "load_verdicts", "run_tasks", "find_detail",
           "verdict_label", "main"]

PAPER_TITLES = {
    "rdml": "Rényi Divergence Deep Mutual Learning",
    "kd": "Knowledge Distillation Performs Partial Variance Reduction",
    "sd": "Self-Distillation Amplifies Regularization in Hilbert Space",
    "sot": "SoTeacher: Student-Oriented Teacher Network Training",
    "air": "Distillation ≈ Early Stopping? Anisotropic Information Retrieval",
}

TEMPLATES = Path(__file__).resolve().parent / "templates"

MAX_ITEMS = 50  # a list longer than this is cut in the counterexample shown (the verdict JSON has it all)


# --------------------------------------------------------------------------------------------
# Reading a verdict list (--from)


def _bad_file(path: str, why: str) -> UsageError:
    return UsageError(f"--from {path!r} is not a verdict list (as written by 'kdt verify ... --json'): {why}")


_NUMBER = (int, float)
_FIELD_TYPES: dict[str, tuple] = {
    "id": (str,), "paper": (str,), "ref": (str,), "statement": (str,), "kind": (str,), "expected": (str,),
    "observed": (str,), "ok": (bool,), "measured": _NUMBER, "reference": _NUMBER, "relation": (str,),
    "tolerance": _NUMBER, "details": (dict,), "seed": (int,), "mode": (str,), "seconds": _NUMBER,
    "decided_by": (str,),
}


def _verdict_from(item: Any, i: int, path: str) -> Verdict:
    if not isinstance(item, dict):
        raise _bad_file(path, f"item {i} is a {type(item).__name__}, not an object")
    names = [f.name for f in fields(Verdict)]
    missing = [n for n in names if n not in item and n != "decided_by"]
    if missing:
        raise _bad_file(path, f"item {i} lacks {', '.join(repr(m) for m in missing)}")
    values = {n: item.get(n, "") for n in names}
    for name, types in _FIELD_TYPES.items():
        v = values[name]
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            raise _bad_file(path, f"item {i} has {name}={v!r}, expected {'/'.join(t.__name__ for t in types)}")
    checks = [("paper", values["paper"] in PAPERS), ("expected", values["expected"] in EXPECTED),
              ("observed", values["observed"] in ("holds", "fails")), ("mode", values["mode"] in MODES),
              ("seed", values["seed"] >= 0),
              ("id", values["id"].partition(".")[0] == values["paper"])]
    for name, good in checks:
        if not good:
            raise _bad_file(path, f"item {i} has {name}={values[name]!r}")
    return Verdict(**values)


def load_verdicts(path: str) -> list[Verdict]:
    """The verdicts of a ``kdt verify ... --json`` file; a :class:`UsageError` (one line) otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--from {path!r} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad_file(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, list):
        raise _bad_file(path, f"the top level is a {type(data).__name__}, not a list")
    if not data:
        raise _bad_file(path, "the list is empty")
    verdicts = [_verdict_from(item, i, path) for i, item in enumerate(data)]
    seen: set[str] = set()
    for v in verdicts:
        if v.id in seen:
            raise _bad_file(path, f"claim {v.id} appears twice")
        seen.add(v.id)
    return verdicts


# --------------------------------------------------------------------------------------------
# Work: claims, controls and figures, serially or in worker processes


@dataclass(frozen=True)
class Task:
    """One unit of work: a claim run (``role`` main / negative / positive) or a figure."""

    what: str  # "claim" | "figure"
    id: str
    role: str = "main"  # claims: "main", "negative" (control=True), "positive" (positive=True)
    mode: str = "quick"
    seed: int = 0
    folder: str = ""  # figures: where the worker writes the files


@dataclass
class Result:
    task: Task
    verdict: Verdict | None = None
    paths: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0


def _run_task(task: Task) -> Result:
    """Run one task; an exception becomes ``Result.error`` (shown on the page, exit status 1)."""
    start = time.perf_counter()
    try:
        if task.what == "claim":
            from kdtheory.verify._core import get_claim

            c = get_claim(task.id)
            v = c.run(mode=task.mode, seed=task.seed, control=task.role == "negative",
                      positive=task.role == "positive")
            return Result(task, verdict=v, seconds=time.perf_counter() - start)
        from kdtheory.figures._core import make_figure

        paths = make_figure(task.id, task.folder, quick=task.mode == "quick", seed=task.seed)
        return Result(task, paths=[str(p) for p in paths], seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - reported on the page, never swallowed
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        return Result(task, error=message, seconds=time.perf_counter() - start)


def _worker_init() -> None:
    """Start-up of a worker process: one BLAS thread, every claim and figure module imported once."""
    from threadpoolctl import threadpool_limits

    from kdtheory.figures._core import figure_specs

    threadpool_limits(limits=1, user_api="blas")
    claims()
    figure_specs()


def _progress(i: int, n: int, r: Result) -> None:
    t = r.task
    label = t.id if t.role == "main" else f"{t.id} ({t.role} control)"
    if r.error:
        state = "ERROR " + r.error[:60]
    elif r.verdict is not None:
        state = r.verdict.observed
    else:
        state = f"{len(r.paths)} file(s)"
    print(f"[{i}/{n}] {t.what:<6} {label:<44} {state:<10} {r.seconds:7.2f} s", file=sys.stderr, flush=True)


def run_tasks(tasks: list[Task], jobs: int) -> list[Result]:
    """Run the tasks in ``jobs`` spawned processes (serially for one); results in task order."""
    n = len(tasks)
    if jobs <= 1 or n <= 1:
        from threadpoolctl import threadpool_limits

        out = []
        with threadpool_limits(limits=1, user_api="blas"):  # as kdt verify: one BLAS thread, same numbers
            for i, t in enumerate(tasks, 1):
                out.append(_run_task(t))
                _progress(i, n, out[-1])
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: "1" for k in names})
    done: dict[int, Result] = {}
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, n), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_worker_init) as pool:
            futures = {pool.submit(_run_task, t): k for k, t in enumerate(tasks)}
            for i, fut in enumerate(as_completed(futures), 1):
                done[futures[fut]] = fut.result()
                _progress(i, n, done[futures[fut]])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return [done[k] for k in range(n)]


# --------------------------------------------------------------------------------------------
# What a page shows


def _walk(details: Any, key: str, path: tuple = ()) -> tuple[tuple, Any] | None:
    """Depth-first search for ``key`` in nested dicts: (path, value) of the first hit."""
    if isinstance(details, dict):
        if key in details:
            return path, details[key]
        for k, v in details.items():
            hit = _walk(v, key, path + (k,))
            if hit is not None:
                return hit
    return None


def find_detail(details: dict, key: str, decided_by: str = "") -> tuple[str, Any]:
    """``details[key]``, else the same key in the deciding sub-check, else the first anywhere.

    Returns ``(where, value)`` (``where`` is ``""`` at the top level, the sub-check's path
    otherwise) or ``("", None)``.
    """
    if key in details:
        return "", details[key]
    node: Any = details
    for part in [p for p in decided_by.split("/") if p]:
        if isinstance(node, dict) and isinstance(node.get(part), dict):
            node = node[part]
            if key in node:
                return decided_by, node[key]
        else:
            break
    hit = _walk(details, key)
    if hit is None:
        return "", None
    return "/".join(hit[0]), hit[1]


def _shorten(value: Any) -> Any:
    """Lists longer than :data:`MAX_ITEMS` cut with a note (numbers themselves are never rounded)."""
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            return [_shorten(v) for v in value[:MAX_ITEMS]] + [f"... {len(value) - MAX_ITEMS} more in the verdict JSON"]
        return [_shorten(v) for v in value]
    return value


def _compact_json(value: Any, indent: int = 0) -> str:
    """JSON with one key per line but short lists of numbers on one line (readable, exact reprs)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = ",\n".join(f"{pad}  {json.dumps(k)}: {_compact_json(v, indent + 2)}" for k, v in value.items())
        return "{\n" + inner + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        if not value:
            return "[]"
        inner = ",\n".join(f"{pad}  {_compact_json(v, indent + 2)}" for v in value)
        return "[\n" + inner + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def _fmt(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def verdict_label(v: Verdict) -> tuple[str, str]:
    """(text, css class) of a verdict as the table shows it."""
    if v.expected == "holds" and v.observed == "holds":
        return "holds", "holds"
    if v.expected == "erratum" and v.observed == "fails":
        return "erratum: fails as printed", "erratum"
    return f"NOT OK: expected {'to hold' if v.expected == 'holds' else 'an erratum'}, observed {v.observed}", "notok"


def _breakable(text: str):
    """``text`` escaped for HTML, with line-break opportunities after dots and underscores."""
    from markupsafe import Markup, escape

    return Markup(str(escape(text)).replace("_", "_<wbr>").replace(".", ".<wbr>"))


def _row(c: Claim, v: Verdict | None, error: str) -> dict:
    row = {"id": c.id, "id_breakable": _breakable(c.id), "ref": c.ref, "statement": c.statement, "kind": c.kind, "expected": c.expected,
           "erratum": c.expected == "erratum", "tightness": "", "key": "", "seconds": ""}
    if v is None:
        row.update(label=f"ERROR: {error}", css="notok", ok=False)
        return row
    text, css = verdict_label(v)
    row.update(label=text, css=css, ok=v.ok, key=key_number(v), seconds=f"{v.seconds:.2f}",
               statement=v.statement, ref=v.ref)
    if c.kind in ("inequality", "rate", "probability"):
        _, t = find_detail(v.details, "tightness", v.decided_by)
        if t is None:  # verdicts written before bound_outcome reported "tightness"
            _, t = find_detail(v.details, "worst_ratio", v.decided_by)
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            row["tightness"] = _fmt(float(t))
    return row


def _generic_recheck(v: Verdict, what: str) -> str:
    shown = {"certificate": 'v.details["certificate"]', "counterexample": 'v.details["counterexample"]'}
    line2 = f"print({shown.get(what, 'v.details')})"
    return (f"from kdtheory.verify import run_claim\n"
            f'v = run_claim("{v.id}", mode="{v.mode}", seed={v.seed})\n'
            f"print(v.observed, v.measured, v.relation, v.reference)  "
            f"# {v.observed} {v.measured} {v.relation} {v.reference}\n"
            f"{line2}")


def _control(role: str, result: Result | None, ran: bool) -> dict:
    must = "fails" if role == "negative" else "holds"
    what = ("the same check on a perturbed statement" if role == "negative"
            else "the same check on a true neighbour of the statement")
    out = {"role": role, "must": must, "what": what, "observed": "", "ok": None, "key": "", "note": ""}
    if not ran:
        out["note"] = "not run (--no-controls)"
    elif result is None:
        out["note"] = "not run"
    elif result.error:
        out.update(note=f"ERROR: {result.error}", ok=False)
    else:
        v = result.verdict
        out.update(observed=v.observed, ok=v.observed == must, key=key_number(v))
    return out


def _erratum(c: Claim, v: Verdict | None, error: str, correction: tuple[Claim, Verdict | None, str] | None,
             controls: dict[str, Result], controls_ran: bool) -> dict:
    doc = inspect.cleandoc(c.func.__doc__ or "")
    e: dict[str, Any] = {"id": c.id, "ref": c.ref, "statement": c.statement, "doc": doc, "error": error,
                         "doc_fence": "````" if "```" in doc else "```",
                         "label": "", "key": "", "certificate": None, "certificate_where": "",
                         "counterexample": "", "counterexample_where": "", "recheck": c.recheck,
                         "recheck_generic": not c.recheck, "correction": None}
    if v is not None:
        e["label"], e["css"] = verdict_label(v)
        e["key"] = key_number(v)
        e["statement"] = v.statement
        where, cert = find_detail(v.details, "certificate", v.decided_by)
        if isinstance(cert, dict) and {"lhs", "rhs", "relation"} <= set(cert):
            e["certificate"] = {k: _fmt(cert.get(k, "")) for k in
                                ("lhs", "relation", "rhs", "difference", "precision", "what")}
            e["certificate"]["holds"] = bool(cert.get("holds"))
            e["certificate_where"] = where
        where, cx = find_detail(v.details, "counterexample", v.decided_by)
        if cx is not None:
            e["counterexample"] = _compact_json(_shorten(cx))
            e["counterexample_where"] = where
        if not c.recheck:
            top = v.details
            e["recheck"] = _generic_recheck(v, "certificate" if "certificate" in top
                                            else "counterexample" if "counterexample" in top else "details")
    else:
        e["label"], e["css"] = f"ERROR: {error}", "notok"
    if correction is not None:
        cc, cv, cerr = correction
        e["correction"] = {"id": cc.id, "statement": cv.statement if cv else cc.statement, "ref": cc.ref,
                           "label": verdict_label(cv)[0] if cv else f"ERROR: {cerr}",
                           "css": verdict_label(cv)[1] if cv else "notok", "key": key_number(cv) if cv else ""}
    e["controls"] = [_control(role, controls.get(role), controls_ran) for role in ("negative", "positive")]
    return e


def _markdown_table_rows(text: str) -> list[list[str]]:
    """Rows of the first pipe table in Markdown text (header first; the separator line dropped)."""
    rows = []
    for line in text.splitlines():
        s = line.strip()
        if not s.startswith("|"):
            if rows:
                break
            continue
        cells = [x.strip().replace("\\|", "|") for x in s.strip("|").replace("\\|", "\0").split("|")]
        cells = [x.replace("\0", "|") for x in cells]
        if all(set(x) <= set(":- ") and x for x in cells):
            continue
        rows.append(cells)
    return rows


def _figure(spec, result: Result | None, out: Path, made: bool) -> dict:
    f: dict[str, Any] = {"id": spec.id, "title": spec.title, "images": [], "tables": [], "error": ""}
    if not made:
        f["error"] = "not made (--no-figures)"
        return f
    if result is None or result.error:
        f["error"] = f"ERROR: {result.error if result else 'not run'}"
        return f
    (out / "figures").mkdir(exist_ok=True)
    for p in map(Path, result.paths):
        if p.suffix == ".png":
            data = p.read_bytes()
            shutil.copyfile(p, out / "figures" / p.name)
            f["images"].append({"name": p.name, "src": "data:image/png;base64," + base64.b64encode(data).decode(),
                                "md_src": f"figures/{p.name}", "bytes": len(data)})
        elif p.suffix == ".md":
            text = p.read_text()
            f["tables"].append({"name": p.name, "rows": _markdown_table_rows(text), "markdown": text.strip()})
    return f


# --------------------------------------------------------------------------------------------
# Rendering


def _md_escape(text: Any) -> str:
    """Plain text safe in a Markdown paragraph or table cell: no emphasis, link, HTML tag, heading or
    table break, escaping only the characters that could start one (formulas stay readable)."""
    s = " ".join(str(text).split()).replace("\\", "\\\\")
    s = s.replace("`", "\\`").replace("*", "\\*").replace("|", "\\|").replace("$", "\\$")
    s = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", s)  # intraword _ never emphasises
    s = re.sub(r"<(?=[A-Za-z/!?])", r"\\<", s)
    s = re.sub(r"\](?=[(\[:])", r"\\]", s)
    return re.sub(r"^([#>+=-])", r"\\\1", s)


def _md_code(text: Any) -> str:
    """An inline code span holding ``text`` (backticks in it handled), pipes escaped for tables."""
    s = " ".join(str(text).split()).replace("|", "\\|")
    fence = "``" if "`" in s else "`"
    return f"{fence} {s} {fence}" if fence == "``" else f"`{s}`"


def _environments():
    import jinja2

    loader = jinja2.FileSystemLoader(str(TEMPLATES))
    html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    md = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined,
                            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    md.filters["md"] = _md_escape
    md.filters["code"] = _md_code
    return html, md


def _summary(rows: list[dict], seconds: float, mode: str, seed: Any, version: str) -> dict:
    n = len(rows)
    holds = sum(r["css"] == "holds" for r in rows)
    errata = sum(r["css"] == "erratum" for r in rows)
    not_ok = sum(not r["ok"] for r in rows)
    return {"claims": n, "holds": holds, "errata": errata, "not_ok": not_ok, "seconds": f"{seconds:.1f}",
            "mode": mode, "seed": seed, "version": version}


# --------------------------------------------------------------------------------------------
# The command


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kdt report", description=(
        "Write one self-contained erratum sheet per paper (HTML and Markdown) and an index: every "
        "claim's verdict, each erratum's certified counterexample, correction and controls, the figures."))
    p.add_argument("papers", nargs="*", metavar="PAPER", help=f"paper ids ({', '.join(PAPERS)}); default: all with claims")
    p.add_argument("--out", default="kdt-report", help="output folder (default ./kdt-report)")
    p.add_argument("--full", action="store_true", default=None, help="full mode: tighter statistics, slower")
    p.add_argument("--seed", type=int, default=None, help="seed (default 0, or the --from file's)")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="worker processes for claims, controls and figures (default: the usable cores)")
    p.add_argument("--from", dest="source", metavar="FILE",
                   help="use the verdicts of a 'kdt verify ... --json' file instead of running those claims")
    p.add_argument("--no-controls", action="store_true", help="do not run the errata's negative and positive controls")
    p.add_argument("--no-figures", action="store_true", help="leave the figures out")
    return p


def _select_papers(names: list[str], file_verdicts: list[Verdict] | None) -> list[str]:
    with_claims = [p for p in PAPERS if claims(p)]
    for name in names:
        if name not in PAPERS:
            raise suggest(name, list(PAPERS), "paper", "kdt verify list")
        if name not in with_claims:
            raise UsageError(f"paper {name!r} has no claims yet; see 'kdt verify list'")
    if names:
        return [p for p in PAPERS if p in names]
    if file_verdicts is not None:
        return [p for p in with_claims if any(v.paper == p for v in file_verdicts)]
    return with_claims


def _mode_and_seed(args, file_verdicts: list[Verdict] | None) -> tuple[str, int]:
    if file_verdicts is None:
        return ("full" if args.full else "quick"), (0 if args.seed is None else args.seed)
    modes = sorted({v.mode for v in file_verdicts})
    seeds = sorted({v.seed for v in file_verdicts})
    if len(modes) > 1 or len(seeds) > 1:
        raise UsageError(f"--from {args.source!r} mixes modes {modes} / seeds {seeds}; a page shows one run")
    mode, seed = modes[0], seeds[0]
    if args.full and mode != "full":
        raise UsageError(f"--full disagrees with --from {args.source!r}, whose verdicts ran in {mode} mode")
    if args.seed is not None and args.seed != seed:
        raise UsageError(f"--seed {args.seed} disagrees with --from {args.source!r}, whose verdicts ran with seed {seed}")
    return mode, seed


def build(args) -> int:
    from kdtheory import __version__
    from kdtheory.figures._core import figure_specs
    from kdtheory.figures.cli import writable_folder

    if args.seed is not None:
        check_seed(args.seed)
    jobs = check_jobs(args.jobs) if args.jobs is not None else usable_cores()
    file_verdicts = load_verdicts(args.source) if args.source else None
    papers = _select_papers(args.papers, file_verdicts)
    if not papers:
        raise UsageError(f"--from {args.source!r} has no verdict of a paper with registered claims")
    mode, seed = _mode_and_seed(args, file_verdicts)
    out = writable_folder(args.out)

    start = time.perf_counter()
    selected = {p: claims(p) for p in papers}
    known = {c.id for cs in selected.values() for c in cs}
    have = {v.id: v for v in (file_verdicts or []) if v.id in known}
    if file_verdicts is not None:
        ignored = [v.id for v in file_verdicts if v.id not in known and v.paper in papers]
        if ignored:
            print(f"kdt report: note: {len(ignored)} verdict(s) in {args.source} name no registered claim "
                  f"(ignored): {', '.join(ignored[:5])}{' ...' if len(ignored) > 5 else ''}", file=sys.stderr)
        missing = sum(c.id not in have for cs in selected.values() for c in cs)
        print(f"kdt report: {len(have)} verdict(s) read from {args.source}; {missing} claim(s) it lacks will run",
              file=sys.stderr)
    specs = {p: ([] if args.no_figures else figure_specs(p)) for p in papers}
    scratch = Path(tempfile.mkdtemp(prefix="kdt-report-"))
    try:
        tasks = [Task("figure", s.id, mode=mode, seed=seed, folder=str(scratch / s.id.replace(".", "_")))
                 for p in papers for s in specs[p]]
        tasks += [Task("claim", c.id, "main", mode, seed) for p in papers for c in selected[p] if c.id not in have]
        if not args.no_controls:
            tasks += [Task("claim", c.id, role, mode, seed) for p in papers for c in selected[p]
                      if c.expected == "erratum" for role in ("negative", "positive")]
        results = run_tasks(tasks, jobs)
        by_key = {(r.task.what, r.task.id, r.task.role): r for r in results}
        html_env, md_env = _environments()
        index = []
        all_ok = True
        for paper in papers:
            page = _page(paper, selected[paper], specs[paper], have, by_key, out, args, mode, seed, __version__)
            all_ok &= page["all_ok"]
            (out / f"{paper}.html").write_text(html_env.get_template("paper.html").render(**page), encoding="utf-8")
            (out / f"{paper}.md").write_text(md_env.get_template("paper.md").render(**page), encoding="utf-8")
            index.append({"paper": paper, "title": page["title"], "summary": page["summary"],
                          "all_ok": page["all_ok"]})
        wall = time.perf_counter() - start
        context = {"pages": index, "version": __version__, "mode": mode, "seed": seed, "seconds": f"{wall:.1f}",
                   "all_ok": all_ok}
        (out / "index.html").write_text(html_env.get_template("index.html").render(**context), encoding="utf-8")
        (out / "index.md").write_text(md_env.get_template("index.md").render(**context), encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for item in index:
        s = item["summary"]
        print(f"{item['paper']}: {s['claims']} claims, {s['holds']} hold, {s['errata']} errata, "
              f"{s['not_ok']} not ok -> {out / (item['paper'] + '.html')}", file=sys.stderr)
    print(f"kdt report: {len(papers)} page(s) in {out} ({wall:.1f} s wall, mode {mode}, seed {seed}, jobs {jobs})",
          file=sys.stderr)
    return 0 if all_ok else 1


def _page(paper, selected, specs, have, by_key, out, args, mode, seed, version) -> dict:
    verdicts: dict[str, tuple[Verdict | None, str]] = {}
    for c in selected:
        if c.id in have:
            verdicts[c.id] = (have[c.id], "")
        else:
            r = by_key[("claim", c.id, "main")]
            verdicts[c.id] = (r.verdict, r.error)
    ids = {c.id: c for c in selected}
    rows = [_row(c, *verdicts[c.id]) for c in selected]
    errata = []
    controls_seconds = 0.0
    for c in selected:
        if c.expected != "erratum":
            continue
        corr_id = f"{c.id}_corrected"
        correction = (ids[corr_id], *verdicts[corr_id]) if corr_id in ids else None
        ctl = {role: by_key[("claim", c.id, role)] for role in ("negative", "positive")
               if ("claim", c.id, role) in by_key}
        controls_seconds += sum(r.seconds for r in ctl.values())
        errata.append(_erratum(c, *verdicts[c.id], correction, ctl, not args.no_controls))
    figures = [_figure(s, by_key.get(("figure", s.id, "main")), out, not args.no_figures) for s in specs]
    claim_seconds = sum(v.seconds for v, _ in verdicts.values() if v is not None)
    figure_seconds = sum(by_key[("figure", s.id, "main")].seconds for s in specs if ("figure", s.id, "main") in by_key)
    summary = _summary(rows, claim_seconds + controls_seconds + figure_seconds, mode, seed, version)
    summary["certified"] = sum(e["certificate"] is not None for e in errata)
    summary.update(claim_seconds=f"{claim_seconds:.1f}", controls_seconds=f"{controls_seconds:.1f}",
                   figure_seconds=f"{figure_seconds:.1f}")
    summary["controls_not_ok"] = sum(ctl["ok"] is False for e in errata for ctl in e["controls"])
    summary["controls_run"] = sum(ctl["ok"] is not None for e in errata for ctl in e["controls"])
    summary["figures_not_ok"] = sum(f["error"].startswith("ERROR") for f in figures)
    command = ["kdt", "report", paper] + (["--full"] if mode == "full" else []) + [f"--seed {seed}"]
    n_read = sum(c.id in have for c in selected)
    source = (f"{n_read} of {len(selected)} verdicts read from {Path(args.source).name}; "
              f"{len(selected) - n_read} claim(s) it lacks ran for this page" if args.source else "")
    return {"paper": paper, "title": PAPER_TITLES[paper], "summary": summary, "rows": rows, "errata": errata,
            "figures": figures, "controls_ran": not args.no_controls, "figures_made": not args.no_figures,
            "command": " ".join(command), "source": source,
            "all_ok": summary["not_ok"] == summary["controls_not_ok"] == summary["figures_not_ok"] == 0}


def main(argv: list[str] | None = None) -> int:
    guard_output()
    args = _parser().parse_args(argv)
    try:
        return build(args)
    except (UsageError, ValueError) as exc:
        print(f"kdt report: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
