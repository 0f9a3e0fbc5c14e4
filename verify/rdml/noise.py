"""[rdml] Lemma 1 (noise of the stochastic gradient), Lemma C.3 (bias term Psi) and Eqs. (C.17)-(C.19)."""

from __future__ import annotations

import numpy as np

from kdtheory.theory import rdml as T
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.evidence import IDENTITY, bound_outcome, certificate, combine, identity_outcome

from . import _families as F
from ._common import headline, mp, mp_le, mp_renyi
from .smoothness import (L_HAND, PHI_CORRECTED, PHI_PRINTED, Q_HAND, TAU_HAND, Bound, _linear2_D, _phi_printed_mp,
                         alphas_at_least_one, attach, pointwise_constants, run_search)

__all__ = ["lemma1", "lemma1_corrected", "lemma_c3", "lemma_c3_corrected", "eq_c17_c19"]

ALPHAS_NOISE = (0.1, 0.5, 1.0, 5.0)


def _sgd_parts(fam, a, t, v, N, Kp, calc=T):
    """Per (point n, peer j) stochastic gradients of L_k (``base_grad_params + renyi_grad_params``) and the base
    gradients, on the rows inside the domain; v holds the peer logits, then one label coordinate per point."""
    B, M = t.shape[0], fam.M
    grads = np.full((B, N, Kp, fam.P), np.nan)
    bgr = np.full((B, N, fam.P), np.nan)
    ok = np.ones(B, dtype=bool)
    data = []
    for n in range(N):
        p, jac, _ = fam.probs(t, n)
        ok &= F.in_domain(p, fam.tau)
        data.append((p, jac))
    for n, (p, jac) in enumerate(data):
        if not np.any(ok):
            break
        y = F.labels(v[:, N * Kp * M + n]) % M
        bgr[ok, n] = calc.base_grad_params(y[ok], p[ok], jac[ok])
        for j in range(Kp):
            q = F.q_of(v[ok, (n * Kp + j) * M:(n * Kp + j + 1) * M], fam.tau)
            grads[ok, n, j] = bgr[ok, n] + calc.renyi_grad_params(q, p[ok], jac[ok], a)
    return grads, bgr, ok


def _mp_sgd(fam, a, theta, v, N, Kp):
    """mpmath twins: per (n, j) the stochastic gradient and per n the base gradient (mpmath.diff)."""
    m = mp()
    th = F.mp_theta(theta)
    M = fam.M
    out_g, out_b, fns = [], [], []
    for n in range(N):
        y = int(F.labels(np.array([v[N * Kp * M + n]]))[0] % M)
        base = (lambda x, n=n, y=y: -m.log(fam.probs_mp(x, n)[y]))
        gb = F.mp_grad(base, th)
        out_b.append(gb)
        for j in range(Kp):
            q = F.q_of_mp(v[(n * Kp + j) * M:(n * Kp + j + 1) * M], fam.tau)
            div = (lambda x, n=n, q=q: F.mp_renyi_list(q, fam.probs_mp(x, n), a))
            gd = F.mp_grad(div, th)
            out_g.append([b + d for b, d in zip(gb, gd)])
            fns.append((n, q))
    return th, out_g, out_b, fns


def _sq(v):
    return mp().fsum(x * x for x in v)


def lemma1_spec(phi: Bound, N: int = 2, Kp: int = 2) -> F.Spec:
    """E_{d,j} ||grad L_k(d, j)||^2 <= 2 sigma_tilde^2 + 2 phi^2 (``noise_sigma2``), sigma_tilde^2 = E_d ||grad base||^2."""

    def batch(fam, a, t, v, calc):
        grads, bgr, ok = _sgd_parts(fam, a, t, v, N, Kp, calc)
        lhs = np.where(ok, (np.nan_to_num(grads) ** 2).sum(axis=-1).mean(axis=(1, 2)), np.nan)
        st2 = (np.nan_to_num(bgr) ** 2).sum(axis=-1).mean(axis=1)
        ph = phi.value(fam, a)
        return lhs, np.array([T.noise_sigma2(s, ph) for s in st2])

    def exact(fam, a, theta, v):
        th, g, gb, fns = _mp_sgd(fam, a, theta, v, N, Kp)
        c = pointwise_constants(fam, [th], N, [q for _, q in fns])
        m = mp()
        return (lambda: m.fsum(_sq(x) for x in g) / len(g)), \
            (lambda: 2 * m.fsum(_sq(x) for x in gb) / len(gb) + 2 * phi.exact(fam, a, c) ** 2)

    return F.Spec(lambda fam: N * Kp * fam.M + N, batch, exact, heavy=True)


