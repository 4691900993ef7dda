#!/usr/bin/env node
// Regenerates the sample pcaps in pcaps/ from samples/ (run `npm run build` first; `npm run pcaps` does).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSamplePcaps } from '../dist/tools/samplePcaps.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const written = await writeSamplePcaps(join(root, 'pcaps'));
for (const path of written) process.stderr.write(`wrote ${path}\n`);
