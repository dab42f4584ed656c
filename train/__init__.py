"""flowfpga training: synthetic data, FlowNetS-Q QAT, integer simulation, export (see docs/quantization.md)."""
import os as _os

# OpenBLAS busy-waits with one thread per core by default; next to torch's own threads on a small shared machine
# that made tiny numpy calls (3x3 inverses in the data generator) take milliseconds. One thread is plenty here.
for _v in ('OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    _os.environ.setdefault(_v, '1')
