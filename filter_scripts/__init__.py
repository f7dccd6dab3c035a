"""Ready-made filter scripts, installed as the package data vsvsr.filter_scripts (setup.py); the
library finds them with importlib.resources, so a wheel installed anywhere works."""
