"""Closed forms for "Knowledge Distillation Performs Partial Variance Reduction" [kd].

Everything is made explicit on finite-sum least squares,
``f_i(x) = 1/2 (a_i^T x - b_i)^2`` with ``xi`` uniform over the ``n`` rows,
where every constant of the paper has a closed form:

* ``mu``, ``L``: extreme eigenvalues of ``H = A^T A / n``;
* the best expected-smoothness constant of Assumption 3 [kd, Eq. (10)]: the largest
  generalised eigenvalue of ``(M, H)`` with ``M = mean_i ||a_i||^2 a_i a_i^T``;
* the mean-square Lipschitz constant of [kd, Eq. (39)]: ``sqrt(lambda_max(M))``;
* ``sigma_*^2``, the teacher moments, ``beta`` [kd, Eq. (31)], ``rho`` [kd, Eq. (32)],
  ``N(lambda)`` and ``lambda_*`` of Lemma 1 [kd, Eqs. (14), (33)] for any ``c``.

A non-quadratic finite sum inside every hypothesis of Theorems 1-3 is ridge-regularised
logistic regression, ``f_i(x) = log(1 + exp(-y_i a_i^T x)) + (r/2) ||x||^2``: strongly convex
(``mu = r``), ``L = r + lambda_max(A^T A/n)/4``, and (10) holds with ``cal_L = r + max_i ||a_i||^2/4``
(each ``f_i`` convex and ``L_i``-smooth) [:func:`ridge_logistic_constants`]; the teacher moments
of any finite sum follow from its per-sample gradients [:func:`moments_from_gradients`].

The theorem bounds are written out from their proofs (no O(.)): Theorem 1 from
[kd, Eq. (35)], Theorem 2 from [kd, Eq. (36)], Theorem 3 from [kd, Eq. (17)],
Theorem 4 from the last display of Appendix E.2 with (38). For general problems
the calculators take the constants as arguments. Each bound at ``t = inf`` with a zero
initial term is its neighbourhood term alone.

Sign convention: ``lambda`` is the weight of the *teacher* term as in
[kd, Eqs. (2), (4), (5), (7)]; the distillation gradient is
``grad f_xi(x) - lambda grad f_xi(theta)``.

Inputs (DESIGN.md, "Inputs"): every function checks its hypotheses (``ValueError`` naming the
function, parameter, value and requirement; ``TypeError`` for a wrong type); constants implied by
the hypotheses are enforced (``mu <= L`` and ``mu <= cal_L`` follow from PL with smoothness or
with (10)); a result that would overflow float64 raises instead of returning inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from kdtheory.theory._checks import (require, require_array, require_in, require_int, require_positive, require_real,
                                     require_type)

__all__ = [
    # least squares and general finite sums
    "LeastSquaresConstants", "least_squares_constants", "ls_loss", "TeacherMoments", "teacher_moments",
    "moments_from_values", "moments_from_gradients",
    "RidgeLogisticConstants", "ridge_logistic_loss", "ridge_logistic_gradients", "ridge_logistic_constants",
    # Lemma 1
    "snr_beta", "correlation_rho", "correlation_rho_printed", "distilled_noise", "neighborhood", "lambda_star",
    "reduction_factor", "reduction_factor_direct", "reduction_factor_stable", "teacher_condition_34",
    "reduction_bound", "lambda_star_interval",
    # step sizes and Theorems 1-3
    "step_theorem1", "step_theorem2", "step_theorem3", "step_refresh_printed", "step_refresh_corrected",
    "refresh_phase_length", "refresh_factor", "theorem1_bound", "theorem1_neighborhood_explicit",
    "theorem2_bound", "theorem2_neighborhood_explicit", "theorem3_bound",
    # compression and Theorem 4
    "omega_rand_k", "omega_bernoulli", "omega_dithering", "theorem4_cal_L", "step_theorem4", "omega_max_theorem4",
    "capacity_ratio_max", "lemma6_AB", "theorem4_bound",
    # the nonconvex PL example
    "pl_example_f", "pl_example_grad", "pl_example_constants",
    # SymPy derivations
    "derive_lambda_star", "derive_reduction_ratio", "derive_reduction_inequality", "derive_theorem4_omega",
    "derive_unrolled_recursion", "derive_squared_loss_mixture",
]

MAX_ENTRIES = 10 ** 7        # n * d of a data matrix (the constants cost O(n d^2 + d^3))
MAX_DIM = 2000               # d of a data matrix (dense eigenproblems of size d)
MAX_CONDITION = 1e12         # lambda_max / lambda_min of the Hessian accepted as positive definite
CONSISTENCY = 1e-9           # relative slack for rounding in Jensen / Cauchy-Schwarz checks of given moments
PL_MAX_GRID = 10 ** 7        # grid points of pl_example_constants
PL_MAX_ABS_X = 1e150         # |x| of the PL example (x^2 stays finite)

# ----------------------------------------------------------------------------------------------
# private checks
# ----------------------------------------------------------------------------------------------


def _finite_result(value: Any, func: str, what: str, inputs: Any) -> Any:
    """Raise when a result that is mathematically finite does not fit in float64."""
    arr = np.asarray(value, dtype=float)
    require(bool(np.all(np.isfinite(arr))), "arguments", inputs,
            f"keep {what} within float64 range (it overflows)", func=func)
    return value


def _positive_result(value: float, func: str, what: str, inputs: Any) -> float:
    """A mathematically positive result must neither overflow nor underflow to 0."""
    _finite_result(value, func, what, inputs)
    require(value > 0, "arguments", inputs, f"keep {what} within float64 range (it underflows to 0)", func=func)
    return value


def _check_bool(x: Any, param: str, func: str) -> bool:
    require_type(isinstance(x, (bool, np.bool_)), param, x, "be True or False", func=func)
    return bool(x)


def _check_moments(m: Any, func: str) -> "TeacherMoments":
    require_type(isinstance(m, TeacherMoments), "m", m,
                 "be a TeacherMoments (from teacher_moments, moments_from_values or moments_from_gradients)", func=func)
    return m


def _check_times(t: Any, func: str) -> np.ndarray:
    """Times t >= 0 (a scalar or an array; inf allowed: the limit t -> inf)."""
    arr = require_array(t, "t", finite=False, func=func)
    require(bool(np.all(arr >= 0)), "t", t, "be >= 0", func=func)
    return arr


def _check_curvatures(mu: float, L: float | None, cal_L: float | None, func: str) -> None:
    """mu <= L (PL + L-smoothness) and mu <= cal_L (PL + (10)) are consequences of the hypotheses."""
    if L is not None:
        require(mu <= L, "L", L, f"be >= mu = {mu:g} (PL with L-smoothness implies mu <= L)", func=func)
    if cal_L is not None:
        require(mu <= cal_L, "cal_L", cal_L, f"be >= mu = {mu:g} (PL with (10) implies mu <= cal_L)", func=func)


def _contraction(gamma: float, mu: float, func: str) -> float:
    """(1 - gamma mu) must lie in [0, 1): the linear rate of Theorems 1-4."""
    require(gamma * mu <= 1, "gamma", gamma, f"satisfy gamma * mu <= 1 (mu = {mu:g}), else (1 - gamma mu)^t is undefined",
            func=func)
    return 1.0 - gamma * mu


def _rate(t: np.ndarray, gamma: float, mu: float, func: str) -> np.ndarray:
    """(1 - gamma mu)^t with 0^0 = 1 and q^inf = 0."""
    q = _contraction(gamma, mu, func)
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        return np.where(np.isinf(t), 0.0, np.power(q, np.where(np.isinf(t), 0.0, t)))


# ----------------------------------------------------------------------------------------------
# least squares: constants
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeastSquaresConstants:
    """Constants of ``f(x) = mean_i 1/2 (a_i^T x - b_i)^2`` with uniform single-sample ``xi``."""

    mu: float                 # strong convexity (= strong quasi-convexity = PL constant), lambda_min(H)
    L: float                  # smoothness of f, lambda_max(H)
    cal_L: float              # best expected-smoothness constant of Eq. (10)
    cal_L39: float            # best mean-square Lipschitz constant of Eq. (39)
    sigma_star_sq: float      # E ||grad f_xi(x*)||^2
    x_star: np.ndarray
    f_star: float
    H: np.ndarray
    M: np.ndarray             # mean_i ||a_i||^2 a_i a_i^T


def _check_ls(A: Any, b: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    A = require_array(A, "A", ndim=2, func=func)
    require(A.shape[0] >= 1 and A.shape[1] >= 1, "A", A, "be a non-empty (n, d) matrix", func=func)
    require(A.shape[1] <= MAX_DIM and A.size <= MAX_ENTRIES, "A", A,
            f"have d <= {MAX_DIM} columns and n d <= {MAX_ENTRIES} entries", func=func)
    b = require_array(b, "b", ndim=1, func=func)
    require(b.shape == (A.shape[0],), "b", b, f"have shape ({A.shape[0]},)", func=func)
    return A, b


def _check_vector(x: Any, param: str, d: int, func: str) -> np.ndarray:
    x = require_array(x, param, ndim=1, func=func)
    require(x.shape == (d,), param, x, f"have shape ({d},)", func=func)
    return x


def least_squares_constants(A: Any, b: Any) -> LeastSquaresConstants:
    """All constants of Assumptions 1-3 and Eq. (39) for finite-sum least squares [kd, Sec. 4.1].

    ``H`` must be positive definite (Assumption 1 with ``mu > 0``; condition number at most
    ``MAX_CONDITION``). The expected-smoothness constant is the smallest ``cal_L`` with
    ``E||grad f_xi(x)-grad f_xi(x*)||^2 <= 2 cal_L (f(x)-f*)``, i.e. ``lambda_max(H^{-1/2} M H^{-1/2})``;
    Eq. (39) needs ``cal_L39^2 = lambda_max(M)``.
    """
    func = "least_squares_constants"
    A, b = _check_ls(A, b, func)
    n, d = A.shape
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        H = A.T @ A / n
        norms = np.einsum("ij,ij->i", A, A)
        M = (A * norms[:, None]).T @ A / n
    require(bool(np.all(np.isfinite(H)) and np.all(np.isfinite(M))), "A", A,
            "have entries small enough that A^T A and mean ||a||^2 a a^T fit in float64", func=func)
    w, V = np.linalg.eigh(H)
    require(bool(w[-1] > 0 and w[0] > w[-1] / MAX_CONDITION), "A", A,
            f"give a positive definite Hessian A^T A / n with condition number <= {MAX_CONDITION:g} "
            "(Assumption 1 needs mu > 0)", func=func)
    Hm12 = (V / np.sqrt(w)) @ V.T
    cal_L = float(np.linalg.eigvalsh(Hm12 @ M @ Hm12)[-1])
    cal_L39 = float(np.sqrt(np.linalg.eigvalsh(M)[-1]))
    x_star = np.linalg.solve(H, A.T @ b / n)
    with np.errstate(over="ignore", invalid="ignore"):
        r = A @ x_star - b
        sigma_star_sq = float(np.mean(norms * r ** 2))
        f_star = float(0.5 * np.mean(r ** 2))
    _finite_result([sigma_star_sq, f_star, cal_L, cal_L39], func, "sigma_*^2, f* and cal_L", "A, b")
    return LeastSquaresConstants(mu=float(w[0]), L=float(w[-1]), cal_L=cal_L, cal_L39=cal_L39, sigma_star_sq=sigma_star_sq, x_star=x_star, f_star=f_star, H=H, M=M)


def ls_loss(A: Any, b: Any, x: Any) -> float:
    """``f(x) = mean_i 1/2 (a_i^T x - b_i)^2``."""
    A, b = _check_ls(A, b, "ls_loss")
    x = _check_vector(x, "x", A.shape[1], "ls_loss")
    with np.errstate(over="ignore", invalid="ignore"):
        r = A @ x - b
        val = float(0.5 * np.mean(r ** 2))
    return _finite_result(val, "ls_loss", "f(x)", "A, b, x")


@dataclass(frozen=True)
class TeacherMoments:
    """Second-order statistics of the stochastic gradients at a teacher ``theta`` [kd, Sec. C.1].

    ``grad_sq = ||grad f(theta)||^2``, ``sigma_theta_sq = E||grad f_xi(theta)||^2``,
    ``sigma_star_sq = E||grad f_xi(x*)||^2``, ``cross = E<grad f_xi(x*), grad f_xi(theta)>``,
    ``gap = f(theta) - f*``, ``diff_sq = E||grad f_xi(theta) - grad f_xi(x*)||^2``.
    Checked on construction: finite, second moments and gap >= 0, Jensen
    (``grad_sq <= sigma_theta_sq``) and Cauchy-Schwarz (``|cross| <= sigma_* sigma(theta)``) up to rounding.
    """

    grad_sq: float
    sigma_theta_sq: float
    sigma_star_sq: float
    cross: float
    gap: float
    diff_sq: float
    cross_diff: float | None = None   # E<grad f_xi(x*), grad f_xi(theta) - grad f_xi(x*)>, computed directly

    def __post_init__(self) -> None:
        func = "TeacherMoments"
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "cross_diff" and v is None:
                continue
            v = require_real(v, f.name, func=func)
            if f.name not in ("cross", "cross_diff"):
                require(v >= 0, f.name, v, "be >= 0", func=func)
            object.__setattr__(self, f.name, v)
        require(self.grad_sq <= self.sigma_theta_sq * (1 + CONSISTENCY), "grad_sq", self.grad_sq,
                f"be <= sigma_theta_sq = {self.sigma_theta_sq:g} (Jensen)", func=func)
        require(abs(self.cross) <= math.sqrt(self.sigma_star_sq) * math.sqrt(self.sigma_theta_sq) * (1 + CONSISTENCY),
                "cross", self.cross, "satisfy Cauchy-Schwarz |cross| <= sigma_* sigma(theta)", func=func)


def teacher_moments(A: Any, b: Any, theta: Any, consts: LeastSquaresConstants | None = None) -> TeacherMoments:
    """Exact teacher moments on least squares (all expectations are finite averages over rows)."""
    func = "teacher_moments"
    A, b = _check_ls(A, b, func)
    theta = _check_vector(theta, "theta", A.shape[1], func)
    require_type(consts is None or isinstance(consts, LeastSquaresConstants), "consts", consts,
                 "be None or the LeastSquaresConstants of (A, b)", func=func)
    c = consts or least_squares_constants(A, b)
    require(c.x_star.shape == (A.shape[1],), "consts", c, "belong to (A, b) (x_star of the same dimension)", func=func)
    with np.errstate(over="ignore", invalid="ignore"):
        norms = np.einsum("ij,ij->i", A, A)
        rs = A @ c.x_star - b
        rt = A @ theta - b
        g = c.H @ (theta - c.x_star)
        vals = dict(grad_sq=float(g @ g), sigma_theta_sq=float(np.mean(norms * rt ** 2)),
                    sigma_star_sq=float(np.mean(norms * rs ** 2)), cross=float(np.mean(norms * rs * rt)),
                    gap=float(0.5 * np.mean((rt - rs) ** 2)),  # = 1/2 (theta-x*)^T H (theta-x*): no cancellation
                    diff_sq=float(np.mean(norms * (rt - rs) ** 2)), cross_diff=float(np.mean(norms * rs * (rt - rs))))
    _finite_result(list(vals.values()), func, "the moments", "A, b, theta")
    vals["grad_sq"] = min(vals["grad_sq"], vals["sigma_theta_sq"])  # Jensen, exact up to rounding
    return TeacherMoments(**vals)


def moments_from_values(grad_sq: float, sigma_theta_sq: float, sigma_star_sq: float, cross: float,
                        gap: float = 0.0, diff_sq: float | None = None) -> TeacherMoments:
    """Teacher moments of a general problem, checked for consistency (Cauchy-Schwarz, Jensen)."""
    func = "moments_from_values"
    vals = {name: require_positive(v, name, strict=False, func=func)
            for name, v in (("grad_sq", grad_sq), ("sigma_theta_sq", sigma_theta_sq), ("sigma_star_sq", sigma_star_sq),
                            ("gap", gap))}
    cross = require_real(cross, "cross", func=func)
    require(vals["grad_sq"] <= vals["sigma_theta_sq"] * (1 + CONSISTENCY), "grad_sq", grad_sq,
            f"be <= sigma_theta_sq = {vals['sigma_theta_sq']:g} (Jensen)", func=func)
    require(abs(cross) <= math.sqrt(vals["sigma_star_sq"]) * math.sqrt(vals["sigma_theta_sq"]) * (1 + CONSISTENCY),
            "cross", cross, "satisfy Cauchy-Schwarz |cross| <= sigma_* sigma(theta)", func=func)
    if diff_sq is None:
        diff_sq = max(0.0, vals["sigma_theta_sq"] + vals["sigma_star_sq"] - 2 * cross)
    else:
        diff_sq = require_positive(diff_sq, "diff_sq", strict=False, func=func)
    _finite_result(diff_sq, func, "diff_sq", (grad_sq, sigma_theta_sq, sigma_star_sq, cross))
    return TeacherMoments(vals["grad_sq"], vals["sigma_theta_sq"], vals["sigma_star_sq"], cross, vals["gap"],
                          float(diff_sq))


def moments_from_gradients(grads_star: Any, grads_theta: Any, gap: float) -> TeacherMoments:
    """Teacher moments of any finite sum with uniform sampling, from its per-sample gradients.

    ``grads_star[i] = grad f_i(x*)`` and ``grads_theta[i] = grad f_i(theta)`` (shape (n, d));
    ``gap = f(theta) - f*``. Differences are formed row by row, so ``diff_sq`` and ``cross_diff``
    do not cancel for teachers near x*.
    """
    func = "moments_from_gradients"
    gs = require_array(grads_star, "grads_star", ndim=2, func=func)
    require(gs.size <= MAX_ENTRIES, "grads_star", gs, f"have at most {MAX_ENTRIES} entries", func=func)
    gt = require_array(grads_theta, "grads_theta", ndim=2, func=func)
    require(gt.shape == gs.shape, "grads_theta", gt, f"have the shape of grads_star {gs.shape}", func=func)
    gap = require_positive(gap, "gap", strict=False, func=func)
    with np.errstate(over="ignore", invalid="ignore"):
        D = gt - gs
        gbar = gt.mean(axis=0)
        vals = dict(grad_sq=float(gbar @ gbar), sigma_theta_sq=float(np.mean(np.sum(gt * gt, axis=1))),
                    sigma_star_sq=float(np.mean(np.sum(gs * gs, axis=1))), cross=float(np.mean(np.sum(gs * gt, axis=1))),
                    gap=gap, diff_sq=float(np.mean(np.sum(D * D, axis=1))), cross_diff=float(np.mean(np.sum(gs * D, axis=1))))
    _finite_result(list(vals.values()), func, "the moments", "grads_star, grads_theta")
    vals["grad_sq"] = min(vals["grad_sq"], vals["sigma_theta_sq"])
    return TeacherMoments(**vals)


# ----------------------------------------------------------------------------------------------
# ridge-regularised logistic regression: a non-quadratic finite sum inside Assumptions 1-3
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RidgeLogisticConstants:
    """Constants of ``f(x) = mean_i [log(1 + exp(-y_i a_i^T x)) + (r/2)||x||^2]`` (uniform ``xi``)."""

    mu: float                 # = r: strong convexity, hence strong quasi-convexity and PL
    L: float                  # r + lambda_max(A^T A / n)/4: smoothness of f
    cal_L: float              # r + max_i ||a_i||^2/4: a valid constant of (10) (each f_i convex, L_i-smooth)
    x_star: np.ndarray
    f_star: float
    sigma_star_sq: float      # E ||grad f_xi(x*)||^2


def _check_logistic(A: Any, y: Any, ridge: Any, func: str) -> tuple[np.ndarray, np.ndarray, float]:
    A = require_array(A, "A", ndim=2, func=func)
    require(A.shape[0] >= 1 and A.shape[1] >= 1, "A", A, "be a non-empty (n, d) matrix", func=func)
    require(A.shape[1] <= MAX_DIM and A.size <= MAX_ENTRIES, "A", A,
            f"have d <= {MAX_DIM} columns and n d <= {MAX_ENTRIES} entries", func=func)
    require(bool(np.max(np.abs(A)) <= 1e150), "A", A, "have entries of magnitude <= 1e150", func=func)
    y = require_array(y, "y", ndim=1, func=func)
    require(y.shape == (A.shape[0],) and bool(np.all(np.abs(y) == 1)), "y", y,
            f"be {A.shape[0]} labels in {{-1, +1}}", func=func)
    ridge = require_positive(ridge, "ridge", func=func)
    return A, y, ridge


def _logistic_parts(A: np.ndarray, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Margins z_i = y_i a_i^T x and s_i = sigma(-z_i) (no overflow for any finite z)."""
    z = y * (A @ x)
    return z, 0.5 * (1.0 - np.tanh(z / 2.0))


