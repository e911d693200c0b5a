"""KerasClassifier and KerasRegressor: scikeras 0.13's wrappers around a fastnn model.

scikeras's arguments (``model``/``build_fn``, ``optimizer``, ``loss``, ``metrics``, ``epochs``,
``batch_size``, ``verbose``, ``callbacks``, ...) and its routing: ``model__units`` (or just
``units``) goes to the build function, ``fit__``/``predict__``/``compile__`` keys to the
model's methods, ``optimizer__learning_rate`` to the optimizer's constructor, and likewise
``loss__``, ``metrics__``, ``callbacks__``. Extra arguments live in the private ``_extra``
dict (so scikit-learn's check on attributes set in ``__init__`` holds) and read as attributes.
A build function that names ``meta``, ``compile_kwargs`` or ``params`` receives them; fastnn
also fills ``X``, ``y``, ``n_features_in``, ``n_outputs``, ``n_classes`` and ``classes``.

Where scikeras has a bug, fastnn does what its documentation says: a RandomState instance
gives each fit a new seed (scikeras's always draws 0), ``class_weight`` never scales the
caller's ``sample_weight`` array in place, and a failed call changes nothing.
"""

from __future__ import annotations

import inspect
import warnings
from collections import defaultdict

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_sample_weight, check_array, check_X_y

from fastnn import _random, config
from fastnn.callbacks import Callback
from fastnn.sklearn import _routing
from fastnn.sklearn._encoders import (
    ClassifierLabelEncoder,
    RegressorTargetEncoder,
    is_categorical_crossentropy,
)
from fastnn.sklearn._state import unchanged_on_error

_FLOATX = np.float32
PREFIXES = ("model", "fit", "compile", "predict", "optimizer", "loss", "metrics", "callbacks",
            "score")
_FIT_KWARGS = frozenset({"batch_size", "epochs", "verbose", "validation_split", "shuffle",
                         "class_weight", "sample_weight", "initial_epoch", "validation_steps",
                         "validation_batch_size", "validation_freq"})
_PREDICT_KWARGS = frozenset({"batch_size", "verbose", "steps"})
_COMPILE_KWARGS = frozenset({"optimizer", "loss", "metrics", "loss_weights", "weighted_metrics",
                             "run_eagerly"})
# Arguments fastnn fills when a build function names them (scikeras passes only meta & co).
_FILLED = ("X", "y", "n_features_in", "n_outputs", "n_classes", "classes")


