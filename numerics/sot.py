r"""Engines for [sot]: the Section-3 generative setting, exact constrained ERM, Monte Carlo and exact tails.

The setting of Theorem 3.6 made concrete (:class:`Setting`, :func:`make_setting`): inputs on a
line, a covering by balls of radius ``r`` around centres (disjoint or overlapping), a disjoint
partition of the inputs into cells, and a true label distribution ``p*`` that moves along the
line with Lipschitz constant ``L_star`` in the chosen p-norm (a clipped ramp between two
distributions, so the constant is exact). Labels are drawn from ``p*`` by inverse CDF from
uniforms drawn outside the kernels.

Exact constrained ERM (negative log-likelihood on the simplex):

* :func:`cell_minimizer`: one cell, every input ``i`` constrained by ``||f(x_i) - f(c)||_p <= eps_i``
  (problem (19)/(20) of App. A with ``eps_i = L r``, or the class's own ``L ||x_i - c||``). For
  ``p`` in ``{1, inf}`` the best ``f(x_i)`` raises its label coordinate by ``min(a_i, 1 - centre_y)``
  (``a_i = eps_i`` resp. ``eps_i / 2``), so the centre solves a separable concave problem, solved by
  bisection on its multiplier to machine precision; other ``p`` by SciPy (SLSQP, convex).
* :func:`joint_minimizer`: the ERM over the hypothesis class itself when balls overlap: every input
  is constrained by every centre whose ball contains it, and centres of intersecting balls by
  ``L ||c_j - c_k||``; solved jointly by SciPy (SLSQP; small problems).
* :func:`augmented_ball_values`: ERM (5) with shift augmentations for the Lipschitz constant
  ``L = 0`` (one value per ball, the mean label of the views it holds), optionally with the
  consistency constraint ``||f(A(x)) - f(x)|| <= tau``.

Monte Carlo (:func:`monte_carlo_errors`): for many data sets at once, the labels, every cell's
minimiser of problem (19) (clipped water-filling, :func:`kdtheory.theory.sot.lemma_a3_minimizer`'s
closed form computed by a fixed-iteration bisection plus an exact segment solve) and, per input,
the largest error ``||f(x) - p*(x)||_p`` over all minimisers (``f(x) = 1_y`` exactly when the label
coordinate saturates, otherwise the triangle bound ``eps + ||centre - p*(x)||``, attained in the
max-norm by some minimiser). A serial Numba kernel with a NumPy twin (bitwise equal on the same
uniforms), registered in ``kdt bench``.

Exact tails: :func:`multinomial_tail_function` (every deviation value of a multinomial mean and
its tail probability, by enumeration of compositions) and :func:`poisson_multinomial_pmf` (labels
with different distributions, by dynamic programming).

The small teacher-student pipeline for the figure analogues lives in
:mod:`kdtheory.numerics.sot_nets`-style functions at the end of this module: :func:`pstar_data`,
:func:`train_teacher`, :func:`distill_student`, :func:`expected_calibration_error`,
:func:`fit_temperature`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from kdtheory.numerics.bench import BenchCase, benchmark
from kdtheory.theory._checks import (require, require_array, require_choice, require_int, require_real,
                                     require_type)
from kdtheory.theory.sot import gain_radius

__all__ = [
    "Setting", "make_setting", "ramp_pstar", "draw_labels", "covering_number",
    "sibling_minimizer", "cell_minimizer", "joint_minimizer", "augmented_ball_values",
    "monte_carlo_errors", "multinomial_tail_function", "deviation_tail_function", "poisson_multinomial_pmf",
    "compositions",
    "TeacherRun", "Dataset", "pstar_data", "digits_images", "train_teacher", "distill_student", "predict",
    "expected_calibration_error", "negative_log_likelihood", "fit_temperature",
]

_MAX_N = 200_000          # inputs of a setting
_MAX_K = 64               # classes in the engines
_MAX_REPLICATES = 2_000_000
_MAX_WORK = 2 * 10 ** 8   # replicates x inputs of one Monte Carlo call
_MAX_STATES = 3_000_000   # compositions enumerated by the exact engines
_BISECT = 80              # bisection steps of the kernel's water-filling (then an exact segment solve)
_NORMS = {math.inf: 0, 1.0: 1, 2.0: 2}


def _choice(x: Any, name: str, choices: tuple, func: str) -> Any:
    """A string option: ``TypeError`` for a non-string, ``ValueError`` naming the choices otherwise."""
    require_type(isinstance(x, str), name, x, f"be one of the strings {choices}", func=func)
    return require_choice(x, name, choices, func=func)


def _norm(p: Any, func: str, allowed=(1.0, 2.0, math.inf)) -> float:
    v = require_real(p, "p", finite=False, func=func)
    require(v in allowed, "p", p, f"be one of {tuple(allowed)}", func=func)
    return float(v)


def _pnorm(x: np.ndarray, p: float) -> np.ndarray:
    if p == math.inf:
        return np.max(np.abs(x), axis=-1)
    if p == 1.0:
        return np.sum(np.abs(x), axis=-1)
    return np.sqrt(np.sum(x * x, axis=-1))


# ---------------------------------------------------------------------------------------------
# the generative setting
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """Inputs on a line with a covering, a partition into cells and the true label distribution.

    ``x`` (N,) inputs; ``centres`` (M,); ``r`` the radius; ``cell_of`` (N,) the cell (centre index)
    of each input, with ``|x - centres[cell_of]| <= r``; ``pstar`` (N, K) the true label
    distributions at the inputs; ``pstar_centres`` (M, K) at the centres; ``L_star`` the Lipschitz
    constant of ``p*`` in the ``p``-norm; ``q0, q1, ramp`` the ramp of :func:`ramp_pstar`.
    """

    x: np.ndarray
    centres: np.ndarray
    r: float
    cell_of: np.ndarray
    pstar: np.ndarray
    pstar_centres: np.ndarray
    L_star: float
    p: float
    q0: np.ndarray
    q1: np.ndarray
    ramp: tuple
    cell_sizes: np.ndarray = field(repr=False, default=None)

    @property
    def N(self) -> int:
        return int(self.x.size)

    @property
    def K(self) -> int:
        return int(self.pstar.shape[1])

    @property
    def M(self) -> int:
        return int(self.centres.size)

    @property
    def distances(self) -> np.ndarray:
        """``|x_i - c_{cell(i)}|``."""
        return np.abs(self.x - self.centres[self.cell_of])

    @property
    def balls_disjoint(self) -> bool:
        c = np.sort(self.centres)
        return bool(np.all(np.diff(c) > 2.0 * self.r)) if c.size > 1 else True


def ramp_pstar(x: Any, q0: Any, q1: Any, start: float, L_star: float, p: float) -> np.ndarray:
    r"""``p*(x) = q0 + s(x) (q1 - q0)`` with ``s = clip((x - start) L* / ||q1 - q0||_p, 0, 1)``.

    Exactly ``L*``-Lipschitz in the p-norm along the line (constant where ``q0 = q1``).
    """
    func = "ramp_pstar"
    xs = require_array(x, "x", finite=True, max_size=_MAX_N, func=func)
    a = require_array(q0, "q0", ndim=1, finite=True, max_size=_MAX_K, func=func)
    b = require_array(q1, "q1", ndim=1, finite=True, max_size=_MAX_K, func=func)
    require(a.shape == b.shape and a.size >= 2, "q1", b.shape, f"have the shape of q0 {a.shape} (>= 2 classes)",
            func=func)
    for name, q in (("q0", a), ("q1", b)):
        require(bool(np.all(q >= 0)) and abs(q.sum() - 1.0) <= 1e-12, name, q, "be a probability vector", func=func)
    s0 = require_real(start, "start", func=func)
    Ls = require_real(L_star, "L_star", func=func)
    require(Ls >= 0, "L_star", L_star, "be >= 0", func=func)
    pn = _norm(p, func)
    D = float(_pnorm(b - a, pn))
    if D == 0.0 or Ls == 0.0:
        return np.broadcast_to(a, xs.shape + a.shape).copy()
    s = np.clip((xs - s0) * (Ls / D), 0.0, 1.0)
    return a + s[..., None] * (b - a)


def make_setting(cell_sizes: Any, K: int = 2, *, r: float = 1.0, spacing: float = 3.0, L_star: float = 0.0,
                 p: float = math.inf, q0: Any = None, q1: Any = None, placement: str = "uniform",
                 seed: int = 0) -> Setting:
    r"""A 1-D instance of the setting of [sot, Thm. 3.6].

    Centres at ``0, spacing, 2 spacing, ...`` (balls disjoint iff ``spacing > 2r``); cell ``j`` holds
    ``cell_sizes[j]`` inputs placed ``"uniform"`` in ``[c_j - r, c_j + r]``, at the ``"centre"``, at
    the ``"edges"`` (alternately ``c_j - r`` and ``c_j + r``) or ``"ends"`` (first input at ``c_j - r``,
    the others at ``c_j + r``). ``p*`` ramps from ``q0`` (default uniform) to ``q1`` (default
    ``(1, 0, ...)``-heavy) with Lipschitz constant ``L_star`` from the first centre, stopping at
    ``q1`` (see :func:`ramp_pstar`).
    """
    func = "make_setting"
    sizes = require_array(cell_sizes, "cell_sizes", ndim=1, finite=True, max_size=_MAX_N, func=func)
    require(bool(np.all((sizes >= 1) & (sizes == np.round(sizes)))), "cell_sizes", cell_sizes,
            "be integers >= 1", func=func)
    sizes = sizes.astype(np.int64)
    require(int(sizes.sum()) <= _MAX_N, "cell_sizes", int(sizes.sum()), f"total at most {_MAX_N} inputs", func=func)
    K = require_int(K, "K", low=2, high=_MAX_K, func=func)
    rv = require_real(r, "r", func=func)
    require(rv > 0, "r", r, "be > 0", func=func)
    sp = require_real(spacing, "spacing", func=func)
    require(sp > 0, "spacing", spacing, "be > 0", func=func)
    _choice(placement, "placement", ("uniform", "centre", "edges", "ends"), func=func)
    seed = require_int(seed, "seed", low=0, func=func)
    pn = _norm(p, func)
    a = np.full(K, 1.0 / K) if q0 is None else require_array(q0, "q0", ndim=1, func=func)
    if q1 is None:
        b = np.full(K, 0.2 / (K - 1))
        b[0] = 0.8
    else:
        b = require_array(q1, "q1", ndim=1, func=func)
    rng = np.random.default_rng(seed)
    M = sizes.size
    centres = sp * np.arange(M, dtype=float)
    cell_of = np.repeat(np.arange(M), sizes)
    if placement == "uniform":
        offs = rng.uniform(-rv, rv, cell_of.size)
    elif placement == "centre":
        offs = np.zeros(cell_of.size)
    else:
        offs = np.empty(cell_of.size)
        start = 0
        for n in sizes:
            idx = np.arange(n)
            offs[start:start + n] = np.where(idx % 2 == 0, -rv, rv) if placement == "edges" else \
                np.where(idx == 0, -rv, rv)
            start += n
    x = centres[cell_of] + offs
    pstar = ramp_pstar(x, a, b, 0.0, L_star, pn)
    pc = ramp_pstar(centres, a, b, 0.0, L_star, pn)
    return Setting(x, centres, rv, cell_of, pstar, pc, float(L_star), pn, a, b, (0.0, float(L_star)), sizes)


def covering_number(x: Any, r: float) -> int:
    r"""The covering number ``N^r`` of points on a line [sot, Def. 3.5]: the least number of closed
    intervals of radius ``r`` (centres anywhere) covering them; the greedy sweep (each ball placed at
    the leftmost uncovered point + r) is optimal in one dimension."""
    func = "covering_number"
    xs = require_array(x, "x", ndim=1, finite=True, max_size=_MAX_N, func=func)
    rv = require_real(r, "r", func=func)
    require(rv > 0, "r", r, "be > 0", func=func)
    xs = np.sort(xs)
    count, i = 0, 0
    while i < xs.size:
        reach = xs[i] + 2.0 * rv
        count += 1
        i = int(np.searchsorted(xs, reach, side="right"))
    return count


def draw_labels(pstar: Any, uniforms: Any) -> np.ndarray:
    r"""Labels by inverse CDF: ``y = #{k : cdf_k <= u}`` for ``u`` in ``[0, 1)`` (shape of ``uniforms``, last axis N)."""
    func = "draw_labels"
    P = require_array(pstar, "pstar", ndim=2, finite=True, max_size=_MAX_N * _MAX_K, func=func)
    require(P.shape[1] >= 1 and bool(np.all(P >= 0)) and bool(np.all(np.abs(P.sum(axis=1) - 1.0) <= 1e-9)), "pstar",
            pstar, "have probability vectors as rows", func=func)
    U = require_array(uniforms, "uniforms", ndim=tuple(range(1, 9)), finite=True, max_size=_MAX_WORK, func=func)
    require(U.shape[-1] == P.shape[0], "uniforms", U.shape, f"end with the number of inputs {P.shape[0]}", func=func)
    require(bool(np.all((U >= 0) & (U < 1))), "uniforms", uniforms, "lie in [0, 1)", func=func)
    cdf = _cdf(P)
    return _labels_numpy(U.reshape(-1, P.shape[0]), cdf).reshape(U.shape)


