r"""Simulators of [rdml]: distribution-pair generators, a batched Rényi divergence kernel, Algorithm 1.

Two parts. Section 2 (the divergence, Eq. (3)):

* :func:`random_pairs` -- Dirichlet pairs with a concentration drawn per pair
  (log-uniform), from nearly uniform to nearly one-hot distributions.
* :func:`adversarial_pairs` -- pairs built to stress Eq. (3): entries near the
  simplex boundary (down to 1e-300), zeros in P, zeros in Q, disjoint supports,
  P = Q, P within 1e-9 of Q, vertices of the simplex.
* :data:`ALPHAS_EXTREME` -- orders from 0 to inf including tiny, huge and near-1 values.
* :func:`renyi_batch` -- ``D_alpha(P_i || Q_i)`` for many pairs times many orders: a Numba
  kernel (``prange`` over pairs; a pair's value never depends on the thread count) that computes
  the alpha-independent logarithms once per pair and at most one transcendental (``expm1`` or
  ``exp``, or a series near alpha = 1) per order and term; its NumPy twin runs the same
  algorithm (equal to a few roundings: NumPy's SIMD exp/log and the C library's differ in the
  last bit), and ``backend="reference"`` calls :func:`kdtheory.theory.rdml.renyi_divergence`.

Section 3 and Supplement C (Algorithm 1, SGD for a cohort of K students under Rényi
mutual learning): :func:`simulate`. Each step t and each student k draws a data point d
and a peer j != k (uniformly, pre-drawn in Python) and steps
``theta_k <- theta_k - eta_t grad L_k(d, j, theta_k)`` with
``L_k(d, j, .) = -log p_k(y_d | x_d) + D_alpha(P_j(x_d) || P_k(x_d))`` [rdml, Algorithm 1,
Eqs. (1)-(2)]. Jacobi updates (every student uses the peers of step t, as the analysis
assumes) by default, Gauss-Seidel (students updated in turn, later ones seeing the new
parameters) as an option.

Students: softmax regression (``theta = W``, M x d) or a one-hidden-layer tanh MLP
(``W1, b1, W2, b2``), gradients written by hand. Every ``log_every`` steps the run records,
per student, the full-data base loss, the divergence loss of Eq. (2), the squared norm of
the full gradient of ``L_k`` (peers fixed), ``E_d ||grad L^base(d)||^2`` (Assumption 3),
``E_{d,j} ||grad L_k(d, j)||^2`` (Lemma 1), ``Psi_k`` of Lemma C.3 (change of the divergence
loss caused by the student's own step, peers held at step t) and the smallest class
probability seen (the empirical tau); ``statistics="losses"`` records only the losses. A run
whose parameters or losses stop being finite raises :class:`SimulationDiverged` (a
``ValueError`` naming ``eta`` and a ``FloatingPointError``) with the step. The Numba kernel
``_run_kernel`` fills preallocated arrays; ``_run_numpy`` is its NumPy twin on the same
pre-drawn indices. Data: :func:`synthetic_softmax_data` (a softmax teacher) and
:func:`digits_data` (sklearn's bundled 8x8 digits). :func:`generalisation_study` runs
independent and RDML students over seeds on digits (the experiments behind the figures).

Inputs are checked (issue #9): counts are integers within named caps (``MAX_*``), seeds are
integers >= 0, labels integer arrays, and outputs that would overflow are refused by name.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from numba import njit, prange

from kdtheory.numerics.bench import BenchCase, benchmark
from kdtheory.theory._checks import (require, require_array, require_distribution, require_in, require_int,
                                     require_positive, require_type)
from kdtheory.theory.rdml import _H_COEF, _PHI_COEF, _SERIES_CUT, _differences, _log_ratio, _phi, _renyi_rows, renyi_divergence

__all__ = [
    "ALPHAS_EXTREME", "ADVERSARIAL_KINDS", "MODELS", "DIGITS_ROWS", "SimulationDiverged",
    "MAX_TABLE_ENTRIES", "MAX_ENTRIES", "MAX_ADVERSARIAL_PAIRS", "MAX_CLASSES", "MAX_FEATURES", "MAX_HIDDEN",
    "MAX_STUDENTS", "MAX_STEPS", "MAX_SIMULATION_WORK", "MAX_ORDER", "MAX_LOGIT",
    "random_pairs", "adversarial_pairs", "renyi_batch",
    "simulate", "n_params", "synthetic_softmax_data", "digits_data", "model_probs", "full_objective",
    "generalisation_study", "MAX_STUDY_RUNS",
]


# --- Section 2: distribution pairs and the batched Rényi divergence kernel ---


ALPHAS_EXTREME = np.array([0.0, 1e-12, 1e-6, 1e-3, 0.1, 0.5, 1 - 1e-8, 1.0, 1 + 1e-8, 1.5, 2.0, 10.0, 100.0,
                           1e4, 1e8, np.inf])

MAX_TABLE_ENTRIES = 10 ** 8  # renyi_batch: n pairs x orders (800 MB of output)

ADVERSARIAL_KINDS = ("near_boundary", "zeros_in_p", "zeros_in_q", "disjoint", "equal", "near_equal", "vertex",
                     "tiny_overlap")

# Caps on sizes and counts (issue #9: no input makes a call run unbounded); each is named in its error.
MAX_ENTRIES = 10 ** 8          # random_pairs n x m, synthetic data N x d (800 MB of float64)
MAX_ADVERSARIAL_PAIRS = 10 ** 6  # adversarial_pairs builds its pairs in a Python loop (~20 s at the cap)
MAX_CLASSES = 10 ** 5
MAX_FEATURES = 10 ** 6
MAX_HIDDEN = 10 ** 5
MAX_STUDENTS = 10 ** 3
MAX_STEPS = 10 ** 8
MAX_SIMULATION_WORK = 2 * 10 ** 11  # simulate: T K P (SGD) + logged rows x K (K N + N_eval) P (statistics)
MAX_ORDER = 1e6  # simulate / full_objective: alpha (D_alpha for alpha > 1e6 is D_inf to ~1e-6 relative)
MAX_LOGIT = 1e100  # model outputs beyond this are refused (exp/log of them would overflow)


def _seed(seed, func: str) -> int:
    """A seed of numpy.random.default_rng: an integer >= 0."""
    return require_int(seed, "seed", low=0, func=func)


def _count(x, name: str, low: int, high: int, func: str) -> int:
    """An integer count in [low, high] (TypeError for a non-integer, ValueError outside the range)."""
    require_type(isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_)), name, x,
                 "be an integer", func=func)
    require(low <= int(x) <= high, name, x, f"be an integer >= {low} (and <= {high}, the cap)", func=func)
    return int(x)


class SimulationDiverged(FloatingPointError, ValueError):
    """Raised by :func:`simulate` when a run stops being finite: the step size is outside the range where
    Algorithm 1 is stable for this instance (a ``ValueError`` naming ``eta``, and a ``FloatingPointError``)."""


# --------------------------------------------------------------------------- generators


def random_pairs(n: int, m: int, *, seed: int = 0, log10_concentration: tuple[float, float] = (-2.0, 2.0)
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs (P, Q) of ``m``-class distributions, each Dirichlet(c, ..., c) with log10 c uniform
    in ``log10_concentration`` (a new c per pair and per side): from near-vertices to near-uniform.
    """
    func = "random_pairs"
    n = _count(n, "n", 1, MAX_ENTRIES, func)
    m = _count(m, "m", 2, MAX_ENTRIES, func)
    require(n * m <= MAX_ENTRIES, "n", n, f"times m = {m} be at most MAX_ENTRIES = {MAX_ENTRIES:.0e}", func=func)
    bounds = require_array(log10_concentration, "log10_concentration", ndim=1, func=func)
    require(bounds.size == 2 and -50.0 <= bounds[0] <= bounds[1] <= 50.0, "log10_concentration",
            log10_concentration, "be an interval (low, high) with -50 <= low <= high <= 50", func=func)
    lo, hi = float(bounds[0]), float(bounds[1])
    rng = np.random.default_rng(_seed(seed, func))
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
    func = "adversarial_pairs"
    n = _count(n, "n", 1, MAX_ADVERSARIAL_PAIRS, func)
    m = _count(m, "m", 2, MAX_CLASSES, func)
    require(n * m <= MAX_ENTRIES, "n", n, f"times m = {m} be at most MAX_ENTRIES = {MAX_ENTRIES:.0e}", func=func)
    rng = np.random.default_rng(_seed(seed, func))
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
    for i in range(m):
        if w[i] > 0.0 and q[i] > 0.0:
            acc += math.exp(lw[i] + eps * ell[i] - top)
    lse = top + math.log(acc)
    if abs(lse) > 0.5 and eps != 0.0:  # the log-sum-exp decides: the sum B below is not needed
        return max(lse / eps, 0.0)
    bsum = 0.0
    for i in range(m):
        qi, wi = q[i], w[i]
        if wi > 0.0 and qi > 0.0:
            lt = lw[i] + eps * ell[i]
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
    if not math.isfinite(bsum) and eps != 0.0:
        val = lse / eps
    else:
        t = eps * bsum
        val = bsum if t == 0.0 else bsum * (math.log1p(t) / t)
    return max(val, 0.0)


