"""fastnn.utils.plot_history: one panel per quantity, training and validation curves, a PNG."""

import os
import struct

import numpy as np
import pytest

import fastnn
from fastnn.utils import plot_history


@pytest.fixture(scope="module", autouse=True)
def matplotlib():
    """matplotlib is optional for users, but the test extra installs it: CI must not skip."""
    try:
        import matplotlib
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("matplotlib is required for the plot tests in CI")
        pytest.skip("matplotlib is not installed")
    return matplotlib


def png_size(path):
    """(width, height) from a PNG's header; fails unless the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def curves(fig):
    """{panel title: {curve label: y values}}."""
    return {ax.get_title(): {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
            for ax in fig.axes}


LOGS = {"accuracy": [0.5, 0.8, 0.9], "loss": [1.2, 0.6, 0.3],
        "val_accuracy": [0.55, 0.75, 0.85], "val_loss": [1.1, 0.7, 0.5]}


def test_png_with_a_panel_per_quantity_and_two_curves_each(tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_history(LOGS, path)
    width, height = png_size(path)
    assert width > 2 * height > 300          # two panels side by side
    assert curves(fig) == {
        "Loss": {"training": LOGS["loss"], "validation": LOGS["val_loss"]},
        "Accuracy": {"training": LOGS["accuracy"], "validation": LOGS["val_accuracy"]},
    }
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy"]   # the loss first
    for ax in fig.axes:
        assert ax.get_xlabel() == "Epoch"
        assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training",
                                                                         "validation"]
        styles = [line.get_linestyle() for line in ax.get_lines()]
        assert styles[0] != styles[1]        # told apart in black and white too


def test_history_from_fit_without_validation(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3)), rng.random((64, 1))
    model = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae", "mse"])
    history = model.fit(x, y, epochs=4, verbose=0)
    fig = plot_history(history, tmp_path / "fit.png")
    assert png_size(tmp_path / "fit.png")[0] > 0
    panels = curves(fig)
    assert list(panels) == ["Loss", "MAE", "MSE"]
    for title, key in zip(panels, ["loss", "mae", "mse"]):
        assert panels[title] == {"training": pytest.approx(history.history[key])}


def test_epochs_are_numbered_from_the_history(tmp_path):
    rng = np.random.default_rng(1)
    model = fastnn.Sequential([fastnn.Input((2,)), fastnn.layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(rng.random((8, 2)), rng.random(8), epochs=5, initial_epoch=2,
                        verbose=0)
    fig = plot_history(history)
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [3, 4, 5]


def test_other_formats_title_and_no_file_without_path(tmp_path):
    fig = plot_history(LOGS, tmp_path / "curves.svg", title="digits")
    assert (tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")
    assert fig._suptitle.get_text() == "digits"
    plot_history(LOGS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.svg"]


def test_a_validation_only_metric_still_gets_its_panel():
    fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "val_auc": [0.7, 0.8]})
    assert curves(fig)["AUC"] == {"validation": [0.7, 0.8]}


def test_empty_history_is_an_error():
    with pytest.raises(ValueError, match="no values"):
        plot_history({})


def test_the_cli_training_plot_is_a_png(tmp_path):
    """What ``fastnn train --plot`` writes: loss and accuracy, training and validation."""
    from fastnn.cli import main

    csv = tmp_path / "blobs.csv"
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 80)
    rows = [f"{a:.4f},{b:.4f},{'yes' if c else 'no'}"
            for (a, b), c in zip(rng.normal(size=(80, 2)) + labels[:, None] * 3, labels)]
    csv.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    png = tmp_path / "curves.png"
    assert main(["train", str(csv), "--target", "label", "--epochs", "3", "--verbose", "0",
                 "-o", str(tmp_path / "m.keras"), "--plot", str(png)]) == 0
    width, height = png_size(png)
    assert width > 2 * height
