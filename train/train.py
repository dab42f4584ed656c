"""Train FlowNetS-Q (QAT), its float twin, or the original float FlowNetS.

  /usr/bin/python3 -m train.train --model qfloat --width 0.25 --size 192x256 --minutes 35 --out train/runs/float
  /usr/bin/python3 -m train.train --model q --bits 8 --init train/runs/float/last.pt --minutes 10 --out train/runs/q8

Progress lines go to stdout (and <out>/log.txt); checkpoints to <out>/last.pt every --ckpt-every steps and at the end;
--resume continues <out>/last.pt. Validation uses a fixed synthetic set with its own seed (--val-seed), never trained on.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

from . import data as D
from . import model as M
from . import stream as S


def parse_size(s: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in s.lower().split('x'))
    except ValueError:
        raise SystemExit(f'--size {s!r}: expected HxW, e.g. 192x256')
    if h <= 0 or w <= 0 or h % 64 or w % 64:
        raise SystemExit(f'--size {s}: H and W must be positive multiples of 64 (six stride-2 layers)')
    return h, w


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', choices=['q', 'qfloat', 'orig'], default='q',
                   help='q: quantization-aware FlowNetS-Q; qfloat: float FlowNetS-Q; orig: original float FlowNetS')
    p.add_argument('--width', type=float, default=0.25)
    p.add_argument('--bits', default='8', help='8, w4a6, or mixed: w4a4,conv1=w8a8,predict_flow2=w8')
    p.add_argument('--decoder', choices=list(M.DECODERS), default='upsample-conv')
    p.add_argument('--flow-frac-bits', type=int, default=5)
    p.add_argument('--w-exp', type=int, default=-3)
    p.add_argument('--size', default='192x256', help='training crop HxW (multiples of 64)')
    p.add_argument('--steps', type=int, default=100000, help='max steps (also the LR schedule length without --minutes)')
    p.add_argument('--minutes', type=float, default=0, help='wall-clock budget; the LR schedule follows it')
    p.add_argument('--stop-at', type=int, default=0,
                   help='stop after this step without changing the LR schedule (a run stopped early, reproduced)')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--val-seed', type=int, default=900001)
    p.add_argument('--val-count', type=int, default=64)
    p.add_argument('--eval-every', type=int, default=500)
    p.add_argument('--ckpt-every', type=int, default=250)
    p.add_argument('--log-every', type=int, default=25)
    p.add_argument('--pool', type=int, default=1500, help='synthetic samples kept in memory and reused with flips')
    p.add_argument('--fresh', type=float, default=2, help='new synthetic samples generated per step')
    p.add_argument('--workers', type=int, default=0,
                   help='synthetic samples rendered by this many worker processes into a --pool ring on the training '
                        'device (train/stream.py; for GPU machines; not bit-reproducible); 0: in the training process')
    p.add_argument('--data', default='synthetic', help='synthetic | chairs:DIR | sintel:DIR[:clean|final]')
    p.add_argument('--motion', choices=['uniform', 'heavy'], default='uniform',
                   help='synthetic translation: uniform (original) or heavy-tailed up to the caps (train/data.py)')
    p.add_argument('--obj-trans', type=float, default=None, help='object translation range/mean at 512 px width')
    p.add_argument('--obj-trans-cap', type=float, default=80.0, help='heavy motion: object cap at 512 px width')
    p.add_argument('--bg-trans', type=float, default=None, help='background translation range/mean at 512 px width')
    p.add_argument('--sources', default='default',
                   help='photo textures: default (first 64 files under /usr/share/backgrounds), train '
                        '(data.TRAIN_SOURCES), or a comma list of Debian packages')
    p.add_argument('--camera', type=float, default=0.0,
                   help='share of samples given camera-like photometric augmentation (exposure, gamma, blur, noise, JPEG)')
    p.add_argument('--zoom', type=float, default=1.0, help='scale augmentation: max zoom factor (1 = off)')
    p.add_argument('--zoom-prob', type=float, default=0.5, help='share of samples zoomed when --zoom > 1')
    p.add_argument('--init', help='start from this checkpoint\'s weights (float pretrain -> bit fine-tune)')
    p.add_argument('--init-ffq', help='start from a .ffq model file (dequantized; train/ffqinit.py)')
    p.add_argument('--refine-of', help='train a refinement model: the second pass of refined pairs whose first pass '
                   'runs this .ffq (or checkpoint: float studies; train/refinedata.py); inputs are (frame 1, warped '
                   'frame 2), targets the residual')
    p.add_argument('--widen', action='store_true',
                   help='with --init-ffq: the file is narrower than --width; start from it widened (train/widen.py)')
    p.add_argument('--widen-noise', type=float, default=0.02,
                   help='--widen: noise on the extra channels\' weights, as a share of the layer\'s weight spread')
    p.add_argument('--resume', action='store_true')
    p.add_argument('--out', required=True)
    p.add_argument('--device', default='auto', help='auto | cpu | cuda')
    p.add_argument('--nproc', type=int, default=1, help='DistributedDataParallel processes (one per GPU on CUDA)')
    return p


class Pool:
    """Synthetic samples in memory, refreshed a few per step: generation costs more than a CPU training step."""

    def __init__(self, ds, size: int, fresh: float, rng: np.random.Generator, start: int = 0,
                 camera: float = 0.0, zoom: float = 1.0, zoom_prob: float = 0.5):
        self.ds, self.size, self.fresh, self.rng = ds, size, fresh, rng
        self.camera, self.zoom, self.zoom_prob = camera, zoom, zoom_prob
        self.next = start
        self.items: list = []
        self.credit = 0.0

    def _new(self):
        item = self.ds[self.next]
        self.next += 1
        return item

    def step(self, batch: int):
        self.credit += self.fresh
        while len(self.items) < max(batch, min(self.size, batch * 4)):
            self.items.append(self._new())
        while self.credit >= 1:
            self.credit -= 1
            item = self._new()
            if len(self.items) < self.size:
                self.items.append(item)
            else:
                self.items[int(self.rng.integers(len(self.items)))] = item
        picks = self.rng.integers(0, len(self.items), batch)
        out = [self._aug(*self.items[i]) for i in picks]
        return torch.stack([a for a, _ in out]), torch.stack([b for _, b in out])

    def _aug(self, frames, flow):
        return S.augment_sample(frames, flow, self.rng, self.camera, self.zoom, self.zoom_prob)


class RealData:
    def __init__(self, spec: str, size, rng):
        kind, _, rest = spec.partition(':')
        if kind == 'chairs':
            self.ds = D.FlyingChairs(rest, 'train')
        elif kind == 'sintel':
            root, _, pas = rest.partition(':')
            self.ds = D.Sintel(root, pas or 'clean')
        else:
            raise SystemExit(f'--data {spec}: expected synthetic, chairs:DIR or sintel:DIR[:clean|final]')
        self.size, self.rng = size, rng

    def step(self, batch: int):
        out = [D.augment(*self.ds[int(self.rng.integers(len(self.ds)))], self.rng, crop=self.size)
               for _ in range(batch)]
        return torch.stack([a for a, _ in out]), torch.stack([b for _, b in out])


def data_config(args, size) -> D.ChairsConfig:
    """The synthetic generator's configuration for these training options (defaults: the original generator)."""
    cfg = D.ChairsConfig(height=size[0], width=size[1])
    a = vars(args) if args is not None else {}
    if a.get('motion', 'uniform') == 'heavy':
        cfg.motion = 'heavy'
        cfg.obj_trans, cfg.bg_trans = 16.0, 6.0  # means of the heavy-tailed magnitudes
        cfg.obj_trans_cap = a.get('obj_trans_cap', 80.0)
    if a.get('obj_trans') is not None:
        cfg.obj_trans = a['obj_trans']
    if a.get('bg_trans') is not None:
        cfg.bg_trans = a['bg_trans']
    src = a.get('sources', 'default')
    if src == 'train':
        cfg.sources = D.TRAIN_SOURCES
    elif src != 'default':
        cfg.sources = tuple(p for p in src.split(',') if p)
    if cfg.sources is not None:
        bad = set(cfg.sources) & set(D.HELDOUT_SOURCES)
        if bad:
            raise SystemExit(f'--sources: {sorted(bad)} are held-out texture sources (data.HELDOUT_SOURCES)')
    return cfg


