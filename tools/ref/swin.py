"""Swin Transformer (v1) reference with timm's (>= 0.9) swin_transformer.py keys and maths.

Maths (inference), activations NHWC:
  patch_embed: Conv k=s=patch (bias) -> LayerNorm. ALL LayerNorms eps 1e-5.
  stage i>0 starts with downsample (patch merging): concat x[0::2,0::2], x[1::2,0::2],
    x[0::2,1::2], x[1::2,1::2] on channels -> LayerNorm(4C) -> reduction Linear 4C->2C, no bias
  blocks alternate shift 0 and window//2. A stage whose grid is <= the window uses window =
    grid and no shift (one window). Block:
      y = norm1(x); if shift: roll y by (-s,-s); partition into ws x ws windows (row-major,
      windows row-major); per window and head: logits = (q*d^-0.5) k^T + table[idx(i,j), h]
      (+ mask), softmax, @v; proj; reverse windows; roll back by (+s,+s); x += y
      x += mlp.fc2(GELU(mlp.fc1(norm2(x))))
  idx(i,j) = (hi-hj+ws-1)*(2ws-1) + (wi-wj+ws-1); table [(2ws-1)^2, heads]
  mask: -100 between tokens of a window whose cells came from different regions of the rolled
    image, regions = slices [0,-ws), [-ws,-s), [-s,end) on each axis (cnt row-major); 0 else.
  head: norm -> mean over H,W -> head.fc
Keys: patch_embed.{proj,norm}, layers.i.downsample.{norm,reduction} (i>0),
  layers.i.blocks.j.{norm1,attn.qkv,attn.proj,attn.relative_position_bias_table,norm2,mlp.fc1,
  mlp.fc2}, norm, head.fc. The file also carries layers.i.blocks.j.attn.relative_position_index
  (int64 [ws*ws, ws*ws]) as older timm saved it; a runtime must rebuild it, not trust it.
model_args: img_size, patch_size, window_size, embed_dim, depths, num_heads, mlp_ratio,
  qkv_bias, in_chans.
"""
import torch
import torch.nn as nn

from . import common
from .layers import Mlp

ARCHS = {
    "swin_tiny_patch4_window7_224": dict(embed_dim=96, depths=[2, 2, 6, 2],
                                         num_heads=[3, 6, 12, 24]),
    "swin_small_patch4_window7_224": dict(embed_dim=96, depths=[2, 2, 18, 2],
                                          num_heads=[3, 6, 12, 24]),
    "swin_base_patch4_window7_224": dict(embed_dim=128, depths=[2, 2, 18, 2],
                                         num_heads=[4, 8, 16, 32]),
}
DEFAULTS = dict(img_size=224, patch_size=4, window_size=7, embed_dim=96, depths=[2, 2, 6, 2],
                num_heads=[3, 6, 12, 24], mlp_ratio=4.0, qkv_bias=True, in_chans=3)
# model_args written to config.json, in this order
CONFIG_KEYS = ("img_size", "patch_size", "window_size", "embed_dim", "depths", "num_heads",
               "mlp_ratio", "qkv_bias", "in_chans")


def relative_position_index(ws):
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij"))
    coords = coords.flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[:, :, 0] * (2 * ws - 1) + rel[:, :, 1]


def shift_mask(h, w, ws, s):
    """[nW, ws*ws, ws*ws] with 0 / -100, as timm builds it."""
    img = torch.zeros(h, w)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
        for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            img[hs, wsl] = cnt
            cnt += 1
    win = img.reshape(h // ws, ws, w // ws, ws).permute(0, 2, 1, 3).reshape(-1, ws * ws)
    diff = win[:, None, :] - win[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class WindowAttention(nn.Module):
    def __init__(self, dim, heads, ws, qkv_bias):
        super().__init__()
        self.heads, self.hd, self.ws = heads, dim // heads, ws
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(ws))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):  # x [B*nW, n, C]
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.hd ** -0.5, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        idx = relative_position_index(self.ws).to(x.device).reshape(-1)  # rebuilt, not buffer
        bias = self.relative_position_bias_table[idx].reshape(n, n, -1).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(-1, nw, self.heads, n, n) + mask.to(attn.dtype)[None, :, None]
            attn = attn.view(-1, self.heads, n, n)
        return self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    def __init__(self, dim, heads, grid, window, shift, mlp_ratio, qkv_bias):
        super().__init__()
        if grid <= window:
            window, shift = grid, 0
        self.ws, self.shift, self.grid = window, shift, grid
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = WindowAttention(dim, heads, window, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):  # NHWC
        b, h, w, c = x.shape
        ws, s = self.ws, self.shift
        y = self.norm1(x)
        mask = None
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
            mask = shift_mask(h, w, ws, s)
        y = y.reshape(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        y = self.attn(y.reshape(-1, ws * ws, c), mask)
        y = y.reshape(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        y = y.reshape(b, h, w, c)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=1e-5)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x):
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]],
                      dim=-1)
        return self.reduction(self.norm(x))


class Stage(nn.Module):
    def __init__(self, dim, grid, depth, heads, window, mlp_ratio, qkv_bias, downsample):
        super().__init__()
        self.downsample = PatchMerging(dim // 2) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[
            SwinBlock(dim, heads, grid, window, 0 if j % 2 == 0 else window // 2, mlp_ratio,
                      qkv_bias) for j in range(depth)])

    def forward(self, x):
        return self.blocks(self.downsample(x))


class PatchEmbed(nn.Module):
    def __init__(self, cin, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, patch, patch)
        self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x):
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class Head(nn.Module):
    def __init__(self, dim, num_classes):
        super().__init__()
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.fc(x.mean((1, 2)))


class SwinTransformer(nn.Module):
    def __init__(self, num_classes, img_size, patch_size, window_size, embed_dim, depths,
                 num_heads, mlp_ratio, qkv_bias, in_chans):
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size)
        grid = img_size // patch_size
        layers = []
        for i, depth in enumerate(depths):
            layers.append(Stage(embed_dim * 2 ** i, grid >> i, depth, num_heads[i], window_size,
                                mlp_ratio, qkv_bias, i > 0))
        self.layers = nn.Sequential(*layers)
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(self.num_features, eps=1e-5)
        self.head = Head(self.num_features, num_classes)

    def forward(self, x):
        return self.head(self.norm(self.layers(self.patch_embed(x))))


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = dict(resolve_args(architecture, model_args))
    bogus = args.pop("bogus_index", False)
    model = SwinTransformer(num_classes, **args)
    model.bogus_index = bogus
    return model, args


def special_init(name, p, gen):
    """Bias tables N(0, 0.5): large enough that a wrong index or a missing table is visible."""
    if name.endswith("relative_position_bias_table"):
        return 0.5 * torch.randn(p.shape, generator=gen)
    if name.startswith("patch_embed.proj"):  # -> patch_embed.norm sees var ~ eps 1e-5
        return 5e-3
    if name.startswith("patch_embed.norm"):  # -> block 0 norm1 likewise
        return 3e-3
    return None


def extra_tensors(model, args):
    """With bogus_index (fixture swin_bogus_index_test) the stored relative_position_index is
    reversed, so only a runtime that rebuilds the index gets the right logits."""
    if not getattr(model, "bogus_index", False):
        return None
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("relative_position_index"):
            out[k] = v.flip(-1).numpy().copy()
    return out


def config_for(architecture, num_classes, args, **kw):
    num_features = args["embed_dim"] * 2 ** (len(args["depths"]) - 1)
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, num_features,
                                "patch_embed.proj", "head.fc", **kw)
