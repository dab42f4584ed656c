"""Coarse-to-fine refinement, the Python twin of src/cli/refine.ts and src/flow/warp.ts (`flowfpga eval --refine`).

The network runs at its trained size, the second frame is warped by that flow (bilinear, sample point clamped to the
frame, rounded half up to uint8: the same float64 formula as warp.ts), and the network runs again at twice the
trained size (`auto`; the frames resized to it) on (first frame, warped second frame); its residual is added to the
coarse flow. A trained refinement partner runs that pass twice by default (`refine_passes`, refine.ts
refinePassCount), each time on frame 2 warped by the flow so far.
"""
from __future__ import annotations

import torch


def refine_size(net: tuple[int, int], spec='auto'):
    """As refine.ts refineSize for resize fitting: None, or the (h, w) of the second pass (auto: twice `net`, whatever
    the frames' size)."""
    if spec == 'off':
        return None
    if spec != 'auto':
        return tuple(spec)
    return 2 * net[0], 2 * net[1]


def refine_passes(passes='auto', on_partner: bool = False) -> int:
    """As refine.ts refinePassCount: auto is 2 on a trained refinement partner, 1 on the model itself."""
    if passes in (None, 'auto'):
        return 2 if on_partner else 1
    return int(passes)


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """img 3 x H x W uint8 sampled at (x + u, y + v): warp.ts warpImage, operation for operation in float64."""
    _, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing='ij')
    sx = xs + flow[0].double()
    sy = ys + flow[1].double()
    sx = torch.where(torch.isnan(sx), xs, sx.clamp(0, w - 1))
    sy = torch.where(torch.isnan(sy), ys, sy.clamp(0, h - 1))
    x0 = sx.floor()
    y0 = sy.floor()
    ax = sx - x0
    ay = sy - y0
    x0 = x0.long()
    y0 = y0.long()
    x1 = (x0 + 1).clamp(max=w - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    src = img.double()
    p = lambda yy, xx: src[:, yy, xx]
    top = (1 - ax) * p(y0, x0) + ax * p(y0, x1)
    bot = (1 - ax) * p(y1, x0) + ax * p(y1, x1)
    return ((1 - ay) * top + ay * bot + 0.5).floor().to(torch.uint8)


@torch.no_grad()
def refined_flow(net, frames: torch.Tensor, coarse: torch.Tensor, size: tuple[int, int], resize_pair, flow_to_source):
    """coarse (2 x H x W at the frames' size) plus the residual of a pass at `size` on (frame 1, warped frame 2)."""
    h, w = frames.shape[-2:]
    pair = torch.cat([frames[:3], warp(frames[3:], coarse)])
    r = net(resize_pair(pair, *size)[None])[0]
    return coarse + flow_to_source(r, h, w)
