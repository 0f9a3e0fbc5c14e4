"""Standards of evidence shared by every paper module (DESIGN.md, "How a claim is checked").

Small, exact building blocks, each returning an :class:`~kdtheory.verify._core.Outcome` or the
numbers one is made of:

* **tolerance tiers** (:data:`EXACT`, :data:`IDENTITY`, :data:`QUADRATURE`): a relative
  tolerance from a rounding model, ``units * max(1, cond) * eps``, where ``cond`` is the
  condition number of the computation actually performed (a solve, an eigenproblem, a sum
  that cancels: :func:`cancellation`);
* **identities** (:func:`identity_outcome`) and **deterministic inequalities**
  (:func:`bound_outcome`), with **near-boundary certification**: an identity just outside its
  tier, or a ratio measured/bound in ``(1, 1 + CERTIFY_BAND]``, is recomputed by a
  claim-supplied evaluator in extended precision (mpmath, :data:`DPS` digits, or exact
  rationals) before it counts; without an evaluator it counts as a failure;
* **certificates** for counterexamples (:func:`certificate`), the extended-precision record
  every erratum's headline carries in ``details["certificate"]``;
* **statistics**: one-sided Monte Carlo bounds (:func:`mean_ci`, :func:`mean_bound_outcome`),
  Clopper-Pearson intervals (:func:`clopper_pearson`, :func:`probability_outcome`), log-log
  slopes with standard errors (:func:`loglog_slope`);
* :func:`combine` (several sub-checks, the deciding one shown) and :func:`maximize`
  (multi-start search for the worst instance).

SciPy and mpmath are imported inside the functions that use them, so importing a claim
module (``kdt verify list``) stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

import numpy as np

from kdtheory.verify._core import Outcome

__all__ = [
    "EPS", "Z", "DPS", "CERTIFY_BAND", "Tier", "EXACT", "IDENTITY", "QUADRATURE", "TIERS",
    "relative_error", "cancellation", "identity_outcome", "bound_outcome", "certificate", "combine",
    "mean_ci", "mean_bound_outcome", "clopper_pearson", "probability_outcome", "draws_needed", "loglog_slope",
    "maximize",
]

EPS = float(np.finfo(float).eps)
Z = 4.0  # standard errors in a one-sided Monte Carlo bound
DPS = 50  # decimal digits of the extended-precision re-evaluation
CERTIFY_BAND = 1e-6  # a ratio in (1, 1 + CERTIFY_BAND] is certified before it counts


@dataclass(frozen=True)
class Tier:
    """A tolerance tier: the relative error allowed is ``units * max(1, cond) * EPS``.

    ``units`` counts the roundings a computation of this kind accumulates (a handful for
    bitwise twins and exact rationals converted to floats; hundreds to thousands for two
    closed forms evaluated along different paths); ``cond`` is the condition number of the
    instance (of the linear solve or eigenproblem performed, or :func:`cancellation` of a sum).
    """

    name: str
    units: float

    def rtol(self, cond: Any = 1.0) -> Any:
        """Relative tolerance for an instance of condition number ``cond`` (scalar or array)."""
        c = np.maximum(1.0, np.asarray(cond, dtype=float))
        if np.any(np.isnan(c)):
            raise ValueError(f"Tier.rtol: cond must not be NaN, got {cond!r}")
        out = self.units * c * EPS
        return float(out) if out.ndim == 0 else out


EXACT = Tier("exact", 16)  # 3.6e-15 at cond 1: a few roundings (twins, exact values rounded once)
IDENTITY = Tier("identity", 4096)  # 9.1e-13 at cond 1: two closed forms along different paths
QUADRATURE = Tier("quadrature", 2 ** 22)  # 9.3e-10 at cond 1: quadrature / truncated series / iterative solve
TIERS = {t.name: t for t in (EXACT, IDENTITY, QUADRATURE)}


def relative_error(a, b, *, floor: float = 1e-300) -> np.ndarray:
    """Elementwise |a - b| / max(|a|, |b|, floor); equal infinities count as 0, NaN as inf."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    with np.errstate(invalid="ignore"):
        err = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    err = np.where(both_inf, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def cancellation(terms, *, axis: int = -1) -> np.ndarray:
    """Condition number of a sum: ``sum |t| / |sum t|`` along ``axis`` (>= 1; inf for an exact zero)."""
    t = np.asarray(terms, dtype=float)
    num = np.abs(t).sum(axis=axis)
    den = np.abs(t.sum(axis=axis))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(num == 0, 1.0, num / den)
    return np.maximum(1.0, c)


def _mp():
    import mpmath

    return mpmath


def _exact_or_mp(x: Any) -> tuple[Any, str]:
    """Normalise a certificate number: Fraction/SymPy rational stays exact, otherwise mpmath."""
    if isinstance(x, (Fraction, int)):
        return Fraction(x), "exact"
    try:  # SymPy numbers without importing SymPy when the caller does not use it
        import sympy

        if isinstance(x, sympy.Basic):
            if x.is_Rational:
                return Fraction(int(x.p), int(x.q)), "exact"
            return _mp().mpf(str(x.evalf(DPS + 10))), "mpmath"
    except ImportError:  # pragma: no cover
        pass
    mp = _mp()
    return (x if isinstance(x, mp.mpf) else mp.mpf(x)), "mpmath"


def _show(x: Any) -> str:
    if isinstance(x, Fraction):
        return str(x) if x.denominator < 10 ** 12 else _mp().nstr(_mp().mpf(x.numerator) / x.denominator, 20)
    return _mp().nstr(x, 20)


def certificate(lhs: Any, rhs: Any, relation: str, *, dps: int = DPS, what: str = "") -> dict:
    """Decide ``lhs relation rhs`` in extended precision and return the record for ``details``.

    ``lhs`` and ``rhs`` are either exact numbers (``int``, ``fractions.Fraction``, SymPy
    rationals: decided exactly) or callables with no argument that compute the two sides with
    mpmath at ``dps`` digits (they are called inside ``mpmath.workdps(dps)``; plain values are
    converted). ``relation`` is one of ``<=``, ``<``, ``>=``, ``>``, ``==``. Exact sides are
    compared exactly; at ``dps`` digits two finite sides within ``10**(-dps/2)`` relatively are a
    tie (equal in exact arithmetic up to the evaluation's rounding): a tie satisfies ``<=``,
    ``>=`` and ``==`` and fails ``<`` and ``>``. Infinite sides are compared by order. The record carries both sides as
    strings, the relation, whether it holds, the precision (``"exact"`` or digits) and ``what``.
    """
    if relation not in ("<=", "<", ">=", ">", "=="):
        raise ValueError(f"certificate: relation must be one of <=, <, >=, >, ==, got {relation!r}")
    if dps < 40:
        raise ValueError(f"certificate: dps must be >= 40, got {dps}")
    mp = _mp()
    with mp.workdps(dps):
        a, ka = _exact_or_mp(lhs() if callable(lhs) else lhs)
        b, kb = _exact_or_mp(rhs() if callable(rhs) else rhs)
        exact = ka == kb == "exact"
        if not exact:
            a, b = (mp.mpf(a.numerator) / a.denominator if isinstance(a, Fraction) else a,
                    mp.mpf(b.numerator) / b.denominator if isinstance(b, Fraction) else b)
            if not (mp.isfinite(a) or mp.isinf(a)) or not (mp.isfinite(b) or mp.isinf(b)):
                raise ValueError(f"certificate: both sides must be numbers, got {a} and {b}")
        if exact:
            holds = {"<=": a <= b, "<": a < b, ">=": a >= b, ">": a > b, "==": a == b}[relation]
        elif mp.isinf(a) or mp.isinf(b):  # decided by order alone: inf == inf, inf > any finite
            holds = {"<=": a <= b, "<": a < b, ">=": a >= b, ">": a > b, "==": a == b}[relation]
        else:
            # Two sides equal in exact arithmetic may differ in their last digits at `dps`: a
            # difference below 10**(-dps/2) of their size is a tie (equal; satisfies <=, >=, ==).
            tie = abs(a - b) <= mp.mpf(10) ** (-(dps // 2)) * max(abs(a), abs(b), mp.mpf(10) ** (-dps))
            holds = {"<=": a <= b or tie, "<": a < b and not tie, ">=": a >= b or tie, ">": a > b and not tie,
                     "==": tie}[relation]
        holds = bool(holds)
        gap = a - b
        return {"lhs": _show(a), "rhs": _show(b), "relation": relation, "holds": bool(holds),
                "difference": _show(gap), "precision": "exact" if exact else f"{dps} digits", "what": what}


def _certified(worst: int, certify: Callable[[int], tuple[Any, Any]] | None, relation: str,
               tol: float = 0.0) -> dict | None:
    """Run a claim's extended-precision evaluator on instance ``worst`` (None without one)."""
    if certify is None:
        return None
    lhs, rhs = certify(worst)
    if relation == "identity":
        mp = _mp()
        with mp.workdps(DPS):
            a, _ = _exact_or_mp(lhs() if callable(lhs) else lhs)
            b, _ = _exact_or_mp(rhs() if callable(rhs) else rhs)
            a = mp.mpf(a.numerator) / a.denominator if isinstance(a, Fraction) else a
            b = mp.mpf(b.numerator) / b.denominator if isinstance(b, Fraction) else b
            if mp.isinf(a) or mp.isinf(b):
                err = mp.mpf(0) if a == b else mp.inf
            else:
                err = abs(a - b) / max(abs(a), abs(b), mp.mpf(10) ** (-300))
            return {"instance": worst, "lhs": _show(a), "rhs": _show(b), "rel_error": float(err),
                    "holds": bool(err <= tol), "precision": f"{DPS} digits"}
    rec = certificate(lhs, rhs, "<=", what=f"instance {worst}")
    rec["instance"] = worst
    return rec


def identity_outcome(lhs, rhs, *, tier: Tier = IDENTITY, cond: Any = 1.0,
                     certify: Callable[[int], tuple[Any, Any]] | None = None, details: dict | None = None) -> Outcome:
    """Both sides agree within the tier on every instance.

    Each instance ``i`` is allowed ``tier.rtol(cond[i])``; the measured number is the worst
    relative error, compared with that instance's tolerance. When the worst instance lies
    just outside (at most 1e3 times its tolerance) and ``certify(i)`` is given, returning the
    two sides in extended precision (numbers or no-argument callables evaluated at
    :data:`DPS` digits), the instance is decided by their relative error there; the details
    say whether the float discrepancy was rounding.
    """
    err = np.atleast_1d(relative_error(lhs, rhs)).ravel()
    tol = np.broadcast_to(np.asarray(tier.rtol(cond), dtype=float), err.shape)
    if err.size == 0:
        raise ValueError("identity_outcome: need at least one instance")
    with np.errstate(invalid="ignore"):
        score = np.where(np.isinf(err), np.inf, err / tol)
    worst = int(np.argmax(score))
    e, t = float(err[worst]), float(tol[worst])
    d = {"instances": int(err.size), "max_rel_error": e if np.isfinite(e) else "inf", "worst_index": worst,
         "tier": tier.name, "worst_cond": float(np.broadcast_to(np.asarray(cond, dtype=float), err.shape)[worst])}
    holds = bool(e <= t)
    measured = e if np.isfinite(e) else 1e308
    if not holds and np.isfinite(e) and e <= 1e3 * t:
        cert = _certified(worst, certify, "identity", t)
        if cert is None:
            d["near_boundary"] = "outside the tier by less than 1e3x and no extended-precision evaluator: counted"
        else:
            d["certificate"] = cert
            holds = cert["holds"]
            measured = cert["rel_error"]
            d["float_discrepancy"] = "rounding" if holds else "real (survives extended precision)"
    d.update(details or {})
    return Outcome(holds=holds, measured=measured, reference=t, relation="<=", tolerance=t, details=d)


def bound_outcome(values, bounds, *, certify: Callable[[int], tuple[Any, Any]] | None = None,
                  rounding=None, details: dict | None = None) -> Outcome:
    """A deterministic inequality ``value <= bound`` on every instance: worst ratio value/bound <= 1.

    Bounds must be positive; a value below an infinite bound has ratio 0. The worst ratio is
    the bound's tightness (``details["tightness"]``). When every ratio above 1 lies in its band
    ``(1, 1 + max(CERTIFY_BAND, rounding_i)]``, each such instance is decided by ``certify(i)``, which returns
    ``(value, bound)`` of instance ``i`` in extended precision (numbers or no-argument callables evaluated at
    :data:`DPS` digits); without it, such a ratio counts as a violation and the details say it was not
    certified.  ``rounding`` (optional, per instance) is the relative error the float ratio can carry by the
    claim's rounding model, for instances whose float evaluation is ill-conditioned (e.g. logs of numbers
    within 1e-13 of 1); it only widens which instances are re-decided in extended precision.
    """
    v = np.asarray(values, dtype=float).ravel()
    b = np.asarray(bounds, dtype=float).ravel()
    if v.shape != b.shape or v.size == 0:
        raise ValueError(f"bound_outcome: values and bounds must have one equal non-zero length, got {v.shape} and {b.shape}")
    band = np.full(v.shape, CERTIFY_BAND) if rounding is None else np.maximum(
        CERTIFY_BAND, np.broadcast_to(np.asarray(rounding, dtype=float), v.shape))
    if np.any(np.isnan(band)):
        raise ValueError("bound_outcome: rounding must not be NaN")
    if np.any(np.isnan(v)) or np.any(np.isnan(b)) or np.any(b <= 0):
        raise ValueError("bound_outcome: values must be non-NaN and bounds > 0")
    with np.errstate(invalid="ignore", over="ignore"):
        ratios = np.where(np.isinf(b), 0.0, v / b)
    worst = int(np.argmax(ratios))
    r = float(ratios[worst])
    d = {"instances": int(v.size), "worst_ratio": r, "tightness": r, "worst_value": float(v[worst]),
         "worst_bound": float(b[worst]), "worst_index": worst}
    above = np.flatnonzero(ratios > 1.0)
    holds = above.size == 0
    if not holds and bool(np.all(ratios[above] <= 1.0 + band[above])):
        # Every instance above 1 lies in the band: each is decided in extended precision (a real
        # violation must not hide behind a worse instance that is only rounding).
        if certify is None:
            d["near_boundary"] = "ratio within its rounding band above 1 and no extended-precision evaluator: counted"
        else:
            certs = [_certified(int(i), certify, "bound") for i in above[np.argsort(-ratios[above])]]
            real = [c for c in certs if not c["holds"]]
            d["certificate"] = real[0] if real else certs[0]
            d["certified_instances"] = len(certs)
            holds = not real
            d["float_excess"] = "rounding" if holds else "real (survives extended precision)"
    d.update(details or {})
    return Outcome(holds=holds, measured=r, reference=1.0, relation="<=", tolerance=0.0, details=d)


def combine(parts: dict[str, Outcome], key: str) -> Outcome:
    """One outcome from several sub-checks: all must hold.

    The printed numbers (measured, relation, reference, tolerance) are those of the sub-check
    that decided: the first failing part in the order given, or ``parts[key]`` when all hold;
    its name is ``decided_by``. ``details`` keeps every part's verdict and numbers.
    """
    if key not in parts:
        raise ValueError(f"combine: key must name one of the parts {list(parts)}, got {key!r}")
    failing = [name for name, o in parts.items() if not o.holds]
    decided = failing[0] if failing else key
    main = parts[decided]
    details = {name: {"holds": o.holds, "measured": o.measured, "reference": o.reference,
                      "relation": o.relation, **({"decided_by": o.decided_by} if o.decided_by else {}),
                      **o.details} for name, o in parts.items()}
    name = decided if not main.decided_by else f"{decided}/{main.decided_by}"
    return Outcome(holds=not failing, measured=main.measured, reference=main.reference, relation=main.relation,
                   tolerance=main.tolerance, details=details, decided_by=name)


def mean_ci(samples, *, z: float = Z, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and the two-sided band mean ± z·(standard error) of i.i.d. samples along ``axis``."""
    x = np.asarray(samples, dtype=float)
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"mean_ci: need at least 2 samples, got {n}")
    m = x.mean(axis=axis)
    se = x.std(axis=axis, ddof=1) / np.sqrt(n)
    return m, m - z * se, m + z * se


def mean_bound_outcome(samples, bound: float, *, z: float = Z, details: dict | None = None) -> Outcome:
    """An expectation bounded above, ``E X <= bound``, from i.i.d. samples of X.

    Fails only when the one-sided lower confidence bound ``mean - z * se`` exceeds ``bound``
    (the data exclude the claim); the measured number is that lower bound over ``bound``.
    """
    m, lo, hi = mean_ci(samples, z=z)
    if not bound > 0:
        raise ValueError(f"mean_bound_outcome: bound must be > 0, got {bound}")
    d = {"mean": float(m), "ci_low": float(lo), "ci_high": float(hi), "z": z, "samples": int(np.size(samples)),
         "mean_over_bound": float(m / bound), "tightness": float(m / bound)}
    d.update(details or {})
    return Outcome(holds=bool(lo <= bound), measured=float(lo / bound), reference=1.0, relation="<=",
                   tolerance=0.0, details=d)


def clopper_pearson(k: int, n: int, *, confidence: float = 0.999) -> tuple[float, float]:
    """Exact two-sided Clopper-Pearson interval for a binomial proportion k/n."""
    from scipy import stats

    if not (0 <= k <= n and n > 0):
        raise ValueError(f"clopper_pearson: need 0 <= k <= n, n > 0, got k={k}, n={n}")
    a = 1.0 - confidence
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a / 2, k + 1, n - k))
    return lo, hi


def probability_outcome(violations: int, draws: int, delta: float, *, confidence: float = 0.999,
                        details: dict | None = None) -> Outcome:
    """A statement "with probability >= 1 - delta": violation frequency against ``delta``.

    Holds when the one-sided Clopper-Pearson upper bound of the violation probability (at
    ``confidence``) is at most ``delta``: the draws establish the statement.  Otherwise it does
    not hold, and ``details["refuted"]`` says whether the draws exclude it (the lower bound
    exceeds ``delta``) or ``details["inconclusive"]`` that more draws are needed.  The measured
    number is the upper bound over ``delta``.
    """
    if not 0 < delta < 1:
        raise ValueError(f"probability_outcome: delta must lie in (0, 1), got {delta}")
    # a two-sided interval at 2 * confidence - 1 has one-sided bounds at ``confidence`` each
    lo, hi = clopper_pearson(int(violations), int(draws), confidence=2 * confidence - 1)
    d = {"violations": int(violations), "draws": int(draws), "frequency": violations / draws,
         "cp_low": lo, "cp_high": hi, "confidence": confidence, "delta": delta,
         "refuted": bool(lo > delta), "inconclusive": bool(lo <= delta < hi),
         "draws_needed_if_no_violation": draws_needed(delta, confidence=confidence)}
    d.update(details or {})
    return Outcome(holds=bool(hi <= delta), measured=hi / delta, reference=1.0, relation="<=", tolerance=0.0,
                   details=d)


def draws_needed(delta: float, *, violations: int = 0, confidence: float = 0.999) -> int:
    """The fewest draws with which ``violations`` violations still give a Clopper-Pearson upper bound
    <= ``delta`` (so :func:`probability_outcome` can establish the statement)."""
    if not 0 < delta < 1:
        raise ValueError(f"draws_needed: delta must lie in (0, 1), got {delta}")
    lo, hi = violations + 1, max(violations + 2, int(np.ceil(20 * (violations + 7) / delta)))
    while lo < hi:  # the upper bound falls as draws grow with the violations fixed
        mid = (lo + hi) // 2
        if clopper_pearson(violations, mid, confidence=2 * confidence - 1)[1] <= delta:
            hi = mid
        else:
            lo = mid + 1
    return lo


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
        from scipy import stats

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
    from scipy import optimize

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
