"""No native function leaves the upper halves of the vector registers dirty (issue 17).

Code that writes a ymm or zmm register leaves the CPU's upper vector state "dirty" until a
``vzeroupper`` (or ``vzeroall``). The next legacy-SSE instruction (CPython, libc, anything
built without AVX) then pays a state transition or a false dependency on every use: a
31 ns CRC kernel cost 180-250 ns per Python call that way. Compilers insert ``vzeroupper``
on their own, but not always: GCC 12 leaves it out before a call to a local function it
knows spares the vector registers (IPA-RA), which is how ``crc_vpclmul_update`` returned
through its scalar table tail with the AVX-512 state dirty. The kernels now clear it
themselves (``_mm256_zeroupper()`` after the vector part, then any scalar tail); this test
checks what the compiler really emitted.

How: every built extension module (``_*_c*.so`` anywhere under the package directory, plus
the modules ``scribewire._impl`` loads) is disassembled with ``objdump -d``. For each
function (its ``.cold`` parts included) that names a ymm or zmm register, the state is
followed along the control flow from the entry: an instruction naming ymm/zmm makes it
dirty, ``vzeroupper``/``vzeroall`` makes it clean, a join is dirty if any way into it is.
Every way out, ``ret``, a jump to another function (a tail call, conditional or not), an
indirect jump, and every ``call`` (the callee may be legacy SSE), must be reached clean.

Approximations (static, conservative): any mention of ymm/zmm counts as a write, reads
too; an indirect jump is treated as leaving the function (no jump tables are resolved),
and code reached only through one is seeded with the linear rule (dirty if a ymm/zmm use
precedes it in address order with no ``vzeroupper`` in between). A function that takes or
returns ymm/zmm values by the vector ABI would be flagged: kernels keep such helpers
``static inline``. The checker itself is tested on hand-written assembly and a C snippet
compiled on the fly, including a branch that skips ``vzeroupper`` (which the plain linear
rule misses) and a clean path laid out after vector code (which it would flag).
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import scribewire

_FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S.*?)\s*$")
_TARGET = re.compile(r"^([0-9a-f]+)(?:\s+<(.+)>)?$")
_WIDE = re.compile(r"%[yz]mm\d+")
_COLD = re.compile(r"\.cold(?:\.\d+)?$")
_PREFIXES = frozenset(
    "rep repz repe repnz repne lock notrack bnd data16 addr32 cs ds es ss fs gs".split()
)
_CLEAN = frozenset(("vzeroupper", "vzeroall"))
_STOP = frozenset(("ud2", "hlt", "int3"))
_KERNELS = ("crc32", "eventstream", "wsframe", "wsserver", "audio", "pacing")


class DisassemblyError(RuntimeError):
    """objdump failed or printed nothing usable for a file."""


@dataclass(frozen=True)
class Insn:
    addr: int
    mnemonic: str
    operands: str

    def __str__(self) -> str:
        return f"{self.addr:#x}: {self.mnemonic} {self.operands}".rstrip()


@dataclass
class Function:
    """One symbol's instructions, with its ``.cold`` parts (each a run of addresses)."""

    name: str
    entry: int | None = None  # the symbol's own address (not a .cold part's)
    parts: list[list[Insn]] = field(default_factory=list)

    @property
    def wide(self) -> bool:
        return any(_WIDE.search(i.operands) for part in self.parts for i in part)


@dataclass(frozen=True)
class Finding:
    function: str
    insn: Insn

    def __str__(self) -> str:
        return f"{self.function}: {self.insn} may run with the upper vector state dirty"


def parse_objdump(text: str) -> dict[str, Function]:
    """The functions of an ``objdump -d --no-show-raw-insn`` listing, by (base) name."""
    funcs: dict[str, Function] = {}
    part: list[Insn] | None = None
    for line in text.splitlines():
        m = _FUNC.match(line)
        if m:
            base = _COLD.sub("", m.group(2))
            part = []
            func = funcs.setdefault(base, Function(base))
            func.parts.append(part)
            if base == m.group(2):
                func.entry = int(m.group(1), 16)
            continue
        if part is None:
            continue
        m = _INSN.match(line)
        if not m:
            if line.startswith("Disassembly of section"):
                part = None
            continue
        words = m.group(2).split()
        while len(words) > 1 and words[0] in _PREFIXES:
            words.pop(0)
        if not words or words[0] == "(bad)":
            continue
        part.append(Insn(int(m.group(1), 16), words[0], " ".join(words[1:])))
    return funcs


def _target(operands: str) -> int | None:
    m = _TARGET.match(operands)
    return int(m.group(1), 16) if m else None


