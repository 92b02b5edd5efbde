"""DreamCache training, export and evaluation code."""
