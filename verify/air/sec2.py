"""[air] Sec. 2.3, Sec. 3.2, Definition 2 and Fig. 2: the NTK view of gradient descent.

Claims: ``air.quasilinear``, ``air.eigenprojection``, ``air.static_ntk``, ``air.air_order`` (+ corrected),
``air.noise_small_eig`` (+ corrected), ``air.def2``, ``air.fig2``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

import kdtheory.theory.air as ta
from kdtheory.verify import evidence as ev
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.air._common import NODES, SMOOTH, seed_of, unit_rows

ACTS = ("relu", "tanh", "softplus")


# ---------------------------------------------------------------------------------------------
# Sec. 2.3: the quasi-linear residual update
# ---------------------------------------------------------------------------------------------


def _quasilinear_parts(run: Run, swap: bool) -> Outcome:
    from kdtheory.numerics.air import clusterable_data, init_network, train_network

    rng = run.rng
    lhs, rhs, cond, literal = [], [], [], []
    for i in range(run.size(9, 36)):
        act = ACTS[i % 3]
        n, d = int(rng.integers(4, 13)), int(rng.integers(2, 7))
        k = int(2 * rng.integers(4, 256))
        if i % 2:
            data = clusterable_data(n, max(1, n // 4), d, float(rng.uniform(0, 0.5)), 0.2, seed=seed_of(rng))
            X, y = data.X, data.y_noisy
        else:
            X, y = unit_rows(rng, n, d), rng.choice([-1.0, 1.0], n)
        W0, v = init_network(k, d, seed=seed_of(rng))
        W0 *= float(rng.uniform(0.3, 3.0))
        eta = float(10 ** rng.uniform(-2, 0)) / n          # steps up to eta ||J||^2 ~ 1: H^_t far from H_t
        steps = 6
        a_t = None if i % 3 else np.linspace(1.0, 0.2, steps)
        res = train_network(X, y, W0, v, activation=act, eta=eta, steps=steps, a_t=a_t, rho=0.2,
                            gram_steps=np.arange(steps))
        u, lab = res["outputs"], res["labels"]
        for g, t in enumerate(res["gram_steps"]):
            Hh = res["H"][g] if swap else res["H_hat"][g]
            r = u[t] - lab[t]
            pred = r - eta * (Hh @ r)
            lhs.append(u[t + 1] - lab[t])
            rhs.append(pred)
            scale = np.abs(u[t]) + np.abs(u[t + 1]) + np.abs(lab[t]) + eta * (np.abs(Hh) @ np.abs(r)) + 1.0
            cond.append(64 * k * scale / np.maximum(np.abs(u[t + 1] - lab[t]), 1e-300))
            literal.append(float(np.max(np.abs(eta * (Hh @ r)))))
    lhs, rhs, cond = np.concatenate(lhs), np.concatenate(rhs), np.concatenate(cond)
    return ev.identity_outcome(lhs, rhs, tier=ev.IDENTITY, cond=cond, details={
        "reading": "u_{t+1} - y_t = (I - eta H^_t)(u_t - y_t), H^_t = int_0^1 <df(theta_t + s dtheta, x_i), df(theta_t, x_j)> ds",
        "printed_literal_u_t_on_both_sides": ("the extracted text has u_t on the left; read literally it would need "
                                              f"H^_t r_t = 0, but max |eta H^_t r_t| = {max(literal):.3g}"),
        "variant": "instantaneous H_t (control)" if swap else "averaged H^_t (exact divided differences)"})


@claim("air.quasilinear", ref="Sec. 2.3", kind="identity",
       statement="GD residuals obey u_{t+1} - y = (I - eta H^_t)(u_t - y) with the averaged Gram matrix H^_t")
def quasilinear(run: Run) -> Outcome:
    """Claim: [air, Sec. 2.3] one gradient-descent step of the square loss moves the outputs by
    ``u_{t+1} - y = (I - eta H^_t)(u_t - y)`` with ``H^_t[i, j] = int_0^1 <df(theta_t + s (theta_{t+1} - theta_t), x_i),
    df(theta_t, x_j)> ds`` (averaged in ``i``, instantaneous in ``j``).  Read with ``u_{t+1}`` on the left (the
    extracted text shows ``u_t``, which would force ``H^_t (u_t - y) = 0``; details report that reading's residual).

    Setting: 9 (36 in full mode) finite-width two-layer networks (ReLU, tanh, softplus; width 8..510; n = 4..12
    random or clusterable unit inputs; initial weights scaled by 0.3..3; steps with ``eta ||J||^2`` up to ~1 so
    that ``H^_t`` differs from ``H_t``), plain GD and Algorithm 1 labels (``y_t`` in place of ``y``), 6 steps each;
    ``H^_t`` recorded by ``kdtheory.numerics.air.train_network`` with exact averaged Jacobians.

    Check: identity tier per output with ``cond = 64 k (|u_t| + |u_{t+1}| + |y_t| + eta |H^_t||r_t| + 1) /
    |u_{t+1} - y_t|`` (the outputs are sums of k terms whose difference cancels).

    Negative control: the instantaneous ``H_t = J_t J_t^T`` in place of ``H^_t``: must fail (the second-order
    term of the step is visible far above rounding).
    """
    return _quasilinear_parts(run, swap=run.control)


# ---------------------------------------------------------------------------------------------
# Sec. 2.3: per-eigendirection decay
# ---------------------------------------------------------------------------------------------


def _random_gram(rng, n: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        return ta.ntk_gram(unit_rows(rng, n, int(rng.integers(2, 8))), ACTS[int(rng.integers(3))], nodes=NODES)
    if kind == 1:
        Z = rng.normal(size=(n, n))
        Q, _ = np.linalg.qr(Z)
        lam = 10 ** rng.uniform(-4, 0, n)
        return (Q * lam) @ Q.T
    Z = rng.normal(size=(n, int(rng.integers(1, n))))
    return Z @ Z.T / n


@claim("air.eigenprojection", ref="Sec. 2.3", kind="identity",
       statement="<u_t - y, e_i> = (1 - eta lambda_i)^t <u_0 - y, e_i> (GD) and exp(-lambda_i t) <u_0 - y, e_i> (flow)")
def eigenprojection(run: Run) -> Outcome:
    """Claim: [air, Sec. 2.3] on a static Gram matrix ``H* = sum_i lambda_i e_i e_i^T`` the residual component along
    ``e_i`` is multiplied by ``1 - eta lambda_i`` per GD step, so after ``t`` steps by ``(1 - eta lambda_i)^t``, and by
    ``exp(-lambda_i t)`` under gradient flow.

    Setting: 12 (48) Gram matrices: NTKs of random unit data (ReLU, tanh, softplus), random PSD matrices with spectra
    over 4 decades, rank-deficient ones; n = 3..20; steps ``eta`` up to ``1.99 / lambda_max`` (including the
    oscillating range ``eta lambda > 1``); t up to 200 steps / flow times up to ``50 / lambda_max``.

    Check: the closed form of ``kdtheory.numerics.air.kernel_gd_exact`` (per-eigendirection factors from
    ``kdtheory.theory.air.residual_factors``) against the direct iteration ``kernel_gd_iterate`` (GD) and
    ``scipy.linalg.expm`` (flow) at every recorded time, identity tier with ``cond = 4 (t + 1) n ||u_0 - y|| /
    |u_t - y|`` per entry (rounding accumulated over the iteration, relative to what is left of the residual).

    Negative control: the closed form evaluated with ``eta (1 + 1e-6)`` (GD) and ``t (1 + 1e-6)`` (flow): must fail.
    """
    from scipy.linalg import expm

    from kdtheory.numerics.air import kernel_gd_exact, kernel_gd_iterate

    rng = run.rng
    pert = 1e-6 if run.control else 0.0
    lhs, rhs, cond = [], [], []
    for _ in range(run.size(12, 48)):
        n = int(rng.integers(3, 21))
        H = _random_gram(rng, n)
        lam_max = float(np.linalg.eigvalsh(H)[-1])
        y, f0 = rng.choice([-1.0, 1.0], n), rng.normal(size=n)
        eta = float(rng.uniform(0.05, 1.99)) / lam_max
        T = int(rng.integers(1, 201))
        times = np.unique(np.linspace(0, T, 6).astype(int))
        direct = kernel_gd_iterate(H, y, f0, eta, T)[times]
        exact = kernel_gd_exact(H, y, f0, times, eta=eta * (1 + pert))["outputs"]
        r0 = np.linalg.norm(f0 - y)
        lhs.append((direct - y).ravel())
        rhs.append((exact - y).ravel())
        cond.append((4 * (times[:, None] + 1) * n * r0 / np.maximum(np.abs(direct - y), 1e-300)).ravel())
        tf = np.linspace(0, 50 / lam_max, 5)
        flow = np.stack([expm(-t * H) @ (f0 - y) for t in tf])
        cf = kernel_gd_exact(H, y, f0, tf * (1 + pert))["outputs"] - y
        lhs.append(flow.ravel())
        rhs.append(cf.ravel())
        cond.append((4 * n * (1 + tf[:, None] * lam_max) * r0 / np.maximum(np.abs(flow), 1e-300)).ravel())
    return ev.identity_outcome(np.concatenate(lhs), np.concatenate(rhs), tier=ev.IDENTITY,
                               cond=np.concatenate(cond), details={
                                   "reading": "with u_{t+1} on the left (the extracted text shows u_t on both sides)",
                                   "perturbation": pert})


# ---------------------------------------------------------------------------------------------
# Sec. 2.3: static NTK at large width
# ---------------------------------------------------------------------------------------------


def _width_sweep(run: Run, widths, reps: int, limit_scale: float):
    from kdtheory.numerics.air import init_network, train_network

    rng = run.rng
    n, d = 10, 6
    X = unit_rows(rng, n, d)
    y = rng.choice([-1.0, 1.0], n)
    out = {}
    for act in SMOOTH:
        Hstar = ta.ntk_gram(X, act, nodes=NODES) * limit_scale
        nrm = np.linalg.norm(Hstar, 2)
        eta = 1.0 / (2 * n)
        hat, lim, lim_se = [], [], []
        for k in widths:
            a, b = [], []
            for _ in range(reps):
                W0, v = init_network(k, d, seed=seed_of(rng))
                res = train_network(X, y, W0, v, activation=act, eta=eta, steps=20, gram_steps=np.arange(0, 20, 4))
                a.append(max(np.linalg.norm(Hh - H, 2) for Hh, H in zip(res["H_hat"], res["H"])) / nrm)
                b.append(max(np.linalg.norm(H - Hstar, 2) for H in res["H"]) / nrm)
            hat.append(np.mean(a))
            lim.append(np.mean(b))
            lim_se.append(np.std(b, ddof=1) / math.sqrt(reps))
        out[act] = (np.array(hat), np.array(lim), np.array(lim_se))
    return out


@claim("air.static_ntk", ref="Sec. 2.3", kind="rate",
       statement="H^_t - H_t = o(1) in the width, and H_t tends to the infinite-width Gram matrix H* = Sigma(X)")
def static_ntk(run: Run) -> Outcome:
    """Claim: [air, Sec. 2.3] along gradient descent, the averaged Gram matrix ``H^_t`` differs from the instantaneous
    ``H_t`` by ``o(1)`` in the width, and ``H_t`` tends to the static ``H* = Sigma(X)`` of Definition 2.

    Setting: one random unit data set (n = 10, d = 6, random +-1 labels), tanh and softplus, widths 32..1024 (quick)
    / 32..8192 (full), 3 (8) initialisations per width, 20 GD steps at ``eta = 1/(2n)``; the largest operator-norm
    deviation over the recorded steps, relative to ``||H*||``, averaged over initialisations.

    Check: (i) least-squares slopes of log deviation against log width with standard errors; each must satisfy
    ``slope + 4 se < 0`` (decays; both ~ -1/2, the NTK fluctuation rate); (ii) the limit is zero: the least-squares
    fit ``deviation = b + c k^(-1/2)`` has ``b - 4 se_b <= 0`` (``se_b`` the larger of the fit-residual and the
    propagated per-width standard errors; seeds 0..40: largest ``b / se_b`` 2.8).  A plateau plus a decaying
    fluctuation passes (i) -- the norm of ``c H* + E_k`` decreases with the width by convexity -- but not (ii).

    Negative control: ``H_t`` compared with ``1.5 H*`` (a wrong limit): the deviation plateaus at ``1/3`` of
    ``||1.5 H*||``; (ii) fails on every seed 0..40 (``b / se_b >= 21``), (i) too on most.  (With ``1.05 H*`` the
    finite-width fluctuation, 0.04..0.15 of ``||H*||`` at widths 32..1024, hid the offset on 8 of 26 seeds.)
    """
    widths = np.array(run.size([32, 64, 128, 256, 512, 1024], [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]))
    sweep = _width_sweep(run, widths, run.size(3, 8), 1.5 if run.control else 1.0)
    parts = {}
    for act, (hat, lim, _) in sweep.items():
        for name, vals in (("to_limit", lim), ("hat_minus_inst", hat)):
            s, se = ev.loglog_slope(widths, vals)
            key = f"{act}_{name}"
            parts[key] = Outcome(holds=bool(s + 4 * se < 0), measured=s + 4 * se, reference=0.0, relation="<",
                                 details={"slope": s, "se": se, "values": vals, "widths": widths})
    for act, (hat, lim, lim_se) in sweep.items():
        b, se_b = _limit_offset(widths, lim, lim_se)
        parts[f"{act}_limit_is_zero"] = Outcome(holds=bool(b - ev.Z * se_b <= 0), measured=b - ev.Z * se_b,
                                                reference=0.0, relation="<=", details={
                                                    "offset": b, "se": se_b,
                                                    "model": "deviation = offset + c k^(-1/2), least squares"})
    return ev.combine(parts, "tanh_to_limit")


def _limit_offset(widths, vals, val_se) -> tuple[float, float]:
    """Least-squares fit ``vals = b + c k^(-1/2)`` (the NTK fluctuation rate): the offset ``b`` and its standard error,
    the larger of the one from the fit residuals and the one propagated from the per-width standard errors of the
    means over initialisations (``val_se``; the residual estimate alone has 4 degrees of freedom in quick mode)."""
    A = np.column_stack([np.ones(len(widths)), np.asarray(widths, float) ** -0.5])
    y = np.asarray(vals, float)
    P = np.linalg.pinv(A)                          # coef = P y
    coef = P @ y
    res = y - A @ coef
    se_fit = math.sqrt(float(res @ res) / (len(y) - 2) * float(np.linalg.inv(A.T @ A)[0, 0]))
    se_rep = math.sqrt(float(np.sum((P[0] * np.asarray(val_se, float)) ** 2)))
    return float(coef[0]), max(se_fit, se_rep)


# ---------------------------------------------------------------------------------------------
# Sec. 2.3: the AIR ordering
# ---------------------------------------------------------------------------------------------

_AIR_X = np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2]])   # two unit vectors at 60 degrees


def _air_order_worst(run: Run, step_of) -> tuple[float, dict]:
    """Largest ratio factor(larger eigenvalue) / factor(smaller eigenvalue) over random Grams and steps ``step_of``."""
    rng = run.rng
    worst, info = 0.0, {}
    for _ in range(run.size(40, 200)):
        n = int(rng.integers(2, 12))
        H = _random_gram(rng, n)
        lam = np.maximum(np.linalg.eigvalsh(H), 0.0)
        eta = step_of(rng, lam)
        f = np.abs(ta.residual_factors(lam, 1, eta=eta))
        lam_u, idx = np.unique(lam, return_index=True)
        fu = f[idx]
        # for each larger eigenvalue its factor against every smaller one
        M = fu[:, None] / np.maximum(fu[None, :], 1e-300)     # M[i, j] = f_i / f_j, i larger when i > j
        tri = np.tril(np.ones_like(M, dtype=bool), -1)
        if tri.any():
            r = float(np.max(np.where(tri, M, 0.0)))
            if r > worst:
                worst, info = r, {"eta_lambda_max": float(eta * lam[-1]), "eta_over_limit": float(eta * (lam_u[-1] + lam_u[-2]) / 2)}
    return worst, info


@claim("air.air_order", ref="Sec. 2.3", kind="inequality", expected="erratum",
       statement="Under GD the residual along a larger NTK eigenvalue always decays faster (|1 - eta l_i| < |1 - eta l_j|)",
       recheck="""
import numpy as np
from kdtheory.theory.air import ntk_gram, residual_factors, air_order_max_step
X = np.array([[1.0, 0.0], [0.5, 3 ** 0.5 / 2]])
lam = np.linalg.eigvalsh(ntk_gram(X))          # 1/3, 2/3
print('eigenvalues', lam, 'step 2.7 < 2/lambda_max = 3')
print('factors |1 - eta lambda|:', np.abs(residual_factors(lam, 1, eta=2.7)), '(larger eigenvalue decays slower)')
print('largest ordered step 2/(l1 + l2) =', air_order_max_step(lam))
""")
def air_order(run: Run) -> Outcome:
    """Claim: [air, Sec. 2.3] "the component [of the residual] in the eigenspace with a larger eigenvalue converges
    faster" for gradient descent ``u_{t+1} - y = (I - eta H*)(u_t - y)``, with no condition on ``eta`` beyond
    convergence (``eta < 2 / lambda_max``).

    Setting: 40 (200) Gram matrices (NTKs of random data, random PSD spectra over 4 decades, rank-deficient), steps
    drawn uniformly in ``(0, 2 / lambda_max)``; headline: ReLU NTK of two unit vectors at 60 degrees,
    ``H* = [[1/2, 1/6], [1/6, 1/2]]``, eigenvalues 2/3 and 1/3, ``eta = 27/10 < 3``.

    Check: worst ratio ``|1 - eta lambda_larger| / |1 - eta lambda_smaller|`` over all ordered pairs must be ``<= 1``
    (a larger eigenvalue never decays slower).  Erratum: for ``eta (lambda_1 + lambda_2) > 2`` the top component
    decays slower; in the headline the factors are exactly 4/5 (along 2/3) and 1/10 (along 1/3), certified with
    rationals.

    Negative control: steps in ``(1/lambda_max, 2/lambda_max)`` only: fails as well.

    Positive control: steps restricted to ``eta <= 2/(lambda_1 + lambda_2)`` (:func:`air_order_max_step`): holds.
    """
    if run.positive:
        step = lambda rng, lam: float(rng.uniform(0.0, 1.0)) * min(ta.air_order_max_step(lam), 1.99 / lam[-1])
    elif run.control:
        step = lambda rng, lam: float(rng.uniform(1.0, 1.99)) / lam[-1]
    else:
        step = lambda rng, lam: float(rng.uniform(0.01, 1.99)) / lam[-1]
    worst, info = _air_order_worst(run, step)
    lam2 = np.linalg.eigvalsh(ta.ntk_gram(_AIR_X))
    eta = 2.7
    fac = np.abs(ta.residual_factors(lam2, 1, eta=eta))
    exact_top, exact_low = abs(1 - Fraction(27, 10) * Fraction(2, 3)), abs(1 - Fraction(27, 10) * Fraction(1, 3))
    cert = ev.certificate(exact_top, exact_low, "<=", what="|1 - eta*2/3| <= |1 - eta*1/3| at eta = 27/10 (ReLU NTK, 60 deg)")
    out = ev.bound_outcome([worst], [1.0], details={**info, "tightness_note": "ratio of decay factors"})
    d = dict(out.details)
    d.update({"counterexample": {"X": _AIR_X, "gram": ta.ntk_gram(_AIR_X), "eigenvalues": lam2, "eta": eta,
                                 "factors_float": fac, "factor_top": str(exact_top), "factor_second": str(exact_low),
                                 "ordered_step_limit": ta.air_order_max_step(lam2)},
              "certificate": cert})
    return Outcome(out.holds, out.measured, out.reference, out.relation, out.tolerance, d)


@claim("air.air_order_corrected", ref="Sec. 2.3, corrected", kind="inequality",
       statement="Larger eigenvalues are fitted no slower iff eta (l_1 + l_2) <= 2 (always under gradient flow); the limit is sharp")
def air_order_corrected(run: Run) -> Outcome:
    """Claim: [air, Sec. 2.3, corrected] for ``0 < eta <= 2/(lambda_1 + lambda_2)`` (``lambda_1 > lambda_2`` the two
    largest distinct eigenvalues, :func:`air_order_max_step`) every larger eigenvalue has a GD factor
    ``|1 - eta lambda|`` no larger than every smaller one (so it is fitted no slower), and under gradient flow
    ``exp(-lambda t)`` always orders them; above the limit the top pair is out of order (sharpness).

    Setting: as ``air.air_order``; steps uniform in ``(0, limit]`` and exactly at the limit (where the top pair ties);
    flow times up to ``50 / lambda_max``; sharpness at ``limit (1 + 1e-3)``.

    Check: worst ratio ``factor(larger) / factor(smaller)`` ``<= 1`` (ties at the limit are ratio 1 up to rounding,
    decided in exact rational arithmetic when above 1); flow ratios ``<= 1``; and at ``limit (1 + 1e-3)`` every instance
    has a ratio above 1.

    Negative control: steps at ``limit (1 + 1e-3)``: the ratio exceeds 1, must fail.
    """
    rng = run.rng
    vals, cert_data = [], []
    sharp_ok = True
    for i in range(run.size(40, 200)):
        n = int(rng.integers(2, 12))
        H = _random_gram(rng, n)
        lam = np.unique(np.maximum(np.linalg.eigvalsh(H), 0.0))
        if lam.size < 2 or lam[-1] <= 0:
            continue
        lim = ta.air_order_max_step(lam)
        etas = ((lim * (1 + 1e-3), False),) if run.control else ((lim * float(rng.uniform(0.01, 1.0)), False),
                                                                   (lim, True))
        for eta, at_limit in etas:
            f = np.abs(ta.residual_factors(lam, 1, eta=eta))
            M = f[:, None] / np.maximum(f[None, :], 1e-300)
            tri = np.tril(np.ones_like(M, dtype=bool), -1)
            j = np.unravel_index(np.argmax(np.where(tri, M, -1.0)), M.shape)
            vals.append(float(M[j]))
            cert_data.append((float(lam[j[0]]), float(lam[j[1]]), float(eta), at_limit, float(lam[-1]),
                              float(lam[-2])))
        fl = np.exp(-lam * float(rng.uniform(0, 50)) / lam[-1])
        Mf = fl[:, None] / np.maximum(fl[None, :], 1e-300)
        vals.append(float(np.max(np.where(np.tril(np.ones_like(Mf, dtype=bool), -1), Mf, 0.0))))
        cert_data.append(None)
        f_up = np.abs(ta.residual_factors(lam, 1, eta=lim * (1 + 1e-3)))
        sharp_ok &= bool(f_up[-1] > f_up[-2])

    def certify(i):   # exact rationals (floats are rationals); the step at the limit is 2/(l1 + l2) exactly
        if cert_data[i] is None:
            return vals[i], 1.0
        li, lj, eta, at_limit, l1, l2 = cert_data[i]
        step = Fraction(2) / (Fraction(l1) + Fraction(l2)) if at_limit else Fraction(eta)
        return abs(1 - step * Fraction(li)), abs(1 - step * Fraction(lj))

    main = ev.bound_outcome(vals, np.ones(len(vals)), certify=certify)
    sharp = Outcome(holds=sharp_ok, measured=float(sharp_ok), reference=1.0, relation="==",
                    details={"what": "above the limit the top pair is out of order on every instance"})
    return ev.combine({"ordered_within_limit": main, "limit_is_sharp": sharp}, "ordered_within_limit")


# ---------------------------------------------------------------------------------------------
# Sec. 3.2: where label noise lies
# ---------------------------------------------------------------------------------------------


def _noise_instances(run: Run):
    """Clusterable data: share of the noise energy on the top-K eigenspace of Sigma(X~) (eps = 0) and Sigma(X)."""
    from kdtheory.numerics.air import clusterable_data

    rng = run.rng
    rows = []
    for i in range(run.size(10, 40)):
        act = ACTS[i % 3]
        K = int(rng.integers(1, 5))
        n = int(K * rng.integers(4, 12))
        rho = float(rng.uniform(0.1, 0.45))
        eps = float(10 ** rng.uniform(-3, -1.3))
        data = clusterable_data(n, K, int(rng.integers(3, 8)), eps, rho, seed=seed_of(rng))
        if not np.any(data.y_noisy != data.y_clean):
            continue
        Ht = ta.ntk_gram(data.X_centers, act, nodes=NODES)
        H = ta.ntk_gram(data.X, act, nodes=NODES)
        w = data.y_noisy - data.y_clean
        share = {}
        for name, G in (("centers", Ht), ("data", H)):
            lam, V = np.linalg.eigh(G)
            P = V[:, -K:]
            share[name] = float(np.sum((P.T @ w) ** 2) / np.sum(w ** 2))
        lamt = np.linalg.eigvalsh(Ht)
        E = np.linalg.norm(H - Ht, 2)
        rows.append({"data": data, "K": K, "n": n, "rho": float(np.max(
            ta.data_model_constants(data.X, data.centers, data.assignment, data.y_noisy, data.y_clean)["rho_l"])),
            "share_centers": share["centers"], "share_data": share["data"],
            "exact": ta.noise_top_fraction(data.assignment, data.y_noisy, data.y_clean),
            "bound": ta.noise_top_fraction_bound(ta.noise_top_fraction(data.assignment, data.y_noisy, data.y_clean),
                                                 E, float(lamt[-K])),
            "isotropic": K / n, "act": act,
            # eigenvector condition of the top-K eigenspace of Sigma(X~): n ||Sigma|| / (its gap to the rest)
            "eig_cond": float(n * lamt[-1] / max(lamt[-K] - (lamt[-K - 1] if n > K else 0.0), 1e-300))})
    return rows


_NOISE_HEADLINE = {"assignment": np.repeat([0, 1], 10), "flips": 4}


def _noise_headline():
    a = _NOISE_HEADLINE["assignment"]
    yc = np.where(a == 0, 1.0, -1.0)
    y = yc.copy()
    for l in (0, 1):
        y[np.flatnonzero(a == l)[:_NOISE_HEADLINE["flips"]]] *= -1
    return a, y, yc


def _exact_share_and_rho(data, scale) -> tuple[Fraction, Fraction]:
    """The share ``sum n_l rho_l^2 / sum n_l rho_l`` and ``scale * max rho_l`` from the label counts, exactly."""
    wrong = data.y_noisy != data.y_clean
    sizes = np.bincount(data.assignment)
    fl = [Fraction(int(wrong[data.assignment == l].sum()), int(sizes[l])) for l in range(sizes.size)]
    share = sum(int(sizes[l]) * fl[l] ** 2 for l in range(sizes.size)) / sum(int(sizes[l]) * fl[l]
                                                                          for l in range(sizes.size))
    return share, Fraction(scale) * max(fl)


@claim("air.noise_small_eig", ref="Sec. 3.2", kind="inequality", expected="erratum",
       statement="Label noise lies in the eigenspaces of the small NTK eigenvalues",
       recheck="""
import numpy as np
from kdtheory.theory.air import noise_top_fraction
a = np.repeat([0, 1], 10); yc = np.where(a == 0, 1.0, -1.0); y = yc.copy()
y[[0, 1, 2, 3, 10, 11, 12, 13]] *= -1          # 4 of 10 labels wrong in each cluster (rho = 0.4)
print('share of the noise energy in the top-K (K = 2) eigenspace at eps = 0:', noise_top_fraction(a, y, yc))
print('share of an isotropic vector: K/n =', 2 / 20)
""")
def noise_small_eig(run: Run) -> Outcome:
    """Claim: [air, Sec. 3.2] "the label noise lies in the eigenspaces associated to small eigenvalues"; read as: the
    noise energy share on the top-``K`` eigenspace of the NTK is at most ``K/n`` (``||P_top (y - y~)||^2 /
    ||y - y~||^2 <= K/n``, what an isotropic vector would put there) -- "lies in the small eigenspaces" taken as
    "no more on the top eigenspace than chance".  The weaker reading "mostly in the small eigenspaces" (share ``<= rho
    < 1/2``) holds; it is the corrected claim ``air.noise_small_eig_corrected`` and this claim's positive control.

    Setting: 10 (40) (eps, rho)-clusterable data sets (K = 1..4, 4..11 points per cluster, rho in [0.1, 0.45],
    eps in [1e-3, 0.05], ReLU/tanh/softplus NTKs), shares measured on ``Sigma(X~)`` (eps = 0, where the top-K
    eigenspace is exactly S+) and on ``Sigma(X)``; headline: K = 2 clusters of 10 points, 4 wrong labels in each.

    Check: worst ratio ``share / (K/n)`` over instances must be ``<= 1``.  Erratum: at eps = 0 the noise projects onto
    ``-2 rho_l y~_l`` on cluster ``l``: its share on S+ is exactly ``sum n_l rho_l^2 / sum n_l rho_l`` (about rho), far
    above ``K/n``; headline 2/5 against 1/10, certified with rationals.

    Negative control: threshold ``K/(2n)``: fails too.

    Positive control: the true neighbour, the "mostly" reading "the share is at most rho (< 1/2)": holds (ratios just
    above 1 at K = 1, where the share equals rho, decided exactly from the label counts).
    """
    rows = _noise_instances(run)
    if run.positive:   # the true neighbour: share on S+ (eps = 0) at most rho
        vals, bnds = [r["share_centers"] for r in rows], [r["rho"] for r in rows]
        # K = 1 (or equal rho_l) attains rho: a ratio just above 1 is eigenvector rounding, decided exactly by the
        # closed form from the label counts (equal to the eigendecomposition share: noise_small_eig_corrected (i))
        out = ev.bound_outcome(vals, bnds, certify=lambda i: _exact_share_and_rho(rows[i]["data"], 1))
    else:
        scale = 0.5 if run.control else 1.0
        vals = [r["share_centers"] for r in rows] + [r["share_data"] for r in rows]
        bnds = [scale * r["isotropic"] for r in rows] * 2
        out = ev.bound_outcome(vals, bnds)
    a, y, yc = _noise_headline()
    share = ta.noise_top_fraction(a, y, yc)
    exact = Fraction(sum(10 * Fraction(4, 10) ** 2 for _ in range(2)), sum(10 * Fraction(4, 10) for _ in range(2)))
    cert = ev.certificate(exact, Fraction(2, 20), "<=", what="noise share on S+ (eps = 0) <= K/n, K = 2, n = 20, rho = 2/5")
    d = dict(out.details)
    d.update({"counterexample": {"clusters": "2 x 10 points, 4 wrong labels each (rho = 0.4)", "share_float": share,
                                 "share_exact": str(exact), "isotropic_share": "1/10"},
              "certificate": cert,
              "shares": [(r["act"], r["K"], r["n"], round(r["share_centers"], 4), round(r["share_data"], 4),
                          round(r["isotropic"], 4)) for r in rows[:8]]})
    return Outcome(out.holds, out.measured, out.reference, out.relation, out.tolerance, d)


@claim("air.noise_small_eig_corrected", ref="Sec. 3.2, corrected", kind="inequality",
       statement="At eps = 0 the top-K eigenspace carries exactly the share sum n_l rho_l^2 / sum n_l rho_l <= rho < 1/2 of the noise; Davis-Kahan for eps > 0")
def noise_small_eig_corrected(run: Run) -> Outcome:
    """Claim: [air, Sec. 3.2, corrected] for (eps, rho)-clusterable data with ``lambda(C) > 0``, at eps = 0 the top-K
    eigenspace of ``Sigma(X~)`` is S+ and carries exactly the share ``sum_l n_l rho_l^2 / sum_l n_l rho_l <= rho < 1/2``
    of the noise energy (:func:`noise_top_fraction`): the noise there is ``-2 rho_l y~_l``, a shrinkage of the clean
    label that never flips its sign; more than half of the noise lies in the null eigenspace.  For eps > 0 the share
    on the top-K eigenspace of ``Sigma(X)`` obeys :func:`noise_top_fraction_bound` (Davis-Kahan).

    Setting: as ``air.noise_small_eig``.

    Check: (i) the eigendecomposition share on ``Sigma(X~)`` equals the closed form (identity tier, cond =
    ``n ||Sigma(X~)|| / gap``, the eigenvector condition of the top-K eigenspace);
    (ii) closed form ``<= rho`` (attained for K = 1; ratios above 1 by rounding decided in exact rationals from the
    label counts); (iii) ``sign(P_S+ y) = y~`` on every point; (iv) share on ``Sigma(X)`` ``<=`` the
    Davis-Kahan bound (worst ratio).

    Negative control: the bound (ii) halved, ``share <= rho/2``: must fail.
    """
    rows = _noise_instances(run)
    from kdtheory.verify.air._common import s_plus_basis

    scale = 0.5 if run.control else 1.0
    signs = all(bool(np.all(np.sign(s_plus_basis(r["data"].assignment) @ (s_plus_basis(r["data"].assignment).T
                                                                         @ r["data"].y_noisy)) == r["data"].y_clean))
                for r in rows)
    parts = {
        "share_le_rho": ev.bound_outcome([r["exact"] for r in rows], [scale * r["rho"] for r in rows],
                                         certify=lambda i: _exact_share_and_rho(rows[i]["data"], scale)),
        "closed_form": ev.identity_outcome([r["share_centers"] for r in rows], [r["exact"] for r in rows],
                                           tier=ev.IDENTITY, cond=[r["eig_cond"] for r in rows]),
        "sign_kept": Outcome(holds=signs, measured=float(signs), reference=1.0, relation="=="),
        "davis_kahan": ev.bound_outcome([r["share_data"] for r in rows], [r["bound"] for r in rows]),
    }
    return ev.combine(parts, "share_le_rho")


# ---------------------------------------------------------------------------------------------
# Definition 2
# ---------------------------------------------------------------------------------------------


@claim("air.def2", ref="Definition 2", kind="identity",
       statement="Sigma(D) = (D D^T) o E_g[phi'(Dg) phi'(Dg)^T] is E_W[J J^T] at every width; lambda(D) >= 0")
def def2(run: Run) -> Outcome:
    """Claim: [air, Definition 2] ``Sigma(D) = (D D^T) o E_{g~N(0,I)}[phi'(D g) phi'(D g)^T]`` is the expected Jacobian
    Gram matrix ``E_W[J(W, D) J(W, D)^T]`` of the network (at every even width, since the rows of ``W`` are i.i.d.
    ``N(0, I)`` and ``v_r^2 = 1/k``), and ``lambda(D)`` is its smallest eigenvalue (``>= 0``: ``Sigma`` is PSD).

    Setting: 6 (20) data sets (n = 3..8, d = 2..6, unit and non-unit rows, near-parallel pairs), ReLU / tanh /
    softplus; :func:`ntk_gram` (ReLU closed form, quadrature for the others); Monte Carlo over 300 (2000) draws of
    ``W`` at width 8 (the identity is exact at every width).

    Check: (i) ReLU closed form against the quadrature of the step derivative (quadrature tier); (ii) the quadrature
    error estimate is honest: ``|Sigma_24 - Sigma_48| <= err_24 + 64 eps |Sigma|`` entrywise (24 and 48 nodes); (iii) for 3 fixed random directions ``u`` per data set, the Monte Carlo
    mean of ``u^T J J^T u`` lies within 4 standard errors of ``u^T Sigma u``; (iv) ``lambda(D) >= -`` the rounding
    of the eigenproblem.

    Negative control: the Monte Carlo compared with ``1.2 Sigma``: must fail (smallest |z| over seeds 0..40:
    16.7; with ``1.05 Sigma`` it was 4.7 over seeds 0..25 and the control held at seeds 66, 67).
    """
    from kdtheory.numerics.air import init_network, jacobian

    rng = run.rng
    scale = 1.2 if run.control else 1.0
    lhs, rhs, errs, lam_ratio, z_scores = [], [], [], [], []
    for i in range(run.size(6, 20)):
        n, d = int(rng.integers(3, 9)), int(rng.integers(2, 7))
        X = rng.normal(size=(n, d)) * (rng.uniform(0.5, 2.0, (n, 1)) if i % 2 else 1.0)
        if i % 3 == 0:
            X[1] = X[0] + 1e-3 * rng.normal(size=d)
        closed = ta.ntk_gram(X, "relu")
        quad = ta.ntk_gram(X, lambda u: (u > 0).astype(float))
        lhs.append(closed.ravel())
        rhs.append(quad.ravel())
        act = ACTS[i % 3]
        S, err = ta.ntk_gram(X, act, return_error=True)
        fine = ta.ntk_gram(X, act, nodes=48)
        errs.append(float(np.max(np.abs(S - fine) / (err + 64 * ev.EPS * np.abs(fine)))))
        lam = np.linalg.eigvalsh(S)
        lam_ratio.append(-lam[0] / (64 * n * ev.EPS * lam[-1]))
        U = rng.normal(size=(3, n))
        draws = []
        for _ in range(run.size(300, 2000)):
            W, v = init_network(8, d, seed=seed_of(rng))
            J = jacobian(W, X, v, act)
            draws.append([float(np.sum((J.T @ u) ** 2)) for u in U])
        draws = np.array(draws)
        m, lo, hi = ev.mean_ci(draws)
        target = np.array([float(u @ (scale * S) @ u) for u in U])
        se = (hi - m) / ev.Z
        z_scores.extend(list(np.abs(m - target) / se))
    zs = np.array(z_scores)
    parts = {
        "monte_carlo": Outcome(holds=bool(zs.max() <= ev.Z), measured=float(zs.max()), reference=ev.Z, relation="<=",
                               details={"max_z": float(zs.max()), "draws_per_set": run.size(300, 2000)}),
        "relu_closed_vs_quadrature": ev.identity_outcome(np.concatenate(lhs), np.concatenate(rhs), tier=ev.QUADRATURE),
        "quadrature_error_estimate": ev.bound_outcome(errs, [1.0] * len(errs)),
        "psd": ev.bound_outcome(lam_ratio, [1.0] * len(lam_ratio)),
    }
    return ev.combine(parts, "monte_carlo")


# ---------------------------------------------------------------------------------------------
# Fig. 2
# ---------------------------------------------------------------------------------------------


def fig2_sets(run: Run, *, misaligned: bool = False):
    """Gram matrices and clean labels on which Fig. 2's trend is examined: digits (binary) and clusterable data."""
    from kdtheory.numerics.air import clusterable_data, digits_binary

    rng = run.rng
    sets = []
    D = digits_binary(n_train=run.size(80, 300), noise=0.0, seed=seed_of(rng))
    for act in ("relu", "tanh"):
        sets.append((f"digits/{act}", ta.ntk_gram(D["X_train"], act, nodes=NODES), D["y_train_clean"]))
    for i in range(run.size(2, 6)):
        c = clusterable_data(int(rng.integers(30, 60)), int(rng.integers(2, 5)), 6, 0.05, 0.0, seed=seed_of(rng))
        sets.append((f"clusterable/{ACTS[i % 3]}", ta.ntk_gram(c.X, ACTS[i % 3], nodes=NODES), c.y_clean))
    if misaligned:   # labels orthogonal to the top-5 eigenspace as far as signs allow
        out = []
        for name, G, yc in sets:
            w, V = np.linalg.eigh(G)
            z = rng.choice([-1.0, 1.0], yc.size)
            for _ in range(30):
                z = np.sign(z - V[:, -5:] @ (V[:, -5:].T @ z) + 1e-12)
            out.append((name + "/misaligned", G, z))
        sets = out
    return sets


_FIG2_DRAWS = 1000  # quick mode: ||P y||^2 is chi-square-like (skewed); 300 draws let the 4-s.e. test fire at seed 34


@claim("air.fig2", ref="Fig. 2, Sec. 2.3, App. B", kind="inequality",
       statement="The top-5 NTK eigenspace share of the label energy decreases with the noise level (0 to 0.5) exactly when the clean labels carry more of it than a random sign vector, as clustered labels do")
def fig2(run: Run) -> Outcome:
    """Claim: [air, Fig. 2] the fraction of the label vector's energy in the top-5 eigenspace of the NTK decreases as
    the noise level grows from 0 to 0.5 (the paper's figure, one CIFAR-10 batch).  Exact form
    (:func:`expected_top_energy`): with labels flipped independently with probability ``p``,
    ``E||P y||^2 / n = ((1 - 2p)^2 a + 4p(1 - p) 5) / n``, ``a = ||P y~||^2``; so the trend is decreasing on
    ``[0, 1/2]`` iff ``a > 5`` (the clean labels carry more top-5 energy than a random sign vector) and increasing
    otherwise.  Clustered labels (Definition 1) always satisfy ``a > 5``; balanced binary digits subsets may not
    (the top eigenvector of the NTK is close to the constant vector, which balanced labels miss), and then the
    figure's trend reverses -- reported in details.

    Setting: digits (binary 0-4 vs 5-9, 80 (300) points, ReLU and tanh NTKs) and 2 (6) clusterable data sets, each
    with its clean labels and with misaligned sign vectors; noise levels 0, 0.1, ..., 0.5; Monte Carlo over 1000 (4000)
    label draws per level (the energy is chi-square-like, skewed: with 300 draws the normal approximation of the
    mean let the 4-s.e. test fire at seed 34, z = 4.03).

    Check, in this order: (i) Monte Carlo means of ``||P y||^2 / n`` within 4 standard errors of the exact values
    (:func:`expected_top_energy`) at every noise level, on the clean labels and on sign vectors nearly orthogonal to
    the top-5 eigenspace (misaligned: mostly ``a < 5``) -- this decides; (ii) on every data set, the exact curve is
    strictly decreasing on the grid iff ``a > 5`` (algebra: the derivative in ``p`` is ``4(1 - 2p)(5 - a)/n``, kept
    as a consistency check of the calculator); (iii) every clusterable set has ``a > 5`` (worst ``5/a <= 1``).

    Negative control: the statement that the noise puts none of its energy on the top eigenspace (the curve
    ``(1 - 2p)^2 a / n``, i.e. :func:`expected_top_energy` without its noise term ``4p(1 - p) 5/n``): the Monte Carlo
    check (i) fails (at ``p = 0.5`` the mean is ``5/n``, not 0).
    """
    rng = run.rng
    ps = np.linspace(0, 0.5, 6)
    cond_vals, dichotomy_ok, zmax, zworst = [], True, 0.0, None
    curves, shares = {}, {}
    for name, G, yc in fig2_sets(run) + fig2_sets(run, misaligned=True):
        w, V = np.linalg.eigh(G)
        P = V[:, -5:]
        a = float(np.sum((P.T @ yc) ** 2))
        if name.startswith("clusterable") and not name.endswith("misaligned"):
            cond_vals.append(5.0 / a)
        exact = np.array([ta.expected_top_energy(G, yc, p) for p in ps])
        dec = bool(np.all(np.diff(exact) < 0))
        dichotomy_ok &= dec == (a > 5.0)
        curves[name] = exact
        shares[name] = a
        target = exact - 4 * ps * (1 - ps) * 5 / yc.size if run.control else exact
        for p, e in zip(ps[1:], target[1:]):
            flips = rng.random((run.size(_FIG2_DRAWS, 4000), yc.size)) < p
            Y = np.where(flips, -yc, yc)
            s_ = np.sum((Y @ P) ** 2, axis=1) / yc.size
            m, lo, hi = ev.mean_ci(s_)
            z = abs(m - e) / max((hi - m) / ev.Z, 1e-300)
            if z >= zmax:
                zmax, zworst = z, {"set": name, "p": float(p), "mean": float(m), "exact": float(e), "a": a}
    parts = {
        "monte_carlo": Outcome(holds=bool(zmax <= ev.Z), measured=zmax, reference=ev.Z, relation="<=",
                               details={"max_z": zmax, "worst": zworst, "draws": run.size(_FIG2_DRAWS, 4000),
                                        "target": "(1-2p)^2 a/n (control)" if run.control else "expected_top_energy"}),
        "decreasing_iff_aligned": Outcome(holds=dichotomy_ok, measured=float(dichotomy_ok), reference=1.0,
                                          relation="==", details={"a_top5_energy": shares, "curves": curves}),
        "clustered_labels_aligned": ev.bound_outcome(cond_vals or [0.0], np.ones(max(len(cond_vals), 1))),
    }
    out = ev.combine(parts, "monte_carlo")
    d = dict(out.details)
    d["digits_sets_with_reversed_trend"] = [k for k, a in shares.items() if k.startswith("digits") and a <= 5.0]
    return Outcome(out.holds, out.measured, out.reference, out.relation, out.tolerance, d, out.decided_by)
