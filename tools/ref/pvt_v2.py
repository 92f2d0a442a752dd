"""PVT v2 reference (spatial-reduction attention) with timm's pvt_v2.py keys and maths.

Maths (inference), tokens are the grid flattened row-major, [B, N, C]:
  patch_embed: Conv k7 s4 p3 (bias) -> LayerNorm eps 1e-5
  stage i>0 starts with downsample: Conv k3 s2 p1 (bias) -> LayerNorm eps 1e-5
  block: x += attn.proj(SRA(norm1(x))); x += mlp(norm2(x))          norm1/norm2 eps 1e-6
  SRA: q = attn.q(x) [C->C]; if sr_ratio R > 1: y = attn.norm(attn.sr(grid(x)) flattened)
       (sr: Conv k=s=R with bias, norm eps 1e-5), else y = x; k, v = split(attn.kv(y)) (k rows
       first); heads: channel h*d + j; softmax(q k^T * d^-0.5) v
  mlp: fc1 -> depthwise Conv3x3 p1 (bias) on the grid -> GELU -> fc2
  linear variant (pvt_v2_b2_li, model_args linear=true), every stage whatever its sr_ratio:
       y = GELU(attn.norm(attn.sr(AdaptiveAvgPool7x7(grid(x))))) with sr a 1x1 conv (bias),
       norm eps 1e-5; adaptive pooling bins are [floor(i*H/7), ceil((i+1)*H/7)); and the MLP
       has a ReLU between fc1 and the depthwise conv.
  each stage ends with stages.i.norm (LayerNorm eps 1e-6); head: mean over tokens -> head Linear
Keys: patch_embed.{proj,norm}, stages.i.downsample.{proj,norm}, stages.i.blocks.j.{norm1,attn.q,
  attn.kv,attn.sr,attn.norm,attn.proj,norm2,mlp.fc1,mlp.dwconv,mlp.fc2}, stages.i.norm, head.
model_args: depths, embed_dims, num_heads, mlp_ratios, sr_ratios, qkv_bias, linear, in_chans,
  img_size.
"""
import torch.nn as nn
import torch.nn.functional as F

from . import common

_B1 = dict(embed_dims=[64, 128, 320, 512], num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4])
ARCHS = {
    "pvt_v2_b0": dict(depths=[2, 2, 2, 2], embed_dims=[32, 64, 160, 256],
                      num_heads=[1, 2, 5, 8], mlp_ratios=[8, 8, 4, 4]),
    "pvt_v2_b1": dict(depths=[2, 2, 2, 2], **_B1),
    "pvt_v2_b2": dict(depths=[3, 4, 6, 3], **_B1),
    "pvt_v2_b3": dict(depths=[3, 4, 18, 3], **_B1),
    "pvt_v2_b4": dict(depths=[3, 8, 27, 3], **_B1),
    "pvt_v2_b5": dict(depths=[3, 6, 40, 3], embed_dims=[64, 128, 320, 512],
                      num_heads=[1, 2, 5, 8], mlp_ratios=[4, 4, 4, 4]),
    "pvt_v2_b2_li": dict(depths=[3, 4, 6, 3], linear=True, **_B1),
}
DEFAULTS = dict(depths=[2, 2, 2, 2], embed_dims=[32, 64, 160, 256], num_heads=[1, 2, 5, 8],
                mlp_ratios=[8, 8, 4, 4], sr_ratios=[8, 4, 2, 1], qkv_bias=True, linear=False,
                in_chans=3, img_size=224)
# model_args written to config.json, in this order
CONFIG_KEYS = ("depths", "embed_dims", "num_heads", "mlp_ratios", "sr_ratios", "qkv_bias",
               "linear", "in_chans", "img_size")


