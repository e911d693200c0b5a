"""scikit-learn estimators on fastnn's engine.

``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's ``sklearn.neural_network``
parameters and give its fitted attributes; ``KerasClassifier`` and ``KerasRegressor`` wrap a
function that builds a compiled fastnn model (or a compiled model).
"""

from fastnn.sklearn._mlp import MLPClassifier, MLPRegressor
from fastnn.sklearn._wrappers import KerasClassifier, KerasRegressor

__all__ = ["KerasClassifier", "KerasRegressor", "MLPClassifier", "MLPRegressor"]
