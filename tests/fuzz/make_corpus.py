#!/usr/bin/python3
"""make_corpus.py — writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/).

Run from anywhere: /usr/bin/python3 tests/fuzz/make_corpus.py. Standard library only: the tiny
ViT (dim 8, 2 heads, depth 1, 8x8 grey input in 4x4 patches, 3 classes) is written by hand in
the safetensors layout (u64 header length, JSON header, raw little-endian data). The shipped
models contribute their config.json, labels.txt and the header of their model.safetensors (the
weights cut off, so the seeds stay small); tests/pipeline/data/example its YAML files.
"""
import json
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"

D, HID, P, IMG, CH, NCLS = 8, 16, 4, 8, 1, 3
TOKENS = (IMG // P) ** 2 + 1

TINY_CONFIG = {
    "architecture": "vit_fuzz_patch4_8",
    "num_classes": NCLS,
    "model_args": {"num_heads": 2, "img_size": IMG, "in_chans": CH},
    "pretrained_cfg": {"input_size": [CH, IMG, IMG], "mean": [0.5], "std": [0.5],
                       "crop_pct": 1.0, "interpolation": "bilinear"},
    "label_names": ["cat", "dog", "fox"],
}


def tiny_tensors():
    shapes = [("cls_token", [1, 1, D]), ("pos_embed", [1, TOKENS, D]),
              ("patch_embed.proj.weight", [D, CH, P, P]), ("patch_embed.proj.bias", [D])]
    for key, shape in [("norm1.weight", [D]), ("norm1.bias", [D]),
                       ("attn.qkv.weight", [3 * D, D]), ("attn.qkv.bias", [3 * D]),
                       ("attn.proj.weight", [D, D]), ("attn.proj.bias", [D]),
                       ("norm2.weight", [D]), ("norm2.bias", [D]),
                       ("mlp.fc1.weight", [HID, D]), ("mlp.fc1.bias", [HID]),
                       ("mlp.fc2.weight", [D, HID]), ("mlp.fc2.bias", [D])]:
        shapes.append(("blocks.0." + key, shape))
    shapes += [("norm.weight", [D]), ("norm.bias", [D]),
               ("head.weight", [NCLS, D]), ("head.bias", [NCLS])]
    return shapes


def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for i, (name, shape) in enumerate(tensors):
        n = 1
        for s in shape:
            n *= s
        values = [((i * 31 + k * 7) % 13 - 6) / 20.0 + (1.0 if "norm" in name and
                  name.endswith("weight") else 0.0) for k in range(n)]
        blob = struct.pack("<%df" % n, *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def header_only(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return data[:8 + length]


def reset(name):
    folder = CORPUS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def main():
    models = sorted(p for p in (ROOT / "models").iterdir() if (p / "config.json").exists())
    config_text = json.dumps(TINY_CONFIG, indent=1) + "\n"

    out = reset("safetensors")
    (out / "tiny.safetensors").write_bytes(safetensors(tiny_tensors()))
    (out / "tiny-metadata.safetensors").write_bytes(
        safetensors(tiny_tensors(), {"config": json.dumps(TINY_CONFIG)}))
    for m in models:
        (out / (m.name + "-header.safetensors")).write_bytes(header_only(m / "model.safetensors"))

    # The model-config target pairs every input with tiny.safetensors (read at run time).
    out = reset("model-config")
    (out / "tiny.json").write_text(config_text)
    for m in models:
        shutil.copy(m / "config.json", out / (m.name + ".json"))

    out = reset("labels")
    for m in models:
        if (m / "labels.txt").exists():
            shutil.copy(m / "labels.txt", out / (m.name + ".txt"))
    (out / "dos-and-blank.txt").write_bytes(b"a\r\n\r\nb \t\r\nc\n\n\n")
    (out / "no-newline.txt").write_bytes(b"only")

    out = reset("pipelines-file")
    for y in sorted((ROOT / "tests/pipeline/data").rglob("*.yaml")):
        shutil.copy(y, out / ("-".join(y.relative_to(ROOT / "tests/pipeline/data").parts)))

    # launch-text input: the launch text, optionally a NUL byte and the resolved model path.
    out = reset("launch-text")
    seeds = [
        b"videotestsrc ! videoconvert ! vitclassify model=models/fmnist-vit ! fakesink\0/m/x",
        b"filesrc location=a.mp4 ! decodebin ! vitclassify name=foo model=\"rel dir/m\" ! fakesink",
        b"v4l2src ! video/x-raw,width=640 ! vitclassify name = vit model='q\\'x' top-k=3 ! "
        b"fakesink\0/abs/\"q\\",
        b"( videotestsrc ! tee name=t t. ! queue ! vitclassify model=/abs ) t. ! fakesink",
        b"uridecodebin uri=rtsp://h/x?a=b!c ! vitclassify ! vitclassify name=two ! fakesink\0/m",
    ]
    for i, s in enumerate(seeds):
        (out / ("seed-%d.txt" % i)).write_bytes(s)


if __name__ == "__main__":
    main()
