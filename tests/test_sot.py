"""Tests for [sot]: calculators against SymPy, input checks, kernel twins, engines against exact
enumeration, and one regression test per counterexample."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import kdtheory.numerics.sot as ns
import kdtheory.theory.sot as ts

RNG = np.random.default_rng(20240601)


# ----------------------------------------------------------------------------- SymPy vs calculators


def test_gain_radius_matches_sympy():
    import sympy as sp

    d = ts.derive_gain_radius()
    eps, K, p = sp.symbols("eps K p", positive=True)
    for _ in range(20):
        e, k = float(RNG.uniform(0, 1)), int(RNG.integers(2, 30))
        assert ts.gain_radius(e, k, 1) == pytest.approx(float(d[1].subs({eps: e, K: k})), rel=1e-14)
        assert ts.gain_radius(e, k, 2) == pytest.approx(float(d[2].subs({eps: e, K: k})), rel=1e-14)
        q = float(RNG.uniform(1, 8))
        assert ts.gain_radius(e, k, q) == pytest.approx(float(d["general"].subs({eps: e, K: k, p: q})), rel=1e-13)
    assert ts.gain_radius(0.3, 5, math.inf) == 0.3


@pytest.mark.parametrize("K", [2, 3, 4])
def test_lemma_a3_kkt_matches_calculators(K):
    import sympy as sp

    d = ts.derive_lemma_a3_kkt(K)
    assert all(r == 0 for r in d["residual"])
    for _ in range(10):
        ybar = RNG.dirichlet(np.ones(K) * 5)
        a = float(RNG.uniform(0, 0.02))
        y = sp.symbols(f"y1:{K + 1}", positive=True)
        aa = sp.symbols("a", positive=True)
        sub = {aa: a, **{y[k]: ybar[k] for k in range(K - 1)}}
        expected = np.array([float(v.subs(sub)) for v in d["solution"].values()])
        np.testing.assert_allclose(ts.lemma_a3_minimizer_printed(ybar, a), expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ts.lemma_a3_minimizer(ybar, a, math.inf), expected, rtol=1e-12, atol=1e-14)


def test_xi_K_matches_sympy():
    import sympy as sp

    d = ts.derive_xi_K()
    Ks = sp.symbols("K", positive=True, integer=True)
    for K in (1, 2, 3, 7, 100):
        assert ts.xi_K(K, 1) == pytest.approx(float(d[1].subs(Ks, K)), rel=1e-15)
        assert ts.xi_K(K, 2) == pytest.approx(float(d[2].subs(Ks, K)), rel=1e-14)
        assert ts.xi_K(K, math.inf) == pytest.approx(float(d["inf"].subs(Ks, K)), rel=1e-15)
        assert ts.xi_K(K, 3.0) <= ts.xi_K(K, 2) + 1e-12        # p-norms decrease in p


def test_theorem_radius_lemma_a1_regrouping_running_average_match_sympy():
    import sympy as sp

    r = ts.derive_theorem3_6_radius()["eps_tilde"][0]
    n, K, d = sp.symbols("n K delta", positive=True)
    for _ in range(10):
        nn, kk, dd = int(RNG.integers(1, 1000)), int(RNG.integers(1, 50)), float(RNG.uniform(0.01, 0.99))
        assert ts.prop3_3_radius(nn, kk, dd) == pytest.approx(float(r.subs({n: nn, K: kk, d: dd})), rel=1e-13)
        assert ts.theorem3_6_bound(nn, max(kk, 2), 1, 0, 1, 0, dd, math.inf) == pytest.approx(
            ts.prop3_3_radius(nn, max(kk, 2), dd), rel=1e-14)
    e = ts.derive_lemma_a1()["distance"]
    nn_, L, rr = sp.symbols("n L_star r", positive=True)
    assert ts.lemma_a1_bound_sharp(0.3, 2.0, 7) == pytest.approx(float(e.subs({nn_: 7, L: 0.3, rr: 2.0})), rel=1e-15)
    assert ts.derive_regrouping()["weighted_minus_risk"] == 0
    assert ts.derive_running_average()["residual"] == 0
    assert all(v == 0 for v in ts.derive_proper_scores().values())


def test_schedules_and_softmax_match_sympy():
    import sympy as sp

    sym = ts.derive_schedules()
    t, T, lm = sp.symbols("t T lambda_max", positive=True)
    fns = {"linear": ts.linear_schedule, "cosine": ts.cosine_schedule, "cyclic": ts.cyclic_schedule}
    for name, fn in fns.items():
        expr = sp.sympify(sym[name]["derivative"])
        for _ in range(5):
            tt, TT, l = float(RNG.uniform(0.1, 9)), 10.0, float(RNG.uniform(0.1, 3))
            h = 1e-6
            num = (fn(tt + h, TT, l) - fn(tt - h, TT, l)) / (2 * h)
            assert num == pytest.approx(float(expr.subs({t: tt, T: TT, lm: l})), rel=1e-6)
    cols = ts.derive_softmax_lipschitz_l1(3)["column_sums"]
    p1, p2 = sp.symbols("p1 p2", positive=True)
    z = RNG.standard_normal(3)
    p = np.exp(z) / np.exp(z).sum()
    J = np.diag(p) - np.outer(p, p)
    for j in range(3):
        assert np.abs(J[:, j]).sum() == pytest.approx(float(cols[j].subs({p1: p[0], p2: p[1]})), rel=1e-12)


# ----------------------------------------------------------------------------- calculators


def test_lemma_a3_minimizer_is_optimal_against_bruteforce():
    from scipy.optimize import minimize

    for _ in range(30):
        K = int(RNG.integers(2, 5))
        y = RNG.dirichlet(np.ones(K) * 0.7)
        eps = float(RNG.uniform(0.001, 0.3))
        for p in (1, math.inf):
            c = ts.lemma_a3_minimizer(y, eps, p)
            assert abs(c.sum() - 1) < 1e-12 and c.min() >= 0
            v = ts.lemma_a3_objective(y, c, eps, p)
            f = lambda q: ts.lemma_a3_objective(y, np.clip(q, 0, 1) / max(np.clip(q, 0, 1).sum(), 1e-12), eps, p)
            best = min(minimize(f, RNG.dirichlet(np.ones(K)), method="Nelder-Mead").fun for _ in range(3))
            assert v <= best + 1e-9


def test_lemma_a4_min_count_small_cases():
    assert ts.lemma_a4_min_count(10, 2, 1.0) == 6      # (6, 4): 6 inputs in the large cell
    assert ts.lemma_a4_min_count(10, 10, 1.0) == 10     # every cell has >= 1 input
    assert ts.lemma_a4_min_count(7, 3, 2.0) == max(math.ceil(7 / 6), 7 - 2 * (math.ceil(7 / 6) - 1))
    for N in range(1, 30):
        for M in range(1, N + 1):
            assert ts.lemma_a4_min_count(N, M, 1.5) >= ts.lemma_a4_count_bound(N, M, 1.5) - 1e-9


def test_well_populated_inputs_count_meets_lemma_a4():
    for _ in range(20):
        M = int(RNG.integers(1, 8))
        cell_of = RNG.integers(0, M, int(RNG.integers(M, 60)))
        kappa = float(RNG.choice([1.0, 2.0, 3.5]))
        mask = ts.well_populated_inputs(cell_of, kappa, M)
        assert mask.sum() >= ts.lemma_a4_count_bound(cell_of.size, M, kappa) - 1e-9


def test_welch_and_scores_and_regularisers():
    r = ts.welch_test(73.73, 0.13, 3, 74.35, 0.23, 3)
    assert r["t"] == pytest.approx(4.06, abs=0.01) and 0 < r["p_value"] < 0.05
    assert ts.welch_test(1.0, 0.0, 3, 2.0, 0.0, 3)["p_value"] == 0.0
    q = np.array([0.2, 0.3, 0.5])
    assert float(ts.scoring_loss(q, q, "brier")) == pytest.approx(1 - q @ q)
    assert float(ts.scoring_loss(np.ones(3), q, "nll")) == 0.0
    W = np.array([[1.0, -2.0, 0.0], [0.5, 3.0, -1.0]])
    assert ts.layer_lipschitz_l1(W) == 5.0
    assert ts.network_lipschitz_bound_l1([W.T @ W, W], softmax_output=True) == pytest.approx(
        0.5 * ts.layer_lipschitz_l1(W.T @ W) * 5.0)
    assert ts.lipschitz_bound_from_regularizer(ts.lipschitz_regularizer([W, W.T]), 2) >= \
        ts.network_lipschitz_bound_l1([W, W.T]) - 1e-12
    H = RNG.dirichlet(np.ones(4), (6, 5))
    avg = np.zeros((5, 4))
    for t in range(6):
        avg = ts.running_average_update(avg, H[t], t)
    np.testing.assert_allclose(avg, ts.running_average(H)[-1], rtol=1e-14)
    assert ts.piecewise_schedule(0.0, 9.0, 1.0) == 0.0 and ts.piecewise_schedule(3.0, 9.0, 1.0) == 0.0
    assert ts.piecewise_schedule(3.5, 9.0, 1.0) == 0.5 and ts.piecewise_schedule(9.0, 9.0, 1.0) == 1.0


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("call,match", [
    (lambda: ts.prop3_3_radius(0, 2, 0.1), "prop3_3_radius: n must"),
    (lambda: ts.prop3_3_radius(10, 2, 1.0), "prop3_3_radius: delta must lie in"),
    (lambda: ts.gain_radius(0.1, 1, 2), "gain_radius: K must"),
    (lambda: ts.gain_radius(0.1, 3, 0.5), "gain_radius: p must be >= 1"),
    (lambda: ts.lemma_a3_minimizer([0.5, 0.6], 0.1, 1), "lemma_a3_minimizer: ybar must sum to 1"),
    (lambda: ts.lemma_a3_minimizer([1.0, 0.0], 0.1, 1), "lemma_a3_minimizer: eps must leave the minimiser unique"),
    (lambda: ts.lemma_a3_minimizer([0.98, 0.01, 0.01], 0.1, 2), "lemma_a3_minimizer: ybar must keep"),
    (lambda: ts.theorem3_6_bound(10, 2, 1, 0.1, 1, 0.1, 0.1, math.inf, kappa=0.5), "theorem3_6_bound: kappa"),
    (lambda: ts.lemma_a4_count_bound(10, 0, 1.0), "lemma_a4_count_bound: n_cells"),
    (lambda: ts.regrouped_risk([1.0, 2.0], [1, 0]), "regrouped_risk: cell_sizes must be integers >= 1"),
    (lambda: ts.layer_lipschitz_l1([1.0, 2.0]), "layer_lipschitz_l1: W must have 2"),
    (lambda: ts.lipschitz_regularizer([np.eye(2), np.eye(3)]), "lipschitz_regularizer: weights\\[1\\] must"),
    (lambda: ts.linear_schedule(11, 10, 1.0), "linear_schedule: t must lie in"),
    (lambda: ts.running_average_update(np.zeros(2), np.zeros(3), 1), "running_average_update: prediction"),
    (lambda: ts.crl_correctness_frequency(np.ones((2, 3, 4)) / 4, [0, 1, 4]), "crl_correctness_frequency: labels"),
    (lambda: ts.welch_test(1, 0.1, 1, 2, 0.1, 3), "welch_test: n_a"),
    (lambda: ts.scoring_loss([0.5, 0.5], [0.5, 0.5], "hinge"), "scoring_loss: kind must be one of"),
    (lambda: ns.make_setting([0, 2]), "make_setting: cell_sizes must be integers >= 1"),
    (lambda: ns.monte_carlo_errors(ns.make_setting([3, 3]), 0.8, 10), "monte_carlo_errors: L must give a gain"),
    (lambda: ns.cell_minimizer([0, 3], 3, 0.1), "cell_minimizer: labels must be integers in"),
    (lambda: ns.multinomial_tail_function([0.5, 0.5], 0), "multinomial_tail_function: N must"),
    (lambda: ns.covering_number([0.0, 1.0], 0.0), "covering_number: r must be > 0"),
    (lambda: ns.train_teacher(ns.pstar_data(n_train=20, n_test=20, n_cal=20), schedule="square"),
     "train_teacher: schedule must be one of"),
])
def test_bad_inputs_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_types_raise_type_errors():
    with pytest.raises(TypeError, match="prop3_3_radius: n must be an integer"):
        ts.prop3_3_radius(2.5, 2, 0.1)
    with pytest.raises(TypeError, match="xi_K: p must be a real number"):
        ts.xi_K(3, "inf")
    with pytest.raises(TypeError, match="monte_carlo_errors: setting must be a Setting"):
        ns.monte_carlo_errors("setting", 0.1, 10)


# ----------------------------------------------------------------------------- kernel twins and engines


@pytest.mark.parametrize("p", [1.0, math.inf])
@pytest.mark.parametrize("L", [0.0, 0.07, 0.2])
def test_monte_carlo_kernel_equals_numpy_twin(p, L):
    s = ns.make_setting([1, 4, 9, 2, 15], 4, r=1.0, L_star=0.2, p=p, seed=3)
    U = np.random.default_rng(5).random((150, s.N))
    a = ns.monte_carlo_errors(s, L, 150, p=p, uniforms=U, backend="numba")
    b = ns.monte_carlo_errors(s, L, 150, p=p, uniforms=U, backend="numpy")
    np.testing.assert_array_equal(a["errors"], b["errors"])
    np.testing.assert_array_equal(a["centres"], b["centres"])


def test_monte_carlo_centres_equal_closed_form_and_engine():
    s = ns.make_setting([6, 9], 3, r=1.0, L_star=0.1, seed=2)
    U = np.random.default_rng(1).random((40, s.N))
    out = ns.monte_carlo_errors(s, 0.1, 40, uniforms=U)
    y = ns.draw_labels(s.pstar, U)
    for rep in range(40):
        for j in range(2):
            yy = y[rep][s.cell_of == j]
            if np.unique(yy).size < 2:
                continue
            c = ts.lemma_a3_minimizer(np.bincount(yy, minlength=3) / yy.size, 0.1, math.inf)
            np.testing.assert_allclose(out["centres"][rep, j], c, atol=1e-14)
            np.testing.assert_allclose(ns.cell_minimizer(yy, 3, 0.1, math.inf)["centre"], c, atol=1e-13)


def test_monte_carlo_violation_frequency_matches_exact_enumeration():
    """One cell of 6 inputs, K = 2: exact violation probability of a threshold vs the engine's frequency."""
    from scipy.stats import binom

    s = ns.make_setting([6], 2, r=1.0, L_star=0.0, p=math.inf, seed=0, q0=[0.3, 0.7], q1=[0.3, 0.7])
    R = 20000
    err = ns.monte_carlo_errors(s, 0.05, R, seed=9)["errors"][:, 0]
    thr = 0.25
    # exact: condition on the input's own label and the other 5 labels' count of class 0
    prob = 0.0
    for y0 in (0, 1):
        for k in range(6):
            w = s.pstar[0, y0] * binom.pmf(k, 5, 0.3)
            counts = np.array([k + (y0 == 0), 5 - k + (y0 == 1)])
            yb = counts / 6
            if np.count_nonzero(counts) >= 2:
                c = ts.lemma_a3_minimizer(yb, 0.05, math.inf)
                e = float(np.max(np.abs(np.eye(2)[y0] - s.pstar[0]))) if c[y0] + 0.05 >= 1 else \
                    0.05 + float(np.max(np.abs(c - s.pstar[0])))
            else:
                e = float(np.max(np.abs(np.eye(2)[y0] - s.pstar[0])))
            prob += w * (e >= thr)
    freq = float(np.mean(err >= thr))
    se = math.sqrt(prob * (1 - prob) / R)
    assert abs(freq - prob) <= 4 * se + 1e-12


