"""EfficientFormer (v1) reference with timm's efficientformer.py keys and maths.

Maths (inference), NCHW for Meta4D, tokens [B, N, C] for Meta3D; BatchNorm eps 1e-5:
  stem: conv1 3x3 s2 p1 (bias) -> norm1 BN -> ReLU -> conv2 3x3 s2 p1 -> norm2 BN -> ReLU
  stage i>0: downsample.conv 3x3 s2 p1 (bias) -> downsample.norm BN
  Meta4D: x += ls1.gamma * (AvgPool3x3 s1 p1 count_include_pad=False (x) - x)
          x += ls2.gamma * norm2(fc2(GELU(norm1(fc1(x)))))    1x1 convs with bias, BNs
  last stage: its last num_vit blocks are Meta3D, after a parameter-free Flat that takes a
  block index (L1: blocks 0-2 Meta4D, 3 Flat, 4 Meta3D)
  Meta3D: x += ls1.gamma * proj(Attn(norm1(x))); x += ls2.gamma * fc2(GELU(fc1(norm2(x))))
          LayerNorm eps 1e-5; Attn: qkv Linear (bias) reshaped [N, heads, kd + kd + vd]
          (per head q | k | v), logits q k^T kd^-0.5 + attention_biases[h, |dy| * 7 + |dx|]
          (resolution 7: the grid must be 7x7), heads joined h * vd + j, proj (bias);
          key_dim 32, heads 8, attn_ratio 4
  head: norm (LayerNorm 1e-5) on tokens -> mean -> (head(x) + head_dist(x)) / 2
Keys: stem.{conv1,norm1,conv2,norm2}, stages.i.downsample.{conv,norm}, stages.i.blocks.j.{ls1.gamma,
  ls2.gamma, mlp.fc1, mlp.norm1, mlp.fc2, mlp.norm2 | norm1, token_mixer.{qkv, proj,
  attention_biases, attention_bias_idxs}, norm2, mlp.fc1, mlp.fc2}, norm, head, head_dist.
model_args: depths, embed_dims, num_vit, in_chans, img_size.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common
from .layers import Mlp

ARCHS = {
    "efficientformer_l1": dict(depths=[3, 2, 6, 4], embed_dims=[48, 96, 224, 448], num_vit=1),
    "efficientformer_l3": dict(depths=[4, 4, 12, 6], embed_dims=[64, 128, 320, 512], num_vit=4),
    "efficientformer_l7": dict(depths=[6, 6, 18, 8], embed_dims=[96, 192, 384, 768], num_vit=8),
}
DEFAULTS = dict(ARCHS["efficientformer_l1"], in_chans=3, img_size=224)
CONFIG_KEYS = ("depths", "embed_dims", "num_vit", "in_chans", "img_size")
RES = 7


class Attention(nn.Module):
    def __init__(self, dim, key_dim=32, heads=8, attn_ratio=4):
        super().__init__()
        self.heads, self.kd, self.vd = heads, key_dim, attn_ratio * key_dim
        self.qkv = nn.Linear(dim, heads * (2 * key_dim + self.vd))
        self.proj = nn.Linear(heads * self.vd, dim)
        self.attention_biases = nn.Parameter(torch.zeros(heads, RES * RES))
        ys, xs = torch.meshgrid(torch.arange(RES), torch.arange(RES), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        idx = (ys[:, None] - ys[None, :]).abs() * RES + (xs[:, None] - xs[None, :]).abs()
        self.register_buffer("attention_bias_idxs", idx)

    def forward(self, x):
        B, N, _ = x.shape
        qkv = self.qkv(x).reshape(B, N, self.heads, -1).permute(0, 2, 1, 3)
        q, k, v = qkv.split([self.kd, self.kd, self.vd], dim=3)
        a = q @ k.transpose(-2, -1) * self.kd ** -0.5
        a = (a + self.attention_biases[:, self.attention_bias_idxs]).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, N, -1))


class Gamma(nn.Module):
    def __init__(self, dim, nchw):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))
        self.nchw = nchw

    def forward(self, x):
        return x * (self.gamma.view(-1, 1, 1) if self.nchw else self.gamma)


class ConvMlpWithNorm(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.norm1 = nn.BatchNorm2d(hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)
        self.norm2 = nn.BatchNorm2d(dim)

    def forward(self, x):
        return self.norm2(self.fc2(F.gelu(self.norm1(self.fc1(x)))))


class Meta4D(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.ls1 = Gamma(dim, True)
        self.mlp = ConvMlpWithNorm(dim, 4 * dim)
        self.ls2 = Gamma(dim, True)

    def forward(self, x):
        x = x + self.ls1(self.pool(x) - x)
        return x + self.ls2(self.mlp(x))


class Meta3D(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mixer = Attention(dim)
        self.ls1 = Gamma(dim, False)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)
        self.ls2 = Gamma(dim, False)

    def forward(self, x):
        x = x + self.ls1(self.token_mixer(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


class ConvBn(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 2, 1)
        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.norm(self.conv(x))


class Stage(nn.Module):
    def __init__(self, cin, dim, depth, num_vit, downsample):
        super().__init__()
        self.downsample = ConvBn(cin, dim) if downsample else nn.Identity()
        blocks = [Flat()] if num_vit >= depth else []
        for j in range(depth):
            if num_vit > depth - j - 1:
                blocks.append(Meta3D(dim))
            else:
                blocks.append(Meta4D(dim))
                if num_vit and num_vit == depth - j - 1:
                    blocks.append(Flat())
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(self.downsample(x))


class EfficientFormer(nn.Module):
    def __init__(self, num_classes, depths, embed_dims, num_vit, in_chans, **_):
        super().__init__()
        c0 = embed_dims[0]
        self.stem = nn.Sequential()
        self.stem.add_module("conv1", nn.Conv2d(in_chans, c0 // 2, 3, 2, 1))
        self.stem.add_module("norm1", nn.BatchNorm2d(c0 // 2))
        self.stem.add_module("act1", nn.ReLU())
        self.stem.add_module("conv2", nn.Conv2d(c0 // 2, c0, 3, 2, 1))
        self.stem.add_module("norm2", nn.BatchNorm2d(c0))
        self.stem.add_module("act2", nn.ReLU())
        n = len(depths)
        self.stages = nn.Sequential(*[
            Stage(embed_dims[max(i - 1, 0)], embed_dims[i], depths[i],
                  num_vit if i == n - 1 else 0, i > 0) for i in range(n)])
        self.norm = nn.LayerNorm(embed_dims[-1])
        self.head = nn.Linear(embed_dims[-1], num_classes)
        self.head_dist = nn.Linear(embed_dims[-1], num_classes)

    def forward(self, x):
        x = self.norm(self.stages(self.stem(x))).mean(1)
        return (self.head(x) + self.head_dist(x)) / 2


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return EfficientFormer(num_classes, **args), args


def special_init(name, p, gen):
    """Layer scales ~ 0.5 +- 0.2 (timm inits 1e-5, which would hide the blocks); attention
    bias tables ~ N(0, 0.5) so they move the softmax; a tiny first conv, so the calibrated
    stem.norm1 sees a variance near its eps 1e-5."""
    if name.startswith("stem.conv1."):
        return 3e-3
    if name.endswith(".gamma"):
        return 0.5 + 0.2 * torch.randn(p.shape, generator=gen)
    if name.endswith("attention_biases"):
        return 0.5 * torch.randn(p.shape, generator=gen)
    return None


calibrate = common.calibrate_batchnorm


def config_for(architecture, num_classes, args, **kw):
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, args["embed_dims"][-1],
                                "stem.conv1", "head", crop_pct=0.95, **kw)
