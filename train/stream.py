"""Synthetic samples from worker processes, gathered into a pool on the training device (`train.train --workers N`).

On 2 CPU cores one process generates and trains (train.Pool). On a GPU machine the network step takes a few
milliseconds and generating a sample ~50 ms of one core, so N worker processes render and augment samples, a
thread moves them into a ring of `size` samples on the device (the oldest is replaced first), and each step draws
its batch from the ring: the accelerator never waits for data once the ring holds its first batches, and a sample
is reused only as often as generation falls behind. Arrival order depends on the workers' speed, so runs with
workers are not bit-reproducible (the sample set is: worker w renders indices start + w, start + w + N, ...)."""
import threading
import time

import numpy as np
import torch

from . import data as D


def augment_sample(frames, flow, rng, camera: float = 0.0, zoom: float = 1.0, zoom_prob: float = 0.5):
    """Training augmentation of one rendered pair: crop-free flips + jitter, then zoom and camera options."""
    frames, flow = D.augment(frames, flow, rng, crop=None, jitter=0.1)
    if zoom > 1 and rng.random() < zoom_prob:
        frames, flow = D.zoom(frames, flow, rng, zoom)
    if camera > 0 and rng.random() < camera:
        frames = D.camera(frames, rng)
    return frames, flow


class _Samples(torch.utils.data.IterableDataset):
    def __init__(self, seed: int, config: D.ChairsConfig, start: int, camera: float, zoom: float, zoom_prob: float):
        super().__init__()
        self.seed, self.config, self.start = seed, config, start
        self.camera, self.zoom, self.zoom_prob = camera, zoom, zoom_prob

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, n = (info.id, info.num_workers) if info is not None else (0, 1)
        ds = D.SyntheticChairs(self.seed, config=self.config)
        rng = np.random.default_rng([self.seed, wid, self.start, 77])
        i = self.start + wid
        while True:
            frames, flow = ds[i]
            i += n
            yield augment_sample(frames, flow, rng, self.camera, self.zoom, self.zoom_prob)


class StreamPool:
    """The ring of samples on `device`, filled by `workers` processes; step(batch) -> (frames uint8, flow float)."""

    def __init__(self, seed: int, config: D.ChairsConfig, workers: int, size: int, device,
                 rng: np.random.Generator, start: int = 0, camera: float = 0.0, zoom: float = 1.0,
                 zoom_prob: float = 0.5, chunk: int = 4, timeout: float = 600.0):
        if workers < 1:
            raise ValueError('StreamPool needs at least one worker')
        h, w = config.height, config.width
        self.size, self.device, self.rng, self.timeout = size, device, rng, timeout
        self.frames = torch.empty((size, 6, h, w), dtype=torch.uint8, device=device)
        self.flow = torch.empty((size, 2, h, w), dtype=torch.float32, device=device)
        self.filled = 0      # ring slots holding a sample
        self.pos = 0         # next slot to overwrite
        self.received = 0    # samples received in all
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.ready = threading.Condition(self.lock)
        loader = torch.utils.data.DataLoader(
            _Samples(seed, config, start, camera, zoom, zoom_prob), batch_size=chunk, num_workers=workers,
            prefetch_factor=4, persistent_workers=True)
        self._it = iter(loader)  # starts the workers now
        self._stop = False
        self._thread = threading.Thread(target=self._fill, name='stream-pool', daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        try:
            for frames, flow in self._it:
                if self._stop:
                    return
                frames, flow = frames.to(self.device), flow.to(self.device)
                with self.ready:
                    for k in range(frames.shape[0]):
                        self.frames[self.pos] = frames[k]
                        self.flow[self.pos] = flow[k]
                        self.pos = (self.pos + 1) % self.size
                        self.filled = min(self.size, self.filled + 1)
                    self.received += frames.shape[0]
                    self.ready.notify_all()
        except BaseException as e:  # a worker died: the training loop raises it at its next step
            with self.ready:
                self.error = e
                self.ready.notify_all()

    def _wait(self, cond, what: str) -> None:
        """Block (lock held) until cond() or a worker error; the pool's timeout bounds it."""
        deadline = time.monotonic() + self.timeout
        while not cond() and self.error is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f'stream pool: {what} after {self.timeout:.0f} s (are the workers alive?)')
            self.ready.wait(left)
        if self.error is not None:
            raise RuntimeError(f'stream pool: sample worker failed: {self.error}') from self.error

    def wait_received(self, n: int) -> None:
        """Until the workers have delivered n samples in all."""
        with self.ready:
            self._wait(lambda: self.received >= n, f'{self.received} of {n} samples received')

    def step(self, batch: int):
        need = min(self.size, batch * 2)
        with self.ready:
            self._wait(lambda: self.filled >= need, f'{self.filled} of {need} samples')
            idx = torch.from_numpy(self.rng.integers(0, self.filled, batch)).to(self.device)
            return self.frames[idx], self.flow[idx]

    def close(self) -> None:
        self._stop = True
        shutdown = getattr(self._it, '_shutdown_workers', None)  # persistent workers end with their iterator
        if shutdown is not None:
            shutdown()
