import { describe, expect, it } from 'vitest';
import { describeConfig, key, loadConfig } from './config.js';
import { SiftError } from './sift-error.js';

const spec = {
  port: key.int('T_PORT', 50051, 'gRPC port'),
  provider: key.oneOf('T_PROVIDER', 'cpu', ['cpu', 'cuda'] as const, 'execution provider'),
  debug: key.bool('T_DEBUG', false, 'debug mode'),
};

describe('loadConfig', () => {
  it('uses defaults for unset or empty variables and returns a frozen object', () => {
    const c = loadConfig(spec, { T_PORT: '' });
    expect(c).toEqual({ port: 50051, provider: 'cpu', debug: false });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses set variables into their types', () => {
    expect(loadConfig(spec, { T_PORT: '0', T_PROVIDER: 'cuda', T_DEBUG: 'yes' })).toEqual({
      port: 0,
      provider: 'cuda',
      debug: true,
    });
  });

  it('rejects a bad value with a message naming the variable', () => {
    expect(() => loadConfig(spec, { T_PORT: 'eighty' })).toThrow(SiftError);
    expect(() => loadConfig(spec, { T_PORT: 'eighty' })).toThrow('T_PORT must be an integer');
    expect(() => loadConfig(spec, { T_PROVIDER: 'tpu' })).toThrow('T_PROVIDER must be one of cpu, cuda');
  });

  it('lists every key with its default and doc', () => {
    expect(describeConfig(spec)).toContain('T_PORT=50051\tgRPC port');
  });
});
