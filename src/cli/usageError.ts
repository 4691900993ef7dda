/** An error the CLI reports as one line, without a stack: the user can fix it. */
export class UsageError extends Error {}
