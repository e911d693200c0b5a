"""The default target encoders of KerasClassifier and KerasRegressor (scikeras's
``ClassifierLabelEncoder`` and ``RegressorTargetEncoder``): y as the model trains on it, the
model's outputs back as labels, and the metadata the build function sees in ``meta``.

A subclass of the wrapper may return its own transformer from ``target_encoder`` or
``feature_encoder``; what its ``get_metadata()`` returns becomes attributes of the estimator.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils.multiclass import type_of_target

_FLOATX = np.float32   # fastnn's default float, as Keras's floatx()


def is_categorical_crossentropy(loss) -> bool:
    """The losses that want one-hot targets (named, as a function, or as an instance)."""
    from fastnn.losses import CategoricalCrossentropy

    name = loss if isinstance(loss, str) else getattr(loss, "__name__", None)
    return isinstance(loss, CategoricalCrossentropy) or name in (
        "categorical_crossentropy", "cce", "CategoricalCrossentropy")


class ClassifierLabelEncoder(TransformerMixin, BaseEstimator):
    """Labels as ordinal codes (one-hot for a categorical cross-entropy ``loss``), and back.

    Parameters
    ----------
    loss : str, Loss or None
        The estimator's loss: a categorical cross-entropy means one-hot targets.
    categories : "auto" or list of one array
        Every class, when the first ``fit`` does not see them all (``partial_fit``).

    Attributes
    ----------
    classes_, n_classes_, n_outputs_, n_outputs_expected_
    """

    def __init__(self, loss=None, categories="auto"):
        self.loss = loss
        self.categories = categories

    def _type_of_target(self, y) -> str:
        kind = type_of_target(y)
        if kind == "binary" and not isinstance(self.categories, str):
            kind = type_of_target(self.categories[0])   # a multiclass y missing classes
        return kind

    def fit(self, y) -> ClassifierLabelEncoder:
        kind = self._type_of_target(y)
        if kind not in ("binary", "multiclass", "multiclass-multioutput",
                        "multilabel-indicator"):
            raise ValueError(f"Unknown label type: {kind}. KerasClassifier takes binary, "
                             "multiclass, multilabel-indicator and multiclass-multioutput "
                             "targets; for others, override `target_encoder`.")
        self._y_shape, self._y_dtype = y.shape, y.dtype
        if kind in ("binary", "multiclass"):
            one_hot = kind == "multiclass" and is_categorical_crossentropy(self.loss)
            encoder = OneHotEncoder(sparse_output=False, dtype=_FLOATX,
                                    categories=self.categories) if one_hot else \
                OrdinalEncoder(dtype=_FLOATX, categories=self.categories)
            self._final_encoder = encoder.fit(y.reshape(-1, 1) if y.ndim == 1 else y)
            self.classes_ = self._final_encoder.categories_[0]
            self.n_classes_ = self.classes_.size
        elif kind == "multilabel-indicator" and y.min() == 0 and (y.sum(axis=1) == 1).all():
            kind = "multiclass-onehot"
        self._one_hot = kind == "multiclass" and is_categorical_crossentropy(self.loss)
        if kind in ("multiclass-onehot", "multilabel-indicator"):
            self._final_encoder = None
            self.classes_ = np.arange(y.shape[1])
            self.n_classes_ = y.shape[1]
        elif kind == "multiclass-multioutput":
            self._final_encoder, self.classes_, self.n_classes_ = None, None, None
        self._target_type = kind
        self.n_outputs_ = 1
        self.n_outputs_expected_ = 1
        return self

    def transform(self, y):
        if self._final_encoder is None:
            return y
        return self._final_encoder.transform(y.reshape(-1, 1) if y.ndim == 1 else y)

    def inverse_transform(self, y, return_proba: bool = False):
        """Labels (shaped as the y of fit) from the model's outputs, or with
        ``return_proba`` the class probabilities (two columns for one sigmoid output)."""
        kind = self._target_type
        if kind == "binary" and (y.ndim == 1 or y.shape[1] == 1 and self.n_classes_ == 2):
            y = np.column_stack([1 - y, y])
        if return_proba:
            # scikeras squeezes; only the column axis here, so that one row stays a row
            return y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
        if kind in ("binary", "multiclass"):
            idx = np.argmax(y, axis=-1)
            if self._one_hot:
                codes = np.zeros(y.shape, dtype=int)
                codes[np.arange(len(idx)), idx] = 1
            else:
                codes = idx.reshape(-1, 1)
            labels = self._final_encoder.inverse_transform(codes)
        elif kind == "multiclass-onehot":
            labels = np.zeros(y.shape, dtype=int)
            labels[np.arange(len(y)), np.argmax(y, axis=-1)] = 1
        elif kind == "multilabel-indicator":
            labels = np.around(y).astype(int, copy=False)
        else:
            raise NotImplementedError(
                "Class predictions are not defined for 'multiclass-multioutput' targets: "
                "subclass KerasClassifier and override `target_encoder`.")
        return labels.reshape(-1, *self._y_shape[1:])

    def get_metadata(self) -> dict:
        return {"classes_": self.classes_, "n_classes_": self.n_classes_,
                "n_outputs_": self.n_outputs_, "n_outputs_expected_": self.n_outputs_expected_}


class RegressorTargetEncoder(TransformerMixin, BaseEstimator):
    """y unchanged (its width checked), predictions reshaped as the y of fit.

    Attributes
    ----------
    n_outputs_, n_outputs_expected_
    """

    def fit(self, y) -> RegressorTargetEncoder:
        self._y_shape = y.shape
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self.n_outputs_expected_ = 1
        return self

    def transform(self, y):
        width = 1 if y.ndim == 1 else y.shape[1]
        if width != self.n_outputs_:
            raise ValueError(f"y has {width} outputs (shape {y.shape}), but this estimator "
                             f"was fitted with {self.n_outputs_}.")
        return y

    def inverse_transform(self, y):
        return y.reshape(-1, *self._y_shape[1:])

    def get_metadata(self) -> dict:
        return {"n_outputs_": self.n_outputs_, "n_outputs_expected_": self.n_outputs_expected_}
