"""Plain-NumPy versions of every kernel, computed in float64: the judge for tests/test_*.py.

Written from the formulas (Keras 3 for activations, losses and optimizers), never from the
kernels, so a test that compares the two can fail.
"""

import math

import numpy as np

EPS = 1e-7  # Keras's backend epsilon

# ---- gemm -------------------------------------------------------------------------------
def gemm(a, b, c, trans_a, trans_b, alpha, beta):
    """alpha * op(a) @ op(b) + beta * c in float64, op = transpose when trans_*.

    beta == 0 means c is not read (it may hold NaN), as in BLAS.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    product = alpha * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    if beta == 0:
        return product
    return product + beta * np.asarray(c, dtype=np.float64)


def gemm_abs(a, b, c, trans_a, trans_b, alpha, beta):
    """|alpha| |op(a)| @ |op(b)| + |beta| |c|: the scale of the rounding error of gemm."""
    return gemm(np.abs(a), np.abs(b), np.abs(c), trans_a, trans_b, abs(alpha), abs(beta))


def gemm_bf16(a, b):
    """a @ b on bfloat16-rounded inputs (``round_bf16``, below), in float64: each product of
    two bfloat16 values is exact in float32, so a bfloat16 GEMM's only error is its float32
    accumulation's, whatever the order."""
    return round_bf16(a).astype(np.float64) @ round_bf16(b).astype(np.float64)


# ---- activations ------------------------------------------------------------------------
from scipy import special as _special  # float64 expit, ndtr, softmax, logsumexp

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _relu_keras(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.activations.relu: thresholded, clipped, with a slope below the threshold."""
    y = np.where(x > threshold, x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * np.maximum(threshold - x, 0.0)
    return y


def _relu_keras_grad(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """What TensorFlow's autodiff gives for Keras's relu, kinks included: Keras takes the
    leaky_relu op (gradient slope at 0) when only the slope is set, the relu6 op (gradient 0
    at 0 and 6) for max_value=6 without threshold, else pieces whose clip passes both bounds."""
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return np.where(x > 0, 1.0, negative_slope)
    d = x > threshold
    if max_value is not None:
        if threshold == 0.0 and max_value == 6:
            d &= x < 6
        else:
            d &= (x >= 0) & (x <= max_value)
    d = d.astype(np.float64)
    if negative_slope != 0.0:
        d = np.where(x < threshold, negative_slope, d)
    return d


def _gelu_u(x):
    return math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)


def activation_ref(name, x, negative_slope=0.0, max_value=None, threshold=0.0, alpha=1.0):
    """Keras 3's activation `name` of x (float64); softmax/log_softmax along the last axis."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        if name == "linear":
            return x.copy()
        if name == "relu":
            return _relu_keras(x, negative_slope, max_value, threshold)
        if name == "relu6":
            return np.minimum(np.maximum(x, 0.0), 6.0)
        if name == "leaky_relu":
            return np.where(x > 0, x, negative_slope * x)
        if name == "elu":
            return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))
        if name == "selu":
            return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
        if name == "sigmoid":
            return _special.expit(x)
        if name == "hard_sigmoid":
            return np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
        if name == "hard_silu":
            return x * np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
        if name == "silu":
            return x * _special.expit(x)
        if name == "gelu":  # 0.5 x (1 + erf(x / sqrt 2)) = x Phi(x)
            return x * _special.ndtr(x)
        if name == "gelu_approximate":  # 0.5 x (1 + tanh u) = x sigmoid(2u)
            return x * _special.expit(2 * _gelu_u(x))
        if name == "tanh":
            return np.tanh(x)
        if name == "softplus":
            return np.logaddexp(0.0, x)
        if name == "softsign":
            return x / (1.0 + np.abs(x))
        if name == "exponential":
            return np.exp(x)
        if name == "mish":
            return x * np.tanh(np.logaddexp(0.0, x))
        if name == "softmax":
            return _special.softmax(x, axis=-1)
        if name == "log_softmax":  # shifted first: x - logsumexp(x) drops log 2 at x = 1e30
            shifted = x - np.max(x, axis=-1, keepdims=True)
            return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    raise ValueError(name)


