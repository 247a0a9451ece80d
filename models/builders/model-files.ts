/**
 * Writing and checking a model folder of the store (models/README.md): the files, `model.json` with the
 * sha256 of each, and `reference.json`. Also the recipe digest that tells a stale build from a current one.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is models/builders/model-files.ts). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Digest of the sources a recipe's output depends on (the recipe files and the featurizer it trains
 * with), stored in the manifest so that a build after a recipe change is not mistaken for a current one.
 */
export function recipeDigest(repoRelativePaths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const path of [...repoRelativePaths].sort()) {
    hash.update(`${path}\n`);
    hash.update(readFileSync(join(repoRoot, path)));
  }
  return hash.digest('hex');
}

/** Why a model folder cannot be reused as it is, or null when every file matches its manifest. */
export function staleReason(modelDir: string, expectedDigest: string, requiredFiles: readonly string[]): string | null {
  const manifestPath = join(modelDir, 'model.json');
  if (!existsSync(manifestPath)) return 'no model.json';
  let manifest: { sha256?: Record<string, string>; provenance?: { recipeDigest?: string } };
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (err) {
    return `model.json does not parse (${(err as Error).message})`;
  }
  if (manifest.provenance?.recipeDigest !== expectedDigest) return 'recipe changed since the last build';
  const sums = manifest.sha256 ?? {};
  for (const file of requiredFiles) if (!(file in sums)) return `model.json lists no sha256 for ${file}`;
  for (const [file, sum] of Object.entries(sums)) {
    const path = join(modelDir, file);
    if (!existsSync(path)) return `${file} is missing`;
    if (sha256Hex(readFileSync(path)) !== sum) return `${file} does not match its sha256`;
  }
  return null;
}

/**
 * Writes the files, then `model.json` with their sha256 added (last, so a folder with a manifest is a
 * complete one). Returns the size in bytes of each file written.
 */
export function writeModelFolder(
  modelDir: string,
  files: Readonly<Record<string, Uint8Array | string>>,
  manifest: Record<string, unknown>,
): Record<string, number> {
  mkdirSync(modelDir, { recursive: true });
  const sha256: Record<string, string> = {};
  const sizes: Record<string, number> = {};
  for (const [name, data] of Object.entries(files)) {
    const path = join(modelDir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
    sha256[name] = sha256Hex(data);
    sizes[name] = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  }
  const text = `${JSON.stringify({ ...manifest, sha256 }, null, 2)}\n`;
  writeFileSync(join(modelDir, 'model.json'), text);
  sizes['model.json'] = Buffer.byteLength(text);
  return sizes;
}

/** A float32 value as the shortest-enough decimal that reads back as the same float32 (9 significant digits). */
export function float32Exact(x: number): number {
  return Number(Math.fround(x).toPrecision(9));
}

/** A reference output value: 7 significant digits, far below the 1e-4 tolerance the cases state. */
export function referenceValue(x: number): number {
  return Number(x.toPrecision(7));
}

/** Prints one line of build progress with the seconds since `start`. */
export function logStep(model: string, start: number, message: string): void {
  console.log(`[${model}] ${((performance.now() - start) / 1000).toFixed(1)}s ${message}`);
}
