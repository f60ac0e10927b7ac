"""Thumb and Thumb-2 encodings (ARMv6-M .. ARMv8-M mainline), and ``decode_all`` which
classifies each instruction for the timing models."""

import dataclasses
import re

from .insn import MEM_CODE, MEM_OTHER, MEM_STACK, Access, Insn, Move

WFI16 = 0xBF30
WFI32 = (0xF3AF, 0x8003)
BKPT_MASK, BKPT = 0xFF00, 0xBE00
SEMIHOSTING_BKPT = 0xAB


def is_32bit(first_halfword: int) -> bool:
    """Thumb-2 32-bit encodings start with 0b11101, 0b11110 or 0b11111."""
    return (first_halfword >> 11) in (0x1D, 0x1E, 0x1F)


def length(first_halfword: int) -> int:
    return 4 if is_32bit(first_halfword) else 2


def bkpt_imm(halfword: int) -> int | None:
    """The immediate of a BKPT instruction, or None if ``halfword`` is not BKPT."""
    return halfword & 0xFF if halfword & BKPT_MASK == BKPT else None


def wfi_before(halfwords: tuple[int, int]) -> int:
    """Length of a WFI ending just before the two halfwords given as (pc-4, pc-2); 0 if none."""
    if halfwords[1] == WFI16:
        return 2
    if halfwords == WFI32:
        return 4
    return 0


# -- full decoder for timing (Capstone does the Thumb-2/DSP/FPU encodings) --------------
# Register masks: bit n for rn (13 sp, 14 lr, 15 pc), 16 + n for sn (dn covers two),
# FLAGS for the APSR condition flags, FPSCR for the FP status register.
FLAGS, FPSCR = 1 << 48, 1 << 49
SP_BIT, PC_BIT = 1 << 13, 1 << 15
_ARM_OP_IMM = 2  # capstone.arm.ARM_OP_IMM (capstone is imported only where code is decoded)
#: Data-processing mnemonics (without S) whose result the access plans follow (``Move.op``).
_FOLLOWED_LOADS = ("ldr", "ldrb", "ldrh", "ldrsb", "ldrsh")
_MOVE_OPS = {"add": "add", "sub": "sub", "and": "and", "orr": "or", "eor": "xor", "lsl": "lsl", "lsr": "lsr",
             "asr": "asr"}

_MUL = ("mul", "mla", "mls", "smla", "smul", "smua", "smus", "smls", "smmul", "smmla", "smmls", "usad")
_MUL_LONG = ("smull", "umull", "smlal", "umlal", "umaal")
_FP_CLASS = (("vdiv", "fp_div"), ("vsqrt", "fp_sqrt"), ("vfma", "fp_mac"), ("vfms", "fp_mac"),
             ("vfnm", "fp_mac"), ("vmla", "fp_mac"), ("vmls", "fp_mac"), ("vnmla", "fp_mac"),
             ("vnmls", "fp_mac"), ("vmul", "fp_mul"), ("vnmul", "fp_mul"),
             ("vldr", "fp_load"), ("vldm", "fp_load"), ("vpop", "fp_load"),
             ("vstr", "fp_store"), ("vstm", "fp_store"), ("vpush", "fp_store"))
_SYSTEM = ("mrs", "msr", "dmb", "dsb", "isb", "svc", "bkpt", "udf")
_HINT = ("cps", "wfi", "wfe", "sev", "nop", "yield")
_MEM_BYTES = {"b": 1, "h": 2, "d": 8}


def _reg_bit(name: str) -> int:
    if name in ("sp", "r13"):
        return SP_BIT
    if name in ("lr", "r14"):
        return 1 << 14
    if name in ("pc", "r15"):
        return PC_BIT
    if name in ("cpsr", "apsr", "apsr_nzcv", "itstate"):
        return FLAGS if name != "itstate" else 0
    if name == "fpscr" or name == "fpscr_nzcv":
        return FPSCR
    kind, num = name[0], name[1:]
    if not num.isdigit():
        return {"sb": 1 << 9, "sl": 1 << 10, "fp": 1 << 11, "ip": 1 << 12}.get(name, 0)
    n = int(num)
    if kind == "r":
        return 1 << n
    if kind == "s":
        return 1 << (16 + n)
    if kind == "d" and n < 16:
        return 3 << (16 + 2 * n)
    return 0


