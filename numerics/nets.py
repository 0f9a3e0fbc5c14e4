"""Small distillation trainer for the kd figures [kd, Sec. 3, Alg. 1, Eqs. (2)-(5), (7), (16), (18)].

Softmax regression and a one-hidden-layer ReLU network, written with manual
gradients in NumPy and vectorised over *replicas*: one call trains R students
at once (for example one per distillation weight lambda, or one per seed),
each a row of a parameter matrix of shape ``(R, P)``. Nothing here is hot
enough to need Numba: a step is a handful of batched matrix products.

Conventions (the paper's Eq. (2)/(4), not the swapped one of Alg. 1, line 6):
the student loss on sample n is

    (1 - lam) * CE(p_x(a_n), y_n) + lam * CE(p_x(a_n), p_theta(a_n)),

which by linearity of CE in its target equals CE(p_x(a_n), s_n) with soft
label s_n = (1 - lam) y_n + lam p_theta(a_n) [kd, Eq. (3)]. Three update
directions are offered:

``"kd"``
    the exact gradient of that loss (what a framework would back-propagate);
``"linearized"``
    the approximation (5): grad f_B(x) - lam * grad f_B(theta), i.e. SGD with
    self-distillation (7); equal to ``"kd"`` for softmax regression
    [kd, App. B.2], only an approximation for the MLP [kd, App. B.3];
``"unbiased"``
    the bias-corrected direction (16): (5) + lam * grad f(theta), with the
    full-batch teacher gradient computed once.

Compressed students [kd, Sec. 6 and App. F.3]: ``density < 1`` keeps a
fraction of the parameters, either with a mask drawn once at initialisation
and applied after every update (``compressor="fixed_mask"``, the paper's
Fig. 6), or with a fresh unbiased compressor applied to the iterate at every
step as in Eq. (18) (``"randk"``: k coordinates kept and scaled by P/k;
``"bernoulli"``: each kept with probability ``density`` and scaled by
1/density).

Data: :func:`digits_data` (scikit-learn's bundled 8x8 digits, optionally
pooled to 4x4 and with seeded label noise so that the unregularised
cross-entropy has a finite minimiser, as MNIST does for a linear model) and
:func:`synthetic_data` (seeded Gaussian classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kdtheory.theory._checks import require, require_finite, require_in, require_positive

METHODS = ("kd", "linearized", "unbiased")
COMPRESSORS = ("fixed_mask", "randk", "bernoulli")
RECORDS = ("running", "full", "full_avg", "val", "variance", "alignment")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Dataset:
    """A classification data set split into train and validation parts (features standardised)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    name: str = ""

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])


def _split_standardise(X, y, n_classes, *, val_fraction, label_noise, rng, name) -> Dataset:
    n = X.shape[0]
    perm = rng.permutation(n)
    n_val = int(round(val_fraction * n))
    val, tr = perm[:n_val], perm[n_val:]
    Xtr, Xva = X[tr], X[val]
    ytr, yva = y[tr].copy(), y[val].copy()
    if label_noise > 0:
        flip = rng.random(ytr.size) < label_noise
        ytr[flip] = rng.integers(0, n_classes, int(flip.sum()))
    mean, std = Xtr.mean(axis=0), Xtr.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return Dataset((Xtr - mean) / std, ytr.astype(np.int64), (Xva - mean) / std, yva.astype(np.int64),
                   int(n_classes), name)


