# The engine's op walk: every op kind forward and backward. Included by _engine.pyx (one
# extension module); see its design note for the graph and gradient rules.

cdef inline const floating *_input(Engine e, floating *ws, const floating *x, Op *op, int s,
                                   Py_ssize_t rows) noexcept nogil:
    """Input s of op: an earlier op's output, or the model's input x."""
    cdef int p = op.inp[s]
    return x if p < 0 else ws + e.ops[p].out * rows


cdef inline Py_ssize_t _input_width(Engine e, Op *op, int s) noexcept nogil:
    return e.in_dim if op.inp[s] < 0 else e.ops[op.inp[s]].n_out


cdef inline floating *_gout(Engine e, floating *ws, Op *op, int s,
                            Py_ssize_t rows) noexcept nogil:
    """Where input s's gradient is written: its producer's gradient buffer, or the op's
    scratch when it must be added to what another op wrote there (NULL: not needed)."""
    cdef int p = op.inp[s]
    if p < 0 or not e.ops[p].needs_grad:
        return NULL
    if op.acc[s]:
        return ws + op.tmp * rows
    return ws + e.ops[p].g * rows


cdef inline void _gdone(Engine e, floating *ws, Op *op, int s, Py_ssize_t rows) noexcept nogil:
    """After writing input s's gradient at _gout: add the scratch in when it was used."""
    cdef int p = op.inp[s]
    cdef Py_ssize_t i, n
    cdef floating *dst
    cdef const floating *src
    if p < 0 or not e.ops[p].needs_grad or not op.acc[s]:
        return
    dst = ws + e.ops[p].g * rows
    src = ws + op.tmp * rows
    n = rows * e.ops[p].n_out
    for i in range(n):
        dst[i] += src[i]


cdef inline void _gpass(Engine e, floating *ws, Op *op, int s, const floating *g,
                        Py_ssize_t rows, double scale) noexcept nogil:
    """Input s's gradient is scale · g (same width): written or added in one pass."""
    cdef int p = op.inp[s]
    cdef Py_ssize_t i, n
    cdef floating *dst
    if p < 0 or not e.ops[p].needs_grad:
        return
    dst = ws + e.ops[p].g * rows
    n = rows * op.n_out
    if op.acc[s]:
        for i in range(n):
            dst[i] += <floating> (scale * g[i])
    elif scale == 1.0:
        memcpy(dst, g, n * sizeof(floating))
    else:
        for i in range(n):
            dst[i] = <floating> (scale * g[i])


cdef inline floating *_weights(Engine e, Op *op, Py_ssize_t off,
                               const floating *like) noexcept nogil:
    """An op's weight at `off` in params (NULL when absent). Frozen weights live in params
    too; they are simply not among the variables the optimizer updates."""
    if off < 0:
        return NULL
    return <floating *> e.p_params + off


# ---- forward ----------------------------------------------------------------------------

