"""The simulators of numerics/rdml.py: the batched Rényi kernel (accuracy, twin, reference) and input checks.

The kernel of :func:`kdtheory.numerics.rdml.renyi_batch` computes one transcendental per term at most
(issue #11). It is held to three references:

* its NumPy twin (same algorithm, vectorised): not bitwise, because NumPy's SIMD ``exp``/``expm1``/``log``
  and the C library's differ in the last bit on ~5 % of arguments; the stated tier is
  ``EXACT.rtol(20 (1 + max_i |log p_i/q_i|))``: 20 bounds the cancellation of e^y - 1 - y at |y| = 0.1,
  (1 + max |ell|) the conditioning of e^y in y = (alpha - 1) ell;
* mpmath (60 digits plus as many as alpha or alpha - 1 needs): the error of the kernel is within
  ``EXACT.rtol(4 (1 + max |ell|))`` (64 ulp at cond 1) and, order by order, within twice the error of
  today's calculator :func:`kdtheory.theory.rdml.renyi_divergence` (plus 32 ulp);
* that calculator itself, to the IDENTITY tier, where it is accurate.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from kdtheory.numerics import nets, rdml
from kdtheory.numerics.rdml import (ADVERSARIAL_KINDS, ALPHAS_EXTREME, adversarial_pairs, random_pairs,
                                    renyi_batch)
from kdtheory.verify.evidence import EPS, EXACT, IDENTITY, relative_error

ALPHAS = np.concatenate([ALPHAS_EXTREME, [0.3, 0.7, 1.3, 3.0, 1 + 1e-12, 1 - 1e-12, 1 + 1e-4, 1 - 1e-4, 1 + 2e-3,
                                          1 - 2e-3, 1.05, 0.95, 1e-300, 5e-324, 1e-200]])


def _max_abs_log_ratio(p, q) -> np.ndarray:
    """max_i |log(p_i / q_i)| over the common support, per row (0 without overlap)."""
    w, v = p / p.sum(axis=1, keepdims=True), q / q.sum(axis=1, keepdims=True)
    ov = (w > 0) & (v > 0)
    with np.errstate(divide="ignore"):
        ell = np.abs(np.log(np.where(ov, w, 1.0)) - np.log(np.where(ov, v, 1.0)))
    return np.where(ov, ell, 0.0).max(axis=1)


def _mp_renyi(w, q, a) -> float:
    """D_a(W || Q) of the exactly normalised rows W = w / sum(w), Q = q / sum(q), in mpmath."""
    extra = 0 if (a == 0 or math.isinf(a) or a == 1) else int(max(0.0, -math.log10(a), -math.log10(abs(a - 1))))
    with mp.workdps(60 + extra):
        W = [mp.mpf(float(x)) for x in w]
        Q = [mp.mpf(float(x)) for x in q]
        sw, sq = mp.fsum(W), mp.fsum(Q)
        W, Q = [x / sw for x in W], [x / sq for x in Q]
        ov = [x > 0 and y > 0 for x, y in zip(W, Q)]
        missing = any(x > 0 and y == 0 for x, y in zip(W, Q))
        if a == 0:
            off = mp.fsum(y for x, y in zip(W, Q) if x == 0)
            return math.inf if off == 1 else float(-mp.log1p(-off))
        if math.isinf(a):
            return math.inf if missing else float(max(mp.log(x / y) for x, y, o in zip(W, Q, ov) if o))
        if a == 1:
            return math.inf if missing else float(mp.fsum(x * mp.log(x / y) for x, y, o in zip(W, Q, ov) if o))
        if (a > 1 and missing) or not any(ov):
            return math.inf
        A = mp.mpf(float(a))
        s = mp.fsum(x * mp.exp((A - 1) * mp.log(x / y)) for x, y, o in zip(W, Q, ov) if o)
        return float(mp.log(s) / (A - 1))


def _dyadic_pairs(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows on the grid k / 2^52 summing to 1 exactly, Q = P plus a zero-sum change of relative size
    1e-14..1e-1 (near-equal pairs whose divergence is well defined in floating point)."""
    rng = np.random.default_rng(seed)
    P, Q = np.empty((n, m)), np.empty((n, m))
    for i in range(n):
        k = np.floor(rng.dirichlet(np.full(m, 2.0)) * 2 ** 52).astype(np.int64)
        top = int(np.argmax(k))
        k[top] += 2 ** 52 - k.sum()
        dk = np.round(k * 10.0 ** rng.uniform(-14, -1) * rng.standard_normal(m)).astype(np.int64)
        dk[top] -= dk.sum()
        kq = k + dk
        if np.any(kq <= 0):
            kq = k.copy()
            kq[top] -= 1
            kq[(top + 1) % m] += 1
        P[i], Q[i] = k / 2.0 ** 52, kq / 2.0 ** 52
    return P, Q


