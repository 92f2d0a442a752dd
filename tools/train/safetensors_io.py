"""A minimal safetensors writer and reader (numpy, F32 only) for the training tools.

Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
optional "__metadata__" of string values, padded with spaces to a multiple of 8, then the raw
little-endian tensor bytes in header order (offsets relative to the end of the header).
"""
import json
import struct

import numpy as np


def save(path, tensors, metadata=None):
    """Writes {name: array} to PATH as F32, tensors sorted by name, contiguous, 8-aligned."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        blob = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load(path):
    """Reads an F32 safetensors file into {name: float32 array}; raises ValueError if malformed."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} past end of file")
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']} not supported")
        start, end = info["data_offsets"]
        if base + end > len(data) or end - start != 4 * int(np.prod(info["shape"])):
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {start}..{end}")
        out[name] = np.frombuffer(data, "<f4", (end - start) // 4, base + start) \
            .reshape(info["shape"]).copy()
    return out
