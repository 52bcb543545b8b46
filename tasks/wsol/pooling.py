"""The WSOL models' global pooling: ``gap`` (average, CAM's) or ``gmp`` (max), a run option.

CAM (Zhou et al., CVPR 2016, Sec. 2) chose global *average* pooling over global max pooling
because the average rewards every discriminative part, the max only the strongest one. The HaS
paper (Singh & Lee, ICCV 2017, Table 4: AlexNet-GMP, AlexNet-Max-HaS, AlexNet-Avg-HaS, cells
of 56 px) revisits it: without hiding GMP localizes worse than GAP; with HaS it gains a large
margin and slightly beats GAP-HaS, since hiding forces even the max to move between parts.

Without the option the configs keep their GAP neck untouched. The run option ``pooling``
(``--option pooling=gmp``; part of the run id like every option) replaces the config's
``GlobalAveragePooling`` neck with :class:`tasks.wsol.models.GlobalMaxPooling`. The CAM is
computed the same way for both (the linear classifier's weights on the last conv map,
:func:`tasks.wsol.cam.class_activation_maps`): the logits are ``W @ pool(A) + b`` either way.
Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

#: ``pooling`` option value -> the mmpretrain neck type the config gets.
POOLING_NECKS = {"gap": "GlobalAveragePooling", "gmp": "GlobalMaxPooling"}


def check_pooling(value: Any) -> str:
    """``value`` as a pooling name; ValueError naming the allowed ones otherwise."""
    if value not in POOLING_NECKS:
        raise ValueError(f"option pooling must be one of {', '.join(POOLING_NECKS)} (global "
                         f"average / max pooling before the linear classifier); got {value!r}")
    return value


def set_pooling(cfg: Any, pooling: str) -> str:
    """Give ``cfg.model`` the neck of ``pooling`` (in place); returns the neck type.

    Raises:
        ValueError: for an unknown ``pooling``, or a config whose neck is not global average
            pooling (its model has no pooling to swap).
    """
    pooling = check_pooling(pooling)
    neck = cfg.model.get("neck") or {}
    if str(neck.get("type", "")).rsplit(".", 1)[-1] not in POOLING_NECKS.values():
        raise ValueError(f"option pooling needs a model whose neck is GlobalAveragePooling; "
                         f"this config's neck is {neck.get('type')!r}: drop the option")
    cfg.model.neck = dict(type=POOLING_NECKS[pooling], dim=neck.get("dim", 2))
    return cfg.model.neck["type"]