def activation_grad_ref(name, x, g, negative_slope=0.0, max_value=None, threshold=0.0, alpha=1.0):
    """dL/dx from g = dL/da for a = activation_ref(name, x), with TensorFlow's kink gradients:
    relu'(0) = 0, relu6' = 0 at 0 and 6, leaky_relu'(0) = slope, elu'(0) = alpha,
    selu'(0) = scale, hard_sigmoid' = 0 at +-3."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if name == "softmax":
            s = _special.softmax(x, axis=-1)
            return s * (g - np.sum(g * s, axis=-1, keepdims=True))
        if name == "log_softmax":
            return g - _special.softmax(x, axis=-1) * np.sum(g, axis=-1, keepdims=True)
        inside3 = (x > -3) & (x < 3)
        if name == "linear":
            d = np.ones_like(x)
        elif name == "relu":
            d = _relu_keras_grad(x, negative_slope, max_value, threshold)
        elif name == "relu6":
            d = ((x > 0) & (x < 6)).astype(np.float64)
        elif name == "leaky_relu":
            d = np.where(x > 0, 1.0, negative_slope)
        elif name == "elu":
            d = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))
        elif name == "selu":
            d = np.where(x < 0, SELU_SCALE * SELU_ALPHA * np.exp(np.minimum(x, 0.0)), SELU_SCALE)
        elif name == "sigmoid":
            d = _special.expit(x) * _special.expit(-x)
        elif name == "hard_sigmoid":
            d = np.where(inside3, 1 / 6, 0.0)
        elif name == "hard_silu":
            d = np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0 + np.where(inside3, x / 6, 0.0)
        elif name == "silu":
            d = _special.expit(x) * (1 + x * _special.expit(-x))
        elif name == "gelu":
            d = _special.ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        elif name == "gelu_approximate":
            xc = np.clip(x, -30, 30)  # beyond, 2u saturates sigmoid and x^3 would overflow
            u2 = 2 * _gelu_u(xc)
            du2 = 2 * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * xc * xc)
            d = _special.expit(u2) + xc * du2 * _special.expit(u2) * _special.expit(-u2)
        elif name == "tanh":
            d = 1 / np.cosh(x) ** 2
        elif name == "softplus":
            d = _special.expit(x)
        elif name == "softsign":
            d = 1 / (1 + np.abs(x)) ** 2
        elif name == "exponential":
            d = np.exp(x)
        elif name == "mish":
            t = np.tanh(np.logaddexp(0.0, x))
            d = t + x * (1 - t * t) * _special.expit(x)
        else:
            raise ValueError(name)
        return g * d


# ---- losses -----------------------------------------------------------------------------
def _clip_with_mask(x, lo, hi):
    """x clipped to [lo, hi] and the mask where TF's clip_by_value passes the gradient."""
    return np.clip(x, lo, hi), (x >= lo) & (x <= hi)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _bce_from_logits(y, z):
    return np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))


def _bce_probabilities(y, p):
    pc, inside = _clip_with_mask(p, EPS, 1.0 - EPS)
    value = -(y * np.log(pc) + (1.0 - y) * np.log(1.0 - pc))
    return value, np.where(inside, (pc - y) / (pc * (1.0 - pc)), 0.0)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _unit_rows(x):
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, EPS), norm


def _focal(y, p, z, gamma, alpha, balance):
    """Binary focal terms; z holds logits (p = sigmoid(z)) or is None for probabilities."""
    if z is None:
        bce, dbce = _bce_probabilities(y, p)
        dp = np.ones_like(p)
    else:
        bce, dbce = _bce_from_logits(y, z), p - y
        dp = p * (1.0 - p)
    q = y + p - 2.0 * y * p  # 1 - p_t
    factor = q**gamma
    dfactor = gamma * q ** (gamma - 1.0) * (1.0 - 2.0 * y) * dp if gamma else 0.0
    w = y * alpha + (1.0 - y) * (1.0 - alpha) if balance else 1.0
    return w * factor * bce, w * (dfactor * bce + factor * dbce)


