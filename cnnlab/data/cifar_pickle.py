"""CIFAR-10's python batches, read safely: pickles unpickled by an unpickler that only builds arrays of bytes,
never calls code and never builds more than a batch holds; shapes and labels checked."""

import io
import pickle
import pickletools

import numpy as np

CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_BATCH_IMAGES = 10_000  # pictures in one official batch: the most a batch may hold
CIFAR_CLASSES = 10
MAX_PICKLE_OPS = 16 * CIFAR_BATCH_IMAGES  # a label and a file name take at most 9 opcodes a picture (Python 3's
# protocol 2 writes a bytes file name as _codecs.encode(...)); each opcode builds at most one small object


def _count_opcodes(raw):
    """Refuse a pickle that would build more than a batch can hold, before anything is built: more than
    MAX_PICKLE_OPS opcodes (a list of 3,072 bytes repeated 100,000 times by memo reference is 200 KB of pickle and
    300 MB of array), or a memo index past them (the unpickler makes room for every index up to the one named)."""
    for count, (opcode, argument, _) in enumerate(pickletools.genops(raw), start=1):
        if count > MAX_PICKLE_OPS:
            raise pickle.UnpicklingError(f"more than {MAX_PICKLE_OPS:,} pickle opcodes, more than a CIFAR-10 batch "
                                         "needs")
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and argument >= MAX_PICKLE_OPS:
            raise pickle.UnpicklingError(f"a pickle memo index of {argument:,}, more than a CIFAR-10 batch needs")


def _ndarray(*arguments):
    """The pickle's numpy.ndarray: an argument of _reconstruct, never called (ndarray((40_000_000,), 'O') would
    make 40 million None at once)."""
    raise pickle.UnpicklingError("numpy.ndarray called, not as NumPy pickles an array")


class _Uint8:
    """The pickle's numpy.dtype('u1'): a batch's pixels are bytes. Its pickled state is ignored, never handed to
    NumPy (a uint8 dtype given the 'holds objects' flag, then an array of it, crashes the interpreter)."""

    def __setstate__(self, state):
        pass


class _PickledArray:
    """The pickle's ndarray, made by cnnlab from its checked state (shape, uint8, raw bytes) rather than by NumPy's
    own __setstate__, which trusts its input."""

    array = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise pickle.UnpicklingError("an array whose pickled state is not NumPy's")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _Uint8) or not isinstance(raw, bytes) or not isinstance(shape, tuple) or \
                len(shape) > 2 or not all(type(side) is int and side >= 0 for side in shape) or \
                int(np.prod(shape, dtype=object)) != len(raw):
            raise pickle.UnpicklingError("an array that is not the bytes of its shape")
        self.array = np.frombuffer(raw, np.uint8).reshape(shape, order="F" if fortran else "C")


def _empty_array(subtype, shape, typecode):
    """numpy's _reconstruct as a batch uses it (ndarray, (0,), b'b'): an empty array its state then fills."""
    if subtype is not _ndarray or shape != (0,):
        raise pickle.UnpicklingError("an array reconstructed other than as NumPy pickles one")
    return _PickledArray()


def _dtype(name, align=False, copy=True):
    """The pickle's numpy.dtype: 'u1' (bytes) only."""
    if name not in ("u1", b"u1"):
        raise pickle.UnpicklingError(f"an array of {str(name)[:20]}, not of bytes")
    return _Uint8()


def _latin1(text, encoding):
    """_codecs.encode as Python 3 pickles bytes at protocol 2 (text, 'latin1'); no other codec (hex, base64 or
    a chain of them multiply the size, an unknown name raises LookupError)."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with {str(encoding)[:20]}, not as bytes are pickled")
    return text.encode("latin-1")


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches only: plain containers, bytes and arrays of bytes, never arbitrary code. Each global
    a batch names is a stand-in that checks its arguments (_empty_array, _dtype, _latin1), and arrays are made by
    cnnlab from their checked state (_PickledArray)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _empty_array,
        ("numpy._core.multiarray", "_reconstruct"): _empty_array,
        ("numpy", "ndarray"): _ndarray, ("numpy", "dtype"): _dtype,
        ("_codecs", "encode"): _latin1,  # how Python 3 writes bytes at pickle protocol 2
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _read_cifar_batch(raw):
    """(images (n, 32, 32, 3), labels (n,)) of one pickled batch; ValueError or UnpicklingError for anything that
    is not one, checked before a byte of it is copied."""
    _count_opcodes(raw)
    batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError("not a CIFAR-10 batch (no data and labels)")
    data, labels = batch[b"data"], batch[b"labels"]
    data = data.array if isinstance(data, _PickledArray) else data
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError("a CIFAR-10 batch holds rows of 3,072 bytes in an array, not "
                         f"{getattr(data, 'shape', type(data).__name__)}")
    if len(data) > CIFAR_BATCH_IMAGES:
        raise ValueError(f"a CIFAR-10 batch holds at most {CIFAR_BATCH_IMAGES:,} rows of 3,072 bytes, "
                         f"not {len(data):,}")
    if type(labels) is not list or len(labels) != len(data) or \
            not all(type(label) is int and 0 <= label < CIFAR_CLASSES for label in labels):
        raise ValueError(f"a CIFAR-10 batch holds rows of 3,072 bytes and one label (0 to {CIFAR_CLASSES - 1}) each")
    # rows are 3072 bytes: 1024 red, 1024 green, 1024 blue -> (n, 32, 32, 3)
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, np.array(labels, dtype=np.uint8)


BATCH_ERRORS = (pickle.UnpicklingError, ValueError, TypeError, EOFError, LookupError, AttributeError, MemoryError,
                OverflowError, IndexError)  # what a damaged or crafted batch raises while it is read


def cifar_arrays(raws, where, error=ValueError):
    """(x_train, y_train, x_test, y_test) from CIFAR-10's six pickled batches {name: bytes}; `error` (ValueError by
    default) names the batch that is not one."""
    batches = {}
    for name in CIFAR_TRAIN_BATCHES + ("test_batch",):
        try:
            batches[name] = _read_cifar_batch(raws[name])
        except BATCH_ERRORS as problem:
            if error is not ValueError:
                raise error("error.archive.bad_batch", name=where, member=name, error=str(problem)) from None
            if isinstance(problem, (ValueError, pickle.UnpicklingError, KeyError, EOFError)):
                raise  # what datasets.load says of an unreadable copy
            raise ValueError(f"'{name}' in {where} is not a CIFAR-10 batch ({problem})") from None
    train = [batches[n] for n in CIFAR_TRAIN_BATCHES]
    x_test, y_test = batches["test_batch"]
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test)
