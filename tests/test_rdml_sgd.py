"""Paper-specific tests for the RDML convergence analysis: calculators, SymPy derivations, the Algorithm 1
simulator (Numba kernel vs NumPy twin), and the model families used by the claims."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.rdml_sgd import full_objective, simulate, synthetic_softmax_data
from theory import rdml_sgd as th
from theory.rdml import escort, renyi_divergence
from verify import rdml_sgd as V

KEYS = ["base", "div", "grad_sq", "base_sq_mean", "sgd_sq_mean", "psi", "min_prob", "theta", "test_loss", "test_acc"]


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)))


def _nrel(a, b):
    """Relative error in the max norm (entries that cancel to ~0 are compared with the array's scale)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# --------------------------------------------------------------------------- simulator


@pytest.mark.parametrize("model", ["softmax", "mlp"])
@pytest.mark.parametrize("update", ["jacobi", "gauss-seidel"])
@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_kernel_equals_numpy_twin(model, update, alpha):
    X, y, _ = synthetic_softmax_data(40, 4, 3, seed=2)
    kw = dict(K=3, alpha=alpha, eta=0.2, T=40, log_every=6, model=model, hidden=5, update=update, seed=5,
              X_eval=X[:15], y_eval=y[:15])
    a = simulate(X, y, backend="numba", **kw)
    b = simulate(X, y, backend="numpy", **kw)
    for k in KEYS:
        if k == "psi":  # a difference of divergences: compare relative to the divergence scale
            assert np.max(np.abs(a[k] - b[k])) <= 1e-12 * max(1.0, np.max(np.abs(a["div"])))
        else:
            assert _rel(a[k], b[k]) <= 1e-12, k


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 10_000), alpha=st.sampled_from([0.5, 1.0, 2.0]), K=st.integers(2, 4))
def test_kernel_twin_random(seed, alpha, K):
    X, y, _ = synthetic_softmax_data(20, 3, 3, seed=seed)
    kw = dict(K=K, alpha=alpha, eta=0.3, T=15, log_every=4, seed=seed)
    a, b = simulate(X, y, **kw), simulate(X, y, backend="numpy", **kw)
    assert _rel(a["theta"], b["theta"]) <= 1e-12 and _rel(a["grad_sq"], b["grad_sq"]) <= 1e-12


@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_logged_gradient_is_the_full_gradient(model):
    X, y, _ = synthetic_softmax_data(30, 3, 3, seed=1)
    out = simulate(X, y, K=2, alpha=0.7, eta=0.2, T=10, log_every=10, model=model, hidden=4, seed=3)
    thetas = out["theta"]
    fo = full_objective(thetas, 0, X, y, 0.7, model=model, hidden=4)
    assert abs(fo["base"] - out["base"][-1, 0]) <= 1e-12 * fo["base"]
    assert abs(fo["div"] - out["div"][-1, 0]) <= 1e-10 * max(fo["div"], 1e-3)
    assert _rel(fo["grad"] @ fo["grad"], out["grad_sq"][-1, 0]) <= 1e-10
    e, g = 1e-6, np.zeros(thetas.shape[1])
    for i in range(g.size):
        tp, tm = thetas.copy(), thetas.copy()
        tp[0, i] += e
        tm[0, i] -= e
        fp = full_objective(tp, 0, X, y, 0.7, model=model, hidden=4)
        fm = full_objective(tm, 0, X, y, 0.7, model=model, hidden=4)
        g[i] = (fp["base"] + fp["div"] - fm["base"] - fm["div"]) / (2 * e)
    assert np.max(np.abs(g - fo["grad"])) <= 1e-7


def test_psi_is_the_divergence_change_of_the_own_step():
    X, y, _ = synthetic_softmax_data(25, 3, 3, seed=4)
    T = 5
    a = simulate(X, y, K=2, alpha=1.5, eta=0.3, T=T, log_every=1, seed=9)
    b = simulate(X, y, K=2, alpha=1.5, eta=0.3, T=T - 1, log_every=1, seed=9)
    # Psi at step T-1 = div(theta_{T-1}; peers_{T-1}) - div(theta_T of student 0; peers_{T-1})
    th0 = b["theta"].copy()
    th0[0] = a["theta"][0]
    after = full_objective(th0, 0, X, y, 1.5)["div"]
    assert abs(a["psi"][T - 1, 0] - (a["div"][T - 1, 0] - after)) <= 1e-12


