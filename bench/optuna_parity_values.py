"""The numpy values of bench/optuna_parity.py beyond ``tell`` and an objective's return (those are in
optuna_parity_cases.case_values_and_arguments): ``create_trial``/``add_trial``'s ``value=`` and
``values=``, ``tell`` with ``state=PRUNED`` or ``FAIL``, and ``report``. Optuna 5.0 reads ``value=``
as one value (a numpy array of one dimension or more is then not a number) and ``values=`` as a
sequence, one value per objective (a numpy array's elements too)."""

from __future__ import annotations

import warnings
from typing import Any

from optuna_parity_cases import Obs, Side, outcome


def _floats(trial: Any) -> Any:
    """The trial's values as Python floats (Optuna keeps numpy's float64 in memory), and its state."""
    return (trial.state.name, None if trial.values is None else [float(v) for v in trial.values])


def _ended(result: Any) -> Any:
    """``outcome``'s ("raised", error), or "ok" (what the call returns differs on purpose: add_trial's
    trial, report's Decision)."""
    return result if result[0] == "raised" else "ok"


def case_numpy_values(s: Side) -> Obs:
    np = __import__("numpy")
    TS = s.mod.trial.TrialState
    dist = s.mod.distributions.FloatDistribution(0.0, 1.0)
    out: Obs = {}
    arrays = (("array_1", np.array([0.5])), ("array_2", np.array([0.5, 1.0])), ("0d", np.array(0.5)), ("2d", np.array([[0.5]])))
    for label, given in arrays:
        for kw in ("value", "values"):
            made = outcome(lambda: _floats(s.mod.trial.create_trial(params={"x": 0.25}, distributions={"x": dist}, **{kw: given})))
            out[f"numpy.create_trial_{kw}_{label}"] = made
            for n in (1, 2):
                st = s.study(directions=["minimize"] * n)
                added = outcome(lambda: st.add_trial(s.mod.trial.create_trial(params={"x": 0.25}, distributions={"x": dist}, **{kw: given})))
                out[f"numpy.add_trial_{kw}_{label}_{n}"] = (_ended(added), [_floats(t) for t in st.trials])
        st = s.study()
        for state in ("PRUNED", "FAIL"):
            t = st.ask()
            t.report(0.25, 0)
            told = outcome(lambda: st.tell(t, state=getattr(TS, state), values=given))
            out[f"numpy.tell_{state.lower()}_values_{label}"] = (_ended(told), _floats(st.trials[-1]))
        t = st.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reported = outcome(lambda: t.report(given, 1))
        out[f"numpy.report_{label}"] = (_ended(reported), sorted(st.trials[-1].intermediate_values))
    return out
