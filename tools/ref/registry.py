"""The fixture table and the family-name -> module map shared by make_fixtures.py and the
benchmark driver. A family module provides build(architecture, num_classes, model_args) ->
(nn.Module, resolved args) and config_for(architecture, num_classes, args, **kw) -> config dict,
and optionally special_init(name, tensor, gen), calibrate(model, config, seed),
extra_tensors(model, args), skip_keys(model)."""
import importlib
import zlib
from dataclasses import dataclass, field

from . import common

# architecture-name prefix -> family module (first match wins)
_PREFIXES = [
    ("deit_", "vit"), ("deit3_", "vit"), ("vit_", "vit"), ("poolformer_", "poolformer"), ("pvt_v2_", "pvt_v2"),
    ("swin_", "swin"), ("sret_", "sret"), ("hat_net_", "hat_net"), ("transcnn_", "transcnn"),
    ("poolformerv2_", "metaformer_v2"), ("convformer_", "metaformer_v2"),
    ("caformer_", "metaformer_v2"), ("efficientformer_", "efficientformer"),
    ("levit_", "levit"), ("mobilevit_", "mobilevit"), ("efficientformerv2_", "efficientformer_v2"),
]


@dataclass
class Fixture:
    name: str
    family: str
    architecture: str
    num_classes: int
    model_args: dict = field(default_factory=dict)
    label_names: list = None
    float_dtype: str = "F32"
    single_file: object = False  # True, or the file name of a lone .safetensors
    on_demand: bool = False
    config_kw: dict = field(default_factory=dict)
    hub_config: dict = None  # common.hub_style() arguments: config.json exactly as timm's hub


def family(name):
    return importlib.import_module(f"ref.{name}")


def fixture_seed(name):
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def prepare(fx):
    """Builds and randomizes fx's model. Returns (model, config, seed, extra_tensors, skip)."""
    seed = fixture_seed(fx.name)
    fam = family(fx.family)
    model, args = fam.build(fx.architecture, fx.num_classes, fx.model_args)
    common.randomize(model, seed, getattr(fam, "special_init", None))
    kw = dict(fx.config_kw)
    if fx.label_names:
        kw["label_names"] = fx.label_names
    config = fam.config_for(fx.architecture, fx.num_classes, args, **kw)
    if fx.hub_config is not None:
        config = common.hub_style(config, **fx.hub_config)
    if hasattr(fam, "calibrate"):
        fam.calibrate(model, config, seed)
    extra = fam.extra_tensors(model, args) if hasattr(fam, "extra_tensors") else None
    skip = list(fam.skip_keys(model)) if hasattr(fam, "skip_keys") else []
    if fx.hub_config is not None:  # timm >= 0.9 saves no index/mask buffers
        skip += [k for k in model.state_dict() if k.endswith("relative_position_index")]
    return model, config, seed, extra, skip


def write(outdir, fx):
    """Writes fixture fx into outdir/fx.name; returns (model, logits)."""
    import os
    model, config, seed, extra, skip = prepare(fx)
    logits = common.write_fixture(os.path.join(outdir, fx.name), model, config, seed,
                                  fx.float_dtype, fx.single_file, skip, extra)
    return model, logits


def family_of_architecture(architecture):
    for prefix, fam in _PREFIXES:
        if architecture.startswith(prefix):
            return fam
    raise KeyError(f"no reference family for architecture {architecture!r}")


_SMALL_VIT = dict(img_size=32, patch_size=4, embed_dim=48, depth=2, num_heads=3, mlp_ratio=4.0,
                  in_chans=3)
# timm's VisionTransformer variants (tests/vit/test_fixtures.py runs every fixture)
_VARIANT = dict(img_size=32, patch_size=4, embed_dim=64, depth=2, num_heads=4, mlp_ratio=4.0,
                in_chans=3)
_SMALL_POOL = dict(depths=[1, 1, 2, 1], dims=[16, 24, 32, 48], mlp_ratios=[4, 4, 4, 4], img_size=64)
_SMALL_MF2 = dict(depths=[1, 1, 2, 1], dims=[16, 24, 32, 64], img_size=64)
_TEN = [f"class_{i}" for i in range(10)]
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                  "Sneaker", "Bag", "Ankle boot"]

