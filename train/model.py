"""FlowNetS-Q with quantization-aware training exactly per docs/quantization.md, its float twin, and an original-style
float FlowNetS (flownet2-pytorch layout) for the bit-width study.

The architecture tables mirror src/model/arch.ts (names, channel rounding, concat partners); test_model.py checks
them against the TypeScript numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

CONTRACT_VERSION = 1
FRAMES = 'frames'
INPUT_CHANNELS = 6
INPUT_BITS = 8
SIZE_MULTIPLE = 64
DECODERS = ('upsample-conv', 'conv-upsample')

ENCODER = [  # name, input, cout, k, stride
    ('conv1', FRAMES, 64, 7, 2),
    ('conv2', 'conv1', 128, 5, 2),
    ('conv3', 'conv2', 256, 5, 2),
    ('conv3_1', 'conv3', 256, 3, 1),
    ('conv4', 'conv3_1', 512, 3, 2),
    ('conv4_1', 'conv4', 512, 3, 1),
    ('conv5', 'conv4_1', 512, 3, 2),
    ('conv5_1', 'conv5', 512, 3, 1),
    ('conv6', 'conv5_1', 1024, 3, 2),
    ('conv6_1', 'conv6', 1024, 3, 1),
]
DECODER = [
    ('deconv5', ['conv6_1'], 512),
    ('deconv4', ['conv5_1', 'deconv5'], 256),
    ('deconv3', ['conv4_1', 'deconv4'], 128),
    ('deconv2', ['conv3_1', 'deconv3'], 64),
]
FLOW_INPUTS = ['conv2', 'deconv2']
CONCAT_PARTNERS = [('conv5_1', 'deconv5'), ('conv4_1', 'deconv4'), ('conv3_1', 'deconv3'), ('conv2', 'deconv2')]


def scale_channels(c: int, width: float) -> int:
    """Contract 3: max(1, round(m*C)), half away from zero (all values positive), same epsilon as arch.ts."""
    return max(1, math.floor(c * width + 1e-9 + 0.5))


@dataclass
class LayerSpec:
    name: str
    op: str  # conv | upconv | flow
    inputs: list
    cin: int
    cout: int
    k: int
    stride: int
    bits_w: int = 8
    bits: int = 8
    w_exp: int = -3


@dataclass
class ArchSpec:
    width: float
    decoder: str
    flow_frac_bits: int
    layers: list

    def layer(self, name: str) -> LayerSpec:
        for l in self.layers:
            if l.name == name:
                return l
        raise KeyError(name)

    def bits_of(self, name: str) -> int:
        return INPUT_BITS if name == FRAMES else self.layer(name).bits

    def to_header_layers(self) -> list:
        return [dict(name=l.name, op=l.op, inputs=list(l.inputs), cin=l.cin, cout=l.cout, k=l.k, stride=l.stride,
                     bits_w=l.bits_w, bits=l.bits, w_exp=l.w_exp) for l in self.layers]


def parse_bits(text: str | int | dict | None):
    """'8' -> 8; 'w4a6' -> {'w':4,'a':6}; 'w4a4,conv1=w8a8,predict_flow2=w8' -> per-layer overrides (mixed)."""
    if text is None or isinstance(text, (int, dict)):
        return text
    text = str(text).strip()
    if text.isdigit():
        return int(text)

    def one(s: str) -> dict:
        out = {}
        i = 0
        while i < len(s):
            key = s[i]
            j = i + 1
            while j < len(s) and s[j].isdigit():
                j += 1
            if key not in 'wa' or j == i + 1:
                raise ValueError(f'bad bits spec "{text}" (use e.g. 8, w4a6, or w4a4,conv1=w8a8)')
            out[key] = int(s[i + 1:j])
            i = j
        return out

    parts = text.split(',')
    spec = one(parts[0]) if '=' not in parts[0] else {}
    layers = {}
    for p in parts[(0 if '=' in parts[0] else 1):]:
        name, _, val = p.partition('=')
        layers[name.strip()] = one(val.strip())
    spec['layers'] = layers
    return spec


def _bits_for(spec, name: str) -> tuple[int, int]:
    if spec is None:
        return 8, 8
    if isinstance(spec, int):
        return spec, spec
    w, a = spec.get('w', 8), spec.get('a', 8)
    o = spec.get('layers', {}).get(name, {})
    return o.get('w', w), o.get('a', a)


def build_arch(width: float = 1.0, decoder: str = 'upsample-conv', bits=None, flow_frac_bits: int = 5,
               w_exp: int = -3) -> ArchSpec:
    """Same rules as flownetsQ() in src/model/arch.ts."""
    if not (0 < width <= 4):
        raise ValueError(f'width multiplier {width} is out of range (0, 4]')
    if decoder not in DECODERS:
        raise ValueError(f'decoder must be one of {DECODERS}')
    bits = parse_bits(bits)
    couts = {FRAMES: INPUT_CHANNELS}
    layers = []

    def add(name, op, inputs, cout, k, s):
        cin = sum(couts[i] for i in inputs)
        bw, ba = _bits_for(bits, name)
        layers.append(LayerSpec(name, op, list(inputs), cin, cout, k, s, bw, ba, w_exp))
        couts[name] = cout

    for name, inp, cout, k, s in ENCODER:
        add(name, 'conv', [inp], scale_channels(cout, width), k, s)
    for name, inputs, cout in DECODER:
        add(name, 'upconv', inputs, scale_channels(cout, width), 3, 1)
    add('predict_flow2', 'flow', FLOW_INPUTS, 2, 3, 1)
    arch = ArchSpec(width, decoder, flow_frac_bits, layers)
    by = {l.name: l for l in layers}

    def overridden(n):
        return isinstance(bits, dict) and 'a' in bits.get('layers', {}).get(n, {})

    for a, b in CONCAT_PARTNERS:
        la, lb = by[a], by[b]
        if la.bits != lb.bits:
            if overridden(a) and not overridden(b):
                lb.bits = la.bits
            elif overridden(b) and not overridden(a):
                la.bits = lb.bits
    validate_arch(arch)
    return arch


def validate_arch(arch: ArchSpec) -> None:
    for l in arch.layers:
        if not (2 <= l.bits_w <= 8 and 2 <= l.bits <= 8):
            raise ValueError(f'layer {l.name}: bits must be in 2..8 (got w{l.bits_w} a{l.bits})')
        n_in = arch.bits_of(l.inputs[0])
        if l.cin * l.k * l.k * (2 ** n_in - 1) * 2 ** (l.bits_w - 1) > 2 ** 31 - 1:
            raise ValueError(f'layer {l.name}: accumulator bound exceeded')
    for a, b in CONCAT_PARTNERS:
        if arch.layer(a).bits != arch.layer(b).bits:
            raise ValueError(f'concatenated layers {a} and {b} must have equal activation bits')
    if not (0 <= arch.flow_frac_bits <= 12):
        raise ValueError('flow_frac_bits must be in 0..12')


# ------------------------------------------------------------------------------------------- fake quantization

def ste(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Value q, gradient of x (straight-through estimator)."""
    return x + (q - x).detach()


