import { describe, expect, it } from 'vitest';
import { clusterSizeHistogram, markdownReport } from './report.js';

describe('clusterSizeHistogram', () => {
  it('counts every cluster, empty ones in their own bin, sizes in power-of-two bins', () => {
    // k = 5: sizes 0, 1, 2, 3 and 0 (records outside the clustering, -1, are not counted).
    const labels = Int32Array.of(1, 2, 2, 3, 3, 3, -1);
    expect(clusterSizeHistogram(labels, 5)).toEqual({ upperBounds: [0, 1, 2, 4], counts: [2, 1, 1, 1] });
  });
});

describe('markdownReport', () => {
  const base = { recordsIn: 100, recordsKept: 60, seconds: 1 };
  const report = markdownReport({
    jobId: 'job-test',
    dataset: { paths: ['/data/a.jsonl'], textField: 'text', idField: 'id' },
    recordsTotal: 100,
    recordsKept: 60,
    steps: [],
    outputs: { kept: '/out/kept.jsonl', decisions: '/out/decisions.jsonl' },
    stages: [
      {
        ...base,
        stage: 'quality',
        kind: 'text-quality',
        facts: {
          model: 'byte-gpt',
          pplAll: 4.0851,
          weights: { 'terminal-punctuation': { weight: 0.2424, ppl: 3.0948 }, 'min-words': { weight: 0, ppl: null } },
          fallbackToEqualWeights: false,
        },
      },
      {
        ...base,
        stage: 'scip',
        kind: 'scip',
        facts: {
          corruption: {
            pairs: 4,
            smallerClusterShare: 0.75,
            fartherShare: 0.5,
            meanClusterSizeDelta: -3.25,
            meanDistanceDelta: 0.0123,
            byGroup: {
              'undefined-name': {
                pairs: 4,
                smallerClusterShare: 0.75,
                fartherShare: 0.5,
                meanClusterSizeDelta: -3.25,
                meanDistanceDelta: 0.0123,
              },
            },
          },
        },
      },
    ],
  });

  it('explains the text-quality weights and where SCIP corruptions land', () => {
    expect(report).toContain('Perplexity of all sample lines: 4.085.');
    expect(report).toContain('| terminal-punctuation | 0.2424 | 3.095 |');
    expect(report).toContain('| min-words | 0.0000 | no line kept |');
    expect(report).toContain('| undefined-name | 4 | 75.0% | 50.0% | -3.3 | 1.23e-2 |');
    expect(report).toContain('| all | 4 | 75.0% | 50.0% | -3.3 | 1.23e-2 |');
  });
});

describe('markdownReport on invalid records', () => {
  it('counts the skipped records and names the first, pointing to the decisions for the rest', () => {
    const md = markdownReport({
      jobId: 'job-invalid',
      dataset: { paths: ['/data/a.jsonl'], textField: 'text', idField: '' },
      recordsTotal: 200,
      recordsKept: 193,
      invalidRecords: { count: 7, first: [{ id: '4', detail: 'text field "text" is null at /data/a.jsonl:5' }] },
      steps: [],
      outputs: { kept: '/out/kept.jsonl', decisions: '/out/decisions.jsonl' },
      stages: [],
    });
    expect(md).toContain('Skipped **7** invalid records at load');
    expect(md).toContain(
      '; the first 1:\n\n- `4`: text field "text" is null at /data/a.jsonl:5\n- and 6 more (decisions.jsonl names every one)',
    );
  });

  it('says nothing of invalid records when none was skipped', () => {
    const md = markdownReport({
      jobId: 'job-clean',
      dataset: { paths: ['/data/a.jsonl'], textField: 'text', idField: '' },
      recordsTotal: 2,
      recordsKept: 2,
      steps: [],
      outputs: { kept: '/out/kept.jsonl', decisions: '/out/decisions.jsonl' },
      stages: [],
    });
    expect(md).not.toContain('invalid');
  });
});
