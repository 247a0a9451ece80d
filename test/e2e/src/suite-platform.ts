import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalPlatform } from '@sift/launcher';
import { afterAll, beforeAll } from 'vitest';

/** The platform's fields exist only once the describe block's beforeAll has run. */
function started<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new Error(`${field} is set in beforeAll: read it inside a test or hook`);
  return value;
}

/**
 * The platform one describe block runs its tests against, with a gRPC client of the service under test.
 * Constructed inside the block, it registers the block's hooks: beforeAll makes a new temporary folder,
 * starts the platform over it and connects the client; afterAll closes the client, stops the platform unless
 * a test already did, and removes the folder. Read the fields inside tests: they are set by beforeAll.
 */
export class SuitePlatform<Client extends { close(): void }> {
  #platform: LocalPlatform | undefined;
  #dataDir: string | undefined;
  #client: Client | undefined;
  #stopped = false;

  constructor(opts: {
    /** Start of the temporary folder's name. */
    prefix: string;
    /** Starts the platform with the folder as its data folder (and writes what it needs there first). */
    start: (dataDir: string) => Promise<LocalPlatform>;
    connect: (platform: LocalPlatform) => Client;
    /** The beforeAll's timeout, where not the configuration's hookTimeout. */
    startTimeoutMs?: number;
  }) {
    beforeAll(async () => {
      this.#dataDir = mkdtempSync(join(tmpdir(), opts.prefix));
      this.#platform = await opts.start(this.#dataDir);
      this.#client = opts.connect(this.#platform);
    }, opts.startTimeoutMs);
    afterAll(async () => {
      this.#client?.close();
      if (!this.#stopped) await this.#platform?.stop();
      if (this.#dataDir !== undefined) rmSync(this.#dataDir, { recursive: true, force: true });
    });
  }

  get platform(): LocalPlatform {
    return started(this.#platform, 'platform');
  }

  /** The temporary folder: the platform's data folder, and where the tests write datasets and outputs. */
  get dataDir(): string {
    return started(this.#dataDir, 'dataDir');
  }

  get client(): Client {
    return started(this.#client, 'client');
  }

  /**
   * Stops the platform before the block ends, for a test that then reads what the metrics consumer stored in
   * ClickHouse's files; afterAll then leaves it stopped.
   */
  readonly stop = async (): Promise<void> => {
    await this.platform.stop();
    this.#stopped = true;
  };
}
