"""Held-out evaluation sets that training never touches, and the side-by-side table (docs/accuracy.md).

  FLOWFPGA_TEXTURE_ROOT=/work/textures /usr/bin/python3 -m train.heldout build [--sets NAME,...] [--out DIR]
  /usr/bin/python3 -m train.heldout table [--models models/*.ffq] [--checkpoints A.pt,...] [--json OUT]

Every set is written in the FlyingChairs layout (NNNNN_img1.ppm, _img2.ppm, _flow.flo) plus manifest.json, so
`flowfpga eval --dataset chairs:DIR` reads it. Items are a pure function of (set name, index): rebuilding gives the
same bytes on any machine that has the same texture packages (the manifest records their file counts).

Independence, by construction:
  * textures: photographs only from data.HELDOUT_SOURCES (Debian packages that no training option may use:
    train.py --sources refuses them), plus procedural textures;
  * motion statistics unlike training's: 1-12 objects (training 3-8), rotation to +-20 deg (15), scale to
    exp(+-0.2) (0.12), translation uniform to +-48 px per axis (up to 68 px) at 512 px width for objects and +-16 for
    the background (original training: +-28 / +-10; heavy-tailed training: mean 16 / 6, caps 80 / 40);
  * own seeds (7000xx), never a training or validation seed.
'large' sets have large motions, 'mild' sets moderate motions on photographs only, 'mild-cam' adds a fixed camera
model (vignetting, gamma, noise, JPEG) that no training option produces.
The 'indist' set is the original validation set (seed 900001): in-distribution for the shipped models.
The 'real-stereo' sets are real photographs with measured ground truth: two Middlebury stereo scenes that Debian
packages ship (train/realpairs.py), 4 pairs per size; pixels without ground truth are skipped.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from . import model as M
from . import realpairs as RP

DEFAULT_OUT = 'train/runs/heldout'


def _indep(h: int, w: int) -> D.ChairsConfig:
    return D.ChairsConfig(height=h, width=w, min_objects=1, max_objects=12, bg_trans=16.0, obj_trans=48.0,
                          bg_rot=math.radians(6), obj_rot=math.radians(20), bg_scale=0.08, obj_scale=0.2,
                          sources=D.HELDOUT_SOURCES, photo_prob=0.85)


def _mild(h: int, w: int) -> D.ChairsConfig:
    return D.ChairsConfig(height=h, width=w, min_objects=1, max_objects=5, bg_trans=12.0, obj_trans=24.0,
                          bg_rot=math.radians(3), obj_rot=math.radians(8), bg_scale=0.04, obj_scale=0.08,
                          sources=D.HELDOUT_SOURCES, photo_prob=1.0)


def heldout_camera(frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """A fixed camera model that training never uses: vignetting (corners at 70 %), gamma 0.8, read noise
    sigma 2/255 per frame, JPEG quality 60-85 per frame. Flow unchanged."""
    _, h, w = frames.shape
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing='ij')
    vig = 1 - 0.15 * (xx * xx + yy * yy)
    f = (frames.float() / 255 * vig).clamp(0, 1) ** 0.8
    f = f + torch.from_numpy(rng.standard_normal(f.shape).astype(np.float32)) * (2 / 255)
    out = f.mul(255).add(0.5).floor().clamp(0, 255).to(torch.uint8)
    from PIL import Image
    import io
    parts = []
    for t in range(2):
        buf = io.BytesIO()
        Image.fromarray(out[3 * t:3 * t + 3].permute(1, 2, 0).numpy()).save(buf, 'JPEG', quality=int(rng.integers(60, 86)))
        buf.seek(0)
        parts.append(torch.from_numpy(np.asarray(Image.open(buf).convert('RGB')).copy()).permute(2, 0, 1))
    return torch.cat(parts, 0).contiguous()


# name -> (config factory, seed, pairs, in-distribution for which models, held-out camera model applied)
SETS = {
    'indep-large-192x256': (lambda: _indep(192, 256), 700001, 64, 'no model', False),
    'indep-large-384x512': (lambda: _indep(384, 512), 700002, 48, 'no model', False),
    'indep-mild-192x256': (lambda: _mild(192, 256), 700003, 64, 'no model', False),
    'indep-mild-384x512': (lambda: _mild(384, 512), 700004, 48, 'no model', False),
    'indep-mild-cam-192x256': (lambda: _mild(192, 256), 700005, 64, 'no model', True),
    'indist-192x256': (lambda: D.ChairsConfig(height=192, width=256), 900001, 64,
                       'shipped models (the original training validation set)', False),
}
# real pairs (train/realpairs.py): name -> (height, width)
REAL_SETS = {'real-stereo-192x256': (192, 256), 'real-stereo-384x512': (384, 512)}
ALL_SETS = [*SETS, *REAL_SETS]


def known(flow: torch.Tensor) -> torch.Tensor:
    """Pixels with ground truth (Middlebury: |u|, |v| <= 1e9), as src/flow/metrics.ts counts them."""
    return (flow.abs() <= 1e9).all(-3)


def epe_known(pred: torch.Tensor, gt: torch.Tensor) -> float:
    """Mean end-point error over the pixels with ground truth (all of them in the synthetic sets)."""
    k = known(gt)
    e = torch.sqrt(((pred - torch.where(k[:, None], gt, torch.zeros_like(gt))) ** 2).sum(1) + 1e-12)
    return (e[k].mean()).item()


def _write_pair(stem: str, frames: np.ndarray, flow: np.ndarray) -> None:
    for t in range(2):
        img = np.ascontiguousarray(frames[3 * t:3 * t + 3].transpose(1, 2, 0))
        with open(f'{stem}_img{t + 1}.ppm', 'wb') as fh:
            fh.write(b'P6\n%d %d\n255\n' % (img.shape[1], img.shape[0]) + img.tobytes())
    D.write_flo(f'{stem}_flow.flo', flow)


def _flow_stats(mags: torch.Tensor) -> dict:
    return dict(mean_flow=round(mags.mean().item(), 3),
                p95_flow=round(torch.quantile(mags[::17], 0.95).item(), 3), max_flow=round(mags.max().item(), 3))


def build_real(name: str, out_dir: str) -> str:
    h, w = REAL_SETS[name]
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    notes, mags = [], []
    for i, (pid, frames, flow, note) in enumerate(RP.pairs(h, w)):
        _write_pair(os.path.join(d, f'{i + 1:05d}'), frames, flow)
        f = torch.from_numpy(flow)
        mags.append(f.norm(dim=0)[known(f)])
        notes.append(dict(id=pid, source=note, known=round(known(f).float().mean().item(), 4)))
    manifest = dict(name=name, pairs=len(notes), height=h, width=w, in_distribution='no model', real=True,
                    items=notes, **_flow_stats(torch.cat(mags)))
    with open(os.path.join(d, 'manifest.json'), 'w') as fh:
        json.dump(manifest, fh, indent=1)
    return d


def build(name: str, out_dir: str, count: int | None = None) -> str:
    if name in REAL_SETS:
        return build_real(name, out_dir)
    cfg_fn, seed, n, indist, cam = SETS[name]
    cfg = cfg_fn()
    n = count or n
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    sources = None
    if cfg.sources is not None:
        sources = D.source_report(tuple(cfg.sources))
        if sum(sources.values()) == 0:
            raise SystemExit(f'{name}: none of the held-out texture packages {list(cfg.sources)} found '
                             f'(install them, or extract them under $FLOWFPGA_TEXTURE_ROOT; see train/README.md)')
    ds = D.SyntheticChairs(seed, config=cfg)
    mags = []
    for i in range(n):
        frames, flow = ds[i]
        if cam:
            frames = heldout_camera(frames, np.random.default_rng([seed, i, 0xCA3]))
        _write_pair(os.path.join(d, f'{i + 1:05d}'), frames.numpy(), flow.numpy())
        mags.append(flow.norm(dim=0))
    m = torch.stack(mags)
    manifest = dict(name=name, seed=seed, pairs=n, height=cfg.height, width=cfg.width, in_distribution=indist,
                    heldout_camera=cam,
                    config={k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
                    texture_files=sources, **_flow_stats(m.flatten()))
    with open(os.path.join(d, 'manifest.json'), 'w') as fh:
        json.dump(manifest, fh, indent=1)
    return d


def load_set(d: str) -> tuple[torch.Tensor, torch.Tensor]:
    ds = D.FlyingChairs(d, 'all')
    items = [ds[i] for i in range(len(ds))]
    return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


def resize_pair(frames: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """As src/flow/netinput.ts resize: bilinear, half-pixel centres, edge clamp, round half up to uint8."""
    if frames.shape[-2:] == (h, w):
        return frames
    y = F.interpolate(frames.float()[None], size=(h, w), mode='bilinear', align_corners=False)[0]
    return y.add(0.5).floor().clamp(0, 255).to(torch.uint8)


def flow_to_source(flow: torch.Tensor, h: int, w: int) -> torch.Tensor:
    nh, nw = flow.shape[-2:]
    if (nh, nw) == (h, w):
        return flow
    y = F.interpolate(flow[None], size=(h, w), mode='bilinear', align_corners=False)[0]
    return torch.stack([y[0] * (w / nw), y[1] * (h / nh)])


def _load_qm(path: str):
    """A .ffq file, read once per version: eval_checkpoint asks the same files for partners, networks and meta."""
    st = os.stat(path)
    return _load_qm_at(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _load_qm_at(path: str, _mtime_ns: int, _size: int):
    from . import modelfile as MF
    return MF.load(path)


def trained_size(path: str) -> tuple[int, int]:
    """The trained (h, w) of a .ffq file or a checkpoint, as _load_net gives it."""
    if path.endswith('.ffq'):
        return tuple(_load_qm(path).native_size)
    from . import train as T
    return T.parse_size(torch.load(path, map_location='cpu', weights_only=False)['args']['size'])


def _load_net(path: str, frames: torch.Tensor):
    """(net, trained (h, w)) for a fake-quantized (or float) checkpoint or a .ffq file (dequantized: the same
    function as the integer file, train/ffqinit.py)."""
    from . import train as T
    if path.endswith('.ffq'):
        from . import ffqinit
        qm = _load_qm(path)
        net = ffqinit.model_for(qm)
        h, w = qm.native_size
        ffqinit.load_ffq(net, qm, resize_pair(frames[0], h, w)[None])
    else:
        net, targs, _ = T.load_model(path)
        h, w = T.parse_size(targs.size)
    net.eval()
    return net, (h, w)


def _partner(path: str, role: str, models_dir: str) -> str | None:
    """The shipped model `path`'s meta.<role>_model names, else models/<name>-<role>.ffq when its meta.<role>_for
    names `path`'s model; None for checkpoints and models without one (registry.ts coarsePartner / refinePartner)."""
    if not path.endswith('.ffq'):
        return None
    qm = _load_qm(path)
    named = qm.meta.get(f'{role}_model')
    if isinstance(named, str):
        cand = os.path.join(models_dir, f'{named}.ffq')
        if not os.path.exists(cand):
            raise SystemExit(f'{path}: its meta.{role}_model {named} is not in {models_dir}')
        return cand
    cand = os.path.join(models_dir, f'{qm.name}-{role}.ffq')
    if os.path.exists(cand) and _load_qm(cand).meta.get(f'{role}_for') == qm.name:
        return cand
    return None


