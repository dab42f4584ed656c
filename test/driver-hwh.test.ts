import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHwh, readHwh, findEngine, findIp, vlnvText, ENGINE_VLNV_TEXT, traceIrq, psIrqGicId, hwhInt, DEFAULT_ENGINE_SELECTOR } from '../src/driver/hwh.js';
import { parseXml, XmlError } from '../src/driver/xml.js';
import { UserError } from '../src/errors.js';
import { sharedFixture } from './helpers/fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(here, '../../shared/fixtures/pynq-z1-base.hwh');

t.test('XML tokenizer', async (t) => {
  const x = parseXml('\ufeff<?xml version="1.0"?>\n<!-- c > -->\n<!DOCTYPE a>\n<A x="1" y=\'a&gt;b&amp;&#65;&#x42;\'><B/><![CDATA[<C>]]>text<D z = "q"></D></A>');
  t.equal(x.name, 'A');
  t.same(x.attrs, { x: '1', y: 'a>bAB'.replace('AB', '&AB') });
  t.same(x.children.map((c) => c.name), ['B', 'D']);
  t.equal(x.children[1]!.attrs.z, 'q');
  t.throws(() => parseXml('<A>\n<B></A>'), /closing tag <\/A> does not match <B> at line 2/);
  t.throws(() => parseXml('<A><B>'), /unclosed <B>/);
  t.throws(() => parseXml('<A x="1" x="2"/>'), /duplicate attribute x/);
  t.throws(() => parseXml('<A x=1/>'), /malformed attributes in <A>/);
  t.throws(() => parseXml('<A/><B/>'), { name: 'XmlError', message: /expected one root element, found 2/ });
  t.ok(new XmlError('x') instanceof Error);
  t.throws(() => parseXml('<!-- never closed'), /unterminated comment/);
});

t.test('small numbers', async (t) => {
  t.equal(hwhInt('0x10', 'x'), 16);
  t.equal(hwhInt('24', 'x'), 24);
  t.throws(() => hwhInt('abc', 'X'), UserError);
  t.throws(() => hwhInt(undefined, 'X'), /missing X/);
  t.equal(psIrqGicId('zynq', 'IRQ_F2P', 0), 61);
  t.equal(psIrqGicId('zynq', 'IRQ_F2P', 7), 68);
  t.equal(psIrqGicId('zynq', 'IRQ_F2P', 8), 84);
  t.equal(psIrqGicId('zynq', 'IRQ_F2P', 15), 91);
  t.equal(psIrqGicId('zynq', 'IRQ_F2P', 16), undefined);
  t.equal(psIrqGicId('zynqmp', 'pl_ps_irq0', 0), 121);
  t.equal(psIrqGicId('zynqmp', 'pl_ps_irq1', 7), 143);
  t.equal(psIrqGicId('zynqmp', 'IRQ_F2P', 0), undefined);
});

