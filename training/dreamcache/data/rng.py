"""Random draws from one torch.Generator, delivered on the working device.

Draws happen on the generator's own device (a CUDA generator for GPU batches, a CPU one in
tests), so a seed gives the same batch every time on the same kind of device.
"""
from __future__ import annotations

from typing import Sequence

import torch


class Rng:
    def __init__(self, generator: torch.Generator, device: torch.device):
        self.g = generator
        self.device = torch.device(device)
        self.gdev = torch.device(generator.device)

    def _out(self, t: torch.Tensor) -> torch.Tensor:
        return t if t.device == self.device else t.to(self.device)

    def uniform(self, shape: Sequence[int], lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
        t = torch.rand(tuple(shape), generator=self.g, device=self.gdev)
        return self._out(t * (hi - lo) + lo)

    def normal(self, shape: Sequence[int], std: float = 1.0) -> torch.Tensor:
        return self._out(torch.randn(tuple(shape), generator=self.g, device=self.gdev) * std)

    def randint(self, high: int, shape: Sequence[int]) -> torch.Tensor:
        return self._out(torch.randint(0, high, tuple(shape), generator=self.g, device=self.gdev))

    def bernoulli(self, p: float, shape: Sequence[int]) -> torch.Tensor:
        return self.uniform(shape) < p

    def choice_colors(self, palette: torch.Tensor, n: int) -> torch.Tensor:
        """n rows of a [K, 3] palette, as [n, 3, 1, 1]."""
        idx = self.randint(palette.shape[0], (n,))
        return palette.to(self.device)[idx].view(n, 3, 1, 1)
