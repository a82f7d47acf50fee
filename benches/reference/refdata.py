"""Reading and writing the split npz shared by melgrad and the reference frameworks.

Format (written by `melgrad export-npz`, make_synthetic_npz.py or make_reference_npz.py):
  X          (N, 80, 80, 1) float32  log-mel segments, Keras layout (= NCHW with C = 1)
  y          (N,) int64              class index
  train_idx  (Ntr,) int64            rows of X used for training
  val_idx    (Nva,) int64            rows of X used for validation
  genres     (n,) str, optional      class names in index order (gives n; else max(y) + 1)

X is streamed out of the archive straight into the train and validation arrays, so the
process never holds the data twice: peak RSS then measures the framework, not our loader.
"""

import zipfile
from dataclasses import dataclass

import numpy as np

SEGMENT_SHAPE = (80, 80, 1)
_CHUNK_ROWS = 256


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    genres: list


def _fail(path, detail):
    raise SystemExit(f"{path}: {detail}")


def _check_indices(path, name, idx, n_rows):
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        _fail(path, f"{name} must be a 1-d integer array, got {idx.dtype} {idx.shape}")
    if idx.size == 0:
        _fail(path, f"{name} is empty")
    if idx.min() < 0 or idx.max() >= n_rows:
        _fail(path, f"{name} has indices outside 0..{n_rows - 1}")
    if np.unique(idx).size != idx.size:
        _fail(path, f"{name} has duplicate indices")


def _read_header(path, f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        _fail(path, f"unsupported .npy version {version} for X")
    if fortran:
        _fail(path, "X is stored in Fortran order; expected C order")
    if len(shape) != 4 or tuple(shape[1:]) != SEGMENT_SHAPE:
        _fail(path, f"X must have shape (N, 80, 80, 1), got {shape}")
    if dtype.kind != "f" or dtype.hasobject:
        _fail(path, f"X must be floating point, got {dtype}")
    return shape, dtype


def load_split(path: str) -> Split:
    try:
        return _load_split(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        _fail(path, f"cannot read the split npz: {e}")


def _load_split(path: str) -> Split:
    with np.load(path, allow_pickle=False) as d:
        missing = {"X", "y", "train_idx", "val_idx"} - set(d.files)
        if missing:
            _fail(path, f"missing keys {sorted(missing)} (has {d.files})")
        y = d["y"].astype(np.int64)
        train_idx = d["train_idx"]
        val_idx = d["val_idx"]
        genres = [str(g) for g in d["genres"]] if "genres" in d.files else []

    n_rows = y.shape[0]
    _check_indices(path, "train_idx", train_idx, n_rows)
    _check_indices(path, "val_idx", val_idx, n_rows)
    if np.intersect1d(train_idx, val_idx).size:
        _fail(path, "train_idx and val_idx overlap")
    if y.min() < 0:
        _fail(path, "y has negative labels")
    n_classes = len(genres) if genres else int(y.max()) + 1
    if y.max() >= n_classes:
        _fail(path, f"y has label {y.max()} but only {n_classes} genres")

    # Where each row of X goes: position in x_train (or -1), position in x_val (or -1).
    to_train = np.full(n_rows, -1, np.int64)
    to_train[train_idx] = np.arange(train_idx.size)
    to_val = np.full(n_rows, -1, np.int64)
    to_val[val_idx] = np.arange(val_idx.size)
    x_train = np.empty((train_idx.size, *SEGMENT_SHAPE), np.float32)
    x_val = np.empty((val_idx.size, *SEGMENT_SHAPE), np.float32)

    with zipfile.ZipFile(path) as zf, zf.open("X.npy") as f:
        shape, dtype = _read_header(path, f)
        if shape[0] != n_rows:
            _fail(path, f"X has {shape[0]} rows but y has {n_rows}")
        row_bytes = dtype.itemsize * int(np.prod(SEGMENT_SHAPE))
        for start in range(0, n_rows, _CHUNK_ROWS):
            rows = min(_CHUNK_ROWS, n_rows - start)
            buf = f.read(rows * row_bytes)
            if len(buf) != rows * row_bytes:
                _fail(path, "X is truncated")
            chunk = np.frombuffer(buf, dtype=dtype).reshape(rows, *SEGMENT_SHAPE)
            for dest, target in ((to_train, x_train), (to_val, x_val)):
                pos = dest[start : start + rows]
                keep = pos >= 0
                target[pos[keep]] = chunk[keep]
    if not (np.isfinite(x_train).all() and np.isfinite(x_val).all()):
        _fail(path, "X contains NaN or infinity")
    # melgrad's models begin with the fixed rescaling x/40 + 1 ([-80, 0] dB -> [-1, 1]);
    # the references apply the same map here so every framework sees the same numbers.
    for x in (x_train, x_val):
        x *= 1.0 / 40.0
        x += 1.0
    return Split(x_train, y[train_idx], x_val, y[val_idx], n_classes, genres)


def save_split(path, X, y, train_idx, val_idx, genres=None, **extra):
    """Uncompressed npz (np.savez), so readers can stream X without decompressing twice."""
    arrays = dict(
        X=np.ascontiguousarray(X, np.float32),
        y=np.asarray(y, np.int64),
        train_idx=np.asarray(train_idx, np.int64),
        val_idx=np.asarray(val_idx, np.int64),
    )
    if genres is not None:
        arrays["genres"] = np.asarray(genres, dtype=str)
    arrays.update(extra)
    np.savez(path, **arrays)


def random_split(n_rows: int, n_train: int, seed: int):
    """Seeded random split of rows: the first n_train of a permutation train, the rest val."""
    if not 0 < n_train < n_rows:
        raise SystemExit(f"--train must be in 1..{n_rows - 1}, got {n_train}")
    perm = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])
