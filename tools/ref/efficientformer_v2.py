"""EfficientFormerV2 reference with timm's efficientformer_v2.py keys and maths.

Maths (inference), NCHW; every BatchNorm eps 1e-5; act = exact GELU. ConvNorm "<p>" = <p>.conv
(with bias) -> <p>.bn; ConvNormAct adds GELU.
  stem: conv1, conv2: ConvNormAct 3x3 s2 p1 (C0/2, then C0)
  stage i > 0: downsample.conv ConvNorm 3x3 s2 p1 to C_i; in the last stage also + downsample.attn
    (Attention2dDownsample on the stage's input x, H x W, keys over all N = H*W pixels):
      q = q.proj(q.local(x) + x[::2, ::2])   q.local: depthwise 3x3 s2 p1 (bias, no norm),
          q.proj ConvNorm 1x1 -> heads * 16 (8 heads, key_dim 16)
      k = k(x) ConvNorm 1x1, v = v(x) ConvNorm 1x1 -> heads * 64
      logits = q k^T 16^-0.5 + attention_biases[h, |2 qy - ky| * W + |2 qx - kx|]; softmax
      out = attn v (heads joined h * 64 + j) + v_local(v) (depthwise 3x3 s2 ConvNorm)
      -> GELU -> proj ConvNorm 1x1 to C_i
  block: [x += ls1.gamma * token_mixer(x)] (the last num_vit blocks of stages 2 and 3);
         x += ls2.gamma * mlp(x); mlp = fc1 ConvNormAct 1x1 (ratio from the table) -> mid
         ConvNormAct 3x3 depthwise -> fc2 ConvNorm 1x1
  token_mixer (Attention2d, 8 heads, key_dim 32, d = 128): in stage 2 first stride_conv
    (depthwise 3x3 s2 ConvNorm) to the half grid; q, k ConvNorm 1x1 -> heads * 32, v -> heads * 128;
    logits = q k^T 32^-0.5 + attention_biases[h, |dy| * w + |dx|] (grid h x w, N = h*w)
    -> talking_head1 (1x1 conv across heads, bias) -> softmax over keys -> talking_head2
    out = attn v + v_local(v) (depthwise 3x3 ConvNorm); stage 2: bilinear x2 (align_corners
    False) back to H x W; -> GELU -> proj ConvNorm 1x1 to C
  norm (BatchNorm2d) -> mean over H, W -> (head(x) + head_dist(x)) / 2
Keys: stem.conv{1,2}.{conv,bn}, stages.i.downsample.conv.{conv,bn},
  stages.3.downsample.attn.{q.local, q.proj, k, v, v_local, proj, attention_biases},
  stages.i.blocks.j.{mlp.fc1, mlp.mid, mlp.fc2}.{conv,bn}, .ls2.gamma, and for attention blocks
  .token_mixer.{stride_conv, q, k, v, v_local, proj}.{conv,bn}, .token_mixer.talking_head{1,2},
  .token_mixer.attention_biases, .ls1.gamma; norm, head, head_dist.
model_args: depths, embed_dims, mlp_ratios (per block), num_vit, in_chans, img_size.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common

ARCHS = {
    "efficientformerv2_s0": dict(depths=[2, 2, 6, 4], embed_dims=[32, 48, 96, 176], num_vit=2,
                                 mlp_ratios=[[4, 4], [4, 4], [4, 3, 3, 3, 4, 4], [4, 3, 3, 4]]),
    "efficientformerv2_s1": dict(depths=[3, 3, 9, 6], embed_dims=[32, 48, 120, 224], num_vit=2,
                                 mlp_ratios=[[4] * 3, [4] * 3, [4, 4, 3, 3, 3, 3, 4, 4, 4],
                                             [4, 4, 3, 3, 4, 4]]),
    "efficientformerv2_s2": dict(depths=[4, 4, 12, 8], embed_dims=[32, 64, 144, 288], num_vit=4,
                                 mlp_ratios=[[4] * 4, [4] * 4,
                                             [4, 4, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4],
                                             [4, 4, 3, 3, 3, 3, 4, 4]]),
}
DEFAULTS = dict(ARCHS["efficientformerv2_s0"], in_chans=3, img_size=224)
CONFIG_KEYS = ("depths", "embed_dims", "mlp_ratios", "num_vit", "in_chans", "img_size")
EPS = 1e-5


class ConvNorm(nn.Module):
    def __init__(self, cin, cout, k=1, stride=1, groups=1, act=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups)
        self.bn = nn.BatchNorm2d(cout, eps=EPS)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.gelu(x) if self.act else x


def bias_index(H, W, stride):
    """|qy*stride - ky| * W + |qx*stride - kx|, queries on the strided grid, keys on H x W."""
    ky, kx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    qy, qx = torch.meshgrid(torch.arange(0, H, stride), torch.arange(0, W, stride), indexing="ij")
    ky, kx, qy, qx = ky.flatten(), kx.flatten(), qy.flatten(), qx.flatten()
    return (qy[:, None] - ky[None, :]).abs() * W + (qx[:, None] - kx[None, :]).abs()


def heads_of(t, heads):
    """[B, heads * d, h, w] -> [B, heads, h*w, d]."""
    B, C, h, w = t.shape
    return t.reshape(B, heads, C // heads, h * w).transpose(2, 3)


class Attention2d(nn.Module):
    def __init__(self, dim, H, W, stride=None, heads=8, kd=32, ratio=4):
        super().__init__()
        self.heads, self.kd, self.d = heads, kd, ratio * kd
        if stride:
            self.stride_conv = ConvNorm(dim, dim, 3, stride, groups=dim)
            H, W = math.ceil(H / stride), math.ceil(W / stride)
        self.stride = stride
        dh = heads * self.d
        self.q = ConvNorm(dim, heads * kd)
        self.k = ConvNorm(dim, heads * kd)
        self.v = ConvNorm(dim, dh)
        self.v_local = ConvNorm(dh, dh, 3, groups=dh)
        self.talking_head1 = nn.Conv2d(heads, heads, 1)
        self.talking_head2 = nn.Conv2d(heads, heads, 1)
        self.proj = ConvNorm(dh, dim)
        self.attention_biases = nn.Parameter(torch.zeros(heads, H * W))
        self.idx = bias_index(H, W, 1)

    def forward(self, x):
        B, C, H, W = x.shape
        if self.stride:
            x = self.stride_conv(x)
        h, w = x.shape[2:]
        q, k, v = heads_of(self.q(x), self.heads), heads_of(self.k(x), self.heads), self.v(x)
        v_local = self.v_local(v)
        a = q @ k.transpose(-2, -1) * self.kd ** -0.5 + self.attention_biases[:, self.idx]
        a = self.talking_head2(self.talking_head1(a).softmax(-1))
        y = (a @ heads_of(v, self.heads)).transpose(2, 3).reshape(B, -1, h, w) + v_local
        if self.stride:
            y = F.interpolate(y, scale_factor=self.stride, mode="bilinear", align_corners=False)
        return self.proj(F.gelu(y))


class LocalGlobalQuery(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.local = nn.Conv2d(cin, cin, 3, 2, 1, groups=cin)
        self.proj = ConvNorm(cin, cout)

    def forward(self, x):
        return self.proj(self.local(x) + x[:, :, ::2, ::2])


class Attention2dDownsample(nn.Module):
    def __init__(self, dim, out_dim, H, W, heads=8, kd=16, ratio=4):
        super().__init__()
        self.heads, self.kd, self.d = heads, kd, ratio * kd
        dh = heads * self.d
        self.q = LocalGlobalQuery(dim, heads * kd)
        self.k = ConvNorm(dim, heads * kd)
        self.v = ConvNorm(dim, dh)
        self.v_local = ConvNorm(dh, dh, 3, 2, groups=dh)
        self.proj = ConvNorm(dh, out_dim)
        self.attention_biases = nn.Parameter(torch.zeros(heads, H * W))
        self.idx = bias_index(H, W, 2)

    def forward(self, x):
        B = x.shape[0]
        q = self.q(x)
        h, w = q.shape[2:]
        v = self.v(x)
        a = heads_of(q, self.heads) @ heads_of(self.k(x), self.heads).transpose(-2, -1)
        a = (a * self.kd ** -0.5 + self.attention_biases[:, self.idx]).softmax(-1)
        y = (a @ heads_of(v, self.heads)).transpose(2, 3).reshape(B, -1, h, w) + self.v_local(v)
        return self.proj(F.gelu(y))


class Downsample(nn.Module):
    def __init__(self, cin, cout, H, W, use_attn):
        super().__init__()
        self.conv = ConvNorm(cin, cout, 3, 2)
        self.attn = Attention2dDownsample(cin, cout, H, W) if use_attn else None

    def forward(self, x):
        out = self.conv(x)
        return out + self.attn(x) if self.attn is not None else out


class Gamma(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.gamma.view(-1, 1, 1)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = ConvNorm(dim, hidden, act=True)
        self.mid = ConvNorm(hidden, hidden, 3, groups=hidden, act=True)
        self.fc2 = ConvNorm(hidden, dim)

    def forward(self, x):
        return self.fc2(self.mid(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, ratio, H, W, attn, stride):
        super().__init__()
        if attn:
            self.token_mixer = Attention2d(dim, H, W, stride)
            self.ls1 = Gamma(dim)
        self.attn = attn
        self.mlp = Mlp(dim, int(dim * ratio))
        self.ls2 = Gamma(dim)

    def forward(self, x):
        if self.attn:
            x = x + self.ls1(self.token_mixer(x))
        return x + self.ls2(self.mlp(x))


class Stage(nn.Module):
    def __init__(self, cin, dim, depth, ratios, H, W, i, num_vit):
        super().__init__()
        if i > 0:
            self.downsample = Downsample(cin, dim, H, W, i >= 3)
            H, W = math.ceil(H / 2), math.ceil(W / 2)
        else:
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(*[
            Block(dim, ratios[j], H, W, i >= 2 and j >= depth - num_vit, 2 if i == 2 else None)
            for j in range(depth)])
        self.H, self.W = H, W

    def forward(self, x):
        return self.blocks(self.downsample(x))


class EfficientFormerV2(nn.Module):
    def __init__(self, num_classes, depths, embed_dims, mlp_ratios, num_vit, in_chans, img_size,
                 **_):
        super().__init__()
        c0 = embed_dims[0]
        self.stem = nn.Module()
        self.stem.conv1 = ConvNorm(in_chans, c0 // 2, 3, 2, act=True)
        self.stem.conv2 = ConvNorm(c0 // 2, c0, 3, 2, act=True)
        H = W = math.ceil(img_size / 4)
        stages = []
        for i, dim in enumerate(embed_dims):
            st = Stage(embed_dims[max(i - 1, 0)], dim, depths[i], mlp_ratios[i], H, W, i, num_vit)
            H, W = st.H, st.W
            stages.append(st)
        self.stages = nn.Sequential(*stages)
        self.norm = nn.BatchNorm2d(embed_dims[-1], eps=EPS)
        self.head = nn.Linear(embed_dims[-1], num_classes)
        self.head_dist = nn.Linear(embed_dims[-1], num_classes)

    def forward(self, x):
        x = self.stem.conv2(self.stem.conv1(x))
        x = self.norm(self.stages(x)).mean((2, 3))
        return (self.head(x) + self.head_dist(x)) / 2


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return EfficientFormerV2(num_classes, **args), args


def special_init(name, p, gen):
    """Layer scales ~ 0.5 +- 0.2 (timm inits 1e-5, which would hide the blocks); bias tables
    ~ N(0, 0.5) and talking heads near the identity plus N(0, 0.3), so both move the softmax;
    a tiny first conv, so the calibrated stem BatchNorm sees a variance near its eps."""
    if name == "stem.conv1.conv.weight":
        return 3e-3
    if name.endswith(".gamma"):
        return 0.5 + 0.2 * torch.randn(p.shape, generator=gen)
    if name.endswith("attention_biases"):
        return 0.5 * torch.randn(p.shape, generator=gen)
    if ".talking_head" in name and name.endswith(".weight"):
        eye = torch.eye(p.shape[0]).reshape(p.shape)
        return eye + 0.3 * torch.randn(p.shape, generator=gen)
    return None


calibrate = common.calibrate_batchnorm


def config_for(architecture, num_classes, args, **kw):
    kw.setdefault("crop_pct", 0.95)
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, args["embed_dims"][-1],
                                "stem.conv1.conv", "head", **kw)
