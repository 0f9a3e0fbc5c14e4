"""Paper-specific tests for [air]: calculators vs SymPy, quadrature vs closed forms, input checks, kernel twins,
finite width against the exact kernel dynamics, and regression tests for every counterexample."""

import math
from fractions import Fraction

import numpy as np
import pytest

import kdtheory.theory.air as ta
from kdtheory.numerics import air as na
from kdtheory.verify import evidence as ev


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _unit(rng, n, d):
    X = rng.normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1)[:, None]


# ---------------------------------------------------------------- SymPy against the calculators


def test_lemma6_derivation_equals_calculators():
    import sympy as sp

    d = ta.derive_lemma6()
    eta, alpha, beta, Lh, rho, n, K, c, lam, G = d["symbols"]
    rng = np.random.default_rng(0)
    for _ in range(20):
        vals = {n: int(rng.integers(2, 50)), K: 1, c: float(rng.uniform(0.1, 1)), lam: float(rng.uniform(0.01, 1)),
                G: float(rng.uniform(1, 3)), rho: float(rng.uniform(0, 0.45))}
        vals[K] = int(rng.integers(1, vals[n] + 1))
        const = ta.lemma6_constants(vals[n], vals[K], vals[c], vals[lam], vals[G], 10 ** 14, 1.0, vals[rho])
        assert const["eta"] == pytest.approx(1 / (2 * const["beta"] ** 2), rel=1e-14)   # huge width: eta = 1/(2 beta^2)
        assert const["a_min"] == pytest.approx(float(d["a_min_theorem"].subs(vals)), rel=1e-12)
        assert const["decay_max"] == pytest.approx(float(d["decay_max_theorem"].subs(vals)), rel=1e-12)
        assert const["a_T1_min"] == pytest.approx(float(d["a_T1_min"].subs(vals)), rel=1e-12)
        assert float(d["T1_factor"].subs(vals)) == pytest.approx(80 * vals[G] ** 2 * vals[K] / (vals[c] * vals[lam]),
                                                                 rel=1e-12)
        assert float(d["step18_slack"].subs({**vals, eta: 0.1, alpha: 0.5})) >= 0
    assert sp.simplify(d["sum_bound"] - 4 * (sp.Symbol("r0", positive=True) + 2 * sp.sqrt(n)) / (eta * alpha ** 2)) == 0


def test_lemma8_derivation_equals_calculators():
    d = ta.derive_lemma8()
    eta, beta, Lh, Th, M, G, eps, n, T2, t, rho, k, p0, A, g = d["symbols"]
    rng = np.random.default_rng(1)
    for _ in range(20):
        v = {eta: float(rng.uniform(0.001, 0.5)), beta: float(rng.uniform(1, 5)), Lh: float(rng.uniform(4, 40)),
             Th: float(rng.uniform(1, 20)), M: float(rng.uniform(1, 5)), G: float(rng.uniform(1, 2)),
             n: int(rng.integers(1, 40)), T2: int(rng.integers(1, 500)), rho: float(rng.uniform(0, 0.45))}
        c = ta.lemma8_conditions(v[eta], v[beta], v[Lh], v[Th], v[M], v[G], v[n], v[T2], v[rho])
        assert c["k_min"] == pytest.approx(float(d["k_from_L"].subs(v)), rel=1e-10)
        assert c["p_T2_at_eps_max"] == pytest.approx(float(d["p_T2_at_eps_max"].subs(v)), rel=1e-10)
        assert c["p_T2_at_eps_max"] / c["p_needed"] == pytest.approx(4 * v[Th] / (1 + v[Th]), rel=1e-10)
        p_b, d_b = ta.lemma8_bounds(v[T2], v[eta], v[beta], v[Lh], v[Th], v[M], v[G], 0.01, v[n], v[T2])
        assert p_b / 0.01 == pytest.approx(float((d["eps_needed"] / (1 - 2 * rho) * 4).subs(v)) ** -1 * 1, rel=1e-10)
    assert float(d["growth_corrected"].subs({A: 1.0, g: 0.2, t: 7})) >= 0


