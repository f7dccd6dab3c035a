"""Shipped weights and their cards, installed as the package data vsvsr.shipped_weights (setup.py);
the library finds them with importlib.resources, so a wheel installed anywhere works."""
