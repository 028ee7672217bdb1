"""Regression losses."""

from .asymmetric_linear import AsymmetricLinearLoss, asymmetric_linear_loss
from .asymmetric_squared import AsymmetricSquaredLoss, asymmetric_squared_loss
from .barron import AdaptiveBarronLoss, BarronLoss, barron_log_partition, barron_loss
from .cauchy import CauchyLoss, cauchy_loss
from .charbonnier import CharbonnierLoss, charbonnier_loss
from .gamma_deviance import GammaDevianceLoss, gamma_deviance_loss
from .gaussian_nll import GaussianNLLLoss, gaussian_nll_loss
from .geman_mcclure import GemanMcClureLoss, geman_mcclure_loss
from .huber import HuberLoss, huber_loss
from .linex import LinexLoss, linex_loss
from .log_cosh import LogCoshLoss, log_cosh_loss
from .mae import MAELoss, mae_loss
from .mse import MSELoss, mse_loss
from .msle import MSLELoss, msle_loss
from .poisson_nll import PoissonNLLLoss, poisson_nll_loss
from .quantile import QuantileLoss, quantile_loss
from .tweedie import TweedieLoss, tweedie_loss
from .welsch import WelschLoss, welsch_loss
from .zero_inflated_poisson import ZeroInflatedPoissonLoss, zero_inflated_poisson_loss

__all__ = [
    "AsymmetricLinearLoss",
    "AsymmetricSquaredLoss",
    "LinexLoss",
    "asymmetric_linear_loss",
    "asymmetric_squared_loss",
    "linex_loss",
    "AdaptiveBarronLoss",
    "BarronLoss",
    "CauchyLoss",
    "CharbonnierLoss",
    "GammaDevianceLoss",
    "GaussianNLLLoss",
    "GemanMcClureLoss",
    "HuberLoss",
    "LogCoshLoss",
    "MAELoss",
    "MSELoss",
    "MSLELoss",
    "PoissonNLLLoss",
    "QuantileLoss",
    "TweedieLoss",
    "WelschLoss",
    "ZeroInflatedPoissonLoss",
    "barron_log_partition",
    "barron_loss",
    "cauchy_loss",
    "charbonnier_loss",
    "gamma_deviance_loss",
    "gaussian_nll_loss",
    "geman_mcclure_loss",
    "huber_loss",
    "log_cosh_loss",
    "mae_loss",
    "mse_loss",
    "msle_loss",
    "poisson_nll_loss",
    "quantile_loss",
    "tweedie_loss",
    "welsch_loss",
    "zero_inflated_poisson_loss",
]
