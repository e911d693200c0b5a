"""evaluate and predict over batch streams and row sources, and fit's validation data.

Inference needs no restore: a bad batch only stops the call, naming the batch. ``predict``
writes into one output buffer per model output, preallocated when the rows are known (a
row source, a PyDataset, ``steps``) and grown geometrically otherwise, so a long stream never
holds a list of pieces and a concatenated copy at once.
"""

from __future__ import annotations

import time

import numpy as np

from fastnn import _thread_policy
from fastnn._kernels._openmp_helpers import effective_n_threads
from fastnn.models import adapters as _adapters
from fastnn.models import data as _data
from fastnn.models.streaming import (
    _batch_error,
    _LossSums,
    _MetricSums,
    _refuse_with_stream,
    _row_blocks,
    source_kind,
)


class Validation:
    """fit's validation data: arrays, a stream (``validation_steps`` batches per run) or a
    row source."""

    def __init__(self, model, validation_data, steps, batch_size):
        self.model, self.batch_size = model, batch_size
        self.stream = None
        self.arrays = None
        self.rows = None
        if _adapters.is_batch_stream(validation_data):
            self.stream = _adapters.BatchStream(validation_data, steps)
            return
        vx, vy, vw = _data.unpack_validation_data(validation_data)
        if source_kind(model, vx) == "rows":
            self.rows = _adapters.RowSource(vx)
            self.ys, self.ws, _ = model._targets(vy, vw, None, len(self.rows))
            if len(self.rows) == 0:
                raise ValueError("The validation data has no rows: pass `validation_data` "
                                 "with at least one sample, or none.")
            return
        self.arrays = model._eval_arrays(vx, vy, vw)
        if self.arrays[0].shape[0] == 0:
            raise ValueError("The validation data has no rows: pass `validation_data` with "
                             "at least one sample, or none.")

    @classmethod
    def split_from(cls, model, feed, fraction, batch_size, validation_batch_size):
        from fastnn.models.trainer import _check_batch_size

        val = cls.__new__(cls)
        val.model = model
        val.batch_size = _check_batch_size(validation_batch_size, batch_size)
        val.stream = val.arrays = None
        val.rows, val.ys, val.ws = feed.split_validation(fraction)
        return val

    def run(self, n_threads) -> dict[str, float]:
        if self.arrays is not None:
            return self.model._evaluate_arrays(*self.arrays, self.batch_size, n_threads)
        if self.rows is not None:
            blocks = _row_blocks(self.model, self.rows, np.arange(len(self.rows)), self.ys,
                                 self.ws, self.batch_size, None)
            return _evaluate_blocks(self.model, blocks, n_threads)
        logs = _evaluate_blocks(self.model, _stream_eval_blocks(self.model, self.stream),
                                n_threads)
        # A generator used up by an earlier validation has nothing left: no val_ logs
        # (Keras re-reads its two peeked batches instead).
        return logs if self.stream.batches_seen else {}

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


def _stream_eval_blocks(model, stream):
    batches = stream.epoch()
    try:
        for index, batch in enumerate(batches):
            try:
                bx, by, bw = _adapters.unpack(batch, stream.kind, index)
                if by is None:
                    raise ValueError("it holds no targets: a batch must be a tuple (x, y) or "
                                     "(x, y, sample_weight) to evaluate on.")
                xs, ys, ws = model._eval_arrays(bx, by, bw)
            except ValueError as err:
                raise _batch_error(err, index, stream.kind, None) from err
            yield xs, ys, ws, max(1, xs.shape[0])
    finally:
        batches.close()


def _evaluate_blocks(model, blocks, n_threads) -> dict[str, float]:
    plan = model._plan
    acc = _LossSums(len(plan.out_dims))
    with model._metric_lock:
        metrics = None
        for xs, ys, ws, batch_size in blocks:
            if metrics is None:
                # After the first block: making it resolved the compiled metrics (a model's
                # first evaluate builds them from the targets' shapes).
                metrics = _MetricSums(model)
            if xs.shape[0] == 0:
                continue
            model._bind_python_losses(ys, ws)
            preds = model._prediction_buffers(xs.shape[0])
            # The running sums pass on, so blocks add their batches in one call's order.
            acc.loss = _thread_policy.evaluate(
                plan.inference_engine, xs, ys, ws, _inference_rows(plan, batch_size), preds,
                n_threads, head_sums=acc.head_sums, step=plan.inference_step(),
                loss_sum=acc.loss)
            acc.rows += xs.shape[0]
            metrics.update(ys, preds, ws, batch_size)
        if acc.rows == 0:
            return model._empty_logs()
        return {**acc.logs(model), **metrics.results()}


