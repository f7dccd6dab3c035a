import numpy as np

from training.window_bound import bicubic_x2_response, bound_psnr, main


def power_law_spectrum(size: int = 64) -> np.ndarray:
    f = np.fft.fftfreq(size)
    fx, fy = np.meshgrid(f, f, indexing="ij")
    spectrum = 1 / (fx**2 + fy**2 + 1e-3)
    return spectrum / spectrum.mean() * 0.04


def test_the_kernel_keeps_flat_areas_and_blocks_the_hr_nyquist():
    assert np.isclose(bicubic_x2_response(np.array(0.0)), 1)
    assert abs(bicubic_x2_response(np.array(0.5))) < 0.05


def test_only_sub_pixel_motion_adds_information():
    """Frames moved by whole LR pixels sample the same phases (only their rounding noise averages
    out); half an LR pixel samples the phases one frame misses."""
    spectrum = power_law_spectrum()
    one = bound_psnr(spectrum, [(0.0, 0.0)], cells=16)
    whole = bound_psnr(spectrum, [(0.0, 0.0), (2.0, 0.0), (0.0, 2.0), (2.0, 2.0)], cells=16)
    half = bound_psnr(spectrum, [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)], cells=16)
    assert 0 <= whole - one < 0.5
    assert half - one > 3


def test_prints_the_table_for_the_evaluation_photos(capsys):
    assert main([]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    bounds = [float(row.split("|")[3]) for row in rows]
    assert len(bounds) == 4 and bounds[3] > bounds[2] > bounds[0]
