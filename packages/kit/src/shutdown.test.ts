import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'sift-shutdown-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A process whose shutdown takes 400 ms and says when it finished.
const script = join(dir, 'service.ts');
writeFileSync(
  script,
  `import { createLogger } from ${JSON.stringify(new URL('./logger.ts', import.meta.url).pathname)};
import { onShutdownSignal } from ${JSON.stringify(new URL('./shutdown.ts', import.meta.url).pathname)};
onShutdownSignal(createLogger('test', 'error'), async () => {
  await new Promise((r) => setTimeout(r, 400));
  process.stdout.write('drained\\n');
});
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);
`,
);

async function stopWith(signals: NodeJS.Signals[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  let output = '';
  child.stdout.on('data', (b) => {
    output += String(b);
  });
  const exited = once(child, 'exit');
  while (!output.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  for (const s of signals) {
    child.kill(s);
    await new Promise((r) => setTimeout(r, 50));
  }
  const [code] = await exited;
  return { code: code as number | null, output };
}

describe('onShutdownSignal', () => {
  it("keeps draining when Ctrl-C's SIGINT is followed by a launcher's SIGTERM", async () => {
    expect(await stopWith(['SIGINT', 'SIGTERM'])).toEqual({ code: 0, output: 'ready\ndrained\n' });
  });

  it('exits at once on the same signal twice', async () => {
    expect(await stopWith(['SIGINT', 'SIGINT'])).toEqual({ code: 1, output: 'ready\n' });
  });
});
