"""SReT (Sliced Recursive Transformer) reference with the official szq0214/SReT keys and maths,
except that the recursive pass's token permutation is FIXED and stored in the model.

Maths (inference):
  stem (patch_embed): 3 x [Conv3x3 s2 p1 (bias) -> BatchNorm (eps 1e-5, running stats) -> ReLU]
    channels in -> C0/2 -> C0 -> C0; grid = input / 8 (ceil per conv: (h-1)//2+1, three times)
  x += pos_embed [1, C0, gh, gw]; tokens = grid flattened row-major
  stage s (C = base_dims[s]*heads[s]): blocks list = for each unique block u, for each loop l:
    [B_u, NLL_{u*loops+l}] with loops = depth/recursive_num; entry i is a "recursive pass" when
    (i+2) % 4 == 0 (the official rule; with loops=2 this is every block's second pass)
    block: x = c1*x + c2*attn(norm1(x)); x = c3*x + c4*mlp.fc2(GELU(mlp.fc1(norm2(x))))
    NLL:   x = c1*x + c2*mlp.fc2(GELU(mlp.fc1(norm1(x))))      (hidden = np_mlp_ratio*C)
    c_k are scalars `coefficientK.bias` [1]; LayerNorms eps 1e-6; block mlp hidden
    int(C*mlp_ratio); qkv has bias.
    group attention: G = groups1[s] on a first pass, groups2[s] on a recursive pass. On a
    recursive pass with G > 1, tokens are gathered x' = x[:, perm] first and the attention output
    is scattered back out[:, perm] = y' (i.e. y'[:, argsort(perm)]) before proj. Then tokens
    split into G contiguous groups of N/G; softmax(q k^T d^-0.5) v inside each (group, head).
  between stages (pools.s.conv): Conv k3 s2 p1, groups=C, C -> 2C (weight [2C,1,3,3], bias)
  head: mean over tokens -> norm (LayerNorm 1e-6) -> head Linear
Fixed permutation (vitd's deviation from the reference, which calls torch.randperm per
forward, even at inference): stored as an int64 tensor `transformers.{s}.blocks.{i}.attn.perm`
[N] for each recursive-pass entry i with G > 1 (SReT-T: transformers.0.blocks.2 and .6).
It belongs to the pass, not the shared block weights, so it appears only under the recursive
index; every other tensor of a shared block appears under both indices, identical.
Keys: patch_embed.conv{1,2,3}.*, patch_embed.bn{1,2,3}.{weight,bias,running_mean,running_var},
  pos_embed, transformers.s.blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2,
  coefficient{1..4}.bias} (even i), transformers.s.blocks.i.{norm1,mlp.fc1,mlp.fc2,
  coefficient{1,2}.bias} (odd i), pools.s.conv, norm, head.
model_args: img_size, in_chans, base_dims, depth, recursive_num, heads, groups1, groups2,
  mlp_ratio, np_mlp_ratio.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import common
from .layers import Mlp

ARCHS = {
    "sret_tiny": dict(base_dims=[32, 32, 32], depth=[4, 10, 6], recursive_num=[2, 5, 3],
                      heads=[2, 4, 8], groups1=[8, 4, 1], groups2=[2, 1, 1], mlp_ratio=3.6,
                      np_mlp_ratio=1),
    "sret_large_tiny": dict(base_dims=[32, 32, 32], depth=[4, 10, 6],
                            recursive_num=[2, 5, 3], heads=[2, 4, 8], groups1=[8, 4, 1],
                            groups2=[2, 1, 1], mlp_ratio=4.0, np_mlp_ratio=1),
    "sret_small": dict(base_dims=[42, 42, 42], depth=[4, 10, 6], recursive_num=[2, 5, 3],
                       heads=[3, 6, 12], groups1=[8, 4, 1], groups2=[2, 1, 1], mlp_ratio=3.0,
                       np_mlp_ratio=2),
}
DEFAULTS = dict(img_size=224, in_chans=3, **ARCHS["sret_tiny"])
# model_args written to config.json, in this order
CONFIG_KEYS = ("img_size", "in_chans", "base_dims", "depth", "recursive_num", "heads", "groups1",
               "groups2", "mlp_ratio", "np_mlp_ratio")


class Coefficient(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x * self.bias


class GroupAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, groups, perm=None):
        b, n, c = x.shape
        if perm is not None:
            x = x[:, perm.perm]
        qkv = self.qkv(x).reshape(b, groups, n // groups, 3, self.heads, self.hd)
        qkv = qkv.permute(3, 0, 1, 4, 2, 5)  # [3, b, G, heads, n/G, hd]
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1) * self.hd ** -0.5).softmax(-1)
        y = (attn @ v).permute(0, 1, 3, 2, 4).reshape(b, n, c)
        if perm is not None:
            y = y[:, perm.inverse]
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = GroupAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        for k in range(1, 5):
            setattr(self, f"coefficient{k}", Coefficient())

    def forward(self, x, groups, perm):
        x = self.coefficient1(x) + self.coefficient2(self.attn(self.norm1(x), groups, perm))
        return self.coefficient3(x) + self.coefficient4(self.mlp(self.norm2(x)))


class NonLinear(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)
        self.coefficient1 = Coefficient()
        self.coefficient2 = Coefficient()

    def forward(self, x, groups, perm):
        return self.coefficient1(x) + self.coefficient2(self.mlp(self.norm1(x)))


class PermHolder(nn.Module):
    """Holds one pass's stored permutation as buffer `perm` (saved as blocks.i.attn.perm)
    and its inverse (not saved; precomputed so the ONNX export needs no argsort)."""
    def __init__(self, n):
        super().__init__()
        self.register_buffer("perm", torch.arange(n))
        self.register_buffer("inverse", torch.arange(n), persistent=False)

    def set(self, perm):
        self.perm.copy_(perm)
        self.inverse.copy_(torch.argsort(perm))


class Transformer(nn.Module):
    def __init__(self, dim, n_tokens, depth, recursive_num, heads, groups1, groups2, mlp_ratio,
                 np_mlp_ratio):
        super().__init__()
        loops = depth // recursive_num
        assert loops * recursive_num == depth, "depth must be a multiple of recursive_num"
        unique = [Block(dim, heads, mlp_ratio) for _ in range(recursive_num)]
        entries = []
        for u in range(recursive_num):
            for l in range(loops):
                entries.append(unique[u])
                entries.append(NonLinear(dim, int(dim * np_mlp_ratio)))
        self.blocks = nn.ModuleList(entries)
        self.plan = []  # (groups, perm key or None) per entry
        self.perms = {}
        for i in range(len(entries)):
            recursive = (i + 2) % 4 == 0
            g = groups2 if recursive else groups1
            assert n_tokens % g == 0, f"{n_tokens} tokens do not split into {g} groups"
            self.plan.append(g)
            if recursive and g > 1 and isinstance(entries[i], Block):
                self.perms[str(i)] = PermHolder(n_tokens)
        self.perms = nn.ModuleDict(self.perms)

    def forward(self, x):
        b, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        for i, blk in enumerate(self.blocks):
            perm = self.perms[str(i)] if str(i) in self.perms else None
            x = blk(x, self.plan[i], perm)
        return x.transpose(1, 2).reshape(b, c, h, w)


class ConvEmbed(nn.Module):
    def __init__(self, cin, c0):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c0 // 2, 3, 2, 1)
        self.bn1 = nn.BatchNorm2d(c0 // 2)
        self.conv2 = nn.Conv2d(c0 // 2, c0, 3, 2, 1)
        self.bn2 = nn.BatchNorm2d(c0)
        self.conv3 = nn.Conv2d(c0, c0, 3, 2, 1)
        self.bn3 = nn.BatchNorm2d(c0)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.relu(self.bn3(self.conv3(x)))


class ConvPool(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 2, 1, groups=cin)

    def forward(self, x):
        return self.conv(x)


def _half(n):
    return (n - 1) // 2 + 1


class SReT(nn.Module):
    def __init__(self, num_classes, img_size, in_chans, base_dims, depth, recursive_num, heads,
                 groups1, groups2, mlp_ratio, np_mlp_ratio):
        super().__init__()
        dims = [b * h for b, h in zip(base_dims, heads)]
        g = _half(_half(_half(img_size)))
        self.patch_embed = ConvEmbed(in_chans, dims[0])
        self.pos_embed = nn.Parameter(torch.zeros(1, dims[0], g, g))
        self.transformers = nn.ModuleList()
        self.pools = nn.ModuleList()
        for s in range(len(depth)):
            self.transformers.append(Transformer(dims[s], g * g, depth[s], recursive_num[s],
                                                 heads[s], groups1[s], groups2[s], mlp_ratio,
                                                 np_mlp_ratio))
            if s + 1 < len(depth):
                self.pools.append(ConvPool(dims[s], dims[s + 1]))
                g = _half(g)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        x = self.patch_embed(x) + self.pos_embed
        for s, t in enumerate(self.transformers):
            x = t(x)
            if s < len(self.pools):
                x = self.pools[s](x)
        return self.head(self.norm(x.mean((2, 3))))


def resolve_args(architecture, model_args=None):
    return common.resolve_args(DEFAULTS, ARCHS.get(architecture, {}), model_args)


def build(architecture, num_classes, model_args=None):
    args = resolve_args(architecture, model_args)
    return SReT(num_classes, **args), args


def special_init(name, p, gen):
    """Residual coefficients ~ 1 +- 0.2 (block input) and 0.5 +- 0.2 (branches), so every
    coefficient matters; permutations are drawn from the same seeded generator."""
    leaf = name.rsplit(".", 2)
    if leaf[-1] == "bias" and leaf[-2].startswith("coefficient"):
        odd = leaf[-2][-1] in "13"
        return (1.0 if odd else 0.5) + 0.2 * torch.randn(p.shape, generator=gen)
    # eps sensitivity (see common.randomize): bn1 sees a variance ~2.5e-5 against eps 1e-5,
    # and the first LayerNorm (1e-6) sees a tiny stem output + tiny pos_embed
    if name.startswith("patch_embed.conv1.") or name == "patch_embed.bn1.running_mean":
        return 5e-3
    if name == "patch_embed.bn1.running_var":
        return 2.5e-5 * (0.5 + torch.rand(p.shape, generator=gen))
    if name.startswith("patch_embed.bn3.") and leaf[-1] in ("weight", "bias"):
        return 2e-3
    if name == "pos_embed":
        return 0.02
    if name.endswith("mlp.fc1.weight"):
        return 0.5
    if name.endswith("mlp.fc1.bias"):
        return common.gelu_probe_bias(p, gen)
    return None


def randomize_perms(model, seed):
    gen = torch.Generator().manual_seed(seed ^ 0x5E7)
    with torch.no_grad():
        for t in model.transformers:
            for holder in t.perms.values():
                holder.set(torch.randperm(holder.perm.numel(), generator=gen))


def _file_key(k):
    # transformers.s.perms.i.perm -> transformers.s.blocks.i.attn.perm
    parts = k.split(".")
    if len(parts) == 5 and parts[2] == "perms":
        return f"{parts[0]}.{parts[1]}.blocks.{parts[3]}.attn.perm"
    return k


def skip_keys(model):
    return [k for k in model.state_dict() if ".perms." in k]


def extra_tensors(model, args):
    """The stored permutations under their file names (int64 [N])."""
    randomize_perms(model, 0)
    return {_file_key(k): v.numpy().copy() for k, v in model.state_dict().items()
            if ".perms." in k}


def config_for(architecture, num_classes, args, **kw):
    dims = args["base_dims"][-1] * args["heads"][-1]
    return common.family_config(architecture, num_classes, args, CONFIG_KEYS, dims,
                                "patch_embed.conv1", "head", **kw)
