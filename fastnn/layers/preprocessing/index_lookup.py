"""IntegerLookup and StringLookup: map tokens to indices through a vocabulary (Keras 3).

Index layout (``get_vocabulary()``): the mask token at 0 when there is one and the output is
``"int"``, then ``num_oov_indices`` out-of-vocabulary slots, then the vocabulary. ``adapt``
orders the vocabulary by frequency, most frequent first, ties broken by the larger token
first (as Keras). Non-int output modes encode the indices as CategoryEncoding does;
``tf_idf`` weighs the counts by ``log(1 + documents / (1 + documents with the token))``,
with the mean weight for the out-of-vocabulary slots.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from fastnn.layers.preprocessing._base import NumpyLayer, adapt_batches
from fastnn.layers.preprocessing.category_encoding import encode, encoded_tail

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class _IndexLookup(NumpyLayer):
    _token_kind = ""        # "string" or "integer", for messages

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                 idf_weights, invert, output_mode, pad_to_max_tokens, sparse, **kwargs):
        # Keras writes the size of an adapted vocabulary into the config and the vocabulary
        # itself into an asset that is read after the model is built: the size shapes the
        # layer's output until then.
        declared = kwargs.pop("vocabulary_size", None)
        super().__init__(**kwargs)
        self._declared_size = declared if vocabulary is None else None
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError("If set, `max_tokens` must be greater than 1. Received: "
                             f"max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("`num_oov_indices` must be greater than or equal to 0. "
                             f"Received: num_oov_indices={num_oov_indices}")
        if output_mode not in _MODES:
            raise ValueError(f"Unknown arg for output_mode: {output_mode}. Expected one of "
                             f"{list(_MODES)}.")
        if invert and output_mode != "int":
            raise ValueError("`output_mode` must be `'int'` when `invert` is true. "
                             f"Received: output_mode={output_mode}")
        if sparse:
            raise ValueError(f"fastnn's {type(self).__name__} returns dense arrays "
                             "(sparse=False).")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError("`idf_weights` should only be set if `output_mode` is "
                             f"`'tf_idf'`. Received: output_mode={output_mode} and "
                             f"idf_weights={idf_weights}")
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = False
        self.input_vocabulary = vocabulary
        self.input_idf_weights = idf_weights
        self._vocab: list = []
        self._idf: np.ndarray | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ---- the vocabulary ----------------------------------------------------------------

    def _key(self, token):
        """A token as the lookup table keys it."""
        raise NotImplementedError

    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use ``vocabulary`` (a list of tokens, without the special tokens unless they lead
        it in the layout order) and, for ``tf_idf``, its ``idf_weights``."""
        tokens = [self._key(t) for t in np.asarray(vocabulary).ravel().tolist()]
        specials = [self.mask_token] * self._oov_start() + [self.oov_token] * \
            self.num_oov_indices
        if specials and tokens[:len(specials)] == [self._key(t) if t is not None else t
                                                   for t in specials]:
            tokens = tokens[len(specials):]
        if len(set(tokens)) != len(tokens):
            repeated = sorted({t for t in tokens if tokens.count(t) > 1}, key=str)
            raise ValueError(f"The passed vocabulary has at least one repeated term. Please "
                             f"uniquify your dataset. The repeated terms are {repeated}")
        for special, what in ((self.mask_token, "mask_token"), (self.oov_token, "oov_token")):
            if special is not None and self._key(special) in tokens:
                raise ValueError(f"Found reserved {what} {special!r} in the passed "
                                 "vocabulary at a position other than its reserved index.")
        if self.max_tokens is not None and len(tokens) + self._token_start() > self.max_tokens:
            raise ValueError(f"Attempted to set a vocabulary larger than the maximum vocab "
                             f"size. Received vocabulary size is "
                             f"{len(tokens) + self._token_start()}; `max_tokens` is "
                             f"{self.max_tokens}.")
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
            idf = np.asarray(idf_weights, dtype=np.float64).ravel()
            if idf.size != len(tokens):
                raise ValueError("`idf_weights` must be the same length as vocabulary. "
                                 f"len(idf_weights) = {idf.size}; len(vocabulary) = "
                                 f"{len(tokens)}")
            self._idf = np.concatenate([np.full(self._token_start(), idf.mean()), idf])
        self._set_tokens(tokens)

    def _set_tokens(self, tokens: list) -> None:
        declared = self._declared_size
        if declared and self.output_mode != "int" and \
                len(tokens) + self._token_start() != declared:
            raise ValueError(f"Layer '{self.name}' was configured for a vocabulary of "
                             f"{declared} entries; received {len(tokens) + self._token_start()}.")
        self._declared_size = None
        self._vocab = list(tokens)
        start = self._token_start()
        self._table = {t: i + start for i, t in enumerate(self._vocab)}

    def get_vocabulary(self, include_special_tokens=True) -> list:
        if not include_special_tokens:
            return list(self._vocab)
        return ([self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
                + list(self._vocab))

    def vocabulary_size(self) -> int:
        return self._token_start() + len(self._vocab)

    def _depth(self) -> int:
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return int(self.max_tokens)
        if not self._vocab and self._declared_size:
            return int(self._declared_size)
        return self.vocabulary_size()

    # ---- adapt ---------------------------------------------------------------------------

    def adapt(self, data, steps=None) -> None:
        """Learn the vocabulary (and document frequencies for ``tf_idf``) from ``data``."""
        if self.input_vocabulary is not None:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' was given a "
                             "`vocabulary`; it cannot be adapted.")
        _, batches = adapt_batches(data, self.name)
        counts: Counter = Counter()
        documents: Counter = Counter()
        n_documents = 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            batch = self._keys_of(batch)
            counts.update(batch.ravel().tolist())
            if self.output_mode == "tf_idf":
                rows = batch.reshape(batch.shape[0], -1) if batch.ndim > 1 else batch[:, None]
                for row in rows.tolist():
                    documents.update(set(row))
                n_documents += rows.shape[0]
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(self._key(special), None)
        # Most frequent first; among equal counts the larger token first (Keras's order).
        ordered = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            ordered = ordered[:max(self.max_tokens - self._token_start(), 0)]
        if self.output_mode == "tf_idf":
            doc = np.array([documents[t] for t in ordered], dtype=np.float64)
            idf = np.log1p(n_documents / (1.0 + doc))
            self._idf = np.concatenate([np.full(self._token_start(),
                                                idf.mean() if idf.size else 0.0), idf])
        self._set_tokens(ordered)

    # ---- the mapping -----------------------------------------------------------------------

    def _keys_of(self, x: np.ndarray) -> np.ndarray:
        """``x`` as an array of the table's key type (raising on the wrong kind)."""
        raise NotImplementedError

    def _output_tail(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape[1:])
        return encoded_tail(input_shape, self.output_mode, self._depth())

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        uniques, inverse = np.unique(keys, return_inverse=True)
        found = np.empty(len(uniques), dtype=np.int64)
        for k, token in enumerate(uniques.tolist()):
            index = self._table.get(token)
            if index is None:
                index = self._oov_index(token)
            found[k] = index
        if self.mask_token is not None:
            found[uniques == self._key(self.mask_token)] = 0
        return found[inverse.reshape(keys.shape)]

    def _oov_index(self, token) -> int:
        if self.num_oov_indices == 0:
            raise ValueError(f"Layer '{self.name}' has no out-of-vocabulary index "
                             f"(num_oov_indices=0) and received the unknown {self._token_kind} "
                             f"token {token!r}.")
        if self.num_oov_indices == 1:
            return self._oov_start()
        return self._oov_start() + self._oov_bucket(token)

    def _oov_bucket(self, token) -> int:
        raise NotImplementedError

    def _invert(self, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind == "f" and np.any(x != np.round(x)):
            raise ValueError(f"Layer '{self.name}' (invert=True) takes integer indices.")
        vocab = self.get_vocabulary()
        table = np.array(vocab + [self.oov_token], dtype=self._array_dtype(vocab))
        idx = x.astype(np.int64)
        idx = np.where((idx < 0) | (idx >= len(vocab)), len(vocab), idx)
        return table[idx]

    def _array_dtype(self, vocab):
        raise NotImplementedError

    def _transform(self, x):
        if self.invert:
            return self._invert(x)
        if not self._vocab and self.input_vocabulary is None:
            raise ValueError(f"{type(self).__name__} layer '{self.name}' has no vocabulary: "
                             "pass `vocabulary` or call `adapt` first.")
        indices = self._lookup(self._keys_of(x))
        if self.output_mode == "int":
            return indices
        depth = self._depth()
        if self.output_mode == "tf_idf":
            counts = encode(indices, "count", depth, np.float64, name=self.name)
            idf = np.zeros(depth)
            idf[:self._idf.size] = self._idf[:depth]
            return (counts * idf).astype(self.dtype)
        return encode(indices, self.output_mode, depth, np.int64, name=self.name)

    def get_config(self) -> dict:
        vocabulary = self.input_vocabulary
        if vocabulary is None and self._vocab:
            vocabulary = list(self._vocab)       # adapted: the file keeps what was learnt
        idf = self.input_idf_weights
        if idf is None and self._idf is not None and vocabulary is not None:
            idf = self._idf[self._token_start():].tolist()
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode,
                "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": _plain(idf), "vocabulary": _plain(vocabulary),
                "vocabulary_size": self.vocabulary_size()}


