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