def _mask(cs_insn, regs) -> int:
    m = 0
    for r in regs:
        m |= _reg_bit(cs_insn.reg_name(r))
    return m


def _klass(mn: str) -> str:
    base = mn.split(".")[0]
    for prefix, klass in _FP_CLASS:
        if base.startswith(prefix):
            return klass
    if base.startswith("v"):
        return "fp"
    if base in ("sdiv", "udiv"):
        return "div"
    if base.startswith(_MUL_LONG) or base.startswith("smlal"):
        return "mul_long"
    if base.startswith(_MUL):
        return "mul"
    if base in ("lsl", "lsls", "lsr", "lsrs", "asr", "asrs", "ror", "rors"):
        return "shift"
    if base.startswith(_SYSTEM):
        return "system"
    if base.startswith(_HINT):
        return "hint"
    if base.startswith(("cdp", "mcr", "mrc", "ldc", "stc", "cx")):
        return "custom"
    return "alu"


_CONDS = ("eq", "ne", "hs", "cs", "lo", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le")


def _base_mnemonic(mn: str, in_it: bool) -> str:
    """``bne.w`` -> ``b``; inside an IT block ``movne`` -> ``mov``."""
    base = mn.split(".")[0]
    if (in_it or base[:1] == "b") and len(base) > 2 and base[-2:] in _CONDS:
        stem = base[:-2]
        if in_it or stem in ("b",):
            return stem
    return base


def _decode_cs(ci, in_it: bool) -> Insn:
    from capstone import arm as csarm

    mn = ci.mnemonic
    base = _base_mnemonic(mn, in_it)
    reads, writes = ci.regs_access()
    insn = Insn(ci.address, ci.size, _klass(base), f"{mn} {ci.op_str}".strip(),
                reads=_mask(ci, reads), writes=_mask(ci, writes), in_it=in_it)
    ops = ci.operands
    regs_listed = [op.reg for op in ops if op.type == csarm.ARM_OP_REG]
    mem_ops = [op for op in ops if op.type == csarm.ARM_OP_MEM]
    mem = [op.mem for op in mem_ops]
    if re.fullmatch(r"it[te]{0,3}", base):
        insn.klass, insn.writes = "it", 0
    elif base in ("push", "pop", "vpush", "vpop") or base.startswith(("ldm", "stm", "vldm", "vstm")):
        fp = base.startswith("v")
        listed = regs_listed if base in ("push", "pop", "vpush", "vpop") else regs_listed[1:]
        words = sum(2 if ci.reg_name(r).startswith("d") else 1 for r in listed)
        insn.nregs = len(listed)
        load = base in ("pop", "vpop") or base.startswith(("ldm", "vldm"))
        insn.klass = ("fp_load" if fp else "load_multi") if load else ("fp_store" if fp else "store_multi")
        if load:
            insn.mem_reads, insn.read_bytes, insn.load_dests = words, 4 * words, _mask(ci, listed)
        else:
            insn.mem_writes, insn.write_bytes = words, 4 * words
        base_reg = "sp" if base in ("push", "pop", "vpush", "vpop") else ci.reg_name(regs_listed[0])
        insn.addr_regs = _reg_bit(base_reg)
        insn.mem_where = MEM_STACK if base_reg == "sp" else MEM_OTHER
        size = 8 if fp and ci.reg_name(listed[0]).startswith("d") else 4  # Unicorn: one access per D register
        total = size * len(listed)
        down = base in ("push", "vpush") or base.endswith("db")
        grows = base in ("push", "pop", "vpush", "vpop") or ci.writeback
        insn.access = Access(_reg_number(base_reg), first=-total if down else 0, count=len(listed), size=size,
                             writeback=(-total if down else total) if grows else 0, write=not load)
        if base_reg == "sp" and (base in ("push", "pop", "vpush", "vpop") or ci.writeback):
            insn.sp_delta = (4 if load else -4) * words
        elif insn.writes & SP_BIT:
            insn.sp_delta = None
    elif mem and (base.startswith(("ldr", "str", "ldaex", "ldrex", "strex", "lda", "stl", "vldr", "vstr", "pld"))
                  or base.startswith(("tbb", "tbh"))):
        m = mem[0]
        base_name = ci.reg_name(m.base) if m.base else ""
        insn.addr_regs = _reg_bit(base_name) | (_reg_bit(ci.reg_name(m.index)) if m.index else 0)
        insn.mem_where = MEM_STACK if base_name == "sp" else MEM_CODE if base_name == "pc" else MEM_OTHER
        stem = base.replace("ex", "").removeprefix("v")  # ldrexb: a byte, as ldrb
        nbytes = 4
        for suffix, n in _MEM_BYTES.items():
            if stem.startswith(("ldr", "str")) and stem[3:].lstrip("s").startswith(suffix):
                nbytes = n
        if base.startswith("vldr") or base.startswith("vstr"):
            nbytes = 8 if ci.reg_name(regs_listed[0]).startswith("d") else 4
        if base.startswith(("tbb", "tbh")):
            insn.klass, nbytes = "table_branch", 1 if base.startswith("tbb") else 2
        is_load = base.startswith(("ldr", "lda", "vldr", "tb"))
        insn.access = _single_access(ci, mem_ops[0], base, nbytes, is_load)
        dest = ci.reg_name(regs_listed[0]) if regs_listed else ""
        if base in _FOLLOWED_LOADS + ("str", "strb", "strh") and dest not in ("pc", "sp", "") \
                and _reg_bit(dest) < 1 << 16 and not ci.writeback:
            insn.access = dataclasses.replace(insn.access, dest=_reg_number(dest), signed=base in ("ldrsb", "ldrsh"))
        if base.startswith(("strex", "stlex")):  # writes only if the exclusive monitor still holds
            insn.opaque_access = True
        if base.startswith("pld"):
            insn.klass, insn.access = "system", None
        elif is_load:
            if insn.klass != "table_branch":
                insn.klass = "fp_load" if base.startswith("v") else "load"
            insn.mem_reads, insn.read_bytes = (2 if nbytes == 8 else 1), nbytes
            dests = [r for r in regs_listed if r != m.base]
            insn.load_dests = _mask(ci, dests)
        else:
            insn.klass = "fp_store" if base.startswith("v") else "store"
            insn.mem_writes, insn.write_bytes = (2 if nbytes == 8 else 1), nbytes
        if insn.writes & SP_BIT:
            insn.sp_delta = m.disp if ci.writeback and base_name == "sp" else None
            if base_name == "sp" and ci.writeback and not getattr(ci, "post_index", False):
                insn.sp_delta = m.disp
    else:
        insn.move = _move(ci, base, ops, regs_listed)
    if not insn.access and insn.writes & SP_BIT:
        imms = [op.imm for op in ops if op.type == csarm.ARM_OP_IMM]
        srcs = [ci.reg_name(r) for r in regs_listed[1:]]
        if base in ("sub", "subs", "subw") and imms and srcs in ([], ["sp"]):
            insn.sp_delta = -imms[0]
        elif base in ("add", "adds", "addw") and imms and srcs in ([], ["sp"]):
            insn.sp_delta = imms[0]
        else:
            insn.sp_delta = None
    if insn.klass == "div":
        insn.operands = tuple(int(ci.reg_name(r)[1:]) if ci.reg_name(r)[1:].isdigit() else
                              {"sb": 9, "sl": 10, "fp": 11, "ip": 12, "sp": 13, "lr": 14, "pc": 15}[ci.reg_name(r)]
                              for r in regs_listed[-2:])
        insn.signed = base == "sdiv"
    # control flow
    if base in ("b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh") or insn.writes & PC_BIT:
        insn.ctrl = True
        imms = [op.imm for op in ops if op.type == csarm.ARM_OP_IMM]
        if base in ("bl", "blx"):
            insn.call = True
            insn.klass = "call" if imms and not regs_listed else "call_reg"
        elif base == "b":
            insn.klass = "jump"
        elif base in ("cbz", "cbnz"):
            insn.klass = "branch"
        elif insn.klass not in ("load", "load_multi", "table_branch"):
            insn.klass = "jump_reg"
        if base in ("b", "bl", "cbz", "cbnz") or (base == "blx" and imms):
            insn.target = imms[-1] & 0xFFFFFFFF
        insn.cond = base in ("cbz", "cbnz") or ci.cc not in (csarm.ARM_CC_AL, csarm.ARM_CC_INVALID)
        if base == "b" and insn.cond:
            insn.klass = "branch"
        if in_it and insn.klass in ("jump", "jump_reg", "load", "load_multi"):
            insn.cond = True
    insn.reads &= ~PC_BIT
    return insn


def _reg_number(name: str) -> int:
    """Core register number (r0..r15) of a register name."""
    return _reg_bit(name).bit_length() - 1


def _single_access(ci, op, base: str, nbytes: int, is_load: bool) -> Access:
    """The address of a single load or store (LDRD/STRD: two word accesses), table branches included."""
    m = op.mem
    shift = max(m.lshift, op.shift.value if op.shift.type else 0)
    index = _reg_number(ci.reg_name(m.index)) if m.index else -1
    disp = -m.disp if getattr(op, "subtracted", False) else m.disp
    count, size = (2, 4) if nbytes == 8 and not base.startswith("v") else (1, nbytes)
    write = not is_load
    if ci.reg_name(m.base) == "pc":  # the PC reads as the address + 4, word-aligned for literal loads
        pc = ci.address + 4 if base.startswith("tb") else (ci.address & ~3) + 4
        return Access(-1, pc + disp, index, shift, count=count, size=size, write=write)
    post = getattr(ci, "post_index", False)
    if post:
        step = next(o.imm for o in ci.operands if o.type == _ARM_OP_IMM)
        return Access(_reg_number(ci.reg_name(m.base)), 0, index, shift, writeback=step, count=count, size=size,
                      write=write)
    return Access(_reg_number(ci.reg_name(m.base)), disp, index, shift, writeback=disp if ci.writeback else 0,
                  count=count, size=size, write=write)


def _move(ci, base: str, ops, regs) -> Move | None:
    """What the access plans can follow of a data-processing instruction: ``rd = rn OP rm{, LSL #k}``,
    ``rd = rn OP #imm`` (OP in _MOVE_OPS), ``rd = rm``, ``rd = imm`` (MOV, MOVW, ADR), UXTB/UXTH, MOVT."""
    from capstone import arm as csarm

    if not regs:
        return None
    names = [ci.reg_name(r) for r in regs]
    if any(_reg_bit(n) >= 1 << 16 or _reg_bit(n) == 0 for n in names) or names[0] == "pc":
        return None
    rd = _reg_number(names[0])
    imms = [op.imm for op in ops if op.type == csarm.ARM_OP_IMM]
    reg_ops = [op for op in ops if op.type == csarm.ARM_OP_REG]
    if base in ("add", "adds", "addw", "sub", "subs", "subw") and len(imms) == 1 and names[1:] == ["pc"]:
        imm = imms[0] if base.startswith("add") else -imms[0]  # ADR: Align(PC, 4) +/- imm
        return Move(rd, -1, ((ci.address & ~3) + 4 + imm) & 0xFFFFFFFF)
    if "pc" in names[1:]:
        return None
    op = _MOVE_OPS.get(base.removesuffix("s") if base not in ("mov", "movs") else base)
    if op is not None and not imms and len(reg_ops) in (2, 3):
        first, last = reg_ops[-2], reg_ops[-1]  # OP rd, rn, rm{, LSL #k}; OP rdn, rm
        if first.shift.type or last.shift.type not in (0, csarm.ARM_SFT_LSL) or op in ("lsl", "lsr", "asr"):
            return None
        return Move(rd, _reg_number(ci.reg_name(first.reg)), src2=_reg_number(ci.reg_name(last.reg)),
                    shift=last.shift.value if last.shift.type else 0, op=op)
    if any(op.shift.type for op in reg_ops):
        return None
    if op is not None and op != "add" and len(imms) == 1 and len(names) <= 2:  # OP rd, rn, #imm; OP rdn, #imm
        return Move(rd, _reg_number(names[-1]), imms[0] & 0xFFFFFFFF, op=op)
    if base in ("uxtb", "uxth") and len(names) == 2:
        return Move(rd, _reg_number(names[1]), 0xFF if base == "uxtb" else 0xFFFF, op="and")
    if base in ("mov", "movs", "movw") and len(ops) == 2:
        return Move(rd, _reg_number(names[1])) if len(names) == 2 else Move(rd, -1, imms[0] & 0xFFFFFFFF)
    if base == "movt" and imms:
        return Move(rd, -1, (imms[0] & 0xFFFF) << 16, high=True)
    if base in ("add", "adds", "addw", "subw") and len(imms) == 1 and len(names) <= 2:
        return Move(rd, _reg_number(names[-1]), imms[0] if base.startswith("add") else -imms[0])
    return None


def data_access(code: bytes, addr: int, register) -> tuple[int, int, bool] | None:
    """(address, bytes, is_write) of the data access the load or store at ``addr`` makes, given
    ``register(name)`` -> its value before the instruction; None when it is not a load or store.
    For a fault report: which address a faulting access used."""
    import capstone
    from capstone import arm as csarm

    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    ci = next(md.disasm(code, addr, 1), None)
    if ci is None:
        return None
    base = _base_mnemonic(ci.mnemonic, False)
    regs = [ci.reg_name(op.reg) for op in ci.operands if op.type == csarm.ARM_OP_REG]
    words = lambda listed: sum(2 if r.startswith("d") else 1 for r in listed)  # noqa: E731
    if base in ("push", "vpush", "pop", "vpop") or base.startswith(("ldm", "stm", "vldm", "vstm")):
        stacked = base in ("push", "vpush", "pop", "vpop")
        listed = regs if stacked else regs[1:]
        nbytes = 4 * words(listed)
        start = register("sp" if stacked else regs[0])
        if base in ("push", "vpush") or base.endswith("db"):
            start -= nbytes
        return start & 0xFFFF_FFFF, nbytes, base.startswith(("push", "vpush", "stm", "vstm"))
    mem = [op for op in ci.operands if op.type == csarm.ARM_OP_MEM]
    if not mem or not base.startswith(("ldr", "str", "lda", "stl", "vldr", "vstr")):
        return None
    m = mem[0].mem
    address = register(ci.reg_name(m.base)) if m.base else addr
    if not getattr(ci, "post_index", False):
        offset = m.disp + (register(ci.reg_name(m.index)) << max(m.lshift, 0) if m.index else 0)
        address += -offset if getattr(mem[0], "subtracted", False) else offset
    if ci.reg_name(m.base) == "pc":
        address = (addr & ~3) + 4 + m.disp
    stem = base.removeprefix("v")
    nbytes = 8 if stem.startswith(("ldrd", "strd")) or (base.startswith("v") and regs[0].startswith("d")) else \
        next((n for suffix, n in _MEM_BYTES.items() if stem[3:].lstrip("s").startswith(suffix)), 4)
    return address & 0xFFFF_FFFF, nbytes, base.startswith(("str", "stl", "vstr"))


def decode_all(code: bytes, base: int, data_ranges: list[tuple[int, int]] = (), progress=None) -> list[Insn]:
    """Decode Thumb code at ``base``, skipping literal pools given as [start, end) ``data_ranges``.

    Mapping symbols ($t/$d) give the data ranges; without them a pool decodes as
    instructions, which costs nothing because execution never reaches it. ``progress()`` is
    called every 4096 instructions (it may raise to give up: a wall-clock limit).
    """
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    out: list[Insn] = []
    spans, pos = [], base
    for lo, hi in sorted(data_ranges):
        if hi <= pos or lo >= base + len(code):
            continue
        if lo > pos:
            spans.append((pos, lo))
        pos = max(pos, hi)
    spans.append((pos, base + len(code)))
    for lo, hi in spans:
        addr = lo + (lo & 1)
        while addr + 2 <= hi:
            it_left = 0
            for ci in md.disasm(code[addr - base:hi - base], addr):
                if progress is not None and len(out) % 4096 == 4095:
                    progress()
                insn = _decode_cs(ci, it_left > 0)
                it_left = max(0, it_left - 1)
                if insn.klass == "it":
                    it_left = len(_base_mnemonic(ci.mnemonic, False))  - 1
                out.append(insn)
                addr = ci.address + ci.size
            if addr + 2 <= hi:  # undecodable halfword: skip it
                addr += 2
    return out
