"""Paper-specific tests for [sd]: calculators vs SymPy, input checks, engine vs twins and reference."""

import math

import numpy as np
import pytest

import kdtheory.theory.sd as sd
from kdtheory.numerics.sd import kernel_self_distillation, kernel_self_distillation_reference, spectral_rounds


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ---------------------------------------------------------------- calculators vs SymPy


def test_green_function_derivation_all_zero():
    res = sd.derive_green_function()
    for key, val in res.items():
        if key != "diagonal":
            assert val == 0, key
    x = np.linspace(0.01, 0.99, 7)
    assert _rel(sd.green_function(x, x), x**2 * (1 - x) ** 2 / 3) < 1e-12


def test_green_function_equals_its_eigen_expansion():
    rng = np.random.default_rng(0)
    x, xp = rng.uniform(0, 1, 50), rng.uniform(0, 1, 50)
    assert np.max(np.abs(sd.green_function(x, xp) - sd.green_function_series(x, xp, 3000))) < 1e-11


def test_c_bounds_derivation_matches_calculator():
    import sympy as sp

    res = sd.derive_c_bounds()
    assert res["residuals"] == [0, 0]
    rng = np.random.default_rng(1)
    sym = {s.name: s for s in res["positive_root"].free_symbols}
    for _ in range(5):
        K, eps = int(rng.integers(1, 30)), float(rng.uniform(0.01, 2))
        z = math.sqrt(K * eps) * float(rng.uniform(1.01, 10))
        dmin, dmax = sorted(rng.uniform(0.1, 3, 2))
        lo, hi = sd.c_bounds_corrected(z, K, eps, dmin, dmax)
        val = lambda d: float(res["positive_root"].subs({sym["d"]: d, sym["z"]: z, sym["K"]: K, sym["epsilon"]: eps}))
        assert _rel(lo, val(dmin)) < 1e-12 and _rel(hi, val(dmax)) < 1e-12
        neg = float(res["negative_root"].subs({sym["d"]: dmin, sym["z"]: z, sym["K"]: K, sym["epsilon"]: eps}))
        assert -dmin < neg < 0
    assert len(res["roots"]) == 2 and all(sp.simplify(r) != 0 for r in res["roots"])


def test_guaranteed_rounds_derivation_matches_zero_crossing():
    res = sd.derive_guaranteed_rounds()
    assert res["ratio_minus_printed"] == 0 and res["a_minus_printed"] == 0
    assert str(res["slope_at_infinity"]) == "1/kappa"
    u, k = sorted(res["t"].free_symbols, key=lambda s: s.name)[::-1]  # u0, kappa
    rng = np.random.default_rng(2)
    for _ in range(5):
        u0, kap = float(rng.uniform(1.1, 50)), float(rng.uniform(1.01, 30))
        sym = float(res["t"].subs({u: u0, k: kap}))
        assert _rel(sd.zero_crossing_round(u0, kap), sym) < 1e-12
        # the Prop. 3 lower bound equals 1 there
        t = sd.zero_crossing_round(u0, kap)
        lo, _ = sd.label_norm_bounds_corrected(u0, t, 4, 0.25, kap)  # threshold sqrt(4 * 0.25) = 1
        assert abs(float(lo) - 1.0) < 1e-9