// A hand-written ZynqMP design: engine → xlconcat In1 (after a 2-bit In0) → pl_ps_irq0 bit 2 → GIC 123.
const ZU = `<?xml version="1.0"?>
<EDKSYSTEM><SYSTEMINFO ARCH="zynquplus" DEVICE="xczu3eg"/>
<MODULES>
 <MODULE INSTANCE="zynq_ultra_ps_e_0" MODTYPE="zynq_ultra_ps_e" VLNV="xilinx.com:ip:zynq_ultra_ps_e:3.3">
  <PARAMETERS>
   <PARAMETER NAME="PSU__FPGA_PL0_ENABLE" VALUE="1"/>
   <PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__DIVISOR0" VALUE="15"/>
   <PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__DIVISOR1" VALUE="1"/>
   <PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__SRCSEL" VALUE="IOPLL"/>
   <PARAMETER NAME="PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ" VALUE="99.999001"/>
   <PARAMETER NAME="PSU__FPGA_PL1_ENABLE" VALUE="0"/>
   <PARAMETER NAME="PSU__CRL_APB__PL1_REF_CTRL__DIVISOR0" VALUE="4"/>
   <PARAMETER NAME="PSU__CRL_APB__PL1_REF_CTRL__DIVISOR1" VALUE="1"/>
  </PARAMETERS>
  <PORTS><PORT DIR="I" LEFT="7" RIGHT="0" NAME="pl_ps_irq0" SIGIS="INTERRUPT"/></PORTS>
  <MEMORYMAP>
   <MEMRANGE INSTANCE="flowfpga_engine_0" BASEVALUE="0xA0000000" HIGHVALUE="0xA000FFFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_control" MASTERBUSINTERFACE="M_AXI_HPM0_FPD" ADDRESSBLOCK="Reg"/>
   <MEMRANGE INSTANCE="flowfpga_engine_0" BASEVALUE="0xA0000000" HIGHVALUE="0xA000FFFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_control" MASTERBUSINTERFACE="M_AXI_HPM1_FPD" ADDRESSBLOCK="Reg"/>
   <MEMRANGE INSTANCE="two_if" BASEVALUE="0xA0010000" HIGHVALUE="0xA0010FFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_a"/>
   <MEMRANGE INSTANCE="two_if" BASEVALUE="0xA0020000" HIGHVALUE="0xA0020FFF" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_b"/>
  </MEMORYMAP>
 </MODULE>
 <MODULE INSTANCE="flowfpga_engine_0" MODTYPE="flowfpga_engine" VLNV="flowfpga.org:hls:flowfpga_engine:1.0">
  <PARAMETERS><PARAMETER NAME="C_S_AXI_CONTROL_ADDR_WIDTH" VALUE="7"/></PARAMETERS>
  <ADDRESSBLOCKS><ADDRESSBLOCK NAME="Reg"><REGISTERS>
   <REGISTER NAME="CTRL"><PROPERTY NAME="ADDRESS_OFFSET" VALUE="0x0"/><PROPERTY NAME="SIZE" VALUE="32"/><PROPERTY NAME="ACCESS" VALUE="read-write"/>
    <FIELDS><FIELD NAME="AP_START"><PROPERTY NAME="BIT_OFFSET" VALUE="0"/><PROPERTY NAME="BIT_WIDTH" VALUE="1"/><PROPERTY NAME="ACCESS" VALUE="read-write"/></FIELD></FIELDS>
   </REGISTER>
  </REGISTERS></ADDRESSBLOCK></ADDRESSBLOCKS>
  <PORTS>
   <PORT DIR="O" NAME="interrupt" SIGIS="INTERRUPT"><CONNECTIONS><CONNECTION INSTANCE="ila_0" PORT="probe0"/><CONNECTION INSTANCE="xlconcat_0" PORT="In1"/></CONNECTIONS></PORT>
  </PORTS>
 </MODULE>
 <MODULE INSTANCE="ila_0" MODTYPE="ila" VLNV="xilinx.com:ip:ila:6.2"/>
 <MODULE INSTANCE="two_if" MODTYPE="two_if" VLNV="acme:hls:two_if:1.0"/>
 <MODULE INSTANCE="xlconcat_0" MODTYPE="xlconcat" VLNV="xilinx.com:ip:xlconcat:2.1">
  <PARAMETERS><PARAMETER NAME="IN0_WIDTH" VALUE="2"/><PARAMETER NAME="IN1_WIDTH" VALUE="1"/></PARAMETERS>
  <PORTS><PORT DIR="O" NAME="dout" LEFT="2" RIGHT="0"><CONNECTIONS><CONNECTION INSTANCE="zynq_ultra_ps_e_0" PORT="pl_ps_irq0"/></CONNECTIONS></PORT></PORTS>
 </MODULE>
</MODULES></EDKSYSTEM>`;