# Fast path of the batch (issue #11). Per pair, everything that does not depend on alpha is computed
# once: log w, d = w/q - 1, ell = log(w/q), Phi = sum q phi(d) and the masses off and on the supports.
# Per order and term at most one transcendental: with y = (alpha - 1) ell, e^y - 1 comes from expm1
# (from exp when y <= log(1/2), where 1 + expm1 would lose the small e^y), and gives both the
# log-sum-exp term w e^y and the term of the non-negative sum B that keeps the accuracy near
# alpha = 1 (see :func:`_order_fast`). For |y| < _SERIES_CUT, where e^y - 1 - y would cancel, the
# series h(y) = (e^y - 1 - y)/y replaces the transcendental, truncated after 4, 7 or 10 terms for
# |y| below 1e-4, 1e-2, 0.1 (each within 1 ulp of h). Orders whose terms could overflow (y > _Y_MAX) or
# whose sum could have underflowed (S < _S_MIN) take the shifted log-sum-exp of :func:`_general`.
_Y_MAX = 700.0
_S_MIN = 1e-280
_LN_HALF = -math.log(2.0)
_ELL_SERIES = 0.5
_H_TIERS = ((1e-4, 4), (1e-2, 7), (_SERIES_CUT, 10))
_N_CHUNKS = 64  # fixed number of prange chunks: the result of a pair never depends on the chunking


@njit(cache=True, inline="always")
def _h_series(y, hc):
    """(e^y - 1 - y) / y for |y| < _SERIES_CUT by Horner, with as many terms as |y| needs (_H_TIERS)."""
    ay = abs(y)
    n = 4 if ay < 1e-4 else (7 if ay < 1e-2 else 10)
    s = 0.0
    for k in range(n - 1, -1, -1):
        s = (s + hc[k]) * y
    return s


@njit(cache=True)
def _prepare_fast(w, q, lw, d, ell, phic, cut):
    """Alpha-independent quantities of one direction (w || q); fills lw = log w, d = w/q - 1, ell = log(w/q).

    Returns (phi_near, far, wmiss, off, on, ellmax, ellmin, missing, any_overlap): phi_near = sum of
    q phi(d) over the overlap where |ell| < _ELL_SERIES ("near" terms); far = sum of q - w over the
    other ("far") terms of the overlap; wmiss = P-mass where q = 0; off / on = Q-mass outside / on
    supp P; ellmax / ellmin over the overlap; missing = P puts mass where Q has none; any_overlap =
    the supports meet.
    """
    phi_near, far, wmiss, off, on = 0.0, 0.0, 0.0, 0.0, 0.0
    ellmax, ellmin = -math.inf, math.inf
    missing, any_overlap = False, False
    for i in range(w.shape[0]):
        wi, qi = w[i], q[i]
        lw[i] = math.log(wi) if wi > 0.0 else -math.inf
        d[i] = 0.0
        ell[i] = 0.0
        if wi > 0.0 and qi > 0.0:
            df = _diff(w, q, i)
            di = df / qi
            d[i] = di
            near_d = abs(df) <= 0.5 * qi
            ell[i] = math.log1p(di) if near_d else lw[i] - math.log(qi)
            if abs(ell[i]) < _ELL_SERIES:
                # _phi1, reusing ell = log1p(d) where it is that (the same bits)
                phi = (1.0 + di) * ell[i] - di if (near_d and abs(di) >= cut) else _phi1(di, phic, cut)
                phi_near += qi * phi
            else:
                far -= df
            ellmax = max(ellmax, ell[i])
            ellmin = min(ellmin, ell[i])
            any_overlap = True
        elif wi > 0.0:
            wmiss += wi
            missing = True
        if wi > 0.0:
            on += qi
        else:
            off += qi
    return phi_near, far, wmiss, off, on, ellmax, ellmin, missing, any_overlap


@njit(cache=True, inline="always")
def _order_fast(w, q, lw, d, ell, eps, pre, phic, hc, cut):
    """D_a(w || q) for a = 1 + eps in [1/2, inf): one transcendental per term at most.

    S = sum w e^y (y = eps ell) gives the log-sum-exp; B = sum of the non-negative terms
    b = (x^a - 1 - a (x - 1)) q / eps (x = w/q) gives log1p(eps B) / eps near alpha = 1. A near term
    (|ell| < _ELL_SERIES) is written b = q phi(d) + w ell h(y), a far one b = w (e^y - 1) / eps - (w - q)
    (no cancellation between a large q phi(d) and w ell h(y)); (e^y - 1) / eps = ell (1 + h(y)) for
    |y| < cut.
    """
    phi_near, far, wmiss, off, on, ellmax, ellmin, missing, any_overlap = pre
    if eps >= 0.0 and missing:
        return math.inf
    if eps < 0.0 and not any_overlap:
        return math.inf
    ytop = eps * ellmax if eps >= 0.0 else eps * ellmin
    if ytop > _Y_MAX:
        return _general(w, q, lw, d, ell, eps, missing, any_overlap, phic, hc, cut)
    s, a_sum, g_sum = 0.0, 0.0, 0.0
    for i in range(w.shape[0]):
        wi = w[i]
        if wi > 0.0 and q[i] > 0.0:
            li = ell[i]
            y = eps * li
            near = abs(li) < _ELL_SERIES
            if abs(y) < cut:
                hy = _h_series(y, hc)
                e = 1.0 + (y + y * hy)
                a_sum += wi * li * hy if near else wi * li * (1.0 + hy)
            else:
                if y > _LN_HALF:
                    em1 = math.expm1(y)
                    e = 1.0 + em1
                else:
                    e = math.exp(y)
                    em1 = e - 1.0
                g_sum += wi * (em1 - y) if near else wi * em1
            s += wi * e
    if not s >= _S_MIN:
        return _general(w, q, lw, d, ell, eps, missing, any_overlap, phic, hc, cut)
    bsum = phi_near + a_sum + far + off
    if g_sum != 0.0:
        bsum += g_sum / eps
    if eps < 0.0 and wmiss > 0.0:
        bsum += (1.0 + eps) * wmiss / (-eps)
    lse = math.log(s)
    if (abs(lse) > 0.5 or not math.isfinite(bsum)) and eps != 0.0:
        val = lse / eps
    else:
        t = eps * bsum
        val = bsum if t == 0.0 else bsum * (math.log1p(t) / t)
    return max(val, 0.0)


@njit(cache=True, parallel=True)
def _renyi_batch_kernel(w, q, alphas, eps, need_reverse, phic, hc, cut, out):
    n, m = w.shape
    n_chunks = min(n, _N_CHUNKS)
    for c in prange(n_chunks):
        lw, d, ell = np.empty(m), np.empty(m), np.empty(m)
        lq, db, ellb = np.empty(m), np.empty(m), np.empty(m)
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            wi, qi = w[i], q[i]
            pre = _prepare_fast(wi, qi, lw, d, ell, phic, cut)
            pre_b = _prepare_fast(qi, wi, lq, db, ellb, phic, cut) if need_reverse else pre
            off, on, mx, missing, any_overlap = pre[3], pre[4], pre[5], pre[7], pre[8]
            # D_0 = -log Q(supp P), the alpha = 0 value
            d0 = max(-math.log1p(-off) if off < 0.5 else (-math.log(on) if on > 0.0 else math.inf), 0.0)
            for j in range(alphas.shape[0]):
                a = alphas[j]
                if a == 0.0:
                    v = d0
                elif math.isinf(a):
                    # D_inf >= D_0 holds exactly; the max keeps it when rounding of q has hidden a tiny
                    # mass of Q outside supp P from the ratio max_i p_i / q_i
                    v = math.inf if missing else max(mx, d0)
                elif a < 0.5:
                    v = a / (1.0 - a) * _order_fast(qi, wi, lq, db, ellb, -a, pre_b, phic, hc, cut)
                    if math.isinf(v) and any_overlap:
                        # only for a < ~1e-290 (a B or log(S)/a overflowed): then D_a = D_0 to relative
                        # 1e-290 (D_a - D_0 = O(a * 1e3) while this needs D_0 > 1e308 a)
                        v = d0
                else:
                    v = _order_fast(wi, qi, lw, d, ell, eps[j], pre, phic, hc, cut)
                out[i, j] = v


