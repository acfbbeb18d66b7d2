"""The processed copy and thumbnail carry none of the original's metadata, and their size does
not grow with what the original carried or how well its format compressed it."""

import io

import pytest
import rendering
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from tests.support.images import (
    MARKER,
    exif_with_payload,
    icc_profile,
    payload,
    with_gif_comment,
    xmp_with_payload,
)
from tools.image_memory import rle8_bmp

# Keys under which Pillow reports metadata it read; none may come back from an output.
METADATA_KEYS = {"icc_profile", "exif", "xmp", "XML:com.adobe.xmp", "comment", "description", "Comment"}


def gradient(mode: str, size=(96, 64)) -> Image.Image:
    """Something to see: gradients in every band."""
    band = Image.linear_gradient("L").resize(size)
    if mode in ("L", "P"):
        return band.convert(mode)
    bands = [band, band.transpose(Image.Transpose.FLIP_LEFT_RIGHT), band.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    return Image.merge(mode, [*bands, Image.new("L", size, 200)][: len(mode)])


def png_text(kind: str, size: int) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    text = payload(size).decode()
    if kind == "tEXt":
        info.add_text("Comment", text)
    elif kind == "zTXt":
        info.add_text("Comment", text, zip=True)
    else:
        info.add_itxt("Comment", text, lang="en", tkey="Comment", zip=False)
    return info


# (format, metadata) -> (largest payload, mode, Pillow save options for a payload of n bytes).
# JPEG segments hold 64 KB (the ICC profile is split over many); Pillow reads PNG's compressed
# chunks up to 1 MiB; the others are as large as the issue's (12 MB ICC, 5 MB comment) or more.
METADATA = {
    ("JPEG", "ICC profile"): (12 * 2**20, "RGB", lambda n: {"icc_profile": icc_profile(max(n, 600))}),
    ("JPEG", "COM comment"): (65_000, "RGB", lambda n: {"comment": payload(n)}),
    ("JPEG", "EXIF"): (60_000, "RGB", lambda n: {"exif": exif_with_payload(n)}),
    ("JPEG", "XMP"): (60_000, "RGB", lambda n: {"xmp": xmp_with_payload(n)}),
    ("PNG", "ICC profile"): (2**20, "RGBA", lambda n: {"icc_profile": icc_profile(max(n, 600))}),
    ("PNG", "tEXt chunk"): (5 * 2**20, "RGBA", lambda n: {"pnginfo": png_text("tEXt", n)}),
    ("PNG", "zTXt chunk"): (2**20, "P", lambda n: {"pnginfo": png_text("zTXt", n)}),
    ("PNG", "iTXt chunk"): (5 * 2**20, "L", lambda n: {"pnginfo": png_text("iTXt", n)}),
    ("PNG", "eXIf chunk"): (2**20, "RGB", lambda n: {"exif": exif_with_payload(n)}),
    ("GIF", "comment"): (20 * 2**20, "P", lambda n: {"comment": payload(n)}),
    ("WEBP", "ICC profile"): (12 * 2**20, "RGBA", lambda n: {"icc_profile": icc_profile(max(n, 600))}),
    ("WEBP", "EXIF"): (5 * 2**20, "RGB", lambda n: {"exif": exif_with_payload(n)}),
    ("WEBP", "XMP"): (5 * 2**20, "RGB", lambda n: {"xmp": xmp_with_payload(n)}),
    ("TIFF", "ICC profile"): (12 * 2**20, "RGB", lambda n: {"icc_profile": icc_profile(max(n, 600))}),
    ("TIFF", "description"): (5 * 2**20, "L", lambda n: {"description": payload(n).decode()}),
}


def saved(image: Image.Image, image_format: str, **options) -> bytes:
    comment = options.pop("comment", None) if image_format == "GIF" else None
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return with_gif_comment(buffer.getvalue(), comment) if comment else buffer.getvalue()


def assert_no_metadata(body: bytes) -> None:
    assert MARKER not in body
    output = Image.open(io.BytesIO(body))
    assert not METADATA_KEYS & set(output.info), output.info.keys()
    assert getattr(output, "text", {}) == {}
    assert getattr(output, "n_frames", 1) == 1


@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(sorted(METADATA)), fraction=st.floats(0, 1))
def test_outputs_are_the_pixels_alone_whatever_metadata_came_with_them(case, fraction):
    """The outputs of an original with metadata are byte for byte those of the same pixels
    without it (an sRGB profile converts to the same pixels), so their size does not grow
    with the metadata either."""
    image_format, _ = case
    largest, mode, options = METADATA[case]
    picture = gradient(mode)
    plain = rendering.render_image(saved(picture, image_format))
    tagged = rendering.render_image(saved(picture, image_format, **options(int(largest * fraction))))
    for rendition in (tagged.processed, tagged.thumbnail):
        assert_no_metadata(rendition.body)
    assert tagged.processed.body == plain.processed.body
    assert tagged.thumbnail.body == plain.thumbnail.body


