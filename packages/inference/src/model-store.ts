import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { echoed, type Logger, SiftError } from '@sift/kit';
import { type ModelManifest, parseManifest } from './manifest.js';

/** One model version found in the store. */
export interface StoredModel {
  name: string;
  version: string;
  /** Absolute folder `models/<name>/<version>`. */
  dir: string;
  manifest: ModelManifest;
}

/**
 * The model repository (Triton's convention): `<root>/<name>/<version>/model.json` next to its graphs.
 * Versions compare numerically when both are numbers, otherwise as strings.
 */
export class ModelStore {
  /**
   * @param onUnreadable told about each manifest `list` skips because it cannot be read or parsed (e.g.
   *   a service's logger): one broken model must not hide every other one.
   */
  constructor(
    readonly root: string,
    private readonly onUnreadable: (path: string, err: SiftError) => void = () => {},
  ) {}

  /** Every model version with a readable manifest, sorted by name then version; broken ones are skipped. */
  async list(): Promise<StoredModel[]> {
    const out: StoredModel[] = [];
    for (const name of await dirNames(this.root)) {
      for (const version of await dirNames(join(this.root, name))) {
        const dir = join(this.root, name, version);
        const manifestPath = join(dir, 'model.json');
        if (!(await exists(manifestPath))) continue;
        try {
          out.push({ name, version, dir, manifest: await readManifest(manifestPath) });
        } catch (err) {
          if (!(err instanceof SiftError)) throw err;
          this.onUnreadable(manifestPath, err);
        }
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || compareVersions(a.version, b.version));
  }

  /** Folders of the root that hold at least one `<version>/model.json`, sorted (manifests not parsed). */
  private async modelNames(): Promise<string[]> {
    const names: string[] = [];
    for (const name of await dirNames(this.root)) {
      for (const version of await dirNames(join(this.root, name))) {
        if (await exists(join(this.root, name, version, 'model.json'))) {
          names.push(name);
          break;
        }
      }
    }
    return names.sort();
  }

  /** The named model at `version`, or its highest version when `version` is empty. */
  async resolve(name: string, version = ''): Promise<StoredModel> {
    if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) {
      throw new SiftError(
        'invalid_argument',
        `model name "${echoed(name)}" is not valid (letters, digits, ".", "_", "-")`,
      );
    }
    if (version !== '' && !/^[\w.-]+$/.test(version)) {
      throw new SiftError('invalid_argument', `model version "${echoed(version)}" is not valid`);
    }
    const versions = (await dirNames(join(this.root, name))).sort(compareVersions);
    if (versions.length === 0) {
      const names = (await this.modelNames()).join(', ');
      // An empty store is most often the wrong folder (SIFT_MODELS_DIR resolved against another directory).
      const has = names || `no models at all (the store is ${resolve(this.root)}: check SIFT_MODELS_DIR)`;
      throw new SiftError('not_found', `unknown model "${echoed(name)}"; the store has: ${has}`);
    }
    const chosen = version === '' ? versions[versions.length - 1] : versions.find((v) => v === version);
    if (!chosen) {
      throw new SiftError(
        'not_found',
        `model "${name}" has no version "${echoed(version)}"; versions: ${versions.join(', ')}`,
      );
    }
    const dir = join(this.root, name, chosen);
    return { name, version: chosen, dir, manifest: await readManifest(join(dir, 'model.json')) };
  }
}

/** An `onUnreadable` callback for {@link ModelStore} that warns in a service's log. */
export function skippedManifestLogger(logger: Logger): (path: string, err: SiftError) => void {
  return (path, err) => logger.warn('skipping a model whose manifest cannot be read', { path, reason: err.message });
}

/** Numeric-aware version order: "2" < "10"; non-numeric versions sort as strings. */
export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a.localeCompare(b);
}

async function readManifest(path: string): Promise<ModelManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new SiftError('failed_precondition', `${path}: unreadable manifest`, { cause: err });
  }
  return parseManifest(raw, path);
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch {
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