def _mp_sets(ms, n):
    for m in ms:
        yield f"random m={m}", random_pairs(n, m, seed=m)
        p, q, kinds = adversarial_pairs(2 * n, m, seed=m)
        # float-normalised near-equal pairs have a divergence below the rounding of their sums: the
        # dyadic set covers that regime with rows that sum to 1 exactly
        keep = np.array(kinds) != "near_equal"
        yield f"adversarial m={m}", (p[keep], q[keep])
        yield f"near-equal m={m}", _dyadic_pairs(n, m, seed=100 + m)


# --------------------------------------------------------------------------- renyi_batch: accuracy


@pytest.mark.parametrize("ms,n", [((2, 5, 12), 16), pytest.param((3, 7, 20), 48, marks=pytest.mark.slow)])
def test_renyi_batch_against_mpmath_as_accurate_as_today(ms, n):
    for name, (p, q) in _mp_sets(ms, n):
        w, v = p / p.sum(axis=1, keepdims=True), q / q.sum(axis=1, keepdims=True)
        exact = np.array([[_mp_renyi(w[i], v[i], a) for a in ALPHAS] for i in range(len(w))])
        with np.errstate(all="ignore"):
            new = relative_error(renyi_batch(p, q, ALPHAS), exact, floor=1e-45)
            today = relative_error(renyi_batch(p, q, ALPHAS, backend="reference"), exact, floor=1e-45)
        cond = 4.0 * (1.0 + _max_abs_log_ratio(p, q))[:, None]
        ratio = new / EXACT.rtol(cond)
        i, j = np.unravel_index(np.argmax(ratio), ratio.shape)
        assert ratio.max() <= 1.0, f"{name}: alpha={ALPHAS[j]:g} error {new[i, j]:.3g} > {EXACT.rtol(cond[i, 0]):.3g}"
        worse = new.max(axis=0) > 2 * today.max(axis=0) + 32 * EPS
        assert not np.any(worse), f"{name}: less accurate than today at alpha = {ALPHAS[worse]}"


def test_renyi_batch_near_alpha_one_and_zero():
    """The orders where a naive log-sum-exp fails: 1 +- 1e-12..1e-2 on near-equal pairs, 5e-324..1e-3."""
    p, q = _dyadic_pairs(24, 6, seed=7)
    alphas = np.array([1 - 1e-2, 1 - 1e-8, 1 - 1e-12, 1.0, 1 + 1e-12, 1 + 1e-8, 1 + 1e-2, 5e-324, 1e-300, 1e-12, 1e-3])
    exact = np.array([[_mp_renyi(p[i], q[i], a) for a in alphas] for i in range(len(p))])
    got = renyi_batch(p, q, alphas)
    assert np.all(relative_error(got, exact, floor=1e-300) <= EXACT.rtol(4.0 * (1.0 + _max_abs_log_ratio(p, q))[:, None]))
    # a plain log-sum-exp of the same rows loses about |log S| / (alpha - 1) ~ eps / (alpha - 1) near 1
    naive = np.log((p ** (1 + 1e-8) * q ** (-1e-8)).sum(axis=1)) / 1e-8
    assert np.max(relative_error(naive, exact[:, 5])) > 1e3 * np.max(relative_error(got[:, 5], exact[:, 5]))


