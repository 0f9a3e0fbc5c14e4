"""Instances, trajectories and extended-precision tools shared by the [sd] claims.

Everything is exact: the regularised fit and every self-distillation round are diagonal in the
eigenbasis of the Gram matrix (``kdtheory.numerics.sd``), so bounds are tested on the exact
trajectories of many instances at once: random spectra and labels, labels along one eigenvector,
extreme condition numbers (up to 1e10), labels just above the collapse threshold, K from 1 to 60,
plus optimiser-searched worst cases (``evidence.maximize``).

Near-boundary certification (``evidence.bound_outcome(..., certify=...)``) re-runs the instance in
50-digit arithmetic with ``kdtheory.numerics.sd.spectral_rounds_mp`` (the floats of the instance
taken as exact numbers) and evaluates the bound in the same precision.  Several bounds of the
paper are attained (labels along one eigenvector, kappa = 1); there the two sides are equal and
50-digit evaluations along different paths differ in the last digits, so a certificate compares
``value <= bound (1 + MP_TIE)`` with ``MP_TIE = 10^-(DPS - 10)``: equality within the
extended-precision rounding counts as equality, anything larger is decided.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

import numpy as np

import kdtheory.theory.sd as tsd
from kdtheory.verify import evidence
from kdtheory.verify._core import Outcome

KINDS = ("random", "eigen_min", "eigen_max", "eigen_any", "near_collapse", "extreme_kappa", "two_scales")


def mp():
    import mpmath

    return mpmath


def mp_tie() -> object:
    """Relative size of a 50-digit evaluation's rounding: ``10^-(DPS - 10)``."""
    return mp().mpf(10) ** (-(evidence.DPS - 10))


def tie_le(value, bound) -> tuple:
    """``(value, bound (1 + MP_TIE))`` for a certificate of ``value <= bound`` (ties count as equal)."""
    return value, bound + abs(bound) * mp_tie()


# ----------------------------------------------------------------------------------------------
# instances in the eigenbasis
# ----------------------------------------------------------------------------------------------


def spectra(rng, n: int, K: int, log10_kappa_max: float = 8.0) -> np.ndarray:
    """Sorted spectra: d_min log-uniform in [1e-3, 10], kappa log-uniform up to 10^max (kappa = 1 sometimes)."""
    dmin = 10 ** rng.uniform(-3, 1, n)
    lk = rng.uniform(0, log10_kappa_max, n) * (rng.random(n) > 0.05)
    inner = np.sort(rng.random((n, K)), axis=1)
    inner[:, 0], inner[:, -1] = 0.0, 1.0
    if K == 1:
        inner[:, 0] = 0.0
    return dmin[:, None] * 10 ** (lk[:, None] * inner)


