"""The structured kd engines against their references, the chain kernels against their twin, the thread
policy, and the input rules of numerics/kd.py (issue #11)."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from kdtheory.numerics import _threads
from kdtheory.numerics import kd as nk
from kdtheory.theory.kd import least_squares_constants

RTOL = 1e-10   # structured vs dense reference (the brief's tier for d <= 20)

CASES = [("distill", None, None), ("unbiased", None, None), ("distill", "bernoulli", 0.999),
         ("distill", "rand_k", "d"), ("distill", "rand_k", "d-1"), ("distill", "bernoulli", 0.9)]


def _chain(d, scheme="distill", comp=None, param=None, *, gamma_scale=0.5, spread=1.0, seed=None, n=None):
    A, b = nk.random_least_squares(n or 3 * d + 2, d, np.random.default_rng(d if seed is None else seed),
                                   spread=spread)
    c = least_squares_constants(A, b)
    if param == "d":
        param = d
    elif param == "d-1":
        param = max(1, d - 1)
    return nk.affine_chain(A, b, c.x_star + 0.3, 0.7, gamma_scale / c.cal_L, scheme=scheme, compressor=comp,
                           param=param)


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def _agree(ch):
    """Structured and dense agree on the radius, and on the stationary law where it exists (else both raise)."""
    try:
        sd = nk.stationary_moments(ch, method="dense")
    except ValueError:
        sd = None
    rd = sd["radius_second"] if sd is not None else nk.second_moment_radius(ch, method="dense")
    rs = nk.second_moment_radius(ch, method="structured")
    assert abs(rs - rd) <= RTOL * max(1.0, rd), (rs, rd)
    if rd < 1 - 1e-9:
        ss = nk.stationary_moments(ch, method="structured")
        assert ss["method"] == "structured" and sd["method"] == "dense"
        for key in ("second", "mean"):
            assert _rel(ss[key], sd[key]) <= RTOL, key
        for key in ("dist_sq", "gap", "y_dist_sq", "radius_mean", "radius_second"):
            assert abs(ss[key] - sd[key]) <= RTOL * max(abs(sd[key]), 1e-300), key
    elif rd > 1 + 1e-9:
        for method in ("dense", "structured"):
            with pytest.raises(ValueError, match="spectral radius < 1"):
                nk.stationary_moments(ch, method=method)
    return rd


# ------------------------------------------------------------------ exact engine: structured vs dense


@pytest.mark.parametrize("d", [1, 2, 4, 7, 12])
@pytest.mark.parametrize("scheme,comp,param", CASES)
def test_structured_equals_dense(d, scheme, comp, param):
    assert _agree(_chain(d, scheme, comp, param)) > 0


@pytest.mark.parametrize("comp,param", [(None, None), ("bernoulli", 0.9995), ("rand_k", 19)])
def test_structured_equals_dense_d20(comp, param):
    assert _agree(_chain(20, "distill", comp, param, n=50)) > 0


def test_lanczos_radius_path_equals_dense(monkeypatch):
    """Force the Lanczos radius (shift-inverted when radius < 1, plain otherwise) on small d."""
    monkeypatch.setattr(nk, "_DENSE_RADIUS_N", 0)
    radii = [_agree(_chain(d, "distill", comp, param)) for d in (3, 6, 9)
             for comp, param in [(None, None), ("bernoulli", 0.999), ("bernoulli", 0.9), ("rand_k", "d-1")]]
    assert min(radii) < 1 < max(radii)


def test_hand_built_chains():
    """A chain built by hand with a diagonal-compressor Q, 0 < q_off < 1 (the general Woodbury path), and one
    that is not of the least-squares form (auto falls back to dense; structured is refused)."""
    ch = _chain(5)
    Q = np.full((5, 5), 0.9)
    np.fill_diagonal(Q, 1.05)
    hand = dataclasses.replace(ch, Q=Q)
    assert _agree(hand) < 1
    B = ch.B.copy()
    B[0, 0, 1] += 1e-3
    other = dataclasses.replace(ch, B=B)
    assert nk.stationary_moments(other)["method"] == "dense"
    with pytest.raises(ValueError, match="least-squares form"):
        nk.stationary_moments(other, method="structured")


def test_rand_one_compressor_diagonal_map():
    """rand-1 (q_off = 0): the map only sees the diagonal; radius from the d x d matrix mean_i (B_i)_jk^2."""
    for d in (2, 4, 6):
        assert _agree(_chain(d, "distill", "rand_k", 1)) > 0


def _mp_stationary(ch):
    """Exact stationary mean and second moment (mpmath, 40 digits) from A, gamma, v and Q themselves (not from
    the rounded B_i = I - gamma a_i a_i^T, whose rounding costs the dense engine eps / gamma)."""
    import mpmath as mp

    with mp.workdps(40):
        A, v = mp.matrix(ch.A.tolist()), mp.matrix(ch.v.tolist())
        n, d = ch.A.shape
        g = mp.mpf(ch.gamma)
        m = mp.lu_solve(g * (A.T * A) / n, mp.matrix([sum(v[i, j] for i in range(n)) / n for j in range(d)]))
        Bs = [mp.eye(d) - g * A[i, :].T * A[i, :] for i in range(n)]
        IK = mp.eye(d * d)
        for B in Bs:
            for j in range(d):
                for l in range(d):
                    for k in range(d):
                        for q in range(d):
                            IK[j * d + l, k * d + q] -= B[j, k] * B[l, q] * mp.mpf(ch.Q[k, q]) / n
        Bm = [B * m for B in Bs]
        R = mp.matrix(d * d, 1)
        for j in range(d):
            for l in range(d):
                R[j * d + l] = sum(Bm[i][j] * v[i, l] + Bm[i][l] * v[i, j] + v[i, j] * v[i, l] for i in range(n)) / n
        S = mp.lu_solve(IK, R)
        return np.array([float(x) for x in m]), np.array([float(x) for x in S]).reshape(d, d)


def test_ill_conditioned_and_tiny_steps():
    """Worse conditioning: heterogeneous rows (spread 4, kappa(H) ~ 1e3), steps 1e-3/cal_L .. 1/cal_L, with and
    without compression, against an exact (40-digit) reference: the structured engine stays at ~1e-14, the
    dense one loses eps/gamma in forming I - B_i; and the Theorem 4 example at gamma cal_L = 1e-12."""
    for gs in (1e-3, 0.05, 1.0):
        for comp, param in [(None, None), ("bernoulli", 0.9999999)]:
            ch = _chain(4, "distill", comp, param, spread=4.0, gamma_scale=gs, seed=3, n=14)
            m, S = _mp_stationary(ch)
            st = nk.stationary_moments(ch, method="structured")
            assert _rel(st["second"], S) <= 1e-12 and _rel(st["mean"], m) <= 1e-12, (gs, comp)
            dense = nk.stationary_moments(ch, method="dense")
            assert _rel(dense["second"], S) <= 1e3 * np.finfo(float).eps / gs
    A = np.array([[1.0, 0.2], [0.3, 1.0], [1.0, 1.0]])
    b = np.array([1.0, 2.0, 1.5])
    c = least_squares_constants(A, b)
    om = c.mu / (300 * c.cal_L)
    ch = nk.affine_chain(A, b, c.x_star, 0.0, 1e-12 / c.cal_L, compressor="bernoulli", param=1 / (1 + om))
    assert abs(nk.second_moment_radius(ch, method="structured") - (1 + om)) <= 1e-9


def _mp_moments_at(ch, x0, times):
    """E||x^t - x*||^2 at the times, 40 digits: powers of the augmented moment matrix built from A, gamma, v, Q."""
    import mpmath as mp

    with mp.workdps(40):
        A, v = mp.matrix(ch.A.tolist()), mp.matrix(ch.v.tolist())
        n, d = ch.A.shape
        g = mp.mpf(ch.gamma)
        D2 = d * d
        G = mp.zeros(D2 + d + 1, D2 + d + 1)
        for i in range(n):
            B = mp.eye(d) - g * A[i, :].T * A[i, :]
            for j in range(d):
                for l in range(d):
                    for k in range(d):
                        for q in range(d):
                            G[j * d + l, k * d + q] += B[j, k] * B[l, q] * mp.mpf(ch.Q[k, q]) / n
                        G[j * d + l, D2 + k] += (B[j, k] * v[i, l] + B[l, k] * v[i, j]) / n
                    G[j * d + l, D2 + d] += v[i, j] * v[i, l] / n
                for k in range(d):
                    G[D2 + j, D2 + k] += B[j, k] / n
                G[D2 + j, D2 + d] += v[i, j] / n
        G[D2 + d, D2 + d] = 1
        x = [mp.mpf(float(t)) for t in x0]
        xs = [mp.mpf(float(t)) for t in ch.x_star]
        w = mp.matrix([x[j] * x[l] for j in range(d) for l in range(d)] + x + [1])
        out, last = [], 0
        for t in times:
            w = G ** int(t - last) * w
            last = int(t)
            out.append(float(sum(w[j * d + j] - 2 * w[D2 + j] * xs[j] + xs[j] ** 2 for j in range(d))))
        return np.array(out)


def test_auto_avoids_the_dense_rounding_at_kappa_1e6():
    """Theorem 2's step gamma = mu/(4 cal_L L) at kappa(H) = 1e6, d = 3: gamma mu ~ 1e-13, so the dense engines'
    rounding model eps/(gamma mu) is ~1e-3 and "auto" must take the structured / spectral engines, which stay
    within 1e-8 of a 40-digit reference (stationary law, and moments at t up to 5/(gamma mu)); dense is reported
    off by more than 1e-5 (the model is not vacuous)."""
    from kdtheory.theory import kd as tk

    rng = np.random.default_rng(1)
    A = rng.normal(size=(10, 3)) * np.exp(rng.normal(size=(10, 1)) / 2)
    w, V = np.linalg.eigh(A.T @ A / 10)
    A = A @ (V * np.sqrt(np.geomspace(1.0, 1e6, 3) / w)) @ V.T
    b = A @ rng.normal(size=3) + rng.normal(size=10)
    b = b - A @ np.linalg.lstsq(A, b, rcond=None)[0]            # centred: x* = 0 up to rounding
    c = least_squares_constants(A, b)
    gamma = tk.step_theorem2(c.mu, c.L, c.cal_L)
    assert np.finfo(float).eps / (gamma * c.mu) > 1e-4
    ch = nk.affine_chain(A, b, c.x_star + 3.0 * np.linalg.eigh(c.H)[1][:, 0], 0.5, gamma)
    m_ref, S_ref = _mp_stationary(ch)
    st = nk.stationary_moments(ch)
    assert st["method"] == "structured"
    assert _rel(st["second"], S_ref) <= 1e-8 and _rel(st["mean"], m_ref) <= 1e-8
    assert _rel(nk.stationary_moments(ch, method="dense")["second"], S_ref) > 1e-5
    x0 = c.x_star + np.array([1.0, 2.0, -1.0])
    times = [0, 1, 10, 10 ** 6, int(0.3 / (gamma * c.mu)), int(1 / (gamma * c.mu)), int(5 / (gamma * c.mu))]
    ref = _mp_moments_at(ch, x0, times)
    got = nk.moments_at(ch, x0, times)
    assert got["method"] == "spectral"
    assert np.max(np.abs(got["dist_sq"] / ref - 1)) <= 1e-8
    assert np.max(np.abs(nk.moments_at(ch, x0, times, method="dense")["dist_sq"] / ref - 1)) > 1e-5
    # a well-conditioned small chain still takes the dense engine under "auto"
    assert nk.stationary_moments(_chain(3))["method"] == "dense"


def test_power_difference_from_rates_is_stable():
    """sum_{s<t} a^{t-1-s} b^s from the rates 1 - a, 1 - b (down to 1e-15) against 40-digit sums in closed form."""
    import mpmath as mp

    rates = [(1e-15, 3e-15), (2e-13, 2e-13), (1e-13, 1e-13 * (1 + 1e-9)), (0.3, 1e-12), (0.7, 1e-3), (1.5, 0.2),
             (0.0, 1e-14), (0.45, 0.49)]
    for t in (0, 1, 2, 7, 10 ** 6, 10 ** 13, 10 ** 15):
        got = nk._power_difference_rates(np.array([r[0] for r in rates]), np.array([r[1] for r in rates]), t)
        with mp.workdps(40):
            for (da, db), g in zip(rates, got):
                a, b = 1 - mp.mpf(da), 1 - mp.mpf(db)
                exact = t * a ** (t - 1) if a == b else (a ** t - b ** t) / (a - b) if t else mp.mpf(0)
                assert abs(g - exact) <= 1e-12 * max(abs(exact), mp.mpf(1e-300)), (da, db, t, g, exact)
            for da in (1e-15, 1e-9, 0.3, 0.7, 1.5):
                p = nk._power_from_rate(np.array([da]), t)[0]
                assert abs(p - (1 - mp.mpf(da)) ** t) <= 1e-12 * abs((1 - mp.mpf(da)) ** t) + 1e-300


def test_d30_structured_equals_dense():
    assert _agree(_chain(30, n=90)) < 1   # stationary laws compared too


def test_d60_fixed_point_and_moments():
    """d = 60 (beyond the dense reference in a test budget): the structured stationary law solves S = K(S) + R
    with the map applied directly, and moments_at tends to it."""
    ch = _chain(60, n=200)
    st = nk.stationary_moments(ch)
    assert st["method"] == "structured" and st["radius_second"] < 1
    S, m = st["second"], st["mean"]
    n = ch.A.shape[0]
    Bm = m[None, :] - ch.gamma * (ch.A @ m)[:, None] * ch.A
    C = Bm.T @ ch.v / n
    rhs = nk.apply_second_moment_map(ch, S) + C + C.T + ch.v.T @ ch.v / n
    assert _rel(rhs, S) <= 1e-12
    assert np.allclose(ch.H @ m * ch.gamma, ch.v.mean(axis=0), rtol=1e-12, atol=1e-14)


def test_apply_map_equals_operator():
    for comp, param in [(None, None), ("bernoulli", 0.7), ("rand_k", 3)]:
        ch = _chain(5, "distill", comp, param)
        S = np.random.default_rng(1).normal(size=(5, 5))
        S = S + S.T
        dense = (nk.second_moment_operator(ch) @ S.reshape(-1)).reshape(5, 5)
        assert _rel(nk.apply_second_moment_map(ch, S), dense) <= 1e-13


@pytest.mark.parametrize("d", [3, 7, 13])
@pytest.mark.parametrize("comp,param", [(None, None), ("bernoulli", 0.999), ("rand_k", "d")])
def test_moments_engines_agree(d, comp, param):
    ch = _chain(d, "distill", comp, param)
    x0 = np.linspace(-1.0, 2.0, d)
    times = [0, 1, 2, 17, 300, 301, 5000]
    ref = nk.moments_at(ch, x0, times, method="dense")
    spec = nk.moments_at(ch, x0, times + [10 ** 12], method="spectral")
    it = nk.moments_at(ch, x0, times, method="iterate")
    st = nk.stationary_moments(ch)
    tr_s = nk.moment_trajectory(ch, x0, 40, method="structured")
    tr_d = nk.moment_trajectory(ch, x0, 40, method="dense")
    for key in ("dist_sq", "gap", "y_dist_sq"):
        assert _rel(spec[key][:-1], ref[key]) <= RTOL
        assert _rel(it[key], ref[key]) <= RTOL
        assert abs(spec[key][-1] - st[key]) <= RTOL * abs(st[key])
        assert _rel(tr_s[key], tr_d[key]) <= RTOL
        assert _rel(tr_s[key][[0, 1, 2, 17]], ref[key][:4]) <= RTOL
    assert _rel(tr_s["mean"], tr_d["mean"]) <= RTOL


def test_moments_diverging_chain_raises_divergence():
    ch = _chain(6, "distill", "bernoulli", 0.5)
    assert nk.second_moment_radius(ch) > 1
    for method in ("dense", "iterate", "auto"):
        with pytest.raises(nk.DivergenceError, match="moments_at: ch must"):
            nk.moments_at(ch, np.ones(6), [0, 10, 10 ** 5 if method != "dense" else 10 ** 9], method=method)
    with pytest.raises(ValueError, match="spectral radius < 1"):
        nk.moments_at(ch, np.ones(6), [3], method="spectral")
    assert issubclass(nk.DivergenceError, FloatingPointError) and issubclass(nk.DivergenceError, ValueError)


def test_power_difference_is_stable():
    """sum_{s<t} a^{t-1-s} b^s in closed form, against the sum, for close, equal, opposite and zero pairs."""
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(-1, 1, 200), [0.5, 0.5, 0.0, 0.0, -0.3, 0.999999, 1 - 1e-12]])
    b = np.concatenate([a[:100] * (1 + rng.uniform(-1e-9, 1e-9, 100)), rng.uniform(-1, 1, 100),
                        [0.5, -0.5, 0.0, 0.7, 0.3, 0.999998, 1 - 2e-12]])
    for t in (0, 1, 2, 3, 10, 57):
        exact = np.array([sum(x ** (t - 1 - s) * y ** s for s in range(t)) for x, y in zip(a, b)])
        got = nk._power_difference(a, b, t)
        scale = np.maximum(np.abs(a), np.abs(b)) ** max(t - 1, 0) * max(t, 1)
        assert np.all(np.abs(got - exact) <= 1e-13 * np.maximum(scale, 1e-300) + 1e-300), t


# ------------------------------------------------------------------ Monte Carlo kernels: bitwise twins


@pytest.mark.parametrize("d", [1, 3, 5, 16, 17, 24])
@pytest.mark.parametrize("comp,param", [(None, None), ("rand_k", "d-1"), ("bernoulli", 0.9)])
def test_chain_kernel_bitwise_equals_twin(d, comp, param):
    ch = _chain(d, "distill", comp, param, gamma_scale=0.05 if comp else 0.5)
    if comp == "rand_k":
        param = max(1, d - 1)
    x0 = np.linspace(0.5, -0.5, d)
    kw = dict(compressor=comp, param=param, checkpoints=[0, 1, 7, 60], seed=11)
    r1 = nk.simulate_chains(ch, x0, 60, 257, backend="numba", **kw)
    r2 = nk.simulate_chains(ch, x0, 60, 257, backend="numpy", **kw)
    np.testing.assert_array_equal(r1["y"], r2["y"])
    np.testing.assert_array_equal(r1["dist_sq"], r2["dist_sq"])


def test_pl_kernel_bitwise_equals_twin():
    for unb in (False, True):
        kw = dict(checkpoints=[0, 10, 200], unbiased=unb, seed=3)
        r1 = nk.simulate_pl(2.0, 0.5, 0.6, 0.01, 2.0, 200, 300, backend="numba", **kw)
        r2 = nk.simulate_pl(2.0, 0.5, 0.6, 0.01, 2.0, 200, 300, backend="numpy", **kw)
        np.testing.assert_array_equal(r1["f"], r2["f"])


def _logistic_problem(d, seed=0, n=12):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d))
    y = np.where(A @ rng.normal(size=d) >= 0, 1.0, -1.0)
    y[: n // 5] *= -1
    return A, y, 0.3


@pytest.mark.parametrize("d", [1, 3, 8])
@pytest.mark.parametrize("unbiased", [False, True])
def test_logistic_kernel_bitwise_equals_twin(d, unbiased, monkeypatch):
    """Same pre-drawn indices, several blocks of draws (block boundary inside the run): bitwise equal."""
    monkeypatch.setattr(nk, "_LOGISTIC_BLOCK", 7 * 101)
    A, y, ridge = _logistic_problem(d)
    theta, x0 = np.linspace(-1.0, 1.0, d), np.linspace(2.0, -1.0, d)
    kw = dict(checkpoints=[0, 1, 6, 7, 8, 30, 45], unbiased=unbiased, seed=5)
    r1 = nk.simulate_logistic(A, y, ridge, theta, 0.7, 0.2, x0, 45, 101, backend="numba", **kw)
    r2 = nk.simulate_logistic(A, y, ridge, theta, 0.7, 0.2, x0, 45, 101, backend="numpy", **kw)
    for key in ("dist_sq", "gap", "x"):
        np.testing.assert_array_equal(r1[key], r2[key])
    idx = np.random.default_rng(9).integers(0, A.shape[0], size=(45, 101))
    r3 = nk.simulate_logistic(A, y, ridge, theta, 0.7, 0.2, x0, 45, 101, backend="numba", draws=idx, **kw)
    r4 = nk.simulate_logistic(A, y, ridge, theta, 0.7, 0.2, x0, 45, 101, backend="numpy", draws=idx, **kw)
    np.testing.assert_array_equal(r3["gap"], r4["gap"])


def test_logistic_simulator_equals_a_plain_loop():
    """The kernel against a plain per-chain loop with the public per-sample gradients of theory/kd.py (np.tanh,
    BLAS: not bitwise, a 1e-12 relative agreement), iteration (7) and (16)."""
    from kdtheory.theory import kd as tk

    A, y, ridge = _logistic_problem(3, seed=1)
    c = tk.ridge_logistic_constants(A, y, ridge)
    theta, x0, lam, gamma = c.x_star + 0.5, c.x_star - 1.0, 0.6, 0.15
    idx = np.random.default_rng(3).integers(0, A.shape[0], size=(60, 4))
    G_theta = tk.ridge_logistic_gradients(A, y, ridge, theta)
    for unbiased in (False, True):
        sim = nk.simulate_logistic(A, y, ridge, theta, lam, gamma, x0, 60, 4, checkpoints=[0, 20, 60], draws=idx,
                                   unbiased=unbiased)
        for ch in range(4):
            x, got = x0.copy(), []
            for t in range(61):
                if t in (0, 20, 60):
                    got.append((np.sum((x - c.x_star) ** 2), tk.ridge_logistic_loss(A, y, ridge, x) - c.f_star))
                if t == 60:
                    break
                i = idx[t, ch]
                g = tk.ridge_logistic_gradients(A, y, ridge, x)[i] - lam * G_theta[i]
                if unbiased:
                    g = g + lam * G_theta.mean(axis=0)
                x = x - gamma * g
            np.testing.assert_allclose(sim["dist_sq"][:, ch], [v[0] for v in got], rtol=1e-12)
            np.testing.assert_allclose(sim["gap"][:, ch], [v[1] for v in got], rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(sim["x"][ch], x, rtol=1e-12)


def test_logistic_simulator_inputs():
    A, y, ridge = _logistic_problem(2)
    z = np.zeros(2)
    with pytest.raises(ValueError, match=r"simulate_logistic: y must be 12 labels"):
        nk.simulate_logistic(A, 2 * y, ridge, z, 0.5, 0.1, z, 5, 3)
    with pytest.raises(ValueError, match=r"simulate_logistic: theta must have shape"):
        nk.simulate_logistic(A, y, ridge, np.zeros(3), 0.5, 0.1, z, 5, 3)
    with pytest.raises(ValueError, match=r"simulate_logistic: chains must"):
        nk.simulate_logistic(A, y, ridge, z, 0.5, 0.1, z, 10 ** 6, 10 ** 6)
    with pytest.raises(ValueError, match=r"simulate_logistic: ridge must"):
        nk.simulate_logistic(A, y, 0.0, z, 0.5, 0.1, z, 5, 3)
    with pytest.raises(TypeError, match=r"simulate_logistic: draws must"):
        nk.simulate_logistic(A, y, ridge, z, 0.5, 0.1, z, 5, 3, draws=np.zeros((5, 3)))
    bad = np.zeros((5, 3), dtype=np.int64)
    bad[2, 1] = 12
    for backend in ("numba", "numpy"):
        with pytest.raises(ValueError, match=r"simulate_logistic: draws must hold sample indices"):
            nk.simulate_logistic(A, y, ridge, z, 0.5, 0.1, z, 5, 3, draws=bad, backend=backend)
        with pytest.raises(nk.DivergenceError, match=r"simulate_logistic: gamma must keep the chains finite"):
            nk.simulate_logistic(A, y, ridge, z, 0.5, 1e3, z + 1, 400, 3, backend=backend)
    out = nk.simulate_logistic(A, y, ridge, z, 0.5, 0.1, z, 0, 3)
    assert out["dist_sq"].shape == (1, 3) and np.all(np.isfinite(out["gap"]))


# ------------------------------------------------------------------ thread policy


def test_thread_policy_limits_and_restores():
    before = [p["num_threads"] for p in _threads.thread_settings()["pools"]]
    with _threads.blas_threads_for(1e6):
        inside = [p["num_threads"] for p in _threads.thread_settings()["pools"]]
    with _threads.blas_threads_for(10 * _threads.SMALL_FLOPS):
        big = [p["num_threads"] for p in _threads.thread_settings()["pools"]]
    after = [p["num_threads"] for p in _threads.thread_settings()["pools"]]
    assert all(n == 1 for n in inside) and big == before == after
    text = _threads.format_thread_settings()
    assert "NUMBA_NUM_THREADS" in text and "policy" in text


def test_worker_limits_in_a_fresh_process():
    code = ("from kdtheory.numerics._threads import worker_limits, worker_environment\n"
            "s = worker_limits()\n"
            "assert all(p['num_threads'] == 1 for p in s['pools']), s\n"
            "assert s['environment']['OPENBLAS_NUM_THREADS'] == '1'\n"
            "assert worker_environment()['NUMBA_NUM_THREADS'] == '1'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------ inputs (issue #9 rule)


def test_inputs_named_errors():
    ch = _chain(3)
    A, b = ch.A, ch.b
    with pytest.raises(ValueError, match=r"simulate_pl: T must"):
        nk.simulate_pl(1.0, 0.5, 0.5, 0.01, 0.1, -1, 4)
    with pytest.raises(ValueError, match=r"refresh_phases: phases must"):
        nk.refresh_phases(A, b, np.zeros(3), 0.01, 5, 10 ** 30)
    with pytest.raises(ValueError, match=r"refresh_phases: phases must"):
        nk.refresh_phases(A, b, np.zeros(3), 0.01, 5, -1)
    with pytest.raises(ValueError, match=r"refresh_phases: x0 must"):
        nk.refresh_phases(A, b, [0, 0], 0.01, 5, 3)
    with pytest.raises(TypeError, match=r"refresh_phases: tau must be an integer"):
        nk.refresh_phases(A, b, np.zeros(3), 0.01, 5.5, 3)
    with pytest.raises(TypeError, match=r"stationary_moments: ch must be an AffineChain"):
        nk.stationary_moments("chain")
    with pytest.raises(ValueError, match=r"stationary_moments: method must"):
        nk.stationary_moments(ch, method="fast")
    with pytest.raises(ValueError, match=r"moment_trajectory: T must"):
        nk.moment_trajectory(ch, np.zeros(3), 10 ** 30)
    with pytest.raises(ValueError, match=r"moments_at: times must"):
        nk.moments_at(ch, np.zeros(3), [5, 3])
    with pytest.raises(TypeError, match=r"moments_at: times must"):
        nk.moments_at(ch, np.zeros(3), ["a"])
    with pytest.raises(ValueError, match=r"moments_at: x0 must"):
        nk.moments_at(ch, np.zeros(2), [1])
    with pytest.raises(ValueError, match=r"simulate_chains: chains must"):
        nk.simulate_chains(ch, np.zeros(3), 10 ** 6, 10 ** 6)
    with pytest.raises(ValueError, match=r"simulate_chains: compressor must match"):
        nk.simulate_chains(ch, np.zeros(3), 5, 5, compressor="bernoulli", param=0.5)
    with pytest.raises(ValueError, match=r"simulate_chains: checkpoints must"):
        nk.simulate_chains(ch, np.zeros(3), 5, 5, checkpoints=[])
    idx, masks, scale = nk.draw_chain_randomness(ch.A.shape[0], 3, 5, 4, seed=0)
    idx = idx.copy()
    idx[3, 2] = ch.A.shape[0]
    for backend in ("numba", "numpy"):
        with pytest.raises(ValueError, match=r"simulate_chains: draws must hold sample indices"):
            nk.simulate_chains(ch, np.zeros(3), 5, 4, draws=(idx, masks, scale), backend=backend)
    with pytest.raises(ValueError, match=r"affine_chain: gamma must"):
        nk.affine_chain(A, b, np.zeros(3), 0.5, float("nan"))
    with pytest.raises(TypeError, match=r"compression_second_moment: param must be an integer"):
        nk.compression_second_moment("rand_k", 4, 2.5)
    with pytest.raises(ValueError, match=r"compression_second_moment: param must be None"):
        nk.compression_second_moment(None, 4, 2)
    with pytest.raises(TypeError, match=r"random_least_squares: rng must"):
        nk.random_least_squares(5, 2, 0)
    with pytest.raises(nk.DivergenceError, match=r"simulate_pl: gamma must keep the chains finite"):
        nk.simulate_pl(1.0, 0.5, 0.5, 100.0, 0.1, 200, 4)
    assert not np.any(np.isnan(nk.simulate_pl(1.0, 0.5, 0.5, 0.01, 0.1, 0, 4)["f"]))
    assert set(nk.__all__) >= {"stationary_moments", "moments_at", "apply_second_moment_map", "DivergenceError"}
