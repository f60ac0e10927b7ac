"""``conv``: a memory-mapped int8 convolution coprocessor with DMA (docs/accelerators.md).

The CPU writes buffer addresses, shapes and quantisation parameters, then START. The unit
reads its operands by DMA when it starts, computes TFLite's int8 convolution (per-channel
requantisation with TFLite's rounding, so results are bit-exact with the reference kernels)
on an output-stationary R x C array of multiply-accumulate units, and writes the output when
it finishes. How long that takes follows from tiling (``job_cycles``); the CPU meanwhile runs
on, and sees BUSY until the modeled end cycle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simmcu._energy import SRAM_8KIB_PJ_PER_BYTE, sram_energy
from simmcu._errors import ConfigError
from simmcu._params import Param
from simmcu.firmware._layer import FirmwareSupport, Layer, LayerCode, c_array, c_struct
from simmcu.firmware.reference import multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_gemmlowp

from ._base import MAC_AREA, MAC_ENERGY, Accelerator, Invocation, Phase, Signal

# Register offsets (firmware/include/simmcu_conv.h mirrors them).
CTRL, STATUS, ERROR, INPUT, WEIGHTS, BIAS, OUTPUT, QUANT = 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18, 0x1C
IN_H, IN_W, IN_C, OUT_C, KERNEL, STRIDE, PAD, MODE = 0x20, 0x24, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C
IN_ZP, OUT_ZP, ACT_MIN, ACT_MAX, OUT_H, OUT_W, LAST_CYCLES = 0x40, 0x44, 0x48, 0x4C, 0x50, 0x54, 0x58
CTRL_START, CTRL_IRQ_EN = 1, 2
STATUS_BUSY, STATUS_DONE, STATUS_ERROR = 1, 2, 4
MODE_DEPTHWISE, MODE_SINGLE_ROUNDING = 1, 2
#: ERROR register codes
ERR_NONE, ERR_ALIGN, ERR_RANGE, ERR_SHAPE, ERR_TILING, ERR_BUSY = range(6)
_WRITABLE = (CTRL, INPUT, WEIGHTS, BIAS, OUTPUT, QUANT, IN_H, IN_W, IN_C, OUT_C, KERNEL, STRIDE, PAD, MODE,
             IN_ZP, OUT_ZP, ACT_MIN, ACT_MAX)
_SIGNED = (IN_ZP, OUT_ZP, ACT_MIN, ACT_MAX)
#: The registers by name, for the waveform
_REGISTERS = dict(CTRL=CTRL, STATUS=STATUS, ERROR=ERROR, INPUT=INPUT, WEIGHTS=WEIGHTS, BIAS=BIAS, OUTPUT=OUTPUT,
                  QUANT=QUANT, IN_H=IN_H, IN_W=IN_W, IN_C=IN_C, OUT_C=OUT_C, KERNEL=KERNEL, STRIDE=STRIDE, PAD=PAD,
                  MODE=MODE, IN_ZP=IN_ZP, OUT_ZP=OUT_ZP, ACT_MIN=ACT_MIN, ACT_MAX=ACT_MAX, OUT_H=OUT_H, OUT_W=OUT_W,
                  LAST_CYCLES=LAST_CYCLES)


#: The energy and area model (docs/energy.md).
ENERGY_PARAMS = {
    "mac_energy": MAC_ENERGY,
    "buffer_energy": Param(SRAM_8KIB_PJ_PER_BYTE, "pJ/byte", "a buffer byte written or read, for 8 KiB (10 pJ per "
                           "64-bit read, Horowitz, 45 nm); scaled by sqrt(buffer_kib / 8)", "quantity"),
    "dma_energy": Param(0.0, "pJ/byte", "bus and DMA engine per byte moved, beyond the memory access (none published "
                        "for an MCU bus: left out unless set)", "quantity"),
    "buffer_leakage": Param(3.13, "nW/KiB", "buffer leakage: SRAM retention of Pons et al., CICC 2019 (55 nm DDC, "
                            "0.5 V, body-biased: a best case)", "quantity"),
    "pe_area": MAC_AREA,
    "buffer_area": Param(round(8192 * 0.346, 1), "um2/KiB", "8192 bit cells of 0.346 um2 (Intel 45 nm, Mistry et al., "
                         "IEDM 2007); decoders and sense amplifiers left out", "quantity"),
}


class ConvAccelerator(Accelerator):
    NAME = "conv"
    DESCRIPTION = "memory-mapped int8 CNN coprocessor: conv / depthwise conv, TFLite requantisation, DMA"
    PARAMS = {
        "pe_rows": Param(8, "PEs", "rows of the MAC array: output pixels computed at once", int, lambda v: v >= 1),
        "pe_cols": Param(8, "PEs", "columns of the MAC array: output channels computed at once", int, lambda v: v >= 1),
        "buffer_kib": Param(32, "KiB", "local buffer for a tile's input patches and weights", int, lambda v: v >= 1),
        "dma_bytes_per_cycle": Param(4, "bytes/cycle", "DMA bandwidth to memory", int, lambda v: v >= 1),
        "dma_latency": Param(8, "cycles", "DMA latency per tile burst", int, lambda v: v >= 0),
        "setup_cycles": Param(20, "cycles", "from START to the first tile (register decode, job set-up)", int,
                              lambda v: v >= 0),
        "double_buffer": Param(True, "", "overlap a tile's DMA with the previous tile's compute", bool),
        "ram_arbitration": Param("cpu-first", "", "RAM port shared with the CPU: cpu-first (each CPU data access "
                                 "to RAM during a job delays it a cycle) or none", ("cpu-first", "none")),
        **ENERGY_PARAMS,
    }
    COMPILE_PARAMS = ("base", "pe_cols", "buffer_kib", "double_buffer")  # the driver's address; what fits (plan)
    LAYERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")

    # -- model compiler ----------------------------------------------------------------------
    def firmware(self, core: str) -> FirmwareSupport:
        return FirmwareSupport(sources=(Path(__file__).with_name("conv_offload.c"),),
                               defines={"SIMMCU_CONV_BASE": f"{self.params['base']:#x}u"})  # simmcu_conv.h

    def compile_layer(self, layer: Layer) -> LayerCode | str | None:
        """A convolution or fully connected layer (as a 1x1 convolution, single rounding) as one job
        of ``nn_conv2d_offload``, if the unit can run it: dilation 1, a shape its registers hold,
        and a tiling that fits its buffer (else the job would end in error 3 or 4)."""
        if layer.op not in self.LAYERS:
            return None
        if layer.inputs[0].dtype != "int8":
            return f"{layer.inputs[0].dtype} activations (the unit's datapath is int8)"
        p, name = layer.params, layer.name
        if (p["dilation_h"], p["dilation_w"]) != (1, 1):
            return f"dilation {p['dilation_h']}x{p['dilation_w']} (the unit convolves with dilation 1)"
        if max(p["in_h"], p["in_w"], p["in_c"], p["out_c"]) > 0xFFFF or \
                max(p[k] for k in ("kh", "kw", "stride_h", "stride_w", "pad_top", "pad_left", "pad_bottom",
                                   "pad_right")) > 0xFF:
            return "shape beyond its registers (16-bit sizes; 8-bit kernel, stride and padding)"
        if self.plan(1, p["out_c"], p["taps"]) is None:
            return (f"no tiling fits in {self.params['buffer_kib']} KiB: one output pixel's {p['taps']} input bytes "
                    f"and the weights of {min(self.params['pe_cols'], p['out_c'])} channels")
        bias = layer.inputs[2].data if len(layer.inputs) > 2 else np.zeros(p["out_c"], np.int32)  # always read
        consts = (c_array("int8_t", f"{name}_weights", layer.inputs[1].data),
                  c_array("int32_t", f"{name}_multiplier", layer.multiplier),
                  c_array("int32_t", f"{name}_shift", layer.shift), c_array("int32_t", f"{name}_bias", bias),
                  c_array("int32_t", f"{name}_quant", np.stack([layer.multiplier, layer.shift], 1)),
                  c_struct("nn_conv_params", f"{name}_params",
                           dict(weights=f"{name}_weights", bias=f"{name}_bias", multiplier=f"{name}_multiplier",
                                shift=f"{name}_shift", quant=f"{name}_quant", scratch=0, **p)))
        args = f"&{name}_params, {layer.inputs[0].address}, {layer.outputs[0].address}"
        body = (f"    uint32_t err = nn_conv2d_offload({args}, {int(layer.op == 'DEPTHWISE_CONV_2D')});\n"
                f'    if (err) {{\n        printf("{name}: conv coprocessor error %u\\n", (unsigned)err);\n'
                "        _exit(3);\n    }\n")
        return LayerCode(consts, body)

    def reset(self) -> None:
        super().reset()
        self.regs = dict.fromkeys(_WRITABLE, 0)
        self.regs[KERNEL] = 0x0303
        self.regs[STRIDE] = 0x0101
        self.regs[ACT_MIN], self.regs[ACT_MAX] = -128, 127
        self.error_code = ERR_NONE
        self.done = False
        self.busy_until = -1
        self.pending_output: tuple[int, bytes] | None = None
        self.poll_start: int | None = None
        self.last_cycles = 0
        self.ram_base = self.ram_delay = 0  # CPU RAM accesses at START; cycles the job was delayed by them

    # -- registers -------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        now = self.bus.now()
        self.update(now)
        if offset == STATUS:
            busy = now < self.busy_until
            if busy and self.poll_start is None:
                self.poll_start = now
            elif not busy and self.poll_start is not None:
                self.cpu_waited(self.poll_start, self.busy_until)
                self.poll_start = None
        return self._register(offset, now)

    def steady_read(self) -> tuple[int, int, int] | None:
        """STATUS while a job runs and the CPU polls it (its first busy read, which starts the wait, is past)."""
        if self.poll_start is None or self.poll_start >= self.busy_until:
            return None
        return STATUS, self._register(STATUS, self.poll_start), self.busy_until

    def _register(self, offset: int, now: int) -> int:
        """A register's value at cycle ``now``, without the side effects of a CPU read."""
        if offset == STATUS:
            return (STATUS_BUSY if now < self.busy_until else 0) | (STATUS_DONE if self.done else 0) | \
                (STATUS_ERROR if self.error_code else 0)
        if offset == ERROR:
            return self.error_code
        if offset in (OUT_H, OUT_W):
            shape = self._shape()
            return 0 if shape is None else shape[0 if offset == OUT_H else 1]
        if offset == LAST_CYCLES:
            return self.last_cycles
        return self.regs.get(offset, 0) & 0xFFFF_FFFF

    # -- waveform and timeline -------------------------------------------------------------
    def signals(self) -> list[Signal]:
        """Every register (as a CPU read would see it) and the DONE flag."""
        regs = [Signal(name.lower(), 32, lambda now, off=off: self._register(off, now))
                for name, off in _REGISTERS.items()]
        return [*regs, Signal("done", 1, lambda now: int(self.done))]

    def phases(self, job: Invocation) -> list[Phase]:
        """Set-up, then per tile its DMA in and out (lane ``dma``) and its compute (lane ``compute``, with the
        share of the PE array it fills), as ``plan`` times them; then the cycles the job yielded the RAM port
        to the CPU (cpu-first arbitration), which the model adds at its end."""
        p, (_, _, c, oc, kh, kw), (oh, ow) = self.params, job.info["shape"], job.info["output"]
        taps = kh * kw * (1 if job.info["depthwise"] else c)
        t = job.start + p["setup_cycles"]
        out = [Phase("job", "setup", job.start, t)]
        pes = p["pe_rows"] * p["pe_cols"]
        for tr, tc, compute, read, _, dma in self._tiles(oh * ow, oc, taps):
            dma_in = p["dma_latency"] + -(-read // p["dma_bytes_per_cycle"])  # the rest of dma: the outputs
            util = round(tr * tc / pes, 4)
            if p["double_buffer"]:
                out += [Phase("dma", "DMA in", t, t + dma_in), Phase("dma", "DMA out", t + dma_in, t + dma),
                        Phase("compute", "compute", t, t + compute, util)]
                t += max(compute, dma)
            else:
                out += [Phase("dma", "DMA in", t, t + dma_in), Phase("compute", "compute", t + dma_in,
                                                                      t + dma_in + compute, util),
                        Phase("dma", "DMA out", t + dma_in + compute, t + compute + dma)]
                t += compute + dma
        if job.end > t:
            out.append(Phase("job", "RAM port yielded to the CPU", t, job.end))
        return [ph for ph in out if ph.end > ph.start]

    def write(self, offset: int, size: int, value: int) -> None:
        now = self.bus.now()
        self.update(now)
        if offset == STATUS:
            if value & STATUS_DONE:  # acknowledge: clears DONE, ERROR and the interrupt
                self.done, self.error_code = False, ERR_NONE
                self.bus.set_irq(False)
            return
        if offset not in _WRITABLE:
            return
        if offset in _SIGNED:
            value = value - (1 << 32) if value & 0x8000_0000 else value
        self.regs[offset] = value
        if offset == CTRL and value & CTRL_START:
            self._start(now)

    def update(self, now: int) -> None:
        if self.pending_output is None or now < self.busy_until or self._delayed_by_cpu(now):
            return
        addr, data = self.pending_output
        self.bus.write(addr, data)
        self.pending_output = None
        self.done = True
        if self.regs[CTRL] & CTRL_IRQ_EN:
            self.bus.set_irq(True)

    def _delayed_by_cpu(self, now: int) -> bool:
        """cpu-first arbitration: the job ends one cycle later per CPU RAM access since START that it
        has not yet yielded to; True when that moved the end past ``now``. Accesses are counted per
        basic block, so an end found in the past (the CPU ran on in one block) is taken as it is."""
        if self.params["ram_arbitration"] == "none":
            return False
        delay = self.bus.ram_accesses() - self.ram_base
        if delay <= self.ram_delay:
            return False
        self.busy_until += delay - self.ram_delay
        self.ram_delay = delay
        job = self.invocations[-1]
        job.end, job.info["ram_conflicts"] = self.busy_until, delay
        if self.busy_until <= now:
            return False
        self.bus.wake_at(self.busy_until)
        return True

    # -- a job -----------------------------------------------------------------------------
    def _shape(self):
        r = self.regs
        kh, kw = r[KERNEL] & 0xFF, (r[KERNEL] >> 8) & 0xFF
        sh, sw = r[STRIDE] & 0xFF, (r[STRIDE] >> 8) & 0xFF
        pt, pl, pb, pr = (r[PAD] >> s & 0xFF for s in (0, 8, 16, 24))
        h, w, c, oc = r[IN_H], r[IN_W], r[IN_C], r[OUT_C]
        if min(h, w, c, oc, kh, kw, sh, sw) < 1 or max(h, w, c, oc) > 0xFFFF:
            return None
        oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        if oh < 1 or ow < 1:
            return None
        return oh, ow, kh, kw, sh, sw, pt, pl

    def _fail(self, code: int, message: str) -> None:
        self.error_code = code
        self.done = True
        self.error(message)
        if self.regs[CTRL] & CTRL_IRQ_EN:
            self.bus.set_irq(True)

    def _start(self, now: int) -> None:
        r = self.regs
        if now < self.busy_until:
            self.error(f"START at cycle {now} while busy until {self.busy_until}: ignored")
            self.error_code = ERR_BUSY
            return
        shape = self._shape()
        depthwise = bool(r[MODE] & MODE_DEPTHWISE)
        if shape is None or (depthwise and r[OUT_C] % r[IN_C]):
            return self._fail(ERR_SHAPE, f"invalid shape: in {r[IN_H]}x{r[IN_W]}x{r[IN_C]}, out channels "
                              f"{r[OUT_C]}, kernel {r[KERNEL]:#06x}, stride {r[STRIDE]:#06x}, pad {r[PAD]:#010x}"
                              + (", depthwise needs out channels a multiple of in channels" if depthwise else ""))
        oh, ow, kh, kw, sh, sw, pt, pl = shape
        h, w, c, oc = r[IN_H], r[IN_W], r[IN_C], r[OUT_C]
        taps = kh * kw * (1 if depthwise else c)
        buffers = {INPUT: (h * w * c, False), WEIGHTS: (oc * taps, False), BIAS: (4 * oc, False),
                   QUANT: (8 * oc, False), OUTPUT: (oh * ow * oc, True)}
        names = {INPUT: "input", WEIGHTS: "weights", BIAS: "bias", QUANT: "quant", OUTPUT: "output"}
        for reg, (nbytes, writable) in buffers.items():
            if r[reg] % 4:
                return self._fail(ERR_ALIGN, f"{names[reg]} address {r[reg]:#010x} is not 4-byte aligned")
            if not self.bus.check(r[reg], nbytes, writable):
                return self._fail(ERR_RANGE, f"{names[reg]} buffer [{r[reg]:#010x}, +{nbytes}) is outside "
                                  + ("writable " if writable else "") + "memory")
        plan = self.plan(oh * ow, oc, taps)
        if plan is None:
            return self._fail(ERR_TILING, f"no tiling fits: one output pixel's {taps} input bytes and weights of "
                              f"{self.params['pe_cols']} channels exceed the {self.params['buffer_kib']} KiB buffer")
        cycles, dma_read, dma_write, tiles = plan
        x = np.frombuffer(self.bus.read(r[INPUT], h * w * c), np.int8).reshape(h, w, c)
        wts = np.frombuffer(self.bus.read(r[WEIGHTS], oc * taps), np.int8)
        bias = np.frombuffer(self.bus.read(r[BIAS], 4 * oc), "<i4")
        quant = np.frombuffer(self.bus.read(r[QUANT], 8 * oc), "<i4").reshape(oc, 2)
        out = conv_int8(x, wts, bias, quant[:, 0], quant[:, 1], (kh, kw), (sh, sw), (pt, pl), (oh, ow),
                        depthwise, r[IN_ZP], r[OUT_ZP], r[ACT_MIN], r[ACT_MAX], bool(r[MODE] & MODE_SINGLE_ROUNDING))
        self.pending_output = (r[OUTPUT], out.tobytes())
        self.busy_until = now + cycles
        self.last_cycles = cycles  # without RAM conflicts
        self.done, self.error_code, self.poll_start = False, ERR_NONE, None
        self.ram_base, self.ram_delay = self.bus.ram_accesses(), 0
        self.invocations.append(Invocation(now, now + cycles, oh * ow * oc * taps, dma_read, dma_write,
                                           dict(shape=[h, w, c, oc, kh, kw], stride=[sh, sw],
                                                pad=[(r[PAD] >> k) & 0xFF for k in (0, 8, 16, 24)], output=[oh, ow],
                                                depthwise=depthwise, tiles=tiles, ram_conflicts=0)))
        self.bus.wake_at(self.busy_until)

    def plan(self, pixels: int, channels: int, taps: int):
        """(cycles, DMA bytes read, DMA bytes written, tiles) of a job, or None if no tile fits.

        Tiles are rows x cols = output pixels x output channels, at most the array's size; rows
        shrink until a tile's input patches and weights (twice, when double-buffered) fit the
        buffer. Per tile: compute = 2 rows + cols + taps - 2 (an output-stationary array fills and
        drains, as SCALE-Sim counts it); DMA = latency + ceil(bytes / bandwidth) with bytes = rows x
        taps inputs + cols x (taps + 12) weights, bias and quantisation + rows x cols outputs; the
        tile takes max(compute, DMA) double-buffered, else their sum."""
        p = self.params
        if self._rows(channels, taps) < 1:
            return None
        cycles, dma_read, dma_write, tiles = p["setup_cycles"], 0, 0, 0
        for _, _, compute, read, written, dma in self._tiles(pixels, channels, taps):
            cycles += max(compute, dma) if p["double_buffer"] else compute + dma
            dma_read, dma_write, tiles = dma_read + read, dma_write + written, tiles + 1
        return cycles, dma_read, dma_write, tiles

    def _rows(self, channels: int, taps: int) -> int:
        """Output pixels per tile: the array's rows, fewer until the tile fits the buffer (0: none fits)."""
        p = self.params
        copies = 2 if p["double_buffer"] else 1
        rows, cols = p["pe_rows"], min(p["pe_cols"], channels)
        while rows >= 1 and copies * (rows * taps + cols * taps) > p["buffer_kib"] * 1024:
            rows -= 1
        return rows

    def _tiles(self, pixels: int, channels: int, taps: int):
        """(rows, cols, compute cycles, DMA bytes read, written, DMA cycles) of each tile, in order."""
        p = self.params
        rows, cols = self._rows(channels, taps), min(p["pe_cols"], channels)
        for r0 in range(0, pixels, rows):
            tr = min(rows, pixels - r0)
            for c0 in range(0, channels, cols):
                tc = min(cols, channels - c0)
                read, written = tr * taps + tc * (taps + 12), tr * tc
                yield (tr, tc, 2 * tr + tc + taps - 2, read, written,
                       p["dma_latency"] + -(-(read + written) // p["dma_bytes_per_cycle"]))

    # -- energy and area -------------------------------------------------------------------
    def job_energy(self, job: Invocation) -> dict[str, float]:
        """MACs; every byte DMA brings in is written to the buffer once and read into the array once
        (outputs leave the PEs' accumulators straight to DMA)."""
        p = self.params
        per_byte = sram_energy(p["buffer_kib"] * 1024, p["buffer_energy"])
        return dict(compute=job.macs * p["mac_energy"], buffer=2 * job.dma_read_bytes * per_byte,
                    dma=(job.dma_read_bytes + job.dma_write_bytes) * p["dma_energy"])

    def static_power(self) -> float:
        return self.params["buffer_kib"] * self.params["buffer_leakage"] / 1000

    def area(self) -> dict[str, float]:
        p = self.params
        return dict(pes=p["pe_rows"] * p["pe_cols"] * p["pe_area"], buffer=p["buffer_kib"] * p["buffer_area"])

    def validate(self) -> None:
        if self.params["pe_rows"] * self.params["pe_cols"] > 65536:
            raise ConfigError("accelerator conv: pe_rows x pe_cols above 65536 PEs")


def conv_int8(x, wts, bias, multiplier, shift, kernel, stride, pad, out_hw, depthwise, in_zp, out_zp,
              act_min, act_max, single_rounding=False) -> np.ndarray:
    """TFLite int8 CONV_2D / DEPTHWISE_CONV_2D on one HWC image; weights OHWI (depthwise: HWO).
    ``single_rounding`` requantises as TFLite's FULLY_CONNECTED (a 1x1 convolution) does."""
    (kh, kw), (sh, sw), (pt, pl), (oh, ow) = kernel, stride, pad, out_hw
    h, w, c = x.shape
    oc = bias.shape[0]
    xp = np.zeros((h + kh + sh * oh, w + kw + sw * ow, c), np.int64)  # padding = the zero point
    xp[pt:pt + h, pl:pl + w] = x.astype(np.int64) - in_zp
    rows = (np.arange(oh) * sh)[:, None] + np.arange(kh)[None, :]
    cols = (np.arange(ow) * sw)[:, None] + np.arange(kw)[None, :]
    patches = xp[rows[:, None, :, None], cols[None, :, None, :]]      # oh, ow, kh, kw, c
    if depthwise:
        f = wts.reshape(kh, kw, oc).astype(np.int64)
        src = patches[..., np.arange(oc) // (oc // c)]                   # oh, ow, kh, kw, oc
        acc = np.einsum("yxijo,ijo->yxo", src, f)
    else:
        f = wts.reshape(oc, kh, kw, c).astype(np.int64)
        acc = np.einsum("yxijc,oijc->yxo", patches, f)
    acc = acc + bias.astype(np.int64)
    requantize = multiply_by_quantized_multiplier if single_rounding else multiply_by_quantized_multiplier_gemmlowp
    out = requantize(acc, multiplier, shift) + out_zp
    return np.clip(out, act_min, act_max).astype(np.int8)
