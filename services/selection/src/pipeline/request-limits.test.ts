import { selectionV1 } from '@sift/contracts';
import { describe, expect, it } from 'vitest';
import { checkRequestLimits, requestLimits } from './request-limits.js';

const request = (over: Partial<selectionV1.SubmitJobRequest> = {}) =>
  selectionV1.SubmitJobRequest.fromPartial({
    dataset: { paths: ['/data/a.jsonl'], textField: 'text', idField: 'id' },
    steps: [{ name: 'exact', kind: { $case: 'exactDedup', value: selectionV1.ExactDedupStep.fromPartial({}) } }],
    output: { path: '/data/out' },
    ...over,
  });

const refusal = (req: selectionV1.SubmitJobRequest) => {
  try {
    checkRequestLimits(req);
  } catch (err) {
    return err as { kind: string; message: string };
  }
  return undefined;
};

describe('checkRequestLimits', () => {
  it('accepts a request at every limit', () => {
    const longest = `/${'p'.repeat(requestLimits.pathChars - 1)}`;
    expect(
      refusal(
        request({
          dataset: {
            paths: [longest],
            textField: 't'.repeat(requestLimits.nameChars),
            idField: 'i'.repeat(requestLimits.nameChars),
            format: 0,
            limit: 0,
            invalidRecords: 0,
            maxInvalidFraction: 0,
          },
          requestId: 'r'.repeat(requestLimits.requestIdChars),
        }),
      ),
    ).toBeUndefined();
  });

  it('refuses a field name, path or step name beyond its limit with the field, the size and the limit, not the value', () => {
    const huge = 'x'.repeat(7_000_000);
    const textField = refusal(
      request({
        dataset: {
          paths: ['/data/a.jsonl'],
          textField: huge,
          idField: '',
          format: 0,
          limit: 0,
          invalidRecords: 0,
          maxInvalidFraction: 0,
        },
      }),
    );
    expect(textField).toEqual(
      expect.objectContaining({
        kind: 'invalid_argument',
        message: `dataset.text_field has 7000000 characters; at most ${requestLimits.nameChars}`,
      }),
    );
    const path = `/${'p'.repeat(requestLimits.pathChars)}`;
    expect(refusal(request({ output: selectionV1.OutputSpec.fromPartial({ path }) }))?.message).toBe(
      `output.path has ${path.length} characters; at most ${requestLimits.pathChars}`,
    );
    const save = request({
      steps: [
        selectionV1.Step.fromPartial({
          name: 'm',
          kind: {
            $case: 'minhashDedup',
            value: selectionV1.MinHashDedupStep.fromPartial({ index: { loadPaths: ['/a.idx', path], savePath: '' } }),
          },
        }),
      ],
    });
    expect(refusal(save)?.message).toBe(
      `steps[0].index.load_paths[1] has ${path.length} characters; at most ${requestLimits.pathChars}`,
    );
    const name = request({ steps: [{ ...(request().steps[0] as selectionV1.Step), name: 'n'.repeat(300) }] });
    expect(refusal(name)?.message).toBe(`steps[0].name has 300 characters; at most ${requestLimits.nameChars}`);
    const model = request({
      steps: [
        selectionV1.Step.fromPartial({
          kind: { $case: 'embed', value: selectionV1.EmbedStep.fromPartial({ model: { name: huge } }) },
        }),
      ],
    });
    expect(refusal(model)?.message).toBe(
      `steps[0].embed.model.name has 7000000 characters; at most ${requestLimits.modelRefChars}`,
    );
    expect(refusal(request({ resumeJobId: 'job-'.repeat(100) }))?.message).toBe(
      `resume_job_id has 400 characters; at most ${requestLimits.jobIdChars}`,
    );
  });

  it('refuses more dataset paths, index paths or steps than allowed, and a request too large altogether', () => {
    const paths = Array.from({ length: requestLimits.paths + 1 }, (_, i) => `/data/${i}.jsonl`);
    expect(
      refusal(
        request({
          dataset: selectionV1.Dataset.fromPartial({ paths, textField: 'text' }),
        }),
      )?.message,
    ).toBe(`dataset.paths: ${paths.length} paths; at most ${requestLimits.paths} (name their folder instead)`);
    const steps = Array.from({ length: 100_000 }, () => request().steps[0] as selectionV1.Step);
    expect(refusal(request({ steps }))?.message).toBe(
      'steps: 100000 steps; a pipeline has at most 64 (split the work into several jobs)',
    );
    // Each path within its limit, together over the request's.
    const long = Array.from({ length: 2000 }, (_, i) => `/${String(i).padEnd(4000, 'p')}`);
    expect(
      refusal(
        request({
          dataset: selectionV1.Dataset.fromPartial({ paths: long, textField: 'text' }),
        }),
      )?.message,
    ).toMatch(/^the request is \d+ bytes; a selection job request has at most 4194304 \(name dataset folders/);
  });
});
