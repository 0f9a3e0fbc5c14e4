r"""Closed forms for "Distillation ~ Early Stopping? Anisotropic Information Retrieval" [air].

Setting (the paper's Sec. 3.3): a two-layer network ``f(W, x) = v^T phi(W x)`` with
``W in R^{k x d}`` trained, output layer fixed (half of ``v`` equal to ``1/sqrt(k)``, half to
``-1/sqrt(k)``), on ``n`` unit-norm inputs with labels in ``{-1, +1}``.  The Jacobian Gram
matrix at a Gaussian initialisation has expectation

    Sigma(X) = (X X^T) o E_{g ~ N(0, I_d)}[phi'(X g) phi'(X g)^T]        (Definition 2),

the neural tangent kernel of this architecture; ``lambda(X)`` is its smallest eigenvalue.

Notation of the proofs (Appendix A): ``alpha = sqrt(c_low n lambda(C) / (8 K))`` (a lower
bound on the Jacobian on the cluster subspace ``S+``), ``beta = Gamma sqrt(n)`` (an upper
bound), ``L = Gamma sqrt(n) / sqrt(k)`` (its Lipschitz constant), ``L_h = 4 / (1 - 2 rho)``
(the Lipschitz constant of the label function ``h``), ``Theta`` (a bound on the residual),
``M = c + 1`` with ``c sqrt(k)`` a bound on ``||W||``; the mixing weight of Algorithm 1 is
called ``a_t`` here (the paper reuses ``alpha_t``).

Calculators come in pairs where the paper errs: the plain name evaluates the statement as
printed, ``*_corrected`` what the proof actually gives (see ``kdtheory.verify.air``).

Quadrature: every kernel entry is a Gaussian expectation in the 2-D plane spanned by the pair
``(x_i, x_j)``.  It is computed in polar coordinates of that plane with Gauss-Legendre rules
in the angle on each of the four sectors cut by the lines ``x_i . g = 0`` and ``x_j . g = 0``
and in the radius on ``[0, 12]`` (the Gaussian tail beyond 12 is below ``1e-31``).  On each
sector the integrand is smooth for every activation that is smooth away from 0 (ReLU and its
step derivative included), so the rule converges geometrically; a plain tensor Gauss-Hermite
rule converges only algebraically for ReLU-type kinks and slowly as the pair's correlation
tends to 1.  The error estimate is four times the difference to the same rule with half the nodes (the
factor covers stalled, non-monotone convergence for row norms of a few units; ``air.def2`` checks it against
the rule with twice the nodes).

SymPy is imported inside the ``derive_*`` functions only.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np

from kdtheory.theory._checks import (require, require_array, require_choice, require_in, require_int,
                                     require_positive, require_real, require_type)

__all__ = [
    # Definition 2 and Sec. 2.3: kernels, spectra
    "ACTIVATIONS", "activation_gamma", "ntk_gram", "ntk_lambda", "initial_output_covariance",
    "residual_factors", "air_order_max_step",
    # Definition 1 and Sec. 3.2: the data model, noise among eigenspaces, Fig. 2
    "data_model_constants", "label_function", "noise_top_fraction", "noise_top_fraction_bound",
    "expected_top_energy",
    # Lemmas 1-4, 6-8
    "lemma1_bounds", "lemma2_bounds", "lemma3_bound", "lemma4_bound", "lemma6_constants",
    "lemma6_residual_bound", "lemma6_movement_bound", "lemma7_contraction",
    "lemma8_bounds", "lemma8_conditions", "lemma8_p0_bound", "lemma8_bounds_corrected",
    "lemma8_conditions_corrected", "derive_lemma6", "derive_lemma8",
    # Theorem 1
    "theorem1_step_size", "theta_bound", "initial_residual_bound", "initial_residual_bound_corrected",
    "t1_lemma6", "t1_theorem", "t1_corrected", "t2_index", "schedule_conditions", "jacobian_lower_bound",
    "width_requirement_stated", "width_requirement_proof", "width_requirement_corrected", "radius_condition_stated",
    "lambda_upper_bound_from_radius", "derive_final_proof",
    # Sec. 3.4
    "accuracy_schedule", "accuracy_schedule_corrected",
    "HOEFFDING_C3",
]

ACTIVATIONS = ("relu", "tanh", "softplus")
HOEFFDING_C3 = 1.0 / math.sqrt(math.log(8.0)) + math.sqrt(2.0)  # a valid C3 (see theta_bound)

_MAX_N = 2000            # data points of a kernel matrix
_MAX_NODES = 256         # quadrature nodes per direction
_MAX_STEPS = 10 ** 9     # lengths of schedules and iteration counts
_RADIUS = 12.0           # radial cut-off of the Gaussian plane integrals
_MAX_NORM = 16.0         # row norms accepted by the quadrature


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------


def _sigmoid(u):
    out = np.empty_like(u)
    pos = u >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-u[pos]))
    e = np.exp(u[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _phi(name: str, u: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(u, 0.0)
    if name == "tanh":
        return np.tanh(u)
    return np.logaddexp(0.0, u)


def _dphi(name: str, u: np.ndarray) -> np.ndarray:
    if name == "relu":
        return (u > 0).astype(float)
    if name == "tanh":
        t = np.tanh(u)
        return 1.0 - t * t
    return _sigmoid(u)


def _activation(activation, func: str, what: str) -> tuple[str | None, Callable | None]:
    """A name of ACTIVATIONS or a vectorised callable (``what`` says which function it must be)."""
    if callable(activation):
        return None, activation
    require_type(isinstance(activation, str), "activation", activation, f"be one of {ACTIVATIONS} or a callable {what}",
                 func=func)
    require_choice(activation, "activation", ACTIVATIONS, func=func)
    return activation, None


def activation_gamma(activation: str) -> float:
    r"""The smallest admissible ``Gamma`` of Theorem 1 for a named activation [air, Thm. 1].

    Theorem 1 assumes ``|phi(0)|``, ``|phi'|`` and ``|phi''|`` bounded by ``Gamma >= 1``:
    tanh gives ``max(0, 1, 4/(3 sqrt 3)) -> 1``, softplus ``max(log 2, 1, 1/4) -> 1``; ReLU has an
    unbounded second derivative (a Dirac mass at 0), so no finite ``Gamma`` exists (``inf``).
    """
    require_type(isinstance(activation, str), "activation", activation, f"be one of {ACTIVATIONS}")
    require_choice(activation, "activation", ACTIVATIONS)
    return math.inf if activation == "relu" else 1.0


# ---------------------------------------------------------------------------------------------
# Definition 2: the kernel and its smallest eigenvalue
# ---------------------------------------------------------------------------------------------


def _data(X, func: str, quadrature: bool = False) -> np.ndarray:
    X = require_array(X, "X", ndim=2, func=func)
    require(X.shape[0] <= _MAX_N, "X", X.shape, f"have at most {_MAX_N} rows", func=func)
    require(X.shape[1] <= 10_000, "X", X.shape, "have at most 10000 columns", func=func)
    norms = np.linalg.norm(X, axis=1)
    require(bool(np.all(norms > 0)), "X", X, "have no zero row", func=func)
    require(bool(np.all(norms < 1e150)), "X", X, "have row norms below 1e150", func=func)
    if quadrature:
        require(bool(np.all(norms <= _MAX_NORM)), "X", X,
                f"have row norms at most {_MAX_NORM} for quadrature (the nodes grow with the norm)", func=func)
    return X


def _nodes(nodes, func: str) -> int:
    m = require_int(nodes, "nodes", low=4, high=_MAX_NODES, func=func)
    require(m % 2 == 0, "nodes", nodes, "be even (the error estimate uses half the nodes)", func=func)
    return m


def _plane_rule(m: int, s: int):
    """Gauss-Legendre nodes on [-1, 1] for the angle (``m s`` per sector) and, on ``s`` equal panels of
    ``[0, 12]``, ``2 m`` nodes each for the radius (``s`` grows with the row norms, which narrow the integrand)."""
    xa, wa = np.polynomial.legendre.leggauss(m * s)
    xr, wr = np.polynomial.legendre.leggauss(2 * m)
    h = _RADIUS / s
    r = np.concatenate([p * h + (xr + 1.0) * h / 2.0 for p in range(s)])
    wr = np.tile(wr * h / 2.0, s) * r * np.exp(-r * r / 2.0) / (2.0 * np.pi)
    return xa, wa, r, wr


def _plane_expectation(f1, f2, a, b, theta, m: int) -> np.ndarray:
    r"""``E[f1(a z . e1) f2(b z . e(theta))]`` for ``z ~ N(0, I_2)``, vectorised over pairs.

    ``a, b`` (norms) and ``theta`` (angles) are 1-D arrays of one length; sectors are cut at the
    zeros of both arguments.
    """
    xa, wa, r, wr = _plane_rule(m, max(1, int(math.ceil(float(max(a.max(), b.max())) * (1 - 1e-9)))))
    P = a.size
    cuts = np.mod(np.stack([np.full(P, np.pi / 2), np.full(P, 3 * np.pi / 2), theta + np.pi / 2,
                            theta + 3 * np.pi / 2], axis=1), 2 * np.pi)
    cuts = np.sort(cuts, axis=1)
    edges = np.concatenate([cuts, cuts[:, :1] + 2 * np.pi], axis=1)
    total = np.zeros(P)
    for s in range(4):
        lo, hi = edges[:, s], edges[:, s + 1]
        half = (hi - lo) / 2.0
        psi = lo[:, None] + (xa[None, :] + 1.0) * half[:, None]             # (P, m)
        w = wa[None, :] * half[:, None]
        u = (a[:, None] * np.cos(psi))[:, :, None] * r[None, None, :]          # (P, m, 2m)
        v = (b[:, None] * np.cos(psi - theta[:, None]))[:, :, None] * r[None, None, :]
        with np.errstate(over="ignore", under="ignore"):
            vals = np.asarray(f1(u), dtype=float) * np.asarray(f2(v), dtype=float)
        total += np.einsum("pm,pmr,r->p", w, vals, wr)
    return total


def _pairwise(X, f1, f2, m: int, chunk: int = 256) -> np.ndarray:
    """Matrix of plane expectations over all pairs (upper triangle, mirrored)."""
    n = X.shape[0]
    norms = np.linalg.norm(X, axis=1)
    U = X / norms[:, None]
    cos = np.clip(U @ U.T, -1.0, 1.0)
    iu, ju = np.triu_indices(n)
    out = np.empty(iu.size)
    for s in range(0, iu.size, chunk):
        i, j = iu[s:s + chunk], ju[s:s + chunk]
        out[s:s + chunk] = _plane_expectation(f1, f2, norms[i], norms[j], np.arccos(cos[i, j]), m)
    G = np.zeros((n, n))
    G[iu, ju] = out
    G[ju, iu] = out
    return G


def _checked_finite(G: np.ndarray, func: str, what: str) -> np.ndarray:
    require(bool(np.all(np.isfinite(G))), "activation", what, "give finite Gaussian expectations on these data",
            func=func)
    return G


def ntk_gram(X, activation="relu", *, nodes: int = 24, return_error: bool = False):
    r"""The matrix ``Sigma(X)`` of Definition 2: the infinite-width Jacobian Gram matrix [air, Def. 2].

    ``Sigma_ij = (x_i . x_j) E[phi'(x_i . g) phi'(x_j . g)]``, ``g ~ N(0, I_d)``; it equals
    ``E_W[J(W, X) J(W, X)^T]`` at every even width for ``W ~ N(0, 1)^{k x d}``.  ``activation``:
    ``"relu"`` (closed form: the degree-0 arc-cosine kernel ``(pi - theta_ij) / (2 pi)``),
    ``"tanh"``, ``"softplus"``, or a vectorised callable **giving phi'** (the derivative is all
    the kernel needs), both by quadrature in the plane of each pair (module docstring) with
    ``nodes`` angular nodes per sector (times the largest row norm, rounded up; row norms at most 16).
    With ``return_error`` the result is ``(Sigma, err)``,
    ``err`` the entrywise quadrature error estimate, four times the difference to the rule with half the
    nodes (zeros for the ReLU closed form).
    """
    func = "ntk_gram"
    name, fn = _activation(activation, func, "phi' (the derivative of the activation)")
    X = _data(X, func, quadrature=name != "relu")
    m = _nodes(nodes, func)
    require_type(isinstance(return_error, (bool, np.bool_)), "return_error", return_error, "be a bool", func=func)
    U = X / np.linalg.norm(X, axis=1)[:, None]
    inner = X @ X.T
    if name == "relu":
        theta = np.arccos(np.clip(U @ U.T, -1.0, 1.0))
        G = inner * (np.pi - theta) / (2.0 * np.pi)
        err = np.zeros_like(G)
    else:
        d = fn if fn is not None else (lambda u, _n=name: _dphi(_n, u))
        E = _pairwise(X, d, d, m)
        E_half = _pairwise(X, d, d, m // 2) if return_error else E
        G, err = inner * E, 4.0 * np.abs(inner) * np.abs(E - E_half)
        _checked_finite(G, func, "callable" if fn is not None else name)
    G = (G + G.T) / 2.0
    return (G, err) if return_error else G


def ntk_lambda(X, activation="relu", *, nodes: int = 24) -> float:
    r"""``lambda(X)``: the smallest eigenvalue of ``Sigma(X)`` [air, Def. 2] (``>= 0`` up to rounding)."""
    G = ntk_gram(X, activation, nodes=nodes)
    return float(np.linalg.eigvalsh(G)[0])


def initial_output_covariance(X, activation="relu", *, nodes: int = 24, return_error: bool = False):
    r"""Covariance of the initial outputs ``f(W_0, x_i)`` over ``W_0 ~ N(0, 1)^{k x d}`` [air, Thm. 1 proof].

    With half of ``v`` equal to ``+1/sqrt(k)`` and half to ``-1/sqrt(k)``, ``E f = 0`` and
    ``Cov(f(x_i), f(x_j)) = Cov_g(phi(x_i . g), phi(x_j . g))`` exactly, at every even width.
    ``activation``: a name of :data:`ACTIVATIONS` or a vectorised callable **giving phi**; ReLU in
    closed form (degree-1 arc-cosine kernel minus the product of the means ``|x|/sqrt(2 pi)``).
    """
    func = "initial_output_covariance"
    name, fn = _activation(activation, func, "phi (the activation)")
    X = _data(X, func, quadrature=name != "relu")
    m = _nodes(nodes, func)
    require_type(isinstance(return_error, (bool, np.bool_)), "return_error", return_error, "be a bool", func=func)
    norms = np.linalg.norm(X, axis=1)
    if name == "relu":
        U = X / norms[:, None]
        theta = np.arccos(np.clip(U @ U.T, -1.0, 1.0))
        second = np.outer(norms, norms) * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2.0 * np.pi)
        C = second - np.outer(norms, norms) / (2.0 * np.pi)
        err = np.zeros_like(C)
    else:
        f = fn if fn is not None else (lambda u, _n=name: _phi(_n, u))
        one = lambda u: np.ones_like(u)
        S = _pairwise(X, f, f, m)
        S_half = _pairwise(X, f, f, m // 2) if return_error else S
        mean = np.diag(_pairwise(X, f, one, m))
        mean_half = np.diag(_pairwise(X, f, one, m // 2)) if return_error else mean
        C = S - np.outer(mean, mean)
        err = 4.0 * (np.abs(S - S_half) + np.abs(np.outer(mean, mean) - np.outer(mean_half, mean_half)))
        _checked_finite(C, func, "callable" if fn is not None else name)
    C = (C + C.T) / 2.0
    return (C, err) if return_error else C


# ---------------------------------------------------------------------------------------------
# Sec. 2.3: residual decay per eigendirection and the AIR ordering
# ---------------------------------------------------------------------------------------------


def _eigs(eigenvalues, func: str) -> np.ndarray:
    lam = require_array(eigenvalues, "eigenvalues", ndim=1, max_size=10 ** 6, func=func)
    require(bool(np.all(lam >= 0)), "eigenvalues", lam, "be >= 0 (a PSD Gram matrix)", func=func)
    return lam


def residual_factors(eigenvalues, t, *, eta=None):
    r"""Factor by which the residual component along each eigenvector is multiplied [air, Sec. 2.3].

    Gradient descent with step ``eta``: ``(1 - eta lambda_i)^t`` (``t`` a non-negative
    integer); gradient flow (``eta=None``): ``exp(-lambda_i t)`` (``t >= 0`` real).  Returns an
    array of the shape of ``eigenvalues``.
    """
    func = "residual_factors"
    lam = _eigs(eigenvalues, func)
    if eta is None:
        tt = require_real(t, "t", func=func)
        require(tt >= 0, "t", t, "be >= 0", func=func)
        return np.exp(-lam * tt)
    e = require_positive(eta, "eta", func=func)
    tt = require_int(t, "t", low=0, high=_MAX_STEPS, func=func)
    with np.errstate(over="ignore"):
        q = 1.0 - e * lam
        out = np.sign(q) ** tt * np.exp(tt * np.log(np.abs(q))) if tt > 0 else np.ones_like(lam)
    out = np.where(q == 0.0, 0.0 if tt > 0 else 1.0, out)
    require(bool(np.all(np.isfinite(out))), "eta", eta, "keep |1 - eta lambda|^t finite (the iteration diverges)",
            func=func)
    return out


def air_order_max_step(eigenvalues) -> float:
    r"""Largest GD step for which larger eigenvalues are fitted no slower [air, Sec. 2.3, corrected].

    ``|1 - eta l_i| <= |1 - eta l_j|`` for every pair ``l_i > l_j >= 0`` iff
    ``eta (l_1 + l_2) <= 2`` (``l_1 >= l_2`` the two largest distinct eigenvalues); the paper's
    statement "the component along a larger eigenvalue converges faster" needs this step
    limit, strictly below the convergence limit ``2 / l_1``.  ``inf`` for fewer than two
    distinct positive eigenvalues (then nothing is ordered).
    """
    lam = np.unique(_eigs(eigenvalues, "air_order_max_step"))[::-1]
    if lam.size < 2 or lam[0] <= 0:
        return math.inf
    return float(2.0 / (lam[0] + lam[1]))


# ---------------------------------------------------------------------------------------------
# Definition 1 and Sec. 3.2: the (eps, rho)-clusterable data model, noise among eigenspaces
# ---------------------------------------------------------------------------------------------


def _labels(y, n: int, name: str, func: str) -> np.ndarray:
    y = require_array(y, name, ndim=1, func=func)
    require(y.size == n, name, y.shape, f"have one entry per data point ({n})", func=func)
    require(bool(np.all(np.abs(y) == 1.0)), name, y, "have entries in {-1, +1}", func=func)
    return y


def _assignment(assignment, n: int, func: str) -> tuple[np.ndarray, int]:
    a = require_array(assignment, "assignment", ndim=1, func=func)
    require(a.size == n, "assignment", a.shape, f"have one entry per data point ({n})", func=func)
    require(bool(np.all(a == np.round(a))) and bool(np.all(a >= 0)), "assignment", a,
            "hold cluster indices 0..K-1", func=func)
    a = a.astype(np.int64)
    K = int(a.max()) + 1
    require(np.unique(a).size == K, "assignment", a, "use every cluster index 0..K-1", func=func)
    return a, K


def data_model_constants(X, centers, assignment, y_noisy, y_clean) -> dict:
    r"""The constants of an (eps, rho)-clusterable data set [air, Definition 1].

    Returns ``n, K, cluster_sizes``, ``c_low`` (the largest constant with
    ``n_l >= c_low n / K``), ``eps`` (the largest distance of a point to its center), ``rho_l``
    (fraction of wrong labels per cluster) and ``rho = max rho_l``, and whether the
    hypotheses hold (``unit_norm``: every point and center has norm 1 to 1e-12;
    ``clean_constant``: the ground truth is constant on each cluster; ``rho < 1/2``).
    """
    func = "data_model_constants"
    X = _data(X, func)
    n = X.shape[0]
    C = require_array(centers, "centers", ndim=2, func=func)
    require(C.shape[1] == X.shape[1], "centers", C.shape, f"have {X.shape[1]} columns like X", func=func)
    a, K = _assignment(assignment, n, func)
    require(C.shape[0] == K, "centers", C.shape, f"have one row per cluster ({K})", func=func)
    y = _labels(y_noisy, n, "y_noisy", func)
    yc = _labels(y_clean, n, "y_clean", func)
    sizes = np.bincount(a, minlength=K)
    dist = np.linalg.norm(X - C[a], axis=1)
    rho_l = np.array([float(np.mean(y[a == l] != yc[a == l])) for l in range(K)])
    clean_constant = all(np.unique(yc[a == l]).size == 1 for l in range(K))
    unit = bool(np.all(np.abs(np.linalg.norm(X, axis=1) - 1) <= 1e-12)
                and np.all(np.abs(np.linalg.norm(C, axis=1) - 1) <= 1e-12))
    rho = float(rho_l.max())
    return {"n": n, "K": K, "cluster_sizes": sizes, "c_low": float(K * sizes.min() / n), "eps": float(dist.max()),
            "rho_l": rho_l, "rho": rho, "unit_norm": unit, "clean_constant": bool(clean_constant),
            "rho_below_half": bool(rho < 0.5)}


def label_function(x, rho: float):
    r"""The label function ``h`` of Theorem 1 / Lemma 6 [air, Thm. 1]: ``4x/(1-2 rho)`` clipped to ``[-1, 1]``.

    It is the identity scaled by ``L_h = 4 / (1 - 2 rho)`` for ``|x| <= (1 - 2 rho)/4`` and ``sgn x`` beyond.
    """
    func = "label_function"
    r = require_in(rho, "rho", 0.0, 0.5, closed="left", func=func)
    x = require_array(x, "x", ndim=(0, 1, 2), min_size=1, func=func)
    out = np.clip(4.0 * x / (1.0 - 2.0 * r), -1.0, 1.0)
    return float(out) if out.ndim == 0 else out


def noise_top_fraction(assignment, y_noisy, y_clean) -> float:
    r"""Fraction of the label-noise energy ``||y - y~||^2`` on the cluster subspace ``S+`` [air, Sec. 3.2].

    At ``eps = 0`` the kernel ``Sigma(X~)`` has rank ``K`` with range ``S+`` (vectors constant on
    clusters; ``lambda(C) > 0``), so ``S+`` *is* its top-``K`` eigenspace and this is the exact
    share of the noise there: ``sum_l n_l rho_l^2 / sum_l n_l rho_l`` (the noise projects onto
    ``-2 rho_l y~_l`` on cluster ``l``).  It lies in ``[0, rho]``; 0 only without noise (returned as 0).
    """
    func = "noise_top_fraction"
    a = require_array(assignment, "assignment", ndim=1, func=func)
    n = a.size
    a, K = _assignment(a, n, func)
    y = _labels(y_noisy, n, "y_noisy", func)
    yc = _labels(y_clean, n, "y_clean", func)
    wrong = (y != yc).astype(float)
    if wrong.sum() == 0:
        return 0.0
    sizes = np.bincount(a, minlength=K).astype(float)
    rho_l = np.bincount(a, weights=wrong, minlength=K) / sizes
    return float(np.sum(sizes * rho_l ** 2) / np.sum(sizes * rho_l))


def noise_top_fraction_bound(fraction_at_centers: float, perturbation: float, gap: float) -> float:
    r"""Upper bound on the noise-energy share in the top-``K`` eigenspace for ``eps > 0`` [air, Sec. 3.2, corrected].

    With ``E = Sigma(X) - Sigma(X~)`` (``perturbation = ||E||``) and ``gap = lambda_K(Sigma(X~))``,
    Davis-Kahan gives ``||P_top - P_S+|| <= s = ||E|| / (gap - ||E||)`` (when ``||E|| < gap``), hence
    ``sqrt(share) <= sqrt(fraction_at_centers) + s``; the bound is capped at 1 (``1`` when ``||E|| >= gap``).
    """
    func = "noise_top_fraction_bound"
    f0 = require_in(fraction_at_centers, "fraction_at_centers", 0.0, 1.0, func=func)
    e = require_positive(perturbation, "perturbation", strict=False, func=func)
    g = require_positive(gap, "gap", func=func)
    if e >= g:
        return 1.0
    s = e / (g - e)
    return float(min(1.0, (math.sqrt(f0) + s) ** 2))


def expected_top_energy(gram, y_clean, p: float, *, top: int = 5) -> float:
    r"""``E ||P y||^2 / ||y||^2`` for labels flipped independently with probability ``p`` [air, Fig. 2].

    ``P`` projects onto the eigenvectors of the ``top`` largest eigenvalues of ``gram``; with
    ``a = ||P y~||^2`` and ``m = tr P = top``: ``((1 - 2p)^2 a + 4 p (1 - p) m) / n``.  It
    decreases on ``[0, 1/2]`` iff ``a > m`` (clean labels more aligned with the top eigenspace
    than a random sign vector).
    """
    func = "expected_top_energy"
    G = require_array(gram, "gram", ndim=2, func=func)
    n = G.shape[0]
    require(G.shape == (n, n) and n <= _MAX_N, "gram", G.shape, f"be square with at most {_MAX_N} rows", func=func)
    require(bool(np.allclose(G, G.T, rtol=1e-10, atol=1e-14 * max(1.0, float(np.abs(G).max())))), "gram", G,
            "be symmetric", func=func)
    yc = _labels(y_clean, n, "y_clean", func)
    pp = require_in(p, "p", 0.0, 1.0, func=func)
    m = require_int(top, "top", low=1, high=n, func=func)
    w, V = np.linalg.eigh(G)
    Vt = V[:, -m:]
    a = float(np.sum((Vt.T @ yc) ** 2))
    return float(((1 - 2 * pp) ** 2 * a + 4 * pp * (1 - pp) * m) / n)


# ---------------------------------------------------------------------------------------------
# Lemmas 1-4: Jacobian bounds
# ---------------------------------------------------------------------------------------------


def _gamma(Gamma, func: str) -> float:
    g = require_real(Gamma, "Gamma", func=func)
    require(g >= 1.0, "Gamma", Gamma, "be >= 1 (Theorem 1 assumes Gamma >= 1)", func=func)
    return g


def _count(x, name: str, func: str, low: int = 1) -> int:
    return require_int(x, name, low=low, high=10 ** 15, func=func)


def _prob(delta, func: str) -> float:
    return require_in(delta, "delta", 0.0, 1.0, closed="neither", func=func)


def lemma1_bounds(Gamma: float, n: int, k: int, lam: float, delta: float) -> dict:
    r"""The constants of Lemma 1 [air, Lemma 1, Eq. (1)] for unit-norm data ``X`` with ``lambda(X) = lam``.

    ``lipschitz = Gamma sqrt(n) / sqrt(k)`` (``||J(W) - J(W~)|| <= lipschitz ||W - W~||_F``),
    ``norm = Gamma sqrt(n)`` (``||J(W)|| <= norm``), ``width = 20 Gamma^2 n log(n/delta) / lam``
    and ``sigma_min = sqrt(lam / 2)`` (for ``k >= width``, ``sigma_min(J(W_0, X)) >= sigma_min``
    with probability ``>= 1 - delta``).
    """
    func = "lemma1_bounds"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    k = _count(k, "k", func)
    lm = require_positive(lam, "lam", func=func)
    dl = _prob(delta, func)
    return {"lipschitz": g * math.sqrt(n) / math.sqrt(k), "norm": g * math.sqrt(n),
            "width": 20 * g * g * n * math.log(n / dl) / lm, "sigma_min": math.sqrt(lm / 2)}


def lemma2_bounds(Gamma: float, n: int, K: int, k: int, c_low: float, lam_C: float, delta: float) -> dict:
    r"""The constants of Lemma 2 [air, Lemma 2, Eq. (2)] for an eps-clusterable data set with centers ``C``.

    ``lipschitz``, ``norm`` as in Lemma 1 (with ``c_up <= 1``), ``width = 20 Gamma^2 K log(K/delta) / lambda(C)``
    and ``sigma_min_S = sqrt(c_low n lambda(C) / (2K))``, the lower bound on ``sigma_min(J(W_0, X~), S+)``.
    """
    func = "lemma2_bounds"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    K = _count(K, "K", func)
    require(K <= n, "K", K, f"be <= n = {n}", func=func)
    k = _count(k, "k", func)
    c = require_in(c_low, "c_low", 0.0, 1.0, closed="right", func=func)
    lm = require_positive(lam_C, "lam_C", func=func)
    dl = _prob(delta, func)
    return {"lipschitz": g * math.sqrt(n) / math.sqrt(k), "norm": g * math.sqrt(n),
            "width": 20 * g * g * K * math.log(K / dl) / lm, "sigma_min_S": math.sqrt(c * n * lm / (2 * K))}


def lemma3_bound(Gamma: float, n: int, k: int, eps: float, dW_fro, W_tilde_norm):
    r"""Right side of Lemma 3, Eq. (3): ``Gamma sqrt(n)/sqrt(k) (||W - W~||_F + eps ||W~|| + eps sqrt(k))`` [air].

    Bounds ``||J(W, X) - J(W~, X~)||`` for an eps-clusterable ``X`` with centers ``X~``;
    ``dW_fro`` and ``W_tilde_norm`` (spectral) broadcast.
    """
    func = "lemma3_bound"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    k = _count(k, "k", func)
    e = require_positive(eps, "eps", strict=False, func=func)
    d = require_array(dW_fro, "dW_fro", ndim=(0, 1), func=func)
    w = require_array(W_tilde_norm, "W_tilde_norm", ndim=(0, 1), func=func)
    require(bool(np.all(d >= 0)), "dW_fro", dW_fro, "be >= 0", func=func)
    require(bool(np.all(w >= 0)), "W_tilde_norm", W_tilde_norm, "be >= 0", func=func)
    out = g * math.sqrt(n) / math.sqrt(k) * (d + e * w + e * math.sqrt(k))
    return float(out) if np.ndim(out) == 0 else out


def lemma4_bound(Gamma: float, n: int, k: int, eps: float, c: float, d1, d2):
    r"""Right side of Lemma 4, Eq. (4): ``Gamma sqrt(n) ((d1 + d2)/(2 sqrt(k)) + eps (c + 1))`` [air].

    Bounds ``||J(W1, W2, X) - J(W~1, W~2, X~)||`` (averaged Jacobians) when
    ``||W~1||, ||W~2|| <= c sqrt(k)``; ``d_i = ||W_i - W~_i||_F`` broadcast.
    """
    func = "lemma4_bound"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    k = _count(k, "k", func)
    e = require_positive(eps, "eps", strict=False, func=func)
    cc = require_positive(c, "c", strict=False, func=func)
    a = require_array(d1, "d1", ndim=(0, 1), func=func)
    b = require_array(d2, "d2", ndim=(0, 1), func=func)
    require(bool(np.all(a >= 0)) and bool(np.all(b >= 0)), "d1/d2", (d1, d2), "be >= 0", func=func)
    out = g * math.sqrt(n) * ((a + b) / (2 * math.sqrt(k)) + e * (cc + 1))
    return float(out) if np.ndim(out) == 0 else out


# ---------------------------------------------------------------------------------------------
# Lemmas 6-7: the first stage
# ---------------------------------------------------------------------------------------------


def _rho(rho, func: str) -> float:
    return require_in(rho, "rho", 0.0, 0.5, closed="left", func=func)


def lemma6_constants(n: int, K: int, c_low: float, lam_C: float, Gamma: float, k: int, Theta: float,
                     rho: float) -> dict:
    r"""The constants of Lemma 6 [air, Lemma 6].

    ``alpha = sqrt(c_low n lambda(C) / (8K))``, ``beta = Gamma sqrt(n)``, ``L = Gamma sqrt(n)/sqrt(k)``,
    ``L_h = 4/(1 - 2 rho)``, the step ``eta = min(1/(2 beta^2), alpha / (L beta Theta))``,
    ``contraction = 1 - eta alpha^2 / 4`` (per-step factor of the projected residual before
    ``T1``), ``a_min = 1 - alpha^2/(4 beta^2 L_h)`` (mixing weight needed up to ``T1``),
    ``decay_max = eta alpha^2 (1 - 2 rho)/32`` (largest admissible ``C_1``) and
    ``a_T1_min = (7/4 - 3 rho/2) / (2 - 2 rho)`` (the condition on ``a_{T1}``).
    """
    func = "lemma6_constants"
    n = _count(n, "n", func)
    K = _count(K, "K", func)
    require(K <= n, "K", K, f"be <= n = {n}", func=func)
    c = require_in(c_low, "c_low", 0.0, 1.0, closed="right", func=func)
    lm = require_positive(lam_C, "lam_C", func=func)
    g = _gamma(Gamma, func)
    k = _count(k, "k", func)
    th = require_positive(Theta, "Theta", func=func)
    r = _rho(rho, func)
    alpha = math.sqrt(c * n * lm / (8 * K))
    beta = g * math.sqrt(n)
    L = g * math.sqrt(n) / math.sqrt(k)
    Lh = 4.0 / (1.0 - 2.0 * r)
    eta = min(1.0 / (2 * beta ** 2), alpha / (L * beta * th))
    return {"alpha": alpha, "beta": beta, "L": L, "L_h": Lh, "eta": eta,
            "contraction": 1.0 - eta * alpha ** 2 / 4, "a_min": 1.0 - alpha ** 2 / (4 * beta ** 2 * Lh),
            "decay_max": eta * alpha ** 2 * (1 - 2 * r) / 32, "a_T1_min": (1.75 - 1.5 * r) / (2 - 2 * r)}


def _eta_alpha2(e: float, a: float, func: str) -> float:
    """``eta alpha^2``, refused with a named error when it underflows to 0 (the bounds divide by it)."""
    rate = e * a * a
    require(rate > 0, "alpha", a, f"give eta alpha^2 > 0 in floating point (eta = {e:g}: the product underflows)",
            func=func)
    return rate


def lemma6_residual_bound(t, eta: float, alpha: float, r0_norm: float, C1: float):
    r"""The bound of Lemma 6 on the projected residual: ``(1 - eta alpha^2/4)^t ||r_0|| + 4 C_1 / (eta alpha^2)`` [air]."""
    func = "lemma6_residual_bound"
    tt = require_array(t, "t", ndim=(0, 1), func=func)
    require(bool(np.all(tt >= 0)), "t", t, "be >= 0", func=func)
    e = require_positive(eta, "eta", func=func)
    a = require_positive(alpha, "alpha", func=func)
    require(e * a * a <= 4, "eta", eta, f"satisfy eta alpha^2 <= 4 (alpha = {a:g})", func=func)
    r0 = require_positive(r0_norm, "r0_norm", strict=False, func=func)
    c1 = require_positive(C1, "C1", strict=False, func=func)
    rate = _eta_alpha2(e, a, func)
    out = (1 - rate / 4) ** tt * r0 + 4 * c1 / rate
    require(bool(np.all(np.isfinite(out))), "C1", C1, f"give a finite bound (4 C1/(eta alpha^2) overflows at "
            f"eta alpha^2 = {rate:g})", func=func)
    return float(out) if np.ndim(out) == 0 else out


def lemma6_movement_bound(alpha: float, beta: float, r0_norm: float, n: int) -> float:
    r"""Lemma 6's bound on the path length: ``sum_t ||W_{t+1} - W_t||_F <= beta/alpha^2 (4 ||r_0|| + 8 sqrt(n))`` [air]."""
    func = "lemma6_movement_bound"
    a = require_positive(alpha, "alpha", func=func)
    b = require_positive(beta, "beta", func=func)
    r0 = require_positive(r0_norm, "r0_norm", strict=False, func=func)
    n = _count(n, "n", func)
    return b / a ** 2 * (4 * r0 + 8 * math.sqrt(n))


