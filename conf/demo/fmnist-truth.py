"""Reads `vitctl monitor --json` lines on stdin and shows, per Fashion-MNIST frame, the true label
and each named pipeline's answer side by side, then a tally per pipeline over those frames (the
demo's run.sh uses it).

  vitctl monitor --json | python3 fmnist-truth.py VIDEO_DIR PIPELINE...

VIDEO_DIR holds fmnist-test.labels (one class index per line, frame order) and fmnist-test.json
(label names), written by tools/train/fmnist_video.py. Frame N of each PIPELINE is test image N
(modulo the video's length: the demo loops it). A row is printed once every PIPELINE has
answered that frame, so all tallies count the same images; signals of other pipelines and
frames not every pipeline answered are left out.
"""
import json
import os
import sys


def cell(answer, true):
    label, score, exit_ = answer
    return "%-11s %4.2f @%d %-5s" % (label, score, exit_, "ok" if label == true else "WRONG")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: fmnist-truth.py VIDEO_DIR PIPELINE... < vitctl-monitor-json")
    folder, pipelines = sys.argv[1], sys.argv[2:]
    with open(os.path.join(folder, "fmnist-test.labels")) as f:
        truth = [int(line) for line in f]
    with open(os.path.join(folder, "fmnist-test.json")) as f:
        names = json.load(f)["label_names"]

    print(("%5s  %-11s" % ("frame", "true label") +
           "".join("  %-25s" % p for p in pipelines)).rstrip())
    pending = {}  # frame -> {pipeline: (label, score, exit)}
    right = {p: 0 for p in pipelines}
    exits = {p: {} for p in pipelines}
    rows = 0
    for line in sys.stdin:
        ev = json.loads(line)
        if ev["pipeline"] not in pipelines or not ev["labels"]:
            continue
        top = ev["labels"][0]
        answers = pending.setdefault(ev["frame"], {})
        answers[ev["pipeline"]] = (top["label"], top["score"], ev["exit"])
        if len(answers) < len(pipelines):
            continue
        del pending[ev["frame"]]
        true = names[truth[ev["frame"] % len(truth)]]
        print(("%5d  %-11s" % (ev["frame"], true) +
               "".join("  " + cell(answers[p], true) for p in pipelines)).rstrip(), flush=True)
        rows += 1
        for p in pipelines:
            right[p] += answers[p][0] == true
            exits[p][answers[p][2]] = exits[p].get(answers[p][2], 0) + 1

    if not rows:
        print("no Fashion-MNIST frames seen")
    for p in pipelines:
        if rows:
            hist = ", ".join("@%d: %d" % kv for kv in sorted(exits[p].items()))
            print("%s: %d of %d frames right (%.0f%%); exits %s" %
                  (p, right[p], rows, 100.0 * right[p] / rows, hist))


if __name__ == "__main__":
    main()
