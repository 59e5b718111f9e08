"""Params group `data`: where the three survey layouts are, the image size, augmentation."""
from __future__ import annotations

from dataclasses import dataclass

from galaxy_xai.config import PARAMS, Bool, Int, Number, Optional, Section, Text, key, load as _load
from galaxy_xai.errors import ParamError

FILL_MODES = ("reflect", "wrap", "constant", "nearest")


@dataclass(frozen=True)
class Augmentation:
    rotation_range: float = key(Number(0, 360), "random rotation, degrees")
    fill_mode: str = key(Text(FILL_MODES), "how pixels rotated in from outside are filled")
    horizontal_flip: bool = key(Bool(), "random left-right flips")
    vertical_flip: bool = key(Bool(), "random up-down flips")
    width_shift_range: float = key(Number(0, 1, hi_open=True), "random shift, fraction of the width")
    height_shift_range: float = key(Number(0, 1, hi_open=True), "random shift, fraction of the height")
    brightness_range: float = key(Number(0, 1, hi_open=True), "random brightness change, ± fraction of [0, 1]")
    validation_split: float = key(Number(0, 1, True, True), "share of the labelled Galaxy Zoo galaxies held out")


@dataclass(frozen=True)
class DataConfig:
    galaxy_zoo: str = key(Text(what="a folder path"), "Galaxy Zoo folder in the Kaggle / GZ2 layout")
    sdss: str = key(Text(what="a folder path"), "SDSS folder in the SFNet layout")
    stellar_mass: str = key(Text(what="a folder path"), "stellar-mass folder (catalog.npz, images.npz)")
    truth: str | None = key(Optional(Text(what="a file path")), "truth table of a simulated universe; null for real data")
    random_seed: int = key(Int(0), "seed of the morphology training, heatmaps and bar split")
    img_height: int = key(Int(71), "Galaxy Zoo image size the CNNs see (Xception needs >= 71)")
    img_width: int = key(Int(71), "equal to img_height: images are square")
    img_depth: int = key(Int(3, 3), "3: RGB JPEGs")
    augmentation: Augmentation = key(Section(Augmentation), "training augmentation of the morphology CNNs")

    def check(self, source):
        if self.img_width != self.img_height:
            raise ParamError(f"{source}: key 'data.img_width' must equal data.img_height ({self.img_height}): "
                             f"images are square, got {self.img_width}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.img_height, self.img_width, self.img_depth)


def load(params: dict, source: str = PARAMS) -> DataConfig:
    return _load(DataConfig, params, "data", source)