class BaseWrapper(BaseEstimator):
    """scikeras's BaseWrapper: the parameters and the fit/predict cycle of both wrappers.

    Parameters
    ----------
    model : callable, compiled fastnn model or None
        A function returning a (compiled) model, or a model; None means the subclass
        implements ``_keras_build_fn``. A model is used as is: ``model_`` is that object.
    build_fn : the older name of ``model``.
    warm_start : bool, default=False
        ``fit`` keeps training the fitted model (its history restarts).
    random_state : int, RandomState or None
        Seeds weight initialization and shuffling for each fit.
    optimizer, loss, metrics, run_eagerly
        Compile arguments, used when the built model is not compiled and passed to a build
        function that asks for ``compile_kwargs``; names and classes take routed parameters.
    batch_size, validation_batch_size, verbose, callbacks, validation_split, shuffle, epochs
        ``fit`` arguments (``batch_size`` and ``verbose`` also ``predict``'s; -1 for a batch
        size means all rows).
    n_threads : int or None, default=None
        fastnn's threads for this estimator's fits and predicts (not a scikeras parameter);
        None follows fastnn.config, ``OMP_NUM_THREADS`` and threadpoolctl's limits.
    **kwargs
        Build-function arguments by name, and routed parameters.
    """

    # What each destination takes unrouted (scikeras's names, for subclasses that extend them).
    _fit_kwargs = _FIT_KWARGS
    _predict_kwargs = _PREDICT_KWARGS
    _compile_kwargs = _COMPILE_KWARGS
    _routing_prefixes = frozenset(PREFIXES)

    def __init__(self, model=None, *, build_fn=None, warm_start=False, random_state=None,
                 optimizer="rmsprop", loss=None, metrics=None, batch_size=None,
                 validation_batch_size=None, verbose=1, callbacks=None, validation_split=0.0,
                 shuffle=True, run_eagerly=False, epochs=1, n_threads=None, **kwargs):
        self.model = model
        self.build_fn = build_fn
        self.warm_start = warm_start
        self.random_state = random_state
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.batch_size = batch_size
        self.validation_batch_size = validation_batch_size
        self.verbose = verbose
        self.callbacks = callbacks
        self.validation_split = validation_split
        self.shuffle = shuffle
        self.run_eagerly = run_eagerly
        self.epochs = epochs
        self.n_threads = n_threads
        self._extra = dict(kwargs)

    def __getattr__(self, name):
        extra = self.__dict__.get("_extra")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def __name__(self):
        return type(self).__name__

    # ---- parameters --------------------------------------------------------------------

    def _param_names(self) -> list[str]:
        own = [k for k in self.__dict__ if not k.startswith("_") and not k.endswith("_")]
        return own + [k for k in self.__dict__.get("_extra", {}) if k not in own]

    def get_params(self, deep=True):
        params = {}
        for key in self._param_names():
            value = self.__dict__[key] if key in self.__dict__ else self._extra[key]
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{key}__{k}", v) for k, v in value.get_params().items())
            params[key] = value
        return params

    def set_params(self, **params):
        """Set parameters, routed ones included (``optimizer__learning_rate=0.1``). Every
        name is checked before any is set: an unknown one changes nothing."""
        names = set(self._param_names())
        bad = [k for k in params
               if k not in names and k.partition("__")[0] not in self._routing_prefixes]
        if bad:
            raise ValueError(self._invalid_message(bad, sorted(names)))
        for key, value in params.items():
            if key in self.__dict__:
                setattr(self, key, value)
            else:
                self._extra[key] = value
        return self

    def _invalid_message(self, bad, valid) -> str:
        prefixes = ", ".join(p + "__" for p in PREFIXES)
        return (f"Invalid parameter(s) {bad} for estimator {self.__name__}. Valid parameters "
                f"are {valid}; routed parameters start with one of {prefixes} (e.g. "
                f"optimizer__learning_rate=0.01), and build-function arguments are passed by "
                f"name at construction ({self.__name__}(model=build, units=64)).")

    def _check_params(self, build) -> None:
        """Unknown names fail here, at fit, before anything changes: a prefix that routes
        nowhere, or a build-function argument the function does not take."""
        bad = [k for k in self._extra if "__" in k and k.partition("__")[0] not in
               self._routing_prefixes]
        if not _routing.takes_kwargs(build):
            takes = set(_routing.argument_names(build))
            bad += [k for k in self._extra if "__" not in k and k not in takes]
            bad += [k for k, _ in _model_routed(self.get_params()) if k[7:] not in takes]
        if bad:
            valid = _routing.argument_names(build)
            raise ValueError(self._invalid_message(bad, sorted(self._param_names())) + (
                f" The build function takes {valid}." if valid else
                " The build function takes no arguments."))

    # ---- the model -----------------------------------------------------------------------

    def _build_function(self):
        model, build_fn = self.model, self.build_fn
        if model is None and build_fn is not None:
            warnings.warn("`build_fn` is the older name of `model`; pass `model=` (scikeras "
                          "plans to remove `build_fn`).", UserWarning, stacklevel=4)
            model = build_fn
        own = getattr(self, "_keras_build_fn", None)
        if model is None:
            if own is None:
                raise ValueError("`model` is None: pass a function that builds a compiled "
                                 "fastnn model (or a model), or implement `_keras_build_fn`.")
            return own
        if _is_model(model):
            return lambda: model
        if inspect.isfunction(model) or callable(model) and not inspect.isclass(model):
            if own is not None:
                raise ValueError("This class implements `_keras_build_fn`, so it cannot take "
                                 "the `model` parameter too.")
            return model
        raise TypeError(f"`model` must be a function that builds a fastnn model, a fastnn "
                        f"model or None; got {type(model).__name__}.")

    def _get_compile_kwargs(self) -> dict:
        from fastnn import losses, metrics, optimizers

        params = self.get_params()
        kwargs = _routing.route(params, "compile", pass_filter=self._compile_kwargs)
        kwargs["optimizer"] = _routing.build(
            _routing.names_to_classes(kwargs["optimizer"], lambda s: type(optimizers.get(s))),
            _routing.route(params, "optimizer", pass_filter=set(), strict=True))
        kwargs["loss"] = _routing.build(
            _routing.names_to_classes(kwargs["loss"], losses.get),
            _routing.route(params, "loss", pass_filter=set()))
        kwargs["metrics"] = _routing.build(
            _routing.names_to_classes(kwargs["metrics"], _metric_or_name(metrics)),
            _routing.route(params, "metrics", pass_filter=set()))
        if kwargs["metrics"] is not None and not isinstance(kwargs["metrics"], (dict, list)):
            kwargs["metrics"] = [kwargs["metrics"]]
        return kwargs

    def _build_keras_model(self):
        build = self._build_function()
        self._check_params(build)
        params = self.get_params()
        extra = set(self._extra)
        arguments = _routing.route(params, "model", pass_filter=extra, strict=True)
        kwargs_ok = _routing.takes_kwargs(build)
        meta = self._get_metadata()
        if _routing.accepts(build, "meta") or kwargs_ok:
            arguments["meta"] = meta
        if _routing.accepts(build, "compile_kwargs") or kwargs_ok:
            arguments["compile_kwargs"] = self._get_compile_kwargs()
        if _routing.accepts(build, "params") or kwargs_ok:
            arguments["params"] = params
        filled = {"X": self._X_for_build, "y": self._y_for_build,
                  "n_features_in": meta.get("n_features_in_"),
                  "n_outputs": meta.get("n_outputs_"), "n_classes": meta.get("n_classes_"),
                  "classes": meta.get("classes_")}
        for name in _FILLED:
            if name not in arguments and _routing.accepts(build, name):
                arguments[name] = filled[name]
        return build(**arguments)

    def _get_metadata(self) -> dict:
        """What fit has learnt about the data so far (public attributes ending in "_"), as
        the build function's ``meta``."""
        return {k: v for k, v in self.__dict__.items() if k.endswith("_") and not
                k.endswith("__") and not k.startswith("_") and k not in ("model_", "history_")}

    def _ensure_compiled_model(self) -> None:
        model = self.model_
        if not getattr(model, "compiled", False):
            model.compile(**self._get_compile_kwargs())
        if not getattr(model, "loss", None):
            raise ValueError("You must provide a loss or a compiled model: compile the model "
                             "in the build function, or pass loss=... to the wrapper.")
        if not getattr(model, "optimizer", None):
            raise ValueError("You must provide an optimizer or a compiled model.")

    def _check_model_compatibility(self) -> None:
        expected = getattr(self, "n_outputs_expected_", None)
        if expected and expected != len(self.model_.outputs):
            raise ValueError(f"The target encoder expects a model with {expected} output(s), "
                             f"but the model has {len(self.model_.outputs)}.")
        default = inspect.signature(type(self).__init__).parameters.get("loss")
        given, got = self.loss, self.model_.loss
        if default is None or not all(_is_simple_loss(v) for v in (given, got)):
            return
        default_name = None if default.default is None else _routing.loss_name(default.default)
        name = _routing.loss_name(given)
        if name != default_name and _routing.loss_name(got) != name:
            raise ValueError(f"loss={given!r} but model compiled with {got!r}. Data may not "
                             f"match loss function!")

    def _initialize_callbacks(self) -> None:
        params = self.get_params()

        def made(destination):
            value = params.get(destination)
            if value is None:
                return []
            cbs = _routing.build(value, _routing.route(params, destination, pass_filter=set()))
            if isinstance(cbs, dict):
                cbs = list(cbs.values())
            elif isinstance(cbs, Callback):
                cbs = [cbs]
            flat = [c for item in (cbs if isinstance(cbs, (list, tuple)) else [None])
                    for c in (item if isinstance(item, list) else [item])]
            if not all(isinstance(c, Callback) for c in flat):
                raise TypeError("`callbacks` must be a callback, a list of callbacks (or of "
                                "lists of them) or a dict of them; each a "
                                "fastnn.callbacks.Callback instance or subclass.")
            return flat

        shared = made("callbacks")
        self._fit_callbacks = shared + made("fit__callbacks")
        self._predict_callbacks = shared + made("predict__callbacks")

    # ---- data --------------------------------------------------------------------------

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        def numeric_dtype(a, force):
            kind = np.asarray(a).dtype.kind if not sparse.issparse(a) else a.dtype.kind
            return _FLOATX if force and kind in "OUS" else None

        if X is not None and y is not None:
            X, y = check_X_y(X, y, accept_sparse=True, allow_nd=True, multi_output=True,
                             dtype=None)
        if y is not None:
            y = check_array(y, ensure_2d=False, dtype=numeric_dtype(y, y_numeric))
            if reset:
                self.target_type_ = self._type_of_target(y)
                self.y_dtype_, self.y_ndim_ = y.dtype, y.ndim
            else:
                if not np.can_cast(y.dtype, self.y_dtype_):
                    raise ValueError(f"Got y with dtype {y.dtype}, but this {self.__name__} "
                                     f"expected {self.y_dtype_} and casting from {y.dtype} to "
                                     f"{self.y_dtype_} is not safe!")
                if y.ndim != self.y_ndim_:
                    raise ValueError(f"y has {y.ndim} dimensions, but this {self.__name__} is "
                                     f"expecting {self.y_ndim_} dimensions in y.")
        if X is not None:
            X = check_array(X, allow_nd=True, accept_sparse=True,
                            dtype=numeric_dtype(X, True))
            if sparse.issparse(X):
                X = X.toarray()       # the engine trains on dense rows
            if reset:
                self.X_dtype_, self.X_shape_ = X.dtype, X.shape
                self.n_features_in_ = X.shape[1]
            else:
                if not np.can_cast(X.dtype, self.X_dtype_):
                    raise ValueError(f"Got X with dtype {X.dtype}, but this {self.__name__} "
                                     f"expected {self.X_dtype_} and casting from {X.dtype} to "
                                     f"{self.X_dtype_} is not safe!")
                if X.ndim != len(self.X_shape_):
                    raise ValueError(f"X has {X.ndim} dimensions, but this {self.__name__} is "
                                     f"expecting {len(self.X_shape_)} dimensions in X.")
                if X.ndim == 2 and X.shape[1] != self.X_shape_[1]:
                    raise ValueError(f"X has {X.shape[1]} features, but {self.__name__} is "
                                     f"expecting {self.X_shape_[1]} features as input.")
                if X.shape[1:] != self.X_shape_[1:]:
                    raise ValueError(f"X has shape {X.shape[1:]}, but this {self.__name__} is "
                                     f"expecting X of shape {self.X_shape_[1:]}")
        return X, y

    def _type_of_target(self, y) -> str:
        return type_of_target(y)

    @property
    def target_encoder(self):
        """The transformer of y (fitted copy: ``target_encoder_``); override to change it."""
        return FunctionTransformer()

    @property
    def feature_encoder(self):
        """The transformer of X (fitted copy: ``feature_encoder_``); override to change it."""
        return FunctionTransformer()

    @staticmethod
    def _validate_sample_weight(X, y, sample_weight):
        sample_weight = _check_sample_weight(sample_weight, X, dtype=_FLOATX)
        if np.all(sample_weight == 0):
            raise ValueError("No training samples had any weight; only zeros were passed in "
                             "sample_weight, so there is nothing to train on.")
        keep = sample_weight != 0   # dropped, as scikit-learn's estimators ignore them
        return X[keep], y[keep], sample_weight[keep]

    # ---- fit ---------------------------------------------------------------------------

    @property
    def current_epoch(self) -> int:
        """Epochs trained so far (the length of ``history_["loss"]``)."""
        return len(self.history_["loss"]) if hasattr(self, "history_") else 0

    @property
    def initialized_(self) -> bool:
        """Whether a model is there to predict with (after fit, partial_fit or initialize)."""
        return "model_" in self.__dict__

    def _initialize(self, X, y):
        if y is None:
            raise ValueError(f"{self.__name__} requires y to be passed, but the target y is "
                             "None (the target encoder sizes the model from it).")
        X, y = self._validate_data(X, y, reset=True)
        self.target_encoder_ = self.target_encoder.fit(y)
        self.__dict__.update(getattr(self.target_encoder_, "get_metadata", dict)())
        self.feature_encoder_ = self.feature_encoder.fit(X)
        self.__dict__.update(getattr(self.feature_encoder_, "get_metadata", dict)())
        self._X_for_build, self._y_for_build = X, y
        try:
            self.model_ = self._build_keras_model()
        finally:
            del self._X_for_build, self._y_for_build
        self._adapt_target_encoder(y)
        self._initialize_callbacks()
        return X, y

    def _adapt_target_encoder(self, y) -> None:
        pass

    def initialize(self, X, y=None):
        """Build the model without training it (e.g. to predict with a trained model)."""
        with unchanged_on_error(self), _seeded(self.random_state):
            self._initialize(X, y)
        return self

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Build the model (unless warm_start and initialized) and train it for ``epochs``
        epochs; ``kwargs`` go to the model's ``fit`` and take precedence.

        Returns
        -------
        self
        """
        kwargs["epochs"] = kwargs.get("epochs", self.__dict__.get("fit__epochs", self._extra.get(
            "fit__epochs", self.epochs)))
        kwargs["initial_epoch"] = kwargs.get("initial_epoch", 0)
        with unchanged_on_error(self):
            self._fit(X, y, sample_weight, warm_start=self.warm_start, **kwargs)
        return self

    def partial_fit(self, X, y, sample_weight=None, **kwargs):
        """One epoch from the current one, building the model on the first call only."""
        for name in ("epochs", "initial_epoch"):
            if name in kwargs:
                raise TypeError(f"Invalid argument `{name}` to `partial_fit`: `partial_fit` "
                                "always trains for 1 epoch, from the current epoch.")
        with unchanged_on_error(self):
            self._fit(X, y, sample_weight, warm_start=True, epochs=1,
                      initial_epoch=self.current_epoch, **kwargs)
        return self

    def _fit(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        with _seeded(self.random_state):
            if (self.warm_start or warm_start) and self.initialized_:
                X, y = self._validate_data(X, y)
            else:
                X, y = self._initialize(X, y)
            self._ensure_compiled_model()
            if sample_weight is not None:
                X, y, sample_weight = self._validate_sample_weight(X, y, sample_weight)
            y = self.target_encoder_.transform(y)
            X = self.feature_encoder_.transform(X)
            self._check_model_compatibility()
            self._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        args = _routing.route(self.get_params(), "fit", pass_filter=self._fit_kwargs)
        args.update(sample_weight=sample_weight, epochs=initial_epoch + epochs,
                    initial_epoch=initial_epoch, **kwargs)
        for name in ("batch_size", "validation_batch_size"):
            if args.get(name) == -1:
                args[name] = X.shape[0]
        args = {k: v for k, v in args.items() if not k.startswith("callbacks")}
        args["callbacks"] = self._fit_callbacks
        with config.num_threads(self.n_threads):
            history = self.model_.fit(X, y, **args)
        if not warm_start or not hasattr(self, "history_") or initial_epoch == 0:
            self.history_ = defaultdict(list)
        for key, values in history.history.items():
            if key != "loss" and not key.startswith("val_"):
                key = _routing.metric_name(key)
            self.history_[key] += [float(v) for v in values]

    # ---- inference ---------------------------------------------------------------------

    def _predict_raw(self, X, **kwargs):
        if not self.initialized_:
            raise NotFittedError(f"This {self.__name__} instance is not fitted yet: call `fit` "
                                 "(or `initialize`) before `predict`.")
        X, _ = self._validate_data(X)
        X = self.feature_encoder_.transform(X)
        args = _routing.route(self.get_params(), "predict", pass_filter=self._predict_kwargs,
                              strict=True)
        args = {k: v for k, v in args.items() if not k.startswith("callbacks")}
        args["callbacks"] = self._predict_callbacks
        args.update(kwargs)
        if args.get("batch_size") == -1:
            args["batch_size"] = X.shape[0]
        with config.num_threads(self.n_threads):
            return self.model_.predict(X, **args)

    def predict(self, X, **kwargs):
        """Predictions in the form of the y of fit; ``kwargs`` go to the model's predict."""
        raw = self._predict_raw(X, **kwargs)
        return self.target_encoder_.inverse_transform(raw)

    @staticmethod
    def scorer(y_true, y_pred, **kwargs) -> float:
        raise NotImplementedError("Scoring is not implemented on BaseWrapper.")

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (classifier) or R² (regressor) of ``predict(X)`` against y; ``score__``
        parameters go to the scorer."""
        _, y = self._validate_data(X=None, y=y)
        if sample_weight is not None:
            X, y, sample_weight = self._validate_sample_weight(X, y, sample_weight)
        y_pred = self.predict(X)
        return self.scorer(y, y_pred, sample_weight=sample_weight,
                           **_routing.route(self.get_params(), "score", pass_filter=set()))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True     # densified: the engine trains on dense rows
        return tags


class KerasClassifier(ClassifierMixin, BaseWrapper):
    """A fastnn model as a scikit-learn classifier, with scikeras 0.13's parameters (see
    :class:`BaseWrapper`) plus ``class_weight`` (a dict or "balanced", folded into the
    sample weights).

    y is encoded by ``target_encoder`` (:class:`ClassifierLabelEncoder`): ordinal codes, or
    one-hot when ``loss`` is a categorical cross-entropy (or the built model is compiled with
    one); a multilabel indicator or one-hot matrix passes through.

    Attributes
    ----------
    model_, history_ (defaultdict of lists), classes_, n_classes_, target_type_,
    target_encoder_, feature_encoder_, X_dtype_, X_shape_, y_dtype_, y_ndim_,
    n_features_in_, n_outputs_, n_outputs_expected_, current_epoch, initialized_
    """

    def __init__(self, model=None, *, build_fn=None, warm_start=False, random_state=None,
                 optimizer="rmsprop", loss=None, metrics=None, batch_size=None,
                 validation_batch_size=None, verbose=1, callbacks=None, validation_split=0.0,
                 shuffle=True, run_eagerly=False, epochs=1, n_threads=None, class_weight=None,
                 **kwargs):
        super().__init__(model=model, build_fn=build_fn, warm_start=warm_start,
                         random_state=random_state, optimizer=optimizer, loss=loss,
                         metrics=metrics, batch_size=batch_size,
                         validation_batch_size=validation_batch_size, verbose=verbose,
                         callbacks=callbacks, validation_split=validation_split,
                         shuffle=shuffle, run_eagerly=run_eagerly, epochs=epochs,
                         n_threads=n_threads, **kwargs)
        self.class_weight = class_weight

    _fit_kwargs = _FIT_KWARGS - {"class_weight"}   # folded into sample_weight instead

    def _type_of_target(self, y) -> str:
        kind = type_of_target(y)
        if kind == "binary" and self.__dict__.get("classes_") is not None:
            kind = type_of_target(self.classes_)
        return kind

    @staticmethod
    def scorer(y_true, y_pred, **kwargs) -> float:
        return accuracy_score(y_true, y_pred, **kwargs)

    @property
    def target_encoder(self):
        classes = self.__dict__.get("classes_")
        return ClassifierLabelEncoder(loss=self.loss,
                                      categories="auto" if classes is None else [classes])

    def _adapt_target_encoder(self, y) -> None:
        # A build function that compiles with categorical cross-entropy while the wrapper's
        # loss is unset would get integer codes under scikeras (and fail): give it one-hot.
        enc = self.target_encoder_
        if type(enc) is ClassifierLabelEncoder and self.loss is None \
                and getattr(enc, "_target_type", None) == "multiclass" \
                and is_categorical_crossentropy(getattr(self.model_, "loss", None)):
            self.target_encoder_ = ClassifierLabelEncoder(loss=self.model_.loss,
                                                          categories=enc.categories).fit(y)

    def _weights(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(class_weight=self.class_weight, y=y)
        return weights if sample_weight is None else np.asarray(sample_weight) * weights

    def initialize(self, X, y):
        """Build the model without training it."""
        with unchanged_on_error(self):
            self.classes_ = None
            return super().initialize(X, y)

    def fit(self, X, y, sample_weight=None, **kwargs):
        with unchanged_on_error(self):
            self.classes_ = None
            return super().fit(X, y, sample_weight=self._weights(y, sample_weight), **kwargs)

    def partial_fit(self, X, y, classes=None, sample_weight=None, **kwargs):
        """One epoch; ``classes`` (every label of the stream) is needed on the first call
        only, when that batch does not show them all."""
        with unchanged_on_error(self):
            self.classes_ = classes if classes is not None else self.__dict__.get("classes_")
            return super().partial_fit(X, y, sample_weight=self._weights(y, sample_weight),
                                       **kwargs)

    def predict_proba(self, X, **kwargs):
        """Class probabilities, columns in the order of ``classes_`` (two for binary)."""
        raw = self._predict_raw(X, **kwargs)
        return self.target_encoder_.inverse_transform(raw, return_proba=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        tags.classifier_tags.multi_label = True
        return tags


class KerasRegressor(RegressorMixin, BaseWrapper):
    """A fastnn model as a scikit-learn regressor, with scikeras 0.13's parameters (see
    :class:`BaseWrapper`); y of shape (n,) or (n, n_targets), scored with R².

    Attributes
    ----------
    model_, history_ (defaultdict of lists), target_type_, target_encoder_,
    feature_encoder_, X_dtype_, X_shape_, y_dtype_, y_ndim_, n_features_in_, n_outputs_,
    n_outputs_expected_, current_epoch, initialized_
    """

    @staticmethod
    def scorer(y_true, y_pred, **kwargs) -> float:
        return r2_score(y_true, y_pred, **kwargs)

    def _validate_data(self, X=None, y=None, reset=False, y_numeric=False):
        return super()._validate_data(X=X, y=y, reset=reset, y_numeric=True)

    @property
    def target_encoder(self):
        return RegressorTargetEncoder()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags


def _is_model(obj) -> bool:
    from fastnn.models import Model

    return isinstance(obj, Model)


def _is_simple_loss(loss) -> bool:
    from fastnn.losses import Loss

    return isinstance(loss, (str, Loss, type))


def _metric_or_name(metrics):
    def get(name):
        # Keras picks these from the loss and output shape at compile time.
        if name in ("acc", "accuracy", "ce", "crossentropy"):
            return name
        return metrics.get(name)
    return get


def _model_routed(params):
    return [(k, v) for k, v in params.items()
            if k.startswith("model__") and "__" not in k[7:]]


class _seeded:
    """Run with fastnn's random state seeded from ``random_state`` (None: untouched) in this
    thread only, so that fits in several threads at once do not share one state. A
    RandomState instance advances, so successive fits differ; an int gives every fit the
    same seed."""

    def __init__(self, random_state):
        self.seed = None
        if random_state is not None:
            rng = check_random_state(random_state)
            self.seed = int(rng.randint(np.iinfo(np.int32).max))
        self._block = None

    def __enter__(self):
        if self.seed is not None:
            self._block = _random.seeded_in_this_thread(self.seed)
            self._block.__enter__()

    def __exit__(self, *exc):
        if self._block is not None:
            self._block.__exit__(*exc)
            self._block = None