def _cdf(P: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(P, axis=1)
    cdf[:, -1] = 1.0
    return cdf


def _labels_numpy(U: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    y = np.zeros(U.shape, dtype=np.int64)
    for k in range(cdf.shape[1] - 1):
        y += (U >= cdf[None, :, k]).astype(np.int64)
    return y


# ---------------------------------------------------------------------------------------------
# exact per-cell ERM
# ---------------------------------------------------------------------------------------------


def sibling_minimizer(labels: Any, K: int, kind: str = "nll") -> np.ndarray:
    r"""ERM on siblings [sot, Prop. 3.3]: ``argmin_{f in simplex} (1/n) sum_i l(f, 1_{y_i})`` for a loss of
    :func:`kdtheory.theory.sot.scoring_loss` (SciPy SLSQP from several starts, best kept).

    For the expected scores (``"nll"``, ``"brier"``) the minimiser is the mean label; for
    ``"l2_distance"`` it is the geometric median of the one-hot labels (the majority vertex for
    ``K = 2`` with an odd number of labels); for ``"linear"`` a vertex of a most frequent class.
    """
    from scipy.optimize import minimize

    from kdtheory.theory.sot import SCORES, scoring_loss

    func = "sibling_minimizer"
    K = require_int(K, "K", low=2, high=_MAX_K, func=func)
    y = require_array(labels, "labels", ndim=1, finite=True, max_size=100_000, func=func)
    require(bool(np.all((y >= 0) & (y < K) & (y == np.round(y)))), "labels", labels, f"be integers in [0, {K})",
            func=func)
    _choice(kind, "kind", SCORES, func=func)
    Y = np.eye(K)[y.astype(np.int64)]
    ybar = Y.mean(axis=0)

    def risk(f):
        f = np.clip(f, 1e-300, 1.0)
        return float(np.mean(scoring_loss(np.broadcast_to(f, Y.shape), Y, kind)))

    starts = [ybar, np.full(K, 1.0 / K)] + [np.eye(K)[k] * 0.98 + 0.02 / K for k in range(K)]
    best, best_v = None, np.inf
    for s0 in starts:
        res = minimize(risk, np.clip(s0, 1e-9, 1.0), method="SLSQP", bounds=[(1e-12, 1.0)] * K,
                       constraints=[{"type": "eq", "fun": lambda f: np.array([f.sum() - 1.0])}],
                       options={"ftol": 1e-15, "maxiter": 2000})
        v = risk(res.x)
        if v < best_v:
            best, best_v = res.x, v
    for cand in [ybar] + [np.eye(K)[k] for k in range(K)]:   # exact candidates (mean, vertices)
        v = risk(cand)
        if v <= best_v:
            best, best_v = cand.astype(float), v
    return np.asarray(best, dtype=float)


@njit(cache=True)
def _class_u(ak, lam, n):
    """argmax_u >= 0 of (1/n) sum_i log min(1, u + a_i) - lam u for one class (``ak`` sorted ascending).

    The derivative (1/n) sum_{u + a_i < 1} 1/(u + a_i) decreases in u; its root in [0, 1 - min a] is found
    by bisection to the last bit (about 60 halvings).
    """
    m = ak.shape[0]
    if m == 0:
        return 0.0
    hi = 1.0 - ak[0]
    if hi <= 0.0:
        return 0.0
    d0 = 0.0
    for i in range(m):
        if ak[i] < 1.0:
            if ak[i] == 0.0:
                d0 = np.inf
                break
            d0 += 1.0 / ak[i]
    if d0 / n <= lam:
        return 0.0
    lo = 0.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        d = 0.0
        for i in range(m):
            if mid + ak[i] < 1.0:
                d += 1.0 / (mid + ak[i])
        if d / n > lam:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True)
def _centre_kernel(groups_flat, starts, n, out):
    """Maximiser of sum_i log min(1, c_{y_i} + a_i) over the simplex: bisection on the multiplier (log scale)."""
    K = starts.shape[0] - 1
    lo = 1e-12
    hi = 1e12
    while True:
        mid = math.sqrt(lo * hi)
        if mid <= lo or mid >= hi:
            break
        tot = 0.0
        for k in range(K):
            tot += _class_u(groups_flat[starts[k]:starts[k + 1]], mid, n)
        if tot > 1.0:
            lo = mid
        else:
            hi = mid
    lam = math.sqrt(lo * hi)
    for k in range(K):
        out[k] = _class_u(groups_flat[starts[k]:starts[k + 1]], lam, n)


def cell_minimizer(labels: Any, K: int, radii: Any, p: float = math.inf) -> dict:
    r"""Exact minimiser of one cell's constrained NLL [sot, problem (20) with per-input radii].

    Minimise ``-(1/n) sum_i log f_i[y_i]`` over distributions ``f_i`` and a centre ``c`` with
    ``||f_i - c||_p <= radii[i]``. Returns ``centre`` (K,), ``label_value`` (n,) the optimal
    ``f_i[y_i]``, ``value`` (the minimum), ``unique`` (the centre is unique: at least two observed
    classes and every gain below 1/2), ``predictions`` (n, K) one minimiser (the decrease of the
    other coordinates spread in proportion to the centre), ``saturated`` (n,) (``f_i = 1_{y_i}``).

    ``p`` in ``{1, inf}``: bisection on the multiplier of ``sum c = 1`` (each class's optimal mass
    by bisection), to machine precision. ``p = 2``: SciPy SLSQP on the centre and one ``f`` per
    (class, radius) group (a convex problem; agreement to ~1e-9).
    """
    func = "cell_minimizer"
    K = require_int(K, "K", low=2, high=_MAX_K, func=func)
    y = require_array(labels, "labels", ndim=1, finite=True, max_size=100_000, func=func)
    require(bool(np.all((y >= 0) & (y < K) & (y == np.round(y)))), "labels", labels, f"be integers in [0, {K})",
            func=func)
    y = y.astype(np.int64)
    eps = require_array(radii, "radii", finite=True, max_size=100_000, func=func)
    eps = np.broadcast_to(eps, y.shape).astype(float) if eps.ndim == 0 or eps.size == 1 else eps
    require(eps.shape == y.shape, "radii", eps.shape, f"be a scalar or have one radius per label {y.shape}", func=func)
    require(bool(np.all((eps >= 0) & (eps <= 2))), "radii", radii, "lie in [0, 2]", func=func)
    pn = _norm(p, func)
    n = y.size
    if pn == 2.0:
        return _cell_minimizer_scipy(y, K, eps, n)
    a = eps if pn == math.inf else eps / 2.0
    observed = np.unique(y)
    groups = [a[y == k] for k in range(K)]
    # all-saturated case: every observed class can reach 1 (non-unique centre)
    caps = np.array([1.0 - g.min() if g.size else 0.0 for g in groups])
    if caps[observed].sum() <= 1.0:
        centre = np.where(np.isin(np.arange(K), observed), caps, 0.0)
        centre[observed[0]] += 1.0 - centre.sum()
    else:
        flat = np.concatenate([np.sort(g) for g in groups]).astype(float)
        starts = np.concatenate([[0], np.cumsum([g.size for g in groups])]).astype(np.int64)
        centre = np.empty(K)
        _centre_kernel(flat, starts, float(n), centre)
        centre = np.maximum(centre, 0.0)
        centre /= centre.sum()
    gain = np.minimum(a, 1.0 - centre[y])
    label_value = np.minimum(1.0, centre[y] + gain)
    saturated = centre[y] + a >= 1.0
    label_value[saturated] = 1.0
    preds = np.repeat(centre[None, :], n, axis=0)
    others = centre[None, :].repeat(n, 0)
    others[np.arange(n), y] = 0.0
    rest = others.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rest[:, None] > 0, others / rest[:, None], 0.0)
    preds = preds - (label_value - centre[y])[:, None] * share
    preds[np.arange(n), y] = label_value
    preds = np.maximum(preds, 0.0)
    with np.errstate(divide="ignore"):
        value = float(-np.mean(np.log(label_value)))
    unique = bool(observed.size >= 2 and np.all(a < 0.5))
    return {"centre": centre, "label_value": label_value, "value": value, "unique": unique,
            "predictions": preds, "saturated": saturated}


