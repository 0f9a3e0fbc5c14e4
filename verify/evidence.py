"""Standards of evidence shared by every paper module (DESIGN.md, "How a claim is checked").

Small, exact building blocks: worst ratio of a bound, relative error of an
identity, one-sided Monte Carlo confidence bounds, Clopper-Pearson intervals,
log-log slopes with standard errors, and a multi-start optimiser that hunts
for the worst instance of an inequality.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import optimize, stats

from kdtheory.verify._core import Outcome

Z = 4.0  # standard errors in a one-sided Monte Carlo bound


def relative_error(a, b, *, floor: float = 1e-300) -> np.ndarray:
    """Elementwise |a - b| / max(|a|, |b|, floor); equal infinities count as 0."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    err = np.where(both_inf, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def identity_outcome(lhs, rhs, *, rtol: float = 1e-10, details: dict | None = None) -> Outcome:
    """Both sides agree to relative ``rtol`` on every instance: max relative error <= rtol."""
    err = relative_error(lhs, rhs)
    worst = int(np.argmax(err)) if err.size else 0
    e = float(err.flat[worst]) if err.size else 0.0
    d = {"instances": int(err.size), "max_rel_error": e if np.isfinite(e) else "inf",
         "worst_index": worst}
    d.update(details or {})
    return Outcome(holds=bool(e <= rtol), measured=e if np.isfinite(e) else 1e308, reference=rtol,
                   relation="<=", tolerance=rtol, details=d)


def bound_outcome(values, bounds, *, tol: float = 1e-9, details: dict | None = None) -> Outcome:
    """A deterministic inequality ``value <= bound``: the worst ratio value/bound must stay <= 1 + tol.

    Bounds must be positive; a value above an infinite bound never counts.
    """
    v = np.asarray(values, dtype=float).ravel()
    b = np.asarray(bounds, dtype=float).ravel()
    if v.shape != b.shape or v.size == 0:
        raise ValueError(f"bound_outcome: values and bounds must have one equal non-zero length, got {v.shape} and {b.shape}")
    if np.any(np.isnan(v)) or np.any(np.isnan(b)) or np.any(b <= 0):
        raise ValueError("bound_outcome: values must be non-NaN and bounds > 0")
    with np.errstate(invalid="ignore", over="ignore"):
        ratios = np.where(np.isinf(b), 0.0, v / b)
    worst = int(np.argmax(ratios))
    r = float(ratios[worst])
    d = {"instances": int(v.size), "worst_ratio": r, "worst_value": float(v[worst]),
         "worst_bound": float(b[worst]), "worst_index": worst}
    d.update(details or {})
    return Outcome(holds=bool(r <= 1.0 + tol), measured=r, reference=1.0, relation="<=", tolerance=tol, details=d)


def combine(parts: dict[str, Outcome], key: str) -> Outcome:
    """One outcome from several checks of a claim: all parts must hold; the headline is ``parts[key]``.

    ``details`` keeps every part's verdict and numbers under its name.
    """
    holds = all(o.holds for o in parts.values())
    main = parts[key]
    details = {name: {"holds": o.holds, "measured": o.measured, "reference": o.reference,
                      "relation": o.relation, **o.details} for name, o in parts.items()}
    return Outcome(holds=holds, measured=main.measured, reference=main.reference, relation=main.relation,
                   tolerance=main.tolerance, details=details)


def mean_ci(samples, *, z: float = Z, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and the two-sided band mean ± z·(standard error) of i.i.d. samples along ``axis``."""
    x = np.asarray(samples, dtype=float)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"mean_ci: need at least 2 samples, got {n}")
    m = x.mean(axis=axis)
    se = x.std(axis=axis, ddof=1) / np.sqrt(n)
    return m, m - z * se, m + z * se


def clopper_pearson(k: int, n: int, *, confidence: float = 0.999) -> tuple[float, float]:
    """Exact two-sided Clopper-Pearson interval for a binomial proportion k/n."""
    if not (0 <= k <= n and n > 0):
        raise ValueError(f"clopper_pearson: need 0 <= k <= n, n > 0, got k={k}, n={n}")
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def loglog_slope(x, y, *, sigma=None) -> tuple[float, float]:
    """Least-squares slope of log y against log x and its standard error.

    With ``sigma`` (standard errors of y) the fit is weighted by the delta-method
    errors of log y; otherwise the residual variance is used.
    """
    lx = np.log(np.asarray(x, dtype=float))
    ly = np.log(np.asarray(y, dtype=float))
    if lx.size < 3:
        raise ValueError(f"loglog_slope: need at least 3 points, got {lx.size}")
    if sigma is None:
        res = stats.linregress(lx, ly)
        return float(res.slope), float(res.stderr)
    w = (np.asarray(y, dtype=float) / np.asarray(sigma, dtype=float)) ** 2
    X = np.column_stack([np.ones_like(lx), lx])
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = cov @ X.T @ (w * ly)
    return float(beta[1]), float(np.sqrt(cov[1, 1]))


def maximize(f: Callable[[np.ndarray], float], starts: Sequence[np.ndarray], *,
             bounds: Sequence[tuple[float, float]] | None = None, maxiter: int = 200) -> tuple[np.ndarray, float]:
    """Multi-start local maximisation of ``f`` (Nelder-Mead, or L-BFGS-B inside ``bounds``).

    Returns the best point and value found; non-finite values of ``f`` count as -inf
    so the search never wanders into NaN.
    """
    def neg(x):
        v = f(np.asarray(x, dtype=float))
        return -v if np.isfinite(v) else np.inf

    best_x, best_v = None, -np.inf
    for x0 in starts:
        x0 = np.asarray(x0, dtype=float)
        if bounds is None:
            res = optimize.minimize(neg, x0, method="Nelder-Mead",
                                    options={"maxiter": maxiter, "xatol": 1e-10, "fatol": 1e-14})
        else:
            res = optimize.minimize(neg, x0, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter})
        for x, v in ((res.x, -res.fun), (x0, -neg(x0))):
            if np.isfinite(v) and v > best_v:
                best_x, best_v = np.asarray(x, dtype=float), float(v)
    if best_x is None:
        raise ValueError("maximize: f was non-finite at every start")
    return best_x, best_v
