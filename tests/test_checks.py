"""The shared input-checking helper and evidence helpers."""

import numpy as np
import pytest

from kdtheory.theory._checks import require, require_distribution, require_in
from kdtheory.verify import evidence


def lipschitz_phi(tau):
    require_in(tau, "tau", 0.0, 0.1, closed="right")
    return tau


def test_message_names_function_parameter_value_requirement():
    with pytest.raises(ValueError, match=r"^lipschitz_phi: tau must lie in \(0, 0.1\], got 0.3$"):
        lipschitz_phi(0.3)


def test_require_distribution():
    require_distribution([0.5, 0.5], "p")
    with pytest.raises(ValueError, match="sum to 1"):
        require_distribution([0.5, 0.6], "p")
    with pytest.raises(ValueError, match="non-negative"):
        require_distribution([1.5, -0.5], "p")
    with pytest.raises(ValueError, match="^f: x must"):
        require(False, "x", 1, "be 2", func="f")


def test_bound_outcome_detects_violation():
    assert evidence.bound_outcome([1.0, 2.0], [1.0, 3.0]).holds
    out = evidence.bound_outcome([1.0, 2.0], [1.0, 1.5])
    assert not out.holds and out.measured == pytest.approx(4 / 3)


def test_identity_outcome():
    assert evidence.identity_outcome([1.0, np.inf], [1.0 + 1e-13, np.inf]).holds
    assert not evidence.identity_outcome([1.0], [1.0 + 1e-6]).holds


def test_clopper_pearson_covers():
    lo, hi = evidence.clopper_pearson(0, 100, confidence=0.95)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 100))


def test_loglog_slope():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    s, se = evidence.loglog_slope(x, 3 * x ** -0.5)
    assert s == pytest.approx(-0.5) and se < 1e-10


def test_maximize_finds_interior_max():
    x, v = evidence.maximize(lambda z: -np.sum((z - 0.3) ** 2), [np.zeros(2)])
    assert v == pytest.approx(0, abs=1e-8) and np.allclose(x, 0.3, atol=1e-4)


def test_type_errors_name_the_parameter():
    from kdtheory.theory._checks import require_array, require_int, require_real

    with pytest.raises(TypeError, match=r"^f: x must be a real number, got str 'a'$"):
        require_real("a", "x", func="f")
    with pytest.raises(TypeError, match=r"^f: n must be an integer"):
        require_int(2.0, "n", func="f")
    with pytest.raises(ValueError, match=r"^f: n must lie in \[1, 10\], got 11$"):
        require_int(11, "n", low=1, high=10, func="f")
    with pytest.raises(TypeError, match="not ragged"):
        require_array([[1, 2], [3]], "A", func="f")
    with pytest.raises(ValueError, match="finite"):
        require_real(float("nan"), "x", func="f")
    assert require_real(np.float32(2), "x") == 2.0 and require_array(3, "x").shape == ()


def test_tiers_scale_with_conditioning():
    assert evidence.IDENTITY.rtol(1.0) == 4096 * evidence.EPS
    assert evidence.IDENTITY.rtol(1e6) == pytest.approx(1e6 * evidence.IDENTITY.rtol())
    assert evidence.EXACT.rtol(0.1) == evidence.EXACT.rtol(1.0)  # cond is floored at 1
    assert np.allclose(evidence.cancellation([[1.0, -1.0 + 1e-8], [1.0, 1.0]]), [2e8, 1.0], rtol=1e-6)


def test_bound_certified_at_the_boundary():
    from fractions import Fraction

    value, bound = 1.0 + 2e-16, 1.0  # float says "violated by 2e-16"
    exact_equal = lambda i: (Fraction(1), Fraction(1))
    out = evidence.bound_outcome([value], [bound], certify=exact_equal)
    assert out.holds and out.details["float_excess"] == "rounding" and out.details["certificate"]["precision"] == "exact"
    really_above = lambda i: (Fraction(10 ** 16 + 2, 10 ** 16), Fraction(1))
    out = evidence.bound_outcome([value], [bound], certify=really_above)
    assert not out.holds and out.details["float_excess"].startswith("real")
    out = evidence.bound_outcome([value], [bound])
    assert not out.holds and "no extended-precision evaluator" in out.details["near_boundary"]
    assert not evidence.bound_outcome([1.1], [1.0], certify=exact_equal).holds  # far outside: never certified away