def _inference_rows(plan, batch_size):
    from fastnn.models.trainer import _inference_rows

    return _inference_rows(plan, batch_size)


def evaluate(model, x, y, batch_size, verbose, sample_weight, steps, return_dict):
    """``Trainer.evaluate`` over a stream or a row source."""
    started = time.perf_counter()
    kind = source_kind(model, x)
    if kind == "stream":
        _refuse_with_stream(x, y, sample_weight, None)
        stream = _adapters.BatchStream(x, steps)
        with model._unchanged_on_error():
            first = stream.peek()
            if first is None:
                raise ValueError("Expected input data to be non-empty.")
            model._inputs(_adapters.unpack(first, stream.kind, 0)[0])
        try:
            logs = _evaluate_blocks(model, _stream_eval_blocks(model, stream),
                                    effective_n_threads())
        finally:
            stream.close()
        done = stream.batches_seen
    else:
        rows = _adapters.RowSource(x)
        with model._unchanged_on_error():
            model._inputs(rows.take(np.arange(min(1, len(rows)))))
            ys, ws, _ = model._targets(y, sample_weight, None, len(rows))
            if len(rows) == 0:
                raise ValueError("Expected input data to be non-empty.")
        n = len(rows) if steps is None else min(len(rows), steps * batch_size)
        logs = _evaluate_blocks(model, _row_blocks(model, rows, np.arange(n), ys, ws,
                                                   batch_size, None), effective_n_threads())
        done = -(-n // batch_size)
    if verbose:
        from fastnn.callbacks.progbar import Progbar

        bar = Progbar(done, verbose)
        bar.start = started
        bar.update(done, dict(sorted(logs.items())), final=True)
    return model._format_results(logs, return_dict)


class _GrowingOutputs:
    """Per output, one buffer that the engine writes into batch by batch: preallocated when
    the number of rows is known, else grown geometrically in place (no list of pieces to
    concatenate at the end)."""

    def __init__(self, dims, dtype, rows: int):
        self.dims, self.dtype = dims, dtype
        self.buffers = [np.empty((rows, d), dtype=dtype) for d in dims]
        self.rows = 0

    def slots(self, n: int) -> list[np.ndarray]:
        need = self.rows + n
        capacity = self.buffers[0].shape[0]
        if need > capacity:
            grown = max(need, 2 * capacity, 1024)
            for buf, d in zip(self.buffers, self.dims):
                buf.resize((grown, d), refcheck=False)
        views = [buf[self.rows:need] for buf in self.buffers]
        self.rows = need
        return views

    def result(self) -> list[np.ndarray]:
        for buf, d in zip(self.buffers, self.dims):
            if buf.shape[0] != self.rows:
                buf.resize((self.rows, d), refcheck=False)
        return self.buffers


def predict(model, x, batch_size, steps):
    """``Trainer.predict`` over a stream or a row source, writing into preallocated (or
    growing) outputs a batch or block at a time."""
    plan = None
    n_threads = effective_n_threads()
    if source_kind(model, x) == "stream":
        stream = _adapters.BatchStream(x, steps)
        first = stream.peek()
        if first is None:
            raise ValueError("Expected input data to be non-empty.")
        blocks = stream.epoch()
        expected = stream.num_batches
        label = stream.kind
    else:
        rows = _adapters.RowSource(x)
        n = len(rows) if steps is None else min(len(rows), steps * batch_size)
        per_block = rows.block_batches(batch_size) * batch_size
        blocks = (rows.take(np.arange(lo, min(n, lo + per_block)))
                  for lo in range(0, n, per_block))
        expected = None
        label = "memory-mapped array"
        stream = None
    outputs = None
    try:
        for index, raw in enumerate(blocks):
            try:
                if stream is not None:
                    raw = _adapters.unpack(raw, stream.kind, index)[0]
                xs = model._inputs(raw)
            except ValueError as err:
                raise _batch_error(err, index, label, None) from err
            plan = model._plan
            if outputs is None:
                guess = xs.shape[0] * expected if expected else (n if stream is None else 0)
                outputs = _GrowingOutputs(plan.out_dims, plan.dtype, guess)
            outs = outputs.slots(xs.shape[0])
            if xs.shape[0]:
                _thread_policy.predict(plan.inference_engine, xs,
                                       outs if len(outs) > 1 else outs[0],
                                       _inference_rows(plan, batch_size), n_threads,
                                       step=plan.inference_step())
    finally:
        if stream is not None:
            stream.close()
    if outputs is None:
        raise ValueError("Expected input data to be non-empty.")
    return model._structure_outputs(plan.shaped_outputs(outputs.result()))
