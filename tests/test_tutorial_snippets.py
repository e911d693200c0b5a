"""The tutorial this project started from, run against fastnn with only its imports changed.

The tutorial is "Deep Learning Fundamentals" (shared/seed/000_cf93f949cc7d93e8.txt).
tests/data/tutorial_snippets.md holds a verbatim copy of its fenced code blocks; when the seed
is present, ``test_the_copy_matches_the_seed`` checks the copy has not drifted. Every Python
block is either code, run here in order in one namespace as a notebook would, or prose and
console output that the tutorial happened to fence as Python (they do not compile). The only
change to the code is the rewrite of ``tensorflow.keras``/``keras`` imports to ``fastnn``
(:func:`to_fastnn`). What the tutorial assumes exists without showing it (its training data,
one import) is filled in by the fixture in the "Assumed by the tutorial" section, nowhere else.

A classic Keras MLP script (digits, Dropout, RMSprop, to_categorical, validation_split) runs
the same way with ``import fastnn as keras``.
"""

import contextlib
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastnn

HERE = Path(__file__).resolve().parent
COPY = HERE / "data" / "tutorial_snippets.md"
SEED = HERE.parents[1] / "shared" / "seed" / "000_cf93f949cc7d93e8.txt"

# The seed lines where the Python blocks that are code start; the others are prose.
CODE_BLOCK_LINES = [78, 166, 315, 338, 470, 526, 539]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every ``` fenced block, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def copied_blocks() -> list[tuple[int, str, str]]:
    """(seed line, language, body) of the blocks in the copy."""
    text = COPY.read_text()
    lines = [int(n) for n in re.findall(r"^<!-- seed line (\d+) -->$", text, flags=re.MULTILINE)]
    return [(line, *block) for line, block in zip(lines, fenced_blocks(text))]


_IMPORT_REWRITES = [
    (r"^(\s*)from tensorflow import keras\b", r"\1import fastnn as keras"),
    (r"^(\s*)import tensorflow\.keras as (\w+)", r"\1import fastnn as \2"),
    (r"^(\s*)from (?:tensorflow\.)?keras(\.[\w.]+)? import ", r"\1from fastnn\2 import "),
    (r"^(\s*)import keras\b(?! as)", r"\1import fastnn as keras"),
    (r"^(\s*)import keras as ", r"\1import fastnn as "),
]


def to_fastnn(source: str) -> str:
    """``source`` with its Keras imports pointed at fastnn, and nothing else changed."""
    for pattern, replacement in _IMPORT_REWRITES:
        source = re.sub(pattern, replacement, source, flags=re.MULTILINE)
    leftover = re.findall(r"^\s*(?:from|import) (?:tensorflow|keras)\b.*$", source, flags=re.MULTILINE)
    assert not leftover, f"imports not rewritten: {leftover}"
    return source


def split_code(body: str) -> tuple[str, str] | None:
    """(code, printed output) of a block, or None for prose.

    A block is code if it compiles. The tutorial also shows a loop followed, after a blank
    line, by what it printed; then the first paragraph is the code and the rest its output.
    """
    candidates = [(body, "")]
    if "\n\n" in body:
        candidates.append(tuple(body.split("\n\n", 1)))
    for code, output in candidates:
        try:
            compile(code, "<tutorial>", "exec")
        except SyntaxError:
            continue
        return code, output.strip()
    return None


def python_code_blocks() -> list[tuple[int, str, str]]:
    """(seed line, code, printed output) of the Python blocks that are code."""
    out = []
    for line, language, body in copied_blocks():
        if language == "python" and (parts := split_code(body)) is not None:
            out.append((line, *parts))
    return out


# ---- the copy and the classification ----------------------------------------------------

@pytest.mark.skipif(not SEED.exists(), reason="the seed tutorial is not beside the repository")
def test_the_copy_matches_the_seed():
    seed_text = SEED.read_text()
    assert [block[1:] for block in copied_blocks()] == fenced_blocks(seed_text)
    seed_lines = seed_text.splitlines()
    for line, language, _ in copied_blocks():
        assert seed_lines[line - 1] == f"```{language}"
    loss_heading = next(n for n, text in enumerate(seed_lines, 1)
                        if text.startswith("Some of the loss functions"))
    assert f"<!-- seed line {loss_heading} -->" in COPY.read_text()
    assert tutorial_loss_names() == [text[2:] for text in seed_lines[loss_heading + 1:]
                                     if text.startswith("- ")][:len(tutorial_loss_names())]


