"""Export a trained FlowNetS-Q checkpoint to a .ffq model file (BatchNorm folded per docs/quantization.md §4) and
measure the EPE gap between the fake-quantized float model and the integer simulation.

  /usr/bin/python3 -m train.export train/runs/q8-w0.25/last.pt models/flownets-q-w0.25-8bit.ffq [--val-count 16]
"""
from __future__ import annotations

import argparse
import datetime
import math
import sys

import numpy as np
import torch

from . import intsim
from . import model as M
from . import modelfile as MF


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def requant_params(r: float, o: float) -> tuple[int, int, int]:
    """(M, B, S): the largest S in [1, 50] with |round(r·2^S)| ≤ 32767 and |round(o·2^S)| + 2^(S−1) ≤ 2^50."""
    for S in range(50, 0, -1):
        m = _round(r * 2.0 ** S)
        ob = _round(o * 2.0 ** S)
        if abs(m) <= 32767 and abs(ob) + 2 ** (S - 1) <= 2 ** 50:
            return m, ob + 2 ** (S - 1), S
    raise ValueError(f'requantization factor {r} / offset {o} cannot be represented (|M| ≤ 32767 at S = 1)')


def fold_layer(net: M.FlowNetSQ, spec: M.LayerSpec) -> MF.QLayerParams:
    a = net.arch
    conv = net.convs[spec.name]
    n_in = a.bits_of(spec.inputs[0])
    s_in = 2.0 ** (2 - n_in)
    s_w = 2.0 ** (spec.w_exp - spec.bits_w + 1)
    w = M.weight_codes(conv.weight.detach().double(), spec.bits_w, spec.w_exp).numpy().astype(np.int8)
    cout = spec.cout
    if spec.op == 'flow':
        s_out = 2.0 ** -a.flow_frac_bits
        r = np.full(cout, s_in * s_w / s_out)
        o = conv.bias.detach().double().numpy() / s_out
    else:
        s_out = 2.0 ** (2 - spec.bits)
        bn = conv.bn
        inv = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
        r = (inv * s_in * s_w / s_out).numpy()
        o = ((bn.bias.detach().double() - inv * bn.running_mean.double()) / s_out).numpy()
    mult = np.zeros(cout, np.int16)
    bias = np.zeros(cout, np.int64)
    shift = np.zeros(cout, np.uint8)
    for c in range(cout):
        m, b, s = requant_params(float(r[c]), float(o[c]))
        mult[c], bias[c], shift[c] = m, b, s
    return MF.QLayerParams(w, mult, shift, bias)


def export_model(net: M.FlowNetSQ, name: str, native_size, meta: dict | None = None) -> MF.QModel:
    net = net.cpu().eval()
    a = net.arch
    params = [fold_layer(net, l) for l in a.layers]
    return MF.QModel(name, a.width, a.decoder, a.flow_frac_bits, tuple(int(v) for v in native_size),
                     a.to_header_layers(), params, dict(meta or {}))


def l1(pred: torch.Tensor, gt: torch.Tensor) -> float:
    """flownet2's L1: mean |du|, |dv| over both channels and all pixels (2 x H x W or N x 2 x H x W), i.e.
    sum(|du| + |dv|) / (2 * pixels) -- the same definition as src/flow/metrics.ts (`flowfpga eval`)."""
    return (pred - gt).abs().mean().item()


@torch.no_grad()
def compare(net: M.FlowNetSQ, qm: MF.QModel, frames: torch.Tensor, flow: torch.Tensor) -> dict:
    """EPE of the fake-quantized model and of the integer simulation vs ground truth, and their disagreement."""
    net = net.cpu().eval()
    F = qm.flow_frac_bits
    e_fq, e_int, l_fq, l_int, diff, exact = [], [], [], [], [], 0
    for i in range(frames.shape[0]):
        fq = net(frames[i:i + 1])[0]
        iq = torch.from_numpy(intsim.forward(qm, frames[i].numpy()).astype(np.float32) * 2.0 ** -F)
        g = flow[i]
        e_fq.append(M.epe(fq[None], g[None]).item())
        e_int.append(M.epe(iq[None], g[None]).item())
        l_fq.append(l1(fq, g))
        l_int.append(l1(iq, g))
        diff.append(M.epe(iq[None], fq[None]).item())
        exact += int(torch.equal(torch.round(fq * 2 ** F), iq * 2 ** F))
    return dict(epe_fakequant=float(np.mean(e_fq)), epe_int=float(np.mean(e_int)),
                l1_fakequant=float(np.mean(l_fq)), l1_int=float(np.mean(l_int)),
                gap=float(np.mean(e_int) - np.mean(e_fq)), mean_fq_int_diff=float(np.mean(diff)),
                identical_pairs=exact, pairs=len(e_fq))


