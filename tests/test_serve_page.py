"""vsvsr serve's page in headless Debian Chromium (selenium), against a real uvicorn on a free
loopback port: a clip dropped on the page is upscaled by the shipped lite, the comparison
slider and zoom move, per-frame PSNR shows, the download is the result, a bad upload shows
the server's one-line message."""

import base64
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch
import uvicorn
from test_evaluate import CHROMIUM_FLAGS

from vsvsr import weights
from vsvsr.resize import downsample
from vsvsr.sample import sample_clip
from vsvsr.serve import ServeOptions, create_app

TIMEOUT_S = 90


def write_clip(frames: torch.Tensor, path: Path) -> Path:
    """(T, 3, H, W) in [0, 1] as lossless FFV1 (4:4:4) at 24 fps."""
    raw = (frames.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy().tobytes()
    h, w = frames.shape[-2:]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "24",
                    "-i", "-", "-pix_fmt", "yuv444p", "-c:v", "ffv1", str(path)], input=raw, check=True)  # fmt: skip
    return path


@pytest.fixture
def server(tmp_path):
    """The app on uvicorn in a thread; yields its base URL."""
    options = ServeOptions(cache=tmp_path / "cache", models=weights.shipped())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(create_app(options), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(30)


@pytest.fixture
def driver(tmp_path):
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.fail("headless Chromium is missing (Debian's chromium and chromium-driver): run `make setup`")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    with tempfile.TemporaryDirectory() as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,1100"):
            options.add_argument(flag)
        browser = webdriver.Chrome(options=options, service=Service(chromedriver))
        try:
            yield browser
        finally:
            browser.quit()


def wait_for(driver, script: str, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.2).until(lambda d: d.execute_script(script), what)


DROP = """
const [name, data] = arguments;
const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], name, {type: "video/x-matroska"}));
document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
"""


def test_the_page_upscales_a_dropped_clip_compares_and_downloads(server, driver, tmp_path):
    from selenium.webdriver.common.by import By

    hr = sample_clip(frames=6)[:, :, :160, :240]  # (6, 3, 160, 240): chelsea under a camera pan
    lr = write_clip(downsample(hr, 2), tmp_path / "chelsea_lr.mkv")
    original = write_clip(hr, tmp_path / "chelsea.mkv")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})

    driver.get(server)
    wait_for(driver, "return document.getElementById('model').options.length > 0", "the models to load")
    assert driver.find_element(By.ID, "model").get_attribute("value") == weights.DEFAULT_MODEL
    driver.execute_script(DROP, lr.name, base64.b64encode(lr.read_bytes()).decode())
    assert "chelsea_lr.mkv" in driver.find_element(By.ID, "drop-text").text  # the drop reached the file input
    driver.find_element(By.ID, "original").send_keys(str(original))
    driver.find_element(By.ID, "start").click()

    wait_for(driver, "return document.getElementById('compare').dataset.frame === '0'", "the job and its preview")
    assert driver.find_element(By.ID, "progress").get_attribute("value") == "1"
    assert driver.find_element(By.ID, "progress-text").text.startswith("done: 6 / 6 frames")
    compare = driver.find_element(By.ID, "compare")
    assert compare.size == {"width": 480, "height": 320}  # 240x160 output at the default 2x zoom

    # The slider moves the split between bicubic and the model; zoom scales both.
    driver.execute_script("const s = document.getElementById('slider'); s.value = 20; s.dispatchEvent(new Event('input'));")
    assert driver.find_element(By.ID, "after").value_of_css_property("clip-path") == "inset(0px 0px 0px 20%)"
    assert driver.find_element(By.ID, "divider").value_of_css_property("left") == "96px"
    driver.execute_script("const z = document.getElementById('zoom'); z.value = 4; z.dispatchEvent(new Event('change'));")
    assert compare.size == {"width": 960, "height": 640}
    driver.execute_script("const z = document.getElementById('zoom'); z.value = 2; z.dispatchEvent(new Event('change'));")
    # Another frame loads its own preview, and the PSNR line follows it.
    driver.execute_script("const f = document.getElementById('frame'); f.value = 3; f.dispatchEvent(new Event('change'));")
    wait_for(driver, "return document.getElementById('compare').dataset.frame === '3'", "frame 3's preview")
    assert "preview?frame=3" in driver.find_element(By.ID, "before").value_of_css_property("background-image")
    psnr = driver.find_element(By.ID, "psnr-text").text
    assert psnr.startswith("PSNR-Y against the original: frame 3: bicubic") and "mean over 6 frames" in psnr
    driver.save_screenshot(str(tmp_path / "serve.png"))  # vsvsr/serve/screenshot.png is one of these

    link = driver.find_element(By.ID, "download")
    job_id = link.get_attribute("href").split("/")[-2]
    link.click()
    target = downloads / "chelsea_lr_x2.mkv"
    deadline = time.monotonic() + 30
    while not target.exists():
        assert time.monotonic() < deadline, f"no download in {list(downloads.iterdir())}"
        time.sleep(0.1)
    served = driver.execute_async_script(
        "fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => arguments[1](b.byteLength))", f"/api/jobs/{job_id}/result"
    )
    assert target.stat().st_size == served > 0

    # A file that is no video: the server's one-line message on the page.
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    driver.find_element(By.ID, "file").send_keys(str(text))
    driver.find_element(By.ID, "start").click()
    wait_for(driver, "return !document.getElementById('message').hidden", "the error message")
    message = driver.find_element(By.ID, "message").text
    assert message.startswith("the file must be a video or an image that ffmpeg reads (cannot read notes.txt")
    assert message.endswith("upload another file")
