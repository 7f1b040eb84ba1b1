"""The message format between the grader and its untrusted worker: JSON for structure, raw bytes for arrays.

The worker runs student code, so everything it sends back is hostile input. Pickle is never used in
either direction: unpickling executes whatever the pickle names, and a student can write any bytes to
the worker's pipe. This format can only ever produce the values listed below, and every array is
rebuilt by ``np.frombuffer`` from a whitelisted numeric dtype — decoding runs no code of the sender's.

Values that travel: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``list``, ``tuple``,
``dict`` (string keys only), NumPy arrays and scalars of bool/int/uint/float/complex dtypes, and
``HandleRef`` (an id naming an object kept in the worker). Anything else raises ``WireError``.

This module is loaded by the worker by file path (the worker never imports ``convcheck``), so it
imports only numpy and the standard library.
"""

from __future__ import annotations

import json
import struct
import time

import numpy as np

#: Frame header: magic, then the body length. A frame is header + body.
HEADER = struct.Struct(">4sQ")
MAGIC = b"CCW1"

#: dtypes an array may have on the wire (native little-endian numeric types; no objects, no structs).
DTYPES = frozenset(
    np.dtype(t).str
    for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64", "complex64", "complex128")
)

#: Bounds on a message, checked before anything is built from it (a reply is hostile input): nesting depth,
#: bytes of the JSON structure (arrays travel beside it), elements in it, characters in one string.
MAX_DEPTH = 32
MAX_STRUCTURE_BYTES = 4 * 2**20
MAX_NODES = 100_000
MAX_STRING = 65_536


class WireError(ValueError):
    """A value that cannot be sent, or bytes that are not a valid message."""


class WireTimeout(WireError):
    """Decoding ran past the caller's deadline."""


class HandleRef:
    """An object kept on the worker's side, named by ``id``; ``type_name`` says what it is."""

    __slots__ = ("id", "type_name")

    def __init__(self, id: int, type_name: str = "object"):
        self.id = id
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"HandleRef({self.id}, {self.type_name!r})"


