"""Checks of the MLP estimators' hyperparameters, run at the start of fit (never in __init__
or set_params, as scikit-learn requires)."""

from __future__ import annotations

import numbers

import numpy as np

_CHOICES = {
    "activation": ("identity", "logistic", "tanh", "relu"),
    "solver": ("lbfgs", "sgd", "adam"),
    "learning_rate": ("constant", "invscaling", "adaptive"),
    "loss": ("squared_error", "poisson"),
}
# name -> (low, high, low inclusive, high inclusive) for real-valued parameters.
_REAL_RANGES = {
    "alpha": (0.0, np.inf, True, False),
    "learning_rate_init": (0.0, np.inf, False, False),
    "power_t": (0.0, np.inf, True, False),
    "tol": (0.0, np.inf, True, False),
    "momentum": (0.0, 1.0, True, True),
    "validation_fraction": (0.0, 1.0, True, False),
    "beta_1": (0.0, 1.0, True, False),
    "beta_2": (0.0, 1.0, True, False),
    "epsilon": (0.0, np.inf, False, False),
}
_POSITIVE_INTS = ("max_iter", "max_fun")
_BOOLS = ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping")


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _bad(name: str, value, expected: str) -> ValueError:
    return ValueError(f"The '{name}' parameter of this estimator must be {expected}. "
                      f"Got {value!r} instead.")


def hidden_sizes(value) -> list[int]:
    """hidden_layer_sizes as a list of positive ints (an int means one layer)."""
    sizes = [value] if _is_int(value) else value
    try:
        sizes = list(sizes)
    except TypeError:
        raise _bad("hidden_layer_sizes", value, "an int or an array-like of ints") from None
    if not all(_is_int(s) for s in sizes):
        raise _bad("hidden_layer_sizes", value, "an int or an array-like of ints")
    if any(s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def check(params: dict) -> None:
    """ValueError naming the first invalid parameter in ``params`` (get_params() output)."""
    hidden_sizes(params["hidden_layer_sizes"])
    for name, choices in _CHOICES.items():
        if name in params and params[name] not in choices:
            raise _bad(name, params[name], f"a str among {set(choices)}")
    for name, (low, high, low_in, high_in) in _REAL_RANGES.items():
        v = params[name]
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and not np.isnan(v) \
            and (low <= v if low_in else low < v) and (v <= high if high_in else v < high)
        if not ok:
            left, right = "[" if low_in else "(", "]" if high_in else ")"
            raise _bad(name, v, f"a float in the range {left}{low}, {high}{right}")
    for name in _POSITIVE_INTS:
        if not (_is_int(params[name]) and params[name] >= 1):
            raise _bad(name, params[name], "an int in the range [1, inf)")
    bs = params["batch_size"]
    if not (bs == "auto" if isinstance(bs, str) else _is_int(bs) and bs >= 1):
        raise _bad("batch_size", bs, "'auto' or an int in the range [1, inf)")
    n = params["n_iter_no_change"]
    if not ((_is_int(n) and n >= 1) or (isinstance(n, float) and n == np.inf)):
        raise _bad("n_iter_no_change", n, "an int in the range [1, inf) or inf")
    for name in _BOOLS:
        if not isinstance(params[name], (bool, np.bool_)):
            raise _bad(name, params[name], "a bool")
    t = params.get("n_threads")
    if not (t is None or (_is_int(t) and t != 0)):
        raise _bad("n_threads", t, "None or a non-zero int (negative: counted back from the "
                   "CPUs available, -1 = all)")
    if not isinstance(params["verbose"], (bool, np.bool_, numbers.Integral)):
        raise _bad("verbose", params["verbose"], "a bool or an int")
