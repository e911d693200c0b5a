"""The ``fastnn`` command, end to end in subprocesses: train, predict, evaluate, summary, info,
bench; every kind of bad input ends with one line on stderr and a non-zero status; and the
README's Quick start commands are valid and run by CI."""

import csv
import os
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn.cli import _dataset, _train
from fastnn.cli._parser import build_parser

ROOT = Path(__file__).resolve().parents[1]
# Tiny networks: one thread, so that a busy machine's cores do not slow every step.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
       "OMP_NUM_THREADS": "1"}


def fastnn_cli(*args, cwd, prelude=None):
    """Run ``python -m fastnn ARGS`` (or, with ``prelude``, that code first, then the CLI)."""
    if prelude is None:
        command = [sys.executable, "-m", "fastnn", *map(str, args)]
    else:
        code = (f"{prelude}\nfrom fastnn.cli import main\n"
                f"raise SystemExit(main({list(map(str, args))!r}))")
        command = [sys.executable, "-c", code]
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=300, check=False)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path_or_text):
    text = path_or_text.read_text() if isinstance(path_or_text, Path) else path_or_text
    rows = list(csv.reader(text.splitlines()))
    return rows[0], rows[1:]


# ---- data ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """CSV files for the tests: text-labelled blobs, a regression, digits, broken files."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    centers = {"setosa": (0, 0, 0), "versicolor": (4, 0, 4), "virginica": (0, 4, -4)}
    names = rng.choice(list(centers), 240)
    x = np.array([centers[n] for n in names]) + rng.normal(size=(240, 3))
    write_csv(d / "flowers.csv", ["a", "b", "c", "species"],
              [[*np.round(r, 4), n] for r, n in zip(x, names)])
    x = rng.normal(size=(300, 3)) * [1, 10, 100] + [0, 50, 1000]
    price = 50_000 + 3_000 * x[:, 0] + 200 * x[:, 1] - 10 * x[:, 2] + rng.normal(0, 50, 300)
    write_csv(d / "houses.csv", ["rooms", "age", "area", "price"],
              [[*np.round(r, 4), round(p, 2)] for r, p in zip(x, price)])
    sklearn = pytest.importorskip("sklearn.datasets")
    digits = sklearn.load_digits()
    write_csv(d / "digits.csv", [*(f"pixel_{i}" for i in range(64)), "digit"],
              [[*map(int, r), t] for r, t in zip(digits.data, digits.target)])
    # Random labels: nothing to learn, so the validation loss stops improving at once.
    write_csv(d / "noise.csv", ["a", "b", "c", "d", "label"],
              [[*np.round(r, 4), int(t)] for r, t in zip(rng.normal(size=(200, 4)),
                                                          rng.integers(0, 2, 200))])
    model = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(d / "plain.keras")      # a model saved outside the CLI: no column names
    return d


@pytest.fixture(scope="module")
def flowers_model(data):
    result = fastnn_cli("train", "flowers.csv", "--target", "species", "--epochs", "15",
                        "--verbose", "2", "--seed", "3", cwd=data)
    assert result.returncode == 0, result.stderr
    return result


# ---- train, predict, evaluate, summary on a CSV file -----------------------------------

def test_train_on_a_csv_with_text_labels(data, flowers_model):
    out = flowers_model.stdout
    assert "Data: flowers.csv, 240 rows, 3 features, target 'species' (3 classes)" in out
    assert "Model: 3 -> 128 -> 64 -> 3 (relu), adam, 172 rows to train on, 20 to validate, " \
           "48 held out" in out
    epochs = re.findall(r"^Epoch (\d+)/15$", out, flags=re.MULTILINE)
    assert epochs == [str(i) for i in range(1, 16)]
    assert len(re.findall(r"^6/6 - \d+s - .* - accuracy: \d\.\d{4} - loss: \d\.\d{4} - "
                          r"val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$", out,
                          flags=re.MULTILINE)) == 15
    accuracy = float(re.search(r"^Held-out accuracy: (\d\.\d{4}) \(48 rows\)$", out,
                               flags=re.MULTILINE).group(1))
    assert accuracy >= 0.9
    assert re.search(r"^Training took \d+\.\d s \(15 epochs, [\d.]+ m?s per epoch\)$", out,
                     flags=re.MULTILINE)
    assert out.rstrip().endswith("Saved the model to flowers.keras")
    assert flowers_model.stderr == ""
    loaded = fastnn.models.load_model(data / "flowers.keras")   # an ordinary .keras file
    assert loaded.input_shape == (None, 3) and loaded.output_shape == (None, 3)


