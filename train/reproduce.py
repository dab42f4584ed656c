"""One command per shipped model: the whole training chain behind models/<name>.ffq, resumable.

  /usr/bin/python3 -m train.reproduce 8bit               # -> train/runs/repro/flownets-q-w0.25-8bit.ffq
  /usr/bin/python3 -m train.reproduce 6bit --install     # ... and copy it into models/
  /usr/bin/python3 -m train.reproduce mixed --dry-run    # print the stage commands only
  /usr/bin/python3 -m train.reproduce 8bit-coarse        # the 8-bit model's coarse-pass partner (below)

Stages (docs/accuracy.md "Shipped models"; every stage is a train.train run with its own progress lines and ETA):
  1. float FlowNetS-Q pretrain P   (seed 1, lr 1e-3)
  2. float continuation on fresh data (seed 2, lr 5e-4, initialised from P)
  3. QAT fine-tune at the model's bits (seed 3, lr 2e-4, initialised from stage 2)
  4. export to .ffq (BatchNorm folded; meta.epe = integer EPE on the 64 held-out pairs)
  5. (targets in ROBUST_STEPS) export the stage-3 model as <name>-base.ffq, fine-tune it on the robust data
     (heavy-tailed motion, training texture packages, camera and zoom augmentation; docs/accuracy.md
     "Training that covers its use"), initialised from that file (--init-ffq), and export the result
  8bit-coarse: stages 1-4 of 8bit (shared run folders), then one robust fine-tune of that export (22,318 steps,
     batch 16, lr 2e-4, seed 32; shipped from a GPU lease, docs/accuracy.md "A GPU lease"), exported with
     meta.coarse_for = the 8-bit model: `run`/`eval` use it for the first pass of a refined pair ("Refinement").
  6bit-coarse: the same GPU stage (same folder), then 800 steps of 6-bit QAT from it on the robust data (batch 8,
     lr 1e-4, seed 13; CPU); meta.coarse_for = the 6-bit model.
  8bit-w0.5: the shipped width-0.25 8-bit model widened to width 0.5 (train/widen.py) and fine-tuned with 8-bit QAT
     on the original data (fresh scenes, seed 4), exported as flownets-q-w0.5-8bit-base.ffq; then a robust fine-tune
     of that file (17,231 steps, batch 16, lr 2e-4, seed 31; shipped from a GPU lease) and the export: instead of
     the ≈ 15 CPU-hours of the whole chain at width 0.5 (docs/accuracy.md "Capacity vs cost"). Its refined pairs
     run both passes on itself.
  8bit-w0.5-refine: the refinement partner of 8bit-w0.5: the second pass of its refined pairs (trained at the
     trained size; it runs at twice it; train/refinedata.py), 8-bit QAT initialised from the shipped model file and trained on (frame 1, frame 2
     warped by that model's flow) for the residual, robust data, 5993 steps, batch 8, lr 1e-4, seed 41 (CPU; a
     95-minute wall-clock schedule when shipped), exported with
     meta.refine_for = the model: `run`/`eval` then run every second pass on it ("Refinement").
  8bit-refine: the same for the width-0.25 8-bit model, whose refined pairs start on its coarse-pass partner: trained
     on the residuals of flownets-q-w0.25-8bit-coarse.ffq, initialised from the 8-bit model (the better second pass
     untrained), 3588 steps (a 40-minute schedule when shipped), seed 42, exported as
     <name>-at-trained-size.ffq; then the same fine-tune at 384x512, twice the trained size, where `--refine auto`
     runs it (the first pass on the pair resized down; train/refinedata.py), initialised from that file, 2281 steps
     (an 80-minute schedule when shipped, 1 thread after the first 225 steps at 2), seed 43 (session 14).
The GPU stages ran with --workers (train/stream.py: samples from worker processes, reused from a ring on the GPU,
6.4x for 8bit-w0.5 and 14.5x for 8bit-coarse), and their learning rate followed a 7-minute wall-clock schedule;
reruns here follow a step schedule over the same number of steps (`--workers N` on a GPU machine).
Stages that finished (result.json at their step count) are skipped; an interrupted stage resumes from its last.pt.
Budgets are step counts, so a rerun does the same number of updates whatever the machine's speed. The shipped runs
used wall-clock budgets for stages 1 and 2 (a cosine schedule over minutes); the step counts here are the steps
those runs completed, so a rerun follows the same schedule only approximately (same data, same number of updates).
"""
import argparse
import json
import os
import shutil
import sys

from . import export as X
from . import train as T

