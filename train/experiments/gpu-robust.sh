#!/bin/bash
# One GPU lease, two robust fine-tunes at once (docs/accuracy.md "A GPU lease: robust fine-tunes of both widths"):
# 8-bit QAT of the shipped width-0.5 and width-0.25 models on the robust data (heavy-tailed motion, train photo
# sources, camera augmentation, zoom), batch 16, lr 2e-4 cosine over a wall-clock budget, samples rendered by
# worker processes into a ring on the GPU (train/stream.py). The run folders' weights leave in <= 15 MiB parts
# (train/ckshard.py) and the real stereo pairs are evaluated on the machine.
#
#   OUT=dir MINUTES=6.5 bash train/experiments/gpu-robust.sh
# needs: FLOWFPGA_TEXTURE_ROOT with the train sources (python3 -m train.packtextures --out DIR) and HELDOUT with the
# real-stereo sets (python3 -m train.heldout build --sets real-stereo-192x256,real-stereo-384x512).
set -uo pipefail
export PYTHONUNBUFFERED=1
export FLOWFPGA_TEXTURE_ROOT=${FLOWFPGA_TEXTURE_ROOT:-.gpucarry/textures}
PY=${PY:-python3}
OUT=${OUT:?set OUT}
MIN=${MINUTES:-6.5}
HELDOUT=${HELDOUT:-.gpucarry/heldout}
RUNS=${RUNS:-/tmp/gpu-runs}
W05=${W05_WORKERS:-9}
W025=${W025_WORKERS:-5}
mkdir -p "$OUT" "$RUNS"
echo "cores $(nproc)"; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch, numpy, PIL; print('torch', torch.__version__, 'numpy', numpy.__version__, 'cuda', torch.cuda.is_available())"
$PY -c "from train import data as D; print('photos', D.source_report(D.TRAIN_SOURCES))"
common="--model q --bits 8 --motion heavy --sources train --camera 0.7 --zoom 1.6 --lr 2e-4 --batch 16 --pool 6000
  --minutes $MIN --steps 1000000 --eval-every 1000 --ckpt-every 1000 --log-every 200 --val-count 64 --threads 1"
$PY -m train.train $common --width 0.5 --init-ffq models/flownets-q-w0.5-8bit.ffq --seed 31 --workers "$W05" \
  --out "$RUNS/w05" > "$OUT/w05.log" 2>&1 &
a=$!
$PY -m train.train $common --width 0.25 --init-ffq models/flownets-q-w0.25-8bit.ffq --seed 32 --workers "$W025" \
  --out "$RUNS/w025" > "$OUT/w025.log" 2>&1 &
b=$!
wait $a; ra=$?
wait $b; rb=$?
echo "exit w05 $ra w025 $rb"
tail -n 4 "$OUT/w05.log" "$OUT/w025.log"
for r in w05 w025; do
  [ -f "$RUNS/$r/last.pt" ] && $PY -m train.ckshard split "$RUNS/$r/last.pt" "$OUT/$r"
done
$PY -m train.heldout table --out "$HELDOUT" --sets real-stereo-192x256,real-stereo-384x512 --no-dis --models \
  --checkpoints "w05=$RUNS/w05/last.pt,w025=$RUNS/w025/last.pt" --threads 4 2>&1 | tee "$OUT/eval.txt"