def digits_data(*, seed: int = 0, pool: int = 2, label_noise: float = 0.1, val_fraction: float = 0.25) -> Dataset:
    """scikit-learn's bundled 8x8 digits (no download), split, pooled and standardised.

    ``pool`` averages ``pool x pool`` pixel blocks (2 gives 16 features; 1 keeps
    64); ``label_noise`` replaces that fraction of *training* labels by uniform
    random classes (validation labels stay clean). With the defaults the
    unregularised softmax regression has a finite minimiser (the raw 64-pixel
    training set is linearly separable, so its cross-entropy infimum 0 is not
    attained).
    """
    require(pool in (1, 2, 4, 8), "pool", pool, "be one of 1, 2, 4, 8")
    require_in(label_noise, "label_noise", 0.0, 1.0, closed="left")
    require_in(val_fraction, "val_fraction", 0.0, 1.0, closed="neither")
    from sklearn.datasets import load_digits

    d = load_digits()
    img = d.images.astype(float) / 16.0
    s = 8 // pool
    X = img.reshape(-1, s, pool, s, pool).mean(axis=(2, 4)).reshape(len(img), -1)
    return _split_standardise(X, d.target, 10, val_fraction=val_fraction, label_noise=label_noise,
                              rng=np.random.default_rng(seed), name=f"digits(pool={pool}, noise={label_noise:g})")