def _categorical_focal(ys, p, gamma, alpha):
    """Categorical focal cross-entropy of probabilities p (renormalized, clipped) per row, and
    its gradient: d/dq of alpha (1 - q)^gamma (-ys log q), 0 where q is clipped, then through
    q = p / sum(p)."""
    s = p.sum(-1, keepdims=True)
    q = p / s
    qc, inside = _clip_with_mask(q, EPS, 1.0 - EPS)
    ce = -ys * np.log(qc)
    value = (alpha * (1.0 - qc) ** gamma * ce).sum(-1)
    dq = alpha * ((1.0 - qc) ** gamma * (-ys / qc)
                  - (gamma * (1.0 - qc) ** (gamma - 1.0) * ce if gamma else 0.0))
    a = np.where(inside, dq, 0.0)
    return value, (a - (a * q).sum(-1, keepdims=True)) / s


def overlap_reference(name, y_true, y_pred, alpha=0.5, beta=0.5, axis=-1):
    """Dice ("dice") or Tversky ("tversky") over the last axis (values (n,), d value_i / d
    y_pred_i) or, with axis=None, over everything (one value, its gradient of shape (n, c)).
    Dice: 1 - 2 TP / (sum y + sum p + eps); Tversky: 1 - TP / (TP + alpha FP + beta FN + eps),
    TP = sum y p, FP = sum y (1 - p), FN = sum p (1 - y): quotient rule on each."""
    y = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    keep = axis is not None

    def total(x):
        return x.sum(-1, keepdims=True) if keep else x.sum()

    tp = total(y * p)
    if name == "dice":
        den, dden = total(y) + total(p) + EPS, np.ones_like(p)
        value, grad = 1.0 - 2.0 * tp / den, -2.0 * (y * den - tp * dden) / den**2
    elif name == "tversky":
        den = tp + alpha * total(y * (1.0 - p)) + beta * total(p * (1.0 - y)) + EPS
        dden = y - alpha * y + beta * (1.0 - y)
        value, grad = 1.0 - tp / den, -(y * den - tp * dden) / den**2
    else:
        raise ValueError(name)
    return (value[:, 0] if keep else value), grad