def _plain(value):
    return np.asarray(value).tolist() if isinstance(value, np.ndarray) else value


class IntegerLookup(_IndexLookup):
    """Map integer tokens to indices (or back, ``invert=True``); see the module's notes for
    the index layout. Out-of-vocabulary tokens with ``num_oov_indices > 1`` go to slot
    ``token mod num_oov_indices`` (Keras's ``floormod``)."""

    _token_kind = "integer"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 output_mode="int", sparse=False, vocabulary=None, vocabulary_dtype="int64",
                 idf_weights=None, invert=False, **kwargs):
        for key in ("oov_method", "salt"):
            value = kwargs.pop(key, None)
            if value not in (None, "floormod"):
                raise ValueError(f"fastnn's IntegerLookup does not support {key}={value!r}.")
        if vocabulary_dtype not in ("int64", "int32"):
            raise ValueError("`vocabulary_dtype` must be 'int64' or 'int32'; received "
                             f"{vocabulary_dtype!r}.")
        self.vocabulary_dtype = vocabulary_dtype
        if isinstance(vocabulary, str):
            raise ValueError("fastnn's IntegerLookup takes the vocabulary as a list, not a "
                             "file path.")
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, kwargs.pop("pad_to_max_tokens",
                                                                      False), sparse, **kwargs)

    def _key(self, token):
        return int(token)

    def _keys_of(self, x):
        x = np.asarray(x)
        if x.dtype.kind in "iub":
            return x.astype(np.int64)
        if x.dtype.kind == "f" and np.all(np.isfinite(x)) and np.all(x == np.round(x)):
            return x.astype(np.int64)     # whole numbers that reached the engine as floats
        raise ValueError(f"Layer '{self.name}' (IntegerLookup) takes integer tokens; "
                         f"received an array of dtype {x.dtype}.")

    def _oov_bucket(self, token) -> int:
        return int(token) % self.num_oov_indices

    def _array_dtype(self, vocab):
        return np.int64

    def get_config(self) -> dict:
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype,
                "oov_method": "floormod", "salt": None}