def _linear2_sgd(alpha: float):
    """The affine two-class model at theta = 0, label 2 (index 1), one point, one peer: float and mpmath parts."""
    p = np.array([TAU_HAND, 1 - TAU_HAND])
    jac = np.array([[L_HAND], [-L_HAND]])
    gb = float(T.base_grad_params(1, p, jac)[0])
    gd = float(T.renyi_grad_params(Q_HAND, p, jac, alpha)[0])
    m = mp()
    d = _linear2_D(alpha)
    base = (lambda x: -m.log(1 - m.mpf(TAU_HAND) - m.mpf(L_HAND) * x[0]))
    return gb, gd, base, d


def lemma1_headline(alpha: float = 0.5) -> tuple[dict, dict]:
    m = mp()
    gb, gd, base, d = _linear2_sgd(alpha)
    x0 = [m.mpf(0)]
    c = {"L": m.mpf(L_HAND), "tau": m.mpf(TAU_HAND), "H": m.mpf(0), "V": m.mpf(0)}
    phi = T.phi_printed(L_HAND, TAU_HAND, 2, alpha)
    g_mp = (lambda: F.mp_grad(base, x0)[0] + F.mp_grad(d, x0)[0])
    cex = headline(
        lambda: g_mp() ** 2, lambda: 2 * F.mp_grad(base, x0)[0] ** 2 + 2 * _phi_printed_mp(c, 2, alpha) ** 2, "<=",
        "E||grad L_k(d, j, theta)||^2 <= 2 sigma_tilde^2 + 2 phi_printed^2 (Lemma 1), one point and one peer, "
        "sigma_tilde^2 = ||grad L^base||^2 at theta = 0",
        model="M=2, p_1(theta) = tau + (1-2tau) theta at theta = 0, label 2, one data point, one peer",
        tau=TAU_HAND, L=L_HAND, alpha=alpha, peer_q=Q_HAND.tolist(), E_grad_Lk_sq=(gb + gd) ** 2,
        sigma_tilde2=gb ** 2, phi_printed=phi, sigma2_printed=T.noise_sigma2(gb ** 2, phi),
        sigma2_corrected=T.noise_sigma2(gb ** 2, T.phi_corrected(L_HAND, TAU_HAND)), calculator_lhs=(gb + gd) ** 2)
    inherited = {"from": "rdml.lemmaC1", "why": "Eq. (C.9) bounds ||grad L^div|| by Lemma C.1's phi",
                 "upstream_certificate": certificate(lambda: abs(F.mp_grad(d, x0)[0]),
                                                     lambda: _phi_printed_mp(c, 2, alpha), "<=",
                                                     what="||grad D|| <= phi_printed fails at the same instance"),
                 "own_step_certificate": certificate(lambda: g_mp() ** 2,
                                                     lambda: 2 * F.mp_grad(base, x0)[0] ** 2 + 2 * F.mp_grad(d, x0)[0] ** 2,
                                                     "<=", what="||a + b||^2 <= 2||a||^2 + 2||b||^2 holds")}
    return cex, inherited


@claim("rdml.lemma1", ref="Lemma 1, Eq. (C.9)", kind="inequality", expected="erratum",
       statement="E||grad L_k(d, j, theta)||^2 <= sigma^2 = 2 sigma_tilde^2 + 2 phi^2")