def test_final_proof_derivation_equals_calculators():
    d = ta.derive_final_proof()
    G, n, T2, rho, Th, K, c, lam, M, u = d["symbols"]
    rng = np.random.default_rng(2)
    for _ in range(10):
        nn, TT, rr, dl = int(rng.integers(2, 50)), int(rng.integers(1, 1000)), float(rng.uniform(0, 0.45)), 0.1
        Theta = ta.theta_bound(1.0, nn, dl)
        w = ta.width_requirement_proof(nn, 1, 3, TT, rr, dl, 0.1, 0.3, 1.0)["lemma8"]
        assert w == pytest.approx(float(d["lemma8_width"].subs({G: 1, n: nn, T2: TT, rho: rr, Th: Theta})), rel=1e-10)
        eta, beta = ta.theorem1_step_size(1.0, nn), math.sqrt(nn)
        cond = ta.lemma8_conditions(eta, beta, 4 / (1 - 2 * rr), Theta, 2.5, 1.0, nn, TT, rr)
        assert cond["eps_max"] == pytest.approx(float(d["eps_condition"].subs({rho: rr, M: 2.5, T2: TT, Th: Theta})),
                                                rel=1e-10)
    assert d["rho_exponent"][2] == __import__("sympy").oo


# ---------------------------------------------------------------- quadrature against closed forms


def test_quadrature_equals_arccosine_closed_forms():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, 4)) * rng.uniform(0.5, 2.0, (7, 1))
    X[1] = X[0] + 1e-4 * rng.normal(size=4)            # a near-parallel pair
    X[2] = -X[3]                                         # an antiparallel pair
    G, err = ta.ntk_gram(X, lambda u: (u > 0).astype(float), return_error=True)
    assert _rel(G, ta.ntk_gram(X, "relu")) < 1e-12
    C = ta.initial_output_covariance(X, lambda u: np.maximum(u, 0.0))
    assert _rel(C, ta.initial_output_covariance(X, "relu")) < 1e-12


@pytest.mark.parametrize("act", ["tanh", "softplus"])
def test_quadrature_error_estimate_bounds_the_error(act):
    rng = np.random.default_rng(4)
    X = _unit(rng, 6, 3)
    G, err = ta.ntk_gram(X, act, return_error=True)
    fine = ta.ntk_gram(X, act, nodes=64)
    assert np.all(np.abs(G - fine) <= err + 1e-15)
    J_mean = np.zeros((6, 6))
    for s in range(400):                                   # E_W[J J^T] = Sigma at every width
        W, v = na.init_network(4, 3, seed=s)
        J_mean += na.jacobian_gram(W, X, v, act) / 400
    assert np.max(np.abs(J_mean - G)) < 0.05


# ---------------------------------------------------------------- inputs


@pytest.mark.parametrize("call, match", [
    (lambda: ta.ntk_gram(np.zeros((2, 2))), "ntk_gram: X must have no zero row"),
    (lambda: ta.ntk_gram([[1.0, 0.0]], "sigmoid"), "ntk_gram: activation must be one of"),
    (lambda: ta.ntk_gram([[20.0, 0.0]], "tanh"), "row norms at most 16"),
    (lambda: ta.label_function(0.1, 0.5), "label_function: rho must lie in"),
    (lambda: ta.t1_theorem(0.5, 2, 1.0, 0.1, 10, 0.1, 0.2), "t1_theorem: Gamma must be >= 1"),
    (lambda: ta.lemma7_contraction(1.0, 1.0, 1.0), "lemma7_contraction: eta must be <= 1/\\(2 beta\\^2\\)"),
    (lambda: ta.t2_index([1.0, 0.9], 4), "t2_index: a_t must fall below"),
    (lambda: ta.lemma8_bounds(5, 0.1, 1, 4, 1, 1, 1, 0.1, 2, 3), "lemma8_bounds: t must lie in"),
    (lambda: na.init_network(3, 2), "init_network: k must be even"),
    (lambda: na.kernel_self_distillation(np.eye(2), [1, -1], [0, 0], [1.0], eta=3.0), "stable GD"),
    (lambda: na.clusterable_data(4, 5, 3, 0.1, 0.1), "clusterable_data: K must lie in"),
])
def test_bad_inputs_raise_named_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_types_raise_type_errors():
    with pytest.raises(TypeError, match="ntk_gram: activation"):
        ta.ntk_gram([[1.0, 0.0]], 3)
    with pytest.raises(TypeError, match="t1_lemma6: eta"):
        ta.t1_lemma6("x", 1.0, 1.0, 0.1)


