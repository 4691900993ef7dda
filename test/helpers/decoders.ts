import { existsSync } from 'node:fs';

const DECODERS = ['/usr/bin/tshark', '/usr/bin/nfcapd', '/usr/bin/nfdump', '/usr/sbin/nfacctd'];

/**
 * The interop tests are the proof of validity: they must never pass by skipping. Without the
 * decoders installed (`npm run test:all` installs them) they fail with a message saying so.
 */
export function requireDecoders(): void {
  const missing = DECODERS.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(`third-party decoders missing (${missing.join(', ')}): run \`npm run test:all\`, which installs tshark, nfdump and pmacct`);
  }
}
