"""Assumption-1 model families of [rdml] Supplement C and the worst-case search over them.

Every lemma of Supplement C is stated under Assumption 1 (class probabilities L-Lipschitz, H-smooth,
>= tau), so each is tested on five model families that satisfy it with exactly known or certified
constants, not only on softmax regression:

* ``softmax``  softmax regression ``softmax(W x)``, ``||x|| = R``, domain ``p >= tau``; L exact,
  H by multi-start search, V exact (:func:`kdtheory.theory.rdml.softmax_regression_constants`);
* ``linear``   probabilities affine in theta on a box (``p = p0 + A theta``); L, tau exact, H = 0;
* ``mixture``  a mixture of softmax regression with the uniform law, ``eps + (1 - M eps) softmax(W x)``;
* ``sine``     two classes, ``p_1 = tau + (1 - 2 tau)(1 + sin(w.theta + b))/2`` on all of R^P; L, H, tau exact;
* ``tempered`` ``softmax(c sin(B theta + b))`` (a tempered softmax of a nonlinear feature map);
  tau, L, H certified upper bounds.

Peers are students too, so peer laws range over ``{q : q >= tau}``. The search is a random batch,
vectorised hill-climbing from the worst instances and :func:`kdtheory.verify.evidence.maximize`, over
parameters, peer laws and data points, steered by unchecked twins (:class:`Fast`, tested equal); the
reported value at each instance found is recomputed with the public calculators of
:mod:`kdtheory.theory.rdml` (``renyi_grad_params``, ``renyi_hessian_params``, ``base_grad_params``,
``base_hessian_params``, ``renyi_divergence``), and that value decides.

Certification: each family also evaluates ``p(theta)`` in mpmath (``probs_mp``); a claim's extended-
precision evaluator differentiates the scalar quantities with ``mpmath.diff`` (an independent path
to the gradients and Hessians) and evaluates the bound with the constants recomputed in mpmath where
they are closed forms (linear, sine) and with the pointwise ``min_mu p_mu(theta)`` in place of tau when
that is smaller (the pointwise form of every bound, equal to the stated one inside the domain).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from kdtheory.theory import rdml as T
from kdtheory.verify._core import Outcome, Run
from kdtheory.verify.evidence import bound_outcome, EXACT, maximize

from ._common import mp, mp_le

ALPHAS_QUICK = (0.1, 0.5, 0.9, 1.0, 2.0, 20.0)
ALPHAS_FULL = (0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.5, 2.0, 5.0, 20.0, 50.0)
DOMAIN_ROUNDING = EXACT.rtol(1.0)   # p >= tau up to a few ulp of p (vertices of the linear family's box)


class Family:
    """A model family with constants; ``probs(thetas, n)`` returns p (B, M), jac (B, M, P), hess (B, M, P, P)."""

    def __init__(self, name, M, P, L, H, tau, V, probs, sample, probs_mp, lo=None, hi=None, constants_mp=None):
        self.name, self.M, self.P, self.L, self.H, self.tau, self.V = name, M, P, L, H, tau, V
        self.probs, self.sample, self.lo, self.hi = probs, sample, lo, hi
        self._probs_mp, self._constants_mp = probs_mp, constants_mp

    def probs_mp(self, theta: list, n: int) -> list:
        """p(theta) at data point n in mpmath; the last class is the exact complement of the others, so the
        extended-precision model is an exact probability law (the float model sums to 1 up to an ulp)."""
        ps = self._probs_mp(theta, n)
        return ps[:-1] + [1 - mp().fsum(ps[:-1])]

    def theta(self, u):
        """Map search coordinates to the domain (a box via tanh for bounded families)."""
        if self.lo is None:
            return u
        return self.lo + (self.hi - self.lo) * 0.5 * (1.0 + np.tanh(u))

    def uparam(self, theta):
        if self.lo is None:
            return theta
        x = np.clip(2.0 * (theta - self.lo) / (self.hi - self.lo) - 1.0, -1 + 1e-12, 1 - 1e-12)
        return np.arctanh(x)

    def constants_mp(self) -> dict:
        """L, H, tau, V in mpmath: recomputed from the family's parameters where they are closed forms."""
        m = mp()
        out = {k: m.mpf(float(getattr(self, k))) for k in ("L", "H", "tau", "V")}
        if self._constants_mp is not None:
            out.update(self._constants_mp())
        return out

    def constants(self):
        return {"family": self.name, "M": self.M, "P": self.P, "L": self.L, "H": self.H, "tau": self.tau, "V": self.V}


