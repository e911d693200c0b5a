"""ModelIOMixin: a model's description and files (summary, JSON, ``.keras``, ``.weights.h5``,
exported ONNX)."""

from __future__ import annotations


class ModelIOMixin:
    """``summary``, ``to_json``, ``save``, ``save_weights`` and ``load_weights`` for a model
    that provides ``get_config``, ``layers``, ``weights`` and a compiled plan."""

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None) -> None:
        """Print Keras 3's table of layers, output shapes and parameter counts.

        ``print_fn`` receives the whole table as one string (without colour), as in Keras.
        ``expand_nested`` lists a nested model's layers under it, indented as Keras does.
        ``layer_range`` is accepted and ignored.
        """
        from fastnn.models.summary import print_summary

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      show_trainable=show_trainable, expand_nested=expand_nested)

    def to_json(self, **kwargs) -> str:
        """The model's Keras 3 serialized config as JSON (``kwargs`` go to ``json.dumps``)."""
        import json  # (here: json need not load with fastnn)

        from fastnn.saving.model_config import serialize_model

        return json.dumps(serialize_model(self, include_compile=False), **kwargs)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs) -> None:
        """Write the model (config, weights, compile arguments and optimizer state) to a
        ``.keras`` file, atomically."""
        from fastnn.saving import save_model

        if zipped is False:
            raise ValueError("fastnn writes zipped `.keras` files only (zipped=False is not "
                             "supported).")
        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None) -> None:
        """Write the weights and optimizer state to a ``.weights.h5`` file, atomically."""
        from fastnn.saving import save_weights

        if max_shard_size is not None:
            raise ValueError("fastnn does not shard weight files (max_shard_size must be None).")
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs) -> None:
        """Load weights from a ``.weights.h5`` or ``.keras`` file (Keras 3's or fastnn's)."""
        from fastnn.saving import load_weights

        if kwargs:
            raise ValueError(f"Invalid keyword arguments: {kwargs}")
        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs) -> None:
        """Write the model's inference as an artifact for serving, as Keras 3's ``export``.

        fastnn writes ``format="onnx"`` (``opset_version=`` keyword, 17 by default), built with
        the ``onnx`` package (``pip install 'fastnn[onnx]'``); Keras's other formats are
        refused. See ``fastnn/export/``.
        """
        from fastnn.export import export_model

        export_model(self, filepath, format=format, verbose=verbose,
                     input_signature=input_signature, **kwargs)

    def __reduce__(self):
        """pickle and copy.deepcopy go through the ``.keras`` format, as in Keras 3."""
        from fastnn.saving.pickling import (
            model_from_bytes,
            model_from_config_text,
            model_to_bytes,
            model_to_config_text,
        )

        if not self.built:    # no weights yet: its config (and compile arguments) is all
            return (model_from_config_text, (model_to_config_text(self),))
        return (model_from_bytes, (model_to_bytes(self),))