def lemma1(run: Run) -> Outcome:
    """Claim: the stochastic gradient of L_k has second moment ``E_{d,j} ||grad L_k(d, j, theta)||^2 <= 2 sigma_tilde^2
    + 2 phi^2`` (``noise_sigma2``) with sigma_tilde^2 of Assumption 3 and the printed phi [rdml, Lemma 1]; the
    proof uses ``||a + b||^2 <= 2||a||^2 + 2||b||^2`` and Eq. (C.4), so it inherits the invalid alpha < 1 branch.

    Setting: N = 2 data points (labels searched), K - 1 = 2 peers per point with laws in {q >= tau},
    sigma_tilde^2 set to ``E_d ||grad L^base(d, theta)||^2`` at the same theta (the smallest value Assumption 3
    allows); five families, alpha in {0.1, 0.5, 1, 5}; random + hill-climbing + Nelder-Mead.

    Check: worst ratio E||grad L_k||^2 / (2 sigma_tilde^2 + 2 phi_printed^2) <= 1 (bound check, near-boundary
    ratios certified at 50 digits); expected to fail at alpha < 1. Headline (own statement): the affine
    two-class model at theta = 0 with label 2, one point, one peer (1 - tau, tau), alpha = 1/2:
    E||grad L_k||^2 = 2257.7 > sigma^2_printed = 762.6, certified. ``details["inherited"]``: the divergence
    gradient exceeds phi_printed there (rdml.lemmaC1, certified); the lemma's own step
    ||a + b||^2 <= 2||a||^2 + 2||b||^2 holds (certified).

    Positive control: alpha restricted to >= 1 (printed phi = L/tau); holds.

    Negative control: the positive control with phi_printed scaled by 0.5; fails.
    """
    alphas = ALPHAS_NOISE if run.quick else F.ALPHAS_FULL
    if run.positive or run.control:
        alphas = alphas_at_least_one(alphas)
    out = run_search(run, alphas, lemma1_spec(_scaled(PHI_PRINTED, 0.5 if run.control else 1.0)), quick_families=True,
                     details={"correction": "sigma^2 = 2 sigma_tilde^2 + 2 (L/tau)^2, see rdml.lemma1_corrected"})
    return attach(out, *lemma1_headline())


def _scaled(bound: Bound, s: float) -> Bound:
    if s == 1.0:
        return bound
    return Bound(f"{s:g} {bound.name}", lambda f, a: s * bound.value(f, a), lambda c, M, a: s * bound._exact(c, M, a))


@claim("rdml.lemma1_corrected", ref="Lemma 1, Eq. (C.9)", kind="inequality",
       statement="E||grad L_k(d, j, theta)||^2 <= 2 sigma_tilde^2 + 2 (L/tau)^2")
def lemma1_corrected(run: Run) -> Outcome:
    """Claim: with phi = L/tau (``phi_corrected``), ``E_{d,j} ||grad L_k(d, j, theta)||^2 <= 2 sigma_tilde^2 +
    2 phi^2`` (``noise_sigma2``) [rdml, Lemma 1, corrected].

    Setting: the search of rdml.lemma1 (N = 2 points, 2 peers, labels and peer laws searched, five
    families, alpha in {0.1, 0.5, 1, 5}), plus Algorithm 1 runs (K = 3 softmax-regression students on seeded
    softmax-teacher data, alpha in {0.5, 2}) with the logged ``E_{d,j}||grad L_k(d,j)||^2`` against
    ``2 E_d||grad L^base||^2 + 2 (L/tau)^2`` at the logged empirical tau (``softmax_regression_constants``).

    Check: ``search`` and ``algorithm1_runs``, each a bound check with worst ratio <= 1 (tightness reported;
    near-boundary ratios of the search certified at 50 digits).

    Negative control: phi scaled by 0.2; ``search`` fails.
    """
    from kdtheory.numerics.rdml import simulate, synthetic_softmax_data

    s = 0.2 if run.control else 1.0
    alphas = ALPHAS_NOISE if run.quick else F.ALPHAS_FULL
    search = run_search(run, alphas, lemma1_spec(_scaled(PHI_CORRECTED, s)), quick_families=True)
    R = 1.0
    X, y, _ = synthetic_softmax_data(60, 4, 3, seed=run.seed, radius=R, teacher_scale=2.0)
    outs = [simulate(X, y, K=3, alpha=a, eta=0.5, T=300, log_every=10, seed=run.seed + 1) for a in (0.5, 2.0)]
    # constants on {p >= tau_run} (tau_run = smallest logged probability, rounded down) hold at every logged point
    tau_run = float(np.floor(min(min(o["min_prob"].min() for o in outs), 1.0 / 3) * 1e4) / 1e4)
    c = T.softmax_regression_constants(3, R, tau_run)
    phi = s * T.phi_corrected(c["L"], c["tau"])
    vals = np.concatenate([o["sgd_sq_mean"].ravel() for o in outs])
    bnds = np.array([T.noise_sigma2(b, phi) for o in outs for b in o["base_sq_mean"].ravel()])
    runs = bound_outcome(vals, bnds, details={"tau_run": tau_run, "phi": phi})
    return combine({"search": search, "algorithm1_runs": runs}, "search")