def lemma7_contraction(eta: float, alpha: float, beta: float) -> float:
    r"""Per-step factor ``1 - eta alpha^2/2`` of ``||(I - eta G_t) r||`` on ``S+`` implied by Lemma 7 [air, Eq. (11)].

    Lemma 7 gives ``G_t >= J_t J_t^T / 2 >= alpha^2 P_S+ / 2`` and ``G_t <= beta^2 P_S+`` (as
    quadratic forms on ``S+``); requires ``eta <= 1/(2 beta^2)`` and ``alpha <= beta``.
    """
    func = "lemma7_contraction"
    b = require_positive(beta, "beta", func=func)
    a = require_positive(alpha, "alpha", func=func)
    require(a <= b, "alpha", alpha, f"be <= beta = {b:g}", func=func)
    e = require_positive(eta, "eta", func=func)
    limit = 0.5 / b / b  # 1/(2 beta^2) without squaring beta first (no underflow to 0)
    require(e <= limit * (1 + 1e-12), "eta", eta, f"be <= 1/(2 beta^2) = {limit:g}", func=func)
    return 1.0 - e * a * a / 2


# ---------------------------------------------------------------------------------------------
# Lemma 8: the perturbation from the centers to the data
# ---------------------------------------------------------------------------------------------


def _lemma8_args(eta, beta, L_h, Theta, M, Gamma, n, T2, func):
    e = require_positive(eta, "eta", func=func)
    b = require_positive(beta, "beta", func=func)
    lh = require_real(L_h, "L_h", func=func)
    require(lh >= 4, "L_h", L_h, "be >= 4 (L_h = 4/(1 - 2 rho))", func=func)
    th = require_positive(Theta, "Theta", func=func)
    m = require_real(M, "M", func=func)
    require(m >= 1, "M", M, "be >= 1 (M = c + 1)", func=func)
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    T2 = _count(T2, "T2", func)
    return e, b, lh, th, m, g, n, T2