class StringLookup(_IndexLookup):
    """Map string tokens to indices (or back, ``invert=True``); see the module's notes for
    the index layout. With ``num_oov_indices > 1`` an unknown string goes to slot
    ``Fingerprint64(token) mod num_oov_indices`` (FarmHash, as Keras's)."""

    _token_kind = "string"

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", **kwargs):
        for key in ("oov_method", "salt"):
            value = kwargs.pop(key, None)
            if value not in (None, "floormod"):
                raise ValueError(f"fastnn's StringLookup does not support {key}={value!r}.")
        if isinstance(vocabulary, str):
            raise ValueError("fastnn's StringLookup takes the vocabulary as a list, not a "
                             "file path.")
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, pad_to_max_tokens, sparse,
                         **kwargs)

    def _key(self, token):
        return token.decode(self.encoding) if isinstance(token, bytes) else str(token)

    def _keys_of(self, x):
        x = np.asarray(x)
        if x.dtype.kind == "S":
            return np.char.decode(x, self.encoding)
        if x.dtype.kind == "U":
            return x
        if x.dtype == object:
            return np.vectorize(self._key, otypes=[str])(x)
        raise ValueError(f"Layer '{self.name}' (StringLookup) takes string tokens; received "
                         f"an array of dtype {x.dtype}.")

    def _oov_bucket(self, token) -> int:
        from fastnn.layers.preprocessing._fingerprints import fingerprint64

        return fingerprint64(str(token).encode(self.encoding)) % self.num_oov_indices

    def _array_dtype(self, vocab):
        return str

    def get_config(self) -> dict:
        return {**super().get_config(), "oov_method": "floormod", "salt": None,
                "encoding": self.encoding}
