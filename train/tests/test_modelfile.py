import os
import struct
import tempfile
import unittest
import zlib

import numpy as np
import torch

from train import export as E
from train import intsim
from train import model as M
from train import modelfile as MF

torch.set_num_threads(1)


def trained_tiny(bits=6, decoder='upsample-conv', seed=0):
    """A tiny FlowNetS-Q with non-trivial BN statistics (a few train-mode forwards)."""
    torch.manual_seed(seed)
    net = M.FlowNetSQ(M.build_arch(1 / 16, decoder, bits), quant=True)
    with torch.no_grad():
        for conv in net.convs.values():
            if conv.bn is not None:
                conv.bn.weight.uniform_(0.5, 1.5)
                conv.bn.bias.uniform_(-0.2, 0.5)
            else:
                conv.bias.uniform_(-1, 1)
        net.train()
        for _ in range(3):
            net(torch.randint(0, 256, (2, 6, 64, 64), dtype=torch.uint8))
    return net.eval()


class TestExportAndFile(unittest.TestCase):
    def test_metrics_match_flowfpga_eval(self):
        # EPE and flownet2 L1 as src/flow/metrics.ts defines them: L1 = sum(|du| + |dv|) / (2 * pixels).
        gt = torch.zeros(2, 1, 2)
        pred = torch.tensor([[[3.0, 0.0]], [[4.0, -1.0]]])
        self.assertAlmostEqual(M.epe(pred[None], gt[None]).item(), (5.0 + 1.0) / 2)
        self.assertAlmostEqual(E.l1(pred, gt), (3 + 4 + 0 + 1) / (2 * 2))

    def test_requant_params(self):
        m, b, s = E.requant_params(0.3, 1.25)
        self.assertLessEqual(abs(m), 32767)
        self.assertGreater(abs(m), 16383)  # the largest S leaves M with 15 significant bits
        self.assertEqual(b, round(1.25 * 2 ** s) + 2 ** (s - 1))
        # the folded rule computes floor(acc*r + o + 1/2) for moderate acc
        for acc in (-1000, -7, 0, 3, 999):
            self.assertEqual((acc * m + b) >> s, int(np.floor(acc * 0.3 + 1.25 + 0.5)))
        with self.assertRaises(ValueError):
            E.requant_params(1e6, 0)

    def test_roundtrip_and_intsim_matches_fakequant(self):
        for dec in M.DECODERS:
            net = trained_tiny(6, dec)
            qm = E.export_model(net, 'tiny', (64, 64), {'note': 'test'})
            buf = MF.to_bytes(qm)
            back = MF.from_bytes(buf)
            self.assertEqual(back.header(), qm.header())
            for a, b in zip(qm.params, back.params):
                for f in ('weights', 'mult', 'shift', 'bias'):
                    self.assertTrue(np.array_equal(getattr(a, f), getattr(b, f)))
            fr = torch.randint(0, 256, (1, 6, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))
            with torch.no_grad():
                fq = (net(fr)[0] * 32).round().numpy().astype(np.int64)
            iq = intsim.forward(back, fr[0].numpy()).astype(np.int64)
            # Layer by layer the integer model equals the fake-quantized one up to the 15-bit rounding of the
            # requant factor: almost all codes identical, the rest one step off. Through the whole network such
            # flips cascade, so the end-to-end check is looser.
            for name, same, worst in E.layer_agreement(net, back, fr[0].numpy()):
                self.assertGreater(same, 0.995, f'{dec} {name}')
                self.assertLessEqual(worst, 1, f'{dec} {name}')
            self.assertGreater(np.mean(fq == iq), 0.5, dec)
            self.assertLess(np.abs(fq - iq).mean(), 2.0, dec)

    def test_loader_errors(self):
        qm = E.export_model(trained_tiny(4), 'tiny', (64, 64))
        buf = bytearray(MF.to_bytes(qm))

        def fixcrc(b):
            b[-4:] = struct.pack('<I', zlib.crc32(bytes(b[:-4])) & 0xFFFFFFFF)
            return bytes(b)

        with self.assertRaisesRegex(MF.ModelFileError, '^bad magic'):
            MF.from_bytes(b'NOPE' + bytes(buf[4:]))
        b = bytearray(buf)
        b[6] = 2
        with self.assertRaisesRegex(MF.ModelFileError, '^unsupported version'):
            MF.from_bytes(fixcrc(b))
        with self.assertRaisesRegex(MF.ModelFileError, '^truncated'):
            MF.from_bytes(bytes(buf[:len(buf) // 2]))
        b = bytearray(buf)
        b[-40] ^= 1
        with self.assertRaisesRegex(MF.ModelFileError, '^checksum mismatch'):
            MF.from_bytes(bytes(b))
        hl = struct.unpack_from('<I', buf, 8)[0]
        b = bytearray(buf)
        b[12] = ord('[')
        with self.assertRaisesRegex(MF.ModelFileError, '^bad header'):
            MF.from_bytes(fixcrc(b))
        hdr = bytes(buf[12:12 + hl]).replace(b'"bits":4', b'"bits":9', 1)
        with self.assertRaisesRegex(MF.ModelFileError, '^inconsistent'):
            MF.from_bytes(fixcrc(bytearray(buf[:12] + hdr + buf[12 + hl:])))
        with self.assertRaisesRegex(MF.ModelFileError, '^inconsistent'):
            MF.from_bytes(fixcrc(bytearray(buf[:-4] + b'\0' * 8 + buf[-4:])))
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, 'm.ffq')
            MF.save(qm, p)
            self.assertEqual(MF.load(p).name, 'tiny')


if __name__ == '__main__':
    unittest.main()
