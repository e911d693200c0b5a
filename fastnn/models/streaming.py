"""fit over batch streams and row sources (see ``adapters``; evaluate and predict are in
``stream_inference``).

The same compiled engine runs; it is fed one block at a time instead of one epoch: a batch
from a generator, PyDataset or tf.data.Dataset, or a whole number of batches read from a
memory-mapped file and converted to the model's dtype. Python runs once per block: check and
convert it (as the array path does for the whole data), hand it to the engine, update the
metrics with its rows. Rows of a row source go in the order the array path would use (the
same draws of fastnn's random state), so a memmap trains to the same bits as the same data in
memory.

Failures: data is only seen batch by batch, so a bad batch is found mid-epoch. The error names
the batch and what was expected, and the model is put back as it was before that epoch began
(weights, statistics, optimizer slots and step count; the epochs before it stay trained).
"""

from __future__ import annotations

import warnings

import numpy as np

from fastnn import _thread_policy
from fastnn._kernels._openmp_helpers import effective_n_threads
from fastnn.callbacks import Callback, CallbackList, History, ProgbarLogger
from fastnn.metrics import base as _metrics_base
from fastnn.metrics.compile_metrics import log_value
from fastnn.models import adapters as _adapters
from fastnn.models import data as _data


class BatchError(ValueError):
    """A batch of a stream that cannot be used (wrong structure, shape, dtype, NaN, ...)."""


def involved(model, x, validation_data) -> bool:
    """Whether fit needs this module: x, or the validation data, streams."""
    if source_kind(model, x):
        return True
    if isinstance(validation_data, (tuple, list)) and validation_data:
        return source_kind(model, validation_data[0]) is not None
    return source_kind(model, validation_data) is not None


def source_kind(model, x) -> str | None:
    """'stream', 'rows' or None (in-memory arrays, the array path)."""
    if x is None:
        return None
    if _adapters.is_batch_stream(x):
        return "stream"
    if _adapters.is_row_source(x, model):
        return "rows"
    return None


# ---- fit -------------------------------------------------------------------------------------

def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
        shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
        validation_batch_size, validation_freq, check):
    """``Trainer.fit`` when x or validation_data is a stream or row source; ``check`` is the
    trainer's argument checks (verbose, batch size), run first."""
    from fastnn.models import trainer as _trainer

    model._require_compiled("fit")
    verbose, batch_size = check(verbose, batch_size)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"`epochs` must be a non-negative integer; received {epochs!r}.")
    if shuffle not in (True, False, "batch"):
        raise ValueError(f"`shuffle` must be True, False or 'batch'; received {shuffle!r}.")
    if steps_per_epoch is not None:
        steps_per_epoch = _trainer._check_batch_size(steps_per_epoch)
    kind = source_kind(model, x) or "arrays"
    if kind == "stream":
        _refuse_with_stream(x, y, sample_weight, class_weight)
        if validation_split:
            raise ValueError("`validation_split` is only supported for Tensors or NumPy "
                             f"arrays, found following types in the input: [{type(x)}]")
        if shuffle is True and _adapters.kind_name(x) != "PyDataset":
            warnings.warn(
                "`shuffle=True` was passed, but will be ignored since the data `x` was "
                f"provided as a {_adapters.kind_name(x)}. It is expected to yield "
                "already-shuffled data.", UserWarning, stacklevel=3)
        feed = _StreamFeed(model, _adapters.BatchStream(x, steps_per_epoch, shuffle is True),
                           class_weight)
    else:
        feed = _RowFeed(model, x, y, sample_weight, class_weight, batch_size, shuffle,
                        steps_per_epoch)
    from fastnn.models.stream_inference import Validation

    val = None
    with model._unchanged_on_error():
        first = feed.prepare_first()
        if validation_data is not None:
            val = Validation(model, validation_data, validation_steps,
                              _trainer._check_batch_size(validation_batch_size, batch_size))
        elif validation_split and kind != "stream":
            val = Validation.split_from(model, feed, validation_split, batch_size,
                                         validation_batch_size)
        if first is None:
            raise ValueError("Expected input data to be non-empty.")
    steps = feed.num_batches
    history = History()
    cbs = list(callbacks or [])
    if not all(isinstance(cb, Callback) for cb in cbs):
        raise ValueError("`callbacks` must be a list of fastnn.callbacks.Callback objects.")
    if verbose:
        cbs.append(ProgbarLogger(verbose))
    cbs.append(history)
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    cb = CallbackList(cbs, model=model, **params)
    params = cb.params      # the one dict every callback holds (its steps are learnt below)
    per_batch = cb.needs_batch_hooks or bool(model._plan.constrained)
    n_threads = effective_n_threads()
    model.stop_training = False
    cb.call("on_train_begin", None)
    logs: dict[str, float] = {}
    try:
        for epoch in range(initial_epoch, epochs):
            if not feed.has_more():
                break
            epoch_logs = _train_epoch(model, feed, epoch, per_batch, cb, n_threads)
            if epoch_logs is None:
                break
            if params["steps"] is None:
                # Keras learns a stream's length from its first pass (the bar's "n/n").
                params["steps"] = feed.stream.batches_seen
            logs = epoch_logs
            if val is not None and _trainer._validate_now(epoch, validation_freq):
                logs.update({f"val_{k}": v for k, v in val.run(n_threads).items()})
            logs = dict(sorted(logs.items()))
            cb.call("on_epoch_end", epoch, logs)
            if model.stop_training:
                break
    finally:
        feed.close()
        if val is not None:
            val.close()
    cb.call("on_train_end", logs)
    model.history = history
    return history


