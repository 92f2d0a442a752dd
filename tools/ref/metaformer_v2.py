"""MetaFormer baselines reference (Yu et al., "MetaFormer Baselines for Vision"): PoolFormerV2,
ConvFormer and CAFormer with timm's metaformer.py keys and maths.

Maths (inference), NCHW for the pooling / sepconv stages, tokens [B, N, C] for attention stages:
  stem: stem.conv k7 s4 p2 (bias) -> stem.norm (LayerNorm over C, weight only, eps 1e-6)
  stage i>0: downsample.norm (the same, on the input) -> downsample.conv k3 s2 p1 (bias)
  block: x = rs1 * x + ls1 * mixer(norm1(x)); x = rs2 * x + ls2 * mlp(norm2(x))
         res scales (res_scale1/2.scale [C]) on stages with res_scale set (timm: stages 2, 3);
         layer scales (layer_scale1/2.scale) none in the registered models
  mlp: fc1 (C->4C, no bias) -> StarReLU -> fc2 (no bias); 1x1 convs in NCHW stages, Linears in
       attention stages; StarReLU(x) = scale * relu(x)^2 + bias with scalar scale, bias [1]
  norms: poolformerv2 GroupNorm(1) weight only; convformer/caformer LayerNorm over C weight only;
       all eps 1e-6
  mixers: pool  AvgPool3x3 s1 p1 count_include_pad=False (y) - y
          sepconv  pwconv1 (C->2C, no bias) -> StarReLU -> dwconv 7x7 p3 (no bias) -> pwconv2
          attn  qkv Linear [3A, C] no bias, heads of 32, softmax(q k^T / sqrt(32)) v, proj [C, A]
  head: mean over H, W -> head.norm (LayerNorm with bias, eps 1e-6) -> head.fc (Linear,
        poolformerv2) or MlpHead head.fc.{fc1 (4C, bias) -> SquaredReLU -> norm (LayerNorm
        1e-6, bias) -> fc2} (convformer, caformer)
Keys: stem.{conv,norm}, stages.i.downsample.{norm,conv}, stages.i.blocks.j.{norm1,token_mixer.*,
  norm2,mlp.fc1,mlp.act.{scale,bias},mlp.fc2,res_scale1.scale,res_scale2.scale}, head.norm,
  head.fc[.fc1/.norm/.fc2].
model_args: depths, dims, in_chans, img_size (the mixers, norms and head follow the name).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common

_S = [64, 128, 320, 512]
_M = [96, 192, 384, 768]
ARCHS = {
    "poolformerv2_s12": dict(depths=[2, 2, 6, 2], dims=_S),
    "poolformerv2_s24": dict(depths=[4, 4, 12, 4], dims=_S),
    "poolformerv2_s36": dict(depths=[6, 6, 18, 6], dims=_S),
    "poolformerv2_m36": dict(depths=[6, 6, 18, 6], dims=_M),
    "poolformerv2_m48": dict(depths=[8, 8, 24, 8], dims=_M),
}
for _kind in ("convformer", "caformer"):
    ARCHS.update({
        f"{_kind}_s18": dict(depths=[3, 3, 9, 3], dims=_S),
        f"{_kind}_s36": dict(depths=[3, 12, 18, 3], dims=_S),
        f"{_kind}_m36": dict(depths=[3, 12, 18, 3], dims=[96, 192, 384, 576]),
        f"{_kind}_b36": dict(depths=[3, 12, 18, 3], dims=[128, 256, 512, 768]),
    })
DEFAULTS = dict(depths=[2, 2, 6, 2], dims=_S, in_chans=3, img_size=224,
                res_scales=[False, False, True, True])
CONFIG_KEYS = ("depths", "dims", "in_chans", "img_size")
EPS = 1e-6


class LayerNormNoBias(nn.LayerNorm):
    """LayerNorm over the last dim, weight only (timm's LayerNormNoBias)."""
    def __init__(self, dim):
        super().__init__(dim, eps=EPS)
        self.bias = None


class LayerNorm2dNoBias(LayerNormNoBias):
    """The same over the channels of an NCHW map."""
    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class GroupNorm1NoBias(nn.GroupNorm):
    def __init__(self, dim):
        super().__init__(1, dim, eps=EPS)
        self.bias = None


class StarReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.scale * F.relu(x) ** 2 + self.bias


class Scale(nn.Module):
    def __init__(self, dim, nchw):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))
        self.nchw = nchw

    def forward(self, x):
        return x * (self.scale.view(-1, 1, 1) if self.nchw else self.scale)


class Pooling(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)

    def forward(self, x):
        return self.pool(x) - x


