"""The guide recommends the count and amount losses from their registry metadata.

Tweedie declares ``Task.COUNT`` and ``Task.REGRESSION`` and ``Property.DISPERSION_WEIGHTED`` (its
variance grows like mu^p, p > 1); the Gamma deviance declares ``DISPERSION_WEIGHTED`` for
regression; the zero-inflated Poisson declares ``Property.ZERO_INFLATED``. The rule table, which
names no loss but the baselines, selects by those properties: the Poisson deviance first for
Poisson counts, Tweedie first for overdispersed ones, the Gamma deviance among the candidates for
strictly positive skewed amounts, and the zero-inflated Poisson never ranked (it needs a second
model output per sample, which ``compare``'s heads do not provide).
"""

from __future__ import annotations

import inspect

import numpy as np

from losscraft.guide import recommend, recommending, rules

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
    assert "zero_inflated_poisson" not in names  # not trainable by compare's one-output heads


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
