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

import numbers
from dataclasses import dataclass, field

import numpy as np

from kdtheory.theory._checks import (require, require_array, require_distribution, require_in,
                                     require_positive, require_type)

__all__ = ["METHODS", "COMPRESSORS", "RECORDS", "MAX_ENTRIES", "MAX_PARAMS", "MAX_REPLICAS", "MAX_STEPS",
           "MAX_LBFGS_ITERATIONS", "MAX_LOGIT", "TrainingDiverged", "Dataset", "Net", "TrainResult", "digits_data",
           "synthetic_data", "predict_proba", "cross_entropy", "accuracy", "distillation_loss", "loss_gradient",
           "distillation_gradient", "train", "fit_lbfgs"]

METHODS = ("kd", "linearized", "unbiased")
COMPRESSORS = ("fixed_mask", "randk", "bernoulli")
RECORDS = ("running", "full", "full_avg", "val", "variance", "alignment")

# Caps (issue #9: no input makes a call run unbounded); each is named in its error message.
MAX_ENTRIES = 10 ** 8  # data entries (samples x features), per-sample gradient tables (replicas x samples x P)
MAX_PARAMS = 10 ** 7  # parameters of one network
MAX_REPLICAS = 10 ** 5
MAX_STEPS = 10 ** 7  # train: epochs x steps per epoch x replicas (minutes of NumPy at the cap)
MAX_LBFGS_ITERATIONS = 10 ** 6
MAX_LOGIT = 1e100  # logits beyond this are refused (their softmax would overflow to NaN)


class TrainingDiverged(FloatingPointError, ValueError):
    """Raised by :func:`train` when the loss or the parameters stop being finite: the step size ``lr`` is too
    large for the instance (a ``ValueError`` naming ``lr``, and a ``FloatingPointError``)."""


def _count(x, name: str, low: int, high: int, func: str) -> int:
    """An integer in [low, high]: TypeError for a non-integer, ValueError outside the range."""
    require_type(isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_)), name, x,
                 "be an integer", func=func)
    require(low <= int(x) <= high, name, x, f"be an integer >= {low} (and <= {high}, the cap)", func=func)
    return int(x)


def _seed(seed, func: str) -> int:
    return _count(seed, "seed", 0, 2 ** 63 - 1, func)


def _choice(x, name: str, choices: tuple, func: str):
    require(isinstance(x, str) and x in choices, name, x, f"be one of {choices}", func=func)
    return x


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

    def __post_init__(self):
        func = "Dataset"
        K = _count(self.n_classes, "n_classes", 2, 10 ** 5, func)
        for xs, ys, part in ((self.X_train, self.y_train, "train"), (self.X_val, self.y_val, "val")):
            X = require_array(xs, f"X_{part}", ndim=2, func=func)
            y = np.asarray(ys)
            require(y.shape == (X.shape[0],) and y.dtype.kind in "iu" and bool(np.all((y >= 0) & (y < K))),
                    f"y_{part}", ys, f"be {X.shape[0]} integer labels in [0, {K})", func=func)
        require(np.shape(self.X_val)[1] == np.shape(self.X_train)[1], "X_val", self.X_val,
                f"have {np.shape(self.X_train)[1]} columns (as X_train)", func=func)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])


def _split_standardise(X, y, n_classes, *, val_fraction, label_noise, rng, name, func) -> Dataset:
    n = X.shape[0]
    perm = rng.permutation(n)
    n_val = int(round(val_fraction * n))
    require(1 <= n_val <= n - 2, "val_fraction", val_fraction,
            f"leave at least 1 validation and 2 training samples of the {n}", func=func)
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
    func = "digits_data"
    pool = _count(pool, "pool", 1, 8, func)
    require(pool in (1, 2, 4, 8), "pool", pool, "be one of 1, 2, 4, 8", func=func)
    label_noise = require_in(label_noise, "label_noise", 0.0, 1.0, closed="left", func=func)
    val_fraction = require_in(val_fraction, "val_fraction", 0.0, 1.0, closed="neither", func=func)
    seed = _seed(seed, func)
    from sklearn.datasets import load_digits

    d = load_digits()
    img = d.images.astype(float) / 16.0
    s = 8 // pool
    X = img.reshape(-1, s, pool, s, pool).mean(axis=(2, 4)).reshape(len(img), -1)
    return _split_standardise(X, d.target, 10, val_fraction=val_fraction, label_noise=label_noise,
                              rng=np.random.default_rng(seed), name=f"digits(pool={pool}, noise={label_noise:g})",
                              func=func)


