"""Read and write .ffq model files exactly per docs/model-format.md (format version 1, contract version 1)."""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import model as M

MAGIC = b'FFQM'
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """One-line problem with a model file; the message starts with the kind from docs/model-format.md."""


@dataclass
class QLayerParams:
    weights: np.ndarray  # int8 [Cout][Cin][k][k]
    mult: np.ndarray  # int16 [Cout]
    shift: np.ndarray  # uint8 [Cout]
    bias: np.ndarray  # int64 [Cout]


@dataclass
class QModel:
    name: str
    width: float
    decoder: str
    flow_frac_bits: int
    native_size: tuple
    layers: list  # header dicts
    params: list  # QLayerParams, same order
    meta: dict = field(default_factory=dict)

    def header(self) -> dict:
        return {'name': self.name, 'arch': 'flownets-q', 'width': self.width, 'decoder': self.decoder,
                'flow_frac_bits': self.flow_frac_bits, 'native_size': list(self.native_size),
                'layers': self.layers, 'meta': self.meta}


def _pad8(n: int) -> int:
    return (8 - n % 8) % 8


def check(model: QModel, where: str = 'model') -> None:
    """The loader's consistency rules (also run before writing, so the Python side never writes a file TS rejects)."""
    def bad(msg):
        raise ModelFileError(f'inconsistent: {where}: {msg}')

    if model.decoder not in M.DECODERS:
        bad(f'decoder {model.decoder!r}')
    if not isinstance(model.flow_frac_bits, int) or not 0 <= model.flow_frac_bits <= 12:
        bad('flow_frac_bits must be an integer in 0..12')
    try:
        ref = M.build_arch(model.width, model.decoder, 8, model.flow_frac_bits)
    except ValueError as e:
        bad(str(e))
    if len(model.layers) != len(ref.layers) or len(model.params) != len(ref.layers):
        bad(f'{len(model.layers)} layers, the architecture has {len(ref.layers)}')
    bits = {M.FRAMES: M.INPUT_BITS}
    for L, R, P in zip(model.layers, ref.layers, model.params):
        for key in ('name', 'op', 'inputs', 'cin', 'cout', 'k', 'stride'):
            if L.get(key) != getattr(R, key):
                bad(f'layer {R.name}: {key} is {L.get(key)!r}, the architecture says {getattr(R, key)!r}')
        bw, ba, we = L.get('bits_w'), L.get('bits'), L.get('w_exp')
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (bw, ba, we)):
            bad(f'layer {R.name}: bits_w, bits and w_exp must be integers')
        if not (2 <= bw <= 8 and 2 <= ba <= 8):
            bad(f'layer {R.name}: bits_w {bw} / bits {ba} outside 2..8')
        n_in = bits[R.inputs[0]]
        for i in R.inputs:
            if bits[i] != n_in:
                bad(f'layer {R.name}: concatenated inputs have different bits')
        if R.cin * R.k * R.k * (2 ** n_in - 1) * 2 ** (bw - 1) > 2 ** 31 - 1:
            bad(f'layer {R.name}: accumulator bound exceeded')
        bits[R.name] = ba
        wshape = (R.cout, R.cin, R.k, R.k)
        if P.weights.shape != wshape:
            bad(f'layer {R.name}: weights shape {P.weights.shape}, expected {wshape}')
        lo, hi = -2 ** (bw - 1), 2 ** (bw - 1) - 1
        if P.weights.size and (int(P.weights.min()) < lo or int(P.weights.max()) > hi):
            bad(f'layer {R.name}: weight codes outside [{lo}, {hi}]')
        for arr, nm in ((P.mult, 'M'), (P.shift, 'S'), (P.bias, 'B')):
            if arr.shape != (R.cout,):
                bad(f'layer {R.name}: {nm} has shape {arr.shape}')
        if np.abs(P.mult.astype(np.int64)).max() > 32767:
            bad(f'layer {R.name}: |M| > 32767')
        if int(P.shift.max()) > 50:
            bad(f'layer {R.name}: S > 50')
        if np.abs(P.bias.astype(np.int64)).max() > 2 ** 50:
            bad(f'layer {R.name}: |B| > 2^50')
    sz = model.native_size
    if len(sz) != 2 or any((not isinstance(v, int)) or v <= 0 or v % 64 for v in sz):
        bad('native_size must be [H, W], positive multiples of 64')


