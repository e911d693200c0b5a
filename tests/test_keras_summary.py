"""model.summary() against Keras 3's, character for character (print_fn captures it)."""

import numpy as np
import pytest

import fastnn


def _build(lib, trainable_last=True):
    L = lib.layers
    m = lib.Sequential([
        lib.Input((20,)),
        L.Dense(64, activation="relu"),
        L.BatchNormalization(),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax", name="a_really_long_layer_name_for_wrapping_test",
                trainable=trainable_last),
    ])
    return m


def _text(model, **kwargs):
    out = []
    model.summary(print_fn=lambda s, **_: out.append(s), **kwargs)
    assert len(out) == 1
    return out[0]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(autouse=True)
def _fresh_names(request):
    """Both libraries number automatic names per process ("sequential_3"); the texts compare
    equal only when both counters start afresh."""
    fastnn.backend.clear_session()
    if "tf_keras" in request.fixturenames:
        request.getfixturevalue("tf_keras").backend.clear_session()


@pytest.mark.parametrize("kwargs", [{}, {"show_trainable": True, "line_length": 70},
                                    {"line_length": 120}, {"positions": [0.3, 0.6, 1.0]}])
def test_summary_matches_keras(tf_keras, kwargs):
    km, fm = _build(tf_keras, trainable_last=False), _build(fastnn, trainable_last=False)
    assert _text(fm, **kwargs) == _text(km, **kwargs)


def test_summary_after_training_counts_optimizer(tf_keras):
    x, y = np.ones((4, 20), np.float32), np.ones((4, 10), np.float32)
    km, fm = _build(tf_keras), _build(fastnn)
    for m in (km, fm):
        m.compile("adam", "mse")
        m.fit(x, y, verbose=0)
    text = _text(fm)
    assert "Optimizer params: 4,246 (16.59 KB)" in text
    assert text == _text(km)


def test_unbuilt_summary_and_stdout(tf_keras, capsys):
    fastnn.backend.clear_session()
    tf_keras.backend.clear_session()
    km = tf_keras.Sequential([tf_keras.layers.Dense(3), tf_keras.layers.Dense(2)])
    fm = fastnn.Sequential([fastnn.layers.Dense(3), fastnn.layers.Dense(2)])
    expected = _text(km)
    assert "0 (unbuilt)" in expected
    assert _text(fm) == expected
    fm.summary()
    assert capsys.readouterr().out == expected


def test_readable_sizes():
    from fastnn.models.summary import readable_size

    assert readable_size(512) == "512.00 B"
    assert readable_size(1024) == "1.00 KB"
    assert readable_size(3 * 1024**2) == "3.00 MB"


def test_narrow_line_raises():
    with pytest.raises(ValueError, match="Insufficient console width"):
        _build(fastnn).summary(line_length=8, print_fn=lambda s: None)


def _nested(lib, branching):
    """A functional model holding a Sequential (expand_nested); a chain, or with a branch
    (then Keras adds the "Connected to" column)."""
    ly = lib.layers
    inner = lib.Sequential([ly.Input((5,)), ly.Dense(3, name="d1"),
                            ly.Dense(2, name="d2", trainable=False)], name="stack")
    x = ly.Input((5,), name="outer_in")
    h = inner(x)
    if branching:
        h = ly.Concatenate(name="both")([h, ly.Dense(2, name="side")(x)])
    return lib.Model(x, ly.Dense(1, name="head")(h), name="outer")


@pytest.mark.parametrize("branching", [False, True], ids=["chain", "branching"])
@pytest.mark.parametrize("kwargs", [{}, {"expand_nested": True},
                                    {"expand_nested": True, "show_trainable": True}])
def test_nested_models_and_expand_nested_match_keras(tf_keras, branching, kwargs):
    km, fm = _nested(tf_keras, branching), _nested(fastnn, branching)
    text = _text(fm, **kwargs)
    assert text == _text(km, **kwargs)
    assert ("└ d1 (Dense)" in text) == bool(kwargs)
    assert ("Connected to" in text) == branching


def test_sequential_holding_a_sequential_expanded(tf_keras):
    def build(lib):
        ly = lib.layers
        inner = lib.Sequential([ly.Input((4,)), ly.Dense(3), ly.Dense(2)])
        return lib.Sequential([ly.Input((4,)), inner, ly.Dense(1)])

    km, fm = build(tf_keras), build(fastnn)
    assert _text(fm, expand_nested=True, show_trainable=True) == \
        _text(km, expand_nested=True, show_trainable=True)
