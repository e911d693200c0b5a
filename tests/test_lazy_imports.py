"""``import fastnn`` loads no optional library and none of the modules kept for first use
(fastnn._lazy), and every name those modules provide is still there: as an attribute, through
``from ... import``, in ``dir()``, by name in the registries, in configs, pickles and ``.keras``
files read by a process that never touched the module before.

Each check that needs a fresh interpreter runs ``python -c`` in a subprocess."""

import importlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import fastnn

# Optional or heavy libraries that `import fastnn` must not load.
HEAVY = ("h5py", "tensorboardX", "onnx", "onnxruntime", "skl2onnx", "pandas", "scipy", "sklearn",
         "autograd", "pydot", "tensorflow", "keras", "torch", "dask", "ray", "matplotlib",
         "joblib")

# Every name loaded on first use, by package, with the module that defines it.
LAZY = {
    "fastnn.saving": {n: "fastnn.saving.keras_file"
                      for n in ("load_model", "load_weights", "save_model", "save_weights")}
    | {"model_from_config": "fastnn.saving.model_config"},
    "fastnn.models": {"load_model": "fastnn.saving.keras_file"},
    "fastnn.layers": {
        "CategoryEncoding": "fastnn.layers.preprocessing.category_encoding",
        "Discretization": "fastnn.layers.preprocessing.discretization",
        "Hashing": "fastnn.layers.preprocessing.hashing",
        "IntegerLookup": "fastnn.layers.preprocessing.index_lookup",
        "StringLookup": "fastnn.layers.preprocessing.index_lookup",
        "Normalization": "fastnn.layers.preprocessing.normalization",
        "Rescaling": "fastnn.layers.preprocessing.rescaling",
    },
    "fastnn.callbacks": {
        "BackupAndRestore": "fastnn.callbacks.backup_and_restore",
        "CSVLogger": "fastnn.callbacks.csv_logger",
        "ModelCheckpoint": "fastnn.callbacks.model_checkpoint",
        "SwapEMAWeights": "fastnn.callbacks.swap_ema_weights",
        "TensorBoard": "fastnn.callbacks.tensorboard",
    },
    "fastnn.metrics": {
        **dict.fromkeys(("AUC", "Precision", "Recall", "TruePositives", "FalsePositives",
                         "TrueNegatives", "FalseNegatives"), "fastnn.metrics.confusion"),
        **dict.fromkeys(("F1Score", "FBetaScore"), "fastnn.metrics.fscore"),
        **dict.fromkeys(("IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"),
                        "fastnn.metrics.iou"),
        **dict.fromkeys(("PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
                         "SpecificityAtSensitivity"), "fastnn.metrics.at_thresholds"),
    },
    "fastnn.optimizers": {n: f"fastnn.optimizers.{n.lower()}" for n in
                          ("Adadelta", "Adagrad", "Adamax", "Ftrl", "Lamb", "Lion", "Nadam")},
    "fastnn.utils": dict.fromkeys(("PyDataset", "Sequence", "split_dataset"),
                                  "fastnn.data_utils"),
}
LAZY_MODULES = sorted({m for names in LAZY.values() for m in names.values()}
                      | {"fastnn.layers.preprocessing", "fastnn.export", "fastnn.ops",
                         "fastnn.sklearn", "fastnn.models.streaming",
                         "fastnn.models.stream_inference"})


