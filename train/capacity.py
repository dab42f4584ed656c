"""Capacity vs cost (issue 14 item 3): per width multiplier and network size, MACs, weight bytes and the
`flowfpga plan` frame time on each board, next to the measured EPE where a trained model exists.

  /usr/bin/python3 -m train.capacity [--widths 0.25,0.5] [--sizes 192x256,384x512] [--epe W@HxW=EPE,...] [--json OUT]

The plan needs only the architecture, so untrained models of each width are exported to a temporary .ffq
(random weights, 8-bit) and planned like a shipped file; the frame time does not depend on the weights.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

from . import export as X
from . import model as M

BOARDS = ('pynq-z2', 'ultra96v2', 'zcu104')


def plan(ffq: str, board: str, size: str) -> dict:
    r = subprocess.run(['node', 'bin/flowfpga.js', 'plan', '--board', board, '--model', ffq, '--size', size, '--json'],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f'flowfpga plan {board} {size} failed: {r.stderr.strip()[-300:]}')
    return json.loads(r.stdout)['total']


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--widths', default='0.25,0.5')
    p.add_argument('--sizes', default='192x256,384x512')
    p.add_argument('--epe', default='', help='measured EPE per row, e.g. 0.25@192x256=3.1 (free text allowed)')
    p.add_argument('--json')
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    epe = dict(kv.split('=', 1) for kv in a.epe.split(',') if kv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for w in (float(x) for x in a.widths.split(',')):
            torch.manual_seed(0)
            net = M.make_model('q', w, '8')
            params = sum(p.numel() for n, p in net.named_parameters() if n.endswith('weight') and p.dim() == 4)
            for size in a.sizes.split(','):
                h, wd = (int(v) for v in size.split('x'))
                path = os.path.join(d, f'w{w:g}-{size}.ffq')
                from . import modelfile as MF
                MF.save(X.export_model(net, f'arch-w{w:g}', (h, wd)), path)
                row = dict(width=w, size=size, macs=M.total_macs(net.arch, h, wd), weights=params,
                           epe=epe.get(f'{w:g}@{size}', ''))
                for b in BOARDS:
                    t = plan(path, b, size)
                    row[b] = dict(ms=round(t['est_ms'], 1), fps=round(t['fps'], 1), efficiency=round(t['efficiency'], 3))
                rows.append(row)
                print(json.dumps(row), flush=True)
    print('| Width | Network size | MACs / frame | Weights | EPE | ' + ' | '.join(f'{b} ms (fps)' for b in BOARDS) + ' |')
    print('|---|---|---|---|---|' + '---|' * len(BOARDS))
    for r in rows:
        print(f'| {r["width"]:g} | {r["size"]} | {r["macs"] / 1e9:.3f} G | {r["weights"] / 1e6:.2f} M | {r["epe"]} | '
              + ' | '.join(f'{r[b]["ms"]} ({r[b]["fps"]})' for b in BOARDS) + ' |')
    if a.json:
        with open(a.json, 'w') as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
