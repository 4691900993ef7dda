import { execFileSync } from 'node:child_process';

/**
 * Tests that run the real CLI (`bin/nsg2ipfix.js`) need dist/ to match src/: build once per run.
 */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
