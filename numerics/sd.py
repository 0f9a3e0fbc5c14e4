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
the adversarial searches of ``kdtheory.verify.sd``), :func:`spectral_rounds_mp` (the same process
in extended precision, for certificates), :func:`kernel_self_distillation_reference`
(direct linear solves, no eigenbasis: the reference the engine is held to) and
:func:`self_distillation_classes` (one multiplier per output, Sec. 3.6).

The experiments behind the figures live here too (``kdtheory.figures.sd`` only draws): the Sec. 4
example (:func:`sec4_self_distillation`), the digits analogues of Sec. 5 (:func:`digits_l2_curves`,
:func:`digits_ce_curves`, :func:`digits_early_stopping`, :func:`digits_ce_early_stopping`,
:func:`early_stopping_filters`) and the long-run spectrum of B_t (:func:`spectrum_runs`).
Every public function checks its arguments (named ``ValueError`` / ``TypeError``, capped sizes).
"""

from __future__ import annotations

import functools
import math
from functools import cached_property

import numpy as np
from numba import njit, prange

from kdtheory.numerics.bench import BenchCase, benchmark
from kdtheory.theory._checks import (require, require_array, require_choice, require_in, require_int,
                                     require_positive, require_type)

__all__ = [
    # the exact engine
    "spectral_rounds", "spectral_rounds_mp", "SelfDistillation", "kernel_self_distillation",
    "kernel_self_distillation_reference", "self_distillation_classes",
    # the experiments behind the figures (Sec. 4 example, digits analogues of Sec. 5)
    "sec4_points", "sec4_data", "sec4_self_distillation", "digits_split", "rbf_grams", "one_vs_rest",
    "digits_l2_curves", "digits_ce_curves", "digits_early_stopping", "digits_ce_early_stopping",
    "early_stopping_filters", "participation_ratio", "spectrum_runs",
]

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


def _choice(x, param: str, choices: tuple, func: str):
    """One of the string ``choices`` (``TypeError`` for a non-string, whatever its type)."""
    require_type(isinstance(x, str), param, x, f"be one of {choices}", func=func)
    return require_choice(x, param, choices, func=func)


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
    _choice(backend, "backend", ("numba", "numpy"), func)
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
    _choice(singular, "singular", ("raise", "pinv"), func)
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
    _choice(backend, "backend", ("numba", "numpy"), func)
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
# experiments behind the figures: the Sec. 4 example and kernel regression on digits (Sec. 5)
# ---------------------------------------------------------------------------------------------

_DIGITS = 1797                  # scikit-learn's bundled 8x8 digits
_MAX_SPLITS = 100
_MAX_EXPERIMENT_ROUNDS = 100_000
_MAX_SEC4_K = 200
_MAX_GRID = 1_000_000


def _seed(seed, func: str) -> int:
    return require_int(seed, "seed", low=0, high=2 ** 63 - 1, func=func)


def _one_blas_thread():
    """BLAS on one thread: on a shared two-core machine threaded small matmuls are ~100x slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def sec4_points(K: int = 11) -> np.ndarray:
    """Evenly spaced interior points ``(k - 1/2)/K``, ``k = 1..K`` (at most 200).

    The paper's grid 0, 0.1, ..., 1 [sd, Sec. 4] puts two of the 11 points where every Green's
    function of Eq. (57) vanishes (``g(0, .) = g(1, .) = 0``), so its Gram matrix would be singular;
    the midpoint grid keeps K = 11 with step 1/11 and a positive definite Gram matrix (footnote 7).
    """
    K = require_int(K, "K", low=1, high=_MAX_SEC4_K, func="sec4_points")
    return (np.arange(K) + 0.5) / K