def test_exact_tails_against_sampling_and_each_other():
    q = np.array([0.5, 0.3, 0.2])
    tf = ns.multinomial_tail_function(q, 7, 1)
    assert tf["tail"][-1] == pytest.approx(1.0, abs=1e-12) and np.all(np.diff(tf["tail"]) >= 0)
    law = ns.poisson_multinomial_pmf(np.tile(q, (7, 1)))
    assert law["pmf"].sum() == pytest.approx(1.0, abs=1e-13)
    dev = np.abs(law["counts"] / 7 - q).sum(axis=1)
    eps = tf["values"][3]
    assert np.sum(law["pmf"][dev >= eps * (1 - 1e-12)]) == pytest.approx(tf["tail"][3], abs=1e-13)
    draws = np.random.default_rng(4).multinomial(7, q, 40000)
    freq = np.mean(np.abs(draws / 7 - q).sum(axis=1) >= eps * (1 - 1e-12))
    assert abs(freq - tf["tail"][3]) <= 4 * math.sqrt(tf["tail"][3] * (1 - tf["tail"][3]) / 40000)
    assert ns.compositions(5, 3).shape == (21, 3)


def test_covering_number_is_optimal_in_one_dimension():
    for _ in range(30):
        x = RNG.uniform(0, 10, int(RNG.integers(1, 12)))
        r = float(RNG.uniform(0.2, 3))
        k = ns.covering_number(x, r)
        # a cover by k balls exists (greedy) and no cover by k - 1 exists: any k-1 balls leave a gap
        xs = np.sort(x)
        gaps = 0
        start = xs[0]
        for v in xs[1:]:
            if v - start > 2 * r:
                gaps += 1
                start = v
        assert k == gaps + 1


