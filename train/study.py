"""The bit-width study: original float FlowNetS, float FlowNetS-Q, FlowNetS-Q at n = 8..2 bits (weights and
activations) and one mixed-precision configuration, each with the same training budget, evaluated on the same
held-out synthetic pairs; writes <out>/study.json, study.csv and study.png (EPE vs bits).

  /usr/bin/python3 -m train.study --init train/runs/float-w0.25/last.pt --steps 600 --minutes 8 [--rows q8,q4] [--jobs 2]

Protocol (default): every FlowNetS-Q row continues from the same float FlowNetS-Q checkpoint P (--init) for the same
budget: --steps optimizer steps with the same learning-rate schedule (cosine from --lr) and the same data seed.
`qfloat` continues float training (the control), `qN` and `mixed` are QAT fine-tunes. The budget is counted in steps,
not wall-clock, so that CPU contention or the cheaper float forward pass does not give one row more updates;
--minutes is only a safety cap (a row that hits it is marked in the table with its actual step count).
`orig` (original float FlowNetS) has no such checkpoint: it trains from scratch for P's steps plus --steps (and
P's minutes plus --minutes as its cap), the same total budget as P + one row.
--from-scratch trains every row from random init for --steps at --scratch-lr instead.

Finished rows (their result.json exists) are skipped, so an interrupted study continues where it stopped; several
study processes can share one --out if they get disjoint --rows. Every row is evaluated (EPE and L1) on the held-out
pairs; integer rows are also exported to <out>/<row>/<row>.ffq and evaluated with the integer simulation (EPE of the
.ffq model file itself, which its meta.epe records).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading

# 8-bit where the error enters and leaves (the image layer and the flow head), 6 bits on the full-resolution
# feature maps the flow head reads (conv2 and its concat partner deconv2), 4 bits everywhere else.
MIXED = 'w4a4,conv1=w8a8,conv2=w6a6,deconv2=w6a6,predict_flow2=w8'
ROWS = [('orig', 'orig', None), ('qfloat', 'qfloat', None)] + [(f'q{n}', 'q', str(n)) for n in range(8, 1, -1)] + [
    ('mixed', 'q', MIXED)]


def train_command(args, name: str, kind: str, bits: str | None, init_ck: dict | None) -> list:
    out = os.path.join(args.out, name)
    steps, minutes, lr = args.steps, args.minutes, args.lr
    if args.from_scratch:
        lr = args.scratch_lr
    elif kind == 'orig':
        steps += init_ck['step']
        minutes += round(init_ck['elapsed'] / 60)
        lr = args.scratch_lr
    cmd = [sys.executable, '-m', 'train.train', '--model', kind, '--width', str(args.width), '--size', args.size,
           '--steps', str(steps), '--minutes', f'{minutes:g}', '--batch', str(args.batch), '--lr', f'{lr:g}',
           '--threads', str(args.threads), '--val-count', str(args.val_count), '--eval-every', str(args.eval_every),
           '--seed', str(args.seed)]
    if bits:
        cmd += ['--bits', bits]
    if kind != 'orig' and not args.from_scratch:
        cmd += ['--init', args.init]
    cmd += ['--out', out]
    if os.path.exists(os.path.join(out, 'last.pt')):
        cmd.append('--resume')
    return cmd


def evaluate_row(args, name: str, kind: str) -> dict:
    """EPE and L1 of the trained row (float or fake-quant) and, for integer rows, of its exported .ffq."""
    import torch
    from . import export as X
    from . import train as T
    torch.set_num_threads(max(1, args.threads))
    out = os.path.join(args.out, name)
    net, targs, ck = T.load_model(os.path.join(out, 'last.pt'))
    r = dict(step=ck['step'], minutes=ck.get('elapsed', 0) / 60, command=' '.join(['python3'] + train_command(
        args, name, kind, targs.bits if kind == 'q' else None, _init_ck(args))[1:]).replace(' --resume', ''))
    frames, flow = T.validation_set(T.parse_size(targs.size), targs.val_seed, args.val_count)
    if kind == 'q':
        _, rep = X.export_checkpoint(os.path.join(out, 'last.pt'), os.path.join(out, f'{name}.ffq'),
                                     f'flownets-q-w{args.width:g}-{name}', args.val_count, targs.val_seed)
        r.update(epe=rep['epe_fakequant'], l1=rep['l1_fakequant'], epe_int=rep['epe_int'], l1_int=rep['l1_int'],
                 epe_pairs=rep['pairs'], ffq_bytes=rep['bytes'])
    else:
        from . import model as M
        net.eval()
        e, l = [], []
        with torch.no_grad():
            for i in range(frames.shape[0]):
                p = net(frames[i:i + 1])
                e.append(M.epe(p, flow[i:i + 1]).item())
                l.append(X.l1(p, flow[i:i + 1]))
        r.update(epe=sum(e) / len(e), l1=sum(l) / len(l), epe_pairs=len(e))
    r['hit_time_cap'] = r['step'] < (args.steps if kind != 'orig' or args.from_scratch else
                                     args.steps + _init_ck(args)['step'])
    return r


_CK = {}


def _init_ck(args) -> dict | None:
    if args.from_scratch:
        return None
    if 'ck' not in _CK:
        import torch
        if not os.path.isfile(args.init):
            raise SystemExit(f'--init {args.init}: no such checkpoint (the float FlowNetS-Q pretrain P; '
                             'or use --from-scratch)')
        ck = torch.load(args.init, map_location='cpu', weights_only=False)
        if ck['args']['model'] != 'qfloat':
            raise SystemExit(f'--init {args.init}: expected a float FlowNetS-Q (--model qfloat) checkpoint')
        _CK['ck'] = dict(step=ck['step'], elapsed=ck.get('elapsed', 0.0), val_epe=ck.get('val_epe'))
    return _CK['ck']


def _claim(out: str) -> bool:
    """Take a row for this process (<row>/claim holds the pid), so several study processes can share one row list;
    a claim whose process is gone is taken over."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, 'claim')
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                with open(path) as f:
                    pid = int(f.read().strip() or 0)
                if pid == os.getpid():
                    return True
                os.kill(pid, 0)
                return False
            except (ProcessLookupError, ValueError):
                os.unlink(path)
                continue
        with os.fdopen(fd, 'w') as f:
            f.write(str(os.getpid()))
        return True
    return False


