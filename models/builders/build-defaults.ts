/**
 * Builds the default embedding models of the `embedding` service into the model store (they are generated
 * at setup, not committed): `glove-sif-100d/1` and `code-ngram/1`. A model whose files all match the
 * sha256 in its manifest, built by the current recipe, is left alone.
 *
 *   npx tsx models/builders/build-defaults.ts [--force] [--only <name>]
 */
import * as codeNgram from './code-ngram.js';
import * as gloveSif from './glove-sif.js';

interface Recipe {
  readonly name: string;
  readonly version: string;
  stale(): string | null;
  build(): { sizes: Record<string, number>; metrics: Record<string, number> };
}

const recipes: readonly Recipe[] = [gloveSif, codeNgram];

function main(argv: readonly string[]): void {
  const force = argv.includes('--force');
  const onlyAt = argv.indexOf('--only');
  const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
  const unknown = argv.filter((a, i) => a !== '--force' && a !== '--only' && !(onlyAt >= 0 && i === onlyAt + 1));
  if (unknown.length > 0 || (onlyAt >= 0 && !recipes.some((r) => r.name === only))) {
    console.error(`usage: build-defaults.ts [--force] [--only ${recipes.map((r) => r.name).join('|')}]`);
    process.exit(2);
  }
  const start = performance.now();
  for (const recipe of recipes) {
    if (only !== undefined && recipe.name !== only) continue;
    const id = `${recipe.name}/${recipe.version}`;
    const reason = force ? 'rebuild forced' : recipe.stale();
    if (reason === null) {
      console.log(`${id}: up to date (files match model.json), skipped`);
      continue;
    }
    console.log(`${id}: building (${reason})`);
    const t = performance.now();
    const { sizes, metrics } = recipe.build();
    const files = Object.entries(sizes)
      .map(([f, n]) => `${f} ${(n / 1e6).toFixed(2)} MB`)
      .join(', ');
    console.log(`${id}: built in ${((performance.now() - t) / 1000).toFixed(1)}s: ${files}`);
    console.log(`${id}: metrics ${JSON.stringify(metrics)}`);
  }
  console.log(`done in ${((performance.now() - start) / 1000).toFixed(1)}s`);
}

main(process.argv.slice(2));
