import { describe, expect, it } from 'vitest';
import { describeConfig, key, loadConfig } from './config.js';
import { SiftError } from './sift-error.js';

const spec = {
  port: key.port('T_PORT', 50051, 'gRPC port'),
  delay: key.number('T_DELAY', 0, 'delay', 0),
  provider: key.oneOf('T_PROVIDER', 'cpu', ['cpu', 'cuda'] as const, 'execution provider'),
  debug: key.bool('T_DEBUG', false, 'debug mode'),
};

describe('loadConfig', () => {
  it('uses defaults for unset or empty variables and returns a frozen object', () => {
    const c = loadConfig(spec, { T_PORT: '' });
    expect(c).toEqual({ port: 50051, delay: 0, provider: 'cpu', debug: false });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses set variables into their types', () => {
    expect(loadConfig(spec, { T_PORT: '0', T_PROVIDER: 'cuda', T_DEBUG: 'yes', T_DELAY: '2.5' })).toEqual({
      port: 0,
      delay: 2.5,
      provider: 'cuda',
      debug: true,
    });
  });

  it('rejects a bad value with a message naming the variable', () => {
    expect(() => loadConfig(spec, { T_PORT: 'eighty' })).toThrow(SiftError);
    expect(() => loadConfig(spec, { T_PORT: 'eighty' })).toThrow('T_PORT must be an integer');
    expect(() => loadConfig(spec, { T_PROVIDER: 'tpu' })).toThrow('T_PROVIDER must be one of cpu, cuda');
  });

  it('takes plain decimal digits only, within the range', () => {
    for (const raw of [' 5', '0x10', '1e3', '1.5', '70000', '-1']) {
      expect(() => loadConfig(spec, { T_PORT: raw }), raw).toThrow(
        `T_PORT must be an integer from 0 to 65535, got "${raw}"`,
      );
    }
    expect(() => loadConfig(spec, { T_DELAY: '-5' })).toThrow('T_DELAY must be a number >= 0, got "-5"');
    expect(() => loadConfig(spec, { T_DELAY: '1e3' })).toThrow('T_DELAY must be a number >= 0');
  });

  it('lists every key with its default and doc', () => {
    expect(describeConfig(spec)).toContain('T_PORT=50051\tgRPC port');
    expect(describeConfig(spec)).toContain('T_PROVIDER=cpu\texecution provider (one of cpu, cuda)');
  });
});
