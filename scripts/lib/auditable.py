"""Reads the dependency list cargo-auditable embeds in an ELF binary (section `.dep-v0`:
zlib-compressed JSON, https://github.com/rust-secure-code/cargo-auditable). Shared by
scripts/verify-binary and scripts/sbom."""
import json
import struct
import sys
import zlib


def section(elf: bytes, wanted: str) -> bytes:
    """The bytes of the section named `wanted` of a 64-bit little-endian ELF file."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        sys.exit("error: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def header(i):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size
        return struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)

    strtab = header(shstrndx)
    names = elf[strtab[4]:strtab[4] + strtab[5]]
    for i in range(shnum):
        name_at, _, _, _, offset, size = header(i)
        if names[name_at:names.index(b"\0", name_at)].decode() == wanted:
            return elf[offset:offset + size]
    sys.exit(f"error: the binary has no {wanted} section: was it built with cargo auditable?")


def dependencies(elf: bytes) -> dict:
    """The embedded list: {"packages": [{"name", "version", "source", "kind"?, "dependencies"?,
    "root"?}]}, where `dependencies` are indices into `packages`."""
    return json.loads(zlib.decompress(section(elf, ".dep-v0")))
