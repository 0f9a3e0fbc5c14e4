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
``u0 = ||y0|| / threshold`` (Eq. 43 / Eq. 111), through which all of Props. 3-6 depend on eps;
``u0 - 1`` is always formed as ``(||y0|| - threshold) / threshold`` (no cancellation).

The bound calculators broadcast over NumPy arrays (``K`` is one integer); they return a float
for scalar arguments.  Every public function checks its arguments (``ValueError`` /
``TypeError`` naming function and parameter) and never returns NaN: a result that does not
fit in float64 raises a named ``ValueError`` instead of returning inf.  Integer-valued
answers that decide a round (:func:`collapse_round_upper`, :func:`ratio_bound_last_round`)
are computed exactly from the floats given (rational arithmetic), so a round is never
misjudged by rounding.

SymPy is imported inside the ``derive_*`` functions only.
"""

from __future__ import annotations

import functools
import math
import numbers
from fractions import Fraction
from typing import Callable

import numpy as np

from kdtheory.theory._checks import (require, require_array, require_choice, require_int, require_positive,
                                     require_real, require_type)

__all__ = [
    # Section 4: Green's function, kernels, Gram matrices
    "green_function", "green_function_series", "rbf_kernel", "polynomial_kernel", "kernel_matrix", "gram_matrix",
    "derive_green_function",
    # Sections 2.1-2.3: collapse, training error, the interval for c
    "collapse_threshold", "collapse_threshold_printed", "is_collapsed", "training_error",
    "c_bounds", "c_bounds_corrected", "derive_c_bounds",
    # Proposition 3
    "prop3_coefficients", "label_norm_bounds", "label_norm_bounds_corrected", "label_norm_bounds_sharp",
    # Proposition 4
    "guaranteed_rounds", "guaranteed_rounds_corrected", "guaranteed_rounds_sharp", "collapse_round_upper",
    "zero_crossing_round", "derive_guaranteed_rounds",
    # Propositions 5 and 6
    "ratio_bound", "ratio_bound_corrected", "ratio_bound_sharp", "ratio_bound_last_round",
    "ratio_bound_last_round_corrected", "sparsity_bound", "sparsity_bound_corrected", "sparsity_bound_limits",
    "sparsity_bound_derivative", "derive_sparsity_bound_derivative",
]

_MAX_K = 2 ** 53               # K is an exact integer in float64
_MAX_ENTRIES = 50_000_000      # entries of any array a calculator builds (400 MB of float64)
_MAX_TERMS = 1_000_000         # eigen-expansion terms of the Green's function
_MAX_DEGREE = 100              # degree of the polynomial kernel
_MAX_SHARP_ROUNDS = 10_000_000  # rounds of the product in ratio_bound_sharp

# ---------------------------------------------------------------------------------------------
# argument checks shared by the calculators
# ---------------------------------------------------------------------------------------------


def _public(func: Callable) -> Callable:
    """Make ``func`` answer every input by a value or a named error.

    Float64 overflow inside a formula (OverflowError, ZeroDivisionError) and a result that is
    not a finite number are reported as ``ValueError`` naming the function: the arguments are
    valid but the answer does not fit in float64.
    """
    name = func.__name__

    @functools.wraps(func)
    def checked(*args, **kwargs):
        try:
            with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
                out = func(*args, **kwargs)
        except (OverflowError, ZeroDivisionError, FloatingPointError) as exc:
            raise ValueError(f"{name}: the arguments must keep every intermediate value within float64, "
                             f"got {_show_args(args, kwargs)} ({exc})") from None
        _require_representable(out, name, args, kwargs)
        return out

    return checked


def _show_args(args, kwargs) -> str:
    parts = [np.array2string(a, precision=4, threshold=6) if isinstance(a, np.ndarray) else repr(a) for a in args]
    parts += [f"{k}={v!r}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    return text if len(text) <= 200 else text[:197] + "..."


def _require_representable(out, name, args, kwargs) -> None:
    values = out if isinstance(out, tuple) else (out,)
    for v in values:
        if isinstance(v, (bool, np.bool_, int)):
            continue
        a = np.asarray(v, dtype=float)
        if not np.all(np.isfinite(a)):
            what = "NaN" if np.any(np.isnan(a)) else "inf"
            raise ValueError(f"{name}: the arguments must give a result representable in float64 (it would be "
                             f"{what}: an intermediate over- or underflows), got {_show_args(args, kwargs)}")


def _reals(x, param: str, func: str, *, positive: bool = False, nonneg: bool = False) -> np.ndarray:
    """A real scalar or array, finite (and > 0 / >= 0 when asked)."""
    arr = require_array(x, param, finite=True, min_size=1, max_size=_MAX_ENTRIES, func=func)
    if positive:
        require(bool(np.all(arr > 0)), param, x, "be > 0", func=func)
    if nonneg:
        require(bool(np.all(arr >= 0)), param, x, "be >= 0", func=func)
    return arr


def _broadcast(func: str, **arrays) -> list[np.ndarray]:
    """Broadcast the named arrays together (a named error if their shapes do not fit)."""
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        names = list(arrays)
        require(False, names[-1], tuple(a.shape for a in arrays.values()),
                f"have a shape that broadcasts with {', '.join(names[:-1])}", func=func)
    require(math.prod(shape) <= _MAX_ENTRIES, list(arrays)[0], shape, f"broadcast to at most {_MAX_ENTRIES} entries",
            func=func)
    return [np.broadcast_to(a, shape) for a in arrays.values()]


def _out(x, scalar: bool):
    return float(np.asarray(x)) if scalar else np.asarray(x, dtype=float)


def _count_K(K, func: str) -> int:
    return require_int(K, "K", low=1, high=_MAX_K, func=func)


def _thresholds(K: int, eps: np.ndarray, printed: bool) -> np.ndarray:
    """``sqrt(K) eps`` (printed) or ``sqrt(K eps)`` (one rounding; ``sqrt(K) sqrt(eps)`` where ``K eps`` leaves
    the normal float range)."""
    if printed:
        return math.sqrt(K) * eps
    with np.errstate(over="ignore"):
        prod = K * eps
    return np.where(np.isfinite(prod) & (prod >= 1e-300), np.sqrt(prod), math.sqrt(K) * np.sqrt(eps))


def _units(z_norm, K, eps, printed: bool, func: str, param: str = "z_norm"):
    """``u0 = ||z|| / threshold`` and ``w = u0 - 1 = (||z|| - threshold) / threshold`` (no cancellation).

    Requires ``||z||`` above the threshold of the variant (labels not collapsed).
    """
    z = _reals(z_norm, param, func, positive=True)
    K = _count_K(K, func)
    e = _reals(eps, "eps", func, positive=True)
    z, e = _broadcast(func, **{param: z, "eps": e})
    thr = _thresholds(K, e, printed)
    name = "sqrt(K)*eps" if printed else "sqrt(K*eps)"
    require(bool(np.all(z > thr)), param, z_norm,
            f"exceed the non-collapse threshold {name} = {_first(thr, z <= thr):.6g} (labels not yet collapsed)",
            func=func)
    u0 = z / thr
    require(bool(np.all(np.isfinite(u0))), param, z_norm,
            f"be at most 1.8e308 times the threshold {name} (u0 = ||z|| / threshold finite in float64)", func=func)
    w = (z - thr) / thr
    return u0, w, thr, K


def _first(values: np.ndarray, mask: np.ndarray) -> float:
    """The first entry of ``values`` where ``mask`` holds (for messages)."""
    v = np.asarray(values, dtype=float).ravel()
    m = np.asarray(mask).ravel()
    return float(v[np.flatnonzero(m)[0]]) if m.any() else float(v[0])


def _kappa(kappa, func: str) -> np.ndarray:
    k = _reals(kappa, "kappa", func)
    require(bool(np.all(k >= 1)), "kappa", kappa, "be >= 1 (condition number of G)", func=func)
    return k


def _scalar(*xs) -> bool:
    """All arguments are scalars (decided without converting them: they are checked afterwards)."""
    return all(isinstance(x, (numbers.Real, np.number)) or (isinstance(x, np.ndarray) and x.ndim == 0) for x in xs)


def _choice(x, param: str, choices: tuple, func: str):
    """One of the string ``choices`` (a ``TypeError`` for a non-string)."""
    require_type(isinstance(x, str), param, x, f"be one of {choices}", func=func)
    return require_choice(x, param, choices, func=func)


# ---------------------------------------------------------------------------------------------
# Section 4: the Green's function of the second-derivative regulariser and Gram matrices
# ---------------------------------------------------------------------------------------------


def _unit_interval(x, param: str, func: str) -> np.ndarray:
    arr = require_array(x, param, finite=True, min_size=1, max_size=_MAX_ENTRIES, func=func)
    require(bool(np.all((arr >= 0) & (arr <= 1))), param, x, "lie in [0, 1] (the domain of Eq. 53)", func=func)
    return arr


@_public
def green_function(x, x_prime) -> np.ndarray:
    r"""Green's function of ``R(f) = \int_0^1 f''(x)^2 dx`` with ``f = f'' = 0`` at 0 and 1 [sd, Eq. (57)].

    ``g(x, x') = max(x - x', 0)^3 / 6 - x (1 - x') (x^2 - 2 x' + x'^2) / 6``; it solves
    ``d^4 g / dx^4 = delta(x - x')`` with the boundary conditions of Eq. (55) in ``x``
    (checked by :func:`derive_green_function`).  Broadcasts over ``x`` and ``x_prime``,
    both in ``[0, 1]``.  ``g`` vanishes identically when either argument is 0 or 1.
    """
    x = _unit_interval(x, "x", "green_function")
    xp = _unit_interval(x_prime, "x_prime", "green_function")
    x, xp = _broadcast("green_function", x=x, x_prime=xp)
    return np.maximum(x - xp, 0.0) ** 3 / 6.0 - x * (1.0 - xp) * (x * x - 2.0 * xp + xp * xp) / 6.0


@_public
def green_function_series(x, x_prime, terms: int = 2000) -> np.ndarray:
    r"""Eigen-expansion of the same Green's function: ``sum_n 2 sin(n pi x) sin(n pi x') / (n pi)^4``.

    ``sin(n pi x)`` are the eigenfunctions of ``d^4/dx^4`` under the boundary conditions of
    [sd, Eq. (55)] with eigenvalues ``(n pi)^4``; the truncation error is below
    ``2 / (3 pi^4 terms^3)``.  An independent route to Eq. (57).  Summed in blocks of terms
    (bounded memory); ``terms`` at most 10^6.
    """
    func = "green_function_series"
    terms = require_int(terms, "terms", low=1, high=_MAX_TERMS, func=func)
    x = _unit_interval(x, "x", func)
    xp = _unit_interval(x_prime, "x_prime", func)
    x, xp = _broadcast(func, x=x, x_prime=xp)
    require(x.size * terms <= 20 * _MAX_ENTRIES, "terms", terms,
            f"keep points x terms at most {20 * _MAX_ENTRIES:g} (here {x.size} points)", func=func)
    out = np.zeros(x.shape)
    block = max(1, min(terms, _MAX_ENTRIES // (4 * max(1, x.size))))
    for start in range(1, terms + 1, block):
        n = np.arange(start, min(terms, start + block - 1) + 1, dtype=float)
        w = 2.0 / (np.pi * n) ** 4
        out += np.sum(np.sin(np.pi * np.multiply.outer(x, n)) * np.sin(np.pi * np.multiply.outer(xp, n)) * w, axis=-1)
    return out


def _rows(x, name: str, func: str) -> np.ndarray:
    arr = require_array(x, name, ndim=(1, 2), finite=True, min_size=1, max_size=_MAX_ENTRIES, func=func)
    return arr[:, None] if arr.ndim == 1 else arr


def _pair_rows(x, x_prime, func: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = _rows(x, "x", func), _rows(x_prime, "x_prime", func)
    require(a.shape[1] == b.shape[1], "x_prime", b.shape, f"have points of the dimension of x ({a.shape[1]})",
            func=func)
    require(a.shape[0] * b.shape[0] <= _MAX_ENTRIES, "x_prime", b.shape,
            f"give at most {_MAX_ENTRIES} kernel entries with x ({a.shape[0]} points)", func=func)
    return a, b


@_public
def rbf_kernel(x, x_prime, *, length_scale: float = 1.0) -> np.ndarray:
    """Gaussian kernel ``exp(-||x - x'||^2 / (2 length_scale^2))`` between rows of ``x`` and ``x_prime``.

    Distances are summed from coordinate differences (not ``|x|^2 + |x'|^2 - 2 x.x'``), so equal
    points give exactly 1 and no cancellation occurs at any scale.
    """
    func = "rbf_kernel"
    ell = require_positive(length_scale, "length_scale", func=func)
    a, b = _pair_rows(x, x_prime, func)
    out = np.empty((a.shape[0], b.shape[0]))
    block = max(1, _MAX_ENTRIES // (8 * max(1, b.shape[0] * a.shape[1])))
    for i in range(0, a.shape[0], block):
        # (a - b) / ell, halved first so that neither the difference nor the division overflows needlessly
        diff = (0.5 * a[i:i + block, None, :] - 0.5 * b[None, :, :]) / ell
        out[i:i + block] = np.exp(-2.0 * np.einsum("ijk,ijk->ij", diff, diff))
    return out


@_public
def polynomial_kernel(x, x_prime, *, degree: int = 3, offset: float = 1.0) -> np.ndarray:
    """Polynomial kernel ``(<x, x'> + offset)^degree`` between rows of ``x`` and ``x_prime`` (degree <= 100)."""
    func = "polynomial_kernel"
    degree = require_int(degree, "degree", low=1, high=_MAX_DEGREE, func=func)
    offset = require_positive(offset, "offset", strict=False, func=func)
    a, b = _pair_rows(x, x_prime, func)
    return (a @ b.T + offset) ** degree


def _spline(x, x_prime) -> np.ndarray:
    a, b = _pair_rows(x, x_prime, "kernel_matrix")
    require(a.shape[1] == 1, "x", a.shape, "be one-dimensional points for the spline kernel", func="kernel_matrix")
    return green_function(a[:, 0][:, None], b[:, 0][None, :])


# Kernel names -> functions, looked up at call time (late binding: a wrapped or patched
# rbf_kernel / polynomial_kernel is what gram_matrix and kernel_matrix then call).
_KERNELS: dict[str, str] = {"spline": "_spline", "rbf": "rbf_kernel", "polynomial": "polynomial_kernel"}


@_public
def kernel_matrix(x_eval, x, kernel: str | Callable = "spline", *, normalize: bool = True, **params) -> np.ndarray:
    r"""Matrix of kernel vectors ``g_x`` at evaluation points (rows) [sd, Eq. (17)].

    Row ``i`` is ``g_{x_i}^T``, entry ``g(x_eval[i], x[k]) / K`` (``/ K`` only when
    ``normalize``), so that the fitted function reads ``f(x) = g_x^T (c I + G)^{-1} y``
    (Eq. 18).  ``kernel`` is ``"spline"`` (Eq. 57, points in [0, 1]), ``"rbf"``,
    ``"polynomial"`` or a callable ``k(a, b) -> matrix``; ``params`` go to the kernel.
    """
    func = "kernel_matrix"
    if callable(kernel):
        fn = kernel
    else:
        _choice(kernel, "kernel", tuple(_KERNELS), func)
        fn = globals()[_KERNELS[kernel]]
    require_type(isinstance(normalize, (bool, np.bool_)), "normalize", normalize, "be True or False", func=func)
    K = _rows(x, "x", func).shape[0]
    n_eval = _rows(x_eval, "x_eval", func).shape[0]
    mat = np.asarray(fn(x_eval, x, **params), dtype=float)
    require(mat.shape == (n_eval, K), "kernel", kernel, f"return an ({n_eval}, {K}) matrix", func=func)
    require(bool(np.all(np.isfinite(mat))), "kernel", kernel, "return finite values", func=func)
    return mat / K if normalize else mat


@_public
def gram_matrix(x, kernel: str | Callable = "spline", *, normalize: bool = True, **params) -> np.ndarray:
    r"""Gram matrix ``G[j, k] = g(x_j, x_k) / K`` of the training points [sd, Eq. (16)].

    Same kernels as :func:`kernel_matrix`; ``normalize=False`` drops the paper's ``1/K``.
    The result is symmetrised (``(G + G^T) / 2``) to remove rounding asymmetry.
    """
    _rows(x, "x", "gram_matrix")
    try:
        G = kernel_matrix(x, x, kernel, normalize=normalize, **params)
    except (ValueError, TypeError) as exc:          # the same check, in this function's name
        raise type(exc)("gram_matrix: " + str(exc).partition(": ")[2]) from None
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


@_public
def collapse_threshold(K: int, eps: float) -> float:
    r"""Label norm at and below which the constrained fit is the zero function [sd, Sec. 2.1].

    ``(1/K) ||y||^2 <= eps`` makes ``f = 0`` feasible, and ``R(f) = 0`` only for ``f = 0``,
    so the solution collapses iff ``||y|| <= sqrt(K eps)``.  (The paper writes the
    threshold as ``sqrt(K) eps`` from Eq. 24 on: see :func:`collapse_threshold_printed`.)
    """
    K = _count_K(K, "collapse_threshold")
    eps = require_positive(eps, "eps", func="collapse_threshold")
    return float(_thresholds(K, np.asarray(eps), False))


@_public
def collapse_threshold_printed(K: int, eps: float) -> float:
    """The threshold as printed in [sd, Eqs. (24), (25), (44)]: ``sqrt(K) * eps`` (wrong unless eps = 1)."""
    K = _count_K(K, "collapse_threshold_printed")
    eps = require_positive(eps, "eps", func="collapse_threshold_printed")
    return math.sqrt(K) * eps


def _two_prod(a: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Error-free product ``a * b = p + e`` (Dekker), for |a|, |b| well inside the float64 range."""
    p = a * b
    split = 134217729.0
    t = split * a
    ah = t - (t - a)
    al = a - ah
    t = split * b
    bh = t - (t - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@_public
def is_collapsed(y, eps: float) -> bool:
    """True when the labels ``y`` admit the zero function as the solution: ``mean(y^2) <= eps`` [sd, Sec. 2.1].

    Decided exactly for the floats given: the labels are rescaled by a power of two, every
    square is split error-free and the sum is rounded once (``math.fsum``), so the sign of
    ``||y||^2 - K eps`` is exact (rational arithmetic for entries below 2^-480 of the largest).
    """
    func = "is_collapsed"
    y = require_array(y, "y", ndim=1, finite=True, min_size=1, max_size=_MAX_ENTRIES, func=func)
    eps = require_positive(eps, "eps", func=func)
    K = y.size
    top = float(np.max(np.abs(y)))
    if top == 0.0:
        return True
    e = math.frexp(top)[1]
    ys = np.ldexp(y, -e)                    # exact: max |ys| in [1/2, 1)
    eps_s = math.ldexp(eps, -2 * e)         # the comparison is invariant under this rescaling
    if eps_s >= 1.0:                        # ||ys||^2 < K <= K eps_s
        return True
    if eps_s < 2.0 ** -1000:                # ||ys||^2 >= 1/4 > K eps_s (K <= 2^53)
        return False
    nz = ys[ys != 0]
    if np.min(np.abs(nz)) < 2.0 ** -480:    # squares could underflow: exact rationals
        total = sum(Fraction(float(v)) ** 2 for v in nz)
        return bool(total <= K * Fraction(eps_s))
    p, err = _two_prod(ys, ys)
    kp, kerr = _two_prod(np.array([float(K)]), eps_s)
    return bool(math.fsum([*p.tolist(), *err.tolist(), -float(kp[0]), -float(kerr[0])]) <= 0.0)


@_public
def training_error(z, d, c: float) -> float:
    r"""Mean squared training error of the fit with multiplier ``c`` in the eigenbasis [sd, Eq. (21)].

    ``(1/K) sum_k (z_k c / (c + d_k))^2`` with ``z = V y`` and ``d`` the eigenvalues of ``G``.
    """
    func = "training_error"
    z = require_array(z, "z", ndim=1, finite=True, min_size=1, max_size=_MAX_ENTRIES, func=func)
    d = require_array(d, "d", ndim=1, finite=True, min_size=1, max_size=_MAX_ENTRIES, func=func)
    require(z.shape == d.shape, "z", z.shape, f"have the shape of d {d.shape}", func=func)
    require(bool(np.all(d >= 0)), "d", d, "be non-negative (G positive semi-definite)", func=func)
    c = require_positive(c, "c", func=func)
    v = z / (1.0 + d / c)                   # z c / (c + d) without forming c + d
    top = float(np.max(np.abs(v)))
    if top == 0.0:
        return 0.0
    rms = top * math.sqrt(float(np.mean((v / top) ** 2)))
    return rms * rms


@_public
def c_bounds(z_norm, K: int, eps, d_min, d_max) -> tuple:
    r"""Interval for the multiplier ``c`` as printed [sd, Eqs. (24)-(25)], with threshold ``sqrt(K) eps``.

    ``d_min sqrt(K) eps / (||z|| - sqrt(K) eps) <= c <= d_max sqrt(K) eps / (||z|| - sqrt(K) eps)``.
    False in general (the threshold should be ``sqrt(K eps)``); use :func:`c_bounds_corrected`.
    """
    return _c_bounds(z_norm, K, eps, d_min, d_max, True, "c_bounds")


@_public
def c_bounds_corrected(z_norm, K: int, eps, d_min, d_max) -> tuple:
    r"""Interval containing the unique root ``c > 0`` of ``h(c) = 0`` [sd, Eqs. (22)-(25), corrected].

    ``h(c) = (1/K) sum_k z_k^2 c^2 / (c + d_k)^2 - eps`` is increasing in ``c``; sandwiching every
    ``d_k`` between ``d_min`` and ``d_max`` gives the positive roots
    ``c = d sqrt(K eps) / (||z|| - sqrt(K eps))`` of the envelopes, so
    ``d_min s / (1 - s) <= c <= d_max s / (1 - s)`` with ``s = sqrt(K eps) / ||z|| < 1``.
    Each end is attained when ``z`` lies along an eigenvector of ``d_min`` / ``d_max``.
    ``d_min = 0`` (singular ``G``) is allowed and gives the lower end 0.
    """
    return _c_bounds(z_norm, K, eps, d_min, d_max, False, "c_bounds_corrected")


def _c_bounds(z_norm, K, eps, d_min, d_max, printed, func):
    scalar = _scalar(z_norm, eps, d_min, d_max)
    _, w, _, _ = _units(z_norm, K, eps, printed, func)
    lo = _reals(d_min, "d_min", func, positive=printed, nonneg=not printed)
    hi = _reals(d_max, "d_max", func, positive=True)
    w, lo, hi = _broadcast(func, z_norm=w, d_min=lo, d_max=hi)
    require(bool(np.all(hi >= lo)), "d_max", d_max, "be >= d_min", func=func)
    return _out(lo / w, scalar), _out(hi / w, scalar)


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


def _tangent(w: np.ndarray, x: np.ndarray):
    """``a(x)``, ``a(x) - 1``, ``b(x)`` and ``(u0 - 1 + x) / 2``, overflow-free (``w = u0 - 1``).

    ``a`` is summed from positive terms (accurate when small, large kappa) and ``a - 1`` is formed
    as the product ``x (1 - x) / (u0 - 1 + x)^2`` (accurate near ``a = 1``).
    """
    h = 0.5 * w + 0.5 * x                      # (u0 - 1 + x) / 2, never overflows
    p = (0.5 * w) / h                          # (u0 - 1) / (u0 - 1 + x)
    q = (0.5 * x) / h                          # x / (u0 - 1 + x)
    a = p * p + q * ((w + 0.5) / h)            # ((u0 - 1)^2 + x (2 u0 - 1)) / (u0 - 1 + x)^2
    am1 = q * ((0.5 * (1.0 - x)) / h)          # a(x) - 1 = x (1 - x) / (u0 - 1 + x)^2
    v = (0.5 * (w + 1.0)) / h                  # u0 / (u0 - 1 + x)
    return a, am1, v * v * x, h


@_public
def prop3_coefficients(u0, x) -> tuple:
    r"""``a(x)``, ``b(x)`` of [sd, Eqs. (41)-(42)]: slope and minus intercept of the tangent at ``u0``.

    ``a(x) = ((u0 - 1)^2 + x (2 u0 - 1)) / (u0 - 1 + x)^2``, ``b(x) = u0^2 x / (u0 - 1 + x)^2``.
    They are the tangent at ``u = u0`` of ``phi_x(u) = u (u - 1) / (u - 1 + x)``, the map
    bounding one round (Eq. 114): convex for ``x >= 1``, concave for ``x <= 1``.
    """
    func = "prop3_coefficients"
    scalar = _scalar(u0, x)
    u = _reals(u0, "u0", func)
    require(bool(np.all(u >= 1)), "u0", u0, "be >= 1 (labels not yet collapsed)", func=func)
    xx = _reals(x, "x", func, positive=True)
    u, xx = _broadcast(func, u0=u, x=xx)
    a, _, b, _ = _tangent(u - 1.0, xx)
    return _out(a, scalar), _out(b, scalar)


def _affine_iterate(w: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """t-fold iterate of the tangent map ``u -> a(x) u - b(x)`` from ``u0 = 1 + w``, overflow-safe.

    ``a^t u0 - b (a^t - 1)/(a - 1) = u0 - u0 (u0 - 1 + x) (a^t - 1)/(1 - x)`` with
    ``(a^t - 1)/(1 - x) = expm1(t log1p(a - 1)) / (1 - x)``, whose value at ``x = 1`` is the limit
    ``t x / (u0 - 1 + x)^2`` (the removable singularity of the closed form).
    """
    _, am1, _, h = _tangent(w, x)
    u0 = w + 1.0
    growth = np.expm1(t * np.log1p(am1))
    one_minus_x = 1.0 - x
    at_one = one_minus_x == 0.0
    ratio = np.where(at_one, t * x / (2.0 * h) / (2.0 * h), growth / np.where(at_one, 1.0, one_minus_x))
    return u0 - ratio * u0 * (2.0 * h)


def _times(t, func: str) -> np.ndarray:
    tt = _reals(t, "t", func)
    require(bool(np.all(tt >= 0)), "t", t, "be >= 0 (rounds)", func=func)
    return tt


def _label_norm_bounds(z0_norm, t, K, eps, kappa, printed, func):
    scalar = _scalar(z0_norm, t, eps, kappa)
    _, w, thr, _ = _units(z0_norm, K, eps, printed, func, "z0_norm")
    tt = _times(t, func)
    k = _kappa(kappa, func)
    w, thr, tt, k = _broadcast(func, z0_norm=w, eps=thr, t=tt, kappa=k)
    lo = _affine_iterate(w, k, tt)
    hi = _affine_iterate(w, 1.0 / k, tt)
    return _out(lo * thr, scalar), _out(hi * thr, scalar)


@_public
def label_norm_bounds(z0_norm, t, K: int, eps, kappa) -> tuple:
    r"""Lower bound of Prop. 3 and the upper bound of its proof on ``||z_t||``, as printed [sd, Eqs. (40), (122)].

    ``||z_t|| >= a^t(kappa) ||z_0|| - sqrt(K) eps b(kappa) (a^t(kappa) - 1) / (a(kappa) - 1)`` and the same
    with ``1/kappa`` from above, ``u0 = ||z_0|| / (sqrt(K) eps)``.  Uses the printed threshold
    ``sqrt(K) eps``; see :func:`label_norm_bounds_corrected`.
    """
    return _label_norm_bounds(z0_norm, t, K, eps, kappa, True, "label_norm_bounds")


@_public
def label_norm_bounds_corrected(z0_norm, t, K: int, eps, kappa) -> tuple:
    r"""Prop. 3 with the threshold ``sqrt(K eps)`` [sd, Eqs. (40), (122), corrected].

    Lower bound valid for every round ``t`` (after a collapse it is <= 0); the upper bound for
    every round whose predecessor has not collapsed.
    """
    return _label_norm_bounds(z0_norm, t, K, eps, kappa, False, "label_norm_bounds_corrected")


@_public
def label_norm_bounds_sharp(z0_norm, t, K: int, eps) -> tuple:
    r"""Sharper, kappa-free bounds on ``||z_t||`` (not in the paper; proved in ``kdtheory.verify.sd``).

    In units of ``sqrt(K eps)``: ``u0 - t <= u_t <= sqrt(u0^2 - t)`` while no round before ``t``
    has collapsed.  Each round removes a residual of norm exactly ``sqrt(K eps)`` with a
    diagonal contraction ``A`` (0 <= A <= 1), so ``||A z|| >= ||z|| - ||(I - A) z||`` and
    ``||z||^2 >= ||A z||^2 + ||(I - A) z||^2``.  The lower end is attained by labels along one
    eigenvector; the upper is approached as ``kappa -> infinity`` (0 once ``t >= u0^2``).
    """
    func = "label_norm_bounds_sharp"
    scalar = _scalar(z0_norm, t, eps)
    u0, _, thr, _ = _units(z0_norm, K, eps, False, func, "z0_norm")
    tt = _times(t, func)
    u0, thr, tt = _broadcast(func, z0_norm=u0, eps=thr, t=tt)
    upper = u0 * np.sqrt(np.maximum(1.0 - (tt / u0) / u0, 0.0))
    return _out((u0 - tt) * thr, scalar), _out(upper * thr, scalar)


# ---------------------------------------------------------------------------------------------
# Proposition 4: guaranteed rounds
# ---------------------------------------------------------------------------------------------


@_public
def guaranteed_rounds(y0_norm, K: int, eps, kappa) -> float:
    r"""Guaranteed non-collapsing rounds as printed: ``(||y0|| / (sqrt(K) eps) - 1) / kappa`` [sd, Eq. (44)]."""
    return _guaranteed(y0_norm, K, eps, kappa, True, "guaranteed_rounds")


@_public
def guaranteed_rounds_corrected(y0_norm, K: int, eps, kappa) -> float:
    r"""Prop. 4 with the threshold ``sqrt(K eps)`` [sd, Eq. (44), corrected]: ``t_ = (u0 - 1) / kappa``.

    ``u0 = ||y0|| / sqrt(K eps)``.  What is guaranteed: at least ``t_`` rounds are non-collapsing,
    i.e. every integer round ``t < t_`` (rounds ``0 .. ceil(t_) - 1``).  Round ``t_`` itself can
    collapse when ``t_`` is an integer: ``K = 1``, ``d = 1``, ``eps = 1``, ``y0 = 2`` gives ``t_ = 1``
    and ``||y_1||^2 / K = eps``.
    """
    return _guaranteed(y0_norm, K, eps, kappa, False, "guaranteed_rounds_corrected")


def _guaranteed(y0_norm, K, eps, kappa, printed, func):
    scalar = _scalar(y0_norm, eps, kappa)
    _, w, _, _ = _units(y0_norm, K, eps, printed, func, "y0_norm")
    k = _kappa(kappa, func)
    w, k = _broadcast(func, y0_norm=w, kappa=k)
    return _out(w / k, scalar)


@_public
def guaranteed_rounds_sharp(y0_norm, K: int, eps) -> float:
    r"""Sharp guarantee (not in the paper): at least ``u0 - 1`` rounds are non-collapsing, for any ``kappa``.

    Every integer round ``t < u0 - 1`` is non-collapsing, from ``u_t >= u0 - t``
    (:func:`label_norm_bounds_sharp`); labels along one eigenvector of ``G`` collapse exactly at
    round ``ceil(u0 - 1)``, so no larger kappa-free guarantee exists.
    """
    scalar = _scalar(y0_norm, eps)
    _, w, _, _ = _units(y0_norm, K, eps, False, "guaranteed_rounds_sharp", "y0_norm")
    return _out(w, scalar)


def _exact_u0_squared(y0_norm: float, K: int, eps: float, printed: bool) -> Fraction:
    """``u0^2 = ||y0||^2 / threshold^2`` as an exact rational of the floats given."""
    y = Fraction(y0_norm)
    e = Fraction(eps)
    return y * y / (K * e * e) if printed else y * y / (K * e)


def _scalar_units(y0_norm, K, eps, printed, func) -> tuple[float, int, float]:
    """Checked scalars ``(||y0||, K, eps)`` above the threshold of the variant."""
    y = require_positive(y0_norm, "y0_norm", func=func)
    e = require_positive(eps, "eps", func=func)
    _units(y, K, e, printed, func, "y0_norm")
    return y, int(K), e


@_public
def collapse_round_upper(y0_norm: float, K: int, eps: float) -> int:
    r"""Round by which the labels have surely collapsed (not in the paper): the first integer ``t >= u0^2 - 1``.

    From ``u_t^2 <= u0^2 - t`` (:func:`label_norm_bounds_sharp`), computed exactly (rational
    arithmetic on the floats given), so an integer ``u0^2`` is never misjudged by rounding.
    """
    y, K, e = _scalar_units(y0_norm, K, eps, False, "collapse_round_upper")
    return int(math.ceil(_exact_u0_squared(y, K, e, False) - 1))


@_public
def zero_crossing_round(u0: float, kappa: float) -> float:
    r"""The round ``t`` at which the Prop. 3 lower bound (in units of the threshold) equals 1 [sd, Eq. (125)].

    ``t = log((1 + (kappa - 1)/u0^2) / (1 + (kappa - 1)/u0)) / log(a(kappa))``, ``a`` of Eq. (41);
    for ``kappa = 1`` the limit ``u0 - 1``.  The numerator is one ``log1p`` of
    ``-(kappa - 1)(u0 - 1) / (u0 (u0 - 1 + kappa))``; ``log a`` is taken as ``log1p(a - 1)`` near
    ``a = 1`` and as ``log a`` when ``a`` is small (large kappa), without overflow.
    """
    func = "zero_crossing_round"
    u = require_real(u0, "u0", func=func)
    require(u > 1, "u0", u0, "be > 1 (labels not yet collapsed)", func=func)
    k = require_real(kappa, "kappa", func=func)
    require(k >= 1, "kappa", kappa, "be >= 1 (condition number of G)", func=func)
    if k == 1.0:
        return u - 1.0
    w = u - 1.0
    _, am1, _, h = _tangent(np.array(w), np.array(k))
    am1, h = float(am1), float(h)
    num = math.log1p(-((k - 1.0) / u) * ((0.5 * w) / h))
    den = math.log1p(am1) if am1 > -0.5 else math.log(float(prop3_coefficients(u, k)[0]))
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


def _pair(d_min, d_j, d_k, func):
    dm = _reals(d_min, "d_min", func, positive=True)
    dj = _reals(d_j, "d_j", func, positive=True)
    dk = _reals(d_k, "d_k", func, positive=True)
    dm, dj, dk = _broadcast(func, d_min=dm, d_j=dj, d_k=dk)
    require(bool(np.all(dj >= dm)), "d_j", d_j, "be >= d_min", func=func)
    require(bool(np.all(dk > dj)), "d_k", d_k, "exceed d_j (Prop. 5 needs d_k > d_j)", func=func)
    return dm, dj, dk


def _log_base(w, dm, dj, dk):
    """``log((w + d_min/d_j) / (w + d_min/d_k))`` as one ``log1p`` (the difference formed exactly)."""
    gap = (dm / dj) * ((dk - dj) / dk)          # d_min/d_j - d_min/d_k, no cancellation
    return np.log1p(gap / (w + dm / dk))


def _last_round_exact(y0_norm: float, K: int, eps: float, kappa: float, printed: bool, estimate: float) -> int:
    """Largest integer ``t >= 0`` with ``kappa t + 1 <= u0``, decided in exact rational arithmetic.

    ``estimate`` is the float ``(u0 - 1)/kappa`` (relative error ~1e-15); the answer is searched by
    bisection in a bracket around it that the rounding cannot escape.
    """
    u0sq = _exact_u0_squared(y0_norm, K, eps, printed)
    k = Fraction(kappa)

    def within(t: int) -> bool:
        return (k * t + 1) ** 2 <= u0sq

    lo = max(0, int(math.floor(estimate * (1.0 - 2.0 ** -40))) - 2)
    hi = int(math.ceil(estimate * (1.0 + 2.0 ** -40))) + 2
    if not within(lo):
        lo = 0                                  # within(0) holds: u0 > 1
    while hi - lo > 1:                          # invariant: within(lo), not within(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if within(mid) else (lo, mid)
    return lo


def _check_hypothesis(t, y0_norm, K, eps, kappa, printed, func):
    """Prop. 5's hypothesis ``t <= (u0 - 1)/kappa``, decided exactly for each entry."""
    k = _kappa(kappa, func)
    tt, y, e, k = _broadcast(func, t=np.asarray(t, dtype=float), y0_norm=np.asarray(y0_norm, dtype=float),
                             eps=np.asarray(eps, dtype=float), kappa=k)
    require(tt.size <= 100_000, "t", tt.shape, "have at most 100000 entries when kappa is given (exact check)",
            func=func)
    for ti, yi, ei, ki in zip(tt.ravel(), y.ravel(), e.ravel(), k.ravel()):
        u0sq = _exact_u0_squared(float(yi), K, float(ei), printed)
        require((Fraction(float(ki)) * Fraction(float(ti)) + 1) ** 2 <= u0sq, "t", float(ti),
                f"be <= (u0 - 1)/kappa = {_guaranteed(float(yi), K, float(ei), float(ki), printed, func):.6g} "
                "(Prop. 5 hypothesis)", func=func)


def _ratio_bound(y0_norm, K, eps, d_min, d_j, d_k, t, kappa, printed, func):
    scalar = _scalar(y0_norm, eps, d_min, d_j, d_k, t)
    _, w, _, K = _units(y0_norm, K, eps, printed, func, "y0_norm")
    dm, dj, dk = _pair(d_min, d_j, d_k, func)
    tt = _times(t, func)
    if kappa is not None:
        _check_hypothesis(tt, y0_norm, K, eps, kappa, printed, func)
        require(bool(np.all(dk / dm <= _kappa(kappa, func))), "d_k", d_k, "be <= kappa * d_min", func=func)
    w, dm, dj, dk, tt = _broadcast(func, y0_norm=w, d_min=dm, d_j=dj, d_k=dk, t=tt)
    return _out(np.exp((tt + 1.0) * _log_base(w, dm, dj, dk)), scalar)


@_public
def ratio_bound(y0_norm, K: int, eps, d_min, d_j, d_k, t, *, kappa=None):
    r"""Lower bound of Prop. 5 on ``B_t[k,k] / B_t[j,j]`` as printed (threshold ``sqrt(K) eps``) [sd, Eq. (47)].

    ``((u0 - 1 + d_min/d_j) / (u0 - 1 + d_min/d_k))^(t + 1)`` for ``d_k > d_j``; with ``kappa``
    given, the hypothesis ``t <= (u0 - 1)/kappa`` is enforced (decided exactly).
    """
    return _ratio_bound(y0_norm, K, eps, d_min, d_j, d_k, t, kappa, True, "ratio_bound")


@_public
def ratio_bound_corrected(y0_norm, K: int, eps, d_min, d_j, d_k, t, *, kappa=None):
    r"""Prop. 5 with the threshold ``sqrt(K eps)`` [sd, Eq. (47), corrected].

    The proof only needs round ``t`` not collapsed, so the bound holds for every such ``t``
    (the hypothesis ``t <= (u0 - 1)/kappa`` guarantees it when a pair ``d_k > d_j`` exists, since then
    ``kappa > 1``; enforced when ``kappa`` is given).
    """
    return _ratio_bound(y0_norm, K, eps, d_min, d_j, d_k, t, kappa, False, "ratio_bound_corrected")


@_public
def ratio_bound_last_round(y0_norm: float, K: int, eps: float, kappa: float) -> int:
    r"""Last round covered by Prop. 5 as printed: the largest integer ``t <= (||y0||/(sqrt(K) eps) - 1)/kappa``.

    Decided exactly (rational arithmetic on the floats given), so ``t_`` that is an integer
    mathematically is never lost to rounding [sd, Eqs. (44), (47)].
    """
    func = "ratio_bound_last_round"
    y, K, e = _scalar_units(y0_norm, K, eps, True, func)
    k = require_real(kappa, "kappa", func=func)
    return _last_round_exact(y, K, e, float(_kappa(k, func)), True, _guaranteed(y, K, e, k, True, func))


@_public
def ratio_bound_last_round_corrected(y0_norm: float, K: int, eps: float, kappa: float) -> int:
    r"""Last round covered by Prop. 5 with the threshold ``sqrt(K eps)``: the largest integer ``t <= (u0 - 1)/kappa``.

    Exact, as :func:`ratio_bound_last_round`.  (Prop. 4 guarantees the rounds ``t < t_``; when
    a pair ``d_k > d_j`` exists, ``kappa > 1`` and round ``floor(t_)`` is non-collapsing too.)
    """
    func = "ratio_bound_last_round_corrected"
    y, K, e = _scalar_units(y0_norm, K, eps, False, func)
    k = require_real(kappa, "kappa", func=func)
    return _last_round_exact(y, K, e, float(_kappa(k, func)), False, _guaranteed(y, K, e, k, False, func))


@_public
def ratio_bound_sharp(y0_norm: float, K: int, eps: float, d_min, d_j, d_k, t):
    r"""Sharper Prop. 5 (not in the paper): ``prod_{i<=t} (U_i - 1 + d_min/d_j) / (U_i - 1 + d_min/d_k)``.

    ``U_i = sqrt(u0^2 - i)`` is the sharp upper bound on ``u_i`` (:func:`label_norm_bounds_sharp`)
    and replaces the paper's ``u_i <= u0``; valid for every non-collapsed round ``t``, which
    forces ``t < u0^2 - 1`` (decided exactly).  Broadcasts over ``d_min, d_j, d_k``; ``t`` is one
    round or a 1-D array of rounds (then the rounds are the last axis of the result).
    """
    func = "ratio_bound_sharp"
    scalar = _scalar(d_min, d_j, d_k)
    y, K, e = _scalar_units(y0_norm, K, eps, False, func)
    single = isinstance(t, (numbers.Integral, np.integer)) and not isinstance(t, (bool, np.bool_))
    rounds = np.atleast_1d(require_array(t, "t", ndim=(0, 1), finite=True, func=func))
    require_type(bool(np.all(rounds == np.round(rounds))), "t", t, "be an integer or an array of integers", func=func)
    require(bool(np.all(rounds >= 0)) and float(rounds.max()) <= _MAX_SHARP_ROUNDS, "t", t,
            f"lie in [0, {_MAX_SHARP_ROUNDS}]", func=func)
    top = int(rounds.max())
    u0sq = _exact_u0_squared(y, K, e, False)
    require(top + 1 < u0sq, "t", t, f"be in [0, u0^2 - 1) = [0, {float(u0sq) - 1:.6g}) (round not collapsed)",
            func=func)
    dm, dj, dk = _pair(d_min, d_j, d_k, func)
    require((top + 1) * dm.size <= _MAX_ENTRIES, "t", t, f"keep (t + 1) x pairs at most {_MAX_ENTRIES}", func=func)
    _, w, _, _ = _units(y, K, e, False, func, "y0_norm")
    w = float(w)
    u0sq_m1 = w * (2.0 + w)                              # u0^2 - 1 without cancellation
    r = u0sq_m1 - np.arange(top + 1, dtype=float)        # U_i^2 - 1
    Um1 = r / (np.sqrt(1.0 + r) + 1.0)                   # U_i - 1 > 0
    gap = ((dm / dj) * ((dk - dj) / dk))[..., None]
    logs = np.cumsum(np.log1p(gap / (Um1 + (dm / dk)[..., None])), axis=-1)
    out = np.exp(logs[..., rounds.astype(np.int64)])
    if single:
        return _out(out[..., 0], scalar)
    return np.asarray(out, dtype=float)


def _sparsity(y0_norm, K, eps, d_min, d_j, d_k, kappa, printed, func):
    scalar = _scalar(y0_norm, eps, d_min, d_j, d_k, kappa)
    _, w, _, _ = _units(y0_norm, K, eps, printed, func, "y0_norm")
    dm, dj, dk = _pair(d_min, d_j, d_k, func)
    k = _kappa(kappa, func)
    w, dm, dj, dk, k = _broadcast(func, y0_norm=w, d_min=dm, d_j=dj, d_k=dk, kappa=k)
    require(bool(np.all(dk / dm <= k)), "d_k", d_k, "be <= kappa * d_min", func=func)
    return _out(np.exp((1.0 + w / k) * _log_base(w, dm, dj, dk)), scalar)


@_public
def sparsity_bound(y0_norm, K: int, eps, d_min, d_j, d_k, kappa):
    r"""Right-hand side of Eq. (51) as printed: the Prop. 5 bound at the real ``t_ = (u0 - 1)/kappa`` [sd, Eqs. (50)-(51), (137)].

    ``h = (L/S)^p`` with ``L = u0 - 1 + d_min/d_j``, ``S = u0 - 1 + d_min/d_k``, ``p = 1 + (u0 - 1)/kappa``,
    ``u0 = ||y0|| / (sqrt(K) eps)``.  Increasing in eps (Prop. 6, checked in ``kdtheory.verify.sd``).
    """
    return _sparsity(y0_norm, K, eps, d_min, d_j, d_k, kappa, True, "sparsity_bound")


@_public
def sparsity_bound_corrected(y0_norm, K: int, eps, d_min, d_j, d_k, kappa):
    r"""Prop. 6's function with ``u0 = ||y0|| / sqrt(K eps)`` [sd, Eq. (138), corrected threshold].

    The continuous envelope ``base^(1 + t_)``; a valid bound on ``B_t[k,k]/B_t[j,j]`` only where
    ``t_`` is an integer (:func:`ratio_bound_corrected` gives the bound at every round).
    """
    return _sparsity(y0_norm, K, eps, d_min, d_j, d_k, kappa, False, "sparsity_bound_corrected")


@_public
def sparsity_bound_limits(d_min, d_j, d_k, kappa) -> tuple:
    r"""Limits of Prop. 6's function (not in the paper): ``eps -> 0`` and ``eps -> collapse``.

    As ``u0 -> infinity`` (eps -> 0) ``h -> exp((d_min/d_j - d_min/d_k)/kappa)``, at most ``e^{1/kappa}``;
    as ``u0 -> 1`` (eps up to the collapse threshold) ``h -> d_k / d_j``.  Since ``h`` increases
    with eps, the guaranteed sparsity is weakest in the near-interpolation regime.
    """
    func = "sparsity_bound_limits"
    scalar = _scalar(d_min, d_j, d_k, kappa)
    dm, dj, dk = _pair(d_min, d_j, d_k, func)
    k = _kappa(kappa, func)
    dm, dj, dk, k = _broadcast(func, d_min=dm, d_j=dj, d_k=dk, kappa=k)
    require(bool(np.all(dk / dm <= k)), "d_k", d_k, "be <= kappa * d_min", func=func)
    gap = (dm / dj) * ((dk - dj) / dk)
    return _out(np.exp(gap / k), scalar), _out(dk / dj, scalar)


@_public
def sparsity_bound_derivative(y0_norm, K: int, eps, d_min, d_j, d_k, kappa):
    r"""``dh/deps`` by the proof's final form [sd, Eq. (149)] with ``u0 = ||y0|| / sqrt(K eps)``.

    ``h q / kappa * ((p kappa / S + log S) - (p kappa / L + log L))`` with
    ``q = ||z0|| / (2 eps sqrt(K eps)) = u0 / (2 eps) = -du0/deps``.  (The printed
    ``L' = -||z0||/(2 eps sqrt(K) eps)`` is the derivative for the threshold ``sqrt(K eps)``; with the
    printed ``sqrt(K) eps`` it would be ``-||z0|| / (sqrt(K) eps^2)``.)
    """
    func = "sparsity_bound_derivative"
    scalar = _scalar(y0_norm, eps, d_min, d_j, d_k, kappa)
    u0, w, _, _ = _units(y0_norm, K, eps, False, func, "y0_norm")
    e = _reals(eps, "eps", func, positive=True)
    dm, dj, dk = _pair(d_min, d_j, d_k, func)
    k = _kappa(kappa, func)
    require(bool(np.all(np.broadcast_to(dk / dm, np.broadcast_shapes(dk.shape, k.shape)) <= k)), "d_k", d_k,
            "be <= kappa * d_min", func=func)
    h = np.asarray(sparsity_bound_corrected(y0_norm, K, eps, d_min, d_j, d_k, kappa))
    u0, w, e, dm, dj, dk, k, h = _broadcast(func, y0_norm=u0, w=w, eps=e, d_min=dm, d_j=dj, d_k=dk, kappa=k, h=h)
    L, S = w + dm / dj, w + dm / dk
    p = 1.0 + w / k
    q = u0 / (2.0 * e)
    # (p kappa / S + log S) - (p kappa / L + log L), written without cancellation (L - S = d_min/d_j - d_min/d_k)
    gap = (dm / dj) * ((dk - dj) / dk)
    return _out(h * (q / k) * (p * k * (gap / L) / S - np.log1p(gap / S)), scalar)


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
