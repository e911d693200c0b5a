"""scikit-learn estimators on fastnn's engine.

``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's ``sklearn.neural_network``
parameters and give its fitted attributes; ``KerasClassifier`` and ``KerasRegressor`` are
scikeras 0.13's wrappers around a function that builds a fastnn model (or a model), with the
target encoders they use (``ClassifierLabelEncoder``, ``RegressorTargetEncoder``).
"""

from fastnn.sklearn._encoders import ClassifierLabelEncoder, RegressorTargetEncoder
from fastnn.sklearn._mlp import MLPClassifier, MLPRegressor
from fastnn.sklearn._wrappers import BaseWrapper, KerasClassifier, KerasRegressor


def register_onnx_converters() -> None:
    """Register ``MLPClassifier`` and ``MLPRegressor`` with skl2onnx, so ``skl2onnx.to_onnx``
    and ``convert_sklearn`` convert them, alone or in pipelines (needs the ``onnx`` extra;
    see ``fastnn/export/_skl2onnx.py``)."""
    from fastnn.export._skl2onnx import register

    register()


__all__ = ["BaseWrapper", "ClassifierLabelEncoder", "KerasClassifier", "KerasRegressor",
           "MLPClassifier", "MLPRegressor", "RegressorTargetEncoder", "register_onnx_converters"]