def _refuse_with_stream(x, y, sample_weight, class_weight) -> None:
    what = _adapters.kind_name(x)
    for value, arg, description in ((y, "y", "the targets"),
                                    (sample_weight, "sample_weights", "the sample weights")):
        if value is not None:
            raise ValueError(f"When providing `x` as a {what}, `{arg}` should not be passed. "
                             f"Instead, {description} should be included as part of the "
                             f"{what}.")
    if class_weight is not None and what == "generator":
        raise ValueError("Argument `class_weight` is not supported for Python generator "
                         f"inputs. Received: class_weight={class_weight}")


def _train_epoch(model, feed, epoch, per_batch, cb, n_threads):
    """One epoch, block by block; None when the data had run out before it began."""
    snapshot = _snapshot(model)
    metrics = _MetricSums(model)
    acc = _LossSums(len(model._plan.out_dims))
    # Keras checks `stop_training` after each batch, so an epoch runs at least one batch.
    stopping = model.stop_training
    cb.call("on_epoch_begin", epoch, None)
    batch = 0
    try:
        for xs, ys, ws, batch_size in feed.blocks(epoch):
            batch = _train_block(model, xs, ys, ws, batch_size, batch, per_batch, stopping,
                                 cb, acc, metrics, n_threads)
            if model.stop_training:
                break
    except BatchError as err:
        _restore(model, snapshot)
        text = str(err) if str(err).endswith(".") else f"{err}."
        raise BatchError(f"{text} The model is as it was before epoch {epoch + 1} began."
                         ) from err.__cause__
    except Exception as err:
        _restore(model, snapshot)
        err.add_note(f"fastnn: raised in epoch {epoch + 1}, after {batch} batches; the model "
                     f"is as it was before epoch {epoch + 1} began.")
        raise
    if acc.rows == 0:
        return None
    return {**acc.logs(model), **metrics.results()}


