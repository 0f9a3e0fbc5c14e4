r"""Closed forms for self-distillation in Hilbert space [sd] (Mobahi, Farajtabar, Bartlett).

Notation (the paper's): ``K`` training points, tolerance ``eps`` on the mean squared
training error (Eq. 1), Gram matrix ``G = V^T D V`` with eigenvalues ``d_k`` (Eqs. 16, 19),
rotated labels ``z = V y`` (Eq. 20), condition number ``kappa = d_max / d_min``.

The paper writes the non-collapse threshold on the label norm as ``sqrt(K) * eps``
(Eqs. 24-25, 37-44, 47-51).  The constraint of Eq. (1) is ``||f - y||^2 / K <= eps``, so the
zero function is feasible exactly when ``||y|| <= sqrt(K * eps)``: the threshold is
``sqrt(K * eps)``.  Every calculator whose printed formula carries ``sqrt(K) * eps`` therefore
comes twice: the plain name evaluates the formula as printed, the ``_corrected`` name the
same formula with ``sqrt(K * eps)``.  Both share the normalised label norm
``u0 = ||y0|| / threshold`` (Eq. 43 / Eq. 111), through which all of Props. 3-6 depend on eps.

SymPy is imported inside the ``derive_*`` functions only.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from kdtheory.theory._checks import require, require_finite, require_positive

# ---------------------------------------------------------------------------------------------
# Section 4: the Green's function of the second-derivative regulariser and Gram matrices
# ---------------------------------------------------------------------------------------------


def green_function(x, x_prime) -> np.ndarray:
    r"""Green's function of ``R(f) = \int_0^1 f''(x)^2 dx`` with ``f = f'' = 0`` at 0 and 1 [sd, Eq. (57)].

    ``g(x, x') = max(x - x', 0)^3 / 6 - x (1 - x') (x^2 - 2 x' + x'^2) / 6``; it solves
    ``d^4 g / dx^4 = delta(x - x')`` with the boundary conditions of Eq. (55) in ``x``
    (checked by :func:`derive_green_function`).  Broadcasts over ``x`` and ``x_prime``,
    both in ``[0, 1]``.  ``g`` vanishes identically when either argument is 0 or 1.
    """
    x = require_finite(x, "x")
    xp = require_finite(x_prime, "x_prime")
    require(bool(np.all((x >= 0) & (x <= 1))), "x", x, "lie in [0, 1] (the domain of Eq. 53)")
    require(bool(np.all((xp >= 0) & (xp <= 1))), "x_prime", xp, "lie in [0, 1] (the domain of Eq. 53)")
    return np.maximum(x - xp, 0.0) ** 3 / 6.0 - x * (1.0 - xp) * (x * x - 2.0 * xp + xp * xp) / 6.0


def green_function_series(x, x_prime, terms: int = 2000) -> np.ndarray:
    r"""Eigen-expansion of the same Green's function: ``sum_n 2 sin(n pi x) sin(n pi x') / (n pi)^4``.

    ``sin(n pi x)`` are the eigenfunctions of ``d^4/dx^4`` under the boundary conditions of
    [sd, Eq. (55)] with eigenvalues ``(n pi)^4``; the truncation error is below
    ``2 / (3 pi^4 terms^3)``.  An independent route to Eq. (57).
    """
    require(isinstance(terms, (int, np.integer)) and terms >= 1, "terms", terms, "be an integer >= 1")
    x = np.asarray(require_finite(x, "x"))
    xp = np.asarray(require_finite(x_prime, "x_prime"))
    n = np.arange(1, int(terms) + 1, dtype=float)
    sx = np.sin(np.pi * np.multiply.outer(x, n))
    sxp = np.sin(np.pi * np.multiply.outer(xp, n))
    w = 2.0 / (np.pi * n) ** 4
    return np.sum(sx * sxp * w, axis=-1)


def rbf_kernel(x, x_prime, *, length_scale: float = 1.0) -> np.ndarray:
    """Gaussian kernel ``exp(-||x - x'||^2 / (2 length_scale^2))`` between rows of ``x`` and ``x_prime``."""
    require_positive(length_scale, "length_scale")
    a, b = _rows(x, "x"), _rows(x_prime, "x_prime")
    sq = np.sum(a * a, 1)[:, None] + np.sum(b * b, 1)[None, :] - 2.0 * a @ b.T
    return np.exp(-np.maximum(sq, 0.0) / (2.0 * length_scale**2))


def polynomial_kernel(x, x_prime, *, degree: int = 3, offset: float = 1.0) -> np.ndarray:
    """Polynomial kernel ``(<x, x'> + offset)^degree`` between rows of ``x`` and ``x_prime``."""
    require(isinstance(degree, (int, np.integer)) and degree >= 1, "degree", degree, "be an integer >= 1")
    require_positive(offset, "offset", strict=False)
    a, b = _rows(x, "x"), _rows(x_prime, "x_prime")
    return (a @ b.T + offset) ** int(degree)


def _rows(x, name: str) -> np.ndarray:
    arr = require_finite(x, name, func="gram_matrix")
    if arr.ndim == 1:
        arr = arr[:, None]
    require(arr.ndim == 2 and arr.shape[0] >= 1, name, x, "be a non-empty 1-D or 2-D array of points", func="gram_matrix")
    return arr


def _spline(x, x_prime) -> np.ndarray:
    a, b = _rows(x, "x"), _rows(x_prime, "x_prime")
    require(a.shape[1] == 1 and b.shape[1] == 1, "x", a.shape, "be one-dimensional points for the spline kernel",
            func="gram_matrix")
    return green_function(a[:, 0][:, None], b[:, 0][None, :])


KERNELS: dict[str, Callable] = {"spline": _spline, "rbf": rbf_kernel, "polynomial": polynomial_kernel}


def kernel_matrix(x_eval, x, kernel: str | Callable = "spline", *, normalize: bool = True, **params) -> np.ndarray:
    r"""Matrix of kernel vectors ``g_x`` at evaluation points (rows) [sd, Eq. (17)].

    Row ``i`` is ``g_{x_i}^T``, entry ``g(x_eval[i], x[k]) / K`` (``/ K`` only when
    ``normalize``), so that the fitted function reads ``f(x) = g_x^T (c I + G)^{-1} y``
    (Eq. 18).  ``kernel`` is ``"spline"`` (Eq. 57, points in [0, 1]), ``"rbf"``,
    ``"polynomial"`` or a callable ``k(a, b) -> matrix``.
    """
    if callable(kernel):
        fn = kernel
    else:
        require(kernel in KERNELS, "kernel", kernel, f"be one of {sorted(KERNELS)} or a callable")
        fn = KERNELS[kernel]
    K = _rows(x, "x").shape[0]
    mat = np.asarray(fn(x_eval, x, **params), dtype=float)
    require(mat.ndim == 2 and mat.shape[1] == K, "kernel", kernel, "return an (n_eval, K) matrix")
    require(bool(np.all(np.isfinite(mat))), "kernel", kernel, "return finite values")
    return mat / K if normalize else mat


def gram_matrix(x, kernel: str | Callable = "spline", *, normalize: bool = True, **params) -> np.ndarray:
    r"""Gram matrix ``G[j, k] = g(x_j, x_k) / K`` of the training points [sd, Eq. (16)].

    Same kernels as :func:`kernel_matrix`; ``normalize=False`` drops the paper's ``1/K``.
    The result is symmetrised (``(G + G^T) / 2``) to remove rounding asymmetry.
    """
    G = kernel_matrix(x, x, kernel, normalize=normalize, **params)
    require(G.shape[0] == G.shape[1], "x", G.shape, "give a square Gram matrix")
    return 0.5 * (G + G.T)


def derive_green_function() -> dict:
    r"""SymPy: the piecewise cubic of Eq. (57) is the Green's function of ``d^4/dx^4`` [sd, Eqs. (53)-(57)].

    Returns the simplified residuals (all zero when the statement holds): fourth derivative
    on each piece, boundary values ``g, g''`` at ``x = 0, 1``, continuity of ``g, g', g''``
    at ``x = x'``, jump of ``g'''`` minus one, and symmetry ``g(x, x') - g(x', x)``.
    """
    import sympy as sp

    x, s = sp.symbols("x s", real=True)  # s plays x'
    right = (x - s) ** 3 / 6 - x * (1 - s) * (x**2 - 2 * s + s**2) / 6   # x > s
    left = -x * (1 - s) * (x**2 - 2 * s + s**2) / 6                    # x < s
    d = lambda e, n: sp.diff(e, x, n)
    res = {
        "fourth_derivative_left": sp.simplify(d(left, 4)),
        "fourth_derivative_right": sp.simplify(d(right, 4)),
        "g_at_0": sp.simplify(left.subs(x, 0)),
        "g_at_1": sp.simplify(right.subs(x, 1)),
        "g2_at_0": sp.simplify(d(left, 2).subs(x, 0)),
        "g2_at_1": sp.simplify(d(right, 2).subs(x, 1)),
        "jump_g0": sp.simplify((right - left).subs(x, s)),
        "jump_g1": sp.simplify(d(right - left, 1).subs(x, s)),
        "jump_g2": sp.simplify(d(right - left, 2).subs(x, s)),
        "jump_g3_minus_1": sp.simplify(d(right - left, 3).subs(x, s) - 1),
    }
    # symmetry: for x > s use `right`; the swapped value g(s, x) has s < x, i.e. the `left` branch
    swapped_left = left.subs({x: s, s: x}, simultaneous=True)
    res["symmetry"] = sp.simplify(right - swapped_left)
    res["diagonal"] = sp.factor(left.subs(s, x))   # g(x, x) = x^2 (1 - x)^2 / 3
    return res


# ---------------------------------------------------------------------------------------------
# Sections 2.1-2.3: collapse, training error, the interval for c
# ---------------------------------------------------------------------------------------------


def collapse_threshold(K: int, eps: float) -> float:
    r"""Label norm at and below which the constrained fit is the zero function [sd, Sec. 2.1].

    ``(1/K) ||y||^2 <= eps`` makes ``f = 0`` feasible, and ``R(f) = 0`` only for ``f = 0``,
    so the solution collapses iff ``||y|| <= sqrt(K eps)``.  (The paper writes the
    threshold as ``sqrt(K) eps`` from Eq. 24 on: see :func:`collapse_threshold_printed`.)
    """
    _check_K_eps(K, eps)
    return math.sqrt(K * eps)


def collapse_threshold_printed(K: int, eps: float) -> float:
    """The threshold as printed in [sd, Eqs. (24), (25), (44)]: ``sqrt(K) * eps`` (wrong unless eps = 1)."""
    _check_K_eps(K, eps)
    return math.sqrt(K) * eps


def is_collapsed(y, eps: float) -> bool:
    """True when the labels ``y`` admit the zero function as the solution: ``mean(y^2) <= eps`` [sd, Sec. 2.1]."""
    y = require_finite(y, "y")
    require_positive(eps, "eps")
    return bool(np.mean(y * y) <= eps)


def _check_K_eps(K, eps, func=None):
    require(isinstance(K, (int, np.integer)) and K >= 1, "K", K, "be an integer >= 1", func=func or "sd")
    require_positive(eps, "eps", func=func or "sd")


def training_error(z, d, c: float) -> float:
    r"""Mean squared training error of the fit with multiplier ``c`` in the eigenbasis [sd, Eq. (21)].

    ``(1/K) sum_k (z_k c / (c + d_k))^2`` with ``z = V y`` and ``d`` the eigenvalues of ``G``.
    """
    z = require_finite(z, "z")
    d = require_finite(d, "d")
    require(z.shape == d.shape and z.ndim == 1, "z", z.shape, f"have the shape of d {d.shape}")
    require(bool(np.all(d >= 0)), "d", d, "be non-negative (G positive semi-definite)")
    require_positive(c, "c")
    return float(np.mean((z * c / (c + d)) ** 2))


def _u0(z_norm, K, eps, printed: bool, func: str) -> float:
    require_positive(z_norm, "z_norm", func=func)
    _check_K_eps(K, eps, func)
    thr = math.sqrt(K) * eps if printed else math.sqrt(K * eps)
    require(z_norm > thr, "z_norm", z_norm,
            f"exceed the non-collapse threshold {'sqrt(K)*eps' if printed else 'sqrt(K*eps)'} = {thr:.6g} "
            "(labels not yet collapsed)", func=func)
    return z_norm / thr


def _check_spectrum(d_min, d_max, func):
    require_positive(d_min, "d_min", func=func)
    require(np.isfinite(d_max) and d_max >= d_min, "d_max", d_max, f"be finite and >= d_min = {d_min:.6g}", func=func)


def c_bounds(z_norm: float, K: int, eps: float, d_min: float, d_max: float) -> tuple[float, float]:
    r"""Interval for the multiplier ``c`` as printed [sd, Eqs. (24)-(25)], with threshold ``sqrt(K) eps``.

    ``d_min sqrt(K) eps / (||z|| - sqrt(K) eps) <= c <= d_max sqrt(K) eps / (||z|| - sqrt(K) eps)``.
    False in general (the threshold should be ``sqrt(K eps)``); use :func:`c_bounds_corrected`.
    """
    u0 = _u0(z_norm, K, eps, True, "c_bounds")
    _check_spectrum(d_min, d_max, "c_bounds")
    return d_min / (u0 - 1.0), d_max / (u0 - 1.0)


def c_bounds_corrected(z_norm: float, K: int, eps: float, d_min: float, d_max: float) -> tuple[float, float]:
    r"""Interval containing the unique root ``c > 0`` of ``h(c) = 0`` [sd, Eqs. (22)-(25), corrected].

    ``h(c) = (1/K) sum_k z_k^2 c^2 / (c + d_k)^2 - eps`` is increasing in ``c``; sandwiching every
    ``d_k`` between ``d_min`` and ``d_max`` gives the positive roots
    ``c = d sqrt(K eps) / (||z|| - sqrt(K eps))`` of the envelopes, so
    ``d_min s / (1 - s) <= c <= d_max s / (1 - s)`` with ``s = sqrt(K eps) / ||z|| < 1``.
    Each end is attained when ``z`` lies along an eigenvector of ``d_min`` / ``d_max``.
    ``d_min = 0`` (singular ``G``) is allowed and gives the lower end 0.
    """
    u0 = _u0(z_norm, K, eps, False, "c_bounds_corrected")
    require(np.isfinite(d_min) and d_min >= 0, "d_min", d_min, "be >= 0", func="c_bounds_corrected")
    require(np.isfinite(d_max) and d_max >= d_min and d_max > 0, "d_max", d_max,
            f"be finite, > 0 and >= d_min = {d_min:.6g}", func="c_bounds_corrected")
    return d_min / (u0 - 1.0), d_max / (u0 - 1.0)


def derive_c_bounds() -> dict:
    r"""SymPy: root structure of the envelopes of ``h`` behind Eqs. (22)-(24) [sd].

    With every ``d_k`` replaced by one value ``d`` the envelope is
    ``||z||^2 c^2 / (K (c + d)^2) - eps``; its numerator is a quadratic in ``c`` with the
    two roots returned here: the positive one ``d sqrt(K eps) / (||z|| - sqrt(K eps))`` (when
    ``||z|| > sqrt(K eps)``) and a spurious one in ``(-d, 0)``.
    """
    import sympy as sp

    c, d, z, K, eps = sp.symbols("c d z K epsilon", positive=True)
    cr = sp.Symbol("c_r", real=True)
    envelope = z**2 * cr**2 / (K * (cr + d) ** 2) - eps
    roots = sp.solve(sp.numer(sp.together(envelope)), cr)
    s = sp.sqrt(K * eps)
    positive = d * s / (z - s)
    negative = -d * s / (z + s)
    return {"roots": roots, "positive_root": positive, "negative_root": negative,
            "residuals": [sp.simplify(sp.numer(sp.together(envelope.subs(cr, r)))) for r in (positive, negative)]}


# ---------------------------------------------------------------------------------------------
# Proposition 3: bounds on the label norm per round
# ---------------------------------------------------------------------------------------------


def prop3_coefficients(u0: float, x: float) -> tuple[float, float]:
    r"""``a(x)``, ``b(x)`` of [sd, Eqs. (41)-(42)]: slope and minus intercept of the tangent at ``u0``.

    ``a(x) = ((u0 - 1)^2 + x (2 u0 - 1)) / (u0 - 1 + x)^2``, ``b(x) = u0^2 x / (u0 - 1 + x)^2``.
    They are the tangent at ``u = u0`` of ``phi_x(u) = u (u - 1) / (u - 1 + x)``, the map
    bounding one round (Eq. 114): convex for ``x >= 1``, concave for ``x <= 1``.
    """
    require(np.isfinite(u0) and u0 >= 1, "u0", u0, "be >= 1 (labels not yet collapsed)")
    require_positive(x, "x")
    den = (u0 - 1.0 + x) ** 2
    return ((u0 - 1.0) ** 2 + x * (2.0 * u0 - 1.0)) / den, u0 * u0 * x / den


def _affine_iterate(u0: float, x: float, t) -> np.ndarray:
    """t-fold iterate of the tangent map u -> a(x) u - b(x) started at u0, overflow-safe.

    ``a^t u0 - b (a^t - 1)/(a - 1) = u0 - (a^t - 1) u0 (u0 - 1 + x)/(1 - x)`` (x != 1), with
    ``a^t - 1 = expm1(t log1p(a - 1))`` and ``a - 1 = x (1 - x)/(u0 - 1 + x)^2``; ``u0 - t`` for x = 1.
    """
    t = np.asarray(t, dtype=float)
    if x == 1.0:
        return u0 - t
    am1 = x * (1.0 - x) / (u0 - 1.0 + x) ** 2
    with np.errstate(over="ignore", invalid="ignore"):
        g = np.expm1(t * np.log1p(am1))
        return u0 - g * (u0 * (u0 - 1.0 + x) / (1.0 - x))


def _prop3(u0: float, kappa: float, t) -> tuple[np.ndarray, np.ndarray]:
    return _affine_iterate(u0, kappa, t), _affine_iterate(u0, 1.0 / kappa, t)


def _check_t(t, func):
    t = np.asarray(t)
    require(bool(np.all(np.isfinite(t))) and bool(np.all(t >= 0)), "t", t, "be >= 0", func=func)


def label_norm_bounds(z0_norm: float, t, K: int, eps: float, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Lower bound of Prop. 3 and the upper bound of its proof on ``||z_t||``, as printed [sd, Eqs. (40), (122)].

    ``||z_t|| >= a^t(kappa) ||z_0|| - sqrt(K) eps b(kappa) (a^t(kappa) - 1) / (a(kappa) - 1)`` and the same
    with ``1/kappa`` from above, ``u0 = ||z_0|| / (sqrt(K) eps)``.  Uses the printed threshold
    ``sqrt(K) eps``; see :func:`label_norm_bounds_corrected`.
    """
    u0 = _u0(z0_norm, K, eps, True, "label_norm_bounds")
    require(np.isfinite(kappa) and kappa >= 1, "kappa", kappa, "be >= 1", func="label_norm_bounds")
    _check_t(t, "label_norm_bounds")
    lo, hi = _prop3(u0, kappa, t)
    thr = math.sqrt(K) * eps
    return lo * thr, hi * thr


def label_norm_bounds_corrected(z0_norm: float, t, K: int, eps: float, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Prop. 3 with the threshold ``sqrt(K eps)`` [sd, Eqs. (40), (122), corrected].

    Lower bound valid for every round ``t`` (after a collapse it is <= 0); the upper bound for
    every round whose predecessor has not collapsed.
    """
    u0 = _u0(z0_norm, K, eps, False, "label_norm_bounds_corrected")
    require(np.isfinite(kappa) and kappa >= 1, "kappa", kappa, "be >= 1", func="label_norm_bounds_corrected")
    _check_t(t, "label_norm_bounds_corrected")
    lo, hi = _prop3(u0, kappa, t)
    thr = math.sqrt(K * eps)
    return lo * thr, hi * thr


def label_norm_bounds_sharp(z0_norm: float, t, K: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Sharper, kappa-free bounds on ``||z_t||`` (not in the paper; proved in ``kdtheory.verify.sd``).

    In units of ``sqrt(K eps)``: ``u0 - t <= u_t <= sqrt(u0^2 - t)`` while no round before ``t``
    has collapsed.  Each round removes a residual of norm exactly ``sqrt(K eps)`` with a
    diagonal contraction ``A`` (0 <= A <= 1), so ``||A z|| >= ||z|| - ||(I - A) z||`` and
    ``||z||^2 >= ||A z||^2 + ||(I - A) z||^2``.  The lower end is attained by labels along one
    eigenvector; the upper is approached as ``kappa -> infinity``.
    """
    u0 = _u0(z0_norm, K, eps, False, "label_norm_bounds_sharp")
    _check_t(t, "label_norm_bounds_sharp")
    t = np.asarray(t, dtype=float)
    thr = math.sqrt(K * eps)
    return (u0 - t) * thr, np.sqrt(np.maximum(u0 * u0 - t, 0.0)) * thr


# ---------------------------------------------------------------------------------------------
# Proposition 4: guaranteed rounds
# ---------------------------------------------------------------------------------------------


def _check_kappa(kappa, func):
    require(np.isfinite(kappa) and kappa >= 1, "kappa", kappa, "be finite and >= 1 (condition number of G)", func=func)


def guaranteed_rounds(y0_norm: float, K: int, eps: float, kappa: float) -> float:
    r"""Guaranteed non-collapsing rounds as printed: ``(||y0|| / (sqrt(K) eps) - 1) / kappa`` [sd, Eq. (44)]."""
    u0 = _u0(y0_norm, K, eps, True, "guaranteed_rounds")
    _check_kappa(kappa, "guaranteed_rounds")
    return (u0 - 1.0) / kappa


def guaranteed_rounds_corrected(y0_norm: float, K: int, eps: float, kappa: float) -> float:
    r"""Prop. 4 with the threshold ``sqrt(K eps)``: ``(u0 - 1) / kappa``, ``u0 = ||y0|| / sqrt(K eps)`` [sd, Eq. (44)]."""
    u0 = _u0(y0_norm, K, eps, False, "guaranteed_rounds_corrected")
    _check_kappa(kappa, "guaranteed_rounds_corrected")
    return (u0 - 1.0) / kappa


def guaranteed_rounds_sharp(y0_norm: float, K: int, eps: float) -> float:
    r"""Sharp guarantee (not in the paper): every round ``t < u0 - 1`` is non-collapsing, for any ``kappa``.

    From ``u_t >= u0 - t`` (:func:`label_norm_bounds_sharp`); labels along one eigenvector of
    ``G`` collapse exactly at round ``ceil(u0 - 1)``, so no larger kappa-free guarantee exists.
    """
    u0 = _u0(y0_norm, K, eps, False, "guaranteed_rounds_sharp")
    return u0 - 1.0


def collapse_round_upper(y0_norm: float, K: int, eps: float) -> int:
    r"""Round by which the labels have surely collapsed (not in the paper): the first ``t >= u0^2 - 1``.

    From ``u_t^2 <= u0^2 - t`` (:func:`label_norm_bounds_sharp`).
    """
    u0 = _u0(y0_norm, K, eps, False, "collapse_round_upper")
    return int(math.ceil(u0 * u0 - 1.0 - 1e-12))


def zero_crossing_round(u0: float, kappa: float) -> float:
    r"""The round ``t`` at which the Prop. 3 lower bound (in units of the threshold) equals 1 [sd, Eq. (125)].

    ``t = log((1 + (kappa - 1)/u0^2) / (1 + (kappa - 1)/u0)) / log(1 - kappa (kappa - 1) / (u0 - 1 + kappa)^2)``;
    for ``kappa = 1`` the limit ``u0 - 1``.  Evaluated with ``log1p`` (no cancellation).
    """
    require(np.isfinite(u0) and u0 > 1, "u0", u0, "be > 1 (labels not yet collapsed)")
    _check_kappa(kappa, "zero_crossing_round")
    if kappa == 1.0:
        return u0 - 1.0
    num = math.log1p((kappa - 1.0) / (u0 * u0)) - math.log1p((kappa - 1.0) / u0)
    den = math.log1p(-kappa * (kappa - 1.0) / (u0 - 1.0 + kappa) ** 2)
    return num / den


def derive_guaranteed_rounds() -> dict:
    r"""SymPy: solve ``lower_t = 1`` for ``t`` and simplify both printed forms of Eq. (125) [sd].

    Returns the ratio inside the logarithm from the solve, the two printed forms, their
    differences (zero), the asymptotic slope of ``t(u0)`` (``1/kappa``) and ``t(1)`` (zero).
    """
    import sympy as sp

    u, k = sp.symbols("u0 kappa", positive=True)
    a = ((u - 1) ** 2 + k * (2 * u - 1)) / (u - 1 + k) ** 2
    b = u**2 * k / (u - 1 + k) ** 2
    # lower_t = a^t u - b (a^t - 1)/(a - 1) = 1  <=>  a^t = (1 - a + b) / (b + u (1 - a))
    ratio_solve = sp.simplify((1 - a + b) / (b + u * (1 - a)))
    ratio_printed = (1 + (k - 1) / u**2) / (1 + (k - 1) / u)
    a_printed = 1 - ((k - 1) / u + 1 / u) * ((k - 1) / u) / (1 + (k - 1) / u) ** 2
    t_expr = sp.log(ratio_printed) / sp.log(a_printed)
    slope_inf = sp.limit(t_expr / u, u, sp.oo)
    return {"ratio": ratio_solve,
            "ratio_minus_printed": sp.simplify(ratio_solve - ratio_printed),
            "a_minus_printed": sp.simplify(a - a_printed),
            "one_minus_a": sp.factor(sp.simplify(1 - a)),
            "t": t_expr, "slope_at_infinity": sp.simplify(slope_inf),
            "t_at_u0_equal_1": sp.simplify(ratio_printed.subs(u, 1))}


# ---------------------------------------------------------------------------------------------
# Propositions 5 and 6: ratio of diagonal entries of B_t, dependence on eps
# ---------------------------------------------------------------------------------------------


def _ratio_base(u0, d_min, d_j, d_k):
    return (u0 - 1.0 + d_min / d_j) / (u0 - 1.0 + d_min / d_k)


def _check_pair(d_min, d_j, d_k, func):
    require_positive(d_min, "d_min", func=func)
    require(np.isfinite(d_j) and d_j >= d_min, "d_j", d_j, f"be >= d_min = {d_min:.6g}", func=func)
    require(np.isfinite(d_k) and d_k > d_j, "d_k", d_k, f"exceed d_j = {d_j:.6g} (Prop. 5 needs d_k > d_j)", func=func)


def ratio_bound(y0_norm: float, K: int, eps: float, d_min: float, d_j: float, d_k: float, t, *,
                kappa: float | None = None) -> np.ndarray:
    r"""Lower bound of Prop. 5 on ``B_t[k,k] / B_t[j,j]`` as printed (threshold ``sqrt(K) eps``) [sd, Eq. (47)].

    ``((u0 - 1 + d_min/d_j) / (u0 - 1 + d_min/d_k))^(t + 1)`` for ``d_k > d_j``; with ``kappa``
    given, the hypothesis ``t <= (u0 - 1)/kappa`` is enforced.
    """
    return _ratio_bound(y0_norm, K, eps, d_min, d_j, d_k, t, kappa, True, "ratio_bound")


def ratio_bound_corrected(y0_norm: float, K: int, eps: float, d_min: float, d_j: float, d_k: float, t, *,
                          kappa: float | None = None) -> np.ndarray:
    r"""Prop. 5 with the threshold ``sqrt(K eps)`` [sd, Eq. (47), corrected].

    The proof only needs round ``t`` not collapsed, so the bound holds for every such ``t``
    (the hypothesis ``t <= (u0 - 1)/kappa`` guarantees it; enforced when ``kappa`` is given).
    """
    return _ratio_bound(y0_norm, K, eps, d_min, d_j, d_k, t, kappa, False, "ratio_bound_corrected")


def _ratio_bound(y0_norm, K, eps, d_min, d_j, d_k, t, kappa, printed, func):
    u0 = _u0(y0_norm, K, eps, printed, func)
    _check_pair(d_min, d_j, d_k, func)
    _check_t(t, func)
    if kappa is not None:
        _check_kappa(kappa, func)
        require(bool(np.all(np.asarray(t) <= (u0 - 1.0) / kappa + 1e-12)), "t", t,
                f"be <= (u0 - 1)/kappa = {(u0 - 1.0) / kappa:.6g} (Prop. 5 hypothesis)", func=func)
    return _ratio_base(u0, d_min, d_j, d_k) ** (np.asarray(t, dtype=float) + 1.0)


def ratio_bound_sharp(y0_norm: float, K: int, eps: float, d_min: float, d_j: float, d_k: float, t: int) -> float:
    r"""Sharper Prop. 5 (not in the paper): ``prod_{i<=t} (U_i - 1 + d_min/d_j) / (U_i - 1 + d_min/d_k)``.

    ``U_i = sqrt(u0^2 - i)`` is the sharp upper bound on ``u_i`` (:func:`label_norm_bounds_sharp`)
    and replaces the paper's ``u_i <= u0``; valid for every non-collapsed round ``t``
    (which forces ``U_t > 1``).
    """
    u0 = _u0(y0_norm, K, eps, False, "ratio_bound_sharp")
    _check_pair(d_min, d_j, d_k, "ratio_bound_sharp")
    require(isinstance(t, (int, np.integer)) and 0 <= t < u0 * u0 - 1, "t", t,
            f"be an integer in [0, u0^2 - 1) = [0, {u0 * u0 - 1:.6g}) (round not collapsed)")
    U = np.sqrt(u0 * u0 - np.arange(int(t) + 1, dtype=float))
    return float(np.prod((U - 1.0 + d_min / d_j) / (U - 1.0 + d_min / d_k)))


def sparsity_bound(y0_norm: float, K: int, eps: float, d_min: float, d_j: float, d_k: float, kappa: float) -> float:
    r"""Right-hand side of Prop. 6 as printed: the Prop. 5 bound at ``t = (u0 - 1)/kappa`` [sd, Eqs. (50)-(51), (137)].

    ``h = (L/S)^p`` with ``L = u0 - 1 + d_min/d_j``, ``S = u0 - 1 + d_min/d_k``, ``p = 1 + (u0 - 1)/kappa``,
    ``u0 = ||y0|| / (sqrt(K) eps)``.  Increasing in eps (Prop. 6, checked in ``kdtheory.verify.sd``).
    """
    u0 = _u0(y0_norm, K, eps, True, "sparsity_bound")
    return _sparsity(u0, d_min, d_j, d_k, kappa, "sparsity_bound")


def sparsity_bound_corrected(y0_norm: float, K: int, eps: float, d_min: float, d_j: float, d_k: float,
                             kappa: float) -> float:
    r"""Prop. 6's function with ``u0 = ||y0|| / sqrt(K eps)`` [sd, Eq. (138), corrected threshold]."""
    u0 = _u0(y0_norm, K, eps, False, "sparsity_bound_corrected")
    return _sparsity(u0, d_min, d_j, d_k, kappa, "sparsity_bound_corrected")


def _sparsity(u0, d_min, d_j, d_k, kappa, func):
    _check_pair(d_min, d_j, d_k, func)
    _check_kappa(kappa, func)
    require(d_k <= kappa * d_min * (1 + 1e-12), "d_k", d_k, f"be <= kappa * d_min = {kappa * d_min:.6g}", func=func)
    p = 1.0 + (u0 - 1.0) / kappa
    return float(np.exp(p * math.log1p((d_min / d_j - d_min / d_k) / (u0 - 1.0 + d_min / d_k))))


def sparsity_bound_limits(d_min: float, d_j: float, d_k: float, kappa: float) -> tuple[float, float]:
    r"""Limits of Prop. 6's function (not in the paper): ``eps -> 0`` and ``eps -> collapse``.

    As ``u0 -> infinity`` (eps -> 0) ``h -> exp((d_min/d_j - d_min/d_k)/kappa)``, at most ``e^{1/kappa}``;
    as ``u0 -> 1`` (eps up to the collapse threshold) ``h -> d_k / d_j``.  Since ``h`` increases
    with eps, the guaranteed sparsity is weakest in the near-interpolation regime.
    """
    _check_pair(d_min, d_j, d_k, "sparsity_bound_limits")
    _check_kappa(kappa, "sparsity_bound_limits")
    return math.exp((d_min / d_j - d_min / d_k) / kappa), d_k / d_j


def sparsity_bound_derivative(y0_norm: float, K: int, eps: float, d_min: float, d_j: float, d_k: float,
                              kappa: float) -> float:
    r"""``dh/deps`` by the proof's final form [sd, Eq. (149)] with ``u0 = ||y0|| / sqrt(K eps)``.

    ``h q / kappa * ((p kappa / S + log S) - (p kappa / L + log L))`` with
    ``q = ||z0|| / (2 eps sqrt(K eps)) = -du0/deps``.  (The printed ``L' = -||z0||/(2 eps sqrt(K) eps)``
    is the derivative for the threshold ``sqrt(K eps)``; with the printed ``sqrt(K) eps`` it would be
    ``-||z0|| / (sqrt(K) eps^2)``.)
    """
    u0 = _u0(y0_norm, K, eps, False, "sparsity_bound_derivative")
    h = _sparsity(u0, d_min, d_j, d_k, kappa, "sparsity_bound_derivative")
    L, S = u0 - 1.0 + d_min / d_j, u0 - 1.0 + d_min / d_k
    p = 1.0 + (u0 - 1.0) / kappa
    q = y0_norm / (2.0 * eps * math.sqrt(K * eps))
    # (p kappa / S + log S) - (p kappa / L + log L), written without cancellation (L - S = d_min/d_j - d_min/d_k)
    diff = d_min / d_j - d_min / d_k
    return h * q / kappa * (p * kappa * diff / (L * S) - math.log1p(diff / S))


def derive_sparsity_bound_derivative() -> dict:
    r"""SymPy: differentiate Prop. 6's ``h(eps)`` and compare with Eq. (149) [sd].

    Returns ``dh/deps`` (threshold ``sqrt(K eps)``), Eq. (149), their simplified difference
    (zero), the derivative ``dL/deps`` under both thresholds, and ``d log h / dw`` in
    ``w = u0 - 1`` whose sign decides monotonicity.
    """
    import sympy as sp

    eps, K, z, dm, dj, dk, k = sp.symbols("epsilon K z d_min d_j d_k kappa", positive=True)
    u0 = z / sp.sqrt(K * eps)
    L, S = u0 - 1 + dm / dj, u0 - 1 + dm / dk
    p = 1 + (u0 - 1) / k
    h = (L / S) ** p
    dh = sp.diff(h, eps)
    q = z / (2 * eps * sp.sqrt(K * eps))
    eq149 = h * q / k * ((p * k / S + sp.log(S)) - (p * k / L + sp.log(L)))
    w, al, be = sp.symbols("w alpha beta", positive=True)
    logh_w = (1 + w / k) * (sp.log(w + al) - sp.log(w + be))
    # d log h / d eps = h'/h, differentiated from log h = p (log L - log S): compare with Eq. (149) / h
    dlog = sp.diff(p * (sp.log(L) - sp.log(S)), eps)
    return {"dh": dh, "eq149": eq149, "difference": sp.simplify(sp.expand(dlog - eq149 / h)),
            "dL_sqrt_K_eps": sp.diff(L, eps),
            "dL_printed_threshold": sp.diff(z / (sp.sqrt(K) * eps), eps),
            "dlogh_dw": sp.diff(logh_w, w), "h": h, "symbols": (eps, K, z, dm, dj, dk, k)}
