"""Originals that carry untrusted metadata: a marker inside it shows whether any of it came
through to an output."""

import struct

from PIL import Image, ImageCms

MARKER = b"untrusted-metadata-marker"
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def payload(size: int) -> bytes:
    """`size` bytes of the marker, repeated."""
    return (MARKER * (size // len(MARKER) + 1))[:size]


def icc_profile(size: int, swap_red_and_blue: bool = False) -> bytes:
    """A valid RGB profile of `size` bytes (sRGB, padded with the marker; its header's size
    field says so), optionally with the red and blue primaries swapped."""
    profile = bytearray(SRGB.tobytes())
    if swap_red_and_blue:
        tags = {}
        for index in range(struct.unpack(">I", profile[128:132])[0]):
            signature, offset, length = struct.unpack(">4sII", profile[132 + 12 * index : 144 + 12 * index])
            tags[signature] = (index, offset, length)
        (red, *red_place), (blue, *blue_place) = tags[b"rXYZ"], tags[b"bXYZ"]
        struct.pack_into(">4sII", profile, 132 + 12 * red, b"rXYZ", *blue_place)
        struct.pack_into(">4sII", profile, 132 + 12 * blue, b"bXYZ", *red_place)
    profile += payload(size - len(profile))
    struct.pack_into(">I", profile, 0, len(profile))
    return bytes(profile)


def exif_with_payload(size: int) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = payload(size).decode()  # ImageDescription
    return exif.tobytes()


def xmp_with_payload(size: int) -> bytes:
    return b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>' + payload(size) + b"</rdf:RDF></x:xmpmeta>"


def with_gif_comment(gif: bytes, comment: bytes, sub_block: int = 255) -> bytes:
    """`gif` with a comment extension before its first frame, in sub-blocks of `sub_block`
    bytes (Pillow writes one too, but in time quadratic in its size)."""
    flags = gif[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # past the global colour table
    parts = [comment[start : start + sub_block] for start in range(0, len(comment), sub_block)]
    blocks = b"".join(bytes((len(part),)) + part for part in parts)
    return gif[:position] + b"!\xfe" + blocks + b"\x00" + gif[position:]
