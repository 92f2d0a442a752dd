#!/usr/bin/python3
"""Model files on disk are not trusted to stay put (vit-infer as a user runs it):

  - a model.safetensors truncated in place (`: > model.safetensors`) or overwritten in place
    with another model while `vit-infer --bench` runs changes nothing: exit 0, the same logits
    as an undisturbed run (a mapped file would die of SIGBUS, exit 135);
  - a FIFO named model.safetensors or config.json is refused at once, naming the file;
  - labels must be UTF-8 without NUL: labels.txt and config.json label_names that are not are
    refused with the file and line.

  test_model_files.py VIT_INFER MODELS_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

# Subprocess timeouts are multiplied by VITD_TIMEOUT_MULTIPLIER (tools/cross/test.sh sets it:
# under qemu-user the programs run many times slower).
SLOW = float(os.environ.get("VITD_TIMEOUT_MULTIPLIER", "1"))

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_runs(median_ms):
    """Runs for a bench that outlasts the disturbance: 20000 (a few seconds on the host), fewer
    where one run is slower (a loaded machine, or qemu-user in a cross build: tools/cross/)."""
    return int(min(20000, max(200, 4000 / max(median_ms, 1e-3))))


def bench_while(model, out, disturb, runs):
    """vit-infer --bench RUNS on MODEL; once it has computed for 0.3 s of CPU, DISTURB(model);
    returns (exit status, True when it was still running then, stderr)."""
    p = subprocess.Popen([VIT_INFER, model, "--bench", str(runs), "--logits", out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30 * SLOW
    while p.poll() is None and cpu_seconds(p.pid) < 0.3 and time.monotonic() < deadline:
        time.sleep(0.02)
    running = p.poll() is None
    disturb(model)
    try:
        _, err = p.communicate(timeout=600 * SLOW)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return p.returncode, running, err


def run(*args):
    return subprocess.run([VIT_INFER, *args], capture_output=True, text=True, timeout=60 * SLOW)


def truncation(tmp):
    src = os.path.join(MODELS, "fmnist-vit-p7")
    other = os.path.join(MODELS, "fmnist-deit-p2", "model.safetensors")
    model = os.path.join(tmp, "m")
    shutil.copytree(src, model)
    ref = os.path.join(tmp, "ref.npy")
    p = run(model, "--bench", "3", "--logits", ref)
    check(p.returncode == 0, "reference run")
    runs = bench_runs(float(p.stdout.rsplit("median_ms:", 1)[-1]) if p.returncode == 0 else 0)

    def truncate(m):
        open(os.path.join(m, "model.safetensors"), "w").close()

    def overwrite(m):  # cp onto the existing file: same inode, new bytes
        with open(other, "rb") as f, open(os.path.join(m, "model.safetensors"), "r+b") as g:
            g.truncate(0)
            g.write(f.read())

    for name, disturb in (("truncated", truncate), ("overwritten in place", overwrite)):
        shutil.copy(os.path.join(src, "model.safetensors"), os.path.join(model, "model.safetensors"))
        out = os.path.join(tmp, "out.npy")
        rc, running, err = bench_while(model, out, disturb, runs)
        check(running, f"{name}: vit-infer was still benchmarking when the file changed")
        check(rc == 0, f"{name} mid-bench: exit 0 (got {rc}: {err.strip()[:200]})")
        same = rc == 0 and np.array_equal(np.load(out), np.load(ref))
        check(same, f"{name} mid-bench: the same logits as an undisturbed run")
    p = run(model, "--bench", "1")
    check(p.returncode == 1 and "patch_size" in p.stderr,
          f"the next open sees the new file (deit weights under a vit config): {p.stderr.strip()}")


def fifos(tmp):
    for name in ("model.safetensors", "config.json"):
        model = os.path.join(tmp, "fifo-" + name)
        shutil.copytree(os.path.join(MODELS, "fmnist-vit-p7"), model)
        os.unlink(os.path.join(model, name))
        os.mkfifo(os.path.join(model, name))
        t0 = time.monotonic()
        p = run(model, "--bench", "1")
        check(p.returncode == 1 and name in p.stderr and "not a regular file" in p.stderr
              and time.monotonic() - t0 < 10,
              f"a FIFO named {name}: refused at once ({p.stderr.strip()[:160]})")


def labels(tmp):
    import json
    src = os.path.join(MODELS, "fmnist-vit-p7")
    with open(os.path.join(src, "labels.txt"), "rb") as f:
        lines = f.read().splitlines()
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    names = cfg.pop("label_names")  # so that labels.txt is what names the classes
    cases = (("labels.txt", 3, b"caf\xe9", "is not valid UTF-8"),        # Latin-1, not UTF-8
             ("labels.txt", 2, b"\xed\xa0\x80x", "is not valid UTF-8"),  # a surrogate
             ("labels.txt", 5, b"ba\x00g", "contains a NUL byte"))
    for name, line, bad, problem in cases:
        model = os.path.join(tmp, f"labels-{line}")
        shutil.copytree(src, model)
        edited = list(lines)
        edited[line - 1] = bad
        with open(os.path.join(model, name), "wb") as f:
            f.write(b"\n".join(edited) + b"\n")
        with open(os.path.join(model, "config.json"), "w") as f:
            json.dump(cfg, f)
        p = run(model, "--bench", "1")
        want = f"labels.txt:{line}: label {problem}"
        check(p.returncode == 1 and want in p.stderr,
              f"labels.txt line {line} {problem}: refused ({p.stderr.strip()[:160]})")
    # config.json label_names: jansson refuses both, at the line and column
    for bad, what in ((b'"caf\xe9"', "invalid UTF-8"), (b'"ba\\u0000g"', "NUL")):
        model = os.path.join(tmp, "names-" + what.replace(" ", "-"))
        shutil.copytree(src, model)
        os.unlink(os.path.join(model, "labels.txt"))
        cfg["label_names"] = [f"L{i}" for i in range(len(names))]
        text = json.dumps(cfg, indent=1).encode().replace(b'"L4"', bad)
        with open(os.path.join(model, "config.json"), "wb") as f:
            f.write(text)
        line = text[:text.index(bad)].count(b"\n") + 1
        p = run(model, "--bench", "1")
        check(p.returncode == 1 and f"config.json:{line}:" in p.stderr,
              f"config.json label_names with {what}: refused at line {line} "
              f"({p.stderr.strip()[:160]})")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        truncation(tmp)
        fifos(tmp)
        labels(tmp)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    VIT_INFER, MODELS = sys.argv[1], sys.argv[2]
    sys.exit(main())