def run_row(args, name: str, kind: str, bits: str | None) -> dict | None:
    out = os.path.join(args.out, name)
    res = os.path.join(out, 'study_row.json')
    if os.path.exists(res):
        with open(res) as f:
            return json.load(f)
    if not _claim(out):
        print(f'[study] {name}: another study process is running it, skipped', flush=True)
        return None
    if not os.path.exists(os.path.join(out, 'result.json')):
        cmd = train_command(args, name, kind, bits, _init_ck(args))
        os.makedirs(out, exist_ok=True)
        print(f'[study] {name}: {" ".join(cmd)}', flush=True)
        with open(os.path.join(args.out, f'{name}.out'), 'a') as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT,
                           env=dict(os.environ, OMP_WAIT_POLICY='PASSIVE'))
    r = evaluate_row(args, name, kind)
    r.update(name=name, kind=kind, bits=bits)
    with open(res, 'w') as f:
        json.dump(r, f, indent=1)
    os.unlink(os.path.join(out, 'claim'))
    print(f'[study] {name}: EPE {r["epe"]:.4f}' + (f', integer {r["epe_int"]:.4f}' if 'epe_int' in r else ''),
          flush=True)
    return r


def markdown(rows: list) -> str:
    """The results table for docs/accuracy.md: per row the options that differ from the common command."""
    ref = next((r['epe'] for r in rows if r['name'] == 'qfloat'), None)
    common = {'--width', '--size', '--batch', '--threads', '--val-count', '--eval-every', '--seed', '--init', '--lr',
              '--minutes', '--steps'}
    out = ['| Row | Bits (w/a) | Budget: steps (wall min) | EPE float / fake-quant | EPE integer `.ffq` | '
           'vs float FlowNetS-Q | L1 float / fake-quant | L1 integer | Command (differs from the common part) |',
           '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        c = r['command'].split()
        diff = []
        i = c.index('train.train') + 1
        while i < len(c):
            if c[i] in common:
                if r['name'] == 'orig' and c[i] in ('--steps', '--minutes', '--lr'):
                    diff += c[i:i + 2]
                i += 2
            elif c[i] == '--out':
                i += 2
            else:
                diff.append(c[i])
                i += 1
        e = r.get('epe_int', r['epe'])
        rel = '' if ref is None or r['name'] == 'qfloat' else f'{100 * (e / ref - 1):+.1f} %'
        fmt = lambda v: '' if v is None else f'{v:.3f}'  # noqa: E731
        cap = ' (hit time cap)' if r.get('hit_time_cap') else ''
        out.append(f'| {r["name"]} | {r["bits"] or "float"} | {r["step"]} ({r["minutes"]:.1f}){cap} | {fmt(r["epe"])} | '
                   f'{fmt(r.get("epe_int"))} | {rel} | {fmt(r["l1"])} | {fmt(r.get("l1_int"))} | '
                   f'`{" ".join(diff)}` |')
    return '\n'.join(out) + '\n'


def post_training(args, rows: list) -> dict:
    """EPE of P with each row's bits and no fine-tuning (fake-quant): what QAT has to repair."""
    import torch
    from . import model as M
    from . import train as T
    torch.set_num_threads(max(1, args.threads))
    net, targs, _ = T.load_model(args.init)
    val = T.validation_set(T.parse_size(targs.size), targs.val_seed, args.val_count)
    out = {'P': T.evaluate(net, val, 'cpu')}
    net.quant = True
    for name, kind, bits in rows:
        if kind == 'q':
            net.set_bits(M.build_arch(targs.width, targs.decoder, bits, targs.flow_frac_bits, targs.w_exp))
            out[name] = T.evaluate(net, val, 'cpu')
    return out


def plot(rows: list, path: str, title: str, ptq: dict | None = None) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    qs = sorted((int(r['name'][1:]), r['epe'], r.get('epe_int')) for r in rows if r['name'][1:].isdigit())
    if qs:
        ax.plot([q[0] for q in qs], [q[1] for q in qs], 'o-', label='FlowNetS-Q QAT (fake-quant)')
        ints = [q for q in qs if q[2] is not None]
        if ints:
            ax.plot([q[0] for q in ints], [q[2] for q in ints], 'x--', label='FlowNetS-Q integer (.ffq)')
    pq = sorted((int(k[1:]), v) for k, v in (ptq or {}).items() if k[1:].isdigit())
    if pq:
        ax.plot([q[0] for q in pq], [q[1] for q in pq], 's:', color='0.45', markersize=4,
                label='P rounded to n bits, no QAT (fake-quant)')
    styles = {'orig': ('k', 'original float FlowNetS (from scratch)'), 'qfloat': ('g', 'float FlowNetS-Q'),
              'zero': ('0.6', 'zero flow'), 'dis_medium': ('m', 'OpenCV DIS medium')}
    for r in rows:
        if r['name'] == 'mixed':
            ax.plot([4], [r.get('epe_int', r['epe'])], '*', color='r', markersize=13,
                    label='mixed (4-bit body, 8-bit conv1/head, 6-bit conv2/deconv2), integer')
        elif r['name'] in styles:
            c, lab = styles[r['name']]
            ax.axhline(r['epe'], color=c, linestyle=':', label=f'{lab}: {r["epe"]:.2f}')
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
    p.add_argument('--init', default='train/runs/float-w0.25/last.pt', help='float FlowNetS-Q checkpoint P')
    p.add_argument('--steps', type=int, default=600, help='training budget of every row, in optimizer steps')
    p.add_argument('--minutes', type=float, default=8, help='wall-clock safety cap per row')
    p.add_argument('--lr', type=float, default=2e-4, help='peak LR of every row continuing from --init')
    p.add_argument('--scratch-lr', type=float, default=1e-3, help='peak LR of rows trained from random init')
    p.add_argument('--from-scratch', action='store_true', help='every row from random init for --steps')
    p.add_argument('--width', type=float, default=0.25)
    p.add_argument('--size', default='192x256')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--threads', type=int, default=1, help='torch threads per training process')
    p.add_argument('--jobs', type=int, default=1, help='rows trained at the same time')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--val-count', type=int, default=64)
    p.add_argument('--eval-every', type=int, default=300)
    p.add_argument('--rows', help='comma-separated subset of ' + ','.join(r[0] for r in ROWS))
    p.add_argument('--baseline', help='JSON with extra reference rows to plot, e.g. {"zero": 7.234, "dis_medium": 3.466}')
    p.add_argument('--plot-only', action='store_true', help='only collect finished rows and redraw')
    p.add_argument('--ptq', action='store_true', help='also measure P rounded to each row\'s bits without QAT')
    args = p.parse_args(argv)
    want = args.rows.split(',') if args.rows else [r[0] for r in ROWS]
    unknown = set(want) - {r[0] for r in ROWS}
    if unknown:
        raise SystemExit(f'unknown rows {sorted(unknown)}; choose from {[r[0] for r in ROWS]}')
    if args.init and not args.from_scratch and not args.plot_only:
        _init_ck(args)
    os.makedirs(args.out, exist_ok=True)
    todo = [next(r for r in ROWS if r[0] == n) for n in dict.fromkeys(want)]  # in --rows order (priority)
    done: dict = {}
    if args.plot_only:
        for name, _, _ in todo:
            res = os.path.join(args.out, name, 'study_row.json')
            if os.path.exists(res):
                with open(res) as f:
                    done[name] = json.load(f)
    else:
        queue = list(todo)
        lock = threading.Lock()
        errors = []

        def worker():
            while True:
                with lock:
                    if not queue or errors:
                        return
                    row = queue.pop(0)
                try:
                    r = run_row(args, *row)
                except (subprocess.CalledProcessError, SystemExit) as e:
                    with lock:
                        errors.append(f'row {row[0]}: {e}')
                    return
                if r is not None:
                    with lock:
                        done[row[0]] = r

        threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise SystemExit('; '.join(errors) + f' (log: {args.out}/<row>.out)')
    results = [done[n] for n, _, _ in todo if n in done]
    extra = []
    if args.baseline:
        with open(args.baseline) as f:
            extra = [dict(name=k, epe=v) for k, v in json.load(f).items()]
    ptq = post_training(args, todo) if args.ptq and not args.from_scratch else None
    if ptq:
        print('no QAT: ' + ', '.join(f'{k} {v:.4f}' for k, v in ptq.items()), flush=True)
    with open(os.path.join(args.out, 'study.json'), 'w') as f:
        json.dump(dict(post_training_epe=ptq, steps=args.steps, minutes_cap=args.minutes, init=None if args.from_scratch else args.init,
                       width=args.width, size=args.size, rows=results), f, indent=1)
    with open(os.path.join(args.out, 'study.csv'), 'w') as f:
        f.write('row,bits,steps,minutes,epe_float_or_fakequant,l1_float_or_fakequant,epe_int,l1_int,command\n')
        for r in results:
            fmt = lambda v: '' if v is None else f'{v:.4f}'  # noqa: E731
            f.write(f'{r["name"]},"{r["bits"] or "float"}",{r["step"]},{r["minutes"]:.1f},{fmt(r["epe"])},'
                    f'{fmt(r["l1"])},{fmt(r.get("epe_int"))},{fmt(r.get("l1_int"))},"{r["command"]}"\n')
    with open(os.path.join(args.out, 'study.md'), 'w') as f:
        f.write(markdown(results))
    if results:
        budget = f'from scratch, {args.steps} steps/row' if args.from_scratch else \
            f'float pretrain + {args.steps} steps/row'
        plot(results + extra, os.path.join(args.out, 'study.png'),
             f'FlowNetS width {args.width:g}, {args.size}, {budget}, held-out synthetic chairs', ptq)
    for r in results:
        print(f'{r["name"]:8s} steps {r["step"]:5d} EPE {r["epe"]:.3f} L1 {r["l1"]:.3f}' +
              (f'  integer EPE {r["epe_int"]:.3f} L1 {r["l1_int"]:.3f}' if 'epe_int' in r else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
