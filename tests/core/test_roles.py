"""Hyperparameter roles and task coverage of the registry.

* every hyperparameter with a :class:`~losscraft.Role` has a domain that can hold the values
  the data sets for that role;
* the annotated hyperparameters below stay annotated (removing a role is caught);
* every :class:`~losscraft.Task` is served by at least one loss, or is listed in ``UNSERVED``.
"""

from __future__ import annotations

import math

import pytest

import losscraft
from losscraft import Role, Task
from losscraft._core.spec import Domain, FloatSeq, Interval, Param, TensorDomain

# (entry, hyperparameter, role) the data sets: the guide computes each role's value once.
EXPECTED_ROLES: tuple[tuple[str, str, Role], ...] = (
    ("huber", "delta", Role.ROBUST_SCALE),
    ("charbonnier", "scale", Role.ROBUST_SCALE),
    ("cauchy", "scale", Role.ROBUST_SCALE),
    ("welsch", "scale", Role.ROBUST_SCALE),
    ("geman_mcclure", "scale", Role.ROBUST_SCALE),
    ("barron", "scale", Role.ROBUST_SCALE),
    ("cross_entropy", "weight", Role.CLASS_WEIGHTS),
    ("focal", "alpha", Role.CLASS_WEIGHTS),
    ("ldam", "weight", Role.CLASS_WEIGHTS),
    ("multi_margin", "weight", Role.CLASS_WEIGHTS),
    ("crammer_singer", "weight", Role.CLASS_WEIGHTS),
    ("ldam", "class_counts", Role.CLASS_COUNTS),
    ("balanced_softmax", "class_counts", Role.CLASS_COUNTS),
    ("logit_adjusted", "priors", Role.CLASS_PRIORS),
    ("bce_with_logits", "pos_weight", Role.POS_WEIGHT),
    ("quantile", "quantiles", Role.QUANTILE_LEVEL),
    ("dice", "smooth", Role.SMOOTHING),
    ("jaccard", "smooth", Role.SMOOTHING),
    ("tversky", "smooth", Role.SMOOTHING),
    ("focal_tversky", "smooth", Role.SMOOTHING),
    ("tweedie", "power", Role.VARIANCE_POWER),
)

# Tasks the profile can detect but no loss serves yet (the guide says so and falls back).
# When a loss starts serving one, remove it from this set.
UNSERVED: set[Task] = set()  # every task is served (ordinal since the coral/corn/cumulative_link entries)

_VECTOR_ROLES = {Role.CLASS_WEIGHTS, Role.CLASS_COUNTS, Role.CLASS_PRIORS, Role.POS_WEIGHT}


def _role_params() -> list[tuple[str, Param]]:
    return [(e.name, p) for e in losscraft.catalog() for p in e.spec.params if p.role is not None]


def _domain_fits(role: Role, domain: Domain) -> bool:
    """Whether ``domain`` can hold what the data sets for ``role``."""
    if role is Role.ROBUST_SCALE:  # a positive scale: (0, ...) or [eps, ...)
        return (
            isinstance(domain, Interval)
            and not domain.integer
            and (domain.low > 0 or (domain.low == 0 and not domain.low_closed))
            and domain.high == math.inf
        )
    if role in _VECTOR_ROLES:  # one value per class / label
        return isinstance(domain, TensorDomain)
    if role is Role.QUANTILE_LEVEL:  # tau in (0, 1), one level or several
        element = domain.element if isinstance(domain, FloatSeq) else domain
        return (
            isinstance(element, Interval)
            and element.low >= 0
            and element.high <= 1
            and (element.low > 0 or not element.low_closed)
            and (element.high < 1 or not element.high_closed)
        )
    if role is Role.SMOOTHING:  # additive, non-negative
        return isinstance(domain, Interval) and domain.low >= 0 and domain.high == math.inf
    if role is Role.VARIANCE_POWER:  # p in [1, 2] (Poisson to Gamma)
        return isinstance(domain, Interval) and domain.contains(1.0) and domain.contains(2.0)
    raise AssertionError(f"no domain rule for role {role}: add one to this test")


@pytest.mark.parametrize(("name", "param"), _role_params(), ids=lambda v: getattr(v, "name", v))
def test_role_domain(name: str, param: Param) -> None:
    assert param.role is not None
    assert _domain_fits(param.role, param.domain), (
        f"{name}.{param.name}: role {param.role} does not fit domain {param.domain.describe()}"
    )
    assert param.domain.contains(param.default), f"{name}.{param.name}: default outside its domain"


def test_every_role_has_a_domain_rule() -> None:
    for role in Role:
        _domain_fits(role, TensorDomain() if role in _VECTOR_ROLES else Interval(0.0, 1.0, low_closed=False))


@pytest.mark.parametrize(("name", "param_name", "role"), EXPECTED_ROLES)
def test_expected_role(name: str, param_name: str, role: Role) -> None:
    assert losscraft.get(name).spec.param(param_name).role is role


def test_roles_listed() -> None:
    """Every annotated hyperparameter is in ``EXPECTED_ROLES`` (so the table stays complete)."""
    found = {(name, p.name, p.role) for name, p in _role_params()}
    assert found == set(EXPECTED_ROLES), (
        f"update EXPECTED_ROLES: missing {found - set(EXPECTED_ROLES)}, stale {set(EXPECTED_ROLES) - found}"
    )


def test_every_role_used() -> None:
    used = {p.role for _, p in _role_params()}
    assert used == set(Role), f"roles no loss declares: {set(Role) - used}"


def test_role_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Param("x", 1.0, Interval(), "doc", Role.SMOOTHING)  # type: ignore[call-arg]
    assert Param("x", 1.0, Interval()).role is None


def test_task_coverage() -> None:
    served = {t for e in losscraft.catalog() for t in e.spec.tasks}
    now_served = UNSERVED & served
    assert not now_served, f"{sorted(map(str, now_served))} now served: remove from UNSERVED"
    missing = set(Task) - served - UNSERVED
    assert not missing, f"no loss serves {sorted(map(str, missing))}: serve it or add it to UNSERVED"


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("poisson_nll", Task.COUNT),
        ("bce_with_logits", Task.PROPORTION),
        ("bce", Task.PROPORTION),
        ("cross_entropy", Task.SOFT_LABELS),
        ("kl_div", Task.SOFT_LABELS),
        ("js_div", Task.SOFT_LABELS),
    ],
)
def test_new_tasks(name: str, task: Task) -> None:
    assert task in losscraft.get(name).spec.tasks


def test_role_exported() -> None:
    assert losscraft.Role is Role
    assert "Role" in losscraft.__all__
    assert str(Role.ROBUST_SCALE) == "robust_scale"
