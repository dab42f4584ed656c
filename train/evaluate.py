"""EPE of checkpoints (float / fake-quantized) and .ffq model files (integer simulation) on held-out synthetic pairs
or a FlyingChairs-layout folder.

  /usr/bin/python3 -m train.evaluate train/runs/q8-w0.25/last.pt models/flownets-q-w0.25-8bit.ffq [--data samples]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from . import data as D
from . import intsim
from . import model as M
from . import modelfile as MF
from . import train as T


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('models', nargs='+', help='.pt checkpoints and/or .ffq model files')
    p.add_argument('--size', default='192x256')
    p.add_argument('--val-seed', type=int, default=900001)
    p.add_argument('--val-count', type=int, default=64)
    p.add_argument('--data', help='FlyingChairs-layout folder instead of the synthetic validation set')
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    if a.data:
        ds = D.FlyingChairs(a.data, 'all')
        items = [ds[i] for i in range(len(ds))]
        frames, flow = torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])
        where = f'{a.data} ({len(items)} pairs)'
    else:
        frames, flow = T.validation_set(T.parse_size(a.size), a.val_seed, a.val_count)
        where = f'synthetic val seed {a.val_seed} ({a.val_count} pairs)'
    for path in a.models:
        if path.endswith('.ffq'):
            qm = MF.load(path)
            e = [M.epe(torch.from_numpy(intsim.forward(qm, frames[i].numpy()).astype(np.float32)
                                        * 2.0 ** -qm.flow_frac_bits)[None], flow[i:i + 1]).item()
                 for i in range(frames.shape[0])]
            print(f'{path}: integer EPE {np.mean(e):.4f} on {where}')
        else:
            net, targs, _ = T.load_model(path)
            print(f'{path}: {targs.model} EPE {T.evaluate(net, (frames, flow), "cpu"):.4f} on {where}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
