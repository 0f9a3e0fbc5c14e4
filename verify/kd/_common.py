"""Shared pieces of the [kd] claims: instance generators, extended-precision twins, bound splitting.

Instances
    :func:`ls_instance` (random least squares: heterogeneous rows, noisy labels), :func:`centred`
    (the same problem translated so that ``x* = 0`` up to rounding: the exact engine then
    propagates the error covariance itself, not ``E[x x^T]`` minus ``x* x*^T``, which cancels),
    :func:`ls_conditioned` (a prescribed Hessian spectrum, condition number up to 1e6),
    :func:`heavy_row_instance` (d = 1, one dominant row: ``cal_L >> L``), :func:`logistic_instance`
    (ridge logistic regression with 15% flipped labels, for the Monte Carlo of Theorems 1-3).

Exact engine
    :func:`stationary` (stationary moments of (7) / (16) from the structured engine of numerics.kd).

Extended precision (certifiers, DESIGN.md "Near the boundary, certify")
    :func:`mpa` turns float arrays into NumPy object arrays of ``mpmath.mpf`` (exact: every float
    is a dyadic rational), on which the float formulas of a claim run unchanged at
    :data:`~kdtheory.verify.evidence.DPS` digits; :func:`mp_ls_constants` and
    :func:`mp_teacher_moments` are the least-squares constants and teacher moments at that
    precision (eigenproblems and solves with mpmath).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

import kdtheory.theory.kd as tk
from kdtheory.verify.evidence import DPS


def _mp():
    import mpmath

    return mpmath


# ----------------------------------------------------------------------------------------------
# instances
# ----------------------------------------------------------------------------------------------


def ls_instance(rng: np.random.Generator, n: int | None = None, d: int | None = None, *, spread: float | None = None,
                noise: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A random least-squares instance: rows scaled by exp(spread N(0,1)/2), labels A w + noise."""
    n = int(rng.integers(6, 25)) if n is None else n
    d = int(rng.integers(2, 5)) if d is None else d
    spread = float(rng.uniform(0, 2)) if spread is None else spread
    noise = float(rng.uniform(0.1, 1.0)) if noise is None else noise
    A = rng.normal(size=(n, d)) * np.exp(spread * rng.normal(size=(n, 1)) / 2)
    w = rng.normal(size=d)
    return A, A @ w + noise * rng.normal(size=n)


def centred(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same least-squares problem translated so that its minimiser is 0 (to rounding).

    Every quantity of Theorems 1-3 (f - f*, ||x - x*||, gradients at x and theta) is invariant under
    the translation x -> x - x*; the exact engine's raw second moments are not (they cancel against
    x* x*^T), so the theorems are checked on centred problems.
    """
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    return A, b - A @ x


def ls_conditioned(rng: np.random.Generator, n: int, d: int, kappa: float, *, spread: float = 1.0,
                   scale: float = 1.0, centre: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Least squares whose Hessian A^T A/n has the spectrum scale * geomspace(1, kappa, d); centred (x* = 0 up to
    rounding) unless ``centre`` is False (labels A w + noise, w standard normal)."""
    A = rng.normal(size=(n, d)) * np.exp(spread * rng.normal(size=(n, 1)) / 2)
    w, V = np.linalg.eigh(A.T @ A / n)
    target = scale * (np.geomspace(1.0, kappa, d) if d > 1 else np.ones(1))
    A = A @ (V * np.sqrt(target / w)) @ V.T
    b = A @ rng.normal(size=d) + rng.normal(size=n)
    return centred(A, b) if centre else (A, b)