def test_sparsity_derivative_matches_sympy():
    res = sd.derive_sparsity_bound_derivative()
    eps, K, z, dm, dj, dk, k = res["symbols"]
    rng = np.random.default_rng(3)
    for _ in range(5):
        vals = dict(K=int(rng.integers(2, 20)), eps=float(rng.uniform(0.01, 1)))
        dmin = float(rng.uniform(0.1, 1))
        djv, dkv = sorted(dmin * rng.uniform(1, 5, 2))
        kap = dkv / dmin * float(rng.uniform(1, 2))
        zz = math.sqrt(vals["K"] * vals["eps"]) * float(rng.uniform(1.2, 20))
        sub = {eps: vals["eps"], K: vals["K"], z: zz, dm: dmin, dj: djv, dk: dkv, k: kap}
        got = sd.sparsity_bound_derivative(zz, vals["K"], vals["eps"], dmin, djv, dkv, kap)
        assert _rel(got, float(res["dh"].subs(sub))) < 1e-10
        assert _rel(sd.sparsity_bound_corrected(zz, vals["K"], vals["eps"], dmin, djv, dkv, kap),
                    float(res["h"].subs(sub))) < 1e-12


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize("call, match", [
    (lambda: sd.c_bounds_corrected(0.5, 4, 0.25, 1, 2), "labels not yet collapsed"),
    (lambda: sd.c_bounds(0.4, 4, 0.2, 1, 2), "labels not yet collapsed"),
    (lambda: sd.guaranteed_rounds_corrected(0.9, 1, 1.0, 2), "labels not yet collapsed"),
    (lambda: sd.guaranteed_rounds_corrected(5, 1, 1.0, 0.5), "kappa"),
    (lambda: sd.ratio_bound_corrected(5, 1, 1.0, 1, 2, 2, 0), "d_k > d_j"),
    (lambda: sd.ratio_bound_corrected(5, 1, 1.0, 1, 1.5, 2, 3, kappa=2), "Prop. 5 hypothesis"),
    (lambda: sd.green_function(1.5, 0.2), r"\[0, 1\]"),
    (lambda: sd.gram_matrix([0.1, 0.2], "nope"), "kernel"),
    (lambda: sd.rbf_kernel([0.1], [0.2], length_scale=-1), "length_scale"),
])
def test_calculators_reject_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_engine_rejects_bad_inputs():
    G = np.diag([1.0, 0.5])
    with pytest.raises(ValueError, match="exactly one of c"):
        kernel_self_distillation(G, np.ones(2), 3)
    with pytest.raises(ValueError, match="exactly one of c"):
        kernel_self_distillation(G, np.ones(2), 3, c=1.0, eps=0.1)
    with pytest.raises(ValueError, match="symmetric"):
        kernel_self_distillation(np.array([[1.0, 0.5], [0.0, 1.0]]), np.ones(2), 3, c=1.0)
    with pytest.raises(ValueError, match="positive definite"):
        kernel_self_distillation(np.diag([1.0, 0.0]), np.ones(2), 3, c=1.0)
    with pytest.raises(ValueError, match="semi-definite") as err:
        kernel_self_distillation(np.diag([1.0, -0.1]), np.ones(2), 3, c=1.0)
    assert "--" not in str(err.value)                             # issue #9: "< --2.66e-15"
    with pytest.raises(ValueError, match="^kernel_self_distillation_reference: gram must be positive semi-definite"):
        kernel_self_distillation_reference(np.diag([1.0, -0.1]), np.ones(2), 3, c=1.0)
    with pytest.raises(ValueError, match="ground_truth_weight"):
        kernel_self_distillation(G, np.ones(2), 3, c=1.0, ground_truth_weight=1.5)
    with pytest.raises(ValueError, match="null space"):   # null-space label energy above K eps
        kernel_self_distillation(np.diag([1.0, 0.0]), np.array([1.0, 1.0]), 3, eps=0.1, singular="pinv")


# ---------------------------------------------------------------- engine


def _problem(kernel, K, seed, **params):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.05, 0.95, K))
    if kernel == "polynomial":
        x = np.sort(rng.uniform(-1, 1, K))
    G = sd.gram_matrix(x, kernel, **params)
    y = np.sin(2 * np.pi * x) + 0.4 * rng.normal(size=K)
    xe = np.linspace(x.min(), x.max(), 9)
    return G, y, sd.kernel_matrix(xe, x, kernel, **params)


@pytest.mark.parametrize("kernel, K, params", [("spline", 6, {}), ("spline", 8, {}),
                                               ("rbf", 15, {"length_scale": 0.05}),
                                               ("polynomial", 5, {"degree": 6})])