def _np_prepare_fast(w: np.ndarray, q: np.ndarray) -> dict:
    """NumPy twin of :func:`_prepare_fast` for rows w, q (n, M)."""
    sp, sq = w > 0, q > 0
    overlap = sp & sq
    d, ell = _log_ratio(w, q, overlap)
    near = overlap & (np.abs(ell) < _ELL_SERIES)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lw = np.where(sp, np.log(np.where(sp, w, 1.0)), -np.inf)
        q_phi = q * _phi(np.where(near, d, 0.0))
    return {"lw": lw, "ell": ell, "overlap": overlap, "near": near,
            "phi_near": np.where(near, q_phi, 0.0).sum(axis=-1),
            "far": np.where(overlap & ~near, -_differences(w, q), 0.0).sum(axis=-1),
            "wmiss": np.where(sp & ~sq, w, 0.0).sum(axis=-1),
            "off": np.where(sp, 0.0, q).sum(axis=-1), "on": np.where(sp, q, 0.0).sum(axis=-1),
            "ellmax": np.where(overlap, ell, -np.inf).max(axis=-1),
            "ellmin": np.where(overlap, ell, np.inf).min(axis=-1),
            "missing": np.any(sp & ~sq, axis=-1), "any_overlap": np.any(overlap, axis=-1)}


