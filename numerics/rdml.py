"""Distribution-pair generators and a batched Rényi divergence kernel for [rdml].

* :func:`random_pairs` -- Dirichlet pairs with a concentration drawn per pair
  (log-uniform), from nearly uniform to nearly one-hot distributions.
* :func:`adversarial_pairs` -- pairs built to stress Eq. (3): entries near the
  simplex boundary (down to 1e-300), zeros in P, zeros in Q, disjoint supports,
  P = Q, P within 1e-9 of Q, vertices of the simplex.
* :data:`ALPHAS_EXTREME` -- orders from 0 to inf including tiny, huge and near-1 values.
* :func:`renyi_batch` -- ``D_alpha(P_i || Q_i)`` for many pairs times many orders:
  a Numba kernel (``prange`` over pairs, fixed-order sums) and its NumPy twin
  (:func:`theory.rdml.renyi_divergence`), equal to 1e-12 relative on the same inputs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from numerics.bench import BenchCase, benchmark
from theory._checks import require, require_distribution
from theory.rdml import _H_COEF, _PHI_COEF, _SERIES_CUT, renyi_divergence

ALPHAS_EXTREME = np.array([0.0, 1e-12, 1e-6, 1e-3, 0.1, 0.5, 1 - 1e-8, 1.0, 1 + 1e-8, 1.5, 2.0, 10.0, 100.0,
                           1e4, 1e8, np.inf])

ADVERSARIAL_KINDS = ("near_boundary", "zeros_in_p", "zeros_in_q", "disjoint", "equal", "near_equal", "vertex",
                     "tiny_overlap")


# --------------------------------------------------------------------------- generators


def random_pairs(n: int, m: int, *, seed: int = 0, log10_concentration: tuple[float, float] = (-2.0, 2.0)
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs (P, Q) of ``m``-class distributions, each Dirichlet(c, ..., c) with log10 c uniform
    in ``log10_concentration`` (a new c per pair and per side): from near-vertices to near-uniform.
    """
    require(isinstance(n, (int, np.integer)) and n >= 1, "n", n, "be an integer >= 1")
    require(isinstance(m, (int, np.integer)) and m >= 2, "m", m, "be an integer >= 2")
    lo, hi = log10_concentration
    require(np.isfinite(lo) and np.isfinite(hi) and lo <= hi, "log10_concentration", log10_concentration,
            "be a finite interval (low <= high)")
    rng = np.random.default_rng(seed)
    c = 10.0 ** rng.uniform(lo, hi, size=(2, n, 1))
    g = rng.standard_gamma(np.broadcast_to(c, (2, n, m)))
    # Dirichlet by normalised gammas; a row of all-zero gammas (tiny c) becomes a vertex
    s = g.sum(axis=-1, keepdims=True)
    vert = np.zeros_like(g)
    vert[..., 0] = 1.0
    g = np.where(s > 0, g / np.where(s > 0, s, 1.0), vert)
    return g[0], g[1]


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / x.sum(axis=-1, keepdims=True)


