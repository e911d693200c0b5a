"""A scikeras user's script on fastnn: only the two imports marked "was:" changed.

A build function that reads the data's shape from ``meta``, the wrapper's own arguments
(loss, optimizer and its learning rate, epochs, batch size, callbacks, metrics), a build
argument by name, a pipeline and a grid search over routed parameters, then a regressor.

Run: python examples/scikeras_user_script.py   (needs scikit-learn)
"""

import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import fastnn as keras                                        # was: import keras
from fastnn.sklearn import KerasClassifier, KerasRegressor    # was: from scikeras.wrappers ...

X, y = make_classification(1000, 20, n_informative=10, n_classes=3, random_state=0)
X = X.astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)


def get_clf(hidden_layer_dim, meta):
    n_features_in_ = meta["n_features_in_"]
    n_classes_ = meta["n_classes_"]
    model = keras.models.Sequential()
    model.add(keras.layers.Input(shape=(n_features_in_,)))
    model.add(keras.layers.Dense(hidden_layer_dim, activation="relu"))
    model.add(keras.layers.Dropout(0.2))
    model.add(keras.layers.Dense(n_classes_, activation="softmax"))
    return model


clf = KerasClassifier(
    get_clf,
    loss="sparse_categorical_crossentropy",
    optimizer="adam",
    optimizer__learning_rate=0.01,
    metrics=["accuracy"],
    hidden_layer_dim=32,
    epochs=30,
    batch_size=32,
    callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=3)],
    verbose=0,
    random_state=0,
)
pipe = Pipeline([("scale", StandardScaler()), ("clf", clf)])
grid = GridSearchCV(
    pipe,
    {"clf__hidden_layer_dim": [16, 64], "clf__optimizer__learning_rate": [0.01, 0.001]},
    cv=3,
)
grid.fit(X_train, y_train)
for params, score in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_score"]):
    print(f"{score:.4f}  {params}")
print("Best parameters:", grid.best_params_)
best = grid.best_estimator_.named_steps["clf"]
print("History keys:", sorted(best.history_))
print("Epochs trained:", best.current_epoch)
print("Classes:", best.classes_, "probabilities shape:", best.predict_proba(X_test[:5]).shape)
print(f"Test accuracy: {grid.score(X_test, y_test):.4f}")

X_r, y_r = make_regression(500, 8, noise=5.0, random_state=0)
y_r = (y_r - y_r.mean()) / y_r.std()


def get_reg(meta, compile_kwargs):
    model = keras.models.Sequential()
    model.add(keras.layers.Input(shape=(meta["n_features_in_"],)))
    model.add(keras.layers.Dense(32, activation="relu"))
    model.add(keras.layers.Dense(meta["n_outputs_"]))
    model.compile(loss="mse", optimizer=compile_kwargs["optimizer"])
    return model


reg = KerasRegressor(get_reg, optimizer="adam", optimizer__learning_rate=0.01, epochs=40,
                     batch_size=32, verbose=0, random_state=0)
reg.fit(X_r[:400], y_r[:400])
print(f"Regressor R2: {reg.score(X_r[400:], y_r[400:]):.4f}")