def test_every_python_block_is_code_or_prose():
    python = [(line, body) for line, language, body in copied_blocks() if language == "python"]
    assert len(python) == 17
    code_lines = [line for line, _, _ in python_code_blocks()]
    assert code_lines == CODE_BLOCK_LINES
    # The prose blocks really are prose: not one of them compiles, even in part.
    for line, body in python:
        if line not in CODE_BLOCK_LINES:
            assert split_code(body) is None, line


def test_the_rewrite_changes_only_imports():
    script = ("import keras\nfrom keras import layers\nfrom tensorflow import keras\n"
              "import tensorflow.keras as K\nfrom tensorflow.keras.layers import Dense\n"
              "import keras as k2\nx = 'from keras import y'\n")
    assert to_fastnn(script) == (
        "import fastnn as keras\nfrom fastnn import layers\nimport fastnn as keras\n"
        "import fastnn as K\nfrom fastnn.layers import Dense\nimport fastnn as k2\n"
        "x = 'from keras import y'\n")


# ---- assumed by the tutorial ------------------------------------------------------------
# The tutorial trains on "scaled_train_samples"/"train_labels" and predicts on
# "scaled_test_samples" without showing them. They are the drug-trial data its examples are
# known for: one feature, a patient's age (13 to 100); label 1 if the patient had side
# effects. About 95% of patients aged 65 or more had them and 95% of younger ones did not;
# 2,100 training samples and 420 test samples, ages min-max scaled to [0, 1]. Its training
# snippet also uses Adam without importing it.

ASSUMED_IMPORTS = "from tensorflow.keras.optimizers import Adam\n"


def _drug_trial(rng, n_atypical, n_typical):
    young = rng.integers(13, 65, n_atypical + n_typical)
    old = rng.integers(65, 101, n_atypical + n_typical)
    samples = np.concatenate([young, old])
    labels = np.concatenate([np.ones(n_atypical), np.zeros(n_typical),
                             np.zeros(n_atypical), np.ones(n_typical)]).astype(np.int64)
    order = rng.permutation(samples.size)
    return samples[order], labels[order]


@pytest.fixture(scope="module")
def tutorial_namespace():
    rng = np.random.default_rng(2020)
    train_samples, train_labels = _drug_trial(rng, 50, 1000)
    test_samples, test_labels = _drug_trial(rng, 10, 200)
    low, high = train_samples.min(), train_samples.max()
    namespace = {
        "train_samples": train_samples, "train_labels": train_labels,
        "test_samples": test_samples, "test_labels": test_labels,
        "scaled_train_samples": ((train_samples - low) / (high - low)).reshape(-1, 1),
        "scaled_test_samples": ((test_samples - low) / (high - low)).reshape(-1, 1),
    }
    exec(to_fastnn(ASSUMED_IMPORTS), namespace)  # noqa: S102
    fastnn.utils.set_random_seed(2020)
    return namespace


# ---- running the tutorial ---------------------------------------------------------------

