"""Run the Python integer simulation on a model file and one frame pair; write the int16 flow as raw little-endian
2 x H x W (u plane then v plane), for comparison with the TypeScript reference / HLS engine.

  /usr/bin/python3 -m train.run_intsim --model models/x.ffq --frame1 a.png --frame2 b.png --out flow.i16
  /usr/bin/python3 -m train.run_intsim --model models/x.ffq --input pair.u8 --size 192x256 --out flow.i16
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import intsim
from . import modelfile as MF


def load_frames(args) -> np.ndarray:
    if args.input:
        if not args.size:
            raise SystemExit('--input needs --size HxW')
        h, w = (int(v) for v in args.size.lower().split('x'))
        raw = np.fromfile(args.input, np.uint8)
        if raw.size != 6 * h * w:
            raise SystemExit(f'{args.input}: {raw.size} bytes, expected 6x{h}x{w} = {6 * h * w} (planar R1 G1 B1 R2 G2 B2)')
        return raw.reshape(6, h, w)
    if not (args.frame1 and args.frame2):
        raise SystemExit('give --frame1 and --frame2 (images) or --input (raw 6xHxW uint8)')
    from .data import read_image
    a, b = read_image(args.frame1), read_image(args.frame2)
    if a.shape != b.shape:
        raise SystemExit(f'frames differ in size: {a.shape[:2]} vs {b.shape[:2]}')
    return np.ascontiguousarray(np.concatenate([a, b], 2).transpose(2, 0, 1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', required=True)
    p.add_argument('--frame1')
    p.add_argument('--frame2')
    p.add_argument('--input', help='raw planar uint8 6xHxW (R1 G1 B1 R2 G2 B2)')
    p.add_argument('--size', help='HxW of --input')
    p.add_argument('--out', required=True)
    p.add_argument('--head', action='store_true', help='write the H/4 x W/4 flow-head output instead (before up4)')
    args = p.parse_args(argv)
    try:
        model = MF.load(args.model)
    except MF.ModelFileError as e:
        raise SystemExit(f'{e} (re-export it with python3 -m train.export)')
    except OSError as e:
        raise SystemExit(f'cannot read model file {args.model}: {e.strerror} (check the path)')
    frames = load_frames(args)
    h, w = frames.shape[1:]
    if h % 64 or w % 64:
        raise SystemExit(f'frames are {h}x{w}; the network needs multiples of 64 (resize or crop first)')
    flow = intsim.forward(model, frames, head=args.head)
    flow.astype('<i2').tofile(args.out)
    print(f'{args.out}: int16 2x{flow.shape[1]}x{flow.shape[2]}, F={model.flow_frac_bits}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