def lemma8_bounds(t, eta: float, beta: float, L_h: float, Theta: float, M: float, Gamma: float, eps: float,
                  n: int, T2: int) -> tuple:
    r"""Lemma 8's conclusions as printed [air, Lemma 8]: bounds on ``p_t`` and ``d_t`` for ``t <= T2``.

    ``p_t = ||f(W_t, X) - f(W~_t, X~)|| <= 4 eta beta (2 + L_h) Theta M Gamma eps sqrt(n) t`` and
    ``d_t = ||W_t - W~_t||_F <= 2 eta M Gamma Theta eps sqrt(n) (2 beta^2 (2 + L_h)^2 T2 + 1) t``
    (runs on the data ``X`` and on the centers ``X~`` from one initialisation).  Note the
    printed bound on ``p_0`` is 0.
    """
    func = "lemma8_bounds"
    e, b, lh, th, m, g, n, T2 = _lemma8_args(eta, beta, L_h, Theta, M, Gamma, n, T2, func)
    ep = require_positive(eps, "eps", strict=False, func=func)
    tt = require_array(t, "t", ndim=(0, 1), func=func)
    require(bool(np.all((tt >= 0) & (tt <= T2))), "t", t, f"lie in [0, T2] = [0, {T2}]", func=func)
    p = 4 * e * b * (2 + lh) * th * m * g * ep * math.sqrt(n) * tt
    d = 2 * e * m * g * th * ep * math.sqrt(n) * (2 * b * b * (2 + lh) ** 2 * T2 + 1) * tt
    if np.ndim(p) == 0:
        return float(p), float(d)
    return p, d


