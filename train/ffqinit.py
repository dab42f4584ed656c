"""Initialise a FlowNetS-Q training model from a shipped .ffq file (fine-tuning instead of pretraining anew).

The file holds integer codes and folded requantization (M, B, S) per layer, not the float weights and BatchNorm
statistics. Dequantizing gives a float network with the same function:
  weight = code · 2^(w_exp − bits_w + 1);  per channel  y ↦ r·y + o  with  r = M·2^−S·s_out/(s_in·s_w),
  o = (B − 2^(S−1))·2^−S·s_out  (contract §4, the inverse of train/export.py fold_layer).
A BatchNorm in training mode normalizes with the batch's statistics, so setting it to (mean 0, var 1, γ = r, β = o)
would change the function as soon as training starts. Instead one calibration pass measures each conv output's
mean μ and variance σ² on real pairs and sets running stats (μ, σ²), γ = r·sqrt(σ² + eps), β = o + r·μ: eval output
is unchanged and the first training batches see nearly the same function.
"""
from __future__ import annotations

import numpy as np
import torch

from . import model as M
from . import modelfile as MF


def _check_shapes(net: M.FlowNetSQ, qm: MF.QModel) -> None:
    names = [l.name for l in net.arch.layers]
    if names != [L['name'] for L in qm.layers]:
        raise ValueError('layer list of the .ffq differs from the model (same width and decoder?)')
    for l, L in zip(net.arch.layers, qm.layers):
        if (l.cin, l.cout, l.k) != (L['cin'], L['cout'], L['k']):
            raise ValueError(f'layer {l.name}: shape {L["cout"]}x{L["cin"]}x{L["k"]} in the file, '
                             f'{l.cout}x{l.cin}x{l.k} in the model (same width?)')


def model_for(qm: MF.QModel, quant: bool = True) -> M.FlowNetSQ:
    """An untrained FlowNetS-Q with the file's width, decoder, per-layer bits and w_exp."""
    spec = {'w': 8, 'a': 8, 'layers': {L['name']: {'w': L['bits_w'], 'a': L['bits']} for L in qm.layers}}
    exps = {L['w_exp'] for L in qm.layers}
    if len(exps) != 1:
        raise ValueError('per-layer w_exp differs; the training model has one --w-exp')
    arch = M.build_arch(qm.width, qm.decoder, spec, qm.flow_frac_bits, exps.pop())
    return M.FlowNetSQ(arch, quant=quant)


@torch.no_grad()
def load_ffq(net: M.FlowNetSQ, qm: MF.QModel, calib_frames: torch.Tensor) -> None:
    """Set net's weights, biases and BatchNorms from qm (see the module docstring). calib_frames: N x 6 x H x W."""
    _check_shapes(net, qm)
    F = qm.flow_frac_bits
    bits = {L['name']: L['bits'] for L in qm.layers}
    bits[M.FRAMES] = 8
    folded = {}
    for L, P in zip(qm.layers, qm.params):
        conv = net.convs[L['name']]
        s_in = 2.0 ** (2 - bits[L['inputs'][0]])
        s_w = 2.0 ** (L['w_exp'] - L['bits_w'] + 1)
        s_out = 2.0 ** -F if L['op'] == 'flow' else 2.0 ** (2 - L['bits'])
        conv.weight.copy_(torch.from_numpy(P.weights.astype(np.float64) * s_w).float())
        S = P.shift.astype(np.float64)
        r = P.mult.astype(np.float64) * 2.0 ** -S * s_out / (s_in * s_w)
        o = (P.bias.astype(np.float64) - 2.0 ** (S - 1)) * 2.0 ** -S * s_out
        if conv.bn is None:
            # flow head: r is 1 up to the 15-bit rounding of M; fold any residual into the weights
            conv.weight.mul_(torch.from_numpy(r).float().to(conv.weight.device).view(-1, 1, 1, 1))
            conv.bias.copy_(torch.from_numpy(o).float())
        else:
            bn = conv.bn
            bn.running_mean.zero_()
            bn.running_var.fill_(1 - bn.eps)
            bn.weight.copy_(torch.from_numpy(r).float())
            bn.bias.copy_(torch.from_numpy(o).float())
            folded[L['name']] = (r, o)
    stats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    hooks = []
    for name in folded:
        bn = net.convs[name].bn

        def hook(mod, inp, _out, name=name):
            y = inp[0].double()
            stats[name] = (y.mean((0, 2, 3)), y.var((0, 2, 3), unbiased=False))
        hooks.append(bn.register_forward_hook(hook))
    was = net.training
    net.eval()
    try:
        net(calib_frames)
    finally:
        for h in hooks:
            h.remove()
        net.train(was)
    for name, (r, o) in folded.items():
        bn = net.convs[name].bn
        mu, var = stats[name]
        rt, ot = torch.from_numpy(r).to(mu.device), torch.from_numpy(o).to(mu.device)  # the net may be on a GPU
        bn.running_mean.copy_(mu.float())
        bn.running_var.copy_(var.float())
        bn.weight.copy_((rt * torch.sqrt(var + bn.eps)).float())
        bn.bias.copy_((ot + rt * mu).float())
