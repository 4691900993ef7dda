/**
 * Azurite (the npm package) for the Blob Storage source tests: started from the test on a free
 * port with in-memory storage and stopped (by its own pid) afterwards, plus a writer that builds
 * PT1H.json blobs block by block exactly as Azure does.
 *
 * Facts (Azurite 3.35, @azure/storage-blob 12.32): the binary must be started directly (an npx
 * wrapper leaves the server running when killed); --skipApiVersionCheck is needed because the SDK
 * sends a newer API version; listings return ETags unquoted, responses quoted; createdOn has
 * one-second resolution; a blob uploaded in one Put Blob has an empty committed block list.
 */

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobServiceClient,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
  type ContainerClient,
} from '@azure/storage-blob';
import { spawnTracked, stopChild, waitUntil } from '../collectors/util.js';

const AZURITE_BLOB = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'azurite-blob');

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** An account SAS of Azurite's account for Blob Storage: list and read (`rl`) unless told, valid until `expiresOn`. */
export function azuriteAccountSas(expiresOn: Date, permissions = 'rl'): string {
  return generateAccountSASQueryParameters(
    {
      expiresOn,
      permissions: AccountSASPermissions.parse(permissions),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString();
}

export interface AzuriteRun {
  readonly port: number;
  /** `http://127.0.0.1:PORT/devstoreaccount1` */
  readonly accountUrl: string;
  readonly connectionString: string;
  readonly service: BlobServiceClient;
  /** Idempotent. */
  stop(): Promise<void>;
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startAzurite(): Promise<AzuriteRun> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeTcpPort();
    const proc = spawnTracked(AZURITE_BLOB, [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--silent',
    ]);
    try {
      await waitUntil(() => proc.output().includes('successfully listens'), {
        timeoutMs: 20_000,
        exited: proc.exited,
        what: `azurite on ${port}`,
        describe: proc.output,
      });
    } catch (error) {
      lastError = error;
      await stopChild(proc, 'SIGKILL', 1000);
      if (/EADDRINUSE/.test(proc.output())) continue;
      throw error;
    }
    const accountUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${accountUrl};`;
    let stopping: Promise<void> | undefined;
    return {
      port,
      accountUrl,
      connectionString,
      service: BlobServiceClient.fromConnectionString(connectionString),
      stop: () => (stopping ??= stopChild(proc, 'SIGTERM', 3000)),
    };
  }
  throw lastError;
}

/** Equal-length base64 block ids, as the service requires; random like many real writers. */
export function randomBlockId(): string {
  return randomBytes(24).toString('base64');
}

/**
 * Writes a PT1H.json the way Azure does: a 12-byte head block `{"records":[`, one block per
 * minute (every one after the first starting with a comma) and a 2-byte tail block `]}`, the full
 * list committed again after each new block. Only committed blocks are visible to readers.
 */
export class AzureStyleBlobWriter {
  readonly headId = randomBlockId();
  readonly tailId = randomBlockId();
  readonly dataIds: string[] = [];
  private dataBlocks = 0;

  constructor(
    readonly container: ContainerClient,
    readonly name: string,
  ) {}

  private get blob() {
    return this.container.getBlockBlobClient(this.name);
  }

  /** Creates the blob with head and tail only (what Azure commits first). */
  async create(): Promise<this> {
    await this.container.createIfNotExists();
    await this.stage(this.headId, '{"records":[');
    await this.stage(this.tailId, ']}');
    await this.commit();
    return this;
  }

  /** Appends one minute: the records as one block, comma-prefixed unless it is the first. */
  async appendRecords(records: readonly object[]): Promise<void> {
    const body = records.map((r) => JSON.stringify(r)).join(',');
    await this.appendRaw(this.dataBlocks === 0 ? body : `,${body}`);
  }

  /** Appends one block of exactly these bytes (for corrupt blocks). */
  async appendRaw(text: string): Promise<void> {
    const id = randomBlockId();
    await this.stage(id, text);
    this.dataIds.push(id);
    this.dataBlocks++;
    await this.commit();
  }

  /** The current ETag, without quotes (as the state stores it). */
  async etag(): Promise<string> {
    const properties = await this.blob.getProperties();
    return (properties.etag ?? '').replace(/^"(.*)"$/, '$1');
  }

  async commit(): Promise<void> {
    await this.blob.commitBlockList([this.headId, ...this.dataIds, this.tailId], { blobHTTPHeaders: { blobContentType: 'application/json' } });
  }

  private async stage(id: string, text: string): Promise<void> {
    const bytes = Buffer.from(text, 'utf8');
    await this.blob.stageBlock(id, bytes, bytes.length);
  }
}