def lemma8_conditions(eta: float, beta: float, L_h: float, Theta: float, M: float, Gamma: float, n: int,
                      T2: int, rho: float) -> dict:
    r"""Lemma 8's hypotheses as printed [air, Lemma 8]: ``eps_max`` and ``k_min``.

    ``eps <= (1 - 2 rho) / (4 M eta beta (2 + L_h) Gamma sqrt(n) T2 (1 + Theta))`` and
    ``k >= 4 eta^2 Gamma^2 Theta^2 n (2 beta^2 (2 + L_h)^2 T2 + 1)^2 T2^2``.  Also returned:
    ``p_T2_at_eps_max``, the printed bound on ``p_{T2}`` at ``eps = eps_max``, which equals
    ``(1 - 2 rho) Theta / (1 + Theta)`` -- not the ``(1 - 2 rho)/4`` the proof uses.
    """
    func = "lemma8_conditions"
    e, b, lh, th, m, g, n, T2 = _lemma8_args(eta, beta, L_h, Theta, M, Gamma, n, T2, func)
    r = _rho(rho, func)
    eps_max = (1 - 2 * r) / (4 * m * e * b * (2 + lh) * g * math.sqrt(n) * T2 * (1 + th))
    k_min = 4 * e ** 2 * g ** 2 * th ** 2 * n * (2 * b * b * (2 + lh) ** 2 * T2 + 1) ** 2 * T2 ** 2
    p_T2 = 4 * e * b * (2 + lh) * th * m * g * eps_max * math.sqrt(n) * T2
    return {"eps_max": eps_max, "k_min": k_min, "p_T2_at_eps_max": p_T2, "p_needed": (1 - 2 * r) / 4}


