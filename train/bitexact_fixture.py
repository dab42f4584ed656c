"""Fixture for test/train-bitexact.test.ts: briefly train tiny FlowNetS-Q models (both decoders, uniform and mixed
bits), export them, and write frames + the Python integer simulation's flow for the TypeScript reference to match.

  /usr/bin/python3 -m train.bitexact_fixture OUTDIR   ->  OUTDIR/<case>.ffq, <case>.frames.u8, <case>.flow.i16, cases.json
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

from . import data as D
from . import export as E
from . import intsim
from . import model as M

CASES = [
    ('uc-8', 'upsample-conv', '8'),
    ('cu-6', 'conv-upsample', '6'),
    ('uc-mixed', 'upsample-conv', 'w3a4,conv1=w8a8,conv2=a6,predict_flow2=w8'),
]


def make(outdir: str, steps: int = 3, h: int = 64, w: int = 128) -> list:
    torch.set_num_threads(1)
    os.makedirs(outdir, exist_ok=True)
    ds = D.SyntheticChairs(77, config=D.ChairsConfig(height=h, width=w))
    frames, flow = D.batch(ds, range(4))
    cases = []
    for i, (name, dec, bits) in enumerate(CASES):
        torch.manual_seed(i)
        net = M.make_model('q', 1 / 16, bits, dec)
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        for _ in range(steps):  # a few steps so BN statistics and weights are not at their init
            loss = M.loss_fn(net, frames, flow)
            opt.zero_grad()
            loss.backward()
            opt.step()
        qm = E.export_model(net, f'bitexact-{name}', (h, w), {'fixture': True})
        from . import modelfile as MF
        MF.save(qm, os.path.join(outdir, f'{name}.ffq'))
        f = frames[i % frames.shape[0]].numpy()
        f.tofile(os.path.join(outdir, f'{name}.frames.u8'))
        intsim.forward(qm, f).astype('<i2').tofile(os.path.join(outdir, f'{name}.flow.i16'))
        cases.append(dict(name=name, h=h, w=w, decoder=dec, bits=bits))
    with open(os.path.join(outdir, 'cases.json'), 'w') as fh:
        json.dump(cases, fh)
    return cases


if __name__ == '__main__':
    if len(sys.argv) != 2:
        raise SystemExit('usage: python3 -m train.bitexact_fixture OUTDIR')
    print(json.dumps(make(sys.argv[1])))