def sec4_data(seed: int = 0, *, K: int = 11, sigma: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Training points :func:`sec4_points` and noisy labels ``y_k = sin(2 pi x_k) + N(0, sigma^2)`` [sd, Sec. 4, Fig. 2b]."""
    func = "sec4_data"
    seed = _seed(seed, func)
    K = require_int(K, "K", low=1, high=_MAX_SEC4_K, func=func)
    sigma = require_positive(sigma, "sigma", strict=False, func=func)
    x = sec4_points(K)
    rng = np.random.default_rng(seed)
    return x, np.sin(2 * np.pi * x) + sigma * rng.standard_normal(x.size)


def _rms_to_truth(grid: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Root mean square distance to sin(2 pi x) over [0, 1] (trapezoid rule on the grid), per row of ``f``."""
    from scipy.integrate import trapezoid

    return np.sqrt(trapezoid((np.atleast_2d(f) - np.sin(2 * np.pi * grid)) ** 2, grid, axis=-1))


def sec4_self_distillation(seed: int = 0, *, eps: float = 0.04, rounds: int = 5, n_grid: int = 401, K: int = 11,
                           sigma: float = 0.5) -> dict:
    """The Sec. 4 worked example computed end to end [sd, Sec. 4, Figs. 2-3].

    Spline kernel (Eq. 57, Gram ``g/K`` of Eq. 16) on :func:`sec4_data`; the unregularised fit (``c -> 0``,
    interpolation) and ``rounds`` constrained self-distillation rounds at ``eps`` by
    :func:`kernel_self_distillation`, evaluated on ``n_grid`` points of [0, 1]; Green's function curves
    for the sources 0.1, 0.3, ..., 0.9; RMS distance of each fit to sin(2 pi x) (trapezoid rule).
    """
    from kdtheory.theory.sd import gram_matrix, green_function, kernel_matrix

    func = "sec4_self_distillation"
    eps = require_positive(eps, "eps", func=func)
    rounds = require_int(rounds, "rounds", low=1, high=_MAX_EXPERIMENT_ROUNDS, func=func)
    n_grid = require_int(n_grid, "n_grid", low=2, high=_MAX_GRID, func=func)
    x, y = sec4_data(seed, K=K, sigma=sigma)
    grid = np.linspace(0.0, 1.0, n_grid)
    sources = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    green = green_function(grid[:, None], sources[None, :])
    gram = gram_matrix(x, "spline")
    gram_eval = kernel_matrix(grid, x, "spline")
    interp = kernel_self_distillation(gram, y, 1, c=0.0, gram_eval=gram_eval)
    run = kernel_self_distillation(gram, y, rounds, eps=eps, gram_eval=gram_eval)
    return {"x": x, "y": y, "grid": grid, "sources": sources, "green": green, "gram": gram,
            "interp_eval": interp.eval_predictions[0], "interp_train": interp.train_predictions[0],
            "rounds_eval": run.eval_predictions, "rounds_train": run.train_predictions, "c": run.c,
            "B": run.b_diag, "d": run.eigenvalues, "collapsed": run.collapsed_at,
            "rms_interp": _rms_to_truth(grid, interp.eval_predictions[0]),
            "rms_rounds": _rms_to_truth(grid, run.eval_predictions)}


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, lab = load_digits(return_X_y=True)
    X, lab = X / 16.0, lab.astype(np.int64)
    X.flags.writeable = False
    lab.flags.writeable = False
    return X, lab


def _digits_args(func, seed, n_train, label_noise):
    seed = _seed(seed, func)
    n_train = require_int(n_train, "n_train", low=20, high=_DIGITS - 1, func=func)
    label_noise = require_in(label_noise, "label_noise", 0.0, 1.0, func=func)
    return seed, n_train, label_noise


def digits_split(seed: int, split: int, n_train: int, label_noise: float) -> dict:
    """A random train/test split of the 1797 digits (pixels / 16), ``n_train`` in [20, 1796], with a
    fraction ``label_noise`` of training labels replaced by a uniformly drawn *other* class; test labels clean."""
    func = "digits_split"
    seed, n_train, label_noise = _digits_args(func, seed, n_train, label_noise)
    split = require_int(split, "split", low=0, high=2 ** 63 - 1, func=func)
    X, lab = _digits()
    rng = np.random.default_rng([seed, split])
    perm = rng.permutation(lab.size)
    tr, te = perm[:n_train], perm[n_train:]
    y_train = lab[tr].copy()
    flip = rng.random(n_train) < label_noise
    y_train[flip] = (y_train[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
    return {"X_train": X[tr], "X_test": X[te], "y_train": y_train, "y_clean": lab[tr], "y_test": lab[te]}


def rbf_grams(X_train, X_test) -> tuple[np.ndarray, np.ndarray]:
    """RBF Gram matrices ``exp(-gamma ||x - x'||^2)/K`` with scikit-learn's 'scale' width ``gamma = 1/(p Var X)``,
    divided by K as in [sd, Eq. (16)]: training x training and test x training."""
    from kdtheory.theory.sd import gram_matrix, kernel_matrix

    func = "rbf_grams"
    A = require_array(X_train, "X_train", ndim=2, finite=True, max_size=_MAX_CELLS, func=func)
    B = require_array(X_test, "X_test", ndim=2, finite=True, max_size=_MAX_CELLS, func=func)
    require(A.shape[1] == B.shape[1], "X_test", B.shape, f"have {A.shape[1]} features like X_train", func=func)
    require(A.shape[0] <= _MAX_GRAM, "X_train", A.shape, f"have at most {_MAX_GRAM} rows", func=func)
    spread = float(A.var())
    require(spread > 0, "X_train", A.shape, "have non-constant features", func=func)
    length_scale = math.sqrt(A.shape[1] * spread / 2.0)  # exp(-gamma r^2) = exp(-r^2 / (2 l^2))
    return (gram_matrix(A, "rbf", length_scale=length_scale),
            kernel_matrix(B, A, "rbf", length_scale=length_scale))


def one_vs_rest(labels, Q: int = 10) -> np.ndarray:
    """+-1 one-vs-rest targets [sd, Sec. 3.6]: column q is +1 on class q, -1 elsewhere (classes 0 .. Q-1)."""
    func = "one_vs_rest"
    Q = require_int(Q, "Q", low=2, high=10_000, func=func)
    lab = require_array(labels, "labels", ndim=1, finite=True, max_size=_MAX_CELLS // Q, func=func)
    require(bool(np.all((lab == np.round(lab)) & (lab >= 0) & (lab < Q))), "labels", labels,
            f"be integers in [0, {Q - 1}]", func=func)
    Y = -np.ones((lab.size, Q))
    Y[np.arange(lab.size), lab.astype(np.int64)] = 1.0
    return Y


def _columns(gram: np.ndarray, Y: np.ndarray, rounds: int, *, eps, gram_eval=None) -> list:
    """Many label vectors (columns of ``Y``) on one Gram matrix, one eps per column (or one for all).

    The eigendecomposition is taken once from the engine's first run; the multipliers of every
    column come from one batched :func:`spectral_rounds` call, and each column's rounds are the
    engine's own :class:`SelfDistillation` result built from them.
    """
    eps = np.broadcast_to(np.asarray(eps, float), (Y.shape[1],))
    first = kernel_self_distillation(gram, Y[:, 0], rounds, eps=float(eps[0]), gram_eval=gram_eval)
    d, W = first.eigenvalues, first.eigenvectors
    Z0 = Y.T @ W  # row q: the labels of column q in the eigenbasis
    run = spectral_rounds(np.broadcast_to(d, Z0.shape), Z0, rounds, eps=eps)
    out = [first]
    for q in range(1, Y.shape[1]):
        n = int(run["n_done"][q])
        out.append(SelfDistillation(d, W, Y[:, q], Z0[q], run["c"][q, :n].copy(), 0.0,
                                    n if bool(run["collapsed"][q]) else None, gram_eval, "eps"))
    return out


def self_distillation_classes(gram, Y, rounds: int, *, eps, gram_eval=None) -> dict:
    """One-vs-rest multi-output self-distillation [sd, Sec. 3.6]: each column of ``Y`` has its own ``c_q``.

    ``eps`` is one tolerance or one per column.  A class that collapses predicts the zero function
    from then on (the paper's fixed point).  Returns ``train`` (rounds, K, Q), ``eval`` (rounds, n_eval, Q),
    ``collapsed`` (Q,) (first collapsed round, ``rounds`` if none), ``runs`` (the engine results) and the
    eigendecomposition ``d``, ``W``.
    """
    func = "self_distillation_classes"
    Y = require_array(Y, "Y", ndim=2, finite=True, max_size=_MAX_CELLS, func=func)
    K, Q = Y.shape
    rounds = require_int(rounds, "rounds", low=1, high=_MAX_EXPERIMENT_ROUNDS, func=func)
    e = require_array(eps, "eps", ndim=(0, 1), finite=True, func=func)
    require(e.ndim == 0 or e.shape == (Q,), "eps", e.shape, f"be a scalar or one value per column ({Q})", func=func)
    require(bool(np.all(e > 0)), "eps", eps, "be > 0", func=func)
    require(rounds * K * Q <= _MAX_CELLS, "rounds", rounds, f"keep rounds x K x Q <= {_MAX_CELLS}", func=func)
    if gram_eval is not None:
        gram_eval = require_array(gram_eval, "gram_eval", ndim=2, finite=True, max_size=_MAX_CELLS, func=func)
    try:
        runs = _columns(gram, Y, rounds, eps=e, gram_eval=gram_eval)
    except ValueError as exc:
        raise ValueError(f"{func}: " + str(exc).partition(": ")[2]) from None
    n_eval = 0 if gram_eval is None else gram_eval.shape[0]
    train = np.zeros((rounds, K, Q))
    ev = np.zeros((rounds, n_eval, Q))
    collapsed = np.full(Q, rounds)
    for q, r in enumerate(runs):
        T = r.rounds_run
        train[:T, :, q] = r.train_predictions
        if gram_eval is not None:
            ev[:T, :, q] = r.eval_predictions
        collapsed[q] = T
    return {"train": train, "eval": ev, "collapsed": collapsed, "runs": runs,
            "d": runs[0].eigenvalues, "W": runs[0].eigenvectors}


def _digits_self_distillation(seed: int, split: int, n_train: int, label_noise: float, rounds: int, eps: float):
    """One digits split, its RBF Gram matrices, one-vs-rest labels and the per-class self-distillation run."""
    S = digits_split(seed, split, n_train, label_noise)
    gram, gram_test = rbf_grams(S["X_train"], S["X_test"])
    Y0 = one_vs_rest(S["y_train"])
    return S, gram, gram_test, Y0, self_distillation_classes(gram, Y0, rounds, eps=eps, gram_eval=gram_test)


def _experiment_args(func, seed, n_splits, n_train, label_noise, rounds):
    seed, n_train, label_noise = _digits_args(func, seed, n_train, label_noise)
    n_splits = require_int(n_splits, "n_splits", low=1, high=_MAX_SPLITS, func=func)
    rounds = require_int(rounds, "rounds", low=1, high=1000, func=func)
    return seed, n_splits, n_train, label_noise, rounds


def digits_l2_curves(seed: int, *, n_splits: int, n_train: int, label_noise: float, eps: float = 0.02,
                     rounds: int = 10) -> dict:
    """l2 self-distillation (eps-constrained, per-class ``c_q``) on digits, per split and round [sd, Sec. 5 analogue]:
    training accuracy on the original (possibly noisy) labels y_0, test accuracy, training loss on y_0."""
    func = "digits_l2_curves"
    seed, n_splits, n_train, label_noise, rounds = _experiment_args(func, seed, n_splits, n_train, label_noise, rounds)
    eps = require_positive(eps, "eps", func=func)
    train_acc = np.zeros((n_splits, rounds))
    test_acc = np.zeros((n_splits, rounds))
    loss = np.zeros((n_splits, rounds))
    with _one_blas_thread():
        for s in range(n_splits):
            S, gram, gram_test, Y0, r = _digits_self_distillation(seed, s, n_train, label_noise, rounds, eps)
            train_acc[s] = (r["train"].argmax(2) == S["y_train"]).mean(1)
            test_acc[s] = (r["eval"].argmax(2) == S["y_test"]).mean(1)
            loss[s] = ((r["train"] - Y0) ** 2).mean((1, 2))
    return {"train_acc": train_acc, "test_acc": test_acc, "loss": loss}


def _eigen_features(gram: np.ndarray, rel_floor: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature map Phi = V sqrt(D) of the training Gram matrix (G = Phi Phi^T), dropping directions with
    d < rel_floor * d_max; returns (Phi, V, d) restricted to the kept directions."""
    d, V = np.linalg.eigh(gram)
    keep = d > rel_floor * d[-1]
    return V[:, keep] * np.sqrt(d[keep]), V[:, keep], d[keep]


def _kernel_logistic_fit(phi: np.ndarray, targets: np.ndarray, c: float, W0: np.ndarray | None = None) -> np.ndarray:
    """Minimise (1/K) sum_k CE(targets_k, softmax(Phi W)_k) + c ||W||_F^2 (soft targets allowed).

    With Phi = V sqrt(D) this is the RKHS-norm-penalised multinomial logistic regression
    f = sum_j alpha_j g(., x_j), alpha = V D^{-1/2} W (the cross-entropy counterpart of Eq. (13)).
    Solved by diagonally preconditioned L-BFGS (strictly convex problem)."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    K, r = phi.shape
    Q = targets.shape[1]
    # diagonal preconditioner: Phi^T Phi = D, the softmax Hessian is <= I/2, so the Hessian in W is
    # about diag(d)/(4K) + 2c; optimise U = sqrt(h) W, which is well conditioned
    h = np.sqrt((phi * phi).sum(0) / (4 * K) + 2 * c)[:, None]

    def fun(u):
        W = u.reshape(r, Q) / h
        logp = log_softmax(phi @ W, axis=1)
        val = -(targets * logp).sum() / K + c * (W * W).sum()
        grad = (phi.T @ (np.exp(logp) - targets) / K + 2 * c * W) / h
        return val, grad.ravel()

    u0 = np.zeros(r * Q) if W0 is None else (W0 * h).ravel()
    res = minimize(fun, u0, jac=True, method="L-BFGS-B", options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-14})
    if not res.success and res.status != 0:
        raise ValueError(f"kernel_logistic_fit: the problem must be solved by L-BFGS, got {res.message}")
    return res.x.reshape(r, Q) / h


def _ce_split(seed: int, split: int, n_train: int, label_noise: float, c: float, rounds: int) -> dict:
    """Cross-entropy self-distillation on one digits split: features, targets and W of every round."""
    S = digits_split(seed, split, n_train, label_noise)
    gram, gram_test = rbf_grams(S["X_train"], S["X_test"])
    phi, V, d = _eigen_features(gram)
    phi_test = gram_test @ (V / np.sqrt(d))  # g_x^T alpha = g_x^T V D^{-1/2} W
    Y0 = (one_vs_rest(S["y_train"]) + 1) / 2
    targets, W, Ws = Y0, None, []
    for _ in range(rounds):
        W = _kernel_logistic_fit(phi, targets, c, W)
        Ws.append(W)
        targets = _softmax(phi @ W)
    return {"split": S, "phi": phi, "phi_test": phi_test, "Y0": Y0, "W": Ws}


def _softmax(F: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(F, axis=1)


def _cross_entropy(phi: np.ndarray, W: np.ndarray, Y: np.ndarray) -> float:
    """Mean softmax cross entropy of the scores ``phi @ W`` against the (soft or one-hot) targets ``Y``."""
    return _ce_scores(phi @ W, Y)


def _ce_scores(F: np.ndarray, Y: np.ndarray) -> float:
    from scipy.special import log_softmax

    return float(-(Y * log_softmax(F, axis=1)).sum(1).mean())


def digits_ce_curves(seed: int, *, n_splits: int, n_train: int, label_noise: float, c: float = 2e-7,
                     rounds: int = 12) -> dict:
    """Cross-entropy self-distillation on digits: round 0 fits the one-hot labels, round t+1 the softmax
    outputs of round t on the training set (fixed ridge weight c; the theory of [sd] covers l2 only).
    Per split and round: training accuracy on the original labels, test accuracy, cross entropy on y_0."""
    func = "digits_ce_curves"
    seed, n_splits, n_train, label_noise, rounds = _experiment_args(func, seed, n_splits, n_train, label_noise, rounds)
    c = require_positive(c, "c", func=func)
    train_acc = np.zeros((n_splits, rounds))
    test_acc = np.zeros((n_splits, rounds))
    loss = np.zeros((n_splits, rounds))
    with _one_blas_thread():
        for s in range(n_splits):
            R = _ce_split(seed, s, n_train, label_noise, c, rounds)
            S = R["split"]
            for t, W in enumerate(R["W"]):
                train_acc[s, t] = np.mean((R["phi"] @ W).argmax(1) == S["y_train"])
                test_acc[s, t] = np.mean((R["phi_test"] @ W).argmax(1) == S["y_test"])
                loss[s, t] = _cross_entropy(R["phi"], W, R["Y0"])
    return {"train_acc": train_acc, "test_acc": test_acc, "loss": loss}


def _ce_gradient_descent_match(phi: np.ndarray, Y0: np.ndarray, targets: np.ndarray, *,
                               max_steps: int = 200_000) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Early stopping on the cross-entropy kernel problem: plain gradient descent from W = 0 on the
    unregularised mean cross entropy of ``phi @ W`` against ``Y0``, with step 1/L, L = d_max/(2K) (an upper
    bound on the curvature: Phi^T Phi = D and the softmax Hessian is <= I/2), stopped at each target loss.

    The loss decreases monotonically along the iterates; the step that crosses a target is shortened to
    the fraction theta in (0, 1] at which the loss equals the target (Brent), so the match is exact.
    Returns the stopped W per target, the losses reached and the (fractional) step counts."""
    from scipy.optimize import brentq

    K = phi.shape[0]
    eta = 2.0 * K / float((phi * phi).sum(0).max())
    order = np.argsort(targets)[::-1]  # largest loss is reached first
    Ws: list = [None] * len(targets)
    reached = np.zeros(len(targets))
    steps = np.zeros(len(targets))
    W = np.zeros((phi.shape[1], Y0.shape[1]))
    F = np.zeros((K, Y0.shape[1]))  # scores phi @ W, updated with W
    loss = _ce_scores(F, Y0)
    i = 0
    for k in range(max_steps):
        while i < len(order) and targets[order[i]] >= loss:  # target at or above the current loss
            Ws[order[i]], reached[order[i]], steps[order[i]] = W.copy(), loss, k
            i += 1
        if i == len(order):
            break
        step = eta * phi.T @ (_softmax(F) - Y0) / K
        dF = phi @ step
        new_loss = _ce_scores(F - dF, Y0)
        while i < len(order) and targets[order[i]] >= new_loss:
            tgt = targets[order[i]]
            theta = brentq(lambda th: _ce_scores(F - th * dF, Y0) - tgt, 0.0, 1.0, xtol=1e-15, rtol=1e-15)
            Ws[order[i]] = W - theta * step
            reached[order[i]] = _cross_entropy(phi, Ws[order[i]], Y0)
            steps[order[i]] = k + theta
            i += 1
        W, F, loss = W - step, F - dF, new_loss
    if i < len(order):
        raise ValueError(f"ce_gradient_descent_match: max_steps must let gradient descent reach every target loss, "
                         f"got {max_steps} (loss {loss:.6g} is still above {targets[order[i]]:.6g})")
    return Ws, reached, steps


def digits_ce_early_stopping(seed: int, *, n_splits: int, n_train: int, label_noise: float = 0.3, c: float = 2e-7,
                             rounds: int = 12) -> dict:
    """Cross-entropy self-distillation vs early-stopped gradient descent at the same cross entropy on the
    original labels (right panel of the paper's Fig. 6)."""
    func = "digits_ce_early_stopping"
    seed, n_splits, n_train, label_noise, rounds = _experiment_args(func, seed, n_splits, n_train, label_noise, rounds)
    c = require_positive(c, "c", func=func)
    res = {k: np.zeros((n_splits, rounds)) for k in ("sd_loss", "gd_loss", "gd_steps", "sd_test", "gd_test")}
    with _one_blas_thread():
        for s in range(n_splits):
            R = _ce_split(seed, s, n_train, label_noise, c, rounds)
            y_test = R["split"]["y_test"]
            sd_loss = np.array([_cross_entropy(R["phi"], W, R["Y0"]) for W in R["W"]])
            Ws, reached, steps = _ce_gradient_descent_match(R["phi"], R["Y0"], sd_loss)
            res["sd_loss"][s], res["gd_loss"][s], res["gd_steps"][s] = sd_loss, reached, steps
            res["sd_test"][s] = [np.mean((R["phi_test"] @ W).argmax(1) == y_test) for W in R["W"]]
            res["gd_test"][s] = [np.mean((R["phi_test"] @ W).argmax(1) == y_test) for W in Ws]
    return res


def _gradient_flow_match(d: np.ndarray, W: np.ndarray, Y0: np.ndarray, target_loss: float,
                         gram_eval: np.ndarray) -> dict:
    """Early stopping by iterations: gradient descent on the kernel least-squares problem
    min_alpha mean((G alpha - Y0)^2), alpha <- alpha - eta (G alpha - Y0) from alpha = 0 (the NTK training
    of Sec. 5.1), in its small-step limit (gradient flow), stopped at the time tau at which the mean
    squared training error on Y0 equals ``target_loss``.

    Exact in the eigenbasis G = W diag(d) W^T (``d``, ``W`` as returned by the engine): the residual is
    W exp(-tau d) W^T Y0 and alpha(tau) = W diag((1 - exp(-tau d))/d) W^T Y0; tau is found by Brent's
    method on log tau.
    """
    from scipy.optimize import brentq

    d, V = np.maximum(np.asarray(d, float), 0.0), np.asarray(W, float)
    Z = V.T @ Y0
    n = Z.size

    def loss(tau):
        return float(np.sum((np.exp(-tau * d)[:, None] * Z) ** 2) / n)

    start = loss(0.0)
    if not loss(0.0) >= target_loss >= loss(np.inf) - 1e-15:
        raise ValueError(f"gradient_flow_match: target_loss must lie in [{loss(np.inf):.3g}, {start:.3g}], "
                         f"got {target_loss:.6g}")
    if target_loss >= start:
        tau = 0.0
    else:
        hi = 1.0 / d[-1]
        while loss(hi) > target_loss:
            hi *= 4.0
        tau = float(np.exp(brentq(lambda lt: loss(np.exp(lt)) - target_loss, np.log(hi) - 60, np.log(hi),
                                  xtol=1e-14, rtol=1e-15)))
    with np.errstate(divide="ignore", invalid="ignore"):
        filt = np.where(d > 0, -np.expm1(-tau * d) / np.where(d > 0, d, 1.0), tau)
    alpha = V @ (filt[:, None] * Z)
    return {"tau": tau, "loss": loss(tau), "train": V @ (d[:, None] * (V.T @ alpha)), "eval": gram_eval @ alpha,
            "filter": -np.expm1(-tau * d), "d": d}


def digits_early_stopping(seed: int, *, n_splits: int, n_train: int, label_noise: float = 0.3, eps: float = 0.02,
                          rounds: int = 10) -> dict:
    """Self-distillation vs early stopping at matched training loss [sd, Sec. 3.4, Fig. 6], l2 loss.

    For every split and every round t before any class collapses: the SD model f_t, its mean squared
    error L_t on the original labels, and two early-stopped models with the same training loss:
    gradient flow stopped at L_t, and one eps-constrained fit (round 0) whose per-class tolerance is
    the SD model's per-class loss (the paper's Sec. 3.4 reading)."""
    func = "digits_early_stopping"
    seed, n_splits, n_train, label_noise, rounds = _experiment_args(func, seed, n_splits, n_train, label_noise, rounds)
    eps = require_positive(eps, "eps", func=func)
    T = rounds
    res = {k: np.full((n_splits, T), np.nan) for k in
           ("sd_loss", "gd_loss", "eps_loss", "sd_test", "gd_test", "eps_test")}
    with _one_blas_thread():
        for s in range(n_splits):
            S, gram, gram_test, Y0, r = _digits_self_distillation(seed, s, n_train, label_noise, rounds, eps)
            T = min(T, int(r["collapsed"].min()))
            T_s = int(r["collapsed"].min())
            # the Sec. 3.4 early stopping: one eps-constrained fit per (round, class), eps = SD's class loss
            per_round = ((r["train"][:T_s] - Y0) ** 2).mean(1)  # (T_s, Q)
            larger = _columns(gram, np.tile(Y0, T_s), 1, eps=per_round.ravel(), gram_eval=gram_test) if T_s else []
            for t in range(T_s):
                per_class = ((r["train"][t] - Y0) ** 2).mean(0)
                res["sd_loss"][s, t] = per_class.mean()
                res["sd_test"][s, t] = np.mean(r["eval"][t].argmax(1) == S["y_test"])
                gd = _gradient_flow_match(r["d"], r["W"], Y0, per_class.mean(), gram_test)
                res["gd_loss"][s, t] = gd["loss"]
                res["gd_test"][s, t] = np.mean(gd["eval"].argmax(1) == S["y_test"])
                fits = larger[t * Y0.shape[1]:(t + 1) * Y0.shape[1]]
                F_tr = np.stack([e.train_predictions[0] for e in fits], 1)
                F_te = np.stack([e.eval_predictions[0] for e in fits], 1)
                res["eps_loss"][s, t] = ((F_tr - Y0) ** 2).mean()
                res["eps_test"][s, t] = np.mean(F_te.argmax(1) == S["y_test"])
    res = {k: v[:, :T] for k, v in res.items()}
    res["rounds"] = T
    return res


def early_stopping_filters(seed: int, *, n_train: int, t: int, label_noise: float = 0.3, eps: float = 0.02,
                           q: int = 0) -> dict:
    """Spectral filters of class ``q`` (split 0) at SD round ``t``: SD's B_t diagonal [sd, Eq. (46)], gradient
    flow's 1 - exp(-tau d) and the larger-eps fit's d/(c0 + d) [sd, Eq. (49)], all at the SD model's
    training loss, ordered by decreasing eigenvalue."""
    func = "early_stopping_filters"
    seed, n_train, label_noise = _digits_args(func, seed, n_train, label_noise)
    t = require_int(t, "t", low=0, high=1000, func=func)
    q = require_int(q, "q", low=0, high=9, func=func)
    eps = require_positive(eps, "eps", func=func)
    with _one_blas_thread():
        S = digits_split(seed, 0, n_train, label_noise)
        gram, gram_test = rbf_grams(S["X_train"], S["X_test"])
        Y0 = one_vs_rest(S["y_train"])
        r = kernel_self_distillation(gram, Y0[:, q], t + 1, eps=eps)
        require(r.rounds_run > t, "t", t, f"be a round before the labels of class {q} collapse "
                f"(round {r.collapsed_at})", func=func)
        target = float(r.mse_to_original[t])
        gd = _gradient_flow_match(r.eigenvalues, r.eigenvectors, Y0[:, [q]], target, gram_test[:1])
        e = kernel_self_distillation(gram, Y0[:, q], 1, eps=target)
    order = np.argsort(r.eigenvalues)[::-1]
    return {"sd": r.b_diag[t][order], "gd": gd["filter"][order], "eps": e.b_diag[0][order],
            "d": r.eigenvalues[order], "loss": target, "gd_loss": gd["loss"], "eps_loss": float(e.mse_to_original[0])}


def participation_ratio(b) -> np.ndarray:
    """Effective number of basis functions ``(sum_k b_k)^2 / sum_k b_k^2`` of each row of ``b`` (1 to K).

    ``b >= 0`` with a positive entry in every row (a diagonal of ``B_t``, [sd, Eq. (46)]).
    """
    func = "participation_ratio"
    b = np.atleast_2d(require_array(b, "b", ndim=(1, 2), finite=True, max_size=_MAX_CELLS, func=func))
    require(bool(np.all(b >= 0)) and bool(np.all(b.max(axis=1) > 0)), "b", b,
            "be >= 0 with a positive entry in every row", func=func)
    s = b / b.max(axis=1, keepdims=True)      # scale-free: no overflow of the squares
    return s.sum(1) ** 2 / (s * s).sum(1)


def spectrum_runs(seed: int = 0, *, n_train: int = 400, eps: float = 1e-4, max_rounds: int = 2000) -> dict:
    """Normalised diagonal ``B_t[k,k] / max_k B_t[k,k]`` [sd, Eq. (46)] for every round up to the collapse, on the
    Sec. 4 data and on digits (RBF kernel, class 0 one-vs-rest, no label noise), eigenvalues descending;
    with the multipliers, the collapse round and the participation ratio per round."""
    from kdtheory.theory.sd import gram_matrix

    func = "spectrum_runs"
    seed, n_train, _ = _digits_args(func, seed, n_train, 0.0)
    eps = require_positive(eps, "eps", func=func)
    max_rounds = require_int(max_rounds, "max_rounds", low=1, high=_MAX_EXPERIMENT_ROUNDS, func=func)
    x, y = sec4_data(seed)
    problems = {"sec4": (gram_matrix(x, "spline"), y)}
    out = {}
    with _one_blas_thread():
        S = digits_split(seed, 0, n_train, 0.0)
        gram, _ = rbf_grams(S["X_train"], S["X_train"][:1])
        problems["digits"] = (gram, one_vs_rest(S["y_train"])[:, 0])
        for name, (G, labels) in problems.items():
            try:
                r = kernel_self_distillation(G, labels, max_rounds, eps=eps)
            except ValueError as exc:
                raise ValueError(f"{func}: " + str(exc).partition(": ")[2]) from None
            order = np.argsort(r.eigenvalues)[::-1]
            B = r.b_diag[:, order]
            out[name] = {"B": B, "normalised": B / B.max(1, keepdims=True), "d": r.eigenvalues[order],
                         "c": r.c, "collapsed": r.collapsed_at, "effective": participation_ratio(B)}
    return out


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