# Steps each shipped stage completed (train/runs/*/result.json of the runs behind models/).
PRETRAIN_STEPS = 2585
CONTINUE_STEPS = 14036
QAT_STEPS = 1200
MIXED_BITS = 'w4a5,conv1=w8a8,predict_flow2=w8'
TARGETS = {'8bit': '8', '6bit': '6', 'mixed': MIXED_BITS}
# Stage 5: data options of the robust fine-tune and the steps each shipped robust model completed (targets absent
# here ship the stage-3 model). Needs the training texture packages (data.TRAIN_SOURCES; see train/README.md).
ROBUST_ARGS = ['--motion', 'heavy', '--sources', 'train', '--camera', '0.7', '--zoom', '1.6', '--lr', '2e-4',
               '--seed', '11', '--eval-every', '500']
ROBUST_STEPS: dict[str, int] = {}
# Models whose refined pairs end on another model's refinement partner (meta.refine_model, session 15: the 8-bit
# partner finishes 6-bit and mixed first passes within 5 % of float, docs/accuracy.md "A 6-bit first pass with an
# 8-bit refinement partner").
REFINE_MODEL = {'6bit': '8bit-refine', 'mixed': '8bit-refine'}
# Coarse-pass partners (models/<name>-coarse.ffq): base target, then (run folder, schedule steps, extra
# train.train args) per robust stage, as shipped. Partners share the stages they have in common (same folders).
# The GPU lease's robust stage (train/experiments/gpu-robust.sh): batch 16 from a 6000-sample ring.
GPU_ROBUST = ['--batch', '16', '--pool', '6000', '--eval-every', '1000']
COARSE_GPU = ('coarse-gpu', 22318, [*GPU_ROBUST, '--seed', '32'])
COARSE = {
    '8bit-coarse': ('8bit', [COARSE_GPU]),
    '6bit-coarse': ('8bit', [COARSE_GPU, ('coarse-6bit', 800, ['--bits', '6', '--lr', '1e-4', '--seed', '13',
                                                               '--eval-every', '400'])]),
}
# Widened models: target -> (shipped model it starts from, width, steps, train.train args, then the robust stage as
# (run folder, steps, extra train.train args)), as shipped (docs/accuracy.md "A GPU lease").
WIDE = {
    '8bit-w0.5': ('models/flownets-q-w0.25-8bit.ffq', 0.5, 6000,
                  ['--model', 'q', '--bits', '8', '--widen', '--widen-noise', '0.02', '--lr', '1e-4', '--seed', '4',
                   '--eval-every', '500'], ('w0.5-robust', 17231, [*GPU_ROBUST, '--seed', '31'])),
}


# Refinement partners (models/<name>-refine.ffq): target -> (the model they finish, the shipped file of its refined
# pairs' first pass (the model, or its coarse-pass partner), the file they start from, width, steps, train.train
# args), as shipped
# (docs/accuracy.md "A trained second pass").
REFINE_ARGS = ['--model', 'q', '--bits', '8', '--motion', 'heavy', '--sources', 'train', '--camera', '0.7', '--zoom',
               '1.6', '--lr', '1e-4', '--eval-every', '250']
REFINE = {
    '8bit-w0.5-refine': ('flownets-q-w0.5-8bit', 'models/flownets-q-w0.5-8bit.ffq', 'models/flownets-q-w0.5-8bit.ffq',
                         0.5, 5993,
                         [*REFINE_ARGS, '--seed', '41']),
    '8bit-refine': ('flownets-q-w0.25-8bit', 'models/flownets-q-w0.25-8bit-coarse.ffq',
                    'models/flownets-q-w0.25-8bit.ffq', 0.25, 3588,
                    [*REFINE_ARGS, '--seed', '42']),
}
# Partners fine-tuned again at twice the trained size, where `--refine auto` runs them (session 14): target ->
# (steps, train.train args) of that stage, initialised from the first stage's export.
REFINE_AT_TWICE = {
    '8bit-refine': (2281, ['--seed', '43']),
}


