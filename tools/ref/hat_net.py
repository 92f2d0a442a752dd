"""HAT-Net (hierarchical MHSA, yun-liu/HAT-Net) reference with the official keys and maths.

Maths (inference), NCHW; every GN is GroupNorm(1 group, eps 1e-6):
  stem (patch_embed): Conv3x3 s2 p1 (bias) in->16 -> GN -> SiLU -> Conv3x3 s2 p1 (bias) 16->C0
  stage s>0 starts with ds{s+1}: Conv3x3 s2 p1 (bias) -> GN
  block: x += attn(x); x += conv(x)
  attn (H-MHSA), heads = C / head_dim, scale head_dim^-0.5, G = grid_sizes[s]:
    qkv = attn.qkv(attn.norm(x))            1x1 conv (bias) C->3C; channel = which*C + h*d + j
    G > 1: local attention inside each G x G cell of tokens (cells row-major, tokens row-major
           inside a cell); l = local result on the grid; z = attn.grid_norm(x + l)
           q = attn.q(z) [1x1 conv, bias]; kv = attn.kv(attn.ds_norm(AvgPool_ds(z)))
           (AvgPool kernel = stride = ds_ratios[s], no padding; kv: k channels first)
           out = softmax(q k^T * scale) v over all pooled positions; y = out + z
    G = 1: plain global MHSA of qkv; y = out
    attn output = attn.proj(y)              1x1 conv (bias). attn.proj_norm exists in the
                                            checkpoint but the forward never uses it.
  conv (IRB): GN -> 1x1 conv (no bias) C->eC -> SiLU -> depthwise kxk p(k-1)/2 (no bias) ->
    SiLU -> 1x1 conv (no bias) eC->C -> GN
  head: mean over H,W -> classifier.1 Linear (classifier.0 is dropout)
Keys: patch_embed.{0,1,3}, blocks.s.i.attn.{norm,qkv,proj,proj_norm[,grid_norm,q,kv,ds_norm]},
  blocks.s.i.conv.{conv1.0 (GN),conv1.1,conv2.0,conv3.0,conv3.1 (GN)}, ds{2,3,4}.{conv,norm},
  classifier.1.
model_args: dims, head_dim, expansions, grid_sizes, ds_ratios, depths, kernel_sizes, in_chans,
  img_size. Sizes as in the official HAT_Net.py (yun-liu/HAT-Net).
"""
import torch.nn as nn

from . import common

_SML = dict(head_dim=64, expansions=[8, 8, 4, 4], grid_sizes=[8, 7, 7, 1],
            ds_ratios=[8, 4, 2, 1])
ARCHS = {
    "hat_net_tiny": dict(dims=[48, 96, 240, 384], head_dim=48, expansions=[8, 8, 4, 4],
                         grid_sizes=[8, 7, 7, 1], ds_ratios=[8, 4, 2, 1], depths=[2, 2, 6, 3]),
    "hat_net_small": dict(dims=[64, 128, 320, 512], depths=[2, 3, 8, 3], **_SML),
    "hat_net_medium": dict(dims=[64, 128, 320, 512], depths=[3, 6, 18, 3],
                           kernel_sizes=[5, 3, 5, 3], **_SML),
    "hat_net_large": dict(dims=[64, 128, 320, 640], depths=[3, 8, 27, 3], **_SML),
}
DEFAULTS = dict(kernel_sizes=[3, 3, 3, 3], in_chans=3, img_size=224, **ARCHS["hat_net_tiny"])
# model_args written to config.json, in this order
CONFIG_KEYS = ("dims", "head_dim", "expansions", "grid_sizes", "ds_ratios", "depths",
               "kernel_sizes", "in_chans", "img_size")


def _gn(c):
    return nn.GroupNorm(1, c, eps=1e-6)


