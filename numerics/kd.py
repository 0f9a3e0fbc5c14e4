"""Engines for [kd]: exact moment recursions, Monte Carlo SGD chains, compressors.

On least squares ``f_i(x) = 1/2 (a_i^T x - b_i)^2`` each of the three iterations of the paper is
affine in the iterate with a random matrix:

* SGD with self-distillation [kd, Eq. (7)]:  ``x' = (I - g A_i) x + g (lam A_i theta + (1-lam) a_i b_i)``
* unbiased distillation [kd, Eq. (16)]:        the same plus ``- g lam grad f(theta)``
* compressed distillation [kd, Eq. (18)], written as the y-recursion (37):
  ``y' = (I - g A_i) D y + g (lam A_i theta + (1-lam) a_i b_i)``, ``x = D y``,

with ``A_i = a_i a_i^T``, ``i`` uniform, and ``D`` a random diagonal compression matrix
(``E D = I``; rand-k and Bernoulli compressors are diagonal), independent of ``i``.
Hence mean ``m`` and second moment ``S = E[y y^T]`` obey exact linear recursions
(:func:`moment_trajectory`, :func:`moments_at`) whose fixed point is a linear system
(:func:`stationary_moments`).

Structured exact engine (``method="structured"``, the default where it applies). The second-moment
map is ``K(S) = L(S o Q)`` with ``L(X) = mean_i B_i X B_i = X - g (H X + X H) + g^2 mean_i (a_i^T X a_i) A_i``
and ``S o Q = q_off S + (q_diag - q_off) Diag(S)`` for the diagonal compressors. ``L`` and the Hadamard
map by ``Q`` are self-adjoint positive maps, so ``K`` is similar to the symmetric positive map
``T = Q^{1/2} L Q^{1/2}`` (entrywise square root): its spectral radius is its largest eigenvalue
(Perron-Frobenius for positive maps), and ``radius < 1`` iff ``Q^{-1} - L`` is positive definite. In the
eigenbasis of ``H`` and the orthonormal half-vectorisation of symmetric matrices, ``Q^{-1} - L`` is a
positive diagonal (the Lyapunov part, ``1/q_off - 1 + g (h_j + h_k)``) minus a positive semidefinite
term of rank ``n + d`` (the finite sum and the compressor's diagonal); the stationary equation is solved
by Woodbury with a Cholesky factor of the ``(n + d) x (n + d)`` capacitance (its success is the
``radius < 1`` test) in ``O(d^3 + (n + d)^2 d^2)``, then refined once with a residual computed by
applying ``K`` directly in ``O(n d^2 + d^3)``. The dense ``d^2 x d^2`` solve stays as the reference
(``method="dense"``); tests hold the two together. Moments at any time t (:func:`moments_at`, ``"spectral"``)
come from the eigen-decomposition of ``I - T``, formed without subtracting from 1, and powers taken from the rates
(``(1 - delta)^t = exp(t log1p(-delta))``).

Rounding. The dense engines form ``B_i = I - g a_i a_i^T`` in floating point; their entries carry an absolute
error of about eps next to the contraction ``g mu``, so the dense stationary solve loses ``eps/(g mu)`` relative
(2.6e-3 at kappa = 1e6 and Theorem 2's step) and t steps lose ``t eps``. The structured and spectral engines work
with ``g h`` and ``1/q - 1`` directly (about ``kappa(H) eps``). ``method="auto"`` therefore uses the dense engines
only for d <= 6 (d <= 4 in :func:`moments_at`) while ``eps min(t, 1/(1 - max_j |1 - g h_j|))`` <= 1e-8.

The Monte Carlo engines run many chains in Numba kernels with NumPy twins held bitwise equal on the same
pre-drawn randomness: :func:`simulate_chains` (least squares, specialised to the dimension for d <= 16, with
compression masks), :func:`simulate_pl` (the nonconvex PL example) and :func:`simulate_logistic` (ridge logistic
regression; the twin calls libm's ``tanh`` per element, as the kernel does).
"""

from __future__ import annotations

import itertools
import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from kdtheory.numerics._threads import blas_threads_for
from kdtheory.numerics.bench import BenchCase, benchmark
from kdtheory.theory._checks import (require, require_array, require_choice, require_in, require_int,
                                     require_positive, require_real, require_type)
from kdtheory.theory.kd import LeastSquaresConstants, least_squares_constants, ridge_logistic_constants

__all__ = [
    "SCHEMES", "COMPRESSORS", "METHODS", "MOMENTS_AT_METHODS", "DivergenceError", "AffineChain",
    # compressors
    "rand_k_outcomes", "bernoulli_outcomes", "dithering_outcomes", "compressor_moments", "compression_second_moment",
    # exact moment engine
    "affine_chain", "apply_second_moment_map", "moment_trajectory", "second_moment_operator", "stationary_moments",
    "second_moment_radius", "augmented_operator", "moments_at", "refresh_phases", "ls_gap",
    # Monte Carlo
    "draw_chain_randomness", "simulate_chains", "simulate_pl", "simulate_logistic",
    # instances
    "random_least_squares",
]

SCHEMES = ("distill", "unbiased")
COMPRESSORS = (None, "rand_k", "bernoulli")
METHODS = ("auto", "structured", "dense")
"""Engines of :func:`stationary_moments`, :func:`second_moment_radius`, :func:`moment_trajectory`."""
MOMENTS_AT_METHODS = ("auto", "spectral", "iterate", "dense")
"""Engines of :func:`moments_at`: eigen-decomposition of the symmetric form of the map (any times),
applying the map step by step, or powers of the dense augmented matrix."""

_MAX_ENUM_D = 16            # exact enumeration of compressor outcomes (2^d Bernoulli masks)
_MAX_ENUM_OUTCOMES = 10 ** 5  # rand-k: C(d, k) outcomes, d <= _MAX_RAND_K_D
_MAX_RAND_K_D = 2000
_MAX_DENSE_D = 60           # dense d^2 x d^2 operators (3600 x 3600)
_MAX_STRUCTURED_D = 200     # structured engine (half-vectors of length d(d+1)/2 = 20100)
_MAX_SPECTRAL_N = 1830      # full eigen-decomposition of the symmetric map (d <= 60)
_MAX_CHAIN_ENTRIES = 5 * 10 ** 7   # n d^2 entries of the chain's matrices
_MAX_STEPS = 10 ** 6        # steps of an iterated recursion
_MAX_TRAJECTORY_ENTRIES = 5 * 10 ** 7
_MAX_TIMES = 10 ** 5
_MAX_TIME = 2 ** 62
_MAX_DRAWS = 5 * 10 ** 7    # T x chains (x d with compression) pre-drawn entries
_MAX_PL_DRAWS = 5 * 10 ** 8
_MAX_LOGISTIC_STEPS = 5 * 10 ** 8   # T x chains of one ridge-logistic run
_MAX_LOGISTIC_ENTRIES = 10 ** 7     # n d of its data matrix
_MAX_LOGISTIC_D = 2000
_MAX_LOGISTIC_WORK = 10 ** 10     # T x chains x d steps, checkpoints x chains x (n + d) for the gaps
_LOGISTIC_BLOCK = 2 ** 22           # sample indices pre-drawn per block of steps
_MAX_REFRESH_D = 12
_MAX_PHASES = 10 ** 5
_MAX_TAU = 10 ** 12
_MAX_MAGNITUDE = 1e100      # entries of instances, teachers and starts (their squares stay finite)
_AUTO_DENSE_D = 6           # below this the dense d^2 x d^2 solve is as cheap as the structured one ...
_AUTO_DENSE_ROUNDING = 1e-8  # ... and "auto" uses it while its rounding model eps/(1 - max|1 - g h|) stays below this
_DENSE_RADIUS_N = 300       # half-vector length up to which the symmetric map's eigenvalue is found densely


class DivergenceError(FloatingPointError, ValueError):
    """A recursion or a chain left the floating-point range (the iteration diverges); the message names
    the function, the parameter responsible and the step."""


# ----------------------------------------------------------------------------------------------
# argument helpers
# ----------------------------------------------------------------------------------------------


def _bounded(x: Any, param: str, func: str, *, ndim: int | tuple[int, ...] | None = None, min_size: int = 1,
             max_size: int | None = None, bound: float = _MAX_MAGNITUDE) -> np.ndarray:
    arr = require_array(x, param, ndim=ndim, min_size=min_size, max_size=max_size, func=func)
    require(bool(np.all(np.abs(arr) <= bound)), param, arr, f"have entries of magnitude <= {bound:g}", func=func)
    return arr


def _require_chain(ch: Any, func: str) -> None:
    require_type(isinstance(ch, AffineChain), "ch", ch, "be an AffineChain (see affine_chain)", func=func)


def _require_bool(x: Any, param: str, func: str) -> bool:
    require_type(isinstance(x, (bool, np.bool_)), param, x, "be True or False", func=func)
    return bool(x)


def _require_start(ch: "AffineChain", x0: Any, func: str) -> np.ndarray:
    d = ch.A.shape[1]
    x0 = _bounded(x0, "x0", func, ndim=1)
    require(x0.shape == (d,), "x0", x0, f"have shape ({d},) like the chain's iterate", func=func)
    return x0


def _int_sequence(x: Any, param: str, func: str) -> np.ndarray:
    """A 1-d sequence of integers (integer-valued floats accepted) as int64; TypeError otherwise."""
    require_type(not isinstance(x, (str, bytes, dict, set)) and x is not None, param, x,
                 "be a sequence of integers", func=func)
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError):
        raw = np.asarray([None])
    ok = raw.dtype.kind in "iu" or (raw.dtype.kind == "f" and bool(np.all(np.isfinite(raw)))
                                     and bool(np.all(raw == np.floor(raw))))
    require_type(ok or (raw.dtype.kind == "f" and raw.size == 0), param, x, "be a sequence of integers", func=func)
    require(raw.ndim == 1 and raw.size >= 1, param, raw, "be a non-empty 1-d sequence of integers", func=func)
    require(bool(np.all(raw >= 0)) and bool(np.all(raw <= _MAX_TIME)), param, raw, "have entries in [0, 2^62]",
            func=func)
    return raw.astype(np.int64)


def _require_checkpoints(checkpoints: Any, T: int, func: str) -> np.ndarray:
    if checkpoints is None:
        return np.asarray([T], dtype=np.int64)
    cps = _int_sequence(checkpoints, "checkpoints", func)
    require(bool(np.all(np.diff(cps) > 0)) and cps[-1] <= T, "checkpoints", cps,
            f"be increasing integers in [0, {T}]", func=func)
    return cps


def _choice(x: Any, param: str, choices: tuple, func: str) -> Any:
    """One of ``choices`` (strings, or None where listed); TypeError for a value of another type."""
    ok_type = isinstance(x, str) or (x is None and None in choices)
    require_type(ok_type, param, x, f"be one of {choices}", func=func)
    return require_choice(x, param, choices, func=func)


def _require_seed(seed: Any, func: str) -> int:
    return require_int(seed, "seed", low=0, high=2 ** 63 - 1, func=func)


# ----------------------------------------------------------------------------------------------
# compressors with exact enumeration
# ----------------------------------------------------------------------------------------------