def _cell_minimizer_scipy(y: np.ndarray, K: int, eps: np.ndarray, n: int) -> dict:
    from scipy.optimize import minimize

    keys = sorted({(int(k), float(e)) for k, e in zip(y, eps)})
    weight = np.array([np.sum((y == k) & (eps == e)) for k, e in keys], dtype=float) / n
    G = len(keys)
    require(G <= 60, "labels", G, "form at most 60 (class, radius) groups for p = 2", func="cell_minimizer")

    def unpack(v):
        return v[:K], v[K:].reshape(G, K)

    def obj(v):
        c, F = unpack(v)
        vals = np.array([F[g, keys[g][0]] for g in range(G)])
        return -float(np.sum(weight * np.log(np.maximum(vals, 1e-300))))

    def grad(v):
        c, F = unpack(v)
        out = np.zeros_like(v)
        for g in range(G):
            out[K + g * K + keys[g][0]] = -weight[g] / max(F[g, keys[g][0]], 1e-300)
        return out

    cons = [{"type": "eq", "fun": lambda v: np.array([unpack(v)[0].sum() - 1.0])},
            {"type": "eq", "fun": lambda v: unpack(v)[1].sum(axis=1) - 1.0},
            {"type": "ineq", "fun": lambda v: np.array([keys[g][1] ** 2 for g in range(G)])
             - np.sum((unpack(v)[1] - unpack(v)[0][None, :]) ** 2, axis=1)}]
    counts = np.bincount(y, minlength=K) / n
    best = None
    for start in range(3):
        c0 = 0.9 * counts + 0.1 / K if start == 0 else np.random.default_rng(start).dirichlet(np.ones(K))
        v0 = np.concatenate([c0, np.tile(c0, G)])
        res = minimize(obj, v0, jac=grad, constraints=cons, bounds=[(0.0, 1.0)] * v0.size, method="SLSQP",
                       options={"ftol": 1e-15, "maxiter": 3000})
        if best is None or res.fun < best.fun:
            best = res
    c, F = unpack(best.x)
    idx = [keys.index((int(k), float(e))) for k, e in zip(y, eps)]
    preds = F[idx]
    label_value = preds[np.arange(n), y]
    return {"centre": c, "label_value": label_value, "value": float(best.fun), "unique": True,
            "predictions": preds, "saturated": label_value >= 1.0 - 1e-9}


def joint_minimizer(setting: Setting, labels: Any, L: float, *, p: float = math.inf,
                    constraint: str = "balls") -> dict:
    r"""ERM over the hypothesis class of [sot, Thm. 3.6] restricted to the inputs and centres (SciPy SLSQP).

    ``constraint="balls"``: every input ``i`` and every centre ``j`` with ``|x_i - c_j| <= r`` give
    ``||f(x_i) - f(c_j)||_p <= L |x_i - c_j|``, and centres of intersecting balls
    ``||f(c_j) - f(c_k)||_p <= L |c_j - c_k|`` (the value on the segment between them must satisfy
    both balls): a relaxation of the class (necessary conditions), exact when the balls are
    disjoint. ``constraint="cells"``: only each input's own cell (the per-cell problems of
    App. A, Step II, solved jointly). Returns ``values`` (N, K), ``centres`` (M, K) and ``risk``
    (the mean NLL). ``p`` in ``{1, inf}`` (linear constraints); at most 40 inputs.
    """
    from scipy.optimize import minimize

    func = "joint_minimizer"
    require_type(isinstance(setting, Setting), "setting", setting, "be a Setting", func=func)
    require(setting.N <= 40 and setting.M <= 12, "setting", (setting.N, setting.M), "have at most 40 inputs and 12 centres",
            func=func)
    y = require_array(labels, "labels", ndim=1, finite=True, func=func)
    require(y.shape == (setting.N,) and bool(np.all((y >= 0) & (y < setting.K) & (y == np.round(y)))), "labels",
            labels, f"be {setting.N} integers in [0, {setting.K})", func=func)
    y = y.astype(np.int64)
    Lv = require_real(L, "L", func=func)
    require(Lv >= 0, "L", L, "be >= 0", func=func)
    pn = _norm(p, func, (1.0, math.inf))
    _choice(constraint, "constraint", ("balls", "cells"), func=func)
    N, M, K = setting.N, setting.M, setting.K
    pairs = []
    for i in range(N):
        for j in range(M):
            d = abs(setting.x[i] - setting.centres[j])
            if (constraint == "balls" and d <= setting.r) or (constraint == "cells" and j == setting.cell_of[i]):
                pairs.append((i, N + j, Lv * d))
    if constraint == "balls":
        for j in range(M):
            for k in range(j + 1, M):
                d = abs(setting.centres[j] - setting.centres[k])
                if d <= 2 * setting.r:
                    pairs.append((N + j, N + k, Lv * d))
    V = N + M
    # variables: V distributions (K each) + slack-free linear constraints on differences
    rows = []
    rhs = []
    for a_, b_, lim in pairs:
        if pn == math.inf:
            for k in range(K):
                for sgn in (1.0, -1.0):
                    row = np.zeros(V * K)
                    row[a_ * K + k] = sgn
                    row[b_ * K + k] = -sgn
                    rows.append(row)
                    rhs.append(lim)
        else:
            for signs in np.array(np.meshgrid(*[[1.0, -1.0]] * K)).T.reshape(-1, K):
                row = np.zeros(V * K)
                row[a_ * K:(a_ + 1) * K] = signs
                row[b_ * K:(b_ + 1) * K] = -signs
                rows.append(row)
                rhs.append(lim)
    A_ub = np.array(rows) if rows else np.zeros((0, V * K))
    b_ub = np.array(rhs)
    A_eq = np.zeros((V, V * K))
    for v in range(V):
        A_eq[v, v * K:(v + 1) * K] = 1.0

    def obj(z):
        vals = z[np.arange(N) * K + y]
        return -float(np.mean(np.log(np.maximum(vals, 1e-300))))

    def grad(z):
        g = np.zeros_like(z)
        idx = np.arange(N) * K + y
        g[idx] = -1.0 / (N * np.maximum(z[idx], 1e-300))
        return g

    counts = np.bincount(y, minlength=K) / N
    z0 = np.tile(0.5 * counts + 0.5 / K, V)
    cons = [{"type": "eq", "fun": lambda z: A_eq @ z - 1.0, "jac": lambda z: A_eq}]
    if A_ub.shape[0]:
        cons.append({"type": "ineq", "fun": lambda z: b_ub - A_ub @ z, "jac": lambda z: -A_ub})
    res = minimize(obj, z0, jac=grad, constraints=cons, bounds=[(1e-12, 1.0)] * z0.size, method="SLSQP",
                   options={"ftol": 1e-14, "maxiter": 5000})
    Z = res.x.reshape(V, K)
    return {"values": Z[:N], "centres": Z[N:], "risk": float(res.fun), "success": bool(res.success)}


