"""The weights file of Keras 3 (``model.weights.h5``, ``*.weights.h5``).

Layout: ``layers/<key>/vars/<i>`` holds a layer's variables, trainable first, each group
in creation order (Dense: kernel, bias; BatchNormalization: gamma, beta, moving mean, moving
variance). Keras names a layer's group by its position, not by the layer's name: the snake_case
class name, numbered from the second of a class (``dense``, ``dense_1``, ``p_re_lu``); ``optimizer/vars/<i>`` holds the iteration count (int64), the learning rate
(float32, when it is a number), the slots (per slot group, per trainable variable, in model
order) and Nadam's ``u_product``; ``vars`` is the model's own (empty) group. Each ``vars``
group has a ``name`` attribute. Reading checks every count and shape before writing anything
into the model, and reads
only data stored in the file itself: links, external storage, virtual datasets and filter
plugins are refused.
"""

from __future__ import annotations

import h5py
import numpy as np

from fastnn.layers.base import snake_case
from fastnn.optimizers.schedules import LearningRateSchedule


def layer_keys(layers) -> list[str]:
    """The group name of each layer in the file (Keras's container naming)."""
    counts: dict[str, int] = {}
    keys = []
    for layer in layers:
        base = snake_case(type(layer).__name__)
        n = counts.get(base, 0)
        counts[base] = n + 1
        keys.append(base if n == 0 else f"{base}_{n}")
    return keys


def layer_variables(layer) -> list:
    """A layer's Variables in Keras's file order."""
    if getattr(layer, "quantization_mode", None):
        from fastnn.layers.quantized import file_variables

        return file_variables(layer)
    own = layer._weights
    return [w for w in own if w.trainable] + [w for w in own if not w.trainable]


def optimizer_state(model) -> list[np.ndarray] | None:
    """The optimizer's variables in Keras's order, as views of the live state (None when the
    model has no trained-ready plan to take slots from)."""
    opt = getattr(model, "optimizer", None)
    plan = getattr(model, "_plan", None)
    if opt is None or plan is None:
        return None
    state = [np.array(opt.iterations, dtype=np.int64)]
    if _has_float_lr(opt):
        state.append(np.array(opt.learning_rate, dtype=np.float32))
    names = opt.slot_names
    flat = dict(zip(names, opt.slots_for(plan.params.size, plan.dtype))) if names else {}
    for group in opt.slot_groups:
        for off, var in zip(plan.var_off, plan.trainable):
            state.extend(flat[name][off:off + var.value.size].reshape(var.shape)
                         for name in group)
    if hasattr(opt, "u_product"):
        state.append(np.array(opt.u_product, dtype=plan.dtype))
    return state


def _has_float_lr(opt) -> bool:
    lr = opt._learning_rate
    return not (isinstance(lr, LearningRateSchedule) or callable(lr))


def _is_model(layer) -> bool:
    return hasattr(layer, "_emit")


def _write_layers(group, model) -> None:
    """``layers/<key>/vars/<i>`` for each layer; a nested model gets ``layers`` and ``vars``
    of its own (Keras's layout)."""
    layers = group.create_group("layers")
    for key, layer in zip(layer_keys(model.layers), model.layers):
        node = layers.create_group(key)
        if _is_model(layer):
            _write_layers(node, layer)
            node.create_group("vars").attrs["name"] = layer.name
            continue
        group_vars = node.create_group("vars")
        group_vars.attrs["name"] = layer.name
        for i, var in enumerate(layer_variables(layer)):
            group_vars.create_dataset(str(i), data=var.value)


def write(f: h5py.File, model, include_optimizer: bool = True) -> None:
    _write_layers(f, model)
    state = optimizer_state(model) if include_optimizer else None
    if state is not None:
        group = f.create_group("optimizer").create_group("vars")
        group.attrs["name"] = model.optimizer.name
        for i, value in enumerate(state):
            group.create_dataset(str(i), data=value)
    f.create_group("vars").attrs["name"] = model.name


def _link(group, name: str):
    """The kind of link (``h5py.h5l.TYPE_*``) by which ``group`` names ``name``, or None;
    found without following the link (h5py's ``in`` and ``get`` follow soft links, and a loop
    of them is a RuntimeError)."""
    key = name.encode()
    if not group.id.links.exists(key):
        return None
    return group.id.links.get_info(key).type


def _has(group, name: str) -> bool:
    return _link(group, name) is not None