def test_the_same_seed_trains_the_same_model(data, flowers_model):
    again = fastnn_cli("train", "flowers.csv", "--target", "species", "--epochs", "15",
                       "--verbose", "2", "--seed", "3", "-o", "again.keras", cwd=data)
    strip_times = re.compile(r" - \d+m?u?s/step| - \d+s|took .*")
    assert strip_times.sub("", again.stdout).replace("again.keras", "flowers.keras") == \
        strip_times.sub("", flowers_model.stdout)


def test_predict_writes_labels_and_probabilities(data, flowers_model):
    result = fastnn_cli("predict", "flowers.keras", "flowers.csv", cwd=data)
    assert result.returncode == 0, result.stderr
    header, rows = read_csv(result.stdout)
    assert header == ["species", "probability_setosa", "probability_versicolor",
                      "probability_virginica"]
    _, truth = read_csv(data / "flowers.csv")
    assert len(rows) == len(truth) == 240
    probabilities = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    classes = np.array(header[1:])[probabilities.argmax(axis=1)]
    assert [row[0] for row in rows] == [c.removeprefix("probability_") for c in classes]
    accuracy = np.mean([row[0] == t[-1] for row, t in zip(rows, truth)])
    assert accuracy >= 0.9

    # --out writes the same table to a file; the data's other columns and order do not matter.
    write_csv(data / "shuffled.csv", ["c", "extra", "a", "b"],
              [[t[2], "x", t[0], t[1]] for t in truth])
    to_file = fastnn_cli("predict", "flowers.keras", "shuffled.csv", "--out", "p.csv", cwd=data)
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout.strip() == "Wrote 240 predictions to p.csv"
    assert (data / "p.csv").read_text() == result.stdout


def test_evaluate_agrees_with_predict(data, flowers_model):
    result = fastnn_cli("evaluate", "flowers.keras", "flowers.csv", "--target", "species",
                        cwd=data)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowers.keras on flowers.csv: 240 rows, target 'species'"
    assert re.fullmatch(r"loss: \d\.\d{4}", lines[1])
    predicted = [row[0] for row in read_csv(fastnn_cli("predict", "flowers.keras",
                                                       "flowers.csv", cwd=data).stdout)[1]]
    truth = [row[-1] for row in read_csv(data / "flowers.csv")[1]]
    assert lines[2] == f"accuracy: {np.mean(np.array(predicted) == truth):.4f}"
    # The model remembers its target, so --target may be left out.
    default = fastnn_cli("evaluate", "flowers.keras", "flowers.csv", cwd=data)
    assert default.stdout == result.stdout


def test_summary_shows_layers_and_data(data, flowers_model):
    result = fastnn_cli("summary", "flowers.keras", cwd=data)
    assert result.returncode == 0, result.stderr
    assert "Total params: 8,963" in result.stdout          # 3*128+128 + 128*64+64 + 64*3+3
    assert "Trained by fastnn train to predict 'species' (classification) from 3 columns: " \
           "a, b, c" in result.stdout
    assert "Classes: setosa, versicolor, virginica" in result.stdout


