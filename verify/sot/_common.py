"""Helpers shared by the [sot] claim modules: exact numbers, instance generators, outcome builders."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from kdtheory.verify import evidence
from kdtheory.verify._core import Outcome

NORMS = (1.0, 2.0, math.inf)


def norm_name(p: float) -> str:
    return "inf" if p == math.inf else str(int(p))


def pnorm(x: np.ndarray, p: float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if p == math.inf:
        return np.max(np.abs(x), axis=-1)
    if p == 1.0:
        return np.sum(np.abs(x), axis=-1)
    return np.sqrt(np.sum(x * x, axis=-1))


def mp_pnorm(values, p: float):
    """p-norm of a list of mpmath numbers (or Fractions converted)."""
    import mpmath as mp

    v = [mp.mpf(x.numerator) / x.denominator if isinstance(x, Fraction) else mp.mpf(x) for x in values]
    if p == math.inf:
        return max(abs(t) for t in v)
    if p == 1.0:
        return sum(abs(t) for t in v)
    return mp.sqrt(sum(t * t for t in v))


def label_means(rng, n_inst: int, *, K_range=(2, 6), n_range=(1, 14), zero_class: float = 0.25) -> list:
    """Random cells: (labels, K) with label counts from skewed, uniform and absent-class distributions."""
    out = []
    for _ in range(n_inst):
        K = int(rng.integers(K_range[0], K_range[1]))
        n = int(rng.integers(n_range[0], n_range[1]))
        probs = rng.dirichlet(np.ones(K) * rng.choice([0.3, 1.0, 5.0]))
        if rng.random() < zero_class and K >= 3:
            probs[rng.integers(K)] = 0.0
            probs /= probs.sum()
        y = rng.choice(K, n, p=probs)
        out.append((y, K))
    return out


def per_input_outcome(errors: np.ndarray, bounds: np.ndarray, delta: float, mask: np.ndarray | None = None,
                      *, confidence: float = 0.999, details: dict | None = None) -> Outcome:
    """Per-input probability statements ``P(err_i >= bound_i) <= delta`` from Monte Carlo replicates.

    ``errors`` (R, N) and ``bounds`` (N,) or (R, N); the input with the largest violation frequency
    (among ``mask``) decides, through :func:`evidence.probability_outcome` (Clopper-Pearson).
    """
    viol = np.asarray(errors >= bounds, dtype=np.int64)
    counts = viol.sum(axis=0)
    if mask is not None:
        counts = np.where(mask, counts, -1)
    i = int(np.argmax(counts))
    d = {"input": i, "inputs_checked": int(np.sum(mask) if mask is not None else counts.size),
         "max_frequency": float(counts[i] / errors.shape[0])}
    tight = float(np.max(errors[:, i if mask is None else mask] / np.broadcast_to(bounds, errors.shape)[:, i if mask is None else mask]))
    d["tightness"] = tight
    d.update(details or {})
    return evidence.probability_outcome(int(max(counts[i], 0)), errors.shape[0], delta, confidence=confidence,
                                        details=d)


def uniform_outcome(errors: np.ndarray, bounds: np.ndarray, delta: float, mask: np.ndarray | None = None,
                    *, confidence: float = 0.999, details: dict | None = None) -> Outcome:
    """A simultaneous statement ``P(exists i in mask: err_i >= bound_i) <= delta`` from replicates."""
    b = np.broadcast_to(bounds, errors.shape)
    sel = np.ones(errors.shape[1], bool) if mask is None else np.asarray(mask, bool)
    any_v = np.any(errors[:, sel] >= b[:, sel], axis=1)
    d = {"inputs_checked": int(sel.sum()), "tightness": float(np.max(errors[:, sel] / b[:, sel]))}
    d.update(details or {})
    return evidence.probability_outcome(int(any_v.sum()), errors.shape[0], delta, confidence=confidence, details=d)


def trivial_outcome(measured: float = 0.0, details: dict | None = None) -> Outcome:
    """A sub-check that holds with nothing to compare (e.g. no cross constraint exists)."""
    return Outcome(holds=True, measured=measured, reference=1.0, relation="<=", tolerance=0.0,
                   details=dict(details or {}, tightness=measured))


def failed(measured: float, reference: float, relation: str, details: dict) -> Outcome:
    return Outcome(holds=False, measured=measured, reference=reference, relation=relation, tolerance=0.0,
                   details=details)


def fraction(x: float) -> Fraction:
    return Fraction(x)


def exact_equal_outcome(lhs: list, rhs: list, details: dict | None = None) -> Outcome:
    """Exact (rational or integer) equality on every instance: count of mismatches must be 0."""
    bad = [i for i, (a, b) in enumerate(zip(lhs, rhs)) if a != b]
    d = {"instances": len(lhs), "mismatches": len(bad), "first_mismatch": bad[0] if bad else "none"}
    d.update(details or {})
    return Outcome(holds=not bad, measured=float(len(bad)), reference=0.0, relation="==", tolerance=0.0, details=d)


def _mp_vector(v, normalise: bool):
    import mpmath as mp

    out = [mp.mpf(t.numerator) / t.denominator if isinstance(t, Fraction) else mp.mpf(float(t)) for t in v]
    if normalise:
        tot = sum(out)
        out = [t / tot for t in out]
    return out


def mp_score(p, q, kind: str, *, normalise: bool = True):
    """``scoring_loss(p, q, kind)`` in mpmath (for certifying near-equal comparisons); both arguments are
    renormalised to sum to 1 exactly (a float distribution may miss 1 by an ulp), Fractions kept exact."""
    import mpmath as mp

    P = _mp_vector(p, normalise)
    Q = _mp_vector(q, normalise)
    if kind == "nll":
        return -sum(qk * mp.log(pk) for pk, qk in zip(P, Q) if qk > 0)
    if kind == "brier":
        return sum(pk * pk for pk in P) - 2 * sum(pk * qk for pk, qk in zip(P, Q)) + 1
    if kind == "l2_distance":
        return mp.sqrt(sum((pk - qk) ** 2 for pk, qk in zip(P, Q)))
    return 1 - sum(pk * qk for pk, qk in zip(P, Q))


def mp_risk(f, labels, K: int, kind: str):
    """Mean loss of the prediction ``f`` against one-hot labels, in mpmath."""
    import mpmath as mp

    tot = mp.mpf(0)
    for y in labels:
        tot += mp_score(f, np.eye(K)[int(y)], kind)
    return tot / len(labels)


def mean_label_fractions(labels, K: int) -> list:
    """The mean one-hot label as exact fractions."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=K)
    return [Fraction(int(c), len(labels)) for c in counts]
