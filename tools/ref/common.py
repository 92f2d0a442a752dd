"""Shared pieces of the reference models: discriminative random init, model-argument resolution
and the config.json layout every family writes (resolve_args, family_config), the timm
model-folder writer (model.safetensors + config.json, or one .safetensors with the config in
__metadata__), and the fixture writer (input.npy + logits.npy computed in float64 from the stored
weights). Layers shared by several families are in layers.py.

Why a custom init: timm's init (trunc_normal 0.02, zero biases, LayerNorm 1/0) makes random
models whose logits are almost constant across classes, so a wrong runtime could still pass.
Here every weight matrix gets N(0, clip(1/sqrt(fan_in), 0.02, 0.2)), biases N(0, 0.05), norm
weights 1 + 0.1 N(0,1), norm biases N(0, 0.05), embeddings/tokens N(0, 0.1): activations stay
O(1), attention is far from uniform and logits differ by O(1) between classes.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn

from . import safetensors_io

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def _normal(shape, std, gen):
    return torch.randn(shape, generator=gen, dtype=torch.float32) * std


def randomize(model, seed, special=None):
    """Fills every parameter and float buffer of model deterministically from seed.

    special: optional function (name, tensor, gen) -> new tensor, a float (the default rule's
    value times that factor), or None (the default rule), for family-specific tensors (layer
    scales, residual coefficients, bias tables, and the tiny tensors below).

    Epsilon sensitivity: families shrink the tensors feeding their first norm(s) (factor ~1e-3)
    so those norms see a variance close to their eps; a runtime with the wrong eps constant
    (1e-5 instead of 1e-6 or back) then misses the logits by far more than the 1e-4 tolerance.
    """
    gen = torch.Generator().manual_seed(seed)
    norm_types = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)
    norm_names = {n for n, m in model.named_modules() if isinstance(m, norm_types)}
    with torch.no_grad():
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            if not p.is_floating_point():
                continue
            new = special(name, p, gen) if special else None
            factor = 1.0
            if isinstance(new, float):
                factor, new = new, None
            owner, _, leaf = name.rpartition(".")
            if new is not None:
                pass
            elif owner in norm_names and leaf == "weight":
                new = 1.0 + _normal(p.shape, 0.1, gen)
            elif leaf == "running_mean":
                new = _normal(p.shape, 0.1, gen)
            elif leaf == "running_var":
                new = 0.5 + torch.rand(p.shape, generator=gen)
            elif leaf == "bias" or owner in norm_names:
                new = _normal(p.shape, 0.05, gen)
            elif leaf == "weight" and p.dim() >= 2:
                fan_in = p[0].numel()
                new = _normal(p.shape, min(0.2, max(0.02, 1.0 / math.sqrt(fan_in))), gen)
            else:  # cls/dist tokens, position embeddings, anything else
                new = _normal(p.shape, 0.1, gen)
            p.copy_(new.reshape(p.shape) * factor)


def gelu_probe_bias(p, gen):
    """fc1 bias of +-1.5 (+ noise): with fc1 weights halved, GELU inputs sit where exact-erf
    and tanh-approximated GELU differ most, so a tanh GELU misses the 1e-4 tolerance."""
    sign = torch.sign(torch.randn(p.shape, generator=gen))
    return 1.5 * sign + 0.3 * torch.randn(p.shape, generator=gen)


def calibrate_batchnorm(model, config, seed, n=4):
    """Sets every BatchNorm's running mean/var to the statistics of n random images (a
    train-mode forward with cumulative averaging), then returns the model to eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    x = torch.stack([torch.from_numpy(random_input(config, seed + 100 + i)) for i in range(n)])
    model.float().train()
    with torch.no_grad():
        model(x)
    model.eval()
    for m in bns:
        m.momentum = 0.1


def state_dict_for_file(model, float_dtype="F32", skip=()):
    """The model's state dict as numpy (floats rounded to what float_dtype stores), without
    anything named in skip. BatchNorm's num_batches_tracked stays, an I64 of shape [] (as in
    files converted from real checkpoints): a runtime must accept and ignore it."""
    out = {}
    for k, v in model.state_dict().items():
        if k in skip:
            continue
        v = v.detach().cpu()
        if v.is_floating_point():
            out[k] = safetensors_io.round_to(v.float().numpy(), float_dtype)
        else:
            out[k] = v.numpy().copy()
    return out


def load_rounded(model, tensors):
    """Loads the stored (rounded) values back, so the reference computes with exactly them."""
    with torch.no_grad():
        sd = model.state_dict()
        for k, v in tensors.items():
            sd[k].copy_(torch.from_numpy(np.asarray(v)).to(sd[k].dtype))


def resolve_args(defaults, arch, model_args=None):
    """A family's model arguments: its defaults, overridden by the architecture's own entry
    (arch, a dict), overridden by the explicit model_args."""
    args = dict(defaults)
    args.update(arch)
    args.update(model_args or {})
    return args


def pretrained_cfg(in_chans, img_size, num_classes, mean=None, std=None, crop_pct=0.9,
                   interpolation="bicubic", first_conv=None, classifier="head"):
    h, w = (img_size, img_size) if isinstance(img_size, int) else img_size
    cfg = {
        "input_size": [in_chans, h, w],
        "interpolation": interpolation,
        "mean": list(mean if mean is not None else IMAGENET_MEAN[:in_chans]),
        "std": list(std if std is not None else IMAGENET_STD[:in_chans]),
        "crop_pct": crop_pct,
        "crop_mode": "center",
        "num_classes": num_classes,
    }
    if first_conv:
        cfg["first_conv"] = first_conv
    if classifier:
        cfg["classifier"] = classifier
    return cfg


