"""Same bits on 1 and 2 threads: the check several test files make of whole training runs."""

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn


def weights_after(threads: int, train) -> list:
    """The weights of the model `train()` builds and fits, with fastnn (and OpenMP) on
    `threads` threads."""
    with threadpool_limits(threads, user_api="openmp"):
        fastnn.config.set_num_threads(threads)
        try:
            return train().get_weights()
        finally:
            fastnn.config.set_num_threads(None)


def assert_same_bits_on_one_and_two_threads(train) -> None:
    one, two = weights_after(1, train), weights_after(2, train)
    assert len(one) == len(two)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