@pytest.fixture(scope="module")
def tutorial_run(tutorial_namespace):
    """Run every code block in order; per block: (error, namespace after it, stdout, the
    warnings it raised, the output the tutorial shows)."""
    namespace, results = tutorial_namespace, {}
    for line, code, shown in python_code_blocks():
        stdout, error = io.StringIO(), None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with contextlib.redirect_stdout(stdout):
                    exec(compile(to_fastnn(code), f"<tutorial line {line}>", "exec"),  # noqa: S102
                         namespace)
            except Exception as err:  # noqa: BLE001 - reported by the block's own test
                error = err
        messages = [f"{w.category.__name__}: {w.message}" for w in caught]
        results[line] = (error, dict(namespace), stdout.getvalue(), messages, shown)
    return results


def _dense_layout(model):
    return [(layer.units, layer.get_config()["activation"]) for layer in model.layers]


def _check_first_model(ns, printed, shown):
    model = ns["model"]
    assert isinstance(model, fastnn.Sequential) and ns["Dense"] is fastnn.layers.Dense
    assert model.input_shape == (None, 2)
    assert _dense_layout(model) == [(3, "relu"), (2, "softmax")]
    assert model.count_params() == 2 * 3 + 3 + 3 * 2 + 2


def _check_second_model(ns, printed, shown):
    model = ns["model"]
    assert model.input_shape == (None, 8)
    assert _dense_layout(model) == [(6, "relu"), (6, "relu"), (4, "softmax")]
    assert model.count_params() == (8 * 6 + 6) + (6 * 6 + 6) + (6 * 4 + 4)


def _check_training_model(ns, printed, shown):
    model = ns["model"]
    assert model.input_shape == (None, 1)
    assert _dense_layout(model) == [(16, "relu"), (32, "relu"), (2, "sigmoid")]
    assert isinstance(model.optimizer, fastnn.optimizers.Adam)
    assert model.optimizer.learning_rate == pytest.approx(1e-4)


def _check_fit(ns, printed, shown):
    history = ns["model"].history.history
    # "the loss is going down and the accuracy is going up as the epochs progress"; the
    # tutorial's own run ends at loss 0.2824 and accuracy 0.9286 (the data allow ~0.95).
    assert len(history["loss"]) == 20
    assert history["loss"][-1] < history["loss"][0] and history["loss"][-1] < 0.4
    assert history["accuracy"][-1] > history["accuracy"][0]
    assert history["accuracy"][-1] >= 0.90
    # verbose=2: "Epoch i/20", then one line per epoch in Keras 3's format.
    assert re.findall(r"^Epoch (\d+)/20$", printed, flags=re.MULTILINE) == [str(i) for i in
                                                                     range(1, 21)]
    epoch_lines = re.findall(r"^210/210 - \d+s - \d+[mu]?s/step - accuracy: (\d\.\d{4}) - "
                             r"loss: (\d\.\d{4})$", printed, flags=re.MULTILINE)
    assert [(float(a), float(b)) for a, b in epoch_lines] == [
        (round(a, 4), round(b, 4)) for a, b in zip(history["accuracy"], history["loss"])]


def _check_recompile(ns, printed, shown):
    assert ns["model"].optimizer.learning_rate == pytest.approx(1e-4)
    assert ns["model"].optimizer.iterations == 0       # a new optimizer


def _check_predict(ns, printed, shown):
    predictions = ns["predictions"]
    assert predictions.shape == (420, 2) and predictions.dtype == np.float32
    assert np.all((predictions >= 0) & (predictions <= 1))
    assert printed == ""                                 # verbose=0
    accuracy = np.mean(predictions.argmax(axis=1) == ns["test_labels"])
    assert accuracy >= 0.88


def _check_print_loop(ns, printed, shown):
    rows = printed.strip().splitlines()
    assert len(rows) == 420
    # Printed as the tutorial shows them: one row of two numbers per sample.
    assert all(re.fullmatch(r"\[\s*[\d.e+-]+\s+[\d.e+-]+\s*\]", row) for row in rows)
    assert shown.splitlines()[0].startswith("[ 0.74")


CHECKS = {78: _check_first_model, 166: _check_second_model, 315: _check_training_model,
          338: _check_fit, 470: _check_recompile, 526: _check_predict, 539: _check_print_loop}


