"""[sot] Sec. 4 and Apps. C, D, F: the Lipschitz and consistency regularisers, the schedules, Eq. (32)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np

import kdtheory.theory.sot as tsot
from kdtheory.verify import evidence
from kdtheory.verify._core import Outcome, Run, claim
from kdtheory.verify.sot._common import exact_equal_outcome

# ---------------------------------------------------------------------------------------------
# App. C: Lipschitz regularisation
# ---------------------------------------------------------------------------------------------


def _unit_vector_max(W: np.ndarray) -> float:
    """``max_j ||W e_j||_1`` by multiplying W with every unit vector (the vertices of the 1-norm ball)."""
    return max(float(np.abs(W @ e).sum()) for e in np.eye(W.shape[1]))


def _sign_vector_max(W: np.ndarray) -> float:
    """The operator norm ``sup_{||x||_1 <= 1} ||W x||_1`` through its dual form: ``||W x||_1 = max_s s.W x`` over
    sign vectors s, and ``max_{||x||_1 <= 1} s.W x = ||W^T s||_inf``, so the norm is the largest
    ``||W^T s||_inf`` over the ``2^out`` sign vectors (enumerated)."""
    S = np.array(list(itertools.product((-1.0, 1.0), repeat=W.shape[0])))
    return float(np.max(np.abs(S @ W)))


def _mlp(rng, d: int, h: int, K: int):
    W1 = rng.standard_normal((h, d)) * rng.choice([0.1, 1.0, 3.0])
    W2 = rng.standard_normal((K, h)) * rng.choice([0.1, 1.0, 3.0])
    return W1, rng.standard_normal(h), W2, rng.standard_normal(K)


def _mlp_out(W1, b1, W2, b2, x, softmax):
    z = W2 @ np.maximum(W1 @ x + b1, 0.0) + b2
    if not softmax:
        return z
    e = np.exp(z - z.max())
    return e / e.sum()


@claim("sot.lipschitz_reg", ref="Sec. 4, App. C", kind="inequality",
       statement="The 1-norm Lipschitz constant of a linear layer is its largest column abs-sum; l_LR = sum of them bounds the network's constant")
def lipschitz_reg(run: Run) -> Outcome:
    """Claim: [sot, Sec. 4, App. C] the regulariser ``l_LR = sum_f Lip(f)`` uses the 1-norm Lipschitz
    constant of each trainable layer, which is exact, simple and cheap to compute (Gouk et al.); it
    controls the Lipschitz constant of the network (what Thm. 3.6's L needs).

    Setting: random matrices ``W`` of shape (out, in), out/in in 1..12, entries Gaussian, sparse or
    with one dominant column (200 in quick mode, 2000 in full); two-layer ReLU networks (d, h, K
    up to 8, 16, 6; weight scales 0.1/1/3) with linear and softmax outputs, 40 (400) networks x 200
    random input pairs, plus an optimiser search for the largest ratio on 3 (40) of them (Nelder-Mead
    from the 2 (4) largest random ratios).

    Check: (i) :func:`layer_lipschitz_l1` equals ``max_j ||W e_j||_1`` computed by multiplying W with
    every unit vector (EXACT tier) and the operator norm ``sup_{||x||_1 <= 1} ||W x||_1`` through its
    dual form ``max_s ||W^T s||_inf`` over all ``2^out`` sign vectors (out <= 10, EXACT tier), and
    bounds ``||W x||_1 / ||x||_1`` for random and searched x (worst ratio 1: attained); (ii) the network's
    ``||f(x) - f(x')||_1 / ||x - x'||_1`` is at most :func:`network_lipschitz_bound_l1` (product of layer
    constants, times 1/2 with a softmax output: SymPy :func:`derive_softmax_lipschitz_l1`); (iii) that
    product is at most :func:`lipschitz_bound_from_regularizer` of :func:`lipschitz_regularizer`
    (AM-GM). Official code (read): ``weight.abs().sum(dim=0).max()`` for linear layers (the same
    column abs-sum), the entrywise 1-norm for convolutions (an upper bound).

    Negative control: the max row abs-sum (the constant of ``W^T``) taken as the layer constant:
    random directions exceed it, fails.
    """
    from kdtheory.verify.evidence import maximize

    rng = run.rng
    lip = (lambda W: tsot.layer_lipschitz_l1(W.T)) if run.control else tsot.layer_lipschitz_l1
    exact_l, exact_r, dual_l, dual_r, lay_v, lay_b, lay_inst = [], [], [], [], [], [], []
    for _ in range(run.size(200, 2000)):
        out, inp = int(rng.integers(1, 13)), int(rng.integers(1, 13))
        W = rng.standard_normal((out, inp))
        if rng.random() < 0.3:
            W *= rng.random((out, inp)) < 0.3
        if rng.random() < 0.3:
            W[:, rng.integers(inp)] *= 10.0
        L = lip(W)
        exact_l.append(tsot.layer_lipschitz_l1(W))
        exact_r.append(_unit_vector_max(W))
        if out <= 10:   # the operator-norm definition through the dual: max over sign vectors s of ||W^T s||_inf
            dual_l.append(tsot.layer_lipschitz_l1(W))
            dual_r.append(_sign_vector_max(W))
        X = rng.standard_normal((20, inp)) * (rng.random((20, inp)) < rng.uniform(0.2, 1.0))
        X = X[np.abs(X).sum(axis=1) > 0]
        lay_v.extend((np.abs(X @ W.T).sum(axis=1) / np.abs(X).sum(axis=1)).tolist())
        lay_b.extend([max(L, 1e-300)] * X.shape[0])
        lay_inst.extend([(W, xrow) for xrow in X])

    def certify(i):
        # exact rationals: the ratio equals the bound when x is a basis vector of the largest column
        W, x = lay_inst[i]
        Wm = W.T if run.control else W
        F = lambda v: Fraction(float(v))
        num = sum(abs(sum(F(W[a, b]) * F(x[b]) for b in range(W.shape[1]))) for a in range(W.shape[0]))
        ratio = num / sum(abs(F(v)) for v in x)
        bound = max(sum(abs(F(Wm[a, b])) for a in range(Wm.shape[0])) for b in range(Wm.shape[1]))
        return ratio, bound

    exact = evidence.identity_outcome(exact_l, exact_r, tier=evidence.EXACT)
    dual = evidence.identity_outcome(dual_l, dual_r, tier=evidence.EXACT)
    layer = evidence.bound_outcome(lay_v, lay_b, certify=certify)
    net_v, net_b, amgm_v, amgm_b, net_inst = [], [], [], [], []
    for t in range(run.size(40, 400)):
        d, h, K = int(rng.integers(1, 9)), int(rng.integers(1, 17)), int(rng.integers(2, 7))
        W1, b1, W2, b2 = _mlp(rng, d, h, K)
        softmax = bool(t % 2)
        bound = tsot.network_lipschitz_bound_l1([W1, W2], softmax_output=softmax)
        if run.control:
            bound = (0.5 if softmax else 1.0) * lip(W1) * lip(W2)
        x = rng.standard_normal((200, d))
        x2 = x + rng.standard_normal((200, d)) * 10 ** rng.uniform(-6, 0, (200, 1))
        num = np.array([np.abs(_mlp_out(W1, b1, W2, b2, a, softmax) - _mlp_out(W1, b1, W2, b2, c, softmax)).sum()
                        for a, c in zip(x, x2)])
        den = np.abs(x - x2).sum(axis=1)
        ratios = num / den
        f = lambda v: float(np.abs(_mlp_out(W1, b1, W2, b2, v[:d], softmax) - _mlp_out(W1, b1, W2, b2, v[d:], softmax)).sum()
                            / max(np.abs(v[:d] - v[d:]).sum(), 1e-12))
        pairs = list(zip(x, x2))
        if t < run.size(3, 40):
            starts = [np.concatenate([x[i], x2[i]]) for i in np.argsort(-ratios)[:run.size(2, 4)]]
            vbest, best = maximize(f, starts, maxiter=300)
            ratios = np.append(ratios, best)
            pairs.append((vbest[:d], vbest[d:]))
        net_v.extend(ratios.tolist())
        net_b.extend([max(bound, 1e-300)] * ratios.size)
        net_inst.extend([(W1, b1, W2, b2, a_, c_, softmax) for a_, c_ in pairs])
        amgm_v.append(tsot.network_lipschitz_bound_l1([W1, W2]))
        amgm_b.append(tsot.lipschitz_bound_from_regularizer(tsot.lipschitz_regularizer([W1, W2]), 2))
    def certify_net(i):
        # linear outputs in exact rationals (ReLU networks are piecewise linear: an attained bound is decided
        # exactly); softmax outputs (never attained) in mpmath
        import mpmath as mp

        W1, b1, W2, b2, a_, c_, softmax = net_inst[i]
        F = (lambda v: Fraction(float(v))) if not softmax else (lambda v: mp.mpf(float(v)))
        zero = F(0)

        def out(v):
            h = [max(zero, sum(F(W1[j, k]) * F(v[k]) for k in range(W1.shape[1])) + F(b1[j])) for j in range(W1.shape[0])]
            z = [sum(F(W2[j, k]) * h[k] for k in range(W2.shape[1])) + F(b2[j]) for j in range(W2.shape[0])]
            if not softmax:
                return z
            m = max(z)
            e = [mp.exp(t - m) for t in z]
            return [t / sum(e) for t in e]

        def ratio():
            fa, fc = out(a_), out(c_)
            return sum(abs(u - w) for u, w in zip(fa, fc)) / sum(abs(F(u) - F(w)) for u, w in zip(a_, c_))

        def bound():
            col = lambda W: max(sum(abs(F(W[a, b])) for a in range(W.shape[0])) for b in range(W.shape[1]))
            lw = (lambda W: col(W.T)) if run.control else col
            return (F(1) / 2 if softmax else F(1)) * lw(W1) * lw(W2)

        if softmax:
            return ratio, bound
        return ratio(), bound()

    network = evidence.bound_outcome(net_v, net_b, certify=certify_net)
    amgm = evidence.bound_outcome(amgm_v, amgm_b)
    sym = tsot.derive_softmax_lipschitz_l1(4)
    sym_ok = str(sym["max_of_2x(1-x)"]) == "1/2"
    symbolic = Outcome(holds=sym_ok, measured=0.0 if sym_ok else 1.0, reference=0.0, relation="==",
                       details={"column_sums": [str(c) for c in sym["column_sums"]]})
    return evidence.combine({"layer_bound": layer, "network_bound": network, "unit_vector_max": exact,
                             "operator_norm_dual": dual, "am_gm": amgm, "softmax_sympy": symbolic}, "network_bound")


# ---------------------------------------------------------------------------------------------
# App. C: consistency regularisation
# ---------------------------------------------------------------------------------------------


def _consistency_loss_loop(P: np.ndarray, T: np.ndarray) -> float:
    """``(1/N) sum_i sum_k (P_ik - T_ik)^2`` by an explicit loop over inputs and classes."""
    total = 0.0
    for i in range(P.shape[0]):
        for k in range(P.shape[1]):
            total += (P[i, k] - T[i, k]) ** 2
    return total / P.shape[0]


@claim("sot.consistency_reg", ref="App. C (consistency regularisation)", kind="identity",
       statement="The consistency target is the running average of previous predictions, computable online; l_CR is its mean squared distance")
def consistency_reg(run: Run) -> Outcome:
    """Claim: [sot, App. C] ``l_CR = (1/N) sum_i ||f(x_i) - fbar(x_i)||_2^2`` with
    ``fbar_t = (1/t) sum_{t' < t} f_t'``, skipped at epoch 0, "implemented in an online manner".

    Setting: random prediction histories (T = 1..60 epochs, N = 1..20 inputs, K = 2..10,
    Dirichlet rows, some near one-hot): 100 in quick mode, 1000 in full; the same on small exact
    rationals.

    Check: (i) the online recursion :func:`running_average_update` (weight ``1/(t+1)``, the official
    code's ``tau = 1/(1 + epoch)``) against :func:`running_average` (IDENTITY tier, cond T) and, on
    rationals, exactly; (ii) the targets are distributions (entries in [0, 1], rows sum to 1 within
    the tier); (iii) :func:`consistency_loss` equals the mean of squared distances summed by an
    explicit loop over inputs and classes (EXACT tier);
    (iv) SymPy :func:`derive_running_average` residual 0.

    Negative control: the online weight ``1/t`` (off by one: update called with ``t - 1``): fails.
    """
    rng = run.rng
    off = 1 if run.control else 0
    on_l, on_r, cond, simplex_v, loss_l, loss_r = [], [], [], [], [], []
    for _ in range(run.size(100, 1000)):
        T, N, K = int(rng.integers(1, 61)), int(rng.integers(1, 21)), int(rng.integers(2, 11))
        H = rng.dirichlet(np.ones(K) * rng.choice([0.05, 1.0]), (T, N))
        batch = tsot.running_average(H)
        avg = np.zeros((N, K))
        for t in range(T):
            avg = tsot.running_average_update(avg, H[t], max(t - off, 0) if off else t)
            on_l.append(avg.ravel())
            on_r.append(batch[t].ravel())
            cond.extend([float(T)] * avg.size)
        simplex_v.append(float(np.max(np.abs(batch.sum(axis=-1) - 1.0))))
        P = rng.dirichlet(np.ones(K), N)
        loss_l.append(tsot.consistency_loss(P, batch[-1]))
        loss_r.append(_consistency_loss_loop(P, batch[-1]))
    online = evidence.identity_outcome(np.concatenate(on_l), np.concatenate(on_r), tier=evidence.IDENTITY,
                                       cond=np.array(cond))
    simplex = evidence.bound_outcome(simplex_v, [evidence.IDENTITY.rtol(60)] * len(simplex_v)) \
        if max(simplex_v) > 0 else Outcome(True, 0.0, 1.0, "<=", details={"tightness": 0.0})
    loss = evidence.identity_outcome(loss_l, loss_r, tier=evidence.EXACT)
    # exact rationals: the recursion reproduces the batch mean exactly
    ex_l, ex_r = [], []
    for _ in range(run.size(20, 200)):
        vals = [Fraction(int(rng.integers(0, 97)), 97) for _ in range(int(rng.integers(1, 30)))]
        avg = Fraction(0)
        for t, v in enumerate(vals):
            avg = avg + (v - avg) / (t + 1 - off) if t + 1 - off > 0 else v
            ex_l.append(avg)
            ex_r.append(sum(vals[:t + 1]) / (t + 1))
    exact = exact_equal_outcome(ex_l, ex_r)
    sym = tsot.derive_running_average()["residual"]
    symbolic = Outcome(holds=sym == 0, measured=0.0 if sym == 0 else 1.0, reference=0.0, relation="==",
                       details={"residual": str(sym)})
    return evidence.combine({"online_equals_batch": online, "exact_rationals": exact, "targets_in_simplex": simplex,
                             "loss": loss, "sympy": symbolic}, "online_equals_batch")


# ---------------------------------------------------------------------------------------------
# Sec. 4 / App. D: schedules
# ---------------------------------------------------------------------------------------------


SCHEDULES = {"linear": tsot.linear_schedule, "cosine": tsot.cosine_schedule, "cyclic": tsot.cyclic_schedule,
             "piecewise": tsot.piecewise_schedule}


@claim("sot.schedules", ref="Sec. 4, App. D.1", kind="inequality",
       statement="The lambda_CR schedules (linear, cosine, cyclic, piecewise) rise from 0 at t = 0 to lambda_max at t = T, monotonically")
def schedules(run: Run) -> Outcome:
    """Claim: [sot, Sec. 4, App. D.1] the consistency weight is "interpolated from 0 to its maximum":
    linear ``t/T``, cosine ``cos((1 - t/T) pi/2)``, cyclic ``sqrt(1 - (1 - t/T)^2)`` and piecewise
    ``0, 1/2, 1`` on thirds, times ``lambda_max``.

    Setting: T in {1, 3, 7, 10, 90, 240} and 20 random T in [0.5, 1000] (200 in full), lambda_max
    in {1e-3, 1, 7.5}; a grid of 1001 times per T plus t = 0, T and the thirds.

    Check: (i) ``lambda(0) = 0`` and ``lambda(T) = lambda_max`` (IDENTITY tier; piecewise at 0 by
    convention) and SymPy :func:`derive_schedules` (endpoints, derivatives >= 0); (ii) monotone:
    ``lambda(t_i) <= lambda(t_{i+1}) (1 + tier)`` on the grid (bound); (iii) ``0 <= lambda <= lambda_max``;
    (iv) piecewise levels at the thirds' midpoints; (v) the official code evaluates at ``(e + 1)/T``
    for epoch e = 0..T-1 (so its last epoch uses lambda_max and its first ``lambda(1/T)``) and names
    a two-level ``step`` schedule instead of the paper's three-level piecewise (details). Note:
    cosine <= cyclic pointwise; "cyclic" is a quarter circle, not periodic.

    Negative control: the cosine schedule run backwards (``lambda(T - t)``): fails.
    """
    rng = run.rng
    Ts = [1.0, 3.0, 7.0, 10.0, 90.0, 240.0] + list(rng.uniform(0.5, 1000.0, run.size(20, 200)))
    end_l, end_r, mono_v, mono_b, range_v, range_b, level_l, level_r = [], [], [], [], [], [], [], []
    for T in Ts:
        for lm in (1e-3, 1.0, 7.5):
            t = np.unique(np.concatenate([np.linspace(0, T, 1001), [T / 3, 2 * T / 3]]))
            t = t[(t >= 0) & (t <= T)]
            for name, fn in SCHEDULES.items():
                g = (lambda tt, fn=fn: fn(T - tt, T, lm)) if (run.control and name == "cosine") else \
                    (lambda tt, fn=fn: fn(tt, T, lm))
                v = np.asarray(g(t))
                end_l += [float(g(0.0)) + 1.0, float(g(T))]
                end_r += [1.0, lm]
                mono_v.extend(v[:-1].tolist())
                mono_b.extend((v[1:] * (1 + evidence.IDENTITY.rtol()) + 1e-300).tolist())
                range_v.extend(v.tolist())
                range_b.extend([lm * (1 + evidence.IDENTITY.rtol())] * v.size)
            for frac, level in ((1 / 6, 0.0), (0.5, 0.5), (5 / 6, 1.0)):
                level_l.append(float(tsot.piecewise_schedule(frac * T, T, lm)) + 1.0)
                level_r.append(level * lm + 1.0)
    ends = evidence.identity_outcome(end_l, end_r, tier=evidence.IDENTITY)
    mono = evidence.bound_outcome(mono_v, mono_b)
    rng_out = evidence.bound_outcome(range_v, range_b)
    if min(range_v) < 0:
        rng_out = Outcome(False, float(min(range_v)), 0.0, ">=", details={"negative_weight": float(min(range_v))})
    levels = evidence.identity_outcome(level_l, level_r, tier=evidence.EXACT)
    sym = tsot.derive_schedules()
    import sympy as sp

    tt, TT, lmx = sp.symbols("t T lambda_max", positive=True)
    sym_ok = all(v["at_0"] == 0 and sp.simplify(v["at_T"] - lmx) == 0 for v in sym.values())
    sym_ok = sym_ok and all(float(v["derivative"].subs({tt: q, TT: 1, lmx: 1})) >= 0
                            for v in sym.values() for q in (0.01, 0.3, 0.7, 0.99))
    symbolic = Outcome(holds=sym_ok, measured=0.0 if sym_ok else 1.0, reference=0.0, relation="==",
                       details={k: {kk: str(vv) for kk, vv in v.items()} for k, v in sym.items()})
    out = evidence.combine({"monotone": mono, "endpoints": ends, "range": rng_out, "piecewise_levels": levels,
                            "sympy": symbolic}, "monotone")
    d = dict(out.details)
    d["official_code"] = {"evaluated_at": "(epoch + 1) / epochs", "first_epoch_linear_weight": "lambda_max / T",
                          "schedules": ["linear", "cosine", "cycle", "step (two levels, from start_at)"]}
    return Outcome(holds=out.holds, measured=out.measured, reference=out.reference, relation=out.relation,
                   tolerance=out.tolerance, details=d, decided_by=out.decided_by)


# ---------------------------------------------------------------------------------------------
# App. F, Eq. (32)
# ---------------------------------------------------------------------------------------------


@claim("sot.eq32", ref="App. F, Eqs. (31)-(32)", kind="identity",
       statement="The CRL correctness frequency c(x) equals 1_y . (1/(t-1)) sum_t' Onehot[f(x)_t']")
def eq32(run: Run) -> Outcome:
    """Claim: [sot, App. F, Eq. (32)] the frequency of correct argmax predictions over epochs
    ``1..t-1`` (CRL's ``c(x)``) is the inner product of ``1_y`` with the average one-hot prediction --
    a consistency target with one-hot instead of soft predictions.

    Setting: random prediction histories (1..50 epochs, 1..30 inputs, K = 2..10), a third with
    exact ties in the argmax (rounded probabilities), 200 in quick mode, 2000 in full.

    Check: :func:`crl_correctness_frequency` equals :func:`crl_correctness_frequency_onehot` bit for
    bit (EXACT tier; both are integer counts over t-1 when ties go to the same index).

    Negative control: the average of the soft predictions (the SoTeacher target) in place of the
    one-hot average: differs, fails.
    """
    rng = run.rng
    lhs, rhs = [], []
    for _ in range(run.size(200, 2000)):
        T, N, K = int(rng.integers(1, 51)), int(rng.integers(1, 31)), int(rng.integers(2, 11))
        H = rng.dirichlet(np.ones(K), (T, N))
        if rng.random() < 0.33:
            H = np.round(H * 4) / 4
            H = np.where(H.sum(-1, keepdims=True) > 0, H, 1.0 / K)
        y = rng.integers(0, K, N)
        lhs.append(tsot.crl_correctness_frequency(H, y))
        rhs.append(H.mean(axis=0)[np.arange(N), y] if run.control else tsot.crl_correctness_frequency_onehot(H, y))
    return evidence.identity_outcome(np.concatenate(lhs) + 1.0, np.concatenate(rhs) + 1.0, tier=evidence.EXACT)