t.test('synthetic ZynqMP design: default selector, concat offset, clocks', async (t) => {
  const d = parseHwh(ZU, 'zu.hwh');
  t.equal(d.family, 'zynqmp');
  const e = findEngine(d);
  t.equal(e.instance, 'flowfpga_engine_0');
  t.equal(e.base, 0xa0000000n);
  t.equal(e.range, 0x10000n);
  t.same(e.irq, { kind: 'gic', gicId: 123, spi: 91 });
  t.equal(e.gicId, 123);
  t.equal(e.params.get('C_S_AXI_CONTROL_ADDR_WIDTH'), '7');
  t.equal(e.registers[0]!.name, 'CTRL');
  t.equal(e.registers[0]!.offset, 0);
  t.same(e.registers[0]!.fields[0], { name: 'AP_START', bitOffset: 0, bitWidth: 1, access: 'read-write' });
  t.same(d.clocks, [
    { index: 0, enabled: true, div0: 15, div1: 1, source: 'IOPLL', freqMHz: 99.999001 },
    { index: 1, enabled: false, div0: 4, div1: 1, source: '', freqMHz: NaN },
  ]);
  t.throws(() => findIp(d, { instance: 'two_if' }), /two_if has 2 address ranges \(s_axi_a, s_axi_b\)/);
  t.equal(findIp(d, { instance: 'two_if', slaveInterface: 's_axi_b' }).base, 0xa0020000n);
  t.equal(findIp(d, { instance: 'two_if', slaveInterface: 's_axi_b' }).irq, undefined);
  t.throws(() => findIp(d, { vlnv: /:hls:/ }), /2 IPs match/);
  t.throws(() => findIp(d, { instance: 'xlconcat_0' }), /not in the processing system's address map/);
  const err = t.throws(() => findIp(d, { instance: 'nope' }, 'zu.hwh')) as UserError;
  t.match(err.message, /^zu\.hwh: no IP with instance "nope" in the design$/);
  t.match(err.hint, /HLS IPs present: flowfpga_engine_0, two_if/);
  // findEngine: a named instance must carry the engine's VLNV.
  t.equal(findEngine(d, { instance: 'flowfpga_engine_0' }).base, 0xa0000000n);
  const foreign = t.throws(() => findEngine(d, { instance: 'two_if' }, 'zu.hwh')) as UserError;
  t.match(foreign.message, /^zu\.hwh: instance "two_if" is \S+, not a flowfpga engine \(VLNV \*:hls:flowfpga_engine:\*\)$/);
  t.match(foreign.hint, /flowfpga engines in the design: flowfpga_engine_0/);
  t.throws(() => findEngine(d, { instance: 'nope' }, 'zu.hwh'), /no IP named "nope"/);
  t.equal(ENGINE_VLNV_TEXT, '*:hls:flowfpga_engine:*');
  t.equal(vlnvText('xilinx.com:hls:'), 'xilinx.com:hls:*');
});

t.test('malformed .hwh inputs are one-line UserErrors', async (t) => {
  t.throws(() => parseHwh('<EDKSYSTEM><MODULES>', 'x.hwh'), { name: 'UserError', message: /x\.hwh: not well-formed XML: unclosed <MODULES>/ });
  t.throws(() => parseHwh('<design/>', 'x.hwh'), /root element is <design>/);
  t.throws(() => parseHwh('<EDKSYSTEM><MODULES/></EDKSYSTEM>', 'x.hwh'), /no Zynq processing system/);
  t.throws(() => readHwh('/nonexistent/file.hwh'), /cannot read \/nonexistent\/file\.hwh: ENOENT/);
  const bad = ZU.replace('0xA0010FFF', 'zzz');
  t.throws(() => parseHwh(bad), /HIGHVALUE of two_if is not an address/);
  t.match(String(DEFAULT_ENGINE_SELECTOR.vlnv), /flowfpga_engine/);
});

t.test('character references naming no XML character are one clear error, not a RangeError', async (t) => {
  for (const ref of ['&#x110000;', '&#1114112;', '&#0;', '&#x1;', '&#xD800;', '&#xFFFE;', `&#${'9'.repeat(400)};`, `&#x${'F'.repeat(40)};`]) {
    const text = `<EDKSYSTEM>\n<MODULES>\n<MODULE INSTANCE="a${ref}b"/></MODULES></EDKSYSTEM>`;
    t.throws(() => parseXml(text), { name: 'XmlError', message: /^character reference &#.* is not an XML character in attribute INSTANCE at line 3$/ }, ref.slice(0, 12));
    const e = (() => { try { parseHwh(text, 'bad.hwh'); } catch (x) { return x as UserError; } })();
    t.ok(e instanceof UserError, 'UserError');
    t.match(e?.message, /^bad\.hwh: not well-formed XML: character reference/);
    t.ok((e?.message.length ?? 999) < 160, 'bounded length (huge references are shortened)');
  }
  t.equal(parseXml('<A v="&#x10FFFF;&#9;&#0065;&#x000041;"/>').attrs.v, '\u{10FFFF}\tAA', 'valid references still decode');
});

t.test('shared fixtures: absent → skip; absent with CI set → fail', async (t) => {
  const gone = path.join(here, 'no-such-fixture.hwh');
  t.same(sharedFixture(gone, {}), { skip: `fixture ${gone} absent (shared/fixtures is not part of the repo)` });
  const ci = sharedFixture(gone, { CI: 'true' });
  t.ok(ci.skip, 'the real test does not run');
  t.match(ci.fail, /is missing and CI is set/);
  t.same(sharedFixture(fileURLToPath(import.meta.url), { CI: '1' }), { skip: false }, 'a file that exists (this test, .ts or compiled)');
});

const fixture = sharedFixture(FIXTURE);
if (fixture.fail) t.fail(fixture.fail);
t.test('real PYNQ-Z1 base overlay .hwh (Vivado 2018.3)', { skip: fixture.skip }, async (t) => {
  const d = readHwh(FIXTURE);
  t.equal(d.family, 'zynq');
  t.equal(d.device, '7z020');
  t.equal(d.ps.instance, 'ps7_0');
  t.equal(d.modules.size, 137);

  // Known addresses of the base overlay (PS7 address map).
  const at = (inst: string) => findIp(d, { instance: inst });
  t.equal(at('btns_gpio').base, 0x41210000n);
  t.equal(at('btns_gpio').range, 0x10000n);
  t.equal(at('system_interrupts').base, 0x41800000n);
  t.equal(at('video_axi_vdma').base, 0x43000000n);
  t.equal(at('trace_analyzer_pmoda_axi_dma_0').base, 0x80400000n, 'GP1 window above 2 GiB');
  t.equal(at('trace_analyzer_pmoda_axi_dma_0').params.get('c_include_sg'), '0');

  // IRQs: gpio/dma → concat_interrupts → system_interrupts (axi_intc) → xlconcat_0 In0 → IRQ_F2P[0] → GIC 61.
  const btns = at('btns_gpio');
  t.same(btns.irq, { kind: 'intc', controller: 'system_interrupts', index: 11, parent: { kind: 'gic', gicId: 61, spi: 29 } });
  t.equal(btns.gicId, 61);
  t.match(traceIrq(d, 'switches_gpio', 'ip2intc_irpt'), { kind: 'intc', index: 12 });
  t.match(traceIrq(d, 'trace_analyzer_pmoda_axi_dma_0', 's2mm_introut'), { kind: 'intc', index: 6 });
  t.match(traceIrq(d, 'trace_analyzer_arduino_axi_dma_0', 's2mm_introut'), { kind: 'intc', index: 7 });
  t.same(traceIrq(d, 'system_interrupts', 'irq'), { kind: 'gic', gicId: 61, spi: 29 });
  t.equal(traceIrq(d, 'btns_gpio', 'no_such_port'), undefined);

  // An HLS IP with its register map.
  const cc = findIp(d, { vlnv: 'xilinx.com:hls:color_convert', instance: 'video_hdmi_in_color_convert' });
  t.equal(cc.base, 0x43c50000n);
  t.equal(cc.vlnv, 'xilinx.com:hls:color_convert:1.0');
  const c1 = cc.registers.find((r) => r.name === 'c1_c1_V');
  t.match(c1, { offset: 16, size: 32, access: 'write-only' });
  t.same(c1!.fields[0], { name: 'c1_c1_V', bitOffset: 0, bitWidth: 10, access: 'write-only' });
  t.throws(() => findIp(d, { vlnv: 'xilinx.com:hls:color_convert' }), /2 IPs match/);
  t.throws(() => findEngine(d), /no IP with VLNV .*flowfpga_engine/);

  // PL clocks: IO PLL 1000 MHz / (div0·div1).
  t.same(
    d.clocks.map((c) => [c.index, c.enabled, c.div0, c.div1, c.source]),
    [
      [0, true, 5, 2, 'IO PLL'],
      [1, true, 7, 1, 'IO PLL'],
      [2, true, 5, 1, 'IO PLL'],
      [3, true, 5, 2, 'IO PLL'],
    ],
  );
  t.equal(d.clocks[1]!.freqMHz, 142.857132);
  t.equal(d.ps.params.get('PCW_IOPLL_CTRL_FBDIV'), '20');
});
