"""Timm-keyed Vision Transformer used for training and as the PyTorch reference of the models
this project ships (state-dict keys exactly as timm's VisionTransformer: cls_token, pos_embed,
patch_embed.proj.*, blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*, norm.*, head.*).

The pieces also serve the DVT cascade (dvt.py): Attention can add a term to its pre-softmax
logits and hands those logits back, and Block can concatenate a context tensor before its MLP
(DVT feature reuse). With no extra term and ctx_dim=0 they are plain timm blocks.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LN_EPS = 1e-6


class PatchEmbed(nn.Module):
    """Conv patchifier: kernel=stride=patch_size (timm), flattening the grid row-major.

    With stem_chans > 0 a small convolutional tokenizer comes first (T2T-ViT, which DVT builds
    on, tokenizes with convolutions too): stem = Conv2d(in_chans -> stem_chans, 3x3, stride 1,
    pad 1, bias) + ReLU at full resolution, then the patch conv over its stem_chans channels.
    Keys: patch_embed.stem.{weight,bias}, patch_embed.proj.{weight,bias}."""

    def __init__(self, img_size, patch_size, in_chans, embed_dim, stem_chans=0):
        super().__init__()
        self.grid = img_size // patch_size
        self.num_patches = self.grid * self.grid
        self.stem = nn.Conv2d(in_chans, stem_chans, 3, 1, 1) if stem_chans else None
        self.proj = nn.Conv2d(stem_chans or in_chans, embed_dim, patch_size, patch_size)

    def forward(self, x):
        if self.stem is not None:
            x = F.relu(self.stem(x))
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, add_logits=None):
        """Returns (output [B,N,C], pre-softmax logits [B,H,N,N] including add_logits)."""
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        logits = (q * self.scale) @ k.transpose(-2, -1)
        if add_logits is not None:
            logits = logits + add_logits
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out), logits


class Mlp(nn.Module):
    def __init__(self, in_dim, hidden, out_dim):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """x += attn(norm1(x)); x += mlp(norm2(cat(x, ctx))) — ctx only when ctx_dim > 0 (DVT)."""

    def __init__(self, dim, num_heads, mlp_ratio, ctx_dim=0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim + ctx_dim, eps=LN_EPS)
        self.mlp = Mlp(dim + ctx_dim, int(dim * mlp_ratio), dim)
        self.ctx_dim = ctx_dim

    def forward(self, x, ctx=None, add_logits=None):
        a, logits = self.attn(self.norm1(x), add_logits)
        x = x + a
        y = torch.cat([x, ctx], -1) if self.ctx_dim else x
        return x + self.mlp(self.norm2(y)), logits


class VisionTransformer(nn.Module):
    def __init__(self, img_size=28, patch_size=4, in_chans=1, embed_dim=64, depth=4,
                 num_heads=4, mlp_ratio=4.0, num_classes=10, ctx_dim=0, stem_chans=0):
        super().__init__()
        self.args = dict(img_size=img_size, patch_size=patch_size, in_chans=in_chans,
                         embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                         mlp_ratio=mlp_ratio)
        if stem_chans:
            self.args["stem_chans"] = stem_chans
        self.num_classes = num_classes
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, stem_chans)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        self.blocks = nn.ModuleList(
            [Block(embed_dim, num_heads, mlp_ratio, ctx_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=LN_EPS)
        self.head = nn.Linear(embed_dim, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        w = self.patch_embed.proj.weight
        nn.init.kaiming_uniform_(w.view(w.shape[0], -1), a=math.sqrt(5))

    def tokens(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        return x + self.pos_embed

    def forward(self, x):
        x = self.tokens(x)
        for blk in self.blocks:
            x, _ = blk(x)
        return self.head(self.norm(x)[:, 0])


def vit_macs(img_size, patch_size, in_chans, embed_dim, depth, num_heads, mlp_ratio,
             num_classes=10, ctx_dim=0, stem_chans=0):
    """Multiply-adds of one image: stem conv, patch conv, per block qkv + q.k + attn.v + proj +
    fc1 + fc2, then the head. Norms, softmax, GELU/ReLU and additions are not counted
    (GFLOPs = 2 * MACs)."""
    grid = img_size // patch_size
    n = grid * grid + 1
    d, hidden = embed_dim, int(embed_dim * mlp_ratio)
    macs = img_size * img_size * stem_chans * in_chans * 9
    macs += grid * grid * d * (stem_chans or in_chans) * patch_size * patch_size
    per_block = n * 3 * d * d + 2 * n * n * d + n * d * d + n * (d + ctx_dim) * hidden + n * hidden * d
    return macs + depth * per_block + d * num_classes