def batch(rng, n: int, K: int, *, u0_max: float = 30.0, kinds=KINDS, log10_kappa_max: float = 8.0,
          eps_one: bool = False) -> dict:
    """Instances in the eigenbasis: spectra, labels z0, eps, with ``u0 = ||z0|| / sqrt(K eps) > 1``.

    ``eps_one`` sets every tolerance to 1, where the printed threshold ``sqrt(K) eps`` equals
    ``sqrt(K eps)`` (the hypotheses under which the printed statements are checked as positive controls).
    """
    d = spectra(rng, n, K, log10_kappa_max)
    kind = rng.choice(len(kinds), n)
    z0 = rng.normal(size=(n, K)) * 10 ** rng.uniform(-2, 2, (n, K))
    u0 = 1.0 + 10 ** rng.uniform(-4, math.log10(u0_max - 1.0), n)
    for i in range(n):
        kd = kinds[kind[i]]
        if kd in ("eigen_min", "eigen_max", "eigen_any"):
            j = {"eigen_min": 0, "eigen_max": K - 1}.get(kd, int(rng.integers(K)))
            z0[i] = 0.0
            z0[i, j] = rng.choice([-1.0, 1.0])
        elif kd == "near_collapse":
            u0[i] = 1.0 + 10 ** rng.uniform(-9, -3)
        elif kd == "extreme_kappa":
            d[i] = 10 ** rng.uniform(-3, 1) * 10 ** (np.sort(rng.random(K)) * 10.0)
            d[i, 0] = d[i].min()
        elif kd == "two_scales" and K >= 2:
            d[i, : K // 2] = d[i, 0]
            d[i, K // 2:] = d[i, -1]
    eps = np.ones(n) if eps_one else 10 ** rng.uniform(-3, 2, n)
    z0 *= (u0 * np.sqrt(K * eps) / np.linalg.norm(z0, axis=1))[:, None]
    u0 = np.linalg.norm(z0, axis=1) / np.sqrt(K * eps)
    keep = u0 > 1.0
    return {"d": d[keep], "z0": z0[keep], "eps": eps[keep], "u0": u0[keep], "K": K,
            "kappa": d[keep, -1] / d[keep, 0], "kind": np.array([kinds[k] for k in kind])[keep]}


def batches(rng, n_per: int, Ks=(1, 2, 3, 5, 10, 60), **kw) -> list[dict]:
    return [batch(rng, n_per, K, **kw) for K in Ks]


def trajectories(b: dict, rounds: int | None = None) -> dict:
    """Run the constrained process of every instance to collapse; adds c (n, R), norms (n, R+1), n_done."""
    from kdtheory.numerics.sd import spectral_rounds

    R = rounds if rounds is not None else int(math.ceil(float(np.max(b["u0"])) ** 2)) + 2
    out = spectral_rounds(b["d"], b["z0"], R, eps=b["eps"])
    return {**b, "c": out["c"], "norms": out["norms"], "n_done": out["n_done"], "collapsed": out["collapsed"],
            "rounds": R}


def instance(inst: dict, i: int) -> dict:
    """The numbers of instance ``i`` of a batch (for details)."""
    keys = ("d", "z0", "eps", "u0", "kappa")
    out = {k: (inst[k][i].tolist() if isinstance(inst[k][i], np.ndarray) else float(inst[k][i])) for k in keys}
    out["K"] = int(inst["K"])
    return out


def search_instance(p: np.ndarray, *, u0: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """A K = 3 instance from search coordinates: spectrum (p0, p1), label direction (p2, p3), u0 (p4), eps (p5)."""
    d = np.array([1.0, 10 ** min(abs(p[0]), 10.0), 10 ** min(abs(p[0]) + abs(p[1]), 10.0)])
    z = np.array([math.cos(p[2]) * math.cos(p[3]), math.cos(p[2]) * math.sin(p[3]), math.sin(p[2])])
    eps = 10 ** float(np.clip(p[5], -3, 2))
    u = u0 if u0 is not None else 1 + 10 ** float(np.clip(p[4], -9, 1.3))
    return d, z / np.linalg.norm(z) * u * math.sqrt(3 * eps), eps


def search_starts(rng, n: int, u0_range=(-3.0, 1.0)) -> list[np.ndarray]:
    return [np.array([rng.uniform(0, 3), rng.uniform(0, 3), rng.uniform(0, 1.5), rng.uniform(0, 1.5),
                      rng.uniform(*u0_range), rng.uniform(-2, 1)]) for _ in range(n)]


def pairs(K: int, rng, cap: int = 60) -> list[tuple[int, int]]:
    allp = [(j, k) for j in range(K) for k in range(j + 1, K)]
    if len(allp) <= cap:
        return allp
    idx = rng.choice(len(allp), cap, replace=False)
    return [allp[i] for i in idx] + [(0, K - 1)]


def log_b(d: np.ndarray, c: np.ndarray) -> np.ndarray:
    """log B_t diagonal for the non-collapsed rounds (rows)."""
    return np.cumsum(np.log(d[None, :]) - np.log(c[:, None] + d[None, :]), axis=0)


def log_ratio_increments(c: np.ndarray, dj: np.ndarray, dk: np.ndarray) -> np.ndarray:
    """``log(A_t[k] / A_t[j]) = log1p(c (d_k - d_j) / (d_j (d_k + c)))`` per round (rows) and pair (columns)."""
    cf = np.asarray(c, dtype=float)[:, None]
    return np.log1p(cf * ((dk - dj) / dj)[None, :] / (dk[None, :] + cf))


# ----------------------------------------------------------------------------------------------
# Gram matrices
# ----------------------------------------------------------------------------------------------


def random_psd(rng, K: int, log10_kappa: float = 3.0) -> np.ndarray:
    Q, _ = np.linalg.qr(rng.normal(size=(K, K)))
    d = 10 ** rng.uniform(-log10_kappa / 2, log10_kappa / 2, K)
    G = (Q * d) @ Q.T
    return 0.5 * (G + G.T)


def sec4_like(rng, K: int, kernel: str):
    """Points and Gram matrix of one of the three kernels (spline of Sec. 4, RBF, polynomial)."""
    if kernel == "spline":
        x = np.sort(rng.uniform(0.05, 0.95, K))
        return x, tsd.gram_matrix(x), {}
    if kernel == "rbf":
        x = np.sort(rng.uniform(0, 1, K))
        return x, tsd.gram_matrix(x, "rbf", length_scale=0.05), {"length_scale": 0.05}
    x = np.sort(rng.uniform(-1, 1, K))
    return x, tsd.gram_matrix(x, "polynomial", degree=K - 1), {"degree": K - 1}


# ----------------------------------------------------------------------------------------------
# evidence helpers
# ----------------------------------------------------------------------------------------------


def normwise_identity(lhs: list, rhs: list, *, tier: evidence.Tier = evidence.IDENTITY, cond=1.0,
                      certify: Callable[[int], tuple] | None = None, details: dict | None = None) -> Outcome:
    """Vector identities ``lhs_i == rhs_i`` in the norm: ``||lhs_i - rhs_i|| / max(||lhs_i||, ||rhs_i||)``
    within ``tier.rtol(cond_i)``; the worst instance just outside (at most 1e3 times its tolerance)
    is decided by ``certify(i)`` (the two norms-of-difference sides in extended precision: it returns
    ``(difference_norm, tolerance_times_scale)`` evaluated at 50 digits), as ``identity_outcome`` does."""
    err = np.array([np.linalg.norm(np.subtract(a, b)) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)
                    for a, b in zip(lhs, rhs)])
    tol = np.broadcast_to(tier.rtol(cond), err.shape)
    score = err / tol
    worst = int(np.argmax(score))
    holds = bool(score[worst] <= 1.0)
    d = {"instances": int(err.size), "max_rel_error": float(np.max(err)), "worst_index": worst, "tier": tier.name,
         "worst_cond": float(np.broadcast_to(np.asarray(cond, dtype=float), err.shape)[worst]),
         "worst_error_over_tolerance": float(score[worst])}
    measured = float(err[worst])
    if not holds and score[worst] <= 1e3 and certify is not None:
        rec = evidence.certificate(*certify(worst), "<=", what=f"instance {worst}: extended-precision difference")
        d["certificate"] = rec
        holds = rec["holds"]
        d["float_discrepancy"] = "rounding" if holds else "real (survives extended precision)"
    d.update(details or {})
    return Outcome(holds=holds, measured=measured, reference=float(tol[worst]), relation="<=",
                   tolerance=float(tol[worst]), details=d)


def count_outcome(bad: int, total: int, details: dict | None = None, *, what: str = "violations") -> Outcome:
    """An exact count that must be zero (classification errors, collapsed rounds inside a hypothesis)."""
    return Outcome(holds=bad == 0, measured=float(bad), reference=0.0, relation="==", tolerance=0.0,
                   details={what: int(bad), "instances": int(total), **(details or {})})


def fraction(x: float) -> Fraction:
    return Fraction(float(x))