# ---------------------------------------------------------------- kernels: Numba against the NumPy twin


@pytest.mark.parametrize("act", ["relu", "tanh", "softplus"])
def test_train_network_twins_bitwise_equal(act):
    c = na.clusterable_data(9, 3, 4, 0.2, 0.3, seed=5)
    W0, v = na.init_network(32, 4, seed=6)
    kw = dict(activation=act, eta=0.08, steps=12, a_t=np.linspace(1, 0.3, 12), rho=0.3, gram_steps=[0, 4, 11],
              snapshot_steps=[0, 6, 12])
    a = na.train_network(c.X, c.y_noisy, W0, v, **kw)
    b = na.train_network(c.X, c.y_noisy, W0, v, backend="numpy", **kw)
    for key in ("outputs", "labels", "move", "path", "H", "H_hat", "W"):
        np.testing.assert_array_equal(a[key], b[key])


def test_kernel_self_distillation_twins_bitwise_equal_and_flow():
    rng = np.random.default_rng(7)
    X = _unit(rng, 8, 3)
    H = ta.ntk_gram(X, "tanh")
    y = rng.choice([-1.0, 1.0], 8)
    a = np.linspace(1, 0, 50)
    for kw in ({"eta": 0.3}, {"tau": 0.5}):
        r1 = na.kernel_self_distillation(H, y, np.zeros(8), a, rho=0.2, **kw)
        r2 = na.kernel_self_distillation(H, y, np.zeros(8), a, rho=0.2, backend="numpy", **kw)
        np.testing.assert_array_equal(r1["outputs"], r2["outputs"])
    # a_t = 1 is plain GD: equals the closed form of kernel_gd_exact
    r = na.kernel_self_distillation(H, y, np.zeros(8), np.ones(30), eta=0.3)
    assert _rel(r["outputs"], na.kernel_gd_exact(H, y, np.zeros(8), np.arange(31), eta=0.3)["outputs"]) < 1e-12


# ---------------------------------------------------------------- finite width converges to the kernel dynamics


def test_finite_width_converges_to_exact_kernel_dynamics_slope():
    rng = np.random.default_rng(8)
    n, d, T = 8, 4, 25
    X = _unit(rng, n, d)
    y = rng.choice([-1.0, 1.0], n)
    H = ta.ntk_gram(X, "tanh")
    eta = 1.0 / (2 * n)
    widths = np.array([64, 256, 1024, 4096])
    errs = []
    for k in widths:
        e = []
        for s in range(4):
            W0, v = na.init_network(int(k), d, seed=100 * s + int(k))
            net = na.train_network(X, y, W0, v, activation="tanh", eta=eta, steps=T)
            ker = na.kernel_gd_exact(H, y, net["outputs"][0], np.arange(T + 1), eta=eta)["outputs"]
            e.append(np.max(np.abs(net["outputs"] - ker)))
        errs.append(np.mean(e))
    slope, se = ev.loglog_slope(widths, errs)
    assert slope + 4 * se < -0.25, (slope, se, errs)      # ~ k^{-1/2}


# ---------------------------------------------------------------- regression tests for the counterexamples


def test_air_order_counterexample_exact():
    X = np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    G = ta.ntk_gram(X)
    assert _rel(G, [[0.5, 1 / 6], [1 / 6, 0.5]]) < 1e-15
    f = np.abs(ta.residual_factors(np.linalg.eigvalsh(G), 1, eta=2.7))
    assert f[1] == pytest.approx(0.8) and f[0] == pytest.approx(0.1)          # the larger eigenvalue decays slower
    assert ta.air_order_max_step([1 / 3, 2 / 3]) == pytest.approx(2.0)


