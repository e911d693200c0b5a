"""Files built to attack the loader: weights stored outside the file (external storage, virtual
datasets, links, a FIFO, a filter plugin), archive entries that inflate to gigabytes, JSON
nested past the stack, and configs whose entries have the wrong shape. Each is refused with a
ValueError that says why, quickly and with little memory, and leaves the model it was loaded
into as it was. A case that could hang or exhaust memory runs in a subprocess with a timeout
(and a memory limit).
"""

import io
import json
import os
import re
import resource
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

import fastnn
from fastnn import Input, Sequential
from fastnn.layers import Dense
from fastnn.models import load_model

ROOT = Path(__file__).resolve().parents[1]
GiB = 1 << 30


def _model(compiled=True):
    fastnn.utils.set_random_seed(1)
    m = Sequential([Input((2,), name="inputs"), Dense(3, name="d1")])
    if compiled:
        m.compile(optimizer="sgd", loss="mse")
    return m


@pytest.fixture
def good(tmp_path):
    """A valid .keras file: its path and its three entries."""
    path = tmp_path / "good.keras"
    _model().save(path)
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    return path, entries


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data if isinstance(data, bytes) else json.dumps(data))
    return path


def _run(code, timeout=60, memory=None):
    """Run ``code`` in a fresh interpreter with this tree first on the path; a memory limit
    (bytes of address space) makes a runaway allocation fail instead of swapping."""
    def limit():
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                              capture_output=True, text=True, timeout=timeout,
                              preexec_fn=limit, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the loader hung: still running after {timeout} s")


_LOAD_AND_REPORT = """
    import sys
    from fastnn.models import load_model
    try:
        load_model(sys.argv[1] if len(sys.argv) > 1 else {path!r})
    except ValueError as e:
        print("ValueError:", e)
    else:
        print("loaded")
"""


# ---- weights that live outside the file -------------------------------------------------

def _weights_with(data: bytes, kind: str, tmp_path) -> bytes:
    """The weights file ``data`` with the first Dense kernel replaced by an attack."""
    secret = tmp_path / "secret.bin"
    np.arange(6, dtype=np.float32).tofile(secret)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as o:
        o["x"] = np.full((2, 3), 7, np.float32)
    buffer = io.BytesIO(data)
    with h5py.File(buffer, "a") as f:
        group = f["layers/dense/vars"]
        del group["0"]
        if kind == "external storage":
            group.create_dataset("0", shape=(2, 3), dtype="f4",
                                 external=[(str(secret), 0, 24)])
        elif kind == "virtual dataset":
            layout = h5py.VirtualLayout(shape=(2, 3), dtype="f4")
            layout[:] = h5py.VirtualSource(str(other), "x", shape=(2, 3))
            group.create_virtual_dataset("0", layout)
        elif kind == "external link":
            group["0"] = h5py.ExternalLink(str(other), "x")
        elif kind == "soft link":
            f["elsewhere"] = np.full((2, 3), 5, np.float32)
            group["0"] = h5py.SoftLink("/elsewhere")
        elif kind == "soft link loop":   # h5py's `in` and `get` fail on it with RuntimeError
            group["0"] = h5py.SoftLink("/layers/dense/vars/0")
        elif kind == "filter plugin":
            # An optional filter HDF5 does not have: written unfiltered, but reading looks
            # for a plugin library to load.
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_chunk((2, 3))
            dcpl.set_filter(32123, h5py.h5z.FLAG_OPTIONAL, ())
            h5py.h5d.create(group.id, b"0", h5py.h5t.IEEE_F32LE,
                            h5py.h5s.create_simple((2, 3)), dcpl=dcpl)
            group["0"][...] = np.ones((2, 3), np.float32)
    return buffer.getvalue()


ATTACKS = {
    "external storage": "uses HDF5 external storage",
    "virtual dataset": "is an HDF5 virtual dataset",
    "external link": "is an external link",
    "soft link": "is a soft link",
    "soft link loop": "is a soft link",
    "filter plugin": "is compressed with HDF5 filter 32123, which is not one of HDF5's "
                     "built-in filters \\(reading it would load a plugin library\\)",
}


@pytest.mark.parametrize("kind", list(ATTACKS))
def test_weights_stored_outside_the_file_are_refused(good, tmp_path, kind):
    path, entries = good
    hostile = _weights_with(entries["model.weights.h5"], kind, tmp_path)
    keras_file = _zip(tmp_path / "hostile.keras", {**entries, "model.weights.h5": hostile})
    with pytest.raises(ValueError) as info:
        load_model(keras_file)
    assert re.search(f"layers/dense/vars/0 {ATTACKS[kind]}", str(info.value))
    assert "fastnn reads only data stored in the file itself" in str(info.value) \
        or kind == "filter plugin"

    # The same attack in a .weights.h5 file changes nothing in the model it is loaded into.
    weights_file = tmp_path / "hostile.weights.h5"
    weights_file.write_bytes(hostile)
    model = load_model(path)
    model.fit(np.ones((4, 2)), np.ones((4, 3)), verbose=0)
    before = [w.copy() for w in model.get_weights()]
    iterations = int(model.optimizer.iterations)
    with pytest.raises(ValueError, match=ATTACKS[kind]):
        model.load_weights(weights_file)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == iterations


