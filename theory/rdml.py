r"""Closed forms for Rényi divergence deep mutual learning [rdml].

The Rényi divergence of order alpha between two categorical distributions
[rdml, Eq. (3)], its limits (alpha = 0, 1, inf), the alpha-tilted ("escort")
distribution that its gradient is made of, and the gradient and Hessian of
``D_alpha(p || softmax(z))`` in the logits ``z`` -- the quantity a student
differentiates in the divergence loss of [rdml, Eq. (2)].

Conventions (van Erven and Harremoës, 2014): ``0**alpha = 0`` for alpha > 0,
``0**0 = 0`` (so ``D_0(P||Q) = -log Q(supp P)``), ``x / 0 = inf`` for x > 0;
``D_1`` is the Kullback-Leibler divergence and ``D_inf`` the log of the
largest likelihood ratio. Every divergence lies in ``[0, inf]``; ``+inf`` is
returned where it is infinite and NaN is never produced.

SymPy is imported inside the ``derive_*`` functions only.
"""

from __future__ import annotations

import numpy as np

from theory._checks import require, require_distribution

__all__ = [
    "log_softmax", "softmax", "renyi_divergence", "kl_divergence", "escort", "renyi_divergence_dalpha",
    "renyi_grad_logits", "renyi_hessian_logits", "squared_hellinger", "bhattacharyya_coefficient",
    "derive_kl_limit", "derive_alpha_derivative", "derive_grad_logits", "derive_hessian_logits",
]


# --------------------------------------------------------------------------- helpers


def log_softmax(z) -> np.ndarray:
    """Log of the softmax along the last axis, computed stably (max-shifted log-sum-exp)."""
    z = np.asarray(z, dtype=float)
    require(z.ndim >= 1 and z.shape[-1] >= 1, "z", z, "have a non-empty last axis")
    require(bool(np.all(np.isfinite(z))), "z", z, "be finite (no NaN or inf)")
    m = z.max(axis=-1, keepdims=True)
    s = z - m
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def softmax(z) -> np.ndarray:
    """Softmax along the last axis, computed stably; the probabilities of a logits vector [rdml, Sec. 2]."""
    z = np.asarray(z, dtype=float)
    require(z.ndim >= 1 and z.shape[-1] >= 1, "z", z, "have a non-empty last axis")
    require(bool(np.all(np.isfinite(z))), "z", z, "be finite (no NaN or inf)")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _check_alpha(alpha, func: str) -> np.ndarray:
    a = np.asarray(alpha, dtype=float)
    require(bool(np.all(~np.isnan(a))) and bool(np.all(a >= 0)), "alpha", alpha,
            "lie in [0, inf] (no NaN)", func=func)
    return a


def _check_pair(p, q, func: str) -> tuple[np.ndarray, np.ndarray]:
    p = require_distribution(p, "p", func=func)
    q = require_distribution(q, "q", func=func)
    require(p.shape[-1] == q.shape[-1], "q", q.shape, f"have as many classes as p ({p.shape[-1]})", func=func)
    try:
        np.broadcast_shapes(p.shape[:-1], q.shape[:-1])
    except ValueError:
        require(False, "q", q.shape, f"have batch axes that broadcast with those of p {p.shape[:-1]}", func=func)
    return p / p.sum(axis=-1, keepdims=True), q / q.sum(axis=-1, keepdims=True)


def _broadcast(p: np.ndarray, q: np.ndarray, a: np.ndarray):
    """Flatten (p, q, alpha) to rows: returns w (n, M), q (n, M), a (n,), output shape."""
    m = p.shape[-1]
    out_shape = np.broadcast_shapes(p.shape[:-1], q.shape[:-1], a.shape)
    w = np.broadcast_to(p, out_shape + (m,)).reshape(-1, m)
    v = np.broadcast_to(q, out_shape + (m,)).reshape(-1, m)
    aa = np.broadcast_to(a, out_shape).reshape(-1)
    return w, v, aa, out_shape


# --------------------------------------------------------------------------- the divergence


