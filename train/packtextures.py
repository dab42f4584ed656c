"""Pack texture sources as the downscaled photos training reads (lossless PNG, <= data.PHOTO_MAX_SIDE), for a
machine without the Debian packages (a GPU machine that can reach no registry):

    /usr/bin/python3 -m train.packtextures --sources train --out DIR   # then FLOWFPGA_TEXTURE_ROOT=DIR there

Each package becomes DIR/<package>/NNN.png in source_files order; data.load_sources reads back the same arrays."""
import argparse
import os

import numpy as np

from . import data as D


def pack(sources: tuple[str, ...], out: str) -> dict[str, int]:
    from PIL import Image
    counts = {}
    for pkg in sources:
        d = os.path.join(out, pkg)
        os.makedirs(d, exist_ok=True)
        n = 0
        for f in D.source_files(pkg):
            a = D._read_photo(f)
            if a is None:
                continue
            Image.fromarray(a).save(os.path.join(d, f'{n:03d}.png'), optimize=True)
            n += 1
        counts[pkg] = n
    return counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sources', default='train', help="train (data.TRAIN_SOURCES) or a comma list of packages")
    p.add_argument('--out', required=True)
    a = p.parse_args(argv)
    src = D.TRAIN_SOURCES if a.sources == 'train' else tuple(s for s in a.sources.split(',') if s)
    print(pack(src, a.out))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
