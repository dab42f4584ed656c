#!/bin/bash
# One change at a time (issue 14 item 2): each row fine-tunes the shipped 8-bit model for the same 300 steps,
# same seed and schedule; only the named data option differs from the control. Resumable like run-robust.sh.
cd "$(dirname "$0")/../.." && RUNS=${RUNS:-/work/train-runs}
export OMP_WAIT_POLICY=PASSIVE FLOWFPGA_TEXTURE_ROOT=${FLOWFPGA_TEXTURE_ROOT:-/work/textures}
COMMON="--model q --bits 8 --width 0.25 --size 192x256 --batch 8 --threads 1 --val-count 16 --eval-every 100000 --init-ffq models/flownets-q-w0.25-8bit.ffq --lr 2e-4 --seed 21 --steps 300"
run() { out=$RUNS/ablation/$1; shift
  if [ -f $out/result.json ]; then echo "$out done"; return; fi
  if [ -f $out/last.pt ]; then nice -n 19 /usr/bin/python3 -m train.train $COMMON "$@" --out $out --resume
  else nice -n 19 /usr/bin/python3 -m train.train $COMMON "$@" --out $out; fi; }
run ctl
run motion --motion heavy
run sources --sources train
run camera --camera 0.7
run zoom --zoom 1.6
run all --motion heavy --sources train --camera 0.7 --zoom 1.6