cdef double _forward(Engine e, Workspace w, floating *ws, floating *vecs, const floating *x,
                     Py_ssize_t rows, bint training, long step, int n_threads) noexcept nogil:
    """Run every op on `rows` rows of x; returns the activity regularizers' penalties. A
    Python op that raises sets w.abort and the rest of the ops are skipped."""
    cdef int k
    cdef Op *op
    cdef const floating *inp
    cdef floating *out
    cdef floating *z
    cdef floating *params = <floating *> e.p_params
    cdef double penalty = 0.0
    cdef bint t
    for k in range(e.n_ops):
        op = &e.ops[k]
        # A layer called with training=False was planned in inference form; one called with
        # training=True (Monte Carlo dropout) stays in training mode in inference calls too.
        t = training or (op.flags & FLAG_TRAINING) != 0
        out = ws + op.out * rows
        inp = _input(e, ws, x, op, 0, rows)
        if op.kind == OP_DENSE and op.qw != NULL:
            # int8 layer: Keras's de-scaled int8 product, then bias and activation as below.
            z = ws + op.z * rows if op.z >= 0 else out
            if floating is float:
                if qdense(op.qpath, rows, op.n_in, op.n_out, inp, op.qw, op.qcomp, op.qscale,
                          z, n_threads) != 0:
                    with gil:
                        w.abort = True
                        w.error = MemoryError(
                            f"int8 Dense: no memory for the scratch of {op.n_in} inputs")
                    return penalty
            act_forward(op.act, &op.ap, rows, op.n_out, z, params + op.b if op.b >= 0 else NULL,
                        out, z if op.z >= 0 else NULL, n_threads)
        elif op.kind == OP_DENSE:
            # Dense on rank > 2: each row holds `groups` vectors, stored one after another,
            # so the same products run on rows · groups rows of n_in / groups.
            z = ws + op.z * rows if op.z >= 0 else out
            if floating is float and op.flags & FLAG_BF16:
                gemm_bf16(op.bpath, False, False, rows * op.groups, op.n_out // op.groups,
                          op.n_in // op.groups, 1.0, inp, op.n_in // op.groups, params + op.w,
                          op.n_out // op.groups, 0.0, z, op.n_out // op.groups, n_threads,
                          e.var_img_fwd[op.img_var]
                          if e.images_ready and op.img_var >= 0 else NULL)
            else:
                gemm(False, False, rows * op.groups, op.n_out // op.groups,
                     op.n_in // op.groups, <floating> 1.0, inp, op.n_in // op.groups,
                     params + op.w, op.n_out // op.groups, <floating> 0.0, z,
                     op.n_out // op.groups, n_threads)
            # z += b in place (kept for backward and fused losses), then out = f(z).
            act_forward(op.act, &op.ap, rows * op.groups, op.n_out // op.groups, z,
                        params + op.b if op.b >= 0 else NULL, out,
                        z if op.z >= 0 else NULL, n_threads)
        elif op.kind == OP_ACTIVATION:
            act_forward(op.act, &op.ap, rows, op.n_out, inp, NULL, out, NULL, n_threads)
        elif op.kind == OP_DROPOUT and t:
            dropout_rows(inp, out, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k, 0,
                         n_threads)
        elif op.kind == OP_GAUSSIAN_NOISE and t:
            gaussian_noise_rows(inp, out, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k,
                                0, n_threads)
        elif op.kind == OP_GAUSSIAN_DROPOUT and t:
            gaussian_dropout_rows(inp, out, rows, op.n_out, op.rate, op.seed, step,
                                  <uint16_t> k, 0, n_threads)
        elif op.kind == OP_BATCH_NORM:
            _batch_norm_forward(e, op, inp, out, ws + op.aux * rows, vecs + op.vec, rows,
                                t and (op.flags & FLAG_BATCH_STATS) != 0)
        elif op.kind == OP_LAYER_NORM:
            _layer_norm_forward(e, op, inp, out, ws + op.aux * rows, rows, n_threads)
        elif op.kind == OP_PRELU:
            _prelu_forward(e, op, inp, out, rows)
        elif op.kind == OP_EMBEDDING:
            if not _embedding_forward(e, op, inp, out, rows):
                with gil:
                    w.abort = True
                    w.error = ValueError(
                        f"Embedding received an index that is not an integer in [0, "
                        f"{op.vocab}) (its input_dim): the inputs must be integer codes "
                        f"of the categories, from 0 to input_dim - 1.")
                return penalty
        elif op.kind == OP_UNIT_NORM:
            _unit_norm_forward(op, inp, out, ws + op.aux * rows, rows)
        elif op.kind == OP_ALPHA_DROPOUT and t:
            _alpha_dropout_forward(op, inp, out, ws + op.aux * rows, rows, step, k, n_threads)
        elif op.kind == OP_PYTHON:
            with gil:
                e._python_forward(w, k, <const void *> x, rows, training)
            if w.abort:
                return penalty
        elif op.kind == OP_SLICE:
            _slice_forward(e, op, x, out, rows)
        elif op.kind >= OP_ADD:
            _merge_forward(e, op, ws, x, out, rows)
        else:   # noise and dropout at inference: identity
            memcpy(out, inp, rows * op.n_out * sizeof(floating))
        if op.act_l1 != 0 or op.act_l2 != 0:   # Keras adds it in inference too
            penalty += _activity_penalty(op, out, rows)
    return penalty


cdef void _slice_forward(Engine e, Op *op, const floating *x, floating *out,
                         Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(rows):
        memcpy(out + i * op.n_out, x + i * e.in_dim + op.col, op.n_out * sizeof(floating))


cdef void _merge_forward(Engine e, Op *op, floating *ws, const floating *x, floating *out,
                         Py_ssize_t rows) noexcept nogil:
    """Keras's merge layers, folded left to right as Keras folds them."""
    cdef Py_ssize_t i, j, n = op.n_out, m = rows * op.n_out, off = 0, width
    cdef int s
    cdef const floating *a
    cdef const floating *b
    cdef floating *aux
    cdef double dot, sa, sb, ia, ib
    if op.kind == OP_CONCAT:
        for s in range(op.n_inputs):
            a = _input(e, ws, x, op, s, rows)
            width = _input_width(e, op, s)
            for i in range(rows):
                memcpy(out + i * n + off, a + i * width, width * sizeof(floating))
            off += width
        return
    if op.kind == OP_DOT:
        a = _input(e, ws, x, op, 0, rows)
        b = _input(e, ws, x, op, 1, rows)
        width = _input_width(e, op, 0)
        aux = ws + op.aux * rows
        for i in range(rows):
            dot = sa = sb = 0.0
            for j in range(width):
                dot += a[i * width + j] * b[i * width + j]
                sa += a[i * width + j] * a[i * width + j]
                sb += b[i * width + j] * b[i * width + j]
            ia = ib = 1.0
            if op.flags & FLAG_NORMALIZE:
                # Keras: x · min(1/sqrt(Σx²), 1/ε), ε = 1e-7.
                ia = min(1.0 / sqrt(sa), 1e7) if sa > 0 else 1e7
                ib = min(1.0 / sqrt(sb), 1e7) if sb > 0 else 1e7
            aux[2 * i] = <floating> ia
            aux[2 * i + 1] = <floating> ib
            out[i] = <floating> (dot * ia * ib)
        return
    a = _input(e, ws, x, op, 0, rows)
    memcpy(out, a, m * sizeof(floating))
    for s in range(1, op.n_inputs):
        b = _input(e, ws, x, op, s, rows)
        if op.kind == OP_ADD or op.kind == OP_AVERAGE:
            for i in range(m):
                out[i] = out[i] + b[i]
        elif op.kind == OP_SUBTRACT:
            for i in range(m):
                out[i] = out[i] - b[i]
        elif op.kind == OP_MULTIPLY:
            for i in range(m):
                out[i] = out[i] * b[i]
        elif op.kind == OP_MAXIMUM:
            for i in range(m):
                out[i] = out[i] if out[i] >= b[i] else b[i]
        elif op.kind == OP_MINIMUM:
            for i in range(m):
                out[i] = out[i] if out[i] <= b[i] else b[i]
    if op.kind == OP_AVERAGE:
        for i in range(m):
            out[i] = out[i] / op.n_inputs


cdef void _batch_norm_forward(Engine e, Op *op, const floating *x, floating *y, floating *xhat,
                              floating *inv, Py_ssize_t rows, bint batch_stats) noexcept nogil:
    """y = γ·(x − μ)/sqrt(σ² + ε) + β per column, with the batch's or the moving statistics."""
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *gamma = _weights(e, op, op.w, x)
    cdef floating *beta = _weights(e, op, op.b, x)
    cdef floating *mean = <floating *> e.p_state + op.s
    cdef floating *var = mean + n
    cdef double m, v, d
    for j in range(n):
        if batch_stats:
            m = 0.0
            for i in range(rows):
                m += x[i * n + j]
            m /= rows
            v = 0.0
            for i in range(rows):
                d = x[i * n + j] - m
                v += d * d
            v /= rows                                   # biased, as Keras
            mean[j] = <floating> (mean[j] * op.momentum + m * (1.0 - op.momentum))
            var[j] = <floating> (var[j] * op.momentum + v * (1.0 - op.momentum))
        else:
            m, v = mean[j], var[j]
        inv[j] = <floating> (1.0 / sqrt(v + op.eps))
        for i in range(rows):
            xhat[i * n + j] = <floating> ((x[i * n + j] - m) * inv[j])
            y[i * n + j] = xhat[i * n + j] * (gamma[j] if gamma != NULL else 1) \
                + (beta[j] if beta != NULL else 0)


cdef inline void _layer_norm_row(const floating *x, floating *y, floating *aux,
                                 const floating *gamma, const floating *beta, Py_ssize_t n,
                                 double eps) noexcept nogil:
    """One row of _layer_norm_forward; aux holds the row's x-hat and then its 1/std."""
    cdef Py_ssize_t j
    cdef double m = 0.0, v = 0.0, d, inv
    for j in range(n):
        m = m + x[j]
    m = m / n
    for j in range(n):
        d = x[j] - m
        v = v + d * d
    inv = 1.0 / sqrt(v / n + eps)
    aux[n] = <floating> inv
    for j in range(n):
        aux[j] = <floating> ((x[j] - m) * inv)
        y[j] = aux[j] * (gamma[j] if gamma != NULL else 1) + (beta[j] if beta != NULL else 0)


cdef void _layer_norm_forward(Engine e, Op *op, const floating *x, floating *y, floating *aux,
                              Py_ssize_t rows, int n_threads) noexcept nogil:
    """Per row: y = γ·(x − mean)/sqrt(var + ε) + β; aux keeps x-hat and 1/std per row."""
    cdef Py_ssize_t i, n = op.n_out
    cdef floating *gamma = _weights(e, op, op.w, x)
    cdef floating *beta = _weights(e, op, op.b, x)
    cdef int threads = threads_for(rows * n, n_threads)
    if threads == 1:  # no parallel region: even a one-thread region costs a futex call
        for i in range(rows):
            _layer_norm_row(x + i * n, y + i * n, aux + i * (n + 1), gamma, beta, n, op.eps)
        return
    for i in prange(rows, schedule="static", num_threads=threads):
        _layer_norm_row(x + i * n, y + i * n, aux + i * (n + 1), gamma, beta, n, op.eps)


cdef void _prelu_forward(Engine e, Op *op, const floating *x, floating *y,
                         Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *alpha = _weights(e, op, op.w, x)
    for i in range(rows):
        for j in range(n):
            y[i * n + j] = x[i * n + j] if x[i * n + j] > 0 else alpha[j] * x[i * n + j]


cdef bint _embedding_forward(Engine e, Op *op, const floating *codes, floating *out,
                             Py_ssize_t rows) noexcept nogil:
    """Each row's n_in codes pick rows of the table: out holds their n_out / n_in columns
    one after another. False (the output zeroed) when a code is not a valid row number."""
    cdef Py_ssize_t i, d = op.n_out // op.n_in, m = rows * op.n_in
    cdef const floating *table = <const floating *> e.p_params + op.w
    cdef floating c
    for i in range(m):
        c = codes[i]
        if not (c >= 0 and c < op.vocab) or c != <floating> (<Py_ssize_t> c):
            memset(out, 0, rows * op.n_out * sizeof(floating))
            return False
        memcpy(out + i * d, table + (<Py_ssize_t> c) * d, d * sizeof(floating))
    return True


cdef void _unit_norm_forward(Op *op, const floating *x, floating *y, floating *inv,
                             Py_ssize_t rows) noexcept nogil:
    """Keras's ops.normalize(order=2, epsilon=1e-12): x · min(1/sqrt(Σx²), 1/ε) per block."""
    cdef Py_ssize_t i, j, m = rows * op.groups, d = op.n_out // op.groups
    cdef double s, h
    for i in range(m):
        s = 0.0
        for j in range(d):
            s += x[i * d + j] * x[i * d + j]
        h = min(1.0 / sqrt(s), 1e12) if s > 0 else 1e12
        inv[i] = <floating> h
        for j in range(d):
            y[i * d + j] = <floating> (x[i * d + j] * h)


# Klambauer et al. (2017): dropped inputs are set to SELU's negative saturation value
# −λα, then an affine map a·x + b keeps the mean and variance.
cdef double _SELU_ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


cdef void _alpha_dropout_forward(Op *op, const floating *x, floating *y, floating *mask,
                                 Py_ssize_t rows, long step, int k, int n_threads) noexcept nogil:
    cdef Py_ssize_t i, m = rows * op.n_out
    cdef double a = ((1 - op.rate) * (1 + op.rate * _SELU_ALPHA_P * _SELU_ALPHA_P)) ** -0.5
    cdef double b = -a * _SELU_ALPHA_P * op.rate
    uniform_rows(mask, rows, op.n_out, op.seed, step, <uint16_t> k, 0, n_threads)
    for i in range(m):
        mask[i] = 1 if mask[i] >= op.rate else 0
        y[i] = <floating> (a * (x[i] if mask[i] != 0 else _SELU_ALPHA_P) + b)


cdef double _activity_penalty(Op *op, const floating *a, Py_ssize_t rows) noexcept nogil:
    """Keras adds an activity regularizer's penalty divided by the batch size."""
    cdef Py_ssize_t i
    cdef double s1 = 0.0, s2 = 0.0
    for i in range(rows * op.n_out):
        s1 += fabs(a[i])
        s2 += a[i] * a[i]
    return (op.act_l1 * s1 + op.act_l2 * s2) / rows


# ---- backward ---------------------------------------------------------------------------

cdef void _backward(Engine e, Workspace w, floating *ws, floating *vecs, const floating *x,
                    Py_ssize_t rows, long step, int n_threads) noexcept nogil:
    """From the losses' gradients at the outputs to every parameter's gradient in e.grads."""
    cdef int k
    cdef Py_ssize_t v
    cdef Op *op
    cdef floating *params = <floating *> e.p_params
    cdef floating *grads = <floating *> e.p_grads
    cdef floating *g
    cdef floating *gin
    cdef const floating *inp
    cdef const floating *out
    for v in range(e.n_vars):
        if e.var_dead[v]:     # no loss depends on it (an output without a loss)
            memset(grads + e.var_off[v], 0, e.var_size[v] * sizeof(floating))
    for k in range(e.n_ops - 1, -1, -1):
        op = &e.ops[k]
        if not op.live:
            continue
        g = ws + op.g * rows
        out = ws + op.out * rows
        inp = _input(e, ws, x, op, 0, rows)
        if op.act_l1 != 0 or op.act_l2 != 0:
            _activity_grad(op, out, g, rows)
        if op.kind == OP_DENSE:
            _dense_backward(e, op, ws, inp, out, g, rows, n_threads)
            continue
        if op.kind >= OP_ADD:
            _merge_backward(e, op, ws, x, g, rows)
            continue
        if op.kind == OP_PYTHON:
            with gil:
                e._python_backward(w, k, rows)
            if w.abort:
                return
            continue
        if op.kind == OP_GAUSSIAN_NOISE or (op.kind == OP_ACTIVATION and op.fused):
            # Identity for the gradient (a fused loss wrote d/dlogits into g already).
            _gpass(e, ws, op, 0, g, rows, 1.0)
            continue
        gin = _gout(e, ws, op, 0, rows)
        if gin == NULL and op.kind != OP_BATCH_NORM and op.kind != OP_LAYER_NORM \
                and op.kind != OP_PRELU and op.kind != OP_EMBEDDING:
            continue    # nothing below needs this gradient and the op has no weights
        if op.kind == OP_ACTIVATION:
            act_backward(op.act, &op.ap, rows, op.n_out, inp, out, g, gin, n_threads)
        elif op.kind == OP_DROPOUT:
            dropout_rows(g, gin, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k, 0,
                         n_threads)
        elif op.kind == OP_GAUSSIAN_DROPOUT:
            gaussian_dropout_rows(g, gin, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k,
                                  0, n_threads)
        elif op.kind == OP_BATCH_NORM:
            _batch_norm_backward(e, op, g, ws + op.aux * rows, vecs + op.vec, gin, rows)
        elif op.kind == OP_LAYER_NORM:
            _layer_norm_backward(e, op, g, ws + op.aux * rows, gin, rows)
        elif op.kind == OP_PRELU:
            _prelu_backward(e, op, inp, g, gin, rows)
        elif op.kind == OP_EMBEDDING:
            _embedding_backward(e, op, inp, g, gin, rows)
        elif op.kind == OP_UNIT_NORM:
            _unit_norm_backward(op, out, g, ws + op.aux * rows, gin, rows)
        elif op.kind == OP_ALPHA_DROPOUT:
            _alpha_dropout_backward(op, g, ws + op.aux * rows, gin, rows)
        if gin != NULL:
            _gdone(e, ws, op, 0, rows)


cdef void _dense_backward(Engine e, Op *op, floating *ws, const floating *inp,
                          const floating *out, floating *g, Py_ssize_t rows,
                          int n_threads) noexcept nogil:
    """dZ = g·f'(.) in place, dW = inputᵀ·dZ, db = column sums of dZ, d input = dZ·Wᵀ."""
    cdef floating *params = <floating *> e.p_params
    cdef floating *grads = <floating *> e.p_grads
    cdef int p = op.inp[0]
    cdef Py_ssize_t r = rows * op.groups, ni = op.n_in // op.groups
    cdef Py_ssize_t no = op.n_out // op.groups
    if not op.fused and op.act != FNN_ACT_LINEAR:
        act_backward(op.act, &op.ap, r, no, ws + op.z * rows if op.z >= 0 else NULL,
                     out, g, g, n_threads)
    # mixed_bfloat16: both products read bfloat16-rounded operands, as the forward one does.
    cdef bint bf16 = floating is float and (op.flags & FLAG_BF16) != 0
    if bf16:
        gemm_bf16(op.bpath, True, False, ni, no, r, 1.0, <const float *> inp, ni,
                  <const float *> g, no, 1.0 if op.w_acc else 0.0, <float *> (grads + op.w),
                  no, n_threads, NULL)
    else:
        gemm(True, False, ni, no, r, <floating> 1.0, inp, ni,
             g, no, <floating> (1.0 if op.w_acc else 0.0), grads + op.w, no, n_threads)
    if op.b >= 0:
        column_sums_nogil(g, r, no, grads + op.b, op.w_acc, n_threads)
    if p >= 0 and e.ops[p].needs_grad:
        if bf16:
            gemm_bf16(op.bpath, False, True, r, ni, no, 1.0, <const float *> g, no,
                      <const float *> (params + op.w), no, 1.0 if op.acc[0] else 0.0,
                      <float *> (ws + e.ops[p].g * rows), ni, n_threads,
                      e.var_img_bwd[op.img_var] if e.images_ready and op.img_var >= 0
                      else NULL)
        else:
            gemm(False, True, r, ni, no, <floating> 1.0, g, no,
                 params + op.w, no, <floating> (1.0 if op.acc[0] else 0.0),
                 ws + e.ops[p].g * rows, ni, n_threads)


cdef void _merge_backward(Engine e, Op *op, floating *ws, const floating *x,
                          const floating *g, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i, j, n = op.n_out, m = rows * op.n_out, off = 0, width
    cdef int s, t, win
    cdef floating *gin
    cdef const floating *a
    cdef const floating *b
    cdef const floating *aux
    cdef const floating *out
    cdef double prod, ha, hb, dot
    if op.kind == OP_ADD:
        for s in range(op.n_inputs):
            _gpass(e, ws, op, s, g, rows, 1.0)
    elif op.kind == OP_SUBTRACT:
        _gpass(e, ws, op, 0, g, rows, 1.0)
        _gpass(e, ws, op, 1, g, rows, -1.0)
    elif op.kind == OP_AVERAGE:
        for s in range(op.n_inputs):
            gin = _gout(e, ws, op, s, rows)
            if gin != NULL:
                for i in range(m):
                    gin[i] = g[i] / op.n_inputs
                _gdone(e, ws, op, s, rows)
    elif op.kind == OP_MULTIPLY:
        for s in range(op.n_inputs):
            gin = _gout(e, ws, op, s, rows)
            if gin == NULL:
                continue
            for i in range(m):
                prod = g[i]
                for t in range(op.n_inputs):
                    if t != s:
                        prod = prod * _input(e, ws, x, op, t, rows)[i]
                gin[i] = <floating> prod
            _gdone(e, ws, op, s, rows)
    elif op.kind == OP_MAXIMUM or op.kind == OP_MINIMUM:
        # The gradient goes to the input that won the fold: the first of equal values.
        out = ws + op.out * rows
        for s in range(op.n_inputs):
            gin = _gout(e, ws, op, s, rows)
            if gin == NULL:
                continue
            for i in range(m):
                win = 0
                for t in range(op.n_inputs):
                    if _input(e, ws, x, op, t, rows)[i] == out[i]:
                        win = t
                        break
                gin[i] = g[i] if win == s else 0
            _gdone(e, ws, op, s, rows)
    elif op.kind == OP_CONCAT:
        for s in range(op.n_inputs):
            width = _input_width(e, op, s)
            gin = _gout(e, ws, op, s, rows)
            if gin != NULL:
                for i in range(rows):
                    memcpy(gin + i * width, g + i * n + off, width * sizeof(floating))
                _gdone(e, ws, op, s, rows)
            off += width
    elif op.kind == OP_DOT:
        a = _input(e, ws, x, op, 0, rows)
        b = _input(e, ws, x, op, 1, rows)
        aux = ws + op.aux * rows
        out = ws + op.out * rows
        width = _input_width(e, op, 0)
        for s in range(2):
            gin = _gout(e, ws, op, s, rows)
            if gin == NULL:
                continue
            for i in range(rows):
                ha, hb = aux[2 * i + s], aux[2 * i + 1 - s]   # own and other inverse norms
                for j in range(width):
                    if s == 0:
                        dot = b[i * width + j] * hb
                        prod = a[i * width + j] * ha
                    else:
                        dot = a[i * width + j] * hb
                        prod = b[i * width + j] * ha
                    if (op.flags & FLAG_NORMALIZE) and ha < 1e7:
                        # d(x·h)/dx with h = 1/|x|: h·(v − x̂·(x̂·v)), and x̂·v = out.
                        gin[i * width + j] = <floating> (g[i] * ha * (dot - prod * out[i]))
                    else:
                        gin[i * width + j] = <floating> (g[i] * ha * dot)
            _gdone(e, ws, op, s, rows)


cdef void _activity_grad(Op *op, const floating *a, floating *g, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i
    cdef double s
    for i in range(rows * op.n_out):
        s = 1.0 if a[i] > 0 else (-1.0 if a[i] < 0 else 0.0)
        g[i] += <floating> ((op.act_l1 * s + 2.0 * op.act_l2 * a[i]) / rows)


cdef void _batch_norm_backward(Engine e, Op *op, const floating *g, const floating *xhat,
                               const floating *inv, floating *gin,
                               Py_ssize_t rows) noexcept nogil:
    """dγ = Σ g·x̂, dβ = Σ g; dx through the batch statistics when they were used."""
    cdef Py_ssize_t i, j, n = op.n_out
    cdef bint batch_stats = (op.flags & FLAG_BATCH_STATS) != 0
    cdef floating *gamma = _weights(e, op, op.w, g)
    cdef floating *dgamma = <floating *> e.p_grads + op.w if op.w >= 0 else NULL
    cdef floating *dbeta = <floating *> e.p_grads + op.b if op.b >= 0 else NULL
    cdef double sg, sgx, gam
    for j in range(n):
        sg = 0.0
        sgx = 0.0
        for i in range(rows):
            sg += g[i * n + j]
            sgx += g[i * n + j] * xhat[i * n + j]
        if dgamma != NULL:
            dgamma[j] = <floating> (sgx + (dgamma[j] if op.w_acc else 0))
        if dbeta != NULL:
            dbeta[j] = <floating> (sg + (dbeta[j] if op.w_acc else 0))
        if gin == NULL:
            continue
        gam = gamma[j] if gamma != NULL else 1.0
        for i in range(rows):
            if batch_stats:
                gin[i * n + j] = <floating> (gam * inv[j] / rows
                                             * (rows * g[i * n + j] - sg - xhat[i * n + j] * sgx))
            else:
                gin[i * n + j] = <floating> (gam * inv[j] * g[i * n + j])


cdef void _layer_norm_backward(Engine e, Op *op, const floating *g, const floating *aux,
                               floating *gin, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *gamma = _weights(e, op, op.w, g)
    cdef floating *dgamma = <floating *> e.p_grads + op.w if op.w >= 0 else NULL
    cdef floating *dbeta = <floating *> e.p_grads + op.b if op.b >= 0 else NULL
    cdef double s1, s2, dxh
    if dgamma != NULL and not op.w_acc:
        for j in range(n):
            dgamma[j] = 0
    if dbeta != NULL and not op.w_acc:
        for j in range(n):
            dbeta[j] = 0
    for i in range(rows):
        s1 = 0.0
        s2 = 0.0
        for j in range(n):
            if dgamma != NULL:
                dgamma[j] += g[i * n + j] * aux[i * (n + 1) + j]
            if dbeta != NULL:
                dbeta[j] += g[i * n + j]
            dxh = g[i * n + j] * (gamma[j] if gamma != NULL else 1.0)
            s1 += dxh
            s2 += dxh * aux[i * (n + 1) + j]
        if gin == NULL:
            continue
        for j in range(n):
            dxh = g[i * n + j] * (gamma[j] if gamma != NULL else 1.0)
            gin[i * n + j] = <floating> (aux[i * (n + 1) + n] / n
                                         * (n * dxh - s1 - aux[i * (n + 1) + j] * s2))


cdef void _embedding_backward(Engine e, Op *op, const floating *codes, const floating *g,
                              floating *gin, Py_ssize_t rows) noexcept nogil:
    """The table's gradient: each output block's gradient added to the row its code picked,
    in row order on one thread, so any thread count gives the same bits. The codes get
    no gradient (zeros, as integer inputs)."""
    cdef Py_ssize_t i, j, c, d = op.n_out // op.n_in, m = rows * op.n_in
    cdef floating *dtable = <floating *> e.p_grads + op.w
    if not op.w_acc:
        memset(dtable, 0, op.vocab * d * sizeof(floating))
    for i in range(m):
        c = <Py_ssize_t> codes[i]      # checked in forward
        for j in range(d):
            dtable[c * d + j] += g[i * d + j]
    if gin != NULL:
        memset(gin, 0, rows * op.n_in * sizeof(floating))


cdef void _unit_norm_backward(Op *op, const floating *y, const floating *g,
                              const floating *inv, floating *gin,
                              Py_ssize_t rows) noexcept nogil:
    """d(x·h)/dx with h = 1/|x|: h·(g − y·(y·g)); with h clipped at 1/ε, h·g."""
    cdef Py_ssize_t i, j, m = rows * op.groups, d = op.n_out // op.groups
    cdef double yg
    for i in range(m):
        yg = 0.0
        if inv[i] < 1e12:
            for j in range(d):
                yg += y[i * d + j] * g[i * d + j]
        for j in range(d):
            gin[i * d + j] = <floating> (inv[i] * (g[i * d + j] - y[i * d + j] * yg))


cdef void _alpha_dropout_backward(Op *op, const floating *g, const floating *mask,
                                  floating *gin, Py_ssize_t rows) noexcept nogil:
    """Backward runs only after a training forward, which wrote the mask."""
    cdef Py_ssize_t i, m = rows * op.n_out
    cdef double a = ((1 - op.rate) * (1 + op.rate * _SELU_ALPHA_P * _SELU_ALPHA_P)) ** -0.5
    for i in range(m):
        gin[i] = <floating> (a * g[i] * mask[i])


cdef void _prelu_backward(Engine e, Op *op, const floating *x, const floating *g,
                          floating *gin, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *alpha = _weights(e, op, op.w, x)
    cdef floating *dalpha = <floating *> e.p_grads + op.w
    if not op.w_acc:
        for j in range(n):
            dalpha[j] = 0
    for i in range(rows):
        for j in range(n):
            if x[i * n + j] < 0:
                dalpha[j] += g[i * n + j] * x[i * n + j]
                if gin != NULL:
                    gin[i * n + j] = alpha[j] * g[i * n + j]
            elif gin != NULL:
                gin[i * n + j] = g[i * n + j] if x[i * n + j] > 0 else 0
