"""[air] The second stage and the end of the proof of Theorem 1: Lemma 8, the final proof, the width, Theorem 1.

Claims: ``air.lemma8``, ``air.theorem1_proof``, ``air.theorem1_width`` (each + corrected), ``air.theorem1``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

import kdtheory.theory.air as ta
from kdtheory.verify import evidence as ev
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.air._common import (NODES, SMOOTH, kernel_theorem_batch, kernel_theorem_instance, s_plus_basis,
                                         seed_of, sigma_min_on, theorem_outcome)

GAMMA = 1.0


# ---------------------------------------------------------------------------------------------
# Lemma 8
# ---------------------------------------------------------------------------------------------


def _pair_runs(rng, act: str, k: int = 256, steps: int = 120):
    """Algorithm 1 from one initialisation on the data X and on the centers X~ (the two runs of Lemma 8)."""
    from kdtheory.numerics.air import clusterable_data, init_network, train_network

    K = int(rng.integers(2, 4))
    c = clusterable_data(int(K * rng.integers(2, 5)), K, int(rng.integers(3, 6)), float(10 ** rng.uniform(-2, -0.5)),
                         0.2, seed=seed_of(rng))
    n = c.n
    W0, v = init_network(k, c.X.shape[1], seed=seed_of(rng))
    eta = ta.theorem1_step_size(GAMMA, n)
    a = np.linspace(1.0, 0.9, steps)
    gs = np.arange(0, steps, 10)
    rx = train_network(c.X, c.y_noisy, W0, v, activation=act, eta=eta, steps=steps, a_t=a, rho=0.2, gram_steps=gs)
    rc = train_network(c.X_centers, c.y_noisy, W0, v, activation=act, eta=eta, steps=steps, a_t=a, rho=0.2,
                       gram_steps=gs)
    lam_C = ta.ntk_lambda(c.centers, act, nodes=NODES)
    cons = ta.data_model_constants(c.X, c.centers, c.assignment, c.y_noisy, c.y_clean)
    alpha = math.sqrt(cons["c_low"] * n * lam_C / (8 * K))
    U = s_plus_basis(c.assignment)
    ratios_printed, ratios_nonexp = [], []
    for g, t in enumerate(gs):
        u = rx["outputs"][t] - rc["outputs"][t]
        G = rc["H_hat"][g]                                   # G~_t = J(W~_{t+1}, W~_t, X~) J(W~_t, X~)^T
        lhs = np.linalg.norm(u - eta * (G @ u))
        ratios_printed.append(lhs / ((1 - eta * alpha ** 2 / 2) * np.linalg.norm(u)))
        ratios_nonexp.append(lhs / np.linalg.norm(u))
    p0 = float(np.linalg.norm(rx["outputs"][0] - rc["outputs"][0]))
    return {"data": c, "W0": W0, "v": v, "eps": cons["eps"], "n": n, "K": K, "p0": p0, "alpha": alpha, "eta": eta,
            "printed_step": max(ratios_printed), "nonexpansion": max(ratios_nonexp), "act": act,
            "p0_bound": ta.lemma8_p0_bound(GAMMA, float(np.linalg.norm(W0, 2)), cons["eps"], n),
            "s_plus_share_of_u": float(np.linalg.norm(U.T @ (rx["outputs"][0] - rc["outputs"][0])) / max(p0, 1e-300))}


def _lemma8_headline(rng):
    """p_0 = ||f(W_0, X) - f(W_0, X~)|| > 0 = the printed bound at t = 0 (tanh, width 64), in 50 digits."""
    from kdtheory.numerics.air import clusterable_data, init_network, network_outputs

    c = clusterable_data(4, 2, 3, 0.05, 0.0, seed=seed_of(rng))
    W0, v = init_network(64, 3, seed=seed_of(rng))
    p0 = float(np.linalg.norm(network_outputs(W0, c.X, v, "tanh") - network_outputs(W0, c.X_centers, v, "tanh")))
    printed0, _ = ta.lemma8_bounds(0, 0.1, 2.0, 4.0, 3.0, 2.0, GAMMA, c.eps, c.n, 10)
    import mpmath as mp

    def exact():
        tot = mp.mpf(0)
        for x, xc in zip(c.X, c.X_centers):
            f = mp.fsum(mp.mpf(vr) * (mp.tanh(mp.fsum(mp.mpf(w) * mp.mpf(a) for w, a in zip(wr, x)))
                                      - mp.tanh(mp.fsum(mp.mpf(w) * mp.mpf(a) for w, a in zip(wr, xc))))
                        for wr, vr in zip(W0, v))
            tot += f * f
        return mp.sqrt(tot)

    cert = ev.certificate(exact, Fraction(0), "<=", what="p_0 = ||f(W_0, X) - f(W_0, X~)|| <= printed bound at t = 0 (= 0)")
    return {"p0": p0, "printed_bound_t0": printed0, "eps": c.eps, "n": c.n, "width": 64}, cert


def _eps_condition_gap():
    """Printed eps condition at its largest value: p_T2 bound = (1-2rho) Theta/(1+Theta), not (1-2rho)/4 (exact)."""
    rho, Theta = Fraction(1, 5), Fraction(3)
    c = ta.lemma8_conditions(0.01, 3.0, float(4 / (1 - 2 * rho)), float(Theta), 2.0, GAMMA, 9, 100, float(rho))
    exact = (1 - 2 * rho) * Theta / (1 + Theta)
    cert = ev.certificate(exact, (1 - 2 * rho) / 4, "<=", what="printed bound on p_T2 at eps = eps_max <= (1 - 2 rho)/4")
    return {"p_T2_at_eps_max": c["p_T2_at_eps_max"], "needed": c["p_needed"], "exact": str(exact)}, cert


@claim("air.lemma8", ref="Lemma 8", kind="inequality", expected="erratum",
       statement="For t <= T2: p_t <= 4 eta beta (2+L_h) Theta M Gamma eps sqrt(n) t and d_t <= 2 eta M Gamma Theta eps sqrt(n)(2 beta^2 (2+L_h)^2 T2 + 1) t",
       recheck="""
