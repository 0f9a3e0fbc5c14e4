"""Shared pieces of the [rdml] claims: instance generators, order grids, extended-precision
evaluators used to certify near-boundary instances and headline counterexamples, and the
outcome helpers that certify every near-boundary instance."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import numpy as np

from kdtheory.verify._core import Outcome, Run
from kdtheory.verify.evidence import DPS, certificate

PAPER_FIG1_ALPHAS = (0.5, 1.0, 2.0, 10.0, 100.0)  # alpha = 1 is the KL curve (orange, dashed)
FIG1_FIXED = np.array([0.4, 0.6])

ALPHA_GRID = np.array([0.0, 1e-12, 1e-6, 1e-3, 0.05, 0.2, 0.5, 0.8, 0.999, 1.0 - 1e-8, 1.0, 1.0 + 1e-8, 1.001,
                       1.5, 2.0, 5.0, 10.0, 100.0, 1e4, 1e8, np.inf])
ALPHA_PRINTED = ALPHA_GRID[(ALPHA_GRID != 1.0) & np.isfinite(ALPHA_GRID)]  # [0, 1) U (1, inf)


def f(x) -> float | str:
    """A float for ``details`` (infinities as the strings 'inf' / '-inf')."""
    x = float(x)
    return x if np.isfinite(x) else ("inf" if x > 0 else "-inf")


def pair_batches(run: Run, n_random: int, n_adversarial: int, ms=(2, 3, 5)):
    """Random Dirichlet and adversarial pairs for several class counts: list of (p, q, label)."""
    from kdtheory.numerics.rdml import adversarial_pairs, random_pairs

    seed = int(run.rng.integers(2**31))
    out = []
    for i, m in enumerate(ms):
        p, q = random_pairs(n_random, m, seed=seed + i)
        out.append((p, q, f"random M={m}"))
        pa, qa, _ = adversarial_pairs(n_adversarial, m, seed=seed + 100 + i)
        out.append((pa, qa, f"adversarial M={m}"))
    return out


def softmax_rows(u: np.ndarray) -> np.ndarray:
    """Softmax of search coordinates (no input checks: the search's own parametrisation)."""
    u = np.asarray(u, dtype=float)
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- extended precision


def mp():
    import mpmath

    return mpmath


def mp_law(p) -> list:
    """A float vector as an exactly normalised law in mpmath (the calculators normalise the same way)."""
    m = mp()
    v = [m.mpf(float(x)) for x in np.asarray(p, dtype=float).ravel()]
    s = m.fsum(v)
    return [x / s for x in v]


def _entries(x) -> list:
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], Fraction):
        return list(x)
    return list(np.asarray(x, dtype=float).ravel())


def exact_product(factors) -> list[Fraction]:
    """The product law of independent factors (float vectors) in exact rationals, enumerated as
    ``np.multiply.outer`` does (first factor slowest)."""
    out = [Fraction(1)]
    for fct in factors:
        fr = [Fraction(float(x)) for x in np.asarray(fct, dtype=float).ravel()]
        s_ = sum(fr)
        out = [a * (b / s_) for a in out for b in fr]
    return out


def _exact_laws(p, q) -> tuple[list[Fraction], list[Fraction]]:
    """Two float vectors (or lists of rationals) as exactly normalised rational laws (the calculators
    normalise by the sum)."""
    P = [x if isinstance(x, Fraction) else Fraction(float(x)) for x in _entries(p)]
    Q = [x if isinstance(x, Fraction) else Fraction(float(x)) for x in _entries(q)]
    sp_, sq_ = sum(P), sum(Q)
    return [x / sp_ for x in P], [x / sq_ for x in Q]


def _digits(x: Fraction) -> float:
    """-log10 |x| for a non-zero rational (no float underflow)."""
    x = abs(x)
    return math.log10(x.denominator) - math.log10(x.numerator)


def _mpq(x: Fraction):
    m = mp()
    return m.mpf(x.numerator) / x.denominator


