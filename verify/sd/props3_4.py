"""[sd] Propositions 3 and 4 (label norm per round, guaranteed rounds) and footnote 10."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

import kdtheory.theory.sd as tsd
from kdtheory.verify import evidence
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.evidence import IDENTITY
from kdtheory.verify.sd._common import batches, mp, tie_le, trajectories

# ----------------------------------------------------------------------------------------------
# Proposition 3: bounds on ||z_t||
# ----------------------------------------------------------------------------------------------

P3_VARIANTS = ("printed", "corrected", "sharp", "control", "sharp_control")


def _p3_bounds(z0n: float, t: np.ndarray, K: int, eps: float, kappa: float, variant: str):
    """Lower and upper bounds on ||z_t|| (absolute units) from the public calculator of the variant."""
    if variant == "printed":
        return tsd.label_norm_bounds(z0n, t, K, eps, kappa)
    if variant in ("sharp", "sharp_control"):
        lo, hi = tsd.label_norm_bounds_sharp(z0n, t, K, eps)
        if variant == "sharp_control":                  # wrong constant: u0 - 0.999 t
            lo = z0n - 0.999 * (z0n - lo)
        return lo, hi
    lo, hi = tsd.label_norm_bounds_corrected(z0n, t, K, eps, kappa)
    return (hi, hi) if variant == "control" else (lo, hi)   # control: the 1/kappa constants used from below


def _mp_p3(z0n, K, eps, kappa, t: int, variant: str):
    """The same bounds at 50 digits (for certificates), from the exact instance."""
    m = mp()
    thr = m.sqrt(K) * m.mpf(eps) if variant == "printed" else m.sqrt(K * m.mpf(eps))
    u0 = m.mpf(z0n) / thr
    if variant in ("sharp", "sharp_control"):
        lo = u0 - (m.mpf("0.999") if variant == "sharp_control" else 1) * t
        return lo * thr, m.sqrt(max(u0 * u0 - t, m.mpf(0))) * thr

    def iterate(x):
        if x == 1:
            return u0 - t
        a = ((u0 - 1) ** 2 + x * (2 * u0 - 1)) / (u0 - 1 + x) ** 2
        b = u0 ** 2 * x / (u0 - 1 + x) ** 2
        return a ** t * u0 - b * (a ** t - 1) / (a - 1)

    hi = iterate(1 / m.mpf(kappa))
    return (hi if variant == "control" else iterate(m.mpf(kappa))) * thr, hi * thr


def _p3_rows(d, z0, eps, K, norms, n, variant, tag):
    """Bound rows of one trajectory in decrease form (no cancellation for u_t << u0).

    lower: ``||z0|| - ||z_t|| <= ||z0|| - lower_t`` for rounds 1 <= t <= n + 1 (round n + 1, after the collapse,
    has ``||z_t|| = 0``; the lower bound decreases in t, so later rounds add nothing);
    upper: ``||z0|| - upper_t <= ||z0|| - ||z_t||`` for rounds 1 <= t <= n (predecessor not collapsed).
    """
    z0n = float(np.linalg.norm(z0))
    kappa = float(d[-1] / d[0])
    last = min(n + 1, norms.size - 1)
    t = np.arange(1, last + 1, dtype=float)
    lo, hi = _p3_bounds(z0n, t, K, eps, kappa, variant)
    vals = list(z0n - norms[1:last + 1]) + list(z0n - hi[:n])
    bnds = list(z0n - lo) + list(z0n - norms[1:n + 1])
    where = [(tag, int(s), "lower") for s in t] + [(tag, int(s), "upper") for s in t[:n]]
    return vals, bnds, where


def _prop3_check(run: Run, variant: str, *, eps_one: bool = False) -> Outcome:
    """Prop. 3 bounds of ``variant`` on exact trajectories and a K = 3 search; certified near the boundary."""
    from kdtheory.numerics.sd import spectral_rounds, spectral_rounds_mp

    rng = run.rng
    printed = variant == "printed"
    thr_fn = tsd.collapse_threshold_printed if printed else tsd.collapse_threshold
    insts, values, bounds, where, outside = [], [], [], [], 0
    for tr in (trajectories(b) for b in batches(rng, run.size(120, 800), eps_one=eps_one)):
        K = tr["K"]
        for i in range(tr["d"].shape[0]):
            eps = float(tr["eps"][i])
            if np.linalg.norm(tr["z0"][i]) <= thr_fn(K, eps):
                outside += 1                       # the printed hypothesis excludes labels that are not collapsed
                continue
            insts.append((tr["d"][i], tr["z0"][i], eps, K, tr["c"][i]))
            v, b, w = _p3_rows(tr["d"][i], tr["z0"][i], eps, K, tr["norms"][i], int(tr["n_done"][i]), variant,
                               len(insts) - 1)
            values += v
            bounds += b
            where += w

    def search(p):
        d = np.array([1.0, 10 ** min(abs(p[0]), 10.0), 10 ** min(abs(p[0]) + abs(p[1]), 10.0)])
        z = np.array([math.cos(p[2]) * math.cos(p[3]), math.cos(p[2]) * math.sin(p[3]), math.sin(p[2])])
        eps = 1.0 if eps_one else 10 ** float(np.clip(p[5], -3, 2))
        u0 = 1 + 10 ** float(np.clip(p[4], -6, 1.2))
        z = z / np.linalg.norm(z) * u0 * math.sqrt(3 * eps)
        return d, z, eps

    def f(p):
        d, z, eps = search(p)
        if np.linalg.norm(z) <= thr_fn(3, eps):
            return 0.0
        out = spectral_rounds(d, z, int(math.ceil((np.linalg.norm(z) / math.sqrt(3 * eps)) ** 2)) + 2, eps=eps)
        v, b, _ = _p3_rows(d, z, eps, 3, out["norms"], int(out["n_done"]), variant, -1)
        return float(np.max(np.array(v) / np.array(b)))

    starts = [np.array([rng.uniform(0, 3), rng.uniform(0, 3), rng.uniform(0, 1.5), rng.uniform(0, 1.5),
                        rng.uniform(-3, 1), rng.uniform(-2, 1)]) for _ in range(run.size(2, 8))]
    x_adv, v_adv = evidence.maximize(f, starts, maxiter=run.size(60, 400))
    d, z, eps = search(x_adv)
    if np.linalg.norm(z) > thr_fn(3, eps):
        out = spectral_rounds(d, z, int(math.ceil((np.linalg.norm(z) / math.sqrt(3 * eps)) ** 2)) + 2, eps=eps)
        insts.append((d, z, eps, 3, out["c"]))
        v, b, w = _p3_rows(d, z, eps, 3, out["norms"], int(out["n_done"]), variant, len(insts) - 1)
        values += v
        bounds += b
        where += w

    def certify(i):
        j, t, side = where[i]
        d, z, eps, K, c = insts[j]
        m = mp()
        with m.workdps(evidence.DPS):
            run_mp = spectral_rounds_mp(d, z, t, eps=eps, c_start=c[:t])
            norms = run_mp["norms"]
            nt = norms[t] if t < len(norms) else m.mpf(0)
            z0n = norms[0]
            lo, hi = _mp_p3(z0n, K, eps, m.mpf(float(d[-1])) / m.mpf(float(d[0])), t, variant)
            return tie_le(z0n - nt, z0n - lo) if side == "lower" else tie_le(z0n - hi, z0n - nt)

    return evidence.bound_outcome(values, bounds, certify=certify, details={
        "trajectories": len(insts), "form": "decrease: ||z0|| - ||z_t|| against ||z0|| - bound",
        "search_worst_ratio": v_adv, "search_point": x_adv.tolist(),
        "instances_outside_the_printed_hypothesis_not_collapsed": outside})


def _worked_prop3(eps_one: bool) -> dict:
    """K = 1, d = 1: ||z_t|| = ||z_0|| - t sqrt(eps) exactly.  z0 = 2, eps = 1/4, t = 1: ||z_1|| = 3/2 while the
    printed lower bound (kappa = 1: ||z_0|| - t sqrt(K) eps) is 7/4.  With eps = 1 (z0 = 4) both are 3."""
    from kdtheory.numerics.sd import spectral_rounds

    z0, eps = (4.0, 1.0) if eps_one else (2.0, 0.25)
    lo, _ = tsd.label_norm_bounds(z0, 1.0, 1, eps, 1.0)
    actual = float(spectral_rounds(np.array([1.0]), np.array([z0]), 2, eps=eps)["norms"][1])
    e = Fraction(eps)
    exact_actual = Fraction(z0) - (1 if eps_one else Fraction(1, 2))      # sqrt(eps) exactly
    exact_lower = Fraction(z0) - e
    return {"K": 1, "d": [1.0], "z0": [z0], "eps": eps, "t": 1, "norm_z1_engine": actual,
            "printed_lower_bound": float(lo), "norm_z1_exact": str(exact_actual), "printed_lower_exact": str(exact_lower),
            "certificate": evidence.certificate(exact_lower, exact_actual, "<=",
                                                what="printed Prop. 3 lower bound <= ||z_1|| (K = 1, kappa = 1)")}


@claim("sd.prop3", ref="Prop. 3, Eqs. (40)-(43), (108)-(123)", kind="inequality", expected="erratum",
       statement="||z_t|| >= a^t(kappa)||z_0|| - sqrt(K) eps b(kappa)(a^t - 1)/(a - 1) (and the 1/kappa upper bound)")
def prop3(run: Run) -> Outcome:
    """**Claim**: [sd, Prop. 3, Eq. (40)] the label norm of round t is at least
    ``a^t(kappa) ||z_0|| - sqrt(K) eps b(kappa) (a^t(kappa) - 1)/(a(kappa) - 1)`` with ``u0 = ||z_0||/(sqrt(K) eps)``;
    the proof (Eq. 122) gives the same form with ``1/kappa`` as an upper bound (``label_norm_bounds``).

    **Setting**: an exact instance (K = 1, d = 1, z0 = 2, eps = 1/4); exact trajectories of ~700 instances
    (K = 1..60, kappa up to 1e10, eigenvector labels, labels just above collapse, eps in [1e-3, 100])
    run until collapse, plus a Nelder-Mead search over K = 3 instances (spectrum, label direction, u0, eps).

    **Check**: in decrease form, ``||z0|| - ||z_t|| <= ||z0|| - lower_t`` for every round and
    ``||z0|| - upper_t <= ||z0|| - ||z_t||`` while the predecessor is not collapsed; worst ratio <= 1,
    certified at 50 digits in the band.  Erratum: with the printed threshold the bound fails: for K = 1,
    ``||z_t|| = ||z_0|| - t sqrt(eps)`` exactly, below the printed ``||z_0|| - t sqrt(K) eps`` when eps < 1
    (worked instance: 3/2 < 7/4, certified exactly).

    **Negative control**: the corrected bounds with the constants a(1/kappa), b(1/kappa) used from below: must fail.

    **Positive control**: every tolerance set to 1 (printed threshold = ``sqrt(K eps)``, worked instance
    z0 = 4): the printed bounds hold.
    """
    ex = _worked_prop3(run.positive)
    parts = {"worked_instance": Outcome(holds=ex["certificate"]["holds"],
                                        measured=ex["printed_lower_bound"] / ex["norm_z1_engine"], reference=1.0,
                                        relation="<=", details=ex),
             "trajectories": _prop3_check(run, "control" if run.control else "printed", eps_one=run.positive)}
    out = evidence.combine(parts, "trajectories")
    if not ex["certificate"]["holds"]:
        out.details["counterexample"] = {k: v for k, v in ex.items() if k != "certificate"}
        out.details["certificate"] = ex["certificate"]
    return out


def _iterate_identity(run: Run) -> Outcome:
    """Eq. (40) in closed form (``label_norm_bounds_corrected``) equals the t-fold iteration of the tangent map
    ``u -> a u - b`` with ``a, b = prop3_coefficients(u0, x)`` (IDENTITY tier, cond = t u0 / |u_t|: the iteration cancels)."""
    rng = run.rng
    lhs, rhs, conds = [], [], []
    for _ in range(run.size(40, 200)):
        u0, kap = float(1 + 10 ** rng.uniform(-2, 1.5)), float(10 ** rng.uniform(0, 3))
        t = np.arange(1, 13, dtype=float)
        lo, hi = tsd.label_norm_bounds_corrected(u0, t, 1, 1.0, kap)     # threshold 1: units of u
        for x, closed in ((kap, lo), (1.0 / kap, hi)):
            a, b = tsd.prop3_coefficients(u0, x)
            u, it = u0, []
            for _ in range(12):
                u = a * u - b
                it.append(u)
            keep = np.abs(closed) > 1e-3 * u0
            lhs += list(closed[keep])
            rhs += list(np.array(it)[keep])
            conds += list((t * u0 / np.abs(closed))[keep])
    return evidence.identity_outcome(lhs, rhs, tier=IDENTITY, cond=conds)


@claim("sd.prop3_corrected", ref="Prop. 3, Eqs. (40), (122), corrected", kind="inequality",
       statement="With u_t = ||z_t||/sqrt(K eps): a^t(k) u0 - b(k)(a^t-1)/(a-1) <= u_t <= same with 1/k")
def prop3_corrected(run: Run) -> Outcome:
    """**Claim**: [sd, Prop. 3, corrected threshold] in units ``u_t = ||z_t|| / sqrt(K eps)``,
    ``a^t(kappa) u0 - b(kappa) (a^t(kappa)-1)/(a(kappa)-1) <= u_t`` for every round (after a collapse the
    lower bound is <= 0), and ``u_t <= a^t(1/kappa) u0 - b(1/kappa) (a^t(1/kappa)-1)/(a(1/kappa)-1)``
    for every round whose predecessor has not collapsed (``label_norm_bounds_corrected``).  Footnote 8's
    concavity is right for ``1/kappa``; for ``kappa`` the one-round map is convex, so its tangent is a
    lower bound (Eq. 118).

    **Setting**: as ``sd.prop3``; and 40 random (u0, kappa) for the closed form.

    **Check**: decrease form as ``sd.prop3``, worst ratio <= 1 with 50-digit certification in the band
    (tightness reported: the lower bound is exact for kappa = 1); the closed form equals the iteration of
    the tangent map built from ``prop3_coefficients`` (IDENTITY tier).

    **Negative control**: constants a(1/kappa), b(1/kappa) in the lower bound: must fail.
    """
    parts = {"bounds": _prop3_check(run, "control" if run.control else "corrected"),
             "closed_form_is_the_iterate": _iterate_identity(run)}
    return evidence.combine(parts, "bounds")


@claim("sd.prop3_sharp", ref="Prop. 3 (sharper, not in the paper)", kind="inequality",
       statement="u0 - t <= u_t <= sqrt(u0^2 - t) for every round before collapse (kappa-free, lower end attained)")
def prop3_sharp(run: Run) -> Outcome:
    """**Claim**: (extra, proved here) while no round before t has collapsed, ``u0 - t <= u_t <= sqrt(u0^2 - t)``
    (``label_norm_bounds_sharp``).  Proof: each round removes a residual ``(I - A) z`` of norm exactly
    ``sqrt(K eps)`` (active constraint) with ``0 <= A <= I`` diagonal, so ``||A z|| >= ||z|| - ||(I-A) z||`` and
    ``||z||^2 = ||A z||^2 + ||(I-A) z||^2 + 2 <A z, (I-A) z> >= ||A z||^2 + K eps``.  The lower end is attained
    by labels along one eigenvector, so it is the best kappa-free lower bound.

    **Setting**: as ``sd.prop3``.

    **Check**: decrease form as ``sd.prop3``, worst ratio <= 1 with 50-digit certification (tightness 1).

    **Negative control**: lower end ``u0 - 0.999 t``: eigenvector labels violate it, must fail.
    """
    return _prop3_check(run, "sharp_control" if run.control else "sharp")


# ----------------------------------------------------------------------------------------------
# Proposition 4: guaranteed rounds
# ----------------------------------------------------------------------------------------------

# The instance of issue #10: round t_ = 1 itself collapses, the guarantee "at least t_ rounds" holds.
_P4_EDGE = (np.array([1.0]), np.array([2.0]), 1.0)


def _prop4_check(run: Run, variant: str, *, eps_one: bool = False) -> Outcome:
    """Guaranteed rounds of ``variant`` (public calculators) against the rounds run before collapse:
    ``guarantee <= n`` as ``(guarantee + 1) / (n + 1) <= 1``; sharp variants also ``n <= collapse_round_upper``."""
    from kdtheory.numerics.sd import spectral_rounds_mp

    rng = run.rng
    printed = variant == "printed"
    thr_fn = tsd.collapse_threshold_printed if printed else tsd.collapse_threshold
    factor = {"control": 1.5, "sharp_control": 1.05}.get(variant, 1.0)
    insts, g_vals, n_vals, upper, outside = [], [], [], [], 0
    extra = [] if printed else [_P4_EDGE]
    for tr in (trajectories(b) for b in batches(rng, run.size(120, 800), eps_one=eps_one)):
        K = tr["K"]
        rows = [(tr["d"][i], tr["z0"][i], float(tr["eps"][i]), int(tr["n_done"][i]), tr["c"][i])
                for i in range(tr["d"].shape[0])]
        for d, z0, eps, n, c in rows:
            insts.append((d, z0, eps, K, n, c))
    for d, z0, eps in extra:
        tr = trajectories({"d": d[None], "z0": z0[None], "eps": np.array([eps]), "K": d.size,
                           "u0": np.array([np.linalg.norm(z0) / math.sqrt(d.size * eps)])})
        insts.append((d, z0, eps, d.size, int(tr["n_done"][0]), tr["c"][0]))
    kept = []
    for d, z0, eps, K, n, c in insts:
        z0n = float(np.linalg.norm(z0))
        if z0n <= thr_fn(K, eps):
            outside += 1
            continue
        kappa = float(d[-1] / d[0])
        if variant == "printed":
            g = tsd.guaranteed_rounds(z0n, K, eps, kappa)
        elif variant in ("sharp", "sharp_control"):
            g = tsd.guaranteed_rounds_sharp(z0n, K, eps)
            upper.append(tsd.collapse_round_upper(z0n, K, eps))
        else:
            g = tsd.guaranteed_rounds_corrected(z0n, K, eps, kappa)
        kept.append((d, z0, eps, K, n, c))
        g_vals.append(factor * g + 1.0)
        n_vals.append(n + 1.0)

    def certify(i):
        d, z0, eps, K, n, c = kept[i]
        m = mp()
        with m.workdps(evidence.DPS):
            r = spectral_rounds_mp(d, z0, n + 2, eps=eps, c_start=c[: n + 2])
            thr = m.sqrt(K) * m.mpf(eps) if printed else m.sqrt(K * m.mpf(eps))
            u0 = r["norms"][0] / thr
            kappa = m.mpf(float(d[-1])) / m.mpf(float(d[0]))
            g = (u0 - 1) / (1 if variant in ("sharp", "sharp_control") else kappa)
            return tie_le(m.mpf(factor) * g + 1, m.mpf(r["n_done"] + 1))

    ratios = np.array(g_vals) / np.array(n_vals)
    parts = {"guaranteed_rounds": evidence.bound_outcome(g_vals, n_vals, certify=certify, details={
        "form": "(guarantee + 1) / (rounds before collapse + 1)",
        "median_ratio_runs_of_5_or_more_rounds": float(np.median(ratios[np.array(n_vals) >= 6]))
        if np.any(np.array(n_vals) >= 6) else 0.0,
        "instances_outside_the_printed_hypothesis_not_collapsed": outside,
        "issue_10_instance_K1_d1_eps1_y2": "included" if extra else "not applicable"})}
    if upper:
        parts["collapse_by_round_ceil_u0sq_minus_1"] = evidence.bound_outcome(
            n_vals, np.array(upper) + 1.0, details={"form": "(rounds before collapse + 1) / (ceil(u0^2 - 1) + 1)"})
    return evidence.combine(parts, "guaranteed_rounds")


def _worked_prop4(eps_one: bool) -> dict:
    """K = 1, d = 1, y0 = 1, eps = 1/4: printed t_ = (1/(1/4) - 1)/1 = 3, but u_t = 2 - t collapses at round 1.
    With eps = 1 (y0 = 2): t_ = 1 and exactly one round before collapse."""
    from kdtheory.numerics.sd import spectral_rounds

    y0, eps = (2.0, 1.0) if eps_one else (1.0, 0.25)
    g = tsd.guaranteed_rounds(y0, 1, eps, 1.0)
    n = int(spectral_rounds(np.array([1.0]), np.array([y0]), 6, eps=eps)["n_done"])
    exact_g = Fraction(y0) / Fraction(eps) - 1
    return {"K": 1, "d": [1.0], "y0": [y0], "eps": eps, "printed_t_": g, "rounds_before_collapse": n,
            "certificate": evidence.certificate(exact_g, n, "<=", what="printed t_ <= rounds before collapse")}


@claim("sd.prop4", ref="Prop. 4, Eqs. (44), (124)-(127)", kind="inequality", expected="erratum",
       statement="At least (||y0||/(sqrt(K) eps) - 1)/kappa rounds are non-collapsing")
def prop4(run: Run) -> Outcome:
    """**Claim**: [sd, Prop. 4, Eq. (44)] starting from ``||y0|| > sqrt(K) eps``, at least
    ``t_ = (||y0||/(sqrt(K) eps) - 1)/kappa`` rounds are non-collapsing (``guaranteed_rounds``).

    **Setting**: an exact instance (K = 1, d = 1, y0 = 1, eps = 1/4); exact trajectories as in ``sd.prop3``.

    **Check**: ``t_ <= n`` (n = rounds run before collapse) as ``(t_ + 1)/(n + 1) <= 1``, worst ratio <= 1,
    certified at 50 digits in the band (root and collapse round by ``spectral_rounds_mp``).  Erratum
    (printed threshold): the worked instance has ``t_ = 3`` while round 1 already collapses
    (``u_t = 2 - t``), certified exactly.

    **Negative control**: t_ multiplied by 1.5: must fail as well.

    **Positive control**: every tolerance set to 1 (worked instance y0 = 2, t_ = 1, one round): holds.
    """
    ex = _worked_prop4(run.positive)
    parts = {"worked_instance": Outcome(holds=ex["certificate"]["holds"], measured=ex["printed_t_"],
                                        reference=float(ex["rounds_before_collapse"]), relation="<=", details=ex),
             "trajectories": _prop4_check(run, "control" if run.control else "printed", eps_one=run.positive)}
    out = evidence.combine(parts, "trajectories")
    if not ex["certificate"]["holds"]:
        out.details["counterexample"] = {k: v for k, v in ex.items() if k != "certificate"}
        out.details["certificate"] = ex["certificate"]
    return out


@claim("sd.prop4_corrected", ref="Prop. 4, Eq. (44), corrected", kind="inequality",
       statement="At least t_ = (u0 - 1)/kappa rounds are non-collapsing (every integer t < t_), u0 = ||y0||/sqrt(K eps)")
def prop4_corrected(run: Run) -> Outcome:
    """**Claim**: [sd, Prop. 4, corrected threshold] the number n of rounds run before collapse satisfies
    ``n >= t_ = (u0 - 1)/kappa`` (``guaranteed_rounds_corrected``), ``u0 = ||y0|| / sqrt(K eps)``: every integer
    round ``t < t_`` is non-collapsing.  Round ``t_`` itself may collapse when ``t_`` is an integer: K = 1,
    d = 1, eps = 1, y0 = 2 gives ``t_ = 1`` and ``||y_1||^2/K = 1 = eps`` (this instance is included).

    **Setting**: exact trajectories as in ``sd.prop3`` (eigenvector labels, extreme kappa, near collapse)
    and the instance above.

    **Check**: ``(t_ + 1)/(n + 1) <= 1`` on every instance, certified at 50 digits in the band (ties at
    integer t_ count as equal); tightness and the median ratio reported (the bound is loose by about a
    factor kappa; see ``sd.prop4_sharp``).

    **Negative control**: t_ multiplied by 1.5: must fail.
    """
    return _prop4_check(run, "control" if run.control else "corrected")


@claim("sd.prop4_sharp", ref="Prop. 4 (sharper, not in the paper)", kind="inequality",
       statement="At least u0 - 1 rounds are non-collapsing (any kappa; attained), and collapse comes by round ceil(u0^2 - 1)")
def prop4_sharp(run: Run) -> Outcome:
    """**Claim**: (extra) from ``u0 - t <= u_t <= sqrt(u0^2 - t)`` (``sd.prop3_sharp``): at least ``u0 - 1``
    rounds are non-collapsing whatever kappa (``guaranteed_rounds_sharp``; a factor kappa more than Prop. 4;
    labels along one eigenvector collapse exactly at round ``ceil(u0 - 1)``, so no kappa-free guarantee can
    be larger), and the labels have collapsed by round ``ceil(u0^2 - 1)`` (``collapse_round_upper``, exact).

    **Setting**: exact trajectories as in ``sd.prop3`` and the instance of ``sd.prop4_corrected``.

    **Check**: ``(u0 - 1 + 1)/(n + 1) <= 1`` (certified at 50 digits in the band; tightness 1 for
    eigenvector labels) and ``(n + 1)/(ceil(u0^2 - 1) + 1) <= 1``.

    **Negative control**: guarantee ``1.05 (u0 - 1)``: must fail on eigenvector labels.
    """
    return _prop4_check(run, "sharp_control" if run.control else "sharp")


# ----------------------------------------------------------------------------------------------
# Footnote 10
# ----------------------------------------------------------------------------------------------


def _tstar_mp(u, k):
    m = mp()
    u, k = m.mpf(u), m.mpf(k)
    return m.log((1 + (k - 1) / u**2) / (1 + (k - 1) / u)) / m.log(1 - k * (k - 1) / (u - 1 + k) ** 2)


def _fn10_grid(run: Run):
    kappas = [1.0001, 1.01, 1.5, 2.0, 5.0, 10.0, 100.0, 1e4, 1e6] if run.quick else list(np.geomspace(1.0001, 1e8, 40))
    us = np.exp(np.linspace(np.log(1.0 + 1e-6), np.log(1e9), run.size(60, 400)))
    return kappas, us


def _zero_crossing_identity(run: Run) -> Outcome:
    """``zero_crossing_round`` (float, Eq. 125) against its 50-digit evaluation on the grid (IDENTITY tier)."""
    kappas, us = _fn10_grid(run)
    m = mp()
    lhs, rhs = [], []
    with m.workdps(evidence.DPS):
        for k in kappas:
            for u in us[:: max(1, len(us) // 20)]:
                lhs.append(tsd.zero_crossing_round(float(u), k))
                rhs.append(float(_tstar_mp(u, k)))
    return evidence.identity_outcome(lhs, rhs, tier=IDENTITY)


@claim("sd.fn10", ref="Footnote 10, Eqs. (125)-(126)", kind="symbolic", expected="erratum",
       statement="t*(u0) = log((1+(k-1)/u0^2)/(1+(k-1)/u0))/log(a(k)) has decreasing slope in u0, hence t* >= (u0-1)/k")
def fn10(run: Run) -> Outcome:
    """**Claim**: [sd, footnote 10, Eqs. (125)-(126)] the zero crossing ``t*(u0)`` of the Prop. 3 lower bound
    (Eq. 125, ``zero_crossing_round``) "has decreasing slope w.r.t. u0" with slope tending to ``1/kappa``;
    being 0 at ``u0 = 1`` it therefore lies above ``(u0 - 1)/kappa`` (Eq. 126).

    **Setting**: SymPy for the two printed forms of Eq. (125) (equal to the solve of ``lower_t = 1``),
    the limit of the slope and ``t*(1)``; 50-digit evaluation of ``t*''`` on a log grid of u0 below 3
    (``u0 in (1 + 1e-6, 3)``), ``kappa in [1.0001, 1e6]``; the float calculator against the 50-digit values.

    **Check**: the premise "decreasing slope" means ``t*'' <= 0`` everywhere; a grid point with
    ``t*'' > 0`` fails it.  Erratum: ``t*`` is convex for ``u0`` in about ``(1, 1.2)`` when kappa <~ 10; the
    first convex grid point is certified at 50 digits (``t*'' > 0``).  Eq. (126) itself still holds
    (``sd.fn10_corrected``).

    **Negative control**: the premise tested on a perturbed function ``t* + (u0 - 1)^2`` (convex): must fail.

    **Positive control**: the premise restricted to ``u0 >= 1.5``, away from the convex region: holds.
    """
    sym = tsd.derive_guaranteed_rounds()
    kappas, us = _fn10_grid(run)
    grid = us[(us < 3.0) & (us >= (1.5 if run.positive else 0.0))]
    convex, first, n = 0, None, 0
    m = mp()
    with m.workdps(evidence.DPS):
        for k in kappas:
            f = (lambda u, k=k: _tstar_mp(u, k) + (u - 1) ** 2) if run.control else (lambda u, k=k: _tstar_mp(u, k))
            for u in grid:
                d2 = m.diff(f, m.mpf(u), 2)
                n += 1
                if d2 > 0:
                    convex += 1
                    if first is None:
                        first = {"kappa": k, "u0": float(u), "second_derivative": float(d2),
                                 "certificate": evidence.certificate(
                                     lambda f=f, u=u: m.diff(f, m.mpf(u), 2), 0, "<=",
                                     what="t*''(u0) <= 0 (decreasing slope) at this grid point")}
    closed_ok = sym["ratio_minus_printed"] == 0 and sym["a_minus_printed"] == 0 and str(sym["slope_at_infinity"]) == "1/kappa"
    parts = {"decreasing_slope": Outcome(holds=convex == 0, measured=float(convex), reference=0.0, relation="==",
                                         details={"grid_points": n, "convex_points": convex}),
             "eq125_forms_and_limits": Outcome(holds=bool(closed_ok), measured=float(not closed_ok), reference=0.0,
                                               relation="==", details={
                                                   "slope_limit": str(sym["slope_at_infinity"]),
                                                   "t_star_at_u0_1_log_argument": str(sym["t_at_u0_equal_1"])}),
             "calculator_vs_50_digits": _zero_crossing_identity(run)}
    out = evidence.combine(parts, "decreasing_slope")
    if first is not None:
        out.details["counterexample"] = {k: v for k, v in first.items() if k != "certificate"}
        out.details["certificate"] = first["certificate"]
    return out


@claim("sd.fn10_corrected", ref="Footnote 10, Eq. (126), corrected argument", kind="inequality",
       statement="t*(1) = 0 and t*'(u0) >= 1/kappa for all u0 > 1, hence t*(u0) >= (u0 - 1)/kappa (Eq. 126)")
def fn10_corrected(run: Run) -> Outcome:
    """**Claim**: (corrected argument) ``t*(1) = 0`` and the slope never drops below its limit:
    ``kappa t*'(u0) >= 1`` for all ``u0 > 1``; integrating gives Eq. (126): ``guaranteed_rounds_corrected
    <= zero_crossing_round``.  Near ``u0 = 1`` the slope is ``(kappa - 1)/(kappa log kappa) >= 1/kappa``.

    **Setting**: 50-digit evaluation on the grid of ``sd.fn10`` plus a bounded search (L-BFGS-B over
    ``log(u0 - 1)``, ``log kappa``) minimising ``kappa t*'(u0)``.

    **Check**: ``need / (kappa t*') <= 1`` with need = 1, and ``(u0 - 1)/kappa <= t*`` with both sides from the
    public calculators (``guaranteed_rounds_corrected`` at threshold 1, ``zero_crossing_round``); worst
    ratios <= 1, recomputed at 50 digits in the certification band; tightness reported (-> 1 as u0 -> inf).

    **Negative control**: slope requirement ``kappa t*' >= 1.001``: fails for large u0.
    """
    need = 1.001 if run.control else 1.0
    kappas, us = _fn10_grid(run)
    m = mp()
    pts, slopes = [], []
    with m.workdps(evidence.DPS):
        for k in kappas:
            for u in us[:: max(1, len(us) // 30)]:
                pts.append((float(u), k))
                slopes.append(float(m.diff(lambda v: _tstar_mp(v, k), m.mpf(u)) * k))

        def f(p):
            u, k = 1 + 10 ** p[0], 10 ** p[1]
            return -float(m.diff(lambda v: _tstar_mp(v, k), m.mpf(u)) * k)
        starts = [np.array([run.rng.uniform(-5, 8), run.rng.uniform(1e-3, 6)]) for _ in range(run.size(3, 10))]
        x, v = evidence.maximize(f, starts, bounds=[(-6, 9), (1e-4, 8)], maxiter=run.size(40, 200))
    pts.append((1 + 10 ** x[0], 10 ** x[1]))
    slopes.append(-v)

    def certify_slope(i):
        u, k = pts[i]
        with m.workdps(evidence.DPS):
            return tie_le(m.mpf(need), m.diff(lambda w: _tstar_mp(w, k), m.mpf(u)) * k)

    line = [tsd.guaranteed_rounds_corrected(u, 1, 1.0, k) for u, k in pts]
    tstar = [tsd.zero_crossing_round(u, k) for u, k in pts]

    def certify_gap(i):
        u, k = pts[i]
        with m.workdps(evidence.DPS):
            return tie_le((m.mpf(u) - 1) / m.mpf(k), _tstar_mp(u, k))

    parts = {"slope_at_least_1_over_kappa": evidence.bound_outcome([need] * len(slopes), slopes, certify=certify_slope,
                                                                   details={"search_min_kappa_slope": -v,
                                                                            "search_point": x.tolist()}),
             "eq126": evidence.bound_outcome(line, tstar, certify=certify_gap)}
    return evidence.combine(parts, "slope_at_least_1_over_kappa")
