"""ViT / DeiT reference in plain PyTorch with timm's state-dict keys and maths: timm's
VisionTransformer (vision_transformer.py, deit.py) and the variants its registered names use.

Maths (inference):
  [img = ReLU(patch_embed.stem(img))]  only with stem_chans S > 0 (vitd's Fashion-MNIST models,
                                      tools/train/vit_model.PatchEmbed; not a timm option):
                                      Conv C->S k3 s1 p1 (bias) at full resolution
  x = patch_embed.proj(img)           Conv k=s=patch (bias unless pre_norm), row-major -> [B, N, C]
  prefix = [cls_token] [dist_token] [reg_token x reg_tokens]
  x = cat(prefix, x) + pos_embed      or, no_embed_class: cat(prefix, x + pos_embed)
      pos_embed is resampled (bicubic, antialiased: timm's resample_abs_pos_embed) when the
      model runs at run_size (config.json input_size) instead of img_size
  [x = norm_pre(x)]                   pre_norm (CLIP)
  block: x += ls1.gamma * attn.proj(MHSA(norm1(x))); x += ls2.gamma * mlp.fc2(act(mlp.fc1(norm2(x))))
         qkv rows: all q, all k, all v; head h owns rows h*d..h*d+d-1; scale d^-0.5;
         qk_norm: LayerNorm(d) on each head's q and k (attn.q_norm, attn.k_norm)
         layer scale (ls*.gamma) with init_values; act GELU / quick_gelu / gelu_tanh
  norm (all tokens) unless fc_norm (default: on for avg / max / avgmax)
  global_pool token: x[:, 0] | avg / max / avgmax over the patch tokens | map: attn_pool
      (latent query; q, kv Linears; attention; proj; y += mlp(norm(y)); y[:, 0])
  [fc_norm] -> head; distilled: (head(x[:,0]) + head_dist(x[:,1])) / 2
  LayerNorm eps 1e-6, 1e-5 for `*_clip_*` names (biased variance); GELU exact erf.
Keys: cls_token, [dist_token,] [reg_token,] pos_embed, [patch_embed.stem.*,] patch_embed.proj.*,
[norm_pre.*,] blocks.N.{norm1,attn.qkv,[attn.q_norm,attn.k_norm,]attn.proj,[ls1.gamma,]norm2,
mlp.fc1,mlp.fc2[,ls2.gamma]}.*, norm.* | fc_norm.*, [attn_pool.*,] head.*, [head_dist.*].
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common

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
                distilled=False, stem_chans=0, qk_norm=False, init_values=None,
                no_embed_class=False, reg_tokens=0, pre_norm=False, fc_norm=None,
                act_layer="gelu", run_size=None)
# model_args written to config.json, in this order
CONFIG_KEYS = ("img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio",
               "in_chans", "qkv_bias", "class_token")
# ... followed by these only when they differ from DEFAULTS (so older configs stay as they were);
# run_size is vitd's: config.json's input_size, not a model argument
OPTIONAL_CONFIG_KEYS = ("stem_chans", "qk_norm", "init_values", "no_embed_class", "reg_tokens",
                        "pre_norm", "fc_norm", "act_layer")

# looked up at call time (F.gelu by name), so tools/test_reference.py can swap in a wrong GELU
ACTS = {"gelu": lambda x: F.gelu(x), "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
        "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, embed_dim, stem_chans=0, bias=True):
        super().__init__()
        self.grid = img_size // patch_size
        self.stem = nn.Conv2d(in_chans, stem_chans, 3, padding=1) if stem_chans else None
        self.proj = nn.Conv2d(stem_chans or in_chans, embed_dim, patch_size, patch_size,
                              bias=bias)

    def forward(self, x):
        if self.stem is not None:
            x = torch.relu(self.stem(x))
        return self.proj(x).flatten(2).transpose(1, 2)


def attend(q, k, v):
    """[B, heads, Nq, d] x [B, heads, N, d] -> [B, Nq, heads * d]."""
    a = (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(dim=-1) @ v
    return a.transpose(1, 2).flatten(2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qkv_bias=True, qk_norm=False, eps=1e-6):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = nn.LayerNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim, eps=eps) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return self.proj(attend(self.q_norm(qkv[0]), self.k_norm(qkv[1]), qkv[2]))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, act):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = ACTS[act]

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class LayerScale(nn.Module):
    def __init__(self, dim, init_values):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_values)))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio, qkv_bias, qk_norm=False, init_values=None,
                 act="gelu", eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias, qk_norm, eps)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act)
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class AttentionPoolLatent(nn.Module):
    """timm's attn_pool for global_pool 'map' (SigLIP): one latent query."""

    def __init__(self, dim, num_heads, mlp_ratio, act, eps):
        super().__init__()
        self.num_heads = num_heads
        self.latent = nn.Parameter(torch.zeros(1, 1, dim))
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act)

    def forward(self, x):
        b, n, c = x.shape
        h, d = self.num_heads, c // self.num_heads
        q = self.q(self.latent.expand(b, -1, -1)).reshape(b, 1, h, d).transpose(1, 2)
        k, v = self.kv(x).reshape(b, n, 2, h, d).permute(2, 0, 3, 1, 4)
        y = self.proj(attend(q, k, v))
        return (y + self.mlp(self.norm(y)))[:, 0]