def heavy_row_instance(rng: np.random.Generator, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """d = 1 with one dominant row (a_0 = 6, the others ~1): cal_L = M/H is several times L = H."""
    a = np.concatenate([[6.0], rng.uniform(0.5, 1.5, size=n - 1)])
    return centred(a[:, None], rng.normal(size=n))


def logistic_instance(rng: np.random.Generator, *, n: int | None = None, d: int | None = None,
                      ridge: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Ridge logistic regression: Gaussian features with a planted direction and 15% flipped labels (not
    separable), and a ridge (0.5 or 0.2 unless given)."""
    n = int(rng.integers(8, 16)) if n is None else n
    d = int(rng.integers(2, 4)) if d is None else d
    A = rng.normal(size=(n, d))
    y = np.where(A @ rng.normal(size=d) >= 0, 1.0, -1.0)
    y[rng.random(n) < 0.15] *= -1
    ridge = float(rng.choice([0.5, 0.2])) if ridge is None else ridge
    return A, y, ridge


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def min_eigvec(H: np.ndarray) -> np.ndarray:
    return np.linalg.eigh(H)[1][:, 0]


# ----------------------------------------------------------------------------------------------
# extended precision
# ----------------------------------------------------------------------------------------------


def mpa(x: Any) -> Any:
    """A float (array) as mpmath numbers (an object array), exactly."""
    mp = _mp()
    if np.ndim(x) == 0:
        return mp.mpf(float(x))
    arr = np.asarray(x, dtype=float)
    out = np.empty(arr.shape, dtype=object)
    for idx, v in np.ndenumerate(arr):
        out[idx] = mp.mpf(float(v))
    return out


def _to_matrix(X: np.ndarray):
    mp = _mp()
    return mp.matrix([[X[i, j] for j in range(X.shape[1])] for i in range(X.shape[0])])


def mp_solve(Mtx: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve Mtx x = rhs (object arrays of mpf) with mpmath's LU."""
    mp = _mp()
    sol = mp.lu_solve(_to_matrix(Mtx), mp.matrix([[v] for v in rhs]))
    return np.array([sol[i] for i in range(rhs.shape[0])], dtype=object)


def mp_eigsy(S: np.ndarray) -> list:
    """Eigenvalues (ascending) of a symmetric object array of mpf."""
    mp = _mp()
    E, _ = mp.eigsy(_to_matrix(S))
    return sorted(E[i] for i in range(S.shape[0]))


_MP_CONSTANTS: dict = {}   # (A, b, precision) -> constants: certifiers revisit an instance for several records


def mp_ls_constants(A: np.ndarray, b: np.ndarray) -> SimpleNamespace:
    """:func:`kdtheory.theory.kd.least_squares_constants` at DPS digits (call inside ``mp.workdps``); the last 16
    instances are remembered (the eigenproblems cost 0.3 s at d = 10)."""
    mp = _mp()
    A, b = np.ascontiguousarray(A, dtype=float), np.ascontiguousarray(b, dtype=float)
    key = (A.shape, A.tobytes(), b.tobytes(), mp.mp.prec)
    if key not in _MP_CONSTANTS:
        if len(_MP_CONSTANTS) >= 16:
            _MP_CONSTANTS.pop(next(iter(_MP_CONSTANTS)))
        _MP_CONSTANTS[key] = _mp_ls_constants(A, b)
    return _MP_CONSTANTS[key]


def _mp_ls_constants(A: np.ndarray, b: np.ndarray) -> SimpleNamespace:
    mp = _mp()
    Am, bm = mpa(A), mpa(b)
    n, d = A.shape
    H = Am.T @ Am / n
    norms = np.einsum("ij,ij->i", Am, Am)
    M = (Am * norms[:, None]).T @ Am / n
    ev = mp_eigsy(H)
    Lc = mp.cholesky(_to_matrix(H))
    Li = mp.inverse(Lc)
    C = Li * _to_matrix(M) * Li.T
    cal_L = max(mp.eigsy(C)[0][i] for i in range(d))
    cal_L39 = mp.sqrt(max(mp_eigsy(M)))
    x_star = mp_solve(H, Am.T @ bm / n)
    r = Am @ x_star - bm
    return SimpleNamespace(H=H, M=M, mu=ev[0], L=ev[-1], cal_L=cal_L, cal_L39=cal_L39, x_star=x_star,
                           sigma_star_sq=np.mean(norms * r * r), f_star=np.mean(r * r) / 2, A=Am, b=bm, norms=norms)


def mp_teacher_moments(c: SimpleNamespace, theta: np.ndarray) -> SimpleNamespace:
    """:func:`kdtheory.theory.kd.teacher_moments` at DPS digits from :func:`mp_ls_constants`."""
    th = mpa(theta)
    rs = c.A @ c.x_star - c.b
    rt = c.A @ th - c.b
    g = c.H @ (th - c.x_star)
    return SimpleNamespace(grad_sq=g @ g, sigma_theta_sq=np.mean(c.norms * rt * rt), sigma_star_sq=np.mean(c.norms * rs * rs),
                           cross=np.mean(c.norms * rs * rt), gap=np.mean((rt - rs) ** 2) / 2,
                           diff_sq=np.mean(c.norms * (rt - rs) ** 2), cross_diff=np.mean(c.norms * rs * (rt - rs)))


def mp_lambda_star(m: SimpleNamespace, c: Any, gamma: Any):
    """Eq. (33) at DPS digits."""
    return m.cross / (m.sigma_theta_sq + m.grad_sq / (c * gamma))


def mp_reduction_stable(m: SimpleNamespace, c: Any, gamma: Any):
    """:func:`kdtheory.theory.kd.reduction_factor_stable` at DPS digits."""
    q = m.grad_sq / (c * gamma)
    num = m.sigma_star_sq * m.diff_sq - m.cross_diff ** 2 + m.sigma_star_sq * q
    return num / (m.sigma_star_sq * (m.sigma_theta_sq + q))


def mp_reduction_bound(m: SimpleNamespace, cal_L: Any, L: Any, c: Any, gamma: Any):
    """:func:`kdtheory.theory.kd.reduction_bound` at DPS digits."""
    mp = _mp()
    k = 2 * cal_L / (mp.sqrt(m.sigma_star_sq) * mp.sqrt(m.sigma_theta_sq)) + 2 * L / (c * gamma * m.sigma_theta_sq)
    return min(mp.mpf(1), k * m.gap)


def workdps():
    """Context manager for DPS-digit arithmetic."""
    return _mp().workdps(DPS)


# ----------------------------------------------------------------------------------------------
# reach of a check (issue #11: larger d and worse conditioning through the structured engines)
# ----------------------------------------------------------------------------------------------


def reach(values, bounds, dims, kappas) -> dict:
    """Largest d and condition number among a check's instances, with the worst ratio value/bound over the records
    at that d and at that condition number (``dims``, ``kappas``: one entry per record)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.asarray(values, dtype=float) / np.asarray(bounds, dtype=float)
    d, k = np.asarray(dims), np.asarray(kappas, dtype=float)
    return {"max_d": int(d.max()), "max_kappa": float(k.max()),
            "worst_ratio_at_max_d": float(np.max(r[d == d.max()])),
            "worst_ratio_at_max_kappa": float(np.max(r[k == k.max()]))}


def hessian_condition(A: np.ndarray) -> float:
    """kappa(A^T A) (the least-squares Hessian's condition number)."""
    return float(np.linalg.cond(A.T @ A))


# ----------------------------------------------------------------------------------------------
# splitting a theorem's bound into its transient and its neighbourhood term
# ----------------------------------------------------------------------------------------------


def split_bound(bound_t: np.ndarray, neighbourhood: float, scale: float) -> np.ndarray:
    """``transient(t) + scale * neighbourhood``: the bound with only its neighbourhood term scaled.

    ``bound_t`` is the public calculator at times t, ``neighbourhood`` the same calculator at
    ``t = inf`` with a zero initial term (the neighbourhood term alone).
    """
    return np.asarray(bound_t, dtype=float) - (1.0 - scale) * neighbourhood


def stationary(A: np.ndarray, b: np.ndarray, theta: np.ndarray, lam: float, gamma: float, *,
               scheme: str = "distill") -> tuple[float, float]:
    """Stationary (E||x - x*||^2, E f - f*) of (7) / (16) on least squares from the structured exact engine
    (numerics.kd, Lyapunov form in the eigenbasis of H: relative rounding about kappa(H) eps, also where the
    contraction gamma mu is far below the rounding level of 1 - gamma mu)."""
    from kdtheory.numerics.kd import affine_chain, stationary_moments

    st = stationary_moments(affine_chain(A, b, theta, lam, gamma, scheme=scheme), method="structured")
    return float(st["dist_sq"]), float(st["gap"])


def pl_teacher_moments(theta: float, noise: float) -> tk.TeacherMoments:
    """Teacher moments of the PL example with additive Rademacher noise +-noise (grad f_xi = f' + xi)."""
    gth = float(tk.pl_example_grad(theta))
    return tk.moments_from_values(grad_sq=gth ** 2, sigma_theta_sq=gth ** 2 + noise ** 2, sigma_star_sq=noise ** 2,
                                  cross=noise ** 2, gap=float(tk.pl_example_f(theta)))
