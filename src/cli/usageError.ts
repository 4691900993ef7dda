import { UserError } from '../userError.js';

/** A wrong command line or config file. */
export class UsageError extends UserError {}
