"""``kdt report``: the erratum sheets, parsed strictly and seen through headless Chromium.

The sd page is built once from a ``--from`` file of real verdicts (every sd claim, quick mode,
seed 0) with two quick figures; the controls pipeline runs on a small subset of claims. The
browser test uses Debian's ``/usr/bin/chromium`` through Playwright's Python package (no
browser download); it skips, saying why, only where either is missing. Set
``KDT_REPORT_SCREENSHOT=path.png`` to keep the screenshot it takes (CI keeps it as an artefact).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from kdtheory.figures import report
from kdtheory.figures._core import figure_specs
from kdtheory.verify import claims

CHROMIUM = os.environ.get("KDT_CHROMIUM", "/usr/bin/chromium")
FIGURE_SUBSET = ("sd.fig3", "sd.spectrum")  # the two quickest sd figures (about 1 s together)
CONTROL_SUBSET = ("sd.eq32", "sd.eq32_corrected", "sd.sec4_setup", "sd.sec4_setup_corrected", "sd.green")


def run_report(*args: str) -> tuple[int, str]:
    """``kdt report ARGS`` in this process; returns (exit status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = report.main(list(args))
    return code, err.getvalue()


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def strict_parse(path: Path):
    html5lib = pytest.importorskip("html5lib", reason="html5lib not installed (pip install -e '.[test]')")
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(path.read_bytes())  # raises html5lib.html5parser.ParseError on the first error


@pytest.fixture(scope="module")
def sd_file(tmp_path_factory) -> Path:
    """Real verdicts of every sd claim (quick, seed 0), as ``kdt verify all --paper sd --json`` writes them."""
    path = tmp_path_factory.mktemp("verdicts") / "sd.json"
    path.write_text(json.dumps([c.run("quick", 0).to_dict() for c in claims("sd")]))
    return path


@pytest.fixture(scope="module")
def sd_site(sd_file, tmp_path_factory):
    """The sd page from the verdict file, with the two quickest figures and no controls."""
    out = tmp_path_factory.mktemp("site")
    subset = [s for s in figure_specs("sd") if s.id in FIGURE_SUBSET]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("kdtheory.figures._core.figure_specs", lambda paper=None: subset)
        code, err = run_report("sd", "--from", str(sd_file), "--out", str(out), "--no-controls", "-j", "1")
    verdicts = {v["id"]: v for v in json.loads(sd_file.read_text())}
    assert code == (0 if all(v["ok"] for v in verdicts.values()) else 1), err
    return out, verdicts


@pytest.fixture(scope="module")
def controls_site(tmp_path_factory):
    """A page built end to end (claims, both controls of each erratum, a figure) on a few sd claims."""
    out = tmp_path_factory.mktemp("controls")
    subset = [c for c in claims("sd") if c.id in CONTROL_SUBSET]
    specs = [s for s in figure_specs("sd") if s.id == "sd.fig3"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report, "claims", lambda paper=None: subset if paper in (None, "sd") else [])
        mp.setattr("kdtheory.figures._core.figure_specs", lambda paper=None: specs)
        code, err = run_report("sd", "--out", str(out), "-j", "1")
    return out, code, err, subset


# ---------------------------------------------------------------------------------------------
# The files


def test_pages_parse_strictly_and_are_self_contained(sd_site):
    out, _ = sd_site
    for name in ("sd.html", "index.html"):
        tree = strict_parse(out / name)
        assert not tree.findall(".//script"), f"{name} has a script (the pages need no JavaScript)"
        assert not tree.findall(".//link"), f"{name} loads a stylesheet (the pages are self-contained)"
        for el in tree.iter():
            assert not any(k.lower().startswith("on") for k in el.attrib), f"{name}: event handler on <{el.tag}>"
            src = el.attrib.get("src")
            if src is not None:
                assert src.startswith("data:image/"), f"{name}: <{el.tag}> loads {src[:60]}"
            href = el.attrib.get("href", "")
            assert not re.match(r"^[a-z]+://", href), f"{name}: link to {href}"
    html = (out / "sd.html").read_text()
    assert "<title>Erratum sheet [sd]: Self-Distillation Amplifies Regularization in Hilbert Space</title>" in html


def test_every_claim_and_summary_and_tightness(sd_site):
    out, verdicts = sd_site
    html = (out / "sd.html").read_text()
    md = (out / "sd.md").read_text()
    for cid in verdicts:
        assert f'id="claim-{cid}"' in html, cid
        assert f"`{cid}`" in md, cid
    order = [html.index(f'id="claim-{c.id}"') for c in claims("sd")]
    assert order == sorted(order), "claims are not in registry order"
    n = len(verdicts)
    errata = sum(v["expected"] == "erratum" and v["observed"] == "fails" for v in verdicts.values())
    from kdtheory import __version__

    summary = re.search(r'<p class="summary" id="summary">(.*?)</p>', html, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", summary)
    for piece in (f"{n} claims", f"{errata} errata", "seed 0", "quick mode", f"kdtheory {__version__}"):
        assert piece in text, (piece, text)
    assert f"{n} of {n} verdicts read from sd.json; 0 claim(s) it lacks ran" in html


def test_each_erratum_section_shows_its_counterexample_correction_and_controls(sd_site):
    out, verdicts = sd_site
    html = (out / "sd.html").read_text()
    errata = [c for c in claims("sd") if c.expected == "erratum"]
    assert errata
    for c in errata:
        m = re.search(rf'<section class="erratum-section" id="erratum-{re.escape(c.id)}">(.*?)</section>', html, re.S)
        assert m, c.id
        body = m.group(1)
        v = verdicts[c.id]
        cx = v["details"].get("counterexample")
        cert = v["details"].get("certificate")
        assert cx is not None or cert is not None, f"{c.id}: the verdict records no counterexample"
        if cx is not None:
            shown = re.search(r'<pre class="counterexample">(.*?)</pre>', body, re.S).group(1)
            for number in _scalars(cx)[:5]:
                assert json.dumps(number) in shown.replace("&#34;", '"'), (c.id, number)
        if cert is not None:
            assert cert["lhs"] in body and cert["rhs"] in body, c.id
        assert f"{c.id}_corrected" in body
        assert "Negative control" in body and "Positive control" in body
        assert 'class="recheck"' in body


def _scalars(value):
    if isinstance(value, dict):
        return [x for v in value.values() for x in _scalars(v)]
    if isinstance(value, list):
        return [x for v in value[:report.MAX_ITEMS] for x in _scalars(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def test_markdown_page_and_figure_files(sd_site):
    out, _ = sd_site
    md = (out / "sd.md").read_text()
    assert md.startswith("# Self-Distillation Amplifies Regularization in Hilbert Space\n")
    for ref in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / ref).stat().st_size > 0, ref
    assert len(re.findall(r"!\[", md)) == len(FIGURE_SUBSET)
    for c in claims("sd"):
        if c.expected == "erratum":
            assert f"### Erratum {c.id}\n" in md
            assert f"](#erratum-{c.id.replace('.', '')})" in md  # the table links the section (GitHub anchor)
    index = (out / "index.md").read_text()
    assert "[`sd`](sd.md)" in index and "(sd.html)" in index
    assert md.count("```") % 2 == 0


def test_generic_recheck_snippets_reproduce_the_page(sd_site):
    """The re-check code printed in each erratum section runs and prints the verdict the page shows."""
    out, verdicts = sd_site
    html = (out / "sd.html").read_text()
    import html as htmllib

    for c in claims("sd"):
        if c.expected != "erratum":
            continue
        section = re.search(rf'id="erratum-{re.escape(c.id)}">(.*?)</section>', html, re.S).group(1)
        code = htmllib.unescape(re.search(r'<pre class="recheck"><code>(.*?)</code></pre>', section, re.S).group(1))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"<recheck {c.id}>", "exec"), {})
        if not c.recheck:  # the generic snippet states what it prints in a comment
            expected = re.search(r"# (.*)", code).group(1)
            assert printed.getvalue().splitlines()[0].split() == expected.split(), c.id


def test_controls_pipeline_end_to_end(controls_site):
    out, code, err, subset = controls_site
    assert code == 0, err
    html = (out / "sd.html").read_text()
    strict_parse(out / "sd.html")
    for cid in ("sd.eq32", "sd.sec4_setup"):
        section = re.search(rf'id="erratum-{re.escape(cid)}">(.*?)</section>', html, re.S).group(1)
        assert re.search(r"Negative control.*?fails, as it must", section, re.S), section[-1500:]
        assert re.search(r"Positive control.*?holds, as it must", section, re.S), section[-1500:]
    assert "(negative control)" in err and "(positive control)" in err
    assert html.count('<img src="data:image/png;base64,') == 1
    assert "seed 0" in html and "controls: 4 of 4 behave" in html


def test_a_control_that_misbehaves_is_flagged(tmp_path, monkeypatch):
    """An erratum check that says "fails" whatever it is given: its positive control is NOT OK, exit 1."""
    from kdtheory.verify._core import REGISTRY, Claim, Outcome

    def always_fails(run):
        """**Claim**: a stand-in. **Check**: none; it always fails."""
        return Outcome(holds=False, measured=2.0, reference=1.0, relation="<=", details={"counterexample": {"x": 0.5}})

    fake = Claim("sd.always_fails", "sd", "nowhere", "a statement the check can never find true", "inequality",
                 "erratum", always_fails)
    monkeypatch.setitem(REGISTRY, fake.id, fake)
    monkeypatch.setattr(report, "claims", lambda paper=None: [fake] if paper in (None, "sd") else [])
    code, err = run_report("sd", "--out", str(tmp_path), "--no-figures", "-j", "1")
    assert code == 1, err
    html = (tmp_path / "sd.html").read_text()
    strict_parse(tmp_path / "sd.html")
    assert "controls: 1 of 2 behave" in html and "1 control(s) of the errata did not come out" in html
    assert re.search(r"Positive control.*?fails: NOT OK", html, re.S)
    assert "No correction <code>sd.always_fails_corrected</code> is registered" in html
    index = (tmp_path / "index.html").read_text()
    assert "Some verdicts, controls or figures are NOT OK" in index and "1 of 2" in index


def test_from_file_is_used_and_lacking_claims_run(sd_file, tmp_path):
    """Verdicts in the file are shown as they are (not run again); claims it lacks are run."""
    verdicts = [v for v in json.loads(sd_file.read_text()) if v["id"] == "sd.sec4_setup"]
    verdicts[0]["seconds"] = 123.25  # a sentinel that a re-run would replace
    src = tmp_path / "one.json"
    src.write_text(json.dumps(verdicts))
    subset = [c for c in claims("sd") if c.id in ("sd.sec4_setup", "sd.sec4_setup_corrected")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report, "claims", lambda paper=None: subset if paper in (None, "sd") else [])
        code, err = run_report("sd", "--from", str(src), "--out", str(tmp_path / "o"), "--no-figures",
                               "--no-controls", "-j", "1")
    assert code == 0, err
    html = (tmp_path / "o" / "sd.html").read_text()
    assert "123.25" in html
    assert "1 of 2 verdicts read from one.json; 1 claim(s) it lacks ran" in html
    assert "sd.sec4_setup_corrected" in err and not re.search(r"sd\.sec4_setup\s", err), err
    assert "not run (--no-controls)" in html and "Figures were left out" in html


def test_workers_give_the_serial_numbers():
    """-j 2 (spawned workers) returns the same verdict numbers as the serial run."""
    tasks = [report.Task("claim", "sd.sec4_setup_corrected"), report.Task("claim", "sd.green"),
             report.Task("claim", "sd.sec4_setup", "negative")]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        serial = report.run_tasks(tasks, 1)
        pooled = report.run_tasks(tasks, 2)
    for a, b in zip(serial, pooled):
        assert not a.error and not b.error, (a.error, b.error)
        da, db = a.verdict.to_dict(), b.verdict.to_dict()
        da.pop("seconds"), db.pop("seconds")
        assert da == db


def test_find_detail_prefers_top_then_deciding_part():
    details = {"a": {"tightness": 0.5}, "b": {"tightness": 0.9, "certificate": {"lhs": "1"}}}
    assert report.find_detail(details, "tightness", "b") == ("b", 0.9)
    assert report.find_detail(details, "tightness", "") == ("a", 0.5)
    assert report.find_detail({"tightness": 1.0, **details}, "tightness", "b") == ("", 1.0)
    assert report.find_detail(details, "nothing") == ("", None)


def test_markdown_escaping_keeps_formulas_readable():
    esc = report._md_escape
    assert esc("||y|| <= sqrt(K)*eps") == r"\|\|y\|\| <= sqrt(K)\*eps"
    assert esc("g_x^T B_t z_0") == "g_x^T B_t z_0"  # intraword underscores cannot emphasise
    assert esc("<b>x</b> [a](b) $x$") == r"\<b>x\</b> [a\](b) \$x\$"
    assert esc("# not a heading") == r"\# not a heading"


# ---------------------------------------------------------------------------------------------
# Bad input: one line on stderr, exit status 2, before any work


@pytest.fixture
def no_work(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("work started before the input was checked")

    monkeypatch.setattr(report, "run_tasks", refuse)


def test_unknown_paper_suggests(no_work, tmp_path):
    code, err = run_report("sdd", "--out", str(tmp_path))
    assert code == 2 and "did you mean sd" in one_line(err)
    code, err = run_report("SD", "--out", str(tmp_path))
    assert code == 2 and "sd" in one_line(err)


def test_paper_without_claims_is_a_usage_error(no_work, tmp_path, monkeypatch):
    """Every paper has claims today, so the registry is narrowed for this test: air without its claims."""
    real = report.claims
    monkeypatch.setattr(report, "claims", lambda paper=None: [] if paper == "air" else real(paper))
    code, err = run_report("air", "--out", str(tmp_path))
    assert code == 2 and "no claims" in one_line(err)


def test_out_not_writable(no_work, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub", "/proc/kdt-cannot-create"):
        code, err = run_report("sd", "--out", str(out))
        assert code == 2 and "--out" in one_line(err), (out, err)


@pytest.mark.parametrize("content, why", [
    ("not json", "invalid JSON"),
    ('{"id": "sd.eq25"}', "not a list"),
    ("[]", "empty"),
    ("[1, 2]", "not an object"),
    ('[{"id": "sd.eq25"}]', "lacks"),
])
def test_from_file_that_is_not_a_verdict_list(no_work, tmp_path, content, why):
    src = tmp_path / "bad.json"
    src.write_text(content)
    code, err = run_report("--from", str(src), "--out", str(tmp_path / "o"))
    line = one_line(err)
    assert code == 2 and "not a verdict list" in line and why in line, line


def test_from_file_bad_values_missing_file_and_disagreeing_seed(no_work, sd_file, tmp_path):
    good = json.loads(sd_file.read_text())[:1]
    for field, value in (("observed", "maybe"), ("ok", "yes"), ("seed", -1), ("mode", "slow"), ("paper", "zz")):
        bad = [dict(good[0], **{field: value})]
        src = tmp_path / f"bad_{field}.json"
        src.write_text(json.dumps(bad))
        code, err = run_report("--from", str(src), "--out", str(tmp_path / "o"))
        assert code == 2 and field in one_line(err), (field, err)
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps(good * 2))
    code, err = run_report("--from", str(twice), "--out", str(tmp_path / "o"))
    assert code == 2 and "twice" in one_line(err)
    code, err = run_report("--from", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o"))
    assert code == 2 and "cannot be read" in one_line(err)
    code, err = run_report("--from", str(sd_file), "--seed", "3", "--out", str(tmp_path / "o"))
    assert code == 2 and "--seed 3 disagrees" in one_line(err)
    code, err = run_report("sd", "--seed", "-1", "--out", str(tmp_path / "o"))
    assert code == 2 and "--seed" in one_line(err)


def test_templates_ship_as_package_data():
    pyproject = Path(report.__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.exists():  # a source checkout (an installed package has no pyproject.toml beside it)
        text = pyproject.read_text()
        assert '"kdtheory.figures" = ["templates/*.html", "templates/*.md", "templates/*.css"]' in text
    for name in ("paper.html", "paper.md", "index.html", "index.md", "report.css"):
        assert (report.TEMPLATES / name).exists(), name


# ---------------------------------------------------------------------------------------------
# As a user sees it: headless Chromium, JavaScript disabled


def _browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright's Python package is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium)")
    return sync_api


def test_sd_page_in_headless_chromium(sd_site, tmp_path):
    sync_api = _browser()
    out, verdicts = sd_site
    problems: list[str] = []
    requests: list[str] = []
    shot = Path(os.environ.get("KDT_REPORT_SCREENSHOT") or tmp_path / "report-sd.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=False, viewport={"width": 1280, "height": 1400})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
            page.on("request", lambda r: requests.append(r.url))
            response = page.goto((out / "sd.html").resolve().as_uri(), wait_until="load")
            assert response is None or response.ok
            text = page.inner_text("body")
            for cid in verdicts:
                assert cid in text, f"{cid} not visible"
            for c in claims("sd"):
                if c.expected != "erratum":
                    continue
                section = page.locator(f'[id="erratum-{c.id}"]')
                assert section.is_visible(), c.id
                shown = section.locator("pre.counterexample, p.certificate").first
                assert shown.is_visible() and shown.inner_text().strip(), f"{c.id}: no counterexample shown"
            sizes = page.eval_on_selector_all(
                "figure img", "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width,"
                " e.getBoundingClientRect().height])")
            assert len(sizes) == len(FIGURE_SUBSET)
            for s in sizes:
                assert min(s) > 0, f"a figure renders at size {s}"
            page.screenshot(path=str(shot))
            page.emulate_media(media="print")
            breaks = page.eval_on_selector("table.claims tbody tr", "e => getComputedStyle(e).breakInside")
            assert breaks == "avoid", breaks
            pdf = page.pdf(format="A4")
            assert pdf[:5] == b"%PDF-" and len(pdf) > 10_000
        finally:
            browser.close()
    assert not problems, problems
    assert all(u.startswith(("file:", "data:")) for u in requests), [u[:60] for u in requests]
    assert shot.stat().st_size > 10_000


# ---------------------------------------------------------------------------------------------
# The whole command (slow: every sd claim, both controls of each erratum, every sd figure)


@pytest.mark.slow
def test_full_sd_report_subprocess(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "kdtheory.cli", "report", "sd", "--out", str(tmp_path), "-j", "2"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode in (0, 1), r.stderr[-2000:]
    strict_parse(tmp_path / "sd.html")
    html = (tmp_path / "sd.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == len(figure_specs("sd"))
    assert "NOT OK" not in html or r.returncode == 1
    assert "not run" not in html