def _softmax_parts(z):
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    M = p.shape[-1]
    eye = np.eye(M)
    J = p[..., :, None] * (eye - p[..., None, :])  # dp_mu/dz_nu
    E = eye - p[..., None, :]                       # rows e_mu - p
    C = p[..., :, None] * eye - p[..., :, None] * p[..., None, :]
    Hz = p[..., :, None, None] * (E[..., :, :, None] * E[..., :, None, :] - C[..., None, :, :])
    return p, J, Hz


def _mp_softmax_list(z: list) -> list:
    m = mp()
    top = max(z)
    e = [m.exp(x - top) for x in z]
    s = m.fsum(e)
    return [x / s for x in e]


def _mpf(a) -> Any:
    return mp().mpf(float(a))


def fam_softmax(rng, M, d, R, tau, N=2, mix_eps=None) -> Family:
    xs = rng.normal(size=(N, d))
    xs *= R / np.linalg.norm(xs, axis=1, keepdims=True)
    P = M * d
    if mix_eps is None:
        c = T.softmax_regression_constants(M, R, tau)
        L, H, V, t0 = c["L"], c["H"], c["V"], tau
        scale, shift = 1.0, 0.0
    else:
        c = T.softmax_regression_constants(M, R, 1e-12)
        scale, shift = 1.0 - M * mix_eps, mix_eps
        L, H, t0 = scale * c["L"], scale * c["H"], mix_eps
        V = T.lhat_dml_corrected(L, H, t0)  # H/tau + L^2/tau^2: a certified bound on the base-loss Hessian

    def probs(thetas, n):
        x = xs[n]
        W = thetas.reshape(-1, M, d)
        p, J, Hz = _softmax_parts(W @ x)
        jac = (J[..., :, :, None] * x).reshape(-1, M, P)
        hess = (Hz[..., :, :, None, :, None] * (x[:, None] * x[None, :])[None, None, :, None, :]).reshape(-1, M, P, P)
        return shift + scale * p, scale * jac, scale * hess

    def probs_mp(theta, n):
        m = mp()
        x = [_mpf(v) for v in xs[n]]
        z = [m.fsum(theta[mu * d + i] * x[i] for i in range(d)) for mu in range(M)]
        return [_mpf(shift) + _mpf(scale) * v for v in _mp_softmax_list(z)]

    def sample(B):
        # laws uniform on {p >= tau} (scaled to stay inside), embedded along x_0, plus a part orthogonal to x_0
        floor = tau if mix_eps is None else 0.0
        g = rng.dirichlet(np.ones(M) * rng.choice([0.3, 1.0, 3.0]), size=B)
        z = np.log(floor + (1 - M * floor) * g)
        W = z[:, :, None] * xs[0][None, None, :] / R ** 2 + 0.3 * rng.normal(size=(B, M, d))
        return W.reshape(B, P)

    return Family("softmax" if mix_eps is None else "mixture", M, P, L, H, t0, V, probs, sample, probs_mp)


