"""The CLI: list, run, all, unknown ids, bad parameters, JSON, -j determinism."""

import json
import subprocess
import sys

import pytest

from kdtheory.verify import claims

PY = sys.executable


def kdt(*args, check_rc=None):
    r = subprocess.run([PY, "-c", "import sys, kdtheory.cli as k; sys.exit(k.main())", *args],
                       capture_output=True, text=True, timeout=600)
    if check_rc is not None:
        assert r.returncode == check_rc, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    return r


def fastest_ids(n=3):
    return [c.id for c in claims()][:n]


def test_list_formats_and_compiles_nothing():
    r = subprocess.run([PY, "-c", "import sys, verify.cli; rc = verify.cli.main(['list', '--format', 'json']);"
                        "assert 'numba' not in sys.modules, 'listing imported numba'; sys.exit(rc)"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert [c["id"] for c in listed] == [c.id for c in claims()]
    md = kdt("verify", "list", "--format", "markdown", check_rc=0).stdout
    assert md.startswith("| id |")
    assert kdt("figures", "list", check_rc=0).returncode == 0


def test_unknown_id_suggests_and_exits_2():
    if not claims():
        pytest.skip("no claims registered")
    first = claims()[0].id
    r = kdt("verify", "run", first + "x", check_rc=2)
    assert "did you mean" in r.stderr and first in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = kdt("figures", "make", "nosuch.fig", check_rc=2)
    assert len(r.stderr.strip().splitlines()) == 1


def test_bad_parameter_is_one_line_exit_2():
    r = kdt("verify", "all", "--seed", "-3", check_rc=2)
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = kdt("verify", "all", "-j", "0", check_rc=2)
    assert "--jobs" in r.stderr
    assert kdt("nosuch", check_rc=2).returncode == 2


def test_run_json_parses_and_jobs_give_identical_numbers():
    ids = fastest_ids(3)
    if not ids:
        pytest.skip("no claims registered")
    one = json.loads(kdt("verify", "run", *ids, "--json", "--seed", "3", check_rc=0).stdout)
    two = json.loads(kdt("verify", "run", *ids, "--json", "--seed", "3", "-j", "2", check_rc=0).stdout)
    strip = lambda vs: [{k: v for k, v in d.items() if k != "seconds"} for d in vs]
    assert strip(one) == strip(two)
    assert [d["id"] for d in one] == ids and all(d["seed"] == 3 for d in one)


def test_table_has_summary_line():
    ids = fastest_ids(1)
    if not ids:
        pytest.skip("no claims registered")
    out = kdt("verify", "run", *ids, check_rc=0).stdout
    assert out.strip().splitlines()[-1].startswith("1 claims: 1 ok, 0 not ok; errata confirmed:")