class SepConv(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.pwconv1 = nn.Conv2d(dim, 2 * dim, 1, bias=False)
        self.act1 = StarReLU()
        self.dwconv = nn.Conv2d(2 * dim, 2 * dim, 7, padding=3, groups=2 * dim, bias=False)
        self.pwconv2 = nn.Conv2d(2 * dim, dim, 1, bias=False)

    def forward(self, x):
        return self.pwconv2(self.dwconv(self.act1(self.pwconv1(x))))


class Attention(nn.Module):
    def __init__(self, dim, head_dim=32):
        super().__init__()
        self.heads = max(dim // head_dim, 1)
        self.d = head_dim
        self.qkv = nn.Linear(dim, 3 * self.heads * head_dim, bias=False)
        self.proj = nn.Linear(self.heads * head_dim, dim, bias=False)

    def forward(self, x):
        B, N, _ = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, self.d).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) * self.d ** -0.5, dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, N, -1))


class Mlp(nn.Module):
    def __init__(self, dim, nchw):
        super().__init__()
        lin = (lambda i, o: nn.Conv2d(i, o, 1, bias=False)) if nchw else \
            (lambda i, o: nn.Linear(i, o, bias=False))
        self.fc1 = lin(dim, 4 * dim)
        self.act = StarReLU()
        self.fc2 = lin(4 * dim, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, mixer, norm, res_scale):
        super().__init__()
        nchw = mixer is not Attention
        self.norm1 = norm(dim)
        self.token_mixer = mixer(dim)
        self.norm2 = norm(dim)
        self.mlp = Mlp(dim, nchw)
        if res_scale:
            self.res_scale1 = Scale(dim, nchw)
            self.res_scale2 = Scale(dim, nchw)
        self.rs = res_scale

    def forward(self, x):
        r1 = self.res_scale1 if self.rs else (lambda t: t)
        r2 = self.res_scale2 if self.rs else (lambda t: t)
        x = r1(x) + self.token_mixer(self.norm1(x))
        return r2(x) + self.mlp(self.norm2(x))


class Downsampling(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = LayerNorm2dNoBias(cin)
        self.conv = nn.Conv2d(cin, cout, 3, 2, 1)

    def forward(self, x):
        return self.conv(self.norm(x))


class Stage(nn.Module):
    def __init__(self, cin, dim, depth, mixer, norm, res_scale):
        super().__init__()
        self.downsample = Downsampling(cin, dim) if cin != dim else nn.Identity()
        self.blocks = nn.Sequential(*[Block(dim, mixer, norm, res_scale) for _ in range(depth)])
        self.tokens = mixer is Attention

    def forward(self, x):
        x = self.downsample(x)
        B, C, H, W = x.shape
        if self.tokens:
            return self.blocks(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(B, C, H, W)
        return self.blocks(x)


class Stem(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 7, 4, 2)
        self.norm = LayerNorm2dNoBias(cout)

    def forward(self, x):
        return self.norm(self.conv(x))


class MlpHead(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.norm = nn.LayerNorm(4 * dim, eps=EPS)
        self.fc2 = nn.Linear(4 * dim, num_classes)

    def forward(self, x):
        return self.fc2(self.norm(F.relu(self.fc1(x)) ** 2))


class Head(nn.Module):
    def __init__(self, dim, num_classes, mlp_head):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=EPS)
        self.fc = MlpHead(dim, num_classes) if mlp_head else nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.fc(self.norm(x.mean((2, 3))))


def kind_of(architecture):
    for kind in ("poolformerv2", "convformer", "caformer"):
        if architecture.startswith(kind + "_"):
            return kind
    raise KeyError(architecture)


class MetaFormer(nn.Module):
    def __init__(self, kind, num_classes, depths, dims, in_chans, res_scales, **_):
        super().__init__()
        n = len(depths)
        mixers = {"poolformerv2": [Pooling] * n, "convformer": [SepConv] * n,
                  "caformer": [SepConv] * (n // 2) + [Attention] * (n - n // 2)}[kind]
        norms = [GroupNorm1NoBias if kind == "poolformerv2" else
                 (LayerNormNoBias if m is Attention else LayerNorm2dNoBias) for m in mixers]
        self.stem = Stem(in_chans, dims[0])
        self.stages = nn.Sequential(*[
            Stage(dims[max(i - 1, 0)], dims[i], depths[i], mixers[i], norms[i], res_scales[i])
            for i in range(n)])
        self.head = Head(dims[-1], num_classes, kind != "poolformerv2")

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return MetaFormer(kind_of(architecture), num_classes, **args), args


def special_init(name, p, gen):
    """StarReLU scale ~ 1 +- 0.2, bias ~ +-0.1; res scales ~ 1 +- 0.2; a tiny stem conv so
    stem.norm's variance sits near its eps 1e-6."""
    leaf = name.rsplit(".", 2)
    if ".act" in name and leaf[-1] == "scale" or "res_scale" in name:
        return 1.0 + 0.2 * torch.randn(p.shape, generator=gen)
    if ".act" in name and leaf[-1] == "bias":
        return 0.1 * torch.randn(p.shape, generator=gen)
    if name.startswith("stem.conv"):
        return 2e-3
    return None


def config_for(architecture, num_classes, args, **kw):
    classifier = "head.fc" if kind_of(architecture) == "poolformerv2" else "head.fc.fc2"
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, args["dims"][-1],
                                "stem.conv", classifier, crop_pct=1.0, **kw)
