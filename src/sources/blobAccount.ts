import { UserError } from '../flow/errors.js';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { scrubSecrets, safeUrl } from '../secrets.js';

/** How to reach the storage account. Exactly one of the three ways. */
export interface BlobAccountOptions {
  /** `https://ACCOUNT.blob.core.windows.net`, optionally with a SAS query. */
  readonly accountUrl?: string;
  readonly connectionString?: string;
  /** A SAS token (with or without the leading `?`) for `accountUrl`. */
  readonly sasToken?: string;
}

export interface BlobAccount {
  readonly service: BlobServiceClient;
  /** For logs: the endpoint and the kind of credential, never a secret. */
  readonly description: { accountUrl: string; auth: 'connection-string' | 'sas' | 'azure-identity' };
}

/** The account options do not name a usable storage account (the CLI exits 2 with this message). */
export class BlobAccountError extends UserError {
  constructor(message: string) {
    super(message, { code: 'blob-account' });
  }
}

/**
 * Transient failures (throttling, 5xx, timeouts, broken connections) are retried inside each
 * request with exponential backoff; what still fails is handled per blob by the source.
 */
const PIPELINE_OPTIONS: StoragePipelineOptions = {
  retryOptions: { maxTries: 4, retryDelayInMs: 1000, maxRetryDelayInMs: 30_000, tryTimeoutInMs: 120_000 },
  userAgentOptions: { userAgentPrefix: 'nsg2ipfix' },
};

/**
 * Builds the service client: a connection string (account key or SAS), an account URL carrying a
 * SAS (or with `sasToken`), or an account URL with DefaultAzureCredential (managed identity,
 * `az login`, AZURE_* environment variables, workload identity).
 */
export function openBlobAccount(options: BlobAccountOptions): BlobAccount {
  if (options.connectionString !== undefined) {
    let service: BlobServiceClient;
    try {
      service = BlobServiceClient.fromConnectionString(options.connectionString, PIPELINE_OPTIONS);
    } catch (error) {
      // The SDK's message may quote the string: never repeat it.
      throw new BlobAccountError(
        `the connection string is not valid (${scrubSecrets((error as Error).message)
          .split('\n')[0]
          ?.slice(0, 120)})`,
      );
    }
    return { service, description: { accountUrl: safeUrl(service.url), auth: 'connection-string' } };
  }
  if (options.accountUrl === undefined)
    throw new BlobAccountError('no storage account: give --account-url URL or --connection-string (or NSG2IPFIX_CONNECTION_STRING)');
  let url: URL;
  try {
    url = new URL(options.accountUrl);
  } catch {
    throw new BlobAccountError(`--account-url is not a URL: ${safeUrl(options.accountUrl)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new BlobAccountError(`--account-url must be an http(s) URL, got ${url.protocol}`);
  if (options.sasToken !== undefined) {
    if (url.search !== '') throw new BlobAccountError('--sas-token given but --account-url already carries a query (SAS)');
    url.search = options.sasToken.startsWith('?') ? options.sasToken : `?${options.sasToken}`;
  }
  if (url.searchParams.has('sig')) {
    return { service: new BlobServiceClient(url.toString(), undefined, PIPELINE_OPTIONS), description: { accountUrl: safeUrl(url.toString()), auth: 'sas' } };
  }
  if (url.search !== '') throw new BlobAccountError('--account-url carries a query without a SAS signature (sig=)');
  const credential = new DefaultAzureCredential();
  return {
    service: new BlobServiceClient(url.toString(), credential, PIPELINE_OPTIONS),
    description: { accountUrl: safeUrl(url.toString()), auth: 'azure-identity' },
  };
}
