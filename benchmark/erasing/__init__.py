"""The erasing family beside HaS.

Cutout and GridMask as framework-free cores, and the config overlays (``family``) that put them,
or the frameworks' own transforms and CutMix, into a task's training.
"""
