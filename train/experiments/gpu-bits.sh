#!/bin/bash
# One short GPU lease: the bit-width rows on a new model (docs/accuracy.md "Bit widths on the GPU fine-tune"):
# every row starts from the same .ffq (dequantized, --init-ffq) and gets the same number of QAT steps on the robust
# data, all rows at once on one GPU (samples from worker processes, train/stream.py); each row is exported to
# OUT/<row>.ffq and evaluated on the held-out sets afterwards, on any machine (train.heldout table --models ...).
#
#   OUT=dir INIT=model.ffq STEPS=1500 MINUTES=2.7 bash train/experiments/gpu-bits.sh
set -uo pipefail
export PYTHONUNBUFFERED=1
export FLOWFPGA_TEXTURE_ROOT=${FLOWFPGA_TEXTURE_ROOT:-.gpucarry/textures}
PY=${PY:-python3}
OUT=${OUT:?set OUT}
INIT=${INIT:?set INIT}
STEPS=${STEPS:-1500}
MIN=${MINUTES:-2.7}
WIDTH=${WIDTH:-0.5}
ROWS=${ROWS:-q8 q6 q5 q4 q3 q2 mixed}
WORKERS=${WORKERS:-2}
RUNS=${RUNS:-/tmp/gpu-bits}
MIXED=$($PY -c "from train.study import MIXED; print(MIXED)")
mkdir -p "$OUT" "$RUNS/logs"
common="--model q --width $WIDTH --init-ffq $INIT --motion heavy --sources train --camera 0.7 --zoom 1.6 --lr 1e-4
  --batch 16 --pool 2000 --steps $STEPS --minutes $MIN --eval-every 100000 --ckpt-every 100000 --log-every 250
  --val-count 32 --threads 1 --seed 41 --workers $WORKERS"
pids=()
for r in $ROWS; do
  case $r in mixed) bits=$MIXED ;; q*) bits=${r#q} ;; esac
  $PY -m train.train $common --bits "$bits" --out "$RUNS/$r" > "$RUNS/logs/$r.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for r in $ROWS; do tail -n 2 "$RUNS/logs/$r.log"; done
for r in $ROWS; do
  [ -f "$RUNS/$r/last.pt" ] && $PY -m train.export "$RUNS/$r/last.pt" "$OUT/$r.ffq" --val-count 4 --threads 2 \
    > "$RUNS/logs/$r.export" 2>&1 &
done
wait
tail -q -n 1 "$RUNS"/logs/*.export
tar -C "$RUNS" -czf "$OUT/logs.tgz" logs