def encode(message, *, handle_type=HandleRef, bounded: bool = True) -> bytes:
    """Frame ``message`` (any value of the types above) as header + body.

    ``handle_type``: the class whose instances are sent as handles (they need ``.id`` and ``.type_name``).
    ``bounded``: hold the message to the bounds above (the worker's replies); the grader's own requests
    (a submission's source, the inputs of a call) are not.
    """
    buffers: list[bytes] = []
    offset = [0]

    def add_buffer(data: bytes) -> list:
        start = offset[0]
        buffers.append(data)
        offset[0] += len(data)
        return [start, len(data)]

    nodes = [0]

    def walk(value, depth):
        if depth > MAX_DEPTH:
            raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
        nodes[0] += 1
        if bounded and nodes[0] > MAX_NODES:
            raise WireError(f"value with more than {MAX_NODES} elements")
        # Exact type checks: a subclass of int or str could carry behaviour (a custom __eq__, __repr__).
        t = type(value)
        if bounded and t is str and len(value) > MAX_STRING:
            raise WireError(f"a string of {len(value)} characters (at most {MAX_STRING})")
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return {"i": str(value)}  # as a string, so JSON never rounds or refuses a big int
        if t is float:
            return {"f": value.hex()}  # exact, and NaN/inf survive
        if t is complex:
            return {"c": [value.real.hex(), value.imag.hex()]}
        if t is list:
            return [walk(v, depth + 1) for v in value]
        if t is tuple:
            return {"t": [walk(v, depth + 1) for v in value]}
        if t is dict:
            if any(type(k) is not str for k in value):
                raise WireError("a dict with keys that are not strings")
            return {"d": [[walk(k, depth + 1), walk(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value)  # an ndarray subclass travels as a plain ndarray
            if array.dtype.str not in DTYPES:
                raise WireError(f"arrays of dtype {array.dtype} cannot be sent (only numeric dtypes)")
            data = np.ascontiguousarray(array).tobytes()
            tag = "a" if isinstance(value, np.ndarray) else "s"
            return {tag: [array.dtype.str, list(array.shape), *add_buffer(data)]}
        if isinstance(value, handle_type):
            return {"h": [int(value.id), str(value.type_name)]}
        raise WireError(f"a value of type {t.__module__}.{t.__qualname__} cannot be sent")

    structure = json.dumps(walk(message, 0), separators=(",", ":"), allow_nan=False).encode()
    if bounded and len(structure) > MAX_STRUCTURE_BYTES:
        raise WireError(f"message structure of {len(structure)} bytes (at most {MAX_STRUCTURE_BYTES})")
    body = struct.pack(">Q", len(structure)) + structure + b"".join(buffers)
    return HEADER.pack(MAGIC, len(body)) + body


def decode(body: bytes, *, make_handle=HandleRef, deadline: float | None = None, bounded: bool = True):
    """Rebuild the value framed in ``body`` (the bytes after the header). Raises ``WireError`` on bad input.

    ``make_handle(id, type_name)`` turns a handle on the wire into the receiver's handle object. The bounds
    above hold before a value is built (``bounded=False``: the worker reading the grader's own requests);
    ``deadline`` (``time.monotonic()``) raises ``WireTimeout``.
    """
    if len(body) < 8:
        raise WireError("message shorter than its header")
    (n,) = struct.unpack_from(">Q", body)
    if n > len(body) - 8:
        raise WireError("message structure longer than the message")
    if bounded and n > MAX_STRUCTURE_BYTES:
        raise WireError(f"message structure of {n} bytes (at most {MAX_STRUCTURE_BYTES})")
    data = memoryview(body)[8 + n:]
    try:
        structure = json.loads(bytes(body[8:8 + n]))
    except (ValueError, RecursionError) as e:
        raise WireError(f"malformed message structure: {e}") from None

    def buffer(start, length):
        if not (type(start) is int and type(length) is int and 0 <= start and 0 <= length
                and start + length <= len(data)):
            raise WireError("array data out of bounds")
        return data[start:start + length]

    def array(spec):
        if not (isinstance(spec, list) and len(spec) == 4):
            raise WireError("malformed array")
        dtype, shape, start, length = spec
        if dtype not in DTYPES:
            raise WireError(f"dtype {dtype!r} not allowed on the wire")
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape) and len(shape) <= 32):
            raise WireError("malformed array shape")
        dt = np.dtype(dtype)
        if int(np.prod(shape, dtype=np.int64)) * dt.itemsize != length:
            raise WireError(f"array of shape {tuple(shape)} and dtype {dt} does not match its {length} bytes")
        return np.frombuffer(buffer(start, length), dtype=dt).reshape(shape).copy()

    nodes = [0]

    def walk(node, depth):
        if depth > MAX_DEPTH:
            raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
        nodes[0] += 1
        if bounded and nodes[0] > MAX_NODES:
            raise WireError(f"message with more than {MAX_NODES} elements")
        if deadline is not None and nodes[0] % 1024 == 0 and time.monotonic() > deadline:
            raise WireTimeout("decoding ran past the deadline")
        if bounded and isinstance(node, str) and len(node) > MAX_STRING:
            raise WireError(f"a string of {len(node)} characters (at most {MAX_STRING})")
        if node is None or isinstance(node, (bool, str)):
            return node
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        if not (isinstance(node, dict) and len(node) == 1):
            raise WireError(f"unexpected element {type(node).__name__} in message")
        (tag, payload), = node.items()
        try:
            if tag == "i":
                if type(payload) is not str or len(payload) > 400:
                    raise WireError("malformed or oversized int")
                return int(payload)
            if tag == "f":
                return float.fromhex(payload)
            if tag == "c":
                return complex(float.fromhex(payload[0]), float.fromhex(payload[1]))
            if tag == "t":
                return tuple(walk(v, depth + 1) for v in payload)
            if tag == "d":
                out = {}
                for k, v in payload:
                    if type(k) is not str:
                        raise WireError("a dict key that is not a string")
                    out[walk(k, depth + 1)] = walk(v, depth + 1)
                return out
            if tag == "a":
                return array(payload)
            if tag == "s":
                return array(payload)[()]
            if tag == "h":
                handle_id, type_name = payload
                if type(handle_id) is not int or type(type_name) is not str:
                    raise WireError("malformed handle")
                return make_handle(handle_id, type_name)
        except WireError:
            raise
        except (TypeError, ValueError, OverflowError, IndexError) as e:
            raise WireError(f"malformed {tag!r} element: {e}") from None
        raise WireError(f"unknown element tag {tag!r}")

    return walk(structure, 0)
