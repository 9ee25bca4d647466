"""Checks a built scribewire wheel: its file list, its native modules, its platform tag.

    python .ci/check_wheel.py WHEEL [--native SRC_DIR] [--auditwheel]

Always: no C or Cython sources, object files, bytecode or tests inside; the ``.pyi`` stubs
and ``py.typed`` present; the licence file in ``.dist-info``. With ``--native SRC_DIR``:
one compiled module per ``_*_c.pyx`` under ``SRC_DIR/src/scribewire`` (as setup.py builds
them), each ELF stripped of debug info (no ``.debug_*`` section; the symbol table stays,
deliberately: objdump-based tests split functions by it) and needing no shared library
beyond the C runtime. With ``--auditwheel``: ``auditwheel show`` must find the
wheel consistent with a manylinux tag and report no external library to graft; the tag is
printed on the last line (``manylinux-tag: ...``) for ``auditwheel repair --plat``.
Without ``--native`` the wheel must be pure: no compiled module, tagged ``py3-none-any``.
Exit status 1 with one line per finding.
"""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

#: The only shared libraries a compiled module may need (glibc's; libdl for dlopen of
#: libsoxr before glibc 2.34). auditwheel's policy checks the same from its side.
ALLOWED_NEEDED = {"libc.so.6", "libdl.so.2", "libm.so.6", "libpthread.so.0"}
FORBIDDEN_SUFFIXES = (".c", ".h", ".pyx", ".pxd", ".o", ".pyc", ".html")


def elf_sections_and_needed(data: bytes) -> tuple[set[str], list[str]]:
    """Section names and DT_NEEDED entries of a 64-bit little-endian ELF shared object."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]

    def name_at(table: tuple[int, ...], offset: int) -> str:
        start = table[4] + offset
        return data[start : data.index(b"\0", start)].decode()

    strtab = headers[shstrndx]
    names = {name_at(strtab, h[0]) for h in headers}
    needed: list[str] = []
    for h in headers:
        if h[1] != 6:  # SHT_DYNAMIC
            continue
        dynstr = headers[h[6]]  # sh_link: the string table of the entries
        for off in range(h[4], h[4] + h[5], 16):
            tag, value = struct.unpack_from("<qQ", data, off)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                needed.append(name_at(dynstr, value))
    return names, needed


def expected_modules(src: Path) -> set[str]:
    """The wheel paths (without the ABI suffix) setup.py compiles from ``src``."""
    pkg = src / "src" / "scribewire"
    return {
        str(PurePosixPath("scribewire", *p.relative_to(pkg).parent.parts, p.stem))
        for p in pkg.rglob("_*_c.pyx")
    }


def check(wheel: Path, native_src: Path | None, use_auditwheel: bool) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        for n in names:
            if n.endswith(FORBIDDEN_SUFFIXES) or "__pycache__" in n or n.startswith("tests/"):
                problems.append(f"{n}: does not belong in a wheel")
        if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
            problems.append("no LICENSE in .dist-info/licenses/")
        if "scribewire/py.typed" not in names:
            problems.append("no scribewire/py.typed")
        if not any(n.endswith(".pyi") for n in names):
            problems.append("no .pyi stubs")
        compiled = {n: zf.read(n) for n in names if n.endswith((".so", ".pyd"))}
    tag = wheel.name[: -len(".whl")].split("-", 2)[2]
    if native_src is None:
        if compiled:
            problems.append(f"pure wheel holds compiled modules: {sorted(compiled)}")
        if tag != "py3-none-any":
            problems.append(f"pure wheel tagged {tag}, not py3-none-any")
        return problems
    found = {n.split(".", 1)[0] for n in compiled}
    for missing in sorted(expected_modules(native_src) - found):
        problems.append(f"{missing}: compiled module missing")
    if tag.endswith("-any"):
        problems.append(f"native wheel tagged {tag}")
    for n, data in sorted(compiled.items()):
        if data[:4] != b"\x7fELF":
            continue  # Mach-O / PE: checked on their own runners
        sections, needed = elf_sections_and_needed(data)
        debug = sorted(s for s in sections if s.startswith((".debug", ".zdebug")))
        if debug:
            problems.append(f"{n}: carries debug info ({', '.join(debug)})")
        extra = sorted(set(needed) - ALLOWED_NEEDED)
        if extra:
            problems.append(f"{n}: needs unexpected libraries {extra}")
        libs = ", ".join(needed)
        print(f"check_wheel: {n}: {len(data) // 1024} KiB, no debug info, needs {libs}")
    if use_auditwheel:
        proc = subprocess.run(
            [sys.executable, "-m", "auditwheel", "show", str(wheel)],
            capture_output=True,
            text=True,
            check=False,
        )
        report = " ".join(proc.stdout.split())
        print(f"check_wheel: auditwheel show: {report}")
        match = re.search(r'consistent with the following platform tag: "(manylinux_\w+)"', report)
        if proc.returncode != 0 or match is None:
            problems.append(f"auditwheel show found no manylinux tag (exit {proc.returncode})")
        elif "external shared libraries are required" in report:
            problems.append("auditwheel show: the wheel needs external shared libraries")
        else:
            print(f"manylinux-tag: {match.group(1)}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("wheel", type=Path)
    ap.add_argument("--native", type=Path, metavar="SRC_DIR", help="expect native modules")
    ap.add_argument("--auditwheel", action="store_true", help="also run auditwheel show")
    args = ap.parse_args()
    problems = check(args.wheel, args.native, args.auditwheel)
    for p in problems:
        print(f"check_wheel: {args.wheel.name}: {p}")
    if not problems:
        with zipfile.ZipFile(args.wheel) as zf:
            print(f"check_wheel: {args.wheel.name}: ok ({len(zf.namelist())} files)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
