"""Training data for a refinement model: the second pass of a refined pair (train/refine.py, src/cli/refine.ts).

A refined pair runs a first-pass model on (frame 1, frame 2), warps frame 2 by that flow and runs the second model on
(frame 1, warped frame 2); the second model's output is added to the first flow. The shipped models run both passes
with a network trained for one; `train.train --refine-of FIRST.ffq` trains the second network for what it sees there:
each batch (after augmentation) goes through the frozen first pass, and the network learns the residual
(ground truth - first flow) on the warped pair. The final flow's EPE equals the residual's, so validation EPE is the
refined pair's. The crop is the first pass's size, or twice it: the place `--refine auto` runs the second pass, where
the first pass sees the pair resized down (heldout.resize_pair) and its flow is scaled back up (flow_to_source). The
warp is train/refine.py's (byte-identical to src/flow/warp.ts), the first pass the dequantized .ffq (the integer
file's function to within rounding, train/ffqinit.py).
"""
from __future__ import annotations

import torch

from . import heldout as H
from . import refine as R


class RefineTargets:
    """(frames, flow) batches -> (frame 1 + frame 2 warped by the first pass, ground truth - first flow)."""

    def __init__(self, first_ffq: str, calib: torch.Tensor, device='cpu'):
        self.net, self.size = H._load_net(first_ffq, calib)
        self.net = self.net.to(device).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.path = first_ffq

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = frames.shape[-2:]
        fh, fw = self.size
        if (h, w) == (fh, fw):
            first = self.net(frames).float()
        elif (h, w) == (2 * fh, 2 * fw):
            small = torch.stack([H.resize_pair(f, fh, fw) for f in frames])
            first = torch.stack([H.flow_to_source(f, h, w) for f in self.net(small).float()])
        else:
            raise ValueError(f'--refine-of {self.path}: its first pass runs at {fh}x{fw}, the training crop is '
                             f'{h}x{w}; train the refinement model at the first pass size or twice it')
        warped = torch.stack([R.warp(frames[i, 3:].cpu(), first[i].cpu()) for i in range(frames.shape[0])])
        out = torch.cat([frames[:, :3], warped.to(frames.device)], 1)
        return out, flow - first

    def batched(self, frames: torch.Tensor, flow: torch.Tensor, batch: int = 16):
        """A whole set (the validation pairs) in batches."""
        parts = [self(frames[i:i + batch], flow[i:i + batch]) for i in range(0, frames.shape[0], batch)]
        return torch.cat([a for a, _ in parts]), torch.cat([b for _, b in parts])