def test_renyi_batch_subnormal_q_at_alpha_one():
    """q with a subnormal entry makes w/q overflow; the divergence stays finite and accurate at every order."""
    p = np.array([[0.26842282, 0.05891418, 0.14178601, 0.10496233, 0.11453972, 0.21998219, 0.09139275]])
    q = np.array([[3.59525141e-15, 5.64399079e-313, 6.53733556e-30, 2.13242458e-09, 0.0, 1.22205345e-86,
                   5.74632655e-15]])
    q[0, 4] = 1.0 - q.sum()
    p = p / p.sum()
    alphas = np.array([0.3, 0.5, 1.0 - 1e-8, 1.0, 1.0 + 1e-8, 2.0])
    got = renyi_batch(p, q, alphas)
    exact = np.array([_mp_renyi(p[0], q[0], a) for a in alphas])
    assert np.all(np.isfinite(got)) and np.all(relative_error(got[0], exact) <= EXACT.rtol(4 * 720.0))


def test_h_series_tiers_within_one_ulp():
    hc = rdml._H_COEF
    for y in np.concatenate([np.geomspace(1e-300, 0.0999999, 400), -np.geomspace(1e-300, 0.0999999, 400)]):
        with mp.workdps(50 + int(-math.log10(abs(y)))):
            exact = (mp.expm1(mp.mpf(y)) - y) / y
        assert abs(rdml._h_series(y, hc) - float(exact)) <= 1.0 * EPS * abs(float(exact)) + 1e-320


# --------------------------------------------------------------------------- renyi_batch: twin and reference


def _pair_sets():
    for m in (2, 3, 7, 12, 50):
        yield random_pairs(600, m, seed=m)
        yield adversarial_pairs(240, m, seed=m)[:2]
        yield random_pairs(300, m, seed=m + 7, log10_concentration=(1.5, 3.0))


def test_renyi_batch_numpy_twin_within_stated_tier():
    alphas = np.concatenate([ALPHAS, np.linspace(0.2, 4.0, 9)])
    for p, q in _pair_sets():
        a = renyi_batch(p, q, alphas, backend="numba")
        b = renyi_batch(p, q, alphas, backend="numpy")
        assert not np.any(np.isnan(a)) and np.array_equal(np.isinf(a), np.isinf(b))
        tol = EXACT.rtol(20.0 * (1.0 + _max_abs_log_ratio(p, q)))[:, None]
        assert np.all(relative_error(a, b) <= tol)


def test_renyi_batch_equals_todays_calculator_where_it_is_accurate():
    """Against theory.rdml.renyi_divergence on random pairs without subnormal entries (where today's
    calculator returns NaN at alpha = 1, see test_renyi_batch_subnormal_q_at_alpha_one) and for orders
    above 1e-250 (below, today's direct log-sum-exp loses digits; the kernel returns D_0, exact there)."""
    alphas = ALPHAS[ALPHAS >= 1e-250]
    for m in (2, 3, 7, 12):
        p, q = random_pairs(800, m, seed=m, log10_concentration=(-1.0, 2.0))
        ok = np.all((p == 0) | (p > 1e-300), axis=1) & np.all((q == 0) | (q > 1e-300), axis=1)
        p, q = p[ok], q[ok]
        a = renyi_batch(p, q, alphas)
        b = renyi_batch(p, q, alphas, backend="reference")
        assert np.all(relative_error(a, b) <= IDENTITY.rtol(1.0 + _max_abs_log_ratio(p, q))[:, None])


def test_renyi_batch_rows_are_independent_and_thread_free():
    """A pair's value does not depend on the other pairs, their number or the prange chunking."""
    p, q = random_pairs(333, 9, seed=3)
    full = renyi_batch(p, q, ALPHAS)
    for lo, hi in ((0, 1), (5, 70), (100, 333)):
        np.testing.assert_array_equal(renyi_batch(p[lo:hi], q[lo:hi], ALPHAS), full[lo:hi])
    np.testing.assert_array_equal(renyi_batch(p, q, ALPHAS[::-1]), full[:, ::-1])