def ridge_logistic_loss(A: Any, y: Any, ridge: float, x: Any) -> float:
    """``f(x) = mean_i log(1 + exp(-y_i a_i^T x)) + (ridge/2) ||x||^2`` (labels ``y_i`` in {-1, +1})."""
    func = "ridge_logistic_loss"
    A, y, ridge = _check_logistic(A, y, ridge, func)
    x = _check_vector(x, "x", A.shape[1], func)
    with np.errstate(over="ignore", invalid="ignore"):
        z, _ = _logistic_parts(A, y, x)
        val = float(np.mean(np.logaddexp(0.0, -z)) + 0.5 * ridge * (x @ x))
    return _finite_result(val, func, "f(x)", "A, y, ridge, x")


def ridge_logistic_gradients(A: Any, y: Any, ridge: float, x: Any) -> np.ndarray:
    """Per-sample gradients ``grad f_i(x) = -y_i sigma(-y_i a_i^T x) a_i + ridge x``, shape (n, d)."""
    func = "ridge_logistic_gradients"
    A, y, ridge = _check_logistic(A, y, ridge, func)
    x = _check_vector(x, "x", A.shape[1], func)
    with np.errstate(over="ignore", invalid="ignore"):
        _, s = _logistic_parts(A, y, x)
        G = (-y * s)[:, None] * A + ridge * x[None, :]
    return _finite_result(G, func, "the gradients", "A, y, ridge, x")