def lemma8_p0_bound(Gamma: float, W_norm: float, eps: float, n: int) -> float:
    r"""Deterministic bound ``p_0 = ||f(W_0, X) - f(W_0, X~)|| <= Gamma ||W_0|| eps sqrt(n)`` [air, Lemma 8, corrected].

    Each output moves by ``|sum_r v_r (phi(w_r.x) - phi(w_r.x~))| <= Gamma ||W_0 (x - x~)||``.
    """
    func = "lemma8_p0_bound"
    g = _gamma(Gamma, func)
    w = require_positive(W_norm, "W_norm", strict=False, func=func)
    e = require_positive(eps, "eps", strict=False, func=func)
    n = _count(n, "n", func)
    return g * w * e * math.sqrt(n)


def lemma8_bounds_corrected(t, eta: float, alpha: float, beta: float, L_h: float, Theta: float, M: float,
                            Gamma: float, eps: float, n: int, T1: int, T2: int, p0: float) -> tuple:
    r"""What the proof of Lemma 8 gives once its three gaps are closed [air, Lemma 8, corrected].

    (i) ``p_0 = ||f(W_0, X) - f(W_0, X~)||`` is not 0; (ii) ``(I - eta G~_t)`` only contracts on
    ``S+`` and leaves ``S+^perp`` fixed, so before ``T1`` the label term makes ``p`` grow by at
    most ``1 + eta alpha^2 / 4`` per step; (iii) the ``eps`` condition must give
    ``p_t <= (1 - 2 rho)/4`` (see :func:`lemma8_conditions_corrected`).  Then for ``t <= T2``

        p_t <= E_t (p_0 + A t),  E_t = (1 + eta alpha^2/4)^min(t, T1),  A = 4 eta beta (2 + L_h) Theta M Gamma eps sqrt(n),
        d_t <= eta (2 M Gamma Theta eps sqrt(n) + beta (1 + L_h) P) t,   P = E_T2 (p_0 + A T2).

    Returns ``(p_bound, d_bound)``.
    """
    func = "lemma8_bounds_corrected"
    e, b, lh, th, m, g, n, T2 = _lemma8_args(eta, beta, L_h, Theta, M, Gamma, n, T2, func)
    a = require_positive(alpha, "alpha", func=func)
    ep = require_positive(eps, "eps", strict=False, func=func)
    T1 = require_int(T1, "T1", low=0, high=T2, func=func)
    p0 = require_positive(p0, "p0", strict=False, func=func)
    tt = require_array(t, "t", ndim=(0, 1), func=func)
    require(bool(np.all((tt >= 0) & (tt <= T2))), "t", t, f"lie in [0, T2] = [0, {T2}]", func=func)
    grow = 1 + e * a * a / 4
    A = 4 * e * b * (2 + lh) * th * m * g * ep * math.sqrt(n)
    E_t = grow ** np.minimum(tt, T1)
    P = grow ** T1 * (p0 + A * T2)
    p = E_t * (p0 + A * tt)
    d = e * (2 * m * g * th * ep * math.sqrt(n) + b * (1 + lh) * P) * tt
    require(bool(np.all(np.isfinite(p))), "T1", T1, "keep (1 + eta alpha^2/4)^T1 finite", func=func)
    if np.ndim(p) == 0:
        return float(p), float(d)
    return p, d


def lemma8_conditions_corrected(eta: float, alpha: float, beta: float, L_h: float, Theta: float, M: float,
                                Gamma: float, n: int, T1: int, T2: int, rho: float, p0_per_eps: float) -> dict:
    r"""Hypotheses under which :func:`lemma8_bounds_corrected` holds [air, Lemma 8, corrected].

    With ``p_0 <= p0_per_eps * eps`` (e.g. ``Gamma ||W_0|| sqrt(n)``, :func:`lemma8_p0_bound`):
    ``eps_max = (1 - 2 rho) / (4 E (p0_per_eps + A_1 T2))`` (so that ``P <= (1 - 2 rho)/4``;
    ``E = (1 + eta alpha^2/4)^T1``, ``A_1 = A / eps``) and ``k_min`` from ``L d_{T2} <= M Gamma eps sqrt(n)``:
    ``k >= (eta T2 Gamma sqrt(n) (2 M Gamma Theta sqrt(n) + beta (1 + L_h) P / eps) / (M Gamma))^2``.
    """
    func = "lemma8_conditions_corrected"
    e, b, lh, th, m, g, n, T2 = _lemma8_args(eta, beta, L_h, Theta, M, Gamma, n, T2, func)
    a = require_positive(alpha, "alpha", func=func)
    T1 = require_int(T1, "T1", low=0, high=T2, func=func)
    r = _rho(rho, func)
    q = require_positive(p0_per_eps, "p0_per_eps", strict=False, func=func)
    grow = (1 + e * a * a / 4) ** T1
    require(math.isfinite(grow), "T1", T1, "keep (1 + eta alpha^2/4)^T1 finite", func=func)
    A1 = 4 * e * b * (2 + lh) * th * m * g * math.sqrt(n)
    eps_max = (1 - 2 * r) / (4 * grow * (q + A1 * T2))
    P_over_eps = grow * (q + A1 * T2)
    k_min = (e * T2 * g * math.sqrt(n) * (2 * m * g * th * math.sqrt(n) + b * (1 + lh) * P_over_eps) / (m * g)) ** 2
    return {"eps_max": eps_max, "k_min": k_min, "growth": grow}


# ---------------------------------------------------------------------------------------------
# Theorem 1 and its final proof
# ---------------------------------------------------------------------------------------------


def theorem1_step_size(Gamma: float, n: int) -> float:
    r"""The step size of Theorem 1: ``eta = 1 / (2 Gamma^2 n)`` [air, Thm. 1]."""
    func = "theorem1_step_size"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    return 1.0 / (2 * g * g * n)


def theta_bound(Gamma: float, n: int, delta: float, C3: float = HOEFFDING_C3) -> float:
    r"""``Theta = (C3 Gamma sqrt(log(8/delta)) + 1) sqrt(n)``, the residual bound of the final proof [air, Thm. 1 proof].

    The paper leaves ``C3`` ("the constant in Hoeffding's inequality") open; the default
    :data:`HOEFFDING_C3` ``= 1/sqrt(log 8) + sqrt(2)`` makes it valid: ``||f(W_0, X~)||`` is
    ``Gamma sqrt(n)``-Lipschitz in ``W_0`` with ``E||f|| <= Gamma sqrt(n)``, so Gaussian
    concentration gives ``||f(W_0, X~)|| <= Gamma sqrt(n) (1 + sqrt(2 log(4/delta)))`` with
    probability ``>= 1 - delta/4``, and ``1 + sqrt(2 log(4/delta)) <= C3 sqrt(log(8/delta))``.
    """
    func = "theta_bound"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    dl = _prob(delta, func)
    c3 = require_positive(C3, "C3", func=func)
    return (c3 * g * math.sqrt(math.log(8 / dl)) + 1) * math.sqrt(n)


def initial_residual_bound(Gamma: float, n: int, delta: float) -> float:
    r"""The bound on ``||r_0||`` implicit in the last step of the T1 estimate: ``Gamma sqrt(n log(8/delta) / 2)`` [air, Thm. 1 proof].

    The final proof bounds ``log(8 ||r_0|| / (1 - 2 rho))`` by
    ``log(Gamma sqrt(32 n log(8/delta)) / (1 - 2 rho))``, i.e. it uses
    ``||r_0|| <= Gamma sqrt(n log(8/delta) / 2)``.  ``r_0`` contains the projected labels (norm
    up to ``sqrt(n)``), which this bound leaves out.
    """
    func = "initial_residual_bound"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    dl = _prob(delta, func)
    return g * math.sqrt(n * math.log(8 / dl) / 2)


def initial_residual_bound_corrected(Gamma: float, n: int, delta: float) -> float:
    r"""``||r_0|| <= Gamma sqrt(n) (1 + sqrt(2 log(4/delta))) + sqrt(n)`` with probability ``>= 1 - delta/4`` [air, corrected].

    ``r_0 = P_S+ (f(W_0, X~) - y_0)``: the projection is non-expansive, ``||y_0|| <= sqrt(n)``,
    and ``||f(W_0, X~)||`` obeys the Gaussian concentration of :func:`theta_bound`.
    """
    func = "initial_residual_bound_corrected"
    g = _gamma(Gamma, func)
    n = _count(n, "n", func)
    dl = _prob(delta, func)
    return g * math.sqrt(n) * (1 + math.sqrt(2 * math.log(4 / dl))) + math.sqrt(n)


def _cluster_args(Gamma, K, c_low, lam_C, n, func):
    g = _gamma(Gamma, func)
    K = _count(K, "K", func)
    c = require_in(c_low, "c_low", 0.0, 1.0, closed="right", func=func)
    lm = require_positive(lam_C, "lam_C", func=func)
    n = _count(n, "n", func)
    require(K <= n, "K", K, f"be <= n = {n}", func=func)
    return g, K, c, lm, n


def _ceil_log(x: float, func: str) -> int:
    require(x < 1e15, "T1", x, "be below 1e15 steps", func=func)
    return max(0, int(math.ceil(x)))


def t1_lemma6(eta: float, alpha: float, r0_norm: float, rho: float) -> int:
    r"""``T1 = ceil(log_{1 - eta alpha^2/4}((1 - 2 rho)/(8 ||r_0||)))`` of Lemma 6 [air] (0 if the log is negative)."""
    func = "t1_lemma6"
    e = require_positive(eta, "eta", func=func)
    a = require_positive(alpha, "alpha", func=func)
    require(e * a * a < 4, "eta", eta, f"satisfy eta alpha^2 < 4 (alpha = {a:g})", func=func)
    r0 = require_positive(r0_norm, "r0_norm", func=func)
    r = _rho(rho, func)
    target = (1 - 2 * r) / (8 * r0)
    if target >= 1:
        return 0
    return _ceil_log(math.log(target) / math.log1p(-_eta_alpha2(e, a, func) / 4), func)