@pytest.mark.parametrize("mode", [{"eps": 0.02}, {"eps": 0.002, "ground_truth_weight": 0.25}, {"c": 1e-4}])
def test_engine_matches_direct_solve_reference(kernel, K, params, mode):
    """Held to 1e-10 on Gram matrices with condition number <= 1e6 (the direct solves lose
    about cond * ulp; at cond ~ 1e8, e.g. the spline with K = 30, they agree to ~1e-9)."""
    G, y, Ge = _problem(kernel, K, 5, **params)
    assert np.linalg.cond(G) < 1e6
    res = kernel_self_distillation(G, y, 12, gram_eval=Ge, **mode)
    ref = kernel_self_distillation_reference(G, y, 12, gram_eval=Ge, **mode)
    assert res.collapsed_at == ref["collapsed_at"] and res.rounds_run == ref["c"].size
    assert _rel(res.c, ref["c"]) < 1e-10
    for name in ("train_predictions", "labels", "eval_predictions"):
        assert _rel(getattr(res, name), ref[name]) < 1e-10, name
    if "eps" in mode:
        assert np.max(np.abs(res.training_mse / mode["eps"] - 1)) < 1e-12


def test_engine_numba_equals_numpy_twin_on_batches():
    rng = np.random.default_rng(7)
    n, K = 40, 25
    d = np.sort(rng.uniform(1e-3, 1, (n, K)) ** rng.uniform(1, 4, (n, 1)), axis=1)
    z0 = rng.normal(size=(n, K))
    eps = np.sum(z0**2, 1) / K / (1 + 10 ** rng.uniform(-9, 1.5, n)) ** 2
    for kw in ({"eps": eps}, {"eps": eps, "ground_truth_weight": 0.2}, {"c": 0.01}):
        a = spectral_rounds(d, z0, 60, backend="numba", **kw)
        b = spectral_rounds(d, z0, 60, backend="numpy", **kw)
        assert np.array_equal(a["n_done"], b["n_done"])
        fin = np.isfinite(a["c"])
        assert np.array_equal(fin, np.isfinite(b["c"]))
        assert _rel(a["c"][fin], b["c"][fin]) < 1e-12 and _rel(a["norms"], b["norms"]) < 1e-12


def test_engine_collapse_and_pinv():
    # collapse: one eigen-direction, u0 = 3.5 -> u_t = 3.5 - t, collapse at round 3 (u = 0.5 ... rounds 0,1,2 run)
    G = np.diag([2.0, 1.0])
    y = np.array([0.0, 3.5])
    res = kernel_self_distillation(G, y, 10, eps=0.5)   # sqrt(K eps) = 1
    assert res.collapsed_at == 3 and res.rounds_run == 3
    assert np.allclose(np.linalg.norm(res.z, axis=1), [3.5, 2.5, 1.5], rtol=1e-13)
    # singular Gram of the Sec. 4 grid: pinv fits the interior, endpoints predicted 0
    x = np.linspace(0, 1, 11)
    Gs = sd.gram_matrix(x)
    y = np.sin(2 * np.pi * x) * 0.5
    r = kernel_self_distillation(Gs, y, 3, c=1e-6, singular="pinv")
    assert abs(r.train_predictions[0, 0]) < 1e-14 and abs(r.train_predictions[0, -1]) < 1e-14


# ---------------------------------------------------------------- more calculators


def test_prop3_iterate_matches_printed_recurrence():
    rng = np.random.default_rng(11)
    for _ in range(20):
        u0, kap = float(rng.uniform(1.01, 40)), float(10 ** rng.uniform(0, 3))
        t = np.arange(0, 12, dtype=float)
        lo, hi = sd.label_norm_bounds_corrected(u0, t, 1, 1.0, kap)
        for x, got in ((kap, lo), (1 / kap, hi)):
            a, b = sd.prop3_coefficients(u0, x)
            u, ref = u0, [u0]
            for _ in range(11):
                u = a * u - b
                ref.append(u)
            assert np.max(np.abs(got - ref)) <= 1e-9 * u0 * 12


def test_guaranteed_rounds_hierarchy_and_sharp_bounds():
    rng = np.random.default_rng(12)
    for _ in range(50):
        K, eps = int(rng.integers(1, 20)), float(10 ** rng.uniform(-3, 1))
        u0, kap = float(1 + 10 ** rng.uniform(-3, 2)), float(10 ** rng.uniform(0, 4))
        y = u0 * math.sqrt(K * eps)
        t_paper = sd.guaranteed_rounds_corrected(y, K, eps, kap)
        assert t_paper <= sd.zero_crossing_round(u0, kap) * (1 + 1e-12) + 1e-12
        assert sd.zero_crossing_round(u0, kap) <= sd.guaranteed_rounds_sharp(y, K, eps) * (1 + 1e-12) + 1e-12
        tt = np.arange(0.0, math.floor(u0 - 1) + 1)          # rounds with u0 - t >= 1 (where bounds matter)
        lo, hi = sd.label_norm_bounds_sharp(y, tt, K, eps)
        plo, _ = sd.label_norm_bounds_corrected(y, tt, K, eps, kap)
        assert np.all(plo <= lo + 1e-12 * y) and np.all(lo <= hi + 1e-12 * y)
        assert sd.collapse_round_upper(y, K, eps) >= math.ceil(u0 - 1 - 1e-12)


