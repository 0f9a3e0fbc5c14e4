"""[sot] Sec. 2 (the hypothesis class and its losses), Def. 3.2 (proper scoring) and Prop. 3.3."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

import kdtheory.theory.sot as tsot
from kdtheory.verify import evidence
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.sot._common import NORMS, mean_label_fractions, mp_risk, mp_score, norm_name, pnorm

# ---------------------------------------------------------------------------------------------
# Sec. 2: the codomain of the hypothesis class
# ---------------------------------------------------------------------------------------------


def _codomain_points(rng, K: int, y: int, codomain: str, n: int) -> np.ndarray:
    """Competitors of the claimed minimiser inside the codomain: random points, vertices, near misses
    and (for the cube) the all-ones vector."""
    e = np.eye(K)[y]
    pts = [np.eye(K)[k] for k in range(K) if k != y]
    if codomain == "cube":
        pts += [np.ones(K), e + 0.5 * (1 - e), *(rng.random((n, K)))]
        pts += [np.clip(e + t * rng.random(K), 0, 1) for t in 10.0 ** rng.uniform(-6, 0, n)]
    else:
        pts += list(rng.dirichlet(np.ones(K), n))
        pts += [(1 - t) * e + t * rng.dirichlet(np.ones(K)) for t in 10.0 ** rng.uniform(-6, 0, n)]
    return np.array([p for p in pts if np.max(np.abs(p - e)) > 0])


def _setting_check(run: Run, codomain: str, claimed) -> Outcome:
    """Is the claimed point the unique minimiser of l(., 1_y) over the codomain, for NLL and MSE?

    The float gaps come from :func:`scoring_loss`; the worst one, and every gap within the rounding of
    the two losses (IDENTITY tier relative to the larger loss), is decided at 50 digits."""
    import mpmath as mp

    rng = run.rng
    worst_gap, worst = np.inf, None
    near = []
    n_pts = 0
    for kind in ("nll", "brier"):
        for K in (2, 3, 5, 10):
            for y in range(min(K, 3)):
                e = np.eye(K)[y]
                c = claimed(y, K)
                pts = _codomain_points(rng, K, y, codomain, run.size(40, 400))
                n_pts += pts.shape[0]
                lc = float(tsot.scoring_loss(c, e, kind))
                lp = tsot.scoring_loss(pts, np.broadcast_to(e, pts.shape), kind)
                gaps = lp - lc
                rounding = evidence.IDENTITY.rtol() * np.maximum(1.0, np.maximum(abs(lc), np.abs(lp)))
                rec = lambda i: {"loss": kind, "K": K, "y": y, "codomain": codomain, "claimed": c.tolist(),
                                 "competitor": pts[i].tolist(), "loss_claimed": lc, "loss_competitor": float(lp[i])}
                near += [rec(int(i)) for i in np.flatnonzero(gaps <= rounding)]
                i = int(np.argmin(gaps))
                if gaps[i] < worst_gap:
                    worst_gap, worst = float(gaps[i]), rec(i)

    def side(w, point):
        def f():
            q = [mp.mpf(v) for v in point]
            return -mp.log(q[w["y"]]) if w["loss"] == "nll" else \
                sum((qk - (1 if k == w["y"] else 0)) ** 2 for k, qk in enumerate(q))
        return f

    certs = [evidence.certificate(side(w, w["competitor"]), side(w, w["claimed"]), ">",
                                  what=f"{w['loss']} loss of the competitor > loss of the claimed minimiser")
             for w in [worst] + near]
    failing = [cert for cert in certs if not cert["holds"]]
    details = {"competitors": n_pts, "worst_instance": worst, "min_gap": worst_gap, "tightness": worst_gap,
               "certified_instances": len(certs), "certificate": failing[0] if failing else certs[0]}
    return Outcome(holds=not failing, measured=worst_gap, reference=0.0, relation=">", tolerance=0.0,
                   details=details)


def _onehot(y: int, K: int) -> np.ndarray:
    return np.eye(K)[y]


def _uniform(y: int, K: int) -> np.ndarray:
    return np.full(K, 1.0 / K)


@claim("sot.setting", ref="Sec. 2, Eqs. (1)-(2)", kind="inequality", expected="erratum",
       statement="With f: X -> [0,1]^K and NLL or MSE, the ERM of Eq. (1) predicts f*(x) = 1_y on every (distinct) training input",
       recheck="""
