/**
 * The one error model of nsg2ipfix. Every error the product raises on purpose is an
 * Nsg2ipfixError: a stable `code` for logs, metrics and tests, whether trying again may help
 * (`retryable`), and the foreign error it translates (`cause`). Foreign errors (Node, the Azure
 * SDKs) are translated once, at the edge where they enter (sources/, transport/, state/), and
 * never logged there and thrown again: whoever handles an error logs it, once.
 */
export class Nsg2ipfixError extends Error {
  /** Stable, kebab-case: `collector-unresolvable`, `blob-auth`, `pcap-unwritable`... */
  readonly code: string;
  /** True when the same call may succeed later (throttling, timeouts, a collector restarting). */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { readonly retryable?: boolean; readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * A mistake the user can fix (a bad option, an unreadable input, a missing permission): the CLI
 * prints its message as one line, without a stack, and exits with 2.
 */
export class UserError extends Nsg2ipfixError {
  constructor(message: string, options: { readonly code?: string; readonly cause?: unknown } = {}) {
    super(options.code ?? 'usage', message, { retryable: false, cause: options.cause });
  }
}