def loss_reference(name, y_true, y_pred, label_smoothing=0.0, delta=1.0, gamma=2.0, alpha=0.25,
                   apply_class_balancing=False, from_logits=False, hinge_binary_labels=False,
                   beta=0.5):
    """(values of shape (n,), d values / d y_pred of shape (n, c)) of a dense-label loss.

    The gradient is the one TF's autodiff gives: zero where a clip is active, the fused
    softmax form's softmax - y. Names are fastnn._kernels._losses.LOSS_IDS keys.
    """
    y = np.asarray(y_true, np.float64)
    p = np.asarray(y_pred, np.float64)
    c = p.shape[-1]
    ls = label_smoothing
    if name == "mean_squared_error":
        terms, d = (p - y) ** 2, 2.0 * (p - y)
    elif name == "mean_absolute_error":
        terms, d = np.abs(p - y), np.sign(p - y)
    elif name == "mean_absolute_percentage_error":
        m = np.maximum(np.abs(y), EPS)
        terms, d = 100.0 * np.abs(y - p) / m, 100.0 * np.sign(p - y) / m
    elif name == "mean_squared_logarithmic_error":
        diff = np.log(np.maximum(p, EPS) + 1.0) - np.log(np.maximum(y, EPS) + 1.0)
        terms = diff**2
        d = np.where(p >= EPS, 2.0 * diff / (np.maximum(p, EPS) + 1.0), 0.0)
    elif name in ("hinge", "squared_hinge"):
        ys = 2.0 * y - 1.0 if hinge_binary_labels else y
        margin = 1.0 - ys * p
        if name == "hinge":
            terms, d = np.maximum(margin, 0.0), np.where(margin >= 0.0, -ys, 0.0)
        else:
            terms, d = np.maximum(margin, 0.0) ** 2, -2.0 * ys * np.maximum(margin, 0.0)
    elif name == "log_cosh":
        x = p - y
        terms, d = x + np.logaddexp(0.0, -2.0 * x) - math.log(2.0), np.tanh(x)
    elif name == "huber":
        e = p - y
        small = np.abs(e) <= delta
        terms = np.where(small, 0.5 * e**2, delta * np.abs(e) - 0.5 * delta**2)
        d = np.where(small, e, delta * np.sign(e))
    elif name == "poisson":
        terms, d = p - y * np.log(p + EPS), 1.0 - y / (p + EPS)
    elif name == "binary_crossentropy":
        terms, d = _bce_probabilities(y * (1.0 - ls) + 0.5 * ls, p)
    elif name == "sigmoid_binary_crossentropy":
        ys = y * (1.0 - ls) + 0.5 * ls
        terms, d = _bce_from_logits(ys, p), _sigmoid(p) - ys
    elif name == "binary_focal_crossentropy":
        ys = y * (1.0 - ls) + 0.5 * ls
        if from_logits:
            terms, d = _focal(ys, _sigmoid(p), p, gamma, alpha, apply_class_balancing)
        else:
            terms, d = _focal(ys, p, None, gamma, alpha, apply_class_balancing)
    elif name == "kl_divergence":
        yc = np.clip(y, EPS, 1.0)
        pc, inside = _clip_with_mask(p, EPS, 1.0)
        return (yc * np.log(yc / pc)).sum(-1), np.where(inside, -yc / pc, 0.0)
    elif name == "categorical_crossentropy":
        ys = y * (1.0 - ls) + ls / c
        s = p.sum(-1, keepdims=True)
        q = p / s
        qc, inside = _clip_with_mask(q, EPS, 1.0 - EPS)
        a = np.where(inside, -ys / qc, 0.0)  # d/dq, then through q = p / sum(p)
        return -(ys * np.log(qc)).sum(-1), (a - (a * q).sum(-1, keepdims=True)) / s
    elif name == "softmax_categorical_crossentropy":
        ys = y * (1.0 - ls) + ls / c
        return -(ys * _log_softmax(p)).sum(-1), _softmax(p) - ys
    elif name == "categorical_focal_crossentropy":
        return _categorical_focal(y * (1.0 - ls) + ls / c, p, gamma, alpha)
    elif name == "softmax_categorical_focal_crossentropy":
        # Keras: softmax, then the probability form (which renormalizes and clips); the
        # gradient goes back through the softmax: q (g - sum g q).
        q = _softmax(p)
        value, g = _categorical_focal(y * (1.0 - ls) + ls / c, q, gamma, alpha)
        return value, q * (g - (g * q).sum(-1, keepdims=True))
    elif name in ("dice", "tversky"):
        return overlap_reference(name, y, p, alpha, beta)
    elif name == "categorical_hinge":
        pos = (y * p).sum(-1)
        masked = (1.0 - y) * p
        neg = masked.max(-1)
        margin = neg - pos + 1.0
        at_max = masked == neg[:, None]
        dneg = (1.0 - y) * at_max / at_max.sum(-1, keepdims=True)
        return np.maximum(margin, 0.0), np.where(margin[:, None] >= 0.0, dneg - y, 0.0)
    elif name == "cosine_similarity":
        yu, _ = _unit_rows(y)
        pu, norm = _unit_rows(p)
        value = -(yu * pu).sum(-1)
        above = norm >= EPS
        d = np.where(above, -(yu + value[:, None] * pu) / np.maximum(norm, EPS), -yu / EPS)
        return value, d
    else:
        raise ValueError(name)
    return terms.mean(-1), d / c