# --------------------------------------------------------------------------- Lemma C.3


def _step(fam, v_last):
    """Step eta in [1e-2, 1] x 0.05 tau / L (Psi stays far above the rounding of a divergence difference)."""
    return 0.05 * 10.0 ** (-2.0 / (1.0 + np.exp(v_last))) / max(fam.L / fam.tau, 1.0)


def c3_spec(phi: Bound, N: int = 2, Kp: int = 1) -> F.Spec:
    """E_{d,j}[Psi] <= eta phi E||g(d, j)||: Psi = L^div(theta) - L^div(theta - eta g(d, j)), peers fixed."""

    def ldiv(fam, a, tt, v, ok, calc):
        tot = np.full(tt.shape[0], np.nan)
        okk = ok.copy()
        for n in range(N):
            p, _, _ = fam.probs(tt, n)
            okk &= F.in_domain(p, fam.tau)
        if fam.lo is not None:
            okk &= np.all((tt >= fam.lo) & (tt <= fam.hi), axis=-1)
        if np.any(okk):
            acc = np.zeros(int(okk.sum()))
            for n in range(N):
                p, _, _ = fam.probs(tt[okk], n)
                for j in range(Kp):
                    q = F.q_of(v[okk, (n * Kp + j) * fam.M:(n * Kp + j + 1) * fam.M], fam.tau)
                    acc += calc.renyi_divergence(q, p, a) / (N * Kp)
            tot[okk] = acc
        return tot, okk

    def batch(fam, a, t, v, calc):
        grads, _, ok = _sgd_parts(fam, a, t, v[:, :-1], N, Kp, calc)
        eta = _step(fam, v[:, -1])
        base, ok = ldiv(fam, a, t, v, ok, calc)
        psi, rhs = np.zeros(t.shape[0]), np.zeros(t.shape[0])
        for n in range(N):
            for j in range(Kp):
                g = np.nan_to_num(grads[:, n, j])
                after, ok = ldiv(fam, a, t - eta[:, None] * g, v, ok, calc)
                psi += (base - after) / (N * Kp)
                rhs += eta * np.linalg.norm(g, axis=-1) / (N * Kp)
        return np.where(ok, psi, np.nan), phi.value(fam, a) * rhs

    def exact(fam, a, theta, v):
        m = mp()
        th, g, _, fns = _mp_sgd(fam, a, theta, v[:-1], N, Kp)
        eta = m.mpf(float(_step(fam, np.array([v[-1]]))[0]))

        def ld(x):
            return m.fsum(F.mp_renyi_list(q, fam.probs_mp(x, n), a) for n, q in fns) / len(fns)

        after = [[ti - eta * gi for ti, gi in zip(th, gg)] for gg in g]
        c = pointwise_constants(fam, [th] + after, N, [q for _, q in fns])
        return (lambda: ld(th) - m.fsum(ld(x) for x in after) / len(after)), \
            (lambda: eta * phi.exact(fam, a, c) * m.fsum(m.sqrt(_sq(gg)) for gg in g) / len(g))

    return F.Spec(lambda fam: N * Kp * fam.M + N + 1, batch, exact, heavy=True)