@pytest.mark.parametrize("image_format, mode", [("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB"), ("TIFF", "RGB")])
def test_a_colour_profile_is_applied_to_the_pixels_then_dropped(image_format, mode):
    """A profile whose red and blue primaries are swapped: the outputs are converted to sRGB
    (red becomes blue) and carry no profile."""
    picture = Image.new(mode, (64, 48), (220, 20, 10, 77)[: len(mode)])
    rendered = rendering.render_image(
        saved(picture, image_format, icc_profile=icc_profile(600, swap_red_and_blue=True))
    )
    for rendition in (rendered.processed, rendered.thumbnail):
        output = Image.open(io.BytesIO(rendition.body))
        assert "icc_profile" not in output.info
        red, _, blue = output.convert("RGB").getpixel((10, 10))
        assert blue > 150 and red < 60, (red, blue)
        assert output.mode != "RGBA" or output.getpixel((10, 10))[3] == 77  # alpha as it was


@pytest.mark.parametrize(
    "profile, mode",
    [
        (b"not a profile at all" * 10, "RGB"),
        (icc_profile(600)[:200], "RGB"),
        (icc_profile(600, swap_red_and_blue=True), "L"),
        (icc_profile(600, swap_red_and_blue=True), "LA"),
    ],
    ids=["garbage", "truncated", "rgb-profile-on-grey", "rgb-profile-on-grey-alpha"],
)
def test_an_unusable_colour_profile_is_dropped_and_the_image_still_processed(profile, mode):
    """Browsers ignore a broken profile (or one for other colours) too: the pixels are kept
    as they are, without the profile."""
    picture = gradient(mode)
    rendered = rendering.render_image(saved(picture, "PNG", icc_profile=profile))
    output = Image.open(io.BytesIO(rendered.processed.body))
    assert "icc_profile" not in output.info
    assert output.mode == mode and output.tobytes() == picture.tobytes()