def rand_k_outcomes(d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All outcomes of rand-k (keep k of d coordinates uniformly, scale by d/k): (probs, multipliers)
    [kd, Sec. 7, rand-k example]. There are C(d, k) of them (at most 1e5: any k for d <= 16; k or d - k
    small for larger d, up to d = 2000)."""
    d = require_int(d, "d", low=1, high=_MAX_RAND_K_D)
    k = require_int(k, "k", low=1, high=d)
    require(math.comb(d, k) <= _MAX_ENUM_OUTCOMES, "k", k,
            f"give at most {_MAX_ENUM_OUTCOMES:.0e} outcomes C(d, k) (d = {d}, C = {math.comb(d, k):.3g})")
    subsets = list(itertools.combinations(range(d), k))
    mult = np.zeros((len(subsets), d))
    for r, s in enumerate(subsets):
        mult[r, list(s)] = d / k
    return np.full(len(subsets), 1.0 / len(subsets)), mult


def bernoulli_outcomes(d: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """All outcomes of Bernoulli keep-and-rescale (each coordinate kept w.p. p, scaled by 1/p)."""
    d = require_int(d, "d", low=1, high=_MAX_ENUM_D)
    p = require_in(p, "p", 0.0, 1.0, closed="right")
    masks = np.array(list(itertools.product([0, 1], repeat=d)), dtype=float)
    probs = np.prod(np.where(masks == 1, p, 1 - p), axis=1)
    return probs, masks / p


def dithering_outcomes(x: Any, s: int) -> tuple[np.ndarray, np.ndarray]:
    """All outcomes of QSGD random dithering with s levels: (probs, values C(x)).

    ``C(x)_j = ||x|| sign(x_j) l_j / s`` with ``l_j`` the random rounding of ``s |x_j|/||x||`` to a
    neighbouring integer (up with probability equal to the fractional part).
    """
    x = _bounded(x, "x", "dithering_outcomes", ndim=1, max_size=14, bound=1e150)
    s = require_int(s, "s", low=1, high=10 ** 9)
    nrm = float(np.linalg.norm(x))
    if nrm == 0:
        return np.ones(1), np.zeros((1, x.size))
    u = s * np.abs(x) / nrm
    lo = np.floor(u)
    frac = u - lo
    ups = np.array(list(itertools.product([0, 1], repeat=x.size)), dtype=float)
    probs = np.prod(np.where(ups == 1, frac, 1 - frac), axis=1)
    vals = nrm * np.sign(x) * (lo + ups) / s
    keep = probs > 0
    return probs[keep], vals[keep]


def compressor_moments(x: Any, outcomes: tuple[np.ndarray, np.ndarray], *,
                       multipliers: bool = True) -> tuple[np.ndarray, float]:
    """Exact E C(x) and E||C(x) - x||^2 from an enumeration (multipliers or values)."""
    func = "compressor_moments"
    x = _bounded(x, "x", func, ndim=1, bound=1e150)
    multipliers = _require_bool(multipliers, "multipliers", func)
    require_type(isinstance(outcomes, (tuple, list)) and len(outcomes) == 2, "outcomes", outcomes,
                 "be a pair (probs, values) as returned by the *_outcomes functions", func=func)
    probs = require_array(outcomes[0], "outcomes", ndim=1, func=func)
    out = _bounded(outcomes[1], "outcomes", func, ndim=2, bound=1e150)
    require(out.shape == (probs.size, x.size), "outcomes", out.shape,
            f"hold values of shape ({probs.size}, {x.size}) (one row per probability, one column per coordinate)",
            func=func)
    require(bool(np.all(probs >= 0)) and abs(float(probs.sum()) - 1.0) <= 1e-9, "outcomes", probs,
            "have probabilities >= 0 summing to 1", func=func)
    vals = out * x if multipliers else out
    mean = probs @ vals
    var = float(probs @ np.sum((vals - x) ** 2, axis=1))
    require(bool(np.all(np.isfinite(mean))) and np.isfinite(var), "outcomes", out,
            "give a second moment representable in float64", func=func)
    return mean, var


def compression_second_moment(compressor: str | None, d: int, param: float | None = None) -> np.ndarray:
    """Q = E[diag(D) diag(D)^T] of a diagonal compressor (ones when there is no compression)."""
    _choice(compressor, "compressor", COMPRESSORS, "compression_second_moment")
    d = require_int(d, "d", low=1, high=2000)
    if compressor is None:
        require(param is None, "param", param, "be None when there is no compressor")
        return np.ones((d, d))
    if compressor == "rand_k":
        k = require_int(param, "param", low=1, high=d)
        Q = np.full((d, d), (d * (k - 1)) / (k * (d - 1)) if d > 1 else d / k)
        np.fill_diagonal(Q, d / k)
        return Q
    p = require_in(param, "param", 0.0, 1.0, closed="right")
    Q = np.ones((d, d))
    np.fill_diagonal(Q, 1 / p)
    return Q


# ----------------------------------------------------------------------------------------------
# the chain
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AffineChain:
    """``y' = B_i D y + v_i`` with ``i`` uniform over rows and ``E[d d^T] = Q``; ``x = D y``."""

    B: np.ndarray       # (n, d, d)
    v: np.ndarray       # (n, d)
    Q: np.ndarray       # (d, d)
    x_star: np.ndarray
    H: np.ndarray
    f_star: float
    A: np.ndarray
    b: np.ndarray
    gamma: float


def affine_chain(A: Any, b: Any, theta: Any, lmbda: float, gamma: float, *, scheme: str = "distill",
                 compressor: str | None = None, param: float | None = None) -> AffineChain:
    """The affine form of iterations (7), (16) or (18) on least squares (see module docstring)."""
    func = "affine_chain"
    A = _bounded(A, "A", func, ndim=2, bound=1e50)
    b = _bounded(b, "b", func, ndim=1)
    theta = _bounded(theta, "theta", func, ndim=1)
    require(b.shape == (A.shape[0],) and theta.shape == (A.shape[1],), "A", A.shape,
            "be (n, d) with b of shape (n,) and theta of shape (d,)")
    n, d = A.shape
    require(n * d * d <= _MAX_CHAIN_ENTRIES, "A", A.shape,
            f"give n d^2 <= {_MAX_CHAIN_ENTRIES:.0e} (memory of the chain)")
    _choice(scheme, "scheme", SCHEMES, "affine_chain")
    _choice(compressor, "compressor", COMPRESSORS, "affine_chain")
    require(not (scheme == "unbiased" and compressor is not None), "scheme", scheme,
            "be 'distill' when a compressor is used (Eq. (18))")
    gamma = require_positive(gamma, "gamma")
    lmbda = require_real(lmbda, "lmbda")
    require(abs(lmbda) <= 1e6, "lmbda", lmbda, "have magnitude <= 1e6")
    row_sq = float(np.max(np.einsum("ij,ij->i", A, A)))
    require(gamma * row_sq <= 1e100, "gamma", gamma,
            f"be <= 1e100 / max ||a_i||^2 = {1e100 / max(row_sq, 1e-300):.3g} (larger steps overflow the moments)")
    Q = compression_second_moment(compressor, d, param)
    c = least_squares_constants(A, b)
    Ai = A[:, :, None] * A[:, None, :]
    B = np.eye(d)[None] - gamma * Ai
    v = gamma * (lmbda * (Ai @ theta) + (1 - lmbda) * A * b[:, None])
    if scheme == "unbiased":
        v = v - gamma * lmbda * (c.H @ (theta - c.x_star))[None, :]
    ch = AffineChain(B=B, v=v, Q=Q, x_star=c.x_star, H=c.H, f_star=c.f_star, A=A, b=b, gamma=float(gamma))
    _BUILT[id(ch)] = ch
    return ch


def _check_chain_arrays(ch: AffineChain, func: str) -> tuple[int, int]:
    """Shapes and finiteness of a chain (also one built by hand)."""
    _require_chain(ch, func)
    A, B, v, Q = (np.asarray(ch.A), np.asarray(ch.B), np.asarray(ch.v), np.asarray(ch.Q))
    require(A.ndim == 2 and A.shape[0] >= 1 and A.shape[1] >= 1, "ch", A.shape, "have A of shape (n, d)", func=func)
    n, d = A.shape
    require(B.shape == (n, d, d) and v.shape == (n, d) and Q.shape == (d, d) and np.shape(ch.x_star) == (d,)
            and np.shape(ch.H) == (d, d), "ch", (B.shape, v.shape, Q.shape),
            f"have B (n, d, d), v (n, d), Q (d, d), x_star (d,), H (d, d) with (n, d) = {(n, d)}", func=func)
    ok = all(bool(np.all(np.isfinite(a))) for a in (A, B, v, Q, ch.x_star, ch.H)) and np.isfinite(ch.gamma)
    require(ok, "ch", "non-finite entries", "have finite arrays", func=func)
    return n, d


def _step(ch: AffineChain, m: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of the exact moment recursion from the dense matrices B_i (the reference)."""
    n = ch.B.shape[0]
    m_new = np.einsum("ijk,k->j", ch.B, m) / n + ch.v.mean(axis=0)
    SQ = S * ch.Q
    Bm = np.einsum("ijk,k->ij", ch.B, m)
    cross = Bm.T @ ch.v / n
    BS = ch.B @ SQ
    S_new = np.einsum("ijk,imk->jm", BS, ch.B) / n + cross + cross.T + ch.v.T @ ch.v / n
    return m_new, 0.5 * (S_new + S_new.T)


def _summaries(ch: AffineChain, m: np.ndarray, S: np.ndarray) -> tuple[float, float, float]:
    """E||x-x*||^2, E f(x)-f*, E||y-x*||^2 for x = D y."""
    xs = ch.x_star
    Sx = S * ch.Q
    Ex = Sx - np.outer(m, xs) - np.outer(xs, m) + np.outer(xs, xs)
    Ey = S - np.outer(m, xs) - np.outer(xs, m) + np.outer(xs, xs)
    return float(np.trace(Ex)), float(0.5 * np.sum(ch.H * Ex)), float(np.trace(Ey))


# ----------------------------------------------------------------------------------------------
# structured engine: the map applied in O(n d^2 + d^3), solved in O((n+d)^2 d^2)
# ----------------------------------------------------------------------------------------------


def _diagonal_compressor(Q: np.ndarray) -> tuple[float, float] | None:
    """(q_off, q_diag) when Q = q_off 11^T + (q_diag - q_off) I with 0 <= q_off <= q_diag, else None."""
    d = Q.shape[0]
    q_diag = float(Q[0, 0])
    q_off = float(Q[0, 1]) if d > 1 else min(q_diag, 1.0)
    if not (0.0 <= q_off <= q_diag) or q_diag <= 0:
        return None
    expect = np.full((d, d), q_off)
    np.fill_diagonal(expect, q_diag)
    return (q_off, q_diag) if np.array_equal(Q, expect) else None


_BUILT: "weakref.WeakValueDictionary[int, AffineChain]" = weakref.WeakValueDictionary()
"""Chains made by affine_chain (their B_i are I - gamma a_i a_i^T by construction)."""


def _has_least_squares_form(ch: AffineChain) -> bool:
    """B_i == I - gamma a_i a_i^T exactly as affine_chain builds them (checked in blocks of rows for a
    chain built by hand)."""
    if _BUILT.get(id(ch)) is ch:
        return True
    A, B = ch.A, ch.B
    n, d = A.shape
    eye = np.eye(d)[None]
    step = max(1, 2 ** 20 // (d * d))
    for s in range(0, n, step):
        blk = A[s:s + step]
        if not np.array_equal(B[s:s + step], eye - ch.gamma * (blk[:, :, None] * blk[:, None, :])):
            return False
    return True


def _lanczos_top(matvec, v0: np.ndarray, *, rtol: float, block: int = 60, max_steps: int = 3000) -> float | None:
    """Largest eigenvalue of a symmetric operator by Lanczos with full reorthogonalisation and explicit
    restarts from the top Ritz vector; stops when the Ritz residual is <= rtol |theta| (the eigenvalue error
    is then at most that, and typically its square over the gap). Deterministic; None if not converged."""
    import scipy.linalg as sl

    N = v0.size
    x = v0 / np.linalg.norm(v0)
    steps = 0
    m = min(N, block)
    while steps < max_steps:
        basis = np.empty((m + 1, N))
        basis[0] = x
        alpha: list[float] = []
        beta: list[float] = []
        for k in range(m):
            w = matvec(basis[k])
            steps += 1
            alpha.append(float(basis[k] @ w))
            for _ in range(2):
                w = w - basis[:k + 1].T @ (basis[:k + 1] @ w)
            b = float(np.linalg.norm(w))
            last = b <= 1e-300 or k + 1 == N or k + 1 == m
            if last or (k >= 8 and k % 3 == 0):   # Ritz test every third step (a tridiagonal eigen-solve)
                ev, vec = sl.eigh_tridiagonal(np.array(alpha), np.array(beta), select="i", select_range=(k, k))
                theta, s = float(ev[0]), vec[:, 0]
                if not np.isfinite(theta):
                    return None
                if b * abs(s[-1]) <= rtol * abs(theta) or b <= 1e-300 or k + 1 == N:
                    return theta
            if k + 1 < m:
                beta.append(b)
                basis[k + 1] = w / b
        x = basis[:m].T @ s
        x /= np.linalg.norm(x)
    return None


class _Structured:
    """The chain's second-moment map in the eigenbasis of H and orthonormal half-vector coordinates.

    For symmetric X, ``phi(X) = [X_jj ; sqrt(2) X_jk (j < k)]`` so that ``<X, Y>_F = phi(X) . phi(Y)``.
    With ``X~ = V^T X V`` (``H = V diag(h) V^T``) the map ``L`` is ``diag(base) + (g^2/n) P^T P``
    (``P`` rows ``phi(a~_i a~_i^T)``), the Hadamard map by Q is ``q_off I + (q_diag - q_off) E^T E``
    (``E`` rows ``phi(u_j u_j^T)``, ``u_j`` the rows of V, orthonormal), and
    ``Q^{-1} - L = diag(Dn) - U^T U`` with ``Dn = 1/q_off - 1 + g (h_j + h_k)`` and
    ``U = [g/sqrt(n) P ; sqrt(1/q_off - 1/q_diag) E]``.
    """

    def __init__(self, ch: AffineChain, q_off: float, q_diag: float):
        A = ch.A
        n, d = A.shape
        self.ch, self.n, self.d, self.gamma = ch, n, d, float(ch.gamma)
        self.A, self.Q, self.v = A, ch.Q, ch.v
        self.q_off, self.q_diag = q_off, q_diag
        self.H = A.T @ A / n
        self.h, self.V = np.linalg.eigh(self.H)
        self.vbar = ch.v.mean(axis=0)
        self.Vv = ch.v.T @ ch.v / n
        self.i0, self.i1 = np.triu_indices(d)
        self.N = self.i0.size
        self.ws = np.where(self.i0 == self.i1, 1.0, np.sqrt(2.0))
        self.g2n = self.gamma ** 2 / n
        self._factor: Any = None  # None: not tried; False: not positive definite
        if q_off > 0:
            self.At = A @ self.V
            self.base = 1.0 - self.gamma * (self.h[self.i0] + self.h[self.i1])
            self.Dn = (1.0 / q_off - 1.0) + self.gamma * (self.h[self.i0] + self.h[self.i1])
            self.c_diag = 1.0 / q_off - 1.0 / q_diag

    # ---- maps in original coordinates
    def apply_L(self, X: np.ndarray) -> np.ndarray:
        z = np.einsum("ij,ij->i", self.A @ X, self.A)
        out = X - self.gamma * (self.H @ X + X @ self.H)
        return out + self.g2n * (self.A.T @ (z[:, None] * self.A))

    def apply_K(self, S: np.ndarray) -> np.ndarray:
        return self.apply_L(S * self.Q)

    def apply_I_minus_K(self, S: np.ndarray) -> np.ndarray:
        """S - K(S) = S o (1 - Q) + g (H Y + Y H) - g^2 mean_i (a_i^T Y a_i) A_i, Y = S o Q: no cancellation
        of the identity (the residual stays accurate when g is small)."""
        Y = S * self.Q
        z = np.einsum("ij,ij->i", self.A @ Y, self.A)
        out = self.gamma * (self.H @ Y + Y @ self.H) - self.g2n * (self.A.T @ (z[:, None] * self.A))
        return out + S * (1.0 - self.Q) if self.q_off != 1.0 or self.q_diag != 1.0 else out

    def cross(self, m: np.ndarray) -> np.ndarray:
        """C(m) = mean_i B_i m v_i^T."""
        return np.outer(m, self.vbar) - (self.gamma / self.n) * (self.A.T @ ((self.A @ m)[:, None] * self.v))

    def forcing(self, m: np.ndarray) -> np.ndarray:
        C = self.cross(m)
        return C + C.T + self.Vv

    def step(self, m: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m_new = m - self.gamma * (self.H @ m) + self.vbar
        S_new = self.apply_K(S) + self.forcing(m)
        return m_new, 0.5 * (S_new + S_new.T)

    # ---- half-vector coordinates in the eigenbasis
    def to_hat(self, X: np.ndarray) -> np.ndarray:
        Xt = self.V.T @ X @ self.V
        return Xt[self.i0, self.i1] * self.ws

    def from_hat(self, x: np.ndarray) -> np.ndarray:
        Xt = np.zeros((self.d, self.d))
        Xt[self.i0, self.i1] = x / self.ws
        Xt = Xt + np.triu(Xt, 1).T
        return self.V @ Xt @ self.V.T

    # P and E applied through d x d matrices (O(n d^2 + d^3), no N-long rows stored)
    def _sym(self, x: np.ndarray) -> np.ndarray:
        Xt = np.zeros((self.d, self.d))
        Xt[self.i0, self.i1] = x / self.ws
        return Xt + np.triu(Xt, 1).T

    def _phi(self, X: np.ndarray) -> np.ndarray:
        return X[self.i0, self.i1] * self.ws

    def _P_E(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P x, E x): a~_i^T X a~_i and u_j^T X u_j for X = unphi(x)."""
        X = self._sym(x)
        return (np.einsum("ij,ij->i", self.At @ X, self.At), np.einsum("ij,ij->i", self.V @ X, self.V))

    def _Pt_Et(self, yp: np.ndarray | None, ye: np.ndarray | None) -> np.ndarray:
        """P^T yp + E^T ye = phi(sum_i yp_i a~_i a~_i^T + sum_j ye_j u_j u_j^T)."""
        M = np.zeros((self.d, self.d))
        if yp is not None:
            M += self.At.T @ (yp[:, None] * self.At)
        if ye is not None:
            M += self.V.T @ (ye[:, None] * self.V)
        return self._phi(M)

    @property
    def P(self) -> np.ndarray:
        """Rows phi(a~_i a~_i^T) (n x N), formed on demand."""
        return self.At[:, self.i0] * self.At[:, self.i1] * self.ws

    @property
    def E(self) -> np.ndarray:
        """Rows phi(u_j u_j^T) (d x N, orthonormal), formed on demand."""
        return self.V[:, self.i0] * self.V[:, self.i1] * self.ws

    def _Qpow(self, x: np.ndarray, power: float) -> np.ndarray:
        """Hadamard map by Q^{power} (entrywise) in hat coordinates: q_off^p I + (q_diag^p - q_off^p) E^T E."""
        a, b = self.q_off ** power, self.q_diag ** power - self.q_off ** power
        if b == 0:
            return a * x
        X = self._sym(x)
        e = np.einsum("ij,ij->i", self.V @ X, self.V)
        return a * x + b * self._Pt_Et(None, e)

    def T_hat(self, x: np.ndarray) -> np.ndarray:
        y = self._Qpow(x, 0.5)
        X = self._sym(y)
        z = np.einsum("ij,ij->i", self.At @ X, self.At)
        y = self.base * y + self.g2n * self._Pt_Et(z, None)
        return self._Qpow(y, 0.5)

    def T_hat_dense(self) -> np.ndarray:
        P, E = self.P, self.E
        Lh = self.g2n * (P.T @ P)
        Lh[np.diag_indices(self.N)] += self.base
        a, b = np.sqrt(self.q_off), np.sqrt(self.q_diag) - np.sqrt(self.q_off)
        if b == 0:
            return self.q_off * Lh
        EL = E @ Lh                           # (d, N)
        GL = E.T @ EL                         # G Lh, G = E^T E
        core = EL @ E.T                       # E Lh E^T (d, d)
        T = a * a * Lh + a * b * (GL + GL.T) + b * b * (E.T @ core @ E)
        return 0.5 * (T + T.T)

    def I_minus_T_hat_dense(self) -> np.ndarray:
        """``I - T = Q^{1/2} (Q^{-1} - L) Q^{1/2}`` formed from ``diag(Dn) - U^T U`` (q_off > 0): no term is
        subtracted from 1, so its eigenvalues ``1 - tau`` carry relative (not absolute) rounding, also where
        ``g mu`` is far below eps (the spectral moments raise ``tau^t`` to ``t ~ 1/(g mu)``)."""
        P, E = self.P, self.E
        M0 = -self.g2n * (P.T @ P)
        if self.c_diag > 0:
            M0 -= self.c_diag * (E.T @ E)
        M0[np.diag_indices(self.N)] += self.Dn
        a, b = np.sqrt(self.q_off), np.sqrt(self.q_diag) - np.sqrt(self.q_off)
        if b == 0:
            return 0.5 * self.q_off * (M0 + M0.T)
        EL = E @ M0
        GL = E.T @ EL
        core = EL @ E.T
        out = a * a * M0 + a * b * (GL + GL.T) + b * b * (E.T @ core @ E)
        return 0.5 * (out + out.T)

    # ---- Woodbury factorisation of Q^{-1} - L (its success is the test radius < 1)
    def factor(self):
        if self._factor is None:
            self._factor = False
            if np.all(self.Dn > 0):
                sD = np.sqrt(self.Dn)
                U = np.sqrt(self.g2n) * self.P
                if self.c_diag > 0:
                    U = np.vstack([U, np.sqrt(self.c_diag) * self.E])
                Z = U / sD
                cap = -(Z @ Z.T)
                cap[np.diag_indices(cap.shape[0])] += 1.0
                import scipy.linalg as sl

                try:
                    chol = sl.cho_factor(cap, lower=True, check_finite=False)
                except np.linalg.LinAlgError:
                    chol = None
                if chol is not None and np.all(np.isfinite(chol[0])):
                    self._factor = (sD, chol)   # Z itself is not kept: solve_A applies it through d x d matrices
        return self._factor or None

    def solve_A(self, r_hat: np.ndarray) -> np.ndarray:
        """(Q^{-1} - L)^{-1} in hat coordinates (requires the factorisation): Woodbury,
        ``D^{-1/2} (I + Z^T C^{-1} Z) D^{-1/2}`` with ``Z = U D^{-1/2}`` and the capacitance ``C = I - Z Z^T``."""
        import scipy.linalg as sl

        sD, chol = self._factor
        w = r_hat / sD
        zp, ze = self._P_E(w / sD)
        sp, sc = np.sqrt(self.g2n), np.sqrt(self.c_diag)
        t = sp * zp if self.c_diag <= 0 else np.concatenate([sp * zp, sc * ze])
        y = sl.cho_solve(chol, t, check_finite=False)
        back = self._Pt_Et(sp * y[:self.n], sc * y[self.n:] if self.c_diag > 0 else None)
        return (w + back / sD) / sD

    # ---- rand-1 (q_off = 0): the map only sees the diagonal
    def _diag_matrix(self) -> np.ndarray:
        """M with diag(L(Diag(s))) = M s: M_jk = mean_i (B_i)_jk^2 (symmetric, non-negative)."""
        A2 = self.A * self.A
        M = self.g2n * (A2.T @ A2)
        M[np.diag_indices(self.d)] += 1.0 - 2.0 * self.gamma * A2.mean(axis=0)
        return M

    # ---- results
    def radius_mean(self) -> float:
        return float(np.max(np.abs(1.0 - self.gamma * self.h)))

    def radius(self, start: np.ndarray | None = None) -> float:
        """Largest eigenvalue of T. ``start``: a hat-coordinate vector near the Perron vector (e.g. the
        stationary solution), which shortens the Lanczos run; the result does not depend on it beyond rounding."""
        if self.q_off == 0:
            return float(np.linalg.eigvalsh(self.q_diag * self._diag_matrix())[-1])
        if self.N <= _DENSE_RADIUS_N:
            import scipy.linalg as sl

            T = self.T_hat_dense()
            return float(sl.eigh(T, eigvals_only=True, subset_by_index=[self.N - 1, self.N - 1])[0])
        v0 = (self.i0 == self.i1).astype(float) if start is None else start   # phi(I): Perron vector is PSD
        if self.factor() is not None:
            # shift-invert: (I - T)^{-1} = Q^{-1/2} (Q^{-1} - L)^{-1} Q^{-1/2} has top eigenvalue 1/(1 - radius)
            mu = _lanczos_top(lambda x: self._Qpow(self.solve_A(self._Qpow(x, -0.5)), -0.5), v0, rtol=1e-10)
            if mu is not None and mu > 0:
                return 1.0 - 1.0 / mu
        lam = _lanczos_top(self.T_hat, v0, rtol=1e-12)
        if lam is not None:
            return lam
        import scipy.linalg as sl   # pragma: no cover - Lanczos did not converge: dense symmetric eigenvalue

        return float(sl.eigh(self.T_hat_dense(), eigvals_only=True, subset_by_index=[self.N - 1, self.N - 1])[0])

    def stationary_mean(self) -> np.ndarray:
        return self.V @ ((self.V.T @ self.vbar) / (self.gamma * self.h))

    def solve_stationary(self, R: np.ndarray) -> np.ndarray | None:
        """S with S - K(S) = R (None when the map is not a contraction), refined once."""
        if self.q_off == 0:
            import scipy.linalg as sl

            G = -self.q_diag * self._diag_matrix()
            G[np.diag_indices(self.d)] += 1.0
            try:
                chol = sl.cho_factor(G, lower=True)
            except np.linalg.LinAlgError:
                return None

            def solve(rhs):
                s = sl.cho_solve(chol, np.diag(rhs).copy())
                return rhs + self.q_diag * self.apply_L(np.diag(s))
        else:
            if self.factor() is None:
                return None

            def solve(rhs):
                return self.from_hat(self.solve_A(self.to_hat(rhs))) / self.Q
        S = solve(R)
        S = 0.5 * (S + S.T)
        res = R - self.apply_I_minus_K(S)
        S = S + solve(0.5 * (res + res.T))
        return 0.5 * (S + S.T)


def _structure(ch: AffineChain) -> _Structured | None:
    """The structured engine for a chain built by affine_chain (None for other chains)."""
    n, d = ch.A.shape
    if d > _MAX_STRUCTURED_D:
        return None
    q = _diagonal_compressor(np.asarray(ch.Q, dtype=float))
    if q is None or not _has_least_squares_form(ch):
        return None
    eng = _Structured(ch, *q)
    if not eng.h[0] > 0:
        return None
    return eng


def _dense_rounding(ch: AffineChain, t_max: float = float("inf")) -> float:
    """Rounding model of the dense engines: relative error ``eps * min(t_max, 1/(1 - max_j |1 - g h_j|))``.

    The dense operators are formed from the rounded ``B_i = I - g a_i a_i^T``, whose entries carry an absolute error
    of about eps next to a contraction ``1 - |1 - g h|`` (``g mu`` at the theorems' steps): the stationary solve loses
    ``eps/(g mu)`` relative, and t steps of the recursion lose ``t eps`` until the transient has mixed. Returns inf
    when the mean map does not contract.
    """
    h = np.linalg.eigvalsh(np.asarray(ch.H, dtype=float))
    contraction = 1.0 - float(np.max(np.abs(1.0 - ch.gamma * h)))
    eps = float(np.finfo(float).eps)
    if contraction <= 0:
        return eps * t_max if np.isfinite(t_max) else float("inf")
    return eps * min(t_max, 1.0 / contraction)


def _auto_dense(ch: AffineChain, d: int, t_max: float = float("inf")) -> bool:
    """'auto' picks the dense engine: small d and a dense rounding model below _AUTO_DENSE_ROUNDING."""
    return d <= _AUTO_DENSE_D and _dense_rounding(ch, t_max) <= _AUTO_DENSE_ROUNDING


def _engine_work(n: int, d: int, dense: bool) -> float:
    """Dense floating-point work of one engine call (for the thread policy of docs/threads.md)."""
    if dense:
        return 30.0 * float(d) ** 6
    N = d * (d + 1) / 2
    return float((n + d) ** 2 * N + 400.0 * (n + d) * N + 20.0 * d ** 3)


def _engine(ch: AffineChain, method: str, func: str, dense: bool) -> _Structured | None:
    """The structured engine, or None for the dense reference (method 'dense', or 'auto' when _auto_dense)."""
    d = ch.A.shape[1]
    if dense:
        require(d <= _MAX_DENSE_D, "ch", d, f"have d <= {_MAX_DENSE_D} for the dense d^2 x d^2 engine",
                func=func)
        return None
    eng = _structure(ch)
    if eng is None:
        require(method != "structured", "method", method,
                "be 'dense' or 'auto' for a chain not of the least-squares form of affine_chain "
                "(B_i = I - gamma a_i a_i^T, Q = q_off 11^T + (q_diag - q_off) I, 0 <= q_off <= q_diag)", func=func)
        require(d <= _MAX_DENSE_D, "ch", d, f"have d <= {_MAX_DENSE_D} for the dense engine", func=func)
    return eng


def apply_second_moment_map(ch: AffineChain, S: Any) -> np.ndarray:
    """``K(S) = mean_i B_i (S o Q) B_i^T`` without forming the d^2 x d^2 operator [kd, Eq. (37)].

    For a chain of the least-squares form this costs ``O(n d^2 + d^3)`` (``L(X) = X - g(HX + XH) +
    g^2 mean_i (a_i^T X a_i) a_i a_i^T``); other chains use the matrices ``B_i`` (``O(n d^3)``).
    The action a Krylov method (``scipy.sparse.linalg.LinearOperator``) needs.
    """
    func = "apply_second_moment_map"
    n, d = _check_chain_arrays(ch, func)
    S = _bounded(S, "S", func, ndim=2)
    require(S.shape == (d, d), "S", S.shape, f"have shape ({d}, {d})")
    eng = _structure(ch)
    if eng is not None:
        return eng.apply_K(S)
    SQ = S * ch.Q
    return np.einsum("ijk,imk->jm", ch.B @ SQ, ch.B) / n


# ----------------------------------------------------------------------------------------------
# exact moment engine (public)
# ----------------------------------------------------------------------------------------------


def moment_trajectory(ch: AffineChain, x0: Any, T: int, *, method: str = "auto") -> dict:
    """Exact E||x^t-x*||^2, E f(x^t)-f*, E||y^t-x*||^2 and the mean for t = 0..T from y^0 = x0 (deterministic).

    ``method``: ``"structured"`` applies the map in ``O(n d^2 + d^3)`` per step, ``"dense"`` uses the
    matrices ``B_i`` (``O(n d^3)``, rounding model ``eps min(T, 1/(g mu))`` relative); ``"auto"`` picks the
    structured step for chains of the least-squares form unless d <= 6 and that model is <= 1e-8. Raises :class:`DivergenceError` if the second moment overflows, naming the step.
    """
    func = "moment_trajectory"
    n, d = _check_chain_arrays(ch, func)
    x0 = _require_start(ch, x0, func)
    T = require_int(T, "T", low=0, high=_MAX_STEPS)
    require((T + 1) * d <= _MAX_TRAJECTORY_ENTRIES, "T", T,
            f"give (T + 1) d <= {_MAX_TRAJECTORY_ENTRIES:.0e} stored means")
    _choice(method, "method", METHODS, "moment_trajectory")
    dist, gap, ydist = np.empty(T + 1), np.empty(T + 1), np.empty(T + 1)
    means = np.empty((T + 1, d))
    dense = method == "dense" or (method == "auto" and _auto_dense(ch, d, T + 1.0))
    with blas_threads_for(_engine_work(n, d, dense) + T * 4.0 * n * d ** 3), \
            np.errstate(over="ignore", invalid="ignore"):
        eng = _engine(ch, method, func, dense)
        step = eng.step if eng is not None else (lambda m, S: _step(ch, m, S))
        m, S = x0.copy(), np.outer(x0, x0)
        for t in range(T + 1):
            dist[t], gap[t], ydist[t] = _summaries(ch, m, S)
            means[t] = m
            if not (np.isfinite(dist[t]) and np.isfinite(gap[t]) and np.isfinite(ydist[t])):
                raise DivergenceError(f"{func}: ch must give a finite second moment, got an overflow at step {t} "
                                      "(the iteration diverges)")
            if t < T:
                m, S = step(m, S)
    return {"dist_sq": dist, "gap": gap, "y_dist_sq": ydist, "mean": means}


def second_moment_operator(ch: AffineChain) -> np.ndarray:
    """The d^2 x d^2 matrix of S -> E[B_i D S D B_i^T] (row-major vec); d <= 60."""
    func = "second_moment_operator"
    n, d = _check_chain_arrays(ch, func)
    require(d <= _MAX_DENSE_D, "ch", d, f"have d <= {_MAX_DENSE_D} (the operator has d^4 entries)")
    K = np.einsum("ijk,ilm->jlkm", ch.B, ch.B).reshape(d * d, d * d) / n
    return K * ch.Q.reshape(1, -1)


def _dense_stationary(ch: AffineChain) -> dict:
    n, d = ch.A.shape
    Bbar = ch.B.mean(axis=0)
    K = second_moment_operator(ch)
    rad_m = float(np.max(np.abs(np.linalg.eigvals(Bbar))))
    rad_S = float(np.max(np.abs(np.linalg.eigvals(K))))
    require(rad_S < 1, "ch", rad_S, "give a second-moment map with spectral radius < 1 (the iteration has no "
            "stationary second moment; reduce gamma or the compression)", func="stationary_moments")
    m = np.linalg.solve(np.eye(d) - Bbar, ch.v.mean(axis=0))
    Bm = np.einsum("ijk,k->ij", ch.B, m)
    cross = Bm.T @ ch.v / n
    r = (cross + cross.T + ch.v.T @ ch.v / n).reshape(-1)
    S = np.linalg.solve(np.eye(d * d) - K, r).reshape(d, d)
    return {"mean": m, "second": 0.5 * (S + S.T), "radius_mean": rad_m, "radius_second": rad_S}


def stationary_moments(ch: AffineChain, *, method: str = "auto") -> dict:
    """Stationary mean and second moment from (I - E[B]) m = E v and S - K(S) = R(m) [kd, Eq. (37)].

    ``method="structured"``: Woodbury solve in the eigenbasis of H (module docstring), ``O(d^3 + (n+d)^2 d^2)``;
    ``method="dense"``: the d^2 x d^2 LU solve and nonsymmetric eigenvalues (the reference, d <= 60);
    ``"auto"``: dense for chains not of the least-squares form, and for d <= 6 while the dense rounding model
    ``eps/(1 - max_j |1 - g h_j|)`` (``eps/(g mu)`` at small steps: the rounded ``B_i``) is <= 1e-8; structured
    otherwise (relative rounding about ``kappa(H) eps`` at any step). Returns mean, second, dist_sq, gap, y_dist_sq, radius_mean, radius_second and the method used.

    Raises ``ValueError`` when the second-moment map is not a contraction (no stationary law).
    """
    func = "stationary_moments"
    n, d = _check_chain_arrays(ch, func)
    _choice(method, "method", METHODS, "stationary_moments")
    dense = method == "dense" or (method == "auto" and _auto_dense(ch, d))
    with blas_threads_for(_engine_work(n, d, dense)):
        eng = _engine(ch, method, func, dense)
        if eng is None:
            out = _dense_stationary(ch)
            used = "dense"
        else:
            m = eng.stationary_mean()
            S = eng.solve_stationary(eng.forcing(m))
            start = None
            if S is not None and eng.q_off > 0 and eng.N > _DENSE_RADIUS_N:
                start = eng._Qpow(eng.to_hat(S * eng.Q), -0.5)   # ~ (I - T)^{-1} applied to the forcing
            rad_S = eng.radius(start)
            # S exists iff the Cholesky test of Q^{-1} - L passed (radius < 1); when 1 - radius is below eps
            # (g mu < 1e-16 at kappa >= 1e8 and Theorem 2's step) the float radius rounds to 1
            require(S is not None and rad_S <= 1, "ch", rad_S,
                    "give a second-moment map with spectral radius < 1 (the iteration has no stationary second "
                    "moment; reduce gamma or the compression)")
            out = {"mean": m, "second": S, "radius_mean": eng.radius_mean(), "radius_second": rad_S}
            used = "structured"
    dist, gap, ydist = _summaries(ch, out["mean"], out["second"])
    if not (np.isfinite(dist) and np.isfinite(gap) and np.isfinite(ydist)):
        raise DivergenceError(f"{func}: ch must give a stationary second moment representable in float64, "
                              f"got an overflow (radius {out['radius_second']:.6g})")
    return {"mean": out["mean"], "second": out["second"], "dist_sq": dist, "gap": gap, "y_dist_sq": ydist,
            "radius_mean": out["radius_mean"], "radius_second": out["radius_second"], "method": used}


def second_moment_radius(ch: AffineChain, *, method: str = "auto") -> float:
    """Spectral radius of the second-moment map (>= 1 means E||y^t||^2 can diverge).

    ``"structured"``: largest eigenvalue of the symmetric positive map T = Q^{1/2} L Q^{1/2} (Perron-Frobenius),
    densely for d(d+1)/2 <= 300, else by Lanczos (shift-inverted through the Woodbury factor when the radius
    is < 1); ``"dense"``: all d^2 eigenvalues of the nonsymmetric operator (the reference);
    ``"auto"``: as in :func:`stationary_moments` (dense for d <= 6 while ``eps/(g mu)`` <= 1e-8).
    """
    func = "second_moment_radius"
    n, d = _check_chain_arrays(ch, func)
    _choice(method, "method", METHODS, "second_moment_radius")
    dense = method == "dense" or (method == "auto" and _auto_dense(ch, d))
    with blas_threads_for(_engine_work(n, d, dense)):
        eng = _engine(ch, method, func, dense)
        if eng is None:
            return float(np.max(np.abs(np.linalg.eigvals(second_moment_operator(ch)))))
        return eng.radius()


def augmented_operator(B: Any, v: Any, Q: Any) -> np.ndarray:
    """Matrix G with w' = G w for w = [vec S (row-major); m; 1] under y' = B_i D y + v_i (d <= 60).

    ``S' = mean_i B_i (S o Q) B_i^T + C(m) + C(m)^T + mean_i v_i v_i^T`` with
    ``C(m) = mean_i B_i m v_i^T``, ``m' = mean_i B_i m + mean_i v_i``.
    """
    func = "augmented_operator"
    B = _bounded(B, "B", func, ndim=3)
    v = _bounded(v, "v", func, ndim=2)
    Q = _bounded(Q, "Q", func, ndim=2)
    n, d, d2 = B.shape
    require(d == d2 and v.shape == (n, d) and Q.shape == (d, d), "B", B.shape,
            "be (n, d, d) with v of shape (n, d) and Q of shape (d, d)")
    require(d <= _MAX_DENSE_D and n * d * d <= _MAX_CHAIN_ENTRIES, "B", B.shape,
            f"have d <= {_MAX_DENSE_D} and n d^2 <= {_MAX_CHAIN_ENTRIES:.0e}")
    return _augmented(B, v, Q)


def _augmented(B: np.ndarray, v: np.ndarray, Q: np.ndarray) -> np.ndarray:
    n, d, _ = B.shape
    D2 = d * d
    G = np.zeros((D2 + d + 1, D2 + d + 1))
    G[:D2, :D2] = np.einsum("ijk,ilm->jlkm", B, B).reshape(D2, D2) / n * Q.reshape(1, -1)
    W = np.einsum("ijl,ik->jkl", B, v) / n
    G[:D2, D2:D2 + d] = (W + W.transpose(1, 0, 2)).reshape(D2, d)
    G[:D2, -1] = (v.T @ v / n).reshape(-1)
    G[D2:D2 + d, D2:D2 + d] = B.mean(axis=0)
    G[D2:D2 + d, -1] = v.mean(axis=0)
    G[-1, -1] = 1.0
    return G


def _unpack(w: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    S = w[:d * d].reshape(d, d)
    return w[d * d:d * d + d], 0.5 * (S + S.T)


def _power_difference(a: np.ndarray, b: np.ndarray, t: int) -> np.ndarray:
    """sum_{s<t} a^{t-1-s} b^s = (a^t - b^t)/(a - b), stable when a ~ b (|a|, |b| <= 1, broadcast)."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    if t == 0:
        return np.zeros(a.shape)
    big = np.where(np.abs(a) >= np.abs(b), a, b)
    small = np.where(np.abs(a) >= np.abs(b), b, a)
    tt = float(t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        close = (big * small > 0) & (np.abs(big - small) <= 0.5 * np.abs(big))
        u = np.where(close, small / np.where(big == 0, 1.0, big) - 1.0, 0.0)     # in [-0.5, 0]
        ratio = np.where(u == 0, tt, np.expm1(tt * np.log1p(u)) / np.where(u == 0, 1.0, u))
        near = np.power(big, tt - 1.0) * ratio
        far = (np.power(a, tt) - np.power(b, tt)) / np.where(a == b, 1.0, a - b)
        both_zero = (a == 0) & (b == 0)
        out = np.where(close, near, far)
        out = np.where(both_zero, 1.0 if t == 1 else 0.0, out)
    return out


def _power_from_rate(delta: np.ndarray, t: int) -> np.ndarray:
    """(1 - delta)^t from the rate delta: exp(t log1p(-delta)) for delta < 1/2 (relative rounding of delta only,
    however close 1 - delta is to 1), the plain power otherwise."""
    delta = np.asarray(delta, dtype=float)
    tt = float(t)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        near = np.exp(tt * np.log1p(-np.minimum(delta, 0.5)))
        far = np.power(1.0 - delta, tt)
    return np.where(delta < 0.5, near, far)


def _power_difference_rates(da: np.ndarray, db: np.ndarray, t: int) -> np.ndarray:
    """sum_{s<t} a^{t-1-s} b^s for a = 1 - da, b = 1 - db given by their rates (broadcast).

    Where both rates are < 1/2: with b the larger base (db <= da after a swap), D = db - da <= 0,
    the sum is b^t expm1(t log1p(D / b)) / D (t b^(t-1) at D = 0), every factor with relative rounding; elsewhere
    :func:`_power_difference` of the bases."""
    da, db = np.broadcast_arrays(np.asarray(da, float), np.asarray(db, float))
    lo, hi = np.minimum(da, db), np.maximum(da, db)    # b = 1 - lo is the larger base
    tt = float(t)
    if t == 0:
        return np.zeros(da.shape)
    both = (hi < 0.5)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        lo_s, hi_s = np.where(both, lo, 0.0), np.where(both, hi, 0.25)
        D = lo_s - hi_s                                   # <= 0
        b = 1.0 - lo_s
        lb = np.log1p(-lo_s)
        bt = np.exp(tt * lb)
        ratio = np.where(D == 0, tt * np.exp((tt - 1.0) * lb),
                         bt * np.expm1(tt * np.log1p(D / b)) / np.where(D == 0, 1.0, D))
    other = _power_difference(1.0 - da, 1.0 - db, t)
    return np.where(both, ratio, other)


def _spectral_moments(eng: _Structured, x0: np.ndarray, times: np.ndarray, func: str) -> list[tuple]:
    """(m_t, S_t) at the times from the eigen-decomposition of I - T (radius < 1, q_off > 0).

    Powers are taken from the rates: ``tau = 1 - delta`` with ``delta`` the eigenvalues of ``I - T`` formed
    without cancelling against 1, and ``beta = 1 - g h``; so ``tau^t`` at ``t ~ 1/(g mu)`` keeps relative
    accuracy about ``kappa eps`` instead of ``t eps``."""
    m_star = eng.stationary_mean()
    S_star = eng.solve_stationary(eng.forcing(m_star))
    delta, W = np.linalg.eigh(eng.I_minus_T_hat_dense())
    rate_mean = eng.gamma * eng.h
    e0 = eng.V.T @ (x0 - m_star)                          # mean deviation in H's eigenbasis
    delta0 = W.T @ eng._Qpow(eng.to_hat(np.outer(x0, x0) - S_star), 0.5)
    # forcing of the deviation by the mean's modes: F(v_j) = C(v_j) + C(v_j)^T
    Fw = np.empty((eng.N, eng.d))
    for j in range(eng.d):
        C = eng.cross(eng.V[:, j])
        Fw[:, j] = W.T @ eng._Qpow(eng.to_hat(C + C.T), 0.5)
    Fe = Fw * e0[None, :]
    out = []
    for t in times:
        t = int(t)
        coef = (_power_from_rate(delta, t) * delta0
                + np.sum(Fe * _power_difference_rates(delta[:, None], rate_mean[None, :], t), axis=1))
        S = S_star + eng.from_hat(eng._Qpow(W @ coef, -0.5))
        m = m_star + eng.V @ (_power_from_rate(rate_mean, t) * e0)
        out.append((m, 0.5 * (S + S.T)))
    return out


def moments_at(ch: AffineChain, x0: Any, times: Any, *, method: str = "auto") -> dict:
    """Exact E||x^t-x*||^2, E f(x^t)-f*, E||y^t-x*||^2 at arbitrary (non-decreasing) times t.

    ``method``: ``"spectral"`` (least-squares chains with radius < 1 and d <= 60): deviations from the
    stationary law through the eigen-decomposition of the symmetric map T and of H, exact at any t
    (``O(d^6)`` once, ``O(d^4)`` per time); ``"iterate"``: the structured map applied step by step (at most
    10^6 steps); ``"dense"``: powers of the (d^2+d+1)-square augmented matrix (the reference, d <= 60), whose
    rounding model is ``eps min(t_max, 1/(g mu))`` relative (the rounded ``B_i``); ``"auto"``: dense for d <= 4 while
    that model is <= 1e-8, otherwise the cheaper of spectral and iterate where they apply (dense up to d = 12
    where its rounding model allows, or when nothing else applies). Raises :class:`DivergenceError` when the
    moments overflow.
    """
    func = "moments_at"
    n, d = _check_chain_arrays(ch, func)
    x0 = _require_start(ch, x0, func)
    times = _int_sequence(times, "times", func)
    require(times.size <= _MAX_TIMES and bool(np.all(np.diff(times) >= 0)), "times", times,
            f"be non-decreasing integers (at most {_MAX_TIMES} of them)")
    _choice(method, "method", MOMENTS_AT_METHODS, "moments_at")
    t_max = int(times[-1])
    M = d * d + d + 1
    dense_work = 4.0 * M ** 3 * np.log2(t_max + 2) * min(times.size, 64)
    dense_accurate = _dense_rounding(ch, t_max + 1.0) <= _AUTO_DENSE_ROUNDING
    if method == "dense" or (method == "auto" and d <= 4 and dense_accurate):
        work = dense_work
    else:
        N = d * (d + 1) / 2
        work = _engine_work(n, d, False) + min(10.0 * N ** 3, t_max * (4.0 * n * d * d + 6.0 * d ** 3))
    with blas_threads_for(work):
        eng = None if method == "dense" else _structure(ch)
        choice = method
        if method == "auto":
            choice = "dense"
            if eng is not None and not (d <= 4 and dense_accurate):
                costs = {}
                if eng.q_off > 0 and eng.N <= _MAX_SPECTRAL_N and eng.factor() is not None:
                    costs["spectral"] = 10.0 * eng.N ** 3
                if t_max <= _MAX_STEPS:
                    costs["iterate"] = float(t_max) * (4 * n * d * d + 6 * d ** 3)
                if d <= 12 and dense_accurate:
                    costs["dense"] = 4.0 * M ** 3 * np.log2(t_max + 2) * times.size
                choice = min(costs, key=costs.get) if costs else ("dense" if d <= _MAX_DENSE_D else "iterate")
        if choice in ("spectral", "iterate"):
            require(eng is not None, "method", method, "be 'dense' or 'auto' for a chain not of the least-squares form")
        if choice == "spectral":
            require(eng.q_off > 0 and eng.N <= _MAX_SPECTRAL_N and eng.factor() is not None, "method", method,
                    "be 'iterate' or 'dense' unless the chain has d <= 60, a compressor with q_off > 0 and a "
                    "second-moment map of spectral radius < 1")
        if choice == "iterate":
            require(t_max <= _MAX_STEPS, "times", t_max, f"be <= {_MAX_STEPS} with method 'iterate'")
        if choice == "dense":
            require(d <= _MAX_DENSE_D, "ch", d, f"have d <= {_MAX_DENSE_D} for the dense augmented engine")
        out = {k: np.empty(times.size) for k in ("dist_sq", "gap", "y_dist_sq")}

        def record(j: int, t: int, m: np.ndarray, S: np.ndarray) -> None:
            vals = _summaries(ch, m, S)
            if not np.all(np.isfinite(vals)):
                raise DivergenceError(f"{func}: ch must give a finite second moment, got an overflow by step {int(t)} "
                                      "(the iteration diverges)")
            out["dist_sq"][j], out["gap"][j], out["y_dist_sq"][j] = vals

        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            if choice == "spectral":
                for j, (m, S) in enumerate(_spectral_moments(eng, x0, times, func)):
                    record(j, times[j], m, S)
            elif choice == "iterate":
                m, S, t = x0.copy(), np.outer(x0, x0), 0
                for j, target in enumerate(times):
                    while t < target and np.all(np.isfinite(S)):
                        m, S = eng.step(m, S)
                        t += 1
                    record(j, t, m, S)
            else:
                G = _augmented(ch.B, ch.v, ch.Q)
                w = np.concatenate([np.outer(x0, x0).reshape(-1), x0, [1.0]])
                last = 0
                for j, t in enumerate(times):
                    w = np.linalg.matrix_power(G, int(t - last)) @ w
                    last = int(t)
                    m, S = _unpack(w, d)
                    record(j, t, m, S)
        out["method"] = choice
        return out


def refresh_phases(A: Any, b: Any, x0: Any, gamma: float, tau: int, phases: int) -> np.ndarray:
    """Exact E f(x^{m tau}) - f*, m = 0..phases, for unbiased distillation (16) with lam = 1 and the teacher
    refreshed to the current iterate every tau steps (theta^m = x^{m tau}, theta^0 = x^0) [kd, after Thm. 3].

    The pair (x, theta) evolves affinely: x' = (I - g A_i) x + g (A_i - H) theta + g H x*, theta' = theta;
    at each phase end theta := x. Moments of the pair are propagated exactly (d <= 12, tau <= 10^12,
    phases <= 10^5); raises :class:`DivergenceError` when they overflow.
    """
    func = "refresh_phases"
    A = _bounded(A, "A", func, ndim=2, bound=1e50)
    b = _bounded(b, "b", func, ndim=1)
    require(b.shape == (A.shape[0],), "b", b.shape, f"have shape ({A.shape[0]},) (one label per row of A)")
    n, d = A.shape
    require(d <= _MAX_REFRESH_D and n * d * d <= _MAX_CHAIN_ENTRIES, "A", A.shape,
            f"have d <= {_MAX_REFRESH_D} (the pair's moment operator has (2d)^2 + 2d + 1 rows)")
    x0 = _bounded(x0, "x0", func, ndim=1)
    require(x0.shape == (d,), "x0", x0, f"have shape ({d},)")
    gamma = require_positive(gamma, "gamma")
    row_sq = float(np.max(np.einsum("ij,ij->i", A, A)))
    require(gamma * row_sq <= 1e100, "gamma", gamma, "be <= 1e100 / max ||a_i||^2 (larger steps overflow the moments)")
    tau = require_int(tau, "tau", low=1, high=_MAX_TAU)
    phases = require_int(phases, "phases", low=0, high=_MAX_PHASES)
    c = least_squares_constants(A, b)
    Ai = np.einsum("ij,ik->ijk", A, A)
    B = np.zeros((n, 2 * d, 2 * d))
    B[:, :d, :d] = np.eye(d) - gamma * Ai
    B[:, :d, d:] = gamma * (Ai - c.H)
    B[:, d:, d:] = np.eye(d)
    v = np.zeros((n, 2 * d))
    v[:, :d] = gamma * c.H @ c.x_star
    M = (2 * d) ** 2 + 2 * d + 1
    with blas_threads_for(2.0 * M ** 3 * (np.log2(tau) + 1) + phases * M * M), \
            np.errstate(over="ignore", invalid="ignore", under="ignore"):
        G = np.linalg.matrix_power(_augmented(B, v, np.ones((2 * d, 2 * d))), int(tau))
        P = np.zeros((2 * d, 2 * d))
        P[:d, :d] = np.eye(d)
        P[d:, :d] = np.eye(d)
        z0 = np.concatenate([x0, x0])
        m, S = z0, np.outer(z0, z0)
        gaps = [_gap(c, m[:d], S[:d, :d])]
        for k in range(phases):
            w = G @ np.concatenate([S.reshape(-1), m, [1.0]])
            m, S = _unpack(w, 2 * d)
            m, S = P @ m, P @ S @ P.T
            gaps.append(_gap(c, m[:d], S[:d, :d]))
            if not np.isfinite(gaps[-1]):
                raise DivergenceError(f"{func}: gamma must keep the moments finite, got an overflow in phase {k + 1} "
                                      f"(gamma = {gamma:.6g}, tau = {tau})")
    return np.array(gaps)


def _gap(c: LeastSquaresConstants, m: np.ndarray, S: np.ndarray) -> float:
    xs = c.x_star
    E = S - np.outer(m, xs) - np.outer(xs, m) + np.outer(xs, xs)
    return float(0.5 * np.sum(c.H * E))


def ls_gap(c: LeastSquaresConstants, m: Any, S: Any) -> float:
    """E f(x) - f* from the mean and second moment of x on least squares."""
    func = "ls_gap"
    require_type(isinstance(c, LeastSquaresConstants), "c", c, "be LeastSquaresConstants (see least_squares_constants)")
    d = np.shape(c.x_star)[0]
    m = _bounded(m, "m", func, ndim=1)
    S = _bounded(S, "S", func, ndim=2)
    require(m.shape == (d,) and S.shape == (d, d), "S", S.shape, f"be ({d}, {d}) with m of shape ({d},)")
    with np.errstate(over="ignore", invalid="ignore"):
        g = _gap(c, m, S)
    require(np.isfinite(g), "S", S, "give E f(x) - f* representable in float64")
    return g


# ----------------------------------------------------------------------------------------------
# Monte Carlo chains (Numba kernels + NumPy twin)
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _chains_kernel_small(A, v, gamma, idx, masks, scale, y0, x_star, checkpoints, out_y, out_dist):
    # d = len(y0) is a compile-time constant (y0 and x_star are tuples): the loops over coordinates unroll
    # and the state of a chain stays in registers within a step. Time outer, chains inner (serial:
    # idx[t, :] and masks[t, :, :] are contiguous). Sums run in coordinate order, as in the twin.
    # Returns -1, or the first step t whose sample index lies outside [0, n) (checked here, where idx is read).
    T, C = idx.shape
    n = A.shape[0]
    D = len(y0)
    use_mask = masks.shape[0] > 0
    for c in range(C):
        for j in range(D):
            out_y[c, j] = y0[j]
    k = 0
    for t in range(T + 1):
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            for c in range(C):
                s = (out_y[c, 0] - x_star[0]) * (out_y[c, 0] - x_star[0])
                for j in range(1, D):
                    s += (out_y[c, j] - x_star[j]) * (out_y[c, j] - x_star[j])
                out_dist[k, c] = s
            k += 1
        if t == T:
            break
        if use_mask:
            for c in range(C):
                i = idx[t, c]
                if i < 0 or i >= n:
                    return t
                for j in range(D):
                    out_y[c, j] = out_y[c, j] * (masks[t, c, j] * scale)
                r = A[i, 0] * out_y[c, 0]
                for j in range(1, D):
                    r += A[i, j] * out_y[c, j]
                gr = gamma * r
                for j in range(D):
                    out_y[c, j] = out_y[c, j] - gr * A[i, j] + v[i, j]
        else:
            for c in range(C):
                i = idx[t, c]
                if i < 0 or i >= n:
                    return t
                r = A[i, 0] * out_y[c, 0]
                for j in range(1, D):
                    r += A[i, j] * out_y[c, j]
                gr = gamma * r
                for j in range(D):
                    out_y[c, j] = out_y[c, j] - gr * A[i, j] + v[i, j]
    return -1


@njit(cache=True)
def _chains_kernel(A, v, gamma, idx, masks, scale, y0, x_star, checkpoints, out_y, out_dist):
    # any d (runtime loops); same arithmetic and order as the small-d kernel and the twin
    T, C = idx.shape
    n, D = A.shape
    use_mask = masks.shape[0] > 0
    for c in range(C):
        for j in range(D):
            out_y[c, j] = y0[j]
    k = 0
    for t in range(T + 1):
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            for c in range(C):
                s = (out_y[c, 0] - x_star[0]) * (out_y[c, 0] - x_star[0])
                for j in range(1, D):
                    s += (out_y[c, j] - x_star[j]) * (out_y[c, j] - x_star[j])
                out_dist[k, c] = s
            k += 1
        if t == T:
            break
        for c in range(C):
            i = idx[t, c]
            if i < 0 or i >= n:
                return t
            if use_mask:
                for j in range(D):
                    out_y[c, j] = out_y[c, j] * (masks[t, c, j] * scale)
            r = A[i, 0] * out_y[c, 0]
            for j in range(1, D):
                r += A[i, j] * out_y[c, j]
            gr = gamma * r
            for j in range(D):
                out_y[c, j] = out_y[c, j] - gr * A[i, j] + v[i, j]
    return -1


def _chains_numpy(A, v, gamma, idx, masks, scale, y0, x_star, checkpoints, out_y, out_dist):
    T, C = idx.shape
    d = A.shape[1]
    y = np.tile(np.asarray(y0, dtype=float), (C, 1))
    x_star = np.asarray(x_star, dtype=float)
    k = 0
    for t in range(T + 1):
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            e = y - x_star
            s = e[:, 0] * e[:, 0]
            for j in range(1, d):
                s = s + e[:, j] * e[:, j]
            out_dist[k] = s
            k += 1
        if t == T:
            break
        if np.any((idx[t] < 0) | (idx[t] >= A.shape[0])):
            return t
        z = y * (masks[t] * scale) if masks.shape[0] > 0 else y
        a = A[idx[t]]
        r = a[:, 0] * z[:, 0]
        for j in range(1, d):
            r = r + a[:, j] * z[:, j]
        y = z - (gamma * r)[:, None] * a + v[idx[t]]
    out_y[:] = y
    return -1


def draw_chain_randomness(n: int, d: int, T: int, chains: int, *, compressor: str | None = None,
                          param: float | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Pre-drawn sample indices (T, chains) and compression masks (T, chains, d) (uint8) with their scale."""
    func = "draw_chain_randomness"
    n = require_int(n, "n", low=1, high=2 ** 62)
    d = require_int(d, "d", low=1, high=2000)
    T = require_int(T, "T", low=0, high=_MAX_DRAWS)
    chains = require_int(chains, "chains", low=1, high=_MAX_DRAWS)
    require(T * chains <= _MAX_DRAWS, "chains", chains, f"give T x chains <= {_MAX_DRAWS:.0e} draws (T = {T})")
    _choice(compressor, "compressor", COMPRESSORS, "draw_chain_randomness")
    compression_second_moment(compressor, d, param)   # validates param
    require(compressor is None or T * chains * d <= _MAX_DRAWS, "chains", chains,
            f"give T x chains x d <= {_MAX_DRAWS:.0e} compression draws (T = {T}, d = {d})")
    seed = _require_seed(seed, func)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(T, chains))
    if compressor is None:
        return idx, np.zeros((0, 0, 0), dtype=np.uint8), 1.0
    if compressor == "rand_k":
        k = int(param)
        keys = rng.random((T, chains, d))
        thresh = np.partition(keys, k - 1, axis=2)[:, :, k - 1:k] if T > 0 else keys[:, :, :1]
        return idx, (keys <= thresh).astype(np.uint8), d / k
    p = float(param)
    return idx, (rng.random((T, chains, d)) < p).astype(np.uint8), 1 / p


@njit(cache=True)
def _min_max(flat):
    lo, hi = flat[0], flat[0]
    for x in flat:
        lo = min(lo, x)
        hi = max(hi, x)
    return lo, hi


def _check_draws(draws: Any, n: int, d: int, T: int, chains: int, func: str) -> tuple[np.ndarray, np.ndarray, float]:
    require_type(isinstance(draws, (tuple, list)) and len(draws) == 3, "draws", draws,
                 "be (idx, masks, scale) as returned by draw_chain_randomness", func=func)
    idx, masks, scale = draws
    require_type(isinstance(idx, np.ndarray) and idx.dtype.kind in "iu", "draws", idx,
                 "hold an integer index array first", func=func)
    require(idx.shape == (T, chains), "draws", idx.shape, f"hold indices of shape ({T}, {chains})", func=func)
    idx = np.ascontiguousarray(idx, dtype=np.int64)   # the range [0, n) is checked by the kernels
    require_type(isinstance(masks, np.ndarray) and masks.dtype == np.uint8, "draws", masks,
                 "hold a uint8 mask array second", func=func)
    require(masks.shape in ((0, 0, 0), (T, chains, d)), "draws", masks.shape,
            f"hold masks of shape (0, 0, 0) or ({T}, {chains}, {d})", func=func)
    masks = np.ascontiguousarray(masks)
    require(masks.size == 0 or _min_max(masks.reshape(-1))[1] <= 1, "draws", "masks", "hold masks with entries 0/1",
            func=func)
    scale = require_positive(scale, "draws", func=func)
    return idx, masks, scale


def simulate_chains(ch: AffineChain, x0: Any, T: int, chains: int, *, compressor: str | None = None,
                    param: float | None = None, checkpoints: Any = None, seed: int = 0,
                    backend: str = "numba", draws: tuple | None = None) -> dict:
    """Run ``chains`` independent chains of the affine iteration for T steps (y-recursion).

    Returns final ``y`` (chains, d) and ``dist_sq`` = ||y^t - x*||^2 at the checkpoints
    (n_checkpoints, chains). Randomness is pre-drawn (:func:`draw_chain_randomness`), so both backends
    see the same draws; the compressor must be the chain's (same Q). The Numba kernel is specialised
    to the dimension for d <= 16; both backends are bitwise equal.
    """
    func = "simulate_chains"
    n, d = _check_chain_arrays(ch, func)
    _choice(backend, "backend", ("numba", "numpy"), "simulate_chains")
    T = require_int(T, "T", low=0, high=_MAX_DRAWS)
    chains = require_int(chains, "chains", low=1, high=_MAX_DRAWS)
    require(T * chains <= _MAX_DRAWS, "chains", chains, f"give T x chains <= {_MAX_DRAWS:.0e} chain-steps (T = {T})")
    x0 = _require_start(ch, x0, func)
    cps = _require_checkpoints(checkpoints, T, func)
    if draws is None:
        _choice(compressor, "compressor", COMPRESSORS, "simulate_chains")
        Q = compression_second_moment(compressor, d, param)
        require(np.array_equal(Q, ch.Q), "compressor", compressor,
                "match the chain's compressor (affine_chain's compressor and param give its Q)")
        idx, masks, scale = draw_chain_randomness(n, d, T, chains, compressor=compressor, param=param, seed=seed)
    else:
        idx, masks, scale = _check_draws(draws, n, d, T, chains, func)
    gamma = float(ch.gamma)
    A = np.ascontiguousarray(ch.A, dtype=float)
    v = np.ascontiguousarray(ch.v, dtype=float)
    out_y = np.empty((chains, d))
    out_dist = np.empty((cps.size, chains))
    if backend == "numba":
        if d <= 16:
            bad_step = _chains_kernel_small(A, v, gamma, idx, masks, float(scale), tuple(float(x) for x in x0),
                                            tuple(float(x) for x in ch.x_star), cps, out_y, out_dist)
        else:
            bad_step = _chains_kernel(A, v, gamma, idx, masks, float(scale), x0, np.asarray(ch.x_star, float), cps,
                                      out_y, out_dist)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            bad_step = _chains_numpy(A, v, gamma, idx, masks, float(scale), x0, ch.x_star, cps, out_y, out_dist)
    require(bad_step < 0, "draws", f"step {bad_step}", f"hold sample indices in [0, {n})")
    if not np.all(np.isfinite(out_dist)):
        bad = int(np.argmax(~np.all(np.isfinite(out_dist), axis=1)))
        raise DivergenceError(f"{func}: ch must give chains that stay finite, got an overflow by checkpoint step "
                              f"{int(cps[bad])} (gamma = {gamma:.6g})")
    return {"y": out_y, "dist_sq": out_dist, "checkpoints": cps}


# ----------------------------------------------------------------------------------------------
# the nonconvex PL example: f(x) = x^2 + 3 sin^2 x with additive Rademacher gradient noise
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _pl_kernel(x0, theta, lmbda, gamma, noise, signs, unbiased, checkpoints, out_f):
    T, C = signs.shape
    gth = 2.0 * theta + 3.0 * np.sin(2.0 * theta)
    for c in range(C):
        x = x0
        k = 0
        for t in range(T + 1):
            if k < checkpoints.shape[0] and checkpoints[k] == t:
                out_f[k, c] = x * x + 3.0 * np.sin(x) ** 2
                k += 1
            if t == T:
                break
            xi = noise * (2.0 * signs[t, c] - 1.0)
            g = 2.0 * x + 3.0 * np.sin(2.0 * x) + xi - lmbda * (gth + xi)
            if unbiased:
                g += lmbda * gth
            x = x - gamma * g


def _pl_numpy(x0, theta, lmbda, gamma, noise, signs, unbiased, checkpoints, out_f):
    T, C = signs.shape
    gth = 2.0 * theta + 3.0 * np.sin(2.0 * theta)
    x = np.full(C, float(x0))
    k = 0
    for t in range(T + 1):
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            out_f[k] = x * x + 3.0 * np.sin(x) ** 2
            k += 1
        if t == T:
            break
        xi = noise * (2.0 * signs[t] - 1.0)
        g = 2.0 * x + 3.0 * np.sin(2.0 * x) + xi - lmbda * (gth + xi)
        if unbiased:
            g = g + lmbda * gth
        x = x - gamma * g


def simulate_pl(x0: float, theta: float, lmbda: float, gamma: float, noise: float, T: int, chains: int, *,
                checkpoints: Any = None, unbiased: bool = False, seed: int = 0, backend: str = "numba") -> dict:
    """Chains of iteration (7) (or (16)) on f(x) = x^2 + 3 sin^2 x with grad f_xi(x) = f'(x) + xi,
    xi = +-noise (Rademacher) [kd, Sec. 5 example]. Returns f(x^t) at the checkpoints, shape
    (n_checkpoints, chains); T x chains <= 5e8."""
    func = "simulate_pl"
    x0 = require_real(x0, "x0")
    require(abs(x0) <= 1e150, "x0", x0, "have magnitude <= 1e150 (f(x0) = x0^2 + 3 sin^2 x0 must be finite)")
    theta = require_real(theta, "theta")
    require(abs(theta) <= 1e150, "theta", theta, "have magnitude <= 1e150")
    lmbda = require_real(lmbda, "lmbda")
    require(abs(lmbda) <= 1e6, "lmbda", lmbda, "have magnitude <= 1e6")
    gamma = require_positive(gamma, "gamma")
    noise = require_positive(noise, "noise", strict=False)
    T = require_int(T, "T", low=0, high=_MAX_PL_DRAWS)
    chains = require_int(chains, "chains", low=1, high=_MAX_PL_DRAWS)
    require(T * chains <= _MAX_PL_DRAWS, "chains", chains, f"give T x chains <= {_MAX_PL_DRAWS:.0e} draws (T = {T})")
    unbiased = _require_bool(unbiased, "unbiased", func)
    seed = _require_seed(seed, func)
    _choice(backend, "backend", ("numba", "numpy"), "simulate_pl")
    cps = _require_checkpoints(checkpoints, T, func)
    raw = np.frombuffer(np.random.default_rng(seed).bytes((T * chains + 7) // 8), dtype=np.uint8)
    signs = np.unpackbits(raw)[:T * chains].reshape(T, chains)
    out = np.empty((cps.size, chains))
    fn = _pl_kernel if backend == "numba" else _pl_numpy
    with np.errstate(over="ignore", invalid="ignore"):
        fn(x0, theta, lmbda, gamma, noise, signs, unbiased, cps, out)
    if not np.all(np.isfinite(out)):
        bad = int(np.argmax(~np.all(np.isfinite(out), axis=1)))
        raise DivergenceError(f"{func}: gamma must keep the chains finite, got an overflow by checkpoint step "
                              f"{int(cps[bad])} (gamma = {gamma:.6g}, noise = {noise:.6g})")
    return {"f": out, "checkpoints": cps}


# ----------------------------------------------------------------------------------------------
# ridge logistic regression: a non-quadratic finite sum inside every hypothesis of Theorems 1-3
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _logistic_kernel(A, y, ridge, gamma, corr, idx, t0, checkpoints, k, x, out_x):
    # Steps t0 .. t0 + idx.shape[0] - 1 of (7) / (16) on ridge logistic regression for every chain: the state x
    # (chains, d) is updated in place, checkpoint times in that range are recorded (before the step) into out_x[k].
    # grad f_i(x) = -y_i sigma(-y_i a_i^T x) a_i + ridge x with sigma(-z) = (1 - tanh(z/2))/2 (math.tanh, as the
    # twin); corr holds lam grad f_i(theta) (minus lam grad f(theta) for (16)). Time outer, chains inner, sums in
    # coordinate order. Returns (next checkpoint index, -1) or (., t) for the first step t whose sample index lies
    # outside [0, n).
    T, C = idx.shape
    n, D = A.shape
    for tt in range(T):
        t = t0 + tt
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            for c in range(C):
                for j in range(D):
                    out_x[k, c, j] = x[c, j]
            k += 1
        for c in range(C):
            i = idx[tt, c]
            if i < 0 or i >= n:
                return k, t
            r = A[i, 0] * x[c, 0]
            for j in range(1, D):
                r += A[i, j] * x[c, j]
            w = -y[i] * (0.5 * (1.0 - math.tanh((y[i] * r) / 2.0)))
            for j in range(D):
                x[c, j] = x[c, j] - gamma * ((w * A[i, j] + ridge * x[c, j]) - corr[i, j])
    return k, -1


def _tanh_libm(h: np.ndarray) -> np.ndarray:
    """``math.tanh`` per element (the libm function the kernel calls; ``np.tanh`` differs in the last bit)."""
    return np.fromiter(map(math.tanh, h.tolist()), dtype=float, count=h.size)


def _logistic_numpy(A, y, ridge, gamma, corr, idx, t0, checkpoints, k, x, out_x):
    """NumPy twin of :func:`_logistic_kernel` (vectorised over chains; same operations in the same order)."""
    T, C = idx.shape
    n, D = A.shape
    for tt in range(T):
        t = t0 + tt
        if k < checkpoints.shape[0] and checkpoints[k] == t:
            out_x[k] = x
            k += 1
        ii = idx[tt]
        if np.any((ii < 0) | (ii >= n)):
            return k, t
        a = A[ii]
        r = a[:, 0] * x[:, 0]
        for j in range(1, D):
            r = r + a[:, j] * x[:, j]
        yi = y[ii]
        w = -yi * (0.5 * (1.0 - _tanh_libm((yi * r) / 2.0)))
        x[:] = x - gamma * ((w[:, None] * a + ridge * x) - corr[ii])
    return k, -1


def _logistic_sample_gradients(A: np.ndarray, y: np.ndarray, ridge: float, x: np.ndarray) -> np.ndarray:
    """Per-sample gradients at x with the kernel's arithmetic (so a chain at x = theta with lam = 1 stands still)."""
    r = A[:, 0] * x[0]
    for j in range(1, A.shape[1]):
        r = r + A[:, j] * x[j]
    w = -y * (0.5 * (1.0 - _tanh_libm((y * r) / 2.0)))
    return w[:, None] * A + ridge * x[None, :]


def simulate_logistic(A: Any, y: Any, ridge: float, theta: Any, lmbda: float, gamma: float, x0: Any, T: int,
                      chains: int, *, checkpoints: Any = None, unbiased: bool = False, seed: int = 0,
                      backend: str = "numba", draws: Any = None) -> dict:
    """Chains of iteration (7) (or (16) with ``unbiased``) on ridge logistic regression [kd, Eqs. (7), (16)].

    ``f_i(x) = log(1 + exp(-y_i a_i^T x)) + (ridge/2) ||x||^2`` with labels ``y_i`` in {-1, +1}: strongly convex,
    smooth and not quadratic, so no exact moment recursion exists (constants in
    :func:`kdtheory.theory.kd.ridge_logistic_constants`). Each step samples one row uniformly:
    ``x' = x - gamma (grad f_i(x) - lmbda grad f_i(theta) [+ lmbda grad f(theta)])``.

    Returns ``dist_sq`` (``||x^t - x*||^2``) and ``gap`` (``f(x^t) - f*``) at the checkpoints, shape
    (n_checkpoints, chains), the final iterates ``x`` (chains, d), the checkpoints and the constants.
    Sample indices are pre-drawn from ``default_rng(seed)`` in blocks of at most 2^22 (or given as ``draws``,
    integers of shape (T, chains)); the Numba kernel and its NumPy twin are bitwise equal on them.
    T x chains <= 5e8; raises :class:`DivergenceError` when the chains overflow (gamma too large).
    """
    func = "simulate_logistic"
    A = _bounded(A, "A", func, ndim=2, bound=1e50)
    n, d = A.shape
    require(n * d <= _MAX_LOGISTIC_ENTRIES and d <= _MAX_LOGISTIC_D, "A", A.shape,
            f"have d <= {_MAX_LOGISTIC_D} and n d <= {_MAX_LOGISTIC_ENTRIES:.0e} entries", func=func)
    y = require_array(y, "y", ndim=1, func=func)
    require(y.shape == (n,) and bool(np.all(np.abs(y) == 1)), "y", y, f"be {n} labels in {{-1, +1}}", func=func)
    ridge = require_positive(ridge, "ridge", func=func)
    require(ridge <= 1e50, "ridge", ridge, "be <= 1e50", func=func)
    theta = _bounded(theta, "theta", func, ndim=1)
    require(theta.shape == (d,), "theta", theta, f"have shape ({d},) like the rows of A", func=func)
    lmbda = require_real(lmbda, "lmbda", func=func)
    require(abs(lmbda) <= 1e6, "lmbda", lmbda, "have magnitude <= 1e6", func=func)
    gamma = require_positive(gamma, "gamma", func=func)
    x0 = _bounded(x0, "x0", func, ndim=1)
    require(x0.shape == (d,), "x0", x0, f"have shape ({d},) like the rows of A", func=func)
    T = require_int(T, "T", low=0, high=_MAX_LOGISTIC_STEPS, func=func)
    chains = require_int(chains, "chains", low=1, high=_MAX_LOGISTIC_STEPS, func=func)
    require(T * chains <= _MAX_LOGISTIC_STEPS, "chains", chains,
            f"give T x chains <= {_MAX_LOGISTIC_STEPS:.0e} chain-steps (T = {T})", func=func)
    unbiased = _require_bool(unbiased, "unbiased", func)
    seed = _require_seed(seed, func)
    _choice(backend, "backend", ("numba", "numpy"), func)
    cps = _require_checkpoints(checkpoints, T, func)
    require(T * chains * d <= _MAX_LOGISTIC_WORK, "chains", chains,
            f"give T x chains x d <= {_MAX_LOGISTIC_WORK:.0e} (T = {T}, d = {d})", func=func)
    require(cps.size * chains * d <= _MAX_TRAJECTORY_ENTRIES and cps.size * chains * (n + d) <= _MAX_LOGISTIC_WORK,
            "checkpoints", cps.size, f"give n_checkpoints x chains x d <= {_MAX_TRAJECTORY_ENTRIES:.0e} stored iterates "
            f"and n_checkpoints x chains x (n + d) <= {_MAX_LOGISTIC_WORK:.0e} (chains = {chains}, n = {n}, d = {d})",
            func=func)
    if draws is not None:
        require_type(isinstance(draws, np.ndarray) and draws.dtype.kind in "iu", "draws", draws,
                     "be an integer array of sample indices", func=func)
        require(draws.shape == (T, chains), "draws", draws.shape, f"have shape ({T}, {chains})", func=func)
        draws = np.ascontiguousarray(draws, dtype=np.int64)   # the range [0, n) is checked by the kernels
    try:
        c = ridge_logistic_constants(A, y, ridge)
    except ValueError as exc:
        raise ValueError(f"{func}: A must give a ridge logistic problem whose constants exist, got: {exc}") from None
    with np.errstate(over="ignore", invalid="ignore"):
        G = _logistic_sample_gradients(A, y, ridge, theta)
        corr = lmbda * G - lmbda * G.mean(axis=0)[None, :] if unbiased else lmbda * G
    require(bool(np.all(np.isfinite(corr))), "theta", theta,
            "give teacher gradients lmbda grad f_i(theta) representable in float64", func=func)
    corr = np.ascontiguousarray(corr)
    x = np.ascontiguousarray(np.tile(x0, (chains, 1)))
    out_x = np.empty((cps.size, chains, d))
    step = _logistic_kernel if backend == "numba" else _logistic_numpy
    block = max(1, _LOGISTIC_BLOCK // chains)
    rng = np.random.default_rng(seed) if draws is None else None
    k, t0 = 0, 0
    with np.errstate(over="ignore", invalid="ignore"):
        while t0 < T:
            tb = min(block, T - t0)
            idx = draws[t0:t0 + tb] if draws is not None else rng.integers(0, n, size=(tb, chains))
            k, bad = step(A, y, ridge, gamma, corr, idx, t0, cps, k, x, out_x)
            require(bad < 0, "draws", f"step {bad}", f"hold sample indices in [0, {n})", func=func)
            t0 += tb
        if k < cps.size and cps[k] == T:
            out_x[k] = x
            k += 1
        e = out_x - c.x_star
        dist = np.sum(e * e, axis=2)
        gap = np.empty((cps.size, chains))
        rows = max(1, 2 ** 22 // n)
        for j in range(cps.size):
            for s in range(0, chains, rows):
                X = out_x[j, s:s + rows]
                z = (X @ A.T) * y[None, :]
                gap[j, s:s + rows] = (np.mean(np.logaddexp(0.0, -z), axis=1) + 0.5 * ridge * np.sum(X * X, axis=1)
                                      - c.f_star)
    ok = np.all(np.isfinite(dist), axis=1) & np.all(np.isfinite(gap), axis=1)
    if not np.all(ok):
        raise DivergenceError(f"{func}: gamma must keep the chains finite, got an overflow by checkpoint step "
                              f"{int(cps[int(np.argmin(ok))])} (gamma = {gamma:.6g}, ridge = {ridge:.6g})")
    return {"dist_sq": dist, "gap": gap, "x": x, "checkpoints": cps, "constants": c}


# ----------------------------------------------------------------------------------------------
# instances
# ----------------------------------------------------------------------------------------------


def random_least_squares(n: int, d: int, rng: np.random.Generator, *, noise: float = 0.5,
                         spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian rows with heterogeneous scales exp(spread * N(0,1)/2) and labels b = A w + noise."""
    n = require_int(n, "n", low=1, high=10 ** 7)
    d = require_int(d, "d", low=1, high=10 ** 4)
    require(n * d <= 10 ** 8, "n", n, f"give n d <= 1e8 entries (d = {d})")
    require_type(isinstance(rng, np.random.Generator), "rng", rng, "be a numpy.random.Generator")
    noise = require_positive(noise, "noise", strict=False)
    require(noise <= 1e100, "noise", noise, "be <= 1e100")
    spread = require_in(spread, "spread", 0.0, 20.0)
    A = rng.normal(size=(n, d)) * np.exp(spread * rng.normal(size=(n, 1)) / 2)
    w = rng.normal(size=d)
    return A, A @ w + noise * rng.normal(size=n)


# ----------------------------------------------------------------------------------------------
# benchmarks
# ----------------------------------------------------------------------------------------------


def _bench_chain(d: int, gamma_scale: float = 0.5) -> AffineChain:
    A, b = random_least_squares(4 * d, d, np.random.default_rng(d))
    c = least_squares_constants(A, b)
    return affine_chain(A, b, c.x_star + 0.1, 0.5, gamma_scale / c.cal_L)


@benchmark("kd.chains")
def _bench_chains() -> list[BenchCase]:
    rng = np.random.default_rng(0)
    A, b = random_least_squares(50, 5, rng)
    c = least_squares_constants(A, b)
    ch = affine_chain(A, b, c.x_star + 0.1, 0.5, 0.5 / c.cal_L)
    T, C = 200, 10_000
    draws = draw_chain_randomness(50, 5, T, C, seed=1)
    x0 = np.zeros(5)
    cases = [BenchCase(f"SGD+KD chains d=5 n=50, {C} chains x {T} steps", T * C, "chain-steps",
                       lambda: simulate_chains(ch, x0, T, C, draws=draws, backend="numba"),
                       lambda: simulate_chains(ch, x0, T, C, draws=draws, backend="numpy"))]
    chk = affine_chain(A, b, c.x_star + 0.1, 0.5, 0.1 / c.cal_L, compressor="rand_k", param=4)
    drawk = draw_chain_randomness(50, 5, T, C, compressor="rand_k", param=4, seed=2)
    cases.append(BenchCase(f"compressed (rand-4 of 5) chains, {C} x {T}", T * C, "chain-steps",
                           lambda: simulate_chains(chk, x0, T, C, draws=drawk, backend="numba"),
                           lambda: simulate_chains(chk, x0, T, C, draws=drawk, backend="numpy")))
    A20, b20 = random_least_squares(80, 20, np.random.default_rng(20))
    c20 = least_squares_constants(A20, b20)
    ch20 = affine_chain(A20, b20, c20.x_star + 0.1, 0.5, 0.5 / c20.cal_L)
    C20 = 2000
    draw20 = draw_chain_randomness(80, 20, T, C20, seed=3)
    z20 = np.zeros(20)
    cases.append(BenchCase(f"SGD+KD chains d=20 n=80 (generic kernel), {C20} x {T}", T * C20, "chain-steps",
                           lambda: simulate_chains(ch20, z20, T, C20, draws=draw20, backend="numba"),
                           lambda: simulate_chains(ch20, z20, T, C20, draws=draw20, backend="numpy")))
    return cases


@benchmark("kd.logistic")
def _bench_logistic() -> list[BenchCase]:
    """Ridge logistic chains (the Monte Carlo of Theorems 1-3): kernel against its twin on the same pre-drawn indices."""
    rng = np.random.default_rng(7)
    cases = []
    for n, d, C, T in ((12, 3, 2000, 500), (40, 20, 500, 200)):
        A = rng.normal(size=(n, d))
        y = np.where(A @ rng.normal(size=d) >= 0, 1.0, -1.0)
        theta, x0 = np.full(d, 0.2), np.ones(d)
        idx = rng.integers(0, n, size=(T, C))
        cases.append(BenchCase(f"ridge logistic KD chains d={d} n={n}, {C} chains x {T} steps", T * C, "chain-steps",
                               lambda A=A, y=y, th=theta, x0=x0, T=T, C=C, idx=idx: simulate_logistic(
                                   A, y, 0.3, th, 0.5, 0.05, x0, T, C, draws=idx, backend="numba"),
                               lambda A=A, y=y, th=theta, x0=x0, T=T, C=C, idx=idx: simulate_logistic(
                                   A, y, 0.3, th, 0.5, 0.05, x0, T, C, draws=idx, backend="numpy")))
    return cases


@benchmark("kd.moments")
def _bench_moments() -> list[BenchCase]:
    """Exact engines: structured (first column) against the dense reference (second column)."""
    cases = []
    rng = np.random.default_rng(900)
    M900 = rng.normal(size=(900, 900)) + 30.0 * np.eye(900)
    r900 = rng.normal(size=900)

    def lu900():
        with blas_threads_for(2 / 3 * 900 ** 3):
            return np.linalg.solve(M900, r900)

    cases.append(BenchCase("reference: one dense 900 x 900 LU solve (policy threads)", 1, "solves", lu900))
    for d in (5, 10, 20, 30):
        ch = _bench_chain(d)
        cases.append(BenchCase(f"stationary moments d={d}: structured | dense d^2 x d^2", 1, "solves",
                               lambda ch=ch: stationary_moments(ch, method="structured"),
                               lambda ch=ch: stationary_moments(ch, method="dense")))
    ch60 = _bench_chain(60)
    cases.append(BenchCase("stationary moments d=60: structured | one 900 x 900 LU (goal: ratio >= 0.33x)", 1,
                           "solves", lambda: stationary_moments(ch60, method="structured"), lu900))
    ch120 = _bench_chain(120)
    cases.append(BenchCase("stationary moments d=120 n=480: structured (dense: 14400^2 system)", 1, "solves",
                           lambda: stationary_moments(ch120, method="structured")))
    ch60b = _bench_chain(60)
    ch60b = affine_chain(ch60b.A, ch60b.b, ch60b.x_star + 0.1, 0.5, ch60b.gamma, compressor="bernoulli", param=0.9999)
    cases.append(BenchCase("stationary moments d=60, Bernoulli p=0.9999: structured", 1, "solves",
                           lambda: stationary_moments(ch60b, method="structured")))
    for d in (10, 30):
        ch = _bench_chain(d)
        z = np.zeros(d)
        cases.append(BenchCase(f"moment recursion d={d}, 20 steps: structured | dense", 20, "steps",
                               lambda ch=ch, z=z: moment_trajectory(ch, z, 20, method="structured"),
                               lambda ch=ch, z=z: moment_trajectory(ch, z, 20, method="dense")))
    ch20 = _bench_chain(20)
    times = np.array([0, 10, 100, 1000, 10_000])
    z20 = np.zeros(20)
    cases.append(BenchCase("moments_at d=20, t in {0,10,...,1e4}: spectral | dense augmented powers", 5, "times",
                           lambda: moments_at(ch20, z20, times, method="spectral"),
                           lambda: moments_at(ch20, z20, times, method="dense")))
    return cases