def lemma_c3_headline(alpha: float = 0.5, eta: float = 1e-6) -> tuple[dict, dict]:
    m = mp()
    gb, gd, base, d = _linear2_sgd(alpha)
    g = gb + gd
    t1 = -eta * g
    p, p1 = np.array([TAU_HAND, 1 - TAU_HAND]), np.array([TAU_HAND + L_HAND * t1, 1 - TAU_HAND - L_HAND * t1])
    d0, d1 = T.renyi_divergence(Q_HAND, p, alpha), T.renyi_divergence(Q_HAND, p1, alpha)
    psi = float(d0 - d1)
    phi = T.phi_printed(L_HAND, TAU_HAND, 2, alpha)
    c = {"L": m.mpf(L_HAND), "tau": m.mpf(TAU_HAND), "H": m.mpf(0), "V": m.mpf(0)}
    x0 = [m.mpf(0)]

    def g_mp():
        return F.mp_grad(base, x0)[0] + F.mp_grad(d, x0)[0]

    def psi_mp():
        return d(x0) - d([-m.mpf(eta) * g_mp()])

    cex = headline(
        psi_mp, lambda: m.mpf(eta) * _phi_printed_mp(c, 2, alpha) * abs(g_mp()), "<=",
        "Psi = D(theta_t) - D(theta_t - eta g) <= eta phi_printed ||g|| (Lemma C.3), one point and one peer",
        model="M=2, p_1(theta) = tau + (1-2tau) theta at theta = 0, label 2, one data point, one peer",
        tau=TAU_HAND, L=L_HAND, alpha=alpha, peer_q=Q_HAND.tolist(), eta=eta, step_gradient=g, theta_next=t1,
        psi=psi, bound_printed=eta * phi * abs(g), ratio=psi / (eta * phi * abs(g)), calculator_lhs=psi,
        calculator_cond=(abs(d0) + abs(d1)) / abs(psi))
    inherited = {"from": "rdml.lemmaC1", "why": "Eq. (C.15) is the Lipschitz bound of Lemma C.1 along the step",
                 "upstream_certificate": certificate(lambda: abs(F.mp_grad(d, x0)[0]),
                                                     lambda: _phi_printed_mp(c, 2, alpha), "<=",
                                                     what="||grad D|| <= phi_printed fails at theta = 0")}
    return cex, inherited


@claim("rdml.lemmaC3", ref="Lemma C.3, Eq. (C.15)", kind="inequality", expected="erratum",
       statement="E[Psi_k(d, j, t)] <= eta_t phi E||grad L_k(d, j, theta_k,t)||")
def lemma_c3(run: Run) -> Outcome:
    """Claim: the expected change of the divergence loss caused by one SGD step of student k (peers held at t),
    ``E[Psi] = E[L^div_k(theta_t) - L^div_k(theta_t - eta g(d, j))]``, is at most ``eta phi E||g(d, j)||``
    [rdml, Lemma C.3, Eq. (C.15)], by the phi-Lipschitz property of Corollary C.1 (printed phi).

    Setting: N = 2 data points with searched labels, one peer per point (K = 2) with laws in {q >= tau}, a
    searched step eta in [1e-2, 1] x 0.05 tau/L (both ends of the step must lie in the model's domain);
    E over (d, j) computed exactly with ``renyi_divergence``; five families; alpha in {0.1, 0.5, 1, 5}.

    Check: worst ratio E[Psi] / (eta phi_printed E||g||) <= 1 (bound check, near-boundary ratios certified at
    50 digits); expected to fail at alpha < 1. Headline (own statement): the affine two-class model at
    theta = 0, label 2, one point, peer (1 - tau, tau), alpha = 1/2, eta = 1e-6: Psi = 2.30e-3 >
    eta phi_printed ||g|| = 9.27e-4, certified. ``details["inherited"]``: the Lipschitz constant of
    rdml.lemmaC1 fails at that point (certified).

    Positive control: alpha restricted to >= 1 (printed phi = L/tau); holds.

    Negative control: the positive control with phi_printed scaled by 0.5; fails.
    """
    alphas = ALPHAS_NOISE if run.quick else F.ALPHAS_FULL
    if run.positive or run.control:
        alphas = alphas_at_least_one(alphas)
    out = run_search(run, alphas, c3_spec(_scaled(PHI_PRINTED, 0.5 if run.control else 1.0)), quick_families=True,
                     details={"correction": "phi = L/tau, see rdml.lemmaC3_corrected"})
    return attach(out, *lemma_c3_headline())


