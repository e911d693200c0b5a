"""scikit-learn's own MLP tests, run on fastnn's estimators.

The installed scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is read, its import
of ``MLPClassifier`` and ``MLPRegressor`` is pointed at ``fastnn.sklearn`` (nothing else in it
changes) and it runs as a module of its own; its tests are collected here. Tests that only
read scikit-learn's private internals are listed in PRIVATE with the reason, as strict xfails:
one that starts passing must come off the list.
"""

import sys
import types
from pathlib import Path

import pytest
import sklearn

import fastnn.sklearn

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"

# test name -> why it cannot pass on fastnn (each reads or calls a private member).
PRIVATE = {
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs with its activation and "
                     "delta buffers",
}

if not SOURCE.is_file():
    pytest.skip(f"scikit-learn {sklearn.__version__} is installed without its tests "
                f"({SOURCE} is missing)", allow_module_level=True)


def _load_suite() -> types.ModuleType:
    text = SOURCE.read_text()
    if text.count(IMPORT) != 1:
        # Running scikit-learn's own estimators here would pass and test nothing.
        raise RuntimeError(f"{SOURCE} no longer imports the estimators as {IMPORT!r}; "
                           "update this module")
    text = text.replace(IMPORT, "from fastnn.sklearn import MLPClassifier, MLPRegressor")
    module = types.ModuleType("sklearn_test_mlp_on_fastnn")
    module.__file__ = str(SOURCE)
    sys.modules[module.__name__] = module
    exec(compile(text, str(SOURCE), "exec"), module.__dict__)  # noqa: S102 - the suite itself
    assert module.MLPClassifier is fastnn.sklearn.MLPClassifier
    assert module.MLPRegressor is fastnn.sklearn.MLPRegressor
    return module


_suite = _load_suite()
for _name, _test in vars(_suite).items():
    if _name.startswith("test_") and callable(_test):
        if _name in PRIVATE:
            _test = pytest.mark.xfail(reason=PRIVATE[_name], strict=True)(_test)
        globals()[_name] = _test
if set(PRIVATE) - set(vars(_suite)):
    raise RuntimeError(f"PRIVATE names tests the suite no longer has: "
                       f"{sorted(set(PRIVATE) - set(vars(_suite)))}")


@pytest.fixture
def global_random_seed():
    """scikit-learn's conftest fixture, at its default seed (its variable unset)."""
    return 42