# ---------------------------------------------------------------------------------------------
# augmentation (Thm. 3.8) with L = 0: one value per ball
# ---------------------------------------------------------------------------------------------


def augmented_ball_values(setting: Setting, labels: Any, shifts: Any, *, tau: float | None = None,
                          p: float = math.inf) -> dict:
    r"""ERM (5) of [sot, Thm. 3.8] over functions constant on each ball (``L = 0``), views ``x + s``.

    Each view ``x_i + s`` carries the label ``y_i``; a view inside ball ``j`` is predicted by the
    ball's value ``f_j``; a view outside every ball is fitted exactly (zero loss). Without
    consistency (``tau=None``) ``f_j`` is the mean one-hot label of the views in ball ``j``. With
    ``tau`` the consistency constraint ``||f(A(x_i)) - f(x_i)||_p <= tau`` couples the balls of each
    view and of its input (solved jointly by SciPy, ``p = inf``). Balls must be disjoint.

    Returns ``values`` (M, K) (rows of empty balls: NaN-free uniform placeholder, flagged in
    ``occupied``), ``view_counts`` (M,), ``prediction`` (N, K) at the inputs (``f`` of the ball of
    ``x_i``), ``Lf_A`` and ``Lp_A`` (the maxima of Thm. 3.8 over centres, shifts and training inputs
    within ``r`` of the shifted centre; a shifted centre outside every ball contributes through
    ``f = p*`` there, i.e. its nearest training inputs' ball values are compared with ``p*``).
    """
    func = "augmented_ball_values"
    require_type(isinstance(setting, Setting), "setting", setting, "be a Setting", func=func)
    require(setting.balls_disjoint, "setting", "overlapping balls", "have disjoint balls", func=func)
    y = require_array(labels, "labels", ndim=1, finite=True, func=func)
    require(y.shape == (setting.N,), "labels", y.shape, f"have shape ({setting.N},)", func=func)
    y = y.astype(np.int64)
    S = require_array(shifts, "shifts", ndim=1, finite=True, max_size=64, func=func)
    pn = _norm(p, func)
    M, K, r = setting.M, setting.K, setting.r
    views = setting.x[:, None] + S[None, :]                                  # (N, m)
    dist = np.abs(views[:, :, None] - setting.centres[None, None, :])        # (N, m, M)
    inside = dist <= r
    ball = np.where(inside.any(axis=2), inside.argmax(axis=2), -1)            # (N, m)
    counts = np.zeros((M, K))
    np.add.at(counts, (ball[ball >= 0], np.repeat(y[:, None], S.size, 1)[ball >= 0]), 1.0)
    view_counts = counts.sum(axis=1)
    occupied = view_counts > 0
    values = np.where(occupied[:, None], counts / np.maximum(view_counts, 1.0)[:, None], 1.0 / K)
    if tau is not None:
        t = require_real(tau, "tau", func=func)
        require(t >= 0, "tau", tau, "be >= 0", func=func)
        require(pn == math.inf, "p", p, "be inf when tau is given", func=func)
        values = _consistent_values(values, counts, ball, setting.cell_of, t, K)
    own = setting.cell_of
    prediction = values[own]
    # L_f^A and L_p^A over centres c, shifts s, training inputs x' with |x' - (c + s)| <= r
    Lf, Lp = 0.0, 0.0
    for j in range(M):
        for s in S:
            z = setting.centres[j] + s
            near = np.flatnonzero(np.abs(setting.x - z) <= r)
            if near.size == 0:
                continue
            zb = np.flatnonzero(np.abs(setting.centres - z) <= r)
            pz = ramp_pstar(np.array([z]), setting.q0, setting.q1, setting.ramp[0], setting.L_star, setting.p)[0]
            fz = values[zb[0]] if zb.size else pz
            Lf = max(Lf, float(np.max(_pnorm(values[own[near]] - fz[None, :], pn))))
            Lp = max(Lp, float(np.max(_pnorm(setting.pstar[near] - pz[None, :], pn))))
    return {"values": values, "view_counts": view_counts, "occupied": occupied, "prediction": prediction,
            "Lf_A": Lf, "Lp_A": Lp}


def _consistent_values(values, counts, ball, own, tau, K):
    from scipy.optimize import minimize

    M = values.shape[0]
    links = sorted({(int(own[i]), int(b)) for i in range(ball.shape[0]) for b in ball[i] if b >= 0 and b != own[i]})
    w = counts / max(counts.sum(), 1.0)

    def obj(z):
        F = z.reshape(M, K)
        return -float(np.sum(w * np.log(np.maximum(F, 1e-300))))

    def grad(z):
        F = z.reshape(M, K)
        return (-w / np.maximum(F, 1e-300)).ravel()

    rows, rhs = [], []
    for a_, b_ in links:
        for k in range(K):
            for sgn in (1.0, -1.0):
                row = np.zeros(M * K)
                row[a_ * K + k], row[b_ * K + k] = sgn, -sgn
                rows.append(row)
                rhs.append(tau)
    A_eq = np.kron(np.eye(M), np.ones((1, K)))
    cons = [{"type": "eq", "fun": lambda z: A_eq @ z - 1.0, "jac": lambda z: A_eq}]
    if rows:
        A = np.array(rows)
        b = np.array(rhs)
        cons.append({"type": "ineq", "fun": lambda z: b - A @ z, "jac": lambda z: -A})
    res = minimize(obj, values.ravel(), jac=grad, constraints=cons, bounds=[(1e-12, 1.0)] * (M * K),
                   method="SLSQP", options={"ftol": 1e-14, "maxiter": 3000})
    return res.x.reshape(M, K)


# ---------------------------------------------------------------------------------------------
# Monte Carlo over data sets: Numba kernel and NumPy twin
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _water_fill(ybar, a, out):
    """Maximiser of sum_k ybar_k log min(1, c_k + a) on the simplex (a < 1/2, >= 2 observed classes); fills out."""
    K = ybar.shape[0]
    cap = 1.0 - a
    ymin = 2.0
    for k in range(K):
        if ybar[k] > 0.0 and ybar[k] < ymin:
            ymin = ybar[k]
    lo = 0.0
    hi = (1.0 + K) / ymin
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        g = 0.0
        for k in range(K):
            v = ybar[k] * mid - a
            if v < 0.0:
                v = 0.0
            elif v > cap:
                v = cap
            g += v
        if g < 1.0:
            lo = mid
        else:
            hi = mid
    mid = 0.5 * (lo + hi)
    Y = 0.0
    n_int = 0
    n_sat = 0
    for k in range(K):
        v = ybar[k] * mid
        if v >= 1.0:
            n_sat += 1
        elif v > a:
            n_int += 1
            Y += ybar[k]
    mu = (1.0 + a * n_int - cap * n_sat) / Y if Y > 0.0 else mid
    for k in range(K):
        v = ybar[k] * mu - a
        if v < 0.0:
            v = 0.0
        elif v > cap:
            v = cap
        out[k] = v


