"""[kd] Section 3: the distillation loss as ERM on soft labels, Algorithm 1's convention, Proposition 1."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

import kdtheory.theory.kd as tk
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.evidence import IDENTITY, certificate, combine, identity_outcome
from ._common import ls_instance, mpa, workdps


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


def _normwise_cond(g) -> np.ndarray:
    """Per-entry condition of a gradient compared entrywise: rounding is relative to the vector's
    scale, so entry j carries ||g||_inf / |g_j| (a tiny entry next to large ones is not resolved)."""
    g = np.abs(np.asarray(g, dtype=float))
    return np.max(g) / np.maximum(g, np.max(g) * 1e-300 + 1e-300)


# ----------------------------------------------------------------------------------------------
# Eqs. (2)-(3)
# ----------------------------------------------------------------------------------------------


@claim("kd.eq3", ref="Sec. 3.1, Eqs. (2)-(3)", kind="identity",
       statement="When the loss is linear in its second argument (cross-entropy), the KD loss (2) equals ERM (3) on soft labels (1-lam) b + lam Phi")
def eq3(run: Run) -> Outcome:
    """Claim: for a loss linear in its second argument, (1-lam) l(p, b) + lam l(p, q) = l(p, (1-lam) b + lam q),
    so the distillation objective (2) is ERM with soft labels [kd, Eqs. (2)-(3)].

    Setting: random K-class probability vectors p (student), one-hot b, teacher probabilities q,
    lam in [0, 1] and extremes {0, 1}; K in 2..10 (K = 2 is binary cross-entropy); plus the squared loss,
    for which the two sides differ by lam (1-lam)(b-q)^2, independent of the student (SymPy), reported
    in details.

    Check: both sides within the IDENTITY tier; every term of a cross-entropy is >= 0, so no sum cancels
    (cond 1). An instance just outside the tier is recomputed at 50 digits before it counts.

    Negative control: the same check with the squared loss l(t, t') = (t - t')^2, which is not linear in
    its second argument: the identity must fail.
    """
    rng = run.rng
    rows = []
    if run.control:
        loss = lambda pp, tt, log=np.log: float(np.sum((pp - tt) ** 2))  # noqa: E731
    else:
        loss = lambda pp, tt, log=np.log: -np.sum(tt * log(pp))  # noqa: E731
    lhs, rhs = [], []
    for _ in range(run.size(400, 4000)):
        K = int(rng.integers(2, 11))
        p = rng.dirichlet(np.ones(K))
        q = rng.dirichlet(np.ones(K) * 0.5)
        b = np.eye(K)[rng.integers(K)]
        lam = float(rng.choice([0.0, 1.0, rng.uniform()]))
        rows.append((p, q, b, lam))
        lhs.append(float((1 - lam) * loss(p, b) + lam * loss(p, q)))
        rhs.append(float(loss(p, (1 - lam) * b + lam * q)))

    def certify(i):
        import mpmath as mp

        p, q, b, lam = rows[i]
        with workdps():
            P, Q, B, la = mpa(p), mpa(q), mpa(b), mp.mpf(lam)
            lg = np.vectorize(mp.log, otypes=[object])
            return (1 - la) * loss(P, B, lg) + la * loss(P, Q, lg), loss(P, (1 - la) * B + la * Q, lg)

    expr, _ = tk.derive_squared_loss_mixture()
    return identity_outcome(lhs, rhs, tier=IDENTITY, cond=1.0, certify=certify, details={
        "squared_loss_difference_sympy": str(expr),
        "note": "for the squared loss (2)-(3) = lam(1-lam)(b-q)^2: same minimiser and gradient, different value"})


# ----------------------------------------------------------------------------------------------
# Algorithm 1's weighting vs (2), (4), (5)
# ----------------------------------------------------------------------------------------------


def _alg1_gradients(A, b, x, theta, lam, convention):
    """Gradient of the per-sample distillation loss with squared loss l(t,t') = (t-t')^2 (Prop. 1 setting).

    convention 'eq4':  (1-lam) l(x^T a, b) + lam l(x^T a, theta^T a)     [kd, Eqs. (2), (4)]
    convention 'alg1': lam l(x^T a, b) + (1-lam) l(x^T a, theta^T a)     [kd, Alg. 1 line 6, Sec. 3.2]
    Works on float arrays and on exact (Fraction / mpf object) arrays alike.
    """
    rx, rt = A @ x - b, A @ (x - theta)
    w_label, w_teacher = ((1 - lam), lam) if convention == "eq4" else (lam, (1 - lam))
    return 2 * (w_label * rx + w_teacher * rt)[:, None] * A


def _eq5(A, b, x, theta, lam):
    """Right-hand side of (5) for l(t,t') = (t-t')^2: grad f_n(x) - lam grad f_n(theta)."""
    return 2 * (A @ x - b)[:, None] * A - lam * 2 * (A @ theta - b)[:, None] * A


def _alg1_cond(A, b, x, theta, lam, grad) -> np.ndarray:
    """Rounding model of the gradient entries 2 c_i a_ij: c_i is a sum of terms of size
    (sum_j |a_ij| (|x_j| + |theta_j|) + |b_i|)(1 + |lam|), so entry (i, j) has that over |c_i|."""
    S = (np.abs(A) @ (np.abs(x) + np.abs(theta)) + np.abs(b)) * (1 + abs(lam))
    ci = np.abs(grad) / np.maximum(2 * np.abs(A), 1e-300)
    return S[:, None] / np.maximum(ci, 1e-300)


def _exact(v):
    return np.array([Fraction(float(t)) for t in np.ravel(v)], dtype=object).reshape(np.shape(v))


class _GradientPairs:
    """Collects (float lhs, float rhs, cond) of gradient identities with an exact (Fraction) twin per entry."""

    def __init__(self):
        self.lhs, self.rhs, self.cond, self.index = [], [], [], []

    def add(self, key, lhs, rhs, cond):
        self.lhs.append(np.ravel(lhs))
        self.rhs.append(np.ravel(rhs))
        self.cond.append(np.ravel(cond))
        self.index += [(key, k) for k in range(np.size(lhs))]

    def arrays(self):
        return np.concatenate(self.lhs), np.concatenate(self.rhs), np.concatenate(self.cond)


def _alg1_data(run: Run, *, lam_fixed: float | None = None):
    rng = run.rng
    out = []
    for _ in range(run.size(60, 600)):
        A, b = ls_instance(rng)
        x, theta = rng.normal(size=A.shape[1]), rng.normal(size=A.shape[1])
        lam = float(rng.choice([0.0, 0.25, 1.0, rng.uniform()]))
        out.append((A, b, x, theta, lam if lam_fixed is None else lam_fixed))
    return out


def _alg1_identity(data, lhs_fn, rhs_fn) -> tuple[Outcome, _GradientPairs]:
    """Identity lhs_fn == rhs_fn (float) on every instance, certified exactly (Fractions) near the tier."""
    pairs = _GradientPairs()
    for k, (A, b, x, theta, lam) in enumerate(data):
        g1, g2 = lhs_fn(A, b, x, theta, lam), rhs_fn(A, b, x, theta, lam)
        pairs.add(k, g1, g2, _alg1_cond(A, b, x, theta, lam, np.where(np.abs(g1) > 0, g1, g2)))
    lhs, rhs, cond = pairs.arrays()

    def certify(i):
        k, flat = pairs.index[i]
        A, b, x, theta, lam = data[k]
        ex = [_exact(v) for v in (A, b, x, theta)]
        la = Fraction(float(lam))
        return np.ravel(lhs_fn(*ex, la))[flat], np.ravel(rhs_fn(*ex, la))[flat]

    return identity_outcome(lhs, rhs, tier=IDENTITY, cond=cond, certify=certify), pairs


@claim("kd.alg1", ref="Alg. 1 line 6 and Sec. 3.2 vs Eqs. (2), (4), (5)", kind="identity", expected="erratum",
       statement="Alg. 1 / Sec. 3.2 weight the label loss by lam (f(x|theta,lam) = lam f(x) + (1-lam) f(x|theta)); with that convention the gradient is NOT (5) grad f(x) - lam grad f(theta)")
def alg1(run: Run) -> Outcome:
    """Claim: Algorithm 1 (line 6) and Sec. 3.2 define the distillation loss as lam f_n(x) + (1-lam) f_n(x|theta),
    and the paper uses it together with (5) grad f_n(x) - lam grad f_n(theta) [kd, Alg. 1, Eqs. (2), (4), (5)].
    Read literally, the two conventions of lam disagree: (2)/(4) weight the teacher by lam, Alg. 1 by 1-lam.

    Setting: the Proposition 1 linear-regression setting (squared loss), random rows, labels, student x,
    teacher theta, lam in {0, 1/4, 1, uniform}.

    Check: the Alg. 1 gradient and the right side of (5) must agree within the IDENTITY tier, scaled by the
    rounding model of each entry (terms of the residual over the residual); they differ by O(1) whenever
    lam != 1/2 (erratum). The headline counterexample is the worst entry, recomputed in exact rational
    arithmetic from the binary inputs (certificate "==" fails exactly). The (2)/(4) convention gives (5)
    (details).

    Negative control: compare against (5) with a doubled teacher term: also fails.

    Positive control: lam = 1/2 on every instance, where lam and 1 - lam coincide and the two conventions
    agree: the same check must hold.
    """
    data = _alg1_data(run, lam_fixed=0.5 if run.positive else None)
    out, pairs = _alg1_identity(
        data, lambda A, b, x, th, lam: _alg1_gradients(A, b, x, th, lam, "alg1"),
        lambda A, b, x, th, lam: _eq5(A, b, x, th, 2 * lam if run.control else lam))
    eq4, _ = _alg1_identity(data, lambda A, b, x, th, lam: _alg1_gradients(A, b, x, th, lam, "eq4"), _eq5)
    details = dict(out.details)
    details["eq4_convention"] = {"holds": eq4.holds, "max_rel_error": eq4.details["max_rel_error"]}
    details["alg1_with_lam_replaced_by_1_minus_lam"] = "gives (5): see kd.alg1_corrected"
    if not out.holds:
        k, flat = pairs.index[out.details["worst_index"]]
        A, b, x, theta, lam = data[k]
        ex = [_exact(v) for v in (A, b, x, theta)]
        la = Fraction(float(lam))
        lhs = np.ravel(_alg1_gradients(*ex, la, "alg1"))[flat]
        rhs = np.ravel(_eq5(*ex, 2 * la if run.control else la))[flat]
        row, col = divmod(flat, A.shape[1])
        details["counterexample"] = {"lam": lam, "x": x, "theta": theta, "row": int(row), "a_row": A[row],
                                     "b_row": float(b[row]), "coordinate": int(col),
                                     "alg1_gradient_entry": float(lhs), "eq5_entry": float(rhs)}
        details["certificate"] = certificate(lhs, rhs, "==", what=f"gradient entry ({row}, {col}): Alg. 1 vs Eq. (5)")
    return Outcome(out.holds, out.measured, out.reference, out.relation, out.tolerance, details)


@claim("kd.alg1_corrected", ref="Alg. 1 line 6 and Sec. 3.2 vs Eqs. (2), (4), (5)", kind="identity",
       statement="With Alg. 1's convention the distillation gradient is grad f(x) - (1-lam) grad f(theta); with (4)'s it is (5)")
def alg1_corrected(run: Run) -> Outcome:
    """Claim: the distillation gradient of lam f_n(x) + (1-lam) f_n(x|theta) (Alg. 1) is
    grad f_n(x) - (1-lam) grad f_n(theta), i.e. (5) with lam replaced by 1-lam; the loss (4) gives (5) itself.

    Setting: as kd.alg1 (squared-loss linear regression, random rows, x, theta, lam).

    Check: both identities within the IDENTITY tier scaled by each entry's rounding model (sum of the
    absolute terms of the residual over the residual); an entry just outside its tier is recomputed in
    exact rational arithmetic before it counts.

    Negative control: Alg. 1 gradient against (5) with the printed lam (not 1-lam): must fail.
    """
    data = _alg1_data(run)
    a1, _ = _alg1_identity(data, lambda A, b, x, th, lam: _alg1_gradients(A, b, x, th, lam, "alg1"),
                           lambda A, b, x, th, lam: _eq5(A, b, x, th, lam if run.control else 1 - lam))
    e4, _ = _alg1_identity(data, lambda A, b, x, th, lam: _alg1_gradients(A, b, x, th, lam, "eq4"), _eq5)
    return combine({"alg1_vs_eq5_with_1_minus_lam": a1, "eq4_vs_eq5": e4}, "alg1_vs_eq5_with_1_minus_lam")


# ----------------------------------------------------------------------------------------------
# Proposition 1
# ----------------------------------------------------------------------------------------------


@claim("kd.prop1", ref="Prop. 1, Eq. (5); App. B.1-B.3", kind="identity",
       statement="Distillation gradient = grad f(x) - lam grad f(theta) exactly for linear, logistic and softmax regression; the generic-network form J psi(x)(grad phi(psi(x)) - lam grad phi(psi(theta))) is exact")
def prop1(run: Run) -> Outcome:
    """Claim: for self-distillation (4) the per-sample gradient equals grad f_n(x) - lam grad f_n(theta) for
    linear regression (squared loss, lifted bias), binary logistic regression and K-class softmax regression
    [kd, Prop. 1, App. B.1-B.2]; for a generic network with softmax output the gradient is
    J psi_n(x)^T (sigma(psi_n(x)) - b_n - lam (sigma(psi_n(theta)) - b_n)) [kd, App. B.3].

    Setting: random data, parameters and lam in [0, 1] (extremes included); one-hidden-layer tanh network
    for B.3. True gradients by the complex-step method (exact to rounding) applied to loss (4).

    Check: every model's gradient identity within the IDENTITY tier, each entry with the normwise rounding
    model ||g||_inf / |g_j| (a gradient is computed to a precision relative to its largest entry).
    Details report how far (5) is from the true gradient for the generic network (the paper says it is only
    approximate there).

    Negative control: (5) with +lam instead of -lam: must fail.
    """
    rng = run.rng
    sign = 1.0 if run.control else -1.0
    pairs = {k: ([], [], []) for k in ("linear", "logistic", "softmax", "generic_B3")}

    def add(key, g_true, g_form):
        pairs[key][0].append(np.ravel(g_true))
        pairs[key][1].append(np.ravel(g_form))
        pairs[key][2].append(_normwise_cond(g_true))

    gen_gap = []
    for _ in range(run.size(15, 100)):
        lam = float(rng.choice([0.0, 1.0, rng.uniform()]))
        d = int(rng.integers(2, 5))
        a = np.append(rng.normal(size=d), 1.0)
        x, th = rng.normal(size=d + 1), rng.normal(size=d + 1)
        bl = float(rng.normal())
        f4 = lambda z: (1 - lam) * (z @ a - bl) ** 2 + lam * (z @ a - th @ a) ** 2  # noqa: E731
        add("linear", _complex_step_grad(f4, x), 2 * (x @ a - bl) * a + sign * lam * 2 * (th @ a - bl) * a)
        yb = float(rng.uniform())
        sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
        s_soft = (1 - lam) * yb + lam * sig(th @ a)
        flog = lambda z: s_soft * np.log(1 + np.exp(-(z @ a))) + (1 - s_soft) * np.log(1 + np.exp(z @ a))  # noqa: E731
        add("logistic", _complex_step_grad(flog, x), (sig(x @ a) - yb) * a + sign * lam * (sig(th @ a) - yb) * a)
        K = int(rng.integers(2, 5))
        X, Th = rng.normal(size=(d + 1, K)), rng.normal(size=(d + 1, K))
        bk = np.eye(K)[rng.integers(K)]
        sk = (1 - lam) * bk + lam * _softmax(Th.T @ a)
        fsm = lambda z: (lambda lg: np.log(np.sum(np.exp(lg))) - sk @ lg)(z.reshape(d + 1, K).T @ a)  # noqa: E731
        add("softmax", _complex_step_grad(fsm, X.ravel()),
            np.outer(a, _softmax(X.T @ a) - bk) + sign * lam * np.outer(a, _softmax(Th.T @ a) - bk))
        hdim = 3
        P = (d + 1) * hdim + hdim * K
        xp, tp = rng.normal(size=P), rng.normal(size=P)

        def psi(z):
            W1 = z[:(d + 1) * hdim].reshape(d + 1, hdim)
            W2 = z[(d + 1) * hdim:].reshape(hdim, K)
            return W2.T @ np.tanh(W1.T @ a)

        sg = (1 - lam) * bk + lam * _softmax(psi(tp))
        fgen = lambda z: (lambda lg: np.log(np.sum(np.exp(lg))) - sg @ lg)(psi(z))  # noqa: E731
        g_true = _complex_step_grad(fgen, xp)
        J = np.stack([_complex_step_grad(lambda z, k=k: psi(z)[k], xp) for k in range(K)])  # (K, P)
        add("generic_B3", g_true, J.T @ ((_softmax(psi(xp)) - bk) + sign * lam * (_softmax(psi(tp)) - bk)))
        fplain = lambda z: (lambda lg: np.log(np.sum(np.exp(lg))) - bk @ lg)(psi(z))  # noqa: E731
        g5_generic = _complex_step_grad(fplain, xp) - lam * _complex_step_grad(fplain, tp)
        if lam > 0:
            gen_gap.append(float(np.linalg.norm(g5_generic - g_true) / np.linalg.norm(g_true)))
    parts = {k: identity_outcome(np.concatenate(v[0]), np.concatenate(v[1]), tier=IDENTITY, cond=np.concatenate(v[2]))
             for k, v in pairs.items()}
    out = combine(parts, "generic_B3")
    out.details["generic_net_eq5_relative_gap"] = {"median": float(np.median(gen_gap)) if gen_gap else 0.0,
                                                   "max": float(np.max(gen_gap)) if gen_gap else 0.0}
    return out