def test_noise_share_counterexample_exact():
    a = np.repeat([0, 1], 10)
    yc = np.where(a == 0, 1.0, -1.0)
    y = yc.copy()
    y[[0, 1, 2, 3, 10, 11, 12, 13]] *= -1
    assert ta.noise_top_fraction(a, y, yc) == pytest.approx(0.4)              # vs K/n = 0.1
    X = np.repeat(np.eye(3)[:2], 10, axis=0)                                   # eps = 0: data at the centers
    V = np.linalg.eigh(ta.ntk_gram(X, "tanh"))[1][:, -2:]
    w = y - yc
    assert float(np.sum((V.T @ w) ** 2) / np.sum(w ** 2)) == pytest.approx(0.4, rel=1e-10)


def test_lemma2_symmetric_cluster_has_zero_projected_jacobian():
    x = np.array([0.0, 1.0, 0.0])
    W, v = na.init_network(64, 3, seed=0)
    J = na.jacobian(W, np.array([x, -x]), v, "tanh")
    assert np.max(np.abs(J[0] + J[1])) <= 4 * np.finfo(float).eps * np.max(np.abs(J[0]))   # exact 0 up to tanh's last bit


def test_t1_bound_counterexample_probability():
    from scipy.stats import norm

    s = math.sqrt(ta.initial_output_covariance(np.array([[1.0, 0.0]]), "tanh")[0, 0])
    t = ta.initial_residual_bound(1.0, 1, 0.9)
    p = norm.cdf((1 - t) / s) + norm.sf((1 + t) / s)
    assert p > 0.45 > 0.9 / 4
    assert ta.initial_residual_bound_corrected(1.0, 1, 0.9) > 1 + 2 * s


def test_lemma8_counterexamples():
    c = na.clusterable_data(4, 2, 3, 0.05, 0.0, seed=1)
    W0, v = na.init_network(64, 3, seed=2)
    p0 = np.linalg.norm(na.network_outputs(W0, c.X, v, "tanh") - na.network_outputs(W0, c.X_centers, v, "tanh"))
    assert p0 > 0 == ta.lemma8_bounds(0, 0.1, 2.0, 4.0, 3.0, 2.0, 1.0, c.eps, c.n, 10)[0]
    assert p0 <= ta.lemma8_p0_bound(1.0, np.linalg.norm(W0, 2), c.eps, c.n)
    g = ta.lemma8_conditions(0.01, 3.0, 20 / 3, 3.0, 2.0, 1.0, 9, 100, 0.2)
    assert g["p_T2_at_eps_max"] == pytest.approx(float((1 - Fraction(2, 5)) * 3 / 4))
    assert g["p_T2_at_eps_max"] > g["p_needed"]


def test_theorem1_proof_jacobian_bound_exceeds_sigma_min_at_the_stated_width():
    # Lemma 8's alpha (Lambda = min(lambda(C), lambda(X))): (2 alpha)^2 = (n_min/2) Lambda, while sigma_min(J)^2
    # concentrates at lambda(X) = Lambda: one cluster of 3 points misses by sqrt(3/2).
    c = na.clusterable_data(3, 1, 4, 0.65, 0.0, seed=10)
    Lam = min(ta.ntk_lambda(c.X, "tanh"), ta.ntk_lambda(c.centers, "tanh"))
    k = int(2 * math.ceil(20 * 3 * math.log(4 * 3 / 0.2) / Lam / 2))
    W, v = na.init_network(k, 4, seed=1000)
    sigma_min = math.sqrt(np.linalg.eigvalsh(na.jacobian_gram(W, c.X, v, "tanh"))[0])
    cons = ta.data_model_constants(c.X, c.centers, c.assignment, c.y_noisy, c.y_clean)
    two_alpha = ta.jacobian_lower_bound(c.n, c.K, cons["c_low"], Lam)
    assert two_alpha == pytest.approx(math.sqrt(1.5 * Lam))
    assert 1.15 * sigma_min < two_alpha
    assert ta.jacobian_lower_bound(c.n, c.K, cons["c_low"], Lam, Lam) == pytest.approx(math.sqrt(Lam / 2))


