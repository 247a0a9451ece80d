/**
 * The `post_processor` of a `tokenizer.json`, read as a single-sequence {@link Template}: the special tokens
 * placed around the pieces (`[CLS] A [SEP]`) with their type ids. TemplateProcessing, BertProcessing,
 * RobertaProcessing (`<s> A </s>`), ByteLevel (GPT-2's, which adds nothing: it only trims offsets) and
 * Sequence (Llama 3's `[ByteLevel, TemplateProcessing]`: ByteLevel beside at most one processor that adds
 * tokens; the library's result for two such processors in a row is not a plain nesting) are supported.
 */
import { asArray, asObject, describeType, HfTokenizerError, type Json } from './hf-tokenizer-json.js';

/** A single-sequence template: special tokens around the sequence, with a type id per part. */
export interface Template {
  readonly before: readonly TemplatePart[];
  readonly sequenceTypeId: number;
  readonly after: readonly TemplatePart[];
}
export interface TemplatePart {
  readonly ids: readonly number[];
  readonly tokens: readonly string[];
  readonly typeId: number;
}

const NO_TEMPLATE: Template = { before: [], sequenceTypeId: 0, after: [] };

/**
 * The template the file's `post_processor` entry describes; without one, no tokens are added.
 * @throws HfTokenizerError
 */
export function buildPostProcessor(config: unknown): Template {
  if (config === null || config === undefined) return NO_TEMPLATE;
  const c = asObject(config, 'post_processor');
  switch (c.type) {
    case 'BertProcessing':
    case 'RobertaProcessing': {
      // A single sequence gets the same `cls A sep`, all type 0, from both; they differ only for pairs.
      const [cls, sep] = [tokenAndId(c.cls, `${c.type}.cls`), tokenAndId(c.sep, `${c.type}.sep`)];
      return { before: [{ ...cls, typeId: 0 }], sequenceTypeId: 0, after: [{ ...sep, typeId: 0 }] };
    }
    case 'ByteLevel':
      return NO_TEMPLATE;
    case 'TemplateProcessing':
      return templateProcessing(c);
    case 'Sequence': {
      const adding = asArray(c.processors, 'post_processor Sequence.processors').filter(
        (p) => asObject(p, 'post_processor Sequence.processors[]').type !== 'ByteLevel',
      );
      if (adding.length > 1) {
        throw new HfTokenizerError(
          'unsupported',
          `post_processor Sequence: ${adding.length} processors that add tokens; one (beside ByteLevel) is supported`,
        );
      }
      return adding.length === 1 ? buildPostProcessor(adding[0]) : NO_TEMPLATE;
    }
    default:
      throw new HfTokenizerError('unsupported', `unsupported post_processor ${describeType(c.type)}`);
  }
}

function tokenAndId(value: unknown, where: string): { ids: number[]; tokens: string[] } {
  if (!Array.isArray(value) || typeof value[0] !== 'string' || typeof value[1] !== 'number') {
    throw new HfTokenizerError('invalid', `post_processor ${where} must be [token, id]`);
  }
  return { ids: [value[1]], tokens: [value[0]] };
}

function templateProcessing(c: Json): Template {
  const specials = asObject(c.special_tokens ?? {}, 'TemplateProcessing.special_tokens');
  // The JSON form is a list of {SpecialToken: {id, type_id}} / {Sequence: {id, type_id}}; the string form
  // "[CLS]:0 $A:0 [SEP]:0" is accepted too.
  const pieces = typeof c.single === 'string' ? c.single.split(/\s+/).filter(Boolean) : asArray(c.single, 'single');
  const template = { before: [] as TemplatePart[], sequenceTypeId: 0, after: [] as TemplatePart[] };
  let seen = false;
  for (const piece of pieces) {
    let name: string;
    let typeId: number;
    let isSequence: boolean;
    if (typeof piece === 'string') {
      const [head, type] = piece.split(':');
      isSequence = head!.startsWith('$');
      name = isSequence ? head!.slice(1) || 'A' : head!;
      typeId = type === undefined ? 0 : Number(type);
    } else {
      const p = asObject(piece, 'TemplateProcessing.single[]');
      const inner = asObject(p.Sequence ?? p.SpecialToken, 'TemplateProcessing.single[]');
      isSequence = p.Sequence !== undefined;
      name = String(inner.id);
      typeId = typeof inner.type_id === 'number' ? inner.type_id : 0;
    }
    if (isSequence) {
      if (name !== 'A' || seen) throw new HfTokenizerError('invalid', 'TemplateProcessing.single must hold $A once');
      seen = true;
      template.sequenceTypeId = typeId;
      continue;
    }
    const special = asObject(specials[name], `TemplateProcessing.special_tokens[${JSON.stringify(name)}]`);
    const ids = asArray(special.ids, `special token ${name}.ids`).map(Number);
    const tokens = asArray(special.tokens, `special token ${name}.tokens`).map(String);
    (seen ? template.after : template.before).push({ ids, tokens, typeId });
  }
  if (!seen) throw new HfTokenizerError('invalid', 'TemplateProcessing.single has no $A sequence');
  return template;
}
