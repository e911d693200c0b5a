# The engine's batch loop: gather, the outputs' losses, penalties and the optimizer step.
# Included by _engine.pyx (one extension module); see its design note.

# ---- the epoch --------------------------------------------------------------------------

cdef object _train_epoch(Engine e, Workspace w, const floating *x, Batch *t,
                         const int64_t *order, Py_ssize_t n, Py_ssize_t batch_size,
                         const double *lrs, long first_step, void **preds, int n_threads):
    cdef Py_ssize_t start = 0, rows, batch = 0
    cdef double loss_sum = 0.0, last_check
    cdef object interrupt = None
    e.images_ready = False        # the weights may have changed since the last call
    with nogil:
        last_check = _now()
        while start < n:
            rows = min(batch_size, n - start)
            _gather(e, w, x, t, order + start, rows, n_threads)
            loss_sum += rows * _train_batch(e, w, x, t, order + start, rows, lrs[batch],
                                            first_step + batch, n_threads)
            if w.abort:      # a Python loss raised: this batch was not applied
                break
            e.steps_taken += 1
            _copy_outputs(e, <floating *> w.p_ws, rows, preds, start)
            start += rows
            batch += 1
            if _now() - last_check > SIGNAL_CHECK_SECONDS:
                last_check = _now()
                with gil:
                    try:
                        PyErr_CheckSignals()
                    except BaseException as exc:   # Ctrl-C: KeyboardInterrupt
                        interrupt = exc
                if interrupt is not None:
                    break
    e.images_ready = False        # nothing outside this loop keeps them up to date
    return loss_sum, start, batch, interrupt


cdef inline void _copy_outputs(Engine e, floating *ws, Py_ssize_t rows, void **outs,
                               Py_ssize_t start) noexcept nogil:
    """outs[h][start:start + rows] = output h of the batch just run (for each outs[h])."""
    cdef int h
    cdef Py_ssize_t width
    for h in range(e.n_heads):
        if outs[h] != NULL:
            width = e.heads[h].width
            memcpy(<floating *> outs[h] + start * width, ws + e.ops[e.heads[h].op].out * rows,
                   rows * width * sizeof(floating))


cdef extern from *:
    """
    /* Ask for the n bytes at p (read soon, keep in all cache levels). */
    static inline void fnn_prefetch_bytes(const void *p, size_t n) {
        for (size_t off = 0; off < n; off += 64)
            __builtin_prefetch((const char *)p + off, 0, 3);
    }
    """
    void fnn_prefetch_bytes(const void *p, size_t n) noexcept nogil


cdef enum:
    # Rows of x requested ahead of the one being copied. Shuffled rows are scattered over
    # the whole array (188 MB for MNIST): each one starts with a miss to memory, and the
    # copy of one row alone leaves the memory system idle most of the time.
    GATHER_AHEAD = 4


