"""The guide recommends the count and amount losses from their registry metadata.

Tweedie declares ``Task.COUNT`` and ``Task.REGRESSION`` and ``Property.DISPERSION_WEIGHTED`` (its
variance grows like mu^p, p > 1); the Gamma deviance declares ``DISPERSION_WEIGHTED`` for
regression; the zero-inflated Poisson declares ``Property.ZERO_INFLATED``. The rule table, which
names no loss but the baselines, selects by those properties: the Poisson deviance first for
Poisson counts, Tweedie first for overdispersed ones, the Gamma deviance among the candidates for
strictly positive skewed amounts, and the zero-inflated Poisson for counts with more zeros than a
Poisson with their mean has. ``compare`` sizes its two-output head (log-rate, zero logit) from the
entry's sample shapes and predicts the mean count ``(1 - sigmoid(z)) e^eta``.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from losscraft.guide import compare, recommend, recommending, rules
from losscraft.guide.models import head_for

NEW = ("tweedie", "zero_inflated_poisson", "gamma_deviance")


def _reasons(rec: object) -> str:
    return " ".join(rec.reasons)  # type: ignore[attr-defined]


def _by(recs: object, name: str) -> object:
    return next(r for r in recs if r.name == name)  # type: ignore[attr-defined]


def test_the_guide_code_names_none_of_the_new_losses() -> None:
    source = inspect.getsource(rules) + inspect.getsource(recommending)
    for name in NEW:
        assert name not in source


def test_poisson_counts_keep_the_poisson_deviance_first_and_tweedie_next() -> None:
    y = np.random.default_rng(1).poisson(4.0, 3000)
    recs = recommend(y, task="count_regression", top=5)
    names = [r.name for r in recs]
    assert names[0] == "poisson_nll"
    assert "tweedie" in names and "COUNT-MEAN" in _reasons(_by(recs, "tweedie"))
    assert _by(recs, "tweedie").score < recs[0].score  # type: ignore[attr-defined]
    assert "zero_inflated_poisson" not in names


def test_overdispersed_counts_get_tweedie_first() -> None:
    rng = np.random.default_rng(7)
    y = np.where(rng.random(3000) < 0.3, 0, rng.negative_binomial(2.0, 0.3, 3000))
    recs = recommend(y, task="count_regression", top=5)
    assert recs.profile.regression is not None and recs.profile.regression.dispersion > 2.0
    assert recs[0].name == "tweedie"
    assert "COUNT-OVERDISPERSED" in _reasons(recs[0]) and "COUNT-EXCESS-ZEROS" in _reasons(recs[0])
    names = [r.name for r in recs]
    assert "poisson_nll" in names and "mse" in names
    # the zeros beyond Poisson(mean) also get the zero-inflated likelihood, behind the deviance
    # that fits the overdispersion
    assert "zero_inflated_poisson" in names
    assert "COUNT-ZERO-INFLATED" in _reasons(_by(recs, "zero_inflated_poisson"))


def test_skewed_nonnegative_amounts_get_the_tweedie_deviance() -> None:
    # compound Poisson-gamma amounts (claims): many exact zeros and a long upper tail
    rng = np.random.default_rng(3)
    n_claims = rng.poisson(0.8, 5000)
    y = np.array([rng.gamma(2.0, 50.0, k).sum() for k in n_claims])
    recs = recommend(y, top=5)
    assert recs.profile.task == "regression"
    assert "tweedie" in [r.name for r in recs]
    assert "REG-SKEWED-MEAN" in _reasons(_by(recs, "tweedie"))
    assert "gamma_deviance" not in [r.name for r in recs]  # zeros: outside the Gamma deviance's domain


def test_strictly_positive_skewed_amounts_also_get_the_gamma_deviance() -> None:
    y = np.random.default_rng(4).lognormal(3.0, 1.0, 4000)
    recs = recommend(y, top=6)
    names = [r.name for r in recs]
    assert "gamma_deviance" in names and "REG-SKEWED-POSITIVE-MEAN" in _reasons(_by(recs, "gamma_deviance"))
    assert "tweedie" in names


def _zip_sample(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Zero-inflated Poisson counts: log-rate and zero logit both linear in the features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    rate = np.exp(0.6 + 0.4 * X[:, 0])
    pi = 1.0 / (1.0 + np.exp(-(-0.4 + 0.8 * X[:, 1])))
    y = np.where(rng.random(n) < pi, 0, rng.poisson(rate))
    return X, y


def test_excess_zeros_get_the_zero_inflated_poisson_recommended() -> None:
    X, y = _zip_sample()
    recs = recommend(y, features=X, task="count_regression")
    reg = recs.profile.regression
    assert reg is not None and reg.zero_share - np.exp(-reg.mean) > 0.1
    names = [r.name for r in recs]
    assert "zero_inflated_poisson" in names  # in the default top 3
    assert "COUNT-ZERO-INFLATED" in _reasons(_by(recs, "zero_inflated_poisson"))


def test_the_zero_inflated_head_has_two_outputs_and_predicts_the_mean_count() -> None:
    head = head_for("zero_inflated_poisson", "count_regression")
    assert head.n_outputs == 2
    out = torch.tensor([[0.3, -1.0], [1.2, 0.5]], dtype=torch.float64)
    args = head.train_args(out, torch.tensor([0.0, 2.0]))
    assert args[0].shape == (2, 2)  # the loss gets [log-rate, zero logit] per sample
    pred = head.predict(out, np.array([0.0, 2.0]))
    expected = [(1 - 1 / (1 + np.exp(-z))) * np.exp(eta) for eta, z in out.tolist()]
    np.testing.assert_allclose(pred.point, expected, rtol=1e-12)


def test_compare_trains_the_zero_inflated_poisson_end_to_end() -> None:
    X, y = _zip_sample()
    result = compare(X, y, task="count_regression", folds=3, repeats=1, epochs=150, progress=False)
    names = [r.name for r in result.results]
    assert "zero_inflated_poisson" in names
    zip_rmse = result["zero_inflated_poisson"].metrics["rmse"].mean
    assert np.isfinite(zip_rmse)
    # it learns: better than predicting the mean count everywhere
    assert zip_rmse < float(np.std(y))


def _compound_poisson_gamma(mu: np.ndarray, p: float, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Tweedie draws with mean ``mu`` and variance ``phi mu^p`` (1 < p < 2): a Poisson sum of gammas."""
    lam = mu ** (2 - p) / (phi * (2 - p))
    alpha = (2 - p) / (p - 1)
    theta = phi * (p - 1) * mu ** (p - 1)
    k = rng.poisson(lam)
    return np.where(k > 0, rng.gamma(np.maximum(alpha * k, 1e-12), theta), 0.0)


