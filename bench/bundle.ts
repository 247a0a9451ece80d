/**
 * Bundles benchmarks and the services they start into plain `.mjs` files that run with `node` alone, for a
 * machine that has neither npm packages nor a registry (the lent many-core/GPU machine). Everything is
 * written under `.bundle/` (git-ignored), which then travels with the working tree:
 *
 *   npx tsx bench/bundle.ts [--pack]
 *   # there:  bash bench/many-cores.sh
 *
 * - each entry keeps its path (`.bundle/bench/embedding-throughput.mjs`,
 *   `.bundle/services/embedding/src/main.mjs`), so the launcher finds a deployable's bundle from its
 *   source path when `SIFT_BUNDLE_DIR=.bundle` (and `SIFT_REPO_ROOT` says where the models are);
 * - files the code opens next to its own module (`descriptor.binpb` for gRPC reflection, the ONNX Runtime
 *   worker script) are copied beside each bundle, and the .proto files that grpc-js, its reflection and health
 *   packages load from `${__dirname}/../../proto` into `grpc-protos/proto` there (`__dirname` of a bundle
 *   is set to `grpc-protos/lib/src`);
 * - `onnxruntime-node` stays a real package (a native addon): its JavaScript and the linux-x64 binaries are
 *   copied into `.bundle/node_modules`;
 * - `--pack` also writes `.bundle.tar.xz`: the folder plus this machine's node binary (stripped) as
 *   `.bundle/node`, about 31 MiB, small enough to travel where the folder itself (65 MiB) would not.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoRoot } from '@sift/launcher';
import { build } from 'esbuild';

const out = join(repoRoot, '.bundle');
const entries = ['bench/embedding-throughput.ts', 'bench/minhash.ts', 'services/embedding/src/main.ts'];
/** Files that modules read through `new URL('./name', import.meta.url)`; a bundle's URL is its own. */
const besideModule = [
  join(repoRoot, 'packages/contracts/src/descriptor.binpb'),
  join(repoRoot, 'packages/inference/src/ort-worker.mjs'),
];
/** Folders of .proto files that CommonJS dependencies read at `${__dirname}/../../proto`, merged. */
const grpcProtos = ['@grpc/grpc-js/proto', '@grpc/reflection/build/proto', 'grpc-health-check/proto'];
/** ES modules have neither `require` nor `__dirname`; the CommonJS dependencies use both. */
const banner = [
  "import { createRequire as __siftRequire } from 'node:module';",
  "import { fileURLToPath as __siftPath } from 'node:url';",
  'const require = __siftRequire(import.meta.url);',
  "const __dirname = __siftPath(new URL('./grpc-protos/lib/src/', import.meta.url));",
].join(' ');

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: entries.map((e) => join(repoRoot, e)),
  outbase: repoRoot,
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['onnxruntime-node'],
  banner: { js: banner },
  logLevel: 'warning',
});
for (const entry of entries) {
  for (const file of besideModule) {
    copyFileSync(file, join(out, dirname(entry), file.slice(file.lastIndexOf('/') + 1)));
  }
  for (const protos of grpcProtos) {
    cpSync(join(repoRoot, 'node_modules', protos), join(out, dirname(entry), 'grpc-protos/proto'), { recursive: true });
  }
}

const ort = join(repoRoot, 'node_modules/onnxruntime-node');
const ortOut = join(out, 'node_modules/onnxruntime-node');
for (const part of ['package.json', 'dist', 'bin/napi-v6/linux/x64']) {
  mkdirSync(dirname(join(ortOut, part)), { recursive: true });
  cpSync(join(ort, part), join(ortOut, part), { recursive: true });
}
cpSync(join(repoRoot, 'node_modules/onnxruntime-common'), join(out, 'node_modules/onnxruntime-common'), {
  recursive: true,
});
writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');

const mib = (path: string) =>
  `${(Number(execFileSync('du', ['-sb', path]).toString().split('\t')[0]) / 2 ** 20).toFixed(1)} MiB`;
process.stdout.write(`${relative(repoRoot, out)}/: ${mib(out)}\n`);
if (process.argv.includes('--pack')) {
  execFileSync('strip', ['-o', join(out, 'node'), process.execPath]);
  const packed = join(repoRoot, '.bundle.tar.xz');
  execFileSync('tar', ['-C', repoRoot, '-c', '-J', '-f', packed, '.bundle'], {
    env: { ...process.env, XZ_OPT: '-6 -T0' },
  });
  rmSync(join(out, 'node'));
  process.stdout.write(`${relative(repoRoot, packed)}: ${mib(packed)}\n`);
}
