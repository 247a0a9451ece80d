import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { SiftError } from '@sift/kit/errors';
import { echoed } from '@sift/kit/message-text';

/**
 * Which folders a service may read datasets from and write outputs to. Requests name files by path, and
 * the service reads them with its own rights; in a shared deployment that must not include its
 * configuration, its keys or another team's data. Empty allows any path (a laptop, the tests).
 */
export class DataRoots {
  private readonly roots: Promise<string[]>;

  /** `roots`: folders, as configured (SIFT_DATA_ROOTS, comma-separated); resolved through symlinks. */
  constructor(readonly configured: readonly string[]) {
    this.roots = Promise.all(configured.map((r) => realOrResolved(resolve(r))));
  }

  /**
   * Throws failed_precondition when a configured root is not an existing folder: a misspelt root would
   * otherwise refuse every request that names a path under the intended one.
   */
  async checkExist(setting: string): Promise<void> {
    for (const root of this.configured) {
      const info = await stat(root).catch(() => undefined);
      if (!info?.isDirectory()) {
        throw new SiftError(
          'failed_precondition',
          `${setting} names ${root}, which is ${info ? 'not a folder' : 'missing'}; list existing folders, comma-separated`,
        );
      }
    }
  }

  static parse(value: string): DataRoots {
    return new DataRoots(
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }

  /**
   * Throws permission_denied naming `field` unless `path` (an existing file or folder, or one to be
   * created) lies inside one of the roots once symlinks are resolved, so `..` and links cannot escape.
   */
  async check(path: string, field: string): Promise<void> {
    // The file system refuses such a path with a TypeError that would surface as an internal error.
    if (path.includes('\u0000')) throw new SiftError('invalid_argument', `${field} contains a NUL character`);
    const roots = await this.roots;
    if (roots.length === 0) return;
    const real = await realOrResolved(resolve(path));
    const inside = roots.some((root) => {
      const rel = relative(root, real);
      return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
    });
    if (!inside) {
      throw new SiftError(
        'permission_denied',
        `${field} ${echoed(path)} is outside the folders this service may use (SIFT_DATA_ROOTS: ${this.configured.join(', ')})`,
      );
    }
  }
}

/** The real path of `path`, or of its nearest existing ancestor with the rest appended (for outputs). */
export async function realOrResolved(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const parent = dirname(path);
    if (parent === path) return path;
    return resolve(await realOrResolved(parent), relative(parent, path));
  }
}
