"""Reference points for the EPE numbers in docs/accuracy.md, on the same held-out synthetic pairs as training's
validation: zero flow, and OpenCV's DIS optical flow (classical, float; apt install python3-opencv).

  /usr/bin/python3 -m train.baseline --size 192x256 --val-count 64 [--data samples]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from . import data as D
from . import model as M
from . import train as T


def dis_flow(frames: np.ndarray, preset: str = 'medium') -> np.ndarray:
    import cv2
    p = {'ultrafast': cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, 'fast': cv2.DISOPTICAL_FLOW_PRESET_FAST,
         'medium': cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
    dis = cv2.DISOpticalFlow_create(p)
    g1 = cv2.cvtColor(np.ascontiguousarray(frames[:3].transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)
    g2 = cv2.cvtColor(np.ascontiguousarray(frames[3:].transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)
    return dis.calc(g1, g2, None).transpose(2, 0, 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--size', default='192x256')
    p.add_argument('--val-seed', type=int, default=900001)
    p.add_argument('--val-count', type=int, default=64)
    p.add_argument('--data', help='a FlyingChairs-layout folder (e.g. samples) instead of the synthetic val set')
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    if a.data:
        ds = D.FlyingChairs(a.data, 'all')
        items = [ds[i] for i in range(len(ds))]
        frames, flow = torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])
    else:
        frames, flow = T.validation_set(T.parse_size(a.size), a.val_seed, a.val_count)
    from .export import l1
    zero = M.epe(torch.zeros_like(flow), flow).item()
    print(f'pairs {frames.shape[0]}  zero-flow EPE {zero:.3f} L1 {l1(torch.zeros_like(flow), flow):.3f}')
    try:
        import cv2  # noqa: F401
    except ImportError:
        print('DIS: python3-opencv not installed (apt install python3-opencv)')
        return 0
    for preset in ('fast', 'medium'):
        e, l = [], []
        for i in range(frames.shape[0]):
            f = torch.from_numpy(dis_flow(frames[i].numpy(), preset))[None]
            e.append(M.epe(f, flow[i:i + 1]).item())
            l.append(l1(f, flow[i:i + 1]))
        print(f'DIS {preset:6s} EPE {np.mean(e):.3f} L1 {np.mean(l):.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
