"""The loaders a `ModelSpec.loader` may name: one registry line each
(`empirics.models.adapters.Loader`); `empirics.models.load.load_model` and
`empirics.models.identity.weights_identity` look them up here and nowhere else.
"""

from __future__ import annotations

from empirics.models.adapters import Loader, Registry
from empirics.models.open_clip_load import LOADER as OPEN_CLIP
from empirics.models.pmf_load import LOADER as PMF
from empirics.models.transformers_load import LOADER as TRANSFORMERS


def _trained_in_code(spec, path, **options):
    raise ValueError(f"{spec.name} is a toy net: it is trained in code, not loaded; run "
                     "`python -m empirics.match --family toy --all` (or theory.simulate)")


LOADERS: Registry[Loader] = Registry("loader", (
    TRANSFORMERS,
    OPEN_CLIP,
    PMF,
    Loader(name="toy", load=_trained_in_code, identity=_trained_in_code),
), where="empirics.models.loaders")
