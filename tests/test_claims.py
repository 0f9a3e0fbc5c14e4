"""Tests generated from the claim registry.

Every claim is ok in quick mode; every negative control fails; every erratum has a
positive control that holds, a certified headline counterexample and a registered
correction; every holding inequality reports its tightness; printed fields are the
ones that decided.
"""

import json

import pytest

from kdtheory.verify import Run, claims
from kdtheory.verify._core import REGISTRY, plain

ALL = claims()
IDS = [c.id for c in ALL]
ERRATA = [c for c in ALL if c.expected == "erratum"]


@pytest.fixture(scope="module")
def quick_verdicts():
    """Quick-mode verdicts at seed 0, computed once for the tests below."""
    return {}


def verdict(c, cache):
    if c.id not in cache:
        cache[c.id] = c.run(mode="quick", seed=0)
    return cache[c.id]


@pytest.mark.parametrize("c", ALL, ids=IDS)
def test_claim_ok_in_quick_mode(c, quick_verdicts):
    v = verdict(c, quick_verdicts)
    assert v.ok, f"{c.id}: expected {v.expected}, observed {v.observed}; details {v.details}"
    json.loads(v.to_json())


def deciding_details(v) -> dict:
    """The details of the sub-check that decided a verdict (the verdict's own when none is named)."""
    part = v.details.get(v.decided_by) if v.decided_by else None
    return part if isinstance(part, dict) else v.details


@pytest.mark.parametrize("c", ALL, ids=IDS)
def test_negative_control_fails(c):
    v = c.run(mode="quick", seed=0, control=True)
    assert v.observed == "fails", f"{c.id}: the negative control was not detected; details {v.details}"
    assert not deciding_details(v).get("inconclusive"), (
        f"{c.id}: the control fails only for want of draws (the data do not refute it): {deciding_details(v)}")


@pytest.mark.parametrize("c", ERRATA, ids=lambda c: c.id)
def test_erratum_positive_control_holds(c):
    v = c.run(mode="quick", seed=0, positive=True)
    assert v.observed == "holds", (f"{c.id}: the positive control (a true neighbour of the printed statement) "
                                   f"was reported as failing, so the check may say 'fails' unconditionally; {v.details}")


@pytest.mark.parametrize("c", ERRATA, ids=lambda c: c.id)
def test_erratum_has_certified_counterexample_and_correction(c, quick_verdicts):
    v = verdict(c, quick_verdicts)
    assert "counterexample" in v.details, f"{c.id}: an erratum must report its counterexample"
    assert not deciding_details(v).get("inconclusive"), (
        f"{c.id}: the erratum's deciding probability check is inconclusive, not refuted: {deciding_details(v)}")
    cert = v.details.get("certificate")
    assert isinstance(cert, dict), f"{c.id}: the headline counterexample needs details['certificate'] (evidence.certificate)"
    assert cert["holds"] is False, f"{c.id}: the certificate does not exhibit a failure: {cert}"
    assert cert["precision"] == "exact" or int(cert["precision"].split()[0]) >= 40
    assert f"{c.id}_corrected" in REGISTRY, f"{c.id}: an erratum needs a registered '{c.id}_corrected'"
    assert REGISTRY[f"{c.id}_corrected"].expected == "holds"


@pytest.mark.parametrize("c", [c for c in ALL if c.expected == "holds" and c.kind == "inequality"],
                         ids=lambda c: c.id)
def test_holding_inequality_reports_tightness(c, quick_verdicts):
    v = verdict(c, quick_verdicts)
    text = json.dumps(v.details)
    assert '"tightness"' in text, f"{c.id}: a holding bound must report its tightness (worst measured/bound)"


@pytest.mark.parametrize("c", ALL, ids=IDS)
def test_docstring_has_the_four_parts(c):
    parts = ("Claim", "Setting", "Check", "Negative control") + (("Positive control",) if c.expected == "erratum" else ())
    for part in parts:
        assert part in c.doc, f"{c.id}: docstring lacks '{part}'"


def test_run_seeds_differ_by_id_and_repeat():
    a, b = Run("x.a", seed=1).rng.random(3), Run("x.a", seed=1).rng.random(3)
    c = Run("x.b", seed=1).rng.random(3)
    d = Run("x.a", seed=1, positive=True).rng.random(3)
    assert (a == b).all() and not (a == c).all() and not (a == d).all()
    with pytest.raises(ValueError, match="exclusive"):
        Run("x.a", control=True, positive=True)


def test_positive_control_is_for_errata_only():
    holding = next(c for c in ALL if c.expected == "holds")
    with pytest.raises(ValueError, match="errata only"):
        holding.run(positive=True)


def test_plain_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        plain({"x": float("nan")})


@pytest.mark.parametrize("c", [c for c in ALL if c.recheck], ids=lambda c: c.id)
def test_recheck_snippet_runs(c, capsys):
    exec(compile(c.recheck, f"<recheck {c.id}>", "exec"), {})
    assert capsys.readouterr().out.strip(), f"{c.id}: the recheck snippet prints nothing"