@njit(cache=True)
def _mc_kernel(u, cdf, cell_of, sizes, gain, radius, pstar, norm_code, out_err, out_centre):
    R, N = u.shape
    M = sizes.shape[0]
    K = cdf.shape[1]
    labels = np.empty(N, dtype=np.int64)
    counts = np.empty((M, K))
    ybar = np.empty(K)
    for rep in range(R):
        for j in range(M):
            for k in range(K):
                counts[j, k] = 0.0
        for i in range(N):
            y = 0
            for k in range(K - 1):
                if u[rep, i] >= cdf[i, k]:
                    y += 1
            labels[i] = y
            counts[cell_of[i], y] += 1.0
        for j in range(M):
            observed = 0
            last = 0
            for k in range(K):
                ybar[k] = counts[j, k] / sizes[j]
                if counts[j, k] > 0.0:
                    observed += 1
                    last = k
            if observed >= 2:
                _water_fill(ybar, gain[j], out_centre[rep, j])
            else:
                for k in range(K):
                    out_centre[rep, j, k] = 0.0
                out_centre[rep, j, last] = 1.0
        for i in range(N):
            j = cell_of[i]
            y = labels[i]
            c = out_centre[rep, j]
            acc = 0.0
            sat = c[y] + gain[j] >= 1.0          # the label coordinate reaches 1: f(x) = 1_y exactly
            for k in range(K):
                if sat:
                    t = 1.0 if k == y else 0.0
                else:
                    t = c[k]
                d = t - pstar[i, k]
                if norm_code == 0:
                    d = abs(d)
                    if d > acc:
                        acc = d
                elif norm_code == 1:
                    acc += abs(d)
                else:
                    acc += d * d
            if norm_code == 2:
                acc = math.sqrt(acc)
            out_err[rep, i] = acc if sat else radius[j] + acc


