/**
 * `npm run deps`: the import rules of .dependency-cruiser.cjs (per file), then the same graph
 * collapsed to folders, which must have no cycle: src/cds-hooks may import src/fhir, or src/fhir
 * src/cds-hooks, never both (even through other folders).
 *
 * A node is the folder of a file (`src/cds-hooks`, `cds-services`), except for the files directly
 * in src/: they are not a layer but the composition root (app.ts, server.ts) and single-file
 * modules at the bottom (config.ts, logger.ts, profiles.ts, service-deps.ts, smart-config.ts), so
 * each is a node of its own. Type-only imports count (see .dependency-cruiser.cjs).
 *
 * Exit code 1 on any violation. Prints the folder graph with `--graph`.
 */
import { dirname } from 'node:path';
import { cruise, format, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const ROOTS = ['src', 'cds-services'];

/** The folder-level node of a project file, or undefined for anything outside the project. */
export function folderOf(file: string): string | undefined {
  if (!ROOTS.some((root) => file.startsWith(`${root}/`))) return undefined;
  const dir = dirname(file);
  return dir === 'src' ? file : dir;
}

/** Folder → folders it imports (with one file-level import as the example of each edge). */
function folderGraph(result: ICruiseResult): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const module of result.modules) {
    const from = folderOf(module.source);
    if (!from) continue;
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const dependency of module.dependencies) {
      const to = folderOf(dependency.resolved);
      if (to && to !== from && !edges.has(to)) edges.set(to, `${module.source} → ${dependency.resolved}`);
    }
  }
  return graph;
}

/** Strongly connected components of more than one node (Tarjan): each holds at least one cycle. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node)?.keys() ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(to) ?? 0));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node) ?? 0, index.get(to) ?? 0));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found;
}

async function main(): Promise<void> {
  const options = await extractDepcruiseOptions('./.dependency-cruiser.cjs');
  const reported = await cruise(ROOTS, options, undefined, { tsConfig: extractTSConfig('tsconfig.json') });
  const result = reported.output as ICruiseResult;

  const fileLevel = await format(result, { outputType: 'err' });
  if (typeof fileLevel.output === 'string') process.stdout.write(fileLevel.output);

  const graph = folderGraph(result);
  if (process.argv.includes('--graph')) {
    for (const [from, edges] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
      process.stdout.write(`${from} → ${[...edges.keys()].sort().join(', ') || '(nothing)'}\n`);
    }
  }
  const folderCycles = cycles(graph);
  for (const component of folderCycles) {
    process.stdout.write(`\n  error no-folder-cycle: ${component.join(', ')} import each other\n`);
    const members = new Set(component);
    for (const from of component) {
      for (const [to, example] of graph.get(from) ?? [])
        if (members.has(to)) process.stdout.write(`    ${from} → ${to}   (e.g. ${example})\n`);
    }
  }
  if (folderCycles.length === 0)
    process.stdout.write(`✔ no cycle between folders (${graph.size} folders and src/ files)\n`);
  process.exitCode = reported.exitCode > 0 || folderCycles.length > 0 ? 1 : 0;
}

await main();
