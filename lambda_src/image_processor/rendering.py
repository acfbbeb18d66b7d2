"""Rendering of one original into its processed copy and thumbnail (Pillow only, no AWS).

What is decided from the header, before any pixel is decoded:
- the bounds (limits.json): the decoded size (MAX_IMAGE_PIXELS), the memory the render needs
  for this format and mode (measured peaks, `render_memory`) within the function's memory,
  and the work of Pillow's Python parts (run-length BMP bytes, GIF extension blocks); over
  any: ImageRejected;
- the output format: lossy originals (JPEG, MPO, JPEG-compressed TIFF) stay JPEG, WEBP stays
  WEBP, lossless ones (PNG, GIF, BMP, TIFF) become PNG, so an uncompressed or run-length
  original never gives an uncompressed copy.

What reaches the outputs: the first frame's pixels, upright (EXIF/XMP orientation applied),
in sRGB (an ICC profile is applied to RGB, RGBA, CMYK and palette pixels, then dropped; other
modes' profiles are dropped unapplied), and nothing else of the original: no ICC, EXIF, XMP,
comments, text chunks or other frames (the outputs' `info` is emptied but for palette
transparency). The processed copy is refused (ImageRejected) when it would be larger than
`processed_bytes` allows for the original's size; a thumbnail is bounded by its dimensions.
"""

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from roxs_common import ConfigError, get_logger

logger = get_logger(__name__)

# The processor's bounds, shared with Terraform's variable validations (one source).
LIMITS = json.loads(Path(__file__).with_name("limits.json").read_text())
# The bounds are checked on the header, before decoding, for every format; Pillow's own
# check (a warning, an error only at twice its limit) is not relied on.
Image.MAX_IMAGE_PIXELS = None
MIB = 1024 * 1024
DEFAULT_MAX_IMAGE_PIXELS = LIMITS["max_image_pixels"]["default"]
DEFAULT_THUMBNAIL_MAX_PX = LIMITS["thumbnail_max_px"]["default"]
DEFAULT_FUNCTION_MEMORY_MB = LIMITS["function_memory_mb"]["default"]
# Bigger objects are rejected before download: the whole object is held in memory.
MAX_OBJECT_BYTES = LIMITS["max_object_bytes"]
# Pillow decodes run-length BMP (RLE8, RLE4: BmpImagePlugin.COMPRESSIONS) in Python, one loop
# per 2-byte run: a 45 MP one of 1-pixel runs would outlast the function's timeout.
BMP_RUN_LENGTH = (1, 2)
RLE_BMP_MAX_BYTES = LIMITS["rle_bmp_max_bytes"]
GIF_MAX_SUB_BLOCKS = LIMITS["gif_max_sub_blocks"]
# PNG `optimize` (zlib level 9) takes tens of seconds on a 40 MP image; above this size
# the default level keeps the processor inside its timeout.
PNG_OPTIMIZE_MAX_PIXELS = 4_000_000
JPEG_QUALITY = 85
WEBP_QUALITY = 80
# libwebp's methods 3 to 6 keep a token buffer of the whole image (21 instead of 8.5 bytes a
# pixel for RGB, measured) for a few percent of size.
WEBP_METHOD = 2

# Format Pillow detects -> the format whose memory costs apply (MPO is a multi-frame JPEG).
COST_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WEBP", "BMP": "BMP", "TIFF": "TIFF"}
# Modes each output format stores as they are; the others are converted (STORED_AS).
STORABLE_MODES = {
    "JPEG": {"L", "RGB"},
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "WEBP": {"RGB", "RGBA"},
}
# The other modes that reach an output format -> the conversions to a mode it stores (Pillow
# clips 32-bit I to 16 bits and F to 8, and big-endian 16-bit grey to 8 unless it goes through
# I; CMYK without a profile is converted naively).
STORED_AS = {
    "I": ("I;16",),
    "I;16B": ("I", "I;16"),
    "F": ("L",),
    "PA": ("RGBA",),
    "CMYK": ("RGB",),
    "LAB": ("RGB",),
}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class ImageUnusable(Exception):
    """The object is not a usable image (Status `error`); retrying will not change that."""

    status = "error"


class ImageRejected(ImageUnusable):
    """The object is over a configured bound (Status `rejected`); retrying will not change that."""

    status = "rejected"


@dataclass(frozen=True)
class Rendition:
    body: bytes
    width: int
    height: int
    content_type: str


@dataclass(frozen=True)
class RenderedImage:
    format: str
    width: int
    height: int
    processed: Rendition
    thumbnail: Rendition


# --- settings ---------------------------------------------------------------------------------


def _bounded_env(name: str, setting: str, default: int | None = None) -> int:
    low, high = LIMITS[setting]["min"], LIMITS[setting]["max"]
    raw = os.environ.get(name, None if default is None else str(default))
    if raw is None:
        raise ConfigError(f"{name} is not set")
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name} must be an integer between {low} and {high}, got {raw!r}")
    return int(raw)