def _train_block(model, xs, ys, ws, batch_size, batch, per_batch, stopping, cb, acc, metrics,
                 n_threads) -> int:
    """The block's batches through the training engine; returns the next batch index."""
    plan, opt = model._plan, model.optimizer
    engine = plan.engine
    model._bind_python_losses(ys, ws)
    n_rows = xs.shape[0]
    n_batches = -(-n_rows // batch_size)
    preds = model._prediction_buffers(n_rows)
    order = np.arange(n_rows, dtype=np.int64)
    chunk = 1 if per_batch or stopping else n_batches
    done_batches = 0
    while done_batches < n_batches:
        lo, hi = done_batches * batch_size, min(n_rows, (done_batches + chunk) * batch_size)
        if per_batch:
            cb.call("on_train_batch_begin", batch, None)
        base, taken = int(opt.iterations), engine.steps_taken
        lrs = opt.learning_rates(base, -(-(hi - lo) // batch_size))
        try:
            part, rows, done, interrupt, _ = _thread_policy.train_epoch(
                engine, xs, ys, ws, order[lo:hi], batch_size, lrs, base + 1,
                [None if p is None else p[lo:hi] for p in preds], n_threads,
                head_sums=acc.head_sums)
        finally:
            model._sync_optimizer(base, taken)
        acc.loss += part
        acc.rows += rows
        if interrupt is not None:
            raise interrupt
        if plan.constrained:
            model._apply_constraints()
        metrics.update([None if y is None else y[lo:lo + rows] for y in ys],
                       [None if p is None else p[lo:lo + rows] for p in preds],
                       [None if w is None else w[lo:lo + rows] for w in ws], batch_size)
        done_batches += done
        batch += done
        cb.call("on_train_batch_end", batch - 1, {"loss": acc.loss / acc.rows})
        if model.stop_training and (per_batch or stopping):
            break
    return batch


class _LossSums:
    def __init__(self, n_heads: int):
        self.loss, self.rows = 0.0, 0
        self.head_sums = np.zeros(n_heads)

    def logs(self, model) -> dict[str, float]:
        return {"loss": self.loss / self.rows, **model._output_losses(self.head_sums, self.rows)}


class _MetricSums:
    """The compiled metrics over an epoch's blocks: reset once, updated per block (users'
    metrics batch by batch, as Keras updates them), read once."""

    def __init__(self, model):
        self.model = model
        self.objects = model._metric_objects or []
        for metric, _, _ in self.objects:
            metric.reset_state()

    def update(self, ys, preds, ws, batch_size) -> None:
        for metric, weighted, h in self.objects:
            _metrics_base.update_over_rows(metric, ys[h], preds[h], ws[h] if weighted else None,
                                           batch_size)

    def results(self) -> dict:
        # The trainer's keys and values (an array for a vector result such as F1 per class).
        return {key: log_value(metric.result())
                for key, metric, _, _ in self.model._keyed_metrics() or []}


def _snapshot(model):
    plan, opt = model._plan, model.optimizer
    slots = opt.slots_for(plan.params.size, plan.dtype)
    return (plan.params.copy(), plan.state.copy(), [s.copy() for s in slots], int(opt.iterations),
            getattr(opt, "u_product", None), slots)


def _restore(model, snapshot) -> None:
    plan, opt = model._plan, model.optimizer
    params, state, slot_values, iterations, u_product, slots = snapshot
    plan.params[...] = params
    plan.state[...] = state
    for slot, value in zip(slots, slot_values):
        slot[...] = value
    opt.iterations = iterations
    if u_product is not None:
        opt.u_product = u_product


# ---- what feeds an epoch -------------------------------------------------------------------

def _batch_error(err: Exception, index: int, kind: str, epoch: int | None) -> BatchError:
    where = f"Batch {index}" + (f" of epoch {epoch + 1}" if epoch is not None else "")
    return BatchError(f"{where} from the {kind} cannot be used: {err}")


class _StreamFeed:
    """A batch stream: each batch checked and converted as the array path checks arrays."""

    def __init__(self, model, stream: _adapters.BatchStream, class_weight):
        self.model, self.stream, self.class_weight = model, stream, class_weight

    @property
    def num_batches(self):
        return self.stream.num_batches

    def _prepared(self, batch, index: int, epoch):
        try:
            bx, by, bw = _adapters.unpack(batch, self.stream.kind, index)
            if by is None:
                raise ValueError("it holds no targets: a batch must be a tuple (x, y) or "
                                 "(x, y, sample_weight) to train on.")
            xs, ys, ws, _ = self.model._training_arrays(bx, by, bw, self.class_weight)
        except ValueError as err:
            raise _batch_error(err, index, self.stream.kind, epoch) from err
        if xs.shape[0] == 0:
            raise _batch_error(ValueError("it has no rows."), index, self.stream.kind, epoch)
        return xs, ys, ws, xs.shape[0]

    def prepare_first(self):
        """Build the model (and its losses and metrics) from the first batch."""
        first = self.stream.peek()
        if first is None:
            if self.stream.kind == "generator":
                raise ValueError("When passing a Python generator to a Keras model, the "
                                 "generator must yield at least one batch. Received an empty "
                                 "generator.")
            return None
        return self._prepared(first, 0, None)

    def has_more(self) -> bool:
        if self.stream.peek() is None:
            self.stream.ran_out()
            return False
        return True

    def blocks(self, epoch: int):
        batches = self.stream.epoch()
        try:
            for index, batch in enumerate(batches):
                yield self._prepared(batch, index, epoch)
        finally:
            batches.close()

    def close(self) -> None:
        self.stream.close()


class _RowFeed:
    """Rows of a row source (or of in-memory arrays, when only validation streams), in the
    array path's order, read and converted a block of batches at a time."""

    def __init__(self, model, x, y, sample_weight, class_weight, batch_size, shuffle,
                 steps_per_epoch):
        self.model, self.x, self.y = model, x, y
        self.sample_weight, self.class_weight = sample_weight, class_weight
        self.batch_size, self.shuffle, self.steps_per_epoch = batch_size, shuffle, \
            steps_per_epoch
        self.rows = None
        self.epochs = None

    def prepare_first(self):
        if self.y is None:
            raise ValueError("`y` is required to train: fastnn trains on (x, y) arrays.")
        if isinstance(self.x, np.ndarray) and not isinstance(self.x, np.memmap):
            xs = self.model._inputs(self.x)
            self.rows = _adapters.RowSource(xs)
        else:
            self.rows = _adapters.RowSource(self.x)
            xs = self.model._inputs(self.rows.take(np.arange(min(1, len(self.rows)))))
        self.ys, self.ws, _ = self.model._targets(self.y, self.sample_weight,
                                                  self.class_weight, len(self.rows))
        return xs if len(self.rows) else None

    def split_validation(self, fraction):
        """Keras's validation_split: the last rows, before any shuffling."""
        k = len(self.ys)
        n = len(self.rows)
        # The same split as the array path (which also checks the fraction).
        train, held = _data.split_validation([np.empty((n, 0)), *self.ys, *self.ws], fraction)
        at = train[0].shape[0]
        self.rows, val_rows = self.rows.split(at)
        self.ys, self.ws = train[1:1 + k], train[1 + k:]
        return val_rows, held[1:1 + k], held[1 + k:]

    @property
    def num_batches(self):
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        return -(-len(self.rows) // self.batch_size)

    def has_more(self) -> bool:
        return True

    def blocks(self, epoch: int):
        from fastnn.models.trainer import _EpochStream

        if self.epochs is None:
            self.epochs = _EpochStream(len(self.rows), self.batch_size, self.shuffle,
                                       self.steps_per_epoch)
        order = self.epochs.next_epoch()
        if order.size == 0:
            return
        yield from _row_blocks(self.model, self.rows, order, self.ys, self.ws,
                               self.batch_size, epoch)

    def close(self) -> None:
        pass


def _row_blocks(model, rows, order, ys, ws, batch_size, epoch):
    per_block = rows.block_batches(batch_size) * batch_size
    for lo in range(0, order.size, per_block):
        take = order[lo:lo + per_block]
        raw = rows.take(take)
        try:
            xs = model._inputs(raw)
        except ValueError as err:
            first_batch = lo // batch_size
            raise _batch_error(err, _bad_batch(model, raw, batch_size, first_batch),
                               "memory-mapped array", epoch) from err
        yield (xs, [None if y is None else y[take] for y in ys],
               [None if w is None else w[take] for w in ws], batch_size)


def _bad_batch(model, raw, batch_size, first_batch) -> int:
    """The batch of a failed block whose rows failed (the block's first when unknown)."""
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw.reshape(raw.shape[0], -1)).all(axis=1)
        if bad.any():
            return first_batch + int(np.argmax(bad)) // batch_size
    return first_batch