@torch.no_grad()
def layer_agreement(net: M.FlowNetSQ, qm: MF.QModel, frames: np.ndarray) -> list:
    """Per layer, feed both implementations the integer model's own input codes and compare one layer's output
    codes: [(name, fraction identical, max |difference|)]. Isolates the per-layer rounding of M from the cascade."""
    net = net.cpu().eval()
    t = {M.FRAMES: frames}
    out = []
    for L, P in zip(qm.layers, qm.params):
        spec = net.arch.layer(L['name'])
        conv = net.convs[L['name']]
        inp = np.concatenate([t[i] for i in L['inputs']], 0)
        n_in = net.arch.bits_of(L['inputs'][0])
        x = torch.from_numpy(inp.astype(np.float32) * 2.0 ** (2 - n_in))[None]
        if L['op'] == 'conv':
            o = intsim.conv(inp, P.weights, P.mult, P.bias, P.shift, L['stride'], L['bits'])
            f = M.fq_act(conv(x, True), spec.bits)[0] / 2.0 ** (2 - spec.bits)
        elif L['op'] == 'upconv' and net.arch.decoder == 'upsample-conv':
            o = intsim.conv(intsim.up2(inp), P.weights, P.mult, P.bias, P.shift, 1, L['bits'])
            f = M.fq_act(conv(M.up2(x, n_in), True), spec.bits)[0] / 2.0 ** (2 - spec.bits)
        elif L['op'] == 'upconv':
            o = intsim.up2(intsim.conv(inp, P.weights, P.mult, P.bias, P.shift, 1, L['bits']))
            f = M.up2(M.fq_act(conv(x, True), spec.bits), spec.bits)[0] / 2.0 ** (2 - spec.bits)
        else:
            o = intsim.flow_head(inp, P.weights, P.mult, P.bias, P.shift)
            f = M.fq_flow(conv(x, True), qm.flow_frac_bits)[0] * 2.0 ** qm.flow_frac_bits
        f = f.round().numpy().astype(np.int64)
        out.append((L['name'], float(np.mean(f == o)), int(np.abs(f - o.astype(np.int64)).max())))
        t[L['name']] = o
    return out


