"""Layers that several reference families share with identical maths and key names.

Mlp: fc2(act(fc1(x))), exact-erf GELU unless another act is given (MobileViT: SiLU), both
Linears with bias; keys mlp.fc1, mlp.fc2 (ViT/DeiT, Swin, SReT, EfficientFormer, MobileViT). A family that needs another MLP (PVT v2's depthwise conv, PoolFormer's
1x1 convs) keeps its own.
"""
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    def __init__(self, dim, hidden, act=None):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act = act

    def forward(self, x):
        # F.gelu looked up per call (not bound as a default), so tools/test_reference.py can
        # swap it for the tanh form and see every family that uses this MLP move
        act = F.gelu if self.act is None else self.act
        return self.fc2(act(self.fc1(x)))
