#!/bin/bash
# Background training for issue 14 (branch acc). Resumable: rerun this script; finished stages are skipped,
# an interrupted stage resumes from its last.pt.
cd "$(dirname "$0")/../.." && RUNS=${RUNS:-/work/train-runs}
export OMP_WAIT_POLICY=PASSIVE FLOWFPGA_TEXTURE_ROOT=${FLOWFPGA_TEXTURE_ROOT:-/work/textures}
COMMON="--model q --bits 8 --width 0.25 --size 192x256 --batch 8 --threads 1 --val-count 64 --eval-every 500 --motion heavy --sources train --camera 0.7 --zoom 1.6"
run() { # out, args...
  out=$1; shift
  if [ -f $out/result.json ]; then echo "$out done"; return; fi
  if [ -f $out/last.pt ]; then nice -n 19 /usr/bin/python3 -m train.train $COMMON "$@" --out $out --resume
  else nice -n 19 /usr/bin/python3 -m train.train $COMMON "$@" --out $out; fi
}
# A: fine-tune the shipped 8-bit model on the robust data, 85-minute cosine schedule (shippable this session)
run $RUNS/robust-q8-a --init-ffq models/flownets-q-w0.25-8bit.ffq --lr 2e-4 --seed 11 --minutes 85
# B: long continuation on fresh data (seed 12), step budget, for the next session
run $RUNS/robust-q8-b --init $RUNS/robust-q8-a/last.pt --lr 1e-4 --seed 12 --steps 40000 --eval-every 1000