def make_config(architecture, num_classes, num_features, model_args, pcfg, global_pool=None,
                label_names=None, extra=None):
    cfg = {"architecture": architecture, "num_classes": num_classes,
           "num_features": num_features}
    if global_pool is not None:
        cfg["global_pool"] = global_pool
    cfg["model_args"] = dict(model_args)
    cfg["pretrained_cfg"] = pcfg
    if label_names:
        cfg["label_names"] = list(label_names)
    if extra:
        cfg.update(extra)
    return cfg


def family_config(architecture, num_classes, args, keys, num_features, first_conv, classifier,
                  global_pool="avg", label_names=None, mean=None, std=None, crop_pct=0.9):
    """The config.json dict every family writes: model_args = the resolved args named in keys
    (in that order), pretrained_cfg from args["in_chans"] and args["img_size"]. A family's
    config_for(architecture, num_classes, args, **kw) passes its keys, feature width, first
    conv and classifier names, and kw (label_names, mean, std, crop_pct) through."""
    margs = {k: args[k] for k in keys}
    pcfg = pretrained_cfg(args["in_chans"], args["img_size"], num_classes, mean, std, crop_pct,
                          first_conv=first_conv, classifier=classifier)
    return make_config(architecture, num_classes, num_features, margs, pcfg,
                       global_pool=global_pool, label_names=label_names)


def hub_style(config, tag, crop_pct=None, fixed_input_size=None):
    """The config as timm's push_to_hf_hub writes it for a stock architecture: no model_args
    (the architecture name alone defines the shapes), pretrained_cfg with tag/custom_load/...
    and no null fields. A runtime must know the architecture's defaults to open it."""
    out = {k: v for k, v in config.items() if k != "model_args"}
    pcfg = dict(config["pretrained_cfg"])
    if crop_pct is not None:
        pcfg["crop_pct"] = crop_pct
    ordered = {"tag": tag, "custom_load": False, "input_size": pcfg.pop("input_size")}
    if fixed_input_size is not None:
        ordered["fixed_input_size"] = fixed_input_size
    ordered.update(pcfg)
    ordered["license"] = "apache-2.0"
    out["pretrained_cfg"] = ordered
    return out


def write_model_folder(outdir, tensors, config, float_dtype="F32", single_file=False):
    """Writes outdir/model.safetensors + config.json. single_file=True: the config goes into
    __metadata__["config"] and there is no config.json; single_file="NAME.safetensors": the
    same, under that file name (a model opened by file path, not by folder).
    tensors are numpy arrays already rounded to float_dtype."""
    os.makedirs(outdir, exist_ok=True)
    text = json.dumps(config, indent=2) + "\n"
    meta = {"format": "pt"}
    if single_file:
        meta["config"] = text
    name = single_file if isinstance(single_file, str) else "model.safetensors"
    safetensors_io.save_file(tensors, os.path.join(outdir, name), meta, float_dtype=float_dtype)
    cfg_path = os.path.join(outdir, "config.json")
    if single_file:
        if os.path.exists(cfg_path):
            os.remove(cfg_path)
    else:
        with open(cfg_path, "w") as f:
            f.write(text)


def random_input(config, seed):
    """A normalised CHW float32 input: a smooth random image in [0,1] put through mean/std,
    like the runtime's preprocessing would produce from a real frame."""
    c, h, w = config["pretrained_cfg"]["input_size"]
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand((1, c, max(2, h // 8), max(2, w // 8)), generator=gen)
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear",
                                          align_corners=False)
    img = (img + 0.15 * torch.rand((1, c, h, w), generator=gen)).clamp(0, 1)[0]
    mean = torch.tensor(config["pretrained_cfg"]["mean"]).view(-1, 1, 1)
    std = torch.tensor(config["pretrained_cfg"]["std"]).view(-1, 1, 1)
    return ((img - mean) / std).float().numpy()


def count_gflops(model, input_size):
    """GFLOPs (2 per multiply-add) of one float32 forward, as torch's profiler counts them
    (convolutions, GEMMs, batched matmuls, elementwise add/mul)."""
    from torch.profiler import ProfilerActivity, profile
    model.float().eval()
    x = torch.zeros(1, *input_size)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        model(x)
    return sum(e.flops for e in prof.key_averages() if e.flops) / 1e9


def reference_logits(model, chw):
    """Logits in float64 (from the float32/F16-rounded weights), returned as float32."""
    m = model.double().eval()
    with torch.no_grad():
        out = m(torch.from_numpy(chw).double().unsqueeze(0))[0]
    model.float()
    return out.float().numpy()


def write_fixture(outdir, model, config, seed, float_dtype="F32", single_file=False,
                  skip=(), extra_tensors=None):
    """Model folder + input.npy + logits.npy; returns the logits."""
    tensors = state_dict_for_file(model, float_dtype, skip)
    load_rounded(model, {k: v for k, v in tensors.items() if k in model.state_dict()})
    if extra_tensors:
        tensors.update(extra_tensors)
    write_model_folder(outdir, tensors, config, float_dtype, single_file)
    x = random_input(config, seed + 1)
    logits = reference_logits(model, x)
    np.save(os.path.join(outdir, "input.npy"), x)
    np.save(os.path.join(outdir, "logits.npy"), logits)
    return logits