def test_cell_minimizer_two_norm_matches_closed_form_inside_its_region():
    y = np.array([0, 0, 0, 1, 1, 2])
    res = ns.cell_minimizer(y, 3, 0.1, 2.0)
    np.testing.assert_allclose(res["centre"], ts.lemma_a3_minimizer(np.bincount(y) / 6, 0.1, 2.0), atol=2e-6)


def test_sibling_minimizer():
    y = np.array([0, 0, 1, 0, 1, 0, 0])
    np.testing.assert_allclose(ns.sibling_minimizer(y, 2, "nll"), [5 / 7, 2 / 7], atol=1e-6)
    np.testing.assert_allclose(ns.sibling_minimizer(y, 2, "l2_distance"), [1.0, 0.0], atol=1e-9)


# ----------------------------------------------------------------------------- counterexamples (regressions)


def test_counterexample_setting_nll_on_the_cube():
    e = np.array([1.0, 0.0])
    assert float(ts.scoring_loss(np.ones(2), e, "nll")) == float(ts.scoring_loss(e, e, "nll")) == 0.0
    q = np.array([0.5, 0.5])
    assert float(ts.scoring_loss(np.ones(2), q, "nll")) < float(ts.scoring_loss(q, q, "nll"))


def test_counterexample_prop3_3_l2_distance():
    assert ts.prop3_3_radius(201, 2, 0.05) < 0.3