import numpy as np
from kdtheory.theory.sot import scoring_loss
e = np.array([1.0, 0.0]); ones = np.ones(2); q = np.array([0.5, 0.5])
print("NLL(1_y, y) =", scoring_loss(e, e, "nll"), " NLL(all-ones, y) =", scoring_loss(ones, e, "nll"))
print("proper on the cube? NLL(all-ones, q) =", scoring_loss(ones, q, "nll"), "<", scoring_loss(q, q, "nll"), "= NLL(q, q)")
""")
def setting(run: Run) -> Outcome:
    """Claim: [sot, Sec. 2] the teacher is a map ``f: X -> [0, 1]^{|Y|}`` trained by the empirical risk of
    Eq. (1) with NLL or MSE, and "if the minimiser is attained, ``f*(x) = 1_y``" on every training
    input.

    Setting: for NLL and MSE (Brier), K in {2, 3, 5, 10} and labels y: competitors in the printed
    codomain ``[0, 1]^K``: the all-ones vector, the other vertices, random points of the cube and
    near misses ``1_y + t u`` (t from 1e-6 to 1); 40 per (loss, K, y) in quick mode, 400 in full.

    Check: ``1_y`` is the unique minimiser of ``l(., 1_y)`` over the codomain: every competitor's
    loss exceeds the loss at ``1_y`` (the smallest gap must be > 0; the smallest gap and every gap
    within the losses' rounding are decided at 50 digits). The headline certificate compares the
    values :func:`scoring_loss` returns (exact: ``-log 1 = 0``). Erratum: on the cube the NLL ``-log f(x)_y`` is 0 at the
    all-ones vector as at ``1_y``, so the minimiser is not ``1_y`` (it is any point with
    ``f_y = 1``), and the NLL is not proper there: ``NLL(1, q) = 0 < H(q) = NLL(q, q)``, the ERM on
    siblings returns the all-ones vector, not the mean label. The squared error is fine on the cube.

    Negative control: the claimed minimiser replaced by the uniform vector ``1/K``: fails.

    Positive control: the codomain replaced by the probability simplex (what the proofs use,
    Eq. (20)): ``1_y`` is the unique minimiser for both losses, holds.
    """
    codomain = "simplex" if run.positive else "cube"
    out = _setting_check(run, codomain, _uniform if run.control else _onehot)
    if out.holds or run.control or run.positive:
        return out
    d = dict(out.details)
    d["counterexample"] = {"codomain": "[0,1]^K", "loss": "nll", "K": 2, "y": 0, "prediction": [1.0, 1.0],
                           "nll_at_prediction": 0.0, "nll_at_1_y": 0.0,
                           "consequence": "NLL is not proper on the cube: NLL((1,1), (1/2,1/2)) = 0 < log 2 = NLL(q, q)"}
    # the public calculator's values are exact here: -1 * log(1.0) = -0.0 in IEEE arithmetic (log 1 = 0 exactly)
    e, ones, q = np.array([1.0, 0.0]), np.ones(2), np.array([0.5, 0.5])
    nll_ones = float(tsot.scoring_loss(ones, e, "nll"))
    nll_onehot = float(tsot.scoring_loss(e, e, "nll"))
    d["certificate"] = evidence.certificate(Fraction(nll_ones), Fraction(nll_onehot), ">",
                                            what="scoring_loss((1, 1), 1_0, 'nll') > scoring_loss(1_0, 1_0, 'nll') "
                                                 "(both exactly 0): false, 1_y is not the unique minimiser on [0,1]^2")
    nll_ones_q = float(tsot.scoring_loss(ones, q, "nll"))
    nll_q_q = float(tsot.scoring_loss(q, q, "nll"))
    d["not_proper_on_cube"] = evidence.certificate(
        Fraction(nll_ones_q), lambda: mp_score(q, q, "nll"), ">=",
        what=f"scoring_loss((1, 1), q, 'nll') = {nll_ones_q} >= NLL(q, q) = log 2 at 50 digits "
             f"(scoring_loss(q, q, 'nll') = {nll_q_q!r}) for q = (1/2, 1/2): false")
    return Outcome(holds=False, measured=out.measured, reference=out.reference, relation=out.relation,
                   tolerance=0.0, details=d, decided_by=out.decided_by)


@claim("sot.setting_corrected", ref="Sec. 2, Eqs. (1)-(2), corrected (codomain: the simplex)", kind="inequality",
       statement="With f: X -> simplex and NLL or MSE, the ERM of Eq. (1) predicts f*(x) = 1_y on every distinct training input")
def setting_corrected(run: Run) -> Outcome:
    """Claim: [sot, Sec. 2, corrected] with the codomain the probability simplex (as in the proofs,
    Eq. (20)), ``1_y`` is the unique minimiser of ``l(., 1_y)`` for NLL and MSE, so the ERM of
    Eq. (1) on distinct inputs predicts the one-hot labels.

    Setting: as ``sot.setting`` with competitors in the simplex: other vertices, Dirichlet points,
    near misses ``(1 - t) 1_y + t u`` with t down to 1e-6.

    Check: smallest loss gap over competitors > 0 (the smallest and every gap within the losses'
    rounding decided at 50 digits).

    Negative control: claimed minimiser ``1/K``: fails.
    """
    return _setting_check(run, "simplex", _uniform if run.control else _onehot)


# ---------------------------------------------------------------------------------------------
# Def. 3.2: NLL and the squared error are proper
# ---------------------------------------------------------------------------------------------


def _pairs(rng, n: int):
    out = []
    for _ in range(n):
        K = int(rng.integers(2, 8))
        q = rng.dirichlet(np.ones(K) * rng.choice([0.2, 1.0, 5.0]))
        if rng.random() < 0.3:
            q[rng.integers(K)] = 0.0
            q /= q.sum()
        kind = rng.integers(3)
        if kind == 0:
            p = rng.dirichlet(np.ones(K))
        elif kind == 1:
            p = (1 - 10 ** rng.uniform(-8, -1)) * q + 10 ** rng.uniform(-8, -1) * rng.dirichlet(np.ones(K))
            p /= p.sum()
        else:
            p = 0.5 * q + 0.5 * rng.dirichlet(np.ones(K) * 0.3)
        out.append((p, q))
    return out


@claim("sot.proper", ref="Def. 3.2", kind="identity",
       statement="NLL and the squared error (Brier) are proper: l(p, q) >= l(q, q) with equality only at p = q")
def proper(run: Run) -> Outcome:
    """Claim: [sot, Def. 3.2] NLL and MSE are proper scoring rules: ``l(p, q) >= l(q, q)`` for all
    distributions, with equality iff ``p = q``.

    Setting: random pairs (K = 2..7; q Dirichlet with concentration 0.2/1/5, a third with a zero
    entry; p random, within 1e-8..1e-1 of q, or half-way to a sparse point): 600 in quick mode,
    6000 in full; the minimiser over the simplex by SciPy on 6 of them (200).

    Check: (i) ``NLL(p, q) - NLL(q, q) = KL(q || p)`` and ``Brier(p, q) - Brier(q, q) = ||p - q||^2``
    at 50 digits on the same float inputs (the subtraction cancels catastrophically near ``p = q``:
    in floats a gap of 1e-16 between losses of size 1 has condition number 1e16, which let the old
    float check allow relative errors up to 2.8e-4; at 50 digits both sides are rounded once, EXACT
    tier), and :func:`scoring_loss` itself against its 50-digit value for each loss separately (EXACT
    tier, cond K for the NLL's K non-negative terms, K times the cancellation of
    ``||p||^2 - 2 p.q + 1`` for Brier); (ii) strictness: Pinsker
    ``||p - q||_1^2 / 2 <= KL(q || p)`` (bound, tightness reported) -- so the gap vanishes only at
    ``p = q``; (iii) SymPy :func:`derive_proper_scores` residuals are 0; (iv) the SciPy minimiser of
    ``l(., q)`` over the simplex has loss no smaller than at ``q`` (bound, ratio <= 1).

    Negative control: the improper linear score ``1 - p.q`` in (iv): a vertex beats q, fails.
    """
    from scipy.optimize import minimize

    rng = run.rng
    pairs = _pairs(rng, run.size(600, 6000))
    import mpmath as mp

    calc_l, calc_r, calc_c, gap_l, gap_r, pins_v, pins_b = [], [], [], [], [], [], []
    for p, q in pairs:
        m = q > 0
        kl = float(np.sum(q[m] * np.log(q[m] / p[m])))
        with mp.workdps(evidence.DPS):
            P = [mp.mpf(float(v)) for v in p]
            Q = [mp.mpf(float(v)) for v in q]
            kl_mp = sum(Q[k] * mp.log(Q[k] / P[k]) for k in range(q.size) if Q[k] > 0)
            sq_mp = sum((P[k] - Q[k]) ** 2 for k in range(q.size))
            for kind, gap_true in (("nll", kl_mp), ("brier", sq_mp)):
                # (a) the public calculator against its 50-digit value, each loss on its own (no subtraction)
                for a_, b_ in ((p, q), (q, q)):
                    calc_l.append(float(tsot.scoring_loss(a_, b_, kind)))
                    calc_r.append(float(mp_score(a_, b_, kind, normalise=False)))
                    # NLL: K non-negative terms, each log correct to an ulp (cond K); Brier = ||a||^2 - 2 a.b + 1
                    # cancels by the terms' abs-sum over the result
                    calc_c.append(float(q.size) if kind == "nll" else
                                  q.size * float(evidence.cancellation([a_ @ a_, -2 * a_ @ b_, 1.0])))
                # (b) the identity loss(p, q) - loss(q, q) = KL(q || p) resp. ||p - q||^2 at 50 digits on the same
                # float inputs: the subtraction is done there, so the cancellation near p = q costs nothing
                gap = mp_score(p, q, kind, normalise=False) - mp_score(q, q, kind, normalise=False)
                gap_l.append(float(gap))
                gap_r.append(float(gap_true))
        if float(np.sum(np.abs(p - q))) >= 1e-4:     # KL ~ ||p - q||^2 computed to relative 1e-8 or better
            pins_v.append(0.5 * float(np.sum(np.abs(p - q))) ** 2)
            pins_b.append(kl)
    # both sides of (b) are 50-digit numbers rounded once to float: EXACT tier, cond 1
    id_gap = evidence.identity_outcome(gap_l, gap_r, tier=evidence.EXACT,
                                       details={"precision": f"{evidence.DPS} digits, rounded once"})
    id_calc = evidence.identity_outcome(calc_l, calc_r, tier=evidence.EXACT, cond=np.array(calc_c))
    pinsker = evidence.bound_outcome(pins_v, pins_b)
    sym = tsot.derive_proper_scores()
    sym_ok = all(v == 0 for v in sym.values())
    symbolic = Outcome(holds=sym_ok, measured=0.0 if sym_ok else 1.0, reference=0.0, relation="==",
                       details={k: str(v) for k, v in sym.items()})
    kind_min = "linear" if run.control else None
    mins_v, mins_b, mins_inst = [], [], []
    for p, q in pairs[: run.size(6, 200)]:
        for kind in ((kind_min,) if kind_min else ("nll", "brier")):
            K = q.size
            f = lambda v, q=q, kind=kind: float(tsot.scoring_loss(np.clip(v, 1e-300, 1.0), q, kind))
            best = min((minimize(f, x0, method="SLSQP", bounds=[(1e-12, 1.0)] * K,
                                 constraints=[{"type": "eq", "fun": lambda v: np.array([v.sum() - 1.0])}],
                                 options={"ftol": 1e-15, "maxiter": 500}).x
                        for x0 in [np.full(K, 1.0 / K), np.eye(K)[int(np.argmax(q))] * 0.9 + 0.1 / K]), key=f)
            cand = min([best] + [np.eye(K)[k] for k in range(K)], key=f)
            mins_v.append(f(q))
            mins_b.append(max(f(cand), 1e-300))
            mins_inst.append((cand, q, kind))

    def certify_min(i):
        c, q, kind = mins_inst[i]
        return (lambda: mp_score(q, q, kind)), (lambda: mp_score(np.clip(c, 1e-300, 1.0), q, kind))

    minimiser = evidence.bound_outcome(mins_v, mins_b, certify=certify_min,
                                       details={"what": "loss at q over the best competitor's loss"})
    return evidence.combine({"minimiser": minimiser, "gap_is_kl_and_squared_distance": id_gap,
                             "calculator_at_50_digits": id_calc, "strict_pinsker": pinsker, "sympy": symbolic},
                            "gap_is_kl_and_squared_distance")


# ---------------------------------------------------------------------------------------------
# Prop. 3.3
# ---------------------------------------------------------------------------------------------

DELTAS = (1e-3, 0.01, 0.05, 0.1, 0.3, 0.5, 0.9, 0.99)


def tail_at(tf: dict, eps: float) -> float:
    """``P(D >= eps)`` from :func:`multinomial_tail_function` output (values decreasing)."""
    idx = np.flatnonzero(tf["values"] >= eps * (1 - 1e-12) - 1e-15)
    return float(tf["tail"][idx[-1]]) if idx.size else 0.0


def _majority_tail(q: np.ndarray, n: int, radius: float, p: float) -> float:
    """K = 2, n odd: P(||e_majority - q||_p >= radius) exactly (the l2-distance ERM is the majority vertex)."""
    from scipy.stats import binom

    k = np.arange(n + 1)
    pk = binom.pmf(k, n, q[0])
    err0 = float(pnorm(np.array([1.0, 0.0]) - q, p))
    err1 = float(pnorm(np.array([0.0, 1.0]) - q, p))
    err = np.where(k > n - k, err0, err1)
    return float(np.sum(pk[err >= radius * (1 - 1e-12)]))


def _prop33_check(run: Run, losses: tuple, radius_scale: float) -> Outcome:
    from kdtheory.numerics.sot import multinomial_tail_function, sibling_minimizer

    rng = run.rng
    # (a) probability statement, exactly: tails of the ERM's deviation at the radius of Eq. (3)
    values, bounds, info = [], [], []
    for K in (2, 3, 4):
        qs = [np.full(K, 1.0 / K)] + list(rng.dirichlet(np.ones(K), run.size(2, 6))) + \
             [np.array([0.8] + [0.2 / (K - 1)] * (K - 1))]
        for n in ((1, 2, 3, 5, 8, 13, 21) if K < 4 else (1, 3, 7, 12)):
            for q in qs:
                for p in NORMS:
                    tf = multinomial_tail_function(q, n, p)
                    for d in DELTAS:
                        rad = radius_scale * tsot.prop3_3_radius(n, K, d)
                        for kind in losses:
                            if kind == "l2_distance" and (K != 2 or n % 2 == 0):
                                continue
                            t = _majority_tail(q, n, rad, p) if kind == "l2_distance" else tail_at(tf, rad)
                            values.append(t)
                            bounds.append(d)
                            info.append((kind, K, n, q.tolist(), norm_name(p), d))
    for n in (101, 201, 401):      # the l2-distance ERM at larger n (the majority vote does not converge to q)
        q = np.array([0.7, 0.3])
        for d in DELTAS:
            for kind in losses:
                if kind == "l2_distance":
                    values.append(_majority_tail(q, n, radius_scale * tsot.prop3_3_radius(n, 2, d), math.inf))
                    bounds.append(d)
                    info.append((kind, 2, n, q.tolist(), "inf", d))
    prob = evidence.bound_outcome(values, bounds)
    w = prob.details["worst_index"]
    prob.details["worst_instance"] = {"loss": info[w][0], "K": info[w][1], "n": info[w][2], "q": info[w][3],
                                      "norm": info[w][4], "delta": info[w][5]}
    # (b) the proof step: the mean label minimises the empirical risk on the siblings
    mv, mb, minst = [], [], []
    for _ in range(run.size(5, 60)):
        K = int(rng.integers(2, 5))
        n = int(rng.integers(2, 12)) | 1
        y = rng.integers(0, K, n)
        if np.unique(y).size < 2:
            continue
        Y = np.eye(K)[y]
        ybar = Y.mean(axis=0)
        for kind in losses:
            f = sibling_minimizer(y, K, kind)
            risk = lambda v, kind=kind: float(np.mean(tsot.scoring_loss(np.broadcast_to(v, Y.shape), Y, kind)))
            mv.append(risk(ybar))
            mb.append(max(risk(f), 1e-300))
            minst.append((y, K, kind, ybar, np.clip(f, 1e-300, 1.0)))

    def certify_mean(i):
        y, K, kind, ybar, f = minst[i]
        exact_mean = mean_label_fractions(y, K)       # the exact minimiser, not its rounding
        return (lambda: mp_risk(exact_mean, y, K, kind)), (lambda: mp_risk(f, y, K, kind))

    minimiser = evidence.bound_outcome(mv, mb, certify=certify_mean,
                                       details={"what": "risk at the mean label / risk of the ERM"})
    return evidence.combine({"probability": prob, "mean_label_is_erm": minimiser}, "probability")


@claim("sot.prop3_3", ref="Prop. 3.3, Eq. (3), Def. 3.2", kind="probability", expected="erratum",
       statement="For any loss proper in the sense of Def. 3.2, the ERM on siblings is within sqrt(2K/|S| log(2/delta)) of p* w.p. >= 1-delta",
       recheck="""
import math
from kdtheory.theory.sot import prop3_3_radius
# l(p, q) = ||p - q||_2 satisfies Def. 3.2; on 201 siblings with p* = (0.7, 0.3) its ERM is the majority vertex
r = prop3_3_radius(201, 2, 0.05)
print("radius =", r, "< 0.3 = smallest possible max-norm error of a vertex: violated with probability 1 > 0.05")
""")
def prop3_3(run: Run) -> Outcome:
    """Claim: [sot, Prop. 3.3, Eq. (3)] for a loss proper in the sense of Def. 3.2 and a family constant
    on the siblings of x, the empirical risk minimiser on the siblings satisfies
    ``||f*(x) - p*(x)|| <= sqrt(2K / |S| log(2/delta))`` with probability ``>= 1 - delta``, any p-norm.

    Setting: losses satisfying Def. 3.2 as printed: NLL, Brier, and ``l(p, q) = ||p - q||_2`` (its
    ``l(p, q) >= l(q, q) = 0`` with equality only at ``p = q``); K = 2, 3, 4; |S| from 1 to 21 (and
    101/201/401 for K = 2); p* uniform, Dirichlet (2 per K in quick mode, 6 in full) and skewed
    (0.8, ...); norms 1, 2, inf; delta in {1e-3, .01, .05, .1, .3, .5, .9, .99}; the ERM on 5
    (60) random sibling sets by SciPy (:func:`sibling_minimizer`).

    Check: (i) exact violation probabilities (multinomial enumeration; for the l2-distance ERM,
    which is the majority vertex when K = 2 and |S| is odd, the binomial law of the majority) must
    not exceed delta (bound, worst ratio probability/delta <= 1); (ii) the proof step: the mean label
    minimises the sibling risk (risk at the mean over the ERM's risk <= 1). Erratum: Def. 3.2 does
    not require ``l(p, q)`` to be the expected score ``E_{y~q} l(p, 1_y)``; for ``||p - q||_2`` the
    ERM is the geometric median of the one-hot labels (majority vote for K = 2), whose error stays
    ``>= min(p*)`` for every |S|: at |S| = 201, p* = (0.7, 0.3), delta = 0.05 the radius is 0.271
    < 0.3 and the bound fails with probability 1.

    Negative control: the radius halved (all losses): fails.

    Positive control: the losses restricted to expected scores (NLL, Brier): holds.
    """
    losses = ("nll", "brier") if run.positive else ("nll", "brier", "l2_distance")
    out = _prop33_check(run, losses, 0.5 if run.control else 1.0)
    if out.holds or run.control or run.positive:
        return out
    import mpmath as mp

    d = dict(out.details)
    d["counterexample"] = {"loss": "||p - q||_2 (Def. 3.2-proper)", "K": 2, "siblings": 201, "p_star": [0.7, 0.3],
                           "delta": 0.05, "erm": "majority vertex", "norm": "inf",
                           "error_at_least": 0.3, "radius": tsot.prop3_3_radius(201, 2, 0.05),
                           "violation_probability": 1.0}
    d["certificate"] = evidence.certificate(Fraction(3, 10), lambda: mp.sqrt(mp.mpf(4) / 201 * mp.log(40)), "<=",
                                            what="smallest error of the l2-distance ERM (0.3) <= radius of Eq. (3)")
    return Outcome(holds=False, measured=out.measured, reference=out.reference, relation=out.relation,
                   tolerance=out.tolerance, details=d, decided_by=out.decided_by)


@claim("sot.prop3_3_corrected", ref="Prop. 3.3, Eq. (3), corrected (expected-score losses)", kind="probability",
       statement="For NLL or Brier (expected scores), the ERM on siblings is the mean label and lies within sqrt(2K/|S| log(2/delta)) of p* w.p. >= 1-delta")
def prop3_3_corrected(run: Run) -> Outcome:
    """Claim: [sot, Prop. 3.3, corrected] when ``l(p, q) = E_{y~q} l(p, 1_y)`` is a (strictly) proper
    scoring rule in the sense of Gneiting & Raftery (NLL, Brier), the sibling ERM is the mean label
    and Eq. (3) holds in every p-norm.

    Setting: as ``sot.prop3_3`` with NLL and Brier only.

    Check: exact violation probabilities <= delta (worst ratio reported as tightness); the mean
    label minimises the sibling risk.

    Negative control: radius halved: exact tails exceed delta (e.g. K = 2 at small delta), fails.
    """
    out = _prop33_check(run, ("nll", "brier"), 0.5 if run.control else 1.0)
    d = dict(out.details)
    d["vacuity_at_paper_scale"] = {f"K={K}": {"siblings_for_radius_below_1_at_delta_0.05": math.ceil(2 * K * math.log(40)),
                                              "radius_with_100_siblings": tsot.prop3_3_radius(100, K, 0.05)}
                                   for K in (100, 200)}
    return Outcome(holds=out.holds, measured=out.measured, reference=out.reference, relation=out.relation,
                   tolerance=out.tolerance, details=d, decided_by=out.decided_by)
