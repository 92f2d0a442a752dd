"""Exports a trained checkpoint to a model folder in timm's layout: model.safetensors (F32,
the state-dict keys unchanged), config.json (architecture, num_classes, model_args,
pretrained_cfg, label_names, plus project fields) and labels.txt (one class name per line).

  /usr/bin/python3 tools/train/export.py --checkpoint /var/tmp/vitd-train/NAME/best.pt \
      --out models/NAME            # architecture and args are read from the checkpoint
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tools/, for the reference engineer's tools/ref
import fmnist  # noqa: E402
from ref import safetensors_io  # noqa: E402


def write_folder(out_dir, state_dict, config):
    """Writes state_dict (tensors) and config (dict) as a model folder at out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    tensors = {k: v.detach().cpu().float().numpy() for k, v in state_dict.items()}
    safetensors_io.save_file(tensors, os.path.join(out_dir, "model.safetensors"),
                             {"format": "pt"}, float_dtype="F32")
    cfg = {"num_classes": len(fmnist.LABEL_NAMES), "pretrained_cfg": fmnist.pretrained_cfg(),
           "label_names": fmnist.LABEL_NAMES}
    cfg = {**config, **{k: v for k, v in cfg.items() if k not in config}}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "labels.txt"), "w") as f:
        f.write("\n".join(fmnist.LABEL_NAMES) + "\n")


def vit_config_from_state(ck, num_heads):
    """Config of a single-ViT checkpoint from its tensor shapes (heads cannot be inferred)."""
    import vit_model
    sd = ck["model"]
    w = sd["patch_embed.proj.weight"]
    stem = sd.get("patch_embed.stem.weight")  # [S, C, 3, 3]: the conv tokenizer, if any
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    args = dict(img_size=28, patch_size=w.shape[-1],
                in_chans=stem.shape[1] if stem is not None else w.shape[1], embed_dim=w.shape[0],
                depth=depth, num_heads=num_heads,
                mlp_ratio=sd["blocks.0.mlp.fc1.weight"].shape[0] / w.shape[0])
    tag = ""
    if stem is not None:
        args["stem_chans"] = stem.shape[0]
        tag = f"_stem{stem.shape[0]}"
    return {"architecture": f"vit_fmnist_d{w.shape[0]}{tag}_patch{w.shape[-1]}_28", "num_classes": 10,
            "model_args": args, "gflops": round(2 * vit_model.vit_macs(**args) / 1e9, 6),
            "training": {"val_acc": ck.get("val"), "note": "exported while still training"}}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--num-heads", type=int, default=4,
                   help="for a ViT checkpoint of a run still training (no config stored yet)")
    p.add_argument("--architecture", default="", help="override config.json's architecture")
    a = p.parse_args()
    ck = torch.load(a.checkpoint)
    cfg = dict(ck["config"]) if "config" in ck else vit_config_from_state(ck, a.num_heads)
    if a.architecture:
        cfg["architecture"] = a.architecture
    cfg.setdefault("training", {})["checkpoint_epoch"] = ck.get("epoch", -1) + 1
    write_folder(a.out, ck["model"], cfg)
    print(f"wrote {a.out} from {a.checkpoint} (epoch {ck.get('epoch', -1) + 1}, "
          f"val {ck.get('val', float('nan')):.4f})")


if __name__ == "__main__":
    main()
