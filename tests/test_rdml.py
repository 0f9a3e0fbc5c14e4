"""Paper-specific tests for [rdml] Sec. 2: the Rényi divergence calculators, derivations, kernel and generators."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import rel_entr

from theory import rdml as T

# --------------------------------------------------------------------------- strategies

ENTRY = st.one_of(st.just(0.0), st.floats(1e-300, 1e-8), st.floats(1e-8, 1.0))
ORDER = st.one_of(st.sampled_from([0.0, 1e-12, 1e-6, 0.5, 1.0 - 1e-9, 1.0, 1.0 + 1e-9, 2.0, 1e4, 1e8, math.inf]),
                  st.floats(0.0, 200.0))


@st.composite
def pairs(draw, min_m=2, max_m=6):
    m = draw(st.integers(min_m, max_m))
    p = np.array(draw(st.lists(ENTRY, min_size=m, max_size=m)))
    q = np.array(draw(st.lists(ENTRY, min_size=m, max_size=m)))
    if p.sum() == 0:
        p[draw(st.integers(0, m - 1))] = 1.0
    if q.sum() == 0:
        q[draw(st.integers(0, m - 1))] = 1.0
    if draw(st.booleans()) and draw(st.booleans()):
        q = p.copy()
    return p / p.sum(), q / q.sum()


def infinite_by_definition(p, q, a):
    sp, sq = p > 0, q > 0
    if a == 0:
        return not np.any(sp & sq)          # Q(supp P) = 0
    if a < 1:
        return not np.any(sp & sq)          # disjoint supports
    return bool(np.any(sp & ~sq))           # P not absolutely continuous w.r.t. Q


# --------------------------------------------------------------------------- properties of renyi_divergence


@settings(max_examples=300, deadline=None)
@given(pairs(), ORDER)
def test_divergence_finite_or_inf_exactly_where_the_mathematics_says(pq, a):
    p, q = pq
    d = T.renyi_divergence(p, q, a)
    assert not math.isnan(d)
    assert d >= 0
    assert math.isinf(d) == infinite_by_definition(p, q, a)


@settings(max_examples=200, deadline=None)
@given(pairs(), st.floats(1e-9, 1e6))
def test_zero_exactly_when_equal_for_positive_orders(pq, a):
    p, q = pq
    d = T.renyi_divergence(p, q, a)
    assert (d == 0) == bool(np.array_equal(p, q))
    assert T.renyi_divergence(p, p, a) == 0.0


@settings(max_examples=200, deadline=None)
@given(pairs())
def test_order_zero_vanishes_iff_q_lives_on_supp_p(pq):
    p, q = pq
    d0 = T.renyi_divergence(p, q, 0.0)
    assert (d0 == 0) == bool(np.all(q[p == 0] == 0))


@settings(max_examples=300, deadline=None)
@given(pairs())
def test_order_one_equals_scipy_rel_entr(pq):
    p, q = pq
    d = T.renyi_divergence(p, q, 1.0)
    ref = float(np.sum(rel_entr(p, q)))
    if math.isinf(ref):
        assert math.isinf(d)
    else:
        # scipy sums p log(p/q) directly; both agree up to the rounding of that sum
        scale = float(np.sum(np.where(p > 0, np.abs(rel_entr(p, q)), 0.0))) + 1e-300
        assert abs(d - ref) <= 1e-12 * abs(ref) + 1e-14 * max(scale, 1.0)


@settings(max_examples=150, deadline=None)
@given(pairs())
def test_nondecreasing_in_order(pq):
    p, q = pq
    grid = np.array([0.0, 1e-9, 0.1, 0.5, 0.9, 1.0, 1.1, 2.0, 10.0, 1e3, 1e6, math.inf])
    d = T.renyi_divergence(p, q, grid)
    for lo, hi in zip(d[:-1], d[1:]):
        assert hi >= lo * (1 - 1e-12)


def test_vectorised_over_batches_and_orders():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=5)
    q = rng.dirichlet(np.ones(4), size=5)
    a = np.array([0.0, 0.5, 1.0, 3.0, np.inf])
    table = T.renyi_divergence(p, q, a[:, None])
    assert table.shape == (5, 5)
    for i in range(5):
        for j in range(5):
            assert table[j, i] == T.renyi_divergence(p[i], q[i], a[j])
    assert T.renyi_divergence(p, q[0], 2.0).shape == (5,)


def test_known_values_and_limits():
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    assert T.renyi_divergence(p, q, 0) == 0.0
    assert T.renyi_divergence(p, q, 0.5) == pytest.approx(-2 * np.log(np.sqrt(0.45) + np.sqrt(0.05)), rel=1e-14)
    assert T.renyi_divergence(p, q, 2.0) == pytest.approx(np.log(0.25 / 0.9 + 0.25 / 0.1), rel=1e-14)
    assert T.renyi_divergence(p, q, np.inf) == pytest.approx(np.log(5.0), rel=1e-14)
    assert T.renyi_divergence(p, q, 1e8) == pytest.approx(np.log(5.0), rel=1e-7)
    kl = 0.5 * np.log(0.5 / 0.9) + 0.5 * np.log(5.0)
    assert T.renyi_divergence(p, q, 1 + 1e-10) == pytest.approx(kl, rel=1e-9)
    assert T.renyi_divergence([0.4, 0.6], [0.0, 1.0], 0.5) == pytest.approx(-np.log(0.6), rel=1e-14)


def test_high_precision_reference():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(40):
        p = rng.dirichlet(np.full(4, 0.5))
        q = p * (1 + 10 ** rng.uniform(-8, -2) * rng.standard_normal(4)) if rng.random() < 0.4 \
            else rng.dirichlet(np.full(4, 0.5))
        q = q / q.sum()
        P = [mp.mpf(x) for x in p]
        Q = [mp.mpf(x) for x in q]
        P = [x / sum(P) for x in P]
        Q = [x / sum(Q) for x in Q]
        for a in (1e-6, 0.3, 0.7, 1.0, 1.5, 20.0):
            if a == 1.0:
                ref = sum(x * mp.log(x / y) for x, y in zip(P, Q))
            else:
                A = mp.mpf(a)
                ref = mp.log(sum(x**A * y ** (1 - A) for x, y in zip(P, Q))) / (A - 1)
            got = T.renyi_divergence(p, q, a)
            # relative 1e-12 plus 1e-16 absolute: float64 rows sum to 1 only up to an ulp, which moves
            # a divergence by ~1e-16 whatever the algorithm
            worst = max(worst, abs(got - float(ref)) / (1e-12 * float(ref) + 1e-16))
    assert worst <= 1.0


# --------------------------------------------------------------------------- derivatives and derivations


def _complex_step_grad(p, z, a, h=1e-30):
    g = np.zeros_like(z)
    for i in range(len(z)):
        zc = z.astype(complex)
        zc[i] += 1j * h
        lq = zc - np.log(np.sum(np.exp(zc)))
        if a == 1:
            d = np.sum(p * (np.log(p) - lq))
        else:
            d = np.log(np.sum(p**a * np.exp((1 - a) * lq))) / (a - 1)
        g[i] = d.imag / h
    return g


def test_gradient_matches_complex_step():
    rng = np.random.default_rng(1)
    for _ in range(40):
        m = int(rng.integers(2, 6))
        p = rng.dirichlet(np.ones(m))
        z = 2 * rng.standard_normal(m)
        for a in (0.2, 0.5, 1.0, 2.0, 9.0):
            g = T.renyi_grad_logits(p, z, a)
            ref = _complex_step_grad(p, z, a)
            assert np.max(np.abs(g - ref)) <= 1e-12 * max(np.max(np.abs(ref)), 1e-3)


def test_gradient_and_hessian_match_sympy():
    import sympy as sp

    (a, ps, zs), _, grad, hess = T.derive_grad_logits(3)
    fg = sp.lambdify((a, ps, zs), grad, "mpmath")
    fh = sp.lambdify((a, ps, zs), hess, "mpmath")
    rng = np.random.default_rng(2)
    for _ in range(15):
        p = rng.dirichlet(np.ones(3))
        z = 2 * rng.standard_normal(3)
        al = float(10 ** rng.uniform(-1.5, 1.5))
        gs = np.array([float(x) for x in fg(al, p, z)])
        hs = np.array([[float(x) for x in row] for row in fh(al, p, z)])
        assert np.max(np.abs(T.renyi_grad_logits(p, z, al) - gs)) <= 1e-12 * np.max(np.abs(gs))
        assert np.max(np.abs(T.renyi_hessian_logits(p, z, al) - hs)) <= 1e-12 * np.max(np.abs(hs))


def test_gradient_limits_at_order_zero_one_and_inf():
    p = np.array([0.3, 0.7, 0.0])
    z = np.array([0.0, 1.0, 2.0])
    q = T.softmax(z)
    np.testing.assert_allclose(T.renyi_grad_logits(p, z, 1.0), q - p, rtol=0, atol=1e-15)
    r0 = np.array([q[0], q[1], 0.0]) / (q[0] + q[1])
    np.testing.assert_allclose(T.renyi_grad_logits(p, z, 0.0), q - r0, rtol=0, atol=1e-15)
    i = int(np.argmax(np.where(p > 0, p / q, -1)))
    np.testing.assert_allclose(T.renyi_grad_logits(p, z, np.inf), q - np.eye(3)[i], rtol=0, atol=1e-15)
    np.testing.assert_allclose(T.renyi_grad_logits(p, z, 1e6), T.renyi_grad_logits(p, z, np.inf), atol=1e-12)


def test_alpha_derivative_matches_sympy():
    import sympy as sp

    (a, ps, qs), deriv, closed = T.derive_alpha_derivative(3)
    import mpmath

    mpmath.mp.dps = 30
    f = sp.lambdify((a, ps, qs), deriv, "mpmath")
    g = sp.lambdify((a, ps, qs), closed, "mpmath")
    rng = np.random.default_rng(4)
    for _ in range(30):
        p, q = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3))
        al = float(10 ** rng.uniform(-1.5, 1.5))
        pm, qm = [mpmath.mpf(x) for x in p], [mpmath.mpf(x) for x in q]
        pm, qm = [x / sum(pm) for x in pm], [x / sum(qm) for x in qm]
        mine = T.renyi_divergence_dalpha(p, q, al)
        assert mine == pytest.approx(float(f(mpmath.mpf(al), pm, qm)), rel=1e-12)
        assert mine == pytest.approx(float(g(mpmath.mpf(al), pm, qm)), rel=1e-12)
    # at alpha = 1 the limit is Var_P(log p/q) / 2
    p, q = np.array([0.2, 0.3, 0.5]), np.array([0.3, 0.3, 0.4])
    ell = np.log(p / q)
    var = np.sum(p * (ell - np.sum(p * ell)) ** 2)
    assert T.renyi_divergence_dalpha(p, q, 1.0) == pytest.approx(var / 2, rel=1e-14)


def test_kl_limit_derivation_is_zero():
    assert T.derive_kl_limit(2)[2] == 0


def test_escort_properties():
    rng = np.random.default_rng(5)
    p, q = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    np.testing.assert_allclose(T.escort(p, 1.0), p, rtol=1e-15)
    np.testing.assert_allclose(T.escort(p, 0.0), np.full(4, 0.25), rtol=1e-15)
    np.testing.assert_allclose(T.escort(p, 1.0, q), p, rtol=1e-14)
    np.testing.assert_allclose(T.escort(p, 0.0, q), q, rtol=1e-14)
    r = T.escort(p, 2.5, q)
    np.testing.assert_allclose(r, p**2.5 * q**-1.5 / np.sum(p**2.5 * q**-1.5), rtol=1e-13)
    assert T.escort(p, np.array([0.5, 2.0])).shape == (2, 4)


def test_hellinger_and_bhattacharyya():
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    bc = np.sqrt(0.45) + np.sqrt(0.05)
    assert T.bhattacharyya_coefficient(p, q) == pytest.approx(bc, rel=1e-15)
    assert T.squared_hellinger(p, q) == pytest.approx(1 - bc, rel=1e-13)
    assert T.renyi_divergence(p, q, 0.5) == pytest.approx(-2 * np.log1p(-T.squared_hellinger(p, q)), rel=1e-14)


# --------------------------------------------------------------------------- input checking


@pytest.mark.parametrize("call, message", [
    (lambda: T.renyi_divergence([0.5, 0.6], [0.5, 0.5], 1.0), "renyi_divergence: p must sum to 1"),
    (lambda: T.renyi_divergence([0.5, 0.5], [-0.5, 1.5], 1.0), "renyi_divergence: q must have finite non-negative"),
    (lambda: T.renyi_divergence([0.5, 0.5], [0.5, 0.5], -1.0), "renyi_divergence: alpha must lie in [0, inf]"),
    (lambda: T.renyi_divergence([0.5, 0.5], [0.5, 0.5], np.nan), "renyi_divergence: alpha must lie in [0, inf]"),
    (lambda: T.renyi_divergence([0.5, 0.5], [0.2, 0.3, 0.5], 1.0), "renyi_divergence: q must have as many classes"),
    (lambda: T.escort([0.5, 0.5], 2.0, [1.0, 0.0]), "escort: q must be > 0 wherever p > 0 when alpha > 1"),
    (lambda: T.renyi_grad_logits([0.5, 0.5], [0.0, np.inf], 2.0), "renyi_grad_logits: z must be finite"),
    (lambda: T.renyi_grad_logits([0.5, 0.5], [0.0, 1.0, 2.0], 2.0), "renyi_grad_logits: z must have 2 classes"),
    (lambda: T.renyi_hessian_logits([0.5, 0.5], [0.0, 0.0], np.inf), "renyi_hessian_logits: p must have a unique argmax"),
    (lambda: T.renyi_divergence_dalpha([0.5, 0.5], [1.0, 0.0], 2.0), "renyi_divergence_dalpha: q must be > 0"),
    (lambda: T.renyi_divergence_dalpha([0.5, 0.5], [0.5, 0.5], 0.0), "renyi_divergence_dalpha: alpha must lie in (0, inf)"),
])
def test_value_errors_name_function_parameter_and_requirement(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(message), str(err.value)
    assert "got" in str(err.value)


def test_numerics_value_errors():
    from numerics.rdml import adversarial_pairs, random_pairs, renyi_batch

    with pytest.raises(ValueError, match="renyi_batch: backend must be 'numba' or 'numpy'"):
        renyi_batch(np.eye(2), np.eye(2), [1.0], backend="torch")
    with pytest.raises(ValueError, match="renyi_batch: alphas must be"):
        renyi_batch(np.eye(2), np.eye(2), [-1.0])
    with pytest.raises(ValueError, match="random_pairs: m must be an integer >= 2"):
        random_pairs(3, 1)
    with pytest.raises(ValueError, match="adversarial_pairs: n must be an integer >= 1"):
        adversarial_pairs(0, 3)


# --------------------------------------------------------------------------- generators and the kernel


def test_generators_are_seeded_and_valid():
    from numerics.rdml import ADVERSARIAL_KINDS, adversarial_pairs, random_pairs

    p1, q1 = random_pairs(50, 4, seed=7)
    p2, q2 = random_pairs(50, 4, seed=7)
    assert np.array_equal(p1, p2) and np.array_equal(q1, q2)
    assert not np.array_equal(p1, random_pairs(50, 4, seed=8)[0])
    pa, qa, kinds = adversarial_pairs(40, 3, seed=1)
    assert set(kinds) == set(ADVERSARIAL_KINDS)
    for x in (p1, q1, pa, qa):
        assert np.all(x >= 0) and np.allclose(x.sum(axis=1), 1.0, atol=1e-12)
    k = np.array(kinds)
    assert np.all(np.isinf(T.renyi_divergence(pa[k == "disjoint"], qa[k == "disjoint"], 0.5)))
    assert np.all(T.renyi_divergence(pa[k == "equal"], qa[k == "equal"], 2.0) == 0)
    assert np.min(pa[k == "near_boundary"][pa[k == "near_boundary"] > 0]) < 1e-8


def _twin_check(p, q, alphas):
    from numerics.rdml import renyi_batch
    from verify.evidence import relative_error

    a = renyi_batch(p, q, alphas, backend="numba")
    b = renyi_batch(p, q, alphas, backend="numpy")
    assert not np.any(np.isnan(a))
    assert np.max(relative_error(a, b)) <= 1e-12


def test_numba_kernel_equals_numpy_twin_on_generated_pairs():
    from numerics.rdml import ALPHAS_EXTREME, adversarial_pairs, random_pairs

    alphas = np.concatenate([ALPHAS_EXTREME, np.linspace(0.2, 4.0, 9)])
    for m in (2, 3, 7, 12):
        _twin_check(*random_pairs(300, m, seed=m), alphas)
        p, q, _ = adversarial_pairs(160, m, seed=m)
        _twin_check(p, q, alphas)


@settings(max_examples=60, deadline=None)
@given(st.lists(pairs(3, 3), min_size=1, max_size=8), st.lists(ORDER, min_size=1, max_size=5))
def test_numba_kernel_equals_numpy_twin_on_hypothesis_draws(plist, orders):
    p = np.array([x[0] for x in plist])
    q = np.array([x[1] for x in plist])
    _twin_check(p, q, np.array(orders))
