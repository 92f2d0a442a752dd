"""Helpers of the libvit error tests (test_family_errors.py, test_stem_errors.py): copy a
fixture model folder with its tensors or config edited, and run vit-infer on a folder."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from ref import safetensors_io  # noqa: E402

# Subprocess timeouts are multiplied by VITD_TIMEOUT_MULTIPLIER (tools/cross/test.sh sets it:
# under qemu-user the programs run many times slower).
SLOW = float(os.environ.get("VITD_TIMEOUT_MULTIPLIER", "1"))


def run_model(vit_infer, folder):
    """Runs vit-infer on folder/input.npy; returns (exit code, stderr stripped, logits path)."""
    out = os.path.join(folder, "out.npy")
    p = subprocess.run([vit_infer, folder, os.path.join(folder, "input.npy"), "--logits", out],
                       capture_output=True, text=True, timeout=60 * SLOW)
    return p.returncode, p.stderr.strip(), out


def edited_copy(src, tmp, name, edit_tensors=None, edit_config=None):
    """Copies model folder src to tmp/name; edit_tensors(dict of arrays) and edit_config(dict)
    change the copy's model.safetensors and config.json in place. Returns the copy's path."""
    dst = os.path.join(tmp, name)
    shutil.copytree(src, dst)
    if edit_tensors:
        path = os.path.join(dst, "model.safetensors")
        tensors, meta = safetensors_io.load_file(path)
        edit_tensors(tensors)
        safetensors_io.save_file(tensors, path, metadata=meta or None)
    if edit_config:
        path = os.path.join(dst, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        edit_config(cfg)
        with open(path, "w") as f:
            json.dump(cfg, f)
    return dst