def ridge_logistic_constants(A: Any, y: Any, ridge: float) -> RidgeLogisticConstants:
    """Constants of ridge logistic regression for Assumptions 1-3 [kd, Sec. 4.1].

    ``mu = ridge`` (strong convexity, so strong quasi-convexity (8) and PL (9) with the same
    constant), ``L = ridge + lambda_max(A^T A / n)/4``, and ``cal_L = ridge + max_i ||a_i||^2/4``
    satisfies (10): each ``f_i`` is convex and ``L_i``-smooth, so
    ``||grad f_i(x) - grad f_i(x*)||^2 <= 2 L_i (f_i(x) - f_i(x*) - <grad f_i(x*), x - x*>)``, averaged.
    ``x*`` by Newton's method with backtracking (quadratic convergence; at most 100 steps).
    """
    func = "ridge_logistic_constants"
    A, y, ridge = _check_logistic(A, y, ridge, func)
    n, d = A.shape
    L = ridge + float(np.linalg.eigvalsh(A.T @ A / n)[-1]) / 4
    cal_L = ridge + float(np.max(np.einsum("ij,ij->i", A, A))) / 4
    _finite_result([L, cal_L], func, "L and cal_L", "A, ridge")

    def loss(x):
        z, _ = _logistic_parts(A, y, x)
        return float(np.mean(np.logaddexp(0.0, -z)) + 0.5 * ridge * (x @ x))

    x = np.zeros(d)
    for _ in range(100):
        _, s = _logistic_parts(A, y, x)
        g = -(A.T @ (y * s)) / n + ridge * x
        Hx = (A * (s * (1.0 - s))[:, None]).T @ A / n + ridge * np.eye(d)
        step = np.linalg.solve(Hx, g)
        f0, t = loss(x), 1.0
        while loss(x - t * step) > f0 - 0.25 * t * float(g @ step) and t > 1e-12:
            t *= 0.5
        x_new = x - t * step
        done = float(np.linalg.norm(x_new - x)) <= 4 * np.finfo(float).eps * (1.0 + float(np.linalg.norm(x)))
        x = x_new
        if done:
            break
    _, s = _logistic_parts(A, y, x)
    g = -(A.T @ (y * s)) / n + ridge * x
    require(float(np.linalg.norm(g)) <= 1e-9 * L * (1.0 + float(np.linalg.norm(x))), "A", A,
            "give a problem on which Newton's method reaches grad f(x*) = 0 in 100 steps", func=func)
    G = (-y * s)[:, None] * A + ridge * x[None, :]
    return RidgeLogisticConstants(mu=ridge, L=L, cal_L=cal_L, x_star=x, f_star=loss(x),
                                  sigma_star_sq=float(np.mean(np.sum(G * G, axis=1))))


