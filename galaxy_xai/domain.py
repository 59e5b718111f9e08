"""Names the whole project shares: one definition each, imported wherever they are needed.

Kept free of heavy imports so that the config modules can validate params against them.
"""

# The three morphology backbones of the saliency study (SPEC §2), in the order they are reported.
BACKBONES = ("vgg16", "resnet50v2", "xception")

# Galaxy Zoo decision tree (SPEC §1.3): question -> number of answers; the 37 vote columns.
GZ_QUESTIONS = {1: 3, 2: 2, 3: 2, 4: 2, 5: 4, 6: 2, 7: 3, 8: 7, 9: 3, 10: 3, 11: 6}
VOTE_COLUMNS = [f"Class{q}.{a}" for q, n in GZ_QUESTIONS.items() for a in range(1, n + 1)]
# Each question's fractions sum to the answer that leads to it; None = they sum to 1.
TREE_PARENT = {1: None, 2: "Class1.2", 3: "Class2.2", 4: "Class2.2", 5: "Class2.2", 6: None,
               7: "Class1.1", 8: "Class6.1", 9: "Class2.1", 10: "Class4.1", 11: "Class4.1"}

# SFNet targets (SPEC §4): name -> (sample flag in the prepared SDSS catalogue, target columns).
SFNET_TARGETS = {
    "metallicity": ("in_metallicity", ["oh_p50"]),
    "lines": ("in_lines", ["log_N2", "log_Ha", "log_O3", "log_Hb"]),
}
# ResNet18 layer-name prefixes in forward order (sfnet.trainable_from names one).
SFNET_BLOCKS = ("stem", "stage1", "stage2", "stage3", "stage4", "head")

# Learning-rate schedules of the morphology CNNs (galaxy_xai.models.morphology.learning_rate).
LR_SCHEDULES = ("constant", "cosine")

# TRIM band-importance methods (galaxy_xai.xai.trim.band_importance).
TRIM_METHODS = ("integrated_gradients", "integrated_gradients_zero", "knockout", "gradient_x_input", "cd")

# SDSS optical bands, blue to red.
BANDS = "ugriz"

# The prepared data families (out/prepared/<family>) and the catalogue splits.
FAMILIES = ("galaxy_zoo", "sdss", "stellar_mass")
SPLITS = ("train", "validation", "test")

# SCL / MI input kinds: photometry-only sets and image sets train with their own budgets.
INPUT_KINDS = ("photometry", "image")

# Bar-length modes (SPEC §3): one model's maps, or the three combined before / after measuring.
AVERAGE_BAR_MODES = ("averageheatmaps", "averagemeasurements")
BAR_MODES = BACKBONES + AVERAGE_BAR_MODES
