"""TransCNN (the original H-MHSA network, yun-liu/HAT-Net TransCNN.py) reference, official keys.

Same H-MHSA and network skeleton as HAT-Net (hat_net.HMHSA, hat_net.HMHSANet: shared code)
but every norm is BatchNorm2d (eps 1e-5, running statistics; foldable into the preceding conv at
load) and there is no proj_norm.
Maths (inference), NCHW:
  stem (patch_embed): Conv3x3 s2 p1 (bias) in->16 -> BN -> SiLU -> Conv3x3 s2 p1 (bias) 16->C0
  stage s>0 starts with the two-branch downsampler (TDB) ds{s+1}:
    SiLU(norm1(conv(x)) + norm2(residual(MaxPool2x2 s2(x))))
    conv: Conv3x3 s2 p1 (bias) C->C'; residual: Conv1x1 (bias) C->C'
  block: x += attn(x); x += conv(x)   attn: H-MHSA with BN in place of every GroupNorm
  conv (IRB, conv-first, unlike HAT-Net): Conv1x1 (no bias) C->eC -> BN -> SiLU ->
    depthwise kxk p(k-1)/2 (no bias) -> BN -> SiLU -> Conv1x1 (no bias) eC->C -> BN
    kernel sizes per stage [5, 3, 5, 3]
  head: mean over H,W -> classifier.1 Linear
Keys: patch_embed.{0,1,3}, blocks.s.i.attn.{norm,qkv,proj[,grid_norm,q,kv,ds_norm]},
  blocks.s.i.conv.{conv1.0,conv1.1,conv2.0,conv2.1,conv3.0,conv3.1},
  ds{2,3,4}.{conv,residual,norm1,norm2}, classifier.1 (BN: weight, bias, running_mean,
  running_var).
model_args: dims, head_dim, expansions, grid_sizes, ds_ratios, depths, kernel_sizes, in_chans,
  img_size (256 for the published models).
"""
import torch.nn as nn
import torch.nn.functional as F

from . import common, hat_net
from .hat_net import HMHSANet

_COMMON = dict(head_dim=64, grid_sizes=[8, 8, 8, 1], ds_ratios=[8, 4, 2, 1])
ARCHS = {
    "transcnn_tiny": dict(dims=[64, 128, 256, 512], expansions=[4, 4, 4, 4],
                          depths=[2, 2, 4, 2], **_COMMON),
    "transcnn_small": dict(dims=[64, 128, 256, 512], expansions=[4, 4, 6, 6],
                           depths=[3, 4, 8, 3], **_COMMON),
    "transcnn_medium": dict(dims=[64, 128, 320, 640], expansions=[4, 4, 6, 6],
                            depths=[3, 4, 12, 3], **_COMMON),
    "transcnn_large": dict(dims=[64, 128, 384, 768], expansions=[4, 4, 6, 6],
                           depths=[3, 4, 16, 3], **_COMMON),
}
DEFAULTS = dict(kernel_sizes=[5, 3, 5, 3], in_chans=3, img_size=256, **ARCHS["transcnn_tiny"])


def _bn(c):
    return nn.BatchNorm2d(c)


class InvertedResidual(nn.Module):
    def __init__(self, dim, hidden, k):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(dim, hidden, 1, bias=False), _bn(hidden), nn.SiLU())
        self.conv2 = nn.Sequential(nn.Conv2d(hidden, hidden, k, 1, (k - 1) // 2, groups=hidden,
                                             bias=False), _bn(hidden), nn.SiLU())
        self.conv3 = nn.Sequential(nn.Conv2d(hidden, dim, 1, bias=False), _bn(dim))

    def forward(self, x):
        return self.conv3(self.conv2(self.conv1(x)))


class Downsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 2, 1)
        self.residual = nn.Conv2d(cin, cout, 1)
        self.norm1 = _bn(cout)
        self.norm2 = _bn(cout)

    def forward(self, x):
        return F.silu(self.norm1(self.conv(x)) + self.norm2(self.residual(F.max_pool2d(x, 2, 2))))


class TransCNN(HMHSANet):
    def __init__(self, num_classes, **args):
        super().__init__(num_classes, norm=_bn, irb=InvertedResidual, downsample=Downsample,
                         proj_norm=False, **args)


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return TransCNN(num_classes, **args), args


def special_init(name, p, gen):
    """A tiny first conv: after calibrate(), the stem's BatchNorm holds a running variance
    near its eps 1e-5, so a wrong eps shows."""
    if name.startswith("patch_embed.0."):
        return 3e-3
    return None


def calibrate(model, config, seed):
    """Random running statistics would let ~25 un-normalised residual blocks blow up, so the
    BatchNorm statistics are measured instead: one train-mode pass over 4 random images."""
    common.calibrate_batchnorm(model, config, seed)


config_for = hat_net.config_for  # the same model_args and config.json layout
