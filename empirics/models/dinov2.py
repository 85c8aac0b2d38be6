"""DINOv2 as architecture adapters: one model type, two MLPs (a plain GELU MLP in S/B/L, a
SwiGLU in giant, told apart by the configuration's ``use_swiglu_ffn``), and the standard
preprocessing an untrained DINOv2 uses when it has no processor of its own.
"""

from __future__ import annotations

from empirics.models.adapters import Architecture, model_type

MODEL_TYPES = ("dinov2", "dinov2_with_registers")
#: DINOv2's preprocessing (HF preprocessor_config.json): shortest edge 256, centre crop 224,
#: ImageNet mean/std, bicubic; used when a random-init model has no local processor.
PREPROCESS = {"do_resize": True, "size": {"shortest_edge": 256}, "resample": 3,
              "do_center_crop": True, "crop_size": {"height": 224, "width": 224},
              "do_normalize": True, "image_mean": [0.485, 0.456, 0.406],
              "image_std": [0.229, 0.224, 0.225], "do_convert_rgb": True}


def standard_processor():
    """DINOv2's image preprocessing (`PREPROCESS`)."""
    import transformers

    return transformers.BitImageProcessor(**PREPROCESS)


def _mlp(swiglu: bool):
    return lambda model: (model_type(model) in MODEL_TYPES
                          and bool(model.config.use_swiglu_ffn) == swiglu)


_FIELDS = {"model_types": MODEL_TYPES, "depth_field": "num_hidden_layers",
           "width_field": "hidden_size", "standard_processor": standard_processor}

#: GELU(fc1 x), the input of fc2.
DINOV2 = Architecture(name="dinov2", hook_points=("encoder.layer.{layer}.mlp.fc2",),
                      modality="vision", recognises_module=_mlp(swiglu=False), **_FIELDS)
#: SiLU(gate x) * up(x), the input of down_proj (DINOv2-giant).
DINOV2_SWIGLU = Architecture(name="dinov2_swiglu",
                             hook_points=("encoder.layer.{layer}.mlp.down_proj",),
                             modality="vision", recognises_module=_mlp(swiglu=True), **_FIELDS)