# Series coefficients: phi(d) = (1+d) log1p(d) - d = sum_{k>=2} (-1)^k d^k / (k (k-1)),
# h(y) = (expm1(y) - y) / y = sum_{k>=1} y^k / (k+1)!  (used below |d|, |y| < 0.1).
_PHI_COEF = np.array([(-1.0) ** k / (k * (k - 1)) for k in range(2, 20)])
_H_COEF = np.array([1.0 / np.prod(np.arange(1.0, k + 2)) for k in range(1, 14)])
_SERIES_CUT = 0.1


def _phi(d: np.ndarray) -> np.ndarray:
    """(1 + d) log1p(d) - d >= 0 for d >= -1, without cancellation near d = 0."""
    d = np.asarray(d, dtype=float)
    small = np.abs(d) < _SERIES_CUT
    ds = np.where(small, d, 0.0)
    ser = np.zeros_like(ds)
    for c in _PHI_COEF[::-1]:
        ser = (ser + c) * ds
    ser = ser * ds
    dl = np.where(small, 0.0, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.where(dl <= -1.0, 1.0, (1.0 + dl) * np.log1p(dl) - dl)
    return np.where(small, ser, direct)


def _h(y: np.ndarray) -> np.ndarray:
    """(expm1(y) - y) / y (value 0 at y = 0), without cancellation near y = 0; y <= 700."""
    y = np.asarray(y, dtype=float)
    small = np.abs(y) < _SERIES_CUT
    ys = np.where(small, y, 0.0)
    ser = np.zeros_like(ys)
    for c in _H_COEF[::-1]:
        ser = (ser + c) * ys
    yl = np.where(small, 1.0, y)
    direct = (np.expm1(yl) - yl) / yl
    return np.where(small, ser, direct)


def _differences(w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """w - q, except in the (unique) class where both exceed 1/2: there the complement
    sum_{j != i} (q_j - w_j) (summed in column order), exact for normalised rows and accurate
    when the two dominant entries agree beyond the resolution of 1.0."""
    diff = w - q
    dom = (w > 0.5) & (q > 0.5)
    if np.any(dom):
        comp = np.zeros(w.shape[:-1])
        for j in range(w.shape[-1]):  # fixed column order (the Numba kernel sums the same way)
            comp = comp + np.where(dom[..., j], 0.0, q[..., j] - w[..., j])
        diff = np.where(dom, comp[..., None], diff)
    return diff


def _log_ratio(w: np.ndarray, q: np.ndarray, overlap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d, ell) on the overlap: d = w/q - 1 and ell = log(w/q), accurate when w is close to q."""
    diff = _differences(w, q)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        qs = np.where(overlap, q, 1.0)
        ws = np.where(overlap, w, 1.0)
        dfs = np.where(overlap, diff, 0.0)
        d = dfs / qs
        near = np.abs(dfs) <= 0.5 * qs
        ell = np.where(near, np.log1p(np.where(near, d, 0.0)), np.log(ws) - np.log(qs))
    return np.where(overlap, d, 0.0), np.where(overlap, ell, 0.0)


def _kl_rows(w: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(w || q) per row as a sum of non-negative terms q phi(w/q - 1) (q where w = 0); rows sum to 1."""
    sp, sq = w > 0, q > 0
    overlap = sp & sq
    d, _ = _log_ratio(w, q, overlap)
    t = np.where(overlap, q * _phi(d), np.where(sp, 0.0, q))
    out = t.sum(axis=-1)
    return np.where(np.any(sp & ~sq, axis=-1), np.inf, out)


def _renyi_rows(w: np.ndarray, q: np.ndarray, a: np.ndarray, eps: np.ndarray | None = None) -> np.ndarray:
    """Rényi divergence per row for normalised rows w, q and orders a (all arrays aligned).

    ``eps`` is ``a - 1`` when known more accurately than the rounded difference.

    For a in [1/2, inf) the divergence is ``log1p(eps B) / eps`` with
    ``B = sum_i b_i`` a sum of non-negative terms, ``b_i = (x^a - 1 - a (x - 1)) q_i / eps``
    (x = p_i/q_i; weighted AM-GM makes every term >= 0), written as
    ``q_i [phi(x - 1) + x ell h(eps ell)]`` so that nothing cancels near x = 1 or a = 1;
    when |log sum p^a q^(1-a)| > 1/2 the plain log-sum-exp is used. For a in (0, 1/2)
    skew symmetry ``D_a(P||Q) = a/(1-a) D_{1-a}(Q||P)`` keeps the accuracy as a -> 0.
    """
    if eps is None:
        with np.errstate(invalid="ignore"):
            eps = a - 1.0
    n = w.shape[0]
    out = np.empty(n)
    sp, sq = w > 0, q > 0
    overlap = sp & sq
    missing = np.any(sp & ~sq, axis=-1)  # p puts mass where q has none
    d, ell = _log_ratio(w, q, overlap)
    with np.errstate(divide="ignore"):
        lw = np.where(sp, np.log(np.where(sp, w, 1.0)), -np.inf)

    # alpha = 0: -log Q(supp P)
    i0 = a == 0
    if np.any(i0):
        off = np.where(sp[i0], 0.0, q[i0]).sum(axis=-1)   # Q outside supp P
        on = np.where(sp[i0], q[i0], 0.0).sum(axis=-1)    # Q on supp P
        with np.errstate(divide="ignore", invalid="ignore"):
            d0 = np.where(off < 0.5, -np.log1p(-off), -np.log(on))
        out[i0] = np.where(on <= 0, np.inf, np.maximum(d0, 0.0))
    # alpha = inf: log max likelihood ratio
    iinf = np.isinf(a)
    if np.any(iinf):
        mx = np.where(overlap[iinf], ell[iinf], -np.inf).max(axis=-1)
        out[iinf] = np.where(missing[iinf], np.inf, np.maximum(mx, 0.0))
    # alpha in (0, 1/2): skew symmetry (1 - a) D_a(P||Q) = a D_{1-a}(Q||P), accurate as a -> 0
    ismall = (a > 0) & (a < 0.5)
    if np.any(ismall):
        aa = a[ismall]
        res = aa / (1.0 - aa) * _renyi_rows(q[ismall], w[ismall], 1.0 - aa, -aa)
        # for subnormal alpha D_{1-alpha}(Q||P) can overflow: use the direct log-sum-exp instead
        bad = np.isinf(res) & np.any(overlap[ismall], axis=-1)
        if np.any(bad):
            O = overlap[ismall][bad]
            A = aa[bad][:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                lq_ = np.log(np.where(O, q[ismall][bad], 1.0))
                t = np.where(O, A * lw[ismall][bad] + (1.0 - A) * lq_, -np.inf)
                top = t.max(axis=-1)
                lse = top + np.log(np.exp(t - top[:, None]).sum(axis=-1))
            res[bad] = np.maximum(lse / (aa[bad] - 1.0), 0.0)
        out[ismall] = res
    # alpha in [1/2, inf), including alpha = 1 (eps = 0: the KL divergence)
    igen = (a >= 0.5) & np.isfinite(a)
    if np.any(igen):
        W, Q, L, O, Dl = w[igen], q[igen], ell[igen], overlap[igen], d[igen]
        eps = eps[igen]
        E = eps[:, None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # log sum over the overlap of w^a q^(1-a) = w exp(eps * ell)
            logterms = np.where(O, lw[igen] + E * L, -np.inf)
            top = logterms.max(axis=-1)
            safe_top = np.where(np.isfinite(top), top, 0.0)
            lse = safe_top + np.log(np.exp(logterms - safe_top[:, None]).sum(axis=-1))
            lse = np.where(np.isfinite(top), lse, top)
            y = E * L
            big = y > 700.0
            near = np.abs(Dl) <= 0.5
            x = np.where(O, np.where(near, 1.0 + Dl, W / np.where(O, Q, 1.0)), 0.0)
            b_near = Q * (_phi(Dl) + x * L * _h(np.where(big, 0.0, y)))
            safeE = np.where(E == 0, 1.0, E)
            b_big = (np.exp(np.where(big, logterms, 0.0)) - W) / safeE - (W - Q)
            b = np.where(big, b_big, b_near)
            b = np.where(O, b, 0.0)
            b = np.where(~O & (W > 0), (1.0 + E) * W / np.where(E == 0, -1.0, -E), b)  # q = 0 < p, a < 1
            b = np.where(W == 0, Q, b)                                                  # p = 0
            B = b.sum(axis=-1)
            t = eps * B
            factor = np.where(t == 0, 1.0, np.log1p(np.where(t == 0, 0.0, t)) / np.where(t == 0, 1.0, t))
            near_val = B * factor
            use_lse = ((np.abs(lse) > 0.5) | ~np.isfinite(B)) & (eps != 0)
            dv = np.where(use_lse, lse / np.where(eps == 0, 1.0, eps), near_val)
        dv = np.where((eps >= 0) & missing[igen], np.inf, dv)
        dv = np.where((eps < 0) & ~np.any(O, axis=-1), np.inf, dv)  # disjoint supports
        out[igen] = np.maximum(dv, 0.0)
    return out


def renyi_divergence(p, q, alpha) -> np.ndarray | float:
    r"""Rényi divergence ``D_alpha(P || Q)`` of categorical distributions [rdml, Eq. (3)].

    ``D_alpha = log(sum_i p_i^alpha q_i^(1 - alpha)) / (alpha - 1)`` for alpha in
    (0, 1) and (1, inf), extended by continuity: alpha = 0 gives ``-log Q(supp P)``,
    alpha = 1 the KL divergence, alpha = inf ``log max_i p_i / q_i``.

    Parameters
    ----------
    p, q : array_like, shape (..., M)
        Distributions along the last axis (entries >= 0 summing to 1); leading batch
        axes broadcast against each other.
    alpha : float or array_like
        Orders in [0, inf]; broadcast against the batch axes (use ``alpha[:, None]``
        with ``p`` of shape (B, M) for an (A, B) table).

    Returns
    -------
    float or ndarray of shape ``broadcast(p.shape[:-1], q.shape[:-1], alpha.shape)``
        Values in [0, inf]; ``inf`` exactly where the divergence is infinite
        (alpha >= 1 and P not absolutely continuous w.r.t. Q; alpha < 1 and disjoint
        supports; alpha = 0 and Q(supp P) = 0). Computed in log space, with a
        sum of single-signed terms near alpha = 1 and skew symmetry for alpha < 1/2.
    """
    a = _check_alpha(alpha, "renyi_divergence")
    p, q = _check_pair(p, q, "renyi_divergence")
    w, v, aa, shape = _broadcast(p, q, a)
    d = _renyi_rows(np.ascontiguousarray(w), np.ascontiguousarray(v), aa).reshape(shape)
    return float(d) if d.ndim == 0 else d


def kl_divergence(p, q) -> np.ndarray | float:
    """KL divergence ``D_1(P || Q) = sum p log(p/q)`` [rdml, Sec. 2.1] (the alpha -> 1 limit of Eq. (3))."""
    return renyi_divergence(p, q, 1.0)


def bhattacharyya_coefficient(p, q) -> np.ndarray | float:
    """Bhattacharyya coefficient ``sum_i sqrt(p_i q_i)`` (so ``D_1/2 = -2 log BC``) [rdml, Sec. 2.1]."""
    p, q = _check_pair(p, q, "bhattacharyya_coefficient")
    bc = np.sqrt(p * q).sum(axis=-1)
    return float(bc) if bc.ndim == 0 else bc


def squared_hellinger(p, q) -> np.ndarray | float:
    r"""Squared Hellinger distance ``H^2 = (1/2) sum (sqrt p - sqrt q)^2 = 1 - BC`` in [0, 1] [rdml, Sec. 2.1].

    Computed as ``(1/2) sum ((p - q) / (sqrt p + sqrt q))^2`` (no cancellation near P = Q).
    """
    p, q = _check_pair(p, q, "squared_hellinger")
    den = np.sqrt(p) + np.sqrt(q)
    diff = _differences(*np.broadcast_arrays(p, q))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(den > 0, diff / np.where(den > 0, den, 1.0), 0.0)
    h = 0.5 * (t**2).sum(axis=-1)
    return float(h) if h.ndim == 0 else h


# --------------------------------------------------------------------------- escort, derivatives


def _escort_rows(lw: np.ndarray, lq: np.ndarray | None, a: np.ndarray) -> np.ndarray:
    """Rows of r ∝ exp(a lw + (1-a) lq) with -inf log entries, a in [0, inf] (aligned rows)."""
    sp = np.isfinite(lw)
    if lq is None:
        lq = np.zeros_like(lw)
        sq = np.ones_like(sp)
    else:
        sq = np.isfinite(lq)
    A = a[:, None]
    with np.errstate(invalid="ignore"):
        ell = np.where(sp & sq, lw - lq, -np.inf)
        fin = np.isfinite(A)
        # logits of the tilted law: lq + a (lw - lq) on supp p ∩ supp q
        lt = np.where(sp & sq, np.where(fin, lq + np.where(fin, A, 0.0) * np.where(sp & sq, ell, 0.0), 0.0), -np.inf)
        # alpha = inf: uniform (weighted by q) on the argmax of the log-ratio
        top = ell.max(axis=-1, keepdims=True)
        tie = (sp & sq) & (ell == top)
        lt_inf = np.where(tie, lq, -np.inf)
        lt = np.where(fin, lt, lt_inf)
        m = lt.max(axis=-1, keepdims=True)
        e = np.where(np.isfinite(lt), np.exp(lt - m), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def escort(p, alpha, q=None) -> np.ndarray:
    r"""Escort distribution of order alpha: ``p^alpha / sum p^alpha``, or with ``q`` the tilted law
    ``r_alpha ∝ p^alpha q^(1 - alpha)`` [rdml, Eq. (3)].

    ``r_alpha`` is the normalised integrand of Eq. (3): it is the distribution that
    appears in the gradient ``softmax(z) - r_alpha`` of ``D_alpha(p || softmax(z))``
    and in ``d D_alpha / d alpha = KL(r_alpha || p) / (alpha - 1)^2``. alpha = 0 gives
    ``q`` restricted to supp p (uniform on supp p without ``q``), alpha = 1 gives ``p``,
    alpha = inf the ``q``-weighted uniform law on the argmax of ``p / q`` (of ``p``).

    Returns an array of shape ``broadcast(batch, alpha.shape) + (M,)``.
    """
    a = _check_alpha(alpha, "escort")
    p = require_distribution(p, "p", func="escort")
    p = p / p.sum(axis=-1, keepdims=True)
    m = p.shape[-1]
    if q is None:
        shape = np.broadcast_shapes(p.shape[:-1], a.shape)
        w = np.broadcast_to(p, shape + (m,)).reshape(-1, m)
        aa = np.broadcast_to(a, shape).reshape(-1)
        with np.errstate(divide="ignore"):
            r = _escort_rows(np.log(w), None, aa)
        return r.reshape(shape + (m,))
    p, q = _check_pair(p, q, "escort")
    w, v, aa, shape = _broadcast(p, q, a)
    bad = (aa[:, None] > 1) & (w > 0) & (v == 0)
    require(not bool(np.any(bad)), "q", q, "be > 0 wherever p > 0 when alpha > 1 (else the tilted law has infinite mass)",
            func="escort")
    nothing = ~np.any((w > 0) & (v > 0), axis=-1)
    require(not bool(np.any(nothing & (aa > 0))), "q", q, "share support with p (else the tilted law is empty)",
            func="escort")
    require(not bool(np.any(nothing & (aa == 0))), "q", q, "put mass on supp p (else the tilted law is empty)",
            func="escort")
    with np.errstate(divide="ignore"):
        r = _escort_rows(np.log(w), np.log(v), aa)
    return r.reshape(shape + (m,))


def renyi_divergence_dalpha(p, q, alpha) -> np.ndarray | float:
    r"""Derivative in alpha of ``D_alpha(P || Q)``: ``KL(r_alpha || P) / (alpha - 1)^2`` [rdml, Eq. (3), Remark 2].

    ``r_alpha ∝ p^alpha q^(1-alpha)`` is the tilted law of :func:`escort`. At alpha = 1
    the limit ``Var_P(log p/q) / 2`` is returned. Requires supp P ⊆ supp Q (so that
    D_alpha is finite for all alpha) and alpha in (0, inf). Computed without forming
    r_alpha: ``log(r_i / p_i) = (alpha - 1)(ell_i - D_alpha)`` with ``ell = log p/q``, so
    ``KL(r||P) = sum_i p_i phi(expm1((alpha-1)(ell_i - D_alpha)))``, phi(d) = (1+d) log1p(d) - d,
    accurate also near alpha = 1 and P = Q.
    """
    a = _check_alpha(alpha, "renyi_divergence_dalpha")
    require(bool(np.all((a > 0) & np.isfinite(a))), "alpha", alpha, "lie in (0, inf)")
    p, q = _check_pair(p, q, "renyi_divergence_dalpha")
    require(not bool(np.any((p > 0) & (q == 0))), "q", q, "be > 0 wherever p > 0 (D_alpha finite for every alpha)")
    w, v, aa, shape = _broadcast(p, q, a)
    w, v = np.ascontiguousarray(w), np.ascontiguousarray(v)
    sp = w > 0
    _, ell = _log_ratio(w, v, sp)
    dval = _renyi_rows(w, v, aa)
    eps = (aa - 1.0)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        dd = np.expm1(eps * (ell - dval[:, None]))
        kl = np.where(sp, w * _phi(np.where(sp, dd, 0.0)), 0.0).sum(axis=-1)
    mean = np.where(sp, w * ell, 0.0).sum(axis=-1)
    var = np.where(sp, w * (ell - mean[:, None]) ** 2, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(aa == 1, 0.5 * var, kl / np.where(aa == 1, 1.0, (aa - 1.0) ** 2))
    d = d.reshape(shape)
    return float(d) if d.ndim == 0 else d


def _grad_setup(p, z, alpha, func):
    a = _check_alpha(alpha, func)
    p = require_distribution(p, "p", func=func)
    p = p / p.sum(axis=-1, keepdims=True)
    z = np.asarray(z, dtype=float)
    require(z.ndim >= 1 and z.shape[-1] == p.shape[-1], "z", z.shape, f"have {p.shape[-1]} classes like p", func=func)
    require(bool(np.all(np.isfinite(z))), "z", z, "be finite (no NaN or inf)", func=func)
    m = p.shape[-1]
    shape = np.broadcast_shapes(p.shape[:-1], z.shape[:-1], a.shape)
    w = np.broadcast_to(p, shape + (m,)).reshape(-1, m)
    zz = np.broadcast_to(z, shape + (m,)).reshape(-1, m)
    aa = np.broadcast_to(a, shape).reshape(-1)
    lq = log_softmax(zz)
    with np.errstate(divide="ignore"):
        r = _escort_rows(np.log(w), lq, aa)
    return np.exp(lq), r, aa, shape, m


def renyi_grad_logits(p, z, alpha) -> np.ndarray:
    r"""Gradient in the logits ``z`` of ``D_alpha(p || softmax(z))`` [rdml, Eqs. (2)-(3)].

    Closed form ``softmax(z) - r_alpha`` with ``r_alpha ∝ p^alpha softmax(z)^(1-alpha)``
    (:func:`escort`): alpha = 1 gives the KL gradient ``q - p``; alpha = 0 gives
    ``q - q|supp p / Q(supp p)``; alpha = inf gives ``q - e_{argmax p/q}`` (a
    ``q``-weighted average over ties, the alpha -> inf limit). ``softmax(z) > 0`` so
    every order gives a finite gradient. Shape ``broadcast(batch, alpha.shape) + (M,)``.
    """
    q, r, aa, shape, m = _grad_setup(p, z, alpha, "renyi_grad_logits")
    return (q - r).reshape(shape + (m,))


def renyi_hessian_logits(p, z, alpha) -> np.ndarray:
    r"""Hessian in ``z`` of ``D_alpha(p || softmax(z))`` [rdml, Eqs. (2)-(3)].

    Closed form ``Cov_q - (1 - alpha) Cov_r`` with ``Cov_x = diag(x) - x x^T``,
    ``q = softmax(z)``, ``r = r_alpha`` the tilted law. At alpha = inf it is ``Cov_q``
    where the argmax of ``p / q`` is unique (D_inf is not twice differentiable at a tie:
    ValueError). Shape ``broadcast(batch, alpha.shape) + (M, M)``.
    """
    q, r, aa, shape, m = _grad_setup(p, z, alpha, "renyi_hessian_logits")
    inf = np.isinf(aa)
    require(not bool(np.any(inf & (np.sum(r > 0, axis=-1) > 1))), "p", p,
            "have a unique argmax of p/softmax(z) when alpha = inf (D_inf is not differentiable at a tie)")
    cov_q = np.einsum("ni,ij->nij", q, np.eye(m)) - q[:, :, None] * q[:, None, :]
    cov_r = np.einsum("ni,ij->nij", r, np.eye(m)) - r[:, :, None] * r[:, None, :]
    coef = np.where(inf, 0.0, 1.0 - np.where(inf, 0.0, aa))
    h = cov_q - coef[:, None, None] * cov_r
    return h.reshape(shape + (m, m))


# --------------------------------------------------------------------------- SymPy derivations


def derive_kl_limit(m: int = 2):
    """SymPy: the limit alpha -> 1 of Eq. (3) for ``m`` classes is ``sum p log(p/q)`` [rdml, Sec. 2.1].

    Returns ``(limit, kl, difference)``: the limit computed by SymPy (with
    ``p_m = 1 - sum(others)``, likewise q), the KL expression, and their simplified
    difference (which is 0).
    """
    import sympy as sp

    require(isinstance(m, int) and 2 <= m <= 3, "m", m, "be an integer in {2, 3}")
    a = sp.Symbol("alpha", positive=True)
    ps = list(sp.symbols(f"p1:{m}", positive=True))
    qs = list(sp.symbols(f"q1:{m}", positive=True))
    ps.append(1 - sum(ps))
    qs.append(1 - sum(qs))
    s = sum(pi ** a * qi ** (1 - a) for pi, qi in zip(ps, qs))
    d = sp.log(s) / (a - 1)
    lim = sp.limit(d, a, 1)
    kl = sum(pi * sp.log(pi / qi) for pi, qi in zip(ps, qs))
    diff = sp.simplify(sp.expand_log(lim - kl, force=True))
    return lim, kl, diff


def derive_alpha_derivative(m: int = 3):
    """SymPy: ``d D_alpha / d alpha`` for ``m`` classes, and the claimed closed form ``KL(r_alpha||p)/(alpha-1)^2``.

    Returns ``(symbols, derivative, closed_form)`` with ``symbols = (alpha, ps, qs)``
    (positive, unconstrained weights; normalisation is imposed by the caller).
    """
    import sympy as sp

    require(isinstance(m, int) and m >= 2, "m", m, "be an integer >= 2")
    a = sp.Symbol("alpha", positive=True)
    ps = sp.symbols(f"p1:{m + 1}", positive=True)
    qs = sp.symbols(f"q1:{m + 1}", positive=True)
    terms = [pi ** a * qi ** (1 - a) for pi, qi in zip(ps, qs)]
    s = sum(terms)
    d = sp.log(s) / (a - 1)
    deriv = sp.diff(d, a)
    r = [t / s for t in terms]
    closed = sum(ri * sp.log(ri / pi) for ri, pi in zip(r, ps)) / (a - 1) ** 2
    return (a, ps, qs), deriv, closed


def derive_grad_logits(m: int = 3):
    """SymPy: gradient and Hessian in z of ``D_alpha(p || softmax(z))`` for ``m`` classes [rdml, Eq. (3)].

    Returns ``(symbols, d, grad, hess)`` with ``symbols = (alpha, ps, zs)``.
    """
    import sympy as sp

    require(isinstance(m, int) and m >= 2, "m", m, "be an integer >= 2")
    a = sp.Symbol("alpha", positive=True)
    ps = sp.symbols(f"p1:{m + 1}", positive=True)
    zs = sp.symbols(f"z1:{m + 1}", real=True)
    den = sum(sp.exp(zi) for zi in zs)
    qs = [sp.exp(zi) / den for zi in zs]
    d = sp.log(sum(pi ** a * qi ** (1 - a) for pi, qi in zip(ps, qs))) / (a - 1)
    grad = [sp.diff(d, zi) for zi in zs]
    hess = [[sp.diff(g, zj) for zj in zs] for g in grad]
    return (a, ps, zs), d, grad, hess


def derive_hessian_logits(m: int = 3):
    """SymPy: the Hessian of :func:`derive_grad_logits` (kept as its own name for discoverability)."""
    syms, d, grad, hess = derive_grad_logits(m)
    return syms, hess