cdef inline void _gather_rows(Engine e, Workspace w, const floating *x, Batch *t,
                              const int64_t *idx, Py_ssize_t rows, Py_ssize_t lo,
                              Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i, r, d = e.in_dim, c
    cdef int h
    cdef Head *head
    cdef floating *xb = <floating *> w.p_ws
    cdef floating *yb = <floating *> w.p_y
    cdef floating *wb = <floating *> w.p_w
    for i in range(lo, min(hi, lo + GATHER_AHEAD)):
        fnn_prefetch_bytes(x + idx[i] * d, d * sizeof(floating))
    for i in range(lo, hi):
        if i + GATHER_AHEAD < hi:
            fnn_prefetch_bytes(x + idx[i + GATHER_AHEAD] * d, d * sizeof(floating))
        r = idx[i]
        memcpy(xb + i * d, x + r * d, d * sizeof(floating))
        for h in range(e.n_heads):
            head = &e.heads[h]
            if not head.has_loss or head.external:
                continue
            if head.sparse:
                w.p_labels[h * rows + i] = (<const int64_t *> t.y[h])[r]
            else:
                c = head.width
                memcpy(yb + head.y_off * rows + i * c, <const floating *> t.y[h] + r * c,
                       c * sizeof(floating))
            if t.w[h] != NULL:
                wb[h * rows + i] = (<const floating *> t.w[h])[r]


cdef void _gather(Engine e, Workspace w, const floating *x, Batch *t, const int64_t *idx,
                  Py_ssize_t rows, int n_threads) noexcept nogil:
    """Copy the batch's rows of x, targets and weights into the workspace; two threads keep
    twice as many of the rows' misses to memory in flight."""
    cdef int nt = threads_for(rows * e.in_dim, n_threads)
    cdef Py_ssize_t k
    if nt == 1:
        _gather_rows(e, w, x, t, idx, rows, 0, rows)
        return
    for k in prange(nt, schedule="static", num_threads=nt):
        _gather_rows(e, w, x, t, idx, rows, rows * k // nt, rows * (k + 1) // nt)


cdef inline void _gathered(Engine e, Workspace w, const floating *like, Batch *t,
                           Py_ssize_t rows, Batch *out) noexcept nogil:
    """`out` points at the targets and weights _gather copied for a batch of `rows` rows."""
    cdef int h
    for h in range(e.n_heads):
        out.sums[h] = 0.0
        if e.heads[h].sparse:
            out.y[h] = w.p_labels + h * rows
        else:
            out.y[h] = <floating *> w.p_y + e.heads[h].y_off * rows
        out.w[h] = <floating *> w.p_w + h * rows if t.w[h] != NULL else NULL


cdef double _train_batch(Engine e, Workspace w, const floating *like, Batch *t,
                         const int64_t *idx, Py_ssize_t rows, double lr, long step,
                         int n_threads) noexcept nogil:
    """One optimizer step on the gathered batch (rows idx of the caller's arrays); returns
    its loss incl. penalties."""
    cdef floating *params = <floating *> e.p_params
    if floating is float and not e.images_ready:
        _pack_images(e, <float *> params, n_threads)
    cdef double loss = _gradient_batch(e, w, like, t, idx, rows, n_threads, step)
    if not w.abort:
        _update(e, params, <floating *> e.p_grads, lr, step, n_threads)
    return loss


cdef double _external_losses(Engine e, Workspace w, floating *ws, Py_ssize_t rows,
                             const int64_t *idx, Py_ssize_t start, Batch *b,
                             bint with_grad) noexcept nogil:
    """The outputs whose loss is Python code (none in most models: no GIL taken)."""
    if e.n_external == 0:
        return 0.0
    with gil:
        return e._call_external(w, <void *> ws, rows, idx, start, b, with_grad)


cdef double _python_penalties(Engine e, Workspace w, bint with_grad) noexcept nogil:
    """Penalties of weights with Python regularizers (none in most models: no GIL)."""
    if e.n_penalties == 0:
        return 0.0
    with gil:
        return e._call_penalties(w, with_grad)


cdef double _gradient_batch(Engine e, Workspace w, const floating *like, Batch *t,
                            const int64_t *idx, Py_ssize_t rows, int n_threads,
                            long step=0) noexcept nogil:
    """Loss incl. penalties of the gathered batch, with its gradient left in e.grads."""
    cdef floating *ws = <floating *> w.p_ws
    cdef floating *params = <floating *> e.p_params
    cdef Batch batch
    cdef int h
    cdef double denom, penalty
    _gathered(e, w, like, t, rows, &batch)
    denom = _denominator(e, &batch, like, rows)
    cdef double loss = _forward(e, w, ws, <floating *> w.p_vecs, ws, rows, True, step,
                                n_threads)
    if w.abort:          # a Python op raised
        return loss
    loss += _losses(e, w, ws, ws, rows, denom, &batch, True, n_threads)
    loss += _external_losses(e, w, ws, rows, idx, 0, &batch, True)
    if w.abort:
        return loss
    for h in range(e.n_heads):
        t.sums[h] += batch.sums[h]
    _backward(e, w, ws, <floating *> w.p_vecs, ws, rows, step, n_threads)
    if w.abort:
        return loss
    penalty = _penalty(e, params, denom) + _python_penalties(e, w, True)
    e.penalty_sum += rows * penalty
    _regularization_grads(e, params, <floating *> e.p_grads, denom)
    return loss + penalty


cdef inline double _denominator(Engine e, Batch *b, const floating *like,
                                Py_ssize_t rows) noexcept nogil:
    """What the batch's Σ w·loss and its L2BatchMean penalties are divided by: its row
    count (Keras), or with weight normalization the sum of its sample weights
    (scikit-learn's MLP; an engine with one output)."""
    cdef const floating *sw = <const floating *> b.w[0]
    cdef double total = 0.0
    cdef Py_ssize_t i
    if not e.by_weight or sw == NULL:
        return <double> rows
    for i in range(rows):
        total += sw[i]
    return total


# ---- inference --------------------------------------------------------------------------

cdef void _predict(Engine e, Workspace w, const floating *x, Py_ssize_t first,
                   Py_ssize_t n, void **outs, Py_ssize_t batch_rows, bint training, long step,
                   int n_threads) noexcept nogil:
    """Rows first..n-1 (first a multiple of batch_rows: the chunks of a call over all rows)."""
    cdef Py_ssize_t start = first, rows
    cdef floating *ws = <floating *> w.p_ws
    while start < n:
        rows = min(batch_rows, n - start)
        # Each chunk its own noise stream (layers forced into training mode draw in
        # inference calls too).
        _forward(e, w, ws, <floating *> w.p_vecs, x + start * e.in_dim, rows, training,
                 step + start // batch_rows, n_threads)
        if w.abort:
            return
        _copy_outputs(e, ws, rows, outs, start)
        start += rows


cdef double _evaluate(Engine e, Workspace w, const floating *x, Batch *t, Py_ssize_t first,
                      Py_ssize_t n, Py_ssize_t batch_rows, void **preds, long step,
                      double total, int n_threads) noexcept nogil:
    """total + Σ over the chunks of rows first..n-1 of (chunk loss incl. penalties) × rows,
    added chunk by chunk: a call split in pieces that pass the running total on sums the
    same bits as one call (as predict, first is a multiple of batch_rows)."""
    cdef Py_ssize_t start = first, rows
    cdef floating *ws = <floating *> w.p_ws
    cdef double batch_loss, penalty, denom
    cdef Batch batch
    cdef int h
    while start < n:
        rows = min(batch_rows, n - start)
        for h in range(e.n_heads):
            batch.sums[h] = 0.0
            batch.w[h] = <const floating *> t.w[h] + start if t.w[h] != NULL else NULL
            if not e.heads[h].has_loss:
                batch.y[h] = NULL
            elif e.heads[h].sparse:
                batch.y[h] = <const int64_t *> t.y[h] + start
            else:
                batch.y[h] = <const floating *> t.y[h] + start * e.heads[h].width
        denom = _denominator(e, &batch, x, rows)
        penalty = _penalty(e, <floating *> e.p_params, denom) + _python_penalties(e, w, False)
        batch_loss = _forward(e, w, ws, <floating *> w.p_vecs, x + start * e.in_dim, rows,
                              False, step + start // batch_rows, n_threads)
        if w.abort:
            break
        batch_loss += _losses(e, w, ws, x + start * e.in_dim, rows, denom, &batch, False,
                              n_threads)
        batch_loss += _external_losses(e, w, ws, rows, NULL, start, &batch, False)
        if w.abort:
            break
        for h in range(e.n_heads):
            t.sums[h] += batch.sums[h]
        total += rows * (batch_loss + penalty)
        _copy_outputs(e, ws, rows, preds, start)
        start += rows
    return total


# ---- losses -----------------------------------------------------------------------------

cdef double _losses(Engine e, Workspace w, floating *ws, const floating *x, Py_ssize_t rows,
                    double denom, Batch *b, bint with_grad, int n_threads) noexcept nogil:
    """Σ over outputs of weight · (Σ w·l / denom), denom = rows or Σw (_denominator).
    With with_grad, each output's gradient
    (scaled by its weight) goes to its op's gradient buffer: d/d(output), or d/d(logits)
    for a fused loss. b.sums[h] receives output h's Σ w·l."""
    cdef int h
    cdef Head *head
    cdef Op *op
    cdef const floating *pred
    cdef floating *grad
    cdef const floating *sw
    cdef floating *values = <floating *> w.p_values
    cdef fnn_loss_spec spec
    cdef Py_ssize_t i
    cdef double s, total = 0.0
    for h in range(e.n_heads):
        head = &e.heads[h]
        if not head.has_loss or head.external:
            continue
        op = &e.ops[head.op]
        pred = ws + op.out * rows
        if head.fused:
            if op.kind == OP_DENSE:
                pred = ws + op.z * rows
            else:   # Activation: its input is the logits; its backward passes g through
                pred = _input(e, ws, x, op, 0, rows)
        grad = ws + op.g * rows if with_grad else NULL
        sw = <const floating *> b.w[h]
        spec = head.loss
        if not head.sparse and (spec.loss == FNN_LOSS_HINGE
                                or spec.loss == FNN_LOSS_SQUARED_HINGE):
            # Keras maps labels in {0, 1} to {-1, 1}, deciding per batch.
            spec.hinge_binary_labels = _all_zero_one(<const floating *> b.y[h],
                                                     rows * head.width)
        if head.sparse:
            sparse_loss_rows(&spec, rows, head.width, <const int64_t *> b.y[h], pred, sw,
                             head.weight / denom, values, grad, n_threads)
        else:
            loss_rows(&spec, rows, head.width, <const floating *> b.y[h], pred, sw,
                      head.weight / denom, values, grad, n_threads)
        s = 0.0
        for i in range(rows):
            s += values[i] * (sw[i] if sw != NULL else 1.0)
        b.sums[h] += s
        total += head.weight * s / denom
    return total


cdef bint _all_zero_one(const floating *y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if y[i] != 0 and y[i] != 1:
            return False
    return True


# ---- regularization and the optimizer step ----------------------------------------------

cdef double _penalty(Engine e, const floating *params, double denom) noexcept nogil:
    """The regularizers' penalty for a batch whose losses are divided by `denom`."""
    cdef Py_ssize_t v, i
    cdef double total = 0.0, s
    for v in range(e.n_vars):
        if e.var_l2_rows[v] != 0:
            total += e.var_l2_rows[v] / denom * sum_squares_nogil(params + e.var_off[v],
                                                                  e.var_size[v], 1)
        if e.var_l1[v] != 0:
            s = 0.0
            for i in range(e.var_off[v], e.var_off[v] + e.var_size[v]):
                s += fabs(params[i])
            total += e.var_l1[v] * s
        if e.var_l2[v] != 0:
            total += e.var_l2[v] * sum_squares_nogil(params + e.var_off[v], e.var_size[v], 1)
    return total


cdef void _regularization_grads(Engine e, const floating *params, floating *grads,
                                double denom) noexcept nogil:
    """grads += l1·sign(w) + 2·l2·w (the gradient of the penalty; sign(0) = 0)."""
    cdef Py_ssize_t v, i
    cdef double l1, l2, w
    for v in range(e.n_vars):
        l1, l2 = e.var_l1[v], e.var_l2[v] + e.var_l2_rows[v] / denom
        if l1 == 0 and l2 == 0:
            continue
        for i in range(e.var_off[v], e.var_off[v] + e.var_size[v]):
            w = params[i]
            grads[i] += <floating> (l1 * (1.0 if w > 0 else (-1.0 if w < 0 else 0.0))
                                    + 2.0 * l2 * w)


# Rows of a kernel with images per piece of its optimizer step: about Adam's 80 KB in cache.
cdef enum:
    IMAGE_PIECE = 4096


cdef inline Py_ssize_t _image_piece_rows(Py_ssize_t cols) noexcept nogil:
    """Rows per piece: even, so that a piece never splits a pair of the forward image."""
    return max(2, IMAGE_PIECE // max(cols, 1) // 2 * 2)


cdef void _pack_images(Engine e, const float *params, int n_threads) noexcept nogil:
    """All images from the weights as they are (a training call's first batch)."""
    cdef Py_ssize_t v, c, rows, cols, per, n_pieces
    cdef int nt
    for v in range(e.n_vars):
        if e.var_img_fwd[v] == NULL:
            continue
        rows = e.var_img_rows[v]
        cols = e.var_size[v] // rows
        per = _image_piece_rows(cols)
        n_pieces = (rows + per - 1) // per
        nt = threads_for(e.var_size[v], n_threads)
        if nt == 1:
            image_rows(e.var_img_fwd[v], e.var_img_bwd[v], params + e.var_off[v], rows, cols,
                       0, rows)
            continue
        for c in prange(n_pieces, schedule="static", num_threads=nt):
            image_rows(e.var_img_fwd[v], e.var_img_bwd[v], params + e.var_off[v], rows, cols,
                       c * per, min(rows, (c + 1) * per))
    e.images_ready = True


cdef double _step(Engine e, floating *w, floating *g, Py_ssize_t off, Py_ssize_t n, double lr,
                  long t, double decay, double scale, double clip_value,
                  int n_threads) noexcept nogil:
    """The optimizer's rule on elements [off, off + n) of the parameters (any slice: the
    rules are elementwise, except Lamb, whose callers pass whole variables). Returns Nadam's
    new u_product (the current one for the other rules)."""
    cdef double *h = e.hyper
    cdef floating *s0 = <floating *> e.p_slot[0]
    cdef floating *s1 = <floating *> e.p_slot[1]
    cdef floating *s2 = <floating *> e.p_slot[2]
    if e.opt_kind == OPT_SGD:
        sgd_update_nogil(w + off, g + off, s0 + off if s0 != NULL else NULL, n, lr,
                         h[H_MOMENTUM], h[H_NESTEROV] != 0, decay, scale,
                         clip_value, n_threads)
    elif e.opt_kind == OPT_ADAM:
        adam_update_nogil(w + off, g + off, s0 + off, s1 + off,
                          s2 + off if s2 != NULL else NULL, n, lr, h[H_BETA_1],
                          h[H_BETA_2], h[H_EPSILON], t, decay, scale,
                          clip_value, n_threads)
    elif e.opt_kind == OPT_RMSPROP:
        rmsprop_update_nogil(w + off, g + off, s0 + off, s1 + off if s1 != NULL else NULL,
                             s2 + off if s2 != NULL else NULL, n, lr, h[H_RHO],
                             h[H_MOMENTUM], h[H_EPSILON], decay, scale,
                             clip_value, n_threads)
    elif e.opt_kind == OPT_ADAGRAD:
        adagrad_update_nogil(w + off, g + off, s0 + off, n, lr, h[H_EPSILON],
                             decay, scale, clip_value, n_threads)
    elif e.opt_kind == OPT_ADADELTA:
        adadelta_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr, h[H_RHO],
                              h[H_EPSILON], decay, scale, clip_value, n_threads)
    elif e.opt_kind == OPT_ADAMAX:
        adamax_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr, h[H_BETA_1],
                            h[H_BETA_2], h[H_EPSILON], t, decay, scale,
                            clip_value, n_threads)
    elif e.opt_kind == OPT_NADAM:
        return nadam_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr,
                                  h[H_BETA_1], h[H_BETA_2], h[H_EPSILON], t,
                                  e.nadam_u_product, decay, scale,
                                  clip_value, n_threads)
    elif e.opt_kind == OPT_LION:
        lion_update_nogil(w + off, g + off, s0 + off, n, lr, h[H_BETA_1], h[H_BETA_2],
                          decay, scale, clip_value, n_threads)
    elif e.opt_kind == OPT_FTRL:
        ftrl_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr,
                          h[H_LEARNING_RATE_POWER], h[H_L1], h[H_L2], h[H_L2_SHRINKAGE],
                          h[H_BETA], decay, scale, clip_value, n_threads)
    elif e.opt_kind == OPT_LAMB:  # per variable: its trust ratio uses its own norms
        lamb_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr, h[H_BETA_1],
                          h[H_BETA_2], h[H_EPSILON], t, decay, scale, clip_value,
                          n_threads)
    return e.nadam_u_product


cdef double _step_with_images(Engine e, floating *w, floating *g, Py_ssize_t v, double lr,
                              long t, double decay, double scale, double clip_value,
                              int n_threads) noexcept nogil:
    """The step of a kernel with images: piece by piece of even rows, each piece's images
    written right after its update, by the thread that updated it."""
    cdef Py_ssize_t off = e.var_off[v], rows = e.var_img_rows[v]
    cdef Py_ssize_t cols = e.var_size[v] // rows, per = _image_piece_rows(cols)
    cdef Py_ssize_t n_pieces = (rows + per - 1) // per, c, r1
    cdef int nt = threads_for(e.var_size[v], n_threads)
    cdef double product = e.nadam_u_product
    if e.opt_kind == OPT_LAMB:  # its norms span the whole variable: update, then pack
        product = _step(e, w, g, off, e.var_size[v], lr, t, decay, scale, clip_value,
                        n_threads)
        for c in prange(n_pieces, schedule="static", num_threads=nt):
            image_rows(e.var_img_fwd[v], e.var_img_bwd[v], <const float *> w + off, rows,
                       cols, c * per, min(rows, (c + 1) * per))
        return product
    if nt == 1:
        for c in range(n_pieces):
            r1 = min(rows, (c + 1) * per)
            product = _step(e, w, g, off + c * per * cols, (r1 - c * per) * cols, lr, t, decay,
                            scale, clip_value, 1)
            image_rows(e.var_img_fwd[v], e.var_img_bwd[v], <const float *> w + off, rows,
                       cols, c * per, r1)
        return product
    for c in prange(n_pieces, schedule="static", num_threads=nt):
        r1 = min(rows, (c + 1) * per)
        product = _step(e, w, g, off + c * per * cols, (r1 - c * per) * cols, lr, t, decay,
                        scale, clip_value, 1)
        image_rows(e.var_img_fwd[v], e.var_img_bwd[v], <const float *> w + off, rows, cols,
                   c * per, r1)
    return product


cdef void _update(Engine e, floating *w, floating *g, double lr, long t,
                  int n_threads) noexcept nogil:
    """Clip (clipnorm per variable, global_clipnorm, clipvalue), then each variable's step
    (which, for a kernel with images, repacks them)."""
    cdef Py_ssize_t v, off, n
    cdef double *h = e.hyper
    cdef double scale, global_scale = 1.0, norm, total = 0.0, decay
    cdef double clip_value = h[H_CLIPVALUE] if h[H_CLIPVALUE] > 0 else INFINITY
    cdef double product = e.nadam_u_product
    if h[H_GLOBAL_CLIPNORM] > 0:
        for v in range(e.n_vars):
            total += sum_squares_nogil(g + e.var_off[v], e.var_size[v], n_threads)
        norm = sqrt(total)
        global_scale = h[H_GLOBAL_CLIPNORM] / max(norm, h[H_GLOBAL_CLIPNORM])
    for v in range(e.n_vars):
        off, n = e.var_off[v], e.var_size[v]
        scale = global_scale
        decay = h[H_WEIGHT_DECAY] * e.var_decay[v]
        if h[H_CLIPNORM] > 0:
            norm = sqrt(sum_squares_nogil(g + off, n, n_threads))
            scale = h[H_CLIPNORM] / max(norm, h[H_CLIPNORM])
        if floating is float and e.images_ready and e.var_img_fwd[v] != NULL:
            product = _step_with_images(e, w, g, v, lr, t, decay, scale, clip_value, n_threads)
        else:
            product = _step(e, w, g, off, n, lr, t, decay, scale, clip_value, n_threads)
    e.nadam_u_product = product