def synthetic_data(*, n: int = 600, n_features: int = 10, n_classes: int = 4, separation: float = 1.5,
                   label_noise: float = 0.1, val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Seeded Gaussian classes: class means drawn on a sphere of radius ``separation``, unit covariance."""
    func = "synthetic_data"
    n = _count(n, "n", 4, MAX_ENTRIES, func)
    n_features = _count(n_features, "n_features", 1, MAX_ENTRIES, func)
    require(n * n_features <= MAX_ENTRIES, "n", n, f"times n_features = {n_features} be at most MAX_ENTRIES = "
            f"{MAX_ENTRIES:.0e}", func=func)
    n_classes = _count(n_classes, "n_classes", 2, 10 ** 5, func)
    separation = require_in(separation, "separation", 0.0, 1e100, func=func)
    label_noise = require_in(label_noise, "label_noise", 0.0, 1.0, closed="left", func=func)
    val_fraction = require_in(val_fraction, "val_fraction", 0.0, 1.0, closed="neither", func=func)
    rng = np.random.default_rng(_seed(seed, func))
    means = rng.standard_normal((n_classes, n_features))
    means *= separation / np.linalg.norm(means, axis=1, keepdims=True)
    y = rng.integers(0, n_classes, n)
    X = means[y] + rng.standard_normal((n, n_features))
    return _split_standardise(X, y, n_classes, val_fraction=val_fraction, label_noise=label_noise, rng=rng,
                              name=f"synthetic(n={n}, d={n_features}, K={n_classes})", func=func)


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
        d = _count(self.n_features, "n_features", 1, MAX_PARAMS, "Net")
        K = _count(self.n_classes, "n_classes", 2, MAX_PARAMS, "Net")
        h = _count(self.hidden, "hidden", 0, MAX_PARAMS, "Net")
        n_params = (d + 1) * K if h == 0 else (d + 1) * h + (h + 1) * K
        require(n_params <= MAX_PARAMS, "hidden" if h else "n_features", h if h else d,
                f"give at most MAX_PARAMS = {MAX_PARAMS:.0e} parameters, got {n_params} with n_features = {d}, "
                f"n_classes = {K}, hidden = {h}", func="Net")
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


def _require_net(net, func: str) -> None:
    require_type(isinstance(net, Net), "net", net, "be a Net", func=func)


def _checked_forward(net: Net, params: np.ndarray, X: np.ndarray, func: str):
    """_forward of a public call: the logits must be finite and at most MAX_LOGIT in magnitude."""
    with np.errstate(over="ignore", invalid="ignore"):
        z, cache = _forward(net, params, X)
    require(bool(np.all(np.isfinite(z))) and float(np.max(np.abs(z), initial=0.0)) <= MAX_LOGIT, "params", None,
            f"give finite logits of magnitude at most MAX_LOGIT = {MAX_LOGIT:g} on X (lower the scale of the "
            "parameters or of X)", func=func)
    return z, cache


def _as_params(net: Net, params, name: str, func: str) -> np.ndarray:
    arr = require_array(params, name, ndim=(1, 2), func=func)
    if arr.ndim == 1:
        arr = arr[None, :]
    require(arr.ndim == 2 and arr.shape[1] == net.n_params and arr.shape[0] <= MAX_REPLICAS, name, params,
            f"have shape (P,) or (R, P) with P = {net.n_params} and R <= {MAX_REPLICAS}", func=func)
    return arr


def _check_x(net: Net, X, func: str) -> np.ndarray:
    X = require_array(X, "X", ndim=2, func=func)
    require(X.shape[1] == net.n_features and X.size <= MAX_ENTRIES, "X", X,
            f"have shape (n, {net.n_features}) with at most {MAX_ENTRIES:.0e} entries", func=func)
    return X


def _check_xy(net: Net, X, y, func: str):
    X = _check_x(net, X, func)
    require(X.shape[0] >= 1, "X", X, "have at least one row", func=func)
    try:
        y = np.asarray(y)
    except (TypeError, ValueError):  # ragged
        require_type(False, "y", y, "be an array of integer labels (not ragged)", func=func)
    require(y.shape == (X.shape[0],) and np.issubdtype(y.dtype, np.integer)
            and bool(np.all((y >= 0) & (y < net.n_classes))), "y", y,
            f"be {X.shape[0]} integer labels in [0, {net.n_classes})", func=func)
    return X, y


def _onehot(y: np.ndarray, K: int) -> np.ndarray:
    return np.eye(K)[y]


def _check_lams(lam, R: int | None, func: str) -> np.ndarray:
    lams = np.atleast_1d(require_array(lam, "lam", ndim=(0, 1), finite=False, func=func))
    require(lams.ndim == 1 and bool(np.all(np.isfinite(lams))) and bool(np.all((lams >= 0) & (lams <= 1))),
            "lam", lam, "lie in [0, 1] (a scalar or a 1-d array)", func=func)
    if R is not None and lams.size not in (1, R):
        require(False, "lam", lam, f"have 1 or {R} entries (one per replica)", func=func)
    return lams


def predict_proba(net: Net, params, X) -> np.ndarray:
    """Class probabilities ``(R, n, K)`` of the model(s) ``params`` on inputs ``X``."""
    _require_net(net, "predict_proba")
    P = _as_params(net, params, "params", "predict_proba")
    X = _check_x(net, X, "predict_proba")
    return _softmax(_checked_forward(net, P, X[None], "predict_proba")[0])


def cross_entropy(net: Net, params, X, y) -> np.ndarray:
    """Mean cross-entropy f(x) = (1/n) sum_n CE(p_x(a_n), y_n) [kd, Eq. (1)], one value per replica."""
    _require_net(net, "cross_entropy")
    P = _as_params(net, params, "params", "cross_entropy")
    X, y = _check_xy(net, X, y, "cross_entropy")
    return _cross_entropy(_checked_forward(net, P, X[None], "cross_entropy")[0], _onehot(y, net.n_classes))


def accuracy(net: Net, params, X, y) -> np.ndarray:
    """Fraction of correct argmax predictions, one value per replica."""
    _require_net(net, "accuracy")
    P = _as_params(net, params, "params", "accuracy")
    X, y = _check_xy(net, X, y, "accuracy")
    return (_checked_forward(net, P, X[None], "accuracy")[0].argmax(axis=-1) == y[None]).mean(axis=-1)


def distillation_loss(net: Net, params, teacher, X, y, lam) -> np.ndarray:
    """Self-distillation objective (4): (1-lam) CE(labels) + lam CE(teacher probabilities), per replica."""
    _require_net(net, "distillation_loss")
    P = _as_params(net, params, "params", "distillation_loss")
    Th = _as_params(net, teacher, "teacher", "distillation_loss")
    X, y = _check_xy(net, X, y, "distillation_loss")
    lams = _check_lams(lam, P.shape[0], "distillation_loss")
    require(Th.shape[0] in (1, P.shape[0]), "teacher", teacher, f"have 1 or {P.shape[0]} replicas (as params)",
            func="distillation_loss")
    z = _checked_forward(net, P, X[None], "distillation_loss")[0]
    pt = _softmax(_checked_forward(net, Th, X[None], "distillation_loss")[0])
    Y = _onehot(y, net.n_classes)[None]
    return (1 - lams) * _cross_entropy(z, Y) + lams * _cross_entropy(z, pt)


def loss_gradient(net: Net, params, X, y, targets=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean CE and its gradient ``(R, P)`` w.r.t. the parameters; ``targets`` (n, K) soft labels replace ``y``."""
    _require_net(net, "loss_gradient")
    P = _as_params(net, params, "params", "loss_gradient")
    X, y = _check_xy(net, X, y, "loss_gradient")
    T = _onehot(y, net.n_classes)[None]
    if targets is not None:
        T = require_distribution(targets, "targets", func="loss_gradient")
        require(T.ndim in (2, 3) and T.shape[-2:] == (X.shape[0], net.n_classes)
                and (T.ndim == 2 or T.shape[0] in (1, P.shape[0])), "targets", targets,
                f"have shape ({X.shape[0]}, {net.n_classes}) or (1 or R, {X.shape[0]}, {net.n_classes})",
                func="loss_gradient")
        T = T if T.ndim == 3 else T[None]
    z, cache = _checked_forward(net, P, X[None], "loss_gradient")
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
    _require_net(net, "distillation_gradient")
    _choice(method, "method", METHODS, "distillation_gradient")
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
    _checked_forward(net, P, X[None], "distillation_gradient")
    zt, ct = _checked_forward(net, Th, X[None], "distillation_gradient")
    full = None
    if method == "unbiased":
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

    Raises :class:`TrainingDiverged` (a ``FloatingPointError`` and a ``ValueError`` naming ``lr``) with the epoch
    and step if the loss or the parameters stop being finite.
    """
    func = "train"
    require_type(isinstance(data, Dataset), "data", data, "be a Dataset", func=func)
    _require_net(net, func)
    require(data.n_features == net.n_features and data.n_classes == net.n_classes, "net", net,
            f"match the data ({data.n_features} features, {data.n_classes} classes)", func=func)
    _choice(method, "method", METHODS, func)
    _choice(sampling, "sampling", ("reshuffle", "replacement"), func)
    _choice(compressor, "compressor", COMPRESSORS, func)
    require_type(isinstance(record, (tuple, list)) and all(isinstance(r, str) for r in record), "record", record,
                 "be a tuple of strings", func=func)
    require(all(r in RECORDS for r in record), "record", record, f"contain only {RECORDS}", func=func)
    require_type(isinstance(common_batches, (bool, np.bool_)), "common_batches", common_batches, "be a bool", func=func)
    seed = _seed(seed, func)
    lrs = np.atleast_1d(require_array(lr, "lr", ndim=(0, 1), finite=False, func=func))
    require(lrs.ndim == 1 and bool(np.all(np.isfinite(lrs) & (lrs > 0))), "lr", lr,
            "be > 0 (a scalar or a 1-d array)", func=func)
    weight_decay = require_positive(weight_decay, "weight_decay", strict=False, func=func)
    dens = np.atleast_1d(require_array(density, "density", ndim=(0, 1), finite=False, func=func))
    require(dens.ndim == 1 and bool(np.all(np.isfinite(dens) & (dens > 0) & (dens <= 1))), "density", density,
            "lie in (0, 1] (a scalar or a 1-d array)", func=func)
    n = data.n_train
    batch_size = _count(batch_size, "batch_size", 1, n, func)
    epochs = _count(epochs, "epochs", 1, MAX_STEPS, func)
    variance_points = _count(variance_points, "variance_points", 1, 10 ** 4, func)
    lams = _check_lams(lam, None, func)
    if replicas is not None:
        replicas = _count(replicas, "replicas", 1, MAX_REPLICAS, func)
    R = int(replicas) if replicas is not None else max(lams.size, lrs.size, dens.size)
    require(1 <= R <= MAX_REPLICAS and all(a.size in (1, R) for a in (lams, lrs, dens)), "replicas", replicas,
            f"be in [1, {MAX_REPLICAS}] and match the lengths of lam, lr, density ({lams.size}, {lrs.size}, "
            f"{dens.size})", func=func)
    steps = epochs * (n // batch_size) * R
    require(steps <= MAX_STEPS, "epochs", epochs, f"times {n // batch_size} steps per epoch times {R} replicas be at "
            f"most MAX_STEPS = {MAX_STEPS:.0e}", func=func)
    per_sample = R * n * net.n_params if ("variance" in record and net.hidden) else 0
    require(per_sample <= MAX_ENTRIES, "record", record, f"not ask for 'variance' of an MLP with R n P = {per_sample} "
            f"> MAX_ENTRIES = {MAX_ENTRIES:.0e} (the per-sample gradient table)", func=func)
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
                raise TrainingDiverged(f"train: lr must be small enough for the loss to stay finite, got {lr!r}: "
                                       f"the loss diverged at epoch {e}, step {it} "
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
            raise TrainingDiverged(f"train: lr must be small enough for the parameters to stay finite, got {lr!r}: "
                                   f"they diverged in epoch {e}")
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

    func = "fit_lbfgs"
    require_type(isinstance(data, Dataset), "data", data, "be a Dataset", func=func)
    _require_net(net, func)
    require(data.n_features == net.n_features and data.n_classes == net.n_classes, "net", net,
            f"match the data ({data.n_features} features, {data.n_classes} classes)", func=func)
    maxiter = _count(maxiter, "maxiter", 1, MAX_LBFGS_ITERATIONS, func)
    gtol = require_positive(gtol, "gtol", func=func)
    weight_decay = require_positive(weight_decay, "weight_decay", strict=False, func=func)
    seed = _seed(seed, func)
    if init is not None:
        init = _as_params(net, init, "init", func)
        require(init.shape[0] == 1, "init", init, "be one parameter vector (P,)", func=func)
    x0 = net.init(np.random.default_rng(seed), 1)[0] if init is None else init[0]
    X, y = data.X_train, data.y_train

    def fun(v):
        with np.errstate(over="ignore", invalid="ignore"):
            z, cache = _forward(net, v[None], X[None])
            T = _onehot(y, net.n_classes)[None]
            f = _cross_entropy(z, T)[0] + 0.5 * weight_decay * v @ v
            g = _backward(net, v[None], cache, (_softmax(z) - T) / X.shape[0])[0] + weight_decay * v
        if not (np.isfinite(f) and np.all(np.isfinite(g))):  # a trial step overshot: let the line search back off
            return np.inf, np.zeros_like(v)
        return f, g

    res = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": int(maxiter), "gtol": gtol,
                                                                    "ftol": 1e-15, "maxcor": 30})
    return np.asarray(res.x)
