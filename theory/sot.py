r"""Closed forms for "SoTeacher: toward student-oriented teacher network training" [sot].

Notation (the paper's): ``K`` classes, ``N`` training inputs, labels ``y ~ p*(x)``; a covering
``C`` of the training inputs by balls of radius ``r`` with ``N^r`` (or ``|C|``) centres and a
disjoint partition ``S_j`` of the inputs into the balls (App. A, Step I); ``ybar_j`` the mean
one-hot label of cell ``j``; ``L`` the local Lipschitz constant of the hypothesis class and
``L_star`` that of ``p*``; ``p`` the order of the norm on label distributions (``1 <= p <= inf``).

What the calculators evaluate:

* proper scoring (Def. 3.2): :func:`scoring_loss` (NLL, squared error, and two non-examples);
* concentration (Prop. 3.3, Lemma A.2): :func:`prop3_3_radius`, :func:`lemma_a2_tail_bound`
  and the sharper :func:`weissman_tail_bound` that implies it;
* the cell bias (Lemma A.1): :func:`lemma_a1_bound`, :func:`lemma_a1_bound_sharp`;
* the per-cell constrained minimiser (Lemma A.3): the printed form
  :func:`lemma_a3_minimizer_printed`, and the corrected minimiser :func:`lemma_a3_minimizer`
  built on :func:`gain_radius` (how far one coordinate can move inside a p-norm ball of the
  simplex);
* Eq. (28) and ``xi_K``: :func:`eq28_bound`, :func:`xi_K`;
* the regrouping of Eq. (18): :func:`regrouped_risk_printed`, :func:`regrouped_risk`;
* Lemma A.4: :func:`lemma_a4_count_bound`, :func:`lemma_a4_min_count`, :func:`well_populated_inputs`;
* the theorems: :func:`theorem3_6_bound`, :func:`eq29_tail_bound`, :func:`theorem3_8_bound`,
  :func:`theorem3_8_bound_corrected`;
* the regularisers (Sec. 4, App. C): :func:`layer_lipschitz_l1`, :func:`lipschitz_regularizer`,
  :func:`network_lipschitz_bound_l1`, :func:`lipschitz_bound_from_regularizer`,
  :func:`running_average`, :func:`running_average_update`, :func:`consistency_loss`;
* the schedules of App. D: :func:`linear_schedule`, :func:`cosine_schedule`,
  :func:`cyclic_schedule`, :func:`piecewise_schedule`;
* App. F, Eq. (32): :func:`crl_correctness_frequency`, :func:`crl_correctness_frequency_onehot`;
* the tables: :func:`welch_test` (one-sided Welch test on reported means and stds).

SymPy is imported inside the ``derive_*`` functions only.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from kdtheory.theory._checks import (require, require_array, require_choice, require_int, require_real,
                                     require_type)

__all__ = [
    "SCORES", "scoring_loss",
    "prop3_3_radius", "lemma_a2_tail_bound", "weissman_tail_bound",
    "lemma_a1_bound", "lemma_a1_bound_sharp",
    "gain_radius", "lemma_a3_minimizer_printed", "lemma_a3_minimizer", "lemma_a3_objective",
    "xi_K", "eq28_bound", "eq29_tail_bound",
    "regrouped_risk_printed", "regrouped_risk",
    "lemma_a4_count_bound", "lemma_a4_min_count", "well_populated_inputs",
    "theorem3_6_bound", "theorem3_8_bound", "theorem3_8_bound_corrected",
    "layer_lipschitz_l1", "lipschitz_regularizer", "network_lipschitz_bound_l1",
    "lipschitz_bound_from_regularizer",
    "running_average", "running_average_update", "consistency_loss",
    "linear_schedule", "cosine_schedule", "cyclic_schedule", "piecewise_schedule",
    "crl_correctness_frequency", "crl_correctness_frequency_onehot",
    "welch_test",
    "derive_proper_scores", "derive_gain_radius", "derive_lemma_a3_kkt", "derive_xi_K", "derive_lemma_a1",
    "derive_regrouping", "derive_theorem3_6_radius", "derive_running_average", "derive_schedules",
    "derive_softmax_lipschitz_l1",
]

SCORES = ("nll", "brier", "l2_distance", "linear")
_MAX_K = 10_000            # classes
_MAX_COUNT = 10 ** 12      # sample sizes in closed forms
_MAX_ENTRIES = 10 ** 7     # entries of an array argument
_MAX_LAYERS = 1000


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------


def _choice(x: Any, name: str, choices: tuple, func: str) -> Any:
    """A string option: ``TypeError`` for a non-string, ``ValueError`` naming the choices otherwise."""
    require_type(isinstance(x, str), name, x, f"be one of the strings {choices}", func=func)
    return require_choice(x, name, choices, func=func)


def _norm_order(p: Any, func: str) -> float:
    """The order of a p-norm: a real >= 1 or inf."""
    v = require_real(p, "p", finite=False, func=func)
    require(v >= 1, "p", p, "be >= 1 or inf (the order of a p-norm)", func=func)
    return v


def _pnorm(x: np.ndarray, p: float, axis: int = -1) -> np.ndarray:
    if p == math.inf:
        return np.max(np.abs(x), axis=axis)
    if p == 1:
        return np.sum(np.abs(x), axis=axis)
    if p == 2:
        return np.sqrt(np.sum(x * x, axis=axis))
    m = np.max(np.abs(x), axis=axis, keepdims=True)
    safe = np.where(m > 0, m, 1.0)
    return np.squeeze(m, axis=axis) * np.sum(np.abs(x / safe) ** p, axis=axis) ** (1.0 / p)


def _classes(K: Any, func: str, low: int = 2) -> int:
    return require_int(K, "K", low=low, high=_MAX_K, func=func)


def _count(n: Any, name: str, func: str) -> int:
    return require_int(n, name, low=1, high=_MAX_COUNT, func=func)


def _nonneg(x: Any, name: str, func: str) -> float:
    v = require_real(x, name, func=func)
    require(v >= 0, name, x, "be >= 0", func=func)
    return v


def _delta(delta: Any, func: str) -> float:
    v = require_real(delta, "delta", func=func)
    require(0 < v < 1, "delta", delta, "lie in (0, 1)", func=func)
    return v


def _kappa(kappa: Any, func: str) -> float:
    v = require_real(kappa, "kappa", func=func)
    require(1 <= v <= 1e12, "kappa", kappa, "lie in [1, 1e12]", func=func)
    return v


def _distribution(q: Any, name: str, func: str, *, ndim: int | tuple = 1, atol: float = 1e-9) -> np.ndarray:
    arr = require_array(q, name, ndim=ndim, finite=True, min_size=1, max_size=_MAX_ENTRIES, func=func)
    require(arr.shape[-1] >= 1 and arr.shape[-1] <= _MAX_K, name, arr.shape, f"have 1..{_MAX_K} classes on its last axis",
            func=func)
    require(bool(np.all(arr >= 0)), name, q, "have non-negative entries (a probability vector)", func=func)
    require(bool(np.all(np.abs(arr.sum(axis=-1) - 1.0) <= atol)), name, q,
            f"sum to 1 along its last axis (within {atol:g})", func=func)
    return arr


# ---------------------------------------------------------------------------------------------
# Sec. 2 and Def. 3.2: losses and proper scoring
# ---------------------------------------------------------------------------------------------


def scoring_loss(prediction: Any, target: Any, kind: str = "nll") -> np.ndarray:
    r"""The loss ``l(p, q)`` of a prediction ``p`` against a target distribution ``q`` [sot, Def. 3.2].

    ``kind``:

    * ``"nll"``: the expected negative log-likelihood ``-sum_k q_k log p_k`` (``0 log 0 = 0``;
      ``inf`` where ``q_k > 0 = p_k``);
    * ``"brier"``: the expected squared error ``sum_y q_y ||p - 1_y||_2^2 = ||p||^2 - 2 p.q + 1``
      (the paper's MSE / Brier score);
    * ``"l2_distance"``: ``||p - q||_2``. It satisfies Def. 3.2 as printed (``l(p, q) >= l(q, q) = 0``
      with equality only at ``p = q``) but is not an expected score: the empirical risk over one-hot
      labels is minimised by the geometric median of the labels, not by their mean;
    * ``"linear"``: the expected linear score ``1 - p.q``, an improper rule (minimised at a vertex).

    With a one-hot ``target`` every kind is the per-sample loss ``l(f(x), y)`` of Eq. (1).
    ``prediction`` and ``target`` broadcast over leading axes; ``prediction`` may lie in
    ``[0, 1]^K`` (the codomain printed in Sec. 2) for ``nll``/``brier``/``linear``.
    """
    func = "scoring_loss"
    _choice(kind, "kind", SCORES, func=func)
    p = require_array(prediction, "prediction", ndim=tuple(range(1, 9)), finite=True, max_size=_MAX_ENTRIES,
                      func=func)
    q = _distribution(target, "target", func, ndim=tuple(range(1, 9)))
    require(bool(np.all((p >= 0) & (p <= 1))), "prediction", prediction, "lie in [0, 1]^K", func=func)
    try:
        np.broadcast_shapes(p.shape, q.shape)
    except ValueError:
        require(False, "target", q.shape, f"broadcast with prediction of shape {p.shape}", func=func)
    if kind == "nll":
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(q > 0, -q * np.log(p), 0.0)
        return np.sum(terms, axis=-1)
    if kind == "brier":
        return np.sum(p * p, axis=-1) - 2.0 * np.sum(p * q, axis=-1) + 1.0
    if kind == "l2_distance":
        return np.sqrt(np.sum((p - q) ** 2, axis=-1))
    return 1.0 - np.sum(p * q, axis=-1)


# ---------------------------------------------------------------------------------------------
# Prop. 3.3 and Lemma A.2: concentration of a mean one-hot label
# ---------------------------------------------------------------------------------------------


def prop3_3_radius(n: Any, K: Any, delta: Any) -> float:
    r"""Radius ``sqrt(2K / n * log(2 / delta))`` of Prop. 3.3 [sot, Eq. (3)].

    With probability at least ``1 - delta`` the mean one-hot label of ``n`` siblings lies within
    this distance of ``p*(x)`` in every p-norm (it is Lemma A.2 solved for ``epsilon``).
    """
    func = "prop3_3_radius"
    n = _count(n, "n", func)
    K = _classes(K, func, low=1)
    d = _delta(delta, func)
    return math.sqrt(2.0 * K / n * math.log(2.0 / d))


def lemma_a2_tail_bound(N: Any, K: Any, eps: Any) -> float:
    r"""``2 exp(-N eps^2 / (2K))``, Lemma A.2's bound on ``P(||ybar - E ybar|| >= eps)`` [sot, Eqs. (12)-(13)].

    As printed (it exceeds 1 when ``N eps^2 < 2 K log 2``: vacuous there).
    """
    func = "lemma_a2_tail_bound"
    N = _count(N, "N", func)
    K = _classes(K, func, low=1)
    e = require_real(eps, "eps", func=func)
    require(e > 0, "eps", eps, "be > 0", func=func)
    return 2.0 * math.exp(-N * e * e / (2.0 * K))


def weissman_tail_bound(N: Any, K: Any, eps: Any) -> float:
    r"""``min(1, (2^K - 2) exp(-N eps^2 / 2))``: the l1 deviation bound of Weissman et al. (2003).

    It holds for a mean of ``N`` independent one-hot labels with *different* distributions too
    (a union over the ``2^K - 2`` proper subsets ``A`` of Hoeffding's bound for the mean of
    ``1[y in A]``), and it is at most :func:`lemma_a2_tail_bound` wherever the latter is below 1,
    which proves Lemma A.2 [sot, Eq. (13)] (``derive_*`` is not needed: both are closed forms).
    """
    func = "weissman_tail_bound"
    N = _count(N, "N", func)
    K = _classes(K, func, low=1)
    e = require_real(eps, "eps", func=func)
    require(e > 0, "eps", eps, "be > 0", func=func)
    if K == 1:
        return 0.0
    log_b = math.log(2.0 ** K - 2.0) if K < 1000 else K * math.log(2.0)
    return float(min(1.0, math.exp(log_b - N * e * e / 2.0)))


# ---------------------------------------------------------------------------------------------
# Lemma A.1: distance of p*(x) to the cell's mean label distribution
# ---------------------------------------------------------------------------------------------


def lemma_a1_bound(L_star: Any, r: Any) -> float:
    r"""``2 L* r``: bound on ``||p*(x) - E ybar_j||`` for ``x`` in cell ``j`` [sot, Eq. (9)]."""
    func = "lemma_a1_bound"
    return 2.0 * _nonneg(L_star, "L_star", func) * _nonneg(r, "r", func)


def lemma_a1_bound_sharp(L_star: Any, r: Any, n_cell: Any) -> float:
    r"""``2 (n - 1) / n L* r``, the middle term of [sot, Eq. (10)] (attained: one input at one end of
    a diameter of the ball, ``n - 1`` at the other, ``p*`` linear along it)."""
    func = "lemma_a1_bound_sharp"
    n = _count(n_cell, "n_cell", func)
    return 2.0 * (n - 1) / n * _nonneg(L_star, "L_star", func) * _nonneg(r, "r", func)


# ---------------------------------------------------------------------------------------------
# Lemma A.3: the per-cell constrained minimiser
# ---------------------------------------------------------------------------------------------


def gain_radius(eps: Any, K: Any, p: Any) -> float:
    r"""Largest increase of one coordinate of a distribution moved by at most ``eps`` in the p-norm.

    A zero-sum change ``d`` with ``d_y = t`` has ``||d||_p >= t (1 + (K-1)^{1-p})^{1/p}`` (the
    decrease spread evenly over the other ``K - 1`` coordinates is the cheapest, by convexity),
    so ``t <= eps / (1 + (K - 1)^{1-p})^{1/p}``: ``eps`` for ``p = inf``, ``eps / 2`` for ``p = 1``,
    ``eps sqrt((K-1)/K)`` for ``p = 2`` (SymPy: :func:`derive_gain_radius`). Lemma A.3's proof
    [sot, Case I] takes ``t = eps``, true for the max-norm only. At an interior centre (every
    coordinate large enough to absorb the decrease) the bound is attained; in general the gain
    is ``min(gain_radius, 1 - p_y)`` for ``p`` in ``{1, inf}``.
    """
    func = "gain_radius"
    e = _nonneg(eps, "eps", func)
    K = _classes(K, func)
    q = _norm_order(p, func)
    if q == math.inf:
        return e
    return e / (1.0 + (K - 1.0) ** (1.0 - q)) ** (1.0 / q)


def lemma_a3_minimizer_printed(ybar: Any, eps: Any) -> np.ndarray:
    r"""The printed minimiser ``f(xbar_j) = ybar (1 + K eps) - eps`` of problem (19) [sot, Lemma A.3].

    ``eps = L r``. Not always a distribution: an entry is negative when ``ybar_k < eps / (1 + K eps)``
    (a class rare or absent in the cell), and it is the minimiser only for the max-norm at an
    interior solution (see :func:`lemma_a3_minimizer`).
    """
    func = "lemma_a3_minimizer_printed"
    y = _distribution(ybar, "ybar", func)
    e = _nonneg(eps, "eps", func)
    K = y.size
    return y * (1.0 + K * e) - e


def lemma_a3_minimizer(ybar: Any, eps: Any, p: Any) -> np.ndarray:
    r"""The centre ``f(xbar_j)`` of the minimiser of problem (19)/(20) with the p-norm [sot, Lemma A.3, corrected].

    Problem (20): minimise ``-(1/n) sum_i log p_i[y_i]`` over distributions ``p_i`` (one per input
    of the cell) and a centre distribution ``p`` with ``||p_i - p||_p <= eps``. For a centre ``p``
    the best ``p_i`` raises coordinate ``y_i`` by ``g = min(a, 1 - p_{y_i})`` with
    ``a = gain_radius(eps, K, p)`` (for ``p`` in ``{1, inf}`` exactly; for other ``p`` at least
    while every other coordinate can absorb an even share ``a / (K - 1)``), so the centre
    maximises ``sum_k ybar_k log min(1, p_k + a)`` over the simplex. Its KKT conditions give the
    clipped water-filling

        ``p_k = clip(ybar_k mu - a, 0, 1 - a)``, ``mu`` fixed by ``sum_k p_k = 1``,

    which reduces to the printed ``ybar (1 + K a) - a`` when no entry is clipped (all
    ``ybar_k >= a / (1 + K a)`` and ``p_k + a < 1``); SymPy: :func:`derive_lemma_a3_kkt`.

    * ``p`` in ``{1, inf}``: exact for every ``ybar``; raises ``ValueError`` when the minimiser is not
      unique (a single observed class, or ``a >= 1``: every centre near a vertex is optimal).
    * other ``p`` (e.g. 2): the closed form holds when the unclipped centre keeps every coordinate
      ``>= a / (K - 1)`` and ``p_k + a < 1``; outside that region the gain depends on the whole
      centre and no closed form is offered (``ValueError``; solve numerically with
      ``kdtheory.numerics.sot.cell_minimizer``).
    """
    func = "lemma_a3_minimizer"
    y = _distribution(ybar, "ybar", func)
    e = _nonneg(eps, "eps", func)
    q = _norm_order(p, func)
    K = y.size
    require(K >= 2, "ybar", ybar, "have at least 2 classes", func=func)
    a = gain_radius(e, K, q)
    if q in (1.0, math.inf):
        return _clipped_water_filling(y, a, func)
    centre = y * (1.0 + K * a) - a
    require(bool(np.all(centre >= a / (K - 1))) and bool(np.all(centre + a < 1.0)), "ybar", ybar,
            f"keep the unclipped centre ybar (1 + K a) - a inside [a/(K-1), 1 - a) with a = {a:.6g} "
            f"(the region where the p = {q:g} minimiser has a closed form)", func=func)
    return centre


def _clipped_water_filling(y: np.ndarray, a: float, func: str) -> np.ndarray:
    """Maximiser of ``sum_k y_k log min(1, p_k + a)`` over the simplex (unique cases only)."""
    K = y.size
    cap = 1.0 - a
    support = np.flatnonzero(y > 0)
    require(cap > 0 and support.size * cap >= 1.0, "eps", a,
            "leave the minimiser unique: the gain a must be < 1 and the observed classes must not all reach "
            "1 at once (here every centre with p_k >= 1 - a on the observed classes is optimal)", func=func)
    if support.size * cap == 1.0:
        out = np.zeros(K)
        out[support] = cap
        return out
    if a == 0.0:
        return y.copy()
    ys = y[support]
    # G(mu) = sum_k clip(y_k mu - a, 0, cap) is piecewise linear and non-decreasing; find G(mu) = 1.
    breaks = np.unique(np.concatenate([a / ys, 1.0 / ys]))

    def G(mu: float) -> float:
        return float(np.sum(np.clip(ys * mu - a, 0.0, cap)))

    values = np.array([G(b) for b in breaks])
    j = int(np.searchsorted(values, 1.0))          # first breakpoint with G >= 1
    lo = breaks[j - 1] if j > 0 else 0.0
    mid = 0.5 * (lo + breaks[min(j, breaks.size - 1)])
    interior = (ys * mid > a) & (ys * mid < 1.0)
    saturated = ys * mid >= 1.0
    Y = float(np.sum(ys[interior]))
    if Y > 0:
        mu = (1.0 + a * int(np.sum(interior)) - cap * int(np.sum(saturated))) / Y
    else:
        mu = breaks[min(j, breaks.size - 1)]
    out = np.zeros(K)
    out[support] = np.clip(ys * mu - a, 0.0, cap)
    return out


def lemma_a3_objective(ybar: Any, centre: Any, eps: Any, p: Any) -> float:
    r"""Value of problem (20) for a given centre: ``-sum_k ybar_k log min(1, centre_k + a)``, ``a = gain_radius``.

    Exact for ``p`` in ``{1, inf}`` (the best ``p_i`` raise their label coordinate by
    ``min(a, 1 - centre_y)``); for other ``p`` a lower bound on the value at that centre, equal
    to it where every coordinate can absorb the even decrease ``a / (K - 1)``. ``inf`` where an
    observed class has ``centre_k + a = 0``.
    """
    func = "lemma_a3_objective"
    y = _distribution(ybar, "ybar", func)
    c = require_array(centre, "centre", ndim=1, finite=True, func=func)
    require(c.shape == y.shape, "centre", c.shape, f"have the shape of ybar {y.shape}", func=func)
    e = _nonneg(eps, "eps", func)
    q = _norm_order(p, func)
    require(y.size >= 2, "ybar", ybar, "have at least 2 classes", func=func)
    a = gain_radius(e, y.size, q)
    reach = np.minimum(1.0, c + a)
    with np.errstate(divide="ignore"):
        terms = np.where(y > 0, -y * np.log(np.maximum(reach, 0.0)), 0.0)
    return float(np.sum(terms))


# ---------------------------------------------------------------------------------------------
# Eq. (28), xi_K and Eq. (29)
# ---------------------------------------------------------------------------------------------


def xi_K(K: Any, p: Any) -> float:
    r"""``xi_K = 1 + K ||1_(.) - 1/K||_p`` [sot, Thm. 3.6]: ``2K - 1`` (p = 1), ``1 + sqrt(K(K-1))`` (p = 2), ``K`` (p = inf).

    In general ``1 + K ((1 - 1/K)^p + (K - 1) K^{-p})^{1/p}`` (SymPy: :func:`derive_xi_K`).
    """
    func = "xi_K"
    K = _classes(K, func, low=1)
    q = _norm_order(p, func)
    if q == 1.0:
        return 2.0 * K - 1.0
    if q == 2.0:
        return 1.0 + math.sqrt(K * (K - 1.0))
    if q == math.inf:
        return float(K)
    e = np.full(K, -1.0 / K)
    e[0] += 1.0
    return 1.0 + K * float(_pnorm(e, q))


def eq28_bound(L: Any, r: Any, ybar: Any, p: Any) -> float:
    r"""Middle term of [sot, Eq. (28)]: ``L r (1 + K ||ybar - 1/K||_p)``, the claimed bound on
    ``||f(x) - ybar_j||`` for the inputs of cell ``j`` (at most ``L r xi_K``)."""
    func = "eq28_bound"
    Lr = _nonneg(L, "L", func) * _nonneg(r, "r", func)
    y = _distribution(ybar, "ybar", func)
    q = _norm_order(p, func)
    return Lr * (1.0 + y.size * float(_pnorm(y - 1.0 / y.size, q)))


def eq29_tail_bound(n_cell: Any, K: Any, eps: Any, L: Any, r: Any, L_star: Any, p: Any) -> float:
    r"""``2 exp(-n eps~^2 / (2K))`` with ``eps~ = max(eps - L r xi_K - 2 L* r, 0)`` [sot, Eq. (29)].

    The bound on ``P(||f(x) - p*(x)|| >= eps)`` for an input of a cell of ``n`` inputs. The paper
    prints ``eps`` in the exponent and defines ``eps~`` below it; the exponent must carry ``eps~``
    (with ``eps`` the statement ignores the bias terms and is false once they dominate).
    """
    func = "eq29_tail_bound"
    n = _count(n_cell, "n_cell", func)
    K = _classes(K, func)
    e = require_real(eps, "eps", func=func)
    require(e > 0, "eps", eps, "be > 0", func=func)
    bias = _nonneg(L, "L", func) * _nonneg(r, "r", func) * xi_K(K, p) + 2.0 * _nonneg(L_star, "L_star", func) * r
    t = max(e - bias, 0.0)
    return 2.0 * math.exp(-n * t * t / (2.0 * K))


# ---------------------------------------------------------------------------------------------
# Eq. (18): regrouping the empirical risk by cells
# ---------------------------------------------------------------------------------------------


def _cells(cell_risks: Any, cell_sizes: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    R = require_array(cell_risks, "cell_risks", ndim=1, finite=True, max_size=_MAX_ENTRIES, func=func)
    n = require_array(cell_sizes, "cell_sizes", ndim=1, finite=True, max_size=_MAX_ENTRIES, func=func)
    require(n.shape == R.shape, "cell_sizes", n.shape, f"have the shape of cell_risks {R.shape}", func=func)
    require(bool(np.all((n >= 1) & (n == np.round(n)))), "cell_sizes", cell_sizes, "be integers >= 1", func=func)
    return R, n


def regrouped_risk_printed(cell_risks: Any, cell_sizes: Any) -> float:
    r"""``(1/N_r) sum_j R(f, S_j)``: the unweighted mean of the per-cell risks, as printed in [sot, Eq. (18)].

    Equals the empirical risk only when all cells have the same size (``cell_sizes`` is accepted
    for symmetry with :func:`regrouped_risk` and otherwise ignored).
    """
    R, _ = _cells(cell_risks, cell_sizes, "regrouped_risk_printed")
    return float(np.mean(R))


def regrouped_risk(cell_risks: Any, cell_sizes: Any) -> float:
    r"""``sum_j (|S_j| / N) R(f, S_j)``: the empirical risk regrouped by cells [sot, Eq. (18), corrected]."""
    R, n = _cells(cell_risks, cell_sizes, "regrouped_risk")
    return float(np.sum(n * R) / np.sum(n))


# ---------------------------------------------------------------------------------------------
# Lemma A.4 and the subset of Theorem 3.6
# ---------------------------------------------------------------------------------------------


def lemma_a4_count_bound(N: Any, n_cells: Any, kappa: Any) -> float:
    r"""``(1 - 1/kappa + 1/(kappa N^r)) N`` [sot, Eq. (30)]: claimed least number of inputs whose cell
    holds at least ``N / (kappa N^r)`` inputs, for any partition into ``N^r = n_cells`` cells."""
    func = "lemma_a4_count_bound"
    N = _count(N, "N", func)
    M = _count(n_cells, "n_cells", func)
    k = _kappa(kappa, func)
    return (1.0 - 1.0 / k + 1.0 / (k * M)) * N


def lemma_a4_min_count(N: Any, n_cells: Any, kappa: Any) -> int:
    r"""Exact least number of inputs in cells of size ``>= N / (kappa M)`` over all partitions of
    ``N`` inputs into at most ``M = n_cells`` cells [sot, Lemma A.4].

    With ``m`` the least integer ``>= N / (kappa M)`` (decided in exact rational arithmetic from the
    float ``kappa``): at most ``M - 1`` cells can be small (the largest cell has ``>= N / M >= m``
    inputs), each with at most ``m - 1`` inputs, and at least one cell is large, so the minimum is
    ``max(m, N - (M - 1)(m - 1))``.
    """
    func = "lemma_a4_min_count"
    N = require_int(N, "N", low=1, high=_MAX_COUNT, func=func)
    M = require_int(n_cells, "n_cells", low=1, high=_MAX_COUNT, func=func)
    k = Fraction(_kappa(kappa, func))
    threshold = Fraction(N) / (k * M)
    m = max(1, math.ceil(threshold))
    return int(max(m, N - (M - 1) * (m - 1)))


def well_populated_inputs(cell_of: Any, kappa: Any, n_cells: Any = None) -> np.ndarray:
    r"""Mask of the inputs whose cell holds at least ``N / (kappa M)`` inputs [sot, Lemma A.4].

    ``cell_of[i]`` is the cell of input ``i`` (integers ``0..M-1``); ``M = n_cells`` defaults to the
    number of distinct cells. This is the set the proof of Thm. 3.6 covers (at least
    ``lemma_a4_count_bound(N, M, kappa)`` inputs); the printed theorem lets ``D~`` be *any* subset of
    that size instead.
    """
    func = "well_populated_inputs"
    c = require_array(cell_of, "cell_of", ndim=1, finite=True, max_size=_MAX_ENTRIES, func=func)
    require(bool(np.all((c >= 0) & (c == np.round(c)))), "cell_of", cell_of, "be integer cell indices >= 0",
            func=func)
    ci = c.astype(np.int64)
    k = Fraction(_kappa(kappa, func))
    M = len(np.unique(ci)) if n_cells is None else _count(n_cells, "n_cells", func)
    require(M >= len(np.unique(ci)), "n_cells", n_cells, f"be at least the number of occupied cells {len(np.unique(ci))}",
            func=func)
    counts = np.bincount(ci)
    N = ci.size
    ok = {int(s): Fraction(int(s)) * k * M >= N for s in np.unique(counts)}   # exact, once per distinct size
    return np.array([ok[int(s)] for s in counts], dtype=bool)[ci]


# ---------------------------------------------------------------------------------------------
# Theorems 3.6 and 3.8
# ---------------------------------------------------------------------------------------------


def theorem3_6_bound(N: Any, K: Any, n_cover: Any, L: Any, r: Any, L_star: Any, delta: Any, p: Any,
                     kappa: Any = 1.0) -> float:
    r"""Right-hand side of [sot, Eq. (4)]:
    ``sqrt(2 kappa N^r K / N log(2/delta)) + L r xi_K + 2 L* r``.

    ``n_cover`` is the number of cells: the printed theorem uses the covering number ``N^r``; the
    proof's partition has ``|C|`` cells (equal when the covering is minimal). The first term is
    :func:`prop3_3_radius` with ``n = N / (kappa n_cover)``, the least cell size Lemma A.4 guarantees
    on the subset ``D~``. (SymPy: :func:`derive_theorem3_6_radius` inverts Eq. (29).)
    """
    func = "theorem3_6_bound"
    N = _count(N, "N", func)
    K = _classes(K, func)
    M = _count(n_cover, "n_cover", func)
    k = _kappa(kappa, func)
    d = _delta(delta, func)
    Lv, rv, Ls = _nonneg(L, "L", func), _nonneg(r, "r", func), _nonneg(L_star, "L_star", func)
    return math.sqrt(2.0 * k * M * K / N * math.log(2.0 / d)) + Lv * rv * xi_K(K, p) + 2.0 * Ls * rv


def theorem3_8_bound(N: Any, K: Any, n_cover: Any, L: Any, r: Any, L_star: Any, delta: Any, p: Any,
                     Lf_A: Any, Lp_A: Any, kappa: Any = 1.0) -> float:
    r"""Right-hand side of [sot, Eq. (6)]: Eq. (4) ``+ L_f^A xi_K + L_p^A``.

    The printed theorem claims it for all ``x`` of ``D~`` *simultaneously* with probability
    ``1 - delta``; the per-cell concentration only gives it for each ``x`` separately (see
    :func:`theorem3_8_bound_corrected` for the simultaneous version).
    """
    func = "theorem3_8_bound"
    base = theorem3_6_bound(N, K, n_cover, L, r, L_star, delta, p, kappa)
    return base + _nonneg(Lf_A, "Lf_A", func) * xi_K(K, p) + _nonneg(Lp_A, "Lp_A", func)


def theorem3_8_bound_corrected(N: Any, K: Any, n_cells: Any, L: Any, r: Any, L_star: Any, delta: Any, p: Any,
                               Lf_A: Any, Lp_A: Any, kappa: Any = 1.0) -> float:
    r"""Eq. (6) valid for all ``x`` of ``D~`` at once: ``delta`` replaced by ``delta / n_cells`` (a union
    bound over the at most ``|C| = n_cells`` cells whose label means decide the error) [sot, Thm. 3.8, corrected]."""
    func = "theorem3_8_bound_corrected"
    M = _count(n_cells, "n_cells", func)
    d = _delta(delta, func)
    return theorem3_8_bound(N, K, M, L, r, L_star, d / M, p, Lf_A, Lp_A, kappa)


# ---------------------------------------------------------------------------------------------
# Sec. 4 / App. C: Lipschitz and consistency regularisation
# ---------------------------------------------------------------------------------------------


def _matrix(W: Any, name: str, func: str) -> np.ndarray:
    return require_array(W, name, ndim=2, finite=True, max_size=_MAX_ENTRIES, func=func)


def layer_lipschitz_l1(W: Any) -> float:
    r"""Lipschitz constant of ``h -> W h (+ b)`` for the 1-norm: the largest column abs-sum of ``W`` [sot, App. C].

    ``W`` has shape ``(out, in)`` (``y = W x``). ``sup_x ||W x||_1 / ||x||_1 = max_j sum_i |W_ij|``,
    attained at the basis vector ``e_j`` of the largest column: exact and cheap, as the paper says
    (the spectral norm of the 2-norm needs an iterative solve).
    """
    A = _matrix(W, "W", "layer_lipschitz_l1")
    return float(np.max(np.sum(np.abs(A), axis=0)))


def _layers(weights: Any, func: str) -> list[np.ndarray]:
    require_type(isinstance(weights, (list, tuple)), "weights", weights, "be a list of weight matrices", func=func)
    require(1 <= len(weights) <= _MAX_LAYERS, "weights", len(weights), f"hold 1..{_MAX_LAYERS} matrices", func=func)
    mats = [_matrix(W, f"weights[{i}]", func) for i, W in enumerate(weights)]
    for i in range(1, len(mats)):
        require(mats[i].shape[1] == mats[i - 1].shape[0], f"weights[{i}]", mats[i].shape,
                f"take the output of weights[{i - 1}] (in = {mats[i - 1].shape[0]})", func=func)
    return mats


def lipschitz_regularizer(weights: Any) -> float:
    r"""``l_LR = sum_f Lip(f)`` over the trainable layers, each by :func:`layer_lipschitz_l1` [sot, App. C]."""
    mats = _layers(weights, "lipschitz_regularizer")
    return float(sum(layer_lipschitz_l1(W) for W in mats))


def network_lipschitz_bound_l1(weights: Any, softmax_output: bool = False) -> float:
    r"""What ``l_LR`` controls: the 1-norm Lipschitz constant of ``x -> W_n s(... s(W_1 x))`` is at most
    ``prod_f Lip(f)`` for 1-Lipschitz componentwise activations ``s`` (ReLU) and any biases.

    With ``softmax_output`` the probabilities are bounded instead: the softmax is ``1/2``-Lipschitz
    from logits to probabilities in the 1-norm (its Jacobian's column abs-sums are
    ``2 p_j (1 - p_j) <= 1/2``, :func:`derive_softmax_lipschitz_l1`).
    """
    func = "network_lipschitz_bound_l1"
    require_type(isinstance(softmax_output, (bool, np.bool_)), "softmax_output", softmax_output, "be a bool",
                 func=func)
    mats = _layers(weights, func)
    out = 0.5 if softmax_output else 1.0
    for W in mats:
        out *= layer_lipschitz_l1(W)
    require(math.isfinite(out), "weights", [W.shape for W in mats], "give a finite product of layer constants",
            func=func)
    return float(out)


def lipschitz_bound_from_regularizer(reg_value: Any, n_layers: Any) -> float:
    r"""``(l_LR / n)^n``: by the AM-GM inequality the product of ``n`` layer constants is at most the
    ``n``-th power of their mean, so a small ``l_LR`` bounds the network's Lipschitz constant."""
    func = "lipschitz_bound_from_regularizer"
    v = _nonneg(reg_value, "reg_value", func)
    n = require_int(n_layers, "n_layers", low=1, high=_MAX_LAYERS, func=func)
    out = (v / n) ** n
    require(math.isfinite(out), "reg_value", reg_value, f"give a finite (l_LR / n)^n for n = {n}", func=func)
    return float(out)


def running_average(history: Any) -> np.ndarray:
    r"""Consistency targets ``fbar_t = (1/t) sum_{t' < t} f_t'`` for ``t = 1..T`` [sot, App. C].

    ``history`` has shape ``(T, ...)`` (one prediction array per epoch); row ``t - 1`` of the result
    is ``fbar_t`` (``fbar_0`` is undefined: the regulariser is skipped at epoch 0).
    """
    H = require_array(history, "history", ndim=tuple(range(1, 9)), finite=True, max_size=_MAX_ENTRIES,
                      func="running_average")
    t = np.arange(1, H.shape[0] + 1, dtype=float).reshape((-1,) + (1,) * (H.ndim - 1))
    return np.cumsum(H, axis=0) / t


def running_average_update(average: Any, prediction: Any, t: Any) -> np.ndarray:
    r"""Online update ``fbar_{t+1} = fbar_t + (f_t - fbar_t) / (t + 1)`` [sot, App. C].

    ``t >= 0`` is the number of predictions already averaged; at ``t = 0`` ``average`` is ignored
    and the result is ``prediction`` (weight ``1 / (t + 1) = 1``, as in the official code).
    """
    func = "running_average_update"
    A = require_array(average, "average", finite=True, max_size=_MAX_ENTRIES, func=func)
    P = require_array(prediction, "prediction", finite=True, max_size=_MAX_ENTRIES, func=func)
    require(A.shape == P.shape, "prediction", P.shape, f"have the shape of average {A.shape}", func=func)
    n = require_int(t, "t", low=0, high=_MAX_COUNT, func=func)
    if n == 0:
        return P.copy()
    return A + (P - A) / (n + 1.0)


def consistency_loss(predictions: Any, targets: Any) -> float:
    r"""``l_CR = (1/N) sum_i ||f(x_i) - fbar(x_i)||_2^2`` [sot, App. C] for ``(N, K)`` arrays."""
    func = "consistency_loss"
    P = require_array(predictions, "predictions", ndim=2, finite=True, max_size=_MAX_ENTRIES, func=func)
    T = require_array(targets, "targets", ndim=2, finite=True, max_size=_MAX_ENTRIES, func=func)
    require(P.shape == T.shape, "targets", T.shape, f"have the shape of predictions {P.shape}", func=func)
    return float(np.mean(np.sum((P - T) ** 2, axis=1)))


# ---------------------------------------------------------------------------------------------
# App. D: schedules of the consistency weight
# ---------------------------------------------------------------------------------------------


def _schedule_args(t: Any, T: Any, lam_max: Any, func: str) -> tuple[np.ndarray, float, float]:
    Tv = require_real(T, "T", func=func)
    require(Tv > 0, "T", T, "be > 0", func=func)
    tv = require_array(t, "t", finite=True, max_size=_MAX_ENTRIES, func=func)
    require(bool(np.all((tv >= 0) & (tv <= Tv))), "t", t, f"lie in [0, T] = [0, {Tv:g}]", func=func)
    lm = _nonneg(lam_max, "lam_max", func)
    return tv, Tv, lm


def _out(x: np.ndarray) -> Any:
    return float(x) if x.ndim == 0 else x


def linear_schedule(t: Any, T: Any, lam_max: Any) -> Any:
    r"""``lambda_CR(t) = t / T lambda_max`` [sot, Sec. 4]."""
    tv, Tv, lm = _schedule_args(t, T, lam_max, "linear_schedule")
    return _out(tv / Tv * lm)


def cosine_schedule(t: Any, T: Any, lam_max: Any) -> Any:
    r"""``lambda_CR(t) = cos((1 - t/T) pi / 2) lambda_max`` (``= sin(pi t / (2T)) lambda_max``) [sot, App. D]."""
    tv, Tv, lm = _schedule_args(t, T, lam_max, "cosine_schedule")
    return _out(np.cos((1.0 - tv / Tv) * np.pi / 2.0) * lm)


def cyclic_schedule(t: Any, T: Any, lam_max: Any) -> Any:
    r"""``lambda_CR(t) = sqrt(1 - (1 - t/T)^2) lambda_max`` (a quarter circle, not periodic) [sot, App. D]."""
    tv, Tv, lm = _schedule_args(t, T, lam_max, "cyclic_schedule")
    s = 1.0 - tv / Tv
    return _out(np.sqrt(np.maximum(1.0 - s * s, 0.0)) * lm)


def piecewise_schedule(t: Any, T: Any, lam_max: Any) -> Any:
    r"""``0`` on ``(0, T/3]``, ``lambda_max / 2`` on ``(T/3, 2T/3]``, ``lambda_max`` on ``(2T/3, T]`` [sot, App. D].

    The paper leaves ``t = 0`` out; it is given 0 here (the regulariser is skipped at epoch 0).
    The interval ends are compared exactly (``3 t <= T``), not through a rounded ``T / 3``.
    """
    tv, Tv, lm = _schedule_args(t, T, lam_max, "piecewise_schedule")
    out = np.where(3.0 * tv <= Tv, 0.0, np.where(3.0 * tv <= 2.0 * Tv, 0.5 * lm, lm))
    return _out(out)


# ---------------------------------------------------------------------------------------------
# App. F, Eq. (32): the CRL correctness frequency
# ---------------------------------------------------------------------------------------------


def _history_labels(history: Any, labels: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    H = require_array(history, "history", ndim=3, finite=True, max_size=_MAX_ENTRIES, func=func)
    y = require_array(labels, "labels", ndim=1, finite=True, max_size=_MAX_ENTRIES, func=func)
    require(y.shape[0] == H.shape[1], "labels", y.shape, f"have one label per input ({H.shape[1]})", func=func)
    require(bool(np.all((y >= 0) & (y < H.shape[2]) & (y == np.round(y)))), "labels", labels,
            f"be integers in [0, {H.shape[2]})", func=func)
    return H, y.astype(np.int64)


def crl_correctness_frequency(history: Any, labels: Any) -> np.ndarray:
    r"""``c(x) = (1/(t-1)) sum_{t'=1}^{t-1} 1(argmax_k f(x)_t'^k = y)`` [sot, App. F].

    ``history``: predictions ``(t - 1, N, K)`` of epochs ``1..t-1``; ``labels``: ``(N,)``. Ties in the
    argmax go to the smallest index (NumPy's rule), as in :func:`crl_correctness_frequency_onehot`.
    """
    H, y = _history_labels(history, labels, "crl_correctness_frequency")
    hits = np.argmax(H, axis=2) == y[None, :]
    return hits.mean(axis=0)


def crl_correctness_frequency_onehot(history: Any, labels: Any) -> np.ndarray:
    r"""The same frequency written as ``1_y . (1/(t-1)) sum_t' Onehot[f(x)_t']`` [sot, Eq. (32)]."""
    H, y = _history_labels(history, labels, "crl_correctness_frequency_onehot")
    K = H.shape[2]
    onehot = np.eye(K)[np.argmax(H, axis=2)]          # (t-1, N, K)
    mean_onehot = onehot.mean(axis=0)                  # (N, K)
    return mean_onehot[np.arange(y.size), y]


# ---------------------------------------------------------------------------------------------
# Tables: a test on reported means and standard deviations
# ---------------------------------------------------------------------------------------------


def welch_test(mean_a: Any, sd_a: Any, n_a: Any, mean_b: Any, sd_b: Any, n_b: Any) -> dict:
    r"""One-sided Welch t-test of ``mean_b > mean_a`` from reported means, sample standard deviations and run counts.

    Returns ``t``, the Welch-Satterthwaite degrees of freedom ``df`` and the one-sided p-value
    ``P(T_df >= t)``. With ``sd_a = sd_b = 0`` the difference is exact: ``p = 0`` if ``mean_b > mean_a``
    else ``1``. The tables of [sot] report mean +- std over 3 runs (Sec. 5.1).
    """
    func = "welch_test"
    ma, mb = require_real(mean_a, "mean_a", func=func), require_real(mean_b, "mean_b", func=func)
    sa, sb = _nonneg(sd_a, "sd_a", func), _nonneg(sd_b, "sd_b", func)
    na = require_int(n_a, "n_a", low=2, high=_MAX_COUNT, func=func)
    nb = require_int(n_b, "n_b", low=2, high=_MAX_COUNT, func=func)
    va, vb = sa * sa / na, sb * sb / nb
    se2 = va + vb
    if se2 == 0.0:
        return {"t": math.inf if mb > ma else (-math.inf if mb < ma else 0.0), "df": float(na + nb - 2),
                "p_value": 0.0 if mb > ma else 1.0}
    from scipy import stats

    t = (mb - ma) / math.sqrt(se2)
    df = se2 * se2 / ((va * va / (na - 1) if va else 0.0) + (vb * vb / (nb - 1) if vb else 0.0))
    return {"t": float(t), "df": float(df), "p_value": float(stats.t.sf(t, df))}


# ---------------------------------------------------------------------------------------------
# SymPy derivations
# ---------------------------------------------------------------------------------------------


def derive_proper_scores() -> dict:
    r"""SymPy: ``l(p, q) - l(q, q)`` is ``KL(q || p)`` for the NLL and ``||p - q||^2`` for the squared
    error [sot, Def. 3.2], for K = 3 symbolic distributions. Returns the simplified residuals
    (zero when the identities hold)."""
    import sympy as sp

    p = sp.symbols("p1:4", positive=True)
    q = sp.symbols("q1:4", positive=True)
    sub = {p[2]: 1 - p[0] - p[1], q[2]: 1 - q[0] - q[1]}
    nll = lambda a, b: -sum(bi * sp.log(ai) for ai, bi in zip(a, b))
    brier = lambda a, b: sum(a_i ** 2 for a_i in a) - 2 * sum(ai * bi for ai, bi in zip(a, b)) + 1
    kl = sum(qi * sp.log(qi / pi) for pi, qi in zip(p, q))
    sq = sum((pi - qi) ** 2 for pi, qi in zip(p, q))
    r1 = sp.simplify(sp.expand_log((nll(p, q) - nll(q, q) - kl).subs(sub), force=True))
    r2 = sp.simplify((brier(p, q) - brier(q, q) - sq).subs(sub))
    return {"nll_minus_kl": r1, "brier_minus_squared_distance": r2}


def derive_gain_radius() -> dict:
    r"""SymPy: the largest ``t`` with ``t^p + (K-1) (t/(K-1))^p = eps^p`` for ``p = 1, 2`` and the
    general closed form used by :func:`gain_radius` (returns ``{p: t(eps, K)}``)."""
    import sympy as sp

    t, eps, K, pp = sp.symbols("t eps K p", positive=True)
    out = {}
    for p in (1, 2):
        sol = sp.solve(sp.Eq(t ** p + (K - 1) * (t / (K - 1)) ** p, eps ** p), t)
        out[p] = sp.simplify([s for s in sol if s.is_positive is not False][-1])
    out["general"] = sp.simplify(eps / (1 + (K - 1) ** (1 - pp)) ** (1 / pp))
    return out


def derive_lemma_a3_kkt(K: int = 3) -> dict:
    r"""SymPy: stationary point of ``sum_k ybar_k log(p_k + a)`` on ``sum_k p_k = 1`` [sot, Eq. (22)].

    Solves the Lagrange system for ``K`` symbolic classes; returns the solution ``{p_k: expr}``
    (``ybar_k (1 + K a) - a`` after using ``sum ybar = 1``) and the residual against that form.
    """
    import sympy as sp

    K = int(K)
    y = sp.symbols(f"y1:{K + 1}", positive=True)
    pk = sp.symbols(f"p1:{K + 1}")
    a, lam = sp.symbols("a lam", positive=True)
    Lag = sum(yi * sp.log(pi + a) for yi, pi in zip(y, pk)) - lam * (sum(pk) - 1)
    eqs = [sp.diff(Lag, v) for v in pk] + [sum(pk) - 1]
    sol = sp.solve(eqs, list(pk) + [lam], dict=True)[0]
    ysum = {y[-1]: 1 - sum(y[:-1])}
    residual = [sp.simplify((sol[pi] - (yi * (1 + K * a) - a)).subs(ysum)) for pi, yi in zip(pk, y)]
    return {"solution": {pi: sp.simplify(sol[pi].subs(ysum)) for pi in pk}, "residual": residual}


def derive_xi_K() -> dict:
    r"""SymPy: ``xi_K = 1 + K ||e_1 - 1/K||_p`` for ``p = 1, 2, inf`` [sot, Thm. 3.6]."""
    import sympy as sp

    K = sp.symbols("K", positive=True, integer=True)
    first, rest = 1 - 1 / K, 1 / K
    return {1: sp.simplify(1 + K * (first + (K - 1) * rest)),
            2: sp.simplify(1 + K * sp.sqrt(first ** 2 + (K - 1) * rest ** 2)),
            "inf": sp.simplify(1 + K * first)}


def derive_lemma_a1() -> dict:
    r"""SymPy: ``||p*(x) - mean p*||`` for one input at ``-r`` and ``n - 1`` at ``+r`` with ``p*`` linear of
    slope ``L*``: ``2 (n-1)/n L* r`` [sot, Eq. (10)] (returns the expression)."""
    import sympy as sp

    n, L, r = sp.symbols("n L_star r", positive=True)
    mean_pos = ((n - 1) * r - r) / n
    return {"distance": sp.simplify(L * (mean_pos - (-r)))}


def derive_regrouping() -> dict:
    r"""SymPy: with cell sizes ``n_j`` and cell risks ``R_j`` (means over the cells), the empirical risk is
    ``sum_j n_j R_j / N``; the printed Eq. (18) misses it by ``sum_j (1/M - n_j/N) R_j`` (two cells)."""
    import sympy as sp

    n1, n2, R1, R2 = sp.symbols("n1 n2 R1 R2", positive=True)
    N = n1 + n2
    risk = (n1 * R1 + n2 * R2) / N
    printed = (R1 + R2) / 2
    return {"weighted_minus_risk": sp.simplify((n1 / N) * R1 + (n2 / N) * R2 - risk),
            "printed_minus_risk": sp.factor(sp.simplify(printed - risk))}


def derive_theorem3_6_radius() -> dict:
    r"""SymPy: ``2 exp(-n eps~^2 / (2K)) = delta`` solved for ``eps~`` [sot, Eqs. (29) -> (4)]."""
    import sympy as sp

    n, K, d, e = sp.symbols("n K delta epsilon", positive=True)
    sol = sp.solve(sp.Eq(2 * sp.exp(-n * e ** 2 / (2 * K)), d), e)
    return {"eps_tilde": [sp.simplify(s) for s in sol]}


def derive_running_average() -> dict:
    r"""SymPy: ``(t fbar_t + f_t) / (t + 1) = fbar_t + (f_t - fbar_t) / (t + 1)`` [sot, App. C]."""
    import sympy as sp

    t, fb, f = sp.symbols("t fbar f", positive=True)
    return {"residual": sp.simplify((t * fb + f) / (t + 1) - (fb + (f - fb) / (t + 1)))}


def derive_schedules() -> dict:
    r"""SymPy: values at ``t = 0`` and ``t = T`` and derivatives of the schedules of [sot, Sec. 4, App. D]."""
    import sympy as sp

    t, T, lm = sp.symbols("t T lambda_max", positive=True)
    s = t / T
    forms = {"linear": s * lm, "cosine": sp.cos((1 - s) * sp.pi / 2) * lm, "cyclic": sp.sqrt(1 - (1 - s) ** 2) * lm}
    return {k: {"at_0": sp.simplify(v.subs(t, 0)), "at_T": sp.simplify(v.subs(t, T)),
                "derivative": sp.simplify(sp.diff(v, t))} for k, v in forms.items()}


def derive_softmax_lipschitz_l1(K: int = 3) -> dict:
    r"""SymPy: column ``j`` abs-sum of the softmax Jacobian is ``2 p_j (1 - p_j)`` (max ``1/2``) [sot, App. C]."""
    import sympy as sp

    K = int(K)
    p = sp.symbols(f"p1:{K + 1}", positive=True)
    J = sp.Matrix(K, K, lambda i, j: (p[i] * (1 - p[i]) if i == j else -p[i] * p[j]))
    sub = {p[-1]: 1 - sum(p[:-1])}
    # the diagonal entries are >= 0 and the others <= 0 on the simplex: |column| sum = J_jj - sum_{i != j} J_ij
    cols = [sp.factor(sp.simplify((J[j, j] - sum(J[i, j] for i in range(K) if i != j)).subs(sub))) for j in range(K)]
    x = sp.symbols("x", positive=True)
    return {"column_sums": cols, "max_of_2x(1-x)": sp.maximum(2 * x * (1 - x), x, sp.Interval(0, 1))}