def fam_linear(rng, M, P, tau) -> Family:
    A = rng.normal(size=(M, P))
    A -= A.mean(axis=0)
    rho = 1.0
    l1 = np.abs(A).sum(axis=1) * rho
    free = 1.0 - M * tau - l1.sum()
    if free <= 0:
        A *= (1.0 - M * tau) / (2.0 * l1.sum())
        l1 = np.abs(A).sum(axis=1) * rho
        free = 1.0 - M * tau - l1.sum()
    s = rng.dirichlet(np.ones(M)) * free
    s[np.argmin(s)] = 0.0
    s *= free / s.sum()
    p0 = tau + l1 + s
    taus = p0 - l1
    L = float(np.max(np.linalg.norm(A, axis=1)))
    V = float(np.max(np.sum(A ** 2, axis=1) / taus ** 2))

    def probs(thetas, n):
        B = thetas.shape[0]
        p = p0 + thetas @ A.T
        return p, np.broadcast_to(A, (B, M, P)).copy(), np.zeros((B, M, P, P))

    def probs_mp(theta, n):
        m = mp()
        return [_mpf(p0[mu]) + m.fsum(_mpf(A[mu, i]) * theta[i] for i in range(P)) for mu in range(M)]

    def constants_mp():
        # the exact model: classes 1..M-1 as stored, the last one their complement (see Family.probs_mp)
        m = mp()
        Am = [[_mpf(a) for a in row] for row in A[:-1]]
        Am.append([-m.fsum(col) for col in zip(*Am)])
        p0m = [_mpf(x) for x in p0[:-1]]
        p0m.append(1 - m.fsum(p0m))
        tmu = [p0m[mu] - _mpf(rho) * m.fsum(abs(a) for a in Am[mu]) for mu in range(M)]
        return {"L": max(m.sqrt(m.fsum(a * a for a in row)) for row in Am), "H": m.mpf(0), "tau": min(tmu),
                "V": max(m.fsum(a * a for a in row) / t ** 2 for row, t in zip(Am, tmu))}

    def sample(B):
        return rng.uniform(-rho, rho, size=(B, P)) * rng.choice([1.0, 1.0, 0.999999], size=(B, 1))

    return Family("linear", M, P, L, 0.0, float(taus.min()), V, probs, sample, probs_mp, lo=-rho, hi=rho,
                  constants_mp=constants_mp)


def fam_sine(rng, P, tau) -> Family:
    w = rng.normal(size=P)
    b = rng.uniform(0, 2 * np.pi)
    k = 1.0 - 2.0 * tau
    L, H = k * np.linalg.norm(w) / 2.0, k * (w @ w) / 2.0

    def probs(thetas, n):
        u = thetas @ w + b
        p1 = tau + k * (1.0 + np.sin(u)) / 2.0
        g = (k * np.cos(u) / 2.0)[:, None] * w
        hh = (-k * np.sin(u) / 2.0)[:, None, None] * np.outer(w, w)
        return (np.stack([p1, 1.0 - p1], axis=1), np.stack([g, -g], axis=1), np.stack([hh, -hh], axis=1))

    def probs_mp(theta, n):
        m = mp()
        u = m.fsum(_mpf(w[i]) * theta[i] for i in range(P)) + _mpf(b)
        p1 = _mpf(tau) + _mpf(k) * (1 + m.sin(u)) / 2
        return [p1, 1 - p1]

    def constants_mp():
        m = mp()
        ww = m.fsum(_mpf(a) ** 2 for a in w)
        return {"L": _mpf(k) * m.sqrt(ww) / 2, "H": _mpf(k) * ww / 2, "tau": min(_mpf(tau), 1 - _mpf(tau) - _mpf(k))}

    def sample(B):
        return rng.normal(scale=3.0, size=(B, P))

    return Family("sine", 2, P, L, H, tau, T.lhat_dml_corrected(L, H, tau), probs, sample, probs_mp,
                  constants_mp=constants_mp)


def fam_tempered(rng, M, P, c) -> Family:
    Bm = rng.normal(size=(M, P))
    bb = rng.uniform(0, 2 * np.pi, size=M)
    nb = np.linalg.norm(Bm, 2)
    h0 = T.softmax_regression_constants(M, 1.0, 1e-12)["H"]
    L = c * nb * np.sqrt(2.0) / 4.0
    H = nb ** 2 * (c * c * h0 + c / 4.0)
    tau = 1.0 / (1.0 + (M - 1) * np.exp(2.0 * c))

    def probs(thetas, n):
        v = thetas @ Bm.T + bb
        u = c * np.sin(v)
        du = c * np.cos(v)
        p, J, Hz = _softmax_parts(u)
        JB = J * du[:, None, :]
        jac = JB @ Bm
        inner = Hz * (du[:, None, :, None] * du[:, None, None, :])
        inner = inner - np.einsum("bmn,nk->bmnk", J * (c * np.sin(v))[:, None, :], np.eye(M))
        hess = np.einsum("np,bmnk,kq->bmpq", Bm, inner, Bm)
        return p, jac, hess

    def probs_mp(theta, n):
        m = mp()
        u = [_mpf(c) * m.sin(m.fsum(_mpf(Bm[mu, i]) * theta[i] for i in range(P)) + _mpf(bb[mu])) for mu in range(M)]
        return _mp_softmax_list(u)

    def sample(B):
        return rng.normal(scale=2.0, size=(B, P))

    return Family("tempered", M, P, L, H, tau, T.lhat_dml_corrected(L, H, tau), probs, sample, probs_mp)