def test_external_storage_on_a_fifo_neither_blocks_nor_reads(good, tmp_path):
    _path, entries = good
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    buffer = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(buffer, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(2, 3), dtype="f4",
                                              external=[(str(fifo), 0, 24)])
    hostile = _zip(tmp_path / "fifo.keras", {**entries, "model.weights.h5": buffer.getvalue()})
    result = _run(_LOAD_AND_REPORT.format(path=str(hostile)), timeout=60)
    assert "ValueError: Refusing the weights file: layers/dense/vars/0 uses HDF5 external " \
           f"storage (its values live in {str(fifo)!r})" in result.stdout, result.stderr


def test_a_fifo_as_the_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)
    weights_fifo = tmp_path / "model.weights.h5"
    os.mkfifo(weights_fifo)
    code = textwrap.dedent(_LOAD_AND_REPORT.format(path=str(fifo))) + textwrap.dedent(f"""
        import fastnn
        m = fastnn.Sequential([fastnn.Input((2,)), fastnn.layers.Dense(3)])
        try:
            m.load_weights({str(weights_fifo)!r})
        except ValueError as e:
            print("ValueError:", e)
    """)
    result = _run(code, timeout=60)
    assert f"ValueError: '{fifo}' is not a regular file" in result.stdout, result.stderr
    assert f"ValueError: '{weights_fifo}' is not a regular file" in result.stdout


def test_a_dataset_declaring_gigabytes_is_refused_by_its_shape(good, tmp_path):
    """A chunked dataset of 4 GiB whose chunks were never written takes a few bytes of file;
    its shape is compared with the model's before anything is read."""
    _path, entries = good
    buffer = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(buffer, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars"].create_dataset("0", shape=(1 << 15, 1 << 15), dtype="f4",
                                              chunks=(1024, 1024), compression="gzip")
    hostile = _zip(tmp_path / "huge.keras", {**entries, "model.weights.h5": buffer.getvalue()})
    assert hostile.stat().st_size < 100_000
    result = _run(_LOAD_AND_REPORT.format(path=str(hostile)), timeout=60, memory=3 * GiB)
    assert "ValueError: Shape mismatch for layer 'd1', variable 'd1/kernel': the model has " \
           "shape (2, 3), the file holds shape (32768, 32768)." in result.stdout, result.stderr


# ---- archive entries that inflate to gigabytes ---------------------------------------------

