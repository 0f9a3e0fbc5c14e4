"""Tests generated from the claim registry: every claim is ok, every negative control fails."""

import json

import pytest

from kdtheory.verify import Run, claims
from kdtheory.verify._core import REGISTRY, plain

ALL = claims()
IDS = [c.id for c in ALL]


@pytest.mark.parametrize("c", ALL, ids=IDS)
def test_claim_ok_in_quick_mode(c):
    v = c.run(mode="quick", seed=0)
    assert v.ok, f"{c.id}: expected {v.expected}, observed {v.observed}; details {v.details}"
    json.loads(v.to_json())


@pytest.mark.parametrize("c", ALL, ids=IDS)
def test_negative_control_fails(c):
    v = c.run(mode="quick", seed=0, control=True)
    assert v.observed == "fails", f"{c.id}: the negative control was not detected; details {v.details}"


@pytest.mark.parametrize("c", [c for c in ALL if c.expected == "erratum"], ids=lambda c: c.id)
def test_erratum_has_counterexample_and_correction(c):
    v = c.run(mode="quick", seed=0)
    assert "counterexample" in v.details, f"{c.id}: an erratum must report its counterexample"
    assert f"{c.id}_corrected" in REGISTRY, f"{c.id}: an erratum needs a registered '{c.id}_corrected'"
    assert REGISTRY[f"{c.id}_corrected"].expected == "holds"


@pytest.mark.parametrize("c", ALL, ids=IDS)
def test_docstring_has_the_four_parts(c):
    for part in ("Claim", "Setting", "Check", "Negative control"):
        assert part in c.doc, f"{c.id}: docstring lacks '{part}'"


def test_run_seeds_differ_by_id_and_repeat():
    a, b = Run("x.a", seed=1).rng.random(3), Run("x.a", seed=1).rng.random(3)
    c = Run("x.b", seed=1).rng.random(3)
    assert (a == b).all() and not (a == c).all()


def test_plain_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        plain({"x": float("nan")})