@claim("rdml.lemmaC3_corrected", ref="Lemma C.3, Eq. (C.15)", kind="inequality",
       statement="E[Psi_k(d, j, t)] <= eta_t (L/tau) E||grad L_k(d, j, theta_k,t)||")
def lemma_c3_corrected(run: Run) -> Outcome:
    """Claim: Lemma C.3 with phi = L/tau (``phi_corrected``) [rdml, Eq. (C.15), corrected].

    Setting: as rdml.lemmaC3 (exact expectation over 2 points and the peer, searched step, five families,
    alpha in {0.1, 0.5, 1, 5}).

    Check: worst ratio E[Psi] / (eta (L/tau) E||g||) <= 1 (bound check, near-boundary ratios certified at 50
    digits); tightness reported.

    Negative control: L/tau scaled by 0.3; fails.
    """
    alphas = ALPHAS_NOISE if run.quick else F.ALPHAS_FULL
    return run_search(run, alphas, c3_spec(_scaled(PHI_CORRECTED, 0.3 if run.control else 1.0)), quick_families=True)


# --------------------------------------------------------------------------- Eqs. (C.17)-(C.19)


def _mp_power_mean(q, p0, p1, alpha):
    """phi_tilde of Eq. (C.17) in mpmath (laws normalised exactly)."""
    from ._common import mp_law

    m = mp()
    Q, P0, P1 = mp_law(q), mp_law(p0), mp_law(p1)
    a = m.mpf(float(alpha))
    w = [x ** a * y ** (1 - a) if x > 0 else m.mpf(0) for x, y in zip(Q, P1)]
    s = m.fsum(w)
    w = [x / s for x in w]
    if a == 1:
        return m.exp(m.fsum(x * m.log(u / v) for x, u, v in zip(w, P0, P1) if x > 0))
    return m.fsum(x * (u / v) ** (1 - a) for x, u, v in zip(w, P0, P1)) ** (1 / (1 - a))


@claim("rdml.eqC17_C19", ref="Eqs. (C.17)-(C.19)", kind="identity",
       statement="Psi = -log phi_tilde with min_mu phi_mu <= phi_tilde <= max_mu phi_mu and -log min_mu phi_mu >= 0")
