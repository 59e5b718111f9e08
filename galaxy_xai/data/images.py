"""Image operations every study shares (one definition each)."""
from __future__ import annotations



def centre_crop(images, height: int, width: int | None = None):
    """The central height × width pixels of `[n, H, W, c]` images, as a view (a memmap stays lazy)."""
    width = height if width is None else width
    h, w = images.shape[1:3]
    if not (0 < height <= h and 0 < width <= w):
        raise ValueError(f"cannot crop {height}x{width} px from {h}x{w} px images")
    top, left = (h - height) // 2, (w - width) // 2
    return images[:, top : top + height, left : left + width]