def _member(group, name: str, where: str):
    """``group[name]`` (None when absent), refusing links: Keras writes none, and a soft or
    external link (or an external link reached through a soft one) would make loading read
    another file."""
    kind = _link(group, name)
    if kind is None:
        return None
    if kind != h5py.h5l.TYPE_HARD:
        what = "an external" if kind == h5py.h5l.TYPE_EXTERNAL else "a soft"
        raise ValueError(f"Refusing the weights file: {where} is {what} link; fastnn reads "
                         "only data stored in the file itself (Keras writes no links).")
    return group[name]


# HDF5's built-in filters; any other id would make HDF5 look for a plugin library to load.
_BUILTIN_FILTERS = {h5py.h5z.FILTER_DEFLATE, h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_FLETCHER32,
                    h5py.h5z.FILTER_SZIP, h5py.h5z.FILTER_NBIT, h5py.h5z.FILTER_SCALEOFFSET,
                    h5py.h5z.FILTER_LZF}


def _check_stored_here(item: h5py.Dataset, where: str) -> None:
    """Refuse a dataset whose values would come from outside the file (external storage reads
    any local file, or blocks forever on a FIFO; a virtual dataset maps other files) or
    through a filter plugin, and one that is not an array of numbers."""
    if item.external:
        raise ValueError(f"Refusing the weights file: {where} uses HDF5 external storage "
                         f"(its values live in {item.external[0][0]!r}); fastnn reads only "
                         "data stored in the file itself.")
    if item.is_virtual:
        raise ValueError(f"Refusing the weights file: {where} is an HDF5 virtual dataset "
                         "(its values come from other files); fastnn reads only data stored "
                         "in the file itself.")
    dcpl = item.id.get_create_plist()
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code not in _BUILTIN_FILTERS:
            raise ValueError(f"Refusing the weights file: {where} is compressed with HDF5 "
                             f"filter {code}, which is not one of HDF5's built-in filters "
                             "(reading it would load a plugin library).")
    if item.dtype.kind not in "fiu":
        raise ValueError(f"Corrupt weights file: {where} has dtype {item.dtype}.")


def _datasets(group, where: str) -> list[h5py.Dataset]:
    """The datasets ``0..n-1`` of a ``vars`` group, checked but not read (their shapes are
    compared with the model's before anything is read)."""
    keys = list(group.keys())
    if sorted(keys, key=lambda k: int(k) if k.isdigit() else -1) != \
            [str(i) for i in range(len(keys))]:
        raise ValueError(f"Corrupt weights file: {where} should hold datasets 0..n-1, "
                         f"found {sorted(keys)}.")
    out = []
    for i in range(len(keys)):
        item = _member(group, str(i), f"{where}/{i}")
        if not isinstance(item, h5py.Dataset):
            raise ValueError(f"Corrupt weights file: {where}/{i} is not a dataset.")
        _check_stored_here(item, f"{where}/{i}")
        out.append(item)
    return out


def _values(items: list[h5py.Dataset]) -> list[np.ndarray]:
    return [np.asarray(item[()]) for item in items]


def _group(parent, name: str, where: str):
    """``parent[name]`` when it is there and a group (no link), else None."""
    node = _member(parent, name, where)
    return node if isinstance(node, h5py.Group) else None


def read(f: h5py.File, model, include_optimizer: bool = True, skip_mismatch: bool = False):
    """Load ``f`` into ``model`` (layers by name, then the optimizer when asked)."""
    pending: list = []
    _read_layers(f, model, "", skip_mismatch, pending)
    for var, value in pending:
        _check_finite(value, var.path)
        if var.dtype == np.int8 and value.dtype != np.int8:
            # (a cast would wrap 300 to 44 without a word)
            raise ValueError(f"Corrupt weights file: {var.path} is an int8 variable but the "
                             f"file holds {value.dtype}.")
    optimizer = _group(f, "optimizer", "optimizer") if include_optimizer else None
    optimizer_vars = None if optimizer is None else _group(optimizer, "vars", "optimizer/vars")
    state = None if optimizer_vars is None else _read_optimizer(
        _datasets(optimizer_vars, "optimizer/vars"), model, skip_mismatch)
    # Everything is read and checked: only now does the model change.
    for var, value in pending:
        var.assign(value.astype(var.dtype, copy=False))
    if state is not None:
        _set_optimizer(model.optimizer, *state)


