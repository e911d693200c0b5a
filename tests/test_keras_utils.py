"""fastnn.utils (to_categorical, normalize, set_random_seed) and fastnn._random."""

import random

import numpy as np
import pytest

from fastnn import _random, initializers, utils

# ---- to_categorical ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, num_classes",
    [
        ([0, 2, 1, 2], None),
        ([0, 2, 1, 2], 5),
        (np.array([[1], [0], [3]]), None),  # (n, 1): the trailing 1 is dropped
        (np.array([[1, 0], [2, 2]]), None),  # (n, 2): one-hot along a new last axis
        (np.array([[[1], [0]]]), 4),
        (np.array([3]), None),
        (np.array(2), 3),  # a scalar label
        (np.array([1.0, 2.9]), None),  # floats are truncated, as Keras does
        (np.array([1, 0], dtype=np.uint8), None),
    ],
)
def test_to_categorical_matches_keras(tf_keras, labels, num_classes):
    ours = utils.to_categorical(labels, num_classes)
    theirs = tf_keras.utils.to_categorical(labels, num_classes)
    assert ours.shape == theirs.shape
    assert ours.dtype == np.float32  # Keras 3 returns float64, Keras 2 float32
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_dtype_and_inputs():
    assert utils.to_categorical([1], dtype="float64").dtype == np.float64
    assert utils.to_categorical((0, 1)).tolist() == [[1, 0], [0, 1]]
    assert utils.to_categorical([], num_classes=3).shape == (0, 3)
    assert utils.to_categorical([1, 0], num_classes=0).shape == (2, 2)  # 0 means infer, as Keras


@pytest.mark.parametrize(
    "labels, num_classes, match",
    [
        ([0, 3], 3, r"Labels must lie in \[0, 3\)"),
        ([-1, 0], None, "Labels must lie in"),  # Keras would wrap -1 to the last class
        ([], None, "needs num_classes"),
        ([1], 2.5, "num_classes must be a positive integer"),
        ([1], -2, "num_classes must be a positive integer"),
    ],
)
def test_to_categorical_errors(labels, num_classes, match):
    with pytest.raises(ValueError, match=match):
        utils.to_categorical(labels, num_classes)


# ---- normalize ---------------------------------------------------------------------------


@pytest.mark.parametrize("order", [1, 2, 3, np.inf])
@pytest.mark.parametrize("axis", [-1, 1])
def test_normalize_matches_keras(tf_keras, order, axis, dtype):
    x = np.random.default_rng(0).normal(0, 3, (6, 5)).astype(dtype)
    x[2] = 0.0  # a zero row stays zero
    ours = utils.normalize(x, axis=axis, order=order)
    theirs = tf_keras.utils.normalize(x, axis=axis, order=order)
    assert ours.dtype == dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_array_equal(ours[2], 0.0)


def test_normalize_3d_matches_keras(tf_keras):
    x = np.random.default_rng(1).normal(size=(3, 4, 5))
    for axis in [1, 2, -1]:
        np.testing.assert_allclose(
            utils.normalize(x, axis=axis), tf_keras.utils.normalize(x, axis=axis), rtol=1e-14
        )


def test_normalize_axis_0():
    # Keras 3 broadcasts the norms of axis 0 wrongly (it expands them at axis -1).
    x = np.array([[3.0, 1.0, 0.0], [4.0, 1.0, 0.0]])
    expected = [[0.6, 2**-0.5, 0.0], [0.8, 2**-0.5, 0.0]]
    np.testing.assert_allclose(utils.normalize(x, axis=0), expected, rtol=1e-15)


def test_normalize_inputs():
    out = utils.normalize([[3, 4]])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8]], rtol=1e-7)
    np.testing.assert_allclose(utils.normalize(np.array([[3.0, 4.0]]), order=1), [[3 / 7, 4 / 7]])


# ---- set_random_seed and fastnn._random ---------------------------------------------------


def _draws():
    return (
        random.random(),
        np.random.rand(),
        _random.generator().random(),
        _random.next_seed(),
        initializers.GlorotUniform()((3, 4)).tolist(),
    )


def test_set_random_seed_repeats_everything():
    utils.set_random_seed(1234)
    first = _draws()
    utils.set_random_seed(1234)
    assert _draws() == first
    utils.set_random_seed(1235)
    second = _draws()
    assert all(a != b for a, b in zip(first, second))


def test_next_seed_range():
    utils.set_random_seed(0)
    seeds = [_random.next_seed() for _ in range(1000)]
    assert all(type(s) is int and 0 <= s < 2**63 for s in seeds)
    assert len(set(seeds)) == 1000
    assert max(seeds) > 2**62  # the full 63 bits are used


def test_set_random_seed_accepts_numpy_ints():
    utils.set_random_seed(np.int64(7))
    a = _draws()
    utils.set_random_seed(7)
    assert _draws() == a


@pytest.mark.parametrize("seed", [1.5, "3", None, [1]])
def test_set_random_seed_rejects_non_integers(tf_keras, seed):
    with pytest.raises(ValueError) as ours:
        utils.set_random_seed(seed)
    with pytest.raises(ValueError) as theirs:
        tf_keras.utils.set_random_seed(seed)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_set_random_seed_out_of_range_changes_nothing(seed):
    utils.set_random_seed(5)
    expected = _draws()
    utils.set_random_seed(5)
    with pytest.raises(ValueError):
        utils.set_random_seed(seed)
    assert _draws() == expected
