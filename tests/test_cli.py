"""The CLI: list, run, all, unknown ids, bad parameters and paths, JSON, -j determinism, start-up cost."""

import json
import os
import subprocess
import sys

from kdtheory.verify import claims

PY = sys.executable
ENTRY = "import sys, kdtheory.cli as k; sys.exit(k.main())"


def kdt(*args, check_rc=None, env=None, stdout=subprocess.PIPE):
    r = subprocess.run([PY, "-c", ENTRY, *args], stdout=stdout, stderr=subprocess.PIPE, text=True,
                       timeout=600, env=env)
    if check_rc is not None:
        assert r.returncode == check_rc, (r.returncode, (r.stdout or "")[-2000:], r.stderr[-2000:])
    return r


def one_line_error(r):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def fastest_ids(n=3):
    return [c.id for c in claims()][:n]


def test_list_formats_import_nothing_heavy():
    code = ("import sys, kdtheory.verify.cli as c; rc = c.main(['list', '--format', 'json']);"
            "heavy = [m for m in ('numba', 'scipy', 'sympy', 'matplotlib', 'mpmath') if m in sys.modules];"
            "assert not heavy, f'listing imported {heavy}'; sys.exit(rc)")
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [c["id"] for c in listed] == [c.id for c in claims()]
    md = kdt("verify", "list", "--format", "markdown", check_rc=0).stdout
    assert md.startswith("| id |")
    assert kdt("figures", "list", check_rc=0).returncode == 0


def test_unknown_id_suggests_case_insensitively_and_exits_2():
    first = claims()[0].id
    line = one_line_error(kdt("verify", "run", first + "x", check_rc=2))
    assert "did you mean" in line and first in line
    line = one_line_error(kdt("verify", "run", first.upper(), check_rc=2))
    assert first in line
    line = one_line_error(kdt("figures", "make", "RDML.FIG1", check_rc=2))
    assert "rdml.fig1" in line


def test_bad_parameters_are_one_line_exit_2():
    assert "--seed" in one_line_error(kdt("verify", "all", "--seed", "-3", check_rc=2))
    assert "--seed" in one_line_error(kdt("figures", "make", "rdml.fig1", "--seed", "-3", check_rc=2))
    assert "--jobs" in one_line_error(kdt("verify", "all", "-j", "0", check_rc=2))
    assert kdt("nosuch", check_rc=2).returncode == 2
    r = kdt(check_rc=2)  # bare kdt: usage on stderr
    assert r.stdout == "" and "usage" in r.stderr


def test_paper_without_claims_is_a_usage_error(monkeypatch, capsys):
    """Every paper has claims today, so the registry is narrowed for this test: air without its claims."""
    import kdtheory.verify.cli as vcli
    real = vcli.claims
    monkeypatch.setattr(vcli, "claims", lambda paper=None: [] if paper == "air" else real(paper))
    assert vcli.main(["all", "--paper", "air"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no claims" in err[0] and "air" in err[0], err


def test_figure_output_paths_are_checked_first(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub", "/dev/full", "/proc/kdt-cannot-create"):
        line = one_line_error(kdt("figures", "make", "rdml.fig1", "--out", str(out), check_rc=2))
        assert "--out" in line


def test_full_stdout_and_ascii_terminal():
    with open("/dev/full", "w") as full:
        r = kdt("verify", "list", stdout=full, check_rc=2)
    assert "cannot write" in one_line_error(r)
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    r = kdt("figures", "list", env=env, check_rc=0)
    assert "rdml.fig1" in r.stdout


def test_jobs_capped_with_a_note():
    ids = fastest_ids(2)
    r = kdt("verify", "run", *ids, "-j", "100", "--json", check_rc=0)
    assert "capped" in r.stderr and len(json.loads(r.stdout)) == 2


def test_default_jobs():
    """'verify all' uses the usable cores when it has more than a dozen claims; 'verify run' one process."""
    from kdtheory.verify.cli import usable_cores
    r = kdt("verify", "all", "--paper", "kd", check_rc=0)
    assert r.stderr.strip().splitlines()[-1].endswith(f"jobs {usable_cores()})"), r.stderr[-300:]
    r = kdt("verify", "run", *fastest_ids(2), check_rc=0)
    assert r.stderr.strip().splitlines()[-1].endswith("jobs 1)"), r.stderr[-300:]


def test_run_json_parses_and_jobs_give_identical_numbers():
    ids = fastest_ids(3)
    one = json.loads(kdt("verify", "run", *ids, "--json", "--seed", "3", check_rc=0).stdout)
    two = json.loads(kdt("verify", "run", *ids, "--json", "--seed", "3", "-j", "2", check_rc=0).stdout)
    strip = lambda vs: [{k: v for k, v in d.items() if k != "seconds"} for d in vs]
    assert strip(one) == strip(two)
    assert [d["id"] for d in one] == ids and all(d["seed"] == 3 for d in one)


def test_table_has_summary_line_and_paper_totals():
    ids = fastest_ids(1)
    out = kdt("verify", "run", *ids, check_rc=0).stdout
    assert out.strip().splitlines()[-1].startswith("1 claims: 1 ok, 0 not ok; errata confirmed:")
    paper = claims()[0].paper
    out = kdt("verify", "all", "--paper", paper, check_rc=0).stdout
    assert any(line.startswith(f"{paper} ") for line in out.splitlines()), "per-paper totals missing"
