"""Measure the image processor's peak memory per format and mode: the source of
`render_memory.bytes_per_pixel` in lambda_src/image_processor/limits.json.

    python -m tools.image_memory            print the measured table (and the limits.json one)
    python -m tools.image_memory --write    store the measured table in limits.json

Each sample (a format, a mode and a way of encoding it: progressive, lossless, compressed,
oriented with an ICC profile...) is noise, the worst case for the encoders and the largest
processed copy, and is rendered in a fresh process that has only read it, as the function does
after its download. The cost of a (format, mode) is the largest of its samples' peaks per
decoded pixel, over what the process held before the render, less the original's bytes that
`per_object_byte` already counts; rounded up to a quarter byte.
"""

import argparse
import io
import json
import math
import operator
import os
import re
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

from PIL import Image, ImageCms

LAMBDA_SRC = Path(__file__).resolve().parents[1] / "lambda_src"
LIMITS_FILE = LAMBDA_SRC / "image_processor" / "limits.json"
SAMPLE_SIDE = 3000  # 9 MP: the pixels outweigh the fixed costs, and a sample takes seconds

# (format, mode) -> the ways of encoding it that are measured: variant -> Pillow save options.
PLAIN = {"plain": {}}
ORIENTED = {"oriented with an ICC profile": {"orientation": 6, "icc": True}}
TIFF_COMPRESSIONS = {name: {"compression": name} for name in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits")}
SAMPLES = {
    **{("JPEG", mode): {**PLAIN, "progressive": {"progressive": True}} for mode in ("L", "CMYK")},
    ("JPEG", "RGB"): {**PLAIN, "progressive": {"progressive": True}, **ORIENTED},
    **{("PNG", mode): PLAIN for mode in ("1", "L", "LA", "P", "I;16")},
    **{("PNG", mode): {**PLAIN, **ORIENTED} for mode in ("RGB", "RGBA")},
    **{("GIF", mode): PLAIN for mode in ("L", "P")},
    **{("WEBP", mode): {**PLAIN, "lossless": {"lossless": True}, **ORIENTED} for mode in ("RGB", "RGBA")},
    **{("BMP", mode): PLAIN for mode in ("1", "L", "RGB")},
    ("BMP", "RGBA"): {"with an alpha mask": {"bitfields": True}},
    ("BMP", "P"): {**PLAIN, "run-length (RLE8)": {"rle8": True}},
    **{("TIFF", mode): TIFF_COMPRESSIONS for mode in ("L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "LAB")},
    **{("TIFF", mode): {"raw": {}, "tiff_adobe_deflate": {"compression": "tiff_adobe_deflate"}} for mode in ("I", "F")},
    **{("TIFF", mode): {"raw": {}} for mode in ("I;16", "I;16B")},
    ("TIFF", "1"): {**TIFF_COMPRESSIONS, "group4": {"compression": "group4"}},
}
for mode in ("L", "RGB", "CMYK"):
    SAMPLES[("TIFF", mode)] = {**SAMPLES[("TIFF", mode)], "jpeg": {"compression": "jpeg"}}


def noise_picture(mode: str, size: tuple[int, int]) -> Image.Image:
    """A `mode` image of noise in every band."""
    planes = [Image.effect_noise(size, 64) for _ in range(3)]
    if mode in ("1", "L"):
        return planes[0].convert(mode)
    if mode in ("I", "I;16", "I;16B"):
        return planes[0].convert("I").point(lambda value: value * 257).convert(mode)
    if mode == "F":
        return planes[0].convert("F")
    rgb = Image.merge("RGB", planes)
    if mode in ("P", "PA"):
        # The web palette: quantising noise to an adaptive one takes minutes at this size.
        return rgb.convert("P", palette=Image.Palette.WEB).convert(mode)
    if mode in ("RGB", "LAB", "YCbCr"):
        return Image.merge(mode, planes)
    if mode in ("LA", "RGBA", "CMYK"):
        return Image.merge(mode, [*planes, planes[0].transpose(Image.Transpose.ROTATE_180)][: len(mode)])
    raise ValueError(f"no noise picture for mode {mode}")


# A run of one byte, at most 255 long (an RLE8 count is one byte).
RLE8_RUN = re.compile(rb"(.)\1{0,254}", re.DOTALL)


def rle8_row(line: bytes) -> bytes:
    ends = [run.end() for run in RLE8_RUN.finditer(line)]
    starts = [0, *ends[:-1]]
    row = bytearray(2 * len(ends))
    row[0::2] = bytes(map(operator.sub, ends, starts))
    row[1::2] = bytes(line[start] for start in starts)
    return bytes(row) + b"\x00\x00"


def rle8_bmp(image: Image.Image) -> bytes:
    """`image` (mode P) as an 8-bit run-length BMP, which Pillow reads but does not write:
    runs of up to 255 pixels, an end of line per row, rows bottom-up."""
    width, height = image.size
    pixels = image.tobytes()
    rows = {}  # the tests' pictures repeat rows: each distinct row is encoded once
    lines = (pixels[row * width : (row + 1) * width] for row in range(height - 1, -1, -1))
    body = b"".join([rows[line] if line in rows else rows.setdefault(line, rle8_row(line)) for line in lines])
    body += b"\x00\x01"
    palette = image.getpalette("RGB") or []
    colours = b"".join(bytes((palette[i + 2], palette[i + 1], palette[i], 0)) for i in range(0, len(palette), 3))
    offset = 14 + 40 + len(colours)
    header = struct.pack("<2sIHHI", b"BM", offset + len(body), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(body), 2835, 2835, len(colours) // 4, 0)
    return header + info + colours + bytes(body)


def bitfields_bmp(image: Image.Image) -> bytes:
    """`image` (mode RGBA) as a 32-bit BMP with an alpha mask (a BITMAPV4HEADER), which
    Pillow reads as RGBA but writes without alpha."""
    width, height = image.size
    pixels = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).tobytes("raw", "BGRA")
    offset = 14 + 108
    header = struct.pack("<2sIHHI", b"BM", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 108, width, height, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    masks = struct.pack("<IIII4s", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000, b"BGRs")
    return header + info + masks + bytes(48) + pixels


def encoded(image: Image.Image, image_format: str, options: dict) -> bytes:
    """`image` saved as `image_format`; `orientation` adds an EXIF Orientation, `icc` an sRGB
    profile, `rle8` makes a run-length BMP, `bitfields` one with alpha."""
    options = dict(options)
    if options.pop("rle8", False):
        return rle8_bmp(image)
    if options.pop("bitfields", False):
        return bitfields_bmp(image)
    if "orientation" in options:
        exif = Image.Exif()
        exif[0x0112] = options.pop("orientation")
        options["exif"] = exif.tobytes()
    if options.pop("icc", False):
        options["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def sample(image_format: str, mode: str, size: tuple[int, int], variant: str) -> bytes:
    """A sample that Pillow opens as `image_format` in `mode` (the keys of the costs). A
    run-length BMP is noise in runs of 16 pixels: in 1-pixel runs (2 bytes a pixel) one of
    a few megapixels is over `rle_bmp_max_bytes` already."""
    options = SAMPLES[(image_format, mode)][variant]
    if options.get("rle8"):
        picture = noise_picture(mode, (max(1, size[0] // 16), size[1])).resize(size, Image.Resampling.NEAREST)
    else:
        picture = noise_picture(mode, size)
    data = encoded(picture, image_format, options)
    opened = Image.open(io.BytesIO(data))
    if (opened.format, opened.mode) != (image_format, mode):
        raise ValueError(f"the {image_format} {mode} sample ({variant}) opens as {opened.format} {opened.mode}")
    return data


RENDER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{common!r}, {processor!r}]
    import boto3, rendering

    def status_mb(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024

    # What the function holds when it renders: its clients, and the original's bytes.
    clients = [boto3.client(name, region_name="us-east-1") for name in ("s3", "dynamodb")]
    data = open({path!r}, "rb").read()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the high-water mark starts again from the current size
    base = status_mb("VmRSS")
    try:
        result = rendering.render_image(data, max_pixels={max_pixels}, memory_mb={memory_mb})  # limits.json's thumbnail
        outcome = {{"processed_bytes": len(result.processed.body), "thumbnail_bytes": len(result.thumbnail.body)}}
    except rendering.ImageUnusable as exc:
        outcome = {{"refused": str(exc)}}
    print(json.dumps({{"base_mb": base, "peak_mb": status_mb("VmHWM"), **outcome}}))
    """
)


def measure_render(path: Path, memory_mb: int, max_pixels: int = 10**9) -> dict:
    """Render the file at `path` in a fresh process: {"base_mb", "peak_mb", and the
    outputs' sizes or "refused": the reason}."""
    script = RENDER_SCRIPT.format(
        common=str(LAMBDA_SRC / "common"),
        processor=str(LAMBDA_SRC / "image_processor"),
        path=str(path),
        max_pixels=max_pixels,
        memory_mb=memory_mb,
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    if done.returncode:
        raise RuntimeError(f"the render process failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def measured_costs(side: int, scratch: Path, only: set[str]) -> dict[str, dict[str, float]]:
    """{format: {mode: bytes per decoded pixel}} over the samples at side x side (those of
    the "FORMAT:MODE" in `only`, or all)."""
    limits = json.loads(LIMITS_FILE.read_text())
    per_object_byte = limits["render_memory"]["per_object_byte"]
    costs: dict[str, dict[str, float]] = {}
    path = scratch / "sample"
    for (image_format, mode), variants in SAMPLES.items():
        if only and f"{image_format}:{mode}" not in only:
            continue
        for variant in variants:
            data = sample(image_format, mode, (side, side), variant)
            path.write_bytes(data)
            # A memory so large that no bound refuses the sample.
            report = measure_render(path, memory_mb=10**6)
            if "refused" in report:
                raise RuntimeError(f"{image_format} {mode} {variant} was refused: {report['refused']}")
            growth = (report["peak_mb"] - report["base_mb"]) * 2**20 - (per_object_byte - 1) * len(data)
            per_pixel = math.ceil(4 * max(growth, 0) / side**2) / 4
            costs.setdefault(image_format, {})[mode] = max(costs.get(image_format, {}).get(mode, 0), per_pixel)
            print(f"{image_format:5} {mode:6} {variant:30} {per_pixel:6.2f} B/px  {report}", flush=True)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=SAMPLE_SIDE, help="samples are side x side pixels")
    parser.add_argument("--only", action="append", default=[], metavar="FORMAT:MODE", help="measure only these")
    parser.add_argument("--write", action="store_true", help="store the measured costs in limits.json")
    parser.add_argument("--scratch", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")))
    args = parser.parse_args()
    costs = measured_costs(args.side, args.scratch, set(args.only))
    limits = json.loads(LIMITS_FILE.read_text())
    table = limits["render_memory"]["bytes_per_pixel"]
    print("measured:", json.dumps(costs))
    print(
        "limits.json:", json.dumps({name: {mode: table[name][mode] for mode in modes} for name, modes in costs.items()})
    )
    if args.write:
        for image_format, modes in costs.items():
            table.setdefault(image_format, {}).update(modes)
        LIMITS_FILE.write_text(json.dumps(limits, indent=2) + "\n")


if __name__ == "__main__":
    main()