def validation_set(size, seed: int, count: int, args=None):
    """Held-out pairs (own seed) from the same generator configuration as training."""
    ds = D.SyntheticChairs(seed, config=data_config(args, size))
    return D.batch(ds, range(count))


@torch.no_grad()
def evaluate(model, val, device, batch: int = 16) -> float:
    was = model.training
    model.eval()
    frames, flow = val
    total = 0.0
    for i in range(0, frames.shape[0], batch):
        f = frames[i:i + batch].to(device)
        g = flow[i:i + batch].to(device)
        total += M.epe(model(f), g).item() * f.shape[0]
    model.train(was)
    return total / frames.shape[0]


def clamp_weights(model) -> None:
    """Keep float shadow weights inside the representable range ±2^w_exp (FlowNetS-Q only)."""
    inner = getattr(model, 'module', model)
    if not isinstance(inner, M.FlowNetSQ):
        return
    with torch.no_grad():
        for conv in inner.convs.values():
            lim = 2.0 ** conv.spec.w_exp
            conv.weight.clamp_(-lim, lim)


def arch_dict(model) -> dict | None:
    inner = getattr(model, 'module', model)
    if isinstance(inner, M.FlowNetSQ):
        a = inner.arch
        return dict(width=a.width, decoder=a.decoder, flow_frac_bits=a.flow_frac_bits, layers=a.to_header_layers())
    return None