def resample_pos_embed(pos, num_prefix, old, new):
    """timm's resample_abs_pos_embed: the patch rows as a grid, bicubic with antialias."""
    if old == new:
        return pos
    prefix, grid = pos[:, :num_prefix], pos[:, num_prefix:]
    grid = grid.reshape(1, old, old, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new, new), mode="bicubic", antialias=True)
    return torch.cat([prefix, grid.permute(0, 2, 3, 1).flatten(1, 2)], dim=1)


class VisionTransformer(nn.Module):
    def __init__(self, num_classes, img_size, patch_size, in_chans, embed_dim, depth, num_heads,
                 mlp_ratio, qkv_bias, class_token, global_pool, distilled, stem_chans=0,
                 qk_norm=False, init_values=None, no_embed_class=False, reg_tokens=0,
                 pre_norm=False, fc_norm=None, act_layer="gelu", run_size=None, eps=1e-6):
        super().__init__()
        assert class_token or global_pool != "token", "no class token needs another pool"
        self.global_pool, self.distilled = global_pool, distilled
        self.no_embed_class = no_embed_class
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, stem_chans,
                                      bias=not pre_norm)
        self.grid = img_size // patch_size
        self.run_grid = (run_size or img_size) // patch_size
        n = self.grid ** 2
        self.num_prefix = int(class_token) + int(distilled) + reg_tokens
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if distilled else None
        self.reg_token = (nn.Parameter(torch.zeros(1, reg_tokens, embed_dim)) if reg_tokens
                          else None)
        self.pos_embed = nn.Parameter(torch.zeros(1, n + (0 if no_embed_class
                                                          else self.num_prefix), embed_dim))
        self.norm_pre = nn.LayerNorm(embed_dim, eps=eps) if pre_norm else nn.Identity()
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, qkv_bias, qk_norm,
                                            init_values, act_layer, eps)
                                      for _ in range(depth)])
        use_fc_norm = global_pool in ("avg", "max", "avgmax") if fc_norm is None else fc_norm
        if use_fc_norm:
            self.fc_norm = nn.LayerNorm(embed_dim, eps=eps)
        else:
            self.norm = nn.LayerNorm(embed_dim, eps=eps)
        if global_pool == "map":
            self.attn_pool = AttentionPoolLatent(embed_dim, num_heads, mlp_ratio, act_layer, eps)
        self.head = nn.Linear(embed_dim, num_classes)
        if distilled:
            self.head_dist = nn.Linear(embed_dim, num_classes)

    def tokens(self, x):
        prefix = [t for t in (self.cls_token, self.dist_token, self.reg_token) if t is not None]
        prefix = [t.expand(x.shape[0], -1, -1) for t in prefix]
        covered = 0 if self.no_embed_class else self.num_prefix
        pos = resample_pos_embed(self.pos_embed, covered, self.grid, self.run_grid)
        if self.no_embed_class:
            return torch.cat(prefix + [x + pos], dim=1)
        return torch.cat(prefix + [x], dim=1) + pos

    def forward(self, img):
        x = self.norm_pre(self.tokens(self.patch_embed(img)))
        x = self.blocks(x)
        if hasattr(self, "norm"):
            x = self.norm(x)
        if self.global_pool == "token":
            f = x[:, 0]
        elif self.global_pool == "map":
            f = self.attn_pool(x[:, self.num_prefix:])
        else:
            p = x[:, self.num_prefix:]
            avg, mx = p.mean(dim=1), p.amax(dim=1)
            f = {"avg": avg, "max": mx, "avgmax": 0.5 * (avg + mx)}[self.global_pool]
        if hasattr(self, "fc_norm"):
            f = self.fc_norm(f)
        if self.distilled:
            return (self.head(f) + self.head_dist(x[:, 1])) / 2
        return self.head(f)


def resolve_args(architecture, model_args=None):
    arch = dict(ARCHS.get(architecture, {}))
    if "distilled" in architecture:
        arch["distilled"] = True
    return common.resolve_args(DEFAULTS, arch, model_args)


def build(architecture, num_classes, model_args=None):
    """Returns (model, resolved model_args)."""
    args = resolve_args(architecture, model_args)
    eps = 1e-5 if "_clip_" in architecture else 1e-6
    return VisionTransformer(num_classes, eps=eps, **args), args


def special_init(name, p, gen):
    """Tiny patch embedding and tokens (x 2e-3): block 0's norm1 then sees a variance near its
    eps 1e-6, so a runtime with another eps fails the fixture (see common.randomize). A conv
    stem keeps the default scale (its ReLU must see both signs)."""
    if name.startswith("patch_embed.stem."):
        return None
    if name.startswith("patch_embed.") or name in ("cls_token", "dist_token", "reg_token",
                                                   "pos_embed"):
        return 2e-3
    if name.endswith("mlp.fc1.weight"):
        return 0.5
    if name.endswith("mlp.fc1.bias"):
        return common.gelu_probe_bias(p, gen)
    return None


def config_for(architecture, num_classes, args, **kw):
    """timm-layout config.json dict. model_args lists every shape parameter explicitly."""
    classifier = ["head", "head_dist"] if args["distilled"] else "head"
    keys = CONFIG_KEYS + tuple(k for k in OPTIONAL_CONFIG_KEYS if args[k] != DEFAULTS[k])
    first_conv = "patch_embed.stem" if args.get("stem_chans") else "patch_embed.proj"
    config = common.family_config(architecture, num_classes, args, keys, args["embed_dim"],
                                  first_conv, classifier, global_pool=args["global_pool"],
                                  **kw)
    if args["run_size"]:  # runs at another size than its position embedding's grid
        config["pretrained_cfg"]["input_size"][1:] = [args["run_size"]] * 2
    return config