def test_counterexample_lemma_a3():
    printed = ts.lemma_a3_minimizer_printed(np.array([2, 1, 0]) / 3, 0.1)
    assert printed[2] == pytest.approx(-0.1)
    true = ts.lemma_a3_minimizer(np.array([2, 1, 0]) / 3, 0.1, math.inf)
    np.testing.assert_allclose(true, [0.7, 0.3, 0.0], atol=1e-15)   # water-filling on the observed classes
    yb = np.array([3, 2, 1]) / 6
    assert ts.lemma_a3_objective(yb, ts.lemma_a3_minimizer_printed(yb, 0.1), 0.1, 2) > \
        ts.lemma_a3_objective(yb, ts.lemma_a3_minimizer(yb, 0.1, 2), 0.1, 2)


def test_counterexample_eq18():
    assert ts.regrouped_risk_printed([0, 1], [1, 3]) == 0.5 and ts.regrouped_risk([0, 1], [1, 3]) == 0.75


def test_counterexample_decoupling():
    a = 0.1 * 0.9
    c1 = ts.lemma_a3_minimizer(np.array([0.75, 0.25]), a, math.inf)
    c2 = ts.lemma_a3_minimizer(np.array([0.25, 0.75]), a, math.inf)
    assert abs(c1[0] + a - c2[0]) > 0.1 * 0.6


