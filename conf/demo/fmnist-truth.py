"""Reads `vitctl monitor --json` lines on stdin and shows each Fashion-MNIST frame's answer next
to its true label, then a tally per pipeline (the demo's run.sh uses it).

  vitctl monitor --json | python3 fmnist-truth.py VIDEO_DIR

VIDEO_DIR holds fmnist-test.labels (one class index per line, frame order) and fmnist-test.json
(label names), written by tools/train/fmnist_video.py. Frame N of a `fashion-mnist*` pipeline
is test image N; signals of other pipelines are ignored.
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fmnist-truth.py VIDEO_DIR < vitctl-monitor-json")
    folder = sys.argv[1]
    with open(os.path.join(folder, "fmnist-test.labels")) as f:
        truth = [int(line) for line in f]
    with open(os.path.join(folder, "fmnist-test.json")) as f:
        names = json.load(f)["label_names"]

    tally = {}  # pipeline -> [frames, correct, {exit: count}]
    for line in sys.stdin:
        ev = json.loads(line)
        if not ev["pipeline"].startswith("fashion-mnist") or not ev["labels"]:
            continue
        true = names[truth[ev["frame"] % len(truth)]]
        top = ev["labels"][0]
        ok = top["label"] == true
        t = tally.setdefault(ev["pipeline"], [0, 0, {}])
        t[0] += 1
        t[1] += ok
        t[2][ev["exit"]] = t[2].get(ev["exit"], 0) + 1
        print("%-17s frame %5d  %-11s %5.3f  exit %d  true %-11s %s" %
              (ev["pipeline"], ev["frame"], top["label"], top["score"], ev["exit"], true,
               "ok" if ok else "WRONG"), flush=True)

    for name, (frames, correct, exits) in sorted(tally.items()):
        hist = ", ".join("exit %d: %d" % kv for kv in sorted(exits.items()))
        print("%s: %d of %d frames right (%.0f%%); %s" %
              (name, correct, frames, 100.0 * correct / frames, hist))
    if not tally:
        print("no Fashion-MNIST frames seen")


if __name__ == "__main__":
    main()