# ----------------------------------------------------------------------------------------------
# beta, rho, N(lambda), lambda_*  [kd, Eqs. (13)-(15), (31)-(33)]
# ----------------------------------------------------------------------------------------------


def snr_beta(m: TeacherMoments) -> float:
    """beta(theta) = ||grad f(theta)||^2 / E||grad f_xi(theta)||^2 in [0, 1] [kd, Eq. (31)]."""
    m = _check_moments(m, "snr_beta")
    require(m.sigma_theta_sq > 0, "m.sigma_theta_sq", m.sigma_theta_sq, "be > 0 (beta undefined)", func="snr_beta")
    return min(1.0, m.grad_sq / m.sigma_theta_sq)


def _variance_theta(m: TeacherMoments, func: str) -> float:
    var_t = m.sigma_theta_sq - m.grad_sq
    require(var_t > 0 and m.sigma_star_sq > 0, "m", m, "have positive gradient variances at x* and theta", func=func)
    return var_t


def correlation_rho(m: TeacherMoments) -> float:
    """Correlation of the stochastic gradients at x* and theta, as used in the proof of Lemma 1.

    ``Cov(x*, theta) / sqrt(Var(x*) Var(theta))`` with ``Var(x) = Cov(x, x)`` (the variance; the
    printed Eq. (32) writes ``Var := sqrt(Cov)``, see :func:`correlation_rho_printed`).
    """
    m = _check_moments(m, "correlation_rho")
    var_t = _variance_theta(m, "correlation_rho")
    r = m.cross / (math.sqrt(m.sigma_star_sq) * math.sqrt(var_t))
    return max(-1.0, min(1.0, r)) if abs(r) <= 1 + CONSISTENCY else r


def correlation_rho_printed(m: TeacherMoments) -> float:
    """Eq. (32) read literally: ``Var(x) := sqrt(Cov(x, x))``, so ``rho = Cov / (Cov_** Cov_tt)^(1/4)``."""
    m = _check_moments(m, "correlation_rho_printed")
    var_t = _variance_theta(m, "correlation_rho_printed")
    return _finite_result(m.cross / (m.sigma_star_sq ** 0.25 * var_t ** 0.25), "correlation_rho_printed", "rho", m)


def distilled_noise(lmbda: float, m: TeacherMoments) -> float:
    """E||grad f_xi(x*) - lambda grad f_xi(theta)||^2 (the variance term of N(lambda)); >= 0 by construction."""
    func = "distilled_noise"
    lmbda = require_real(lmbda, "lmbda", func=func)
    m = _check_moments(m, func)
    with np.errstate(over="ignore", invalid="ignore"):
        val = m.sigma_star_sq - 2 * lmbda * m.cross + lmbda * lmbda * m.sigma_theta_sq
    return max(0.0, _finite_result(float(val), func, "the noise term", (lmbda, m)))


