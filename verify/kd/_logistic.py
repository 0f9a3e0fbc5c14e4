"""Monte Carlo chains of iterations (7) and (16) on ridge-regularised logistic regression [kd, Eqs. (7), (16)].

A non-quadratic finite sum inside every hypothesis of Theorems 1-3 (see
:func:`kdtheory.theory.kd.ridge_logistic_constants`); no exact moment recursion exists, so the
theorems are checked there with one-sided Monte Carlo confidence bounds.

This vectorised NumPy engine lives on the verification side only until ``numerics/kd.py`` (being
rewritten under issue #11) offers it with a Numba twin; it uses nothing but the public calculators
of ``theory/kd.py`` for the per-sample gradients, ``x*`` and ``f*``.
"""

from __future__ import annotations

import numpy as np

import kdtheory.theory.kd as tk

MAX_CHAIN_STEPS = 5 * 10 ** 8  # chains x steps of one call


def logistic_chains(A: np.ndarray, y: np.ndarray, ridge: float, theta: np.ndarray, lam: float, gamma: float,
                    x0: np.ndarray, T: int, chains: int, *, checkpoints: np.ndarray, unbiased: bool = False,
                    seed: int = 0) -> dict:
    """``chains`` independent runs of (7) (or (16) with ``unbiased``) for T steps, one uniform sample per step.

    Returns ``dist_sq`` (||x^t - x*||^2) and ``gap`` (f(x^t) - f*) at the checkpoints, shape
    (len(checkpoints), chains). Sample indices are drawn step by step from ``default_rng(seed)``.
    """
    if T * chains > MAX_CHAIN_STEPS:
        raise ValueError(f"logistic_chains: T * chains must be <= {MAX_CHAIN_STEPS}, got {T * chains}")
    rng = np.random.default_rng(seed)
    n, d = A.shape
    c = tk.ridge_logistic_constants(A, y, ridge)
    G_theta = tk.ridge_logistic_gradients(A, y, ridge, theta)
    full_theta = G_theta.mean(axis=0)
    cps = np.asarray(checkpoints, dtype=np.int64)
    out_dist = np.empty((cps.size, chains))
    out_gap = np.empty((cps.size, chains))
    x = np.tile(np.asarray(x0, dtype=float), (chains, 1))
    k = 0
    for t in range(T + 1):
        if k < cps.size and cps[k] == t:
            out_dist[k] = np.sum((x - c.x_star) ** 2, axis=1)
            z = (x @ A.T) * y
            out_gap[k] = np.mean(np.logaddexp(0.0, -z), axis=1) + 0.5 * ridge * np.sum(x * x, axis=1) - c.f_star
            k += 1
        if t == T:
            break
        idx = rng.integers(0, n, size=chains)
        a, yy = A[idx], y[idx]
        s = 0.5 * (1.0 - np.tanh(yy * np.einsum("cd,cd->c", a, x) / 2.0))
        g = (-yy * s)[:, None] * a + ridge * x - lam * G_theta[idx]
        if unbiased:
            g += lam * full_theta
        x = x - gamma * g
    if not (np.all(np.isfinite(out_dist)) and np.all(np.isfinite(out_gap))):
        raise FloatingPointError("logistic_chains: chains diverged")
    return {"dist_sq": out_dist, "gap": out_gap, "checkpoints": cps, "constants": c}


def logistic_instance(rng: np.random.Generator, *, n: int | None = None, d: int | None = None,
                      ridge: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Gaussian features with a planted direction and 15% flipped labels (not separable), a ridge."""
    n = int(rng.integers(8, 16)) if n is None else n
    d = int(rng.integers(2, 4)) if d is None else d
    A = rng.normal(size=(n, d))
    y = np.where(A @ rng.normal(size=d) >= 0, 1.0, -1.0)
    y[rng.random(n) < 0.15] *= -1
    ridge = float(rng.choice([0.5, 0.2])) if ridge is None else ridge
    return A, y, ridge
