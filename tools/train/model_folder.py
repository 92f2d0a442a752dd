"""Loads an exported model folder (config.json + model.safetensors) back into the PyTorch
reference: `vit_*`/`deit_*` architectures as vit_model.VisionTransformer, `dvt_cascade` as
dvt.DVTCascade. Strict: every tensor must be present with the right shape, and no extras."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/

import dvt  # noqa: E402
import vit_model  # noqa: E402
from ref import safetensors_io  # noqa: E402
from ref import vit as ref_vit  # noqa: E402


def load(folder):
    """Returns (model in eval mode, config dict)."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    arch = cfg.get("architecture", "")
    if arch == "dvt_cascade":
        model = dvt.DVTCascade(cfg["model_args"]["exits"])
    elif arch.startswith(("vit_", "deit_")):
        a = cfg["model_args"]
        model = vit_model.VisionTransformer(a["img_size"], a["patch_size"], a["in_chans"],
                                            a["embed_dim"], a["depth"], a["num_heads"],
                                            a["mlp_ratio"], cfg["num_classes"],
                                            stem_chans=a.get("stem_chans", 0))
    else:
        raise ValueError(f"{folder}/config.json: unknown architecture {arch!r}")
    tensors, _ = safetensors_io.load_file(os.path.join(folder, "model.safetensors"))
    sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
    model.load_state_dict(sd, strict=True)
    return model.eval(), cfg


def load_reference_vit(folder):
    """The same folder through the reference engineer's tools/ref/vit.py (an independent
    timm-keyed ViT): a check that the exported keys and model_args mean what timm means."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model, _ = ref_vit.build(cfg["architecture"], cfg["num_classes"], cfg["model_args"])
    tensors, _ = safetensors_io.load_file(os.path.join(folder, "model.safetensors"))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return model.eval()
