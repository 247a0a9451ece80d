import { writeFileSync } from 'node:fs';
import { seededRandom } from '@sift/numeric';

const subjects = [
  'The city council',
  'A young farmer',
  'The research team',
  'Our neighbour',
  'The football club',
  'A local bakery',
  'The hospital staff',
  'The orchestra',
  'A group of students',
  'The airline',
  'The museum',
  'A software company',
  'The fishing crew',
  'The school board',
  'A travelling musician',
  'The police department',
];
const actions = [
  'approved a new budget for',
  'planted three hundred apple trees near',
  'published a study about the rivers of',
  'opened a small shop in',
  'won the regional championship in',
  'baked bread for the festival in',
  'treated hundreds of patients in',
  'performed a symphony in',
  'organised a protest against pollution in',
  'cancelled all winter flights to',
  'exhibited ancient pottery from',
  'released a security update for users in',
  'caught a record amount of salmon near',
  'hired twenty new teachers for',
  'played guitar on the streets of',
  'arrested two suspects after a robbery in',
];
const places = [
  'the northern valley',
  'the old harbour',
  'the capital',
  'a mountain village',
  'the desert town',
  'the island',
];
const endings = [
  'last week.',
  'this morning.',
  'after months of debate.',
  'despite heavy rain.',
  'with great success.',
];

/** One planted near-duplicate: the record and the original it copies with light edits. */
export interface PlantedDuplicate {
  id: string;
  of: string;
}

/**
 * A JSONL corpus of short news-like sentences (distinct combinations of subject, action, place and
 * ending) with planted semantic near-duplicates: copies of earlier records with light edits (article
 * swaps, an added adverb, changed punctuation) that a reader would call the same statement.
 */
export function writeCorpusWithNearDuplicates(
  path: string,
  distinct: number,
  planted: number,
  seed = 5,
): PlantedDuplicate[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)] as T;
  const seen = new Set<string>();
  const records: { id: string; text: string; source: string }[] = [];
  while (records.length < distinct) {
    const text = `${pick(subjects)} ${pick(actions)} ${pick(places)} ${pick(endings)}`;
    if (seen.has(text)) continue;
    seen.add(text);
    records.push({ id: `doc-${records.length}`, text, source: 'wire' });
  }
  const dups: PlantedDuplicate[] = [];
  for (let i = 0; i < planted; i++) {
    const original = records[Math.floor((i * distinct) / planted)] as { id: string; text: string };
    // Light edits: swap the article, change the final punctuation, and in every other copy add one adverb.
    const edited = original.text
      .replace(/^The /, 'A ')
      .replace(/^A (?!young|local|group|software|travelling)/, 'The ')
      .replace(/\.$/, i % 2 ? ' reportedly!' : '!');
    const id = `dup-${i}`;
    records.push({ id, text: edited, source: 'aggregator' });
    dups.push({ id, of: original.id });
  }
  // Shuffle so duplicates are not simply at the end.
  for (let i = records.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [records[i], records[j]] = [records[j] as (typeof records)[number], records[i] as (typeof records)[number]];
  }
  writeFileSync(path, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return dups;
}
