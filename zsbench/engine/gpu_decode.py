"""Optional JPEG decoding on the GPU (``--gpu_decode``), for small models where CPU decoding is the bottleneck.

Workers only read the file bytes; ``torchvision.io.decode_jpeg(..., device="cuda")`` decodes a whole batch on the
GPU and the model's own transform runs on the decoded tensors. Tensor resizing is not bit-identical to PIL's
(about 0.03 after normalisation, per the InternVL notes), so this is opt-in and recorded in the result.
"""

from __future__ import annotations

from typing import Any

from zsbench.datasets.base import FileImageSet

JPEG_SUFFIXES = (".jpg", ".jpeg", ".JPG", ".JPEG")


def supports_gpu_decode(images: Any) -> bool:
    return isinstance(images, FileImageSet) and all(p.endswith(JPEG_SUFFIXES) for p in images.relpaths[:100])


def tensor_transform(pil_transform: Any) -> Any:
    """The model's PIL transform rebuilt for uint8 CHW tensors: same resize/crop/normalise, no PIL conversions."""
    import torch
    from torchvision import transforms as T

    steps = []
    for step in getattr(pil_transform, "transforms", [pil_transform]):
        if isinstance(step, T.ToTensor):
            steps.append(T.ConvertImageDtype(torch.float32))
        elif isinstance(step, (T.Resize, T.CenterCrop, T.Normalize)):
            if isinstance(step, T.Resize):
                step = T.Resize(step.size, interpolation=step.interpolation, max_size=step.max_size, antialias=True)
            steps.append(step)
        # anything else (RGB conversion lambdas) is a no-op on decoded RGB tensors
    return T.Compose(steps)


class _Bytes:
    def __init__(self, images: FileImageSet, indices: list[int]) -> None:
        self.images, self.indices = images, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        import torchvision

        index = self.indices[i]
        return torchvision.io.read_file(str(self.images.path(index))), index


def encode_images_gpu_decode(model: Any, images: FileImageSet, settings: Any, indices: list[int] | None = None) -> Any:
    """Embeddings (N, D) float32 on the CPU, decoding JPEGs on the model's device."""
    import torch
    import torchvision

    indices = list(range(len(images))) if indices is None else list(indices)
    transform = tensor_transform(model.transform)
    loader = torch.utils.data.DataLoader(
        _Bytes(images, indices),
        batch_size=settings.batch_size,
        num_workers=settings.num_workers,
        collate_fn=lambda batch: ([b[0] for b in batch], [b[1] for b in batch]),
    )
    device = model.device if model.device.startswith("cuda") else "cpu"
    out = []
    for data, _ in loader:
        decoded = torchvision.io.decode_jpeg(data, mode=torchvision.io.ImageReadMode.RGB, device=device)
        pixels = torch.stack([transform(img) for img in decoded])
        out.append(model.encode_image(pixels).cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)
