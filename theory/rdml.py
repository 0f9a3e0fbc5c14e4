r"""Closed forms for Rényi divergence deep mutual learning [rdml].

Everything of the paper that is a formula lives here, in two parts. Section 2 and
Supplements A-B: the Rényi divergence of order alpha between two categorical
distributions [rdml, Eq. (3)], its limits (alpha = 0, 1, inf), the alpha-tilted
("escort") distribution that its gradient is made of, and the gradient and Hessian of
``D_alpha(p || softmax(z))`` in the logits ``z`` -- the quantity a student
differentiates in the divergence loss of [rdml, Eq. (2)]. Section 3 and Supplement C:
the constants and bounds of the convergence analysis of Algorithm 1 (phi, L-hat, W,
sigma^2, the rate of Theorem 2), as printed and, where a printed constant is not
valid, corrected (``*_corrected``), and the exact derivatives of the divergence in
the parameters of *any* model (Jacobian and Hessians of p supplied), which is what
the verification searches over.

Divergence conventions (van Erven and Harremoës, 2014): ``0**alpha = 0`` for alpha > 0,
``0**0 = 0`` (so ``D_0(P||Q) = -log Q(supp P)``), ``x / 0 = inf`` for x > 0;
``D_1`` is the Kullback-Leibler divergence and ``D_inf`` the log of the
largest likelihood ratio. Every divergence lies in ``[0, inf]``; ``+inf`` is
returned where it is infinite and NaN is never produced.

The convergence analysis needs, for each student ``k`` with class probabilities
``p_k(mu | x, theta)``:

* Assumption 1: ``|p(theta) - p(theta')| <= L ||theta - theta'||`` (so ``||grad p|| <= L``),
  ``||grad^2 p|| <= H`` and ``p >= tau`` on the domain;
* Assumption 2: the per-point base loss is ``V``-smooth;
* Assumption 3: ``E ||grad L^base(d, theta_t)||^2 <= sigma_tilde^2`` along the run.

From these the paper builds phi (Lipschitz constant of the divergence, Lemma C.1),
L-hat (smoothness of the divergence loss, Lemma C.2), W = V + L-hat (Theorem 1),
sigma^2 = 2 sigma_tilde^2 + 2 phi^2 (Lemma 1) and the worst-case rate of Theorem 2.
There the divergence is ``D_alpha(q || p)`` with ``q`` the peer and ``p`` the student,
and ``w = escort(q, alpha, p)`` is the tilted law ``w ∝ q^alpha p^(1-alpha)``.

SymPy is imported inside the ``derive_*`` functions only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from kdtheory.theory._checks import (require, require_array, require_distribution, require_in, require_int,
                                     require_positive, require_real, require_type)

__all__ = [
    # Section 2, Supplements A-B: the divergence
    "log_softmax", "softmax", "renyi_divergence", "kl_divergence", "escort", "renyi_divergence_dalpha",
    "renyi_grad_logits", "renyi_hessian_logits", "squared_hellinger", "bhattacharyya_coefficient",
    "derive_kl_limit", "derive_alpha_derivative", "derive_grad_logits", "derive_hessian_logits",
    # Section 3, Supplement C: convergence of Algorithm 1
    "phi_printed", "phi_corrected", "phi_sharp_two_class", "lhat_printed", "lhat_corrected",
    "lhat_dml_printed", "lhat_dml_corrected", "smoothness_W_printed", "smoothness_W_corrected",
    "noise_sigma2", "theorem2_bound", "eqC16_bound", "eqC14_bound", "max_step_size", "step_size_ok",
    "softmax_regression_constants", "sigma_tilde2_along_run",
    "renyi_grad_params", "renyi_hessian_params", "base_grad_params", "base_hessian_params",
    "psi_power_mean", "derive_lhat_dml_limit", "derive_theorem2_bound", "derive_grad_params",
    "derive_phi_sharp_two_class", "derive_psi_power_mean",
]


# --- Section 2 and Supplements A-B: the Rényi divergence and its derivatives ---


# --------------------------------------------------------------------------- helpers


def _real_array(x, param: str, func: str, *, finite: bool) -> np.ndarray:
    """``x`` as a float64 array of real numbers: bool, str, complex and ragged input refused (TypeError)."""
    require_type(not isinstance(x, (bool, np.bool_)) and not (isinstance(x, np.ndarray) and x.dtype.kind in "bcOSU"),
                 param, x, "be a real number or an array of real numbers", func=func)
    return require_array(x, param, finite=finite, min_size=0, func=func)


def _logits(z, func: str) -> np.ndarray:
    z = _real_array(z, "z", func, finite=False)
    require(z.ndim >= 1 and z.shape[-1] >= 1, "z", z, "have a non-empty last axis", func=func)
    require(bool(np.all(np.isfinite(z))), "z", z, "be finite (no NaN or inf)", func=func)
    return z


def log_softmax(z) -> np.ndarray:
    """Log of the softmax along the last axis, computed stably (max-shifted log-sum-exp)."""
    z = _logits(z, "log_softmax")
    m = z.max(axis=-1, keepdims=True)
    s = z - m
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def softmax(z) -> np.ndarray:
    """Softmax along the last axis, computed stably; the probabilities of a logits vector [rdml, Sec. 2]."""
    z = _logits(z, "softmax")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _check_alpha(alpha, func: str) -> np.ndarray:
    a = _real_array(alpha, "alpha", func, finite=False)
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


def _check_batch(shapes, func: str, param: str = "alpha") -> tuple:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        require(False, param, shapes[-1], f"have a shape that broadcasts with the batch axes {shapes[:-1]}", func=func)


def _broadcast(p: np.ndarray, q: np.ndarray, a: np.ndarray, func: str = "renyi_divergence"):
    """Flatten (p, q, alpha) to rows: returns w (n, M), q (n, M), a (n,), output shape."""
    m = p.shape[-1]
    out_shape = _check_batch((p.shape[:-1], q.shape[:-1], a.shape), func)
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


def _q_phi(q: np.ndarray, w: np.ndarray, d: np.ndarray, ell: np.ndarray) -> np.ndarray:
    """q phi(d) with d = w/q - 1 and ell = log(w/q): series/direct form, or ``w ell - (w - q)``
    where d is huge (q subnormal: w/q overflows and phi(inf) would be NaN; nothing cancels there)."""
    huge = ~(np.abs(d) < 1e100)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(huge, w * ell - (w - q), q * _phi(np.where(huge, 0.0, d)))


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
    d, ell = _log_ratio(w, q, overlap)
    t = np.where(overlap, _q_phi(q, w, d, ell), np.where(sp, 0.0, q))
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
    off = np.where(sp, 0.0, q).sum(axis=-1)   # Q outside supp P
    on = np.where(sp, q, 0.0).sum(axis=-1)    # Q on supp P
    with np.errstate(divide="ignore", invalid="ignore"):
        d0 = np.where(on <= 0, np.inf, np.maximum(np.where(off < 0.5, -np.log1p(-off), -np.log(on)), 0.0))
    i0 = a == 0
    out[i0] = d0[i0]
    # alpha = inf: log max likelihood ratio; D_inf >= D_0 holds exactly, and the max keeps it
    # when rounding of q has hidden a tiny mass of Q outside supp P from the ratio
    iinf = np.isinf(a)
    if np.any(iinf):
        mx = np.where(overlap[iinf], ell[iinf], -np.inf).max(axis=-1)
        out[iinf] = np.where(missing[iinf], np.inf, np.maximum(np.maximum(mx, d0[iinf]), 0.0))
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
            qx = np.where(near, Q * x, W)  # q x = w (x = w/q overflows when q is subnormal)
            b_near = _q_phi(Q, W, Dl, L) + qx * L * _h(np.where(big, 0.0, y))
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
    return _renyi(p, q, alpha, "renyi_divergence")


def _renyi(p, q, alpha, func: str) -> np.ndarray | float:
    a = _check_alpha(alpha, func)
    p, q = _check_pair(p, q, func)
    w, v, aa, shape = _broadcast(p, q, a, func)
    d = _renyi_rows(np.ascontiguousarray(w), np.ascontiguousarray(v), aa).reshape(shape)
    return float(d) if d.ndim == 0 else d


def kl_divergence(p, q) -> np.ndarray | float:
    """KL divergence ``D_1(P || Q) = sum p log(p/q)`` [rdml, Sec. 2.1] (the alpha -> 1 limit of Eq. (3)).

    Same conventions and accuracy as :func:`renyi_divergence` at alpha = 1 (``inf`` where P is
    not absolutely continuous with respect to Q).
    """
    return _renyi(p, q, 1.0, "kl_divergence")


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
        shape = _check_batch((p.shape[:-1], a.shape), "escort")
        w = np.broadcast_to(p, shape + (m,)).reshape(-1, m)
        aa = np.broadcast_to(a, shape).reshape(-1)
        with np.errstate(divide="ignore"):
            r = _escort_rows(np.log(w), None, aa)
        return r.reshape(shape + (m,))
    p, q = _check_pair(p, q, "escort")
    w, v, aa, shape = _broadcast(p, q, a, "escort")
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
    require(bool(np.all((a > 0) & np.isfinite(a))), "alpha", alpha, "lie in (0, inf)", func="renyi_divergence_dalpha")
    p, q = _check_pair(p, q, "renyi_divergence_dalpha")
    require(not bool(np.any((p > 0) & (q == 0))), "q", q, "be > 0 wherever p > 0 (D_alpha finite for every alpha)",
            func="renyi_divergence_dalpha")
    w, v, aa, shape = _broadcast(p, q, a, "renyi_divergence_dalpha")
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
    z = _logits(z, func)
    require(z.shape[-1] == p.shape[-1], "z", z.shape, f"have {p.shape[-1]} classes like p", func=func)
    m = p.shape[-1]
    shape = _check_batch((p.shape[:-1], z.shape[:-1], a.shape), func)
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
            "have a unique argmax of p/softmax(z) when alpha = inf (D_inf is not differentiable at a tie)",
            func="renyi_hessian_logits")
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


# --- Section 3 and Supplement C: convergence of Algorithm 1 (constants and bounds) ---
#
# Overflow policy. Every calculator below returns an upper bound (a Lipschitz or smoothness
# constant, a noise bound, a convergence bound, a largest admissible step). Where the exact
# value exceeds the float64 range it is returned as ``+inf``, which is still a valid (vacuous)
# upper bound: ``value <= inf`` holds and a step limit of ``inf`` admits every finite step.
# Arithmetic is done in NumPy float64 (never Python float ``**``, which raises on overflow),
# and a product with an exactly zero factor is zero even when the other factor overflowed.
# Quantities that are not bounds (gradients, Hessians, Psi) raise a named ValueError instead
# of returning a non-finite value.

_SOFTMAX_H_MAX_CLASSES = 16  # softmax_regression_constants runs a multi-start search in M dimensions
_STEP_ROUNDING = 4 * np.finfo(float).eps  # eta = 1/W rounded once may exceed 1/W by an ulp


# --------------------------------------------------------------------------- input checks


def _check_common(tau: float, M: int, func: str) -> tuple[float, int]:
    M = require_int(M, "M", low=2, func=func)
    tau = require_in(tau, "tau", 0.0, 1.0 / M, closed="right", func=func)
    return tau, M


def _check_alpha_finite(alpha: float, func: str) -> float:
    alpha = require_real(alpha, "alpha", func=func)
    require(alpha >= 0, "alpha", alpha, "lie in [0, inf)", func=func)
    return alpha


def _check_tau_two(tau: float, func: str) -> float:
    return require_in(tau, "tau", 0.0, 0.5, closed="right", func=func)


def _f64(x) -> np.float64:
    return np.float64(x)


def _times(a, b) -> np.float64:
    """``a * b`` in float64: 0 when either factor is exactly 0 (no 0 * inf = NaN), inf on overflow."""
    a, b = _f64(a), _f64(b)
    if a == 0 or b == 0:
        return np.float64(0.0)
    with np.errstate(over="ignore"):
        return a * b


def _over(a, b) -> np.float64:
    """``a / b`` in float64 for b > 0: 0 when a == 0, inf on overflow."""
    a, b = _f64(a), _f64(b)
    if a == 0:
        return np.float64(0.0)
    with np.errstate(over="ignore", divide="ignore"):
        return a / b


def _plus(*terms) -> float:
    with np.errstate(over="ignore"):
        return float(np.sum(np.array(terms, dtype=np.float64)))


# --------------------------------------------------------------------------- phi (Lemma C.1)


def _phi_printed(L, tau, M, alpha, func: str) -> np.float64:
    L = require_positive(L, "L", func=func)
    tau, M = _check_common(tau, M, func)
    alpha = _check_alpha_finite(alpha, func)
    with np.errstate(over="ignore"):
        second = np.float64(M) * np.exp(np.float64(-alpha) * (np.log(tau) + (M - 1) * tau))
    return _times(min(_over(1.0, tau), second), L)


def phi_printed(L: float, tau: float, M: int, alpha: float) -> float:
    r"""The Lipschitz constant phi of the divergence as printed [rdml, Lemma C.1, Eq. (C.4), Theorem 1].

    ``phi = min{1/tau, M (tau e^{(M-1) tau})^{-alpha}} L``. The second branch comes from
    Eq. (C.4), which drops the normaliser ``1/Z`` (``Z < 1`` for alpha < 1); it is smaller
    than ``1/tau`` only for alpha < 1, where it is *not* a valid Lipschitz constant
    (see :func:`phi_corrected`). For alpha >= 1 the printed value equals ``L / tau``.
    """
    return float(_phi_printed(L, tau, M, alpha, "phi_printed"))


def phi_corrected(L: float, tau: float) -> float:
    r"""A valid Lipschitz constant of ``D_alpha(q || p(theta))`` in theta, for every alpha: ``L / tau``.

    Eq. (C.3) of [rdml, Lemma C.1] alone: ``grad D = -sum_mu w_mu grad p_mu / p_mu`` with
    ``w`` the tilted law (a probability vector), so ``||grad D|| <= L / tau``. It is the
    correction of the printed phi (drop the second branch of the min). It is the sharp
    constant as alpha -> inf (and near-sharp for alpha >= 1/2 and small tau, see
    :func:`phi_sharp_two_class`).
    """
    L = require_positive(L, "L", func="phi_corrected")
    tau = _check_tau_two(tau, "phi_corrected")
    return float(_over(L, tau))


def phi_sharp_two_class(L: float, tau: float, alpha: float) -> float:
    r"""Smallest Lipschitz constant valid for every two-class Assumption-1 model with constants (L, tau).

    With M = 2, ``grad p_2 = -grad p_1`` and ``||grad D|| = ||grad p_1|| |w_1/p_1 - w_2/p_2|``;
    the supremum over student/peer laws in ``[tau, 1 - tau]`` is attained at
    ``p = (tau, 1 - tau)``, ``q = (1 - tau, tau)`` and equals
    ``L (r^{2 alpha} - 1) / (tau r^{2 alpha} + 1 - tau)``, ``r = (1 - tau) / tau``
    (a linear model ``p_1 = tau + L theta`` on ``theta >= 0`` attains it). Tends to
    ``L / tau`` as alpha -> inf; equals ``L (1 - 2 tau) / (2 tau (1 - tau))`` at alpha = 1/2.
    Beyond the float64 range it returns ``inf`` (still a valid constant, no longer sharp).
    """
    L = require_positive(L, "L", func="phi_sharp_two_class")
    tau = _check_tau_two(tau, "phi_sharp_two_class")
    alpha = _check_alpha_finite(alpha, "phi_sharp_two_class")
    if tau == 0.5 or alpha == 0:
        return 0.0
    lr = np.log((1.0 - tau) / tau)
    e = np.exp(-2.0 * alpha * lr)  # r^{-2 alpha} in (0, 1]
    return float(_times(L, _over(-np.expm1(-2.0 * alpha * lr), tau + (1.0 - tau) * e)))


# --------------------------------------------------------------------------- L-hat, W (Lemma C.2, Cor. C.2, Thm 1)


def _lhat_printed(L, H, tau, M, alpha, func: str) -> float:
    H = require_positive(H, "H", strict=False, func=func)
    phi = _phi_printed(L, tau, M, alpha, func)
    alpha, L, tau = float(alpha), float(L), float(tau)
    return _plus(_times(abs(alpha - 1.0), _times(phi, phi)), _times(alpha, _times(L, L)), _times(tau, H))


def lhat_printed(L: float, H: float, tau: float, M: int, alpha: float) -> float:
    r"""Smoothness constant of the divergence loss as printed: ``|alpha-1| phi^2 + alpha L^2 + tau H``
    [rdml, Lemma C.2] with the printed phi.

    Not valid: the last step of Eq. (C.8) multiplies by tau where Eq. (C.2) gives a
    division (the second-order term is ``<= (alpha L^2 / tau + H) / tau``). See
    :func:`lhat_corrected`.
    """
    return _lhat_printed(L, H, tau, M, alpha, "lhat_printed")


def _lhat_corrected(L, H, tau, alpha, func: str) -> float:
    L = require_positive(L, "L", func=func)
    H = require_positive(H, "H", strict=False, func=func)
    tau = _check_tau_two(tau, func)
    alpha = _check_alpha_finite(alpha, func)
    ratio = _over(L, tau)
    return _plus(_over(H, tau), _times(max(1.0, alpha), _times(ratio, ratio)))


def lhat_corrected(L: float, H: float, tau: float, alpha: float) -> float:
    r"""A valid smoothness constant of the divergence loss: ``H / tau + max(1, alpha) L^2 / tau^2``.

    From ``grad^2 D = -sum w grad^2 p / p + alpha E_w[s s^T] + (1 - alpha) m m^T`` with
    ``s = grad log p``, ``m = E_w s`` [rdml, Lemma C.2 proof, corrected]: the last two terms
    form a PSD matrix below ``E_w[s s^T]`` (alpha <= 1) or ``alpha E_w[s s^T]`` (alpha > 1), and
    ``E_w ||s||^2 <= L^2 / tau^2``, ``sum_mu w_mu / p_mu <= 1 / tau``. The repaired printed form
    ``|alpha-1| (L/tau)^2 + alpha L^2/tau^2 + H/tau`` is also valid but never smaller.
    """
    return _lhat_corrected(L, H, tau, alpha, "lhat_corrected")


def lhat_dml_printed(L: float, H: float, tau: float) -> float:
    r"""The alpha -> 1 (KL, vanilla DML) smoothness constant as printed: ``L^2 + tau H`` [rdml, Corollary C.2]."""
    L = require_positive(L, "L", func="lhat_dml_printed")
    H = require_positive(H, "H", strict=False, func="lhat_dml_printed")
    tau = _check_tau_two(tau, "lhat_dml_printed")
    return _plus(_times(L, L), _times(tau, H))


def lhat_dml_corrected(L: float, H: float, tau: float) -> float:
    r"""A valid KL (alpha = 1) smoothness constant: ``H / tau + L^2 / tau^2`` (limit of :func:`lhat_corrected`)."""
    return _lhat_corrected(L, H, tau, 1.0, "lhat_dml_corrected")


def smoothness_W_printed(V: float, L: float, H: float, tau: float, M: int, alpha: float) -> float:
    r"""``W = V + |alpha-1| phi^2 + alpha L^2 + tau H`` as printed [rdml, Theorem 1]."""
    V = require_positive(V, "V", strict=False, func="smoothness_W_printed")
    return _plus(V, _lhat_printed(L, H, tau, M, alpha, "smoothness_W_printed"))


def smoothness_W_corrected(V: float, L: float, H: float, tau: float, alpha: float) -> float:
    r"""A valid smoothness constant of ``L_k``: ``V + H / tau + max(1, alpha) L^2 / tau^2`` [rdml, Theorem 1, corrected]."""
    V = require_positive(V, "V", strict=False, func="smoothness_W_corrected")
    return _plus(V, _lhat_corrected(L, H, tau, alpha, "smoothness_W_corrected"))


# --------------------------------------------------------------------------- sigma^2 (Lemma 1), Theorem 2


def noise_sigma2(sigma_tilde2: float, phi: float) -> float:
    r"""Second-moment bound of the stochastic gradient: ``sigma^2 = 2 sigma_tilde^2 + 2 phi^2`` [rdml, Lemma 1].

    Valid whenever ``phi`` bounds the per-point divergence gradient (use :func:`phi_corrected`).
    """
    s = require_positive(sigma_tilde2, "sigma_tilde2", strict=False, func="noise_sigma2")
    phi = require_positive(phi, "phi", strict=False, func="noise_sigma2")
    return _plus(_times(2.0, s), _times(2.0, _times(phi, phi)))


def _check_T(T, func: str) -> int:
    return require_int(T, "T", low=1, func=func)


def max_step_size(W: float, T: int) -> float:
    r"""Largest constant step allowed by Theorem 2: ``eta_t = eta / sqrt(T) <= 1 / (W sqrt(T))`` [rdml, Theorem 2].

    With ``T = 1`` it is the largest base step ``eta = 1/W`` (``inf`` when ``1/W`` overflows: every
    finite step is then admissible).
    """
    W = require_positive(W, "W", func="max_step_size")
    T = _check_T(T, "max_step_size")
    return float(_over(1.0, _times(W, np.sqrt(np.float64(T)))))


def step_size_ok(eta: float, W: float) -> bool:
    r"""Whether the base step satisfies ``eta <= 1 / W`` (i.e. ``eta_t = eta/sqrt(T) <= 1/(W sqrt(T))``) [rdml, Theorem 2].

    ``eta = 1/W`` rounded to float64 (e.g. ``max_step_size(W, 1)``) counts as admissible: the
    comparison allows the few ulp of that rounding.
    """
    eta = require_positive(eta, "eta", func="step_size_ok")
    W = require_positive(W, "W", func="step_size_ok")
    return bool(_times(eta, W) <= 1.0 + _STEP_ROUNDING)


def _check_thm2(delta_base, eta, T, W, sigma2, func):
    delta_base = require_positive(delta_base, "delta_base", strict=False, func=func)
    eta = require_positive(eta, "eta", func=func)
    T = _check_T(T, func)
    W = require_positive(W, "W", func=func)
    require(_times(eta, W) <= 1.0 + _STEP_ROUNDING, "eta", eta,
            f"satisfy the step-size condition eta <= 1/W = {float(_over(1.0, W)):.6g}", func=func)
    sigma2 = require_positive(sigma2, "sigma2", strict=False, func=func)
    return delta_base, eta, T, W, sigma2


def theorem2_bound(delta_base: float, eta: float, T: int, W: float, sigma2: float,
                   sigma_tilde2: float, phi: float) -> float:
    r"""The bound of Theorem 2 without O(.): ``2 Delta/(eta sqrt T) + sigma^2/sqrt T + 2 max(phi sigma_tilde, phi^2)``.

    [rdml, Theorem 2] with ``Delta = L^base_k(theta_1) - L^base_{k,*}`` and step
    ``eta_t = eta / sqrt(T)``, ``eta <= 1/W``. It dominates :func:`eqC16_bound` (which the
    proof actually derives) because ``eta W <= 1`` and ``sigma <= 2 max(sigma_tilde, phi)``.
    """
    delta_base, eta, T, W, sigma2 = _check_thm2(delta_base, eta, T, W, sigma2, "theorem2_bound")
    st = np.sqrt(require_positive(sigma_tilde2, "sigma_tilde2", strict=False, func="theorem2_bound"))
    phi = require_positive(phi, "phi", strict=False, func="theorem2_bound")
    rt = np.sqrt(np.float64(T))
    return _plus(_over(_times(2.0, delta_base), _times(eta, rt)), _over(sigma2, rt),
                 _times(2.0, max(_times(phi, st), _times(phi, phi))))


def eqC16_bound(delta_base: float, eta: float, T: int, W: float, sigma2: float, phi: float) -> float:
    r"""Eq. (C.16) with ``eta_t = eta/sqrt(T)``: ``2 Delta/(eta sqrt T) + eta W sigma^2/sqrt T + phi sigma`` [rdml, Eq. (C.16)]."""
    delta_base, eta, T, W, sigma2 = _check_thm2(delta_base, eta, T, W, sigma2, "eqC16_bound")
    phi = require_positive(phi, "phi", strict=False, func="eqC16_bound")
    rt = np.sqrt(np.float64(T))
    return _plus(_over(_times(2.0, delta_base), _times(eta, rt)), _over(_times(_times(eta, W), sigma2), rt),
                 _times(phi, np.sqrt(np.float64(sigma2))))


def eqC14_bound(delta_base: float, etas, W: float, sigma2: float, psi_sum: float) -> float:
    r"""Eq. (C.14): ``(Delta + sum eta_t^2 W sigma^2 / 2 + sum E Psi_t) / sum eta_t`` [rdml, Eq. (C.14)].

    With ``psi_sum <= 0`` and ``eta_t = eta/sqrt(T)`` this is the O(1/sqrt T) bound of
    [rdml, Theorem C.1]. The result may be negative only if ``psi_sum`` is very negative.
    Evaluated as ``Delta/S + (W sigma^2/2) sum(eta^2)/S + psi_sum/S`` with ``S = sum eta`` and the
    ratio of sums scaled by the largest step, so no intermediate overflows; when the terms overflow
    with opposite signs (an unrepresentable difference) a ValueError names ``psi_sum``.
    """
    func = "eqC14_bound"
    delta_base = require_positive(delta_base, "delta_base", strict=False, func=func)
    etas = _real_array(etas, "etas", func, finite=True).ravel()
    require(etas.size >= 1 and bool(np.all(etas > 0)), "etas", etas, "be a non-empty array of positive steps",
            func=func)
    W = require_positive(W, "W", func=func)
    sigma2 = require_positive(sigma2, "sigma2", strict=False, func=func)
    psi_sum = require_real(psi_sum, "psi_sum", func=func)
    top = float(etas.max())
    u = etas / top
    s_eta = _times(top, float(u.sum()))                    # sum eta_t
    sq_over_s = _times(top, float((u * u).sum() / u.sum()))  # sum eta_t^2 / sum eta_t
    terms = (_over(delta_base, s_eta), _times(_times(0.5, W), _times(sigma2, sq_over_s)),
             -_over(abs(psi_sum), s_eta) if psi_sum < 0 else _over(psi_sum, s_eta))
    with np.errstate(invalid="ignore"):
        value = _plus(*terms)
    require(not np.isnan(value), "psi_sum", psi_sum,
            "not cancel a bound that overflows float64 (the difference is not representable)", func=func)
    return value


def sigma_tilde2_along_run(base_sqnorm_means) -> float:
    r"""``sigma_tilde^2`` of Assumption 3 along a run: the largest logged ``E_d ||grad L^base(d, theta_t)||^2`` [rdml, Assumption 3]."""
    x = _real_array(base_sqnorm_means, "base_sqnorm_means", "sigma_tilde2_along_run", finite=True)
    require(x.size >= 1 and bool(np.all(x >= 0)), "base_sqnorm_means", x, "be non-empty and >= 0",
            func="sigma_tilde2_along_run")
    return float(x.max())


# --------------------------------------------------------------------------- softmax regression constants


def _l_sq_poly(M: int, tau: float) -> np.ndarray:
    """Coefficients of a^2 [(1-a)^2 + (1-a-(M-2)tau)^2 + (M-2) tau^2] (highest degree first)."""
    c = 1.0 - (M - 2) * tau
    inner = np.polyadd(np.polyadd([1.0, -2.0, 1.0], [1.0, -2.0 * c, c * c]), [(M - 2) * tau ** 2])
    return np.polymul([1.0, 0.0, 0.0], inner)


def _tau_simplex(u: np.ndarray, tau: float) -> np.ndarray:
    M = u.shape[-1]
    e = np.exp(u - u.max())
    return tau + (1.0 - M * tau) * e / e.sum()


@lru_cache(maxsize=256)
def _softmax_reg_H(M: int, tau: float) -> float:
    from scipy import optimize

    def h_of(p):
        C = np.diag(p) - np.outer(p, p)
        best = 0.0
        for mu in range(M):
            e = -p.copy()
            e[mu] += 1.0
            best = max(best, p[mu] * np.max(np.abs(np.linalg.eigvalsh(np.outer(e, e) - C))))
        return best

    rng = np.random.default_rng(12345)
    starts = [np.zeros(M)] + [rng.normal(scale=2.0, size=M) for _ in range(4)]
    for i in range(min(M, 3)):
        s = np.full(M, -1.0)
        s[i] = 1.0
        starts.append(s)
    best = 0.0
    for x0 in starts:
        res = optimize.minimize(lambda u: -h_of(_tau_simplex(u, tau)), x0, method="Nelder-Mead",
                                options={"maxiter": 150 * M, "xatol": 1e-9, "fatol": 1e-13})
        best = max(best, -res.fun)
    return best


def softmax_regression_constants(M: int, R: float, tau: float) -> dict:
    r"""Assumption 1-2 constants of a softmax-regression student ``p = softmax(W x)``, ``||x|| <= R``.

    Parameters theta = W (M x d, Frobenius norm), sup over every law ``p`` with all
    classes ``>= tau`` [rdml, Assumptions 1-2]:

    * ``L = R max_mu sup p_mu ||e_mu - p||``, exact: for fixed ``p_mu = a`` the sum of the other
      squares is largest at a vertex, leaving a quartic in ``a`` maximised at its critical points;
    * ``H = R^2 sup p_mu ||(e_mu - p)(e_mu - p)^T - diag(p) + p p^T||_2`` (multi-start search);
    * ``V = R^2 sup lambda_max(diag(p) - p p^T) = R^2 (1 - (M - 2) tau) / 2`` (smoothness of the
      per-point cross entropy; attained at ``p = (a, a, tau, ..., tau)``, eigenvector ``e_1 - e_2``;
      the tests confirm it against a multi-start search).

    ``M`` is capped at 16 (the search for H runs in M dimensions). ``R^2`` beyond the float64
    range gives ``H = V = inf`` (valid, vacuous bounds). Returns ``{"L", "H", "V", "tau", "R", "M"}``.
    """
    func = "softmax_regression_constants"
    M = require_int(M, "M", low=2, high=_SOFTMAX_H_MAX_CLASSES, func=func)
    tau, M = _check_common(tau, M, func)
    R = require_positive(R, "R", func=func)
    lo, hi = tau, 1.0 - (M - 1) * tau
    poly = _l_sq_poly(M, tau)
    cands = [lo, hi] + [r.real for r in np.roots(np.polyder(poly)) if abs(r.imag) < 1e-12 and lo <= r.real <= hi]
    l2 = max(np.polyval(poly, a) for a in cands)
    Hs = _softmax_reg_H(M, float(tau))
    Vs = 0.5 * (1.0 - (M - 2) * tau)
    R2 = _times(R, R)
    return {"L": float(_times(R, np.sqrt(max(l2, 0.0)))), "H": float(_times(R2, Hs)), "V": float(_times(R2, Vs)),
            "tau": float(tau), "R": float(R), "M": int(M)}


# --------------------------------------------------------------------------- derivatives for any model


def _finite_result(x: np.ndarray, func: str, param: str, value) -> np.ndarray:
    """Gradients and Hessians are not bounds: a result beyond float64 is an error, not inf."""
    require(bool(np.all(np.isfinite(x))), param, value,
            "keep the result within float64 (entries of p this small, or of jac/hess this large, overflow it)",
            func=func)
    return x


def _model_args(q, p, jac, func):
    q = require_distribution(q, "q", func=func)
    p = require_distribution(p, "p", func=func)
    require(bool(np.all(p > 0)), "p", p, "be > 0 in every class (Assumption 1: p >= tau > 0)", func=func)
    jac = _real_array(jac, "jac", func, finite=True)
    require(q.shape == p.shape, "q", q.shape, f"have the shape of p {p.shape}", func=func)
    require(jac.ndim == p.ndim + 1 and jac.shape[:-1] == p.shape and jac.shape[-1] >= 1, "jac", jac.shape,
            f"have shape p.shape + (P,) with p.shape = {p.shape} and P >= 1", func=func)
    colsum = np.abs(jac.sum(axis=-2))
    require(bool(np.all(colsum <= 1e-8 * (1.0 + np.abs(jac).sum(axis=-2)))), "jac", jac,
            "have columns summing to 0 (probabilities sum to 1)", func=func)
    return q, p, jac


def renyi_grad_params(q, p, jac, alpha: float) -> np.ndarray:
    r"""Gradient in theta of ``D_alpha(q || p(theta))`` for any model, from ``jac = d p / d theta``.

    ``grad D = -sum_mu w_mu jac_mu / p_mu``, ``w = escort(q, alpha, p)`` [rdml, Eq. (C.1)].
    Shapes: ``q, p`` (..., M), ``jac`` (..., M, P); returns (..., P).
    """
    func = "renyi_grad_params"
    q, p, jac = _model_args(q, p, jac, func)
    alpha = _check_alpha_finite(alpha, func)
    w = escort(q, alpha, p)
    with np.errstate(over="ignore", invalid="ignore"):
        g = -np.einsum("...m,...mi->...i", w / p, jac)
    return _finite_result(g, func, "p", p)


def renyi_hessian_params(q, p, jac, hess, alpha: float) -> np.ndarray:
    r"""Hessian in theta of ``D_alpha(q || p(theta))`` for any model [rdml, Lemma C.2 proof].

    ``-sum w_mu hess_mu / p_mu + alpha E_w[s s^T] + (1 - alpha) m m^T`` with
    ``s_mu = jac_mu / p_mu``, ``m = E_w s``; ``hess`` of shape (..., M, P, P).
    """
    func = "renyi_hessian_params"
    q, p, jac = _model_args(q, p, jac, func)
    alpha = _check_alpha_finite(alpha, func)
    hess = _real_array(hess, "hess", func, finite=True)
    P = jac.shape[-1]
    require(hess.shape == jac.shape + (P,), "hess", hess.shape, f"have shape jac.shape + (P,) = {jac.shape + (P,)}",
            func=func)
    w = escort(q, alpha, p)
    with np.errstate(over="ignore", invalid="ignore"):
        s = jac / p[..., None]
        m = np.einsum("...m,...mi->...i", w, s)
        h = (-np.einsum("...m,...mij->...ij", w / p, hess) + alpha * np.einsum("...m,...mi,...mj->...ij", w, s, s)
             + (1.0 - alpha) * m[..., :, None] * m[..., None, :])
    return _finite_result(h, func, "p", p)


def _base_args(y, p, jac, func):
    p = require_distribution(p, "p", func=func)
    require(bool(np.all(p > 0)), "p", p, "be > 0 in every class (the cross entropy is finite)", func=func)
    jac = _real_array(jac, "jac", func, finite=True)
    require(jac.ndim == p.ndim + 1 and jac.shape[:-1] == p.shape and jac.shape[-1] >= 1, "jac", jac.shape,
            f"have shape p.shape + (P,) with p.shape = {p.shape} and P >= 1", func=func)
    M = p.shape[-1]
    ok_type = (isinstance(y, (int, np.integer)) and not isinstance(y, (bool, np.bool_))) or \
        (isinstance(y, np.ndarray) and y.dtype.kind in "iu")
    require_type(ok_type, "y", y, "be an integer class index or an integer array of them", func=func)
    y = np.asarray(y)
    require(y.shape == p.shape[:-1] or y.ndim == 0, "y", y.shape, f"be a scalar or have the batch shape {p.shape[:-1]}",
            func=func)
    require(bool(np.all((y >= 0) & (y < M))), "y", y, f"be a class index in [0, {M})", func=func)
    yb = np.broadcast_to(y, p.shape[:-1])[..., None]
    py = np.take_along_axis(p, yb, axis=-1)[..., 0]
    jy = np.take_along_axis(jac, yb[..., None], axis=-2)[..., 0, :]
    return yb, py, jy


def base_grad_params(y, p, jac) -> np.ndarray:
    r"""Gradient of the cross entropy ``-log p_y(theta)`` [rdml, Eq. (1)] for any model: ``-jac_y / p_y``.

    Shapes: ``p`` (..., M), ``jac`` (..., M, P), ``y`` an integer or an integer array of the batch
    shape; returns (..., P).
    """
    func = "base_grad_params"
    _, py, jy = _base_args(y, p, jac, func)
    with np.errstate(over="ignore"):
        g = -jy / py[..., None]
    return _finite_result(g, func, "p", p)


def base_hessian_params(y, p, jac, hess) -> np.ndarray:
    r"""Hessian of ``-log p_y(theta)`` for any model: ``-hess_y / p_y + s_y s_y^T``, ``s_y = jac_y / p_y``
    [rdml, Assumption 2]; shapes as :func:`base_grad_params` with ``hess`` (..., M, P, P)."""
    func = "base_hessian_params"
    yb, py, jy = _base_args(y, p, jac, func)
    hess = _real_array(hess, "hess", func, finite=True)
    P = jy.shape[-1]
    require(hess.shape == np.shape(jac) + (P,), "hess", hess.shape,
            f"have shape jac.shape + (P,) = {np.shape(jac) + (P,)}", func=func)
    hy = np.take_along_axis(hess, yb[..., None, None], axis=-3)[..., 0, :, :]
    with np.errstate(over="ignore", invalid="ignore"):
        s = jy / py[..., None]
        h = -hy / py[..., None, None] + s[..., :, None] * s[..., None, :]
    return _finite_result(h, func, "p", p)


def psi_power_mean(q, p_t, p_next, alpha: float) -> tuple[float, float]:
    r"""Eqs. (C.17)-(C.18): ``Psi = D(q||p_t) - D(q||p_{t+1}) = -log phi_tilde`` [rdml, Supplement C.2.3].

    ``phi_mu = p_t(mu) / p_{t+1}(mu)`` and ``phi_tilde`` is the power mean of order
    ``1 - alpha`` of ``phi`` under the tilted law ``escort(q, alpha, p_{t+1})`` (the
    geometric mean at alpha = 1), so ``min phi <= phi_tilde <= max phi``. Returns
    ``(phi_tilde, -log phi_tilde)`` for one step (1-d laws of equal length).
    """
    func = "psi_power_mean"
    q = require_distribution(q, "q", func=func)
    p_t = require_distribution(p_t, "p_t", func=func)
    p_next = require_distribution(p_next, "p_next", func=func)
    require(q.ndim == 1, "q", q.shape, "be one law (1-d)", func=func)
    require(p_t.shape == q.shape, "p_t", p_t.shape, f"have the shape of q {q.shape}", func=func)
    require(p_next.shape == q.shape, "p_next", p_next.shape, f"have the shape of q {q.shape}", func=func)
    require(bool(np.all(p_t > 0)), "p_t", p_t, "be > 0 in every class", func=func)
    require(bool(np.all(p_next > 0)), "p_next", p_next, "be > 0 in every class", func=func)
    alpha = _check_alpha_finite(alpha, func)
    # log of the tilted law q^alpha p_next^(1 - alpha), unnormalised; 0^0 = 0 (supp q kept, as escort)
    lv = np.where(q > 0, alpha * np.log(np.where(q > 0, q, 1.0)), -np.inf) + (1.0 - alpha) * np.log(p_next)
    lv = lv - lv.max()
    lv = lv - np.log(np.exp(lv).sum())
    lphi = np.log(p_t) - np.log(p_next)
    if alpha == 1.0:
        w = np.exp(lv)
        lt = float(w[w > 0] @ lphi[w > 0])
    else:
        e = lv + (1.0 - alpha) * lphi
        mx = e.max()
        lt = float((mx + np.log(np.exp(e - mx).sum())) / (1.0 - alpha))
    return float(np.exp(lt)), -lt


# --------------------------------------------------------------------------- SymPy derivations


def derive_lhat_dml_limit():
    r"""SymPy: the alpha -> 1 limits of the printed L-hat (``L^2 + tau H``, Corollary C.2) and of the corrected one.

    Returns ``(printed_limit, corrected_limit)`` as SymPy expressions in ``L, H, tau``
    (with the printed phi, whose value at alpha = 1 is ``L / tau`` because ``M e^{-(M-1) tau} >= 1``).
    """
    import sympy as sp

    a = sp.Symbol("alpha", positive=True)
    L, H, tau = sp.symbols("L H tau", positive=True)
    phi1 = L / tau  # printed phi, any alpha near 1 (bounded)
    printed = sp.limit(sp.Abs(a - 1) * phi1 ** 2 + a * L ** 2 + tau * H, a, 1)
    corrected = sp.limit(H / tau + sp.Max(1, a) * L ** 2 / tau ** 2, a, 1, dir="-")
    return sp.simplify(printed), sp.simplify(corrected)


def derive_theorem2_bound():
    r"""SymPy: Eqs. (C.14)/(C.16) with ``eta_t = eta / sqrt(T)``, summed over t = 1..T.

    Returns ``(c16, symbols)``: the right side ``2 (Delta + sum eta_t^2 W sigma^2 / 2) / sum eta_t
    + sum eta_t phi sigma / sum eta_t`` simplified, in the symbols ``(Delta, eta, T, W, sigma, phi)``.
    """
    import sympy as sp

    Delta, eta, T, W, sigma, phi = sp.symbols("Delta eta T W sigma phi", positive=True)
    t = sp.Symbol("t", integer=True, positive=True)
    eta_t = eta / sp.sqrt(T)
    s1 = sp.summation(eta_t, (t, 1, T))
    s2 = sp.summation(eta_t ** 2, (t, 1, T))
    c16 = 2 * (Delta + s2 * W * sigma ** 2 / 2) / s1 + s1 * phi * sigma / s1
    return sp.simplify(c16), (Delta, eta, T, W, sigma, phi)


def derive_grad_params():
    r"""SymPy: gradient of ``D_alpha(q || p(theta))`` for a 3-class model with arbitrary smooth ``p(theta)``.

    Returns ``(symbols, grad, closed)`` where ``grad`` is ``d D / d theta`` and ``closed`` the
    escort form ``-sum w_mu p_mu' / p_mu``; ``p_3 = 1 - p_1 - p_2`` and ``p_1, p_2`` are
    undefined functions of a scalar theta.
    """
    import sympy as sp

    a, th = sp.symbols("alpha theta", positive=True)
    q = sp.symbols("q1:4", positive=True)
    f1, f2 = sp.Function("p1")(th), sp.Function("p2")(th)
    p = [f1, f2, 1 - f1 - f2]
    Z = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p))
    D = sp.log(Z) / (a - 1)
    grad = sp.diff(D, th)
    closed = -sum((qi ** a * pi ** (1 - a) / Z) * sp.diff(pi, th) / pi for qi, pi in zip(q, p))
    return (a, th, q, (f1, f2)), grad, closed


def derive_phi_sharp_two_class():
    r"""SymPy: ``|w_1/p_1 - w_2/p_2|`` at ``p = (tau, 1-tau)``, ``q = (1-tau, tau)`` for M = 2.

    Returns ``(expr, closed, symbols)`` with ``closed = (r^{2 alpha} - 1)/(tau r^{2 alpha} + 1 - tau)``,
    ``r = (1 - tau)/tau`` (see :func:`phi_sharp_two_class`).
    """
    import sympy as sp

    a, tau = sp.symbols("alpha tau", positive=True)
    p = [tau, 1 - tau]
    q = [1 - tau, tau]
    Z = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p))
    w = [qi ** a * pi ** (1 - a) / Z for qi, pi in zip(q, p)]
    expr = w[0] / p[0] - w[1] / p[1]
    r = (1 - tau) / tau
    closed = (r ** (2 * a) - 1) / (tau * r ** (2 * a) + 1 - tau)
    return expr, closed, (a, tau)


def derive_psi_power_mean():
    r"""SymPy: for 3 classes, ``D(q||p_t) - D(q||p_{t+1}) + log phi_tilde`` with ``phi_tilde`` the
    power mean of order ``1 - alpha`` under the tilted law of ``p_{t+1}`` [rdml, Eq. (C.17)].

    Returns ``(difference, symbols)``; the difference simplifies to 0.
    """
    import sympy as sp

    a = sp.Symbol("alpha", positive=True)
    q = sp.symbols("q1:4", positive=True)
    p0 = sp.symbols("u1:4", positive=True)
    p1 = sp.symbols("v1:4", positive=True)
    Z0 = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p0))
    Z1 = sum(qi ** a * pi ** (1 - a) for qi, pi in zip(q, p1))
    psi = (sp.log(Z0) - sp.log(Z1)) / (a - 1)
    v = [qi ** a * pi ** (1 - a) / Z1 for qi, pi in zip(q, p1)]
    mean = sum(vi * (ui / wi) ** (1 - a) for vi, ui, wi in zip(v, p0, p1))
    log_tilde = sp.log(mean) / (1 - a)
    return psi + log_tilde, (a, q, p0, p1)