def eq_c17_c19(run: Run) -> Outcome:
    """Claim: for a step p_t -> p_{t+1} of student k and a peer q, ``Psi = D(q||p_t) - D(q||p_{t+1}) = -log
    phi_tilde`` where phi_tilde lies between the smallest and largest ratio ``phi_mu = p_t(mu)/p_{t+1}(mu)``
    [rdml, Eqs. (C.17)-(C.18)], and ``-log min phi >= 0`` because both laws sum to 1 [Eq. (C.19)]. phi_tilde is
    the power mean of order 1 - alpha of phi under the tilted law of (q, p_{t+1}) (``psi_power_mean``).

    Setting: random laws (Dirichlet with concentrations 0.2..5, M in {2, 3, 10}) and consecutive laws of
    Algorithm 1 runs (softmax regression, K = 2), alpha in {0.1, 0.5, 1, 2, 50}.

    Check: ``identity``: Psi (a difference of two ``renyi_divergence`` values) against -log phi_tilde in the
    identity tier with cond = (|D(q||p_t)| + |D(q||p_{t+1})|) / |Psi| (the cancellation of the difference),
    an instance just outside recomputed with mpmath; ``brackets``: min phi <= phi_tilde <= max phi and
    min phi <= 1 <= max phi as bound checks, near-boundary ratios certified at 50 digits.

    Negative control: phi_tilde taken under the tilted law of (q, p_t) instead of (q, p_{t+1}); ``identity``
    fails.
    """
    from kdtheory.numerics.rdml import model_probs, simulate, synthetic_softmax_data

    rng = run.rng
    alphas = (0.1, 0.5, 1.0, 2.0, 50.0) if run.quick else F.ALPHAS_FULL
    n = run.size(60, 600)
    cases = []
    for M in (2, 3, 10):
        for _ in range(n // 3):
            c = rng.choice([0.2, 1.0, 5.0])
            q, p0, p1 = (rng.dirichlet(np.full(M, c)) for _ in range(3))
            cases.append((q, np.clip(p0, 1e-12, None) / np.clip(p0, 1e-12, None).sum(),
                          np.clip(p1, 1e-12, None) / np.clip(p1, 1e-12, None).sum()))
    X, y, _ = synthetic_softmax_data(30, 3, 3, seed=run.seed)
    out0 = simulate(X, y, K=2, alpha=1.5, eta=0.3, T=3, log_every=1, seed=run.seed)
    out1 = simulate(X, y, K=2, alpha=1.5, eta=0.3, T=4, log_every=1, seed=run.seed)
    P0, P1, Q = (model_probs(out0["theta"][0], X, 3), model_probs(out1["theta"][0], X, 3),
                 model_probs(out0["theta"][1], X, 3))
    for i in range(min(len(X), n // 3)):
        cases.append((Q[i], P0[i], P1[i]))
    lhs, rhs, cond, inst, bv, bb, binst = [], [], [], [], [], [], []
    for ci, (q, p0, p1) in enumerate(cases):
        for a in alphas:
            if run.control:  # the power mean under the tilted law of (q, p_t): a wrong representation
                lw = a * np.log(q) + (1 - a) * np.log(p0)
                lw -= lw.max() + np.log(np.exp(lw - lw.max()).sum())
                lph = np.log(p0) - np.log(p1)
                e = lw + (1 - a) * lph
                lt = (float(np.exp(lw) @ lph) if a == 1.0
                      else float((e.max() + np.log(np.exp(e - e.max()).sum())) / (1 - a)))
                tilde, neglog = float(np.exp(lt)), -lt
            else:
                tilde, neglog = T.psi_power_mean(q, p0, p1, a)
            d0, d1 = float(T.renyi_divergence(q, p0, a)), float(T.renyi_divergence(q, p1, a))
            lhs.append(d0 - d1)
            rhs.append(neglog)
            cond.append((abs(d0) + abs(d1)) / max(abs(d0 - d1), 1e-300))
            inst.append((ci, a))
            ph = p0 / p1
            for lo, hi, kind in ((ph.min(), tilde, "min<=tilde"), (tilde, ph.max(), "tilde<=max"),
                                 (ph.min(), 1.0, "min<=1"), (1.0, ph.max(), "1<=max")):
                bv.append(lo)
                bb.append(hi)
                binst.append((ci, a, kind))

    def id_cert(i):
        ci, a = inst[i]
        q, p0, p1 = cases[ci]
        return (lambda: mp_renyi(q, p0, a) - mp_renyi(q, p1, a)), (lambda: -mp().log(_mp_power_mean(q, p0, p1, a)))

    def br_cert(i):
        ci, a, kind = binst[i]
        q, p0, p1 = cases[ci]
        m = mp()
        from ._common import mp_law

        ratios = (lambda: [u / v for u, v in zip(mp_law(p0), mp_law(p1))])
        tilde = (lambda: _mp_power_mean(q, p0, p1, a))
        side = {"min<=tilde": (lambda: min(ratios()), tilde), "tilde<=max": (tilde, lambda: max(ratios())),
                "min<=1": (lambda: min(ratios()), lambda: m.mpf(1)), "1<=max": (lambda: m.mpf(1), lambda: max(ratios()))}
        return mp_le(*side[kind])

    parts = {"identity": identity_outcome(lhs, rhs, tier=IDENTITY, cond=cond, certify=id_cert,
                                          details={"instances": len(lhs)}),
             "brackets": bound_outcome(bv, bb, certify=br_cert)}
    return combine(parts, "identity")
