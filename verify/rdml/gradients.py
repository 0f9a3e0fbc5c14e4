"""[rdml] Proposition 1 (unbiased stochastic gradient of Algorithm 1) and the claim after Remark 2 that a
larger alpha gives larger gradients."""

from __future__ import annotations

import numpy as np

from kdtheory.theory import rdml as T
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.evidence import bound_outcome, IDENTITY, combine, identity_outcome, maximize

from ._common import headline, monotone_pairs, mp, mp_grad_logits, mp_le, mp_norm, mp_softmax, softmax_rows

__all__ = ["prop1", "gradient_growth", "gradient_growth_corrected"]


# --------------------------------------------------------------------------- Proposition 1


def _complex_log_softmax(z):
    m = np.max(z.real, axis=-1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def _complex_renyi(p, lq, alpha):
    """D_alpha(p || exp(lq)) for complex log-probabilities (analytic in lq), p > 0."""
    if alpha == 1:
        return np.sum(p * (np.log(p) - lq), axis=-1)
    return np.log(np.sum(p**alpha * np.exp((1 - alpha) * lq), axis=-1)) / (alpha - 1)


def _prop1_problem(rng, n_points=4, dim=3, m=3, k_students=3):
    X = rng.standard_normal((n_points, dim))
    y = rng.integers(m, size=n_points)
    W = rng.standard_normal((k_students, m, dim)) * rng.uniform(0.3, 2.0)
    return X, y, W


def _full_loss(Wk, X, y, peers_P, alpha):
    """L_k(theta) = Eq. (1) + Eq. (2) for student k (complex-step friendly)."""
    N = X.shape[0]
    lq = _complex_log_softmax(X @ Wk.T)
    base = -np.mean(lq[np.arange(N), y])
    div = np.mean([np.mean(_complex_renyi(Pj, lq, alpha)) for Pj in peers_P])
    return base + div

@claim("rdml.prop1", ref="Proposition 1, Algorithm 1, Supplement B", kind="identity",
       statement="E_{d,j}[grad L_k(d, j, theta_k)] = grad L_k(theta_k) when d ~ U(D), j ~ U(peers)")
def prop1(run: Run) -> Outcome:
    """Claim: [rdml, Proposition 1] with a data point d drawn uniformly from D and a peer j uniformly
    from s\\{k} (Algorithm 1), the stochastic gradient of L_k(d, j, theta) = L_base(d) +
    D_alpha[P_j(.|x_d) || P_k(.|x_d)] is unbiased for the gradient of L_k = Eq. (1) + Eq. (2).

    Setting: cohorts of K = 3 linear-softmax students (theta_k a 3x3 weight matrix, N = 4 points,
    M = 3 classes, random weights of varied scale) and orders 0.3, 0.5, 1, 2, 7; peers' parameters
    fixed at their current values (the gradient is conditional on them).

    Check: the expectation is computed exactly by enumerating all N (K - 1) outcomes of (d, j)
    with their probabilities 1/(N (K - 1)), each stochastic gradient in closed form
    (x_d (softmax - e_y + ``renyi_grad_logits``)^T); the full gradient independently by complex-step
    differentiation of Eq. (1) + Eq. (2); agreement in the identity tier with cond = (largest entry of the
    gradient) / |entry| (entries that cancel to ~0 are compared at the gradient's scale).

    Negative control: a biased sampler (data point n drawn with probability proportional to n + 1,
    the first peer twice as likely as the other); the same comparison fails.
    """
    rng = run.rng
    lhs, rhs, cond = [], [], []
    for _ in range(run.size(6, 60)):
        X, y, W = _prop1_problem(rng)
        K, M, dim = W.shape
        N = X.shape[0]
        pd = np.arange(1, N + 1, dtype=float) if run.control else np.ones(N)
        pd /= pd.sum()
        for alpha in (0.3, 0.5, 1.0, 2.0, 7.0):
            for k in range(K):
                peers = [j for j in range(K) if j != k]
                pj = np.array([2.0] + [1.0] * (len(peers) - 1)) if run.control else np.ones(len(peers))
                pj /= pj.sum()
                Pk_logits = X @ W[k].T
                P_peers = [T.softmax(X @ W[j].T) for j in peers]
                expect = np.zeros((M, dim))
                for n in range(N):
                    q = T.softmax(Pk_logits[n])
                    g_base = q - np.eye(M)[y[n]]
                    for jj, Pj in enumerate(P_peers):
                        g_div = T.renyi_grad_logits(Pj[n], Pk_logits[n], alpha)
                        expect += pd[n] * pj[jj] * np.outer(g_base + g_div, X[n])
                full = np.zeros((M, dim))
                h = 1e-30
                for a_ in range(M):
                    for b_ in range(dim):
                        Wc = W[k].astype(complex)
                        Wc[a_, b_] += 1j * h
                        full[a_, b_] = _full_loss(Wc, X, y, P_peers, alpha).imag / h
                lhs.append(expect.ravel())
                rhs.append(full.ravel())
                with np.errstate(divide="ignore"):
                    cond.append(np.abs(full).max() / np.abs(full.ravel()))
    cond = np.concatenate(cond)
    return identity_outcome(np.concatenate(lhs), np.concatenate(rhs), tier=IDENTITY,
                            cond=np.where(np.isfinite(cond), cond, 1e300),
                            details={"sampler": "biased" if run.control else "uniform (Algorithm 1)",
                                     "orders": [0.3, 0.5, 1.0, 2.0, 7.0]})


# --------------------------------------------------------------------------- gradient growth


GROWTH_GRID = np.concatenate([[0.0, 1e-3], np.geomspace(0.01, 1e4, 60), [np.inf]])
GROWTH_HAND = (np.array([0.03, 0.96, 0.01]), np.array([5.5, 2.2, -2.4]))   # P, z


def _profiles_check(profiles, mp_value, details=None):
    """Nondecreasing profiles (rows) along GROWTH_GRID as a bound check on consecutive orders;
    ``mp_value(row, k)`` gives the row's entry k in extended precision for certification."""
    vals, bnds, shift = monotone_pairs(profiles)
    n_k = vals.shape[1]

    def cert(i):
        r, k = divmod(i, n_k)
        c = mp().mpf(float(shift.ravel()[i]))
        return mp_le(lambda: mp_value(r, k) + c, lambda: mp_value(r, k + 1) + c)

    return bound_outcome(vals.ravel(), bnds.ravel(), certify=cert, details=details)


def _growth_instances(rng, n: int, ms):
    out = []
    for _ in range(n):
        m = int(rng.choice(ms))
        p = rng.dirichlet(np.full(m, 10 ** rng.uniform(-1, 1)))
        z = rng.standard_normal(m) * rng.uniform(0.1, 4)
        out.append((p, z))
    return out


@claim("rdml.gradient_growth", ref="Sec. 2.1 (after Remark 2)", kind="inequality", expected="erratum",
       statement="A larger alpha gives numerically larger gradients of the divergence loss")
def gradient_growth(run: Run) -> Outcome:
    """Claim: [rdml, Sec. 2.1, after Remark 2] a larger alpha makes the gradients of the divergence
    loss D_alpha(P_j || P_k) numerically larger, pushing student k harder towards its peer.

    Setting: the student's logits z are its parameters (the most favourable case: any network
    multiplies this gradient by its Jacobian); peers P random Dirichlet (M = 3..5, varied
    concentration) and z Gaussian of scale 0.1..4; the gradient ``renyi_grad_logits`` = softmax(z) - r_alpha
    on a grid of 64 orders from 0 to inf; a Nelder-Mead search maximising ||grad_alpha|| - ||grad_beta||
    over (P, z, alpha < beta), started from the hand instance and random points.

    Check: ``grid``: ||grad_z D_alpha|| <= ||grad_z D_beta|| for every consecutive pair of orders on every
    instance, a bound check whose ratios in (1, 1 + 1e-6] are recomputed with mpmath (50 digits); ``search``:
    the searched pair, the same check. In M >= 3 classes the tilted law r_alpha can swing past softmax(z)
    and back, and the norm drops: ``grid`` fails (erratum). Headline: P = (0.03, 0.96, 0.01),
    z = (5.5, 2.2, -2.4): ||grad|| = 1.3561 at alpha = 2 and 1.3049 at alpha = 64, certified at 50 digits.

    Positive control: two classes (M = 2), where the norm is monotone (rdml.gradient_growth_corrected);
    both parts hold.

    Negative control: the positive control with the reverse statement (the norm nonincreasing); it fails.
    """
    rng = run.rng
    ms = (2,) if (run.positive or run.control) else (3, 4, 5)
    sign = -1.0 if run.control else 1.0
    inst = _growth_instances(rng, run.size(300, 3000), ms)
    prof = np.array([sign * np.linalg.norm(T.renyi_grad_logits(p, z, GROWTH_GRID), axis=-1) for p, z in inst])

    def mp_value(r, k):
        p, z = inst[r]
        return sign * mp_norm(mp_grad_logits(p, z, GROWTH_GRID[k]))

    grid = _profiles_check(prof, mp_value, {"instances": len(inst), "orders": len(GROWTH_GRID)})
    m_ = ms[0]

    def unpack(x):
        p = softmax_rows(x[:m_])
        z = x[m_:2 * m_]
        al = float(np.exp(x[2 * m_]))
        return p, z, al, al * (1.0 + float(np.exp(x[2 * m_ + 1])))

    def gap(x):
        p, z, al, be = unpack(x)
        gn = np.linalg.norm(T.renyi_grad_logits(p, z, np.array([al, be])), axis=-1)
        return sign * (gn[0] - gn[1])

    starts = [rng.standard_normal(2 * m_ + 2) for _ in range(run.size(2, 12))]
    if m_ == 3:
        starts.insert(0, np.concatenate([np.log(GROWTH_HAND[0]), GROWTH_HAND[1], [np.log(2.0), np.log(31.0)]]))
    xb, _ = maximize(gap, starts, maxiter=run.size(200, 800))
    pb, zb, al, be = unpack(xb)
    ga, gb = sign * np.linalg.norm(T.renyi_grad_logits(pb, zb, np.array([al, be])), axis=-1)
    c = 0.0 if sign > 0 else 2.0 * max(abs(ga), abs(gb))
    search = bound_outcome([ga + c], [gb + c], certify=lambda i: mp_le(
        lambda: sign * mp_norm(mp_grad_logits(pb, zb, al)) + c, lambda: sign * mp_norm(mp_grad_logits(pb, zb, be)) + c),
        details={"p": pb.tolist(), "z": zb.tolist(), "alpha": al, "beta": be})
    out = combine({"grid": grid, "search": search}, "grid")
    hp, hz = GROWTH_HAND
    hn = np.linalg.norm(T.renyi_grad_logits(hp, hz, np.array([2.0, 64.0])), axis=-1)
    out.details["counterexample"] = headline(
        lambda: mp_norm(mp_grad_logits(hp, hz, 64.0)), lambda: mp_norm(mp_grad_logits(hp, hz, 2.0)), ">=",
        "||grad_z D_64(P || softmax(z))|| >= ||grad_z D_2(P || softmax(z))|| (a larger order, a larger gradient)",
        p=hp.tolist(), z=hz.tolist(), q=T.softmax(hz).tolist(), alpha=2.0, beta=64.0,
        grad_norm_alpha=float(hn[0]), grad_norm_beta=float(hn[1]))
    out.details["certificate"] = out.details["counterexample"]["certificate"]
    return out


@claim("rdml.gradient_growth_corrected", ref="Sec. 2.1 (after Remark 2), corrected", kind="inequality",
       statement="M = 2: ||grad_theta D_alpha|| is nondecreasing in alpha; any M (P > 0): the descent direction's "
                 "component along log(P/Q) is nondecreasing in alpha")
def gradient_growth_corrected(run: Run) -> Outcome:
    """Claim: [rdml, Sec. 2.1] corrected: (i) with two classes the gradient of D_alpha(P || Q_theta)
    in any parameters theta has a norm nondecreasing in alpha on [0, inf] (the tilted law
    r_alpha ∝ p^alpha q^(1-alpha) moves monotonically from q to the vertex of argmax p/q, and
    grad_theta = J^T (q - r_alpha) is a scalar multiple of the fixed vector J^T (1, -1));
    (ii) for any number of classes and P > 0 the component of the descent direction r_alpha - q
    along the logit direction log(P/Q) -- the direction that moves softmax(z) along the geometric
    path to P -- is nondecreasing in alpha (its derivative is Var_{r_alpha}(log P/Q) >= 0).

    Setting: (i) random P, z (M = 2) including vertex P and logits up to scale 8, with random Jacobians J
    (dimension 4) and the 64-order grid of rdml.gradient_growth; (ii) random P > 0, z (M = 3..5), the
    random family on which rdml.gradient_growth finds its violations, plus that claim's hand
    counterexample.

    Check: ``two_class_norm`` (i) and ``logratio_component`` (ii): every consecutive pair of orders as a
    bound check (values shifted by a constant where a profile is not positive, which keeps the order of
    the pairs), ratios in (1, 1 + 1e-6] recomputed with mpmath at 50 digits. Tightness: the worst ratio.

    Negative control: check (i) applied to M = 3 instances (the hypothesis M = 2 violated), where the norm
    can drop; ``two_class_norm`` fails.
    """
    rng = run.rng
    m1 = 3 if run.control else 2
    inst1 = []
    for _ in range(run.size(300, 3000)):
        p = rng.dirichlet(np.full(m1, 10 ** rng.uniform(-1, 1)))
        if rng.random() < 0.1:
            p = np.eye(m1)[rng.integers(m1)]
        inst1.append((p, rng.standard_normal(m1) * rng.uniform(0.1, 8), rng.standard_normal((m1, 4))))
    prof1 = np.array([np.linalg.norm(T.renyi_grad_logits(p, z, GROWTH_GRID) @ J, axis=-1) for p, z, J in inst1])

    def mp1(r, k):
        p, z, J = inst1[r]
        g = mp_grad_logits(p, z, GROWTH_GRID[k])
        m = mp()
        return mp_norm([m.fsum(g[i] * m.mpf(float(J[i, c])) for i in range(len(g))) for c in range(J.shape[1])])

    inst2 = [GROWTH_HAND]
    for _ in range(run.size(300, 3000)):
        m = int(rng.integers(3, 6))
        p = rng.dirichlet(np.full(m, 10 ** rng.uniform(-1, 1)))
        p = np.maximum(p, 1e-300)
        inst2.append((p / p.sum(), rng.standard_normal(m) * rng.uniform(0.1, 4)))
    prof2 = np.array([-(T.renyi_grad_logits(p, z, GROWTH_GRID) @ (np.log(p) - T.log_softmax(z))) for p, z in inst2])

    def mp2(r, k):
        p, z = inst2[r]
        m = mp()
        g = mp_grad_logits(p, z, GROWTH_GRID[k])
        P = [m.mpf(float(x)) for x in p / p.sum()]
        lq = [m.log(x) for x in mp_softmax(z)]
        return -m.fsum(gi * (m.log(pi) - li) for gi, pi, li in zip(g, P, lq))

    checks = {"two_class_norm": _profiles_check(prof1, mp1, {"instances": len(inst1), "M": m1})}
    checks["logratio_component"] = _profiles_check(prof2, mp2, {"instances": len(inst2)})
    return combine(checks, "two_class_norm")

