"""DVT (Dynamic Vision Transformer) cascade: the PyTorch reference of architecture `dvt_cascade`.

K complete ViTs ("exits") see the same 28x28 image at growing token counts (patch 7/4/2 ->
4x4/7x7/14x14 grids). At inference exit k answers when max softmax(logits_k) >= T_k; the last
exit always answers. Exits 1..K-1 reuse what exit k-1 computed:

Feature reuse (module exits.K.feature_reuse: norm, fc1, fc2).
  F_up = exit k-1's last block output BEFORE its final norm, all tokens [B, 1+n_up, D_up].
  ctx  = fc2(GELU(fc1(norm(F_up))))            norm: LayerNorm(D_up, eps 1e-6),
                                               fc1: Linear(D_up -> 128), fc2: Linear(128 -> 48)
  Drop ctx's cls row, view the rest as a [48, g_up, g_up] grid, resize() it to g_dn x g_dn,
  flatten row-major and prepend a zero row for the cls token -> ctx [B, 1+n_dn, 48].
  Every block of exit k is then  h = x + Attn(LN1(x));  x = h + Mlp(LN2(concat(h, ctx)))
  with LN2 over D+48 channels and fc1 weight [hidden, D+48] (h's channels first).

Relationship reuse (module exits.K.relation_reuse: conv1, conv2, 1x1 convs as [out,in,1,1]).
  Every attention exposes its pre-softmax logits q.k^T*scale (+ the term it was given), shape
  [B, H, 1+n, 1+n] (query rows, key columns). Stack exit k-1's L layers on channels:
  A [B, H_up*L_up, 1+n_up, 1+n_up], channel = layer*H_up + head. Then
  R = conv2(GELU(conv1(A)))        conv1: H_up*L_up -> 3*H_up*L_up, conv2: -> H_dn*L_dn (bias)
  at the upstream resolution; then resize both axes to 1+n_dn, keeping the cls row and column
  apart: R[:, :, 0, 0] is kept; R[:, :, 0, 1:] (cls query over patch keys) is resized as a grid;
  R[:, :, 1:, 0] likewise; R[:, :, 1:, 1:] is resized along the key axis, then the query axis.
  Split the channels into L_dn chunks of H_dn; layer l of exit k adds chunk l to its logits.

resize(grid g_up -> g_dn), per spatial axis (separable, linear):
  nearest up-sample by the integer factor f = ceil(g_dn / g_up) (cell i copies source i // f),
  then adaptive average pooling from g_up*f to g_dn: output cell i averages input cells
  floor(i*m/g_dn) .. ceil((i+1)*m/g_dn)-1 with m = g_up*f (PyTorch's adaptive_avg_pool).
  4 -> 7: f=2, 8 -> 7 (pairs of cells); 7 -> 14: f=2, exact nearest doubling.

Each exit may tokenize with a conv stem first (model_args stem_chans; vit_model.PatchEmbed).
State-dict keys: exits.K.{cls_token, pos_embed, patch_embed.stem.* (if any), patch_embed.proj.*, blocks.N.{norm1, attn.qkv,
attn.proj, norm2, mlp.fc1, mlp.fc2}.*, norm.*, head.*}, exits.K.feature_reuse.{norm, fc1,
fc2}.*, exits.K.relation_reuse.{conv1, conv2}.* (K >= 1 for the reuse modules). LayerNorm eps
1e-6 everywhere, exact-erf GELU, timm's qkv layout (see MODELS.md).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import vit_model

CTX_HIDDEN = 128
CTX_DIM = 48


def resize_grid(x, g_dn):
    """Resizes the last two axes (a square grid) of x to g_dn x g_dn, as the docstring says."""
    g_up = x.shape[-1]
    f = math.ceil(g_dn / g_up)
    lead = x.shape[:-2]
    x = x.reshape(-1, 1, g_up, g_up)
    if f > 1:
        x = F.interpolate(x, scale_factor=f, mode="nearest")
    x = F.adaptive_avg_pool2d(x, g_dn)
    return x.reshape(*lead, g_dn, g_dn)


def resize_tokens(ctx, g_dn):
    """[B, 1+g_up^2, C] -> [B, 1+g_dn^2, C]: cls row replaced by zeros, grid resized."""
    b, n, c = ctx.shape
    g_up = int(round(math.sqrt(n - 1)))
    grid = ctx[:, 1:].transpose(1, 2).reshape(b, c, g_up, g_up)
    grid = resize_grid(grid, g_dn).reshape(b, c, g_dn * g_dn).transpose(1, 2)
    return torch.cat([ctx.new_zeros(b, 1, c), grid], 1)


def resize_relation(r, g_dn):
    """[B, C, 1+n_up, 1+n_up] -> [B, C, 1+n_dn, 1+n_dn], cls row/column resized apart."""
    b, c, n, _ = r.shape
    g_up = int(round(math.sqrt(n - 1)))
    n_dn = g_dn * g_dn
    cc = r[:, :, :1, :1]
    row = resize_grid(r[:, :, 0, 1:].reshape(b, c, g_up, g_up), g_dn).reshape(b, c, 1, n_dn)
    col = resize_grid(r[:, :, 1:, 0].reshape(b, c, g_up, g_up), g_dn).reshape(b, c, n_dn, 1)
    pp = r[:, :, 1:, 1:].reshape(b, c, n - 1, g_up, g_up)
    pp = resize_grid(pp, g_dn).reshape(b, c, g_up, g_up, n_dn)          # key axis
    pp = resize_grid(pp.permute(0, 1, 4, 2, 3), g_dn)                  # query axis
    pp = pp.reshape(b, c, n_dn, n_dn).transpose(2, 3)
    return torch.cat([torch.cat([cc, row], 3), torch.cat([col, pp], 3)], 2)


class FeatureReuse(nn.Module):
    def __init__(self, dim_up):
        super().__init__()
        self.norm = nn.LayerNorm(dim_up, eps=vit_model.LN_EPS)
        self.fc1 = nn.Linear(dim_up, CTX_HIDDEN)
        self.fc2 = nn.Linear(CTX_HIDDEN, CTX_DIM)
        nn.init.trunc_normal_(self.fc1.weight, std=0.02)
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.weight)  # starts as "no context": a warm-started exit is unchanged
        nn.init.zeros_(self.fc2.bias)

    def forward(self, feats_up, g_dn):
        return resize_tokens(self.fc2(F.gelu(self.fc1(self.norm(feats_up)))), g_dn)


class RelationReuse(nn.Module):
    def __init__(self, channels_up, heads_dn, depth_dn):
        super().__init__()
        self.heads, self.depth = heads_dn, depth_dn
        self.conv1 = nn.Conv2d(channels_up, 3 * channels_up, 1)
        self.conv2 = nn.Conv2d(3 * channels_up, heads_dn * depth_dn, 1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, logits_up, g_dn):
        a = torch.cat(logits_up, 1)                      # channel = layer*H + head
        r = resize_relation(self.conv2(F.gelu(self.conv1(a))), g_dn)
        return list(r.split(self.heads, 1))


class Exit(nn.Module):
    """One ViT of the cascade; with upstream (dim, heads, depth) it also owns the reuse modules."""

    def __init__(self, patch_size, embed_dim, depth, num_heads, mlp_ratio, upstream=None,
                 stem_chans=0):
        super().__init__()
        ctx = CTX_DIM if upstream else 0
        vit = vit_model.VisionTransformer(28, patch_size, 1, embed_dim, depth, num_heads,
                                          mlp_ratio, 10, ctx_dim=ctx, stem_chans=stem_chans)
        self.grid = vit.patch_embed.grid
        self.patch_embed, self.cls_token, self.pos_embed = vit.patch_embed, vit.cls_token, vit.pos_embed
        self.blocks, self.norm, self.head = vit.blocks, vit.norm, vit.head
        self.tokens = vit.tokens.__func__.__get__(self)
        if upstream:
            dim_up, heads_up, depth_up = upstream
            self.feature_reuse = FeatureReuse(dim_up)
            self.relation_reuse = RelationReuse(heads_up * depth_up, num_heads, depth)

    def forward(self, img, feats_up=None, logits_up=None):
        """Returns (class logits, last block output before norm, per-layer attention logits)."""
        x = self.tokens(img)
        ctx = adds = None
        if feats_up is not None:
            ctx = self.feature_reuse(feats_up, self.grid)
            adds = self.relation_reuse(logits_up, self.grid)
        layer_logits = []
        for i, blk in enumerate(self.blocks):
            x, lg = blk(x, ctx, adds[i] if adds is not None else None)
            layer_logits.append(lg)
        return self.head(self.norm(x)[:, 0]), x, layer_logits


class DVTCascade(nn.Module):
    def __init__(self, exit_args):
        """exit_args: list of dicts {patch_size, embed_dim, depth, num_heads, mlp_ratio}."""
        super().__init__()
        self.exit_args = [dict(a) for a in exit_args]
        exits, up = [], None
        for a in self.exit_args:
            exits.append(Exit(a["patch_size"], a["embed_dim"], a["depth"], a["num_heads"],
                              a["mlp_ratio"], up, a.get("stem_chans", 0)))
            up = (a["embed_dim"], a["num_heads"], a["depth"])
        self.exits = nn.ModuleList(exits)

    def forward(self, img, upto=None):
        """Returns the list of every exit's class logits (all exits, or the first `upto`)."""
        outs, feats, logits = [], None, None
        for e in self.exits[:upto]:
            y, feats, logits = e(img, feats, logits)
            outs.append(y)
        return outs


def exit_macs(exit_args):
    """Multiply-adds of each exit on its own, reuse modules included (same counting rule as
    vit_model.vit_macs: linear/conv/matmul only; resizes, norms, softmax, GELU are free)."""
    out, up = [], None
    for a in exit_args:
        g = 28 // a["patch_size"]
        n = g * g + 1
        ctx = CTX_DIM if up else 0
        m = vit_model.vit_macs(28, a["patch_size"], 1, a["embed_dim"], a["depth"],
                               a["num_heads"], a["mlp_ratio"], 10, ctx,
                               a.get("stem_chans", 0))
        if up:
            n_up, d_up, hl_up = up
            m += n_up * (d_up * CTX_HIDDEN + CTX_HIDDEN * CTX_DIM)
            m += n_up * n_up * (hl_up * 3 * hl_up + 3 * hl_up * a["num_heads"] * a["depth"])
        out.append(m)
        up = (n, a["embed_dim"], a["num_heads"] * a["depth"])
    return out


def cumulative_gflops(exit_args):
    """GFLOPs (2 x MACs) spent when exit k answers: exits 0..k all ran."""
    total, out = 0, []
    for m in exit_macs(exit_args):
        total += m
        out.append(2 * total / 1e9)
    return out
