"""MLPClassifier and MLPRegressor: scikit-learn's parameters, defaults and fitted attributes,
trained by fastnn's engine (see _network.py for how the numbers map).

Python runs once per epoch (shuffle, learning-rate schedule, stopping rules, early-stopping
score, loss_curve_); the engine runs the epoch's batches. The fitted state is plain NumPy:
coefs_ and intercepts_ are views of one flat buffer, the engine's parameter buffer while
training. Prediction builds a small engine per call, so it is safe from several threads.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from fastnn import optimizers as _optimizers
from fastnn._kernels._openmp_helpers import effective_n_threads
from fastnn.sklearn import _network, _params
from fastnn.sklearn._network import Network

_STOCHASTIC = ("sgd", "adam")
_FLOATS = (np.float64, np.float32)


class _BaseMLP(BaseEstimator):
    """The training loop shared by the classifier and the regressor."""

    # ---- fit ---------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight=None, incremental=False):
        _params.check(self.get_params(deep=False))
        hidden = _params.hidden_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if not first_pass and not hasattr(self, "_layer_units"):
            self._adopt_public_weights()
        dtype = X.dtype if first_pass else self._params.dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
        layer_units = [X.shape[1], *hidden, Y.shape[1]]
        if not first_pass and layer_units != self._layer_units:
            raise ValueError(
                f"The network was fitted with layer sizes {self._layer_units}; these data "
                f"and parameters need {layer_units}. Fit again with warm_start=False."
            )
        self.n_outputs_ = Y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, dtype)
        if self.solver in _STOCHASTIC:
            self._fit_stochastic(X, Y, sample_weight, incremental)
        else:
            self._fit_lbfgs(X, Y, sample_weight)
        if not np.isfinite(self._params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _initialize(self, Y, layer_units, dtype) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        self._layer_units = layer_units
        coefs, intercepts = _network.init_weights(layer_units, self.activation,
                                                  self._random_state, dtype)
        self._set_params(_network.packed(coefs, intercepts, layer_units, None))
        self._optimizer = None
        self._best_params = self._params.copy()
        if self.solver in _STOCHASTIC:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _adopt_public_weights(self) -> None:
        """The internal state from coefs_ and intercepts_ alone: scikit-learn lets them be
        set by hand (with n_layers_, out_activation_, t_, ...) before partial_fit."""
        self._layer_units = [self.coefs_[0].shape[0], *(c.shape[1] for c in self.coefs_)]
        self._set_params(_network.packed(self.coefs_, self.intercepts_, self._layer_units,
                                         None))
        self._optimizer = None
        self._best_params = self._params.copy()

    def _set_params(self, flat: np.ndarray) -> None:
        """Make ``flat`` the weights' buffer, with coefs_ and intercepts_ as its views."""
        self._params = flat
        self.coefs_, self.intercepts_ = _network.views(flat, self._layer_units)

    def _network(self, optimizer) -> Network:
        """A fresh engine holding the current weights (hyperparameters may have changed
        since the last call); the weights' buffer becomes the engine's."""
        current = _network.packed(self.coefs_, self.intercepts_, self._layer_units,
                                  self._params)
        net = Network(self._layer_units, self.activation, self.out_activation_, self.alpha,
                      optimizer, current.dtype)
        net.params[:] = current
        self._set_params(net.params)
        self._ops = _network.inference_ops(net)
        return net

    def _new_optimizer(self):
        c = _network.gradient_scale(self.out_activation_, self.n_outputs_)
        if self.solver == "sgd":
            # Learning rates are passed per batch; momentum and Nesterov as scikit-learn's.
            # learning_rate holds scikit-learn's current rate (invscaling and adaptive change
            # it), where scikit-learn's _optimizer.learning_rate has it.
            return _optimizers.SGD(learning_rate=self.learning_rate_init,
                                   momentum=self.momentum,
                                   nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
        return _optimizers.Adam(learning_rate=self.learning_rate_init, beta_1=self.beta_1,
                                beta_2=self.beta_2, epsilon=self.epsilon * c)

    def _fit_stochastic(self, X, Y, sample_weight, incremental) -> None:
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or self._optimizer is None:
            self._optimizer = self._new_optimizer()
        net = self._network(self._optimizer)
        early_stopping = self.early_stopping
        X_val = y_val = sw_val = None
        if early_stopping:
            stratify = Y if self._stratify() else None
            arrays = [X, Y] if sample_weight is None else [X, Y, sample_weight]
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X, X_val, Y, Y_val = split[:4]
            if sample_weight is not None:
                sample_weight, sw_val = split[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            y_val = self._decode(Y_val)
        xs, ys, ws = net.prepare(X, Y, sample_weight)
        n = xs.shape[0]
        batch_size = self._batch_size(n)
        n_threads = self._n_threads()
        sgd = self.solver == "sgd"
        order = np.arange(n, dtype=np.int64)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    # Each epoch permutes the previous epoch's order, as scikit-learn does,
                    # so that a seed gives scikit-learn's batches.
                    order = order[self._random_state.permutation(n)]
                lr = float(self._optimizer.learning_rate) if sgd else self.learning_rate_init
                loss, interrupt = net.train_epoch(xs, ys, ws, order, batch_size, lr,
                                                  n_threads)
                if interrupt is not None:
                    raise interrupt
                self.n_iter_ += 1
                self.loss_ = loss
                self.t_ += n
                self.loss_curve_.append(loss)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
                self._update_no_improvement_count(net, X_val, y_val, sw_val, n_threads)
                if sgd and self.learning_rate == "invscaling":
                    self._optimizer.learning_rate = (float(self.learning_rate_init)
                                                     / (self.t_ + 1) ** self.power_t)
                if self._no_improvement_count > self.n_iter_no_change and self._stop():
                    break
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                        "and the optimization hasn't converged yet.", ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if early_stopping:
            self._params[:] = self._best_params

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                          "going to be clipped")
        return int(np.clip(self.batch_size, 1, n))

    def _stop(self) -> bool:
        """After n_iter_no_change bad epochs: stop, or (adaptive SGD) divide the rate by 5."""
        what = "Validation score" if self.early_stopping else "Training loss"
        msg = (f"{what} did not improve more than tol={self.tol:f} for "
               f"{self.n_iter_no_change} consecutive epochs.")
        opt = self._optimizer
        if self.solver == "sgd" and self.learning_rate == "adaptive" \
                and opt.learning_rate > 1e-6:
            opt.learning_rate /= 5.0
            self._no_improvement_count = 0
            if self.verbose:
                print(f"{msg} Setting learning rate to {opt.learning_rate:f}")
            return False
        if self.verbose:
            print(f"{msg} Stopping.")
        return True

    def _update_no_improvement_count(self, net, X_val, y_val, sw_val, n_threads) -> None:
        if not self.early_stopping:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            return
        raw = net.predict(X_val, n_threads)
        score = self._score_raw(raw, y_val, sw_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_params = self._params.copy()

    def _fit_lbfgs(self, X, Y, sample_weight) -> None:
        net = self._network("sgd")
        xs, ys, ws = net.prepare(X, Y, sample_weight)
        _network.batch_weights(ws, np.arange(xs.shape[0]), xs.shape[0])   # Σw = 0 raises
        params, n_threads = net.params, self._n_threads()

        def objective(p):
            params[:] = p
            return net.loss_and_gradient(xs, ys, ws, n_threads)

        result = scipy.optimize.minimize(
            objective, params.astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol})
        params[:] = result.x
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun)
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) "
                f"(status={result.status}): {result.message}. Increase the number of "
                "iterations or scale the data.", ConvergenceWarning)
        if self.verbose:
            print(f"L-BFGS-B: {result.message}; {self.n_iter_} iterations, "
                  f"loss = {self.loss_:.8f}")

    def _n_threads(self) -> int:
        # n_threads=None follows fastnn.config, OMP_NUM_THREADS and threadpoolctl's limits
        # (estimators unpickled from before the parameter existed have none).
        return effective_n_threads(getattr(self, "n_threads", None))

    # ---- inference ---------------------------------------------------------------------

    def _forward(self, X) -> np.ndarray:
        """The output layer's values for X, validated; the weights' dtype."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=_FLOATS, reset=False)
        params = _network.packed(self.coefs_, self.intercepts_, self._layer_units,
                                 getattr(self, "_params", None))
        X = _dense(X, params.dtype)
        return _network.predict(self._ops[0], self._ops[1], params, X, self._n_threads())

    # ---- pickling ----------------------------------------------------------------------

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_params", None)   # coefs_ and intercepts_ hold the values
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_ops" in state:   # joblib may hand over read-only memory maps
            self._ops = tuple(np.array(table) for table in self._ops)
        if "coefs_" in state:
            self._set_params(_network.packed(self.coefs_, self.intercepts_,
                                             self._layer_units, None))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _dense(X, dtype) -> np.ndarray:
    """A C-contiguous ``dtype`` array from validated X (dense or CSR/CSC)."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    return np.ascontiguousarray(X, dtype=dtype)