import numpy as np
from kdtheory.numerics.air import clusterable_data, init_network, network_outputs
from kdtheory.theory.air import lemma8_bounds, lemma8_conditions
c = clusterable_data(4, 2, 3, 0.05, 0.0, seed=1)
W0, v = init_network(64, 3, seed=2)
p0 = np.linalg.norm(network_outputs(W0, c.X, v, 'tanh') - network_outputs(W0, c.X_centers, v, 'tanh'))
print('p_0 =', p0, ' printed bound at t = 0:', lemma8_bounds(0, 0.1, 2.0, 4.0, 3.0, 2.0, 1.0, c.eps, c.n, 10)[0])
g = lemma8_conditions(0.01, 3.0, 20 / 3, 3.0, 2.0, 1.0, 9, 100, 0.2)
print('printed eps condition gives p_T2 <=', g['p_T2_at_eps_max'], ' the proof needs', g['p_needed'])
""")
def lemma8(run: Run) -> Outcome:
    """Claim: [air, Lemma 8] for the runs of Algorithm 1 on the data ``X`` and on its centers ``X~`` from one
    initialisation, under ``eps <= (1 - 2 rho)/(4 M eta beta (2 + L_h) Gamma sqrt(n) T2 (1 + Theta))`` and
    ``k >= 4 eta^2 Gamma^2 Theta^2 n (2 beta^2 (2 + L_h)^2 T2 + 1)^2 T2^2``, for all ``t <= T2``:
    ``p_t = ||f(W_t, X) - f(W~_t, X~)|| <= 4 eta beta (2 + L_h) Theta M Gamma eps sqrt(n) t`` and ``d_t = ||W_t - W~_t||_F
    <= 2 eta M Gamma Theta eps sqrt(n)(2 beta^2 (2 + L_h)^2 T2 + 1) t`` (:func:`lemma8_bounds`, :func:`lemma8_conditions`).

    Setting: 4 (12) pairs of finite-width runs (tanh/softplus, width 256, K = 2..3, 2..4 points per cluster,
    eps in [0.01, 0.3], 120 steps of Algorithm 1 at the theorem's step); headline: tanh, width 64, n = 4, eps = 0.05.

    Check, in this order: (a) ``p_0 <=`` the printed bound at ``t = 0``, which is 0; (b) the proof's step
    ``||(I - eta G~_t)(f_t - f~_t)|| <= (1 - eta alpha^2/2) p_t`` on the runs; (c) the printed eps condition gives
    ``p_T2 <= (1 - 2 rho)/4``, as the proof uses.  Erratum: (a) ``p_0 > 0`` whenever ``eps > 0`` (the two runs see
    different inputs from the start; certified in 50 digits); also (b) fails -- ``f_t - f~_t`` has a component
    orthogonal to S+ which ``I - eta G~_t`` leaves unchanged -- and (c) fails: the printed condition gives only
    ``(1 - 2 rho) Theta/(1 + Theta)`` (exact: 9/20 against 3/20 at rho = 1/5, Theta = 3).

    Negative control: the printed bound scaled by 1/2: fails as well.

    Positive control: the corrected statements -- ``p_0 <=`` :func:`lemma8_p0_bound`, non-expansion
    ``||(I - eta G~_t) u|| <= ||u||``, and :func:`lemma8_conditions_corrected` giving ``p_T2 <= (1 - 2 rho)/4``
    (equality at ``eps_max``, decided in 50 digits): holds.
    """
    rng = run.rng
    runs = [_pair_runs(rng, SMOOTH[i % 2]) for i in range(run.size(4, 12))]
    if run.positive:
        parts = {
            "p0": ev.bound_outcome([r["p0"] for r in runs], [r["p0_bound"] for r in runs]),
            "contraction_step": ev.bound_outcome([r["nonexpansion"] for r in runs], np.ones(len(runs))),
        }
        g = ta.lemma8_conditions_corrected(0.01, 0.5, 3.0, 20 / 3, 3.0, 2.0, GAMMA, 9, 20, 100, 0.2, 4.0)
        P, _ = ta.lemma8_bounds_corrected(100, 0.01, 0.5, 3.0, 20 / 3, 3.0, 2.0, GAMMA, g["eps_max"], 9, 20, 100,
                                          4.0 * g["eps_max"])

        def certify(i):
            import mpmath as mp
            e, a, b, lh, th, M, n, T1, T2 = (mp.mpf(x) for x in (0.01, 0.5, 3.0, 20 / 3, 3.0, 2.0, 9, 20, 100))
            E = (1 + e * a * a / 4) ** T1
            A1 = 4 * e * b * (2 + lh) * th * M * mp.sqrt(n)
            eps = (1 - 2 * mp.mpf(0.2)) / (4 * E * (4 + A1 * T2))
            return (lambda: E * (4 * eps + A1 * eps * T2)), (lambda: (1 - 2 * mp.mpf(0.2)) / 4)
        parts["eps_condition"] = ev.bound_outcome([P], [0.15], certify=certify)
    else:
        s = 0.5 if run.control else 1.0
        p0_max = max(r["p0"] for r in runs)
        parts = {
            "p0": Outcome(holds=bool(p0_max <= 0.0), measured=p0_max, reference=0.0, relation="<=",
                          details={"p0": [r["p0"] for r in runs], "printed_bound_at_0": s * 0.0}),
            "contraction_step": ev.bound_outcome([r["printed_step"] for r in runs], np.ones(len(runs))),
        }
        gap, cert_gap = _eps_condition_gap()
        parts["eps_condition"] = ev.bound_outcome([gap["p_T2_at_eps_max"]], [s * gap["needed"]],
                                                  details={"exact": gap["exact"], "certificate_gap": cert_gap})
    out = ev.combine(parts, "p0")
    head, cert = _lemma8_headline(rng)
    d = dict(out.details)
    d.update({"counterexample": head, "certificate": cert,
              "runs": [(r["act"], r["n"], r["K"], round(r["eps"], 4), r["p0"], round(r["s_plus_share_of_u"], 3))
                       for r in runs]})
    return Outcome(out.holds, out.measured, out.reference, out.relation, out.tolerance, d, out.decided_by)


def _worst_case_recursion(rng, control: bool):
    """Run Lemma 8's corrected recursions with equality at random admissible parameters; ratios to the closed forms."""
    vals, bnds = [], []
    for j in range(40):
        grow = j % 2 == 0      # half the points where the growth before T1 dominates (p_0 large, eta alpha^2 large)
        n, T1 = int(rng.integers(2, 50)), int(rng.integers(20, 100) if grow else rng.integers(0, 60))
        T2 = T1 + int(rng.integers(1, 200))
        Gm = float(rng.uniform(1, 2))
        beta = Gm * math.sqrt(n)
        eta = float(rng.uniform(0.5 if grow else 0.1, 1.0)) / (2 * beta ** 2)
        alpha = float(rng.uniform(0.5 if grow else 0.1, 1.0)) * beta
        rho = float(rng.uniform(0, 0.45))
        Lh, Theta, M = 4 / (1 - 2 * rho), float(rng.uniform(1, 10)) * math.sqrt(n), float(rng.uniform(1, 5))
        q = float(rng.uniform(0, 5)) * (10 ** rng.uniform(2, 4) if grow else 1.0)
        cond = ta.lemma8_conditions_corrected(eta, alpha, beta, Lh, Theta, M, Gm, n, T1, T2, rho, q)
        eps = cond["eps_max"] * float(rng.uniform(0.1, 1.0))
        k = cond["k_min"] * float(rng.uniform(1.0, 10.0))
        L = Gm * math.sqrt(n) / math.sqrt(k)
        p0 = q * eps
        p, d = p0, 0.0
        for t in range(T2):
            g = eta * alpha ** 2 / 4 if t < T1 else 0.0
            d_next = d + eta * (L * Theta * d + M * Gm * Theta * eps * math.sqrt(n) + beta * (1 + Lh) * p)
            p = (1 + g) * p + eta * beta * (Theta + (1 + Lh) * p) * (L * (3 * d + d_next) / 2 + 2 * M * Gm * eps * math.sqrt(n))
            d = d_next
            if t in (0, T1, T2 - 1) or rng.random() < 0.05:
                pb, db = ta.lemma8_bounds_corrected(t + 1, eta, 1e-300 if control else alpha, beta, Lh, Theta, M, Gm, eps,
                                                    n, T1, T2, p0)
                vals += [p, d]
                bnds += [pb, db]
    return vals, bnds


@claim("air.lemma8_corrected", ref="Lemma 8, corrected", kind="inequality",
       statement="p_t <= (1+eta alpha^2/4)^min(t,T1) (p_0 + A t), d_t <= eta(2 M Gamma Theta eps sqrt n + beta(1+L_h) P) t under the corrected eps and k conditions; p_0 <= Gamma ||W_0|| eps sqrt(n)")
def lemma8_corrected(run: Run) -> Outcome:
    """Claim: [air, Lemma 8, corrected] with ``E_t = (1 + eta alpha^2/4)^min(t, T1)`` (the label term before ``T1`` is
    not absorbed: ``I - eta G~_t`` only contracts on S+), ``A = 4 eta beta (2 + L_h) Theta M Gamma eps sqrt(n)`` and
    ``P = E_T2 (p_0 + A T2)``: for ``t <= T2``, ``p_t <= E_t (p_0 + A t)`` and ``d_t <= eta (2 M Gamma Theta eps sqrt(n)
    + beta (1 + L_h) P) t`` (:func:`lemma8_bounds_corrected`), provided ``eps <= eps_max`` and ``k >= k_min`` of
    :func:`lemma8_conditions_corrected` (which make ``P <= (1 - 2 rho)/4`` and ``L d_T2 <= M Gamma eps sqrt(n)``);
    ``p_0 <= Gamma ||W_0|| eps sqrt(n)`` (:func:`lemma8_p0_bound`); and the steps the proof needs: non-expansion of
    ``I - eta G~_t`` on R^n, SymPy identities of the induction.

    Setting: (i) the proof's recursions run with equality (their worst case) at 40 random admissible parameter
    points (n = 2..49, T1 = 0..99, T2 - T1 = 1..199, rho < 0.45, eps up to eps_max, k from k_min to 10 k_min; half
    with ``p_0 / eps`` up to 5e4 and ``eta alpha^2`` near 1/2, where the growth before T1 dominates), the
    closed forms evaluated at ~10 times per point; (ii) 4 (12) pairs of finite-width runs as in ``air.lemma8``;
    (iii) SymPy ``derive_lemma8`` at 50 random points.

    Check: worst ratios recursion/closed form ``<= 1``; ``p_0 / lemma8_p0_bound <= 1``; ``||(I - eta G~_t) u|| /
    ||u|| <= 1`` on the runs; the SymPy induction residuals (``growth_corrected``, ``d_step`` at ``eta <= 1``) ``>= 0``.

    Negative control: the closed form without the growth factor (``alpha -> 0``, ``E_t = 1``): the recursion
    exceeds it, must fail.
    """
    rng = run.rng
    vals, bnds = _worst_case_recursion(rng, run.control)
    runs = [_pair_runs(rng, SMOOTH[i % 2]) for i in range(run.size(4, 12))]
    sym = ta.derive_lemma8()
    import sympy as sp

    syms = sym["symbols"]
    eta, beta, Lh, Th, M, G, eps, n, T2, t, rho, k, p0, A, g = syms
    fg = sp.lambdify([A, g, t], sym["growth_corrected"])
    fd = sp.lambdify([eta, beta, Lh, Th, M, G, eps, n, T2], sym["d_step"])
    sym_min = min(min(fg(rng.uniform(0, 5), rng.uniform(0, 1), rng.integers(0, 100)) for _ in range(50)),
                  min(fd(rng.uniform(0, 1), rng.uniform(1, 9), rng.uniform(4, 40), rng.uniform(1, 9), rng.uniform(1, 5),
                         rng.uniform(1, 2), rng.uniform(0, 1), rng.uniform(1, 50), rng.uniform(1, 500)) for _ in range(50)))
    parts = {
        "closed_form_dominates_recursion": ev.bound_outcome(vals, bnds),
        "p0": ev.bound_outcome([r["p0"] for r in runs], [r["p0_bound"] for r in runs]),
        "nonexpansion": ev.bound_outcome([r["nonexpansion"] for r in runs], np.ones(len(runs))),
        "sympy_induction": Outcome(holds=bool(sym_min >= 0), measured=float(sym_min), reference=0.0, relation=">=",
                                   details={"growth_corrected": str(sym["growth_corrected"]), "d_step": str(sym["d_step"]),
                                            "eps_ratio_printed_over_needed": str(sym["eps_ratio_printed_over_needed"])}),
    }
    return ev.combine(parts, "closed_form_dominates_recursion")


# ---------------------------------------------------------------------------------------------
# The final proof: the Jacobian lower bound on the data, the induction after T2
# ---------------------------------------------------------------------------------------------


def _jacobian_sets(run: Run, rng):
    from kdtheory.numerics.air import clusterable_data

    sets = []
    for i in range(run.size(3, 8)):
        K = int(rng.integers(1, 3))
        for _ in range(50):
            c = clusterable_data(int(K * 3), K, 4, float(rng.uniform(0.3, 0.8)), 0.0, seed=seed_of(rng))
            lam_X = ta.ntk_lambda(c.X, "tanh", nodes=NODES)
            if lam_X > 5e-3:
                break
        sets.append((c, lam_X, ta.ntk_lambda(c.centers, "tanh", nodes=NODES)))
    return sets


def _jacobian_probability(run: Run, rng, lower_bound, scale: float = 1.0):
    from kdtheory.numerics.air import init_network, jacobian_gram

    delta = 0.2
    worst, per = None, []
    for c, lam_X, lam_C in _jacobian_sets(run, rng):
        n, K = c.n, c.K
        cons = ta.data_model_constants(c.X, c.centers, c.assignment, c.y_noisy, c.y_clean)
        Lam = min(lam_X, lam_C)
        k = int(2 * math.ceil(20 * GAMMA ** 2 * n * math.log(4 * n / delta) / Lam / 2))
        lb = scale * lower_bound(n, K, cons["c_low"], lam_C, lam_X)
        viol, draws = 0, run.size(15, 100)
        for _ in range(draws):
            W, v = init_network(k, 4, seed=seed_of(rng))
            viol += sigma_min_on(jacobian_gram(W, c.X, v, "tanh"), gram=True) < lb
        o = ev.probability_outcome(viol, draws, delta / 4)
        per.append((n, K, round(cons["eps"], 3), lam_X, lb, k, viol, draws))
        if worst is None or o.measured > worst.measured:
            worst = o
    return Outcome(worst.holds, worst.measured, worst.reference, worst.relation, details={**worst.details, "per_set": per})


def _theorem_proof_headline(rng):
    """sigma_min(J(W_0, X)) <= ||J^T (e_i - e_j)|| / sqrt(2) for two points of one cluster, against 2 alpha (50 digits)."""
    from kdtheory.numerics.air import clusterable_data, init_network, jacobian

    c = clusterable_data(6, 2, 3, 0.01, 0.0, seed=seed_of(rng))
    W, v = init_network(64, 3, seed=seed_of(rng))
    J = jacobian(W, c.X, v, "tanh")
    lam_C = ta.ntk_lambda(c.centers, "tanh", nodes=NODES)
    cons = ta.data_model_constants(c.X, c.centers, c.assignment, c.y_noisy, c.y_clean)
    lb = ta.jacobian_lower_bound(c.n, c.K, cons["c_low"], lam_C)
    i, j = np.flatnonzero(c.assignment == 0)[:2]
    import mpmath as mp

    def upper():
        s = mp.mpf(0)
        for r in range(W.shape[0]):
            ai = mp.fsum(mp.mpf(w) * mp.mpf(x) for w, x in zip(W[r], c.X[i]))
            aj = mp.fsum(mp.mpf(w) * mp.mpf(x) for w, x in zip(W[r], c.X[j]))
            di, dj = 1 - mp.tanh(ai) ** 2, 1 - mp.tanh(aj) ** 2
            for col in range(3):
                s += (mp.mpf(v[r]) * (di * mp.mpf(c.X[i][col]) - dj * mp.mpf(c.X[j][col]))) ** 2
        return mp.sqrt(s / 2)

    cert = ev.certificate(upper, lambda: mp.sqrt(mp.mpf(cons["c_low"]) * c.n * mp.mpf(lam_C) / (2 * c.K)), ">=",
                          what="sigma_min(J(W_0, X)) >= 2 alpha = sqrt(c_low n lambda(C)/(2K)); left: an upper bound on sigma_min")
    return {"upper_bound_on_sigma_min": float(np.linalg.norm(J[i] - J[j]) / math.sqrt(2)), "two_alpha": lb,
            "eps": cons["eps"], "lambda_X": ta.ntk_lambda(c.X, "tanh", nodes=NODES),
            "why": "two points of one cluster have Jacobian rows O(eps) apart, for every W_0 and width"}, cert


def _post_t2_contraction(run: Run, alpha_of):
    """Ratios ||(I - eta H) r_s|| / ((1 - eta alpha^2/2) ||r_s||) after T2 in the kernel regime (H = Sigma(X))."""
    from kdtheory.numerics.air import kernel_self_distillation

    ratios, invariant, skipped = [], [], 0
    for inst in kernel_theorem_batch(run.seed, run.quick, run.size(6, 30)):
        a_post = inst["a"][inst["T2"]:]
        a_post = np.concatenate([a_post, np.zeros(200)])
        res = kernel_self_distillation(inst["H"], inst["y"], inst["run"]["outputs"][-1], a_post, rho=inst["rho"],
                                       eta=inst["eta"])
        r = res["outputs"][:-1] - res["labels"]
        Sr = r @ res["step_matrix"].T
        alpha = alpha_of(inst)
        n = inst["n"]
        slack = 1 + 64 * n * ev.EPS          # rounding of one step of the recursion
        ratios.append(float(np.max(np.linalg.norm(Sr, axis=1) / ((1 - inst["eta"] * alpha ** 2 / 2) * slack
                                                                  * np.linalg.norm(r, axis=1)))))
        base = (1 - 2 * inst["rho"]) / 2 + 1 / 24        # what Lemmas 6 and 8 deliver at T2 (the induction's start)
        if np.linalg.norm(r[0]) <= base:
            invariant.append(float(np.max(np.linalg.norm(r, axis=1)) / (5 / 8 * (1 - 2 * inst["rho"]) + 1 / 24)))
        else:
            skipped += 1
    return ratios, invariant, skipped


@claim("air.theorem1_proof", ref="Thm. 1, final proof (Jacobian bound, induction after T2)", kind="probability",
       expected="erratum",
       statement="For k >= 20 Gamma^2 n log(4n/delta)/Lambda, sigma_min(J(W0, X)) >= 2 alpha = sqrt(c_low n lambda(C)/(2K)) w.p. 1 - delta/4; after T2 ||r_{s+1}|| <= (1 - eta alpha^2/2)||r_s|| + C2",
       recheck="""
import numpy as np
from kdtheory.numerics.air import clusterable_data, init_network, jacobian
from kdtheory.theory.air import ntk_lambda, data_model_constants, jacobian_lower_bound
c = clusterable_data(6, 2, 3, 0.01, 0.0, seed=3)
W, v = init_network(64, 3, seed=4)
J = jacobian(W, c.X, v, 'tanh')
i, j = np.flatnonzero(c.assignment == 0)[:2]
cons = data_model_constants(c.X, c.centers, c.assignment, c.y_noisy, c.y_clean)
print('sigma_min(J(W0, X)) <=', np.linalg.norm(J[i] - J[j]) / np.sqrt(2))
print('printed lower bound 2 alpha =', jacobian_lower_bound(c.n, c.K, cons['c_low'], ntk_lambda(c.centers, 'tanh')))
""")
def theorem1_proof(run: Run) -> Outcome:
    """Claim: [air, final proof of Thm. 1] "by Lemma 1 and Lemma 2, for ``k >= 20 Gamma^2 n log(4n/delta)/Lambda``, with
    probability ``1 - delta/2``, ``sigma_min(J(W_0, X)), sigma_min(J(W_0, X~), S+) >= 2 alpha``" with
    ``alpha = sqrt(c_low n lambda(C)/(8K))`` (:func:`jacobian_lower_bound`), used after ``T2`` for the contraction
    ``||r_{s+1}|| <= (1 - eta alpha^2/2) ||r_s|| + C_2`` of the full residual on the data ``X``.

    Setting: tanh; 3 (8) clusterable sets (K = 1..2, 3 points per cluster, eps in [0.3, 0.8] so that the stated
    width, with ``Lambda = min(lambda(C), lambda(X))``, is a few 10^4), 20 (100) draws of ``W_0`` at that width,
    delta = 0.2 (``delta/4`` for this event); the post-T2 contraction on 6 (30) kernel-regime runs of Algorithm 1
    (``air.theorem1``'s instances) continued 200 steps beyond ``T2``.

    Check: violation counts of ``sigma_min(J(W_0, X)) >= 2 alpha`` against ``delta/4`` (Clopper-Pearson, worst set).
    Erratum: two points of one cluster have Jacobian rows ``O(eps)`` apart for every ``W_0`` and width, so
    ``sigma_min(J(W_0, X)) <= sqrt(2) Gamma eps (||W_0||/sqrt(k) + 1)``, far below ``2 alpha`` (which does not depend
    on eps); Lemma 1 gives only ``sqrt(lambda(X)/2)``.  Headline (certified in 50 digits): eps = 0.01, width 64.
    The contraction after T2 with the cluster-level ``alpha`` fails for the same reason (details).

    Negative control: the bound doubled: fails as well.

    Positive control: the bound Lemma 1 gives, ``sqrt(lambda(X)/2)`` (:func:`jacobian_lower_bound` with ``lam_X``): holds.
    """
    rng = run.rng
    if run.positive:
        lb = lambda n, K, c, lC, lX: ta.jacobian_lower_bound(n, K, c, lC, lX)
    else:
        lb = lambda n, K, c, lC, lX: ta.jacobian_lower_bound(n, K, c, lC)
    prob = _jacobian_probability(run, rng, lb, 2.0 if run.control else 1.0)
    ratios, inv, _ = _post_t2_contraction(run, lambda inst: math.sqrt(inst["cons"]["c_low"] * inst["n"] * inst["lam_C"]
                                                                       / (8 * inst["K"])))
    head, cert = _theorem_proof_headline(rng)
    d = dict(prob.details)
    d.update({"counterexample": head, "certificate": cert,
              "post_T2_contraction_with_cluster_alpha": {"worst_ratio": max(ratios), "fails": bool(max(ratios) > 1)},
              "post_T2_invariant_ratio": max(inv, default=0.0)})
    return Outcome(prob.holds, prob.measured, prob.reference, prob.relation, prob.tolerance, d)


@claim("air.theorem1_proof_corrected", ref="Thm. 1, final proof, corrected", kind="probability",
       statement="sigma_min(J(W0, X)) >= sqrt(lambda(X)/2) w.p. 1 - delta/4 at k >= 20 Gamma^2 n log(4n/delta)/lambda(X); after T2 the contraction holds with alpha_X^2 = lambda(X)/8 and ||r_s|| <= 5/8 (1-2rho) + 1/24")
def theorem1_proof_corrected(run: Run) -> Outcome:
    """Claim: [air, final proof, corrected] on the data ``X`` the Jacobian bound available is Lemma 1's:
    ``sigma_min(J(W_0, X)) >= sqrt(lambda(X)/2)`` with probability ``>= 1 - delta/4`` for
    ``k >= 20 Gamma^2 n log(4n/delta)/lambda(X)``; with ``alpha_X = sqrt(lambda(X)/8)`` (half of it, as ``alpha`` is half
    of Lemma 2's bound) the induction after ``T2`` goes through: ``||(I - eta H) r_s|| <= (1 - eta alpha_X^2/2) ||r_s||``
    and ``||r_s|| <= (5/8)(1 - 2 rho) + 1/24``; its slow-decay condition becomes
    ``max_{s >= T2} 2 sqrt(n)(a_s - a_{s+1}) <= lambda(X)(1 - 2 rho)/(512 Gamma^2 n)``.

    Setting: as ``air.theorem1_proof``.

    Check: Clopper-Pearson of the violation counts against ``delta/4`` (worst set); worst contraction ratio (with the
    rounding of one step, factor ``1 + 64 n eps``) after ``T2`` on the kernel-regime runs ``<= 1``; the invariant on the
    runs that start the induction (``||r_T2|| <= (1 - 2 rho)/2 + 1/24``, what Lemmas 6 and 8 deliver; runs with eps
    above Lemma 8's condition may not) ``<= 1``.

    Negative control: the Jacobian bound doubled: must fail.
    """
    rng = run.rng
    prob = _jacobian_probability(run, rng, lambda n, K, c, lC, lX: ta.jacobian_lower_bound(n, K, c, lC, lX),
                                 2.0 if run.control else 1.0)
    ratios, inv, skipped = _post_t2_contraction(run, lambda inst: math.sqrt(max(inst["lam_X"], 0.0) / 8))
    parts = {"jacobian_probability": prob,
             "post_T2_contraction": ev.bound_outcome(ratios, np.ones(len(ratios)))}
    if inv:
        parts["post_T2_invariant"] = ev.bound_outcome(inv, np.ones(len(inv)), details={
            "runs_without_the_base_case": skipped,
            "note": "runs whose ||r_T2|| exceeds (1-2rho)/2 + 1/24 (eps above Lemma 8's condition) are not instances"})
    return ev.combine(parts, "jacobian_probability")


# ---------------------------------------------------------------------------------------------
# The width requirement
# ---------------------------------------------------------------------------------------------

_BASE = {"n": 20, "K": 2, "T2": 1000, "rho": 0.2, "delta": 0.1, "Lam": 0.01, "c_low": 1.0}
_SWEEPS = {"rho": 0.5 - 2.0 ** -np.arange(3, 16), "n": 2.0 ** np.arange(2, 14), "T2": 2.0 ** np.arange(4, 22),
           "Lam": 2.0 ** -np.arange(1, 34), "delta": 2.0 ** -np.arange(2, 40), "K": np.array([1.0, 2, 3, 4, 6, 8, 12, 16, 20]),
           "c_low": 2.0 ** -np.arange(0, 24)}
_GROWTH = 0.1  # a fitted slope above 0.1 (after 4 standard errors) is growth: a missing power of the parameter


def _width_ratio(var: str, vals, reference) -> np.ndarray:
    out = []
    for val in vals:
        p = dict(_BASE)
        p[var] = int(val) if var in ("n", "K", "T2") else float(val)
        need = ta.width_requirement_proof(p["n"], p["K"], 5, p["T2"], p["rho"], p["delta"], p["Lam"], max(p["Lam"], 0.3),
                                          p["c_low"])["max"]
        out.append(need / reference(p["n"], p["K"], p["T2"], p["rho"], p["delta"], p["Lam"], p["c_low"]))
    return np.array(out)


def _width_slopes(reference, variables) -> dict:
    parts = {}
    for var in variables:
        vals = _SWEEPS[var]
        r = _width_ratio(var, vals, reference)
        x = 1 / (1 - 2 * vals) if var == "rho" else (1 / vals if var in ("Lam", "delta", "c_low") else vals)
        tail = slice(len(vals) // 2, None)
        s, se = ev.loglog_slope(x[tail], r[tail])
        if not math.isfinite(se):     # an exactly constant ratio: slope 0, no scatter
            s, se = 0.0, 0.0
        parts[var] = Outcome(holds=bool(s - 4 * se <= _GROWTH), measured=s - 4 * se, reference=_GROWTH, relation="<=",
                             details={"slope": s, "se": se, "ratio_needed_over_stated_tail": r[tail],
                                      "parameter": "1/(1-2rho)" if var == "rho" else (f"1/{var}" if var in
                                                                                     ("Lam", "delta", "c_low") else var)})
    return parts


_LIMIT: dict = {}


def _width_limit():
    """SymPy: ``lim_{u -> 0+} u^2 * lemma8_width(u) / stated(u)`` at the base point (u = 1 - 2 rho); cached."""
    if "L" not in _LIMIT:
        sym = ta.derive_final_proof()
        import sympy as sp

        G, n, T2, rho, Th, K, c, lam, M, u = sym["symbols"]
        p = _BASE
        Theta = (ta.HOEFFDING_C3 * math.sqrt(math.log(8 / p["delta"])) + 1) * math.sqrt(p["n"])
        # leading coefficient of u^-4 in the width (derive_final_proof: the pole order is 4) = lim u^4 width
        lead = sym["rho_exponent"][4].subs({G: 1, n: p["n"], T2: p["T2"], Th: sp.Float(Theta, 30)})
        _LIMIT["L"] = (sp.nsimplify(lead) * 1 / (p["n"] ** 3 * sp.Integer(p["T2"]) ** 4 *
                                                  sp.log(1 / sp.Float(p["delta"], 30))), sym, p)
    return _LIMIT["L"]


@claim("air.theorem1_width", ref="Thm. 1 (width), final proof Eqs. (19)-(25)", kind="rate", expected="erratum",
       statement="k = Omega(max(K^3/(c^3 Lambda^3) log(1/delta), nKT2/(c Lambda) log(1/delta), n^3 T2^4/(1-2rho)^2 log(1/delta), n/Lambda log(n/delta))) covers the proof's width conditions",
       recheck="""
from kdtheory.theory.air import width_requirement_proof, width_requirement_stated
for rho in (0.4, 0.49, 0.499, 0.4999):
    need = width_requirement_proof(20, 2, 5, 1000, rho, 0.1, 0.01, 0.3, 1.0)['lemma8']
    print(rho, 'needed / stated =', need / width_requirement_stated(20, 2, 1000, rho, 0.1, 0.01, 1.0))
""")
def theorem1_width(run: Run) -> Outcome:
    """Claim: [air, Thm. 1] the width ``k = Omega(max(K^3/(c_low^3 Lambda^3) log(1/delta), n K T2/(c_low Lambda)
    log(1/delta), n^3 T2^4/(1 - 2 rho)^2 log(1/delta), n/Lambda log(n/delta)))`` (:func:`width_requirement_stated`)
    suffices for every explicit width condition of the proof (:func:`width_requirement_proof`: Lemmas 1-2 at
    delta/4, the step-size condition, Lemma 8's condition, the path-length condition with Eqs. (19)-(25), the M
    condition), up to a constant.

    Setting: sweeps from n = 20, K = 2, T2 = 1000, rho = 0.2, delta = 0.1, Lambda = 0.01, c_low = 1 along each
    parameter: ``1 - 2 rho`` down to 2^-15, n up to 2^13, T2 up to 2^21, Lambda down to 2^-33, delta down to 2^-39,
    K up to 16, c_low down to 2^-23; ratio needed/stated on the far half of each sweep.

    Check: least-squares slope of log(needed/stated) against the log of the parameter (``1/(1 - 2 rho)``, n, T2,
    ``1/Lambda``, ...) with standard error; a slope with ``slope - 4 se > 0.1`` is growth: no constant covers it.
    Erratum: along ``1 - 2 rho -> 0`` the slope is 2 -- Lemma 8's condition at ``eta = 1/(2 Gamma^2 n)`` is
    ``Theta(n^2 T2^4 log(1/delta)/(1 - 2 rho)^4)`` (the printed simplification squares ``(2 + L_h)^2`` into
    ``(1 - 2 rho)^-2``); certified by SymPy: ``lim (1-2rho)^2 * needed/stated`` is a positive number (50 digits).

    Negative control: the stated expression multiplied by 10: fails as well.

    Positive control: the corrected expression (:func:`width_requirement_corrected`): holds.
    """
    if run.positive:
        ref = ta.width_requirement_corrected
    else:
        s = 10.0 if run.control else 1.0
        ref = lambda *a: s * ta.width_requirement_stated(*a)
    parts = _width_slopes(ref, ("rho", "n", "T2", "Lam", "delta", "K", "c_low"))
    out = ev.combine(parts, "rho")
    L, sym, p = _width_limit()
    import mpmath as mp
    import sympy as sp

    cert = ev.certificate(lambda: mp.mpf(str(sp.N(L, 60))), Fraction(0), "<=",
                          what="lim_{1-2rho -> 0} (1-2rho)^2 needed/stated (bounded ratio would need this <= 0)")
    d = dict(out.details)
    d.update({"counterexample": {"limit": str(sp.N(L, 20)), "base": p,
                                 "lemma8_width": str(sym["lemma8_width"]),
                                 "printed_simplification": str(sym["printed_simplification"]),
                                 "inherited": "the path term also inherits air.theorem1_proof (alpha on X needs lambda(X))"},
              "certificate": cert})
    return Outcome(out.holds, out.measured, out.reference, out.relation, out.tolerance, d, out.decided_by)


@claim("air.theorem1_width_corrected", ref="Thm. 1 (width), corrected", kind="rate",
       statement="k = Omega(max(K^3/(c^3 Lambda^3) log(1/delta), nKT2^2/(c Lambda), n^2 T2^4/(1-2rho)^4 log(1/delta), n/Lambda log(n/delta))) covers the proof's width conditions")
def theorem1_width_corrected(run: Run) -> Outcome:
    """Claim: [air, Thm. 1, corrected] :func:`width_requirement_corrected`,
    ``max(K^3/(c_low^3 Lambda^3) log(1/delta), n K T2^2/(c_low Lambda), n^2 T2^4/(1 - 2 rho)^4 log(1/delta),
    n/Lambda log(n/delta))``, bounds every explicit width condition of the proof (:func:`width_requirement_proof`) up
    to a constant: along every parameter direction the ratio needed/corrected stays bounded.

    Setting: the sweeps of ``air.theorem1_width``.

    Check: slope of log(needed/corrected) on the far half of each sweep, ``slope - 4 se <= 0.1`` in every direction.

    Negative control: the corrected expression with the printed ``(1 - 2 rho)^-2`` (i.e. the stated one): must fail.
    """
    ref = ta.width_requirement_stated if run.control else ta.width_requirement_corrected
    return ev.combine(_width_slopes(ref, ("rho", "n", "T2", "Lam", "delta", "K", "c_low")), "rho")


# ---------------------------------------------------------------------------------------------
# Theorem 1
# ---------------------------------------------------------------------------------------------


@claim("air.theorem1", ref="Theorem 1", kind="probability",
       statement="With probability 1 - delta, Algorithm 1 with the slow-decay schedule converges in l2 to the clean labels: lim ||f(W_t, X) - y~|| = 0")
def theorem1(run: Run) -> Outcome:
    """Claim: [air, Theorem 1] for (eps, rho)-clusterable data, a smooth activation (``Gamma = 1``), ``eta = 1/(2 Gamma^2 n)``,
    the label function ``h`` and mixing weights decreasing to 0 under the slow-decay conditions, with probability
    ``>= 1 - delta`` over the initialisation, ``lim_t ||f(W_t, X) - y~|| = 0`` -- checked in the regime the width
    condition drives to: infinite width, where the network is its linearisation with ``H = Sigma(X)``
    (finite widths of the size the theorem asks for, ``Omega(n^3 T2^4 ...)`` with ``T2 ~ 10^5``, are out of reach).

    Setting: 8 (40) draws: tanh and softplus; n = 6..14, K = 1..3 (centers with ``lambda(C) >= 0.05``), rho in
    [0, 0.35], eps in [0.003, 0.03]; initial outputs from their exact law (:func:`initial_output_covariance`);
    ``T1`` of the theorem; the fastest schedule the conditions allow (``a_t = 1`` to ``T1``, then the admissible
    decay to ``T2``); delta = 0.1.  The run to ``T2`` is simulated exactly (``kernel_self_distillation``); beyond
    ``T2`` convergence is certified from the state: with ``e = f - y~``, ``w = y - y~`` and eigenbasis ``V`` of
    ``H``, ``B^2 = sum_j max((V^T e)_j^2, a_T2^2 (V^T w)_j^2) <= (1 - (1 - 2 rho)/4)^2`` implies ``h(f_s) = y~`` for
    all later ``s`` and ``f_s -> y~`` for every schedule decreasing to 0 from ``a_T2`` (``H`` positive definite).

    Check: every schedule satisfies Theorem 1's conditions (:func:`schedule_conditions`, ``T2`` by :func:`t2_index`);
    violations (no certificate at ``T2``) against delta by Clopper-Pearson.

    Negative control: most labels of cluster 0 flipped (``rho_0 > 1/2``): the limit is the wrong label there,
    every draw violates, must fail.
    """
    delta = 0.1
    if run.control:
        rng = run.rng
        insts = [kernel_theorem_instance(rng, SMOOTH[i % 2], flip_majority=True) for i in range(run.size(8, 40))]
    else:
        insts = kernel_theorem_batch(run.seed, run.quick, run.size(8, 40))
    outs = [theorem_outcome(i) for i in insts]
    viol = sum(not o["converges"] for o in outs)
    hyp = [i["schedule_conditions"]["all"] for i in insts]
    if not all(hyp):      # every draw must be an instance of the theorem (schedule conditions of Theorem 1)
        return Outcome(holds=False, measured=float(len(hyp) - sum(hyp)), reference=0.0, relation="==",
                       details={"schedule_conditions_violated": len(hyp) - sum(hyp)}, decided_by="hypotheses")
    return ev.probability_outcome(viol, len(outs), delta, details={
        "runs": [(i["activation"], i["n"], i["K"], round(i["rho"], 3), round(i["eps"], 4), i["T1"], i["T2"],
                  round(o["B"], 4), round(o["limit"], 4), o["lam_X"]) for i, o in zip(insts, outs)],
        "regime": "infinite width (linearised dynamics on Sigma(X)); post-T2 limit certified"})
