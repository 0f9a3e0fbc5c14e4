"""Claims of "Knowledge Distillation Performs Partial Variance Reduction" [kd].

Least squares ``f_i(x) = 1/2 (a_i^T x - b_i)^2`` (uniform single-sample ``xi``) is the test bed on
which every quantity has a closed form; the exact moment engine of :mod:`numerics.kd` gives
``E||x^t - x*||^2`` and ``E f(x^t) - f*`` without sampling error. The nonconvex PL example
``x^2 + 3 sin^2 x`` with additive gradient noise is simulated by Monte Carlo (z = 4 bounds).
"""

from __future__ import annotations

import math

import numpy as np

import theory.kd as tk
from verify._core import Outcome, Run, claim
from verify.evidence import Z, bound_outcome, identity_outcome, loglog_slope, maximize, mean_ci, relative_error

PAPER_REF = "kd"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _ls(rng: np.random.Generator, n: int | None = None, d: int | None = None, *, spread: float | None = None,
        noise: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A random least-squares instance: heterogeneous row scales, noisy labels."""
    n = int(rng.integers(6, 25)) if n is None else n
    d = int(rng.integers(2, 5)) if d is None else d
    spread = float(rng.uniform(0, 2)) if spread is None else spread
    noise = float(rng.uniform(0.1, 1.0)) if noise is None else noise
    A = rng.normal(size=(n, d)) * np.exp(spread * rng.normal(size=(n, 1)) / 2)
    w = rng.normal(size=d)
    return A, A @ w + noise * rng.normal(size=n)


def _combine(parts: dict[str, Outcome], key: str) -> Outcome:
    """All parts must hold; the headline number is the one of ``key``."""
    holds = all(o.holds for o in parts.values())
    main = parts[key]
    details = {name: {"holds": o.holds, "measured": o.measured, "reference": o.reference,
                      "relation": o.relation, **o.details} for name, o in parts.items()}
    return Outcome(holds=holds, measured=main.measured, reference=main.reference, relation=main.relation,
                   tolerance=main.tolerance, details=details)


def _sgd_gradients(A, b, x):
    """Per-row gradients a_i (a_i^T x - b_i), shape (n, d)."""
    return A * (A @ x - b)[:, None]


def _softmax(z):
    z = z - np.max(z.real, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def _complex_step_grad(fun, x, h=1e-30):
    """Gradient of a real-analytic scalar function by the complex-step method (exact to rounding)."""
    x = np.asarray(x, dtype=float)
    g = np.empty_like(x)
    for j in range(x.size):
        xc = x.astype(complex)
        xc.flat[j] += 1j * h
        g.flat[j] = fun(xc).imag / h
    return g


# ----------------------------------------------------------------------------------------------
# Section 3
# ----------------------------------------------------------------------------------------------


@claim("kd.eq3", ref="Sec. 3.1, Eqs. (2)-(3)", kind="identity",
       statement="When the loss is linear in its second argument (cross-entropy), the KD loss (2) equals ERM (3) on soft labels (1-lam) b + lam Phi")
def eq3(run: Run) -> Outcome:
    """Claim: for a loss linear in its second argument, (1-lam) l(p, b) + lam l(p, q) = l(p, (1-lam) b + lam q),
    so the distillation objective (2) is ERM with soft labels [kd, Eqs. (2)-(3)].

    Setting: random K-class probability vectors p (student), one-hot b, teacher probabilities q,
    lam in [0, 1] and extremes {0, 1}; K in 2..10; plus binary cross-entropy; plus the squared loss,
    for which the two sides differ by lam (1-lam)(b-q)^2, independent of the student (SymPy), reported
    in details.

    Check: max relative error of the two sides over all instances <= 1e-12 (closed form vs closed form).

    Negative control: the same check with the squared loss l(t, t') = (t - t')^2, which is not linear in
    its second argument: the identity must fail.
    """
    rng = run.rng
    count = run.size(400, 4000)
    lhs, rhs = [], []
    for _ in range(count):
        K = int(rng.integers(2, 11))
        p = rng.dirichlet(np.ones(K))
        q = rng.dirichlet(np.ones(K) * 0.5)
        b = np.eye(K)[rng.integers(K)]
        lam = float(rng.choice([0.0, 1.0, rng.uniform()]))
        if run.control:
            loss = lambda pp, tt: float(np.sum((pp - tt) ** 2))
        else:
            loss = lambda pp, tt: float(-np.sum(tt * np.log(pp)))
        lhs.append((1 - lam) * loss(p, b) + lam * loss(p, q))
        rhs.append(loss(p, (1 - lam) * b + lam * q))
    expr, _ = tk.derive_squared_loss_mixture()
    return identity_outcome(lhs, rhs, rtol=1e-12, details={
        "squared_loss_difference_sympy": str(expr),
        "note": "for the squared loss (2)-(3) = lam(1-lam)(b-q)^2: same minimiser and gradient, different value"})


def _alg1_gradients(A, b, x, theta, lam, convention):
    """Gradient of the per-sample distillation loss with squared loss l(t,t') = (t-t')^2 (Prop. 1 setting).

    convention 'eq4':  (1-lam) l(x^T a, b) + lam l(x^T a, theta^T a)     [kd, Eqs. (2), (4)]
    convention 'alg1': lam l(x^T a, b) + (1-lam) l(x^T a, theta^T a)     [kd, Alg. 1 line 6, Sec. 3.2]
    """
    rx, rt = A @ x - b, A @ (x - theta)
    w_label, w_teacher = ((1 - lam), lam) if convention == "eq4" else (lam, (1 - lam))
    return 2 * (w_label * rx + w_teacher * rt)[:, None] * A


def _eq5(A, b, x, theta, lam):
    """Right-hand side of (5) for l(t,t') = (t-t')^2: grad f_n(x) - lam grad f_n(theta)."""
    return 2 * (A @ x - b)[:, None] * A - lam * 2 * (A @ theta - b)[:, None] * A


def _alg1_data(run: Run):
    rng = run.rng
    out = []
    for _ in range(run.size(60, 600)):
        A, b = _ls(rng)
        x, theta = rng.normal(size=A.shape[1]), rng.normal(size=A.shape[1])
        lam = float(rng.choice([0.0, 0.25, 1.0, rng.uniform()]))
        out.append((A, b, x, theta, lam))
    return out


@claim("kd.alg1", ref="Alg. 1 line 6 and Sec. 3.2 vs Eqs. (2), (4), (5)", kind="identity", expected="erratum",
       statement="Alg. 1 / Sec. 3.2 weight the label loss by lam (f(x|theta,lam) = lam f(x) + (1-lam) f(x|theta)); with that convention the gradient is NOT (5) grad f(x) - lam grad f(theta)")
def alg1(run: Run) -> Outcome:
    """Claim: Algorithm 1 (line 6) and Sec. 3.2 define the distillation loss as lam f_n(x) + (1-lam) f_n(x|theta),
    and the paper uses it together with (5) grad f_n(x) - lam grad f_n(theta) [kd, Alg. 1, Eqs. (2), (4), (5)].
    Read literally, the two conventions of lam disagree: (2)/(4) weight the teacher by lam, Alg. 1 by 1-lam.

    Setting: the Proposition 1 linear-regression setting (squared loss), random rows, labels, student x,
    teacher theta, lam in {0, 1/4, 1, uniform}.

    Check: relative error between the Alg. 1 gradient and the right side of (5) must be <= 1e-12 for the
    statement to hold; it is O(1) whenever lam != 1/2 (erratum; the first such instance is the counterexample).
    The (2)/(4) convention gives (5) exactly (reported in details).

    Negative control: compare against (5) with a doubled teacher term: also fails.
    """
    data = _alg1_data(run)
    errs_alg, errs_eq4 = [], []
    worst = None
    for A, b, x, theta, lam in data:
        g_alg = _alg1_gradients(A, b, x, theta, lam, "alg1")
        ref = _eq5(A, b, x, theta, 2 * lam if run.control else lam)
        e = float(np.max(relative_error(g_alg, ref)))
        errs_alg.append(e)
        errs_eq4.append(float(np.max(relative_error(_alg1_gradients(A, b, x, theta, lam, "eq4"), _eq5(A, b, x, theta, lam)))))
        if worst is None and e > 1e-6:
            worst = {"lam": lam, "x": x, "theta": theta, "a_0": A[0], "b_0": float(b[0]),
                     "alg1_gradient_row0": g_alg[0], "eq5_row0": ref[0]}
    e = max(errs_alg)
    return Outcome(holds=bool(e <= 1e-12), measured=e, reference=1e-12, relation="<=", tolerance=1e-12,
                   details={"counterexample": worst or "none found",
                            "eq4_convention_max_rel_error": max(errs_eq4),
                            "alg1_with_lam_replaced_by_1_minus_lam": "gives (5): see kd.alg1_corrected"})


@claim("kd.alg1_corrected", ref="Alg. 1 line 6 and Sec. 3.2 vs Eqs. (2), (4), (5)", kind="identity",
       statement="With Alg. 1's convention the distillation gradient is grad f(x) - (1-lam) grad f(theta); with (4)'s it is (5)")
def alg1_corrected(run: Run) -> Outcome:
    """Claim: the distillation gradient of lam f_n(x) + (1-lam) f_n(x|theta) (Alg. 1) is
    grad f_n(x) - (1-lam) grad f_n(theta), i.e. (5) with lam replaced by 1-lam; the loss (4) gives (5) itself.

    Setting: as kd.alg1 (squared-loss linear regression, random rows, x, theta, lam).

    Check: both identities to relative 1e-12.

    Negative control: Alg. 1 gradient against (5) with the printed lam (not 1-lam): must fail.
    """
    data = _alg1_data(run)
    e1, e2 = [], []
    for A, b, x, theta, lam in data:
        g_alg = _alg1_gradients(A, b, x, theta, lam, "alg1")
        e1.append(float(np.max(relative_error(g_alg, _eq5(A, b, x, theta, lam if run.control else 1 - lam)))))
        e2.append(float(np.max(relative_error(_alg1_gradients(A, b, x, theta, lam, "eq4"), _eq5(A, b, x, theta, lam)))))
    e = max(max(e1), max(e2))
    return Outcome(holds=bool(e <= 1e-12), measured=e, reference=1e-12, relation="<=", tolerance=1e-12,
                   details={"alg1_vs_1_minus_lam": max(e1), "eq4_vs_eq5": max(e2), "instances": len(data)})


@claim("kd.prop1", ref="Prop. 1, Eq. (5); App. B.1-B.3", kind="identity",
       statement="Distillation gradient = grad f(x) - lam grad f(theta) exactly for linear, logistic and softmax regression; the generic-network form J psi(x)(grad phi(psi(x)) - lam grad phi(psi(theta))) is exact")
def prop1(run: Run) -> Outcome:
    """Claim: for self-distillation (4) the per-sample gradient equals grad f_n(x) - lam grad f_n(theta) for
    linear regression (squared loss, lifted bias), binary logistic regression and K-class softmax regression
    [kd, Prop. 1, App. B.1-B.2]; for a generic network with softmax output the gradient is
    J psi_n(x)^T (sigma(psi_n(x)) - b_n - lam (sigma(psi_n(theta)) - b_n)) [kd, App. B.3].

    Setting: random data, parameters and lam in [0, 1] (extremes included); one-hidden-layer tanh network
    for B.3. True gradients by the complex-step method (exact to rounding) applied to loss (4).

    Check: max relative error <= 1e-10 in every case. Details report how far (5) is from the true
    gradient for the generic network (the paper says it is only approximate there).

    Negative control: (5) with +lam instead of -lam: must fail.
    """
    rng = run.rng
    sign = 1.0 if run.control else -1.0
    errs = {"linear": 0.0, "logistic": 0.0, "softmax": 0.0, "generic_B3": 0.0}
    gen_gap = []
    for _ in range(run.size(15, 100)):
        lam = float(rng.choice([0.0, 1.0, rng.uniform()]))
        d = int(rng.integers(2, 5))
        a = np.append(rng.normal(size=d), 1.0)
        x, th = rng.normal(size=d + 1), rng.normal(size=d + 1)
        bl = float(rng.normal())
        f4 = lambda z: (1 - lam) * (z @ a - bl) ** 2 + lam * (z @ a - th @ a) ** 2
        g_true = _complex_step_grad(f4, x)
        g5 = 2 * (x @ a - bl) * a + sign * lam * 2 * (th @ a - bl) * a
        errs["linear"] = max(errs["linear"], float(np.max(relative_error(g_true, g5))))
        # binary logistic, cross-entropy, label in [0, 1]
        yb = float(rng.uniform())
        sig = lambda t: 1 / (1 + np.exp(-t))
        s_soft = (1 - lam) * yb + lam * sig(th @ a)
        flog = lambda z: s_soft * np.log(1 + np.exp(-(z @ a))) + (1 - s_soft) * np.log(1 + np.exp(z @ a))
        g_true = _complex_step_grad(flog, x)
        g5 = (sig(x @ a) - yb) * a + sign * lam * (sig(th @ a) - yb) * a
        errs["logistic"] = max(errs["logistic"], float(np.max(relative_error(g_true, g5))))
        # softmax regression X in R^{d x K}
        K = int(rng.integers(2, 5))
        X, Th = rng.normal(size=(d + 1, K)), rng.normal(size=(d + 1, K))
        bk = np.eye(K)[rng.integers(K)]
        sk = (1 - lam) * bk + lam * _softmax(Th.T @ a)
        fsm = lambda z: (lambda lg: np.log(np.sum(np.exp(lg))) - sk @ lg)(z.reshape(d + 1, K).T @ a)
        g_true = _complex_step_grad(fsm, X.ravel()).reshape(d + 1, K)
        g5 = np.outer(a, _softmax(X.T @ a) - bk) + sign * lam * np.outer(a, _softmax(Th.T @ a) - bk)
        errs["softmax"] = max(errs["softmax"], float(np.max(relative_error(g_true, g5))))
        # generic network: psi(x) = W2^T tanh(W1^T a), parameters (W1, W2)
        hdim = 3
        P = (d + 1) * hdim + hdim * K
        xp, tp = rng.normal(size=P), rng.normal(size=P)

        def psi(z):
            W1 = z[:(d + 1) * hdim].reshape(d + 1, hdim)
            W2 = z[(d + 1) * hdim:].reshape(hdim, K)
            return W2.T @ np.tanh(W1.T @ a)

        sg = (1 - lam) * bk + lam * _softmax(psi(tp))
        fgen = lambda z: (lambda lg: np.log(np.sum(np.exp(lg))) - sg @ lg)(psi(z))
        g_true = _complex_step_grad(fgen, xp)
        J = np.stack([_complex_step_grad(lambda z, k=k: psi(z)[k], xp) for k in range(K)])  # (K, P)
        g_b3 = J.T @ ((_softmax(psi(xp)) - bk) + sign * lam * (_softmax(psi(tp)) - bk))
        errs["generic_B3"] = max(errs["generic_B3"], float(np.max(relative_error(g_true, g_b3))))
        fplain = lambda z: (lambda lg: np.log(np.sum(np.exp(lg))) - bk @ lg)(psi(z))
        g5_generic = _complex_step_grad(fplain, xp) - lam * _complex_step_grad(fplain, tp)
        if lam > 0:
            gen_gap.append(float(np.linalg.norm(g5_generic - g_true) / np.linalg.norm(g_true)))
    e = max(errs.values())
    return Outcome(holds=bool(e <= 1e-10), measured=e, reference=1e-10, relation="<=", tolerance=1e-10,
                   details={"max_rel_error": errs,
                            "generic_net_eq5_relative_gap_median": float(np.median(gen_gap)) if gen_gap else 0.0,
                            "generic_net_eq5_relative_gap_max": float(np.max(gen_gap)) if gen_gap else 0.0})


# ----------------------------------------------------------------------------------------------
# Section 4: iteration (7), assumptions, appendix A facts
# ----------------------------------------------------------------------------------------------


@claim("kd.eq7", ref="Sec. 4.1 Eq. (7); Sec. 5", kind="identity",
       statement="The expected step of (7) is grad f(x) - lam grad f(theta); its fixed point solves grad f(x) = lam grad f(theta) (x* + lam (theta - x*) on least squares)")
def eq7(run: Run) -> Outcome:
    """Claim: conditioned on x^t the expected direction of (7) is grad f(x^t) - lam grad f(theta) [kd, Sec. 5],
    so the mean dynamics have the fixed point grad f(x) = lam grad f(theta), which on least squares is
    x_inf = x* + lam (theta - x*) (biased unless lam = 0 or theta = x*).

    Setting: random least-squares instances (n 6..24, d 2..4, heterogeneous rows), random x, teachers theta,
    lam in {uniform(-0.5, 1.5), 1}, gamma = 1/(8 cal_L) (Theorem 1's limit) and gamma = 1/(2 cal_L).
    Exact enumeration over the rows; the stationary mean from the exact moment engine (linear system),
    and the exact mean after T steps against x_inf + (I - gamma H)^T (x^0 - x_inf).

    Check: all three identities to relative 1e-9 (exact recursion tier).

    Negative control: compare the stationary mean with the unbiased fixed point x*: must fail.
    """
    from numerics.kd import affine_chain, moment_trajectory, stationary_moments

    rng = run.rng
    e_dir, e_fix, e_mean = [], [], []
    bias = []
    for _ in range(run.size(12, 100)):
        A, b = _ls(rng)
        c = tk.least_squares_constants(A, b)
        d = A.shape[1]
        theta = c.x_star + rng.normal(size=d)
        lam = float(rng.choice([rng.uniform(-0.5, 1.5), 1.0]))
        x = rng.normal(size=d) * 2
        direction = np.mean(_sgd_gradients(A, b, x) - lam * _sgd_gradients(A, b, theta), axis=0)
        expect = c.H @ (x - c.x_star) - lam * c.H @ (theta - c.x_star)
        e_dir.append(float(np.max(relative_error(direction, expect))))
        gamma = float(rng.choice([1 / (8 * c.cal_L), 1 / (2 * c.cal_L)]))
        ch = affine_chain(A, b, theta, lam, gamma)
        st = stationary_moments(ch)
        x_inf = c.x_star + lam * (theta - c.x_star)
        ref = c.x_star if run.control else x_inf
        e_fix.append(float(np.max(relative_error(st["mean"], ref))))
        T = 30
        tr = moment_trajectory(ch, x, T)
        pred = x_inf + np.linalg.matrix_power(np.eye(d) - gamma * c.H, T) @ (x - x_inf)
        e_mean.append(float(np.max(relative_error(tr["mean"][-1], pred))))
        bias.append(float(np.linalg.norm(st["mean"] - c.x_star)))
    e = max(max(e_dir), max(e_fix), max(e_mean))
    return Outcome(holds=bool(e <= 1e-9), measured=e, reference=1e-9, relation="<=", tolerance=1e-9,
                   details={"direction_max_rel_error": max(e_dir), "fixed_point_max_rel_error": max(e_fix),
                            "mean_recursion_max_rel_error": max(e_mean),
                            "stationary_bias_norm_range": [min(bias), max(bias)]})


def _bump_counterexample(a: float = 100.0, w: float = 0.01, c: float = 10.0) -> dict:
    """f(x) = x^2/2 + a w^2 log cosh((x-c)/w): 1-strongly convex, L = 1 + a, yet (10) holds with cal_L ~ 1.5."""
    from scipy.optimize import brentq

    def logcosh(u):
        u = np.abs(u)
        return u + np.log1p(np.exp(-2 * u)) - math.log(2)

    f = lambda x: x ** 2 / 2 + a * w ** 2 * logcosh((x - c) / w)
    fp = lambda x: x + a * w * np.tanh((x - c) / w)
    xs = brentq(fp, -c, c - 10 * w, xtol=1e-15)
    grid = np.concatenate([np.linspace(-1e3, 1e3, 400001), np.linspace(c - 50 * w, c + 50 * w, 200001)])
    grid = grid[np.abs(grid - xs) > 1e-4]
    r = fp(grid) ** 2 / (2 * (f(grid) - f(xs)))
    i = int(np.argmax(r))
    # beyond |x| = 1e3 the ratio is within 1e-2 of 1 (f' = x +- a w, f = x^2/2 +- a w |x| + O(1))
    return {"f": "x^2/2 + a w^2 log cosh((x-c)/w)", "a": a, "w": w, "c": c, "x_star": float(xs),
            "L_smoothness": 1 + a, "cal_L_eq10": float(r.max()), "argmax_x": float(grid[i]), "mu": 1.0,
            "xi": "deterministic (f_xi = f), or f_xi = f + xi x with zero-mean xi: both give the same (10)"}


@claim("kd.assumptions", ref="Sec. 4.1, Assumptions 1-3, footnote 1", kind="inequality", expected="erratum",
       statement="Expected smoothness (10) subsumes smoothness of f, so L <= cal_L")
def assumptions(run: Run) -> Outcome:
    """Claim: (10) "subsumes the smoothness condition for f" and hence L <= cal_L, L the smoothness constant of f
    [kd, Sec. 4.1, below Assumption 3].

    Setting: random and optimiser-searched least-squares instances (where every f_xi is quadratic), the
    nonconvex PL example, and the one-dimensional strongly convex f(x) = x^2/2 + a w^2 log cosh((x-c)/w)
    (a = 100, w = 0.01, c = 10) with deterministic xi: (10) only constrains ||grad f(x)||^2 <= 2 cal_L (f-f*),
    a one-point condition, which a narrow curvature bump far from x* barely changes.

    Check: the worst ratio L / cal_L (best cal_L of (10)) must stay <= 1 + 1e-9. On least squares it
    does (M >= H^2); the bump function has L = 101 and cal_L = 1.49 (grid sup): erratum.

    Negative control: the bound scaled down (ratio L / (0.5 cal_L)), which fails too.
    """
    rng = run.rng
    ratios = []
    for _ in range(run.size(20, 200)):
        A, b = _ls(rng)
        c = tk.least_squares_constants(A, b)
        ratios.append(c.L / c.cal_L)
    ce = _bump_counterexample()
    ratios.append(ce["L_smoothness"] / ce["cal_L_eq10"])
    pl = tk.pl_example_constants(grid=80001)
    ratios.append(pl["L"] / pl["cal_L"])
    scale = 0.5 if run.control else 1.0
    out = bound_outcome(np.array(ratios), np.full(len(ratios), 1.0 / scale) if run.control else np.ones(len(ratios)),
                        tol=1e-9, details={"counterexample": ce, "least_squares_max_L_over_calL": float(max(ratios[:-2])),
                                           "pl_example": pl})
    return out


@claim("kd.assumptions_corrected", ref="Sec. 4.1, Assumptions 1-3, footnote 1", kind="inequality",
       statement="On least squares cal_L >= L >= mu and the computed cal_L is the best constant of (10); in general (10) + PL give cal_L >= mu; SQC minimiser is unique")
def assumptions_corrected(run: Run) -> Outcome:
    """Claim: (i) on finite-sum least squares (every f_xi quadratic) L <= cal_L and cal_L39 >= L; (ii) for any f
    satisfying PL (9) and (10), mu <= cal_L; (iii) the computed cal_L = lambda_max(H^-1/2 M H^-1/2) satisfies (10)
    and is the best such constant; (iv) footnote 1: strong quasi-convexity forces a unique minimiser
    (checked as f(x) - f* >= mu/2 ||x - x*||^2 > 0 off x*).

    Setting: random least-squares instances; optimiser-searched directions x - x* maximising the (10) ratio;
    the PL example; the bump counterexample of kd.assumptions (for (ii)).

    Check: every ratio (L/cal_L, L/cal_L39, mu/cal_L, (10)-ratio / 1, mu/2 ||x-x*||^2 / (f-f*)) <= 1 + 1e-9, and
    the searched (10) ratio reaches 1 within 1e-9 (tightness).

    Negative control: use 0.99 cal_L in (10): the searched ratio exceeds 1, fails.
    """
    rng = run.rng
    vals, bnds = [], []
    tight = []
    fac = 0.99 if run.control else 1.0
    for _ in range(run.size(10, 80)):
        A, b = _ls(rng)
        c = tk.least_squares_constants(A, b)
        d = A.shape[1]
        vals += [c.L, c.L, c.mu]
        bnds += [c.cal_L, c.cal_L39, c.cal_L]

        def ratio(u):
            x = c.x_star + u
            g = _sgd_gradients(A, b, x) - _sgd_gradients(A, b, c.x_star)
            return float(np.mean(np.sum(g ** 2, axis=1)) / (2 * fac * c.cal_L * (tk.ls_loss(A, b, x) - c.f_star)))

        _, best = maximize(ratio, [rng.normal(size=d) for _ in range(2)], maxiter=300)
        vals.append(best)
        bnds.append(1.0)
        tight.append(best)
        u = rng.normal(size=d)
        vals.append(c.mu / 2 * (u @ u))
        bnds.append(tk.ls_loss(A, b, c.x_star + u) - c.f_star)
    pl = tk.pl_example_constants(grid=80001)
    ce = _bump_counterexample()
    vals += [pl["mu"], ce["mu"]]
    bnds += [pl["cal_L"], ce["cal_L_eq10"]]
    out = bound_outcome(vals, bnds, tol=1e-9, details={"searched_eq10_ratio_min": float(min(tight)),
                                                        "pl_example": pl})
    tight_ok = bool(min(tight) >= 1 - 1e-6) or run.control
    return Outcome(holds=out.holds and tight_ok, measured=out.measured, reference=1.0, relation="<=",
                   tolerance=1e-9, details=out.details)


def _appA_checks(rng, control_zero_mean: bool, count: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """value/bound pairs for the facts (20)-(30) [kd, App. A] (identities as |lhs - rhs| <= 1e-10 (|lhs|+|rhs|))."""
    out: dict[str, tuple[list, list]] = {k: ([], []) for k in
                                         ("20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30")}

    def add(k, v, bd):
        out[k][0].append(float(v))
        out[k][1].append(float(bd))

    for _ in range(count):
        d = int(rng.integers(1, 6))
        a, bb = rng.normal(size=d), rng.normal(size=d)
        add("20", np.sum((a + bb) ** 2), 2 * a @ a + 2 * bb @ bb)
        n = int(rng.integers(2, 6))
        V = rng.normal(size=(n, d)) * rng.exponential(size=(n, 1))
        add("21", np.sum(V.sum(0) ** 2), n * np.sum(V ** 2))
        p = rng.dirichlet(np.ones(n))
        h = lambda z: np.log(np.sum(np.exp(z)))  # convex
        add("22", h(p @ V), p @ np.array([h(v) for v in V]))
        s = float(rng.exponential())
        add("23", a @ bb, (a @ a) / (2 * s) + s / 2 * (bb @ bb))
        A, b = _ls(rng, d=max(d, 2))
        c = tk.least_squares_constants(A, b)
        x, y = rng.normal(size=A.shape[1]) * 2, rng.normal(size=A.shape[1]) * 2
        gx, gy = c.H @ (x - c.x_star), c.H @ (y - c.x_star)
        fx, fy = tk.ls_loss(A, b, x), tk.ls_loss(A, b, y)
        add("24", np.linalg.norm(gx - gy), c.L * np.linalg.norm(x - y))
        add("25", fy, fx + gx @ (y - x) + c.L / 2 * np.sum((y - x) ** 2))
        add("26", fx + gx @ (y - x) + np.sum((gy - gx) ** 2) / (2 * c.L), fy)
        add("27", fx + gx @ (y - x) + c.mu / 2 * np.sum((y - x) ** 2), fy)
        add("28", c.mu / 8 * np.sum((x - c.x_star) ** 2), fx - c.f_star)
        xp = float(rng.normal() * 4)
        pl = 0.17553  # PL constant of x^2 + 3 sin^2 x (grid minimum 0.17553...), f* = 0 at 0
        add("28", pl / 8 * xp ** 2, float(tk.pl_example_f(xp)))
        eta, N, e0 = float(rng.uniform(0.01, 1)), float(rng.exponential()), float(rng.exponential())
        T = int(rng.integers(1, 50))
        e = e0
        for _t in range(T):
            e = (1 - eta) * e + N
        add("29", e, (1 - eta) ** T * e0 + N / eta)
        # (30): z with E z = 0 (three-point law), x fixed
        z = rng.normal(size=(3, d))
        w = rng.dirichlet(np.ones(3))
        if not control_zero_mean:
            z = z - w @ z
        xf = rng.normal(size=d)
        lhs = w @ np.sum((xf + z) ** 2, axis=1)
        rhs = xf @ xf + w @ np.sum(z ** 2, axis=1)
        add("30", abs(lhs - rhs), 1e-10 * (abs(lhs) + abs(rhs)))
    return {k: (np.array(v), np.array(bd)) for k, (v, bd) in out.items()}


@claim("kd.appA", ref="App. A, Eqs. (20)-(30)", kind="inequality", expected="erratum",
       statement="Facts (20)-(30) hold as printed; (30) E||x+z||^2 = ||x||^2 + E||z||^2 is stated for any random z independent of x")
def appA(run: Run) -> Outcome:
    """Claim: the basic facts (20)-(30) of [kd, App. A] hold as printed. (30) is printed for "a random vector z"
    and x fixed, without E z = 0.

    Setting: random vectors, weights, convex log-sum-exp for Jensen (22), random least-squares problems for
    (24)-(28) (L, mu from the Hessian), the PL example for (28), random recursions for (29), and for (30) a
    three-point law of z with nonzero mean.

    Check: every fact as value <= bound (identities as |lhs - rhs| <= 1e-10 scale); (30) fails for
    z with nonzero mean (counterexample: x = (1), z = (1) deterministic gives 4 != 2): erratum.

    Negative control: all bounds halved: fails as well.
    """
    rng = run.rng
    checks = _appA_checks(rng, control_zero_mean=True, count=run.size(40, 400))
    fac = 0.5 if run.control else 1.0
    worst = {k: float(np.max(v / np.maximum(bd * fac, 1e-300))) for k, (v, bd) in checks.items()}
    holds = all(w <= 1 + 1e-9 for w in worst.values())
    return Outcome(holds=holds, measured=max(worst.values()), reference=1.0, relation="<=", tolerance=1e-9,
                   details={"worst_ratio_per_fact": {k: (v if v < 1e300 else "inf") for k, v in worst.items()},
                            "counterexample": {"fact": "(30)", "x": [1.0], "z": "deterministic [1.0]",
                                               "lhs": 4.0, "rhs": 2.0}})


@claim("kd.appA_corrected", ref="App. A, Eqs. (20)-(30)", kind="inequality",
       statement="Facts (20)-(29) hold, and (30) holds for zero-mean z independent of x")
def appA_corrected(run: Run) -> Outcome:
    """Claim: (20)-(29) of [kd, App. A] hold, and (30) holds once E z = 0 (the way (38) and Lemma 3 use it).

    Setting: as kd.appA, with zero-mean three-point z in (30).

    Check: every fact value <= bound (identities to 1e-10 relative).

    Negative control: (30) with a nonzero-mean z: fails.
    """
    rng = run.rng
    checks = _appA_checks(rng, control_zero_mean=run.control, count=run.size(40, 400))
    worst = {k: float(np.max(v / np.maximum(bd, 1e-300))) for k, (v, bd) in checks.items()}
    holds = all(w <= 1 + 1e-9 for w in worst.values())
    return Outcome(holds=holds, measured=max(worst.values()), reference=1.0, relation="<=", tolerance=1e-9,
                   details={"worst_ratio_per_fact": {k: (v if v < 1e300 else "inf") for k, v in worst.items()}})
