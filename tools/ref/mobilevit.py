"""MobileViT (v1) reference with timm's mobilevit.py / byobnet.py keys and maths.

Maths (inference), NCHW; every BatchNorm eps 1e-5, every LayerNorm eps 1e-5; act = SiLU.
  ConvNormAct "<p>": <p>.conv (no bias, padding k // 2) -> <p>.bn BatchNorm2d -> act (or none).
  stem: ConvNormAct 3x3 s2, in_chans -> stem_chs.
  stages.i.j: a bottle block (MobileNetV2 inverted residual), or a MobileViT block (the last of
  stages with a transformer_dims entry > 0):
    bottle (cin -> cout, stride s on the first block of a stage, 1 after it):
        mid = make_divisible(cin * expansion) (multiple of 8, as timm)
        conv1_1x1 ConvNormAct 1x1 cin -> mid, act; conv2_kxk ConvNormAct 3x3 depthwise
        (groups mid) stride s, act; conv3_1x1 ConvNormAct 1x1 mid -> cout, no act;
        + x when cin == cout and s == 1 (no shortcut otherwise: timm's downsample ''); no act
        after the sum
    mobilevit (C -> C, transformer width D, patch p = 2, heads 4):
        y = conv_kxk (ConvNormAct 3x3, act) -> conv_1x1 (1x1 conv C -> D, no bias, no norm)
        unfold: if H or W is not a multiple of p, bilinear resize (align_corners=False) to the
          next multiples; tokens of the same offset (a, b) inside the p x p patches form one
          sequence of N = (H/p)(W/p) tokens, row-major over patches: [B*p*p, N, D]
        transformer.k: timm's ViT Block: x += attn.proj(Attn(norm1(x)));
          x += mlp.fc2(SiLU(mlp.fc1(norm2(x)))), fused qkv (bias), 4 heads, scale d^-0.5,
          fc1 width 2D; then norm (LayerNorm)
        fold back to the map (and resize back to H x W when resized)
        conv_proj ConvNormAct 1x1 D -> C, act
        conv_fusion ConvNormAct 3x3 on concat(block input, conv_proj output) 2C -> C, act
  final_conv ConvNormAct 1x1 -> num_features, act; mean over H, W; head.fc Linear.
Keys: stem.{conv,bn}, stages.i.j.{conv1_1x1,conv2_kxk,conv3_1x1}.{conv,bn},
  stages.i.j.{conv_kxk.{conv,bn}, conv_1x1, transformer.k.{norm1, attn.qkv, attn.proj, norm2,
  mlp.fc1, mlp.fc2}, norm, conv_proj.{conv,bn}, conv_fusion.{conv,bn}}, final_conv.{conv,bn},
  head.fc. BatchNorms keep num_batches_tracked.
model_args: stem_chs, channels, depths (blocks stored per stage: bottles + the MobileViT
  block), strides, expansion, transformer_dims, transformer_depths, num_features, patch_size,
  num_heads, in_chans, img_size.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common
from .layers import Mlp


def _v1(stem, chs, br, tdims, tdepths, nf):
    return dict(stem_chs=stem, channels=chs, depths=[1, 3, 2, 2, 2], strides=[1, 2, 2, 2, 2],
                expansion=br, transformer_dims=[0, 0] + tdims, transformer_depths=[0, 0] + tdepths,
                num_features=nf)


ARCHS = {
    "mobilevit_xxs": _v1(16, [16, 24, 48, 64, 80], 2.0, [64, 80, 96], [2, 4, 3], 320),
    "mobilevit_xs": _v1(16, [32, 48, 64, 80, 96], 4.0, [96, 120, 144], [2, 4, 3], 384),
    "mobilevit_s": _v1(16, [32, 64, 96, 128, 160], 4.0, [144, 192, 240], [2, 4, 3], 640),
}
DEFAULTS = dict(ARCHS["mobilevit_xxs"], patch_size=2, num_heads=4, in_chans=3, img_size=256)
CONFIG_KEYS = ("stem_chs", "channels", "depths", "strides", "expansion", "transformer_dims",
               "transformer_depths", "num_features", "patch_size", "num_heads", "in_chans",
               "img_size")
EPS = 1e-5


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvNormAct(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=EPS)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.silu(x) if self.act else x


class Bottle(nn.Module):
    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        mid = make_divisible(cin * expansion)
        self.conv1_1x1 = ConvNormAct(cin, mid, 1)
        self.conv2_kxk = ConvNormAct(mid, mid, 3, stride, groups=mid)
        self.conv3_1x1 = ConvNormAct(mid, cout, 1, act=False)
        self.residual = cin == cout and stride == 1

    def forward(self, x):
        y = self.conv3_1x1(self.conv2_kxk(self.conv1_1x1(x)))
        return x + y if self.residual else y


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        d = C // self.heads
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) * d ** -0.5).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, N, C))



class TransformerBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = Mlp(dim, 2 * dim, act=F.silu)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def unfold(x, p):
    """[B, C, H, W] (H, W multiples of p) -> [B * p * p, N, C]: one sequence per offset in the
    patch, tokens row-major over the patches."""
    B, C, H, W = x.shape
    x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 3, 5, 2, 4, 1)
    return x.reshape(B * p * p, (H // p) * (W // p), C)


def fold(x, B, H, W, p):
    C = x.shape[-1]
    x = x.reshape(B, p, p, H // p, W // p, C).permute(0, 5, 3, 1, 4, 2)
    return x.reshape(B, C, H, W)


class MobileVitBlock(nn.Module):
    def __init__(self, dim, tdim, depth, patch, heads):
        super().__init__()
        self.conv_kxk = ConvNormAct(dim, dim, 3)
        self.conv_1x1 = nn.Conv2d(dim, tdim, 1, bias=False)
        self.transformer = nn.Sequential(*[TransformerBlock(tdim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(tdim, eps=EPS)
        self.conv_proj = ConvNormAct(tdim, dim, 1)
        self.conv_fusion = ConvNormAct(2 * dim, dim, 3)
        self.p = patch

    def forward(self, x):
        shortcut = x
        y = self.conv_1x1(self.conv_kxk(x))
        B, _, H, W = y.shape
        nh, nw = math.ceil(H / self.p) * self.p, math.ceil(W / self.p) * self.p
        if (nh, nw) != (H, W):
            y = F.interpolate(y, size=(nh, nw), mode="bilinear", align_corners=False)
        y = self.norm(self.transformer(unfold(y, self.p)))
        y = fold(y, B, nh, nw, self.p)
        if (nh, nw) != (H, W):
            y = F.interpolate(y, size=(H, W), mode="bilinear", align_corners=False)
        return self.conv_fusion(torch.cat((shortcut, self.conv_proj(y)), dim=1))


class MobileVit(nn.Module):
    def __init__(self, num_classes, stem_chs, channels, depths, strides, expansion,
                 transformer_dims, transformer_depths, num_features, patch_size, num_heads,
                 in_chans, **_):
        super().__init__()
        self.stem = ConvNormAct(in_chans, stem_chs, 3, 2)
        stages, cin = [], stem_chs
        for i, cout in enumerate(channels):
            blocks, bottles = [], depths[i] - (1 if transformer_dims[i] else 0)
            for j in range(bottles):
                blocks.append(Bottle(cin, cout, strides[i] if j == 0 else 1, expansion))
                cin = cout
            if transformer_dims[i]:
                blocks.append(MobileVitBlock(cout, transformer_dims[i], transformer_depths[i],
                                             patch_size, num_heads))
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.final_conv = ConvNormAct(cin, num_features, 1)
        self.head = nn.Module()
        self.head.fc = nn.Linear(num_features, num_classes)

    def forward(self, x):
        x = self.final_conv(self.stages(self.stem(x)))
        return self.head.fc(x.mean((2, 3)))


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return MobileVit(num_classes, **args), args


def special_init(name, p, gen):
    """A tiny stem conv, so the calibrated stem.bn sees a variance near its eps 1e-5, and a tiny
    conv_1x1 in front of the first transformer (stage 2), so its first LayerNorm sees one near
    its eps 1e-5: a wrong BatchNorm or LayerNorm eps shows."""
    if name == "stem.conv.weight":
        return 3e-3
    if name.endswith(".conv_1x1.weight") and name.split(".")[1] == "2":
        return 2e-3
    return None


calibrate = common.calibrate_batchnorm


def config_for(architecture, num_classes, args, **kw):
    kw.setdefault("mean", [0.0] * args["in_chans"])
    kw.setdefault("std", [1.0] * args["in_chans"])
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS,
                                args["num_features"], "stem.conv", "head.fc", **kw)