def dirty_exits(func: Function) -> list[Finding]:
    """The ways out of ``func`` that some path reaches with the upper state dirty."""
    if not func.wide:
        return []
    order = sorted((i for part in func.parts for i in part), key=lambda i: i.addr)
    at = {i.addr: k for k, i in enumerate(order)}
    last_of_part = {part[-1].addr for part in func.parts if part}

    # the linear rule, to seed code the control flow does not reach
    linear, dirty = [], False
    for i in order:
        linear.append(dirty)
        if i.mnemonic in _CLEAN:
            dirty = False
        elif _WIDE.search(i.operands):
            dirty = True

    state: dict[int, bool] = {}
    findings: dict[int, Finding] = {}
    settled: set[int] = set()  # reached from the entry: seeds do not override them

    def flow(k: int, dirty_in: bool) -> None:
        work = [(k, dirty_in)]
        while work:
            k, d = work.pop()
            if k in settled or (k in state and (state[k] or not d)):
                continue
            state[k] = d
            i = order[k]
            leaves = False
            succ: list[int] = []
            after = False if i.mnemonic in _CLEAN else (d or bool(_WIDE.search(i.operands)))
            fall = k + 1 if i.addr not in last_of_part and k + 1 < len(order) else None
            if i.mnemonic.startswith("ret"):
                leaves = True
            elif i.mnemonic.startswith("call"):
                leaves = True
                succ = [fall] if fall is not None else []
            elif i.mnemonic.startswith("jmp"):
                t = _target(i.operands)
                if t is not None and t in at:
                    succ = [at[t]]
                else:
                    leaves = True
            elif i.mnemonic.startswith(("j", "loop")):
                t = _target(i.operands)
                if t is not None and t in at:
                    succ = [at[t]]
                else:
                    leaves = True
                if fall is not None:
                    succ.append(fall)
            elif i.mnemonic not in _STOP and fall is not None:
                succ = [fall]
            if leaves and d:
                findings[i.addr] = Finding(func.name, i)
            work.extend((s, after) for s in succ)

    flow(at.get(func.entry, 0) if func.entry is not None else 0, False)
    settled.update(state)
    for k, i in enumerate(order):
        if k not in state and not i.mnemonic.startswith(("nop", "xchg")):
            flow(k, linear[k])  # padding after a jump is not code
    return [findings[a] for a in sorted(findings)]


def disassemble(path: Path) -> dict[str, Function]:
    proc = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-M", "att", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise DisassemblyError(f"objdump {path} exited {proc.returncode}: {proc.stderr}")
    funcs = parse_objdump(proc.stdout)
    if not funcs:
        raise DisassemblyError(f"objdump {path}: no functions in the listing")
    return funcs


def _need_objdump_x86() -> None:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"ymm/zmm state is x86-64 only; this is {platform.machine()}")
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")


def built_extensions() -> list[Path]:
    """Every native kernel module: those ``_impl`` would load, and any under the package."""
    found: set[Path] = set()
    for name in _KERNELS:
        try:
            mod = importlib.import_module(f"scribewire._{name}_c")
        except ImportError:
            continue
        file = getattr(mod, "__file__", None) or ""
        if file.endswith(".so"):
            found.add(Path(file).resolve())
    pkg = Path(scribewire.__file__).resolve().parent
    found.update(p.resolve() for p in pkg.rglob("_*_c*.so"))
    return sorted(found)


# ---------------------------------------------------------------------------- the checker

_ASM = r"""
    .text
    .globl sw_scalar
sw_scalar:
    xorl %eax, %eax
    ret

    .globl sw_dirty_ret
sw_dirty_ret:
    vmovdqu (%rdi), %ymm0
    vmovdqu %ymm0, (%rsi)
    ret

    .globl sw_clean_ret
sw_clean_ret:
    vmovdqu (%rdi), %ymm0
    vmovdqu %ymm0, (%rsi)
    vzeroupper
    ret

    .globl sw_dirty_tail
sw_dirty_tail:
    vmovdqu64 (%rdi), %zmm0
    vmovdqu64 %zmm0, (%rsi)
    jmp sw_scalar

    .globl sw_clean_tail
sw_clean_tail:
    vmovdqu64 (%rdi), %zmm0
    vmovdqu64 %zmm0, (%rsi)
    vzeroupper
    jmp sw_scalar

    .globl sw_dirty_call
sw_dirty_call:
    vmovdqu (%rdi), %ymm0
    vmovdqu %ymm0, (%rsi)
    call sw_scalar
    vzeroupper
    ret

    .globl sw_dirty_branch
sw_dirty_branch:
    vmovdqu (%rdi), %ymm0
    vmovdqu %ymm0, (%rsi)
    testl %edx, %edx
    je 1f
    vzeroupper
1:  ret

    .globl sw_clean_out_of_line
sw_clean_out_of_line:
    testl %edx, %edx
    jne 3f
2:  vzeroupper
    ret
3:  testl %ecx, %ecx
    je 4f
    vmovdqu (%rdi), %ymm0
    vmovdqu %ymm0, (%rsi)
    jmp 2b
4:  xorl %eax, %eax
    ret

    .globl sw_xmm_only
sw_xmm_only:
    vmovdqu (%rdi), %xmm0
    vmovdqu %xmm0, (%rsi)
    ret
"""