FIXTURES = [
    Fixture("deit_tiny_patch16_224", "vit", "deit_tiny_patch16_224", 1000),
    Fixture("deit_tiny_distilled_patch16_224", "vit", "deit_tiny_distilled_patch16_224", 1000),
    # config.json as timm's hub writes it: no model_args, shapes from the architecture name
    Fixture("deit_tiny_patch16_224_hubcfg", "vit", "deit_tiny_patch16_224", 1000,
            hub_config=dict(tag="fb_in1k", crop_pct=0.875, fixed_input_size=True)),
    Fixture("vit_small_test", "vit", "vit_small_test", 10, dict(_SMALL_VIT), label_names=_TEN),
    Fixture("vit_gray_test", "vit", "vit_gray_test", 10,
            dict(_SMALL_VIT, img_size=28, in_chans=1), label_names=FASHION_LABELS,
            config_kw=dict(mean=[0.2860], std=[0.3530])),
    Fixture("vit_f16_test", "vit", "vit_f16_test", 10, dict(_SMALL_VIT), label_names=_TEN,
            float_dtype="F16"),
    Fixture("vit_bf16_test", "vit", "vit_bf16_test", 10, dict(_SMALL_VIT), label_names=_TEN,
            float_dtype="BF16"),
    Fixture("vit_single_file", "vit", "vit_single_file", 10, dict(_SMALL_VIT),
            label_names=_TEN, single_file=True),
    Fixture("vit_single_file_path", "vit", "vit_single_file_path", 10, dict(_SMALL_VIT),
            label_names=_TEN, single_file="model-single.safetensors"),
    Fixture("vit_avgpool_test", "vit", "vit_avgpool_test", 10,
            dict(_SMALL_VIT, global_pool="avg"), label_names=_TEN),
    # conv stem before the patch conv (3x3 conv + ReLU, as vitd's Fashion-MNIST models have);
    # 40 channels: one full register tile of the C kernel and a ragged one
    Fixture("vit_stem_test", "vit", "vit_stem_test", 10, dict(_SMALL_VIT, stem_chans=40),
            label_names=_TEN),
    # ViT variants as timm's registered names use them (the name sets eps / activation)
    Fixture("deit3_test", "vit", "deit3_test", 10,
            dict(_VARIANT, no_embed_class=True, init_values=1e-6)),
    Fixture("vit_clip_test", "vit", "vit_small_clip_test", 10, dict(_VARIANT, pre_norm=True)),
    Fixture("vit_clip_quickgelu_test", "vit", "vit_small_clip_quickgelu_test", 10,
            dict(_VARIANT, pre_norm=True, act_layer="quick_gelu")),
    Fixture("vit_reg_dinov2_test", "vit", "vit_small_patch14_reg4_dinov2_test", 10,
            dict(_VARIANT, img_size=56, patch_size=14, reg_tokens=4, no_embed_class=True,
                 init_values=1e-5)),
    Fixture("vit_siglip_map_test", "vit", "vit_siglip_test", 10,
            dict(_VARIANT, class_token=False, global_pool="map")),
    Fixture("vit_gap_test", "vit", "vit_medium_gap_test", 10,
            dict(_VARIANT, class_token=False, global_pool="avg", qkv_bias=False,
                 init_values=1e-6, fc_norm=False)),
    Fixture("vit_avgmax_test", "vit", "vit_avgmax_test", 10, dict(_VARIANT, global_pool="avgmax")),
    Fixture("vit_max_test", "vit", "vit_max_test", 10,
            dict(_VARIANT, class_token=False, global_pool="max")),
    Fixture("vit_qk_norm_test", "vit", "vit_qk_norm_test", 10, dict(_VARIANT, qk_norm=True)),
    Fixture("vit_gelu_tanh_test", "vit", "vit_gelu_tanh_test", 10,
            dict(_VARIANT, act_layer="gelu_tanh")),
    Fixture("vit_patch32_test", "vit", "vit_patch32_test", 10,
            dict(_VARIANT, img_size=64, patch_size=32)),
    # run at another size than the position embedding's grid: resampled up (with registers,
    # no_embed_class) and down (antialiased: the cls row kept apart)
    Fixture("vit_resample_up_test", "vit", "vit_resample_up_test", 10,
            dict(_VARIANT, img_size=56, patch_size=14, run_size=70, reg_tokens=2,
                 no_embed_class=True)),
    Fixture("vit_resample_down_test", "vit", "vit_resample_down_test", 10,
            dict(_VARIANT, img_size=64, patch_size=8, run_size=40)),
    # PoolFormer, both key layouts (same maths except the head order)
    Fixture("poolformer_test_timm", "poolformer", "poolformer_test", 10,
            dict(_SMALL_POOL, layout="timm"), label_names=_TEN),
    Fixture("poolformer_test_official", "poolformer", "poolformer_test", 10,
            dict(_SMALL_POOL, layout="official"), label_names=_TEN),
    Fixture("poolformer_s12", "poolformer", "poolformer_s12", 1000, dict(layout="timm"),
            on_demand=True),
    Fixture("poolformer_s12_official", "poolformer", "poolformer_s12", 1000,
            dict(layout="official"), on_demand=True),
    Fixture("poolformer_s12_hubcfg", "poolformer", "poolformer_s12", 1000, dict(layout="timm"),
            hub_config=dict(tag="sail_in1k")),
    # PVT v2
    Fixture("pvt_v2_test", "pvt_v2", "pvt_v2_test", 10,
            dict(depths=[2, 1, 1, 1], embed_dims=[16, 32, 48, 64], num_heads=[1, 2, 3, 4],
                 mlp_ratios=[4, 4, 2, 2], sr_ratios=[8, 4, 2, 1], img_size=64),
            label_names=_TEN),
    Fixture("pvt_v2_b0", "pvt_v2", "pvt_v2_b0", 1000),
    Fixture("pvt_v2_b0_hubcfg", "pvt_v2", "pvt_v2_b0", 1000, on_demand=True,
            hub_config=dict(tag="in1k", fixed_input_size=False)),
    # linear (-Li): adaptive 7x7 pooling, on grids 28 (even bins), 14, 7 and 4 (overlapping bins)
    Fixture("pvt_v2_li_test", "pvt_v2", "pvt_v2_li_test", 10,
            dict(depths=[1, 1, 1, 1], embed_dims=[16, 32, 48, 64], num_heads=[1, 2, 3, 4],
                 mlp_ratios=[4, 4, 2, 2], sr_ratios=[8, 4, 2, 1], linear=True, img_size=112),
            label_names=_TEN),
    Fixture("pvt_v2_b2_li", "pvt_v2", "pvt_v2_b2_li", 1000, on_demand=True),
    # Swin: window 7 with one shifted stage and one single-window stage; window 4 over three
    # stages whose stored relative_position_index is deliberately wrong (must be rebuilt)
    Fixture("swin_test", "swin", "swin_test", 10,
            dict(img_size=56, patch_size=4, window_size=7, embed_dim=24, depths=[2, 2],
                 num_heads=[2, 4]), label_names=_TEN),
    Fixture("swin_bogus_index_test", "swin", "swin_test", 10,
            dict(img_size=64, patch_size=4, window_size=4, embed_dim=16, depths=[2, 2, 2],
                 num_heads=[1, 2, 4], bogus_index=True), label_names=_TEN),
    Fixture("swin_tiny_patch4_window7_224", "swin", "swin_tiny_patch4_window7_224", 1000,
            on_demand=True),
    Fixture("swin_tiny_patch4_window7_224_hubcfg", "swin", "swin_tiny_patch4_window7_224", 1000,
            hub_config=dict(tag="ms_in1k", fixed_input_size=True)),
    # SReT: group attention with stored permutations
    Fixture("sret_test", "sret", "sret_test", 10,
            dict(img_size=64, base_dims=[8, 8, 8], heads=[2, 4, 8], depth=[4, 2, 2],
                 recursive_num=[2, 1, 1], groups1=[8, 4, 1], groups2=[2, 1, 1],
                 mlp_ratio=3.6, np_mlp_ratio=1), label_names=_TEN),
    Fixture("sret_tiny", "sret", "sret_tiny", 1000),
    Fixture("sret_small", "sret", "sret_small", 1000, on_demand=True),
    # HAT-Net: local grid attention + pooled global attention
    Fixture("hat_net_test", "hat_net", "hat_net_test", 10,
            dict(img_size=64, dims=[16, 32, 48, 64], head_dim=16, expansions=[4, 4, 2, 2],
                 grid_sizes=[4, 2, 2, 1], ds_ratios=[4, 2, 2, 1], depths=[1, 1, 2, 1],
                 kernel_sizes=[3, 3, 5, 3]), label_names=_TEN),
    Fixture("hat_net_tiny", "hat_net", "hat_net_tiny", 1000),
    # TransCNN: the same H-MHSA with BatchNorm everywhere and the two-branch downsampler
    Fixture("transcnn_test", "transcnn", "transcnn_test", 10,
            dict(img_size=64, dims=[16, 32, 48, 64], head_dim=16, expansions=[4, 4, 2, 2],
                 grid_sizes=[4, 2, 2, 1], ds_ratios=[4, 2, 2, 1], depths=[1, 1, 2, 1],
                 kernel_sizes=[5, 3, 5, 3]), label_names=_TEN),
    Fixture("transcnn_tiny", "transcnn", "transcnn_tiny", 1000),
    # MetaFormer baselines: GroupNorm + pooling, sepconv, sepconv + attention (head_dim 32)
    *[Fixture(f"{kind}_test", "metaformer_v2", f"{kind}_test", 10, dict(_SMALL_MF2),
              label_names=_TEN) for kind in ("poolformerv2", "convformer", "caformer")],
    Fixture("caformer_s18", "metaformer_v2", "caformer_s18", 1000, on_demand=True),
    Fixture("convformer_s18_hubcfg", "metaformer_v2", "convformer_s18", 1000, on_demand=True,
            hub_config=dict(tag="sail_in1k")),
    # EfficientFormer: Meta4D + one Meta3D after the Flat index; the bias table needs a 7x7 grid
    Fixture("efficientformer_test", "efficientformer", "efficientformer_test", 10,
            dict(depths=[1, 1, 1, 2], embed_dims=[16, 24, 32, 48], num_vit=1, img_size=224),
            label_names=_TEN),
    Fixture("efficientformer_l1", "efficientformer", "efficientformer_l1", 1000, on_demand=True),
    # LeViT: 112 -> 7x7 tokens -> 4x4 (odd grid subsampled) -> 2x2
    Fixture("levit_test", "levit", "levit_test", 10,
            dict(embed_dim=[32, 48, 64], key_dim=8, num_heads=[2, 3, 4], depth=[1, 1, 2],
                 img_size=112), label_names=_TEN),
    Fixture("levit_128s", "levit", "levit_128s", 1000, on_demand=True),
    # MobileViT: 96 input -> maps 48, 24, 12, 6, 3; the 3x3 one is stretched to 4x4 for the
    # transformer and back (bilinear); bottles with and without the residual
    Fixture("mobilevit_test", "mobilevit", "mobilevit_test", 10,
            dict(stem_chs=8, channels=[8, 16, 24, 32, 40], depths=[1, 2, 2, 2, 2],
                 expansion=2.0, transformer_dims=[0, 0, 16, 24, 32],
                 transformer_depths=[0, 0, 1, 2, 1], num_features=64, img_size=96),
            label_names=_TEN),
    Fixture("mobilevit_xxs", "mobilevit", "mobilevit_xxs", 1000, on_demand=True),
    # EfficientFormerV2: 128 input -> maps 32, 16, 8 (its mixer attends on the 4x4 stride-2 grid
    # and is upsampled back), 4 (downsample attention: 4x4 queries on 8x8 keys; mixer on 4x4)
    Fixture("efficientformerv2_test", "efficientformer_v2", "efficientformerv2_test", 10,
            dict(depths=[1, 1, 2, 2], embed_dims=[16, 24, 32, 48], num_vit=1,
                 mlp_ratios=[[4], [4], [4, 3], [3, 4]], img_size=128),
            label_names=_TEN),
    Fixture("efficientformerv2_s0", "efficientformer_v2", "efficientformerv2_s0", 1000,
            on_demand=True),
]
