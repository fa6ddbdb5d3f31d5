/**
 * Where one side's time goes during a measured run (`BENCH_PROFILE=1` on `bench:full-path`): the
 * CPU per message of this process, of PostgreSQL and of RabbitMQ (from /proc), this process's socket
 * write system calls per message (`perf stat` on the syscall tracepoints, when perf is installed),
 * and a CPU profile of this process (the inspector's sampling profiler) summed by package. The
 * profile is written to dist-bench/profiles/ for a closer look (Chrome DevTools, speedscope).
 *
 * Everything here is read through public interfaces (`node:inspector`, `process.cpuUsage`,
 * /proc/<pid>/stat, perf); nothing of it runs unless asked for. The profiler costs throughput of
 * its own, so a profiled run's rate is not a headline figure: the breakdown is what it is for.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/** Linux clock ticks per second of /proc/<pid>/stat's utime and stime. */
const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Pids of the processes whose command is `postgres` or `beam.smp`. */
function servicePids(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      const comm = readOr(`/proc/${pid}/comm`).trim();
      return comm === 'postgres' || comm === 'beam.smp';
    })
    .map(Number);
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // exited meanwhile
  }
}

/** CPU seconds (user + system) and command of one process, or undefined once it exited. */
function cpuOf(pid: number): { comm: string; seconds: number } | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { comm, seconds: (Number(fields[11]) + Number(fields[12])) / TICKS };
}

/**
 * Sums the CPU PostgreSQL and RabbitMQ used from now to `stop`, processes that exited included
 * (their last sample counts). Reads only the known pids 4 times a second and looks for new ones
 * every 2 s, so that the sampling itself stays out of the profile.
 */
class ServiceSampler {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, { comm: string; seconds: number }>();
  private ticks = 0;
  private readonly timer = setInterval(() => this.sample(++this.ticks % 8 === 0), 250);

  constructor() {
    for (const pid of servicePids()) {
      const v = cpuOf(pid);
      if (v) {
        this.first.set(pid, v.seconds);
        this.last.set(pid, v);
      }
    }
  }

  private sample(lookForNew: boolean): void {
    const pids = lookForNew ? new Set([...this.last.keys(), ...servicePids()]) : this.last.keys();
    for (const pid of pids) {
      const v = cpuOf(pid);
      if (v) this.last.set(pid, v);
    }
  }

  stop(): { postgres: number; rabbitmq: number } {
    clearInterval(this.timer);
    this.sample(true);
    const sum = { postgres: 0, rabbitmq: 0 };
    for (const [pid, v] of this.last) {
      const used = v.seconds - (this.first.get(pid) ?? 0);
      if (v.comm === 'postgres') sum.postgres += used;
      else sum.rabbitmq += used;
    }
    return sum;
  }
}

/** `perf stat` on this process's write syscalls, or undefined when perf is not there. */
function startSyscallCount(): ChildProcess | undefined {
  if (spawnSync('perf', ['--version']).status !== 0) return undefined;
  const events = ['write', 'writev', 'sendto', 'sendmsg'].map((s) => `syscalls:sys_enter_${s}`).join(',');
  return spawn('perf', ['stat', '-x', ',', '-e', events, '-p', String(process.pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

async function stopSyscallCount(perf: ChildProcess | undefined): Promise<number | undefined> {
  if (!perf?.stderr) return undefined;
  let text = '';
  perf.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<void>((resolve) => perf.once('exit', () => resolve()));
  perf.kill('SIGINT');
  await exited;
  const counts = text
    .split('\n')
    .map((line) => Number(line.split(',')[0]))
    .filter((n) => Number.isFinite(n) && n > 0);
  return counts.length ? counts.reduce((a, b) => a + b, 0) : undefined;
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))),
  );
}

/** Where a profile frame belongs: a package, this library (lib/), the bench, Node, or native. */
function place(url: string, fn: string): string {
  if (!url) {
    if (fn === '(idle)') return 'idle (waiting for I/O)';
    if (fn === 'writev' || fn === 'writeBuffer') return 'socket writes (native)';
    if (fn === '(garbage collector)') return 'garbage collector';
    return fn.startsWith('(') ? fn : `native: ${fn}`;
  }
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const lib = /dist-bench\/lib\/([^/]+)/.exec(url);
  if (lib) return `this library: lib/${lib[1]}`;
  if (url.includes('dist-bench/bench/')) return 'bench (load and measurement)';
  if (url.startsWith('node:')) return 'node: runtime';
  return url;
}

/** A profiled window: call `stop` with the messages the run handled. */
export interface ProfileWindow {
  stop(messages: number, seconds: number): Promise<void>;
}

/** Starts profiling this process and sampling the services' CPU; `label` names the printout and file. */
export async function startProfileWindow(label: string): Promise<ProfileWindow> {
  const session = new Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 500 });
  await post(session, 'Profiler.start');
  const cpu0 = process.cpuUsage();
  const services = new ServiceSampler();
  const perf = startSyscallCount();
  return {
    async stop(messages, seconds) {
      const cpu = process.cpuUsage(cpu0);
      const used = services.stop();
      const writes = await stopSyscallCount(perf);
      const { profile } = await post<{ profile: CpuProfile }>(session, 'Profiler.stop');
      session.disconnect();
      const dir = join(__dirname, '..', 'profiles');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${label.replace(/[^\w.-]+/g, '-')}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));

      const perMsg = (s: number) => ((s * 1000) / Math.max(1, messages)).toFixed(3);
      const node = (cpu.user + cpu.system) / 1e6;
      console.log(
        `profile ${label}: ${messages} msgs in ${seconds.toFixed(2)} s (under the profiler)\n` +
          `  CPU ms per message: this process ${perMsg(node)} (user ${perMsg(cpu.user / 1e6)}, system ` +
          `${perMsg(cpu.system / 1e6)}), PostgreSQL ${perMsg(used.postgres)}, RabbitMQ ${perMsg(used.rabbitmq)}, ` +
          `all three ${perMsg(node + used.postgres + used.rabbitmq)}; the three kept ` +
          `${((node + used.postgres + used.rabbitmq) / seconds).toFixed(2)} cores busy\n` +
          `  socket write syscalls per message (this process): ${
            writes === undefined ? 'not counted (perf not installed)' : (writes / Math.max(1, messages)).toFixed(2)
          }`,
      );
      // self time by place, from the sampling profile
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const ms = new Map<string, number>();
      let total = 0;
      profile.samples.forEach((id, i) => {
        const n = byId.get(id);
        const dt = (profile.timeDeltas[i] ?? 0) / 1000;
        if (!n) return;
        const key = place(n.callFrame.url, n.callFrame.functionName);
        ms.set(key, (ms.get(key) ?? 0) + dt);
        total += dt;
      });
      const rows = [...ms].sort((a, b) => b[1] - a[1]);
      const lib = rows.filter(([k]) => k.startsWith('this library')).reduce((a, [, v]) => a + v, 0);
      console.log(
        `  this process's wall time by place (self time, ms per message; ${(lib / Math.max(1, messages)).toFixed(3)} ` +
          `in this library's own code all told):`,
      );
      for (const [key, v] of rows.slice(0, 16))
        console.log(
          `    ${(v / Math.max(1, messages)).toFixed(3).padStart(6)}  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${key}`,
        );
      console.log(`  profile written to ${file}`);
    },
  };
}