def make_from_args(args) -> torch.nn.Module:
    return M.make_model(args.model, args.width, args.bits, args.decoder, args.flow_frac_bits, args.w_exp)


def load_model(path: str, map_location='cpu'):
    """Rebuild a model (and its args) from a checkpoint."""
    ck = torch.load(path, map_location=map_location, weights_only=False)
    a = argparse.Namespace(**ck['args'])
    m = make_from_args(a)
    m.load_state_dict(ck['model'])
    return m, a, ck


def train(args, rank: int = 0, world: int = 1) -> dict:
    torch.set_num_threads(max(1, args.threads))
    size = parse_size(args.size)
    if args.device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    else:
        device = args.device
    if device == 'cuda' and world > 1:
        torch.cuda.set_device(rank)
        device = f'cuda:{rank}'
    if device.startswith('cuda'):
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick its fastest convolutions
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, 'log.txt')
    logf = open(log_path, 'a') if rank == 0 else None

    def log(msg: str) -> None:
        if rank == 0:
            print(msg, flush=True)
            logf.write(msg + '\n')
            logf.flush()

    torch.manual_seed(args.seed)
    model = make_from_args(args).to(device)
    step, elapsed_before, best = 0, 0.0, None
    ckpt_path = os.path.join(args.out, 'last.pt')
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        step, elapsed_before, best = ck['step'], ck.get('elapsed', 0.0), ck.get('best')
        log(f'resumed {ckpt_path} at step {step}')
    elif args.init_ffq:
        from . import ffqinit, modelfile as MF
        if not isinstance(model, M.FlowNetSQ):
            raise SystemExit('--init-ffq: only FlowNetS-Q models (--model q or qfloat)')
        qm = MF.load(args.init_ffq)
        calib = D.batch(D.SyntheticChairs(args.seed * 1000 + 777, config=data_config(args, size)), range(16))[0]
        try:
            if args.widen:
                from . import widen as W
                narrow = ffqinit.model_for(qm, quant=model.quant).to(device)
                ffqinit.load_ffq(narrow, qm, calib.to(device))
                W.widen(narrow, model, args.widen_noise, args.seed)
            else:
                ffqinit.load_ffq(model, qm, calib.to(device))
        except ValueError as e:
            raise SystemExit(f'--init-ffq {args.init_ffq}: {e}')
        how = f'widened from width {qm.width:g}, noise {args.widen_noise:g}; ' if args.widen else ''
        log(f'initialised from {args.init_ffq} ({how}dequantized; meta.epe {qm.meta.get("epe")})')
    elif args.init:
        ck = torch.load(args.init, map_location=device, weights_only=False)
        missing, unexpected = model.load_state_dict(ck['model'], strict=False)
        if unexpected or missing:
            raise SystemExit(f'--init {args.init}: checkpoint does not match this model '
                             f'(missing {missing[:3]}, unexpected {unexpected[:3]}); same --model family and --width?')
        log(f'initialised from {args.init} (step {ck["step"]}, val EPE {ck.get("val_epe")})')
    clamp_weights(model)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank] if device.startswith('cuda') else None)
    rng = np.random.default_rng([args.seed, rank, step])
    if args.data == 'synthetic' and args.workers > 0:
        src = S.StreamPool(args.seed * 1000 + rank, data_config(args, size), args.workers, args.pool, device, rng,
                           start=step * args.batch * 4, camera=args.camera, zoom=args.zoom, zoom_prob=args.zoom_prob)
    elif args.data == 'synthetic':
        ds = D.SyntheticChairs(args.seed * 1000 + rank, config=data_config(args, size))
        src = Pool(ds, args.pool, args.fresh, rng, start=int(step * args.fresh), camera=args.camera,
                   zoom=args.zoom, zoom_prob=args.zoom_prob)
    else:
        src = RealData(args.data, size, rng)
    val = validation_set(size, args.val_seed, args.val_count, args) if rank == 0 else None
    second = None
    if args.refine_of:
        from . import refinedata as RD
        calib = D.batch(D.SyntheticChairs(args.seed * 1000 + 778, config=data_config(args, size)), range(4))[0]
        try:
            second = RD.RefineTargets(args.refine_of, calib, device)
            if val is not None:
                val = second.batched(*val)
        except ValueError as e:
            raise SystemExit(str(e))
        log(f'refinement model: first pass {args.refine_of}; validation EPE is the refined pair\'s')
    nparams = sum(p.numel() for p in model.parameters())
    log(f'model {args.model} width {args.width} bits {args.bits} decoder {args.decoder} params {nparams} '
        f'size {size[0]}x{size[1]} batch {args.batch}x{world} device {device} threads {args.threads}')
    t0 = time.time()
    budget = args.minutes * 60
    run_loss, run_n = 0.0, 0
    val_epe = None

    def progress() -> float:
        p = step / args.steps
        if budget > 0:
            p = max(p, (elapsed_before + time.time() - t0) / budget)
        return min(p, 1.0)

    def save(tag='last'):
        if rank != 0:
            return
        ck = dict(model=model.state_dict(), opt=opt.state_dict(), step=step, args=vars(args),
                  elapsed=elapsed_before + time.time() - t0, val_epe=val_epe, best=best, arch=arch_dict(model))
        tmp = os.path.join(args.out, f'{tag}.pt.tmp')
        torch.save(ck, tmp)
        os.replace(tmp, os.path.join(args.out, f'{tag}.pt'))

    net.train()
    while True:
        p = progress()
        stop = torch.tensor([1.0 if (p >= 1.0 or step >= args.steps or 0 < args.stop_at <= step) else 0.0])
        if world > 1:  # all ranks stop together (the time budget is measured per process)
            torch.distributed.all_reduce(stop.to(device) if device.startswith('cuda') else stop)
        if stop.item() > 0:
            break
        lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g['lr'] = lr
        frames, flow = src.step(args.batch)
        frames, flow = frames.to(device), flow.to(device)
        if second is not None:
            frames, flow = second(frames, flow)
        loss = M.loss_fn(net, frames, flow)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clamp_weights(model)
        step += 1
        run_loss += loss.item()
        run_n += 1
        if step % args.log_every == 0 or step == 1:
            el = elapsed_before + time.time() - t0
            rate = step / max(el, 1e-9)
            p = progress()
            eta = (el / p - el) if p > 0 else float('nan')
            log(f'step {step} loss {run_loss / run_n:.4f} lr {lr:.2e} {rate:.2f} step/s elapsed {el / 60:.1f} min '
                f'ETA {eta / 60:.1f} min' + (f' samples {src.received}' if isinstance(src, S.StreamPool) else ''))
            run_loss, run_n = 0.0, 0
        if rank == 0 and step % args.eval_every == 0:
            val_epe = evaluate(model, val, device)
            if best is None or val_epe < best:
                best = val_epe
            log(f'step {step} val EPE {val_epe:.4f} (best {best:.4f})')
        if step % args.ckpt_every == 0:
            save()
    if rank == 0:
        val_epe = evaluate(model, val, device)
        best = val_epe if best is None else min(best, val_epe)
        log(f'done step {step} val EPE {val_epe:.4f} elapsed {(elapsed_before + time.time() - t0) / 60:.1f} min')
        save()
        with open(os.path.join(args.out, 'result.json'), 'w') as f:
            json.dump(dict(step=step, val_epe=val_epe, args=vars(args),
                           minutes=(elapsed_before + time.time() - t0) / 60), f, indent=1)
        logf.close()
    if isinstance(src, S.StreamPool):
        src.close()
    return dict(step=step, val_epe=val_epe)