def neighborhood(lmbda: float, m: TeacherMoments, *, c: float, gamma: float) -> float:
    """N(lambda) = lambda^2 ||grad f(theta)||^2 + c gamma E||grad f_xi(x*) - lambda grad f_xi(theta)||^2 [kd, Lemma 1]."""
    func = "neighborhood"
    lmbda = require_real(lmbda, "lmbda", func=func)
    m = _check_moments(m, func)
    c = require_positive(c, "c", strict=False, func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    noise = distilled_noise(lmbda, m)
    with np.errstate(over="ignore", invalid="ignore"):
        val = lmbda * lmbda * m.grad_sq + (c * gamma) * noise if c > 0 else lmbda * lmbda * m.grad_sq
    return _finite_result(float(val), func, "N(lambda)", (lmbda, c, gamma))


def lambda_star(m: TeacherMoments, *, c: float, gamma: float) -> float:
    """The minimiser of N(lambda) [kd, Eq. (33); Eq. (14) is c = 1].

    ``E<grad f_xi(x*), grad f_xi(theta)> / (E||grad f_xi(theta)||^2 + ||grad f(theta)||^2 / (c gamma))``.
    With ``c = 0`` the noise term vanishes and the minimiser is 0 (or any value if grad f(theta) = 0).
    """
    func = "lambda_star"
    m = _check_moments(m, func)
    c = require_positive(c, "c", strict=False, func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    if c == 0:
        return 0.0
    require(m.sigma_theta_sq > 0, "m.sigma_theta_sq", m.sigma_theta_sq,
            "be > 0 (all stochastic gradients vanish at theta)", func=func)
    cg = c * gamma
    with np.errstate(over="ignore", divide="ignore"):
        q = 0.0 if m.grad_sq == 0 else (m.grad_sq / cg if cg > 0 else math.inf)
    return float(m.cross / (m.sigma_theta_sq + q))


def _noise_ratio(beta: float, c: float, gamma: float) -> float:
    """beta / (c gamma), with the limits of an underflowing or overflowing product."""
    cg = c * gamma
    if beta == 0:
        return 0.0
    return math.inf if cg == 0 else beta / cg


def reduction_factor(rho: float, beta: float, *, c: float, gamma: float) -> float:
    """N(lambda_*)/N(0) = 1 - rho^2 (1 - beta) / (1 + beta/(c gamma)) [kd, Eq. (15), Lemma 1]."""
    func = "reduction_factor"
    rho = require_in(rho, "rho", -1.0, 1.0, func=func)
    beta = require_in(beta, "beta", 0.0, 1.0, func=func)
    c = require_positive(c, "c", func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    q = _noise_ratio(beta, c, gamma)
    return 1.0 - rho * rho * (1.0 - beta) / (1.0 + q)


def reduction_factor_direct(m: TeacherMoments, *, c: float, gamma: float) -> float:
    """N(lambda_*)/N(0) from the moments, without rho and beta: N at :func:`lambda_star` over N(0) = c gamma sigma_*^2."""
    func = "reduction_factor_direct"
    m = _check_moments(m, func)
    c = require_positive(c, "c", func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    require(m.sigma_star_sq > 0, "m.sigma_star_sq", m.sigma_star_sq, "be > 0 (N(0) = 0: nothing to reduce)", func=func)
    ls = lambda_star(m, c=c, gamma=gamma)
    cg = c * gamma
    if cg == 0 or not math.isfinite(m.grad_sq / cg if m.grad_sq else 0.0):
        return 1.0  # lambda_* -> 0 as c gamma -> 0: N(lambda_*)/N(0) -> 1
    # N(lambda)/(c gamma) = lambda^2 ||grad f(theta)||^2 / (c gamma) + noise(lambda)
    val = (ls * ls * (m.grad_sq / cg) + distilled_noise(ls, m)) / m.sigma_star_sq
    return _finite_result(float(val), func, "the ratio", m)


def reduction_factor_stable(m: TeacherMoments, *, c: float, gamma: float) -> float:
    """N(lambda_*)/N(0) without cancellation for teachers near x*:

    ``(sigma_*^2 E||D||^2 - E<g_*, D>^2 + sigma_*^2 ||grad f(theta)||^2/(c gamma)) / (sigma_*^2 (sigma^2(theta) + ||grad f(theta)||^2/(c gamma)))``
    with ``D = grad f_xi(theta) - grad f_xi(x*)`` (needs ``m.cross_diff``, as given by :func:`teacher_moments`
    or :func:`moments_from_gradients`).
    """
    func = "reduction_factor_stable"
    m = _check_moments(m, func)
    c = require_positive(c, "c", func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    require(m.cross_diff is not None, "m.cross_diff", None, "be available (use teacher_moments)", func=func)
    require(m.sigma_star_sq > 0 and m.sigma_theta_sq > 0, "m", m, "have sigma_*^2 > 0 and sigma^2(theta) > 0", func=func)
    cg = c * gamma
    q = 0.0 if m.grad_sq == 0 else (m.grad_sq / cg if cg > 0 else math.inf)
    if not math.isfinite(q):
        return 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        num = m.sigma_star_sq * m.diff_sq - m.cross_diff ** 2 + m.sigma_star_sq * q
        den = m.sigma_star_sq * (m.sigma_theta_sq + q)
    _finite_result([num, den], func, "the ratio's terms", m)
    return min(1.0, max(num, 0.0) / den)


def teacher_condition_34(m: TeacherMoments, cal_L: float) -> bool:
    """Condition (34): f(theta) - f* <= sigma(x*) sigma(theta) / cal_L [kd, Lemma 1 proof]."""
    m = _check_moments(m, "teacher_condition_34")
    cal_L = require_positive(cal_L, "cal_L", func="teacher_condition_34")
    return bool(m.gap <= math.sqrt(m.sigma_star_sq) * math.sqrt(m.sigma_theta_sq) / cal_L)


def reduction_bound(m: TeacherMoments, *, cal_L: float, L: float, c: float, gamma: float) -> float:
    """Explicit form of Lemma 1's O(.) under (34):

    ``N(lambda_*)/N(0) <= min(1, (2 cal_L/(sigma_* sigma(theta)) + 2L/(c gamma sigma^2(theta))) (f(theta)-f*))``.
    """
    func = "reduction_bound"
    m = _check_moments(m, func)
    cal_L = require_positive(cal_L, "cal_L", func=func)
    L = require_positive(L, "L", func=func)
    c = require_positive(c, "c", func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    require(m.sigma_star_sq > 0 and m.sigma_theta_sq > 0, "m", m, "have sigma_*^2 > 0 and sigma^2(theta) > 0", func=func)
    require(teacher_condition_34(m, cal_L), "m.gap", m.gap,
            "satisfy condition (34) f(theta)-f* <= sigma_* sigma(theta)/cal_L", func=func)
    if m.gap == 0:
        return 0.0
    st, ss = math.sqrt(m.sigma_theta_sq), math.sqrt(m.sigma_star_sq)
    with np.errstate(over="ignore", divide="ignore"):
        den = c * gamma * m.sigma_theta_sq
        k = 2 * cal_L / ss / st + (2 * L / den if den > 0 else math.inf)
    return float(min(1.0, k * m.gap))


def lambda_star_interval(m: TeacherMoments) -> tuple[float, float]:
    """Interval that always contains lambda_* (Cauchy-Schwarz): |lambda_*| <= sigma_*/sigma(theta)."""
    m = _check_moments(m, "lambda_star_interval")
    require(m.sigma_theta_sq > 0, "m.sigma_theta_sq", m.sigma_theta_sq, "be > 0 (lambda_* undefined)",
            func="lambda_star_interval")
    r = math.sqrt(m.sigma_star_sq) / math.sqrt(m.sigma_theta_sq)
    _finite_result(r, "lambda_star_interval", "sigma_*/sigma(theta)", m)
    return -r, r


# ----------------------------------------------------------------------------------------------
# step sizes, theorem bounds written out
# ----------------------------------------------------------------------------------------------


def step_theorem1(cal_L: float, *, proof: bool = False) -> float:
    """Largest step of Theorem 1: 1/(8 cal_L) as stated; the proof only needs 1/(4 cal_L)."""
    cal_L = require_positive(cal_L, "cal_L", func="step_theorem1")
    proof = _check_bool(proof, "proof", "step_theorem1")
    return _positive_result(1.0 / ((4 if proof else 8) * cal_L), "step_theorem1", "the step", cal_L)


def _mu_L_calL(mu: Any, L: Any, cal_L: Any, func: str) -> tuple[float, float, float]:
    mu = require_positive(mu, "mu", func=func)
    L = require_positive(L, "L", func=func)
    cal_L = require_positive(cal_L, "cal_L", func=func)
    _check_curvatures(mu, L, cal_L, func)
    return mu, L, cal_L


def step_theorem2(mu: float, L: float, cal_L: float) -> float:
    """Largest step of Theorem 2: mu / (4 cal_L L)."""
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, "step_theorem2")
    return _positive_result(mu / (4 * cal_L) / L, "step_theorem2", "the step", (mu, L, cal_L))


def step_theorem3(mu: float, L: float, cal_L: float) -> float:
    """Largest step of Theorem 3: mu / (3 L cal_L)."""
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, "step_theorem3")
    return _positive_result(mu / (3 * L) / cal_L, "step_theorem3", "the step", (mu, L, cal_L))


def step_refresh_printed(mu: float, L: float, cal_L: float) -> float:
    """Step size stated after Theorem 3 for the halving claim: mu / (12 L cal_L)."""
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, "step_refresh_printed")
    return _positive_result(mu / (12 * L) / cal_L, "step_refresh_printed", "the step", (mu, L, cal_L))


def step_refresh_corrected(mu: float, L: float, cal_L: float) -> float:
    """Step that makes the halving argument work: mu / (12 L (L + cal_L)) gives 3 gamma L (L+cal_L)/mu <= 1/4."""
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, "step_refresh_corrected")
    return _positive_result(mu / (12 * L) / (L + cal_L), "step_refresh_corrected", "the step", (mu, L, cal_L))


def refresh_phase_length(gamma: float, mu: float) -> int:
    """Smallest tau with (1 - gamma mu)^tau <= 1/4 (phase length of the corrected halving claim)."""
    func = "refresh_phase_length"
    gamma = require_positive(gamma, "gamma", func=func)
    mu = require_positive(mu, "mu", func=func)
    require(gamma * mu < 1, "gamma", gamma, f"satisfy gamma * mu < 1 (mu = {mu:g})", func=func)
    rate = -math.log1p(-gamma * mu)
    _positive_result(rate, func, "log(1/(1 - gamma mu))", (gamma, mu))
    tau = math.log(4.0) / rate
    _finite_result(tau, func, "the phase length", (gamma, mu))
    return max(1, int(math.ceil(tau)))


def refresh_factor(t: float, gamma: float, mu: float, L: float, cal_L: float) -> float:
    """(1 - gamma mu)^t + 3 gamma L (L + cal_L)/mu: the factor of f(x^0)-f* after one phase with theta = x^0."""
    func = "refresh_factor"
    t = require_real(t, "t", finite=False, func=func)
    require(t >= 0, "t", t, "be >= 0", func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, func)
    rate = float(_rate(np.asarray(t), gamma, mu, func))
    with np.errstate(over="ignore"):
        val = rate + 3 * gamma * L * (L + cal_L) / mu
    return _finite_result(float(val), func, "the factor", (t, gamma, mu, L, cal_L))


def _bound(transient: np.ndarray, neigh: float, func: str) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        out = transient + neigh
    return _finite_result(out, func, "the bound", "its arguments")


def theorem1_bound(t: Any, dist0_sq: float, lmbda: float, m: TeacherMoments, *, mu: float, gamma: float) -> np.ndarray:
    """Eq. (35): E||x^t - x*||^2 <= (1-gamma mu)^t ||x^0-x*||^2 + (8/mu^2) N_1(lambda), c = mu/4.

    Valid for every lambda and gamma <= 1/(4 cal_L) (the theorem states 1/(8 cal_L)). ``t`` may be an
    array and may contain ``inf``; at ``t = inf`` with ``dist0_sq = 0`` the value is the neighbourhood
    term alone.
    """
    func = "theorem1_bound"
    t = _check_times(t, func)
    dist0_sq = require_positive(dist0_sq, "dist0_sq", strict=False, func=func)
    lmbda = require_real(lmbda, "lmbda", func=func)
    m = _check_moments(m, func)
    mu = require_positive(mu, "mu", func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    _contraction(gamma, mu, func)
    neigh = neighborhood(lmbda, m, c=mu / 4, gamma=gamma)
    with np.errstate(over="ignore"):
        neigh_term = 8.0 / mu / mu * neigh
    _finite_result(neigh_term, func, "(8/mu^2) N_1(lambda)", (mu, gamma, lmbda))
    return _bound(_rate(t, gamma, mu, func) * dist0_sq, neigh_term, func)


def theorem1_neighborhood_explicit(m: TeacherMoments, *, mu: float, L: float, cal_L: float, gamma: float) -> float:
    """Eq. (11) written out: (2 sigma_*^2/mu) * gamma * min(1, K (f(theta)-f*)), K from Lemma 1, c = mu/4.

    Needs condition (34) for the K-branch; otherwise use min(1, .) = 1.
    """
    func = "theorem1_neighborhood_explicit"
    m = _check_moments(m, func)
    mu = require_positive(mu, "mu", func=func)
    L = require_positive(L, "L", func=func)
    cal_L = require_positive(cal_L, "cal_L", func=func)
    _check_curvatures(mu, L, cal_L, func)
    gamma = require_positive(gamma, "gamma", func=func)
    _positive_result(mu / 4, func, "c = mu/4", mu)
    ok = m.sigma_star_sq > 0 and m.sigma_theta_sq > 0 and teacher_condition_34(m, cal_L)
    ratio = reduction_bound(m, cal_L=cal_L, L=L, c=mu / 4, gamma=gamma) if ok else 1.0
    with np.errstate(over="ignore"):
        val = 2 * m.sigma_star_sq / mu * gamma * ratio
    return _finite_result(float(val), func, "the neighbourhood", (m, mu, gamma))


def theorem2_bound(t: Any, gap0: float, lmbda: float, m: TeacherMoments, *, mu: float, L: float, gamma: float) -> np.ndarray:
    """Eq. (36): E f(x^t) - f* <= (1-gamma mu)^t (f(x^0)-f*) + N_2(lambda)/mu, c = L, gamma <= mu/(4 cal_L L)."""
    func = "theorem2_bound"
    t = _check_times(t, func)
    gap0 = require_positive(gap0, "gap0", strict=False, func=func)
    mu = require_positive(mu, "mu", func=func)
    L = require_positive(L, "L", func=func)
    _check_curvatures(mu, L, None, func)
    lmbda = require_real(lmbda, "lmbda", func=func)
    m = _check_moments(m, func)
    gamma = require_positive(gamma, "gamma", func=func)
    _contraction(gamma, mu, func)
    with np.errstate(over="ignore"):
        neigh_term = neighborhood(lmbda, m, c=L, gamma=gamma) / mu
    _finite_result(neigh_term, func, "N_2(lambda)/mu", (mu, L, gamma, lmbda))
    return _bound(_rate(t, gamma, mu, func) * gap0, neigh_term, func)


def theorem2_neighborhood_explicit(m: TeacherMoments, *, mu: float, L: float, cal_L: float, gamma: float) -> float:
    """Eq. (12) written out: (L sigma_*^2/mu) gamma min(1, K (f(theta)-f*)) with c = L."""
    func = "theorem2_neighborhood_explicit"
    m = _check_moments(m, func)
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, func)
    gamma = require_positive(gamma, "gamma", func=func)
    ok = m.sigma_star_sq > 0 and m.sigma_theta_sq > 0 and teacher_condition_34(m, cal_L)
    ratio = reduction_bound(m, cal_L=cal_L, L=L, c=L, gamma=gamma) if ok else 1.0
    with np.errstate(over="ignore"):
        val = L * m.sigma_star_sq / mu * gamma * ratio
    return _finite_result(float(val), func, "the neighbourhood", (m, mu, L, gamma))


def theorem3_bound(t: Any, gap0: float, teacher_gap: float, *, mu: float, L: float, cal_L: float, gamma: float) -> np.ndarray:
    """Eq. (17): E f(x^t)-f* <= (1-gamma mu)^t (f(x^0)-f*) + 3 L (L+cal_L) gamma (f(theta)-f*)/mu."""
    func = "theorem3_bound"
    t = _check_times(t, func)
    gap0 = require_positive(gap0, "gap0", strict=False, func=func)
    teacher_gap = require_positive(teacher_gap, "teacher_gap", strict=False, func=func)
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, func)
    gamma = require_positive(gamma, "gamma", func=func)
    with np.errstate(over="ignore"):
        neigh_term = 3 * L * (L + cal_L) / mu * gamma * teacher_gap
    _finite_result(neigh_term, func, "3 L (L + cal_L) gamma (f(theta) - f*)/mu", (mu, L, cal_L, gamma, teacher_gap))
    return _bound(_rate(t, gamma, mu, func) * gap0, neigh_term, func)


# ----------------------------------------------------------------------------------------------
# compression (Section 6) and Theorem 4
# ----------------------------------------------------------------------------------------------


def omega_rand_k(d: int, k: int) -> float:
    """Variance parameter of rand-k sparsification (scaled by d/k): omega = d/k - 1 [kd, Sec. 7]."""
    d = require_int(d, "d", low=1, func="omega_rand_k")
    k = require_int(k, "k", low=1, high=d, func="omega_rand_k")
    return d / k - 1.0


def omega_bernoulli(p: float) -> float:
    """Bernoulli keep-and-rescale (keep each coordinate w.p. p, divide by p): omega = 1/p - 1."""
    p = require_in(p, "p", 0.0, 1.0, closed="right", func="omega_bernoulli")
    return _finite_result(1.0 / p - 1.0, "omega_bernoulli", "omega", p)


def omega_dithering(d: int, s: int) -> float:
    """QSGD random dithering with s levels (l2 norm): omega = min(d/s^2, sqrt(d)/s) [Alistarh et al.]."""
    d = require_int(d, "d", low=1, func="omega_dithering")
    s = require_int(s, "s", low=1, func="omega_dithering")
    return min(d / s / s, math.sqrt(d) / s)


def theorem4_cal_L(cal_L10: float, cal_L39: float) -> float:
    """Theorem 4 needs one cal_L satisfying both (10) and (39): the larger of the two best constants."""
    return max(require_positive(cal_L10, "cal_L10", func="theorem4_cal_L"),
               require_positive(cal_L39, "cal_L39", func="theorem4_cal_L"))


def step_theorem4(cal_L: float) -> float:
    """Largest step of Theorem 4: 1/(16 cal_L)."""
    cal_L = require_positive(cal_L, "cal_L", func="step_theorem4")
    return _positive_result(1.0 / (16 * cal_L), "step_theorem4", "the step", cal_L)


def omega_max_theorem4(gamma: float, *, mu: float, L: float, cal_L: float) -> float:
    """Largest omega with 2 gamma A + alpha (L - mu) <= 1/2 (proof of Theorem 4), alpha = 2 omega/mu:

    ``omega <= (mu/2) (1/2 - 4 gamma cal_L) / (2 gamma cal_L^2 + 2/gamma + L - mu)``.
    """
    func = "omega_max_theorem4"
    gamma = require_positive(gamma, "gamma", func=func)
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, func)
    require(gamma * cal_L <= 1 / 8, "gamma", gamma, f"be <= 1/(8 cal_L) = {1 / (8 * cal_L):g} (else no omega >= 0 works)",
            func=func)
    with np.errstate(over="ignore"):
        den = 2 * (gamma * cal_L) * cal_L + 2 / gamma + (L - mu)
        val = mu / 2 * (0.5 - 4 * gamma * cal_L) / den
    return _finite_result(float(val), func, "omega_max", (gamma, mu, L, cal_L))


