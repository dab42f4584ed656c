"""Widen a trained FlowNetS-Q (Net2WiderNet): start a wider network from a narrower one with the same function.

Training width 0.5 from scratch is ≈ 15 CPU-hours on the 2-core machines here (docs/accuracy.md "Capacity vs
cost"); widening the shipped width-0.25 model gives a width-0.5 network that already computes the shipped function,
so a short fine-tune only has to learn what the extra channels add.

Every layer's output channel j of the wide network is a replica of channel j mod c of the narrow one (c its
channel count; the wide count must be a multiple of it): same incoming weights, same BatchNorm. A wide layer's
weights from replicated input channels split the narrow weight among the replicas. The split is random (each
replica's share drawn per weight from [0.25, 0.75] and normalised to sum to one), not even, so the replicas get
different gradients and do not stay copies of each other; the function is unchanged by any split because the
replicas carry equal activations. `noise` (a share of the layer's weight spread) is added to the extra replicas'
incoming weights on top; with noise 0 the wide float network equals the narrow one up to float rounding
(train/tests/test_widen.py). Frames (6 channels) and the flow head (2) are not widened.
"""
from __future__ import annotations

import torch

from . import model as M


def _input_map(arch: M.ArchSpec, narrow: M.ArchSpec, layer: str) -> torch.Tensor:
    """For each input channel of the wide layer, the narrow layer's input channel it replicates."""
    out, off = [], 0
    for name in arch.layer(layer).inputs:
        cw = M.INPUT_CHANNELS if name == M.FRAMES else arch.layer(name).cout
        cn = M.INPUT_CHANNELS if name == M.FRAMES else narrow.layer(name).cout
        out.append(off + torch.arange(cw) % cn)
        off += cn
    return torch.cat(out)


@torch.no_grad()
def widen(narrow: M.FlowNetSQ, wide: M.FlowNetSQ, noise: float = 0.0, seed: int = 0) -> None:
    """Copy narrow into wide (see the module docstring). Both are FlowNetS-Q with the same layers and decoder."""
    na, wa = narrow.arch, wide.arch
    if [l.name for l in na.layers] != [l.name for l in wa.layers] or na.decoder != wa.decoder:
        raise ValueError('widen: the two models differ in layers or decoder')
    for ln, lw in zip(na.layers, wa.layers):
        if lw.cout % ln.cout or lw.k != ln.k:
            raise ValueError(f'widen: layer {ln.name} has {lw.cout} channels, not a multiple of {ln.cout}')
    g = torch.Generator().manual_seed(seed)  # shares
    gn = torch.Generator().manual_seed(seed + 1)  # noise: its own stream, so the shares do not depend on it
    for ln, lw in zip(na.layers, wa.layers):
        src, dst = narrow.convs[ln.name], wide.convs[lw.name]
        imap = _input_map(wa, na, lw.name)
        omap = torch.arange(lw.cout) % ln.cout
        w = src.weight[omap][:, imap].clone()  # cout_w x cin_w x k x k, every replica a full copy
        # Random split of each narrow weight among the replicas of its input channel: shares per weight, normalised
        # over the replicas (a sum over imap's groups), so the replicas' shares add to one.
        share = torch.rand(w.shape, generator=g) * 0.5 + 0.25
        total = torch.zeros(lw.cout, ln.cin, lw.k, lw.k).index_add_(1, imap, share)
        w *= share / total[:, imap]
        if noise > 0 and lw.cout > ln.cout:
            extra = torch.arange(lw.cout) >= ln.cout
            w[extra] += torch.randn(w[extra].shape, generator=gn) * noise * src.weight.std()
        dst.weight.copy_(w.clamp(-(2.0 ** lw.w_exp), 2.0 ** lw.w_exp))
        if src.bn is None:
            dst.bias.copy_(src.bias[omap])
        else:
            for t in ('weight', 'bias', 'running_mean', 'running_var'):
                getattr(dst.bn, t).copy_(getattr(src.bn, t)[omap])