def test_printed_equals_corrected_at_eps_one_and_differs_otherwise():
    assert sd.c_bounds(5.0, 4, 1.0, 0.5, 2.0) == sd.c_bounds_corrected(5.0, 4, 1.0, 0.5, 2.0)
    assert sd.c_bounds(5.0, 4, 0.25, 0.5, 2.0) != sd.c_bounds_corrected(5.0, 4, 0.25, 0.5, 2.0)
    # the worked counterexample: K = 1, d = 1, y = 2, eps = 1/4 -> c = 1/3, printed interval {1/7}
    assert abs(sd.c_bounds_corrected(2.0, 1, 0.25, 1.0, 1.0)[0] - 1 / 3) < 1e-15
    assert abs(sd.c_bounds(2.0, 1, 0.25, 1.0, 1.0)[0] - 1 / 7) < 1e-15
    c = spectral_rounds(np.array([1.0]), np.array([2.0]), 1, eps=0.25)["c"][0]
    assert abs(c - 1 / 3) < 1e-15


def test_ratio_and_sparsity_bounds():
    rng = np.random.default_rng(13)
    for _ in range(30):
        K, eps = int(rng.integers(1, 20)), float(10 ** rng.uniform(-3, 1))
        u0 = float(1 + 10 ** rng.uniform(-1, 2))
        y = u0 * math.sqrt(K * eps)
        dmin = float(10 ** rng.uniform(-2, 1))
        dj, dk = sorted(dmin * 10 ** rng.uniform(0, 2, 2))
        t = int(rng.integers(0, max(1, int(u0 * u0 - 1))))
        assert sd.ratio_bound_sharp(y, K, eps, dmin, dj, dk, t) >= sd.ratio_bound_corrected(y, K, eps, dmin, dj, dk, t) * (1 - 1e-12)
        kap = dk / dmin * 1.5
        lo, hi = sd.sparsity_bound_limits(dmin, dj, dk, kap)
        h = sd.sparsity_bound_corrected(y, K, eps, dmin, dj, dk, kap)
        assert lo * (1 - 1e-12) <= h <= hi * (1 + 1e-12)
        assert sd.sparsity_bound_derivative(y, K, eps, dmin, dj, dk, kap) > 0


def test_training_error_identity():
    rng = np.random.default_rng(14)
    G = np.cov(rng.normal(size=(6, 20))) + 0.1 * np.eye(6)
    y = rng.normal(size=6)
    d, W = np.linalg.eigh(G)
    lhs = np.mean((G @ np.linalg.solve(G + 0.3 * np.eye(6), y) - y) ** 2)
    assert _rel(sd.training_error(W.T @ y, d, 0.3), lhs) < 1e-12


# ---------------------------------------------------------------- more engine


def test_engine_interpolation_and_weights():
    rng = np.random.default_rng(15)
    G = np.cov(rng.normal(size=(5, 30))) + 0.05 * np.eye(5)
    y = rng.normal(size=5)
    r = kernel_self_distillation(G, y, 4, c=0.0)                       # eps = 0: labels frozen
    assert np.max(np.abs(r.train_predictions - y)) < 1e-12
    r = kernel_self_distillation(G, y, 6, eps=0.01, ground_truth_weight=1.0)   # w = 1: every round fits y
    assert _rel(r.c, np.full(r.c.size, r.c[0])) < 1e-12
    r = kernel_self_distillation(G, y, 6, eps=0.01, ground_truth_weight=0.3)
    assert np.allclose(r.z @ r.eigenvectors.T, r.labels)
    assert _rel(r.train_predictions, (r.b_diag * r.z0) @ r.eigenvectors.T) < 1e-12   # A_t z_t = B_t z_0


