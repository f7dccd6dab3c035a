"""vsvsr: spatio-temporal SRGAN video super-resolution for VapourSynth and ffmpeg."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `vsvsr.SRGAN(clip)` (the function behind core.vsr.SRGAN) works in scripts, while a plain
    # `import vsvsr` still does not load VapourSynth (the CLI and training do not need it).
    import importlib

    if name == "vapoursynth_plugin":
        return importlib.import_module(f"{__name__}.{name}")
    if name == "SRGAN":
        return importlib.import_module(f"{__name__}.vapoursynth_plugin").SRGAN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
