"""vitd's PyTorch reference models (timm key names and maths) and their fixture/folder writers.
One module per family; registry.py names the fixtures and maps family names to modules."""