def _water_fill_numpy(ybar: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Twin of :func:`_water_fill`, vectorised over leading axes (same operations in the same order)."""
    K = ybar.shape[-1]
    cap = 1.0 - a
    ymin = np.where(ybar > 0.0, ybar, 2.0).min(axis=-1)
    lo = np.zeros(ybar.shape[:-1])
    hi = (1.0 + K) / ymin
    for _ in range(_BISECT):
        mid = 0.5 * (lo + hi)
        g = np.zeros(ybar.shape[:-1])
        for k in range(K):
            g = g + np.clip(ybar[..., k] * mid - a, 0.0, cap)
        low = g < 1.0
        lo = np.where(low, mid, lo)
        hi = np.where(low, hi, mid)
    mid = 0.5 * (lo + hi)
    Y = np.zeros(ybar.shape[:-1])
    n_int = np.zeros(ybar.shape[:-1])
    n_sat = np.zeros(ybar.shape[:-1])
    for k in range(K):
        v = ybar[..., k] * mid
        sat = v >= 1.0
        inner = (~sat) & (v > a)
        n_sat = n_sat + sat
        n_int = n_int + inner
        Y = np.where(inner, Y + ybar[..., k], Y)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(Y > 0.0, (1.0 + a * n_int - cap * n_sat) / np.where(Y > 0.0, Y, 1.0), mid)
    return np.clip(ybar * mu[..., None] - a[..., None] if np.ndim(a) else ybar * mu[..., None] - a, 0.0,
                   cap[..., None] if np.ndim(cap) else cap)


def _mc_numpy(u, cdf, cell_of, sizes, gain, radius, pstar, norm_code):
    R, N = u.shape
    M, K = sizes.size, cdf.shape[1]
    labels = _labels_numpy(u, cdf)                                           # (R, N)
    counts = np.zeros((R, M, K))
    for i in range(N):                                                       # same accumulation order
        counts[np.arange(R), cell_of[i], labels[:, i]] += 1.0
    ybar = counts / sizes[None, :, None].astype(float)
    observed = (counts > 0.0).sum(axis=2)
    a = np.broadcast_to(gain[None, :], (R, M))
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = _water_fill_numpy(ybar, a)
    last = K - 1 - np.argmax((counts > 0.0)[:, :, ::-1], axis=2)
    single = np.zeros((R, M, K))
    single[np.arange(R)[:, None], np.arange(M)[None, :], last] = 1.0
    centre = np.where((observed >= 2)[:, :, None], centre, single)
    c = centre[:, cell_of, :]                                                # (R, N, K)
    cy = np.take_along_axis(c, labels[:, :, None], axis=2)[:, :, 0]
    sat = cy + gain[cell_of][None, :] >= 1.0
    onehot = (np.arange(K)[None, None, :] == labels[:, :, None]).astype(float)
    target = np.where(sat[:, :, None], onehot, c)
    acc = np.zeros((R, N))
    for k in range(K):
        d = target[:, :, k] - pstar[None, :, k]
        if norm_code == 0:
            acc = np.maximum(acc, np.abs(d))
        elif norm_code == 1:
            acc = acc + np.abs(d)
        else:
            acc = acc + d * d
    if norm_code == 2:
        acc = np.sqrt(acc)
    return np.where(sat, acc, radius[cell_of][None, :] + acc), centre


def monte_carlo_errors(setting: Setting, L: float, replicates: int, *, p: float = math.inf, seed: int = 0,
                       uniforms: Any = None, backend: str = "numba") -> dict:
    r"""Worst-case errors ``max_{f* minimiser} ||f*(x_i) - p*(x_i)||_p`` over many data sets [sot, Thm. 3.6].

    Labels are redrawn in each replicate (inputs fixed); each cell solves problem (19) with the
    radius ``eps = L r`` (``||f(x) - f(c_j)||_p <= L r`` for the inputs of cell ``j``; balls may
    overlap, the cells do not talk: the paper's decoupled problem). ``p`` in ``{1, inf}`` (the gain
    ``a = eps`` resp. ``eps / 2`` must be below 1/2). Per input the result is exact where the label
    coordinate saturates (``f = 1_y``), else the triangle bound ``eps + ||centre - p*(x)||_p`` (an
    upper bound on every minimiser's error, attained by one in the max-norm).

    ``uniforms`` (R, N) in [0, 1) replaces the draw from ``seed`` (the twins are compared on the
    same uniforms). Returns ``errors`` (R, N), ``centres`` (R, M, K), ``eps``.
    """
    func = "monte_carlo_errors"
    require_type(isinstance(setting, Setting), "setting", setting, "be a Setting", func=func)
    Lv = require_real(L, "L", func=func)
    require(Lv >= 0, "L", L, "be >= 0", func=func)
    R = require_int(replicates, "replicates", low=1, high=_MAX_REPLICATES, func=func)
    pn = _norm(p, func, (1.0, math.inf))
    seed = require_int(seed, "seed", low=0, func=func)
    _choice(backend, "backend", ("numba", "numpy"), func=func)
    require(R * setting.N <= _MAX_WORK, "replicates", R, f"keep replicates x inputs <= {_MAX_WORK}", func=func)
    eps = Lv * setting.r
    a = gain_radius(eps, setting.K, pn)
    require(a < 0.5, "L", L, f"give a gain a = {a:.4g} < 1/2 (eps = L r = {eps:.4g})", func=func)
    if uniforms is None:
        U = np.random.default_rng(seed).random((R, setting.N))
    else:
        U = require_array(uniforms, "uniforms", ndim=2, finite=True, max_size=_MAX_WORK, func=func)
        require(U.shape == (R, setting.N) and bool(np.all((U >= 0) & (U < 1))), "uniforms", U.shape,
                f"have shape ({R}, {setting.N}) with entries in [0, 1)", func=func)
    cdf = _cdf(setting.pstar)
    M, K = setting.M, setting.K
    sizes = np.bincount(setting.cell_of, minlength=M).astype(float)
    require(bool(np.all(sizes > 0)), "setting", sizes, "have no empty cell", func=func)
    gain = np.full(M, a)
    radius = np.full(M, eps)
    code = _NORMS[pn]
    if backend == "numba":
        err = np.empty((R, setting.N))
        centre = np.empty((R, M, K))
        _mc_kernel(np.ascontiguousarray(U), cdf, setting.cell_of.astype(np.int64), sizes, gain, radius,
                   np.ascontiguousarray(setting.pstar), code, err, centre)
    else:
        err, centre = _mc_numpy(U, cdf, setting.cell_of.astype(np.int64), sizes, gain, radius, setting.pstar, code)
    return {"errors": err, "centres": centre, "eps": eps, "gain": a}


# ---------------------------------------------------------------------------------------------
# exact tails
# ---------------------------------------------------------------------------------------------


def compositions(n: int, K: int) -> np.ndarray:
    """All ``K``-part compositions of ``n`` (rows of non-negative integers summing to ``n``), lexicographic
    (decreasing first part). A fresh copy of a cached table."""
    func = "compositions"
    n = require_int(n, "n", low=0, high=10_000, func=func)
    K = require_int(K, "K", low=1, high=_MAX_K, func=func)
    require(math.comb(n + K - 1, K - 1) <= _MAX_STATES, "n", n,
            f"give at most {_MAX_STATES} compositions with K = {K}", func=func)
    return _compositions(n, K).copy()


@functools.lru_cache(maxsize=256)
def _compositions(n: int, K: int) -> np.ndarray:
    if K == 1:
        return np.array([[n]], dtype=np.int64)
    rows = []
    for first in range(n, -1, -1):
        rest = _compositions(n - first, K - 1)
        rows.append(np.column_stack([np.full(rest.shape[0], first, dtype=np.int64), rest]))
    return np.vstack(rows)


def multinomial_tail_function(probs: Any, N: int, p: float = math.inf) -> dict:
    r"""Exact law of ``D = ||n / N - probs||_p`` for ``n ~ Multinomial(N, probs)`` [sot, Lemma A.2].

    Returns ``values`` (the distinct attained deviations, decreasing) and ``tail`` with
    ``tail[i] = P(D >= values[i])``, counting deviations within ``1e-12`` (relative) of ``values[i]``
    as equal (the tail function is a step function, so a bound ``P(D >= eps) <= B(eps)`` with ``B``
    decreasing holds for all ``eps > 0`` iff it holds at these points, ``B`` taken at the left end of
    each step, i.e. at ``values[i]``). Probabilities are summed in log-space.
    """
    from scipy.special import gammaln

    func = "multinomial_tail_function"
    q = require_array(probs, "probs", ndim=1, finite=True, max_size=_MAX_K, func=func)
    require(q.size >= 2 and bool(np.all(q >= 0)) and abs(q.sum() - 1.0) <= 1e-12, "probs", probs,
            "be a probability vector with >= 2 classes", func=func)
    N = require_int(N, "N", low=1, high=10_000, func=func)
    pn = _norm(p, func)
    C = compositions(N, q.size).astype(float)
    with np.errstate(divide="ignore"):
        logq = np.where(q > 0, np.log(np.where(q > 0, q, 1.0)), -np.inf)
    terms = np.where(C > 0, C * logq[None, :], 0.0)
    logp = gammaln(N + 1.0) - gammaln(C + 1.0).sum(axis=1) + terms.sum(axis=1)
    return deviation_tail_function(_pnorm(C / N - q[None, :], pn), np.exp(logp))


def deviation_tail_function(deviations: Any, probabilities: Any) -> dict:
    r"""The tail function ``eps -> P(D >= eps)`` of a discrete law given by its atoms and their probabilities.

    Returns ``values`` (the distinct atoms, decreasing; atoms within ``1e-12`` relative are merged, the
    smallest kept) and ``tail`` (``P(D >= values[i])``, capped at 1).
    """
    func = "deviation_tail_function"
    dev = require_array(deviations, "deviations", ndim=1, finite=True, max_size=_MAX_STATES, func=func)
    prob = require_array(probabilities, "probabilities", ndim=1, finite=True, max_size=_MAX_STATES, func=func)
    require(prob.shape == dev.shape and bool(np.all(prob >= 0)), "probabilities", prob.shape,
            f"be non-negative with the shape of deviations {dev.shape}", func=func)
    order = np.argsort(-dev, kind="stable")
    dev, prob = dev[order], prob[order]
    values, tails = [], []
    cum = 0.0
    i = 0
    while i < dev.size:
        j = i
        while j + 1 < dev.size and dev[j + 1] >= dev[i] * (1 - 1e-12) - 1e-15:
            j += 1
        cum += float(np.sum(prob[i:j + 1]))
        values.append(dev[j])
        tails.append(min(cum, 1.0))
        i = j + 1
    return {"values": np.array(values), "tail": np.array(tails)}


def poisson_multinomial_pmf(probs: Any) -> dict:
    r"""Exact law of the label counts of independent labels with distributions ``probs[i]`` (rows) [sot, Lemma A.2].

    Dynamic programming over the samples; returns ``counts`` (S, K) and ``pmf`` (S,). At most 40
    samples and 3e6 count vectors.
    """
    func = "poisson_multinomial_pmf"
    P = require_array(probs, "probs", ndim=2, finite=True, max_size=40 * _MAX_K, func=func)
    require(1 <= P.shape[0] <= 40 and P.shape[1] >= 2, "probs", P.shape, "have 1..40 rows and >= 2 classes",
            func=func)
    require(bool(np.all(P >= 0)) and bool(np.all(np.abs(P.sum(axis=1) - 1.0) <= 1e-12)), "probs", probs,
            "have probability vectors as rows", func=func)
    n, K = P.shape
    counts = compositions(n, K)
    index = {tuple(c): s for s, c in enumerate(counts)}
    dist = {tuple([0] * K): 1.0}
    for i in range(n):
        new: dict = {}
        for key, w in dist.items():
            for k in range(K):
                if P[i, k] == 0.0:
                    continue
                nk = list(key)
                nk[k] += 1
                t = tuple(nk)
                new[t] = new.get(t, 0.0) + w * P[i, k]
        dist = new
    pmf = np.zeros(counts.shape[0])
    for key, w in dist.items():
        pmf[index[key]] = w
    return {"counts": counts, "pmf": pmf}


# ---------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------


@benchmark("sot.monte_carlo_errors")
def _bench() -> list[BenchCase]:
    """Data sets per second: label draws, every cell's water-filling and the per-input errors."""
    cases = []
    for M, n, K, R in ((10, 20, 2, 2000), (20, 50, 4, 1000), (50, 100, 10, 100)):
        s = make_setting([n] * M, K, r=1.0, spacing=3.0, L_star=0.02, p=math.inf, seed=0)
        U = np.random.default_rng(1).random((R, s.N))
        cases.append(BenchCase(f"M={M}, n={n}, K={K}", R, "data sets",
                               lambda s=s, U=U, R=R: monte_carlo_errors(s, 0.05, R, uniforms=U, backend="numba"),
                               lambda s=s, U=U, R=R: monte_carlo_errors(s, 0.05, R, uniforms=U, backend="numpy")))
    return cases


# ---------------------------------------------------------------------------------------------
# the small teacher-student pipeline (figure analogues of Secs. 1 and 5)
# ---------------------------------------------------------------------------------------------

_MAX_EPOCHS = 2000
_MAX_HIDDEN = 4096
_MAX_ROWS = 200_000


@dataclass(frozen=True)
class Dataset:
    """A classification data set: training inputs (with their true ``pstar`` when known), a test split
    and a calibration split (for temperature scaling); ``image_shape`` set for image data (shift
    augmentation)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_cal: np.ndarray
    y_cal: np.ndarray
    n_classes: int
    pstar_train: np.ndarray | None = None
    pstar_test: np.ndarray | None = None
    image_shape: tuple | None = None
    name: str = ""


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def pstar_data(*, n_train: int = 400, n_test: int = 2000, n_cal: int = 1000, n_features: int = 8,
               n_classes: int = 4, sharpness: float = 2.0, seed: int = 0) -> Dataset:
    r"""Synthetic data with a known true label distribution: ``x ~ N(0, I)``, ``p*(x) = softmax(s tanh(B x) C)``.

    Labels are drawn from ``p*`` (so even a perfect model has error ``1 - max p*``); ``pstar_train``
    and ``pstar_test`` are stored for measuring ``||f(x) - p*(x)||`` on the training inputs.
    """
    func = "pstar_data"
    nt = require_int(n_train, "n_train", low=10, high=_MAX_ROWS, func=func)
    ne = require_int(n_test, "n_test", low=10, high=_MAX_ROWS, func=func)
    nc = require_int(n_cal, "n_cal", low=10, high=_MAX_ROWS, func=func)
    d = require_int(n_features, "n_features", low=1, high=1000, func=func)
    K = require_int(n_classes, "n_classes", low=2, high=_MAX_K, func=func)
    s = require_real(sharpness, "sharpness", func=func)
    require(0 < s <= 100, "sharpness", sharpness, "lie in (0, 100]", func=func)
    seed = require_int(seed, "seed", low=0, func=func)
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((d, 2 * K)) / math.sqrt(d)
    C = rng.standard_normal((2 * K, K))
    n = nt + ne + nc
    X = rng.standard_normal((n, d))
    P = _softmax(s * np.tanh(X @ B) @ C)
    y = _labels_numpy(rng.random((1, n)), _cdf(P))[0]
    a, b = nt, nt + ne
    return Dataset(X[:a], y[:a], X[a:b], y[a:b], X[b:], y[b:], K, P[:a], P[a:b], None, f"pstar(d={d}, K={K})")


def digits_images(*, seed: int = 0, n_train: int = 600, label_noise: float = 0.0) -> Dataset:
    r"""scikit-learn's bundled 8x8 digits (no download), pixels in [0, 1], split train/test/calibration.

    Inputs are flattened 64-vectors; ``image_shape = (8, 8)`` enables shift augmentation.
    ``label_noise`` replaces that fraction of training labels by uniform random classes.
    """
    func = "digits_images"
    seed = require_int(seed, "seed", low=0, func=func)
    nt = require_int(n_train, "n_train", low=50, high=1200, func=func)
    ln = require_real(label_noise, "label_noise", func=func)
    require(0 <= ln < 1, "label_noise", label_noise, "lie in [0, 1)", func=func)
    from sklearn.datasets import load_digits

    dg = load_digits()
    X = dg.images.reshape(len(dg.images), -1).astype(float) / 16.0
    y = dg.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    rest = len(y) - nt
    tr, te, ca = perm[:nt], perm[nt:nt + rest // 2], perm[nt + rest // 2:]
    ytr = y[tr].copy()
    if ln > 0:
        flip = rng.random(ytr.size) < ln
        ytr[flip] = rng.integers(0, 10, int(flip.sum()))
    return Dataset(X[tr], ytr, X[te], y[te], X[ca], y[ca], 10, None, None, (8, 8), f"digits(n={nt})")


@dataclass
class TeacherRun:
    """A trained teacher: ``checkpoints`` (list of parameter dicts, one per ``checkpoint_every`` epochs,
    the last is the final model), ``checkpoint_epochs``, per-epoch ``train_loss``, ``lipschitz``
    (the regulariser ``l_LR``), ``consistency`` (``l_CR`` of the epoch) and ``lambda_cr``."""

    checkpoints: list
    checkpoint_epochs: list
    train_loss: np.ndarray
    lipschitz: np.ndarray
    consistency: np.ndarray
    lambda_cr: np.ndarray
    hidden: int


def _init_mlp(d: int, h: int, K: int, rng) -> dict:
    return {"W1": rng.standard_normal((h, d)) * math.sqrt(2.0 / d), "b1": np.zeros(h),
            "W2": rng.standard_normal((K, h)) * math.sqrt(1.0 / h), "b2": np.zeros(K)}


def _forward(params: dict, X: np.ndarray):
    pre = X @ params["W1"].T + params["b1"]
    h = np.maximum(pre, 0.0)
    return h @ params["W2"].T + params["b2"], (X, pre, h)


def _backward(params: dict, cache, dz: np.ndarray) -> dict:
    X, pre, h = cache
    gW2 = dz.T @ h
    gb2 = dz.sum(axis=0)
    dh = (dz @ params["W2"]) * (pre > 0)
    return {"W1": dh.T @ X, "b1": dh.sum(axis=0), "W2": gW2, "b2": gb2}


def _lip_subgradient(W: np.ndarray) -> np.ndarray:
    """Subgradient of the largest column abs-sum of ``W`` (out, in)."""
    j = int(np.argmax(np.abs(W).sum(axis=0)))
    g = np.zeros_like(W)
    g[:, j] = np.sign(W[:, j])
    return g


def _augment(X: np.ndarray, kind: str, strength: float, image_shape, rng) -> np.ndarray:
    if kind == "none" or strength == 0:
        return X
    if kind == "jitter":
        return X + strength * rng.standard_normal(X.shape)
    H, W = image_shape
    imgs = X.reshape(-1, H, W)
    out = np.zeros_like(imgs)
    dx = rng.integers(-1, 2, imgs.shape[0])
    dy = rng.integers(-1, 2, imgs.shape[0])
    for sx in (-1, 0, 1):
        for sy in (-1, 0, 1):
            m = (dx == sx) & (dy == sy)
            if m.any():
                out[m] = np.roll(np.roll(imgs[m], sx, axis=2), sy, axis=1)
    return out.reshape(X.shape)


_SCHEDULES = ("linear", "cosine", "cyclic", "piecewise")


def train_teacher(data: Dataset, *, hidden: int = 64, epochs: int = 60, lr: float = 0.1, batch_size: int = 32,
                  lambda_lr: float = 0.0, lambda_cr: float = 0.0, schedule: str = "linear",
                  augment: str = "none", augment_strength: float = 0.0, weight_decay: float = 5e-4,
                  momentum: float = 0.9, checkpoint_every: int = 5, lr_milestones: tuple = (),
                  seed: int = 0) -> TeacherRun:
    r"""A two-layer ReLU teacher trained by SGD on NLL, with the SoTeacher penalties [sot, Sec. 4, App. C].

    Loss per minibatch: ``NLL + lambda_lr * l_LR + lambda_cr(t) * l_CR``, with ``l_LR`` the sum of the
    1-norm Lipschitz constants of the two layers (:func:`kdtheory.theory.sot.lipschitz_regularizer`,
    subgradient through the largest column) and ``l_CR`` the mean squared distance of the current
    prediction (on the augmented view) to the running average of the sample's previous-epoch
    predictions (updated online at each visit, skipped at epoch 0, App. C); ``lambda_cr(t)`` follows
    ``schedule`` (App. D) with ``t`` the epoch and ``T = epochs``. ``augment``: ``"none"``,
    ``"jitter"`` (Gaussian noise of std ``augment_strength``) or ``"shift"`` (random 1-pixel image
    shifts). ``lr_milestones``: fractions of ``epochs`` at which the learning rate is divided by 10
    (App. D.1 decays at 150, 180, 210 of 240 epochs: ``(0.625, 0.75, 0.875)``). Raises
    ``FloatingPointError`` naming the epoch if training diverges.
    """
    from kdtheory.theory.sot import (cosine_schedule, cyclic_schedule, linear_schedule, lipschitz_regularizer,
                                     piecewise_schedule, running_average_update)

    func = "train_teacher"
    require_type(isinstance(data, Dataset), "data", data, "be a Dataset", func=func)
    h = require_int(hidden, "hidden", low=1, high=_MAX_HIDDEN, func=func)
    E = require_int(epochs, "epochs", low=1, high=_MAX_EPOCHS, func=func)
    lrv = require_real(lr, "lr", func=func)
    require(0 < lrv <= 10, "lr", lr, "lie in (0, 10]", func=func)
    n = data.X_train.shape[0]
    B = min(require_int(batch_size, "batch_size", low=1, high=_MAX_ROWS, func=func), n)
    llr = require_real(lambda_lr, "lambda_lr", func=func)
    lcr = require_real(lambda_cr, "lambda_cr", func=func)
    require(llr >= 0, "lambda_lr", lambda_lr, "be >= 0", func=func)
    require(lcr >= 0, "lambda_cr", lambda_cr, "be >= 0", func=func)
    _choice(schedule, "schedule", _SCHEDULES, func=func)
    _choice(augment, "augment", ("none", "jitter", "shift"), func=func)
    require(augment != "shift" or data.image_shape is not None, "augment", augment, "be 'shift' only for image data",
            func=func)
    st = require_real(augment_strength, "augment_strength", func=func)
    require(st >= 0, "augment_strength", augment_strength, "be >= 0", func=func)
    wd = require_real(weight_decay, "weight_decay", func=func)
    require(wd >= 0, "weight_decay", weight_decay, "be >= 0", func=func)
    mom = require_real(momentum, "momentum", func=func)
    require(0 <= mom < 1, "momentum", momentum, "lie in [0, 1)", func=func)
    ce = require_int(checkpoint_every, "checkpoint_every", low=1, high=E, func=func)
    require_type(isinstance(lr_milestones, (tuple, list)), "lr_milestones", lr_milestones, "be a tuple of fractions",
                 func=func)
    require(len(lr_milestones) <= 10 and all(isinstance(m, (int, float)) and not isinstance(m, bool) and 0 < m < 1
                                             for m in lr_milestones), "lr_milestones", lr_milestones,
            "hold at most 10 fractions in (0, 1)", func=func)
    seed = require_int(seed, "seed", low=0, func=func)
    sched = {"linear": linear_schedule, "cosine": cosine_schedule, "cyclic": cyclic_schedule,
             "piecewise": piecewise_schedule}[schedule]
    rng = np.random.default_rng(seed)
    K = data.n_classes
    params = _init_mlp(data.X_train.shape[1], h, K, rng)
    vel = {k: np.zeros_like(v) for k, v in params.items()}
    avg = np.zeros((n, K))
    Y = np.eye(K)[data.y_train]
    ckpts, ck_ep = [], []
    losses, lips, cons, lams = (np.zeros(E) for _ in range(4))
    for e in range(E):
        lr_e = lrv * 0.1 ** sum(1 for m in lr_milestones if e >= m * E)
        lam_e = float(sched(e, E, lcr)) if lcr > 0 else 0.0
        lams[e] = lam_e
        order = rng.permutation(n)
        tot, tot_cr = 0.0, 0.0
        for start in range(0, n, B):
            idx = order[start:start + B]
            Xb = _augment(data.X_train[idx], augment, st, data.image_shape, rng)
            z, cache = _forward(params, Xb)
            p = _softmax(z)
            dz = (p - Y[idx]) / idx.size
            tot += float(-np.sum(Y[idx] * _log_softmax(z))) / n
            if lam_e > 0 and e > 0:
                diff = p - avg[idx]
                tot_cr += float(np.sum(diff * diff)) / n
                g = 2.0 * diff
                dz = dz + lam_e * (p * g - p * np.sum(p * g, axis=1, keepdims=True)) / idx.size
            if lcr > 0:
                avg[idx] = running_average_update(avg[idx], p, e)
            grads = _backward(params, cache, dz)
            if llr > 0:
                grads["W1"] = grads["W1"] + llr * _lip_subgradient(params["W1"])
                grads["W2"] = grads["W2"] + llr * _lip_subgradient(params["W2"])
            for k in params:
                gk = grads[k] + (wd * params[k] if k.startswith("W") else 0.0)
                vel[k] = mom * vel[k] + gk
                params[k] = params[k] - lr_e * vel[k]
        if not all(np.all(np.isfinite(v)) for v in params.values()):
            raise FloatingPointError(f"train_teacher: parameters diverged in epoch {e}")
        losses[e], cons[e] = tot, tot_cr
        lips[e] = lipschitz_regularizer([params["W1"], params["W2"]])
        if (e + 1) % ce == 0 or e == E - 1:
            ckpts.append({k: v.copy() for k, v in params.items()})
            ck_ep.append(e + 1)
    return TeacherRun(ckpts, ck_ep, losses, lips, cons, lams, h)


def predict(params: dict, X: Any, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities of a two-layer ReLU network (a checkpoint of :func:`train_teacher` or
    :func:`distill_student`) at temperature ``temperature``."""
    func = "predict"
    require_type(isinstance(params, dict) and {"W1", "b1", "W2", "b2"} <= set(params), "params", params,
                 "be a parameter dict with W1, b1, W2, b2", func=func)
    Xa = require_array(X, "X", ndim=2, finite=True, max_size=_MAX_ROWS * 1000, func=func)
    require(Xa.shape[1] == params["W1"].shape[1], "X", Xa.shape, f"have {params['W1'].shape[1]} features", func=func)
    T = require_real(temperature, "temperature", func=func)
    require(0 < T <= 1e6, "temperature", temperature, "lie in (0, 1e6]", func=func)
    return _softmax(_forward(params, Xa)[0] / T)


def distill_student(data: Dataset, teacher_probs: Any, *, hidden: int = 8, epochs: int = 40, lr: float = 0.1,
                    batch_size: int = 32, temperature: float = 4.0, alpha: float = 0.5, seed: int = 0) -> dict:
    r"""A small two-layer student distilled on the teacher's training inputs (data reuse) [sot, App. D.2].

    Loss ``alpha CE(y) + (1 - alpha) T^2 KL(q_T || p_T)`` with ``q_T`` the teacher's probabilities at
    temperature ``T`` (``teacher_probs`` are given at ``T``) and ``p_T`` the student's; SGD with
    momentum 0.9. Returns the student's parameters.
    """
    func = "distill_student"
    require_type(isinstance(data, Dataset), "data", data, "be a Dataset", func=func)
    n, K = data.X_train.shape[0], data.n_classes
    Q = require_array(teacher_probs, "teacher_probs", ndim=2, finite=True, max_size=_MAX_ROWS * _MAX_K, func=func)
    require(Q.shape == (n, K) and bool(np.all(Q >= 0)) and bool(np.all(np.abs(Q.sum(1) - 1) <= 1e-6)),
            "teacher_probs", Q.shape, f"be ({n}, {K}) probability rows", func=func)
    h = require_int(hidden, "hidden", low=1, high=_MAX_HIDDEN, func=func)
    E = require_int(epochs, "epochs", low=1, high=_MAX_EPOCHS, func=func)
    lrv = require_real(lr, "lr", func=func)
    require(0 < lrv <= 10, "lr", lr, "lie in (0, 10]", func=func)
    B = min(require_int(batch_size, "batch_size", low=1, high=_MAX_ROWS, func=func), n)
    T = require_real(temperature, "temperature", func=func)
    require(0 < T <= 100, "temperature", temperature, "lie in (0, 100]", func=func)
    al = require_real(alpha, "alpha", func=func)
    require(0 <= al <= 1, "alpha", alpha, "lie in [0, 1]", func=func)
    seed = require_int(seed, "seed", low=0, func=func)
    rng = np.random.default_rng(seed)
    params = _init_mlp(data.X_train.shape[1], h, K, rng)
    vel = {k: np.zeros_like(v) for k, v in params.items()}
    Y = np.eye(K)[data.y_train]
    for e in range(E):
        order = rng.permutation(n)
        for start in range(0, n, B):
            idx = order[start:start + B]
            z, cache = _forward(params, data.X_train[idx])
            dz = (al * (_softmax(z) - Y[idx]) + (1 - al) * T * (_softmax(z / T) - Q[idx])) / idx.size
            grads = _backward(params, cache, dz)
            for k in params:
                vel[k] = 0.9 * vel[k] + grads[k] + (5e-4 * params[k] if k.startswith("W") else 0.0)
                params[k] = params[k] - lrv * vel[k]
        if not all(np.all(np.isfinite(v)) for v in params.values()):
            raise FloatingPointError(f"distill_student: parameters diverged in epoch {e}")
    return params


def _probs_labels(probs: Any, labels: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    P = require_array(probs, "probs", ndim=2, finite=True, max_size=_MAX_ROWS * _MAX_K, func=func)
    y = require_array(labels, "labels", ndim=1, finite=True, max_size=_MAX_ROWS, func=func)
    require(y.shape[0] == P.shape[0], "labels", y.shape, f"have one label per row of probs ({P.shape[0]})", func=func)
    require(bool(np.all((y >= 0) & (y < P.shape[1]) & (y == np.round(y)))), "labels", labels,
            f"be integers in [0, {P.shape[1]})", func=func)
    require(bool(np.all(P >= 0)) and bool(np.all(np.abs(P.sum(axis=1) - 1.0) <= 1e-6)), "probs", probs,
            "have probability rows", func=func)
    return P, y.astype(np.int64)


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = 15) -> float:
    r"""ECE with ``n_bins`` equal-width confidence bins (Guo et al. 2017), as in [sot, Table 3]."""
    func = "expected_calibration_error"
    P, y = _probs_labels(probs, labels, func)
    nb = require_int(n_bins, "n_bins", low=1, high=1000, func=func)
    conf = P.max(axis=1)
    correct = (P.argmax(axis=1) == y).astype(float)
    bins = np.minimum((conf * nb).astype(int), nb - 1)
    ece = 0.0
    for b in range(nb):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def negative_log_likelihood(probs: Any, labels: Any) -> float:
    """Mean ``-log p[y]`` (probabilities floored at 1e-300)."""
    P, y = _probs_labels(probs, labels, "negative_log_likelihood")
    return float(-np.mean(np.log(np.maximum(P[np.arange(y.size), y], 1e-300))))


def fit_temperature(logits: Any, labels: Any) -> float:
    r"""Temperature ``T`` minimising the NLL of ``softmax(logits / T)`` on a held-out set (Guo et al. 2017),
    searched on ``log T`` in ``[-4, 4]`` (bounded scalar minimisation)."""
    from scipy.optimize import minimize_scalar

    func = "fit_temperature"
    Z = require_array(logits, "logits", ndim=2, finite=True, max_size=_MAX_ROWS * _MAX_K, func=func)
    y = require_array(labels, "labels", ndim=1, finite=True, max_size=_MAX_ROWS, func=func)
    require(y.shape[0] == Z.shape[0] and bool(np.all((y >= 0) & (y < Z.shape[1]) & (y == np.round(y)))), "labels",
            labels, f"be {Z.shape[0]} integers in [0, {Z.shape[1]})", func=func)
    yi = y.astype(np.int64)

    def nll(logt):
        ls = _log_softmax(Z / math.exp(logt))
        return float(-np.mean(ls[np.arange(yi.size), yi]))

    res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded", options={"xatol": 1e-6})
    return float(math.exp(res.x))