def _np_h_series(y: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`_h_series` (the same truncation tier by tier); y with |y| < _SERIES_CUT."""
    out = np.zeros_like(y)
    lo = 0.0
    for hi, n_terms in _H_TIERS:
        part = np.zeros_like(y)
        for c in _H_COEF[:n_terms][::-1]:
            part = (part + c) * y
        out = np.where((np.abs(y) >= lo) & (np.abs(y) < hi), part, out)
        lo = hi
    return out


def _np_order_fast(w: np.ndarray, q: np.ndarray, pre: dict, a: float, eps: float) -> np.ndarray:
    """NumPy twin of :func:`_order_fast` for one order a = 1 + eps >= 1/2 over all rows."""
    ov, ell, near = pre["overlap"], pre["ell"], pre["near"]
    inf = pre["missing"] if eps >= 0 else ~pre["any_overlap"]
    with np.errstate(invalid="ignore", over="ignore"):
        ytop = eps * (pre["ellmax"] if eps >= 0 else pre["ellmin"])
        y = np.where(ov, eps * ell, 0.0)
    small = np.abs(y) < _SERIES_CUT
    ys = np.where(small, y, 0.0)
    hy = _np_h_series(ys)
    mid = ~small & (y > _LN_HALF)
    low = ~small & ~mid
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        ex = np.exp(np.where(low, y, 0.0))
        em1 = np.where(mid, np.expm1(np.where(mid, y, 0.0)), ex - 1.0)
        e = np.where(small, 1.0 + (ys + ys * hy), np.where(mid, 1.0 + em1, ex))
        s = np.where(ov, w * e, 0.0).sum(axis=-1)
        a_terms = np.where(near, w * ell * hy, w * ell * (1.0 + hy))
        a_sum = np.where(ov & small, a_terms, 0.0).sum(axis=-1)
        g_terms = np.where(near, w * (em1 - y), w * em1)
        g_sum = np.where(ov & ~small, g_terms, 0.0).sum(axis=-1)
    fallback = ~inf & ((ytop > _Y_MAX) | ~(s >= _S_MIN))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        b = pre["phi_near"] + a_sum + pre["far"] + pre["off"]
        if eps != 0:
            b = np.where(g_sum != 0.0, b + g_sum / eps, b)
        if eps < 0:
            b = np.where(pre["wmiss"] > 0.0, b + (1.0 + eps) * pre["wmiss"] / (-eps), b)
        lse = np.log(s)
        t = eps * b
        near_val = np.where(t == 0.0, b, b * (np.log1p(np.where(t == 0.0, 0.0, t)) / np.where(t == 0.0, 1.0, t)))
        use_lse = ((np.abs(lse) > 0.5) | ~np.isfinite(b)) & (eps != 0)
        val = np.maximum(np.where(use_lse, lse / (eps if eps != 0 else 1.0), near_val), 0.0)
    out = np.where(inf, np.inf, val)
    if np.any(fallback):
        k = int(fallback.sum())
        out[fallback] = _renyi_rows(w[fallback], q[fallback], np.full(k, a), np.full(k, eps))
    return out


def _np_renyi_batch(w: np.ndarray, q: np.ndarray, alphas: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`_renyi_batch_kernel` (same algorithm, vectorised over pairs)."""
    n = w.shape[0]
    out = np.empty((n, alphas.size))
    pre = _np_prepare_fast(w, q)
    pre_b = _np_prepare_fast(q, w) if np.any((alphas > 0) & (alphas < 0.5)) else None
    off, on = pre["off"], pre["on"]
    with np.errstate(divide="ignore", invalid="ignore"):
        d0 = np.where(on <= 0, np.inf, np.maximum(np.where(off < 0.5, -np.log1p(-off), -np.log(on)), 0.0))
    for j, a in enumerate(alphas):
        if a == 0:
            out[:, j] = d0
        elif np.isinf(a):
            out[:, j] = np.where(pre["missing"], np.inf, np.maximum(pre["ellmax"], d0))
        elif a < 0.5:
            v = a / (1.0 - a) * _np_order_fast(q, w, pre_b, 1.0 - a, -a)
            out[:, j] = np.where(np.isinf(v) & pre["any_overlap"], d0, v)
        else:
            out[:, j] = _np_order_fast(w, q, pre, a, eps[j])
    return out


def renyi_batch(p, q, alphas, *, backend: str = "numba") -> np.ndarray:
    """Table ``D[i, j] = D_{alphas[j]}(P_i || Q_i)`` [rdml, Eq. (3)] for pairs ``p, q`` of shape (n, M).

    ``backend="numba"`` runs the compiled kernel (parallel over pairs; a pair's value does not
    depend on the thread count), ``"numpy"`` its vectorised twin (same algorithm; the two agree to a
    few roundings, the transcendental functions of NumPy and of the C library differing in the last
    bit). Per pair the alpha-independent logarithms are computed once; per order and term one
    ``expm1``/``exp`` (or a series) gives both the log-sum-exp term and the single-signed term that
    keeps the accuracy near alpha = 1 (see :func:`kdtheory.theory.rdml.renyi_divergence`, the
    reference the tests hold both to).
    """
    require(isinstance(backend, str) and backend in ("numba", "numpy", "reference"), "backend", backend,
            "be 'numba' or 'numpy' (or 'reference': kdtheory.theory.rdml.renyi_divergence)")
    p = require_distribution(p, "p")
    q = require_distribution(q, "q")
    require(p.ndim == 2 and p.shape == q.shape, "q", q.shape, f"have the shape (n, M) of p {p.shape}")
    a = require_array(alphas, "alphas", ndim=(0, 1), finite=False).reshape(-1)
    require(bool(np.all(a >= 0)), "alphas", alphas, "be a non-empty list of orders in [0, inf]")
    require(p.shape[0] * a.size <= MAX_TABLE_ENTRIES, "alphas", alphas,
            f"give a table of at most {MAX_TABLE_ENTRIES:.0e} entries with the {p.shape[0]} pairs, "
            f"got {a.size} orders")
    w = np.ascontiguousarray(p / p.sum(axis=-1, keepdims=True))
    v = np.ascontiguousarray(q / q.sum(axis=-1, keepdims=True))
    with np.errstate(invalid="ignore"):
        eps = np.where(np.isinf(a), np.inf, a - 1.0)
    if backend == "reference":
        # renyi_divergence normalises p and q exactly as above, so it sees the same rows
        return np.asarray(renyi_divergence(p[:, None, :], q[:, None, :], a[None, :]), dtype=float).reshape(len(w), a.size)
    if backend == "numpy":
        return _np_renyi_batch(w, v, a, eps)
    out = np.empty((w.shape[0], a.size))
    need_reverse = bool(np.any((a > 0) & (a < 0.5)))
    _renyi_batch_kernel(w, v, a, eps, need_reverse, _PHI_COEF, _H_COEF, _SERIES_CUT, out)
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


# --- Section 3 and Supplement C: Algorithm 1 (SGD for K students under RDML) ---


MODELS = {"softmax": 0, "mlp": 1}


def n_params(model: str, d: int, M: int, hidden: int = 8) -> int:
    """Number of parameters of a student: ``M d`` (softmax regression) or ``h d + h + M h + M`` (MLP)."""
    func = "n_params"
    _require_model(model, func)
    d = _count(d, "d", 1, MAX_FEATURES, func)
    M = _count(M, "M", 2, MAX_CLASSES, func)
    hidden = _count(hidden, "hidden", 1, MAX_HIDDEN, func)
    return M * d if model == "softmax" else hidden * d + hidden + M * hidden + M


def _require_model(model, func: str) -> None:
    require(isinstance(model, str) and model in MODELS, "model", model, f"be one of {tuple(MODELS)}", func=func)


def _labels(y, n: int, name: str, func: str) -> np.ndarray:
    """``n`` class labels as int64: an integer array with entries in [0, MAX_CLASSES)."""
    arr = None
    if not isinstance(y, (str, bytes, dict, set)) and y is not None:
        try:
            arr = np.asarray(y)
        except (TypeError, ValueError):  # ragged
            arr = None
    require_type(arr is not None and arr.dtype.kind in "iufb" and arr.dtype.kind != "b", name, y,
                 "be an array of integer class labels", func=func)
    require(arr.dtype.kind in "iu" and arr.shape == (n,), name, y,
            f"hold one integer label per row ({n}; an integer array, not floats)", func=func)
    require(bool(np.all(arr >= 0)) and (arr.size == 0 or int(arr.max()) < MAX_CLASSES), name, y,
            f"be integer class labels in [0, {MAX_CLASSES})", func=func)
    return arr.astype(np.int64)


def _require_finite_logits(z: np.ndarray, func: str) -> None:
    require(bool(np.all(np.isfinite(z))) and float(np.max(np.abs(z), initial=0.0)) <= MAX_LOGIT, "theta", None,
            f"give finite logits of magnitude at most MAX_LOGIT = {MAX_LOGIT:g} on X (lower the scale of theta or X)",
            func=func)


# --------------------------------------------------------------------------- jitted pieces


@njit(cache=True)
def _forward(mcode, th, x, M, h, hid, z):
    d = x.shape[0]
    if mcode == 0:
        for m in range(M):
            s = 0.0
            for i in range(d):
                s += th[m * d + i] * x[i]
            z[m] = s
    else:
        o_b1 = h * d
        o_w2 = o_b1 + h
        o_b2 = o_w2 + M * h
        for j in range(h):
            s = th[o_b1 + j]
            for i in range(d):
                s += th[j * d + i] * x[i]
            hid[j] = np.tanh(s)
        for m in range(M):
            s = th[o_b2 + m]
            for j in range(h):
                s += th[o_w2 + m * h + j] * hid[j]
            z[m] = s


@njit(cache=True)
def _backward(mcode, th, x, M, h, hid, gz, scale, g):
    """g += scale * (dz/dtheta)^T gz."""
    d = x.shape[0]
    if mcode == 0:
        for m in range(M):
            c = scale * gz[m]
            for i in range(d):
                g[m * d + i] += c * x[i]
    else:
        o_b1 = h * d
        o_w2 = o_b1 + h
        o_b2 = o_w2 + M * h
        for m in range(M):
            c = scale * gz[m]
            g[o_b2 + m] += c
            for j in range(h):
                g[o_w2 + m * h + j] += c * hid[j]
        for j in range(h):
            s = 0.0
            for m in range(M):
                s += th[o_w2 + m * h + j] * gz[m]
            c = scale * s * (1.0 - hid[j] * hid[j])
            g[o_b1 + j] += c
            for i in range(d):
                g[j * d + i] += c * x[i]


@njit(cache=True)
def _logsoftmax(z, M, lp):
    mx = z[0]
    for m in range(1, M):
        if z[m] > mx:
            mx = z[m]
    s = 0.0
    for m in range(M):
        s += np.exp(z[m] - mx)
    ls = mx + np.log(s)
    for m in range(M):
        lp[m] = z[m] - ls


@njit(cache=True)
def _renyi_and_escort(lq, lp, alpha, M, w):
    """D_alpha(q || p) from log-probabilities; fills w with the tilted law ∝ q^a p^(1-a)."""
    mx = -np.inf
    for m in range(M):
        w[m] = alpha * lq[m] + (1.0 - alpha) * lp[m]
        if w[m] > mx:
            mx = w[m]
    s = 0.0
    for m in range(M):
        w[m] = np.exp(w[m] - mx)
        s += w[m]
    for m in range(M):
        w[m] /= s
    if alpha == 1.0:
        dv = 0.0
        for m in range(M):
            dv += np.exp(lq[m]) * (lq[m] - lp[m])
        return dv
    return (mx + np.log(s)) / (alpha - 1.0)


@njit(cache=True)
def _point_grad(mcode, thk, thj, x, yv, M, h, alpha, divw, hid, hidj, z, zj, lp, lq, w, gz, g, scale):
    """g += scale * grad of [-log p_k(y|x) + divw * D_alpha(P_j || P_k)]; returns (base, div, min p_k)."""
    _forward(mcode, thj, x, M, h, hidj, zj)
    _logsoftmax(zj, M, lq)
    _forward(mcode, thk, x, M, h, hid, z)
    _logsoftmax(z, M, lp)
    dv = _renyi_and_escort(lq, lp, alpha, M, w)
    mn = 1.0
    for m in range(M):
        pm = np.exp(lp[m])
        if pm < mn:
            mn = pm
        gz[m] = pm + divw * (pm - w[m])
    gz[yv] -= 1.0
    _backward(mcode, thk, x, M, h, hid, gz, scale, g)
    return -lp[yv], dv, mn


@njit(cache=True)
def _full_eval(mcode, th, k, X, y, M, h, alpha, divw, hid, hidj, z, zj, lp, lq, w, gz, g, gb, gp, stats):
    """Full-data quantities of student k with the peers th[j] fixed; g receives the full gradient of L_k.

    stats = [base loss, div loss, -, E_d ||grad base(d)||^2, E_{d,j} ||grad L_k(d,j)||^2, min p].
    """
    N = X.shape[0]
    K = th.shape[0]
    P = th.shape[1]
    for i in range(P):
        g[i] = 0.0
    base = 0.0
    div = 0.0
    bsq = 0.0
    ssq = 0.0
    mn = 1.0
    for n in range(N):
        x = X[n]
        _forward(mcode, th[k], x, M, h, hid, z)
        _logsoftmax(z, M, lp)
        base += -lp[y[n]]
        for m in range(M):
            pm = np.exp(lp[m])
            if pm < mn:
                mn = pm
            gz[m] = pm
        gz[y[n]] -= 1.0
        for i in range(P):
            gb[i] = 0.0
        _backward(mcode, th[k], x, M, h, hid, gz, 1.0, gb)
        s = 0.0
        for i in range(P):
            s += gb[i] * gb[i]
            g[i] += gb[i] / N
        bsq += s / N
        for j in range(K):
            if j == k:
                continue
            for i in range(P):
                gp[i] = 0.0
            b, dv, mnp = _point_grad(mcode, th[k], th[j], x, y[n], M, h, alpha, divw, hid, hidj, z, zj, lp, lq,
                                     w, gz, gp, 1.0)
            div += dv / (N * (K - 1))
            s = 0.0
            for i in range(P):
                s += gp[i] * gp[i]
                g[i] += (gp[i] - gb[i]) / (N * (K - 1))
            ssq += s / (N * (K - 1))
    stats[0] = base / N
    stats[1] = div
    stats[3] = bsq
    stats[4] = ssq
    stats[5] = mn


@njit(cache=True)
def _div_loss(mcode, thk, th, k, X, M, h, alpha, hid, hidj, z, zj, lp, lq, w):
    N = X.shape[0]
    K = th.shape[0]
    div = 0.0
    for n in range(N):
        _forward(mcode, thk, X[n], M, h, hid, z)
        _logsoftmax(z, M, lp)
        for j in range(K):
            if j == k:
                continue
            _forward(mcode, th[j], X[n], M, h, hidj, zj)
            _logsoftmax(zj, M, lq)
            div += _renyi_and_escort(lq, lp, alpha, M, w) / (N * (K - 1))
    return div


@njit(cache=True)
def _log_all(mcode, th, X, y, M, h, alpha, divw, bufs, g, gb, gp, stats, row, base_o, div_o, gsq_o, bsq_o,
             ssq_o, minp_o):
    hid, hidj, z, zj, lp, lq, w, gz = bufs
    K = th.shape[0]
    P = th.shape[1]
    mn = 1.0
    for k in range(K):
        _full_eval(mcode, th, k, X, y, M, h, alpha, divw, hid, hidj, z, zj, lp, lq, w, gz, g, gb, gp, stats)
        s = 0.0
        for i in range(P):
            s += g[i] * g[i]
        base_o[row, k] = stats[0]
        div_o[row, k] = stats[1]
        gsq_o[row, k] = s
        bsq_o[row, k] = stats[3]
        ssq_o[row, k] = stats[4]
        if stats[5] < mn:
            mn = stats[5]
    minp_o[row] = mn


@njit(cache=True)
def _log_losses(mcode, th, X, y, M, h, alpha, bufs, row, base_o, div_o, minp_o):
    """The losses of _log_all only (base and divergence loss per student, smallest probability): the same
    sums in the same order, without the gradient statistics (statistics="losses")."""
    hid, hidj, z, zj, lp, lq, w, gz = bufs
    K = th.shape[0]
    N = X.shape[0]
    mn = 1.0
    for k in range(K):
        base = 0.0
        div = 0.0
        for n in range(N):
            x = X[n]
            _forward(mcode, th[k], x, M, h, hid, z)
            _logsoftmax(z, M, lp)
            base += -lp[y[n]]
            for m in range(M):
                pm = np.exp(lp[m])
                if pm < mn:
                    mn = pm
            for j in range(K):
                if j == k:
                    continue
                _forward(mcode, th[j], x, M, h, hidj, zj)
                _logsoftmax(zj, M, lq)
                div += _renyi_and_escort(lq, lp, alpha, M, w) / (N * (K - 1))
        base_o[row, k] = base / N
        div_o[row, k] = div
    minp_o[row] = mn


@njit(cache=True)
def _run_kernel(mcode, X, y, M, h, th, alpha, divw, etas, didx, pidx, jacobi, log_every, Xe, ye,
                base_o, div_o, gsq_o, bsq_o, ssq_o, psi_o, minp_o, tl_o, ta_o, minp_seen, full_stats):
    """Run Algorithm 1 in place on th (K, P); returns -1 or the step at which the run diverged."""
    T, K = didx.shape
    P = th.shape[1]
    hid = np.empty(max(h, 1))
    hidj = np.empty(max(h, 1))
    z = np.empty(M)
    zj = np.empty(M)
    lp = np.empty(M)
    lq = np.empty(M)
    w = np.empty(M)
    gz = np.empty(M)
    bufs = (hid, hidj, z, zj, lp, lq, w, gz)
    g = np.empty(P)
    gbase = np.empty(P)
    gp = np.empty(P)
    stats = np.zeros(6)
    grads = np.empty((K, P))
    snap = th.copy()
    row = 0
    mn_seen = 1.0
    for t in range(T + 1):
        logged = (t % log_every == 0) or (t == T)
        if logged:
            if full_stats:
                _log_all(mcode, th, X, y, M, h, alpha, divw, bufs, g, gbase, gp, stats, row, base_o, div_o, gsq_o,
                         bsq_o, ssq_o, minp_o)
            else:
                _log_losses(mcode, th, X, y, M, h, alpha, bufs, row, base_o, div_o, minp_o)
            for k in range(K):
                if not (np.isfinite(base_o[row, k]) and np.isfinite(div_o[row, k]) and np.isfinite(gsq_o[row, k])):
                    return t
            if Xe.shape[0] > 0:
                for k in range(K):
                    ls = 0.0
                    acc = 0.0
                    for n in range(Xe.shape[0]):
                        _forward(mcode, th[k], Xe[n], M, h, hid, z)
                        _logsoftmax(z, M, lp)
                        ls += -lp[ye[n]]
                        best = 0
                        for m in range(1, M):
                            if lp[m] > lp[best]:
                                best = m
                        if best == ye[n]:
                            acc += 1.0
                    tl_o[row, k] = ls / Xe.shape[0]
                    ta_o[row, k] = acc / Xe.shape[0]
        if t == T:
            break
        for k in range(K):
            for i in range(P):
                snap[k, i] = th[k, i]
        eta = etas[t]
        for k in range(K):
            j = pidx[t, k]
            if j >= k:
                j += 1
            for i in range(P):
                grads[k, i] = 0.0
            if jacobi:
                b, dv, mn = _point_grad(mcode, snap[k], snap[j], X[didx[t, k]], y[didx[t, k]], M, h, alpha, divw,
                                        hid, hidj, z, zj, lp, lq, w, gz, grads[k], 1.0)
            else:
                b, dv, mn = _point_grad(mcode, th[k], th[j], X[didx[t, k]], y[didx[t, k]], M, h, alpha, divw,
                                        hid, hidj, z, zj, lp, lq, w, gz, grads[k], 1.0)
                for i in range(P):
                    th[k, i] -= eta * grads[k, i]
            if mn < mn_seen:
                mn_seen = mn
        if jacobi:
            for k in range(K):
                for i in range(P):
                    th[k, i] -= eta * grads[k, i]
        for k in range(K):
            for i in range(P):
                if not np.isfinite(th[k, i]) or abs(th[k, i]) > 1e100:
                    return t
        if logged:
            if full_stats:
                for k in range(K):
                    after = _div_loss(mcode, th[k], snap, k, X, M, h, alpha, hid, hidj, z, zj, lp, lq, w)
                    psi_o[row, k] = div_o[row, k] - after
            row += 1
    minp_seen[0] = mn_seen
    return -1


# --------------------------------------------------------------------------- NumPy twin


def _np_forward(mcode, th, X, M, h):
    """Logits (n, M) and hidden activations of one student for rows X (n, d)."""
    d = X.shape[1]
    if mcode == 0:
        return X @ th[: M * d].reshape(M, d).T, None
    W1 = th[: h * d].reshape(h, d)
    b1 = th[h * d: h * d + h]
    W2 = th[h * d + h: h * d + h + M * h].reshape(M, h)
    b2 = th[h * d + h + M * h:]
    hid = np.tanh(X @ W1.T + b1)
    return hid @ W2.T + b2, hid


def _np_backward(mcode, th, X, M, h, hid, gz):
    """Per-row parameter gradients (n, P) of gz . z."""
    n, d = X.shape
    if mcode == 0:
        return (gz[:, :, None] * X[:, None, :]).reshape(n, M * d)
    W2 = th[h * d + h: h * d + h + M * h].reshape(M, h)
    gW2 = gz[:, :, None] * hid[:, None, :]
    gh = (gz @ W2) * (1.0 - hid * hid)
    gW1 = gh[:, :, None] * X[:, None, :]
    return np.concatenate([gW1.reshape(n, h * d), gh, gW2.reshape(n, M * h), gz], axis=1)


def _np_logsoftmax(z):
    mx = z.max(axis=-1, keepdims=True)
    return z - (mx + np.log(np.exp(z - mx).sum(axis=-1, keepdims=True)))


def _np_renyi_escort(lq, lp, alpha):
    a = alpha * lq + (1.0 - alpha) * lp
    mx = a.max(axis=-1, keepdims=True)
    e = np.exp(a - mx)
    s = e.sum(axis=-1, keepdims=True)
    w = e / s
    if alpha == 1.0:
        dv = (np.exp(lq) * (lq - lp)).sum(axis=-1)
    else:
        dv = (mx[..., 0] + np.log(s[..., 0])) / (alpha - 1.0)
    return dv, w


def _np_eval(mcode, th, X, y, M, h, alpha, divw):
    """Full-data per-student stats as in _log_all (NumPy)."""
    K, P = th.shape
    N = X.shape[0]
    out = np.zeros((K, 6))
    lps = []
    hids = []
    for k in range(K):
        z, hid = _np_forward(mcode, th[k], X, M, h)
        lps.append(_np_logsoftmax(z))
        hids.append(hid)
    onehot = np.eye(M)[y]
    for k in range(K):
        lp = lps[k]
        p = np.exp(lp)
        gb = _np_backward(mcode, th[k], X, M, h, hids[k], p - onehot)
        gfull = gb.mean(axis=0)
        bsq = (gb * gb).sum(axis=1).mean()
        div = 0.0
        ssq = 0.0
        for j in range(K):
            if j == k:
                continue
            dv, w = _np_renyi_escort(lps[j], lp, alpha)
            div += dv.sum() / (N * (K - 1))
            gj = _np_backward(mcode, th[k], X, M, h, hids[k], p - onehot + divw * (p - w))
            ssq += (gj * gj).sum(axis=1).sum() / (N * (K - 1))
            gfull = gfull + (gj - gb).sum(axis=0) / (N * (K - 1))
        out[k] = [-lp[np.arange(N), y].mean(), div, gfull @ gfull, bsq, ssq, p.min()]
    return out


def _np_div_loss(mcode, thk, th, k, X, M, h, alpha):
    K = th.shape[0]
    lp = _np_logsoftmax(_np_forward(mcode, thk, X, M, h)[0])
    div = 0.0
    for j in range(K):
        if j != k:
            lq = _np_logsoftmax(_np_forward(mcode, th[j], X, M, h)[0])
            div += _np_renyi_escort(lq, lp, alpha)[0].sum() / (X.shape[0] * (K - 1))
    return div


def _np_eval_losses(mcode, th, X, y, M, h, alpha):
    """Base and divergence losses and smallest probability per student (columns 0, 1, 5 of _np_eval)."""
    K = th.shape[0]
    N = X.shape[0]
    out = np.zeros((K, 6))
    lps = [_np_logsoftmax(_np_forward(mcode, th[k], X, M, h)[0]) for k in range(K)]
    for k in range(K):
        div = 0.0
        for j in range(K):
            if j != k:
                div += _np_renyi_escort(lps[j], lps[k], alpha)[0].sum() / (N * (K - 1))
        out[k, 0], out[k, 1], out[k, 5] = -lps[k][np.arange(N), y].mean(), div, np.exp(lps[k]).min()
    return out


def _run_numpy(mcode, X, y, M, h, th, alpha, divw, etas, didx, pidx, jacobi, log_every, Xe, ye,
               base_o, div_o, gsq_o, bsq_o, ssq_o, psi_o, minp_o, tl_o, ta_o, minp_seen, full_stats):
    T, K = didx.shape
    row = 0
    mn_seen = 1.0
    for t in range(T + 1):
        logged = (t % log_every == 0) or (t == T)
        if logged:
            st = _np_eval(mcode, th, X, y, M, h, alpha, divw) if full_stats else _np_eval_losses(mcode, th, X, y, M,
                                                                                                   h, alpha)
            base_o[row], div_o[row], gsq_o[row], bsq_o[row], ssq_o[row] = st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 4]
            minp_o[row] = st[:, 5].min()
            if not np.all(np.isfinite(st[:, :3])):
                return t
            if Xe.shape[0] > 0:
                for k in range(K):
                    lp = _np_logsoftmax(_np_forward(mcode, th[k], Xe, M, h)[0])
                    tl_o[row, k] = -lp[np.arange(Xe.shape[0]), ye].mean()
                    ta_o[row, k] = np.mean(lp.argmax(axis=1) == ye)
        if t == T:
            break
        snap = th.copy()
        eta = etas[t]
        pend = [None] * K
        for k in range(K):
            j = pidx[t, k] + (1 if pidx[t, k] >= k else 0)
            src = snap if jacobi else th
            x = X[didx[t, k]][None, :]
            yy = y[didx[t, k]]
            zk, hk = _np_forward(mcode, src[k], x, M, h)
            zj, _ = _np_forward(mcode, src[j], x, M, h)
            lp, lq = _np_logsoftmax(zk), _np_logsoftmax(zj)
            _, w = _np_renyi_escort(lq, lp, alpha)
            p = np.exp(lp)
            mn_seen = min(mn_seen, p.min())
            gz = p + divw * (p - w)
            gz[0, yy] -= 1.0
            gk = _np_backward(mcode, src[k], x, M, h, hk, gz)[0]
            if jacobi:
                pend[k] = gk
            else:
                th[k] = th[k] - eta * gk
        if jacobi:
            for k in range(K):
                th[k] = th[k] - eta * pend[k]
        if not (np.all(np.isfinite(th)) and np.all(np.abs(th) <= 1e100)):
            return t
        if logged:
            if full_stats:
                for k in range(K):
                    psi_o[row, k] = div_o[row, k] - _np_div_loss(mcode, th[k], snap, k, X, M, h, alpha)
            row += 1
    minp_seen[0] = mn_seen
    return -1