def reproduce_refine(a, extra) -> int:
    target, src, init, width, n, args = REFINE[a.model]
    shipped = not (a.steps or a.size != '192x256' or a.val_count != 64 or a.first_from or a.width is not None
                   or a.twice_steps is not None)
    src, width = a.first_from or src, width if a.width is None else a.width
    init = a.first_from or init
    if a.steps:
        if not a.steps.isdigit() or int(a.steps) < 1:
            raise SystemExit(f'--steps: {a.model} has one stage: one positive step count, e.g. {n}')
        n = int(a.steps)
    if a.first_from:  # tests: the model a first pass of another name finishes is that one
        from . import modelfile as MF
        target = MF.load(a.first_from).name
    name = f'{target}-refine'
    twice = REFINE_AT_TWICE.get(a.model)
    if a.twice_steps is not None:  # tests
        if not twice:
            raise SystemExit(f'--twice-steps: {a.model} has no stage at twice the trained size '
                             f'(only {", ".join(REFINE_AT_TWICE)})')
        twice = (a.twice_steps, twice[1])
    out, ffq = os.path.join(a.out_dir, name), os.path.join(a.out_dir, f'{name}.ffq')
    first_ffq = os.path.join(a.out_dir, f'{name}-at-trained-size.ffq') if twice else ffq
    common = ['--width', f'{width:g}', '--batch', '8', '--val-count', str(a.val_count)]
    argv = [*args, '--refine-of', src, '--init-ffq', init, '--steps', str(n), '--size', a.size, *common, '--out', out,
            *extra]
    exp = lambda ck, dst: [ck, dst, '--name', name, '--refine-for', target, '--val-count', str(a.val_count)]  # noqa: E731
    plan = [(out, argv, n, f'second pass after {src}', exp(os.path.join(out, 'last.pt'), first_ffq))]
    if twice:
        # The same residuals at twice the size, where the pass runs (train/refinedata.py: the first pass sees the
        # pair resized down).
        h, w = T.parse_size(a.size)
        tn, targs = twice
        tout = f'{out}-x2'
        plan.append((tout, [*REFINE_ARGS, *targs, '--refine-of', src, '--init-ffq', first_ffq, '--steps', str(tn),
                            '--size', f'{2 * h}x{2 * w}', *common, '--out', tout, *extra], tn,
                     f'the same at {2 * h}x{2 * w}', exp(os.path.join(tout, 'last.pt'), ffq)))
    return _run_chain(a, plan, ffq, shipped)


def reproduce_wide(a, extra) -> int:
    src, width, n, args, (rfolder, rn, rargs) = WIDE[a.model]
    shipped = not (a.steps or a.size != '192x256' or a.val_count != 64 or a.wide_from or a.width is not None)
    src, width = a.wide_from or src, width if a.width is None else a.width
    if a.steps:
        steps = a.steps.split(',')
        if len(steps) != 2 or not all(x.isdigit() and int(x) > 0 for x in steps):
            raise SystemExit(f'--steps: {a.model} has two stages: two positive step counts, e.g. 6000,17231')
        n, rn = (int(x) for x in steps)
    name = f'flownets-q-w{width:g}-{a.model.rsplit("-w", 1)[0]}'
    out, rout = os.path.join(a.out_dir, name), os.path.join(a.out_dir, rfolder)
    base, ffq = (os.path.join(a.out_dir, f'{name}{x}.ffq') for x in ('-base', ''))
    common = ['--width', f'{width:g}', '--size', a.size, '--batch', '8', '--val-count', str(a.val_count)]
    plan = [(out, [*args, '--init-ffq', src, '--steps', str(n), *common, '--out', out, *extra], n,
             f'widened from {src}', [os.path.join(out, 'last.pt'), base, '--name', f'{name}-base', '--val-count',
                                     str(a.val_count)]),
            (rout, ['--model', 'q', '--bits', '8', '--init-ffq', base, '--steps', str(rn), *common, *ROBUST_ARGS,
                    *rargs, '--out', rout, *extra], rn, 'robust fine-tune',
             [os.path.join(rout, 'last.pt'), ffq, '--name', name, '--val-count', str(a.val_count)])]
    return _run_chain(a, plan, ffq, shipped)


def _run_chain(a, plan, ffq: str, shipped: bool) -> int:
    """Train and export each (folder, train.train argv, steps, what, train.export argv) in turn: a finished stage
    is skipped, an interrupted one resumes; then record the reproduce command (shipped settings) and install."""
    if a.dry_run:
        for _, argv, _, _, exp in plan:
            print('/usr/bin/python3 -m train.train ' + ' '.join(argv))
            print('/usr/bin/python3 -m train.export ' + ' '.join(exp))
        return 0
    total = 2 * len(plan)
    for i, (folder, argv, k, what, exp) in enumerate(plan):
        if finished(folder, k):
            print(f'stage {2 * i + 1}/{total}: {folder} already at {k} steps, skipped', flush=True)
        else:
            resume = os.path.exists(os.path.join(folder, 'last.pt'))
            print(f'stage {2 * i + 1}/{total}: {folder} ({what}, {k} steps{", resuming" if resume else ""})', flush=True)
            T.main([*argv, '--resume'] if resume else argv)
        print(f'stage {2 * i + 2}/{total}: export {exp[1]}', flush=True)
        X.main([*exp, '--threads', str(a.threads)])
    if shipped:
        _record(ffq, a.model)
    _install(a, ffq)
    return 0