def capacity_ratio_max(gamma: float, *, mu: float, L: float, cal_L: float) -> float:
    """Largest d/k that rand-k may use in Theorem 4's proof: 1 + omega_max (omega = d/k - 1) [kd, Sec. 7]."""
    func = "capacity_ratio_max"
    gamma = require_positive(gamma, "gamma", func=func)
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, func)
    require(gamma * cal_L <= 1 / 8, "gamma", gamma, f"be <= 1/(8 cal_L) = {1 / (8 * cal_L):g} (else no omega >= 0 works)",
            func=func)
    return 1.0 + omega_max_theorem4(gamma, mu=mu, L=L, cal_L=cal_L)


def lemma6_AB(omega: float, *, mu: float, cal_L: float, gamma: float, x_star_sq: float,
              printed: bool = False) -> tuple[float, float]:
    """A and B of Lemma 6. The proof gives ``B = (cal_L^2 + 1/gamma^2) nu``; ``printed=True`` uses the
    statement's ``B = (cal_L + 1/gamma^2) nu``. ``alpha = 2 omega/mu``, ``nu = 2 omega ||x*||^2``."""
    func = "lemma6_AB"
    omega = require_positive(omega, "omega", strict=False, func=func)
    mu = require_positive(mu, "mu", func=func)
    cal_L = require_positive(cal_L, "cal_L", func=func)
    _check_curvatures(mu, None, cal_L, func)
    gamma = require_positive(gamma, "gamma", func=func)
    x_star_sq = require_positive(x_star_sq, "x_star_sq", strict=False, func=func)
    printed = _check_bool(printed, "printed", func)
    with np.errstate(over="ignore", invalid="ignore"):
        alpha = 2 * omega / mu
        nu = 2 * omega * x_star_sq
        inv_g2 = 1 / gamma / gamma
        A = 2 * cal_L + (cal_L * cal_L + inv_g2) * alpha
        B = ((cal_L if printed else cal_L * cal_L) + inv_g2) * nu
    _finite_result([A, B], func, "A and B", (omega, mu, cal_L, gamma, x_star_sq))
    return float(A), float(B)


