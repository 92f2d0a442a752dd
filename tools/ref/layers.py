"""Layers that several reference families share with identical maths and key names.

Mlp: fc2(GELU(fc1(x))), exact-erf GELU, both Linears with bias; keys mlp.fc1, mlp.fc2
(ViT/DeiT, Swin, SReT). A family that needs another MLP (PVT v2's depthwise conv, PoolFormer's
1x1 convs) keeps its own.
"""
import torch.nn as nn
import torch.nn.functional as F


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))