def t1_theorem(Gamma: float, K: int, c_low: float, lam_C: float, n: int, delta: float, rho: float) -> int:
    r"""``T1 = ceil(80 Gamma^2 K / (c_low lambda(C)) log(Gamma sqrt(32 n log(8/delta)) / (1 - 2 rho)))`` [air, Thm. 1]."""
    func = "t1_theorem"
    g, K, c, lm, n = _cluster_args(Gamma, K, c_low, lam_C, n, func)
    dl = _prob(delta, func)
    r = _rho(rho, func)
    return _ceil_log(80 * g * g * K / (c * lm) * math.log(g * math.sqrt(32 * n * math.log(8 / dl)) / (1 - 2 * r)),
                     func)


def t1_corrected(Gamma: float, K: int, c_low: float, lam_C: float, n: int, delta: float, rho: float) -> int:
    r"""Theorem 1's ``T1`` with the corrected residual bound [air, Thm. 1, corrected].

    Lemma 6's ``T1`` at ``eta = 1/(2 Gamma^2 n)``, ``alpha^2 = c_low n lambda(C)/(8K)`` and
    ``||r_0|| = B``, :func:`initial_residual_bound_corrected` (probability ``>= 1 - delta/4``):
    ``ceil(log(8B/(1 - 2 rho)) / (-log(1 - eta alpha^2/4)))``.  It never exceeds the simpler
    ``ceil(80 Gamma^2 K/(c_low lambda(C)) log(8B/(1-2 rho)))``.
    """
    func = "t1_corrected"
    g, K, c, lm, n = _cluster_args(Gamma, K, c_low, lam_C, n, func)
    dl = _prob(delta, func)
    r = _rho(rho, func)
    B = initial_residual_bound_corrected(g, n, dl)
    eta = 1.0 / (2 * g * g * n)
    alpha2 = c * n * lm / (8 * K)
    require(eta * alpha2 < 4, "lam_C", lam_C, "satisfy eta alpha^2 < 4 (lambda(C) <= Gamma^2 for unit centers)",
            func=func)
    return _ceil_log(math.log(8 * B / (1 - 2 * r)) / -math.log1p(-eta * alpha2 / 4), func)


def _schedule(a_t, func: str) -> np.ndarray:
    a = require_array(a_t, "a_t", ndim=1, max_size=_MAX_STEPS, func=func)
    require(bool(np.all((a >= 0) & (a <= 1))), "a_t", a, "lie in [0, 1]", func=func)
    return a


def t2_index(a_t, n: int) -> int:
    r"""``T2 = inf{t : a_t < 1/(24 sqrt(n))}`` [air, Thm. 1]; raises if the schedule never gets there."""
    func = "t2_index"
    a = _schedule(a_t, func)
    n = _count(n, "n", func)
    below = np.flatnonzero(a < 1.0 / (24 * math.sqrt(n)))
    require(below.size > 0, "a_t", a, f"fall below 1/(24 sqrt(n)) = {1 / (24 * math.sqrt(n)):.4g} within its length",
            func=func)
    return int(below[0])


def schedule_conditions(a_t, *, n: int, K: int, c_low: float, lam_C: float, Lam: float, Gamma: float, rho: float,
                        T1: int) -> dict:
    r"""Theorem 1's conditions on the mixing weights ``a_t`` (a finite prefix of the schedule) [air, Thm. 1].

    ``monotone`` (non-increasing), ``decay_before_T2``: ``max_{t<T2} 2 sqrt(n)(a_t - a_{t+1})`` against
    ``c_low lambda(C)(1 - 2 rho)/(512 Gamma^2 K)``; ``decay_after_T2``: the same after ``T2``
    against ``c_low Lambda (1 - 2 rho)/(512 Gamma^2 K)``; ``a_T1``: ``a_{T1}`` against
    ``max(1 - c_low lambda(C)(1 - 2 rho)/(128 Gamma^2 K), (7/4 - 3 rho/2)/(2 - 2 rho))``.
    Each entry is ``(value, limit, ok)``; ``all`` says every one holds.
    """
    func = "schedule_conditions"
    a = _schedule(a_t, func)
    require(a.size >= 2, "a_t", a, "have at least 2 entries", func=func)
    g, K, c, lm, n = _cluster_args(Gamma, K, c_low, lam_C, n, func)
    L = require_positive(Lam, "Lam", func=func)
    r = _rho(rho, func)
    T1 = require_int(T1, "T1", low=0, high=a.size - 1, func=func)
    T2 = t2_index(a, n)
    steps = 2 * math.sqrt(n) * (a[:-1] - a[1:])
    before = float(steps[:T2].max()) if T2 > 0 else 0.0
    after = float(steps[T2:].max()) if T2 < steps.size else 0.0
    lim_b = c * lm * (1 - 2 * r) / (512 * g * g * K)
    lim_a = c * L * (1 - 2 * r) / (512 * g * g * K)
    need_T1 = max(1 - c * lm * (1 - 2 * r) / (128 * g * g * K), (1.75 - 1.5 * r) / (2 - 2 * r))
    out = {"T2": T2, "monotone": (float(np.max(a[1:] - a[:-1])), 0.0, bool(np.all(a[1:] <= a[:-1]))),
           "decay_before_T2": (before, lim_b, before <= lim_b), "decay_after_T2": (after, lim_a, after <= lim_a),
           "a_T1": (float(a[T1]), need_T1, bool(a[T1] >= need_T1) and T1 < T2)}
    out["all"] = all(v[2] for k, v in out.items() if k != "T2")
    return out


def jacobian_lower_bound(n: int, K: int, c_low: float, Lam: float, lam_X: float | None = None) -> float:
    r"""The lower bound the final proof puts on ``sigma_min(J(W_0, X))`` [air, Thm. 1 proof].

    As printed (``lam_X=None``): ``2 alpha = sqrt(c_low n Lambda / (2K))`` with Lemma 8's
    ``alpha = sqrt(c_low n Lambda/(8K))``, ``Lambda = min(lambda(C), lambda(X))`` (the proof replaces
    Lemma 7's ``alpha`` from ``lambda(C)`` by this smaller one and derives ``k >= 8 K Gamma^2 R^2/(c_low
    Lambda)`` from ``R L <= alpha``).  Corrected (``lam_X`` given): ``sqrt(lambda(X)/2)``, what Lemma 1
    gives for the data ``X`` themselves.  When ``Lambda = lambda(X)`` the printed value is ``sqrt(n_min)``
    times Lemma 1's bound and ``sqrt(n_min/2)`` times ``sqrt(lambda(X))``, where ``sigma_min(J(W_0, X))``
    concentrates at large width (``n_min = c_low n / K``, the smallest cluster).
    """
    func = "jacobian_lower_bound"
    Lam = require_positive(Lam, "Lam", func=func)
    _, K, c, lm, n = _cluster_args(1.0, K, c_low, Lam, n, func)
    if lam_X is None:
        return math.sqrt(c * n * lm / (2 * K))
    lx = require_positive(lam_X, "lam_X", strict=False, func=func)
    return math.sqrt(lx / 2)


def _width_args(n, K, T2, rho, delta, Lam, c_low, func):
    n = _count(n, "n", func)
    K = _count(K, "K", func)
    require(K <= n, "K", K, f"be <= n = {n}", func=func)
    T2 = _count(T2, "T2", func)
    r = _rho(rho, func)
    dl = _prob(delta, func)
    L = require_positive(Lam, "Lam", func=func)
    c = require_in(c_low, "c_low", 0.0, 1.0, closed="right", func=func)
    return n, K, T2, r, dl, L, c


def width_requirement_stated(n: int, K: int, T2: int, rho: float, delta: float, Lam: float, c_low: float) -> float:
    r"""The expression inside Theorem 1's ``k = Omega(...)``, with unit constants [air, Thm. 1].

    ``max(K^3/(c_low^3 Lambda^3) log(1/delta), n K T2/(c_low Lambda) log(1/delta),
    n^3 T2^4/(1 - 2 rho)^2 log(1/delta), n/Lambda log(n/delta))``.  Inside the theorem's hypotheses
    ``Lambda`` is tied to the radius (:func:`lambda_upper_bound_from_radius`,
    :func:`radius_condition_stated`), and then this covers every width condition of the proof
    (:func:`width_requirement_proof`) up to a constant, although the proof mis-evaluates its Lemma 8
    term (see ``air.theorem1_width``).
    """
    func = "width_requirement_stated"
    n, K, T2, r, dl, L, c = _width_args(n, K, T2, rho, delta, Lam, c_low, func)
    lg = math.log(1 / dl)
    terms = [K ** 3 / (c ** 3 * L ** 3) * lg, n * K * T2 / (c * L) * lg, n ** 3 * float(T2) ** 4 / (1 - 2 * r) ** 2 * lg,
             n / L * math.log(n / dl)]
    out = max(terms)
    require(math.isfinite(out), "T2", T2, "keep the width finite in float64", func=func)
    return out


def width_requirement_corrected(n: int, K: int, T2: int, rho: float, delta: float, Lam: float,
                                c_low: float) -> float:
    r"""The width expression with each term evaluated as the proof derives it [air, Thm. 1 proof, Eqs. (19)-(25)].

    Lemma 8's condition at ``eta = 1/(2 Gamma^2 n)`` is ``Theta(n^2 T2^4 log(1/delta) / (1 - 2 rho)^4)``
    (the proof simplifies it to ``n^3 T2^4 / (1 - 2 rho)^2``), and the path-length condition carries
    ``n K T2^2 / (c_low Lambda)`` (printed: ``n K T2 / (c_low Lambda) log(1/delta)``):
    ``max(K^3/(c_low^3 Lambda^3) log(1/delta), n K T2^2/(c_low Lambda), n^2 T2^4/(1 - 2 rho)^4 log(1/delta), n/Lambda log(n/delta))``.
    It covers the proof's conditions for every ``Lambda``, without the coupling of ``Lambda`` to the
    radius that the printed expression (:func:`width_requirement_stated`) relies on; inside Theorem 1's
    hypotheses the two agree up to a constant (``air.theorem1_width`` reports their ratio).
    """
    func = "width_requirement_corrected"
    n, K, T2, r, dl, L, c = _width_args(n, K, T2, rho, delta, Lam, c_low, func)
    lg = math.log(1 / dl)
    terms = [K ** 3 / (c ** 3 * L ** 3) * lg, n * K * float(T2) ** 2 / (c * L),
             n ** 2 * float(T2) ** 4 / (1 - 2 * r) ** 4 * lg, n / L * math.log(n / dl)]
    out = max(terms)
    require(math.isfinite(out), "T2", T2, "keep the width finite in float64", func=func)
    return out


