import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * Repository root (this file is packages/launcher/src/processes.ts). `SIFT_REPO_ROOT` overrides it for code
 * bundled into one file (`bench/bundle.ts`), whose own location says nothing about the repository's.
 */
export const repoRoot = process.env.SIFT_REPO_ROOT
  ? resolve(process.env.SIFT_REPO_ROOT)
  : resolve(fileURLToPath(new URL('../../../', import.meta.url)));

/**
 * How a deployable's entry file is run: with tsx from the sources, or, when `SIFT_BUNDLE_DIR` names a
 * folder made by `bench/bundle.ts` (for a machine without npm packages), its bundled `.mjs` with plain node.
 */
function deployableCommand(entry: string): string[] {
  const bundles = process.env.SIFT_BUNDLE_DIR;
  if (bundles) return [process.execPath, join(resolve(bundles), entry.replace(/\.ts$/, '.mjs'))];
  return [process.execPath, '--import', 'tsx', join(repoRoot, entry)];
}

/** A child process of the local platform. */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** The last lines it wrote to stderr (logs), kept for failure reports. */
  readonly logs: string[];
  /** Sends SIGTERM and waits for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
}

/** Lines of a child's stderr kept in memory: enough for a failure report, bounded for a long-running platform. */
const keptLogLines = 500;

/**
 * Children run in process groups of their own (`detached`), so Ctrl-C reaches only the launcher, which stops
 * them in order: services drain first, the metrics consumer flushes, NATS goes last. (In the terminal's
 * group, NATS took the SIGINT too and quit at once, and the services' last metric events were lost.)
 * Whatever is still running when the launcher exits is killed with it.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

/** Follows a child's stderr: the last lines in memory, and every line appended to `logFile` when given. */
function track(name: string, proc: ChildProcess, logFile?: string): Child {
  running.add(proc);
  let stopping = false;
  proc.once('exit', (code, signal) => {
    running.delete(proc);
    // A child that dies on its own leaves the platform degraded: say so where the launcher's user looks.
    if (!stopping) process.stderr.write(`[launcher] ${name} exited unexpectedly (code ${code}, signal ${signal})\n`);
  });
  const logs: string[] = [];
  let file: ReturnType<typeof createWriteStream> | undefined;
  if (logFile) {
    mkdirSync(dirname(logFile), { recursive: true });
    file = createWriteStream(logFile, { flags: 'a' });
    proc.once('close', () => file?.end()); // after its last stderr line
  }
  if (proc.stderr) {
    createInterface({ input: proc.stderr }).on('line', (l) => {
      logs.push(l);
      if (logs.length > keptLogLines) logs.splice(0, logs.length - keptLogLines);
      file?.write(`${l}\n`);
    });
  }
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    name,
    process: proc,
    logs,
    async stop(graceMs = 15_000) {
      stopping = true;
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Waits for a line matching `pattern` on a stream; rejects with the process logs if it exits first. */
function waitForLine(
  child: Child,
  stream: 'stdout' | 'stderr',
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpMatchArray> {
  const input = child.process[stream];
  if (!input) return Promise.reject(new Error(`${child.name}: no ${stream}`));
  return new Promise((resolvePromise, reject) => {
    const rl = createInterface({ input });
    const timer = setTimeout(() => fail(`did not become ready in ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      rl.close();
      reject(new Error(`${child.name} ${why}\n${child.logs.slice(-30).join('\n')}`));
    };
    rl.on('line', (line) => {
      const m = line.match(pattern);
      if (m) {
        clearTimeout(timer);
        rl.removeAllListeners('line');
        input.resume();
        resolvePromise(m);
      }
    });
    child.process.once('exit', (code) => fail(`exited with code ${code}`));
  });
}

/**
 * A NATS server with JetStream on a loopback port (`port`, or a random one). Its JetStream data lives in
 * `storeDir` and outlasts the server there (queued and running jobs survive a restart), or in a fresh
 * temporary folder removed when the server exits.
 */
export async function startNats(opts: { port?: number; storeDir?: string } = {}): Promise<Child & { url: string }> {
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'sift-nats-'));
  const port = String(opts.port ?? -1);
  const proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', port, '-js', '-sd', storeDir, '-m', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // see `track`
  });
  const child = track('nats-server', proc);
  if (!opts.storeDir) proc.once('exit', () => rmSync(storeDir, { recursive: true, force: true }));
  proc.once('error', (err) =>
    child.logs.push(`cannot start nats-server: ${err.message} (install it: apt-get install nats-server)`),
  );
  const m = await waitForLine(child, 'stderr', /Listening for client connections on ([\d.]+:\d+)/, 20_000);
  return Object.assign(child, { url: `nats://${m[1]}` });
}

/**
 * Starts a deployable (`services/<name>/src/main.ts` or `gateway/src/main.ts`; see `deployableCommand`) and waits for the
 * `{"ready": ..., "port": N}` line it prints on stdout once serving.
 */
export async function startDeployable(
  name: string,
  entry: string,
  env: Record<string, string>,
  opts: {
    waitForPort?: boolean;
    timeoutMs?: number;
    /** CPUs the process may run on, as `taskset -c` takes them (`0,1`, `2-5`); Linux only. */
    cpus?: string;
    /** A file every line of its stderr (its JSON logs) is appended to. */
    logFile?: string;
  } = {},
): Promise<Child & { port: number }> {
  const command = [...(opts.cpus ? ['taskset', '-c', opts.cpus] : []), ...deployableCommand(entry)];
  const proc = spawn(command[0] as string, command.slice(1), {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // see `track`
  });
  const child = track(name, proc, opts.logFile);
  if (opts.waitForPort === false) {
    return Object.assign(child, { port: 0 });
  }
  const m = await waitForLine(child, 'stdout', /"port":(\d+)/, opts.timeoutMs ?? 60_000);
  return Object.assign(child, { port: Number(m[1]) });
}

/** Waits until `check` resolves true, polling every `everyMs`; throws after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