def test_counterexample_theorem3_6_and_3_8():
    assert ts.theorem3_6_bound(400, 2, 2, 0.05, 1.0, 0.0, 0.1, math.inf) < 0.5
    b = ts.theorem3_8_bound(72000, 2, 6000, 0.0, 1.0, 0.0, 0.5, 1.0, 0.0, 0.0, kappa=2.0)
    assert 5 / 6 < b < 1.0          # exceeded exactly when all 12 labels of a cell agree
    assert 1 - (1 - Fraction(1, 2048)) ** 3001 > Fraction(1, 2)
    assert ts.theorem3_8_bound_corrected(72000, 2, 6000, 0.0, 1.0, 0.0, 0.5, 1.0, 0.0, 0.0, kappa=2.0) > 1.0


def test_regrouping_gap_sign():
    import sympy as sp

    g = ts.derive_regrouping()["printed_minus_risk"]
    n1, n2, R1, R2 = sp.symbols("n1 n2 R1 R2", positive=True)
    assert sp.simplify(g - (R2 - R1) * (n1 - n2) / (2 * (n1 + n2))) == 0
    assert g.subs({n1: 1, n2: 3, R1: 0, R2: 1}) == sp.Rational(-1, 4)
    assert ts.regrouped_risk_printed([0, 1], [1, 3]) - ts.regrouped_risk([0, 1], [1, 3]) == -0.25


