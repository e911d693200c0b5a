"""scikit-learn's MLPClassifier (sklearn.neural_network) with the workloads' settings."""

from __future__ import annotations

import warnings

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, missing_module


def missing() -> str | None:
    return missing_module("sklearn")


def _classifier(**params):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(**params)


def tutorial_fit(sizes):
    """Hidden 16, 32 relu; scikit-learn gives two classes one logistic output (its choice)."""
    x, y = w.tutorial_data(sizes.tutorial_samples)

    def run():
        clf = _classifier(hidden_layer_sizes=(16, 32), batch_size=10, learning_rate_init=1e-4,
                          max_iter=sizes.tutorial_epochs, alpha=0.0, tol=0.0,
                          n_iter_no_change=sizes.tutorial_epochs + 1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: a fixed epoch count
            return clf.fit(x, y)

    curve = run().loss_curve_
    w.check_loss_falls(curve[0], curve[-1], "scikit-learn tutorial fit")
    return Case(run, x.nbytes + y.nbytes)


def mnist_epoch(sizes):
    from sklearn.neural_network import MLPClassifier

    return sklearn_epoch(MLPClassifier, sizes, "scikit-learn MLPClassifier")


def sklearn_epoch(estimator, sizes, what):
    """One epoch per fit (max_iter=1, warm_start), the settings of the MNIST-scale workload."""
    x, y = w.mnist_data(sizes.mnist_samples)
    clf = estimator(hidden_layer_sizes=(512, 256), batch_size=128, learning_rate_init=1e-3,
                    max_iter=1, warm_start=True, random_state=0)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: one epoch on purpose
            return clf.fit(x, y)

    run()
    run()
    w.check_loss_falls(clf.loss_curve_[0], clf.loss_curve_[-1], what)
    return Case(run, x.nbytes + y.nbytes)


def predict_10k(sizes):
    """The MNIST-scale model's weights put into a fitted MLPClassifier."""
    x, _, layers, weights = w.predict_setup(sizes.predict_rows, "mnist")
    clf = _classifier(hidden_layer_sizes=(512, 256), max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(*w.mnist_data(1000))  # sets up the fitted state; the weights come next
    clf.coefs_ = [kernel for kernel, _ in weights]
    clf.intercepts_ = [bias for _, bias in weights]
    w.check_close(clf.predict_proba(x), w.reference_forward(x, weights, layers),
                  "scikit-learn predict_proba")
    return Case(lambda: clf.predict_proba(x), x.nbytes)


CASES = {
    "tutorial_fit": tutorial_fit,
    "mnist_epoch": mnist_epoch,
    "sklearn_fit": mnist_epoch,
    "predict_10k": predict_10k,
}