def test_divergence_raises_with_step():
    X, y, _ = synthetic_softmax_data(20, 3, 3, seed=0)
    with pytest.raises(FloatingPointError, match="diverged at step"):
        simulate(X, y, K=2, alpha=2.0, eta=1e200, T=50, log_every=5, seed=0)


def test_shared_draws_keep_equal_students_equal():
    X, y, _ = synthetic_softmax_data(20, 3, 3, seed=0)
    init = np.tile(np.random.default_rng(0).normal(size=9), (2, 1))
    out = simulate(X, y, K=2, alpha=1.5, eta=0.3, T=30, log_every=1, init=init, shared_draws=True, seed=1)
    assert np.array_equal(out["theta"][0], out["theta"][1])
    assert np.all(out["psi"] <= 1e-12) and np.all(np.abs(out["div"]) <= 1e-12)


@pytest.mark.parametrize("kw,msg", [
    (dict(K=1), "K must"), (dict(alpha=-1.0), "alpha must"), (dict(model="cnn"), "model must"),
    (dict(update="async"), "update must"), (dict(eta=-0.1), "eta must"), (dict(backend="torch"), "backend must"),
])
def test_simulate_rejects_bad_inputs(kw, msg):
    X, y, _ = synthetic_softmax_data(10, 3, 3, seed=0)
    with pytest.raises(ValueError, match=msg):
        simulate(X, y, T=5, **kw)


# --------------------------------------------------------------------------- calculators and derivations


def test_phi_printed_is_L_over_tau_for_alpha_at_least_one():
    for M in (2, 3, 10):
        for tau in (1e-3, 0.05, 1.0 / M):
            for a in (1.0, 1.5, 7.0):
                assert th.phi_printed(0.7, tau, M, a) == pytest.approx(0.7 / tau, rel=1e-14)


def test_calculators_reject_violated_hypotheses():
    with pytest.raises(ValueError, match="tau must lie in"):
        th.phi_printed(1.0, 0.6, 2, 0.5)
    with pytest.raises(ValueError, match="alpha must"):
        th.lhat_corrected(1.0, 1.0, 0.1, -0.5)
    with pytest.raises(ValueError, match="step-size condition"):
        th.theorem2_bound(1.0, 0.5, 100, 4.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="columns summing to 0"):
        th.renyi_grad_params([0.5, 0.5], [0.5, 0.5], [[1.0], [1.0]], 1.0)