@pytest.mark.parametrize("image_format", ["GIF", "WEBP", "TIFF", "PNG"])
def test_only_the_first_frame_is_kept(image_format):
    frames = [Image.new("RGB", (80, 60), colour) for colour in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    data = saved(frames[0], image_format, save_all=True, append_images=frames[1:], comment=MARKER)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    rendered = rendering.render_image(data)
    for rendition in (rendered.processed, rendered.thumbnail):
        assert_no_metadata(rendition.body)
        red, green, _ = Image.open(io.BytesIO(rendition.body)).convert("RGB").getpixel((5, 5))
        assert red > 150 and green < 50


def test_a_gif_with_too_many_extension_blocks_before_its_first_frame_is_rejected_quickly():
    """Comments are dropped before Pillow reads them (it joins their sub-blocks in quadratic
    time); walking them is bounded too: a comment of 1-byte sub-blocks over the limit."""
    data = with_gif_comment(saved(gradient("P"), "GIF"), b"x" * (rendering.GIF_MAX_SUB_BLOCKS + 1), sub_block=1)
    with pytest.raises(rendering.ImageRejected, match="GIF with over 100,000 blocks of extensions"):
        rendering.render_image(data)


def one_colour(image_format: str, variant: str, size: tuple[int, int], colour: int) -> bytes:
    """A picture of one colour (with a stripe, so it is not wholly uniform) in a format or
    compression that stores it in a few bytes."""
    picture = Image.new("P", size, colour)
    picture.putpalette([value for index in range(256) for value in (index, 255 - index, index // 2)])
    picture.paste(255 - colour, (0, 0, size[0], max(1, size[1] // 10)))
    if variant == "RLE8":
        return rle8_bmp(picture)
    if image_format in ("TIFF", "BMP"):
        return saved(picture.convert("RGB"), image_format, **({"compression": variant} if variant else {}))
    return saved(picture, image_format)


@settings(max_examples=12, deadline=None)
@given(
    kind=st.sampled_from(
        [("BMP", "RLE8"), ("BMP", None), ("TIFF", "packbits"), ("TIFF", "tiff_lzw"), ("TIFF", "tiff_adobe_deflate")]
        + [("PNG", None), ("GIF", None)]
    ),
    width=st.integers(1, 6000),
    height=st.integers(1, 6000),
    colour=st.integers(0, 255),
)
def test_a_compressible_original_never_gives_a_large_processed_copy(kind, width, height, colour):
    """The issue's 301 KB run-length BMP of 6000 x 6000 gave a 36 MB BMP copy: lossless
    originals become PNG, which stores one colour in a few bytes per row."""
    data = one_colour(*kind, (width, height), colour)
    rendered = rendering.render_image(data)
    assert rendered.processed.content_type == "image/png"
    assert len(rendered.processed.body) <= rendering.processed_max_bytes(len(data))
    # deflate stores a row of one colour in a few bytes: far below the raw 3 bytes a pixel
    assert len(rendered.processed.body) <= 2048 + height * 16 + width * height // 200


def test_the_issues_run_length_bmp_gives_a_small_png():
    data = one_colour("BMP", "RLE8", (6000, 6000), 7)
    assert len(data) < 400_000  # as small as the issue's 301 KB
    rendered = rendering.render_image(data)
    assert rendered.processed.content_type == "image/png" and len(rendered.processed.body) < 300_000


def test_a_processed_copy_over_its_ceiling_is_rejected_with_the_reason():
    """Rows of noise repeated two by two: lossless WEBP keeps each pair once (its matches
    reach back over a row), the lossy processed copy cannot; so the copy would be many times
    the original's size."""
    width, height = 11000, 400
    rows = Image.effect_noise((width, 2), 64).convert("RGB")
    picture = Image.new("RGB", (width, height))
    for top in range(0, height, 2):
        picture.paste(rows, (0, top))
    data = saved(picture, "WEBP", lossless=True)
    with pytest.raises(
        rendering.ImageRejected, match=r"the processed copy \(WEBP\) would be [\d,]+ bytes, over the limit"
    ):
        rendering.render_image(data)


@pytest.mark.parametrize(
    "image_format, mode, options",
    [("TIFF", "I;16", {}), ("TIFF", "I;16B", {}), ("PNG", "I;16", {}), ("TIFF", "I", {}), ("TIFF", "F", {})]
    + [("TIFF", "CMYK", {}), ("TIFF", "LAB", {}), ("TIFF", "PA", {}), ("JPEG", "CMYK", {})],
)
def test_every_accepted_mode_gives_outputs_that_show_the_picture(image_format, mode, options):
    """Wide and unusual modes are stored in a mode the output format holds (16-bit grey,
    8-bit grey, RGB, RGBA); the picture survives: dark on the left, bright on the right."""
    band = Image.linear_gradient("L").rotate(90).resize((200, 100))  # 0 on the left, 255 on the right
    if mode in ("I;16", "I;16B", "I"):
        picture = band.convert("I").point(lambda value: value * 257).convert(mode)
    elif mode == "F":
        picture = band.convert("F")
    elif mode == "CMYK":
        picture = Image.merge("CMYK", [Image.new("L", band.size, 0)] * 3 + [band.point(lambda v: 255 - v)])
    elif mode == "LAB":
        picture = Image.merge("LAB", [band, Image.new("L", band.size, 128), Image.new("L", band.size, 128)])
    else:  # PA
        picture = band.convert("P").convert("PA")
    rendered = rendering.render_image(saved(picture, image_format, **options))
    for rendition in (rendered.processed, rendered.thumbnail):
        output = Image.open(io.BytesIO(rendition.body)).convert("I")
        left, right = output.getpixel((1, output.height // 2)), output.getpixel((output.width - 2, output.height // 2))
        assert left < right, (rendition.content_type, output.mode, left, right)