def _deflated_zeros(n_mib: int) -> bytes:
    """A raw deflate stream of ``n_mib`` MiB of zeros, built without compressing them all:
    after a full flush the compressor starts afresh, so every MiB compresses to the same
    bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()   # an empty final block
    return piece * n_mib + end


def _zip_raw(path, entries):
    """A zip of (name, deflated bytes, declared size, crc) entries, written by hand so that
    the declared size can be anything."""
    local, central = b"", b""
    for name, data, size, crc in entries:
        name = name.encode()
        header = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0)
        central += (b"PK\x01\x02" + struct.pack("<H", 20) + header
                    + struct.pack("<HHHII", 0, 0, 0, 0, len(local)) + name)
        local += b"PK\x03\x04" + header + name + data
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                      len(central), len(local), 0)
    Path(path).write_bytes(local + central + end)
    return path


def _deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize("declared", ["honest", "lying"])
def test_an_entry_that_inflates_to_gigabytes_is_refused_quickly(good, tmp_path, declared):
    _path, entries = good
    bomb = _deflated_zeros(4095)    # 4 GiB less 1 MiB, in about 4 MiB
    size = 4095 << 20 if declared == "honest" else 1000
    hostile = _zip_raw(tmp_path / "bomb.keras", [
        ("metadata.json", bomb, size, 0),
        *((n, _deflate(entries[n]), len(entries[n]), zlib.crc32(entries[n]))
          for n in ("config.json", "model.weights.h5"))])
    assert hostile.stat().st_size < 8 << 20
    result = _run(_LOAD_AND_REPORT.format(path=str(hostile)), timeout=60, memory=3 * GiB)
    if declared == "honest":
        assert ("ValueError: Refusing '" + str(hostile) + "': its entry metadata.json declares "
                "4,293,918,720 bytes, more than the 1,048,576 bytes fastnn reads for it") \
            in result.stdout, result.stderr
    else:  # zipfile stops at the declared size; the checksum then fails
        assert "ValueError: Cannot read the model file" in result.stdout, result.stderr


def test_a_weights_entry_larger_than_the_model_can_need_is_refused(good, tmp_path):
    _path, entries = good
    padded = entries["model.weights.h5"] + bytes(40 << 20)   # HDF5 ignores trailing bytes
    hostile = _zip(tmp_path / "padded.keras", {**entries, "model.weights.h5": padded})
    with pytest.raises(ValueError, match=r"its entry model.weights.h5 declares 41,\d{3},\d{3} "
                                         r"bytes, more than the 1\d,\d{3},\d{3} bytes"):
        load_model(hostile)
    load_model(_zip(tmp_path / "fine.keras", entries))   # the bound leaves room to spare


def test_a_huge_data_entry_of_the_command_line_is_refused(good, tmp_path):
    from fastnn.cli import CLIError, _model_file

    _path, entries = good
    hostile = _zip_raw(tmp_path / "cli.keras", [
        *((n, _deflate(d), len(d), zlib.crc32(d)) for n, d in entries.items()),
        ("fastnn_data.json", _deflated_zeros(4095), 4095 << 20, 0)])
    with pytest.raises(CLIError, match="its fastnn_data.json entry is damaged"):
        _model_file.load(str(hostile))


def test_a_small_file_asking_for_gigabytes_of_weights_is_refused_before_allocating(good,
                                                                                   tmp_path):
    _path, entries = good
    config = json.loads(entries["config.json"])
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 30_000]
    config["config"]["layers"][1]["config"]["units"] = 30_000     # 3.6 GB of float32
    hostile = _zip(tmp_path / "wide.keras", {**entries, "config.json": config})
    result = _run(_LOAD_AND_REPORT.format(path=str(hostile)), timeout=60, memory=3 * GiB)
    size = len(entries["model.weights.h5"])
    assert (f"ValueError: Cannot load '{hostile}': config.json: Layer 'd1' asks for a weight of "
            f"shape (30000, 30000) (900,000,000 values), more than its model.weights.h5 "
            f"({size:,} bytes) can hold: the file is corrupt, truncated or hostile.") \
        in result.stdout, result.stderr


# ---- JSON nested past the stack ---------------------------------------------------------------

def _nested_models(depth: int) -> dict:
    config = {"class_name": "Dense", "config": {"name": "d", "units": 1}}
    for i in range(depth):
        config = {"class_name": "Sequential",
                  "config": {"name": f"s{i}", "layers": [config]}}
    return config


@pytest.mark.parametrize("config", [
    pytest.param("[" * 100_000 + "]" * 100_000, id="100,000 lists"),
    pytest.param('{"a":' * 5_000 + "1" + "}" * 5_000, id="5,000 objects"),
    pytest.param(json.dumps(_nested_models(300)), id="300 nested models"),
])
def test_deeply_nested_config_gives_the_loaders_error(good, tmp_path, config):
    _path, entries = good
    hostile = _zip(tmp_path / "deep.keras", {**entries, "config.json": config.encode()})
    with pytest.raises(ValueError, match="its entry config.json nests lists and objects more "
                                         "than 100 levels deep"):
        load_model(hostile)


@pytest.mark.parametrize("depth", [300, 100_000])
def test_model_from_json_bounds_the_depth_too(depth):
    with pytest.raises(ValueError, match="model_from_json: the JSON nests lists and objects "
                                         "more than 100 levels deep"):
        fastnn.models.model_from_json(json.dumps(_nested_models(300)) if depth == 300
                                      else "[" * depth + "]" * depth)


def test_models_nested_within_the_depth_bound_still_load(tmp_path):
    inner = Sequential([Input((2,)), Dense(3, name="d1")])
    outer = Sequential([Input((2,)), Sequential([inner], name="mid"), Dense(1)])
    outer.save(tmp_path / "nested.keras")
    loaded = load_model(tmp_path / "nested.keras")
    np.testing.assert_array_equal(loaded.predict(np.ones((1, 2))),
                                  outer.predict(np.ones((1, 2))))


# ---- malformed entries: a ValueError naming the entry, the layer and the field -------------

def _layers(c):
    return c["config"]["layers"]


MALFORMED = {
    "model config is a list": (lambda c: c.update(config=[1, 2]),
                               ("config.json: Invalid Sequential config: it needs a 'layers' "
                               "list.")),
    "layer config is a list": (lambda c: _layers(c)[1].update(config=[1, 2]),
                               ("config.json: Invalid layer entry in the model config: the "
                               "'config' of a Dense must be a dict; received list.")),
    "initializer config is a list": (
        lambda c: _layers(c)[1]["config"]["kernel_initializer"].update(config=[1]),
        ("config.json: layer 'd1' (Dense): field 'kernel_initializer': Could not deserialize "
        "initializer 'GlorotUniform': its 'config' must be a dict; received [1].")),
    "initializer argument unknown": (
        lambda c: _layers(c)[1]["config"]["kernel_initializer"].update(config={"zzz": 1}),
        ("config.json: layer 'd1' (Dense): field 'kernel_initializer': Could not deserialize "
        "initializer 'GlorotUniform' from its config {'zzz': 1}:")),
    "class name is a list": (lambda c: _layers(c)[1].update(class_name=["Dense"]),
                             ("config.json: Invalid layer entry in the model config: its "
                             "'class_name' must be a string; received ['Dense'].")),
    "dtype is a number": (lambda c: _layers(c)[1]["config"].update(dtype=3),
                          ("config.json: layer 'd1' (Dense): Cannot interpret `dtype` "
                           "argument. Expected a string or an instance of DTypePolicy. "
                           "Received: dtype=3")),
    "units is text": (lambda c: _layers(c)[1]["config"].update(units="3"),
                      "config.json: layer 'd1' (Dense): Received an invalid value for `units`"),
    "Input shape [None, 2.5]": (lambda c: _layers(c)[0]["config"].update(
        batch_shape=[None, 2.5]), ("config.json: layer 'inputs' (InputLayer): Input shape "
        "dimensions must be integers or None; received [None, 2.5].")),
    "Input batch_shape empty": (lambda c: _layers(c)[0]["config"].update(batch_shape=[]),
                                ("config.json: layer 'inputs' (InputLayer): `batch_shape` must "
                                 "start with the batch axis (None); received ().")),
    "compile_config is a list": (lambda c: c.update(compile_config=[1]),
                                 "config.json: compile_config must be a dict; received list."),
    "optimizer config is a list": (
        lambda c: c["compile_config"]["optimizer"].update(config=[1]),
        ("config.json: compile_config: field 'optimizer': Could not deserialize optimizer "
        "'SGD': its 'config' must be a dict; received [1].")),
    "optimizer missing": (lambda c: c["compile_config"].pop("optimizer"),
                          ("config.json: compile_config: field 'optimizer': it lacks the field "
                          "'optimizer'")),
    "loss argument unknown": (
        lambda c: c["compile_config"].update(loss={"class_name": "MeanSquaredError",
                                                   "config": {"zzz": 1}}),
        ("config.json: compile_config: field 'loss': Could not deserialize loss "
        "'MeanSquaredError' from its config {'zzz': 1}")),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_config_names_entry_layer_and_field(good, tmp_path, case):
    _path, entries = good
    change, message = MALFORMED[case]
    config = json.loads(entries["config.json"])
    change(config)
    hostile = _zip(tmp_path / "bad.keras", {**entries, "config.json": config})
    with pytest.raises(ValueError) as info:
        load_model(hostile)
    assert str(info.value).startswith(f"Cannot load '{hostile}': {message}"), str(info.value)


def test_a_merge_call_on_no_tensors_is_refused(tmp_path):
    inputs = Input((2,), name="inputs")
    outputs = fastnn.layers.Concatenate(name="cat")([Dense(2, name="a")(inputs),
                                                      Dense(2, name="b")(inputs)])
    fastnn.Model(inputs, outputs).save(tmp_path / "f.keras")
    with zipfile.ZipFile(tmp_path / "f.keras") as z:
        entries = {n: z.read(n) for n in z.namelist()}
    config = json.loads(entries["config.json"])
    [cat] = [item for item in _layers(config) if item["name"] == "cat"]
    cat["inbound_nodes"][0]["args"][0] = []
    hostile = _zip(tmp_path / "bad.keras", {**entries, "config.json": config})
    with pytest.raises(ValueError, match=re.escape(
            f"Cannot load '{hostile}': config.json: Layer 'cat' was called on an empty list")):
        load_model(hostile)


def test_loading_never_runs_code_from_the_file(good, tmp_path, monkeypatch):
    """Names of Python callables in every place a config names a class are refused, and
    none of them is called."""
    _path, entries = good
    monkeypatch.chdir(tmp_path)
    pwned = tmp_path / "pwned"
    call = {"module": "os", "class_name": "system", "registered_name": "os>system",
            "config": {"command": f"touch {pwned}"}}
    for change in (lambda c: _layers(c).__setitem__(1, {**call, "config": {"name": "x"}}),
                   lambda c: _layers(c)[1]["config"].update(kernel_initializer=call),
                   lambda c: c["compile_config"].update(loss=call),
                   lambda c: c["compile_config"].update(optimizer=call),
                   lambda c: c["compile_config"].update(metrics=[call])):
        config = json.loads(entries["config.json"])
        change(config)
        with pytest.raises(ValueError, match="system"):
            load_model(_zip(tmp_path / "code.keras", {**entries, "config.json": config}))
    assert not pwned.exists()