def _power_of(recs: object) -> tuple[float, str]:
    tw = _by(recs, "tweedie")
    return tw.params["power"], _reasons(tw)  # type: ignore[attr-defined]


def test_tweedie_power_is_estimated_from_the_features() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3))
    mu = np.exp(1.0 + 0.6 * X[:, 0] - 0.4 * X[:, 1])
    cases = {
        1.0: rng.poisson(mu).astype(np.float64),  # Var = mu
        1.5: _compound_poisson_gamma(mu, 1.5, 1.0, rng),
        2.0: rng.gamma(2.0, mu / 2.0),  # Var = mu^2 / 2
    }
    for truth, y in cases.items():
        # the true power is known from the generator; the estimator sees only X and y
        recs = recommend(y, features=X, task="regression", top=9)
        power, reasons = _power_of(recs)
        assert abs(power - truth) <= 0.12, (truth, power)
        assert 1.0 <= power <= 2.0
        assert f"power = {power:.3g} estimated from the data" in reasons
        assert "variance on log within-bin mean" in reasons


def test_tweedie_power_without_features_keeps_the_default_and_says_why() -> None:
    y = np.random.default_rng(1).poisson(4.0, 2000)
    recs = recommend(y, task="count_regression", top=5)
    tw = _by(recs, "tweedie")
    assert "power" not in tw.params  # type: ignore[attr-defined]
    assert "power left at its default 1.5: no features" in _reasons(tw)
