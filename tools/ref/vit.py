"""ViT / DeiT reference in plain PyTorch with timm's state-dict keys and maths.

Maths (timm vision_transformer.py / deit.py, inference):
  [img = ReLU(patch_embed.stem(img))]  only with stem_chans S > 0 (vitd's Fashion-MNIST models,
                                      tools/train/vit_model.PatchEmbed; not a timm option):
                                      Conv C->S k3 s1 p1 (bias) at full resolution
  x = patch_embed.proj(img)           Conv k=s=patch (bias), flattened row-major -> [B, N, C]
  x = cat(cls_token, [dist_token,] x) + pos_embed     (pos_embed covers the prefix tokens too)
  block: x += attn.proj(MHSA(norm1(x))); x += mlp.fc2(GELU(mlp.fc1(norm2(x))))
         qkv rows: all q, all k, all v; head h owns rows h*d..h*d+d-1; scale d^-0.5
  global_pool "token": norm(x)[:, 0] -> head
  global_pool "avg":   no `norm`; mean of the patch tokens (prefix excluded) -> fc_norm -> head
  distilled: (head(x[:,0]) + head_dist(x[:,1])) / 2
  LayerNorm eps 1e-6 (biased variance), GELU exact erf.
Keys: cls_token, [dist_token,] pos_embed, [patch_embed.stem.*,] patch_embed.proj.*,
blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*, norm.* | fc_norm.*, head.*,
[head_dist.*].
"""
import torch
import torch.nn as nn

from . import common
from .layers import Mlp

# timm defaults for the architectures we name; anything else comes from model_args.
ARCHS = {
    "deit_tiny_patch16_224": dict(img_size=224, patch_size=16, embed_dim=192, depth=12,
                                  num_heads=3),
    "deit_small_patch16_224": dict(img_size=224, patch_size=16, embed_dim=384, depth=12,
                                   num_heads=6),
    "deit_base_patch16_224": dict(img_size=224, patch_size=16, embed_dim=768, depth=12,
                                  num_heads=12),
    "deit_tiny_distilled_patch16_224": dict(img_size=224, patch_size=16, embed_dim=192,
                                            depth=12, num_heads=3, distilled=True),
    "deit_small_distilled_patch16_224": dict(img_size=224, patch_size=16, embed_dim=384,
                                             depth=12, num_heads=6, distilled=True),
    "vit_tiny_patch16_224": dict(img_size=224, patch_size=16, embed_dim=192, depth=12,
                                 num_heads=3),
    "vit_small_patch16_224": dict(img_size=224, patch_size=16, embed_dim=384, depth=12,
                                  num_heads=6),
    "vit_base_patch16_224": dict(img_size=224, patch_size=16, embed_dim=768, depth=12,
                                 num_heads=12),
}
DEFAULTS = dict(img_size=224, patch_size=16, in_chans=3, embed_dim=192, depth=12, num_heads=3,
                mlp_ratio=4.0, qkv_bias=True, class_token=True, global_pool="token",
                distilled=False, stem_chans=0)
# model_args written to config.json, in this order
CONFIG_KEYS = ("img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio",
               "in_chans", "qkv_bias", "class_token")
# ... followed by these only when set (so stem-less configs stay as they were)
OPTIONAL_CONFIG_KEYS = ("stem_chans",)


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim, stem_chans=0):
        super().__init__()
        self.grid = img_size // patch_size
        self.stem = nn.Conv2d(in_chans, stem_chans, 3, padding=1) if stem_chans else None
        self.proj = nn.Conv2d(stem_chans or in_chans, embed_dim, patch_size, patch_size)

    def forward(self, x):
        if self.stem is not None:
            x = torch.relu(self.stem(x))
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, num_classes, img_size, patch_size, in_chans, embed_dim, depth, num_heads,
                 mlp_ratio, qkv_bias, class_token, global_pool, distilled, stem_chans=0):
        super().__init__()
        assert class_token or global_pool == "avg", "no class token needs global_pool avg"
        self.global_pool, self.distilled = global_pool, distilled
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, stem_chans)
        n = self.patch_embed.grid ** 2
        self.num_prefix = int(class_token) + int(distilled)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if distilled else None
        self.pos_embed = nn.Parameter(torch.zeros(1, n + self.num_prefix, embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, qkv_bias)
                                      for _ in range(depth)])
        if global_pool == "avg":
            self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6)
        else:
            self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = nn.Linear(embed_dim, num_classes)
        if distilled:
            self.head_dist = nn.Linear(embed_dim, num_classes)

    def forward(self, img):
        x = self.patch_embed(img)
        prefix = [t for t in (self.cls_token, self.dist_token) if t is not None]
        x = torch.cat([t.expand(x.shape[0], -1, -1) for t in prefix] + [x], dim=1)
        x = self.blocks(x + self.pos_embed)
        if self.global_pool == "avg":
            return self.head(self.fc_norm(x[:, self.num_prefix:].mean(dim=1)))
        x = self.norm(x)
        if self.distilled:
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        return self.head(x[:, 0])


def resolve_args(architecture, model_args=None):
    arch = dict(ARCHS.get(architecture, {}))
    if "distilled" in architecture:
        arch["distilled"] = True
    return common.resolve_args(DEFAULTS, arch, model_args)


def build(architecture, num_classes, model_args=None):
    """Returns (model, resolved model_args)."""
    args = resolve_args(architecture, model_args)
    return VisionTransformer(num_classes, **args), args


def special_init(name, p, gen):
    """Tiny patch embedding and tokens (x 2e-3): block 0's norm1 then sees a variance near its
    eps 1e-6, so a runtime with another eps fails the fixture (see common.randomize). A conv
    stem keeps the default scale (its ReLU must see both signs)."""
    if name.startswith("patch_embed.stem."):
        return None
    if name.startswith("patch_embed.") or name in ("cls_token", "dist_token", "pos_embed"):
        return 2e-3
    if name.endswith("mlp.fc1.weight"):
        return 0.5
    if name.endswith("mlp.fc1.bias"):
        return common.gelu_probe_bias(p, gen)
    return None


def config_for(architecture, num_classes, args, **kw):
    """timm-layout config.json dict. model_args lists every shape parameter explicitly."""
    classifier = ["head", "head_dist"] if args["distilled"] else "head"
    keys = CONFIG_KEYS + tuple(k for k in OPTIONAL_CONFIG_KEYS if args.get(k))
    first_conv = "patch_embed.stem" if args.get("stem_chans") else "patch_embed.proj"
    return common.family_config(architecture, num_classes, args, keys, args["embed_dim"],
                                first_conv, classifier, global_pool=args["global_pool"],
                                **kw)
