"""Dataset classes registered in the frameworks' registries (real layouts, real loaders)."""
