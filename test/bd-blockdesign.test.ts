// Runs the Vivado block-design scripts (hw/bd) against the recording stand-in hw/bd/test/vivado_stub.tcl under
// tclsh and checks the recorded design against src/driver/boards.ts. CI: apt-get install -y tcl.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOARDS, HARDWARE_BOARDS, hlsDefines, type BoardSpec } from '../src/driver/boards.js';

const TCLSH = process.env.TCLSH ?? 'tclsh';
const BD = join(process.cwd(), 'hw', 'bd');
const STUB = join(BD, 'test', 'vivado_stub.tcl');

interface State {
  error: string | null;
  project: { name: string; dir: string; part: string } | null;
  projectProps: Record<string, string>;
  bd: string;
  cells: Record<string, { vlnv: string; ip: string; props: Record<string, string>; automation: Record<string, string>; pins: string[] }>;
  nets: string[][];
  intfNets: string[][];
  addresses: Array<{ space: string; seg: string; offset: number; range: number }>;
  autoAddress: boolean;
  validated: boolean;
  runs: Record<string, string>;
  calls: string[][];
}

/** m_axi bundles of the HLS top function, so the stand-in's engine IP has the ports the real export will have. */
function engineMasters(): string[] {
  const src = join(process.cwd(), 'hw', 'hls', 'flowfpga_engine.cpp');
  if (!existsSync(src)) return ['gmem'];
  const bundles = new Set<string>();
  for (const m of readFileSync(src, 'utf8').matchAll(/#pragma\s+HLS\s+INTERFACE\s+m_axi\b[^\n]*?\bbundle\s*=\s*(\w+)/g)) bundles.add(m[1]);
  return bundles.size ? [...bundles] : ['gmem'];
}

function runStub(script: string, args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bd-'));
  const state = join(dir, 'state.json');
  const r = spawnSync(TCLSH, [STUB, state, script, ...args], {
    encoding: 'utf8', timeout: 30_000, env: { ...process.env, FF_STUB_ENGINE_MASTERS: engineMasters().join(','), ...env },
  });
  if (r.error) throw new Error(`cannot run ${TCLSH}: ${r.error.message} (install it: apt-get install -y tcl)`);
  const s = existsSync(state) ? (JSON.parse(readFileSync(state, 'utf8')) as State) : null;
  return { status: r.status, stderr: r.stderr, stdout: r.stdout, state: s, dir };
}

function buildBoard(name: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bd-ip-'));
  mkdirSync(join(dir, 'ip'));
  writeFileSync(join(dir, 'ip', 'component.xml'), '<component/>');
  const r = runStub(join(BD, 'build.tcl'), [name, join(dir, 'ip'), join(dir, 'out'), '1'], env);
  return { ...r, out: join(dir, 'out'), root: dir };
}

function tclDict(file: string, key: string): string {
  const r = spawnSync(TCLSH, [], { input: `source {${file}}\nputs [dict get $ff_board ${key}]\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

const psCell = (b: BoardSpec) => (b.ps === 'ps7' ? 'ps7' : 'zynq_ultra_ps_e_0');
const irqPin = (b: BoardSpec) => b.irq.psPin.replace(/\[\d+\]$/, '');

for (const name of HARDWARE_BOARDS) {
  const b = BOARDS[name];
  t.test(`${name}: block design matches boards.ts`, async (t) => {
    const r = buildBoard(name);
    t.teardown(() => rmSync(r.root, { recursive: true, force: true }));
    t.equal(r.status, 0, r.stderr);
    const s = r.state!;
    t.equal(s.error, null);
    t.equal(s.project?.part, b.part, 'part');
    t.match(s.projectProps.board_part, new RegExp(`:${name}:`), 'board preset');
    t.ok(s.validated, 'validate_bd_design passed');

    const ps = psCell(b);
    const cells = s.cells;
    t.equal(cells[ps]?.ip, b.ps === 'ps7' ? 'processing_system7' : 'zynq_ultra_ps_e', 'PS cell');
    t.equal(cells[ps].automation.apply_board_preset, '1');
    t.equal(cells.flowfpga_engine_0?.ip, 'flowfpga_engine', 'engine cell');
    t.equal(cells.flowfpga_engine_0.vlnv.split(':')[1], 'hls');
    t.same(Object.values(cells).filter((c) => c.ip === 'smartconnect').length, 2, 'two smartconnects');
    t.ok(Object.values(cells).some((c) => c.ip === 'proc_sys_reset'), 'reset');

    // PS port configuration: clock, HP width.
    const p = cells[ps].props;
    if (b.ps === 'ps7') {
      t.equal(Number(p['CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ']), b.plClockMHz);
      t.equal(Number(p['CONFIG.PCW_S_AXI_HP0_DATA_WIDTH']), b.hpDataBits);
    } else {
      t.equal(Number(p['CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ']), b.plClockMHz);
      t.equal(Number(p['CONFIG.PSU__SAXIGP2__DATA_WIDTH']), b.hpDataBits);
    }

    // AXI paths: PS master -> smartconnect -> s_axi_control; each engine master -> smartconnect -> HP slave.
    const next = (from: string) => s.intfNets.find((n) => n[0] === from)?.[1];
    const via = (from: string) => {
      const sc = next(from);
      t.ok(sc, `${from} is connected`);
      const cell = sc!.split('/')[1];
      t.equal(cells[cell].ip, 'smartconnect', `${from} goes through a smartconnect`);
      return next(`/${cell}/M00_AXI`);
    };
    t.equal(via(`/${ps}/${b.psMaster}`), '/flowfpga_engine_0/s_axi_control', 'control path');
    const masters = cells.flowfpga_engine_0.pins.filter((x) => x.startsWith('m_axi_'));
    t.same(masters.map((m) => m.slice(6)).sort(), engineMasters().sort(), 'engine masters from the HLS pragmas');
    for (const m of masters) t.equal(via(`/flowfpga_engine_0/${m}`), `/${ps}/${b.psSlave}`, `${m} to DDR`);

    // Nets.
    const netWith = (pin: string) => s.nets.find((n) => n.includes(pin)) ?? [];
    t.same(netWith('/flowfpga_engine_0/interrupt').sort(), [`/${ps}/${irqPin(b)}`, '/flowfpga_engine_0/interrupt'].sort(), 'interrupt');
    const clk = netWith('/flowfpga_engine_0/ap_clk');
    t.ok(clk.includes(`/${ps}/${b.ps === 'ps7' ? 'FCLK_CLK0' : 'pl_clk0'}`), 'engine clocked by the PL clock');
    for (const pin of ['/ctrl_ic/aclk', '/mem_ic/aclk', '/rst_pl/slowest_sync_clk']) t.ok(clk.includes(pin), pin);
    t.ok(netWith('/flowfpga_engine_0/ap_rst_n').includes('/rst_pl/peripheral_aresetn'), 'engine reset');
    t.ok(netWith('/rst_pl/ext_reset_in').includes(`/${ps}/${b.ps === 'ps7' ? 'FCLK_RESET0_N' : 'pl_resetn0'}`), 'PS reset');

    // Address map.
    t.same(s.addresses, [{ space: `/${ps}/Data`, seg: '/flowfpga_engine_0/s_axi_control/Reg', offset: b.engine.baseAddress, range: b.engine.range }]);
    t.ok(s.autoAddress, 'engine masters mapped onto DDR');

    // Build and outputs.
    t.same(s.runs, { synth_1: '100%', impl_1: '100%' });
    const order = s.calls.map((c) => c[0]);
    t.ok(order.indexOf('validate_bd_design') < order.indexOf('generate_target'), 'validated before generating');
    for (const f of ['flowfpga.bit', 'flowfpga.hwh', 'flowfpga.json']) t.ok(existsSync(join(r.out, f)), f);
    const manifest = JSON.parse(readFileSync(join(r.out, 'flowfpga.json'), 'utf8'));
    t.equal(manifest.irqGic, b.irq.gic);
    t.equal(Number(manifest.engineBase), b.engine.baseAddress);
  });

  t.test(`${name}: board data file equals boards.ts`, async (t) => {
    const f = join(BD, 'boards', `${name}.tcl`);
    t.equal(tclDict(f, 'part'), b.part);
    t.equal(tclDict(f, 'ps'), b.ps);
    t.equal(tclDict(f, 'ps_master'), b.psMaster);
    t.equal(tclDict(f, 'ps_slave'), b.psSlave);
    t.equal(Number(tclDict(f, 'pl_clk_mhz')), b.plClockMHz);
    t.equal(Number(tclDict(f, 'hp_data_width')), b.hpDataBits);
    t.equal(Number(tclDict(f, 'engine_base')), b.engine.baseAddress);
    t.equal(Number(tclDict(f, 'engine_range')), b.engine.range);
    t.equal(`${tclDict(f, 'irq_pin')}[${tclDict(f, 'irq_index')}]`, b.irq.psPin);
    t.equal(Number(tclDict(f, 'irq_gic')), b.irq.gic);
    const defs = tclDict(f, 'hls_defines').split(/\s+/);
    const got: Record<string, number> = {};
    for (let i = 0; i < defs.length; i += 2) got[defs[i]] = Number(defs[i + 1]);
    t.same(got, hlsDefines(b), 'HLS macros');
  });
}

// hw/hls/run_hls.tcl takes its macros and clock from the same board data files: run it with the Vitis HLS commands
// stubbed out and compare what it would pass to add_files / create_clock.
for (const name of HARDWARE_BOARDS) {
  const b = BOARDS[name];
  t.test(`${name}: run_hls.tcl builds the engine with the board's macros and clock`, async (t) => {
    const stub = [
      'rename exit real_exit',
      'proc exit args {}',
      'foreach c {open_project set_top open_solution set_part config_interface config_export csim_design csynth_design cosim_design export_design} { proc $c args {} }',
      'proc add_files args { if {[lindex $args 0] ne "-tb"} { puts "CFLAGS [lindex $args end]" } }',
      'proc create_clock args { puts "PERIOD [lindex $args 1]" }',
      `set argv [list ${b.part} /golden csynth]`,
      'cd [lindex $::ff_args 0]',
      'source run_hls.tcl',
    ].join('\n');
    const dir = mkdtempSync(join(tmpdir(), 'ff-hls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const f = join(dir, 'hls.tcl');
    writeFileSync(f, `set ::ff_args [list ${join(process.cwd(), 'hw', 'hls')}]\n${stub}\n`);
    const r = spawnSync(TCLSH, [f], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    const cflags = /^CFLAGS (.*)$/m.exec(r.stdout)?.[1] ?? '';
    const got: Record<string, number> = {};
    for (const m of cflags.matchAll(/-D(\w+)=(\d+)/g)) got[m[1]] = Number(m[2]);
    t.same(got, hlsDefines(b), 'HLS macros');
    t.equal(Number(/^PERIOD (.*)$/m.exec(r.stdout)?.[1]), Number((1000 / b.plClockMHz).toFixed(3)), 'clock period');
  });
}

t.test('the stand-in is strict', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bd-neg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = (body: string) => {
    const f = join(dir, `s${Math.random().toString(36).slice(2)}.tcl`);
    writeFileSync(f, body);
    return f;
  };
  const head = 'create_project -force p /tmp/p -part xc7z020clg400-1\ncreate_bd_design d\n' +
    'create_bd_cell -type ip -vlnv xilinx.com:ip:processing_system7:5.5 ps7\n';

  let r = runStub(script(head + 'open_hw_manager\n'), []);
  t.equal(r.status, 1);
  t.match(r.state!.error, /unknown command 'open_hw_manager'/);

  r = runStub(script(head + 'connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins nosuch/ap_clk]\n'), []);
  t.equal(r.status, 1);
  t.match(r.state!.error, /no cell 'nosuch'/);

  r = runStub(script(head + 'get_bd_intf_pins ps7/S_AXI_HP0\n'), []);
  t.match(r.state!.error, /has no pin 'S_AXI_HP0'/, 'HP0 exists only once enabled');

  r = runStub(script(head + 'create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset:5.0 r\n' +
    'connect_bd_net [get_bd_pins ps7/FCLK_CLK0] [get_bd_pins r/ext_reset_in]\n'), []);
  t.match(r.state!.error, /clk pin|rst pin/, 'clock wired to a reset input');

  r = runStub(script(head + 'create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 sc\nvalidate_bd_design\n'), []);
  t.match(r.state!.error, /validate_bd_design: .*not connected/);

  r = runStub(script(head + 'create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect:1.0 sc -bogus\n'), []);
  t.match(r.state!.error, /unknown option -bogus/);
});

t.test('a broken flow fails: HP0 left disabled', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bd-mut-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'lib'));
  mkdirSync(join(dir, 'boards'));
  mkdirSync(join(dir, 'ip'));
  writeFileSync(join(dir, 'ip', 'component.xml'), '<component/>');
  const lib = readFileSync(join(BD, 'lib', 'flowfpga_bd.tcl'), 'utf8');
  const mutated = lib.replace('CONFIG.PCW_USE_S_AXI_HP0 {1}', 'CONFIG.PCW_USE_S_AXI_HP0 {0}');
  t.not(mutated, lib);
  writeFileSync(join(dir, 'lib', 'flowfpga_bd.tcl'), mutated);
  writeFileSync(join(dir, 'boards', 'pynq-z2.tcl'), readFileSync(join(BD, 'boards', 'pynq-z2.tcl')));
  writeFileSync(join(dir, 'build.tcl'), readFileSync(join(BD, 'build.tcl')));
  const r = runStub(join(dir, 'build.tcl'), ['pynq-z2', join(dir, 'ip'), join(dir, 'out'), '1']);
  t.equal(r.status, 1);
  t.match(r.state!.error, /has no pin 'S_AXI_HP0'/);
});

t.test('missing engine IP and unknown boards are one-line errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ff-bd-err-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let r = runStub(join(BD, 'build.tcl'), ['zcu104', join(dir, 'none'), join(dir, 'out'), '1']);
  t.equal(r.status, 1);
  t.match(r.state!.error, /^flowfpga: engine IP repository .* does not exist \(hint: /);
  r = runStub(join(BD, 'build.tcl'), ['kv260', join(dir, 'none'), join(dir, 'out'), '1']);
  t.match(r.state!.error, /no block design for board 'kv260' \(hint: one of pynq-z2, ultra96v2, zcu104\)/);
});

t.test('make says Vivado is needed when it is absent', async (t) => {
  const r = spawnSync('make', ['-s', '-C', BD, 'BOARD=pynq-z2', 'VIVADO=ff-no-such-vivado'], { encoding: 'utf8' });
  t.not(r.status, 0);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('make'));
  t.equal(lines.length, 1, r.stderr);
  t.match(lines[0], /Vivado is needed .* \(hint: source .*settings64\.sh/);
  const u = spawnSync('make', ['-s', '-C', BD, 'BOARD=nosuch'], { encoding: 'utf8' });
  t.not(u.status, 0);
  t.match(u.stderr, /unknown BOARD 'nosuch' \(hint: one of pynq-z2 ultra96v2 zcu104\)/);
});