def fq_act(y: torch.Tensor, n: int) -> torch.Tensor:
    """Contract 2.1 output: clamp(floor(y / s + 1/2), 0, 2^n - 1) * s with s = 2^(2-n); clipped STE."""
    s = 2.0 ** (2 - n)
    yc = y.clamp(0.0, (2 ** n - 1) * s)
    return ste(yc, torch.floor(yc / s + 0.5) * s)


def fq_weight(w: torch.Tensor, nw: int, e: int) -> torch.Tensor:
    s = 2.0 ** (e - nw + 1)
    code = torch.clamp(torch.floor(w / s + 0.5), -2 ** (nw - 1), 2 ** (nw - 1) - 1)
    return ste(w, code * s)


def weight_codes(w: torch.Tensor, nw: int, e: int) -> torch.Tensor:
    s = 2.0 ** (e - nw + 1)
    return torch.clamp(torch.floor(w / s + 0.5), -2 ** (nw - 1), 2 ** (nw - 1) - 1).to(torch.int64)


def up2(x: torch.Tensor, n: int | None) -> torch.Tensor:
    """Contract 2.3; with n None a plain float bilinear upsampling. Exact in float32 (codes x quarters)."""
    y = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
    if n is None:
        return y
    s = 2.0 ** (2 - n)
    return ste(y, torch.floor(y / s + 0.5) * s)


def up4(flow: torch.Tensor, frac_bits: int | None) -> torch.Tensor:
    """Contract 2.4 on real-valued flow whose values are multiples of 2^-F."""
    y = F.interpolate(flow, scale_factor=4, mode='bilinear', align_corners=False)
    if frac_bits is None:
        return y
    s = 2.0 ** -frac_bits
    return ste(y, torch.floor(y / s + 0.5) * s)