def test_theorem3_8_corrected_instances_are_not_vacuous():
    from kdtheory.verify.sot.theorems import CORRECTED_IDENTITY

    for M, n, delta in CORRECTED_IDENTITY:   # the corrected Eq. (6) below the largest 1-norm error 1
        assert ts.theorem3_8_bound_corrected(M * n, 2, M, 0.0, 1.0, 0.0, delta, 1.0, 0.0, 0.0) < 1.0


def test_theorem3_6_high_delta_cells_violation_probability():
    from math import comb

    from kdtheory.verify.sot.theorems import HIGH_DELTA_CELLS

    # 1-norm error 2 |c/n - 1/2| of a single cell with p* = (1/2, 1/2), L = 0: binomial violation probability
    probs = []
    for n, delta in HIGH_DELTA_CELLS:
        b = ts.theorem3_6_bound(n, 2, 1, 0.0, 1.0, 0.0, delta, 1.0)
        probs.append(sum(Fraction(comb(n, c), 2 ** n) for c in range(n + 1) if 2 * abs(Fraction(c, n) - Fraction(1, 2)) >= b))
        assert 0.05 < probs[-1] < delta
    assert probs[0] == Fraction(18, 256)


def test_counterexample_tables_crd():
    from kdtheory.verify.sot.tables import TABLE5

    b, s = TABLE5["CRD"]
    assert Fraction(s) * 2 != Fraction(b)


# ----------------------------------------------------------------------------- pipeline


def test_pipeline_small_run():
    d = ns.pstar_data(n_train=60, n_test=50, n_cal=50, seed=1)
    run = ns.train_teacher(d, hidden=8, epochs=4, lambda_lr=1e-3, lambda_cr=1.0, augment="jitter",
                           augment_strength=0.1, checkpoint_every=2, seed=0)
    assert run.checkpoint_epochs == [2, 4] and run.lambda_cr[0] == 0.0
    P = ns.predict(run.checkpoints[-1], d.X_test)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    st = ns.distill_student(d, ns.predict(run.checkpoints[-1], d.X_train, 4.0), hidden=4, epochs=3)
    acc = float(np.mean(ns.predict(st, d.X_test).argmax(1) == d.y_test))
    assert 0.0 <= acc <= 1.0
    assert 0.0 <= ns.expected_calibration_error(P, d.y_test) <= 1.0
    T = ns.fit_temperature(np.log(P), d.y_test)
    assert math.exp(-4) <= T <= math.exp(4)
    assert ns.negative_log_likelihood(P, d.y_test) > 0
