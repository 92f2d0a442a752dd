"""The fixture table and the family-name -> module map shared by make_fixtures.py and the
benchmark driver. A family module provides build(architecture, num_classes, model_args) ->
(nn.Module, resolved args) and config_for(architecture, num_classes, args, **kw) -> config dict,
and optionally special_init(name, tensor, gen), extra_tensors(model, args), skip_keys(model)."""
import importlib
from dataclasses import dataclass, field

# architecture-name prefix -> family module (first match wins)
_PREFIXES = [
    ("deit_", "vit"), ("vit_", "vit"),
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
    single_file: bool = False
    on_demand: bool = False
    config_kw: dict = field(default_factory=dict)


def family(name):
    return importlib.import_module(f"ref.{name}")


def family_of_architecture(architecture):
    for prefix, fam in _PREFIXES:
        if architecture.startswith(prefix):
            return fam
    raise KeyError(f"no reference family for architecture {architecture!r}")


_SMALL_VIT = dict(img_size=32, patch_size=4, embed_dim=48, depth=2, num_heads=3, mlp_ratio=4.0,
                  in_chans=3)
_TEN = [f"class_{i}" for i in range(10)]
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                  "Sneaker", "Bag", "Ankle boot"]

FIXTURES = [
    Fixture("deit_tiny_patch16_224", "vit", "deit_tiny_patch16_224", 1000),
    Fixture("deit_tiny_distilled_patch16_224", "vit", "deit_tiny_distilled_patch16_224", 1000),
    Fixture("vit_small_test", "vit", "vit_small_test", 10, dict(_SMALL_VIT), label_names=_TEN),
    Fixture("vit_gray_test", "vit", "vit_gray_test", 10,
            dict(_SMALL_VIT, img_size=28, in_chans=1), label_names=FASHION_LABELS,
            config_kw=dict(mean=[0.2860], std=[0.3530])),
    Fixture("vit_f16_test", "vit", "vit_f16_test", 10, dict(_SMALL_VIT), label_names=_TEN,
            float_dtype="F16"),
    Fixture("vit_single_file", "vit", "vit_single_file", 10, dict(_SMALL_VIT),
            label_names=_TEN, single_file=True),
    Fixture("vit_avgpool_test", "vit", "vit_avgpool_test", 10,
            dict(_SMALL_VIT, global_pool="avg"), label_names=_TEN),
]