def theorem4_bound(t: Any, dist0_sq: float, lmbda: float, m: TeacherMoments, *, omega: float, mu: float, L: float,
                   cal_L: float, gamma: float, x_star_sq: float) -> np.ndarray:
    """Theorem 4 written out from its proof (Appendix E.2 with (38)), for y^0 = x^0:

    ``E||x^t-x*||^2 <= (2 omega+1) [(1-gamma mu)^t ||x^0-x*||^2 + D/(gamma mu)] + 2 omega ||x*||^2`` with
    ``D/(gamma mu) = (nu/mu)(2 gamma cal_L^2 + 2/gamma + L - mu) + (2/mu^2) N_3(lambda)``, ``c = 2 mu``.
    Requires gamma <= 1/(16 cal_L) and omega <= omega_max_theorem4 (not checked here: the bound is a formula).
    """
    func = "theorem4_bound"
    t = _check_times(t, func)
    dist0_sq = require_positive(dist0_sq, "dist0_sq", strict=False, func=func)
    omega = require_positive(omega, "omega", strict=False, func=func)
    mu, L, cal_L = _mu_L_calL(mu, L, cal_L, func)
    gamma = require_positive(gamma, "gamma", func=func)
    x_star_sq = require_positive(x_star_sq, "x_star_sq", strict=False, func=func)
    lmbda = require_real(lmbda, "lmbda", func=func)
    m = _check_moments(m, func)
    _contraction(gamma, mu, func)
    n3 = neighborhood(lmbda, m, c=2 * mu, gamma=gamma)
    with np.errstate(over="ignore", invalid="ignore"):
        nu = 2 * omega * x_star_sq
        neigh = nu / mu * (2 * gamma * cal_L * cal_L + 2 / gamma + (L - mu)) + 2 / mu / mu * n3
        out = (2 * omega + 1) * (_rate(t, gamma, mu, func) * dist0_sq + neigh) + 2 * omega * x_star_sq
    return _finite_result(out, func, "the bound", (omega, mu, L, cal_L, gamma, x_star_sq))