# --------------------------------------------------------------------------- public wrapper


def simulate(X, y, *, K: int = 2, alpha: float = 1.0, eta=0.1, T: int = 1000, model: str = "softmax",
             hidden: int = 8, update: str = "jacobi", log_every: int = 10, init=None, init_scale: float = 0.1,
             seed: int = 0, divergence_weight: float = 1.0, X_eval=None, y_eval=None,
             shared_draws: bool = False, backend: str = "numba", statistics: str = "full") -> dict:
    r"""Run Algorithm 1 of [rdml] for K students; returns the logged traces.

    Parameters
    ----------
    X, y : arrays (N, d) and (N,) with labels in ``0..M-1`` (``M = y.max() + 1`` unless
        every class appears; pass one example of each class at least).
    K : number of students (>= 2). alpha : Rényi order in [0, inf) (1 is KL, vanilla DML).
    eta : constant step or array of T steps (Theorem 2 uses ``eta / sqrt(T)``).
    model : ``"softmax"`` (``theta = W``, M x d) or ``"mlp"`` (tanh hidden layer of ``hidden`` units).
    update : ``"jacobi"`` (peers of step t, as in the analysis) or ``"gauss-seidel"``.
    log_every : record every that many steps (and at the end).
    init : (K, P) initial parameters, or None for N(0, init_scale^2) entries.
    divergence_weight : 1 for RDML, 0 for independent students (same draws).
    X_eval, y_eval : optional test set (test loss and accuracy are then logged).
    shared_draws : every student uses the data point drawn for student 0 (with equal ``init`` and
        K = 2 the students then stay equal, the divergence stays 0 and every Psi <= 0).
    backend : ``"numba"`` (compiled kernel) or ``"numpy"`` (the twin).
    statistics : ``"full"`` (every quantity below) or ``"losses"`` (only ``base``, ``div``, ``min_prob`` and
        the test metrics: the gradient statistics and ``psi``, which cost K backward passes per data point
        and log point, are skipped and absent from the result; the losses are bitwise those of ``"full"``).

    Returns a dict with ``steps`` (logged step indices), arrays (n_log, K) ``base``, ``div``,
    ``grad_sq`` (||grad L_k||^2, full data, peers fixed), ``base_sq_mean`` (E_d||grad L^base(d)||^2),
    ``sgd_sq_mean`` (E_{d,j}||grad L_k(d,j)||^2), ``psi`` (Psi_k of Lemma C.3 for the step taken at
    that log point; 0 at the final row), ``test_loss``, ``test_acc``; ``min_prob`` (n_log,) and
    ``min_prob_seen`` (over every sampled point), ``theta`` (final), ``etas``.
    """
    func = "simulate"
    X = require_array(X, "X", ndim=2, func=func)
    require(X.shape[0] <= MAX_ENTRIES and X.shape[1] <= MAX_FEATURES, "X", X, "have at most "
            f"{MAX_ENTRIES:.0e} rows and {MAX_FEATURES:.0e} columns", func=func)
    y = _labels(y, X.shape[0], "y", func)
    M = int(y.max()) + 1
    K = _count(K, "K", 2, MAX_STUDENTS, func)
    alpha = require_in(alpha, "alpha", 0.0, MAX_ORDER, func=func)
    T = _count(T, "T", 1, MAX_STEPS, func)
    _require_model(model, func)
    hidden = _count(hidden, "hidden", 1, MAX_HIDDEN, func)
    require(isinstance(update, str) and update in ("jacobi", "gauss-seidel"), "update", update,
            "be 'jacobi' or 'gauss-seidel'", func=func)
    log_every = _count(log_every, "log_every", 1, MAX_STEPS, func)
    require(isinstance(backend, str) and backend in ("numba", "numpy"), "backend", backend, "be 'numba' or 'numpy'",
            func=func)
    require(isinstance(statistics, str) and statistics in ("full", "losses"), "statistics", statistics,
            "be 'full' or 'losses'", func=func)
    full_stats = statistics == "full"
    require_type(isinstance(shared_draws, (bool, np.bool_)), "shared_draws", shared_draws, "be a bool", func=func)
    init_scale = require_positive(init_scale, "init_scale", strict=False, func=func)
    divergence_weight = require_in(divergence_weight, "divergence_weight", 0.0, np.inf, closed="left", func=func)
    seed = _seed(seed, func)
    eta_arr = require_array(eta, "eta", ndim=(0, 1), func=func)
    require(eta_arr.ndim == 0 or eta_arr.shape == (T,), "eta", eta, f"be a scalar or an array of T = {T} steps",
            func=func)
    etas = np.broadcast_to(eta_arr, (T,)).astype(float).copy()
    require(bool(np.all(etas > 0)), "eta", eta, "be > 0 (a scalar or T positive steps)", func=func)
    require((X_eval is None) == (y_eval is None), "y_eval" if X_eval is not None else "X_eval", None,
            "be given together with " + ("X_eval" if X_eval is not None else "y_eval"), func=func)
    if X_eval is not None:
        Xe = require_array(X_eval, "X_eval", ndim=2, min_size=0, func=func)
        require(Xe.shape[1] == X.shape[1] and Xe.shape[0] <= MAX_ENTRIES, "X_eval", Xe,
                f"have {X.shape[1]} columns (as X) and at most {MAX_ENTRIES:.0e} rows", func=func)
        ye = _labels(y_eval, Xe.shape[0], "y_eval", func)
        if ye.size:
            M = max(M, int(ye.max()) + 1)
    require(M >= 2, "y", y, "contain at least 2 classes (labels 0 and 1 at least)", func=func)
    require(M <= MAX_CLASSES, "y", y, f"have at most {MAX_CLASSES} classes", func=func)
    N, d = X.shape
    h = int(hidden) if model == "mlp" else 0
    P = M * d if model == "softmax" else h * d + h + M * h + M
    n_log = (T - 1) // log_every + 2
    work = T * K * P + n_log * K * (K * N + (0 if X_eval is None else Xe.shape[0])) * P
    require(work <= MAX_SIMULATION_WORK and T * K <= MAX_ENTRIES, "T", T,
            f"keep the run within MAX_SIMULATION_WORK = {MAX_SIMULATION_WORK:.0e} operations (T K P + logged rows "
            f"x K (K N + N_eval) P = {work:.3g} here; raise log_every or lower T, K, N, P) and T K <= {MAX_ENTRIES:.0e}",
            func=func)
    rng = np.random.default_rng(seed)
    if init is None:
        th = rng.normal(scale=init_scale, size=(K, P))
    else:
        th = require_array(init, "init", ndim=2, func=func).copy()
        require(th.shape == (K, P), "init", init, f"have shape (K, P) = ({K}, {P})", func=func)
    didx = rng.integers(0, N, size=(T, K))
    if shared_draws:
        didx[:, 1:] = didx[:, :1]
    pidx = rng.integers(0, K - 1, size=(T, K))
    if X_eval is None:
        Xe, ye = np.zeros((0, d)), np.zeros(0, dtype=np.int64)
    base, div, gsq, bsq, ssq, psi = (np.zeros((n_log, K)) for _ in range(6))
    tl, ta = np.full((n_log, K), np.nan), np.full((n_log, K), np.nan)
    minp = np.zeros(n_log)
    seen = np.ones(1)
    args = (MODELS[model], np.ascontiguousarray(X), y.astype(np.int64), M, h, th, float(alpha),
            float(divergence_weight), etas, didx.astype(np.int64), pidx.astype(np.int64), update == "jacobi",
            int(log_every), np.ascontiguousarray(Xe), ye, base, div, gsq, bsq, ssq, psi, minp, tl, ta, seen,
            full_stats)
    status = (_run_kernel if backend == "numba" else _run_numpy)(*args)
    if status >= 0:
        raise SimulationDiverged(f"simulate: eta must be small enough (and X, init of moderate scale) for the run "
                                 f"to stay finite, got eta_0 = {etas[0]:.3g}: the run diverged at step {status} "
                                 "(non-finite losses or |theta| > 1e100)")
    steps = np.minimum(np.arange(n_log) * log_every, T)
    out = {"steps": steps, "base": base, "div": div, "min_prob": minp, "min_prob_seen": float(min(seen[0], minp.min())),
           "theta": th, "etas": etas, "M": M, "P": P}
    if full_stats:
        out.update({"grad_sq": gsq, "base_sq_mean": bsq, "sgd_sq_mean": ssq, "psi": psi})
    if X_eval is not None:
        out["test_loss"], out["test_acc"] = tl, ta
    return out