def test_width_lemma8_slip_outside_and_coverage_inside_the_hypotheses():
    # The slip: with Lambda held at 0.01 (decoupled from eps), Lemma 8's term over the stated width grows like
    # (1 - 2 rho)^-2 -- a factor 100 per factor 10 in 1 - 2 rho.
    r = [ta.width_requirement_proof(20, 2, 5, 1000, 0.5 - u / 2, 0.1, 0.01, 0.3, 1.0)["lemma8"]
         / ta.width_requirement_stated(20, 2, 1000, 0.5 - u / 2, 0.1, 0.01, 1.0) for u in (1e-2, 1e-3, 1e-4)]
    assert r[1] / r[0] == pytest.approx(100, rel=0.05) and r[2] / r[1] == pytest.approx(100, rel=0.05)
    # Inside the hypotheses (eps at the radius condition, Lambda capped by the radius) needed/stated is bounded.
    inside = []
    for u in (1e-1, 1e-2, 1e-3, 1e-4):
        rho = 0.5 - u / 2
        eps = 1490.0 * ta.radius_condition_stated(20, 5, 1000, rho, 0.1)
        lam = min(0.01, ta.lambda_upper_bound_from_radius(eps))
        inside.append(ta.width_requirement_proof(20, 2, 5, 1000, rho, 0.1, lam, lam, 1.0)["max"]
                      / ta.width_requirement_stated(20, 2, 1000, rho, 0.1, lam, 1.0))
    assert max(inside) < 3e5 and inside[-1] == pytest.approx(inside[-2], rel=1e-6)
    # The corrected expression covers the proof without the coupling.
    rc = [ta.width_requirement_proof(20, 2, 5, 1000, 0.5 - u / 2, 0.1, 0.01, 0.3, 1.0)["max"]
          / ta.width_requirement_corrected(20, 2, 1000, 0.5 - u / 2, 0.1, 0.01, 1.0) for u in (1e-2, 1e-4)]
    assert rc[1] / rc[0] == pytest.approx(1.0, rel=0.05)


