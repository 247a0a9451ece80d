import type { SelectionKernels } from '../../adapters/onnx-kernels.js';
import type { LanguageModelScorer, TextEmbedder } from '../../ports.js';
import type { StageSummary } from '../report.js';

/** What a stage needs besides the state. */
export interface StageContext {
  embedder: TextEmbedder;
  /** Byte-level language models, for text-quality weights. */
  languageModels?: LanguageModelScorer;
  /** ONNX Runtime kernels for clustering and SemDeDup. */
  kernels: SelectionKernels;
  /** The job's tick: units done of total (what they are is the kind's {@link progressUnitOf}, or `unit`). */
  progress: (done: number, total: number, unit?: string) => void;
  signal: AbortSignal;
}

/** What a stage adds to its summary in the job's report (the worker adds the counts and the time). */
export type StageFacts = Pick<StageSummary, 'clusterSizes' | 'epsSweep' | 'facts'>;
