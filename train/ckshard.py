"""Split a training checkpoint's weights into files of at most N MiB and join them back: moving a model through a
transfer that limits file sizes (a GPU machine's result folder). Only the weights and what rebuilds the model
travel (args, arch, step, elapsed, val_epe); the optimizer state does not, so a joined checkpoint fine-tunes
(--init) and exports, but does not --resume.

    python3 -m train.ckshard split runs/x/last.pt OUT/x --max-mib 15     # OUT/x.part0.pt, OUT/x.part1.pt, ...
    python3 -m train.ckshard join OUT/x.part*.pt --out runs/x/last.pt"""
import argparse
import os

import torch

KEEP = ('args', 'arch', 'step', 'elapsed', 'val_epe', 'best')


def split(path: str, prefix: str, max_mib: float = 15.0) -> list[str]:
    ck = torch.load(path, map_location='cpu', weights_only=False)
    limit = int(max_mib * (1 << 20)) - (1 << 16)  # room for pickle framing
    parts: list[dict] = [{}]
    size = 0
    for k, v in ck['model'].items():
        n = v.numel() * v.element_size()
        if n > limit:
            raise SystemExit(f'{path}: tensor {k} ({n} bytes) alone exceeds {max_mib} MiB')
        if size + n > limit and parts[-1]:
            parts.append({})
            size = 0
        parts[-1][k] = v.clone()  # a view would drag its whole storage along
        size += n
    out = []
    for i, sd in enumerate(parts):
        body = dict(model=sd, part=i, parts=len(parts), keys=list(ck['model'].keys()))
        if i == 0:
            body.update({k: ck.get(k) for k in KEEP})
        f = f'{prefix}.part{i}.pt'
        torch.save(body, f)
        out.append(f)
    return out


def join(files: list[str], out: str) -> dict:
    bodies = [torch.load(f, map_location='cpu', weights_only=False) for f in files]
    bodies.sort(key=lambda b: b['part'])
    n = bodies[0]['parts']
    if [b['part'] for b in bodies] != list(range(n)):
        raise SystemExit(f'ckshard join: expected parts 0..{n - 1}, got {[b["part"] for b in bodies]}')
    sd = {}
    for b in bodies:
        sd.update(b['model'])
    order = bodies[0]['keys']
    if sorted(sd) != sorted(order):
        raise SystemExit('ckshard join: the parts do not hold the checkpoint\'s weights')
    ck = {k: bodies[0].get(k) for k in KEEP}
    ck['model'] = {k: sd[k] for k in order}
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.save(ck, out)
    return ck


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('split')
    s.add_argument('checkpoint')
    s.add_argument('prefix')
    s.add_argument('--max-mib', type=float, default=15.0)
    j = sub.add_parser('join')
    j.add_argument('parts', nargs='+')
    j.add_argument('--out', required=True)
    a = p.parse_args(argv)
    if a.cmd == 'split':
        for f in split(a.checkpoint, a.prefix, a.max_mib):
            print(f, os.path.getsize(f))
    else:
        ck = join(a.parts, a.out)
        print(f'{a.out}: step {ck["step"]}, {len(ck["model"])} tensors')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
