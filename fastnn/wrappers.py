"""Keras 3's scikit-learn wrappers (``keras.wrappers``): SKLearnClassifier, SKLearnRegressor
and SKLearnTransformer, with Keras 3.15's constructor ``(model, warm_start=False,
model_kwargs=None, fit_kwargs=None)``.

``model`` is a compiled model (cloned, with its compile settings, for each fit) or a function
called as ``model(X=X, y=y, **model_kwargs)``; the classifier one-hot encodes y before both
the call and the training, and ``predict`` turns the outputs back into labels.

Three things Keras 3.15 documents but does not do, fastnn does: ``warm_start=True`` keeps
training the fitted model, ``fit_kwargs`` survive ``clone`` (and ``fit``'s keyword arguments
do not leak into them), and ``epoch_`` counts the epochs trained.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from fastnn.sklearn._state import unchanged_on_error

__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]


class _TargetReshaper(TransformerMixin, BaseEstimator):
    """1-D y as a column for the model, and the model's column back to 1-D."""

    def fit(self, y):
        self.ndim_ = y.ndim
        return self

    def transform(self, y):
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def inverse_transform(self, y):
        check_is_fitted(self)
        return np.squeeze(y, axis=1) if self.ndim_ == 1 and y.ndim == 2 else y


class SKLBase(BaseEstimator):
    """The shared half of the three wrappers.

    Parameters
    ----------
    model : compiled fastnn Model, or callable
        A model (cloned before each fit unless ``warm_start``), or a function taking ``X``
        and ``y`` by keyword (plus ``model_kwargs``) and returning a compiled model.
    warm_start : bool, default=False
        Keep training the model of the previous fit (a given model is then used as is).
    model_kwargs : dict, default=None
        Keyword arguments for ``model`` when it is a function.
    fit_kwargs : dict, default=None
        Keyword arguments for the model's ``fit``; those given to ``fit`` take precedence.

    Attributes
    ----------
    model_ : the fitted model
    history_ : the History returned by the model's fit
    """

    def __init__(self, model, warm_start=False, model_kwargs=None, fit_kwargs=None):
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags

    @property
    def epoch_(self) -> int:
        """Epochs trained by the last fit."""
        history = getattr(self, "history_", None)
        return len(history.epoch) if history is not None else 0

    def _get_model(self, X, y):
        from fastnn.models import Model

        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Model):
            return self.model if self.warm_start else _clone_compiled(self.model)
        if not callable(self.model):
            raise TypeError(f"`model` must be a compiled fastnn Model or a function returning "
                            f"one; got {type(self.model).__name__}.")
        return self.model(X=X, y=y, **(self.model_kwargs or {}))

    def fit(self, X, y, **kwargs):
        """Fit the model; ``kwargs`` go to the model's ``fit``.

        Returns
        -------
        self
        """
        with unchanged_on_error(self):
            X, y = validate_data(self, X, y)
            y = self._process_target(y, reset=True)
            model = self._get_model(X, y)
            if not getattr(model, "compiled", False) or not model.loss or not model.optimizer:
                raise RuntimeError("Given model needs to be compiled, and have a loss and an "
                                   "optimizer.")
            self.history_ = model.fit(X, y, **{**(self.fit_kwargs or {}), **kwargs})
            self.model_ = model
        return self

    def predict(self, X):
        """The model's outputs for X, in the form of the y of fit."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._target_encoder.inverse_transform(self.model_.predict(X))

    def _process_target(self, y, reset=False):
        _check_known(y)
        if reset:
            self._target_encoder = _TargetReshaper().fit(y)
        return self._target_encoder.transform(y)


class SKLearnClassifier(ClassifierMixin, SKLBase):
    """A Keras-3-style classifier around a fastnn model: y is one-hot encoded (one column
    per class, in the order of ``classes_``), so the model needs one output per class.

    Attributes
    ----------
    model_, history_, classes_
    """

    def decision_function(self, X):
        """The model's raw outputs."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.model_.predict(X)

    def _process_target(self, y, reset=False):
        kind = _check_known(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass target types are supported. Target "
                             f"type: {kind}")
        if reset:
            classes = np.unique(y)
            if len(classes) == 1:
                raise ValueError("Classifier can't train when only one class is present.")
            self._target_encoder = make_pipeline(
                _TargetReshaper(), OneHotEncoder(sparse_output=False)).fit(y)
            self.classes_ = classes
        return self._target_encoder.transform(y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags


class SKLearnRegressor(RegressorMixin, SKLBase):
    """A Keras-3-style regressor around a fastnn model (one target).

    Attributes
    ----------
    model_, history_
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


class SKLearnTransformer(TransformerMixin, SKLBase):
    """A fastnn model as a scikit-learn transformer: ``transform`` returns its outputs (an
    embedding, say); fit it on (X, y) like the regressor.

    Attributes
    ----------
    model_, history_
    """

    def transform(self, X):
        """The model's outputs for X."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.model_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags


def _check_known(y) -> str:
    kind = type_of_target(y)
    if kind == "unknown":
        raise ValueError(f"Unknown label type for data: {y!r}")
    return kind


def _clone_compiled(model):
    """A fresh copy of a model: same layers, new weights, the same compile settings."""
    from fastnn import losses, optimizers
    from fastnn.models import clone_model

    copy = clone_model(model)
    if getattr(model, "compiled", False):
        optimizer = optimizers.deserialize(optimizers.serialize(model.optimizer))
        loss = model.loss if isinstance(model.loss, str) or model.loss is None \
            else losses.deserialize(losses.serialize(model.loss))
        copy.compile(optimizer=optimizer, loss=loss, metrics=list(model._compile_metrics))
    return copy
