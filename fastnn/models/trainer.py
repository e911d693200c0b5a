"""compile, fit, evaluate, predict and the *_on_batch methods (Keras 3 semantics).

Python runs once per epoch: it validates the data, draws the epoch's order, asks the optimizer
for the learning rate of each step, and hands the whole epoch to the engine. The engine returns
the loss sum and the training-mode predictions, from which the epoch's metrics are computed
in NumPy; then validation, logs and callbacks. The engine runs in shorter chunks only to
repaint a progress bar, and batch by batch only for callbacks with batch hooks or when
weights have constraints.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings

import numpy as np

from fastnn import _random, _thread_policy
from fastnn import losses as _losses
from fastnn import metrics as _metrics
from fastnn import optimizers as _optimizers
from fastnn._kernels._engine import HYPER, N_HYPER, OPTIMIZERS
from fastnn._kernels._openmp_helpers import effective_n_threads
from fastnn.callbacks import Callback, CallbackList, History, ProgbarLogger
from fastnn.layers import quantized as _quantized
from fastnn.losses import python_loss as _python_loss
from fastnn.losses.engine import spec_depends_on_batch
from fastnn.losses.ops_losses import depends_on_batch
from fastnn.metrics import base as _metrics_base
from fastnn.metrics.compile_metrics import log_value
from fastnn.models import data as _data
from fastnn.models.metrics_api import MetricsAPIMixin
from fastnn.optimizers.base import KERNEL_SLOTS

# A progress bar repaints about this often (seconds); the engine runs that long per call.
_REPAINT_SECONDS = 0.1
# Rows per engine call in predict/evaluate: results do not depend on it; larger is faster.
_INFERENCE_ROWS = 1024
# More rows than any array can have (batch offsets stay below 2**63 when multiplied out).
_MAX_BATCH = 1 << 40


def _inference_rows(plan, batch_size: int) -> int:
    # Inference gives the same numbers for any chunk size, so it runs in large chunks; a
    # layer forced into training mode (batch statistics, a mask per batch) sees the batches
    # Keras would.
    return batch_size if plan.forces_training else max(batch_size, _INFERENCE_ROWS)


# Types whose exact instances are always in memory (never a stream or a row source): predict
# skips the data-source check for them, which costs a tenth of a one-row call.
_NEVER_STREAMS = frozenset((np.ndarray, list, tuple, dict))


def _streams(model, x) -> bool:
    """Whether x is a stream or row source (the module loads on the first call with one)."""
    from fastnn.models import streaming

    return streaming.source_kind(model, x) is not None


def _resolve_verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto'; received {verbose!r}.")
    return int(verbose)


def _check_batch_size(batch_size, default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer; received {batch_size!r}.")
    # A batch larger than the data is all of it; capping keeps a size like 2**63 (which Keras
    # fails on) within the engine's 64-bit sizes without changing what it means.
    return int(min(batch_size, _MAX_BATCH))


class Trainer(MetricsAPIMixin):
    """The training half of a model; Sequential provides layers, build and the plan."""

    def _init_trainer(self) -> None:
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._compile_metrics: list = []
        self._weighted_metrics: list = []
        self._metric_objects: list | None = None
        self._training_ready = False
        self._loss_spec = None
        self._loss_specs: list = []
        self.loss_weights = None
        self._fit_lock = threading.Lock()
        # The metric objects are the model's: one call's reset, update and result run
        # together, so that evaluates in several threads do not mix their counts.
        self._metric_lock = threading.Lock()

    # ---- compile ---------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Choose the optimizer, loss and metrics (Keras 3's signature and defaults)."""
        self._require_not_training("compile", "compile")
        if isinstance(loss_weights, (list, tuple)) and metrics is None and loss_weights \
                and all(isinstance(m, str) for m in loss_weights):
            # Keras 2's positional order was (optimizer, loss, metrics): old scripts that call
            # compile("adam", "mse", ["mae"]) mean metrics.
            metrics, loss_weights = loss_weights, None
        if loss_weights is not None and not isinstance(loss_weights, (int, float, list, tuple,
                                                                      dict)):
            raise ValueError(
                "Expected `loss_weights` argument to be a float (single output case) or a "
                "list, tuple, or dict (multiple output case). Received instead: "
                f"loss_weights={loss_weights} of type {type(loss_weights)}")
        new_optimizer = _optimizers.get(optimizer)
        for item in _leaves(loss):
            if item is not None and not (isinstance(item, str)
                                         and item.lower() in ("crossentropy", "ce")) \
                    and _python_loss.custom_loss(item) is None:
                _losses.engine_spec(item)  # fail now, not at fit, for a loss the engine lacks
        new_metrics = self._metric_list(metrics, "metrics")
        new_weighted = self._metric_list(weighted_metrics, "weighted_metrics")
        self.optimizer = new_optimizer
        self.loss = loss
        self.loss_weights = loss_weights
        self._compile_metrics = new_metrics
        self._weighted_metrics = new_weighted
        self._metric_objects = None
        self._new_metric_trackers()
        self._training_ready = False
        self.compiled = True
        self._invalidate_plan()

    def _require_not_training(self, what: str, method: str) -> None:
        """Refuse a change of the loss, optimizer or layers while ``fit`` runs (from one of its
        callbacks, or another thread): the epoch in progress was planned for the old ones.
        (Keras 3 fails too when a callback recompiles, with a TypeError deep in ``fit``.)"""
        lock = getattr(self, "_fit_lock", None)
        if lock is not None and lock.locked():
            raise ValueError(f"Cannot {what} model '{self.name}' while it is being trained: "
                             f"`{method}` was called during `fit` (from a callback, or another "
                             f"thread). Call it before `fit` or after `fit` returns.")

    @staticmethod
    def _metric_list(metrics, name: str):
        if metrics is None:
            return []
        if not isinstance(metrics, (list, tuple, dict)):
            raise ValueError(f"Expected `{name}` argument to be a list, tuple, or dict. "
                             f"Received instead: {name}={metrics} of type {type(metrics)}")
        for m in _leaves(metrics):
            if m is None or (isinstance(m, str)
                             and m.lower() in ("accuracy", "acc", "crossentropy", "ce")):
                continue
            _metrics.get(m)   # unknown names fail now
        return metrics if isinstance(metrics, dict) else list(metrics)

    def _require_compiled(self, what: str) -> None:
        self._refuse_overridden_steps(what)
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")
        if self.loss is None:
            raise ValueError(
                f"You must call `compile()` with a loss before using `{what}`. "
                "Example: model.compile(optimizer='adam', loss='mse')."
            )

    def _refuse_overridden_steps(self, what: str) -> None:
        """A subclass's train_step/test_step/compute_loss is written for one backend's
        automatic differentiation (tf.GradientTape, torch autograd, jax.grad); fastnn runs
        fit's steps in its engine and cannot run it, so it says so instead of ignoring it."""
        for cls in type(self).__mro__:
            if cls.__module__.startswith("fastnn."):
                break
            steps = [n for n in ("train_step", "test_step", "compute_loss") if n in vars(cls)]
            if steps:
                raise ValueError(
                    f"{cls.__name__} overrides {', '.join(steps)}, which fastnn cannot run: "
                    f"`{what}` runs its steps in the compiled engine, and Keras's overrides "
                    "are written for one backend's gradients (tf.GradientTape, torch, jax). "
                    "Instead pass your loss to compile(loss=fn) (a function or a "
                    "fastnn.losses.Loss subclass written with fastnn.ops), compute in a "
                    "custom Layer's call, or act between batches with a Callback.")

    @contextlib.contextmanager
    def _unchanged_on_error(self):
        """Checking and converting a call's data must change nothing when it fails: a model
        built lazily from that data is unbuilt again, and the random state the build drew
        from is restored."""
        was_built = self.built
        ours = _random.generator().bit_generator.state
        numpy_state = np.random.get_state()
        try:
            yield
        except BaseException:
            if not was_built:
                self._unbuild_from_data()
            _random.generator().bit_generator.state = ours
            np.random.set_state(numpy_state)
            raise

    def _output_names(self) -> list[str]:
        names = getattr(self, "output_names", None)
        if names:
            return list(names)
        return [self.layers[-1].name if self.layers else self.name]

    def _prepare_training(self, y_shapes: list) -> None:
        """Each output's loss, the metrics and the optimizer slots, resolved against the
        data's shapes once."""
        plan = self._plan
        n = len(plan.out_dims)
        if not self._training_ready or not self._loss_specs:
            losses = _per_output(self.loss, n, self._output_names(), "loss")
            weights = _loss_weights(self.loss_weights, n, self._output_names())
            if all(loss is None for loss in losses):
                raise ValueError("You must call `compile()` with a loss before training.")
            for engine in plan.engines:
                engine.clear_losses()
            specs = []
            for h, (loss, weight) in enumerate(zip(losses, weights)):
                if loss is None:
                    specs.append(None)
                    continue
                out_shape = (None, plan.out_dims[h])
                custom = _python_loss.custom_loss(loss, len(plan.out_shapes[h]))
                if custom is not None:
                    # Python code: the engine hands it each batch's outputs (per engine:
                    # a model whose graphs differ by mode evaluates with the second).
                    py = _python_loss.PythonLoss(custom, plan.out_shapes[h],
                                                 self._output_names()[h])
                    for engine in plan.engines:
                        engine.set_external_loss(h, float(weight), py)
                    specs.append(py)
                    continue
                if isinstance(loss, str) and loss.lower() in ("crossentropy", "ce"):
                    loss = _losses.resolve_compile_loss(loss, y_shapes[h], out_shape)
                spec = _losses.engine_spec(loss)
                if spec.reduction not in ("sum_over_batch_size", "mean"):
                    raise ValueError("fastnn trains with the 'sum_over_batch_size' reduction; "
                                     f"received reduction={spec.reduction!r}.")
                # The training engine first; a model whose inference graph differs has a
                # second engine (predict, evaluate) with outputs of its own to fuse.
                for engine, heads in zip(plan.engines, (plan.heads, plan.inference_heads)):
                    fused = None
                    if heads[h]["fusable"]:
                        fused = _losses.fused_logits_spec(spec, heads[h]["activation"])
                    use = fused or spec
                    engine.set_loss(use.kernel, use.sparse, fused is not None,
                                    use.label_smoothing, use.delta, use.gamma, use.alpha,
                                    use.apply_class_balancing, use.from_logits, False,
                                    head=h, weight=float(weight), beta=use.beta)
                    if engine is plan.engine:
                        specs.append(use)
            self._loss_specs = specs
            self._loss_spec = specs[0]
            self._set_optimizer()
            self._training_ready = True
        if self._metric_objects is None:
            self._metric_objects = self._build_metrics(y_shapes)

    def _set_optimizer(self) -> None:
        plan, opt = self._plan, self.optimizer
        spec = opt.engine_spec()
        hyper = np.zeros(N_HYPER, dtype=np.float64)
        for name, index in HYPER.items():
            hyper[index] = float(getattr(spec, name))
        slots = dict(zip(spec.slot_names, opt.slots_for(plan.params.size, plan.dtype)))
        kernel_slots = KERNEL_SLOTS[spec.kind]
        plan.engine.set_optimizer(OPTIMIZERS[spec.kind.name.lower()], hyper,
                                  [slots.get(name) for name in kernel_slots],
                                  [opt.use_weight_decay(v) for v in plan.trainable])
        if hasattr(opt, "u_product"):
            plan.engine.nadam_u_product = float(opt.u_product)

    def _build_metrics(self, y_shapes) -> list:
        """(metric, weighted, output) triples, each metric resolved for its output."""
        plan, names = self._plan, self._output_names()
        n = len(plan.out_dims)
        objects = []
        for metrics, weighted in ((self._compile_metrics, False),
                                  (self._weighted_metrics, True)):
            for h, items in enumerate(_metrics_per_output(metrics, n, names)):
                for m in items:
                    out_shape = (None, plan.out_dims[h])
                    objects.append((_metrics.resolve_compile_metric(m, y_shapes[h], out_shape),
                                    weighted, h))
        return objects

    def _inputs(self, x) -> np.ndarray:
        """x checked and converted, with the plan holding every variable (a training-mode
        ``model(x)`` call may have moved them into a plan of its own)."""
        xs = self._prepare_x(x)
        plan = self._plan
        plan.adopt()
        if plan.code_checks:
            plan.check_codes(xs)
        return xs

    # ---- fit ---------------------------------------------------------------------------

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs; returns a History (Keras 3's arguments and defaults)."""
        # Two fits of one model at once would interleave their optimizer steps: the second
        # is refused (the engine likewise refuses a second training call).
        if not self._fit_lock.acquire(blocking=False):
            raise RuntimeError(f"Model '{self.name}' is already being trained (fit) in another "
                               "thread; train a model in one thread at a time.")
        try:
            from fastnn.models import streaming as _streaming  # loaded on first use

            if _streaming.involved(self, x, validation_data):
                return _streaming.fit(
                    self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
                    validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                    steps_per_epoch, validation_steps, validation_batch_size, validation_freq,
                    lambda v, b: (_resolve_verbose(v), _check_batch_size(b)))
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split,
                             validation_data, shuffle, class_weight, sample_weight,
                             initial_epoch, steps_per_epoch, validation_batch_size,
                             validation_freq)
        finally:
            self._fit_lock.release()

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
             validation_data, shuffle, class_weight, sample_weight, initial_epoch,
             steps_per_epoch, validation_batch_size, validation_freq):
        self._require_compiled("fit")
        _quantized.refuse_training(self, "fit")
        verbose = _resolve_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer; received {epochs!r}.")
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"`shuffle` must be True, False or 'batch'; received {shuffle!r}.")
        with self._unchanged_on_error():
            xs, ys, ws, _ = self._training_arrays(x, y, sample_weight, class_weight)
            val = None
            if validation_data is not None:
                vx, vy, vw = _data.unpack_validation_data(validation_data)
                val = self._eval_arrays(vx, vy, vw)
            elif validation_split:
                k = len(ys)
                train, held = _data.split_validation([xs, *ys, *ws], validation_split)
                xs, ys, ws = train[0], train[1:1 + k], train[1 + k:]
                val = (held[0], held[1:1 + k], held[1 + k:])
            if xs.shape[0] == 0:
                raise ValueError("Expected input data to be non-empty.")
            if val is not None and val[0].shape[0] == 0:
                raise ValueError("The validation data has no rows: pass `validation_data` "
                                 "with at least one sample, or none.")
            val_batch = _check_batch_size(validation_batch_size, batch_size)
        n = xs.shape[0]
        steps = -(-n // batch_size)
        if steps_per_epoch is not None:
            steps = _check_batch_size(steps_per_epoch)
        history = History()
        cbs = list(callbacks or [])
        if not all(isinstance(cb, Callback) for cb in cbs):
            raise ValueError("`callbacks` must be a list of fastnn.callbacks.Callback objects.")
        if verbose:
            cbs.append(ProgbarLogger(verbose))
        cbs.append(history)
        cb = CallbackList(cbs, model=self, verbose=verbose, epochs=epochs, steps=steps)
        # use_ema: the average is updated after every step, so the engine steps per batch.
        per_batch = cb.needs_batch_hooks or bool(self._plan.constrained) \
            or self.optimizer.use_ema
        n_threads = effective_n_threads()
        self.stop_training = False
        stream = _EpochStream(n, batch_size, shuffle, steps_per_epoch)
        self._initial_epoch = None
        cb.call("on_train_begin", None)
        # A callback restoring a backup (BackupAndRestore) sets where training resumes.
        initial_epoch = self._initial_epoch or initial_epoch
        logs: dict[str, float] = {}
        with self._restored_on_python_error():
            for epoch in range(initial_epoch, epochs):
                for metric, _, _ in self._metric_objects:
                    metric.reset_state()
                cb.call("on_epoch_begin", epoch, None)
                order = stream.next_epoch()
                logs = self._train_one_epoch(xs, ys, ws, order, batch_size, per_batch,
                                             verbose, cb, n_threads)
                if val is not None and _validate_now(epoch, validation_freq):
                    val_logs = self._evaluate_arrays(*val, val_batch, n_threads, cb)
                    logs.update({f"val_{k}": v for k, v in val_logs.items()})
                logs = dict(sorted(logs.items()))
                cb.call("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        if epochs > 0:
            self.optimizer.finalize_variable_values(self._plan.trainable)
        cb.call("on_train_end", logs)
        self.history = history
        return history

    def _training_arrays(self, x, y, sample_weight, class_weight):
        """x for the engine, and per output its targets and sample weights (lists)."""
        xs = self._inputs(x)
        if y is None:
            raise ValueError("`y` is required to train: fastnn trains on (x, y) arrays.")
        ys, ws, y_shapes = self._targets(y, sample_weight, class_weight, xs.shape[0])
        return xs, ys, ws, y_shapes[0] if len(y_shapes) == 1 else y_shapes

    def _eval_arrays(self, x, y, sample_weight):
        xs = self._inputs(x)
        ys, ws, _ = self._targets(y, sample_weight, None, xs.shape[0])
        return xs, ys, ws

    def _targets(self, y, sample_weight, class_weight, n: int):
        plan, names = self._plan, self._output_names()
        n_out = len(plan.out_dims)
        y_list = _split_structure(y, n_out, names, "y")
        raws = [None if v is None and n_out > 1 else _data.as_numeric_array(v, "y")
                for v in y_list]
        y_shapes = [None if r is None else (None, *r.shape[1:]) for r in raws]
        self._prepare_training(y_shapes)
        if class_weight is not None and n_out > 1:
            raise ValueError("`class_weight` is only supported for Models with a single "
                             "output.")
        if isinstance(sample_weight, (list, tuple, dict)) and n_out > 1:
            sw_list = _split_structure(sample_weight, n_out, names, "sample_weight")
        else:
            sw_list = [sample_weight] * n_out
        ys, ws = [], []
        for h, (raw, spec) in enumerate(zip(raws, self._loss_specs)):
            if spec is None:
                ys.append(None)
                ws.append(None)
                continue
            if raw is None:
                raise ValueError(f"Output '{names[h]}' has a loss, so `y` needs targets for "
                                 "it.")
            if isinstance(spec, _python_loss.PythonLoss):
                ys.append(_data.python_loss_targets(raw, n, names[h]))
            else:
                if len(plan.out_shapes[h]) > 2:
                    # A built-in loss reduces each row of the engine's flat output, which
                    # differs from Keras's per-vector reduction for most losses.
                    raise ValueError(
                        f"Output '{names[h]}' has shape {plan.out_shapes[h]}: fastnn's "
                        "built-in losses train 2-D outputs (batch, features) only. Add a "
                        "Flatten (or a Reshape to 2-D) before the output, with targets of "
                        "that shape.")
                ys.append(_data.prepare_y(raw, n, plan.out_dims[h], spec.sparse, plan.dtype))
            ws.append(_data.prepare_sample_weight(sw_list[h], class_weight, raw, n,
                                                  plan.dtype))
        return ys, ws, y_shapes

    def _train_one_epoch(self, xs, ys, ws, order, batch_size, per_batch, verbose, cb,
                         n_threads) -> dict[str, float]:
        """All batches of one epoch through the engine; returns the epoch's logs."""
        engine, opt = self._plan.engine, self.optimizer
        self._bind_python_losses(ys, ws)
        n_rows = order.shape[0]
        n_batches = -(-n_rows // batch_size)
        preds = self._prediction_buffers(n_rows)
        head_sums = np.zeros(len(self._plan.out_dims))
        # With batch hooks each batch reads the rate when it starts (below), so a callable
        # learning rate is called once per step, as in Keras.
        lrs = None if per_batch else opt.learning_rates(opt.iterations, n_batches)
        loss_sum, rows_done, batch = 0.0, 0, 0
        # Keras checks `stop_training` after each batch, so an epoch runs at least one batch
        # even when a callback set it before the epoch began.
        stopping = self.stop_training
        chunk = 1 if (per_batch or verbose == 1 or stopping) else n_batches
        base, taken = int(opt.iterations), engine.steps_taken
        try:
            while batch < n_batches and not (batch and self.stop_training
                                             and (per_batch or stopping)):
                lo = batch * batch_size
                hi = min(n_rows, (batch + chunk) * batch_size)
                if per_batch:
                    cb.call("on_train_batch_begin", batch, None)
                    # A callback may have assigned optimizer.learning_rate (Keras reads it
                    # at each step): this batch uses the rate as it is now.
                    step_lrs = opt.learning_rates(base + batch, 1)
                else:
                    step_lrs = lrs[batch:]
                started = time.perf_counter()
                part_sum, rows, done, interrupt, _ = _thread_policy.train_epoch(
                    engine, xs, ys, ws, order[lo:hi], batch_size, step_lrs, base + batch + 1,
                    [None if p is None else p[lo:hi] for p in preds], n_threads,
                    head_sums=head_sums)
                loss_sum += part_sum
                rows_done += rows
                batch += done
                self._sync_optimizer(base, taken)
                if interrupt is not None:
                    raise interrupt
                if opt.use_ema and done:
                    opt.update_ema(self._plan.trainable, opt.iterations - 1)
                if self._plan.constrained:
                    self._apply_constraints()
                running = {"loss": loss_sum / rows_done}
                if per_batch and self._metric_objects:
                    # Keras hands batch hooks the metrics so far too (an extra update per batch).
                    seen = order[lo:lo + rows]
                    running.update(self._update_metrics(
                        [None if y is None else y[seen] for y in ys],
                        [None if p is None else p[lo:lo + rows] for p in preds],
                        [None if w is None else w[seen] for w in ws]))
                cb.call("on_train_batch_end", batch - 1, running)
                if not per_batch and verbose == 1:
                    # Grow the chunk so that the bar repaints about every _REPAINT_SECONDS.
                    spent = max(time.perf_counter() - started, 1e-6)
                    chunk = max(1, min(n_batches, int(done * _REPAINT_SECONDS / spent)))
        finally:
            # Ctrl-C can land between the engine's return and the line above; the engine's own
            # count of the steps it applied is the truth.
            self._sync_optimizer(base, taken)
        logs = {"loss": loss_sum / rows_done, **self._output_losses(head_sums, rows_done)}
        self._track_losses(logs, rows_done)
        if self._metric_objects:
            seen = order[:rows_done]
            logs.update(self._metric_results(
                [None if y is None else y[seen] for y in ys],
                [None if p is None else p[:rows_done] for p in preds],
                [None if w is None else w[seen] for w in ws], batch_size))
        return logs

    def _bind_python_losses(self, ys, ws) -> None:
        """The targets and weights the outputs' Python losses read for this engine call."""
        for spec, y, w in zip(self._loss_specs, ys, ws):
            if isinstance(spec, _python_loss.PythonLoss):
                spec.bind(y, w)

    @contextlib.contextmanager
    def _restored_on_python_error(self):
        """A Python piece (a loss, a layer) that raises mid-fit leaves the model as it was
        before the call: weights, moving statistics, optimizer slots and step count (built-in
        pieces cannot fail mid-way, so their fits skip the copy)."""
        if not (self._plan.has_python
                or any(isinstance(s, _python_loss.PythonLoss) for s in self._loss_specs)):
            yield
            return
        plan, opt = self._plan, self.optimizer
        slots = opt.slots_for(plan.params.size, plan.dtype)
        saved = (plan.params.copy(), plan.state.copy(), [s.copy() for s in slots],
                 int(opt.iterations), getattr(opt, "u_product", None))
        try:
            yield
        except Exception as exc:
            if not getattr(exc, "fastnn_python_piece", False):
                raise
            params, state, slot_values, iterations, u_product = saved
            plan.params[...] = params
            plan.state[...] = state
            for slot, value in zip(slots, slot_values):
                slot[...] = value
            opt.iterations = iterations
            if u_product is not None:
                opt.u_product = u_product
            raise

    def _prediction_buffers(self, n_rows: int) -> list:
        """Per output, a buffer for its values when a metric needs them, else None."""
        wanted = {h for _, _, h in self._metric_objects or []}
        return [np.empty((n_rows, d), dtype=self._plan.dtype) if h in wanted else None
                for h, d in enumerate(self._plan.out_dims)]

    def _output_losses(self, head_sums, rows: int) -> dict[str, float]:
        """Keras 3 logs each output's (unweighted) loss as ``<output>_loss`` when there are
        several."""
        if len(head_sums) < 2:
            return {}
        return {f"{name}_loss": float(head_sums[h]) / rows
                for h, name in enumerate(self._output_names())
                if self._loss_specs[h] is not None}

    def _sync_optimizer(self, base: int, taken: int) -> None:
        """The optimizer's step count (and Nadam's product) after the engine's steps."""
        engine, opt = self._plan.engine, self.optimizer
        opt.iterations = base + (engine.steps_taken - taken)
        if hasattr(opt, "u_product"):
            opt.u_product = engine.nadam_u_product

    def _apply_constraints(self) -> None:
        for var in self._plan.constrained:
            var.assign(var.constraint(var.value))

    def _metric_results(self, ys, preds, sample_weights, batch_size) -> dict[str, float]:
        """The metrics over rows in batch order: users' metrics batch by batch as Keras
        updates them, fastnn's in one update (the same sums)."""
        results: dict[str, float] = {}
        with self._metric_lock:
            for metric, _, _ in self._metric_objects:
                metric.reset_state()
            for key, metric, weighted, h in self._keyed_metrics():
                _metrics_base.update_over_rows(metric, ys[h], preds[h],
                                               sample_weights[h] if weighted else None,
                                               batch_size)
                results[key] = log_value(metric.result())
        return results

    # ---- evaluate / predict ------------------------------------------------------------

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss and metrics in inference mode; a scalar, a list or a dict as Keras returns."""
        self._require_compiled("evaluate")
        verbose = _resolve_verbose(verbose)
        batch_size = _check_batch_size(batch_size)
        if type(x) not in _NEVER_STREAMS and _streams(self, x):   # generators, memmaps, ...
            from fastnn.models import stream_inference

            return stream_inference.evaluate(self, x, y, batch_size, verbose, sample_weight,
                                             steps, return_dict)
        with self._unchanged_on_error():
            xs, ys, ws = self._eval_arrays(x, y, sample_weight)
            if xs.shape[0] == 0:
                raise ValueError("Expected input data to be non-empty.")
        started = time.perf_counter()
        cb = None
        if callbacks:
            cb = CallbackList(callbacks, model=self, verbose=verbose, epochs=1,
                              steps=-(-xs.shape[0] // batch_size))
        logs = self._evaluate_arrays(xs, ys, ws, batch_size, effective_n_threads(), cb)
        if verbose:
            from fastnn.callbacks.progbar import Progbar

            steps_done = -(-xs.shape[0] // batch_size)
            bar = Progbar(steps_done, verbose)
            bar.start = started
            bar.update(steps_done, dict(sorted(logs.items())), final=True)
        return self._format_results(logs, return_dict)

    def _evaluate_arrays(self, xs, ys, ws, batch_size, n_threads, cb=None) -> dict[str, float]:
        """The logs of an evaluation; with callbacks (evaluate's, or fit's for validation),
        between on_test_begin and on_test_end, batch by batch when a test batch hook acts."""
        if cb is None:
            return self._evaluate_all(xs, ys, ws, batch_size, n_threads)
        cb.call("on_test_begin", None)
        if cb.needs_test_batch_hooks and xs.shape[0]:
            logs = self._evaluate_batches(xs, ys, ws, batch_size, n_threads, cb)
        else:
            logs = self._evaluate_all(xs, ys, ws, batch_size, n_threads)
        cb.call("on_test_end", logs)
        return logs

    def _evaluate_batches(self, xs, ys, ws, batch_size, n_threads, cb) -> dict[str, float]:
        """Keras's evaluation loop, one engine call per batch, with the running logs."""
        plan = self._plan
        preds = self._prediction_buffers(xs.shape[0])
        head_sums = np.zeros(len(plan.out_dims))
        total, logs = 0.0, {}
        for metric, _, _ in self._metric_objects:
            metric.reset_state()
        for batch, lo in enumerate(range(0, xs.shape[0], batch_size)):
            hi = min(xs.shape[0], lo + batch_size)
            cb.call("on_test_batch_begin", batch, None)
            ys_b, ws_b, preds_b = ([None if v is None else v[lo:hi] for v in vs]
                                   for vs in (ys, ws, preds))
            self._bind_python_losses(ys_b, ws_b)
            total += plan.inference_engine.evaluate(
                xs[lo:hi], ys_b, ws_b, hi - lo, preds_b, n_threads, head_sums=head_sums,
                step=plan.inference_step())
            logs = {"loss": total / hi, **self._output_losses(head_sums, hi)}
            if self._metric_objects:
                logs.update(self._update_metrics(ys_b, preds_b, ws_b))
            cb.call("on_test_batch_end", batch, logs)
        return logs

    def _update_metrics(self, ys, preds, sample_weights) -> dict[str, float]:
        """Each metric updated with one batch; their results so far, keyed as in the logs."""
        results: dict[str, float] = {}
        seen: dict[str, int] = {}
        names = self._output_names()
        prefix = len(preds) > 1
        with self._metric_lock:
            for metric, weighted, h in self._metric_objects:
                metric.update_state(ys[h], preds[h],
                                    sample_weight=sample_weights[h] if weighted else None)
                key = _log_key(metric.name, weighted, seen, names[h] if prefix else None)
                results[key] = float(metric.result())
        return results

    def _evaluate_all(self, xs, ys, ws, batch_size, n_threads) -> dict[str, float]:
        plan = self._plan
        if xs.shape[0] == 0:
            return self._empty_logs()
        self._bind_python_losses(ys, ws)
        preds = self._prediction_buffers(xs.shape[0])
        head_sums = np.zeros(len(plan.out_dims))
        # Keras weights each batch's mean loss by its size, which is the plain mean over rows
        # whatever the batch size; one engine call of many rows computes the same.
        # ... except for a loss that depends on the batch's composition (Circle, Dice over
        # the whole batch): it is evaluated batch by batch, as Keras does.
        rows = batch_size if any(
            (isinstance(s, _python_loss.PythonLoss) and depends_on_batch(s.loss))
            or spec_depends_on_batch(s)
            for s in self._loss_specs) else _inference_rows(plan, batch_size)
        total = _thread_policy.evaluate(
            plan.inference_engine, xs, ys, ws, rows, preds, n_threads,
            head_sums=head_sums, step=plan.inference_step())
        logs = {"loss": total / xs.shape[0], **self._output_losses(head_sums, xs.shape[0])}
        self._track_losses(logs, xs.shape[0])
        if self._metric_objects:
            logs.update(self._metric_results(ys, preds, ws, batch_size))
        return logs

    def _empty_logs(self) -> dict[str, float]:
        """The logs of no rows, as Keras's ``test_on_batch`` gives them: every mean over no
        samples is 0 (Keras divides with divide_no_nan)."""
        logs = {"loss": 0.0, **self._output_losses(np.zeros(len(self._plan.out_dims)), 1)}
        self._track_losses(logs, 0)
        for key, metric, _, _ in self._keyed_metrics() or []:
            metric.reset_state()
            logs[key] = log_value(metric.result())
        return logs

    def _keyed_metrics(self) -> list | None:
        """(log key, metric, weighted, output index) of each compiled metric, or None before
        they are built."""
        if self._metric_objects is None:
            return None
        seen: dict[str, int] = {}
        names = self._output_names()
        prefix = len(self._plan.out_dims) > 1
        return [(_log_key(metric.name, weighted, seen, names[h] if prefix else None), metric,
                 weighted, h) for metric, weighted, h in self._metric_objects]

    def _format_results(self, logs, return_dict):
        if return_dict:
            return dict(sorted(logs.items()))
        # Keras's order: the loss and the metrics by their own names, then any other key
        # (renamed duplicates such as weighted_accuracy) alphabetically.
        names = ["loss"] + list(self._output_losses(np.zeros(len(self._plan.out_dims)), 1))
        if len(self._plan.out_dims) == 1:
            names += [m.name for m, _, _ in self._metric_objects]
        values = [logs[k] for k in names if k in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x, shape (n, outputs), in the model's dtype.

        Unlike Keras, ``verbose="auto"`` prints nothing here: a progress bar per call is the
        cost (and the log spam) that makes Keras's predict slow in loops.
        """
        if verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto'; received {verbose!r}.")
        batch_size = _check_batch_size(batch_size)
        if type(x) not in _NEVER_STREAMS and _streams(self, x):
            from fastnn.models import stream_inference

            return stream_inference.predict(self, x, batch_size, steps)
        xs = self._inputs(x)
        if callbacks:
            return self._predict_with_callbacks(xs, batch_size, verbose, callbacks)
        return self._structure_outputs(self._predict_outputs(xs, batch_size))

    def _predict_outputs(self, xs, batch_size) -> list:
        """The outputs for the rows xs, one array per output."""
        plan = self._plan
        n = xs.shape[0]
        if plan.plain_output:     # one 2-D output: the per-call path of small predicts
            out = np.empty((n, plan.out_dim), dtype=plan.dtype)
            rows = max(batch_size, _INFERENCE_ROWS)
            if 0 < n <= rows:     # one chunk: nothing for the thread policy to split
                plan.inference_engine.predict(xs, out, rows, effective_n_threads())
            elif n:
                _thread_policy.predict(plan.inference_engine, xs, out, rows,
                                       effective_n_threads())
            return [out]
        outs = [np.empty((xs.shape[0], d), dtype=plan.dtype) for d in plan.out_dims]
        if xs.shape[0]:
            _thread_policy.predict(plan.inference_engine, xs, outs if len(outs) > 1 else outs[0],
                                   _inference_rows(plan, batch_size), effective_n_threads(),
                                   step=plan.inference_step())
        return plan.shaped_outputs(outs)

    def _predict_with_callbacks(self, xs, batch_size, verbose, callbacks):
        """predict between on_predict_begin and on_predict_end; batch by batch, each batch's
        outputs in the logs as Keras gives them, when a predict batch hook acts."""
        n = xs.shape[0]
        cb = CallbackList(callbacks, model=self, verbose=_resolve_verbose(verbose), epochs=1,
                          steps=-(-n // batch_size))
        cb.call("on_predict_begin", None)
        if not cb.needs_predict_batch_hooks or n == 0:
            outs = self._predict_outputs(xs, batch_size)
        else:
            parts = []
            for batch, lo in enumerate(range(0, n, batch_size)):
                cb.call("on_predict_batch_begin", batch, None)
                parts.append(self._predict_outputs(xs[lo:lo + batch_size], batch_size))
                cb.call("on_predict_batch_end", batch,
                        {"outputs": self._structure_outputs(parts[-1])})
            outs = [np.concatenate(column) for column in zip(*parts)]
        cb.call("on_predict_end", None)
        return self._structure_outputs(outs)

    def _structure_outputs(self, outs: list):
        return outs[0]

    def predict_on_batch(self, x):
        """``predict`` on one batch."""
        return self.predict(x)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on (x, y) as a single batch; returns its loss (and metrics)."""
        self._require_compiled("train_on_batch")
        _quantized.refuse_training(self, "train")
        with self._unchanged_on_error():
            xs, ys, ws, _ = self._training_arrays(x, y, sample_weight, class_weight)
            if xs.shape[0] == 0:
                raise ValueError("Expected input data to be non-empty.")
        for metric, _, _ in self._metric_objects:
            metric.reset_state()
        order = np.arange(xs.shape[0], dtype=np.int64)
        logs = self._train_one_epoch(xs, ys, ws, order, xs.shape[0], True, 0,
                                     CallbackList(model=self), effective_n_threads())
        return self._format_results(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of one batch in inference mode."""
        self._require_compiled("test_on_batch")
        with self._unchanged_on_error():
            xs, ys, ws = self._eval_arrays(x, y, sample_weight)
        logs = self._evaluate_arrays(xs, ys, ws, max(1, xs.shape[0]), effective_n_threads())
        return self._format_results(logs, return_dict)

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", "compile_metrics"] if self._compile_metrics else ["loss"]


def _log_key(name: str, weighted: bool, seen: dict[str, int], output: str | None = None) -> str:
    """Keras's log key for a metric: its name (after ``<output>_`` in a model with several
    outputs); a repeated name gets ``_1``, ``_2``, ... or, for a weighted metric, the prefix
    ``weighted_`` first."""
    base = name
    name = f"{output}_{base}" if output else base
    if name not in seen:
        seen[name] = 1
        return name
    if weighted:
        name = f"{output}_weighted_{base}" if output else f"weighted_{base}"
        if name not in seen:
            seen[name] = 1
            return name
    index = seen[name]
    seen[name] += 1
    return f"{name}_{index}"


def _validate_now(epoch: int, validation_freq) -> bool:
    if isinstance(validation_freq, int):
        if validation_freq < 1:
            raise ValueError(f"`validation_freq` must be >= 1; received {validation_freq}.")
        return (epoch + 1) % validation_freq == 0
    if isinstance(validation_freq, (list, tuple, set)):
        return (epoch + 1) in validation_freq
    raise ValueError(f"`validation_freq` must be an int or a list of epochs; received "
                     f"{validation_freq!r}.")


class _EpochStream:
    """The rows of each epoch, in batch order.

    Keras walks through the data in passes of ``ceil(n / batch_size)`` batches, each pass in a
    fresh order. Without ``steps_per_epoch`` an epoch is one pass. With it, an epoch takes the
    next ``steps_per_epoch`` batches of the current pass, fewer (with Keras's warning) when
    the pass ends first, and the epoch after a finished pass starts a new one.
    """

    def __init__(self, n: int, batch_size: int, shuffle, steps_per_epoch):
        self.n, self.batch_size, self.shuffle = n, batch_size, shuffle
        self.steps_per_epoch = steps_per_epoch
        self.n_batches = -(-n // batch_size)
        self.order: np.ndarray | None = None
        self.batches_seen = 0

    def _permutation(self) -> np.ndarray:
        if self.shuffle is True:
            return _random.generator().permutation(self.n).astype(np.int64)
        order = np.arange(self.n, dtype=np.int64)
        if self.shuffle == "batch":
            rng = _random.generator()
            for lo in range(0, self.n, self.batch_size):
                rng.shuffle(order[lo:lo + self.batch_size])
        return order

    def next_epoch(self) -> np.ndarray:
        if self.steps_per_epoch is None:
            return self._permutation()
        if self.order is None or self.batches_seen >= self.n_batches:
            self.order, self.batches_seen = self._permutation(), 0
        take = min(self.steps_per_epoch, self.n_batches - self.batches_seen)
        if take < self.steps_per_epoch:
            warnings.warn(
                "Your input ran out of data; interrupting training. Make sure that your "
                "dataset or generator can generate at least `steps_per_epoch * epochs` "
                "batches. You may need to use the `.repeat()` function when building your "
                "dataset.",
                UserWarning,
                stacklevel=3,
            )
        lo = self.batches_seen * self.batch_size
        self.batches_seen += take
        return self.order[lo:min(self.n, self.batches_seen * self.batch_size)]


def _leaves(value) -> list:
    """The entries of a per-output structure (a dict, a list of lists) or the value itself."""
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _per_output(value, n: int, names: list[str], what: str) -> list:
    """A compile argument as one entry per output: a dict by output name, a list with one
    entry per output, or one value for every output."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"Expected keys {names} in {what} dict, but found "
                             f"{what}.keys()={list(value)}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"`{what}` has {len(value)} entries but the model has {n} "
                             f"output(s) ({names}); pass one per output, or a dict by name.")
        return list(value)
    return [value] * n


def _loss_weights(value, n: int, names: list[str]) -> list[float]:
    if value is None:
        return [1.0] * n
    if isinstance(value, (int, float)):
        if n != 1:
            raise ValueError("For a model with several outputs, `loss_weights` must be a list "
                             "or a dict by output name.")
        return [float(value)]
    weights = _per_output(value, n, names, "loss_weights")
    out = []
    for w in weights:
        w = 1.0 if w is None else w
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w):
            raise ValueError(f"`loss_weights` entries must be finite numbers; received {w!r}.")
        out.append(float(w))
    return out


def _metrics_per_output(metrics, n: int, names: list[str]) -> list[list]:
    """Compile metrics as a list per output (Keras 3: one list for a one-output model; a
    dict by output name, or a list with one entry per output, for several)."""
    if not metrics:
        return [[] for _ in range(n)]
    if n == 1:
        if isinstance(metrics, dict):
            metrics = list(metrics.values())
            metrics = metrics[0] if len(metrics) == 1 else metrics
        return [list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]]
    entries = _per_output(metrics, n, names, "metrics") if isinstance(metrics, dict) \
        or len(metrics) == n else None
    if entries is None:
        raise ValueError(
            f"For a model with {n} outputs ({names}), `metrics` must be a dict by output name "
            f"or a list with one entry (a metric or a list of them) per output; received "
            f"{metrics}.")
    return [[] if e is None else (list(e) if isinstance(e, (list, tuple)) else [e])
            for e in entries]


def _split_structure(value, n: int, names: list[str], what: str) -> list:
    """Targets (or weights) as one entry per output."""
    if n == 1:
        if isinstance(value, dict):
            if len(value) != 1:
                raise ValueError(f"`{what}` has keys {sorted(value)}; the model has one "
                                 f"output, {names}.")
            return list(value.values())
        if isinstance(value, (list, tuple)) and len(value) == 1 \
                and isinstance(value[0], np.ndarray):
            return [value[0]]
        return [value]
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"`{what}` has keys {unknown} that name no output; the outputs "
                             f"are {names}.")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and len(value) == n:
        return list(value)
    raise ValueError(f"The model has {n} outputs ({names}): pass `{what}` as a list of {n} "
                     "arrays or a dict by output name.")
