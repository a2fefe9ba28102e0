"""Typed configurations of the official SAM 2 and SAM 2.1 models (sizes and switches from the official configs)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class TrunkConfig:
    """Hiera sizes. Widths double per stage, so the neck sees ``[8, 4, 2, 1] * embed_dim`` channels."""

    embed_dim: int
    num_heads: int
    stages: tuple[int, ...]
    global_att_blocks: tuple[int, ...]
    window_pos_embed_bkg_spatial_size: tuple[int, int]
    window_spec: tuple[int, ...] = (8, 4, 14, 7)

    @property
    def channel_list(self) -> list[int]:
        return [self.embed_dim * 2**i for i in reversed(range(len(self.stages)))]


@dataclass(frozen=True)
class SAM2Config:
    """One SAM 2 model: trunk sizes plus the switches of the tracker.

    The defaults are those shared by all eight official configs; ``sam21`` ones differ
    in the object-pointer temporal encoding and the spatial "no object" embedding.
    The decoder stability fallback is the one the official builder adds on top of its yaml.
    """

    name: str
    trunk: TrunkConfig
    image_size: int = 1024
    # what the published weights were trained with (``image_size`` may be overridden, these stay)
    trained_image_size: int = 1024
    trained_on_grey: bool = False
    d_model: int = 256
    mem_dim: int = 64
    # widths the official builder fixes; smaller only in the bundled demo model
    decoder_heads: int = 8
    decoder_mlp_dim: int = 2048
    memory_attention_ffn: int = 2048
    # memory bank and memory encoder
    num_maskmem: int = 7
    memory_attention_layers: int = 4
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    directly_add_no_mem_embed: bool = True
    max_cond_frames_in_attn: int = -1
    memory_temporal_stride_for_eval: int = 1
    non_overlap_masks_for_mem_enc: bool = False
    binarize_mask_from_pts_for_mem_enc: bool = False  # the video builder switches this on
    # prompt encoder and mask decoder heads
    use_mask_input_as_output_without_sam: bool = True
    use_high_res_features_in_sam: bool = True
    iou_prediction_use_sigmoid: bool = True
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    # when to ask the decoder for three candidate masks (a box counts as two points)
    multimask_output_in_sam: bool = True
    multimask_output_for_tracking: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    # object pointers: decoder tokens that enter the memory bank
    use_obj_ptrs_in_encoder: bool = True
    max_obj_ptrs_in_encoder: int = 16
    only_obj_ptrs_in_the_past_for_eval: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    use_mlp_for_obj_ptr_proj: bool = True
    fixed_no_obj_ptr: bool = True
    soft_no_obj_ptr: bool = False
    # differ between SAM 2 and SAM 2.1
    no_obj_embed_spatial: bool = False
    add_tpos_enc_to_obj_ptrs: bool = False
    proj_tpos_enc_in_obj_ptrs: bool = False
    use_signed_tpos_enc_to_obj_ptrs: bool = False
    # mask decoder fallback to the best multimask output when the single mask is unstable
    decoder_extra: dict = field(
        default_factory=lambda: {
            "dynamic_multimask_via_stability": True,
            "dynamic_multimask_stability_delta": 0.05,
            "dynamic_multimask_stability_thresh": 0.98,
        }
    )

    def with_image_size(self, image_size: int | None) -> "SAM2Config":
        if image_size is None:
            return self
        if (
            isinstance(image_size, bool)
            or not isinstance(image_size, int)
            or image_size <= 0
            or image_size % 32
            or image_size > MAX_IMAGE_SIZE
        ):
            raise ValueError(
                f"image_size must be a multiple of 32 from 32 to {MAX_IMAGE_SIZE} (the official "
                f"models are trained at 1024), got {image_size!r}"
            )
        return replace(self, image_size=image_size)

    def image_size_advice(self) -> str | None:
        """A warning text when ``image_size`` is far from the size the weights were trained at, else None.

        Outside :data:`GOOD_SIZE_RATIO` of the trained size the masks get worse (the shipped demo v3 tracked
        at IoU 0.92 at its 256 px but 0.50 at 128 and 0.31 at 512; v1: 0.90, 0.23 and 0.47; docs/weights.md).
        """
        lo, hi = GOOD_SIZE_RATIO
        ratio = self.image_size / self.trained_image_size
        if lo <= ratio <= hi:
            return None
        return (
            f"image_size {self.image_size} is far from the {self.trained_image_size} px that {self.name} "
            f"was trained at ({ratio:.2g}x): masks can get much worse that far from it (the bundled demo v3 tracked "
            f"at IoU 0.92 at its 256 px, 0.50 at half and 0.31 at double); use {self.trained_image_size} "
            f"(image_size={self.trained_image_size}, CLI --image-size {self.trained_image_size}) or stay within "
            f"{_nearest_multiple(lo * self.trained_image_size, up=True)}-"
            f"{_nearest_multiple(hi * self.trained_image_size, up=False)}"
        )


# image_size / trained size inside which results stay close to the trained size's
GOOD_SIZE_RATIO = (0.7, 1.4)
# the largest input size: 4x the official 1024 px, about 13 GB to track (memory grows with its square)
MAX_IMAGE_SIZE = 4096
# bytes per input pixel of tracking one frame (image encoder, memory attention; measured with sam2.1
# tiny on the CPU: 1.3 GB peak at 1024 px, 0.73 GB at 512 px, including the model)
TRACKING_BYTES_PER_PIXEL = 800


def _nearest_multiple(value: float, up: bool, step: int = 32) -> int:
    q = value / step
    return step * int(-(-q // 1) if up else q // 1)


TRUNKS = {
    "tiny": TrunkConfig(96, 1, (1, 2, 7, 2), (5, 7, 9), (7, 7)),
    "small": TrunkConfig(96, 1, (1, 2, 11, 2), (7, 10, 13), (7, 7)),
    "base_plus": TrunkConfig(112, 2, (2, 3, 16, 3), (12, 16, 20), (14, 14)),
    "large": TrunkConfig(144, 2, (2, 6, 36, 4), (23, 33, 43), (7, 7), window_spec=(8, 4, 16, 8)),
}

_SAM21 = dict(
    no_obj_embed_spatial=True,
    add_tpos_enc_to_obj_ptrs=True,
    proj_tpos_enc_in_obj_ptrs=True,
    use_signed_tpos_enc_to_obj_ptrs=True,
)

CONFIGS: dict[str, SAM2Config] = {}
for _size, _trunk in TRUNKS.items():
    CONFIGS[f"sam2_hiera_{_size}"] = SAM2Config(f"sam2_hiera_{_size}", _trunk)
    CONFIGS[f"sam2.1_hiera_{_size}"] = SAM2Config(f"sam2.1_hiera_{_size}", _trunk, **_SAM21)

# A small model of the same architecture, trained on synthetic microscopy (napari_sam2.train.demo);
# its weights ship with the package. Not SAM 2 quality: a demo that works offline.
DEMO = "napari_sam2_demo"
CONFIGS[DEMO] = SAM2Config(
    DEMO,
    TrunkConfig(
        embed_dim=24,
        num_heads=1,
        stages=(1, 1, 3, 1),
        global_att_blocks=(4,),
        window_pos_embed_bkg_spatial_size=(8, 8),
        window_spec=(8, 4, 8, 4),
    ),
    image_size=256,
    trained_image_size=256,
    d_model=128,
    mem_dim=64,
    memory_attention_layers=2,
    decoder_heads=4,
    decoder_mlp_dim=256,
    memory_attention_ffn=256,
    **_SAM21,
)

# The official config files use short size names (sam2.1_hiera_t.yaml, ..._b+.yaml).
_ALIASES = {"t": "tiny", "s": "small", "b+": "base_plus", "b": "base_plus", "l": "large"}


def get_config(name: str) -> SAM2Config:
    """Look up a model by name, e.g. ``"sam2.1_hiera_tiny"`` or ``"sam2.1_hiera_t"``, or by the
    official config path, e.g. ``"configs/sam2.1/sam2.1_hiera_t.yaml"`` (its file name counts)."""
    if not isinstance(name, str):
        raise TypeError(f"the model must be given by name, e.g. 'sam2.1_hiera_tiny'; got {name!r}")
    key = name.strip().replace("\\", "/").rsplit("/", 1)[-1]
    key = key.removesuffix(".yaml").removesuffix(".pt")
    if key == "demo":
        key = DEMO
    if key not in CONFIGS and "_hiera_" in key:
        prefix, size = key.rsplit("_hiera_", 1)
        key = f"{prefix}_hiera_{_ALIASES.get(size, size)}"
    if key not in CONFIGS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(CONFIGS)}")
    return CONFIGS[key]