def families(rng, quick: bool) -> list[Family]:
    fams = [
        fam_softmax(rng, 2, 2, 1.0, 0.02),
        fam_softmax(rng, 3, 2, 2.0, 0.01),
        fam_linear(rng, 2, 1, 0.01),
        fam_linear(rng, 3, 3, 0.02),
        fam_softmax(rng, 3, 2, 1.0, 0.0, mix_eps=0.02),
        fam_sine(rng, 2, 0.01),
        fam_tempered(rng, 3, 3, 1.5),
    ]
    if not quick:
        fams += [fam_softmax(rng, 4, 2, 3.0, 0.005), fam_linear(rng, 4, 2, 0.001), fam_sine(rng, 3, 0.001),
                 fam_tempered(rng, 2, 2, 2.5)]
    return fams


def q_of(v, tau):
    """Peer law in {q >= tau} from unconstrained logits v (..., M)."""
    v = v - v.max(axis=-1, keepdims=True)
    e = np.exp(v)
    return tau + (1.0 - v.shape[-1] * tau) * e / e.sum(axis=-1, keepdims=True)


def q_of_mp(v, tau) -> list:
    """:func:`q_of` in mpmath (``v`` float logits, ``tau`` float: the same law, evaluated exactly)."""
    t = _mpf(tau)
    s = _mp_softmax_list([_mpf(x) for x in v])
    return [t + (1 - len(v) * t) * x for x in s]


def in_domain(p, tau):
    return np.all(p >= tau * (1 - DOMAIN_ROUNDING), axis=-1)


def spec_norm(Hm):
    return np.max(np.abs(np.linalg.eigvalsh(Hm)), axis=-1)


# --------------------------------------------------------------------------- calculators, batched


class Fast:
    """Unchecked twins of the public calculators, used only to *steer* the search (the tests hold them equal
    to :mod:`kdtheory.theory.rdml`); every number a verdict reports is recomputed with the public calculators
    at the instances the search returns. Inputs: students inside the domain (p > 0), peers q >= tau > 0."""

    @staticmethod
    def tilted(q, p, alpha):
        lw = alpha * np.log(q) + (1.0 - alpha) * np.log(p)
        lw -= lw.max(axis=-1, keepdims=True)
        w = np.exp(lw)
        return w / w.sum(axis=-1, keepdims=True)

    @staticmethod
    def renyi_divergence(q, p, alpha):
        lq, lp = np.log(q), np.log(p)
        if alpha == 1.0:
            return (q * (lq - lp)).sum(axis=-1)
        a = alpha * lq + (1.0 - alpha) * lp
        mx = a.max(axis=-1)
        return (mx + np.log(np.exp(a - mx[..., None]).sum(axis=-1))) / (alpha - 1.0)

    @staticmethod
    def renyi_grad_params(q, p, jac, alpha):
        w = Fast.tilted(q, p, alpha)
        return -np.einsum("...m,...mi->...i", w / p, jac)

    @staticmethod
    def renyi_hessian_params(q, p, jac, hess, alpha):
        w = Fast.tilted(q, p, alpha)
        s = jac / p[..., None]
        m = np.einsum("...m,...mi->...i", w, s)
        return (-np.einsum("...m,...mij->...ij", w / p, hess) + alpha * np.einsum("...m,...mi,...mj->...ij", w, s, s)
                + (1.0 - alpha) * m[..., :, None] * m[..., None, :])

    @staticmethod
    def base_grad_params(y, p, jac):
        r = np.arange(p.shape[0])
        return -jac[r, y] / p[r, y][:, None]

    @staticmethod
    def base_hessian_params(y, p, jac, hess):
        r = np.arange(p.shape[0])
        s = jac[r, y] / p[r, y][:, None]
        return -hess[r, y] / p[r, y][:, None, None] + s[:, :, None] * s[:, None, :]