def test_engine_shapes_and_messages():
    G = np.diag([1.0, 0.5, 0.2])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        kernel_self_distillation(G, np.ones(2), 3, c=1.0)
    with pytest.raises(ValueError, match="gram_eval"):
        kernel_self_distillation(G, np.ones(3), 3, c=1.0, gram_eval=np.ones((4, 2)))
    with pytest.raises(ValueError, match="rounds"):
        kernel_self_distillation(G, np.ones(3), 0, c=1.0)
    r = kernel_self_distillation(G, np.ones(3), 3, c=1.0, gram_eval=np.ones((4, 3)))
    assert r.eval_predictions.shape == (3, 4) and r.b_diag.shape == (3, 3)


def test_engine_root_accurate_next_to_collapse():
    import mpmath as mp

    d = np.array([0.3, 0.3, 0.3])
    z = np.array([0.5, -0.4, 0.1])
    eps = float(z @ z) / 3 / (1 + 1e-9) ** 2
    c = spectral_rounds(d, z, 1, eps=eps)["c"][0]
    with mp.workdps(40):
        s = mp.sqrt(3 * mp.mpf(eps)) / mp.sqrt(mp.fsum(mp.mpf(v) ** 2 for v in z))
        exact = mp.mpf(0.3) * s / (1 - s)
    assert abs(c / float(exact) - 1) < 1e-12


# ---------------------------------------------------------------- property test (hypothesis)

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(deadline=None, max_examples=25)
@given(K=st.integers(2, 6), seed=st.integers(0, 10_000), log_eps_frac=st.floats(-3, -0.1),
       w=st.sampled_from([0.0, 0.0, 0.3]))
def test_engine_equals_reference_property(K, seed, log_eps_frac, w):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(K, K)))
    G = (Q * 10 ** rng.uniform(-1, 1, K)) @ Q.T
    G = 0.5 * (G + G.T)
    y = rng.normal(size=K)
    eps = float(np.mean(y**2) * 10**log_eps_frac)
    res = kernel_self_distillation(G, y, 6, eps=eps, ground_truth_weight=w)
    ref = kernel_self_distillation_reference(G, y, 6, eps=eps, ground_truth_weight=w)
    assert res.collapsed_at == ref["collapsed_at"]
    assert _rel(res.c, ref["c"]) < 1e-10 and _rel(res.train_predictions, ref["train_predictions"]) < 1e-10
    # every round meets its constraint, and the multiplier sits in the corrected Eq. (25) interval
    for t in range(res.rounds_run):
        lo, hi = sd.c_bounds_corrected(float(np.linalg.norm(res.z[t])), K, eps, float(res.eigenvalues[0]),
                                       float(res.eigenvalues[-1]))
        assert lo * (1 - 1e-12) <= res.c[t] <= hi * (1 + 1e-12)


# ---------------------------------------------------------------- Prop. 6 / Eq. (51) at the guaranteed round


def test_prop6_counterexample_exact_and_through_the_engine():
    import sympy as sp

    K, eps, th = 2, 0.5, 0.7
    W = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    G = W @ np.diag([1.0, 4.0]) @ W.T
    y = 3.0 * math.sqrt(K * eps) * W[:, 0]               # u0 = 3 along the eigenvector of d_min
    ny = float(np.linalg.norm(y))
    r = kernel_self_distillation(G, y, 2, eps=eps)
    ratio0 = r.b_diag[0, 1] / r.b_diag[0, 0]
    assert abs(r.c[0] - 0.5) < 1e-14 and abs(ratio0 - 4 / 3) < 1e-14
    assert abs(r.b_diag[1, 1] / r.b_diag[1, 0] - 32 / 15) < 1e-13
    assert abs(sd.guaranteed_rounds_corrected(ny, K, eps, 4.0) - 0.5) < 1e-14
    env = sd.sparsity_bound_corrected(ny, K, eps, 1.0, 1.0, 4.0, 4.0)    # (4/3)^(1 + t_), Eq. (51)
    assert abs(env - (4 / 3) ** 1.5) < 1e-12 and ratio0 < env / 1.15
    assert sp.Rational(4, 3) < sp.Rational(4, 3) ** sp.Rational(3, 2)
    # the bound valid at round floor(t_) = 0 is attained
    assert abs(sd.ratio_bound_corrected(ny, K, eps, 1.0, 1.0, 4.0, 0, kappa=4.0) - ratio0) < 1e-14
    # printed threshold, integer t_ = 1 (eps = 4, true u0 = 10): B_1 ratio 480/407 < (20/17)^2
    y4 = 10.0 * math.sqrt(K * 4.0) * W[:, 0]
    r4 = kernel_self_distillation(G, y4, 2, eps=4.0)
    assert abs(r4.b_diag[1, 1] / r4.b_diag[1, 0] - 480 / 407) < 1e-13
    assert abs(sd.ratio_bound(float(np.linalg.norm(y4)), K, 4.0, 1.0, 1.0, 4.0, 1, kappa=4.0) - (20 / 17) ** 2) < 1e-12
    assert sp.Rational(480, 407) < sp.Rational(20, 17) ** 2