def synthetic_data(*, n: int = 600, n_features: int = 10, n_classes: int = 4, separation: float = 1.5,
                   label_noise: float = 0.1, val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Seeded Gaussian classes: class means drawn on a sphere of radius ``separation``, unit covariance."""
    require(isinstance(n, (int, np.integer)) and n >= 4, "n", n, "be an integer >= 4")
    require(isinstance(n_features, (int, np.integer)) and n_features >= 1, "n_features", n_features,
            "be an integer >= 1")
    require(isinstance(n_classes, (int, np.integer)) and n_classes >= 2, "n_classes", n_classes,
            "be an integer >= 2")
    require_positive(separation, "separation", strict=False)
    require_in(label_noise, "label_noise", 0.0, 1.0, closed="left")
    require_in(val_fraction, "val_fraction", 0.0, 1.0, closed="neither")
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((n_classes, n_features))
    means *= separation / np.linalg.norm(means, axis=1, keepdims=True)
    y = rng.integers(0, n_classes, n)
    X = means[y] + rng.standard_normal((n, n_features))
    return _split_standardise(X, y, n_classes, val_fraction=val_fraction, label_noise=label_noise, rng=rng,
                              name=f"synthetic(n={n}, d={n_features}, K={n_classes})")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Net:
    """Softmax regression (``hidden=0``) or a one-hidden-layer ReLU network; parameters are flat vectors.

    Layout: softmax regression ``[W (d, K), b (K)]``; MLP ``[W1 (d, h), b1 (h), W2 (h, K), b2 (K)]``.
    """

    n_features: int
    n_classes: int
    hidden: int = 0
    shapes: tuple = field(init=False, repr=False)

    def __post_init__(self):
        d, K, h = self.n_features, self.n_classes, self.hidden
        require(isinstance(d, (int, np.integer)) and d >= 1, "n_features", d, "be an integer >= 1", func="Net")
        require(isinstance(K, (int, np.integer)) and K >= 2, "n_classes", K, "be an integer >= 2", func="Net")
        require(isinstance(h, (int, np.integer)) and h >= 0, "hidden", h, "be an integer >= 0", func="Net")
        shapes = ((d, K), (K,)) if h == 0 else ((d, h), (h,), (h, K), (K,))
        object.__setattr__(self, "shapes", shapes)

    @property
    def n_params(self) -> int:
        return int(sum(np.prod(s) for s in self.shapes))

    def unpack(self, params: np.ndarray) -> list[np.ndarray]:
        """Views ``(R, *shape)`` of the blocks of ``params`` of shape ``(R, P)``."""
        out, i = [], 0
        for s in self.shapes:
            size = int(np.prod(s))
            out.append(params[:, i:i + size].reshape(params.shape[0], *s))
            i += size
        return out

    def init(self, rng: np.random.Generator, replicas: int = 1) -> np.ndarray:
        """He-scaled Gaussian weights and zero biases (softmax regression: all zeros)."""
        params = np.zeros((replicas, self.n_params))
        if self.hidden:
            W1, _, W2, _ = self.unpack(params)
            W1[...] = rng.standard_normal(W1.shape) * np.sqrt(2.0 / self.n_features)
            W2[...] = rng.standard_normal(W2.shape) * np.sqrt(1.0 / self.hidden)
        return params


def _forward(net: Net, params: np.ndarray, X: np.ndarray):
    """Logits ``(R, B, K)`` and the cache for :func:`_backward`; ``X`` is ``(R or 1, B, d)``.

    Written so that complex ``params`` work (complex-step differentiation in the tests).
    """
    if net.hidden == 0:
        W, b = net.unpack(params)
        return X @ W + b[:, None, :], (X, None, None)
    W1, b1, W2, b2 = net.unpack(params)
    pre = X @ W1 + b1[:, None, :]
    h = np.where(pre.real > 0, pre, 0.0)
    return h @ W2 + b2[:, None, :], (X, pre, h)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.real.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _cross_entropy(z: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Mean over the batch of CE(softmax(z), T): shape ``(R,)``."""
    return -(T * _log_softmax(z)).sum(axis=-1).mean(axis=-1)


def _backward(net: Net, params: np.ndarray, cache, dz: np.ndarray) -> np.ndarray:
    """Gradient ``(R, P)`` of a loss whose logit-gradient is ``dz`` (already divided by the batch size)."""
    X, pre, h = cache
    XT = np.swapaxes(X, 1, 2)
    if net.hidden == 0:
        gW = XT @ dz
        return np.concatenate([gW.reshape(gW.shape[0], -1), dz.sum(axis=1)], axis=1)
    _, _, W2, _ = net.unpack(params)
    gW2 = np.swapaxes(h, 1, 2) @ dz
    dpre = (dz @ np.swapaxes(W2, 1, 2)) * (pre > 0)
    gW1 = XT @ dpre
    R = dz.shape[0]
    return np.concatenate([gW1.reshape(R, -1), dpre.sum(axis=1), gW2.reshape(R, -1), dz.sum(axis=1)], axis=1)


def _per_sample_grads(net: Net, params: np.ndarray, cache, dz: np.ndarray) -> np.ndarray:
    """Per-sample gradients ``(R, B, P)`` for logit-gradients ``dz`` (not divided by the batch size)."""
    X, pre, h = cache
    R, B, _ = dz.shape
    Xb = np.broadcast_to(X, (R,) + X.shape[1:])
    if net.hidden == 0:
        return np.concatenate([(Xb[:, :, :, None] * dz[:, :, None, :]).reshape(R, B, -1), dz], axis=2)
    _, _, W2, _ = net.unpack(params)
    dpre = (dz @ np.swapaxes(W2, 1, 2)) * (pre > 0)
    return np.concatenate([(Xb[:, :, :, None] * dpre[:, :, None, :]).reshape(R, B, -1), dpre,
                           (h[:, :, :, None] * dz[:, :, None, :]).reshape(R, B, -1), dz], axis=2)


# --------------------------------------------------------------------------- checked public helpers


def _as_params(net: Net, params, name: str, func: str) -> np.ndarray:
    arr = require_finite(params, name, func=func)
    if arr.ndim == 1:
        arr = arr[None, :]
    require(arr.ndim == 2 and arr.shape[1] == net.n_params, name, params,
            f"have shape (P,) or (R, P) with P = {net.n_params}", func=func)
    return arr


def _check_xy(net: Net, X, y, func: str):
    X = require_finite(X, "X", func=func)
    require(X.ndim == 2 and X.shape[1] == net.n_features, "X", X,
            f"have shape (n, {net.n_features})", func=func)
    y = np.asarray(y)
    require(y.shape == (X.shape[0],) and np.issubdtype(y.dtype, np.integer)
            and bool(np.all((y >= 0) & (y < net.n_classes))), "y", y,
            f"be {X.shape[0]} integer labels in [0, {net.n_classes})", func=func)
    return X, y


def _onehot(y: np.ndarray, K: int) -> np.ndarray:
    return np.eye(K)[y]


def _check_lams(lam, R: int | None, func: str) -> np.ndarray:
    lams = np.atleast_1d(np.asarray(lam, dtype=float))
    require(lams.ndim == 1 and bool(np.all(np.isfinite(lams))) and bool(np.all((lams >= 0) & (lams <= 1))),
            "lam", lam, "lie in [0, 1] (a scalar or a 1-d array)", func=func)
    if R is not None and lams.size not in (1, R):
        require(False, "lam", lam, f"have 1 or {R} entries (one per replica)", func=func)
    return lams


def predict_proba(net: Net, params, X) -> np.ndarray:
    """Class probabilities ``(R, n, K)`` of the model(s) ``params`` on inputs ``X``."""
    P = _as_params(net, params, "params", "predict_proba")
    X = require_finite(X, "X", func="predict_proba")
    require(X.ndim == 2 and X.shape[1] == net.n_features, "X", X, f"have shape (n, {net.n_features})",
            func="predict_proba")
    return _softmax(_forward(net, P, X[None])[0])


def cross_entropy(net: Net, params, X, y) -> np.ndarray:
    """Mean cross-entropy f(x) = (1/n) sum_n CE(p_x(a_n), y_n) [kd, Eq. (1)], one value per replica."""
    P = _as_params(net, params, "params", "cross_entropy")
    X, y = _check_xy(net, X, y, "cross_entropy")
    return _cross_entropy(_forward(net, P, X[None])[0], _onehot(y, net.n_classes))


def accuracy(net: Net, params, X, y) -> np.ndarray:
    """Fraction of correct argmax predictions, one value per replica."""
    P = _as_params(net, params, "params", "accuracy")
    X, y = _check_xy(net, X, y, "accuracy")
    return (_forward(net, P, X[None])[0].argmax(axis=-1) == y[None]).mean(axis=-1)


def distillation_loss(net: Net, params, teacher, X, y, lam) -> np.ndarray:
    """Self-distillation objective (4): (1-lam) CE(labels) + lam CE(teacher probabilities), per replica."""
    P = _as_params(net, params, "params", "distillation_loss")
    Th = _as_params(net, teacher, "teacher", "distillation_loss")
    X, y = _check_xy(net, X, y, "distillation_loss")
    lams = _check_lams(lam, P.shape[0], "distillation_loss")
    z = _forward(net, P, X[None])[0]
    pt = _softmax(_forward(net, Th, X[None])[0])
    Y = _onehot(y, net.n_classes)[None]
    return (1 - lams) * _cross_entropy(z, Y) + lams * _cross_entropy(z, pt)


def loss_gradient(net: Net, params, X, y, targets=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean CE and its gradient ``(R, P)`` w.r.t. the parameters; ``targets`` (n, K) soft labels replace ``y``."""
    P = _as_params(net, params, "params", "loss_gradient")
    X, y = _check_xy(net, X, y, "loss_gradient")
    T = _onehot(y, net.n_classes)[None]
    if targets is not None:
        from kdtheory.theory._checks import require_distribution

        T = require_distribution(targets, "targets", func="loss_gradient")
        require(T.shape[-2:] == (X.shape[0], net.n_classes), "targets", targets,
                f"have shape (..., {X.shape[0]}, {net.n_classes})", func="loss_gradient")
        T = T if T.ndim == 3 else T[None]
    z, cache = _forward(net, P, X[None])
    dz = (_softmax(z) - T) / X.shape[0]
    return _cross_entropy(z, T), _backward(net, P, cache, dz)


def _directions(net, x, theta, Xb, Yb, lams, method, full_teacher_grad, want_both=False):
    """Update direction(s) on one batch; ``Xb`` (R or 1, B, d), ``Yb`` (R or 1, B, K), ``lams`` (R, 1, 1)."""
    B = Yb.shape[1]
    z, cache = _forward(net, x, Xb)
    ls = _log_softmax(z)
    p = np.exp(ls)
    zt, cache_t = _forward(net, theta, Xb)
    pt = _softmax(zt)
    out = {"loss": -(Yb * ls).sum(axis=-1).mean(axis=-1)}
    if method == "kd" or want_both:
        T = (1 - lams) * Yb + lams * pt
        out["kd"] = _backward(net, x, cache, (p - T) / B)
    if method != "kd" or want_both:
        g = _backward(net, x, cache, (p - Yb) / B) - lams[:, :, 0] * _backward(net, theta, cache_t, (pt - Yb) / B)
        out["linearized"] = g
        if method == "unbiased":
            out["unbiased"] = g + lams[:, :, 0] * full_teacher_grad
    return out


def distillation_gradient(net: Net, params, teacher, X, y, lam, method: str = "kd") -> np.ndarray:
    """Distillation direction on the batch ``(X, y)``: exact gradient of (4), approximation (5), or (16).

    For ``"unbiased"`` the full-batch teacher gradient is taken over the same ``(X, y)``, so on the
    full data set (16) reduces to grad f(x) [kd, Sec. 5].
    """
    require(method in METHODS, "method", method, f"be one of {METHODS}")
    P = _as_params(net, params, "params", "distillation_gradient")
    Th = _as_params(net, teacher, "teacher", "distillation_gradient")
    X, y = _check_xy(net, X, y, "distillation_gradient")
    lams = _check_lams(lam, None, "distillation_gradient")
    R = max(P.shape[0], Th.shape[0], lams.size)
    require(all(s in (1, R) for s in (P.shape[0], Th.shape[0], lams.size)), "lam", lam,
            "have as many entries as replicas of params/teacher (or 1)", func="distillation_gradient")
    P, Th = np.broadcast_to(P, (R, P.shape[1])), np.broadcast_to(Th, (R, Th.shape[1]))
    lam3 = np.broadcast_to(lams, (R,))[:, None, None]
    Y = _onehot(y, net.n_classes)[None]
    full = None
    if method == "unbiased":
        zt, ct = _forward(net, Th, X[None])
        full = _backward(net, Th, ct, (_softmax(zt) - Y) / X.shape[0])
    return _directions(net, P, Th, X[None], Y, lam3, method, full)[method]


# --------------------------------------------------------------------------- trainer


@dataclass
class TrainResult:
    """What :func:`train` returns; arrays have a leading replica axis R and an epoch axis E.

    ``running_loss``: mean of the student's minibatch CE against the true labels over the epoch (the
    paper's metric, measured before each update); ``full_loss`` / ``val_loss``: full-batch train /
    validation CE at the end of each epoch; ``full_avg_loss``: full-batch train CE averaged over
    ``variance_points`` evenly spaced iterates of the epoch (what the running metric would estimate if
    each minibatch were independent of the iterate; under reshuffling it is not, and the running metric
    sits above it, while the end-of-epoch iterate sits below it); ``variance``: per-sample variance
    (1/n) sum ||g_n - g||^2 of the update direction over the whole training set, averaged over
    ``variance_points`` iterations of the epoch (the variance of a size-B minibatch direction is this
    times (n-B)/(B(n-1))); ``cosine``, ``distance``, ``snr``: epoch means of cos(g_kd, g_lin),
    ||g_kd - g_lin|| and ||g_kd - g_lin|| / ||g_kd|| between the exact gradient of (4) and
    approximation (5) at the current student.
    """

    params: np.ndarray
    lams: np.ndarray
    running_loss: np.ndarray
    full_loss: np.ndarray | None = None
    full_avg_loss: np.ndarray | None = None
    val_loss: np.ndarray | None = None
    variance: np.ndarray | None = None
    cosine: np.ndarray | None = None
    distance: np.ndarray | None = None
    snr: np.ndarray | None = None
    initial_full_loss: np.ndarray | None = None


def _direction_variance(net, x, theta, X, Y, lams, method):
    """(1/n) sum_n ||d_n - mean d||^2 of the per-sample update directions on the full training set."""
    z, cache = _forward(net, x, X)
    p = _softmax(z)
    zt, cache_t = _forward(net, theta, X)
    pt = _softmax(zt)
    if net.hidden == 0:  # d_n = [a_n; 1] (x) r_n with one residual r_n for (4), (5) and (16) alike
        r = p - ((1 - lams) * Y + lams * pt)
        sq = ((X ** 2).sum(axis=2) + 1.0) * (r ** 2).sum(axis=2)
        mean = _backward(net, x, cache, r / X.shape[1])
        return sq.mean(axis=1) - (mean ** 2).sum(axis=1)
    if method == "kd":
        G = _per_sample_grads(net, x, cache, p - ((1 - lams) * Y + lams * pt))
    else:  # (16) differs from (5) by a constant shift: same variance
        G = _per_sample_grads(net, x, cache, p - Y) - lams * _per_sample_grads(net, theta, cache_t, pt - Y)
    mean = G.mean(axis=1)
    return (G ** 2).sum(axis=2).mean(axis=1) - (mean ** 2).sum(axis=1)


@np.errstate(over="ignore", invalid="ignore")  # divergence is detected and raised below
def train(data: Dataset, net: Net, *, lam=0.0, teacher=None, method: str = "linearized", lr=0.05,
          batch_size: int = 10, epochs: int = 10, seed: int = 0, replicas: int | None = None,
          common_batches: bool = True, init=None, weight_decay: float = 0.0, density=1.0,
          compressor: str = "fixed_mask", record: tuple = ("running", "full"),
          variance_points: int = 4, sampling: str = "reshuffle") -> TrainResult:
    """SGD with self-distillation for R students at once [kd, Alg. 1 with one teacher; Eqs. (7), (16), (18)].

    Parameters
    ----------
    lam : float or array (R,)
        Distillation weight(s) in the convention of (2)/(4); ``lam=0`` with no teacher is plain SGD.
    teacher : array (P,) or (R, P), optional
        Teacher parameters theta (same architecture: self-distillation). Required when any lam > 0.
    method : "kd" | "linearized" | "unbiased"
        Exact gradient of (4), approximation (5) (= Eq. (7)), or bias-corrected (16).
    replicas : int, optional
        Number of students R (default: the number of lams). Replicas share the minibatch order and
        the compression draws when ``common_batches`` (common random numbers across lams), otherwise
        each draws its own.
    init : None | array (P,) | array (R, P)
        Start; ``None`` draws ``net.init`` from ``seed`` (one start shared by all replicas).
    lr : float or array (R,)
        Constant step size gamma (one per replica if an array).
    density : float or array (R,) in (0, 1]
        Fraction of parameters the compressed student keeps, with ``compressor`` (see module doc).
        Under common random numbers the fixed masks are nested: one random ranking of the parameters,
        replica r keeping its round(density_r P) first.
    record : tuple of "running", "full", "val", "variance", "alignment"
        What to measure per epoch (see :class:`TrainResult`).
    sampling : "reshuffle" | "replacement"
        Minibatches from a fresh permutation each epoch (what deep-learning loaders do, and the
        paper's experiments), or drawn i.i.d. with replacement (the xi ~ D of the analysis, Eq. (7)).
        An epoch is n // batch_size steps either way.

    Raises ``FloatingPointError`` naming the epoch and step if the loss or parameters stop being finite.
    """
    func = "train"
    require(isinstance(data, Dataset), "data", type(data).__name__, "be a Dataset", func=func)
    require(isinstance(net, Net), "net", type(net).__name__, "be a Net", func=func)
    require(data.n_features == net.n_features and data.n_classes == net.n_classes, "net", net,
            f"match the data ({data.n_features} features, {data.n_classes} classes)", func=func)
    require(method in METHODS, "method", method, f"be one of {METHODS}", func=func)
    require(sampling in ("reshuffle", "replacement"), "sampling", sampling, "be 'reshuffle' or 'replacement'",
            func=func)
    require(compressor in COMPRESSORS, "compressor", compressor, f"be one of {COMPRESSORS}", func=func)
    require(all(r in RECORDS for r in record), "record", record, f"contain only {RECORDS}", func=func)
    lrs = np.atleast_1d(np.asarray(lr, dtype=float))
    require(lrs.ndim == 1 and bool(np.all(np.isfinite(lrs) & (lrs > 0))), "lr", lr,
            "be > 0 (a scalar or a 1-d array)", func=func)
    require_positive(weight_decay, "weight_decay", strict=False, func=func)
    dens = np.atleast_1d(np.asarray(density, dtype=float))
    require(dens.ndim == 1 and bool(np.all(np.isfinite(dens) & (dens > 0) & (dens <= 1))), "density", density,
            "lie in (0, 1] (a scalar or a 1-d array)", func=func)
    n = data.n_train
    require(isinstance(batch_size, (int, np.integer)) and 1 <= batch_size <= n, "batch_size", batch_size,
            f"be an integer in [1, {n}]", func=func)
    require(isinstance(epochs, (int, np.integer)) and epochs >= 1, "epochs", epochs, "be an integer >= 1",
            func=func)
    require(isinstance(variance_points, (int, np.integer)) and variance_points >= 1, "variance_points",
            variance_points, "be an integer >= 1", func=func)
    lams = _check_lams(lam, None, func)
    R = int(replicas) if replicas is not None else max(lams.size, lrs.size, dens.size)
    require(R >= 1 and all(a.size in (1, R) for a in (lams, lrs, dens)), "replicas", replicas,
            f"be >= 1 and match the lengths of lam, lr, density ({lams.size}, {lrs.size}, {dens.size})", func=func)
    lams = np.broadcast_to(lams, (R,)).copy()
    lrs = np.broadcast_to(lrs, (R,))[:, None]
    dens = np.broadcast_to(dens, (R,)).copy()
    if teacher is None:
        require(bool(np.all(lams == 0)), "teacher", None, "be given when lam > 0", func=func)
        theta = np.zeros((R, net.n_params))
    else:
        theta = np.broadcast_to(_as_params(net, teacher, "teacher", func), (R, net.n_params)).copy()

    rng = np.random.default_rng(seed)
    if init is None:
        x = np.repeat(net.init(rng, 1), R, axis=0)
    else:
        x = np.broadcast_to(_as_params(net, init, "init", func), (R, net.n_params)).copy()

    P = net.n_params
    n_orders = 1 if common_batches else R
    mask = None
    compress = bool(np.any(dens < 1.0))
    k = np.maximum(1, np.round(dens * P)).astype(int)[:, None]
    if compress and compressor == "fixed_mask":  # nested masks under common random numbers
        ranks = np.argsort(np.argsort(rng.random((n_orders, P)), axis=1), axis=1)
        mask = (ranks < k).astype(float)
        x *= mask

    X, Y = data.X_train, _onehot(data.y_train, net.n_classes)
    X3, Y3 = X[None], Y[None]
    n_iter = n // batch_size
    lam3 = lams[:, None, None]
    full_teacher_grad = None
    if method == "unbiased":
        zt, ct = _forward(net, theta, X3)
        full_teacher_grad = _backward(net, theta, ct, (_softmax(zt) - Y3) / n)
    want_align = "alignment" in record
    var_at = set(np.linspace(0, n_iter - 1, variance_points).round().astype(int).tolist())

    out = {k: np.zeros((R, epochs)) for k in ("running", "full", "full_avg", "val", "variance", "cosine",
                                               "distance", "snr")}
    initial = _cross_entropy(_forward(net, x, X3)[0], Y3) if "full" in record else None
    for e in range(epochs):
        if sampling == "reshuffle":
            orders = np.stack([rng.permutation(n)[:n_iter * batch_size] for _ in range(n_orders)])
        else:
            orders = rng.integers(0, n, (n_orders, n_iter * batch_size))
        orders = orders.reshape(n_orders, n_iter, batch_size)
        for it in range(n_iter):
            idx = orders[:, it]
            Xb, Yb = X[idx], Y[idx]
            if "full_avg" in record and it in var_at:
                out["full_avg"][:, e] += _cross_entropy(_forward(net, x, X3)[0], Y3) / len(var_at)
            if "variance" in record and it in var_at:
                out["variance"][:, e] += _direction_variance(net, x, theta, X3, Y3, lam3, method) / len(var_at)
            d = _directions(net, x, theta, Xb, Yb, lam3, method, full_teacher_grad, want_both=want_align)
            loss = d["loss"]
            if not np.all(np.isfinite(loss)):
                raise FloatingPointError(f"train: loss diverged at epoch {e}, step {it} "
                                         f"(replicas {np.flatnonzero(~np.isfinite(loss)).tolist()})")
            out["running"][:, e] += loss / n_iter
            if want_align:
                gk, gl = d["kd"], d["linearized"]
                diff = np.linalg.norm(gk - gl, axis=1)
                nk, nl = np.linalg.norm(gk, axis=1), np.linalg.norm(gl, axis=1)
                out["cosine"][:, e] += (gk * gl).sum(axis=1) / np.maximum(nk * nl, 1e-300) / n_iter
                out["distance"][:, e] += diff / n_iter
                out["snr"][:, e] += diff / np.maximum(nk, 1e-300) / n_iter
            g = d[method]
            if weight_decay:
                g = g + weight_decay * x
            x = x - lrs * g
            if mask is not None:
                x *= mask
            elif compress:  # Eq. (18): unbiased compressor applied to the new iterate
                u = rng.random((n_orders, P))
                if compressor == "randk":
                    keep = (np.argsort(np.argsort(u, axis=1), axis=1) < k) * (P / k)
                else:
                    keep = (u < dens[:, None]) / dens[:, None]
                x = x * keep
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(f"train: parameters diverged in epoch {e}")
        if "full" in record:
            out["full"][:, e] = _cross_entropy(_forward(net, x, X3)[0], Y3)
        if "val" in record:
            out["val"][:, e] = _cross_entropy(_forward(net, x, data.X_val[None])[0],
                                              _onehot(data.y_val, net.n_classes)[None])
    return TrainResult(
        params=x, lams=lams, running_loss=out["running"],
        full_loss=out["full"] if "full" in record else None,
        full_avg_loss=out["full_avg"] if "full_avg" in record else None,
        val_loss=out["val"] if "val" in record else None,
        variance=out["variance"] if "variance" in record else None,
        cosine=out["cosine"] if want_align else None,
        distance=out["distance"] if want_align else None,
        snr=out["snr"] if want_align else None,
        initial_full_loss=initial)


def fit_lbfgs(data: Dataset, net: Net, *, init=None, maxiter: int = 2000, gtol: float = 1e-9,
              weight_decay: float = 0.0, seed: int = 0) -> np.ndarray:
    """Full-batch minimiser of the training CE (plus ``weight_decay/2 ||x||^2``) by scipy's L-BFGS-B.

    The paper's "optimal" teacher [kd, Sec. 4.3]; ``maxiter`` small gives a partly trained teacher.
    """
    from scipy.optimize import minimize

    require(isinstance(data, Dataset) and isinstance(net, Net), "data", type(data).__name__,
            "be a Dataset (and net a Net)")
    require(isinstance(maxiter, (int, np.integer)) and maxiter >= 1, "maxiter", maxiter, "be an integer >= 1")
    require_positive(gtol, "gtol")
    require_positive(weight_decay, "weight_decay", strict=False)
    x0 = net.init(np.random.default_rng(seed), 1)[0] if init is None else _as_params(net, init, "init",
                                                                                       "fit_lbfgs")[0]
    X, y = data.X_train, data.y_train

    def fun(v):
        f, g = loss_gradient(net, v, X, y)
        return f[0] + 0.5 * weight_decay * v @ v, g[0] + weight_decay * v

    res = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": int(maxiter), "gtol": gtol,
                                                                    "ftol": 1e-15, "maxcor": 30})
    return np.asarray(res.x)