def div_grad(fam: Family, a: float, t, qv, n: int = 0, calc=T):
    """``renyi_grad_params`` on the rows inside the domain: (grad (B, P) with NaN outside, p, jac, hess, ok)."""
    p, jac, hess = fam.probs(t, n)
    ok = in_domain(p, fam.tau)
    g = np.full((t.shape[0], fam.P), np.nan)
    if np.any(ok):
        g[ok] = calc.renyi_grad_params(q_of(qv[ok], fam.tau), p[ok], jac[ok], a)
    return g, p, jac, hess, ok


def div_hess(fam: Family, a: float, t, qv, n: int = 0, calc=T):
    """``renyi_hessian_params`` on the rows inside the domain (NaN outside), with p, jac, hess, ok."""
    p, jac, hess = fam.probs(t, n)
    ok = in_domain(p, fam.tau)
    h = np.full((t.shape[0], fam.P, fam.P), np.nan)
    if np.any(ok):
        h[ok] = calc.renyi_hessian_params(q_of(qv[ok], fam.tau), p[ok], jac[ok], hess[ok], a)
    return h, p, jac, hess, ok


def labels(v):
    """Labels drawn by the search from an extra coordinate."""
    return (np.abs(v) * 7).astype(np.int64)


# --------------------------------------------------------------------------- extended precision


def mp_renyi_list(q: list, p: list, alpha) -> Any:
    """D_alpha(q || p) for mpmath laws with every entry > 0 (a student inside the domain)."""
    m = mp()
    if alpha == 1:
        return m.fsum(a * m.log(a / b) for a, b in zip(q, p))
    al = _mpf(alpha)
    return m.log(m.fsum(a ** al * b ** (1 - al) for a, b in zip(q, p))) / (al - 1)


def mp_grad(fn: Callable, theta: list) -> list:
    m = mp()
    P = len(theta)
    return [m.diff(lambda *x: fn(list(x)), theta, tuple(int(j == i) for j in range(P))) for i in range(P)]


def mp_hess_norm(fn: Callable, theta: list) -> Any:
    m = mp()
    P = len(theta)
    H = m.matrix(P, P)
    for i in range(P):
        for j in range(i, P):
            order = tuple(int(k == i) + int(k == j) for k in range(P))
            H[i, j] = H[j, i] = m.diff(lambda *x: fn(list(x)), theta, order)
    ev = m.eigsy(H, eigvals_only=True)
    return max(abs(e) for e in ev)


def mp_theta(theta) -> list:
    return [_mpf(x) for x in np.asarray(theta, dtype=float).ravel()]


# --------------------------------------------------------------------------- the search


def search(fam: Family, n_extra: int, ratio, rng, *, n_random: int, rounds: int, maxiter: int):
    """Worst value of ``ratio(thetas (B, P), V (B, n_extra)) -> (B,)``: a random batch, ``rounds`` of vectorised
    perturbation hill-climbing from the 16 worst instances (shrinking steps), then evidence.maximize
    (Nelder-Mead) from the worst instance found. Returns (value, theta, extra coordinates)."""
    P = fam.P
    th0 = fam.sample(n_random)
    ex0 = rng.normal(scale=rng.choice([1.0, 4.0, 12.0], size=(n_random, 1)), size=(n_random, n_extra))
    U = np.concatenate([fam.uparam(th0), ex0], axis=1)

    def fb(Ub):
        v = ratio(fam.theta(Ub[:, :P]), Ub[:, P:])
        return np.where(np.isfinite(v), v, -np.inf)

    vals = fb(U)
    keep = np.argsort(vals)[::-1][:16]
    U, vals = U[keep], vals[keep]
    for r in range(rounds):
        step = 1.0 * 0.5 ** r
        cand = np.repeat(U, 8, axis=0) + step * rng.normal(size=(U.shape[0] * 8, U.shape[1]))
        cv = fb(cand)
        allU, allv = np.concatenate([U, cand]), np.concatenate([vals, cv])
        keep = np.argsort(allv)[::-1][:16]
        U, vals = allU[keep], allv[keep]
    x, v = maximize(lambda x: float(fb(x[None, :])[0]), [U[0]], maxiter=maxiter)
    if v < vals[0]:
        x, v = U[0], float(vals[0])
    return float(v), fam.theta(x[:P]), x[P:]