def test_width_lemma8_term_against_cubic_term_uniform_bound():
    """lemma8 / (K^3 log(1/delta)/(c^3 Lambda^3)) <= 73^2 512 E^6 Gamma^8 (C3 Gamma sqrt(log(8/delta)) + 1)^2 c^3 u^8
    / (K^3 n d^3 T2^2 log(1/delta)^4) at Lambda = 8 Gamma^2 eps^2, eps = E radius_condition_stated (the docstring of
    air.theorem1_width)."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        n, d, T2 = int(rng.integers(3, 10 ** 4)), int(rng.integers(1, 10 ** 4)), int(rng.integers(1, 10 ** 6))
        K = int(rng.integers(1, n - 1))
        u, dl, c, G = 10 ** rng.uniform(-4, 0), 10 ** rng.uniform(-12, math.log10(0.5)), 10 ** rng.uniform(-3, 0), 1.0
        E = 10 ** rng.uniform(0, 4)
        rho = (1 - u) / 2
        eps = E * ta.radius_condition_stated(n, d, T2, rho, dl)
        if 8 * eps ** 2 >= 1:
            continue
        lam = ta.lambda_upper_bound_from_radius(eps, G)
        L = math.log(1 / dl)
        cubic = K ** 3 * L / (c ** 3 * lam ** 3)
        l8 = ta.width_requirement_proof(n, K, d, T2, rho, dl, lam, lam, c, G)["lemma8"]
        bound = (73 ** 2 * 512 * E ** 6 * G ** 8 * (ta.HOEFFDING_C3 * G * math.sqrt(math.log(8 / dl)) + 1) ** 2 * c ** 3
                 * u ** 8 / (K ** 3 * n * d ** 3 * T2 ** 2 * L ** 4))
        assert l8 / cubic <= bound * (1 + 1e-12)


@pytest.mark.parametrize("act", ["tanh", "softplus"])
def test_lambda_upper_bound_from_radius_on_pairs(act):
    rng = np.random.default_rng(12)
    G = ta.activation_gamma(act)
    for eps in (1e-3, 1e-2, 0.1, 0.5, 1.0):
        Q = np.linalg.qr(rng.normal(size=(4, 2)))[0]
        half = 2 * math.asin(eps / 2)                    # two unit vectors at distance eps from a unit center
        X = np.array([math.cos(half) * Q[:, 0] + math.sin(half) * Q[:, 1],
                      math.cos(half) * Q[:, 0] - math.sin(half) * Q[:, 1]])
        lam = ta.ntk_lambda(X, act)
        assert 0 < lam <= ta.lambda_upper_bound_from_radius(eps, G)
        assert lam <= 2 * G ** 2 * np.sum((X[0] - X[1]) ** 2)                 # the pair form of the bound
    # small eps: lambda / (8 eps^2) tends to E[phi'(z)^2 + phi''(z)^2]/8-ish: 0.19 (tanh), 0.085 (softplus)
    X = np.array([[math.cos(1e-3), math.sin(1e-3)], [math.cos(1e-3), -math.sin(1e-3)]])
    ratio = ta.ntk_lambda(X, act) / (2 * np.sum((X[0] - X[1]) ** 2))
    assert ratio == pytest.approx({"tanh": 0.1911, "softplus": 0.0846}[act], abs=2e-3)


def test_lambda_bound_needs_a_bounded_second_derivative():
    X = np.array([[math.cos(1e-3), math.sin(1e-3)], [math.cos(1e-3), -math.sin(1e-3)]])
    eps = 2 * math.sin(5e-4)                                                   # the radius this pair needs
    assert ta.ntk_lambda(X, "relu") > 10 * ta.lambda_upper_bound_from_radius(eps, 1.0)   # ReLU: lambda ~ eps


def test_radius_condition_and_lambda_bound_values_and_inputs():
    assert ta.radius_condition_stated(4, 9, 10, 0.25, math.exp(-4)) == pytest.approx(0.25 / (6 * 10 * 2))
    assert ta.radius_condition_stated(4, 9, 10, 0.25, math.exp(-4), sqrt_log=False) == pytest.approx(0.25 / (6 * 10 * 4))
    assert ta.lambda_upper_bound_from_radius(0.01, 2.0) == pytest.approx(8 * 4 * 1e-4)
    assert ta.lambda_upper_bound_from_radius(1e300, 2.0) == 4.0 and ta.lambda_upper_bound_from_radius(0.0) == 0.0
    with pytest.raises(ValueError, match="lambda_upper_bound_from_radius: eps must be >= 0"):
        ta.lambda_upper_bound_from_radius(-0.1)
    with pytest.raises(ValueError, match="lambda_upper_bound_from_radius: Gamma must be >= 1"):
        ta.lambda_upper_bound_from_radius(0.1, 0.5)
    with pytest.raises(ValueError, match="lambda_upper_bound_from_radius: Gamma must be finite"):
        ta.lambda_upper_bound_from_radius(0.1, math.inf)
    with pytest.raises(ValueError, match="radius_condition_stated: delta must lie in"):
        ta.radius_condition_stated(4, 9, 10, 0.25, 1.0)
    with pytest.raises(TypeError, match="radius_condition_stated: sqrt_log"):
        ta.radius_condition_stated(4, 9, 10, 0.25, 0.1, sqrt_log="yes")


def test_sec34_schedule_counterexample_and_correction():
    assert ta.accuracy_schedule(0.8, 1.5) == pytest.approx(-0.2)
    assert ta.accuracy_schedule(1.0, 0.6) == pytest.approx(0.4)
    acc = np.array([0.5, 0.8, 0.6, 0.9, 0.7])
    a = ta.accuracy_schedule_corrected(acc, 1.5)
    assert np.all((a >= 0) & (a <= 1)) and np.all(np.diff(a) <= 0) and a[-1] == 0


def test_schedule_conditions_and_t1():
    a = np.concatenate([np.ones(101), np.linspace(1, 0, 100000)])
    out = ta.schedule_conditions(a, n=16, K=2, c_low=1.0, lam_C=0.3, Lam=0.3, Gamma=1.0, rho=0.2, T1=100)
    assert out["monotone"][2] and out["a_T1"][2]
    assert ta.t1_corrected(1.0, 2, 1.0, 0.3, 16, 0.1, 0.2) <= math.ceil(
        80 * 2 / 0.3 * math.log(8 * ta.initial_residual_bound_corrected(1.0, 16, 0.1) / 0.6))
