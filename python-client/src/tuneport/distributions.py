"""``tuneport.distributions``: the names of Optuna's ``optuna.distributions`` module, for scripts
moved with ``import tuneport as optuna`` (``study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})``,
``isinstance(trial.distributions["x"], optuna.distributions.FloatDistribution)``).

They are this client's own classes under Optuna's names, with Optuna's argument order:
``FloatDistribution(low, high, log=False, step=None)``, ``IntDistribution(low, high, log=False,
step=1)``, ``CategoricalDistribution(choices)``.
"""

from ._distributions import Categorical, Distribution, Float, Int

BaseDistribution = Distribution
FloatDistribution = Float
IntDistribution = Int
CategoricalDistribution = Categorical

__all__ = ["BaseDistribution", "CategoricalDistribution", "FloatDistribution", "IntDistribution"]
