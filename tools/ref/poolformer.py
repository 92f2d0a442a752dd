"""PoolFormer (MetaFormer with a pooling mixer) reference in both published key layouts.

Maths (sail-sg/poolformer and timm metaformer.py, inference), NCHW throughout:
  stem: Conv k7 s4 p2 (bias), no norm
  stage i>0 starts with a downsample Conv k3 s2 p1 (bias), no norm
  block: y = GN1(x); x += ls1[c] * (AvgPool3x3(y) - y)     stride 1, pad 1, count_include_pad=False
         x += ls2[c] * fc2(GELU(fc1(GN2(x))))            fc1/fc2 are 1x1 convs with bias
  GN = GroupNorm(1 group, eps 1e-5): statistics over all C*H*W of the sample, per-channel affine
  head, layout "official": GroupNorm(1, eps 1e-5) on [B,C,h,w] -> mean over h,w -> head Linear
  head, layout "timm":     mean over h,w -> head.norm LayerNorm over C (eps 1e-6) -> head.fc
Keys, official: patch_embed.proj, network.{0,2,4,6}.j.{norm1,norm2,mlp.fc1,mlp.fc2,layer_scale_1,
  layer_scale_2}, network.{1,3,5}.proj, norm, head
Keys, timm: stem.conv, stages.i.downsample.conv (i>0), stages.i.blocks.j.{norm1,norm2,mlp.fc1,
  mlp.fc2,layer_scale1.scale,layer_scale2.scale}, head.norm, head.fc
The architecture name (poolformer_s12 ...) is the same for both; the keys tell them apart.
model_args: depths, dims, mlp_ratios (per stage), pool_size, in_chans, img_size.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common

ARCHS = {
    "poolformer_s12": dict(depths=[2, 2, 6, 2], dims=[64, 128, 320, 512]),
    "poolformer_s24": dict(depths=[4, 4, 12, 4], dims=[64, 128, 320, 512]),
    "poolformer_s36": dict(depths=[6, 6, 18, 6], dims=[64, 128, 320, 512]),
    "poolformer_m36": dict(depths=[6, 6, 18, 6], dims=[96, 192, 384, 768]),
    "poolformer_m48": dict(depths=[8, 8, 24, 8], dims=[96, 192, 384, 768]),
}
DEFAULTS = dict(depths=[2, 2, 6, 2], dims=[64, 128, 320, 512], mlp_ratios=[4, 4, 4, 4],
                pool_size=3, in_chans=3, img_size=224, layout="timm")
# model_args written to config.json, in this order
CONFIG_KEYS = ("depths", "dims", "mlp_ratios", "pool_size", "in_chans", "img_size")


class Pooling(nn.Module):
    def __init__(self, pool_size):
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, 1, pool_size // 2, count_include_pad=False)

    def forward(self, x):
        return self.pool(x) - x


class ConvMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Scale(nn.Module):
    """timm's Scale: a per-channel multiplier stored as `scale` [C]."""
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.scale.view(-1, 1, 1)


class BlockTimm(nn.Module):
    def __init__(self, dim, mlp_ratio, pool_size):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim, eps=1e-5)
        self.token_mixer = Pooling(pool_size)
        self.layer_scale1 = Scale(dim)
        self.norm2 = nn.GroupNorm(1, dim, eps=1e-5)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))
        self.layer_scale2 = Scale(dim)

    def forward(self, x):
        x = x + self.layer_scale1(self.token_mixer(self.norm1(x)))
        return x + self.layer_scale2(self.mlp(self.norm2(x)))


class BlockOfficial(nn.Module):
    def __init__(self, dim, mlp_ratio, pool_size):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, dim, eps=1e-5)
        self.token_mixer = Pooling(pool_size)
        self.norm2 = nn.GroupNorm(1, dim, eps=1e-5)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))
        self.layer_scale_1 = nn.Parameter(torch.ones(dim))
        self.layer_scale_2 = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        x = x + self.layer_scale_1.view(-1, 1, 1) * self.token_mixer(self.norm1(x))
        return x + self.layer_scale_2.view(-1, 1, 1) * self.mlp(self.norm2(x))


class ConvDown(nn.Module):
    def __init__(self, cin, cout, k, s, p, name):
        super().__init__()
        setattr(self, name, nn.Conv2d(cin, cout, k, s, p))
        self._name = name

    def forward(self, x):
        return getattr(self, self._name)(x)


class Stage(nn.Module):
    def __init__(self, cin, dim, depth, mlp_ratio, pool_size, downsample):
        super().__init__()
        self.downsample = ConvDown(cin, dim, 3, 2, 1, "conv") if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[BlockTimm(dim, mlp_ratio, pool_size)
                                      for _ in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class TimmHead(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.fc(self.norm(x.mean((2, 3))))


class PoolFormerTimm(nn.Module):
    def __init__(self, num_classes, depths, dims, mlp_ratios, pool_size, in_chans, **_):
        super().__init__()
        self.stem = ConvDown(in_chans, dims[0], 7, 4, 2, "conv")
        self.stages = nn.Sequential(*[
            Stage(dims[max(i - 1, 0)], dims[i], depths[i], mlp_ratios[i], pool_size, i > 0)
            for i in range(len(depths))])
        self.head = TimmHead(dims[-1], num_classes)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


class PoolFormerOfficial(nn.Module):
    def __init__(self, num_classes, depths, dims, mlp_ratios, pool_size, in_chans, **_):
        super().__init__()
        self.patch_embed = ConvDown(in_chans, dims[0], 7, 4, 2, "proj")
        net = []
        for i, depth in enumerate(depths):
            net.append(nn.Sequential(*[BlockOfficial(dims[i], mlp_ratios[i], pool_size)
                                       for _ in range(depth)]))
            if i + 1 < len(depths):
                net.append(ConvDown(dims[i], dims[i + 1], 3, 2, 1, "proj"))
        self.network = nn.Sequential(*net)
        self.norm = nn.GroupNorm(1, dims[-1], eps=1e-5)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = self.norm(self.network(self.patch_embed(x)))
        return self.head(x.mean((2, 3)))


def resolve_args(architecture, model_args=None):
    args = common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)
    if isinstance(args["mlp_ratios"], (int, float)):
        args["mlp_ratios"] = [args["mlp_ratios"]] * len(args["depths"])
    return args


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    cls = PoolFormerOfficial if args["layout"] == "official" else PoolFormerTimm
    return cls(num_classes, **args), args


def special_init(name, p, gen):
    """Layer scales ~ 0.5 +- 0.2 (trained PoolFormers have O(0.1-1) scales; timm inits 1e-5,
    which would hide the blocks entirely)."""
    if "layer_scale" in name:
        return 0.5 + 0.2 * torch.randn(p.shape, generator=gen)
    if name.startswith(("stem.", "patch_embed.")):  # tiny stem: GN eps 1e-5 matters
        return 5e-3
    return None


def config_for(architecture, num_classes, args, **kw):
    official = args["layout"] == "official"
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, args["dims"][-1],
                                "patch_embed.proj" if official else "stem.conv",
                                "head" if official else "head.fc", **kw)