def _check_solver(est) -> bool:
    if est.solver not in _STOCHASTIC:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                             f"{est.solver} is not stochastic.")
    return True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier`` on fastnn's engine.

    Same parameters, defaults, fitted attributes and methods as
    ``sklearn.neural_network.MLPClassifier`` (see its documentation); log-loss on a softmax
    output (multiclass) or on logistic outputs (binary and multilabel). float32 X trains and
    predicts in float32. One parameter more: ``n_threads`` (None: fastnn's default, which
    follows ``fastnn.config.set_num_threads``, ``OMP_NUM_THREADS`` and threadpoolctl's
    limits; an int: that many threads; negative: counted back from the CPUs available).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from fastnn.sklearn import MLPClassifier
    >>> X, y = make_classification(200, 5, random_state=0)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and y (labels of any type, or a multilabel indicator matrix).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPClassifier
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_check_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), keeping the weights and the optimizer's state.

        ``classes`` (all labels that will ever appear) is required on the first call.
        """
        if _first_partial_fit(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=_FLOATS, reset=reset)
        X = _dense(X, X.dtype)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        # Boolean, as scikit-learn's: stratified splits name the classes of this array.
        return X, np.asarray(self._label_binarizer.transform(y)).astype(bool)

    def _output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _stratify(self) -> bool:
        return self.n_outputs_ == 1

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    def _labels(self, raw: np.ndarray):
        return self._label_binarizer.inverse_transform(
            raw.ravel() if self.n_outputs_ == 1 else raw)

    def _score_raw(self, raw, y, sample_weight) -> float:
        if not np.isfinite(raw).all():
            return np.nan
        return accuracy_score(y, self._labels(raw), sample_weight=sample_weight)

    def predict(self, X):
        """Labels from ``classes_`` (an indicator matrix for multilabel y)."""
        return self._labels(self._forward(X))

    def predict_proba(self, X):
        """Probabilities: (n, n_classes) in the order of ``classes_``; for multilabel y,
        (n, n_labels) probabilities of each label being present."""
        raw = self._forward(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - raw, raw])
        return raw

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _first_partial_fit(clf, classes) -> bool:
    """True on the first call; checks ``classes`` against classes_ on later calls."""
    fitted = getattr(clf, "classes_", None)
    if fitted is None and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is None:
        return False
    if fitted is not None:
        if not np.array_equal(fitted, unique_labels(classes)):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to "
                             f"partial_fit, was: {fitted!r}")
        return False
    return True


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor`` on fastnn's engine.

    Same parameters, defaults, fitted attributes and methods as
    ``sklearn.neural_network.MLPRegressor``: squared error (identity output) or Poisson
    deviance (exponential output); one or several outputs. float32 X trains and predicts
    in float32. ``n_threads`` as for :class:`MLPClassifier`.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from fastnn.sklearn import MLPRegressor
    >>> X, y = make_regression(200, 5, noise=1.0, random_state=0)
    >>> reg = MLPRegressor((32,), solver="lbfgs", max_iter=500, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_threads=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.n_threads = n_threads

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X and y of shape (n_samples,) or (n_samples, n_targets).

        Returns
        -------
        self : MLPRegressor
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_check_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), keeping the weights and the optimizer's state."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=_FLOATS, reset=reset)
        X = _dense(X, X.dtype)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for the "
                             "Poisson loss.")
        return X, np.asarray(y).reshape(y.shape[0], -1)

    def _output_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _stratify(self) -> bool:
        return False

    def _decode(self, Y):
        return Y

    def _score_raw(self, raw, y, sample_weight) -> float:
        if not np.isfinite(raw).all():
            return np.nan
        return r2_score(y, raw, sample_weight=sample_weight)

    def predict(self, X):
        """Predictions of shape (n_samples,) or (n_samples, n_targets)."""
        raw = self._forward(X)
        return raw.ravel() if raw.shape[1] == 1 else raw

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