class HMHSA(nn.Module):
    """H-MHSA; norm makes the norms (GroupNorm(1) for HAT-Net, BatchNorm for TransCNN)."""
    def __init__(self, dim, head_dim, grid, ds, norm=_gn, proj_norm=True):
        super().__init__()
        self.heads, self.hd, self.grid = dim // head_dim, head_dim, grid
        self.norm = norm(dim)
        self.qkv = nn.Conv2d(dim, 3 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)
        if proj_norm:
            self.proj_norm = norm(dim)  # stored, unused (as in the official forward)
        if grid > 1:
            self.grid_norm = norm(dim)
            self.avg_pool = nn.AvgPool2d(ds, ds)
            self.ds_norm = norm(dim)
            self.q = nn.Conv2d(dim, dim, 1)
            self.kv = nn.Conv2d(dim, 2 * dim, 1)

    def _attend(self, q, k, v):
        return (q * self.hd ** -0.5 @ k.transpose(-2, -1)).softmax(-1) @ v

    def forward(self, x):
        b, c, h, w = x.shape
        nh, d, g = self.heads, self.hd, self.grid
        qkv = self.qkv(self.norm(x))
        if g > 1:
            t = qkv.reshape(b, 3, nh, d, h // g, g, w // g, g).permute(1, 0, 2, 4, 6, 5, 7, 3)
            t = t.reshape(3, -1, g * g, d)
            loc = self._attend(t[0], t[1], t[2])
            loc = loc.reshape(b, nh, h // g, w // g, g, g, d).permute(0, 1, 6, 2, 4, 3, 5)
            z = self.grid_norm(x + loc.reshape(b, c, h, w))
            q = self.q(z).reshape(b, nh, d, -1).transpose(-2, -1)
            kv = self.kv(self.ds_norm(self.avg_pool(z))).reshape(b, 2, nh, d, -1)
            k, v = kv[:, 0].transpose(-2, -1), kv[:, 1].transpose(-2, -1)
        else:
            t = qkv.reshape(b, 3, nh, d, -1).transpose(-2, -1)
            q, k, v = t[:, 0], t[:, 1], t[:, 2]
        y = self._attend(q, k, v).transpose(-2, -1).reshape(b, c, h, w)
        if g > 1:
            y = y + z
        return self.proj(y)


class InvertedResidual(nn.Module):
    def __init__(self, dim, hidden, k):
        super().__init__()
        self.conv1 = nn.Sequential(_gn(dim), nn.Conv2d(dim, hidden, 1, bias=False), nn.SiLU())
        self.conv2 = nn.Sequential(nn.Conv2d(hidden, hidden, k, 1, (k - 1) // 2, groups=hidden,
                                             bias=False), nn.SiLU())
        self.conv3 = nn.Sequential(nn.Conv2d(hidden, dim, 1, bias=False), _gn(dim))

    def forward(self, x):
        return self.conv3(self.conv2(self.conv1(x)))


class Block(nn.Module):
    """x += attn(x); x += conv(x). irb: the family's inverted-residual class (conv branch);
    attn_kw: HMHSA's norm options."""
    def __init__(self, dim, head_dim, grid, ds, expansion, k, irb, attn_kw):
        super().__init__()
        self.attn = HMHSA(dim, head_dim, grid, ds, **attn_kw)
        self.conv = irb(dim, dim * expansion, k)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.conv(x)


class Downsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 2, 1)
        self.norm = _gn(cout)

    def forward(self, x):
        return self.norm(self.conv(x))


class HMHSANet(nn.Module):
    """The network HAT-Net and TransCNN share: stem patch_embed, stages blocks.s of Blocks, ds{s+1}
    before stage s > 0, mean pool, classifier.1. The family supplies norm (stem and H-MHSA
    norms), irb (Block conv branch), downsample (ds{s+1}) and proj_norm (HMHSA keeps one)."""
    def __init__(self, num_classes, dims, head_dim, expansions, grid_sizes, ds_ratios, depths,
                 kernel_sizes, in_chans, norm, irb, downsample, proj_norm, **_):
        super().__init__()
        self.patch_embed = nn.Sequential(nn.Conv2d(in_chans, 16, 3, 2, 1), norm(16), nn.SiLU(),
                                         nn.Conv2d(16, dims[0], 3, 2, 1))
        attn_kw = dict(norm=norm, proj_norm=proj_norm)
        self.blocks = nn.ModuleList([
            nn.ModuleList([Block(dims[s], head_dim, grid_sizes[s], ds_ratios[s], expansions[s],
                                 kernel_sizes[s], irb, attn_kw) for _ in range(depths[s])])
            for s in range(len(dims))])
        for s in range(1, len(dims)):
            setattr(self, f"ds{s + 1}", downsample(dims[s - 1], dims[s]))
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(dims[-1], num_classes))

    def forward(self, x):
        x = self.patch_embed(x)
        for s, stage in enumerate(self.blocks):
            if s > 0:
                x = getattr(self, f"ds{s + 1}")(x)
            for blk in stage:
                x = blk(x)
        return self.classifier(x.mean((2, 3)))


class HATNet(HMHSANet):
    def __init__(self, num_classes, **args):
        super().__init__(num_classes, norm=_gn, irb=InvertedResidual, downsample=Downsample,
                         proj_norm=True, **args)


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return HATNet(num_classes, **args), args


def special_init(name, p, gen):
    """Tiny first stem conv: the stem's GroupNorm then sees a variance near its eps 1e-6."""
    if name.startswith("patch_embed.0."):
        return 2e-3
    return None


def config_for(architecture, num_classes, args, **kw):
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, args["dims"][-1],
                                "patch_embed.0", "classifier.1", **kw)
