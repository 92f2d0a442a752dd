"""safetensors reader/writer with numpy only (no safetensors package on Debian 12).

File layout (https://github.com/huggingface/safetensors, format section):
  8 bytes   little-endian u64 N, the header length
  N bytes   UTF-8 JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
            "__metadata__": {str: str}} padded with spaces so the data starts 8-byte aligned
  rest      the byte buffer; data_offsets are relative to its start, tensors are contiguous,
            row-major, little-endian, and together cover the buffer exactly with no holes.

Tensors are laid out by descending element size, then name, so every tensor is aligned to its
own element size. BF16 has no numpy dtype: it is written from float32 with round-to-nearest-even
and read back as float32 (or as raw uint16 bits with raw_bf16=True).
"""
import json
import struct

import numpy as np

_NP_OF = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_SIZE_OF = {"BF16": 2, **{k: v.itemsize for k, v in _NP_OF.items()}}


def _dtype_name(arr):
    for name, dt in _NP_OF.items():
        if arr.dtype == dt or arr.dtype == dt.newbyteorder("="):
            return name
    raise ValueError(f"unsupported numpy dtype {arr.dtype}")


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bfloat16 bits, round to nearest even (NaN kept quiet)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounding = ((u >> 16) & 1) + np.uint32(0x7FFF)
    bits = ((u + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(a)
    bits[nan] = 0x7FC0
    return bits


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def round_to(a, dtype):
    """The float32 values a tensor holds after being stored as dtype ('F32', 'F16', 'BF16')."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.copy()
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        return bf16_bits_to_f32(f32_to_bf16_bits(a)).reshape(a.shape)
    raise ValueError(f"unsupported float dtype {dtype}")


def _to_numpy(t):
    if hasattr(t, "detach"):  # torch tensor, without importing torch here
        t = t.detach().cpu().contiguous()
        if str(t.dtype) == "torch.bfloat16":
            return t.view(dtype=__import__("torch").int16).numpy().view(np.uint16), "BF16"
        t = t.numpy()
    return np.asarray(t, order="C"), None  # (ascontiguousarray would make 0-d arrays 1-d)


def save_file(tensors, path, metadata=None, float_dtype=None):
    """Writes tensors {name: ndarray | torch.Tensor} to path.

    float_dtype: None keeps each array's dtype; "F32"/"F16"/"BF16" converts every floating
    tensor to it (integer tensors are kept). metadata: {str: str} stored as __metadata__.
    """
    entries = []
    for name, t in tensors.items():
        arr, forced = _to_numpy(t)
        if forced:
            dt, raw = forced, arr
        elif arr.dtype.kind == "f" and float_dtype:
            dt = float_dtype
            raw = f32_to_bf16_bits(arr) if dt == "BF16" else arr.astype(_NP_OF[dt])
        else:
            dt, raw = _dtype_name(arr), arr
        raw = np.ascontiguousarray(raw)
        if raw.dtype.byteorder == ">":
            raw = raw.byteswap().view(raw.dtype.newbyteorder("<"))
        entries.append((name, dt, list(arr.shape), raw.tobytes()))
    entries.sort(key=lambda e: (-_SIZE_OF[e[1]], e[0]))

    header, offset = {}, 0
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("__metadata__ must map str to str")
        header["__metadata__"] = dict(metadata)
    for name, dt, shape, data in entries:
        header[name] = {"dtype": dt, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, _, data in entries:
            f.write(data)


def load_file(path, raw_bf16=False):
    """Returns (tensors {name: ndarray}, metadata {str: str}). Checks offsets like a strict
    reader: in bounds, contiguous, sized by shape x dtype."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header length {n} past end of file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    out, spans = {}, []
    for name, info in header.items():
        dt, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not 0 <= b <= e <= len(data) or e - b != count * _SIZE_OF[dt]:
            raise ValueError(f"{path}: tensor {name} has bad data_offsets [{b},{e}]")
        spans.append((b, e))
        if dt == "BF16":
            bits = np.frombuffer(data[b:e], dtype="<u2").reshape(shape)
            out[name] = bits.copy() if raw_bf16 else bf16_bits_to_f32(bits).reshape(shape)
        else:
            out[name] = np.frombuffer(data[b:e], dtype=_NP_OF[dt]).reshape(shape).copy()
    pos = 0
    for b, e in sorted(spans):
        if b != pos:
            raise ValueError(f"{path}: data buffer has a hole or overlap at byte {b}")
        pos = e
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing bytes after the last tensor")
    return out, metadata