def thumbnail_max_px() -> int:
    return _bounded_env("THUMBNAIL_MAX_PX", "thumbnail_max_px", DEFAULT_THUMBNAIL_MAX_PX)


def max_image_pixels() -> int:
    return _bounded_env("MAX_IMAGE_PIXELS", "max_image_pixels", DEFAULT_MAX_IMAGE_PIXELS)


def function_memory_mb() -> int:
    """The function's MemorySize, which Lambda sets in every environment."""
    return _bounded_env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "function_memory_mb")


# --- bounds, from the header --------------------------------------------------------------------


def render_memory_mb(image_format: str, mode: str, pixels: int, object_bytes: int) -> float:
    """The function's peak memory while rendering an image of this format, mode and size:
    the environment's own (`baseline_mb`), the original's bytes (held, and copied by some
    decoders) and the measured peak per decoded pixel (tools/image_memory.py)."""
    costs = LIMITS["render_memory"]
    per_pixel = costs["bytes_per_pixel"][COST_FORMATS[image_format]][mode]
    return costs["baseline_mb"] + (costs["per_object_byte"] * object_bytes + per_pixel * pixels) / MIB


def usable_memory_mb(memory_mb: int) -> float:
    """The part of the function's memory a render may reach (the rest is the margin)."""
    return memory_mb * LIMITS["render_memory"]["usable_fraction"]


def _check_bounds(image: ImageFile.ImageFile, object_bytes: int, max_pixels: int, memory_mb: int) -> None:
    width, height = image.size
    pixels = width * height
    size = f"image is {width} x {height} = {pixels:,} pixels decoded"
    if pixels > max_pixels:
        raise ImageRejected(f"{size}, over the limit of {max_pixels:,}")
    costs = LIMITS["render_memory"]["bytes_per_pixel"][COST_FORMATS[image.format]]
    if image.mode not in costs:
        raise ImageUnusable(f"unsupported {image.format} mode {image.mode}; supported: {', '.join(sorted(costs))}")
    if image.format == "BMP" and image.info.get("compression") in BMP_RUN_LENGTH and object_bytes > RLE_BMP_MAX_BYTES:
        raise ImageRejected(
            f"run-length BMP of {object_bytes:,} bytes, over the limit of {RLE_BMP_MAX_BYTES:,} "
            "(its decoder runs in Python, about 2 µs a byte)"
        )
    needed, usable = render_memory_mb(image.format, image.mode, pixels, object_bytes), usable_memory_mb(memory_mb)
    if needed > usable:
        fixed = render_memory_mb(image.format, image.mode, 0, object_bytes)
        fitting = max(0, int((usable - fixed) * MIB / costs[image.mode]))
        raise ImageRejected(
            f"{size}; a {image.format} image of mode {image.mode} needs about {needed:,.0f} MB to process, over "
            f"the {usable:,.0f} MB usable of the function's {memory_mb} MB (about {fitting:,} pixels fit)"
        )


def _gif_without_comments(data: bytes) -> bytes:
    """The GIF without the comment extensions before its first frame, which Pillow reads
    when it opens the file, joining a comment's 255-byte sub-blocks one by one (quadratic: a
    5 MB comment took 16 s); the outputs drop comments anyway. Rejected when the extensions
    before the first frame hold more than GIF_MAX_SUB_BLOCKS sub-blocks (this walk is Python)."""
    flags = data[10] if len(data) > 13 else 0
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # past the global colour table
    kept, start_of_kept, sub_blocks = [], 0, 0
    while position + 1 < len(data) and data[position] == 0x21:  # an extension: label, sub-blocks, 0
        start, label = position, data[position + 1]
        position += 2
        while position < len(data) and data[position]:
            position += data[position] + 1
            sub_blocks += 1
            if sub_blocks > GIF_MAX_SUB_BLOCKS:
                raise ImageRejected(f"GIF with over {GIF_MAX_SUB_BLOCKS:,} blocks of extensions before its first frame")
        position += 1
        if label == 0xFE:
            kept.append(data[start_of_kept:start])
            start_of_kept = position
    return b"".join([*kept, data[start_of_kept:]]) if kept else data


def open_image(data: bytes, max_pixels: int, memory_mb: int) -> ImageFile.ImageFile:
    """The image with only its header read; rejected over the pixel or the memory bound."""
    if not data:
        raise ImageUnusable("object is empty (0 bytes)")
    object_bytes = len(data)
    if data.startswith((b"GIF87a", b"GIF89a")):
        data = _gif_without_comments(data)
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ImageUnusable("object is not a recognised image format") from exc
    if image.format not in COST_FORMATS:
        raise ImageUnusable(f"unsupported image format {image.format}; supported: {', '.join(sorted(COST_FORMATS))}")
    _check_bounds(image, object_bytes, max_pixels, memory_mb)
    return image