def width_requirement_proof(n: int, K: int, d: int, T2: int, rho: float, delta: float, Lam: float, lam_C: float,
                            c_low: float, Gamma: float = 1.0, C3: float = HOEFFDING_C3, C4: float = 2.0) -> dict:
    r"""Every explicit width condition of the final proof, with its constants [air, Thm. 1 proof, Eqs. (19)-(25)].

    ``lemma1``: ``20 Gamma^2 n log(4n/delta)/Lambda``; ``lemma2``: ``20 Gamma^2 K log(4K/delta)/lambda(C)``;
    ``step``: ``eta = 1/(2 beta^2)`` needs ``k >= 2 K Theta^2/(c_low n Lambda)``; ``lemma8``:
    ``4 eta^2 Gamma^2 Theta^2 n (2 beta^2 (2 + L_h)^2 T2 + 1)^2 T2^2``; ``path``:
    ``8 K Gamma^2 R^2/(c_low Lambda)`` with ``R`` of Eq. (20) and ``d_{T2}`` of Eq. (24); ``M``:
    ``k >= R^2``.  ``C3`` as in :func:`theta_bound`; ``C4`` the (open) Bernstein constant,
    which enters only ``M``.  Returns the terms and ``max``.
    """
    func = "width_requirement_proof"
    n, K, T2, r, dl, L, c = _width_args(n, K, T2, rho, delta, Lam, c_low, func)
    dd = _count(d, "d", func)
    lm = require_positive(lam_C, "lam_C", func=func)
    g = _gamma(Gamma, func)
    c3 = require_positive(C3, "C3", func=func)
    c4 = require_positive(C4, "C4", func=func)
    eta = 1.0 / (2 * g * g * n)
    beta = g * math.sqrt(n)
    Lh = 4.0 / (1 - 2 * r)
    lg8 = math.log(8 / dl)
    Theta = (c3 * g * math.sqrt(lg8) + 1) * math.sqrt(n)
    M = math.sqrt(dd + c4 * lg8) + 2
    d_T2 = (1 - 2 * r) * (beta * (2 + Lh) * T2 + 1 / (2 * beta * (2 + Lh)))
    R = 8 * K * g / (c * L) * (4 * c3 * g * math.sqrt(lg8) + 13) + d_T2
    terms = {"lemma1": 20 * g * g * n * math.log(4 * n / dl) / L, "lemma2": 20 * g * g * K * math.log(4 * K / dl) / lm,
             "step": 2 * K * Theta ** 2 / (c * n * L),
             "lemma8": 4 * eta ** 2 * g ** 2 * Theta ** 2 * n * (2 * beta ** 2 * (2 + Lh) ** 2 * T2 + 1) ** 2 * T2 ** 2,
             "path": 8 * K * g * g * R * R / (c * L), "M": R * R}
    terms["max"] = max(terms.values())
    terms["M_value"] = M
    require(math.isfinite(terms["max"]), "T2", T2, "keep the width finite in float64", func=func)
    return terms


def radius_condition_stated(n: int, d: int, T2: int, rho: float, delta: float, *, sqrt_log: bool = True) -> float:
    r"""The expression inside Theorem 1's radius condition ``eps = O(...)``, unit constant [air, Thm. 1, Eq. (22)].

    ``(1 - 2 rho)^2 / (sqrt(n d) T2 sqrt(log(1/delta)))`` (``sqrt_log=False``: ``log(1/delta)`` in place of
    its square root).  The extracted text shows the radical in front of ``n d T2 log(1/delta)`` without its
    extent; Eq. (22) derives the condition from Lemma 8's
    ``(1 - 2 rho)/(4 M eta beta (2 + L_h) Gamma sqrt(n) T2 (1 + Theta))`` with ``M ~ sqrt(d)`` and
    ``Theta ~ sqrt(n log(1/delta))``, which is linear in ``1/T2`` and gives ``sqrt(log)``; ``log`` is the other
    reading (smaller for ``delta < 1/e``).  ``delta`` must lie in ``(0, 1)``.
    """
    func = "radius_condition_stated"
    n = _count(n, "n", func)
    dd = _count(d, "d", func)
    T2 = _count(T2, "T2", func)
    r = _rho(rho, func)
    dl = _prob(delta, func)
    require_type(isinstance(sqrt_log, (bool, np.bool_)), "sqrt_log", sqrt_log, "be a bool", func=func)
    lg = math.log(1 / dl)
    return (1 - 2 * r) ** 2 / (math.sqrt(n) * math.sqrt(dd) * T2 * (math.sqrt(lg) if sqrt_log else lg))


def lambda_upper_bound_from_radius(eps: float, Gamma: float = 1.0) -> float:
    r"""The bound ``Lambda <= lambda(X) <= min(8 Gamma^2 eps^2, Gamma^2)`` that clusters of radius ``eps`` force [air, Def. 2, Thm. 1].

    Valid whenever some cluster holds two points ``x_i != x_j`` (always when ``rho > 0``: a cluster with
    a wrong label has ``0 < rho_l < 1/2``, hence at least 3 points).  With ``v = (e_i - e_j)/sqrt(2)`` and
    ``a_i = phi'(g . x_i) x_i``, ``Sigma(X) = E[a a^T]`` entrywise, so ``lambda(X) <= v^T Sigma(X) v =
    E||a_i - a_j||^2 / 2``; by Minkowski, ``|phi'| <= Gamma``, ``|phi''| <= Gamma`` and ``||x_j|| = 1``,
    ``(E||a_i - a_j||^2)^(1/2) <= Gamma ||x_i - x_j|| + Gamma (E (g . (x_i - x_j))^2)^(1/2) = 2 Gamma ||x_i - x_j||``,
    so ``lambda(X) <= 2 Gamma^2 ||x_i - x_j||^2 <= 8 Gamma^2 eps^2``; also ``lambda(X) <= Sigma_ii <= Gamma^2``.
    ``Lambda = min(lambda(C), lambda(X))`` inherits the bound.  It needs the bound on ``phi''``: for ReLU
    ``lambda(X)`` is of order ``eps``, not ``eps^2``.
    """
    func = "lambda_upper_bound_from_radius"
    e = require_positive(eps, "eps", strict=False, func=func)
    g = _gamma(Gamma, func)
    require(math.isfinite(g * g), "Gamma", Gamma, "have a finite square in float64", func=func)
    return min(8.0 * e * e, 1.0) * g * g


# ---------------------------------------------------------------------------------------------
# Sec. 3.4: the schedule of the experiments
# ---------------------------------------------------------------------------------------------


def accuracy_schedule(accuracy, lam: float):
    r"""The experiments' mixing weight ``a_t = 1 - lam * accuracy_t`` [air, Sec. 3.4], as printed (no clipping).

    The paper uses ``lam`` in ``{0.6, 1, 1.4, 1.5, 1.6}``; for ``lam > 1`` and accuracy above
    ``1/lam`` the weight is negative, for ``lam < 1`` it never falls below ``1 - lam > 0``.
    """
    func = "accuracy_schedule"
    acc = require_array(accuracy, "accuracy", ndim=(0, 1), max_size=_MAX_STEPS, func=func)
    require(bool(np.all((acc >= 0) & (acc <= 1))), "accuracy", acc, "lie in [0, 1]", func=func)
    lm = require_positive(lam, "lam", func=func)
    out = 1.0 - lm * acc
    return float(out) if out.ndim == 0 else out


