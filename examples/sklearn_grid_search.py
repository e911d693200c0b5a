"""fastnn's MLPClassifier in a scikit-learn pipeline, tuned by grid search.

``fastnn.sklearn.MLPClassifier`` takes ``sklearn.neural_network.MLPClassifier``'s parameters,
so it drops into pipelines, cross-validation and searches unchanged.

Run: python examples/sklearn_grid_search.py   (needs scikit-learn)
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnn.sklearn import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)

# tol=1e-3: stop once ten epochs in a row improve the loss by less than that.
pipeline = make_pipeline(
    StandardScaler(),
    MLPClassifier(tol=1e-3, max_iter=200, random_state=0),
)
grid = GridSearchCV(
    pipeline,
    param_grid={
        "mlpclassifier__hidden_layer_sizes": [(32,), (64, 32)],
        "mlpclassifier__alpha": [1e-4, 1e-1],
    },
    cv=3,
)
grid.fit(X_train, y_train)

for params, score in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"]):
    print(f"{score:.4f}  {params}")
print("Best parameters:", grid.best_params_)
print(f"Cross-validated accuracy: {grid.best_score_:.4f}")
print(f"Test accuracy: {grid.score(X_test, y_test):.4f}")