def test_renyi_batch_special_orders_and_kinds():
    p, q, kinds = adversarial_pairs(80, 4, seed=5)
    kinds = np.array(kinds)
    d = renyi_batch(p, q, ALPHAS)
    assert np.all(d >= 0) and not np.any(np.isnan(d))
    ordered = renyi_batch(p, q, np.sort(ALPHAS))  # D_alpha is non-decreasing in alpha
    assert np.all(ordered[:, 1:] >= ordered[:, :-1] * (1 - 1e-12))
    assert np.all(d[kinds == "equal"] == 0)
    assert np.all(np.isinf(d[kinds == "disjoint"][:, ALPHAS > 0]))
    assert set(kinds) == set(ADVERSARIAL_KINDS)


# --------------------------------------------------------------------------- inputs (issue #9)


X_S, Y_S, _ = rdml.synthetic_softmax_data(20, 3, 2, seed=0)
THETA = np.random.default_rng(0).normal(size=(2, 6))


@pytest.mark.parametrize("call,param", [
    (lambda: rdml.n_params("softmax", -1, 3), "d"),
    (lambda: rdml.n_params("softmax", 3, 1), "M"),
    (lambda: rdml.n_params("mlp", 3, 3, hidden=0), "hidden"),
    (lambda: rdml.n_params("softmax", 10 ** 30, 3), "d"),
    (lambda: rdml.n_params([], 3, 3), "model"),
    (lambda: rdml.digits_data(n_train=-1), "n_train"),
    (lambda: rdml.digits_data(n_train=0), "n_train"),
    (lambda: rdml.digits_data(n_test=-5), "n_test"),
    (lambda: rdml.digits_data(n_train=1500, n_test=500), "n_train"),
    (lambda: rdml.digits_data(n_features=0), "n_features"),
    (lambda: rdml.digits_data(label_noise=float("nan")), "label_noise"),
    (lambda: rdml.full_objective(THETA, 0, X_S, np.where(np.arange(20) == 3, np.nan, Y_S), 1.5), "y"),
    (lambda: rdml.full_objective(THETA, 2, X_S, Y_S, 1.5), "k"),
    (lambda: rdml.full_objective(THETA, 0, X_S, Y_S, -1.0), "alpha"),
    (lambda: rdml.full_objective(THETA[:, :5], 0, X_S, Y_S, 1.5), "thetas"),
    (lambda: rdml.full_objective(THETA, 0, X_S, Y_S + 5, 1.5, M=2), "y"),
    (lambda: rdml.model_probs(THETA[0], X_S, 1), "M"),
    (lambda: rdml.model_probs(THETA[0], X_S, 3), "theta"),
    (lambda: rdml.model_probs(THETA[0], X_S[:, :2], 2), "theta"),
    (lambda: rdml.model_probs(THETA[0], X_S[:, 0], 2), "X"),
    (lambda: rdml.simulate(X_S, Y_S, T=10 ** 12), "T"),
    (lambda: rdml.simulate(X_S, Y_S.astype(float)), "y"),
    (lambda: rdml.simulate(X_S, Y_S, K=10 ** 9), "K"),
    (lambda: rdml.simulate(X_S, Y_S, alpha=float("nan")), "alpha"),
    (lambda: rdml.simulate(X_S, Y_S, eta=[0.1, 0.2], T=5), "eta"),
    (lambda: rdml.simulate(X_S, Y_S, hidden=10 ** 9, model="mlp"), "hidden"),
    (lambda: rdml.simulate(X_S, Y_S, init_scale=float("inf")), "init_scale"),
    (lambda: rdml.simulate(X_S, Y_S, X_eval=X_S, y_eval=Y_S + 0.5), "y_eval"),
    (lambda: rdml.simulate(X_S, Y_S, X_eval=X_S, y_eval=-Y_S - 1), "y_eval"),
    (lambda: rdml.simulate(X_S, Y_S, X_eval=X_S), "y_eval"),
    (lambda: rdml.simulate(X_S, Y_S, seed=-1), "seed"),
    (lambda: rdml.synthetic_softmax_data(10 ** 12, 3, 2), "N"),
    (lambda: rdml.synthetic_softmax_data(20, 3, 2, teacher_scale=float("nan")), "teacher_scale"),
    (lambda: rdml.random_pairs(10 ** 9, 10), "n"),
    (lambda: rdml.random_pairs(5, 3, log10_concentration=(1.0, 2.0, 3.0)), "log10_concentration"),
    (lambda: rdml.random_pairs(5, 3, log10_concentration=(-400.0, 2.0)), "log10_concentration"),
    (lambda: rdml.adversarial_pairs(10 ** 9, 3), "n"),
    (lambda: renyi_batch(np.eye(3), np.eye(3), np.ones(10 ** 8)), "alphas"),
    (lambda: renyi_batch(np.eye(3), np.eye(3), [1.0], backend=np.array([1.0, 2.0])), "backend"),
])
def test_rdml_bad_inputs_raise_value_error_naming_the_parameter(call, param):
    with pytest.raises(ValueError) as err:
        call()
    text = str(err.value)
    assert f": {param} must" in text and "got" in text, text


