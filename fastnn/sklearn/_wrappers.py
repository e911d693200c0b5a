"""KerasClassifier and KerasRegressor: scikit-learn estimators around a fastnn model.

``model`` is a function that builds a compiled fastnn model, or a compiled model (cloned at
each fit, with freshly initialized weights). Parameters for the pieces are routed by prefix:
``model__units=64`` goes to the build function, ``fit__epochs=20`` to ``model.fit``,
``compile__optimizer="sgd"`` to ``model.compile`` and ``predict__batch_size`` to
``model.predict``. Routed parameters are ordinary estimator parameters: ``get_params``
returns them, ``set_params`` and GridSearchCV set them, and ``clone`` keeps every one (they
live in the private ``_routed`` dict, so the check on attributes set in __init__ holds).
"""

from __future__ import annotations

import inspect
import os
import tempfile

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from fastnn import _random
from fastnn.models import clone_model, load_model
from fastnn.models.sequential import Sequential

PREFIXES = ("model", "fit", "compile", "predict")
_FLOATS = (np.float64, np.float32)
# What a build function may ask for by naming it as an argument.
_META = ("X", "y", "meta", "n_features_in", "n_outputs", "n_classes", "classes")


class _KerasBase(BaseEstimator):
    def __init__(self, model=None, *, warm_start=False, random_state=None, **routed):
        self.model = model
        self.warm_start = warm_start
        self.random_state = random_state
        self._routed = routed

    # ---- parameters --------------------------------------------------------------------

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._routed)
        return params

    def set_params(self, **params):
        routed = {k: v for k, v in params.items() if _prefix(k) is not None}
        for key in routed:
            params.pop(key)
        super().set_params(**params)
        self._routed.update(routed)
        return self

    def _kwargs(self, prefix: str) -> dict:
        return {k[len(prefix) + 2:]: v for k, v in self._routed.items()
                if _prefix(k) == prefix}

    def _check_routed(self) -> None:
        bad = [k for k in self._routed if _prefix(k) is None]
        if bad:
            raise ValueError(f"Invalid parameter(s) {bad} for estimator {type(self).__name__}: "
                             f"routed parameters start with one of "
                             f"{', '.join(p + '__' for p in PREFIXES)}.")

    # ---- fit ---------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Build (unless warm_start and fitted), compile and train the model.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, self._kwargs("fit"), first=not (
            self.warm_start and hasattr(self, "model_")))

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch on (X, y), building the model on the first call only."""
        kwargs = {**self._kwargs("fit"), "epochs": 1}
        return self._fit(X, y, sample_weight, kwargs, first=not hasattr(self, "model_"))

    def _fit(self, X, y, sample_weight, fit_kwargs, first, classes=None):
        self._check_routed()
        X, y = validate_data(self, X, y, dtype=_FLOATS, multi_output=True, reset=first,
                             y_numeric=not isinstance(self, ClassifierMixin))
        if sample_weight is not None:
            from sklearn.utils.validation import _check_sample_weight

            sample_weight = _check_sample_weight(sample_weight, X)
        targets = self._encode_targets(y, first, classes)
        with _seeded(self.random_state, first):
            if first:
                self.model_ = self._build(X, targets)
                self.history_ = {}
            history = self.model_.fit(X, self._model_targets(targets), sample_weight=sample_weight,
                                      **{"verbose": 0, **fit_kwargs})
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(float(v) for v in values)
        return self

    def _build(self, X, y):
        if self.model is None:
            raise ValueError("`model` must be a function that builds a compiled fastnn model, "
                             "or a compiled fastnn model; got None.")
        if isinstance(self.model, Sequential):
            if self._kwargs("model"):
                raise ValueError("model__ parameters need `model` to be a build function.")
            model = _clone_compiled(self.model)
        elif callable(self.model):
            model = self.model(**self._build_arguments(X, y))
        else:
            raise TypeError(f"`model` must be a build function or a fastnn model; got "
                             f"{type(self.model).__name__}.")
        compile_kwargs = self._kwargs("compile")
        if compile_kwargs:
            model.compile(**compile_kwargs)
        if not getattr(model, "compiled", False):
            raise ValueError("The model is not compiled: compile it in the build function or "
                             "pass compile__loss=... (and compile__optimizer).")
        return model

    def _build_arguments(self, X, y) -> dict:
        meta = {"n_features_in_": X.shape[1], "n_outputs_": self._n_outputs(y),
                **self._meta()}
        available = {"X": X, "y": y, "meta": meta, "n_features_in": X.shape[1],
                     "n_outputs": meta["n_outputs_"], "n_classes": meta.get("n_classes_"),
                     "classes": meta.get("classes_")}
        signature = inspect.signature(self.model).parameters
        kwargs = {name: available[name] for name in _META if name in signature}
        return {**kwargs, **self._kwargs("model")}

    def _n_outputs(self, y) -> int:
        return 1 if y.ndim == 1 else y.shape[1]

    def _meta(self) -> dict:
        return {}

    # ---- inference ---------------------------------------------------------------------

    def _raw(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        return self.model_.predict(X, **{"verbose": 0, **self._kwargs("predict")})

    # ---- pickling: the model travels as a .keras file's bytes ------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "model_" in state:
            state["model_"] = _model_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": _model_from_bytes(state["model_"])}
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class KerasClassifier(ClassifierMixin, _KerasBase):
    """A fastnn model as a scikit-learn classifier.

    Parameters
    ----------
    model : callable or compiled fastnn model, default=None
        A function returning a compiled model; it may name any of ``X``, ``y``, ``meta``,
        ``n_features_in``, ``n_outputs``, ``n_classes``, ``classes`` as arguments, and
        receives the ``model__*`` parameters. A model is cloned at each fit.
    warm_start : bool, default=False
        Keep training the fitted model in ``fit`` instead of building a new one.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization and shuffling (fastnn's random state is restored
        afterwards). A RandomState instance gives each fit its own seed.
    **routed
        ``model__*``, ``fit__*`` (e.g. ``fit__epochs``), ``compile__*``, ``predict__*``.

    The output layer decides the encoding: one sigmoid unit for binary labels, one unit per
    class otherwise (integer labels for a ``sparse_*`` loss, one-hot otherwise), one unit per
    label for a multilabel indicator matrix.

    Attributes
    ----------
    model_ : Sequential
    history_ : dict of str to list of float
    classes_ : ndarray
    n_features_in_ : int
    """

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch on (X, y), building the model on the first call only; ``classes``
        (every label that will appear) on the first call, else the labels of this y."""
        kwargs = {**self._kwargs("fit"), "epochs": 1}
        return self._fit(X, y, sample_weight, kwargs, first=not hasattr(self, "model_"),
                         classes=classes)

    def _encode_targets(self, y, first, classes=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first:
            self.target_type_ = type_of_target(y if classes is None else np.unique(classes))
            if self.target_type_ not in ("binary", "multiclass", "multilabel-indicator"):
                raise ValueError(f"Unknown label type: {self.target_type_}")
            multilabel = self.target_type_.startswith("multilabel")
            self.classes_ = np.arange(y.shape[1]) if multilabel \
                else np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes; the data "
                                 f"have 1 class ({self.classes_[0]!r}).")
        if self.target_type_.startswith("multilabel"):
            return np.asarray(y, dtype=np.float64)
        codes = np.searchsorted(self.classes_, y)
        if np.any(codes >= len(self.classes_)) or np.any(self.classes_[
                np.minimum(codes, len(self.classes_) - 1)] != y):
            raise ValueError(f"y has labels not in classes_ {self.classes_}.")
        return codes

    def _meta(self) -> dict:
        return {"classes_": self.classes_, "n_classes_": len(self.classes_),
                "target_type_": self.target_type_}

    def _build(self, X, y):
        model = super()._build(X, y)
        width = model.output_shape[-1]
        if self.target_type_.startswith("multilabel"):
            self._encoding = "indicator"
        elif width == 1:
            self._encoding = "binary"
        else:
            loss = model.loss if isinstance(model.loss, str) else type(model.loss).__name__
            self._encoding = "sparse" if "sparse" in str(loss).lower() else "onehot"
        return model

    def _model_targets(self, codes):
        if self._encoding == "onehot":
            return np.eye(len(self.classes_))[codes]
        return codes

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        raw = self._raw(X)
        if self._encoding == "binary":
            return np.hstack([1 - raw, raw])
        return raw

    def predict(self, X):
        """Labels from ``classes_`` (an indicator matrix for multilabel y)."""
        proba = self.predict_proba(X)
        if self._encoding == "indicator":
            return (proba > 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]