def output_format(image: ImageFile.ImageFile) -> str:
    """JPEG for lossy originals, WEBP for WEBP, PNG for every lossless one."""
    if image.format in ("JPEG", "MPO"):
        return "JPEG"
    if image.format == "TIFF" and image.info.get("compression") == "jpeg" and image.mode in ("L", "RGB", "CMYK"):
        return "JPEG"
    if image.format == "WEBP":
        return "WEBP"
    return "PNG"


def processed_max_bytes(object_bytes: int) -> int:
    ceiling = LIMITS["processed_bytes"]
    return max(ceiling["floor"], ceiling["per_object_byte"] * object_bytes)


# --- pixels ------------------------------------------------------------------------------------


def _in_srgb(image: Image.Image) -> Image.Image:
    """The pixels converted to sRGB with the image's ICC profile, where the mode allows;
    the profile itself never reaches an output (info is emptied later)."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "P"):
        return image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode == "CMYK":
            return ImageCms.profileToProfile(image, profile, SRGB, outputMode="RGB")
        if image.mode == "P":
            # The palette's colours, not the pixels: 768 bytes whatever the image's size.
            palette = image.getpalette("RGB") or []
            colours = Image.frombytes("RGB", (len(palette) // 3, 1), bytes(palette))
            ImageCms.profileToProfile(colours, profile, SRGB, inPlace=True)
            image.putpalette(colours.tobytes(), "RGB")
            return image
        ImageCms.profileToProfile(image, profile, SRGB, inPlace=True)
    except (OSError, ValueError, ImageCms.PyCMSError) as exc:
        # Browsers ignore a broken profile too: the pixels are shown as they are.
        logger.warning("ICC profile not applied", extra={"reason": f"{type(exc).__name__}: {exc}"[:300]})
    return image


def _storable(image: Image.Image, fmt: str) -> Image.Image:
    """The image in a mode `fmt` stores (output_format sends alpha only to PNG and WEBP)."""
    if image.mode in STORABLE_MODES[fmt]:
        return image
    for mode in STORED_AS[image.mode]:
        image = image.convert(mode)
    return image


def _without_metadata(image: Image.Image, fmt: str) -> Image.Image:
    """Only palette/key-colour transparency is kept: the encoders copy ICC profiles,
    comments and the like from `info` (PNG its ICC, JPEG its comment)."""
    transparency = image.info.get("transparency")
    image.info = {"transparency": transparency} if transparency is not None and fmt == "PNG" else {}
    return image


def _thumbnail(image: Image.Image, longest_side: int) -> Image.Image:
    """At most `longest_side` on each side, never enlarged; from the decoded image, which
    Pillow first reduces by whole factors (reducing_gap), so this costs little more."""
    width, height = image.size
    scale = min(1.0, longest_side / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == image.size:
        return image.copy()
    if image.mode == "I;16":  # Pillow resamples 16-bit grey only through 32-bit
        return image.convert("I").resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0).convert("I;16")
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _encode(image: Image.Image, fmt: str) -> Rendition:
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        options.update(quality=JPEG_QUALITY, optimize=True)
    elif fmt == "PNG":
        options["optimize"] = image.width * image.height <= PNG_OPTIMIZE_MAX_PIXELS
    elif fmt == "WEBP":
        options.update(quality=WEBP_QUALITY, method=WEBP_METHOD)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return Rendition(buffer.getvalue(), image.width, image.height, Image.MIME[fmt])


def render_image(
    data: bytes,
    thumbnail_max_px: int = DEFAULT_THUMBNAIL_MAX_PX,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    memory_mb: int = DEFAULT_FUNCTION_MEMORY_MB,
) -> RenderedImage:
    """The processed copy (full size, upright, sRGB, no metadata) and a thumbnail whose
    longest side is `thumbnail_max_px`. Raises ImageRejected over a bound (pixels, the memory
    of a function of `memory_mb`, the processed copy's bytes), ImageUnusable for input that
    is not a usable image."""
    try:
        source = open_image(data, max_pixels, memory_mb)
        source_format, fmt = source.format, output_format(source)
        # A new image, upright: the file object goes, and with it any decoder state (WEBP's
        # frame buffers, 8 bytes a pixel).
        image = ImageOps.exif_transpose(source)
        del source
        image = _without_metadata(_storable(_in_srgb(image), fmt), fmt)
        thumbnail = _thumbnail(image, thumbnail_max_px)
        processed = _encode(image, fmt)
        del image
        thumbnail_rendition = _encode(thumbnail, fmt)
    except ImageUnusable:
        raise
    except MemoryError:
        raise  # the memory costs in limits.json are too low for this input: a bug to fix there
    except Exception as exc:
        raise ImageUnusable(f"image data could not be decoded: {type(exc).__name__}: {exc}") from exc
    ceiling = processed_max_bytes(len(data))
    if len(processed.body) > ceiling:
        raise ImageRejected(
            f"the processed copy ({fmt}) would be {len(processed.body):,} bytes, over the limit of {ceiling:,} "
            f"for an original of {len(data):,} bytes"
        )
    return RenderedImage(source_format, processed.width, processed.height, processed, thumbnail_rendition)
