"""Which device and precision the engine uses; ``suite doctor`` shows the same answer."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class DevicePlan:
    device: str  # "cuda" or "cpu"
    dtype: str  # "bfloat16" (autocast) or "float32"
    bf16_supported: bool
    name: str
    count: int

    def as_dict(self) -> dict:
        return asdict(self)


def cpu_bf16_supported() -> bool:
    """AVX-512 BF16 or AMX: oneDNN runs bf16 matmuls natively, so autocast pays off."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def detect_device(prefer: str = "auto") -> DevicePlan:
    """CUDA when present (and not refused with ``prefer="cpu"``), else the CPU."""
    if prefer in ("auto", "cuda") and torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        return DevicePlan(
            device="cuda",
            dtype="bfloat16" if bf16 else "float32",
            bf16_supported=bf16,
            name=torch.cuda.get_device_name(0),
            count=torch.cuda.device_count(),
        )
    bf16 = cpu_bf16_supported()
    capability = torch.backends.cpu.get_cpu_capability()
    return DevicePlan(
        device="cpu",
        dtype="bfloat16" if bf16 else "float32",
        bf16_supported=bf16,
        name=f"{platform.processor() or platform.machine()} ({capability})",
        count=torch.get_num_threads(),
    )
