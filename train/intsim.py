"""Python integer simulation of the contract (docs/quantization.md), exact: numpy int64 everywhere.

The convolution sums run as a float64 matrix product: every product |code · weight| ≤ 255·128 and every partial sum
stays below 2^31 (the contract's accumulator bound), far inside float64's 2^53 exact-integer range, so the result
equals the integer sum; it is converted to int64 before requantization.
"""
from __future__ import annotations

import numpy as np


def conv_acc(inp: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """inp C x H x W codes, w Cout x Cin x k x k codes -> int64 acc Cout x Hout x Wout (zero padding (k-1)/2)."""
    cin, h, wd = inp.shape
    cout, cin2, k, _ = w.shape
    if cin != cin2:
        raise ValueError(f'conv: input has {cin} channels, weights expect {cin2}')
    p = (k - 1) // 2
    ho = (h + 2 * p - k) // stride + 1
    wo = (wd + 2 * p - k) // stride + 1
    x = np.zeros((cin, h + 2 * p, wd + 2 * p), np.float64)
    x[:, p:p + h, p:p + wd] = inp
    cols = np.empty((cin, k, k, ho, wo), np.float64)
    for ky in range(k):
        for kx in range(k):
            cols[:, ky, kx] = x[:, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]
    acc = w.reshape(cout, -1).astype(np.float64) @ cols.reshape(cin * k * k, ho * wo)
    return np.rint(acc).astype(np.int64).reshape(cout, ho, wo)


def requant(acc: np.ndarray, mult: np.ndarray, bias: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """q = (acc·M + B) >> S per output channel (arithmetic shift = floor)."""
    m = np.asarray(mult, np.int64).reshape(-1, 1, 1)
    b = np.asarray(bias, np.int64).reshape(-1, 1, 1)
    s = np.asarray(shift, np.int64).reshape(-1, 1, 1)
    return np.right_shift(acc.astype(np.int64) * m + b, s)


def conv(inp, w, mult, bias, shift, stride: int, bits_out: int) -> np.ndarray:
    """Contract 2.1: conv + requant + ReLU/clip -> uint8 codes."""
    q = requant(conv_acc(inp, w, stride), mult, bias, shift)
    return np.clip(q, 0, 2 ** bits_out - 1).astype(np.uint8)


def flow_head(inp, w, mult, bias, shift) -> np.ndarray:
    """Contract 2.2: linear head -> int16 flow codes."""
    q = requant(conv_acc(inp, w, 1), mult, bias, shift)
    return np.clip(q, -32768, 32767).astype(np.int16)


def _taps(length: int, factor: int):
    """Per output index: (tap0, tap1, weight0, weight1), weights in 1/(2·factor) units, edges clamped."""
    i = np.arange(length * factor)
    j = i // factor
    r = i % factor
    if factor == 2:
        lo = np.where(r == 0, j - 1, j)
        hi = lo + 1
        w0 = np.where(r == 0, 1, 3)
        w1 = 4 - w0
    elif factor == 4:
        lo = np.where(r < 2, j - 1, j)
        hi = lo + 1
        w0 = np.array([3, 1, 7, 5])[r]
        w1 = 8 - w0
    else:
        raise ValueError('factor must be 2 or 4')
    return np.clip(lo, 0, length - 1), np.clip(hi, 0, length - 1), w0.astype(np.int64), w1.astype(np.int64)


def _upsample(x: np.ndarray, factor: int, shift: int) -> np.ndarray:
    c, h, w = x.shape
    y0, y1, wy0, wy1 = _taps(h, factor)
    x0, x1, wx0, wx1 = _taps(w, factor)
    a = x.astype(np.int64)
    rows = a[:, y0, :] * wy0[None, :, None] + a[:, y1, :] * wy1[None, :, None]  # C x Ho x W
    out = rows[:, :, x0] * wx0[None, None, :] + rows[:, :, x1] * wx1[None, None, :]
    return np.right_shift(out + (1 << (shift - 1)), shift)


def up2(x: np.ndarray) -> np.ndarray:
    """Contract 2.3 on uint8 codes (the result is a convex combination: no clamp)."""
    return _upsample(x, 2, 4).astype(np.uint8)


def up4(flow: np.ndarray) -> np.ndarray:
    """Contract 2.4 on int16 flow codes."""
    return _upsample(flow, 4, 6).astype(np.int16)


# ------------------------------------------------------------------------------------------- whole network

def forward(model, frames: np.ndarray, head: bool = False) -> np.ndarray:
    """model: modelfile.QModel; frames uint8 6 x H x W (R1 G1 B1 R2 G2 B2) -> int16 flow 2 x H x W
    (or the 2 x H/4 x W/4 head output with head=True)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 3 or frames.shape[0] != 6:
        raise ValueError(f'frames must be uint8 6xHxW, got {frames.dtype} {frames.shape}')
    h, w = frames.shape[1:]
    if h % 64 or w % 64:
        raise ValueError(f'input size {h}x{w} is not a multiple of 64 in both dimensions')
    t = {'frames': frames}
    out = None
    for L, P in zip(model.layers, model.params):
        inp = t[L['inputs'][0]] if len(L['inputs']) == 1 else np.concatenate([t[i] for i in L['inputs']], 0)
        if L['op'] == 'conv':
            t[L['name']] = conv(inp, P.weights, P.mult, P.bias, P.shift, L['stride'], L['bits'])
        elif L['op'] == 'upconv':
            if model.decoder == 'upsample-conv':
                t[L['name']] = conv(up2(inp), P.weights, P.mult, P.bias, P.shift, 1, L['bits'])
            else:
                t[L['name']] = up2(conv(inp, P.weights, P.mult, P.bias, P.shift, 1, L['bits']))
        elif L['op'] == 'flow':
            out = flow_head(inp, P.weights, P.mult, P.bias, P.shift)
        else:
            raise ValueError(f'unknown op {L["op"]}')
    return out if head else up4(out)


# ------------------------------------------------------------------------------------------- golden vectors

def read_golden(path: str) -> list[dict]:
    """Parse a .gv file (docs/golden-vectors.md) into [{'id','op','params':{},'tensors':{}}]."""
    dtypes = {'u8': np.uint8, 'i8': np.int8, 'i16': np.int16, 'i32': np.int32, 'i64': np.int64}
    cases: list[dict] = []
    cur = None
    header_seen = False
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith('#'):
                continue
            tok = s.split()
            where = f'{path}:{lineno}'
            if not header_seen:
                if tok[:1] != ['flowfpga-golden'] or len(tok) < 3:
                    raise ValueError(f'{where}: missing "flowfpga-golden" header')
                if tok[1] != '1' or tok[2] != '1':
                    raise ValueError(f'{where}: unsupported golden format/contract version {tok[1]} {tok[2]}')
                header_seen = True
                continue
            if tok[0] == 'case':
                cur = {'id': tok[1], 'op': tok[2], 'params': {}, 'tensors': {}}
            elif tok[0] == 'end':
                if cur is None:
                    raise ValueError(f'{where}: "end" outside a case')
                cases.append(cur)
                cur = None
            elif tok[0] == 'tensor':
                name, ty, count = tok[1], tok[2], int(tok[3])
                vals = tok[4:]
                if len(vals) != count:
                    raise ValueError(f'{where}: tensor {name} declares {count} values, has {len(vals)}')
                cur['tensors'][name] = np.array([int(v) for v in vals], dtype=np.int64).astype(dtypes[ty])
            else:
                if cur is None or len(tok) != 2:
                    raise ValueError(f'{where}: unexpected line')
                cur['params'][tok[0]] = int(tok[1])
    if cur is not None:
        raise ValueError(f'{path}: last case has no "end"')
    return cases


def run_golden_case(case: dict) -> np.ndarray:
    """Compute a case's expected 'out' with this simulation (flat array)."""
    p, T, op = case['params'], case['tensors'], case['op']
    if op in ('conv', 'flow', 'upconv'):
        cin, h, w, cout, k = p['cin'], p['h'], p['w'], p['cout'], p['k']
        x = T['input'].reshape(cin, h, w)
        wt = T['weights'].reshape(cout, cin, k, k)
        if op == 'upconv':
            x = up2(x)
        q = requant(conv_acc(x, wt, p['stride']), T['mult'], T['bias'], T['shift'])
        if p['mode'] == 0:
            q = np.clip(q, 0, 2 ** p['bits_out'] - 1).astype(np.uint8)
        else:
            q = np.clip(q, -32768, 32767).astype(np.int16)
        ho, wo = q.shape[1:]
        out = T['out_init'].reshape(p['out_c_total'], ho, wo).copy()
        out[p['out_c_offset']:p['out_c_offset'] + cout] = q
        return out.reshape(-1)
    if op == 'up2':
        return up2(T['input'].reshape(p['c'], p['h'], p['w'])).reshape(-1)
    if op == 'up4':
        return up4(T['input'].reshape(p['c'], p['h'], p['w'])).reshape(-1)
    raise ValueError(f'case {case["id"]}: unknown op {op}')