_C = r"""
#include <immintrin.h>
#include <stdint.h>

__attribute__((noinline)) static uint32_t scalar_tail(const uint8_t *p, int n) {
    uint32_t s = 0;
    while (n-- > 0) s = s * 31u + *p++;
    return s;
}

__attribute__((target("avx2"))) uint32_t sw_c_dirty(const uint8_t *p, uint8_t *q, int n) {
    _mm256_storeu_si256((__m256i *)q, _mm256_loadu_si256((const __m256i *)p));
    return scalar_tail(p + 32, n);
}

__attribute__((target("avx2"))) uint32_t sw_c_clean(const uint8_t *p, uint8_t *q, int n) {
    _mm256_storeu_si256((__m256i *)q, _mm256_loadu_si256((const __m256i *)p));
    _mm256_zeroupper();
    return scalar_tail(p + 32, n);
}
"""


def _compile(tmp_path: Path, name: str, source: str, *flags: str) -> dict[str, Function]:
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the checker's self-test")
    src = tmp_path / name
    src.write_text(source)
    obj = tmp_path / (name + ".o")
    proc = subprocess.run(
        [cc, "-c", "-O2", *flags, str(src), "-o", str(obj)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"{cc} cannot build the self-test snippet: {proc.stderr.strip()}")
    return disassemble(obj)


def _flagged(funcs: dict[str, Function]) -> dict[str, list[str]]:
    return {n: [i.insn.mnemonic for i in dirty_exits(f)] for n, f in funcs.items()}


def test_checker_on_assembly(tmp_path: Path) -> None:
    _need_objdump_x86()
    flagged = _flagged(_compile(tmp_path, "snippet.s", _ASM))
    assert flagged["sw_dirty_ret"] == ["ret"]
    assert flagged["sw_dirty_tail"] == ["jmp"]
    assert flagged["sw_dirty_call"] == ["call"]
    assert flagged["sw_dirty_branch"] == ["ret"]  # the je skips the vzeroupper
    for clean in (
        "sw_scalar",
        "sw_clean_ret",
        "sw_clean_tail",
        "sw_clean_out_of_line",
        "sw_xmm_only",
    ):
        assert flagged[clean] == [], clean


def test_checker_on_compiled_c(tmp_path: Path) -> None:
    _need_objdump_x86()
    # -mno-vzeroupper: the compiler adds none of its own, as GCC 12 did before the tail
    funcs = _compile(tmp_path, "snippet.c", _C, "-mno-vzeroupper")
    flagged = _flagged(funcs)
    assert funcs["sw_c_dirty"].wide and flagged["sw_c_dirty"], flagged
    assert funcs["sw_c_clean"].wide and flagged["sw_c_clean"] == [], flagged


def test_parse_keeps_cold_parts_with_their_function() -> None:
    listing = (
        "0000000000001000 <f>:\n"
        "    1000:\tvmovdqu (%rdi),%ymm0\n"
        "    1004:\tjne    2000 <f.cold>\n"
        "    1006:\tvzeroupper\n"
        "    1009:\tret\n"
        "\n"
        "0000000000002000 <f.cold>:\n"
        "    2000:\tnotrack jmp *%rax\n"
    )
    funcs = parse_objdump(listing)
    assert list(funcs) == ["f"] and len(funcs["f"].parts) == 2
    assert [str(x.insn) for x in dirty_exits(funcs["f"])] == ["0x2000: jmp *%rax"]


# ---------------------------------------------------------------------------- the build


def test_built_extensions_leave_the_upper_state_clean() -> None:
    _need_objdump_x86()
    sos = built_extensions()
    if not sos:
        why = (
            " (SCRIBEWIRE_NO_EXTENSIONS is set)"
            if os.environ.get("SCRIBEWIRE_NO_EXTENSIONS")
            else ""
        )
        pytest.skip(f"no native extension modules built{why}")
    report, wide_seen = [], set()
    for so in sos:
        funcs = disassemble(so)
        if so.name.startswith("_crc32_c") and "crc_vpclmul_update" not in funcs:
            # x86-64 builds always compile the VPCLMULQDQ kernel: its symbol is missing only
            # when the local symbols were stripped, and then functions cannot be told apart
            pytest.skip(f"{so.name} has no local symbols (stripped): cannot split functions")
        wide_seen.update(f.name for f in funcs.values() if f.wide)
        report += [f"{so.name}: {x}" for f in funcs.values() for x in dirty_exits(f)]
    assert not report, "AVX code returns or calls out without vzeroupper:\n" + "\n".join(report)
    if any(so.name.startswith("_crc32_c") for so in sos):
        assert "crc_vpclmul_update" in wide_seen  # the check saw the AVX-512 kernel
