"""Writes the 10,000 Fashion-MNIST test images as a raw GRAY8 28x28 video (frame i = test image
i, 784 bytes per frame, no header, rows packed: GStreamer's GRAY8 stride for width 28 is 28)
plus the ground-truth labels in frame order, for the demo and the end-to-end test.

  /usr/bin/python3 tools/train/fmnist_video.py --out DIR [--count N]
  gst-launch-1.0 filesrc location=DIR/fmnist-test.gray8 ! rawvideoparse format=gray8 \
      width=28 height=28 framerate=30/1 ! vitclassify model=models/fmnist-vit-tiny ! fakesink

Files: fmnist-test.gray8 (frames), fmnist-test.labels (one class index 0-9 per line, frame
order), fmnist-test.json (frame count, caps, label names).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--count", type=int, default=10000, help="first N test images only")
    a = p.parse_args()
    x, y = fmnist.load_split("test")
    x, y = x[:a.count].numpy(), y[:a.count].tolist()
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "fmnist-test.gray8"), "wb") as f:
        f.write(x.astype("uint8").tobytes())
    with open(os.path.join(a.out, "fmnist-test.labels"), "w") as f:
        f.write("".join(f"{v}\n" for v in y))
    meta = {"frames": len(y), "width": 28, "height": 28, "format": "GRAY8",
            "bytes_per_frame": 784,
            "caps": "video/x-raw,format=GRAY8,width=28,height=28,framerate=30/1",
            "label_names": fmnist.LABEL_NAMES}
    with open(os.path.join(a.out, "fmnist-test.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"wrote {len(y)} frames to {a.out}/fmnist-test.gray8")


if __name__ == "__main__":
    main()