def adversarial_pairs(n: int, m: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``n`` pairs cycling through :data:`ADVERSARIAL_KINDS`; returns ``(p, q, kinds)``.

    near_boundary: entries as small as 1e-300 on both sides; zeros_in_p / zeros_in_q:
    exact zeros (so D_alpha is infinite for alpha >= 1 in the second case); disjoint:
    no common support; equal: P = Q; near_equal: Q within relative 1e-9..1e-3 of P;
    vertex: P a vertex of the simplex; tiny_overlap: P and Q share only a 1e-200 mass.
    """
    require(isinstance(n, (int, np.integer)) and n >= 1, "n", n, "be an integer >= 1")
    require(isinstance(m, (int, np.integer)) and m >= 2, "m", m, "be an integer >= 2")
    rng = np.random.default_rng(seed)
    p = np.empty((n, m))
    q = np.empty((n, m))
    kinds = []
    for i in range(n):
        kind = ADVERSARIAL_KINDS[i % len(ADVERSARIAL_KINDS)]
        a = rng.dirichlet(np.full(m, 10.0 ** rng.uniform(-1, 1)))
        b = rng.dirichlet(np.full(m, 10.0 ** rng.uniform(-1, 1)))
        if kind == "near_boundary":
            k = rng.integers(1, m)
            a[:k] = 10.0 ** rng.uniform(-300, -8, size=k)
            b[rng.permutation(m)[:k]] = 10.0 ** rng.uniform(-300, -8, size=k)
        elif kind == "zeros_in_p":
            a[rng.permutation(m)[: rng.integers(1, m)]] = 0.0
        elif kind == "zeros_in_q":
            b[rng.permutation(m)[: rng.integers(1, m)]] = 0.0
        elif kind == "disjoint":
            k = rng.integers(1, m)
            perm = rng.permutation(m)
            a[perm[k:]] = 0.0
            b[perm[:k]] = 0.0
        elif kind == "equal":
            b = a.copy()
        elif kind == "near_equal":
            b = a * (1.0 + 10.0 ** rng.uniform(-9, -3) * rng.standard_normal(m))
        elif kind == "vertex":
            a = np.zeros(m)
            a[rng.integers(m)] = 1.0
        elif kind == "tiny_overlap":
            k = rng.integers(1, m)
            perm = rng.permutation(m)
            a[perm[k:]] = 0.0
            b[perm[:k]] = 0.0
            a[perm[-1]] = 1e-200
        p[i] = _normalise(a)
        q[i] = _normalise(np.abs(b))
        kinds.append(kind)
    return p, q, kinds


# --------------------------------------------------------------------------- batched kernel


@njit(cache=True)
def _phi1(d, coef, cut):
    if abs(d) < cut:
        s = 0.0
        for k in range(coef.shape[0] - 1, -1, -1):
            s = (s + coef[k]) * d
        return s * d
    if d <= -1.0:
        return 1.0
    return (1.0 + d) * math.log1p(d) - d


@njit(cache=True)
def _h1(y, coef, cut):
    if abs(y) < cut:
        s = 0.0
        for k in range(coef.shape[0] - 1, -1, -1):
            s = (s + coef[k]) * y
        return s
    return (math.expm1(y) - y) / y


@njit(cache=True)
def _diff(w, q, i):
    """w_i - q_i, or the complement sum_{j != i} (q_j - w_j) when both exceed 1/2 (as theory.rdml)."""
    if w[i] > 0.5 and q[i] > 0.5:
        c = 0.0
        for j in range(w.shape[0]):
            if j != i:
                c = c + (q[j] - w[j])
        return c
    return w[i] - q[i]


@njit(cache=True)
def _prepare(w, q, lw, d, ell, near):
    """Per-pair quantities that do not depend on alpha (mirrors theory.rdml._log_ratio)."""
    for i in range(w.shape[0]):
        lw[i] = math.log(w[i]) if w[i] > 0.0 else -math.inf
        d[i] = 0.0
        ell[i] = 0.0
        near[i] = False
        if w[i] > 0.0 and q[i] > 0.0:
            df = _diff(w, q, i)
            d[i] = df / q[i]
            near[i] = abs(df) <= 0.5 * q[i]
            ell[i] = math.log1p(d[i]) if near[i] else math.log(w[i]) - math.log(q[i])


@njit(cache=True)
def _general(w, q, lw, d, ell, eps, missing, any_overlap, phic, hc, cut):
    """D_a(w || q) for a = 1 + eps in [1/2, inf) from prepared quantities (theory.rdml._renyi_rows)."""
    if eps >= 0.0 and missing:
        return math.inf
    if eps < 0.0 and not any_overlap:
        return math.inf
    m = w.shape[0]
    top = -math.inf
    for i in range(m):
        if w[i] > 0.0 and q[i] > 0.0:
            top = max(top, lw[i] + eps * ell[i])
    acc = 0.0
    bsum = 0.0
    for i in range(m):
        qi, wi = q[i], w[i]
        if wi > 0.0 and qi > 0.0:
            lt = lw[i] + eps * ell[i]
            acc += math.exp(lt - top)
            y = eps * ell[i]
            if y > 700.0:
                e = eps if eps != 0.0 else 1.0
                b = (math.exp(lt) - wi) / e - (wi - qi)
            else:
                x = 1.0 + d[i] if abs(d[i]) <= 0.5 else wi / qi
                b = qi * (_phi1(d[i], phic, cut) + x * ell[i] * _h1(y, hc, cut))
        elif wi > 0.0:
            b = (1.0 + eps) * wi / (-eps if eps != 0.0 else -1.0)
        else:
            b = qi
        bsum += b
    lse = top + math.log(acc)
    if (abs(lse) > 0.5 or not math.isfinite(bsum)) and eps != 0.0:
        val = lse / eps
    else:
        t = eps * bsum
        val = bsum if t == 0.0 else bsum * (math.log1p(t) / t)
    return max(val, 0.0)


@njit(cache=True, parallel=True)
def _renyi_batch_kernel(w, q, alphas, eps, phic, hc, cut, out):
    n, m = w.shape
    for i in prange(n):
        wi, qi = w[i], q[i]
        lw, d, ell, near = np.empty(m), np.empty(m), np.empty(m), np.empty(m, np.bool_)
        lq, db, ellb, nearb = np.empty(m), np.empty(m), np.empty(m), np.empty(m, np.bool_)
        _prepare(wi, qi, lw, d, ell, near)
        _prepare(qi, wi, lq, db, ellb, nearb)
        missing, missing_b, any_overlap = False, False, False
        off, on, mx = 0.0, 0.0, -math.inf
        for k in range(m):
            if wi[k] > 0.0 and qi[k] <= 0.0:
                missing = True
            if qi[k] > 0.0 and wi[k] <= 0.0:
                missing_b = True
            if wi[k] > 0.0 and qi[k] > 0.0:
                any_overlap = True
                mx = max(mx, ell[k])
            if wi[k] > 0.0:
                on += qi[k]
            else:
                off += qi[k]
        for j in range(alphas.shape[0]):
            a = alphas[j]
            if a == 0.0:
                if on <= 0.0:
                    v = math.inf
                else:
                    v = max(-math.log1p(-off) if off < 0.5 else -math.log(on), 0.0)
            elif math.isinf(a):
                v = math.inf if missing else max(mx, 0.0)
            elif a < 0.5:
                v = a / (1.0 - a) * _general(qi, wi, lq, db, ellb, -a, missing_b, any_overlap, phic, hc, cut)
                if math.isinf(v) and any_overlap:  # subnormal alpha: direct log-sum-exp
                    top = -math.inf
                    for k in range(m):
                        if wi[k] > 0.0 and qi[k] > 0.0:
                            top = max(top, a * lw[k] + (1.0 - a) * lq[k])
                    acc = 0.0
                    for k in range(m):
                        if wi[k] > 0.0 and qi[k] > 0.0:
                            acc += math.exp(a * lw[k] + (1.0 - a) * lq[k] - top)
                    v = max((top + math.log(acc)) / (a - 1.0), 0.0)
            else:
                v = _general(wi, qi, lw, d, ell, eps[j], missing, any_overlap, phic, hc, cut)
            out[i, j] = v


def renyi_batch(p, q, alphas, *, backend: str = "numba") -> np.ndarray:
    """Table ``D[i, j] = D_{alphas[j]}(P_i || Q_i)`` [rdml, Eq. (3)] for pairs ``p, q`` of shape (n, M).

    ``backend="numba"`` runs the compiled kernel (parallel over pairs), ``"numpy"``
    the vectorised twin :func:`theory.rdml.renyi_divergence`; both see the same
    normalised inputs and agree to 1e-12 relative.
    """
    require(backend in ("numba", "numpy"), "backend", backend, "be 'numba' or 'numpy'")
    p = require_distribution(p, "p")
    q = require_distribution(q, "q")
    require(p.ndim == 2 and p.shape == q.shape, "q", q.shape, f"have the shape (n, M) of p {p.shape}")
    a = np.asarray(alphas, dtype=float).reshape(-1)
    require(a.size >= 1 and bool(np.all(~np.isnan(a))) and bool(np.all(a >= 0)), "alphas", alphas,
            "be a non-empty list of orders in [0, inf]")
    w = np.ascontiguousarray(p / p.sum(axis=-1, keepdims=True))
    v = np.ascontiguousarray(q / q.sum(axis=-1, keepdims=True))
    if backend == "numpy":
        # renyi_divergence normalises p and q exactly as above, so both twins see the same rows
        return np.asarray(renyi_divergence(p[:, None, :], q[:, None, :], a[None, :]), dtype=float).reshape(len(w), a.size)
    out = np.empty((w.shape[0], a.size))
    with np.errstate(invalid="ignore"):
        eps = np.where(np.isinf(a), np.inf, a - 1.0)
    _renyi_batch_kernel(w, v, a, eps, _PHI_COEF, _H_COEF, _SERIES_CUT, out)
    return out


@benchmark("rdml.renyi_batch")
def _bench_renyi_batch() -> list[BenchCase]:
    cases = []
    for n in (2_000, 20_000):
        p, q = random_pairs(n, 10, seed=1)
        a = np.concatenate([ALPHAS_EXTREME, np.linspace(0.5, 5, 16)])
        cases.append(BenchCase(f"{n} pairs x {a.size} alphas, M=10", float(n * a.size), "divergences",
                               lambda p=p, q=q, a=a: renyi_batch(p, q, a, backend="numba"),
                               lambda p=p, q=q, a=a: renyi_batch(p, q, a, backend="numpy")))
    return cases