def mp_renyi(p, q, alpha) -> Any:
    """D_alpha(p || q) of two float vectors (normalised exactly), alpha in [0, inf], in mpmath.

    The precision is raised above the caller's (50 digits) by twice the number of leading zeros of the
    total variation sum |P - Q| (divergences of nearly equal laws are of order |P - Q|^2 or |P - Q|), plus
    the digits of |alpha - 1| near 1, so that they are resolved; P = Q gives an exact 0. An mpmath order is
    used as given (not rounded to float64). Conventions as the calculator.
    """
    m = mp()
    P, Q = _exact_laws(p, q)
    sp_ = [x > 0 for x in P]
    sq_ = [x > 0 for x in Q]
    missing = any(a and not b for a, b in zip(sp_, sq_))
    if alpha == 0:
        on = sum((y for y, s in zip(Q, sp_) if s), Fraction(0))
        if on == 0:
            return m.inf
        if on == 1:
            return m.mpf(0)
        with m.workdps(m.mp.dps + int(_digits(1 - on)) + 10):
            return -m.log(_mpq(on))
    if P == Q:
        return m.mpf(0)
    if missing and (alpha >= 1 or np.isinf(float(alpha))):
        return m.inf
    both = [(a, b) for a, b in zip(P, Q) if a > 0 and b > 0]
    if not both:
        return m.inf
    tv = sum((abs(a - b) for a, b in zip(P, Q)), Fraction(0))   # > 0 since P != Q
    extra = 2 * max(0.0, _digits(tv))
    if not np.isinf(float(alpha)) and alpha != 1:
        extra += max(0.0, -math.log10(abs(float(alpha) - 1.0)))
    with m.workdps(m.mp.dps + int(extra) + 20):
        if np.isinf(float(alpha)):
            return max(m.log(_mpq(a) / _mpq(b)) for a, b in zip(P, Q) if a > 0)
        if alpha == 1:
            return m.fsum(_mpq(a) * m.log(_mpq(a) / _mpq(b)) for a, b in both)
        al = alpha if isinstance(alpha, m.mpf) else m.mpf(float(alpha))   # an mpf order is kept exact
        s_ = m.fsum(_mpq(a) ** al * _mpq(b) ** (1 - al) for a, b in both)
        return m.log(s_) / (al - 1)


def mp_log_ratio_variance(p, q) -> Any:
    """Var_P(log P/Q) (supp P inside supp Q) in mpmath, at a precision raised like :func:`mp_renyi`."""
    m = mp()
    P, Q = _exact_laws(p, q)
    tv = sum((abs(a - b) for a, b in zip(P, Q)), Fraction(0))
    if tv == 0:
        return m.mpf(0)
    with m.workdps(m.mp.dps + int(2 * max(0.0, _digits(tv))) + 20):
        pairs = [(_mpq(a), _mpq(b)) for a, b in zip(P, Q) if a > 0]
        ell = [m.log(a / b) for a, b in pairs]
        mu = m.fsum(a * e for (a, _), e in zip(pairs, ell))
        return m.fsum(a * (e - mu) ** 2 for (a, _), e in zip(pairs, ell))


def mp_squared_hellinger(p, q) -> Any:
    """H^2 = (1/2) sum ((P - Q)/(sqrt P + sqrt Q))^2 with exact differences, in mpmath."""
    m = mp()
    P, Q = _exact_laws(p, q)
    return m.fsum((_mpq(a - b) / (m.sqrt(_mpq(a)) + m.sqrt(_mpq(b)))) ** 2 for a, b in zip(P, Q) if a + b > 0) / 2


def mp_softmax(z) -> list:
    m = mp()
    zz = [m.mpf(float(x)) for x in z]
    top = max(zz)
    e = [m.exp(x - top) for x in zz]
    s = m.fsum(e)
    return [x / s for x in e]