class OverlapPatchEmbed(nn.Module):
    def __init__(self, cin, cout, k, s):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, k, s, k // 2)
        self.norm = nn.LayerNorm(cout, eps=1e-5)

    def forward(self, x):  # NCHW -> NHWC
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class Attention(nn.Module):
    def __init__(self, dim, heads, sr_ratio, qkv_bias, linear=False):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, 2 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.sr_ratio, self.linear = sr_ratio, linear
        if linear:
            self.pool = nn.AdaptiveAvgPool2d(7)
            self.sr = nn.Conv2d(dim, dim, 1)
            self.norm = nn.LayerNorm(dim, eps=1e-5)
        elif sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, sr_ratio)
            self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x, hw):
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.heads, self.hd).transpose(1, 2)
        if self.linear:
            y = self.pool(x.transpose(1, 2).reshape(b, c, hw[0], hw[1]))
            y = F.gelu(self.norm(self.sr(y).flatten(2).transpose(1, 2)))
        elif self.sr_ratio > 1:
            y = x.transpose(1, 2).reshape(b, c, hw[0], hw[1])
            y = self.norm(self.sr(y).flatten(2).transpose(1, 2))
        else:
            y = x
        kv = self.kv(y).reshape(b, -1, 2, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        attn = (q @ kv[0].transpose(-2, -1) * self.hd ** -0.5).softmax(-1)
        return self.proj((attn @ kv[1]).transpose(1, 2).reshape(b, n, c))


class MlpDw(nn.Module):
    def __init__(self, dim, hidden, extra_relu=False):
        super().__init__()
        self.extra_relu = extra_relu
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x, hw):
        x = self.fc1(x)
        b, n, c = x.shape
        x = x.transpose(1, 2).reshape(b, c, hw[0], hw[1])
        if self.extra_relu:
            x = F.relu(x)
        x = self.dwconv(x).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(x))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, sr_ratio, qkv_bias, linear):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, sr_ratio, qkv_bias, linear)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MlpDw(dim, int(dim * mlp_ratio), extra_relu=linear)

    def forward(self, x, hw):
        x = x + self.attn(self.norm1(x), hw)
        return x + self.mlp(self.norm2(x), hw)


class Stage(nn.Module):
    def __init__(self, cin, dim, depth, heads, mlp_ratio, sr_ratio, qkv_bias, linear,
                 downsample):
        super().__init__()
        self.downsample = OverlapPatchEmbed(cin, dim, 3, 2) if downsample else None
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio, sr_ratio, qkv_bias, linear)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):  # NHWC in, NCHW out
        if self.downsample is not None:
            x = self.downsample(x.permute(0, 3, 1, 2))
        b, h, w, c = x.shape
        x = x.reshape(b, h * w, c)
        for blk in self.blocks:
            x = blk(x, (h, w))
        return self.norm(x).reshape(b, h, w, c)


class PyramidVisionTransformerV2(nn.Module):
    def __init__(self, num_classes, depths, embed_dims, num_heads, mlp_ratios, sr_ratios,
                 qkv_bias, linear, in_chans, **_):
        super().__init__()
        self.patch_embed = OverlapPatchEmbed(in_chans, embed_dims[0], 7, 4)
        self.stages = nn.ModuleList([
            Stage(embed_dims[max(i - 1, 0)], embed_dims[i], depths[i], num_heads[i],
                  mlp_ratios[i], sr_ratios[i], qkv_bias, linear, i > 0)
            for i in range(len(depths))])
        self.head = nn.Linear(embed_dims[-1], num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x.mean((1, 2)))


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return PyramidVisionTransformerV2(num_classes, **args), args


def special_init(name, p, gen):
    """Tiny tensors so three norms see variances near their eps (see common.randomize):
    patch_embed.proj (-> patch_embed.norm, 1e-5), patch_embed.norm's affine (-> block norm1,
    1e-6) and stage 0 block 0's sr conv (-> attn.norm, 1e-5)."""
    if name.startswith("patch_embed.proj") or name.startswith("stages.0.blocks.0.attn.sr."):
        return 5e-3
    if name.startswith("patch_embed.norm"):
        return 2e-3
    return None


def config_for(architecture, num_classes, args, **kw):
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS,
                                args["embed_dims"][-1], "patch_embed.proj", "head", **kw)