def budget(run: Run, heavy: bool = False) -> dict:
    if heavy:
        return dict(n_random=run.size(128, 2048), rounds=run.size(6, 30), maxiter=run.size(15, 400))
    return dict(n_random=run.size(192, 4096), rounds=run.size(8, 30), maxiter=run.size(30, 600))


class Spec:
    """One Supplement-C inequality ``lhs <= scale * rhs`` over (family, alpha, theta, extra coordinates).

    ``batch(fam, a, t, v, calc)`` returns (lhs, rhs) arrays (NaN outside the domain) computed with ``calc``
    (:class:`Fast` while searching, the public calculators for the reported instances), ``exact(fam, a, theta, v)``
    the two sides in mpmath (called inside the 50-digit context; sides may be equal, see ``mp_le``),
    ``n_extra(fam)`` the number of extra search coordinates (peer logits, labels, step).
    """

    def __init__(self, n_extra: Callable, batch: Callable, exact: Callable, heavy: bool = False):
        self.n_extra, self.batch, self.exact, self.heavy = n_extra, batch, exact, heavy


def worst_over(run: Run, alphas, fams, spec: Spec, scale: float, rng) -> list[dict]:
    """Search every (family, alpha) for the worst ratio lhs / (scale rhs); one row per pair."""
    rows = []
    for fam in fams:
        for a in alphas:
            def ratio(t, v, fam=fam, a=a):
                lhs, rhs = spec.batch(fam, a, t, v, Fast)
                with np.errstate(invalid="ignore", divide="ignore"):
                    return np.where(np.isfinite(lhs) & (rhs > 0), lhs / (scale * rhs), -np.inf)
            val, theta, extra = search(fam, spec.n_extra(fam), ratio, rng, **budget(run, spec.heavy))
            lhs, rhs = spec.batch(fam, a, theta[None, :], extra[None, :], T)   # the public calculators decide
            rows.append({"fam": fam, "alpha": a, "theta": theta, "extra": extra, "lhs": float(lhs[0]),
                         "rhs": float(scale * rhs[0]), "found_in_domain": bool(np.isfinite(val))})
    return rows


def search_outcome(rows: list[dict], spec: Spec, scale: float, details: dict | None = None) -> Outcome:
    """The rows as one bound check (worst ratio = tightness), every near-boundary row certified."""
    valid = [r for r in rows if r["found_in_domain"] and np.isfinite(r["lhs"]) and r["rhs"] > 0]
    per_alpha, per_family = {}, {}
    for r in valid:
        ratio = r["lhs"] / r["rhs"]
        ka = f"alpha={r['alpha']:g}"
        per_alpha[ka] = max(per_alpha.get(ka, 0.0), round(ratio, 6))
        per_family[r["fam"].name] = max(per_family.get(r["fam"].name, 0.0), round(ratio, 6))

    def cert(i):
        r = valid[i]
        m = mp()
        lhs, rhs = spec.exact(r["fam"], r["alpha"], r["theta"], r["extra"])
        return mp_le(lhs, lambda: m.mpf(scale) * rhs())

    out = bound_outcome([r["lhs"] for r in valid], [r["rhs"] for r in valid], certify=cert,
                    details={"worst_ratio_by_alpha": per_alpha, "worst_ratio_by_family": per_family,
                             "rows_without_a_domain_instance": len(rows) - len(valid), **(details or {})})
    if valid:
        w = valid[int(out.details.get("instance_index", out.details["worst_index"]))]
        out.details["worst_instance"] = {**w["fam"].constants(), "alpha": w["alpha"], "theta": w["theta"].tolist(),
                                         "extra": w["extra"].tolist()}
    return out