def test_regression_reports_r2_and_predicts_in_the_targets_units(data):
    result = fastnn_cli("train", "houses.csv", "--target", "price", "--epochs", "40",
                        "--hidden", "32", "--verbose", "0", cwd=data)
    assert result.returncode == 0, result.stderr
    assert "target 'price' (regression, losses in standardized units)" in result.stdout
    assert "Epoch" not in result.stdout                                   # --verbose 0
    r2 = float(re.search(r"^Held-out R²: (-?\d\.\d{4}) \(60 rows\)$", result.stdout,
                         flags=re.MULTILINE).group(1))
    assert r2 > 0.95
    predicted = fastnn_cli("predict", "houses.keras", "houses.csv", cwd=data)
    header, rows = read_csv(predicted.stdout)
    assert header == ["price"]
    truth = np.array([float(r[-1]) for r in read_csv(data / "houses.csv")[1]])
    values = np.array([float(r[0]) for r in rows])
    # Raw prices out (about 50,000 with a spread of about 3,600), not standardized ones.
    assert np.abs(values - truth).mean() < 0.2 * truth.std()
    evaluated = fastnn_cli("evaluate", "houses.keras", "houses.csv", cwd=data)
    scores = dict(line.split(": ") for line in evaluated.stdout.splitlines()[1:])
    assert list(scores) == ["loss", "r2", "mean_absolute_error", "root_mean_squared_error"]
    residual = values - truth
    assert float(scores["r2"]) == pytest.approx(
        1 - np.sum(residual ** 2) / np.sum((truth - truth.mean()) ** 2), abs=2e-4)
    assert float(scores["mean_absolute_error"]) == pytest.approx(np.abs(residual).mean(),
                                                                 rel=1e-3)


def test_early_stopping_stops_and_restores(data):
    result = fastnn_cli("train", "noise.csv", "--target", "label", "--epochs", "60",
                        "--early-stopping", "2", "--verbose", "2", cwd=data)
    assert result.returncode == 0, result.stderr
    epochs = len(re.findall(r"^Epoch \d+/60$", result.stdout, flags=re.MULTILINE))
    assert epochs < 60
    assert "Restoring model weights from the end of the best epoch" in result.stdout
    assert f"({epochs} epochs," in result.stdout


# ---- the default: scikit-learn's digits, with a progress bar and a plot ----------------