def coarse_partner(path: str, models_dir: str = 'models') -> str | None:
    """`flowfpga eval`'s default first pass of a refined pair (meta.coarse_model, or a -coarse file for the model)."""
    return _partner(path, 'coarse', models_dir)


def refine_partner(path: str, models_dir: str = 'models') -> str | None:
    """`flowfpga eval`'s default refinement passes (meta.refine_model, or a -refine file for the model)."""
    return _partner(path, 'refine', models_dir)


def _meta(path: str) -> dict:
    """A .ffq file's meta ({} for checkpoints)."""
    if not path.endswith('.ffq'):
        return {}
    return _load_qm(path).meta


@torch.no_grad()
def eval_checkpoint(path: str, frames: torch.Tensor, flow: torch.Tensor, size=None, refine='auto',
                    coarse='auto', second='auto', models_dir: str = 'models', passes='auto') -> float:
    """Fake-quantized (or float) checkpoint or .ffq file, run at its trained size with `flowfpga eval`'s default
    refinement (train/refine.py: every pair gets a second pass at twice that size). When the refinement applies, the
    first pass runs `coarse` (a path; 'auto': the shipped partner, coarse_partner; None: the model itself), as
    `--coarse-model` does; `second` (a path; 'auto': refine_partner; None: the model) runs the second pass (only
    those at its trained size with meta.refine_scope 'trained-size'; refine.ts secondPass), as `--refine-model`
    does; `passes` refinement passes (R.refine_passes: auto is 2 on a partner), as `--refine-passes` does."""
    from . import refine as R
    net, (h, w) = _load_net(path, frames)
    if size is not None:
        h, w = size
    e = []
    fh, fw = flow.shape[-2:]
    rs = R.refine_size((h, w), refine)
    if coarse == 'auto':
        coarse = coarse_partner(path, models_dir)
    if second == 'auto':
        second = refine_partner(path, models_dir) if refine != 'off' else None
    snet, ssize = _load_net(second, frames) if second else (None, None)
    first = _load_net(coarse, frames)[0] if (rs and coarse) else net
    every = snet is not None and _meta(second).get('refine_scope') != 'trained-size'
    sec = snet if snet is not None and (every or tuple(rs or ()) == tuple(ssize)) else net
    n = R.refine_passes(passes, sec is not net)
    for i in range(frames.shape[0]):
        p = flow_to_source(first(resize_pair(frames[i], h, w)[None])[0], fh, fw)
        for _ in range(n if rs else 0):
            p = R.refined_flow(sec, frames[i], p, rs, resize_pair, flow_to_source)
        e.append(epe_known(p[None], flow[i:i + 1]))
    return float(np.mean(e))