def _record(ffq: str, target: str) -> None:
    from . import modelfile as MF
    qm = MF.load(ffq)
    qm.meta['reproduce'] = f'/usr/bin/python3 -m train.reproduce {target}'
    MF.save(qm, ffq)


def _install(a, ffq: str) -> None:
    if a.install:
        dst = os.path.join('models', os.path.basename(ffq))
        shutil.copyfile(ffq, dst)
        print(f'installed {dst}')


def stages(target: str, out_dir: str, steps=(PRETRAIN_STEPS, CONTINUE_STEPS, QAT_STEPS), width: float = 0.25,
           size: str = '192x256', extra=()) -> list[tuple[str, list[str], int]]:
    """(out folder, train.train argv, step count) per training stage."""
    common = ['--width', str(width), '--size', size, '--batch', '8', '--val-count', '64', *extra]
    p, f, q = (os.path.join(out_dir, n) for n in ('float-p', 'float-cont', target))
    return [
        (p, ['--model', 'qfloat', '--lr', '1e-3', '--seed', '1', '--steps', str(steps[0]), '--out', p, *common],
         steps[0]),
        (f, ['--model', 'qfloat', '--lr', '5e-4', '--seed', '2', '--steps', str(steps[1]), '--eval-every', '1000',
             '--init', os.path.join(p, 'last.pt'), '--out', f, *common], steps[1]),
        (q, ['--model', 'q', '--bits', TARGETS[target], '--lr', '2e-4', '--seed', '3', '--steps', str(steps[2]),
             '--eval-every', '600', '--init', os.path.join(f, 'last.pt'), '--out', q, *common], steps[2]),
    ]


