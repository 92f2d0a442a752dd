"""LeViT reference with timm's levit.py keys and maths (the distilled models timm registers).

Maths (inference), tokens [B, N, C] on an H x W grid, every BatchNorm eps 1e-5:
  ConvNorm = Conv (no bias) + BatchNorm2d; LinearNorm = Linear (no bias) + BatchNorm1d over the
  outputs; NormLinear = BatchNorm1d over the inputs + Linear (bias). act = hardswish
  (x * relu6(x + 3) / 6; SiLU for the s8/512/d experiments, model_args act_layer).
  stem (s16): stem.conv1..conv4, ConvNorm 3x3 s2 p1, act between them (not after the last);
          C0/8 -> C0/4 -> C0/2 -> C0 channels; then the map becomes tokens (row-major).
  Attention (stages.i.blocks.j.attn), heads h, key_dim kd, vd = attn_ratio * kd:
          qkv LinearNorm -> per head [q kd | k kd | v vd]; logits = q k^T kd^-0.5 +
          attention_biases[h, |dy| * W + |dx|]; softmax; heads joined h * vd + j;
          proj = act -> LinearNorm (proj.ln)
  block: x += attn(x); x += mlp(x); mlp = ln1 LinearNorm (2C) -> act -> ln2 LinearNorm
  stage i > 0 starts with downsample: attn_downsample (heads = C_in / kd, vd = 4 kd):
          kv LinearNorm -> per head [k kd | v vd] on all tokens; q = q.ln(LinearNorm) of the
          tokens x[::2, ::2] (grid ceil(H/2) x ceil(W/2)); logits + attention_biases[h,
          |2 qy - ky| * W_in + |2 qx - kx|]; proj = act -> proj.ln to C_out (no residual);
          then x += mlp(x) (downsample.mlp, hidden 2 C_out)
  head: mean over tokens -> (head(x) + head_dist(x)) / 2, both NormLinear
The attention_bias_idxs buffers are not persistent in timm (never in a file).
Keys: stem.convK.{linear.weight, bn.*}, stages.i.downsample.attn_downsample.{kv, q.ln, proj.ln}
  .{linear.weight, bn.*}, .attention_biases, stages.i.downsample.mlp.{ln1, ln2}.*,
  stages.i.blocks.j.attn.{qkv, proj.ln}.*, .attention_biases, stages.i.blocks.j.mlp.{ln1, ln2}.*,
  head.{bn.*, linear.*}, head_dist.{bn.*, linear.*}.
model_args: embed_dim, key_dim, num_heads, depth, attn_ratio, mlp_ratio, act_layer, in_chans,
  img_size.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common

ARCHS = {
    "levit_128s": dict(embed_dim=[128, 256, 384], key_dim=16, num_heads=[4, 6, 8], depth=[2, 3, 4]),
    "levit_128": dict(embed_dim=[128, 256, 384], key_dim=16, num_heads=[4, 8, 12], depth=[4, 4, 4]),
    "levit_192": dict(embed_dim=[192, 288, 384], key_dim=32, num_heads=[3, 5, 6], depth=[4, 4, 4]),
    "levit_256": dict(embed_dim=[256, 384, 512], key_dim=32, num_heads=[4, 6, 8], depth=[4, 4, 4]),
    "levit_384": dict(embed_dim=[384, 512, 768], key_dim=32, num_heads=[6, 9, 12], depth=[4, 4, 4]),
}
DEFAULTS = dict(ARCHS["levit_128s"], attn_ratio=2.0, mlp_ratio=2.0, act_layer="hard_swish",
                in_chans=3, img_size=224)
CONFIG_KEYS = ("embed_dim", "key_dim", "num_heads", "depth", "attn_ratio", "mlp_ratio",
               "act_layer", "in_chans", "img_size")
BN_EPS = 1e-5


def act(x, name):
    return F.hardswish(x) if name == "hard_swish" else F.silu(x)


class ConvNorm(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Conv2d(cin, cout, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x):
        return self.bn(self.linear(x))


class LinearNorm(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Linear(cin, cout, bias=False)
        self.bn = nn.BatchNorm1d(cout, eps=BN_EPS)

    def forward(self, x):
        y = self.linear(x)
        return self.bn(y.flatten(0, 1)).reshape_as(y)


class NormLinear(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn = nn.BatchNorm1d(cin, eps=BN_EPS)
        self.linear = nn.Linear(cin, cout)

    def forward(self, x):
        return self.linear(self.bn(x))


class Proj(nn.Module):
    def __init__(self, cin, cout, act_name):
        super().__init__()
        self.ln = LinearNorm(cin, cout)
        self.act_name = act_name

    def forward(self, x):
        return self.ln(act(x, self.act_name))


def bias_index(H, W, stride):
    """|qy*stride - ky| * W + |qx*stride - kx| for queries on the strided grid, keys on H x W."""
    ky, kx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    qy, qx = torch.meshgrid(torch.arange(0, H, stride), torch.arange(0, W, stride), indexing="ij")
    ky, kx, qy, qx = ky.flatten(), kx.flatten(), qy.flatten(), qx.flatten()
    return (qy[:, None] - ky[None, :]).abs() * W + (qx[:, None] - kx[None, :]).abs()


class Attention(nn.Module):
    def __init__(self, dim, kd, heads, attn_ratio, H, W, act_name):
        super().__init__()
        self.heads, self.kd, self.vd = heads, kd, int(attn_ratio * kd)
        self.qkv = LinearNorm(dim, heads * (2 * kd + self.vd))
        self.proj = Proj(heads * self.vd, dim, act_name)
        self.attention_biases = nn.Parameter(torch.zeros(heads, H * W))
        self.idx = bias_index(H, W, 1)

    def forward(self, x):
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, self.heads, -1).permute(0, 2, 1, 3).split(
            [self.kd, self.kd, self.vd], dim=3)
        a = q @ k.transpose(-2, -1) * self.kd ** -0.5 + self.attention_biases[:, self.idx]
        return self.proj((a.softmax(-1) @ v).transpose(1, 2).reshape(B, N, -1))


class AttentionDownsample(nn.Module):
    def __init__(self, cin, cout, kd, H, W, act_name):
        super().__init__()
        self.heads, self.kd, self.vd, self.H, self.W = cin // kd, kd, 4 * kd, H, W
        self.kv = LinearNorm(cin, self.heads * (kd + self.vd))
        self.q = nn.Module()
        self.q.ln = LinearNorm(cin, self.heads * kd)
        self.proj = Proj(self.heads * self.vd, cout, act_name)
        self.attention_biases = nn.Parameter(torch.zeros(self.heads, H * W))
        self.idx = bias_index(H, W, 2)

    def forward(self, x):
        B, N, C = x.shape
        k, v = self.kv(x).view(B, N, self.heads, -1).permute(0, 2, 1, 3).split(
            [self.kd, self.vd], dim=3)
        xs = x.view(B, self.H, self.W, C)[:, ::2, ::2].reshape(B, -1, C)
        q = self.q.ln(xs).view(B, -1, self.heads, self.kd).permute(0, 2, 1, 3)
        a = q @ k.transpose(-2, -1) * self.kd ** -0.5 + self.attention_biases[:, self.idx]
        return self.proj((a.softmax(-1) @ v).transpose(1, 2).reshape(B, q.shape[2], -1))


class Mlp(nn.Module):
    def __init__(self, dim, hidden, act_name):
        super().__init__()
        self.ln1 = LinearNorm(dim, hidden)
        self.ln2 = LinearNorm(hidden, dim)
        self.act_name = act_name

    def forward(self, x):
        return self.ln2(act(self.ln1(x), self.act_name))


class Block(nn.Module):
    def __init__(self, dim, kd, heads, attn_ratio, mlp_ratio, H, W, act_name):
        super().__init__()
        self.attn = Attention(dim, kd, heads, attn_ratio, H, W, act_name)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_name)

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class Downsample(nn.Module):
    def __init__(self, cin, cout, kd, H, W, act_name):
        super().__init__()
        self.attn_downsample = AttentionDownsample(cin, cout, kd, H, W, act_name)
        self.mlp = Mlp(cout, 2 * cout, act_name)

    def forward(self, x):
        x = self.attn_downsample(x)
        return x + self.mlp(x)


class Stage(nn.Module):
    def __init__(self, cin, cout, kd, depth, heads, attn_ratio, mlp_ratio, H, W, act_name, down):
        super().__init__()
        if down:
            self.downsample = Downsample(cin, cout, kd, H, W, act_name)
            H, W = (H - 1) // 2 + 1, (W - 1) // 2 + 1
        else:
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(*[Block(cout, kd, heads, attn_ratio, mlp_ratio, H, W, act_name)
                                      for _ in range(depth)])
        self.H, self.W = H, W

    def forward(self, x):
        return self.blocks(self.downsample(x))


class Levit(nn.Module):
    def __init__(self, num_classes, embed_dim, key_dim, num_heads, depth, attn_ratio, mlp_ratio,
                 act_layer, in_chans, img_size, **_):
        super().__init__()
        c0 = embed_dim[0]
        self.act_name = act_layer
        self.stem = nn.Module()
        chans = [in_chans, c0 // 8, c0 // 4, c0 // 2, c0]
        for i in range(4):
            setattr(self.stem, f"conv{i + 1}", ConvNorm(chans[i], chans[i + 1]))
        H = W = img_size
        for _ in range(4):
            H, W = (H - 1) // 2 + 1, (W - 1) // 2 + 1
        stages = []
        for i, dim in enumerate(embed_dim):
            st = Stage(embed_dim[max(i - 1, 0)], dim, key_dim, depth[i], num_heads[i], attn_ratio,
                       mlp_ratio, H, W, act_layer, i > 0)
            H, W = st.H, st.W
            stages.append(st)
        self.stages = nn.Sequential(*stages)
        self.head = NormLinear(embed_dim[-1], num_classes)
        self.head_dist = NormLinear(embed_dim[-1], num_classes)

    def forward(self, x):
        for i in range(4):
            x = getattr(self.stem, f"conv{i + 1}")(x)
            if i < 3:
                x = act(x, self.act_name)
        x = self.stages(x.flatten(2).transpose(1, 2)).mean(1)
        return (self.head(x) + self.head_dist(x)) / 2


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return Levit(num_classes, **args), args


def special_init(name, p, gen):
    """BatchNorm1d weights near 1 (randomize only knows 2-D norms); bias tables ~ N(0, 0.5); a
    tiny first conv whose BatchNorm statistics are as tiny (variance near its eps 1e-5), so a
    wrong eps shows."""
    if name == "stem.conv1.linear.weight":
        return 3e-3
    if name == "stem.conv1.bn.running_var":
        return 1e-5 * (0.5 + torch.rand(p.shape, generator=gen))
    if name == "stem.conv1.bn.running_mean":
        return 3e-4 * torch.randn(p.shape, generator=gen)
    if ".bn." in name and name.endswith(".weight"):
        return 1.0 + 0.1 * torch.randn(p.shape, generator=gen)
    if name.endswith("attention_biases"):
        return 0.5 * torch.randn(p.shape, generator=gen)
    return None


def config_for(architecture, num_classes, args, **kw):
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, args["embed_dim"][-1],
                                "stem.conv1.linear", "head.linear", crop_pct=0.9, **kw)