def test_prop6_floor_bound_jumps_while_envelope_increases():
    from kdtheory.verify.sd.props5_6 import _floor_bound_jump

    j = _floor_bound_jump()
    lo, hi = j["rows"]
    assert (lo["floor_t_"], hi["floor_t_"]) == (0, 1)
    assert abs(lo["floor_bound"] - 4.99 / 4.24) < 1e-12 and abs(hi["floor_bound"] - (5.01 / 4.26) ** 2) < 1e-12
    assert j["floor_bound_increases_as_eps_decreases"] and j["envelope_decreases_as_eps_decreases"]
    assert hi["floor_bound"] <= hi["envelope"] and lo["floor_bound"] <= lo["envelope"]


def test_eq51_readings_through_one_check():
    from kdtheory.verify import Run
    from kdtheory.verify.sd.props5_6 import _prop5_check, _prop6_batches

    run = Run("sd.prop6_corrected")
    trajs = _prop6_batches(run)
    ok = _prop5_check(run, "corrected", source=trajs)
    assert ok.holds and ok.details["covered_rounds_not_collapsed"]["holds"]
    assert _prop5_check(run, "eq51_floor", source=trajs).holds        # Prop. 5 exponent at round floor(t_)
    for variant in ("eq51", "eq51_printed"):                         # 1 + t_ exponent; sqrt(K) eps scaling
        assert not _prop5_check(run, variant, source=trajs).holds, variant


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("u0", [3.0, 1e4, 1.3e8])
def test_multiplier_accurate_far_from_collapse(backend, u0):
    """c_t meets its constraint to 1e-12 relative even when K eps is tiny against ||y||^2."""
    d, y = np.array([1.0, 4.0]), np.array([1.0, 0.5])
    eps = float(y @ y) / (2 * u0**2)
    c = kernel_self_distillation(np.diag(d), y, 1, eps=eps, backend=backend).c[0]
    residual = np.sum(y**2 * (c / (c + d)) ** 2)
    assert abs(residual - 2 * eps) <= 1e-12 * 2 * eps


def test_printed_calculators_equal_corrected_at_eps_one():
    # the printed threshold sqrt(K) eps equals sqrt(K eps) exactly at eps = 1, and only there
    for K in (1, 4, 9):
        assert sd.collapse_threshold_printed(K, 1.0) == sd.collapse_threshold(K, 1.0) == math.sqrt(K)
        assert sd.collapse_threshold_printed(K, 0.25) != sd.collapse_threshold(K, 0.25)
        y = np.full(K, 1.0)                                    # ||y|| = sqrt(K): exactly at the threshold
        assert sd.is_collapsed(y, 1.0) and not sd.is_collapsed(1.001 * y, 1.0)
        t = np.arange(4.0)
        for a, b in zip(sd.label_norm_bounds(7.0, t, K, 1.0, 3.0), sd.label_norm_bounds_corrected(7.0, t, K, 1.0, 3.0)):
            assert np.allclose(a, b, rtol=1e-12, atol=0)
        assert _rel(sd.sparsity_bound(7.0, K, 1.0, 0.5, 1.0, 2.0, 4.0),
                    sd.sparsity_bound_corrected(7.0, K, 1.0, 0.5, 1.0, 2.0, 4.0)) <= 1e-12


# ---------------------------------------------------------------- issue #10: statements as registered