@pytest.mark.parametrize("call,param", [
    (lambda: rdml.n_params("softmax", 2.5, 3), "d"),
    (lambda: rdml.n_params("softmax", 3, "x"), "M"),
    (lambda: rdml.digits_data(n_train=2.5), "n_train"),
    (lambda: rdml.simulate(X_S, Y_S, K=2.0), "K"),
    (lambda: rdml.simulate(X_S, Y_S, T="10"), "T"),
    (lambda: rdml.simulate(X_S, [[1.0, 2.0], [3.0]]), "y"),
    (lambda: rdml.random_pairs("5", 3), "n"),
    (lambda: rdml.full_objective(THETA, 0.0, X_S, Y_S, 1.5), "k"),
    (lambda: rdml.model_probs(THETA[0], X_S, 2.0), "M"),
    (lambda: rdml.simulate(X_S, Y_S, shared_draws="yes"), "shared_draws"),
    (lambda: renyi_batch(np.eye(3), np.eye(3), [[1.0, 2.0], [3.0]]), "alphas"),
    (lambda: rdml.simulate(X_S, ["a", "b"] * 10), "y"),
])
def test_rdml_wrong_types_raise_type_error_naming_the_parameter(call, param):
    with pytest.raises(TypeError) as err:
        call()
    assert f": {param} must" in str(err.value), str(err.value)


def test_rdml_valid_extremes_never_nan():
    out = rdml.full_objective(THETA, 0, X_S, Y_S, rdml.MAX_ORDER)
    assert all(np.all(np.isfinite(v)) for v in out.values())
    assert np.all(np.isfinite(rdml.model_probs(THETA[0] * 1e40, X_S * 1e40, 2)))
    with pytest.raises(ValueError, match="^model_probs: theta must give finite logits"):
        rdml.model_probs(THETA[0] * 1e200, X_S * 1e150, 2)
    # a diverging run is a ValueError naming eta (and a FloatingPointError, as before)
    for exc in (ValueError, FloatingPointError):
        with pytest.raises(exc, match="^simulate: eta must be small enough.*diverged at step"):
            rdml.simulate(X_S * 1e150, Y_S, T=5, eta=1e300, seed=0)


