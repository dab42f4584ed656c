"""Write the bundled sample pairs (samples/): synthetic FlyingChairs-style frames and ground-truth flow, in the
FlyingChairs file layout (NNNNN_img1.ppm, NNNNN_img2.ppm, NNNNN_flow.flo) so every reader (src/flow/datasets.ts,
train/data.py) picks up the ground truth; --png writes NNNNN_img1.png etc. instead. The seed is used neither for
training (--seed) nor for validation (--val-seed).

  /usr/bin/python3 -m train.make_samples samples --count 3 --size 192x256
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PIL import Image

from . import data as D

SAMPLE_SEED = 424242


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('out')
    p.add_argument('--count', type=int, default=3)
    p.add_argument('--size', default='192x256')
    p.add_argument('--seed', type=int, default=SAMPLE_SEED)
    p.add_argument('--png', action='store_true', help='PNG frames instead of PPM')
    a = p.parse_args(argv)
    h, w = (int(v) for v in a.size.split('x'))
    ds = D.SyntheticChairs(a.seed, config=D.ChairsConfig(height=h, width=w))
    os.makedirs(a.out, exist_ok=True)
    for i in range(a.count):
        frames, flow = ds[i]
        f = frames.numpy()
        for k in (0, 1):
            ext = 'png' if a.png else 'ppm'
            Image.fromarray(np.ascontiguousarray(f[3 * k:3 * k + 3].transpose(1, 2, 0))).save(
                os.path.join(a.out, f'{i + 1:05d}_img{k + 1}.{ext}'))
        D.write_flo(os.path.join(a.out, f'{i + 1:05d}_flow.flo'), flow.numpy())
        mag = np.sqrt((flow.numpy() ** 2).sum(0))
        print(f'{i + 1:05d}: {w}x{h}, mean |flow| {mag.mean():.2f} px, max {mag.max():.2f} px')
    return 0


if __name__ == '__main__':
    sys.exit(main())
