"""Type stub of fastnn._kernels._losses (see _losses.pyx for the design note)."""

import enum
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

class fnn_loss_id(enum.IntEnum):
    FNN_LOSS_MEAN_SQUARED_ERROR = 0
    FNN_LOSS_MEAN_ABSOLUTE_ERROR = 1
    FNN_LOSS_MEAN_ABSOLUTE_PERCENTAGE_ERROR = 2
    FNN_LOSS_MEAN_SQUARED_LOGARITHMIC_ERROR = 3
    FNN_LOSS_SQUARED_HINGE = 4
    FNN_LOSS_HINGE = 5
    FNN_LOSS_CATEGORICAL_HINGE = 6
    FNN_LOSS_LOG_COSH = 7
    FNN_LOSS_CATEGORICAL_CROSSENTROPY = 8
    FNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY = 9
    FNN_LOSS_BINARY_CROSSENTROPY = 10
    FNN_LOSS_KL_DIVERGENCE = 11
    FNN_LOSS_POISSON = 12
    FNN_LOSS_COSINE_SIMILARITY = 13
    FNN_LOSS_HUBER = 14
    FNN_LOSS_BINARY_FOCAL_CROSSENTROPY = 15
    FNN_LOSS_SOFTMAX_CATEGORICAL_CROSSENTROPY = 16
    FNN_LOSS_SOFTMAX_SPARSE_CATEGORICAL_CROSSENTROPY = 17
    FNN_LOSS_SIGMOID_BINARY_CROSSENTROPY = 18
    FNN_LOSS_CATEGORICAL_FOCAL_CROSSENTROPY = 19
    FNN_LOSS_SOFTMAX_CATEGORICAL_FOCAL_CROSSENTROPY = 20
    FNN_LOSS_DICE = 21
    FNN_LOSS_TVERSKY = 22
    FNN_LOSS_DICE_BATCH = 23
    FNN_LOSS_TVERSKY_BATCH = 24
    FNN_LOSS_COUNT = 25

LOSS_IDS: dict[str, fnn_loss_id]

_Float: TypeAlias = np.float32 | np.float64

def loss_forward_backward(
    loss: int,
    y_true: npt.NDArray[_Float],
    y_pred: npt.NDArray[_Float],
    sample_weight: npt.NDArray[_Float] | None,
    scale: float,
    values_out: npt.NDArray[_Float],
    grad_out: npt.NDArray[_Float] | None,
    label_smoothing: float = 0.0,
    delta: float = 1.0,
    gamma: float = 2.0,
    alpha: float = 0.25,
    apply_class_balancing: bool = False,
    from_logits: bool = False,
    hinge_binary_labels: bool = False,
    n_threads: int = 1,
    beta: float = 0.5,
) -> None: ...
def sparse_loss_forward_backward(
    loss: int,
    labels: npt.NDArray[np.int32 | np.int64 | np.float32 | np.float64],
    y_pred: npt.NDArray[_Float],
    sample_weight: npt.NDArray[_Float] | None,
    scale: float,
    values_out: npt.NDArray[_Float],
    grad_out: npt.NDArray[_Float] | None,
    n_threads: int = 1,
) -> None: ...