def test_train_on_digits_with_progress_bar_and_plot(data, tmp_path):
    pytest.importorskip("matplotlib")
    result = fastnn_cli("train", "--epochs", "4", "--threads", "2", "--verbose", "1",
                        "--plot", "curves.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Data: scikit-learn's digits, 1797 rows, 64 features, target 'digit' (10 classes)" \
        in out
    full_bar = "\x1b[32m" + "━" * 20 + "\x1b[37m"        # Keras's green bar, all done
    assert re.search(r"41/41\x1b\[0m " + re.escape(full_bar), out)
    accuracy = float(re.search(r"Held-out accuracy: (\d\.\d{4}) \(359 rows\)", out).group(1))
    assert accuracy >= 0.9
    assert "Saved the model to digits.keras" in out
    assert "Saved the training curves to curves.png" in out
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The saved model reads the raw pixels: the standardization is inside its first layer.
    shutil.copy(data / "digits.csv", tmp_path)
    evaluated = fastnn_cli("evaluate", "digits.keras", "digits.csv", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert float(re.search(r"accuracy: (\d\.\d{4})", evaluated.stdout).group(1)) >= 0.95
    summary = fastnn_cli("summary", "digits.keras", cwd=tmp_path)
    assert "Classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in summary.stdout


# ---- the other commands ----------------------------------------------------------------

def test_info_version_and_help(tmp_path):
    info = fastnn_cli("info", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith(f"fastnn {fastnn.__version__} (Python ")
    for word in ("OpenMP:", "threads:", "SIMD:", "BLAS:"):
        assert word in info.stdout
    version = fastnn_cli("--version", cwd=tmp_path)
    assert version.stdout.startswith(f"fastnn {fastnn.__version__}")
    bare = fastnn_cli(cwd=tmp_path)
    assert bare.returncode == 0
    for command in ("train", "predict", "evaluate", "summary", "bench", "info"):
        assert re.search(rf"^\s+{command}\s", bare.stdout, flags=re.MULTILINE), command


def test_the_console_script(tmp_path):
    script = shutil.which("fastnn")
    if script is None:
        if os.environ.get("CI"):
            pytest.fail("`pip install` must put the `fastnn` console script on PATH")
        pytest.skip("fastnn is not installed here, so there is no console script")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, env=ENV,
                            check=False)
    assert result.returncode == 0 and result.stdout.startswith("fastnn ")


def test_bench_runs_the_report_with_its_options(monkeypatch, capsys):
    """In-process: the report itself is slow; what matters is what the CLI hands it."""
    from fastnn.cli import main

    calls = []
    fake = type(sys)("fastnn._bench.report")
    fake.main = lambda argv: calls.append(argv) or 3
    monkeypatch.setitem(sys.modules, "fastnn._bench.report", fake)
    assert main(["bench", "--quick", "--out", "r.md"]) == 3
    assert main(["bench"]) == 3
    assert calls == [["--quick", "--out", "r.md"], []]


# ---- bad input: one line on stderr, a non-zero status, never a traceback --------------

BAD_INPUT = {
    # name: (arguments, expected status, what the line says)
    "missing data file": (["train", "nope.csv", "--target", "y"], 1, "nope.csv: no such file"),
    "missing target column": (["train", "flowers.csv", "--target", "colour"], 1,
                              ("flowers.csv has no column 'colour' (given as --target) (its "
                              "columns: a, b, c, species)")),
    "no --target with a file": (["train", "flowers.csv"], 1, "--target is required"),
    "non-numeric feature": (["train", "text.csv", "--target", "y"], 1,
                            "column 'b' of text.csv is not numeric: 'oops' on line 3"),
    "empty feature cell": (["train", "hole.csv", "--target", "y"], 1,
                           "column 'a' of hole.csv is not numeric: an empty cell on line 3"),
    "infinite feature": (["train", "inf.csv", "--target", "y"], 1,
                         "column 'b' of inf.csv holds 'inf' on line 2: values must be finite"),
    "ragged row": (["train", "ragged.csv", "--target", "y"], 1,
                   "line 3 of ragged.csv has 2 fields; the header has 3"),
    "empty file": (["train", "empty.csv", "--target", "y"], 1, "empty.csv is empty"),
    "no header": (["train", "numbers.csv", "--target", "1"], 1,
                  "the first line of numbers.csv holds numbers, not column names"),
    "not text": (["train", "binary.csv", "--target", "y"], 1, "binary.csv is not a text CSV"),
    "one class": (["train", "oneclass.csv", "--target", "y"], 1, "has one class ('7')"),
    "text target for regression": (["train", "flowers.csv", "--target", "species", "--task",
                                    "regression"], 1, ("the target 'species' of flowers.csv "
                                   "is not numeric")),
    "unknown optimizer": (["train", "flowers.csv", "--target", "species", "--optimizer",
                           "adamm"], 1, "Could not interpret optimizer identifier: 'adamm'"),
    "unknown activation": (["train", "flowers.csv", "--target", "species", "--activation",
                            "rleu"], 1, "Could not interpret activation function identifier"),
    "output not .keras": (["train", "flowers.csv", "--target", "species", "-o", "m.h5"], 1,
                          "the output path must end in .keras"),
    "output folder missing": (["train", "flowers.csv", "--target", "species", "-o",
                               "nowhere/m.keras"], 1, "the folder 'nowhere' does not exist"),
    "plot folder missing": (["train", "flowers.csv", "--target", "species", "--plot",
                             "nowhere/c.png"], 1, "the folder 'nowhere' does not exist"),
    "zero threads": (["train", "flowers.csv", "--target", "species", "--threads", "0"], 1,
                     "n_threads must be a non-zero integer"),
    "missing model file": (["predict", "nope.keras", "flowers.csv"], 1,
                           "nope.keras: no such file"),
    "model file not a model": (["summary", "flowers.csv"], 1,
                               "'flowers.csv' is not a `.keras` zip file"),
    "truncated model file": (["predict", "truncated.keras", "flowers.csv"], 1,
                             "'truncated.keras' is not a `.keras` zip file"),
    "damaged model file": (["evaluate", "damaged.keras", "flowers.csv"], 1,
                           "is corrupt, truncated or not in the Keras 3 format"),
    "damaged column list": (["predict", "badmeta.keras", "flowers.csv"], 1,
                            "badmeta.keras: its fastnn_data.json entry is damaged"),
    "data lacks the model's columns": (["predict", "model.keras", "houses.csv"], 1,
                                       ("houses.csv has no column 'a', 'b', 'c' that the model "
                                       "was trained on")),
    "wrong number of columns": (["predict", "plain.keras", "noise.csv"], 1,
                                "the model takes 3 features but noise.csv has 5 columns"),
    "unseen class": (["evaluate", "model.keras", "renamed.csv", "--target", "species"], 1,
                     ("column 'species' of renamed.csv holds 'iris' on line 2, a class the "
                     "model was not trained on")),
    "evaluate target missing": (["evaluate", "model.keras", "flowers.csv", "--target", "kind"],
                                1, "flowers.csv has no column 'kind' (the target)"),
    "evaluate unknown target": (["evaluate", "plain.keras", "flowers.csv"], 1,
                                "--target is required: plain.keras does not say which column"),
    "plain model, bad labels": (["evaluate", "plain.keras", "labels.csv", "--target", "y"], 1,
                                ("column 'y' of labels.csv holds 5 on line 3; the model has "
                                 "2 outputs, so its classes are the integers 0 to 1")),
    "unknown command": (["fit"], 2, "argument COMMAND: invalid choice: 'fit'"),
    "bad --hidden": (["train", "--hidden", "64,x"], 2,
                     "argument --hidden: '64,x' is not a list of layer widths"),
    "bad --validation-split": (["train", "--validation-split", "1.5"], 2,
                               "'1.5' is not a fraction in [0, 1)"),
}
# Missing optional packages, simulated by blocking their import before the CLI runs.
BLOCKED = {
    "no scikit-learn for the default data": ("sklearn", ["train"], 1,
                                             ("scikit-learn is not installed: pip install "
                                             "'fastnn[cli]'")),
    "no matplotlib for --plot": ("matplotlib", ["train", "flowers.csv", "--target", "species",
                                                "--plot", "c.png"], 1,
                                 "--plot needs matplotlib, which is not installed"),
    "no benchmark report": ("fastnn._bench.report", ["bench", "--quick"], 1,
                            "the benchmark report is not part of this installation"),
}


@pytest.fixture(scope="module")
def bad_runs(data):
    """Every bad-input run, started together (each is a fresh Python) to save time."""
    d = data
    (d / "text.csv").write_text("a,b,y\n1,2,x\n3,oops,y\n")
    (d / "hole.csv").write_text("a,b,y\n1,2,x\n,4,y\n")
    (d / "inf.csv").write_text("a,b,y\n1,inf,x\n3,4,y\n")
    (d / "ragged.csv").write_text("a,b,y\n1,2,x\n3,4\n")
    (d / "empty.csv").write_text("")
    (d / "numbers.csv").write_text("1,2,3\n4,5,6\n")
    (d / "binary.csv").write_bytes(b"\xff\xfe\x00\x01garbage\n")
    (d / "oneclass.csv").write_text("a,y\n1,7\n2,7\n3,7\n")
    (d / "labels.csv").write_text("a,b,c,y\n1,2,3,1\n4,5,6,5\n")
    shutil.copy(d / "flowers.csv", d / "renamed.csv")
    text = (d / "renamed.csv").read_text().split("\n", 2)
    (d / "renamed.csv").write_text("\n".join([text[0], re.sub(r",\w+$", ",iris", text[1]),
                                              text[2]]))
    model = fastnn_cli("train", "flowers.csv", "--target", "species", "--epochs", "1",
                       "--verbose", "0", "-o", "model.keras", cwd=d)
    assert model.returncode == 0, model.stderr
    (d / "truncated.keras").write_bytes((d / "model.keras").read_bytes()[:500])
    with zipfile.ZipFile(d / "damaged.keras", "w") as z:
        z.writestr("config.json", "{not json")
        z.writestr("model.weights.h5", b"\x00")
    shutil.copy(d / "plain.keras", d / "badmeta.keras")
    with zipfile.ZipFile(d / "badmeta.keras", "a") as z:
        z.writestr("fastnn_data.json", '{"task": "regression"}')
    jobs = {name: (args, None) for name, (args, _, _) in BAD_INPUT.items()}
    jobs.update({name: (args, f"import sys; sys.modules[{module!r}] = None")
                 for name, (module, args, _, _) in BLOCKED.items()})
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(fastnn_cli, *args, cwd=d, prelude=prelude)
                   for name, (args, prelude) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", [*BAD_INPUT, *BLOCKED])
def test_bad_input_is_one_line_and_a_status(bad_runs, name):
    status, message = BAD_INPUT[name][1:] if name in BAD_INPUT else BLOCKED[name][2:]
    result = bad_runs[name]
    assert "Traceback" not in result.stderr
    assert result.returncode == status
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    assert re.match(r"fastnn( \w+)?: error: ", result.stderr), result.stderr
    assert message in result.stderr
    assert "Epoch" not in result.stdout          # it failed before training


def test_an_unexpected_error_is_one_line_too_unless_asked(tmp_path):
    prelude = ("import fastnn.cli._commands as c\n"
               "def boom(args):\n    raise RuntimeError('kaput\\n  second line')\n"
               "c.info = boom")
    result = fastnn_cli("info", cwd=tmp_path, prelude=prelude)
    assert result.returncode == 1
    assert result.stderr == ("fastnn: error: RuntimeError: kaput second line (run with "
                             "--traceback for details)\n")
    result = fastnn_cli("--traceback", "info", cwd=tmp_path, prelude=prelude)
    assert result.returncode == 1 and "Traceback" in result.stderr


# ---- pieces, in-process ----------------------------------------------------------------

def test_folding_the_scaling_keeps_the_predictions():
    rng = np.random.default_rng(5)
    raw = rng.normal(size=(50, 4)) * [1, 100, 0.01, 5] + [3, -200, 0, 40]
    for task, n_out in (("classification", 3), ("regression", 1)):
        target = _dataset.Target(task, np.zeros(50), ["a", "b", "c"] if n_out == 3 else None)
        model = _train.build_model(4, [8], "tanh", target)
        x_scaling = _train.standardization(raw)
        y_scaling = (np.array([1e4]), np.array([250.0])) if task == "regression" else None
        before = model.predict((raw - x_scaling[0]) / x_scaling[1], verbose=0)
        if y_scaling is not None:
            before = before * 250.0 + 1e4
        _train.fold_scaling(model, x_scaling, y_scaling)
        np.testing.assert_allclose(model.predict(raw, verbose=0), before, rtol=1e-4,
                                   atol=1e-4 * np.abs(before).max())


def test_held_out_rows_are_stratified_disjoint_and_complete():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    target = _dataset.Target("classification", y, ["a", "b", "c"])
    train, test = _train.split_rows(target, 0.2, np.random.default_rng(0))
    assert sorted([*train, *test]) == list(range(100))
    assert np.bincount(y[test]).tolist() == [10, 6, 4]
    with pytest.raises(fastnn.cli.CLIError, match="too few"):
        _train.split_rows(_dataset.Target("regression", np.zeros(2)), 0.2,
                          np.random.default_rng(0))


@pytest.mark.parametrize("cells, task, classes", [
    (["b", "a", "b", "c"], "classification", ["a", "b", "c"]),
    (["10", "2", "2.0", "10"], "classification", ["2", "10"]),       # sorted as numbers
    ([str(i) for i in range(20)], "classification", [str(i) for i in range(20)]),
    ([str(i) for i in range(21)], "regression", None),               # too many integers
    (["0.5", "1.25", "3"], "regression", None),
])
def test_the_task_is_guessed_from_the_target(cells, task, classes):
    data = _dataset.Dataset("d", np.zeros((len(cells), 1)), ["x"], "y", np.array(cells), "d")
    target = _dataset.encode_target(data)
    assert (target.task, target.classes) == (task, classes)
    if classes:
        labels = [_dataset.format_number_label(float(c)) if target.numeric_labels else c
                  for c in cells]
        assert [classes[i] for i in target.y] == labels


# ---- the README's commands -------------------------------------------------------------

def quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_main_command_is_a_valid_fastnn_command():
    install, run = quick_start_commands()[0].split(" && ")
    assert install == 'pip install ".[cli]"'
    words = run.split()
    assert words[0] == "fastnn"
    build_parser().parse_args(words[1:])     # exits (fails the test) on a usage error


def test_ci_runs_every_readme_command():
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in quick_start_commands():
        assert command in ci_lines


def test_the_console_script_and_the_cli_extra_are_declared():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"fastnn": "fastnn.cli:main"}
    extras = project["optional-dependencies"]
    assert {re.split(r"[<>=]", r)[0] for r in extras["cli"]} >= {"scikit-learn", "matplotlib"}
    assert {re.split(r"[<>=]", r)[0] for r in extras["plot"]} == {"matplotlib", "pydot"}
