"""The render's memory bound holds for every format and mode the processor accepts: at the
bound (the largest image the function's memory accepts), the render's peak stays under the
function's memory; just over it, the image is refused from its header, before decoding.

Each render runs in a fresh process that has only read the original, as the function does
after its download (tools/image_memory.py measures the same way)."""

import math

import pytest
import rendering
from PIL import Image

from tools.image_memory import SAMPLES, measure_render, sample

BOUND_SIDE = 2000  # 4 MP: the function's memory is chosen so that this is the bound


def _cases():
    """Every (format, mode, variant). The costliest mode of each format (by limits.json) runs
    in every `make test`; the others are marked `exhaustive` (`make test-exhaustive`, ~4 min):
    each renders a 4 MP image in a child process, 76 of them in all."""
    costs = rendering.LIMITS["render_memory"]["bytes_per_pixel"]
    costliest = {
        image_format: max((mode for (f, mode) in SAMPLES if f == image_format), key=lambda m: costs[image_format][m])
        for image_format, _ in SAMPLES
    }
    for (image_format, mode), variants in SAMPLES.items():
        for variant in variants:
            marks = () if costliest[image_format] == mode else (pytest.mark.exhaustive,)
            yield pytest.param(image_format, mode, variant, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("image_format, mode, variant", list(_cases()))
def test_an_image_at_the_memory_bound_renders_within_the_functions_memory(image_format, mode, variant, tmp_path):
    data = sample(image_format, mode, (BOUND_SIDE, BOUND_SIDE), variant)
    (tmp_path / "sample").write_bytes(data)
    needed = rendering.render_memory_mb(image_format, mode, BOUND_SIDE**2, len(data))
    memory_mb = math.ceil(needed / rendering.LIMITS["render_memory"]["usable_fraction"])
    # At the bound: a function of one MB less refuses it from the header.
    with pytest.raises(rendering.ImageRejected, match="needs about"):
        rendering.open_image(data, 10**9, memory_mb - 1)

    report = measure_render(tmp_path / "sample", memory_mb)

    assert "refused" not in report, report
    # The function holds its own baseline and the original when the render starts.
    peak_mb = rendering.LIMITS["render_memory"]["baseline_mb"] + len(data) / 2**20
    peak_mb += report["peak_mb"] - report["base_mb"]
    assert peak_mb < memory_mb, report


def test_the_issues_rgba_webp_is_refused_from_its_header_at_1024_mb(tmp_path):
    """The issue's 1.8 KB lossless RGBA WEBP of 6,700 x 6,700 (44.9 MP, under the 45 MP
    bound) ran out of memory at 1,024 MB on every attempt: RGBA WEBP costs more per pixel
    than that memory holds at this size, so it is refused before decoding, with the reason."""
    picture = Image.new("RGBA", (6700, 6700), (10, 20, 30, 128))
    path = tmp_path / "rgba.webp"
    picture.save(path, "WEBP", lossless=True)
    assert path.stat().st_size < 4096
    report = measure_render(path, 1024, max_pixels=45_000_000)
    assert "needs about" in report["refused"] and "1024 MB" in report["refused"], report
    # Nothing decoded: the pixels alone would take 171 MB (the WEBP plugin's import takes a few).
    assert report["peak_mb"] - report["base_mb"] < 30, report
