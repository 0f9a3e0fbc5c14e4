r"""Exact spectral engine for kernel self-distillation [sd].

Self-distillation with the regularised fit of [sd, Eq. (18)] is diagonal in the eigenbasis
of the Gram matrix ``G = V^T D V`` (Eqs. 19, 30-36): diagonalise once (``O(K^3)``), then each
round costs ``O(K)``:

* the multiplier ``c_t`` (fixed, or in the paper's constrained form the unique root of the
  increasing function ``sum_k z_k^2 (c / (c + d_k))^2 = K eps``, Eq. 21) is found by a
  safeguarded Newton iteration inside the bracket of Eq. (25) with the corrected threshold
  ``sqrt(K eps)`` (``kdtheory.theory.sd.c_bounds_corrected``), to machine precision;
* the labels of the next round are a diagonal rescaling ``z_{t+1} = (1 - w) A_t z_t + w z_0``,
  ``A_t = D (c_t I + D)^{-1}`` (Eqs. 30-31), ``w`` the ground-truth weight (0 in the paper).

A round whose labels satisfy ``mean(y_t^2) <= eps`` has collapsed (its solution is the zero
function, ``c_t = inf``): the run stops there and reports the round.

Public entry points: :func:`kernel_self_distillation` (one problem, everything per round),
:func:`spectral_rounds` (many problems given directly in the eigenbasis, the hot loop of
the adversarial searches of ``kdtheory.verify.sd``) and :func:`kernel_self_distillation_reference`
(direct linear solves, no eigenbasis: the reference the engine is held to).
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
from numba import njit, prange

from kdtheory.numerics.bench import BenchCase, benchmark
from kdtheory.theory._checks import (require, require_array, require_choice, require_in, require_int,
                                     require_positive)

OK, COLLAPSED, INFEASIBLE = 0, 1, 2
_ULP = 2.220446049250313e-16


# ---------------------------------------------------------------------------------------------
# kernels: one problem in the eigenbasis, and a batch of problems (prange over problems)
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@njit(cache=True)
def _two_prod(a, b):
    p = a * b
    sp = 134217729.0  # 2^27 + 1 (Dekker split)
    t = sp * a
    ah = t - (t - a)
    al = a - ah
    t = sp * b
    bh = t - (t - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True)
def _gap(z, eps):
    """||z||^2 - K eps in double-double arithmetic (K = len(z)): exact sign, accurate near collapse."""
    s = 0.0
    comp = 0.0
    for k in range(z.shape[0]):
        p, e = _two_prod(z[k], z[k])
        s, e2 = _two_sum(s, p)
        comp += e + e2
    t, te = _two_prod(float(z.shape[0]), eps)
    s, e2 = _two_sum(s, -t)
    return s + (comp + e2 - te)


@njit(cache=True)
def _f_df(d, z2, c, gap, target):
    """F(c) = sum z2 (c/(c+d))^2 - target and F'(c), without cancellation in either regime.

    Near collapse (target >= ||z||^2 / 2) F is written as gap - sum z2 d (2c + d)/(c + d)^2 with the
    double-double gap = ||z||^2 - target; far from it (target small against ||z||^2, c << d) the
    direct sum is used, since there the gap form would subtract two numbers close to ||z||^2.
    """
    near_collapse = 2.0 * target >= gap + target
    s = 0.0
    df = 0.0
    for k in range(d.shape[0]):
        inv = 1.0 / (c + d[k])
        if near_collapse:
            s += z2[k] * d[k] * (2.0 * c + d[k]) * inv * inv
        else:
            q = c * inv
            s += z2[k] * q * q
        df += z2[k] * c * d[k] * inv * inv * inv
    return (gap - s if near_collapse else s - target), 2.0 * df


@njit(cache=True)
def _solve_c(d, z2, target, gap, d_min, d_max, c_prev):
    """Root c > 0 of sum z2 (c/(c+d))^2 = target; returns -1 if infeasible (null-space energy too large)."""
    total = 0.0
    null = 0.0
    for k in range(d.shape[0]):
        total += z2[k]
        if d[k] == 0.0:
            null += z2[k]
    if null > target:
        return -1.0
    if null == target:
        return 0.0
    s = math.sqrt(target / total)
    oms = gap / total / (1.0 + s)       # 1 - s without cancellation
    lo = d_min * s / oms                # corrected Eq. (25)
    hi = d_max * s / oms
    f_lo, _ = _f_df(d, z2, lo, gap, target) if lo > 0.0 else (null - target, 0.0)
    while f_lo > 0.0 and lo > 0.0:      # rounding safety: widen the bracket
        lo *= 0.5
        f_lo, _ = _f_df(d, z2, lo, gap, target)
    f_hi, _ = _f_df(d, z2, hi, gap, target)
    while f_hi < 0.0:
        hi *= 2.0
        f_hi, _ = _f_df(d, z2, hi, gap, target)
    if f_lo == 0.0 and lo > 0.0:
        return lo
    if f_hi == 0.0:
        return hi
    c = math.sqrt(lo * hi) if lo > 0.0 else 0.5 * hi
    if lo < c_prev < hi:                 # warm start from the previous round
        c = c_prev
    for _ in range(200):
        f, df = _f_df(d, z2, c, gap, target)
        if f == 0.0:
            return c
        if f < 0.0:
            lo = c
        else:
            hi = c
        cn = c - f / df if df > 0.0 else -1.0
        if not (lo < cn < hi):
            cn = math.sqrt(lo * hi) if lo > 0.0 else 0.5 * (lo + hi)
        if abs(cn - c) <= 2.0 * _ULP * c or hi - lo <= 2.0 * _ULP * hi:
            return cn
        c = cn
    return c


@njit(cache=True)
def _rounds_kernel(d, z0, rounds, c_fixed, eps, w, c_out, norms, z_last):
    """Fill c_out[:n], norms[:n+1] (||z_t||) for one problem; returns (n_done, status). eps < 0: fixed c."""
    K = d.shape[0]
    z = z0.copy()
    z2 = np.empty(K)
    d_min = np.inf
    d_max = 0.0
    for k in range(K):
        if d[k] > 0.0 and d[k] < d_min:
            d_min = d[k]
        if d[k] > d_max:
            d_max = d[k]
    if d_min == np.inf:
        d_min = 0.0
    has_null = False
    for k in range(K):
        if d[k] == 0.0:
            has_null = True
    lo_d = 0.0 if has_null else d_min
    target = K * eps
    c = -1.0
    for t in range(rounds):
        norm2 = 0.0
        for k in range(K):
            z2[k] = z[k] * z[k]
            norm2 += z2[k]
        norms[t] = math.sqrt(norm2)
        if eps >= 0.0:
            gap = _gap(z, eps)
            if gap <= 0.0:
                for k in range(K):
                    z_last[k] = z[k]
                return t, COLLAPSED
            c = _solve_c(d, z2, target, gap, lo_d, d_max, c)
            if c < 0.0:
                for k in range(K):
                    z_last[k] = z[k]
                return t, INFEASIBLE
        else:
            c = c_fixed
        c_out[t] = c
        for k in range(K):
            a = d[k] / (c + d[k]) if d[k] > 0.0 else 0.0
            z[k] = (1.0 - w) * a * z[k] + w * z0[k]
    norm2 = 0.0
    for k in range(K):
        z_last[k] = z[k]
        norm2 += z[k] * z[k]
    norms[rounds] = math.sqrt(norm2)
    return rounds, OK


@njit(cache=True, parallel=True)
def _batch_kernel(d, z0, rounds, c_fixed, eps, w, c_out, norms, z_last, n_done, status):
    for i in prange(d.shape[0]):
        n, s = _rounds_kernel(d[i], z0[i], rounds, c_fixed[i], eps[i], w, c_out[i], norms[i], z_last[i])
        n_done[i] = n
        status[i] = s


@njit(cache=True)
def _batch_kernel_serial(d, z0, rounds, c_fixed, eps, w, c_out, norms, z_last, n_done, status):
    """Same as :func:`_batch_kernel` without threads (a few problems: no pool wake-up cost)."""
    for i in range(d.shape[0]):
        n, s = _rounds_kernel(d[i], z0[i], rounds, c_fixed[i], eps[i], w, c_out[i], norms[i], z_last[i])
        n_done[i] = n
        status[i] = s


def _solve_c_numpy(d, z2, target, gap, d_min, d_max, c_prev):
    null = _seqsum(z2[d == 0.0])
    if null > target:
        return -1.0
    if null == target:
        return 0.0

    near_collapse = 2.0 * target >= gap + target

    def fdf(c):
        inv = 1.0 / (c + d)
        df = 2.0 * _seqsum(z2 * c * d * inv * inv * inv)
        if near_collapse:
            return gap - _seqsum(z2 * d * (2.0 * c + d) * inv * inv), df
        q = c * inv
        return _seqsum(z2 * q * q) - target, df

    total = _seqsum(z2)
    s = math.sqrt(target / total)
    oms = gap / total / (1.0 + s)
    lo, hi = d_min * s / oms, d_max * s / oms
    f_lo = fdf(lo)[0] if lo > 0.0 else null - target
    while f_lo > 0.0 and lo > 0.0:
        lo *= 0.5
        f_lo = fdf(lo)[0]
    f_hi = fdf(hi)[0]
    while f_hi < 0.0:
        hi *= 2.0
        f_hi = fdf(hi)[0]
    if f_lo == 0.0 and lo > 0.0:
        return lo
    if f_hi == 0.0:
        return hi
    c = math.sqrt(lo * hi) if lo > 0.0 else 0.5 * hi
    if lo < c_prev < hi:
        c = c_prev
    for _ in range(200):
        f, df = fdf(c)
        if f == 0.0:
            return c
        if f < 0.0:
            lo = c
        else:
            hi = c
        cn = c - f / df if df > 0.0 else -1.0
        if not (lo < cn < hi):
            cn = math.sqrt(lo * hi) if lo > 0.0 else 0.5 * (lo + hi)
        if abs(cn - c) <= 2.0 * _ULP * c or hi - lo <= 2.0 * _ULP * hi:
            return cn
        c = cn
    return c


def _seqsum(x) -> float:
    """Left-to-right sum (the order of the Numba loops), so the twins agree to the last bit."""
    return float(np.cumsum(x)[-1]) if x.size else 0.0


def _gap_numpy(z, eps):
    """Vectorised twin of :func:`_gap` (same operations in the same order)."""
    p = z * z
    sp = 134217729.0
    t = sp * z
    zh = t - (t - z)
    zl = z - zh
    e = ((zh * zh - p) + zh * zl + zl * zh) + zl * zl
    s_new = np.cumsum(p)
    s_prev = np.concatenate(([0.0], s_new[:-1]))
    bb = s_new - s_prev
    e2 = (s_prev - (s_new - bb)) + (p - bb)
    comp = _seqsum(e + e2)
    s = float(s_new[-1])
    tt, te = _two_prod(float(z.size), eps)
    s2 = s - tt
    bb = s2 - s
    err = (s - (s2 - bb)) + (-tt - bb)
    return s2 + (comp + err - te)


def _rounds_numpy(d, z0, rounds, c_fixed, eps, w, c_out, norms, z_last):
    """NumPy twin of :func:`_rounds_kernel` (same algorithm, vectorised over K)."""
    z = z0.copy()
    pos = d[d > 0.0]
    d_max = float(d.max()) if d.size else 0.0
    lo_d = 0.0 if (pos.size < d.size) else float(pos.min())
    target = d.size * eps
    c = -1.0
    for t in range(rounds):
        z2 = z * z
        norm2 = _seqsum(z2)
        norms[t] = math.sqrt(norm2)
        if eps >= 0.0:
            gap = _gap_numpy(z, eps)
            if gap <= 0.0:
                z_last[:] = z
                return t, COLLAPSED
            c = _solve_c_numpy(d, z2, target, gap, lo_d, d_max, c)
            if c < 0.0:
                z_last[:] = z
                return t, INFEASIBLE
        else:
            c = c_fixed
        c_out[t] = c
        a = np.where(d > 0.0, d / (c + d), 0.0)
        z = (1.0 - w) * a * z + w * z0
    z_last[:] = z
    norms[rounds] = math.sqrt(_seqsum(z * z))
    return rounds, OK


# ---------------------------------------------------------------------------------------------
# public: many problems in the eigenbasis
# ---------------------------------------------------------------------------------------------

_MAX_ROUNDS = 10_000_000        # rounds of one run
_MAX_CELLS = 50_000_000         # problems x (rounds + 1) and problems x K: the arrays a run fills
_MAX_GRAM = 20_000              # K of a Gram matrix (eigendecomposition O(K^3))
_D_MAX = 1e250                  # largest eigenvalue: c_t = O(d_max 2^106) must stay finite
_D_RANGE = 1e-300               # smallest positive eigenvalue relative to the largest
_U0_MAX = 1e150                 # ||z0|| / sqrt(K eps): (c/(c + d))^2 ~ 1/u0^2 stays a normal float


def _check_mode(c, eps, n, func):
    """Exactly one of ``c`` (fixed multiplier >= 0) and ``eps`` (tolerance > 0); scalars or one per problem."""
    require((c is None) != (eps is None), "c/eps", (c, eps), "give exactly one of c (fixed) or eps (constrained)",
            func=func)
    name, value = ("c", c) if c is not None else ("eps", eps)
    arr = require_array(value, name, ndim=(0, 1), finite=True, func=func)
    require(arr.ndim == 0 or arr.shape == (n,), name, arr.shape, f"be a scalar or have one value per problem ({n})",
            func=func)
    if c is not None:
        require(bool(np.all(arr >= 0)), "c", c, "be >= 0", func=func)
    else:
        require(bool(np.all(arr > 0)), "eps", eps, "be > 0", func=func)
    return np.broadcast_to(arr, (n,)).astype(float)


def _problems(d, z0, func):
    """``d`` and ``z0`` as (n, K) arrays of one shape, ``d >= 0`` with a positive entry per problem."""
    d = require_array(d, "d", ndim=(1, 2), finite=True, max_size=_MAX_CELLS, func=func)
    z0 = require_array(z0, "z0", ndim=(1, 2), finite=True, max_size=_MAX_CELLS, func=func)
    d2, z2 = np.atleast_2d(d), np.atleast_2d(z0)
    require(d2.shape == z2.shape and d2.shape[1] >= 1, "z0", z0.shape, f"have the shape of d {d.shape}", func=func)
    require(bool(np.all(d2 >= 0)), "d", d, "be >= 0 (G positive semi-definite)", func=func)
    top = d2.max(axis=1)
    require(bool(np.all(top > 0)), "d", d, "have a positive entry in every problem", func=func)
    require(bool(np.all(top <= _D_MAX)), "d", d, f"be at most {_D_MAX:g} (the multipliers must fit in float64)",
            func=func)
    low = np.where(d2 > 0, d2, np.inf).min(axis=1)
    require(bool(np.all(low >= _D_RANGE * top)), "d", d,
            f"have positive entries at least {_D_RANGE:g} times the largest of their problem (kappa <= 1e300)",
            func=func)
    return d.ndim == 1, np.ascontiguousarray(d2, dtype=float), np.ascontiguousarray(z2, dtype=float)


def _binary_exponent(x: np.ndarray) -> np.ndarray:
    """Per row, the power of two ``e`` with ``max |x| in [2^(e-1), 2^e)`` (0 for a zero row)."""
    return np.frexp(np.abs(x).max(axis=1))[1].astype(np.int64)


def spectral_rounds(d, z0, rounds: int, *, c=None, eps=None, ground_truth_weight: float = 0.0,
                    backend: str = "numba") -> dict:
    r"""Self-distillation rounds for one or many problems given in the eigenbasis [sd, Eqs. (21), (35)].

    ``d``: eigenvalues of ``G`` (``(K,)`` or ``(n, K)``, >= 0; zeros are null directions, never
    fitted); ``z0 = V y0`` of the same shape; ``c`` or ``eps`` a scalar or one value per problem.
    Returns ``c`` (``(n, rounds)``, ``inf`` from the collapsed round on), ``n_done`` (rounds
    run), ``collapsed`` (bool), ``z_last`` (labels of round ``n_done`` in the eigenbasis) and
    ``norms`` (``(n, rounds + 1)`` label norms ``||z_t||``, 0 after a collapse).

    Each problem is rescaled by powers of two (exact: labels to ``max |z| ~ 1``, spectrum to
    ``max d ~ 1``) before the kernel runs and the results are scaled back, so the answer does
    not depend on the units of ``y`` and ``G``.  Domain (named errors outside): ``max d <= 1e250``,
    positive eigenvalues at least ``1e-300 max d``, ``||z0||`` finite, and in the constrained form
    ``u0 = ||z0|| / sqrt(K eps) <= 1e150``.  Raises ``ValueError`` if the constraint cannot be met
    (label energy in the null space of ``G`` above ``K eps``).
    """
    func = "spectral_rounds"
    require_choice(backend, "backend", ("numba", "numpy"), func=func)
    single, d2, z2 = _problems(d, z0, func)
    n, K = d2.shape
    rounds = require_int(rounds, "rounds", low=1, high=_MAX_ROUNDS, func=func)
    require(n * (rounds + 1) <= _MAX_CELLS, "rounds", rounds, f"keep problems x (rounds + 1) <= {_MAX_CELLS}",
            func=func)
    w = require_in(ground_truth_weight, "ground_truth_weight", 0.0, 1.0, func=func)
    values = _check_mode(c, eps, n, func)
    ez, ed = _binary_exponent(z2), _binary_exponent(d2)
    zs = np.ldexp(z2, -ez[:, None])
    ds = np.ldexp(d2, -ed[:, None])
    norm_s = np.sqrt(np.einsum("ij,ij->i", zs, zs))
    require(bool(np.all(np.isfinite(np.ldexp(norm_s, ez)))), "z0", z0, "have a finite norm in float64", func=func)
    if eps is not None:
        eps_s = np.minimum(np.ldexp(values, -2 * ez), 1.0)   # eps_s >= 1 > max zs^2 collapses round 0 either way
        ok = (norm_s == 0) | (K * eps_s >= (norm_s / _U0_MAX) ** 2)
        require(bool(np.all(ok)), "eps", eps,
                f"be at least ||z0||^2 / ({_U0_MAX:g}^2 K) (u0 = ||z0|| / sqrt(K eps) <= {_U0_MAX:g}, "
                "the engine's float64 range)", func=func)
        target, c_fixed = eps_s, np.zeros(n)
    else:
        target, c_fixed = -np.ones(n), np.ldexp(values, -ed)
    c_out = np.full((n, rounds), np.inf)
    norms = np.zeros((n, rounds + 1))
    z_last = np.zeros((n, K))
    n_done = np.zeros(n, dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    if backend == "numba":
        kern = _batch_kernel if n >= 8 else _batch_kernel_serial
        kern(ds, zs, int(rounds), c_fixed, target, w, c_out, norms, z_last, n_done, status)
    else:
        for i in range(n):
            n_done[i], status[i] = _rounds_numpy(ds[i], zs[i], int(rounds), c_fixed[i], target[i], w,
                                                 c_out[i], norms[i], z_last[i])
    bad = np.flatnonzero(status == INFEASIBLE)
    require(bad.size == 0, "y", None if bad.size == 0 else int(bad[0]),
            "have mean-square energy in the null space of G at most eps at every round (constraint infeasible;"
            f" first problem/round: {None if bad.size == 0 else (int(bad[0]), int(n_done[bad[0]]))})", func=func)
    c_out = np.ldexp(c_out, ed[:, None]) if eps is not None else np.broadcast_to(values[:, None], c_out.shape).copy()
    out = {"c": c_out, "n_done": n_done, "collapsed": status == COLLAPSED,
           "z_last": np.ldexp(z_last, ez[:, None]), "norms": np.ldexp(norms, ez[:, None])}
    if single:
        out = {k: v[0] for k, v in out.items()}
    return out


def spectral_rounds_mp(d, z0, rounds: int, *, eps: float, dps: int = 50, c_start=None) -> dict:
    r"""The constrained process of :func:`spectral_rounds` for one problem in extended precision (mpmath).

    The floats given are taken as exact numbers; every multiplier ``c_t`` is the root of
    ``sum_k z_k^2 (c / (c + d_k))^2 = K eps`` to ``dps`` digits (bracketed safeguarded Newton, no
    bound of the paper used), ``z_{t+1} = D (c_t I + D)^{-1} z_t`` [sd, Eqs. (21), (35)], and the
    run stops at the first round with ``||z_t||^2 <= K eps`` (collapse).  ``c_start`` (float
    multipliers, e.g. from :func:`spectral_rounds`) only seeds the Newton iterations.  Returns
    mpmath numbers: ``c`` (list), ``norms`` (``||z_t||`` for ``t = 0 .. n_done``), ``n_done``,
    ``collapsed``.  For certificates: ``rounds`` at most 100000.
    """
    import mpmath as mp

    func = "spectral_rounds_mp"
    single, d2, z2 = _problems(d, z0, func)
    require(single, "d", d2.shape, "be one problem (a 1-D array)", func=func)
    rounds = require_int(rounds, "rounds", low=1, high=100_000, func=func)
    eps = require_positive(eps, "eps", func=func)
    dps = require_int(dps, "dps", low=40, high=1000, func=func)
    K = d2.shape[1]
    starts = np.full(rounds, np.nan) if c_start is None else np.asarray(
        require_array(c_start, "c_start", ndim=1, finite=False, func=func), dtype=float)
    with mp.workdps(dps):
        D = [mp.mpf(float(v)) for v in d2[0]]
        Z = [mp.mpf(float(v)) for v in z2[0]]
        target = K * mp.mpf(eps)
        cs, norms = [], []
        for t in range(rounds + 1):
            n2 = mp.fsum(v * v for v in Z)
            norms.append(mp.sqrt(n2))
            if t == rounds:
                break
            if n2 <= target:
                return {"c": cs, "norms": norms, "n_done": t, "collapsed": True}
            null = mp.fsum(Z[k] ** 2 for k in range(K) if D[k] == 0)
            require(null < target, "z0", z0, f"keep the null-space energy below K eps at round {t} (infeasible)",
                    func=func)
            guess = float(starts[t]) if t < starts.size and np.isfinite(starts[t]) and starts[t] > 0 else None
            c = _mp_root(D, Z, target, guess, dps)
            cs.append(c)
            Z = [D[k] / (c + D[k]) * Z[k] if D[k] > 0 else mp.mpf(0) for k in range(K)]
    return {"c": cs, "norms": norms, "n_done": rounds, "collapsed": False}


def _mp_root(D, Z, target, guess, dps):
    """Root ``c > 0`` of ``F(c) = sum z^2 (c/(c+d))^2 - target`` (F increasing), safeguarded Newton in mpmath."""
    import mpmath as mp

    def F(c):
        s, ds = mp.mpf(0), mp.mpf(0)
        for dk, zk in zip(D, Z):
            q = c / (c + dk)
            s += zk * zk * q * q
            ds += 2 * zk * zk * q * dk / (c + dk) ** 2
        return s - target, ds

    c = mp.mpf(guess) if guess is not None else mp.mpf(max(float(v) for v in D))
    step = mp.mpf(2) ** -30 if guess is not None else mp.mpf(1)   # a float guess is good to ~1e-15
    lo, hi = c * (1 - step), c * (1 + step)
    for _ in range(5000):                    # bracket: F(lo) < 0 < F(hi)
        if F(lo)[0] < 0:
            break
        lo /= 2
    for _ in range(5000):
        if F(hi)[0] > 0:
            break
        hi *= 2
    tol = mp.mpf(10) ** (-(dps - 3))
    c = c if lo < c < hi else mp.sqrt(lo * hi)
    for _ in range(400):
        f, df = F(c)
        if f == 0:
            return c
        lo, hi = (c, hi) if f < 0 else (lo, c)
        cn = c - f / df if df > 0 else lo
        if not (lo < cn < hi):
            cn = (lo + hi) / 2
        if abs(cn - c) <= tol * c or hi - lo <= tol * hi:
            return cn
        c = cn
    return c


# ---------------------------------------------------------------------------------------------
# public: one problem, every quantity per round
# ---------------------------------------------------------------------------------------------


class SelfDistillation:
    r"""Result of :func:`kernel_self_distillation`; arrays have one row per non-collapsed round.

    Attributes (eigenbasis ordered by increasing eigenvalue):
    ``eigenvalues`` (``d``), ``eigenvectors`` (columns; ``G = W diag(d) W^T``, the paper's ``V = W^T``),
    ``c`` (multiplier per round), ``collapsed_at`` (first collapsed round, or None),
    ``a_diag`` / ``b_diag`` (diagonals of ``A_t`` and ``B_t``: round-``t`` training predictions are
    ``V^T B_t z_0``, Eqs. 31, 46), ``z`` (rotated labels of each round), ``labels``,
    ``coefficients`` (``alpha_t = (G + c_t I)^{-1} y_t``, so ``f_t(x) = g_x^T alpha_t``),
    ``train_predictions``, ``eval_predictions`` (when ``gram_eval`` was given), ``training_mse``
    (against each round's own labels) and ``mse_to_original`` (against ``y_0``).
    """

    def __init__(self, d, W, y, z0, c, w, collapsed_at, gram_eval, mode):
        self.eigenvalues, self.eigenvectors, self.y = d, W, y
        self.z0, self.c, self.ground_truth_weight = z0, c, w
        self.collapsed_at, self._gram_eval, self.mode = collapsed_at, gram_eval, mode
        self.rounds_run = int(c.shape[0])

    @cached_property
    def a_diag(self) -> np.ndarray:
        d = self.eigenvalues[None, :]
        return np.where(d > 0, d / (self.c[:, None] + d), 0.0)

    @cached_property
    def z(self) -> np.ndarray:
        out = np.empty((self.rounds_run, self.z0.size))
        z = self.z0.copy()
        for t in range(self.rounds_run):
            out[t] = z
            z = (1.0 - self.ground_truth_weight) * self.a_diag[t] * z + self.ground_truth_weight * self.z0
        return out

    @cached_property
    def b_diag(self) -> np.ndarray:
        """``B_t`` with ``A_t z_t = B_t z_0`` (Eq. 46; a product of the ``A_i`` when the weight is 0)."""
        if self.ground_truth_weight == 0.0:
            return np.cumprod(self.a_diag, axis=0)
        out = np.empty_like(self.a_diag)
        m = np.ones(self.z0.size)
        w = self.ground_truth_weight
        for t in range(self.rounds_run):
            out[t] = self.a_diag[t] * m
            m = (1.0 - w) * out[t] + w
        return out

    @cached_property
    def labels(self) -> np.ndarray:
        return self.z @ self.eigenvectors.T

    @cached_property
    def train_predictions(self) -> np.ndarray:
        return (self.a_diag * self.z) @ self.eigenvectors.T

    @cached_property
    def coefficients(self) -> np.ndarray:
        d = self.eigenvalues[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(d > 0, 1.0 / (self.c[:, None] + d), 0.0)
        return (inv * self.z) @ self.eigenvectors.T

    @cached_property
    def eval_predictions(self) -> np.ndarray | None:
        return None if self._gram_eval is None else self.coefficients @ self._gram_eval.T

    @cached_property
    def training_mse(self) -> np.ndarray:
        return np.mean((self.train_predictions - self.labels) ** 2, axis=1)

    @cached_property
    def mse_to_original(self) -> np.ndarray:
        return np.mean((self.train_predictions - self.y[None, :]) ** 2, axis=1)


def _eigen(gram, singular, func):
    """Eigendecomposition of a checked Gram matrix: symmetric, positive semi-definite (to rounding)."""
    G = require_array(gram, "gram", ndim=2, finite=True, func=func)
    require(G.shape[0] == G.shape[1], "gram", G.shape, "be a square matrix", func=func)
    require(G.shape[0] <= _MAX_GRAM, "gram", G.shape, f"have at most {_MAX_GRAM} rows", func=func)
    scale = float(np.max(np.abs(G)))
    require(scale > 0, "gram", G, "be non-zero", func=func)
    require(scale <= _D_MAX, "gram", G, f"have entries at most {_D_MAX:g}", func=func)
    require(bool(np.max(np.abs(G - G.T)) <= 1e-10 * scale), "gram", G, "be symmetric (to 1e-10 relative)", func=func)
    require_choice(singular, "singular", ("raise", "pinv"), func=func)
    d, W = np.linalg.eigh(0.5 * (G + G.T))
    tol = G.shape[0] * _ULP * float(np.max(np.abs(d)))        # rounding level of the eigenvalues
    require(bool(d[-1] > tol), "gram", G, "have a positive eigenvalue", func=func)
    require(bool(d[0] >= -tol), "gram", G,
            f"be positive semi-definite (smallest eigenvalue {d[0]:.3g} below -{tol:.3g} = -K * ulp * max|d|)",
            func=func)
    if d[0] <= tol:
        require(singular == "pinv", "gram", G,
                f"be positive definite (smallest eigenvalue {d[0]:.3g} <= tolerance {tol:.3g}, K * ulp * max|d|); "
                "pass singular='pinv' to fit on the range of G (null directions are never fitted)", func=func)
        d = np.where(d <= tol, 0.0, d)
    return d, W


def _one_problem(gram, y, rounds, c, eps, ground_truth_weight, gram_eval, singular, func):
    """The checks shared by :func:`kernel_self_distillation` and its direct-solve reference."""
    d, W = _eigen(gram, singular, func)
    K = d.size
    y = require_array(y, "y", ndim=1, finite=True, func=func)
    require(y.shape == (K,), "y", y.shape, f"have shape ({K},) to match gram", func=func)
    if gram_eval is not None:
        gram_eval = require_array(gram_eval, "gram_eval", ndim=2, finite=True, max_size=_MAX_CELLS, func=func)
        require(gram_eval.shape[1] == K, "gram_eval", gram_eval.shape, f"have shape (n_eval, {K})", func=func)
    require((c is None) != (eps is None), "c/eps", (c, eps), "give exactly one of c (fixed) or eps (constrained)",
            func=func)
    if c is not None:
        c = require_positive(c, "c", strict=False, func=func)
        require(c > 0 or bool(d[0] > 0), "c", c, "be > 0 when gram is singular", func=func)
    else:
        eps = require_positive(eps, "eps", func=func)
    rounds = require_int(rounds, "rounds", low=1, high=_MAX_ROUNDS, func=func)
    require(K * (rounds + 1) <= _MAX_CELLS, "rounds", rounds, f"keep K x (rounds + 1) <= {_MAX_CELLS}", func=func)
    w = require_in(ground_truth_weight, "ground_truth_weight", 0.0, 1.0, func=func)
    return d, W, y, gram_eval, c, eps, rounds, w


def kernel_self_distillation(gram, y, rounds: int, *, c=None, eps=None, ground_truth_weight: float = 0.0,
                             gram_eval=None, singular: str = "raise", backend: str = "numba") -> SelfDistillation:
    r"""Self-distillation of the regularised kernel fit, exactly, in the eigenbasis of ``gram`` [sd, Eqs. (18), (26)-(36)].

    ``gram``: the ``K x K`` positive (semi-)definite matrix as given (the paper's ``1/K`` is the
    caller's choice, see ``kdtheory.theory.sd.gram_matrix``); ``y``: labels ``(K,)``; ``rounds``: number of
    fits, round 0 on ``y`` and round ``t + 1`` on ``(1 - w) f_t + w y`` (``w = ground_truth_weight``,
    0 is the paper's process).  Exactly one of ``c`` (every round solves ``(gram + c I)^{-1}``) or
    ``eps`` (``c_t`` chosen so the mean squared error of round ``t`` against its labels equals
    ``eps``; the run stops at the first round whose labels have ``mean(y_t^2) <= eps``: collapse).
    ``gram_eval``: ``(n_eval, K)`` kernel between evaluation and training points (same
    normalisation as ``gram``).  A singular ``gram`` raises unless ``singular='pinv'``, which
    fits on its range (eigenvalues below ``K * ulp * max|d|`` set to 0).
    """
    func = "kernel_self_distillation"
    require_choice(backend, "backend", ("numba", "numpy"), func=func)
    d, W, y, gram_eval, c, eps, rounds, w = _one_problem(gram, y, rounds, c, eps, ground_truth_weight, gram_eval,
                                                         singular, func)
    z0 = W.T @ y
    try:
        run = spectral_rounds(d, z0, rounds, c=c, eps=eps, ground_truth_weight=w, backend=backend)
    except ValueError as exc:       # the engine's domain, in this function's name
        raise ValueError(f"{func}: " + str(exc).partition(": ")[2]) from None
    n = int(run["n_done"])
    collapsed_at = n if bool(run["collapsed"]) else None
    return SelfDistillation(d, W, y, z0, run["c"][:n].copy(), w, collapsed_at, gram_eval,
                            "c" if c is not None else "eps")


def kernel_self_distillation_reference(gram, y, rounds: int, *, c=None, eps=None, ground_truth_weight: float = 0.0,
                                       gram_eval=None, singular: str = "raise") -> dict:
    r"""Direct-solve reference (no eigenbasis): each round solves ``(gram + c_t I) alpha = y_t`` [sd, Eq. (18)].

    Accepts exactly what :func:`kernel_self_distillation` accepts (same checks).  In the
    constrained form ``c_t`` is found by Brent's method on ``log c`` applied to the mean squared
    error computed from the solves (bracket searched in ``log c`` within ``[-800, 800]``).
    Returns ``c``, ``coefficients``, ``train_predictions``, ``labels``, ``eval_predictions`` (or
    None) and ``collapsed_at``.  Slow (``O(K^3)`` per evaluation); for tests and small problems.
    """
    from scipy.optimize import brentq

    func = "kernel_self_distillation_reference"
    _, _, y0, gram_eval, c, eps, rounds, w = _one_problem(gram, y, rounds, c, eps, ground_truth_weight, gram_eval,
                                                          singular, func)
    G = np.asarray(gram, dtype=float)
    K = y0.size
    I = np.eye(K)
    cs, coefs, preds, labels = [], [], [], []
    yt = y0.copy()
    collapsed_at = None
    for t in range(rounds):
        if eps is not None:
            if np.mean(yt * yt) <= eps:
                collapsed_at = t
                break

            def gap(logc, yt=yt):
                cc = math.exp(logc)
                return float(np.mean((G @ np.linalg.solve(G + cc * I, yt) - yt) ** 2)) - eps

            lo, hi = -5.0, 5.0
            while gap(lo) > 0 and lo > -800:
                lo -= 5.0
            while gap(hi) < 0 and hi < 800:
                hi += 5.0
            require(gap(lo) <= 0 <= gap(hi), "eps", eps, f"be met by some c in [e^-800, e^800] at round {t}",
                    func=func)
            ct = math.exp(brentq(gap, lo, hi, xtol=1e-15, rtol=4 * _ULP, maxiter=500))
        else:
            ct = float(c)
        alpha = np.linalg.solve(G + ct * I, yt)
        f = G @ alpha
        cs.append(ct), coefs.append(alpha), preds.append(f), labels.append(yt)
        yt = (1.0 - w) * f + w * y0
    coefs = np.array(coefs).reshape(-1, K)
    return {"c": np.array(cs), "coefficients": coefs, "train_predictions": np.array(preds).reshape(-1, K),
            "labels": np.array(labels).reshape(-1, K),
            "eval_predictions": None if gram_eval is None else coefs @ gram_eval.T,
            "collapsed_at": collapsed_at}


# ---------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------


@benchmark("sd.spectral_rounds")
def _bench() -> list[BenchCase]:
    """10^4 constrained rounds after the eigendecomposition, K = 10 .. 2000; one eigh+rounds case."""
    cases = []
    rng = np.random.default_rng(0)
    R = 10_000
    for K in (10, 100, 1000, 2000):
        d = np.sort(rng.uniform(0.01, 1.0, K)) ** 2
        z0 = rng.normal(size=K)
        eps = float(z0 @ z0) / K / (2.0e4) ** 2   # u0 = 2e4: no collapse within 10^4 rounds
        fn = lambda d=d, z0=z0, eps=eps: spectral_rounds(d, z0, R, eps=eps, backend="numba")
        fnp = lambda d=d, z0=z0, eps=eps: spectral_rounds(d, z0, R, eps=eps, backend="numpy")
        cases.append(BenchCase(f"K={K}, 1e4 rounds (eps)", R, "rounds", fn, fnp))
    for K in (200, 1000):
        X = rng.normal(size=(K, 3))
        G = np.exp(-0.5 * np.sum((X[:, None] - X[None]) ** 2, -1)) / K + 1e-3 * np.eye(K) / K
        y = rng.normal(size=K)
        eps = float(y @ y) / K / 1e4
        cases.append(BenchCase(f"K={K}, eigh + 100 rounds (eps)", 100, "rounds",
                               lambda G=G, y=y, eps=eps: kernel_self_distillation(G, y, 100, eps=eps).c))
    return cases