def sparse_loss_reference(name, labels, y_pred):
    """(values, d values / d y_pred) of sparse categorical cross-entropy on integer labels.

    On probabilities Keras clips to [eps, 1 - eps] and applies a softmax cross-entropy to the
    logs; "softmax_sparse_categorical_crossentropy" takes logits.
    """
    p = np.asarray(y_pred, np.float64)
    rows = np.arange(p.shape[0])
    t = np.asarray(labels).astype(np.int64)
    onehot = np.zeros_like(p)
    onehot[rows, t] = 1.0
    if name == "softmax_sparse_categorical_crossentropy":
        return -_log_softmax(p)[rows, t], _softmax(p) - onehot
    if name != "sparse_categorical_crossentropy":
        raise ValueError(name)
    pc, inside = _clip_with_mask(p, EPS, 1.0 - EPS)
    logits = np.log(pc)
    return -_log_softmax(logits)[rows, t], np.where(inside, (_softmax(logits) - onehot) / pc, 0.0)

# ---- optimizers -------------------------------------------------------------------------
# Keras 3's update rules (shared/reference/keras.md 5.2), one step each, in place on float64
# arrays: `slots` maps slot names to arrays (Nadam also keeps its scalar "u_product" there),
# t = iterations + 1. Decoupled weight decay comes first, as in Keras's apply().
def clip_by_norm(g, clipnorm):
    """Per-tensor clipnorm: g * c / max(||g||_2, c)."""
    return g * clipnorm / max(l2_norm(g), clipnorm)


def clip_by_global_norm(grads, clipnorm):
    """global_clipnorm: every gradient times c * min(1 / ||G||_2, 1 / c)."""
    norm = l2_norm(np.concatenate([g.ravel() for g in grads]))
    scale = clipnorm * min(1.0 / norm, 1.0 / clipnorm) if norm > 0 else 1.0
    return [g * scale for g in grads]


def _decay(w, lr, weight_decay):
    w -= w * weight_decay * lr


