"""The distillation trainer of numerics/nets.py: exact gradients, determinism, input errors [kd, Sec. 3]."""

import numpy as np
import pytest

from kdtheory.numerics import nets
from kdtheory.numerics.nets import _backward, _cross_entropy, _forward, _onehot, _per_sample_grads, _softmax


@pytest.fixture(scope="module")
def small():
    data = nets.synthetic_data(n=40, n_features=4, n_classes=3, seed=3)
    return data


def _complex_step_grad(net, x, X, T, h=1e-30):
    """Gradient of the mean CE by complex steps: one replica per coordinate, exact to rounding."""
    P = net.n_params
    Z = x[None, :] + 1j * h * np.eye(P)
    z, _ = _forward(net, Z, X[None])
    return _cross_entropy(z, T[None]).imag / h


@pytest.mark.parametrize("hidden", [0, 5])
def test_gradient_equals_complex_step(small, hidden):
    net = nets.Net(small.n_features, small.n_classes, hidden)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(net.n_params)
    X, y = small.X_train, small.y_train
    T = _onehot(y, net.n_classes)
    f, g = nets.loss_gradient(net, x, X, y)
    cs = _complex_step_grad(net, x, X, T)
    np.testing.assert_allclose(g[0], cs, rtol=1e-12, atol=1e-14 * np.abs(cs).max())
    # soft targets: the exact gradient of the distillation objective (4) through Eq. (3)
    theta = rng.standard_normal(net.n_params)
    lam = 0.37
    S = (1 - lam) * T + lam * nets.predict_proba(net, theta, X)[0]
    _, gs = nets.loss_gradient(net, x, X, y, targets=S)
    np.testing.assert_allclose(gs[0], _complex_step_grad(net, x, X, S), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nets.distillation_gradient(net, x, theta, X, y, lam, "kd")[0], gs[0],
                               rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("hidden", [0, 5])
def test_eq3_loss_is_ce_on_soft_labels(small, hidden):
    net = nets.Net(small.n_features, small.n_classes, hidden)
    rng = np.random.default_rng(1)
    x, theta = rng.standard_normal((2, net.n_params))
    X, y = small.X_train, small.y_train
    for lam in (0.0, 0.2, 1.0):
        S = (1 - lam) * _onehot(y, net.n_classes) + lam * nets.predict_proba(net, theta, X)[0]
        z, _ = _forward(net, x[None], X[None])
        np.testing.assert_allclose(nets.distillation_loss(net, x, theta, X, y, lam), _cross_entropy(z, S[None]),
                                   rtol=1e-13)


def test_prop1_exact_for_softmax_regression_not_for_mlp(small):
    """[kd, App. B.2]: (5) is the exact gradient for softmax regression; [App. B.3]: only close for the MLP."""
    rng = np.random.default_rng(2)
    X, y = small.X_train, small.y_train
    lams = np.array([0.0, 0.3, 1.0])
    lin = nets.Net(small.n_features, small.n_classes, 0)
    x, theta = rng.standard_normal((2, lin.n_params))
    gk = nets.distillation_gradient(lin, x, theta, X, y, lams, "kd")
    gl = nets.distillation_gradient(lin, x, theta, X, y, lams, "linearized")
    np.testing.assert_allclose(gk, gl, rtol=1e-12, atol=1e-15)
    mlp = nets.Net(small.n_features, small.n_classes, 6)
    x, theta = rng.standard_normal((2, mlp.n_params))
    gk = nets.distillation_gradient(mlp, x, theta, X, y, lams, "kd")
    gl = nets.distillation_gradient(mlp, x, theta, X, y, lams, "linearized")
    np.testing.assert_allclose(gk[0], gl[0], rtol=1e-12, atol=1e-15)  # lam = 0: both are grad f
    assert np.linalg.norm(gk[2] - gl[2]) > 1e-3 * np.linalg.norm(gk[2])
    # at x = theta both equal (1 - lam) grad f(theta), for any architecture
    gk = nets.distillation_gradient(mlp, theta, theta, X, y, lams, "kd")
    gl = nets.distillation_gradient(mlp, theta, theta, X, y, lams, "linearized")
    np.testing.assert_allclose(gk, gl, rtol=1e-12, atol=1e-15)


def test_unbiased_direction_is_unbiased(small):
    """[kd, Eq. (16)]: averaged over the full data set the direction is grad f(x), whatever theta and lam."""
    net = nets.Net(small.n_features, small.n_classes, 0)
    rng = np.random.default_rng(4)
    x, theta = rng.standard_normal((2, net.n_params))
    X, y = small.X_train, small.y_train
    gu = nets.distillation_gradient(net, x, theta, X, y, [0.5, 1.0], "unbiased")
    _, g = nets.loss_gradient(net, x, X, y)
    np.testing.assert_allclose(gu, np.repeat(g, 2, axis=0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("hidden", [0, 4])
def test_per_sample_gradients_and_variance(small, hidden):
    net = nets.Net(small.n_features, small.n_classes, hidden)
    rng = np.random.default_rng(5)
    x, theta = rng.standard_normal((2, 1, net.n_params))
    X, Y = small.X_train[None], _onehot(small.y_train, net.n_classes)[None]
    z, cache = _forward(net, x, X)
    G = _per_sample_grads(net, x, cache, _softmax(z) - Y)
    np.testing.assert_allclose(G.mean(axis=1), _backward(net, x, cache, (_softmax(z) - Y) / X.shape[1]),
                               rtol=1e-12, atol=1e-15)
    lam = np.array([[[0.6]]])
    var = nets._direction_variance(net, x, theta, X, Y, lam, "linearized")
    D = np.stack([nets.distillation_gradient(net, x[0], theta[0], small.X_train[i:i + 1],
                                             small.y_train[i:i + 1], 0.6, "linearized")[0]
                  for i in range(small.n_train)])
    np.testing.assert_allclose(var[0], ((D - D.mean(0)) ** 2).sum(1).mean(), rtol=1e-11)


def test_trainer_deterministic_under_seed(small):
    net = nets.Net(small.n_features, small.n_classes, 3)
    teacher = nets.fit_lbfgs(small, net, maxiter=50, seed=1)
    kw = dict(lam=[0.0, 0.5], teacher=teacher, lr=0.1, batch_size=5, epochs=3,
              record=("running", "full", "val", "variance", "alignment"))
    a = nets.train(small, net, seed=7, **kw)
    b = nets.train(small, net, seed=7, **kw)
    c = nets.train(small, net, seed=8, **kw)
    for f in ("params", "running_loss", "full_loss", "val_loss", "variance", "cosine", "snr"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.params, c.params)
    # lam = 0 ignores the teacher: same numbers as plain SGD on the same batches
    sgd = nets.train(small, net, lam=0.0, lr=0.1, batch_size=5, epochs=3, seed=7)
    np.testing.assert_allclose(a.params[0], sgd.params[0], rtol=1e-13, atol=1e-15)


def test_compressed_student_respects_mask(small):
    net = nets.Net(small.n_features, small.n_classes, 0)
    r = nets.train(small, net, lam=[0.0, 0.5], teacher=np.ones(net.n_params), lr=0.1, batch_size=5, epochs=2,
                   density=0.4, seed=0, init=np.ones(net.n_params))
    k = int(round(0.4 * net.n_params))
    assert np.all((r.params != 0).sum(axis=1) <= k)
    r = nets.train(small, net, lam=0.5, teacher=np.ones(net.n_params), lr=0.01, batch_size=5, epochs=1,
                   density=0.5, compressor="randk", seed=0)
    assert np.all(np.isfinite(r.params))


def test_divergence_raises_with_step(small):
    net = nets.Net(small.n_features, small.n_classes, 4)
    with pytest.raises(FloatingPointError, match="epoch"):
        nets.train(small, net, lr=1e6, batch_size=5, epochs=50, seed=0)


def test_digits_data_is_standardised_and_seeded():
    a, b = nets.digits_data(seed=1), nets.digits_data(seed=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.X_train.shape == (1348, 16) and a.X_val.shape == (449, 16)
    np.testing.assert_allclose(a.X_train.mean(0), 0, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lam=1.5), "train: lam must lie in"),
    (dict(lam=0.5), "train: teacher must be given"),
    (dict(lr=-1.0), "train: lr must be > 0"),
    (dict(batch_size=0), "train: batch_size must be an integer"),
    (dict(method="sgd"), "train: method must be one of"),
    (dict(density=0.0), "train: density must lie in"),
    (dict(compressor="topk"), "train: compressor must be one of"),
    (dict(epochs=0), "train: epochs must be"),
    (dict(record=("loss",)), "train: record must contain only"),
    (dict(init=np.full(3, np.nan)), "train: init must be finite"),
])
def test_train_rejects_bad_inputs(small, kwargs, message):
    net = nets.Net(small.n_features, small.n_classes, 0)
    with pytest.raises(ValueError, match=message):
        nets.train(small, net, **kwargs)


def test_helpers_reject_bad_inputs(small):
    net = nets.Net(small.n_features, small.n_classes, 0)
    x = np.zeros(net.n_params)
    with pytest.raises(ValueError, match="^distillation_gradient: method must be one of"):
        nets.distillation_gradient(net, x, x, small.X_train, small.y_train, 0.5, "exact")
    with pytest.raises(ValueError, match="^cross_entropy: y must be"):
        nets.cross_entropy(net, x, small.X_train, small.y_train + 5)
    with pytest.raises(ValueError, match="^cross_entropy: params must have shape"):
        nets.cross_entropy(net, np.zeros(3), small.X_train, small.y_train)
    with pytest.raises(ValueError, match="^loss_gradient: targets must sum to 1"):
        nets.loss_gradient(net, x, small.X_train, small.y_train, targets=np.ones((small.n_train, 3)))
    with pytest.raises(ValueError, match="^Net: hidden must be"):
        nets.Net(4, 3, -1)
    with pytest.raises(ValueError, match="^digits_data: pool must be"):
        nets.digits_data(pool=3)
    with pytest.raises(ValueError, match="^train: net must match the data"):
        nets.train(small, nets.Net(5, 3), epochs=1)


def test_sampling_option_and_full_avg(small):
    net = nets.Net(small.n_features, small.n_classes, 0)
    r = nets.train(small, net, lam=[0.0, 0.5], teacher=np.zeros(net.n_params), lr=[0.1, 0.2], batch_size=5,
                   epochs=2, seed=0, sampling="replacement", record=("running", "full", "full_avg"))
    assert r.full_avg_loss.shape == (2, 2) and np.all(r.full_avg_loss > 0)
    with pytest.raises(ValueError, match="^train: sampling must be"):
        nets.train(small, net, sampling="cyclic")
    with pytest.raises(ValueError, match="^train: replicas must be"):
        nets.train(small, net, lam=[0.0, 0.0], lr=[0.1, 0.1, 0.1])


def _direct_stationary_excess(A, b, theta, lam, gamma):
    """Independent Kronecker solve of the stationary second moment of iteration (7) (single-row sampling)."""
    n, d = A.shape
    H = A.T @ A / n
    xs = np.linalg.solve(H, A.T @ b / n)
    M = np.eye(d)[None] - gamma * A[:, :, None] * A[:, None, :]
    U = lam * A * (A @ theta - b)[:, None] - A * (A @ xs - b)[:, None]
    m = lam * (theta - xs)  # stationary mean of the error: H m = lam grad f(theta)
    T = np.einsum("iac,ibd->abcd", M, M).reshape(d * d, d * d) / n
    Mm = M @ m
    C = gamma * (Mm[:, :, None] * U[:, None, :] + U[:, :, None] * Mm[:, None, :]).mean(0) \
        + gamma ** 2 * (U[:, :, None] * U[:, None, :]).mean(0)
    S = np.linalg.solve(np.eye(d * d) - T, C.ravel()).reshape(d, d)
    return 0.5 * float(np.trace(H @ S))


def test_exact_plateau_engine_matches_direct_solve():
    """The figure's engine (numerics.kd) against an independent derivation of the same linear system."""
    from kdtheory.figures.kd import exact_plateau_data, least_squares_instance
    from kdtheory.theory.kd import least_squares_constants, step_theorem1

    d = exact_plateau_data(quick=True, seed=0)
    A, b = least_squares_instance(seed=0)
    c = least_squares_constants(A, b)
    gamma = step_theorem1(c.cal_L)
    v = np.random.default_rng(1).standard_normal(A.shape[1])
    for t in d["teachers"][::2]:
        theta = c.x_star + v * np.sqrt(2 * t["gap"] / (v @ c.H @ v))
        for j in (0, 10, 40):
            assert t["excess"][j] == pytest.approx(_direct_stationary_excess(A, b, theta, d["lams"][j], gamma),
                                                   rel=1e-9)
    sgd = [t["excess"][0] for t in d["teachers"]]
    np.testing.assert_allclose(sgd, sgd[0], rtol=1e-12)  # lam = 0 ignores the teacher
    # the better the teacher, the lower the best plateau (Theorem 1's min(gamma, O(f(theta) - f*)))
    best = [t["excess"].min() for t in d["teachers"]]
    assert all(x > y for x, y in zip(best, best[1:]))