# Keras 3 warns about the tutorial's `input_shape=` once per model, and about nothing else.
INPUT_SHAPE_WARNING = (
    "UserWarning: Do not pass an `input_shape`/`input_dim` argument to a layer. When using "
    "Sequential models, prefer using an `Input(shape)` object as the first layer in the model "
    "instead."
)


@pytest.mark.parametrize("line", CODE_BLOCK_LINES)
def test_tutorial_snippet_runs(tutorial_run, line):
    error, namespace, printed, messages, shown = tutorial_run[line]
    if error is not None:
        raise error
    CHECKS[line](namespace, printed, shown)
    assert messages == ([INPUT_SHAPE_WARNING] if line in (78, 166, 315) else [])


# ---- the tutorial's other claims --------------------------------------------------------

def test_relu_follows_the_tutorials_pseudocode():
    body = next(body for _, language, body in copied_blocks() if language == "javascript")
    assert "if (x <= 0)" in body and "return 0;" in body and "return x;" in body
    x = np.array([-3.5, -1e-30, 0.0, 1e-30, 2.0, 1e6], dtype=np.float32)
    expected = np.where(x <= 0, 0, x)
    np.testing.assert_array_equal(fastnn.activations.relu(x), expected)


def test_weight_update_is_the_tutorials_rule():
    """new weight = old weight - (learning rate * gradient), for plain SGD."""
    assert any("new weight = old weight - (learning rate * gradient)" in body
               for _, _, body in copied_blocks())
    weight = np.array([0.5, -1.25, 3.0], dtype=np.float64)
    old, gradient = weight.copy(), np.array([0.1, -2.0, 0.0])
    fastnn.optimizers.SGD(learning_rate=0.01).apply([gradient], [weight])
    np.testing.assert_allclose(weight, old - 0.01 * gradient, rtol=1e-15)


def tutorial_loss_names() -> list[str]:
    text = COPY.read_text()
    section = text.split("Some of the loss functions in Keras", 1)[1]
    return re.findall(r"^- (\w+)$", section, flags=re.MULTILINE)


def test_every_loss_the_tutorial_lists_trains():
    names = tutorial_loss_names()
    assert len(names) == 14
    rng = np.random.default_rng(0)
    x = rng.random((16, 3))
    labels = rng.integers(0, 2, 16)
    for name in names:
        model = fastnn.Sequential([fastnn.Input((3,)),
                                   fastnn.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss=name)
        y = labels if name.startswith("sparse") else np.eye(2)[labels]
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert np.all(np.isfinite(history.history["loss"])), name


# ---- a classic Keras MLP script ---------------------------------------------------------

CLASSIC_MLP = """
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tensorflow import keras
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Dropout
from tensorflow.keras.optimizers import RMSprop
from tensorflow.keras.utils import to_categorical

keras.utils.set_random_seed(3)
num_classes = 10
digits = load_digits()
x = digits.data.astype("float32") / 16.0          # pixels 0..16 scaled to [0, 1]
y = to_categorical(digits.target, num_classes)
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.25, random_state=0, stratify=digits.target)

model = Sequential()
model.add(Dense(128, activation="relu", input_shape=(64,)))
model.add(Dropout(0.2))
model.add(Dense(64, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation="softmax"))
model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=64, epochs=20, verbose=0,
                    validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
"""


def test_classic_mlp_script_on_digits():
    pytest.importorskip("sklearn")
    namespace = {}
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), pytest.warns(UserWarning, match="input_shape"):
        exec(compile(to_fastnn(CLASSIC_MLP), "<classic mlp>", "exec"), namespace)  # noqa: S102
    assert namespace["keras"] is fastnn
    history = namespace["history"].history
    assert list(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(history["loss"]) == 20
    _, accuracy = namespace["score"]
    assert accuracy >= 0.95
    assert f"Test accuracy: {accuracy}" in stdout.getvalue()