def accuracy_schedule_corrected(accuracy, lam: float):
    r"""An accuracy-driven weight that satisfies Theorem 1's shape hypotheses [air, Sec. 3.4, corrected].

    ``a_t = clip(1 - lam * max_{s <= t} accuracy_s, 0, 1)``: in ``[0, 1]`` and non-increasing
    for every accuracy sequence; it reaches 0 iff ``lam * max accuracy >= 1`` (so ``lam >= 1``
    is needed for ``a_t -> 0``).  The slow-decay conditions of Theorem 1 still have to be
    checked separately (:func:`schedule_conditions`).
    """
    func = "accuracy_schedule_corrected"
    acc = require_array(accuracy, "accuracy", ndim=1, max_size=_MAX_STEPS, func=func)
    require(bool(np.all((acc >= 0) & (acc <= 1))), "accuracy", acc, "lie in [0, 1]", func=func)
    lm = require_positive(lam, "lam", func=func)
    return np.clip(1.0 - lm * np.maximum.accumulate(acc), 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# SymPy derivations
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _derive_lemma6_cached() -> dict:
    r"""SymPy: the algebra of Lemma 6 and of the schedule conditions of Theorem 1 [air, Lemma 6, Eqs. (8)-(18)].

    Returns expressions (in the symbols ``eta, alpha, beta, L_h, rho, n, K, c_low, lam, Gamma``):
    ``a_min`` (from ``(1 - a) eta L_h beta^2 <= eta alpha^2/4``), ``a_min_theorem`` (the same at the
    theorem's constants), ``decay_max_theorem`` (``eta alpha^2 (1-2rho)/32`` at ``eta = 1/(2 beta^2)``),
    ``a_T1_min`` (solving ``a (1 - 2rho) - (1 - a) = 3(1 - 2rho)/4``), ``step18_slack`` (RHS of
    (18) minus (17), which must be ``>= 0``), ``sum_bound`` (``sum_t ||r_t||`` from the summed
    recursion) and ``T1_factor`` (``5/(eta alpha^2)`` at the theorem's constants).
    """
    import sympy as sp

    eta, alpha, beta, Lh, rho, n, K, c, lam, G, a, S, r0 = sp.symbols(
        "eta alpha beta L_h rho n K c_low lam Gamma a S r0", positive=True)
    a_min = sp.solve(sp.Eq((1 - a) * eta * Lh * beta ** 2, eta * alpha ** 2 / 4), a)[0]
    consts = {alpha: sp.sqrt(c * n * lam / (8 * K)), beta: G * sp.sqrt(n), Lh: 4 / (1 - 2 * rho)}
    a_T1 = sp.solve(sp.Eq(a * (1 - 2 * rho) - (1 - a), sp.Rational(3, 4) * (1 - 2 * rho)), a)[0]
    lhs17 = (1 - eta * alpha ** 2 / 2) * (1 - 2 * rho) / 4 + eta * alpha ** 2 / 32 * (1 - 2 * rho)
    S_sol = sp.solve(sp.Eq(S - r0, (1 - eta * alpha ** 2 / 4) * S + 2 * sp.sqrt(n)), S)[0]
    return {"a_min": sp.simplify(a_min), "a_min_theorem": sp.simplify(a_min.subs(consts)),
            "decay_max_theorem": sp.simplify((eta * alpha ** 2 * (1 - 2 * rho) / 32).subs(consts).subs(
                eta, 1 / (2 * G ** 2 * n))),
            "a_T1_min": sp.simplify(a_T1), "step18_slack": sp.factor((1 - 2 * rho) / 4 - lhs17),
            "sum_bound": sp.simplify(S_sol),
            "T1_factor": sp.simplify((5 / (eta * alpha ** 2)).subs(consts).subs(eta, 1 / (2 * G ** 2 * n))),
            "symbols": (eta, alpha, beta, Lh, rho, n, K, c, lam, G)}


@functools.lru_cache(maxsize=1)
def _derive_lemma8_cached() -> dict:
    r"""SymPy: the induction of Lemma 8 and what its hypotheses give [air, Lemma 8].

    ``d_step``: printed ``d``-bound at ``t+1`` minus (``d``-bound at ``t`` plus the increment the
    recursion allows at ``t <= T2``), which must be ``>= 0`` (it is ``2 eta M Gamma Theta eps sqrt(n)
    2 beta^2 (2 + L_h)^2 T2 (1 - eta)``, non-negative for ``eta <= 1``); ``k_from_L``: the ``k`` at which
    ``L d_{T2} = M Gamma eps sqrt(n)`` (equal to the printed ``k`` condition); ``p_T2_at_eps_max``:
    the printed ``p``-bound at ``T2`` and the printed ``eps_max`` -- ``(1 - 2 rho) Theta/(1 + Theta)``,
    which exceeds the ``(1 - 2 rho)/4`` the proof uses whenever ``Theta > 1/3``; ``eps_needed``:
    the ``eps`` at which the printed ``p``-bound at ``T2`` equals ``(1 - 2 rho)/4``; and
    ``growth_corrected``: the closed form ``E (p0 + A t)`` solves ``p_{t+1} = (1 + g) p_t + A``'s
    majorant (residual of ``E_{t+1}(p0 + A(t+1)) - (1+g) E_t (p0 + A t) - A`` with ``E_t = (1+g)^t``,
    which is ``>= 0``).
    """
    import sympy as sp

    eta, beta, Lh, Th, M, G, eps, n, T2, t, rho, k, p0, A, g = sp.symbols(
        "eta beta L_h Theta M Gamma epsilon n T2 t rho k p0 A g", positive=True)
    sn = sp.sqrt(n)
    p_bound = 4 * eta * beta * (2 + Lh) * Th * M * G * eps * sn * t
    d_coef = 2 * eta * M * G * Th * eps * sn * (2 * beta ** 2 * (2 + Lh) ** 2 * T2 + 1)
    d_bound = d_coef * t
    incr = eta * (2 * M * G * Th * eps * sn + 4 * eta * beta ** 2 * (2 + Lh) ** 2 * Th * M * G * eps * sn * T2)
    d_step = sp.factor(sp.expand(d_bound.subs(t, t + 1) - d_bound - incr))
    L = G * sn / sp.sqrt(k)
    k_from_L = sp.solve(sp.Eq(L * d_bound.subs(t, T2), M * G * eps * sn), k)[0]
    eps_max = (1 - 2 * rho) / (4 * M * eta * beta * (2 + Lh) * G * sn * T2 * (1 + Th))
    p_T2 = sp.simplify(p_bound.subs(t, T2).subs(eps, eps_max))
    eps_needed = sp.solve(sp.Eq(p_bound.subs(t, T2), (1 - 2 * rho) / 4), eps)[0]
    E = lambda s: (1 + g) ** s
    growth = sp.simplify((E(t + 1) * (p0 + A * (t + 1)) - (1 + g) * E(t) * (p0 + A * t) - A) / E(t))
    return {"d_step": d_step, "k_from_L": sp.simplify(k_from_L), "p_T2_at_eps_max": p_T2,
            "eps_needed": sp.simplify(eps_needed), "eps_ratio_printed_over_needed": sp.simplify(eps_max / eps_needed),
            "growth_corrected": sp.factor(growth),
            "symbols": (eta, beta, Lh, Th, M, G, eps, n, T2, t, rho, k, p0, A, g)}


@functools.lru_cache(maxsize=1)
def _derive_final_proof_cached() -> dict:
    r"""SymPy: the constants of the final proof of Theorem 1 [air, Thm. 1 proof, Eqs. (19)-(25)].

    ``lemma8_width``: Lemma 8's ``k`` condition at ``eta = 1/(2 Gamma^2 n)``, ``beta = Gamma sqrt(n)``,
    ``L_h = 4/(1-2rho)``; ``printed_simplification``: the paper's ``2 Theta^2 (2 Gamma^2 n (2 + L_h)^2 T2 + 1)^2 T2^2``;
    ``rho_exponent``: the limits of ``lemma8_width * (1-2rho)^q`` as ``rho -> 1/2`` for ``q = 2, 4``
    (``oo`` and a finite positive value: the power is 4, not the printed 2);
    ``T1_constant``: ``5/(eta alpha^2)`` at the theorem's constants (= ``80 Gamma^2 K/(c_low lambda(C))``);
    ``eps_condition``: Lemma 8's ``eps`` bound at the theorem's constants (``(1-2rho)/(2 M (2+L_h) T2 (1+Theta))``);
    ``d_T2``: Eq. (24)'s bound on ``d_{T2}`` at the largest admissible ``eps``.
    """
    import sympy as sp

    G, n, T2, rho, Th, K, c, lam, M, u = sp.symbols("Gamma n T2 rho Theta K c_low lam M u", positive=True)
    eta = 1 / (2 * G ** 2 * n)
    beta = G * sp.sqrt(n)
    Lh = 4 / (1 - 2 * rho)
    width = 4 * eta ** 2 * G ** 2 * Th ** 2 * n * (2 * beta ** 2 * (2 + Lh) ** 2 * T2 + 1) ** 2 * T2 ** 2
    printed = 2 * Th ** 2 * (2 * G ** 2 * n * (2 + Lh) ** 2 * T2 + 1) ** 2 * T2 ** 2
    w_u = sp.cancel(sp.together(width.subs(rho, (1 - u) / 2)))        # u = 1 - 2 rho: a rational function of u
    num, den = sp.fraction(w_u)
    pn, pd = sp.Poly(num, u), sp.Poly(den, u)
    low = lambda P: min(m[0] for m in P.monoms())
    order = low(pd) - low(pn)                                          # pole order of the width at u = 0
    lead = sp.cancel(pn.coeff_monomial(u ** low(pn)) / pd.coeff_monomial(u ** low(pd)))
    limits = {q: (sp.oo if q < order else (lead if q == order else sp.Integer(0))) for q in (2, 4)}
    alpha2 = c * n * lam / (8 * K)
    eps_cond = sp.cancel((1 - 2 * rho) / (4 * M * eta * beta * (2 + Lh) * G * sp.sqrt(n) * T2 * (1 + Th)))
    eps_max = eps_cond
    d_T2 = sp.cancel(2 * eta * M * G * Th * eps_max * sp.sqrt(n) * (2 * beta ** 2 * (2 + Lh) ** 2 * T2 + 1) * T2)
    return {"lemma8_width": sp.cancel(width), "printed_simplification": printed, "rho_exponent": limits,
            "T1_constant": sp.cancel(5 / (eta * alpha2)), "eps_condition": eps_cond, "d_T2": d_T2,
            "symbols": (G, n, T2, rho, Th, K, c, lam, M, u)}


def derive_lemma6() -> dict:
    r"""SymPy: the algebra of Lemma 6 and of the schedule conditions of Theorem 1 [air, Lemma 6, Eqs. (8)-(18)].

    Returns expressions (in the symbols ``eta, alpha, beta, L_h, rho, n, K, c_low, lam, Gamma``):
    ``a_min`` (from ``(1 - a) eta L_h beta^2 <= eta alpha^2/4``), ``a_min_theorem`` (the same at the
    theorem's constants), ``decay_max_theorem`` (``eta alpha^2 (1-2rho)/32`` at ``eta = 1/(2 beta^2)``),
    ``a_T1_min`` (solving ``a (1 - 2rho) - (1 - a) = 3(1 - 2rho)/4``), ``step18_slack`` (RHS of
    (18) minus (17), which must be ``>= 0``), ``sum_bound`` (``sum_t ||r_t||`` from the summed
    recursion) and ``T1_factor`` (``5/(eta alpha^2)`` at the theorem's constants).  Cached; a fresh dict per call.
    """
    return dict(_derive_lemma6_cached())


def derive_lemma8() -> dict:
    r"""SymPy: the induction of Lemma 8 and what its hypotheses give [air, Lemma 8] (cached; see ``_derive_lemma8_cached``).

    ``d_step`` (>= 0 for ``eta <= 1``), ``k_from_L`` (equals the printed k condition), ``p_T2_at_eps_max``
    (``(1 - 2 rho) Theta/(1 + Theta)``, above the ``(1 - 2 rho)/4`` the proof uses when ``Theta > 1/3``),
    ``eps_needed``, ``eps_ratio_printed_over_needed`` (``4 Theta/(1 + Theta)``) and ``growth_corrected``
    (the corrected closed form dominates its recursion: non-negative).
    """
    return dict(_derive_lemma8_cached())


def derive_final_proof() -> dict:
    r"""SymPy: the constants of the final proof of Theorem 1 [air, Thm. 1 proof, Eqs. (19)-(25)] (cached).

    ``lemma8_width``, ``printed_simplification``, ``rho_exponent`` (limits of ``lemma8_width (1-2rho)^q`` for
    ``q = 2, 4``: ``oo`` and finite, the power is 4), ``T1_constant`` (``80 Gamma^2 K/(c_low lambda(C))``),
    ``eps_condition`` and ``d_T2`` (Eq. 24).
    """
    return dict(_derive_final_proof_cached())