def mp_grad_logits(p, z, alpha) -> list:
    """softmax(z) - r_alpha, r_alpha ∝ p^alpha softmax(z)^(1-alpha) (alpha in [0, inf], the calculator's
    limits at 0 and inf), in mpmath."""
    m = mp()
    P, Q = mp_law(p), mp_softmax(z)
    if alpha == 0:
        t = [qq if pp > 0 else m.mpf(0) for pp, qq in zip(P, Q)]
    elif np.isinf(float(alpha)):
        lr = [m.log(pp / qq) if pp > 0 else -m.inf for pp, qq in zip(P, Q)]
        top = max(lr)
        t = [qq if x == top else m.mpf(0) for x, qq in zip(lr, Q)]
    else:
        a = m.mpf(float(alpha))
        t = [pp ** a * qq ** (1 - a) if pp > 0 else m.mpf(0) for pp, qq in zip(P, Q)]
    s_ = m.fsum(t)
    return [qq - x / s_ for qq, x in zip(Q, t)]


def mp_norm(v) -> Any:
    m = mp()
    return m.sqrt(m.fsum(x * x for x in v))


def mp_le(lhs: Callable[[], Any], rhs: Callable[[], Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The two sides of a certified ``lhs <= rhs`` whose sides may be *equal* in exact arithmetic.

    Both are evaluated once at the working precision (50 digits); sides that agree to
    ``DPS // 2`` digits are taken as equal (the rule :func:`evidence.certificate` uses for
    ``==``), since rounding at 50 digits cannot decide the sign of an exact zero difference.
    """
    memo = {}

    def both():
        if not memo:
            m = mp()
            a, b = lhs(), rhs()
            if m.isfinite(a) and m.isfinite(b) and abs(a - b) <= m.mpf(10) ** (-(DPS // 2)) * max(abs(a), abs(b)):
                a = b
            memo["v"] = (a, b)
        return memo["v"]

    return (lambda: both()[0]), (lambda: both()[1])


def exact(x) -> Fraction:
    """A float as the exact rational it stores."""
    return Fraction(float(x))


# --------------------------------------------------------------------------- outcomes


def count_outcome(mismatches: int, details: dict | None = None) -> Outcome:
    """An exact statement checked instance by instance (zero sets, infinite patterns): no mismatch allowed."""
    return Outcome(holds=mismatches == 0, measured=float(mismatches), reference=0.0, relation="==",
                   details=dict(details or {}))


def min_outcome(value: float, reference: float = 0.0, details: dict | None = None) -> Outcome:
    """An exact lower bound ``value >= reference`` (no rounding involved: exact zeros and signs)."""
    return Outcome(holds=bool(value >= reference), measured=float(value), reference=float(reference),
                   relation=">=", details=dict(details or {}))


def monotone_pairs(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive pairs of each row of ``profiles`` (B, K) as a bound check ``f_k + c <= f_{k+1} + c``.

    ``c`` is 0 for rows whose entries are all > 0 (the ratio is then f_k / f_{k+1}, the local
    tightness) and ``2 max |f| + [max |f| = 0]`` otherwise, which keeps every bound > 0 without
    changing which pairs decrease. Returns values, bounds and the shift of each pair's row.
    """
    f_ = np.asarray(profiles, dtype=float)
    pos = np.all(f_ > 0, axis=1)
    top = np.max(np.abs(f_), axis=1)
    c = np.where(pos, 0.0, 2.0 * top + (top == 0))
    vals = f_[:, :-1] + c[:, None]
    bnds = f_[:, 1:] + c[:, None]
    return vals, bnds, np.broadcast_to(c[:, None], vals.shape)


def headline(lhs, rhs, relation: str, what: str, **numbers) -> dict:
    """A headline counterexample: the numbers, and the extended-precision certificate that the printed
    relation ``lhs relation rhs`` fails there (``lhs``/``rhs`` exact rationals or mpmath callables)."""
    cert = certificate(lhs, rhs, relation, what=what)
    return {"what": what, **numbers, "certificate": cert}


__all__ = ["PAPER_FIG1_ALPHAS", "FIG1_FIXED", "ALPHA_GRID", "ALPHA_PRINTED", "DPS"]
