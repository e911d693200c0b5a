"""Mixed precision (``keras.mixed_precision``): bfloat16 matrix products, float32 weights.

``set_global_policy("mixed_bfloat16")`` (or ``dtype="mixed_bfloat16"`` on a layer) makes each
Dense layer round the inputs of its three products (forward, weight gradient, input gradient)
to bfloat16 and accumulate in float32; weights, optimizer state, activations, losses, metrics
and ``predict``'s output stay float32. fastnn runs the policies ``"float32"``, ``"float64"``
and ``"mixed_bfloat16"``; the others Keras names (``"mixed_float16"``, ``"float16"``,
``"bfloat16"``) are refused with a ValueError. Keras does not wrap optimizers for bfloat16
(no loss scaling is needed), so there is no ``LossScaleOptimizer`` here.
"""

from fastnn.dtype_policies import (
    DTypePolicy,
    dtype_policy,
    set_dtype_policy,
)

Policy = DTypePolicy
global_policy = dtype_policy
set_global_policy = set_dtype_policy

__all__ = ["DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy",
           "set_global_policy"]
