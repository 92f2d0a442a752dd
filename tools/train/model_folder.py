"""Loads an exported model folder (config.json + model.safetensors) back into the PyTorch
reference: `vit_*`/`deit_*` architectures as vit_model.VisionTransformer, `dvt_cascade` as
dvt.DVTCascade. Strict: every tensor must be present with the right shape, and no extras."""
import json
import os

import torch

import dvt
import safetensors_io
import vit_model


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
                                            a["mlp_ratio"], cfg["num_classes"])
    else:
        raise ValueError(f"{folder}/config.json: unknown architecture {arch!r}")
    tensors = safetensors_io.load(os.path.join(folder, "model.safetensors"))
    sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
    model.load_state_dict(sd, strict=True)
    return model.eval(), cfg
