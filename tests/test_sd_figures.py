"""Checks of the numbers behind the [sd] figures (figures/sd.py), each able to fail."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.linalg import expm

from kdtheory.figures import sd
from kdtheory.numerics import sd as nsd


@pytest.fixture(scope="module")
def fig2():
    return nsd.sec4_self_distillation(0, eps=sd.SEC4_EPS, rounds=sd.SEC4_ROUNDS + 1, n_grid=401)


def _cubic_pieces(grid, values, s):
    """Exact cubic fits of the plotted curve left and right of the source point s."""
    left, right = grid < s - 1e-12, grid > s + 1e-12
    pl = np.polyfit(grid[left], values[left], 4)
    pr = np.polyfit(grid[right], values[right], 4)
    return pl, pr, left, right


def test_fig2_green_function_is_cubic_on_each_side_with_unit_jump_and_boundary_conditions(fig2):
    # g'''' = delta(x - s): piecewise cubic (quartic coefficient 0), g, g', g'' continuous at s,
    # g''' jumps by +1, and f(0) = f(1) = f''(0) = f''(1) = 0 (Eqs. 54-57)
    grid, scale = fig2["grid"], np.abs(fig2["green"]).max()
    for j, s in enumerate(fig2["sources"]):
        g = fig2["green"][:, j]
        pl, pr, left, right = _cubic_pieces(grid, g, s)
        for p, m in ((pl, left), (pr, right)):
            assert abs(p[0]) <= 1e-9, p  # no quartic term: fourth derivative vanishes away from s
            assert np.max(np.abs(np.polyval(p, grid[m]) - g[m])) <= 1e-9 * scale
        assert abs(g[0]) <= 1e-12 and abs(g[-1]) <= 1e-12
        assert abs(np.polyval(np.polyder(pl, 2), 0.0)) <= 1e-9
        assert abs(np.polyval(np.polyder(pr, 2), 1.0)) <= 1e-9
        for order in range(3):
            assert abs(np.polyval(np.polyder(pl, order), s) - np.polyval(np.polyder(pr, order), s)) <= 1e-9
        jump = np.polyval(np.polyder(pr, 3), s) - np.polyval(np.polyder(pl, 3), s)
        assert abs(jump - 1.0) <= 1e-9, jump


def test_fig2_green_function_weak_form_and_symmetry(fig2):
    # for phi = sin(pi x), which meets the boundary conditions: int g(x, s) phi''''(x) dx = phi(s)
    from kdtheory.theory.sd import green_function

    for s in fig2["sources"]:
        val, err = quad(lambda x: float(green_function(x, s)) * np.pi**4 * np.sin(np.pi * x), 0, 1, points=[s],
                        epsabs=1e-14, epsrel=1e-13)
        assert abs(val - np.sin(np.pi * s)) <= 1e-9
    grid = fig2["grid"]
    for j, s in enumerate(fig2["sources"]):
        assert np.allclose(fig2["green"][:, j], green_function(s, grid), rtol=0, atol=1e-15)


def test_fig2_fits_against_direct_solves(fig2):
    from kdtheory.numerics.sd import kernel_self_distillation_reference
    from kdtheory.theory.sd import kernel_matrix

    x, y, gram = fig2["x"], fig2["y"], fig2["gram"]
    gram_eval = kernel_matrix(fig2["grid"], x, "spline")
    # (b) the unregularised fit interpolates the samples and equals G^-1 y evaluated on the grid
    assert np.max(np.abs(fig2["interp_train"] - y)) <= 1e-9 * np.abs(y).max()
    direct = gram_eval @ np.linalg.solve(gram, y)
    assert np.max(np.abs(fig2["interp_eval"] - direct)) <= 1e-9 * np.abs(direct).max()
    # (c) every plotted round equals the direct-solve reference, and meets its constraint with equality
    ref = kernel_self_distillation_reference(gram, y, sd.SEC4_ROUNDS + 1, eps=sd.SEC4_EPS, gram_eval=gram_eval)
    T = fig2["rounds_eval"].shape[0]
    assert T >= sd.SEC4_ROUNDS
    np.testing.assert_allclose(fig2["rounds_eval"], ref["eval_predictions"][:T], rtol=0, atol=1e-9)
    labels = np.vstack([y, fig2["rounds_train"][:-1]])
    mse = np.mean((fig2["rounds_train"] - labels) ** 2, axis=1)
    np.testing.assert_allclose(mse, sd.SEC4_EPS, rtol=1e-9)
    # the plotted curves evaluated at the sample points are the training predictions
    at_samples = nsd.kernel_self_distillation(gram, y, sd.SEC4_ROUNDS + 1, eps=sd.SEC4_EPS,
                                              gram_eval=kernel_matrix(x, x, "spline"))
    np.testing.assert_allclose(at_samples.eval_predictions, fig2["rounds_train"], rtol=0, atol=1e-10)


def test_fig2_collapses_after_round_3_as_in_the_paper(fig2):
    # Sec. 4: B_t is shown for t = 0..3, "after that, the solution collapses"; with seed 0 and our choices
    # the labels of round 4 satisfy mean(y_4^2) <= eps < mean(y_3^2)
    assert fig2["collapsed"] == 4
    f = fig2["rounds_train"]
    assert np.mean(f[3] ** 2) <= sd.SEC4_EPS < np.mean(f[2] ** 2)


def test_fig3_bars_are_the_engines_B_diagonal_and_represent_the_fits(fig2):
    from kdtheory.numerics.sd import kernel_self_distillation

    D = sd.fig3_bars(fig2)
    assert D["B"].shape == (4, 11)
    r = kernel_self_distillation(fig2["gram"], fig2["y"], 4, eps=sd.SEC4_EPS)
    order = np.argsort(r.eigenvalues)[::-1]
    np.testing.assert_allclose(D["B"], r.b_diag[:, order], rtol=1e-12, atol=0)
    assert np.all(np.diff(D["d"]) < 0)
    # B_t = prod_i D (c_i I + D)^-1 (Eq. 46) from the plotted multipliers
    A = D["d"][None, :] / (D["c"][:4, None] + D["d"][None, :])
    np.testing.assert_allclose(D["B"], np.cumprod(A, axis=0), rtol=1e-12)
    # Eq. (32)/(48): the training predictions of Fig. 2c are V^T B_t V y_0
    W = r.eigenvectors[:, order]
    preds = (D["B"] * (W.T @ fig2["y"])[None, :]) @ W.T
    np.testing.assert_allclose(preds, fig2["rounds_train"][:4], rtol=0, atol=1e-10)
    # what the figure shows: small entries shrink fastest (per-round factor increasing in d_k)
    assert np.all(np.diff(A, axis=1) < 0)


def test_fig4_batched_classes_equal_separate_engine_runs():
    from kdtheory.numerics.sd import kernel_self_distillation

    S = nsd.digits_split(3, 0, 120, 0.3)
    gram, gram_test = nsd.rbf_grams(S["X_train"], S["X_test"][:50])
    Y0 = nsd.one_vs_rest(S["y_train"])
    r = nsd.self_distillation_classes(gram, Y0, 8, eps=0.05, gram_eval=gram_test)
    for q in (0, 4, 9):
        single = kernel_self_distillation(gram, Y0[:, q], 8, eps=0.05, gram_eval=gram_test)
        T = single.rounds_run
        assert r["collapsed"][q] == T
        np.testing.assert_allclose(r["train"][:T, :, q], single.train_predictions, rtol=0, atol=1e-10)
        np.testing.assert_allclose(r["eval"][:T, :, q], single.eval_predictions, rtol=0, atol=1e-10)
        assert np.all(r["train"][T:, :, q] == 0)


def test_digits_label_noise_flips_to_another_class():
    S = nsd.digits_split(0, 1, 1000, 0.3)
    flipped = S["y_train"] != S["y_clean"]
    n = flipped.size
    # binomial(1000, 0.3): mean 300, sd 14.5; 4 sd either side
    assert abs(flipped.sum() - 0.3 * n) <= 4 * np.sqrt(n * 0.3 * 0.7)
    assert np.array_equal(nsd.digits_split(0, 1, 1000, 0.0)["y_train"], S["y_clean"])


def test_fig4_curves_shape_and_chance_after_collapse():
    D = nsd.digits_l2_curves(0, n_splits=1, n_train=150, label_noise=0.0, eps=0.2, rounds=6)
    assert D["train_acc"].shape == (1, 6)
    # with eps = 0.2 every class collapses within a few rounds: all predictions 0, argmax class 0
    assert D["loss"][0, -1] == pytest.approx(1.0)
    assert D["train_acc"][0, 0] > 0.9


def test_gradient_flow_matches_matrix_exponential():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((25, 3))
    gram = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 2) / 25
    Y = rng.standard_normal((25, 2))
    d, W = np.linalg.eigh(gram)
    base = np.mean(Y**2)
    for target in (0.9 * base, 0.3 * base, 0.05 * base):
        gd = nsd._gradient_flow_match(d, W, Y, target, gram)
        assert gd["loss"] == pytest.approx(target, rel=1e-10)
        resid = expm(-gd["tau"] * gram) @ Y
        assert np.mean(resid**2) == pytest.approx(target, rel=1e-9)
        np.testing.assert_allclose(gd["train"], Y - resid, rtol=0, atol=1e-9 * np.abs(Y).max())
        np.testing.assert_allclose(gd["eval"], gd["train"], rtol=0, atol=1e-9 * np.abs(Y).max())
    with pytest.raises(ValueError, match="target_loss"):
        nsd._gradient_flow_match(d, W, Y, 1.5 * base, gram)


def test_fig6_early_stopping_matches_the_training_loss():
    D = nsd.digits_early_stopping(0, n_splits=2, n_train=150)
    assert D["rounds"] >= 4
    for key in ("gd_loss", "eps_loss"):
        np.testing.assert_allclose(D[key], D["sd_loss"], rtol=1e-9)
    # round 0: the larger-eps model is the round-0 model itself
    np.testing.assert_allclose(D["eps_test"][:, 0], D["sd_test"][:, 0], rtol=0, atol=1e-12)
    # training loss on y_0 increases with the rounds (self-distillation moves away from the labels)
    assert np.all(np.diff(D["sd_loss"], axis=1) > 0)
    F = nsd.early_stopping_filters(0, n_train=150, t=3)
    assert F["gd_loss"] == pytest.approx(F["loss"], rel=1e-9)
    assert F["eps_loss"] == pytest.approx(F["loss"], rel=1e-9)
    assert np.all(np.diff(F["d"]) <= 0)


def test_fig5_kernel_logistic_fit_is_stationary_and_features_consistent():
    from scipy.special import softmax

    S = nsd.digits_split(2, 0, 120, 0.3)
    gram, gram_same = nsd.rbf_grams(S["X_train"], S["X_train"])
    phi, V, d = nsd._eigen_features(gram)
    np.testing.assert_allclose(phi @ phi.T, gram, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gram_same @ (V / np.sqrt(d)), phi, rtol=0, atol=1e-9)
    T = (nsd.one_vs_rest(S["y_train"]) + 1) / 2
    c = 1e-4
    W = nsd._kernel_logistic_fit(phi, T, c)
    grad = phi.T @ (softmax(phi @ W, axis=1) - T) / phi.shape[0] + 2 * c * W
    assert np.abs(grad).max() <= 1e-7


def test_spectrum_ratios_follow_the_power_iteration_factor():
    D = nsd.spectrum_runs(0, n_train=120, eps=sd.SPECTRUM_EPS)
    for name in ("sec4", "digits"):
        P = D[name]
        T, K = P["B"].shape
        assert P["collapsed"] == T
        np.testing.assert_allclose(P["normalised"].max(1), 1.0)
        assert np.all(P["normalised"][:, 0] == 1.0)
        assert np.all((P["effective"] >= 1 - 1e-12) & (P["effective"] <= K + 1e-9))
        d, c = P["d"], P["c"]
        assert np.all(np.diff(c) > 0)
        # per-round factor of the ratio B_t[k,k]/B_t[1,1]: d_k (c_t + d_1) / (d_1 (c_t + d_k)) in [d_k/d_1, 1]
        keep = P["normalised"][:-1] > 1e-250
        factor = np.where(keep, P["normalised"][1:] / np.where(keep, P["normalised"][:-1], 1.0), np.nan)
        expect = d[None, :] * (c[1:, None] + d[0]) / (d[0] * (c[1:, None] + d[None, :]))
        ok = keep & (P["normalised"][1:] > 1e-250)
        np.testing.assert_allclose(factor[ok], expect[ok], rtol=1e-9)
        assert np.all(expect >= d[None, :] / d[0] - 1e-15) and np.all(expect <= 1 + 1e-15)
    assert D["sec4"]["effective"][-1] < 1.01


def test_fig2_first_round_improves_then_rounds_underfit(fig2):
    # Sec. 4 / Fig. 2c: distillation first improves the fit (distance to sin(2 pi x)), later rounds underfit
    rms = fig2["rms_rounds"]
    assert rms[0] < fig2["rms_interp"][0]
    assert rms[1] < rms[0]
    assert rms[3] > rms[2] > rms[1]
    # the trapezoid RMS agrees with adaptive quadrature of the closed-form fit to 1e-4 relative (401-point grid)
    from kdtheory.theory.sd import green_function

    alpha = np.linalg.solve(fig2["gram"], fig2["interp_train"])
    f = lambda x: float(green_function(x, fig2["x"]) @ alpha) / fig2["x"].size  # noqa: E731
    val, _ = quad(lambda x: (f(x) - np.sin(2 * np.pi * x)) ** 2, 0, 1, points=list(fig2["x"]), limit=200)
    assert np.sqrt(val) == pytest.approx(fig2["rms_interp"][0], rel=1e-4)


def test_fig6_cross_entropy_early_stopping_matches_the_loss():
    C = nsd.digits_ce_early_stopping(0, n_splits=1, n_train=150, rounds=4)
    np.testing.assert_allclose(C["gd_loss"], C["sd_loss"], rtol=1e-9)
    # later rounds have a larger loss on y_0, so gradient descent stops earlier
    assert np.all(np.diff(C["sd_loss"], axis=1) > 0)
    assert np.all(np.diff(C["gd_steps"], axis=1) < 0) and np.all(C["gd_steps"] > 0)


def test_ce_gradient_descent_is_plain_gradient_descent():
    # the stopped iterate after an integer number of steps equals an explicit gradient-descent loop
    from scipy.special import softmax

    rng = np.random.default_rng(4)
    phi = rng.standard_normal((30, 6)) * 0.3
    Y = np.eye(3)[rng.integers(0, 3, 30)]
    eta = 2.0 * 30 / (phi * phi).sum(0).max()
    W = np.zeros((6, 3))
    for _ in range(7):
        W = W - eta * phi.T @ (softmax(phi @ W, axis=1) - Y) / 30
    target = nsd._cross_entropy(phi, W, Y)
    Ws, reached, steps = nsd._ce_gradient_descent_match(phi, Y, np.array([target]))
    assert steps[0] == pytest.approx(7.0, abs=1e-6)
    np.testing.assert_allclose(Ws[0], W, rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="still above"):
        nsd._ce_gradient_descent_match(phi, Y, np.array([1e-9]), max_steps=50)
