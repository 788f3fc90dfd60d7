"""A small, deterministic, pickle-free file format for named numpy arrays (lzma-compressed).

Layout before compression: ``MAGIC``, a 4-byte big-endian header length, a JSON header
(``{"meta": {...}, "arrays": [{"name", "dtype", "shape", "offset", "nbytes"}]}``), then the
raw array bytes. Unlike ``.npz`` (a zip file with timestamps) the same arrays always give the
same bytes, so rebuilding the data gives a clean ``git diff``.
"""

from __future__ import annotations

import json
import lzma
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

MAGIC = b"GEOLOC-ARRAYS-1\n"
_ALLOWED_DTYPES = frozenset({"|u1", "<u2", "<i4", "<i8", "<f8"})


class ContainerError(ValueError):
    """The file is not a valid array container."""


def pack(arrays: Mapping[str, npt.NDArray[Any]], meta: Mapping[str, Any] | None = None) -> bytes:
    """Serialise arrays (little-endian, C order) and metadata into compressed bytes."""
    entries = []
    blobs = []
    offset = 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        dtype = array.dtype.str
        if dtype not in _ALLOWED_DTYPES:
            raise ContainerError(f"unsupported dtype {dtype} for {name}")
        blob = array.tobytes()
        entries.append(
            {
                "name": name,
                "dtype": dtype,
                "shape": list(array.shape),
                "offset": offset,
                "nbytes": len(blob),
            }
        )
        blobs.append(blob)
        offset += len(blob)
    header = json.dumps(
        {"meta": dict(meta or {}), "arrays": entries}, sort_keys=True, separators=(",", ":")
    ).encode()
    raw = MAGIC + len(header).to_bytes(4, "big") + header + b"".join(blobs)
    return lzma.compress(raw, format=lzma.FORMAT_XZ, preset=9)


def unpack(data: bytes) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    """Arrays (read-only views) and metadata from :func:`pack` output."""
    try:
        raw = lzma.decompress(data, format=lzma.FORMAT_XZ)
    except lzma.LZMAError as exc:
        raise ContainerError("not an xz stream") from exc
    if not raw.startswith(MAGIC):
        raise ContainerError("bad magic")
    start = len(MAGIC) + 4
    header_len = int.from_bytes(raw[len(MAGIC) : start], "big")
    try:
        header = json.loads(raw[start : start + header_len])
    except ValueError as exc:
        raise ContainerError("bad header") from exc
    body = memoryview(raw)[start + header_len :]
    arrays: dict[str, npt.NDArray[Any]] = {}
    for entry in header["arrays"]:
        if entry["dtype"] not in _ALLOWED_DTYPES:
            raise ContainerError(f"unsupported dtype {entry['dtype']}")
        chunk = body[entry["offset"] : entry["offset"] + entry["nbytes"]]
        if len(chunk) != entry["nbytes"]:
            raise ContainerError(f"truncated array {entry['name']}")
        arrays[entry["name"]] = np.frombuffer(chunk, dtype=np.dtype(entry["dtype"])).reshape(
            entry["shape"]
        )
    meta: dict[str, Any] = header["meta"]
    return arrays, meta
