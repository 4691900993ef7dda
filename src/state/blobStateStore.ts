import type { ContainerClient } from '@azure/storage-blob';
import { classifyAzureError } from './azureErrors.js';
import { parseSourceState, serializeSourceState, StateError, type SourceState, type StateStore } from './sourceState.js';

export const DEFAULT_STATE_BLOB_NAME = 'nsg2ipfix-blob-state.json';

/**
 * The state as one blob, for instances without a durable local disk or that take over from one
 * another. A single upload replaces a block blob atomically; every save uploads the whole state
 * (the StateWriter calls it at most about once a second, whatever the number of changes). Every
 * write is conditional on the ETag this instance last read or wrote, so two instances sharing one
 * state blob cannot silently overwrite each other's cursors: the second one stops with an error
 * instead. Azure SDK errors are not kept as causes: their requests carry URLs with SAS tokens.
 */
export class BlobStateStore implements StateStore {
  readonly description: string;
  private etag: string | undefined;
  private containerReady = false;

  constructor(
    private readonly container: ContainerClient,
    private readonly blobName: string,
  ) {
    this.description = `blob ${container.containerName}/${blobName}`;
  }

  async load(): Promise<SourceState | undefined> {
    const blob = this.container.getBlockBlobClient(this.blobName);
    let text: string;
    try {
      // One request: the ETag must belong to exactly the content read.
      const response = await blob.download();
      const chunks: Buffer[] = [];
      for await (const chunk of response.readableStreamBody as AsyncIterable<Buffer>) chunks.push(chunk);
      text = Buffer.concat(chunks).toString('utf8');
      this.etag = response.etag;
    } catch (error) {
      const failure = classifyAzureError(error);
      if (failure.kind === 'not-found') return undefined;
      throw new StateError(`cannot read state ${this.description}: ${failure.message}`);
    }
    return parseSourceState(text, this.description);
  }

  async save(state: SourceState): Promise<void> {
    // Serialized before the first await: the caller goes on changing the state meanwhile.
    const body = serializeSourceState(state);
    if (!this.containerReady) {
      try {
        await this.container.createIfNotExists();
      } catch (error) {
        // The identity may read/write blobs without the right to create containers: try the write.
        if (classifyAzureError(error).kind !== 'auth')
          throw new StateError(`cannot create state container ${this.container.containerName}: ${classifyAzureError(error).message}`);
      }
      this.containerReady = true;
    }
    const blob = this.container.getBlockBlobClient(this.blobName);
    try {
      const response = await blob.upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        conditions: this.etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: this.etag },
      });
      this.etag = response.etag;
    } catch (error) {
      const failure = classifyAzureError(error);
      if (failure.kind === 'changed' || failure.statusCode === 409) {
        throw new StateError(`state ${this.description} was changed by someone else (another nsg2ipfix instance?): give each instance its own --state-blob`);
      }
      throw new StateError(`cannot write state ${this.description}: ${failure.message}`);
    }
  }
}