def test_derive_lhat_dml_limit():
    import sympy as sp

    printed, corrected = th.derive_lhat_dml_limit()
    L, H, tau = sp.symbols("L H tau", positive=True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        l, h, t = rng.uniform(0.1, 2), rng.uniform(0, 2), rng.uniform(0.01, 1.0 / 3)
        sub = {L: l, H: h, tau: t}
        assert float(printed.subs(sub)) == pytest.approx(th.lhat_dml_printed(l, h, t), rel=1e-12)
        assert float(corrected.subs(sub)) == pytest.approx(th.lhat_dml_corrected(l, h, t), rel=1e-12)
        assert th.lhat_printed(l, h, t, 3, 1.0) == pytest.approx(th.lhat_dml_printed(l, h, t), rel=1e-12)


def test_derive_theorem2_bound():
    c16, (Delta, eta, T, W, sigma, phi) = th.derive_theorem2_bound()
    rng = np.random.default_rng(1)
    for _ in range(5):
        w = rng.uniform(1, 10)
        vals = {Delta: rng.uniform(0, 3), eta: rng.uniform(0.1, 1) / w, T: int(rng.integers(1, 1000)), W: w,
                sigma: rng.uniform(0.1, 3), phi: rng.uniform(0.1, 3)}
        ref = th.eqC16_bound(vals[Delta], vals[eta], vals[T], w, vals[sigma] ** 2, vals[phi])
        assert float(c16.subs(vals)) == pytest.approx(ref, rel=1e-12)
        st2 = rng.uniform(0, 2)
        s2 = th.noise_sigma2(st2, vals[phi])
        assert th.theorem2_bound(vals[Delta], vals[eta], vals[T], w, s2, st2, vals[phi]) >= \
            th.eqC16_bound(vals[Delta], vals[eta], vals[T], w, s2, vals[phi]) * (1 - 1e-12)


def test_derive_grad_params():
    import sympy as sp

    (a, t, q, (f1, f2)), grad, closed = th.derive_grad_params()
    p1e, p2e = 0.3 + 0.1 * sp.sin(t), 0.25 + 0.15 * sp.cos(2 * t)
    qv = (0.2, 0.5, 0.3)
    for av in (0.4, 1.7):
        sub = lambda e: float(e.subs({f1: p1e, f2: p2e}).doit().subs({a: av, t: 0.6, **dict(zip(q, qv))}).evalf())
        g, c = sub(grad), sub(closed)
        p = np.array([float(p1e.subs(t, 0.6)), float(p2e.subs(t, 0.6))])
        p = np.append(p, 1 - p.sum())
        d1, d2 = float(sp.diff(p1e, t).subs(t, 0.6)), float(sp.diff(p2e, t).subs(t, 0.6))
        jac = np.array([[d1], [d2], [-d1 - d2]])
        ours = th.renyi_grad_params(np.array(qv), p, jac, av)[0]
        assert g == pytest.approx(c, rel=1e-12) and ours == pytest.approx(g, rel=1e-12)


def test_derive_phi_sharp_two_class_and_grid():
    import sympy as sp

    expr, closed, (a, tau) = th.derive_phi_sharp_two_class()
    for av, tv in ((0.3, 0.05), (0.5, 0.01), (2.0, 0.2)):
        e = float(expr.subs({a: av, tau: tv}))
        assert e == pytest.approx(float(closed.subs({a: av, tau: tv})), rel=1e-12)
        assert e == pytest.approx(th.phi_sharp_two_class(1.0, tv, av), rel=1e-12)
        g = np.linspace(tv, 1 - tv, 401)
        A, B = np.meshgrid(g, g)
        Z = B ** av * A ** (1 - av) + (1 - B) ** av * (1 - A) ** (1 - av)
        c = np.abs(B ** av * A ** (-av) - (1 - B) ** av * (1 - A) ** (-av)) / Z
        assert c.max() <= th.phi_sharp_two_class(1.0, tv, av) * (1 + 1e-12)
        assert sp.nsimplify(0) == 0


def test_derive_psi_power_mean():
    diff, (a, q, u, v) = th.derive_psi_power_mean()
    rng = np.random.default_rng(3)
    for av in (0.3, 2.5):
        qq, uu, vv = (rng.dirichlet(np.ones(3)) for _ in range(3))
        val = float(diff.subs({a: av, **dict(zip(q, qq)), **dict(zip(u, uu)), **dict(zip(v, vv))}))
        assert abs(val) <= 1e-12
        _, neglog = th.psi_power_mean(qq, uu, vv, av)
        psi = renyi_divergence(qq, uu, av) - renyi_divergence(qq, vv, av)
        assert neglog == pytest.approx(psi, rel=1e-10, abs=1e-14)


def test_softmax_regression_constants_against_brute_force():
    rng = np.random.default_rng(0)
    for M, tau in ((2, 0.02), (3, 0.05)):
        c = th.softmax_regression_constants(M, 1.5, tau)
        p = tau + (1 - M * tau) * rng.dirichlet(np.full(M, 0.5), size=20000)
        E = np.eye(M)[None, :, :] - p[:, None, :]
        gradn = p * np.linalg.norm(E, axis=2) * 1.5
        assert gradn.max() <= c["L"] * (1 + 1e-12) and gradn.max() >= 0.97 * c["L"]
        C = np.einsum("bi,ij->bij", p, np.eye(M)) - p[:, :, None] * p[:, None, :]
        assert np.linalg.eigvalsh(C)[:, -1].max() * 1.5 ** 2 <= c["V"] * (1 + 1e-12)
        hn = max(p[b, mu] * np.abs(np.linalg.eigvalsh(np.outer(E[b, mu], E[b, mu]) - C[b])).max()
                 for b in range(2000) for mu in range(M)) * 1.5 ** 2
        assert hn <= c["H"] * (1 + 1e-9)


# --------------------------------------------------------------------------- model families of the claims


@pytest.mark.parametrize("i", range(7))
def test_family_derivatives_and_constants(i):
    rng = np.random.default_rng(11)
    fam = V._families(rng, True)[i]
    t = fam.sample(400)
    p, jac, hess = fam.probs(t, 0)
    ok = V._ok(p, fam.tau)
    assert ok.mean() > 0.5
    # certified constants dominate sampled derivative norms inside the domain
    assert np.linalg.norm(jac, axis=-1)[ok].max() <= fam.L * (1 + 1e-9)
    assert V._spec(hess)[ok].max() <= fam.H * (1 + 1e-9) + 1e-15
    # derivatives against central differences at one interior point
    j = int(np.argmax(ok))
    e = 1e-6
    for k in range(fam.P):
        tp, tm = t[j:j + 1].copy(), t[j:j + 1].copy()
        tp[0, k] += e
        tm[0, k] -= e
        dp = (fam.probs(tp, 0)[0] - fam.probs(tm, 0)[0])[0] / (2 * e)
        dj = (fam.probs(tp, 0)[1] - fam.probs(tm, 0)[1])[0] / (2 * e)
        assert np.allclose(dp, jac[j, :, k], atol=1e-7)
        assert np.allclose(dj, hess[j, :, :, k], atol=1e-6)
    # the fast twins used by the search equal the checked theory functions
    q = V._q_of(rng.normal(size=(5, fam.M)), fam.tau)
    pp, jj, hh = p[ok][:5], jac[ok][:5], hess[ok][:5]
    for a in (0.2, 1.0, 3.0):
        assert _nrel(V._grad_fast(q, pp, jj, a), th.renyi_grad_params(q, pp, jj, a)) <= 1e-12
        assert _nrel(V._hess_fast(q, pp, jj, hh, a), th.renyi_hessian_params(q, pp, jj, hh, a)) <= 1e-12
        assert _rel(V._renyi_fast(q, pp, a), renyi_divergence(q, pp, a)) <= 1e-10
        assert _rel(V._tilted(q, pp, a), escort(q, a, pp)) <= 1e-12


def test_renyi_hessian_params_against_finite_differences():
    rng = np.random.default_rng(5)
    fam = V._families(rng, True)[6]  # tempered softmax of a sine feature map
    t = fam.sample(1)
    q = V._q_of(rng.normal(size=(1, fam.M)), fam.tau)
    for a in (0.4, 1.0, 2.5):
        Hm = th.renyi_hessian_params(q, *fam.probs(t, 0), a)[0]
        e = 1e-5
        for k in range(fam.P):
            tp, tm = t.copy(), t.copy()
            tp[0, k] += e
            tm[0, k] -= e
            gp = th.renyi_grad_params(q, *fam.probs(tp, 0)[:2], a)[0]
            gm = th.renyi_grad_params(q, *fam.probs(tm, 0)[:2], a)[0]
            assert np.allclose((gp - gm) / (2 * e), Hm[:, k], atol=1e-6)


def test_explicit_counterexample_numbers():
    ce = V._linear2_counterexample()
    assert ce["lipschitz_quotient"] > 2.4 * ce["phi_printed"]
    assert ce["grad_norm"] <= ce["phi_corrected"]
    assert ce["grad_norm"] == pytest.approx(ce["phi_sharp_two_class"], rel=1e-9)
    lg = V._logistic_counterexample()
    assert lg["hessian_norm_divergence"] > 2 * lg["lhat_printed"]
    assert lg["hessian_norm_total"] > 1.3 * lg["W_printed"]


def test_lemmaC1_counterexample_in_exact_arithmetic():
    import mpmath as mp

    mp.mp.dps = 40
    tau, a = mp.mpf("0.01"), mp.mpf("0.5")
    L = 1 - 2 * tau
    q = [1 - tau, tau]

    def D(t):
        p = [tau + L * t, 1 - tau - L * t]
        return mp.log(sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p))) / (a - 1)

    g = abs(mp.diff(D, 0))
    phi = min(1 / tau, 2 * (tau * mp.e ** tau) ** (-a)) * L
    assert g / phi > 2.48
    assert float(phi) == pytest.approx(th.phi_printed(0.98, 0.01, 2, 0.5), rel=1e-14)
    assert float(g) == pytest.approx(th.phi_sharp_two_class(0.98, 0.01, 0.5), rel=1e-12)