def _fresh(code: str) -> str:
    """stdout of ``code`` run by a new interpreter (which fails the test if it raises)."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_import_fastnn_loads_no_optional_library_nor_lazy_module():
    out = _fresh("import sys\n"
                 "before = set(sys.modules)\n"
                 "import fastnn\n"
                 "print(' '.join(sorted(set(sys.modules) - before)))\n")
    loaded = set(out.split())
    assert "fastnn.models.trainer" in loaded          # (the check sees what fastnn loads)
    roots = {name.split(".")[0] for name in loaded}
    assert not roots & set(HEAVY), sorted(roots & set(HEAVY))
    assert "certifi" not in roots
    assert not loaded & set(LAZY_MODULES), sorted(loaded & set(LAZY_MODULES))
    assert "numpy.random" not in loaded       # fastnn's Generator is made on its first draw


@pytest.mark.parametrize("package", sorted(LAZY))
def test_lazy_names_resolve_in_a_fresh_interpreter(package):
    names = LAZY[package]
    out = _fresh(
        "import importlib, sys, fastnn\n"
        f"pkg = importlib.import_module({package!r})\n"
        f"names = {names!r}\n"
        "assert not [m for m in set(names.values()) if m in sys.modules]\n"
        "assert set(names) <= set(dir(pkg)) and set(names) <= set(pkg.__all__)\n"
        "for name, module in names.items():\n"
        "    got = getattr(pkg, name)\n"
        "    assert got is getattr(importlib.import_module(module), name), name\n"
        f"    exec(f'from {package} import {{name}} as again')\n"
        "    assert again is got\n"
        "print('ok')\n")
    assert out.split() == ["ok"]


@pytest.mark.parametrize("package", sorted(LAZY))
def test_every_public_name_is_there_after_star_import(package):
    pkg = importlib.import_module(package)
    assert all(hasattr(pkg, name) for name in pkg.__all__)
    namespace = {}
    exec(f"from {package} import *", namespace)  # noqa: S102 (a star import of a name)
    assert set(pkg.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'Nope'"):
        pkg.Nope  # noqa: B018


def test_registries_find_lazy_names_before_their_modules_load():
    # Each lookup by name or config in a process where the module was never imported.
    out = _fresh(
        "import sys, fastnn\n"
        "n = fastnn.layers.deserialize({'class_name': 'Normalization',\n"
        "                               'config': {'mean': [1.0], 'variance': [4.0]}})\n"
        "print(type(n).__module__)\n"
        "print(type(fastnn.layers.get({'class_name': 'StringLookup', 'config': {}})).__name__)\n"
        "print(type(fastnn.metrics.get('auc')).__name__, type(fastnn.metrics.get('AUC')).__name__)\n"
        "print(type(fastnn.metrics.get('f1_score')).__name__)\n"
        "m = fastnn.metrics.deserialize({'class_name': 'MeanIoU', 'config': {'num_classes': 3}})\n"
        "print(type(m).__name__, m.num_classes)\n"
        "print(type(fastnn.optimizers.get('NADAM')).__name__)\n"
        "print(type(fastnn.optimizers.deserialize({'class_name': 'lion', 'config': {}})).__name__)\n"
        "print(type(fastnn.callbacks.deserialize({'class_name': 'CSVLogger',\n"
        "                                         'config': {'filename': 'x.csv'}})).__name__)\n")
    assert out.split() == ["fastnn.layers.preprocessing.normalization", "StringLookup",
                           "AUC", "AUC", "F1Score", "MeanIoU", "3", "Nadam", "Lion", "CSVLogger"]


def test_unknown_names_still_list_the_lazy_ones():
    with pytest.raises(ValueError, match="Valid names are: .*Normalization"):
        fastnn.layers.deserialize({"class_name": "Normalisation", "config": {}})
    with pytest.raises(ValueError, match="Valid names are: .*Nadam"):
        fastnn.optimizers.get("nadamw")


def test_compile_resolves_a_lazy_metric_and_optimizer_by_name():
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.float32)
    code = (
        "import numpy as np, sys, fastnn\n"
        f"x = np.array({x.tolist()!r}, np.float32); y = np.array({y.tolist()!r}, np.float32)\n"
        "m = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(1, activation='sigmoid')])\n"
        "m.compile(optimizer='nadam', loss='binary_crossentropy', metrics=['auc'])\n"
        "h = m.fit(x, y, epochs=2, batch_size=16, verbose=0).history\n"
        "print(type(m.optimizer).__name__, sorted(h))\n"
        "print(repr(float(h['auc'][-1])))\n")
    out = _fresh(code).split("\n")
    assert out[0] == "Nadam ['auc', 'loss']"
    assert 0.0 <= float(out[1]) <= 1.0


def test_pickles_and_keras_files_load_in_a_process_that_never_imported_the_module(tmp_path):
    model = fastnn.Sequential([fastnn.Input((3,)),
                               fastnn.layers.Normalization(mean=[0.0, 1.0, 2.0],
                                                           variance=[1.0, 4.0, 9.0]),
                               fastnn.layers.Dense(2)])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = model.predict(x, verbose=0)
    # (NumPy's judge: the normalized rows through the Dense layer's weights.)
    kernel, bias = model.layers[-1].get_weights()
    np.testing.assert_allclose(want, ((x - [0, 1, 2]) / [1, 2, 3]) @ kernel + bias, rtol=1e-6)
    model.save(tmp_path / "m.keras")
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    (tmp_path / "auc.pkl").write_bytes(pickle.dumps(fastnn.metrics.AUC(name="area")))
    out = _fresh(
        "import pickle, sys, numpy as np, fastnn\n"
        "assert 'fastnn.layers.preprocessing' not in sys.modules and 'h5py' not in sys.modules\n"
        f"d = {str(tmp_path)!r}\n"
        "x = np.arange(6, dtype=np.float32).reshape(2, 3)\n"
        "a = pickle.loads(open(d + '/m.pkl', 'rb').read()).predict(x, verbose=0)\n"
        "b = fastnn.saving.load_model(d + '/m.keras').predict(x, verbose=0)\n"
        "auc = pickle.loads(open(d + '/auc.pkl', 'rb').read())\n"
        "print(repr(a.tolist())); print(repr(b.tolist())); print(type(auc).__name__, auc.name)\n")
    lines = out.strip().split("\n")
    np.testing.assert_array_equal(eval(lines[0]), want)
    np.testing.assert_array_equal(eval(lines[1]), want)
    assert lines[2] == "AUC area"
