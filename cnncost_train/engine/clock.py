"""Sums timed segments per phase: CUDA events on a GPU (read once, at the end), perf_counter on the CPU."""
from __future__ import annotations

import time


class Clock:
    """Sums timed segments: CUDA events on a GPU (read once, at the end), perf_counter on the CPU."""

    def __init__(self, device):
        import torch
        self.cuda = str(device).startswith("cuda")
        self._torch = torch
        self.segments: dict[str, list] = {}
        self._open = None

    def start(self, phase: str):
        if self._open is not None:
            raise RuntimeError(f"clock already running ({self._open[0]})")
        if self.cuda:
            ev = self._torch.cuda.Event(enable_timing=True)
            ev.record()
            self._open = (phase, ev)
        else:
            self._open = (phase, time.perf_counter())

    def stop(self):
        if self._open is None:
            return
        phase, begin = self._open
        if self.cuda:
            end = self._torch.cuda.Event(enable_timing=True)
            end.record()
            self.segments.setdefault(phase, []).append((begin, end))
        else:
            self.segments.setdefault(phase, []).append(time.perf_counter() - begin)
        self._open = None

    @property
    def running(self) -> bool:
        return self._open is not None

    def seconds(self) -> dict[str, float]:
        """Seconds per phase (synchronises on a GPU)."""
        self.stop()
        out = {}
        for phase, parts in self.segments.items():
            if self.cuda:
                parts[-1][1].synchronize()
                out[phase] = sum(b.elapsed_time(e) for b, e in parts) / 1000
            else:
                out[phase] = sum(parts)
        return out