def finished(out: str, steps: int) -> bool:
    try:
        with open(os.path.join(out, 'result.json')) as fh:
            return json.load(fh)['step'] >= steps
    except (OSError, ValueError, KeyError):
        return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model', choices=sorted([*TARGETS, *COARSE, *WIDE, *REFINE]), help='which shipped model to reproduce')
    ap.add_argument('--out-dir', default='train/runs/repro', help='run folders and the .ffq go here')
    ap.add_argument('--install', action='store_true', help='copy the exported .ffq into models/')
    ap.add_argument('--dry-run', action='store_true', help='print the stage commands and exit')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--device', default='auto')
    ap.add_argument('--nproc', type=int, default=1)
    ap.add_argument('--workers', type=int, default=0,
                    help='every training stage: samples from this many worker processes (train/stream.py; for a GPU machine)')
    # For tests and quick trials: other step counts / width / size than the shipped ones.
    ap.add_argument('--steps', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--width', type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument('--wide-from', default=None, help=argparse.SUPPRESS)  # widened targets: another start file
    ap.add_argument('--first-from', default=None, help=argparse.SUPPRESS)  # refinement targets: another first pass
    ap.add_argument('--size', default='192x256', help=argparse.SUPPRESS)
    ap.add_argument('--val-count', type=int, default=64, help=argparse.SUPPRESS)
    ap.add_argument('--robust-steps', default=None, help=argparse.SUPPRESS)  # steps per robust stage, comma-separated
    ap.add_argument('--twice-steps', type=int, default=None, help=argparse.SUPPRESS)  # refinement: the 2x stage
    a = ap.parse_args(argv)
    extra = ['--threads', str(a.threads), '--device', a.device, '--nproc', str(a.nproc), '--workers', str(a.workers)]
    if a.first_from and a.model not in REFINE:
        raise SystemExit('--first-from: only for refinement targets (' + ', '.join(REFINE) + ')')
    if a.wide_from and a.model not in WIDE:
        raise SystemExit('--wide-from: only for widened targets (' + ', '.join(WIDE) + ')')
    if a.model in WIDE:
        return reproduce_wide(a, extra)
    if a.model in REFINE:
        return reproduce_refine(a, extra)
    steps = tuple(int(s) for s in a.steps.split(',')) if a.steps else (PRETRAIN_STEPS, CONTINUE_STEPS, QAT_STEPS)
    if len(steps) != 3 or min(steps) < 1:
        raise SystemExit('--steps: three positive step counts, e.g. 2585,14036,1200')
    a.width = 0.25 if a.width is None else a.width
    base = COARSE[a.model][0] if a.model in COARSE else a.model
    plan = stages(base, a.out_dir, steps, a.width, a.size, extra)
    if a.val_count != 64:
        plan = [(o, [*argv_, '--val-count', str(a.val_count)], n) for o, argv_, n in plan]
    name = f'flownets-q-w{a.width:g}-{a.model}'
    ffq = os.path.join(a.out_dir, f'{name}.ffq')
    # robust stages: (folder, steps, extra train.train args)
    if a.model in COARSE:
        rs = COARSE[a.model][1]
        if a.robust_steps:  # tests: steps per stage
            nums = [int(x) for x in a.robust_steps.split(',')]
            if len(nums) != len(rs):
                raise SystemExit(f'--robust-steps: {a.model} has {len(rs)} robust stages')
            rs = [(f, k, x) for (f, _, x), k in zip(rs, nums)]
        robust = rs
        base_ffq = os.path.join(a.out_dir, f'flownets-q-w{a.width:g}-{base}.ffq')
    else:
        n = int(a.robust_steps) if a.robust_steps is not None else ROBUST_STEPS.get(a.model)
        robust = [(f'{a.model}-robust', n, [])] if n else []
        base_ffq = os.path.join(a.out_dir, f'{name}-base.ffq') if robust else ffq
    rstages = []
    for i, (folder, n, x) in enumerate(robust):
        ro = os.path.join(a.out_dir, folder)
        init = ['--init-ffq', base_ffq] if i == 0 else ['--init', os.path.join(rstages[-1][0], 'last.pt')]
        rstages.append((ro, ['--model', 'q', '--bits', TARGETS[base], '--steps', str(n), *init,
                             '--out', ro, '--width', str(a.width), '--size', a.size, '--batch', '8',
                             '--val-count', str(a.val_count), *ROBUST_ARGS, *x, *extra], n))
    exp = lambda ck, dst, nm=name: [ck, dst, '--name', nm, '--val-count', str(a.val_count)]  # noqa: E731
    base_exp = exp(os.path.join(plan[-1][0], 'last.pt'), base_ffq, f'flownets-q-w{a.width:g}-{base}')
    final_exp = exp(os.path.join(rstages[-1][0], 'last.pt'), ffq) if rstages else None
    if final_exp and a.model in COARSE:
        final_exp += ['--coarse-for', f'flownets-q-w{a.width:g}-{a.model.removesuffix("-coarse")}']
    if a.model in REFINE_MODEL:
        (final_exp or base_exp).extend(['--refine-model', f'flownets-q-w{a.width:g}-{REFINE_MODEL[a.model]}'])
    if a.dry_run:
        for _, argv_, _ in plan:
            print('/usr/bin/python3 -m train.train ' + ' '.join(argv_))
        print('/usr/bin/python3 -m train.export ' + ' '.join(base_exp))
        for _, argv_, _ in rstages:
            print('/usr/bin/python3 -m train.train ' + ' '.join(argv_))
        if final_exp:
            print('/usr/bin/python3 -m train.export ' + ' '.join(final_exp))
        return 0
    for i, (out, argv_, n) in enumerate(plan, 1):
        if finished(out, n):
            print(f'stage {i}/3: {out} already at {n} steps, skipped', flush=True)
            continue
        resume = os.path.exists(os.path.join(out, 'last.pt'))
        print(f'stage {i}/3: {out} ({n} steps{", resuming" if resume else ""})', flush=True)
        T.main([*argv_, '--resume'] if resume else argv_)
    print('stage 4: export', flush=True)
    X.main([*base_exp, '--threads', str(a.threads)])
    for i, (out, argv_, n) in enumerate(rstages, 5):
        if finished(out, n):
            print(f'stage {i}: {out} already at {n} steps, skipped', flush=True)
            continue
        resume = os.path.exists(os.path.join(out, 'last.pt'))
        print(f'stage {i}: {out} (robust fine-tune, {n} steps{", resuming" if resume else ""})', flush=True)
        T.main([*argv_, '--resume'] if resume else argv_)
    if final_exp:
        print(f'stage {5 + len(rstages)}: export', flush=True)
        X.main([*final_exp, '--threads', str(a.threads)])
    if not (a.steps or a.width != 0.25 or a.size != '192x256' or a.val_count != 64 or a.robust_steps is not None):
        _record(ffq, a.model)
    _install(a, ffq)
    return 0


if __name__ == '__main__':
    sys.exit(main())