def test_prop4_corrected_edge_instance_round_t_collapses_but_t_rounds_are_guaranteed():
    """K = 1, d = 1, eps = 1, y0 = 2: u0 = 2, t_ = 1, c_0 = 1, ||y_1||^2/K = 1 = eps: round 1 collapses.
    The registered statement (at least t_ rounds, i.e. every integer t < t_) holds; 't <= t_' would not."""
    t_ = sd.guaranteed_rounds_corrected(2.0, 1, 1.0, 1.0)
    assert t_ == 1.0
    run = spectral_rounds(np.array([1.0]), np.array([2.0]), 5, eps=1.0)
    assert run["c"][0] == 1.0 and run["n_done"] == 1 and run["collapsed"]
    assert run["norms"][1] ** 2 / 1 == 1.0                    # collapsed exactly at the threshold
    assert run["n_done"] >= t_                                 # at least t_ rounds
    assert not all(t < run["n_done"] for t in range(int(t_) + 1))   # round t_ itself is not
    assert sd.guaranteed_rounds_sharp(2.0, 1, 1.0) == 1.0 and sd.collapse_round_upper(2.0, 1, 1.0) == 3


def test_prop6_headline_is_its_own_error_exactly():
    """Eq. (51) at the non-integer t_ = 1/2 with the corrected threshold: 4/3 < 8 sqrt(3)/9 (issue #10)."""
    from kdtheory.verify.sd.props5_6 import _worked_prop6

    ex = _worked_prop6(False)
    assert ex["t_"] == 0.5 and ex["round_floor_t_"] == 0
    assert abs(ex["ratio_B0_engine"] - 4 / 3) < 1e-15 and abs(ex["eq51_bound"] - 8 * math.sqrt(3) / 9) < 1e-15
    assert ex["certificate"]["holds"] is False and ex["certificate"]["precision"] == "50 digits"
    assert _worked_prop6(True)["certificate"]["holds"] is True        # exponent 1 + floor(t_): 4/3 >= 4/3


def test_exact_round_decisions_at_integer_t():
    # t_ = (u0 - 1)/kappa next to an integer: the floats given decide exactly (threshold sqrt(K eps) = 2)
    from fractions import Fraction

    for kappa in (1.1, 1.3, 2.7, 3.3, 7.1):
        for m in (1, 2, 3, 7):
            y0 = 2.0 * (1.0 + m * kappa)
            exact = m if Fraction(y0) >= 2 * (m * Fraction(kappa) + 1) else m - 1
            assert sd.ratio_bound_last_round_corrected(y0, 1, 4.0, kappa) == exact, (kappa, m)
    # exact: u0 = 5, kappa = 2 -> t_ = 2 exactly
    assert sd.ratio_bound_last_round_corrected(10.0, 1, 4.0, 2.0) == 2
    assert sd.ratio_bound_last_round(10.0, 4, 1.0, 2.0) == 2          # sqrt(K) eps = 2 at eps = 1
    assert sd.ratio_bound_last_round(10.0, 1, 4.0, 2.0) == 0          # printed: sqrt(1) * 4 -> u0 = 2.5, t_ = 0.75
    assert sd.collapse_round_upper(3.0, 1, 1.0) == 8                   # u0^2 - 1 = 8 exactly
    with pytest.raises(ValueError, match="Prop. 5 hypothesis"):
        sd.ratio_bound_corrected(10.0, 1, 4.0, 1.0, 1.0, 2.0, 3, kappa=2.0)
    assert sd.ratio_bound_corrected(10.0, 1, 4.0, 1.0, 1.0, 2.0, 2, kappa=2.0) > 1


def test_calculators_broadcast_and_match_scalars():
    z = np.array([3.0, 5.0, 9.0])
    lo, hi = sd.c_bounds_corrected(z, 4, 0.25, 0.5, 2.0)
    for i in range(3):
        assert (lo[i], hi[i]) == sd.c_bounds_corrected(float(z[i]), 4, 0.25, 0.5, 2.0)
    r = sd.ratio_bound_corrected(z[:, None], 2, 0.5, 1.0, np.array([1.0, 2.0]), np.array([3.0, 4.0]), 1.0)
    assert r.shape == (3, 2) and r[1, 0] == sd.ratio_bound_corrected(5.0, 2, 0.5, 1.0, 1.0, 3.0, 1.0)
    sharp = sd.ratio_bound_sharp(9.0, 4, 0.25, 1.0, np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.arange(5))
    assert sharp.shape == (2, 5) and sharp[1, 3] == sd.ratio_bound_sharp(9.0, 4, 0.25, 1.0, 2.0, 4.0, 3)