def fq_flow(y: torch.Tensor, frac_bits: int) -> torch.Tensor:
    s = 2.0 ** -frac_bits
    yc = y.clamp(-32768 * s, 32767 * s)
    return ste(yc, torch.floor(yc / s + 0.5) * s)


# ------------------------------------------------------------------------------------------- FlowNetS-Q

class QConv(nn.Module):
    def __init__(self, spec: LayerSpec):
        super().__init__()
        self.spec = spec
        self.weight = nn.Parameter(torch.empty(spec.cout, spec.cin, spec.k, spec.k))
        fan_in = spec.cin * spec.k * spec.k
        # Kaiming, but kept inside the weight range so fresh layers are not saturated at low bits.
        std = math.sqrt(2.0 / fan_in)
        lim = 2.0 ** spec.w_exp
        with torch.no_grad():
            self.weight.normal_(0, min(std, lim / 2.5)).clamp_(-lim, lim)
        if spec.op == 'flow':
            self.bias = nn.Parameter(torch.zeros(spec.cout))
            self.bn = None
        else:
            self.bias = None
            self.bn = nn.BatchNorm2d(spec.cout)

    def forward(self, x: torch.Tensor, quant: bool) -> torch.Tensor:
        s = self.spec
        w = fq_weight(self.weight, s.bits_w, s.w_exp) if quant else self.weight
        y = F.conv2d(x, w, self.bias, stride=s.stride, padding=(s.k - 1) // 2)
        return y if self.bn is None else self.bn(y)


class FlowNetSQ(nn.Module):
    """quant=True: QAT model (fake-quantized, the integer contract in float); quant=False: the float FlowNetS-Q.

    Input: uint8 (or float) codes N x 6 x H x W; output: N x 2 x H x W flow in input pixels.
    """

    def __init__(self, arch: ArchSpec, quant: bool = True):
        super().__init__()
        self.arch = arch
        self.quant = quant
        self.convs = nn.ModuleDict({l.name: QConv(l) for l in arch.layers})

    def set_bits(self, arch: ArchSpec) -> None:
        """Switch per-layer bits (fine-tuning a float or other-bit checkpoint); shapes must match."""
        for l in arch.layers:
            old = self.arch.layer(l.name)
            if (old.cin, old.cout, old.k) != (l.cin, l.cout, l.k):
                raise ValueError(f'layer {l.name}: shape differs')
            self.convs[l.name].spec = l
        self.arch = arch

    def act(self, y: torch.Tensor, n: int) -> torch.Tensor:
        return fq_act(y, n) if self.quant else F.relu(y)

    def forward(self, frames: torch.Tensor, head: bool = False) -> torch.Tensor:
        a = self.arch
        q = self.quant
        x = frames.float() * 2.0 ** -6
        t = {FRAMES: x}
        flow = None
        for l in a.layers:
            inp = t[l.inputs[0]] if len(l.inputs) == 1 else torch.cat([t[i] for i in l.inputs], 1)
            conv = self.convs[l.name]
            if l.op == 'conv':
                t[l.name] = self.act(conv(inp, q), l.bits)
            elif l.op == 'upconv':
                if a.decoder == 'upsample-conv':
                    n_in = a.bits_of(l.inputs[0])
                    t[l.name] = self.act(conv(up2(inp, n_in if q else None), q), l.bits)
                else:
                    t[l.name] = up2(self.act(conv(inp, q), l.bits), l.bits if q else None)
            else:
                y = conv(inp, q)
                flow = fq_flow(y, a.flow_frac_bits) if q else y
        if head:
            return flow
        return up4(flow, a.flow_frac_bits if q else None)


# ------------------------------------------------------------------------------------------- original FlowNetS

class FlowNetSOrig(nn.Module):
    """flownet2-pytorch FlowNetS (batchNorm=False): biased convs + LeakyReLU(0.1), 4x4 stride-2 transposed-conv
    decoder, a flow head at every scale (flow/20), upsampled flows concatenated into the decoder. Width-scaled like
    FlowNetS-Q so the study compares equal widths."""

    DIV_FLOW = 20.0
    LOSS_WEIGHTS = (0.32, 0.08, 0.02, 0.01, 0.005)  # flow2 .. flow6 (flownet2 MultiScale)

    def __init__(self, width: float = 1.0):
        super().__init__()
        c = lambda n: scale_channels(n, width)  # noqa: E731
        self.width = width

        def conv(cin, cout, k, s):
            return nn.Sequential(nn.Conv2d(cin, cout, k, s, (k - 1) // 2, bias=True), nn.LeakyReLU(0.1, inplace=True))

        self.enc = nn.ModuleList([
            conv(6, c(64), 7, 2), conv(c(64), c(128), 5, 2), conv(c(128), c(256), 5, 2), conv(c(256), c(256), 3, 1),
            conv(c(256), c(512), 3, 2), conv(c(512), c(512), 3, 1), conv(c(512), c(512), 3, 2),
            conv(c(512), c(512), 3, 1), conv(c(512), c(1024), 3, 2), conv(c(1024), c(1024), 3, 1)])
        skips = [c(512), c(512), c(256), c(128)]
        dec = [c(512), c(256), c(128), c(64)]
        cin = c(1024)
        self.predict = nn.ModuleList()
        self.deconv = nn.ModuleList()
        self.upflow = nn.ModuleList()
        for i in range(4):
            self.predict.append(nn.Conv2d(cin, 2, 3, 1, 1, bias=True))
            self.deconv.append(nn.Sequential(nn.ConvTranspose2d(cin, dec[i], 4, 2, 1, bias=True),
                                             nn.LeakyReLU(0.1, inplace=True)))
            self.upflow.append(nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False))
            cin = skips[i] + dec[i] + 2
        self.predict.append(nn.Conv2d(cin, 2, 3, 1, 1, bias=True))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_uniform_(m.weight, a=0.1)
                if m.bias is not None:
                    nn.init.uniform_(m.bias)
                    m.bias.data.mul_(0.01)

    def forward(self, frames: torch.Tensor, scales: bool = False):
        x = frames.float() * 2.0 ** -6 - 2.0  # centred, as flownet2's mean subtraction
        feats = []
        for m in self.enc:
            x = m(x)
            feats.append(x)
        skips = [feats[7], feats[5], feats[3], feats[1]]  # conv5_1, conv4_1, conv3_1, conv2
        x = feats[9]
        flows = []
        for i in range(4):
            f = self.predict[i](x)
            flows.append(f)
            x = torch.cat([skips[i], self.deconv[i](x), self.upflow[i](f)], 1)
        f2 = self.predict[4](x)
        flows.append(f2)
        full = F.interpolate(f2 * self.DIV_FLOW, scale_factor=4, mode='bilinear', align_corners=False)
        if scales:
            return full, flows[::-1]  # flow2 .. flow6, in units of DIV_FLOW pixels
        return full

    @classmethod
    def scale_loss(cls, flows, gt: torch.Tensor) -> torch.Tensor:
        loss = 0.0
        for wgt, f in zip(cls.LOSS_WEIGHTS, flows):
            target = F.adaptive_avg_pool2d(gt, f.shape[-2:]) / cls.DIV_FLOW
            loss = loss + wgt * epe(f, target)
        return loss


def epe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean end-point error."""
    return torch.sqrt(((pred - gt) ** 2).sum(1) + 1e-12).mean()


def make_model(kind: str, width: float, bits=None, decoder: str = 'upsample-conv', flow_frac_bits: int = 5,
               w_exp: int = -3) -> nn.Module:
    """kind: 'q' (QAT), 'qfloat' (float FlowNetS-Q), 'orig' (original float FlowNetS)."""
    if kind == 'orig':
        return FlowNetSOrig(width)
    arch = build_arch(width, decoder, bits, flow_frac_bits, w_exp)
    return FlowNetSQ(arch, quant=(kind == 'q'))


def loss_fn(model: nn.Module, frames: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    inner = getattr(model, 'module', model)
    if isinstance(inner, FlowNetSOrig):
        _, flows = model(frames, scales=True)  # through the (DDP) wrapper so gradients are synchronised
        return FlowNetSOrig.scale_loss(flows, gt)
    return epe(model(frames), gt)


def total_macs(arch: ArchSpec, h: int, w: int) -> int:
    """MACs of one forward pass at h x w (same accounting as layerShapes() in arch.ts)."""
    size = {FRAMES: (h, w)}
    macs = 0
    for l in arch.layers:
        ih, iw = size[l.inputs[0]]
        if l.op == 'upconv':
            oh, ow = ih * 2, iw * 2
            ch, cw = (oh, ow) if arch.decoder == 'upsample-conv' else (ih, iw)
        else:
            p = (l.k - 1) // 2
            oh = (ih + 2 * p - l.k) // l.stride + 1
            ow = (iw + 2 * p - l.k) // l.stride + 1
            ch, cw = oh, ow
        macs += l.cout * ch * cw * l.cin * l.k * l.k
        size[l.name] = (oh, ow)
    return macs
