"""The bit-width study: original float FlowNetS, float FlowNetS-Q, FlowNetS-Q at n = 8..2 bits (weights and
activations) and one mixed-precision configuration, each row with the same training budget, evaluated on the same
held-out synthetic pairs; writes <out>/study.json, study.csv and study.png (EPE vs bits).

  /usr/bin/python3 -m train.study --out train/runs/study --minutes 20 --width 0.25 --size 192x256 [--rows q8,q4]

Quantized rows fine-tune from the float FlowNetS-Q row's checkpoint (float pretrain then QAT, as in the thesis) with
the same budget as every other row; --from-scratch trains them from random init instead. Finished rows (their
result.json exists) are skipped, so an interrupted study continues where it stopped. Integer rows are also
exported and evaluated with the integer simulation (EPE of the .ffq model itself).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

MIXED = 'w4a4,conv1=w8a8,conv2=a6,predict_flow2=w8'
ROWS = [('orig', 'orig', None), ('qfloat', 'qfloat', None)] + [(f'q{n}', 'q', str(n)) for n in range(8, 1, -1)] + [
    ('mixed', 'q', MIXED)]


def run_row(args, name, kind, bits) -> dict:
    out = os.path.join(args.out, name)
    res = os.path.join(out, 'result.json')
    if os.path.exists(res):
        with open(res) as f:
            return json.load(f)
    cmd = [sys.executable, '-m', 'train.train', '--model', kind, '--width', str(args.width), '--size', args.size,
           '--minutes', str(args.minutes), '--batch', str(args.batch), '--threads', str(args.threads),
           '--val-count', str(args.val_count), '--out', out, '--seed', str(args.seed)]
    if bits:
        cmd += ['--bits', bits]
    if kind == 'q':
        cmd += ['--lr', str(args.qat_lr)]
        init = os.path.join(args.out, 'qfloat', 'last.pt')
        if not args.from_scratch:
            if not os.path.exists(init):
                raise SystemExit(f'row {name} fine-tunes from {init}; run the qfloat row first (or --from-scratch)')
            cmd += ['--init', init]
    if os.path.exists(os.path.join(out, 'last.pt')):
        cmd.append('--resume')
    print(f'[study] {name}: {" ".join(cmd)}', flush=True)
    subprocess.run(cmd, check=True)
    with open(res) as f:
        r = json.load(f)
    if kind == 'q':
        ffq = os.path.join(out, f'{name}.ffq')
        p = subprocess.run([sys.executable, '-m', 'train.export', os.path.join(out, 'last.pt'), ffq,
                            '--val-count', str(min(args.val_count, 16))], check=True, capture_output=True, text=True)
        print(p.stdout.strip(), flush=True)
        from .modelfile import load
        meta = load(ffq).meta
        r['epe_int'] = meta.get('epe')
        r['epe_int_pairs'] = meta.get('epe_pairs')
        r['ffq_bytes'] = os.path.getsize(ffq)
        with open(res, 'w') as f:
            json.dump(r, f, indent=1)
    return r


def plot(rows: list, path: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    qs = [(int(r['name'][1:]), r['val_epe'], r.get('epe_int')) for r in rows if r['name'][1:].isdigit()]
    if qs:
        qs.sort()
        ax.plot([q[0] for q in qs], [q[1] for q in qs], 'o-', label='FlowNetS-Q QAT (fake-quant)')
        ints = [q for q in qs if q[2] is not None]
        if ints:
            ax.plot([q[0] for q in ints], [q[2] for q in ints], 'x--', label='FlowNetS-Q integer (.ffq)')
    styles = {'orig': ('k', 'original float FlowNetS'), 'qfloat': ('g', 'float FlowNetS-Q'), 'mixed': ('r', 'mixed: ' + MIXED)}
    for r in rows:
        if r['name'] in styles:
            c, lab = styles[r['name']]
            if r['name'] == 'mixed':
                ax.plot([4], [r['val_epe']], '*', color=c, markersize=12, label=lab)
            else:
                ax.axhline(r['val_epe'], color=c, linestyle=':', label=lab)
    ax.set_xlabel('bits (weights = activations)')
    ax.set_ylabel('EPE on held-out synthetic pairs (px)')
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default='train/runs/study')
    p.add_argument('--minutes', type=float, default=20, help='training budget of every row')
    p.add_argument('--width', type=float, default=0.25)
    p.add_argument('--size', default='192x256')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--val-count', type=int, default=64)
    p.add_argument('--qat-lr', type=float, default=2e-4)
    p.add_argument('--from-scratch', action='store_true')
    p.add_argument('--rows', help='comma-separated subset of ' + ','.join(r[0] for r in ROWS))
    p.add_argument('--plot-only', action='store_true', help='only redraw from finished rows')
    args = p.parse_args(argv)
    want = args.rows.split(',') if args.rows else [r[0] for r in ROWS]
    unknown = set(want) - {r[0] for r in ROWS}
    if unknown:
        raise SystemExit(f'unknown rows {sorted(unknown)}; choose from {[r[0] for r in ROWS]}')
    os.makedirs(args.out, exist_ok=True)
    results = []
    for name, kind, bits in ROWS:
        if name not in want:
            continue
        if args.plot_only:
            res = os.path.join(args.out, name, 'result.json')
            if not os.path.exists(res):
                continue
            with open(res) as f:
                r = json.load(f)
        else:
            r = run_row(args, name, kind, bits)
        results.append(dict(name=name, kind=kind, bits=bits, val_epe=r['val_epe'], epe_int=r.get('epe_int'),
                            steps=r['step'], minutes=r.get('minutes'), ffq_bytes=r.get('ffq_bytes')))
    with open(os.path.join(args.out, 'study.json'), 'w') as f:
        json.dump(dict(budget_minutes=args.minutes, width=args.width, size=args.size, rows=results), f, indent=1)
    with open(os.path.join(args.out, 'study.csv'), 'w') as f:
        f.write('row,bits,val_epe_fakequant_or_float,epe_int,steps,minutes\n')
        for r in results:
            f.write(f'{r["name"]},"{r["bits"] or "float"}",{r["val_epe"]:.4f},'
                    f'{"" if r["epe_int"] is None else r["epe_int"]},{r["steps"]},{r["minutes"]:.1f}\n')
    if results:
        plot(results, os.path.join(args.out, 'study.png'),
             f'FlowNetS width {args.width}, {args.size}, {args.minutes:g} min/row, synthetic chairs')
    for r in results:
        print(f'{r["name"]:8s} EPE {r["val_epe"]:.3f}' + (f'  int {r["epe_int"]:.3f}' if r['epe_int'] else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