def test_mp_engine_matches_float_engine():
    from kdtheory.numerics.sd import spectral_rounds_mp

    rng = np.random.default_rng(21)
    d = np.sort(10 ** rng.uniform(-2, 2, 5))
    z = rng.normal(size=5)
    eps = float(z @ z) / 5 / 6.2**2
    f = spectral_rounds(d, z, 60, eps=eps)
    m = spectral_rounds_mp(d, z, 60, eps=eps)
    assert m["n_done"] == f["n_done"] and m["collapsed"]
    assert _rel([float(c) for c in m["c"]], f["c"][: f["n_done"]]) < 1e-13
    assert _rel([float(v) for v in m["norms"]], f["norms"][: f["n_done"] + 1]) < 1e-13


def test_prop3_mp_twin_matches_public_calculator():
    import mpmath

    from kdtheory.verify.sd.props3_4 import _mp_p3

    for variant, fn in (("printed", sd.label_norm_bounds), ("corrected", sd.label_norm_bounds_corrected)):
        lo, hi = fn(7.0, 3.0, 4, 0.3, 5.0)
        with mpmath.workdps(50):
            mlo, mhi = _mp_p3(7.0, 4, 0.3, 5.0, 3, variant)
        assert _rel(lo, float(mlo)) < 1e-13 and _rel(hi, float(mhi)) < 1e-13


# ---------------------------------------------------------------- issue #9: bad inputs


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sd.collapse_threshold(0, 1.0), ValueError, "^collapse_threshold: K must"),
    (lambda: sd.collapse_threshold("4", 1.0), TypeError, "^collapse_threshold: K must be an integer"),
    (lambda: sd.c_bounds_corrected(5.0, 4, "x", 1, 2), TypeError, "^c_bounds_corrected: eps"),
    (lambda: sd.label_norm_bounds(1e300, 1.0, 1, 1e-300, 2.0), ValueError, "^label_norm_bounds: z0_norm"),
    (lambda: sd.green_function_series(0.5, 0.5, 10**12), ValueError, "^green_function_series: terms"),
    (lambda: sd.polynomial_kernel([1e200], [1e200], degree=3), ValueError, "^polynomial_kernel: the arguments"),
    (lambda: sd.zero_crossing_round(float("nan"), 2.0), ValueError, "^zero_crossing_round: u0"),
    (lambda: spectral_rounds([1, 4], [1e300, 5e299], 3, eps=0.05), ValueError, "^spectral_rounds: eps must be at least"),
    (lambda: spectral_rounds([1.0], [1.0], 10**12, c=1.0), ValueError, "^spectral_rounds: rounds"),
    (lambda: kernel_self_distillation(np.eye(2), [1.0, 1.0], 3, c=1.0, backend="gpu"), ValueError, "backend"),
])
def test_bad_inputs_name_function_and_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_scale_free_engine_handles_extreme_label_scales():
    # labels of size 1e300 with a fixed c, and with eps scaled alike: same multipliers as at unit scale
    d, z = np.array([1.0, 4.0]), np.array([1.0, 0.5])
    small = spectral_rounds(d, z, 4, eps=0.05)
    big = spectral_rounds(d, z * 2.0**500, 4, eps=math.ldexp(0.05, 1000))
    assert np.array_equal(small["c"], big["c"]) and np.array_equal(small["norms"] * 2.0**500, big["norms"])
    fixed = spectral_rounds(d, z * 1e300, 3, c=0.5)
    assert np.all(np.isfinite(fixed["norms"])) and fixed["norms"][0] == pytest.approx(1e300 * np.linalg.norm(z))
    assert sd.rbf_kernel([[1e300]], [[1e300]])[0, 0] == 1.0       # differences, not |x|^2 + |y|^2 - 2 x.y
    assert sd.is_collapsed(np.array([1e200, 1e200]), 1e300) is False