@pytest.mark.parametrize("call,param", [
    (lambda: nets.predict_proba(np.nan, np.zeros(15), np.zeros((3, 4))), "net"),
    (lambda: nets.cross_entropy(3, np.zeros(15), np.zeros((3, 4)), [0, 1, 2]), "net"),
    (lambda: nets.loss_gradient(nets.Net(4, 3), np.zeros(15), np.zeros((3, 4)), [0, 1, 2], targets=np.ones((2, 3)) / 3),
     "targets"),
    (lambda: nets.digits_data(seed=-0.5), "seed"),
    (lambda: nets.digits_data(pool=[1, 2]), "pool"),
    (lambda: nets.synthetic_data(n=10 ** 12), "n"),
    (lambda: nets.synthetic_data(n_features=10 ** 9), "n_features"),
    (lambda: nets.distillation_gradient(nets.Net(4, 3), np.zeros(15), np.zeros(15), np.zeros((3, 4)), [0, 1, 2],
                                        0.3, method=np.array([1.0])), "method"),
    (lambda: nets.train(nets.synthetic_data(n=40, n_features=4, n_classes=3), nets.Net(4, 3), epochs=10 ** 9), "epochs"),
    (lambda: nets.fit_lbfgs(nets.synthetic_data(n=40, n_features=4, n_classes=3), nets.Net(4, 3), maxiter=10 ** 12),
     "maxiter"),
    (lambda: nets.Net(4, 3, hidden=10 ** 9), "hidden"),
    (lambda: nets.cross_entropy(nets.Net(4, 3), np.zeros(15), np.zeros((3, 4)), [[1.0, 2.0], [3.0]]), "y"),
    (lambda: nets.train(nets.synthetic_data(n=40, n_features=4, n_classes=3), nets.Net(4, 3), epochs=10 ** 7), "epochs"),
])
def test_nets_bad_inputs_raise_named_errors(call, param):
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    assert f": {param} must" in str(err.value) and "got" in str(err.value), str(err.value)


def test_modules_declare_all():
    for mod in (rdml, nets):
        assert set(mod.__all__) <= set(vars(mod))


# --------------------------------------------------------------------------- simulate(statistics="losses") and studies


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("model", ["softmax", "mlp"])
def test_simulate_losses_statistics_are_bitwise_those_of_full(backend, model):
    X, y, _ = rdml.synthetic_softmax_data(40, 4, 3, seed=2)
    kw = dict(K=3, alpha=1.5, eta=0.1, T=60, log_every=7, seed=1, model=model, hidden=5, X_eval=X[:10], y_eval=y[:10],
              backend=backend)
    full = rdml.simulate(X, y, **kw)
    light = rdml.simulate(X, y, statistics="losses", **kw)
    for key in ("base", "div", "min_prob", "theta", "test_loss", "test_acc", "steps"):
        np.testing.assert_array_equal(light[key], full[key])
    assert "grad_sq" not in light and "psi" not in light


def test_generalisation_study_pairs_the_orders():
    r = rdml.generalisation_study(orders=(None, 1.0, 2.0), seeds=(3, 4), n_train=30, n_test=20, label_noise=0.2,
                                  hidden=6, epochs=2, eta=0.05)
    assert r["test_loss"].shape == (3, 2, 3, 2) and r["test_acc"].shape == (3, 2, 3, 2)
    assert np.all(np.isfinite(r["test_loss"])) and np.all((r["test_acc"] >= 0) & (r["test_acc"] <= 1))
    # every order of a seed starts from the same students on the same split
    np.testing.assert_array_equal(r["test_loss"][:, :, 0], np.broadcast_to(r["test_loss"][:1, :, 0], (3, 2, 2)))
    # the independent run is simulate with divergence weight 0 on that seed's split
    Xtr, ytr, Xte, yte = rdml.digits_data(n_train=30, n_test=20, label_noise=0.2, seed=4)
    ind = rdml.simulate(Xtr, ytr, K=2, alpha=1.0, eta=0.05, T=60, model="mlp", hidden=6, log_every=30, init_scale=0.3,
                        seed=4, divergence_weight=0.0, X_eval=Xte, y_eval=yte)
    np.testing.assert_array_equal(r["test_loss"][0, 1], ind["test_loss"])
    assert np.all(r["div_loss"][0] >= 0)


@pytest.mark.parametrize("kw,param", [
    (dict(orders=[-1.0]), "orders"), (dict(orders="abc"), "orders"), (dict(seeds=[]), "seeds"),
    (dict(seeds=[-1]), "seed"), (dict(epochs=0), "epochs"), (dict(n_train=5000), "n_train"),
    (dict(seeds=range(10 ** 4)), "seeds"),
])
def test_generalisation_study_rejects_bad_inputs(kw, param):
    with pytest.raises((ValueError, TypeError)) as err:
        rdml.generalisation_study(**kw)
    assert str(err.value).startswith(f"generalisation_study: {param} must"), str(err.value)