# --------------------------------------------------------------------------- data and helpers


def synthetic_softmax_data(N: int, d: int, M: int, *, seed: int = 0, teacher_scale: float = 1.0,
                           radius: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded data from a softmax teacher: x ~ N(0, I) with last coordinate 1, y ~ softmax(W* x).

    With ``radius`` each x is rescaled to that Euclidean norm (so ``||x|| <= R`` exactly).
    Returns ``(X, y, W_star)``.
    """
    func = "synthetic_softmax_data"
    M = _count(M, "M", 2, MAX_CLASSES, func)
    d = _count(d, "d", 2, MAX_FEATURES, func)
    N = _count(N, "N", M, MAX_ENTRIES, func)
    require(N * d <= MAX_ENTRIES and M * d <= MAX_ENTRIES, "N", N,
            f"times d = {d} (and M d) be at most MAX_ENTRIES = {MAX_ENTRIES:.0e}", func=func)
    teacher_scale = require_positive(teacher_scale, "teacher_scale", strict=False, func=func)
    if radius is not None:
        radius = require_positive(radius, "radius", func=func)
    rng = np.random.default_rng(_seed(seed, func))
    X = rng.normal(size=(N, d))
    X[:, -1] = 1.0
    if radius is not None:
        X *= radius / np.linalg.norm(X, axis=1, keepdims=True)
    W = rng.normal(scale=teacher_scale, size=(M, d))
    with np.errstate(over="ignore", invalid="ignore"):
        z = X @ W.T
    require(bool(np.all(np.isfinite(z))), "teacher_scale", teacher_scale,
            f"times radius ({radius}) keep the teacher's logits finite", func=func)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random(N)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    y[:M] = np.arange(M)  # every class present
    return X, y.astype(np.int64), W


DIGITS_ROWS = 1797  # images in sklearn's bundled digits


def digits_data(*, n_train: int = 300, n_test: int = 500, label_noise: float = 0.0, n_features: int | None = None,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sklearn's bundled 8x8 digits (no download), pixels / 16 plus a bias column; a seeded train/test split.

    ``label_noise`` replaces that fraction of training labels by uniform random labels;
    ``n_features`` keeps the leading principal components (fit on the training part).
    """
    func = "digits_data"
    n_train = _count(n_train, "n_train", 1, DIGITS_ROWS, func)
    n_test = _count(n_test, "n_test", 0, DIGITS_ROWS, func)
    require(n_train + n_test <= DIGITS_ROWS, "n_train", n_train, f"plus n_test = {n_test} be <= {DIGITS_ROWS}",
            func=func)
    label_noise = require_in(label_noise, "label_noise", 0.0, 1.0, func=func)
    if n_features is not None:
        n_features = _count(n_features, "n_features", 1, min(64, n_train), func)
    rng = np.random.default_rng(_seed(seed, func))
    from sklearn.datasets import load_digits

    Xa, ya = load_digits(return_X_y=True)
    idx = rng.permutation(len(ya))
    tr, te = idx[:n_train], idx[n_train:n_train + n_test]
    X = Xa / 16.0
    Xtr, Xte = X[tr], X[te]
    if n_features is not None:
        mu = Xtr.mean(axis=0)
        _, _, Vt = np.linalg.svd(Xtr - mu, full_matrices=False)
        Vt = Vt[:n_features]
        Xtr, Xte = (Xtr - mu) @ Vt.T, (Xte - mu) @ Vt.T
        sc = np.sqrt((Xtr ** 2).sum(axis=1).mean())
        Xtr, Xte = (Xtr / sc, Xte / sc) if sc > 0 else (Xtr, Xte)
    Xtr = np.column_stack([Xtr, np.ones(len(tr))])
    Xte = np.column_stack([Xte, np.ones(len(te))])
    ytr = ya[tr].astype(np.int64).copy()
    if label_noise > 0:
        flip = rng.random(n_train) < label_noise
        ytr[flip] = rng.integers(0, 10, size=int(flip.sum()))
    return Xtr, ytr, Xte, ya[te].astype(np.int64)


def model_probs(theta, X, M: int, *, model: str = "softmax", hidden: int = 8) -> np.ndarray:
    """Class probabilities (n, M) of one student with parameters ``theta`` on rows ``X``."""
    func = "model_probs"
    _require_model(model, func)
    X = require_array(X, "X", ndim=2, func=func)
    M = _count(M, "M", 2, MAX_CLASSES, func)
    hidden = _count(hidden, "hidden", 1, MAX_HIDDEN, func)
    P = n_params(model, X.shape[1], M, hidden)
    th = require_array(theta, "theta", ndim=1, func=func)
    require(th.size == P, "theta", theta, f"have n_params({model!r}, d={X.shape[1]}, M={M}, hidden={hidden}) = {P} "
            "entries", func=func)
    with np.errstate(over="ignore", invalid="ignore"):
        z, _ = _np_forward(MODELS[model], th, X, M, hidden)
    _require_finite_logits(z, func)
    return np.exp(_np_logsoftmax(z))


def full_objective(thetas, k: int, X, y, alpha: float, *, model: str = "softmax", hidden: int = 8,
                   M: int | None = None) -> dict:
    """Full-data base loss, divergence loss [rdml, Eqs. (1)-(2)] and gradient of L_k (peers fixed), NumPy."""
    func = "full_objective"
    _require_model(model, func)
    X = require_array(X, "X", ndim=2, func=func)
    y = _labels(y, X.shape[0], "y", func)
    require(y.size >= 1, "X", X, "have at least one row", func=func)
    if M is None:
        M = max(int(y.max()) + 1, 2)
    M = _count(M, "M", 2, MAX_CLASSES, func)
    require(int(y.max()) < M, "y", y, f"be labels in [0, M) = [0, {M})", func=func)
    hidden = _count(hidden, "hidden", 1, MAX_HIDDEN, func)
    alpha = require_in(alpha, "alpha", 0.0, MAX_ORDER, func=func)
    P = n_params(model, X.shape[1], M, hidden)
    th = require_array(thetas, "thetas", ndim=2, func=func)
    require(th.shape[0] >= 2 and th.shape[1] == P, "thetas", thetas,
            f"have shape (K, P) with K >= 2 students and P = {P} parameters", func=func)
    K = th.shape[0]
    k = _count(k, "k", 0, K - 1, func)
    mcode = MODELS[model]
    lps, hids = [], []
    for j in range(K):
        with np.errstate(over="ignore", invalid="ignore"):
            z, hid = _np_forward(mcode, th[j], X, M, hidden)
        _require_finite_logits(z, func)
        lps.append(_np_logsoftmax(z))
        hids.append(hid)
    lp = lps[k]
    p = np.exp(lp)
    onehot = np.eye(M)[y]
    N = X.shape[0]
    gz = p - onehot
    div = 0.0
    for j in range(K):
        if j != k:
            dv, w = _np_renyi_escort(lps[j], lp, alpha)
            div += dv.sum() / (N * (K - 1))
            gz = gz + (p - w) / (K - 1)
    grad = _np_backward(mcode, th[k], X, M, hidden, hids[k], gz).mean(axis=0)
    return {"base": float(-lp[np.arange(N), y].mean()), "div": float(div), "grad": grad}


# --------------------------------------------------------------------------- studies behind the figures


MAX_STUDY_RUNS = 10 ** 4  # generalisation_study: seeds x orders (each one run of simulate)


def generalisation_study(*, orders=(None, 0.5, 1.0, 1.5, 2.0), seeds=(0, 1), n_train: int = 200, n_test: int = 500,
                         label_noise: float = 0.0, model: str = "mlp", hidden: int = 32, eta: float = 0.05,
                         epochs: int = 50, init_scale: float = 0.3, K: int = 2) -> dict:
    """Test and training curves of K students on digits, independent (order ``None``) or under RDML, per seed.

    The small-scale experiment behind the analogues of [rdml, Figs. 3-5 and Table 1]: for each seed a
    digits split (:func:`digits_data` with ``n_train``, ``n_test``, ``label_noise`` and that seed), then
    for each order one run of Algorithm 1 (:func:`simulate`, plain SGD with batch size 1 and the constant
    step ``eta``, ``epochs`` passes over the training set, ``statistics="losses"``), every run of a seed
    starting from the same initialisation and using the same draws of data points and peers (common
    random numbers, so differences between orders are paired); ``None`` trains the students independently
    (``divergence_weight = 0``). The losses are logged once per epoch.

    Returns ``{"orders", "seeds", "epochs" (E + 1,), "test_loss", "test_acc", "train_loss", "div_loss"}``
    with arrays of shape (len(orders), len(seeds), E + 1, K); ``train_loss`` is the base loss on the
    (possibly noisy) training labels.
    """
    func = "generalisation_study"
    orders = list(orders) if isinstance(orders, (list, tuple)) else None
    require_type(orders is not None, "orders", orders, "be a list of Rényi orders (None for independent students)",
                 func=func)
    require(len(orders) >= 1 and all(a is None or (isinstance(a, (int, float, np.floating)) and not isinstance(a, bool)
                                                   and 0.0 <= float(a) <= MAX_ORDER) for a in orders),
            "orders", orders, f"be a non-empty list of None or orders in [0, {MAX_ORDER:g}]", func=func)
    seeds = list(seeds) if isinstance(seeds, (list, tuple, range)) else None
    require_type(seeds is not None, "seeds", seeds, "be a list of integer seeds", func=func)
    require(len(seeds) >= 1, "seeds", seeds, "be non-empty", func=func)
    seeds = [_seed(s, func) for s in seeds]
    require(len(seeds) * len(orders) <= MAX_STUDY_RUNS, "seeds", seeds,
            f"times orders give at most MAX_STUDY_RUNS = {MAX_STUDY_RUNS} runs", func=func)
    epochs = _count(epochs, "epochs", 1, MAX_STEPS, func)
    n_train = _count(n_train, "n_train", 1, DIGITS_ROWS, func)
    require(epochs * n_train <= MAX_STEPS, "epochs", epochs, f"times n_train be at most {MAX_STEPS:.0e} steps",
            func=func)
    curves = {key: [] for key in ("test_loss", "test_acc", "train_loss", "div_loss")}
    for s in seeds:
        Xtr, ytr, Xte, yte = digits_data(n_train=n_train, n_test=n_test, label_noise=label_noise, seed=s)
        per_order = {key: [] for key in curves}
        for a in orders:
            r = simulate(Xtr, ytr, K=K, alpha=1.0 if a is None else float(a), eta=eta, T=epochs * n_train, model=model,
                         hidden=hidden, log_every=n_train, init_scale=init_scale, seed=s,
                         divergence_weight=0.0 if a is None else 1.0, X_eval=Xte, y_eval=yte, statistics="losses")
            for key, src in (("test_loss", "test_loss"), ("test_acc", "test_acc"), ("train_loss", "base"),
                             ("div_loss", "div")):
                per_order[key].append(r[src])
        for key in curves:
            curves[key].append(per_order[key])
    out = {key: np.swapaxes(np.asarray(v), 0, 1) for key, v in curves.items()}
    out.update(orders=orders, seeds=seeds, epochs=np.arange(epochs + 1))
    return out


# --------------------------------------------------------------------------- benchmark


@benchmark("rdml.algorithm1")
def _bench() -> list[BenchCase]:
    cases = []
    X, y, _ = synthetic_softmax_data(300, 6, 3, seed=0)
    for K, T in ((2, 4000), (4, 2000)):
        kw = dict(K=K, alpha=1.5, eta=0.05, T=T, log_every=T, seed=1)
        cases.append(BenchCase(f"softmax K={K} N=300 d=6 M=3 T={T}", T, "steps",
                               lambda kw=kw: simulate(X, y, backend="numba", **kw),
                               lambda kw=kw: simulate(X, y, backend="numpy", **kw)))
    kw = dict(K=2, alpha=1.5, eta=0.05, T=2000, log_every=2000, seed=1, model="mlp", hidden=16)
    cases.append(BenchCase("mlp(16) K=2 N=300 d=6 M=3 T=2000", 2000, "steps",
                           lambda: simulate(X, y, backend="numba", **kw),
                           lambda: simulate(X, y, backend="numpy", **kw)))
    return cases
