"""Dropout, GaussianNoise and GaussianDropout: random in training, identity in inference.

Their random numbers come from the engine's counter-based generator, keyed by the layer's seed,
the training step and the element, so a run is reproducible for any thread count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import _random
from fastnn.layers.base import Layer, check_rate


class _NoiseLayer(Layer):
    kind = ""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None, got {seed!r}.")
        self.seed = seed
        # Without a seed, draw one now from fastnn's state (reproducible after
        # fastnn.utils.set_random_seed).
        self._stream_seed = seed if seed is not None else _random.next_seed()
        self.built = True

    def _amount(self) -> float:
        raise NotImplementedError

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        if self._amount() == 0:
            return []
        return [{"kind": self.kind, "n_out": width, "rate": self._amount(),
                 "seed": self._stream_seed}]


class Dropout(_NoiseLayer):
    """Inverted dropout: in training, zero each input with probability ``rate`` and scale the
    rest by ``1/(1-rate)`` (Srivastava et al., 2014)."""

    kind = "dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        self.rate = check_rate(rate, "rate", "Dropout")
        if noise_shape is not None:
            raise ValueError("fastnn's Dropout does not support `noise_shape`.")
        self.noise_shape = None
        super().__init__(seed=seed, **kwargs)

    def _amount(self) -> float:
        return self.rate

    def call(self, inputs, training=None):
        """Dropout as Python code, for subclasses whose ``call`` calls it (the engine runs
        the layer itself otherwise): ``MCDropout.call`` returning
        ``super().call(inputs, training=True)`` drops in predict too, as in Keras."""
        if not training or self.rate == 0:
            return inputs
        keep = _random.generator().random(np.shape(inputs)) >= self.rate
        return inputs * (keep / (1.0 - self.rate)).astype(getattr(inputs, "dtype", np.float32))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class GaussianNoise(_NoiseLayer):
    """Adds N(0, stddev²) noise in training."""

    kind = "gaussian_noise"

    def __init__(self, stddev, seed=None, **kwargs):
        self.stddev = check_rate(stddev, "stddev", "GaussianNoise")
        super().__init__(seed=seed, **kwargs)

    def _amount(self) -> float:
        return self.stddev

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_NoiseLayer):
    """Multiplies by N(1, rate/(1-rate)) noise in training."""

    kind = "gaussian_dropout"

    def __init__(self, rate, seed=None, **kwargs):
        self.rate = check_rate(rate, "rate", "GaussianDropout")
        if self.rate == 1:
            raise ValueError("GaussianDropout needs rate < 1 (its noise has variance "
                             "rate / (1 - rate)).")
        super().__init__(seed=seed, **kwargs)

    def _amount(self) -> float:
        return self.rate

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_NoiseLayer):
    """Dropout that keeps SELU's self-normalization (Klambauer et al., 2017): in training,
    each input is kept with probability ``1 - rate`` or set to SELU's saturation value
    −λα, then ``a·x + b`` restores the mean and variance."""

    kind = "alpha_dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        self.rate = check_rate(rate, "rate", "AlphaDropout")
        if self.rate == 1:   # its affine map divides by (1 - rate): Keras gives NaN
            raise ValueError("AlphaDropout needs rate < 1 (its scale is "
                             "((1 - rate)(1 + rate·α'²))^-1/2).")
        if noise_shape is not None:
            raise ValueError("fastnn's AlphaDropout does not support `noise_shape` (one "
                             "draw per element only).")
        self.noise_shape = None
        super().__init__(seed=seed, **kwargs)

    def _amount(self) -> float:
        return self.rate

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}