def test_bound_rounding_band_only_widens_what_is_recomputed():
    """An ill-conditioned instance (ratio of two logs near 1e-13, known to ~1e-3) is re-decided in extended
    precision when its rounding model says so; the extended-precision answer decides either way."""
    from fractions import Fraction

    value, bound = 1.2257e-13, 1.2248e-13                 # float ratio 1.0007
    equal = lambda i: (Fraction(1), Fraction(1))
    above = lambda i: (Fraction(10007, 10000), Fraction(1))
    assert not evidence.bound_outcome([value], [bound], certify=equal).holds             # outside the 1e-6 band
    assert evidence.bound_outcome([value], [bound], certify=equal, rounding=[1e-2]).holds
    assert not evidence.bound_outcome([value], [bound], certify=above, rounding=[1e-2]).holds
    assert not evidence.bound_outcome([value], [bound], certify=equal, rounding=[1e-4]).holds  # band too narrow


def test_identity_certified_just_outside_its_tier():
    import mpmath

    t = evidence.IDENTITY.rtol()
    lhs, rhs = 1.0, 1.0 + 3 * t
    out = evidence.identity_outcome([lhs], [rhs], certify=lambda i: (lambda: mpmath.mpf(1) / 3, lambda: 1 - mpmath.mpf(2) / 3))
    assert out.holds and out.details["float_discrepancy"] == "rounding"
    assert not evidence.identity_outcome([lhs], [rhs]).holds
    assert not evidence.identity_outcome([1.0], [1.1], certify=lambda i: (1, 1)).holds  # too far: no certification


def test_certificate_exact_and_mpmath():
    from fractions import Fraction

    import mpmath

    c = evidence.certificate(Fraction(4, 3), lambda: 8 * mpmath.sqrt(3) / 9, ">=")
    assert c["holds"] is False and c["precision"] == "50 digits" and c["lhs"].startswith("1.333")
    c = evidence.certificate(Fraction(1, 3), Fraction(1, 3), "==")
    assert c["holds"] is True and c["precision"] == "exact"
    with pytest.raises(ValueError, match="dps"):
        evidence.certificate(1, 2, "<=", dps=20)


def test_combine_prints_the_deciding_part():
    ok = evidence.bound_outcome([0.5], [1.0])
    bad = evidence.bound_outcome([3.0], [1.0])
    out = evidence.combine({"a": ok, "b": bad}, "a")
    assert not out.holds and out.decided_by == "b" and out.measured == 3.0
    out = evidence.combine({"a": ok, "b": ok}, "b")
    assert out.holds and out.decided_by == "b"


def test_statistical_outcomes():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, 4000)
    assert evidence.mean_bound_outcome(x, 1.0).holds
    assert not evidence.mean_bound_outcome(x, 0.8).holds
    # "with probability >= 1 - delta" holds only when the draws establish it (upper bound <= delta)
    established = evidence.probability_outcome(0, 1000, 0.01)
    assert established.holds and established.details["cp_high"] <= 0.01
    refuted = evidence.probability_outcome(50, 1000, 0.01)
    assert not refuted.holds and refuted.details["refuted"]
    open_case = evidence.probability_outcome(2, 100, 0.05)   # frequency 0.02 < delta, too few draws to say
    assert not open_case.holds and open_case.details["inconclusive"] and not open_case.details["refuted"]
    n = evidence.probability_outcome(0, 10, 0.05).details["draws_needed_if_no_violation"]
    assert evidence.probability_outcome(0, n, 0.05).holds and not evidence.probability_outcome(0, n - 1, 0.05).holds


def test_certificate_ties_and_infinities():
    import mpmath

    third = lambda: mpmath.mpf(1) / 3
    third_rounded = lambda: (1 - mpmath.mpf(2) / 3) * (1 + mpmath.mpf(10) ** -45)  # equal up to evaluation rounding
    assert evidence.certificate(third_rounded, third, "<=")["holds"]
    assert not evidence.certificate(third_rounded, third, "<")["holds"]
    assert evidence.certificate(third, third_rounded, "==")["holds"]
    assert not evidence.certificate(lambda: mpmath.inf, 1, "==")["holds"]
    assert evidence.certificate(lambda: mpmath.inf, lambda: mpmath.inf, "==")["holds"]
    assert not evidence.certificate(lambda: mpmath.inf, 1, "<=")["holds"]


def test_every_near_boundary_instance_is_certified():
    from fractions import Fraction

    # worst instance is rounding, the second one a real (tiny) violation: it must not hide
    values, bounds = [1.0 + 4e-16, 1.0 + 2e-16], [1.0, 1.0]
    pairs = {0: (Fraction(1), Fraction(1)), 1: (Fraction(10 ** 16 + 2, 10 ** 16), Fraction(1))}
    out = evidence.bound_outcome(values, bounds, certify=lambda i: pairs[i])
    assert not out.holds and out.details["certified_instances"] == 2
    pairs[1] = (Fraction(1), Fraction(1))
    assert evidence.bound_outcome(values, bounds, certify=lambda i: pairs[i]).holds