def export_checkpoint(checkpoint: str, out: str, name: str | None = None, val_count: int = 16,
                      val_seed: int | None = None, refine_for: str | None = None) -> tuple[MF.QModel, dict]:
    """Checkpoint -> .ffq at `out` whose meta.epe is the integer EPE on the held-out pairs; returns (model, report).
    A refinement model (train.train --refine-of FIRST) gets meta.refine_for = `refine_for`, default FIRST's name (the
    model whose refined pairs it finishes; another when FIRST is that model's coarse-pass partner), and its meta.epe
    is the refined pair's."""
    from . import train as T
    net, targs, ck = T.load_model(checkpoint)
    if not isinstance(net, M.FlowNetSQ):
        raise SystemExit(f'{checkpoint}: only FlowNetS-Q checkpoints can be exported (this is --model {targs.model})')
    size = T.parse_size(targs.size)
    net.quant = True  # the integer file is exactly the fake-quantized model (a float checkpoint gets rounded)
    bits = sorted({(l.bits_w, l.bits) for l in net.arch.layers})
    tag = f'{bits[0][0]}bit' if len(bits) == 1 and bits[0][0] == bits[0][1] else 'mixed'
    if targs.model == 'qfloat':
        tag = 'float-rounded'
    refine_of = getattr(targs, 'refine_of', None)  # a refinement model (train/refinedata.py)
    if refine_of and not refine_of.endswith('.ffq'):
        raise SystemExit(f'{checkpoint}: its first pass is the checkpoint {refine_of} (a float study), not a model '
                         f'file it could partner; evaluate the checkpoint instead (train.heldout --checkpoints)')
    first = MF.load(refine_of) if refine_of else None
    if refine_for and not first:
        raise SystemExit(f'--refine-for: {checkpoint} is no refinement model (train.train --refine-of)')
    refine_for = refine_for or (first.name if first else None)
    name = name or (f'{refine_for}-refine' if first else f'flownets-q-w{targs.width:g}-{tag}')
    meta = {'dataset': 'synthetic-chairs', 'trained': datetime.date.today().isoformat(), 'steps': ck['step'],
            'train_minutes': round(ck.get('elapsed', 0) / 60, 1), 'val_epe_fakequant': ck.get('val_epe'),
            'command': 'python3 -m train.train ' + ' '.join(
                f'--{k.replace("_", "-")}' + ('' if v is True else f' {v}')  # store_true flags have no value
                for k, v in vars(targs).items() if v is not None and v is not False)}
    if first:
        meta['refine_for'] = refine_for
        meta['first_pass'] = first.name
    qm = export_model(net, name, size, meta)
    vs = val_seed if val_seed is not None else targs.val_seed
    frames, flow = T.validation_set(size, vs, val_count)
    if first:  # the EPE of the refined pair: the second pass on (frame 1, warped frame 2) against the residual
        from . import refinedata as RD
        frames, flow = RD.RefineTargets(refine_of, frames[:4]).batched(frames, flow)
    rep = compare(net, qm, frames, flow)
    qm.meta['epe'] = round(rep['epe_int'], 4)
    qm.meta['epe_pairs'] = rep['pairs']
    qm.meta['epe_fakequant'] = round(rep['epe_fakequant'], 4)
    MF.save(qm, out)
    MF.load(out)  # read back through every loader check
    rep['bytes'] = len(MF.to_bytes(qm))
    return qm, rep


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('checkpoint')
    p.add_argument('out')
    p.add_argument('--name', help='model name (default from width and bits)')
    p.add_argument('--coarse-for', help='meta.coarse_for: the shipped model whose refined runs use this one for the '
                                        'first pass (src/model/registry.ts coarsePartner)')
    p.add_argument('--coarse-model', help='meta.coarse_model: the shipped model that runs the first pass of this '
                                          'one\'s refined pairs (a partner trained for another model)')
    p.add_argument('--refine-model', help='meta.refine_model: the shipped refinement partner that runs the refinement '
                                          'passes of this one\'s refined pairs (a partner trained for another model)')
    p.add_argument('--refine-for', help='meta.refine_for of a refinement model: the shipped model whose refined pairs '
                                        'it finishes (default: its first pass, train.train --refine-of)')
    p.add_argument('--refine-scope', choices=['every', 'trained-size'], default=None,
                   help='meta.refine_scope of a refinement model: trained-size = it runs second passes at its trained '
                        'size only (src/cli/refine.ts secondPass)')
    p.add_argument('--val-count', type=int, default=16, help='held-out synthetic pairs for the EPE gap report')
    p.add_argument('--val-seed', type=int, default=None)
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    qm, rep = export_checkpoint(args.checkpoint, args.out, args.name, args.val_count, args.val_seed, args.refine_for)
    if args.coarse_for:
        qm.meta['coarse_for'] = args.coarse_for
    if args.coarse_model:
        qm.meta['coarse_model'] = args.coarse_model
    if args.refine_model:
        qm.meta['refine_model'] = args.refine_model
    if args.refine_scope:
        if 'refine_for' not in qm.meta:
            raise SystemExit(f'--refine-scope: {args.checkpoint} is no refinement model (train.train --refine-of)')
        qm.meta['refine_scope'] = args.refine_scope
    if args.coarse_for or args.coarse_model or args.refine_model or args.refine_scope:
        MF.save(qm, args.out)
    print(f'wrote {args.out} ({rep["bytes"]} bytes): EPE fake-quant {rep["epe_fakequant"]:.4f}, integer '
          f'{rep["epe_int"]:.4f} (gap {rep["gap"]:+.5f}), fq-vs-int mean diff {rep["mean_fq_int_diff"]:.5f} px, '
          f'identical on {rep["identical_pairs"]}/{rep["pairs"]} pairs; L1 fake-quant {rep["l1_fakequant"]:.4f}, '
          f'integer {rep["l1_int"]:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