def eval_dis(frames: torch.Tensor, flow: torch.Tensor, preset: str) -> float:
    from .baseline import dis_flow
    return float(np.mean([epe_known(torch.from_numpy(dis_flow(frames[i].numpy(), preset))[None], flow[i:i + 1])
                          for i in range(frames.shape[0])]))


def eval_ffq_cli(model: str, d: str) -> dict:
    """`flowfpga eval` with default settings (TS integer reference, network at the model's trained resolution)."""
    r = subprocess.run(['node', 'bin/flowfpga.js', 'eval', '--dataset', f'chairs:{d}', '--model', model, '--board',
                        'ref', '--json'], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f'flowfpga eval {model} on {d} failed: {r.stderr.strip()[-400:]}')
    return json.loads(r.stdout)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('what', choices=['build', 'table'])
    p.add_argument('--sets', default=','.join(ALL_SETS))
    p.add_argument('--out', default=DEFAULT_OUT)
    p.add_argument('--count', type=int, default=None, help='pairs per set (default per set)')
    p.add_argument('--models', nargs='*', default=None, help='.ffq files, evaluated with flowfpga eval')
    p.add_argument('--checkpoints', default='',
                   help='comma list of LABEL=PATH (.pt fake-quant or .ffq dequantized), in Python at the trained size')
    p.add_argument('--no-dis', action='store_true')
    p.add_argument('--cli', action='store_true', help='evaluate .ffq files with flowfpga eval (slow) instead of Python')
    p.add_argument('--json', help='write the table as JSON here')
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, a.threads))
    names = [s for s in a.sets.split(',') if s]
    for s in names:
        if s not in ALL_SETS:
            raise SystemExit(f'--sets: unknown set {s!r} (known: {", ".join(ALL_SETS)})')
    if a.what == 'build':
        for s in names:
            t0 = time.time()
            d = build(s, a.out, a.count)
            print(f'{d}: built ({time.time() - t0:.0f} s)', flush=True)
        return 0
    models = a.models if a.models is not None else sorted(
        os.path.join('models', f) for f in os.listdir('models') if f.endswith('.ffq'))
    ckpts = [c.split('=', 1) for c in a.checkpoints.split(',') if c]
    rows: dict[str, dict[str, float]] = {}
    info = {}
    for s in names:
        d = os.path.join(a.out, s)
        if not os.path.exists(os.path.join(d, 'manifest.json')):
            raise SystemExit(f'{d}: not built (python3 -m train.heldout build --sets {s})')
        with open(os.path.join(d, 'manifest.json')) as fh:
            info[s] = json.load(fh)
        frames, flow = load_set(d)
        rows.setdefault('zero flow', {})[s] = float(np.mean([epe_known(torch.zeros_like(f[None]), f[None])
                                                             for f in flow]))
        if not a.no_dis:
            for preset in ('fast', 'medium'):
                rows.setdefault(f'DIS {preset}', {})[s] = eval_dis(frames, flow, preset)
        for m in models:
            # --cli: through `flowfpga eval` (TS reference); else the dequantized model in Python, which equals the
            # integer file (tests) and resizes like netinput.ts
            rows.setdefault(os.path.basename(m), {})[s] = (eval_ffq_cli(m, d)['epe'] if a.cli
                                                          else eval_checkpoint(m, frames, flow))
        for label, path in ckpts:
            rows.setdefault(label, {})[s] = eval_checkpoint(path, frames, flow)
        print(f'{s}: ' + ', '.join(f'{k} {v[s]:.3f}' for k, v in rows.items() if s in v), flush=True)
    hdr = '| Method | ' + ' | '.join(f'{s} ({info[s]["pairs"]} pairs, mean flow {info[s]["mean_flow"]} px)'
                                     for s in names) + ' |'
    print(hdr)
    print('|---|' + '---|' * len(names))
    for k, v in rows.items():
        print(f'| {k} | ' + ' | '.join(f'{v[s]:.3f}' if s in v else '' for s in names) + ' |')
    if a.json:
        with open(a.json, 'w') as fh:
            json.dump(dict(sets=info, epe=rows), fh, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
