"""Reference preprocessing: what timm's eval transform makes of an image, two ways.

timm_eval(): timm's create_transform(is_training=False) on a PIL image, i.e. torchvision
  Resize(floor(size / crop_pct), shortest edge, long edge int(short * long / short)) with PIL's
  resampling (bicubic: a = -0.5, support widened by the scale factor when shrinking, i.e.
  antialiased, result rounded to uint8), CenterCrop(size) (offsets int(round((in - out) / 2))),
  ToTensor (/255), Normalize(mean, std). This is what the published accuracies assume.
torch_interp(): the same geometry with torch.nn.functional.interpolate on the float image
  (bicubic: a = -0.75, align_corners=False, no antialias, no rounding): the convention of
  resizing tensors, which a C runtime can follow exactly.
Both return float32 [C, H, W]. Grey images (in_chans 1) use PIL mode "L".
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

_PIL_FILTERS = {"bicubic": 3, "bilinear": 2, "nearest": 0}  # PIL.Image.BICUBIC, ...


def _geometry(w, h, pcfg):
    c, oh, ow = pcfg["input_size"]
    crop_pct = pcfg.get("crop_pct", 0.875)
    sh, sw = math.floor(oh / crop_pct), math.floor(ow / crop_pct)
    if sh == sw:  # torchvision Resize(int): shortest edge to sh
        if w <= h:
            rw, rh = sh, int(sh * h / w)
        else:
            rw, rh = int(sh * w / h), sh
    else:
        rw, rh = sw, sh
    top, left = int(round((rh - oh) / 2.0)), int(round((rw - ow) / 2.0))
    return rw, rh, left, top, ow, oh


def _normalise(chw, pcfg):
    mean = np.asarray(pcfg["mean"], dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(pcfg["std"], dtype=np.float32).reshape(-1, 1, 1)
    return ((chw - mean) / std).astype(np.float32)


def _open(img, in_chans):
    from PIL import Image
    if not isinstance(img, Image.Image):
        img = Image.open(img)
    return img.convert("L" if in_chans == 1 else "RGB")


def timm_eval(img, pcfg):
    """img: a path or PIL image; pcfg: config.json's pretrained_cfg."""
    img = _open(img, pcfg["input_size"][0])
    rw, rh, left, top, ow, oh = _geometry(img.width, img.height, pcfg)
    img = img.resize((rw, rh), _PIL_FILTERS[pcfg.get("interpolation", "bicubic")])
    img = img.crop((left, top, left + ow, top + oh))
    a = np.asarray(img, dtype=np.float32) / 255.0
    chw = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return _normalise(chw, pcfg)


def torch_interp(img, pcfg):
    img = _open(img, pcfg["input_size"][0])
    rw, rh, left, top, ow, oh = _geometry(img.width, img.height, pcfg)
    a = np.asarray(img, dtype=np.float64)
    x = torch.from_numpy(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))[None]
    mode = pcfg.get("interpolation", "bicubic")
    y = F.interpolate(x, size=(rh, rw), mode=mode,
                      align_corners=False if mode != "nearest" else None)
    y = y[0, :, top:top + oh, left:left + ow].numpy() / 255.0
    return _normalise(y.astype(np.float32), pcfg)