def to_bytes(model: QModel) -> bytes:
    check(model)
    hdr = json.dumps(model.header(), separators=(',', ':')).encode('utf-8')
    out = bytearray(MAGIC + struct.pack('<HHI', FORMAT_VERSION, M.CONTRACT_VERSION, len(hdr)) + hdr)
    out += b'\0' * _pad8(len(out))
    for P in model.params:
        w = np.ascontiguousarray(P.weights, np.int8).tobytes()
        out += w + b'\0' * _pad8(len(w))
        blk = (np.asarray(P.bias, '<i8').tobytes() + np.asarray(P.mult, '<i2').tobytes()
               + np.asarray(P.shift, np.uint8).tobytes())
        out += blk + b'\0' * _pad8(len(blk))
    out += struct.pack('<I', zlib.crc32(bytes(out)) & 0xFFFFFFFF)
    return bytes(out)


def save(model: QModel, path: str) -> None:
    with open(path, 'wb') as f:
        f.write(to_bytes(model))


def from_bytes(buf: bytes, where: str = 'model') -> QModel:
    if len(buf) < 4 or buf[:4] != MAGIC:
        raise ModelFileError(f'bad magic: {where} is not a flowfpga model (first bytes are not FFQM)')
    if len(buf) < 16:
        raise ModelFileError(f'truncated: {where} is {len(buf)} bytes')
    fv, cv, hl = struct.unpack_from('<HHI', buf, 4)
    if fv != FORMAT_VERSION or cv != M.CONTRACT_VERSION:
        raise ModelFileError(f'unsupported version: {where} has format {fv} contract {cv}, '
                             f'this reader supports format {FORMAT_VERSION} contract {M.CONTRACT_VERSION}')
    if 12 + hl + 4 > len(buf):
        raise ModelFileError(f'truncated: {where} header says {hl} bytes, file has {len(buf)}')
    crc = struct.unpack_from('<I', buf, len(buf) - 4)[0]
    try:
        h = json.loads(buf[12:12 + hl].decode('utf-8'))
        ok = (isinstance(h, dict) and h.get('arch') == 'flownets-q' and isinstance(h.get('layers'), list)
              and isinstance(h.get('width'), (int, float)) and isinstance(h.get('decoder'), str)
              and isinstance(h.get('flow_frac_bits'), int) and isinstance(h.get('native_size'), list)
              and isinstance(h.get('name'), str) and all(isinstance(l, dict) for l in h['layers']))
    except (UnicodeDecodeError, ValueError):
        ok = False
    if not ok:
        # A damaged header is more often a checksum problem; report that first when the CRC also fails.
        if zlib.crc32(buf[:-4]) & 0xFFFFFFFF != crc:
            raise ModelFileError(f'checksum mismatch: {where} is corrupted')
        raise ModelFileError(f'bad header: {where} header JSON is unparsable or lacks required fields')
    off = 12 + hl + _pad8(12 + hl)
    params = []
    for L in h['layers']:
        try:
            cout, cin, k = int(L['cout']), int(L['cin']), int(L['k'])
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f'bad header: {where} layer entry lacks cin/cout/k')
        if cout <= 0 or cin <= 0 or k <= 0:
            raise ModelFileError(f'inconsistent: {where} layer {L.get("name")} has non-positive sizes')
        nw = cout * cin * k * k
        nb = cout * 11
        need = off + nw + _pad8(nw) + nb + _pad8(nb)
        if need > len(buf) - 4:
            raise ModelFileError(f'truncated: {where} ends inside layer {L.get("name")}')
        w = np.frombuffer(buf, np.int8, nw, off).reshape(cout, cin, k, k).copy()
        off += nw + _pad8(nw)
        b = np.frombuffer(buf, '<i8', cout, off).astype(np.int64)
        m = np.frombuffer(buf, '<i2', cout, off + 8 * cout).astype(np.int16)
        s = np.frombuffer(buf, np.uint8, cout, off + 10 * cout).copy()
        off += nb + _pad8(nb)
        params.append(QLayerParams(w, m, s, b))
    if zlib.crc32(buf[:-4]) & 0xFFFFFFFF != crc:
        raise ModelFileError(f'checksum mismatch: {where} is corrupted')
    if off != len(buf) - 4:
        raise ModelFileError(f'inconsistent: {where} has {len(buf) - 4 - off} extra bytes after the payload')
    model = QModel(h['name'], h['width'], h['decoder'], h['flow_frac_bits'], tuple(h['native_size']),
                   h['layers'], params, h.get('meta') or {})
    check(model, where)
    return model


def load(path: str) -> QModel:
    with open(path, 'rb') as f:
        return from_bytes(f.read(), path)