def _read_layers(group, model, where: str, skip_mismatch: bool, pending: list) -> None:
    """Collect (variable, value) pairs for the model's layers from ``group/layers``."""
    stored = _group(group, "layers", f"{where}layers")
    if stored is None:
        raise ValueError(f"Not a Keras 3 weights file: it has no '{where}layers' group.")
    keys = layer_keys(model.layers)
    extra = sorted(set(stored) - set(keys))
    if extra and not skip_mismatch:
        raise ValueError(f"The weights file holds layers the model does not have: {extra} "
                         f"(the model's layers are {keys}).")
    for key, layer in zip(keys, model.layers):
        path = f"{where}layers/{key}"
        if _is_model(layer):
            inner = _group(stored, key, path)
            if inner is not None:
                _read_layers(inner, layer, path + "/", skip_mismatch, pending)
            elif layer.weights and not skip_mismatch:
                raise ValueError(f"The weights file has no group '{path}' for model "
                                 f"'{layer.name}'.")
            continue
        own = layer_variables(layer)
        if not _has(stored, key):
            if own and not skip_mismatch:
                raise ValueError(f"The weights file has no group '{path}' for layer "
                                 f"'{layer.name}' (it has: {sorted(stored)}).")
            continue
        node = _group(stored, key, path)
        if node is None:
            raise ValueError(f"Corrupt weights file: {path} is not a group.")
        group_vars = _group(node, "vars", f"{path}/vars")
        if _has(node, "vars") and group_vars is None:
            raise ValueError(f"Corrupt weights file: {path}/vars is not a group.")
        items = [] if group_vars is None else _datasets(group_vars, f"{path}/vars")
        problem = _mismatch(own, items, f"layer '{layer.name}'")
        if problem:
            if skip_mismatch:
                continue
            raise ValueError(problem)
        pending += [(var, value) for var, value in zip(own, _values(items))]


def _mismatch(own, values, what: str) -> str | None:
    if len(own) != len(values):
        return (f"{what} expects {len(own)} variables ({[v.path for v in own]}); the file "
                f"holds {len(values)}.")
    for var, value in zip(own, values):
        if tuple(var.shape) != value.shape:
            return (f"Shape mismatch for {what}, variable '{var.path}': the model has shape "
                    f"{var.shape}, the file holds shape {value.shape}.")
    return None


def _check_finite(value: np.ndarray, where: str) -> None:
    if value.dtype.kind not in "fiu":
        raise ValueError(f"Corrupt weights file: {where} has dtype {value.dtype}.")
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise ValueError(f"The weights file holds non-finite values for {where}.")


def _read_optimizer(items: list[h5py.Dataset], model, skip_mismatch: bool):
    """(live state, file values) of the optimizer, checked; None when there is nothing to
    load. The live state is None for an optimizer Keras saved before its first step."""
    model._ensure_plan()
    opt = model.optimizer
    target = optimizer_state(model)
    if target is None:
        return None
    head = 2 if _has_float_lr(opt) else 1
    if len(items) == head and len(target) > head:
        # Keras saves an optimizer that never stepped with its step count and rate only
        # (its slots are made at the first step): fresh slots here too.
        values = _values(items)
        for i, v in enumerate(values):
            _check_finite(v, f"optimizer/vars/{i}")
        return None, values
    problem = None
    values = items
    if len(values) != len(target):
        problem = (f"The optimizer '{opt.name}' has {len(target)} variables; the file holds "
                   f"{len(values)} (was it saved with another optimizer or model?).")
    else:
        for i, (t, v) in enumerate(zip(target, values)):
            if t.shape != v.shape:
                problem = (f"Optimizer variable {i} has shape {t.shape}; the file holds "
                           f"shape {v.shape}.")
                break
    if problem:
        if skip_mismatch:
            return None
        raise ValueError(problem)
    values = _values(items)
    for i, v in enumerate(values):
        _check_finite(v, f"optimizer/vars/{i}")
    return target, values


def _set_optimizer(opt, target: list[np.ndarray] | None, values: list[np.ndarray]) -> None:
    head = 2 if _has_float_lr(opt) else 1
    opt.iterations = int(values[0])
    if head == 2 and np.float32(opt.learning_rate) != values[1]:
        # The file keeps the rate in float32: keep the config's exact value when it rounds
        # to the stored one, so that training resumes bit for bit.
        opt.learning_rate = float(values[1])
    if target is None:    # never stepped: the step count and rate only
        return
    tail = 1 if hasattr(opt, "u_product") else 0
    if tail:
        opt.u_product = float(values[-1])
    for t, v in zip(target[head:len(target) - tail], values[head:len(values) - tail]):
        t[...] = v