def sgd_step(w, g, slots, t, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    _decay(w, lr, weight_decay)
    if momentum == 0:
        w -= lr * g
        return
    m = slots["m"]
    m[...] = momentum * m - lr * g
    w += momentum * m - lr * g if nesterov else m


def adam_step(w, g, slots, t, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=EPS, amsgrad=False,
              weight_decay=0.0):
    _decay(w, lr, weight_decay)
    m, v = slots["m"], slots["v"]
    m += (g - m) * (1 - beta_1)
    v += (g * g - v) * (1 - beta_2)
    alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    if amsgrad:
        np.maximum(slots["vhat"], v, out=slots["vhat"])
        v = slots["vhat"]
    w -= alpha * m / (np.sqrt(v) + epsilon)


def rmsprop_step(w, g, slots, t, lr=0.001, rho=0.9, momentum=0.0, epsilon=EPS, centered=False,
                 weight_decay=0.0):
    _decay(w, lr, weight_decay)
    v = slots["v"]
    v[...] = rho * v + (1 - rho) * g * g
    if centered:
        a = slots["avg_g"]
        a[...] = rho * a + (1 - rho) * g
        denominator = v - a * a + epsilon
    else:
        denominator = v + epsilon
    increment = lr * g / np.sqrt(denominator)
    if momentum > 0:
        mom = slots["mom"]
        mom[...] = momentum * mom + increment
        w -= mom
    else:
        w -= increment


def adagrad_step(w, g, slots, t, lr=0.001, epsilon=EPS, weight_decay=0.0):
    _decay(w, lr, weight_decay)
    acc = slots["acc"]
    acc += g * g
    w -= lr * g / np.sqrt(acc + epsilon)


def adadelta_step(w, g, slots, t, lr=0.001, rho=0.95, epsilon=EPS, weight_decay=0.0):
    _decay(w, lr, weight_decay)
    acc_g, acc_delta = slots["acc_g"], slots["acc_delta"]
    acc_g[...] = rho * acc_g + (1 - rho) * g * g
    delta = -np.sqrt(acc_delta + epsilon) * g / np.sqrt(acc_g + epsilon)
    acc_delta[...] = rho * acc_delta + (1 - rho) * delta * delta
    w += lr * delta


def adamax_step(w, g, slots, t, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=EPS,
                weight_decay=0.0):
    _decay(w, lr, weight_decay)
    m, u = slots["m"], slots["u"]
    m += (g - m) * (1 - beta_1)
    u[...] = np.maximum(beta_2 * u, np.abs(g))
    w -= lr * m / ((1 - beta_1**t) * (u + epsilon))


def nadam_step(w, g, slots, t, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=EPS,
               weight_decay=0.0):
    """slots["u_product"] is Keras's _u_product: the product of mu_k for k <= the last step."""
    _decay(w, lr, weight_decay)
    m, v = slots["m"], slots["v"]
    mu_t = beta_1 * (1 - 0.5 * 0.96**t)
    mu_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
    product = slots["u_product"] * mu_t
    slots["u_product"] = product
    m += (g - m) * (1 - beta_1)
    v += (g * g - v) * (1 - beta_2)
    m_hat = mu_next * m / (1 - product * mu_next) + (1 - mu_t) * g / (1 - product)
    v_hat = v / (1 - beta_2**t)
    w -= lr * m_hat / (np.sqrt(v_hat) + epsilon)


def lion_step(w, g, slots, t, lr=0.001, beta_1=0.9, beta_2=0.99, weight_decay=0.0):
    _decay(w, lr, weight_decay)
    m = slots["m"]
    w -= lr * np.sign(beta_1 * m + (1 - beta_1) * g)
    m[...] = beta_2 * m + (1 - beta_2) * g

# ---- reductions -------------------------------------------------------------------------
# Sums are exactly rounded (math.fsum), so a comparison measures only the kernel's error.
def sum_squares(x):
    return math.fsum((np.asarray(x, dtype=np.float64).ravel() ** 2).tolist())


def l2_norm(x):
    return math.sqrt(sum_squares(x))


def column_sums(x):
    x = np.asarray(x, dtype=np.float64)
    return np.array([math.fsum(column) for column in x.T.tolist()])


def all_finite(x):
    return bool(np.isfinite(x).all())

# ---- rng --------------------------------------------------------------------------------
# Counter-based RNG (csrc/rng.h), from Salmon et al., "Parallel random numbers: as easy as
# 1, 2, 3" (SC'11) and the counter layout and conversions documented in rng.h.

PHILOX_M = (0xD2511F53, 0xCD9E8D57)  # round multipliers of Philox4x32
PHILOX_W = (0x9E3779B9, 0xBB67AE85)  # Weyl key increments
_MASK32 = 0xFFFFFFFF


def philox4x32_10(counters, key):
    """Philox4x32-10 of counters (array-like (..., 4) of 32-bit words) under key (k0, k1).

    Each round: (x0, x1, x2, x3) -> (hi(M1*x2) ^ x1 ^ k0, lo(M1*x2), hi(M0*x0) ^ x3 ^ k1,
    lo(M0*x0)); the key gains (W0, W1) mod 2^32 after every round.
    """
    c = np.asarray(counters, dtype=np.uint64)
    x0, x1, x2, x3 = (c[..., i] for i in range(4))
    k0, k1 = int(key[0]), int(key[1])
    for _ in range(10):
        p0 = x0 * np.uint64(PHILOX_M[0])  # < 2^64: exact in uint64
        p1 = x2 * np.uint64(PHILOX_M[1])
        x0, x1, x2, x3 = (
            (p1 >> np.uint64(32)) ^ x1 ^ np.uint64(k0),
            p1 & np.uint64(_MASK32),
            (p0 >> np.uint64(32)) ^ x3 ^ np.uint64(k1),
            p0 & np.uint64(_MASK32),
        )
        k0 = (k0 + PHILOX_W[0]) & _MASK32
        k1 = (k1 + PHILOX_W[1]) & _MASK32
    return np.stack([x0, x1, x2, x3], axis=-1).astype(np.uint32)


def rng_blocks(seed, step, layer, blocks):
    """The Philox blocks (len(blocks), 4) of stream (seed, step, layer): key = seed, counter =
    (block low 32 bits, block bits 32..47 | layer << 16, step low 32 bits, step high 32 bits)."""
    b = np.asarray(blocks, dtype=np.uint64)
    counters = np.stack(
        [
            b & np.uint64(_MASK32),
            ((b >> np.uint64(32)) & np.uint64(0xFFFF)) | np.uint64(layer << 16),
            np.full_like(b, step & _MASK32),
            np.full_like(b, step >> 32),
        ],
        axis=-1,
    )
    return philox4x32_10(counters, (seed & _MASK32, seed >> 32))


def rng_elements(shape, row0):
    """Element indices of an (n, c) block whose first row is global row row0."""
    n, c = shape
    return (np.uint64(row0) + np.arange(n, dtype=np.uint64))[:, None] * np.uint64(c) + np.arange(
        c, dtype=np.uint64
    )


def rng_dropout_keep(shape, rate, seed, step, layer, row0):
    """Dropout's mask: element e is kept iff word e % 4 of block e // 4, over 2^32, is >= rate."""
    e = rng_elements(shape, row0).ravel()
    words = rng_blocks(seed, step, layer, e // np.uint64(4))
    w = words[np.arange(e.size), (e % np.uint64(4)).astype(np.intp)]
    return (w.astype(np.float64) / 2.0**32 >= rate).reshape(shape)


def _u01_pair(hi, lo, bits):
    """floor((hi * 2^32 + lo) / 2^(64 - bits)) / 2^bits: a uniform in [0, 1) with `bits` bits."""
    v = (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)
    return (v >> np.uint64(64 - bits)).astype(np.float64) * 2.0**-bits


def rng_uniform(shape, seed, step, layer, row0, bits=53):
    """Uniforms: element e takes words 2(e%2), 2(e%2)+1 of block e // 2 (53 bits: float64,
    24 bits: float32)."""
    e = rng_elements(shape, row0).ravel()
    words = rng_blocks(seed, step, layer, e // np.uint64(2))
    lane = 2 * (e % np.uint64(2)).astype(np.intp)
    rows = np.arange(e.size)
    return _u01_pair(words[rows, lane], words[rows, lane + 1], bits).reshape(shape)


def rng_normal(shape, seed, step, layer, row0):
    """Standard normals, Box-Muller on block e // 2: U1 from words 0-1, U2 from words 2-3 (53
    bits each), r = sqrt(-2 log(1 - U1)); even e: r cos(2 pi U2), odd e: r sin(2 pi U2)."""
    e = rng_elements(shape, row0).ravel()
    words = rng_blocks(seed, step, layer, e // np.uint64(2))
    u1 = _u01_pair(words[:, 0], words[:, 1], 53)
    u2 = _u01_pair(words[:, 2], words[:, 3], 53)
    r = np.sqrt(-2.0 * np.log(1.0 - u1))
    t = 2.0 * np.pi * u2
    z = np.where(e % np.uint64(2) == 0, r * np.cos(t), r * np.sin(t))
    return z.reshape(shape)


def dropout(x, rate, seed, step, layer, row0):
    """Keras's inverted dropout: x / (1 - rate) where kept, else 0; rate 1 gives zeros."""
    x = np.asarray(x, dtype=np.float64)
    if rate >= 1.0:
        return np.zeros_like(x)
    keep = rng_dropout_keep(x.shape, rate, seed, step, layer, row0)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(keep, x / (1.0 - rate), 0.0)


def gaussian_noise(x, stddev, seed, step, layer, row0):
    """x + stddev * N(0, 1)."""
    x = np.asarray(x, dtype=np.float64)
    return x + stddev * rng_normal(x.shape, seed, step, layer, row0)


def gaussian_dropout_factor(shape, rate, seed, step, layer, row0):
    """1 + sqrt(rate / (1 - rate)) * N(0, 1): Gaussian dropout's multiplier (rate < 1)."""
    return 1.0 + math.sqrt(rate / (1.0 - rate)) * rng_normal(shape, seed, step, layer, row0)


def gaussian_dropout(x, rate, seed, step, layer, row0):
    """x * N(1, rate / (1 - rate))."""
    x = np.asarray(x, dtype=np.float64)
    return x * gaussian_dropout_factor(x.shape, rate, seed, step, layer, row0)


# ---- int8 quantized Dense (Keras 3's quantize("int8")) ----------------------------------------


def quantize_rows_int8(x):
    """Keras's AbsMax per row in float32: (q int8, scale float32 of shape (rows,))."""
    x = np.asarray(x, dtype=np.float32)
    amax = np.abs(x).max(axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
    scale = np.float32(127.0) / (amax + np.float32(1e-7))
    q = np.rint(x * scale[:, None])          # rint: half to even, as Keras's round
    return np.clip(q, -127, 127).astype(np.int8), scale.astype(np.float32)


def int8_matmul(q, w):
    """The exact integer product of int8 matrices (int64, so no overflow can hide)."""
    return np.asarray(q, dtype=np.int64) @ np.asarray(w, dtype=np.int64)


def int8_dense(x, w, kernel_scale):
    """Keras's int8 Dense before bias: float32(q @ w) / (kernel_scale * row_scale)."""
    q, xs = quantize_rows_int8(x)
    acc = int8_matmul(q, w).astype(np.float32)
    return acc / (np.asarray(kernel_scale, np.float32)[None, :] * xs[:, None])


# ---- bfloat16 products (mixed_bfloat16) ----------------------------------------------------

def round_bf16(x):
    """float32 -> the nearest bfloat16 (ties to even; NaN stays NaN; float32 denormals -> 0,
    as AMX reads them), returned as float32. Integer arithmetic on the bits."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    is_nan = (u & 0x7FFFFFFF) > 0x7F800000
    rounded = np.where(is_nan, (u & 0xFFFF0000) | 0x00400000, rounded)
    rounded = np.where((u & 0x7F800000) == 0, u & 0x80000000, rounded)
    return rounded.astype(np.uint32).view(np.float32).reshape(np.shape(x))


def bf16_matmul(a, b, block=512, step=32):
    """a @ b as AMX-BF16's tdpbf16ps computes it on bfloat16-rounded inputs: k in blocks of
    ceil(k / ceil(k / block)); in each block, per step of 32 elements, one float32 chain over the
    even elements and one over the odd ones (counted from the block's start), then
    sum += even + odd; C = sum of the first block, then C += each next block's sum. float32
    throughout, rounding each operation (products of bfloat16 are exact)."""
    a, b = round_bf16(a), round_bf16(b)
    m, k = a.shape
    n = b.shape[1]
    kc = -(-k // -(-k // block)) if k else 0
    c = np.zeros((m, n), np.float32)
    for p0 in range(0, k, kc):
        p1 = min(p0 + kc, k)
        total = np.zeros((m, n), np.float32)
        for s0 in range(p0, p1, step):
            chains = [np.zeros((m, n), np.float32), np.zeros((m, n), np.float32)]
            for p in range(s0, min(s0 + step, p1)):
                chain = chains[(p - p0) % 2]
                chain += np.multiply.outer(a[:, p], b[p])
            total += chains[0] + chains[1]
        if p0 == 0:
            c = total
        else:
            c += total
    return c