def _ddp_worker(rank: int, world: int, args) -> None:
    backend = 'nccl' if (torch.cuda.is_available() and args.device != 'cpu') else 'gloo'
    torch.distributed.init_process_group(backend, init_method='tcp://127.0.0.1:29517', rank=rank, world_size=world)
    try:
        train(args, rank, world)
    finally:
        torch.distributed.destroy_process_group()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    parse_size(args.size)
    try:
        M.build_arch(args.width, args.decoder, args.bits, args.flow_frac_bits, args.w_exp)
    except ValueError as e:
        raise SystemExit(f'bad model options: {e}')
    if args.init_ffq and not os.path.isfile(args.init_ffq):
        raise SystemExit(f'--init-ffq {args.init_ffq}: no such model file')
    if args.widen and not args.init_ffq:
        raise SystemExit('--widen: needs --init-ffq (the narrower model file to start from)')
    if args.init and not os.path.isfile(args.init):
        raise SystemExit(f'--init {args.init}: no such checkpoint (a <out>/last.pt of an earlier run)')
    if args.refine_of:
        if not os.path.isfile(args.refine_of):
            raise SystemExit(f'--refine-of {args.refine_of}: no such model file (the first pass, a .ffq, or a '
                             f'checkpoint for float studies)')
        from . import heldout as H
        fh, fw = H.trained_size(args.refine_of)  # a checkpoint: a float first pass, to compare bit widths
        if parse_size(args.size) not in ((fh, fw), (2 * fh, 2 * fw)):
            raise SystemExit(f'--refine-of {args.refine_of}: its first pass runs at {fh}x{fw}, the training crop is '
                             f'{args.size}; train the refinement model at the first pass size (--size {fh}x{fw}) or '
                             f'twice it (--size {2 * fh}x{2 * fw}, where --refine auto runs it)')
    if args.workers < 0 or (args.workers > 0 and args.data != 'synthetic'):
        raise SystemExit(f'--workers {args.workers}: a count >= 0, and only for --data synthetic (sample rendering)')
    if args.nproc > 1 and args.device != 'cpu' and torch.cuda.is_available() and args.nproc > torch.cuda.device_count():
        raise SystemExit(f'--nproc {args.nproc}: only {torch.cuda.device_count()} CUDA devices')
    if args.data != 'synthetic':
        try:
            RealData(args.data, parse_size(args.size), None)
        except FileNotFoundError as e:
            raise SystemExit(str(e))
    if args.nproc > 1:
        torch.multiprocessing.spawn(_ddp_worker, args=(args.nproc, args), nprocs=args.nproc, join=True)
    else:
        train(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