class KerasRegressor(RegressorMixin, _KerasBase):
    """A fastnn model as a scikit-learn regressor (see :class:`KerasClassifier` for the
    parameters); y of shape (n,) or (n, n_targets).

    Attributes
    ----------
    model_ : Sequential
    history_ : dict of str to list of float
    n_features_in_ : int
    """

    def _encode_targets(self, y, first, classes=None):
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return y

    def _model_targets(self, y):
        return y

    def predict(self, X):
        """Predictions of shape (n_samples,) or (n_samples, n_targets)."""
        raw = self._raw(X)
        return raw.ravel() if raw.shape[1] == 1 else raw


def _prefix(key: str) -> str | None:
    head, sep, _ = key.partition("__")
    return head if sep and head in PREFIXES else None


class _seeded:
    """Run with fastnn's random state seeded from ``random_state`` (None: untouched), and
    put the previous state back afterwards."""

    def __init__(self, random_state, first: bool):
        self.seed = None
        if random_state is not None:
            rng = check_random_state(random_state)
            # A RandomState instance advances, so successive fits differ (not all seed 0).
            self.seed = int(rng.randint(np.iinfo(np.int32).max))

    def __enter__(self):
        if self.seed is not None:
            self.saved = _random.generator()
            _random.seed(self.seed)

    def __exit__(self, *exc):
        if self.seed is not None:
            _random._generator = self.saved


def _clone_compiled(model):
    """A fresh copy of a compiled model: same layers, new weights, same compile settings."""
    from fastnn import losses, optimizers

    copy = clone_model(model)
    if getattr(model, "compiled", False):
        optimizer = optimizers.deserialize(optimizers.serialize(model.optimizer))
        loss = model.loss if isinstance(model.loss, str) or model.loss is None \
            else losses.deserialize(losses.serialize(model.loss))
        copy.compile(optimizer=optimizer, loss=loss, metrics=list(model._compile_metrics))
    return copy


def _model_bytes(model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def _model_from_bytes(blob: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(blob)
        return load_model(path)