# ----------------------------------------------------------------------------------------------
# the nonconvex PL example for Theorem 2
# ----------------------------------------------------------------------------------------------


def _pl_x(x: Any, func: str) -> np.ndarray:
    x = require_array(x, "x", min_size=0, func=func)
    require(bool(np.all(np.abs(x) <= PL_MAX_ABS_X)), "x", x, f"have |x| <= {PL_MAX_ABS_X:g} (f(x) ~ x^2 stays finite)",
            func=func)
    return x


def pl_example_f(x: Any) -> np.ndarray:
    """f(x) = x^2 + 3 sin^2 x: nonconvex, PL, unique minimiser 0 with f* = 0 [Karimi et al.]."""
    x = _pl_x(x, "pl_example_f")
    return x ** 2 + 3 * np.sin(x) ** 2


def pl_example_grad(x: Any) -> np.ndarray:
    """f'(x) = 2x + 3 sin(2x)."""
    x = _pl_x(x, "pl_example_grad")
    return 2 * x + 3 * np.sin(2 * x)


def _pl_ratio(x: np.ndarray) -> np.ndarray:
    """f'(x)^2 / (2 f(x)) for x != 0."""
    return (2 * x + 3 * np.sin(2 * x)) ** 2 / (2 * (x ** 2 + 3 * np.sin(x) ** 2))


def _golden_min(fun, lo: float, hi: float, iters: int = 200) -> float:
    """Minimiser of a unimodal function on [lo, hi] by golden-section search (to rounding)."""
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = fun(c), fun(d)
    for _ in range(iters):
        if b - a <= 4 * np.finfo(float).eps * max(1.0, abs(a) + abs(b)):
            break
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = fun(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = fun(d)
    return (a + b) / 2


def pl_example_constants(*, grid: int = 400001, half_width: float = 40.0) -> dict:
    """mu (PL), L (sup |f''| = 8) and the expected-smoothness cal_L = sup f'^2/(2 f) of the PL example.

    With additive zero-mean gradient noise ``grad f_xi(x) = f'(x) + xi``, Eq. (10) reads
    ``f'(x)^2 <= 2 cal_L f(x)``. The ratio f'^2/(2f) is minimised on a grid of ``[-half_width, half_width]``
    and the minimum refined by golden-section search (so mu is the infimum to rounding, not a grid value
    above it); its supremum is the limit 8 at x -> 0. Outside the grid the ratio stays within
    ``[(2|x|-3)^2 / (2(x^2+3)), (2|x|+3)^2/(2 x^2)]``, which for ``|x| >= 10`` lies in [1.2, 2.7],
    far from both extremes.
    """
    func = "pl_example_constants"
    grid = require_int(grid, "grid", low=101, high=PL_MAX_GRID, func=func)
    half_width = require_in(half_width, "half_width", 10.0, 1e6, func=func)
    x = np.linspace(-half_width, half_width, grid)
    x = x[x != 0]
    r = _pl_ratio(x)
    i = int(np.argmin(r))
    h = 2 * half_width / (grid - 1)
    x_min = _golden_min(lambda z: float(_pl_ratio(np.asarray(z))), float(x[i]) - h, float(x[i]) + h)
    mu = min(float(_pl_ratio(np.asarray(x_min))), float(r[i]))
    return {"mu": mu, "L": 8.0, "cal_L": float(max(r.max(), 8.0)), "argmin_mu": float(x_min)}


# ----------------------------------------------------------------------------------------------
# SymPy derivations
# ----------------------------------------------------------------------------------------------


def derive_lambda_star():
    """SymPy: minimise N(lambda) = lambda^2 g + c gamma (s_* - 2 lambda p + lambda^2 s_t) [kd, Eq. (33)].

    Returns ``(expr, symbols)`` where symbols = (g, s_t, s_star, p, c, gamma).
    """
    import sympy as sp

    lam, g, st, ss, p, c, gam = sp.symbols("lambda g s_t s_star p c gamma", positive=True)
    N = lam ** 2 * g + c * gam * (ss - 2 * lam * p + lam ** 2 * st)
    sol = sp.solve(sp.diff(N, lam), lam)
    if len(sol) != 1:
        raise ArithmeticError(f"derive_lambda_star: expected one stationary point, got {sol}")
    return sp.simplify(sol[0]), (g, st, ss, p, c, gam)


def derive_reduction_ratio():
    """SymPy: N(lambda_*)/N(0) and the difference to Eq. (15) (returns ``(ratio, difference)``; difference == 0)."""
    import sympy as sp

    lam_star, (g, st, ss, p, c, gam) = derive_lambda_star()
    lam = sp.Symbol("lambda")
    N = lam ** 2 * g + c * gam * (ss - 2 * lam * p + lam ** 2 * st)
    ratio = sp.simplify(N.subs(lam, lam_star) / N.subs(lam, 0))
    rho2 = p ** 2 / (ss * (st - g))
    beta = g / st
    eq15 = 1 - rho2 * (1 - beta) / (1 + beta / (c * gam))
    return ratio, sp.simplify(ratio - eq15)


def derive_reduction_inequality():
    """SymPy: (2+v) u - (1 - (1-u)^2/(1+uv)) = u^2 (1+v)^2 / (1+uv) >= 0, the last step of Lemma 1."""
    import sympy as sp

    u, v = sp.symbols("u v", nonnegative=True)
    gap = (2 + v) * u - (1 - (1 - u) ** 2 / (1 + u * v))
    return sp.factor(sp.simplify(gap)), (u, v)


def derive_theorem4_omega():
    """SymPy: solve 2 gamma (2 cal_L + (cal_L^2 + 1/gamma^2) alpha) + alpha (L - mu) = 1/2 for alpha."""
    import sympy as sp

    a, gam, cl, L, mu = sp.symbols("alpha gamma calL L mu", positive=True)
    sol = sp.solve(sp.Eq(2 * gam * (2 * cl + (cl ** 2 + 1 / gam ** 2) * a) + a * (L - mu), sp.Rational(1, 2)), a)
    return sp.simplify(sol[0]), (gam, cl, L, mu)


def derive_unrolled_recursion():
    """SymPy: sum_{j<t} (1-eta)^j N = N (1 - (1-eta)^t)/eta <= N/eta [kd, Eq. (29)]."""
    import sympy as sp

    eta, N = sp.symbols("eta N", positive=True)
    t, j = sp.symbols("t j", integer=True, nonnegative=True)
    s = sp.summation((1 - eta) ** j * N, (j, 0, t - 1))
    return sp.simplify(s), (eta, N, t)


def derive_squared_loss_mixture():
    """SymPy: (1-l)(t-b)^2 + l (t-q)^2 - (t - ((1-l) b + l q))^2 = l (1-l) (b-q)^2 (independent of t)."""
    import sympy as sp

    l, t, b, q = sp.symbols("lambda t b q", real=True)
    return sp.factor(sp.expand((1 - l) * (t - b) ** 2 + l * (t - q) ** 2 - (t - ((1 - l) * b + l * q)) ** 2)), (l, t, b, q)
